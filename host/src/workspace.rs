//! Which workspace a request is for.
//!
//! [`Workspace`] is an axum extractor used by every tenant route. It reads the
//! `LIGHTRAG-WORKSPACE` header, falling back to `X-Workspace-ID` (the first wins when
//! both are sent), and otherwise the configured default — unless the server runs in
//! strict mode. A name is validated, never rewritten: rewriting would merge tenants
//! (`a-b` and `a_b` must stay two workspaces), so anything outside the allowed
//! alphabet is a 400 before any file is touched.

use crate::error::AppError;
use crate::server::AppState;
use axum::extract::{FromRef, FromRequestParts};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderName, HeaderValue};
use axum::response::{IntoResponseParts, ResponseParts};
use std::fmt;

/// The primary header naming a workspace.
pub const HEADER: &str = "LIGHTRAG-WORKSPACE";
/// The fallback header.
pub const FALLBACK_HEADER: &str = "X-Workspace-ID";
/// Longest workspace name.
pub const MAX_NAME_LEN: usize = 64;

/// A validated workspace name.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Workspace(String);

impl Workspace {
    /// Validates `name`.
    pub fn new(name: &str) -> Result<Workspace, String> {
        validate_name(name)?;
        Ok(Workspace(name.to_string()))
    }

    /// The name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Workspace {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// 1–64 characters of `[A-Za-z0-9_-]`, starting with a letter or digit. The rule
/// also keeps every name a safe single path component (no `.`, `/`, `..`), and
/// names beginning with `.` stay free for the server's own records.
pub fn validate_name(name: &str) -> Result<(), String> {
    const RULE: &str = "use 1-64 letters, digits, '_' or '-', starting with a letter or digit";
    if name.is_empty() {
        return Err(format!("the workspace name is empty; {RULE}"));
    }
    if name.len() > MAX_NAME_LEN {
        return Err(format!(
            "the workspace name is longer than {MAX_NAME_LEN} characters; {RULE}"
        ));
    }
    let first_ok = name.starts_with(|c: char| c.is_ascii_alphanumeric());
    let rest_ok = name
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    if !first_ok || !rest_ok {
        return Err(format!(
            "invalid workspace name \"{}\"; {RULE}",
            name.escape_default()
        ));
    }
    Ok(())
}

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
        crate::routes::check_access(
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
        if let Ok(value) = HeaderValue::from_str(&self.0) {
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
    fn names_are_validated_not_rewritten() {
        for good in ["a", "A-b_c", "0", &"x".repeat(64)] {
            assert!(validate_name(good).is_ok(), "{good}");
        }
        for bad in [
            "",
            "-a",
            "_a",
            ".a",
            "a.b",
            "a/b",
            "a b",
            "é",
            &"x".repeat(65),
        ] {
            assert!(validate_name(bad).is_err(), "{bad}");
        }
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
