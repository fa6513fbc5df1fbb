//! Alias resolution: mapping every mention to its entity (surnames, given names,
//! plurals, acronyms) and building the entity list.

use super::model::{Analysis, CUE, Entity, Kind, Mention, Placed, Sentence, Votes};
use crate::lexicon;
use std::collections::BTreeMap;

/// Maps every mention to its entity and builds the entity list.
pub(super) fn resolve<'a>(
    sentences: Vec<Sentence<'a>>,
    mentions: Vec<Mention>,
    acronyms: &BTreeMap<String, String>,
) -> Analysis<'a> {
    let aliases = AliasIndex::new(&mentions);
    let mut entities: Vec<Entity> = Vec::new();
    let mut votes: Vec<Votes> = Vec::new();
    let mut index_of: BTreeMap<String, usize> = BTreeMap::new();
    let mut placed: Vec<Vec<Placed>> = sentences.iter().map(|_| Vec::new()).collect();
    for mention in &mentions {
        let (key, via_surname) = aliases.canonical(mention, acronyms, &index_of, &entities);
        let entity = *index_of.entry(key.clone()).or_insert_with(|| {
            let name = aliases
                .surfaces
                .get(&key)
                .cloned()
                .unwrap_or_else(|| mention.surface.clone());
            entities.push(Entity {
                name,
                kind: Kind::Concept,
                sentences: Vec::new(),
                mentions: 0,
            });
            votes.push(Votes::default());
            entities.len() - 1
        });
        let record = &mut entities[entity];
        record.mentions += 1;
        if record.sentences.last() != Some(&mention.sentence) {
            record.sentences.push(mention.sentence);
        }
        votes[entity].merge(&mention.votes);
        if via_surname {
            votes[entity].add(Kind::Person, CUE);
        }
        placed[mention.sentence].push(Placed {
            entity,
            first: mention.first,
            last: mention.last,
        });
    }
    for (entity, vote) in entities.iter_mut().zip(&votes) {
        entity.kind = vote.winner();
    }
    Analysis {
        sentences,
        entities,
        placed,
    }
}

/// Lookups for alias resolution, built from all mentions of the chunk.
struct AliasIndex {
    /// First surface seen for each key.
    surfaces: BTreeMap<String, String>,
    /// Last word → keys of longer names ending in it, in order of first mention.
    by_last: BTreeMap<String, Vec<String>>,
    /// Given name → keys of longer names starting with it.
    by_first: BTreeMap<String, Vec<String>>,
}

impl AliasIndex {
    fn new(mentions: &[Mention]) -> Self {
        let mut index = AliasIndex {
            surfaces: BTreeMap::new(),
            by_last: BTreeMap::new(),
            by_first: BTreeMap::new(),
        };
        for mention in mentions {
            index
                .surfaces
                .entry(mention.key.clone())
                .or_insert_with(|| mention.surface.clone());
            let (Some(first), Some(last)) = (mention.tokens.first(), mention.tokens.last()) else {
                continue;
            };
            if !is_person_shaped(&mention.tokens) {
                continue;
            }
            push_unique(index.by_last.entry(last.clone()).or_default(), &mention.key);
            if lexicon::is_given_name(first) {
                push_unique(
                    index.by_first.entry(first.clone()).or_default(),
                    &mention.key,
                );
            }
        }
        index
    }

    /// The entity key `mention` belongs to, and whether it was reached as a surname.
    fn canonical(
        &self,
        mention: &Mention,
        acronyms: &BTreeMap<String, String>,
        seen: &BTreeMap<String, usize>,
        entities: &[Entity],
    ) -> (String, bool) {
        if let Some(long) = acronyms.get(&mention.key) {
            return (long.clone(), false);
        }
        if mention.tokens.len() != 1 {
            return (mention.key.clone(), false);
        }
        let key = mention.key.as_str();
        let singular = key.strip_suffix('s').filter(|s| s.chars().count() >= 2);
        if let Some(found) = self
            .by_last
            .get(key)
            .or_else(|| singular.and_then(|s| self.by_last.get(s)))
        {
            return (most_recent(found, seen, entities), true);
        }
        if let Some(found) = self.by_first.get(key).filter(|f| f.len() == 1) {
            return (found[0].clone(), false);
        }
        match singular {
            Some(s) if self.surfaces.contains_key(s) => (s.to_string(), false),
            _ => (mention.key.clone(), false),
        }
    }
}

/// Two to four words, no "of"/"for"/"the"/"on"/"in", and no last word that names an
/// organisation, place, event or thing: the names whose last word can stand alone for
/// them ("Curie"), unlike "University of Paris" → "Paris" or "Acme Labs" → "Labs".
fn is_person_shaped(tokens: &[String]) -> bool {
    let Some(last) = tokens.last() else {
        return false;
    };
    let suffix = [
        lexicon::is_organization_suffix,
        lexicon::is_location_suffix,
        lexicon::is_event_word,
        lexicon::is_concept_suffix,
        lexicon::is_content_suffix,
        lexicon::is_method_suffix,
        lexicon::is_artifact_suffix,
        lexicon::is_natural_object,
    ]
    .iter()
    .any(|test| test(last));
    (2..=4).contains(&tokens.len())
        && !suffix
        && !lexicon::is_known_place(last)
        && !tokens
            .iter()
            .any(|t| matches!(t.as_str(), "of" | "for" | "the" | "on" | "in" | "and"))
}

fn push_unique(list: &mut Vec<String>, key: &str) {
    if !list.iter().any(|k| k == key) {
        list.push(key.to_string());
    }
}

/// The candidate whose entity was mentioned last so far (its latest sentence; ties:
/// more mentions so far, then first mentioned), else the first candidate.
fn most_recent(
    candidates: &[String],
    seen: &BTreeMap<String, usize>,
    entities: &[Entity],
) -> String {
    candidates
        .iter()
        .filter_map(|key| {
            let index = *seen.get(key)?;
            let entity = &entities[index];
            let latest = entity.sentences.last().copied().unwrap_or(0);
            Some(((latest, entity.mentions, std::cmp::Reverse(index)), key))
        })
        .max_by_key(|(rank, _)| *rank)
        .map_or_else(|| candidates[0].clone(), |(_, key)| key.clone())
}
