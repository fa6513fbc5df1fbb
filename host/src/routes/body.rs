//! Request bodies in LightRAG's (FastAPI's) shapes, and its track ids.

use crate::error::{AppError, FieldError};
use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use serde::de::DeserializeOwned;

/// A JSON body whose errors come back in LightRAG's (FastAPI's) shapes: 422 for an
/// invalid body, 413 for an oversized one.
pub struct JsonBody<T>(pub T);

impl<T, S> FromRequest<S> for JsonBody<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = AppError;

    async fn from_request(req: Request, state: &S) -> Result<Self, AppError> {
        let bytes = Bytes::from_request(req, state).await.map_err(|rejection| {
            if rejection.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
                AppError::TooLarge("Request body too large".into())
            } else {
                AppError::BadRequest(format!("cannot read the request body: {rejection}"))
            }
        })?;
        serde_json::from_slice(&bytes).map(JsonBody).map_err(|err| {
            let kind = if err.is_syntax() || err.is_eof() {
                "json_invalid"
            } else {
                "value_error"
            };
            AppError::Validation(vec![FieldError {
                loc: vec!["body".into()],
                msg: err.to_string(),
                kind: kind.into(),
            }])
        })
    }
}

/// LightRAG's track id: `<prefix>_<YYYYMMDD_HHMMSS>_<8 hex>`, local time.
pub fn track_id(prefix: &str) -> String {
    let uuid = uuid::Uuid::new_v4().simple().to_string();
    format!(
        "{prefix}_{}_{}",
        chrono::Local::now().format("%Y%m%d_%H%M%S"),
        &uuid[..8]
    )
}
