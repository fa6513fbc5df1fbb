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
use crate::ids::{SEP, sorted, split_sep};
use crate::records::{EntityRecord, Extraction, RelationRecord};
use crate::shared::Shared;
use crate::state::{DocGraph, Op, State};
use crate::summary::summarize;
use crate::util::unix_now;
use crate::wit::{EmbedKind, Error};
use futures_util::future::try_join_all;
use std::collections::{BTreeMap, BTreeSet};

/// Most chunk ids kept in a node's or edge's `source_id` (LightRAG's default, KEEP).
const MAX_SOURCE_IDS: usize = 200;
/// Most file paths kept in `file_path`.
const MAX_FILE_PATHS: usize = 75;
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

/// `source_id`: at most 200 chunk ids, oldest kept (LightRAG's KEEP).
fn limited_source_ids(ids: &[String]) -> (String, String) {
    if ids.len() > MAX_SOURCE_IDS {
        let truncate = format!("KEEP {}/{}", MAX_SOURCE_IDS, ids.len());
        (ids[..MAX_SOURCE_IDS].join(SEP), truncate)
    } else {
        (ids.join(SEP), String::new())
    }
}

/// `file_path`: at most 75 paths, then a marker entry.
fn limited_file_paths(paths: &[String]) -> String {
    if paths.len() > MAX_FILE_PATHS {
        let mut kept = paths[..MAX_FILE_PATHS].to_vec();
        kept.push("...truncated...(KEEP Old)".into());
        kept.join(SEP)
    } else {
        paths.join(SEP)
    }
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
    source_ids: Vec<String>,
    file_paths: Vec<String>,
    fragments: Vec<String>,
}

/// A merged relation waiting for its description.
struct RelationPlan {
    source: String,
    target: String,
    weight: f64,
    keywords: String,
    source_ids: Vec<String>,
    file_paths: Vec<String>,
    fragments: Vec<String>,
}

/// Everything a document adds to the graph: the operations to commit and the
/// per-document record used to delete it later.
pub struct Merged {
    pub ops: Vec<Op>,
    pub doc_graph: DocGraph,
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
            if !graph.entities.iter().any(|e| e == name) {
                graph.entities.push(name.to_string());
            }
        }
        for relation in &result.extraction.relations {
            let (a, b) = sorted(&relation.source, &relation.target);
            let pair = (a.to_string(), b.to_string());
            if !graph.relations.contains(&pair) {
                graph.relations.push(pair);
            }
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
        .map(|(p, description)| {
            let (source_id, truncate) = limited_source_ids(&p.source_ids);
            Node {
                entity_id: p.name.clone(),
                entity_type: p.entity_type.clone(),
                description,
                source_id,
                file_path: limited_file_paths(&p.file_paths),
                created_at: now,
                truncate,
            }
        })
        .collect();
    let edges: Vec<Edge> = relations
        .iter()
        .zip(relation_descriptions)
        .map(|(p, description)| {
            let (source_id, truncate) = limited_source_ids(&p.source_ids);
            Edge {
                source: p.source.clone(),
                target: p.target.clone(),
                weight: p.weight,
                description,
                keywords: p.keywords.clone(),
                source_id,
                file_path: limited_file_paths(&p.file_paths),
                created_at: now,
                truncate,
            }
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
        .map_err(|e| Error::Internal(format!("embedding entities and relations failed: {e}")))?
        .into_iter();
    let mut ops = Vec::with_capacity(nodes.len() * 3 + edges.len() * 3);
    let mut doc_graph = DocGraph::default();
    for (node, plan) in nodes.into_iter().zip(&entities) {
        let vector = vectors.next().unwrap_or_default();
        doc_graph.entities.push(node.entity_id.clone());
        ops.push(Op::SetEntityChunks(
            plan.name.clone(),
            plan.source_ids.clone(),
        ));
        ops.push(Op::PutEntityVector(node.entity_id.clone(), vector));
        ops.push(Op::PutNode(node));
    }
    for (edge, plan) in edges.into_iter().zip(&relations) {
        let vector = vectors.next().unwrap_or_default();
        doc_graph
            .relations
            .push((edge.source.clone(), edge.target.clone()));
        ops.push(Op::SetRelationChunks(
            plan.source.clone(),
            plan.target.clone(),
            plan.source_ids.clone(),
        ));
        ops.push(Op::PutRelationVector(
            edge.source.clone(),
            edge.target.clone(),
            vector,
        ));
        ops.push(Op::PutEdge(edge));
    }
    Ok(Merged { ops, doc_graph })
}

/// Groups the records and combines them with the stored graph (without any model
/// call), so the result can be computed synchronously in one borrow of the state.
fn plan(
    shared: &Shared,
    results: &[ChunkResult],
    mode: Mode,
) -> (Vec<EntityPlan>, Vec<RelationPlan>) {
    let existing = mode == Mode::Ingest;
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
        .map(|(name, records)| plan_entity(state, name, records, existing))
        .collect();
    let mut relations = Vec::with_capacity(relation_records.len());
    for ((a, b), records) in &relation_records {
        relations.push(plan_relation(state, a, b, records, existing));
        // An endpoint that is neither in the graph nor among this document's
        // entities is created as an UNKNOWN entity, as LightRAG does.
        for endpoint in [*a, *b] {
            let known = entity_records.contains_key(endpoint)
                || entities.iter().any(|e| e.name == endpoint)
                || state.graph.node(endpoint).is_some();
            if !known {
                let mut fragments = Vec::new();
                let mut source_ids = Vec::new();
                let mut file_paths = Vec::new();
                for (record, result) in records {
                    push_unique(&mut fragments, record.description.clone());
                    push_unique(&mut source_ids, result.chunk_id.clone());
                    push_unique(&mut file_paths, result.file_path.clone());
                }
                entities.push(EntityPlan {
                    name: endpoint.to_string(),
                    entity_type: "UNKNOWN".into(),
                    source_ids,
                    file_paths,
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
    let old_sources = existing
        .then(|| state.entity_chunks.get(name).cloned())
        .flatten()
        .or_else(|| old.map(|n| split_sep(&n.source_id)))
        .unwrap_or_default();
    let source_ids = union(
        &old_sources,
        records.iter().map(|(_, c)| c.chunk_id.clone()),
    );
    let old_paths = old.map(|n| split_sep(&n.file_path)).unwrap_or_default();
    let old_paths: Vec<String> = old_paths
        .into_iter()
        .filter(|p| !p.starts_with("...truncated..."))
        .collect();
    let file_paths = union(&old_paths, records.iter().map(|(_, c)| c.file_path.clone()));
    EntityPlan {
        name: name.to_string(),
        entity_type,
        source_ids,
        file_paths,
        fragments: if fragments.is_empty() {
            vec![format!("Entity {name}")]
        } else {
            fragments
        },
    }
}

fn plan_relation(
    state: &State,
    a: &str,
    b: &str,
    records: &[(&RelationRecord, &ChunkResult)],
    existing: bool,
) -> RelationPlan {
    let old = existing.then(|| state.graph.edge(a, b)).flatten();
    let old_sources: Vec<String> = existing
        .then(|| {
            state
                .relation_chunks
                .get(&(a.to_string(), b.to_string()))
                .cloned()
        })
        .flatten()
        .or_else(|| old.map(|e| split_sep(&e.source_id)))
        .unwrap_or_default();
    // Weight: the stored weight plus new records from chunks not already counted,
    // and never less than the number of distinct real sources.
    let mut weight = old.map_or(0.0, |e| e.weight);
    for (record, chunk) in records {
        if !old_sources.contains(&chunk.chunk_id) {
            weight += record.weight;
        }
    }
    let source_ids = union(
        &old_sources,
        records.iter().map(|(_, c)| c.chunk_id.clone()),
    );
    let real_sources = source_ids
        .iter()
        .filter(|id| !NOT_REAL_SOURCES.contains(&id.as_str()))
        .count();
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
    let old_paths: Vec<String> = old
        .map(|e| split_sep(&e.file_path))
        .unwrap_or_default()
        .into_iter()
        .filter(|p| !p.starts_with("...truncated..."))
        .collect();
    let file_paths = union(&old_paths, records.iter().map(|(_, c)| c.file_path.clone()));
    RelationPlan {
        source: a.to_string(),
        target: b.to_string(),
        weight,
        keywords: keywords.into_iter().collect::<Vec<_>>().join(","),
        source_ids,
        file_paths,
        fragments: if fragments.is_empty() {
            vec![format!("Relation between {a} and {b}")]
        } else {
            fragments
        },
    }
}
