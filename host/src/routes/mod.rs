//! The HTTP API, in LightRAG's routes and shapes.
//!
//! * `system` — `/health`, `/metrics`.
//! * `documents` — `/documents/*`: insert, upload, status, paging, deletion.
//! * `query` — `/query`, `/query/data`; `stream` — `/query/stream` (NDJSON, progress).
//! * `graph` — `/graph/*`, `/graphs`: labels, search, subgraphs.
//! * `graph_edit` — creating, editing, merging and deleting entities and relations.
//! * `ollama` — the Ollama-compatible `/api/*` (chat, generate, tags).
//! * `session` — authentication middleware, `/login`, `/auth-status`.
//! * `admin` — the workspace lifecycle API (`/workspaces`, admin key only).
//! * `state` — [`AppState`], what handlers reach; `tenant` — which workspace a request
//!   is for (the `Workspace` extractor).

mod admin;
mod documents;
mod graph;
mod graph_edit;
mod ollama;
mod query;
mod session;
mod state;
mod system;
mod tenant;

pub use state::{AppState, Inner};
pub use tenant::{FALLBACK_HEADER, HEADER, Resolver};

use crate::error::{AppError, FieldError};
use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, FromRequest, MatchedPath, Request, State};
use axum::middleware::{self, Next};
use axum::response::Response;
use serde::de::DeserializeOwned;

/// Ordinary request bodies (LightRAG's `MAX_REQUEST_BODY_BYTES` default).
const BODY_LIMIT: usize = 1024 * 1024;
/// Text inserts may be large (LightRAG's 50 MiB for `/documents/text(s)`).
const TEXT_BODY_LIMIT: usize = 50 * 1024 * 1024;

/// The whole API. Tests call this directly.
pub fn app(state: AppState) -> Router {
    let upload_limit = match state.config.max_upload_size {
        0 => usize::MAX,
        n => (n as usize).saturating_add(1024 * 1024),
    };
    Router::new()
        .merge(system::routes())
        .merge(query::routes())
        .merge(graph::routes())
        .merge(graph_edit::routes())
        .merge(ollama::routes())
        .merge(session::routes())
        .merge(admin::routes())
        .merge(documents::routes())
        .merge(documents::text_routes().layer(DefaultBodyLimit::max(TEXT_BODY_LIMIT)))
        .merge(documents::upload_routes().layer(DefaultBodyLimit::max(upload_limit)))
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            session::authenticate,
        ))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            count_requests,
        ))
        .with_state(state)
}

/// Counts every response by route pattern and status.
async fn count_requests(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or("unmatched", |p| p.as_str())
        .to_string();
    let response = next.run(request).await;
    state
        .metrics
        .count_request(&route, response.status().as_u16());
    response
}

/// A JSON body whose errors come back in LightRAG's (FastAPI's) shapes: 422 for an
/// invalid body, 413 for an oversized one.
pub struct JsonBody<T>(pub T);

impl<T, S> FromRequest<S> for JsonBody<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = AppError;

    async fn from_request(req: Request, state: &S) -> Result<Self, AppError> {
        let bytes = Bytes::from_request(req, state).await.map_err(|rejection| {
            if rejection.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
                AppError::TooLarge("Request body too large".into())
            } else {
                AppError::BadRequest(format!("cannot read the request body: {rejection}"))
            }
        })?;
        serde_json::from_slice(&bytes).map(JsonBody).map_err(|err| {
            let kind = if err.is_syntax() || err.is_eof() {
                "json_invalid"
            } else {
                "value_error"
            };
            AppError::Validation(vec![FieldError {
                loc: vec!["body".into()],
                msg: err.to_string(),
                kind: kind.into(),
            }])
        })
    }
}

/// LightRAG's track id: `<prefix>_<YYYYMMDD_HHMMSS>_<8 hex>`, local time.
pub fn track_id(prefix: &str) -> String {
    let uuid = uuid::Uuid::new_v4().simple().to_string();
    format!(
        "{prefix}_{}_{}",
        chrono::Local::now().format("%Y%m%d_%H%M%S"),
        &uuid[..8]
    )
}
