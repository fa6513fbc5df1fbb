//! Benchmarks of the multi-workspace machinery (not a test: it prints numbers).
//!
//! ```text
//! cargo bench -p lightrag-server --bench pool
//! BENCH_WORKSPACES=500 BENCH_QUERIES=200 cargo bench -p lightrag-server --bench pool
//! ```
//!
//! * instantiation: `InstancePre::instantiate_async` for a fresh store;
//! * pool-miss open: lease of a never-seen workspace (instantiate + guest `open`);
//! * idle RSS per workspace with N workspaces open;
//! * naive `/query` latency over HTTP with the mock model answering at 0 ms;
//! * idle cost of N workspaces holding one document each: RSS and PSS per workspace
//!   and the engine's own heap, right after ingestion and again after a restart
//!   (every workspace opened from disk).

#[path = "../../tests/it/mock_llm/mod.rs"]
#[allow(dead_code)]
mod mock_llm;

use lightrag_server::config::{Command, Config};
use lightrag_server::runtime::Runtime;
use lightrag_server::server::{build, serve};
use lightrag_server::workspace::Workspace;
use serde_json::json;
use std::collections::HashMap;
use std::time::{Duration, Instant};

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn rss_kib() -> u64 {
    status_kib("VmRSS:")
}

/// A `kB` field of `/proc/self/status`.
fn status_kib(field: &str) -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

fn percentile(samples: &mut [Duration], p: f64) -> Duration {
    samples.sort();
    let index = ((samples.len() as f64 - 1.0) * p).round() as usize;
    samples[index]
}

fn report(name: &str, samples: &mut [Duration]) {
    let p50 = percentile(samples, 0.5);
    let p90 = percentile(samples, 0.9);
    let p99 = percentile(samples, 0.99);
    println!(
        "{name:<34} n={:<5} p50={:>9.3?} p90={:>9.3?} p99={:>9.3?}",
        samples.len(),
        p50,
        p90,
        p99
    );
}

fn config(dir: &std::path::Path, env: &[(String, String)], pool: usize) -> Config {
    let mut vars: HashMap<String, String> = env.iter().cloned().collect();
    vars.insert("WORKING_DIR".into(), dir.join("data").display().to_string());
    vars.insert(
        "LIGHTRAG_CACHE_DIR".into(),
        dir.join("cache").display().to_string(),
    );
    vars.insert("LIGHTRAG_MAX_WORKSPACES_IN_POOL".into(), pool.to_string());
    vars.insert("HOST".into(), "127.0.0.1".into());
    vars.insert("LOG_LEVEL".into(), "ERROR".into());
    match Config::from_parts(&[], vars, HashMap::new()).expect("config") {
        Command::Serve(config) => *config,
        _ => unreachable!(),
    }
}

#[tokio::main]
async fn main() {
    let workspaces = env_usize("BENCH_WORKSPACES", 500);
    let queries = env_usize("BENCH_QUERIES", 200);
    let docs = env_usize("BENCH_DOCS", 50);
    let dir = tempfile::tempdir().unwrap();
    let mock = mock_llm::MockLlm::start(1024).await;
    println!("lightrag-wasm pool bench: {workspaces} workspaces, {docs} docs, {queries} queries");

    // 1. Raw instantiation.
    let runtime = Runtime::new(
        lightrag_bindings::ENGINE_COMPONENT,
        &dir.path().join("cache"),
        64,
    )
    .unwrap();
    let data = dir.path().join("raw");
    std::fs::create_dir_all(&data).unwrap();
    let mut samples = Vec::new();
    for _ in 0..200 {
        let started = Instant::now();
        let instance = runtime
            .instantiate(&data, &data, None, 256 << 20, Duration::from_secs(30))
            .await
            .unwrap();
        samples.push(started.elapsed());
        drop(instance);
    }
    report("instantiate (InstancePre)", &mut samples);
    drop(runtime);

    // 2 + 3. Pool-miss opens and idle memory with many workspaces open.
    let state = build(config(dir.path(), mock.env(), workspaces)).unwrap();
    // Warm the engine (first tokenizer use etc. is per instance, so this is fair).
    let warm = Workspace::new("warmup").unwrap();
    drop(state.workspaces.lease(&warm).await.unwrap());
    let rss_before = rss_kib();
    let mut samples = Vec::new();
    let mut leases = Vec::new();
    for i in 0..workspaces.saturating_sub(1) {
        let ws = Workspace::new(&format!("tenant-{i}")).unwrap();
        let started = Instant::now();
        let lease = state.workspaces.lease(&ws).await.unwrap();
        samples.push(started.elapsed());
        leases.push(lease);
    }
    let rss_after = rss_kib();
    report("pool-miss open (instantiate+open)", &mut samples);
    println!(
        "idle RSS: {} workspaces open, {:.1} MiB total growth, {:.1} KiB per workspace",
        samples.len(),
        (rss_after - rss_before) as f64 / 1024.0,
        (rss_after - rss_before) as f64 / samples.len().max(1) as f64
    );
    drop(leases);
    let state_for_server = state.clone();

    // 4. Naive query latency over HTTP.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(serve(state_for_server, listener, std::future::pending()));
    let client = reqwest::Client::new();
    let texts: Vec<String> = (0..docs)
        .map(|i| {
            format!(
                "Report {i}. The harbour of town {i} ships {} tonnes of grain to the mill of \
                 village {} every season, and its lighthouse keeper is named Keeper{i}. {}",
                i * 37,
                i + 1,
                "Boats, nets and ropes fill the quay while gulls circle above. ".repeat(20)
            )
        })
        .collect();
    let sources: Vec<String> = (0..docs).map(|i| format!("report-{i}.txt")).collect();
    let started = Instant::now();
    let response = client
        .post(format!("{base}/documents/texts"))
        .header("LIGHTRAG-WORKSPACE", "bench")
        .json(&json!({"texts": texts, "file_sources": sources}))
        .send()
        .await
        .unwrap();
    assert!(response.status().is_success());
    loop {
        let counts: serde_json::Value = client
            .get(format!("{base}/documents/status_counts"))
            .header("LIGHTRAG-WORKSPACE", "bench")
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        if counts["status_counts"]["processed"].as_u64() == Some(docs as u64) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let ingest = started.elapsed();
    println!(
        "ingest {docs} docs (naive: chunk+embed, mock 0 ms): {:.2?} = {:.1} docs/s",
        ingest,
        docs as f64 / ingest.as_secs_f64()
    );
    let mut samples = Vec::new();
    for i in 0..queries {
        let body = json!({"query": format!("Who keeps the lighthouse of town {}? (asked {i})", i % docs), "mode": "naive"});
        let started = Instant::now();
        let response = client
            .post(format!("{base}/query"))
            .header("LIGHTRAG-WORKSPACE", "bench")
            .json(&body)
            .send()
            .await
            .unwrap();
        let _ = response.bytes().await.unwrap();
        samples.push(started.elapsed());
    }
    report("/query naive (mock 0 ms, HTTP)", &mut samples);
    let mut samples = Vec::new();
    for i in 0..queries {
        let body = json!({"query": format!("Who keeps the lighthouse of town {}? (asked {i})", i % docs), "mode": "naive"});
        let started = Instant::now();
        let response = client
            .post(format!("{base}/query"))
            .header("LIGHTRAG-WORKSPACE", "bench")
            .json(&body)
            .send()
            .await
            .unwrap();
        let _ = response.bytes().await.unwrap();
        samples.push(started.elapsed());
    }
    report("/query naive, answer cached", &mut samples);

    one_document_each(dir.path(), mock.env(), workspaces).await;
}

/// Proportional set size of this process: RSS with pages mapped several times (the
/// engine's code and data images shared by every instance) counted once.
fn pss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/smaps_rollup")
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("Pss:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

/// RSS, its anonymous (private) part, and PSS, in KiB.
fn memory_kib() -> [u64; 3] {
    [rss_kib(), status_kib("RssAnon:"), pss_kib()]
}

/// Prints the memory `n` workspaces added since `before`. RSS counts a page of the
/// engine's shared memory image once per instance that touched it; PSS counts it
/// once, which is what the machine spends.
fn report_idle(label: &str, n: usize, before: [u64; 3], heap: u64) {
    let after = memory_kib();
    let per = |i: usize| after[i].saturating_sub(before[i]) as f64 / n as f64;
    println!(
        "{label:<34} n={n:<5} per workspace: RSS {:.0} KiB (anon {:.0}), PSS {:.0} KiB, \
         engine heap {:.0} KiB",
        per(0),
        per(1),
        per(2),
        heap as f64 / 1024.0 / n as f64,
    );
}

/// The engine heaps of `names`, summed.
async fn heap_of(state: &lightrag_server::routes::AppState, names: &[Workspace]) -> u64 {
    let mut heap = 0;
    for ws in names {
        let lease = state.workspaces.lease(ws).await.unwrap();
        heap += lease.stats().await.unwrap().memory_bytes;
    }
    heap
}

/// Idle cost of workspaces that hold one document: `n` workspaces ingest one each,
/// then the server restarts and opens every one from disk.
async fn one_document_each(root: &std::path::Path, env: &[(String, String)], n: usize) {
    let root = root.join("one-each");
    let names: Vec<Workspace> = (0..n)
        .map(|i| Workspace::new(&format!("one-{i}")).unwrap())
        .collect();
    let text = |i: usize| {
        format!(
            "Note {i}. The ferry of island {i} leaves at dawn for the harbour of town {}, \
             and its captain, Mariner{i}, logs every crossing. {}",
            i + 1,
            "Gulls follow the wake while the engine hums. ".repeat(12)
        )
    };
    let state = build(config(&root, env, n + 1)).unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let server = tokio::spawn(serve(state.clone(), listener, std::future::pending()));
    let client = reqwest::Client::new();
    let before = memory_kib();
    for (i, ws) in names.iter().enumerate() {
        let response = client
            .post(format!("{base}/documents/text"))
            .header("LIGHTRAG-WORKSPACE", ws.as_str())
            .json(&json!({"text": text(i), "file_source": format!("note-{i}.txt")}))
            .send()
            .await
            .unwrap();
        assert!(response.status().is_success());
    }
    for ws in &names {
        while state.workspaces.pipeline_busy(ws) {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }
    let heap = heap_of(&state, &names).await;
    report_idle("one document each, after ingest", n, before, heap);
    state
        .workspaces
        .shutdown(tokio::time::Instant::now() + Duration::from_secs(60))
        .await;
    server.abort();
    let _ = server.await;
    drop(state);

    let state = build(config(&root, env, n + 1)).unwrap();
    let before = memory_kib();
    let mut leases = Vec::new();
    for ws in &names {
        leases.push(state.workspaces.lease(ws).await.unwrap());
    }
    let heap = heap_of(&state, &names).await;
    drop(leases);
    report_idle("one document each, reopened", n, before, heap);
}
