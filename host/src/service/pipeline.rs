//! The background ingestion pipeline of each workspace.
//!
//! At most one pipeline runs per workspace, holding a lease while it runs. Whether one
//! runs is claimed atomically and given up only under the instance lock — the lock
//! `enqueue` takes too — after checking that nothing is pending: so a document
//! enqueued at any moment is either taken by the running pipeline or starts a new one.
//!
//! When the pool wants the slot back (other workspaces wait), the pipeline stops at
//! its next step — the documents it was on go back to pending — gives up its lease,
//! and queues for a slot again; reopening the workspace restarts it.

use super::WorkspaceLease;
use super::lease::Disk;
use crate::bindings::types::{DocState, Task};
use tokio_util::task::AbortOnDropHandle;

/// Starts the workspace's pipeline unless one runs. Returns at once: when it returns,
/// the pipeline is marked running, so a request that checks for it (a graph edit
/// right after an insert) sees it.
pub fn ensure_running(lease: &WorkspaceLease) {
    if !lease.live().claim_pipeline() {
        return;
    }
    let lease = lease.share();
    let service = lease.service.clone();
    service.spawn(async move { run(lease).await });
}

async fn run(lease: WorkspaceLease) {
    let workspace = lease.workspace().clone();
    let service = lease.service.clone();
    let drained = lease.drain_requested();
    loop {
        // Stops at the next step when the server shuts down or the slot is wanted.
        let cancel = service.shutdown_token().child_token();
        let _watch = {
            let (cancel, drained) = (cancel.clone(), drained.clone());
            AbortOnDropHandle::new(tokio::spawn(async move {
                drained.cancelled().await;
                cancel.cancel();
            }))
        };
        let result = lease.drive(Task::ProcessDocuments, None, cancel).await;
        let failed = match &result {
            Ok(_) => false,
            Err(super::Error::Cancelled) => true,
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
    let yielded = drained.is_cancelled() && !service.shutdown_token().is_cancelled();
    drop(lease);
    if yielded {
        // Queue for a slot again (behind the workspaces that were waiting); the open
        // finds the pending documents and restarts the pipeline.
        let again = service.clone();
        service.spawn(async move {
            if let Err(err) = again.lease_patiently(&workspace).await {
                tracing::debug!(%workspace, "pipeline not resumed: {err}");
            }
        });
    }
}
