//! The workspace's tables, and the operations that change them.
//!
//! These mirror LightRAG's storages (`full_docs`, `doc_status`, `text_chunks`,
//! `chunks_vdb`, `llm_response_cache`), kept in memory and persisted by
//! [`crate::store`]. Every change goes through an [`Op`], so the journal can replay it.

use crate::store::Journaled;
use crate::vectors::VectorIndex;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;

/// Processing states of a document (LightRAG's `DocStatus`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum DocState {
    Pending,
    Parsing,
    Analyzing,
    Processing,
    Preprocessed,
    Processed,
    Failed,
}

impl DocState {
    /// Every state, in LightRAG's order.
    pub const ALL: [DocState; 7] = [
        DocState::Pending,
        DocState::Parsing,
        DocState::Analyzing,
        DocState::Processing,
        DocState::Preprocessed,
        DocState::Processed,
        DocState::Failed,
    ];
}

/// A document's content (LightRAG's `full_docs`).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct DocRecord {
    pub id: String,
    pub content: String,
    pub file_path: String,
    pub content_hash: String,
}

/// A document's status (LightRAG's `doc_status`).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct StatusRecord {
    pub id: String,
    pub state: DocState,
    pub content_summary: String,
    pub content_length: u32,
    pub created_at: String,
    pub updated_at: String,
    pub file_path: String,
    pub track_id: String,
    pub content_hash: Option<String>,
    pub chunks_count: Option<u32>,
    pub chunks_list: Vec<String>,
    pub error_msg: Option<String>,
    /// A JSON object, passed through to clients.
    pub metadata: String,
}

/// A chunk of a document (LightRAG's `text_chunks`); its vector lives in
/// [`State::chunk_vectors`].
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ChunkRecord {
    pub id: String,
    pub tokens: u32,
    pub content: String,
    pub order: u32,
    pub doc_id: String,
    pub file_path: String,
    /// Keys of the cached model answers computed from this chunk.
    pub llm_cache_list: Vec<String>,
}

/// A cached model answer (LightRAG's `llm_response_cache`).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct CacheRecord {
    pub value: String,
    pub cache_type: String,
    pub chunk_id: Option<String>,
    pub created_at: i64,
}

/// Facts about the workspace itself.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct Meta {
    /// The embedding model whose vectors are stored; empty until the first vector.
    pub embedding_identity: String,
    pub embedding_dim: u32,
}

/// All tables of a workspace.
#[derive(Default, Serialize, Deserialize)]
pub struct State {
    pub meta: Meta,
    pub docs: HashMap<String, DocRecord>,
    pub status: HashMap<String, StatusRecord>,
    pub chunks: HashMap<String, ChunkRecord>,
    pub chunk_vectors: VectorIndex,
    pub cache: HashMap<String, CacheRecord>,
    /// Content hash → document id, for duplicate detection. Derived, not stored.
    #[serde(skip)]
    pub by_content_hash: HashMap<String, String>,
}

/// One change to the tables.
#[derive(Serialize, Deserialize)]
pub enum Op {
    PutDoc(DocRecord),
    DelDoc(String),
    PutStatus(StatusRecord),
    DelStatus(String),
    PutChunk(ChunkRecord, Vec<f32>),
    DelChunk(String),
    PutCache(String, CacheRecord),
    DelCache(String),
    ClearCache,
    SetMeta(Meta),
    /// Empties every table except `meta`.
    ClearAll,
}

impl Journaled for State {
    type Op = Op;

    fn apply(&mut self, op: Op) {
        match op {
            Op::PutDoc(doc) => {
                self.by_content_hash
                    .insert(doc.content_hash.clone(), doc.id.clone());
                self.docs.insert(doc.id.clone(), doc);
            }
            Op::DelDoc(id) => {
                if let Some(doc) = self.docs.remove(&id)
                    && self.by_content_hash.get(&doc.content_hash) == Some(&id)
                {
                    self.by_content_hash.remove(&doc.content_hash);
                }
            }
            Op::PutStatus(status) => {
                self.status.insert(status.id.clone(), status);
            }
            Op::DelStatus(id) => {
                self.status.remove(&id);
            }
            Op::PutChunk(chunk, vector) => {
                self.chunk_vectors.upsert(&chunk.id, &vector);
                self.chunks.insert(chunk.id.clone(), chunk);
            }
            Op::DelChunk(id) => {
                self.chunk_vectors.remove(&id);
                self.chunks.remove(&id);
            }
            Op::PutCache(key, record) => {
                self.cache.insert(key, record);
            }
            Op::DelCache(key) => {
                self.cache.remove(&key);
            }
            Op::ClearCache => self.cache.clear(),
            Op::SetMeta(meta) => self.meta = meta,
            Op::ClearAll => {
                let meta = std::mem::take(&mut self.meta);
                *self = State {
                    meta,
                    ..State::default()
                };
            }
        }
    }

    fn after_load(&mut self) {
        self.by_content_hash = self
            .docs
            .values()
            .map(|doc| (doc.content_hash.clone(), doc.id.clone()))
            .collect();
    }
}
