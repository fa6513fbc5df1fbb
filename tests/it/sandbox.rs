//! Tenant sandboxes an operator can trust: fault isolation (with a misbehaving engine
//! fixture), quarantine, disk quotas, the audit trail, the workspace admin API.

use crate::harness::{Server, pairs};
use crate::mock_llm::MockLlm;
use reqwest::Method;
use serde_json::{Value, json};
use std::path::PathBuf;
use std::sync::{Arc, OnceLock};

const ADMIN: &str = "admin-secret-key";

/// The misbehaving engine of `tests/fixtures/faulty-engine`, built once per run.
pub(crate) fn faulty_engine() -> PathBuf {
    static BUILT: OnceLock<PathBuf> = OnceLock::new();
    BUILT
        .get_or_init(|| {
            let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
            let target = root.join("target").join("component");
            let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
            let status = std::process::Command::new(cargo)
                .current_dir(&root)
                .args([
                    "build",
                    "--quiet",
                    "-p",
                    "faulty-engine",
                    "--target",
                    "wasm32-wasip2",
                    "--profile",
                    "component",
                ])
                .arg("--target-dir")
                .arg(&target)
                .status()
                .expect("cannot run cargo");
            assert!(status.success(), "building the faulty engine failed");
            target.join("wasm32-wasip2/component/faulty_engine.wasm")
        })
        .clone()
}

async fn enqueue(server: &Server, ws: &str, text: &str) -> crate::harness::Reply {
    server
        .post(
            "/documents/text",
            Some(ws),
            json!({"text": text, "file_source": "cmd.txt"}),
        )
        .await
}

async fn admin(
    server: &Server,
    method: Method,
    path: &str,
    body: Option<Value>,
) -> crate::harness::Reply {
    server
        .request_with(method, path, &[("X-Admin-Key", ADMIN)], body)
        .await
}

#[tokio::test(flavor = "multi_thread")]
async fn a_trap_a_loop_and_an_allocation_each_cost_one_request_and_nobody_else_notices() {
    let engine = faulty_engine().display().to_string();
    let server = Arc::new(Server::start(&[
        ("LIGHTRAG_ENGINE_COMPONENT", &engine),
        ("LIGHTRAG_WORKSPACE_CPU_MS", "300"),
        ("LIGHTRAG_WORKSPACE_MEMORY_MB", "64"),
        ("LIGHTRAG_QUARANTINE_FAULTS", "10"),
        ("LIGHTRAG_ADMIN_API_KEY", ADMIN),
    ]));
    // A neighbour keeps working throughout.
    let neighbour = {
        let server = server.clone();
        tokio::spawn(async move {
            let mut statuses = Vec::new();
            for _ in 0..60 {
                statuses.push(
                    server
                        .get("/documents/status_counts", Some("neighbour"))
                        .await
                        .status
                        .as_u16(),
                );
                tokio::time::sleep(std::time::Duration::from_millis(20)).await;
            }
            statuses
        })
    };
    for (command, limit) in [
        ("trap", None),
        ("spin", Some("cpu")),
        ("alloc", Some("memory")),
    ] {
        let reply = enqueue(&server, "faulty", command).await;
        assert_eq!(reply.status, 500, "{command}: {}", reply.text);
        assert!(
            reply.json()["detail"]
                .as_str()
                .unwrap()
                .contains("error_id"),
            "{command}"
        );
        // The next request re-opens the workspace from disk.
        assert_eq!(
            server
                .get("/documents/status_counts", Some("faulty"))
                .await
                .status,
            200,
            "{command}"
        );
        if let Some(limit) = limit {
            let audit = admin(
                &server,
                Method::GET,
                "/workspaces/faulty/audit?event=limit_hit",
                None,
            )
            .await
            .json();
            assert!(
                audit["entries"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|e| e["limit"] == limit),
                "{audit}"
            );
        }
    }
    assert!(neighbour.await.unwrap().iter().all(|&s| s == 200));
    assert_eq!(server.metric("lightrag_pool_traps_total").await, 3);
    assert_eq!(
        server.metric("lightrag_pool_finalize_total").await,
        0,
        "no finalize after a fault"
    );
    let audit = admin(
        &server,
        Method::GET,
        "/workspaces/faulty/audit?event=instance_trapped",
        None,
    )
    .await
    .json();
    assert_eq!(audit["total"], 3);
    assert!(
        audit["entries"][0]["reason"]
            .as_str()
            .unwrap()
            .contains("trap requested"),
        "{audit}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_workspace_that_keeps_faulting_is_quarantined() {
    let engine = faulty_engine().display().to_string();
    let server = Server::start(&[
        ("LIGHTRAG_ENGINE_COMPONENT", &engine),
        ("LIGHTRAG_QUARANTINE_FAULTS", "2"),
        ("LIGHTRAG_QUARANTINE_SECS", "60"),
    ]);
    assert_eq!(enqueue(&server, "flaky", "trap").await.status, 500);
    assert_eq!(enqueue(&server, "flaky", "trap").await.status, 500);
    let reply = server.get("/documents/status_counts", Some("flaky")).await;
    assert_eq!(reply.status, 503);
    assert!(
        reply.json()["detail"]
            .as_str()
            .unwrap()
            .contains("quarantined")
    );
    assert!(reply.headers.get("retry-after").is_some());
    assert_eq!(
        server
            .get("/documents/status_counts", Some("healthy"))
            .await
            .status,
        200
    );
    // An operator lifts the quarantine: only with confirmation, and then the
    // workspace opens again at once.
    let reset = "/documents/recovery/force_reset";
    let refused = server.post(reset, Some("flaky"), json!({})).await;
    assert_eq!(refused.status, 400, "{}", refused.text);
    assert!(refused.text.contains("quarantined"), "{}", refused.text);
    let done = server
        .post(reset, Some("flaky"), json!({"confirm": true}))
        .await;
    assert_eq!(done.json()["status"], "reset", "{}", done.text);
    let reply = server.get("/documents/status_counts", Some("flaky")).await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    let again = server
        .post(reset, Some("flaky"), json!({"confirm": true}))
        .await;
    assert_eq!(again.json()["status"], "no_recovery_required");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_disk_quota_stops_growth_and_the_workspace_still_reads() {
    let mock = MockLlm::start(16).await;
    let mut env = pairs(mock.env());
    env.push(("LIGHTRAG_WORKSPACE_DISK_MB", "1"));
    env.push(("LIGHTRAG_ADMIN_API_KEY", ADMIN));
    let server = Server::start(&env);
    let ws = Some("small");
    let filler = "Quiet harbours collect driftwood and old ropes. ".repeat(2000);
    let mut accepted = 0;
    let mut refusal = None;
    for i in 0..30 {
        let reply = server
            .post("/documents/text", ws, json!({"text": format!("Document {i}. {filler}"), "file_source": format!("f{i}.txt")}))
            .await;
        if reply.status == 507 {
            refusal = Some(reply.json()["detail"].as_str().unwrap().to_string());
            break;
        }
        assert_eq!(reply.status, 200, "{}", reply.text);
        accepted += 1;
        server.wait_idle(ws).await;
    }
    let refusal = refusal.expect("the quota never stopped growth");
    assert!(
        refusal.contains("quota") && refusal.contains("LIGHTRAG_WORKSPACE_DISK_MB"),
        "{refusal}"
    );
    assert!(accepted >= 1);
    // Everything stored before is intact and readable, now and after a restart.
    let counts = server.wait_idle(ws).await;
    assert_eq!(counts["all"], accepted, "{counts}");
    assert!(
        server
            .context(ws, "What do quiet harbours collect?")
            .await
            .contains("driftwood")
    );
    let audit = admin(
        &server,
        Method::GET,
        "/workspaces/small/audit?event=limit_hit",
        None,
    )
    .await
    .json();
    assert_eq!(audit["entries"][0]["limit"], "disk");
    let root = server.root();
    let (status, _) = server.terminate();
    assert!(status.success());
    let server = Server::start_in(&root, &env);
    assert_eq!(server.counts(ws).await["all"], accepted);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_audit_trail_records_events_without_document_text() {
    let mock = MockLlm::start(16).await;
    let mut env = pairs(mock.env());
    env.push(("LIGHTRAG_ADMIN_API_KEY", ADMIN));
    env.push(("LIGHTRAG_MAX_WORKSPACES_IN_POOL", "1"));
    let server = Server::start(&env);
    server
        .insert(
            Some("audited"),
            "secret.txt",
            "The vault code is 7391-ZULU-PLUM.",
        )
        .await;
    server.wait_idle(Some("audited")).await;
    server
        .post(
            "/query",
            Some("audited"),
            json!({"query": "What is the vault code?", "mode": "naive"}),
        )
        .await;
    // Opening another workspace evicts (and finalizes) this one.
    server.get("/documents/status_counts", Some("other")).await;
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let all = admin(
        &server,
        Method::GET,
        "/workspaces/audited/audit?limit=1000",
        None,
    )
    .await
    .json();
    let events: Vec<&str> = all["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["event"].as_str().unwrap())
        .collect();
    for expected in [
        "instance_opened",
        "documents_added",
        "model_call",
        "instance_evicted",
        "instance_finalized",
    ] {
        assert!(
            events.contains(&expected),
            "{expected} missing from {events:?}"
        );
    }
    let call = all["entries"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["event"] == "model_call" && e["purpose"] == "answer")
        .unwrap();
    assert_eq!(
        call["model"],
        "openai:mock-llm@".to_string()
            + &mock
                .env()
                .iter()
                .find(|(k, _)| k == "LLM_BINDING_HOST")
                .unwrap()
                .1
    );
    assert_eq!(call["outcome"], "ok");
    assert!(call["latency_ms"].is_number() && call["prompt_tokens"].is_u64());
    let text = all.to_string();
    assert!(
        !text.contains("7391-ZULU-PLUM") && !text.contains("vault code"),
        "document text leaked into the audit"
    );
    assert!(!text.contains("sk-test-secret-key"));
    // It lives outside every workspace's directory.
    assert!(
        server
            .working_dir
            .join(".host")
            .join("audit")
            .join("audited.jsonl")
            .is_file()
    );
    let paged = admin(
        &server,
        Method::GET,
        "/workspaces/audited/audit?event=model_call&offset=1&limit=2",
        None,
    )
    .await
    .json();
    assert_eq!(paged["entries"].as_array().unwrap().len(), 2);
    assert!(paged["total"].as_u64().unwrap() >= 3);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_admin_api_creates_lists_limits_and_deletes_without_following_links() {
    let mock = MockLlm::start(16).await;
    let mut env = pairs(mock.env());
    env.push(("LIGHTRAG_ADMIN_API_KEY", ADMIN));
    let server = Server::start(&env);
    assert_eq!(server.get("/workspaces", None).await.status, 401);
    let wrong = server
        .request_with(Method::GET, "/workspaces", &[("X-Admin-Key", "nope")], None)
        .await;
    assert_eq!(wrong.status, 403);

    let created = admin(
        &server,
        Method::POST,
        "/workspaces",
        Some(json!({"name": "crm", "limits": {"disk_mb": 50}})),
    )
    .await;
    assert_eq!(created.status, 201, "{}", created.text);
    assert_eq!(created.json()["limits"]["disk_mb"], 50);
    assert_eq!(
        admin(
            &server,
            Method::POST,
            "/workspaces",
            Some(json!({"name": "crm"}))
        )
        .await
        .status,
        409
    );
    assert_eq!(
        admin(
            &server,
            Method::POST,
            "/workspaces",
            Some(json!({"name": "../x"}))
        )
        .await
        .status,
        400
    );
    server
        .insert(Some("crm"), "lead.txt", "Acme Corp asked for a quote.")
        .await;
    server.wait_idle(Some("crm")).await;

    let list = admin(&server, Method::GET, "/workspaces", None)
        .await
        .json();
    let crm = list["workspaces"]
        .as_array()
        .unwrap()
        .iter()
        .find(|w| w["name"] == "crm")
        .unwrap()
        .clone();
    assert_eq!(crm["loaded"], true);
    assert!(crm["bytes"].as_u64().unwrap() > 0);
    // A loaded workspace's memory against its limit, without waiting for an unload.
    let reserved = crm["memory_reserved_bytes"].as_u64().unwrap();
    let limit = crm["memory_limit_bytes"].as_u64().unwrap();
    assert!(reserved > 1 << 20 && reserved <= limit, "{crm}");
    let inspected = admin(&server, Method::GET, "/workspaces/crm", None)
        .await
        .json();
    assert_eq!(inspected["documents"], 1);
    assert!(inspected["entities"].as_u64().unwrap() >= 1);
    assert!(
        inspected["usage"]["extract"]["calls"].as_u64().unwrap() >= 1,
        "{inspected}"
    );
    let limited = admin(
        &server,
        Method::PUT,
        "/workspaces/crm/limits",
        Some(json!({"memory_mb": 128})),
    )
    .await;
    assert_eq!(limited.status, 200, "{}", limited.text);
    assert_eq!(limited.json()["limits"]["memory_mb"], 128);
    assert_eq!(
        admin(
            &server,
            Method::PUT,
            "/workspaces/crm/limits",
            Some(json!({"memory_mb": 0}))
        )
        .await
        .status,
        400
    );
    assert_eq!(
        server.counts(Some("crm")).await["processed"],
        1,
        "data survives the re-open"
    );

    // A link planted inside the workspace, pointing outside it.
    let outside = server.root().join("precious");
    std::fs::create_dir_all(&outside).unwrap();
    std::fs::write(outside.join("keep.txt"), "do not delete").unwrap();
    std::os::unix::fs::symlink(&outside, server.working_dir.join("crm").join("escape")).unwrap();
    let deleted = admin(&server, Method::DELETE, "/workspaces/crm", None).await;
    assert_eq!(deleted.status, 200, "{}", deleted.text);
    assert!(!server.working_dir.join("crm").exists());
    assert_eq!(
        std::fs::read_to_string(outside.join("keep.txt")).unwrap(),
        "do not delete"
    );
    assert_eq!(
        admin(&server, Method::GET, "/workspaces/crm", None)
            .await
            .status,
        404
    );
    // Gone means gone: a new request starts an empty workspace.
    assert_eq!(server.counts(Some("crm")).await["all"], 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn with_auto_create_off_unknown_workspaces_are_404_and_nothing_is_created() {
    let mock = MockLlm::start(16).await;
    let mut env = pairs(mock.env());
    env.push(("LIGHTRAG_AUTO_CREATE_WORKSPACES", "false"));
    env.push(("LIGHTRAG_ADMIN_API_KEY", ADMIN));
    let server = Server::start(&env);
    let reply = server.get("/documents/status_counts", Some("ghost")).await;
    assert_eq!(reply.status, 404);
    assert_eq!(reply.json()["detail"], "Workspace 'ghost' not found");
    assert!(!server.working_dir.join("ghost").exists());
    assert_eq!(
        admin(
            &server,
            Method::POST,
            "/workspaces",
            Some(json!({"name": "ghost"}))
        )
        .await
        .status,
        201
    );
    assert_eq!(
        server
            .get("/documents/status_counts", Some("ghost"))
            .await
            .status,
        200
    );
}
