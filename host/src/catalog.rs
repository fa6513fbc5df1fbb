//! What the server last knew about each workspace that is not loaded: its sizes when
//! its instance was last finalized, and when it was last used. Kept in
//! `WORKING_DIR/.host/catalog/<name>.json`, so listing workspaces never has to open
//! them all.

use crate::workspace::Workspace;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// A workspace's last known sizes.
#[derive(Clone, Copy, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct Record {
    pub documents: u32,
    pub chunks: u32,
    pub entities: u32,
    pub relations: u32,
    pub engine_bytes: u64,
    /// The engine's memory in use (records of older servers: 0).
    #[serde(default)]
    pub memory_bytes: u64,
    /// Unix seconds.
    pub last_used: i64,
}

fn path(dir: &Path, workspace: &Workspace) -> PathBuf {
    dir.join(format!("{workspace}.json"))
}

/// Stores the record of `workspace` (temporary file, then rename).
pub fn save(dir: &Path, workspace: &Workspace, record: &Record) {
    let write = || -> std::io::Result<()> {
        std::fs::create_dir_all(dir)?;
        let tmp = dir.join(format!(".{workspace}.json.tmp"));
        std::fs::write(&tmp, serde_json::to_vec(record)?)?;
        std::fs::rename(tmp, path(dir, workspace))
    };
    if let Err(err) = write() {
        tracing::warn!(%workspace, "cannot update the catalog: {err}");
    }
}

/// The record of `workspace`, if the server has one.
pub fn load(dir: &Path, workspace: &Workspace) -> Option<Record> {
    let bytes = std::fs::read(path(dir, workspace)).ok()?;
    serde_json::from_slice(&bytes).ok()
}

/// Forgets a deleted workspace.
pub fn remove(dir: &Path, workspace: &Workspace) {
    let _ = std::fs::remove_file(path(dir, workspace));
}
