//! `/documents/*`: adding documents, reading their status, deleting them.

use super::body::{JsonBody, track_id};
use super::state::AppState;
use crate::bindings::types::{
    DeleteRequest, DocPageRequest, DocSort, DocState, DocStatus, Error as GuestError, NewDocument,
};
use crate::error::{AppError, FieldError};
use crate::service;
use crate::workspace::Workspace;
use axum::extract::{Multipart, Path, State};
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Map, Value, json};
use std::collections::{BTreeMap, HashSet};

/// Routes with the ordinary body limit.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/documents/pipeline_status", get(pipeline_status))
        .route("/documents/track_status/{track_id}", get(track_status))
        .route("/documents/paginated", post(paginated))
        .route("/documents/status_counts", get(status_counts))
        .route("/documents/delete_document", delete(delete_documents))
        .route("/documents/clear_cache", post(clear_cache))
        .route("/documents/scan", post(scan))
        .route("/documents/reprocess_failed", post(reprocess_failed))
        .route("/documents", delete(clear_documents))
}

/// Text inserts, with the larger body limit.
pub fn text_routes() -> Router<AppState> {
    Router::new()
        .route("/documents/text", post(insert_text))
        .route("/documents/texts", post(insert_texts))
}

/// Uploads, with the `MAX_UPLOAD_SIZE` limit.
pub fn upload_routes() -> Router<AppState> {
    Router::new().route("/documents/upload", post(upload))
}

/// File types `/documents/upload` accepts.
const SUPPORTED_EXTENSIONS: &[&str] = &[".txt", ".md"];

#[derive(Deserialize)]
struct InsertText {
    text: Option<String>,
    file_source: Option<String>,
}

#[derive(Deserialize)]
struct InsertTexts {
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

async fn insert_text(
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

async fn insert_texts(
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

async fn upload(
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

fn state_name(state: DocState) -> &'static str {
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

async fn pipeline_status(
    State(state): State<AppState>,
    workspace: Workspace,
) -> Result<(Workspace, Json<Value>), AppError> {
    let status = state
        .workspaces
        .lease(&workspace)
        .await?
        .pipeline_status()
        .await?;
    let body = json!({
        "busy": status.busy,
        "job_name": status.job_name,
        "job_start": status.job_start,
        "docs": status.docs,
        "batchs": status.batchs,
        "cur_batch": status.cur_batch,
        "request_pending": false,
        "latest_message": status.latest_message,
        "history_messages": status.history_messages,
        "update_status": {},
        "recovery_required": false,
        "recovery_kind": null,
        "recovery_message": null,
        "destructive_busy": false,
        "scanning": false,
        "scanning_exclusive": false,
        "pending_enqueues": 0,
        "cancellation_requested": false,
    });
    Ok((workspace, Json(body)))
}

async fn track_status(
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

#[derive(Deserialize)]
struct PageRequest {
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

async fn paginated(
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

async fn status_counts(
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

#[derive(Deserialize)]
struct DeleteBody {
    doc_ids: Option<Vec<String>>,
    #[serde(default)]
    delete_file: bool,
    #[serde(default)]
    delete_llm_cache: bool,
}

async fn delete_documents(
    State(state): State<AppState>,
    workspace: Workspace,
    JsonBody(body): JsonBody<DeleteBody>,
) -> Result<(Workspace, Json<Value>), AppError> {
    let _ = body.delete_file;
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
    });
    let body = json!({
        "status": "deletion_started",
        "message": format!("Document deletion for '{joined}' has been initiated. Processing will continue in background."),
        "doc_id": joined,
    });
    Ok((workspace, Json(body)))
}

async fn clear_documents(
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
        Ok(count) => json!({
            "status": "success",
            "message": format!("All documents cleared successfully. Deleted {count} files."),
        }),
    };
    Ok((workspace, Json(body)))
}

async fn clear_cache(
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
async fn scan(
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
async fn reprocess_failed(
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
