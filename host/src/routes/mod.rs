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
//! * `transfer` — exporting and importing a workspace as an archive (admin key).
//! * `docs` — OpenAPI (`/openapi.json`) and Swagger UI (`/docs`).
//! * `webui` — the web UI at `/webui/` (`/` redirects there), compiled in.
//! * `edges` — request ids, CORS, compression (tower-http).
//! * `state` — [`AppState`], what handlers reach; `tenant` — which workspace a request
//!   is for (the `Workspace` extractor).

mod admin;
mod body;
mod docs;
mod documents;
mod edges;
mod graph;
mod graph_edit;
mod ollama;
mod query;
mod resolver;
mod session;
mod state;
mod system;
mod tenant;
mod transfer;
mod webui;

pub use body::{JsonBody, track_id};
pub use documents::scan_at_startup;
pub use query::query_data_value;
pub use resolver::{FALLBACK_HEADER, HEADER, Resolver};
pub use state::{AppState, Inner};

use axum::Router;
use axum::extract::{DefaultBodyLimit, MatchedPath, Request, State};
use axum::middleware::{self, Next};
use axum::response::Response;

/// Text inserts may be large (LightRAG's 50 MiB for `/documents/text(s)`, unless
/// `MAX_REQUEST_BODY_BYTES` is set).
const TEXT_BODY_LIMIT: usize = 50 * 1024 * 1024;

/// A body limit layer; `None` = no limit.
fn body_limit(bytes: Option<usize>) -> DefaultBodyLimit {
    bytes.map_or_else(DefaultBodyLimit::disable, DefaultBodyLimit::max)
}

/// The whole API. Tests call this directly.
pub fn app(state: AppState) -> Router {
    let upload_limit = match state.config.max_upload_size {
        0 => None,
        n => Some((n as usize).saturating_add(1024 * 1024)),
    };
    let http = &state.config.http;
    let text_limit = match http.max_body_set {
        true => http.max_body,
        false => Some(TEXT_BODY_LIMIT),
    };
    let router = Router::new()
        .merge(system::routes())
        .merge(query::routes())
        .merge(graph::routes())
        .merge(graph_edit::routes())
        .merge(ollama::routes())
        .merge(session::routes())
        .merge(admin::routes())
        .merge(webui::routes())
        .merge(transfer::routes().layer(body_limit(None)))
        .merge(documents::routes())
        .merge(documents::text_routes().layer(body_limit(text_limit)))
        .merge(documents::upload_routes().layer(body_limit(upload_limit)))
        .merge(match state.config.api_docs {
            true => docs::routes(),
            false => Router::new(),
        })
        .layer(body_limit(http.max_body))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            session::authenticate,
        ))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            count_requests,
        ));
    edges::wrap(router, http).with_state(state)
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
