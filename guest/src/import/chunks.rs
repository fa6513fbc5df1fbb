//! The `chunks` phase: the chunks of processed documents, with their vectors from
//! `vdb_chunks.json` and the extraction answers they were extracted with.
//!
//! LightRAG lists, with each chunk, the cache keys of its extraction answers (the
//! first pass, then gleaning passes). Those keys hash LightRAG's prompts, which are
//! not ours, so each answer is stored again under the key this engine computes for
//! the same chunk ([`crate::extract::cache_keys_for`]) and listed with the chunk:
//! deleting a document then rebuilds the entities it shared from these answers, as
//! for native data, and extracting the same chunk again finds them. Answers of
//! chunks whose document is not processed (it failed, or was interrupted) are
//! stored the same way, without the chunk: processing the document again chunks it
//! anew and finds its answers.
//!
//! Chunks of documents that are not processed are not stored: the engine keeps a
//! document's chunks only together with its `processed` status.

use super::batch::Batch;
use super::kv::{self, CacheRow, ChunkRow, Index};
use super::nano::VectorFile;
use super::report::{Counts, Tally};
use super::source::{LLM_CACHE, Source, TEXT_CHUNKS, VDB_CHUNKS};
use crate::extract::cache_keys_for;
use crate::payload::Text;
use crate::shared::Shared;
use crate::state::{CacheRecord, ChunkRecord, DocState, Meta, Op};
use crate::tokenizer;
use crate::util::unix_now;
use crate::vectors::Embedding;
use crate::wit::Error;
use std::collections::{HashMap, HashSet};

/// What the phase needs to know of an imported document.
struct Doc {
    state: DocState,
    file_path: String,
    /// LightRAG's chunk list, when it has one.
    listed: HashSet<String>,
}

/// Whether a cache key is LightRAG's key of an extraction answer
/// (`default:extract:<hash>`).
pub fn is_extraction_key(key: &str) -> bool {
    key.split(':').nth(1) == Some("extract")
}

/// Imports the chunks and their extraction answers. `consumed` collects the
/// LightRAG cache keys whose answers were imported, for the `cache` phase.
pub fn run(
    shared: &Shared,
    source: &Source,
    consumed: &mut HashSet<String>,
) -> Result<Counts, Error> {
    let config = &shared.config;
    let vectors = match source.optional(VDB_CHUNKS) {
        Some(path) => Some(VectorFile::scan(&path, VDB_CHUNKS, config.embedding_dim)?),
        None => None,
    };
    let mut rows = vectors.as_ref().map(VectorFile::rows).transpose()?;
    let mut answers = match source.optional(LLM_CACHE) {
        Some(path) => Index::build(&path, LLM_CACHE, |key, _| is_extraction_key(key))?,
        None => Index::empty(LLM_CACHE),
    };
    let docs: HashMap<String, Doc> = {
        let store = shared.store.borrow();
        store
            .state()
            .status
            .values()
            .map(|s| {
                let doc = Doc {
                    state: s.state,
                    file_path: s.file_path.clone(),
                    listed: s.chunks_list.iter().cloned().collect(),
                };
                (s.id.clone(), doc)
            })
            .collect()
    };
    let mut counts = Counts::default();
    let mut batch = Batch::new(shared);
    if shared.store.borrow().state().meta.embedding_identity != config.embedding_identity {
        let meta = Meta {
            embedding_identity: config.embedding_identity.clone(),
            embedding_dim: config.embedding_dim,
        };
        batch.push([Op::SetMeta(meta)], 0)?;
    }
    // Per processed document, its imported chunks as (order, id).
    let mut stored: HashMap<String, Vec<(u32, String)>> = HashMap::new();
    kv::for_each(&source.required(TEXT_CHUNKS)?, TEXT_CHUNKS, |id, raw, _| {
        counts.chunks.read += 1;
        let row = match kv::decode::<ChunkRow>(raw) {
            Ok(row) => row,
            Err(_) => {
                counts.chunks.skip("a malformed chunk record", &id);
                return Ok(());
            }
        };
        let Some(doc) = docs.get(&row.full_doc_id) else {
            counts.chunks.skip("its document was not imported", &id);
            return Ok(());
        };
        let listed = row.llm_cache_list.as_deref().unwrap_or_default();
        let (found, times): (Vec<String>, Vec<Option<i64>>) =
            extraction_answers(&mut answers, listed, &mut counts.cache, consumed)?
                .into_iter()
                .unzip();
        let keys = cache_keys_for(shared, &row.content, &found);
        let created = row.create_time.unwrap_or_else(unix_now);
        let mut ops: Vec<Op> = Vec::with_capacity(found.len() + 1);
        let mut size = row.content.len();
        for ((answer, at), key) in found.into_iter().zip(times).zip(&keys) {
            size += answer.len();
            counts.cache.imported += 1;
            ops.push(Op::PutCache(
                key.clone(),
                CacheRecord {
                    value: Text::new(answer),
                    cache_type: "extract".into(),
                    chunk_id: Some(id.clone()),
                    created_at: at.unwrap_or(created),
                },
            ));
        }
        if doc.state != DocState::Processed {
            counts.chunks.skip(
                "its document is not processed (it is chunked anew when it is)",
                &id,
            );
            return batch.push(ops, size);
        }
        if !doc.listed.is_empty() && !doc.listed.contains(&id) {
            counts.chunks.skip("not in its document's chunks_list", &id);
            return batch.push(ops, size);
        }
        let vector = match rows.as_mut() {
            Some(rows) => rows.get(&id)?,
            None => None,
        };
        let vector = match vector {
            Some(Ok(vector)) => vector,
            Some(Err(why)) => {
                counts.chunks.skip(&why, &id);
                return batch.push(ops, size);
            }
            None => {
                counts.chunks.skip("no vector in vdb_chunks.json", &id);
                return batch.push(ops, size);
            }
        };
        let order = row
            .chunk_order_index
            .map_or(0, |o| u32::try_from(o).unwrap_or(u32::MAX));
        let tokens = match row.tokens {
            Some(tokens) => u32::try_from(tokens).unwrap_or(u32::MAX),
            None => tokenizer::count(&row.content) as u32,
        };
        let file_path = row
            .file_path
            .filter(|p| !p.is_empty())
            .unwrap_or_else(|| doc.file_path.clone());
        stored
            .entry(row.full_doc_id.clone())
            .or_default()
            .push((order, id.clone()));
        size += vector.len() * 4;
        ops.push(Op::PutChunk(
            ChunkRecord {
                id,
                tokens,
                content: Text::new(row.content),
                order,
                doc_id: row.full_doc_id,
                file_path,
                llm_cache_list: keys,
            },
            Embedding::new(&vector),
        ));
        counts.chunks.imported += 1;
        batch.push(ops, size)
    })?;
    batch.flush()?;
    chunk_lists(shared, &mut batch, stored)?;
    batch.flush()?;
    Ok(counts)
}

/// The extraction answers LightRAG cached for a chunk, in order, each with its
/// creation time. Keys of other kinds are passed over; a missing answer ends the
/// list (a later gleaning pass makes sense only after the ones before it).
fn extraction_answers(
    index: &mut Index,
    keys: &[String],
    tally: &mut Tally,
    consumed: &mut HashSet<String>,
) -> Result<Vec<(String, Option<i64>)>, Error> {
    let mut found = Vec::new();
    let mut broken = false;
    for key in keys.iter().filter(|k| is_extraction_key(k)) {
        tally.read += 1;
        if broken {
            tally.skip("follows a missing extraction answer of its chunk", key);
            continue;
        }
        match index.get::<CacheRow>(key)? {
            Some(Ok(CacheRow {
                answer: Some(answer),
                create_time,
                ..
            })) => {
                consumed.insert(key.clone());
                found.push((answer, create_time));
            }
            Some(_) => {
                tally.skip("a malformed extraction answer", key);
                broken = true;
            }
            None => {
                tally.skip(
                    "a chunk lists an extraction answer the cache does not hold",
                    key,
                );
                broken = true;
            }
        }
    }
    Ok(found)
}

/// Makes every processed document list exactly its imported chunks: LightRAG's
/// list without the chunks left out, or (for files of versions that kept no list)
/// its chunks in order.
fn chunk_lists(
    shared: &Shared,
    batch: &mut Batch<'_>,
    mut stored: HashMap<String, Vec<(u32, String)>>,
) -> Result<(), Error> {
    let processed: Vec<String> = {
        let store = shared.store.borrow();
        store
            .state()
            .status
            .values()
            .filter(|s| s.state == DocState::Processed)
            .map(|s| s.id.clone())
            .collect()
    };
    for id in processed {
        let status = shared.store.borrow().state().status.get(&id).cloned();
        let Some(mut status) = status else {
            continue;
        };
        let mut chunks = stored.remove(&status.id).unwrap_or_default();
        let list: Vec<String> = if status.chunks_list.is_empty() {
            chunks.sort();
            chunks.into_iter().map(|(_, id)| id).collect()
        } else {
            let kept: HashSet<String> = chunks.into_iter().map(|(_, id)| id).collect();
            status
                .chunks_list
                .iter()
                .filter(|id| kept.contains(*id))
                .cloned()
                .collect()
        };
        let count = Some(list.len() as u32);
        if list != status.chunks_list || status.chunks_count != count {
            status.chunks_list = list;
            status.chunks_count = count;
            batch.push([Op::PutStatus(status)], 0)?;
        }
    }
    Ok(())
}
