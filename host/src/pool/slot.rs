//! The pool's bookkeeping: its maps, and what a slot holds. Read and written only
//! under the pool's lock (a slot's value and open state have their own, for the
//! holders that read them outside it).

use super::types::Retirement;
use lru::LruCache;
use std::collections::{HashMap, HashSet, VecDeque};
use std::hash::Hash;
use std::sync::{Arc, Mutex, MutexGuard};
use tokio::sync::watch;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

pub(super) struct Maps<K, V, E> {
    pub(super) live: LruCache<K, Arc<Slot<K, V, E>>>,
    pub(super) retiring: HashMap<K, Arc<Slot<K, V, E>>>,
    pub(super) closed: HashSet<K>,
    /// Keys waiting for a slot, in arrival order.
    pub(super) queue: VecDeque<(u64, K)>,
    pub(super) next_ticket: u64,
    pub(super) shutting_down: bool,
}

/// What became of a slot's open.
#[derive(Clone)]
pub(super) enum Opened<E> {
    Opening,
    Ready,
    Failed(E),
}

pub(super) struct Slot<K, V, E> {
    pub(super) key: K,
    /// The value once opened; taken when the slot is retired or discarded.
    pub(super) value: Mutex<Option<V>>,
    pub(super) opened: watch::Sender<Opened<E>>,
    /// Cancelled when the slot starts draining: holders that can stop early should.
    pub(super) drain: CancellationToken,
    /// Only read or written under the pool's lock.
    pub(super) meta: Mutex<Meta>,
}

pub(super) struct Meta {
    pub(super) leases: usize,
    /// Set when the slot stops taking leases; says why it will be retired.
    pub(super) draining: Option<Retirement>,
    /// Since when the slot has had at least one lease.
    pub(super) busy_since: Option<Instant>,
    pub(super) last_used: Instant,
}

impl<K, V, E> Slot<K, V, E> {
    pub(super) fn meta(&self) -> MutexGuard<'_, Meta> {
        self.meta.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(super) fn value(&self) -> MutexGuard<'_, Option<V>> {
        self.value.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// A key is blocked while its previous slot still drains or retires.
pub(super) fn blocked<K: Eq + Hash, V, E>(maps: &Maps<K, V, E>, key: &K) -> bool {
    maps.retiring.contains_key(key)
        || maps
            .live
            .peek(key)
            .is_some_and(|s| s.meta().draining.is_some())
}
