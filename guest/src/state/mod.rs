//! The workspace's tables, and the operations that change them.
//!
//! These mirror LightRAG's storages (`full_docs`, `doc_status`, `text_chunks`,
//! `chunks_vdb`, `llm_response_cache`), kept in memory and persisted by
//! [`crate::store`]. Every change goes through an [`Op`], so the journal can replay it.
//!
//! * `tables` — the tables and the operations, as data.
//! * `cache` — cached model answers, and the bound on those made at query time.
//! * `chunk_ids` — lists of chunk ids, encoded in one byte string each.
//! * `legacy` — the layouts of earlier servers, read once and converted.
//! * here — how each operation changes the tables, and what the store needs to know
//!   (layouts, payloads, derived indexes).

mod cache;
mod chunk_ids;
mod legacy;
mod tables;

pub use cache::{CacheRecord, QueryCacheIndex, cache_entry_bytes};
pub use chunk_ids::ChunkIds;
pub use tables::*;

use crate::ids::{entity_vector_id, relation_vector_id};
use crate::payload::{Kind, Visit};
use crate::store::Journaled;
use std::io;

/// A relation's key in LightRAG's order.
fn pair(a: String, b: String) -> (String, String) {
    if a <= b { (a, b) } else { (b, a) }
}

impl State {
    /// Takes `id`'s current status out of the pending queue, before it is replaced or
    /// deleted.
    fn unqueue(&mut self, id: &str) {
        if let Some(old) = self.status.get(id).filter(|s| s.state == DocState::Pending) {
            self.pending
                .remove(&(old.created_at.clone(), old.id.clone()));
        }
    }
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
                self.unqueue(&status.id);
                if status.state == DocState::Pending {
                    self.pending
                        .insert((status.created_at.clone(), status.id.clone()));
                }
                self.status.insert(status.id.clone(), status);
            }
            Op::DelStatus(id) => {
                self.doc_faults.remove(&id);
                self.unqueue(&id);
                self.status.remove(&id);
            }
            Op::PutChunk(chunk, vector) => {
                self.chunk_vectors.upsert(&chunk.id, vector);
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
            Op::PutNodeKeepProvenance(mut node) => {
                if let Some(stored) = self.graph.node(&node.entity_id) {
                    node.source_id.clone_from(&stored.source_id);
                    node.file_path.clone_from(&stored.file_path);
                }
                self.graph.upsert_node(node);
            }
            Op::DelNode(name) => {
                self.graph.remove_node(&name);
            }
            Op::PutEdge(edge) => {
                self.graph.upsert_edge(edge);
            }
            Op::PutEdgeKeepProvenance(mut edge) => {
                if let Some(stored) = self.graph.edge(&edge.source, &edge.target) {
                    edge.source_id.clone_from(&stored.source_id);
                    edge.file_path.clone_from(&stored.file_path);
                }
                self.graph.upsert_edge(edge);
            }
            Op::DelEdge(a, b) => {
                self.graph.remove_edge(&a, &b);
            }
            Op::PutEntityVector(name, vector) => {
                let id = entity_vector_id(&name);
                self.entity_vectors.upsert(&id, vector);
                self.entity_of_vector.insert(id, name);
            }
            Op::DelEntityVector(name) => {
                let id = entity_vector_id(&name);
                self.entity_vectors.remove(&id);
                self.entity_of_vector.remove(&id);
            }
            Op::PutRelationVector(a, b, vector) => {
                let id = relation_vector_id(&a, &b);
                self.relation_vectors.upsert(&id, vector);
                self.relation_of_vector.insert(id, pair(a, b));
            }
            Op::DelRelationVector(a, b) => {
                let id = relation_vector_id(&a, &b);
                self.relation_vectors.remove(&id);
                self.relation_of_vector.remove(&id);
            }
            Op::SetEntityChunks(name, chunks) => {
                self.entity_chunks
                    .insert(name, chunks.into_iter().collect());
            }
            Op::DelEntityChunks(name) => {
                self.entity_chunks.remove(&name);
            }
            Op::SetRelationChunks(a, b, chunks) => {
                self.relation_chunks
                    .insert(pair(a, b), chunks.into_iter().collect());
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

    /// Layout 2 added `doc_faults`; layout 3 moved document text, cached answers and
    /// exact vectors to the blob file and quantised the vectors in memory; layout 4
    /// stores the vectors' codes in pages rather than one byte string per index;
    /// layout 5 moved chunk text to the blob file, packs a document's graph record
    /// ([`DocGraph`]), and encodes chunk id lists ([`ChunkIds`]).
    const FORMAT: u8 = 5;

    fn decode_older<'de, F: postcard::de_flavors::Flavor<'de>>(
        format: u8,
        input: &mut postcard::Deserializer<'de, F>,
    ) -> Option<State> {
        legacy::decode_state(format, input)
    }

    fn decode_older_ops(layout: u8, payload: &[u8]) -> Option<Vec<Op>> {
        legacy::decode_ops(layout, payload)
    }

    fn payloads(&mut self, visit: &mut Visit<'_>) -> io::Result<()> {
        for doc in self.docs.values_mut() {
            visit(Kind::Text, doc.content.payload_mut())?;
        }
        for record in self.cache.values_mut() {
            visit(Kind::Text, record.value.payload_mut())?;
        }
        for chunk in self.chunks.values_mut() {
            visit(Kind::Text, chunk.content.payload_mut())?;
        }
        self.chunk_vectors.payloads(visit)?;
        self.entity_vectors.payloads(visit)?;
        self.relation_vectors.payloads(visit)
    }

    fn op_payloads(op: &mut Op, visit: &mut Visit<'_>) -> io::Result<()> {
        match op {
            Op::PutDoc(doc) => visit(Kind::Text, doc.content.payload_mut()),
            Op::PutCache(_, record) => visit(Kind::Text, record.value.payload_mut()),
            Op::PutChunk(chunk, vector) => {
                visit(Kind::Text, chunk.content.payload_mut())?;
                visit(Kind::Vector, &mut vector.exact)
            }
            Op::PutEntityVector(_, vector) | Op::PutRelationVector(_, _, vector) => {
                visit(Kind::Vector, &mut vector.exact)
            }
            _ => Ok(()),
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
        self.pending = self
            .status
            .values()
            .filter(|s| s.state == DocState::Pending)
            .map(|s| (s.created_at.clone(), s.id.clone()))
            .collect();
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::graph::{Edge, Node};
    use crate::payload::Text;

    fn record(value: &str, cache_type: &str) -> CacheRecord {
        CacheRecord {
            value: Text::new(value),
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

    fn node(description: &str, source_id: &str, file_path: &str) -> Node {
        Node {
            entity_id: "Ada".into(),
            entity_type: "person".into(),
            description: description.into(),
            source_id: source_id.into(),
            file_path: file_path.into(),
            created_at: 1,
            truncate: "KEEP Old".into(),
        }
    }

    fn edge(description: &str, source_id: &str, file_path: &str) -> Edge {
        Edge {
            source: "Ada".into(),
            target: "Babbage".into(),
            weight: 2.0,
            description: description.into(),
            keywords: "worked with".into(),
            source_id: source_id.into(),
            file_path: file_path.into(),
            created_at: 1,
            truncate: "KEEP Old".into(),
        }
    }

    #[test]
    fn keeping_provenance_changes_everything_but_the_stored_sources_and_files() {
        let mut state = State::default();
        state.apply(Op::PutNode(node("first", "c1<SEP>c2", "a.txt<SEP>b.txt")));
        state.apply(Op::PutNode(Node {
            entity_id: "Babbage".into(),
            ..node("an engine", "c1", "a.txt")
        }));
        state.apply(Op::PutEdge(edge("first", "c1<SEP>c2", "a.txt")));
        state.apply(Op::PutNodeKeepProvenance(node("second", "", "")));
        state.apply(Op::PutEdgeKeepProvenance(edge("second", "", "")));
        assert_eq!(
            state.graph.node("Ada"),
            Some(&node("second", "c1<SEP>c2", "a.txt<SEP>b.txt"))
        );
        assert_eq!(
            state.graph.edge("Ada", "Babbage"),
            Some(&edge("second", "c1<SEP>c2", "a.txt"))
        );
    }

    #[test]
    fn journal_records_of_layout_3_decode_as_todays_operations() {
        let ops = vec![
            Op::PutNode(node("first", "c1", "a.txt")),
            Op::SetDocFaults("doc-1".into(), 2),
            Op::AddRelationChunks("Ada".into(), "Babbage".into(), vec!["c3".into()]),
        ];
        let payload = postcard::to_allocvec(&ops).unwrap();
        let decoded = legacy::decode_ops(3, &payload).expect("a layout-3 record");
        assert_eq!(
            postcard::to_allocvec(&decoded).unwrap(),
            payload,
            "decoded to other operations"
        );
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

    fn status(id: &str, state: DocState, created_at: &str) -> Op {
        Op::PutStatus(StatusRecord {
            id: id.into(),
            state,
            content_summary: String::new(),
            content_length: 0,
            created_at: created_at.into(),
            updated_at: created_at.into(),
            file_path: format!("{id}.txt"),
            track_id: String::new(),
            content_hash: None,
            chunks_count: None,
            chunks_list: Vec::new(),
            error_msg: None,
            metadata: "{}".into(),
        })
    }

    /// The queue as the statuses say it should be: pending, by (created_at, id).
    fn pending_by_scan(state: &State) -> Vec<String> {
        let mut pending: Vec<(&String, &String)> = state
            .status
            .values()
            .filter(|s| s.state == DocState::Pending)
            .map(|s| (&s.created_at, &s.id))
            .collect();
        pending.sort();
        pending.into_iter().map(|(_, id)| id.clone()).collect()
    }

    #[test]
    fn a_documents_graph_holds_each_name_once_and_gives_relations_back_sorted() {
        let mut graph = DocGraph::default();
        graph.add_entity("Turing");
        graph.add_relation("Turing", "Bletchley Park");
        graph.add_relation("Bletchley Park", "Turing");
        graph.add_relation("Turing", "Cambridge");
        graph.add_relation("Cambridge", "Bletchley Park");
        assert_eq!(graph.add_entity("Cambridge"), 2);
        assert_eq!(
            graph.entities().collect::<Vec<_>>(),
            ["Turing", "Bletchley Park", "Cambridge"]
        );
        let relations: Vec<(&str, &str)> = graph.relations().collect();
        assert_eq!(
            relations,
            [
                ("Bletchley Park", "Turing"),
                ("Cambridge", "Turing"),
                ("Bletchley Park", "Cambridge"),
            ]
        );
        // Names are stored once: three relations add a few bytes, not six names.
        let bytes = postcard::to_allocvec(&graph).unwrap();
        assert!(bytes.len() < 45, "{} bytes", bytes.len());
        let back: DocGraph = postcard::from_bytes(&bytes).unwrap();
        assert_eq!(back, graph);
        // Built from its parts in one pass, the record is the same.
        let names: Vec<&str> = graph.entities().collect();
        let rebuilt = DocGraph::from_parts(names.iter().copied(), vec![(1, 0), (2, 0), (1, 2)]);
        assert_eq!(rebuilt, graph);
        // A name too long for a one-byte length, and one that is empty.
        let long = "L".repeat(300);
        assert_eq!(graph.add_entity(&long), 3);
        assert_eq!(graph.add_entity(""), 4);
        assert_eq!(graph.add_entity(&long), 3);
        assert_eq!(graph.entities().nth(3), Some(long.as_str()));
        assert_eq!(graph.entities().count(), 5);
        assert_eq!(graph.relations().count(), 3);
    }

    #[test]
    fn the_pending_queue_follows_every_status_change() {
        let mut state = State::default();
        for op in [
            status("b", DocState::Pending, "2026-01-02"),
            status("a", DocState::Pending, "2026-01-02"),
            status("c", DocState::Pending, "2026-01-01"),
            status("a", DocState::Processing, "2026-01-02"),
            status("d", DocState::Pending, "2026-01-03"),
            // Pending again, re-stamped: queued under its new time only.
            status("a", DocState::Pending, "2026-01-04"),
            // Pending again with the same stamp: still queued once.
            status("d", DocState::Pending, "2026-01-03"),
            status("c", DocState::Processed, "2026-01-01"),
            Op::DelStatus("b".into()),
            Op::DelStatus("missing".into()),
            status("e", DocState::Failed, "2026-01-00"),
        ] {
            state.apply(op);
            let queued: Vec<String> = state.pending.iter().map(|(_, id)| id.clone()).collect();
            assert_eq!(queued, pending_by_scan(&state));
        }
        assert_eq!(state.pending.len(), 2);
        // Rebuilt from the statuses when a snapshot is loaded.
        let mut loaded = State {
            status: state.status.clone(),
            ..State::default()
        };
        loaded.after_load();
        assert_eq!(loaded.pending, state.pending);
    }
}
