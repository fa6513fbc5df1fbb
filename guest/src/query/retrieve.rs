//! Retrieval per query mode, as LightRAG retrieves (`local`, `global`, `hybrid`,
//! `mix` over the graph and its vectors; `naive` over chunk vectors).

use super::context::Retrieved;
use crate::graph::{Edge, Node};
use crate::payload::BlobSource;
use crate::source_rows::SourceRows;
use crate::state::State;
use crate::vectors::{Query, VectorIndex};
use crate::wit::Error;
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
    let names: Vec<&str> = nodes.iter().map(|n| n.entity_id.as_str()).collect();
    let edges = state.graph.ranked_edges_around(&names);
    (nodes, edges)
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
    let mut seen: HashSet<&str, foldhash::fast::RandomState> = HashSet::default();
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
    let mut seen: HashSet<K, foldhash::fast::RandomState> = HashSet::default();
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
/// similarity to the query; `RELATED_CHUNK_NUMBER × items / 2` of them, as rows of
/// the chunk index. Without a usable vector, the first ones in item order.
pub fn related_chunks(
    scores: &mut ChunkScores<'_>,
    memo: &mut SourceRows,
    sources: &[&str],
    exclude: &[usize],
    related_chunk_number: usize,
) -> Vec<usize> {
    // Popular entities share most of their chunks: each list's rows come from the
    // memo, and are de-duplicated by row, so the work is one hash per list plus one
    // dot product per distinct chunk. A chunk without a vector has no row: chunks
    // and their vectors are stored and deleted together, so the vector index alone
    // says which chunks exist.
    let index = scores.index;
    let mut seen = vec![false; index.len()];
    for &row in exclude {
        seen[row] = true;
    }
    let mut candidates: Vec<usize> = Vec::new();
    for list in sources {
        for &row in memo.rows(index, list) {
            let row = row as usize;
            if !std::mem::replace(&mut seen[row], true) {
                candidates.push(row);
            }
        }
    }
    let limit = (related_chunk_number * sources.len() / 2).max(1);
    // Scored by the vectors' codes: ranking hundreds of candidates by their exact
    // values would read them all from disk, for a pick this coarse. Ties keep the
    // order in which the sources list them.
    scores.score_all(&candidates);
    let mut scored: Vec<(f32, usize, usize)> = candidates
        .iter()
        .enumerate()
        .filter_map(|(i, &row)| scores.score(row).map(|score| (score, i, row)))
        .collect();
    if scored.is_empty() {
        candidates.truncate(limit);
        return candidates;
    }
    let order =
        |a: &(f32, usize, usize), b: &(f32, usize, usize)| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1));
    if scored.len() > limit {
        scored.select_nth_unstable_by(limit - 1, order);
        scored.truncate(limit);
    }
    scored.sort_unstable_by(order);
    scored.into_iter().map(|(_, _, row)| row).collect()
}

/// Similarities of the chunk vectors to one query, each computed at most once: the
/// chunks of a query's relations are mostly those of its entities, and scoring a
/// chunk reads its whole vector.
pub struct ChunkScores<'s> {
    index: &'s VectorIndex,
    query: Query,
    /// Per row of the index; NaN until scored.
    scores: Vec<f32>,
}

impl<'s> ChunkScores<'s> {
    /// The chunk id of `row`.
    pub fn id(&self, row: usize) -> &'s str {
        self.index.id(row)
    }

    pub fn new(state: &'s State, vector: &[f32]) -> Self {
        let index = &state.chunk_vectors;
        ChunkScores {
            index,
            query: Query::new(vector),
            scores: vec![f32::NAN; index.len()],
        }
    }

    /// Scores `rows`, in order. They are scattered over the index and each row's codes
    /// are a kilobyte, so scoring waits on memory more than it computes: the codes of
    /// the row two places ahead are touched first, and their loads overlap the current
    /// dot product. In wasm, 6,000 random rows of 20,000 took ~40% less time so.
    fn score_all(&mut self, rows: &[usize]) {
        let mut touched = 0;
        for (i, &row) in rows.iter().enumerate() {
            if let Some(&ahead) = rows.get(i + 2)
                && self.scores[ahead].is_nan()
            {
                touched ^= self.index.touch(ahead);
            }
            self.score(row);
        }
        std::hint::black_box(touched);
    }

    /// The similarity of `row` (`None` when the query's dimension is not the index's).
    fn score(&mut self, row: usize) -> Option<f32> {
        let known = self.scores[row];
        if !known.is_nan() {
            return Some(known);
        }
        let score = self.index.score_row(row, &self.query)?;
        self.scores[row] = score;
        Some(score)
    }
}

/// The stored chunk of each id, in order, with its text read from the blob file.
pub fn chunks_by_id(
    state: &State,
    blobs: &dyn BlobSource,
    ids: &[String],
) -> Result<Vec<Retrieved>, Error> {
    let mut found = Vec::with_capacity(ids.len());
    for id in ids {
        let Some(chunk) = state.chunks.get(id) else {
            continue;
        };
        let content = chunk.content.read(blobs).map_err(|err| {
            Error::Internal(format!("the text of chunk {id} cannot be read: {err}"))
        })?;
        found.push(Retrieved {
            id: id.clone(),
            content,
            file_path: chunk.file_path.clone(),
        });
    }
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids<'s>(scores: &ChunkScores<'s>, rows: &[usize]) -> Vec<&'s str> {
        rows.iter().map(|&row| scores.id(row)).collect()
    }

    /// A state whose chunk `c<i>` has a vector at angle `i` (in tenths of a radian)
    /// from the query's.
    fn state_with_chunks(n: usize) -> State {
        let mut state = State::default();
        for i in 0..n {
            let angle = i as f32 / 10.0;
            let vector = [angle.cos(), angle.sin(), 0.0, 0.0];
            state
                .chunk_vectors
                .upsert(&format!("c{i}"), crate::vectors::Embedding::new(&vector));
        }
        state
    }

    #[test]
    fn related_chunks_are_distinct_ranked_by_similarity_and_limited() {
        let state = state_with_chunks(8);
        let query = [1.0, 0.0, 0.0, 0.0];
        // Repeated ids, an unknown id and an empty piece are skipped; the best
        // `related × sources / 2` remain, most similar first.
        let sources = [
            "c5<SEP>c1<SEP>missing",
            "c1<SEP> c3 <SEP><SEP>c7",
            "c0<SEP>c5",
        ];
        let mut scores = ChunkScores::new(&state, &query);
        let memo = &mut SourceRows::default();
        let picked = related_chunks(&mut scores, memo, &sources, &[], 2);
        assert_eq!(ids(&scores, &picked), ["c0", "c1", "c3"]);
        // Excluded chunks (already chosen) are never picked again.
        let exclude = [picked[0], picked[1]];
        let picked = related_chunks(&mut scores, memo, &sources, &exclude, 2);
        assert_eq!(ids(&scores, &picked), ["c3", "c5", "c7"]);
        // Scored afresh, and with the rows looked up afresh, the same pick.
        let mut fresh = ChunkScores::new(&state, &query);
        let picked = related_chunks(
            &mut fresh,
            &mut SourceRows::default(),
            &sources,
            &exclude,
            2,
        );
        assert_eq!(ids(&fresh, &picked), ["c3", "c5", "c7"]);
    }

    #[test]
    fn related_chunks_of_equal_similarity_keep_the_order_sources_list_them() {
        let mut state = State::default();
        for id in ["a", "b", "c", "d"] {
            state
                .chunk_vectors
                .upsert(id, crate::vectors::Embedding::new(&[1.0, 1.0]));
        }
        let mut scores = ChunkScores::new(&state, &[1.0, 1.0]);
        let memo = &mut SourceRows::default();
        let sources = ["d<SEP>b", "a<SEP>c"];
        let picked = related_chunks(&mut scores, memo, &sources, &[], 1);
        assert_eq!(ids(&scores, &picked), ["d"]);
        let picked = related_chunks(&mut scores, memo, &sources, &[], 4);
        assert_eq!(ids(&scores, &picked), ["d", "b", "a", "c"]);
    }

    #[test]
    fn round_robin_interleaves_and_deduplicates() {
        let merged = round_robin(vec![vec![1, 2, 3], vec![2, 5], vec![]], |x| *x);
        assert_eq!(merged, [1, 2, 5, 3]);
        let merged = round_robin(vec![vec!["a", "b"], vec!["c", "d", "e"]], |x| *x);
        assert_eq!(merged, ["a", "c", "b", "d", "e"]);
    }
}
