//! The blob file: an append-only file of values moved out of memory (see
//! [`crate::payload`]).
//!
//! `engine.blobs.<epoch>` starts with a header (magic and epoch) and then holds
//! values back to back; each is addressed by a [`BlobRef`] (offset, length,
//! checksum). The checksum is the low 32 bits of the value's XXH3-64 (`LRBLOB02`):
//! queries read and check hundreds of values each, and in wasm CRC-32 ran at 1.5 GB/s
//! against XXH3's 10-16. Files of the first layout (`LRBLOB01`, CRC-32) are still
//! read, and appended to, in their own checksum; compaction's rewrite moves their
//! values into a file of today's layout.
//! Values are appended and synced *before* the journal record that refers to them, so
//! a durable record never points at bytes that are not. A crash between the two only
//! leaves unreferenced bytes at the end, which cost space until the next rewrite.
//!
//! Nothing in the file is ever overwritten. Space held by values no longer referenced
//! is reclaimed by compaction, which copies the live values into the file of the next
//! epoch; the snapshot names the epoch it refers to, so the old file is deleted only
//! once that snapshot is durable.

use super::read_cache::ReadCache;
use crate::payload::{BlobRef, BlobSource};
use std::cell::RefCell;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

/// Today's layout: values checked by XXH3.
const MAGIC: &[u8; 8] = b"LRBLOB02";
/// The first layout: values checked by CRC-32.
const MAGIC_V1: &[u8; 8] = b"LRBLOB01";
const HEADER: u64 = 16;
const PREFIX: &str = "engine.blobs.";
/// Values of this size or more are written without buffering.
const DIRECT_WRITE: usize = 64 * 1024;
/// Buffered values go out once they reach this size. Compaction copies every live
/// value through [`Blobs::put`] before one final flush; unbounded, the buffer grew
/// to the size of all of them, and a single allocation of hundreds of megabytes
/// trapped workspaces of ~13,000 chunks under a 512 MiB limit.
const PENDING_LIMIT: usize = 1 << 20;

/// One blob file, open for appending and reading.
pub struct Blobs {
    path: PathBuf,
    epoch: u64,
    /// How this file's values are checked.
    sum: Sum,
    writer: File,
    reader: File,
    /// Bytes in the file, plus those waiting in `pending`.
    len: u64,
    /// Appended values not yet written: a commit's values go out in one write.
    pending: Vec<u8>,
    /// Values read lately (see `read_cache`).
    cache: RefCell<ReadCache>,
}

impl Blobs {
    /// Opens the blob file of `epoch` in `dir`, creating it if there is none.
    pub fn open(dir: &Path, epoch: u64) -> io::Result<Blobs> {
        let path = dir.join(format!("{PREFIX}{epoch}"));
        if !path.exists() {
            let tmp = dir.join(format!("{PREFIX}tmp"));
            let mut file = File::create(&tmp)?;
            file.write_all(MAGIC)?;
            file.write_all(&epoch.to_le_bytes())?;
            file.sync_all()?;
            fs::rename(&tmp, &path)?;
            File::open(dir)?.sync_all()?;
        }
        let mut reader = File::open(&path)?;
        let mut header = [0u8; HEADER as usize];
        reader.read_exact(&mut header)?;
        let sum = match &header[..8] {
            magic if magic == MAGIC => Sum::Xxh3,
            magic if magic == MAGIC_V1 => Sum::Crc32,
            _ => Sum::Unknown,
        };
        if sum == Sum::Unknown || header[8..] != epoch.to_le_bytes() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("{} is not the blob file of epoch {epoch}", path.display()),
            ));
        }
        let writer = OpenOptions::new().append(true).open(&path)?;
        let len = writer.metadata()?.len();
        Ok(Blobs {
            path,
            epoch,
            sum,
            writer,
            reader,
            len,
            pending: Vec::new(),
            cache: RefCell::default(),
        })
    }

    /// Deletes the blob files of every epoch but `keep` (left by a compaction that
    /// crashed, or replaced by one that finished).
    pub fn remove_others(dir: &Path, keep: u64) {
        let Ok(entries) = fs::read_dir(dir) else {
            return;
        };
        let current = format!("{PREFIX}{keep}");
        for entry in entries.flatten() {
            let name = entry.file_name();
            let name = name.to_string_lossy();
            if name.starts_with(PREFIX) && name != current {
                let _ = fs::remove_file(entry.path());
            }
        }
    }

    /// The epoch this file belongs to.
    pub fn epoch(&self) -> u64 {
        self.epoch
    }

    /// Bytes the file takes (or will, once pending values are written).
    pub fn len(&self) -> u64 {
        self.len
    }

    /// Whether the file holds no value.
    pub fn is_empty(&self) -> bool {
        self.len <= HEADER
    }

    /// Appends a value. Small values wait for [`Blobs::flush`], to go out in one
    /// write; a large one is written at once rather than copied (a document may be
    /// tens of megabytes).
    pub fn put(&mut self, bytes: &[u8]) -> io::Result<BlobRef> {
        let len = u32::try_from(bytes.len())
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "a value over 4 GiB"))?;
        let blob = BlobRef {
            offset: self.len,
            len,
            crc: self.sum.of(bytes),
        };
        if bytes.len() >= DIRECT_WRITE {
            self.flush(false)?;
            if let Err(err) = self.writer.write_all(bytes) {
                self.len = self.writer.metadata().map_or(self.len, |m| m.len());
                return Err(err);
            }
        } else {
            self.pending.extend_from_slice(bytes);
        }
        self.len += u64::from(len);
        if self.pending.len() >= PENDING_LIMIT {
            self.flush(false)?;
        }
        Ok(blob)
    }

    /// Writes pending values, and makes them durable if `sync`.
    pub fn flush(&mut self, sync: bool) -> io::Result<()> {
        if !self.pending.is_empty() {
            let written = self.writer.write_all(&self.pending);
            if written.is_err() {
                // Whatever part was written is unreferenced; count it, as it takes space.
                self.len = self.writer.metadata().map_or(self.len, |m| m.len());
            }
            self.pending.clear();
            written?;
        }
        if sync {
            self.writer.sync_data()?;
        }
        Ok(())
    }

    /// Drops values appended since the file was `len` bytes long (their commit failed
    /// before anything referred to them).
    pub fn truncate(&mut self, len: u64) {
        self.pending.clear();
        self.cache.get_mut().forget_from(len);
        if self.writer.set_len(len).is_ok() {
            self.len = len;
        } else {
            self.len = self.writer.metadata().map_or(self.len, |m| m.len());
        }
    }

    /// Deletes this file (a rewrite that was abandoned, or one that was replaced).
    pub fn delete(self) {
        let _ = fs::remove_file(&self.path);
    }

    /// The bytes of `blob` from the file, past the cache: for copies of every value
    /// (compaction's rewrite), which would push out what queries use and copy each
    /// value twice.
    pub fn read_uncached(&self, blob: BlobRef) -> io::Result<Vec<u8>> {
        let damaged = || {
            io::Error::new(
                io::ErrorKind::InvalidData,
                format!(
                    "a stored value ({} bytes at {} in {}) is damaged",
                    blob.len,
                    blob.offset,
                    self.path.display()
                ),
            )
        };
        let end = blob.offset + u64::from(blob.len);
        if blob.offset < HEADER || end > self.len - self.pending.len() as u64 {
            return Err(damaged());
        }
        let mut bytes = vec![0; blob.len as usize];
        let mut reader = &self.reader;
        reader.seek(SeekFrom::Start(blob.offset))?;
        reader.read_exact(&mut bytes).map_err(|_| damaged())?;
        if self.sum.of(&bytes) != blob.crc {
            return Err(damaged());
        }
        Ok(bytes)
    }
}

impl BlobSource for Blobs {
    fn read(&self, blob: BlobRef) -> io::Result<Vec<u8>> {
        if let Some(bytes) = self.cache.borrow_mut().get(blob) {
            return Ok(bytes);
        }
        let bytes = self.read_uncached(blob)?;
        self.cache.borrow_mut().put(blob, &bytes);
        Ok(bytes)
    }
}

/// A blob file's checksum, named by its magic.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Sum {
    Xxh3,
    Crc32,
    Unknown,
}

impl Sum {
    fn of(self, bytes: &[u8]) -> u32 {
        match self {
            // The low half of a 64-bit hash is as good a 32-bit check as any.
            Sum::Xxh3 => xxhash_rust::xxh3::xxh3_64(bytes) as u32,
            Sum::Crc32 | Sum::Unknown => crc32fast::hash(bytes),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_read_back_and_damage_is_detected() {
        let dir = tempfile::tempdir().unwrap();
        let mut blobs = Blobs::open(dir.path(), 3).unwrap();
        let a = blobs.put(b"first value").unwrap();
        let b = blobs.put(b"").unwrap();
        let c = blobs.put(&[7u8; 5000]).unwrap();
        blobs.flush(true).unwrap();
        assert_eq!(blobs.read(a).unwrap(), b"first value");
        assert_eq!(blobs.read(b).unwrap(), b"");
        assert_eq!(blobs.read(c).unwrap(), vec![7u8; 5000]);
        drop(blobs);
        // Reopened: the same values, appends go after them.
        let mut blobs = Blobs::open(dir.path(), 3).unwrap();
        assert_eq!(blobs.read(a).unwrap(), b"first value");
        let d = blobs.put(b"later").unwrap();
        blobs.flush(false).unwrap();
        assert!(d.offset > c.offset);
        assert_eq!(blobs.read(d).unwrap(), b"later");
        // A reference past the end, or to altered bytes, is an error, not garbage.
        let beyond = BlobRef {
            offset: blobs.len(),
            len: 1,
            crc: 0,
        };
        assert!(blobs.read(beyond).is_err());
        let wrong = BlobRef {
            crc: a.crc ^ 1,
            ..a
        };
        assert!(blobs.read(wrong).is_err());
        // Another epoch's file is not this one.
        let path = dir.path().join("engine.blobs.3");
        fs::copy(&path, dir.path().join("engine.blobs.4")).unwrap();
        assert!(Blobs::open(dir.path(), 4).is_err());
        Blobs::remove_others(dir.path(), 3);
        assert!(!dir.path().join("engine.blobs.4").exists());
        assert!(path.exists());
    }

    /// A blob file of the first layout (CRC-32) is still read, checked and appended to
    /// in its own checksum; a new file is of today's layout.
    #[test]
    fn a_crc32_blob_file_still_reads_and_a_new_one_uses_xxh3() {
        let dir = tempfile::tempdir().unwrap();
        let mut old = MAGIC_V1.to_vec();
        old.extend_from_slice(&5u64.to_le_bytes());
        old.extend_from_slice(b"kept value");
        fs::write(dir.path().join("engine.blobs.5"), &old).unwrap();
        let kept = BlobRef {
            offset: HEADER,
            len: 10,
            crc: crc32fast::hash(b"kept value"),
        };
        let mut blobs = Blobs::open(dir.path(), 5).unwrap();
        assert_eq!(blobs.read(kept).unwrap(), b"kept value");
        assert!(
            blobs
                .read(BlobRef {
                    crc: !kept.crc,
                    ..kept
                })
                .is_err()
        );
        let later = blobs.put(b"later").unwrap();
        blobs.flush(true).unwrap();
        assert_eq!(later.crc, crc32fast::hash(b"later"));
        assert_eq!(blobs.read(later).unwrap(), b"later");
        let mut fresh = Blobs::open(dir.path(), 6).unwrap();
        let value = fresh.put(b"fresh").unwrap();
        fresh.flush(true).unwrap();
        assert_eq!(value.crc, xxhash_rust::xxh3::xxh3_64(b"fresh") as u32);
        assert_eq!(fresh.read(value).unwrap(), b"fresh");
        assert_eq!(
            &fs::read(dir.path().join("engine.blobs.6")).unwrap()[..8],
            MAGIC
        );
    }

    /// A value read once is read again from memory; cutting the file back forgets
    /// what was past the cut, so a value written there later is the one read.
    #[test]
    fn values_read_again_come_from_memory_until_the_file_is_cut_back() {
        let dir = tempfile::tempdir().unwrap();
        let mut blobs = Blobs::open(dir.path(), 1).unwrap();
        let first = blobs.put(b"first value").unwrap();
        let copied = blobs.put(b"copied value").unwrap();
        blobs.flush(true).unwrap();
        assert_eq!(blobs.read(first).unwrap(), b"first value");
        // A bulk copy reads past the cache and leaves nothing in it.
        assert_eq!(blobs.read_uncached(copied).unwrap(), b"copied value");
        // Damage the bytes on disk: the checked value read before still comes back,
        // while a fresh handle on the file reads and rejects the damage.
        let path = dir.path().join("engine.blobs.1");
        let mut bytes = fs::read(&path).unwrap();
        bytes[first.offset as usize] ^= 1;
        bytes[copied.offset as usize] ^= 1;
        fs::write(&path, &bytes).unwrap();
        assert_eq!(blobs.read(first).unwrap(), b"first value");
        assert!(blobs.read(copied).is_err());
        assert!(Blobs::open(dir.path(), 1).unwrap().read(first).is_err());
        // Cut back to before the value, and write another of the same length there.
        blobs.truncate(first.offset);
        let second = blobs.put(b"other value").unwrap();
        blobs.flush(true).unwrap();
        assert_eq!(second.offset, first.offset);
        assert_eq!(blobs.read(second).unwrap(), b"other value");
        assert!(blobs.read(first).is_err());
    }

    #[test]
    fn compaction_sized_runs_of_small_values_never_buffer_more_than_the_limit() {
        let dir = tempfile::tempdir().unwrap();
        let mut blobs = Blobs::open(dir.path(), 1).unwrap();
        let value = [5u8; 4096];
        let refs: Vec<BlobRef> = (0..2000).map(|_| blobs.put(&value).unwrap()).collect();
        // Eight MiB went in without a flush; at most the limit waited in memory.
        assert!(
            blobs.pending.capacity() <= 2 * PENDING_LIMIT,
            "{}",
            blobs.pending.capacity()
        );
        blobs.flush(true).unwrap();
        assert_eq!(blobs.len(), HEADER + 2000 * 4096);
        for blob in [refs[0], refs[999], refs[1999]] {
            assert_eq!(blobs.read(blob).unwrap(), value);
        }
        // A failed commit still drops everything it appended, flushed early or not.
        let before = blobs.len();
        for _ in 0..600 {
            blobs.put(&value).unwrap();
        }
        blobs.truncate(before);
        assert_eq!(
            fs::metadata(dir.path().join("engine.blobs.1"))
                .unwrap()
                .len(),
            before
        );
    }
}
