//! Settings: parsing, validation, profiles and the whitelist.

use super::*;

use std::time::Duration;

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
