//! Workspace keys, bound accounts and the keys file.

use super::*;

use serde_json::Value;

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
    let key =
        |name: &str, sha: &str, ws: Value| json!({"name": name, "sha256": sha, "workspaces": ws});
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
