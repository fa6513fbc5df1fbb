//! Importing a Python LightRAG workspace directory (`kv_store_*.json`, `vdb_*.json`,
//! the GraphML graph) as a workspace.
//!
//! The engine does the reading and converting (it owns the storage format); the host
//! gives it a private instance on a staging directory with the LightRAG directory
//! preopened **read-only** at `/import`, walks it through the import's phases (so a
//! caller can show progress), finalizes it, and installs the result like an unpacked
//! archive — only into an empty workspace. Nothing is written to the source; an
//! interrupted import leaves only its staging directory, removed on drop, so running
//! it again starts clean.

use super::blocking::off_workers;
use super::error::Error;
use super::transfer::is_empty_or_absent;
use super::workspaces::Workspaces;
use crate::bindings::types::{ImportCounts, ImportPhase, ImportTable};
use crate::limits::Overrides;
use crate::workspace::Workspace;
use std::path::PathBuf;

/// The phases, in the order the engine takes them.
pub const PHASES: [ImportPhase; 6] = [
    ImportPhase::Check,
    ImportPhase::Documents,
    ImportPhase::Chunks,
    ImportPhase::Graph,
    ImportPhase::Cache,
    ImportPhase::Finish,
];

/// The kinds of record an import counts, by name, in the order they are reported.
pub fn tables(counts: &ImportCounts) -> [(&'static str, &ImportTable); 5] {
    [
        ("documents", &counts.documents),
        ("chunks", &counts.chunks),
        ("entities", &counts.entities),
        ("relations", &counts.relations),
        ("cache", &counts.cache),
    ]
}

/// A phase's name, for progress lines.
pub fn phase_name(phase: ImportPhase) -> &'static str {
    match phase {
        ImportPhase::Check => "check",
        ImportPhase::Documents => "documents",
        ImportPhase::Chunks => "chunks",
        ImportPhase::Graph => "graph",
        ImportPhase::Cache => "cache",
        ImportPhase::Finish => "finish",
    }
}

/// LightRAG does not record which model made its vectors: the operator names it
/// (`source`), and it must be the model this server embeds queries with (`ours`).
pub fn check_embedding_model(ours: &str, source: Option<&str>) -> Result<(), Error> {
    match source {
        None => Err(Error::Invalid(format!(
            "LightRAG does not record which embedding model made its vectors: name it \
             (--source-embedding-model, or embedding_model); it must be this server's \
             EMBEDDING_MODEL, {ours:?}"
        ))),
        Some(theirs) if theirs != ours => Err(Error::Invalid(format!(
            "the vectors were made with {theirs:?} but this server embeds with {ours:?}: \
             set EMBEDDING_MODEL (and its binding) to the source's model, or insert the \
             documents again instead of importing"
        ))),
        Some(_) => Ok(()),
    }
}

impl Workspaces {
    /// Imports the LightRAG directory `source` as the empty workspace `workspace`,
    /// calling `progress` after each phase; returns the totals (those of `finish`).
    pub async fn import_lightrag(
        &self,
        workspace: &Workspace,
        source: PathBuf,
        mut progress: impl FnMut(ImportPhase, &ImportCounts) + Send,
    ) -> Result<ImportCounts, Error> {
        if !source.is_dir() {
            return Err(Error::Invalid(format!(
                "{} is not a directory",
                source.display()
            )));
        }
        // Checked again when installing; refusing now spares the work.
        if self.holds_data(workspace) {
            return Err(Error::Conflict(format!(
                "Workspace '{workspace}' already holds data; delete it first or choose \
                 another name"
            )));
        }
        let staging = self.staging()?;
        let data = staging.path.join("data");
        let mut instance = self
            .cx
            .opener()
            .open_for_import(workspace, &data, &source)
            .await?;
        let mut totals = None;
        for phase in PHASES {
            let (back, result) = off_workers(async move {
                let result = instance.import_lightrag(phase).await;
                (instance, result)
            })
            .await?;
            instance = back;
            let counts = result??;
            progress(phase, &counts);
            totals = Some(counts);
        }
        let (instance, finalized) = off_workers(async move {
            let mut instance = instance;
            let finalized = instance.finalize().await;
            (instance, finalized)
        })
        .await?;
        finalized??;
        drop(instance);
        self.install(workspace, staging, Overrides::default())
            .await?;
        Ok(totals.expect("there are phases"))
    }

    /// Whether `workspace` has any file in its data or input directory (the test
    /// installing applies).
    fn holds_data(&self, workspace: &Workspace) -> bool {
        [&self.cx.working_dir, &self.cx.input_dir]
            .iter()
            .any(|root| !is_empty_or_absent(&root.join(workspace.as_str())).unwrap_or(false))
    }
}
