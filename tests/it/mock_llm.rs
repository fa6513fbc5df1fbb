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

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use base64::Engine as _;
use serde_json::{Value, json};
use std::sync::atomic::{AtomicU32, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// One request the mock received.
#[derive(Clone, Debug)]
pub struct Logged {
    /// `chat` or `embed`.
    pub kind: &'static str,
    /// Chat messages as (role, content), or the texts to embed as ("input", text).
    pub messages: Vec<(String, String)>,
    /// Whether a chat asked to stream.
    pub stream: bool,
    /// The `Authorization` header (or Azure's `api-key`).
    pub authorization: Option<String>,
    /// The request path and query.
    pub path: String,
    /// The `model` field of the body.
    pub model: String,
}

/// Knobs and the request log.
#[derive(Default)]
pub struct MockState {
    /// Delay before answering a completion, in ms.
    pub latency_ms: AtomicU64,
    /// Delay before answering an embedding request, in ms.
    pub embed_latency_ms: AtomicU64,
    /// Delay between streamed pieces, in ms.
    pub chunk_ms: AtomicU64,
    /// The next this-many completions fail with HTTP `fail_status` (500 if unset).
    pub fail_completions: AtomicU32,
    /// Status of injected failures; 429 comes with `Retry-After: 1`.
    pub fail_status: std::sync::atomic::AtomicU16,
    /// When nonzero, streams break off (no `[DONE]`) after this many pieces.
    pub break_stream_after: AtomicUsize,
    /// Vector dimension.
    pub dim: AtomicUsize,
    /// What gleaning passes answer (default: nothing more).
    pub glean_answer: Mutex<Option<String>>,
    /// Answers quote only the start of the context instead of echoing all of it:
    /// a few hundred bytes, like a real model's answer (and the shared bench's mock),
    /// for benchmarks. Tests keep the echo, which lets them see the context.
    pub short_answers: std::sync::atomic::AtomicBool,
    /// Chat completions waiting out their latency right now, and the most at once. A
    /// request whose client goes away stops counting.
    pub chats_in_flight: AtomicUsize,
    pub most_chats_in_flight: AtomicUsize,
    /// Embedding requests being answered right now.
    pub embeds_in_flight: AtomicUsize,
    /// Embedding requests with a text containing this marker wait this many ms more.
    pub slow_embed: Mutex<Option<(String, u64)>>,
    /// The `Retry-After` of injected 429s (default `1`).
    pub retry_after: Mutex<Option<String>>,
    /// Extraction answers for chunks containing this marker are padded to this many
    /// bytes: a model reply too large for the workspace's memory limit.
    pub bloated_extraction: Mutex<Option<(String, usize)>>,
    /// Chaos: this percentage of chat and embedding requests fail (half 500, half
    /// 429), and every one waits a random time up to `chaos_latency_ms`.
    pub chaos_percent: AtomicU32,
    pub chaos_latency_ms: AtomicU64,
    chaos_seed: AtomicU64,
    log: Mutex<Vec<Logged>>,
}

impl MockState {
    /// A random number below `n` (xorshift; the sequence depends on arrival order).
    fn random(&self, n: u64) -> u64 {
        let step = |mut x: u64| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        let previous = self
            .chaos_seed
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |x| {
                Some(step(if x == 0 { 0x2545_f491_4f6c_dd1d } else { x }))
            })
            .unwrap_or(1);
        step(if previous == 0 {
            0x2545_f491_4f6c_dd1d
        } else {
            previous
        }) % n.max(1)
    }

    /// Chaos for one request: a random wait, then maybe a failure.
    async fn chaos(&self) -> Option<Response> {
        let percent = self.chaos_percent.load(Ordering::Relaxed) as u64;
        let latency = self.chaos_latency_ms.load(Ordering::Relaxed);
        if latency > 0 {
            sleep_ms(self.random(latency + 1)).await;
        }
        if percent == 0 || self.random(100) >= percent {
            return None;
        }
        let (status, headers) = if self.random(2) == 0 {
            (StatusCode::INTERNAL_SERVER_ERROR, None)
        } else {
            (StatusCode::TOO_MANY_REQUESTS, Some("0"))
        };
        let mut response = (
            status,
            axum::Json(json!({"error": {"message": "chaos", "type": "server_error"}})),
        )
            .into_response();
        if let Some(after) = headers {
            response
                .headers_mut()
                .insert("retry-after", after.parse().unwrap());
        }
        Some(response)
    }

    /// Everything received so far.
    pub fn log(&self) -> Vec<Logged> {
        self.log.lock().unwrap().clone()
    }

    /// Number of chat completions received.
    pub fn chats(&self) -> usize {
        self.log().iter().filter(|l| l.kind == "chat").count()
    }
}

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

async fn sleep_ms(ms: u64) {
    if ms > 0 {
        tokio::time::sleep(Duration::from_millis(ms)).await;
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

/// Which kind of request a conversation is, by the markers of the engine's prompts.
pub fn purpose_of(messages: &[(String, String)]) -> &'static str {
    let last_user = messages
        .iter()
        .rev()
        .find(|(r, _)| r == "user")
        .map(|(_, c)| c.as_str())
        .unwrap_or("");
    if last_user.contains("---Input Text---") {
        "extract"
    } else if messages
        .iter()
        .any(|(r, c)| r == "user" && c.contains("---Input Text---"))
    {
        "glean"
    } else if last_user.contains("Description List:") {
        "summary"
    } else if last_user.contains("---Query---") && last_user.contains("high_level_keywords") {
        "keywords"
    } else if messages
        .iter()
        .any(|(r, c)| r == "system" && c.contains("---Context---"))
    {
        "answer"
    } else {
        "other"
    }
}

/// Words that start a sentence without being names.
const FUNCTION_WORDS: &[&str] = &[
    "The", "A", "An", "In", "On", "At", "During", "When", "After", "Before", "While", "It", "This",
    "That", "Its", "Their", "His", "Her", "And", "But", "Of", "With", "From", "By", "Who", "What",
    "Which", "Where", "How", "Why", "Tell", "Did", "Does", "Is", "Are", "Was",
];

/// Runs of capitalised words, in order of first appearance.
pub fn capitalised_runs(sentence: &str) -> Vec<String> {
    let mut runs: Vec<String> = Vec::new();
    let mut current: Vec<&str> = Vec::new();
    let words: Vec<&str> = sentence
        .split(|c: char| c.is_whitespace() || ",;:()\"".contains(c))
        .filter(|w| !w.is_empty())
        .collect();
    for word in words {
        let word = word
            .trim_end_matches(['.', '!', '?', '\''])
            .trim_end_matches("'s");
        let capital = word.chars().next().is_some_and(char::is_uppercase);
        if capital && !(current.is_empty() && FUNCTION_WORDS.contains(&word)) {
            current.push(word);
        } else if !current.is_empty() {
            runs.push(current.join(" "));
            current.clear();
        }
    }
    if !current.is_empty() {
        runs.push(current.join(" "));
    }
    let mut unique = Vec::new();
    for run in runs {
        if !unique.contains(&run) {
            unique.push(run);
        }
    }
    unique
}

fn entity_type(name: &str) -> &'static str {
    let last = name.rsplit(' ').next().unwrap_or("");
    match last {
        "Inc" | "Corp" | "Company" | "University" | "Institute" | "Agency" | "Trust"
        | "Society" | "Observatory" => "Organization",
        "City" | "River" | "Lake" | "Mountain" | "Island" | "Street" | "Harbour" => "Location",
        "Prize" | "Festival" | "War" | "Summit" => "Event",
        _ => "Person",
    }
}

/// LightRAG extraction records for `text`.
pub fn extraction_for(text: &str) -> String {
    let sentences: Vec<&str> = text
        .split_inclusive(['.', '!', '?'])
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .collect();
    let mut entities: Vec<(String, String)> = Vec::new();
    let mut relations: Vec<String> = Vec::new();
    for sentence in &sentences {
        let names = capitalised_runs(sentence);
        for name in &names {
            if !entities.iter().any(|(n, _)| n == name) {
                entities.push((name.clone(), sentence.to_string()));
            }
        }
        for (i, a) in names.iter().enumerate() {
            for b in &names[i + 1..] {
                relations.push(format!(
                    "relation<|#|>{a}<|#|>{b}<|#|>co-occurrence, context<|#|>{sentence}"
                ));
            }
        }
    }
    let mut out: Vec<String> = entities
        .iter()
        .map(|(name, sentence)| {
            format!("entity<|#|>{name}<|#|>{}<|#|>{sentence}", entity_type(name))
        })
        .collect();
    out.extend(relations);
    out.push("<|COMPLETE|>".into());
    out.join("\n")
}

/// Keyword JSON for a query: capitalised runs are low-level keywords, other words
/// of five letters or more are high-level ones.
pub fn keywords_for(query: &str) -> String {
    let low = capitalised_runs(query);
    let high: Vec<String> = query
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| w.len() >= 5 && w.chars().next().is_some_and(char::is_lowercase))
        .map(str::to_string)
        .collect();
    json!({"high_level_keywords": high, "low_level_keywords": low}).to_string()
}

/// The mock's answer to a conversation.
pub fn answer_for(state: &MockState, messages: &[(String, String)]) -> String {
    match purpose_of(messages) {
        "extract" => {
            let user = messages
                .iter()
                .rev()
                .find(|(r, _)| r == "user")
                .map(|(_, c)| c.as_str())
                .unwrap_or("");
            let after = user.split("---Input Text---").nth(1).unwrap_or("");
            let text = after.split("```").nth(1).unwrap_or("");
            let bloated = state.bloated_extraction.lock().unwrap().clone();
            if let Some((marker, bytes)) = bloated.filter(|(m, _)| text.contains(m.as_str())) {
                let _ = marker;
                return format!(
                    "entity<|#|>Bloat<|#|>concept<|#|>{}\n<|COMPLETE|>",
                    "x".repeat(bytes)
                );
            }
            return extraction_for(text.trim());
        }
        "glean" => {
            return state
                .glean_answer
                .lock()
                .unwrap()
                .clone()
                .unwrap_or_else(|| "<|COMPLETE|>".into());
        }
        "keywords" => {
            let user = messages
                .iter()
                .rev()
                .find(|(r, _)| r == "user")
                .map(|(_, c)| c.as_str())
                .unwrap_or("");
            let query = user
                .split("---Query---")
                .nth(1)
                .unwrap_or("")
                .split("---Output---")
                .next()
                .unwrap_or("")
                .trim();
            return keywords_for(query);
        }
        "summary" => {
            let user = messages
                .iter()
                .rev()
                .find(|(r, _)| r == "user")
                .map(|(_, c)| c.as_str())
                .unwrap_or("");
            let list = user.split("Description List:").nth(1).unwrap_or("");
            let fragments: Vec<String> = list
                .lines()
                .filter_map(|l| serde_json::from_str::<Value>(l.trim()).ok())
                .filter_map(|v| v["Description"].as_str().map(str::to_string))
                .collect();
            return format!(
                "SUMMARY({}): {}",
                fragments.len(),
                fragments.first().cloned().unwrap_or_default()
            );
        }
        _ => {}
    }
    let text = answer_text(messages);
    if state.short_answers.load(Ordering::Relaxed) {
        return text.chars().take(400).collect();
    }
    text
}

/// The reply to an answer request or any other conversation.
fn answer_text(messages: &[(String, String)]) -> String {
    let last_user = messages
        .iter()
        .rev()
        .find(|(role, _)| role == "user")
        .map(|(_, c)| c.as_str())
        .unwrap_or("");
    let system = messages
        .iter()
        .find(|(role, _)| role == "system")
        .map(|(_, c)| c.as_str())
        .unwrap_or("");
    match system.split_once("---Context---") {
        Some((_, context)) => format!("MOCK ANSWER to: {last_user}\n{}", context.trim()),
        None => format!("MOCK REPLY to: {last_user}"),
    }
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

/// Hashed bag of words (FNV-1a, signed, sublinear) in `dim - 1` components plus a
/// bias component, normalised: `cos(a, b) = 0.4 + 0.6 · cos_words(a, b)`.
pub fn embed(text: &str, dim: usize) -> Vec<f32> {
    let mut words = vec![0f32; dim - 1];
    for word in text
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
    {
        let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
        for byte in word.bytes() {
            hash ^= u64::from(byte);
            hash = hash.wrapping_mul(0x0100_0000_01b3);
        }
        let sign = if hash >> 63 == 0 { 1.0 } else { -1.0 };
        words[(hash % (dim as u64 - 1)) as usize] += sign;
    }
    for v in &mut words {
        *v = v.signum() * (1.0 + v.abs()).ln();
    }
    let norm = words.iter().map(|v| v * v).sum::<f32>().sqrt();
    let scale = if norm > 0.0 {
        0.6f32.sqrt() / norm
    } else {
        0.0
    };
    let mut vector: Vec<f32> = words.iter().map(|v| v * scale).collect();
    vector.push(if norm > 0.0 { 0.4f32.sqrt() } else { 1.0 });
    vector
}
