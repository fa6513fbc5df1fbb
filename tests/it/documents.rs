//! `/documents/*` in LightRAG's shapes.

use crate::harness::{Server, pairs};
use crate::mock_llm::MockLlm;
use reqwest::Method;
use serde_json::json;

#[tokio::test(flavor = "multi_thread")]
async fn inserted_text_is_tracked_chunked_and_counted() {
    let mock = MockLlm::start(32).await;
    let mut env = pairs(mock.env());
    env.push(("CHUNK_SIZE", "40"));
    env.push(("CHUNK_OVERLAP_SIZE", "5"));
    let server = Server::start(&env);
    let text = "Lighthouses guide ships along dangerous coasts at night. ".repeat(20);
    let track = server.insert(Some("docs"), "lighthouse.md", &text).await;
    assert!(track.starts_with("insert_"), "{track}");
    server.wait_idle(Some("docs")).await;

    let status = server
        .get(&format!("/documents/track_status/{track}"), Some("docs"))
        .await
        .json();
    assert_eq!(status["track_id"], track);
    assert_eq!(status["total_count"], 1);
    let doc = &status["documents"][0];
    assert_eq!(doc["status"], "processed");
    assert_eq!(doc["file_path"], "lighthouse.md");
    assert!(doc["id"].as_str().unwrap().starts_with("doc-"));
    assert!(doc["chunks_count"].as_u64().unwrap() > 5);
    assert!(doc["content_summary"].as_str().unwrap().ends_with("..."));
    assert_eq!(doc["content_length"], text.trim().chars().count());
    assert_eq!(status["status_summary"]["processed"], 1);

    let counts = server.counts(Some("docs")).await;
    for key in [
        "pending",
        "parsing",
        "analyzing",
        "processing",
        "preprocessed",
        "processed",
        "failed",
        "all",
    ] {
        assert!(counts[key].is_u64(), "missing {key}: {counts}");
    }
    assert_eq!(counts["all"], 1);
    let pipeline = server
        .get("/documents/pipeline_status", Some("docs"))
        .await
        .json();
    assert_eq!(pipeline["busy"], false);
    assert!(pipeline["history_messages"].as_array().unwrap().len() >= 2);
    // An unknown track id is an empty list, not an error.
    let unknown = server
        .get("/documents/track_status/insert_nothing", Some("docs"))
        .await;
    assert_eq!(unknown.status, 200);
    assert_eq!(unknown.json()["total_count"], 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn insert_validation_matches_lightrag() {
    let mock = MockLlm::start(32).await;
    let server = Server::start(&pairs(mock.env()));
    let ws = Some("v");
    let cases = [
        (json!({"text": "x y z"}), 400),
        (
            json!({"text": "x y z", "file_source": "unknown_source"}),
            400,
        ),
        (json!({"text": "x y z", "file_source": "  "}), 400),
        (json!({"text": "   ", "file_source": "a.txt"}), 422),
        (json!({"file_source": "a.txt"}), 422),
    ];
    for (body, status) in cases {
        let reply = server.post("/documents/text", ws, body.clone()).await;
        assert_eq!(reply.status, status, "{body}: {}", reply.text);
        assert!(reply.json()["detail"].is_string() || reply.json()["detail"].is_array());
    }
    let reply = server
        .request(Method::POST, "/documents/text", ws, None)
        .await;
    assert_eq!(reply.status, 422);
    let cases = [
        (
            json!({"texts": ["a b c", "d e f"], "file_sources": ["one.txt"]}),
            400,
        ),
        (
            json!({"texts": ["a b c", "d e f"], "file_sources": ["same.txt", "dir/same.txt"]}),
            400,
        ),
        (json!({"texts": [], "file_sources": []}), 422),
    ];
    for (body, status) in cases {
        let reply = server.post("/documents/texts", ws, body.clone()).await;
        assert_eq!(reply.status, status, "{body}: {}", reply.text);
    }
    assert_eq!(server.counts(ws).await["all"], 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn duplicates_follow_lightrag_same_name_409_same_content_failed_record() {
    let mock = MockLlm::start(32).await;
    let server = Server::start(&pairs(mock.env()));
    let ws = Some("dups");
    server
        .insert(ws, "report.txt", "Quarterly revenue grew by nine percent.")
        .await;
    let reply = server
        .post(
            "/documents/text",
            ws,
            json!({"text": "Other text entirely.", "file_source": "report.txt"}),
        )
        .await;
    assert_eq!(reply.status, 409, "{}", reply.text);
    assert!(
        reply.json()["detail"]
            .as_str()
            .unwrap()
            .contains("report.txt")
    );

    let track = server
        .insert(ws, "copy.txt", "Quarterly revenue grew by nine percent.")
        .await;
    server.wait_idle(ws).await;
    let status = server
        .get(&format!("/documents/track_status/{track}"), ws)
        .await
        .json();
    let dup = &status["documents"][0];
    assert_eq!(dup["status"], "failed");
    assert!(dup["id"].as_str().unwrap().starts_with("dup-"));
    assert_eq!(dup["metadata"]["is_duplicate"], true);
    assert_eq!(dup["metadata"]["duplicate_kind"], "content_hash");
    assert!(
        dup["error_msg"]
            .as_str()
            .unwrap()
            .starts_with("Identical content already exists")
    );
    let counts = server.counts(ws).await;
    assert_eq!(
        (counts["processed"].as_u64(), counts["failed"].as_u64()),
        (Some(1), Some(1))
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn upload_accepts_text_files_and_refuses_others() {
    let mock = MockLlm::start(32).await;
    let server = Server::start(&pairs(mock.env()));
    let client = reqwest::Client::new();
    let upload = |name: &'static str, body: &'static str| {
        let form = reqwest::multipart::Form::new().part(
            "file",
            reqwest::multipart::Part::bytes(body.as_bytes().to_vec()).file_name(name),
        );
        client
            .post(format!("{}/documents/upload", server.base))
            .header("LIGHTRAG-WORKSPACE", "up")
            .multipart(form)
            .send()
    };
    let reply = upload("notes.md", "# Notes\nOtters hold hands while sleeping.")
        .await
        .unwrap();
    assert_eq!(reply.status(), 200);
    let body: serde_json::Value = reply.json().await.unwrap();
    assert!(body["track_id"].as_str().unwrap().starts_with("upload_"));
    assert_eq!(
        body["message"],
        "File 'notes.md' uploaded successfully. Processing will continue in background."
    );
    for (name, status) in [
        ("image.png", 400),
        ("../evil.txt", 400),
        (" spaced.txt", 400),
    ] {
        let reply = upload(name, "data").await.unwrap();
        assert_eq!(reply.status(), status, "{name}");
    }
    server.wait_idle(Some("up")).await;
    assert_eq!(server.counts(Some("up")).await["processed"], 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn paginated_filters_sorts_and_counts() {
    let mock = MockLlm::start(32).await;
    let server = Server::start(&pairs(mock.env()));
    let ws = Some("pages");
    let texts: Vec<String> = (0..25)
        .map(|i| format!("Document number {i} about topic {i}."))
        .collect();
    let sources: Vec<String> = (0..25).map(|i| format!("doc-{i:02}.txt")).collect();
    let reply = server
        .post(
            "/documents/texts",
            ws,
            json!({"texts": texts, "file_sources": sources}),
        )
        .await;
    assert_eq!(reply.status, 200);
    server.wait_idle(ws).await;
    let page = server
        .post("/documents/paginated", ws, json!({"page": 2, "page_size": 10, "sort_field": "file_path", "sort_direction": "asc", "status_filter": "processed"}))
        .await
        .json();
    let names: Vec<&str> = page["documents"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["file_path"].as_str().unwrap())
        .collect();
    assert_eq!(names.first(), Some(&"doc-10.txt"));
    assert_eq!(names.len(), 10);
    assert_eq!(page["pagination"]["total_count"], 25);
    assert_eq!(page["pagination"]["total_pages"], 3);
    assert_eq!(page["pagination"]["has_next"], true);
    assert_eq!(page["pagination"]["has_prev"], true);
    assert_eq!(page["status_counts"]["all"], 25);
    let none = server
        .post(
            "/documents/paginated",
            ws,
            json!({"status_filters": ["failed"]}),
        )
        .await
        .json();
    assert_eq!(none["pagination"]["total_count"], 0);
    let bad = server
        .post("/documents/paginated", ws, json!({"page_size": 5}))
        .await;
    assert_eq!(bad.status, 422);
    let bad = server
        .post(
            "/documents/paginated",
            ws,
            json!({"status_filter": "weird"}),
        )
        .await;
    assert_eq!(bad.status, 422);
}

#[tokio::test(flavor = "multi_thread")]
async fn deleting_documents_removes_them_and_their_chunks() {
    let mock = MockLlm::start(32).await;
    let server = Server::start(&pairs(mock.env()));
    let ws = Some("del");
    server
        .insert(
            ws,
            "keep.txt",
            "Giraffes sleep only a few minutes at a time.",
        )
        .await;
    let track = server
        .insert(ws, "drop.txt", "Narwhal tusks are actually long teeth.")
        .await;
    server.wait_idle(ws).await;
    let status = server
        .get(&format!("/documents/track_status/{track}"), ws)
        .await
        .json();
    let id = status["documents"][0]["id"].as_str().unwrap().to_string();
    let reply = server
        .request(
            Method::DELETE,
            "/documents/delete_document",
            ws,
            Some(json!({"doc_ids": [id]})),
        )
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert_eq!(reply.json()["status"], "deletion_started");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while server.counts(ws).await["all"] != 1 {
        assert!(std::time::Instant::now() < deadline);
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let context = server.context(ws, "What are narwhal tusks made of?").await;
    assert!(!context.contains("Narwhal"), "{context}");
    let reply = server
        .request(
            Method::DELETE,
            "/documents/delete_document",
            ws,
            Some(json!({"doc_ids": []})),
        )
        .await;
    assert_eq!(reply.status, 422);
    // The file name is free again.
    server
        .insert(ws, "drop.txt", "Narwhals live in Arctic waters.")
        .await;

    let reply = server.request(Method::DELETE, "/documents", ws, None).await;
    let body = reply.json();
    // Either the pipeline was still busy with the last insert, or everything went.
    if body["status"] == "busy" {
        server.wait_idle(ws).await;
        let body = server
            .request(Method::DELETE, "/documents", ws, None)
            .await
            .json();
        assert_eq!(body["status"], "success");
    } else {
        assert_eq!(body["status"], "success", "{body}");
    }
    assert_eq!(server.counts(ws).await["all"], 0);
    let context = server.context(ws, "Where do giraffes sleep?").await;
    assert!(!context.contains("Giraffes"));
}
