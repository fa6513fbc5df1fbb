//! Uploaded files: enqueueing them, scanning the input directory, parsing them into
//! text inside this sandbox, and moving them aside once parsed.
//!
//! The input directory is the workspace's own (`INPUT_DIR/<workspace>/`, preopened at
//! `/input`): the host only streams an upload into a staged file there. Everything
//! that reads a file's bytes runs here, under this instance's memory and CPU limits,
//! because parsing untrusted PDFs and Office files is where servers get exploited: a
//! hostile file can at worst fail its own document (see
//! [`crate::documents::recover_interrupted`] for the case where parsing traps).
//!
//! As in LightRAG, a file's document is stored `pending` with no text and
//! `parse_format: pending_parse` in its metadata; the pipeline parses it first
//! (`parsing`), stores the text, and moves the file to `__parsed__/`. A file that fails
//! to parse stays where it is, so that retrying (after setting `PDF_DECRYPT_PASSWORD`,
//! say) can read it again.

use crate::chunking::strip_in_place;
use crate::documents::{
    PENDING_PARSE, doc_id_for, duplicate_message, needs_parse, state_name, summary_of,
};
use crate::payload::Text;
use crate::shared::Shared;
use crate::state::{DocRecord, DocState, Op, StatusRecord};
use crate::util::{iso_now, md5_hex, sanitize_text};
use crate::wit::{Error, ScanReport};
use lightrag_parse::Options;
use std::path::{Path, PathBuf};

/// Where parsed files go, inside the input directory.
pub const PARSED_DIR: &str = "__parsed__";

/// The input directory, or the error every file operation gives without one.
fn input_dir(shared: &Shared) -> Result<&Path, Error> {
    shared.input.as_deref().ok_or_else(|| {
        Error::BadInput("this engine has no input directory (`/input` is not preopened)".into())
    })
}

/// A name that denotes a file directly inside the input directory, and nothing else.
fn plain_name(name: &str) -> bool {
    !name.is_empty()
        && name == name.trim()
        && name != "."
        && name != ".."
        && !name.contains(['/', '\\', ':'])
        && !name.chars().any(char::is_control)
}

/// A fresh `pending` record for a file that is still to be parsed.
fn pending_file(doc_id: String, file_path: String, track_id: &str, now: &str) -> StatusRecord {
    StatusRecord {
        id: doc_id,
        state: DocState::Pending,
        content_summary: String::new(),
        content_length: 0,
        created_at: now.to_string(),
        updated_at: now.to_string(),
        file_path,
        track_id: track_id.to_string(),
        content_hash: None,
        chunks_count: None,
        chunks_list: Vec::new(),
        error_msg: None,
        metadata: serde_json::json!({ "parse_format": PENDING_PARSE }).to_string(),
    }
}

/// Moves the staged upload `/input/<staged>` to `/input/<file_name>` and stores its
/// document as pending, to be parsed by the pipeline.
pub fn enqueue_upload(
    shared: &Shared,
    staged: &str,
    file_name: &str,
    track_id: &str,
) -> Result<String, Error> {
    let dir = input_dir(shared)?;
    if !plain_name(staged) || !plain_name(file_name) || file_name == PARSED_DIR {
        return Err(Error::BadInput(format!(
            "'{file_name}' is not a plain file name"
        )));
    }
    if !lightrag_parse::is_supported(file_name) {
        return Err(Error::BadInput(unsupported_message()));
    }
    let doc_id = doc_id_for(file_name);
    if let Some(existing) = shared.store.borrow().state().status.get(&doc_id) {
        return Err(Error::Conflict(format!(
            "Document storage already contains '{file_name}' (Status: {}). Delete the existing \
             record before re-uploading.",
            state_name(existing.state)
        )));
    }
    let target = dir.join(file_name);
    if target.symlink_metadata().is_ok() {
        return Err(Error::Conflict(format!(
            "The input directory already has a file named '{file_name}'; scan it, or delete it \
             first"
        )));
    }
    std::fs::rename(dir.join(staged), &target)
        .map_err(|e| Error::Internal(format!("cannot store the upload '{file_name}': {e}")))?;
    let record = pending_file(doc_id.clone(), file_name.to_string(), track_id, &iso_now());
    if let Err(err) = shared.commit(vec![Op::PutStatus(record)]) {
        // Not stored: leave nothing behind that a scan would pick up later.
        let _ = std::fs::remove_file(&target);
        return Err(err);
    }
    Ok(doc_id)
}

/// LightRAG's refusal of an unsupported file type.
pub fn unsupported_message() -> String {
    format!(
        "Unsupported file type. Supported types: ({})",
        lightrag_parse::SUPPORTED_EXTENSIONS.join(", ")
    )
}

/// Scans the input directory: new supported files are enqueued, files of processed
/// documents are moved aside, failed parses are retried. Symbolic links and
/// directories are skipped (the preopen would not let a link lead outside anyway).
pub fn scan(shared: &Shared, track_id: &str) -> Result<ScanReport, Error> {
    let dir = input_dir(shared)?.to_path_buf();
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .map_err(|e| Error::Internal(format!("cannot list the input directory: {e}")))?
        .flatten()
        .filter(|entry| entry.file_type().is_ok_and(|t| t.is_file()))
        .filter_map(|entry| entry.file_name().into_string().ok())
        .filter(|name| plain_name(name) && !name.starts_with('.'))
        .filter(|name| lightrag_parse::is_supported(name))
        .collect();
    names.sort();
    let mut report = ScanReport {
        enqueued: Vec::new(),
        archived: Vec::new(),
        skipped: Vec::new(),
    };
    let now = iso_now();
    let mut ops = Vec::new();
    let mut processed = Vec::new();
    {
        let store = shared.store.borrow();
        let state = store.state();
        for name in names {
            let doc_id = doc_id_for(&name);
            match state.status.get(&doc_id) {
                None => {
                    ops.push(Op::PutStatus(pending_file(
                        doc_id.clone(),
                        name,
                        track_id,
                        &now,
                    )));
                    report.enqueued.push(doc_id);
                }
                Some(status) if status.state == DocState::Processed => processed.push(name),
                Some(status) if status.state == DocState::Failed && needs_parse(status) => {
                    let mut retry = pending_file(doc_id.clone(), name, track_id, &now);
                    retry.created_at = status.created_at.clone();
                    ops.push(Op::PutStatus(retry));
                    report.enqueued.push(doc_id);
                }
                Some(_) => report.skipped.push(name),
            }
        }
    }
    shared.commit(ops)?;
    for name in processed {
        if archive(&dir, &name).is_ok() {
            report.archived.push(name);
        }
    }
    Ok(report)
}

/// `a.tar.txt` → (`a.tar`, `.txt`); a name without an extension (or a dot file) is
/// all stem. Archived copies are named `stem_001.ext`….
fn stem_and_extension(name: &str) -> (&str, &str) {
    match name.rfind('.') {
        Some(dot) if dot > 0 => name.split_at(dot),
        _ => (name, ""),
    }
}

/// Moves `/input/<name>` into `__parsed__/`, as `stem_001.ext` … when the name is
/// taken there (LightRAG's rule).
fn archive(dir: &Path, name: &str) -> std::io::Result<PathBuf> {
    let parsed = dir.join(PARSED_DIR);
    std::fs::create_dir_all(&parsed)?;
    let (stem, ext) = stem_and_extension(name);
    let mut target = parsed.join(name);
    let mut n = 0;
    while target.symlink_metadata().is_ok() {
        n += 1;
        if n > 999 {
            return Err(std::io::Error::other("no free name in __parsed__"));
        }
        target = parsed.join(format!("{stem}_{n:03}{ext}"));
    }
    std::fs::rename(dir.join(name), &target)?;
    Ok(target)
}

/// Deletes a document's file from the input directory and every copy of it in
/// `__parsed__/` (`name`, `stem_001.ext` …).
pub fn delete_files(shared: &Shared, file_path: &str) {
    let Ok(dir) = input_dir(shared) else { return };
    if !plain_name(file_path) {
        return;
    }
    let _ = std::fs::remove_file(dir.join(file_path));
    let parsed = dir.join(PARSED_DIR);
    let _ = std::fs::remove_file(parsed.join(file_path));
    let (stem, ext) = stem_and_extension(file_path);
    for n in 1..=999 {
        let copy = parsed.join(format!("{stem}_{n:03}{ext}"));
        if std::fs::remove_file(&copy).is_err() && copy.symlink_metadata().is_err() {
            break;
        }
    }
}

/// What parsing a pending file came to.
pub enum Parsed {
    /// The document has its text and can be processed.
    Ready,
    /// The document failed; its status says why.
    Failed,
}

/// The limits a parse runs under, from the workspace's memory limit: the file and
/// what it unpacks to must fit beside the tables with room to process the text.
fn parse_options(shared: &Shared) -> (Options, u64) {
    let limit = shared.config.memory_limit_bytes;
    let (file_bytes, text_bytes) = match limit {
        0 => (512 << 20, 128 << 20),
        limit => (limit / 4, (limit / 8) as usize),
    };
    let options = Options {
        pdf_password: shared.config.pdf_decrypt_password.clone(),
        max_text_bytes: text_bytes,
        max_unpacked_bytes: file_bytes,
    };
    (options, file_bytes)
}

/// Parses the file of pending document `doc_id` and stores its text. `Err` only when
/// storage fails; a file that cannot be parsed fails its document.
///
/// The `parsing` mark is committed durably before the file is read: if parsing traps
/// (a stack overflow, the memory or CPU limit), the next open finds the document
/// `parsing` with a fault and fails it instead of parsing it again.
pub fn parse_document(shared: &Shared, doc_id: &str) -> Result<Parsed, Error> {
    let Some(mut status) = shared.store.borrow().state().status.get(doc_id).cloned() else {
        return Ok(Parsed::Failed);
    };
    status.state = DocState::Parsing;
    status.updated_at = iso_now();
    status.error_msg = None;
    shared.commit(vec![Op::PutStatus(status.clone())])?;
    let name = status.file_path.clone();
    let extracted = read_and_parse(shared, &name);
    let (text, parser, pages) = match extracted {
        Ok(parsed) => parsed,
        Err(reason) => return fail(shared, status, reason, None),
    };
    let mut content = sanitize_text(&text);
    drop(text);
    strip_in_place(&mut content);
    if content.is_empty() {
        return fail(shared, status, format!("'{name}' contains no text"), None);
    }
    if let Err(err) = crate::memory::check_headroom(
        crate::memory::live_bytes().saturating_sub(content.len()),
        &[content.len()],
        shared.config.memory_limit_bytes,
    ) {
        return fail(shared, status, crate::documents::error_text(&err), None);
    }
    let content_hash = md5_hex(&content);
    let original = {
        let store = shared.store.borrow();
        let state = store.state();
        state
            .by_content_hash
            .get(&content_hash)
            .and_then(|id| state.status.get(id))
            .map(|s| (s.id.clone(), s.state, s.track_id.clone()))
    };
    let dir = input_dir(shared)?.to_path_buf();
    if let Some((original_id, original_state, original_track)) = original {
        let metadata = serde_json::json!({
            "is_duplicate": true,
            "duplicate_kind": "content_hash",
            "original_doc_id": original_id,
            "original_track_id": original_track,
            "parser": parser,
        });
        let reason = duplicate_message(&original_id, original_state);
        let outcome = fail(shared, status, reason, Some(metadata));
        // LightRAG moves files rejected as duplicates aside too.
        let _ = archive(&dir, &name);
        return outcome;
    }
    let mut metadata = serde_json::json!({ "parse_format": "lightrag", "parser": parser });
    if let Some(pages) = pages {
        metadata["pages"] = pages.into();
    }
    status.state = DocState::Pending;
    status.updated_at = iso_now();
    status.content_summary = summary_of(&content);
    status.content_length = content.chars().count() as u32;
    status.content_hash = Some(content_hash.clone());
    status.metadata = metadata.to_string();
    shared.commit(vec![
        Op::PutDoc(DocRecord {
            id: doc_id.to_string(),
            content: Text::new(content),
            file_path: name.clone(),
            content_hash,
        }),
        Op::PutStatus(status),
    ])?;
    // The text is stored: the file has served its purpose. A failure to move it only
    // means the next scan moves it.
    let _ = archive(&dir, &name);
    Ok(Parsed::Ready)
}

/// Reads `/input/<name>` and extracts its text: `(text, parser, pages)`, or why not.
fn read_and_parse(
    shared: &Shared,
    name: &str,
) -> Result<(String, &'static str, Option<u32>), String> {
    let dir = input_dir(shared).map_err(|e| crate::documents::error_text(&e))?;
    let path = dir.join(name);
    let (options, max_file) = parse_options(shared);
    let size = path
        .symlink_metadata()
        .map_err(|e| format!("the uploaded file '{name}' cannot be read: {e}"))?
        .len();
    if size > max_file {
        return Err(format!(
            "'{name}' is {:.1} MiB; this workspace parses files up to {} MiB (a quarter of its \
             memory limit, LIGHTRAG_WORKSPACE_MEMORY_MB)",
            size as f64 / (1 << 20) as f64,
            max_file >> 20
        ));
    }
    let bytes = std::fs::read(&path)
        .map_err(|e| format!("the uploaded file '{name}' cannot be read: {e}"))?;
    let parsed = lightrag_parse::parse(name, &bytes, &options).map_err(|e| e.to_string())?;
    Ok((parsed.text, parsed.parser, parsed.pages))
}

/// Fails a document that was being parsed; its file stays in the input directory.
fn fail(
    shared: &Shared,
    mut status: StatusRecord,
    reason: String,
    metadata: Option<serde_json::Value>,
) -> Result<Parsed, Error> {
    crate::progress::progress(
        shared,
        format!("Failed to parse {}: {reason}", status.file_path),
    );
    status.state = DocState::Failed;
    status.updated_at = iso_now();
    status.error_msg = Some(reason);
    status.metadata = metadata
        .unwrap_or_else(|| serde_json::json!({ "parse_format": PENDING_PARSE }))
        .to_string();
    shared.commit_reserved(vec![Op::PutStatus(status)])?;
    Ok(Parsed::Failed)
}
