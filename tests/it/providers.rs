//! Model providers through the server: each binding's protocol, retries, timeouts,
//! fair sharing between tenants, usage accounting.

use crate::harness::{Server, pairs};
use crate::mock_llm::{MockLlm, purpose_of};
use serde_json::json;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

fn base_of(mock: &MockLlm) -> String {
    let host = mock
        .env()
        .iter()
        .find(|(k, _)| k == "LLM_BINDING_HOST")
        .unwrap()
        .1
        .clone();
    host.trim_end_matches("/v1").to_string()
}

async fn ingest_and_ask(server: &Server) -> serde_json::Value {
    server
        .insert(
            Some("p"),
            "owls.txt",
            "Snowy Owls hunt lemmings in Greenland.",
        )
        .await;
    let counts = server.wait_idle(Some("p")).await;
    assert_eq!(counts["processed"], 1, "{counts}");
    assert_eq!(
        server
            .get("/graph/entity/exists?name=Snowy%20Owls", Some("p"))
            .await
            .json()["exists"],
        true
    );
    let reply = server
        .post(
            "/query",
            Some("p"),
            json!({"query": "What do Snowy Owls hunt?", "mode": "hybrid", "stream": false}),
        )
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    reply.json()
}

#[tokio::test(flavor = "multi_thread")]
async fn the_ollama_binding_speaks_ollamas_native_api() {
    let mock = MockLlm::start(32).await;
    let base = base_of(&mock);
    let server = Server::start(&[
        ("LLM_BINDING", "ollama"),
        ("LLM_BINDING_HOST", &base),
        ("LLM_MODEL", "qwen2"),
        ("EMBEDDING_BINDING", "ollama"),
        ("EMBEDDING_BINDING_HOST", &base),
        ("EMBEDDING_DIM", "32"),
        ("OLLAMA_LLM_NUM_CTX", "8192"),
    ]);
    let answer = ingest_and_ask(&server).await;
    assert!(
        answer["response"]
            .as_str()
            .unwrap()
            .starts_with("MOCK ANSWER"),
        "{answer}"
    );
    let log = mock.state.log();
    assert!(log.iter().any(|l| l.path == "/api/embed"));
    assert!(
        log.iter()
            .filter(|l| l.kind == "chat")
            .all(|l| l.path == "/api/chat")
    );
    // Streaming over NDJSON.
    let reply = server
        .post(
            "/query/stream",
            Some("p"),
            json!({"query": "Where do Snowy Owls hunt?", "mode": "naive"}),
        )
        .await;
    let text: String = reply
        .text
        .lines()
        .skip(1)
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).unwrap()["response"]
                .as_str()
                .unwrap_or("")
                .to_string()
        })
        .collect();
    assert!(
        text.starts_with("MOCK ANSWER to: Where do Snowy Owls hunt?"),
        "{text}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_azure_binding_uses_deployments_api_version_and_api_key() {
    let mock = MockLlm::start(32).await;
    let base = base_of(&mock);
    let server = Server::start(&[
        ("LLM_BINDING", "azure_openai"),
        ("AZURE_OPENAI_ENDPOINT", &base),
        ("AZURE_OPENAI_DEPLOYMENT", "gpt-dep"),
        ("AZURE_OPENAI_API_KEY", "azure-secret"),
        ("AZURE_OPENAI_API_VERSION", "2024-10-21"),
        ("EMBEDDING_BINDING", "azure_openai"),
        ("AZURE_EMBEDDING_DEPLOYMENT", "emb-dep"),
        ("EMBEDDING_DIM", "32"),
    ]);
    ingest_and_ask(&server).await;
    let log = mock.state.log();
    assert!(
        log.iter().any(
            |l| l.path == "/openai/deployments/gpt-dep/chat/completions?api-version=2024-10-21"
        ),
        "{:?}",
        log.iter().map(|l| &l.path).collect::<Vec<_>>()
    );
    assert!(log.iter().any(|l| {
        l.path
            .starts_with("/openai/deployments/emb-dep/embeddings?api-version=")
    }));
    assert!(
        log.iter()
            .all(|l| l.authorization.as_deref() == Some("azure-secret"))
    );
    assert!(
        !server.log().contains("azure-secret"),
        "the key leaked into the log"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn rate_limits_are_retried_and_client_errors_are_not() {
    let mock = MockLlm::start(32).await;
    let server = Server::start(&pairs(mock.env()));
    mock.state.fail_status.store(429, Ordering::Relaxed);
    mock.state.fail_completions.store(1, Ordering::Relaxed);
    let reply = server
        .post(
            "/query",
            Some("p"),
            json!({"query": "Hello there", "mode": "bypass"}),
        )
        .await;
    assert_eq!(reply.json()["response"], "MOCK REPLY to: Hello there");
    assert_eq!(mock.state.chats(), 2, "one 429, then success");

    mock.state.fail_status.store(400, Ordering::Relaxed);
    mock.state.fail_completions.store(1, Ordering::Relaxed);
    let reply = server
        .post(
            "/query",
            Some("p"),
            json!({"query": "Hello again", "mode": "bypass"}),
        )
        .await;
    assert_eq!(
        reply.json()["response"],
        "No relevant context found for the query."
    );
    assert_eq!(mock.state.chats(), 3, "a 400 is not retried");

    mock.state.fail_status.store(503, Ordering::Relaxed);
    mock.state.fail_completions.store(10, Ordering::Relaxed);
    server
        .insert(Some("p"), "down.txt", "Nobody Home lives nowhere.")
        .await;
    let counts = server.wait_idle(Some("p")).await;
    assert_eq!(counts["failed"], 1);
    let page = server
        .post("/documents/paginated", Some("p"), json!({}))
        .await
        .json();
    let message = page["documents"][0]["error_msg"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        message.contains("503") && message.contains("3 attempts"),
        "{message}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_timeout_becomes_a_clear_failed_status() {
    let mock = MockLlm::start(32).await;
    mock.state.latency_ms.store(3000, Ordering::Relaxed);
    let mut env = pairs(mock.env());
    env.push(("TIMEOUT", "1"));
    env.push(("LIGHTRAG_MODEL_RETRY_ATTEMPTS", "1"));
    let server = Server::start(&env);
    server
        .insert(Some("p"), "slow.txt", "Sleepy Sloths rest in Brazil.")
        .await;
    let counts = server.wait_idle(Some("p")).await;
    assert_eq!(counts["failed"], 1);
    let page = server
        .post("/documents/paginated", Some("p"), json!({}))
        .await
        .json();
    let message = page["documents"][0]["error_msg"]
        .as_str()
        .unwrap()
        .to_ascii_lowercase();
    assert!(
        message.contains("timeout") || message.contains("in time"),
        "{message}"
    );
}

/// Tenant A queues a long ingestion; tenant B's query is served at the next free
/// slot, not after A's backlog.
#[tokio::test(flavor = "multi_thread")]
async fn a_bulk_ingestion_does_not_starve_another_tenants_queries() {
    let mock = MockLlm::start(32).await;
    mock.state.latency_ms.store(100, Ordering::Relaxed);
    let mut env = pairs(mock.env());
    env.push(("MAX_ASYNC", "2"));
    env.push(("MAX_PARALLEL_INSERT", "20"));
    let server = Arc::new(Server::start(&env));
    let texts: Vec<String> = (0..20)
        .map(|i| format!("Ledger Item{i} belongs to Warehouse North."))
        .collect();
    let sources: Vec<String> = (0..20).map(|i| format!("item-{i}.txt")).collect();
    server
        .post(
            "/documents/texts",
            Some("bulk"),
            json!({"texts": texts, "file_sources": sources}),
        )
        .await;
    // Wait until A's backlog is queued behind the two slots.
    while mock.state.chats() < 4 {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let before = mock.state.log().iter().filter(|l| l.kind == "chat").count();
    let reply = server
        .post(
            "/query",
            Some("quick"),
            json!({"query": "Ping from tenant B", "mode": "bypass"}),
        )
        .await;
    assert_eq!(
        reply.json()["response"],
        "MOCK REPLY to: Ping from tenant B"
    );
    let chats: Vec<_> = mock
        .state
        .log()
        .into_iter()
        .filter(|l| l.kind == "chat")
        .collect();
    let position = chats
        .iter()
        .position(|l| l.messages.iter().any(|(_, c)| c == "Ping from tenant B"))
        .unwrap();
    // Only calls already holding a slot may go first.
    assert!(
        position <= before + 2,
        "B waited behind {} of A's calls",
        position - before
    );
    assert!(
        chats.len() < 40,
        "A's backlog had already drained; the test proves nothing"
    );
    server.wait_idle(Some("bulk")).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn usage_counters_add_up() {
    let mock = MockLlm::start(32).await;
    let mut env = pairs(mock.env());
    env.push(("LIGHTRAG_METRICS_WORKSPACES", "p"));
    let server = Server::start(&env);
    ingest_and_ask(&server).await;
    let metrics = server.get("/metrics", None).await.text;
    let value = |series: &str| -> u64 {
        metrics
            .lines()
            .find_map(|l| l.strip_prefix(series).map(|v| v.trim().parse().unwrap()))
            .unwrap_or_else(|| panic!("no {series} in\n{metrics}"))
    };
    let log = mock.state.log();
    let count = |purpose: &str| {
        log.iter()
            .filter(|l| l.kind == "chat" && purpose_of(&l.messages) == purpose)
            .count() as u64
    };
    assert_eq!(
        value("lightrag_model_calls_total{purpose=\"extract\"}"),
        count("extract")
    );
    assert_eq!(
        value("lightrag_model_calls_total{purpose=\"answer\"}"),
        count("answer")
    );
    assert_eq!(
        value("lightrag_model_calls_total{purpose=\"keywords\"}"),
        count("keywords")
    );
    // The mock reports 1 prompt token per completion.
    let completions = count("extract") + count("glean") + count("keywords") + count("answer");
    let prompt_tokens: u64 = ["extract", "glean", "keywords", "answer"]
        .iter()
        .map(|p| {
            value(&format!(
                "lightrag_model_prompt_tokens_total{{purpose=\"{p}\"}}"
            ))
        })
        .sum();
    assert_eq!(prompt_tokens, completions);
    assert_eq!(
        value("lightrag_model_calls_total{purpose=\"answer\",workspace=\"p\"}"),
        count("answer")
    );
    assert!(value("lightrag_model_calls_total{purpose=\"embed\"}") >= 2);
}

/// LightRAG's role-specific models: extraction, keywords and answers can each use
/// their own model.
#[tokio::test(flavor = "multi_thread")]
async fn each_role_uses_its_own_model() {
    let mock = MockLlm::start(32).await;
    let mut env = pairs(mock.env());
    env.push(("EXTRACT_LLM_MODEL", "extractor-model"));
    env.push(("QUERY_LLM_MODEL", "answer-model"));
    let server = Server::start(&env);
    ingest_and_ask(&server).await;
    for logged in mock.state.log().iter().filter(|l| l.kind == "chat") {
        let expected = match purpose_of(&logged.messages) {
            "extract" | "glean" | "summary" => "extractor-model",
            "answer" => "answer-model",
            _ => "mock-llm",
        };
        assert_eq!(logged.model, expected, "{}", purpose_of(&logged.messages));
    }
    let bad = Server::try_start_in(
        &tempfile::tempdir().unwrap().keep(),
        &[("QUERY_LLM_BINDING", "ollama")],
    );
    let log = bad
        .err()
        .expect("a role on another binding needs its model");
    assert!(log.contains("QUERY_LLM_MODEL"), "{log}");
}

/// A workspace whose vectors came from another embedding model refuses to open
/// rather than mix incomparable vectors.
#[tokio::test(flavor = "multi_thread")]
async fn a_different_embedding_model_is_refused_not_mixed() {
    let mock = MockLlm::start(32).await;
    let env = mock.env().to_vec();
    let server = Server::start(&pairs(&env));
    server
        .insert(Some("p"), "one.txt", "Quiet Lakes freeze in January.")
        .await;
    server.wait_idle(Some("p")).await;
    let root = server.root();
    let (status, _) = server.terminate();
    assert!(status.success());
    let mut changed = pairs(&env);
    changed.retain(|(k, _)| *k != "EMBEDDING_DIM" && *k != "EMBEDDING_MODEL");
    changed.push(("EMBEDDING_DIM", "48"));
    changed.push(("EMBEDDING_MODEL", "another-embedder"));
    let server = Server::start_in(&root, &changed);
    let reply = server.get("/documents/status_counts", Some("p")).await;
    assert_eq!(reply.status, 409, "{}", reply.text);
    let detail = reply.json()["detail"].as_str().unwrap().to_string();
    assert!(
        detail.contains("mock-embed") && detail.contains("another-embedder"),
        "{detail}"
    );
    // Other workspaces work with the new model.
    assert_eq!(
        server
            .get("/documents/status_counts", Some("fresh"))
            .await
            .status,
        200
    );
}

/// `{ROLE}_MAX_ASYNC_LLM` caps one role's calls in flight under the server-wide
/// `MAX_ASYNC`; without it the same ingestion runs several extractions at once.
#[tokio::test(flavor = "multi_thread")]
async fn a_role_cap_limits_that_roles_calls_in_flight() {
    let most_in_flight = async |extra: &[(&'static str, &'static str)]| -> usize {
        let mock = MockLlm::start(32).await;
        mock.state.latency_ms.store(100, Ordering::Relaxed);
        let mut env = pairs(mock.env());
        env.extend([("MAX_ASYNC", "8"), ("MAX_PARALLEL_INSERT", "6")]);
        env.extend_from_slice(extra);
        let server = Server::start(&env);
        let texts: Vec<String> = (0..6)
            .map(|i| format!("Crate Item{i} is stored in Depot South."))
            .collect();
        let sources: Vec<String> = (0..6).map(|i| format!("crate-{i}.txt")).collect();
        server
            .post(
                "/documents/texts",
                Some("capped"),
                json!({"texts": texts, "file_sources": sources}),
            )
            .await;
        let counts = server.wait_idle(Some("capped")).await;
        assert_eq!(counts["processed"], 6, "{counts}");
        mock.state.most_chats_in_flight.load(Ordering::SeqCst)
    };
    let uncapped = most_in_flight(&[]).await;
    assert!(uncapped > 1, "the ingestion never overlapped its calls");
    assert_eq!(most_in_flight(&[("EXTRACT_MAX_ASYNC_LLM", "1")]).await, 1);
}

/// `{ROLE}_LLM_TIMEOUT` applies to that role only: extraction times out while the
/// answering role, on the server-wide timeout, waits for the same slow model.
#[tokio::test(flavor = "multi_thread")]
async fn a_role_timeout_applies_to_that_role_only() {
    let mock = MockLlm::start(32).await;
    mock.state.latency_ms.store(1500, Ordering::Relaxed);
    let mut env = pairs(mock.env());
    env.extend([
        ("EXTRACT_LLM_TIMEOUT", "0.5"),
        ("LIGHTRAG_MODEL_RETRY_ATTEMPTS", "1"),
    ]);
    let server = Server::start(&env);
    server
        .insert(Some("p"), "slow.txt", "Sleepy Sloths rest in Brazil.")
        .await;
    let counts = server.wait_idle(Some("p")).await;
    assert_eq!(counts["failed"], 1, "{counts}");
    let reply = server
        .post(
            "/query",
            Some("p"),
            json!({"query": "Still there?", "mode": "bypass"}),
        )
        .await;
    assert_eq!(reply.json()["response"], "MOCK REPLY to: Still there?");
}
