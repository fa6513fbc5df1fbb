//! Merging extracted entities and relations into the knowledge graph, LightRAG's way.
//!
//! A document's extraction results are grouped by entity name and by sorted
//! (source, target) pair, combined with what the graph already holds, and turned
//! into the operations that store nodes, edges, their vectors and the chunk
//! tracking used for deletion. Descriptions are joined with `<SEP>`; a model summary
//! is asked for only past LightRAG's thresholds, and very long description sets are
//! summarised map-reduce style (see `summary`).
//!
//! The caller holds the workspace's merge lock: between the first read of the graph
//! and the commit of these operations no other merge runs, so a merge never
//! overwrites another document's contribution.

use crate::executor::Io;
use crate::graph::{Edge, Node};
use crate::ids::{sorted, split_sep};
use crate::provenance::{self, extend_source_id, file_path, shown_path_parts};
use crate::records::{EntityRecord, Extraction, RelationRecord};
use crate::shared::Shared;
use crate::state::{ChunkIds, DocGraph, Op, State};
use crate::summary::summarize;
use crate::util::unix_now;
use crate::vectors::Embedding;
use crate::wit::{Config, EmbedKind, Error};
use futures_util::future::try_join_all;
use std::collections::{BTreeMap, BTreeSet};

/// Source ids that do not count as real sources for relation weights.
const NOT_REAL_SOURCES: [&str; 2] = ["manual_creation", "UNKNOWN"];

/// The extraction result of one chunk, with its provenance.
#[derive(Clone, Debug)]
pub struct ChunkResult {
    pub chunk_id: String,
    pub order: u32,
    pub file_path: String,
    pub extraction: Extraction,
}

/// The text embedded for an entity.
pub fn entity_vector_text(node: &Node) -> String {
    format!("{}\n{}", node.entity_id, node.description)
}

/// The text embedded for a relation.
pub fn relation_vector_text(edge: &Edge) -> String {
    format!(
        "{}\t{}\n{}\n{}",
        edge.keywords, edge.source, edge.target, edge.description
    )
}

/// Appends `new` to `old` without duplicates, keeping first-seen order.
fn union(old: &[String], new: impl IntoIterator<Item = String>) -> Vec<String> {
    let mut out = old.to_vec();
    for item in new {
        if !out.contains(&item) {
            out.push(item);
        }
    }
    out
}

/// How the merged description of one entity or relation is obtained.
pub struct Planned {
    pub kind: &'static str,
    pub name: String,
    pub fragments: Vec<String>,
}

/// A merged entity waiting for its description.
struct EntityPlan {
    name: String,
    entity_type: String,
    sources: Sources,
    fragments: Vec<String>,
}

/// A merged relation waiting for its description.
struct RelationPlan {
    source: String,
    target: String,
    weight: f64,
    keywords: String,
    sources: Sources,
    fragments: Vec<String>,
}

/// The provenance fields of a merged item, and how its full list of chunk ids changes.
struct Sources {
    source_id: String,
    truncate: String,
    file_path: String,
    chunks: ChunkList,
    /// Whether `source_id` and `file_path` are the stored item's (so the journal
    /// need not repeat them).
    unchanged: bool,
}

/// The change to an item's full list of chunk ids.
enum ChunkList {
    /// Chunks merged for the first time, appended: a merge's cost does not depend on
    /// how many chunks the item already has.
    Append(Vec<String>),
    /// The whole list (a rebuild, or an item stored without one).
    Replace(Vec<String>),
}

/// Everything a merge changes in the graph: the operations to commit.
pub struct Merged {
    pub ops: Vec<Op>,
}

/// What a document's chunk results contribute, for its deletion later: every entity
/// it names (relation endpoints included) and every relation, as sorted pairs.
pub fn doc_graph_of(results: &[ChunkResult]) -> DocGraph {
    let mut graph = DocGraph::default();
    for result in results {
        let names = result
            .extraction
            .entities
            .iter()
            .map(|e| e.name.as_str())
            .chain(
                result
                    .extraction
                    .relations
                    .iter()
                    .flat_map(|r| [r.source.as_str(), r.target.as_str()]),
            );
        for name in names {
            graph.add_entity(name);
        }
        for relation in &result.extraction.relations {
            graph.add_relation(&relation.source, &relation.target);
        }
    }
    graph
}

/// Whether a merge adds to what the graph holds or rebuilds from scratch.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Ingestion: new records join the stored node or edge; unknown relation
    /// endpoints become UNKNOWN entities.
    Ingest,
    /// Deletion: the records are all that remains of the item; nothing stored is
    /// reused, and no endpoint is created (they all still exist).
    Rebuild,
}

/// Merges chunk results into the graph (see [`Mode`]).
pub async fn merge(
    shared: &Shared,
    io: &Io,
    results: &[ChunkResult],
    mode: Mode,
) -> Result<Merged, Error> {
    let (entities, relations) = plan(shared, results, mode);
    // Descriptions: join or summarise, all concurrently.
    let entity_descriptions = try_join_all(
        entities
            .iter()
            .map(|p| summarize(shared, io, "Entity", p.name.clone(), p.fragments.clone())),
    )
    .await?;
    let relation_descriptions = try_join_all(relations.iter().map(|p| {
        let name = format!("({}, {})", p.source, p.target);
        summarize(shared, io, "Relation", name, p.fragments.clone())
    }))
    .await?;
    let now = unix_now();
    let nodes: Vec<Node> = entities
        .iter()
        .zip(entity_descriptions)
        .map(|(p, description)| Node {
            entity_id: p.name.clone(),
            entity_type: p.entity_type.clone(),
            description,
            source_id: p.sources.source_id.clone(),
            file_path: p.sources.file_path.clone(),
            created_at: now,
            truncate: p.sources.truncate.clone(),
        })
        .collect();
    let edges: Vec<Edge> = relations
        .iter()
        .zip(relation_descriptions)
        .map(|(p, description)| Edge {
            source: p.source.clone(),
            target: p.target.clone(),
            weight: p.weight,
            description,
            keywords: p.keywords.clone(),
            source_id: p.sources.source_id.clone(),
            file_path: p.sources.file_path.clone(),
            created_at: now,
            truncate: p.sources.truncate.clone(),
        })
        .collect();
    // One embedding request for every changed node and edge.
    let texts: Vec<String> = nodes
        .iter()
        .map(entity_vector_text)
        .chain(edges.iter().map(relation_vector_text))
        .collect();
    let mut vectors = io
        .embed(EmbedKind::Document, texts)
        .await
        .map_err(|e| Error::Unavailable(format!("embedding entities and relations failed: {e}")))?
        .into_iter();
    let mut ops = Vec::with_capacity(nodes.len() * 3 + edges.len() * 3);
    for (node, plan) in nodes.into_iter().zip(&entities) {
        let vector = vectors.next().unwrap_or_default();
        ops.push(match &plan.sources.chunks {
            ChunkList::Append(new) => Op::AddEntityChunks(plan.name.clone(), new.clone()),
            ChunkList::Replace(all) => Op::SetEntityChunks(plan.name.clone(), all.clone()),
        });
        ops.push(Op::PutEntityVector(
            node.entity_id.clone(),
            Embedding::new(&vector),
        ));
        ops.push(if plan.sources.unchanged {
            Op::PutNodeKeepProvenance(Node {
                source_id: String::new(),
                file_path: String::new(),
                ..node
            })
        } else {
            Op::PutNode(node)
        });
    }
    for (edge, plan) in edges.into_iter().zip(&relations) {
        let vector = vectors.next().unwrap_or_default();
        let (a, b) = (plan.source.clone(), plan.target.clone());
        ops.push(match &plan.sources.chunks {
            ChunkList::Append(new) => Op::AddRelationChunks(a, b, new.clone()),
            ChunkList::Replace(all) => Op::SetRelationChunks(a, b, all.clone()),
        });
        ops.push(Op::PutRelationVector(
            edge.source.clone(),
            edge.target.clone(),
            Embedding::new(&vector),
        ));
        ops.push(if plan.sources.unchanged {
            Op::PutEdgeKeepProvenance(Edge {
                source_id: String::new(),
                file_path: String::new(),
                ..edge
            })
        } else {
            Op::PutEdge(edge)
        });
    }
    Ok(Merged { ops })
}

/// Groups the records and combines them with the stored graph (without any model
/// call), so the result can be computed synchronously in one borrow of the state.
fn plan(
    shared: &Shared,
    results: &[ChunkResult],
    mode: Mode,
) -> (Vec<EntityPlan>, Vec<RelationPlan>) {
    let existing = mode == Mode::Ingest;
    let config = &shared.config;
    let store = shared.store.borrow();
    let state = store.state();
    let mut entity_records: BTreeMap<&str, Vec<(&EntityRecord, &ChunkResult)>> = BTreeMap::new();
    let mut relation_records: BTreeMap<(&str, &str), Vec<(&RelationRecord, &ChunkResult)>> =
        BTreeMap::new();
    for result in results {
        for record in &result.extraction.entities {
            entity_records
                .entry(record.name.as_str())
                .or_default()
                .push((record, result));
        }
        for record in &result.extraction.relations {
            let key = sorted(&record.source, &record.target);
            relation_records
                .entry(key)
                .or_default()
                .push((record, result));
        }
    }

    let mut entities: Vec<EntityPlan> = entity_records
        .iter()
        .map(|(name, records)| plan_entity(config, state, name, records, existing))
        .collect();
    let mut relations = Vec::with_capacity(relation_records.len());
    for ((a, b), records) in &relation_records {
        relations.push(plan_relation(config, state, a, b, records, existing));
        // An endpoint that is neither in the graph nor among this document's
        // entities is created as an UNKNOWN entity, as LightRAG does.
        for endpoint in [*a, *b] {
            let known = entity_records.contains_key(endpoint)
                || entities.iter().any(|e| e.name == endpoint)
                || state.graph.node(endpoint).is_some();
            if !known {
                let mut fragments = Vec::new();
                for (record, _) in records {
                    push_unique(&mut fragments, record.description.clone());
                }
                entities.push(EntityPlan {
                    name: endpoint.to_string(),
                    entity_type: "UNKNOWN".into(),
                    sources: sources(config, Kind::Entity, None, records),
                    fragments,
                });
            }
        }
    }
    (entities, relations)
}

fn push_unique(list: &mut Vec<String>, item: String) {
    if !list.contains(&item) {
        list.push(item);
    }
}

/// New records ordered as LightRAG orders them: by chunk, then longer first.
fn ordered_descriptions<'a, R>(
    records: &[(&'a R, &'a ChunkResult)],
    description: impl Fn(&R) -> &str,
) -> Vec<String> {
    let mut items: Vec<(u32, &str)> = records
        .iter()
        .map(|(r, c)| (c.order, description(r)))
        .collect();
    items.sort_by(|a, b| a.0.cmp(&b.0).then(b.1.len().cmp(&a.1.len())));
    let mut out = Vec::new();
    for (_, text) in items {
        push_unique(&mut out, text.trim().to_string());
    }
    out
}

fn plan_entity(
    config: &Config,
    state: &State,
    name: &str,
    records: &[(&EntityRecord, &ChunkResult)],
    existing: bool,
) -> EntityPlan {
    let old = existing.then(|| state.graph.node(name)).flatten();
    // Most frequent type among the new records and the stored one; ties go to the
    // type seen first (new records first, as LightRAG counts them).
    let mut counts: Vec<(String, usize)> = Vec::new();
    for ty in records
        .iter()
        .map(|(r, _)| r.entity_type.clone())
        .chain(old.map(|n| n.entity_type.clone()))
    {
        match counts.iter_mut().find(|(t, _)| *t == ty) {
            Some(entry) => entry.1 += 1,
            None => counts.push((ty, 1)),
        }
    }
    let entity_type = counts
        .iter()
        .fold(None::<&(String, usize)>, |best, item| match best {
            Some(b) if b.1 >= item.1 => Some(b),
            _ => Some(item),
        })
        .map(|(t, _)| t.clone())
        .unwrap_or_else(|| "UNKNOWN".into());
    let old_fragments = old.map(|n| split_sep(&n.description)).unwrap_or_default();
    let fragments = union(
        &old_fragments,
        ordered_descriptions(records, |r| &r.description),
    );
    let stored = old.map(|n| Stored {
        source_id: &n.source_id,
        truncate: &n.truncate,
        file_path: &n.file_path,
        chunks: state.entity_chunks.get(name),
    });
    EntityPlan {
        name: name.to_string(),
        entity_type,
        sources: sources(config, Kind::Entity, stored, records),
        fragments: if fragments.is_empty() {
            vec![format!("Entity {name}")]
        } else {
            fragments
        },
    }
}

/// An item's provenance as stored.
struct Stored<'a> {
    source_id: &'a str,
    truncate: &'a str,
    file_path: &'a str,
    /// Its full list of chunk ids, if it has one.
    chunks: Option<&'a ChunkIds>,
}

#[derive(Clone, Copy)]
enum Kind {
    Entity,
    Relation,
}

/// The provenance of an item after merging `records` into what is `stored` (nothing
/// in a rebuild or for a new item). The chunks of `records` are merged for the first
/// time — a document is only ever merged once — so they are appended to the full
/// list without comparing them with it.
fn sources<R>(
    config: &Config,
    kind: Kind,
    stored: Option<Stored<'_>>,
    records: &[(&R, &ChunkResult)],
) -> Sources {
    let limit = match kind {
        Kind::Entity => config.max_source_ids_per_entity,
        Kind::Relation => config.max_source_ids_per_relation,
    } as usize;
    let method = config.source_ids_limit;
    let mut new: Vec<String> = Vec::new();
    let mut new_paths: Vec<String> = Vec::new();
    for (_, chunk) in records {
        push_unique(&mut new, chunk.chunk_id.clone());
        push_unique(&mut new_paths, chunk.file_path.clone());
    }
    let paths = |old: &str| {
        // As `union`, borrowed: the shown names as they are, then new ones not shown.
        let mut paths: Vec<&str> = shown_path_parts(old).collect();
        for path in &new_paths {
            if !paths.contains(&path.as_str()) {
                paths.push(path);
            }
        }
        file_path(&paths, config.max_file_paths as usize, method)
    };
    match stored {
        Some(Stored {
            source_id,
            truncate,
            file_path: stored_paths,
            chunks: Some(all),
        }) => {
            let (new_source_id, truncate) =
                extend_source_id(source_id, truncate, all.len(), &new, limit, method);
            let file_path = paths(stored_paths);
            Sources {
                unchanged: new_source_id == source_id && file_path == stored_paths,
                source_id: new_source_id,
                truncate,
                file_path,
                chunks: ChunkList::Append(new),
            }
        }
        // Stored without a full list (written before lists were kept): rebuilt from
        // what the item shows.
        Some(Stored {
            source_id,
            file_path: stored_paths,
            chunks: None,
            ..
        }) => {
            let all = union(&split_sep(source_id), new);
            let (source_id, truncate) = provenance::source_id(&all, limit, method);
            Sources {
                source_id,
                truncate,
                file_path: paths(stored_paths),
                chunks: ChunkList::Replace(all),
                unchanged: false,
            }
        }
        None => {
            let (source_id, truncate) = provenance::source_id(&new, limit, method);
            Sources {
                source_id,
                truncate,
                file_path: paths(""),
                chunks: ChunkList::Replace(new),
                unchanged: false,
            }
        }
    }
}

fn plan_relation(
    config: &Config,
    state: &State,
    a: &str,
    b: &str,
    records: &[(&RelationRecord, &ChunkResult)],
    existing: bool,
) -> RelationPlan {
    let old = existing.then(|| state.graph.edge(a, b)).flatten();
    let old_chunks = old.and_then(|_| state.relation_chunks.get(&(a.to_string(), b.to_string())));
    let stored = old.map(|e| Stored {
        source_id: &e.source_id,
        truncate: &e.truncate,
        file_path: &e.file_path,
        chunks: old_chunks,
    });
    let sources = sources(config, Kind::Relation, stored, records);
    // Weight: the stored weight plus the new records' (their chunks are new), and
    // never less than the number of distinct real sources.
    let mut weight = old.map_or(0.0, |e| e.weight);
    for (record, _) in records {
        weight += record.weight;
    }
    let real = |ids: &[String]| {
        ids.iter()
            .filter(|id| !NOT_REAL_SOURCES.contains(&id.as_str()))
            .count()
    };
    let real_sources = match &sources.chunks {
        ChunkList::Append(new) => {
            old_chunks.map_or(0, |old| old.count_not_in(&NOT_REAL_SOURCES)) + real(new)
        }
        ChunkList::Replace(all) => real(all),
    };
    let weight = weight.max(real_sources as f64);
    let mut keywords: BTreeSet<String> = BTreeSet::new();
    for text in old
        .map(|e| e.keywords.clone())
        .into_iter()
        .chain(records.iter().map(|(r, _)| r.keywords.clone()))
    {
        keywords.extend(
            text.split(',')
                .map(str::trim)
                .filter(|k| !k.is_empty())
                .map(str::to_string),
        );
    }
    let old_fragments = old.map(|e| split_sep(&e.description)).unwrap_or_default();
    let fragments = union(
        &old_fragments,
        ordered_descriptions(records, |r| &r.description),
    );
    RelationPlan {
        source: a.to_string(),
        target: b.to_string(),
        weight,
        keywords: keywords.into_iter().collect::<Vec<_>>().join(","),
        sources,
        fragments: if fragments.is_empty() {
            vec![format!("Relation between {a} and {b}")]
        } else {
            fragments
        },
    }
}
