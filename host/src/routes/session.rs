//! Authentication on the wire: the middleware that runs before everything else,
//! `/login`, `/auth-status`, `/auth/verify`, `/auth/workspaces`, and the rule that a
//! workspace header chooses a workspace but never grants access to it.

use super::state::AppState;
use crate::auth::{Access, AuthError, Principal};
use crate::error::AppError;
use crate::workspace::Workspace;
use axum::extract::{ConnectInfo, Form, Request, State};
use axum::http::HeaderMap;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Extension, Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};
use std::net::SocketAddr;

/// The authentication routes.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/login", post(login))
        .route("/auth-status", get(auth_status))
        .route("/auth/verify", get(verify))
        .route("/auth/workspaces", get(workspaces))
}

/// Runs before routing and before workspace resolution, so a bad key is a 401/403
/// even when the workspace header is bad too. The decision travels with the request.
pub async fn authenticate(
    State(state): State<AppState>,
    mut request: Request,
    next: Next,
) -> Response {
    let path = request.uri().path().to_string();
    // As in LightRAG, the API docs are public. The admin API checks its own key
    // (`X-Admin-Key`), whatever tenants use.
    let public = matches!(path.as_str(), "/login" | "/auth-status" | "/openapi.json")
        || path == "/docs"
        || path.starts_with("/docs/")
        || super::webui::is_webui_path(&path)
        || path == "/workspaces"
        || path.starts_with("/workspaces/");
    let decision = if public {
        Ok(Access {
            principal: Principal::Anonymous,
            authenticated: false,
        })
    } else {
        state.auth.authenticate(&path, request.headers())
    };
    match decision {
        Ok(access) => {
            let renewal = match access.authenticated {
                true => state.auth.renewal(&path, request.headers()),
                false => None,
            };
            request.extensions_mut().insert(access);
            let mut response = next.run(request).await;
            if let Some(token) = renewal.and_then(|t| t.parse().ok()) {
                response.headers_mut().insert("x-new-token", token);
            }
            response
        }
        Err(err) => err.into_response(),
    }
}

/// Whether `access` may use `workspace`. A principal bound to other workspaces gets
/// exactly the answer a workspace that does not exist gets, so tenants cannot probe
/// for each other. When per-workspace keys are configured, a request without any
/// accepted credential (e.g. on a whitelisted path, or with a guest token) reaches no
/// workspace at all.
pub fn check_access(
    state: &AppState,
    access: Option<&Access>,
    workspace: &Workspace,
) -> Result<(), AppError> {
    let Some(access) = access else {
        return Ok(());
    };
    // A guest token is public (`/auth-status` hands one to anyone): it is no more a
    // credential than none at all.
    if state.auth.settings().workspace_keys_file().is_some()
        && matches!(access.principal, Principal::Anonymous | Principal::Guest)
    {
        return Err(AppError::Auth(AuthError::Forbidden(
            "API Key required".into(),
        )));
    }
    if access.may_use(workspace.as_str()) {
        Ok(())
    } else {
        Err(not_found(workspace))
    }
}

/// The answer for a workspace that does not exist, or that the caller may not use.
pub fn not_found(workspace: &Workspace) -> AppError {
    AppError::NotFound(format!("Workspace '{workspace}' not found"))
}

#[derive(Deserialize)]
struct LoginForm {
    username: String,
    password: String,
    grant_type: Option<String>,
}

async fn login(
    State(state): State<AppState>,
    connect: Option<Extension<ConnectInfo<SocketAddr>>>,
    headers: HeaderMap,
    form: Result<Form<LoginForm>, axum::extract::rejection::FormRejection>,
) -> Result<Json<Value>, AppError> {
    let Form(form) = form.map_err(|e| {
        AppError::Validation(vec![crate::error::FieldError {
            loc: vec!["body".into()],
            msg: e.body_text(),
            kind: "missing".into(),
        }])
    })?;
    // The lockout counts per client: a peer's own claim of who it forwards for is
    // believed only from a proxy the operator named (`LIGHTRAG_TRUSTED_PROXIES`).
    let peer = connect.map(|c| c.0.0.ip());
    let forwarded = headers
        .get("x-forwarded-for")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(',').next())
        .map(|v| v.trim().to_string());
    let trusted = peer.is_some_and(|p| state.config.http.trusted_proxies.contains(&p));
    let ip = match (trusted, forwarded) {
        (true, Some(client)) => client,
        _ => peer.map(|p| p.to_string()).unwrap_or_default(),
    };
    let auth = state.auth.clone();
    // Checking a bcrypt hash is slow on purpose: keep it off the async workers.
    let reply = tokio::task::spawn_blocking(move || {
        auth.login(
            &form.username,
            &form.password,
            form.grant_type.as_deref(),
            &ip,
        )
    })
    .await
    .map_err(AppError::internal)?
    .map_err(AppError::Auth)?;
    Ok(Json(reply))
}

async fn auth_status(State(state): State<AppState>) -> Json<Value> {
    Json(state.auth.auth_status())
}

/// `/auth/verify` checks credentials even on whitelisted paths.
async fn verify(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Json<Value>, AppError> {
    state
        .auth
        .authenticate_strict(&headers)
        .map_err(AppError::Auth)?;
    Ok(Json(json!({"status": "ok"})))
}

/// The request's authentication decision, for handlers that resolve the workspace
/// themselves.
pub type MaybeAccess = Option<Extension<Access>>;

/// `/auth/workspaces`: the workspaces the caller may use (for the web UI's switcher).
/// A principal bound to workspaces gets its own list, whether or not they hold data
/// yet; any other caller may use every workspace and gets those that exist, with the
/// default. Names only: nothing here opens a workspace.
async fn workspaces(
    State(state): State<AppState>,
    access: MaybeAccess,
) -> Result<Json<Value>, AppError> {
    let access = access.map(|Extension(access)| access);
    let default = state
        .resolver
        .allow_default
        .then(|| state.resolver.default.clone());
    if let Some(workspace) = &default {
        check_access(&state, access.as_ref(), workspace).or_else(|err| match err {
            AppError::NotFound(_) => Ok(()),
            other => Err(other),
        })?;
    }
    let mut names: Vec<Workspace> = match access.as_ref().and_then(|a| a.principal.workspaces()) {
        Some(bound) => bound
            .iter()
            .filter_map(|name| Workspace::new(name).ok())
            .collect(),
        None => {
            let root = state.config.working_dir.clone();
            tokio::task::spawn_blocking(move || Workspace::existing(&root))
                .await
                .map_err(AppError::internal)?
        }
    };
    let visible = |ws: &Workspace| access.as_ref().is_none_or(|a| a.may_use(ws.as_str()));
    if let Some(workspace) = default.as_ref().filter(|ws| visible(ws)) {
        names.push(workspace.clone());
    }
    names.retain(|ws| visible(ws));
    names.sort();
    names.dedup();
    Ok(Json(json!({
        "workspaces": names.iter().map(Workspace::as_str).collect::<Vec<_>>(),
        "default": default.filter(|ws| visible(ws)).map(|ws| ws.to_string()),
    })))
}
