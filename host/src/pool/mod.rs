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

mod drain;
mod slot;
#[cfg(test)]
mod tests;
mod types;

use lru::LruCache;
use slot::{Maps, Meta, Opened, Slot, blocked};
use std::collections::{HashMap, HashSet, VecDeque};
use std::ops::Deref;
use std::sync::{Arc, Mutex, MutexGuard};
use tokio::sync::{Notify, watch};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
pub use types::{Entry, Key, Lifecycle, PoolError, Retirement, Settings, Summary, Value};

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
