//! [`Opener`]: how a workspace's engine is opened and retired — the policy the pool
//! leaves out: directories, the OS lock, limits, the catalog, the audit trail, faults
//! and quarantine.

use super::blocking::off_workers;
use super::error::Error;
use super::live::Live;
use crate::audit::Audit;
use crate::bindings::types::Config as GuestConfig;
use crate::instance::{Fault, Instance};
use crate::limits::LimitsBook;
use crate::metrics::Metrics;
use crate::pool::{Lifecycle, Retirement};
use crate::runtime::Runtime;
use crate::workspace::Workspace;
use serde_json::json;
use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

/// When repeated faults quarantine a workspace.
#[derive(Clone, Copy, Debug)]
pub struct Quarantine {
    /// Faults within `window` that trigger it.
    pub faults: usize,
    pub window: Duration,
    /// How long it lasts.
    pub duration: Duration,
}

/// What opening a workspace needs to know.
pub struct OpenSettings {
    /// Root of the workspace directories.
    pub working_dir: PathBuf,
    /// Root of the workspaces' input directories (`INPUT_DIR`).
    pub input_dir: PathBuf,
    /// Where the per-workspace lock files live (outside every workspace).
    pub locks_dir: PathBuf,
    /// Where the sizes of workspaces are recorded when they close.
    pub catalog_dir: PathBuf,
    /// The engine configuration; the workspace name and its limits are filled in per
    /// workspace.
    pub guest_config: GuestConfig,
    /// Whether naming a workspace creates it.
    pub auto_create: bool,
    pub quarantine: Quarantine,
}

/// Opens and retires workspace engines; the pool's [`Lifecycle`].
pub struct Opener {
    runtime: Arc<Runtime>,
    settings: OpenSettings,
    limits: Arc<LimitsBook>,
    audit: Arc<Audit>,
    metrics: Arc<Metrics>,
    health: Mutex<HashMap<Workspace, Health>>,
}

/// What the host remembers of a workspace between its instances.
#[derive(Default)]
struct Health {
    /// Recent faults, for the quarantine.
    faults: Vec<Instant>,
    /// The last fault, until the next instance has been told.
    last_fault: Option<String>,
    quarantined_until: Option<Instant>,
    /// An open the engine refused, and the state of the files it refused: while they
    /// are unchanged, opening again would read them all again to say the same.
    refused: Option<(Stamp, Error)>,
}

/// Sizes and modification times of a workspace's engine files.
type Stamp = Vec<Option<(u64, SystemTime)>>;

fn stamp(dir: &Path) -> Stamp {
    ["engine.snap", "engine.jrnl"]
        .iter()
        .map(|name| {
            std::fs::metadata(dir.join(name))
                .ok()
                .and_then(|m| Some((m.len(), m.modified().ok()?)))
        })
        .collect()
}

impl Opener {
    pub fn new(
        runtime: Arc<Runtime>,
        settings: OpenSettings,
        limits: Arc<LimitsBook>,
        audit: Arc<Audit>,
        metrics: Arc<Metrics>,
    ) -> Opener {
        Opener {
            runtime,
            settings,
            limits,
            audit,
            metrics,
            health: Mutex::new(HashMap::new()),
        }
    }

    fn health(&self) -> std::sync::MutexGuard<'_, HashMap<Workspace, Health>> {
        self.health.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The directory of `workspace`.
    pub fn dir(&self, workspace: &Workspace) -> PathBuf {
        self.settings.working_dir.join(workspace.as_str())
    }

    /// Takes `workspace`'s OS lock, as opening it does: held, no other server process
    /// can open it (nor can this one while it holds it elsewhere).
    pub fn lock(&self, workspace: &Workspace) -> Result<File, Error> {
        lock_workspace(&self.settings.locks_dir, workspace)
    }

    /// Forgets what the host remembers of `workspace` (it was deleted or its limits
    /// changed): no refusal is repeated, no quarantine kept.
    pub fn forget(&self, workspace: &Workspace) {
        self.health().remove(workspace);
    }

    /// Why `workspace` cannot be opened now, if it cannot: quarantined after repeated
    /// faults, or its files refused by the engine.
    pub fn recovery_required(&self, workspace: &Workspace) -> Option<String> {
        let health = self.health();
        let record = health.get(workspace)?;
        if let Some(until) = record.quarantined_until
            && until > Instant::now()
        {
            let left = (until - Instant::now()).as_secs().max(1);
            return Some(format!(
                "the engine faulted {} times and is quarantined for {left} more seconds",
                record.faults.len()
            ));
        }
        record
            .refused
            .as_ref()
            .map(|(_, err)| format!("the engine refused the workspace's files: {err}"))
    }

    /// Lifts a quarantine or remembered refusal. The last fault is kept: the next
    /// instance must still learn of it (it fails the file that was being parsed).
    pub fn lift(&self, workspace: &Workspace) {
        if let Some(record) = self.health().get_mut(workspace) {
            record.quarantined_until = None;
            record.faults.clear();
            record.refused = None;
        }
    }

    /// Refuses to open a quarantined workspace, or one whose files the engine refused
    /// before and which have not changed since.
    fn admit(&self, workspace: &Workspace, dir: &Path) -> Result<(), Error> {
        let mut health = self.health();
        let Some(record) = health.get_mut(workspace) else {
            return Ok(());
        };
        if let Some(until) = record.quarantined_until {
            let now = Instant::now();
            if until > now {
                let retry_after = (until - now).as_secs().max(1) as u32;
                return Err(Error::Quarantined { retry_after });
            }
            record.quarantined_until = None;
            record.faults.clear();
        }
        if let Some((stamped, err)) = &record.refused {
            if *stamped == stamp(dir) {
                return Err(err.clone());
            }
            record.refused = None;
        }
        Ok(())
    }

    /// Records a fault of `workspace`'s engine: audited, remembered for its next
    /// instance, and counted towards quarantine.
    pub fn note_fault(&self, workspace: &Workspace, fault: &Fault) {
        tracing::error!(%workspace, "engine fault, instance discarded: {fault}");
        self.metrics.traps.inc();
        self.audit.record(
            workspace.as_str(),
            "instance_trapped",
            json!({"reason": fault.message, "kind": format!("{:?}", fault.kind)}),
        );
        if let Some(limit) = fault.kind.limit() {
            self.audit
                .record(workspace.as_str(), "limit_hit", json!({ "limit": limit }));
        }
        let q = self.settings.quarantine;
        let now = Instant::now();
        let quarantined = {
            let mut health = self.health();
            let record = health.entry(workspace.clone()).or_default();
            record.last_fault = Some(describe(fault));
            record.faults.retain(|t| now.duration_since(*t) < q.window);
            record.faults.push(now);
            let count = record.faults.len();
            (count >= q.faults && !q.duration.is_zero()).then(|| {
                record.quarantined_until = Some(now + q.duration);
                count
            })
        };
        if let Some(count) = quarantined {
            tracing::warn!(%workspace, "quarantined for {:?} after {count} faults", q.duration);
            self.audit.record(
                workspace.as_str(),
                "quarantined",
                json!({"faults": count, "seconds": q.duration.as_secs()}),
            );
        }
    }

    /// An engine instance on `dir` with `workspace`'s limits, and the configuration to
    /// open it with.
    async fn instance_at(
        &self,
        workspace: &Workspace,
        dir: &Path,
        input: &Path,
        import: Option<&Path>,
        lock: File,
    ) -> Result<(Instance, GuestConfig), Error> {
        let limits = self.limits.of(workspace);
        let (store, bindings) = self
            .runtime
            .instantiate(dir, input, import, limits.memory_bytes(), limits.cpu())
            .await
            .map_err(|e| Error::Host(format!("cannot instantiate the engine: {e:#}")))?;
        let instance = Instance::new(self.runtime.clone(), store, bindings, lock);
        let mut config = self.settings.guest_config.clone();
        config.workspace = workspace.to_string();
        config.disk_quota_bytes = limits.disk_bytes();
        config.memory_limit_bytes = limits.memory_bytes() as u64;
        config.query_cache_bytes = limits.query_cache_bytes();
        Ok((instance, config))
    }

    /// An engine opened on the empty directory `dir`, outside the pool, with the
    /// LightRAG directory `source` preopened read-only at `/import`: for an import,
    /// whose result is installed as `workspace` afterwards.
    pub async fn open_for_import(
        &self,
        workspace: &Workspace,
        dir: &Path,
        source: &Path,
    ) -> Result<Instance, Error> {
        let host = |e: std::io::Error| Error::Host(format!("cannot prepare the import: {e}"));
        let input = dir.with_file_name("input");
        std::fs::create_dir_all(dir).map_err(host)?;
        std::fs::create_dir_all(&input).map_err(host)?;
        // The instance's lock: its directory is private to this import.
        let lock = File::create(dir.with_file_name("import.lock")).map_err(host)?;
        let (instance, config) = self
            .instance_at(workspace, dir, &input, Some(source), lock)
            .await?;
        let (instance, opened) = off_workers(async move {
            let mut instance = instance;
            let opened = instance.open(&config, None).await;
            (instance, opened)
        })
        .await?;
        opened??;
        Ok(instance)
    }

    async fn open_workspace(&self, workspace: &Workspace) -> Result<Arc<Live>, Error> {
        let started = Instant::now();
        let dir = self.dir(workspace);
        self.admit(workspace, &dir)?;
        if !dir.is_dir() {
            if !self.settings.auto_create {
                return Err(Error::NotFound(format!(
                    "Workspace '{workspace}' not found"
                )));
            }
            create_dir_durably(&self.settings.working_dir, &dir)?;
        }
        let lock = lock_workspace(&self.settings.locks_dir, workspace)?;
        let input = self.settings.input_dir.join(workspace.as_str());
        std::fs::create_dir_all(&input).map_err(|e| {
            Error::Host(format!(
                "cannot create the input directory {}: {e}",
                input.display()
            ))
        })?;
        let (mut instance, config) = self
            .instance_at(workspace, &dir, &input, None, lock)
            .await?;
        let last_fault = self
            .health()
            .get_mut(workspace)
            .and_then(|h| h.last_fault.take());
        // Opening reads the whole workspace from disk: off the async workers.
        self.metrics.open_attempts.inc();
        let (instance, opened) = off_workers(async move {
            let opened = instance.open(&config, last_fault.as_deref()).await;
            (instance, opened)
        })
        .await?;
        let report = match opened {
            Ok(Ok(report)) => report,
            Ok(Err(refused)) => {
                let err = Error::Engine(refused);
                self.health().entry(workspace.clone()).or_default().refused =
                    Some((stamp(&dir), err.clone()));
                return Err(err);
            }
            Err(fault) => {
                self.note_fault(workspace, &fault);
                return Err(Error::Fault(fault));
            }
        };
        self.metrics.opens.inc();
        self.metrics.observe_open(started.elapsed());
        self.audit.record(
            workspace.as_str(),
            "instance_opened",
            json!({
                "duration_ms": started.elapsed().as_secs_f64() * 1000.0,
                "pending_documents": report.pending_documents,
                "recovered_documents": report.recovered_documents,
                "failed_documents": report.failed_documents,
            }),
        );
        if report.failed_documents > 0 {
            tracing::warn!(
                %workspace,
                "{} documents failed after repeated engine faults",
                report.failed_documents
            );
        }
        tracing::debug!(%workspace, "opened in {:?}", started.elapsed());
        Ok(Arc::new(Live::new(workspace.clone(), instance, report)))
    }

    async fn retire_workspace(&self, workspace: &Workspace, live: Arc<Live>, why: Retirement) {
        if matches!(why, Retirement::Evicted | Retirement::HandedOver) {
            self.metrics.evictions.inc();
            self.audit.record(
                workspace.as_str(),
                "instance_evicted",
                json!({"handed_over": why == Retirement::HandedOver}),
            );
        }
        let mut guard = live.instance.clone().lock_owned().await;
        let Some(instance) = guard.take() else {
            return;
        };
        let started = Instant::now();
        let catalog_dir = self.settings.catalog_dir.clone();
        let name = workspace.clone();
        let finalized = off_workers(async move {
            let mut instance = instance;
            if let Ok(stats) = instance.stats().await {
                let record = crate::catalog::Record {
                    documents: stats.documents,
                    chunks: stats.chunks,
                    entities: stats.entities,
                    relations: stats.relations,
                    engine_bytes: stats.disk_bytes,
                    memory_bytes: stats.memory_bytes,
                    last_used: chrono::Utc::now().timestamp(),
                };
                crate::catalog::save(&catalog_dir, &name, &record);
            }
            // Dropped here, on the same thread: the store and the OS lock go with it.
            instance.finalize().await
        })
        .await;
        match finalized {
            Ok(Ok(Ok(()))) => {
                self.metrics.finalizes.inc();
                self.audit.record(
                    workspace.as_str(),
                    "instance_finalized",
                    json!({"duration_ms": started.elapsed().as_secs_f64() * 1000.0}),
                );
            }
            Ok(Ok(Err(err))) => tracing::warn!(%workspace, "finalize failed: {err:?}"),
            Ok(Err(fault)) => tracing::warn!(%workspace, "finalize faulted: {fault}"),
            Err(err) => tracing::warn!(%workspace, "finalize did not run: {err}"),
        }
    }
}

impl Lifecycle<Workspace, Arc<Live>> for Arc<Opener> {
    type Error = Error;

    fn open(&self, key: &Workspace) -> impl Future<Output = Result<Arc<Live>, Error>> + Send {
        let (opener, key) = (self.clone(), key.clone());
        async move { opener.open_workspace(&key).await }
    }

    fn retire(
        &self,
        key: &Workspace,
        value: Arc<Live>,
        why: Retirement,
    ) -> impl Future<Output = ()> + Send {
        let (opener, key) = (self.clone(), key.clone());
        async move { opener.retire_workspace(&key, value, why).await }
    }
}

/// How a fault is told to the engine, for the documents it was processing.
fn describe(fault: &Fault) -> String {
    use crate::instance::FaultKind;
    match fault.kind {
        FaultKind::CpuBudget => {
            "the engine used up its CPU budget (LIGHTRAG_WORKSPACE_CPU_MS)".into()
        }
        FaultKind::Memory => "the engine ran out of memory (LIGHTRAG_WORKSPACE_MEMORY_MB)".into(),
        FaultKind::Trap => format!("the engine crashed: {}", fault.message),
    }
}

/// Creates a workspace directory and makes its entry in the parent durable, so a
/// crash right after cannot lose a directory the workspace's journal is in.
fn create_dir_durably(parent: &Path, dir: &Path) -> Result<(), Error> {
    let host = |e: std::io::Error| Error::Host(format!("cannot create {}: {e}", dir.display()));
    std::fs::create_dir_all(dir).map_err(host)?;
    File::open(parent).and_then(|p| p.sync_all()).map_err(host)
}

/// Takes the OS lock of a workspace, so that two server processes never open it.
fn lock_workspace(locks_dir: &Path, workspace: &Workspace) -> Result<File, Error> {
    std::fs::create_dir_all(locks_dir)
        .map_err(|e| Error::Host(format!("cannot create {}: {e}", locks_dir.display())))?;
    let path = locks_dir.join(format!("{workspace}.lock"));
    let file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(|e| Error::Host(format!("cannot open {}: {e}", path.display())))?;
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(std::fs::TryLockError::WouldBlock) => Err(Error::Locked(format!(
            "workspace '{workspace}' is open in another lightrag-server process"
        ))),
        Err(std::fs::TryLockError::Error(e)) => {
            Err(Error::Host(format!("cannot lock {}: {e}", path.display())))
        }
    }
}
