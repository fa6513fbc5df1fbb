//! [`Live`]: one open workspace — its engine instance and the host's facts about it.

use crate::bindings::types::OpenReport;
use crate::instance::Instance;
use crate::workspace::Workspace;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use tokio::sync::{Mutex as AsyncMutex, Notify};
use tokio_util::sync::CancellationToken;

/// An open workspace. The pool hands out `Arc<Live>`s; guest calls take the instance
/// lock, the host-side facts need none.
pub struct Live {
    pub workspace: Workspace,
    /// The engine, exclusively for one guest call at a time; `None` once it was
    /// finalized or discarded after a fault (its store and OS lock are gone with it).
    pub(super) instance: Arc<AsyncMutex<Option<Instance>>>,
    /// A pipeline task runs (or is about to). Changed only while the instance lock is
    /// held — the lock `enqueue` takes too — so a document enqueued while a pipeline
    /// finishes is either seen by it or starts a new one. Read without the lock.
    pipeline_running: AtomicBool,
    /// Documents were pending when the workspace opened: the first lease restarts the
    /// pipeline.
    resume_pipeline: AtomicBool,
    /// Wakes for tasks parked on another task (see the task protocol's `woken`).
    wakes: Mutex<HashMap<u64, Arc<Notify>>>,
    /// Stops the pipeline's current task (`POST /documents/cancel_pipeline`).
    pipeline_cancel: Mutex<Option<CancellationToken>>,
    /// A cancellation was asked for and the pipeline has not stopped yet.
    cancel_requested: AtomicBool,
    /// What `open` reported.
    pub opened: OpenReport,
    /// The instance's linear memory in bytes (the instance's own gauge).
    memory: Arc<std::sync::atomic::AtomicUsize>,
}

impl Live {
    pub(super) fn new(workspace: Workspace, instance: Instance, opened: OpenReport) -> Live {
        Live {
            workspace,
            memory: instance.memory_in_use(),
            resume_pipeline: AtomicBool::new(opened.pending_documents > 0),
            instance: Arc::new(AsyncMutex::new(Some(instance))),
            pipeline_running: AtomicBool::new(false),
            wakes: Mutex::new(HashMap::new()),
            pipeline_cancel: Mutex::new(None),
            cancel_requested: AtomicBool::new(false),
            opened,
        }
    }

    /// The instance's linear memory in bytes: what the memory limit caps.
    pub fn memory_in_use(&self) -> u64 {
        self.memory.load(std::sync::atomic::Ordering::Relaxed) as u64
    }

    /// Registers the token that stops the pipeline's current task. A cancellation
    /// asked for before the task registered it (the pipeline was claimed but its
    /// driver had not started yet) takes effect now.
    pub(super) fn set_pipeline_cancel(&self, token: Option<CancellationToken>) {
        let mut guard = self
            .pipeline_cancel
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        if let Some(token) = &token
            && self.cancel_requested.load(Ordering::Acquire)
        {
            token.cancel();
        }
        *guard = token;
    }

    /// Asks the running pipeline to stop after its current step; false when none runs.
    pub fn cancel_pipeline(&self) -> bool {
        let guard = self
            .pipeline_cancel
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        if !self.pipeline_running() {
            return false;
        }
        self.cancel_requested.store(true, Ordering::Release);
        if let Some(token) = guard.as_ref() {
            token.cancel();
        }
        true
    }

    /// Whether a cancellation was asked for and the pipeline has not stopped yet.
    pub fn cancellation_requested(&self) -> bool {
        self.cancel_requested.load(Ordering::Acquire) && self.pipeline_running()
    }

    /// Takes the cancellation request (the pipeline stopped).
    pub(super) fn take_cancellation(&self) -> bool {
        self.cancel_requested.swap(false, Ordering::AcqRel)
    }

    /// Whether the workspace's pipeline is running.
    pub fn pipeline_running(&self) -> bool {
        self.pipeline_running.load(Ordering::Acquire)
    }

    /// Claims the pipeline: true if it was not running.
    pub(super) fn claim_pipeline(&self) -> bool {
        let claimed = self
            .pipeline_running
            .compare_exchange(false, true, Ordering::AcqRel, Ordering::Acquire)
            .is_ok();
        if claimed {
            // A cancellation that came as the previous pipeline ended was for that one.
            self.cancel_requested.store(false, Ordering::Release);
        }
        claimed
    }

    /// Marks the pipeline stopped. Call with the instance lock held.
    pub(super) fn release_pipeline(&self) {
        self.pipeline_running.store(false, Ordering::Release);
    }

    /// Whether this is the first lease since the workspace opened with pending work.
    pub(super) fn take_resume(&self) -> bool {
        self.resume_pipeline.swap(false, Ordering::AcqRel)
    }

    fn wakes(&self) -> std::sync::MutexGuard<'_, HashMap<u64, Arc<Notify>>> {
        self.wakes.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The wake signal of task `id`, for its driver to wait on. A wake that comes
    /// before the driver waits is kept (a `Notify` permit), so none is lost.
    pub(super) fn wake_of(&self, id: u64) -> Arc<Notify> {
        self.wakes().entry(id).or_default().clone()
    }

    /// Wakes the drivers of `tasks`.
    pub(super) fn wake(&self, tasks: &[u64]) {
        if tasks.is_empty() {
            return;
        }
        let mut wakes = self.wakes();
        for id in tasks {
            wakes.entry(*id).or_default().notify_one();
        }
    }

    /// Forgets task `id`'s wake signal once its driver is done.
    pub(super) fn forget(&self, id: u64) {
        self.wakes().remove(&id);
    }
}
