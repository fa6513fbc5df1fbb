//! The normalisation rules for entity types and names.

use super::*;
use crate::records::parse;

// ---------------------------------------------------------------------------------
// Types
// ---------------------------------------------------------------------------------

#[test]
fn entity_types_are_normalised() {
    let cases = [
        ("person", Some("person")),
        ("Person", Some("person")),
        ("PERSON", Some("person")),
        ("Natural Object", Some("naturalobject")),
        ("\"Organization\"", Some("organization")),
        ("“Geo”", Some("geo")),
        ("or\"gan\"ization", Some("organization")),
        ("Person, Organization", Some("person")),
        (", Organization", Some("organization")),
        ("Person，Organization", Some("person")),
        ("ＰＥＲＳＯＮ", Some("person")),
        ("地点", Some("地点")),
        ("Event\u{a0}Type", Some("eventtype")),
        ("", None),
        ("   ", None),
        ("\"\"", None),
        (",", None),
        (" , , ", None),
        ("person's", None),
        ("(person)", None),
        ("<person>", None),
        ("person|place", None),
        ("person/place", None),
        ("person\\place", None),
        ("（person）", None),
        ("__proto__", None),
        ("Constructor", None),
        ("PROTOTYPE", None),
        // Spaces are removed before the check: this is `prototype` too.
        ("Proto Type", None),
        ("＂Person＂", Some("person")),
    ];
    for (raw, expected) in cases {
        assert_eq!(normalize_type(raw).as_deref(), expected, "type {raw:?}");
    }
}

#[test]
fn invalid_type_drops_the_entity() {
    let parsed = parse("entity<|#|>Alex<|#|>person (main)<|#|>A person.");
    assert!(parsed.entities.is_empty());
    assert_eq!(parsed.skipped, 1);
}

// ---------------------------------------------------------------------------------
// Names
// ---------------------------------------------------------------------------------

#[test]
fn name_normalisation_cases() {
    let cases: &[(&str, Option<&str>)] = &[
        // Case is preserved; whitespace collapses.
        ("Apple", Some("Apple")),
        ("apple", Some("apple")),
        ("  New   York\tCity \n", Some("New York City")),
        ("New\u{a0}York", Some("New York")),
        ("New\u{202f}York", Some("New York")),
        // CJK spacing.
        ("中 国", Some("中国")),
        ("中   华 人 民", Some("中华人民")),
        ("苹果 AI", Some("苹果AI")),
        ("AI 芯片", Some("AI芯片")),
        ("iPhone 15 手机", Some("iPhone 15手机")),
        ("中国\u{3000}银行", Some("中国银行")),
        ("中国 - 银行", Some("中国 - 银行")),
        // Full-width ASCII.
        ("Ａｐｐｌｅ", Some("Apple")),
        ("ＧＰＴ－４", Some("GPT-4")),
        ("Ｃ＋＋", Some("C++")),
        ("２０２４", Some("2024")),
        // Outer quotes.
        ("\"Apple\"", Some("Apple")),
        ("'Apple'", Some("Apple")),
        ("“Apple”", Some("Apple")),
        ("‘Apple’", Some("Apple")),
        ("《红楼梦》", Some("红楼梦")),
        ("「東京」", Some("東京")),
        ("\" Apple \"", Some("Apple")),
        ("\"A\" and \"B\"", Some("\"A\" and \"B\"")),
        // Inner quotes.
        ("The “Big” Apple", Some("The Big Apple")),
        ("O'Brien", Some("O'Brien")),
        ("\"苹果\"公司", Some("苹果公司")),
        ("苹果'公司'", Some("苹果公司")),
        ("Rock ‘n’ Roll", Some("Rock n Roll")),
        // HTML tags.
        ("<p>Apple</p>", Some("Apple")),
        ("Apple<br>Inc", Some("AppleInc")),
        ("Apple<br/>", Some("Apple")),
        ("Apple<BR />", Some("Apple")),
        ("a<b>c", Some("a<b>c")),
        // Numbers.
        ("1", None),
        ("12", None),
        ("１２", None),
        (" 7 ", None),
        ("123", Some("123")),
        ("2024", Some("2024")),
        ("1.2", None),
        ("3.1.4", None),
        ("1.2.3.", Some("1.2.3.")), // six characters: kept
        ("12.34.5", Some("12.34.5")),
        ("v1.2", Some("v1.2")),
        ("1.5x", Some("1.5x")),
        (".", None),
        // Empty.
        ("", None),
        ("   ", None),
        ("\"\"", None),
        ("“”", None),
        ("<p></p>", None),
    ];
    for (raw, expected) in cases {
        assert_eq!(normalize_name(raw).as_deref(), *expected, "name {raw:?}");
    }
}

#[test]
fn names_are_truncated_at_a_char_boundary() {
    let long = "名".repeat(300);
    let name = normalize_name(&long).unwrap();
    assert_eq!(name.chars().count(), MAX_NAME_CHARS);
    assert!(name.chars().all(|c| c == '名'));

    // A cut that lands after a space does not leave trailing whitespace.
    let spaced = format!("{} tail", "a".repeat(MAX_NAME_CHARS - 1));
    let name = normalize_name(&spaced).unwrap();
    assert_eq!(name, "a".repeat(MAX_NAME_CHARS - 1));

    let parsed = parse(&format!(
        "entity<|#|>{}<|#|>person<|#|>Long.",
        "x".repeat(1000)
    ));
    assert_eq!(parsed.entities[0].name.len(), MAX_NAME_CHARS);
}

#[test]
fn names_can_never_rebuild_the_delimiter() {
    assert_eq!(normalize_name("a<|#<p>|>b"), None);
    assert_eq!(normalize_name("a\nb").as_deref(), Some("a b"));
}
