//! No tenant ever wedges: races, disconnects and faults leave every workspace serving.
//! Each test is a regression named after the way a workspace used to get stuck (or
//! lose acknowledged data), driven through HTTP against a real server.

use crate::harness::{Server, pairs};
use crate::mock_llm::MockLlm;
use reqwest::Method;
use serde_json::json;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

/// Polls `check` every 50 ms until it holds, for at most `limit`.
async fn eventually<F, Fut>(limit: Duration, mut check: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if check().await {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    false
}

async fn doc_id(server: &Server, ws: &str, file: &str) -> String {
    let page = server
        .post(
            "/documents/paginated",
            Some(ws),
            json!({"page": 1, "page_size": 100}),
        )
        .await
        .json();
    page["documents"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["file_path"] == file)
        .map(|d| d["id"].as_str().unwrap().to_string())
        .unwrap_or_else(|| panic!("no document {file}: {page}"))
}

/// Regression: a deletion waiting for embeddings held the guest's merge lock; the
/// pipeline's merge of a document uploaded meanwhile parked on the lock and was failed
/// by the engine, leaving `busy` set — every later pipeline, edit and clear answered
/// busy and the document stayed `processing`. The engine now reports the parked task
/// as woken when the deletion commits, and the host resumes it.
#[tokio::test(flavor = "multi_thread")]
async fn an_upload_during_a_deletion_is_processed_and_the_workspace_stays_usable() {
    let mock = MockLlm::start(32).await;
    let server = Server::start(&pairs(mock.env()));
    let ws = Some("deleting");
    server
        .insert(
            ws,
            "a.txt",
            "Zanzibar exports cloves. Amina sails to Zanzibar.",
        )
        .await;
    server
        .insert(
            ws,
            "b.txt",
            "Zanzibar grows spices. Baraka farms in Zanzibar.",
        )
        .await;
    server.wait_idle(ws).await;
    // Rebuilding the shared entity re-embeds its description: make that slow.
    *mock.state.slow_embed.lock().unwrap() = Some(("Zanzibar".into(), 1500));
    let id = doc_id(&server, "deleting", "a.txt").await;
    let reply = server
        .request(
            Method::DELETE,
            "/documents/delete_document",
            ws,
            Some(json!({"doc_ids": [id]})),
        )
        .await;
    assert_eq!(reply.json()["status"], "deletion_started", "{}", reply.text);
    server
        .insert(
            ws,
            "c.txt",
            "Kilimanjaro is tall. Neema climbs Kilimanjaro.",
        )
        .await;
    let counts = server.wait_idle(ws).await;
    assert_eq!(counts["processed"], 2, "{counts}");
    assert_eq!(counts["all"], 2, "{counts}");
    let exists = server
        .get("/graph/entity/exists?name=Kilimanjaro", ws)
        .await
        .json();
    assert_eq!(exists["exists"], true);
    // Nothing is left looking busy: an edit goes through.
    let edit = server
        .post(
            "/graph/entity/edit",
            ws,
            json!({"entity_name": "Kilimanjaro", "updated_data": {"description": "A mountain."}}),
        )
        .await;
    assert_eq!(edit.status, 200, "{}", edit.text);
}

/// Regression: a graph edit ran its task inside the handler; a client that went away
/// dropped it without cancelling it in the guest, which kept the merge lock for ever.
/// Edits now run in a driver of their own that cancels the task when the client goes.
#[tokio::test(flavor = "multi_thread")]
async fn a_graph_edit_abandoned_by_its_client_is_cancelled_and_releases_the_graph() {
    let mock = MockLlm::start(32).await;
    let server = Server::start(&pairs(mock.env()));
    let ws = Some("editing");
    server
        .insert(ws, "a.txt", "Ravenna has mosaics. Ostia has ruins.")
        .await;
    server.wait_idle(ws).await;
    *mock.state.slow_embed.lock().unwrap() = Some(("Abandoned".into(), 20_000));
    let impatient = reqwest::Client::builder()
        .timeout(Duration::from_millis(400))
        .build()
        .unwrap();
    let gone = impatient
        .post(format!("{}/graph/entity/edit", server.base))
        .header("LIGHTRAG-WORKSPACE", "editing")
        .json(
            &json!({"entity_name": "Ravenna", "updated_data": {"description": "Abandoned edit."}}),
        )
        .send()
        .await;
    assert!(gone.is_err(), "the client gave up");
    // The abandoned edit's embedding call is stopped, not left to run for 20 s.
    assert!(
        eventually(Duration::from_secs(10), || async {
            mock.state.embeds_in_flight.load(Ordering::SeqCst) == 0
                && server.metric("lightrag_model_calls_in_flight").await == 0
        })
        .await,
        "the abandoned edit's model call is still running"
    );
    // The graph is free for the next edit, and the abandoned one left nothing.
    let edit = server
        .post(
            "/graph/entity/edit",
            ws,
            json!({"entity_name": "Ostia", "updated_data": {"description": "An old port."}}),
        )
        .await;
    assert_eq!(edit.status, 200, "{}", edit.text);
    let graph = server
        .get("/graphs?label=Ravenna&max_depth=1&max_nodes=10", ws)
        .await
        .json();
    let ravenna = graph["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["id"] == "Ravenna")
        .unwrap()
        .clone();
    assert!(
        !ravenna["properties"]["description"]
            .as_str()
            .unwrap()
            .contains("Abandoned"),
        "{ravenna}"
    );
}

/// Regression: on cancel, done or failure the driver detached the task's model calls
/// instead of aborting them, so a closed browser tab kept a stream reading and a
/// `MAX_ASYNC` slot taken for as long as the model took.
#[tokio::test(flavor = "multi_thread")]
async fn a_stream_closed_by_its_client_aborts_its_model_call() {
    let mock = MockLlm::start(32).await;
    let server = Server::start(&pairs(mock.env()));
    let ws = Some("streaming");
    server.insert(ws, "a.txt", "Herons fish at dawn.").await;
    server.wait_idle(ws).await;
    mock.state.latency_ms.store(60_000, Ordering::Relaxed);
    let client = reqwest::Client::new();
    let mut response = client
        .post(format!("{}/query/stream", server.base))
        .header("LIGHTRAG-WORKSPACE", "streaming")
        .json(&json!({"query": "When do herons fish?", "mode": "naive", "include_progress": true}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let first = response.chunk().await.unwrap().unwrap();
    assert!(String::from_utf8_lossy(&first).contains("progress"));
    assert!(
        eventually(Duration::from_secs(10), || async {
            mock.state.chats_in_flight.load(Ordering::SeqCst) == 1
        })
        .await,
        "the answer call started"
    );
    drop(response);
    assert!(
        eventually(Duration::from_secs(10), || async {
            server.metric("lightrag_model_calls_in_flight").await == 0
        })
        .await,
        "the model call outlived its stream"
    );
    assert!(
        eventually(Duration::from_secs(10), || async {
            mock.state.chats_in_flight.load(Ordering::SeqCst) == 0
        })
        .await,
        "the request to the model server was not dropped"
    );
    assert_eq!(server.metric("lightrag_pool_leases").await, 0);
}

/// Regression: a document whose processing crashed the engine went back to pending
/// on every reopen, and the pipeline crashed the engine again, for ever. After three
/// faults it is now failed with the fault as its reason, and the others proceed.
#[tokio::test(flavor = "multi_thread")]
async fn a_document_that_crashes_the_engine_fails_after_three_faults_and_the_rest_proceed() {
    let mock = MockLlm::start(32).await;
    // The model answers the poisoned chunk with a reply larger than the workspace's
    // memory: delivering it traps the engine.
    *mock.state.bloated_extraction.lock().unwrap() = Some(("Poison".into(), 48 << 20));
    let mut env = pairs(mock.env());
    env.push(("LIGHTRAG_WORKSPACE_MEMORY_MB", "40"));
    env.push(("LIGHTRAG_QUARANTINE_FAULTS", "50"));
    env.push(("MAX_GLEANING", "0"));
    let server = Server::start(&env);
    let ws = Some("poisoned");
    let reply = server
        .post(
            "/documents/texts",
            ws,
            json!({"texts": ["Poison Ivy grows wild.", "Lavender smells sweet."],
                   "file_sources": ["poison.txt", "lavender.txt"]}),
        )
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    // Each poll reopens the workspace after a fault, which restarts its pipeline.
    let deadline = Instant::now() + Duration::from_secs(90);
    let counts = loop {
        let reply = server.get("/documents/status_counts", ws).await;
        if reply.status == 200 {
            let counts = reply.json()["status_counts"].clone();
            if counts["processed"] == 1 && counts["failed"] == 1 {
                break counts;
            }
            assert!(Instant::now() < deadline, "{counts}\n{}", server.log());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(counts["all"], 2);
    assert!(server.metric("lightrag_pool_traps_total").await >= 3);
    let failed = server
        .post(
            "/documents/paginated",
            ws,
            json!({"status_filter": "failed", "page": 1, "page_size": 10}),
        )
        .await
        .json();
    let doc = &failed["documents"][0];
    assert_eq!(doc["file_path"], "poison.txt");
    let reason = doc["error_msg"].as_str().unwrap();
    assert!(
        reason.contains("3 times") && reason.contains("out of memory"),
        "{reason}"
    );
    // The workspace keeps serving.
    assert!(
        server
            .context(ws, "What smells sweet?")
            .await
            .contains("Lavender")
    );
}

/// Regression: `/health` read the pipeline flag under the workspace's instance lock,
/// so a liveness probe waited behind a tenant's long guest call.
#[tokio::test(flavor = "multi_thread")]
async fn health_never_waits_for_a_tenants_engine() {
    let engine = crate::sandbox::faulty_engine().display().to_string();
    let server = Arc::new(Server::start(&[
        ("LIGHTRAG_ENGINE_COMPONENT", &engine),
        ("LIGHTRAG_WORKSPACE_CPU_MS", "4000"),
        ("LIGHTRAG_QUARANTINE_FAULTS", "10"),
    ]));
    assert_eq!(server.get("/health", Some("spinning")).await.status, 200);
    let spinning = {
        let server = server.clone();
        tokio::spawn(async move {
            server
                .post(
                    "/documents/text",
                    Some("spinning"),
                    json!({"text": "spin", "file_source": "cmd.txt"}),
                )
                .await
                .status
        })
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    let health = server.get("/health", Some("spinning")).await;
    assert_eq!(health.status, 200);
    assert!(
        !spinning.is_finished(),
        "the health check came back only after the tenant's call"
    );
    assert_eq!(spinning.await.unwrap(), 500);
}

/// Regression: a workspace that could not open (here: vectors of another embedding
/// model) re-read its whole snapshot on every request just to refuse again.
#[tokio::test(flavor = "multi_thread")]
async fn a_workspace_that_cannot_open_is_not_reread_on_every_request() {
    let mock = MockLlm::start(32).await;
    let root = tempfile::tempdir().unwrap().keep();
    let server = Server::start_in(&root, &pairs(mock.env()));
    server
        .insert(Some("fixed"), "a.txt", "Storks nest on roofs.")
        .await;
    server.wait_idle(Some("fixed")).await;
    server.terminate();
    let mut env = pairs(mock.env());
    env.retain(|(k, _)| *k != "EMBEDDING_MODEL");
    env.push(("EMBEDDING_MODEL", "another-model"));
    let server = Server::start_in(&root, &env);
    for _ in 0..4 {
        let reply = server.get("/documents/status_counts", Some("fixed")).await;
        assert_eq!(reply.status, 409, "{}", reply.text);
        assert!(reply.text.contains("another-model"), "{}", reply.text);
    }
    assert_eq!(server.metric("lightrag_pool_open_attempts_total").await, 1);
    // Other workspaces open normally.
    let other = server.get("/documents/status_counts", Some("other")).await;
    assert_eq!(other.status, 200);
}

/// Regression: shutdown waited for requests for the grace period, then for background
/// tasks for as long again, then finalized without a bound — longer than an
/// orchestrator's grace, which then kills the process mid-finalize. Now the whole
/// shutdown fits in `LIGHTRAG_SHUTDOWN_GRACE_SECS`: a stuck query is cancelled, a
/// stalled upload is given up on, and every workspace is still finalized.
#[tokio::test(flavor = "multi_thread")]
async fn shutdown_ends_within_its_grace_even_with_a_request_stuck() {
    let mock = MockLlm::start(32).await;
    let mut env = pairs(mock.env());
    env.push(("LIGHTRAG_SHUTDOWN_GRACE_SECS", "3"));
    let server = Server::start(&env);
    server
        .insert(Some("stuck"), "a.txt", "Moles dig tunnels.")
        .await;
    server.wait_idle(Some("stuck")).await;
    mock.state.latency_ms.store(300_000, Ordering::Relaxed);
    // A query stuck on the model, and a document stuck in the pipeline.
    let stuck = {
        let url = format!("{}/query", server.base);
        tokio::spawn(async move {
            let _ = reqwest::Client::new()
                .post(url)
                .header("LIGHTRAG-WORKSPACE", "stuck")
                .json(&json!({"query": "What do moles dig?", "mode": "naive"}))
                .send()
                .await;
        })
    };
    server
        .insert(Some("stuck"), "b.txt", "Voles eat roots.")
        .await;
    // And an upload whose client stalls half-way through its body.
    let address = server.base.trim_start_matches("http://").to_string();
    let mut stalled = tokio::net::TcpStream::connect(address).await.unwrap();
    tokio::io::AsyncWriteExt::write_all(
        &mut stalled,
        b"POST /documents/text HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n\
          LIGHTRAG-WORKSPACE: stuck\r\nContent-Length: 1000\r\n\r\n{\"text\": \"half",
    )
    .await
    .unwrap();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let started = Instant::now();
    let (status, log) = server.terminate();
    assert!(status.success(), "{log}");
    assert!(
        started.elapsed() < Duration::from_secs(15),
        "shutdown took {:?}",
        started.elapsed()
    );
    assert!(log.contains("finalized all workspaces"), "{log}");
    drop(stalled);
    stuck.abort();
}

/// Regression: a model server answering the first three calls with 429 and
/// `Retry-After: 0` failed the document (three tries in all, instantly), where
/// LightRAG ingests it — its clients retry inside each of their own attempts.
#[tokio::test(flavor = "multi_thread")]
async fn a_briefly_rate_limited_provider_fails_no_document() {
    let mock = MockLlm::start(32).await;
    mock.state.fail_status.store(429, Ordering::Relaxed);
    *mock.state.retry_after.lock().unwrap() = Some("0".into());
    mock.state.fail_completions.store(3, Ordering::Relaxed);
    let mut env = pairs(mock.env());
    env.push(("MAX_GLEANING", "0"));
    let server = Server::start(&env);
    server
        .insert(Some("limited"), "a.txt", "Falcons dive fast.")
        .await;
    let counts = server.wait_idle(Some("limited")).await;
    assert_eq!(counts["processed"], 1, "{counts}");
    assert_eq!(mock.state.fail_completions.load(Ordering::SeqCst), 0);
}

/// Regression: with more busy workspaces than pool slots, an instance was evicted only
/// when nothing leased it; a steadily used workspace never was, and requests for the
/// others got 503 "All workspace slots are busy". Long-held slots are now handed over
/// to waiting workspaces, in arrival order.
#[tokio::test(flavor = "multi_thread")]
async fn busy_tenants_do_not_starve_the_rest_when_the_pool_is_full() {
    let mock = MockLlm::start(32).await;
    let mut env = pairs(mock.env());
    env.push(("LIGHTRAG_MAX_WORKSPACES_IN_POOL", "4"));
    let server = Arc::new(Server::start(&env));
    for w in 0..10 {
        server
            .insert(
                Some(&format!("tenant-{w}")),
                "a.txt",
                &format!("Tenant {w} keeps Bees."),
            )
            .await;
    }
    for w in 0..10 {
        server.wait_idle(Some(&format!("tenant-{w}"))).await;
    }
    mock.state.latency_ms.store(50, Ordering::Relaxed);
    let mut clients = tokio::task::JoinSet::new();
    for c in 0..32 {
        let server = server.clone();
        clients.spawn(async move {
            let mut refused = Vec::new();
            for i in 0..12 {
                let ws = format!("tenant-{}", (c * 7 + i * 3) % 10);
                let reply = if i % 2 == 0 {
                    server
                        .post(
                            "/query",
                            Some(&ws),
                            json!({"query": "Who keeps bees?", "mode": "naive", "stream": false}),
                        )
                        .await
                } else {
                    server.get("/documents/status_counts", Some(&ws)).await
                };
                if reply.status != 200 {
                    refused.push(format!("{ws}: {} {}", reply.status, reply.text));
                }
            }
            refused
        });
    }
    let mut refused = Vec::new();
    while let Some(result) = clients.join_next().await {
        refused.extend(result.unwrap());
    }
    assert!(refused.is_empty(), "{} refused: {refused:?}", refused.len());
    assert!(server.metric("lightrag_pool_evictions_total").await > 0);
    assert_eq!(server.metric("lightrag_pool_leases").await, 0);
}

/// Regression: a request's lease on a workspace it was opening was released only once
/// the open was joined; a client that went away meanwhile leaked the lease — the
/// workspace could never be evicted or closed again (admin close answered 503 for
/// ever). Clients here send a request and hang up at once, racing each open.
#[tokio::test(flavor = "multi_thread")]
async fn clients_that_hang_up_while_their_workspace_opens_leak_no_lease() {
    const ADMIN: &str = "admin-secret-key";
    let server = Server::start(&[("LIGHTRAG_ADMIN_API_KEY", ADMIN)]);
    let address = server.base.trim_start_matches("http://").to_string();
    for i in 0..40 {
        let mut stream = tokio::net::TcpStream::connect(&address).await.unwrap();
        let request = format!(
            "GET /documents/status_counts HTTP/1.1\r\nHost: x\r\nLIGHTRAG-WORKSPACE: hasty-{i}\r\n\r\n"
        );
        tokio::io::AsyncWriteExt::write_all(&mut stream, request.as_bytes())
            .await
            .unwrap();
        if i % 2 == 1 {
            tokio::time::sleep(Duration::from_micros(200 * i)).await;
        }
        drop(stream);
    }
    assert!(
        eventually(Duration::from_secs(10), || async {
            server.metric("lightrag_pool_leases").await == 0
        })
        .await,
        "a lease was leaked"
    );
    let mut deleted = 0;
    for i in 0..40 {
        let reply = server
            .request_with(
                Method::DELETE,
                &format!("/workspaces/hasty-{i}"),
                &[("X-Admin-Key", ADMIN)],
                None,
            )
            .await;
        assert!(
            reply.status == 200 || reply.status == 404,
            "hasty-{i}: {} {}",
            reply.status,
            reply.text
        );
        deleted += usize::from(reply.status == 200);
    }
    assert!(
        deleted > 0,
        "no request got as far as opening its workspace"
    );
}

/// Regression: deleting a workspace marked it closing and then waited for its
/// requests; an admin client that went away meanwhile left it closing — answering 404
/// until the server restarted. The deletion now finishes on its own.
#[tokio::test(flavor = "multi_thread")]
async fn an_admin_deletion_abandoned_mid_drain_still_completes() {
    const ADMIN: &str = "admin-secret-key";
    let mock = MockLlm::start(32).await;
    let mut env = pairs(mock.env());
    env.push(("LIGHTRAG_ADMIN_API_KEY", ADMIN));
    let server = Server::start(&env);
    server
        .insert(Some("doomed"), "a.txt", "Larks sing early.")
        .await;
    server.wait_idle(Some("doomed")).await;
    // A slow query keeps the workspace leased while the deletion drains it.
    mock.state.latency_ms.store(1500, Ordering::Relaxed);
    let asking = {
        let url = format!("{}/query", server.base);
        tokio::spawn(async move {
            reqwest::Client::new()
                .post(url)
                .header("LIGHTRAG-WORKSPACE", "doomed")
                .json(&json!({"query": "When do larks sing?", "mode": "naive"}))
                .send()
                .await
                .map(|r| r.status().as_u16())
        })
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    let impatient = reqwest::Client::builder()
        .timeout(Duration::from_millis(200))
        .build()
        .unwrap();
    let gone = impatient
        .delete(format!("{}/workspaces/doomed", server.base))
        .header("X-Admin-Key", ADMIN)
        .send()
        .await;
    assert!(gone.is_err(), "the admin client gave up");
    assert_eq!(asking.await.unwrap().unwrap(), 200);
    assert!(
        eventually(Duration::from_secs(10), || async {
            !server.working_dir.join("doomed").exists()
        })
        .await,
        "the deletion did not finish"
    );
    // The name is usable again: a new, empty workspace.
    mock.state.latency_ms.store(0, Ordering::Relaxed);
    let counts = server.counts(Some("doomed")).await;
    assert_eq!(counts["all"], 0, "{counts}");
}
