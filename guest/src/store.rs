//! Durable storage: a snapshot plus an append-only, checksummed journal.
//!
//! The engine keeps its whole state in memory (as LightRAG's file storages do) and
//! makes every change durable *before* it becomes visible: [`Store::commit`] appends the
//! change's operations as one journal record, syncs the file, and only then applies the
//! operations to the in-memory state. A record is one transaction: on open, a record
//! whose length or CRC-32 does not check out (a write torn by `kill -9` or power loss)
//! ends the replay and is cut off, so a transaction is either wholly present or absent.
//!
//! Compaction writes the state to `engine.snap.tmp`, syncs it, renames it over
//! `engine.snap`, then starts a new journal. Snapshot and journal both carry a
//! *generation*; a journal whose generation differs from the snapshot's predates it and
//! is ignored. So a crash at any point of compaction leaves either the old snapshot
//! with its journal or the new snapshot — never a state applied twice.
//!
//! Once the new snapshot is renamed into place, the old generation's journal no longer
//! counts: if starting the new journal fails, commits are refused (not appended to a
//! journal that reopening would ignore) until a fresh journal is in place.
//!
//! `finalize` compacts when the journal has grown enough to be worth it, but nothing
//! depends on it: the journal alone is enough.
//!
//! Snapshots name their layout's version in their magic (`LRSNAP02`); a state type
//! decodes the layouts of earlier versions it still understands, so a workspace
//! written by an older server opens in a newer one.

use serde::{Serialize, de::DeserializeOwned};
use std::fs::{self, File, OpenOptions};
use std::io::{self, BufWriter, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

/// The snapshot magic is this prefix and the layout version in two ASCII digits.
const SNAPSHOT_PREFIX: &[u8; 6] = b"LRSNAP";
const JOURNAL_MAGIC: &[u8; 8] = b"LRJRNL01";
/// Magic + generation.
const JOURNAL_HEADER: u64 = 16;
/// Length + CRC-32 before each record's payload.
const RECORD_HEADER: usize = 8;
/// A record larger than this is treated as corruption rather than allocated.
const MAX_RECORD: u32 = 1 << 30;
/// Compact automatically once the journal is this large and larger than the snapshot.
const AUTO_COMPACT_BYTES: u64 = 16 << 20;

/// State that can be rebuilt by replaying operations.
pub trait Journaled: Serialize + DeserializeOwned + Default {
    /// One change to the state. New kinds of change are only ever added at the end,
    /// so journals written before them still decode.
    type Op: Serialize + DeserializeOwned;
    /// The snapshot layout this type writes (1-99).
    const FORMAT: u8 = 1;
    /// Applies one change. Must not fail: operations were validated before commit.
    fn apply(&mut self, op: Self::Op);
    /// Rebuilds derived indexes after a snapshot was loaded.
    fn after_load(&mut self) {}
    /// Decodes a snapshot payload of an earlier layout; `None` if it is not one this
    /// type still reads.
    fn decode_older(format: u8, payload: &[u8]) -> Option<Self> {
        let _ = (format, payload);
        None
    }
}

/// Storage failures, as the engine reports them.
#[derive(Debug)]
pub enum StoreError {
    /// The disk (or the workspace's quota) is full; nothing was changed.
    Full(String),
    /// Any other I/O failure; nothing was changed.
    Io(String),
}

impl std::fmt::Display for StoreError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StoreError::Full(msg) | StoreError::Io(msg) => f.write_str(msg),
        }
    }
}

impl From<io::Error> for StoreError {
    fn from(err: io::Error) -> Self {
        // WASI reports ENOSPC / EDQUOT through std's error kinds.
        match err.kind() {
            io::ErrorKind::StorageFull | io::ErrorKind::QuotaExceeded => {
                StoreError::Full(format!("storage full: {err}"))
            }
            _ => StoreError::Io(format!("storage error: {err}")),
        }
    }
}

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
    state: S,
    /// Set when a failed append could not be rolled back: appending after a torn
    /// record would hide every later record from replay, so all commits must fail.
    poisoned: bool,
    /// Set when a new snapshot is in place but its journal could not be started:
    /// `journal` still belongs to the previous generation, which a reopen ignores, so
    /// nothing may be appended to it. Cleared once a journal of this generation exists.
    stale_journal: bool,
    /// Most bytes of snapshot plus journal; `None` = no limit.
    quota: Option<u64>,
}

/// Bytes of the quota kept for small bookkeeping writes (marking a document failed
/// because the quota is reached must itself still be possible).
const QUOTA_RESERVE: u64 = 64 * 1024;

impl<S: Journaled> Store<S> {
    /// Opens (or creates) the store in `dir`, replaying the journal.
    pub fn open(dir: &Path) -> Result<(Self, Recovery), StoreError> {
        fs::create_dir_all(dir)?;
        let (state, generation, snapshot_len) = match read_snapshot::<S>(&dir.join("engine.snap"))?
        {
            Some((mut state, generation, len)) => {
                state.after_load();
                (state, generation, len)
            }
            None => (S::default(), 0, 0),
        };
        let mut store = Store {
            dir: dir.to_path_buf(),
            journal: new_journal(dir, generation)?,
            journal_len: JOURNAL_HEADER,
            snapshot_len,
            generation,
            state,
            poisoned: false,
            stale_journal: false,
            quota: None,
        };
        let recovery = store.replay()?;
        Ok((store, recovery))
    }

    /// The current state.
    pub fn state(&self) -> &S {
        &self.state
    }

    /// Bytes used on disk by the snapshot and the journal.
    pub fn disk_bytes(&self) -> u64 {
        self.snapshot_len + self.journal_len
    }

    /// Limits snapshot plus journal to `bytes` (0 = no limit).
    pub fn set_quota(&mut self, bytes: u64) {
        self.quota = (bytes > 0).then_some(bytes);
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

    /// Like [`Store::commit`] but without waiting for the disk: for data that may be
    /// lost in a crash (cached answers). The record becomes durable with the next
    /// commit; if the machine stops first it is at worst a torn tail, cut off on open.
    /// A failure only means the change is not kept, so it is not reported.
    pub fn commit_lazy(&mut self, ops: Vec<S::Op>) {
        let _ = self.write(ops, false, QUOTA_RESERVE);
    }

    fn write(&mut self, ops: Vec<S::Op>, sync: bool, reserve: u64) -> Result<(), StoreError> {
        if ops.is_empty() {
            return Ok(());
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
        let payload = postcard::to_stdvec(&ops)
            .map_err(|e| StoreError::Io(format!("cannot encode a change: {e}")))?;
        let len = u32::try_from(payload.len())
            .ok()
            .filter(|&len| len <= MAX_RECORD)
            .ok_or_else(|| StoreError::Io("a single change is larger than 1 GiB".into()))?;
        if let Some(quota) = self.quota {
            let after = self.disk_bytes() + (RECORD_HEADER + payload.len()) as u64;
            if after + reserve > quota {
                return Err(StoreError::Full(format!(
                    "the workspace's storage quota of {} MiB is used up (this change needs {} \
                     bytes more); delete documents or raise LIGHTRAG_WORKSPACE_DISK_MB",
                    quota >> 20,
                    after + reserve - quota
                )));
            }
        }
        let mut record = Vec::with_capacity(RECORD_HEADER + payload.len());
        record.extend_from_slice(&len.to_le_bytes());
        record.extend_from_slice(&crc32fast::hash(&payload).to_le_bytes());
        record.extend_from_slice(&payload);
        if let Err(err) = self.append(&record, sync) {
            self.roll_back();
            return Err(err.into());
        }
        self.journal_len += record.len() as u64;
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

    /// Replaces every part of the state at once (used by "delete everything").
    pub fn reset(&mut self, ops: Vec<S::Op>) -> Result<(), StoreError> {
        self.commit(ops)?;
        self.compact()
    }

    /// Writes a snapshot of the current state and starts an empty journal.
    pub fn compact(&mut self) -> Result<(), StoreError> {
        let next = self.generation + 1;
        let snapshot_len = write_snapshot::<S>(&self.dir, next, &self.state)?;
        // The new snapshot is in place: from here on a reopen ignores the old journal,
        // so the state in memory (all of which the snapshot holds) must go on in a
        // journal of the new generation, or commits stop until one exists.
        self.generation = next;
        self.snapshot_len = snapshot_len;
        self.stale_journal = true;
        self.start_journal()
    }

    /// Compacts if anything was committed since the last snapshot and the journal is
    /// large enough, relative to the snapshot, to be worth replacing (or must be
    /// replaced). Rewriting a large snapshot because one answer was cached would make
    /// every eviction cost as much as the workspace is large.
    pub fn compact_if_worthwhile(&mut self) -> Result<(), StoreError> {
        let journaled = self.journal_len - JOURNAL_HEADER;
        if self.stale_journal
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
        write_journal_header(&tmp, self.generation)?;
        fs::rename(&tmp, self.dir.join("engine.jrnl"))?;
        sync_dir(&self.dir)?;
        self.journal = OpenOptions::new()
            .append(true)
            .open(self.dir.join("engine.jrnl"))?;
        self.journal_len = JOURNAL_HEADER;
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

    /// Applies every intact record of the current generation's journal.
    fn replay(&mut self) -> Result<Recovery, StoreError> {
        let path = self.dir.join("engine.jrnl");
        let mut bytes = Vec::new();
        File::open(&path)?.read_to_end(&mut bytes)?;
        let mut recovery = Recovery::default();
        if bytes.len() < JOURNAL_HEADER as usize
            || &bytes[..8] != JOURNAL_MAGIC
            || u64::from_le_bytes(bytes[8..16].try_into().unwrap_or_default()) != self.generation
        {
            // A journal from before the snapshot (or never written): start afresh.
            self.journal = new_journal(&self.dir, self.generation)?;
            return Ok(recovery);
        }
        let mut at = JOURNAL_HEADER as usize;
        while let Some((ops, next)) = decode_record::<S::Op>(&bytes, at) {
            for op in ops {
                self.state.apply(op);
            }
            recovery.replayed += 1;
            at = next;
        }
        recovery.truncated_bytes = (bytes.len() - at) as u64;
        if recovery.truncated_bytes > 0 {
            let file = OpenOptions::new().write(true).open(&path)?;
            file.set_len(at as u64)?;
            file.sync_all()?;
        }
        self.journal = OpenOptions::new().append(true).open(&path)?;
        self.journal_len = at as u64;
        Ok(recovery)
    }
}

/// Decodes the record at `at`, returning its operations and where the next starts.
fn decode_record<O: DeserializeOwned>(bytes: &[u8], at: usize) -> Option<(Vec<O>, usize)> {
    let header = bytes.get(at..at + RECORD_HEADER)?;
    let len = u32::from_le_bytes(header[..4].try_into().ok()?);
    let crc = u32::from_le_bytes(header[4..].try_into().ok()?);
    if len > MAX_RECORD {
        return None;
    }
    let start = at + RECORD_HEADER;
    let payload = bytes.get(start..start + len as usize)?;
    if crc32fast::hash(payload) != crc {
        return None;
    }
    let ops = postcard::from_bytes(payload).ok()?;
    Some((ops, start + len as usize))
}

/// Creates an empty journal of `generation` if none of that generation exists.
fn new_journal(dir: &Path, generation: u64) -> Result<File, StoreError> {
    let path = dir.join("engine.jrnl");
    let current = fs::read(&path).ok().filter(|bytes| {
        bytes.len() >= JOURNAL_HEADER as usize
            && &bytes[..8] == JOURNAL_MAGIC
            && bytes[8..16] == generation.to_le_bytes()
    });
    if current.is_none() {
        let tmp = dir.join("engine.jrnl.tmp");
        write_journal_header(&tmp, generation)?;
        fs::rename(&tmp, &path)?;
        sync_dir(dir)?;
    }
    Ok(OpenOptions::new().append(true).open(&path)?)
}

fn write_journal_header(path: &Path, generation: u64) -> io::Result<()> {
    let mut file = File::create(path)?;
    file.write_all(JOURNAL_MAGIC)?;
    file.write_all(&generation.to_le_bytes())?;
    file.sync_all()
}

/// Snapshot layout: magic (with the layout version), generation, payload length,
/// CRC-32, postcard payload.
///
/// The payload is encoded straight into the file, with its length and checksum
/// filled in afterwards: an encoded copy of the whole state next to the state would
/// double the memory a large workspace needs at the moment it is compacted.
fn write_snapshot<S: Journaled>(dir: &Path, generation: u64, state: &S) -> Result<u64, StoreError> {
    let tmp = dir.join("engine.snap.tmp");
    let mut file = File::create(&tmp)?;
    file.write_all(SNAPSHOT_PREFIX)?;
    file.write_all(format!("{:02}", S::FORMAT).as_bytes())?;
    file.write_all(&generation.to_le_bytes())?;
    file.write_all(&[0; 12])?;
    let mut out = BufWriter::with_capacity(
        1 << 16,
        Checksummed {
            file,
            crc: crc32fast::Hasher::new(),
            len: 0,
            failure: None,
        },
    );
    let encoded = postcard::to_io(state, &mut out).map(|_| ());
    let flushed = out.into_inner().map_err(|e| e.into_error());
    let mut payload = match (encoded, flushed) {
        (Ok(()), Ok(payload)) => payload,
        // The encoder reports a failed write only as "buffer full"; the writer kept
        // the real error, which tells a full disk from other failures.
        (_, Err(err)) => return Err(err.into()),
        (Err(err), Ok(payload)) => {
            return Err(match payload.failure {
                Some(kind) => io::Error::from(kind).into(),
                None => StoreError::Io(format!("cannot encode the snapshot: {err}")),
            });
        }
    };
    payload.file.seek(SeekFrom::Start(16))?;
    payload.file.write_all(&payload.len.to_le_bytes())?;
    payload
        .file
        .write_all(&payload.crc.finalize().to_le_bytes())?;
    payload.file.sync_all()?;
    drop(payload.file);
    // Nothing after the rename may fail here: once it happened the caller must know
    // (the directory sync that makes it durable is the new journal's first step).
    fs::rename(&tmp, dir.join("engine.snap"))?;
    Ok(28 + payload.len)
}

/// The snapshot file behind its header: checksums and counts what is written, and
/// keeps the kind of the first failed write.
struct Checksummed {
    file: File,
    crc: crc32fast::Hasher,
    len: u64,
    failure: Option<io::ErrorKind>,
}

impl Write for Checksummed {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.file.write(buf).inspect_err(|err| {
            self.failure.get_or_insert(err.kind());
        })?;
        self.crc.update(&buf[..n]);
        self.len += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.file.flush()
    }
}

/// Reads a snapshot; `None` when there is none. A damaged snapshot is an error, not
/// an empty workspace: silently starting empty would look like data loss.
fn read_snapshot<S: Journaled>(path: &Path) -> Result<Option<(S, u64, u64)>, StoreError> {
    let mut file = match File::open(path) {
        Ok(file) => file,
        Err(err) if err.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(err) => return Err(err.into()),
    };
    let mut header = [0u8; 28];
    file.read_exact(&mut header)?;
    let damaged = || StoreError::Io(format!("snapshot {} is damaged", path.display()));
    let format = std::str::from_utf8(&header[6..8])
        .ok()
        .and_then(|digits| digits.parse::<u8>().ok())
        .filter(|_| &header[..6] == SNAPSHOT_PREFIX)
        .ok_or_else(damaged)?;
    if format > S::FORMAT {
        return Err(StoreError::Io(format!(
            "snapshot {} was written by a newer server (layout {format}, this one reads up \
             to {}); upgrade the server",
            path.display(),
            S::FORMAT
        )));
    }
    let generation = u64::from_le_bytes(header[8..16].try_into().map_err(|_| damaged())?);
    let len = u64::from_le_bytes(header[16..24].try_into().map_err(|_| damaged())?);
    let crc = u32::from_le_bytes(header[24..28].try_into().map_err(|_| damaged())?);
    let mut payload = Vec::new();
    file.seek(SeekFrom::Start(28))?;
    file.read_to_end(&mut payload)?;
    if payload.len() as u64 != len || crc32fast::hash(&payload) != crc {
        return Err(damaged());
    }
    let state = if format == S::FORMAT {
        postcard::from_bytes(&payload).ok()
    } else {
        S::decode_older(format, &payload)
    };
    Ok(Some((state.ok_or_else(damaged)?, generation, 28 + len)))
}

/// Makes a rename durable.
fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

#[cfg(test)]
mod tests;
