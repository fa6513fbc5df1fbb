//! Exact cosine search over L2-normalised vectors.
//!
//! At LightRAG's scale (up to ~100 k chunks, entities or relations per workspace) an
//! exact scan is simpler than an approximate index, appends cheaply, and with
//! `+simd128` runs as fast in wasm as natively: the loop is memory-bound. Vectors are
//! normalised once on insert, so cosine similarity is a dot product.

use serde::{Deserialize, Serialize};
use std::collections::HashMap;

/// A set of vectors of one dimension, each under a string id.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(from = "StoredIndex", into = "StoredIndex")]
pub struct VectorIndex {
    dim: usize,
    ids: Vec<String>,
    data: Vec<f32>,
    rows: HashMap<String, usize>,
}

/// The persisted form: rows are rebuilt on load.
#[derive(Serialize, Deserialize)]
struct StoredIndex {
    dim: usize,
    ids: Vec<String>,
    data: Vec<f32>,
}

impl From<StoredIndex> for VectorIndex {
    fn from(stored: StoredIndex) -> Self {
        let rows = stored
            .ids
            .iter()
            .enumerate()
            .map(|(row, id)| (id.clone(), row))
            .collect();
        VectorIndex {
            dim: stored.dim,
            ids: stored.ids,
            data: stored.data,
            rows,
        }
    }
}

impl From<VectorIndex> for StoredIndex {
    fn from(index: VectorIndex) -> Self {
        StoredIndex {
            dim: index.dim,
            ids: index.ids,
            data: index.data,
        }
    }
}

impl VectorIndex {
    /// Number of vectors.
    pub fn len(&self) -> usize {
        self.ids.len()
    }

    /// Whether the index is empty.
    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }

    /// Dimension of the stored vectors (0 while empty and never used).
    pub fn dim(&self) -> usize {
        self.dim
    }

    /// Inserts or replaces the vector of `id`. The vector is normalised here; a vector
    /// of another dimension than the stored ones is refused by the caller beforehand.
    pub fn upsert(&mut self, id: &str, vector: &[f32]) {
        if self.ids.is_empty() {
            self.dim = vector.len();
        }
        if vector.len() != self.dim {
            return;
        }
        let normalised = normalise(vector);
        match self.rows.get(id) {
            Some(&row) => {
                self.data[row * self.dim..(row + 1) * self.dim].copy_from_slice(&normalised)
            }
            None => {
                self.rows.insert(id.to_string(), self.ids.len());
                self.ids.push(id.to_string());
                self.data.extend_from_slice(&normalised);
            }
        }
    }

    /// Removes the vector of `id`, if present, by moving the last row into its place.
    pub fn remove(&mut self, id: &str) {
        let Some(row) = self.rows.remove(id) else {
            return;
        };
        let last = self.ids.len() - 1;
        if row != last {
            let (head, tail) = self.data.split_at_mut(last * self.dim);
            head[row * self.dim..(row + 1) * self.dim].copy_from_slice(&tail[..self.dim]);
            self.ids.swap(row, last);
            self.rows.insert(self.ids[row].clone(), row);
        }
        self.ids.pop();
        self.data.truncate(last * self.dim);
    }

    /// The stored (normalised) vector of `id`.
    pub fn get(&self, id: &str) -> Option<&[f32]> {
        let row = *self.rows.get(id)?;
        Some(&self.data[row * self.dim..(row + 1) * self.dim])
    }

    /// Removes everything.
    pub fn clear(&mut self) {
        *self = VectorIndex::default();
    }

    /// The `top_k` ids most similar to `query` with similarity ≥ `threshold`, best
    /// first (ties by id, so results are deterministic).
    pub fn search(&self, query: &[f32], top_k: usize, threshold: f32) -> Vec<(String, f32)> {
        if query.len() != self.dim || top_k == 0 || self.ids.is_empty() {
            return Vec::new();
        }
        let query = normalise(query);
        // Kept sorted best-first; a new score is inserted only if it beats the worst.
        let mut best: Vec<(f32, usize)> = Vec::with_capacity(top_k + 1);
        for (row, vector) in self.data.chunks_exact(self.dim).enumerate() {
            let score = dot(&query, vector);
            if score < threshold || (best.len() == top_k && score <= best[top_k - 1].0) {
                continue;
            }
            let at = best.partition_point(|&(s, _)| s >= score);
            best.insert(at, (score, row));
            best.truncate(top_k);
        }
        let mut hits: Vec<(String, f32)> = best
            .into_iter()
            .map(|(score, row)| (self.ids[row].clone(), score))
            .collect();
        hits.sort_by(|a, b| b.1.total_cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        hits
    }
}

/// Dot product written so that it vectorises: sixteen independent accumulators let
/// the compiler use SIMD lanes despite float addition not being associative.
#[inline]
pub fn dot(a: &[f32], b: &[f32]) -> f32 {
    let mut acc = [0f32; 16];
    let (a_chunks, a_rest) = a.as_chunks::<16>();
    let (b_chunks, b_rest) = b.as_chunks::<16>();
    for (x, y) in a_chunks.iter().zip(b_chunks) {
        for i in 0..16 {
            acc[i] += x[i] * y[i];
        }
    }
    let mut sum: f32 = acc.iter().sum();
    for (x, y) in a_rest.iter().zip(b_rest) {
        sum += x * y;
    }
    sum
}

/// The vector scaled to unit length (a zero vector stays zero and matches nothing).
pub fn normalise(vector: &[f32]) -> Vec<f32> {
    let norm = dot(vector, vector).sqrt();
    if norm > 0.0 && norm.is_finite() {
        vector.iter().map(|v| v / norm).collect()
    } else {
        vec![0.0; vector.len()]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn search_ranks_by_cosine_and_applies_threshold() {
        let mut index = VectorIndex::default();
        index.upsert("x", &[1.0, 0.0, 0.0]);
        index.upsert("xy", &[1.0, 1.0, 0.0]);
        index.upsert("z", &[0.0, 0.0, 5.0]);
        let hits = index.search(&[2.0, 0.0, 0.0], 10, 0.2);
        assert_eq!(
            hits.iter().map(|h| h.0.as_str()).collect::<Vec<_>>(),
            ["x", "xy"]
        );
        assert!((hits[0].1 - 1.0).abs() < 1e-6);
        assert!((hits[1].1 - std::f32::consts::FRAC_1_SQRT_2).abs() < 1e-6);
        assert_eq!(index.search(&[2.0, 0.0, 0.0], 1, 0.0).len(), 1);
    }

    #[test]
    fn remove_keeps_other_rows_addressable() {
        let mut index = VectorIndex::default();
        for i in 0..5 {
            let mut v = vec![0.0; 5];
            v[i] = 1.0;
            index.upsert(&format!("v{i}"), &v);
        }
        index.remove("v1");
        index.remove("v4");
        index.remove("missing");
        assert_eq!(index.len(), 3);
        for i in [0, 2, 3] {
            let hits = index.search(index.get(&format!("v{i}")).unwrap(), 1, 0.5);
            assert_eq!(hits[0].0, format!("v{i}"));
        }
        let restored: VectorIndex =
            postcard::from_bytes(&postcard::to_stdvec(&index).unwrap()).unwrap();
        assert_eq!(
            restored.search(&[0.0, 0.0, 1.0, 0.0, 0.0], 1, 0.5)[0].0,
            "v2"
        );
    }

    #[test]
    fn dot_matches_a_plain_loop_for_odd_lengths() {
        let a: Vec<f32> = (0..37).map(|i| i as f32 * 0.5).collect();
        let b: Vec<f32> = (0..37).map(|i| 1.0 - i as f32 * 0.25).collect();
        let plain: f32 = a.iter().zip(&b).map(|(x, y)| x * y).sum();
        assert!((dot(&a, &b) - plain).abs() < 1e-3);
    }
}
