//! Logging in and the session payloads: [`Auth::login`] with its throttle of failed
//! attempts, [`Auth::auth_status`] and guest tokens. A second `impl Auth` block; the
//! per-request decision is in the parent module.

use std::collections::HashMap;
use std::sync::MutexGuard;
use std::time::Instant;

use axum::http::HeaderMap;
use serde_json::{Value, json};

use super::jwt::{decode_jwt, encode_jwt, now_unix};
use super::principal::{AuthError, AuthMode, unauthorized};
use super::settings::StoredPassword;
use super::{
    API_VERSION, Auth, CORE_VERSION, GUEST, GUEST_MESSAGE, INCORRECT_CREDENTIALS,
    MAX_USERNAME_CHARS, ROLE_GUEST, ROLE_USER, bearer_token,
};

/// The throttle map is pruned of expired entries once it holds this many…
const THROTTLE_PRUNE_AT: usize = 1024;
/// …and never holds more than this many (the stalest entry makes room).
const THROTTLE_MAX_ENTRIES: usize = 100_000;

impl Auth {
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

    pub(super) fn login_at(
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

    /// A fresh token for a request that was let in with a bearer token nearing its
    /// end (`TOKEN_AUTO_RENEW`), as LightRAG sends in `X-New-Token`: at most once a
    /// minute per user, never on the routes clients poll.
    pub fn renewal(&self, path: &str, headers: &HeaderMap) -> Option<String> {
        const POLLED: &[&str] = &[
            "/health",
            "/documents/paginated",
            "/documents/pipeline_status",
        ];
        if !self.settings.token_auto_renew || POLLED.contains(&path) {
            return None;
        }
        let now = now_unix();
        let claims = decode_jwt(&self.settings.token_secret, bearer_token(headers)?, now).ok()?;
        let hours = match claims.role.as_str() {
            ROLE_GUEST => self.settings.guest_token_expire_hours,
            _ => self.settings.token_expire_hours,
        };
        let left = claims.exp - now as f64;
        if left >= self.settings.token_renew_threshold * hours * 3600.0 {
            return None;
        }
        {
            let mut renewed = self.renewed.lock().unwrap_or_else(|e| e.into_inner());
            if renewed.get(&claims.sub).is_some_and(|at| now - at < 60) {
                return None;
            }
            renewed.insert(claims.sub.clone(), now);
        }
        let role = if claims.role == ROLE_GUEST {
            ROLE_GUEST
        } else {
            ROLE_USER
        };
        Some(encode_jwt(
            &self.settings.token_secret,
            &self.claims(&claims.sub, role, hours, now),
        ))
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
