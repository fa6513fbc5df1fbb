//! `/query` and `/query/stream`: naive retrieval, bypass, caching, streaming, failures.

use crate::harness::{Server, pairs};
use crate::mock_llm::MockLlm;
use futures::StreamExt;
use serde_json::{Value, json};
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

async fn seeded(mock: &MockLlm, extra: &[(&str, &str)]) -> Server {
    let mut env = pairs(mock.env());
    env.extend_from_slice(extra);
    let server = Server::start(&env);
    server
        .insert(
            Some("q"),
            "volcano.txt",
            "Mount Etna is an active volcano on the island of Sicily.",
        )
        .await;
    server
        .insert(
            Some("q"),
            "glacier.txt",
            "The Aletsch Glacier is the largest glacier in the Alps.",
        )
        .await;
    server.wait_idle(Some("q")).await;
    server
}

#[tokio::test(flavor = "multi_thread")]
async fn naive_query_answers_from_retrieved_chunks_with_references() {
    let mock = MockLlm::start(64).await;
    let server = seeded(&mock, &[]).await;
    let reply = server
        .post(
            "/query",
            Some("q"),
            json!({"query": "Which volcano is on Sicily?", "mode": "naive"}),
        )
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert_eq!(reply.workspace().as_deref(), Some("q"));
    let body = reply.json();
    let answer = body["response"].as_str().unwrap();
    assert!(
        answer.starts_with("MOCK ANSWER to: Which volcano is on Sicily?"),
        "{answer}"
    );
    // The model saw the best chunk first, as JSON lines with reference ids.
    let first_chunk = answer.find("Mount Etna").unwrap();
    let second_chunk = answer.find("Aletsch").unwrap_or(usize::MAX);
    assert!(first_chunk < second_chunk);
    assert!(
        answer.contains(r#"{"reference_id": "1", "content": "Mount Etna"#),
        "{answer}"
    );
    assert_eq!(body["llm_generated"], true);
    assert!(body["response_time"].is_number());
    let refs = body["references"].as_array().unwrap();
    assert_eq!(
        refs[0],
        json!({"reference_id": "1", "file_path": "volcano.txt"})
    );
    // The API key reached the model server, as a bearer token.
    let log = mock.state.log();
    assert!(
        log.iter()
            .all(|l| l.authorization.as_deref() == Some("Bearer sk-test-secret-key"))
    );

    let without = server
        .post("/query", Some("q"), json!({"query": "Which volcano is on Sicily?", "mode": "naive", "include_references": false, "include_chunk_content": true}))
        .await
        .json();
    assert!(without["references"].is_null());
    let with_content = server
        .post("/query", Some("q"), json!({"query": "Which glacier is in the Alps?", "mode": "naive", "include_chunk_content": true, "chunk_top_k": 1}))
        .await
        .json();
    assert_eq!(with_content["references"][0]["file_path"], "glacier.txt");
    assert!(
        with_content["references"][0]["content"][0]
            .as_str()
            .unwrap()
            .contains("Aletsch")
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn only_need_context_and_prompt_return_what_they_say_without_the_model() {
    let mock = MockLlm::start(64).await;
    let server = seeded(&mock, &[]).await;
    let chats = mock.state.chats();
    let context = server
        .post("/query", Some("q"), json!({"query": "Tell me about the glacier", "mode": "naive", "only_need_context": true}))
        .await
        .json();
    let text = context["response"].as_str().unwrap();
    assert!(
        text.contains("Document Chunks") && text.contains("[1] glacier.txt"),
        "{text}"
    );
    assert_eq!(context["llm_generated"], false);
    let prompt = server
        .post("/query", Some("q"), json!({"query": "Tell me about the glacier", "mode": "naive", "only_need_prompt": true, "response_type": "Single Line", "user_prompt": "Answer in French."}))
        .await
        .json();
    let text = prompt["response"].as_str().unwrap();
    assert!(
        text.contains("---Role---")
            && text.contains("Single Line")
            && text.contains("Answer in French.")
    );
    assert!(
        text.ends_with("\n\n---User Query---\n\nTell me about the glacier"),
        "{text}"
    );
    assert_eq!(
        mock.state.chats(),
        chats,
        "no model call for context or prompt"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_context_respects_the_token_budget_and_chunk_top_k() {
    let mock = MockLlm::start(64).await;
    let server = seeded(&mock, &[]).await;
    let one = server
        .post("/query", Some("q"), json!({"query": "volcano glacier", "mode": "naive", "only_need_context": true, "chunk_top_k": 1}))
        .await
        .json();
    let text = one["response"].as_str().unwrap();
    assert_eq!(text.matches("\"reference_id\"").count(), 1, "{text}");
    // A total budget that leaves room for no chunk at all finds nothing.
    let none = server
        .post("/query", Some("q"), json!({"query": "volcano glacier", "mode": "naive", "only_need_context": true, "max_total_tokens": 300}))
        .await
        .json();
    assert!(
        none["response"].as_str().unwrap().contains("[no-context]"),
        "{none}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn identical_queries_hit_the_answer_cache_and_conversations_bypass_it() {
    let mock = MockLlm::start(64).await;
    let server = seeded(&mock, &[]).await;
    let ask = json!({"query": "Which volcano is on Sicily?", "mode": "naive"});
    let first = server.post("/query", Some("q"), ask.clone()).await.json();
    let chats = mock.state.chats();
    let second = server.post("/query", Some("q"), ask.clone()).await.json();
    assert_eq!(
        mock.state.chats(),
        chats,
        "the second answer came from the cache"
    );
    assert_eq!(first["response"], second["response"]);
    assert_eq!(second["llm_generated"], false);
    // Different parameters never share an entry.
    server
        .post("/query", Some("q"), json!({"query": "Which volcano is on Sicily?", "mode": "naive", "response_type": "Bullet Points"}))
        .await;
    assert_eq!(mock.state.chats(), chats + 1);
    // With a conversation history the cache is neither read nor written.
    let with_history = json!({"query": "Which volcano is on Sicily?", "mode": "naive",
        "conversation_history": [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello"}]});
    server.post("/query", Some("q"), with_history.clone()).await;
    server.post("/query", Some("q"), with_history).await;
    assert_eq!(mock.state.chats(), chats + 3);
    let last = mock
        .state
        .log()
        .into_iter()
        .rev()
        .find(|l| l.kind == "chat")
        .unwrap();
    let roles: Vec<&str> = last.messages.iter().map(|(r, _)| r.as_str()).collect();
    assert_eq!(roles, ["system", "user", "assistant", "user"]);
    // Clearing the cache makes the model answer again.
    let reply = server
        .post("/documents/clear_cache", Some("q"), json!({}))
        .await;
    assert_eq!(reply.json()["status"], "success");
    server.post("/query", Some("q"), ask).await;
    assert_eq!(mock.state.chats(), chats + 4);
}

#[tokio::test(flavor = "multi_thread")]
async fn bypass_sends_the_conversation_straight_to_the_model() {
    let mock = MockLlm::start(64).await;
    let server = Server::start(&pairs(mock.env()));
    let reply = server
        .post("/query", Some("empty"), json!({"query": "Hi there", "mode": "bypass",
            "conversation_history": [{"role": "user", "content": "Earlier"}, {"role": "assistant", "content": "Reply"}]}))
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert_eq!(reply.json()["response"], "MOCK REPLY to: Hi there");
    let last = mock
        .state
        .log()
        .into_iter()
        .rev()
        .find(|l| l.kind == "chat")
        .unwrap();
    assert_eq!(last.messages.len(), 3);
    assert_eq!(
        last.messages[0],
        ("user".to_string(), "Earlier".to_string())
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn query_validation_matches_lightrag() {
    let mock = MockLlm::start(64).await;
    let server = Server::start(&pairs(mock.env()));
    let cases = [
        (json!({"mode": "naive"}), 422),
        (json!({"query": "   ", "mode": "naive"}), 422),
        // LightRAG's model wants at least 3 characters.
        (json!({"query": "AI", "mode": "naive"}), 422),
        (
            json!({"query": "What is this about?", "mode": "sideways"}),
            422,
        ),
        (
            json!({"query": "What is this about?", "mode": "naive", "top_k": 0}),
            422,
        ),
    ];
    for (body, status) in cases {
        let reply = server.post("/query", Some("v"), body.clone()).await;
        assert_eq!(reply.status, status, "{body}: {}", reply.text);
    }
    // An empty workspace has no context: LightRAG's fixed reply, not an error.
    let reply = server
        .post(
            "/query",
            Some("v"),
            json!({"query": "What is this about?", "mode": "naive"}),
        )
        .await;
    assert_eq!(
        reply.json()["response"],
        "Sorry, I'm not able to provide an answer to that question.[no-context]"
    );
    assert_eq!(reply.json()["llm_generated"], false);
}

async fn stream_lines(
    server: &Server,
    body: Value,
) -> (Vec<(Instant, Value)>, reqwest::StatusCode, String) {
    let response = reqwest::Client::new()
        .post(format!("{}/query/stream", server.base))
        .header("LIGHTRAG-WORKSPACE", "q")
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = response.status();
    let content_type = response
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default();
    let mut lines = Vec::new();
    let mut buffer = Vec::new();
    let mut stream = response.bytes_stream();
    while let Some(piece) = stream.next().await {
        buffer.extend_from_slice(&piece.unwrap());
        while let Some(end) = buffer.iter().position(|&b| b == b'\n') {
            let line: Vec<u8> = buffer.drain(..=end).collect();
            lines.push((Instant::now(), serde_json::from_slice(&line).unwrap()));
        }
    }
    assert!(buffer.is_empty(), "a line without newline");
    (lines, status, content_type)
}

#[tokio::test(flavor = "multi_thread")]
async fn the_stream_sends_references_first_and_pieces_as_they_arrive() {
    let mock = MockLlm::start(64).await;
    let server = seeded(&mock, &[]).await;
    mock.state.chunk_ms.store(150, Ordering::Relaxed);
    let started = Instant::now();
    let (lines, status, content_type) = stream_lines(
        &server,
        json!({"query": "Which glacier is the largest in the Alps?", "mode": "naive"}),
    )
    .await;
    let finished = Instant::now();
    assert_eq!(status, 200);
    assert_eq!(content_type, "application/x-ndjson");
    assert_eq!(lines[0].1["references"][0]["file_path"], "glacier.txt");
    let pieces: Vec<&str> = lines[1..]
        .iter()
        .map(|(_, l)| l["response"].as_str().unwrap())
        .collect();
    assert!(pieces.len() > 3);
    assert!(pieces.concat().starts_with("MOCK ANSWER to: Which glacier"));
    // The first piece arrived well before the model finished (pieces are 150 ms apart).
    assert!(
        lines[1].0 + Duration::from_millis(300) < finished,
        "nothing was streamed early"
    );
    assert!(started < lines[1].0);
    let answer_call = mock
        .state
        .log()
        .into_iter()
        .rev()
        .find(|l| l.kind == "chat")
        .unwrap();
    assert!(
        answer_call.stream,
        "the answer was not requested as a stream"
    );
    // The streamed answer was cached: asking again gives one complete line.
    let (again, _, _) = stream_lines(
        &server,
        json!({"query": "Which glacier is the largest in the Alps?", "mode": "naive"}),
    )
    .await;
    assert_eq!(again.len(), 1);
    assert_eq!(again[0].1["response"].as_str().unwrap(), pieces.concat());
    assert_eq!(again[0].1["llm_generated"], false);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_model_failing_mid_stream_yields_an_error_line_not_a_hang() {
    let mock = MockLlm::start(64).await;
    let server = seeded(&mock, &[]).await;
    mock.state.break_stream_after.store(2, Ordering::Relaxed);
    let (lines, status, _) = tokio::time::timeout(
        Duration::from_secs(30),
        stream_lines(
            &server,
            json!({"query": "Which volcano is on Sicily?", "mode": "naive"}),
        ),
    )
    .await
    .expect("the stream hung");
    assert_eq!(status, 200);
    assert!(lines[0].1.get("references").is_some());
    assert_eq!(lines.len(), 4, "{lines:?}");
    assert!(
        lines[3].1["error"]
            .as_str()
            .unwrap()
            .contains("language model"),
        "{:?}",
        lines[3]
    );
    // A model that fails before streaming: /query answers LightRAG's fixed text.
    mock.state.break_stream_after.store(0, Ordering::Relaxed);
    mock.state.fail_completions.store(3, Ordering::Relaxed);
    let reply = server
        .post(
            "/query",
            Some("q"),
            json!({"query": "A different question about Sicily", "mode": "naive"}),
        )
        .await;
    assert_eq!(reply.status, 200);
    assert_eq!(
        reply.json()["response"],
        "No relevant context found for the query."
    );
}

/// With a slow model, a query to a workspace that is busy ingesting is answered
/// while the ingestion is still running: the instance lock is held only while the
/// guest computes, never while a model call is in flight.
#[tokio::test(flavor = "multi_thread")]
async fn a_query_is_not_blocked_by_its_own_workspace_ingesting() {
    let mock = MockLlm::start(64).await;
    let server = seeded(&mock, &[("MAX_PARALLEL_INSERT", "1")]).await;
    mock.state.latency_ms.store(300, Ordering::Relaxed);
    mock.state.embed_latency_ms.store(300, Ordering::Relaxed);
    let texts: Vec<String> = (0..10)
        .map(|i| format!("Backlog item {i} concerns the harbour cranes."))
        .collect();
    let sources: Vec<String> = (0..10).map(|i| format!("backlog-{i}.txt")).collect();
    server
        .post(
            "/documents/texts",
            Some("q"),
            json!({"texts": texts, "file_sources": sources}),
        )
        .await;
    // Ten documents, one at a time, 300 ms each: about three seconds of ingestion.
    tokio::time::sleep(Duration::from_millis(100)).await;
    let reply = server
        .post(
            "/query",
            Some("q"),
            json!({"query": "Which volcano is on Sicily?", "mode": "naive"}),
        )
        .await;
    assert_eq!(reply.status, 200);
    assert!(
        reply.json()["response"]
            .as_str()
            .unwrap()
            .contains("Mount Etna")
    );
    let counts = server.counts(Some("q")).await;
    assert!(
        counts["pending"].as_u64().unwrap() + counts["processing"].as_u64().unwrap() > 0,
        "the query waited for the ingestion: {counts}"
    );
    let pipeline = server
        .get("/documents/pipeline_status", Some("q"))
        .await
        .json();
    assert_eq!(pipeline["busy"], true);
    server.wait_idle(Some("q")).await;
}
