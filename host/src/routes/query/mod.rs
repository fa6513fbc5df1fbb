//! `/query`, `/query/data` and `/query/stream`.
//!
//! The query runs as a guest task in a spawned driver ([`RunningTask`]); the handler
//! holds it, so a client that goes away cancels the task at its next step and the
//! guest is told to drop it.
//!
//! * `request` — LightRAG's `QueryRequest`, validated into the engine's parameters.
//! * `stream` — `/query/stream`, NDJSON with references and progress.

mod request;
mod stream;

pub(crate) use request::QueryRequest;
pub(super) use request::{failure, output, prepare, references_json, start_query};

use super::body::JsonBody;
use crate::bindings::types::{Error as GuestError, QueryMode};
use crate::error::{AppError, FieldError};
use crate::routes::state::AppState;
use crate::service;
use crate::workspace::Workspace;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use serde_json::{Value, json};
use std::time::Instant;

/// The query routes.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/query", post(query))
        .route("/query/stream", post(stream::query_stream))
        .route("/query/data", post(query_data))
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
    let running = start_query(&state, &workspace, params, None).await?;
    let output = match request::output(running.await) {
        Ok(output) => output,
        Err(err) => failure(err)?,
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
    let running = start_query(&state, &workspace, params, None).await?;
    let output = match request::output(running.await) {
        Ok(output) => output,
        Err(service::Error::Engine(GuestError::BadInput(msg))) => {
            return Ok(data_validation_error(AppError::Validation(vec![
                FieldError {
                    loc: vec!["body".into(), "query".into()],
                    msg,
                    kind: "value_error".into(),
                },
            ])));
        }
        Err(err) => return Err(err.into()),
    };
    let body = data_body(output, mode);
    Ok((workspace, Json(body)).into_response())
}

/// `/query/data` without HTTP (the import's verification): the same parsing, task and
/// answer.
pub async fn query_data_value(
    state: &AppState,
    workspace: &Workspace,
    body: Value,
) -> Result<Value, AppError> {
    let body: QueryRequest =
        serde_json::from_value(body).map_err(|e| AppError::BadRequest(e.to_string()))?;
    let mut params = prepare(state, body, false)?.params;
    params.stream = false;
    params.data_only = true;
    let mode = params.mode;
    let running = start_query(state, workspace, params, None).await?;
    Ok(data_body(request::output(running.await)?, mode))
}

/// `/query/data`'s answer from what the query task returned.
fn data_body(output: crate::bindings::types::QueryOutput, mode: QueryMode) -> Value {
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
    if output.no_results {
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
    }
}
