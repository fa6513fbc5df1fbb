//! The wasm export adapter: forwards each export of `wit/engine.wit` to [`Engine`].
//!
//! The instance serves one workspace whose files are preopened at `/data`; the engine
//! lives in a thread-local because the component is single-threaded and an export call
//! is the only way in.
// The export glue that wit-bindgen generates is `unsafe` canonical-ABI code.
#![allow(unsafe_code)]

use crate::wit::exports::lightrag::engine::engine::Guest;
use crate::wit::{
    Config, DocPage, DocPageRequest, DocStatus, EnqueueReport, Error, GraphView, NewDocument,
    NumberedReply, OpenReport, PipelineReport, Progress, StateCount, Task, WorkspaceStats,
};
use crate::{Engine, documents};
use std::cell::RefCell;
use std::path::Path;

thread_local! {
    static ENGINE: RefCell<Option<Engine>> = const { RefCell::new(None) };
}

/// Runs `f` on the open engine. Calling any export before `open` breaks the contract;
/// trapping is the honest answer (the host then discards the instance).
fn with<T>(f: impl FnOnce(&mut Engine) -> T) -> T {
    ENGINE.with(|cell| {
        let mut engine = cell.borrow_mut();
        f(engine.as_mut().expect("the host must call `open` first"))
    })
}

struct Component;

impl Guest for Component {
    fn open(config: Config, last_fault: Option<String>) -> Result<OpenReport, Error> {
        ENGINE.with(|cell| {
            if cell.borrow().is_some() {
                return Err(Error::Conflict("the engine is already open".into()));
            }
            let (engine, report) = Engine::open(config, Path::new("/data"), last_fault.as_deref())?;
            *cell.borrow_mut() = Some(engine);
            Ok(report)
        })
    }

    fn finalize() -> Result<(), Error> {
        with(|engine| engine.finalize())
    }

    fn start(task: Task) -> (u64, Progress) {
        with(|engine| engine.start(task))
    }

    fn resume(task: u64, replies: Vec<NumberedReply>) -> Progress {
        with(|engine| engine.resume(task, replies))
    }

    fn cancel(task: u64) -> Vec<u64> {
        with(|engine| engine.cancel(task))
    }

    fn enqueue(documents: Vec<NewDocument>, track_id: String) -> Result<EnqueueReport, Error> {
        with(|engine| documents::enqueue(engine.shared(), documents, &track_id, false))
    }

    fn enqueue_new(documents: Vec<NewDocument>, track_id: String) -> Result<EnqueueReport, Error> {
        with(|engine| documents::enqueue(engine.shared(), documents, &track_id, true))
    }

    fn reset_failed() -> Result<u32, Error> {
        with(|engine| documents::reset_failed(engine.shared()))
    }

    fn documents_by_track(track_id: String) -> Vec<DocStatus> {
        with(|engine| documents::by_track(engine.shared(), &track_id))
    }

    fn documents_page(request: DocPageRequest) -> DocPage {
        with(|engine| documents::page(engine.shared(), &request))
    }

    fn state_counts() -> Vec<StateCount> {
        with(|engine| documents::state_counts(engine.shared()))
    }

    fn pipeline_status() -> PipelineReport {
        with(|engine| engine.shared().pipeline.borrow().clone())
    }

    fn clear() -> Result<u32, Error> {
        with(|engine| documents::clear(engine.shared()))
    }

    fn clear_cache() -> Result<(), Error> {
        with(|engine| documents::clear_cache(engine.shared()))
    }

    fn stats() -> WorkspaceStats {
        with(|engine| engine.stats())
    }

    fn graph_labels() -> Vec<String> {
        with(|engine| engine.shared().store.borrow().state().graph.labels())
    }

    fn popular_labels(limit: u32) -> Vec<String> {
        with(|engine| {
            engine
                .shared()
                .store
                .borrow()
                .state()
                .graph
                .popular(limit as usize)
        })
    }

    fn search_labels(query: String, limit: u32) -> Vec<String> {
        with(|engine| {
            engine
                .shared()
                .store
                .borrow()
                .state()
                .graph
                .search(&query, limit as usize)
        })
    }

    fn subgraph(label: String, max_depth: u32, max_nodes: u32) -> GraphView {
        with(|engine| engine.subgraph(&label, max_depth, max_nodes))
    }

    fn entity_exists(name: String) -> bool {
        with(|engine| {
            engine
                .shared()
                .store
                .borrow()
                .state()
                .graph
                .node(&name)
                .is_some()
        })
    }
}

crate::wit::export!(Component);
