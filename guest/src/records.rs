//! Parsing of a language model's entity/relation extraction answer.
//!
//! LightRAG asks the model to list what a chunk mentions, one record per line, with
//! fields separated by [`TUPLE_DELIMITER`] and the list closed by
//! [`COMPLETION_MARKER`]:
//!
//! ```text
//! entity<|#|>Entity Name<|#|>type<|#|>description
//! relation<|#|>Source Entity<|#|>Target Entity<|#|>kw1, kw2<|#|>description
//! <|COMPLETE|>
//! ```
//!
//! Models do not follow that format faithfully: reasoning models prepend a
//! `<think>` block, small models mangle the delimiter (`<|##|>`, `<||>`, `|#|>` …),
//! glue two records onto one line, wrap names in quotes or write them in
//! full-width characters. Everything here therefore treats the answer as untrusted
//! input:
//!
//! * [`parse`] never panics and never fails. It repairs what it can recognise
//!   unambiguously, drops what it cannot, and counts the dropped rows in
//!   [`Extraction::skipped`] so that callers can log how noisy a model is.
//! * Names go through [`normalize_name`], so that the same entity written slightly
//!   differently by the model (`"Apple"`, `Ａｐｐｌｅ`, `Apple  `) becomes one graph
//!   node, as it would in a Python LightRAG server. Case is kept: LightRAG keeps it,
//!   and `Apple` the company and `apple` the fruit are different nodes there too.
//! * Every returned name is non-empty, at most [`MAX_NAME_CHARS`] characters, and
//!   free of newlines and of the delimiter; no relation is a self-loop; every type
//!   is lowercase without whitespace. The graph code relies on these invariants
//!   (names become storage keys and are written back into prompts in this very
//!   record format).
//!
//! [`merge_gleaning`] combines the answer of a "gleaning" pass (the model asked to
//! continue, over the same chunk) with the first answer, the way LightRAG does.
//!
//! All scanning is hand-written and linear in the answer's length (each position is
//! looked at a bounded number of times), so a hostile multi-megabyte answer costs
//! time proportional to its size, not more.

use std::collections::HashMap;
use std::hash::Hash;

/// Separates the fields of one record.
pub const TUPLE_DELIMITER: &str = "<|#|>";

/// Written by the model after its last record. Matched case-insensitively, because
/// models lowercase it often enough.
pub const COMPLETION_MARKER: &str = "<|COMPLETE|>";

/// Longest entity name kept, in characters (LightRAG's default limit). Longer names
/// are truncated: they are almost always a model pasting a sentence into the name
/// field, and names are storage keys that must stay small.
pub const MAX_NAME_CHARS: usize = 256;

/// Longest corrupted delimiter the repair step recognises, in characters. Bounding
/// it keeps the repair linear on long runs of `|` or `#`.
const MAX_DELIMITER_CHARS: usize = 16;

/// Entity types a JavaScript client would trip over when they are used as object
/// keys (the WebUI groups nodes by type); LightRAG refuses them for that reason.
const FORBIDDEN_TYPES: [&str; 3] = ["__proto__", "constructor", "prototype"];

/// Characters that make a "type" look like prose, markup or a path rather than a
/// category word; such a type means the model misplaced a field.
const FORBIDDEN_TYPE_CHARS: [char; 8] = ['\'', '(', ')', '<', '>', '|', '/', '\\'];

/// One entity row of the answer.
#[derive(Debug, Clone, PartialEq)]
pub struct EntityRecord {
    /// Normalised with [`normalize_name`]; case preserved.
    pub name: String,
    /// Lowercase, without whitespace (`Natural Object` → `naturalobject`).
    pub entity_type: String,
    /// The model's description, trimmed; never empty.
    pub description: String,
}

/// One relation row of the answer.
#[derive(Debug, Clone, PartialEq)]
pub struct RelationRecord {
    /// Normalised with [`normalize_name`]; differs from `target`.
    pub source: String,
    /// Normalised with [`normalize_name`]; differs from `source`.
    pub target: String,
    /// Comma-separated keywords, quotes and whitespace normalised; may be empty.
    pub keywords: String,
    /// The model's description, trimmed; never empty.
    pub description: String,
    /// Always 1.0: the record format has no weight field; the graph sums weights
    /// when the same relation is extracted from several chunks.
    pub weight: f64,
}

/// Everything usable in one answer (or in an answer merged with its gleanings).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Extraction {
    /// In order of appearance; a name may repeat (the graph merges duplicates).
    pub entities: Vec<EntityRecord>,
    /// In order of appearance; a (source, target) pair may repeat.
    pub relations: Vec<RelationRecord>,
    /// Malformed rows dropped: wrong field count, unknown record kind, empty or
    /// invalid name, type or description, self-loops, stray prose lines.
    pub skipped: u32,
    /// Whether the completion marker was seen. A missing marker usually means the
    /// answer was cut off by the output token limit; the rows before the cut are
    /// still returned.
    pub complete: bool,
}

/// A parsed row, before it is filed into an [`Extraction`].
enum Record {
    Entity(EntityRecord),
    Relation(RelationRecord),
}

/// Parses an extraction answer. Never panics; see the module documentation for
/// what is repaired and what is dropped.
///
/// Steps: strip `<think>` blocks; split into records on newlines and on the
/// completion marker; repair corrupted delimiters; split each line into fields;
/// split records the model glued onto one line; then read each record as an entity
/// (4 fields) or a relation (5 fields).
pub fn parse(answer: &str) -> Extraction {
    let text = strip_think_blocks(answer);
    let (lines, complete) = split_lines(&text);
    let mut out = Extraction {
        complete,
        ..Extraction::default()
    };
    for line in lines {
        let repaired = repair_delimiters(line);
        // Empty fields are dropped (as LightRAG does): a doubled or trailing delimiter
        // (`…<|#|><|#|>…`, `…description<|#|>`) then costs nothing.
        let fields: Vec<&str> = repaired
            .split(TUPLE_DELIMITER)
            .map(str::trim)
            .filter(|field| !field.is_empty())
            .map(strip_matching_quotes)
            .collect();
        let records = split_glued(&fields);
        if records.is_empty() {
            // A line made only of delimiters.
            out.skipped = out.skipped.saturating_add(1);
            continue;
        }
        for record in records {
            match parse_record(record) {
                Some(Record::Entity(entity)) => out.entities.push(entity),
                Some(Record::Relation(relation)) => out.relations.push(relation),
                None => out.skipped = out.skipped.saturating_add(1),
            }
        }
    }
    out
}

/// Normalises an entity name the way LightRAG does, so that the same entity
/// spelled slightly differently lands on the same graph node:
///
/// * HTML line/paragraph tags (`<p>`, `</p>`, `<br>`, `<br/>`) are removed: models
///   copy them from HTML-ish sources;
/// * full-width ASCII (U+FF01..U+FF5E, e.g. `Ａｐｐｌｅ１`) becomes ASCII;
/// * whitespace (NBSP and the ideographic space included) collapses to single
///   spaces and is trimmed;
/// * one pair of matching outer quotes is removed (`"…"`, `'…'`, `“…”`, `‘…’`,
///   `《…》`, `「…」`), unless the inside contains that quote too (`"A" and "B"`);
/// * curly quotes anywhere, and straight quotes next to a CJK character, are
///   removed (Chinese text quotes terms inline, the quotes are not part of them);
/// * spaces between two CJK characters, or between a CJK character and an ASCII
///   letter or digit, are removed (`中 国` → `中国`, `苹果 AI` → `苹果AI`): Chinese
///   does not separate words, models insert such spaces inconsistently;
/// * the result is truncated to [`MAX_NAME_CHARS`] characters.
///
/// Returns `None` when nothing meaningful is left: an empty name, a bare number of
/// one or two digits (list numbering, footnote marks), or a short run of digits and
/// dots such as `1.2` or `3.1.4` (section numbers). Longer numbers such as years
/// (`2024`) are kept. Case is preserved.
pub fn normalize_name(raw: &str) -> Option<String> {
    let text = strip_html_breaks(raw);
    let text: String = text.chars().map(fullwidth_to_ascii).collect();
    let text = collapse_whitespace(&text);
    let text = strip_outer_quote_pair(&text);
    let text = remove_inner_quotes(text);
    let text = collapse_whitespace(&text);
    let text = remove_cjk_spaces(&text);
    if is_meaningless_name(&text) {
        return None;
    }
    let name = truncate_chars(&text, MAX_NAME_CHARS).trim_end();
    // Removing an HTML tag could have joined a delimiter back together
    // (`<|#<p>|>`): such a name could never be written back into a record.
    if name.is_empty() || name.contains(TUPLE_DELIMITER) {
        return None;
    }
    Some(name.to_string())
}

/// Merges a gleaning pass into the first pass over the same chunk, as LightRAG does.
///
/// Entities are grouped by name and relations by (source, target) as extracted
/// (direction kept). For a key present in both, the gleaned group replaces the
/// original group only if the gleaned group's first description is longer (in
/// characters) than the original's: the gleaning prompt asks the model to complete
/// and correct its first answer, and a longer description is taken as the
/// correction. Keys new in the gleaning are appended. Order: the original keys in
/// order of first appearance, then the new keys in the gleaning's order.
///
/// `skipped` adds up both passes; `complete` holds only if both passes were.
pub fn merge_gleaning(first: Extraction, gleaned: Extraction) -> Extraction {
    let entities = merge_groups(
        first.entities,
        gleaned.entities,
        |e| e.name.clone(),
        |e| e.description.chars().count(),
    );
    let relations = merge_groups(
        first.relations,
        gleaned.relations,
        |r| (r.source.clone(), r.target.clone()),
        |r| r.description.chars().count(),
    );
    Extraction {
        entities,
        relations,
        skipped: first.skipped.saturating_add(gleaned.skipped),
        complete: first.complete && gleaned.complete,
    }
}

// ---------------------------------------------------------------------------------
// Records
// ---------------------------------------------------------------------------------

/// Reads one record's fields. The first field names the kind; it only has to
/// *contain* `entity`/`relation` (models write `("entity"`, `Entity:`,
/// `relationship` …). A 5-field row labelled `entity` is read as a relation: models
/// sometimes label every row `entity`, and only a relation has five fields.
fn parse_record(fields: &[&str]) -> Option<Record> {
    let kind = fields.first()?.to_ascii_lowercase();
    match fields.len() {
        4 if kind.contains("entity") => parse_entity(fields).map(Record::Entity),
        5 if kind.contains("relation") || kind.contains("entity") => {
            parse_relation(fields).map(Record::Relation)
        }
        _ => None,
    }
}

fn parse_entity(fields: &[&str]) -> Option<EntityRecord> {
    let [_, name, entity_type, description] = fields else {
        return None;
    };
    let name = normalize_name(name)?;
    let entity_type = normalize_type(entity_type)?;
    let description = description.trim();
    if description.is_empty() {
        return None;
    }
    Some(EntityRecord {
        name,
        entity_type,
        description: description.to_string(),
    })
}

fn parse_relation(fields: &[&str]) -> Option<RelationRecord> {
    let [_, source, target, keywords, description] = fields else {
        return None;
    };
    let source = normalize_name(source)?;
    let target = normalize_name(target)?;
    // A relation of an entity with itself carries no graph information.
    if source == target {
        return None;
    }
    let description = description.trim();
    if description.is_empty() {
        return None;
    }
    Some(RelationRecord {
        source,
        target,
        keywords: normalize_keywords(keywords),
        description: description.to_string(),
        weight: 1.0,
    })
}

/// Normalises an entity type so that `Person`, `"person"` and `PERSON` are one
/// type, and `Natural Object` becomes `naturalobject` (LightRAG's convention).
///
/// Quotes are removed first (models quote types). A type that is blank or contains
/// one of `' ( ) < > | / \` is refused: it is a sentence, markup or a misplaced
/// field, not a category. `a, b` means the model could not decide: the first
/// non-empty part is kept. Names that break JavaScript objects are refused.
fn normalize_type(raw: &str) -> Option<String> {
    let unquoted: String = raw
        .chars()
        .map(fullwidth_to_ascii)
        .filter(|c| !matches!(c, '"' | '“' | '”' | '‘' | '’'))
        .collect();
    let unquoted = unquoted.trim();
    if unquoted.is_empty() || unquoted.contains(FORBIDDEN_TYPE_CHARS) {
        return None;
    }
    let first = unquoted
        .split(',')
        .map(str::trim)
        .find(|part| !part.is_empty())?;
    let entity_type: String = first
        .chars()
        .filter(|c| !c.is_whitespace())
        .flat_map(char::to_lowercase)
        .collect();
    if entity_type.is_empty() || FORBIDDEN_TYPES.contains(&entity_type.as_str()) {
        return None;
    }
    Some(entity_type)
}

/// Keywords are free text, only tidied: double quotes (straight or curly) are
/// removed, curly apostrophes become `'`, the full-width comma `，` becomes `,` (so
/// Chinese keyword lists split like English ones), whitespace collapses.
fn normalize_keywords(raw: &str) -> String {
    let tidied: String = raw
        .chars()
        .filter(|c| !matches!(c, '"' | '“' | '”'))
        .map(|c| match c {
            '，' => ',',
            '‘' | '’' => '\'',
            other => other,
        })
        .collect();
    collapse_whitespace(&tidied)
}

/// Removes one pair of matching straight or curly quotes around a field; models
/// quote fields as if writing a tuple literal.
fn strip_matching_quotes(field: &str) -> &str {
    for (open, close) in [('"', '"'), ('\'', '\''), ('“', '”'), ('‘', '’')] {
        if let Some(inner) = field
            .strip_prefix(open)
            .and_then(|rest| rest.strip_suffix(close))
        {
            return inner.trim();
        }
    }
    field
}

// ---------------------------------------------------------------------------------
// Splitting the answer into records
// ---------------------------------------------------------------------------------

/// Removes `<think>…</think>` blocks (case-insensitive). Reasoning models put their
/// draft there, often with half-formed records that must not be parsed.
///
/// Two partial cases: a `</think>` with no `<think>` before it means the answer
/// started inside the block (streaming that began mid-thought), so everything up to
/// it is reasoning and is dropped. A `<think>` that is never closed only loses the
/// tag: the model forgot to close it, or was cut off, and whatever records follow
/// are still worth reading (junk lines there are merely skipped).
fn strip_think_blocks(text: &str) -> String {
    const OPEN: &str = "<think>";
    const CLOSE: &str = "</think>";
    // ASCII lowercasing keeps every byte offset, so positions found in `lower` are
    // valid (char-boundary) positions in `text`: each is at an ASCII `<` or after `>`.
    let lower = text.to_ascii_lowercase();
    let mut pos = 0;
    if let Some(close) = lower.find(CLOSE)
        && lower.find(OPEN).is_none_or(|open| close < open)
    {
        pos = close + CLOSE.len();
    }
    let mut kept = String::with_capacity(text.len() - pos);
    // Once a search for `</think>` has failed, none follows any later `<think>`
    // either; not searching again keeps `<think><think>…` linear.
    let mut closes_left = true;
    while let Some(relative) = lower[pos..].find(OPEN) {
        let open = pos + relative;
        kept.push_str(&text[pos..open]);
        let inside = open + OPEN.len();
        let close = closes_left.then(|| lower[inside..].find(CLOSE)).flatten();
        closes_left = close.is_some();
        pos = close.map_or(inside, |relative_close| {
            inside + relative_close + CLOSE.len()
        });
    }
    kept.push_str(&text[pos..]);
    // Stray closing tags after a complete block are noise too.
    remove_ascii_case_insensitive(&kept, CLOSE)
}

/// `text` without any occurrence of the (lowercase, ASCII) `pattern`, matched
/// ASCII-case-insensitively.
fn remove_ascii_case_insensitive(text: &str, pattern: &str) -> String {
    let lower = text.to_ascii_lowercase();
    let mut out = String::with_capacity(text.len());
    let mut pos = 0;
    while let Some(relative) = lower[pos..].find(pattern) {
        out.push_str(&text[pos..pos + relative]);
        pos += relative + pattern.len();
    }
    out.push_str(&text[pos..]);
    out
}

/// Splits the answer into trimmed, non-empty lines, also cutting at every
/// completion marker (case-insensitive): models put the marker at the end of the
/// last record's line as often as on its own line. Returns whether a marker was
/// seen. `\r` counts as a line break too, so no record carries one.
fn split_lines(text: &str) -> (Vec<&str>, bool) {
    let marker = COMPLETION_MARKER.to_ascii_lowercase();
    let lower = text.to_ascii_lowercase();
    let mut pieces = Vec::new();
    let mut complete = false;
    let mut pos = 0;
    while let Some(relative) = lower[pos..].find(&marker) {
        pieces.push(&text[pos..pos + relative]);
        pos += relative + marker.len();
        complete = true;
    }
    pieces.push(&text[pos..]);
    let lines = pieces
        .into_iter()
        .flat_map(|piece| piece.split(['\n', '\r']))
        .map(str::trim)
        .filter(|line| !line.is_empty())
        .collect();
    (lines, complete)
}

/// Splits a line's fields into records where the model glued several records onto
/// one line (`…<|#|>description<|#|>entity<|#|>Name<|#|>…`). A field that is exactly
/// `entity`, `relation` or `relationship` (any case) and is followed by more fields
/// starts a new record, the kind word staying at its start.
///
/// The split only happens once the current record already has at least four
/// fields, i.e. could be a complete entity. Earlier, the word is a field value, not
/// a glue point: an entity named `Entity` (a document about data modelling), a type
/// `relation`, or a target named `relationship` must not cut a valid record in two.
fn split_glued<'a>(fields: &'a [&'a str]) -> Vec<&'a [&'a str]> {
    let mut records = Vec::new();
    let mut start = 0;
    for (index, field) in fields.iter().enumerate() {
        let followed = index + 1 < fields.len();
        if index - start >= 4 && followed && is_kind_word(field) {
            records.push(&fields[start..index]);
            start = index;
        }
    }
    if start < fields.len() {
        records.push(&fields[start..]);
    }
    records
}

fn is_kind_word(field: &str) -> bool {
    ["entity", "relation", "relationship"]
        .iter()
        .any(|kind| field.eq_ignore_ascii_case(kind))
}

// ---------------------------------------------------------------------------------
// Delimiter repair
// ---------------------------------------------------------------------------------

/// Rewrites every corrupted spelling of the delimiter in `line` as
/// [`TUPLE_DELIMITER`].
///
/// A delimiter is read as: an optional `<`, bars `|`, one or more cores `#`
/// (optionally escaped as `\#`, possibly several with bars between them:
/// `<|#|#|>`), bars, an optional `>`. Full-width `＜ ｜ ＃ ＞` count as their ASCII
/// forms (CJK input methods produce them), and spaces are tolerated once a `<` has
/// opened the delimiter (`< |#| >`, `<|# |>`). Recognised:
///
/// * with both `<` and `>`: anything of that shape, e.g. `<|##|>`, `<|\#|>`,
///   `<#|>`, `<|#>`, `<#>`, `<||#||>`, `<|#|#|>`, and `<|>`, `<||>` without a core;
/// * with `<` only: `<|#|`, `<|#||` (bars on both sides of the core), `<||`;
/// * with `>` only: `|#|>` (bars on both sides of the core);
/// * with neither: `||#||` (at least two bars on each side).
///
/// Shapes that ordinary text produces are left alone: a lone `|` or `｜` (tables,
/// CJK punctuation), `C#`, `| # |`, `a < b`, `<|endoftext|>`. The longest
/// recognised spelling at a position wins. Stray bars right after a delimiter
/// (`<|#|>|Name`) are swallowed.
fn repair_delimiters(line: &str) -> String {
    let chars: Vec<char> = line.chars().collect();
    let mut out = String::with_capacity(line.len() + 8);
    let mut i = 0;
    while i < chars.len() {
        match match_delimiter(&chars, i) {
            Some(mut end) => {
                if chars.get(end - 1).copied().is_some_and(is_close) {
                    let mut after = end;
                    while chars.get(after).copied().is_some_and(is_bar) {
                        after += 1;
                    }
                    if after > end && match_delimiter(&chars, end).is_none() {
                        end = after;
                    }
                }
                out.push_str(TUPLE_DELIMITER);
                i = end;
            }
            None => {
                out.push(chars[i]);
                i += 1;
            }
        }
    }
    out
}

/// The end (exclusive) of the longest delimiter spelling starting at `start`, if
/// any; see [`repair_delimiters`] for the shapes.
fn match_delimiter(chars: &[char], start: usize) -> Option<usize> {
    let first = *chars.get(start)?;
    let opened = is_open(first);
    if !opened && !is_bar(first) {
        return None;
    }
    let limit = chars.len().min(start + MAX_DELIMITER_CHARS);
    let mut shape = Shape {
        opened,
        closed: false,
        bars_before: 0,
        bars_after: 0,
        cores: 0,
    };
    let mut best = None;
    let mut i = if opened { start + 1 } else { start };
    while i < limit {
        let c = chars[i];
        if is_close(c) {
            shape.closed = true;
            if shape.is_delimiter() {
                best = Some(i + 1);
            }
            break;
        }
        if c == ' ' || c == '\t' {
            // Spaces are part of a delimiter only inside `<…>`; a match never ends
            // on them (the field trimming takes care of spaces outside).
            if !opened {
                break;
            }
            i += 1;
            continue;
        }
        if is_bar(c) {
            if shape.cores == 0 {
                shape.bars_before += 1;
            } else {
                shape.bars_after += 1;
            }
            i += 1;
        } else if is_core(c) {
            shape.cores += 1;
            shape.bars_after = 0;
            i += 1;
        } else if c == '\\' && chars.get(i + 1).copied().is_some_and(is_core) {
            shape.cores += 1;
            shape.bars_after = 0;
            i += 2;
        } else {
            break;
        }
        if shape.is_delimiter() {
            best = Some(i);
        }
    }
    best
}

/// What a candidate delimiter spelling consists of so far.
struct Shape {
    opened: bool,
    closed: bool,
    /// Bars before the first core (all bars when there is no core).
    bars_before: u32,
    /// Bars after the last core.
    bars_after: u32,
    cores: u32,
}

impl Shape {
    /// Whether the spelling is a delimiter, not ordinary text: the fewer of `<`,
    /// `>` it has, the more bars it needs around the core.
    fn is_delimiter(&self) -> bool {
        let Shape {
            opened,
            closed,
            bars_before,
            bars_after,
            cores,
        } = *self;
        if cores == 0 {
            return opened
                && if closed {
                    bars_before >= 1
                } else {
                    bars_before >= 2
                };
        }
        match (opened, closed) {
            (true, true) => true,
            (true, false) | (false, true) => bars_before >= 1 && bars_after >= 1,
            (false, false) => bars_before >= 2 && bars_after >= 2,
        }
    }
}

fn is_open(c: char) -> bool {
    matches!(c, '<' | '＜')
}

fn is_close(c: char) -> bool {
    matches!(c, '>' | '＞')
}

fn is_bar(c: char) -> bool {
    matches!(c, '|' | '｜')
}

fn is_core(c: char) -> bool {
    matches!(c, '#' | '＃')
}

// ---------------------------------------------------------------------------------
// Name normalisation helpers
// ---------------------------------------------------------------------------------

/// Removes `<p>`, `</p>`, `<p/>`, `<br>`, `<br/>`, `<br />`, `</br>` (any case).
fn strip_html_breaks(text: &str) -> String {
    /// Longest tag body looked at (`br /` plus slack); bounds the scan per `<`.
    const MAX_TAG_BODY: usize = 8;
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(open) = rest.find('<') {
        out.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        let close = after.bytes().take(MAX_TAG_BODY + 1).position(|b| b == b'>');
        match close {
            // `close` is the offset of an ASCII `>`, hence a char boundary.
            Some(close) if is_break_tag(&after[..close]) => rest = &after[close + 1..],
            _ => {
                out.push('<');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

fn is_break_tag(body: &str) -> bool {
    let body: String = body
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect::<String>()
        .to_ascii_lowercase();
    matches!(body.as_str(), "p" | "/p" | "p/" | "br" | "/br" | "br/")
}

/// Full-width ASCII forms (U+FF01..U+FF5E) to ASCII (U+0021..U+007E).
fn fullwidth_to_ascii(c: char) -> char {
    if ('\u{FF01}'..='\u{FF5E}').contains(&c) {
        char::from_u32(u32::from(c) - 0xFEE0).unwrap_or(c)
    } else {
        c
    }
}

/// Whitespace runs (any Unicode whitespace: NBSP, ideographic space, newlines) to
/// one space; trimmed.
fn collapse_whitespace(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Removes one pair of matching outer quotes when the inside does not contain the
/// same quote characters (`"A" and "B"` is left alone: its quotes are not outer).
fn strip_outer_quote_pair(text: &str) -> String {
    const PAIRS: [(char, char); 6] = [
        ('"', '"'),
        ('\'', '\''),
        ('“', '”'),
        ('‘', '’'),
        ('《', '》'),
        ('「', '」'),
    ];
    for (open, close) in PAIRS {
        if let Some(inner) = text
            .strip_prefix(open)
            .and_then(|rest| rest.strip_suffix(close))
            && !inner.contains([open, close])
        {
            return inner.trim().to_string();
        }
    }
    text.to_string()
}

/// Removes curly quotes everywhere, and runs of straight quotes that touch a CJK
/// character (`"苹果"公司` → `苹果公司`). Straight quotes between Latin letters stay
/// (`O'Brien`).
fn remove_inner_quotes(text: String) -> String {
    let chars: Vec<char> = text
        .chars()
        .filter(|c| !matches!(c, '“' | '”' | '‘' | '’'))
        .collect();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < chars.len() {
        if !matches!(chars[i], '"' | '\'') {
            out.push(chars[i]);
            i += 1;
            continue;
        }
        let run_start = i;
        while i < chars.len() && matches!(chars[i], '"' | '\'') {
            i += 1;
        }
        let cjk_before = run_start > 0 && is_cjk(chars[run_start - 1]);
        let cjk_after = chars.get(i).copied().is_some_and(is_cjk);
        if !(cjk_before || cjk_after) {
            out.extend(&chars[run_start..i]);
        }
    }
    out
}

/// Removes the (single, already collapsed) spaces between two CJK characters and
/// between a CJK character and an ASCII letter or digit, in either order.
fn remove_cjk_spaces(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    for (i, &c) in chars.iter().enumerate() {
        if c == ' ' && i > 0 && i + 1 < chars.len() {
            let (before, after) = (chars[i - 1], chars[i + 1]);
            let joins = (is_cjk(before) && (is_cjk(after) || after.is_ascii_alphanumeric()))
                || (before.is_ascii_alphanumeric() && is_cjk(after));
            if joins {
                continue;
            }
        }
        out.push(c);
    }
    out
}

/// CJK unified ideographs (basic block, extension A, compatibility ideographs).
fn is_cjk(c: char) -> bool {
    matches!(c, '\u{4E00}'..='\u{9FFF}' | '\u{3400}'..='\u{4DBF}' | '\u{F900}'..='\u{FAFF}')
}

/// Empty names, bare one- or two-digit numbers, and short digit-and-dot strings
/// (`1.2`, `3.1.4`) are list or section numbering, not entities.
fn is_meaningless_name(name: &str) -> bool {
    let count = name.chars().count();
    let all_digits = name.chars().all(|c| c.is_ascii_digit());
    let digits_and_dots = name.chars().all(|c| c.is_ascii_digit() || c == '.');
    name.is_empty()
        || (all_digits && count <= 2)
        || (count < 6 && digits_and_dots && name.contains('.'))
}

/// The first `max` characters of `text` (cut at a char boundary).
fn truncate_chars(text: &str, max: usize) -> &str {
    match text.char_indices().nth(max) {
        Some((index, _)) => &text[..index],
        None => text,
    }
}

// ---------------------------------------------------------------------------------
// Gleaning merge
// ---------------------------------------------------------------------------------

/// Groups `items` by `key`, remembering the order in which keys first appear.
fn group_by<T, K: Eq + Hash + Clone>(
    items: Vec<T>,
    key: &impl Fn(&T) -> K,
) -> (Vec<K>, HashMap<K, Vec<T>>) {
    let mut order = Vec::new();
    let mut groups: HashMap<K, Vec<T>> = HashMap::new();
    for item in items {
        let k = key(&item);
        match groups.get_mut(&k) {
            Some(group) => group.push(item),
            None => {
                order.push(k.clone());
                groups.insert(k, vec![item]);
            }
        }
    }
    (order, groups)
}

/// The gleaning rule of [`merge_gleaning`], for entities and relations alike.
fn merge_groups<T, K: Eq + Hash + Clone>(
    first: Vec<T>,
    gleaned: Vec<T>,
    key: impl Fn(&T) -> K,
    description_chars: impl Fn(&T) -> usize,
) -> Vec<T> {
    let (first_order, mut first_groups) = group_by(first, &key);
    let (gleaned_order, mut gleaned_groups) = group_by(gleaned, &key);
    let first_len = |group: &[T]| group.first().map_or(0, &description_chars);
    let mut merged = Vec::new();
    for k in &first_order {
        let original = first_groups.remove(k).unwrap_or_default();
        let chosen = match gleaned_groups.remove(k) {
            Some(gleaned) if first_len(&gleaned) > first_len(&original) => gleaned,
            _ => original,
        };
        merged.extend(chosen);
    }
    for k in &gleaned_order {
        if let Some(group) = gleaned_groups.remove(k) {
            merged.extend(group);
        }
    }
    merged
}

#[cfg(test)]
mod tests;
