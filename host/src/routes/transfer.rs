//! Moving a workspace between servers, for operators (`X-Admin-Key`):
//!
//! * `GET /workspaces/{name}/export` — the workspace as one archive (see
//!   [`crate::archive`]), written while it keeps serving.
//! * `POST /workspaces/{name}/import` — the body is such an archive; it becomes the
//!   workspace `name`, which must hold nothing. The answer counts what the workspace
//!   holds once opened, for the caller to compare with the source.
//! * `POST /workspaces/{name}/import-lightrag` — `{"source", "embedding_model"}`: the
//!   Python LightRAG workspace directory `LIGHTRAG_IMPORT_DIR/<source>` becomes the
//!   empty workspace `name`.

use super::admin::{existing, require_admin, workspace_from_path};
use super::body::JsonBody;
use super::state::AppState;
use crate::error::AppError;
use axum::Json;
use axum::Router;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::header::{CONTENT_DISPOSITION, CONTENT_TYPE};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use futures::StreamExt;
use serde_json::{Value, json};
use tokio::io::AsyncWriteExt;

/// The transfer routes. The import's body is an archive of any size, streamed to
/// disk: no body limit.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/workspaces/{name}/export", get(export))
        .route("/workspaces/{name}/import", post(import))
        .route("/workspaces/{name}/import-lightrag", post(import_lightrag))
}

async fn export(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(name): Path<String>,
) -> Result<Response, AppError> {
    let (workspace, _) = existing(&state, &headers, &name)?;
    let staging = state.workspaces.staging()?;
    let file = staging.path.join("workspace.tar.gz");
    let manifest = state.workspaces.export(&workspace, file.clone()).await?;
    state.audit.record(
        workspace.as_str(),
        "admin",
        json!({"action": "export", "files": manifest.files.len()}),
    );
    let reader = tokio::fs::File::open(&file)
        .await
        .map_err(AppError::internal)?;
    // The staging directory (and the archive in it) goes when the body is done.
    let body = tokio_util::io::ReaderStream::new(reader).map(move |chunk| {
        let _keep = &staging;
        chunk
    });
    Ok((
        [
            (CONTENT_TYPE, "application/gzip".to_string()),
            (
                CONTENT_DISPOSITION,
                format!("attachment; filename=\"{workspace}.lightrag-workspace.tar.gz\""),
            ),
        ],
        Body::from_stream(body),
    )
        .into_response())
}

async fn import(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(name): Path<String>,
    body: Body,
) -> Result<(StatusCode, Json<Value>), AppError> {
    require_admin(&state, &headers)?;
    let workspace = workspace_from_path(&name)?;
    // The archive on disk first: a client that goes away mid-upload leaves nothing.
    let upload = state.workspaces.staging()?;
    let file = upload.path.join("upload.tar.gz");
    let mut out = tokio::fs::File::create(&file)
        .await
        .map_err(AppError::internal)?;
    let mut stream = body.into_data_stream();
    let mut received = 0u64;
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| AppError::BadRequest(format!("upload broken off: {e}")))?;
        received += chunk.len() as u64;
        out.write_all(&chunk).await.map_err(AppError::internal)?;
    }
    out.flush().await.map_err(AppError::internal)?;
    drop(out);
    if received == 0 {
        return Err(AppError::BadRequest(
            "The body must be a workspace archive (from GET /workspaces/{name}/export)".into(),
        ));
    }
    let (staged, manifest) = state.workspaces.unpack(file).await?;
    drop(upload);
    state
        .workspaces
        .install(&workspace, staged, manifest.limits)
        .await?;
    let stats = state.workspaces.lease(&workspace).await?.stats().await?;
    state.audit.record(
        workspace.as_str(),
        "admin",
        json!({"action": "import", "from": manifest.workspace, "exported_at": manifest.exported_at}),
    );
    Ok((
        StatusCode::CREATED,
        Json(json!({
            "name": workspace.as_str(),
            "from": manifest.workspace,
            "exported_at": manifest.exported_at,
            "files": manifest.files.len(),
            "documents": stats.documents,
            "chunks": stats.chunks,
            "entities": stats.entities,
            "relations": stats.relations,
        })),
    ))
}

#[derive(serde::Deserialize)]
struct LightRagImport {
    /// A directory directly under `LIGHTRAG_IMPORT_DIR`.
    source: String,
    /// The model the directory's vectors were made with (LightRAG does not record it).
    embedding_model: Option<String>,
}

async fn import_lightrag(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(name): Path<String>,
    JsonBody(body): JsonBody<LightRagImport>,
) -> Result<(StatusCode, Json<Value>), AppError> {
    require_admin(&state, &headers)?;
    let workspace = workspace_from_path(&name)?;
    let Some(root) = &state.config.import_dir else {
        return Err(AppError::BadRequest(
            "Importing LightRAG directories is off: set LIGHTRAG_IMPORT_DIR to the directory \
             that holds them"
                .into(),
        ));
    };
    // One plain name: the route reads nothing outside LIGHTRAG_IMPORT_DIR.
    let mut components = std::path::Path::new(&body.source).components();
    let plain = matches!(
        (components.next(), components.next()),
        (Some(std::path::Component::Normal(_)), None)
    );
    if !plain {
        return Err(AppError::BadRequest(format!(
            "source must be the name of a directory in LIGHTRAG_IMPORT_DIR, not {:?}",
            body.source
        )));
    }
    crate::service::check_embedding_model(
        &state.config.embedding.model,
        body.embedding_model.as_deref(),
    )?;
    let source = root.join(&body.source);
    let totals = state
        .workspaces
        .import_lightrag(&workspace, source, |_, _| {})
        .await?;
    let stats = state.workspaces.lease(&workspace).await?.stats().await?;
    state.audit.record(
        workspace.as_str(),
        "admin",
        json!({"action": "import_lightrag", "source": body.source}),
    );
    let imported: serde_json::Map<String, Value> = crate::service::tables(&totals)
        .into_iter()
        .map(|(name, t)| {
            let counts = json!({"read": t.read, "imported": t.imported, "skipped": t.skipped,
                                "skip_reasons": t.skip_reasons});
            (name.to_string(), counts)
        })
        .collect();
    Ok((
        StatusCode::CREATED,
        Json(json!({
            "name": workspace.as_str(),
            "imported": imported,
            "documents": stats.documents,
            "chunks": stats.chunks,
            "entities": stats.entities,
            "relations": stats.relations,
        })),
    ))
}
