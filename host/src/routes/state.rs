//! [`AppState`]: what every handler can reach; cheap to clone.

use super::resolver::Resolver;
use crate::audit::Audit;
use crate::auth::Auth;
use crate::config::Config;
use crate::limits::LimitsBook;
use crate::metrics::Metrics;
use crate::service::Workspaces;
use std::ops::Deref;
use std::sync::Arc;
use std::time::Instant;

/// Everything a request handler needs.
#[derive(Clone)]
pub struct AppState(Arc<Inner>);

/// The contents of [`AppState`].
pub struct Inner {
    /// The settings the server started with.
    pub config: Config,
    /// Who may do what.
    pub auth: Arc<Auth>,
    /// Every workspace: leases, tasks, lifecycle.
    pub workspaces: Workspaces,
    /// Per-workspace limits (admin overrides).
    pub limits: Arc<LimitsBook>,
    /// The per-workspace audit trail (admin reads).
    pub audit: Arc<Audit>,
    pub metrics: Arc<Metrics>,
    /// How a request names its workspace.
    pub resolver: Resolver,
    /// Recent directory scans, for their status route.
    pub scans: crate::scan_jobs::ScanJobs,
    /// The start-up scan of the default workspace ran (`AUTO_SCAN_AT_STARTUP`).
    pub autoscanned: std::sync::atomic::AtomicBool,
    pub started: Instant,
}

impl AppState {
    /// Wraps the parts.
    pub fn new(inner: Inner) -> AppState {
        AppState(Arc::new(inner))
    }
}

impl Deref for AppState {
    type Target = Inner;
    fn deref(&self) -> &Inner {
        &self.0
    }
}
