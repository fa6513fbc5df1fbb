//! Which workspace a request is for.
//!
//! [`Workspace`] is an axum extractor used by every tenant route. It reads the
//! `LIGHTRAG-WORKSPACE` header, falling back to `X-Workspace-ID` (the first wins when
//! both are sent), and otherwise the configured default — unless the server runs in
//! strict mode. A name is validated, never rewritten: anything outside the allowed
//! alphabet is a 400 before any file is touched. Then the caller's credentials must
//! reach the workspace (see `session::check_access`).

use super::state::AppState;
use crate::error::AppError;
use crate::workspace::Workspace;
use axum::extract::{FromRef, FromRequestParts};
use axum::http::request::Parts;
use axum::http::{HeaderName, HeaderValue};
use axum::response::{IntoResponseParts, ResponseParts};

impl<S> FromRequestParts<S> for Workspace
where
    AppState: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, AppError> {
        let state = AppState::from_ref(state);
        let workspace = state.resolver.resolve(&parts.headers)?;
        super::session::check_access(
            &state,
            parts.extensions.get::<crate::auth::Access>(),
            &workspace,
        )?;
        Ok(workspace)
    }
}

/// Responses name the workspace that served them.
impl IntoResponseParts for Workspace {
    type Error = std::convert::Infallible;

    fn into_response_parts(self, mut res: ResponseParts) -> Result<ResponseParts, Self::Error> {
        if let Ok(value) = HeaderValue::from_str(self.as_str()) {
            res.headers_mut()
                .insert(HeaderName::from_static("lightrag-workspace"), value);
        }
        Ok(res)
    }
}
