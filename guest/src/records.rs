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

mod delimiters;
mod normalize;

pub use delimiters::TUPLE_DELIMITER;
pub use normalize::{MAX_NAME_CHARS, normalize_name};

use delimiters::repair_delimiters;
use normalize::{normalize_keywords, normalize_type, strip_matching_quotes};
use std::collections::HashMap;
use std::hash::Hash;

/// Written by the model after its last record. Matched case-insensitively, because
/// models lowercase it often enough.
pub const COMPLETION_MARKER: &str = "<|COMPLETE|>";

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
