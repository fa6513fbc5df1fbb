//! The audit trail: one append-only JSON-lines file per workspace, outside every
//! workspace's directory (`LIGHTRAG_AUDIT_DIR`, default `WORKING_DIR/.host/audit`), so
//! a tenant's engine can neither read nor alter it.
//!
//! Entries record what happened to a workspace — instances opened, evicted,
//! finalized, faulted; model calls with purpose, model, tokens, latency and outcome;
//! limit hits; documents added and deleted; admin actions — and never document text,
//! prompts, answers or secrets. A file that grows past `LIGHTRAG_AUDIT_MAX_BYTES` is
//! rotated (`<name>.jsonl.1`, `.2`, `.3`; older ones are dropped).

use crate::workspace::Workspace;
use serde_json::{Map, Value, json};
use std::collections::HashMap;
use std::fs::{self, File, OpenOptions};
use std::io::{BufRead, BufReader, Read, Write};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

/// Rotated files kept per workspace.
const KEPT_ROTATIONS: usize = 3;

/// The audit trail of every workspace.
pub struct Audit {
    dir: PathBuf,
    max_bytes: u64,
    /// One lock per workspace, serialising its appends and rotations: no tenant's
    /// trail ever waits on another's.
    locks: Mutex<HashMap<String, Arc<Mutex<()>>>>,
}

impl Audit {
    /// A trail under `dir`, rotating files past `max_bytes`.
    pub fn new(dir: PathBuf, max_bytes: u64) -> Audit {
        Audit {
            dir,
            max_bytes: max_bytes.max(4096),
            locks: Mutex::new(HashMap::new()),
        }
    }

    /// The lock of `workspace`'s files.
    fn lock_of(&self, workspace: &str) -> Arc<Mutex<()>> {
        let mut locks = self.locks.lock().unwrap_or_else(|e| e.into_inner());
        locks.entry(workspace.to_string()).or_default().clone()
    }

    fn path(&self, workspace: &str, rotation: usize) -> PathBuf {
        match rotation {
            0 => self.dir.join(format!("{workspace}.jsonl")),
            n => self.dir.join(format!("{workspace}.jsonl.{n}")),
        }
    }

    /// Appends an entry `{"ts", "workspace", "event", …fields}`. Failures are logged,
    /// never returned: the audit must not break the request it describes.
    pub fn record(&self, workspace: &str, event: &str, fields: Value) {
        let mut entry = Map::new();
        entry.insert(
            "ts".into(),
            json!(chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)),
        );
        entry.insert("workspace".into(), json!(workspace));
        entry.insert("event".into(), json!(event));
        if let Value::Object(fields) = fields {
            entry.extend(fields);
        }
        let mut line = Value::Object(entry).to_string();
        line.push('\n');
        let lock = self.lock_of(workspace);
        let _guard = lock.lock().unwrap_or_else(|e| e.into_inner());
        if let Err(err) = self.append(workspace, line.as_bytes()) {
            tracing::warn!(%workspace, "cannot write the audit trail: {err}");
        }
    }

    fn append(&self, workspace: &str, line: &[u8]) -> std::io::Result<()> {
        fs::create_dir_all(&self.dir)?;
        let path = self.path(workspace, 0);
        if fs::metadata(&path).is_ok_and(|m| m.len() + line.len() as u64 > self.max_bytes) {
            for n in (1..KEPT_ROTATIONS).rev() {
                let _ = fs::rename(self.path(workspace, n), self.path(workspace, n + 1));
            }
            fs::rename(&path, self.path(workspace, 1))?;
        }
        OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)?
            .write_all(line)
    }

    /// Entries of `workspace`, oldest first (rotated files included), optionally only
    /// those of `event`; returns one page and the number of matching entries.
    ///
    /// The files are opened and measured under the workspace's lock, and read and
    /// parsed after it is released: a large trail being read never holds up the
    /// appends of the requests it describes (appends only add whole lines past the
    /// measured length, and a rotation renames files that stay open here).
    pub fn read(
        &self,
        workspace: &Workspace,
        event: Option<&str>,
        offset: usize,
        limit: usize,
    ) -> (Vec<Value>, usize) {
        let files: Vec<(File, u64)> = {
            let lock = self.lock_of(workspace.as_str());
            let _guard = lock.lock().unwrap_or_else(|e| e.into_inner());
            (0..=KEPT_ROTATIONS)
                .rev()
                .filter_map(|rotation| File::open(self.path(workspace.as_str(), rotation)).ok())
                .filter_map(|file| {
                    let len = file.metadata().ok()?.len();
                    Some((file, len))
                })
                .collect()
        };
        let mut matching = Vec::new();
        for (file, len) in files {
            for line in BufReader::new(file.take(len)).lines().map_while(Result::ok) {
                let Ok(entry) = serde_json::from_str::<Value>(&line) else {
                    continue;
                };
                if event.is_none_or(|e| entry["event"] == e) {
                    matching.push(entry);
                }
            }
        }
        let total = matching.len();
        let page = matching.into_iter().skip(offset).take(limit).collect();
        (page, total)
    }

    /// Removes the trail of a deleted workspace (the deletion itself is recorded in
    /// the server log).
    pub fn remove(&self, workspace: &Workspace) {
        let lock = self.lock_of(workspace.as_str());
        let _guard = lock.lock().unwrap_or_else(|e| e.into_inner());
        for rotation in 0..=KEPT_ROTATIONS {
            let _ = fs::remove_file(self.path(workspace.as_str(), rotation));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Regression: one mutex serialised every workspace's appends and reads, and a read
    /// parsed up to 40 MB under it — every tenant's requests waited for one tenant's
    /// audit query. A workspace's trail now waits only on its own lock, and a read
    /// holds even that one only to open its files.
    #[test]
    fn no_trail_waits_on_another_workspaces_lock_or_on_a_read() {
        let dir = tempfile::tempdir().unwrap();
        let audit = std::sync::Arc::new(Audit::new(dir.path().to_path_buf(), 1 << 20));
        let busy = Workspace::new("busy").unwrap();
        for i in 0..50 {
            audit.record("busy", "event", json!({ "i": i }));
        }
        // Another workspace's lock is held (as by an append or a read in progress).
        let lock = audit.lock_of("busy");
        let held = lock.lock().unwrap();
        let (done_tx, done_rx) = std::sync::mpsc::channel();
        let other = audit.clone();
        std::thread::spawn(move || {
            other.record("quiet", "event", json!({}));
            done_tx.send(()).unwrap();
        });
        done_rx
            .recv_timeout(std::time::Duration::from_secs(10))
            .expect("an append to another workspace waited for a foreign lock");
        drop(held);
        // A read measures under the lock, then reads without it: appends made while it
        // parses are simply not part of its answer.
        let (entries, total) = audit.read(&busy, None, 0, 10);
        assert_eq!((entries.len(), total), (10, 50));
    }

    #[test]
    fn entries_rotate_and_read_back_in_order_with_filters() {
        let dir = tempfile::tempdir().unwrap();
        let audit = Audit::new(dir.path().to_path_buf(), 4096);
        let ws = Workspace::new("w").unwrap();
        let pad = "x".repeat(100);
        for i in 0..200 {
            let event = if i % 2 == 0 { "even" } else { "odd" };
            audit.record("w", event, json!({"i": i, "pad": pad}));
        }
        assert!(dir.path().join("w.jsonl.1").exists());
        let (page, total) = audit.read(&ws, Some("odd"), 0, 1000);
        assert!(
            total > 10 && total < 100,
            "rotation drops the oldest files: {total}"
        );
        assert!(page.iter().all(|e| e["event"] == "odd"));
        let numbers: Vec<i64> = page.iter().map(|e| e["i"].as_i64().unwrap()).collect();
        assert!(numbers.windows(2).all(|w| w[0] < w[1]), "oldest first");
        assert_eq!(*numbers.last().unwrap(), 199);
        let (second, _) = audit.read(&ws, Some("odd"), 2, 3);
        assert_eq!(second.len(), 3);
        assert_eq!(second[0]["i"], page[2]["i"]);
        audit.remove(&ws);
        assert_eq!(audit.read(&ws, None, 0, 10).1, 0);
    }
}
