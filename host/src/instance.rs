//! [`Instance`]: one workspace's live engine, with typed calls.
//!
//! Every call gets a fresh CPU budget. A call that traps (guest panic, out of memory,
//! CPU budget exhausted) leaves the instance unusable — wasmtime refuses to enter it
//! again — so the instance marks itself broken and every later call fails fast with
//! the same [`Fault`]; its owner then drops it without calling `finalize`, and the
//! next request re-opens the workspace from disk.

use crate::bindings::Workspace as EngineBindings;
use crate::bindings::types::{
    Config, DocPage, DocPageRequest, DocStatus, EnqueueReport, Error as GuestError, GraphView,
    ImportCounts, ImportPhase, NewDocument, NumberedReply, OpenReport, PipelineReport, Progress,
    ScanReport, StateCount, Task, WorkspaceStats,
};
use crate::runtime::{CpuBudgetExhausted, HostState, Runtime};
use std::fs::File;
use std::sync::Arc;
use wasmtime::Store;

/// How a guest call failed to return.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FaultKind {
    /// It used up its CPU budget (`LIGHTRAG_WORKSPACE_CPU_MS`).
    CpuBudget,
    /// It was refused memory beyond its limit (`LIGHTRAG_WORKSPACE_MEMORY_MB`) and
    /// trapped.
    Memory,
    /// Any other trap: a guest panic, an invalid operation.
    Trap,
}

impl FaultKind {
    /// The limit that was hit, for the audit trail.
    pub fn limit(self) -> Option<&'static str> {
        match self {
            FaultKind::CpuBudget => Some("cpu"),
            FaultKind::Memory => Some("memory"),
            FaultKind::Trap => None,
        }
    }
}

/// A guest call that did not return: the instance is gone.
#[derive(Debug, Clone)]
pub struct Fault {
    pub kind: FaultKind,
    /// What happened, including the guest's panic message when there is one.
    pub message: String,
}

impl std::fmt::Display for Fault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

/// A live engine instance of one workspace.
pub struct Instance {
    store: Store<HostState>,
    engine: EngineBindings,
    runtime: Arc<Runtime>,
    broken: Option<Fault>,
    /// An OS lock on the workspace, held while the instance lives, so a second server
    /// process cannot open the same directory.
    _lock: File,
}

/// Defines a forwarding method for an engine export.
macro_rules! call {
    ($(#[$doc:meta])* $name:ident => $export:ident ( $($arg:ident : $ty:ty),* ) -> $ret:ty) => {
        $(#[$doc])*
        pub async fn $name(&mut self, $($arg: $ty),*) -> Result<$ret, Fault> {
            self.ready()?;
            let result = self
                .engine
                .lightrag_engine_engine()
                .$export(&mut self.store, $($arg),*)
                .await;
            self.check(result)
        }
    };
}

impl Instance {
    /// Wraps a freshly instantiated engine.
    pub fn new(
        runtime: Arc<Runtime>,
        store: Store<HostState>,
        engine: EngineBindings,
        lock: File,
    ) -> Instance {
        Instance {
            store,
            engine,
            runtime,
            broken: None,
            _lock: lock,
        }
    }

    /// The instance's linear memory in bytes (what its memory limit caps), as a gauge
    /// that can be read while the instance is in a call.
    pub fn memory_in_use(&self) -> Arc<std::sync::atomic::AtomicUsize> {
        self.store.data().memory_in_use()
    }

    /// The fault that broke this instance, if any.
    pub fn fault(&self) -> Option<&Fault> {
        self.broken.as_ref()
    }

    fn ready(&mut self) -> Result<(), Fault> {
        if let Some(fault) = &self.broken {
            return Err(fault.clone());
        }
        self.runtime.arm(&mut self.store);
        Ok(())
    }

    fn check<T>(&mut self, result: wasmtime::Result<T>) -> Result<T, Fault> {
        result.map_err(|err| {
            let kind = if err.is::<CpuBudgetExhausted>() {
                FaultKind::CpuBudget
            } else if self.store.data().memory_denied() {
                FaultKind::Memory
            } else {
                FaultKind::Trap
            };
            let err = anyhow::Error::from(err);
            let stderr = self.store.data().stderr.contents();
            let stderr = String::from_utf8_lossy(&stderr);
            let mut message = format!("{}", err.root_cause());
            // The panic message: the last lines of stderr, without Rust's hints.
            let lines: Vec<&str> = stderr
                .lines()
                .map(str::trim)
                .filter(|l| !l.is_empty() && !l.starts_with("note:"))
                .collect();
            if !lines.is_empty() {
                let tail = lines[lines.len().saturating_sub(2)..].join(" ");
                message.push_str(&format!(" (guest: {tail})"));
            }
            let fault = Fault { kind, message };
            self.broken = Some(fault.clone());
            fault
        })
    }

    call!(
        /// Loads the workspace; `last_fault` is why the previous instance stopped.
        open => call_open(config: &Config, last_fault: Option<&str>) -> Result<OpenReport, GuestError>
    );
    call!(
        /// Compacts the workspace's storage if worthwhile.
        finalize => call_finalize() -> Result<(), GuestError>
    );
    call!(
        /// Starts a task.
        start => call_start(task: &Task) -> (u64, Progress)
    );
    call!(
        /// Continues a task.
        resume => call_resume(task: u64, replies: &[NumberedReply]) -> Progress
    );
    call!(
        /// Abandons a task; returns the tasks this woke.
        cancel => call_cancel(task: u64) -> Vec<u64>
    );
    call!(
        /// Stores new documents as pending.
        enqueue => call_enqueue(documents: &[NewDocument], track_id: &str) -> Result<EnqueueReport, GuestError>
    );
    call!(
        /// Documents of one request.
        documents_by_track => call_documents_by_track(track_id: &str) -> Vec<DocStatus>
    );
    call!(
        /// A page of documents.
        documents_page => call_documents_page(request: &DocPageRequest) -> DocPage
    );
    call!(
        /// Documents per state.
        state_counts => call_state_counts() -> Vec<StateCount>
    );
    call!(
        /// Pipeline progress.
        pipeline_status => call_pipeline_status() -> PipelineReport
    );
    call!(
        /// Deletes everything.
        clear => call_clear() -> Result<u32, GuestError>
    );
    call!(
        /// Drops cached model answers.
        clear_cache => call_clear_cache() -> Result<(), GuestError>
    );
    call!(
        /// Sizes of the workspace.
        stats => call_stats() -> WorkspaceStats
    );
    call!(
        /// Stores documents whose names are new, skipping the others.
        enqueue_new => call_enqueue_new(documents: &[NewDocument], track_id: &str) -> Result<EnqueueReport, GuestError>
    );
    call!(
        /// Moves a staged upload to its name and enqueues it for parsing.
        enqueue_upload => call_enqueue_upload(staged: &str, file_name: &str, track_id: &str) -> Result<String, GuestError>
    );
    call!(
        /// Scans the input directory.
        scan_input => call_scan_input(track_id: &str) -> Result<ScanReport, GuestError>
    );
    call!(
        /// The file types the engine parses.
        supported_file_types => call_supported_file_types() -> Vec<String>
    );
    call!(
        /// Failed documents back to pending.
        reset_failed => call_reset_failed() -> Result<u32, GuestError>
    );
    call!(
        /// Every entity name.
        graph_labels => call_graph_labels() -> Vec<String>
    );
    call!(
        /// Entity names by degree.
        popular_labels => call_popular_labels(limit: u32) -> Vec<String>
    );
    call!(
        /// Entity names matching a query.
        search_labels => call_search_labels(query: &str, limit: u32) -> Vec<String>
    );
    call!(
        /// A part of the graph.
        subgraph => call_subgraph(label: &str, max_depth: u32, max_nodes: u32) -> GraphView
    );
    call!(
        /// Whether an entity exists.
        entity_exists => call_entity_exists(name: &str) -> bool
    );
    call!(
        /// One step of importing a LightRAG directory preopened at `/import`.
        import_lightrag => call_import_lightrag(phase: ImportPhase) -> Result<ImportCounts, GuestError>
    );
}
