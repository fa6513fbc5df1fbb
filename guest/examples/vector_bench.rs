//! Times `VectorIndex::search` on a synthetic index — the scan over 8-bit codes with
//! exact re-ranking, or (`precision=f32`) the exact scan — and reports its recall@k
//! against an exact scan.
//!
//! The same source is built natively and for `wasm32-wasip2` (where the workspace's
//! `.cargo/config.toml` adds `+simd128`), so `host/benches/vectors.rs` can compare
//! the two; the checksum shows both builds found the same hits with the same scores.
//!
//! ```text
//! cargo run --release -p lightrag-engine --example vector_bench -- n=100000 dim=1024
//! ```
//!
//! Arguments are `key=value`: `n` (vectors, 20000), `dim` (1024), `queries` (50),
//! `top_k` (40), `threshold` (0.2), `seed` (1), `precision` (`int8` or `f32`). It
//! prints one line (wrapped here):
//!
//! ```text
//! vector_bench n=20000 dim=1024 queries=50 top_k=40 threshold=0.2 simd128=true hits=2000
//!     build_ms=… total_ms=… per_query_ms=… min_query_ms=… recall=… checksum=…
//! ```
//!
//! With `int8` the exact values are held apart, as the store holds them in the blob
//! file: in memory by default (the figure is the scan's and the re-ranking's compute),
//! or with `blobs=<dir>` in a real blob file in that directory (the figure includes
//! reading the candidates back, as a query does). `recall` is the share of the exact
//! top-k found.
//!
//! Only the searches are timed: `per_query_ms` is their mean, `min_query_ms` the
//! fastest one. The vectors mimic embeddings a little: each is a mix of a few shared
//! latent directions plus per-vector noise, so that cosine similarities spread around
//! the threshold and the top-k bookkeeping in `search` is exercised, not only the dot
//! products.

use lightrag_engine::payload::{BlobRef, BlobSource, Payload};
use lightrag_engine::store::Blobs;
use lightrag_engine::vectors::{Embedding, VectorIndex, dot, normalise};
use std::cell::RefCell;
use std::hint::black_box;
use std::path::Path;
use std::time::Instant;

/// Latent directions every vector is built from (besides its own noise).
const LATENT: usize = 16;

struct Settings {
    n: usize,
    dim: usize,
    queries: usize,
    top_k: usize,
    threshold: f32,
    seed: u64,
    exact_in_memory: bool,
    blob_dir: Option<String>,
}

impl Settings {
    fn from_args() -> Result<Settings, String> {
        let mut settings = Settings {
            n: 20_000,
            dim: 1024,
            queries: 50,
            top_k: 40,
            threshold: 0.2,
            seed: 1,
            exact_in_memory: false,
            blob_dir: None,
        };
        for arg in std::env::args().skip(1) {
            let (key, value) = arg
                .split_once('=')
                .ok_or_else(|| format!("expected key=value, got {arg:?}"))?;
            match key {
                "n" => settings.n = parse(key, value)?,
                "dim" => settings.dim = parse(key, value)?,
                "queries" => settings.queries = parse(key, value)?,
                "top_k" => settings.top_k = parse(key, value)?,
                "threshold" => settings.threshold = parse(key, value)?,
                "seed" => settings.seed = parse(key, value)?,
                "blobs" => settings.blob_dir = Some(value.to_string()),
                "precision" => {
                    settings.exact_in_memory = match value {
                        "f32" => true,
                        "int8" => false,
                        _ => return Err(format!("precision is int8 or f32, not {value:?}")),
                    }
                }
                _ => return Err(format!("unknown setting {key:?}")),
            }
        }
        if settings.n == 0 || settings.dim == 0 {
            return Err("n and dim must be positive".into());
        }
        Ok(settings)
    }
}

fn parse<T: std::str::FromStr>(key: &str, value: &str) -> Result<T, String> {
    value
        .parse()
        .map_err(|_| format!("bad value for {key}: {value:?}"))
}

/// Marsaglia's xorshift64: deterministic and identical on every target.
struct XorShift(u64);

impl XorShift {
    fn new(seed: u64) -> XorShift {
        // Any non-zero state works; mix the seed so small seeds differ a lot.
        XorShift(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }

    /// Uniform in [-1, 1), from the top 24 bits (exact in an `f32`).
    fn unit(&mut self) -> f32 {
        (self.next_u64() >> 40) as f32 / (1u32 << 23) as f32 - 1.0
    }
}

/// Makes vectors that share `LATENT` directions: a fixed weight on the first (the
/// common offset real embeddings have) and random weights on the others, plus noise.
struct Generator {
    dim: usize,
    basis: Vec<f32>,
}

impl Generator {
    fn new(dim: usize, rng: &mut XorShift) -> Generator {
        let basis = (0..LATENT * dim).map(|_| rng.unit()).collect();
        Generator { dim, basis }
    }

    fn fill(&self, rng: &mut XorShift, out: &mut [f32]) {
        for o in out.iter_mut() {
            *o = 2.0 * rng.unit();
        }
        for (k, direction) in self.basis.chunks_exact(self.dim).enumerate() {
            let weight = if k == 0 { 0.6 } else { rng.unit() };
            for (o, b) in out.iter_mut().zip(direction) {
                *o += weight * b;
            }
        }
    }
}

/// FNV-1a 64, fed with every hit's row and the exact bits of its score.
struct Checksum(u64);

impl Checksum {
    fn feed(&mut self, value: u64) {
        for byte in value.to_le_bytes() {
            self.0 ^= u64::from(byte);
            self.0 = self.0.wrapping_mul(0x0000_0100_0000_01B3);
        }
    }
}

fn main() {
    let settings = match Settings::from_args() {
        Ok(settings) => settings,
        Err(message) => {
            eprintln!("vector_bench: {message}");
            std::process::exit(2);
        }
    };
    let Settings {
        n,
        dim,
        queries,
        top_k,
        threshold,
        seed,
        exact_in_memory,
        blob_dir,
    } = settings;

    let started = Instant::now();
    let mut rng = XorShift::new(seed);
    let generator = Generator::new(dim, &mut rng);
    let mut index = VectorIndex::default();
    let mut vector = vec![0f32; dim];
    // Unit copies for the exact scan that recall is measured against.
    let mut exact: Vec<Vec<f32>> = Vec::with_capacity(n);
    for row in 0..n {
        generator.fill(&mut rng, &mut vector);
        index.upsert(&format!("v{row}"), Embedding::new(&vector));
        exact.push(normalise(&vector));
    }
    let memory = MemoryBlobs::default();
    let mut file = blob_dir.map(|dir| {
        // A fresh file per run.
        Blobs::remove_others(Path::new(&dir), u64::MAX);
        Blobs::open(Path::new(&dir), 0).expect("open the blob file")
    });
    if !exact_in_memory {
        match &mut file {
            Some(file) => {
                let moved = index.payloads(&mut |_, payload| {
                    if let Payload::Inline(bytes) = payload {
                        *payload = Payload::Stored(file.put(bytes)?);
                    }
                    Ok(())
                });
                moved
                    .and_then(|()| file.flush(true))
                    .expect("write the blob file");
            }
            None => memory.take_from(&mut index),
        }
    }
    let blobs: &dyn BlobSource = match &file {
        Some(file) => file,
        None => &memory,
    };
    let query_vectors: Vec<Vec<f32>> = (0..queries)
        .map(|_| {
            generator.fill(&mut rng, &mut vector);
            vector.clone()
        })
        .collect();
    let build_ms = started.elapsed().as_secs_f64() * 1e3;

    // The fastest single query is reported too: on a busy machine most queries are
    // preempted at some point, and the fastest one is the least disturbed.
    let mut fastest_ms = f64::INFINITY;
    let started = Instant::now();
    let results: Vec<Vec<(String, f32)>> = query_vectors
        .iter()
        .map(|query| {
            let query_started = Instant::now();
            let hits = index.search(black_box(query), top_k, threshold, blobs);
            fastest_ms = fastest_ms.min(query_started.elapsed().as_secs_f64() * 1e3);
            hits
        })
        .collect();
    let total_ms = started.elapsed().as_secs_f64() * 1e3;

    let (mut found, mut expected) = (0usize, 0usize);
    for (query, result) in query_vectors.iter().zip(&results) {
        let unit = normalise(query);
        let mut scores: Vec<(f32, usize)> = exact
            .iter()
            .enumerate()
            .map(|(row, v)| (dot(&unit, v), row))
            .filter(|(score, _)| *score >= threshold)
            .collect();
        scores.sort_by(|a, b| b.0.total_cmp(&a.0));
        scores.truncate(top_k);
        expected += scores.len();
        found += scores
            .iter()
            .filter(|(_, row)| result.iter().any(|(id, _)| id[1..] == row.to_string()))
            .count();
    }
    let recall = if expected == 0 {
        1.0
    } else {
        found as f64 / expected as f64
    };

    let mut checksum = Checksum(0xCBF2_9CE4_8422_2325);
    let mut hits = 0usize;
    for result in &results {
        checksum.feed(result.len() as u64);
        for (id, score) in result {
            let row: u64 = id[1..].parse().expect("ids are v<row>");
            checksum.feed(row);
            checksum.feed(u64::from(score.to_bits()));
            hits += 1;
        }
    }
    let per_query_ms = if queries == 0 {
        0.0
    } else {
        total_ms / queries as f64
    };
    println!(
        "vector_bench n={n} dim={dim} queries={queries} top_k={top_k} threshold={threshold} \
         simd128={} hits={hits} build_ms={build_ms:.1} total_ms={total_ms:.3} \
         per_query_ms={per_query_ms:.4} min_query_ms={fastest_ms:.4} recall={recall:.4} \
         checksum={:016x}",
        cfg!(target_feature = "simd128"),
        checksum.0,
    );
}

/// Exact values held apart from the index, standing in for the blob file.
#[derive(Default)]
struct MemoryBlobs(RefCell<Vec<Vec<u8>>>);

impl MemoryBlobs {
    fn take_from(&self, index: &mut VectorIndex) {
        let moved = index.payloads(&mut |_, payload| {
            if let Payload::Inline(bytes) = payload {
                let bytes = std::mem::take(bytes);
                let mut all = self.0.borrow_mut();
                *payload = Payload::Stored(BlobRef {
                    offset: all.len() as u64,
                    len: bytes.len() as u32,
                    crc: 0,
                });
                all.push(bytes);
            }
            Ok(())
        });
        moved.expect("moving values to memory cannot fail");
    }
}

impl BlobSource for MemoryBlobs {
    fn read(&self, blob: BlobRef) -> std::io::Result<Vec<u8>> {
        self.0
            .borrow()
            .get(blob.offset as usize)
            .cloned()
            .ok_or_else(|| std::io::Error::other("no such value"))
    }
}
