//! Source conflicts: several document records under one file name.
//!
//! A document's id is derived from its file name, so two documents cannot share one;
//! what can is a document and the `dup-…` records of later uploads that had the same
//! content under another name, or records whose document was deleted since. The
//! listing shows every name with more than one record; repairing deletes the records
//! that do not own their name and have failed (nothing they derived is kept anyway).

use crate::bindings::types::{
    DeleteRequest, DocPageRequest, DocSort, DocState, DocStatus, Task, TaskOutput,
};
use crate::error::AppError;
use crate::routes::body::JsonBody;
use crate::routes::state::AppState;
use crate::service::WorkspaceLease;
use crate::workspace::Workspace;
use axum::Json;
use axum::extract::State;
use serde::Deserialize;
use serde_json::{Value, json};
use std::collections::BTreeMap;

/// The record that owns the name: the document (`doc-…`, its id derived from the
/// name), not a `dup-…` record.
fn owner(docs: &[DocStatus]) -> Option<&str> {
    docs.iter()
        .map(|d| d.id.as_str())
        .find(|id| id.starts_with("doc-"))
}

/// Every file name with more than one record, with its records (oldest first).
async fn conflicts(lease: &WorkspaceLease) -> Result<BTreeMap<String, Vec<DocStatus>>, AppError> {
    let all = lease
        .documents_page(DocPageRequest {
            states: Vec::new(),
            page: 1,
            page_size: u32::MAX,
            sort: DocSort::CreatedAt,
            descending: false,
        })
        .await?;
    let mut by_name: BTreeMap<String, Vec<DocStatus>> = BTreeMap::new();
    for doc in all.documents {
        by_name.entry(doc.file_path.clone()).or_default().push(doc);
    }
    by_name.retain(|_, docs| docs.len() > 1);
    Ok(by_name)
}

/// Records of a conflict that repairing removes.
fn removable(docs: &[DocStatus]) -> impl Iterator<Item = &DocStatus> {
    let owner = owner(docs);
    docs.iter()
        .filter(move |d| Some(d.id.as_str()) != owner && d.status == DocState::Failed)
}

/// `GET /documents/source_conflicts`.
pub(super) async fn source_conflicts(
    State(state): State<AppState>,
    workspace: Workspace,
) -> Result<(Workspace, Json<Value>), AppError> {
    let lease = state.workspaces.lease(&workspace).await?;
    let found = conflicts(&lease).await?;
    let list: Vec<Value> = found
        .iter()
        .map(|(name, docs)| {
            json!({
                "file_path": name,
                "owner_doc_id": owner(docs),
                "documents": docs.iter().map(|d| json!({
                    "id": d.id,
                    "status": super::status::state_name(d.status),
                    "track_id": d.track_id,
                    "created_at": d.created_at,
                    "error_msg": d.error_msg,
                })).collect::<Vec<_>>(),
                "repairable": removable(docs).count(),
            })
        })
        .collect();
    let body = json!({"conflicts": list, "total": found.len()});
    Ok((workspace, Json(body)))
}

#[derive(Deserialize, utoipa::ToSchema)]
pub(crate) struct RepairBody {
    /// Only these names (all when absent).
    file_paths: Option<Vec<String>>,
}

/// `POST /documents/source_conflicts/repair`: deletes the failed records that share
/// a name with another record without owning it.
pub(super) async fn repair(
    State(state): State<AppState>,
    workspace: Workspace,
    JsonBody(body): JsonBody<RepairBody>,
) -> Result<(Workspace, Json<Value>), AppError> {
    let lease = state.workspaces.lease(&workspace).await?;
    let found = conflicts(&lease).await?;
    let ids: Vec<String> = found
        .iter()
        .filter(|(name, _)| {
            body.file_paths
                .as_ref()
                .is_none_or(|only| only.iter().any(|n| n == *name))
        })
        .flat_map(|(_, docs)| removable(docs).map(|d| d.id.clone()))
        .collect();
    let removed = match ids.is_empty() {
        true => Vec::new(),
        false => {
            let request = DeleteRequest {
                doc_ids: ids,
                delete_llm_cache: false,
                delete_file: false,
            };
            match lease
                .start_task(Task::DeleteDocuments(request), None)
                .await?
            {
                TaskOutput::Deleted((deleted, _)) => deleted,
                _ => {
                    return Err(AppError::internal(
                        "deletion returned another task's output",
                    ));
                }
            }
        }
    };
    lease.audit("source_conflicts_repaired", json!({ "removed": removed }));
    let body = json!({
        "status": "success",
        "message": format!("Removed {} conflicting records", removed.len()),
        "removed": removed,
    });
    Ok((workspace, Json(body)))
}
