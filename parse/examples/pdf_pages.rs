//! PDF extraction throughput: builds a 100-page PDF (about 400 words a page, Flate-
//! compressed content, as real producers write) in memory with the crate's test PDF
//! writer, parses it `REPEATS` times (default 5) and prints the best run:
//!
//! `pages=100 best_ms=<f64> pages_per_s=<f64> chars=<n>`
//!
//! Runs natively (`cargo run -p lightrag-parse --example pdf_pages --release`) and as a
//! wasm32-wasip2 command (`cargo build -p lightrag-parse --example pdf_pages --target
//! wasm32-wasip2 --release`, then run the .wasm with a WASI runtime).

use std::time::Instant;

use lightrag_parse::testfiles::text_pdf;
use lightrag_parse::{Options, parse};

const PAGES: usize = 100;
const WORDS_PER_PAGE: usize = 400;
const WORDS_PER_LINE: usize = 12;

/// Deterministic pseudo-words from syllables (a fixed linear congruential sequence).
fn words(count: usize) -> Vec<String> {
    const SYLLABLES: &[&str] = &[
        "ka", "lo", "mi", "ren", "tor", "va", "qui", "sel", "dan", "or", "ith", "mar", "bel", "zu",
        "fen", "gal",
    ];
    let mut state: u64 = 0x2545_F491_4F6C_DD1D;
    (0..count)
        .map(|_| {
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            let syllables = 1 + (state >> 60) as usize % 3;
            (0..syllables)
                .map(|i| SYLLABLES[(state >> (8 * i + 8)) as usize % SYLLABLES.len()])
                .collect()
        })
        .collect()
}

fn main() {
    let repeats: usize = std::env::var("REPEATS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(5)
        .max(1);
    let all = words(PAGES * WORDS_PER_PAGE);
    let lines: Vec<Vec<String>> = all
        .chunks(WORDS_PER_PAGE)
        .map(|page| {
            page.chunks(WORDS_PER_LINE)
                .map(|line| line.join(" "))
                .collect()
        })
        .collect();
    let pages: Vec<Vec<&str>> = lines
        .iter()
        .map(|page| page.iter().map(String::as_str).collect())
        .collect();
    let pdf = text_pdf(&pages, true);

    let options = Options::default();
    let mut best = f64::INFINITY;
    let mut chars = 0;
    for _ in 0..repeats {
        let started = Instant::now();
        let parsed = match parse("bench.pdf", &pdf, &options) {
            Ok(parsed) => parsed,
            Err(e) => {
                eprintln!("parse failed: {e}");
                std::process::exit(1);
            }
        };
        best = best.min(started.elapsed().as_secs_f64() * 1000.0);
        chars = parsed.text.chars().count();
        assert_eq!(parsed.pages, Some(PAGES as u32));
    }
    println!(
        "pages={PAGES} best_ms={best:.3} pages_per_s={:.1} chars={chars}",
        PAGES as f64 / (best / 1000.0)
    );
}
