//! A pool of keyed values — at most `capacity` live at once, least recently used
//! first out — with leases. It is the mechanism only: what a value is, how it is
//! opened and how it is retired belong to a [`Lifecycle`] (for the server, the
//! workspace service), so this module knows nothing about workspaces.
//!
//! * **Leases.** A [`Lease`] pins its slot: a slot is only retired once nobody leases
//!   it. A lease is counted from the moment it is decided on, under the pool's lock,
//!   and released by `Drop`: a caller that goes away at any await gives its lease back.
//! * **Single-flight opens.** The first lease of a key inserts a slot and opens its
//!   value in a spawned task (a caller going away cannot abandon an open half-way);
//!   later leases of the key wait for that open's outcome.
//! * **One value per key.** A retiring slot keeps its key until its value is retired;
//!   a new slot for the key waits for that.
//! * **Fair capacity.** Leasing a live key never waits. A key that needs a slot when
//!   all are taken queues in arrival order; the first in line evicts the least recently
//!   used idle slot, or — when every slot is leased — asks the longest-held slot (held
//!   at least `hold`) to *drain*: it takes no new leases, its holders are told (so a
//!   background holder can yield), and it is retired as soon as its leases end. Only a
//!   wait longer than `wait` fails with [`PoolError::Full`].
//! * **Closing and shutdown** refuse new leases, drain, and retire.
//!
//! The pool's lock is a `std::sync::Mutex` held for bookkeeping only, never across an
//! await and never while a value is opened or retired. Times are tokio's, so tests can
//! pause the clock.

#[cfg(test)]
mod tests;

use lru::LruCache;
use std::collections::{HashMap, HashSet, VecDeque};
use std::fmt;
use std::future::Future;
use std::hash::Hash;
use std::ops::Deref;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;
use tokio::sync::{Notify, watch};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

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

/// The pool; cheap to clone.
pub struct Pool<K: Key, V: Value, L: Lifecycle<K, V>> {
    inner: Arc<Inner<K, V, L>>,
}

impl<K: Key, V: Value, L: Lifecycle<K, V>> Clone for Pool<K, V, L> {
    fn clone(&self) -> Self {
        Pool {
            inner: self.inner.clone(),
        }
    }
}

struct Inner<K: Key, V: Value, L: Lifecycle<K, V>> {
    lifecycle: L,
    settings: Settings,
    maps: Mutex<Maps<K, V, L::Error>>,
    /// Signalled (to every waiter) whenever a lease ends, a slot goes or a ticket leaves
    /// the queue. Waiters re-check under the lock, so a spurious wake costs a check.
    changed: Notify,
}

struct Maps<K, V, E> {
    live: LruCache<K, Arc<Slot<K, V, E>>>,
    retiring: HashMap<K, Arc<Slot<K, V, E>>>,
    closed: HashSet<K>,
    /// Keys waiting for a slot, in arrival order.
    queue: VecDeque<(u64, K)>,
    next_ticket: u64,
    shutting_down: bool,
}

/// What became of a slot's open.
#[derive(Clone)]
enum Opened<E> {
    Opening,
    Ready,
    Failed(E),
}

struct Slot<K, V, E> {
    key: K,
    /// The value once opened; taken when the slot is retired or discarded.
    value: Mutex<Option<V>>,
    opened: watch::Sender<Opened<E>>,
    /// Cancelled when the slot starts draining: holders that can stop early should.
    drain: CancellationToken,
    /// Only read or written under the pool's lock.
    meta: Mutex<Meta>,
}

struct Meta {
    leases: usize,
    /// Set when the slot stops taking leases; says why it will be retired.
    draining: Option<Retirement>,
    /// Since when the slot has had at least one lease.
    busy_since: Option<Instant>,
    last_used: Instant,
}

impl<K, V, E> Slot<K, V, E> {
    fn meta(&self) -> MutexGuard<'_, Meta> {
        self.meta.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn value(&self) -> MutexGuard<'_, Option<V>> {
        self.value.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// A pin on a live value: while it exists the value is not retired.
pub struct Lease<K: Key, V: Value, L: Lifecycle<K, V>> {
    hold: Hold<K, V, L>,
    value: V,
}

/// A counted lease whose value may not be open yet.
struct Hold<K: Key, V: Value, L: Lifecycle<K, V>> {
    slot: Arc<Slot<K, V, L::Error>>,
    pool: Pool<K, V, L>,
}

/// A place in the queue for a slot; leaves the queue when dropped.
struct Ticket<K: Key, V: Value, L: Lifecycle<K, V>> {
    id: u64,
    pool: Pool<K, V, L>,
}

/// Keeps a key closed (refusing leases) until dropped.
pub struct Closed<K: Key, V: Value, L: Lifecycle<K, V>> {
    key: K,
    pool: Pool<K, V, L>,
}

/// What `lease` does next, and a ticket it is done with (dropped outside the lock).
type Decision<K, V, L> = (Next<K, V, L>, Option<Ticket<K, V, L>>);

/// What `lease` does next, decided under the lock.
enum Next<K: Key, V: Value, L: Lifecycle<K, V>> {
    Hold(Hold<K, V, L>),
    Open(Hold<K, V, L>),
    Refuse(PoolError<L::Error>),
    /// Wait for a change, or at the latest until then.
    Wait(Option<Instant>),
}

impl<K, V, L> Pool<K, V, L>
where
    K: Key,
    V: Value,
    L: Lifecycle<K, V>,
{
    /// An empty pool.
    pub fn new(lifecycle: L, settings: Settings) -> Self {
        Pool {
            inner: Arc::new(Inner {
                lifecycle,
                settings,
                maps: Mutex::new(Maps {
                    live: LruCache::unbounded(),
                    retiring: HashMap::new(),
                    closed: HashSet::new(),
                    queue: VecDeque::new(),
                    next_ticket: 0,
                    shutting_down: false,
                }),
                changed: Notify::new(),
            }),
        }
    }

    /// The lifecycle the pool was built with.
    pub fn lifecycle(&self) -> &L {
        &self.inner.lifecycle
    }

    fn maps(&self) -> MutexGuard<'_, Maps<K, V, L::Error>> {
        self.inner.maps.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn changed(&self) {
        self.inner.changed.notify_waiters();
    }

    /// Leases `key`'s value, opening it if needed; waits at most `wait` for a slot.
    pub async fn lease(&self, key: &K) -> Result<Lease<K, V, L>, PoolError<L::Error>> {
        self.lease_until(key, Some(Instant::now() + self.inner.settings.wait))
            .await
    }

    /// Like [`Pool::lease`], but waits for a slot as long as it takes (for background
    /// work that yielded its slot and wants it back).
    pub async fn lease_patiently(&self, key: &K) -> Result<Lease<K, V, L>, PoolError<L::Error>> {
        self.lease_until(key, None).await
    }

    async fn lease_until(
        &self,
        key: &K,
        deadline: Option<Instant>,
    ) -> Result<Lease<K, V, L>, PoolError<L::Error>> {
        let mut ticket = None;
        loop {
            // Registered before the state is inspected, so a change in between is seen.
            let changed = self.inner.changed.notified();
            tokio::pin!(changed);
            changed.as_mut().enable();
            let (next, done) = self.next(key, &mut ticket);
            // Out of the queue, outside the lock (its `Drop` takes the lock).
            drop(done);
            let hold = match next {
                Next::Hold(hold) => hold,
                Next::Open(hold) => {
                    let pool = self.clone();
                    let slot = hold.slot.clone();
                    tokio::spawn(async move { pool.open(slot).await });
                    hold
                }
                Next::Refuse(err) => return Err(err),
                Next::Wait(recheck) => {
                    if deadline.is_some_and(|d| Instant::now() >= d) {
                        return Err(PoolError::Full);
                    }
                    let until = match (deadline, recheck) {
                        (Some(d), Some(r)) => Some(d.min(r)),
                        (d, r) => d.or(r),
                    };
                    match until {
                        Some(until) => {
                            let _ = tokio::time::timeout_at(until, changed).await;
                        }
                        None => changed.await,
                    }
                    continue;
                }
            };
            match hold.ready().await {
                Some(result) => return result,
                // Discarded right after its open: start over.
                None => continue,
            }
        }
    }

    /// Decides, under the lock, what a lease of `key` does next. Returns a ticket that
    /// is done with, to be dropped once the lock is released.
    fn next(&self, key: &K, ticket: &mut Option<Ticket<K, V, L>>) -> Decision<K, V, L> {
        let now = Instant::now();
        let mut maps = self.maps();
        if maps.shutting_down {
            return (Next::Refuse(PoolError::ShuttingDown), ticket.take());
        }
        if maps.closed.contains(key) {
            return (Next::Refuse(PoolError::Closed), ticket.take());
        }
        if let Some(slot) = maps.live.get(key).cloned() {
            let mut meta = slot.meta();
            if meta.draining.is_none() {
                meta.leases += 1;
                meta.busy_since.get_or_insert(now);
                meta.last_used = now;
                drop(meta);
                let hold = Hold {
                    slot,
                    pool: self.clone(),
                };
                return (Next::Hold(hold), ticket.take());
            }
        }
        let id = match ticket {
            Some(ticket) => ticket.id,
            None => {
                let id = maps.next_ticket;
                maps.next_ticket += 1;
                maps.queue.push_back((id, key.clone()));
                *ticket = Some(Ticket {
                    id,
                    pool: self.clone(),
                });
                id
            }
        };
        // Keys whose old slot is still draining or retiring cannot take a slot yet;
        // they do not hold up the keys behind them.
        let first = maps
            .queue
            .iter()
            .find(|(_, k)| !blocked(&maps, k))
            .map(|(id, _)| *id);
        let recheck = self.make_room(&mut maps, now);
        if first != Some(id)
            || blocked(&maps, key)
            || (maps.live.len() >= self.inner.settings.capacity && !self.evict_idle(&mut maps))
        {
            return (Next::Wait(recheck), None);
        }
        maps.queue.retain(|(t, _)| *t != id);
        let (opened, _) = watch::channel(Opened::Opening);
        let slot = Arc::new(Slot {
            key: key.clone(),
            value: Mutex::new(None),
            opened,
            drain: CancellationToken::new(),
            meta: Mutex::new(Meta {
                leases: 1,
                draining: None,
                busy_since: Some(now),
                last_used: now,
            }),
        });
        maps.live.put(key.clone(), slot.clone());
        let hold = Hold {
            slot,
            pool: self.clone(),
        };
        (Next::Open(hold), ticket.take())
    }

    /// When keys wait for a slot and none is free: evicts idle slots, or asks the
    /// longest-held slots to drain, as many as there are waiting keys. Returns when a
    /// busy slot will have been held long enough to be asked, if one is not yet.
    fn make_room(&self, maps: &mut Maps<K, V, L::Error>, now: Instant) -> Option<Instant> {
        let waiting: HashSet<&K> = maps
            .queue
            .iter()
            .map(|(_, k)| k)
            .filter(|k| !blocked(maps, k))
            .collect();
        let free = self.inner.settings.capacity.saturating_sub(maps.live.len());
        let draining = maps
            .live
            .iter()
            .filter(|(_, s)| s.meta().draining.is_some())
            .count();
        let mut wanted = waiting.len().saturating_sub(free + draining);
        drop(waiting);
        let mut recheck = None;
        while wanted > 0 {
            if self.evict_idle(maps) {
                wanted -= 1;
                continue;
            }
            let hold = self.inner.settings.hold;
            let victim = maps
                .live
                .iter()
                .filter_map(|(_, s)| {
                    let meta = s.meta();
                    meta.draining
                        .is_none()
                        .then_some(meta.busy_since)
                        .flatten()
                        .map(|since| (since, s.clone()))
                })
                .min_by_key(|(since, _)| *since);
            let Some((since, slot)) = victim else { break };
            if since + hold > now {
                recheck = Some(since + hold);
                break;
            }
            tracing::debug!(key = %slot.key, "asking a long-held slot to drain for waiters");
            slot.meta().draining = Some(Retirement::HandedOver);
            slot.drain.cancel();
            wanted -= 1;
        }
        recheck
    }

    /// Retires the least recently used slot nobody leases, if there is one.
    fn evict_idle(&self, maps: &mut Maps<K, V, L::Error>) -> bool {
        let victim = maps
            .live
            .iter()
            .rev()
            .find(|(_, s)| s.meta().leases == 0)
            .map(|(k, _)| k.clone());
        match victim {
            Some(key) => {
                self.start_retiring(maps, &key, Retirement::Evicted);
                true
            }
            None => false,
        }
    }

    /// Moves `key`'s live slot to `retiring` and retires it in a spawned task.
    fn start_retiring(&self, maps: &mut Maps<K, V, L::Error>, key: &K, why: Retirement) {
        let Some(slot) = maps.live.pop(key) else {
            return;
        };
        let why = *slot.meta().draining.get_or_insert(why);
        slot.drain.cancel();
        maps.retiring.insert(key.clone(), slot.clone());
        let pool = self.clone();
        match tokio::runtime::Handle::try_current() {
            Ok(handle) => {
                handle.spawn(async move { pool.retire(slot, why).await });
            }
            // No runtime (a test's teardown): the value is dropped unretired.
            Err(_) => {
                slot.value().take();
                maps.retiring.remove(key);
            }
        }
    }

    async fn open(&self, slot: Arc<Slot<K, V, L::Error>>) {
        let outcome = self.inner.lifecycle.open(&slot.key).await;
        match outcome {
            Ok(value) => {
                *slot.value() = Some(value);
                slot.opened.send_replace(Opened::Ready);
                // A slot nobody leases any more (its opener went away) while others
                // wait is free to go.
                self.changed();
            }
            Err(err) => {
                {
                    let mut maps = self.maps();
                    if maps
                        .live
                        .peek(&slot.key)
                        .is_some_and(|s| Arc::ptr_eq(s, &slot))
                    {
                        maps.live.pop(&slot.key);
                    }
                }
                slot.opened.send_replace(Opened::Failed(err));
                self.changed();
            }
        }
    }

    async fn retire(&self, slot: Arc<Slot<K, V, L::Error>>, why: Retirement) {
        let mut opened = slot.opened.subscribe();
        let _ = opened
            .wait_for(|state| !matches!(state, Opened::Opening))
            .await;
        let value = slot.value().take();
        if let Some(value) = value {
            self.inner.lifecycle.retire(&slot.key, value, why).await;
        }
        {
            let mut maps = self.maps();
            if maps
                .retiring
                .get(&slot.key)
                .is_some_and(|s| Arc::ptr_eq(s, &slot))
            {
                maps.retiring.remove(&slot.key);
            }
        }
        self.changed();
    }

    /// Drops `lease`'s value without retiring it (it cannot be used any more, e.g. it
    /// faulted). The next lease of the key opens a new one.
    pub fn discard(&self, lease: &Lease<K, V, L>) {
        let slot = &lease.hold.slot;
        let value = {
            let mut maps = self.maps();
            if maps
                .live
                .peek(&slot.key)
                .is_some_and(|s| Arc::ptr_eq(s, slot))
            {
                maps.live.pop(&slot.key);
            }
            slot.meta().draining.get_or_insert(Retirement::Closed);
            slot.drain.cancel();
            slot.value().take()
        };
        drop(value);
        self.changed();
    }

    /// Closes `key`: leases are refused (with [`PoolError::Closed`]) until the returned
    /// guard is dropped. Holders are asked to drain, and once the last lease ends the
    /// value is retired; waits at most `wait` for that, else gives up with `Full` and
    /// reopens the key. Dropping the future half-way reopens it too.
    pub async fn close(
        &self,
        key: &K,
        wait: Duration,
    ) -> Result<Closed<K, V, L>, PoolError<L::Error>> {
        let guard = {
            let mut maps = self.maps();
            if maps.shutting_down {
                return Err(PoolError::ShuttingDown);
            }
            if !maps.closed.insert(key.clone()) {
                return Err(PoolError::Closed);
            }
            Closed {
                key: key.clone(),
                pool: self.clone(),
            }
        };
        let deadline = Instant::now() + wait;
        loop {
            let changed = self.inner.changed.notified();
            tokio::pin!(changed);
            changed.as_mut().enable();
            {
                let mut maps = self.maps();
                if let Some(slot) = maps.live.peek(key).cloned() {
                    let idle = {
                        let mut meta = slot.meta();
                        meta.draining.get_or_insert(Retirement::Closed);
                        meta.leases == 0
                    };
                    slot.drain.cancel();
                    if idle {
                        self.start_retiring(&mut maps, key, Retirement::Closed);
                    }
                } else if !maps.retiring.contains_key(key) {
                    return Ok(guard);
                }
            }
            if tokio::time::timeout_at(deadline, changed).await.is_err() {
                return Err(PoolError::Full);
            }
        }
    }

    /// Retires `key`'s value once its current leases end, so that the next lease opens
    /// a fresh one (new settings, say). Unlike [`Pool::close`], leases asked for
    /// meanwhile are not refused: they wait for the fresh value. Returns once the old
    /// value is retired, or `Full` after `wait` (it is retired when its leases end).
    pub async fn recycle(&self, key: &K, wait: Duration) -> Result<(), PoolError<L::Error>> {
        let deadline = Instant::now() + wait;
        loop {
            let changed = self.inner.changed.notified();
            tokio::pin!(changed);
            changed.as_mut().enable();
            {
                let mut maps = self.maps();
                match maps.live.peek(key).cloned() {
                    Some(slot) => {
                        let idle = {
                            let mut meta = slot.meta();
                            meta.draining.get_or_insert(Retirement::Closed);
                            meta.leases == 0
                        };
                        slot.drain.cancel();
                        if idle {
                            self.start_retiring(&mut maps, key, Retirement::Closed);
                        }
                    }
                    None if !maps.retiring.contains_key(key) => return Ok(()),
                    None => {}
                }
            }
            if tokio::time::timeout_at(deadline, changed).await.is_err() {
                return Err(PoolError::Full);
            }
        }
    }

    /// Stops the pool: every lease from now on is refused, every slot drains and is
    /// retired once its leases end. Returns when all are retired, or at `deadline`
    /// (slots still leased then are left to their holders).
    pub async fn shutdown(&self, deadline: Instant) {
        loop {
            let changed = self.inner.changed.notified();
            tokio::pin!(changed);
            changed.as_mut().enable();
            {
                let mut maps = self.maps();
                maps.shutting_down = true;
                let keys: Vec<K> = maps.live.iter().map(|(k, _)| k.clone()).collect();
                for key in keys {
                    let slot = maps.live.peek(&key).cloned();
                    if let Some(slot) = slot {
                        let idle = {
                            let mut meta = slot.meta();
                            meta.draining = Some(Retirement::Shutdown);
                            meta.leases == 0
                        };
                        slot.drain.cancel();
                        if idle {
                            self.start_retiring(&mut maps, &key, Retirement::Shutdown);
                        }
                    }
                }
                if maps.live.is_empty() && maps.retiring.is_empty() {
                    return;
                }
            }
            if tokio::time::timeout_at(deadline, changed).await.is_err() {
                let maps = self.maps();
                let stuck: Vec<String> = maps
                    .live
                    .iter()
                    .map(|(k, _)| k.to_string())
                    .chain(maps.retiring.keys().map(|k| k.to_string()))
                    .collect();
                tracing::warn!("shutdown deadline reached with {stuck:?} not retired");
                return;
            }
        }
    }

    /// The value of `key` if it is live, without leasing it (for reads of host-side
    /// facts that need no guest call).
    pub fn peek(&self, key: &K) -> Option<V> {
        let maps = self.maps();
        let slot = maps.live.peek(key)?;
        slot.value().clone()
    }

    /// A lease of `key` only if it is live and takes leases (never opens, never waits).
    pub fn lease_if_live(&self, key: &K) -> Option<Lease<K, V, L>> {
        let maps = self.maps();
        let slot = maps.live.peek(key)?.clone();
        let value = slot.value().clone()?;
        let mut meta = slot.meta();
        if meta.draining.is_some() {
            return None;
        }
        meta.leases += 1;
        meta.busy_since.get_or_insert_with(Instant::now);
        drop(meta);
        Some(Lease {
            hold: Hold {
                slot,
                pool: self.clone(),
            },
            value,
        })
    }

    /// Live slots, most recently used first.
    pub fn entries(&self) -> Vec<Entry<K>> {
        self.maps()
            .live
            .iter()
            .map(|(key, slot)| {
                let meta = slot.meta();
                Entry {
                    key: key.clone(),
                    leases: meta.leases,
                    last_used: meta.last_used,
                }
            })
            .collect()
    }

    /// Counts for `/health` and `/metrics`.
    pub fn summary(&self) -> Summary {
        let maps = self.maps();
        let leases: Vec<usize> = maps.live.iter().map(|(_, s)| s.meta().leases).collect();
        Summary {
            capacity: self.inner.settings.capacity,
            loaded: maps.live.len(),
            leased: leases.iter().filter(|&&n| n > 0).count(),
            leases: leases.iter().sum(),
            retiring: maps.retiring.len(),
            waiting: maps.queue.len(),
        }
    }
}

/// A key is blocked while its previous slot still drains or retires.
fn blocked<K: Eq + Hash, V, E>(maps: &Maps<K, V, E>, key: &K) -> bool {
    maps.retiring.contains_key(key)
        || maps
            .live
            .peek(key)
            .is_some_and(|s| s.meta().draining.is_some())
}

impl<K, V, L> Hold<K, V, L>
where
    K: Key,
    V: Value,
    L: Lifecycle<K, V>,
{
    /// Waits for the slot's open and turns the hold into a lease; `None` when the
    /// value was discarded in the meantime (the caller starts over).
    async fn ready(self) -> Option<Result<Lease<K, V, L>, PoolError<L::Error>>> {
        let mut opened = self.slot.opened.subscribe();
        let state = opened
            .wait_for(|state| !matches!(state, Opened::Opening))
            .await
            .map(|state| state.clone());
        match state {
            Ok(Opened::Ready) => {
                let value = self.slot.value().clone()?;
                Some(Ok(Lease { hold: self, value }))
            }
            Ok(Opened::Failed(err)) => Some(Err(PoolError::Open(err))),
            // The sender lives in the slot, which the hold keeps alive.
            Ok(Opened::Opening) | Err(_) => Some(Err(PoolError::ShuttingDown)),
        }
    }
}

impl<K, V, L> Drop for Hold<K, V, L>
where
    K: Key,
    V: Value,
    L: Lifecycle<K, V>,
{
    fn drop(&mut self) {
        let pool = &self.pool;
        let mut maps = pool.inner.maps.lock().unwrap_or_else(|e| e.into_inner());
        let (idle, draining) = {
            let mut meta = self.slot.meta();
            meta.leases -= 1;
            if meta.leases == 0 {
                meta.busy_since = None;
            }
            (meta.leases == 0, meta.draining)
        };
        let current = maps
            .live
            .peek(&self.slot.key)
            .is_some_and(|s| Arc::ptr_eq(s, &self.slot));
        if let (true, Some(why), true) = (idle, draining, current) {
            // Retired now that its last lease ended.
            let key = self.slot.key.clone();
            pool.start_retiring(&mut maps, &key, why);
        }
        drop(maps);
        pool.inner.changed.notify_waiters();
    }
}

impl<K, V, L> Drop for Ticket<K, V, L>
where
    K: Key,
    V: Value,
    L: Lifecycle<K, V>,
{
    fn drop(&mut self) {
        self.pool
            .inner
            .maps
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .queue
            .retain(|(id, _)| *id != self.id);
        self.pool.inner.changed.notify_waiters();
    }
}

impl<K, V, L> Drop for Closed<K, V, L>
where
    K: Key,
    V: Value,
    L: Lifecycle<K, V>,
{
    fn drop(&mut self) {
        self.pool
            .inner
            .maps
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .closed
            .remove(&self.key);
        self.pool.inner.changed.notify_waiters();
    }
}

impl<K, V, L> Lease<K, V, L>
where
    K: Key,
    V: Value,
    L: Lifecycle<K, V>,
{
    /// The key.
    pub fn key(&self) -> &K {
        &self.hold.slot.key
    }

    /// Cancelled when the pool wants this slot back (others wait, the key closes, the
    /// pool shuts down). Work that can stop and resume later should.
    pub fn drain_requested(&self) -> CancellationToken {
        self.hold.slot.drain.clone()
    }

    /// Another lease of the same slot.
    pub fn share(&self) -> Self {
        {
            let _maps = self.hold.pool.maps();
            self.hold.slot.meta().leases += 1;
        }
        Lease {
            hold: Hold {
                slot: self.hold.slot.clone(),
                pool: self.hold.pool.clone(),
            },
            value: self.value.clone(),
        }
    }
}

impl<K, V, L> Deref for Lease<K, V, L>
where
    K: Key,
    V: Value,
    L: Lifecycle<K, V>,
{
    type Target = V;
    fn deref(&self) -> &V {
        &self.value
    }
}
