//! The web UI: a single page at `/webui/` (and `/` redirects there, as in LightRAG).
//!
//! Its files (host/webui/: plain HTML, CSS and JavaScript modules, no build step) are
//! compiled into the binary, so the server needs nothing beside it. Like LightRAG we
//! replace a placeholder comment in the page with the client's configuration, and
//! serve the page itself uncached so a new server version is picked up at once.
//!
//! The pages are public; everything they show comes from the API, which checks the
//! caller's credentials as it would for any other client.
//!
//! `LIGHTRAG_WEBUI_DIR` serves the same file names from a directory instead, read on
//! every request: for working on the UI without rebuilding the server.

use super::state::AppState;
use crate::error::AppError;
use axum::Router;
use axum::extract::{Path, State};
use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use serde_json::json;
use std::borrow::Cow;

/// Where the UI lives.
pub const PREFIX: &str = "/webui/";

/// The placeholder the page carries where its configuration goes.
const CONFIG_PLACEHOLDER: &str = "<!-- LIGHTRAG_CONFIG -->";

/// `(name, media type, contents)` of every file of the UI.
const FILES: &[(&str, &str, &str)] = &[
    (
        "index.html",
        "text/html; charset=utf-8",
        include_str!("../../webui/index.html"),
    ),
    (
        "style.css",
        "text/css; charset=utf-8",
        include_str!("../../webui/style.css"),
    ),
    (
        "app.js",
        "text/javascript; charset=utf-8",
        include_str!("../../webui/app.js"),
    ),
    (
        "api.js",
        "text/javascript; charset=utf-8",
        include_str!("../../webui/api.js"),
    ),
    (
        "documents.js",
        "text/javascript; charset=utf-8",
        include_str!("../../webui/documents.js"),
    ),
    (
        "retrieval.js",
        "text/javascript; charset=utf-8",
        include_str!("../../webui/retrieval.js"),
    ),
    (
        "graph.js",
        "text/javascript; charset=utf-8",
        include_str!("../../webui/graph.js"),
    ),
    (
        "operator.js",
        "text/javascript; charset=utf-8",
        include_str!("../../webui/operator.js"),
    ),
];

/// `/`, `/webui` and the UI's files.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/", get(to_webui))
        .route("/webui", get(to_webui))
        .route("/webui/", get(index))
        .route("/webui/{file}", get(file))
}

/// Whether `path` belongs to the UI (public, like LightRAG's).
pub fn is_webui_path(path: &str) -> bool {
    path == "/" || path == "/webui" || path.starts_with(PREFIX)
}

async fn to_webui() -> Redirect {
    Redirect::temporary(PREFIX)
}

async fn index(State(state): State<AppState>) -> Result<Response, AppError> {
    file(State(state), Path("index.html".into())).await
}

async fn file(
    State(state): State<AppState>,
    Path(name): Path<String>,
) -> Result<Response, AppError> {
    let Some(&(name, media_type, built_in)) = FILES.iter().find(|(n, _, _)| *n == name) else {
        return Err(AppError::NotFound(format!("No such web UI file: {name}")));
    };
    // Only the names above are ever read from the directory: a request cannot name
    // any other file.
    let contents: Cow<'static, str> = match &state.config.webui_dir {
        Some(dir) => tokio::fs::read_to_string(dir.join(name))
            .await
            .map(Cow::Owned)
            .map_err(|e| AppError::internal(format!("LIGHTRAG_WEBUI_DIR/{name}: {e}")))?,
        None => Cow::Borrowed(built_in),
    };
    let contents = match name {
        "index.html" => Cow::Owned(contents.replace(CONFIG_PLACEHOLDER, &config_script(&state))),
        _ => contents,
    };
    Ok((
        [
            (CONTENT_TYPE, media_type),
            (CACHE_CONTROL, "no-cache, no-store, must-revalidate"),
        ],
        contents.into_owned(),
    )
        .into_response())
}

/// LightRAG's `window.__LIGHTRAG_CONFIG__`. JSON inside a script element: `<` is
/// escaped so a title can never close the element.
fn config_script(state: &AppState) -> String {
    let settings = state.auth.settings();
    let config = json!({
        "apiPrefix": "",
        "webuiPrefix": PREFIX,
        "webuiTitle": settings.webui_title(),
        "webuiDescription": settings.webui_description(),
    });
    let json = config.to_string().replace('<', "\\u003c");
    format!("<script>window.__LIGHTRAG_CONFIG__={json}</script>")
}
