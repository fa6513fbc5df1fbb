//! The engine's settings, parsed straight into the contract's `config` record, and
//! where the server keeps its own records.

use super::ConfigError;
use super::settings::DEFAULT_ENTITY_TYPES;
use super::sources::{Sources, absolute};
use crate::bindings::types::{Config as GuestConfig, SourceIdsLimit};
use std::path::{Path, PathBuf};

/// LightRAG's chunking, retrieval, extraction and merging settings. The workspace
/// name, the model identities and the per-workspace limits are the host's to fill in.
pub(super) fn settings(s: &Sources) -> Result<GuestConfig, ConfigError> {
    let chunk_size: u32 = s.positive("CHUNK_SIZE", "a positive number of tokens")?;
    let chunk_overlap: u32 = s.parse("CHUNK_OVERLAP_SIZE", "a number of tokens")?;
    if chunk_overlap >= chunk_size {
        return Err(ConfigError(format!(
            "invalid CHUNK_OVERLAP_SIZE={chunk_overlap}: it must be smaller than CHUNK_SIZE={chunk_size}"
        )));
    }
    let cosine_threshold: f32 = s.parse("COSINE_THRESHOLD", "a number between -1 and 1")?;
    if !(-1.0..=1.0).contains(&cosine_threshold) {
        return Err(ConfigError(format!(
            "invalid COSINE_THRESHOLD={cosine_threshold}: expected a number between -1 and 1"
        )));
    }
    let mut entity_types: Vec<String> = s
        .string("ENTITY_TYPES")
        .split(',')
        .map(|t| {
            t.trim()
                .trim_matches(|c| c == '"' || c == '\'' || c == '[' || c == ']')
        })
        .filter(|t| !t.is_empty())
        .map(str::to_string)
        .collect();
    if entity_types.is_empty() {
        entity_types = DEFAULT_ENTITY_TYPES.iter().map(|t| t.to_string()).collect();
    }
    let tokens = "a positive number of tokens";
    Ok(GuestConfig {
        workspace: String::new(),
        chunk_size,
        chunk_overlap,
        cosine_threshold,
        top_k: s.positive("TOP_K", "a positive number")?,
        chunk_top_k: s.positive("CHUNK_TOP_K", "a positive number")?,
        max_entity_tokens: s.positive("MAX_ENTITY_TOKENS", tokens)?,
        max_relation_tokens: s.positive("MAX_RELATION_TOKENS", tokens)?,
        max_total_tokens: s.positive("MAX_TOTAL_TOKENS", tokens)?,
        enable_llm_cache: s.boolean("ENABLE_LLM_CACHE")?,
        enable_llm_cache_for_extract: s.boolean("ENABLE_LLM_CACHE_FOR_EXTRACT")?,
        max_parallel_insert: s.positive("MAX_PARALLEL_INSERT", "a positive number")?,
        summary_language: s.string("SUMMARY_LANGUAGE"),
        entity_types,
        max_gleaning: s.parse("MAX_GLEANING", "a number of passes")?,
        force_llm_summary_on_merge: s
            .positive("FORCE_LLM_SUMMARY_ON_MERGE", "a positive number")?,
        summary_max_tokens: s.positive("SUMMARY_MAX_TOKENS", tokens)?,
        summary_context_size: s.positive("SUMMARY_CONTEXT_SIZE", tokens)?,
        summary_length_recommended: s.positive("SUMMARY_LENGTH_RECOMMENDED", tokens)?,
        related_chunk_number: s.positive("RELATED_CHUNK_NUMBER", "a positive number")?,
        llm_identity: String::new(),
        embedding_identity: String::new(),
        embedding_dim: 0,
        min_rerank_score: s.parse("MIN_RERANK_SCORE", "a number")?,
        disk_quota_bytes: 0,
        query_cache_bytes: 0,
        max_source_ids_per_entity: s.positive("MAX_SOURCE_IDS_PER_ENTITY", "a positive number")?,
        max_source_ids_per_relation: s
            .positive("MAX_SOURCE_IDS_PER_RELATION", "a positive number")?,
        source_ids_limit: match s
            .string("SOURCE_IDS_LIMIT_METHOD")
            .to_ascii_uppercase()
            .as_str()
        {
            "KEEP" => SourceIdsLimit::Keep,
            "FIFO" => SourceIdsLimit::Fifo,
            other => {
                return Err(ConfigError(format!(
                    "invalid SOURCE_IDS_LIMIT_METHOD={other:?}: expected KEEP or FIFO"
                )));
            }
        },
        max_file_paths: s.positive("MAX_FILE_PATHS", "a positive number")?,
        memory_limit_bytes: 0,
        exact_vectors: match s
            .string("LIGHTRAG_VECTOR_PRECISION")
            .to_ascii_lowercase()
            .as_str()
        {
            "int8" => false,
            "f32" => true,
            other => {
                return Err(ConfigError(format!(
                    "invalid LIGHTRAG_VECTOR_PRECISION={other:?}: expected int8 or f32"
                )));
            }
        },
        pdf_decrypt_password: Some(s.string("PDF_DECRYPT_PASSWORD")).filter(|p| !p.is_empty()),
    })
}

/// Where the server keeps its own records: under `WORKING_DIR/.host/`, a name no
/// workspace can have (names start with a letter or digit), so no tenant reaches them.
#[derive(Clone, Debug)]
pub struct HostDirs {
    /// `WORKING_DIR/.host`.
    pub root: PathBuf,
    /// Compiled engine code (`LIGHTRAG_CACHE_DIR`).
    pub cache: PathBuf,
    /// Audit trails (`LIGHTRAG_AUDIT_DIR`).
    pub audit: PathBuf,
    /// Per-workspace limit overrides.
    pub limits: PathBuf,
    /// Per-workspace OS locks.
    pub locks: PathBuf,
    /// Last known sizes of workspaces that are not loaded.
    pub catalog: PathBuf,
}

impl HostDirs {
    /// The directories under `working_dir`, with the cache and audit directories where
    /// their settings put them (empty: the default).
    pub fn new(working_dir: &Path, cache: &str, audit: &str) -> HostDirs {
        let root = working_dir.join(".host");
        let or = |setting: &str, default: PathBuf| match setting {
            "" => default,
            dir => absolute(dir),
        };
        HostDirs {
            cache: or(cache, root.join("cache")),
            audit: or(audit, root.join("audit")),
            limits: root.join("limits"),
            locks: root.join("locks"),
            catalog: root.join("catalog"),
            root,
        }
    }
}
