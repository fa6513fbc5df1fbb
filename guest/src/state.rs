//! The workspace's tables, and the operations that change them.
//!
//! These mirror LightRAG's storages (`full_docs`, `doc_status`, `text_chunks`,
//! `chunks_vdb`, `llm_response_cache`), kept in memory and persisted by
//! [`crate::store`]. Every change goes through an [`Op`], so the journal can replay it.

use crate::graph::{Edge, Graph, Node};
use crate::kg::{entity_vector_id, relation_vector_id};
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

/// What one document contributed to the graph (LightRAG's `full_entities` and
/// `full_relations`): the starting point of its deletion.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct DocGraph {
    pub entities: Vec<String>,
    /// Sorted pairs.
    pub relations: Vec<(String, String)>,
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
    /// The knowledge graph.
    pub graph: Graph,
    /// Entity vectors under LightRAG's ids (`ent-…`).
    pub entity_vectors: VectorIndex,
    /// Relation vectors under LightRAG's ids (`rel-…`).
    pub relation_vectors: VectorIndex,
    /// Every chunk an entity was extracted from (`source_id` keeps at most 200).
    pub entity_chunks: HashMap<String, Vec<String>>,
    /// Every chunk a relation (sorted pair) was extracted from.
    pub relation_chunks: HashMap<(String, String), Vec<String>>,
    /// Per document: the entities and relations it contributed.
    pub doc_graph: HashMap<String, DocGraph>,
    /// Content hash → document id, for duplicate detection. Derived, not stored.
    #[serde(skip)]
    pub by_content_hash: HashMap<String, String>,
    /// Entity vector id → entity name. Derived.
    #[serde(skip)]
    pub entity_of_vector: HashMap<String, String>,
    /// Relation vector id → sorted pair. Derived.
    #[serde(skip)]
    pub relation_of_vector: HashMap<String, (String, String)>,
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
    PutNode(Node),
    /// Removes a node and its incident edges (their vectors and tracking are removed
    /// by their own operations).
    DelNode(String),
    PutEdge(Edge),
    DelEdge(String, String),
    PutEntityVector(String, Vec<f32>),
    DelEntityVector(String),
    PutRelationVector(String, String, Vec<f32>),
    DelRelationVector(String, String),
    SetEntityChunks(String, Vec<String>),
    DelEntityChunks(String),
    SetRelationChunks(String, String, Vec<String>),
    DelRelationChunks(String, String),
    SetDocGraph(String, DocGraph),
    DelDocGraph(String),
    /// Empties every table except `meta`.
    ClearAll,
}

/// A relation's key in LightRAG's order.
fn pair(a: String, b: String) -> (String, String) {
    if a <= b { (a, b) } else { (b, a) }
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
            Op::PutNode(node) => self.graph.upsert_node(node),
            Op::DelNode(name) => {
                self.graph.remove_node(&name);
            }
            Op::PutEdge(edge) => {
                self.graph.upsert_edge(edge);
            }
            Op::DelEdge(a, b) => {
                self.graph.remove_edge(&a, &b);
            }
            Op::PutEntityVector(name, vector) => {
                let id = entity_vector_id(&name);
                self.entity_vectors.upsert(&id, &vector);
                self.entity_of_vector.insert(id, name);
            }
            Op::DelEntityVector(name) => {
                let id = entity_vector_id(&name);
                self.entity_vectors.remove(&id);
                self.entity_of_vector.remove(&id);
            }
            Op::PutRelationVector(a, b, vector) => {
                let id = relation_vector_id(&a, &b);
                self.relation_vectors.upsert(&id, &vector);
                self.relation_of_vector.insert(id, pair(a, b));
            }
            Op::DelRelationVector(a, b) => {
                let id = relation_vector_id(&a, &b);
                self.relation_vectors.remove(&id);
                self.relation_of_vector.remove(&id);
            }
            Op::SetEntityChunks(name, chunks) => {
                self.entity_chunks.insert(name, chunks);
            }
            Op::DelEntityChunks(name) => {
                self.entity_chunks.remove(&name);
            }
            Op::SetRelationChunks(a, b, chunks) => {
                self.relation_chunks.insert(pair(a, b), chunks);
            }
            Op::DelRelationChunks(a, b) => {
                self.relation_chunks.remove(&pair(a, b));
            }
            Op::SetDocGraph(doc, graph) => {
                self.doc_graph.insert(doc, graph);
            }
            Op::DelDocGraph(doc) => {
                self.doc_graph.remove(&doc);
            }
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
        self.entity_of_vector = self
            .graph
            .nodes()
            .map(|n| (entity_vector_id(&n.entity_id), n.entity_id.clone()))
            .collect();
        self.relation_of_vector = self
            .graph
            .edges()
            .map(|e| {
                (
                    relation_vector_id(&e.source, &e.target),
                    (e.source.clone(), e.target.clone()),
                )
            })
            .collect();
    }
}
