//! The workspace service: what the routes use to reach a tenant's engine.
//!
//! It puts the workspace policy on top of the generic [`crate::pool`]: opening and
//! retiring engines ([`open::Opener`]), leases with typed guest calls
//! ([`WorkspaceLease`]), tasks ([`task`]) and the ingestion pipeline ([`pipeline`]),
//! closing and deleting workspaces, and shutting everything down.
//!
//! * `error` — [`Error`], the one error type of every operation here.
//! * `live` — [`Live`], an open workspace and the host's facts about it.
//! * `open` — the pool's lifecycle: directories, locks, limits, faults, quarantine.
//! * `lease` — [`WorkspaceLease`] and its typed guest calls.
//! * `task` — the task driver.
//! * `pipeline` — background ingestion.

mod error;
mod lease;
mod live;
mod open;
mod pipeline;
mod task;

pub use error::{Error, guest_message};
pub use lease::WorkspaceLease;
pub use live::Live;
pub use open::{OpenSettings, Opener, Quarantine};
pub use task::RunningTask;

use crate::audit::Audit;
use crate::instance::Fault;
use crate::limits::LimitsBook;
use crate::pool::{self, Pool, PoolError};
use crate::providers::Providers;
use crate::workspace::Workspace;
use cap_std::ambient_authority;
use cap_std::fs::Dir;
use std::future::Future;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// How long closing a workspace (admin deletion, new limits) waits for its requests.
const DRAIN_WAIT: Duration = Duration::from_secs(30);

/// Every workspace of the server; cheap to clone.
#[derive(Clone)]
pub struct Workspaces {
    inner: Arc<Inner>,
}

struct Inner {
    pool: Pool<Workspace, Arc<Live>, Arc<Opener>>,
    providers: Arc<Providers>,
    limits: Arc<LimitsBook>,
    audit: Arc<Audit>,
    input_dir: PathBuf,
    working_dir: PathBuf,
    catalog_dir: PathBuf,
    /// Cancelled when the server starts shutting down; tasks stop at their next step.
    shutdown: CancellationToken,
    /// Background work (pipelines, deletions) to wait for at shutdown.
    tasks: TaskTracker,
}

/// What the service is built from.
pub struct Parts {
    pub opener: Opener,
    pub pool: pool::Settings,
    pub providers: Arc<Providers>,
    pub limits: Arc<LimitsBook>,
    pub audit: Arc<Audit>,
    pub input_dir: PathBuf,
    pub working_dir: PathBuf,
    pub catalog_dir: PathBuf,
}

impl Workspaces {
    /// The service over `parts`.
    pub fn new(parts: Parts) -> Workspaces {
        Workspaces {
            inner: Arc::new(Inner {
                pool: Pool::new(Arc::new(parts.opener), parts.pool),
                providers: parts.providers,
                limits: parts.limits,
                audit: parts.audit,
                input_dir: parts.input_dir,
                working_dir: parts.working_dir,
                catalog_dir: parts.catalog_dir,
                shutdown: CancellationToken::new(),
                tasks: TaskTracker::new(),
            }),
        }
    }

    /// Leases `workspace`, opening it if needed. A workspace that opened with pending
    /// documents (ones a crash or a handover interrupted) gets its pipeline restarted.
    pub async fn lease(&self, workspace: &Workspace) -> Result<WorkspaceLease, Error> {
        let lease = self.inner.pool.lease(workspace).await;
        self.wrap(workspace, lease)
    }

    /// Like [`Workspaces::lease`], but waits for a slot as long as it takes (until
    /// the server shuts down).
    pub async fn lease_patiently(&self, workspace: &Workspace) -> Result<WorkspaceLease, Error> {
        let lease = tokio::select! {
            lease = self.inner.pool.lease_patiently(workspace) => lease,
            () = self.inner.shutdown.cancelled() => return Err(Error::ShuttingDown),
        };
        self.wrap(workspace, lease)
    }

    fn wrap(
        &self,
        workspace: &Workspace,
        lease: Result<lease::PoolLease, PoolError<Error>>,
    ) -> Result<WorkspaceLease, Error> {
        let lease = WorkspaceLease {
            lease: lease.map_err(|err| pool_error(workspace, err))?,
            service: self.clone(),
        };
        if lease.live().take_resume() {
            tracing::info!(%workspace, pending = lease.live().opened.pending_documents, "resuming interrupted ingestion");
            pipeline::ensure_running(&lease);
        }
        Ok(lease)
    }

    /// Discards a faulted instance: it is out of the pool, the fault is recorded.
    fn discard(&self, lease: &lease::PoolLease, fault: &Fault) {
        self.inner.pool.discard(lease);
        self.opener().note_fault(lease.key(), fault);
    }

    fn opener(&self) -> &Arc<Opener> {
        self.inner.pool.lifecycle()
    }

    /// The audit trail.
    fn audit(&self) -> &Audit {
        &self.inner.audit
    }

    /// The model providers.
    pub fn providers(&self) -> &Arc<Providers> {
        &self.inner.providers
    }

    /// Cancelled when the server starts shutting down.
    pub fn shutdown_token(&self) -> &CancellationToken {
        &self.inner.shutdown
    }

    /// Runs background work that shutdown waits for.
    pub fn spawn(&self, work: impl Future<Output = ()> + Send + 'static) {
        self.inner.tasks.spawn(work);
    }

    /// Whether `workspace` is loaded with its pipeline running — without opening it
    /// or waiting for its engine (a health probe must never wait on a tenant).
    pub fn pipeline_busy(&self, workspace: &Workspace) -> bool {
        self.inner
            .pool
            .peek(workspace)
            .is_some_and(|live| live.pipeline_running())
    }

    /// Pool counts.
    pub fn summary(&self) -> pool::Summary {
        self.inner.pool.summary()
    }

    /// Loaded workspaces, most recently used first.
    pub fn loaded(&self) -> Vec<pool::Entry<Workspace>> {
        self.inner.pool.entries()
    }

    /// Retires `workspace`'s engine (finalized) once its requests in flight end, so
    /// that the next request opens it afresh — under new limits, say. Requests that
    /// arrive meanwhile wait for the fresh engine.
    pub async fn reopen(&self, workspace: &Workspace) -> Result<(), Error> {
        self.opener().forget(workspace);
        self.inner
            .pool
            .recycle(workspace, DRAIN_WAIT)
            .await
            .map_err(|err| pool_error(workspace, err))
    }

    /// Deletes `workspace`: closes it (its requests drained, its engine finalized),
    /// removes its files, inputs, limits, catalog record and audit trail, then lets
    /// the name be used again. No request can reopen it half-deleted. Runs to its
    /// end even if the caller goes away.
    pub async fn delete(&self, workspace: &Workspace) -> Result<(), Error> {
        let service = self.clone();
        let workspace = workspace.clone();
        self.run_detached(async move {
            let inner = &service.inner;
            let closed = inner
                .pool
                .close(&workspace, DRAIN_WAIT)
                .await
                .map_err(|err| pool_error(&workspace, err))?;
            let name = workspace.clone();
            let (working_dir, input_dir) = (inner.working_dir.clone(), inner.input_dir.clone());
            // Through cap-std: a link a tenant's engine left behind never leads out.
            let removed = off_workers(async move {
                let removed = Dir::open_ambient_dir(&working_dir, ambient_authority())
                    .and_then(|root| root.remove_dir_all(name.as_str()));
                if let Ok(inputs) = Dir::open_ambient_dir(&input_dir, ambient_authority()) {
                    let _ = inputs.remove_dir_all(name.as_str());
                }
                removed
            })
            .await?;
            inner.limits.remove(&workspace);
            crate::catalog::remove(&inner.catalog_dir, &workspace);
            inner.audit.remove(&workspace);
            service.opener().forget(&workspace);
            drop(closed);
            removed.map_err(|e| Error::Host(format!("cannot delete workspace '{workspace}': {e}")))
        })
        .await
    }

    /// Runs `work` in a tracked task and waits for it; the work finishes even if
    /// this future is dropped.
    async fn run_detached<T: Send + 'static>(
        &self,
        work: impl Future<Output = Result<T, Error>> + Send + 'static,
    ) -> Result<T, Error> {
        let (done_tx, done) = tokio::sync::oneshot::channel();
        self.spawn(async move {
            let _ = done_tx.send(work.await);
        });
        done.await
            .unwrap_or_else(|_| Err(Error::Host("a workspace operation stopped".into())))
    }

    /// Shuts down by `deadline`: tasks are told to stop at their next step, their
    /// background work is waited for, and every engine is finalized.
    pub async fn shutdown(&self, deadline: tokio::time::Instant) {
        let inner = &self.inner;
        inner.shutdown.cancel();
        inner.tasks.close();
        if tokio::time::timeout_at(deadline, inner.tasks.wait())
            .await
            .is_err()
        {
            tracing::warn!("background tasks did not stop in time");
        }
        inner.pool.shutdown(deadline).await;
    }
}

/// The service's view of a pool refusal.
fn pool_error(workspace: &Workspace, err: PoolError<Error>) -> Error {
    match err {
        PoolError::Full => Error::Busy { retry_after: 1 },
        PoolError::ShuttingDown => Error::ShuttingDown,
        PoolError::Closed => Error::NotFound(format!("Workspace '{workspace}' not found")),
        PoolError::Open(err) => err,
    }
}

/// Runs `work` on a blocking thread: engine calls that sync or read whole files must
/// not stall the async workers that serve every other tenant.
pub(crate) async fn off_workers<T: Send + 'static>(
    work: impl Future<Output = T> + Send + 'static,
) -> Result<T, Error> {
    let handle = tokio::runtime::Handle::current();
    tokio::task::spawn_blocking(move || handle.block_on(work))
        .await
        .map_err(|e| Error::Host(format!("a workspace call panicked: {e}")))
}
