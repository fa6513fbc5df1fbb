//! The layouts of earlier servers, read once and converted: snapshots of layouts 1
//! (before `doc_faults`), 2 (documents, cached answers and exact vectors held in
//! memory), 3 (each vector index's codes in one byte string) and 4 (chunk text held
//! in memory, each document's relations as pairs of names, and chunk id lists as
//! strings), and journals of operations in the first two operation layouts. The
//! store rewrites a workspace in today's layout right after opening it, so these
//! types are only ever decoded.

use super::cache::CacheRecord;
use super::chunk_ids::ChunkIds;
use super::tables::{ChunkRecord, DocGraph, DocRecord, Meta, Op, State, StatusRecord};
use crate::graph::{Edge, Graph, Node};
use crate::payload::{ByteBuf, Payload, Text};
use crate::util::Map;
use crate::vectors::{Embedding, VectorIndex};
use postcard::de_flavors::Flavor;
use serde::Deserialize;

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

/// A chunk with its text in memory (layouts 1-4).
#[derive(Deserialize)]
struct ChunkRecordV4 {
    id: String,
    tokens: u32,
    content: String,
    order: u32,
    doc_id: String,
    file_path: String,
    llm_cache_list: Vec<String>,
}

impl From<ChunkRecordV4> for ChunkRecord {
    fn from(chunk: ChunkRecordV4) -> ChunkRecord {
        ChunkRecord {
            id: chunk.id,
            tokens: chunk.tokens,
            content: Text::new(chunk.content),
            order: chunk.order,
            doc_id: chunk.doc_id,
            file_path: chunk.file_path,
            llm_cache_list: chunk.llm_cache_list,
        }
    }
}

/// A document's graph contribution with relations as pairs of names (layouts 1-4).
#[derive(Deserialize)]
struct DocGraphV4 {
    entities: Vec<String>,
    relations: Vec<(String, String)>,
}

impl From<DocGraphV4> for DocGraph {
    fn from(old: DocGraphV4) -> DocGraph {
        let mut graph = DocGraph::default();
        for name in &old.entities {
            graph.add_entity(name);
        }
        for (a, b) in &old.relations {
            graph.add_relation(a, b);
        }
        graph
    }
}

fn convert_doc_graphs(graphs: Map<String, DocGraphV4>) -> Map<String, DocGraph> {
    graphs.into_iter().map(|(k, g)| (k, g.into())).collect()
}

fn convert_lists<K: Eq + std::hash::Hash>(lists: Map<K, Vec<String>>) -> Map<K, ChunkIds> {
    lists
        .into_iter()
        .map(|(k, ids)| (k, ids.into_iter().collect()))
        .collect()
}

fn convert_chunks(chunks: Map<String, ChunkRecordV4>) -> Map<String, ChunkRecord> {
    chunks.into_iter().map(|(k, c)| (k, c.into())).collect()
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
    docs: Map<String, DocRecordV2>,
    status: Map<String, StatusRecord>,
    chunks: Map<String, ChunkRecordV4>,
    chunk_vectors: VectorIndexV2,
    cache: Map<String, CacheRecordV2>,
    graph: Graph,
    entity_vectors: VectorIndexV2,
    relation_vectors: VectorIndexV2,
    entity_chunks: Map<String, Vec<String>>,
    relation_chunks: Map<(String, String), Vec<String>>,
    doc_graph: Map<String, DocGraphV4>,
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

/// Snapshot layouts 3 and 4: today's tables, with chunk text in memory. Layout 3's
/// vector indexes hold their codes in one piece (`V` = [`VectorIndexV3`]).
#[derive(Deserialize)]
struct StateV4<V = VectorIndex> {
    meta: Meta,
    docs: Map<String, DocRecord>,
    status: Map<String, StatusRecord>,
    chunks: Map<String, ChunkRecordV4>,
    chunk_vectors: V,
    cache: Map<String, CacheRecord>,
    graph: Graph,
    entity_vectors: V,
    relation_vectors: V,
    entity_chunks: Map<String, Vec<String>>,
    relation_chunks: Map<(String, String), Vec<String>>,
    doc_graph: Map<String, DocGraphV4>,
    doc_faults: Map<String, u32>,
}

/// Layout 3 is layout 4 with its vector codes in one piece each, cut into pages here.
fn convert_v3(v3: StateV4<VectorIndexV3>) -> Option<State> {
    Some(convert_v4(StateV4 {
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
    }))
}

fn convert_v4(v4: StateV4) -> State {
    State {
        meta: v4.meta,
        docs: v4.docs,
        status: v4.status,
        chunks: convert_chunks(v4.chunks),
        chunk_vectors: v4.chunk_vectors,
        cache: v4.cache,
        graph: v4.graph,
        entity_vectors: v4.entity_vectors,
        relation_vectors: v4.relation_vectors,
        entity_chunks: convert_lists(v4.entity_chunks),
        relation_chunks: convert_lists(v4.relation_chunks),
        doc_graph: convert_doc_graphs(v4.doc_graph),
        doc_faults: v4.doc_faults,
        ..State::default()
    }
}

/// Decodes a snapshot payload of layout 1 to 4.
pub fn decode_state<'de, F: Flavor<'de>>(
    format: u8,
    input: &mut postcard::Deserializer<'de, F>,
) -> Option<State> {
    match format {
        4 => StateV4::deserialize(input).ok().map(convert_v4),
        3 => StateV4::<VectorIndexV3>::deserialize(input)
            .ok()
            .and_then(convert_v3),
        1 => StateV1::deserialize(input)
            .ok()
            .map(|v1| convert(v1, Map::default())),
        // Layout 2 is layout 1's fields followed by `doc_faults`.
        2 => <(StateV1, Map<String, u32>)>::deserialize(input)
            .ok()
            .map(|(v1, faults)| convert(v1, faults)),
        _ => None,
    }
}

fn convert(v1: StateV1, doc_faults: Map<String, u32>) -> State {
    State {
        meta: v1.meta,
        docs: v1.docs.into_iter().map(|(k, d)| (k, d.into())).collect(),
        status: v1.status,
        chunks: convert_chunks(v1.chunks),
        chunk_vectors: v1.chunk_vectors.into(),
        cache: v1.cache.into_iter().map(|(k, c)| (k, c.into())).collect(),
        graph: v1.graph,
        entity_vectors: v1.entity_vectors.into(),
        relation_vectors: v1.relation_vectors.into(),
        entity_chunks: convert_lists(v1.entity_chunks),
        relation_chunks: convert_lists(v1.relation_chunks),
        doc_graph: convert_doc_graphs(v1.doc_graph),
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
    PutChunk(ChunkRecordV4, Vec<f32>),
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
    SetDocGraph(String, DocGraphV4),
    DelDocGraph(String),
    ClearAll,
    SetDocFaults(String, u32),
    AddEntityChunks(String, Vec<String>),
    AddRelationChunks(String, String, Vec<String>),
}

/// Operations as journals of the second layout hold them: today's, with chunk text
/// in memory.
#[derive(Deserialize)]
enum OpV2 {
    PutDoc(DocRecord),
    DelDoc(String),
    PutStatus(StatusRecord),
    DelStatus(String),
    PutChunk(ChunkRecordV4, Embedding),
    DelChunk(String),
    PutCache(String, CacheRecord),
    DelCache(String),
    ClearCache,
    SetMeta(Meta),
    PutNode(Node),
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
    SetDocGraph(String, DocGraphV4),
    DelDocGraph(String),
    ClearAll,
    SetDocFaults(String, u32),
    AddEntityChunks(String, Vec<String>),
    AddRelationChunks(String, String, Vec<String>),
}

/// Decodes a journal record of operation layout 1 or 2.
pub fn decode_ops(layout: u8, payload: &[u8]) -> Option<Vec<Op>> {
    match layout {
        1 => {
            let ops: Vec<OpV1> = postcard::from_bytes(payload).ok()?;
            Some(ops.into_iter().map(Op::from).collect())
        }
        2 => {
            let ops: Vec<OpV2> = postcard::from_bytes(payload).ok()?;
            Some(ops.into_iter().map(Op::from).collect())
        }
        // Layout 3 is today's without the two operations added after it (which
        // take the last places), so today's decoder reads it.
        3 => postcard::from_bytes(payload).ok(),
        _ => None,
    }
}

impl From<OpV2> for Op {
    fn from(op: OpV2) -> Op {
        match op {
            OpV2::PutDoc(doc) => Op::PutDoc(doc),
            OpV2::DelDoc(id) => Op::DelDoc(id),
            OpV2::PutStatus(status) => Op::PutStatus(status),
            OpV2::DelStatus(id) => Op::DelStatus(id),
            OpV2::PutChunk(chunk, vector) => Op::PutChunk(chunk.into(), vector),
            OpV2::DelChunk(id) => Op::DelChunk(id),
            OpV2::PutCache(key, record) => Op::PutCache(key, record),
            OpV2::DelCache(key) => Op::DelCache(key),
            OpV2::ClearCache => Op::ClearCache,
            OpV2::SetMeta(meta) => Op::SetMeta(meta),
            OpV2::PutNode(node) => Op::PutNode(node),
            OpV2::DelNode(name) => Op::DelNode(name),
            OpV2::PutEdge(edge) => Op::PutEdge(edge),
            OpV2::DelEdge(a, b) => Op::DelEdge(a, b),
            OpV2::PutEntityVector(name, v) => Op::PutEntityVector(name, v),
            OpV2::DelEntityVector(name) => Op::DelEntityVector(name),
            OpV2::PutRelationVector(a, b, v) => Op::PutRelationVector(a, b, v),
            OpV2::DelRelationVector(a, b) => Op::DelRelationVector(a, b),
            OpV2::SetEntityChunks(name, chunks) => Op::SetEntityChunks(name, chunks),
            OpV2::DelEntityChunks(name) => Op::DelEntityChunks(name),
            OpV2::SetRelationChunks(a, b, chunks) => Op::SetRelationChunks(a, b, chunks),
            OpV2::DelRelationChunks(a, b) => Op::DelRelationChunks(a, b),
            OpV2::SetDocGraph(doc, graph) => Op::SetDocGraph(doc, graph.into()),
            OpV2::DelDocGraph(doc) => Op::DelDocGraph(doc),
            OpV2::ClearAll => Op::ClearAll,
            OpV2::SetDocFaults(id, faults) => Op::SetDocFaults(id, faults),
            OpV2::AddEntityChunks(name, chunks) => Op::AddEntityChunks(name, chunks),
            OpV2::AddRelationChunks(a, b, chunks) => Op::AddRelationChunks(a, b, chunks),
        }
    }
}

impl From<OpV1> for Op {
    fn from(op: OpV1) -> Op {
        match op {
            OpV1::PutDoc(doc) => Op::PutDoc(doc.into()),
            OpV1::DelDoc(id) => Op::DelDoc(id),
            OpV1::PutStatus(status) => Op::PutStatus(status),
            OpV1::DelStatus(id) => Op::DelStatus(id),
            OpV1::PutChunk(chunk, vector) => Op::PutChunk(chunk.into(), Embedding::new(&vector)),
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
            OpV1::SetDocGraph(doc, graph) => Op::SetDocGraph(doc, graph.into()),
            OpV1::DelDocGraph(doc) => Op::DelDocGraph(doc),
            OpV1::ClearAll => Op::ClearAll,
            OpV1::SetDocFaults(id, faults) => Op::SetDocFaults(id, faults),
            OpV1::AddEntityChunks(name, chunks) => Op::AddEntityChunks(name, chunks),
            OpV1::AddRelationChunks(a, b, chunks) => Op::AddRelationChunks(a, b, chunks),
        }
    }
}
