//! The workspace's tables, and the operations that change them.
//!
//! These mirror LightRAG's storages (`full_docs`, `doc_status`, `text_chunks`,
//! `chunks_vdb`, `llm_response_cache`), kept in memory and persisted by
//! [`crate::store`]. Every change goes through an [`Op`], so the journal can replay it.

use crate::graph::{Edge, Graph, Node};
use crate::ids::{entity_vector_id, relation_vector_id};
use crate::store::Journaled;
use crate::vectors::VectorIndex;
use serde::{Deserialize, Serialize};
use std::collections::{HashMap, VecDeque};

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
    order: VecDeque<String>,
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
        cache: &HashMap<String, CacheRecord>,
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

    fn added(&mut self, key: &str, record: &CacheRecord, replaced: Option<&CacheRecord>) {
        match replaced.filter(|r| r.is_query_time()) {
            Some(old) => self.bytes -= cache_entry_bytes(key, old),
            None => self.order.push_back(key.to_string()),
        }
        self.bytes += cache_entry_bytes(key, record);
    }

    fn removed(&mut self, key: &str, record: &CacheRecord) {
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
    /// Query-time cache entries, oldest first. Derived.
    #[serde(skip)]
    pub query_cache: QueryCacheIndex,
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
    /// Per pending document: how many times the engine faulted while processing it.
    /// Such documents are processed one at a time, and fail after a few faults.
    pub doc_faults: HashMap<String, u32>,
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
    /// Sets a document's fault count (0 forgets it).
    SetDocFaults(String, u32),
    /// Appends chunk ids to an entity's full list.
    AddEntityChunks(String, Vec<String>),
    /// Appends chunk ids to a relation's full list.
    AddRelationChunks(String, String, Vec<String>),
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
                // A fault count matters only until the document is done, one way or
                // the other.
                if !matches!(status.state, DocState::Pending | DocState::Processing) {
                    self.doc_faults.remove(&status.id);
                }
                self.status.insert(status.id.clone(), status);
            }
            Op::DelStatus(id) => {
                self.doc_faults.remove(&id);
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
                let replaced = self.cache.get(&key);
                if record.is_query_time() {
                    self.query_cache.added(&key, &record, replaced);
                } else if let Some(old) = replaced.filter(|r| r.is_query_time()) {
                    self.query_cache.removed(&key, old);
                }
                self.cache.insert(key, record);
            }
            Op::DelCache(key) => {
                if let Some(old) = self.cache.remove(&key)
                    && old.is_query_time()
                {
                    self.query_cache.removed(&key, &old);
                }
            }
            Op::ClearCache => {
                self.cache.clear();
                self.query_cache = QueryCacheIndex::default();
            }
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
            Op::SetDocFaults(id, 0) => {
                self.doc_faults.remove(&id);
            }
            Op::SetDocFaults(id, faults) => {
                self.doc_faults.insert(id, faults);
            }
            Op::AddEntityChunks(name, chunks) => {
                self.entity_chunks.entry(name).or_default().extend(chunks);
            }
            Op::AddRelationChunks(a, b, chunks) => {
                self.relation_chunks
                    .entry(pair(a, b))
                    .or_default()
                    .extend(chunks);
            }
        }
    }

    /// Layout 2 added `doc_faults`.
    const FORMAT: u8 = 2;

    fn decode_older(format: u8, payload: &[u8]) -> Option<State> {
        match format {
            1 => postcard::from_bytes::<StateV1>(payload)
                .ok()
                .map(State::from),
            _ => None,
        }
    }

    fn after_load(&mut self) {
        // Entries are stored unordered; their creation second orders them again (ties,
        // within one second, by key).
        let mut query_time: Vec<(&String, &CacheRecord)> = self
            .cache
            .iter()
            .filter(|(_, r)| r.is_query_time())
            .collect();
        query_time.sort_by(|a, b| (a.1.created_at, a.0).cmp(&(b.1.created_at, b.0)));
        self.query_cache = QueryCacheIndex::default();
        for (key, record) in query_time {
            self.query_cache.added(key, record, None);
        }
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

/// Snapshot layout 1: [`State`] before `doc_faults`.
#[derive(Serialize, Deserialize)]
struct StateV1 {
    meta: Meta,
    docs: HashMap<String, DocRecord>,
    status: HashMap<String, StatusRecord>,
    chunks: HashMap<String, ChunkRecord>,
    chunk_vectors: VectorIndex,
    cache: HashMap<String, CacheRecord>,
    graph: Graph,
    entity_vectors: VectorIndex,
    relation_vectors: VectorIndex,
    entity_chunks: HashMap<String, Vec<String>>,
    relation_chunks: HashMap<(String, String), Vec<String>>,
    doc_graph: HashMap<String, DocGraph>,
}

impl From<StateV1> for State {
    fn from(v1: StateV1) -> State {
        State {
            meta: v1.meta,
            docs: v1.docs,
            status: v1.status,
            chunks: v1.chunks,
            chunk_vectors: v1.chunk_vectors,
            cache: v1.cache,
            graph: v1.graph,
            entity_vectors: v1.entity_vectors,
            relation_vectors: v1.relation_vectors,
            entity_chunks: v1.entity_chunks,
            relation_chunks: v1.relation_chunks,
            doc_graph: v1.doc_graph,
            ..State::default()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(value: &str, cache_type: &str) -> CacheRecord {
        CacheRecord {
            value: value.into(),
            cache_type: cache_type.into(),
            chunk_id: None,
            created_at: 0,
        }
    }

    /// Recomputes what the index tracks incrementally.
    fn query_bytes(state: &State) -> usize {
        state
            .cache
            .iter()
            .filter(|(_, r)| r.is_query_time())
            .map(|(k, r)| cache_entry_bytes(k, r))
            .sum()
    }

    #[test]
    fn the_query_cache_index_follows_puts_replacements_and_deletions() {
        let mut state = State::default();
        let put = |k: &str, v: &str, t: &str| Op::PutCache(k.into(), record(v, t));
        for op in [
            put("a", "first", "query"),
            put("b", "second", "keywords"),
            put("x", "an extraction", "extract"),
            put("a", "first, replaced by a longer answer", "query"),
            put("c", "third", "query"),
            Op::DelCache("b".into()),
            // A query-time key overwritten by an extraction entry leaves the index.
            put("c", "now an extraction", "extract"),
            put("d", "fourth", "query"),
        ] {
            state.apply(op);
            assert_eq!(state.query_cache.bytes(), query_bytes(&state));
        }
        assert_eq!(state.query_cache.order, ["a", "d"]);
        // Dropping for room takes the oldest first and never an extraction entry.
        let need = state.query_cache.bytes() + 10;
        let dropped = state
            .query_cache
            .evictions(&state.cache, "new", 10, need - 1);
        assert_eq!(dropped, ["a"]);
        let dropped = state.query_cache.evictions(&state.cache, "new", 10, 0);
        assert_eq!(dropped, ["a", "d"]);
        // Replacing an entry credits its old size and never drops it.
        let dropped = state.query_cache.evictions(&state.cache, "d", 1, 0);
        assert_eq!(dropped, ["a"]);
        state.apply(Op::ClearCache);
        assert_eq!(state.query_cache.bytes(), 0);
        assert!(state.query_cache.order.is_empty());
    }
}
