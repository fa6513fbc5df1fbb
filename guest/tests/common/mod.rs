//! What the engine's integration tests share.

use lightrag_engine::wit::{Config, SourceIdsLimit};

/// Dimension of the tests' vectors.
pub const DIM: usize = 8;

/// A small workspace configuration: short chunks, no summaries, no limits.
pub fn config() -> Config {
    Config {
        workspace: "test".into(),
        chunk_size: 40,
        chunk_overlap: 5,
        cosine_threshold: 0.2,
        top_k: 40,
        chunk_top_k: 20,
        max_entity_tokens: 6000,
        max_relation_tokens: 8000,
        max_total_tokens: 30000,
        enable_llm_cache: true,
        enable_llm_cache_for_extract: true,
        max_parallel_insert: 2,
        summary_language: "English".into(),
        entity_types: vec!["Person".into()],
        max_gleaning: 1,
        force_llm_summary_on_merge: 100,
        summary_max_tokens: 100_000,
        summary_context_size: 100_000,
        summary_length_recommended: 600,
        related_chunk_number: 5,
        llm_identity: "scripted".into(),
        embedding_identity: "scripted/8".into(),
        embedding_dim: DIM as u32,
        min_rerank_score: 0.0,
        disk_quota_bytes: 0,
        query_cache_bytes: 0,
        max_source_ids_per_entity: 200,
        max_source_ids_per_relation: 200,
        source_ids_limit: SourceIdsLimit::Keep,
        max_file_paths: 75,
        memory_limit_bytes: 0,
        exact_vectors: false,
        pdf_decrypt_password: None,
    }
}
