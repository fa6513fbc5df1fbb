//! Files: uploads, scanning the input directory, scan jobs, supported types.
//!
//! The host never looks inside a file. An upload is streamed into a staged file in
//! the workspace's input directory and handed to the engine, which parses it inside
//! the tenant's sandbox (`guest/src/files.rs`); a scan is the engine listing its own
//! `/input`.

use super::insert::admit;
use super::status::state_name;
use crate::bindings::types::{DocState, DocStatus};
use crate::error::{AppError, FieldError};
use crate::routes::body::track_id;
use crate::routes::state::AppState;
use crate::scan_jobs::ScanJob;
use crate::service::WorkspaceLease;
use crate::workspace::Workspace;
use axum::Json;
use axum::extract::{Multipart, Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::{SystemTime, UNIX_EPOCH};
use tokio::io::AsyncWriteExt;

/// LightRAG's upload name checks, against the types the engine parses.
fn check_upload_name(name: &str, supported: &[String]) -> Result<String, AppError> {
    if name.is_empty() {
        return Err(AppError::BadRequest("Filename cannot be empty".into()));
    }
    if name != name.trim()
        || name.contains(['/', '\\', ':'])
        || name == "."
        || name == ".."
        || name.starts_with('.')
        || name.chars().any(char::is_control)
    {
        return Err(AppError::BadRequest("Unsafe filename detected".into()));
    }
    let lower = name.to_ascii_lowercase();
    if !supported.iter().any(|ext| lower.ends_with(ext.as_str())) {
        return Err(AppError::BadRequest(format!(
            "Unsupported file type. Supported types: ({})",
            supported.join(", ")
        )));
    }
    Ok(name.to_string())
}

/// An upload being written to the input directory under a name no scan picks up;
/// removed when dropped unless the engine took it.
struct Staged {
    path: PathBuf,
    name: String,
    taken: bool,
}

impl Drop for Staged {
    fn drop(&mut self) {
        if !self.taken {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

/// Streams the multipart field into a staged file, at most `limit` bytes (0: any).
async fn stage(
    dir: &std::path::Path,
    mut field: axum::extract::multipart::Field<'_>,
    limit: u64,
    too_large: impl Fn() -> AppError,
) -> Result<(Staged, u64), AppError> {
    let name = format!(".upload-{}.part", uuid::Uuid::new_v4().simple());
    let staged = Staged {
        path: dir.join(&name),
        name,
        taken: false,
    };
    let mut file = tokio::fs::File::create(&staged.path)
        .await
        .map_err(AppError::internal)?;
    let mut written = 0u64;
    while let Some(chunk) = field.chunk().await.map_err(|e| {
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            too_large()
        } else {
            AppError::BadRequest(format!("malformed upload: {e}"))
        }
    })? {
        written += chunk.len() as u64;
        if limit > 0 && written > limit {
            return Err(too_large());
        }
        file.write_all(&chunk).await.map_err(AppError::internal)?;
    }
    // The engine commits the document durably; its file must be as durable.
    file.sync_all().await.map_err(AppError::internal)?;
    Ok((staged, written))
}

/// `POST /documents/upload`: the file is stored in the workspace's input directory
/// and parsed in the background, inside the workspace's engine.
pub(super) async fn upload(
    State(state): State<AppState>,
    workspace: Workspace,
    mut multipart: Multipart,
) -> Result<(Workspace, Json<Value>), AppError> {
    let limit = state.config.max_upload_size;
    let too_large = || {
        AppError::TooLarge(format!(
            "File too large. Maximum size: {:.1}MB",
            limit as f64 / (1024.0 * 1024.0)
        ))
    };
    let lease = state.workspaces.lease(&workspace).await?;
    let supported = lease.supported_file_types().await?;
    let dir = state.config.input_dir.join(workspace.as_str());
    let mut upload = None;
    while let Some(field) = multipart.next_field().await.map_err(|e| {
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            too_large()
        } else {
            AppError::BadRequest(format!("malformed upload: {e}"))
        }
    })? {
        if field.name() != Some("file") || upload.is_some() {
            continue;
        }
        let name = check_upload_name(field.file_name().unwrap_or(""), &supported)?;
        admit(&state, &lease, 1).await?;
        let (staged, size) = stage(&dir, field, limit, too_large).await?;
        upload = Some((name, staged, size));
    }
    let (name, mut staged, size) = upload.ok_or_else(|| {
        AppError::Validation(vec![FieldError::body("file", "missing", "Field required")])
    })?;
    if size == 0 {
        return Err(AppError::BadRequest(format!("File '{name}' is empty")));
    }
    let track = track_id("upload");
    lease
        .upload(staged.name.clone(), name.clone(), track.clone())
        .await?;
    staged.taken = true;
    let message =
        format!("File '{name}' uploaded successfully. Processing will continue in background.");
    let body = json!({"status": "success", "message": message, "track_id": track});
    Ok((workspace, Json(body)))
}

/// `GET /documents/supported_file_types`.
pub(super) async fn supported_file_types(
    State(state): State<AppState>,
    workspace: Workspace,
) -> Result<(HeaderMap, Json<Value>), AppError> {
    let lease = state.workspaces.lease(&workspace).await?;
    let types = lease.supported_file_types().await?;
    let mut headers = HeaderMap::new();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(header::VARY, HeaderValue::from_static("LIGHTRAG-WORKSPACE"));
    // One engine parses every type, inside the tenant's sandbox.
    let body = json!({"supported_extensions": types, "engines": {"native": types}});
    Ok((headers, Json(body)))
}

fn unix_now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

/// `POST /documents/scan`: failed documents go back to pending, and the files of
/// `INPUT_DIR/<workspace>/` whose names are new are enqueued for parsing.
pub(super) async fn scan(
    State(state): State<AppState>,
    workspace: Workspace,
) -> Result<(Workspace, Json<Value>), AppError> {
    let track = track_id("scan");
    let lease = state.workspaces.lease(&workspace).await?;
    if lease.pipeline_running() {
        let body = json!({
            "status": "scanning_skipped_pipeline_busy",
            "message": "The pipeline is busy; scan again when it is done",
            "track_id": track,
        });
        return Ok((workspace, Json(body)));
    }
    run_scan(&state, &lease, &track).await?;
    let body = json!({
        "status": "scanning_started",
        "message": "Scanning process has been initiated in the background",
        "track_id": track,
    });
    Ok((workspace, Json(body)))
}

/// Retries failed documents, scans the input directory and records the scan.
async fn run_scan(state: &AppState, lease: &WorkspaceLease, track: &str) -> Result<(), AppError> {
    lease.reprocess_failed().await?;
    let created_at = unix_now();
    let report = lease.scan(track.to_string()).await?;
    state.scans.record(ScanJob {
        workspace: lease.workspace().clone(),
        track_id: track.to_string(),
        created_at,
        report,
    });
    Ok(())
}

/// `AUTO_SCAN_AT_STARTUP`: scans the default workspace, as LightRAG scans its one
/// workspace when it starts.
pub async fn scan_at_startup(state: AppState) {
    let workspace = state.resolver.default.clone();
    let track = track_id("scan");
    let result = match state.workspaces.lease(&workspace).await {
        Ok(lease) => run_scan(&state, &lease, &track).await,
        Err(err) => Err(err.into()),
    };
    match result {
        Ok(()) => {
            state
                .autoscanned
                .store(true, std::sync::atomic::Ordering::Release);
            tracing::info!(%workspace, track, "scanned the input directory at start-up");
        }
        Err(err) => tracing::warn!(%workspace, "start-up scan failed: {err:?}"),
    }
}

/// Whether a document is still on its way.
fn in_progress(doc: &DocStatus) -> bool {
    !matches!(doc.status, DocState::Processed | DocState::Failed)
}

/// Whether the workspace's latest scan still has documents on their way.
/// Read on every poll of the pipeline status: the engine is asked only while a
/// pipeline runs (a scan's documents cannot progress otherwise).
pub(super) async fn scanning(state: &AppState, lease: &WorkspaceLease) -> Result<bool, AppError> {
    let Some(track) = state.scans.latest(lease.workspace()) else {
        return Ok(false);
    };
    if !lease.pipeline_running() {
        return Ok(false);
    }
    let docs = lease.documents_by_track(track).await?;
    Ok(docs.iter().any(in_progress))
}

/// Up to `SAMPLES` items, LightRAG's sample shape.
fn samples(items: Vec<String>) -> Value {
    const SAMPLES: usize = 20;
    let dropped = items.len().saturating_sub(SAMPLES);
    let kept: Vec<String> = items.into_iter().take(SAMPLES).collect();
    json!({"items": kept, "truncated": dropped > 0, "dropped": dropped})
}

/// `GET /documents/scan/status/{track_id}`: what a scan found, and how far its
/// documents have come.
pub(super) async fn scan_status(
    State(state): State<AppState>,
    workspace: Workspace,
    Path(track_id): Path<String>,
) -> Result<(Workspace, Json<Value>), AppError> {
    let track_id = track_id.trim().to_string();
    let found = state.scans.find(&workspace, &track_id);
    let (created_at, report) =
        found.ok_or_else(|| AppError::NotFound(format!("Scan job '{track_id}' not found")))?;
    let lease = state.workspaces.lease(&workspace).await?;
    let docs = lease.documents_by_track(track_id.clone()).await?;
    let mut counts: BTreeMap<String, usize> = BTreeMap::new();
    counts.insert("enqueued".into(), report.enqueued.len());
    counts.insert("archived".into(), report.archived.len());
    counts.insert("skipped".into(), report.skipped.len());
    let (mut processed, mut errors) = (Vec::new(), Vec::new());
    let mut updated_at = created_at;
    for doc in &docs {
        *counts.entry(state_name(doc.status).into()).or_default() += 1;
        match doc.status {
            DocState::Processed => processed.push(doc.file_path.clone()),
            DocState::Failed => errors.push(format!(
                "{}: {}",
                doc.file_path,
                doc.error_msg.clone().unwrap_or_default()
            )),
            _ => {}
        }
        if let Ok(at) = chrono::DateTime::parse_from_rfc3339(&doc.updated_at) {
            updated_at = updated_at.max(at.timestamp_micros() as f64 / 1e6);
        }
    }
    let running = docs.iter().filter(|d| in_progress(d)).count();
    let finished = docs.len() - running;
    let status = if running > 0 { "running" } else { "completed" };
    let message = format!(
        "{} files enqueued, {} already processed (moved to __parsed__), {} skipped; {} \
         processed, {} failed, {running} in progress",
        report.enqueued.len(),
        report.archived.len(),
        report.skipped.len(),
        processed.len(),
        errors.len(),
    );
    let warnings = report
        .skipped
        .iter()
        .map(|name| format!("{name}: its document is already waiting or in progress"))
        .collect();
    let body = json!({
        "track_id": track_id,
        "status": status,
        "counts": counts,
        "counters_dropped": 0,
        "samples": {
            "processed": samples(processed),
            "warning": samples(warnings),
            "error": samples(errors),
        },
        "created_at": created_at,
        "updated_at": updated_at,
        "version": finished + 1,
        "message": message,
    });
    Ok((workspace, Json(body)))
}
