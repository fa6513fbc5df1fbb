//! Storage as a tenant meets it: a workspace written by an older server opens and is
//! rewritten in today's layout; bulky values live in the blob file and survive
//! restarts and compaction; memory is reported against its limit, and new documents
//! are refused with 507 before a workspace could become too large to reopen.

use crate::harness::Server;
use reqwest::Method;
use serde_json::{Value, json};
use std::path::Path;

const ADMIN: &str = "storage-admin-key";

fn fixture(name: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/fixtures")
        .join(name)
}

fn file_names(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

fn magic(path: &Path) -> String {
    String::from_utf8_lossy(&std::fs::read(path).unwrap()[..8]).into_owned()
}

async fn processed_files(server: &Server, ws: &str) -> Vec<String> {
    let page = server
        .post(
            "/documents/paginated",
            Some(ws),
            json!({"page": 1, "page_size": 100, "status_filter": "processed"}),
        )
        .await
        .json();
    let mut names: Vec<String> = page["documents"]
        .as_array()
        .unwrap_or_else(|| panic!("{page}"))
        .iter()
        .map(|d| d["file_path"].as_str().unwrap().to_string())
        .collect();
    names.sort();
    names
}

async fn doc_id(server: &Server, ws: &str, file: &str) -> String {
    let page = server
        .post(
            "/documents/paginated",
            Some(ws),
            json!({"page": 1, "page_size": 100}),
        )
        .await
        .json();
    page["documents"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["file_path"] == file)
        .map(|d| d["id"].as_str().unwrap().to_string())
        .unwrap_or_else(|| panic!("no document {file}: {page}"))
}

async fn inspect(server: &Server, ws: &str) -> Value {
    let reply = server
        .request_with(
            Method::GET,
            &format!("/workspaces/{ws}"),
            &[("X-Admin-Key", ADMIN)],
            None,
        )
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    reply.json()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_workspace_in_the_previous_layout_opens_and_is_rewritten_in_todays() {
    let dir = tempfile::tempdir().unwrap();
    let ws_dir = dir.path().join("data").join("legacy");
    std::fs::create_dir_all(&ws_dir).unwrap();
    for file in ["engine.snap", "engine.jrnl"] {
        std::fs::copy(fixture("workspace-layout-2").join(file), ws_dir.join(file)).unwrap();
    }
    assert_eq!(magic(&ws_dir.join("engine.snap")), "LRSNAP02");
    let server = Server::start_in(dir.path(), &[]);
    let ws = Some("legacy");
    // Everything the old server stored, the snapshot's and the journal's.
    assert_eq!(
        processed_files(&server, "legacy").await,
        ["hopper.txt", "johnson.txt", "lovelace.txt", "turing.txt"]
    );
    let context = server.context(ws, "Who built the first compiler?").await;
    assert!(
        context.contains("Grace Hopper built the first compiler"),
        "{context}"
    );
    let context = server
        .context(ws, "Who computed the Apollo 11 trajectory?")
        .await;
    assert!(context.contains("Katherine Johnson"), "{context}");
    // Rewritten on open: today's snapshot and journal, and the blob file.
    let names = file_names(&ws_dir);
    assert!(
        names.iter().any(|n| n.starts_with("engine.blobs.")),
        "{names:?}"
    );
    assert_eq!(magic(&ws_dir.join("engine.snap")), "LRSNP305");
    assert_eq!(magic(&ws_dir.join("engine.jrnl")), "LRJRNL04");
    // It goes on working: a new document, a deletion, a restart.
    server
        .insert(ws, "noether.txt", "Emmy Noether proved the theorem linking symmetries and conservation laws at Göttingen.")
        .await;
    server.wait_idle(ws).await;
    let turing = doc_id(&server, "legacy", "turing.txt").await;
    let deleted = server
        .request(
            Method::DELETE,
            "/documents/delete_document",
            ws,
            Some(json!({"doc_ids": [turing]})),
        )
        .await;
    assert_eq!(deleted.status, 200, "{}", deleted.text);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while server.counts(ws).await["all"] != 4 {
        assert!(
            std::time::Instant::now() < deadline,
            "the deletion did not finish"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    server.terminate();
    let server = Server::start_in(dir.path(), &[]);
    assert_eq!(
        processed_files(&server, "legacy").await,
        ["hopper.txt", "johnson.txt", "lovelace.txt", "noether.txt"]
    );
    let context = server.context(ws, "Who proved the symmetry theorem?").await;
    assert!(context.contains("Emmy Noether"), "{context}");
    let context = server
        .context(ws, "Who designed the Analytical Engine?")
        .await;
    assert!(context.contains("Charles Babbage"), "{context}");
    assert!(!context.contains("Bletchley"), "{context}");
}

/// Copies a fixture workspace with a blob file into the workspace `legacy` under
/// `working_dir`; its directory.
fn copy_fixture(working_dir: &Path, name: &str) -> std::path::PathBuf {
    let ws_dir = working_dir.join("data").join("legacy");
    std::fs::create_dir_all(&ws_dir).unwrap();
    for file in ["engine.snap", "engine.jrnl", "engine.blobs.0"] {
        std::fs::copy(fixture(name).join(file), ws_dir.join(file)).unwrap();
    }
    ws_dir
}

#[tokio::test(flavor = "multi_thread")]
async fn a_workspace_in_storage_layout_3_opens_and_its_vectors_are_rewritten_in_pages() {
    let dir = tempfile::tempdir().unwrap();
    let ws_dir = copy_fixture(dir.path(), "workspace-layout-3");
    assert_eq!(magic(&ws_dir.join("engine.snap")), "LRSNP203");
    let server = Server::start_in(dir.path(), &[]);
    let ws = Some("legacy");
    let all = [
        "hopper.txt",
        "johnson.txt",
        "lovelace.txt",
        "noether.txt",
        "turing.txt",
    ];
    assert_eq!(processed_files(&server, "legacy").await, all);
    // Naive retrieval reads the chunk vectors alone, so their codes came through.
    let naive = server
        .post(
            "/query",
            ws,
            json!({"query": "Who built the first compiler?", "mode": "naive", "only_need_context": true}),
        )
        .await;
    assert_eq!(naive.status, 200, "{}", naive.text);
    assert!(naive.text.contains("Grace Hopper"), "{}", naive.text);
    let context = server.context(ws, "Who proved the symmetry theorem?").await;
    assert!(context.contains("Emmy Noether"), "{context}");
    assert_eq!(magic(&ws_dir.join("engine.snap")), "LRSNP305");
    // The rewritten workspace reopens as it was.
    server.terminate();
    let server = Server::start_in(dir.path(), &[]);
    assert_eq!(processed_files(&server, "legacy").await, all);
    let context = server
        .context(ws, "Who computed the Apollo 11 trajectory?")
        .await;
    assert!(context.contains("Katherine Johnson"), "{context}");
}

/// Layout 4 kept chunk text in memory and in the journal's operations; both are
/// converted, and the text ends up in the blob file only.
#[tokio::test(flavor = "multi_thread")]
async fn a_workspace_in_storage_layout_4_opens_and_its_chunk_text_moves_to_the_blob_file() {
    let dir = tempfile::tempdir().unwrap();
    let ws_dir = copy_fixture(dir.path(), "workspace-layout-4");
    assert_eq!(magic(&ws_dir.join("engine.snap")), "LRSNP204");
    assert_eq!(magic(&ws_dir.join("engine.jrnl")), "LRJRNL02");
    // The sentence is also in the document's status and in descriptions; the chunk
    // held one more copy.
    let needle = b"Grace Hopper built the first compiler";
    let count = |bytes: &[u8]| bytes.windows(needle.len()).filter(|w| w == needle).count();
    let before = count(&std::fs::read(ws_dir.join("engine.snap")).unwrap());
    let server = Server::start_in(dir.path(), &[]);
    let ws = Some("legacy");
    let all = [
        "franklin.txt",
        "hopper.txt",
        "johnson.txt",
        "lovelace.txt",
        "noether.txt",
        "turing.txt",
    ];
    assert_eq!(processed_files(&server, "legacy").await, all);
    // Chunk text from the snapshot and from the journal's operations both answer.
    let context = server.context(ws, "Who built the first compiler?").await;
    assert!(
        context.contains("Grace Hopper built the first compiler"),
        "{context}"
    );
    let context = server.context(ws, "Who photographed DNA?").await;
    assert!(context.contains("X-ray diffraction"), "{context}");
    assert_eq!(magic(&ws_dir.join("engine.snap")), "LRSNP305");
    assert_eq!(magic(&ws_dir.join("engine.jrnl")), "LRJRNL04");
    let snapshot = std::fs::read(ws_dir.join("engine.snap")).unwrap();
    assert_eq!(
        count(&snapshot),
        before - 1,
        "chunk text left in the snapshot"
    );
    // Deleting a document rebuilds what it shared from the other chunks' text.
    let franklin = doc_id(&server, "legacy", "franklin.txt").await;
    let deleted = server
        .request(
            Method::DELETE,
            "/documents/delete_document",
            ws,
            Some(json!({"doc_ids": [franklin]})),
        )
        .await;
    assert_eq!(deleted.status, 200, "{}", deleted.text);
    server.wait_idle(ws).await;
    server.terminate();
    let server = Server::start_in(dir.path(), &[]);
    assert_eq!(processed_files(&server, "legacy").await, all[1..]);
    let context = server
        .context(ws, "Who computed the Apollo 11 trajectory?")
        .await;
    assert!(context.contains("Katherine Johnson"), "{context}");
}

/// Document text, the cached answers and exact vectors are in the blob file, not in
/// memory or the snapshot; they come back from it after a restart, whether the
/// server stopped cleanly (snapshot) or was killed (journal).
#[tokio::test(flavor = "multi_thread")]
async fn bulky_values_live_in_the_blob_file_across_restarts_and_kills() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start_in(dir.path(), &[]);
    let ws = Some("blobs");
    let marker = "Zanzibar spice merchants traded cloves through Stone Town harbour. ";
    server.insert(ws, "spice.txt", &marker.repeat(200)).await;
    server
        .insert(
            ws,
            "bees.txt",
            "Honey bees dance to show where the flowers are.",
        )
        .await;
    server.wait_idle(ws).await;
    server.terminate();
    // Neither the document's text nor its chunks' is in the snapshot (only the few
    // descriptions quoting the sentence): both are in the blob file.
    let needle = b"Zanzibar spice merchants traded cloves";
    let count = |bytes: &[u8]| bytes.windows(needle.len()).filter(|w| w == needle).count();
    let snapshot = std::fs::read(dir.path().join("data/blobs/engine.snap")).unwrap();
    let in_snapshot = count(&snapshot);
    assert!(in_snapshot < 20, "{in_snapshot} copies in the snapshot");
    let blob_file = std::fs::read_dir(dir.path().join("data/blobs"))
        .unwrap()
        .flatten()
        .find(|e| e.file_name().to_string_lossy().starts_with("engine.blobs."))
        .expect("a blob file")
        .path();
    let in_blobs = count(&std::fs::read(blob_file).unwrap());
    assert!(in_blobs >= 400, "{in_blobs} copies in the blob file");
    let server = Server::start_in(dir.path(), &[]);
    let context = server.context(ws, "Who traded cloves?").await;
    assert!(context.contains("Stone Town"), "{context}");
    // Reprocessing reads the document's text back from the blob file.
    server
        .insert(
            ws,
            "later.txt",
            "Cinnamon came from Ceylon on the same ships.",
        )
        .await;
    server.wait_idle(ws).await;
    server.kill9();
    let server = Server::start_in(dir.path(), &[]);
    assert_eq!(
        processed_files(&server, "blobs").await,
        ["bees.txt", "later.txt", "spice.txt"]
    );
    let context = server.context(ws, "Where did cinnamon come from?").await;
    assert!(context.contains("Ceylon"), "{context}");
}

#[tokio::test(flavor = "multi_thread")]
async fn memory_is_reported_against_its_limit_and_new_documents_are_refused_near_it() {
    let server = Server::start(&[
        ("LIGHTRAG_ADMIN_API_KEY", ADMIN),
        ("LIGHTRAG_WORKSPACE_MEMORY_MB", "64"),
    ]);
    let ws = Some("roomy");
    server
        .insert(
            ws,
            "small.txt",
            "A small document about lighthouses on rocky coasts.",
        )
        .await;
    server.wait_idle(ws).await;
    let stats = inspect(&server, "roomy").await;
    assert_eq!(stats["memory_limit_bytes"], 64u64 << 20, "{stats}");
    let used = stats["memory_bytes"].as_u64().unwrap();
    assert!(used > 0 && used < 64 << 20, "{stats}");

    // Documents that would take the workspace past three quarters of its limit once
    // processed: refused up front, nothing stored, and the message says what to change.
    let part = "Lighthouse keepers logged every passing ship. ".repeat((9 << 20) / 46);
    let reply = server
        .post(
            "/documents/texts",
            ws,
            json!({
                "texts": [&part, format!("{part}2"), format!("{part}3"), format!("{part}4")],
                "file_sources": ["a.txt", "b.txt", "c.txt", "d.txt"],
            }),
        )
        .await;
    assert_eq!(reply.status, 507, "{}", reply.text);
    assert!(reply.text.contains("nearly full"), "{}", reply.text);
    assert!(
        reply.text.contains("LIGHTRAG_WORKSPACE_MEMORY_MB"),
        "{}",
        reply.text
    );
    assert!(reply.text.contains("64 MiB"), "{}", reply.text);
    // One document too large to process within the limit at all.
    let reply = server
        .post(
            "/documents/text",
            ws,
            json!({"text": part.repeat(2), "file_source": "huge.txt"}),
        )
        .await;
    assert_eq!(reply.status, 507, "{}", reply.text);
    assert!(
        reply.text.contains("too large to process"),
        "{}",
        reply.text
    );
    let counts = server.counts(ws).await;
    assert_eq!(counts["all"], 1, "{counts}");
    // The workspace is unharmed and still takes documents that fit.
    server
        .insert(
            ws,
            "more.txt",
            "Fresnel lenses made lighthouse beams visible far out at sea.",
        )
        .await;
    assert_eq!(server.wait_idle(ws).await["processed"], 2);
    let listed = server
        .request_with(Method::GET, "/workspaces", &[("X-Admin-Key", ADMIN)], None)
        .await
        .json();
    let entry = listed["workspaces"]
        .as_array()
        .unwrap()
        .iter()
        .find(|w| w["name"] == "roomy")
        .cloned()
        .unwrap();
    assert_eq!(entry["memory_limit_bytes"], 64u64 << 20, "{entry}");
}

/// `LIGHTRAG_VECTOR_PRECISION` changes only how vectors are held: the same
/// workspace, reopened under the other setting, finds the same chunks.
#[tokio::test(flavor = "multi_thread")]
async fn vector_precision_can_change_between_restarts() {
    let dir = tempfile::tempdir().unwrap();
    let ws = Some("precise");
    let texts = [
        (
            "bees.txt",
            "Honey bees dance to tell the hive where flowers grow.",
        ),
        (
            "ships.txt",
            "Clipper ships carried tea from Canton to London.",
        ),
        (
            "stars.txt",
            "Astronomers measure the distance to stars by parallax.",
        ),
        (
            "bread.txt",
            "Sourdough bread rises thanks to wild yeast and bacteria.",
        ),
    ];
    let server = Server::start_in(dir.path(), &[("LIGHTRAG_VECTOR_PRECISION", "f32")]);
    for (file, text) in texts {
        server.insert(ws, file, text).await;
    }
    server.wait_idle(ws).await;
    let questions = [
        "How do bees share directions?",
        "What did clipper ships carry?",
    ];
    let mut contexts = Vec::new();
    for q in questions {
        contexts.push(server.context(ws, q).await);
    }
    server.terminate();
    for precision in ["int8", "f32", "int8"] {
        let server = Server::start_in(dir.path(), &[("LIGHTRAG_VECTOR_PRECISION", precision)]);
        for (q, expected) in questions.iter().zip(&contexts) {
            assert_eq!(&server.context(ws, q).await, expected, "{precision}: {q}");
        }
        server.terminate();
    }
    let log = Server::try_start_in(dir.path(), &[("LIGHTRAG_VECTOR_PRECISION", "f16")])
        .err()
        .expect("an unknown precision is refused at start");
    assert!(log.contains("LIGHTRAG_VECTOR_PRECISION"), "{log}");
}
