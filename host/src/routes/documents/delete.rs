//! Removing documents: one by one (in the background), all of them, or only the
//! cached model answers.

use crate::bindings::types::{DeleteRequest, Error as GuestError};
use crate::error::{AppError, FieldError};
use crate::routes::body::JsonBody;
use crate::routes::state::AppState;
use crate::service;
use crate::workspace::Workspace;
use axum::Json;
use axum::extract::State;
use serde::Deserialize;
use serde_json::{Value, json};
use std::collections::HashSet;

#[derive(Deserialize, utoipa::ToSchema)]
pub(crate) struct DeleteBody {
    doc_ids: Option<Vec<String>>,
    #[serde(default)]
    delete_file: bool,
    #[serde(default)]
    delete_llm_cache: bool,
}

pub(super) async fn delete_documents(
    State(state): State<AppState>,
    workspace: Workspace,
    JsonBody(body): JsonBody<DeleteBody>,
) -> Result<(Workspace, Json<Value>), AppError> {
    let ids: Vec<String> = body
        .doc_ids
        .ok_or_else(|| {
            AppError::Validation(vec![FieldError::body(
                "doc_ids",
                "missing",
                "Field required",
            )])
        })?
        .into_iter()
        .map(|id| id.trim().to_string())
        .collect();
    if ids.is_empty() || ids.iter().any(String::is_empty) {
        return Err(AppError::Validation(vec![FieldError::body(
            "doc_ids",
            "value_error",
            "Value error, doc_ids must be a non-empty list of non-empty ids",
        )]));
    }
    if ids.iter().collect::<HashSet<_>>().len() != ids.len() {
        return Err(AppError::Validation(vec![FieldError::body(
            "doc_ids",
            "value_error",
            "Value error, doc_ids must be unique",
        )]));
    }
    let lease = state.workspaces.lease(&workspace).await?;
    let joined = ids.join(", ");
    if lease.pipeline_running() {
        let body = json!({
            "status": "busy",
            "message": "Cannot delete documents while the pipeline is busy",
            "doc_id": joined,
        });
        return Ok((workspace, Json(body)));
    }
    lease.delete_documents(DeleteRequest {
        doc_ids: ids.clone(),
        delete_llm_cache: body.delete_llm_cache,
        delete_file: body.delete_file,
    });
    let body = json!({
        "status": "deletion_started",
        "message": format!("Document deletion for '{joined}' has been initiated. Processing will continue in background."),
        "doc_id": joined,
    });
    Ok((workspace, Json(body)))
}

pub(super) async fn clear_documents(
    State(state): State<AppState>,
    workspace: Workspace,
) -> Result<(Workspace, Json<Value>), AppError> {
    let lease = state.workspaces.lease(&workspace).await?;
    let result = match lease.pipeline_running() {
        true => Err(service::Error::Engine(GuestError::Busy(String::new()))),
        false => lease.clear().await,
    };
    let body = match result {
        Err(service::Error::Engine(GuestError::Busy(_))) => json!({
            "status": "busy",
            "message": "Cannot clear documents while the pipeline is busy",
        }),
        Err(err) => return Err(err.into()),
        Ok(count) => {
            // As LightRAG does, the input directory's files go too.
            let dir = state.config.input_dir.join(workspace.as_str());
            let removed = tokio::task::spawn_blocking(move || remove_input_files(&dir))
                .await
                .map_err(AppError::internal)?;
            tracing::debug!(%workspace, removed, "input files removed with the documents");
            json!({
                "status": "success",
                "message": format!("All documents cleared successfully. Deleted {count} files."),
            })
        }
    };
    Ok((workspace, Json(body)))
}

/// Removes the files directly inside `dir` (not `__parsed__/`, not uploads still
/// being staged); returns how many. A symbolic link is removed, never followed.
fn remove_input_files(dir: &std::path::Path) -> usize {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    entries
        .flatten()
        .filter(|entry| !entry.file_name().to_string_lossy().starts_with('.'))
        .filter(|entry| {
            entry
                .file_type()
                .is_ok_and(|t| t.is_file() || t.is_symlink())
        })
        .filter(|entry| std::fs::remove_file(entry.path()).is_ok())
        .count()
}

pub(super) async fn clear_cache(
    State(state): State<AppState>,
    workspace: Workspace,
) -> Result<(Workspace, Json<Value>), AppError> {
    state
        .workspaces
        .lease(&workspace)
        .await?
        .clear_cache()
        .await?;
    Ok((
        workspace,
        Json(json!({"status": "success", "message": "Successfully cleared all cache"})),
    ))
}
