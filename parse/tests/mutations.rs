//! A small deterministic mutation run over every sample: thousands of damaged files
//! (bytes flipped, cut short, runs of delimiters inserted) must each come back as text
//! or as an error, never as a panic. Not a substitute for fuzzing, but it exercises the
//! error paths of the third-party parsers (lopdf, zip, quick-xml) the way damaged
//! uploads do.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::PathBuf;

use lightrag_parse::testfiles::{SAMPLES, text_pdf};
use lightrag_parse::{Options, parse};

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

fn mutate(input: &[u8], rng: &mut Rng) -> Vec<u8> {
    let mut bytes = input.to_vec();
    for _ in 0..1 + rng.below(4) {
        let at = rng.below(bytes.len());
        match rng.below(5) {
            0 => bytes[at] = rng.next() as u8,
            1 => bytes[at] ^= 1 << rng.below(8),
            2 => bytes.truncate(at.max(1)),
            3 => {
                let run = [b'[', b'(', b'<', b'{', b'\\', b'0'][rng.below(6)];
                let count = 1 + rng.below(64);
                bytes.splice(at..at, std::iter::repeat_n(run, count));
            }
            _ => {
                let end = (at + rng.below(32)).min(bytes.len());
                bytes.drain(at..end);
            }
        }
        if bytes.is_empty() {
            break;
        }
    }
    bytes
}

#[test]
fn damaged_samples_never_panic() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/files");
    let mut inputs: Vec<(String, Vec<u8>)> = SAMPLES
        .iter()
        .map(|(name, _)| (name.to_string(), std::fs::read(dir.join(name)).unwrap()))
        .collect();
    // Uncompressed PDF content, so mutations reach the content-stream interpreter.
    inputs.push((
        "plain.pdf".into(),
        text_pdf(&[vec!["Plain (text) here", "more"], vec!["two"]], false),
    ));
    let options = Options::default();
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    // MUTATION_ROUNDS raises the count for a longer local run.
    let rounds: usize = std::env::var("MUTATION_ROUNDS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(400);
    let mut panics = Vec::new();
    for (name, original) in &inputs {
        for round in 0..rounds {
            let damaged = mutate(original, &mut rng);
            if catch_unwind(AssertUnwindSafe(|| parse(name, &damaged, &options))).is_err() {
                panics.push(format!("{name} round {round}"));
            }
        }
    }
    assert!(
        panics.is_empty(),
        "{} panics, first: {:?}",
        panics.len(),
        &panics[..panics.len().min(20)]
    );
}
