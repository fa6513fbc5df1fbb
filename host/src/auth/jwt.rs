//! HS256 JSON Web Tokens: signing (`encode_jwt`) and checking (`decode_jwt`).

use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use serde::Deserialize;
use serde_json::Value;
use sha2::Sha256;

use super::principal::{AuthError, unauthorized};
use super::settings::Secret;
use super::{INVALID_TOKEN, JWT_HEADER, ROLE_USER, TOKEN_EXPIRED};

type HmacSha256 = Hmac<Sha256>;

// ---------------------------------------------------------------------------------
// JWT (HS256)
// ---------------------------------------------------------------------------------

#[derive(Deserialize)]
struct JwtHeader {
    alg: String,
    #[serde(default)]
    crit: Option<Value>,
}

#[derive(Deserialize)]
pub(super) struct Claims {
    pub(super) sub: String,
    pub(super) exp: f64,
    #[serde(default = "default_role")]
    pub(super) role: String,
}

fn default_role() -> String {
    ROLE_USER.to_string()
}

pub(super) fn now_unix() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

pub(super) fn signer(secret: &Secret) -> HmacSha256 {
    HmacSha256::new_from_slice(secret.expose().as_bytes()).expect("HMAC accepts keys of any length")
}

/// Signs `payload` as an HS256 JWT.
pub(super) fn encode_jwt(secret: &Secret, payload: &Value) -> String {
    let signing_input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(JWT_HEADER),
        URL_SAFE_NO_PAD.encode(payload.to_string())
    );
    let mut mac = signer(secret);
    mac.update(signing_input.as_bytes());
    let signature = URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes());
    format!("{signing_input}.{signature}")
}

/// Checks an HS256 JWT: structure, `alg`, signature (constant time), then claims and
/// expiry. Any failure but expiry is `Invalid token`.
pub(super) fn decode_jwt(secret: &Secret, token: &str, now: i64) -> Result<Claims, AuthError> {
    let invalid = || unauthorized(INVALID_TOKEN);
    let mut parts = token.split('.');
    let (Some(header_b64), Some(payload_b64), Some(signature_b64), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(invalid());
    };
    let header_json = URL_SAFE_NO_PAD.decode(header_b64).map_err(|_| invalid())?;
    let header: JwtHeader = serde_json::from_slice(&header_json).map_err(|_| invalid())?;
    if header.alg != "HS256" || header.crit.is_some() {
        return Err(invalid());
    }
    let signature = URL_SAFE_NO_PAD
        .decode(signature_b64)
        .map_err(|_| invalid())?;
    let mut mac = signer(secret);
    mac.update(header_b64.as_bytes());
    mac.update(b".");
    mac.update(payload_b64.as_bytes());
    mac.verify_slice(&signature).map_err(|_| invalid())?;

    let payload_json = URL_SAFE_NO_PAD.decode(payload_b64).map_err(|_| invalid())?;
    let claims: Claims = serde_json::from_slice(&payload_json).map_err(|_| invalid())?;
    if claims.sub.is_empty() || !claims.exp.is_finite() {
        return Err(invalid());
    }
    if now as f64 >= claims.exp {
        return Err(unauthorized(TOKEN_EXPIRED));
    }
    Ok(claims)
}
