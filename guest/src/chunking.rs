//! LightRAG's fixed-size token chunker: `chunking_by_token_size` without a split
//! character.
//!
//! LightRAG (Python) does, for a document:
//!
//! ```python
//! tokens = tokenizer.encode(content)
//! for index, start in enumerate(range(0, len(tokens), max_token_size - overlap_token_size)):
//!     chunk_content = tokenizer.decode(tokens[start : start + max_token_size])
//!     results.append({
//!         "tokens": min(max_token_size, len(tokens) - start),
//!         "content": chunk_content.strip(),
//!         "chunk_order_index": index,
//!     })
//! ```
//!
//! [`chunk_by_tokens`] reproduces that exactly, with the `o200k_base` tokenizer of
//! [`crate::tokenizer`], so that chunk boundaries, contents and ids (which hash the
//! content) match a Python LightRAG server's.

use crate::tokenizer;

/// One window of a document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Chunk {
    /// Tokens in the window, `min(size, n_tokens - start)`: counted before stripping,
    /// as LightRAG does.
    pub tokens: u32,
    /// The window's text, decoded and then stripped like Python's `str.strip()`.
    pub content: String,
    /// Position of the window in the document: 0, 1, 2, …
    pub order: u32,
}

/// Splits `text` into windows of `size` tokens that start every `size - overlap`
/// tokens, like LightRAG's `chunking_by_token_size`.
///
/// * Empty text (no tokens) gives no chunks.
/// * A window that splits a multi-byte character decodes the partial bytes to
///   U+FFFD, as Python's `decode(errors="replace")` does; it never panics.
/// * A window whose content is empty after stripping (all whitespace) is still
///   returned, because LightRAG keeps it too, and chunk orders must stay aligned.
///
/// Errors if `size == 0` or `overlap >= size`: LightRAG would then step by zero
/// (a Python `ValueError`) or backwards (silently no chunks at all).
pub fn chunk_by_tokens(text: &str, size: u32, overlap: u32) -> Result<Vec<Chunk>, String> {
    if size == 0 {
        return Err("chunk size must be at least 1 token".to_owned());
    }
    if overlap >= size {
        return Err(format!(
            "chunk overlap ({overlap} tokens) must be smaller than the chunk size ({size} tokens)"
        ));
    }
    let tokens = tokenizer::encode(text);
    let step = (size - overlap) as usize;
    let window = size as usize;

    let mut chunks = Vec::with_capacity(tokens.len().div_ceil(step));
    for (index, start) in (0..tokens.len()).step_by(step).enumerate() {
        let remaining = tokens.len() - start;
        // `start + window` could overflow a 32-bit usize; `remaining` cannot.
        let len = remaining.min(window);
        let mut content = tokenizer::decode(&tokens[start..start + len]);
        strip_in_place(&mut content);
        chunks.push(Chunk {
            // `len <= window == size`, so it fits.
            tokens: u32::try_from(len).unwrap_or(size),
            content,
            order: u32::try_from(index).map_err(|_| "too many chunks".to_owned())?,
        });
    }
    Ok(chunks)
}

/// Python's `str.isspace()` for one character: Unicode White_Space, plus the four
/// information separators U+001C..=U+001F, which Python counts as whitespace (their
/// bidirectional class is B or S) but Rust's `char::is_whitespace` does not.
fn is_python_space(c: char) -> bool {
    matches!(
        c,
        '\t' | '\n'
            | '\u{b}'
            | '\u{c}'
            | '\r'
            | '\u{1c}'..='\u{1f}'
            | ' '
            | '\u{85}'
            | '\u{a0}'
            | '\u{1680}'
            | '\u{2000}'..='\u{200a}'
            | '\u{2028}'
            | '\u{2029}'
            | '\u{202f}'
            | '\u{205f}'
            | '\u{3000}'
    )
}

/// Python's `str.strip()`: trims the characters for which Python's `str.isspace()` is
/// true (this differs from Rust's `trim()` for U+001C..=U+001F).
pub fn python_strip(s: &str) -> &str {
    s.trim_matches(is_python_space)
}

/// [`python_strip`] on an owned string, without copying it into a new one.
pub fn strip_in_place(s: &mut String) {
    let end = s.trim_end_matches(is_python_space).len();
    s.truncate(end);
    let start = s.len() - s.trim_start_matches(is_python_space).len();
    s.drain(..start);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn long_text() -> String {
        let mut text = String::new();
        for i in 0..400 {
            text.push_str(&format!(
                "Paragraph {i}: LightRAG builds a knowledge graph from chunks of text. \
                 Entities such as Ünïcödé, 中文 and emoji 😀 appear here.\n\n"
            ));
        }
        text
    }

    /// The Python algorithm, written as literally as possible, for comparison.
    fn reference(text: &str, size: usize, overlap: usize) -> Vec<(usize, String)> {
        let tokens = tokenizer::encode(text);
        (0..tokens.len())
            .step_by(size - overlap)
            .map(|start| {
                let end = (start + size).min(tokens.len());
                let decoded = String::from_utf8_lossy(
                    &tiktoken_rs::o200k_base_singleton()
                        .decode_bytes(&tokens[start..end])
                        .unwrap(),
                )
                .into_owned();
                (
                    size.min(tokens.len() - start),
                    python_strip(&decoded).to_owned(),
                )
            })
            .collect()
    }

    #[test]
    fn windows_and_overlaps() {
        let text = long_text();
        let tokens = tokenizer::encode(&text);
        for (size, overlap) in [(1200, 100), (100, 0), (64, 63), (7, 3), (1, 0)] {
            let chunks = chunk_by_tokens(&text, size, overlap).unwrap();
            let step = (size - overlap) as usize;
            assert_eq!(chunks.len(), tokens.len().div_ceil(step));
            let expected = reference(&text, size as usize, overlap as usize);
            assert_eq!(chunks.len(), expected.len());
            for (i, (chunk, (n, content))) in chunks.iter().zip(&expected).enumerate() {
                assert_eq!(chunk.order as usize, i);
                assert_eq!(chunk.tokens as usize, *n);
                assert_eq!(&chunk.content, content);
            }
            // A window is full unless it runs past the end of the text.
            for (k, chunk) in chunks.iter().enumerate() {
                let left = tokens.len() - k * step;
                assert_eq!(chunk.tokens as usize, left.min(size as usize));
            }
        }
    }

    #[test]
    fn overlap_repeats_tokens() {
        let text = long_text();
        let chunks = chunk_by_tokens(&text, 200, 50).unwrap();
        let tokens = tokenizer::encode(&text);
        // Window k starts at token 150k, so consecutive windows share 50 tokens.
        let second = tokenizer::decode(&tokens[150..350]);
        assert_eq!(chunks[1].content, python_strip(&second));
        assert_eq!(chunks[0].tokens, 200);
    }

    #[test]
    fn short_text_is_one_chunk() {
        let chunks = chunk_by_tokens("  Hello, world!\n", 1200, 100).unwrap();
        assert_eq!(
            chunks,
            vec![Chunk {
                tokens: tokenizer::count("  Hello, world!\n") as u32,
                content: "Hello, world!".into(),
                order: 0
            }]
        );
    }

    #[test]
    fn invalid_sizes_are_errors() {
        assert!(chunk_by_tokens("text", 0, 0).is_err());
        assert!(chunk_by_tokens("text", 10, 10).is_err());
        assert!(chunk_by_tokens("text", 10, 11).is_err());
        assert!(chunk_by_tokens("text", 10, 9).is_ok());
    }

    #[test]
    fn empty_text_has_no_chunks() {
        assert_eq!(chunk_by_tokens("", 1200, 100).unwrap(), vec![]);
    }

    #[test]
    fn whitespace_windows_are_kept() {
        // The second window is pure whitespace: LightRAG keeps it, with empty content.
        let text = format!("word{}", " ".repeat(64));
        let tokens = tokenizer::encode(&text);
        let chunks = chunk_by_tokens(&text, 1, 0).unwrap();
        assert_eq!(chunks.len(), tokens.len());
        assert_eq!(chunks[0].content, "word");
        assert!(
            chunks[1..]
                .iter()
                .all(|c| c.content.is_empty() && c.tokens == 1)
        );
    }

    #[test]
    fn split_characters_become_replacement_characters() {
        // Rare characters (an Egyptian hieroglyph, a CJK extension B ideograph) are
        // spelled with several byte-level tokens.
        let text = "𓀀𓀀 𠀀 中文";
        let tokens = tokenizer::encode(text);
        let chunks = chunk_by_tokens(text, 1, 0).unwrap();
        assert_eq!(chunks.len(), tokens.len());
        assert!(chunks.iter().any(|c| c.content.contains('\u{fffd}')));
        let expected = reference(text, 1, 0);
        for (chunk, (_, content)) in chunks.iter().zip(&expected) {
            assert_eq!(&chunk.content, content);
        }
    }

    #[test]
    fn python_strip_matches_python() {
        assert_eq!(python_strip("\u{1c}\u{1d} a b \u{1e}\u{1f}"), "a b");
        assert_eq!("\u{1c}a".trim(), "\u{1c}a"); // Rust's trim keeps it
        assert_eq!(python_strip("\u{3000}\u{a0}\u{85}x\u{2029}\t\r\n"), "x");
        // Not whitespace for Python: zero-width space, BOM, Mongolian vowel separator.
        assert_eq!(python_strip("\u{200b}x\u{feff}"), "\u{200b}x\u{feff}");
        assert_eq!(python_strip("\u{180e}"), "\u{180e}");
        assert_eq!(python_strip(""), "");
        assert_eq!(python_strip(" \n "), "");
        // The exact set Python 3 reports for `chr(c).isspace()`.
        let python: Vec<u32> = vec![
            0x9, 0xa, 0xb, 0xc, 0xd, 0x1c, 0x1d, 0x1e, 0x1f, 0x20, 0x85, 0xa0, 0x1680, 0x2000,
            0x2001, 0x2002, 0x2003, 0x2004, 0x2005, 0x2006, 0x2007, 0x2008, 0x2009, 0x200a, 0x2028,
            0x2029, 0x202f, 0x205f, 0x3000,
        ];
        let ours: Vec<u32> = (0..=0x10ffffu32)
            .filter_map(char::from_u32)
            .filter(|&c| is_python_space(c))
            .map(u32::from)
            .collect();
        assert_eq!(ours, python);
        let mut s = String::from("\u{1f} keep me \u{1c}");
        strip_in_place(&mut s);
        assert_eq!(s, "keep me");
    }
}
