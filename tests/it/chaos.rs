//! Chaos: many tenants through a small pool, clients that do everything at once and
//! hang up at random, a model server that is slow, fails and rate-limits at random —
//! and processes killed mid-ingestion. Afterwards every workspace must serve, nothing
//! acknowledged may be lost, and nothing may be left in flight.
//!
//! The soak runs for `LIGHTRAG_CHAOS_SECS` seconds (default 12).

use crate::harness::{Server, pairs};
use crate::mock_llm::MockLlm;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const ADMIN: &str = "chaos-admin-key";
const WORKSPACES: usize = 20;

/// A small deterministic generator per client, so a failing run can be replayed.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n.max(1)
    }
}

/// What the clients were told, per workspace.
#[derive(Default)]
struct Ledger {
    /// Acknowledged inserts: file name → when the insert was sent.
    inserted: HashMap<String, Instant>,
    /// Files a deletion was asked for (whatever the answer).
    deleted: HashSet<String>,
    /// When each clear may have taken effect, at the latest.
    cleared: Vec<Instant>,
}

impl Ledger {
    /// Files that must still be there: acknowledged, never asked to be deleted, and
    /// sent after the last clear that could have removed them.
    fn must_exist(&self) -> Vec<&String> {
        self.inserted
            .iter()
            .filter(|(name, sent)| {
                !self.deleted.contains(*name) && self.cleared.iter().all(|c| c < *sent)
            })
            .map(|(name, _)| name)
            .collect()
    }
}

type Ledgers = Arc<Mutex<Vec<Ledger>>>;

struct Client {
    base: String,
    http: reqwest::Client,
    /// Gives up after 30–300 ms: a client hanging up mid-request.
    impatient: reqwest::Client,
}

impl Client {
    async fn send(
        &self,
        rng: &mut Rng,
        method: Method,
        path: &str,
        ws: &str,
        body: Option<Value>,
    ) -> Option<(StatusCode, String)> {
        let hang_up = rng.below(8) == 0;
        let http = if hang_up { &self.impatient } else { &self.http };
        let mut request = http
            .request(method, format!("{}{path}", self.base))
            .header("LIGHTRAG-WORKSPACE", ws)
            .header("X-Admin-Key", ADMIN);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.ok()?;
        let status = response.status();
        let text = response.text().await.ok()?;
        Some((status, text))
    }
}

/// One client's random walk over the workspaces until `until`. Returns the answers
/// that signal a bug (5xx other than a 503 with `Retry-After`).
async fn wander(client: Client, seed: u64, until: Instant, ledgers: Ledgers) -> Vec<String> {
    let mut rng = Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1);
    let mut bugs = Vec::new();
    let mut n = 0;
    while Instant::now() < until {
        n += 1;
        let w = rng.below(WORKSPACES as u64) as usize;
        let ws = format!("soak-{w}");
        let roll = rng.below(100);
        let sent = Instant::now();
        let outcome = if roll < 30 {
            let name = format!("doc-{seed}-{n}.txt");
            let text = format!(
                "Report {n} of client {seed}. Captain Ahab{} sails to Port Nantucket{} with \
                 Ishmael{}. The whale Moby{} was seen near Cape Horn.",
                rng.below(12),
                rng.below(12),
                rng.below(12),
                rng.below(12)
            );
            let outcome = client
                .send(
                    &mut rng,
                    Method::POST,
                    "/documents/text",
                    &ws,
                    Some(json!({"text": text, "file_source": name})),
                )
                .await;
            if matches!(&outcome, Some((status, _)) if status.is_success()) {
                ledgers.lock().unwrap()[w].inserted.insert(name, sent);
            }
            outcome
        } else if roll < 55 {
            let mode = ["naive", "local", "global", "hybrid", "mix"][rng.below(5) as usize];
            client
                .send(
                    &mut rng,
                    Method::POST,
                    "/query",
                    &ws,
                    Some(json!({"query": "Who sails to Port Nantucket?", "mode": mode})),
                )
                .await
        } else if roll < 65 {
            // Streams, often abandoned after the first line.
            let response = client
                .http
                .post(format!("{}/query/stream", client.base))
                .header("LIGHTRAG-WORKSPACE", &ws)
                .json(&json!({"query": "Where was the whale seen?", "mode": "mix", "include_progress": true}))
                .send()
                .await;
            match response {
                Ok(mut response) => {
                    let status = response.status();
                    if rng.below(2) == 0 {
                        let _ = response.chunk().await;
                        None
                    } else {
                        response.text().await.ok().map(|text| (status, text))
                    }
                }
                Err(_) => None,
            }
        } else if roll < 73 {
            let victim = {
                let ledgers = ledgers.lock().unwrap();
                let names: Vec<&String> = ledgers[w].inserted.keys().collect();
                (!names.is_empty()).then(|| names[rng.below(names.len() as u64) as usize].clone())
            };
            match victim {
                Some(name) => {
                    ledgers.lock().unwrap()[w].deleted.insert(name.clone());
                    let page = client
                        .send(
                            &mut rng,
                            Method::POST,
                            "/documents/paginated",
                            &ws,
                            Some(json!({"page": 1, "page_size": 200})),
                        )
                        .await;
                    let id = page.and_then(|(_, text)| {
                        let page: Value = serde_json::from_str(&text).ok()?;
                        page["documents"]
                            .as_array()?
                            .iter()
                            .find(|d| d["file_path"] == name.as_str())
                            .and_then(|d| d["id"].as_str().map(str::to_string))
                    });
                    match id {
                        Some(id) => {
                            client
                                .send(
                                    &mut rng,
                                    Method::DELETE,
                                    "/documents/delete_document",
                                    &ws,
                                    Some(json!({"doc_ids": [id]})),
                                )
                                .await
                        }
                        None => None,
                    }
                }
                None => None,
            }
        } else if roll < 83 {
            let entity = format!("Harpoon{}", rng.below(5));
            let (path, body) = if rng.below(2) == 0 {
                (
                    "/graph/entity/create",
                    json!({"entity_name": entity, "entity_data": {"description": "A tool.", "entity_type": "equipment"}}),
                )
            } else {
                (
                    "/graph/entity/edit",
                    json!({"entity_name": entity, "updated_data": {"description": format!("Edited {n}.")}}),
                )
            };
            client
                .send(&mut rng, Method::POST, path, &ws, Some(body))
                .await
        } else if roll < 85 {
            let outcome = client
                .send(&mut rng, Method::DELETE, "/documents", &ws, None)
                .await;
            // An abandoned clear may still run: it may take effect a little later.
            let at_latest = Instant::now() + Duration::from_secs(5);
            ledgers.lock().unwrap()[w].cleared.push(at_latest);
            outcome
        } else if roll < 88 {
            let cpu_ms = 20_000 + rng.below(1000);
            client
                .send(
                    &mut rng,
                    Method::PUT,
                    &format!("/workspaces/{ws}/limits"),
                    &ws,
                    Some(json!({ "cpu_ms": cpu_ms })),
                )
                .await
        } else {
            let path = [
                "/documents/status_counts",
                "/documents/pipeline_status",
                "/graph/label/popular",
            ][rng.below(3) as usize];
            client.send(&mut rng, Method::GET, path, &ws, None).await
        };
        if let Some((status, text)) = outcome
            && status.is_server_error()
            && status != StatusCode::SERVICE_UNAVAILABLE
        {
            bugs.push(format!("{ws} roll {roll}: {status} {text}"));
        }
    }
    bugs
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_chaotic_soak_leaves_every_workspace_serving_and_nothing_lost() {
    let secs: u64 = std::env::var("LIGHTRAG_CHAOS_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(12);
    let mock = MockLlm::start(32).await;
    mock.state.chaos_percent.store(12, Ordering::Relaxed);
    mock.state.chaos_latency_ms.store(120, Ordering::Relaxed);
    let mut env = pairs(mock.env());
    env.extend([
        ("LIGHTRAG_MAX_WORKSPACES_IN_POOL", "5"),
        ("LIGHTRAG_ADMIN_API_KEY", ADMIN),
        ("MAX_GLEANING", "0"),
        ("LIGHTRAG_QUARANTINE_FAULTS", "1000"),
    ]);
    let server = Server::start(&env);
    let ledgers: Ledgers = Arc::new(Mutex::new(
        (0..WORKSPACES).map(|_| Ledger::default()).collect(),
    ));
    let until = Instant::now() + Duration::from_secs(secs);
    let mut clients = tokio::task::JoinSet::new();
    for seed in 1..=16u64 {
        let client = Client {
            base: server.base.clone(),
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(60))
                .build()
                .unwrap(),
            impatient: reqwest::Client::builder()
                .timeout(Duration::from_millis(30 + seed * 17))
                .build()
                .unwrap(),
        };
        clients.spawn(wander(client, seed, until, ledgers.clone()));
    }
    let mut bugs = Vec::new();
    while let Some(result) = clients.join_next().await {
        bugs.extend(result.unwrap());
    }
    assert!(bugs.is_empty(), "{} bad answers: {bugs:#?}", bugs.len());

    // The storm is over.
    mock.state.chaos_percent.store(0, Ordering::Relaxed);
    mock.state.chaos_latency_ms.store(0, Ordering::Relaxed);
    let ledgers = ledgers.lock().unwrap().drain(..).collect::<Vec<_>>();
    let mut acknowledged = 0;
    for (w, ledger) in ledgers.iter().enumerate() {
        let ws = format!("soak-{w}");
        let counts = server.wait_idle(Some(&ws)).await;
        let page = server
            .post(
                "/documents/paginated",
                Some(&ws),
                json!({"page": 1, "page_size": 200}),
            )
            .await
            .json();
        let stored: HashSet<&str> = page["documents"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| d["file_path"].as_str().unwrap())
            .collect();
        for name in ledger.must_exist() {
            assert!(
                stored.contains(name.as_str()),
                "{ws}: {name} was acknowledged and is gone ({counts})"
            );
            acknowledged += 1;
        }
        let reply = server
            .post(
                "/query",
                Some(&ws),
                json!({"query": "Who sails to Port Nantucket?", "mode": "mix"}),
            )
            .await;
        assert_eq!(reply.status, 200, "{ws}: {}", reply.text);
    }
    assert!(acknowledged > 0, "the soak acknowledged nothing");
    assert_eq!(server.metric("lightrag_pool_leases").await, 0);
    assert_eq!(server.metric("lightrag_model_calls_in_flight").await, 0);
    assert_eq!(server.metric("lightrag_pool_traps_total").await, 0);
}

/// Documents of the kill-9 run: one chunk each, a recurring cast of entities, each
/// entity in few enough documents that no summary depends on merge order.
fn corpus() -> Vec<(usize, String, String)> {
    let places = [
        "Avalon",
        "Brigadoon",
        "Camelot",
        "Dunwich",
        "Eldorado",
        "Florin",
    ];
    (0..200)
        .map(|i| {
            let w = i % 5;
            let text = format!(
                "Chronicle {i}. Knight Galahad{} rides from {} to {}. Lady Elaine{} waits in {}.",
                i % 23,
                places[i % 6],
                places[(i / 6) % 6],
                i % 19,
                places[(i + 3) % 6],
            );
            (w, format!("chronicle-{i}.txt"), text)
        })
        .collect()
}

/// The graph of a workspace, order-free: entities with their sorted source chunks and
/// description fragments, relations likewise.
async fn graph_of(server: &Server, ws: &str) -> BTreeMap<String, (Vec<String>, Vec<String>)> {
    let graph = server
        .get("/graphs?label=*&max_depth=10&max_nodes=1000", Some(ws))
        .await
        .json();
    let split = |v: &Value| {
        let mut parts: Vec<String> = v
            .as_str()
            .unwrap_or("")
            .split("<SEP>")
            .map(str::to_string)
            .collect();
        parts.sort();
        parts
    };
    let mut out = BTreeMap::new();
    for node in graph["nodes"].as_array().unwrap() {
        let p = &node["properties"];
        out.insert(
            format!("node {}", node["id"].as_str().unwrap()),
            (split(&p["source_id"]), split(&p["description"])),
        );
    }
    for edge in graph["edges"].as_array().unwrap() {
        let p = &edge["properties"];
        let (a, b) = (
            edge["source"].as_str().unwrap(),
            edge["target"].as_str().unwrap(),
        );
        let (a, b) = if a <= b { (a, b) } else { (b, a) };
        out.insert(
            format!("edge {a} -- {b}"),
            (split(&p["source_id"]), split(&p["description"])),
        );
    }
    out
}

fn ingest_env(mock: &MockLlm) -> Vec<(String, String)> {
    let mut env = mock.env().to_vec();
    for (k, v) in [
        ("MAX_GLEANING", "0"),
        ("FORCE_LLM_SUMMARY_ON_MERGE", "1000"),
        ("SUMMARY_MAX_TOKENS", "100000"),
    ] {
        env.push((k.into(), v.into()));
    }
    env
}

/// Inserts `doc` until the server acknowledges it (200, or 409 when an earlier,
/// unanswered insert had stored it). `None` when the server is gone.
async fn insert(server: &Server, ws: &str, name: &str, text: &str) -> Option<()> {
    let response = reqwest::Client::new()
        .post(format!("{}/documents/text", server.base))
        .header("LIGHTRAG-WORKSPACE", ws)
        .json(&json!({"text": text, "file_source": name}))
        .send()
        .await
        .ok()?;
    matches!(response.status().as_u16(), 200 | 409).then_some(())
}

/// Documents inserted between two kills.
const PER_RUN: usize = 10;

#[tokio::test(flavor = "multi_thread")]
async fn twenty_kill_nines_during_ingestion_lose_nothing_and_build_the_clean_graph() {
    let mock = MockLlm::start(32).await;
    mock.state.latency_ms.store(8, Ordering::Relaxed);
    let env = ingest_env(&mock);
    let docs = corpus();

    // The clean run.
    let clean = Server::start(&pairs(&env));
    for (w, name, text) in &docs {
        insert(&clean, &format!("k{w}"), name, text).await.unwrap();
    }
    let mut expected = Vec::new();
    for w in 0..5 {
        assert_eq!(
            clean.wait_idle(Some(&format!("k{w}"))).await["processed"],
            40
        );
        expected.push(graph_of(&clean, &format!("k{w}")).await);
    }
    drop(clean);

    // The same documents, with the server killed twenty times while it ingests.
    let root = tempfile::tempdir().unwrap().keep();
    let mut rng = Rng(0x5EED);
    let mut next = 0;
    let mut resumed = 0;
    for _kill in 0..20 {
        let server = Server::start_in(&root, &pairs(&env));
        // Traffic reaches every workspace after a restart, as a user's would: opening
        // one resumes what the last kill interrupted there.
        for w in 0..5 {
            server
                .get("/documents/status_counts", Some(&format!("k{w}")))
                .await;
        }
        // Resumed work runs for a while; then a burst of documents, and the kill a
        // few milliseconds later, so it lands while their ingestion is under way
        // however fast this machine processes them.
        tokio::time::sleep(Duration::from_millis(rng.below(300))).await;
        for _ in 0..PER_RUN {
            if next == docs.len() {
                break;
            }
            let (w, name, text) = &docs[next];
            if insert(&server, &format!("k{w}"), name, text)
                .await
                .is_none()
            {
                break;
            }
            next += 1;
        }
        tokio::time::sleep(Duration::from_millis(rng.below(30))).await;
        resumed += server
            .log()
            .matches("resuming interrupted ingestion")
            .count();
        server.kill9();
    }
    // The kills did interrupt ingestions: restarts found documents to resume.
    assert!(
        resumed >= 5,
        "only {resumed} restarts found interrupted work"
    );
    let server = Server::start_in(&root, &pairs(&env));
    while next < docs.len() {
        let (w, name, text) = &docs[next];
        insert(&server, &format!("k{w}"), name, text).await.unwrap();
        next += 1;
    }
    for (w, expected) in expected.iter().enumerate() {
        let ws = format!("k{w}");
        let counts = server.wait_idle(Some(&ws)).await;
        assert_eq!(counts["processed"], 40, "{ws}: {counts}");
        assert_eq!(counts["all"], 40, "{ws}: {counts}");
        assert_eq!(
            &graph_of(&server, &ws).await,
            expected,
            "{ws}'s graph differs"
        );
    }
}
