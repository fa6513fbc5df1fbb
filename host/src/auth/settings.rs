//! Authentication settings and the secrets they hold: [`Secret`], constant-time
//! comparison, [`hash_key`], login [`Account`]s, [`PathPattern`]s and [`AuthSettings`].

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use sha2::{Digest, Sha256};

use super::{AuthMode, MAX_USERNAME_CHARS};

/// LightRAG's built-in token secret. Good enough to sign guest tokens (which grant
/// nothing that the open profile does not already grant); refused with accounts.
pub const DEFAULT_TOKEN_SECRET: &str = "lightrag-jwt-default-secret";
/// `WHITELIST_PATHS` when the setting is absent.
pub const DEFAULT_WHITELIST: &str = "/health,/api/*";

const DEFAULT_TOKEN_EXPIRE_HOURS: f64 = 48.0;
const DEFAULT_GUEST_TOKEN_EXPIRE_HOURS: f64 = 24.0;
const DEFAULT_LOGIN_MAX_FAILED_ATTEMPTS: u32 = 5;
const DEFAULT_LOGIN_LOCKOUT_WINDOW_SECONDS: u64 = 300;
/// Longest token lifetime accepted (ten years), so `exp` never overflows.
const MAX_EXPIRE_HOURS: f64 = 24.0 * 366.0 * 10.0;
/// Longest lockout window accepted (one year).
const MAX_LOCKOUT_WINDOW_SECONDS: u64 = 366 * 24 * 3600;

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
pub(super) fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    let da: [u8; 32] = Sha256::digest(a).into();
    let db: [u8; 32] = Sha256::digest(b).into();
    digest_eq(&da, &db)
}

pub(super) fn digest_eq(a: &[u8; 32], b: &[u8; 32]) -> bool {
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
    pub(super) username: String,
    pub(super) password: StoredPassword,
}

#[derive(Clone)]
pub(super) enum StoredPassword {
    Plain(Secret),
    /// A bcrypt hash (`$2b$12$…`), without the `{bcrypt}` prefix.
    Bcrypt(Secret),
}

impl Account {
    pub fn username(&self) -> &str {
        &self.username
    }

    pub(super) fn verify(&self, password: &str) -> bool {
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
    pub(super) api_key: Option<Secret>,
    pub(super) whitelist: Vec<PathPattern>,
    pub(super) accounts: Vec<Account>,
    pub(super) token_secret: Secret,
    pub(super) token_secret_is_default: bool,
    pub(super) token_expire_hours: f64,
    pub(super) guest_token_expire_hours: f64,
    /// Send a fresh token (`X-New-Token`) when less than `token_renew_threshold` of a
    /// token's lifetime is left (`TOKEN_AUTO_RENEW`, `TOKEN_RENEW_THRESHOLD`).
    pub(super) token_auto_renew: bool,
    pub(super) token_renew_threshold: f64,
    pub(super) login_max_failed_attempts: u32,
    pub(super) login_lockout_window: Duration,
    pub(super) workspace_keys_file: Option<PathBuf>,
    pub(super) webui_title: Option<String>,
    pub(super) webui_description: Option<String>,
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

        let token_auto_renew = match value("TOKEN_AUTO_RENEW")
            .as_deref()
            .map(str::to_ascii_lowercase)
        {
            None => true,
            Some(v) if ["true", "1", "yes", "t", "on"].contains(&v.as_str()) => true,
            Some(v) if ["false", "0", "no", "f", "off"].contains(&v.as_str()) => false,
            Some(v) => {
                return Err(format!(
                    "invalid TOKEN_AUTO_RENEW={v}: expected true or false"
                ));
            }
        };
        let token_renew_threshold = match value("TOKEN_RENEW_THRESHOLD") {
            None => 0.5,
            Some(raw) => match raw.parse::<f64>() {
                Ok(t) if (0.0..=1.0).contains(&t) => t,
                _ => {
                    return Err(format!(
                        "invalid TOKEN_RENEW_THRESHOLD={raw}: must be a fraction of the token's lifetime from 0 to 1"
                    ));
                }
            },
        };

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
            token_auto_renew,
            token_renew_threshold,
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

    /// `WEBUI_TITLE`.
    pub fn webui_title(&self) -> Option<&str> {
        self.webui_title.as_deref()
    }

    /// `WEBUI_DESCRIPTION`.
    pub fn webui_description(&self) -> Option<&str> {
        self.webui_description.as_deref()
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
