//! The pool's vocabulary: what keys and values must be, how values come and go, why
//! a lease is refused, and the pool's settings and counts.

use std::fmt;
use std::future::Future;
use std::hash::Hash;
use std::time::Duration;
use tokio::time::Instant;

/// What a pool's keys must be.
pub trait Key: Clone + Eq + Hash + Send + Sync + fmt::Display + 'static {}
impl<T: Clone + Eq + Hash + Send + Sync + fmt::Display + 'static> Key for T {}

/// What a pool's values must be: cheap clones of a shared handle.
pub trait Value: Clone + Send + Sync + 'static {}
impl<T: Clone + Send + Sync + 'static> Value for T {}

/// How values come and go.
pub trait Lifecycle<K, V>: Send + Sync + 'static {
    /// Why a value could not be opened; every lease waiting for that open gets a copy.
    type Error: Clone + Send + Sync + 'static;
    /// Opens the value of `key`.
    fn open(&self, key: &K) -> impl Future<Output = Result<V, Self::Error>> + Send;
    /// Retires a value nobody leases any more.
    fn retire(&self, key: &K, value: V, why: Retirement) -> impl Future<Output = ()> + Send;
}

/// Why a slot was retired.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Retirement {
    /// It was the least recently used idle slot, and another key needed room.
    Evicted,
    /// It was asked to drain for waiting keys, and its last lease ended.
    HandedOver,
    /// Its key was closed.
    Closed,
    /// The pool shut down.
    Shutdown,
}

/// Why a lease was refused.
#[derive(Debug, Clone, PartialEq)]
pub enum PoolError<E> {
    /// Every slot stayed busy for the whole wait.
    Full,
    /// The pool is shutting down.
    ShuttingDown,
    /// The key is closed (see [`Pool::close`]).
    Closed,
    /// Opening the value failed.
    Open(E),
}

impl<E: fmt::Display> fmt::Display for PoolError<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PoolError::Full => f.write_str("every slot of the pool stayed busy"),
            PoolError::ShuttingDown => f.write_str("the pool is shutting down"),
            PoolError::Closed => f.write_str("the key is closed"),
            PoolError::Open(err) => write!(f, "cannot open: {err}"),
        }
    }
}

/// The pool's sizes and waits.
#[derive(Clone, Copy, Debug)]
pub struct Settings {
    /// Most live slots.
    pub capacity: usize,
    /// How long a lease waits for a slot.
    pub wait: Duration,
    /// How long a slot must have been leased without a break before a waiter may ask
    /// it to drain.
    pub hold: Duration,
}

/// Counts for `/health` and `/metrics`.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize)]
pub struct Summary {
    pub capacity: usize,
    /// Live slots (opening, open or draining).
    pub loaded: usize,
    /// Live slots with at least one lease.
    pub leased: usize,
    /// Leases held, over all slots.
    pub leases: usize,
    /// Slots being retired.
    pub retiring: usize,
    /// Leases waiting for a slot.
    pub waiting: usize,
}

/// One live slot, as [`Pool::entries`] lists it.
#[derive(Clone, Debug)]
pub struct Entry<K> {
    pub key: K,
    pub leases: usize,
    pub last_used: Instant,
}
