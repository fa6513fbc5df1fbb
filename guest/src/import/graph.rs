//! The `graph` phase: LightRAG's entities and relations, with their vectors and the
//! full lists of chunks they were extracted from, as the engine's merge would have
//! stored them.
//!
//! An item keeps only the sources that were imported (chunks, and the markers hand
//! edits write): a chunk id that names no imported chunk is dropped, and an item
//! left with no source is skipped, as is one without a vector. What the item shows
//! is then recomputed within this workspace's limits: `source_id` and `truncate`
//! from its full chunk list (`MAX_SOURCE_IDS_PER_ENTITY`, `…_PER_RELATION`,
//! `SOURCE_IDS_LIMIT_METHOD`), `file_path` from LightRAG's list without the files
//! no kept chunk comes from (`MAX_FILE_PATHS`). Descriptions, types, keywords and
//! weights are kept as LightRAG merged them (a weight is never below the number of
//! its real sources, the engine's rule).
//!
//! The GraphML file is read twice, nodes first and edges second, so an edge may
//! come before its nodes in the file.

use super::batch::Batch;
use super::contributions::Contributions;
use super::graphml::{self, Item, Kind};
use super::kv::{ChunkListRow, Index};
use super::nano::{Rows, VectorFile};
use super::report::{Counts, Tally};
use super::source::{ENTITY_CHUNKS, GRAPH, RELATION_CHUNKS, Source, VDB_ENTITIES, VDB_RELATIONS};
use crate::graph::{Edge, Node};
use crate::ids::{SEP, entity_vector_id, relation_vector_id, sorted, split_sep};
use crate::provenance::{self, shown_paths};
use crate::shared::Shared;
use crate::state::{Op, State};
use crate::util::{mdhash_id, unix_now};
use crate::vectors::Embedding;
use crate::wit::{Config, Error};
use std::collections::HashSet;

/// Sources that are not chunks: what hand edits write (`manual_creation`) and what
/// LightRAG writes for an unknown source. Kept, as the engine keeps them.
const MARKERS: [&str; 2] = ["manual_creation", "UNKNOWN"];

/// What reading an item's vectors and chunk lists needs.
struct Inputs<'a> {
    vectors: Option<Rows<'a>>,
    vector_file: &'static str,
    lists: Index,
}

/// What storing one node or edge takes: its operations, and the chunks it kept
/// (whose documents contributed it).
struct Stored {
    ops: Vec<Op>,
    chunks: Vec<String>,
    /// About how many bytes the operations hold.
    bytes: usize,
}

/// An item's sources after dropping what was not imported.
struct Sources {
    chunks: Vec<String>,
    source_id: String,
    truncate: String,
    file_path: String,
}

/// Imports the graph's nodes, then its edges, then each document's contribution.
pub fn run(shared: &Shared, source: &Source) -> Result<Counts, Error> {
    let mut counts = Counts::default();
    let Some(path) = source.optional(GRAPH) else {
        counts.entities.note(
            "the directory has no GraphML file; no entity imported",
            GRAPH,
        );
        return Ok(counts);
    };
    let dim = shared.config.embedding_dim;
    let scan = |file: &'static str| match source.optional(file) {
        Some(path) => VectorFile::scan(&path, file, dim).map(Some),
        None => Ok(None),
    };
    let list_index = |file: &'static str| match source.optional(file) {
        Some(path) => Index::build(&path, file, |_, _| true),
        None => Ok(Index::empty(file)),
    };
    let entity_vectors = scan(VDB_ENTITIES)?;
    let relation_vectors = scan(VDB_RELATIONS)?;
    let mut contributions = Contributions::default();
    let mut batch = Batch::new(shared);

    let mut inputs = Inputs {
        vectors: entity_vectors.as_ref().map(VectorFile::rows).transpose()?,
        vector_file: VDB_ENTITIES,
        lists: list_index(ENTITY_CHUNKS)?,
    };
    let mut seen: HashSet<String> = HashSet::new();
    graphml::read(&path, GRAPH, |item| {
        if item.kind != Kind::Node {
            return Ok(());
        }
        let tally = &mut counts.entities;
        tally.read += 1;
        if !seen.insert(item.id.clone()) {
            tally.skip("a second node of the same name", &item.id);
            return Ok(());
        }
        match entity(shared, &mut inputs, &item, tally)? {
            Some(stored) => {
                for doc in documents_of(shared, &stored.chunks) {
                    contributions.entity(&doc, &item.id);
                }
                tally.imported += 1;
                batch.push(stored.ops, stored.bytes)
            }
            None => Ok(()),
        }
    })?;
    batch.flush()?;
    drop(seen);

    let mut inputs = Inputs {
        vectors: relation_vectors
            .as_ref()
            .map(VectorFile::rows)
            .transpose()?,
        vector_file: VDB_RELATIONS,
        lists: list_index(RELATION_CHUNKS)?,
    };
    let mut seen: HashSet<(String, String)> = HashSet::new();
    graphml::read(&path, GRAPH, |item| {
        if item.kind != Kind::Edge {
            return Ok(());
        }
        let tally = &mut counts.relations;
        tally.read += 1;
        let (a, b) = sorted(&item.source, &item.target);
        let pair = (a.to_string(), b.to_string());
        if !seen.insert(pair.clone()) {
            tally.skip(
                "a second edge between the same entities",
                &format!("{a} - {b}"),
            );
            return Ok(());
        }
        match relation(shared, &mut inputs, &item, tally)? {
            Some(stored) => {
                for doc in documents_of(shared, &stored.chunks) {
                    contributions.relation(&doc, &pair.0, &pair.1);
                }
                tally.imported += 1;
                batch.push(stored.ops, stored.bytes)
            }
            None => Ok(()),
        }
    })?;
    batch.flush()?;

    contributions.add_listed(shared, source, &mut counts.entities)?;
    contributions.commit(&mut batch)?;
    batch.flush()?;
    Ok(counts)
}

/// The documents the chunks `chunks` belong to, each once.
fn documents_of(shared: &Shared, chunks: &[String]) -> Vec<String> {
    let store = shared.store.borrow();
    let mut seen = HashSet::new();
    chunks
        .iter()
        .filter_map(|chunk| store.state().chunks.get(chunk))
        .filter(|record| seen.insert(record.doc_id.as_str()))
        .map(|record| record.doc_id.clone())
        .collect()
}

/// The vector stored under the first of `ids` the file has, or why the item is
/// skipped.
fn vector_of(inputs: &mut Inputs<'_>, ids: &[String]) -> Result<Result<Vec<f32>, String>, Error> {
    let file = inputs.vector_file;
    let Some(rows) = inputs.vectors.as_mut() else {
        return Ok(Err(format!("{file} is missing")));
    };
    for id in ids {
        if let Some(found) = rows.get(id)? {
            return Ok(found);
        }
    }
    Ok(Err(format!("no vector in {file}")))
}

/// An item's full chunk list: LightRAG's tracking record under the first of `keys`
/// it has, else what its `source_id` shows.
fn listed_chunks(
    inputs: &mut Inputs<'_>,
    keys: &[String],
    source_id: &str,
) -> Result<Vec<String>, Error> {
    for key in keys {
        if let Some(Ok(row)) = inputs.lists.get::<ChunkListRow>(key)? {
            return Ok(row.chunk_ids);
        }
    }
    Ok(split_sep(source_id))
}

/// Keeps the sources that were imported and recomputes what the item shows.
fn sources(
    config: &Config,
    state: &State,
    listed: Vec<String>,
    shown_file_path: &str,
    limit: u32,
) -> (Sources, usize) {
    let mut chunks: Vec<String> = Vec::with_capacity(listed.len());
    let mut seen = HashSet::new();
    let mut dropped = 0;
    for id in listed {
        let known = state.chunks.contains_key(&id) || MARKERS.contains(&id.as_str());
        if !known {
            dropped += 1;
        } else if seen.insert(id.clone()) {
            chunks.push(id);
        }
    }
    // The files the kept chunks come from, in chunk order.
    let mut from_chunks: Vec<&str> = Vec::new();
    let mut files: HashSet<&str> = HashSet::new();
    for id in &chunks {
        let file = state
            .chunks
            .get(id)
            .map_or("manual_creation", |chunk| chunk.file_path.as_str());
        if files.insert(file) {
            from_chunks.push(file);
        }
    }
    let mut paths: Vec<String> = shown_paths(shown_file_path)
        .into_iter()
        .filter(|p| files.contains(p.as_str()))
        .collect();
    if paths.is_empty() {
        paths = from_chunks.into_iter().map(str::to_string).collect();
    }
    let method = config.source_ids_limit;
    let (source_id, truncate) = provenance::source_id(&chunks, limit as usize, method);
    let file_path = provenance::file_path(&paths, config.max_file_paths as usize, method);
    let sources = Sources {
        chunks,
        source_id,
        truncate,
        file_path,
    };
    (sources, dropped)
}

/// Unix seconds from a GraphML `created_at` (a `long`), else now.
fn created_at(item: &Item) -> i64 {
    let text = item.get("created_at").unwrap_or("").trim();
    text.parse::<i64>()
        .ok()
        .or_else(|| {
            text.parse::<f64>()
                .ok()
                .filter(|f| f.is_finite())
                .map(|f| f as i64)
        })
        .unwrap_or_else(unix_now)
}

/// A text attribute, or `default` when absent or blank.
fn text_or(item: &Item, name: &str, default: impl FnOnce() -> String) -> String {
    match item.get(name) {
        Some(value) if !value.trim().is_empty() => value.to_string(),
        _ => default(),
    }
}

/// The chunks an entity or relation keeps: those listed under `keys` (or in its
/// `source_id`) that were imported, bounded by `limit`. `None` when none was imported
/// (the record is skipped, counted in `tally` with `example`).
fn imported_sources(
    shared: &Shared,
    inputs: &mut Inputs<'_>,
    item: &Item,
    keys: &[String],
    limit: u32,
    tally: &mut Tally,
    example: &str,
) -> Result<Option<Sources>, Error> {
    let listed = listed_chunks(inputs, keys, item.get("source_id").unwrap_or(""))?;
    let (sources, dropped) = {
        let store = shared.store.borrow();
        let file_path = item.get("file_path").unwrap_or("");
        sources(&shared.config, store.state(), listed, file_path, limit)
    };
    if sources.chunks.is_empty() {
        tally.skip("none of its source chunks was imported", example);
        return Ok(None);
    }
    if dropped > 0 {
        tally.note(
            "kept, without source chunks that were not imported",
            example,
        );
    }
    Ok(Some(sources))
}

/// What storing one node takes; `None` when it is skipped (counted in `tally`).
fn entity(
    shared: &Shared,
    inputs: &mut Inputs<'_>,
    item: &Item,
    tally: &mut Tally,
) -> Result<Option<Stored>, Error> {
    let name = item.id.clone();
    if name.trim().is_empty() || name.contains(SEP) {
        tally.skip("an entity name that is empty or holds <SEP>", &name);
        return Ok(None);
    }
    let limit = shared.config.max_source_ids_per_entity;
    let keys = std::slice::from_ref(&name);
    let Some(sources) = imported_sources(shared, inputs, item, keys, limit, tally, &name)? else {
        return Ok(None);
    };
    let vector = match vector_of(inputs, &[entity_vector_id(&name)])? {
        Ok(vector) => vector,
        Err(why) => {
            tally.skip(&why, &name);
            return Ok(None);
        }
    };
    let node = Node {
        entity_id: name.clone(),
        entity_type: text_or(item, "entity_type", || "UNKNOWN".into()),
        description: text_or(item, "description", || format!("Entity {name}")),
        source_id: sources.source_id,
        file_path: sources.file_path,
        created_at: created_at(item),
        truncate: sources.truncate,
    };
    let bytes = node.description.len() + node.source_id.len() + vector.len() * 4;
    let ops = vec![
        Op::SetEntityChunks(name.clone(), sources.chunks.clone()),
        Op::PutEntityVector(name.clone(), Embedding::new(&vector)),
        Op::PutNode(node),
    ];
    Ok(Some(Stored {
        ops,
        chunks: sources.chunks,
        bytes,
    }))
}

/// What storing one edge takes; `None` when it is skipped (counted in `tally`).
fn relation(
    shared: &Shared,
    inputs: &mut Inputs<'_>,
    item: &Item,
    tally: &mut Tally,
) -> Result<Option<Stored>, Error> {
    let (a, b) = sorted(&item.source, &item.target);
    let example = format!("{a} - {b}");
    if a == b {
        tally.skip("a relation of an entity with itself", &example);
        return Ok(None);
    }
    {
        let store = shared.store.borrow();
        let graph = &store.state().graph;
        if let Some(missing) = [a, b].into_iter().find(|n| graph.node(n).is_none()) {
            tally.skip("an endpoint was not imported", missing);
            return Ok(None);
        }
    }
    let weight = match item.get("weight").map(str::trim) {
        None | Some("") => 1.0,
        Some(text) => match text.parse::<f64>() {
            Ok(w) if w.is_finite() => w,
            _ => {
                tally.skip("a weight that is not a number", &example);
                return Ok(None);
            }
        },
    };
    let keys = [format!("{a}{SEP}{b}"), format!("{b}{SEP}{a}")];
    let limit = shared.config.max_source_ids_per_relation;
    let Some(sources) = imported_sources(shared, inputs, item, &keys, limit, tally, &example)?
    else {
        return Ok(None);
    };
    // LightRAG's id, and the reversed concatenation older versions also wrote.
    let ids = [
        relation_vector_id(a, b),
        mdhash_id("rel-", &format!("{b}{a}")),
    ];
    let vector = match vector_of(inputs, &ids)? {
        Ok(vector) => vector,
        Err(why) => {
            tally.skip(&why, &example);
            return Ok(None);
        }
    };
    let real = sources
        .chunks
        .iter()
        .filter(|c| !MARKERS.contains(&c.as_str()))
        .count();
    let edge = Edge {
        source: a.to_string(),
        target: b.to_string(),
        weight: weight.max(real as f64),
        description: text_or(item, "description", || {
            format!("Relation between {a} and {b}")
        }),
        keywords: item.get("keywords").unwrap_or("").to_string(),
        source_id: sources.source_id,
        file_path: sources.file_path,
        created_at: created_at(item),
        truncate: sources.truncate,
    };
    let bytes = edge.description.len() + edge.source_id.len() + vector.len() * 4;
    let ops = vec![
        Op::SetRelationChunks(a.to_string(), b.to_string(), sources.chunks.clone()),
        Op::PutRelationVector(a.to_string(), b.to_string(), Embedding::new(&vector)),
        Op::PutEdge(edge),
    ];
    Ok(Some(Stored {
        ops,
        chunks: sources.chunks,
        bytes,
    }))
}
