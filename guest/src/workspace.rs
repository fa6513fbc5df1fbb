//! [`Workspace`]: one workspace's shared state, its running tasks, and every
//! operation the contract exports on it.
//!
//! The state tasks share is a [`Shared`]; this adds the executor that runs the tasks
//! and the entry points that open, start, resume and read.

use crate::executor::{Executor, TaskFuture};
use crate::shared::{Shared, store_error, trim_query_cache};
use crate::source_rows::SourceRows;
use crate::state::{DocState, State};
use crate::store::Store;
use crate::token_memo::TokenMemo;
use crate::wit::{
    Config, DeleteRequest, Error, GraphView, NumberedReply, OpenReport, Progress, Task,
    WorkspaceStats,
};
use crate::{deletion, documents, edit, pipeline, progress, query};
use std::cell::RefCell;
use std::path::Path;
use std::rc::Rc;

/// One open workspace.
pub struct Workspace {
    shared: Rc<Shared>,
    executor: Executor,
}

impl Workspace {
    /// Opens the workspace stored in `dir` and recovers from any interruption.
    /// `last_fault` is why the previous instance faulted, if it did (see
    /// [`documents::recover_interrupted`]). Uploads are read from `input`.
    pub fn open(
        config: Config,
        dir: &Path,
        input: Option<&Path>,
        last_fault: Option<&str>,
    ) -> Result<(Workspace, OpenReport), Error> {
        if config.chunk_size == 0 || config.chunk_overlap >= config.chunk_size {
            return Err(Error::BadInput(format!(
                "CHUNK_OVERLAP_SIZE ({}) must be smaller than CHUNK_SIZE ({})",
                config.chunk_overlap, config.chunk_size
            )));
        }
        let (mut store, _recovery) = Store::<State>::open(dir).map_err(store_error)?;
        store.set_quota(config.disk_quota_bytes);
        store
            .set_inline_vectors(config.exact_vectors)
            .map_err(store_error)?;
        trim_query_cache(&mut store, config.query_cache_bytes as usize);
        let meta = &store.state().meta;
        if !meta.embedding_identity.is_empty()
            && !store.state().chunk_vectors.is_empty()
            && (meta.embedding_identity != config.embedding_identity
                || meta.embedding_dim != config.embedding_dim)
        {
            return Err(Error::Conflict(format!(
                "workspace '{}' holds vectors from embedding model '{}' ({} dimensions), but the \
                 server is configured with '{}' ({} dimensions); vectors of different models \
                 cannot be compared. Configure the original model, or clear the workspace.",
                config.workspace,
                meta.embedding_identity,
                meta.embedding_dim,
                config.embedding_identity,
                config.embedding_dim
            )));
        }
        let shared = Rc::new(Shared {
            config,
            store: RefCell::new(store),
            pipeline: RefCell::new(progress::idle_status()),
            merge_lock: futures_util::lock::Mutex::new(()),
            token_memo: RefCell::new(TokenMemo::default()),
            source_rows: RefCell::new(SourceRows::default()),
            input: input.map(Path::to_path_buf),
        });
        let (recovered, failed) = documents::recover_interrupted(&shared, last_fault)?;
        let pending = documents::count_state(&shared, DocState::Pending);
        let workspace = Workspace {
            shared,
            executor: Executor::default(),
        };
        Ok((
            workspace,
            OpenReport {
                pending_documents: pending,
                recovered_documents: recovered,
                failed_documents: failed,
            },
        ))
    }

    /// The shared state, for the read functions.
    pub fn shared(&self) -> &Rc<Shared> {
        &self.shared
    }

    /// Compacts storage if enough changed since the last snapshot; an unchanged
    /// workspace is not rewritten.
    pub fn finalize(&mut self) -> Result<(), Error> {
        self.shared
            .store
            .borrow_mut()
            .compact_if_worthwhile()
            .map_err(store_error)
    }

    /// Starts a task.
    pub fn start(&mut self, task: Task) -> (u64, Progress) {
        let shared = self.shared.clone();
        self.executor.start(move |io| -> TaskFuture {
            match task {
                Task::ProcessDocuments => Box::pin(pipeline::process_documents(shared, io)),
                Task::Query(params) => Box::pin(query::run(shared, io, params)),
                Task::DeleteDocuments(DeleteRequest {
                    doc_ids,
                    delete_llm_cache,
                    delete_file,
                }) => Box::pin(deletion::run(
                    shared,
                    io,
                    doc_ids,
                    delete_llm_cache,
                    delete_file,
                )),
                Task::EditGraph(edit) => Box::pin(edit::run(shared, io, edit)),
            }
        })
    }

    /// Continues a task.
    pub fn resume(&mut self, task: u64, replies: Vec<NumberedReply>) -> Progress {
        self.executor.resume(task, replies)
    }

    /// Abandons a task; returns the tasks this woke.
    pub fn cancel(&mut self, task: u64) -> Vec<u64> {
        self.executor.cancel(task)
    }

    /// A part of the graph, in the contract's types.
    pub fn subgraph(&self, label: &str, max_depth: u32, max_nodes: u32) -> GraphView {
        let store = self.shared.store.borrow();
        let part = store
            .state()
            .graph
            .subgraph(label, max_depth as usize, max_nodes as usize);
        GraphView {
            nodes: part.nodes.into_iter().map(edit::to_wit_node).collect(),
            edges: part.edges.into_iter().map(edit::to_wit_edge).collect(),
            is_truncated: part.is_truncated,
        }
    }

    /// Sizes of the workspace.
    pub fn stats(&self) -> WorkspaceStats {
        let store = self.shared.store.borrow();
        let state = store.state();
        WorkspaceStats {
            documents: state.status.len() as u32,
            chunks: state.chunks.len() as u32,
            entities: state.graph.node_count() as u32,
            relations: state.graph.edge_count() as u32,
            cache_entries: state.cache.len() as u32,
            disk_bytes: store.disk_bytes(),
            memory_bytes: crate::memory::live_bytes() as u64,
        }
    }
}
