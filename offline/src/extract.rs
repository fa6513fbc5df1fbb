//! Turns the entities of a chunk into LightRAG extraction records.
//!
//! * At most [`MAX_ENTITIES`] entity rows: the most mentioned entities (ties: first
//!   mentioned), listed in order of first mention.
//! * Relations link two distinct listed entities mentioned in one sentence no more
//!   than [`PAIR_WINDOW`] mentions apart, so a long list sentence does not turn into
//!   a clique. Each pair is kept once, from its first sentence. When they do not all
//!   fit in [`MAX_ROWS`], the closest pairs win (fewest mentions between them), then
//!   the earliest.
//! * Keywords of a relation are up to three content words of its sentence, preferring
//!   the words between the two names (usually the verb that links them).

use super::entities::{self, Analysis, Kind, Placed};
use super::text;
use std::collections::BTreeSet;

/// Most entity rows in one extraction.
pub(crate) const MAX_ENTITIES: usize = 40;
/// Most rows (entities and relations) in one extraction.
pub(crate) const MAX_ROWS: usize = 100;
/// Longest description, in chars.
pub(crate) const MAX_DESCRIPTION_CHARS: usize = 300;
/// Field separator of LightRAG's extraction format.
pub(crate) const TUPLE_DELIMITER: &str = "<|#|>";
/// Terminator of LightRAG's extraction format.
pub(crate) const COMPLETE: &str = "<|COMPLETE|>";
/// A mention pairs with at most this many following mentions of its sentence.
const PAIR_WINDOW: usize = 3;
/// A first sentence shorter than this (chars) is followed by a second one.
const SHORT_DESCRIPTION: usize = 150;
/// Keyword of a relation whose sentence has no content word left.
const FALLBACK_KEYWORD: &str = "related";

/// Entity and relation records for `chunk` (see the module docs of `llm`).
pub(crate) fn extract(chunk: &str, entity_types: &[String]) -> String {
    let analysis = entities::analyse(chunk);
    let types = TypeNames::new(entity_types);
    let chosen = choose_entities(&analysis);
    let mut lines = Vec::new();
    let mut listed = BTreeSet::new();
    for &entity in &chosen {
        if let Some(line) = entity_line(&analysis, entity, &types) {
            lines.push(line);
            listed.insert(entity);
        }
    }
    let budget = MAX_ROWS.saturating_sub(lines.len());
    for pair in choose_pairs(&analysis, &listed, budget) {
        lines.push(relation_line(&analysis, &pair));
    }
    lines.push(COMPLETE.to_string());
    lines.join("\n")
}

/// Indices of the entities to list, in order of first mention.
fn choose_entities(analysis: &Analysis<'_>) -> Vec<usize> {
    let mut ranked: Vec<usize> = (0..analysis.entities.len()).collect();
    ranked.sort_by_key(|&e| (std::cmp::Reverse(analysis.entities[e].mentions), e));
    ranked.truncate(MAX_ENTITIES);
    ranked.sort_unstable();
    ranked
}

fn entity_line(analysis: &Analysis<'_>, entity: usize, types: &TypeNames) -> Option<String> {
    let record = &analysis.entities[entity];
    let name = text::sanitize_field(&record.name);
    if name.is_empty() {
        return None;
    }
    let description = text::sanitize_field(&entity_description(analysis, entity));
    let description = if description.is_empty() {
        name.clone()
    } else {
        description
    };
    let kind = types.name(record.kind);
    Some(["entity", &name, kind, &description].join(TUPLE_DELIMITER))
}

/// The first sentence mentioning the entity, and the second when the first is short.
fn entity_description(analysis: &Analysis<'_>, entity: usize) -> String {
    let mut out = String::new();
    for &sentence in analysis.entities[entity].sentences.iter().take(2) {
        if !out.is_empty() && out.chars().count() >= SHORT_DESCRIPTION {
            break;
        }
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(&text::display_sentence(analysis.sentences[sentence].text));
    }
    text::truncate_chars(&out, MAX_DESCRIPTION_CHARS)
}

/// Two mentions of distinct entities in one sentence.
#[derive(Clone, Copy, Debug)]
struct Pair {
    sentence: usize,
    source: Placed,
    target: Placed,
    distance: usize,
}

fn choose_pairs(analysis: &Analysis<'_>, listed: &BTreeSet<usize>, budget: usize) -> Vec<Pair> {
    let mut seen = BTreeSet::new();
    let mut pairs = Vec::new();
    for (sentence, placed) in analysis.placed.iter().enumerate() {
        let mentions: Vec<Placed> = placed
            .iter()
            .copied()
            .filter(|p| listed.contains(&p.entity))
            .collect();
        for (i, source) in mentions.iter().enumerate() {
            for (j, target) in mentions.iter().enumerate().skip(i + 1).take(PAIR_WINDOW) {
                let (a, b) = (source.entity, target.entity);
                if a != b && seen.insert((a.min(b), a.max(b))) {
                    pairs.push(Pair {
                        sentence,
                        source: *source,
                        target: *target,
                        distance: j - i,
                    });
                }
            }
        }
    }
    pairs.sort_by_key(|p| (p.distance, p.sentence, p.source.first, p.target.first));
    pairs.truncate(budget);
    pairs.sort_by_key(|p| (p.sentence, p.source.first, p.target.first));
    pairs
}

fn relation_line(analysis: &Analysis<'_>, pair: &Pair) -> String {
    let source = text::sanitize_field(&analysis.entities[pair.source.entity].name);
    let target = text::sanitize_field(&analysis.entities[pair.target.entity].name);
    let keywords = text::sanitize_field(&relation_keywords(analysis, pair).join(", "));
    let sentence = text::display_sentence(analysis.sentences[pair.sentence].text);
    let description = text::sanitize_field(&text::truncate_chars(&sentence, MAX_DESCRIPTION_CHARS));
    ["relation", &source, &target, &keywords, &description].join(TUPLE_DELIMITER)
}

/// Up to three content words of the pair's sentence, outside every name and closest
/// first: words between the two names (from the second name backwards, since the
/// words next to an object usually say how it is linked: "born in", "married"), then
/// those after, then those before. Words with letters beat bare numbers.
fn relation_keywords(analysis: &Analysis<'_>, pair: &Pair) -> Vec<String> {
    let words = &analysis.sentences[pair.sentence].words;
    let covered: BTreeSet<usize> = analysis.placed[pair.sentence]
        .iter()
        .flat_map(|p| p.first..=p.last)
        .collect();
    let name_words: BTreeSet<String> = [pair.source.entity, pair.target.entity]
        .iter()
        .flat_map(|&e| {
            text::words(&analysis.entities[e].name)
                .into_iter()
                .map(|w| w.text.to_lowercase())
        })
        .collect();
    let (left, right) = (
        pair.source.first.min(pair.target.first),
        pair.source.last.max(pair.target.last),
    );
    let between =
        pair.source.last.min(pair.target.last) + 1..pair.source.first.max(pair.target.first);
    let order = between
        .rev()
        .chain(right + 1..words.len())
        .chain((0..left).rev());
    let mut out: Vec<String> = Vec::new();
    let mut numbers: Vec<String> = Vec::new();
    for index in order {
        if out.len() == 3 {
            break;
        }
        let lower = text::strip_possessive(words[index].text).to_lowercase();
        let fresh = !covered.contains(&index) && !name_words.contains(&lower);
        if !fresh
            || !text::is_content_word(&lower)
            || out.contains(&lower)
            || numbers.contains(&lower)
        {
            continue;
        }
        if lower.chars().any(char::is_alphabetic) {
            out.push(lower);
        } else {
            numbers.push(lower);
        }
    }
    out.extend(numbers);
    out.truncate(3);
    if out.is_empty() {
        out.push(FALLBACK_KEYWORD.to_string());
    }
    out
}

/// The type name written for each [`Kind`], chosen from the caller's list.
pub(crate) struct TypeNames {
    names: Vec<String>,
}

impl TypeNames {
    /// Maps every kind onto `entity_types` (case-insensitive, by name or synonym);
    /// kinds without a match fall back to the list's concept-like type, else `Other`.
    /// An empty list means LightRAG's default types.
    pub(crate) fn new(entity_types: &[String]) -> Self {
        let allowed: Vec<String> = entity_types
            .iter()
            .map(|t| clean_type(t))
            .filter(|t| !t.is_empty())
            .collect();
        if allowed.is_empty() {
            let names = Kind::PRIORITY
                .iter()
                .map(|k| k.default_name().to_string())
                .collect();
            return TypeNames { names };
        }
        let find = |kind: Kind| {
            allowed
                .iter()
                .find(|t| {
                    let t = t.to_lowercase();
                    t == kind.default_name().to_lowercase() || kind.synonyms().contains(&t.as_str())
                })
                .cloned()
        };
        let fallback = find(Kind::Concept).unwrap_or_else(|| "Other".to_string());
        let names = Kind::PRIORITY
            .iter()
            .map(|&k| find(k).unwrap_or_else(|| fallback.clone()))
            .collect();
        TypeNames { names }
    }

    /// The type name for `kind`.
    pub(crate) fn name(&self, kind: Kind) -> &str {
        let index = Kind::PRIORITY.iter().position(|k| *k == kind).unwrap_or(0);
        self.names.get(index).map_or("Other", String::as_str)
    }
}

/// A type name LightRAG accepts: no spaces, quotes, brackets, pipes or slashes.
fn clean_type(raw: &str) -> String {
    let cleaned: String = raw
        .chars()
        .filter(|c| !c.is_whitespace() && !c.is_control() && !"'\"()<>|/\\".contains(*c))
        .collect();
    text::sanitize_field(&cleaned)
}
