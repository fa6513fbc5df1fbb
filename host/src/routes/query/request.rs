//! LightRAG's `QueryRequest`, validated into the engine's parameters, and running a
//! query task.

use crate::bindings::types::{
    Error as GuestError, HistoryMessage, QueryMode, QueryOutput, QueryParams, Reference, Task,
    TaskOutput,
};
use crate::error::{AppError, FieldError, error_id};
use crate::providers::StreamEvent;
use crate::routes::state::AppState;
use crate::service::{self, RunningTask};
use crate::workspace::Workspace;
use serde::Deserialize;
use serde_json::{Value, json};
use tokio::sync::mpsc;

/// LightRAG's reply when a query fails inside the engine (it answers 200).
const FAILED_RESPONSE: &str = "No relevant context found for the query.";

#[derive(Deserialize, utoipa::ToSchema)]
struct HistoryItem {
    role: String,
    content: String,
}

/// LightRAG's `QueryRequest`.
#[derive(Deserialize, utoipa::ToSchema)]
pub(crate) struct QueryRequest {
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
pub(crate) struct Prepared {
    pub(crate) params: QueryParams,
    pub(crate) include_references: bool,
    /// `/query/stream` only: interleave LightRAG's progress lines.
    pub(crate) include_progress: bool,
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
pub(crate) fn prepare(
    state: &AppState,
    body: QueryRequest,
    stream: bool,
) -> Result<Prepared, AppError> {
    let mut errors = Vec::new();
    // LightRAG's model: at least 3 characters as sent, then stripped.
    let too_short = body.query.as_ref().is_some_and(|q| q.chars().count() < 3);
    let query = body.query.map(|q| q.trim().to_string());
    match &query {
        None => errors.push(FieldError::body("query", "missing", "Field required")),
        Some(_) if too_short => errors.push(FieldError::body(
            "query",
            "string_too_short",
            "String should have at least 3 characters",
        )),
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
            enable_rerank: state.workspaces.providers().has_reranker()
                && body.enable_rerank.unwrap_or(state.config.rerank_by_default),
        },
        include_references: body.include_references.unwrap_or(true),
        include_progress: body.include_progress.unwrap_or(false),
    })
}

/// LightRAG's reference objects.
pub(crate) fn references_json(references: &[Reference]) -> Value {
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

/// Leases the workspace and starts the query in a driver of its own. Dropping the
/// returned task cancels the query (its client went away); shutting the server down
/// cancels it too.
pub(crate) async fn start_query(
    state: &AppState,
    workspace: &Workspace,
    params: QueryParams,
    sink: Option<mpsc::Sender<StreamEvent>>,
) -> Result<RunningTask, AppError> {
    let lease = state.workspaces.lease(workspace).await?;
    Ok(lease.start_task(Task::Query(params), sink))
}

/// The answer of a finished query task.
pub(crate) fn output(
    result: Result<TaskOutput, service::Error>,
) -> Result<QueryOutput, service::Error> {
    match result? {
        TaskOutput::Query(output) => Ok(output),
        _ => Err(service::Error::Host("a query returned no answer".into())),
    }
}

/// A query failure in LightRAG's manner: bad input is the caller's 400; an engine or
/// model failure is logged and answered 200 with LightRAG's fixed text.
pub(crate) fn failure(err: service::Error) -> Result<QueryOutput, AppError> {
    match err {
        service::Error::Engine(GuestError::BadInput(msg)) => Err(AppError::BadRequest(msg)),
        service::Error::Engine(err) => {
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
