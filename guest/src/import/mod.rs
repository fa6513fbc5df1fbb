//! Importing a Python LightRAG workspace directory (`WORKING_DIR/<workspace>/`,
//! lightrag-hku 1.5) into an empty workspace, without a single model call.
//!
//! Existing LightRAG users have documents already chunked, embedded and extracted;
//! re-ingesting them would cost every model call again. Their directory holds all
//! of it: statuses and texts, chunks, vectors, the graph, the extraction answers.
//! The import turns each into the operations the engine itself would have
//! committed — through the same store, in journal records — so the workspace it
//! produces answers queries, deletes documents and reopens exactly as one ingested
//! here, and no model is asked anything: vectors are used as stored (so the
//! configured dimension must be theirs) and extraction answers are re-keyed.
//!
//! It runs in phases (`import-phase`), one export call each, so a host can report
//! progress and no call runs unboundedly long: `check` (reads everything, writes
//! nothing), `documents`, `chunks`, `graph`, `cache`, `finish` (compacts). Files are
//! streamed, never read whole, and what one phase needs of another's files is kept
//! as small indexes (ids and offsets), so memory stays near what the imported
//! workspace itself takes.
//!
//! A phase called out of order fails with `bad-input` and changes nothing. A
//! writing phase that fails leaves a half-imported workspace, and every later phase
//! is refused: the host imports into a fresh staging workspace and discards it on a
//! rerun, so the engine needs no resumption of its own.
//!
//! * `source` — the directory's file names, and errors naming a file.
//! * `json` — a streaming reader for LightRAG's JSON files.
//! * `base64` — decoding the vector matrices.
//! * `kv` — the `kv_store_*.json` files and their records.
//! * `nano` — the `vdb_*.json` NanoVectorDB files.
//! * `graphml` — the GraphML graph file.
//! * `report` — counts and skip reasons per kind of record.
//! * `batch` — committing operations in batches.
//! * `documents`, `chunks`, `contributions`, `graph`, `cache`, `check` — the phases.
//! * here — the order of the phases.

mod base64;
mod batch;
mod cache;
mod check;
mod chunks;
mod contributions;
mod documents;
mod graph;
mod graphml;
mod json;
mod kv;
mod nano;
mod report;
mod source;

use crate::shared::Shared;
use crate::wit::{Error, ImportCounts, ImportPhase};
use report::Counts;
use source::Source;
use std::collections::HashSet;
use std::path::Path;

/// Position of a phase in the order they must run.
fn position(phase: ImportPhase) -> u8 {
    match phase {
        ImportPhase::Check => 0,
        ImportPhase::Documents => 1,
        ImportPhase::Chunks => 2,
        ImportPhase::Graph => 3,
        ImportPhase::Cache => 4,
        ImportPhase::Finish => 5,
    }
}

fn name(phase: ImportPhase) -> &'static str {
    match phase {
        ImportPhase::Check => "check",
        ImportPhase::Documents => "documents",
        ImportPhase::Chunks => "chunks",
        ImportPhase::Graph => "graph",
        ImportPhase::Cache => "cache",
        ImportPhase::Finish => "finish",
    }
}

/// One import into one workspace: which phase ran last, and what the phases wrote.
/// It lives beside the workspace (the component keeps one per instance); an instance
/// that is replaced mid-import starts a new one, whose first phase then finds the
/// workspace no longer empty.
#[derive(Default)]
pub struct Session {
    done: Option<ImportPhase>,
    /// A writing phase failed after changing the workspace.
    broken: bool,
    totals: Counts,
    /// LightRAG cache keys whose answers the `chunks` phase imported.
    consumed: HashSet<String>,
}

impl Session {
    /// A session before its `check`.
    pub fn new() -> Session {
        Session::default()
    }

    /// Runs `phase` of importing the LightRAG directory `dir` into `shared`'s
    /// workspace (the component passes `/import`). Returns the phase's counts;
    /// `finish` returns the totals of every writing phase.
    pub fn run(
        &mut self,
        shared: &Shared,
        dir: &Path,
        phase: ImportPhase,
    ) -> Result<ImportCounts, Error> {
        self.admit(phase)?;
        if shared.pipeline.borrow().busy {
            return Err(Error::Busy(
                "documents are being processed; an import needs the workspace to itself".into(),
            ));
        }
        // Held for the phase, like a deletion or an edit holds it: no task suspended
        // mid-merge may commit into a workspace being imported.
        let Some(_exclusive) = shared.merge_lock.try_lock() else {
            return Err(Error::Busy(
                "documents are being deleted or the graph is being edited; an import needs \
                 the workspace to itself"
                    .into(),
            ));
        };
        let source = Source::new(dir);
        let before = shared.store.borrow().disk_bytes();
        let result = match phase {
            ImportPhase::Check => check::run(shared, &source),
            ImportPhase::Documents => documents::run(shared, &source),
            ImportPhase::Chunks => chunks::run(shared, &source, &mut self.consumed),
            ImportPhase::Graph => graph::run(shared, &source),
            ImportPhase::Cache => cache::run(shared, &source, &self.consumed),
            ImportPhase::Finish => finish(shared).map(|()| self.totals.clone()),
        };
        match result {
            Ok(counts) => {
                self.done = Some(phase);
                if !matches!(phase, ImportPhase::Check | ImportPhase::Finish) {
                    self.totals.add(&counts);
                }
                if matches!(phase, ImportPhase::Cache) {
                    // Only the `cache` phase needed them.
                    self.consumed = HashSet::new();
                }
                Ok(counts.to_wit())
            }
            Err(err) => {
                self.broken |= shared.store.borrow().disk_bytes() != before;
                Err(err)
            }
        }
    }

    /// Refuses a phase out of order, or after a failure that changed the workspace.
    fn admit(&self, phase: ImportPhase) -> Result<(), Error> {
        if self.broken {
            return Err(Error::BadInput(
                "an earlier import phase failed after writing, so this workspace is half \
                 imported; import into a fresh workspace"
                    .into(),
            ));
        }
        let last = self.done.map(position);
        let ready = match phase {
            // Checking again is harmless until something is written.
            ImportPhase::Check => last.is_none_or(|l| l == 0),
            _ => last == Some(position(phase) - 1),
        };
        if ready {
            return Ok(());
        }
        let after = match self.done {
            Some(done) => format!("after `{}`", name(done)),
            None => "first".to_string(),
        };
        Err(Error::BadInput(format!(
            "the import phase `{}` cannot run {after}; the phases run in the order check, \
             documents, chunks, graph, cache, finish",
            name(phase)
        )))
    }
}

/// Ends an import: a snapshot of the imported state, so the workspace reopens from
/// one file instead of replaying every batch.
fn finish(shared: &Shared) -> Result<(), Error> {
    shared
        .store
        .borrow_mut()
        .compact()
        .map_err(crate::shared::store_error)
}
