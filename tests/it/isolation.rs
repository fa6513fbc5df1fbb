//! Tenants never see each other's data.

use crate::harness::{Server, pairs};
use crate::mock_llm::MockLlm;
use serde_json::json;
use std::sync::Arc;

#[tokio::test(flavor = "multi_thread")]
async fn a_token_ingested_by_one_workspace_never_reaches_another() {
    let mock = MockLlm::start(64).await;
    let server = Server::start(&pairs(mock.env()));
    server
        .insert(
            Some("tenant-a"),
            "secret.txt",
            "The launch code of project Osprey is zebrafish42.",
        )
        .await;
    server
        .insert(
            Some("tenant-b"),
            "public.txt",
            "Project Osprey is a public bird-watching club.",
        )
        .await;
    server.wait_idle(Some("tenant-a")).await;
    server.wait_idle(Some("tenant-b")).await;

    let question = "What is the launch code of project Osprey?";
    let a = server.context(Some("tenant-a"), question).await;
    let b = server.context(Some("tenant-b"), question).await;
    assert!(a.contains("zebrafish42"), "{a}");
    assert!(!b.contains("zebrafish42"), "{b}");
    assert!(b.contains("bird-watching"), "{b}");

    // The answering model of B is never shown A's token either.
    let reply = server
        .post(
            "/query",
            Some("tenant-b"),
            json!({"query": question, "mode": "naive"}),
        )
        .await;
    assert_eq!(reply.status, 200);
    assert!(!reply.text.contains("zebrafish42"));
    for logged in mock.state.log() {
        let shown: String = logged.messages.iter().map(|(_, c)| c.as_str()).collect();
        if shown.contains("bird-watching") {
            assert!(
                !shown.contains("zebrafish42"),
                "B's model call saw A's token"
            );
        }
    }
    // B's data directory holds no trace of the token.
    for entry in std::fs::read_dir(server.working_dir.join("tenant-b")).unwrap() {
        let bytes = std::fs::read(entry.unwrap().path()).unwrap();
        assert!(!bytes.windows(11).any(|w| w == b"zebrafish42"));
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn twenty_workspaces_ingesting_and_querying_at_once_stay_isolated() {
    let mock = MockLlm::start(64).await;
    let server = Arc::new(Server::start(&pairs(mock.env())));
    let mut tasks = Vec::new();
    for i in 0..20 {
        let server = server.clone();
        tasks.push(tokio::spawn(async move {
            let ws = format!("team-{i}");
            let token = format!("marker{i}x{}", i * 7919);
            let text =
                format!("Team {i} keeps its archive under the codename {token} in the vault.");
            server.insert(Some(&ws), "archive.txt", &text).await;
            server.wait_idle(Some(&ws)).await;
            let context = server
                .context(Some(&ws), "Which codename does the team keep in the vault?")
                .await;
            (i, context)
        }));
    }
    for task in tasks {
        let (i, context) = task.await.unwrap();
        let own = format!("marker{i}x{}", i * 7919);
        assert!(
            context.contains(&own),
            "team-{i} lost its own token: {context}"
        );
        for j in (0..20).filter(|&j| j != i) {
            let other = format!("marker{j}x{}", j * 7919);
            assert!(!context.contains(&other), "team-{i} saw team-{j}'s token");
        }
    }
}
