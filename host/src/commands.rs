//! The commands that work on one workspace and exit: `export` and `import`.
//!
//! They run the same service the server does, on the same `WORKING_DIR`, without
//! listening: a workspace that a running server holds is refused by its OS lock
//! (use the admin routes of that server instead), and everything else — consistent
//! capture, checked archives, installing only into an empty workspace — is the
//! service's, shared with those routes.

use crate::bindings::types::ImportCounts;
use crate::config::ImportSource;
use crate::routes::AppState;
use crate::service::Error;
use crate::service::{PHASES, check_embedding_model, phase_name, tables};
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

/// `lightrag-server import --workspace NAME --archive FILE`, or `--from DIR
/// --source-embedding-model NAME` for a LightRAG directory.
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
        ImportSource::LightRag {
            dir,
            embedding_model,
        } => {
            check_embedding_model(&state.config.embedding.model, embedding_model.as_deref())?;
            println!("importing the LightRAG directory {} ...", dir.display());
            let totals = state
                .workspaces
                .import_lightrag(&workspace, dir, |phase, counts| {
                    let step = PHASES.iter().position(|p| *p == phase).unwrap_or(0) + 1;
                    println!(
                        "[{step}/{}] {:<9} {}",
                        PHASES.len(),
                        phase_name(phase),
                        progress_line(counts)
                    );
                })
                .await
                .map_err(|e| held_elsewhere(e, &workspace))?;
            print_totals(&totals);
        }
    }
    let lease = state.workspaces.lease(&workspace).await?;
    let stats = lease.stats().await?;
    let sample = lease.popular_labels(5).await?;
    drop(lease);
    if !sample.is_empty() {
        println!("most connected entities: {}", sample.join(", "));
        sample_query(state, &workspace, &sample[0]).await?;
    }
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

fn progress_line(counts: &ImportCounts) -> String {
    let tables: Vec<String> = tables(counts)
        .iter()
        .filter(|(_, t)| t.read > 0 || t.imported > 0)
        .map(|(name, t)| format!("{name} {}/{}", t.imported, t.read))
        .collect();
    match tables.is_empty() {
        true => "nothing to import".into(),
        false => tables.join(" · "),
    }
}

fn print_totals(totals: &ImportCounts) {
    println!(
        "{:<10} {:>9} {:>9} {:>9}",
        "", "read", "imported", "skipped"
    );
    for (name, t) in tables(totals) {
        println!(
            "{name:<10} {:>9} {:>9} {:>9}",
            t.read, t.imported, t.skipped
        );
        for reason in &t.skip_reasons {
            println!("           skipped: {reason}");
        }
    }
}

/// A sample `/query/data` (the server's own path, no model call: the keywords are
/// given): the most connected entity, searched by its name, must come back — which it
/// does only if the imported vectors match this server's embedding model.
async fn sample_query(state: &AppState, workspace: &Workspace, label: &str) -> anyhow::Result<()> {
    let body = serde_json::json!({
        "query": format!("What is {label}?"),
        "mode": "local",
        "ll_keywords": [label],
        "hl_keywords": [],
        "top_k": 10,
    });
    let answer = crate::routes::query_data_value(state, workspace, body)
        .await
        .map_err(|e| anyhow::anyhow!("the sample query failed: {e:?}"))?;
    let count = |key: &str| answer["data"][key].as_array().map_or(0, Vec::len);
    let found = answer["data"]["entities"]
        .as_array()
        .is_some_and(|all| all.iter().any(|e| e["entity_name"] == label));
    println!(
        "sample /query/data for {label:?}: {} entities, {} relations, {} chunks; {label:?} {}",
        count("entities"),
        count("relationships"),
        count("chunks"),
        if found { "found" } else { "NOT found" }
    );
    if !found {
        anyhow::bail!(
            "imported '{workspace}', but it does not find its own entity {label:?} by name: \
             were its vectors made with another embedding model than this server's? If so, \
             delete the workspace and import with the right EMBEDDING_MODEL"
        );
    }
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
