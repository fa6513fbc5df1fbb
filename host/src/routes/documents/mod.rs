//! `/documents/*`: adding documents (`insert`), files (`files`: uploads, scans),
//! reading their status (`status`), the pipeline's controls (`pipeline`), deleting
//! them (`delete`), name conflicts (`conflicts`).

mod conflicts;
mod delete;
mod files;
mod insert;
mod pipeline;
mod status;

use super::state::AppState;
use axum::Router;
use axum::routing::{delete, get, post};
pub(crate) use conflicts::RepairBody;
pub(crate) use delete::DeleteBody;
pub(crate) use insert::{InsertText, InsertTexts};
pub(crate) use pipeline::ForceReset;
pub(crate) use status::PageRequest;

use conflicts::{repair, source_conflicts};
use delete::{clear_cache, clear_documents, delete_documents};
pub use files::scan_at_startup;
use files::{scan, scan_status, supported_file_types, upload};
use insert::{insert_text, insert_texts, reprocess_failed};
use pipeline::{cancel_pipeline, force_reset, pipeline_status};
use status::{paginated, status_counts, track_status};

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
        .route("/documents/scan/status/{track_id}", get(scan_status))
        .route("/documents/supported_file_types", get(supported_file_types))
        .route("/documents/reprocess_failed", post(reprocess_failed))
        .route("/documents/cancel_pipeline", post(cancel_pipeline))
        .route("/documents/recovery/force_reset", post(force_reset))
        .route("/documents/source_conflicts", get(source_conflicts))
        .route("/documents/source_conflicts/repair", post(repair))
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
