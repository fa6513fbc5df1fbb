//! The task driver: runs a guest task to its end, answering its requests.
//!
//! The instance lock is held only while the guest computes (`start`, `resume`).
//! While the requests of a step run — concurrently, each in its own tokio task —
//! the workspace is free for other requests, so a workspace's queries are not
//! blocked behind its own ingestion. Replies go back as soon as some are ready; the
//! guest does not wait for a step's slowest request before using the others.

use crate::bindings::types::{Error as GuestError, NumberedReply, Step, Task, TaskOutput};
use crate::pool::{Lease, PoolError};
use crate::providers::{Asked, Providers, StreamEvent};
use futures::FutureExt;
use futures::StreamExt;
use futures::stream::FuturesUnordered;
use std::sync::Arc;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

/// Why a task did not finish.
#[derive(Debug)]
pub enum TaskError {
    /// The engine reported an error.
    Guest(GuestError),
    /// The workspace could not be used (fault, shutdown).
    Pool(PoolError),
    /// The caller went away or the server is stopping.
    Cancelled,
}

impl From<PoolError> for TaskError {
    fn from(err: PoolError) -> Self {
        TaskError::Pool(err)
    }
}

impl From<crate::instance::Fault> for TaskError {
    fn from(fault: crate::instance::Fault) -> Self {
        TaskError::Pool(fault.into())
    }
}

impl From<TaskError> for crate::error::AppError {
    fn from(err: TaskError) -> Self {
        match err {
            TaskError::Guest(err) => err.into(),
            TaskError::Pool(err) => err.into(),
            TaskError::Cancelled => crate::error::AppError::Unavailable {
                message: "the request was cancelled".into(),
                retry_after: 1,
            },
        }
    }
}

/// Runs `task` on the leased workspace. `sink` hears of each query step's model call
/// and receives the streamed pieces of the final answer; `cancel` stops the task between steps (the guest is told to drop it).
pub async fn run_task(
    lease: &Lease,
    providers: &Arc<Providers>,
    task: Task,
    sink: Option<mpsc::Sender<StreamEvent>>,
    cancel: &CancellationToken,
) -> Result<TaskOutput, TaskError> {
    let (id, mut step) = lease
        .run(move |live| Box::pin(async move { live.instance.start(&task).await }))
        .await??;
    let workspace = lease.workspace().to_string();
    let mut outstanding = FuturesUnordered::new();
    loop {
        match step {
            Step::Done(output) => return Ok(output),
            Step::Failed(err) => return Err(TaskError::Guest(err)),
            Step::Pending(requests) => {
                for request in requests {
                    if let (Some(sink), Some(asked)) = (&sink, Asked::of(&request.request)) {
                        // Progress only: a reader that has gone away is no error here.
                        let _ = sink.send(StreamEvent::Asked(asked)).await;
                    }
                    let providers = providers.clone();
                    let sink = sink.clone();
                    let workspace = workspace.clone();
                    outstanding.push(tokio::spawn(async move {
                        let reply = providers.answer(&workspace, request.request, sink).await;
                        NumberedReply {
                            id: request.id,
                            reply,
                        }
                    }));
                }
            }
        }
        if outstanding.is_empty() {
            return Err(TaskError::Guest(GuestError::Internal(
                "the engine is waiting but asked for nothing".into(),
            )));
        }
        let first = tokio::select! {
            reply = outstanding.next() => reply,
            () = cancel.cancelled() => {
                // Tell the guest to drop the task; its requests' replies are discarded.
                let _ = lease
                    .run(move |live| Box::pin(async move { live.instance.cancel(id).await }))
                    .await;
                return Err(TaskError::Cancelled);
            }
        };
        let mut replies = Vec::new();
        for joined in std::iter::once(first).chain(std::iter::from_fn(|| {
            outstanding.next().now_or_never().flatten().map(Some)
        })) {
            match joined {
                Some(Ok(reply)) => replies.push(reply),
                Some(Err(join)) => {
                    return Err(TaskError::Pool(PoolError::Fault(format!(
                        "a model request crashed: {join}"
                    ))));
                }
                None => break,
            }
        }
        step = lease
            .run(move |live| Box::pin(async move { live.instance.resume(id, &replies).await }))
            .await??;
    }
}
