//! Which workspace a request is for.
//!
//! [`Workspace`] is an axum extractor used by every tenant route. It reads the
//! `LIGHTRAG-WORKSPACE` header, falling back to `X-Workspace-ID` (the first wins when
//! both are sent), and otherwise the configured default — unless the server runs in
//! strict mode. A name is validated, never rewritten: anything outside the allowed
//! alphabet is a 400 before any file is touched. Then the caller's credentials must
//! reach the workspace (see `session::check_access`).

use super::AppState;
use crate::error::AppError;
use crate::workspace::Workspace;
use axum::extract::{FromRef, FromRequestParts};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderName, HeaderValue};
use axum::response::{IntoResponseParts, ResponseParts};

/// The primary header naming a workspace.
pub const HEADER: &str = "LIGHTRAG-WORKSPACE";
/// The fallback header.
pub const FALLBACK_HEADER: &str = "X-Workspace-ID";

/// How requests without a workspace header are treated.
#[derive(Clone, Debug)]
pub struct Resolver {
    /// The workspace of requests that name none.
    pub default: Workspace,
    /// Whether such requests are allowed at all.
    pub allow_default: bool,
}

impl Resolver {
    /// Resolves the workspace of a request from its headers.
    pub fn resolve(&self, headers: &HeaderMap) -> Result<Workspace, AppError> {
        let (header, value) = match headers.get(HEADER) {
            Some(value) => (HEADER, value),
            None => match headers.get(FALLBACK_HEADER) {
                Some(value) => (FALLBACK_HEADER, value),
                None if self.allow_default => return Ok(self.default.clone()),
                None => {
                    return Err(AppError::BadRequest(format!(
                        "Missing {HEADER} header: this server requires every request to name \
                         its workspace (LIGHTRAG_ALLOW_DEFAULT_WORKSPACE=false)"
                    )));
                }
            },
        };
        let name = value.to_str().map_err(|_| {
            AppError::BadRequest(format!(
                "Invalid {header} header: the workspace name must be ASCII letters, digits, '_' or '-'"
            ))
        })?;
        Workspace::new(name)
            .map_err(|why| AppError::BadRequest(format!("Invalid {header} header: {why}")))
    }
}

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

#[cfg(test)]
mod tests {
    use super::*;

    fn resolver(allow_default: bool) -> Resolver {
        Resolver {
            default: Workspace::new("main").unwrap(),
            allow_default,
        }
    }

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (k, v) in pairs {
            map.append(
                HeaderName::from_bytes(k.as_bytes()).unwrap(),
                HeaderValue::from_str(v).unwrap(),
            );
        }
        map
    }

    #[test]
    fn primary_header_wins_then_fallback_then_default() {
        let r = resolver(true);
        let both = headers(&[(HEADER, "one"), (FALLBACK_HEADER, "two")]);
        assert_eq!(r.resolve(&both).unwrap().as_str(), "one");
        let fallback = headers(&[(FALLBACK_HEADER, "two")]);
        assert_eq!(r.resolve(&fallback).unwrap().as_str(), "two");
        assert_eq!(r.resolve(&HeaderMap::new()).unwrap().as_str(), "main");
        assert!(r.resolve(&headers(&[(HEADER, "")])).is_err());
    }

    #[test]
    fn strict_mode_refuses_requests_without_a_header() {
        let err = resolver(false).resolve(&HeaderMap::new()).unwrap_err();
        assert!(matches!(err, AppError::BadRequest(ref m) if m.contains(HEADER)));
    }
}
