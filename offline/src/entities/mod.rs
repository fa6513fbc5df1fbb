//! Rule-based named-entity detection, alias merging and typing for the offline
//! extractor.
//!
//! # Rules
//! * **Names** are runs of capitalised words (or camel-case words like "iPhone", or
//!   acronyms like "NASA"), separated only by spaces, that may contain the connectors
//!   of/for/de/da/van/von/… before a further capitalised word ("University of Paris",
//!   "Leonardo da Vinci"); "the" only after another connector ("Bank of the West");
//!   "on"/"in" only after an event, prize or committee word ("Nobel Prize in
//!   Physics"). Two names joined by "and"/"&" merge when the second ends in an
//!   organisation word ("National Aeronautics and Space Administration"). A run ends
//!   after a possessive ("Curie's") and at eight words.
//! * **Skipped**: stop words ("The", "However", "During" …) and calendar words never
//!   start a name; a single capitalised word that starts a sentence counts only if the
//!   chunk also has it capitalised mid-sentence; a phrase that starts a sentence loses
//!   its first word when that word also appears in lowercase ("Scientists Marie Curie"
//!   → "Marie Curie"). Single letters and lone roman numerals are not names. Sentences
//!   written entirely in capitals are skipped: case says nothing there.
//! * **Honorifics** (Mr, Dr, Prof, President, Queen …) are dropped from the name and
//!   make it a person, unless the name contains an organisation or place word
//!   ("Queen Mary University").
//! * **Aliases** merge into one entity: a single word that is the last word of a
//!   longer name in the chunk ("Curie" → the most recently mentioned of "Marie Curie"
//!   / "Pierre Curie"), a common given name that starts exactly such a name ("Marie"),
//!   plural and possessive forms ("the Curies", "Curie's"), and an acronym defined in
//!   brackets after its expansion ("Space Administration (NASA)").
//! * **Types** come from votes over all mentions: strong signals (weight 3) are an
//!   honorific, an organisation/place/event/prize/document/method/artifact word at the
//!   end (or head) of the name, and a short gazetteer of countries and large cities;
//!   a common given name at the start of a two- or three-word name weighs 2, as does
//!   a place verb before the name ("born in", "based in"); weak cues (weight 1) are "who"
//!   or "married" after the name, use of its last word alone (a surname), "the" before
//!   an acronym (an organisation), "joined"/"founded" before it. Ties go to the earlier
//!   kind in [`Kind::PRIORITY`]; without any signal a name is a concept. A bare pair of
//!   capitalised words is *not* taken as a person ("Nobel Prize"): a given name, an
//!   honorific, a surname alias or a person cue has to say so.

mod aliases;
mod model;
mod runs;
mod typing;

use crate::text;
use aliases::resolve;
use model::ChunkFacts;
pub(crate) use model::{Analysis, Kind, Placed, Sentence};
use runs::{find_runs, is_name_token, is_shouting, merge_and_runs, record_acronyms, starts_clause};
use std::collections::BTreeMap;
use typing::make_mention;

/// Finds, merges and types the entities of `text`.
pub(crate) fn analyse(text: &str) -> Analysis<'_> {
    let sentences: Vec<Sentence<'_>> = text::sentences(text)
        .into_iter()
        .map(|s| Sentence {
            text: s,
            words: text::words(s),
        })
        .collect();
    let facts = chunk_facts(&sentences);
    let mut mentions = Vec::new();
    let mut acronyms = BTreeMap::new();
    for (index, sentence) in sentences.iter().enumerate() {
        if is_shouting(sentence) {
            continue;
        }
        let runs = merge_and_runs(sentence, find_runs(sentence));
        record_acronyms(sentence, &runs, &mut acronyms);
        for run in runs {
            if let Some(mention) = make_mention(index, sentence, run, &facts) {
                mentions.push(mention);
            }
        }
    }
    resolve(sentences, mentions, &acronyms)
}

fn chunk_facts(sentences: &[Sentence<'_>]) -> ChunkFacts {
    let mut facts = ChunkFacts::default();
    for sentence in sentences {
        for (i, word) in sentence.words.iter().enumerate() {
            let lower = text::strip_possessive(word.text).to_lowercase();
            if !starts_clause(sentence, i) && is_name_token(word.text) {
                facts.mid_caps.insert(lower);
            } else if word.text.chars().next().is_some_and(char::is_lowercase) {
                facts.lower.insert(lower);
            }
        }
    }
    facts
}

#[cfg(test)]
mod tests;
