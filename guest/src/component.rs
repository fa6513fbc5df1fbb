//! The wasm export adapter: forwards each export of `wit/workspace.wit` to the
//! [`Workspace`].
//!
//! The instance serves one workspace whose files are preopened at `/data`; the
//! workspace lives in a thread-local because the component is single-threaded and an
//! export call is the only way in.
// The export glue that wit-bindgen generates is `unsafe` canonical-ABI code.
#![allow(unsafe_code)]

use crate::wit::exports::lightrag::engine::engine::Guest;
use crate::wit::{
    Config, DocPage, DocPageRequest, DocStatus, EnqueueReport, Error, GraphView, ImportCounts,
    ImportPhase, NewDocument, NumberedReply, OpenReport, PipelineReport, Progress, ScanReport,
    StateCount, Task, WorkspaceStats,
};
use crate::workspace::Workspace;
use crate::{documents, files, import};
use std::cell::RefCell;
use std::path::Path;

thread_local! {
    static WORKSPACE: RefCell<Option<Workspace>> = const { RefCell::new(None) };
    /// The import in progress, if the host is importing a LightRAG directory.
    static IMPORT: RefCell<import::Session> = RefCell::new(import::Session::new());
}

/// Runs `f` on the open workspace. Calling any export before `open` breaks the
/// contract; trapping is the honest answer (the host then discards the instance).
fn with<T>(f: impl FnOnce(&mut Workspace) -> T) -> T {
    WORKSPACE.with(|cell| {
        let mut workspace = cell.borrow_mut();
        f(workspace.as_mut().expect("the host must call `open` first"))
    })
}

struct Component;

impl Guest for Component {
    fn open(config: Config, last_fault: Option<String>) -> Result<OpenReport, Error> {
        WORKSPACE.with(|cell| {
            if cell.borrow().is_some() {
                return Err(Error::Conflict("the engine is already open".into()));
            }
            // Uploads are an optional capability: an embedder that preopens no
            // `/input` gets an engine for text documents only.
            let input = Path::new("/input");
            let input = input.is_dir().then_some(input);
            let (workspace, report) =
                Workspace::open(config, Path::new("/data"), input, last_fault.as_deref())?;
            *cell.borrow_mut() = Some(workspace);
            Ok(report)
        })
    }

    fn finalize() -> Result<(), Error> {
        with(|workspace| workspace.finalize())
    }

    fn start(task: Task) -> (u64, Progress) {
        with(|workspace| workspace.start(task))
    }

    fn resume(task: u64, replies: Vec<NumberedReply>) -> Progress {
        with(|workspace| workspace.resume(task, replies))
    }

    fn cancel(task: u64) -> Vec<u64> {
        with(|workspace| workspace.cancel(task))
    }

    fn enqueue(documents: Vec<NewDocument>, track_id: String) -> Result<EnqueueReport, Error> {
        with(|workspace| documents::enqueue(workspace.shared(), documents, &track_id, false))
    }

    fn enqueue_new(documents: Vec<NewDocument>, track_id: String) -> Result<EnqueueReport, Error> {
        with(|workspace| documents::enqueue(workspace.shared(), documents, &track_id, true))
    }

    fn enqueue_upload(
        staged: String,
        file_name: String,
        track_id: String,
    ) -> Result<String, Error> {
        with(|workspace| files::enqueue_upload(workspace.shared(), &staged, &file_name, &track_id))
    }

    fn scan_input(track_id: String) -> Result<ScanReport, Error> {
        with(|workspace| files::scan(workspace.shared(), &track_id))
    }

    fn supported_file_types() -> Vec<String> {
        lightrag_parse::SUPPORTED_EXTENSIONS
            .iter()
            .map(|e| e.to_string())
            .collect()
    }

    fn reset_failed() -> Result<u32, Error> {
        with(|workspace| documents::reset_failed(workspace.shared()))
    }

    fn documents_by_track(track_id: String) -> Vec<DocStatus> {
        with(|workspace| documents::by_track(workspace.shared(), &track_id))
    }

    fn documents_page(request: DocPageRequest) -> DocPage {
        with(|workspace| documents::page(workspace.shared(), &request))
    }

    fn state_counts() -> Vec<StateCount> {
        with(|workspace| documents::state_counts(workspace.shared()))
    }

    fn pipeline_status() -> PipelineReport {
        with(|workspace| workspace.shared().pipeline.borrow().clone())
    }

    fn clear() -> Result<u32, Error> {
        with(|workspace| documents::clear(workspace.shared()))
    }

    fn clear_cache() -> Result<(), Error> {
        with(|workspace| documents::clear_cache(workspace.shared()))
    }

    fn stats() -> WorkspaceStats {
        with(|workspace| workspace.stats())
    }

    fn graph_labels() -> Vec<String> {
        with(|workspace| workspace.shared().store.borrow().state().graph.labels())
    }

    fn popular_labels(limit: u32) -> Vec<String> {
        with(|workspace| {
            workspace
                .shared()
                .store
                .borrow()
                .state()
                .graph
                .popular(limit as usize)
        })
    }

    fn search_labels(query: String, limit: u32) -> Vec<String> {
        with(|workspace| {
            workspace
                .shared()
                .store
                .borrow()
                .state()
                .graph
                .search(&query, limit as usize)
        })
    }

    fn subgraph(label: String, max_depth: u32, max_nodes: u32) -> GraphView {
        with(|workspace| workspace.subgraph(&label, max_depth, max_nodes))
    }

    fn entity_exists(name: String) -> bool {
        with(|workspace| {
            workspace
                .shared()
                .store
                .borrow()
                .state()
                .graph
                .node(&name)
                .is_some()
        })
    }

    fn import_lightrag(phase: ImportPhase) -> Result<ImportCounts, Error> {
        // The LightRAG directory is preopened read-only at `/import` for the import.
        with(|workspace| {
            IMPORT.with(|session| {
                session
                    .borrow_mut()
                    .run(workspace.shared(), Path::new("/import"), phase)
            })
        })
    }
}

crate::wit::export!(Component);
