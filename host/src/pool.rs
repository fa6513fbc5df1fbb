//! The instance pool: at most `LIGHTRAG_MAX_WORKSPACES_IN_POOL` live workspace
//! engines, least recently used first out.
//!
//! * Opening is single-flight: the first request for a workspace inserts a slot whose
//!   lock it holds while it instantiates; concurrent requests find the slot and wait
//!   on that lock. Nothing slow happens under the pool's own map lock.
//! * A [`Lease`] pins a workspace: requests, streams and background pipelines hold
//!   one, and eviction only picks slots without leases.
//! * Eviction calls the guest's `finalize` and drops the `Store`, in a spawned task.
//!   Until that is done the slot stays in `retiring`, and a new instance of the same
//!   workspace waits for it: two instances never share a directory.
//! * When every slot is leased, a new workspace waits up to `LIGHTRAG_POOL_WAIT_MS`
//!   for a lease to end, then gets [`PoolError::Full`] (503 with `Retry-After`).
//! * A guest fault drops the instance without `finalize` (it cannot be entered again).
//! * Guest calls run only inside [`Lease::run`], which spawns them: a client that
//!   disconnects drops its request, never a guest call half-way (which would poison
//!   the instance).

use crate::bindings::types::{Config as GuestConfig, Error as GuestError, OpenReport};
use crate::instance::{Fault, Instance};
use crate::metrics::Metrics;
use crate::runtime::Runtime;
use crate::workspace::Workspace;
use lru::LruCache;
use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::future::Future;
use std::ops::{Deref, DerefMut};
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::{Notify, OwnedMutexGuard};

/// Why a workspace could not be used.
#[derive(Debug)]
pub enum PoolError {
    /// Every slot is leased; retry after this many seconds.
    Full { retry_after: u32 },
    /// The server is stopping.
    ShuttingDown,
    /// Another process holds the workspace.
    Locked(String),
    /// The engine refused to open the workspace.
    Open(GuestError),
    /// The engine faulted (trap, memory, CPU budget) or could not be created.
    Fault(String),
}

impl From<Fault> for PoolError {
    fn from(fault: Fault) -> Self {
        PoolError::Fault(format!("the workspace engine stopped: {fault}"))
    }
}

/// A future borrowing a live workspace, for [`Lease::run`].
pub type Call<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// What the pool needs besides the runtime.
pub struct PoolSettings {
    /// Most live instances.
    pub capacity: usize,
    /// How long to wait for a free slot.
    pub wait: Duration,
    /// Root of the workspace directories.
    pub working_dir: PathBuf,
    /// Where the per-workspace lock files live (outside every workspace).
    pub locks_dir: PathBuf,
    /// The engine configuration; `workspace` is filled in per workspace.
    pub guest_config: GuestConfig,
}

/// The pool; cheap to clone.
#[derive(Clone)]
pub struct Pool {
    inner: Arc<Inner>,
}

struct Inner {
    runtime: Arc<Runtime>,
    settings: PoolSettings,
    maps: Mutex<Maps>,
    /// Signalled whenever a lease ends or a slot is freed.
    released: Notify,
    metrics: Arc<Metrics>,
    closing: AtomicBool,
}

struct Maps {
    live: LruCache<Workspace, Arc<Slot>>,
    retiring: HashMap<Workspace, Arc<Slot>>,
}

/// One workspace's place in the pool.
pub struct Slot {
    workspace: Workspace,
    leases: AtomicUsize,
    cell: Arc<tokio::sync::Mutex<Cell>>,
    last_used: Mutex<Instant>,
}

enum Cell {
    /// Being instantiated; its opener holds the lock.
    Opening,
    Live(Box<Live>),
    /// Finalized, faulted, or failed to open.
    Gone,
}

/// A live workspace engine and the host's facts about it.
pub struct Live {
    /// The engine instance.
    pub instance: Instance,
    /// A background pipeline is running (or about to) for this workspace.
    pub pipeline_running: bool,
    /// What `open` reported.
    pub opened: OpenReport,
}

/// A pin on a workspace: while any lease exists its instance is not evicted.
pub struct Lease {
    slot: Arc<Slot>,
    pool: Pool,
    /// Whether this lease's request opened the workspace.
    pub opened_now: bool,
}

/// Exclusive access to a live workspace, obtained from [`Lease::run`].
pub struct LiveGuard {
    guard: OwnedMutexGuard<Cell>,
    slot: Arc<Slot>,
    pool: Pool,
}

/// A summary for `/health` and `/metrics`.
#[derive(Debug, Clone, serde::Serialize)]
pub struct PoolSummary {
    pub capacity: usize,
    pub loaded: usize,
    pub leased: usize,
    pub retiring: usize,
}

enum Next {
    Ready(Arc<Slot>),
    WaitRetire(Arc<Slot>),
    WaitCapacity,
    Open(Arc<Slot>, OwnedMutexGuard<Cell>),
}

impl Pool {
    /// A pool over `runtime`.
    pub fn new(runtime: Arc<Runtime>, settings: PoolSettings, metrics: Arc<Metrics>) -> Pool {
        Pool {
            inner: Arc::new(Inner {
                runtime,
                settings,
                maps: Mutex::new(Maps {
                    live: LruCache::unbounded(),
                    retiring: HashMap::new(),
                }),
                released: Notify::new(),
                metrics,
                closing: AtomicBool::new(false),
            }),
        }
    }

    /// Leases `workspace`, opening it if needed.
    pub async fn lease(&self, workspace: &Workspace) -> Result<Lease, PoolError> {
        let deadline = Instant::now() + self.inner.settings.wait;
        loop {
            if self.inner.closing.load(Ordering::Acquire) {
                return Err(PoolError::ShuttingDown);
            }
            // Registered before the map is inspected, so a release in between is seen.
            let released = self.inner.released.notified();
            tokio::pin!(released);
            released.as_mut().enable();
            match self.next_step(workspace) {
                Next::Ready(slot) => {
                    *slot.last_used.lock().unwrap_or_else(|e| e.into_inner()) = Instant::now();
                    return Ok(Lease {
                        slot,
                        pool: self.clone(),
                        opened_now: false,
                    });
                }
                Next::WaitRetire(old) => {
                    // `retire` removes the entry before it unlocks the slot.
                    drop(old.cell.lock().await);
                }
                Next::WaitCapacity => {
                    let left = deadline.saturating_duration_since(Instant::now());
                    if left.is_zero() || tokio::time::timeout(left, released).await.is_err() {
                        return Err(PoolError::Full { retry_after: 1 });
                    }
                }
                Next::Open(slot, guard) => {
                    // Spawned so that a caller going away cannot abandon an open.
                    let pool = self.clone();
                    let opening = slot.clone();
                    return tokio::spawn(async move { pool.open(opening, guard).await })
                        .await
                        .map_err(|e| PoolError::Fault(format!("opening panicked: {e}")))?
                        .map(|()| Lease {
                            slot,
                            pool: self.clone(),
                            opened_now: true,
                        });
                }
            }
        }
    }

    /// Decides, under the map lock, what `lease` does next.
    fn next_step(&self, workspace: &Workspace) -> Next {
        let mut maps = self.maps();
        if let Some(slot) = maps.live.get(workspace) {
            slot.leases.fetch_add(1, Ordering::AcqRel);
            return Next::Ready(slot.clone());
        }
        if let Some(old) = maps.retiring.get(workspace) {
            return Next::WaitRetire(old.clone());
        }
        if maps.live.len() >= self.inner.settings.capacity {
            let victim = maps
                .live
                .iter()
                .rev()
                .find(|(_, slot)| slot.leases.load(Ordering::Acquire) == 0)
                .map(|(name, _)| name.clone());
            let Some(victim) = victim.and_then(|name| maps.live.pop(&name)) else {
                return Next::WaitCapacity;
            };
            maps.retiring
                .insert(victim.workspace.clone(), victim.clone());
            self.inner.metrics.evictions.inc();
            let pool = self.clone();
            tokio::spawn(async move { pool.retire(victim).await });
        }
        let cell = Arc::new(tokio::sync::Mutex::new(Cell::Opening));
        let guard = cell
            .clone()
            .try_lock_owned()
            .expect("a new mutex is unlocked");
        let slot = Arc::new(Slot {
            workspace: workspace.clone(),
            leases: AtomicUsize::new(1),
            cell,
            last_used: Mutex::new(Instant::now()),
        });
        maps.live.put(workspace.clone(), slot.clone());
        Next::Open(slot, guard)
    }

    /// Instantiates and opens `slot`'s workspace. On failure the slot is removed and
    /// the caller's lease released.
    async fn open(
        &self,
        slot: Arc<Slot>,
        mut guard: OwnedMutexGuard<Cell>,
    ) -> Result<(), PoolError> {
        let started = Instant::now();
        match self.instantiate(&slot.workspace).await {
            Ok(live) => {
                *guard = Cell::Live(Box::new(live));
                self.inner.metrics.opens.inc();
                self.inner.metrics.observe_open(started.elapsed());
                tracing::debug!(workspace = %slot.workspace, "opened in {:?}", started.elapsed());
                Ok(())
            }
            Err(err) => {
                *guard = Cell::Gone;
                drop(guard);
                self.forget(&slot);
                slot.leases.fetch_sub(1, Ordering::AcqRel);
                self.inner.released.notify_waiters();
                Err(err)
            }
        }
    }

    async fn instantiate(&self, workspace: &Workspace) -> Result<Live, PoolError> {
        let settings = &self.inner.settings;
        let dir = settings.working_dir.join(workspace.as_str());
        std::fs::create_dir_all(&dir)
            .map_err(|e| PoolError::Fault(format!("cannot create {}: {e}", dir.display())))?;
        let lock = lock_workspace(&settings.locks_dir, workspace)?;
        let (store, bindings) = self
            .inner
            .runtime
            .instantiate(&dir)
            .await
            .map_err(|e| PoolError::Fault(format!("cannot instantiate the engine: {e:#}")))?;
        let mut instance = Instance::new(self.inner.runtime.clone(), store, bindings, lock);
        let mut config = settings.guest_config.clone();
        config.workspace = workspace.to_string();
        let opened = instance.open(&config).await?.map_err(PoolError::Open)?;
        Ok(Live {
            instance,
            pipeline_running: false,
            opened,
        })
    }

    /// Finalizes and drops an evicted instance.
    async fn retire(&self, slot: Arc<Slot>) {
        let mut cell = slot.cell.lock().await;
        if let Cell::Live(live) = &mut *cell {
            match live.instance.finalize().await {
                Ok(Ok(())) => self.inner.metrics.finalizes.inc(),
                Ok(Err(err)) => {
                    tracing::warn!(workspace = %slot.workspace, "finalize failed: {err:?}")
                }
                Err(fault) => {
                    tracing::warn!(workspace = %slot.workspace, "finalize faulted: {fault}")
                }
            }
        }
        *cell = Cell::Gone;
        {
            let mut maps = self.maps();
            if maps
                .retiring
                .get(&slot.workspace)
                .is_some_and(|s| Arc::ptr_eq(s, &slot))
            {
                maps.retiring.remove(&slot.workspace);
            }
        }
        drop(cell);
        self.inner.released.notify_waiters();
    }

    /// Removes `slot` from the live map if it is still the current one.
    fn forget(&self, slot: &Arc<Slot>) {
        let mut maps = self.maps();
        if maps
            .live
            .peek(&slot.workspace)
            .is_some_and(|s| Arc::ptr_eq(s, slot))
        {
            maps.live.pop(&slot.workspace);
        }
    }

    fn maps(&self) -> std::sync::MutexGuard<'_, Maps> {
        self.inner.maps.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A lease on `workspace` only if it is already live (never opens it).
    pub fn lease_if_live(&self, workspace: &Workspace) -> Option<Lease> {
        let maps = self.maps();
        let slot = maps.live.peek(workspace)?;
        slot.leases.fetch_add(1, Ordering::AcqRel);
        Some(Lease {
            slot: slot.clone(),
            pool: self.clone(),
            opened_now: false,
        })
    }

    /// Counts for `/health` and `/metrics`.
    pub fn summary(&self) -> PoolSummary {
        let maps = self.maps();
        PoolSummary {
            capacity: self.inner.settings.capacity,
            loaded: maps.live.len(),
            leased: maps
                .live
                .iter()
                .filter(|(_, s)| s.leases.load(Ordering::Acquire) > 0)
                .count(),
            retiring: maps.retiring.len(),
        }
    }

    /// Finalizes every instance; new leases are refused from now on. Leased
    /// instances are finalized once their leases end.
    pub async fn shutdown(&self) {
        self.inner.closing.store(true, Ordering::Release);
        let slots: Vec<Arc<Slot>> = {
            let mut maps = self.maps();
            let mut slots = Vec::new();
            while let Some((name, slot)) = maps.live.pop_lru() {
                maps.retiring.insert(name, slot.clone());
                slots.push(slot);
            }
            slots
        };
        let mut tasks = tokio::task::JoinSet::new();
        for slot in slots {
            let pool = self.clone();
            tasks.spawn(async move { pool.retire(slot).await });
        }
        while tasks.join_next().await.is_some() {}
        loop {
            let released = self.inner.released.notified();
            tokio::pin!(released);
            released.as_mut().enable();
            if self.maps().retiring.is_empty() {
                break;
            }
            let _ = tokio::time::timeout(Duration::from_millis(50), released).await;
        }
    }
}

/// Takes the OS lock of a workspace, so that two server processes never open it.
fn lock_workspace(locks_dir: &std::path::Path, workspace: &Workspace) -> Result<File, PoolError> {
    std::fs::create_dir_all(locks_dir)
        .map_err(|e| PoolError::Fault(format!("cannot create {}: {e}", locks_dir.display())))?;
    let path = locks_dir.join(format!("{workspace}.lock"));
    let file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(|e| PoolError::Fault(format!("cannot open {}: {e}", path.display())))?;
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(std::fs::TryLockError::WouldBlock) => Err(PoolError::Locked(format!(
            "workspace '{workspace}' is open in another lightrag-server process"
        ))),
        Err(std::fs::TryLockError::Error(e)) => Err(PoolError::Fault(format!(
            "cannot lock {}: {e}",
            path.display()
        ))),
    }
}

impl Lease {
    /// The workspace.
    pub fn workspace(&self) -> &Workspace {
        &self.slot.workspace
    }

    /// Runs `f` with exclusive access to the live engine, in a spawned task so that it
    /// completes even if the caller is dropped.
    pub async fn run<T, F>(&self, f: F) -> Result<T, PoolError>
    where
        T: Send + 'static,
        F: for<'a> FnOnce(&'a mut Live) -> Call<'a, T> + Send + 'static,
    {
        let lease = self.clone();
        tokio::spawn(async move {
            let mut guard = lease.lock().await?;
            Ok(f(&mut guard).await)
        })
        .await
        .map_err(|e| PoolError::Fault(format!("a workspace call panicked: {e}")))?
    }

    async fn lock(&self) -> Result<LiveGuard, PoolError> {
        let guard = self.slot.cell.clone().lock_owned().await;
        match &*guard {
            Cell::Live(live) => match live.instance.fault() {
                Some(fault) => Err(fault.clone().into()),
                None => Ok(LiveGuard {
                    guard,
                    slot: self.slot.clone(),
                    pool: self.pool.clone(),
                }),
            },
            Cell::Opening | Cell::Gone => Err(PoolError::Fault(
                "the workspace engine stopped; retry the request".into(),
            )),
        }
    }
}

impl Clone for Lease {
    fn clone(&self) -> Self {
        self.slot.leases.fetch_add(1, Ordering::AcqRel);
        Lease {
            slot: self.slot.clone(),
            pool: self.pool.clone(),
            opened_now: self.opened_now,
        }
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        self.slot.leases.fetch_sub(1, Ordering::AcqRel);
        self.pool.inner.released.notify_waiters();
    }
}

impl Deref for LiveGuard {
    type Target = Live;
    fn deref(&self) -> &Live {
        match &*self.guard {
            Cell::Live(live) => live,
            _ => unreachable!("a LiveGuard is only made for a live cell"),
        }
    }
}

impl DerefMut for LiveGuard {
    fn deref_mut(&mut self) -> &mut Live {
        match &mut *self.guard {
            Cell::Live(live) => live,
            _ => unreachable!("a LiveGuard is only made for a live cell"),
        }
    }
}

impl Drop for LiveGuard {
    /// A faulted instance is dropped here, without `finalize`; the next lease of the
    /// workspace opens a fresh one from disk.
    fn drop(&mut self) {
        let fault = match &*self.guard {
            Cell::Live(live) => live.instance.fault().cloned(),
            _ => None,
        };
        if let Some(fault) = fault {
            tracing::error!(workspace = %self.slot.workspace, "engine fault, instance discarded: {fault}");
            *self.guard = Cell::Gone;
            self.pool.forget(&self.slot);
            self.pool.inner.metrics.traps.inc();
            self.pool.inner.released.notify_waiters();
        }
    }
}
