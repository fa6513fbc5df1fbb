//! The offline stand-in for a language model: deterministic rules, one function per
//! completion purpose.
//!
//! The engine names the purpose of every completion and passes the structured input
//! the prompt was built from, so nothing here parses prompts. Each function is pure
//! (no I/O, no clock, no randomness, no hash-order iteration), total (any `&str`,
//! however hostile or large, gives an answer without panicking) and honest: answers
//! say they come from offline mode and quote the user's own documents rather than
//! pretending to be written by a model.
//!
//! Extraction output follows LightRAG's record format, one record per line:
//!
//! ```text
//! entity<|#|>Entity Name<|#|>EntityType<|#|>description
//! relation<|#|>Source Entity<|#|>Target Entity<|#|>kw1, kw2<|#|>description
//! <|COMPLETE|>
//! ```
//!
//! The rules for names, aliases and types are documented in `entities.rs`, those for
//! rows and relations in `extract.rs`.

use super::entities;
use super::extract;
use super::text;
use std::collections::BTreeSet;

/// Queries longer than this (chars) are cut before keyword extraction.
const MAX_QUERY_CHARS: usize = 10_000;
/// Most low-level (specific) keywords returned for a query.
const MAX_LOW_LEVEL: usize = 12;
/// Most high-level (thematic) keywords returned for a query.
const MAX_HIGH_LEVEL: usize = 8;
/// Lone content words are added to the high-level keywords until there are this many.
const MIN_HIGH_LEVEL: usize = 3;
/// Longest quoted phrase taken as a keyword, in chars.
const MAX_QUOTED_CHARS: usize = 100;
/// Length cap of a merged description, in chars.
const MAX_SUMMARY_CHARS: usize = 1200;
/// Sentences quoted in an offline answer.
const MAX_QUOTES: usize = 5;
/// Longest quoted sentence, in chars.
const MAX_QUOTE_CHARS: usize = 400;
/// Entity names listed under an answer.
const MAX_RELATED: usize = 8;
/// Longest echo of a bypass question, in chars.
const MAX_ECHO_CHARS: usize = 2000;
/// First line of every offline answer.
const ANSWER_HEADER: &str = "**Offline mode** — no language model is configured, so this answer \
                             quotes the most relevant retrieved passages.";

/// Entity and relation records for one chunk, in LightRAG's extraction format: all
/// entity rows (at most 40), then relation rows (at most 100 rows in all), then
/// `<|COMPLETE|>`. Entity types are taken from `entity_types` (case-insensitive, by
/// name or common synonym) or, when it is empty, from LightRAG's defaults. No field
/// contains a delimiter, `<|`, `|>` or a line break.
pub fn extract(chunk: &str, entity_types: &[String]) -> String {
    extract::extract(chunk, entity_types)
}

/// Answer to a gleaning (second extraction) pass: the rules found everything they can
/// on the first pass, so there is nothing new.
pub fn glean() -> String {
    extract::COMPLETE.to_string()
}

/// `{"high_level_keywords":[...],"low_level_keywords":[...]}` for a query.
///
/// Low-level keywords are the specific things asked about: quoted phrases, names
/// found by the entity rules, then the other content words. High-level keywords are
/// the themes: phrases of consecutive content words ("economic stability") and
/// abstract nouns ("radioactivity"), topped up to three with the remaining lone content
/// words. Each list borrows the other when empty, so a query with any content word or
/// name has both.
pub fn keywords(query: &str) -> String {
    let (high, low) = query_keywords(query);
    serde_json::json!({ "high_level_keywords": high, "low_level_keywords": low }).to_string()
}

/// One merged description from `fragments` describing the entity or relation `name`
/// (`kind` is "Entity" or "Relation"): their sentences, de-duplicated in order of first
/// appearance, joined by spaces and cut at about 1200 chars on a sentence boundary
/// (or a word boundary when even the first sentence is longer).
pub fn summarize(kind: &str, name: &str, fragments: &[String]) -> String {
    let mut seen = BTreeSet::new();
    let mut out = String::new();
    let mut out_chars = 0;
    let pieces = fragments
        .iter()
        .flat_map(|f| f.split("<SEP>"))
        .flat_map(text::sentences);
    for sentence in pieces {
        let sentence = text::squash(sentence);
        if sentence.is_empty() || !seen.insert(sentence_key(&sentence)) {
            continue;
        }
        let chars = sentence.chars().count();
        if out.is_empty() && chars > MAX_SUMMARY_CHARS {
            return text::truncate_chars(&sentence, MAX_SUMMARY_CHARS);
        }
        let separator = usize::from(!out.is_empty());
        if out_chars + separator + chars > MAX_SUMMARY_CHARS {
            break;
        }
        if separator == 1 {
            out.push(' ');
        }
        out_chars += separator;
        out.push_str(&sentence);
        out_chars += chars;
    }
    if out.is_empty() {
        let what = if kind.eq_ignore_ascii_case("relation") {
            "relation"
        } else {
            "entity"
        };
        let name = text::truncate_chars(&text::squash(name), 200);
        return format!("No description is available for the {what} {name}.");
    }
    out
}

/// Extractive answer from retrieved context, in LightRAG's answer style.
///
/// `passages` are `(reference_id, text)`, best first; `references` are
/// `(reference_id, file_path)`; `entities` are "Name: description" lines and
/// `relations` "A -> B: description" lines. The answer quotes the (at most five)
/// passage sentences sharing the most content words with the query, each cited with
/// its reference id, lists related entities, and ends with the cited references.
pub fn answer(
    query: &str,
    entities: &[String],
    relations: &[String],
    passages: &[(String, String)],
    references: &[(String, String)],
) -> String {
    let terms = query_terms(query);
    let mut lines = vec![ANSWER_HEADER.to_string(), String::new()];
    let mut cited: Vec<String> = Vec::new();
    let quotes = best_sentences(&terms, passages);
    if !quotes.is_empty() {
        for quote in &quotes {
            lines.push(format!(
                "- {}",
                cite(&quote.text, &quote.reference, &mut cited)
            ));
        }
    } else if let Some((reference, passage)) = passages.iter().find(|(_, p)| !p.trim().is_empty()) {
        lines.push(
            "No retrieved passage shares words with the question; the top passage begins:"
                .to_string(),
        );
        lines.push(String::new());
        let opening = text::truncate_chars(&text::display_sentence(passage), MAX_QUOTE_CHARS);
        lines.push(format!("> {}", cite(&opening, reference, &mut cited)));
    } else {
        lines.push(
            "No relevant context was found in the knowledge base for this question.".to_string(),
        );
        push_graph_facts(&terms, entities, relations, &mut lines);
    }
    push_related_entities(entities, &mut lines);
    push_references(&cited, references, &mut lines);
    lines.join("\n")
}

/// Reply to a question asked in LightRAG's `bypass` mode, which sends the question
/// straight to the language model without retrieval: offline there is no model, so
/// the reply says so, echoes the question and points at the retrieval modes.
pub fn bypass(query: &str) -> String {
    let question = text::truncate_chars(query.trim(), MAX_ECHO_CHARS);
    let echoed = if question.is_empty() {
        "> (empty question)".to_string()
    } else {
        question
            .lines()
            .map(|line| format!("> {}", text::squash(line)))
            .collect::<Vec<_>>()
            .join("\n")
    };
    format!(
        "**Offline mode** — no language model is configured. Bypass mode sends the question \
         straight to the language model without retrieving anything from your documents, \
         so there is nothing here that could answer it.\n\nYour question:\n\n{echoed}\n\n\
         To get an answer, configure a language model, or ask again in a retrieval mode \
         (`naive`, `local`, `global`, `hybrid` or `mix`): offline, those quote the most \
         relevant passages of your documents."
    )
}

/// Normalised form of a sentence for de-duplication.
fn sentence_key(sentence: &str) -> String {
    sentence
        .trim_end_matches(|c: char| {
            matches!(c, '.' | '!' | '?' | ';' | ',' | '…') || c.is_whitespace()
        })
        .to_lowercase()
}

/// Ordered, case-insensitively distinct, capped list of keywords.
struct KeywordList {
    items: Vec<String>,
    seen: BTreeSet<String>,
    cap: usize,
}

impl KeywordList {
    fn new(cap: usize) -> Self {
        KeywordList {
            items: Vec::new(),
            seen: BTreeSet::new(),
            cap,
        }
    }

    fn push(&mut self, keyword: &str) {
        let keyword = text::squash(keyword);
        if self.items.len() < self.cap
            && !keyword.is_empty()
            && self.seen.insert(keyword.to_lowercase())
        {
            self.items.push(keyword);
        }
    }
}

/// (high-level, low-level) keywords of a query.
fn query_keywords(query: &str) -> (Vec<String>, Vec<String>) {
    let query = text::truncate_chars(query, MAX_QUERY_CHARS);
    let mut low = KeywordList::new(MAX_LOW_LEVEL);
    let mut high = KeywordList::new(MAX_HIGH_LEVEL);
    let mut lone: Vec<String> = Vec::new();
    for phrase in quoted_phrases(&query) {
        low.push(&phrase);
    }
    let analysis = entities::analyse(&query);
    for entity in &analysis.entities {
        low.push(&entity.name);
    }
    for (index, sentence) in analysis.sentences.iter().enumerate() {
        let covered: BTreeSet<usize> = analysis.placed[index]
            .iter()
            .flat_map(|p| p.first..=p.last)
            .collect();
        for segment in content_segments(sentence, &covered) {
            if segment.len() >= 2 {
                for piece in segment.chunks(3) {
                    high.push(&piece.join(" "));
                }
            } else if is_abstract(&segment[0]) {
                high.push(&segment[0]);
            } else {
                lone.push(segment[0].clone());
            }
            for word in &segment {
                low.push(word);
            }
        }
    }
    for word in &lone {
        if high.items.len() >= MIN_HIGH_LEVEL {
            break;
        }
        high.push(word);
    }
    let (mut high, mut low) = (high.items, low.items);
    if high.is_empty() {
        high = low.iter().take(MAX_HIGH_LEVEL).cloned().collect();
    }
    if low.is_empty() {
        low = high.clone();
    }
    (high, low)
}

/// Runs of consecutive lowercase content words of a sentence, outside names and not
/// split by punctuation.
fn content_segments(
    sentence: &entities::Sentence<'_>,
    covered: &BTreeSet<usize>,
) -> Vec<Vec<String>> {
    let mut segments: Vec<Vec<String>> = Vec::new();
    let mut current: Vec<String> = Vec::new();
    let mut previous_end: Option<usize> = None;
    for (index, word) in sentence.words.iter().enumerate() {
        let lower = text::strip_possessive(word.text).to_lowercase();
        let contiguous =
            previous_end.is_some_and(|end| sentence.text[end..word.start].trim().is_empty());
        if !contiguous && !current.is_empty() {
            segments.push(std::mem::take(&mut current));
        }
        if !covered.contains(&index) && text::is_content_word(&lower) {
            current.push(lower);
        } else if !current.is_empty() {
            segments.push(std::mem::take(&mut current));
        }
        previous_end = Some(word.end);
    }
    if !current.is_empty() {
        segments.push(current);
    }
    segments
}

/// Nouns of ideas and processes ("stability", "radioactivity", "learning").
fn is_abstract(word: &str) -> bool {
    const SUFFIXES: [&str; 14] = [
        "tion", "sion", "ism", "ity", "ment", "ness", "ence", "ance", "ogy", "ics", "ship", "ure",
        "ing", "acy",
    ];
    word.chars().count() > 5 && SUFFIXES.iter().any(|s| word.ends_with(s))
}

/// Phrases between double quotes, curly quotes, guillemets, corner brackets or
/// backticks.
fn quoted_phrases(query: &str) -> Vec<String> {
    const PAIRS: [(char, char); 5] = [('"', '"'), ('“', '”'), ('«', '»'), ('`', '`'), ('「', '」')];
    let mut out = Vec::new();
    let mut rest = query;
    while let Some((open_at, open, close)) = rest.char_indices().find_map(|(i, c)| {
        PAIRS
            .iter()
            .find(|(o, _)| *o == c)
            .map(|&(o, cl)| (i, o, cl))
    }) {
        let after = &rest[open_at + open.len_utf8()..];
        let Some(close_at) = after.find(close) else {
            break;
        };
        let inner = text::squash(&after[..close_at]);
        if !inner.is_empty() && inner.chars().count() <= MAX_QUOTED_CHARS {
            out.push(inner);
        }
        rest = &after[close_at + close.len_utf8()..];
    }
    out
}

/// Stems of the query's content words.
fn query_terms(query: &str) -> BTreeSet<String> {
    let query = text::truncate_chars(query, MAX_QUERY_CHARS);
    text::words(&query)
        .into_iter()
        .map(|w| text::strip_possessive(w.text).to_lowercase())
        .filter(|w| text::is_content_word(w))
        .map(|w| text::stem(&w))
        .collect()
}

/// How many distinct query terms `sentence` contains.
fn overlap(terms: &BTreeSet<String>, sentence: &str) -> usize {
    if terms.is_empty() {
        return 0;
    }
    let stems: BTreeSet<String> = text::words(sentence)
        .into_iter()
        .map(|w| text::stem(w.text))
        .collect();
    terms.intersection(&stems).count()
}

/// A passage sentence chosen for quoting.
struct Quote {
    text: String,
    reference: String,
}

/// The best-overlapping passage sentences (ties: earlier passage, earlier sentence),
/// without repeats.
fn best_sentences(terms: &BTreeSet<String>, passages: &[(String, String)]) -> Vec<Quote> {
    let mut scored: Vec<(usize, usize, usize, String, &str)> = Vec::new();
    for (p, (reference, passage)) in passages.iter().enumerate() {
        for (s, sentence) in text::sentences(passage).into_iter().enumerate() {
            let score = overlap(terms, sentence);
            if score > 0 {
                scored.push((score, p, s, text::display_sentence(sentence), reference));
            }
        }
    }
    scored.sort_by_key(|(score, p, s, _, _)| (std::cmp::Reverse(*score), *p, *s));
    let mut seen = BTreeSet::new();
    scored
        .into_iter()
        .filter(|(_, _, _, sentence, _)| seen.insert(sentence_key(sentence)))
        .take(MAX_QUOTES)
        .map(|(_, _, _, sentence, reference)| Quote {
            text: text::truncate_chars(&sentence, MAX_QUOTE_CHARS),
            reference: reference.trim().to_string(),
        })
        .collect()
}

/// `quote` followed by ` [id]` (nothing when the id is empty), noting the citation.
fn cite(quote: &str, reference: &str, cited: &mut Vec<String>) -> String {
    let reference = text::squash(reference);
    if reference.is_empty() {
        return quote.to_string();
    }
    if !cited.contains(&reference) {
        cited.push(reference.clone());
    }
    format!("{quote} [{reference}]")
}

/// Without passages, the entity and relation lines that share words with the query.
fn push_graph_facts(
    terms: &BTreeSet<String>,
    entities: &[String],
    relations: &[String],
    lines: &mut Vec<String>,
) {
    let mut facts: Vec<(usize, usize, String)> = entities
        .iter()
        .chain(relations)
        .enumerate()
        .map(|(i, line)| (overlap(terms, line), i, text::squash(line)))
        .filter(|(score, _, line)| *score > 0 && !line.is_empty())
        .collect();
    facts.sort_by_key(|(score, i, _)| (std::cmp::Reverse(*score), *i));
    if facts.is_empty() {
        return;
    }
    lines.push(String::new());
    lines.push("The knowledge graph records:".to_string());
    lines.push(String::new());
    for (_, _, fact) in facts.into_iter().take(MAX_QUOTES) {
        lines.push(format!(
            "- {}",
            text::truncate_chars(&fact, MAX_QUOTE_CHARS)
        ));
    }
}

/// "Related entities: A, B." from "Name: description" lines.
fn push_related_entities(entities: &[String], lines: &mut Vec<String>) {
    let mut names = KeywordList::new(MAX_RELATED);
    for line in entities {
        let name = line.split_once(':').map_or(line.as_str(), |(name, _)| name);
        names.push(&text::truncate_chars(&text::squash(name), 100));
    }
    if !names.items.is_empty() {
        lines.push(String::new());
        lines.push(format!("Related entities: {}.", names.items.join(", ")));
    }
}

/// `### References` with one `- [id] file_path` line per cited reference, in the order
/// of `references` (ids not found there last, as "unknown source").
fn push_references(cited: &[String], references: &[(String, String)], lines: &mut Vec<String>) {
    if cited.is_empty() {
        return;
    }
    lines.push(String::new());
    lines.push("### References".to_string());
    lines.push(String::new());
    let mut listed: Vec<String> = Vec::new();
    for (id, path) in references {
        let id = text::squash(id);
        if cited.contains(&id) && !listed.contains(&id) {
            lines.push(format!("- [{id}] {}", text::squash(path)));
            listed.push(id);
        }
    }
    for id in cited {
        if !listed.contains(id) {
            lines.push(format!("- [{id}] unknown source"));
        }
    }
}

#[cfg(test)]
mod tests;
