//! A fixed-seed fuzz run: whatever the answer, parsing never panics and keeps the
//! invariants the graph code relies on.

use super::*;
use crate::records::normalize::{FORBIDDEN_TYPE_CHARS, FORBIDDEN_TYPES};

/// xorshift64*: a fixed seed makes every run check the same inputs.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn unicode_char(&mut self) -> char {
        let ranges: [(u32, u32); 7] = [
            (0x20, 0x7E),
            (0x00, 0x1F),
            (0xA0, 0x24F),
            (0x3000, 0x303F),
            (0x4E00, 0x9FFF),
            (0xFF00, 0xFFEF),
            (0x1F300, 0x1FAFF),
        ];
        let (low, high) = ranges[self.below(ranges.len())];
        let code = low + (self.next() % u64::from(high - low + 1)) as u32;
        char::from_u32(code).unwrap_or('?')
    }
}

const FRAGMENTS: &[&str] = &[
    "<|#|>",
    "<|#|>",
    "<|#|>",
    "entity",
    "entity",
    "relation",
    "relationship",
    "Entity",
    "<|COMPLETE|>",
    "<|complete|>",
    "\n",
    "\n",
    "\r\n",
    "\r",
    " ",
    "\t",
    "\u{a0}",
    "\u{3000}",
    "\"",
    "'",
    "“",
    "”",
    "‘",
    "’",
    "《",
    "》",
    "「",
    "」",
    "中",
    "国 ",
    "人工智能",
    "Ａｐｐｌｅ",
    "１２",
    "｜",
    "＃",
    "＜",
    "＞",
    "<",
    ">",
    "|",
    "#",
    "\\",
    "<|##|>",
    "<||>",
    "|#|>",
    "<|#|",
    "< |#| >",
    "||#||",
    "<think>",
    "</think>",
    "<p>",
    "</p>",
    "<br/>",
    "12",
    "1.2",
    "2024",
    "person",
    "Natural Object",
    "a, b",
    ",",
    "，",
    "__proto__",
    "constructor",
    "(",
    ")",
    "/",
    "Alex",
    "Bob",
    "A description.",
    "entity<|#|>Alex<|#|>person<|#|>A person.",
    "relation<|#|>Alex<|#|>Bob<|#|>friends<|#|>Friends.",
    "entity<|#|>中 国<|#|>地点<|#|>国家。",
];

fn random_answer(rng: &mut Rng) -> String {
    let mut answer = String::new();
    let pieces = 1 + rng.below(40);
    for _ in 0..pieces {
        match rng.below(20) {
            0..=13 => answer.push_str(FRAGMENTS[rng.below(FRAGMENTS.len())]),
            14..=17 => {
                for _ in 0..1 + rng.below(8) {
                    answer.push(rng.unicode_char());
                }
            }
            18 => {
                // A very long line: a fragment repeated.
                let fragment = FRAGMENTS[rng.below(FRAGMENTS.len())];
                answer.push_str(&fragment.replace('\n', " ").repeat(50 + rng.below(400)));
            }
            _ => answer.push_str(&"x".repeat(200 + rng.below(400))),
        }
    }
    answer
}

fn assert_name_invariants(name: &str, input: &str) {
    assert!(!name.is_empty(), "empty name from {input:?}");
    assert!(
        name.chars().count() <= MAX_NAME_CHARS,
        "long name from {input:?}"
    );
    assert!(!name.contains(TUPLE_DELIMITER), "{name:?} from {input:?}");
    assert!(
        !name.contains(['\n', '\r']),
        "newline in {name:?} from {input:?}"
    );
    assert_eq!(name, name.trim(), "untrimmed {name:?} from {input:?}");
}

fn assert_invariants(parsed: &Extraction, input: &str) {
    for e in &parsed.entities {
        assert_name_invariants(&e.name, input);
        assert!(!e.entity_type.is_empty(), "empty type from {input:?}");
        assert_eq!(
            e.entity_type,
            e.entity_type.to_lowercase(),
            "type case from {input:?}"
        );
        assert!(
            !e.entity_type.chars().any(char::is_whitespace),
            "space in type {:?} from {input:?}",
            e.entity_type
        );
        assert!(!e.entity_type.contains(FORBIDDEN_TYPE_CHARS));
        assert!(!FORBIDDEN_TYPES.contains(&e.entity_type.as_str()));
        assert!(!e.description.trim().is_empty(), "empty description");
    }
    for r in &parsed.relations {
        assert_name_invariants(&r.source, input);
        assert_name_invariants(&r.target, input);
        assert_ne!(r.source, r.target, "self-loop from {input:?}");
        assert!(!r.description.trim().is_empty(), "empty description");
        assert_eq!(r.weight, 1.0);
    }
}

#[test]
fn fuzz_parse_never_panics_and_keeps_its_invariants() {
    let mut rng = Rng(0x5EED_1234_ABCD_0001);
    let mut entities = 0usize;
    let mut relations = 0usize;
    let mut previous = Extraction::default();
    for _ in 0..5000 {
        let answer = random_answer(&mut rng);
        let parsed = parse(&answer);
        assert_invariants(&parsed, &answer);
        entities += parsed.entities.len();
        relations += parsed.relations.len();
        let merged = merge_gleaning(previous, parsed.clone());
        assert_invariants(&merged, &answer);
        previous = parsed;
    }
    // The generator does reach the accepting paths, not only the rejecting ones.
    assert!(entities > 500, "only {entities} entities");
    assert!(relations > 100, "only {relations} relations");
}

#[test]
fn fuzz_mutated_good_answers() {
    let good = "entity<|#|>Alex<|#|>person<|#|>A person.\n\
                entity<|#|>北京<|#|>地点<|#|>首都。\n\
                relation<|#|>Alex<|#|>北京<|#|>visits，travel<|#|>Alex visits Beijing.\n\
                <|COMPLETE|>";
    let chars: Vec<char> = good.chars().collect();
    let mut rng = Rng(42);
    for _ in 0..5000 {
        let mut mutated = chars.clone();
        for _ in 0..1 + rng.below(6) {
            let at = rng.below(mutated.len() + 1);
            match rng.below(3) {
                0 if at < mutated.len() => {
                    mutated.remove(at);
                }
                1 => mutated.insert(at, rng.unicode_char()),
                _ => {
                    let fragment = FRAGMENTS[rng.below(FRAGMENTS.len())];
                    for (offset, c) in fragment.chars().enumerate() {
                        mutated.insert(at + offset, c);
                    }
                }
            }
        }
        let answer: String = mutated.into_iter().collect();
        assert_invariants(&parse(&answer), &answer);
    }
}

#[test]
fn fuzz_normalize_name_on_random_unicode() {
    let mut rng = Rng(7);
    for _ in 0..5000 {
        let len = rng.below(300);
        let raw: String = (0..len)
            .map(|_| {
                if rng.below(4) == 0 {
                    FRAGMENTS[rng.below(FRAGMENTS.len())]
                        .chars()
                        .next()
                        .unwrap_or(' ')
                } else {
                    rng.unicode_char()
                }
            })
            .collect();
        if let Some(name) = normalize_name(&raw) {
            assert_name_invariants(&name, &raw);
        }
    }
}

#[test]
fn huge_hostile_inputs_are_handled() {
    let inputs = [
        "|".repeat(200_000),
        "#".repeat(200_000),
        "<".repeat(200_000),
        "<|".repeat(100_000),
        "<|#|>".repeat(100_000),
        "<think>".repeat(50_000),
        "</think>".repeat(50_000),
        "entity<|#|>".repeat(50_000),
        format!("entity<|#|>{}<|#|>person<|#|>d", "中 ".repeat(100_000)),
        "<p".repeat(100_000),
        "entity<|#|>A<|#|>t<|#|>d<|#|>".repeat(20_000),
    ];
    for input in &inputs {
        let parsed = parse(input);
        assert_invariants(&parsed, "(huge input)");
    }
    let glued = parse(&inputs[10]);
    assert_eq!(glued.entities.len(), 20_000);
}
