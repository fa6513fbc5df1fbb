//! Token counts of query context text, remembered from one query to the next.
//!
//! Fitting a query's context into its token budgets means counting the tokens of
//! every candidate entity, relation and chunk line, and of the assembled context: in
//! the wasm build that counting was half of a query's own work. Yet the lines are
//! mostly the same from query to query (the same popular entities, the same chunks),
//! so their counts are remembered here.
//!
//! The count stays exact. A text's count is the sum of the counts of its pre-tokenised
//! pieces (o200k's pattern), and no piece contains a newline followed by `{`: the
//! alternatives that can take a newline end with whitespace, `\r`, `\n` or `/`, and
//! none that can take a `{` starts with a newline. So a text cut after every newline
//! that precedes `{` has parts whose counts add up to the text's. Every context line
//! is a JSON object, so these parts are the context's lines — the units that recur.

use crate::tokenizer;
use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

/// Most bytes of text remembered; past this the memo starts over, which keeps it
/// small without bookkeeping (the lines worth remembering come back quickly).
const MEMO_BYTES: usize = 4 << 20;
/// Per-entry bookkeeping, for the byte bound.
const ENTRY_OVERHEAD: usize = 32;

/// Remembered token counts, keyed by the exact text.
#[derive(Default)]
pub struct TokenMemo {
    counts: HashMap<Box<str>, u32, BuildHasherDefault<WordHasher>>,
    /// Counts of texts named by a key (a chunk id): the key, the text's length as a
    /// check, its count.
    keyed: HashMap<Box<str>, (u32, u32), BuildHasherDefault<WordHasher>>,
    bytes: usize,
}

impl TokenMemo {
    /// Number of tokens in `text`; always equal to [`tokenizer::count`].
    pub fn count(&mut self, text: &str) -> usize {
        parts(text).map(|part| self.count_part(part)).sum()
    }

    /// Number of tokens in the text `key` names, built by `text` only when the key is
    /// new. For texts that recur under a stable name but are costly to hash whole (a
    /// chunk's content under its id). `len` is the text's length in bytes: a key seen
    /// with another length is counted afresh, so a reused name cannot return a stale
    /// count for text of another size.
    pub fn count_keyed(&mut self, key: &str, len: usize, text: impl FnOnce() -> String) -> usize {
        if let Some(&(seen_len, n)) = self.keyed.get(key)
            && seen_len as usize == len
        {
            return n as usize;
        }
        let n = tokenizer::count(&text());
        let size = key.len() + ENTRY_OVERHEAD;
        if self.bytes + size > MEMO_BYTES {
            self.counts.clear();
            self.keyed.clear();
            self.bytes = 0;
        }
        self.keyed.insert(key.into(), (len as u32, n as u32));
        self.bytes += size;
        n
    }

    fn count_part(&mut self, part: &str) -> usize {
        if let Some(&n) = self.counts.get(part) {
            return n as usize;
        }
        let n = tokenizer::count(part);
        let size = part.len() + ENTRY_OVERHEAD;
        if size <= MEMO_BYTES / 8 {
            if self.bytes + size > MEMO_BYTES {
                self.counts.clear();
                self.keyed.clear();
                self.bytes = 0;
            }
            self.counts.insert(part.into(), n as u32);
            self.bytes += size;
        }
        n
    }
}

/// `text` cut after every newline that is followed by `{`.
fn parts(text: &str) -> impl Iterator<Item = &str> {
    let bytes = text.as_bytes();
    let mut start = 0;
    std::iter::from_fn(move || {
        if start >= bytes.len() {
            return None;
        }
        let mut end = bytes.len();
        let mut at = start;
        while let Some(offset) = bytes[at..].iter().position(|&b| b == b'\n') {
            let newline = at + offset;
            if bytes.get(newline + 1) == Some(&b'{') {
                end = newline + 1;
                break;
            }
            at = newline + 1;
        }
        // Both cut points are ASCII, so they are character boundaries.
        let part = &text[start..end];
        start = end;
        Some(part)
    })
}

/// A fast hash for the memo's keys, eight bytes at a time (the multiply-rotate step
/// of rustc's `FxHasher`). The keys are a workspace's own text, and equal hashes are
/// still compared by content, so a weak hash can only slow the memo, never falsify it.
#[derive(Default)]
struct WordHasher(u64);

impl WordHasher {
    #[inline]
    fn add(&mut self, word: u64) {
        self.0 = (self.0.rotate_left(5) ^ word).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }
}

impl Hasher for WordHasher {
    fn write(&mut self, bytes: &[u8]) {
        let mut words = bytes.chunks_exact(8);
        for word in &mut words {
            self.add(u64::from_le_bytes(word.try_into().unwrap_or_default()));
        }
        let rest = words.remainder();
        let mut last = [0u8; 8];
        last[..rest.len()].copy_from_slice(rest);
        self.add(u64::from_le_bytes(last) ^ ((rest.len() as u64) << 59));
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Deterministic pseudo-random text dense in the characters around the cut
    /// points: newlines, braces, quotes, spaces, slashes, letters, digits, non-ASCII.
    fn noisy_text(seed: u64, len: usize) -> String {
        const ALPHABET: &[&str] = &[
            "\n",
            "\n",
            "{",
            "{",
            "}",
            "\"",
            " ",
            "  ",
            "\r",
            "/",
            "a",
            "Otter",
            "42",
            ":",
            ",",
            "é",
            "日本",
            "\t",
            "'s",
            "{\"entity\": ",
        ];
        let mut state = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
        (0..len)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                ALPHABET[(state % ALPHABET.len() as u64) as usize]
            })
            .collect()
    }

    #[test]
    fn counts_equal_the_tokenizer_on_texts_full_of_cut_points() {
        let mut memo = TokenMemo::default();
        for seed in 0..400 {
            let text = noisy_text(seed, 1 + (seed as usize % 120));
            assert_eq!(memo.count(&text), tokenizer::count(&text), "{text:?}");
            // A second time, from the memo.
            assert_eq!(memo.count(&text), tokenizer::count(&text), "{text:?}");
        }
    }

    #[test]
    fn a_context_is_cut_into_its_lines() {
        let context = "Entities:\n\n```json\n{\"entity\": \"A\"}\n{\"entity\": \"B\"}\n```\n";
        let cut: Vec<&str> = parts(context).collect();
        assert_eq!(
            cut,
            [
                "Entities:\n\n```json\n",
                "{\"entity\": \"A\"}\n",
                "{\"entity\": \"B\"}\n```\n"
            ]
        );
        assert_eq!(cut.concat(), context);
        assert_eq!(parts("").count(), 0);
        assert_eq!(parts("no cut\n").collect::<Vec<_>>(), ["no cut\n"]);
    }

    #[test]
    fn the_memo_stays_within_its_bound() {
        let mut memo = TokenMemo::default();
        let line = "word ".repeat(20_000);
        for i in 0..100 {
            let text = format!("{i} {line}");
            assert_eq!(memo.count(&text), tokenizer::count(&text));
            assert!(memo.bytes <= MEMO_BYTES);
        }
    }
}
