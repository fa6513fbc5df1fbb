//! Ingestion benchmark: a real `lightrag-server` process, the mock model server in
//! this process, 200 one-chunk documents (~3 KB) with named entities.
//!
//! ```text
//! cargo bench -p lightrag-server --bench ingest
//! MOCK_LATENCY_MS=500 MAX_ASYNC=16 cargo bench -p lightrag-server --bench ingest
//! MOCK_LATENCY_MS=500 MAX_ASYNC=16 MAX_PARALLEL_INSERT=8 cargo bench -p lightrag-server --bench ingest
//! LIGHTRAG_BENCH_SERVER=/path/to/another/lightrag-server cargo bench -p lightrag-server --bench ingest
//! ```
//!
//! Reports documents per second, and the server's CPU per document (utime + stime
//! of the server process from /proc, so the mock's own work is not counted); then
//! the latency of `/query` in every mode (distinct questions, so the answer cache
//! never hits), p50 and p99 over `BENCH_QUERIES` questions per mode (`BENCH_MODES`, a
//! comma-separated list, picks the modes). The mock answers queries in a few hundred
//! bytes, as a model would, rather than echoing the context as it does for tests.

#[path = "../../tests/it/mock_llm/mod.rs"]
#[allow(dead_code)]
mod mock_llm;
mod support;

use serde_json::json;
use std::process::Command;
use std::sync::atomic::Ordering;
use std::time::Instant;

const PEOPLE: &[&str] = &[
    "Ada Marsh",
    "Bruno Keller",
    "Clara Voss",
    "Dmitri Orlov",
    "Elena Ruiz",
    "Farid Haddad",
    "Greta Lind",
    "Hugo Brandt",
    "Ines Moreau",
    "Jonas Berg",
    "Keiko Sato",
    "Liam Doyle",
];
const PLACES: &[&str] = &[
    "Port Halden",
    "Vesper Bay",
    "Northgate",
    "Old Mill Harbour",
    "Kestrel Ridge",
];
const ORGS: &[&str] = &[
    "Halden Shipping Company",
    "Vesper Institute",
    "Northgate Trust",
    "Ridge Observatory",
];

/// A deterministic ~3 KB document naming a few people, a place and an organisation.
fn document(i: usize) -> String {
    let a = PEOPLE[i % PEOPLE.len()];
    let b = PEOPLE[(i * 7 + 3) % PEOPLE.len()];
    let place = PLACES[i % PLACES.len()];
    let org = ORGS[(i / 3) % ORGS.len()];
    let mut text = format!(
        "{a} joined {org} in {place} during season {i}. {a} worked with {b} on the harbour survey. \
         {b} reported the results to {org}. "
    );
    while text.len() < 3000 {
        text.push_str(
            "the crews checked the nets, repaired the ropes and logged the tides before dawn, \
             while the gulls circled above the quiet water and the lamps were lit one by one. ",
        );
    }
    text
}

fn cpu_ticks(pid: u32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let after = stat.rsplit(')').next().unwrap_or("");
    let fields: Vec<&str> = after.split_whitespace().collect();
    // utime and stime are fields 14 and 15 of the file, 12 and 13 after the ')'.
    fields
        .get(11)
        .and_then(|v| v.parse::<u64>().ok())
        .unwrap_or(0)
        + fields
            .get(12)
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0)
}

fn rss_mib(pid: u32) -> f64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .unwrap_or(0.0)
        / 1024.0
}

fn clock_ticks_per_second() -> f64 {
    Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(100.0)
}

#[tokio::main]
async fn main() {
    let docs: usize = std::env::var("BENCH_DOCS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(200);
    let latency: u64 = std::env::var("MOCK_LATENCY_MS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let max_async = std::env::var("MAX_ASYNC").unwrap_or_else(|_| "16".into());
    let parallel = std::env::var("MAX_PARALLEL_INSERT").unwrap_or_else(|_| "3".into());
    let mock = mock_llm::MockLlm::start(1024).await;
    mock.state.latency_ms.store(latency, Ordering::Relaxed);
    mock.state
        .embed_latency_ms
        .store(latency, Ordering::Relaxed);
    mock.state.short_answers.store(true, Ordering::Relaxed);

    let dir = tempfile::tempdir().unwrap();
    let mut env = mock.env().to_vec();
    env.push(("MAX_ASYNC".into(), max_async.clone()));
    env.push(("MAX_PARALLEL_INSERT".into(), parallel.clone()));
    let server = support::ServerProcess::start(dir.path(), &env);
    let pid = server.pid();
    let base = server.base.clone();
    let client = reqwest::Client::new();
    let ws = "bench";
    // Open the workspace first, so start-up is not measured.
    client
        .get(format!("{base}/documents/status_counts"))
        .header("LIGHTRAG-WORKSPACE", ws)
        .send()
        .await
        .unwrap();

    let ticks = clock_ticks_per_second();
    let cpu_before = cpu_ticks(pid);
    let started = Instant::now();
    for batch in (0..docs).collect::<Vec<_>>().chunks(10) {
        let texts: Vec<String> = batch.iter().map(|&i| document(i)).collect();
        let sources: Vec<String> = batch.iter().map(|&i| format!("doc-{i:03}.txt")).collect();
        let reply = client
            .post(format!("{base}/documents/texts"))
            .header("LIGHTRAG-WORKSPACE", ws)
            .json(&json!({"texts": texts, "file_sources": sources}))
            .send()
            .await
            .unwrap();
        assert!(
            reply.status().is_success(),
            "{}",
            reply.text().await.unwrap()
        );
    }
    support::wait_settled(&client, &base, ws, docs as u64).await;
    let counts = support::settled(&client, &base, ws).await;
    assert_eq!(counts["failed"], 0, "{counts}");
    let wall = started.elapsed();
    let cpu = (cpu_ticks(pid) - cpu_before) as f64 / ticks;
    let labels: serde_json::Value = client
        .get(format!("{base}/graph/label/list"))
        .header("LIGHTRAG-WORKSPACE", ws)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let log = mock.state.log();
    let chats = log.iter().filter(|l| l.kind == "chat").count();
    let embeds: usize = log
        .iter()
        .filter(|l| l.kind == "embed")
        .map(|l| l.messages.len())
        .sum();
    println!(
        "ingest {docs} docs, mock {latency} ms, MAX_ASYNC={max_async}, \
         MAX_PARALLEL_INSERT={parallel}: {:.2?} wall = {:.2} docs/s; \
         server CPU {:.2} s = {:.2} ms/doc; RSS {:.1} MiB; {} labels; {chats} LLM calls; {embeds} texts embedded",
        wall,
        docs as f64 / wall.as_secs_f64(),
        cpu,
        cpu * 1000.0 / docs as f64,
        rss_mib(pid),
        labels.as_array().map_or(0, Vec::len),
    );
    let queries: usize = std::env::var("BENCH_QUERIES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20);
    let modes =
        std::env::var("BENCH_MODES").unwrap_or_else(|_| "naive,local,global,hybrid,mix".into());
    for mode in modes.split(',').map(str::trim) {
        let mut samples = Vec::with_capacity(queries);
        let cpu_before = cpu_ticks(pid);
        for i in 0..queries {
            let person = PEOPLE[i % PEOPLE.len()];
            let question = format!(
                "Which organisation did {person} join, and where? (question {i} in {mode})"
            );
            let started = Instant::now();
            let reply = client
                .post(format!("{base}/query"))
                .header("LIGHTRAG-WORKSPACE", ws)
                .json(&json!({"query": question, "mode": mode}))
                .send()
                .await
                .unwrap();
            let status = reply.status();
            let body = reply.bytes().await.unwrap();
            assert!(
                status.is_success(),
                "{mode} query {i}: {status} {}",
                String::from_utf8_lossy(&body)
            );
            samples.push(started.elapsed());
        }
        let cpu = (cpu_ticks(pid) - cpu_before) as f64 / ticks;
        samples.sort();
        let at = |p: f64| samples[((samples.len() - 1) as f64 * p).round() as usize];
        println!(
            "/query {mode:<6} n={queries} p50={:.2?} p99={:.2?} server CPU {:.2} ms/query",
            at(0.5),
            at(0.99),
            cpu * 1000.0 / queries as f64
        );
    }
    server.stop();
}
