//! Reading documents: their statuses, pages of them, counts per state, the
//! pipeline's progress.

use crate::bindings::types::{DocPageRequest, DocSort, DocState, DocStatus};
use crate::error::{AppError, FieldError};
use crate::routes::body::JsonBody;
use crate::routes::state::AppState;
use crate::workspace::Workspace;
use axum::Json;
use axum::extract::{Path, State};
use serde::Deserialize;
use serde_json::{Map, Value, json};
use std::collections::BTreeMap;

pub(super) fn state_name(state: DocState) -> &'static str {
    match state {
        DocState::Pending => "pending",
        DocState::Parsing => "parsing",
        DocState::Analyzing => "analyzing",
        DocState::Processing => "processing",
        DocState::Preprocessed => "preprocessed",
        DocState::Processed => "processed",
        DocState::Failed => "failed",
    }
}

fn parse_state(name: &str) -> Option<DocState> {
    [
        DocState::Pending,
        DocState::Parsing,
        DocState::Analyzing,
        DocState::Processing,
        DocState::Preprocessed,
        DocState::Processed,
        DocState::Failed,
    ]
    .into_iter()
    .find(|s| state_name(*s).eq_ignore_ascii_case(name))
}

/// LightRAG's `DocStatusResponse`.
fn doc_json(doc: &DocStatus) -> Value {
    let metadata: Value = serde_json::from_str(&doc.metadata_json).unwrap_or_else(|_| json!({}));
    let mut out = Map::new();
    out.insert("id".into(), json!(doc.id));
    out.insert("content_summary".into(), json!(doc.content_summary));
    out.insert("content_length".into(), json!(doc.content_length));
    out.insert("status".into(), json!(state_name(doc.status)));
    out.insert("created_at".into(), json!(doc.created_at));
    out.insert("updated_at".into(), json!(doc.updated_at));
    out.insert("track_id".into(), json!(doc.track_id));
    out.insert("chunks_count".into(), json!(doc.chunks_count));
    out.insert("error_msg".into(), json!(doc.error_msg));
    out.insert("metadata".into(), metadata);
    out.insert("file_path".into(), json!(doc.file_path));
    Value::Object(out)
}

pub(super) async fn track_status(
    State(state): State<AppState>,
    workspace: Workspace,
    Path(track_id): Path<String>,
) -> Result<(Workspace, Json<Value>), AppError> {
    let track_id = track_id.trim().to_string();
    if track_id.is_empty() {
        return Err(AppError::BadRequest("Track ID cannot be empty".into()));
    }
    let lease = state.workspaces.lease(&workspace).await?;
    let docs = lease.documents_by_track(track_id.clone()).await?;
    let mut summary: BTreeMap<&str, u32> = BTreeMap::new();
    for doc in &docs {
        *summary.entry(state_name(doc.status)).or_default() += 1;
    }
    let body = json!({
        "track_id": track_id,
        "documents": docs.iter().map(doc_json).collect::<Vec<_>>(),
        "total_count": docs.len(),
        "status_summary": summary,
    });
    Ok((workspace, Json(body)))
}

#[derive(Deserialize, utoipa::ToSchema)]
pub(crate) struct PageRequest {
    status_filter: Option<String>,
    status_filters: Option<Vec<String>>,
    #[serde(default = "default_page")]
    page: i64,
    #[serde(default = "default_page_size")]
    page_size: i64,
    #[serde(default = "default_sort")]
    sort_field: String,
    #[serde(default = "default_direction")]
    sort_direction: String,
}

fn default_page() -> i64 {
    1
}

fn default_page_size() -> i64 {
    50
}

fn default_sort() -> String {
    "updated_at".into()
}

fn default_direction() -> String {
    "desc".into()
}

pub(super) async fn paginated(
    State(state): State<AppState>,
    workspace: Workspace,
    JsonBody(body): JsonBody<PageRequest>,
) -> Result<(Workspace, Json<Value>), AppError> {
    let mut errors = Vec::new();
    if body.page < 1 {
        errors.push(FieldError::body(
            "page",
            "greater_than_equal",
            "Input should be greater than or equal to 1",
        ));
    }
    if !(10..=200).contains(&body.page_size) {
        errors.push(FieldError::body(
            "page_size",
            "value_error",
            "Input should be between 10 and 200",
        ));
    }
    let sort = match body.sort_field.as_str() {
        "created_at" => Some(DocSort::CreatedAt),
        "updated_at" => Some(DocSort::UpdatedAt),
        "id" => Some(DocSort::Id),
        "file_path" => Some(DocSort::FilePath),
        _ => None,
    };
    if sort.is_none() {
        errors.push(FieldError::body(
            "sort_field",
            "literal_error",
            "Input should be 'created_at', 'updated_at', 'id' or 'file_path'",
        ));
    }
    let descending = match body.sort_direction.to_ascii_lowercase().as_str() {
        "asc" => false,
        "desc" => true,
        _ => {
            errors.push(FieldError::body(
                "sort_direction",
                "literal_error",
                "Input should be 'asc' or 'desc'",
            ));
            true
        }
    };
    let names: Vec<String> = match (body.status_filters, body.status_filter) {
        (Some(list), _) => list,
        (None, Some(one)) => vec![one],
        (None, None) => Vec::new(),
    };
    let mut states = Vec::new();
    for name in &names {
        match parse_state(name) {
            Some(s) => states.push(s),
            None => errors.push(FieldError::body(
                "status_filters",
                "enum",
                format!("Unknown status '{name}'"),
            )),
        }
    }
    if !errors.is_empty() {
        return Err(AppError::Validation(errors));
    }
    let request = DocPageRequest {
        states,
        page: body.page as u32,
        page_size: body.page_size as u32,
        sort: sort.unwrap_or(DocSort::UpdatedAt),
        descending,
    };
    let lease = state.workspaces.lease(&workspace).await?;
    let page = lease.documents_page(request).await?;
    let counts = lease.state_counts().await?;
    let total = page.total_count as i64;
    let total_pages = (total + body.page_size - 1) / body.page_size;
    let body = json!({
        "documents": page.documents.iter().map(doc_json).collect::<Vec<_>>(),
        "pagination": {
            "page": body.page,
            "page_size": body.page_size,
            "total_count": total,
            "total_pages": total_pages,
            "has_next": body.page < total_pages,
            "has_prev": body.page > 1,
        },
        "status_counts": counts_json(&counts),
    });
    Ok((workspace, Json(body)))
}

fn counts_json(counts: &[crate::bindings::types::StateCount]) -> Value {
    let mut out = Map::new();
    let mut all = 0;
    for count in counts {
        out.insert(state_name(count.state).into(), json!(count.count));
        all += count.count;
    }
    out.insert("all".into(), json!(all));
    Value::Object(out)
}

pub(super) async fn status_counts(
    State(state): State<AppState>,
    workspace: Workspace,
) -> Result<(Workspace, Json<Value>), AppError> {
    let counts = state
        .workspaces
        .lease(&workspace)
        .await?
        .state_counts()
        .await?;
    Ok((
        workspace,
        Json(json!({"status_counts": counts_json(&counts)})),
    ))
}
