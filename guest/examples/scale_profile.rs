//! The engine alone, natively, grown to `CHUNKS` chunks (default 5,000) with
//! scripted model replies: where its time and memory go as a workspace grows.
//!
//! ```text
//! cargo run --release -p lightrag-engine --example scale_profile
//! CHUNKS=20000 cargo run --release -p lightrag-engine --example scale_profile
//! ```
//!
//! `BREAKDOWN=1` prints each table's share of the heap; `PROFILE_QUERIES=<mode>` or
//! `PROFILE_OPEN=1` repeat that mode's queries, or reopening, at the last step, for a
//! profiler.
//!
//! Replies are what the benchmarks' mock model server answers — capitalised runs are
//! entities, names in one sentence are related; embeddings are a hashed bag of words
//! of 1024 dimensions — so the numbers line up with `host/benches/scale.rs`, minus the
//! host, the HTTP and the wasm runtime. Memory is the engine's live heap (a counting
//! allocator), per chunk.

// The counting allocator below is the only unsafe code: it forwards to the system one.
#![allow(unsafe_code)]

#[path = "../../tests/corpus/scale.rs"]
mod corpus;

use lightrag_engine::Workspace;
use lightrag_engine::documents;
use lightrag_engine::wit::{
    Config, NewDocument, NumberedReply, Purpose, QueryMode, QueryParams, RawInput, Reply, Request,
    SourceIdsLimit, Step, Task,
};
use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// Counts the bytes the engine holds.
struct Counting;
static LIVE: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LIVE.fetch_add(layout.size(), Ordering::Relaxed);
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        LIVE.fetch_add(new_size, Ordering::Relaxed);
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

const DIM: usize = 1024;

fn config() -> Config {
    Config {
        workspace: "profile".into(),
        chunk_size: 1200,
        chunk_overlap: 100,
        cosine_threshold: 0.2,
        top_k: 40,
        chunk_top_k: 20,
        max_entity_tokens: 6000,
        max_relation_tokens: 8000,
        max_total_tokens: 30000,
        enable_llm_cache: true,
        enable_llm_cache_for_extract: true,
        max_parallel_insert: 3,
        summary_language: "English".into(),
        entity_types: vec!["person".into(), "organization".into(), "location".into()],
        max_gleaning: 0,
        force_llm_summary_on_merge: 8,
        summary_max_tokens: 1200,
        summary_context_size: 12000,
        summary_length_recommended: 600,
        related_chunk_number: 5,
        llm_identity: "scripted".into(),
        embedding_identity: "scripted/1024".into(),
        embedding_dim: DIM as u32,
        min_rerank_score: 0.0,
        disk_quota_bytes: 0,
        query_cache_bytes: 32 << 20,
        max_source_ids_per_entity: 200,
        max_source_ids_per_relation: 200,
        source_ids_limit: SourceIdsLimit::Keep,
        max_file_paths: 75,
        memory_limit_bytes: 0,
        exact_vectors: false,
        pdf_decrypt_password: None,
    }
}

/// Runs of capitalised words.
fn names(sentence: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut run: Vec<&str> = Vec::new();
    for word in sentence.split_whitespace() {
        let word = word.trim_matches(|c: char| !c.is_alphanumeric());
        if word.starts_with(|c: char| c.is_uppercase()) {
            run.push(word);
        } else if !run.is_empty() {
            out.push(run.join(" "));
            run.clear();
        }
    }
    if !run.is_empty() {
        out.push(run.join(" "));
    }
    out
}

fn extraction(text: &str) -> String {
    let mut lines = Vec::new();
    let mut seen = std::collections::BTreeSet::new();
    for sentence in text.split('.').map(str::trim).filter(|s| !s.is_empty()) {
        let names = names(sentence);
        for name in &names {
            if seen.insert(name.clone()) {
                lines.push(format!(
                    "entity<|#|>{name}<|#|>person<|#|>{name} appears in: {sentence}."
                ));
            }
        }
        for (i, a) in names.iter().enumerate() {
            for b in &names[i + 1..] {
                lines.push(format!("relation<|#|>{a}<|#|>{b}<|#|>met<|#|>{sentence}."));
            }
        }
    }
    lines.push("<|COMPLETE|>".into());
    lines.join("\n")
}

fn vector(text: &str) -> Vec<f32> {
    let mut v = vec![0f32; DIM];
    for word in text
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
    {
        let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
        for byte in word.to_lowercase().bytes() {
            hash ^= u64::from(byte);
            hash = hash.wrapping_mul(0x0100_0000_01b3);
        }
        v[(hash % DIM as u64) as usize] += if hash >> 63 == 0 { 1.0 } else { -1.0 };
    }
    v[0] += 1.0;
    v
}

fn respond(request: &Request) -> Reply {
    match request {
        Request::Embed(e) => Reply::Embedding(Ok(e.texts.iter().map(|t| vector(t)).collect())),
        Request::Complete(c) => Reply::Completion(Ok(match (&c.purpose, &c.input) {
            (Purpose::Extract, RawInput::Chunk(chunk)) => extraction(chunk),
            (Purpose::Glean, _) => "<|COMPLETE|>".into(),
            (Purpose::Summary, RawInput::Descriptions(d)) => {
                format!("Summary of {}: {}", d.name, d.fragments[0])
            }
            (Purpose::Keywords, RawInput::Query(q)) => {
                let low: Vec<String> = names(q);
                serde_json::json!({"high_level_keywords": ["ledger"], "low_level_keywords": low})
                    .to_string()
            }
            _ => "ok".into(),
        })),
        Request::Rerank(r) => Reply::Ranking(Ok(vec![0.5; r.documents.len()])),
    }
}

fn run(workspace: &mut Workspace, task: Task) -> Duration {
    let started = Instant::now();
    let (id, mut progress) = workspace.start(task);
    loop {
        match progress.step {
            Step::Done(_) => return started.elapsed(),
            Step::Failed(err) => panic!("task failed: {err:?}"),
            Step::Pending(requests) => {
                let replies: Vec<NumberedReply> = requests
                    .iter()
                    .map(|r| NumberedReply {
                        id: r.id,
                        reply: respond(&r.request),
                    })
                    .collect();
                progress = workspace.resume(id, replies);
            }
        }
    }
}

fn query(question: String, mode: QueryMode) -> Task {
    Task::Query(QueryParams {
        query: question,
        mode,
        only_need_context: true,
        only_need_prompt: false,
        response_type: String::new(),
        top_k: None,
        chunk_top_k: None,
        max_entity_tokens: None,
        max_relation_tokens: None,
        max_total_tokens: None,
        hl_keywords: Vec::new(),
        ll_keywords: Vec::new(),
        conversation_history: Vec::new(),
        user_prompt: None,
        stream: false,
        include_chunk_content: false,
        data_only: false,
        enable_rerank: false,
    })
}

fn main() {
    let chunks: usize = std::env::var("CHUNKS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(5000);
    let dir = tempfile::tempdir().unwrap();
    let cast = corpus::cast();
    let (mut workspace, _) = Workspace::open(config(), dir.path(), None, None).unwrap();
    println!(
        "| chunks | ingest ms/doc | naive | local | global | hybrid | mix | open ms | heap MiB | heap KiB/chunk | disk MiB |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|---|");
    let mut stored = 0;
    for step in [500, 1000, 2500, 5000, 10_000, 20_000, 40_000] {
        if step > chunks {
            break;
        }
        let mut ingest = Duration::ZERO;
        for batch in (stored..step).collect::<Vec<_>>().chunks(50) {
            let docs: Vec<NewDocument> = batch
                .iter()
                .map(|&i| NewDocument {
                    content: corpus::document(i, &cast),
                    file_path: format!("report-{i:05}.txt"),
                })
                .collect();
            let started = Instant::now();
            documents::enqueue(workspace.shared(), docs, "bench", false).unwrap();
            ingest += started.elapsed() + run(&mut workspace, Task::ProcessDocuments);
        }
        let per_doc = ingest.as_secs_f64() * 1000.0 / (step - stored) as f64;
        stored = step;
        let mut cells = Vec::new();
        for mode in [
            QueryMode::Naive,
            QueryMode::Local,
            QueryMode::Global,
            QueryMode::Hybrid,
            QueryMode::Mix,
        ] {
            let mut samples: Vec<Duration> = (0..20)
                .map(|q| {
                    let who = &cast[(q * 13 + step) % 60];
                    run(
                        &mut workspace,
                        query(format!("What did {who} sign? ({step} {q} {mode:?})"), mode),
                    )
                })
                .collect();
            samples.sort();
            cells.push(format!("{:.2}", samples[10].as_secs_f64() * 1000.0));
        }
        if let Ok(mode) = std::env::var("PROFILE_QUERIES")
            && step >= chunks
        {
            // Repeat one mode's queries at the last step, for a profiler.
            eprintln!("profiling {mode} queries");
            let mode = match mode.as_str() {
                "naive" => QueryMode::Naive,
                "global" => QueryMode::Global,
                "hybrid" => QueryMode::Hybrid,
                "mix" => QueryMode::Mix,
                _ => QueryMode::Local,
            };
            for q in 0..3000 {
                let who = &cast[q % 60];
                run(
                    &mut workspace,
                    query(format!("What did {who} sign? (profile {q})"), mode),
                );
            }
            return;
        }
        workspace.finalize().unwrap();
        drop(workspace);
        if std::env::var("PROFILE_OPEN").is_ok() && step >= chunks {
            // Reopen the grown workspace over and over, for a profiler.
            eprintln!("profiling opens");
            for _ in 0..300 {
                drop(Workspace::open(config(), dir.path(), None, None).unwrap());
            }
            return;
        }
        let heap_before = LIVE.load(Ordering::Relaxed);
        let started = Instant::now();
        workspace = Workspace::open(config(), dir.path(), None, None).unwrap().0;
        let open = started.elapsed();
        let heap = LIVE.load(Ordering::Relaxed) - heap_before;
        let disk: u64 = std::fs::read_dir(dir.path())
            .unwrap()
            .flatten()
            .filter_map(|e| e.metadata().ok())
            .map(|m| m.len())
            .sum();
        if std::env::var("BREAKDOWN").is_ok() {
            breakdown(&workspace, step);
        }
        println!(
            "| {step} | {per_doc:.2} | {} | {:.0} | {:.1} | {:.1} | {:.1} |",
            cells.join(" | "),
            open.as_secs_f64() * 1000.0,
            heap as f64 / (1 << 20) as f64,
            heap as f64 / 1024.0 / step as f64,
            disk as f64 / (1 << 20) as f64,
        );
    }
}

/// Bytes a clone of `value` allocates: close to what the original holds.
fn heap_of<T: Clone>(value: &T) -> usize {
    let before = LIVE.load(Ordering::Relaxed);
    let copy = value.clone();
    let bytes = LIVE.load(Ordering::Relaxed) - before;
    drop(copy);
    bytes
}

/// Where the heap goes, table by table, per chunk.
fn breakdown(workspace: &Workspace, step: usize) {
    let store = workspace.shared().store.borrow();
    let s = store.state();
    let per = |bytes: usize| bytes as f64 / 1024.0 / step as f64;
    let rows = [
        ("docs", heap_of(&s.docs)),
        ("status", heap_of(&s.status)),
        ("chunks", heap_of(&s.chunks)),
        ("chunk_vectors", heap_of(&s.chunk_vectors)),
        ("cache", heap_of(&s.cache)),
        ("graph", heap_of(&s.graph)),
        ("entity_vectors", heap_of(&s.entity_vectors)),
        ("relation_vectors", heap_of(&s.relation_vectors)),
        ("entity_chunks", heap_of(&s.entity_chunks)),
        ("relation_chunks", heap_of(&s.relation_chunks)),
        ("doc_graph", heap_of(&s.doc_graph)),
        ("by_content_hash", heap_of(&s.by_content_hash)),
        ("entity_of_vector", heap_of(&s.entity_of_vector)),
        ("relation_of_vector", heap_of(&s.relation_of_vector)),
    ];
    for (name, bytes) in rows {
        eprintln!("  {name:<20} {:>8.2} KiB/chunk", per(bytes));
    }
    eprintln!(
        "  nodes {} edges {} relation vectors {}",
        s.graph.node_count(),
        s.graph.edge_count(),
        s.relation_vectors.len()
    );
}
