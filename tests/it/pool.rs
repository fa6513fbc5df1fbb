//! The instance pool: eviction with finalize, single-flight opens, leases, faults.

use crate::harness::{Server, pairs};
use crate::mock_llm::MockLlm;
use serde_json::json;
use std::sync::Arc;
use std::sync::atomic::Ordering;

#[tokio::test(flavor = "multi_thread")]
async fn a_full_pool_evicts_and_finalizes_and_data_survives_reopening() {
    let mock = MockLlm::start(32).await;
    let mut env = pairs(mock.env());
    env.push(("LIGHTRAG_MAX_WORKSPACES_IN_POOL", "2"));
    let server = Server::start(&env);
    for ws in ["one", "two", "three"] {
        server
            .insert(
                Some(ws),
                &format!("{ws}.txt"),
                &format!("Workspace {ws} remembers the word {ws}-apricot."),
            )
            .await;
        server.wait_idle(Some(ws)).await;
    }
    assert!(server.metric("lightrag_pool_evictions_total").await >= 1);
    // Finalize runs in the background right after the eviction.
    let mut finalized = 0;
    for _ in 0..100 {
        finalized = server.metric("lightrag_pool_finalize_total").await;
        if finalized >= 1 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert!(finalized >= 1);
    assert!(server.metric("lightrag_pool_instances").await <= 2);
    // "one" was evicted; reopening it finds its document and vectors.
    let opens_before = server.metric("lightrag_pool_opens_total").await;
    let context = server
        .context(Some("one"), "Which word does the workspace remember?")
        .await;
    assert!(context.contains("one-apricot"), "{context}");
    assert_eq!(server.counts(Some("one")).await["processed"], 1);
    assert!(server.metric("lightrag_pool_opens_total").await > opens_before);
}

#[tokio::test(flavor = "multi_thread")]
async fn twenty_concurrent_first_requests_open_the_workspace_once() {
    let mock = MockLlm::start(32).await;
    let server = Arc::new(Server::start(&pairs(mock.env())));
    let tasks: Vec<_> = (0..20)
        .map(|_| {
            let server = server.clone();
            tokio::spawn(async move {
                server
                    .get("/documents/status_counts", Some("crowded"))
                    .await
                    .status
            })
        })
        .collect();
    for task in tasks {
        assert_eq!(task.await.unwrap(), 200);
    }
    assert_eq!(server.metric("lightrag_pool_opens_total").await, 1);
}

/// Regression: an ingesting workspace's lease pinned its slot for the whole
/// ingestion, so with every slot ingesting, other workspaces got 503. Now a waiting
/// workspace asks the long-held slot to drain: the pipeline stops at its next step
/// (its document goes back to pending), the slot is handed over, and the ingestion
/// resumes when the workspace gets a slot again.
#[tokio::test(flavor = "multi_thread")]
async fn an_ingesting_workspace_hands_its_slot_over_and_resumes() {
    let mock = MockLlm::start(32).await;
    mock.state.embed_latency_ms.store(1500, Ordering::Relaxed);
    let mut env = pairs(mock.env());
    env.push(("LIGHTRAG_MAX_WORKSPACES_IN_POOL", "1"));
    env.push(("LIGHTRAG_POOL_WAIT_MS", "1000"));
    let server = Server::start(&env);
    server
        .insert(
            Some("busy"),
            "long.txt",
            "A document that takes a while to embed.",
        )
        .await;
    let reply = server.get("/documents/status_counts", Some("other")).await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert!(server.metric("lightrag_pool_evictions_total").await >= 1);
    // Asking about it gives its slot back; the ingestion finishes.
    mock.state.embed_latency_ms.store(0, Ordering::Relaxed);
    assert_eq!(server.wait_idle(Some("busy")).await["processed"], 1);
    assert!(server.metric("lightrag_pool_evictions_total").await >= 2);
}

/// A 503 is left for a wait that truly exceeds `LIGHTRAG_POOL_WAIT_MS` because the
/// only slot is mid-request (a request cannot yield its slot half-way).
#[tokio::test(flavor = "multi_thread")]
async fn a_request_longer_than_the_pool_wait_makes_the_others_wait_then_503() {
    let mock = MockLlm::start(32).await;
    let mut env = pairs(mock.env());
    env.push(("LIGHTRAG_MAX_WORKSPACES_IN_POOL", "1"));
    env.push(("LIGHTRAG_POOL_WAIT_MS", "300"));
    let server = std::sync::Arc::new(Server::start(&env));
    server
        .insert(Some("slow"), "a.txt", "Otters hold hands.")
        .await;
    server.wait_idle(Some("slow")).await;
    mock.state.latency_ms.store(3000, Ordering::Relaxed);
    let asking = {
        let server = server.clone();
        tokio::spawn(async move {
            server
                .post(
                    "/query",
                    Some("slow"),
                    json!({"query": "What do otters hold?", "mode": "naive"}),
                )
                .await
                .status
        })
    };
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let reply = server.get("/documents/status_counts", Some("other")).await;
    assert_eq!(reply.status, 503, "{}", reply.text);
    assert!(reply.headers.get("retry-after").is_some());
    assert_eq!(asking.await.unwrap(), 200);
}

/// A guest that runs out of memory traps: that request gets a 500 with an error id,
/// the instance is discarded without finalize, and the next request re-opens the
/// workspace from disk with its data intact.
#[tokio::test(flavor = "multi_thread")]
async fn an_out_of_memory_trap_costs_one_request_and_the_workspace_recovers() {
    let mock = MockLlm::start(32).await;
    let mut env = pairs(mock.env());
    env.push(("LIGHTRAG_WORKSPACE_MEMORY_MB", "24"));
    let server = Server::start(&env);
    server
        .insert(
            Some("fragile"),
            "kept.txt",
            "This small document survives the crash: quokka.",
        )
        .await;
    server.wait_idle(Some("fragile")).await;

    let huge = "word ".repeat(6 * 1024 * 1024);
    let reply = server
        .post(
            "/documents/text",
            Some("fragile"),
            json!({"text": huge, "file_source": "huge.txt"}),
        )
        .await;
    assert_eq!(reply.status, 500, "{}", reply.text);
    assert!(
        reply.json()["detail"]
            .as_str()
            .unwrap()
            .contains("error_id")
    );
    assert_eq!(server.metric("lightrag_pool_traps_total").await, 1);
    // Another tenant is unaffected, and the faulty one re-opens from disk.
    assert_eq!(
        server
            .get("/documents/status_counts", Some("neighbour"))
            .await
            .status,
        200
    );
    let counts = server.counts(Some("fragile")).await;
    assert_eq!(counts["processed"], 1);
    assert_eq!(counts["all"], 1);
    assert!(
        server
            .context(Some("fragile"), "What survives the crash?")
            .await
            .contains("quokka")
    );
    assert_eq!(server.metric("lightrag_pool_finalize_total").await, 0);
}
