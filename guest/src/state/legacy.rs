//! The layouts of earlier servers, read once and converted: snapshots of layouts 1
//! (before `doc_faults`), 2 (documents, cached answers and exact vectors held in
//! memory) and 3 (each vector index's codes in one byte string), and journals of
//! operations in the first operation layout. The store rewrites a workspace
//! in today's layout right after opening it, so these types are only ever decoded.

use super::cache::CacheRecord;
use super::tables::{ChunkRecord, DocGraph, DocRecord, Meta, Op, State, StatusRecord};
use crate::graph::{Edge, Graph, Node};
use crate::payload::{ByteBuf, Payload, Text};
use crate::vectors::{Embedding, VectorIndex};
use serde::Deserialize;
use std::collections::HashMap;

#[derive(Deserialize)]
struct DocRecordV2 {
    id: String,
    content: String,
    file_path: String,
    content_hash: String,
}

impl From<DocRecordV2> for DocRecord {
    fn from(doc: DocRecordV2) -> DocRecord {
        DocRecord {
            id: doc.id,
            content: Text::new(doc.content),
            file_path: doc.file_path,
            content_hash: doc.content_hash,
        }
    }
}

#[derive(Deserialize)]
struct CacheRecordV2 {
    value: String,
    cache_type: String,
    chunk_id: Option<String>,
    created_at: i64,
}

impl From<CacheRecordV2> for CacheRecord {
    fn from(record: CacheRecordV2) -> CacheRecord {
        CacheRecord {
            value: Text::new(record.value),
            cache_type: record.cache_type,
            chunk_id: record.chunk_id,
            created_at: record.created_at,
        }
    }
}

/// A vector index of exact values only.
#[derive(Deserialize)]
struct VectorIndexV2 {
    dim: usize,
    ids: Vec<String>,
    data: Vec<f32>,
}

impl From<VectorIndexV2> for VectorIndex {
    fn from(old: VectorIndexV2) -> VectorIndex {
        let mut index = VectorIndex::default();
        if old.dim > 0 {
            for (id, vector) in old.ids.iter().zip(old.data.chunks_exact(old.dim)) {
                index.upsert(id, Embedding::new(vector));
            }
        }
        index
    }
}

/// Snapshot layout 1: layout 2 without `doc_faults`.
#[derive(Deserialize)]
struct StateV1 {
    meta: Meta,
    docs: HashMap<String, DocRecordV2>,
    status: HashMap<String, StatusRecord>,
    chunks: HashMap<String, ChunkRecord>,
    chunk_vectors: VectorIndexV2,
    cache: HashMap<String, CacheRecordV2>,
    graph: Graph,
    entity_vectors: VectorIndexV2,
    relation_vectors: VectorIndexV2,
    entity_chunks: HashMap<String, Vec<String>>,
    relation_chunks: HashMap<(String, String), Vec<String>>,
    doc_graph: HashMap<String, DocGraph>,
}

/// Snapshot layout 3: today's tables, with each vector index's codes in one piece.
#[derive(Deserialize)]
struct StateV3 {
    meta: Meta,
    docs: HashMap<String, DocRecord>,
    status: HashMap<String, StatusRecord>,
    chunks: HashMap<String, ChunkRecord>,
    chunk_vectors: VectorIndexV3,
    cache: HashMap<String, CacheRecord>,
    graph: Graph,
    entity_vectors: VectorIndexV3,
    relation_vectors: VectorIndexV3,
    entity_chunks: HashMap<String, Vec<String>>,
    relation_chunks: HashMap<(String, String), Vec<String>>,
    doc_graph: HashMap<String, DocGraph>,
    doc_faults: HashMap<String, u32>,
}

#[derive(Deserialize)]
struct VectorIndexV3 {
    dim: usize,
    ids: Vec<String>,
    scales: Vec<f32>,
    codes: ByteBuf,
    exact: Vec<Payload>,
}

impl VectorIndexV3 {
    fn convert(self) -> Option<VectorIndex> {
        VectorIndex::from_parts(
            self.dim,
            self.ids,
            self.scales,
            vec![self.codes.0],
            self.exact,
        )
    }
}

fn convert_v3(v3: StateV3) -> Option<State> {
    Some(State {
        meta: v3.meta,
        docs: v3.docs,
        status: v3.status,
        chunks: v3.chunks,
        chunk_vectors: v3.chunk_vectors.convert()?,
        cache: v3.cache,
        graph: v3.graph,
        entity_vectors: v3.entity_vectors.convert()?,
        relation_vectors: v3.relation_vectors.convert()?,
        entity_chunks: v3.entity_chunks,
        relation_chunks: v3.relation_chunks,
        doc_graph: v3.doc_graph,
        doc_faults: v3.doc_faults,
        ..State::default()
    })
}

/// Decodes a snapshot payload of layout 1, 2 or 3.
pub fn decode_state(format: u8, payload: &[u8]) -> Option<State> {
    match format {
        3 => postcard::from_bytes::<StateV3>(payload)
            .ok()
            .and_then(convert_v3),
        1 => postcard::from_bytes::<StateV1>(payload)
            .ok()
            .map(|v1| convert(v1, HashMap::new())),
        // Layout 2 is layout 1's fields followed by `doc_faults`.
        2 => postcard::from_bytes::<(StateV1, HashMap<String, u32>)>(payload)
            .ok()
            .map(|(v1, faults)| convert(v1, faults)),
        _ => None,
    }
}

fn convert(v1: StateV1, doc_faults: HashMap<String, u32>) -> State {
    State {
        meta: v1.meta,
        docs: v1.docs.into_iter().map(|(k, d)| (k, d.into())).collect(),
        status: v1.status,
        chunks: v1.chunks,
        chunk_vectors: v1.chunk_vectors.into(),
        cache: v1.cache.into_iter().map(|(k, c)| (k, c.into())).collect(),
        graph: v1.graph,
        entity_vectors: v1.entity_vectors.into(),
        relation_vectors: v1.relation_vectors.into(),
        entity_chunks: v1.entity_chunks,
        relation_chunks: v1.relation_chunks,
        doc_graph: v1.doc_graph,
        doc_faults,
        ..State::default()
    }
}

/// Operations as journals of the first layout hold them.
#[derive(Deserialize)]
enum OpV1 {
    PutDoc(DocRecordV2),
    DelDoc(String),
    PutStatus(StatusRecord),
    DelStatus(String),
    PutChunk(ChunkRecord, Vec<f32>),
    DelChunk(String),
    PutCache(String, CacheRecordV2),
    DelCache(String),
    ClearCache,
    SetMeta(Meta),
    PutNode(Node),
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
    ClearAll,
    SetDocFaults(String, u32),
    AddEntityChunks(String, Vec<String>),
    AddRelationChunks(String, String, Vec<String>),
}

/// Decodes a journal record of the first operation layout.
pub fn decode_ops(payload: &[u8]) -> Option<Vec<Op>> {
    let ops: Vec<OpV1> = postcard::from_bytes(payload).ok()?;
    Some(ops.into_iter().map(Op::from).collect())
}

impl From<OpV1> for Op {
    fn from(op: OpV1) -> Op {
        match op {
            OpV1::PutDoc(doc) => Op::PutDoc(doc.into()),
            OpV1::DelDoc(id) => Op::DelDoc(id),
            OpV1::PutStatus(status) => Op::PutStatus(status),
            OpV1::DelStatus(id) => Op::DelStatus(id),
            OpV1::PutChunk(chunk, vector) => Op::PutChunk(chunk, Embedding::new(&vector)),
            OpV1::DelChunk(id) => Op::DelChunk(id),
            OpV1::PutCache(key, record) => Op::PutCache(key, record.into()),
            OpV1::DelCache(key) => Op::DelCache(key),
            OpV1::ClearCache => Op::ClearCache,
            OpV1::SetMeta(meta) => Op::SetMeta(meta),
            OpV1::PutNode(node) => Op::PutNode(node),
            OpV1::DelNode(name) => Op::DelNode(name),
            OpV1::PutEdge(edge) => Op::PutEdge(edge),
            OpV1::DelEdge(a, b) => Op::DelEdge(a, b),
            OpV1::PutEntityVector(name, v) => Op::PutEntityVector(name, Embedding::new(&v)),
            OpV1::DelEntityVector(name) => Op::DelEntityVector(name),
            OpV1::PutRelationVector(a, b, v) => Op::PutRelationVector(a, b, Embedding::new(&v)),
            OpV1::DelRelationVector(a, b) => Op::DelRelationVector(a, b),
            OpV1::SetEntityChunks(name, chunks) => Op::SetEntityChunks(name, chunks),
            OpV1::DelEntityChunks(name) => Op::DelEntityChunks(name),
            OpV1::SetRelationChunks(a, b, chunks) => Op::SetRelationChunks(a, b, chunks),
            OpV1::DelRelationChunks(a, b) => Op::DelRelationChunks(a, b),
            OpV1::SetDocGraph(doc, graph) => Op::SetDocGraph(doc, graph),
            OpV1::DelDocGraph(doc) => Op::DelDocGraph(doc),
            OpV1::ClearAll => Op::ClearAll,
            OpV1::SetDocFaults(id, faults) => Op::SetDocFaults(id, faults),
            OpV1::AddEntityChunks(name, chunks) => Op::AddEntityChunks(name, chunks),
            OpV1::AddRelationChunks(a, b, chunks) => Op::AddRelationChunks(a, b, chunks),
        }
    }
}
