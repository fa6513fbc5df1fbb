//! Per-workspace limits: memory, CPU per engine call, disk. The server-wide settings
//! are the defaults; the admin API can override them per workspace. Overrides are
//! kept in `WORKING_DIR/.host/limits/<name>.json`, outside every workspace, and take
//! effect when the workspace's instance is next opened.

use crate::workspace::Workspace;
use serde::{Deserialize, Serialize};
use std::path::PathBuf;
use std::time::Duration;

/// The limits of one workspace instance.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Limits {
    /// Linear memory, MiB.
    pub memory_mb: u32,
    /// CPU time one engine call may use, ms.
    pub cpu_ms: u64,
    /// Bytes the engine may store, MiB (0 = no limit).
    pub disk_mb: u64,
}

impl Limits {
    /// Memory in bytes.
    pub fn memory_bytes(&self) -> usize {
        self.memory_mb as usize * 1024 * 1024
    }

    /// CPU budget per call.
    pub fn cpu(&self) -> Duration {
        Duration::from_millis(self.cpu_ms)
    }

    /// Disk quota in bytes (0 = none).
    pub fn disk_bytes(&self) -> u64 {
        self.disk_mb * 1024 * 1024
    }

    /// Bytes of cached query answers the engine keeps: an eighth of its memory, so a
    /// stream of distinct questions can never fill the instance (the cache lives in
    /// memory, and writing a snapshot needs room beside it).
    pub fn query_cache_bytes(&self) -> u64 {
        self.memory_bytes() as u64 / 8
    }
}

/// Optional overrides; unset fields take the server default.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Overrides {
    pub memory_mb: Option<u32>,
    pub cpu_ms: Option<u64>,
    pub disk_mb: Option<u64>,
}

/// Largest memory limit a workspace may be given (wasm32 addresses 4 GiB).
pub const MAX_MEMORY_MB: u32 = 4095;

impl Overrides {
    /// Refuses values the runtime cannot honour.
    pub fn validate(&self) -> Result<(), String> {
        if self.memory_mb.is_some_and(|m| m == 0 || m > MAX_MEMORY_MB) {
            return Err(format!("memory_mb must be between 1 and {MAX_MEMORY_MB}"));
        }
        if self.cpu_ms == Some(0) {
            return Err("cpu_ms must be positive".into());
        }
        Ok(())
    }
}

/// The defaults and where overrides live.
pub struct LimitsBook {
    defaults: Limits,
    dir: PathBuf,
}

impl LimitsBook {
    /// Limits with `defaults`, overrides under `dir`.
    pub fn new(defaults: Limits, dir: PathBuf) -> LimitsBook {
        LimitsBook { defaults, dir }
    }

    /// The server-wide defaults.
    pub fn defaults(&self) -> Limits {
        self.defaults
    }

    fn path(&self, workspace: &Workspace) -> PathBuf {
        self.dir.join(format!("{workspace}.json"))
    }

    /// The overrides of `workspace` (none when the file is missing or unreadable).
    pub fn overrides(&self, workspace: &Workspace) -> Overrides {
        std::fs::read(self.path(workspace))
            .ok()
            .and_then(|bytes| serde_json::from_slice(&bytes).ok())
            .unwrap_or_default()
    }

    /// The effective limits of `workspace`.
    pub fn of(&self, workspace: &Workspace) -> Limits {
        let o = self.overrides(workspace);
        Limits {
            memory_mb: o.memory_mb.unwrap_or(self.defaults.memory_mb),
            cpu_ms: o.cpu_ms.unwrap_or(self.defaults.cpu_ms),
            disk_mb: o.disk_mb.unwrap_or(self.defaults.disk_mb),
        }
    }

    /// Stores `overrides` for `workspace` (written to a temporary file, then renamed).
    pub fn set(&self, workspace: &Workspace, overrides: &Overrides) -> std::io::Result<()> {
        std::fs::create_dir_all(&self.dir)?;
        let tmp = self.dir.join(format!(".{workspace}.json.tmp"));
        std::fs::write(&tmp, serde_json::to_vec(overrides)?)?;
        std::fs::rename(tmp, self.path(workspace))
    }

    /// Forgets the overrides of a deleted workspace.
    pub fn remove(&self, workspace: &Workspace) {
        let _ = std::fs::remove_file(self.path(workspace));
    }
}
