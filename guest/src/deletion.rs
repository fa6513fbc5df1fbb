//! Deleting documents, LightRAG's way: what only a deleted document sourced goes, and
//! what other documents also sourced is rebuilt from what remains.

use crate::documents::doc_id_for;
use crate::executor::{Io, TaskResult};
use crate::ids::{sorted, split_sep};
use crate::kg;
use crate::shared::{Shared, store_error};
use crate::state::{ChunkIds, DocState, Op, State, StatusRecord};
use crate::wit::{Error, TaskOutput};
use crate::{extract, files};
use std::collections::HashSet;
use std::rc::Rc;

/// Deletes documents, one durable transaction each, with LightRAG's rules: a
/// document's chunks and vectors go; an entity or relation that only this document
/// sourced goes (with its vector and the relations of a removed entity); one that
/// other documents also sourced is rebuilt from the cached extraction answers of
/// its remaining chunks — no model call unless the cache lost them.
pub async fn run(
    shared: Rc<Shared>,
    io: Io,
    doc_ids: Vec<String>,
    delete_cache: bool,
    delete_file: bool,
) -> TaskResult {
    let mut deleted = Vec::new();
    let mut missing = Vec::new();
    for doc_id in doc_ids {
        let _merging = shared.merge_lock.lock().await;
        let mut file_path = String::new();
        let mut plan = {
            let store = shared.store.borrow();
            let state = store.state();
            let Some(status) = state.status.get(&doc_id) else {
                missing.push(doc_id);
                continue;
            };
            file_path.clone_from(&status.file_path);
            if status.state == DocState::Processing {
                return Err(Error::Busy(format!(
                    "document {doc_id} is being processed; delete it once the pipeline is done"
                )));
            }
            deletion_plan(state, &doc_id, status, delete_cache)
        };
        let mut ops = std::mem::take(&mut plan.ops);
        if !plan.rebuild_entities.is_empty() || !plan.rebuild_relations.is_empty() {
            let results = rebuild_inputs(&shared, &io, &plan).await?;
            let merged = kg::merge(&shared, &io, &results, kg::Mode::Rebuild).await?;
            ops.extend(merged.ops);
        }
        ops.append(&mut plan.final_ops);
        shared.commit(ops)?;
        // A `dup-…` record shares its original's file name; only the document the
        // name belongs to takes the file with it.
        if delete_file && doc_id == doc_id_for(&file_path) {
            files::delete_files(&shared, &file_path);
        }
        deleted.push(doc_id);
    }
    Ok(TaskOutput::Deleted((deleted, missing)))
}

/// What deleting one document does, decided in one read of the state.
struct DeletionPlan {
    /// Removals that come first.
    ops: Vec<Op>,
    /// Removals of the document itself, last.
    final_ops: Vec<Op>,
    /// Entities to rebuild, with their remaining chunk ids.
    rebuild_entities: Vec<(String, Vec<String>)>,
    /// Relations (sorted pairs) to rebuild, with their remaining chunk ids.
    rebuild_relations: Vec<((String, String), Vec<String>)>,
}

fn deletion_plan(
    state: &State,
    doc_id: &str,
    status: &StatusRecord,
    delete_cache: bool,
) -> DeletionPlan {
    let own: HashSet<&str> = status.chunks_list.iter().map(String::as_str).collect();
    let remaining = |tracked: &[String]| -> Vec<String> {
        tracked
            .iter()
            .filter(|c| !own.contains(c.as_str()))
            .cloned()
            .collect()
    };
    let mut ops = Vec::new();
    let mut removed_nodes = HashSet::new();
    let mut rebuild_entities = Vec::new();
    let mut rebuild_relations = Vec::new();
    let contributed = state.doc_graph.get(doc_id).cloned().unwrap_or_default();
    for name in contributed.entities() {
        let name = name.to_string();
        let Some(node) = state.graph.node(&name) else {
            continue;
        };
        let tracked = state
            .entity_chunks
            .get(&name)
            .map(ChunkIds::to_vec)
            .unwrap_or_else(|| split_sep(&node.source_id));
        let left = remaining(&tracked);
        if left.is_empty() {
            for edge in state.graph.edges_of(&name) {
                ops.push(Op::DelRelationVector(
                    edge.source.clone(),
                    edge.target.clone(),
                ));
                ops.push(Op::DelRelationChunks(
                    edge.source.clone(),
                    edge.target.clone(),
                ));
            }
            ops.push(Op::DelNode(name.clone()));
            ops.push(Op::DelEntityVector(name.clone()));
            ops.push(Op::DelEntityChunks(name.clone()));
            removed_nodes.insert(name.clone());
        } else if left.len() < tracked.len() {
            rebuild_entities.push((name.clone(), left));
        }
    }
    for (a, b) in contributed.relations() {
        let (a, b) = (a.to_string(), b.to_string());
        if removed_nodes.contains(&a) || removed_nodes.contains(&b) {
            continue; // gone with its endpoint
        }
        let Some(edge) = state.graph.edge(&a, &b) else {
            continue;
        };
        let tracked = state
            .relation_chunks
            .get(&(a.clone(), b.clone()))
            .map(ChunkIds::to_vec)
            .unwrap_or_else(|| split_sep(&edge.source_id));
        let left = remaining(&tracked);
        if left.is_empty() {
            ops.push(Op::DelEdge(a.clone(), b.clone()));
            ops.push(Op::DelRelationVector(a.clone(), b.clone()));
            ops.push(Op::DelRelationChunks(a.clone(), b.clone()));
        } else if left.len() < tracked.len() {
            rebuild_relations.push(((a.clone(), b.clone()), left));
        }
    }
    let mut final_ops = Vec::new();
    for chunk_id in &status.chunks_list {
        if let Some(chunk) = state.chunks.get(chunk_id) {
            if delete_cache {
                final_ops.extend(chunk.llm_cache_list.iter().cloned().map(Op::DelCache));
            }
            final_ops.push(Op::DelChunk(chunk_id.clone()));
        }
    }
    final_ops.push(Op::DelDocGraph(doc_id.to_string()));
    final_ops.push(Op::DelDoc(doc_id.to_string()));
    final_ops.push(Op::DelStatus(doc_id.to_string()));
    DeletionPlan {
        ops,
        final_ops,
        rebuild_entities,
        rebuild_relations,
    }
}

/// The extraction records of the remaining chunks that concern the entities and
/// relations being rebuilt.
async fn rebuild_inputs(
    shared: &Shared,
    io: &Io,
    plan: &DeletionPlan,
) -> Result<Vec<kg::ChunkResult>, Error> {
    let mut chunk_ids: Vec<String> = Vec::new();
    let remaining = plan
        .rebuild_entities
        .iter()
        .map(|(_, chunks)| chunks)
        .chain(plan.rebuild_relations.iter().map(|(_, chunks)| chunks));
    for chunk in remaining.flatten() {
        if !chunk_ids.contains(chunk) {
            chunk_ids.push(chunk.clone());
        }
    }
    let entities: HashSet<&str> = plan
        .rebuild_entities
        .iter()
        .map(|(n, _)| n.as_str())
        .collect();
    let relations: HashSet<(&str, &str)> = plan
        .rebuild_relations
        .iter()
        .map(|((a, b), _)| (a.as_str(), b.as_str()))
        .collect();
    let mut results = Vec::new();
    for chunk_id in chunk_ids {
        let read = {
            let store = shared.store.borrow();
            let chunk = store.state().chunks.get(&chunk_id).cloned();
            chunk.map(|chunk| store.read_text(&chunk.content).map(|text| (chunk, text)))
        };
        let Some((chunk, content)) = read.transpose().map_err(store_error)? else {
            continue;
        };
        let extracted = extract::extraction_of(
            shared,
            io,
            &chunk.id,
            &content,
            &chunk.file_path,
            &chunk.llm_cache_list,
        )
        .await?;
        let mut extraction = extracted.extraction;
        extraction
            .entities
            .retain(|e| entities.contains(e.name.as_str()));
        extraction
            .relations
            .retain(|r| relations.contains(&sorted(&r.source, &r.target)));
        results.push(kg::ChunkResult {
            chunk_id: chunk.id,
            order: chunk.order,
            file_path: chunk.file_path,
            extraction,
        });
    }
    Ok(results)
}
