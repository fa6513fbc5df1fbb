//! Vector search in the guest against the same code natively (not a test: it prints
//! numbers). The acceptance criterion is a wasm/native ratio of at most 1.2.
//!
//! ```text
//! cargo bench -p lightrag-server --bench vectors
//! BENCH_N=100000 BENCH_DIM=1024 BENCH_QUERIES=50 BENCH_REPEATS=3 cargo bench -p lightrag-server --bench vectors
//! BENCH_BLOBS=file BENCH_TOP_K=20 cargo bench -p lightrag-server --bench vectors
//! ```
//!
//! The search scans 8-bit codes and re-ranks its candidates with their exact values;
//! by default those are in memory, with `BENCH_BLOBS=file` they are in a blob file
//! (a preopened directory for the wasm side, as in the server), so the figures include
//! reading them back. `BENCH_PRECISION=f32` scans exact values instead.
//!
//! Builds `guest/examples/vector_bench.rs` natively and for `wasm32-wasip2` in
//! `target/vector-bench` (see `wasm_example`). Then, alternating the two sides, it runs the
//! native binary as a process and the wasm one in this process as a WASI command
//! under wasmtime, each `BENCH_REPEATS` times, and reports the best per-query time of
//! each side and their ratio. The checksums of the search results must agree.
//!
//! The wasm side runs twice per repeat: with the server's engine settings (epoch
//! interruption on, which adds a check to every loop back-edge) and with epoch
//! interruption off, to show what that check costs.

mod wasm_example;

use std::collections::HashMap;
use wasm_example::Guest;

const EXAMPLE: &str = "vector_bench";

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// The `key=value` fields of the example's output line.
fn parse_line(output: &str) -> HashMap<String, String> {
    let line = output
        .lines()
        .find(|l| l.starts_with("vector_bench "))
        .unwrap_or_else(|| panic!("no result line in {output:?}"));
    line.split_whitespace()
        .skip(1)
        .filter_map(|field| field.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

struct Run {
    per_query_ms: f64,
    min_query_ms: f64,
    checksum: String,
    simd128: bool,
    hits: String,
}

impl Run {
    fn from_output(output: &str) -> Run {
        let fields = parse_line(output);
        let field = |k: &str| {
            fields
                .get(k)
                .unwrap_or_else(|| panic!("no {k} in {output:?}"))
                .clone()
        };
        Run {
            per_query_ms: field("per_query_ms").parse().expect("a number"),
            min_query_ms: field("min_query_ms").parse().expect("a number"),
            checksum: field("checksum"),
            simd128: field("simd128") == "true",
            hits: field("hits"),
        }
    }
}

#[tokio::main]
async fn main() {
    let n = env_usize("BENCH_N", 20_000);
    let dim = env_usize("BENCH_DIM", 1024);
    let queries = env_usize("BENCH_QUERIES", 50);
    let repeats = env_usize("BENCH_REPEATS", 3).max(1);
    let mut args = vec![
        format!("n={n}"),
        format!("dim={dim}"),
        format!("queries={queries}"),
        format!("top_k={}", env_usize("BENCH_TOP_K", 40)),
    ];
    if let Ok(precision) = std::env::var("BENCH_PRECISION") {
        args.push(format!("precision={precision}"));
    }
    let blob_dir = (std::env::var("BENCH_BLOBS").as_deref() == Ok("file"))
        .then(|| tempfile::tempdir().expect("a temporary directory"));
    let blobs = blob_dir.as_ref().map(|d| d.path());
    let mut native_args = args.clone();
    if let Some(dir) = blobs {
        native_args.push(format!("blobs={}", dir.display()));
    }

    let target_dir = wasm_example::target_dir("vector-bench");
    println!(
        "building the {EXAMPLE} example (release) in {}",
        target_dir.display()
    );
    let native = wasm_example::build("lightrag-engine", EXAMPLE, &target_dir, None);
    let wasm = wasm_example::build(
        "lightrag-engine",
        EXAMPLE,
        &target_dir,
        Some("wasm32-wasip2"),
    );
    let server_like = Guest::new(&wasm, true);
    let no_epochs = Guest::new(&wasm, false);

    println!(
        "{}, threshold=0.2, best of {repeats}",
        native_args.join(" ")
    );
    // Per side (native, wasm as the server runs it, wasm without epoch checks): the
    // best mean per query of a run, and the fastest single query of all runs.
    let mut best = [(f64::INFINITY, f64::INFINITY); 3];
    // The checksum and hit count of the first native run: every run must match them.
    let mut reference: Option<(String, String)> = None;
    for repeat in 1..=repeats {
        let mut wasm_args = args.clone();
        if blobs.is_some() {
            wasm_args.push("blobs=/blobs".into());
        }
        let preopen = blobs.map(|dir| (dir, "/blobs"));
        let runs = [
            Run::from_output(&wasm_example::run_native(&native, &native_args)),
            Run::from_output(&server_like.run(&wasm_args, preopen).await),
            Run::from_output(&no_epochs.run(&wasm_args, preopen).await),
        ];
        assert!(
            runs[1].simd128 && runs[2].simd128,
            "the wasm example was built without +simd128: is .cargo/config.toml applied?"
        );
        let expected =
            reference.get_or_insert_with(|| (runs[0].checksum.clone(), runs[0].hits.clone()));
        for (run, best) in runs.iter().zip(&mut best) {
            assert_eq!(
                (&run.checksum, &run.hits),
                (&expected.0, &expected.1),
                "the builds disagree on the search results"
            );
            best.0 = best.0.min(run.per_query_ms);
            best.1 = best.1.min(run.min_query_ms);
        }
        println!(
            "  run {repeat}: native {:.3} ms/query, wasm {:.3} ms/query (epochs on), {:.3} ms/query (epochs off)",
            runs[0].per_query_ms, runs[1].per_query_ms, runs[2].per_query_ms
        );
    }
    let (checksum, hits) = reference.expect("at least one repeat");
    println!("checksums agree ({checksum}, {hits} hits)");
    println!(
        "{:<24}{:>22}{:>22}",
        "", "best mean ms/query", "fastest query ms"
    );
    let [native, wasm, wasm_no_epochs] = best;
    for (name, (mean, fastest)) in [
        ("native", native),
        ("wasm, server config", wasm),
        ("wasm, epoch checks off", wasm_no_epochs),
    ] {
        println!(
            "{name:<24}{mean:>14.3} ({:>4.2}x){fastest:>14.3} ({:>4.2}x)",
            mean / native.0,
            fastest / native.1
        );
    }
    let verdict = if wasm.0 / native.0 <= 1.2 {
        "within"
    } else {
        "NOT within"
    };
    println!("wasm search time is {verdict} 1.2x of native (server config)");
}
