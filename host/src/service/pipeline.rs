//! The background ingestion pipeline of each workspace, and the operations that feed
//! it.
//!
//! At most one pipeline runs per workspace, holding a lease while it runs. Whether one
//! runs is claimed atomically and given up only under the instance lock — the lock
//! `enqueue` takes too — after checking that nothing is pending: so a document
//! enqueued at any moment is either taken by the running pipeline or starts a new one.
//!
//! When the pool wants the slot back (other workspaces wait), the pipeline stops at
//! its next step — the documents it was on go back to pending — gives up its lease,
//! and queues for a slot again; reopening the workspace restarts it, as it does after
//! a crash: a workspace that opens with pending documents resumes its pipeline on its
//! first lease.

use super::context::{Context, pool_error};
use super::error::Error;
use super::lease::{Disk, WorkspaceLease};
use crate::bindings::types::{DocState, EnqueueReport, NewDocument, ScanReport, Task};
use crate::workspace::Workspace;
use std::sync::Arc;
use tokio_util::task::AbortOnDropHandle;

/// Leases `workspace` (waiting at most the pool's wait, or as long as it takes when
/// `patient`), and resumes its pipeline if it opened with pending documents.
pub(super) async fn lease(
    cx: &Arc<Context>,
    workspace: &Workspace,
    patient: bool,
) -> Result<WorkspaceLease, Error> {
    let lease = if patient {
        tokio::select! {
            lease = cx.pool.lease_patiently(workspace) => lease,
            () = cx.shutdown.cancelled() => return Err(Error::ShuttingDown),
        }
    } else {
        cx.pool.lease(workspace).await
    };
    let lease = WorkspaceLease {
        lease: lease.map_err(|err| pool_error(workspace, err))?,
        cx: cx.clone(),
    };
    if lease.live().take_resume() {
        tracing::info!(%workspace, pending = lease.live().opened.pending_documents, "resuming interrupted ingestion");
        ensure_running(&lease);
    }
    Ok(lease)
}

impl WorkspaceLease {
    /// Stores new documents as pending (the whole call fails on a name in use) and
    /// starts the pipeline.
    pub async fn insert(
        &self,
        documents: Vec<NewDocument>,
        track_id: String,
    ) -> Result<EnqueueReport, Error> {
        let report = self.enqueue(documents, track_id).await?;
        ensure_running(self);
        Ok(report)
    }

    /// Stores the documents whose names are new, skipping the others, and starts the
    /// pipeline.
    pub async fn insert_new(
        &self,
        documents: Vec<NewDocument>,
        track_id: String,
    ) -> Result<EnqueueReport, Error> {
        let report = self.enqueue_new(documents, track_id).await?;
        ensure_running(self);
        Ok(report)
    }

    /// Enqueues a staged upload for parsing and starts the pipeline; returns the
    /// document's id.
    pub async fn upload(
        &self,
        staged: String,
        file_name: String,
        track_id: String,
    ) -> Result<String, Error> {
        let doc_id = self.enqueue_upload(staged, file_name, track_id).await?;
        ensure_running(self);
        Ok(doc_id)
    }

    /// Scans the input directory and starts the pipeline for what it enqueued.
    pub async fn scan(&self, track_id: String) -> Result<ScanReport, Error> {
        let report = self.scan_input(track_id).await?;
        if !report.enqueued.is_empty() {
            ensure_running(self);
        }
        Ok(report)
    }

    /// Puts failed documents back to pending and starts the pipeline; returns how
    /// many.
    pub async fn reprocess_failed(&self) -> Result<u32, Error> {
        let count = self.reset_failed().await?;
        ensure_running(self);
        Ok(count)
    }
}

/// Starts the workspace's pipeline unless one runs. Returns at once: when it returns,
/// the pipeline is marked running, so a request that checks for it (a graph edit
/// right after an insert) sees it.
fn ensure_running(lease: &WorkspaceLease) {
    if !lease.live().claim_pipeline() {
        return;
    }
    let lease = lease.share();
    let cx = lease.cx.clone();
    cx.spawn(async move { run(lease).await });
}

async fn run(lease: WorkspaceLease) {
    let workspace = lease.workspace().clone();
    let cx = lease.cx.clone();
    let drained = lease.drain_requested();
    loop {
        // Stops at the next step when the server shuts down or the slot is wanted.
        let cancel = cx.shutdown.child_token();
        let _watch = {
            let (cancel, drained) = (cancel.clone(), drained.clone());
            AbortOnDropHandle::new(tokio::spawn(async move {
                drained.cancelled().await;
                cancel.cancel();
            }))
        };
        lease.live().set_pipeline_cancel(Some(cancel.clone()));
        let result = lease.drive(Task::ProcessDocuments, None, cancel).await;
        lease.live().set_pipeline_cancel(None);
        // Cancelled by a client: the documents not finished are pending again, and
        // stay so until the next insert, scan or retry starts the pipeline.
        let stopped = lease.live().take_cancellation();
        let failed = match &result {
            _ if stopped => true,
            Ok(_) => false,
            Err(Error::Cancelled) => true,
            Err(err) => {
                // Not retried in a loop: the next enqueue or reopen starts it again.
                tracing::warn!(%workspace, "pipeline stopped: {err}");
                true
            }
        };
        let live = lease.live().clone();
        let again = lease
            .call(Disk::No, move |instance| {
                Box::pin(async move {
                    let pending = if failed {
                        0
                    } else {
                        instance
                            .state_counts()
                            .await?
                            .iter()
                            .find(|c| c.state == DocState::Pending)
                            .map_or(0, |c| c.count)
                    };
                    if pending == 0 {
                        live.release_pipeline();
                    }
                    Ok(pending > 0)
                })
            })
            .await;
        match again {
            Ok(true) => continue,
            Ok(false) => break,
            Err(_) => {
                // The instance is gone; so is the pipeline.
                lease.live().release_pipeline();
                break;
            }
        }
    }
    let yielded = drained.is_cancelled() && !cx.shutdown.is_cancelled();
    drop(lease);
    if yielded {
        // Queue for a slot again (behind the workspaces that were waiting); the open
        // finds the pending documents and restarts the pipeline.
        let again = cx.clone();
        cx.spawn(async move {
            if let Err(err) = self::lease(&again, &workspace, true).await {
                tracing::debug!(%workspace, "pipeline not resumed: {err}");
            }
        });
    }
}
