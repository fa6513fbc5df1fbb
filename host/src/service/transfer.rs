//! Moving workspaces: exporting one to an archive while it keeps serving, and
//! installing an unpacked archive as a workspace.
//!
//! **Export** captures the workspace's files while no engine call runs (a moment: hard
//! links, not copies), then writes the archive from the capture with the workspace
//! serving again. The engine replaces its snapshot and blob files by renaming new
//! ones into place and only appends to its journal and current blob file, so a link
//! keeps the captured contents, and the captured *length* of an appended file marks
//! where the capture ends. Input files are only ever renamed, never rewritten.
//!
//! **Install** puts an unpacked archive (or an imported LightRAG directory, once the
//! engine has converted it) in place of a workspace that holds nothing: the workspace
//! is closed meanwhile, so no request sees it half-installed, and the files arrive by
//! renaming whole directories.

use super::error::Error;
use super::workspaces::{DRAIN_WAIT, Workspaces};
use crate::archive::{self, Captured, Manifest};
use crate::limits::Overrides;
use crate::workspace::Workspace;
use cap_std::ambient_authority;
use cap_std::fs::Dir;
use std::path::{Path, PathBuf};

/// A directory under `WORKING_DIR/.host/transfers/` that is removed when dropped.
pub struct Staging {
    pub path: PathBuf,
}

impl Drop for Staging {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.path);
    }
}

impl Workspaces {
    /// A fresh staging directory on the working directory's file system (so that
    /// installing from it is a rename).
    pub fn staging(&self) -> Result<Staging, Error> {
        let root = self.cx.working_dir.join(".host/transfers");
        remove_abandoned(&root);
        let path = root.join(uuid::Uuid::new_v4().to_string());
        std::fs::create_dir_all(&path)
            .map_err(|e| Error::Host(format!("cannot create {}: {e}", path.display())))?;
        Ok(Staging { path })
    }

    /// Writes `workspace` to the archive `out`; the workspace keeps serving except
    /// for the moment its files are linked.
    pub async fn export(&self, workspace: &Workspace, out: PathBuf) -> Result<Manifest, Error> {
        let lease = self.lease(workspace).await?;
        let staging = self.staging()?;
        let data = self.cx.working_dir.join(workspace.as_str());
        let input = self.cx.input_dir.join(workspace.as_str());
        let into = staging.path.clone();
        let captured = lease
            .with_files_at_rest(move || capture(&data, &input, &into))
            .await?
            .map_err(|e| Error::Host(format!("cannot capture '{workspace}': {e}")))?;
        drop(lease);
        let limits = self.cx.limits.overrides(workspace);
        let name = workspace.to_string();
        tokio::task::spawn_blocking(move || {
            let manifest = archive::write(&out, &name, &limits, &captured);
            drop(staging);
            manifest
        })
        .await
        .map_err(|e| Error::Host(format!("export stopped: {e}")))?
        .map_err(|e| Error::Host(format!("cannot write the archive: {e}")))
    }

    /// Unpacks `archive` into a staging directory, checked against its manifest.
    pub async fn unpack(&self, archive: PathBuf) -> Result<(Staging, Manifest), Error> {
        let staging = self.staging()?;
        let into = staging.path.clone();
        let manifest = tokio::task::spawn_blocking(move || {
            let file = std::fs::File::open(&archive)?;
            archive::unpack(std::io::BufReader::new(file), &into).map_err(|e| match e {
                archive::ArchiveError::Io(e) => e,
                invalid => std::io::Error::new(std::io::ErrorKind::InvalidData, invalid),
            })
        })
        .await
        .map_err(|e| Error::Host(format!("unpacking stopped: {e}")))?
        .map_err(|e| match e.kind() {
            std::io::ErrorKind::InvalidData => Error::Invalid(e.to_string()),
            _ => Error::Host(format!("cannot unpack the archive: {e}")),
        })?;
        Ok((staging, manifest))
    }

    /// Makes the staged `data/` (and `input/`, if any) the files of `workspace`, with
    /// `limits`. Refused when the workspace holds anything. The workspace is closed
    /// meanwhile; it opens on its next request.
    pub async fn install(
        &self,
        workspace: &Workspace,
        staging: Staging,
        limits: Overrides,
    ) -> Result<(), Error> {
        let cx = self.cx.clone();
        let workspace = workspace.clone();
        self.run_detached(async move {
            let closed = cx
                .pool
                .close(&workspace, DRAIN_WAIT)
                .await
                .map_err(|err| super::context::pool_error(&workspace, err))?;
            // Closed here, and locked against every other server process too.
            let lock = cx.opener().lock(&workspace)?;
            let (working_dir, input_dir) = (cx.working_dir.clone(), cx.input_dir.clone());
            let name = workspace.clone();
            let moved = tokio::task::spawn_blocking(move || {
                let moved = place(&staging.path, &working_dir, &input_dir, &name);
                drop(lock);
                moved
            })
            .await
            .map_err(|e| Error::Host(format!("installing stopped: {e}")))?;
            if moved.is_ok() && limits != Overrides::default() {
                cx.limits
                    .set(&workspace, &limits)
                    .map_err(|e| Error::Host(format!("cannot record the limits: {e}")))?;
            }
            cx.opener().forget(&workspace);
            drop(closed);
            moved
        })
        .await
    }
}

/// Removes what a transfer killed half-way (the process, not just the request) left:
/// staging directories untouched for a day. A live one is never that old: its files
/// are written as it goes.
fn remove_abandoned(root: &Path) {
    const ABANDONED: std::time::Duration = std::time::Duration::from_secs(24 * 3600);
    let Ok(entries) = std::fs::read_dir(root) else {
        return;
    };
    for entry in entries.flatten() {
        let old = entry
            .metadata()
            .and_then(|m| m.modified())
            .is_ok_and(|t| t.elapsed().is_ok_and(|age| age > ABANDONED));
        if old {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
}

/// Links the workspace's files into `into/data` and `into/input`, recording each
/// one's length. Only regular files: a link a tenant's engine left is never followed.
fn capture(data: &Path, input: &Path, into: &Path) -> std::io::Result<Vec<Captured>> {
    let mut captured = Vec::new();
    let source = Dir::open_ambient_dir(data, ambient_authority())?;
    link_tree(&source, into, "data", 0, &mut captured)?;
    if let Ok(source) = Dir::open_ambient_dir(input, ambient_authority()) {
        link_tree(&source, into, "input", 0, &mut captured)?;
    }
    Ok(captured)
}

fn link_tree(
    source: &Dir,
    into: &Path,
    prefix: &str,
    depth: usize,
    captured: &mut Vec<Captured>,
) -> std::io::Result<()> {
    let target = Dir::open_ambient_dir(
        {
            let path = into.join(prefix);
            std::fs::create_dir_all(&path)?;
            path
        },
        ambient_authority(),
    )?;
    for entry in source.entries()? {
        let entry = entry?;
        let name = entry.file_name().to_string_lossy().into_owned();
        // Staged uploads and temporary files are not the workspace's yet.
        if name.starts_with('.') {
            continue;
        }
        let meta = entry.metadata()?;
        if meta.is_dir() && prefix.starts_with("input") && depth < 4 {
            let sub = entry.open_dir()?;
            link_tree(&sub, into, &format!("{prefix}/{name}"), depth + 1, captured)?;
        } else if meta.is_file() {
            if source.hard_link(&name, &target, &name).is_err() {
                // Another file system: a copy, made while nothing writes.
                source.copy(&name, &target, &name)?;
            }
            captured.push(Captured {
                path: format!("{prefix}/{name}"),
                source: into.join(prefix).join(&name),
                bytes: meta.len(),
            });
        }
    }
    Ok(())
}

/// Moves `staging/data` to `working_dir/<workspace>` and `staging/input` to
/// `input_dir/<workspace>`, refusing if the workspace holds any file.
fn place(
    staging: &Path,
    working_dir: &Path,
    input_dir: &Path,
    workspace: &Workspace,
) -> Result<(), Error> {
    let host = |e: std::io::Error| Error::Host(format!("cannot install '{workspace}': {e}"));
    let data = working_dir.join(workspace.as_str());
    let input = input_dir.join(workspace.as_str());
    for dir in [&data, &input] {
        if !is_empty_or_absent(dir).map_err(host)? {
            return Err(Error::Conflict(format!(
                "Workspace '{workspace}' already holds data; delete it first (DELETE \
                 /workspaces/{workspace}) or choose another name"
            )));
        }
    }
    let _ = std::fs::remove_dir(&data);
    std::fs::create_dir_all(staging.join("data")).map_err(host)?;
    std::fs::rename(staging.join("data"), &data).map_err(host)?;
    if staging.join("input").is_dir() {
        std::fs::create_dir_all(input_dir).map_err(host)?;
        let _ = std::fs::remove_dir(&input);
        std::fs::rename(staging.join("input"), &input).map_err(host)?;
    }
    // The renames are durable before anyone is told the workspace is there.
    for dir in [working_dir, input_dir] {
        if let Ok(dir) = std::fs::File::open(dir) {
            let _ = dir.sync_all();
        }
    }
    Ok(())
}

pub(super) fn is_empty_or_absent(dir: &Path) -> std::io::Result<bool> {
    match std::fs::symlink_metadata(dir) {
        Ok(meta) if meta.is_dir() => Ok(std::fs::read_dir(dir)?.next().is_none()),
        Ok(_) => Ok(false),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(true),
        Err(e) => Err(e),
    }
}
