//! The background ingestion pipeline of each workspace.
//!
//! At most one pipeline runs per workspace. It holds a lease for as long as it runs,
//! so a workspace that is ingesting is never evicted. Whether one is running is
//! recorded next to the instance and changed only under the instance lock — the same
//! lock under which documents are enqueued — so a document enqueued while the
//! pipeline is finishing is either picked up by it or starts a new one.

use crate::bindings::types::{DocState, Task};
use crate::driver::{TaskError, run_task};
use crate::pool::Lease;
use crate::server::AppState;

/// Starts the workspace's pipeline unless one is running, and returns once it is marked
/// as running. A route that replies after this returns cannot race a request that
/// checks for a running pipeline (a graph edit must see the ingestion it follows). The
/// pipeline itself runs in a task of its own, which goes on if the caller is dropped.
pub async fn ensure_running(state: &AppState, lease: Lease) {
    let state = state.clone();
    let (marked, marked_wait) = tokio::sync::oneshot::channel::<()>();
    state.clone().tasks.spawn(async move {
        let claimed = lease
            .run(|live| {
                Box::pin(async move {
                    let free = !live.pipeline_running;
                    live.pipeline_running = true;
                    free
                })
            })
            .await;
        let _ = marked.send(());
        if !matches!(claimed, Ok(true)) {
            return;
        }
        let workspace = lease.workspace().clone();
        loop {
            let result = run_task(
                &lease,
                &state.providers,
                Task::ProcessDocuments,
                None,
                &state.shutdown,
            )
            .await;
            // A failed run (e.g. storage full) is not retried in a loop; the next
            // enqueue or re-open of the workspace starts the pipeline again.
            let failed = match result {
                Ok(_) => false,
                Err(TaskError::Cancelled) => true,
                Err(err) => {
                    tracing::warn!(%workspace, "pipeline stopped: {err:?}");
                    true
                }
            };
            // Under the instance lock: either documents are still pending (go again)
            // or the pipeline is marked stopped, atomically with respect to enqueues.
            let stopping = state.shutdown.clone();
            let again = lease
                .run(move |live| {
                    Box::pin(async move {
                        let pending = if failed || stopping.is_cancelled() {
                            0
                        } else {
                            match live.instance.state_counts().await {
                                Ok(counts) => counts
                                    .iter()
                                    .find(|c| c.state == DocState::Pending)
                                    .map_or(0, |c| c.count),
                                Err(_) => 0,
                            }
                        };
                        if pending == 0 {
                            live.pipeline_running = false;
                        }
                        pending > 0
                    })
                })
                .await;
            if !matches!(again, Ok(true)) {
                break;
            }
        }
    });
    let _ = marked_wait.await;
}
