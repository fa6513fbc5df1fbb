//! `/documents/*`: adding documents (`insert`), reading their status (`status`),
//! deleting them (`delete`).

mod delete;
mod insert;
mod status;

use super::state::AppState;
use axum::Router;
use axum::routing::{delete, get, post};
use delete::{clear_cache, clear_documents, delete_documents};
use insert::{insert_text, insert_texts, reprocess_failed, scan, upload};
use status::{paginated, pipeline_status, status_counts, track_status};

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
