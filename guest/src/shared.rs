//! [`Shared`]: the state of one workspace that its tasks and reads share, and the
//! ways to commit changes to it.
//!
//! It lives behind an `Rc`: a task's future holds a clone and borrows the store only
//! between awaits, never across one. Since the guest is single-threaded and a task
//! runs only inside `start`/`resume`, every change a task makes between two awaits is
//! atomic with respect to every other task and read.

use crate::source_rows::SourceRows;
use crate::state::{CacheRecord, Op, State, cache_entry_bytes};
use crate::store::{Store, StoreError};
use crate::token_memo::TokenMemo;
use crate::wit::{Config, Error, PipelineReport};
use std::cell::RefCell;

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
    /// Chunk rows of the source lists earlier queries ranked.
    pub source_rows: RefCell<SourceRows>,
    /// The directory uploads are read from (`/input` in the component), if any.
    pub input: Option<std::path::PathBuf>,
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

    /// The cached value under `key`; `None` when there is none, or when it cannot be
    /// read back (a cached answer is only worth a model call, so damage costs that).
    pub fn cached(&self, key: &str) -> Option<String> {
        let store = self.store.borrow();
        let record = store.state().cache.get(key)?;
        store.read_text(&record.value).ok()
    }

    /// Commits bookkeeping that a crash may lose without harm, without waiting for
    /// the disk (it may use the quota's reserve, like [`Shared::commit_reserved`]).
    pub fn commit_unsynced(&self, ops: Vec<Op>) -> Result<(), Error> {
        self.store
            .borrow_mut()
            .commit_unsynced(ops)
            .map_err(store_error)
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
pub fn trim_query_cache(store: &mut Store<State>, limit: usize) {
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
