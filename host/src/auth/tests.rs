//! Unit tests of the `auth` module: the shared fixtures are here, the tests are in one
//! submodule per concern.

mod jwt;
mod login;
mod profiles;
mod secrets;
mod settings;
mod workspaces;

use super::*;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::json;

use super::jwt::encode_jwt;

const SECRET: &str = "test-token-secret-0123456789abcdef";
const KEY: &str = "global-key-7f3a9c";
const TEAM_KEY: &str = "team-a-key-5d1e2b8c4f7a9e0b3c6d";

fn lookup(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> + use<> {
    let map: HashMap<String, String> = pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    move |name: &str| map.get(name).cloned()
}

fn settings(pairs: &[(&str, &str)]) -> Result<AuthSettings, String> {
    AuthSettings::from_lookup(lookup(pairs))
}

fn auth(pairs: &[(&str, &str)]) -> Auth {
    Auth::new(settings(pairs).expect("settings")).expect("auth")
}

fn open() -> Auth {
    auth(&[])
}

fn key_only() -> Auth {
    auth(&[("LIGHTRAG_API_KEY", KEY)])
}

fn accounts() -> Auth {
    auth(&[
        ("AUTH_ACCOUNTS", "admin:s3cret-pass,bob:hunter2"),
        ("TOKEN_SECRET", SECRET),
    ])
}

fn accounts_and_key() -> Auth {
    auth(&[
        ("AUTH_ACCOUNTS", "admin:s3cret-pass"),
        ("TOKEN_SECRET", SECRET),
        ("LIGHTRAG_API_KEY", KEY),
    ])
}

fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
    let mut map = HeaderMap::new();
    for (name, value) in pairs {
        map.append(
            axum::http::HeaderName::from_bytes(name.as_bytes()).unwrap(),
            HeaderValue::from_str(value).unwrap(),
        );
    }
    map
}

fn bearer(token: &str) -> HeaderMap {
    headers(&[("authorization", &format!("Bearer {token}"))])
}

fn with_key(key: &str) -> HeaderMap {
    headers(&[("x-api-key", key)])
}

fn token(secret: &str, sub: &str, role: &str, exp: i64) -> String {
    let payload =
        json!({"sub": sub, "exp": exp, "role": role, "metadata": {"auth_mode": "enabled"}});
    encode_jwt(&Secret::new(secret), &payload)
}

fn future() -> i64 {
    now_unix() + 3600
}

fn user_token(sub: &str) -> String {
    token(SECRET, sub, "user", future())
}

fn default_guest_token() -> String {
    token(DEFAULT_TOKEN_SECRET, "guest", "guest", future())
}

fn unsigned_token(sub: &str, role: &str) -> String {
    let header = URL_SAFE_NO_PAD.encode(r#"{"alg":"none","typ":"JWT"}"#);
    let payload =
        URL_SAFE_NO_PAD.encode(json!({"sub": sub, "exp": future(), "role": role}).to_string());
    format!("{header}.{payload}.")
}

fn allowed(auth: &Auth, path: &str, h: &HeaderMap) -> Access {
    auth.authenticate(path, h).expect("allowed")
}

fn refused(auth: &Auth, path: &str, h: &HeaderMap) -> AuthError {
    auth.authenticate(path, h).expect_err("refused")
}

fn full(principal: Principal) -> Access {
    Access {
        principal,
        authenticated: true,
    }
}

fn u(message: &str) -> AuthError {
    AuthError::Unauthorized(message.into())
}

fn f(message: &str) -> AuthError {
    AuthError::Forbidden(message.into())
}

fn keys_file(dir: &tempfile::TempDir, body: &str) -> String {
    let path = dir.path().join("keys.json");
    std::fs::write(&path, body).unwrap();
    path.to_string_lossy().into_owned()
}

fn team_file(dir: &tempfile::TempDir) -> String {
    keys_file(
        dir,
        &json!({
            "keys": [{"name": "team-a", "sha256": hash_key(TEAM_KEY), "workspaces": ["alpha", "beta"]}],
            "accounts": [{"username": "admin", "workspaces": ["alpha"]}]
        })
        .to_string(),
    )
}
