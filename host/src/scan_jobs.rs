//! The host's record of recent directory scans, for `/documents/scan/status/{id}`.
//!
//! A scan's own findings (what it enqueued, archived, skipped) are kept here; how far
//! its documents have come is read from the engine when asked. Kept by the host so
//! that a record outlives its workspace's eviction from the pool; bounded.

use crate::bindings::types::ScanReport;
use crate::workspace::Workspace;
use std::collections::VecDeque;
use std::sync::Mutex;

/// One scan.
pub struct ScanJob {
    pub workspace: Workspace,
    pub track_id: String,
    /// Unix seconds.
    pub created_at: f64,
    pub report: ScanReport,
}

/// The recent scans of every workspace.
#[derive(Default)]
pub struct ScanJobs(Mutex<VecDeque<ScanJob>>);

/// Scan records kept, across workspaces; the oldest go first.
const KEPT: usize = 1000;

impl ScanJobs {
    /// Records a scan.
    pub fn record(&self, job: ScanJob) {
        let mut jobs = self.0.lock().unwrap_or_else(|e| e.into_inner());
        if jobs.len() == KEPT {
            jobs.pop_front();
        }
        jobs.push_back(job);
    }

    /// When the scan `track_id` of `workspace` ran, and what it found.
    pub fn find(&self, workspace: &Workspace, track_id: &str) -> Option<(f64, ScanReport)> {
        let jobs = self.0.lock().unwrap_or_else(|e| e.into_inner());
        jobs.iter()
            .rev()
            .find(|job| &job.workspace == workspace && job.track_id == track_id)
            .map(|job| (job.created_at, job.report.clone()))
    }

    /// The track id of the workspace's latest scan.
    pub fn latest(&self, workspace: &Workspace) -> Option<String> {
        let jobs = self.0.lock().unwrap_or_else(|e| e.into_inner());
        jobs.iter()
            .rev()
            .find(|job| &job.workspace == workspace)
            .map(|job| job.track_id.clone())
    }
}
