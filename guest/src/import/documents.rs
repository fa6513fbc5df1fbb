//! The `documents` phase: LightRAG's document statuses and texts become the
//! engine's, under the same ids, with their file paths, track ids, timestamps,
//! error messages and chunk lists.
//!
//! LightRAG's states map to ours one to one, except the ones that mean "was being
//! worked on" (`processing`, `parsing`, `analyzing`, `preprocessed`): an import is a
//! restart, and like the engine's own recovery after a crash, those documents are
//! `pending` again and will be processed anew.

use super::batch::Batch;
use super::kv::{self, FullDocRow, StatusRow};
use super::report::{Counts, Tally};
use super::source::{DOC_STATUS, FULL_DOCS, Source};
use crate::documents::summary_of;
use crate::payload::Text;
use crate::shared::Shared;
use crate::state::{DocRecord, DocState, Op, StatusRecord};
use crate::util::{iso_from_unix, iso_now, md5_hex};
use crate::wit::Error;
use serde_json::Value;

/// Refuses to import into a workspace that holds anything already: an import
/// keeps LightRAG's ids, which must not meet ours.
pub fn ensure_empty(shared: &Shared) -> Result<(), Error> {
    let store = shared.store.borrow();
    let state = store.state();
    let held = state.status.len().max(state.docs.len());
    if held > 0 || !state.chunks.is_empty() || state.graph.node_count() > 0 {
        return Err(Error::Conflict(format!(
            "workspace '{}' already holds {held} documents ({} chunks, {} entities); a \
             LightRAG directory can only be imported into an empty workspace",
            shared.config.workspace,
            state.chunks.len(),
            state.graph.node_count()
        )));
    }
    Ok(())
}

/// Our state for LightRAG's `status`, if it is one LightRAG writes.
pub fn state_of(status: &str) -> Option<DocState> {
    match status.to_ascii_lowercase().as_str() {
        "processed" => Some(DocState::Processed),
        "failed" => Some(DocState::Failed),
        "pending" | "processing" | "parsing" | "analyzing" | "preprocessed" => {
            Some(DocState::Pending)
        }
        _ => None,
    }
}

/// A timestamp as LightRAG wrote it: ISO-8601 text is kept, Unix seconds (older
/// files) are written as ISO-8601, anything else is now.
fn timestamp(value: Option<&Value>) -> String {
    match value {
        Some(Value::String(text)) if !text.is_empty() => text.clone(),
        Some(Value::Number(n)) => match n.as_f64() {
            Some(secs) if secs.is_finite() => iso_from_unix(secs as i64, 0),
            _ => iso_now(),
        },
        _ => iso_now(),
    }
}

/// The engine's status record for LightRAG's `row` under `id`, or why it is skipped.
pub fn status_record(id: &str, row: StatusRow) -> Result<StatusRecord, &'static str> {
    if id.is_empty() {
        return Err("an empty document id");
    }
    let state = state_of(&row.status).ok_or("a status LightRAG does not write")?;
    let metadata = match row.metadata {
        Some(Value::Object(map)) => Value::Object(map).to_string(),
        _ => "{}".into(),
    };
    let chunks_list = row.chunks_list.unwrap_or_default();
    Ok(StatusRecord {
        id: id.to_string(),
        state,
        content_summary: row.content_summary.unwrap_or_default(),
        content_length: u32::try_from(row.content_length.unwrap_or(0)).unwrap_or(u32::MAX),
        created_at: timestamp(row.created_at.as_ref()),
        updated_at: timestamp(row.updated_at.as_ref()),
        file_path: row.file_path.unwrap_or_default(),
        track_id: row.track_id.unwrap_or_default(),
        content_hash: row.content_hash.filter(|h| !h.is_empty()),
        chunks_count: row
            .chunks_count
            .map(|n| u32::try_from(n).unwrap_or(u32::MAX))
            .or((!chunks_list.is_empty()).then_some(chunks_list.len() as u32)),
        chunks_list,
        // Only a failed document has a reason; a restarted one starts afresh.
        error_msg: row.error_msg.filter(|_| state == DocState::Failed),
        metadata,
    })
}

/// Imports every status, then every text that belongs to an imported status.
pub fn run(shared: &Shared, source: &Source) -> Result<Counts, Error> {
    ensure_empty(shared)?;
    let mut counts = Counts::default();
    let tally = &mut counts.documents;
    let mut batch = Batch::new(shared);
    kv::for_each(&source.required(DOC_STATUS)?, DOC_STATUS, |id, raw, _| {
        tally.read += 1;
        let record = kv::decode::<StatusRow>(raw)
            .map_err(|_| "a malformed status record")
            .and_then(|row| status_record(&id, row));
        match record {
            Ok(record) => {
                tally.imported += 1;
                let size = record.content_summary.len();
                batch.push([Op::PutStatus(record)], size)
            }
            Err(why) => {
                tally.skip(why, &id);
                Ok(())
            }
        }
    })?;
    batch.flush()?;
    if let Some(path) = source.optional(FULL_DOCS) {
        kv::for_each(&path, FULL_DOCS, |id, raw, _| {
            texts(shared, &mut batch, tally, id, raw)
        })?;
        batch.flush()?;
    }
    Ok(counts)
}

/// Stores one `full_docs` text, completing its status with what LightRAG left out.
fn texts(
    shared: &Shared,
    batch: &mut Batch<'_>,
    tally: &mut Tally,
    id: String,
    raw: &[u8],
) -> Result<(), Error> {
    let status = shared.store.borrow().state().status.get(&id).cloned();
    let Some(mut status) = status else {
        tally.note("a text without an imported status, left out", &id);
        return Ok(());
    };
    let row = match kv::decode::<FullDocRow>(raw) {
        Ok(row) => row,
        Err(_) => {
            tally.note(
                "a malformed full_docs record (its document has no text)",
                &id,
            );
            return Ok(());
        }
    };
    let content = row.content.unwrap_or_default();
    if content.is_empty() {
        // An upload LightRAG had not parsed yet: its file is not part of the
        // directory, so the document fails if it is processed.
        tally.note("a document without text (an upload not yet parsed)", &id);
        return Ok(());
    }
    let hash = md5_hex(&content);
    let before = (
        status.content_hash.clone(),
        status.content_summary.len(),
        status.content_length,
    );
    status.content_hash.get_or_insert_with(|| hash.clone());
    if status.content_summary.is_empty() {
        status.content_summary = summary_of(&content);
    }
    if status.content_length == 0 {
        status.content_length = content.chars().count() as u32;
    }
    let completed = before
        != (
            status.content_hash.clone(),
            status.content_summary.len(),
            status.content_length,
        );
    let file_path = row
        .file_path
        .filter(|p| !p.is_empty())
        .unwrap_or_else(|| status.file_path.clone());
    let size = content.len();
    let doc = Op::PutDoc(DocRecord {
        id,
        content: Text::new(content),
        file_path,
        content_hash: hash,
    });
    let ops = std::iter::once(doc).chain(completed.then_some(Op::PutStatus(status)));
    batch.push(ops, size)
}
