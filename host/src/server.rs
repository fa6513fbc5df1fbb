//! Building the server's state, serving, and shutting down gracefully.

use crate::audit::Audit;
use crate::bindings::types::Config as GuestConfig;
use crate::config::Config;
use crate::limits::{Limits, LimitsBook};
use crate::metrics::Metrics;
use crate::providers::Providers;
use crate::routes::{self, AppState, Resolver};
use crate::runtime::Runtime;
use crate::service::{OpenSettings, Opener, Parts, Quarantine, Workspaces};
use crate::workspace::Workspace;
use anyhow::Context as _;
use axum::serve::ListenerExt;
use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::net::TcpListener;

/// Builds the runtime, the workspace service and the providers from `config`.
pub fn build(config: Config) -> anyhow::Result<AppState> {
    let auth =
        Arc::new(crate::auth::Auth::new(config.auth.clone()).map_err(|e| anyhow::anyhow!(e))?);
    let metrics = Arc::new(Metrics::new(config.metrics_workspaces.clone()));
    let audit = Arc::new(Audit::new(
        config.dirs.audit.clone(),
        config.audit_max_bytes,
    ));
    let providers = Arc::new(
        Providers::new(&config, metrics.clone(), audit.clone()).map_err(|e| anyhow::anyhow!(e))?,
    );
    let dirs = &config.dirs;
    std::fs::create_dir_all(&dirs.root)
        .with_context(|| format!("creating {}", dirs.root.display()))?;
    let limits = Arc::new(LimitsBook::new(
        Limits {
            memory_mb: config.workspace_memory_mb,
            cpu_ms: config.workspace_cpu.as_millis() as u64,
            disk_mb: config.workspace_disk_mb,
        },
        dirs.limits.clone(),
    ));
    let component = match &config.engine_component {
        Some(path) => std::borrow::Cow::Owned(
            std::fs::read(path)
                .with_context(|| format!("reading LIGHTRAG_ENGINE_COMPONENT={}", path.display()))?,
        ),
        None => std::borrow::Cow::Borrowed(lightrag_bindings::ENGINE_COMPONENT),
    };
    // Room for every live instance plus as many being finalized.
    let slots = config.max_workspaces * 2 + 4;
    let runtime = Arc::new(
        Runtime::new(&component, &dirs.cache, slots).context("starting the wasm runtime")?,
    );
    tracing::info!("engine component: {}", runtime.origin);
    let opener = Opener::new(
        runtime,
        OpenSettings {
            working_dir: config.working_dir.clone(),
            input_dir: config.input_dir.clone(),
            locks_dir: dirs.locks.clone(),
            catalog_dir: dirs.catalog.clone(),
            guest_config: GuestConfig {
                llm_identity: providers.llm_identity.clone(),
                embedding_identity: providers.embedding_identity.clone(),
                embedding_dim: providers.embedding_dim,
                ..config.engine.clone()
            },
            auto_create: config.auto_create,
            quarantine: Quarantine {
                faults: config.quarantine_faults,
                window: config.quarantine_window,
                duration: config.quarantine,
            },
        },
        limits.clone(),
        audit.clone(),
        metrics.clone(),
    );
    let workspaces = Workspaces::new(Parts {
        opener,
        pool: crate::pool::Settings {
            capacity: config.max_workspaces,
            wait: config.pool_wait,
            // A waiting workspace may ask a busy one for its slot once that has been
            // held for a quarter of the wait, so the handover fits in the wait.
            hold: (config.pool_wait / 4).clamp(Duration::from_millis(10), Duration::from_secs(5)),
        },
        providers,
        limits: limits.clone(),
        audit: audit.clone(),
        input_dir: config.input_dir.clone(),
        working_dir: config.working_dir.clone(),
        catalog_dir: dirs.catalog.clone(),
    });
    let resolver = Resolver {
        default: Workspace::new(&config.default_workspace).map_err(|e| anyhow::anyhow!(e))?,
        allow_default: config.allow_default_workspace,
    };
    Ok(AppState::new(routes::Inner {
        scans: crate::scan_jobs::ScanJobs::default(),
        autoscanned: std::sync::atomic::AtomicBool::new(false),
        config,
        auth,
        workspaces,
        limits,
        audit,
        metrics,
        resolver,
        started: Instant::now(),
    }))
}

/// Serves until `signal` resolves, then shuts down within
/// `LIGHTRAG_SHUTDOWN_GRACE_SECS` in all: stop accepting; let requests in flight
/// finish while pipelines stop at their next step (documents they were on go back to
/// pending); finalize every workspace in the last quarter of the grace.
pub async fn serve(
    state: AppState,
    listener: TcpListener,
    signal: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let app = routes::app(state.clone());
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let app = app.into_make_service_with_connect_info::<std::net::SocketAddr>();
    // Streamed answers are many small writes: without TCP_NODELAY, Nagle's algorithm
    // holds each until the client acknowledges the previous one, and clients delay
    // acknowledgements by up to 40 ms.
    let stop = async move {
        signal.await;
        let _ = stop_tx.send(());
    };
    let server = match &state.config.tls {
        Some(files) => {
            // `tap_io` does nothing here (TCP_NODELAY is set before the handshake) but
            // gives axum the peer address for `ConnectInfo`.
            let listener = crate::tls::TlsListener::new(listener, crate::tls::acceptor(files)?)?
                .tap_io(|_| {});
            let server = axum::serve(listener, app).with_graceful_shutdown(stop);
            tokio::spawn(async move { server.await })
        }
        None => {
            let listener = listener.tap_io(|tcp| {
                if let Err(err) = tcp.set_nodelay(true) {
                    tracing::debug!("cannot set TCP_NODELAY: {err}");
                }
            });
            let server = axum::serve(listener, app).with_graceful_shutdown(stop);
            tokio::spawn(async move { server.await })
        }
    };
    let mut server = std::pin::pin!(server);
    // The server ends by itself only after the signal (graceful shutdown with no
    // connection left), or on an error.
    let signalled = tokio::select! {
        result = &mut server => { result??; false }
        _ = stop_rx => true,
    };
    let grace = state.config.shutdown_grace;
    let deadline = tokio::time::Instant::now() + grace;
    tracing::info!("shutting down: waiting for requests in flight");
    // Background work stops at its next step while requests finish.
    state.workspaces.shutdown_token().cancel();
    if signalled
        && tokio::time::timeout_at(deadline - grace / 4, &mut server)
            .await
            .is_err()
    {
        tracing::warn!("requests still in flight after the grace period; stopping anyway");
    }
    let started = Instant::now();
    state.workspaces.shutdown(deadline).await;
    tracing::info!(
        "finalized all workspaces in {:?}; finalize calls: {}",
        started.elapsed(),
        state.metrics.finalizes.get()
    );
    Ok(())
}

/// Resolves on SIGINT or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        () = ctrl_c => {}
        () = terminate => {}
    }
}
