//! The `cache` phase: the cached answers the `chunks` phase did not take.
//!
//! * Query keywords (`<mode>:keywords:<hash>`) are stored under this engine's key
//!   for the same mode and query ([`crate::query::keywords_cache_key`]), which
//!   hashes the query, not the prompt, so a repeated question skips the keyword
//!   call. They count against `query-cache-bytes` like the engine's own.
//! * Query answers are skipped: the engine's answer key also covers the retrieved
//!   context, which LightRAG's does not record.
//! * Summaries are skipped: their key hashes LightRAG's summary prompt, which is
//!   not the engine's, and what was summarised cannot be told from the entry.
//! * Extraction answers no imported chunk lists are skipped: they belong to chunks
//!   LightRAG no longer has.

use super::kv::{self, CacheRow};
use super::report::{Counts, Tally};
use super::source::{LLM_CACHE, Source};
use crate::payload::Text;
use crate::query::keywords_cache_key;
use crate::shared::Shared;
use crate::state::{CacheRecord, cache_entry_bytes};
use crate::util::unix_now;
use crate::wit::Error;
use serde_json::Value;
use std::collections::HashSet;

/// Modes whose queries extract keywords.
const KEYWORD_MODES: [&str; 4] = ["local", "global", "hybrid", "mix"];

/// Imports what the cache holds beyond the chunks' extraction answers (`consumed`).
pub fn run(shared: &Shared, source: &Source, consumed: &HashSet<String>) -> Result<Counts, Error> {
    let mut counts = Counts::default();
    let Some(path) = source.optional(LLM_CACHE) else {
        return Ok(counts);
    };
    let tally = &mut counts.cache;
    kv::for_each(&path, LLM_CACHE, |key, raw, _| {
        if consumed.contains(&key) {
            return Ok(());
        }
        tally.read += 1;
        let Ok(row) = kv::decode::<CacheRow>(raw) else {
            tally.skip("a malformed cache record", &key);
            return Ok(());
        };
        let mut parts = key.splitn(3, ':');
        let (mode, kind) = (parts.next().unwrap_or(""), parts.next());
        let kind = row.cache_type.as_deref().or(kind).unwrap_or("");
        if kind.is_empty() || !key.contains(':') {
            tally.skip(
                "not a `mode:type:hash` entry (the nested layout of LightRAG before 1.4)",
                &key,
            );
            return Ok(());
        }
        match kind {
            "keywords" => keywords(shared, tally, &key, mode, row),
            "query" => tally.skip(
                "a query answer: the engine's answer key also covers the retrieved context",
                &key,
            ),
            "summary" => tally.skip(
                "a summary: its key hashes LightRAG's summary prompt, not the engine's",
                &key,
            ),
            "extract" => tally.skip("an extraction answer no imported chunk lists", &key),
            _ => tally.skip("a cache type the engine does not use", &key),
        }
        Ok(())
    })?;
    Ok(counts)
}

/// Stores one keywords entry under the engine's key, or counts why not.
fn keywords(shared: &Shared, tally: &mut Tally, key: &str, mode: &str, row: CacheRow) {
    if !KEYWORD_MODES.contains(&mode) {
        tally.skip("keywords of a mode that extracts none", key);
        return;
    }
    if !shared.config.enable_llm_cache {
        tally.skip("keywords, while ENABLE_LLM_CACHE is off", key);
        return;
    }
    let Some(query) = row.original_prompt.filter(|q| !q.trim().is_empty()) else {
        tally.skip("keywords without the query they were extracted from", key);
        return;
    };
    let answer = row.answer.unwrap_or_default();
    let readable = serde_json::from_str::<Value>(&answer).is_ok_and(|v| {
        v.get("high_level_keywords").is_some() || v.get("low_level_keywords").is_some()
    });
    if !readable {
        tally.skip("keywords that are not LightRAG's keyword JSON", key);
        return;
    }
    let record = CacheRecord {
        value: Text::new(answer),
        cache_type: "keywords".into(),
        chunk_id: None,
        created_at: row.create_time.unwrap_or_else(unix_now),
    };
    let key = keywords_cache_key(&shared.config, mode, &query);
    let limit = shared.config.query_cache_bytes as usize;
    if limit > 0 && cache_entry_bytes(&key, &record) > limit {
        tally.skip("keywords larger than query-cache-bytes", &key);
        return;
    }
    shared.cache_query_time(key, record);
    tally.imported += 1;
}
