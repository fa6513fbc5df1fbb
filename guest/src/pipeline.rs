//! The ingestion pipeline: the `process-documents` task.
//!
//! It takes pending documents oldest first and processes up to `MAX_PARALLEL_INSERT`
//! of them at once: chunk; embed the chunks and extract entities and relations from
//! them; merge into the graph; store. A document's results are committed in one
//! transaction together with its `processed` status, so after a crash a document is
//! either complete or still (back to) pending — never half-stored. Documents enqueued
//! while the task runs are picked up before it finishes.

use crate::chunking::{Chunk, chunk_by_tokens};
use crate::documents::{error_text, needs_parse};
use crate::executor::{Io, TaskResult};
use crate::payload::Text;
use crate::progress::progress;
use crate::shared::Shared;
use crate::state::{ChunkRecord, DocState, Meta, Op};
use crate::util::{iso_now, prefix_chars, unix_now};
use crate::vectors::Embedding;
use crate::wit::{EmbedKind, Error, TaskOutput};
use crate::{extract, files, kg};
use futures_util::StreamExt;
use futures_util::future::LocalBoxFuture;
use futures_util::future::{join, try_join_all};
use futures_util::stream::FuturesUnordered;
use std::rc::Rc;

/// Marks the pipeline busy for as long as it lives. The flag is cleared on drop, so
/// a pipeline task that is cancelled, or fails at any await, never leaves the
/// workspace looking busy (which would refuse every later pipeline, edit and clear).
struct Running {
    shared: Rc<Shared>,
}

impl Running {
    fn begin(shared: &Rc<Shared>) -> Result<Running, Error> {
        let mut status = shared.pipeline.borrow_mut();
        if status.busy {
            return Err(Error::Busy("the pipeline is already running".into()));
        }
        status.busy = true;
        Ok(Running {
            shared: shared.clone(),
        })
    }
}

impl Drop for Running {
    /// A pipeline dropped before it finished (cancelled at shutdown, or when its
    /// workspace's slot was handed to another) puts the documents it was on back to
    /// pending: their partial work was never committed, and the next pipeline takes
    /// them first.
    fn drop(&mut self) {
        let Ok(mut status) = self.shared.pipeline.try_borrow_mut() else {
            return;
        };
        if !status.busy {
            return;
        }
        status.busy = false;
        let message = "Pipeline stopped before it finished".to_string();
        status.history_messages.push(message.clone());
        status.latest_message = message;
        drop(status);
        let interrupted: Vec<Op> = match self.shared.store.try_borrow() {
            Ok(store) => store
                .state()
                .status
                .values()
                .filter(|s| s.state == DocState::Processing)
                .map(|s| {
                    let mut s = s.clone();
                    s.state = DocState::Pending;
                    s.updated_at = iso_now();
                    Op::PutStatus(s)
                })
                .collect(),
            Err(_) => return,
        };
        // Best effort: if it fails, reopening the workspace does the same.
        let _ = self.shared.commit_reserved(interrupted);
    }
}

/// Processes pending documents until none is left.
///
/// A document with a fault on record (the engine stopped while processing it) is
/// processed alone: it starts only when nothing else is in flight, and nothing starts
/// beside it, so a repeated fault is pinned on the right document.
pub async fn process_documents(shared: Rc<Shared>, io: Io) -> TaskResult {
    let _running = Running::begin(&shared)?;
    let parallel = shared.config.max_parallel_insert.max(1) as usize;
    {
        let pending = pending_ids(&shared);
        let mut status = shared.pipeline.borrow_mut();
        status.job_start = Some(iso_now());
        status.docs = pending.len() as u32;
        status.batchs = pending.len() as u32;
        status.cur_batch = 0;
        status.job_name = job_name(&shared, &pending);
        status.history_messages.clear();
    }
    progress(&shared, "Processing pending documents".into());
    let (mut processed, mut failed) = (0u32, 0u32);
    // Two stages: up to `parallel` documents are chunked, embedded and extracted at
    // once; documents done with that wait for the merge stage, which merges everyone
    // waiting in one round (one embedding request, one transaction) while the next
    // documents are already being extracted.
    let mut work: FuturesUnordered<LocalBoxFuture<'static, Stage>> = FuturesUnordered::new();
    let mut extracting = 0;
    let mut merging = false;
    let mut waiting: Vec<Extracted> = Vec::new();
    let mut alone: Option<String> = None;
    loop {
        while extracting < parallel && alone.is_none() {
            let idle = extracting == 0 && !merging && waiting.is_empty();
            let Some(doc_id) = next_document(&shared, idle) else {
                break;
            };
            // An uploaded file is parsed first, here, between steps: parsing needs no
            // model, and its document either becomes processable or fails.
            if shared
                .store
                .borrow()
                .state()
                .status
                .get(&doc_id)
                .is_some_and(needs_parse)
            {
                match files::parse_document(&shared, &doc_id) {
                    Ok(files::Parsed::Ready) => {}
                    Ok(files::Parsed::Failed) => {
                        failed += 1;
                        continue;
                    }
                    Err(err) => {
                        finish(&shared, "Pipeline stopped: storage failed");
                        return Err(err);
                    }
                }
            }
            if shared
                .store
                .borrow()
                .state()
                .doc_faults
                .contains_key(&doc_id)
            {
                alone = Some(doc_id.clone());
            }
            // Marked before the future first runs, so the next pick skips it.
            if let Err(err) = mark_processing(&shared, &doc_id) {
                finish(&shared, "Pipeline stopped: storage failed");
                return Err(err);
            }
            {
                let mut status = shared.pipeline.borrow_mut();
                status.cur_batch += 1;
                status.docs = status.docs.max(status.cur_batch);
                status.batchs = status.docs;
            }
            let (shared, io) = (shared.clone(), io.clone());
            work.push(Box::pin(async move {
                Stage::Extracted(extract_document(shared, io, doc_id).await)
            }));
            extracting += 1;
        }
        if !merging && !waiting.is_empty() {
            let batch = std::mem::take(&mut waiting);
            let (shared, io) = (shared.clone(), io.clone());
            work.push(Box::pin(async move {
                Stage::Merged(merge_documents(shared, io, batch).await)
            }));
            merging = true;
        }
        let outcome = match work.next().await {
            None => break,
            Some(Stage::Extracted(result)) => {
                extracting -= 1;
                match result {
                    Ok(Some(doc)) => {
                        waiting.push(doc);
                        Ok(())
                    }
                    Ok(None) => {
                        failed += 1;
                        alone = None;
                        Ok(())
                    }
                    Err(err) => Err(err),
                }
            }
            Some(Stage::Merged(result)) => {
                merging = false;
                if extracting == 0 && waiting.is_empty() {
                    alone = None;
                }
                result.map(|(ok, bad)| {
                    processed += ok;
                    failed += bad;
                })
            }
        };
        if let Err(err) = outcome {
            finish(&shared, "Pipeline stopped: storage failed");
            return Err(err);
        }
    }
    finish(
        &shared,
        &format!("Pipeline finished: {processed} processed, {failed} failed"),
    );
    Ok(TaskOutput::Processed((processed, failed)))
}

/// What finished in the pipeline.
enum Stage {
    /// A document's extraction: ready to merge, failed (`None`), or storage broke.
    Extracted(Result<Option<Extracted>, Error>),
    /// A merge round: documents processed and failed.
    Merged(Result<(u32, u32), Error>),
}

/// A document whose chunks are embedded and extracted, waiting to be merged.
struct Extracted {
    doc_id: String,
    file_path: String,
    started: i64,
    chunks: Vec<Chunk>,
    chunk_ids: Vec<String>,
    vectors: Vec<Vec<f32>>,
    extractions: Vec<extract::ChunkExtraction>,
}

impl Extracted {
    fn results(&self) -> Vec<kg::ChunkResult> {
        self.extractions
            .iter()
            .zip(&self.chunk_ids)
            .zip(&self.chunks)
            .map(|((e, id), chunk)| kg::ChunkResult {
                chunk_id: id.clone(),
                order: chunk.order,
                file_path: self.file_path.clone(),
                extraction: e.extraction.clone(),
            })
            .collect()
    }
}

fn finish(shared: &Shared, message: &str) {
    progress(shared, message.to_string());
    shared.pipeline.borrow_mut().busy = false;
}

/// The oldest pending document without a fault on record; else, when nothing else is
/// in flight (`idle`), the oldest with one.
fn next_document(shared: &Shared, idle: bool) -> Option<String> {
    let store = shared.store.borrow();
    let state = store.state();
    let mut pending = state.pending.iter().map(|(_, id)| id);
    let oldest = pending.next()?;
    let clean = std::iter::once(oldest)
        .chain(pending)
        .find(|id| !state.doc_faults.contains_key(*id));
    clean.or(idle.then_some(oldest)).cloned()
}

/// Pending documents, oldest first.
fn pending_ids(shared: &Shared) -> Vec<String> {
    let store = shared.store.borrow();
    store
        .state()
        .pending
        .iter()
        .map(|(_, id)| id.clone())
        .collect()
}

/// LightRAG's job name: the first document's path (20 characters) and the count.
fn job_name(shared: &Shared, pending: &[String]) -> String {
    let store = shared.store.borrow();
    let first = pending
        .first()
        .and_then(|id| store.state().status.get(id))
        .map(|s| s.file_path.clone())
        .unwrap_or_default();
    let short = prefix_chars(&first, 20);
    let dots = if short.len() < first.len() { "..." } else { "" };
    format!("{short}{dots}[{} files]", pending.len())
}

fn mark_processing(shared: &Shared, doc_id: &str) -> Result<(), Error> {
    let status = shared.store.borrow().state().status.get(doc_id).cloned();
    let Some(mut status) = status else {
        return Ok(());
    };
    status.state = DocState::Processing;
    status.updated_at = iso_now();
    status.error_msg = None;
    // Not worth a wait for the disk per document: if a crash loses the mark, the
    // document is pending, which is what opening makes of `processing` anyway.
    shared.commit_unsynced(vec![Op::PutStatus(status)])
}

/// Chunks, embeds and extracts one document. `Ok(None)` when the document failed
/// (its status says why), `Err` only when storage itself failed.
///
/// The chunks' embeddings and the extraction of every chunk are requested together,
/// so the host runs them concurrently.
async fn extract_document(
    shared: Rc<Shared>,
    io: Io,
    doc_id: String,
) -> Result<Option<Extracted>, Error> {
    let started = unix_now();
    let read = {
        let store = shared.store.borrow();
        store
            .state()
            .docs
            .get(&doc_id)
            .map(|doc| (doc.file_path.clone(), store.read_text(&doc.content)))
    };
    let (file_path, content) = match read {
        Some((file_path, Ok(content))) => (file_path, content),
        Some((_, Err(err))) => {
            let reason = format!("the document's content cannot be read: {err}");
            return fail(&shared, &doc_id, reason).map(|_| None);
        }
        None => {
            let reason = "the document's content is missing".to_string();
            return fail(&shared, &doc_id, reason).map(|_| None);
        }
    };
    let config = &shared.config;
    let chunks = match chunk_by_tokens(&content, config.chunk_size, config.chunk_overlap) {
        Ok(chunks) => chunks,
        Err(err) => return fail(&shared, &doc_id, err).map(|_| None),
    };
    progress(
        &shared,
        format!("Chunked {file_path} into {} chunks", chunks.len()),
    );
    let chunk_ids: Vec<String> = chunks
        .iter()
        .map(|c| format!("{doc_id}-chunk-{:03}", c.order))
        .collect();
    let texts: Vec<String> = chunks.iter().map(|c| c.content.clone()).collect();
    let total = chunks.len();
    let extractions = chunks.iter().zip(&chunk_ids).map(|(chunk, id)| {
        extract::extract_chunk(
            &shared,
            &io,
            id,
            &chunk.content,
            &file_path,
            chunk.order,
            total,
        )
    });
    let (vectors, extracted) = join(
        io.embed(EmbedKind::Document, texts),
        try_join_all(extractions),
    )
    .await;
    let vectors = match vectors {
        Ok(vectors) => vectors,
        Err(err) => {
            return fail(&shared, &doc_id, format!("embedding failed: {err}")).map(|_| None);
        }
    };
    let extractions = match extracted {
        Ok(extracted) => extracted,
        Err(err) => return fail(&shared, &doc_id, error_text(&err)).map(|_| None),
    };
    let dim = config.embedding_dim as usize;
    if let Some(bad) = vectors.iter().find(|v| v.len() != dim) {
        let msg = format!(
            "the embedding model returned {} dimensions, but EMBEDDING_DIM is {dim}",
            bad.len()
        );
        return fail(&shared, &doc_id, msg).map(|_| None);
    }
    Ok(Some(Extracted {
        doc_id,
        file_path,
        started,
        chunks,
        chunk_ids,
        vectors,
        extractions,
    }))
}

/// Merges extracted documents into the graph, in one round and one transaction:
/// every document's chunks, vectors, graph changes and `processed` status are
/// committed together (a crash leaves each document complete or still pending).
/// Returns how many were processed and failed; `Err` only when storage broke.
async fn merge_documents(
    shared: Rc<Shared>,
    io: Io,
    docs: Vec<Extracted>,
) -> Result<(u32, u32), Error> {
    let _merging = shared.merge_lock.lock().await;
    // Deleted or cleared while being extracted: nothing to store.
    let docs: Vec<Extracted> = {
        let store = shared.store.borrow();
        docs.into_iter()
            .filter(|d| store.state().status.contains_key(&d.doc_id))
            .collect()
    };
    if docs.is_empty() {
        return Ok((0, 0));
    }
    let results: Vec<kg::ChunkResult> = docs.iter().flat_map(Extracted::results).collect();
    let merged = match kg::merge(&shared, &io, &results, kg::Mode::Ingest).await {
        Ok(merged) => merged,
        Err(err) => return fail_all(&shared, &docs, &error_text(&err)),
    };
    let config = &shared.config;
    let mut ops = Vec::with_capacity(results.len() * 2 + merged.ops.len() + docs.len() * 2 + 1);
    {
        let store = shared.store.borrow();
        let state = store.state();
        if state.meta.embedding_identity != config.embedding_identity {
            ops.push(Op::SetMeta(Meta {
                embedding_identity: config.embedding_identity.clone(),
                embedding_dim: config.embedding_dim,
            }));
        }
        for doc in &docs {
            for (((chunk, vector), id), extracted) in doc
                .chunks
                .iter()
                .zip(&doc.vectors)
                .zip(&doc.chunk_ids)
                .zip(&doc.extractions)
            {
                ops.push(Op::PutChunk(
                    ChunkRecord {
                        id: id.clone(),
                        tokens: chunk.tokens,
                        content: Text::new(chunk.content.clone()),
                        order: chunk.order,
                        doc_id: doc.doc_id.clone(),
                        file_path: doc.file_path.clone(),
                        llm_cache_list: extracted.cache_keys.clone(),
                    },
                    Embedding::new(vector),
                ));
            }
        }
        ops.extend(merged.ops);
        for doc in &docs {
            ops.push(Op::SetDocGraph(
                doc.doc_id.clone(),
                kg::doc_graph_of(&doc.results()),
            ));
            let Some(status) = state.status.get(&doc.doc_id) else {
                continue;
            };
            let mut status = status.clone();
            status.state = DocState::Processed;
            status.updated_at = iso_now();
            status.chunks_count = Some(doc.chunk_ids.len() as u32);
            status.chunks_list = doc.chunk_ids.clone();
            status.error_msg = None;
            // What parsing recorded (the parser, pages) stays; the rest is LightRAG's.
            let mut metadata: serde_json::Map<String, serde_json::Value> =
                serde_json::from_str(&status.metadata).unwrap_or_default();
            let parsed = metadata.contains_key("parser");
            metadata.extend([
                ("process_start_time".into(), doc.started.into()),
                ("process_end_time".into(), unix_now().into()),
                (
                    "parse_format".into(),
                    if parsed { "lightrag" } else { "raw" }.into(),
                ),
                ("chunk_method".into(), "fixed_token".into()),
            ]);
            status.metadata = serde_json::Value::Object(metadata).to_string();
            ops.push(Op::PutStatus(status));
        }
    }
    if let Err(err) = shared.commit(ops) {
        // Full storage fails these documents (with a clear message), not the
        // pipeline; any other storage error stops the pipeline.
        return match err {
            Error::StorageFull(reason) => fail_all(&shared, &docs, &reason),
            other => Err(other),
        };
    }
    for doc in &docs {
        progress(
            &shared,
            format!("Completed processing file: {}", doc.file_path),
        );
    }
    Ok((docs.len() as u32, 0))
}

/// Marks every document of a failed merge round as failed.
fn fail_all(shared: &Shared, docs: &[Extracted], reason: &str) -> Result<(u32, u32), Error> {
    for doc in docs {
        fail(shared, &doc.doc_id, reason.to_string())?;
    }
    Ok((0, docs.len() as u32))
}

/// Marks a document failed with `reason`.
fn fail(shared: &Shared, doc_id: &str, reason: String) -> Result<bool, Error> {
    let status = shared.store.borrow().state().status.get(doc_id).cloned();
    if let Some(mut status) = status {
        progress(
            shared,
            format!("Failed to process {}: {reason}", status.file_path),
        );
        status.state = DocState::Failed;
        status.updated_at = iso_now();
        status.error_msg = Some(reason);
        shared.commit_reserved(vec![Op::PutStatus(status)])?;
    }
    Ok(false)
}
