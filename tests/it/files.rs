//! Files: uploads of every format LightRAG accepts, parsed inside the uploading
//! tenant's engine; hostile files; scans and their status; the document routes
//! around them (supported types, cancelling, conflicts, admission limits).

use crate::harness::{Server, pairs};
use crate::mock_llm::MockLlm;
use serde_json::{Value, json};
use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::time::Duration;

/// `tests/fixtures/files/`: small files of each format, written by
/// `cargo run -p lightrag-parse --example make_fixtures` (its README lists them).
fn fixture(name: &str) -> Vec<u8> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/fixtures/files")
        .join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Uploads `bytes` as `name` to workspace `ws`; returns the status and body.
async fn upload(server: &Server, ws: &str, name: &str, bytes: Vec<u8>) -> (u16, Value) {
    let form = reqwest::multipart::Form::new().part(
        "file",
        reqwest::multipart::Part::bytes(bytes).file_name(name.to_string()),
    );
    let reply = reqwest::Client::new()
        .post(format!("{}/documents/upload", server.base))
        .header("LIGHTRAG-WORKSPACE", ws)
        .multipart(form)
        .send()
        .await
        .unwrap();
    let status = reply.status().as_u16();
    let text = reply.text().await.unwrap();
    (status, serde_json::from_str(&text).unwrap_or(json!(text)))
}

/// The status record of the one document a request added.
async fn document_of(server: &Server, ws: &str, track: &str) -> Value {
    let status = server
        .get(&format!("/documents/track_status/{track}"), Some(ws))
        .await
        .json();
    assert_eq!(status["total_count"], 1, "{status}");
    status["documents"][0].clone()
}

/// The known sentences of the committed samples, and the parser each one needs.
const SAMPLES: &[(&str, &str, &[&str])] = &[
    (
        "sample.pdf",
        "pdf",
        &[
            "Zorbulax Industries builds tidal turbines on the coast of Veltmark.",
            "Quenthara Labs tests every Zorbulax turbine in the cold waters of Lake Ossifer.",
        ],
    ),
    (
        "sample.docx",
        "docx",
        &["Mirelda Voss founded the Brantholm Seed Library in 1987."],
    ),
    (
        "sample.pptx",
        "pptx",
        &[
            "Korvath Aerospace launched the Dremmel probe toward Jupiter.",
            "The Dremmel probe carries a spectrometer built by Ilvane Optics.",
        ],
    ),
    (
        "sample.xlsx",
        "xlsx",
        &["Thessaly Grain Cooperative ships barley to Orvik Breweries."],
    ),
    (
        "sample.odt",
        "odt",
        &["The Pellucid Order of Cartographers mapped the Saltreach Archipelago."],
    ),
    (
        "sample.epub",
        "epub",
        &["Captain Ysolde Marrow sailed the Gloamwater in search of amber."],
    ),
    (
        "sample.rtf",
        "rtf",
        &["Hollowmere Textiles weaves sailcloth from Drennic flax."],
    ),
    (
        "sample.html",
        "html",
        &["Vantrell Observatory discovered the comet Ashgrove-7 in March."],
    ),
    (
        "sample.xml",
        "xml",
        &["The Obrenwald Railway connects Tessik and Marrowgate."],
    ),
    (
        "sample.csv",
        "text",
        &["Fenwick Apiaries sells heather honey in Dunmarrow."],
    ),
    (
        "sample.json",
        "text",
        &["Glimmerfen Robotics assembles pollinator drones in Osterhal."],
    ),
    (
        "sample.textpack",
        "textpack",
        &["Ravencroft Ferries carries passengers between Islay Point and Corrowby."],
    ),
];

#[tokio::test(flavor = "multi_thread")]
async fn every_format_is_parsed_in_the_sandbox_and_its_text_becomes_queryable() {
    let mock = MockLlm::start(32).await;
    let server = Server::start(&pairs(mock.env()));
    let ws = "formats";
    let mut tracks = Vec::new();
    for (name, parser, sentences) in SAMPLES {
        let (status, body) = upload(&server, ws, name, fixture(name)).await;
        assert_eq!(status, 200, "{name}: {body}");
        tracks.push((
            name,
            parser,
            sentences,
            body["track_id"].as_str().unwrap().to_string(),
        ));
    }
    server.wait_idle(Some(ws)).await;
    let inputs = server.root().join("inputs").join(ws);
    for (name, parser, sentences, track) in tracks {
        let doc = document_of(&server, ws, &track).await;
        assert_eq!(doc["status"], "processed", "{name}: {doc}");
        assert_eq!(doc["metadata"]["parser"], *parser, "{name}: {doc}");
        // The text is in the workspace: a naive query's context carries each sentence.
        for sentence in *sentences {
            let context = server.context(Some(ws), sentence).await;
            assert!(
                context.contains(sentence),
                "{name}: {sentence} not in {context}"
            );
        }
        // Parsed files are moved aside, as LightRAG does.
        assert!(
            !inputs.join(name).exists(),
            "{name} still in the input directory"
        );
        assert!(
            inputs.join("__parsed__").join(name).exists(),
            "{name} not archived"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn hostile_files_fail_their_own_document_while_another_tenant_works() {
    let mock = MockLlm::start(32).await;
    let server = Server::start(&pairs(mock.env()));
    let hostile = "hostile";
    let mut bad = vec![
        ("bomb.docx", fixture("bomb.docx")),
        ("nested.pdf", fixture("nested.pdf")),
        ("cyclic.pdf", fixture("cyclic.pdf")),
        ("invalid-utf8.txt", fixture("invalid-utf8.txt")),
    ];
    // 100 MB of one line: under MAX_UPLOAD_SIZE, far over what a 256 MiB workspace
    // may hold as one document.
    bad.push(("one-line.txt", vec![b'a'; 100_000_000]));
    // A neighbour inserts and queries throughout; every one of its requests must
    // succeed (`insert` and `context` assert a 200).
    let neighbour = async {
        for i in 0..6 {
            server
                .insert(
                    Some("neighbour"),
                    &format!("n{i}.txt"),
                    &format!("Harbour Master {i} counts the boats at dawn."),
                )
                .await;
            server.context(Some("neighbour"), "Harbour Master").await;
        }
    };
    let uploads = async {
        let mut tracks = Vec::new();
        for (name, bytes) in bad {
            let (status, body) = upload(&server, hostile, name, bytes).await;
            assert_eq!(status, 200, "{name}: {body}");
            tracks.push((name, body["track_id"].as_str().unwrap().to_string()));
        }
        tracks
    };
    let ((), tracks) = tokio::join!(neighbour, uploads);
    let counts = server.wait_idle(Some("neighbour")).await;
    assert_eq!(counts["processed"], 6, "{counts}");
    let context = server.context(Some("neighbour"), "Harbour Master").await;
    assert!(context.contains("Harbour Master"), "{context}");
    server.wait_idle(Some(hostile)).await;
    for (name, track) in tracks {
        let doc = document_of(&server, hostile, &track).await;
        assert_eq!(doc["status"], "failed", "{name}: {doc}");
        let error = doc["error_msg"].as_str().unwrap_or_default();
        let reason = match name {
            "bomb.docx" => "zip bomb",
            "nested.pdf" => "nests arrays or dictionaries",
            "cyclic.pdf" => "refers back to itself",
            "invalid-utf8.txt" => "not valid UTF-8",
            _ => "LIGHTRAG_WORKSPACE_MEMORY_MB",
        };
        assert!(error.contains(reason), "{name}: {error}");
    }
    // The hostile tenant's workspace still serves and ingests.
    server
        .insert(Some(hostile), "fine.txt", "Lantern Keeper trims the wick.")
        .await;
    let counts = server.wait_idle(Some(hostile)).await;
    assert_eq!(counts["processed"], 1, "{counts}");
    assert!(
        server
            .context(Some(hostile), "Lantern Keeper")
            .await
            .contains("Lantern Keeper")
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn an_encrypted_pdf_fails_until_its_password_is_set_and_then_a_retry_parses_it() {
    let mock = MockLlm::start(32).await;
    let dir = tempfile::tempdir().unwrap().keep();
    let server = Server::start_in(&dir, &pairs(mock.env()));
    let ws = "secret";
    let (status, body) = upload(&server, ws, "encrypted.pdf", fixture("encrypted.pdf")).await;
    assert_eq!(status, 200, "{body}");
    server.wait_idle(Some(ws)).await;
    let doc = document_of(&server, ws, body["track_id"].as_str().unwrap()).await;
    assert_eq!(doc["status"], "failed", "{doc}");
    assert!(
        doc["error_msg"]
            .as_str()
            .unwrap()
            .contains("PDF_DECRYPT_PASSWORD"),
        "{doc}"
    );
    let inputs = server.root().join("inputs").join(ws);
    assert!(
        inputs.join("encrypted.pdf").exists(),
        "a file that failed stays for a retry"
    );
    server.terminate();

    let mut env = pairs(mock.env());
    env.push(("PDF_DECRYPT_PASSWORD", "lantern"));
    let server = Server::start_in(&dir, &env);
    let retry = server
        .post("/documents/reprocess_failed", Some(ws), json!({}))
        .await;
    assert_eq!(retry.status, 200, "{}", retry.text);
    let counts = server.wait_idle(Some(ws)).await;
    assert_eq!(counts["processed"], 1, "{counts}");
    let sentence = "Nightjar Cipherworks guards the Tollmere vault.";
    assert!(server.context(Some(ws), sentence).await.contains(sentence));
    assert!(inputs.join("__parsed__/encrypted.pdf").exists());
}

#[tokio::test(flavor = "multi_thread")]
async fn upload_refuses_unsupported_types_unsafe_names_and_taken_names() {
    let mock = MockLlm::start(32).await;
    let server = Server::start(&pairs(mock.env()));
    let ws = "names";
    let (status, body) = upload(&server, ws, "image.png", b"png".to_vec()).await;
    assert_eq!(status, 400);
    let detail = body["detail"].as_str().unwrap();
    assert!(
        detail.starts_with("Unsupported file type. Supported types: (.bat, .c,"),
        "{detail}"
    );
    assert!(
        detail.contains(".pdf") && detail.contains(".docx"),
        "{detail}"
    );
    for name in ["../evil.txt", " spaced.txt", ".hidden.txt", "a:b.txt"] {
        let (status, _) = upload(&server, ws, name, b"data".to_vec()).await;
        assert_eq!(status, 400, "{name}");
    }
    let (status, _) = upload(&server, ws, "empty.txt", Vec::new()).await;
    assert_eq!(status, 400);
    let (status, _) = upload(&server, ws, "once.md", b"# Once\nOnly once.".to_vec()).await;
    assert_eq!(status, 200);
    let (status, body) = upload(&server, ws, "once.md", b"# Again".to_vec()).await;
    assert_eq!(status, 409, "{body}");
    assert!(
        body["detail"]
            .as_str()
            .unwrap()
            .contains("already contains 'once.md'")
    );
    // Nothing staged is left behind by refused uploads.
    server.wait_idle(Some(ws)).await;
    let leftovers: Vec<String> = std::fs::read_dir(server.root().join("inputs").join(ws))
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with('.'))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn supported_file_types_lists_lightrags_extensions() {
    let mock = MockLlm::start(32).await;
    let server = Server::start(&pairs(mock.env()));
    let reply = server
        .get("/documents/supported_file_types", Some("types"))
        .await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.headers["cache-control"], "no-store");
    assert_eq!(reply.headers["vary"], "LIGHTRAG-WORKSPACE");
    let types: Vec<String> =
        serde_json::from_value(reply.json()["supported_extensions"].clone()).unwrap();
    assert_eq!(types.len(), 41, "{types:?}");
    for ext in [
        ".pdf", ".docx", ".pptx", ".xlsx", ".odt", ".epub", ".rtf", ".html", ".txt", ".md",
    ] {
        assert!(types.contains(&ext.to_string()), "{ext}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_scan_reports_its_progress_and_archives_what_is_already_processed() {
    let mock = MockLlm::start(32).await;
    let server = Server::start(&pairs(mock.env()));
    let ws = Some("scans");
    let inputs = server.root().join("inputs").join("scans");
    std::fs::create_dir_all(&inputs).unwrap();
    std::fs::write(inputs.join("a.txt"), "Marie Curie measured radium.").unwrap();
    std::fs::write(inputs.join("b.docx"), fixture("sample.docx")).unwrap();
    std::fs::write(inputs.join("c.png"), "not a document").unwrap();
    // A slow model keeps the scan's documents in progress long enough to see it.
    mock.state.latency_ms.store(200, Ordering::Relaxed);
    let reply = server.post("/documents/scan", ws, json!({})).await;
    let track = reply.json()["track_id"].as_str().unwrap().to_string();
    let pipeline = server.get("/documents/pipeline_status", ws).await.json();
    assert_eq!(pipeline["scanning"], true, "{pipeline}");
    let running = server
        .get(&format!("/documents/scan/status/{track}"), ws)
        .await
        .json();
    assert_eq!(running["status"], "running", "{running}");
    mock.state.latency_ms.store(0, Ordering::Relaxed);
    server.wait_idle(ws).await;
    let pipeline = server.get("/documents/pipeline_status", ws).await.json();
    assert_eq!(pipeline["scanning"], false, "{pipeline}");
    assert_eq!(pipeline["autoscanned"], false, "{pipeline}");
    let status = server
        .get(&format!("/documents/scan/status/{track}"), ws)
        .await;
    assert_eq!(status.status, 200, "{}", status.text);
    let status = status.json();
    assert_eq!(status["status"], "completed", "{status}");
    assert_eq!(status["counts"]["enqueued"], 2, "{status}");
    assert_eq!(status["counts"]["processed"], 2, "{status}");
    let processed = status["samples"]["processed"]["items"].to_string();
    assert!(
        processed.contains("a.txt") && processed.contains("b.docx"),
        "{status}"
    );
    assert!(!inputs.join("a.txt").exists() && inputs.join("__parsed__/a.txt").exists());
    assert!(
        inputs.join("c.png").exists(),
        "an unsupported file is left alone"
    );

    // A processed file put back is moved aside by the next scan, not enqueued again.
    std::fs::write(inputs.join("a.txt"), "Marie Curie measured radium.").unwrap();
    let reply = server.post("/documents/scan", ws, json!({})).await;
    let second = reply.json()["track_id"].as_str().unwrap().to_string();
    let status = server
        .get(&format!("/documents/scan/status/{second}"), ws)
        .await
        .json();
    assert_eq!(status["counts"]["enqueued"], 0, "{status}");
    assert_eq!(status["counts"]["archived"], 1, "{status}");
    assert!(
        inputs.join("__parsed__/a_001.txt").exists(),
        "archived under a free name"
    );
    assert_eq!(server.counts(ws).await["all"], 2);

    let missing = server.get("/documents/scan/status/scan_nothing", ws).await;
    assert_eq!(missing.status, 404);
    // Another workspace cannot read this workspace's scan.
    let other = server
        .get(&format!("/documents/scan/status/{track}"), Some("other"))
        .await;
    assert_eq!(other.status, 404);
}

#[tokio::test(flavor = "multi_thread")]
async fn deleting_with_delete_file_removes_the_upload_and_its_archived_copy() {
    let mock = MockLlm::start(32).await;
    let server = Server::start(&pairs(mock.env()));
    let ws = "deletes";
    let (status, body) = upload(
        &server,
        ws,
        "kept.txt",
        b"Ada Lovelace wrote notes.".to_vec(),
    )
    .await;
    assert_eq!(status, 200);
    let (status, gone) = upload(
        &server,
        ws,
        "gone.txt",
        b"Charles Babbage built engines.".to_vec(),
    )
    .await;
    assert_eq!(status, 200);
    server.wait_idle(Some(ws)).await;
    let parsed = server.root().join("inputs").join(ws).join("__parsed__");
    assert!(parsed.join("gone.txt").exists() && parsed.join("kept.txt").exists());
    let kept = document_of(&server, ws, body["track_id"].as_str().unwrap()).await;
    let gone = document_of(&server, ws, gone["track_id"].as_str().unwrap()).await;
    for (doc, delete_file) in [(&kept, false), (&gone, true)] {
        let reply = server
            .request(
                reqwest::Method::DELETE,
                "/documents/delete_document",
                Some(ws),
                Some(json!({"doc_ids": [doc["id"]], "delete_file": delete_file})),
            )
            .await;
        assert_eq!(reply.status, 200, "{}", reply.text);
        server.wait_idle(Some(ws)).await;
    }
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while server.counts(Some(ws)).await["all"] != 0 {
        assert!(std::time::Instant::now() < deadline);
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(
        parsed.join("kept.txt").exists(),
        "delete_file=false keeps the file"
    );
    assert!(
        !parsed.join("gone.txt").exists(),
        "delete_file=true removes it"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn cancelling_the_pipeline_puts_unfinished_documents_back_to_pending() {
    let mock = MockLlm::start(32).await;
    mock.state.latency_ms.store(300, Ordering::Relaxed);
    let server = Server::start(&pairs(mock.env()));
    let ws = Some("cancel");
    let idle = server
        .post("/documents/cancel_pipeline", ws, json!({}))
        .await;
    assert_eq!(idle.json()["status"], "not_busy");
    let texts: Vec<String> = (0..8)
        .map(|i| format!("Clockmaker {i} repairs a tower clock."))
        .collect();
    let sources: Vec<String> = (0..8).map(|i| format!("c{i}.txt")).collect();
    let reply = server
        .post(
            "/documents/texts",
            ws,
            json!({"texts": texts, "file_sources": sources}),
        )
        .await;
    assert_eq!(reply.status, 200);
    let reply = server
        .post("/documents/cancel_pipeline", ws, json!({}))
        .await;
    assert_eq!(
        reply.json()["status"],
        "cancellation_requested",
        "{}",
        reply.text
    );
    let status = server.get("/documents/pipeline_status", ws).await.json();
    assert!(
        status["cancellation_requested"] == true || status["busy"] == false,
        "{status}"
    );
    // The request is withdrawn once the pipeline has stopped.
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        let status = server.get("/documents/pipeline_status", ws).await.json();
        if status["busy"] == false && status["cancellation_requested"] == false {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "{status}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let counts = server.counts(ws).await;
    assert_eq!(counts["processing"], 0, "{counts}");
    assert_eq!(counts["failed"], 0, "{counts}");
    assert!(
        counts["pending"].as_u64().unwrap() > 0,
        "nothing left pending: {counts}"
    );
    // Retrying takes them all the way.
    mock.state.latency_ms.store(0, Ordering::Relaxed);
    server
        .post("/documents/reprocess_failed", ws, json!({}))
        .await;
    let counts = server.wait_idle(ws).await;
    assert_eq!(counts["processed"], 8, "{counts}");
}

#[tokio::test(flavor = "multi_thread")]
async fn source_conflicts_are_listed_and_repaired() {
    let mock = MockLlm::start(32).await;
    let server = Server::start(&pairs(mock.env()));
    let ws = Some("conflicts");
    server
        .insert(ws, "a.txt", "Grace Hopper found a moth.")
        .await;
    server.wait_idle(ws).await;
    // The same content under b.txt: a failed duplicate record named b.txt.
    server
        .insert(ws, "b.txt", "Grace Hopper found a moth.")
        .await;
    server.wait_idle(ws).await;
    // Then a real document named b.txt: two records share the name.
    server
        .insert(ws, "b.txt", "Alan Turing asked questions.")
        .await;
    server.wait_idle(ws).await;
    let listed = server.get("/documents/source_conflicts", ws).await.json();
    assert_eq!(listed["total"], 1, "{listed}");
    assert_eq!(listed["conflicts"][0]["file_path"], "b.txt");
    assert_eq!(
        listed["conflicts"][0]["documents"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
    assert_eq!(listed["conflicts"][0]["repairable"], 1);
    let repaired = server
        .post("/documents/source_conflicts/repair", ws, json!({}))
        .await;
    assert_eq!(repaired.status, 200, "{}", repaired.text);
    assert_eq!(repaired.json()["removed"].as_array().unwrap().len(), 1);
    let listed = server.get("/documents/source_conflicts", ws).await.json();
    assert_eq!(listed["total"], 0, "{listed}");
    assert_eq!(server.counts(ws).await["processed"], 2);
}

#[tokio::test(flavor = "multi_thread")]
async fn request_ceilings_refuse_too_many_texts_and_too_much_pending_work() {
    let mock = MockLlm::start(32).await;
    mock.state.latency_ms.store(200, Ordering::Relaxed);
    let mut env = pairs(mock.env());
    env.push(("MAX_TEXTS_PER_REQUEST", "3"));
    env.push(("MAX_PENDING_DOCUMENTS", "4"));
    let server = Server::start(&env);
    let ws = Some("ceilings");
    let many = server
        .post("/documents/texts", ws, json!({"texts": ["a b c", "d e f", "g h i", "j k l"], "file_sources": ["1.txt", "2.txt", "3.txt", "4.txt"]}))
        .await;
    assert_eq!(many.status, 413, "{}", many.text);
    let three = server
        .post("/documents/texts", ws, json!({"texts": ["Owls hunt.", "Bats fly.", "Moles dig."], "file_sources": ["1.txt", "2.txt", "3.txt"]}))
        .await;
    assert_eq!(three.status, 200);
    let more = server
        .post(
            "/documents/texts",
            ws,
            json!({"texts": ["Foxes run.", "Deer graze."], "file_sources": ["4.txt", "5.txt"]}),
        )
        .await;
    assert_eq!(more.status, 429, "{}", more.text);
    assert_eq!(more.headers["retry-after"], "30");
    assert!(
        more.json()["detail"]
            .as_str()
            .unwrap()
            .contains("MAX_PENDING_DOCUMENTS")
    );
    let (status, _) = upload(&server, "ceilings", "x.txt", b"Hares leap.".to_vec()).await;
    assert_eq!(status, 200, "one more fits");
    mock.state.latency_ms.store(0, Ordering::Relaxed);
    assert_eq!(server.wait_idle(ws).await["processed"], 4);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_query_shorter_than_three_characters_is_a_validation_error() {
    let mock = MockLlm::start(32).await;
    let server = Server::start(&pairs(mock.env()));
    let reply = server
        .post("/query", Some("short"), json!({"query": "hi"}))
        .await;
    assert_eq!(reply.status, 422, "{}", reply.text);
    assert_eq!(reply.json()["detail"][0]["type"], "string_too_short");
    let reply = server
        .post(
            "/query",
            Some("short"),
            json!({"query": "hey", "mode": "naive", "only_need_context": true}),
        )
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
}
