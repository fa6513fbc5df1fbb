//! The blob file's values read lately, kept in memory.
//!
//! Every graph query re-ranks its vector searches' candidates with their exact
//! values, read from the blob file: 88 values per search at LightRAG's default
//! `top_k`, and the same ones query after query when a workspace's entities are few
//! or its questions keep coming back to the same people. Inside wasm each read is a
//! host call, a system call and a copy, about 5 µs for a 4 KiB vector (the vectors
//! bench, 88 candidates per search: 0.38 ms per search from memory, 0.81 from the
//! file), so a local query at 111 entities spent nearly half a millisecond
//! re-reading the vectors it read the query before. With the cache, hybrid queries
//! at 20,000 chunks ran about 4% faster in the component.
//!
//! The file is append-only and a value is never overwritten, so a remembered value
//! can only go stale if the file is cut back ([`ReadCache::forget_from`]). Only
//! small values are kept (vectors, chunk texts), up to [`CACHE_BYTES`] in all; past
//! that the older half is dropped. The cache grows with what is read, so an idle
//! workspace that was never queried holds nothing. Copies of every value
//! (compaction's rewrite, moving vectors into memory) read past it
//! ([`Blobs::read_uncached`](super::Blobs::read_uncached)).

use crate::payload::BlobRef;
use crate::util::Map;

/// Most bytes of values kept.
const CACHE_BYTES: usize = 1 << 20;
/// Larger values are not kept: one document's text must not push out the vectors.
const MAX_VALUE: usize = 16 << 10;

#[derive(Default)]
pub struct ReadCache {
    entries: Map<u64, Entry>,
    bytes: usize,
    /// A counter of lookups, for recency.
    clock: u64,
}

struct Entry {
    blob: BlobRef,
    bytes: Vec<u8>,
    used: u64,
}

impl ReadCache {
    /// The value of `blob`, if it is kept.
    pub fn get(&mut self, blob: BlobRef) -> Option<Vec<u8>> {
        self.clock += 1;
        let entry = self.entries.get_mut(&blob.offset)?;
        if entry.blob != blob {
            return None;
        }
        entry.used = self.clock;
        Some(entry.bytes.clone())
    }

    /// Keeps `bytes` as the value of `blob` (already checked against its checksum).
    pub fn put(&mut self, blob: BlobRef, bytes: &[u8]) {
        if bytes.len() > MAX_VALUE {
            return;
        }
        if self.bytes + bytes.len() > CACHE_BYTES {
            self.drop_older_half();
        }
        self.bytes += bytes.len();
        let entry = Entry {
            blob,
            bytes: bytes.to_vec(),
            used: self.clock,
        };
        if let Some(old) = self.entries.insert(blob.offset, entry) {
            self.bytes -= old.bytes.len();
        }
    }

    /// Forgets every value at or past `offset` (the file was cut back to it, and new
    /// values will be written there).
    pub fn forget_from(&mut self, offset: u64) {
        self.entries.retain(|&at, _| at < offset);
        self.recount();
    }

    /// Bytes of values kept.
    #[cfg(test)]
    fn bytes(&self) -> usize {
        self.bytes
    }

    /// Drops the less recently used half, so that making room costs a sort once per
    /// many insertions rather than a scan per insertion.
    fn drop_older_half(&mut self) {
        let mut used: Vec<u64> = self.entries.values().map(|e| e.used).collect();
        if used.is_empty() {
            return;
        }
        let middle = used.len() / 2;
        let (_, &mut cut, _) = used.select_nth_unstable(middle);
        self.entries.retain(|_, e| e.used > cut);
        self.recount();
    }

    /// Counts the bytes kept again, after entries were dropped.
    fn recount(&mut self) {
        self.bytes = self.entries.values().map(|e| e.bytes.len()).sum();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn blob(offset: u64, len: u32) -> BlobRef {
        BlobRef {
            offset,
            len,
            crc: offset as u32 ^ len,
        }
    }

    #[test]
    fn a_kept_value_comes_back_only_for_the_same_reference() {
        let mut cache = ReadCache::default();
        cache.put(blob(16, 3), b"abc");
        assert_eq!(cache.get(blob(16, 3)).as_deref(), Some(&b"abc"[..]));
        // Another length or checksum at the same offset is another value.
        assert_eq!(cache.get(blob(16, 4)), None);
        assert_eq!(
            cache.get(BlobRef {
                crc: 7,
                ..blob(16, 3)
            }),
            None
        );
        assert_eq!(cache.get(blob(19, 3)), None);
    }

    #[test]
    fn values_past_a_cut_are_forgotten() {
        let mut cache = ReadCache::default();
        cache.put(blob(16, 3), b"abc");
        cache.put(blob(19, 3), b"def");
        cache.forget_from(19);
        assert_eq!(cache.get(blob(16, 3)).as_deref(), Some(&b"abc"[..]));
        assert_eq!(cache.get(blob(19, 3)), None);
        assert_eq!(cache.bytes(), 3);
    }

    #[test]
    fn it_stays_within_its_bound_and_keeps_what_is_used() {
        let mut cache = ReadCache::default();
        let value = vec![7u8; 4096];
        let hot = blob(16, 4096);
        cache.put(hot, &value);
        for i in 1..2000u64 {
            cache.put(blob(16 + i * 4096, 4096), &value);
            assert!(cache.bytes() <= CACHE_BYTES);
            // One value is asked for all along: it survives every eviction.
            assert!(cache.get(hot).is_some(), "lost the hot value at {i}");
        }
        // A value too large to keep is not kept.
        let large = vec![0u8; MAX_VALUE + 1];
        cache.put(blob(1 << 40, large.len() as u32), &large);
        assert_eq!(cache.get(blob(1 << 40, large.len() as u32)), None);
    }
}
