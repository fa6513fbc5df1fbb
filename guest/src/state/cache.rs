//! The cache of model answers: its records, and the bound on the entries made at
//! query time (which they are, oldest first, and how many bytes they take).

use crate::payload::Text;
use crate::util::Map;
use serde::{Deserialize, Serialize};
use std::collections::VecDeque;

/// A cached model answer (LightRAG's `llm_response_cache`); the answer is read only
/// on a hit, so it lives in the blob file.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct CacheRecord {
    pub value: Text,
    pub cache_type: String,
    pub chunk_id: Option<String>,
    pub created_at: i64,
}

impl CacheRecord {
    /// Whether the entry was made while answering a query (an answer or keywords).
    /// Only these are dropped when the cache is full: they are cheap to recompute,
    /// and an endless stream of distinct questions would otherwise grow the cache
    /// without bound.
    pub fn is_query_time(&self) -> bool {
        matches!(self.cache_type.as_str(), "query" | "keywords")
    }
}

/// Approximate memory an entry occupies, for the query cache's bound.
pub fn cache_entry_bytes(key: &str, record: &CacheRecord) -> usize {
    key.len() + record.value.len() + record.cache_type.len() + 64
}

/// The query-time entries of the cache, oldest first, and their total size.
#[derive(Default)]
pub struct QueryCacheIndex {
    pub(super) order: VecDeque<String>,
    bytes: usize,
}

impl QueryCacheIndex {
    /// Total size of the query-time entries.
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    /// Keys to drop, oldest first, so that `incoming` more bytes under `key` fit in
    /// `limit`. An entry already under `key` is replaced, so its size is credited and
    /// it is never dropped itself.
    pub fn evictions(
        &self,
        cache: &Map<String, CacheRecord>,
        key: &str,
        incoming: usize,
        limit: usize,
    ) -> Vec<String> {
        let replaced = cache.get(key).map_or(0, |r| cache_entry_bytes(key, r));
        let mut used = self.bytes - replaced + incoming;
        let mut dropped = Vec::new();
        for old in &self.order {
            if used <= limit {
                break;
            }
            if old != key
                && let Some(record) = cache.get(old)
            {
                used -= cache_entry_bytes(old, record);
                dropped.push(old.clone());
            }
        }
        dropped
    }

    pub(super) fn added(
        &mut self,
        key: &str,
        record: &CacheRecord,
        replaced: Option<&CacheRecord>,
    ) {
        match replaced.filter(|r| r.is_query_time()) {
            Some(old) => self.bytes -= cache_entry_bytes(key, old),
            None => self.order.push_back(key.to_string()),
        }
        self.bytes += cache_entry_bytes(key, record);
    }

    pub(super) fn removed(&mut self, key: &str, record: &CacheRecord) {
        self.bytes -= cache_entry_bytes(key, record);
        // Deletions of query-time entries are rare (eviction takes the front), so a
        // linear search is fine.
        if self.order.front().is_some_and(|k| k == key) {
            self.order.pop_front();
        } else if let Some(at) = self.order.iter().position(|k| k == key) {
            self.order.remove(at);
        }
    }
}
