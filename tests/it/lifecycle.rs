//! Start-up, graceful shutdown, crashes, and two processes on one directory.

use crate::harness::{Server, pairs};
use crate::mock_llm::MockLlm;
use serde_json::json;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

#[tokio::test(flavor = "multi_thread")]
async fn sigterm_finalizes_every_workspace_and_exits_zero() {
    let mock = MockLlm::start(32).await;
    let env = mock.env().to_vec();
    let server = Server::start(&pairs(&env));
    let root = server.root();
    for ws in ["red", "green", "blue"] {
        server
            .insert(
                Some(ws),
                "colour.txt",
                &format!("The colour of this workspace is {ws}."),
            )
            .await;
        server.wait_idle(Some(ws)).await;
    }
    let (status, log) = server.terminate();
    assert!(status.success(), "exit status {status:?}\n{log}");
    assert!(log.contains("finalize calls: 3"), "{log}");
    for ws in ["red", "green", "blue"] {
        // Finalize compacted the journal into a snapshot.
        let dir = root.join("data").join(ws);
        assert!(dir.join("engine.snap").is_file());
        assert_eq!(
            std::fs::metadata(dir.join("engine.jrnl")).unwrap().len(),
            16
        );
    }
    let server = Server::start_in(&root, &pairs(&env));
    for ws in ["red", "green", "blue"] {
        assert_eq!(server.counts(Some(ws)).await["processed"], 1);
        let context = server
            .context(Some(ws), "What is the colour of this workspace?")
            .await;
        assert!(context.contains(ws), "{context}");
    }
}

/// `kill -9` in the middle of ingestion: after a restart every acknowledged document
/// is there — processed before the crash, or processed again — and nothing is stored
/// twice.
#[tokio::test(flavor = "multi_thread")]
async fn kill_dash_nine_during_ingestion_loses_no_acknowledged_document() {
    let mock = MockLlm::start(32).await;
    mock.state.embed_latency_ms.store(150, Ordering::Relaxed);
    let mut env = pairs(mock.env());
    env.push(("MAX_PARALLEL_INSERT", "2"));
    let server = Server::start(&env);
    let root = server.root();
    let texts: Vec<String> = (0..12)
        .map(|i| {
            format!("Ledger entry {i}: the courier delivered parcel code pc{i}q to the depot.")
        })
        .collect();
    let sources: Vec<String> = (0..12).map(|i| format!("entry-{i}.txt")).collect();
    let reply = server
        .post(
            "/documents/texts",
            Some("ledger"),
            json!({"texts": texts, "file_sources": sources}),
        )
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let counts = server.counts(Some("ledger")).await;
        if counts["processed"].as_u64().unwrap() >= 2 {
            assert!(
                counts["pending"].as_u64().unwrap() + counts["processing"].as_u64().unwrap() > 0
            );
            break;
        }
        assert!(Instant::now() < deadline, "ingestion did not start");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    server.kill9();

    mock.state.embed_latency_ms.store(0, Ordering::Relaxed);
    let server = Server::start_in(&root, &env);
    let counts = server.wait_idle(Some("ledger")).await;
    assert_eq!(counts["processed"], 12, "{counts}");
    assert_eq!(counts["all"], 12, "{counts}");
    let page = server
        .post(
            "/documents/paginated",
            Some("ledger"),
            json!({"page_size": 50}),
        )
        .await
        .json();
    for doc in page["documents"].as_array().unwrap() {
        assert_eq!(doc["chunks_count"], 1, "{doc}");
    }
    for i in [0, 5, 11] {
        let context = server
            .context(
                Some("ledger"),
                &format!("Which parcel code did entry {i} deliver? pc{i}q"),
            )
            .await;
        assert!(context.contains(&format!("pc{i}q")), "{context}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_second_server_process_cannot_open_a_workspace_in_use() {
    let mock = MockLlm::start(32).await;
    let env = mock.env().to_vec();
    let first = Server::start(&pairs(&env));
    assert_eq!(
        first
            .get("/documents/status_counts", Some("shared"))
            .await
            .status,
        200
    );
    let second = Server::start_in(&first.root(), &pairs(&env));
    let reply = second.get("/documents/status_counts", Some("shared")).await;
    assert_eq!(reply.status, 409, "{}", reply.text);
    assert!(
        reply.text.contains("another lightrag-server process"),
        "{}",
        reply.text
    );
    // Other workspaces are fine in the second process.
    assert_eq!(
        second
            .get("/documents/status_counts", Some("private"))
            .await
            .status,
        200
    );
    // Once the first process is gone, the second can take the workspace.
    let (status, _) = first.terminate();
    assert!(status.success());
    assert_eq!(
        second
            .get("/documents/status_counts", Some("shared"))
            .await
            .status,
        200
    );
}

#[test]
fn a_bad_setting_stops_start_up_and_names_the_setting() {
    for (name, value) in [
        ("PORT", "ninety"),
        ("LIGHTRAG_MAX_WORKSPACES_IN_POOL", "0"),
        ("WORKSPACE", "no spaces allowed"),
        ("LIGHTRAG_ALLOW_DEFAULT_WORKSPACE", "perhaps"),
        ("COSINE_THRESHOLD", "2"),
        ("LLM_BINDING", "telepathy"),
        ("LIGHTRAG_WORKSPACE_MEMORY_MB", "-5"),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let log = match Server::try_start_in(dir.path(), &[(name, value)]) {
            Ok(_) => panic!("{name}={value} was accepted"),
            Err(log) => log,
        };
        assert!(log.contains(name), "{name}: {log}");
    }
}
