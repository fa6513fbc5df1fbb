//! [`Workspace`]: one workspace's state, its running tasks, and every operation the
//! contract exports.
//!
//! State shared with tasks lives in [`Shared`] behind an `Rc`: a task's future holds a
//! clone and borrows the store only between awaits, never across one. Since the guest
//! is single-threaded and a task runs only inside `start`/`resume`, every change a task
//! makes between two awaits is atomic with respect to every other task and read.

use crate::executor::{Executor, TaskFuture};
use crate::state::{CacheRecord, DocState, Op, State, cache_entry_bytes};
use crate::store::{Store, StoreError};
use crate::token_memo::TokenMemo;
use crate::wit::{
    Config, DeleteRequest, Error, GraphView, NumberedReply, OpenReport, PipelineReport, Progress,
    Task, WorkspaceStats,
};
use crate::{documents, edit, pipeline, query};
use std::cell::RefCell;
use std::path::Path;
use std::rc::Rc;

/// Everything tasks and reads share.
pub struct Shared {
    /// The workspace's settings.
    pub config: Config,
    /// Durable tables.
    pub store: RefCell<Store<State>>,
    /// Progress of the ingestion pipeline; not persisted (it describes this run).
    pub pipeline: RefCell<PipelineReport>,
    /// Held while a document's results are merged into the graph and committed, so
    /// concurrent documents never overwrite each other's contribution.
    pub merge_lock: futures_util::lock::Mutex<()>,
    /// Token counts of context lines seen by earlier queries.
    pub token_memo: RefCell<TokenMemo>,
}

impl Shared {
    /// Commits `ops` as one durable transaction.
    pub fn commit(&self, ops: Vec<Op>) -> Result<(), Error> {
        self.store.borrow_mut().commit(ops).map_err(store_error)
    }

    /// Caches an answer or keywords computed for a query, dropping the oldest such
    /// entries to stay within `query-cache-bytes`. Lazily durable, like every cached
    /// answer: losing it in a crash only costs a model call.
    pub fn cache_query_time(&self, key: String, record: CacheRecord) {
        let limit = self.config.query_cache_bytes as usize;
        let mut store = self.store.borrow_mut();
        let mut ops = Vec::new();
        if limit > 0 {
            let size = cache_entry_bytes(&key, &record);
            if size > limit {
                return;
            }
            let state = store.state();
            let dropped = state.query_cache.evictions(&state.cache, &key, size, limit);
            ops.extend(dropped.into_iter().map(Op::DelCache));
        }
        ops.push(Op::PutCache(key, record));
        store.commit_lazy(ops);
    }

    /// Commits bookkeeping that must succeed even at the storage quota.
    pub fn commit_reserved(&self, ops: Vec<Op>) -> Result<(), Error> {
        self.store
            .borrow_mut()
            .commit_reserved(ops)
            .map_err(store_error)
    }
}

/// Drops the oldest query-time cache entries beyond `limit` (which may have been
/// lowered since they were stored).
fn trim_query_cache(store: &mut Store<State>, limit: usize) {
    let state = store.state();
    if limit == 0 || state.query_cache.bytes() <= limit {
        return;
    }
    let dropped = state.query_cache.evictions(&state.cache, "", 0, limit);
    store.commit_lazy(dropped.into_iter().map(Op::DelCache).collect());
}

/// Maps a storage failure to the contract's error.
pub fn store_error(err: StoreError) -> Error {
    match err {
        StoreError::Full(msg) => Error::StorageFull(msg),
        StoreError::Io(msg) => Error::Internal(msg),
    }
}

/// One open workspace.
pub struct Workspace {
    shared: Rc<Shared>,
    executor: Executor,
}

impl Workspace {
    /// Opens the workspace stored in `dir` and recovers from any interruption.
    /// `last_fault` is why the previous instance faulted, if it did (see
    /// [`documents::recover_interrupted`]).
    pub fn open(
        config: Config,
        dir: &Path,
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
            pipeline: RefCell::new(pipeline::idle_status()),
            merge_lock: futures_util::lock::Mutex::new(()),
            token_memo: RefCell::new(TokenMemo::default()),
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
                }) => Box::pin(documents::delete(shared, io, doc_ids, delete_llm_cache)),
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
        }
    }
}
