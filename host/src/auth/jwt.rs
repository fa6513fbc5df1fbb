//! HS256 JSON Web Tokens through the `jsonwebtoken` crate: signing (`encode_jwt`) and
//! checking (`decode_jwt`), with LightRAG's claims and messages.

use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Deserialize;
use serde_json::Value;

use super::principal::{AuthError, unauthorized};
use super::settings::Secret;
use super::{INVALID_TOKEN, ROLE_USER, TOKEN_EXPIRED};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};

// ---------------------------------------------------------------------------------
// JWT (HS256)
// ---------------------------------------------------------------------------------

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

/// Signs `payload` as an HS256 JWT (the `jsonwebtoken` crate).
pub(super) fn encode_jwt(secret: &Secret, payload: &Value) -> String {
    let key = EncodingKey::from_secret(secret.expose().as_bytes());
    jsonwebtoken::encode(&Header::new(Algorithm::HS256), payload, &key)
        .expect("HS256 signing of a JSON value cannot fail")
}

/// Checks an HS256 JWT: structure, algorithm and signature (the `jsonwebtoken`
/// crate, HS256 only), then our claims and expiry. Any failure but expiry is
/// `Invalid token`; expiry is checked after the signature, without leeway, and for
/// `exp` written as a float too (PyJWT writes what it is given).
pub(super) fn decode_jwt(secret: &Secret, token: &str, now: i64) -> Result<Claims, AuthError> {
    let invalid = || unauthorized(INVALID_TOKEN);
    // Critical header extensions we do not implement must be refused (RFC 7515).
    let header = token.split('.').next().unwrap_or_default();
    let header: Value = URL_SAFE_NO_PAD
        .decode(header)
        .ok()
        .and_then(|h| serde_json::from_slice(&h).ok())
        .ok_or_else(invalid)?;
    if header.get("crit").is_some() {
        return Err(invalid());
    }
    let mut validation = Validation::new(Algorithm::HS256);
    validation.validate_exp = false;
    validation.required_spec_claims.clear();
    let key = DecodingKey::from_secret(secret.expose().as_bytes());
    let claims = jsonwebtoken::decode::<Claims>(token, &key, &validation)
        .map_err(|_| invalid())?
        .claims;
    if claims.sub.is_empty() || !claims.exp.is_finite() {
        return Err(invalid());
    }
    if now as f64 >= claims.exp {
        return Err(unauthorized(TOKEN_EXPIRED));
    }
    Ok(claims)
}
