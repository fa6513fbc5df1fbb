//! PDF parsing inside the sandbox against the same crate natively (not a test: it
//! prints numbers). The target is a wasm/native time ratio of at most 1.5.
//!
//! ```text
//! cargo bench -p lightrag-server --bench parse
//! ```
//!
//! Builds `parse/examples/pdf_pages.rs` (a 100-page PDF made in memory, parsed
//! several times, the best time printed) natively and for `wasm32-wasip2` in
//! `target/parse-bench` (see `wasm_example`), runs each side `BENCH_REPEATS` times
//! (the wasm one under wasmtime with the server's settings, epoch checks on, and
//! again with them off, to show what they cost), and reports pages per second of
//! each and their ratio. Both must extract the same
//! number of characters.

mod wasm_example;

use std::collections::HashMap;
use wasm_example::Guest;

const EXAMPLE: &str = "pdf_pages";

/// The `key=value` fields of the example's output line.
fn fields(output: &str) -> HashMap<String, String> {
    let line = output
        .lines()
        .find(|l| l.starts_with("pages="))
        .unwrap_or_else(|| panic!("no result line in {output:?}"));
    line.split_whitespace()
        .filter_map(|field| field.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// Best milliseconds per parse, and characters extracted.
fn result(output: &str) -> (f64, String, f64) {
    let fields = fields(output);
    let ms = fields["best_ms"].parse().expect("a number");
    let pages = fields["pages"].parse().expect("a number");
    (ms, fields["chars"].clone(), pages)
}

#[tokio::main]
async fn main() {
    let repeats = std::env::var("BENCH_REPEATS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3usize)
        .max(1);
    let target_dir = wasm_example::target_dir("parse-bench");
    println!(
        "building the {EXAMPLE} example (release) in {}",
        target_dir.display()
    );
    let native = wasm_example::build("lightrag-parse", EXAMPLE, &target_dir, None);
    let wasm = wasm_example::build(
        "lightrag-parse",
        EXAMPLE,
        &target_dir,
        Some("wasm32-wasip2"),
    );
    let guest = Guest::new(&wasm, true);
    let no_epochs = Guest::new(&wasm, false);
    let (mut best_native, mut best_wasm, mut best_plain) =
        (f64::INFINITY, f64::INFINITY, f64::INFINITY);
    let mut pages = 0.0;
    for repeat in 1..=repeats {
        let (native_ms, native_chars, n) = result(&wasm_example::run_native(&native, &[]));
        let (wasm_ms, wasm_chars, _) = result(&guest.run(&[], None).await);
        let (plain_ms, _, _) = result(&no_epochs.run(&[], None).await);
        best_plain = best_plain.min(plain_ms);
        assert_eq!(
            native_chars, wasm_chars,
            "the builds extract different text"
        );
        pages = n;
        best_native = best_native.min(native_ms);
        best_wasm = best_wasm.min(wasm_ms);
        println!(
            "  run {repeat}: native {native_ms:.1} ms, wasm {wasm_ms:.1} ms (epochs off \
             {plain_ms:.1} ms), {native_chars} characters"
        );
    }
    println!(
        "{pages} pages: native {:.0} pages/s, wasm {:.0} pages/s, wasm/native time {:.2} \
         ({:.2} without epoch checks)",
        pages * 1000.0 / best_native,
        pages * 1000.0 / best_wasm,
        best_wasm / best_native,
        best_plain / best_native
    );
}
