use super::*;

const CURIE: &str = "Marie Curie was a physicist and chemist who was born in Warsaw, Poland. \
    She moved to Paris in 1891 and studied at the University of Paris. There she met Pierre \
    Curie, and Marie Curie married Pierre Curie in 1895. Together the Curies discovered \
    polonium and radium. In 1903 Marie Curie and Pierre Curie shared the Nobel Prize in \
    Physics with Henri Becquerel. Curie later won a second Nobel Prize in Chemistry in 1911.";

/// Checks the whole extraction format and returns the records without the terminator.
fn records(output: &str) -> Vec<Vec<String>> {
    let lines: Vec<&str> = output.split('\n').collect();
    assert_eq!(lines.last(), Some(&"<|COMPLETE|>"), "{output}");
    let mut seen_relation = false;
    let mut out = Vec::new();
    for line in &lines[..lines.len() - 1] {
        let fields: Vec<String> = line.split("<|#|>").map(str::to_string).collect();
        match fields[0].as_str() {
            "entity" => {
                assert_eq!(fields.len(), 4, "{line}");
                assert!(!seen_relation, "entity after relation: {output}");
            }
            "relation" => {
                assert_eq!(fields.len(), 5, "{line}");
                seen_relation = true;
            }
            other => panic!("unknown record {other:?} in {output}"),
        }
        for field in &fields {
            assert!(!field.trim().is_empty(), "empty field in {line:?}");
            assert!(
                !field.contains("<|") && !field.contains("|>"),
                "delimiter in {line:?}"
            );
            assert!(
                !field.chars().any(char::is_control),
                "control char in {line:?}"
            );
        }
        out.push(fields);
    }
    out
}

fn entity<'a>(records: &'a [Vec<String>], name: &str) -> Option<&'a Vec<String>> {
    records.iter().find(|r| r[0] == "entity" && r[1] == name)
}

fn relation<'a>(records: &'a [Vec<String>], a: &str, b: &str) -> Option<&'a Vec<String>> {
    records
        .iter()
        .find(|r| r[0] == "relation" && (r[1] == a && r[2] == b || r[1] == b && r[2] == a))
}

#[test]
fn extracts_the_curie_paragraph() {
    let records = records(&extract(CURIE, &[]));
    let expect = [
        ("Marie Curie", "Person"),
        ("Pierre Curie", "Person"),
        ("Henri Becquerel", "Person"),
        ("University of Paris", "Organization"),
        ("Warsaw", "Location"),
        ("Poland", "Location"),
        ("Paris", "Location"),
        ("Nobel Prize in Physics", "Concept"),
    ];
    for (name, kind) in expect {
        let row = entity(&records, name).unwrap_or_else(|| panic!("{name} missing: {records:?}"));
        assert_eq!(row[2], kind, "{row:?}");
    }
    for absent in ["Curie", "Curies", "She", "There", "Together", "In", "The"] {
        assert!(
            entity(&records, absent).is_none(),
            "{absent} should not be an entity"
        );
    }
    let marie = entity(&records, "Marie Curie").unwrap();
    assert!(
        marie[3].starts_with("Marie Curie was a physicist"),
        "{marie:?}"
    );
    assert!(marie[3].chars().count() <= 300);
    let couple = relation(&records, "Marie Curie", "Pierre Curie").expect("Marie–Pierre relation");
    assert!(couple[3].contains("married"), "{couple:?}");
    assert!(couple[4].contains("married Pierre Curie"), "{couple:?}");
    assert!(relation(&records, "Warsaw", "Poland").is_some());
    let keywords: Vec<&str> = couple[3].split(", ").collect();
    assert!((1..=3).contains(&keywords.len()));
    assert!(
        keywords
            .iter()
            .all(|k| k.chars().all(|c| !c.is_uppercase()))
    );
}

#[test]
fn relation_keywords_avoid_names_and_stop_words() {
    let records = records(&extract("Alice Smith founded Acme Labs in Berlin.", &[]));
    let row = relation(&records, "Alice Smith", "Acme Labs").expect("relation");
    assert_eq!(row[3], "founded");
}

#[test]
fn entity_types_follow_the_callers_list() {
    let types: Vec<String> = ["organization", "PERSON", "geo", "event", "category"]
        .map(String::from)
        .to_vec();
    let records = records(&extract(CURIE, &types));
    assert_eq!(entity(&records, "Marie Curie").unwrap()[2], "PERSON");
    assert_eq!(entity(&records, "Poland").unwrap()[2], "geo");
    assert_eq!(
        entity(&records, "University of Paris").unwrap()[2],
        "organization"
    );
    assert_eq!(
        entity(&records, "Nobel Prize in Physics").unwrap()[2],
        "category"
    );
    let odd: Vec<String> = vec!["a b|c".into(), "<|#|>".into()];
    for row in records_of(&extract(CURIE, &odd)) {
        if row[0] == "entity" {
            assert!(row[2] == "abc" || row[2] == "Other", "{row:?}");
        }
    }
}

fn records_of(output: &str) -> Vec<Vec<String>> {
    records(output)
}

#[test]
fn extraction_is_deterministic() {
    assert_eq!(extract(CURIE, &[]), extract(CURIE, &[]));
}

#[test]
fn empty_and_nameless_chunks_give_only_the_terminator() {
    assert_eq!(extract("", &[]), "<|COMPLETE|>");
    assert_eq!(extract("all lowercase words here.", &[]), "<|COMPLETE|>");
    assert_eq!(glean(), "<|COMPLETE|>");
}

/// Pronounceable capitalised names, distinct for distinct `i`.
fn made_up_name(i: usize) -> String {
    const SYLLABLES: [&str; 16] = [
        "ka", "lo", "mi", "ra", "zu", "te", "no", "vi", "sa", "do", "ne", "pu", "ri", "ga", "fe",
        "tho",
    ];
    let word = |n: usize| {
        let s = format!(
            "{}{}{}",
            SYLLABLES[n % 16],
            SYLLABLES[(n / 16) % 16],
            SYLLABLES[(n / 256) % 16]
        );
        let mut chars = s.chars();
        chars
            .next()
            .map(|c| c.to_uppercase().chain(chars).collect::<String>())
            .unwrap_or_default()
    };
    format!("{} {}", word(i + 300), word(i * 7 + 1000))
}

#[test]
fn limits_hold_on_a_crowded_text() {
    let sentences: Vec<String> = (0..200)
        .map(|i| {
            let [a, b, c] = [i, i + 1, i + 2].map(made_up_name);
            format!("Yesterday {a} met {b} and {c} near the old mill.")
        })
        .collect();
    let records = records(&extract(&sentences.join(" "), &[]));
    let entities = records.iter().filter(|r| r[0] == "entity").count();
    assert_eq!(entities, 40);
    assert_eq!(records.len(), 100);
    let names: BTreeSet<&str> = records
        .iter()
        .filter(|r| r[0] == "entity")
        .map(|r| r[1].as_str())
        .collect();
    for row in records.iter().filter(|r| r[0] == "relation") {
        assert!(
            names.contains(row[1].as_str()) && names.contains(row[2].as_str()),
            "{row:?}"
        );
    }
}

#[test]
fn list_sentences_do_not_become_cliques() {
    let list: Vec<String> = (0..12).map(made_up_name).collect();
    let text = format!("The delegates were {}.", list.join(", "));
    let records = records(&extract(&text, &[]));
    let relations = records.iter().filter(|r| r[0] == "relation").count();
    assert_eq!(records.len() - relations, 12);
    assert!(relations <= 12 * 3, "{relations}");
}

/// Deterministic xorshift generator for the hostile-input loop.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[(self.next() % items.len() as u64) as usize]
    }
}

fn hostile_text(rng: &mut Rng) -> String {
    const PIECES: [&str; 40] = [
        "<|#|>",
        "<|",
        "|>",
        "<|COMPLETE|>",
        "|",
        "<",
        ">",
        "#",
        "\n",
        "\r\n",
        "\t",
        "\u{0}",
        "\u{1b}[31m",
        "\u{200B}",
        "\u{FEFF}",
        "Marie",
        "Curie",
        "NASA",
        "University",
        "of",
        "the",
        "The",
        "Dr.",
        ".",
        "!",
        "?",
        " ",
        "  ",
        "'s",
        "’",
        "-",
        "é",
        "Łódź",
        "東京",
        "。",
        "\"",
        "(",
        ")",
        "entity",
        "relation",
    ];
    let len = (rng.next() % 120) as usize;
    let mut out = String::new();
    for _ in 0..len {
        out.push_str(rng.pick(&PIECES));
        if rng.next().is_multiple_of(3) {
            out.push(' ');
        }
        if rng.next().is_multiple_of(17) {
            out.push(char::from_u32((rng.next() % 0x3000) as u32).unwrap_or('?'));
        }
    }
    out
}

#[test]
fn hostile_inputs_never_panic_or_leak_delimiters() {
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let types: Vec<String> = vec!["Person".into(), "<|#|>".into(), "geo\n".into()];
    for _ in 0..400 {
        let text = hostile_text(&mut rng);
        records(&extract(&text, &types));
        records(&extract(&text, &[]));
        let json: serde_json::Value = serde_json::from_str(&keywords(&text)).expect("valid JSON");
        assert!(json["high_level_keywords"].is_array() && json["low_level_keywords"].is_array());
        let fragments = vec![text.clone(), hostile_text(&mut rng)];
        assert!(!summarize("Entity", &text, &fragments).is_empty());
        let passages = vec![(text.clone(), hostile_text(&mut rng))];
        let refs = vec![(text.clone(), text.clone())];
        assert!(
            answer(&text, &fragments, &fragments, &passages, &refs).starts_with("**Offline mode**")
        );
        assert!(bypass(&text).contains("Offline mode"));
    }
}

#[test]
fn huge_inputs_finish() {
    let paragraph = format!("{CURIE}\n\n");
    let huge = paragraph.repeat(1_000_000 / paragraph.len() + 1);
    let records = records(&extract(&huge, &[]));
    assert!(records.len() <= 100);
    let no_punctuation = "Alpha Beta gamma ".repeat(60_000);
    records_of(&extract(&no_punctuation, &[]));
    let one_word = "X".repeat(1_000_000);
    records_of(&extract(&one_word, &[]));
    assert!(keywords(&huge).len() < 10_000);
}

#[test]
fn keywords_split_specific_and_thematic_terms() {
    let json: serde_json::Value = serde_json::from_str(&keywords(
        "How did Marie Curie's research on \"radioactive decay\" influence modern medicine?",
    ))
    .unwrap();
    let list = |key: &str| -> Vec<String> {
        json[key]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap().to_string())
            .collect()
    };
    let (high, low) = (list("high_level_keywords"), list("low_level_keywords"));
    assert_eq!(low[0], "radioactive decay");
    assert!(low.contains(&"Marie Curie".to_string()), "{low:?}");
    assert!(low.contains(&"research".to_string()), "{low:?}");
    assert!(
        !low.iter().any(|k| k == "how" || k == "did" || k == "on"),
        "{low:?}"
    );
    assert!(
        high.contains(&"influence modern medicine".to_string()),
        "{high:?}"
    );
    assert!(high.contains(&"radioactive decay".to_string()), "{high:?}");
}

#[test]
fn keywords_are_never_both_empty_for_a_real_query() {
    for query in ["Radioactivity?", "What is NASA?", "explain photosynthesis"] {
        let json: serde_json::Value = serde_json::from_str(&keywords(query)).unwrap();
        assert!(
            !json["high_level_keywords"].as_array().unwrap().is_empty(),
            "{query}"
        );
        assert!(
            !json["low_level_keywords"].as_array().unwrap().is_empty(),
            "{query}"
        );
    }
    let json: serde_json::Value = serde_json::from_str(&keywords("   ")).unwrap();
    assert!(json["high_level_keywords"].as_array().unwrap().is_empty());
}

#[test]
fn summarize_deduplicates_in_order_and_caps() {
    let fragments: Vec<String> = vec![
        "Marie Curie was a physicist. She won two Nobel Prizes.".into(),
        "She won two Nobel Prizes! Marie Curie discovered polonium.".into(),
        "marie curie was a physicist".into(),
    ];
    assert_eq!(
        summarize("Entity", "Marie Curie", &fragments),
        "Marie Curie was a physicist. She won two Nobel Prizes. Marie Curie discovered polonium."
    );
    let many: Vec<String> = (0..100)
        .map(|i| format!("Fact number {i} is distinct."))
        .collect();
    let merged = summarize("Relation", "(A, B)", &many);
    assert!(
        merged.chars().count() <= 1200 && merged.ends_with("is distinct."),
        "{merged}"
    );
    let exact = vec![format!("{}.", "a".repeat(1199))];
    assert_eq!(summarize("Entity", "X", &exact), exact[0]);
    let giant = vec!["word ".repeat(1000)];
    assert!(summarize("Entity", "X", &giant).chars().count() <= 1200);
    assert!(summarize("Relation", "(A, B)", &[]).contains("(A, B)"));
}

/// `(reference_id, text)` or `(reference_id, file_path)` pairs.
type Pairs = Vec<(String, String)>;

fn curie_context() -> (Pairs, Pairs) {
    let passages = vec![
        (
            "1".to_string(),
            "The weather in Paris was mild. Tourists visited museums.".to_string(),
        ),
        (
            "2".to_string(),
            "Marie Curie discovered polonium in 1898. She named polonium after Poland.".to_string(),
        ),
        (String::new(), "Polonium is highly radioactive.".to_string()),
    ];
    let references = vec![
        ("1".to_string(), "paris.txt".to_string()),
        ("2".to_string(), "curie.md".to_string()),
    ];
    (passages, references)
}

#[test]
fn answer_quotes_best_sentences_and_cites_them() {
    let (passages, references) = curie_context();
    let entities = vec![
        "Marie Curie: a physicist".to_string(),
        "Polonium: an element".to_string(),
    ];
    let out = answer(
        "Who discovered polonium?",
        &entities,
        &[],
        &passages,
        &references,
    );
    let lines: Vec<&str> = out.lines().collect();
    assert!(lines[0].starts_with("**Offline mode** — no language model is configured"));
    assert!(
        out.contains("- Marie Curie discovered polonium in 1898. [2]"),
        "{out}"
    );
    assert!(
        lines.contains(&"- Polonium is highly radioactive."),
        "uncited quote expected: {out}"
    );
    assert!(!out.contains("Tourists"), "{out}");
    assert!(
        out.contains("Related entities: Marie Curie, Polonium."),
        "{out}"
    );
    let references_at = out.find("### References").expect("references section");
    let tail = &out[references_at..];
    assert!(tail.contains("- [2] curie.md"), "{tail}");
    assert!(
        !tail.contains("paris.txt"),
        "uncited reference listed: {tail}"
    );
    let first = out.find("discovered polonium in 1898").unwrap();
    let second = out.find("She named polonium").unwrap();
    assert!(first < second, "ties keep passage order");
}

#[test]
fn answer_falls_back_to_the_top_passage_or_says_nothing_was_found() {
    let (passages, references) = curie_context();
    let out = answer("zebra migration", &[], &[], &passages, &references);
    assert!(
        out.contains("> The weather in Paris was mild. Tourists visited museums. [1]"),
        "{out}"
    );
    assert!(out.contains("- [1] paris.txt"), "{out}");
    let none = answer("zebra migration", &[], &[], &[], &[]);
    assert!(none.contains("No relevant context was found"), "{none}");
    assert!(!none.contains("### References"));
    let graph = answer(
        "zebra migration",
        &[],
        &["Zebra -> Savanna: zebras migrate yearly".into()],
        &[],
        &[],
    );
    assert!(
        graph.contains("- Zebra -> Savanna: zebras migrate yearly"),
        "{graph}"
    );
}

#[test]
fn answer_lists_unknown_reference_ids() {
    let passages = vec![(
        "7".to_string(),
        "Polonium was found in pitchblende.".to_string(),
    )];
    let out = answer("polonium", &[], &[], &passages, &[]);
    assert!(
        out.contains("[7]") && out.contains("- [7] unknown source"),
        "{out}"
    );
}

#[test]
fn bypass_is_honest_and_echoes_the_question() {
    let out = bypass("What is the capital of France?\nAnd why?");
    assert!(out.starts_with("**Offline mode** — no language model is configured."));
    assert!(
        out.contains("> What is the capital of France?\n> And why?"),
        "{out}"
    );
    assert!(bypass("").contains("(empty question)"));
}
