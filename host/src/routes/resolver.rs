//! How a request names its workspace: the `LIGHTRAG-WORKSPACE` header, falling back
//! to `X-Workspace-ID` (the first wins when both are sent), else the configured
//! default — unless the server runs in strict mode. A name is validated, never
//! rewritten.

use crate::error::AppError;
use crate::workspace::Workspace;
use axum::http::HeaderMap;

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

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::{HeaderName, HeaderValue};

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
