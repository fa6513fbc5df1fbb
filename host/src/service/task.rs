//! The task driver: runs a guest task to its end, answering its model requests.
//!
//! The instance lock is held only while the guest computes (`start`, `resume`). While
//! a step's requests run — concurrently, each in its own tokio task — the workspace
//! serves other requests, so a query is not blocked behind its workspace's ingestion.
//! Replies go back as soon as some are ready.
//!
//! Every way out cleans up: a task that did not finish is cancelled in the guest (so
//! whatever it holds there is released, and the tasks waiting for that are woken), and
//! its model calls still running are aborted, freeing their `MAX_ASYNC` slots.

use super::error::Error;
use super::lease::{Disk, WorkspaceLease};
use crate::bindings::types::{DeleteRequest, NumberedReply, Progress, Step, Task, TaskOutput};
use crate::providers::{Asked, StreamEvent};
use futures::StreamExt;
use futures::stream::FuturesUnordered;
use serde_json::json;
use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use tokio::sync::{mpsc, oneshot};
use tokio::task::{AbortHandle, JoinError};
use tokio_util::sync::{CancellationToken, DropGuard};
use tokio_util::task::AbortOnDropHandle;

/// A task running in its own driver. Dropping it cancels the task (its client went
/// away); [`RunningTask::detach`] lets it finish on its own.
pub struct RunningTask {
    done: oneshot::Receiver<Result<TaskOutput, Error>>,
    cancel: DropGuard,
}

impl RunningTask {
    /// Lets the task run to its end even if nobody waits for it (it still stops when
    /// the server shuts down). The returned receiver tells how it ended.
    pub fn detach(self) -> oneshot::Receiver<Result<TaskOutput, Error>> {
        let _ = self.cancel.disarm();
        self.done
    }
}

impl Future for RunningTask {
    type Output = Result<TaskOutput, Error>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        Pin::new(&mut self.done).poll(cx).map(|result| {
            result.unwrap_or_else(|_| Err(Error::Host("the task driver stopped".into())))
        })
    }
}

impl WorkspaceLease {
    /// Starts `task` in a driver of its own. `sink` hears of each query step's model
    /// call and receives the streamed pieces of the final answer.
    pub fn start_task(&self, task: Task, sink: Option<mpsc::Sender<StreamEvent>>) -> RunningTask {
        let cancel = self.cx.shutdown.child_token();
        let (done_tx, done) = oneshot::channel();
        let lease = self.share();
        let token = cancel.clone();
        tokio::spawn(async move {
            let _ = done_tx.send(lease.drive(task, sink, token).await);
        });
        RunningTask {
            done,
            cancel: cancel.drop_guard(),
        }
    }

    /// Deletes documents in the background (LightRAG answers before it is done); the
    /// outcome goes to the log and the audit trail.
    pub fn delete_documents(&self, request: DeleteRequest) {
        let done = self
            .start_task(Task::DeleteDocuments(request), None)
            .detach();
        let lease = self.share();
        self.cx.spawn(async move {
            match done.await {
                Ok(Ok(TaskOutput::Deleted((deleted, missing)))) => {
                    tracing::info!(workspace = %lease.workspace(), "deleted {} documents, {} not found", deleted.len(), missing.len());
                    lease.audit(
                        "documents_deleted",
                        json!({"deleted": deleted, "not_found": missing}),
                    );
                }
                Ok(Ok(_)) => {}
                Ok(Err(err)) => {
                    tracing::warn!(workspace = %lease.workspace(), "deletion failed: {err}")
                }
                Err(_) => tracing::warn!(workspace = %lease.workspace(), "deletion stopped"),
            }
        });
    }

    /// Runs `task` to its end, or until `cancel`.
    pub(super) async fn drive(
        &self,
        task: Task,
        sink: Option<mpsc::Sender<StreamEvent>>,
        cancel: CancellationToken,
    ) -> Result<TaskOutput, Error> {
        // Queries only read (and cache answers lazily); everything else commits.
        let disk = match task {
            Task::Query(_) => Disk::No,
            _ => Disk::Yes,
        };
        let (id, progress) = self
            .call(disk, move |i| Box::pin(async move { i.start(&task).await }))
            .await?;
        let mut driver = Driver {
            lease: self,
            id,
            disk,
            sink,
            calls: FuturesUnordered::new(),
            handles: HashMap::new(),
        };
        let result = driver.run(progress, &cancel).await;
        self.live().forget(id);
        let finished = matches!(&result, Ok(_) | Err(Error::Engine(_)));
        if !finished {
            // Stops the task in the guest and releases what it held there; the tasks
            // that were waiting for it are woken.
            let woken = self
                .call(disk, move |i| Box::pin(i.cancel(id)))
                .await
                .unwrap_or_default();
            self.live().wake(&woken);
        }
        // Dropping `driver` aborts the model calls still running.
        result
    }
}

/// The state of one task's drive.
struct Driver<'a> {
    lease: &'a WorkspaceLease,
    id: u64,
    disk: Disk,
    sink: Option<mpsc::Sender<StreamEvent>>,
    /// Model calls in flight; aborted when dropped.
    calls: FuturesUnordered<AbortOnDropHandle<NumberedReply>>,
    /// The same calls by request id, to abandon the ones the guest withdraws.
    handles: HashMap<u32, AbortHandle>,
}

impl Driver<'_> {
    async fn run(
        &mut self,
        mut progress: Progress,
        cancel: &CancellationToken,
    ) -> Result<TaskOutput, Error> {
        let live = self.lease.live().clone();
        let wake = live.wake_of(self.id);
        loop {
            live.wake(&progress.woken);
            for id in &progress.withdrawn {
                if let Some(handle) = self.handles.remove(id) {
                    handle.abort();
                }
            }
            match progress.step {
                Step::Done(output) => return Ok(output),
                Step::Failed(err) => return Err(Error::Engine(err)),
                Step::Pending(requests) => {
                    for request in requests {
                        self.spawn_call(request).await;
                    }
                }
            }
            let replies = tokio::select! {
                biased;
                () = cancel.cancelled() => return Err(Error::Cancelled),
                Some(first) = self.calls.next(), if !self.calls.is_empty() => {
                    let mut replies = Vec::new();
                    self.collect(first, &mut replies)?;
                    // Whatever else is ready goes back in the same resume.
                    while let Some(Some(next)) = futures::FutureExt::now_or_never(self.calls.next()) {
                        self.collect(next, &mut replies)?;
                    }
                    replies
                }
                // Woken by another task's call (a lock it waited for is free).
                () = wake.notified() => Vec::new(),
            };
            let id = self.id;
            progress = self
                .lease
                .call(self.disk, move |i| {
                    Box::pin(async move { i.resume(id, &replies).await })
                })
                .await?;
        }
    }

    async fn spawn_call(&mut self, request: crate::bindings::types::NumberedRequest) {
        if let (Some(sink), Some(asked)) = (&self.sink, Asked::of(&request.request)) {
            // Progress only: a reader that went away is no error here.
            let _ = sink.send(StreamEvent::Asked(asked)).await;
        }
        let providers = self.lease.cx.providers.clone();
        let sink = self.sink.clone();
        let workspace = self.lease.workspace().to_string();
        let id = request.id;
        let handle = tokio::spawn(async move {
            let reply = providers.answer(&workspace, request.request, sink).await;
            NumberedReply { id, reply }
        });
        self.handles.insert(id, handle.abort_handle());
        self.calls.push(AbortOnDropHandle::new(handle));
    }

    /// Adds a finished call's reply; an abandoned one is skipped.
    fn collect(
        &mut self,
        joined: Result<NumberedReply, JoinError>,
        replies: &mut Vec<NumberedReply>,
    ) -> Result<(), Error> {
        match joined {
            Ok(reply) => {
                self.handles.remove(&reply.id);
                replies.push(reply);
                Ok(())
            }
            Err(err) if err.is_cancelled() => Ok(()),
            Err(err) => Err(Error::Host(format!("a model request crashed: {err}"))),
        }
    }
}
