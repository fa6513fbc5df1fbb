//! Workspace resolution: headers, precedence, the default, strict mode, bad names.

use crate::harness::{Server, pairs};
use crate::mock_llm::MockLlm;
use reqwest::Method;
use serde_json::json;

#[tokio::test(flavor = "multi_thread")]
async fn each_header_selects_its_workspace_and_the_response_names_it() {
    let mock = MockLlm::start(32).await;
    let server = Server::start(&pairs(mock.env()));
    let reply = server
        .request_with(
            Method::GET,
            "/documents/status_counts",
            &[("LIGHTRAG-WORKSPACE", "alpha")],
            None,
        )
        .await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.workspace().as_deref(), Some("alpha"));
    let reply = server
        .request_with(
            Method::GET,
            "/documents/status_counts",
            &[("X-Workspace-ID", "beta")],
            None,
        )
        .await;
    assert_eq!(reply.workspace().as_deref(), Some("beta"));
    // Both: the primary header wins.
    let reply = server
        .request_with(
            Method::GET,
            "/documents/status_counts",
            &[("X-Workspace-ID", "beta"), ("LIGHTRAG-WORKSPACE", "alpha")],
            None,
        )
        .await;
    assert_eq!(reply.workspace().as_deref(), Some("alpha"));
    assert!(server.working_dir.join("alpha").is_dir());
    assert!(server.working_dir.join("beta").is_dir());
}

/// An existing single-workspace deployment (`WORKSPACE=legacy`) keeps working for
/// clients that send no header.
#[tokio::test(flavor = "multi_thread")]
async fn no_header_uses_the_workspace_setting() {
    let mock = MockLlm::start(32).await;
    let mut env = pairs(mock.env());
    env.push(("WORKSPACE", "legacy"));
    let server = Server::start(&env);
    server
        .insert(
            None,
            "a.txt",
            "The legacy deployment stores its notes here.",
        )
        .await;
    server.wait_idle(None).await;
    let reply = server.get("/documents/status_counts", None).await;
    assert_eq!(reply.workspace().as_deref(), Some("legacy"));
    assert_eq!(reply.json()["status_counts"]["processed"], 1);
    // The same data through the explicit header.
    let counts = server.counts(Some("legacy")).await;
    assert_eq!(counts["processed"], 1);
    assert!(server.working_dir.join("legacy").is_dir());
}

#[tokio::test(flavor = "multi_thread")]
async fn strict_mode_refuses_requests_without_a_workspace() {
    let mock = MockLlm::start(32).await;
    let mut env = pairs(mock.env());
    env.push(("LIGHTRAG_ALLOW_DEFAULT_WORKSPACE", "false"));
    let server = Server::start(&env);
    let reply = server.get("/documents/status_counts", None).await;
    assert_eq!(reply.status, 400);
    let detail = reply.json()["detail"].as_str().unwrap().to_string();
    assert!(detail.contains("LIGHTRAG-WORKSPACE"), "{detail}");
    let reply = server
        .post(
            "/query",
            None,
            json!({"query": "anything at all", "mode": "naive"}),
        )
        .await;
    assert_eq!(reply.status, 400);
    // With a header it works.
    assert_eq!(
        server
            .get("/documents/status_counts", Some("named"))
            .await
            .status,
        200
    );
    let entries: Vec<_> = std::fs::read_dir(&server.working_dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| !n.starts_with('.'))
        .collect();
    assert_eq!(entries, ["named"]);
}

/// Names are validated, never rewritten, and nothing reaches the disk.
#[tokio::test(flavor = "multi_thread")]
async fn hostile_workspace_names_are_refused_without_touching_the_disk() {
    let mock = MockLlm::start(32).await;
    let server = Server::start(&pairs(mock.env()));
    let long = "a".repeat(65);
    let hostile: Vec<&[u8]> = vec![
        b"../x",
        b"..",
        b".",
        b"a/b",
        b"a\\b",
        b"%2e%2e",
        b"%2F",
        b".hidden",
        b"-leading-dash",
        b"_leading_underscore",
        b"a b",
        b"a.b",
        b"caf\xc3\xa9",
        b"tab\there",
        b"a:b",
        b"*",
        b"a;rm -rf",
        long.as_bytes(),
        b"",
        b"\xff\xfe",
    ];
    let client = reqwest::Client::new();
    for name in &hostile {
        for path in ["/documents/status_counts", "/documents/pipeline_status"] {
            let value = reqwest::header::HeaderValue::from_bytes(name).unwrap();
            let reply = client
                .get(format!("{}{path}", server.base))
                .header("LIGHTRAG-WORKSPACE", value.clone())
                .send()
                .await
                .unwrap();
            assert_eq!(
                reply.status(),
                400,
                "{:?} on {path}",
                String::from_utf8_lossy(name)
            );
            let body: serde_json::Value = reply.json().await.unwrap();
            assert!(
                body["detail"]
                    .as_str()
                    .unwrap()
                    .contains("LIGHTRAG-WORKSPACE")
            );
        }
        let value = reqwest::header::HeaderValue::from_bytes(name).unwrap();
        let reply = client
            .post(format!("{}/documents/text", server.base))
            .header("X-Workspace-ID", value)
            .json(&json!({"text": "x y z", "file_source": "x.txt"}))
            .send()
            .await
            .unwrap();
        assert_eq!(reply.status(), 400);
    }
    // Only the server's own `.host` directory exists: no workspace was created, and
    // nothing escaped WORKING_DIR.
    let entries: Vec<String> = std::fs::read_dir(&server.working_dir)
        .map(|dir| {
            dir.map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    assert!(entries.iter().all(|e| e == ".host"), "{entries:?}");
    let root_entries: Vec<String> = std::fs::read_dir(server.root())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(!root_entries.contains(&"x".to_string()), "{root_entries:?}");
}

/// `a-b` and `a_b` are two tenants: rewriting names would merge them.
#[tokio::test(flavor = "multi_thread")]
async fn similar_names_stay_separate_workspaces() {
    let mock = MockLlm::start(32).await;
    let server = Server::start(&pairs(mock.env()));
    server
        .insert(
            Some("a-b"),
            "one.txt",
            "Dash workspace content about kiwis.",
        )
        .await;
    server.wait_idle(Some("a-b")).await;
    assert_eq!(server.counts(Some("a-b")).await["processed"], 1);
    assert_eq!(server.counts(Some("a_b")).await["all"], 0);
    assert_eq!(server.counts(Some("A-b")).await["all"], 0);
}
