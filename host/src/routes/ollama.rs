//! The Ollama-compatible API (`/api/*`), so chat front ends that speak Ollama (Open
//! WebUI and others) can use LightRAG as a "model".
//!
//! A chat message may start with a mode prefix (`/local `, `/mix `, `/bypass `,
//! `/context`, …, optionally with `[instructions]`). The workspace comes from the
//! header as on every route; clients that cannot send headers name it in the model,
//! `lightrag:<workspace>`.

use super::query::{output as query_output, start_query};
use super::resolver::{FALLBACK_HEADER, HEADER};
use super::session::{MaybeAccess, check_access};
use super::state::AppState;
use crate::bindings::types::{Error as GuestError, HistoryMessage, QueryMode, QueryParams};
use crate::error::AppError;
use crate::providers::StreamEvent;
use crate::service;
use crate::workspace::Workspace;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{Value, json};
use std::time::Instant;
use tokio::sync::mpsc;

/// LightRAG's fixed model facts.
const MODEL_SIZE: u64 = 7_365_960_935;
const MODEL_DIGEST: &str = "sha256:lightrag";
const MODEL_CREATED: &str = "2024-01-15T00:00:00Z";

/// The Ollama routes.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/version", get(version))
        .route("/api/tags", get(tags))
        .route("/api/ps", get(ps))
        .route("/api/generate", post(generate))
        .route("/api/chat", post(chat))
}

async fn version() -> Json<Value> {
    Json(json!({"version": "0.9.3"}))
}

fn model_name(state: &AppState, workspace: Option<&str>) -> String {
    let config = &state.config;
    match workspace {
        None => format!("{}:{}", config.ollama_model_name, config.ollama_model_tag),
        Some(ws) => format!("{}:{ws}", config.ollama_model_name),
    }
}

/// Workspace directories that exist (valid names only; the server's own `.host`
/// and anything else are skipped).
fn existing_workspaces(state: &AppState) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(&state.config.working_dir)
        .map(|dir| {
            dir.flatten()
                .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| Workspace::new(n).is_ok())
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

/// `GET /api/tags`: the default model and one `lightrag:<workspace>` model per
/// workspace the caller may use.
async fn tags(State(state): State<AppState>, access: MaybeAccess) -> Json<Value> {
    let detail = |name: &str| {
        json!({"parent_model": "", "format": "gguf", "family": name, "families": [name],
               "parameter_size": "13B", "quantization_level": "Q4_0"})
    };
    let mut names = vec![model_name(&state, None)];
    for ws in existing_workspaces(&state) {
        let allowed =
            Workspace::new(&ws).is_ok_and(|w| check_access(&state, access.as_deref(), &w).is_ok());
        if allowed {
            names.push(model_name(&state, Some(&ws)));
        }
    }
    let models: Vec<Value> = names
        .iter()
        .map(|name| {
            json!({"name": name, "model": name, "modified_at": MODEL_CREATED, "size": MODEL_SIZE,
                   "digest": MODEL_DIGEST, "details": detail(&state.config.ollama_model_name)})
        })
        .collect();
    Json(json!({ "models": models }))
}

async fn ps(State(state): State<AppState>) -> Json<Value> {
    let name = model_name(&state, None);
    Json(json!({"models": [{
        "name": name, "model": name, "size": MODEL_SIZE, "digest": MODEL_DIGEST,
        "details": {"parent_model": "", "format": "gguf", "family": "llama", "families": ["llama"],
                    "parameter_size": "7.2B", "quantization_level": "Q4_0"},
        "expires_at": "2050-12-31T14:38:31.83753-07:00", "size_vram": MODEL_SIZE,
    }]}))
}

/// The workspace of an Ollama request: the header if one is sent, else the model
/// name's tag when it is not the default tag, else the default workspace.
fn workspace_of(state: &AppState, headers: &HeaderMap, model: &str) -> Result<Workspace, AppError> {
    if headers.contains_key(HEADER) || headers.contains_key(FALLBACK_HEADER) {
        return state.resolver.resolve(headers);
    }
    let prefix = format!("{}:", state.config.ollama_model_name);
    match model.strip_prefix(&prefix) {
        Some(tag) if tag != state.config.ollama_model_tag && !tag.is_empty() => Workspace::new(tag)
            .map_err(|why| AppError::BadRequest(format!("Invalid workspace in model name: {why}"))),
        _ => state.resolver.resolve(headers),
    }
}

/// Parses a body that is JSON (or JSON sent as octet-stream, as some clients do).
fn parse_body(body: &Bytes) -> Result<Value, AppError> {
    serde_json::from_slice(body)
        .map_err(|_| AppError::BadRequest("Invalid JSON in request body".into()))
}

/// A chat message's mode prefix: `(mode, only_need_context, user_prompt, rest)`.
pub fn parse_prefix(text: &str) -> (QueryMode, bool, Option<String>, String) {
    const PREFIXES: [(&str, QueryMode, bool); 12] = [
        ("localcontext", QueryMode::Local, true),
        ("globalcontext", QueryMode::Global, true),
        ("hybridcontext", QueryMode::Hybrid, true),
        ("naivecontext", QueryMode::Naive, true),
        ("mixcontext", QueryMode::Mix, true),
        ("context", QueryMode::Mix, true),
        ("local", QueryMode::Local, false),
        ("global", QueryMode::Global, false),
        ("hybrid", QueryMode::Hybrid, false),
        ("naive", QueryMode::Naive, false),
        ("mix", QueryMode::Mix, false),
        ("bypass", QueryMode::Bypass, false),
    ];
    let Some(rest) = text.strip_prefix('/') else {
        return (QueryMode::Mix, false, None, text.to_string());
    };
    let (word_end, bracket) = match rest.find(|c: char| c == '[' || c.is_whitespace()) {
        Some(i) => (i, rest[i..].starts_with('[')),
        None => (rest.len(), false),
    };
    let word = &rest[..word_end];
    let found = if word.is_empty() && bracket {
        Some((QueryMode::Mix, false))
    } else {
        PREFIXES
            .iter()
            .find(|(p, _, _)| *p == word)
            .map(|(_, m, c)| (*m, *c))
    };
    let Some((mode, context)) = found else {
        return (QueryMode::Mix, false, None, text.to_string());
    };
    let mut after = &rest[word_end..];
    let mut user_prompt = None;
    if bracket && let Some(close) = after.find(']') {
        let instructions = after[1..close].trim();
        if !instructions.is_empty() {
            user_prompt = Some(instructions.to_string());
        }
        after = &after[close + 1..];
    }
    (mode, context, user_prompt, after.trim_start().to_string())
}

fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
}

/// A rough token count for Ollama's `*_count` fields (LightRAG estimates too).
fn estimate_tokens(text: &str) -> u64 {
    (text.chars().count() as u64).div_ceil(4)
}

/// The final, `done: true` fields.
fn timings(started: Instant, prompt: &str, answer: &str) -> Value {
    let total = started.elapsed().as_nanos() as u64;
    json!({"done_reason": "stop", "done": true, "total_duration": total, "load_duration": 0,
           "prompt_eval_count": estimate_tokens(prompt), "prompt_eval_duration": total / 2,
           "eval_count": estimate_tokens(answer), "eval_duration": total / 2})
}

fn ndjson(value: &Value) -> Bytes {
    let mut line = serde_json::to_vec(value).unwrap_or_default();
    line.push(b'\n');
    Bytes::from(line)
}

/// How a chat or generate reply is written.
#[derive(Clone, Copy)]
enum Shape {
    Chat,
    Generate,
}

impl Shape {
    fn piece(self, model: &str, text: &str) -> Value {
        match self {
            Shape::Chat => json!({"model": model, "created_at": now(),
                "message": {"role": "assistant", "content": text, "images": null}, "done": false}),
            Shape::Generate => {
                json!({"model": model, "created_at": now(), "response": text, "done": false})
            }
        }
    }

    fn last(self, model: &str, text: &str, started: Instant, prompt: &str, answer: &str) -> Value {
        let mut value = self.piece(model, text);
        if let (Some(out), Value::Object(extra)) =
            (value.as_object_mut(), timings(started, prompt, answer))
        {
            out.extend(extra);
            if matches!(self, Shape::Generate) {
                out.insert("context".into(), json!([]));
            }
        }
        value
    }

    fn error(self, model: &str, message: &str) -> [Value; 2] {
        let text = format!("\n\nError: {message}");
        let mut failed = self.piece(model, &text);
        failed["error"] = json!(text);
        let mut end = self.piece(model, "");
        end["done"] = json!(true);
        [failed, end]
    }
}

/// Runs a query for an Ollama request and writes the reply, streamed or not.
async fn respond(
    state: AppState,
    workspace: Workspace,
    params: QueryParams,
    model: String,
    shape: Shape,
) -> Result<Response, AppError> {
    let started = Instant::now();
    let prompt = params.query.clone();
    let stream = params.stream;
    let (events_tx, mut events) = mpsc::channel::<StreamEvent>(64);
    let mut running = start_query(&state, &workspace, params, stream.then_some(events_tx)).await?;
    if !stream {
        let output = match query_output(running.await) {
            Ok(output) => output,
            Err(service::Error::Engine(GuestError::BadInput(msg))) => {
                return Err(AppError::BadRequest(msg));
            }
            Err(err) => return Err(err.into()),
        };
        let text = if output.response.is_empty() {
            "No response generated".to_string()
        } else {
            output.response
        };
        let body = shape.last(&model, &text, started, &prompt, &text);
        return Ok((workspace, Json(body)).into_response());
    }
    let (lines_tx, lines_rx) = mpsc::channel::<Result<Bytes, std::io::Error>>(64);
    tokio::spawn(async move {
        // A client that goes away drops `lines_rx`; this task ends at once, dropping
        // the query, which cancels it.
        let mut answer = String::new();
        loop {
            let event = tokio::select! {
                event = events.recv() => event,
                () = lines_tx.closed() => return,
            };
            let Some(event) = event else { break };
            if let StreamEvent::Piece(piece) = event {
                answer.push_str(&piece);
                if lines_tx
                    .send(Ok(ndjson(&shape.piece(&model, &piece))))
                    .await
                    .is_err()
                {
                    return;
                }
            }
        }
        let result = tokio::select! {
            result = &mut running => result,
            () = lines_tx.closed() => return,
        };
        let lines: Vec<Value> = match query_output(result) {
            // Not streamed (cached answer, context only, no context): one piece.
            Ok(output) if answer.is_empty() => {
                let text = if output.response.is_empty() {
                    "No response generated".into()
                } else {
                    output.response
                };
                vec![
                    shape.piece(&model, &text),
                    shape.last(&model, "", started, &prompt, &text),
                ]
            }
            Ok(_) => vec![shape.last(&model, "", started, &prompt, &answer)],
            Err(err) => {
                let message = match err {
                    service::Error::Engine(GuestError::BadInput(m)) => m,
                    service::Error::Engine(
                        GuestError::Internal(m) | GuestError::Unavailable(m),
                    ) => {
                        format!("Provider error: {m}")
                    }
                    service::Error::Cancelled | service::Error::ShuttingDown => {
                        "Stream was cancelled by server".into()
                    }
                    other => other.to_string(),
                };
                shape.error(&model, &message).to_vec()
            }
        };
        for line in lines {
            if lines_tx.send(Ok(ndjson(&line))).await.is_err() {
                return;
            }
        }
    });
    let mut response = (
        workspace,
        Body::from_stream(tokio_stream::wrappers::ReceiverStream::new(lines_rx)),
    )
        .into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/x-ndjson"),
    );
    Ok(response)
}

fn query_params(
    query: String,
    mode: QueryMode,
    stream: bool,
    history: Vec<HistoryMessage>,
    top_k: u32,
) -> QueryParams {
    QueryParams {
        query,
        mode,
        only_need_context: false,
        only_need_prompt: false,
        response_type: String::new(),
        top_k: Some(top_k),
        chunk_top_k: None,
        max_entity_tokens: None,
        max_relation_tokens: None,
        max_total_tokens: None,
        hl_keywords: Vec::new(),
        ll_keywords: Vec::new(),
        conversation_history: history,
        user_prompt: None,
        stream,
        include_chunk_content: false,
        data_only: false,
        enable_rerank: false,
    }
}

/// `POST /api/chat`: the last user message is the query, earlier ones the history.
async fn chat(
    State(state): State<AppState>,
    access: MaybeAccess,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, AppError> {
    let body = parse_body(&body)?;
    let model = body["model"].as_str().unwrap_or_default().to_string();
    let messages = body["messages"].as_array().cloned().unwrap_or_default();
    let Some(last) = messages.last() else {
        return Err(AppError::BadRequest("No messages provided".into()));
    };
    if last["role"].as_str() != Some("user") {
        return Err(AppError::BadRequest(
            "Last message must be from user role".into(),
        ));
    }
    let workspace = workspace_of(&state, &headers, &model)?;
    check_access(&state, access.as_deref(), &workspace)?;
    let (mode, only_context, user_prompt, query) =
        parse_prefix(last["content"].as_str().unwrap_or(""));
    if query.trim().is_empty() {
        return Err(AppError::BadRequest("Query must not be empty.".into()));
    }
    let mut history: Vec<HistoryMessage> = Vec::new();
    if mode == QueryMode::Bypass
        && let Some(system) = body["system"].as_str().filter(|s| !s.is_empty())
    {
        history.push(HistoryMessage {
            role: "system".into(),
            content: system.into(),
        });
    }
    history.extend(
        messages[..messages.len() - 1]
            .iter()
            .map(|m| HistoryMessage {
                role: m["role"].as_str().unwrap_or("user").to_string(),
                content: m["content"].as_str().unwrap_or("").to_string(),
            }),
    );
    let stream = body["stream"].as_bool().unwrap_or(true);
    let mut params = query_params(query, mode, stream, history, state.config.engine.top_k);
    params.enable_rerank =
        state.workspaces.providers().has_reranker() && state.config.rerank_by_default;
    params.only_need_context = only_context;
    params.user_prompt = user_prompt;
    let model = if model.is_empty() {
        model_name(&state, None)
    } else {
        model
    };
    respond(state, workspace, params, model, Shape::Chat).await
}

/// `POST /api/generate`: the prompt goes to the model without retrieval.
async fn generate(
    State(state): State<AppState>,
    access: MaybeAccess,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, AppError> {
    let body = parse_body(&body)?;
    let model = body["model"].as_str().unwrap_or_default().to_string();
    let prompt = body["prompt"].as_str().unwrap_or_default().to_string();
    if prompt.trim().is_empty() {
        return Err(AppError::BadRequest("Query must not be empty.".into()));
    }
    let workspace = workspace_of(&state, &headers, &model)?;
    check_access(&state, access.as_deref(), &workspace)?;
    let mut history = Vec::new();
    if let Some(system) = body["system"].as_str().filter(|s| !s.is_empty()) {
        history.push(HistoryMessage {
            role: "system".into(),
            content: system.into(),
        });
    }
    let stream = body["stream"].as_bool().unwrap_or(false);
    let params = query_params(
        prompt,
        QueryMode::Bypass,
        stream,
        history,
        state.config.engine.top_k,
    );
    let model = if model.is_empty() {
        model_name(&state, None)
    } else {
        model
    };
    respond(state, workspace, params, model, Shape::Generate).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixes_select_modes_context_and_instructions() {
        assert_eq!(
            parse_prefix("plain question"),
            (QueryMode::Mix, false, None, "plain question".into())
        );
        assert_eq!(
            parse_prefix("/local who?"),
            (QueryMode::Local, false, None, "who?".into())
        );
        assert_eq!(
            parse_prefix("/bypass hi"),
            (QueryMode::Bypass, false, None, "hi".into())
        );
        assert_eq!(
            parse_prefix("/context what"),
            (QueryMode::Mix, true, None, "what".into())
        );
        assert_eq!(
            parse_prefix("/naivecontext x y"),
            (QueryMode::Naive, true, None, "x y".into())
        );
        assert_eq!(
            parse_prefix("/global[answer in French] why"),
            (
                QueryMode::Global,
                false,
                Some("answer in French".into()),
                "why".into()
            )
        );
        assert_eq!(
            parse_prefix("/[be brief] why"),
            (QueryMode::Mix, false, Some("be brief".into()), "why".into())
        );
        assert_eq!(
            parse_prefix("/unknown thing"),
            (QueryMode::Mix, false, None, "/unknown thing".into())
        );
    }
}
