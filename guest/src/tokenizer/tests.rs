use super::*;
use std::sync::OnceLock;

fn reference() -> &'static tiktoken_rs::CoreBPE {
    static BPE: OnceLock<tiktoken_rs::CoreBPE> = OnceLock::new();
    BPE.get_or_init(|| tiktoken_rs::o200k_base().expect("o200k_base loads"))
}

/// A small fixed-seed generator (SplitMix64), so failures reproduce.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

fn fixed_corpus() -> Vec<String> {
    let mut v: Vec<String> = [
            "",
            "a",
            " ",
            "Hello, world!",
            "The quick brown fox jumps over the lazy dog.",
            "LightRAG splits documents into chunks of a fixed number of tokens, \
             with an overlap between consecutive chunks, before extracting entities.",
            "fn main() {\n    let x: Vec<u32> = (0..10).map(|i| i * 2).collect();\n    println!(\"{x:?}\");\n}\n",
            "def f(a, b=None):\n\treturn {'k': [a, b]}  # comment\r\n",
            "<html><body class=\"x\">&amp; &lt;tag&gt;</body></html>",
            "12345678 3.14159 1,000,000 2024-01-31 0x1F 1e-9 -42",
            "I'm sure they'll say DON'T, you've, we'd, she's, it'S, THEY'RE, I'LL, O'Neil's",
            "’s ’t weird quotes’re",
            "trailing spaces   ",
            "trailing newlines\n\n\n",
            "   leading and    inner     runs\t\t\ttabs",
            "line one\r\nline two\r\n\r\nline four\r\n",
            "\n\n\n\n  \n \n\t\n",
            "mixed\u{a0}nbsp\u{3000}ideographic\u{2003}em space\u{1c}fs\u{85}nel",
            "中文文本分块测试，包括标点符号。日本語のテキストも。한국어 텍스트",
            "Привет, мир! Съешь же ещё этих мягких французских булок.",
            "emoji 😀👍🏽 family 👨‍👩‍👧‍👦 flag 🇫🇷 heart ❤️ keycap 1️⃣",
            "combining: e\u{301} a\u{308}\u{323} Z\u{335}\u{36d}\u{33e} क्षि",
            "Ελληνικά, עברית, العربية, ไทย, हिन्दी",
            "$$$ ### !!! ??? ... --- === *** /// \\\\ ||| ~~~",
            "url: https://example.com/a/b?c=d&e=f#g email: a.b@c.de",
            "CamelCaseIdentifier snake_case_identifier SCREAMING_CASE",
            "\u{0}\u{1}\u{7f} control chars \u{fffd} replacement",
        ]
        .iter()
        .map(|s| (*s).to_owned())
        .collect();
    // Long pieces, beyond LINEAR_MERGE_MAX, to exercise the heap merge.
    v.push("=".repeat(1000));
    v.push("-=".repeat(300));
    v.push("abcdefghij".repeat(40));
    v.push("x".repeat(513));
    v.push("😀".repeat(100));
    v.push(" ".repeat(5000) + "word");
    v.push("\n".repeat(300));
    v.push("中".repeat(200));
    v.push("ab1".repeat(100));
    v
}

const ALPHABET: &[&str] = &[
    "a", "b", "e", "s", "t", "z", "A", "S", "T", "Z", "0", "1", "7", "9", " ", " ", " ", "\n",
    "\r", "\t", "\r\n", "'", "’", "\"", ".", ",", "!", "?", "/", "-", "_", "=", "(", ")", "{", "}",
    "#", "é", "ß", "\u{301}", "\u{200d}", "中", "文", "の", "한", "я", "Ж", "ω", "😀", "👍", "🏽",
    "❤", "\u{fe0f}", "\u{a0}", "\u{3000}", "\u{1c}", "ا", "ก", "\u{0}", "$", "%", "ll", "re", "ve",
    "'s", "'T", "the", "The", "ing",
];

fn random_strings(count: usize) -> Vec<String> {
    let mut rng = Rng(0x5eed_1234_abcd_0042);
    (0..count)
        .map(|_| {
            let len = rng.below(40);
            (0..len)
                .map(|_| ALPHABET[rng.below(ALPHABET.len())])
                .collect()
        })
        .collect()
}

/// Long random runs of a few letters, so that many pieces need real merging.
fn random_words(count: usize) -> Vec<String> {
    let mut rng = Rng(7);
    let letters = ["a", "b", "n", "o", "r", "é", "ч", "中", "1", "-", "!"];
    (0..count)
        .map(|_| {
            let len = 1 + rng.below(300);
            (0..len)
                .map(|_| letters[rng.below(letters.len())])
                .collect()
        })
        .collect()
}

fn check(text: &str) {
    let expected = reference().encode_ordinary(text);
    let got = encode(text);
    assert_eq!(got, expected, "encode mismatch for {text:?}");
    assert_eq!(count(text), expected.len(), "count mismatch for {text:?}");
    assert_eq!(decode(&got), text, "round trip failed for {text:?}");
}

#[test]
fn pattern_matches_tiktoken_rs() {
    assert_eq!(O200K_PATTERN, tiktoken_rs::O200K_BASE_PAT_STR);
}

#[test]
fn tables_are_consistent() {
    assert_eq!(vocab_size(), 199_998);
    let slots = HASH_SLOTS.len() / 4;
    assert!(slots.is_power_of_two());
    assert!(slots * 2 >= vocab_size() * 5);
    assert_eq!(read_u32(OFFSETS, vocab_size()) as usize, TOKEN_BYTES.len());
    for rank in 0..vocab_size() as u32 {
        let bytes = token_bytes(rank).expect("every rank has bytes");
        assert_eq!(lookup(bytes), Some(rank));
    }
    assert_eq!(token_bytes(199_998), None);
    assert_eq!(token_bytes(u32::MAX), None);
    for b in 0..=255u8 {
        assert_eq!(lookup(&[b]), Some(byte_rank(b)));
    }
}

#[test]
fn tables_match_tiktoken_rs() {
    let bpe = reference();
    for rank in (0..vocab_size() as u32).step_by(7) {
        assert_eq!(
            token_bytes(rank).unwrap(),
            bpe.decode_bytes(&[rank]).unwrap().as_slice()
        );
    }
}

#[test]
fn fixed_corpus_matches_tiktoken() {
    for text in fixed_corpus() {
        check(&text);
    }
    // Everything at once, too, so that pieces meet across the joins.
    check(&fixed_corpus().concat());
}

#[test]
fn random_strings_match_tiktoken() {
    for text in random_strings(4000) {
        check(&text);
    }
}

/// Every ASCII character, with the ones the scanner's rules turn on weighted up, so
/// that each alternative and each hand-written backtracking case comes up often.
#[test]
fn random_ascii_matches_tiktoken() {
    let mut rng = Rng(0xa5c1_1000);
    let favourites = b"  \t\n\r\x0b\x0c\x1c'sStTrReEvVlLmMdDaZ09/.,!\"{}";
    for _ in 0..20_000 {
        let len = rng.below(24);
        let text: String = (0..len)
            .map(|_| {
                if rng.below(2) == 0 {
                    char::from(favourites[rng.below(favourites.len())])
                } else {
                    char::from(rng.below(128) as u8)
                }
            })
            .collect();
        check(&text);
    }
}

/// ASCII next to non-ASCII: every boundary where the scanner hands over to the
/// regex and takes back over.
#[test]
fn ascii_next_to_non_ascii_matches_tiktoken() {
    let ascii = [
        "a", "A", "'", "'s", "'l", "'r", "1", "12", "123", " ", "  ", "\n", "\t", ".", "/", "!\n",
    ];
    let other = [
        "é", "ſ", "\u{a0}", "\u{3000}", "\u{301}", "٣", "²", "’", "中", "😀", "\u{85}",
    ];
    for a in ascii {
        for o in other {
            for b in ascii {
                check(&format!("{a}{o}{b}"));
                check(&format!("{o}{a}{b}{o}"));
                check(&format!("{a}{b}{o}"));
            }
        }
    }
}

#[test]
fn random_words_match_tiktoken() {
    for text in random_words(400) {
        check(&text);
    }
}

#[test]
fn huge_pieces_match_tiktoken() {
    // Long runs are single pieces: the whitespace ones exercise the regex's
    // look-ahead and backtracking, the others the heap merge.
    for unit in [" ", "\t", "\u{a0}", " \n", "=", "ab", "é", "😀"] {
        let run = unit.repeat(60_000 / unit.len());
        check(&format!("{run}x"));
        check(&format!("x{run}"));
    }
}

#[test]
fn heap_merge_equals_linear_merge() {
    let mut scratch = Scratch::default();
    for text in random_words(300).iter().chain(fixed_corpus().iter()) {
        let piece = text.as_bytes();
        if piece.is_empty() {
            continue;
        }
        let mut a = Vec::new();
        let mut b = Vec::new();
        merge_linear(piece, &mut scratch.parts, &mut a);
        merge_heap(piece, &mut scratch.heap, &mut scratch.links, &mut b);
        assert_eq!(a, b, "merges differ for {text:?}");
    }
}

#[test]
fn decode_replaces_split_characters() {
    // Rare characters are spelled with several byte-level tokens.
    let tokens = ["𓀀", "𠀀", "\u{10fffd}"]
        .iter()
        .map(|c| encode(c))
        .find(|t| t.len() > 1)
        .expect("some rare character spans several tokens");
    let head = decode(&tokens[..1]);
    assert!(head.chars().all(|c| c == '\u{fffd}') && !head.is_empty());
    let expected =
        String::from_utf8_lossy(&reference().decode_bytes(&tokens[..1]).unwrap()).into_owned();
    assert_eq!(head, expected);
    assert_eq!(decode(&[]), "");
    assert_eq!(decode(&[199_999]), "\u{fffd}");
    assert_eq!(decode(&[u32::MAX, tokens[0]]), format!("\u{fffd}{head}"));
}

/// Throughput against tiktoken-rs. Run with
/// `cargo test --release -p lightrag-engine --lib -- --ignored --nocapture throughput`.
#[test]
#[ignore = "measurement, not a test"]
fn throughput() {
    const MB: usize = 1 << 20;
    let corpus = fixed_corpus();
    let short = corpus
        .iter()
        .filter(|s| s.len() <= LINEAR_MERGE_MAX)
        .count();
    let mut rng = Rng(99);

    // Mostly English prose and code, as documents are, with some of everything else.
    let mut prose = String::new();
    while prose.len() < MB {
        prose.push_str(&corpus[3 + rng.below(6)]);
        prose.push(' ');
        if rng.below(8) == 0 {
            prose.push_str(&corpus[rng.below(short)]);
        }
    }
    let mut random = String::new();
    while random.len() < MB {
        random.extend(random_strings(1000));
    }
    // Pathological: long runs that are one piece each and must be merged with the heap.
    let mut runs = String::new();
    while runs.len() < MB {
        runs.push_str(&corpus[short + rng.below(corpus.len() - short)]);
    }

    let t = std::time::Instant::now();
    let _ = tiktoken_rs::o200k_base().expect("loads");
    println!(
        "for comparison, tiktoken_rs::o200k_base(): {:.1?}",
        t.elapsed()
    );
    let t = std::time::Instant::now();
    let regex = Regex::new(O200K_PATTERN).expect("compiles");
    let first = regex.find_iter("Hello world").count();
    println!("compiling the regex and a first match: {:.1?}", t.elapsed());
    assert_eq!(first, 2);
    println!(
        "tables: bytes {} + offsets {} + hash {} + byte ranks {} = {} bytes",
        TOKEN_BYTES.len(),
        OFFSETS.len(),
        HASH_SLOTS.len(),
        BYTE_RANKS.len(),
        TOKEN_BYTES.len() + OFFSETS.len() + HASH_SLOTS.len() + BYTE_RANKS.len()
    );
    for (label, text) in [
        ("prose+code", prose),
        ("random", random),
        ("long runs", runs),
    ] {
        measure(label, &text);
    }
}

fn measure(label: &str, text: &str) {
    use std::time::{Duration, Instant};
    // The best of a few runs: other processes share this machine.
    fn best<T>(mut f: impl FnMut() -> T) -> (T, Duration) {
        let mut out = None;
        let mut fastest = Duration::MAX;
        for _ in 0..5 {
            let t = Instant::now();
            let r = f();
            fastest = fastest.min(t.elapsed());
            out = Some(r);
        }
        (out.expect("ran"), fastest)
    }
    let bpe = reference();
    let (ours, ours_time) = best(|| encode(text));
    let (n, count_time) = best(|| count(text));
    let (pieces, split_time) = best(|| {
        let mut pieces = 0usize;
        for_each_piece(text, |_| pieces += 1);
        pieces
    });
    let (theirs, theirs_time) = best(|| bpe.encode_ordinary(text));
    let (back, decode_time) = best(|| decode(&ours));
    assert_eq!(ours, theirs);
    assert_eq!(n, ours.len());
    assert_eq!(back, text);
    let mb = text.len() as f64 / 1e6;
    let rate = |d: Duration| mb / d.as_secs_f64();
    println!(
        "{label}: {} bytes, {} tokens, {pieces} pieces: encode {ours_time:.1?} ({:.1} MB/s), \
             count {count_time:.1?}, split alone {split_time:.1?}, \
             tiktoken-rs encode_ordinary {theirs_time:.1?} ({:.1} MB/s), decode {decode_time:.1?}",
        text.len(),
        ours.len(),
        rate(ours_time),
        rate(theirs_time),
    );
}
