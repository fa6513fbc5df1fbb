//! Login, the login throttle, and the status payloads.

use super::*;

use std::time::Duration;

use serde_json::Value;

use crate::auth::jwt::Claims;

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
    let login =
        |user: &str, pw: &str, ip: &str, at: Duration| a.login_at(user, pw, None, ip, t0 + at, now);
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
