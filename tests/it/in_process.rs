//! The router in-process: `routes::app(state)` called directly, request by request,
//! with no socket — the quick way to test a handler's contract. The process-level
//! suite beside it covers what only a real server shows (signals, ports, crashes).

use axum::body::Body;
use axum::http::{Request, StatusCode};
use lightrag_server::config::{Command, Config};
use lightrag_server::routes::{self, AppState};
use serde_json::{Value, json};
use std::collections::HashMap;
use tower::ServiceExt;

/// State for a server on a fresh working directory, offline, with `extra` settings.
fn state(extra: &[(&str, &str)]) -> AppState {
    let dir = tempfile::tempdir().unwrap().keep();
    let mut env: HashMap<String, String> = HashMap::from([
        ("WORKING_DIR".into(), dir.join("data").display().to_string()),
        ("INPUT_DIR".into(), dir.join("inputs").display().to_string()),
        (
            "LIGHTRAG_CACHE_DIR".into(),
            crate::harness::cache_dir().display().to_string(),
        ),
    ]);
    for (key, value) in extra {
        env.insert(key.to_string(), value.to_string());
    }
    let Command::Serve(config) = Config::from_parts(&[], env, HashMap::new()).unwrap() else {
        panic!("expected a configuration")
    };
    lightrag_server::server::build(*config).unwrap()
}

/// Sends one request to the router; returns the status and the JSON body.
async fn call(
    state: &AppState,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<Value>,
) -> (StatusCode, Value) {
    let mut request = Request::builder().method(method).uri(path);
    for (k, v) in headers {
        request = request.header(*k, *v);
    }
    let request = match body {
        Some(body) => request
            .header("content-type", "application/json")
            .body(Body::from(body.to_string())),
        None => request.body(Body::empty()),
    }
    .unwrap();
    let response = routes::app(state.clone()).oneshot(request).await.unwrap();
    let status = response.status();
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .unwrap();
    let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    (status, body)
}

#[tokio::test(flavor = "multi_thread")]
async fn health_reports_the_pool_and_the_configuration() {
    let state = state(&[("LIGHTRAG_MAX_WORKSPACES_IN_POOL", "7")]);
    let (status, body) = call(&state, "GET", "/health", &[], None).await;
    assert_eq!(status, 200);
    assert_eq!(body["status"], "healthy");
    assert_eq!(body["pool"]["capacity"], 7);
    assert_eq!(body["pool"]["loaded"], 0);
    assert_eq!(body["configuration"]["llm_binding"], "offline");
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_workspace_names_and_a_missing_header_in_strict_mode_are_400() {
    let state = state(&[("LIGHTRAG_ALLOW_DEFAULT_WORKSPACE", "false")]);
    let counts = "/documents/status_counts";
    let (status, body) = call(&state, "GET", counts, &[], None).await;
    assert_eq!(status, 400);
    assert!(
        body["detail"]
            .as_str()
            .unwrap()
            .contains("LIGHTRAG-WORKSPACE")
    );
    for bad in ["a b", "../up", "-dash", &"x".repeat(65)] {
        let (status, body) =
            call(&state, "GET", counts, &[("LIGHTRAG-WORKSPACE", bad)], None).await;
        assert_eq!(status, 400, "{bad}: {body}");
    }
    // Nothing was opened for them.
    assert_eq!(state.workspaces.summary().loaded, 0);
    let (status, _) = call(&state, "GET", counts, &[("X-Workspace-ID", "fine")], None).await;
    assert_eq!(status, 200);
    assert_eq!(state.workspaces.summary().loaded, 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_document_goes_in_and_an_offline_answer_comes_out() {
    let state = state(&[]);
    let ws = [("LIGHTRAG-WORKSPACE", "inproc")];
    let (status, body) = call(
        &state,
        "POST",
        "/documents/text",
        &ws,
        Some(json!({"text": "Kiwis are flightless birds of New Zealand.", "file_source": "kiwi.txt"})),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        let (_, counts) = call(&state, "GET", "/documents/status_counts", &ws, None).await;
        if counts["status_counts"]["processed"] == 1 {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "{counts}");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let (status, body) = call(
        &state,
        "POST",
        "/query",
        &ws,
        Some(json!({"query": "Which birds cannot fly?", "mode": "naive"})),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let answer = body["response"].as_str().unwrap();
    assert!(answer.contains("Kiwis"), "{answer}");
    assert_eq!(body["references"][0]["file_path"], "kiwi.txt");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_admin_api_wants_its_key() {
    let state = state(&[("LIGHTRAG_ADMIN_API_KEY", "the-key")]);
    let (status, _) = call(&state, "GET", "/workspaces", &[], None).await;
    assert_eq!(status, 401);
    let (status, _) = call(
        &state,
        "GET",
        "/workspaces",
        &[("X-Admin-Key", "wrong")],
        None,
    )
    .await;
    assert_eq!(status, 403);
    let (status, body) = call(
        &state,
        "GET",
        "/workspaces",
        &[("X-Admin-Key", "the-key")],
        None,
    )
    .await;
    assert_eq!(status, 200);
    assert!(body["workspaces"].as_array().unwrap().is_empty());
}
