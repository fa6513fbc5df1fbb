//! `/health` and `/metrics`.

use super::session::MaybeAccess;
use super::state::AppState;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{Value, json};

/// LightRAG's core and API versions this server is compatible with.
pub const CORE_VERSION: &str = "1.5.7";
/// See [`CORE_VERSION`].
pub const API_VERSION: &str = "0344";

/// The system routes.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/health", get(health))
        .route("/metrics", get(metrics))
}

/// Always 200. Reports the pipeline of the workspace the headers name, without
/// opening it (a health probe must never load tenants). Callers whose credentials
/// were accepted (everyone, without authentication) also get the configuration and
/// pool summary; secrets never appear.
async fn health(
    State(state): State<AppState>,
    access: MaybeAccess,
    headers: HeaderMap,
) -> Json<Value> {
    let authenticated = access.as_ref().is_some_and(|a| a.authenticated);
    // Never opens a workspace or waits for its engine: a liveness probe must not
    // queue behind a tenant's long guest call.
    let pipeline_busy = state
        .resolver
        .resolve(&headers)
        .is_ok_and(|workspace| state.workspaces.pipeline_busy(&workspace));
    let config = &state.config;
    let pool = state.workspaces.summary();
    let mut body = json!({
        "status": "healthy",
        "auth_mode": state.auth.mode().as_str(),
        "core_version": CORE_VERSION,
        "api_version": API_VERSION,
        "webui_available": true,
        "workspace_available": false,
        "api_docs_available": config.api_docs,
        "webui_title": state.auth.settings().webui_title(),
        "webui_description": state.auth.settings().webui_description(),
        "ai_content_notice_enabled": false,
        "pipeline_busy": pipeline_busy,
        "pipeline_active": pipeline_busy,
    });
    if !authenticated {
        return Json(body);
    }
    let ((llm_in_use, llm_waiting), (embed_in_use, embed_waiting)) =
        state.workspaces.providers().load();
    let details = json!({
        "working_directory": config.working_dir,
        "input_directory": config.input_dir,
        "configuration": {
            "llm_binding": config.llm.binding.name(),
            "llm_binding_host": config.llm.host,
            "llm_model": config.llm.model,
            "embedding_binding": config.embedding.binding.name(),
            "embedding_binding_host": config.embedding.host,
            "embedding_model": config.embedding.model,
            "embedding_dim": config.embedding_dim,
            "kv_storage": "EngineJournal",
            "doc_status_storage": "EngineJournal",
            "graph_storage": "EngineJournal",
            "vector_storage": "EngineJournal",
            "enable_llm_cache_for_extract": config.engine.enable_llm_cache_for_extract,
            "enable_llm_cache": config.engine.enable_llm_cache,
            "workspace": config.default_workspace,
            "max_parallel_insert": config.engine.max_parallel_insert,
            "cosine_threshold": (f64::from(config.engine.cosine_threshold) * 1e6).round() / 1e6,
            "summary_language": config.engine.summary_language,
            "max_async": config.max_async,
            "embedding_func_max_async": config.embedding_max_async,
            "embedding_batch_num": config.embedding_batch,
            "llm_timeout": config.llm_timeout.as_secs(),
            "embedding_timeout": config.embedding_timeout.as_secs(),
            "enable_rerank": false,
        },
        "pool": pool,
        "llm_queue_status": {"in_use": llm_in_use, "waiting": llm_waiting, "capacity": config.max_async},
        "embedding_queue_status": {"in_use": embed_in_use, "waiting": embed_waiting, "capacity": config.embedding_max_async},
        "uptime_seconds": state.started.elapsed().as_secs(),
    });
    if let (Some(out), Value::Object(extra)) = (body.as_object_mut(), details) {
        out.extend(extra);
    }
    Json(body)
}

async fn metrics(State(state): State<AppState>) -> impl IntoResponse {
    let pool = state.workspaces.summary();
    let ((llm_in_use, llm_waiting), (embed_in_use, embed_waiting)) =
        state.workspaces.providers().load();
    let gauges = crate::metrics::Gauges {
        instances: pool.loaded,
        capacity: pool.capacity,
        leases: pool.leases,
        waiting: pool.waiting,
        model_calls: llm_in_use + llm_waiting + embed_in_use + embed_waiting,
    };
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/plain; version=0.0.4"),
        )],
        state.metrics.render(&gauges),
    )
}
