//! Who a request is and what was decided: [`AuthMode`], [`Principal`], [`Access`], and
//! [`AuthError`] with its LightRAG-shaped HTTP response.

use std::fmt;

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::TOO_MANY_ATTEMPTS;

// ---------------------------------------------------------------------------------
// Principals and decisions
// ---------------------------------------------------------------------------------

/// The profile, decided at start-up.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AuthMode {
    /// Neither accounts nor an API key: everything is accepted.
    Open,
    /// `LIGHTRAG_API_KEY` only.
    KeyOnly,
    /// `AUTH_ACCOUNTS` (with or without a key).
    Accounts,
}

impl AuthMode {
    /// LightRAG's `auth_mode`: `"enabled"` only with accounts, else `"disabled"`.
    pub fn as_str(self) -> &'static str {
        match self {
            AuthMode::Accounts => "enabled",
            AuthMode::Open | AuthMode::KeyOnly => "disabled",
        }
    }
}

/// Who a request is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Principal {
    /// No credentials (open profile), or none accepted on a whitelisted path.
    Anonymous,
    /// A guest token, in the open profile.
    Guest,
    /// The global `LIGHTRAG_API_KEY`.
    ApiKey,
    /// A logged-in account that is not bound to workspaces.
    User(String),
    /// A logged-in account that `LIGHTRAG_WORKSPACE_KEYS_FILE` binds to `workspaces`.
    BoundUser {
        name: String,
        workspaces: Vec<String>,
    },
    /// A key from `LIGHTRAG_WORKSPACE_KEYS_FILE`, bound to `workspaces`.
    WorkspaceKey {
        name: String,
        workspaces: Vec<String>,
    },
}

impl Principal {
    /// Whether this principal may use `workspace`. Bound principals may use only their
    /// workspaces; everyone else, every workspace. The server answers a workspace that
    /// is refused here exactly like one that does not exist.
    pub fn may_use(&self, workspace: &str) -> bool {
        match self.workspaces() {
            Some(allowed) => allowed.iter().any(|w| w == workspace),
            None => true,
        }
    }

    /// The workspaces this principal is bound to; `None` for unbound principals.
    pub fn workspaces(&self) -> Option<&[String]> {
        match self {
            Principal::BoundUser { workspaces, .. }
            | Principal::WorkspaceKey { workspaces, .. } => Some(workspaces),
            Principal::Anonymous | Principal::Guest | Principal::ApiKey | Principal::User(_) => {
                None
            }
        }
    }

    /// The account name of a logged-in user, bound or not.
    pub fn username(&self) -> Option<&str> {
        match self {
            Principal::User(name) | Principal::BoundUser { name, .. } => Some(name),
            _ => None,
        }
    }

    /// A short label for logs and metrics (no secret, no user-chosen text).
    pub fn kind(&self) -> &'static str {
        match self {
            Principal::Anonymous => "anonymous",
            Principal::Guest => "guest",
            Principal::ApiKey => "api-key",
            Principal::User(_) | Principal::BoundUser { .. } => "user",
            Principal::WorkspaceKey { .. } => "workspace-key",
        }
    }
}

/// Result of [`Auth::authenticate`](super::Auth::authenticate).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Access {
    pub principal: Principal,
    /// Credentials were checked and accepted (LightRAG's `credentials_accepted`): true in
    /// the open profile and for accepted credentials; false for anonymous access to a
    /// whitelisted path in the other profiles.
    pub authenticated: bool,
}

impl Access {
    /// Shorthand for `self.principal.may_use(workspace)`.
    pub fn may_use(&self, workspace: &str) -> bool {
        self.principal.may_use(workspace)
    }
}

/// Why a request or a login was refused. The messages are LightRAG's `detail` strings.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AuthError {
    /// 401.
    Unauthorized(String),
    /// 403.
    Forbidden(String),
    /// 429, with `Retry-After: retry_after` (seconds).
    TooManyAttempts { retry_after: u64 },
    /// 422: a malformed login form (FastAPI's validation answer), e.g. a `grant_type`
    /// other than `password`.
    InvalidRequest(String),
}

impl AuthError {
    pub fn status(&self) -> StatusCode {
        match self {
            AuthError::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            AuthError::Forbidden(_) => StatusCode::FORBIDDEN,
            AuthError::TooManyAttempts { .. } => StatusCode::TOO_MANY_REQUESTS,
            AuthError::InvalidRequest(_) => StatusCode::UNPROCESSABLE_ENTITY,
        }
    }

    /// The message for the response's `detail`.
    pub fn detail(&self) -> &str {
        match self {
            AuthError::Unauthorized(m) | AuthError::Forbidden(m) | AuthError::InvalidRequest(m) => {
                m
            }
            AuthError::TooManyAttempts { .. } => TOO_MANY_ATTEMPTS,
        }
    }
}

impl fmt::Display for AuthError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.status().as_u16(), self.detail())
    }
}

impl std::error::Error for AuthError {}

/// `{"detail": …}` with the status, plus `Retry-After` for 429 — LightRAG's shape.
impl IntoResponse for AuthError {
    fn into_response(self) -> Response {
        let mut response = (
            self.status(),
            axum::Json(json!({ "detail": self.detail() })),
        )
            .into_response();
        if let AuthError::TooManyAttempts { retry_after } = self {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(retry_after));
        }
        response
    }
}

pub(super) fn unauthorized(message: &str) -> AuthError {
    AuthError::Unauthorized(message.to_string())
}

pub(super) fn forbidden(message: &str) -> AuthError {
    AuthError::Forbidden(message.to_string())
}
