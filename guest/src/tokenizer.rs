//! tiktoken's `o200k_base` encoding, token-for-token, without a start-up cost.
//!
//! LightRAG chunks documents by counting `o200k_base` tokens, so the engine has to
//! produce exactly the tokens tiktoken produces. The usual way (tiktoken, tiktoken-rs)
//! parses the vocabulary into hash maps when the encoder is created: some 400 000 heap
//! allocations and over 100 ms natively (`tiktoken_rs::o200k_base()`), which in a wasm
//! guest would be repeated by every instance, each holding its own private copy of
//! several megabytes.
//!
//! Here the build script (`build.rs`) lays the vocabulary out as flat binary tables,
//! which this module embeds with `include_bytes!`:
//!
//! * the bytes of every token, concatenated in rank order;
//! * `n + 1` little-endian `u32` offsets into those bytes, indexed by rank;
//! * an open-addressing hash table from bytes to rank (`u32` slots holding `rank + 1`,
//!   `0` for empty, FNV-1a 64 xor-folded, linear probing; see `build.rs`);
//! * the rank of each of the 256 single bytes.
//!
//! In wasm these tables live in the module's data segment. The host maps that
//! copy-on-write and shares it between all instances, and nothing ever writes to it,
//! so every instance reads the same physical pages: no start-up work and no per-instance
//! heap copy. Lookups decode the integers with `u32::from_le_bytes` on byte slices
//! because `include_bytes!` only guarantees an alignment of 1.
//!
//! Encoding follows tiktoken: the text is split into pieces by the `o200k` regex (a
//! hand-written scanner gives the same pieces for ASCII text four times faster, since
//! splitting was most of the cost of counting a query's context), a piece that is
//! itself a token becomes that token, and any other piece is
//! byte-pair-merged — starting from single bytes, repeatedly join the adjacent pair
//! whose joined bytes have the lowest rank (the leftmost such pair on a tie) until no
//! adjacent pair joins into a token.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::sync::LazyLock;

use fancy_regex::Regex;

/// Every ordinary token's bytes, concatenated in rank order.
static TOKEN_BYTES: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/o200k_bytes.bin"));
/// `n + 1` little-endian `u32` offsets: token `r` is `TOKEN_BYTES[off[r]..off[r + 1]]`.
static OFFSETS: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/o200k_offsets.bin"));
/// Little-endian `u32` slots, a power of two of them: `rank + 1`, or `0` when empty.
static HASH_SLOTS: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/o200k_hash.bin"));
/// 256 little-endian `u32`: the rank of each single byte.
static BYTE_RANKS: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/o200k_byte_ranks.bin"));

/// The `o200k_base` pre-tokeniser, with the same meaning as tiktoken's pattern. In order:
/// a word that may start with one non-letter, non-digit character and ends in lower-case
/// letters (or marks), with an optional English contraction; the same for words in
/// upper or title case; one to three digits; a run of punctuation and symbols with an
/// optional leading space, swallowing the line breaks and slashes that follow it;
/// whitespace that ends in line breaks; whitespace not followed by a non-space (so a
/// run of spaces leaves its last one to the next word); any other whitespace.
const O200K_PATTERN: &str = concat!(
    r"[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?",
    r"|[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?",
    r"|\p{N}{1,3}",
    r"| ?[^\s\p{L}\p{N}]+[\r\n/]*",
    r"|\s*[\r\n]+",
    r"|\s+(?!\S)",
    r"|\s+",
);

/// The compiled pre-tokeniser, for the pieces the ASCII scanner leaves to it. Compiling
/// it takes a few milliseconds and allocates its automata, so it is built lazily on
/// first use, once per process (once per wasm instance): an instance that only ever
/// sees ASCII pays nothing.
static PIECES: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(O200K_PATTERN).expect("the o200k pattern compiles"));

/// Pieces up to this many bytes are merged by rescanning a small vector, which is the
/// fastest for the short pieces almost all text is made of; longer ones (say, a
/// thousand `=` in a row) use a heap so that the work stays `O(n log n)`. Both give
/// the same tokens.
const LINEAR_MERGE_MAX: usize = 128;

/// Token ids of `text`, identical to tiktoken's `o200k_base` `encode_ordinary`.
pub fn encode(text: &str) -> Vec<u32> {
    let mut out = Vec::with_capacity(text.len() / 4 + 1);
    let mut scratch = Scratch::default();
    for_each_piece(text, |piece| encode_piece(piece, &mut scratch, &mut out));
    out
}

/// Text of `tokens`; invalid UTF-8 at the edges (a token slice that splits a character)
/// is replaced with U+FFFD, like Python's `bytes.decode("utf-8", errors="replace")`.
///
/// An id that is not an ordinary `o200k_base` token (`>= 199_998`, which includes the
/// special tokens) also decodes to U+FFFD rather than panicking: `encode` never produces
/// one, so it can only come from corrupt input.
pub fn decode(tokens: &[u32]) -> String {
    let mut bytes = Vec::with_capacity(tokens.len().saturating_mul(4));
    for &token in tokens {
        match token_bytes(token) {
            Some(b) => bytes.extend_from_slice(b),
            None => bytes.extend_from_slice(
                char::REPLACEMENT_CHARACTER
                    .encode_utf8(&mut [0; 4])
                    .as_bytes(),
            ),
        }
    }
    match String::from_utf8(bytes) {
        Ok(text) => text,
        // Rust's lossy decoding replaces each maximal invalid subsequence with one
        // U+FFFD, the Unicode-recommended practice that Python's "replace" follows too.
        Err(e) => String::from_utf8_lossy(e.as_bytes()).into_owned(),
    }
}

/// Number of tokens in `text` (same as `encode(text).len()`, without keeping the ids).
pub fn count(text: &str) -> usize {
    let mut n = 0usize;
    let mut scratch = Scratch::default();
    let mut buf = Vec::new();
    for_each_piece(text, |piece| {
        buf.clear();
        encode_piece(piece, &mut scratch, &mut buf);
        n += buf.len();
    });
    n
}

/// Calls `f` with each pre-tokenised piece of `text`, in order.
///
/// Every position of the text starts a match of the pattern (each character is a
/// letter, a digit, whitespace or "anything else", and each class has an alternative),
/// so the pieces are contiguous and each one is simply the pattern's match at the end
/// of the previous one. That lets the two splitters below take turns: the ASCII
/// scanner handles what it can decide from ASCII bytes alone, which in English prose,
/// code and JSON is nearly everything, and the regex handles the rest.
fn for_each_piece(text: &str, mut f: impl FnMut(&[u8])) {
    let bytes = text.as_bytes();
    let mut at = 0usize;
    while at < bytes.len() {
        let end = match ascii_piece_end(bytes, at) {
            Some(end) => end,
            None => match PIECES.find_from_pos(text, at) {
                Ok(Some(m)) if m.start() == at && m.end() > at => m.end(),
                // fancy-regex gives up only when its backtracking limit is hit, which
                // this pattern (whose one look-around is a single character) does not
                // approach. tiktoken would panic here; the rest of the text is merged
                // as one piece instead so that every byte is still encoded.
                _ => bytes.len(),
            },
        };
        f(&bytes[at..end]);
        at = end;
    }
}

/// The byte at `i`: `Ok(None)` past the end, `Err(())` when it is not ASCII (the
/// scanner cannot classify it and hands the piece to the regex).
#[inline]
fn peek(bytes: &[u8], i: usize) -> Result<Option<u8>, ()> {
    match bytes.get(i) {
        None => Ok(None),
        Some(&b) if b.is_ascii() => Ok(Some(b)),
        Some(_) => Err(()),
    }
}

/// `\s` restricted to ASCII: Unicode's White_Space there is tab, line feed, vertical
/// tab, form feed, carriage return and space (not the separators 0x1c–0x1f).
#[inline]
fn is_space(b: u8) -> bool {
    matches!(b, b'\t' | b'\n' | 0x0b | 0x0c | b'\r' | b' ')
}

/// `[^\s\p{L}\p{N}]` restricted to ASCII: punctuation, symbols and control characters.
#[inline]
fn is_other(b: u8) -> bool {
    !is_space(b) && !b.is_ascii_alphanumeric()
}

/// The end of the `o200k` pattern's match at `p`, when the bytes it depends on are all
/// ASCII; `None` otherwise. Each branch below is one alternative of the pattern, tried
/// in the pattern's order, with the backtracking the regex would do worked out by hand
/// (in ASCII, upper- and lower-case letters are disjoint and there are no marks, which
/// is what makes that simple). The tokenizer tests compare the result with tiktoken.
fn ascii_piece_end(bytes: &[u8], p: usize) -> Option<usize> {
    let peek = |i: usize| peek(bytes, i).ok();
    let c0 = peek(p)??;
    // Words: an optional leading character that is neither a line break, a letter
    // nor a digit, upper-case letters, then lower-case ones; at least one letter.
    let mut q = p;
    if !c0.is_ascii_alphanumeric()
        && c0 != b'\r'
        && c0 != b'\n'
        && let Some(c1) = peek(p + 1)?
        && c1.is_ascii_alphabetic()
    {
        q = p + 1;
    }
    if bytes[q].is_ascii_alphabetic() {
        let mut i = q;
        while let Some(c) = peek(i)? {
            if !c.is_ascii_uppercase() {
                break;
            }
            i += 1;
        }
        while let Some(c) = peek(i)? {
            if !c.is_ascii_lowercase() {
                break;
            }
            i += 1;
        }
        return contraction_end(bytes, i);
    }
    // One to three digits.
    if c0.is_ascii_digit() {
        let mut i = p;
        while i < p + 3 {
            match peek(i)? {
                Some(c) if c.is_ascii_digit() => i += 1,
                _ => break,
            }
        }
        return Some(i);
    }
    // Punctuation with an optional leading space, and the line breaks and slashes
    // right after it.
    let first = if c0 == b' ' { p + 1 } else { p };
    let mut i = first;
    while let Some(c) = peek(i)? {
        if !is_other(c) {
            break;
        }
        i += 1;
    }
    if i > first {
        while let Ok(Some(b'\r' | b'\n' | b'/')) = self::peek(bytes, i) {
            i += 1;
        }
        return Some(i);
    }
    // Whitespace: up to its last line break if it has one; else all of it at the end
    // of the text; else all but its last character when that leaves some (the last one
    // goes with the word that follows); else the single character.
    let mut i = p;
    let mut after_break = None;
    while let Some(c) = peek(i)? {
        if !is_space(c) {
            break;
        }
        i += 1;
        if c == b'\r' || c == b'\n' {
            after_break = Some(i);
        }
    }
    Some(match after_break {
        Some(end) => end,
        None if i == bytes.len() || i - p == 1 => i,
        None => i - 1,
    })
}

/// After a word ending at `i`: the end of an English contraction (`'s`, `'t`, `'re`,
/// `'ve`, `'m`, `'ll`, `'d`, any case) if one follows, else `i`.
fn contraction_end(bytes: &[u8], i: usize) -> Option<usize> {
    let peek = |i: usize| peek(bytes, i).ok();
    if peek(i)? != Some(b'\'') {
        return Some(i);
    }
    // Non-ASCII after the apostrophe: case-insensitive matching folds some of it into
    // these letters (U+017F, long s, is an `s`), so the regex decides.
    let Some(c1) = peek(i + 1)? else {
        return Some(i);
    };
    let c1 = c1.to_ascii_lowercase();
    if matches!(c1, b's' | b't' | b'm' | b'd') {
        return Some(i + 2);
    }
    let second = match c1 {
        b'r' | b'v' => b'e',
        b'l' => b'l',
        _ => return Some(i),
    };
    match peek(i + 2)? {
        Some(c2) if c2.to_ascii_lowercase() == second => Some(i + 3),
        _ => Some(i),
    }
}

/// Reads the `index`-th little-endian `u32` of `table`.
#[inline]
fn read_u32(table: &[u8], index: usize) -> u32 {
    let i = index * 4;
    u32::from_le_bytes([table[i], table[i + 1], table[i + 2], table[i + 3]])
}

/// Number of ordinary tokens (199 998 for `o200k_base`).
#[inline]
fn vocab_size() -> usize {
    OFFSETS.len() / 4 - 1
}

/// The bytes of token `rank`, or `None` if it is not an ordinary token.
#[inline]
fn token_bytes(rank: u32) -> Option<&'static [u8]> {
    let r = usize::try_from(rank).ok()?;
    if r >= vocab_size() {
        return None;
    }
    let start = read_u32(OFFSETS, r) as usize;
    let end = read_u32(OFFSETS, r + 1) as usize;
    Some(&TOKEN_BYTES[start..end])
}

/// FNV-1a 64 over `bytes`, high half xor-folded into the low half. Must stay identical
/// to `slot_hash` in `build.rs`, which placed the tokens in the table.
#[inline]
fn slot_hash(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in bytes {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h ^ (h >> 32)
}

/// The rank of the token whose bytes are `bytes`, if there is one.
#[inline]
fn lookup(bytes: &[u8]) -> Option<u32> {
    let slots = HASH_SLOTS.len() / 4;
    let mask = (slots - 1) as u64;
    // Masking in u64 before narrowing keeps the index identical on 32-bit targets.
    let mut i = (slot_hash(bytes) & mask) as usize;
    loop {
        let slot = read_u32(HASH_SLOTS, i);
        if slot == 0 {
            return None;
        }
        let rank = slot - 1;
        let r = rank as usize;
        let start = read_u32(OFFSETS, r) as usize;
        let end = read_u32(OFFSETS, r + 1) as usize;
        if same_bytes(&TOKEN_BYTES[start..end], bytes) {
            return Some(rank);
        }
        i = (i + 1) & (slots - 1);
    }
}

/// `a == b`, a word at a time. Tokens are a few bytes long, and slice equality would
/// call `memcmp`, which in a wasm build is an out-of-line byte loop: this is most of
/// the cost of a probe there.
#[inline]
fn same_bytes(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let (mut a_words, mut b_words) = (a.chunks_exact(8), b.chunks_exact(8));
    for (x, y) in (&mut a_words).zip(&mut b_words) {
        let word = |w: &[u8]| u64::from_le_bytes(w.try_into().unwrap_or_default());
        if word(x) != word(y) {
            return false;
        }
    }
    let (a_tail, b_tail) = (a_words.remainder(), b_words.remainder());
    (0..a_tail.len()).all(|i| a_tail[i] == b_tail[i])
}

/// The rank of a single byte (every byte is a token; `build.rs` checks).
#[inline]
fn byte_rank(b: u8) -> u32 {
    read_u32(BYTE_RANKS, usize::from(b))
}

/// Reusable buffers for merging, so a document does not allocate once per piece.
#[derive(Default)]
struct Scratch {
    parts: Vec<Part>,
    heap: BinaryHeap<Reverse<u64>>,
    links: Vec<Link>,
}

/// One part of a piece being merged by the linear method.
#[derive(Clone, Copy)]
struct Part {
    /// Byte offset in the piece where this part starts.
    start: usize,
    /// The token this part currently is.
    token: u32,
    /// Rank of the token this part would form with the next part, or `u32::MAX`.
    join: u32,
}

/// One part of a piece being merged by the heap method, indexed by its start offset.
#[derive(Clone, Copy)]
struct Link {
    /// Start of the previous part (meaningless for the first part).
    prev: usize,
    /// End of this part, which is the start of the next part.
    end: usize,
    /// The token this part currently is.
    token: u32,
    /// Rank of the token this part would form with the next part, or `u32::MAX`.
    /// Also `u32::MAX` for offsets that are no longer the start of a part.
    join: u32,
}

/// Appends the tokens of one pre-tokenised piece to `out`.
fn encode_piece(piece: &[u8], scratch: &mut Scratch, out: &mut Vec<u32>) {
    if piece.is_empty() {
        return;
    }
    // Fast path, and also required for exactness: a piece that is a token is that token.
    if let Some(rank) = lookup(piece) {
        out.push(rank);
    } else if piece.len() <= LINEAR_MERGE_MAX || u32::try_from(piece.len()).is_err() {
        // (A piece of 4 GiB or more, which only a 64-bit host could even hold, does not
        // fit the heap's packed keys and takes the slow path.)
        merge_linear(piece, &mut scratch.parts, out);
    } else {
        merge_heap(piece, &mut scratch.heap, &mut scratch.links, out);
    }
}

/// Rank of the token spelled by `piece[from..to]`, or `u32::MAX` when there is none.
#[inline]
fn join_rank(piece: &[u8], from: usize, to: usize) -> u32 {
    lookup(&piece[from..to]).unwrap_or(u32::MAX)
}

/// Byte-pair merge by rescanning: `O(n)` per merge, which beats anything cleverer on
/// short pieces.
fn merge_linear(piece: &[u8], parts: &mut Vec<Part>, out: &mut Vec<u32>) {
    let len = piece.len();
    parts.clear();
    for (i, &b) in piece.iter().enumerate() {
        let join = if i + 2 <= len {
            join_rank(piece, i, i + 2)
        } else {
            u32::MAX
        };
        parts.push(Part {
            start: i,
            token: byte_rank(b),
            join,
        });
    }
    // The end of the piece, so that `parts[i + 1].start` is always the end of part `i`.
    parts.push(Part {
        start: len,
        token: u32::MAX,
        join: u32::MAX,
    });

    loop {
        // The lowest join; the first one wins a tie, as in tiktoken.
        let mut best = u32::MAX;
        let mut at = 0usize;
        for (i, part) in parts.iter().enumerate() {
            if part.join < best {
                best = part.join;
                at = i;
            }
        }
        if best == u32::MAX {
            break;
        }
        // Join part `at` with part `at + 1`.
        parts[at].token = best;
        parts.remove(at + 1);
        // Its joins with its new neighbours have changed; `parts.len() - 1` is the
        // index of the end marker, so `at + 1` is a real part only before it.
        parts[at].join = if at + 2 < parts.len() {
            join_rank(piece, parts[at].start, parts[at + 2].start)
        } else {
            u32::MAX
        };
        if at > 0 {
            parts[at - 1].join = join_rank(piece, parts[at - 1].start, parts[at + 1].start);
        }
    }
    out.extend(parts[..parts.len() - 1].iter().map(|p| p.token));
}

/// Byte-pair merge with a min-heap of candidate joins keyed by `(rank, start)`, so the
/// lowest rank and then the leftmost start comes out first, exactly the order
/// `merge_linear` picks. The key is packed into one `u64`, rank in the high half, which
/// compares faster than a tuple; it needs `piece.len() <= u32::MAX`.
///
/// Parts form a linked list indexed by start offset. A join whose parts have since
/// changed stays in the heap and is skipped when it surfaces: it no longer matches the
/// `join` recorded for its start.
fn merge_heap(
    piece: &[u8],
    heap: &mut BinaryHeap<Reverse<u64>>,
    links: &mut Vec<Link>,
    out: &mut Vec<u32>,
) {
    let len = piece.len();
    heap.clear();
    links.clear();
    for (i, &b) in piece.iter().enumerate() {
        let join = if i + 2 <= len {
            join_rank(piece, i, i + 2)
        } else {
            u32::MAX
        };
        if join != u32::MAX {
            heap.push(Reverse(heap_key(join, i)));
        }
        links.push(Link {
            prev: i.wrapping_sub(1),
            end: i + 1,
            token: byte_rank(b),
            join,
        });
    }

    while let Some(Reverse(key)) = heap.pop() {
        let rank = (key >> 32) as u32;
        let start = (key & u64::from(u32::MAX)) as usize;
        if links[start].join != rank {
            continue; // stale: one of its two parts has been merged since
        }
        let right = links[start].end;
        let right_end = links[right].end;
        links[start].end = right_end;
        links[start].token = rank;
        links[right].join = u32::MAX; // `right` no longer starts a part
        if right_end < len {
            links[right_end].prev = start;
            let join = join_rank(piece, start, links[right_end].end);
            links[start].join = join;
            if join != u32::MAX {
                heap.push(Reverse(heap_key(join, start)));
            }
        } else {
            links[start].join = u32::MAX;
        }
        if start > 0 {
            let prev = links[start].prev;
            let join = join_rank(piece, prev, right_end);
            links[prev].join = join;
            if join != u32::MAX {
                heap.push(Reverse(heap_key(join, prev)));
            }
        }
    }

    let mut at = 0usize;
    while at < len {
        out.push(links[at].token);
        at = links[at].end;
    }
}

/// The heap key of a join: rank in the high half, so ranks compare first, then start.
#[inline]
fn heap_key(rank: u32, start: usize) -> u64 {
    (u64::from(rank) << 32) | start as u64
}

#[cfg(test)]
mod tests;
