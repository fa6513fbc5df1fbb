//! Retrieval per query mode, as LightRAG retrieves (`local`, `global`, `hybrid`,
//! `mix` over the graph and its vectors; `naive` over chunk vectors).

use super::context::Retrieved;
use crate::graph::{Edge, Node};
use crate::ids::SEP;
use crate::payload::BlobSource;
use crate::state::State;
use crate::vectors::Query;
use std::collections::HashSet;

/// Entities found through the entity vectors (`local`), with the relations around
/// them sorted by (degree sum, weight), highest first. Borrowed from the state: a
/// popular entity has hundreds of relations, and copying them all (with their source
/// lists) to keep the few that fit the budget used to be most of a query's work.
pub fn local<'s>(
    state: &'s State,
    blobs: &dyn BlobSource,
    vector: &[f32],
    top_k: usize,
    threshold: f32,
) -> (Vec<&'s Node>, Vec<&'s Edge>) {
    let nodes: Vec<&Node> = state
        .entity_vectors
        .search(vector, top_k, threshold, blobs)
        .into_iter()
        .filter_map(|(id, _)| state.entity_of_vector.get(&id))
        .filter_map(|name| state.graph.node(name))
        .collect();
    let mut seen: HashSet<(&str, &str)> = HashSet::new();
    let mut edges: Vec<(usize, f64, &Edge)> = Vec::new();
    for node in &nodes {
        for edge in state.graph.edges_of(&node.entity_id) {
            if seen.insert((&edge.source, &edge.target)) {
                let rank = state.graph.degree(&edge.source) + state.graph.degree(&edge.target);
                edges.push((rank, edge.weight, edge));
            }
        }
    }
    // Stable: equal (rank, weight) keep the order in which they were found.
    edges.sort_by(|a, b| b.0.cmp(&a.0).then(b.1.total_cmp(&a.1)));
    (nodes, edges.into_iter().map(|(_, _, e)| e).collect())
}

/// Relations found through the relation vectors (`global`), in search order, with
/// their endpoints in order of appearance.
pub fn global<'s>(
    state: &'s State,
    blobs: &dyn BlobSource,
    vector: &[f32],
    top_k: usize,
    threshold: f32,
) -> (Vec<&'s Node>, Vec<&'s Edge>) {
    let edges: Vec<&Edge> = state
        .relation_vectors
        .search(vector, top_k, threshold, blobs)
        .into_iter()
        .filter_map(|(id, _)| state.relation_of_vector.get(&id))
        .filter_map(|(a, b)| state.graph.edge(a, b))
        .collect();
    let mut seen = HashSet::new();
    let nodes = edges
        .iter()
        .flat_map(|e| [e.source.as_str(), e.target.as_str()])
        .filter(|name| seen.insert(*name))
        .filter_map(|name| state.graph.node(name))
        .collect();
    (nodes, edges)
}

/// Interleaves `a[0], b[0], a[1], b[1], …`, keeping the first of equal keys.
pub fn round_robin<T, K: std::hash::Hash + Eq>(
    lists: Vec<Vec<T>>,
    key: impl Fn(&T) -> K,
) -> Vec<T> {
    let mut seen = HashSet::new();
    let mut iters: Vec<_> = lists.into_iter().map(Vec::into_iter).collect();
    let mut out = Vec::new();
    loop {
        let mut any = false;
        for iter in &mut iters {
            if let Some(item) = iter.next() {
                any = true;
                if seen.insert(key(&item)) {
                    out.push(item);
                }
            }
        }
        if !any {
            return out;
        }
    }
}

/// LightRAG's `VECTOR` pick of related chunks: the chunks the items were extracted
/// from (each counted once, first item wins, `exclude` skipped), ranked by
/// similarity to the query; `RELATED_CHUNK_NUMBER × items / 2` of them. Without a
/// usable vector, the first ones in item order.
pub fn related_chunks(
    state: &State,
    sources: &[&str],
    exclude: &HashSet<String>,
    query: &[f32],
    related_chunk_number: usize,
) -> Vec<String> {
    // Popular entities share most of their (up to 200) chunks: de-duplicate first,
    // on borrowed ids, so each chunk is looked up once.
    let mut seen: HashSet<&str> = HashSet::new();
    // A chunk without a vector has no row: chunks and their vectors are stored and
    // deleted together, so the vector index alone says which chunks exist.
    let candidates: Vec<&str> = sources
        .iter()
        .flat_map(|s| s.split(SEP).map(str::trim))
        .filter(|id| !id.is_empty() && seen.insert(id))
        .filter(|id| !exclude.contains(*id) && state.chunk_vectors.contains(id))
        .collect();
    let limit = (related_chunk_number * sources.len() / 2).max(1);
    let query = Query::new(query);
    // Scored by the vectors' codes: ranking hundreds of candidates by their exact
    // values would read them all from disk, for a pick this coarse.
    let mut scored: Vec<(f32, usize, &str)> = candidates
        .iter()
        .enumerate()
        .filter_map(|(i, &id)| {
            state
                .chunk_vectors
                .score(id, &query)
                .map(|score| (score, i, id))
        })
        .collect();
    if scored.is_empty() {
        return candidates
            .into_iter()
            .take(limit)
            .map(str::to_string)
            .collect();
    }
    scored.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
    scored
        .into_iter()
        .take(limit)
        .map(|(_, _, id)| id.to_string())
        .collect()
}

/// The stored chunk of each id, in order.
pub fn chunks_by_id(state: &State, ids: &[String]) -> Vec<Retrieved> {
    ids.iter()
        .filter_map(|id| {
            state.chunks.get(id).map(|c| Retrieved {
                id: id.clone(),
                content: c.content.clone(),
                file_path: c.file_path.clone(),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_robin_interleaves_and_deduplicates() {
        let merged = round_robin(vec![vec![1, 2, 3], vec![2, 5], vec![]], |x| *x);
        assert_eq!(merged, [1, 2, 5, 3]);
        let merged = round_robin(vec![vec!["a", "b"], vec!["c", "d", "e"]], |x| *x);
        assert_eq!(merged, ["a", "c", "b", "d", "e"]);
    }
}
