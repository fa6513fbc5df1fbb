//! Noisy neighbours: the latency of workspace A's queries while other workspaces
//! ingest large documents and compact large snapshots, against A's latency alone.
//!
//! ```text
//! cargo bench -p lightrag-server --bench neighbours
//! LIGHTRAG_BENCH_SERVER=/path/to/another/lightrag-server cargo bench -p lightrag-server --bench neighbours
//! ```
//!
//! A black-box run against a server process (`LIGHTRAG_BENCH_SERVER` picks another
//! build, e.g. an earlier commit, for a before/after comparison) and the mock model
//! server at 0 ms. `BENCH_NOISY` workspaces (default 2, as many as this machine has
//! cores, so that their disk-bound calls could occupy every async worker) each ingest
//! `BENCH_BIG_DOCS` documents of ~200 KB; their journals pass the automatic compaction
//! threshold (16 MiB) again and again, and every compaction rewrites a whole snapshot.
//! The bench reports A's query p50/p99/max alone and during the others' work, and how
//! many snapshots they wrote meanwhile.

#[path = "../../tests/it/mock_llm/mod.rs"]
#[allow(dead_code)]
mod mock_llm;
#[allow(dead_code)]
mod support;

use serde_json::json;
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

fn big_document(i: usize) -> String {
    let mut text = format!(
        "Ledger {i}. Captain Mira Holt of the Northwind Company signed the charter in Port \
         Halden. The surveyor Ansel Grey mapped Vesper Bay for the Harbour Board. "
    );
    let mut n = 0;
    while text.len() < 200_000 {
        n += 1;
        text.push_str(&format!(
            "Entry {n}: the crew of vessel {} logged tides, weights and cargo at berth {} before \
             the evening bell, and the clerk copied the figures twice. ",
            (i * 31 + n) % 997,
            n % 61
        ));
    }
    text
}

fn percentile(samples: &mut [Duration], p: f64) -> Duration {
    samples.sort();
    samples[((samples.len() - 1) as f64 * p).round() as usize]
}

async fn query_latencies(
    client: &reqwest::Client,
    base: &str,
    until: impl Fn(usize) -> bool,
) -> Vec<Duration> {
    let mut samples = Vec::new();
    let mut i = 0;
    while !until(i) {
        let started = Instant::now();
        let reply = client
            .post(format!("{base}/query"))
            .header("LIGHTRAG-WORKSPACE", "quiet")
            .json(&json!({"query": format!("Who keeps the lighthouse? ({i})"), "mode": "naive"}))
            .send()
            .await
            .unwrap();
        assert!(reply.status().is_success());
        let _ = reply.bytes().await.unwrap();
        samples.push(started.elapsed());
        i += 1;
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    samples
}

/// Ingests `docs` big documents into `ws` in batches, counting the snapshots written;
/// returns that count, the last snapshot's size and the time it took.
async fn ingest_big(
    client: &reqwest::Client,
    base: &str,
    ws: &str,
    dir: &Path,
    docs: usize,
) -> (usize, u64, Duration) {
    let mut snapshots = 0;
    let mut inode = 0;
    let started = Instant::now();
    for batch in (0..docs).collect::<Vec<_>>().chunks(8) {
        let texts: Vec<String> = batch.iter().map(|&i| big_document(i)).collect();
        let sources: Vec<String> = batch.iter().map(|&i| format!("ledger-{i}.txt")).collect();
        let reply = client
            .post(format!("{base}/documents/texts"))
            .header("LIGHTRAG-WORKSPACE", ws)
            .json(&json!({"texts": texts, "file_sources": sources}))
            .send()
            .await
            .unwrap();
        assert!(reply.status().is_success());
        let target = (batch[batch.len() - 1] + 1) as u64;
        loop {
            let now = snapshot_inode(dir);
            if now != inode {
                inode = now;
                snapshots += 1;
            }
            let counts = support::settled(client, base, ws).await;
            if counts["processed"].as_u64().unwrap_or(0) >= target {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    let bytes = std::fs::metadata(dir.join("engine.snap")).map_or(0, |m| m.len());
    (snapshots, bytes, started.elapsed())
}

fn snapshot_inode(dir: &Path) -> u64 {
    std::fs::metadata(dir.join("engine.snap")).map_or(0, |m| m.ino())
}

#[tokio::main]
async fn main() {
    let big_docs: usize = std::env::var("BENCH_BIG_DOCS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(160);
    let mock = mock_llm::MockLlm::start(1024).await;
    mock.state.short_answers.store(true, Ordering::Relaxed);
    let dir = tempfile::tempdir().unwrap();
    let mut env = mock.env().to_vec();
    for (key, value) in [
        ("MAX_ASYNC", "8"),
        ("MAX_GLEANING", "0"),
        ("LIGHTRAG_WORKSPACE_MEMORY_MB", "1024"),
    ] {
        env.push((key.into(), value.into()));
    }
    let server = support::ServerProcess::start(dir.path(), &env);
    let base = server.base.clone();
    let client = reqwest::Client::new();

    // A: a small workspace answering queries.
    let texts: Vec<String> = (0..20)
        .map(|i| format!("Note {i}. Keeper Ada Marsh keeps the lighthouse of Port Halden."))
        .collect();
    let sources: Vec<String> = (0..20).map(|i| format!("note-{i}.txt")).collect();
    client
        .post(format!("{base}/documents/texts"))
        .header("LIGHTRAG-WORKSPACE", "quiet")
        .json(&json!({"texts": texts, "file_sources": sources}))
        .send()
        .await
        .unwrap();
    support::wait_settled(&client, &base, "quiet", 20).await;

    let mut alone = query_latencies(&client, &base, |i| i >= 300).await;
    println!(
        "A alone:          n={} p50={:.2?} p99={:.2?} max={:.2?}",
        alone.len(),
        percentile(&mut alone, 0.5),
        percentile(&mut alone, 0.99),
        percentile(&mut alone, 1.0)
    );

    // The noisy neighbours: large documents, ingested while A is queried.
    let noisy: usize = std::env::var("BENCH_NOISY")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2);
    let remaining = Arc::new(std::sync::atomic::AtomicUsize::new(noisy));
    let mut neighbours = Vec::new();
    for n in 0..noisy {
        let ws = format!("busy-{n}");
        let dir = dir.path().join("data").join(&ws);
        let (client, base, remaining) = (client.clone(), base.clone(), remaining.clone());
        neighbours.push(tokio::spawn(async move {
            let result = ingest_big(&client, &base, &ws, &dir, big_docs).await;
            remaining.fetch_sub(1, Ordering::AcqRel);
            result
        }));
    }
    let mut during =
        query_latencies(&client, &base, |_| remaining.load(Ordering::Acquire) == 0).await;
    let (mut snapshots, mut bytes, mut took) = (0, 0, Duration::ZERO);
    for neighbour in neighbours {
        let (s, b, t) = neighbour.await.unwrap();
        snapshots += s;
        bytes = bytes.max(b);
        took = took.max(t);
    }
    println!(
        "A while {noisy} neighbours work: n={} p50={:.2?} p99={:.2?} max={:.2?} \
         (each: {big_docs} documents of 200 KB; {took:.1?}; {snapshots} snapshots written in all, largest {:.1} MiB)",
        during.len(),
        percentile(&mut during, 0.5),
        percentile(&mut during, 0.99),
        percentile(&mut during, 1.0),
        bytes as f64 / (1 << 20) as f64
    );
    server.stop();
}
