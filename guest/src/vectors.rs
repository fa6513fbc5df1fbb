//! Cosine search over unit vectors kept as 8-bit codes, re-ranked with exact values.
//!
//! At LightRAG's scale (up to ~100 k chunks, entities or relations per workspace) an
//! exact scan is simpler than an approximate index and appends cheaply; the scan is
//! memory-bound, so what it reads decides its speed. Each vector is therefore kept in
//! memory as 8-bit codes with one scale (`value ≈ code × scale`): a 1024-dimension
//! vector takes 1 KiB instead of 4, and a scan reads a quarter of the bytes. The exact
//! values are a [`Payload`], normally in the blob file: a search scores every row by
//! its codes, keeps a few times more candidates than asked for, and re-scores those
//! with their exact values, so the results and their scores are exact unless the
//! quantisation error reorders vectors across the candidate cut (the bench reports
//! recall@10 against exact search). Rows whose exact values are in memory
//! (`LIGHTRAG_VECTOR_PRECISION=f32`) are scored exactly in the scan itself.
//!
//! Vectors are normalised once, on insert, so cosine similarity is a dot product.
//!
//! The codes live in pages of about 1 MiB, never in one array: an index of 200,000
//! relations holds 200 MB of codes, and one array of that size needs twice as much
//! while it grows (and a decoder's copy on top when it is read back), which is what
//! made large workspaces impossible to reopen under their memory limit.

use crate::payload::{AsBytes, BlobSource, ByteBuf, Kind, Payload, Visit};
use hashbrown::HashTable;
use serde::ser::SerializeStruct;
use serde::{Deserialize, Serialize, Serializer};
use std::hash::BuildHasher;
use std::io;
use std::sync::atomic::{AtomicU64, Ordering};

/// Candidates re-scored exactly per result asked for (plus eight). Each is a read
/// from the blob file; on the bench, exactly `top_k` candidates already find 99.4%
/// of the exact top-k, and twice that plus eight all of it.
const OVERSAMPLING: usize = 2;
/// The scan keeps candidates whose approximate score is at most this far below the
/// threshold (the codes' error on a unit vector's dot product is far smaller).
const THRESHOLD_MARGIN: f32 = 0.02;
/// Bytes of codes per page (rounded down to whole rows, at least one row).
const PAGE_BYTES: usize = 1 << 20;

/// A vector as operations carry it: normalised, quantised, with its exact values.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Embedding {
    pub scale: f32,
    /// Two's-complement 8-bit codes.
    pub codes: ByteCodes,
    pub exact: Payload,
}

/// 8-bit codes, serialised as one byte string.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct ByteCodes(pub Vec<u8>);

impl Serialize for ByteCodes {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        AsBytes(&self.0).serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for ByteCodes {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        ByteBuf::deserialize(deserializer).map(|b| ByteCodes(b.0))
    }
}

impl Embedding {
    /// The embedding of `vector`, normalised; a zero vector stays zero and matches
    /// nothing.
    pub fn new(vector: &[f32]) -> Embedding {
        let unit = normalise(vector);
        let (scale, codes) = quantise(&unit);
        let exact = unit.iter().flat_map(|v| v.to_le_bytes()).collect();
        Embedding {
            scale,
            codes: ByteCodes(codes),
            exact: Payload::Inline(exact),
        }
    }

    /// Number of dimensions.
    pub fn dim(&self) -> usize {
        self.codes.0.len()
    }
}

/// A set of vectors of one dimension, each under a string id.
#[derive(Clone, Debug, Default)]
pub struct VectorIndex {
    /// Changes whenever an existing row may come to hold another id (a removal moves
    /// the last row), and differs between any two indexes, clones included; appending
    /// keeps it. Lets a caller keep rows it looked up (see `source_rows`).
    layout: Layout,
    dim: usize,
    ids: Vec<String>,
    scales: Vec<f32>,
    /// `dim` codes per row, rows back to back, [`VectorIndex::page_rows`] rows per
    /// page; only the last page is partly filled.
    pages: Vec<Vec<u8>>,
    exact: Vec<Payload>,
    /// The row of each id, found through `ids` (so no id is stored twice). Looked up
    /// for every candidate chunk of a graph query — thousands per query in a large
    /// workspace — so hashed with foldhash, and compared eight bytes at a time.
    rows: HashTable<usize>,
    hasher: foldhash::fast::RandomState,
}

/// A [`VectorIndex::layout`] value: drawn from one counter, so never reused.
#[derive(Debug, PartialEq)]
struct Layout(u64);

impl Layout {
    fn fresh() -> Layout {
        static NEXT: AtomicU64 = AtomicU64::new(1);
        Layout(NEXT.fetch_add(1, Ordering::Relaxed))
    }
}

impl Default for Layout {
    fn default() -> Layout {
        Layout::fresh()
    }
}

impl Clone for Layout {
    /// A clone changes apart from its original, so it gets its own value.
    fn clone(&self) -> Layout {
        Layout::fresh()
    }
}

/// The persisted form (the in-memory one is written by reference, not copied): the
/// codes as one byte string per page, so a streaming decoder holds one page at a time.
#[derive(Deserialize)]
struct StoredIndex {
    dim: usize,
    ids: Vec<String>,
    scales: Vec<f32>,
    pages: Vec<ByteBuf>,
    exact: Vec<Payload>,
}

/// Serialises pages as a sequence of byte strings.
struct Pages<'a>(&'a [Vec<u8>]);

impl Serialize for Pages<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(self.0.iter().map(|page| AsBytes(page)))
    }
}

impl Serialize for VectorIndex {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut s = serializer.serialize_struct("VectorIndex", 5)?;
        s.serialize_field("dim", &self.dim)?;
        s.serialize_field("ids", &self.ids)?;
        s.serialize_field("scales", &self.scales)?;
        s.serialize_field("pages", &Pages(&self.pages))?;
        s.serialize_field("exact", &self.exact)?;
        s.end()
    }
}

impl<'de> Deserialize<'de> for VectorIndex {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let stored = StoredIndex::deserialize(deserializer)?;
        let pages = stored.pages.into_iter().map(|page| page.0).collect();
        VectorIndex::from_parts(stored.dim, stored.ids, stored.scales, pages, stored.exact)
            .ok_or_else(|| serde::de::Error::custom("vector index rows disagree"))
    }
}

impl VectorIndex {
    /// An index of stored rows, the codes in pages of any size (they are re-paged if
    /// need be); `None` if the parts disagree in length.
    pub(crate) fn from_parts(
        dim: usize,
        ids: Vec<String>,
        scales: Vec<f32>,
        pages: Vec<Vec<u8>>,
        exact: Vec<Payload>,
    ) -> Option<VectorIndex> {
        let n = ids.len();
        let total: usize = pages.iter().map(Vec::len).sum();
        if scales.len() != n || exact.len() != n || total != n.checked_mul(dim)? {
            return None;
        }
        let mut index = VectorIndex {
            layout: Layout::fresh(),
            dim,
            ids,
            scales,
            pages,
            exact,
            rows: HashTable::with_capacity(n),
            hasher: Default::default(),
        };
        let page_bytes = index.page_rows() * dim;
        let (full, last) = index.pages.split_at(index.pages.len().saturating_sub(1));
        let paged = full.iter().all(|page| page.len() == page_bytes)
            && last
                .iter()
                .all(|page| !page.is_empty() && page.len() <= page_bytes);
        if !paged {
            index.repage();
        }
        for row in 0..n {
            index.index_row(row);
        }
        Some(index)
    }

    /// Rows per page.
    fn page_rows(&self) -> usize {
        (PAGE_BYTES / self.dim.max(1)).max(1)
    }

    /// Puts the codes into pages of the standard size, one page at a time.
    fn repage(&mut self) {
        let page_bytes = self.page_rows() * self.dim;
        let mut pages: Vec<Vec<u8>> = Vec::new();
        for old in std::mem::take(&mut self.pages) {
            let mut rest = &old[..];
            while !rest.is_empty() {
                if pages.last().is_none_or(|page| page.len() == page_bytes) {
                    pages.push(Vec::with_capacity(page_bytes.min(rest.len())));
                }
                let Some(page) = pages.last_mut() else { break };
                let take = (page_bytes - page.len()).min(rest.len());
                page.extend_from_slice(&rest[..take]);
                rest = &rest[take..];
            }
        }
        self.pages = pages;
    }

    /// The codes of `row`.
    fn codes(&self, row: usize) -> &[u8] {
        let per_page = self.page_rows();
        let at = (row % per_page) * self.dim;
        &self.pages[row / per_page][at..at + self.dim]
    }

    /// The codes of `row`, to overwrite.
    fn codes_mut(&mut self, row: usize) -> &mut [u8] {
        let (per_page, dim) = (self.page_rows(), self.dim);
        let at = (row % per_page) * dim;
        &mut self.pages[row / per_page][at..at + dim]
    }

    /// Appends the codes of a new last row.
    fn push_codes(&mut self, codes: &[u8]) {
        let page_bytes = self.page_rows() * self.dim;
        match self.pages.last_mut() {
            Some(page) if page.len() < page_bytes => {
                page.extend_from_slice(codes);
                if page.len() == page_bytes {
                    // Growth by doubling may have left spare room that no row will use.
                    page.shrink_to_fit();
                }
            }
            // A page grows like any vector, so a small index stays small.
            _ => self.pages.push(codes.to_vec()),
        }
    }

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

    /// Inserts or replaces the vector of `id`. A vector of another dimension than the
    /// stored ones is refused by the caller beforehand (and ignored here).
    pub fn upsert(&mut self, id: &str, embedding: Embedding) {
        if self.ids.is_empty() {
            self.dim = embedding.dim();
        }
        if embedding.dim() != self.dim {
            return;
        }
        match self.row(id) {
            Some(row) => {
                self.codes_mut(row).copy_from_slice(&embedding.codes.0);
                self.scales[row] = embedding.scale;
                self.exact[row] = embedding.exact;
            }
            None => {
                self.ids.push(id.to_string());
                self.push_codes(&embedding.codes.0);
                self.scales.push(embedding.scale);
                self.exact.push(embedding.exact);
                self.index_row(self.ids.len() - 1);
            }
        }
    }

    /// Removes the vector of `id`, if present, by moving the last row into its place.
    pub fn remove(&mut self, id: &str) {
        let hash = self.hasher.hash_one(id);
        let Ok(entry) = self.rows.find_entry(hash, |&row| same(&self.ids[row], id)) else {
            return;
        };
        let (row, _) = entry.remove();
        self.layout = Layout::fresh();
        let last = self.ids.len() - 1;
        if row != last {
            let last_hash = self.hasher.hash_one(self.ids[last].as_str());
            if let Some(moved) = self.rows.find_mut(last_hash, |&r| r == last) {
                *moved = row;
            }
            let moved = self.codes(last).to_vec();
            self.codes_mut(row).copy_from_slice(&moved);
            self.ids.swap(row, last);
            self.scales.swap(row, last);
            self.exact.swap(row, last);
        }
        self.ids.pop();
        self.scales.pop();
        self.exact.pop();
        if let Some(page) = self.pages.last_mut() {
            page.truncate(page.len() - self.dim);
            if page.is_empty() {
                self.pages.pop();
            }
        }
    }

    /// The index's layout: while it stays the same, every row found by
    /// [`VectorIndex::row`] still holds the id it was found for.
    pub fn layout(&self) -> u64 {
        self.layout.0
    }

    /// Whether `id` has a vector.
    pub fn contains(&self, id: &str) -> bool {
        self.row(id).is_some()
    }

    /// The row of `id`'s vector: a handle valid until the index next changes.
    pub fn row(&self, id: &str) -> Option<usize> {
        let hash = self.hasher.hash_one(id);
        self.rows
            .find(hash, |&row| same(&self.ids[row], id))
            .copied()
    }

    /// Makes `row` findable by its id (a stored index holding an id twice finds the
    /// later row, as it always did).
    fn index_row(&mut self, row: usize) {
        let (ids, hasher) = (&self.ids, &self.hasher);
        let hash = hasher.hash_one(ids[row].as_str());
        match self.rows.find_mut(hash, |&r| same(&ids[r], &ids[row])) {
            Some(found) => *found = row,
            None => {
                self.rows
                    .insert_unique(hash, row, |&r| hasher.hash_one(ids[r].as_str()));
            }
        }
    }

    /// The id of `row`.
    pub fn id(&self, row: usize) -> &str {
        &self.ids[row]
    }

    /// Reads one byte of each cache line of `row`'s codes and returns their xor, for
    /// the caller to pass to `std::hint::black_box`: a load that brings the codes into
    /// the cache ahead of scoring them (wasm has no prefetch instruction).
    pub fn touch(&self, row: usize) -> u8 {
        self.codes(row).iter().step_by(64).fold(0, |acc, b| acc ^ b)
    }

    /// Similarity of `row`'s vector to `query`: from the codes, or exact when the exact
    /// values are in memory (`None` when `query` has another dimension).
    pub fn score_row(&self, row: usize, query: &Query) -> Option<f32> {
        (query.unit.len() == self.dim).then(|| self.scan_score(row, query))
    }

    fn scan_score(&self, row: usize, query: &Query) -> f32 {
        match &self.exact[row] {
            Payload::Inline(bytes) if bytes.len() == self.dim * 4 => dot_bytes(&query.unit, bytes),
            _ => dot_i8(&query.codes, self.codes(row)) as f32 * query.scale * self.scales[row],
        }
    }

    /// Every exact-value payload, for the store.
    pub fn payloads(&mut self, visit: &mut Visit<'_>) -> io::Result<()> {
        self.exact
            .iter_mut()
            .try_for_each(|payload| visit(Kind::Vector, payload))
    }

    /// Bytes of memory the index holds, roughly (for the memory report).
    pub fn heap_bytes(&self) -> usize {
        // Each id once, plus its row in the table (a word and a control byte).
        let ids: usize = self.ids.iter().map(|id| id.capacity() + 24 + 9).sum();
        let exact: usize = self.exact.iter().map(Payload::heap_bytes).sum();
        ids + exact
            + self.pages.iter().map(Vec::capacity).sum::<usize>()
            + self.pages.capacity() * 24
            + self.exact.capacity() * 24
            + self.scales.capacity() * 4
    }

    /// The `top_k` ids most similar to `query` with similarity ≥ `threshold`, best
    /// first (ties by id, so results are deterministic). Exact values of the
    /// candidates are read from `blobs`.
    pub fn search(
        &self,
        query: &[f32],
        top_k: usize,
        threshold: f32,
        blobs: &dyn BlobSource,
    ) -> Vec<(String, f32)> {
        self.search_rows(query, top_k, threshold, blobs)
            .into_iter()
            .map(|(row, score)| (self.ids[row].clone(), score))
            .collect()
    }

    /// As [`search`](Self::search), as rows of the index: a caller that goes on to
    /// work with rows (a mix query's chunks) need not look its ids up again.
    pub fn search_rows(
        &self,
        query: &[f32],
        top_k: usize,
        threshold: f32,
        blobs: &dyn BlobSource,
    ) -> Vec<(usize, f32)> {
        if query.len() != self.dim || top_k == 0 || self.ids.is_empty() {
            return Vec::new();
        }
        let query = Query::new(query);
        let wanted = top_k * OVERSAMPLING + 8;
        let floor = threshold - THRESHOLD_MARGIN;
        // Kept sorted best-first; a new score is inserted only if it beats the worst.
        let mut best: Vec<(f32, usize)> = Vec::with_capacity(wanted + 1);
        for row in 0..self.ids.len() {
            let score = self.scan_score(row, &query);
            if score < floor || (best.len() == wanted && score <= best[wanted - 1].0) {
                continue;
            }
            let at = best.partition_point(|&(s, _)| s >= score);
            best.insert(at, (score, row));
            best.truncate(wanted);
        }
        let mut hits: Vec<(usize, f32)> = best
            .into_iter()
            .map(|(approximate, row)| {
                let exact = match &self.exact[row] {
                    Payload::Stored(blob) => blobs
                        .read(*blob)
                        .ok()
                        .filter(|bytes| bytes.len() == self.dim * 4)
                        .map(|bytes| dot_bytes(&query.unit, &bytes)),
                    Payload::Inline(_) => None,
                };
                // A value that cannot be read keeps its approximate score.
                (row, exact.unwrap_or(approximate))
            })
            .filter(|(_, score)| *score >= threshold)
            .collect();
        hits.sort_by(|a, b| {
            b.1.total_cmp(&a.1)
                .then_with(|| self.ids[a.0].cmp(&self.ids[b.0]))
        });
        hits.truncate(top_k);
        hits
    }
}

/// Whether two ids are equal, compared eight bytes at a time: inside wasm `memcmp`
/// goes byte by byte, and id lookups were a tenth of a graph query's time.
fn same(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if a.len() != b.len() {
        return false;
    }
    let (a_words, a_rest) = a.as_chunks::<8>();
    let (b_words, b_rest) = b.as_chunks::<8>();
    a_words
        .iter()
        .zip(b_words)
        .all(|(x, y)| u64::from_ne_bytes(*x) == u64::from_ne_bytes(*y))
        && a_rest.iter().zip(b_rest).all(|(x, y)| x == y)
}

/// A query vector ready for scoring: unit length, and quantised like the rows.
pub struct Query {
    unit: Vec<f32>,
    scale: f32,
    codes: Vec<u8>,
}

impl Query {
    pub fn new(vector: &[f32]) -> Query {
        let unit = normalise(vector);
        let (scale, codes) = quantise(&unit);
        Query { unit, scale, codes }
    }
}

/// The unit vector's codes: `round(v / scale)` with `scale = max |v| / 127`.
fn quantise(unit: &[f32]) -> (f32, Vec<u8>) {
    let max = unit.iter().fold(0f32, |m, v| m.max(v.abs()));
    if max == 0.0 || !max.is_finite() {
        return (0.0, vec![0; unit.len()]);
    }
    let scale = max / 127.0;
    let codes = unit
        .iter()
        .map(|v| (v / scale).round().clamp(-127.0, 127.0) as i8 as u8)
        .collect();
    (scale, codes)
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

/// Dot product of two code vectors (to be multiplied by both scales), with wasm's
/// SIMD instructions written out. Under the server, every loop back-edge carries an
/// epoch check, and the compiler's vectorisation of the portable version below left
/// one per 16 bytes: at 20,000 rows of 1,024 dimensions the checks cost as much as a
/// third of a scan. Here one iteration takes 128 bytes, and each 16 are two widening
/// steps into `i32x4.dot_i16x8_s`. Integer arithmetic, so the result is exactly the
/// portable version's (the vector bench compares the two builds' results).
#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
#[inline]
pub fn dot_i8(a: &[u8], b: &[u8]) -> i32 {
    use core::arch::wasm32::{
        i16x8_extend_high_i8x16, i16x8_extend_low_i8x16, i32x4_add, i32x4_dot_i16x8,
        i32x4_extract_lane, i32x4_splat, u8x16, v128,
    };
    #[inline(always)]
    fn load(c: &[u8; 16]) -> v128 {
        u8x16(
            c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7], c[8], c[9], c[10], c[11], c[12], c[13],
            c[14], c[15],
        )
    }
    #[inline(always)]
    fn step(acc: v128, x: &[u8; 16], y: &[u8; 16]) -> v128 {
        let (x, y) = (load(x), load(y));
        let low = i32x4_dot_i16x8(i16x8_extend_low_i8x16(x), i16x8_extend_low_i8x16(y));
        let high = i32x4_dot_i16x8(i16x8_extend_high_i8x16(x), i16x8_extend_high_i8x16(y));
        i32x4_add(acc, i32x4_add(low, high))
    }
    let mut acc = i32x4_splat(0);
    let (a128, a_rest) = a.as_chunks::<128>();
    let (b128, b_rest) = b.as_chunks::<128>();
    for (x, y) in a128.iter().zip(b128) {
        let (x, _) = x.as_chunks::<16>();
        let (y, _) = y.as_chunks::<16>();
        for i in 0..8 {
            acc = step(acc, &x[i], &y[i]);
        }
    }
    let (a16, a_rest) = a_rest.as_chunks::<16>();
    let (b16, b_rest) = b_rest.as_chunks::<16>();
    for (x, y) in a16.iter().zip(b16) {
        acc = step(acc, x, y);
    }
    let mut sum = i32x4_extract_lane::<0>(acc)
        + i32x4_extract_lane::<1>(acc)
        + i32x4_extract_lane::<2>(acc)
        + i32x4_extract_lane::<3>(acc);
    for (x, y) in a_rest.iter().zip(b_rest) {
        sum += i32::from(*x as i8) * i32::from(*y as i8);
    }
    sum
}

/// Dot product of two code vectors (to be multiplied by both scales). Integer
/// arithmetic: exact, and it vectorises to widening multiplies.
#[cfg(not(all(target_arch = "wasm32", target_feature = "simd128")))]
#[inline]
pub fn dot_i8(a: &[u8], b: &[u8]) -> i32 {
    let mut acc = [0i32; 16];
    let (a_chunks, a_rest) = a.as_chunks::<16>();
    let (b_chunks, b_rest) = b.as_chunks::<16>();
    for (x, y) in a_chunks.iter().zip(b_chunks) {
        for i in 0..16 {
            acc[i] += i32::from(i16::from(x[i] as i8) * i16::from(y[i] as i8));
        }
    }
    let mut sum: i32 = acc.iter().sum();
    for (x, y) in a_rest.iter().zip(b_rest) {
        sum += i32::from(*x as i8) * i32::from(*y as i8);
    }
    sum
}

/// Dot product with a vector stored as little-endian `f32` bytes.
#[inline]
fn dot_bytes(a: &[f32], bytes: &[u8]) -> f32 {
    let mut acc = [0f32; 16];
    let (a_chunks, a_rest) = a.as_chunks::<16>();
    let (b_chunks, b_rest) = bytes.as_chunks::<64>();
    for (x, y) in a_chunks.iter().zip(b_chunks) {
        let (words, _) = y.as_chunks::<4>();
        for i in 0..16 {
            acc[i] += x[i] * f32::from_le_bytes(words[i]);
        }
    }
    let mut sum: f32 = acc.iter().sum();
    for (x, y) in a_rest.iter().zip(b_rest.as_chunks::<4>().0) {
        sum += x * f32::from_le_bytes(*y);
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
mod tests;
