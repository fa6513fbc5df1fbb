//! Finding name runs in a sentence: word tests, honorifics, connectors, "A and B"
//! merges and bracketed acronyms.

use super::model::{MAX_RUN_WORDS, Run, Sentence};
use crate::lexicon;
use crate::text;
use std::collections::BTreeMap;

/// A sentence of at least three words without a single lowercase letter.
pub(super) fn is_shouting(sentence: &Sentence<'_>) -> bool {
    sentence.words.len() >= 3 && !sentence.text.chars().any(char::is_lowercase)
}

/// Whether word `i` starts the sentence or a clause in which capitals say nothing:
/// a table cell, the text after a colon, a quotation.
pub(super) fn starts_clause(sentence: &Sentence<'_>, i: usize) -> bool {
    if i == 0 {
        return true;
    }
    let gap = &sentence.text[sentence.words[i - 1].end..sentence.words[i].start];
    gap.contains(['|', ':', '"', '“', '•'])
}

/// Mixed-case or letter-and-digit words ("NetworkX", "iPhone", "Neo4j", "GPT-4o") are
/// names wherever they stand.
pub(super) fn is_distinctive(word: &str) -> bool {
    let mut chars = word.chars().filter(|c| c.is_alphanumeric());
    let first_upper = chars.next().is_some_and(char::is_uppercase);
    let rest: Vec<char> = chars.collect();
    let inner_upper = rest.iter().any(|c| c.is_uppercase());
    let has_lower = rest.iter().any(|c| c.is_lowercase());
    let has_digit = word.chars().any(|c| c.is_ascii_digit());
    let has_letter = word.chars().any(char::is_alphabetic);
    (inner_upper && has_lower) || (has_digit && has_letter && (first_upper || inner_upper))
}

/// Capitalised (or camel-case) word of sane length.
pub(super) fn is_name_token(word: &str) -> bool {
    let mut chars = word.chars();
    let Some(first) = chars.next() else {
        return false;
    };
    if word.chars().count() > text::MAX_WORD_CHARS {
        return false;
    }
    first.is_uppercase() || (first.is_alphabetic() && chars.any(char::is_uppercase))
}

/// At least two letters, all uppercase, at most ten chars ("NASA", "COVID-19").
pub(super) fn is_acronym(word: &str) -> bool {
    let letters: Vec<char> = word.chars().filter(|c| c.is_alphabetic()).collect();
    letters.len() >= 2 && letters.iter().all(|c| c.is_uppercase()) && word.chars().count() <= 10
}

pub(super) fn is_roman_numeral(word: &str) -> bool {
    !word.is_empty() && word.chars().all(|c| "IVXLCDM".contains(c))
}

pub(super) fn lower_of(word: &str) -> String {
    text::strip_possessive(word).to_lowercase()
}

/// Words that cannot start or continue a name: stop words, except in capitals ("US",
/// "IT" and "WHO" are names).
pub(super) fn is_stopish(word: &str) -> bool {
    let lower = lower_of(word);
    if is_acronym(word) {
        return matches!(
            lower.as_str(),
            "ok" | "am" | "pm" | "ie" | "eg" | "etc" | "vs"
        );
    }
    lexicon::is_stop_word(&lower)
}

fn ends_possessive(word: &str) -> bool {
    text::strip_possessive(word).len() != word.len()
}

/// Whether words `a` and `b` of `sentence` are adjacent within one name: only plain
/// spaces between them, or the full stop of an initial or abbreviation ("J. K.").
fn joins(sentence: &Sentence<'_>, a: usize, b: usize) -> bool {
    let (wa, wb) = (sentence.words[a], sentence.words[b]);
    let gap = &sentence.text[wa.end..wb.start];
    if !gap.is_empty() && gap.chars().all(|c| c == ' ' || c == '\t') {
        return true;
    }
    let initial = wa.text.chars().count() == 1 && wa.text.chars().all(char::is_uppercase);
    initial && matches!(gap, "." | ". ")
}

/// Whether the connector `word` may follow the name word `prev` (`nth` connectors in).
fn connector_allowed(prev: &str, word: &str, nth: usize) -> bool {
    match word {
        "the" => nth > 0,
        "on" | "in" => {
            nth == 0
                && (lexicon::is_event_word(prev)
                    || lexicon::is_concept_suffix(prev)
                    || matches!(prev, "committee" | "commission" | "council"))
        }
        _ => true,
    }
}

/// The capitalised runs of one sentence, honorifics noted and dropped.
pub(super) fn find_runs(sentence: &Sentence<'_>) -> Vec<Run> {
    let words = &sentence.words;
    let mut runs = Vec::new();
    let mut i = 0;
    while i < words.len() {
        let word = words[i].text;
        if !is_name_token(word) {
            i += 1;
            continue;
        }
        if let Some(run) = honorific_run(sentence, i) {
            i = run.last + 1;
            runs.push(run);
            continue;
        }
        let lower = lower_of(word);
        if lexicon::is_calendar_word(&lower) && !is_stopish(word) {
            let last = extend_run(sentence, i);
            if last > i && lexicon::is_event_word(&lower_of(words[last].text)) {
                runs.push(Run {
                    first: i,
                    last,
                    honorific: false,
                });
                i = last + 1;
            } else {
                i += 1;
            }
            continue;
        }
        if is_stopish(word) || lexicon::is_honorific(&lower) {
            i += 1;
            continue;
        }
        let last = extend_run(sentence, i);
        runs.push(Run {
            first: i,
            last,
            honorific: false,
        });
        i = last + 1;
    }
    runs
}

/// A run that starts with up to three honorifics followed by a name.
fn honorific_run(sentence: &Sentence<'_>, at: usize) -> Option<Run> {
    let words = &sentence.words;
    let mut j = at;
    while j < words.len() && j - at < 3 && lexicon::is_honorific(&lower_of(words[j].text)) {
        if j > at && !joins(sentence, j - 1, j) {
            return None;
        }
        j += 1;
    }
    let is_name = |k: usize| {
        is_name_token(words[k].text)
            && !is_stopish(words[k].text)
            && !lexicon::is_honorific(&lower_of(words[k].text))
    };
    let honorific_joins =
        |k: usize| joins(sentence, k - 1, k) || honorific_with_dot(sentence, k - 1, k);
    if j == at
        || j >= words.len()
        || !is_name(j)
        || !honorific_joins(j)
        || ends_possessive(words[j - 1].text)
    {
        return None;
    }
    let last = extend_run(sentence, j);
    let institutional = (j..=last).any(|k| {
        let lower = lower_of(words[k].text);
        lexicon::is_organization_suffix(&lower) || lexicon::is_location_suffix(&lower)
    });
    Some(if institutional {
        Run {
            first: at,
            last,
            honorific: false,
        }
    } else {
        Run {
            first: j,
            last,
            honorific: true,
        }
    })
}

/// "Dr. Smith": an abbreviated honorific, its full stop, then the name.
fn honorific_with_dot(sentence: &Sentence<'_>, a: usize, b: usize) -> bool {
    let (wa, wb) = (sentence.words[a], sentence.words[b]);
    matches!(&sentence.text[wa.end..wb.start], ". " | ".")
}

/// Last word index of the run that starts at `first`.
fn extend_run(sentence: &Sentence<'_>, first: usize) -> usize {
    let words = &sentence.words;
    let mut last = first;
    if ends_possessive(words[first].text) {
        return last;
    }
    while last + 1 < words.len() && last + 1 - first < MAX_RUN_WORDS {
        let prev_lower = lower_of(words[last].text);
        let mut next = last + 1;
        let mut connectors = 0;
        while next < words.len() && connectors < 2 {
            let lower = words[next].text.to_lowercase();
            let is_connector = lexicon::is_connector(&lower)
                && !words[next].text.chars().all(char::is_uppercase)
                && connector_allowed(&prev_lower, &lower, connectors)
                && joins(sentence, next - 1, next);
            if !is_connector {
                break;
            }
            connectors += 1;
            next += 1;
        }
        let Some(word) = words.get(next) else { break };
        let fits = is_name_token(word.text)
            && !is_stopish(word.text)
            && !lexicon::is_honorific(&lower_of(word.text))
            && joins(sentence, next - 1, next)
            && next - first < MAX_RUN_WORDS;
        if !fits {
            break;
        }
        last = next;
        if ends_possessive(word.text) {
            break;
        }
    }
    last
}

/// Merges "A and B" / "A & B" when B ends in an organisation word.
pub(super) fn merge_and_runs(sentence: &Sentence<'_>, runs: Vec<Run>) -> Vec<Run> {
    let mut out: Vec<Run> = Vec::with_capacity(runs.len());
    for run in runs {
        if let Some(prev) = out.last_mut()
            && and_joined(sentence, prev, &run)
        {
            prev.last = run.last;
            continue;
        }
        out.push(run);
    }
    out
}

fn and_joined(sentence: &Sentence<'_>, a: &Run, b: &Run) -> bool {
    let words = &sentence.words;
    if b.honorific || !lexicon::is_organization_suffix(&lower_of(words[b.last].text)) {
        return false;
    }
    if b.first == a.last + 2 {
        let middle = a.last + 1;
        return words[middle].text.eq_ignore_ascii_case("and")
            && joins(sentence, a.last, middle)
            && joins(sentence, middle, b.first);
    }
    b.first == a.last + 1 && sentence.text[words[a.last].end..words[b.first].start].trim() == "&"
}

/// Notes "Long Name (ACRONYM)" when the acronym spells the name's initials.
pub(super) fn record_acronyms(
    sentence: &Sentence<'_>,
    runs: &[Run],
    acronyms: &mut BTreeMap<String, String>,
) {
    let words = &sentence.words;
    for pair in runs.windows(2) {
        let (long, short) = (&pair[0], &pair[1]);
        if short.first != short.last
            || long.first == long.last
            || !is_acronym(words[short.first].text)
        {
            continue;
        }
        let between = &sentence.text[words[long.last].end..words[short.first].start];
        let after = &sentence.text[words[short.first].end..];
        if between.trim() != "(" || !after.trim_start().starts_with(')') {
            continue;
        }
        let initials: String = (long.first..=long.last)
            .map(|k| words[k].text)
            .filter(|w| w.chars().next().is_some_and(char::is_uppercase))
            .filter_map(|w| w.chars().next())
            .collect();
        let letters: String = words[short.first]
            .text
            .chars()
            .filter(|c| c.is_alphabetic())
            .collect();
        if initials == letters {
            let long_key = run_key(sentence, long.first, long.last);
            acronyms
                .entry(lower_of(words[short.first].text))
                .or_insert(long_key);
        }
    }
}

/// Display form of words `first..=last`: original spelling, spaces collapsed,
/// possessive dropped.
pub(super) fn run_surface(sentence: &Sentence<'_>, first: usize, last: usize) -> String {
    let words = &sentence.words;
    let last_word = words[last];
    let end = last_word.start + text::strip_possessive(last_word.text).len();
    text::squash(&sentence.text[words[first].start..end])
}

pub(super) fn run_key(sentence: &Sentence<'_>, first: usize, last: usize) -> String {
    run_surface(sentence, first, last).to_lowercase()
}
