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

use crate::audit::Audit;
use crate::bindings::types::{Config as GuestConfig, Error as GuestError, OpenReport};
use crate::instance::{Fault, Instance};
use crate::limits::LimitsBook;
use crate::metrics::Metrics;
use crate::runtime::Runtime;
use crate::workspace::Workspace;
use lru::LruCache;
use std::collections::{HashMap, HashSet};
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
    /// The workspace faulted repeatedly and is quarantined for this many seconds.
    Quarantined { retry_after: u32 },
    /// The workspace was never created (auto-creation is off), or is being deleted.
    NotFound(String),
}

impl From<Fault> for PoolError {
    fn from(fault: Fault) -> Self {
        PoolError::Fault(format!("the workspace engine stopped: {fault}"))
    }
}

/// A future borrowing a live workspace, for [`Lease::run`].
pub type Call<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// When repeated faults quarantine a workspace.
#[derive(Clone, Copy, Debug)]
pub struct Quarantine {
    /// Faults within `window` that trigger it.
    pub faults: usize,
    pub window: Duration,
    /// How long it lasts.
    pub duration: Duration,
}

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
    /// The engine configuration; `workspace` and the disk quota are filled in per
    /// workspace.
    pub guest_config: GuestConfig,
    /// Per-workspace limits.
    pub limits: Arc<LimitsBook>,
    /// Whether a request may create a workspace by naming it.
    pub auto_create: bool,
    /// Where instance events are recorded.
    pub audit: Arc<Audit>,
    /// The fault quarantine.
    pub quarantine: Quarantine,
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
    /// Recent faults per workspace.
    faults: HashMap<Workspace, Vec<Instant>>,
    /// Quarantined workspaces and when their quarantine ends.
    quarantined: HashMap<Workspace, Instant>,
    /// Workspaces being deleted: no lease until the deletion is over.
    closing: HashSet<Workspace>,
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
    Refused(PoolError),
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
                    faults: HashMap::new(),
                    quarantined: HashMap::new(),
                    closing: HashSet::new(),
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
                Next::Refused(err) => return Err(err),
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
        if maps.closing.contains(workspace) {
            return Next::Refused(PoolError::NotFound(format!(
                "Workspace '{workspace}' not found"
            )));
        }
        if let Some(&until) = maps.quarantined.get(workspace) {
            let now = Instant::now();
            if until > now {
                let retry_after = (until - now).as_secs().max(1) as u32;
                return Next::Refused(PoolError::Quarantined { retry_after });
            }
            maps.quarantined.remove(workspace);
            maps.faults.remove(workspace);
        }
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
            self.inner.settings.audit.record(
                victim.workspace.as_str(),
                "instance_evicted",
                serde_json::json!({}),
            );
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
                self.inner.settings.audit.record(
                    slot.workspace.as_str(),
                    "instance_opened",
                    serde_json::json!({
                        "duration_ms": started.elapsed().as_secs_f64() * 1000.0,
                        "pending_documents": live.opened.pending_documents,
                        "recovered_documents": live.opened.recovered_documents,
                    }),
                );
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
        if !settings.auto_create && !dir.is_dir() {
            return Err(PoolError::NotFound(format!(
                "Workspace '{workspace}' not found"
            )));
        }
        std::fs::create_dir_all(&dir)
            .map_err(|e| PoolError::Fault(format!("cannot create {}: {e}", dir.display())))?;
        let lock = lock_workspace(&settings.locks_dir, workspace)?;
        let limits = settings.limits.of(workspace);
        let (store, bindings) = self
            .inner
            .runtime
            .instantiate(&dir, limits.memory_bytes(), limits.cpu())
            .await
            .map_err(|e| PoolError::Fault(format!("cannot instantiate the engine: {e:#}")))?;
        let mut instance = Instance::new(self.inner.runtime.clone(), store, bindings, lock);
        let mut config = settings.guest_config.clone();
        config.workspace = workspace.to_string();
        config.disk_quota_bytes = limits.disk_bytes();
        config.query_cache_bytes = limits.query_cache_bytes();
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
            if let Ok(stats) = live.instance.stats().await {
                let last_used = slot
                    .last_used
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .elapsed();
                let record = crate::catalog::Record {
                    documents: stats.documents,
                    chunks: stats.chunks,
                    entities: stats.entities,
                    relations: stats.relations,
                    engine_bytes: stats.disk_bytes,
                    last_used: chrono::Utc::now().timestamp() - last_used.as_secs() as i64,
                };
                let dir = self
                    .inner
                    .settings
                    .working_dir
                    .join(".host")
                    .join("catalog");
                crate::catalog::save(&dir, &slot.workspace, &record);
            }
            let started = Instant::now();
            match live.instance.finalize().await {
                Ok(Ok(())) => {
                    self.inner.metrics.finalizes.inc();
                    self.inner.settings.audit.record(
                        slot.workspace.as_str(),
                        "instance_finalized",
                        serde_json::json!({"duration_ms": started.elapsed().as_secs_f64() * 1000.0}),
                    );
                }
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

    /// Records a fault: audited, and counted towards quarantine.
    fn note_fault(&self, workspace: &Workspace, fault: &Fault) {
        let audit = &self.inner.settings.audit;
        audit.record(
            workspace.as_str(),
            "instance_trapped",
            serde_json::json!({"reason": fault.message, "cpu_budget_exhausted": fault.cpu_exhausted}),
        );
        if fault.cpu_exhausted {
            audit.record(
                workspace.as_str(),
                "limit_hit",
                serde_json::json!({"limit": "cpu"}),
            );
        } else if fault.memory_exhausted {
            audit.record(
                workspace.as_str(),
                "limit_hit",
                serde_json::json!({"limit": "memory"}),
            );
        }
        let q = self.inner.settings.quarantine;
        let now = Instant::now();
        let mut maps = self.maps();
        let recent = maps.faults.entry(workspace.clone()).or_default();
        recent.retain(|t| now.duration_since(*t) < q.window);
        recent.push(now);
        if recent.len() >= q.faults && !q.duration.is_zero() {
            let count = recent.len();
            maps.quarantined.insert(workspace.clone(), now + q.duration);
            drop(maps);
            tracing::warn!(%workspace, "quarantined for {:?} after {count} faults", q.duration);
            audit.record(
                workspace.as_str(),
                "quarantined",
                serde_json::json!({"faults": count, "seconds": q.duration.as_secs()}),
            );
        }
    }

    /// Closes a workspace for deletion: new leases are refused, the leases held now
    /// are waited for (up to `wait`), and its instance is finalized and dropped.
    /// The workspace stays closed until [`Pool::reopen`].
    pub async fn close(&self, workspace: &Workspace, wait: Duration) -> Result<(), PoolError> {
        self.maps().closing.insert(workspace.clone());
        let deadline = Instant::now() + wait;
        loop {
            let released = self.inner.released.notified();
            tokio::pin!(released);
            released.as_mut().enable();
            let (slot, busy) = {
                let maps = self.maps();
                let slot = maps
                    .live
                    .peek(workspace)
                    .cloned()
                    .or_else(|| maps.retiring.get(workspace).cloned());
                let busy = slot
                    .as_ref()
                    .is_some_and(|s| s.leases.load(Ordering::Acquire) > 0);
                (slot, busy)
            };
            let Some(slot) = slot else {
                return Ok(());
            };
            if !busy {
                let taken = {
                    let mut maps = self.maps();
                    match maps.live.peek(workspace) {
                        Some(s) if Arc::ptr_eq(s, &slot) => {
                            maps.live.pop(workspace);
                            maps.retiring.insert(workspace.clone(), slot.clone());
                            true
                        }
                        _ => false,
                    }
                };
                if taken {
                    self.retire(slot).await;
                } else {
                    // Already retiring: wait for its finalize.
                    drop(slot.cell.lock().await);
                }
                continue;
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() || tokio::time::timeout(left, released).await.is_err() {
                self.reopen(workspace);
                return Err(PoolError::Full { retry_after: 5 });
            }
        }
    }

    /// Lets a closed workspace be leased again.
    pub fn reopen(&self, workspace: &Workspace) {
        self.maps().closing.remove(workspace);
    }

    /// Live workspaces and when they were last used.
    pub fn live(&self) -> Vec<(Workspace, Instant)> {
        self.maps()
            .live
            .iter()
            .map(|(name, slot)| {
                (
                    name.clone(),
                    *slot.last_used.lock().unwrap_or_else(|e| e.into_inner()),
                )
            })
            .collect()
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
            self.pool.note_fault(&self.slot.workspace, &fault);
            self.pool.inner.released.notify_waiters();
        }
    }
}
