//! [`Context`]: what every part of the service shares — the pool, the providers,
//! the audit trail, shutdown.

use super::error::Error;
use super::live::Live;
use super::open::Opener;
use crate::audit::Audit;
use crate::instance::Fault;
use crate::limits::LimitsBook;
use crate::pool::{Lease, Pool, PoolError};
use crate::providers::Providers;
use crate::workspace::Workspace;
use std::future::Future;
use std::path::PathBuf;
use std::sync::Arc;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// The pool of open workspaces.
pub(super) type WorkspacePool = Pool<Workspace, Arc<Live>, Arc<Opener>>;
/// The pool's lease of one workspace.
pub(super) type PoolLease = Lease<Workspace, Arc<Live>, Arc<Opener>>;

/// The service's shared parts.
pub(super) struct Context {
    pub pool: WorkspacePool,
    pub providers: Arc<Providers>,
    pub limits: Arc<LimitsBook>,
    pub audit: Arc<Audit>,
    pub input_dir: PathBuf,
    pub working_dir: PathBuf,
    pub catalog_dir: PathBuf,
    /// Cancelled when the server starts shutting down; tasks stop at their next step.
    pub shutdown: CancellationToken,
    /// Background work (pipelines, deletions) to wait for at shutdown.
    pub tasks: TaskTracker,
}

impl Context {
    pub fn opener(&self) -> &Arc<Opener> {
        self.pool.lifecycle()
    }

    /// Discards a faulted instance: it is out of the pool, the fault is recorded.
    pub fn discard(&self, lease: &PoolLease, fault: &Fault) {
        self.pool.discard(lease);
        self.opener().note_fault(lease.key(), fault);
    }

    /// Runs background work that shutdown waits for.
    pub fn spawn(&self, work: impl Future<Output = ()> + Send + 'static) {
        self.tasks.spawn(work);
    }
}

/// The service's view of a pool refusal.
pub(super) fn pool_error(workspace: &Workspace, err: PoolError<Error>) -> Error {
    match err {
        PoolError::Full => Error::Busy { retry_after: 1 },
        PoolError::ShuttingDown => Error::ShuttingDown,
        PoolError::Closed => Error::NotFound(format!("Workspace '{workspace}' not found")),
        PoolError::Open(err) => err,
    }
}
