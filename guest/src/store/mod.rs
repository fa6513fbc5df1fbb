//! Durable storage: a snapshot, an append-only checksummed journal, and a blob file
//! for bulky values.
//!
//! The engine keeps its tables in memory and makes every change durable *before* it
//! becomes visible: [`Store::commit`] moves the change's bulky values into the blob
//! file, appends the change's operations as one journal record, syncs, and only then
//! applies the operations to the in-memory state. A record is one transaction: on
//! open, a record whose length or CRC-32 does not check out (a write torn by `kill -9`
//! or power loss) ends the replay and is cut off, so a transaction is either wholly
//! present or absent.
//!
//! Compaction writes the state to `engine.snap.tmp`, syncs it, renames it over
//! `engine.snap`, then starts a new journal. Snapshot and journal both carry a
//! *generation*; a journal whose generation differs from the snapshot's predates it and
//! is ignored. So a crash at any point of compaction leaves either the old snapshot
//! with its journal or the new snapshot — never a state applied twice. Once the new
//! snapshot is renamed into place the old journal no longer counts: if starting the
//! new journal fails, commits are refused until a fresh journal is in place.
//!
//! Bulky values (see [`crate::payload`]) live in `engine.blobs.<epoch>`; the snapshot
//! names its epoch. When most of that file is dead, compaction copies the live values
//! into the next epoch's file, and the old one is deleted once the snapshot naming
//! the new one is durable.
//!
//! Snapshots name their state layout's version, and journals their operations'; a
//! state decodes the layouts of earlier versions it still understands, so a workspace
//! written by an older server opens in a newer one, and is rewritten in today's layout
//! right away (the next commit waits for that).
//!
//! # Layout
//!
//! * `journaled` — what a state must provide to be stored, and storage errors.
//! * `journal` — the journal's file format, read one record at a time.
//! * `snapshot` — the snapshot's file format, written and read as a stream.
//! * `blobs` — the blob file.
//! * `read_cache` — the blob file's values read lately.

mod blobs;
mod journal;
mod journaled;
mod read_cache;
mod snapshot;

pub use blobs::Blobs;
pub use journaled::{Journaled, StoreError};

use crate::payload::{BlobRef, Kind, Payload, Text};
use std::collections::HashMap;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

/// Compact automatically once the journal is this large and larger than the snapshot.
const AUTO_COMPACT_BYTES: u64 = 16 << 20;
/// Values up to this size stay in memory: a reference would not be much smaller.
const INLINE_MAX: usize = 64;
/// A blob file is rewritten when it holds more than twice its live bytes plus this.
const BLOB_SLACK: u64 = 8 << 20;

/// What [`Store::open`] found on disk.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Recovery {
    /// Journal records replayed on top of the snapshot.
    pub replayed: u64,
    /// Bytes of a torn or corrupt journal tail that were cut off.
    pub truncated_bytes: u64,
}

/// A state of type `S`, persisted under one directory.
pub struct Store<S: Journaled> {
    dir: PathBuf,
    journal: File,
    journal_len: u64,
    snapshot_len: u64,
    generation: u64,
    blobs: Blobs,
    state: S,
    /// Set when a failed append could not be rolled back: appending after a torn
    /// record would hide every later record from replay, so all commits must fail.
    poisoned: bool,
    /// Set when a new snapshot is in place but its journal could not be started:
    /// `journal` still belongs to the previous generation, which a reopen ignores, so
    /// nothing may be appended to it. Cleared once a journal of this generation exists.
    stale_journal: bool,
    /// Set while the files on disk are of an earlier layout: nothing may be appended
    /// in today's layout until a snapshot in today's layout is written.
    older_layout: bool,
    /// Whether exact vectors stay in memory rather than in the blob file.
    inline_vectors: bool,
    /// Most bytes of snapshot, journal and blobs; `None` = no limit.
    quota: Option<u64>,
}

/// Bytes of the quota kept for small bookkeeping writes (marking a document failed
/// because the quota is reached must itself still be possible).
const QUOTA_RESERVE: u64 = 64 * 1024;

impl<S: Journaled> Store<S> {
    /// Opens (or creates) the store in `dir`, replaying the journal.
    pub fn open(dir: &Path) -> Result<(Self, Recovery), StoreError> {
        fs::create_dir_all(dir)?;
        let (state, generation, epoch, snapshot_len, older) =
            match snapshot::read::<S>(&dir.join("engine.snap"))? {
                Some(loaded) => {
                    let mut state = loaded.state;
                    state.after_load();
                    let (generation, epoch) = (loaded.generation, loaded.epoch);
                    (state, generation, epoch, loaded.len, loaded.older)
                }
                None => (S::default(), 0, 0, 0, false),
            };
        Blobs::remove_others(dir, epoch);
        let blobs = Blobs::open(dir, epoch)?;
        let path = dir.join("engine.jrnl");
        let header = journal::read_header(&path)?.filter(|h| h.generation == generation);
        if header.is_none() {
            // A journal from before the snapshot (or never written): start afresh.
            let tmp = dir.join("engine.jrnl.tmp");
            journal::write_header(&tmp, generation)?;
            fs::rename(&tmp, &path)?;
            sync_dir(dir)?;
        }
        let layout = header.map_or(journal::LAYOUT, |h| h.layout);
        let mut store = Store {
            dir: dir.to_path_buf(),
            journal: OpenOptions::new().append(true).open(&path)?,
            journal_len: journal::HEADER,
            snapshot_len,
            generation,
            blobs,
            state,
            poisoned: false,
            stale_journal: false,
            older_layout: older || layout != journal::LAYOUT,
            inline_vectors: false,
            quota: None,
        };
        let recovery = store.replay(layout)?;
        if store.older_layout {
            // Rewritten in today's layout now; if that fails (a full disk), reads
            // still work and the next commit tries again.
            let _ = store.compact();
        }
        Ok((store, recovery))
    }

    /// The current state.
    pub fn state(&self) -> &S {
        &self.state
    }

    /// The blob file, to read stored payloads.
    pub fn blobs(&self) -> &Blobs {
        &self.blobs
    }

    /// The text, read from the blob file if it is stored there.
    pub fn read_text(&self, text: &Text) -> Result<String, StoreError> {
        text.read(&self.blobs).map_err(StoreError::from)
    }

    /// Bytes used on disk by the snapshot, the journal and the blob file.
    pub fn disk_bytes(&self) -> u64 {
        self.snapshot_len + self.journal_len + self.blobs.len()
    }

    /// Limits snapshot, journal and blobs to `bytes` (0 = no limit).
    pub fn set_quota(&mut self, bytes: u64) {
        self.quota = (bytes > 0).then_some(bytes);
    }

    /// Keeps exact vectors in memory (`true`) or in the blob file. Switching to memory
    /// reads every stored vector back now.
    pub fn set_inline_vectors(&mut self, inline: bool) -> Result<(), StoreError> {
        self.inline_vectors = inline;
        if inline {
            let blobs = &self.blobs;
            self.state.payloads(&mut |kind, payload| {
                if let (Kind::Vector, Payload::Stored(blob)) = (kind, &*payload) {
                    *payload = Payload::Inline(blobs.read_uncached(*blob)?);
                }
                Ok(())
            })?;
        }
        Ok(())
    }

    /// Makes `ops` durable as one transaction, then applies them. On error nothing is
    /// applied and the journal is as before.
    pub fn commit(&mut self, ops: Vec<S::Op>) -> Result<(), StoreError> {
        self.write(ops, true, QUOTA_RESERVE)
    }

    /// Like [`Store::commit`], but may use the quota's small reserve: for bookkeeping
    /// that must succeed even when the quota is reached (a document's failed status).
    pub fn commit_reserved(&mut self, ops: Vec<S::Op>) -> Result<(), StoreError> {
        self.write(ops, true, 0)
    }

    /// Like [`Store::commit_reserved`] but without waiting for the disk, reporting
    /// failure: for bookkeeping a crash may lose without harm. The record becomes
    /// durable with the next commit that waits.
    pub fn commit_unsynced(&mut self, ops: Vec<S::Op>) -> Result<(), StoreError> {
        self.write(ops, false, 0)
    }

    /// Like [`Store::commit`] but without waiting for the disk: for data that may be
    /// lost in a crash (cached answers). The record becomes durable with the next
    /// commit; if the machine stops first it is at worst a torn tail, cut off on open.
    /// A failure only means the change is not kept, so it is not reported.
    pub fn commit_lazy(&mut self, ops: Vec<S::Op>) {
        let _ = self.write(ops, false, QUOTA_RESERVE);
    }

    fn write(&mut self, mut ops: Vec<S::Op>, sync: bool, reserve: u64) -> Result<(), StoreError> {
        if ops.is_empty() {
            return Ok(());
        }
        if self.older_layout {
            self.compact().map_err(|err| {
                StoreError::Io(format!(
                    "the workspace's files must first be rewritten in this server's layout, \
                     which failed: {err}"
                ))
            })?;
        }
        if self.stale_journal {
            self.start_journal().map_err(|err| {
                StoreError::Io(format!(
                    "storage is unavailable until a failed compaction is repaired: {err}"
                ))
            })?;
        }
        if self.poisoned {
            return Err(StoreError::Io(
                "storage is unusable after an earlier write failure; reopen the workspace".into(),
            ));
        }
        let blobs_before = self.blobs.len();
        let result = self.spill_and_append(&mut ops, sync, reserve);
        if let Err(err) = result {
            self.blobs.truncate(blobs_before);
            return Err(err);
        }
        for op in ops {
            self.state.apply(op);
        }
        // Only commits that wait for the disk anyway compact: a lazy write (a query
        // caching its answer) must stay cheap.
        if sync && self.journal_len > AUTO_COMPACT_BYTES && self.journal_len > self.snapshot_len {
            // A failed compaction leaves the old snapshot and journal in place, which
            // are complete; the next commit or `finalize` tries again.
            let _ = self.compact();
        }
        Ok(())
    }

    /// Moves the operations' bulky values to the blob file, then appends the record.
    fn spill_and_append(
        &mut self,
        ops: &mut [S::Op],
        sync: bool,
        reserve: u64,
    ) -> Result<(), StoreError> {
        let (blobs, inline_vectors) = (&mut self.blobs, self.inline_vectors);
        let blobs_before = blobs.len();
        for op in ops.iter_mut() {
            S::op_payloads(op, &mut |kind, payload| {
                spill(blobs, inline_vectors, kind, payload)
            })?;
        }
        let payload = postcard::to_stdvec(&*ops)
            .map_err(|e| StoreError::Io(format!("cannot encode a change: {e}")))?;
        let record = journal::frame(&payload)
            .ok_or_else(|| StoreError::Io("a single change is larger than 1 GiB".into()))?;
        if let Some(quota) = self.quota {
            let after = self.disk_bytes() + record.len() as u64;
            if after + reserve > quota {
                return Err(StoreError::Full(format!(
                    "the workspace's storage quota of {} MiB is used up (this change needs {} \
                     bytes more); delete documents or raise LIGHTRAG_WORKSPACE_DISK_MB",
                    quota >> 20,
                    after + reserve - quota
                )));
            }
        }
        // The values must be on disk before a record that refers to them.
        let spilled = self.blobs.len() > blobs_before;
        if spilled {
            self.blobs.flush(sync)?;
        }
        if let Err(err) = self.append(&record, sync) {
            self.roll_back();
            return Err(err.into());
        }
        self.journal_len += record.len() as u64;
        Ok(())
    }

    /// Replaces every part of the state at once (used by "delete everything").
    pub fn reset(&mut self, ops: Vec<S::Op>) -> Result<(), StoreError> {
        self.commit(ops)?;
        self.compact()
    }

    /// Writes a snapshot of the current state and starts an empty journal, first
    /// moving bulky values still in memory to the blob file, and rewriting the blob
    /// file if it is mostly dead.
    pub fn compact(&mut self) -> Result<(), StoreError> {
        let (blobs, inline_vectors) = (&mut self.blobs, self.inline_vectors);
        self.state
            .payloads(&mut |kind, payload| spill(blobs, inline_vectors, kind, payload))?;
        self.blobs.flush(true)?;
        let mut live = 0u64;
        self.state.payloads(&mut |_, payload| {
            if let Payload::Stored(blob) = payload {
                live += u64::from(blob.len);
            }
            Ok(())
        })?;
        let rewritten = if self.blobs.len() > 2 * live + BLOB_SLACK {
            Some(self.rewrite_blobs()?)
        } else {
            None
        };
        let next = self.generation + 1;
        let written = snapshot::write::<S>(&self.dir, next, self.blobs.epoch(), &self.state);
        let snapshot_len = match written {
            Ok(len) => len,
            Err(err) => {
                if let Some(moved) = rewritten {
                    self.undo_rewrite(moved);
                }
                return Err(err);
            }
        };
        // The new snapshot is in place: from here on a reopen ignores the old journal,
        // so the state in memory (all of which the snapshot holds) must go on in a
        // journal of the new generation, or commits stop until one exists.
        self.generation = next;
        self.snapshot_len = snapshot_len;
        self.stale_journal = true;
        self.older_layout = false;
        self.start_journal()?;
        if let Some(moved) = rewritten {
            // Durable now (the journal's start synced the directory): the old file goes.
            moved.old.delete();
        }
        Ok(())
    }

    /// Copies every live value into the blob file of the next epoch, which becomes the
    /// store's. The state refers to the new file afterwards.
    fn rewrite_blobs(&mut self) -> Result<Rewrite, StoreError> {
        let mut fresh = Blobs::open(&self.dir, self.blobs.epoch() + 1)?;
        let mut moved: HashMap<u64, BlobRef> = HashMap::new();
        let old = &self.blobs;
        let copied = self.state.payloads(&mut |_, payload| {
            if let Payload::Stored(blob) = payload {
                let bytes = old.read_uncached(*blob)?;
                let new = fresh.put(&bytes)?;
                moved.insert(new.offset, *blob);
                *payload = Payload::Stored(new);
            }
            Ok(())
        });
        let rewrite_failed = copied.and_then(|()| fresh.flush(true));
        let old = std::mem::replace(&mut self.blobs, fresh);
        let rewrite = Rewrite { old, moved };
        if let Err(err) = rewrite_failed {
            self.undo_rewrite(rewrite);
            return Err(err.into());
        }
        Ok(rewrite)
    }

    /// Points the state back at the old blob file and deletes the new one.
    fn undo_rewrite(&mut self, rewrite: Rewrite) {
        let Rewrite { old, moved } = rewrite;
        // Cannot fail: the visitor only swaps references.
        let _ = self.state.payloads(&mut |_, payload| {
            if let Payload::Stored(blob) = payload
                && let Some(original) = moved.get(&blob.offset)
            {
                *payload = Payload::Stored(*original);
            }
            Ok(())
        });
        std::mem::replace(&mut self.blobs, old).delete();
    }

    /// Compacts if anything was committed since the last snapshot and the journal is
    /// large enough, relative to the snapshot, to be worth replacing (or must be
    /// replaced). Rewriting a large snapshot because one answer was cached would make
    /// every eviction cost as much as the workspace is large.
    pub fn compact_if_worthwhile(&mut self) -> Result<(), StoreError> {
        let journaled = self.journal_len - journal::HEADER;
        if self.stale_journal
            || self.older_layout
            || (journaled > 0 && (self.snapshot_len == 0 || journaled * 8 >= self.snapshot_len))
        {
            return self.compact();
        }
        Ok(())
    }

    /// Starts an empty journal of the current generation.
    fn start_journal(&mut self) -> Result<(), StoreError> {
        // The snapshot's rename must be durable before a journal claims its generation.
        sync_dir(&self.dir)?;
        let tmp = self.dir.join("engine.jrnl.tmp");
        journal::write_header(&tmp, self.generation)?;
        fs::rename(&tmp, self.dir.join("engine.jrnl"))?;
        sync_dir(&self.dir)?;
        self.journal = OpenOptions::new()
            .append(true)
            .open(self.dir.join("engine.jrnl"))?;
        self.journal_len = journal::HEADER;
        self.stale_journal = false;
        // A torn record in the old journal no longer matters: the snapshot holds
        // exactly the applied state.
        self.poisoned = false;
        Ok(())
    }

    fn append(&mut self, record: &[u8], sync: bool) -> io::Result<()> {
        self.journal.write_all(record)?;
        if sync {
            self.journal.sync_data()?;
        }
        Ok(())
    }

    /// Cuts a partly written record off again, or refuses further commits.
    fn roll_back(&mut self) {
        let ok = self.journal.set_len(self.journal_len).is_ok() && self.journal.sync_data().is_ok();
        if !ok {
            self.poisoned = true;
        }
    }

    /// Applies every intact record of the current generation's journal, one at a time.
    fn replay(&mut self, layout: u8) -> Result<Recovery, StoreError> {
        let path = self.dir.join("engine.jrnl");
        let mut records = journal::Records::open(&path)?;
        let mut recovery = Recovery::default();
        while let Some(payload) = records.next_payload() {
            let ops = if layout == journal::LAYOUT {
                postcard::from_bytes::<Vec<S::Op>>(payload).ok()
            } else {
                S::decode_older_ops(layout, payload)
            };
            // A record that checks out but does not decode was not written by a
            // server that could read it: the replay ends there, as at a torn write.
            let Some(ops) = ops else {
                break;
            };
            for op in ops {
                self.state.apply(op);
            }
            recovery.replayed += 1;
        }
        let end = records.end;
        let file_len = fs::metadata(&path)?.len();
        recovery.truncated_bytes = file_len - end;
        if recovery.truncated_bytes > 0 {
            let file = OpenOptions::new().write(true).open(&path)?;
            file.set_len(end)?;
            file.sync_all()?;
        }
        self.journal_len = end;
        Ok(recovery)
    }
}

/// What [`Store::rewrite_blobs`] replaced: the previous file, and for every moved
/// value its new offset → its old reference.
struct Rewrite {
    old: Blobs,
    moved: HashMap<u64, BlobRef>,
}

/// Moves one inline value to `blobs` if it belongs there.
fn spill(
    blobs: &mut Blobs,
    inline_vectors: bool,
    kind: Kind,
    payload: &mut Payload,
) -> io::Result<()> {
    if let Payload::Inline(bytes) = payload
        && bytes.len() > INLINE_MAX
        && !(kind == Kind::Vector && inline_vectors)
    {
        *payload = Payload::Stored(blobs.put(bytes)?);
    }
    Ok(())
}

/// Makes a rename durable.
fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

#[cfg(test)]
mod tests;
