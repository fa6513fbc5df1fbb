//! Turning a run into a mention and typing it by votes from its words and neighbours.

use super::model::{
    CUE, ChunkFacts, Kind, MAX_NAME_CHARS, MEDIUM, Mention, Run, STRONG, Sentence, Votes,
};
use super::runs::{
    is_acronym, is_distinctive, is_roman_numeral, is_stopish, lower_of, run_key, run_surface,
    starts_clause,
};
use crate::lexicon;

/// Applies the sentence-start rules to a run and builds its mention, if it stays.
pub(super) fn make_mention(
    index: usize,
    sentence: &Sentence<'_>,
    run: Run,
    facts: &ChunkFacts,
) -> Option<Mention> {
    let words = &sentence.words;
    let mut first = run.first;
    if starts_clause(sentence, first) && !run.honorific && run.last > first {
        let lead = lower_of(words[first].text);
        if !facts.mid_caps.contains(&lead) && facts.lower.contains(&lead) {
            first += 1;
            while first < run.last && lexicon::is_connector(&words[first].text.to_lowercase()) {
                first += 1;
            }
        }
    }
    let single = first == run.last;
    let word = words[first].text;
    if single {
        let lower = lower_of(word);
        let bare_letter = word.chars().count() < 2 || is_roman_numeral(word);
        let unconfirmed = starts_clause(sentence, first)
            && !run.honorific
            && !is_acronym(word)
            && !is_distinctive(word)
            && !facts.mid_caps.contains(&lower);
        if bare_letter || unconfirmed || is_stopish(word) {
            return None;
        }
    }
    let surface = run_surface(sentence, first, run.last);
    if surface.chars().count() > MAX_NAME_CHARS {
        return None;
    }
    let tokens: Vec<String> = (first..=run.last)
        .map(|k| lower_of(words[k].text))
        .collect();
    let key = match tokens.split_last() {
        Some((last, rest)) if !rest.is_empty() && lexicon::is_legal_form(last) => {
            run_key(sentence, first, run.last - 1)
        }
        _ => surface.to_lowercase(),
    };
    let votes = mention_votes(sentence, first, run.last, run.honorific, &key, &tokens);
    Some(Mention {
        sentence: index,
        first,
        last: run.last,
        surface,
        key,
        tokens,
        votes,
    })
}

/// Type votes from the words of the name and its neighbours.
fn mention_votes(
    sentence: &Sentence<'_>,
    first: usize,
    last: usize,
    honorific: bool,
    key: &str,
    tokens: &[String],
) -> Votes {
    let mut votes = Votes::default();
    if honorific {
        votes.add(Kind::Person, STRONG);
    }
    if lexicon::is_known_place(key) {
        votes.add(Kind::Location, STRONG);
    }
    if lexicon::is_known_organization(key) {
        votes.add(Kind::Organization, STRONG);
    }
    if tokens.len() == 1 && lexicon::is_natural_object(key) {
        votes.add(Kind::NaturalObject, STRONG);
    }
    if tokens.len() == 1 && lexicon::is_single_word_event(key) {
        votes.add(Kind::Event, STRONG);
    }
    if tokens.len() >= 2 {
        name_word_votes(tokens, &mut votes);
        if looks_like_personal_name(sentence, first, last, tokens) {
            votes.add(Kind::Person, MEDIUM);
        }
    }
    context_votes(sentence, first, last, &mut votes);
    votes
}

/// A lookup in one of the word lists.
type WordTest = fn(&str) -> bool;

/// Votes from the head (last non-numeral) word and the first word of a multi-word name.
fn name_word_votes(tokens: &[String], votes: &mut Votes) {
    let head = tokens
        .iter()
        .rev()
        .find(|t| {
            !t.chars()
                .all(|c| c.is_ascii_digit() || "ivxlcdm".contains(c))
        })
        .map_or("", String::as_str);
    let suffix_kinds: [(WordTest, Kind); 8] = [
        (lexicon::is_organization_suffix, Kind::Organization),
        (lexicon::is_location_suffix, Kind::Location),
        (lexicon::is_event_word, Kind::Event),
        (lexicon::is_concept_suffix, Kind::Concept),
        (lexicon::is_content_suffix, Kind::Content),
        (lexicon::is_method_suffix, Kind::Method),
        (lexicon::is_artifact_suffix, Kind::Artifact),
        (lexicon::is_natural_object, Kind::NaturalObject),
    ];
    let singular = head.strip_suffix('s').unwrap_or(head);
    if let Some((_, kind)) = suffix_kinds
        .iter()
        .find(|(test, _)| test(head) || test(singular))
    {
        votes.add(*kind, STRONG);
    }
    let connector_at = tokens
        .iter()
        .position(|t| matches!(t.as_str(), "of" | "for"));
    let followed_by_connector = connector_at.is_some();
    let lead = connector_at
        .and_then(|at| at.checked_sub(1))
        .map_or(tokens[0].as_str(), |at| tokens[at].as_str());
    if followed_by_connector && lexicon::is_organization_head(lead) {
        votes.add(Kind::Organization, STRONG);
    } else if followed_by_connector && matches!(lead, "battle" | "siege" | "war" | "treaty") {
        let kind = if lead == "treaty" {
            Kind::Content
        } else {
            Kind::Event
        };
        votes.add(kind, STRONG);
    } else if matches!(
        lead,
        "mount" | "mt" | "lake" | "cape" | "gulf" | "bay" | "isle" | "fort" | "river"
    ) || followed_by_connector && lexicon::is_location_head(lead)
    {
        votes.add(Kind::Location, STRONG);
    } else if lexicon::is_location_head(lead) {
        votes.add(Kind::Location, CUE);
    }
}

/// Two or three alphabetic title-case words starting with a common given name.
fn looks_like_personal_name(
    sentence: &Sentence<'_>,
    first: usize,
    last: usize,
    tokens: &[String],
) -> bool {
    let title_case = (first..=last).all(|k| {
        let w = sentence.words[k].text;
        let mut chars = w.chars();
        chars.next().is_some_and(char::is_uppercase)
            && chars.all(|c| !c.is_uppercase() || c == '\'')
            || lexicon::is_connector(&w.to_lowercase())
    });
    (2..=4).contains(&tokens.len()) && title_case && lexicon::is_given_name(&tokens[0])
}

/// Votes from the words around the name.
fn context_votes(sentence: &Sentence<'_>, first: usize, last: usize, votes: &mut Votes) {
    let words = &sentence.words;
    let lower_at = |k: usize| words.get(k).map(|w| w.text.to_lowercase());
    let before = first.checked_sub(1).and_then(lower_at);
    let before2 = first.checked_sub(2).and_then(lower_at);
    let after = lower_at(last + 1);
    let after2 = lower_at(last + 2);
    let (before, before2) = (before.as_deref(), before2.as_deref());
    if matches!(before, Some("in" | "at" | "from" | "near" | "to" | "into"))
        && before2.is_some_and(lexicon::is_place_cue)
    {
        votes.add(Kind::Location, MEDIUM);
    }
    if before == Some("of")
        && matches!(
            before2,
            Some("capital" | "city" | "town" | "village" | "outskirts" | "suburbs" | "streets")
        )
    {
        votes.add(Kind::Location, MEDIUM);
    }
    if after.as_deref().is_some_and(lexicon::is_person_cue_after)
        || matches!(after.as_deref(), Some("was" | "is")) && after2.as_deref() == Some("born")
    {
        votes.add(Kind::Person, CUE);
    }
    if matches!(
        before,
        Some("joined" | "founded" | "co-founded" | "acquired")
    ) {
        votes.add(Kind::Organization, CUE);
    }
    if before == Some("the") && first == last && is_acronym(words[first].text) {
        votes.add(Kind::Organization, CUE);
    }
}
