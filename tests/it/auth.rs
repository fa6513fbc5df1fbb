//! Authentication: LightRAG's API key and login profiles, and per-workspace keys
//! that never reveal other tenants.

use crate::harness::{Server, pairs};
use crate::mock_llm::MockLlm;
use base64::Engine as _;
use hmac::{Hmac, Mac};
use reqwest::Method;
use serde_json::{Value, json};
use sha2::Sha256;

/// An HS256 token signed with `secret`.
fn jwt(secret: &str, claims: Value) -> String {
    let b64 = |bytes: &[u8]| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes);
    let head = b64(br#"{"alg":"HS256","typ":"JWT"}"#);
    let body = b64(claims.to_string().as_bytes());
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(format!("{head}.{body}").as_bytes());
    format!("{head}.{body}.{}", b64(&mac.finalize().into_bytes()))
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

#[tokio::test(flavor = "multi_thread")]
async fn an_api_key_guards_everything_but_the_whitelist_and_runs_before_workspace_resolution() {
    let mock = MockLlm::start(32).await;
    let mut env = pairs(mock.env());
    env.push(("LIGHTRAG_API_KEY", "the-one-key"));
    let server = Server::start(&env);
    let path = "/documents/status_counts";
    let reply = server
        .request_with(Method::GET, path, &[("LIGHTRAG-WORKSPACE", "w")], None)
        .await;
    assert_eq!(
        (reply.status.as_u16(), reply.json()["detail"].clone()),
        (403, json!("API Key required"))
    );
    let reply = server
        .request_with(
            Method::GET,
            path,
            &[("X-API-Key", "wrong"), ("LIGHTRAG-WORKSPACE", "w")],
            None,
        )
        .await;
    assert_eq!(
        (reply.status.as_u16(), reply.json()["detail"].clone()),
        (403, json!("Invalid API Key"))
    );
    // A bad key wins over a bad workspace header: authentication comes first.
    let reply = server
        .request_with(
            Method::GET,
            path,
            &[("X-API-Key", "wrong"), ("LIGHTRAG-WORKSPACE", "../x")],
            None,
        )
        .await;
    assert_eq!(reply.status, 403);
    let reply = server
        .request_with(
            Method::GET,
            path,
            &[("X-API-Key", "the-one-key"), ("LIGHTRAG-WORKSPACE", "w")],
            None,
        )
        .await;
    assert_eq!(reply.status, 200);
    // Whitelisted by default: /health and the Ollama API.
    let health = server.get("/health", None).await;
    assert_eq!(health.status, 200);
    assert!(
        health.json().get("configuration").is_none(),
        "anonymous callers see no configuration"
    );
    assert_eq!(server.get("/api/version", None).await.status, 200);
    let health = server
        .request_with(
            Method::GET,
            "/health",
            &[("X-API-Key", "the-one-key")],
            None,
        )
        .await;
    assert!(health.json().get("configuration").is_some());
    // Secrets appear nowhere.
    assert!(!health.text.contains("the-one-key") && !health.text.contains("sk-test-secret-key"));
    assert!(!server.log().contains("the-one-key"));
}

#[tokio::test(flavor = "multi_thread")]
async fn login_accounts_issue_tokens_and_refuse_bad_ones() {
    let mock = MockLlm::start(32).await;
    let mut env = pairs(mock.env());
    env.push(("AUTH_ACCOUNTS", "alice:wonderland"));
    env.push(("TOKEN_SECRET", "test-signing-secret"));
    let server = Server::start(&env);
    let status = server.get("/auth-status", None).await.json();
    assert_eq!(status["auth_configured"], true);
    assert_eq!(status["auth_mode"], "enabled");
    let client = reqwest::Client::new();
    let login = |password: &'static str| {
        client
            .post(format!("{}/login", server.base))
            .form(&[("username", "alice"), ("password", password)])
            .send()
    };
    let bad = login("nope").await.unwrap();
    assert_eq!(bad.status(), 401);
    assert_eq!(
        bad.json::<Value>().await.unwrap()["detail"],
        "Incorrect credentials"
    );
    let good: Value = login("wonderland").await.unwrap().json().await.unwrap();
    assert_eq!(good["token_type"], "bearer");
    let token = good["access_token"].as_str().unwrap().to_string();
    let path = "/documents/status_counts";
    let ok = server
        .request_with(
            Method::GET,
            path,
            &[
                ("Authorization", &format!("Bearer {token}")),
                ("LIGHTRAG-WORKSPACE", "w"),
            ],
            None,
        )
        .await;
    assert_eq!(ok.status, 200);
    let none = server.request_with(Method::GET, path, &[], None).await;
    assert_eq!(
        (none.status.as_u16(), none.json()["detail"].clone()),
        (401, json!("No credentials provided. Please login."))
    );
    let expired = jwt(
        "test-signing-secret",
        json!({"sub": "alice", "exp": now() - 60, "role": "user", "metadata": {"auth_mode": "enabled"}}),
    );
    let reply = server
        .request_with(
            Method::GET,
            path,
            &[("Authorization", &format!("Bearer {expired}"))],
            None,
        )
        .await;
    assert_eq!(
        (reply.status.as_u16(), reply.json()["detail"].clone()),
        (401, json!("Token expired"))
    );
    let forged = jwt(
        "another-secret",
        json!({"sub": "alice", "exp": now() + 600, "role": "user"}),
    );
    let reply = server
        .request_with(
            Method::GET,
            path,
            &[("Authorization", &format!("Bearer {forged}"))],
            None,
        )
        .await;
    assert_eq!(
        (reply.status.as_u16(), reply.json()["detail"].clone()),
        (401, json!("Invalid token"))
    );
    let guest = jwt(
        "test-signing-secret",
        json!({"sub": "guest", "exp": now() + 600, "role": "guest"}),
    );
    let reply = server
        .request_with(
            Method::GET,
            path,
            &[("Authorization", &format!("Bearer {guest}"))],
            None,
        )
        .await;
    assert_eq!(reply.status, 401);
}

#[tokio::test(flavor = "multi_thread")]
async fn without_accounts_guests_get_tokens() {
    let mock = MockLlm::start(32).await;
    let server = Server::start(&pairs(mock.env()));
    let status = server.get("/auth-status", None).await.json();
    assert_eq!(status["auth_configured"], false);
    assert_eq!(
        status["message"],
        "Authentication is disabled. Using guest access."
    );
    let token = status["access_token"].as_str().unwrap();
    let reply = server
        .request_with(
            Method::GET,
            "/documents/status_counts",
            &[("Authorization", &format!("Bearer {token}"))],
            None,
        )
        .await;
    assert_eq!(reply.status, 200);
}

/// A key bound to workspaces sees only those; any other workspace, existing or not,
/// gets the same 404, so tenants cannot probe for each other.
#[tokio::test(flavor = "multi_thread")]
async fn workspace_keys_reach_only_their_workspaces_and_others_look_nonexistent() {
    let mock = MockLlm::start(32).await;
    let keys = tempfile::NamedTempFile::new().unwrap();
    let file = json!({"keys": [
        {"name": "team-a", "sha256": lightrag_server::auth::hash_key("key-of-team-a"), "workspaces": ["alpha"]},
        {"name": "team-b", "sha256": lightrag_server::auth::hash_key("key-of-team-b"), "workspaces": ["beta"]},
    ]});
    std::fs::write(keys.path(), file.to_string()).unwrap();
    let mut env = pairs(mock.env());
    let path = keys.path().display().to_string();
    env.push(("LIGHTRAG_WORKSPACE_KEYS_FILE", &path));
    let server = Server::start(&env);
    let as_team = |key: &'static str, ws: &'static str| {
        let server = &server;
        async move {
            server
                .request_with(
                    Method::GET,
                    "/documents/status_counts",
                    &[("X-API-Key", key), ("LIGHTRAG-WORKSPACE", ws)],
                    None,
                )
                .await
        }
    };
    assert_eq!(as_team("key-of-team-a", "alpha").await.status, 200);
    assert_eq!(as_team("key-of-team-b", "beta").await.status, 200);
    let existing = as_team("key-of-team-a", "beta").await;
    let missing = as_team("key-of-team-a", "no-such-workspace").await;
    assert_eq!(existing.status, 404);
    assert_eq!(missing.status, 404);
    assert_eq!(existing.json()["detail"], "Workspace 'beta' not found");
    assert_eq!(
        missing.json()["detail"],
        "Workspace 'no-such-workspace' not found"
    );
    assert!(!server.working_dir.join("no-such-workspace").exists());
    // Without a credential no workspace is reachable, even on whitelisted paths.
    let anonymous = server
        .post("/api/chat", Some("alpha"), json!({"model": "lightrag:latest", "stream": false, "messages": [{"role": "user", "content": "/bypass hi"}]}))
        .await;
    assert_eq!(anonymous.status, 403);
    // The Ollama model list shows a key only its own workspaces.
    let tags = server
        .request_with(
            Method::GET,
            "/api/tags",
            &[("X-API-Key", "key-of-team-a")],
            None,
        )
        .await
        .json();
    let names: Vec<&str> = tags["models"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["name"].as_str().unwrap())
        .collect();
    assert!(
        names.contains(&"lightrag:alpha") && !names.contains(&"lightrag:beta"),
        "{names:?}"
    );
    // And the model-name route obeys the same rule.
    let reply = server
        .request_with(Method::POST, "/api/chat", &[("X-API-Key", "key-of-team-a")],
            Some(json!({"model": "lightrag:beta", "stream": false, "messages": [{"role": "user", "content": "/bypass hi"}]})))
        .await;
    assert_eq!(reply.status, 404);
}

/// A user token for `sub` expiring in `seconds`, signed as the server signs them.
fn short_token(secret: &str, sub: &str, seconds: i64) -> String {
    let exp = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
        + seconds;
    jwt(secret, json!({"sub": sub, "exp": exp, "role": "user"}))
}

#[tokio::test(flavor = "multi_thread")]
async fn a_token_near_its_end_is_renewed_in_x_new_token_once_a_minute() {
    let mock = MockLlm::start(32).await;
    let mut env = pairs(mock.env());
    env.push(("AUTH_ACCOUNTS", "alice:wonderland,bob:builder"));
    env.push(("TOKEN_SECRET", "test-signing-secret"));
    let server = Server::start(&env);
    let get = |path: &'static str, token: String| {
        let server = &server;
        async move {
            server
                .request_with(
                    Method::GET,
                    path,
                    &[
                        ("Authorization", &format!("Bearer {token}")),
                        ("LIGHTRAG-WORKSPACE", "renew"),
                    ],
                    None,
                )
                .await
        }
    };
    let fresh: Value = reqwest::Client::new()
        .post(format!("{}/login", server.base))
        .form(&[("username", "alice"), ("password", "wonderland")])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let fresh = fresh["access_token"].as_str().unwrap().to_string();
    let reply = get("/documents/status_counts", fresh).await;
    assert_eq!(reply.status, 200);
    assert!(
        reply.headers.get("x-new-token").is_none(),
        "a fresh token is kept"
    );

    let ending = short_token("test-signing-secret", "alice", 100);
    let reply = get("/documents/status_counts", ending.clone()).await;
    assert_eq!(reply.status, 200);
    let renewed = reply.headers["x-new-token"].to_str().unwrap().to_string();
    assert_eq!(get("/documents/status_counts", renewed).await.status, 200);
    let again = get("/documents/status_counts", ending).await;
    assert!(again.headers.get("x-new-token").is_none(), "once a minute");

    let bob = short_token("test-signing-secret", "bob", 100);
    let polled = get("/documents/pipeline_status", bob.clone()).await;
    assert_eq!(polled.status, 200);
    assert!(
        polled.headers.get("x-new-token").is_none(),
        "not on polled routes"
    );
    assert!(
        get("/documents/status_counts", bob)
            .await
            .headers
            .get("x-new-token")
            .is_some()
    );

    env.push(("TOKEN_AUTO_RENEW", "false"));
    let off = Server::start(&env);
    let reply = off
        .request_with(
            Method::GET,
            "/documents/status_counts",
            &[(
                "Authorization",
                &format!(
                    "Bearer {}",
                    short_token("test-signing-secret", "alice", 100)
                ),
            )],
            None,
        )
        .await;
    assert_eq!(reply.status, 200);
    assert!(reply.headers.get("x-new-token").is_none());
}

/// Regression: with workspace keys configured but no global key or accounts (the open
/// profile), the guest token `/auth-status` hands to anyone reached every workspace,
/// bound ones included. A guest is no more a credential than none.
#[tokio::test(flavor = "multi_thread")]
async fn guest_token_reaches_no_workspace_when_workspace_keys_are_configured() {
    let keys = tempfile::NamedTempFile::new().unwrap();
    let file = json!({"keys": [
        {"name": "team-a", "sha256": lightrag_server::auth::hash_key("key-of-team-a"), "workspaces": ["alpha"]},
    ]});
    std::fs::write(keys.path(), file.to_string()).unwrap();
    let path = keys.path().display().to_string();
    let server = Server::start(&[("LIGHTRAG_WORKSPACE_KEYS_FILE", &path)]);
    let status = server.get("/auth-status", None).await.json();
    let token = status["access_token"].as_str().unwrap().to_string();
    let bearer = format!("Bearer {token}");
    for ws in ["alpha", "gamma"] {
        let reply = server
            .request_with(
                Method::POST,
                "/documents/text",
                &[("Authorization", &bearer), ("LIGHTRAG-WORKSPACE", ws)],
                Some(json!({"text": "A guest wrote this.", "file_source": "g.txt"})),
            )
            .await;
        assert_eq!(reply.status, 403, "{ws}: {}", reply.text);
        assert!(!server.working_dir.join(ws).exists(), "{ws} was created");
    }
    let listed = server
        .request_with(
            Method::GET,
            "/auth/workspaces",
            &[("Authorization", &bearer)],
            None,
        )
        .await;
    assert_eq!(listed.status, 403, "{}", listed.text);
    // The key itself still works.
    let reply = server
        .request_with(
            Method::GET,
            "/documents/status_counts",
            &[
                ("X-API-Key", "key-of-team-a"),
                ("LIGHTRAG-WORKSPACE", "alpha"),
            ],
            None,
        )
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
}
