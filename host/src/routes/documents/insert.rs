//! Adding documents: text inserts, admission control, and retrying failed ones.
//! Files (uploads, scans) are `files`.

use crate::bindings::types::{DocState, NewDocument};
use crate::error::{AppError, FieldError};
use crate::routes::body::{JsonBody, track_id};
use crate::routes::state::AppState;
use crate::service::WorkspaceLease;
use crate::workspace::Workspace;
use axum::Json;
use axum::extract::State;
use serde::Deserialize;
use serde_json::{Value, json};
use std::collections::HashSet;

#[derive(Deserialize, utoipa::ToSchema)]
pub(crate) struct InsertText {
    text: Option<String>,
    file_source: Option<String>,
}

#[derive(Deserialize, utoipa::ToSchema)]
pub(crate) struct InsertTexts {
    texts: Option<Vec<String>>,
    file_sources: Option<Vec<String>>,
}

/// LightRAG's canonical file name: the trimmed base name; `None` for the names that
/// mean "no file".
fn canonical_name(source: &str) -> Option<String> {
    let base = source.rsplit(['/', '\\']).next().unwrap_or("").trim();
    if base.is_empty()
        || base == "unknown_source"
        || base == "no-file-path"
        || base == "."
        || base == ".."
    {
        return None;
    }
    if base.chars().any(|c| c.is_control()) {
        return None;
    }
    Some(base.to_string())
}

fn require_text(field: &str, text: Option<&String>) -> Result<(), AppError> {
    match text {
        None => Err(AppError::Validation(vec![FieldError::body(
            field,
            "missing",
            "Field required",
        )])),
        Some(t) if t.trim().is_empty() => Err(AppError::Validation(vec![FieldError::body(
            field,
            "value_error",
            "Value error, Text cannot be empty",
        )])),
        Some(_) => Ok(()),
    }
}

/// Refuses `incoming` new documents with 429 when the workspace already has
/// `MAX_PENDING_DOCUMENTS` waiting or in progress (LightRAG's admission control).
pub(super) async fn admit(
    state: &AppState,
    lease: &WorkspaceLease,
    incoming: u32,
) -> Result<(), AppError> {
    let limit = state.config.max_pending_documents;
    if limit == 0 {
        return Ok(());
    }
    let active: u32 = lease
        .state_counts()
        .await?
        .iter()
        .filter(|c| !matches!(c.state, DocState::Processed | DocState::Failed))
        .map(|c| c.count)
        .sum();
    if active.saturating_add(incoming) > limit {
        return Err(AppError::Saturated {
            message: format!(
                "This workspace has {active} documents waiting or in progress and accepts at \
                 most {limit} (MAX_PENDING_DOCUMENTS); retry when some are processed"
            ),
            retry_after: 30,
        });
    }
    Ok(())
}

/// Stores documents and starts (or feeds) the workspace's pipeline.
async fn enqueue(
    state: &AppState,
    workspace: &Workspace,
    documents: Vec<NewDocument>,
    track_id: &str,
) -> Result<(), AppError> {
    let lease = state.workspaces.lease(workspace).await?;
    admit(state, &lease, documents.len() as u32).await?;
    lease.insert(documents, track_id.to_string()).await?;
    Ok(())
}

fn insert_response(message: &str, track_id: &str) -> Json<Value> {
    Json(json!({"status": "success", "message": message, "track_id": track_id}))
}

pub(super) async fn insert_text(
    State(state): State<AppState>,
    workspace: Workspace,
    JsonBody(body): JsonBody<InsertText>,
) -> Result<(Workspace, Json<Value>), AppError> {
    require_text("text", body.text.as_ref())?;
    let file_path = body
        .file_source
        .as_deref()
        .and_then(canonical_name)
        .ok_or_else(|| {
            AppError::BadRequest("A valid file_source is required for text insertion".into())
        })?;
    let track = track_id("insert");
    let documents = vec![NewDocument {
        content: body.text.unwrap_or_default(),
        file_path,
    }];
    enqueue(&state, &workspace, documents, &track).await?;
    let message = "Text successfully received. Processing will continue in background.";
    Ok((workspace, insert_response(message, &track)))
}

pub(super) async fn insert_texts(
    State(state): State<AppState>,
    workspace: Workspace,
    JsonBody(body): JsonBody<InsertTexts>,
) -> Result<(Workspace, Json<Value>), AppError> {
    let texts = body.texts.ok_or_else(|| {
        AppError::Validation(vec![FieldError::body("texts", "missing", "Field required")])
    })?;
    if texts.is_empty() {
        return Err(AppError::Validation(vec![FieldError::body(
            "texts",
            "too_short",
            "List should have at least 1 item after validation, not 0",
        )]));
    }
    let most = state.config.max_texts_per_request;
    if most > 0 && texts.len() > most {
        return Err(AppError::TooLarge(format!(
            "Too many texts in one request: {} (MAX_TEXTS_PER_REQUEST is {most})",
            texts.len()
        )));
    }
    for text in &texts {
        require_text("texts", Some(text))?;
    }
    let sources = body.file_sources.unwrap_or_default();
    let names: Option<Vec<String>> = sources.iter().map(|s| canonical_name(s)).collect();
    let names = names
        .filter(|names| names.len() == texts.len())
        .ok_or_else(|| {
            AppError::BadRequest("A valid file_source is required for each text".into())
        })?;
    if names.iter().collect::<HashSet<_>>().len() != names.len() {
        return Err(AppError::BadRequest(
            "file_sources must be unique by filename".into(),
        ));
    }
    let track = track_id("insert");
    let documents = texts
        .into_iter()
        .zip(names)
        .map(|(content, file_path)| NewDocument { content, file_path })
        .collect();
    enqueue(&state, &workspace, documents, &track).await?;
    let message = "Texts successfully received. Processing will continue in background.";
    Ok((workspace, insert_response(message, &track)))
}

/// `POST /documents/reprocess_failed`.
pub(super) async fn reprocess_failed(
    State(state): State<AppState>,
    workspace: Workspace,
) -> Result<(Workspace, Json<Value>), AppError> {
    let lease = state.workspaces.lease(&workspace).await?;
    let count = lease.reprocess_failed().await?;
    let body = json!({
        "status": "reprocessing_started",
        "message": format!("Reprocessing of {count} failed documents has been initiated in the background"),
        "track_id": "",
    });
    Ok((workspace, Json(body)))
}
