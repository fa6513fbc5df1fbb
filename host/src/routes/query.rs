//! `/query` and `/query/data` (`/query/stream` is in `stream`).
//!
//! The query runs as a guest task in a spawned driver. The handler holds a drop guard
//! of the task's cancellation token: a client that goes away cancels the task at its
//! next step, and the guest is told to drop it.

use super::JsonBody;
use crate::bindings::types::{
    Error as GuestError, HistoryMessage, QueryMode, QueryOutput, QueryParams, Reference, Task,
    TaskOutput,
};
use crate::driver::{TaskError, run_task};
use crate::error::{AppError, FieldError, error_id};
use crate::pool::Lease;
use crate::providers::StreamEvent;
use crate::server::AppState;
use crate::workspace::Workspace;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};
use std::time::Instant;
use tokio::sync::{mpsc, oneshot};
use tokio_util::sync::DropGuard;

/// The query routes.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/query", post(query))
        .route("/query/stream", post(super::stream::query_stream))
        .route("/query/data", post(query_data))
}

/// LightRAG's reply when a query fails inside the engine (it answers 200).
const FAILED_RESPONSE: &str = "No relevant context found for the query.";

#[derive(Deserialize)]
struct HistoryItem {
    role: String,
    content: String,
}

/// LightRAG's `QueryRequest`.
#[derive(Deserialize)]
pub(super) struct QueryRequest {
    query: Option<String>,
    mode: Option<String>,
    only_need_context: Option<bool>,
    only_need_prompt: Option<bool>,
    response_type: Option<String>,
    top_k: Option<i64>,
    chunk_top_k: Option<i64>,
    max_entity_tokens: Option<i64>,
    max_relation_tokens: Option<i64>,
    max_total_tokens: Option<i64>,
    hl_keywords: Option<Vec<String>>,
    ll_keywords: Option<Vec<String>>,
    conversation_history: Option<Vec<HistoryItem>>,
    user_prompt: Option<String>,
    enable_rerank: Option<bool>,
    include_references: Option<bool>,
    include_chunk_content: Option<bool>,
    include_progress: Option<bool>,
    stream: Option<bool>,
}

/// A validated query and the response options that stay in the host.
pub(super) struct Prepared {
    pub(super) params: QueryParams,
    pub(super) include_references: bool,
    /// `/query/stream` only: interleave LightRAG's progress lines.
    pub(super) include_progress: bool,
}

fn parse_mode(mode: &str) -> Option<QueryMode> {
    Some(match mode {
        "local" => QueryMode::Local,
        "global" => QueryMode::Global,
        "hybrid" => QueryMode::Hybrid,
        "naive" => QueryMode::Naive,
        "mix" => QueryMode::Mix,
        "bypass" => QueryMode::Bypass,
        _ => return None,
    })
}

/// Checks the request like LightRAG's model does, collecting every field error.
pub(super) fn prepare(
    state: &AppState,
    body: QueryRequest,
    stream: bool,
) -> Result<Prepared, AppError> {
    let mut errors = Vec::new();
    let query = body.query.map(|q| q.trim().to_string());
    match &query {
        None => errors.push(FieldError::body("query", "missing", "Field required")),
        Some(q) if q.is_empty() => errors.push(FieldError::body(
            "query",
            "string_too_short",
            "String should have at least 1 character",
        )),
        Some(q) if q.chars().count() > 65_536 => errors.push(FieldError::body(
            "query",
            "string_too_long",
            "String should have at most 65536 characters",
        )),
        Some(_) => {}
    }
    let mode = body.mode.as_deref().unwrap_or("mix");
    let mode = parse_mode(mode).unwrap_or_else(|| {
        errors.push(FieldError::body(
            "mode",
            "literal_error",
            "Input should be 'local', 'global', 'hybrid', 'naive', 'mix' or 'bypass'",
        ));
        QueryMode::Mix
    });
    let mut bounded = |field: &str, value: Option<i64>, max: i64| -> Option<u32> {
        match value {
            Some(v) if !(1..=max).contains(&v) => {
                errors.push(FieldError::body(
                    field,
                    "value_error",
                    format!("Input should be between 1 and {max}"),
                ));
                None
            }
            other => other.map(|v| v as u32),
        }
    };
    let top_k = bounded("top_k", body.top_k, 1000);
    let chunk_top_k = bounded("chunk_top_k", body.chunk_top_k, 1000);
    let max_entity_tokens = bounded("max_entity_tokens", body.max_entity_tokens, 1_000_000);
    let max_relation_tokens = bounded("max_relation_tokens", body.max_relation_tokens, 1_000_000);
    let max_total_tokens = bounded("max_total_tokens", body.max_total_tokens, 1_000_000);
    let history = body.conversation_history.unwrap_or_default();
    if history.len() > 128 {
        errors.push(FieldError::body(
            "conversation_history",
            "too_long",
            "At most 128 messages",
        ));
    }
    let keyword_list = |field: &str, list: Option<Vec<String>>, errors: &mut Vec<FieldError>| {
        let list = list.unwrap_or_default();
        if list.len() > 64 || list.iter().any(|k| k.chars().count() > 512) {
            errors.push(FieldError::body(
                field,
                "value_error",
                "At most 64 keywords of at most 512 characters",
            ));
        }
        list
    };
    let hl_keywords = keyword_list("hl_keywords", body.hl_keywords, &mut errors);
    let ll_keywords = keyword_list("ll_keywords", body.ll_keywords, &mut errors);
    if !errors.is_empty() {
        return Err(AppError::Validation(errors));
    }
    Ok(Prepared {
        params: QueryParams {
            query: query.unwrap_or_default(),
            mode,
            only_need_context: body.only_need_context.unwrap_or(false),
            only_need_prompt: body.only_need_prompt.unwrap_or(false),
            response_type: body.response_type.unwrap_or_default(),
            top_k,
            chunk_top_k,
            max_entity_tokens,
            max_relation_tokens,
            max_total_tokens,
            hl_keywords,
            ll_keywords,
            conversation_history: history
                .into_iter()
                .map(|m| HistoryMessage {
                    role: m.role,
                    content: m.content,
                })
                .collect(),
            user_prompt: body.user_prompt,
            stream: body.stream.unwrap_or(stream),
            include_chunk_content: body.include_chunk_content.unwrap_or(false),
            data_only: false,
            // As in LightRAG: reranking asked for without a reranker is a no-op.
            enable_rerank: state.providers.has_reranker()
                && body.enable_rerank.unwrap_or(state.config.rerank_by_default),
        },
        include_references: body.include_references.unwrap_or(true),
        include_progress: body.include_progress.unwrap_or(false),
    })
}

/// LightRAG's reference objects.
pub(super) fn references_json(references: &[Reference]) -> Value {
    Value::Array(
        references
            .iter()
            .map(|r| {
                let mut item = json!({"reference_id": r.reference_id, "file_path": r.file_path});
                if let Some(content) = &r.content {
                    item["content"] = json!(content);
                }
                item
            })
            .collect(),
    )
}

/// Starts the query's driver in its own task. The returned guard cancels it when
/// dropped; shutting the server down cancels it too.
pub(super) fn spawn_query(
    state: &AppState,
    lease: Lease,
    params: QueryParams,
    sink: Option<mpsc::Sender<StreamEvent>>,
) -> (oneshot::Receiver<Result<QueryOutput, TaskError>>, DropGuard) {
    let cancel = state.shutdown.child_token();
    let guard = cancel.clone().drop_guard();
    let (done_tx, done_rx) = oneshot::channel();
    let providers = state.providers.clone();
    tokio::spawn(async move {
        let result = match run_task(&lease, &providers, Task::Query(params), sink, &cancel).await {
            Ok(TaskOutput::Query(output)) => Ok(output),
            Ok(_) => Err(TaskError::Guest(GuestError::Internal(
                "a query returned no answer".into(),
            ))),
            Err(err) => Err(err),
        };
        let _ = done_tx.send(result);
    });
    (done_rx, guard)
}

/// A query failure in LightRAG's manner: bad input is the caller's 400; an engine or
/// model failure is logged and answered 200 with LightRAG's fixed text.
pub(super) fn failure(err: TaskError) -> Result<QueryOutput, AppError> {
    match err {
        TaskError::Guest(GuestError::BadInput(msg)) => Err(AppError::BadRequest(msg)),
        TaskError::Guest(err) => {
            tracing::warn!(error_id = %error_id(), "query failed: {err:?}");
            Ok(QueryOutput {
                response: FAILED_RESPONSE.into(),
                llm_generated: false,
                references: Vec::new(),
                data: None,
                no_results: true,
            })
        }
        other => Err(other.into()),
    }
}

async fn query(
    State(state): State<AppState>,
    workspace: Workspace,
    JsonBody(body): JsonBody<QueryRequest>,
) -> Result<(Workspace, Json<Value>), AppError> {
    let prepared = prepare(&state, body, false)?;
    let mut params = prepared.params;
    params.stream = false;
    let started = Instant::now();
    let lease = state.lease(&workspace).await?;
    let (done, _guard) = spawn_query(&state, lease, params, None);
    let output = match done.await {
        Ok(Ok(output)) => output,
        Ok(Err(err)) => failure(err)?,
        Err(_) => return Err(AppError::internal("the query task ended without an answer")),
    };
    let references = prepared
        .include_references
        .then(|| references_json(&output.references));
    let body = json!({
        "response": output.response,
        "references": references,
        "response_time": (started.elapsed().as_secs_f64() * 1000.0).round() / 1000.0,
        "llm_generated": output.llm_generated,
    });
    Ok((workspace, Json(body)))
}

/// `/query/data` answers validation errors in its own 400 shape (LightRAG's
/// exception to FastAPI's 422).
fn data_validation_error(err: AppError) -> Response {
    let message = match err {
        AppError::Validation(errors) => errors
            .iter()
            .map(|e| format!("{}: {}", e.loc.join(" -> "), e.msg))
            .collect::<Vec<_>>()
            .join("; "),
        other => return other.into_response(),
    };
    (
        axum::http::StatusCode::BAD_REQUEST,
        Json(json!({"status": "failure", "message": format!("Validation error: {message}"), "data": {}, "metadata": {}})),
    )
        .into_response()
}

fn processing_info(data: &crate::bindings::types::QueryData) -> Value {
    Value::Object(
        data.processing_info
            .iter()
            .map(|(k, v)| (k.clone(), json!(v)))
            .collect(),
    )
}

/// `POST /query/data`: what retrieval found, without an answer.
async fn query_data(
    State(state): State<AppState>,
    workspace: Workspace,
    body: axum::body::Bytes,
) -> Result<Response, AppError> {
    let body: QueryRequest = match serde_json::from_slice(&body) {
        Ok(body) => body,
        Err(err) => {
            return Ok(data_validation_error(AppError::Validation(vec![
                FieldError {
                    loc: vec!["body".into()],
                    msg: err.to_string(),
                    kind: "json_invalid".into(),
                },
            ])));
        }
    };
    let prepared = match prepare(&state, body, false) {
        Ok(prepared) => prepared,
        Err(err) => return Ok(data_validation_error(err)),
    };
    let mut params = prepared.params;
    params.stream = false;
    params.data_only = true;
    let mode = params.mode;
    let lease = state.lease(&workspace).await?;
    let (done, _guard) = spawn_query(&state, lease, params, None);
    let output = match done.await {
        Ok(Ok(output)) => output,
        Ok(Err(TaskError::Guest(GuestError::BadInput(msg)))) => {
            return Ok(data_validation_error(AppError::Validation(vec![
                FieldError {
                    loc: vec!["body".into(), "query".into()],
                    msg,
                    kind: "value_error".into(),
                },
            ])));
        }
        Ok(Err(err)) => return Err(err.into()),
        Err(_) => return Err(AppError::internal("the query task ended without an answer")),
    };
    let mode_name = match mode {
        QueryMode::Local => "local",
        QueryMode::Global => "global",
        QueryMode::Hybrid => "hybrid",
        QueryMode::Naive => "naive",
        QueryMode::Mix => "mix",
        QueryMode::Bypass => "bypass",
    };
    let data = output
        .data
        .unwrap_or_else(|| crate::bindings::types::QueryData {
            entities: Vec::new(),
            relationships: Vec::new(),
            chunks: Vec::new(),
            references: Vec::new(),
            high_level_keywords: Vec::new(),
            low_level_keywords: Vec::new(),
            processing_info: Vec::new(),
        });
    let body = if output.no_results {
        let message = if mode == QueryMode::Naive {
            "No relevant document chunks found."
        } else {
            "Query returned no results"
        };
        json!({
            "status": "failure",
            "message": message,
            "data": {},
            "metadata": {"failure_reason": "no_results", "mode": mode_name},
        })
    } else {
        json!({
            "status": "success",
            "message": "Query executed successfully",
            "data": {
                "entities": data.entities.iter().map(|e| json!({
                    "entity_name": e.entity_name, "entity_type": e.entity_type,
                    "description": e.description, "source_id": e.source_id,
                    "file_path": e.file_path, "created_at": e.created_at,
                })).collect::<Vec<_>>(),
                "relationships": data.relationships.iter().map(|r| json!({
                    "src_id": r.src_id, "tgt_id": r.tgt_id, "description": r.description,
                    "keywords": r.keywords, "weight": r.weight, "source_id": r.source_id,
                    "file_path": r.file_path, "created_at": r.created_at,
                })).collect::<Vec<_>>(),
                "chunks": data.chunks.iter().map(|c| json!({
                    "reference_id": c.reference_id, "content": c.content,
                    "file_path": c.file_path, "chunk_id": c.chunk_id,
                })).collect::<Vec<_>>(),
                "references": data.references.iter().map(|r| json!({
                    "reference_id": r.reference_id, "file_path": r.file_path,
                })).collect::<Vec<_>>(),
            },
            "metadata": {
                "query_mode": mode_name,
                "keywords": {"high_level": data.high_level_keywords, "low_level": data.low_level_keywords},
                "processing_info": processing_info(&data),
            },
        })
    };
    Ok((workspace, Json(body)).into_response())
}
