//! Tests of the record parser: known-good answers, every repair the parser promises,
//! the gleaning merge; `fuzz` checks, with a fixed seed, the invariants the graph
//! code relies on. The normalisation rules are tested beside them in `normalize`.

use super::*;

fn entity(name: &str, entity_type: &str, description: &str) -> EntityRecord {
    EntityRecord {
        name: name.to_string(),
        entity_type: entity_type.to_string(),
        description: description.to_string(),
    }
}

fn relation(source: &str, target: &str, keywords: &str, description: &str) -> RelationRecord {
    RelationRecord {
        source: source.to_string(),
        target: target.to_string(),
        keywords: keywords.to_string(),
        description: description.to_string(),
        weight: 1.0,
    }
}

fn names(extraction: &Extraction) -> Vec<&str> {
    extraction
        .entities
        .iter()
        .map(|e| e.name.as_str())
        .collect()
}

// ---------------------------------------------------------------------------------
// Known-good answers
// ---------------------------------------------------------------------------------

#[test]
fn parses_a_well_formed_answer() {
    let answer = "entity<|#|>Alex<|#|>person<|#|>Alex is a character who feels frustration.\n\
                  entity<|#|>Taylor<|#|>person<|#|>Taylor is portrayed with authoritarian certainty.\n\
                  entity<|#|>The Device<|#|>equipment<|#|>The Device is central to the story.\n\
                  relation<|#|>Alex<|#|>Taylor<|#|>power dynamics, observation<|#|>Alex observes Taylor.\n\
                  relation<|#|>Taylor<|#|>The Device<|#|>reverence, significance<|#|>Taylor shows reverence towards the device.\n\
                  <|COMPLETE|>";
    let parsed = parse(answer);
    assert_eq!(
        parsed,
        Extraction {
            entities: vec![
                entity(
                    "Alex",
                    "person",
                    "Alex is a character who feels frustration."
                ),
                entity(
                    "Taylor",
                    "person",
                    "Taylor is portrayed with authoritarian certainty."
                ),
                entity(
                    "The Device",
                    "equipment",
                    "The Device is central to the story."
                ),
            ],
            relations: vec![
                relation(
                    "Alex",
                    "Taylor",
                    "power dynamics, observation",
                    "Alex observes Taylor."
                ),
                relation(
                    "Taylor",
                    "The Device",
                    "reverence, significance",
                    "Taylor shows reverence towards the device."
                ),
            ],
            skipped: 0,
            complete: true,
        }
    );
}

#[test]
fn parses_a_chinese_answer() {
    let answer = "entity<|#|>北京<|#|>地点<|#|>北京是中国的首都。\n\
                  entity<|#|>中国<|#|>国家<|#|>中国是一个国家。\n\
                  relation<|#|>北京<|#|>中国<|#|>首都，政治中心<|#|>北京是中国的首都。\n\
                  <|COMPLETE|>";
    let parsed = parse(answer);
    assert_eq!(
        parsed.entities,
        vec![
            entity("北京", "地点", "北京是中国的首都。"),
            entity("中国", "国家", "中国是一个国家。"),
        ]
    );
    assert_eq!(
        parsed.relations,
        vec![relation(
            "北京",
            "中国",
            "首都,政治中心",
            "北京是中国的首都。"
        )]
    );
    assert!(parsed.complete);
    assert_eq!(parsed.skipped, 0);
}

#[test]
fn empty_answer_is_empty_and_incomplete() {
    assert_eq!(parse(""), Extraction::default());
    assert_eq!(parse("  \n\r\n  "), Extraction::default());
    let only_marker = parse("<|COMPLETE|>");
    assert!(only_marker.complete);
    assert_eq!(only_marker.skipped, 0);
    assert!(only_marker.entities.is_empty());
}

#[test]
fn missing_completion_marker_is_only_noted() {
    let parsed = parse("entity<|#|>Alex<|#|>person<|#|>A person.");
    assert!(!parsed.complete);
    assert_eq!(parsed.entities, vec![entity("Alex", "person", "A person.")]);
}

#[test]
fn completion_marker_is_case_insensitive_and_splits_records() {
    let parsed = parse(
        "entity<|#|>Alex<|#|>person<|#|>A person.<|complete|>\
         entity<|#|>Bob<|#|>person<|#|>Another person.<|Complete|>",
    );
    assert!(parsed.complete);
    assert_eq!(names(&parsed), ["Alex", "Bob"]);
    assert_eq!(parsed.skipped, 0);
}

#[test]
fn windows_line_endings_and_surrounding_spaces() {
    let parsed = parse(
        "  entity <|#|> Alex <|#|> person <|#|> A person. \r\n\
         relation<|#|>Alex<|#|>Bob<|#|>  friends ,  colleagues <|#|>They work together.\r\n\
         <|COMPLETE|>\r\n",
    );
    assert_eq!(parsed.entities, vec![entity("Alex", "person", "A person.")]);
    assert_eq!(
        parsed.relations,
        vec![relation(
            "Alex",
            "Bob",
            "friends , colleagues",
            "They work together."
        )]
    );
    assert_eq!(parsed.skipped, 0);
}

// ---------------------------------------------------------------------------------
// Delimiter repair
// ---------------------------------------------------------------------------------

#[test]
fn repairs_every_corrupted_delimiter_variant() {
    let variants = [
        "<|#|>",
        "<|##|>",
        "<|###|>",
        "<|#|#|>",
        "<|#||#|>",
        "<|\\#|>",
        "<||>",
        "<|>",
        "<|||>",
        "<#|>",
        "<|#>",
        "<#>",
        "<|# |>",
        "<| #|>",
        "< |#| >",
        "< | # | >",
        "<||#||>",
        "<||#|>",
        "<|#||>",
        "|#|>",
        "||#|>",
        "||#||",
        "<｜#｜>",
        "＜｜＃｜＞",
        "<|＃|>",
        "｜#｜>",
    ];
    for variant in variants {
        let line = format!("entity{variant}Alex{variant}person{variant}A person.");
        let parsed = parse(&line);
        assert_eq!(
            parsed.entities,
            vec![entity("Alex", "person", "A person.")],
            "variant {variant:?}"
        );
        assert_eq!(parsed.skipped, 0, "variant {variant:?}");
    }
}

#[test]
fn repairs_delimiters_missing_their_closing_bracket() {
    // `<|#|` and `<|#||` followed by a field: the `>` was dropped.
    for variant in ["<|#|", "<|#||", "<||"] {
        let line = format!("entity{variant}Alex{variant}person{variant}A person.");
        let parsed = parse(&line);
        assert_eq!(
            parsed.entities,
            vec![entity("Alex", "person", "A person.")],
            "variant {variant:?}"
        );
    }
}

#[test]
fn repairs_mixed_variants_on_one_line() {
    let parsed = parse("relation<|##|>Alex< |#| >Bob|#|>friends<|#|A long friendship.");
    assert_eq!(
        parsed.relations,
        vec![relation("Alex", "Bob", "friends", "A long friendship.")]
    );
}

#[test]
fn stray_bar_after_a_delimiter_is_swallowed() {
    let parsed = parse("entity<|#|>|Alex<|#|>person<|#|>|A person.");
    assert_eq!(parsed.entities, vec![entity("Alex", "person", "A person.")]);
}

#[test]
fn ordinary_text_is_not_taken_for_a_delimiter() {
    let cases = [
        "C# | F#",
        "a < b | c > d",
        "x | # | y",
        "<|endoftext|>",
        "名称｜描述",
        "#1 | #2",
        "a|b",
        "<p>",
    ];
    for text in cases {
        assert_eq!(repair_delimiters(text), text, "text {text:?}");
    }
    let parsed = parse("entity<|#|>C#<|#|>language<|#|>C# | F# are languages; a < b.");
    assert_eq!(
        parsed.entities,
        vec![entity("C#", "language", "C# | F# are languages; a < b.")]
    );
}

#[test]
fn delimiter_next_to_hash_text_is_still_found() {
    let parsed = parse("entity<|#|>#hashtag<|#|>tag<|#|>A #tag.");
    assert_eq!(parsed.entities, vec![entity("#hashtag", "tag", "A #tag.")]);
}

#[test]
fn doubled_and_trailing_delimiters_are_tolerated() {
    let parsed = parse(
        "entity<|#|>Alex<|#|><|#|>person<|#|>A person.<|#|>\n\
         <|#|>entity<|#|>Bob<|#|>person<|#|>Another person.",
    );
    assert_eq!(names(&parsed), ["Alex", "Bob"]);
    assert_eq!(parsed.skipped, 0);
}

// ---------------------------------------------------------------------------------
// Glued records
// ---------------------------------------------------------------------------------

#[test]
fn splits_records_glued_onto_one_line() {
    let parsed = parse(
        "entity<|#|>Alex<|#|>person<|#|>A person.<|#|>entity<|#|>Bob<|#|>person<|#|>Another.\
         <|#|>relation<|#|>Alex<|#|>Bob<|#|>friends<|#|>Friends.\
         <|#|>relationship<|#|>Bob<|#|>Alex<|#|>trust<|#|>Bob trusts Alex.\
         <|#|>Entity<|#|>Carol<|#|>person<|#|>Third.<|COMPLETE|>",
    );
    assert_eq!(names(&parsed), ["Alex", "Bob", "Carol"]);
    assert_eq!(
        parsed.relations,
        vec![
            relation("Alex", "Bob", "friends", "Friends."),
            relation("Bob", "Alex", "trust", "Bob trusts Alex."),
        ]
    );
    assert_eq!(parsed.skipped, 0);
    assert!(parsed.complete);
}

#[test]
fn glued_split_survives_corrupted_delimiters() {
    let parsed =
        parse("entity<|##|>Alex<||>person<|#|>A person.|#|>entity<|#>Bob<#|>person<|#|>B.");
    assert_eq!(names(&parsed), ["Alex", "Bob"]);
}

#[test]
fn kind_words_used_as_values_do_not_split_a_record() {
    // A document about data modelling: entities named after the record kinds.
    let parsed = parse(
        "entity<|#|>entity<|#|>concept<|#|>An entity is a thing.\n\
         entity<|#|>Relationship<|#|>relation<|#|>Links entities.\n\
         relation<|#|>entity<|#|>relationship<|#|>relation<|#|>Entities take part in relationships.",
    );
    assert_eq!(
        parsed.entities,
        vec![
            entity("entity", "concept", "An entity is a thing."),
            entity("Relationship", "relation", "Links entities."),
        ]
    );
    assert_eq!(
        parsed.relations,
        vec![relation(
            "entity",
            "relationship",
            "relation",
            "Entities take part in relationships."
        )]
    );
    assert_eq!(parsed.skipped, 0);
}

// ---------------------------------------------------------------------------------
// Think blocks
// ---------------------------------------------------------------------------------

#[test]
fn think_blocks_are_removed() {
    let parsed = parse(
        "<think>\nLet me draft:\nentity<|#|>Draft<|#|>person<|#|>Not final.\n<|COMPLETE|>\n</think>\n\
         entity<|#|>Alex<|#|>person<|#|>A person.\n\
         <THINK>more\nthoughts</Think>entity<|#|>Bob<|#|>person<|#|>B.",
    );
    assert_eq!(names(&parsed), ["Alex", "Bob"]);
    // The marker inside the reasoning does not count.
    assert!(!parsed.complete);
    assert_eq!(parsed.skipped, 0);
}

#[test]
fn orphan_closing_think_tag_drops_the_reasoning_before_it() {
    let parsed = parse(
        "so the entities are...\nentity<|#|>Draft<|#|>person<|#|>Draft.\n</think>\n\
         entity<|#|>Alex<|#|>person<|#|>A person.\n<|COMPLETE|>",
    );
    assert_eq!(names(&parsed), ["Alex"]);
    assert!(parsed.complete);
    assert_eq!(parsed.skipped, 0);
}

#[test]
fn unclosed_think_tag_only_loses_the_tag() {
    let parsed = parse("<think>entity<|#|>Alex<|#|>person<|#|>A person.\n<|COMPLETE|>");
    assert_eq!(names(&parsed), ["Alex"]);
    assert!(parsed.complete);
    assert_eq!(parsed.skipped, 0);
}

#[test]
fn stray_closing_tags_after_a_block_are_removed() {
    let parsed =
        parse("<think>x</think>entity<|#|>Alex<|#|>person<|#|>A person.</think>\n<|COMPLETE|>");
    assert_eq!(parsed.entities, vec![entity("Alex", "person", "A person.")]);
}

// ---------------------------------------------------------------------------------
// Malformed rows
// ---------------------------------------------------------------------------------

#[test]
fn malformed_rows_are_skipped_and_counted() {
    let answer = [
        "Here are the entities I found:",                       // prose
        "```",                                                  // code fence
        "entity<|#|>Alex<|#|>person",                           // 3 fields
        "entity<|#|>Alex<|#|>person<|#|>desc<|#|>x<|#|>y",      // 6 fields
        "relation<|#|>Alex<|#|>Bob<|#|>desc",                   // relation, 4 fields
        "thing<|#|>Alex<|#|>person<|#|>desc",                   // unknown kind
        "item<|#|>Alex<|#|>Bob<|#|>kw<|#|>desc",                // unknown kind, 5 fields
        "entity<|#|>  <p></p> <|#|>person<|#|>desc",            // name empty after cleanup
        "entity<|#|>12<|#|>person<|#|>desc",                    // name is list numbering
        "entity<|#|>Alex<|#|>a/b<|#|>desc",                     // bad type
        "entity<|#|>Alex<|#|>person<|#|>\"\"",                  // empty description
        "relation<|#|>Alex<|#|>Alex<|#|>self<|#|>A self-loop.", // self-loop
        "relation<|#|>“Alex”<|#|>Alex<|#|>self<|#|>Same name.", // self-loop after cleanup
        "relation<|#|>Alex<|#|>Bob<|#|>kw<|#|>''",              // empty description
        "relation<|#|>1.2<|#|>Bob<|#|>kw<|#|>Section number.",  // bad source
        "<|#|><|#|>",                                           // delimiters only
        "entity<|#|>Alex<|#|>person<|#|>A person.",             // the only good row
        "<|COMPLETE|>",
    ]
    .join("\n");
    let parsed = parse(&answer);
    assert_eq!(parsed.entities, vec![entity("Alex", "person", "A person.")]);
    assert!(parsed.relations.is_empty());
    assert_eq!(parsed.skipped, 16);
    assert!(parsed.complete);
}

#[test]
fn five_field_entity_row_is_a_relation() {
    let parsed = parse("entity<|#|>Alex<|#|>Bob<|#|>friends<|#|>They are friends.");
    assert!(parsed.entities.is_empty());
    assert_eq!(
        parsed.relations,
        vec![relation("Alex", "Bob", "friends", "They are friends.")]
    );
}

#[test]
fn kind_field_only_has_to_contain_the_kind() {
    let parsed = parse(
        "(\"Entity\"<|#|>Alex<|#|>person<|#|>A person.\n\
         - RELATIONSHIP<|#|>Alex<|#|>Bob<|#|>kw<|#|>Friends.",
    );
    assert_eq!(names(&parsed), ["Alex"]);
    assert_eq!(parsed.relations.len(), 1);
    assert_eq!(parsed.skipped, 0);
}

#[test]
fn fields_lose_their_surrounding_quotes() {
    let parsed = parse(
        "\"entity\"<|#|>\"Alex\"<|#|>\"person\"<|#|>\"A person.\"\n\
         relation<|#|>'Alex'<|#|>“Bob”<|#|>\"friends, work\"<|#|>‘Friends.’",
    );
    assert_eq!(parsed.entities, vec![entity("Alex", "person", "A person.")]);
    assert_eq!(
        parsed.relations,
        vec![relation("Alex", "Bob", "friends, work", "Friends.")]
    );
}

#[test]
fn names_are_normalised_in_relations_too() {
    let parsed = parse("relation<|#|>Ａｐｐｌｅ  Inc<|#|>《苹果 公司》<|#|>same<|#|>Same company.");
    assert_eq!(
        parsed.relations,
        vec![relation("Apple Inc", "苹果公司", "same", "Same company.")]
    );
}

#[test]
fn keywords_are_tidied() {
    let parsed = parse(
        "relation<|#|>A1<|#|>B1<|#|>“合作”，  \"竞争\" ,\tpartner’s   deal<|#|>Desc.\n\
         relation<|#|>A1<|#|>C1<|#|><|#|>Empty keywords collapse away.",
    );
    assert_eq!(parsed.relations[0].keywords, "合作, 竞争 , partner's deal");
    // With the empty keywords field dropped, the second row has only 4 fields.
    assert_eq!(parsed.relations.len(), 1);
    assert_eq!(parsed.skipped, 1);
}

#[test]
fn description_is_kept_verbatim_apart_from_trimming() {
    let parsed =
        parse("entity<|#|>Alex<|#|>person<|#|>  Uses \"quotes\", <b>tags</b>  and   spaces. ");
    assert_eq!(
        parsed.entities[0].description,
        "Uses \"quotes\", <b>tags</b>  and   spaces."
    );
}

// ---------------------------------------------------------------------------------
// Gleaning
// ---------------------------------------------------------------------------------

#[test]
fn gleaning_replaces_only_with_a_longer_first_description() {
    let first = parse(
        "entity<|#|>Alex<|#|>person<|#|>Short.\n\
         entity<|#|>Bob<|#|>person<|#|>A fairly long description of Bob.\n\
         entity<|#|>Alex<|#|>person<|#|>Second Alex row.\n\
         relation<|#|>Alex<|#|>Bob<|#|>kw<|#|>Short.\n\
         <|COMPLETE|>",
    );
    let gleaned = parse(
        "entity<|#|>Carol<|#|>person<|#|>New in the gleaning.\n\
         entity<|#|>Bob<|#|>person<|#|>Shorter.\n\
         entity<|#|>Alex<|#|>human<|#|>A much longer description of Alex.\n\
         relation<|#|>Bob<|#|>Alex<|#|>kw<|#|>Reverse direction is a new key.\n\
         relation<|#|>Alex<|#|>Bob<|#|>kw2<|#|>Longer relation description.\n\
         bad row\n\
         <|COMPLETE|>",
    );
    let merged = merge_gleaning(first, gleaned);
    assert_eq!(
        merged.entities,
        vec![
            // Alex: the gleaned group (one row) replaces both original rows.
            entity("Alex", "human", "A much longer description of Alex."),
            // Bob: the gleaned description is shorter, the original stays.
            entity("Bob", "person", "A fairly long description of Bob."),
            // Carol: new, appended.
            entity("Carol", "person", "New in the gleaning."),
        ]
    );
    assert_eq!(
        merged.relations,
        vec![
            relation("Alex", "Bob", "kw2", "Longer relation description."),
            relation("Bob", "Alex", "kw", "Reverse direction is a new key."),
        ]
    );
    assert_eq!(merged.skipped, 1);
    assert!(merged.complete);
}

#[test]
fn gleaning_keeps_the_original_group_on_equal_length() {
    let first = parse("entity<|#|>Alex<|#|>person<|#|>abcde\nentity<|#|>Alex<|#|>person<|#|>x");
    let gleaned = parse("entity<|#|>Alex<|#|>robot<|#|>vwxyz");
    let merged = merge_gleaning(first.clone(), gleaned);
    assert_eq!(merged.entities, first.entities);
}

#[test]
fn gleaning_compares_lengths_in_characters() {
    // 4 characters (12 bytes) against 5 characters (5 bytes): the gleaning wins.
    let first = parse("entity<|#|>Alex<|#|>person<|#|>一二三四");
    let gleaned = parse("entity<|#|>Alex<|#|>person<|#|>abcde");
    let merged = merge_gleaning(first, gleaned);
    assert_eq!(merged.entities[0].description, "abcde");
}

#[test]
fn gleaning_keeps_all_rows_of_a_replacing_group() {
    let first = parse("entity<|#|>Alex<|#|>person<|#|>a");
    let gleaned = parse(
        "entity<|#|>Alex<|#|>person<|#|>longer\n\
         entity<|#|>Bob<|#|>person<|#|>b\n\
         entity<|#|>Alex<|#|>person<|#|>x",
    );
    let merged = merge_gleaning(first, gleaned);
    assert_eq!(
        merged.entities,
        vec![
            entity("Alex", "person", "longer"),
            entity("Alex", "person", "x"),
            entity("Bob", "person", "b"),
        ]
    );
}

#[test]
fn gleaning_with_empty_passes() {
    let first = parse("entity<|#|>Alex<|#|>person<|#|>a\n<|COMPLETE|>");
    assert_eq!(
        merge_gleaning(first.clone(), Extraction::default()).entities,
        first.entities
    );
    let merged = merge_gleaning(Extraction::default(), first.clone());
    assert_eq!(merged.entities, first.entities);
    // An empty default pass is not complete.
    assert!(!merged.complete);
    assert!(merge_gleaning(first.clone(), first.clone()).complete);
}

mod fuzz;
