//! [`AppError`]: every way a request can fail, and the one place that decides its
//! HTTP status and body.
//!
//! Bodies follow LightRAG (FastAPI): `{"detail": "<message>"}`, or a list of field
//! errors for 422. Internal errors never show their cause to the client: they get an
//! error id, and the cause goes to the log under that id.

use crate::bindings::types::Error as GuestError;
use crate::service;
use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

/// One failed field of a request body (FastAPI's validation error item).
#[derive(Debug, Clone)]
pub struct FieldError {
    /// Path to the field, e.g. `["body", "text"]`.
    pub loc: Vec<String>,
    /// What is wrong.
    pub msg: String,
    /// Pydantic's error type, e.g. `missing`, `value_error`.
    pub kind: String,
}

impl FieldError {
    /// A field error at `body.<field>`.
    pub fn body(field: &str, kind: &str, msg: impl Into<String>) -> FieldError {
        FieldError {
            loc: vec!["body".into(), field.into()],
            msg: msg.into(),
            kind: kind.into(),
        }
    }
}

tokio::task_local! {
    /// The id of the request being answered (`X-Request-Id`), set by the HTTP edge
    /// for the whole handling of a request, so that every error body names it.
    pub static REQUEST_ID: String;
}

/// The current request's id, when there is one.
fn request_id() -> Option<String> {
    REQUEST_ID.try_with(Clone::clone).ok()
}

/// Why a request failed.
#[derive(Debug)]
pub enum AppError {
    /// 400: the request is wrong in a way the caller can fix.
    BadRequest(String),
    /// 422: the body failed validation.
    Validation(Vec<FieldError>),
    /// 404.
    NotFound(String),
    /// 409: conflicts with stored state, or the workspace is busy.
    Conflict(String),
    /// 413.
    TooLarge(String),
    /// 503 with `Retry-After`: temporarily unable (pool full, shutting down).
    Unavailable { message: String, retry_after: u32 },
    /// 429 with `Retry-After`: the workspace has as much work queued as it may
    /// (`MAX_PENDING_DOCUMENTS`).
    Saturated { message: String, retry_after: u32 },
    /// 507: the workspace's storage is full.
    StorageFull(String),
    /// 500: a fault on our side; the message is logged, not shown.
    Internal(String),
    /// 401/403/429: refused by authentication (LightRAG's shapes).
    Auth(crate::auth::AuthError),
}

impl AppError {
    /// A 500 from anything printable.
    pub fn internal(err: impl std::fmt::Display) -> AppError {
        AppError::Internal(err.to_string())
    }
}

impl From<GuestError> for AppError {
    fn from(err: GuestError) -> Self {
        match err {
            GuestError::BadInput(msg) => AppError::BadRequest(msg),
            GuestError::NotFound(msg) => AppError::NotFound(msg),
            GuestError::Conflict(msg) | GuestError::Busy(msg) => AppError::Conflict(msg),
            GuestError::StorageFull(msg) => AppError::StorageFull(msg),
            GuestError::Unavailable(msg) => AppError::Unavailable {
                message: format!("The model provider failed; retry later: {msg}"),
                retry_after: 5,
            },
            GuestError::Internal(msg) => AppError::Internal(msg),
        }
    }
}

impl From<service::Error> for AppError {
    fn from(err: service::Error) -> Self {
        use service::Error;
        match err {
            Error::Engine(err) => err.into(),
            Error::Busy { retry_after } => AppError::Unavailable {
                message: "All workspace slots are busy; retry shortly".into(),
                retry_after,
            },
            Error::ShuttingDown => AppError::Unavailable {
                message: "The server is shutting down".into(),
                retry_after: 5,
            },
            Error::Cancelled => AppError::Unavailable {
                message: "the request was cancelled".into(),
                retry_after: 1,
            },
            Error::Locked(msg) => AppError::Conflict(msg),
            Error::Quarantined { retry_after } => AppError::Unavailable {
                message: format!(
                    "This workspace's engine failed repeatedly and is quarantined; retry in {retry_after} seconds"
                ),
                retry_after,
            },
            Error::NotFound(msg) => AppError::NotFound(msg),
            Error::Conflict(msg) => AppError::Conflict(msg),
            Error::Invalid(msg) => AppError::BadRequest(msg),
            err @ (Error::Fault(_) | Error::Host(_)) => AppError::Internal(err.to_string()),
        }
    }
}

/// A fresh 12-hex-digit error id, as LightRAG prints them.
pub fn error_id() -> String {
    uuid::Uuid::new_v4().simple().to_string()[..12].to_string()
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        let (status, detail): (StatusCode, Value) = match self {
            AppError::BadRequest(msg) => (StatusCode::BAD_REQUEST, json!(msg)),
            AppError::Validation(errors) => (
                StatusCode::UNPROCESSABLE_ENTITY,
                Value::Array(
                    errors
                        .into_iter()
                        .map(|e| json!({"type": e.kind, "loc": e.loc, "msg": e.msg, "input": null}))
                        .collect(),
                ),
            ),
            AppError::NotFound(msg) => (StatusCode::NOT_FOUND, json!(msg)),
            AppError::Conflict(msg) => (StatusCode::CONFLICT, json!(msg)),
            AppError::TooLarge(msg) => (StatusCode::PAYLOAD_TOO_LARGE, json!(msg)),
            AppError::Unavailable {
                message,
                retry_after,
            } => return retry_later(StatusCode::SERVICE_UNAVAILABLE, message, retry_after),
            AppError::Saturated {
                message,
                retry_after,
            } => return retry_later(StatusCode::TOO_MANY_REQUESTS, message, retry_after),
            AppError::StorageFull(msg) => (StatusCode::INSUFFICIENT_STORAGE, json!(msg)),
            AppError::Auth(err) => return err.into_response(),
            AppError::Internal(cause) => {
                let id = error_id();
                tracing::error!(error_id = %id, "internal error: {cause}");
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    json!(format!("Internal server error (error_id: {id})")),
                )
            }
        };
        (status, Json(body(detail))).into_response()
    }
}

/// LightRAG's error body, `{"detail": …}`, with the request's id.
fn body(detail: Value) -> Value {
    match request_id() {
        Some(id) => json!({ "detail": detail, "request_id": id }),
        None => json!({ "detail": detail }),
    }
}

/// A refusal the client should retry after `retry_after` seconds.
fn retry_later(status: StatusCode, message: String, retry_after: u32) -> Response {
    let mut response = (status, Json(body(json!(message)))).into_response();
    response
        .headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from(retry_after));
    response
}
