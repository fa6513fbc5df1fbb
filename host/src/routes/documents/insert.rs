//! Adding documents: text inserts, uploads, scanning the input directory, and
//! retrying failed ones.

use crate::bindings::types::NewDocument;
use crate::error::{AppError, FieldError};
use crate::routes::body::{JsonBody, track_id};
use crate::routes::state::AppState;
use crate::workspace::Workspace;
use axum::Json;
use axum::extract::{Multipart, State};
use serde::Deserialize;
use serde_json::{Value, json};
use std::collections::HashSet;

/// File types `/documents/upload` accepts.
const SUPPORTED_EXTENSIONS: &[&str] = &[".txt", ".md"];

#[derive(Deserialize)]
pub(super) struct InsertText {
    text: Option<String>,
    file_source: Option<String>,
}

#[derive(Deserialize)]
pub(super) struct InsertTexts {
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

/// Stores documents and starts (or feeds) the workspace's pipeline.
async fn enqueue(
    state: &AppState,
    workspace: &Workspace,
    documents: Vec<NewDocument>,
    track_id: &str,
) -> Result<(), AppError> {
    let lease = state.workspaces.lease(workspace).await?;
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

/// LightRAG's upload name checks.
fn check_upload_name(name: &str) -> Result<String, AppError> {
    if name.is_empty() {
        return Err(AppError::BadRequest("Filename cannot be empty".into()));
    }
    if name != name.trim()
        || name.contains(['/', '\\', ':'])
        || name == "."
        || name == ".."
        || name.chars().any(char::is_control)
    {
        return Err(AppError::BadRequest("Unsafe filename detected".into()));
    }
    let lower = name.to_ascii_lowercase();
    if !SUPPORTED_EXTENSIONS.iter().any(|ext| lower.ends_with(ext)) {
        return Err(AppError::BadRequest(format!(
            "Unsupported file type. Supported types: ({})",
            SUPPORTED_EXTENSIONS.join(", ")
        )));
    }
    Ok(name.to_string())
}

pub(super) async fn upload(
    State(state): State<AppState>,
    workspace: Workspace,
    mut multipart: Multipart,
) -> Result<(Workspace, Json<Value>), AppError> {
    let too_large = || {
        AppError::TooLarge(format!(
            "File too large. Maximum size: {:.1}MB",
            state.config.max_upload_size as f64 / (1024.0 * 1024.0)
        ))
    };
    let mut file = None;
    while let Some(field) = multipart.next_field().await.map_err(|e| {
        if e.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
            too_large()
        } else {
            AppError::BadRequest(format!("malformed upload: {e}"))
        }
    })? {
        if field.name() == Some("file") {
            let name = check_upload_name(field.file_name().unwrap_or(""))?;
            let bytes = field.bytes().await.map_err(|e| {
                if e.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
                    too_large()
                } else {
                    AppError::BadRequest(format!("malformed upload: {e}"))
                }
            })?;
            file = Some((name, bytes));
        }
    }
    let (name, bytes) = file.ok_or_else(|| {
        AppError::Validation(vec![FieldError::body("file", "missing", "Field required")])
    })?;
    let limit = state.config.max_upload_size;
    if limit > 0 && bytes.len() as u64 > limit {
        return Err(too_large());
    }
    let content = String::from_utf8(bytes.to_vec())
        .map_err(|_| AppError::BadRequest(format!("File '{name}' is not valid UTF-8 text")))?;
    if content.trim().is_empty() {
        return Err(AppError::BadRequest(format!("File '{name}' is empty")));
    }
    let track = track_id("upload");
    let documents = vec![NewDocument {
        content,
        file_path: name.clone(),
    }];
    enqueue(&state, &workspace, documents, &track).await?;
    let message =
        format!("File '{name}' uploaded successfully. Processing will continue in background.");
    Ok((workspace, insert_response(&message, &track)))
}

/// Reads the supported files directly inside `dir`. Symbolic links (to files or as
/// the directory itself) are skipped: the input directory is the tenant's, and a
/// link must not make the server read anything outside it.
fn read_input_files(dir: &std::path::Path) -> Vec<NewDocument> {
    use std::io::Read;
    use std::os::unix::fs::OpenOptionsExt;
    let is_real_dir = std::fs::symlink_metadata(dir).is_ok_and(|m| m.is_dir());
    if !is_real_dir {
        return Vec::new();
    }
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut documents = Vec::new();
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let Ok(name) = check_upload_name(&name) else {
            continue;
        };
        let Ok(meta) = entry.path().symlink_metadata() else {
            continue;
        };
        if !meta.is_file() {
            continue;
        }
        let mut content = String::new();
        let opened = std::fs::OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NOFOLLOW)
            .open(entry.path());
        if opened
            .and_then(|mut f| f.read_to_string(&mut content))
            .is_err()
            || content.trim().is_empty()
        {
            continue;
        }
        documents.push(NewDocument {
            content,
            file_path: name,
        });
    }
    documents.sort_by(|a, b| a.file_path.cmp(&b.file_path));
    documents
}

/// `POST /documents/scan`: failed documents go back to pending, and the text and
/// markdown files of `INPUT_DIR/<workspace>/` whose names are new are enqueued.
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
    let dir = state.config.input_dir.join(workspace.as_str());
    let documents = tokio::task::spawn_blocking(move || read_input_files(&dir))
        .await
        .map_err(AppError::internal)?;
    lease.reprocess_failed().await?;
    lease.insert_new(documents, track.clone()).await?;
    let body = json!({
        "status": "scanning_started",
        "message": "Scanning process has been initiated in the background",
        "track_id": track,
    });
    Ok((workspace, Json(body)))
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
