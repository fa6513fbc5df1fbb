//! [`Workspaces`]: the service's public face — leasing, inspecting, recycling and
//! deleting workspaces, and shutting them all down.

use super::blocking::off_workers;
use super::context::{Context, pool_error};
use super::error::Error;
use super::lease::WorkspaceLease;
use super::open::Opener;
use super::pipeline;
use crate::audit::Audit;
use crate::limits::LimitsBook;
use crate::pool::{self, Pool};
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
pub(super) const DRAIN_WAIT: Duration = Duration::from_secs(30);

/// Every workspace of the server; cheap to clone.
#[derive(Clone)]
pub struct Workspaces {
    pub(super) cx: Arc<Context>,
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
            cx: Arc::new(Context {
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
        pipeline::lease(&self.cx, workspace, false).await
    }

    /// The model providers.
    pub fn providers(&self) -> &Arc<Providers> {
        &self.cx.providers
    }

    /// Cancelled when the server starts shutting down.
    pub fn shutdown_token(&self) -> &CancellationToken {
        &self.cx.shutdown
    }

    /// Whether `workspace` is loaded with its pipeline running — without opening it
    /// or waiting for its engine (a health probe must never wait on a tenant).
    pub fn pipeline_busy(&self, workspace: &Workspace) -> bool {
        self.cx
            .pool
            .peek(workspace)
            .is_some_and(|live| live.pipeline_running())
    }

    /// The linear memory of `workspace`'s instance, if it is loaded; never waits.
    pub fn memory_in_use(&self, workspace: &Workspace) -> Option<u64> {
        self.cx
            .pool
            .peek(workspace)
            .map(|live| live.memory_in_use())
    }

    /// Why `workspace` cannot be opened now (quarantine, refused files), if so.
    pub fn recovery_required(&self, workspace: &Workspace) -> Option<String> {
        self.cx.opener().recovery_required(workspace)
    }

    /// Lifts `workspace`'s quarantine or remembered refusal so that the next request
    /// opens it again (`POST /documents/recovery/force_reset`); returns the reason it
    /// lifted, if there was one.
    pub fn force_reset(&self, workspace: &Workspace) -> Option<String> {
        let reason = self.recovery_required(workspace)?;
        self.cx.opener().lift(workspace);
        Some(reason)
    }

    /// Pool counts.
    pub fn summary(&self) -> pool::Summary {
        self.cx.pool.summary()
    }

    /// Loaded workspaces, most recently used first.
    pub fn loaded(&self) -> Vec<pool::Entry<Workspace>> {
        self.cx.pool.entries()
    }

    /// Retires `workspace`'s engine (finalized) once its requests in flight end, so
    /// that the next request opens it afresh — under new limits, say. Requests that
    /// arrive meanwhile wait for the fresh engine.
    pub async fn reopen(&self, workspace: &Workspace) -> Result<(), Error> {
        self.cx.opener().forget(workspace);
        self.cx
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
        let cx = self.cx.clone();
        let workspace = workspace.clone();
        self.run_detached(async move {
            let closed = cx
                .pool
                .close(&workspace, DRAIN_WAIT)
                .await
                .map_err(|err| pool_error(&workspace, err))?;
            let name = workspace.clone();
            let (working_dir, input_dir) = (cx.working_dir.clone(), cx.input_dir.clone());
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
            cx.limits.remove(&workspace);
            crate::catalog::remove(&cx.catalog_dir, &workspace);
            cx.audit.remove(&workspace);
            cx.opener().forget(&workspace);
            drop(closed);
            removed.map_err(|e| Error::Host(format!("cannot delete workspace '{workspace}': {e}")))
        })
        .await
    }

    /// Runs `work` in a tracked task and waits for it; the work finishes even if
    /// this future is dropped.
    pub(super) async fn run_detached<T: Send + 'static>(
        &self,
        work: impl Future<Output = Result<T, Error>> + Send + 'static,
    ) -> Result<T, Error> {
        let (done_tx, done) = tokio::sync::oneshot::channel();
        self.cx.spawn(async move {
            let _ = done_tx.send(work.await);
        });
        done.await
            .unwrap_or_else(|_| Err(Error::Host("a workspace operation stopped".into())))
    }

    /// Shuts down by `deadline`: tasks are told to stop at their next step, their
    /// background work is waited for, and every engine is finalized.
    pub async fn shutdown(&self, deadline: tokio::time::Instant) {
        let cx = &self.cx;
        cx.shutdown.cancel();
        cx.tasks.close();
        if tokio::time::timeout_at(deadline, cx.tasks.wait())
            .await
            .is_err()
        {
            tracing::warn!("background tasks did not stop in time");
        }
        cx.pool.shutdown(deadline).await;
    }
}
