//! What each imported document contributed to the graph — the engine's per-document
//! record ([`DocGraph`]) that deleting the document starts from.
//!
//! It is derived from the imported graph itself: a document contributed every
//! entity and relation one of its chunks is a source of. LightRAG's own record of it
//! (`kv_store_full_entities.json`, `kv_store_full_relations.json`) is added where
//! present, for entities and relations that were imported. Names are interned once
//! for all documents, and each document's list is deduplicated with a set, so
//! building the records is linear in their size.

use super::batch::Batch;
use super::kv::{self, FullEntitiesRow, FullRelationsRow};
use super::report::Tally;
use super::source::{FULL_ENTITIES, FULL_RELATIONS, Source};
use crate::ids::sorted;
use crate::shared::Shared;
use crate::state::{DocGraph, DocState, Op};
use crate::wit::Error;
use std::collections::{HashMap, HashSet};

/// One document's contribution, as interned name ids.
#[derive(Default)]
struct Contribution {
    entities: Vec<u32>,
    seen: HashSet<u32>,
    /// Pairs of name ids, the first name first by name.
    relations: Vec<(u32, u32)>,
    seen_relations: HashSet<(u32, u32)>,
}

impl Contribution {
    fn entity(&mut self, id: u32) {
        if self.seen.insert(id) {
            self.entities.push(id);
        }
    }
}

/// The contributions of every document, built up while the graph is imported.
#[derive(Default)]
pub struct Contributions {
    names: Vec<String>,
    ids: HashMap<String, u32>,
    docs: HashMap<String, Contribution>,
}

impl Contributions {
    fn intern(&mut self, name: &str) -> u32 {
        if let Some(&id) = self.ids.get(name) {
            return id;
        }
        let id = self.names.len() as u32;
        self.names.push(name.to_string());
        self.ids.insert(name.to_string(), id);
        id
    }

    /// Document `doc` contributed entity `name`.
    pub fn entity(&mut self, doc: &str, name: &str) {
        let id = self.intern(name);
        self.docs.entry(doc.to_string()).or_default().entity(id);
    }

    /// Document `doc` contributed the relation between `a` and `b` (and so both).
    pub fn relation(&mut self, doc: &str, a: &str, b: &str) {
        let (a, b) = sorted(a, b);
        let pair = (self.intern(a), self.intern(b));
        let contribution = self.docs.entry(doc.to_string()).or_default();
        contribution.entity(pair.0);
        contribution.entity(pair.1);
        if contribution.seen_relations.insert(pair) {
            contribution.relations.push(pair);
        }
    }

    /// Adds what LightRAG recorded of each processed document's contribution, where
    /// those entities and relations were imported.
    pub fn add_listed(
        &mut self,
        shared: &Shared,
        source: &Source,
        tally: &mut Tally,
    ) -> Result<(), Error> {
        let processed = |doc: &str| {
            let store = shared.store.borrow();
            store
                .state()
                .status
                .get(doc)
                .is_some_and(|s| s.state == DocState::Processed)
        };
        if let Some(path) = source.optional(FULL_ENTITIES) {
            kv::for_each(&path, FULL_ENTITIES, |doc, raw, _| {
                let Ok(row) = kv::decode::<FullEntitiesRow>(raw) else {
                    tally.note("a malformed kv_store_full_entities.json record", &doc);
                    return Ok(());
                };
                if processed(&doc) {
                    for name in row.entity_names {
                        if shared.store.borrow().state().graph.node(&name).is_some() {
                            self.entity(&doc, &name);
                        }
                    }
                }
                Ok(())
            })?;
        }
        if let Some(path) = source.optional(FULL_RELATIONS) {
            kv::for_each(&path, FULL_RELATIONS, |doc, raw, _| {
                let Ok(row) = kv::decode::<FullRelationsRow>(raw) else {
                    tally.note("a malformed kv_store_full_relations.json record", &doc);
                    return Ok(());
                };
                if processed(&doc) {
                    for pair in row.relation_pairs {
                        let [a, b] = pair.as_slice() else { continue };
                        if shared.store.borrow().state().graph.edge(a, b).is_some() {
                            self.relation(&doc, a, b);
                        }
                    }
                }
                Ok(())
            })?;
        }
        Ok(())
    }

    /// The record of one document's contribution.
    fn record(&self, contribution: &Contribution) -> DocGraph {
        let position: HashMap<u32, u32> = contribution
            .entities
            .iter()
            .enumerate()
            .map(|(at, &id)| (id, at as u32))
            .collect();
        let relations = contribution
            .relations
            .iter()
            .filter_map(|(a, b)| Some((*position.get(a)?, *position.get(b)?)))
            .collect();
        let names = contribution
            .entities
            .iter()
            .map(|&id| self.names[id as usize].as_str());
        DocGraph::from_parts(names, relations)
    }

    /// Writes every document's record.
    pub fn commit(self, batch: &mut Batch<'_>) -> Result<(), Error> {
        for (doc, contribution) in &self.docs {
            let graph = self.record(contribution);
            batch.push([Op::SetDocGraph(doc.clone(), graph)], 0)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_match_those_built_name_by_name() {
        let mut contributions = Contributions::default();
        contributions.entity("d1", "Turing");
        contributions.relation("d1", "Turing", "Bletchley Park");
        contributions.relation("d1", "Bletchley Park", "Turing");
        contributions.relation("d1", "Cambridge", "Turing");
        contributions.entity("d1", "Cambridge");
        contributions.entity("d2", "Cambridge");
        let mut expected = DocGraph::default();
        expected.add_entity("Turing");
        expected.add_relation("Turing", "Bletchley Park");
        expected.add_relation("Cambridge", "Turing");
        assert_eq!(contributions.record(&contributions.docs["d1"]), expected);
        assert_eq!(contributions.docs["d2"].entities.len(), 1);
    }
}
