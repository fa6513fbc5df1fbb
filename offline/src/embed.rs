//! The built-in embedding model: pocket-encoder's bundled paraphrase-MiniLM-L3-v2
//! (384 dimensions), so that indexing and retrieval work with no network and no key.
//!
//! The model reads at most 128 WordPiece tokens (special tokens included) and drops
//! the rest, while LightRAG chunks run to 1200 tokens. A long text is therefore cut
//! into overlapping word windows of [`WINDOW_WORDS`] words every [`STRIDE_WORDS`]
//! words (the last window is aligned to the end of the text), every window is
//! embedded, and the text's vector is the L2-normalised mean of its windows.
//!
//! Why 80 words with a stride of 60: English averages about 1.3 WordPiece tokens per
//! word, so 80 words are about 104 tokens, which fits the 126 content tokens with room
//! for rarer words; the 20-word overlap lets a sentence cut by one window boundary
//! appear whole in the neighbouring window. A 1200-token chunk (about 900 words)
//! becomes about 15 windows. Texts of more than [`MAX_WINDOWS_PER_TEXT`] windows
//! (about 3800 words, far beyond any chunk) use that many windows spread evenly over
//! the text, which bounds the cost of pathological inputs.
//!
//! Blank texts (empty or only whitespace) get the zero vector: the model rejects them,
//! and a zero vector has cosine similarity 0 with everything, so it matches nothing.

use pocket_encoder::Encoder;

/// Words per window.
pub const WINDOW_WORDS: usize = 80;
/// Words between the starts of consecutive windows.
pub const STRIDE_WORDS: usize = 60;
/// Most windows embedded for one text.
pub const MAX_WINDOWS_PER_TEXT: usize = 64;
/// Windows are cut to this many bytes; the model only reads the first 128 tokens, so
/// this only bounds tokenizer work on absurdly long "words".
const MAX_WINDOW_BYTES: usize = 2048;
/// pocket-encoder's limits for one `embed` call.
const MAX_BATCH_INPUTS: usize = 4096;
const MAX_BATCH_BYTES: usize = 4 * 1024 * 1024;

/// The offline embedding model. Cloning is cheap: the weights are loaded once per
/// process and shared.
#[derive(Clone)]
pub struct OfflineEmbedder {
    encoder: Encoder,
}

impl std::fmt::Debug for OfflineEmbedder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OfflineEmbedder")
            .field("identity", &Self::identity())
            .finish()
    }
}

impl OfflineEmbedder {
    /// Dimension of every vector.
    pub const DIM: usize = 384;

    /// Loads the bundled weights (once per process; later calls share them). No file
    /// or network I/O.
    pub fn new() -> Result<Self, String> {
        Encoder::new()
            .map(|encoder| OfflineEmbedder { encoder })
            .map_err(|e| format!("offline embedding model failed to load: {e}"))
    }

    /// Stable identity of the vector space: model id, weight revision and dimension,
    /// e.g. `offline/pocket-encoder/minilm-l3-q4-g32-v1@sha256:…/384`. Vectors with a
    /// different identity must not be compared with these.
    pub fn identity() -> String {
        let info = pocket_encoder::model_info();
        format!("offline/{}@{}/{}", info.id, info.revision, info.dimensions)
    }

    /// One L2-normalised vector of [`Self::DIM`] floats per text, in order; the zero
    /// vector for a blank text. CPU-heavy (milliseconds per window): run it on a
    /// blocking thread.
    pub fn embed(&self, texts: &[String]) -> Result<Vec<Vec<f32>>, String> {
        let mut inputs: Vec<String> = Vec::new();
        let mut spans = Vec::with_capacity(texts.len());
        for text in texts {
            let text_windows = windows(text);
            spans.push(inputs.len()..inputs.len() + text_windows.len());
            inputs.extend(text_windows);
        }
        let vectors = self.encode_batched(&inputs)?;
        spans
            .into_iter()
            .map(|span| mean_normalised(&vectors[span]))
            .collect()
    }

    /// Embeds `inputs` in as few calls as pocket-encoder's limits allow.
    fn encode_batched(&self, inputs: &[String]) -> Result<Vec<Vec<f32>>, String> {
        let mut out = Vec::with_capacity(inputs.len());
        let mut begin = 0;
        while begin < inputs.len() {
            let end = batch_end(inputs, begin);
            let vectors = self
                .encoder
                .embed(&inputs[begin..end])
                .map_err(|e| format!("offline embedding failed: {e}"))?;
            if vectors.len() != end - begin || vectors.iter().any(|v| v.len() != Self::DIM) {
                return Err("offline embedding returned vectors of the wrong shape".to_string());
            }
            out.extend(vectors);
            begin = end;
        }
        Ok(out)
    }
}

/// End of the batch starting at `begin`: at most 4096 inputs and 4 MiB. Every input is
/// at most [`MAX_WINDOW_BYTES`], so a batch always holds at least one.
fn batch_end(inputs: &[String], begin: usize) -> usize {
    let mut end = begin;
    let mut bytes = 0;
    while end < inputs.len()
        && end - begin < MAX_BATCH_INPUTS
        && (end == begin || bytes + inputs[end].len() <= MAX_BATCH_BYTES)
    {
        bytes += inputs[end].len();
        end += 1;
    }
    end
}

/// The windows of `text` to embed: none for a blank text, the whole text when it has
/// at most [`WINDOW_WORDS`] words, else overlapping word windows.
pub(crate) fn windows(text: &str) -> Vec<String> {
    let words: Vec<&str> = text.split_whitespace().collect();
    if words.is_empty() {
        return Vec::new();
    }
    if words.len() <= WINDOW_WORDS {
        return vec![cap_bytes(words.join(" "))];
    }
    let last_start = words.len() - WINDOW_WORDS;
    let mut starts: Vec<usize> = (0..last_start).step_by(STRIDE_WORDS).collect();
    starts.push(last_start);
    spread(&starts, MAX_WINDOWS_PER_TEXT)
        .into_iter()
        .map(|start| cap_bytes(words[start..start + WINDOW_WORDS].join(" ")))
        .collect()
}

/// At most `max` items of `items`, evenly spaced, first and last included.
fn spread(items: &[usize], max: usize) -> Vec<usize> {
    if items.len() <= max || max < 2 {
        return items.iter().copied().take(max.max(1)).collect();
    }
    (0..max)
        .map(|i| items[i * (items.len() - 1) / (max - 1)])
        .collect()
}

/// `text` cut to at most [`MAX_WINDOW_BYTES`] bytes on a char boundary.
fn cap_bytes(mut text: String) -> String {
    if text.len() > MAX_WINDOW_BYTES {
        let mut cut = MAX_WINDOW_BYTES;
        while !text.is_char_boundary(cut) {
            cut -= 1;
        }
        text.truncate(cut);
    }
    text
}

/// The L2-normalised mean of `vectors`; the zero vector when there are none.
fn mean_normalised(vectors: &[Vec<f32>]) -> Result<Vec<f32>, String> {
    let mut sum = vec![0f64; OfflineEmbedder::DIM];
    for vector in vectors {
        for (total, value) in sum.iter_mut().zip(vector) {
            *total += f64::from(*value);
        }
    }
    let norm = sum.iter().map(|v| v * v).sum::<f64>().sqrt();
    if !norm.is_finite() {
        return Err("offline embedding produced a non-finite vector".to_string());
    }
    if norm == 0.0 {
        return Ok(vec![0.0; OfflineEmbedder::DIM]);
    }
    Ok(sum.into_iter().map(|v| (v / norm) as f32).collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Instant;

    fn embedder() -> OfflineEmbedder {
        OfflineEmbedder::new().expect("bundled model loads")
    }

    fn cosine(a: &[f32], b: &[f32]) -> f32 {
        a.iter().zip(b).map(|(x, y)| x * y).sum()
    }

    fn norm(v: &[f32]) -> f32 {
        v.iter().map(|x| x * x).sum::<f32>().sqrt()
    }

    fn strings(texts: &[&str]) -> Vec<String> {
        texts.iter().map(|t| t.to_string()).collect()
    }

    #[test]
    fn identity_names_model_revision_and_dimension() {
        let id = OfflineEmbedder::identity();
        assert!(id.starts_with("offline/pocket-encoder/"), "{id}");
        assert!(id.contains("@sha256:"), "{id}");
        assert!(id.ends_with("/384"), "{id}");
        assert_eq!(
            pocket_encoder::model_info().dimensions,
            OfflineEmbedder::DIM
        );
    }

    #[test]
    fn vectors_have_dimension_384_and_unit_norm() {
        let vectors = embedder()
            .embed(&strings(&["Send a document", "héllo wörld ✓"]))
            .unwrap();
        assert_eq!(vectors.len(), 2);
        for v in &vectors {
            assert_eq!(v.len(), OfflineEmbedder::DIM);
            assert!((norm(v) - 1.0).abs() < 1e-4, "norm {}", norm(v));
        }
    }

    #[test]
    fn paraphrases_score_higher_than_unrelated_text() {
        let texts = strings(&[
            "A man is playing a guitar on stage.",
            "Someone performs music with a guitar in front of an audience.",
            "Quarterly tax filings are due at the end of the month.",
        ]);
        let v = embedder().embed(&texts).unwrap();
        let related = cosine(&v[0], &v[1]);
        let unrelated = cosine(&v[0], &v[2]);
        assert!(
            related > unrelated + 0.1,
            "related {related} vs unrelated {unrelated}"
        );
    }

    #[test]
    fn long_text_is_embedded_by_windows_and_keeps_its_topic() {
        let sentence =
            "Whales are marine mammals that migrate across the ocean to feed and breed. ";
        let long = sentence.repeat(2000 / 13 + 1);
        assert!(long.split_whitespace().count() >= 2000);
        let texts = vec![
            long,
            "whales swimming in the sea".into(),
            "compiling programs in a language".into(),
        ];
        let v = embedder().embed(&texts).unwrap();
        assert!((norm(&v[0]) - 1.0).abs() < 1e-4);
        assert!(cosine(&v[0], &v[1]) > cosine(&v[0], &v[2]) + 0.1);
    }

    #[test]
    fn blank_text_gets_the_zero_vector() {
        let v = embedder()
            .embed(&strings(&["", "   \n\t ", "real text"]))
            .unwrap();
        assert!(v[0].iter().all(|x| *x == 0.0) && v[0].len() == OfflineEmbedder::DIM);
        assert!(v[1].iter().all(|x| *x == 0.0) && v[1].len() == OfflineEmbedder::DIM);
        assert!((norm(&v[2]) - 1.0).abs() < 1e-4);
        assert!(embedder().embed(&[]).unwrap().is_empty());
    }

    #[test]
    fn odd_but_non_blank_text_does_not_fail() {
        let odd = strings(&["\u{0}", "\u{200B}", "<|#|>", "🙂🙂", &"x".repeat(100_000)]);
        let v = embedder().embed(&odd).unwrap();
        assert_eq!(v.len(), odd.len());
        for vector in v {
            assert_eq!(vector.len(), OfflineEmbedder::DIM);
            assert!(vector.iter().all(|x| x.is_finite()));
        }
    }

    #[test]
    fn order_is_preserved() {
        let e = embedder();
        let a = "The cat sat on the mat.".to_string();
        let b = "Interest rates rose again this quarter.".to_string();
        let forward = e.embed(&[a.clone(), b.clone()]).unwrap();
        let backward = e.embed(&[b, a]).unwrap();
        assert!(cosine(&forward[0], &backward[1]) > 0.9999);
        assert!(cosine(&forward[1], &backward[0]) > 0.9999);
        assert!(cosine(&forward[0], &forward[1]) < 0.9);
    }

    #[test]
    fn windows_cover_the_text_with_overlap() {
        assert!(windows("  \n ").is_empty());
        assert_eq!(windows("one two  three"), vec!["one two three"]);
        let words: Vec<String> = (0..2000).map(|i| format!("w{i}")).collect();
        let got = windows(&words.join(" "));
        assert_eq!(got.len(), 33);
        assert!(got[0].starts_with("w0 ") && got[0].ends_with(" w79"));
        assert!(got[1].starts_with("w60 "));
        assert!(got.last().unwrap().ends_with(" w1999"));
        assert!(got.iter().all(|w| w.split(' ').count() == WINDOW_WORDS));
    }

    #[test]
    fn huge_texts_are_capped_and_batches_respect_limits() {
        let words: Vec<String> = (0..100_000).map(|i| format!("w{i}")).collect();
        let got = windows(&words.join(" "));
        assert_eq!(got.len(), MAX_WINDOWS_PER_TEXT);
        assert!(got.last().unwrap().ends_with(" w99999"));
        let long_word = windows(&"é".repeat(10_000));
        assert_eq!(long_word.len(), 1);
        assert!(long_word[0].len() <= MAX_WINDOW_BYTES);
        let inputs: Vec<String> = (0..5000).map(|_| "y".repeat(MAX_WINDOW_BYTES)).collect();
        let first = batch_end(&inputs, 0);
        assert_eq!(first, MAX_BATCH_BYTES / MAX_WINDOW_BYTES);
        assert!(first <= MAX_BATCH_INPUTS);
        let small: Vec<String> = (0..5000).map(|_| "y".into()).collect();
        assert_eq!(batch_end(&small, 0), MAX_BATCH_INPUTS);
        assert_eq!(batch_end(&small, MAX_BATCH_INPUTS), 5000);
    }

    /// Throughput probe: `cargo test --release -- --ignored --nocapture throughput`.
    #[test]
    #[ignore = "timing probe, run by hand"]
    fn throughput() {
        let e = embedder();
        let chunk_words: Vec<&str> =
            "Marie Curie was a physicist and chemist who conducted pioneering \
                                      research on radioactivity and won two Nobel Prizes"
                .split(' ')
                .collect();
        let chunk: String = (0..900)
            .map(|i| chunk_words[i % chunk_words.len()])
            .collect::<Vec<_>>()
            .join(" ");
        let chunks = vec![chunk; 8];
        let started = Instant::now();
        e.embed(&chunks).unwrap();
        let per_chunk = started.elapsed().as_secs_f64() / chunks.len() as f64;
        let queries: Vec<String> = (0..64)
            .map(|i| format!("who discovered radium in {}", 1890 + i))
            .collect();
        let started = Instant::now();
        e.embed(&queries).unwrap();
        let per_query = started.elapsed().as_secs_f64() / queries.len() as f64;
        println!(
            "900-word chunks: {:.2} texts/s ({:.1} ms each); short queries: {:.1} texts/s ({:.2} ms each)",
            1.0 / per_chunk,
            per_chunk * 1000.0,
            1.0 / per_query,
            per_query * 1000.0
        );
    }
}
