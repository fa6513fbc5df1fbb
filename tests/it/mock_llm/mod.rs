//! A deterministic mock of an OpenAI-compatible server, listening on loopback.
//!
//! It speaks the real protocols — OpenAI (`/v1/chat/completions` with JSON or
//! server-sent events, `/v1/embeddings` with float or base64 vectors), Ollama
//! (`/api/chat` with NDJSON streaming, `/api/embed`) and Azure OpenAI
//! (`/openai/deployments/<name>/…?api-version=…` with an `api-key` header) — so the
//! server's real HTTP clients are exercised. Answers are derived from the request, so tests can assert on
//! what the model was shown:
//!
//! * an extraction request (`---Input Text---`) gets LightRAG records: every run of
//!   capitalised words is an entity described by its first sentence, and every two
//!   entities in one sentence are related, described by that sentence;
//! * a gleaning pass gets `<|COMPLETE|>` (or [`MockState::glean_answer`]);
//! * a summary request (`Description List:`) gets `SUMMARY(<n>): <first fragment>`;
//! * an answer request (system prompt with a `---Context---` section) gets
//!   `MOCK ANSWER to: <query>` followed by the context it was given;
//! * anything else gets `MOCK REPLY to: <last user message>`.
//!
//! Embeddings are a hashed bag of words plus a constant bias component, so that
//! texts sharing words are similar and every pair clears LightRAG's default cosine
//! threshold, as real models' vectors do.

pub mod answers;
mod state;

// Public at `mock_llm::…` as before the split; each test or bench crate uses a subset.
#[allow(unused_imports)]
pub use answers::{answer_for, capitalised_runs, embed, extraction_for, keywords_for, purpose_of};
pub use state::{Logged, MockState};

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use base64::Engine as _;
use serde_json::{Value, json};
use state::sleep_ms;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

/// A running mock.
pub struct MockLlm {
    pub state: Arc<MockState>,
    env: Vec<(String, String)>,
}

impl MockLlm {
    /// Starts a mock producing `dim`-dimensional embeddings.
    pub async fn start(dim: usize) -> MockLlm {
        let state = Arc::new(MockState::default());
        state.dim.store(dim, Ordering::Relaxed);
        let app = Router::new()
            .route("/v1/chat/completions", post(chat))
            .route("/v1/embeddings", post(embeddings))
            .route(
                "/openai/deployments/{deployment}/chat/completions",
                post(chat),
            )
            .route(
                "/openai/deployments/{deployment}/embeddings",
                post(embeddings),
            )
            .route("/v1/rerank", post(rerank))
            .route("/api/chat", post(ollama_chat))
            .route("/api/embed", post(ollama_embed))
            .with_state(state.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        let env = mock_env(&base, dim);
        MockLlm { state, env }
    }

    /// Server environment pointing at this mock.
    pub fn env(&self) -> &[(String, String)] {
        &self.env
    }
}

/// Environment that points a server at a mock on `base`.
pub fn mock_env(base: &str, dim: usize) -> Vec<(String, String)> {
    [
        ("LLM_BINDING", "openai".to_string()),
        ("LLM_BINDING_HOST", format!("{base}/v1")),
        ("LLM_MODEL", "mock-llm".to_string()),
        ("LLM_BINDING_API_KEY", "sk-test-secret-key".to_string()),
        ("EMBEDDING_BINDING", "openai".to_string()),
        ("EMBEDDING_MODEL", "mock-embed".to_string()),
        ("EMBEDDING_DIM", dim.to_string()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect()
}

/// Counts a request in flight until dropped — also when its client goes away and
/// the handler is dropped half-way.
struct InFlight<'a> {
    counter: &'a AtomicUsize,
    now: usize,
}

impl<'a> InFlight<'a> {
    fn enter(counter: &'a AtomicUsize) -> InFlight<'a> {
        let now = counter.fetch_add(1, Ordering::SeqCst) + 1;
        InFlight { counter, now }
    }
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.counter.fetch_sub(1, Ordering::SeqCst);
    }
}

fn authorization(headers: &HeaderMap) -> Option<String> {
    headers
        .get("authorization")
        .or_else(|| headers.get("api-key"))
        .map(|v| v.to_str().unwrap_or_default().to_string())
}

/// An injected failure, if one is due.
fn injected_failure(state: &MockState) -> Option<Response> {
    state
        .fail_completions
        .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| n.checked_sub(1))
        .ok()?;
    let status = match state.fail_status.load(Ordering::Relaxed) {
        0 => 500,
        s => s,
    };
    let mut response = (
        StatusCode::from_u16(status).unwrap(),
        axum::Json(json!({"error": {"message": "mock failure", "type": "server_error"}})),
    )
        .into_response();
    if status == 429 {
        let after = state
            .retry_after
            .lock()
            .unwrap()
            .clone()
            .unwrap_or_else(|| "1".into());
        response
            .headers_mut()
            .insert("retry-after", after.parse().unwrap());
    }
    Some(response)
}

fn messages_of(body: &Value) -> Vec<(String, String)> {
    body["messages"]
        .as_array()
        .map(|items| {
            items
                .iter()
                .map(|m| {
                    (
                        m["role"].as_str().unwrap_or("").to_string(),
                        m["content"].as_str().unwrap_or("").to_string(),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

/// What both chat protocols do before answering: log the request, wait out the
/// latency (counting the chats in flight), then fail if a failure is due, else answer.
async fn receive_chat(
    state: &MockState,
    uri: &axum::http::Uri,
    headers: &HeaderMap,
    body: &Value,
    stream: bool,
) -> Result<String, Response> {
    let messages = messages_of(body);
    state.log.lock().unwrap().push(Logged {
        kind: "chat",
        messages: messages.clone(),
        stream,
        authorization: authorization(headers),
        path: uri.to_string(),
        model: body["model"].as_str().unwrap_or_default().to_string(),
    });
    {
        let in_flight = InFlight::enter(&state.chats_in_flight);
        state
            .most_chats_in_flight
            .fetch_max(in_flight.now, Ordering::SeqCst);
        sleep_ms(state.latency_ms.load(Ordering::Relaxed)).await;
        if let Some(failure) = state.chaos().await {
            return Err(failure);
        }
    }
    match injected_failure(state) {
        Some(failure) => Err(failure),
        None => Ok(answer_for(state, &messages)),
    }
}

/// Ollama's `/api/chat`: JSON, or NDJSON lines when streaming (Ollama's default).
async fn ollama_chat(
    State(state): State<Arc<MockState>>,
    uri: axum::http::Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let stream = body["stream"].as_bool().unwrap_or(true);
    let text = match receive_chat(&state, &uri, &headers, &body, stream).await {
        Ok(text) => text,
        Err(failure) => return failure,
    };
    if !stream {
        return axum::Json(
            json!({"model": body["model"], "message": {"role": "assistant", "content": text},
            "done": true, "prompt_eval_count": 3, "eval_count": 5}),
        )
        .into_response();
    }
    let mut lines = String::new();
    for piece in text.split_inclusive(' ') {
        lines.push_str(&json!({"model": body["model"], "message": {"role": "assistant", "content": piece}, "done": false}).to_string());
        lines.push('\n');
    }
    lines.push_str(&json!({"model": body["model"], "message": {"role": "assistant", "content": ""}, "done": true,
        "prompt_eval_count": 3, "eval_count": 5}).to_string());
    lines.push('\n');
    Response::builder()
        .header("content-type", "application/x-ndjson")
        .body(Body::from(lines))
        .unwrap()
}

/// A Cohere-style reranker: a document's score is the share of the query's words
/// (four letters or more) it contains.
async fn rerank(
    State(state): State<Arc<MockState>>,
    uri: axum::http::Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let query = body["query"].as_str().unwrap_or("").to_lowercase();
    let documents: Vec<String> = body["documents"]
        .as_array()
        .map(|items| {
            items
                .iter()
                .map(|v| v.as_str().unwrap_or("").to_string())
                .collect()
        })
        .unwrap_or_default();
    state.log.lock().unwrap().push(Logged {
        kind: "rerank",
        messages: documents
            .iter()
            .map(|d| ("document".to_string(), d.clone()))
            .collect(),
        stream: false,
        authorization: authorization(&headers),
        path: uri.to_string(),
        model: body["model"].as_str().unwrap_or_default().to_string(),
    });
    let words: Vec<&str> = query
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| w.len() >= 4)
        .collect();
    let results: Vec<Value> = documents
        .iter()
        .enumerate()
        .map(|(index, doc)| {
            let doc = doc.to_lowercase();
            let hits = words.iter().filter(|w| doc.contains(*w)).count();
            let score = if words.is_empty() {
                0.0
            } else {
                hits as f64 / words.len() as f64
            };
            json!({"index": index, "relevance_score": score})
        })
        .collect();
    axum::Json(json!({"results": results})).into_response()
}

/// Ollama's `/api/embed`.
async fn ollama_embed(
    State(state): State<Arc<MockState>>,
    uri: axum::http::Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let inputs: Vec<String> = body["input"]
        .as_array()
        .map(|items| {
            items
                .iter()
                .map(|v| v.as_str().unwrap_or("").to_string())
                .collect()
        })
        .unwrap_or_default();
    state.log.lock().unwrap().push(Logged {
        kind: "embed",
        messages: inputs
            .iter()
            .map(|t| ("input".to_string(), t.clone()))
            .collect(),
        stream: false,
        authorization: authorization(&headers),
        path: uri.to_string(),
        model: body["model"].as_str().unwrap_or_default().to_string(),
    });
    let dim = state.dim.load(Ordering::Relaxed);
    let vectors: Vec<Vec<f32>> = inputs.iter().map(|t| embed(t, dim)).collect();
    axum::Json(json!({"model": body["model"], "embeddings": vectors})).into_response()
}

async fn chat(
    State(state): State<Arc<MockState>>,
    uri: axum::http::Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let stream = body["stream"].as_bool().unwrap_or(false);
    let text = match receive_chat(&state, &uri, &headers, &body, stream).await {
        Ok(text) => text,
        Err(failure) => return failure,
    };
    if !stream {
        return axum::Json(json!({
            "id": "chatcmpl-mock",
            "object": "chat.completion",
            "model": body["model"],
            "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
        }))
        .into_response();
    }
    let pieces: Vec<String> = text
        .split_inclusive(' ')
        .collect::<Vec<_>>()
        .chunks(4)
        .map(|c| c.concat())
        .collect();
    let chunk_ms = state.chunk_ms.load(Ordering::Relaxed);
    let break_after = state.break_stream_after.load(Ordering::Relaxed);
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<Bytes, std::io::Error>>(16);
    tokio::spawn(async move {
        for (i, piece) in pieces.iter().enumerate() {
            if break_after > 0 && i == break_after {
                return;
            }
            let event = json!({"id": "chatcmpl-mock", "object": "chat.completion.chunk",
                "choices": [{"index": 0, "delta": {"content": piece}, "finish_reason": null}]});
            if tx
                .send(Ok(Bytes::from(format!("data: {event}\n\n"))))
                .await
                .is_err()
            {
                return;
            }
            sleep_ms(chunk_ms).await;
        }
        let _ = tx.send(Ok(Bytes::from("data: [DONE]\n\n"))).await;
    });
    Response::builder()
        .header("content-type", "text/event-stream")
        .body(Body::from_stream(
            tokio_stream::wrappers::ReceiverStream::new(rx),
        ))
        .unwrap()
}

async fn embeddings(
    State(state): State<Arc<MockState>>,
    uri: axum::http::Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let inputs: Vec<String> = match &body["input"] {
        Value::String(s) => vec![s.clone()],
        Value::Array(items) => items
            .iter()
            .map(|v| v.as_str().unwrap_or("").to_string())
            .collect(),
        _ => Vec::new(),
    };
    state.log.lock().unwrap().push(Logged {
        kind: "embed",
        messages: inputs
            .iter()
            .map(|t| ("input".to_string(), t.clone()))
            .collect(),
        stream: false,
        authorization: authorization(&headers),
        path: uri.to_string(),
        model: body["model"].as_str().unwrap_or_default().to_string(),
    });
    {
        let _in_flight = InFlight::enter(&state.embeds_in_flight);
        let slow = state.slow_embed.lock().unwrap().clone();
        let extra = slow
            .filter(|(marker, _)| inputs.iter().any(|t| t.contains(marker.as_str())))
            .map_or(0, |(_, ms)| ms);
        sleep_ms(state.embed_latency_ms.load(Ordering::Relaxed) + extra).await;
        if let Some(failure) = state.chaos().await {
            return failure;
        }
    }
    let dim = state.dim.load(Ordering::Relaxed);
    let base64 = body["encoding_format"].as_str() == Some("base64");
    let data: Vec<Value> = inputs
        .iter()
        .enumerate()
        .map(|(index, text)| {
            let vector = embed(text, dim);
            let embedding = if base64 {
                let bytes: Vec<u8> = vector.iter().flat_map(|f| f.to_le_bytes()).collect();
                json!(base64::engine::general_purpose::STANDARD.encode(bytes))
            } else {
                json!(vector)
            };
            json!({"object": "embedding", "index": index, "embedding": embedding})
        })
        .collect();
    axum::Json(
        json!({"object": "list", "data": data, "model": body["model"],
        "usage": {"prompt_tokens": 1, "total_tokens": 1}}),
    )
    .into_response()
}
