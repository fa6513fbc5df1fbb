//! The commands that work on one workspace and exit: `export` and `import`.
//!
//! They run the same service the server does, on the same `WORKING_DIR`, without
//! listening: a workspace that a running server holds is refused by its OS lock
//! (use the admin routes of that server instead), and everything else — consistent
//! capture, checked archives, installing only into an empty workspace — is the
//! service's, shared with those routes.

use crate::config::ImportSource;
use crate::routes::AppState;
use crate::service::Error;
use crate::workspace::Workspace;
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// `lightrag-server export --workspace NAME --to FILE`.
pub async fn export(state: &AppState, workspace: &str, to: PathBuf) -> anyhow::Result<()> {
    let workspace = Workspace::new(workspace).map_err(|why| anyhow::anyhow!(why))?;
    if !state.config.working_dir.join(workspace.as_str()).is_dir() {
        anyhow::bail!(
            "workspace '{workspace}' does not exist in {}",
            state.config.working_dir.display()
        );
    }
    let started = Instant::now();
    let manifest = state
        .workspaces
        .export(&workspace, to.clone())
        .await
        .map_err(|e| held_elsewhere(e, &workspace))?;
    let bytes: u64 = manifest.files.iter().map(|f| f.bytes).sum();
    println!(
        "exported '{workspace}' to {}: {} files, {bytes} bytes, in {:.1?}",
        to.display(),
        manifest.files.len(),
        started.elapsed()
    );
    Ok(())
}

/// `lightrag-server import --workspace NAME --archive FILE` (or `--from DIR`).
pub async fn import(state: &AppState, workspace: &str, source: ImportSource) -> anyhow::Result<()> {
    let workspace = Workspace::new(workspace).map_err(|why| anyhow::anyhow!(why))?;
    let started = Instant::now();
    match source {
        ImportSource::Archive(archive) => {
            println!("checking {} ...", archive.display());
            let (staged, manifest) = state.workspaces.unpack(archive).await?;
            println!(
                "archive of '{}' exported at {}: {} files, all checked",
                manifest.workspace,
                manifest.exported_at,
                manifest.files.len()
            );
            state
                .workspaces
                .install(&workspace, staged, manifest.limits)
                .await
                .map_err(|e| held_elsewhere(e, &workspace))?;
        }
        ImportSource::LightRag { .. } => {
            anyhow::bail!("importing a LightRAG directory is not available in this build")
        }
    }
    let stats = state.workspaces.lease(&workspace).await?.stats().await?;
    println!(
        "imported '{workspace}' in {:.1?}: {} documents, {} chunks, {} entities, {} relations",
        started.elapsed(),
        stats.documents,
        stats.chunks,
        stats.entities,
        stats.relations
    );
    Ok(())
}

/// A workspace a running server holds: say what to do instead.
fn held_elsewhere(err: Error, workspace: &Workspace) -> anyhow::Error {
    match err {
        Error::Locked(msg) => anyhow::anyhow!(
            "{msg}: stop that server first, or use its admin routes \
             (GET /workspaces/{workspace}/export, POST /workspaces/{workspace}/import)"
        ),
        other => other.into(),
    }
}

/// Finalizes every workspace the command opened.
pub async fn finish(state: &AppState) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    state.workspaces.shutdown(deadline).await;
}
