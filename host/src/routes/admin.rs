//! The workspace lifecycle API, for operators: list, create, inspect, limit, audit
//! and delete workspaces. These routes take the workspace from the path (never from
//! the tenant header) and require `X-Admin-Key: <LIGHTRAG_ADMIN_API_KEY>`.
//!
//! Host-side file access to workspace directories goes through `cap-std`: a tenant's
//! engine can leave symbolic links in its directory, and the host must never follow
//! one out of it (to measure, or worse, to delete).

use super::body::JsonBody;
use super::state::AppState;
use crate::catalog;
use crate::error::AppError;
use crate::limits::Overrides;
use crate::workspace::Workspace;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{get, put};
use axum::{Json, Router};
use cap_std::ambient_authority;
use cap_std::fs::Dir;
use serde::Deserialize;
use serde_json::{Value, json};

/// The admin routes.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/workspaces", get(list).post(create))
        .route("/workspaces/{name}", get(inspect).delete(remove))
        .route("/workspaces/{name}/limits", put(set_limits))
        .route("/workspaces/{name}/audit", get(audit))
}

/// Checks `X-Admin-Key` in constant time.
pub(super) fn require_admin(state: &AppState, headers: &HeaderMap) -> Result<(), AppError> {
    use crate::auth::AuthError;
    let configured = state.config.admin_key.as_bytes();
    if configured.is_empty() {
        return Err(AppError::Auth(AuthError::Forbidden(
            "The admin API is disabled; set LIGHTRAG_ADMIN_API_KEY".into(),
        )));
    }
    let presented = headers
        .get("x-admin-key")
        .map(|v| v.as_bytes())
        .ok_or_else(|| AppError::Auth(AuthError::Unauthorized("Admin key required".into())))?;
    let same = presented.len() == configured.len()
        && presented
            .iter()
            .zip(configured)
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0;
    if same {
        Ok(())
    } else {
        Err(AppError::Auth(AuthError::Forbidden(
            "Invalid admin key".into(),
        )))
    }
}

pub(super) fn workspace_from_path(name: &str) -> Result<Workspace, AppError> {
    Workspace::new(name)
        .map_err(|why| AppError::BadRequest(format!("Invalid workspace name: {why}")))
}

/// The working directory as a capability: nothing reached through it can escape it.
fn root(state: &AppState) -> Result<Dir, AppError> {
    Dir::open_ambient_dir(&state.config.working_dir, ambient_authority())
        .map_err(|e| AppError::internal(format!("cannot open WORKING_DIR: {e}")))
}

fn exists(root: &Dir, workspace: &Workspace) -> bool {
    root.symlink_metadata(workspace.as_str())
        .is_ok_and(|m| m.is_dir())
}

/// For the routes on one workspace: the caller must be the admin, and the workspace
/// named in the path must exist. Returns it with the working directory it is in.
pub(super) fn existing(
    state: &AppState,
    headers: &HeaderMap,
    name: &str,
) -> Result<(Workspace, Dir), AppError> {
    require_admin(state, headers)?;
    let workspace = workspace_from_path(name)?;
    let root = root(state)?;
    if !exists(&root, &workspace) {
        return Err(super::session::not_found(&workspace));
    }
    Ok((workspace, root))
}

/// Bytes under `dir`, counting links as themselves and never following them.
fn size_of(dir: &Dir) -> u64 {
    let Ok(entries) = dir.entries() else { return 0 };
    let mut total = 0;
    for entry in entries.flatten() {
        let Ok(meta) = entry.metadata() else { continue };
        if meta.is_dir() {
            if let Ok(sub) = entry.open_dir() {
                total += size_of(&sub);
            }
        } else {
            total += meta.len();
        }
    }
    total
}

fn catalog_dir(state: &AppState) -> std::path::PathBuf {
    state.config.dirs.catalog.clone()
}

async fn list(State(state): State<AppState>, headers: HeaderMap) -> Result<Json<Value>, AppError> {
    require_admin(&state, &headers)?;
    let root = root(&state)?;
    let loaded = state.workspaces.loaded();
    let names = Workspace::existing(&state.config.working_dir);
    let workspaces: Vec<Value> = names
        .into_iter()
        .map(|ws| {
            let bytes = root.open_dir(ws.as_str()).map(|d| size_of(&d)).unwrap_or(0);
            let live = loaded.iter().find(|entry| entry.key == ws);
            let record = catalog::load(&catalog_dir(&state), &ws);
            let last_used = match live {
                Some(entry) => Some(
                    chrono::Utc::now().timestamp() - entry.last_used.elapsed().as_secs() as i64,
                ),
                None => record.map(|r| r.last_used),
            };
            json!({
                "name": ws.as_str(),
                "bytes": bytes,
                "documents": record.map(|r| r.documents),
                // As of the last unload: memory the engine's tables used.
                "memory_bytes": record.map(|r| r.memory_bytes),
                // Loaded only: the instance's linear memory, which the limit caps.
                "memory_reserved_bytes": state.workspaces.memory_in_use(&ws),
                "memory_limit_bytes": state.limits.of(&ws).memory_bytes(),
                "loaded": live.is_some(),
                "last_used": last_used,
            })
        })
        .collect();
    Ok(Json(json!({ "workspaces": workspaces })))
}

#[derive(Deserialize)]
struct CreateBody {
    name: String,
    #[serde(default)]
    limits: Overrides,
}

async fn create(
    State(state): State<AppState>,
    headers: HeaderMap,
    JsonBody(body): JsonBody<CreateBody>,
) -> Result<(StatusCode, Json<Value>), AppError> {
    require_admin(&state, &headers)?;
    let workspace = workspace_from_path(&body.name)?;
    body.limits.validate().map_err(AppError::BadRequest)?;
    let root = root(&state)?;
    if exists(&root, &workspace) {
        return Err(AppError::Conflict(format!(
            "Workspace '{workspace}' already exists"
        )));
    }
    root.create_dir(workspace.as_str())
        .map_err(AppError::internal)?;
    if body.limits != Overrides::default() {
        state
            .limits
            .set(&workspace, &body.limits)
            .map_err(AppError::internal)?;
    }
    state.audit.record(
        workspace.as_str(),
        "admin",
        json!({"action": "create", "limits": body.limits}),
    );
    Ok((
        StatusCode::CREATED,
        Json(json!({"name": workspace.as_str(), "limits": state.limits.of(&workspace)})),
    ))
}

async fn inspect(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(name): Path<String>,
) -> Result<Json<Value>, AppError> {
    let (workspace, root) = existing(&state, &headers, &name)?;
    let stats = state.workspaces.lease(&workspace).await?.stats().await?;
    let bytes = root
        .open_dir(workspace.as_str())
        .map(|d| size_of(&d))
        .unwrap_or(0);
    Ok(Json(json!({
        "name": workspace.as_str(),
        "documents": stats.documents,
        "chunks": stats.chunks,
        "entities": stats.entities,
        "relations": stats.relations,
        "cache_entries": stats.cache_entries,
        "engine_bytes": stats.disk_bytes,
        "memory_bytes": stats.memory_bytes,
        "memory_reserved_bytes": state.workspaces.memory_in_use(&workspace),
        "memory_limit_bytes": state.limits.of(&workspace).memory_bytes(),
        "bytes": bytes,
        "limits": state.limits.of(&workspace),
        "limit_overrides": state.limits.overrides(&workspace),
        "usage": state.metrics.usage_of(workspace.as_str()),
    })))
}

async fn set_limits(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(name): Path<String>,
    JsonBody(overrides): JsonBody<Overrides>,
) -> Result<Json<Value>, AppError> {
    require_admin(&state, &headers)?;
    let workspace = workspace_from_path(&name)?;
    overrides.validate().map_err(AppError::BadRequest)?;
    if !exists(&root(&state)?, &workspace) {
        return Err(super::session::not_found(&workspace));
    }
    state
        .limits
        .set(&workspace, &overrides)
        .map_err(AppError::internal)?;
    // Limits apply when an instance opens: retire the live one (finalized) so the
    // next request opens it under the new limits.
    state.workspaces.reopen(&workspace).await?;
    state.audit.record(
        workspace.as_str(),
        "admin",
        json!({"action": "set_limits", "limits": overrides}),
    );
    Ok(Json(
        json!({"name": workspace.as_str(), "limits": state.limits.of(&workspace)}),
    ))
}

async fn remove(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(name): Path<String>,
) -> Result<Json<Value>, AppError> {
    let (workspace, _) = existing(&state, &headers, &name)?;
    // Drained, finalized, removed: the workspace stays closed until its files are
    // gone, so no request can re-open it half-deleted. Finishes even if the caller
    // goes away.
    state.workspaces.delete(&workspace).await?;
    tracing::info!(%workspace, "workspace deleted by the admin API");
    Ok(Json(
        json!({"status": "deleted", "name": workspace.as_str()}),
    ))
}

#[derive(Deserialize)]
struct AuditQuery {
    event: Option<String>,
    #[serde(default)]
    offset: usize,
    limit: Option<usize>,
}

async fn audit(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(name): Path<String>,
    Query(query): Query<AuditQuery>,
) -> Result<Json<Value>, AppError> {
    require_admin(&state, &headers)?;
    let workspace = workspace_from_path(&name)?;
    let limit = query.limit.unwrap_or(100).clamp(1, 1000);
    // A trail can hold tens of megabytes: parse it off the async workers.
    let audit = state.audit.clone();
    let (trail, event, offset) = (workspace.clone(), query.event.clone(), query.offset);
    let (entries, total) =
        tokio::task::spawn_blocking(move || audit.read(&trail, event.as_deref(), offset, limit))
            .await
            .map_err(AppError::internal)?;
    Ok(Json(json!({
        "entries": entries,
        "total": total,
        "offset": query.offset,
        "limit": limit,
    })))
}
