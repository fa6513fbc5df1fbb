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

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use serde::Deserialize;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

/// The LightRAG core version the API reports.
pub const CORE_VERSION: &str = "1.5.7";
/// The LightRAG API version the API reports.
pub const API_VERSION: &str = "0344";
/// LightRAG's built-in token secret. Good enough to sign guest tokens (which grant
/// nothing that the open profile does not already grant); refused with accounts.
pub const DEFAULT_TOKEN_SECRET: &str = "lightrag-jwt-default-secret";
/// `WHITELIST_PATHS` when the setting is absent.
pub const DEFAULT_WHITELIST: &str = "/health,/api/*";
/// The API key header (header names are case-insensitive).
pub const API_KEY_HEADER: &str = "x-api-key";

const DEFAULT_TOKEN_EXPIRE_HOURS: f64 = 48.0;
const DEFAULT_GUEST_TOKEN_EXPIRE_HOURS: f64 = 24.0;
const DEFAULT_LOGIN_MAX_FAILED_ATTEMPTS: u32 = 5;
const DEFAULT_LOGIN_LOCKOUT_WINDOW_SECONDS: u64 = 300;
/// Longest token lifetime accepted (ten years), so `exp` never overflows.
const MAX_EXPIRE_HOURS: f64 = 24.0 * 366.0 * 10.0;
/// Longest lockout window accepted (one year).
const MAX_LOCKOUT_WINDOW_SECONDS: u64 = 366 * 24 * 3600;
const MAX_USERNAME_CHARS: usize = 256;
const MAX_KEY_NAME_CHARS: usize = 128;
/// The throttle map is pruned of expired entries once it holds this many…
const THROTTLE_PRUNE_AT: usize = 1024;
/// …and never holds more than this many (the stalest entry makes room).
const THROTTLE_MAX_ENTRIES: usize = 100_000;

const JWT_HEADER: &str = r#"{"alg":"HS256","typ":"JWT"}"#;
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

type HmacSha256 = Hmac<Sha256>;

// ---------------------------------------------------------------------------------
// Secrets
// ---------------------------------------------------------------------------------

/// A string that must never be shown: an API key, a password, a password hash or the
/// token secret. `Debug` prints `Secret(<redacted>)`; there is no `Display` and no
/// `PartialEq` (comparisons go through [`Secret::matches`], in constant time).
#[derive(Clone)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Secret {
        Secret(value.into())
    }

    /// The secret itself, for the few places that need it (HMAC keys, bcrypt).
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Constant-time comparison with a presented value.
    pub fn matches(&self, presented: &[u8]) -> bool {
        ct_eq(self.0.as_bytes(), presented)
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

/// Equality in time independent of where the inputs differ and of their lengths: both
/// sides are hashed first, then the fixed-size digests are compared without branching.
fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    let da: [u8; 32] = Sha256::digest(a).into();
    let db: [u8; 32] = Sha256::digest(b).into();
    digest_eq(&da, &db)
}

fn digest_eq(a: &[u8; 32], b: &[u8; 32]) -> bool {
    let diff = a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y));
    std::hint::black_box(diff) == 0
}

/// Hex SHA-256 of an API key: what `LIGHTRAG_WORKSPACE_KEYS_FILE` stores in `sha256`.
/// (`printf %s "$KEY" | sha256sum` gives the same.)
pub fn hash_key(key: &str) -> String {
    hex::encode(Sha256::digest(key.as_bytes()))
}

// ---------------------------------------------------------------------------------
// Settings
// ---------------------------------------------------------------------------------

/// A login account from `AUTH_ACCOUNTS`.
#[derive(Clone)]
pub struct Account {
    username: String,
    password: StoredPassword,
}

#[derive(Clone)]
enum StoredPassword {
    Plain(Secret),
    /// A bcrypt hash (`$2b$12$…`), without the `{bcrypt}` prefix.
    Bcrypt(Secret),
}

impl Account {
    pub fn username(&self) -> &str {
        &self.username
    }

    fn verify(&self, password: &str) -> bool {
        match &self.password {
            StoredPassword::Plain(stored) => stored.matches(password.as_bytes()),
            StoredPassword::Bcrypt(hash) => {
                bcrypt::verify(password, hash.expose()).unwrap_or(false)
            }
        }
    }
}

impl fmt::Debug for Account {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = match self.password {
            StoredPassword::Plain(_) => "plaintext",
            StoredPassword::Bcrypt(_) => "bcrypt",
        };
        f.debug_struct("Account")
            .field("username", &self.username)
            .field("password", &format_args!("<{kind}, redacted>"))
            .finish()
    }
}

/// One `WHITELIST_PATHS` entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PathPattern {
    /// `/health`: that path exactly.
    Exact(String),
    /// `/api/*`: `/api` and everything below it, on segment boundaries (`/apiary` is
    /// not below `/api`). `/*` is `Prefix("")`, which matches every path.
    Prefix(String),
}

impl PathPattern {
    fn parse(entry: &str) -> Result<PathPattern, String> {
        if !entry.starts_with('/') {
            return Err(format!("entry {entry:?} must start with '/'"));
        }
        let (base, prefix) = match entry.strip_suffix("/*") {
            Some(base) => (base, true),
            None => (entry, false),
        };
        if base.contains('*') {
            return Err(format!(
                "entry {entry:?}: the only wildcard allowed is a trailing \"/*\""
            ));
        }
        Ok(if prefix {
            PathPattern::Prefix(base.to_string())
        } else {
            PathPattern::Exact(base.to_string())
        })
    }

    pub fn matches(&self, path: &str) -> bool {
        match self {
            PathPattern::Exact(exact) => path == exact,
            PathPattern::Prefix(base) if base.is_empty() => true,
            PathPattern::Prefix(base) => path
                .strip_prefix(base.as_str())
                .is_some_and(|rest| rest.is_empty() || rest.starts_with('/')),
        }
    }
}

/// Every authentication setting, parsed and validated. Build it with
/// [`AuthSettings::from_lookup`]; `Debug` shows no secret.
#[derive(Clone)]
pub struct AuthSettings {
    api_key: Option<Secret>,
    whitelist: Vec<PathPattern>,
    accounts: Vec<Account>,
    token_secret: Secret,
    token_secret_is_default: bool,
    token_expire_hours: f64,
    guest_token_expire_hours: f64,
    login_max_failed_attempts: u32,
    login_lockout_window: Duration,
    workspace_keys_file: Option<PathBuf>,
    webui_title: Option<String>,
    webui_description: Option<String>,
}

impl AuthSettings {
    /// Reads the settings through `get` (e.g. the server's env/.env/flags lookup):
    /// `LIGHTRAG_API_KEY`, `WHITELIST_PATHS`, `AUTH_ACCOUNTS`, `TOKEN_SECRET`,
    /// `TOKEN_EXPIRE_HOURS`, `GUEST_TOKEN_EXPIRE_HOURS`, `JWT_ALGORITHM`,
    /// `LOGIN_MAX_FAILED_ATTEMPTS`, `LOGIN_LOCKOUT_WINDOW_SECONDS`,
    /// `LIGHTRAG_WORKSPACE_KEYS_FILE`, and (for the login/status payloads)
    /// `WEBUI_TITLE` and `WEBUI_DESCRIPTION`.
    ///
    /// Values are trimmed and an empty value counts as unset, except `WHITELIST_PATHS`,
    /// where an empty value means "no public path". Errors name the setting
    /// (`invalid TOKEN_EXPIRE_HOURS=abc: ...`) and never quote a secret.
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<AuthSettings, String> {
        let value = |name: &str| {
            get(name)
                .map(|v| v.trim().to_string())
                .filter(|v| !v.is_empty())
        };

        let api_key = value("LIGHTRAG_API_KEY").map(Secret::new);

        let whitelist_raw = get("WHITELIST_PATHS").unwrap_or_else(|| DEFAULT_WHITELIST.to_string());
        let whitelist = whitelist_raw
            .split(',')
            .map(str::trim)
            .filter(|entry| !entry.is_empty())
            .map(PathPattern::parse)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| format!("invalid WHITELIST_PATHS={}: {e}", whitelist_raw.trim()))?;

        let accounts = match value("AUTH_ACCOUNTS") {
            Some(raw) => parse_accounts(&raw).map_err(|e| format!("invalid AUTH_ACCOUNTS: {e}"))?,
            None => Vec::new(),
        };

        let algorithm = value("JWT_ALGORITHM").unwrap_or_else(|| "HS256".to_string());
        if algorithm != "HS256" {
            return Err(format!(
                "invalid JWT_ALGORITHM={algorithm}: only HS256 is supported"
            ));
        }

        let (token_secret, token_secret_is_default) = match value("TOKEN_SECRET") {
            Some(secret) if secret == DEFAULT_TOKEN_SECRET => {
                if !accounts.is_empty() {
                    return Err("invalid TOKEN_SECRET: it is LightRAG's published default; \
                                set a long random secret when AUTH_ACCOUNTS is set"
                        .to_string());
                }
                (Secret::new(secret), true)
            }
            Some(secret) => (Secret::new(secret), false),
            None => {
                if !accounts.is_empty() {
                    return Err(
                        "missing TOKEN_SECRET: it is required when AUTH_ACCOUNTS is set \
                                (use a long random secret)"
                            .to_string(),
                    );
                }
                (Secret::new(DEFAULT_TOKEN_SECRET), true)
            }
        };

        let hours = |name: &str, default: f64| -> Result<f64, String> {
            match value(name) {
                None => Ok(default),
                Some(raw) => match raw.parse::<f64>() {
                    Ok(h) if h.is_finite() && h > 0.0 && h <= MAX_EXPIRE_HOURS => Ok(h),
                    _ => Err(format!(
                        "invalid {name}={raw}: must be a positive number of hours (at most {MAX_EXPIRE_HOURS})"
                    )),
                },
            }
        };
        let token_expire_hours = hours("TOKEN_EXPIRE_HOURS", DEFAULT_TOKEN_EXPIRE_HOURS)?;
        let guest_token_expire_hours =
            hours("GUEST_TOKEN_EXPIRE_HOURS", DEFAULT_GUEST_TOKEN_EXPIRE_HOURS)?;

        let login_max_failed_attempts = match value("LOGIN_MAX_FAILED_ATTEMPTS") {
            None => DEFAULT_LOGIN_MAX_FAILED_ATTEMPTS,
            Some(raw) => match raw.parse::<u32>() {
                Ok(n) if n >= 1 => n,
                _ => {
                    return Err(format!(
                        "invalid LOGIN_MAX_FAILED_ATTEMPTS={raw}: must be a whole number >= 1"
                    ));
                }
            },
        };
        let login_lockout_window = match value("LOGIN_LOCKOUT_WINDOW_SECONDS") {
            None => Duration::from_secs(DEFAULT_LOGIN_LOCKOUT_WINDOW_SECONDS),
            Some(raw) => match raw.parse::<u64>() {
                Ok(n) if (1..=MAX_LOCKOUT_WINDOW_SECONDS).contains(&n) => Duration::from_secs(n),
                _ => {
                    return Err(format!(
                        "invalid LOGIN_LOCKOUT_WINDOW_SECONDS={raw}: must be a whole number of seconds \
                         from 1 to {MAX_LOCKOUT_WINDOW_SECONDS}"
                    ));
                }
            },
        };

        Ok(AuthSettings {
            api_key,
            whitelist,
            accounts,
            token_secret,
            token_secret_is_default,
            token_expire_hours,
            guest_token_expire_hours,
            login_max_failed_attempts,
            login_lockout_window,
            workspace_keys_file: value("LIGHTRAG_WORKSPACE_KEYS_FILE").map(PathBuf::from),
            webui_title: value("WEBUI_TITLE"),
            webui_description: value("WEBUI_DESCRIPTION"),
        })
    }

    /// The profile these settings select.
    pub fn mode(&self) -> AuthMode {
        if !self.accounts.is_empty() {
            AuthMode::Accounts
        } else if self.api_key.is_some() {
            AuthMode::KeyOnly
        } else {
            AuthMode::Open
        }
    }

    pub fn api_key_configured(&self) -> bool {
        self.api_key.is_some()
    }

    pub fn accounts(&self) -> &[Account] {
        &self.accounts
    }

    pub fn whitelist(&self) -> &[PathPattern] {
        &self.whitelist
    }

    pub fn workspace_keys_file(&self) -> Option<&Path> {
        self.workspace_keys_file.as_deref()
    }
}

impl fmt::Debug for AuthSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let secret_state = if self.token_secret_is_default {
            "<default>"
        } else {
            "<set, redacted>"
        };
        f.debug_struct("AuthSettings")
            .field("mode", &self.mode())
            .field("api_key", &self.api_key.as_ref().map(|_| "<set, redacted>"))
            .field("whitelist", &self.whitelist)
            .field("accounts", &self.accounts)
            .field("token_secret", &format_args!("{secret_state}"))
            .field("token_expire_hours", &self.token_expire_hours)
            .field("guest_token_expire_hours", &self.guest_token_expire_hours)
            .field("login_max_failed_attempts", &self.login_max_failed_attempts)
            .field("login_lockout_window", &self.login_lockout_window)
            .field("workspace_keys_file", &self.workspace_keys_file)
            .field("webui_title", &self.webui_title)
            .field("webui_description", &self.webui_description)
            .finish()
    }
}

/// Parses `user1:pass1,user2:{bcrypt}$2b$12$...`. Errors name entries by position or
/// username, never by their password.
fn parse_accounts(raw: &str) -> Result<Vec<Account>, String> {
    let mut accounts: Vec<Account> = Vec::new();
    for (index, entry) in raw.split(',').map(str::trim).enumerate() {
        let position = index + 1;
        if entry.is_empty() {
            continue;
        }
        let Some((username, password)) = entry.split_once(':') else {
            return Err(format!(
                "entry {position} has no ':' (expected user:password)"
            ));
        };
        let username = username.trim();
        if username.is_empty() {
            return Err(format!("entry {position} has an empty username"));
        }
        if username.chars().count() > MAX_USERNAME_CHARS {
            return Err(format!(
                "entry {position}: usernames are at most {MAX_USERNAME_CHARS} characters"
            ));
        }
        if password.is_empty() {
            return Err(format!("user {username:?} has an empty password"));
        }
        if accounts.iter().any(|a| a.username == username) {
            return Err(format!("user {username:?} is listed twice"));
        }
        let password = match password.strip_prefix("{bcrypt}") {
            Some(hash) => {
                let parts: bcrypt::HashParts = hash.parse().map_err(|_| {
                    format!("the {{bcrypt}} password of user {username:?} is not a bcrypt hash")
                })?;
                if !(4..=31).contains(&parts.get_cost()) {
                    return Err(format!(
                        "the {{bcrypt}} hash of user {username:?} has an invalid cost"
                    ));
                }
                StoredPassword::Bcrypt(Secret::new(hash))
            }
            None => StoredPassword::Plain(Secret::new(password)),
        };
        accounts.push(Account {
            username: username.to_string(),
            password,
        });
    }
    Ok(accounts)
}

// ---------------------------------------------------------------------------------
// Principals and decisions
// ---------------------------------------------------------------------------------

/// The profile, decided at start-up.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AuthMode {
    /// Neither accounts nor an API key: everything is accepted.
    Open,
    /// `LIGHTRAG_API_KEY` only.
    KeyOnly,
    /// `AUTH_ACCOUNTS` (with or without a key).
    Accounts,
}

impl AuthMode {
    /// LightRAG's `auth_mode`: `"enabled"` only with accounts, else `"disabled"`.
    pub fn as_str(self) -> &'static str {
        match self {
            AuthMode::Accounts => "enabled",
            AuthMode::Open | AuthMode::KeyOnly => "disabled",
        }
    }
}

/// Who a request is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Principal {
    /// No credentials (open profile), or none accepted on a whitelisted path.
    Anonymous,
    /// A guest token, in the open profile.
    Guest,
    /// The global `LIGHTRAG_API_KEY`.
    ApiKey,
    /// A logged-in account that is not bound to workspaces.
    User(String),
    /// A logged-in account that `LIGHTRAG_WORKSPACE_KEYS_FILE` binds to `workspaces`.
    BoundUser {
        name: String,
        workspaces: Vec<String>,
    },
    /// A key from `LIGHTRAG_WORKSPACE_KEYS_FILE`, bound to `workspaces`.
    WorkspaceKey {
        name: String,
        workspaces: Vec<String>,
    },
}

impl Principal {
    /// Whether this principal may use `workspace`. Bound principals may use only their
    /// workspaces; everyone else, every workspace. The server answers a workspace that
    /// is refused here exactly like one that does not exist.
    pub fn may_use(&self, workspace: &str) -> bool {
        match self.workspaces() {
            Some(allowed) => allowed.iter().any(|w| w == workspace),
            None => true,
        }
    }

    /// The workspaces this principal is bound to; `None` for unbound principals.
    pub fn workspaces(&self) -> Option<&[String]> {
        match self {
            Principal::BoundUser { workspaces, .. }
            | Principal::WorkspaceKey { workspaces, .. } => Some(workspaces),
            Principal::Anonymous | Principal::Guest | Principal::ApiKey | Principal::User(_) => {
                None
            }
        }
    }

    /// The account name of a logged-in user, bound or not.
    pub fn username(&self) -> Option<&str> {
        match self {
            Principal::User(name) | Principal::BoundUser { name, .. } => Some(name),
            _ => None,
        }
    }

    /// A short label for logs and metrics (no secret, no user-chosen text).
    pub fn kind(&self) -> &'static str {
        match self {
            Principal::Anonymous => "anonymous",
            Principal::Guest => "guest",
            Principal::ApiKey => "api-key",
            Principal::User(_) | Principal::BoundUser { .. } => "user",
            Principal::WorkspaceKey { .. } => "workspace-key",
        }
    }
}

/// Result of [`Auth::authenticate`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Access {
    pub principal: Principal,
    /// Credentials were checked and accepted (LightRAG's `credentials_accepted`): true in
    /// the open profile and for accepted credentials; false for anonymous access to a
    /// whitelisted path in the other profiles.
    pub authenticated: bool,
}

impl Access {
    /// Shorthand for `self.principal.may_use(workspace)`.
    pub fn may_use(&self, workspace: &str) -> bool {
        self.principal.may_use(workspace)
    }
}

/// Why a request or a login was refused. The messages are LightRAG's `detail` strings.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AuthError {
    /// 401.
    Unauthorized(String),
    /// 403.
    Forbidden(String),
    /// 429, with `Retry-After: retry_after` (seconds).
    TooManyAttempts { retry_after: u64 },
    /// 422: a malformed login form (FastAPI's validation answer), e.g. a `grant_type`
    /// other than `password`.
    InvalidRequest(String),
}

impl AuthError {
    pub fn status(&self) -> StatusCode {
        match self {
            AuthError::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            AuthError::Forbidden(_) => StatusCode::FORBIDDEN,
            AuthError::TooManyAttempts { .. } => StatusCode::TOO_MANY_REQUESTS,
            AuthError::InvalidRequest(_) => StatusCode::UNPROCESSABLE_ENTITY,
        }
    }

    /// The message for the response's `detail`.
    pub fn detail(&self) -> &str {
        match self {
            AuthError::Unauthorized(m) | AuthError::Forbidden(m) | AuthError::InvalidRequest(m) => {
                m
            }
            AuthError::TooManyAttempts { .. } => TOO_MANY_ATTEMPTS,
        }
    }
}

impl fmt::Display for AuthError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.status().as_u16(), self.detail())
    }
}

impl std::error::Error for AuthError {}

/// `{"detail": …}` with the status, plus `Retry-After` for 429 — LightRAG's shape.
impl IntoResponse for AuthError {
    fn into_response(self) -> Response {
        let mut response = (
            self.status(),
            axum::Json(json!({ "detail": self.detail() })),
        )
            .into_response();
        if let AuthError::TooManyAttempts { retry_after } = self {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(retry_after));
        }
        response
    }
}

fn unauthorized(message: &str) -> AuthError {
    AuthError::Unauthorized(message.to_string())
}

fn forbidden(message: &str) -> AuthError {
    AuthError::Forbidden(message.to_string())
}

// ---------------------------------------------------------------------------------
// Workspace keys file
// ---------------------------------------------------------------------------------

/// `LIGHTRAG_WORKSPACE_KEYS_FILE`:
///
/// ```json
/// {"keys": [{"name": "team-a", "sha256": "<hex sha256 of the key>", "workspaces": ["alpha", "beta"]}],
///  "accounts": [{"username": "alice", "workspaces": ["alpha"]}]}
/// ```
///
/// Keys are stored only as unsalted SHA-256 hashes. That is appropriate because API
/// keys are long random tokens (use at least 128 bits, e.g. `openssl rand -hex 32`):
/// guessing one is infeasible however fast the hash, unlike a human-chosen password,
/// which is why accounts use bcrypt instead. A fast hash also keeps the per-request
/// check cheap.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct KeysFile {
    #[serde(default)]
    keys: Vec<KeyEntry>,
    #[serde(default)]
    accounts: Vec<AccountEntry>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct KeyEntry {
    name: String,
    sha256: String,
    workspaces: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AccountEntry {
    username: String,
    workspaces: Vec<String>,
}

/// A workspace key as loaded: its name (not secret), the digest and its workspaces.
struct BoundKey {
    name: String,
    digest: [u8; 32],
    workspaces: Vec<String>,
}

impl fmt::Debug for BoundKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BoundKey")
            .field("name", &self.name)
            .field("workspaces", &self.workspaces)
            .finish_non_exhaustive()
    }
}

/// The workspace name rule of the server: 1–64 of `[A-Za-z0-9_-]`, starting with an
/// ASCII letter or digit.
fn valid_workspace_name(name: &str) -> bool {
    let bytes = name.as_bytes();
    !bytes.is_empty()
        && bytes.len() <= 64
        && bytes[0].is_ascii_alphanumeric()
        && bytes
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || *b == b'_' || *b == b'-')
}

fn check_workspaces(owner: &str, workspaces: Vec<String>) -> Result<Vec<String>, String> {
    if workspaces.is_empty() {
        return Err(format!("{owner} lists no workspace"));
    }
    let mut seen = HashSet::new();
    let mut out = Vec::with_capacity(workspaces.len());
    for workspace in workspaces {
        if !valid_workspace_name(&workspace) {
            return Err(format!(
                "{owner}: workspace {workspace:?} is not a valid name \
                 (1-64 of A-Z a-z 0-9 _ -, starting with a letter or digit)"
            ));
        }
        if seen.insert(workspace.clone()) {
            out.push(workspace);
        }
    }
    Ok(out)
}

type Bindings = (Vec<BoundKey>, HashMap<String, Vec<String>>);

fn load_keys_file(path: &Path, settings: &AuthSettings) -> Result<Bindings, String> {
    let fail = |reason: String| {
        format!(
            "invalid LIGHTRAG_WORKSPACE_KEYS_FILE={}: {reason}",
            path.display()
        )
    };
    let text = std::fs::read_to_string(path).map_err(|e| fail(format!("cannot read it: {e}")))?;
    let file: KeysFile =
        serde_json::from_str(&text).map_err(|e| fail(format!("not the expected JSON: {e}")))?;
    parse_keys_file(file, settings).map_err(fail)
}

fn parse_keys_file(file: KeysFile, settings: &AuthSettings) -> Result<Bindings, String> {
    let global_digest: Option<[u8; 32]> = settings
        .api_key
        .as_ref()
        .map(|key| Sha256::digest(key.expose().as_bytes()).into());

    let mut keys: Vec<BoundKey> = Vec::with_capacity(file.keys.len());
    for (index, entry) in file.keys.into_iter().enumerate() {
        let name = entry.name.trim().to_string();
        if name.is_empty()
            || name.chars().count() > MAX_KEY_NAME_CHARS
            || name.chars().any(char::is_control)
        {
            return Err(format!(
                "keys[{index}]: \"name\" must be 1-{MAX_KEY_NAME_CHARS} printable characters"
            ));
        }
        let owner = format!("key {name:?}");
        let mut digest = [0u8; 32];
        hex::decode_to_slice(entry.sha256.trim(), &mut digest).map_err(|_| {
            format!("{owner}: \"sha256\" must be 64 hex digits (the hash of the key, not the key)")
        })?;
        if keys.iter().any(|k| k.name == name) {
            return Err(format!("{owner} is listed twice"));
        }
        if keys.iter().any(|k| digest_eq(&k.digest, &digest)) {
            return Err(format!("{owner} has the same sha256 as another key"));
        }
        if global_digest.is_some_and(|g| digest_eq(&g, &digest)) {
            return Err(format!("{owner} is the same key as LIGHTRAG_API_KEY"));
        }
        let workspaces = check_workspaces(&owner, entry.workspaces)?;
        keys.push(BoundKey {
            name,
            digest,
            workspaces,
        });
    }

    let mut bindings: HashMap<String, Vec<String>> = HashMap::new();
    for entry in file.accounts {
        let username = entry.username.trim().to_string();
        let owner = format!("account {username:?}");
        if !settings.accounts.iter().any(|a| a.username == username) {
            return Err(format!("{owner} is not in AUTH_ACCOUNTS"));
        }
        if bindings.contains_key(&username) {
            return Err(format!("{owner} is listed twice"));
        }
        let workspaces = check_workspaces(&owner, entry.workspaces)?;
        bindings.insert(username, workspaces);
    }
    Ok((keys, bindings))
}

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
struct Claims {
    sub: String,
    exp: f64,
    #[serde(default = "default_role")]
    role: String,
}

fn default_role() -> String {
    ROLE_USER.to_string()
}

fn now_unix() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

fn signer(secret: &Secret) -> HmacSha256 {
    HmacSha256::new_from_slice(secret.expose().as_bytes()).expect("HMAC accepts keys of any length")
}

/// Signs `payload` as an HS256 JWT.
fn encode_jwt(secret: &Secret, payload: &Value) -> String {
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
fn decode_jwt(secret: &Secret, token: &str, now: i64) -> Result<Claims, AuthError> {
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

    /// `POST /login`, with the OAuth2 password form already decoded. With no accounts,
    /// the guest payload (like LightRAG). Call from a blocking thread: a bcrypt check is
    /// slow on purpose.
    pub fn login(
        &self,
        username: &str,
        password: &str,
        grant_type: Option<&str>,
        client_ip: &str,
    ) -> Result<Value, AuthError> {
        self.login_at(
            username,
            password,
            grant_type,
            client_ip,
            Instant::now(),
            now_unix(),
        )
    }

    fn login_at(
        &self,
        username: &str,
        password: &str,
        grant_type: Option<&str>,
        client_ip: &str,
        now: Instant,
        now_unix: i64,
    ) -> Result<Value, AuthError> {
        if let Some(grant_type) = grant_type
            && !grant_type.is_empty()
            && grant_type != "password"
        {
            return Err(AuthError::InvalidRequest(
                "grant_type must be \"password\"".to_string(),
            ));
        }
        if self.mode != AuthMode::Accounts {
            let mut payload = self.guest_payload(now_unix);
            if let Some(object) = payload.as_object_mut() {
                object.remove("auth_configured");
            }
            return Ok(payload);
        }
        if username.chars().count() > MAX_USERNAME_CHARS {
            // Can never succeed; not worth a throttle entry.
            return Err(unauthorized(INCORRECT_CREDENTIALS));
        }

        let throttle_key = format!("{client_ip}:{username}");
        self.reserve_attempt(&throttle_key, now)?;
        if self.verify_credentials(username, password) {
            self.lock_attempts().remove(&throttle_key);
            let token = encode_jwt(
                &self.settings.token_secret,
                &self.claims(
                    username,
                    ROLE_USER,
                    self.settings.token_expire_hours,
                    now_unix,
                ),
            );
            let mut payload = self.common_fields();
            payload.insert("access_token".into(), token.into());
            payload.insert("token_type".into(), "bearer".into());
            payload.insert("auth_mode".into(), AuthMode::Accounts.as_str().into());
            Ok(Value::Object(payload))
        } else {
            tracing::warn!(client_ip, username, "login failed: incorrect credentials");
            Err(unauthorized(INCORRECT_CREDENTIALS))
        }
    }

    fn verify_credentials(&self, username: &str, password: &str) -> bool {
        match self
            .settings
            .accounts
            .iter()
            .find(|a| a.username == username)
        {
            Some(account) => account.verify(password),
            None => {
                // Spend about the same time as for a known user, so the answer time
                // does not tell which usernames exist.
                if let Some(StoredPassword::Bcrypt(hash)) = self
                    .settings
                    .accounts
                    .iter()
                    .map(|a| &a.password)
                    .find(|p| matches!(p, StoredPassword::Bcrypt(_)))
                {
                    let _ = bcrypt::verify(password, hash.expose());
                }
                false
            }
        }
    }

    fn lock_attempts(&self) -> MutexGuard<'_, HashMap<String, Vec<Instant>>> {
        self.attempts
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Counts this attempt as a failure before the password is checked (a success
    /// clears the entry), so parallel attempts cannot all slip under the limit.
    fn reserve_attempt(&self, throttle_key: &str, now: Instant) -> Result<(), AuthError> {
        let window = self.settings.login_lockout_window;
        let max = self.settings.login_max_failed_attempts as usize;
        let fresh = |t: &Instant| now.saturating_duration_since(*t) < window;
        let mut attempts = self.lock_attempts();

        if attempts.len() >= THROTTLE_PRUNE_AT && !attempts.contains_key(throttle_key) {
            attempts.retain(|_, times| {
                times.retain(fresh);
                !times.is_empty()
            });
            if attempts.len() >= THROTTLE_MAX_ENTRIES {
                let stalest = attempts
                    .iter()
                    .min_by_key(|(_, times)| times.last().copied())
                    .map(|(k, _)| k.clone());
                if let Some(stalest) = stalest {
                    attempts.remove(&stalest);
                }
            }
        }

        let times = attempts.entry(throttle_key.to_string()).or_default();
        times.retain(fresh);
        if times.len() >= max {
            let oldest = times[0];
            let wait = (oldest + window).saturating_duration_since(now);
            let retry_after = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
            tracing::warn!(
                throttle_key,
                retry_after,
                "login locked out after repeated failures"
            );
            return Err(AuthError::TooManyAttempts {
                retry_after: retry_after.max(1),
            });
        }
        times.push(now);
        Ok(())
    }

    /// `GET /auth-status`.
    pub fn auth_status(&self) -> Value {
        self.auth_status_at(now_unix())
    }

    fn auth_status_at(&self, now_unix: i64) -> Value {
        if self.mode == AuthMode::Accounts {
            let mut payload = self.common_fields();
            payload.insert("auth_configured".into(), true.into());
            payload.insert("auth_mode".into(), AuthMode::Accounts.as_str().into());
            Value::Object(payload)
        } else {
            self.guest_payload(now_unix)
        }
    }

    /// A fresh guest token (`sub: "guest"`, `role: "guest"`).
    pub fn guest_token(&self) -> String {
        self.guest_token_at(now_unix())
    }

    fn guest_token_at(&self, now_unix: i64) -> String {
        encode_jwt(
            &self.settings.token_secret,
            &self.claims(
                GUEST,
                ROLE_GUEST,
                self.settings.guest_token_expire_hours,
                now_unix,
            ),
        )
    }

    fn guest_payload(&self, now_unix: i64) -> Value {
        let mut payload = self.common_fields();
        payload.insert("auth_configured".into(), false.into());
        payload.insert("access_token".into(), self.guest_token_at(now_unix).into());
        payload.insert("token_type".into(), "bearer".into());
        payload.insert("auth_mode".into(), AuthMode::Open.as_str().into());
        payload.insert("message".into(), GUEST_MESSAGE.into());
        Value::Object(payload)
    }

    fn common_fields(&self) -> serde_json::Map<String, Value> {
        let mut fields = serde_json::Map::new();
        fields.insert("core_version".into(), CORE_VERSION.into());
        fields.insert("api_version".into(), API_VERSION.into());
        fields.insert(
            "webui_title".into(),
            self.settings.webui_title.clone().into(),
        );
        fields.insert(
            "webui_description".into(),
            self.settings.webui_description.clone().into(),
        );
        fields.insert("ai_content_notice_enabled".into(), false.into());
        fields
    }

    fn claims(&self, sub: &str, role: &str, hours: f64, now_unix: i64) -> Value {
        // Hours are bounded at start-up, so this neither overflows nor saturates.
        let lifetime = (hours * 3600.0).round() as i64;
        json!({
            "sub": sub,
            "exp": now_unix.saturating_add(lifetime),
            "role": role,
            "metadata": { "auth_mode": self.mode.as_str() },
        })
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

// ---------------------------------------------------------------------------------
// Tests
// ---------------------------------------------------------------------------------

#[cfg(test)]
mod tests {
    use super::*;

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

    // --- settings --------------------------------------------------------------

    #[test]
    fn defaults_select_the_open_profile() {
        let s = settings(&[]).unwrap();
        assert_eq!(s.mode(), AuthMode::Open);
        assert_eq!(
            s.whitelist(),
            &[
                PathPattern::Exact("/health".into()),
                PathPattern::Prefix("/api".into())
            ]
        );
        assert_eq!(s.token_expire_hours, 48.0);
        assert_eq!(s.guest_token_expire_hours, 24.0);
        assert_eq!(s.login_max_failed_attempts, 5);
        assert_eq!(s.login_lockout_window, Duration::from_secs(300));
        assert!(s.token_secret_is_default);
        assert_eq!(AuthMode::Open.as_str(), "disabled");
        assert_eq!(AuthMode::KeyOnly.as_str(), "disabled");
        assert_eq!(AuthMode::Accounts.as_str(), "enabled");
    }

    #[test]
    fn profiles_follow_key_and_accounts() {
        assert_eq!(key_only().mode(), AuthMode::KeyOnly);
        assert_eq!(accounts().mode(), AuthMode::Accounts);
        assert_eq!(accounts_and_key().mode(), AuthMode::Accounts);
        // Blank values count as unset.
        assert_eq!(
            auth(&[("LIGHTRAG_API_KEY", "  "), ("AUTH_ACCOUNTS", "")]).mode(),
            AuthMode::Open
        );
    }

    #[test]
    fn accounts_need_a_real_token_secret() {
        let missing = settings(&[("AUTH_ACCOUNTS", "a:b")]).unwrap_err();
        assert!(missing.contains("TOKEN_SECRET"), "{missing}");
        let default = settings(&[
            ("AUTH_ACCOUNTS", "a:b"),
            ("TOKEN_SECRET", DEFAULT_TOKEN_SECRET),
        ])
        .unwrap_err();
        assert!(default.contains("TOKEN_SECRET"), "{default}");
        assert!(!default.contains(DEFAULT_TOKEN_SECRET));
        // Without accounts the default is fine (guest tokens only).
        assert!(settings(&[("TOKEN_SECRET", DEFAULT_TOKEN_SECRET)]).is_ok());
    }

    #[test]
    fn only_hs256_is_accepted() {
        for bad in ["none", "RS256", "hs256", "HS512"] {
            let err = settings(&[("JWT_ALGORITHM", bad)]).unwrap_err();
            assert!(
                err.starts_with(&format!("invalid JWT_ALGORITHM={bad}:")),
                "{err}"
            );
        }
        assert!(settings(&[("JWT_ALGORITHM", "HS256")]).is_ok());
    }

    #[test]
    fn numeric_settings_are_validated_by_name() {
        let cases = [
            ("TOKEN_EXPIRE_HOURS", "abc"),
            ("TOKEN_EXPIRE_HOURS", "0"),
            ("TOKEN_EXPIRE_HOURS", "-3"),
            ("TOKEN_EXPIRE_HOURS", "inf"),
            ("GUEST_TOKEN_EXPIRE_HOURS", "NaN"),
            ("LOGIN_MAX_FAILED_ATTEMPTS", "0"),
            ("LOGIN_MAX_FAILED_ATTEMPTS", "five"),
            ("LOGIN_LOCKOUT_WINDOW_SECONDS", "0"),
            ("LOGIN_LOCKOUT_WINDOW_SECONDS", "1.5"),
        ];
        for (name, value) in cases {
            let err = settings(&[(name, value)]).unwrap_err();
            assert!(
                err.starts_with(&format!("invalid {name}={value}:")),
                "{err}"
            );
        }
        let s = settings(&[
            ("TOKEN_EXPIRE_HOURS", "1.5"),
            ("GUEST_TOKEN_EXPIRE_HOURS", "2"),
            ("LOGIN_MAX_FAILED_ATTEMPTS", "3"),
            ("LOGIN_LOCKOUT_WINDOW_SECONDS", "60"),
        ])
        .unwrap();
        assert_eq!(
            (s.token_expire_hours, s.guest_token_expire_hours),
            (1.5, 2.0)
        );
        assert_eq!(
            (
                s.login_max_failed_attempts,
                s.login_lockout_window.as_secs()
            ),
            (3, 60)
        );
    }

    #[test]
    fn auth_accounts_parsing_and_errors() {
        let s = settings(&[
            ("AUTH_ACCOUNTS", " alice:pw1 , bob:a:b:c ,"),
            ("TOKEN_SECRET", SECRET),
        ])
        .unwrap();
        let names: Vec<&str> = s.accounts().iter().map(Account::username).collect();
        assert_eq!(names, ["alice", "bob"]);
        assert!(
            s.accounts()[1].verify("a:b:c"),
            "the password is everything after the first ':'"
        );

        let long = format!("{}:pw", "u".repeat(257));
        assert!(
            settings(&[
                ("AUTH_ACCOUNTS", &format!("{}:pw", "u".repeat(256))),
                ("TOKEN_SECRET", SECRET)
            ])
            .is_ok()
        );
        let cases = [
            ("alice-no-colon-topsecret", "no ':'"),
            (":topsecret", "empty username"),
            (long.as_str(), "at most 256"),
            ("alice:", "empty password"),
            ("alice:topsecret,alice:topsecret2", "twice"),
            ("alice:{bcrypt}topsecret", "not a bcrypt hash"),
        ];
        for (raw, expected) in cases {
            let err = settings(&[("AUTH_ACCOUNTS", raw), ("TOKEN_SECRET", SECRET)]).unwrap_err();
            assert!(err.starts_with("invalid AUTH_ACCOUNTS:"), "{err}");
            assert!(err.contains(expected), "{err}");
            assert!(!err.contains("topsecret"), "a password leaked: {err}");
        }
    }

    #[test]
    fn whitelist_parsing() {
        assert!(
            settings(&[("WHITELIST_PATHS", "")])
                .unwrap()
                .whitelist()
                .is_empty()
        );
        let s = settings(&[("WHITELIST_PATHS", " /a , /b/* ,, /* ")]).unwrap();
        assert_eq!(
            s.whitelist(),
            &[
                PathPattern::Exact("/a".into()),
                PathPattern::Prefix("/b".into()),
                PathPattern::Prefix("".into())
            ]
        );
        for bad in ["health", "/api*", "/a/*/b"] {
            let err = settings(&[("WHITELIST_PATHS", bad)]).unwrap_err();
            assert!(err.starts_with("invalid WHITELIST_PATHS="), "{err}");
        }
    }

    #[test]
    fn whitelist_matches_on_segment_boundaries() {
        let a = open();
        for path in ["/health", "/api", "/api/", "/api/tags", "/api/chat/x"] {
            assert!(a.is_whitelisted(path), "{path}");
        }
        for path in [
            "/apiary",
            "/ap",
            "/healthz",
            "/health/x",
            "/",
            "/documents",
            "/x/api/tags",
            "/api/../documents",
        ] {
            assert!(!a.is_whitelisted(path), "{path}");
        }
        let all = auth(&[("WHITELIST_PATHS", "/*")]);
        assert!(all.is_whitelisted("/") && all.is_whitelisted("/documents/x"));
        let none = auth(&[("WHITELIST_PATHS", "")]);
        assert!(!none.is_whitelisted("/health"));
    }

    // --- JWT ---------------------------------------------------------------------

    #[test]
    fn jwt_round_trip_and_format() {
        let t = user_token("alice");
        let parts: Vec<&str> = t.split('.').collect();
        assert_eq!(parts.len(), 3);
        assert!(
            t.chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c)),
            "base64url, no padding"
        );
        assert_eq!(
            URL_SAFE_NO_PAD.decode(parts[0]).unwrap(),
            JWT_HEADER.as_bytes()
        );
        let claims = decode_jwt(&Secret::new(SECRET), &t, now_unix()).unwrap();
        assert_eq!(
            (claims.sub.as_str(), claims.role.as_str()),
            ("alice", "user")
        );
    }

    #[test]
    fn jwt_rejections() {
        let secret = Secret::new(SECRET);
        let now = now_unix();
        let invalid = Err(u(INVALID_TOKEN));
        let check = |t: &str| decode_jwt(&secret, t, now).map(|c| c.sub);

        assert_eq!(
            check(&token("other-secret", "alice", "user", future())),
            invalid,
            "bad signature"
        );
        assert_eq!(check(&unsigned_token("alice", "user")), invalid, "alg none");
        assert_eq!(check("not-a-token"), invalid);
        assert_eq!(check("a.b.c.d"), invalid);
        assert_eq!(
            check(&token(SECRET, "alice", "user", now - 1)),
            Err(u(TOKEN_EXPIRED))
        );
        assert_eq!(
            check(&token(SECRET, "alice", "user", now)),
            Err(u(TOKEN_EXPIRED))
        );
        // Expired and badly signed: the signature is checked first.
        assert_eq!(
            check(&token("other-secret", "alice", "user", now - 10)),
            invalid
        );

        // Tampered payload, original signature.
        let good = user_token("alice");
        let parts: Vec<&str> = good.split('.').collect();
        let forged = URL_SAFE_NO_PAD
            .encode(json!({"sub": "admin", "exp": future(), "role": "user"}).to_string());
        assert_eq!(
            check(&format!("{}.{forged}.{}", parts[0], parts[2])),
            invalid
        );
        // Padding is not base64url-without-padding.
        assert_eq!(
            check(&format!("{}.{}.{}=", parts[0], parts[1], parts[2])),
            invalid
        );
        // Well signed but without the claims.
        assert_eq!(
            check(&encode_jwt(&secret, &json!({"sub": "alice"}))),
            invalid
        );
        assert_eq!(
            check(&encode_jwt(&secret, &json!({"sub": "", "exp": future()}))),
            invalid
        );
        // A header with another algorithm but a valid HS256 signature.
        let header = URL_SAFE_NO_PAD.encode(r#"{"alg":"HS512","typ":"JWT"}"#);
        let input = format!("{header}.{}", parts[1]);
        let mut m = signer(&secret);
        m.update(input.as_bytes());
        let sig = URL_SAFE_NO_PAD.encode(m.finalize().into_bytes());
        assert_eq!(check(&format!("{input}.{sig}")), invalid);
        // A missing role defaults to "user".
        let no_role = encode_jwt(&secret, &json!({"sub": "alice", "exp": future()}));
        assert_eq!(decode_jwt(&secret, &no_role, now).unwrap().role, "user");
    }

    // --- open profile --------------------------------------------------------------

    #[test]
    fn open_profile_decisions() {
        let a = open();
        let anonymous = full(Principal::Anonymous);
        assert_eq!(allowed(&a, "/documents", &HeaderMap::new()), anonymous);
        assert_eq!(
            allowed(&a, "/documents", &with_key("whatever")),
            anonymous,
            "any key is fine"
        );
        assert_eq!(
            allowed(&a, "/documents", &bearer(&a.guest_token())),
            full(Principal::Guest)
        );
        assert_eq!(allowed(&a, "/health", &HeaderMap::new()), anonymous);
        // A user token without accounts.
        let user = token(DEFAULT_TOKEN_SECRET, "alice", "user", future());
        assert_eq!(refused(&a, "/documents", &bearer(&user)), u(LOGIN_AGAIN));
        let expired = token(DEFAULT_TOKEN_SECRET, "guest", "guest", now_unix() - 5);
        assert_eq!(
            refused(&a, "/documents", &bearer(&expired)),
            u(TOKEN_EXPIRED)
        );
        let foreign = token("other-secret", "guest", "guest", future());
        assert_eq!(
            refused(&a, "/documents", &bearer(&foreign)),
            u(INVALID_TOKEN)
        );
        assert_eq!(
            refused(&a, "/documents", &bearer(&unsigned_token("guest", "guest"))),
            u(INVALID_TOKEN)
        );
        assert_eq!(
            refused(&a, "/documents", &bearer("garbage")),
            u(INVALID_TOKEN)
        );
        // A bad token on a whitelisted path is ignored.
        assert_eq!(allowed(&a, "/api/tags", &bearer("garbage")), anonymous);
        // Strict mode ignores the whitelist.
        assert_eq!(
            a.authenticate_strict(&bearer("garbage")),
            Err(u(INVALID_TOKEN))
        );
        // Other schemes and empty bearer values are no token at all.
        assert_eq!(
            allowed(
                &a,
                "/documents",
                &headers(&[("authorization", "Basic abc")])
            ),
            anonymous
        );
        assert_eq!(
            allowed(&a, "/documents", &headers(&[("authorization", "Bearer ")])),
            anonymous
        );
        assert_eq!(
            allowed(
                &a,
                "/documents",
                &headers(&[("authorization", &format!("bearer {}", a.guest_token()))])
            ),
            full(Principal::Guest),
            "the scheme is case-insensitive"
        );
    }

    // --- key-only profile ---------------------------------------------------------

    #[test]
    fn key_only_profile_decisions() {
        let a = key_only();
        assert_eq!(
            refused(&a, "/documents", &HeaderMap::new()),
            f(API_KEY_REQUIRED)
        );
        assert_eq!(
            refused(&a, "/documents", &with_key("wrong")),
            f(INVALID_API_KEY)
        );
        assert_eq!(
            refused(&a, "/documents", &with_key(&format!("{KEY}x"))),
            f(INVALID_API_KEY)
        );
        assert_eq!(
            allowed(&a, "/documents", &with_key(KEY)),
            full(Principal::ApiKey)
        );
        assert_eq!(
            allowed(&a, "/documents", &headers(&[("X-API-KEY", KEY)])),
            full(Principal::ApiKey),
            "header names are case-insensitive"
        );
        // Guest tokens grant nothing here.
        assert_eq!(
            refused(&a, "/documents", &bearer(&default_guest_token())),
            f(API_KEY_REQUIRED)
        );
        let mut both = bearer(&default_guest_token());
        both.insert(API_KEY_HEADER, HeaderValue::from_static(KEY));
        assert_eq!(allowed(&a, "/documents", &both), full(Principal::ApiKey));
        // User tokens, expired and forged tokens are 401s.
        let user = token(DEFAULT_TOKEN_SECRET, "alice", "user", future());
        assert_eq!(refused(&a, "/documents", &bearer(&user)), u(LOGIN_AGAIN));
        let expired = token(DEFAULT_TOKEN_SECRET, "guest", "guest", now_unix() - 5);
        assert_eq!(
            refused(&a, "/documents", &bearer(&expired)),
            u(TOKEN_EXPIRED)
        );
        let foreign = token("other-secret", "guest", "guest", future());
        assert_eq!(
            refused(&a, "/documents", &bearer(&foreign)),
            u(INVALID_TOKEN)
        );
        assert_eq!(
            refused(&a, "/documents", &bearer(&unsigned_token("guest", "guest"))),
            u(INVALID_TOKEN)
        );
        // Whitelist: public, but not authenticated; segment boundaries hold.
        let public = Access {
            principal: Principal::Anonymous,
            authenticated: false,
        };
        assert_eq!(allowed(&a, "/health", &HeaderMap::new()), public);
        assert_eq!(allowed(&a, "/api/tags", &with_key("wrong")), public);
        assert_eq!(allowed(&a, "/api", &HeaderMap::new()), public);
        assert_eq!(
            allowed(&a, "/api/tags", &with_key(KEY)),
            full(Principal::ApiKey)
        );
        assert_eq!(
            refused(&a, "/apiary", &HeaderMap::new()),
            f(API_KEY_REQUIRED)
        );
        assert_eq!(
            refused(&a, "/healthz", &HeaderMap::new()),
            f(API_KEY_REQUIRED)
        );
        assert_eq!(
            a.authenticate_strict(&HeaderMap::new()),
            Err(f(API_KEY_REQUIRED))
        );
        assert_eq!(
            a.authenticate_strict(&with_key(KEY)),
            Ok(full(Principal::ApiKey))
        );
    }

    #[test]
    fn non_utf8_api_key_is_just_wrong() {
        let a = key_only();
        let mut h = HeaderMap::new();
        h.insert(
            API_KEY_HEADER,
            HeaderValue::from_bytes(b"\xff\xfe").unwrap(),
        );
        assert_eq!(refused(&a, "/documents", &h), f(INVALID_API_KEY));
    }

    // --- accounts profile ---------------------------------------------------------

    #[test]
    fn accounts_profile_decisions() {
        let a = accounts();
        assert_eq!(
            refused(&a, "/documents", &HeaderMap::new()),
            u(NO_CREDENTIALS)
        );
        assert_eq!(
            refused(&a, "/documents", &with_key("anything")),
            u(NO_CREDENTIALS)
        );
        assert_eq!(
            refused(
                &a,
                "/documents",
                &headers(&[("authorization", "Basic abc")])
            ),
            u(NO_CREDENTIALS)
        );
        assert_eq!(
            allowed(&a, "/documents", &bearer(&user_token("admin"))),
            full(Principal::User("admin".into()))
        );
        // Any role but guest counts as a user (LightRAG: role != "guest").
        assert_eq!(
            allowed(
                &a,
                "/documents",
                &bearer(&token(SECRET, "bob", "admin", future()))
            ),
            full(Principal::User("bob".into()))
        );
        assert_eq!(
            refused(
                &a,
                "/documents",
                &bearer(&token(SECRET, "guest", "guest", future()))
            ),
            u(LOGIN_AGAIN)
        );
        assert_eq!(
            refused(&a, "/documents", &bearer(&default_guest_token())),
            u(INVALID_TOKEN)
        );
        assert_eq!(
            refused(&a, "/documents", &bearer(&user_token("mallory"))),
            u(LOGIN_AGAIN),
            "unknown account"
        );
        assert_eq!(
            refused(
                &a,
                "/documents",
                &bearer(&token(SECRET, "admin", "user", now_unix() - 1))
            ),
            u(TOKEN_EXPIRED)
        );
        assert_eq!(
            refused(
                &a,
                "/documents",
                &bearer(&token("other-secret", "admin", "user", future()))
            ),
            u(INVALID_TOKEN)
        );
        assert_eq!(
            refused(&a, "/documents", &bearer(&unsigned_token("admin", "user"))),
            u(INVALID_TOKEN)
        );
        // A bad token is a 401 even next to a valid key.
        let a = accounts_and_key();
        let mut h = bearer("garbage");
        h.insert(API_KEY_HEADER, HeaderValue::from_static(KEY));
        assert_eq!(refused(&a, "/documents", &h), u(INVALID_TOKEN));
        assert_eq!(
            allowed(&a, "/documents", &with_key(KEY)),
            full(Principal::ApiKey)
        );
        assert_eq!(
            refused(&a, "/documents", &with_key("wrong")),
            u(NO_CREDENTIALS)
        );
        assert_eq!(
            refused(&a, "/documents", &HeaderMap::new()),
            u(NO_CREDENTIALS)
        );
        // Whitelisted paths.
        let public = Access {
            principal: Principal::Anonymous,
            authenticated: false,
        };
        assert_eq!(allowed(&a, "/health", &HeaderMap::new()), public);
        assert_eq!(allowed(&a, "/api/generate", &bearer("garbage")), public);
        assert_eq!(
            allowed(&a, "/api/generate", &bearer(&user_token("admin"))),
            full(Principal::User("admin".into()))
        );
        assert_eq!(refused(&a, "/apiary", &HeaderMap::new()), u(NO_CREDENTIALS));
        assert_eq!(
            a.authenticate_strict(&HeaderMap::new()),
            Err(u(NO_CREDENTIALS))
        );
    }

    #[test]
    fn auth_errors_render_like_lightrag() {
        let response = AuthError::TooManyAttempts { retry_after: 42 }.into_response();
        assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(response.headers()[header::RETRY_AFTER], "42");
        assert_eq!(u("x").into_response().status(), StatusCode::UNAUTHORIZED);
        assert_eq!(f("x").into_response().status(), StatusCode::FORBIDDEN);
        assert_eq!(
            AuthError::InvalidRequest("x".into()).status(),
            StatusCode::UNPROCESSABLE_ENTITY
        );
        assert_eq!(
            u(NO_CREDENTIALS).to_string(),
            "401 No credentials provided. Please login."
        );
    }

    // --- login and status ---------------------------------------------------------

    fn decode(a: &Auth, token: &Value) -> Claims {
        decode_jwt(
            &a.settings.token_secret,
            token.as_str().unwrap(),
            now_unix(),
        )
        .unwrap()
    }

    #[test]
    fn login_without_accounts_is_guest_access() {
        for a in [open(), key_only()] {
            let p = a.login("anyone", "anything", None, "127.0.0.1").unwrap();
            assert_eq!(p["auth_mode"], "disabled");
            assert_eq!(p["token_type"], "bearer");
            assert_eq!(p["message"], GUEST_MESSAGE);
            assert_eq!(p["core_version"], CORE_VERSION);
            assert!(p.get("auth_configured").is_none());
            let claims = decode(&a, &p["access_token"]);
            assert_eq!(
                (claims.sub.as_str(), claims.role.as_str()),
                ("guest", "guest")
            );
        }
    }

    #[test]
    fn login_success_returns_lightrag_payload() {
        let a = accounts();
        let p = a
            .login("admin", "s3cret-pass", Some("password"), "10.0.0.1")
            .unwrap();
        assert_eq!(p["token_type"], "bearer");
        assert_eq!(p["auth_mode"], "enabled");
        assert_eq!(p["core_version"], "1.5.7");
        assert_eq!(p["api_version"], "0344");
        assert_eq!(p["webui_title"], Value::Null);
        assert_eq!(p["webui_description"], Value::Null);
        assert_eq!(p["ai_content_notice_enabled"], false);
        let token = p["access_token"].as_str().unwrap();
        let claims = decode(&a, &p["access_token"]);
        assert_eq!(
            (claims.sub.as_str(), claims.role.as_str()),
            ("admin", "user")
        );
        let lifetime = claims.exp - now_unix() as f64;
        assert!(
            (48.0 * 3600.0 - 5.0..=48.0 * 3600.0).contains(&lifetime),
            "{lifetime}"
        );
        let payload = URL_SAFE_NO_PAD
            .decode(token.split('.').nth(1).unwrap())
            .unwrap();
        let payload: Value = serde_json::from_slice(&payload).unwrap();
        assert_eq!(payload["metadata"], json!({"auth_mode": "enabled"}));
        assert_eq!(
            allowed(&a, "/documents", &bearer(token)),
            full(Principal::User("admin".into()))
        );
        // Empty grant_type counts as absent.
        assert!(a.login("bob", "hunter2", Some(""), "10.0.0.1").is_ok());
    }

    #[test]
    fn login_failures_and_grant_type() {
        let a = accounts();
        let incorrect = Err(u(INCORRECT_CREDENTIALS));
        assert_eq!(a.login("admin", "wrong", None, "ip"), incorrect);
        assert_eq!(a.login("admin", "", None, "ip"), incorrect);
        assert_eq!(a.login("nobody", "s3cret-pass", None, "ip"), incorrect);
        assert_eq!(
            a.login("bob", "s3cret-pass", None, "ip"),
            incorrect,
            "another user's password"
        );
        assert_eq!(a.login(&"x".repeat(300), "pw", None, "ip"), incorrect);
        let bad_grant = a
            .login("admin", "s3cret-pass", Some("client_credentials"), "ip")
            .unwrap_err();
        assert!(matches!(bad_grant, AuthError::InvalidRequest(_)));
        assert!(matches!(
            open().login("x", "y", Some("refresh_token"), "ip"),
            Err(AuthError::InvalidRequest(_))
        ));
    }

    #[test]
    fn login_throttle() {
        let a = accounts();
        let t0 = Instant::now();
        let now = now_unix();
        let login = |user: &str, pw: &str, ip: &str, at: Duration| {
            a.login_at(user, pw, None, ip, t0 + at, now)
        };
        for i in 0..5 {
            assert_eq!(
                login("admin", "bad", "1.1.1.1", Duration::from_secs(i)),
                Err(u(INCORRECT_CREDENTIALS))
            );
        }
        // Locked: even the right password gets a 429, with the time left in the window.
        let locked = login("admin", "s3cret-pass", "1.1.1.1", Duration::from_secs(10));
        assert_eq!(locked, Err(AuthError::TooManyAttempts { retry_after: 290 }));
        let locked = login(
            "admin",
            "s3cret-pass",
            "1.1.1.1",
            Duration::from_millis(299_500),
        );
        assert_eq!(locked, Err(AuthError::TooManyAttempts { retry_after: 1 }));
        // Other IPs and other usernames are not affected.
        assert!(login("admin", "s3cret-pass", "2.2.2.2", Duration::from_secs(10)).is_ok());
        assert!(login("bob", "hunter2", "1.1.1.1", Duration::from_secs(10)).is_ok());
        // Once the first failure leaves the window, one attempt is allowed again.
        assert!(login("admin", "s3cret-pass", "1.1.1.1", Duration::from_secs(300)).is_ok());

        // A success clears the count.
        for i in 0..4 {
            let _ = login("bob", "bad", "3.3.3.3", Duration::from_secs(i));
        }
        assert!(login("bob", "hunter2", "3.3.3.3", Duration::from_secs(5)).is_ok());
        for i in 0..4 {
            assert_eq!(
                login("bob", "bad", "3.3.3.3", Duration::from_secs(6 + i)),
                Err(u(INCORRECT_CREDENTIALS))
            );
        }
    }

    #[test]
    fn throttle_limits_come_from_settings() {
        let a = auth(&[
            ("AUTH_ACCOUNTS", "admin:pw"),
            ("TOKEN_SECRET", SECRET),
            ("LOGIN_MAX_FAILED_ATTEMPTS", "2"),
            ("LOGIN_LOCKOUT_WINDOW_SECONDS", "10"),
        ]);
        let t0 = Instant::now();
        let login = |at: u64| {
            a.login_at(
                "admin",
                "bad",
                None,
                "ip",
                t0 + Duration::from_secs(at),
                now_unix(),
            )
        };
        assert_eq!(login(0), Err(u(INCORRECT_CREDENTIALS)));
        assert_eq!(login(1), Err(u(INCORRECT_CREDENTIALS)));
        assert_eq!(login(2), Err(AuthError::TooManyAttempts { retry_after: 8 }));
        assert_eq!(login(11), Err(u(INCORRECT_CREDENTIALS)));
    }

    #[test]
    fn bcrypt_and_plaintext_accounts() {
        let hash = bcrypt::hash("correct horse", 4).unwrap();
        let raw = format!("plain:battery staple,hashed:{{bcrypt}}{hash}");
        let a = auth(&[("AUTH_ACCOUNTS", &raw), ("TOKEN_SECRET", SECRET)]);
        assert!(a.login("hashed", "correct horse", None, "ip").is_ok());
        assert_eq!(
            a.login("hashed", "wrong", None, "ip"),
            Err(u(INCORRECT_CREDENTIALS))
        );
        assert_eq!(
            a.login("hashed", &format!("{{bcrypt}}{hash}"), None, "ip"),
            Err(u(INCORRECT_CREDENTIALS))
        );
        assert!(a.login("plain", "battery staple", None, "ip").is_ok());
        assert_eq!(
            a.login("plain", "battery", None, "ip"),
            Err(u(INCORRECT_CREDENTIALS))
        );
        assert_eq!(
            a.login("nobody", "correct horse", None, "ip"),
            Err(u(INCORRECT_CREDENTIALS))
        );
        // $2a$/$2y$ hashes (other tools) are accepted too.
        let y = hash.replacen("$2b$", "$2y$", 1);
        let a = auth(&[
            ("AUTH_ACCOUNTS", &format!("u:{{bcrypt}}{y}")),
            ("TOKEN_SECRET", SECRET),
        ]);
        assert!(a.login("u", "correct horse", None, "ip").is_ok());
    }

    #[test]
    fn auth_status_payloads() {
        let a = auth(&[("WEBUI_TITLE", "Team RAG")]);
        let s = a.auth_status();
        assert_eq!(s["auth_configured"], false);
        assert_eq!(s["auth_mode"], "disabled");
        assert_eq!(s["token_type"], "bearer");
        assert_eq!(s["message"], GUEST_MESSAGE);
        assert_eq!(s["core_version"], CORE_VERSION);
        assert_eq!(s["api_version"], API_VERSION);
        assert_eq!(s["webui_title"], "Team RAG");
        assert_eq!(s["webui_description"], Value::Null);
        assert_eq!(s["ai_content_notice_enabled"], false);
        let claims = decode(&a, &s["access_token"]);
        assert_eq!(
            (claims.sub.as_str(), claims.role.as_str()),
            ("guest", "guest")
        );
        let lifetime = claims.exp - now_unix() as f64;
        assert!(
            (24.0 * 3600.0 - 5.0..=24.0 * 3600.0).contains(&lifetime),
            "{lifetime}"
        );
        assert_eq!(
            allowed(
                &a,
                "/documents",
                &bearer(s["access_token"].as_str().unwrap())
            ),
            full(Principal::Guest)
        );

        let s = accounts().auth_status();
        assert_eq!(s["auth_configured"], true);
        assert_eq!(s["auth_mode"], "enabled");
        assert_eq!(s["core_version"], CORE_VERSION);
        assert_eq!(s["api_version"], API_VERSION);
        assert!(s.get("access_token").is_none());
        assert!(s.get("ai_content_notice_enabled").is_some());
    }

    // --- workspaces ---------------------------------------------------------------

    #[test]
    fn hash_key_is_hex_sha256() {
        assert_eq!(
            hash_key("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn unbound_principals_may_use_everything() {
        for p in [
            Principal::Anonymous,
            Principal::Guest,
            Principal::ApiKey,
            Principal::User("x".into()),
        ] {
            assert!(p.may_use("alpha") && p.may_use("anything"), "{p:?}");
            assert_eq!(p.workspaces(), None);
        }
    }

    #[test]
    fn workspace_keys_in_every_profile() {
        let dir = tempfile::tempdir().unwrap();
        let file = team_file(&dir);
        let team = Principal::WorkspaceKey {
            name: "team-a".into(),
            workspaces: vec!["alpha".into(), "beta".into()],
        };
        let profiles = [
            auth(&[
                ("LIGHTRAG_WORKSPACE_KEYS_FILE", &file),
                ("AUTH_ACCOUNTS", "admin:pw"),
                ("TOKEN_SECRET", SECRET),
            ]),
            auth(&[
                ("LIGHTRAG_WORKSPACE_KEYS_FILE", &file),
                ("AUTH_ACCOUNTS", "admin:pw"),
                ("TOKEN_SECRET", SECRET),
                ("LIGHTRAG_API_KEY", KEY),
            ]),
        ];
        for a in &profiles {
            let access = allowed(a, "/documents", &with_key(TEAM_KEY));
            assert_eq!(access, full(team.clone()));
            assert!(access.may_use("alpha") && access.may_use("beta"));
            assert!(!access.may_use("gamma") && !access.may_use("Alpha") && !access.may_use(""));
            assert_eq!(
                a.workspaces_of(&access.principal),
                Some(vec!["alpha".into(), "beta".into()])
            );
            // On whitelisted paths too.
            assert_eq!(
                allowed(a, "/api/tags", &with_key(TEAM_KEY)),
                full(team.clone())
            );
        }
        // Key-only and open profiles: the file's accounts section needs AUTH_ACCOUNTS,
        // so use a keys-only file.
        let keys_only = keys_file(
            &dir,
            &json!({"keys": [{"name": "team-a", "sha256": hash_key(TEAM_KEY).to_uppercase(), "workspaces": ["alpha", "beta", "alpha"]}]})
                .to_string(),
        );
        let key_mode = auth(&[
            ("LIGHTRAG_WORKSPACE_KEYS_FILE", &keys_only),
            ("LIGHTRAG_API_KEY", KEY),
        ]);
        assert_eq!(
            allowed(&key_mode, "/documents", &with_key(TEAM_KEY)),
            full(team.clone())
        );
        assert_eq!(
            allowed(&key_mode, "/documents", &with_key(KEY)),
            full(Principal::ApiKey)
        );
        assert_eq!(
            refused(&key_mode, "/documents", &with_key("nope")),
            f(INVALID_API_KEY)
        );
        let open_mode = auth(&[("LIGHTRAG_WORKSPACE_KEYS_FILE", &keys_only)]);
        assert_eq!(open_mode.mode(), AuthMode::Open);
        assert_eq!(
            allowed(&open_mode, "/documents", &with_key(TEAM_KEY)),
            full(team.clone())
        );
        assert_eq!(
            allowed(&open_mode, "/documents", &HeaderMap::new()),
            full(Principal::Anonymous)
        );
        assert_eq!(open_mode.workspaces_of(&Principal::Anonymous), None);
    }

    #[test]
    fn bound_and_unbound_accounts() {
        let dir = tempfile::tempdir().unwrap();
        let a = auth(&[
            ("LIGHTRAG_WORKSPACE_KEYS_FILE", &team_file(&dir)),
            ("AUTH_ACCOUNTS", "admin:pw,bob:pw2"),
            ("TOKEN_SECRET", SECRET),
        ]);
        let p = a.login("admin", "pw", None, "ip").unwrap();
        let access = allowed(
            &a,
            "/documents",
            &bearer(p["access_token"].as_str().unwrap()),
        );
        let bound = Principal::BoundUser {
            name: "admin".into(),
            workspaces: vec!["alpha".into()],
        };
        assert_eq!(access, full(bound.clone()));
        assert!(access.may_use("alpha") && !access.may_use("beta"));
        assert_eq!(bound.username(), Some("admin"));
        assert_eq!(bound.kind(), "user");
        assert_eq!(a.workspaces_of(&bound), Some(vec!["alpha".into()]));
        assert_eq!(
            a.workspaces_of(&Principal::User("admin".into())),
            Some(vec!["alpha".into()])
        );

        let p = a.login("bob", "pw2", None, "ip").unwrap();
        let access = allowed(
            &a,
            "/documents",
            &bearer(p["access_token"].as_str().unwrap()),
        );
        assert_eq!(access.principal, Principal::User("bob".into()));
        assert!(access.may_use("alpha") && access.may_use("gamma"));
        assert_eq!(a.workspaces_of(&access.principal), None);
    }

    #[test]
    fn keys_file_validation() {
        let dir = tempfile::tempdir().unwrap();
        let good_hash = hash_key(TEAM_KEY);
        let key = |name: &str, sha: &str, ws: Value| json!({"name": name, "sha256": sha, "workspaces": ws});
        let cases: Vec<(String, &str)> = vec![
            ("not json".into(), "expected JSON"),
            (r#"{"keys": {}}"#.into(), "expected JSON"),
            (json!({"key": []}).to_string(), "unknown field"),
            (json!({"keys": [{"name": "a", "sha256": good_hash, "workspace": ["x"]}]}).to_string(), "unknown field"),
            (json!({"keys": [key("a", &good_hash, json!(["../etc"]))]}).to_string(), "not a valid name"),
            (json!({"keys": [key("a", &good_hash, json!([""]))]}).to_string(), "not a valid name"),
            (json!({"keys": [key("a", &good_hash, json!(["-x"]))]}).to_string(), "not a valid name"),
            (json!({"keys": [key("a", &good_hash, json!(["a".repeat(65)]))]}).to_string(), "not a valid name"),
            (json!({"keys": [key("a", &good_hash, json!([]))]}).to_string(), "no workspace"),
            (json!({"keys": [key("a", TEAM_KEY, json!(["x"]))]}).to_string(), "64 hex digits"),
            (json!({"keys": [key("", &good_hash, json!(["x"]))]}).to_string(), "\"name\""),
            (
                json!({"keys": [key("a", &good_hash, json!(["x"])), key("a", &hash_key("k2"), json!(["x"]))]}).to_string(),
                "twice",
            ),
            (
                json!({"keys": [key("a", &good_hash, json!(["x"])), key("b", &good_hash, json!(["x"]))]}).to_string(),
                "same sha256",
            ),
            (json!({"keys": [key("a", &hash_key(KEY), json!(["x"]))]}).to_string(), "LIGHTRAG_API_KEY"),
            (json!({"accounts": [{"username": "nobody", "workspaces": ["x"]}]}).to_string(), "not in AUTH_ACCOUNTS"),
            (
                json!({"accounts": [{"username": "admin", "workspaces": ["x"]}, {"username": "admin", "workspaces": ["y"]}]})
                    .to_string(),
                "twice",
            ),
            (json!({"accounts": [{"username": "admin", "workspaces": ["a b"]}]}).to_string(), "not a valid name"),
        ];
        for (body, expected) in cases {
            let path = keys_file(&dir, &body);
            let s = settings(&[
                ("LIGHTRAG_WORKSPACE_KEYS_FILE", &path),
                ("AUTH_ACCOUNTS", "admin:pw"),
                ("TOKEN_SECRET", SECRET),
                ("LIGHTRAG_API_KEY", KEY),
            ])
            .unwrap();
            let err = Auth::new(s).unwrap_err();
            assert!(
                err.starts_with("invalid LIGHTRAG_WORKSPACE_KEYS_FILE="),
                "{err}"
            );
            assert!(err.contains(expected), "{body}: {err}");
            assert!(
                !err.contains(TEAM_KEY) && !err.contains(KEY),
                "a key leaked: {err}"
            );
        }
        let missing = dir.path().join("missing.json");
        let s = settings(&[("LIGHTRAG_WORKSPACE_KEYS_FILE", missing.to_str().unwrap())]).unwrap();
        let err = Auth::new(s).unwrap_err();
        assert!(
            err.starts_with("invalid LIGHTRAG_WORKSPACE_KEYS_FILE=") && err.contains("cannot read"),
            "{err}"
        );
        // An empty object is a valid file that binds nothing.
        let s = settings(&[("LIGHTRAG_WORKSPACE_KEYS_FILE", &keys_file(&dir, "{}"))]).unwrap();
        assert!(Auth::new(s).is_ok());
    }

    // --- secrets ------------------------------------------------------------------

    #[test]
    fn debug_output_has_no_secret() {
        let dir = tempfile::tempdir().unwrap();
        let hash = bcrypt::hash("bcrypt-password", 4).unwrap();
        let raw = format!("admin:plain-password-123,hashed:{{bcrypt}}{hash}");
        let s = settings(&[
            ("LIGHTRAG_WORKSPACE_KEYS_FILE", &team_file(&dir)),
            ("AUTH_ACCOUNTS", &raw),
            ("TOKEN_SECRET", SECRET),
            ("LIGHTRAG_API_KEY", KEY),
        ])
        .unwrap();
        let a = Auth::new(s.clone()).unwrap();
        let team_hash = hash_key(TEAM_KEY);
        for text in [
            format!("{s:?}"),
            format!("{a:?}"),
            format!("{a:#?}"),
            format!("{:?}", s.accounts()),
        ] {
            for secret in [
                KEY,
                SECRET,
                "plain-password-123",
                hash.as_str(),
                &hash[7..],
                TEAM_KEY,
                &team_hash,
            ] {
                assert!(!text.contains(secret), "{secret:?} in {text}");
            }
            assert!(
                text.contains("admin") && text.contains("redacted"),
                "{text}"
            );
        }
        assert!(format!("{a:?}").contains("team-a"));
        assert_eq!(format!("{:?}", Secret::new("x")), "Secret(<redacted>)");
    }

    #[test]
    fn constant_time_helpers() {
        assert!(ct_eq(b"abc", b"abc"));
        assert!(!ct_eq(b"abc", b"abd"));
        assert!(!ct_eq(b"abc", b"abcd"));
        assert!(!ct_eq(b"", b"a"));
        assert!(Secret::new("k").matches(b"k"));
    }
}
