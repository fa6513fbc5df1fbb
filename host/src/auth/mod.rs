//! Authentication and workspace authorisation.
//!
//! The behaviour follows LightRAG 1.5.7's server (`lightrag/api/auth.py` and the
//! combined API-key/JWT dependency of `utils_api.py`), with one addition: credentials
//! that are bound to a set of workspaces.
//!
//! # Profiles
//!
//! Decided once, at start-up, from the settings:
//!
//! | Profile    | Condition                                 | Accepted credentials              |
//! |------------|-------------------------------------------|-----------------------------------|
//! | `Open`     | no `AUTH_ACCOUNTS`, no `LIGHTRAG_API_KEY` | everything                        |
//! | `KeyOnly`  | `LIGHTRAG_API_KEY`, no `AUTH_ACCOUNTS`    | `X-API-Key` (not guest tokens)    |
//! | `Accounts` | `AUTH_ACCOUNTS` (with or without a key)   | a non-guest JWT, or the `X-API-Key` |
//!
//! Paths listed in `WHITELIST_PATHS` (default `/health,/api/*`) are public.
//!
//! # Workspaces
//!
//! A workspace header *chooses* a workspace; it never grants access to one. The optional
//! `LIGHTRAG_WORKSPACE_KEYS_FILE` binds API keys and login accounts to workspaces (see
//! [`Auth::new`]); [`Principal::may_use`] is the decision. Credentials that are not
//! bound (the global key, unbound accounts, guests and anonymous requests where the
//! profile or the whitelist lets them in) may use every workspace.
//!
//! # Secrets
//!
//! Keys, passwords, password hashes and the token secret are held in [`Secret`], whose
//! `Debug` prints nothing of them; no error message built here contains one.
//!
//! # Blocking
//!
//! [`Auth::login`] may verify a bcrypt hash, which takes tens to hundreds of
//! milliseconds of CPU: call it from `tokio::task::spawn_blocking`. Everything else is
//! cheap (one HMAC-SHA256 or SHA-256 per request).
//!
//! # Layout
//!
//! * this file — [`Auth`]: building it and the per-request decision
//!   ([`Auth::authenticate`]), plus the `Authorization` and `X-API-Key` header readers.
//! * `login` — [`Auth::login`], the login throttle, `/auth-status` and guest tokens.
//! * `settings` — [`Secret`], constant-time comparison, [`hash_key`] and
//!   [`AuthSettings`] (with its [`Account`]s and [`PathPattern`]s).
//! * `principal` — [`AuthMode`], [`Principal`], [`Access`] and [`AuthError`] (with its
//!   HTTP response).
//! * `keys` — `LIGHTRAG_WORKSPACE_KEYS_FILE`: loading and validating the workspace
//!   bindings.
//! * `jwt` — HS256 tokens: signing, checking and their claims.
//! * `tests` — the unit tests, one submodule per concern.

mod jwt;
mod keys;
mod login;
mod principal;
mod settings;
#[cfg(test)]
mod tests;

pub use principal::{Access, AuthError, AuthMode, Principal};
pub use settings::{
    Account, AuthSettings, DEFAULT_TOKEN_SECRET, DEFAULT_WHITELIST, PathPattern, Secret, hash_key,
};

use std::collections::HashMap;
use std::fmt;
use std::sync::Mutex;
use std::time::Instant;

use axum::http::{HeaderMap, HeaderValue, header};
use sha2::{Digest, Sha256};

use jwt::{decode_jwt, now_unix};
use keys::{BoundKey, load_keys_file};
use principal::{forbidden, unauthorized};
use settings::digest_eq;

/// The LightRAG core version the API reports.
pub const CORE_VERSION: &str = "1.5.7";
/// The LightRAG API version the API reports.
pub const API_VERSION: &str = "0344";
/// The API key header (header names are case-insensitive).
pub const API_KEY_HEADER: &str = "x-api-key";

const MAX_USERNAME_CHARS: usize = 256;

const GUEST: &str = "guest";
const ROLE_USER: &str = "user";
const ROLE_GUEST: &str = "guest";

const INVALID_TOKEN: &str = "Invalid token";
const TOKEN_EXPIRED: &str = "Token expired";
const LOGIN_AGAIN: &str = "Invalid token. Please login again.";
const NO_CREDENTIALS: &str = "No credentials provided. Please login.";
const INVALID_API_KEY: &str = "Invalid API Key";
const API_KEY_REQUIRED: &str = "API Key required";
const KEY_OR_LOGIN_REQUIRED: &str = "API Key required or login authentication required.";
const INCORRECT_CREDENTIALS: &str = "Incorrect credentials";
const TOO_MANY_ATTEMPTS: &str = "Too many failed login attempts. Please try again later.";
const GUEST_MESSAGE: &str = "Authentication is disabled. Using guest access.";

// ---------------------------------------------------------------------------------
// Auth
// ---------------------------------------------------------------------------------

/// The authenticator: settings, workspace bindings and the login throttle.
pub struct Auth {
    settings: AuthSettings,
    mode: AuthMode,
    keys: Vec<BoundKey>,
    bindings: HashMap<String, Vec<String>>,
    /// Recent failed (or in-flight) login attempts per `client_ip:username`.
    attempts: Mutex<HashMap<String, Vec<Instant>>>,
    /// When each user last got a renewed token (unix seconds).
    renewed: Mutex<HashMap<String, i64>>,
}

impl fmt::Debug for Auth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Auth")
            .field("mode", &self.mode)
            .field("settings", &self.settings)
            .field("workspace_keys", &self.keys)
            .field("bound_accounts", &self.bindings)
            .finish_non_exhaustive()
    }
}

impl Auth {
    /// Builds the authenticator, loading and validating `LIGHTRAG_WORKSPACE_KEYS_FILE`
    /// if set. The file is refused (with a message naming the setting) when it is not
    /// the documented JSON, a workspace name is invalid, a `sha256` is not 64 hex
    /// digits, a key name or hash repeats, a key equals `LIGHTRAG_API_KEY`, a list of
    /// workspaces is empty, or a bound account is not in `AUTH_ACCOUNTS` (a typo there
    /// would otherwise leave the real account unbound).
    pub fn new(settings: AuthSettings) -> Result<Auth, String> {
        let (keys, bindings) = match &settings.workspace_keys_file {
            Some(path) => load_keys_file(path, &settings)?,
            None => (Vec::new(), HashMap::new()),
        };
        Ok(Auth {
            mode: settings.mode(),
            settings,
            keys,
            bindings,
            attempts: Mutex::new(HashMap::new()),
            renewed: Mutex::new(HashMap::new()),
        })
    }

    pub fn mode(&self) -> AuthMode {
        self.mode
    }

    pub fn settings(&self) -> &AuthSettings {
        &self.settings
    }

    /// Whether `path` (the request's URI path, without query) is public. A path with a
    /// `.` or `..` segment is never public.
    pub fn is_whitelisted(&self, path: &str) -> bool {
        if path
            .split('/')
            .any(|segment| segment == "." || segment == "..")
        {
            return false;
        }
        self.settings
            .whitelist
            .iter()
            .any(|pattern| pattern.matches(path))
    }

    /// The decision for a request to `path` with `headers`.
    ///
    /// On a whitelisted path, credentials that are presented and valid still identify
    /// the request (so a workspace key stays bound to its workspaces there); anything
    /// else there is anonymous access, never an error.
    pub fn authenticate(&self, path: &str, headers: &HeaderMap) -> Result<Access, AuthError> {
        self.authenticate_at(path, headers, now_unix())
    }

    /// `/auth/verify`-style: the same decision, ignoring the whitelist.
    pub fn authenticate_strict(&self, headers: &HeaderMap) -> Result<Access, AuthError> {
        self.decide(headers, now_unix())
    }

    fn authenticate_at(
        &self,
        path: &str,
        headers: &HeaderMap,
        now: i64,
    ) -> Result<Access, AuthError> {
        if self.is_whitelisted(path) {
            return Ok(self.decide(headers, now).unwrap_or(Access {
                principal: Principal::Anonymous,
                authenticated: self.mode == AuthMode::Open,
            }));
        }
        self.decide(headers, now)
    }

    fn decide(&self, headers: &HeaderMap, now: i64) -> Result<Access, AuthError> {
        let token = bearer_token(headers);
        let key = api_key(headers);
        let accept = |principal| {
            Ok(Access {
                principal,
                authenticated: true,
            })
        };

        // 1. A bearer token is checked first; a bad one is always a 401.
        let mut guest_token = false;
        if let Some(token) = token {
            let claims = decode_jwt(&self.settings.token_secret, token, now)?;
            let is_guest = claims.role == ROLE_GUEST;
            match (self.mode, is_guest) {
                (AuthMode::Accounts, false) => return accept(self.user_principal(&claims.sub)?),
                // Guest tokens in accounts mode, user tokens without accounts.
                (AuthMode::Accounts, true) | (AuthMode::Open | AuthMode::KeyOnly, false) => {
                    return Err(unauthorized(LOGIN_AGAIN));
                }
                // Accepted in the open profile; ignored with an API key.
                (AuthMode::Open, true) => guest_token = true,
                (AuthMode::KeyOnly, true) => {}
            }
        }

        // 2. A workspace key authenticates as itself in every profile.
        if let Some(key) = key
            && let Some(bound) = self.workspace_key(key)
        {
            return accept(Principal::WorkspaceKey {
                name: bound.name.clone(),
                workspaces: bound.workspaces.clone(),
            });
        }

        // 3. Nothing to protect.
        if self.mode == AuthMode::Open {
            return accept(if guest_token {
                Principal::Guest
            } else {
                Principal::Anonymous
            });
        }

        // 4. The global key.
        if let (Some(key), Some(global)) = (key, &self.settings.api_key)
            && global.matches(key)
        {
            return accept(Principal::ApiKey);
        }

        // 5. Refusals, in LightRAG's order.
        if self.mode == AuthMode::Accounts && token.is_none() {
            return Err(unauthorized(NO_CREDENTIALS));
        }
        if key.is_some() {
            return Err(forbidden(INVALID_API_KEY));
        }
        if self.mode == AuthMode::KeyOnly {
            return Err(forbidden(API_KEY_REQUIRED));
        }
        // Not reached with the profiles above (accounts mode with a token has returned
        // in step 1); kept as LightRAG's final answer.
        Err(forbidden(KEY_OR_LOGIN_REQUIRED))
    }

    /// The principal of a valid user token. An account removed since the token was
    /// issued is refused (LightRAG would accept it until it expires).
    fn user_principal(&self, username: &str) -> Result<Principal, AuthError> {
        if !self
            .settings
            .accounts
            .iter()
            .any(|a| a.username == username)
        {
            return Err(unauthorized(LOGIN_AGAIN));
        }
        Ok(match self.bindings.get(username) {
            Some(workspaces) => Principal::BoundUser {
                name: username.to_string(),
                workspaces: workspaces.clone(),
            },
            None => Principal::User(username.to_string()),
        })
    }

    fn workspace_key(&self, presented: &[u8]) -> Option<&BoundKey> {
        let digest: [u8; 32] = Sha256::digest(presented).into();
        // Every entry is compared, so the time does not depend on which one matches.
        let mut found = None;
        for key in &self.keys {
            if digest_eq(&key.digest, &digest) {
                found = Some(key);
            }
        }
        found
    }

    /// Lists the workspaces a principal is bound to (`None` = unbound: all). For
    /// `User(name)` the bindings file is consulted, so a hand-made principal is bound
    /// like one from [`Auth::authenticate`].
    pub fn workspaces_of(&self, principal: &Principal) -> Option<Vec<String>> {
        match principal {
            Principal::User(name) => self.bindings.get(name).cloned(),
            other => other.workspaces().map(<[String]>::to_vec),
        }
    }
}

/// `Authorization: Bearer <token>` (scheme case-insensitive); `None` for any other
/// scheme or an empty token, like FastAPI's optional OAuth2 scheme.
fn bearer_token(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

/// The `X-API-Key` value as bytes (any bytes: a non-ASCII value is simply a wrong
/// key); `None` when absent or empty.
fn api_key(headers: &HeaderMap) -> Option<&[u8]> {
    headers
        .get(API_KEY_HEADER)
        .map(HeaderValue::as_bytes)
        .filter(|value| !value.is_empty())
}
