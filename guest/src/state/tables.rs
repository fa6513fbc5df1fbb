//! The tables of a workspace and the operations that change them: their shapes
//! only; how an operation changes the tables is in the parent module.

use super::cache::{CacheRecord, QueryCacheIndex};
use super::chunk_ids::ChunkIds;
use crate::graph::{Edge, Graph, Node};
use crate::payload::Text;
use crate::util::Map;
use crate::vectors::{Embedding, VectorIndex};
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;

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

/// A document's content (LightRAG's `full_docs`). The text is read once, when the
/// document is chunked, so it lives in the blob file.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct DocRecord {
    pub id: String,
    pub content: Text,
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
/// [`State::chunk_vectors`]. Its text lives in the blob file: a query reads the text
/// of the few chunks it picks, and held in memory it was the largest table.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ChunkRecord {
    pub id: String,
    pub tokens: u32,
    pub content: Text,
    pub order: u32,
    pub doc_id: String,
    pub file_path: String,
    /// Keys of the cached model answers computed from this chunk.
    pub llm_cache_list: Vec<String>,
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
///
/// Every document has one, and it is read only when the document is deleted or an
/// entity merged, so it is packed: the entity names (relation endpoints included)
/// are one byte string of length-prefixed names, and a relation names its endpoints
/// by their positions. Kept as strings and pairs of strings, it was as large as the
/// graph itself and a dozen allocations per document on every open.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct DocGraph {
    #[serde(with = "crate::payload::bytes")]
    names: Vec<u8>,
    /// Sorted pairs (by name), as positions among the names.
    relations: Vec<(u32, u32)>,
}

impl DocGraph {
    /// Every entity the document names, relation endpoints included, in first-seen
    /// order.
    pub fn entities(&self) -> impl Iterator<Item = &str> {
        let mut rest = self.names.as_slice();
        std::iter::from_fn(move || {
            let (&len, tail) = rest.split_first()?;
            let (len, tail) = if len < 0xff {
                (usize::from(len), tail)
            } else {
                let (wide, tail) = tail.split_first_chunk::<4>()?;
                (u32::from_le_bytes(*wide) as usize, tail)
            };
            let (name, tail) = tail.split_at_checked(len)?;
            rest = tail;
            std::str::from_utf8(name).ok()
        })
    }

    /// Every relation, as a sorted pair of names.
    pub fn relations(&self) -> impl Iterator<Item = (&str, &str)> {
        let names: Vec<&str> = self.entities().collect();
        self.relations
            .iter()
            .filter_map(move |&(a, b)| Some((*names.get(a as usize)?, *names.get(b as usize)?)))
    }

    /// Adds an entity unless listed; its position.
    pub fn add_entity(&mut self, name: &str) -> u32 {
        let mut count = 0;
        for (at, listed) in self.entities().enumerate() {
            if listed == name {
                return at as u32;
            }
            count += 1;
        }
        self.push_name(name);
        count
    }

    fn push_name(&mut self, name: &str) {
        // Names under 255 bytes (nearly all) cost one byte of length.
        match u8::try_from(name.len()) {
            Ok(len) if len < 0xff => self.names.push(len),
            _ => {
                self.names.push(0xff);
                self.names
                    .extend_from_slice(&(name.len() as u32).to_le_bytes());
            }
        }
        self.names.extend_from_slice(name.as_bytes());
    }

    /// The record of distinct `entities` and `relations` given by the positions of
    /// their endpoints among them (each pair once, the endpoint first by name first),
    /// built in one pass: [`DocGraph::add_entity`] looks through the names listed so
    /// far, which is quadratic for a document of thousands of entities.
    pub fn from_parts<'a>(
        entities: impl IntoIterator<Item = &'a str>,
        relations: Vec<(u32, u32)>,
    ) -> DocGraph {
        let mut graph = DocGraph::default();
        for name in entities {
            graph.push_name(name);
        }
        graph.relations = relations;
        graph
    }

    /// Adds a relation (and its endpoints) unless listed.
    pub fn add_relation(&mut self, a: &str, b: &str) {
        let (a, b) = if a <= b { (a, b) } else { (b, a) };
        let pair = (self.add_entity(a), self.add_entity(b));
        if !self.relations.contains(&pair) {
            self.relations.push(pair);
        }
    }
}

/// All tables of a workspace.
#[derive(Default, Serialize, Deserialize)]
pub struct State {
    pub meta: Meta,
    pub docs: Map<String, DocRecord>,
    pub status: Map<String, StatusRecord>,
    pub chunks: Map<String, ChunkRecord>,
    pub chunk_vectors: VectorIndex,
    pub cache: Map<String, CacheRecord>,
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
    pub entity_chunks: Map<String, ChunkIds>,
    /// Every chunk a relation (sorted pair) was extracted from.
    pub relation_chunks: Map<(String, String), ChunkIds>,
    /// Per document: the entities and relations it contributed.
    pub doc_graph: Map<String, DocGraph>,
    /// Per pending document: how many times the engine faulted while processing it.
    /// Such documents are processed one at a time, and fail after a few faults.
    pub doc_faults: Map<String, u32>,
    /// Pending documents as (created_at, id): the pipeline's queue, oldest first.
    /// Derived, so picking the next document does not scan every status.
    #[serde(skip)]
    pub pending: BTreeSet<(String, String)>,
    /// Content hash → document id, for duplicate detection. Derived, not stored.
    #[serde(skip)]
    pub by_content_hash: Map<String, String>,
    /// Entity vector id → entity name. Derived.
    #[serde(skip)]
    pub entity_of_vector: Map<String, String>,
    /// Relation vector id → sorted pair. Derived.
    #[serde(skip)]
    pub relation_of_vector: Map<String, (String, String)>,
}

/// One change to the tables.
#[derive(Serialize, Deserialize)]
pub enum Op {
    PutDoc(DocRecord),
    DelDoc(String),
    PutStatus(StatusRecord),
    DelStatus(String),
    PutChunk(ChunkRecord, Embedding),
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
    PutEntityVector(String, Embedding),
    DelEntityVector(String),
    PutRelationVector(String, String, Embedding),
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
    /// A node whose `source_id` and `file_path` are the stored node's, written
    /// without them: once a popular entity shows as many sources and files as it
    /// may (`KEEP`), merging one more document changes its description only, and
    /// its hundreds of chunk ids were most of the journal.
    PutNodeKeepProvenance(Node),
    /// An edge whose `source_id` and `file_path` are the stored edge's (see
    /// [`Op::PutNodeKeepProvenance`]).
    PutEdgeKeepProvenance(Edge),
}
