//! [`WorkspaceLease`]: a leased workspace, and every guest call as a typed method.
//!
//! Each call runs in a spawned task, so a client that disconnects drops its request,
//! never a guest call half-way (wasmtime would poison the instance). Calls that can
//! block on the disk — opening, finalizing, and everything that commits — run on a
//! blocking thread, where an fsync or a snapshot write cannot stall other tenants'
//! requests on the async workers. A call that faults discards the instance: its
//! fault is the call's error, and the next lease opens the workspace afresh.

use super::blocking::off_workers;
use super::context::{Context, PoolLease};
use super::error::Error;
use super::live::Live;
use crate::bindings::types::{
    DocPage, DocPageRequest, DocStatus, EnqueueReport, Error as GuestError, GraphView, NewDocument,
    PipelineReport, ScanReport, StateCount, WorkspaceStats,
};
use crate::instance::{Fault, Instance};
use crate::workspace::Workspace;
use futures::future::BoxFuture;
use serde_json::json;
use std::sync::Arc;
use tokio_util::sync::CancellationToken;

/// Where a guest call runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Disk {
    /// Pure memory: on the calling async worker.
    No,
    /// May sync or write a lot: on a blocking thread.
    Yes,
}

/// A leased workspace: while it exists, its engine stays loaded.
pub struct WorkspaceLease {
    pub(super) lease: PoolLease,
    pub(super) cx: Arc<Context>,
}

impl WorkspaceLease {
    /// The workspace.
    pub fn workspace(&self) -> &Workspace {
        self.lease.key()
    }

    /// The open workspace's host-side facts.
    pub fn live(&self) -> &Arc<Live> {
        &self.lease
    }

    /// Another lease of the same workspace (for work that outlives the request).
    pub fn share(&self) -> WorkspaceLease {
        WorkspaceLease {
            lease: self.lease.share(),
            cx: self.cx.clone(),
        }
    }

    /// Cancelled when the pool wants this workspace's slot back.
    pub fn drain_requested(&self) -> CancellationToken {
        self.lease.drain_requested()
    }

    /// Whether the workspace's ingestion pipeline is running.
    pub fn pipeline_running(&self) -> bool {
        self.lease.pipeline_running()
    }

    /// Runs `f` on the engine, with the instance lock held, in a spawned task (and on
    /// a blocking thread when `disk` says so).
    pub(super) async fn call<T, F>(&self, disk: Disk, f: F) -> Result<T, Error>
    where
        T: Send + 'static,
        F: for<'a> FnOnce(&'a mut Instance) -> BoxFuture<'a, Result<T, Fault>> + Send + 'static,
    {
        let mutex = self.lease.instance.clone();
        let lease = self.lease.share();
        let cx = self.cx.clone();
        let job = async move {
            let guard = mutex.lock_owned().await;
            let (mut guard, result) = match disk {
                Disk::No => run_on(guard, f).await,
                Disk::Yes => off_workers(run_on(guard, f)).await?,
            };
            // A fault discards the instance (dropped here, with its store and OS lock)
            // and takes the workspace out of the pool.
            if let Err(Error::Fault(fault)) = &result
                && guard.take().is_some()
            {
                cx.discard(&lease, fault);
            }
            result
        };
        tokio::spawn(job)
            .await
            .map_err(|e| Error::Host(format!("a workspace call panicked: {e}")))?
    }

    /// Runs `f` — host work on the workspace's files — on a blocking thread while no
    /// engine call can run. The engine commits only inside its calls, so the files
    /// are then at rest: exactly what a crash at this moment would leave, which the
    /// engine reopens.
    pub(super) async fn with_files_at_rest<T, F>(&self, f: F) -> Result<T, Error>
    where
        T: Send + 'static,
        F: FnOnce() -> T + Send + 'static,
    {
        self.call(Disk::Yes, move |_| Box::pin(async move { Ok(f()) }))
            .await
    }

    /// [`WorkspaceLease::call`] for an export whose own result can be an engine error.
    async fn call_flat<T, F>(&self, disk: Disk, f: F) -> Result<T, Error>
    where
        T: Send + 'static,
        F: for<'a> FnOnce(
                &'a mut Instance,
            )
                -> BoxFuture<'a, Result<Result<T, crate::bindings::types::Error>, Fault>>
            + Send
            + 'static,
    {
        self.call(disk, f).await?.map_err(Error::Engine)
    }

    /// Stores new documents as pending; the whole call fails on a name in use.
    pub(super) async fn enqueue(
        &self,
        documents: Vec<NewDocument>,
        track_id: String,
    ) -> Result<EnqueueReport, Error> {
        self.store_documents(documents, track_id, false).await
    }

    /// Stores the documents whose names are new, skipping the others.
    pub(super) async fn enqueue_new(
        &self,
        documents: Vec<NewDocument>,
        track_id: String,
    ) -> Result<EnqueueReport, Error> {
        self.store_documents(documents, track_id, true).await
    }

    async fn store_documents(
        &self,
        documents: Vec<NewDocument>,
        track_id: String,
        skip_existing: bool,
    ) -> Result<EnqueueReport, Error> {
        let track = track_id.clone();
        let report = self
            .call_flat(Disk::Yes, move |i| {
                Box::pin(async move {
                    match skip_existing {
                        true => i.enqueue_new(&documents, &track).await,
                        false => i.enqueue(&documents, &track).await,
                    }
                })
            })
            .await;
        self.enqueued(report, &track_id)
    }

    fn enqueued(
        &self,
        report: Result<EnqueueReport, Error>,
        track_id: &str,
    ) -> Result<EnqueueReport, Error> {
        let report = report.inspect_err(|err| {
            if matches!(err, Error::Engine(GuestError::StorageFull(_))) {
                self.audit("limit_hit", json!({"limit": "disk"}));
            }
        })?;
        self.audit(
            "documents_added",
            json!({"track_id": track_id, "accepted": report.accepted, "duplicates": report.duplicates}),
        );
        Ok(report)
    }

    /// Records an event in the workspace's audit trail.
    pub fn audit(&self, event: &str, fields: serde_json::Value) {
        self.cx
            .audit
            .record(self.workspace().as_str(), event, fields);
    }

    /// Enqueues the staged upload `staged` under `file_name` for parsing.
    pub(super) async fn enqueue_upload(
        &self,
        staged: String,
        file_name: String,
        track_id: String,
    ) -> Result<String, Error> {
        let track = track_id.clone();
        let name = file_name.clone();
        let doc_id = self
            .call_flat(Disk::Yes, move |i| {
                Box::pin(async move { i.enqueue_upload(&staged, &name, &track).await })
            })
            .await?;
        self.audit(
            "documents_added",
            json!({"track_id": track_id, "accepted": [doc_id], "file": file_name}),
        );
        Ok(doc_id)
    }

    /// Scans the workspace's input directory.
    pub(super) async fn scan_input(&self, track_id: String) -> Result<ScanReport, Error> {
        let track = track_id.clone();
        let report = self
            .call_flat(Disk::Yes, move |i| {
                Box::pin(async move { i.scan_input(&track).await })
            })
            .await?;
        self.audit(
            "documents_added",
            json!({"track_id": track_id, "accepted": report.enqueued, "archived": report.archived}),
        );
        Ok(report)
    }

    /// The file extensions the engine parses.
    pub async fn supported_file_types(&self) -> Result<Vec<String>, Error> {
        self.call(Disk::No, |i| Box::pin(i.supported_file_types()))
            .await
    }

    /// Puts failed documents back to pending; returns how many.
    pub(super) async fn reset_failed(&self) -> Result<u32, Error> {
        self.call_flat(Disk::Yes, |i| Box::pin(i.reset_failed()))
            .await
    }

    /// Deletes every document and everything derived from them.
    pub async fn clear(&self) -> Result<u32, Error> {
        let count = self.call_flat(Disk::Yes, |i| Box::pin(i.clear())).await?;
        self.audit("documents_cleared", json!({ "count": count }));
        Ok(count)
    }

    /// Drops every cached model answer.
    pub async fn clear_cache(&self) -> Result<(), Error> {
        self.call_flat(Disk::Yes, |i| Box::pin(i.clear_cache()))
            .await
    }

    /// The documents added by one request.
    pub async fn documents_by_track(&self, track_id: String) -> Result<Vec<DocStatus>, Error> {
        self.call(Disk::No, move |i| {
            Box::pin(async move { i.documents_by_track(&track_id).await })
        })
        .await
    }

    /// One page of documents.
    pub async fn documents_page(&self, request: DocPageRequest) -> Result<DocPage, Error> {
        self.call(Disk::No, move |i| {
            Box::pin(async move { i.documents_page(&request).await })
        })
        .await
    }

    /// Documents per state.
    pub async fn state_counts(&self) -> Result<Vec<StateCount>, Error> {
        self.call(Disk::No, |i| Box::pin(i.state_counts())).await
    }

    /// The pipeline's progress.
    pub async fn pipeline_status(&self) -> Result<PipelineReport, Error> {
        self.call(Disk::No, |i| Box::pin(i.pipeline_status())).await
    }

    /// Sizes of the workspace.
    pub async fn stats(&self) -> Result<WorkspaceStats, Error> {
        self.call(Disk::No, |i| Box::pin(i.stats())).await
    }

    /// Every entity name.
    pub async fn graph_labels(&self) -> Result<Vec<String>, Error> {
        self.call(Disk::No, |i| Box::pin(i.graph_labels())).await
    }

    /// Entity names by degree.
    pub async fn popular_labels(&self, limit: u32) -> Result<Vec<String>, Error> {
        self.call(Disk::No, move |i| Box::pin(i.popular_labels(limit)))
            .await
    }

    /// Entity names matching `query`.
    pub async fn search_labels(&self, query: String, limit: u32) -> Result<Vec<String>, Error> {
        self.call(Disk::No, move |i| {
            Box::pin(async move { i.search_labels(&query, limit).await })
        })
        .await
    }

    /// The neighbourhood of an entity.
    pub async fn subgraph(
        &self,
        label: String,
        max_depth: u32,
        max_nodes: u32,
    ) -> Result<GraphView, Error> {
        self.call(Disk::No, move |i| {
            Box::pin(async move { i.subgraph(&label, max_depth, max_nodes).await })
        })
        .await
    }

    /// Whether an entity exists.
    pub async fn entity_exists(&self, name: String) -> Result<bool, Error> {
        self.call(Disk::No, move |i| {
            Box::pin(async move { i.entity_exists(&name).await })
        })
        .await
    }
}

type InstanceGuard = tokio::sync::OwnedMutexGuard<Option<Instance>>;

/// Runs `f` on the locked instance, handing the lock back with the result.
async fn run_on<T, F>(mut guard: InstanceGuard, f: F) -> (InstanceGuard, Result<T, Error>)
where
    F: for<'a> FnOnce(&'a mut Instance) -> BoxFuture<'a, Result<T, Fault>>,
{
    let result = match guard.as_mut() {
        Some(instance) => f(instance).await.map_err(Error::Fault),
        None => Err(Error::Host(
            "the workspace engine stopped; retry the request".into(),
        )),
    };
    (guard, result)
}
