//! Documents: enqueueing with LightRAG's duplicate rules, recovery after a crash,
//! status reads, clearing. Deleting documents is the `deletion` module.

use crate::chunking::strip_in_place;
use crate::payload::Text;
use crate::shared::{Shared, store_error};
use crate::state::{DocRecord, DocState, Op, StatusRecord};
use crate::util::{iso_now, md5_hex, mdhash_id, prefix_chars, sanitize_text};
use crate::wit::{
    self, DocPage, DocPageRequest, DocSort, DocStatus, EnqueueReport, Error, NewDocument,
    StateCount,
};
use std::collections::{HashMap, HashSet};

/// Characters of content shown in a document's `content_summary`.
const SUMMARY_CHARS: usize = 250;

/// LightRAG's `parse_format` of a file whose text is still to be extracted.
pub const PENDING_PARSE: &str = "pending_parse";

/// Whether a document is an uploaded file that still has to be parsed.
pub fn needs_parse(status: &StatusRecord) -> bool {
    status.content_hash.is_none()
        && serde_json::from_str::<serde_json::Value>(&status.metadata)
            .is_ok_and(|m| m["parse_format"] == PENDING_PARSE)
}

/// LightRAG's reason for a document whose content another one already has.
pub fn duplicate_message(original_id: &str, original_state: DocState) -> String {
    format!(
        "Identical content already exists under another filename. Original doc_id: \
         {original_id}, Status: {}",
        state_name(original_state)
    )
}

/// The message of an engine error, for a document's `error_msg`.
pub fn error_text(err: &Error) -> String {
    match err {
        Error::BadInput(m)
        | Error::NotFound(m)
        | Error::Conflict(m)
        | Error::Busy(m)
        | Error::StorageFull(m)
        | Error::Unavailable(m)
        | Error::Internal(m) => m.clone(),
    }
}

/// The id LightRAG gives a document with a known file name.
pub fn doc_id_for(file_path: &str) -> String {
    mdhash_id("doc-", file_path)
}

/// Stores `documents` as pending, in one durable transaction.
///
/// A file name already in the workspace fails the whole call with `conflict` (LightRAG
/// 1.5 answers 409). Content already stored under another name is accepted as a
/// `failed` duplicate record (`dup-…`), as LightRAG does, so the caller can see it
/// under its track id. Documents that would take the engine's memory too close to its
/// limit are refused with `storage-full` (see [`crate::memory`]).
pub fn enqueue(
    shared: &Shared,
    documents: Vec<NewDocument>,
    track_id: &str,
    skip_existing: bool,
) -> Result<EnqueueReport, Error> {
    let mut ops = Vec::new();
    let mut report = EnqueueReport {
        accepted: Vec::new(),
        duplicates: Vec::new(),
    };
    // Checked before any copy of the text is made: the documents themselves are
    // already in memory (and counted as live), which is why they are subtracted.
    let sizes: Vec<usize> = documents.iter().map(|d| d.content.len()).collect();
    crate::memory::check_headroom(
        crate::memory::live_bytes().saturating_sub(sizes.iter().sum()),
        &sizes,
        shared.config.memory_limit_bytes,
    )?;
    let now = iso_now();
    {
        let store = shared.store.borrow();
        let state = store.state();
        let mut names = HashSet::new();
        let mut hashes = HashMap::new();
        for (index, doc) in documents.into_iter().enumerate() {
            let file_path = doc.file_path.trim().to_string();
            if file_path.is_empty() {
                return Err(Error::BadInput("a file name is required".into()));
            }
            let doc_id = doc_id_for(&file_path);
            if let Some(existing) = state.status.get(&doc_id) {
                if skip_existing {
                    continue;
                }
                return Err(Error::Conflict(format!(
                    "Document storage already contains '{file_path}' (Status: {}). Delete the \
                     existing record before re-uploading.",
                    state_name(existing.state)
                )));
            }
            if !names.insert(file_path.clone()) {
                return Err(Error::BadInput(format!(
                    "the file name '{file_path}' occurs twice in one request"
                )));
            }
            let mut content = sanitize_text(&doc.content);
            drop(doc.content);
            strip_in_place(&mut content);
            if content.is_empty() {
                return Err(Error::BadInput(format!(
                    "the document '{file_path}' has no text"
                )));
            }
            let content_hash = md5_hex(&content);
            let original = state
                .by_content_hash
                .get(&content_hash)
                .and_then(|id| state.status.get(id))
                .map(|s| (s.id.clone(), s.state, s.track_id.clone()))
                .or_else(|| hashes.get(&content_hash).cloned());
            if let Some((original_id, original_state, original_track)) = original {
                let dup_id = mdhash_id("dup-", &format!("{doc_id}-{track_id}-{index}-{file_path}"));
                let metadata = serde_json::json!({
                    "is_duplicate": true,
                    "duplicate_kind": "content_hash",
                    "original_doc_id": original_id,
                    "original_track_id": original_track,
                });
                ops.push(Op::PutStatus(StatusRecord {
                    id: dup_id.clone(),
                    state: DocState::Failed,
                    content_summary: format!(
                        "[DUPLICATE:content_hash] Original document: {original_id}"
                    ),
                    content_length: content.chars().count() as u32,
                    created_at: now.clone(),
                    updated_at: now.clone(),
                    file_path,
                    track_id: track_id.to_string(),
                    content_hash: Some(content_hash),
                    chunks_count: None,
                    chunks_list: Vec::new(),
                    error_msg: Some(duplicate_message(&original_id, original_state)),
                    metadata: metadata.to_string(),
                }));
                report.duplicates.push(dup_id);
                continue;
            }
            hashes.insert(
                content_hash.clone(),
                (doc_id.clone(), DocState::Pending, track_id.to_string()),
            );
            let content_summary = summary_of(&content);
            let content_length = content.chars().count() as u32;
            ops.push(Op::PutDoc(DocRecord {
                id: doc_id.clone(),
                content: Text::new(content),
                file_path: file_path.clone(),
                content_hash: content_hash.clone(),
            }));
            ops.push(Op::PutStatus(StatusRecord {
                id: doc_id.clone(),
                state: DocState::Pending,
                content_summary,
                content_length,
                created_at: now.clone(),
                updated_at: now.clone(),
                file_path,
                track_id: track_id.to_string(),
                content_hash: Some(content_hash),
                chunks_count: None,
                chunks_list: Vec::new(),
                error_msg: None,
                metadata: "{}".into(),
            }));
            report.accepted.push(doc_id);
        }
    }
    shared.commit(ops)?;
    Ok(report)
}

/// LightRAG's summary: the first 250 characters, with `...` when cut.
pub fn summary_of(content: &str) -> String {
    let head = prefix_chars(content, SUMMARY_CHARS);
    if head.len() < content.len() {
        format!("{head}...")
    } else {
        head.to_string()
    }
}

/// Faults while processing a document after which it is set aside as `failed`.
pub const MAX_DOCUMENT_FAULTS: u32 = 3;

/// Puts documents that a crash or trap left mid-processing back to `pending`, and
/// returns how many there were and how many of them failed instead. Their partial
/// results were never committed (a document's chunks and vectors are written in the
/// same transaction that marks it `processed`), so processing them again cannot
/// duplicate anything.
///
/// When the previous instance faulted (`last_fault`), the documents it was processing
/// are suspects: each gets a fault on record, is processed alone from now on (so the
/// next fault points at it), and after [`MAX_DOCUMENT_FAULTS`] is `failed` with the
/// fault as its reason — otherwise one bad document would crash its workspace on every
/// reopen for ever. A process that was killed or stopped is no fault of a document's.
pub fn recover_interrupted(shared: &Shared, last_fault: Option<&str>) -> Result<(u32, u32), Error> {
    let now = iso_now();
    let mut ops = Vec::new();
    let (mut recovered, mut failed) = (0, 0);
    {
        let store = shared.store.borrow();
        let state = store.state();
        for status in state.status.values() {
            if !matches!(
                status.state,
                DocState::Processing | DocState::Parsing | DocState::Analyzing
            ) {
                continue;
            }
            let mut status = status.clone();
            status.updated_at = now.clone();
            let faults = state.doc_faults.get(&status.id).copied().unwrap_or(0)
                + u32::from(last_fault.is_some());
            match last_fault {
                // Parsing runs alone, inside one call, with the `parsing` mark committed
                // first: a fault while a file is `parsing` is that file's.
                Some(fault) if status.state == DocState::Parsing => {
                    status.state = DocState::Failed;
                    status.error_msg = Some(format!(
                        "parsing this file stopped the engine ({fault}); it may be damaged or \
                         hostile, or too large for the workspace's limits"
                    ));
                    failed += 1;
                    ops.push(Op::PutStatus(status));
                }
                Some(fault) if faults >= MAX_DOCUMENT_FAULTS => {
                    status.state = DocState::Failed;
                    status.error_msg = Some(format!(
                        "processing this document stopped the engine {faults} times (last: \
                         {fault}); it was set aside so that the other documents could go on"
                    ));
                    failed += 1;
                    ops.push(Op::PutStatus(status));
                }
                _ => {
                    status.state = DocState::Pending;
                    recovered += 1;
                    let id = status.id.clone();
                    ops.push(Op::PutStatus(status));
                    if faults > 0 {
                        ops.push(Op::SetDocFaults(id, faults));
                    }
                }
            }
        }
    }
    shared.commit_reserved(ops)?;
    Ok((recovered + failed, failed))
}

/// Documents in `state`.
pub fn count_state(shared: &Shared, state: DocState) -> u32 {
    shared
        .store
        .borrow()
        .state()
        .status
        .values()
        .filter(|s| s.state == state)
        .count() as u32
}

/// Lowercase state name, as LightRAG's API writes it.
pub fn state_name(state: DocState) -> &'static str {
    match state {
        DocState::Pending => "pending",
        DocState::Parsing => "parsing",
        DocState::Analyzing => "analyzing",
        DocState::Processing => "processing",
        DocState::Preprocessed => "preprocessed",
        DocState::Processed => "processed",
        DocState::Failed => "failed",
    }
}

fn to_wit_state(state: DocState) -> wit::DocState {
    match state {
        DocState::Pending => wit::DocState::Pending,
        DocState::Parsing => wit::DocState::Parsing,
        DocState::Analyzing => wit::DocState::Analyzing,
        DocState::Processing => wit::DocState::Processing,
        DocState::Preprocessed => wit::DocState::Preprocessed,
        DocState::Processed => wit::DocState::Processed,
        DocState::Failed => wit::DocState::Failed,
    }
}

fn from_wit_state(state: wit::DocState) -> DocState {
    match state {
        wit::DocState::Pending => DocState::Pending,
        wit::DocState::Parsing => DocState::Parsing,
        wit::DocState::Analyzing => DocState::Analyzing,
        wit::DocState::Processing => DocState::Processing,
        wit::DocState::Preprocessed => DocState::Preprocessed,
        wit::DocState::Processed => DocState::Processed,
        wit::DocState::Failed => DocState::Failed,
    }
}

fn to_wit_status(s: &StatusRecord) -> DocStatus {
    DocStatus {
        id: s.id.clone(),
        content_summary: s.content_summary.clone(),
        content_length: s.content_length,
        status: to_wit_state(s.state),
        created_at: s.created_at.clone(),
        updated_at: s.updated_at.clone(),
        track_id: s.track_id.clone(),
        chunks_count: s.chunks_count,
        error_msg: s.error_msg.clone(),
        metadata_json: s.metadata.clone(),
        file_path: s.file_path.clone(),
    }
}

/// Documents added by the request with `track_id`, oldest first.
pub fn by_track(shared: &Shared, track_id: &str) -> Vec<DocStatus> {
    let store = shared.store.borrow();
    let mut found: Vec<&StatusRecord> = store
        .state()
        .status
        .values()
        .filter(|s| s.track_id == track_id)
        .collect();
    found.sort_by(|a, b| a.created_at.cmp(&b.created_at).then(a.id.cmp(&b.id)));
    found.into_iter().map(to_wit_status).collect()
}

/// One page of documents.
pub fn page(shared: &Shared, request: &DocPageRequest) -> DocPage {
    let states: HashSet<DocState> = request.states.iter().map(|&s| from_wit_state(s)).collect();
    let store = shared.store.borrow();
    let mut matching: Vec<&StatusRecord> = store
        .state()
        .status
        .values()
        .filter(|s| states.is_empty() || states.contains(&s.state))
        .collect();
    let key = |s: &StatusRecord| -> String {
        match request.sort {
            DocSort::CreatedAt => s.created_at.clone(),
            DocSort::UpdatedAt => s.updated_at.clone(),
            DocSort::Id => s.id.clone(),
            DocSort::FilePath => s.file_path.clone(),
        }
    };
    matching.sort_by(|a, b| {
        let order = key(a).cmp(&key(b)).then_with(|| a.id.cmp(&b.id));
        if request.descending {
            order.reverse()
        } else {
            order
        }
    });
    let total = matching.len() as u32;
    let size = request.page_size.max(1) as usize;
    let skip = (request.page.max(1) as usize - 1).saturating_mul(size);
    DocPage {
        documents: matching
            .into_iter()
            .skip(skip)
            .take(size)
            .map(to_wit_status)
            .collect(),
        total_count: total,
    }
}

/// Documents per state, every state present.
pub fn state_counts(shared: &Shared) -> Vec<StateCount> {
    DocState::ALL
        .iter()
        .map(|&state| StateCount {
            state: to_wit_state(state),
            count: count_state(shared, state),
        })
        .collect()
}

/// Deletes everything but the workspace's identity. Refused while the pipeline runs
/// or another task holds the merge lock (a deletion or a graph edit): such a task
/// would commit its plan, made before the clear, into the emptied workspace, and
/// resurrect entities that point at deleted chunks.
pub fn clear(shared: &Shared) -> Result<u32, Error> {
    if shared.pipeline.borrow().busy {
        return Err(Error::Busy(
            "documents are being processed; wait for the pipeline to finish".into(),
        ));
    }
    let Some(_exclusive) = shared.merge_lock.try_lock() else {
        return Err(Error::Busy(
            "documents are being deleted or the graph is being edited; retry when that is done"
                .into(),
        ));
    };
    let count = shared.store.borrow().state().status.len() as u32;
    shared
        .store
        .borrow_mut()
        .reset(vec![Op::ClearAll])
        .map_err(store_error)?;
    Ok(count)
}

/// Drops every cached model answer.
pub fn clear_cache(shared: &Shared) -> Result<(), Error> {
    shared.commit(vec![Op::ClearCache])
}

/// Puts failed documents (not duplicate records) back to `pending`; returns how many.
pub fn reset_failed(shared: &Shared) -> Result<u32, Error> {
    let now = iso_now();
    let ops: Vec<Op> = {
        let store = shared.store.borrow();
        let state = store.state();
        state
            .status
            .values()
            .filter(|s| {
                s.state == DocState::Failed && (state.docs.contains_key(&s.id) || needs_parse(s))
            })
            .map(|s| {
                let mut s = s.clone();
                s.state = DocState::Pending;
                s.error_msg = None;
                s.updated_at = now.clone();
                Op::PutStatus(s)
            })
            .collect()
    };
    let count = ops.len() as u32;
    shared.commit(ops)?;
    Ok(count)
}
