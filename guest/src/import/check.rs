//! The `check` phase: everything that can be known about the directory before a
//! single write — the workspace is empty, the required files exist, every file
//! parses, every vector file has the configured dimension — so that a directory that
//! cannot be imported is refused while the workspace is still untouched. It reads
//! every file once, and counts the records it finds (and those whose shape is wrong,
//! which the writing phases will skip).

use super::documents::{ensure_empty, state_of};
use super::graphml::{self, Kind};
use super::kv::{
    self, CacheRow, ChunkListRow, ChunkRow, FullDocRow, FullEntitiesRow, FullRelationsRow,
    StatusRow,
};
use super::nano::VectorFile;
use super::report::{Counts, Tally};
use super::source::{
    DOC_STATUS, ENTITY_CHUNKS, FULL_DOCS, FULL_ENTITIES, FULL_RELATIONS, GRAPH, LLM_CACHE,
    RELATION_CHUNKS, Source, TEXT_CHUNKS, VDB_CHUNKS, VDB_ENTITIES, VDB_RELATIONS,
};
use crate::shared::Shared;
use crate::wit::Error;
use serde::de::DeserializeOwned;
use std::path::Path;

/// Reads every record of a KV file as `T`, counting them in `tally` (when given) and
/// noting those of the wrong shape.
fn records<T: DeserializeOwned>(
    path: &Path,
    file: &'static str,
    mut tally: Option<&mut Tally>,
    mut accept: impl FnMut(&T) -> Result<(), &'static str>,
) -> Result<(), Error> {
    kv::for_each(path, file, |key, raw, _| {
        let outcome = kv::decode::<T>(raw)
            .map_err(|_| "a record of the wrong shape")
            .and_then(|row| accept(&row));
        if let Some(tally) = tally.as_deref_mut() {
            tally.read += 1;
            if let Err(why) = outcome {
                tally.skip(why, &key);
            }
        }
        Ok(())
    })
}

/// Validates the directory and the workspace; writes nothing.
pub fn run(shared: &Shared, source: &Source) -> Result<Counts, Error> {
    if !source.exists() {
        return Err(Error::BadInput(
            "there is no LightRAG directory to import: the host must preopen it at /import".into(),
        ));
    }
    ensure_empty(shared)?;
    let statuses = source.required(DOC_STATUS)?;
    let chunks = source.required(TEXT_CHUNKS)?;
    let dim = shared.config.embedding_dim;
    for file in [VDB_CHUNKS, VDB_ENTITIES, VDB_RELATIONS] {
        if let Some(path) = source.optional(file) {
            VectorFile::scan(&path, file, dim)?;
        }
    }
    let mut counts = Counts::default();
    records::<StatusRow>(&statuses, DOC_STATUS, Some(&mut counts.documents), |row| {
        state_of(&row.status)
            .map(|_| ())
            .ok_or("a status LightRAG does not write")
    })?;
    records::<ChunkRow>(&chunks, TEXT_CHUNKS, Some(&mut counts.chunks), |_| Ok(()))?;
    if let Some(path) = source.optional(FULL_DOCS) {
        records::<FullDocRow>(&path, FULL_DOCS, None, |_| Ok(()))?;
    }
    if let Some(path) = source.optional(LLM_CACHE) {
        records::<CacheRow>(&path, LLM_CACHE, Some(&mut counts.cache), |_| Ok(()))?;
    }
    for file in [ENTITY_CHUNKS, RELATION_CHUNKS] {
        if let Some(path) = source.optional(file) {
            records::<ChunkListRow>(&path, file, None, |_| Ok(()))?;
        }
    }
    if let Some(path) = source.optional(FULL_ENTITIES) {
        records::<FullEntitiesRow>(&path, FULL_ENTITIES, None, |_| Ok(()))?;
    }
    if let Some(path) = source.optional(FULL_RELATIONS) {
        records::<FullRelationsRow>(&path, FULL_RELATIONS, None, |_| Ok(()))?;
    }
    if let Some(path) = source.optional(GRAPH) {
        graphml::read(&path, GRAPH, |item| {
            match item.kind {
                Kind::Node => counts.entities.read += 1,
                Kind::Edge => counts.relations.read += 1,
            }
            Ok(())
        })?;
    }
    Ok(counts)
}
