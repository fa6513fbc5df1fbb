//! The chunk rows an entity's or relation's source list names, remembered from one
//! query to the next.
//!
//! A graph query ranks the chunks its entities and relations were extracted from.
//! Those are `<SEP>`-joined chunk ids, up to LightRAG's limit per item, and a large
//! workspace's popular entities list hundreds each: at 20,000 chunks a local query
//! looked up about ten thousand ids in the chunk index, hashing and comparing each,
//! which was two fifths of its work. The lists change only when documents are merged
//! or deleted, and the same popular entities come back in query after query, so each
//! list's rows are kept here and found by one hash of the list.
//!
//! Rows stay exact. A list is found by a hash of its whole text and its length, so a
//! changed list is looked up afresh (a 64-bit collision between two lists of equal
//! length is the one way to get another list's rows). Rows are only handed out while
//! the chunk index keeps its layout ([`VectorIndex::layout`]: a removal moves rows), and
//! a list whose ids were not all in the index is looked up again once the index has
//! grown, since an appended chunk may be one of them.

use crate::ids::sep_parts;
use crate::util::Map;
use crate::vectors::VectorIndex;

/// Most rows remembered; past this the memo starts over, which keeps it small
/// without bookkeeping (the lists worth remembering come back with the next queries).
const MEMO_ROWS: usize = 1 << 20;

/// Remembered rows, per source list.
#[derive(Default)]
pub struct SourceRows {
    /// The chunk index's layout the rows belong to.
    layout: u64,
    entries: Map<(u64, usize), Entry>,
    rows_held: usize,
}

struct Entry {
    /// The index's length when the list was looked up, if some of its ids were missing
    /// then; `None` when all were found.
    missing_at: Option<usize>,
    rows: Box<[u32]>,
}

impl SourceRows {
    /// The rows of the ids `sources` lists, in its order (repeats kept), skipping the
    /// ids `index` does not hold.
    pub fn rows(&mut self, index: &VectorIndex, sources: &str) -> &[u32] {
        if self.layout != index.layout() {
            self.clear();
            self.layout = index.layout();
        }
        // XXH3, not the maps' hasher: a query hashes every list it ranks, 1.3 MB at
        // 20,000 chunks, and in wasm XXH3 (SIMD128) hashes that in 0.10 ms against
        // foldhash's 0.19 (wasm has no 64×64→128-bit multiply).
        let key = (
            xxhash_rust::xxh3::xxh3_64(sources.as_bytes()),
            sources.len(),
        );
        let fresh = match self.entries.get(&key) {
            Some(entry) => entry.missing_at.is_some_and(|len| len != index.len()),
            None => true,
        };
        if fresh {
            let mut missing = false;
            let rows: Box<[u32]> = sep_parts(sources)
                .filter_map(|id| {
                    let row = index.row(id);
                    missing |= row.is_none();
                    row.map(|row| row as u32)
                })
                .collect();
            if self.rows_held + rows.len() > MEMO_ROWS {
                self.clear();
            }
            self.rows_held += rows.len();
            let entry = Entry {
                missing_at: missing.then_some(index.len()),
                rows,
            };
            if let Some(old) = self.entries.insert(key, entry) {
                self.rows_held -= old.rows.len();
            }
        }
        &self.entries[&key].rows
    }

    fn clear(&mut self) {
        self.entries = Map::default();
        self.rows_held = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vectors::Embedding;

    fn index_of(ids: &[&str]) -> VectorIndex {
        let mut index = VectorIndex::default();
        for id in ids {
            index.upsert(id, Embedding::new(&[1.0, 0.0]));
        }
        index
    }

    fn ids_of(index: &VectorIndex, rows: &[u32]) -> Vec<String> {
        rows.iter()
            .map(|&r| index.id(r as usize).to_string())
            .collect()
    }

    #[test]
    fn rows_are_the_listed_ids_in_order_without_the_unknown_ones() {
        let index = index_of(&["a", "b", "c"]);
        let mut memo = SourceRows::default();
        let rows = memo.rows(&index, "c<SEP> a <SEP>nope<SEP><SEP>c").to_vec();
        assert_eq!(ids_of(&index, &rows), ["c", "a", "c"]);
        // Asked again, the same rows.
        assert_eq!(
            memo.rows(&index, "c<SEP> a <SEP>nope<SEP><SEP>c"),
            &rows[..]
        );
    }

    #[test]
    fn a_removal_that_moves_rows_is_never_answered_from_memory() {
        let mut index = index_of(&["a", "b", "c"]);
        let mut memo = SourceRows::default();
        assert_eq!(ids_of(&index, memo.rows(&index, "c")), ["c"]);
        // Removing `a` moves `c` into its row.
        index.remove("a");
        assert_eq!(ids_of(&index, memo.rows(&index, "c")), ["c"]);
        assert_eq!(memo.rows(&index, "a<SEP>c").len(), 1);
    }

    #[test]
    fn an_id_missing_from_the_index_is_found_once_it_is_added() {
        let mut index = index_of(&["a"]);
        let mut memo = SourceRows::default();
        assert_eq!(memo.rows(&index, "a<SEP>b").len(), 1);
        index.upsert("b", Embedding::new(&[0.0, 1.0]));
        let rows = memo.rows(&index, "a<SEP>b").to_vec();
        assert_eq!(ids_of(&index, &rows), ["a", "b"]);
    }

    #[test]
    fn another_index_or_a_clone_is_never_answered_with_the_first_ones_rows() {
        let first = index_of(&["a", "b"]);
        let second = index_of(&["b", "a"]);
        let mut memo = SourceRows::default();
        assert_eq!(ids_of(&first, memo.rows(&first, "a")), ["a"]);
        assert_eq!(ids_of(&second, memo.rows(&second, "a")), ["a"]);
        let mut clone = first.clone();
        assert_ne!(clone.layout(), first.layout());
        clone.remove("a");
        assert_eq!(memo.rows(&clone, "a<SEP>b").len(), 1);
        assert_eq!(ids_of(&first, memo.rows(&first, "a<SEP>b")), ["a", "b"]);
    }

    #[test]
    fn the_memo_starts_over_past_its_bound() {
        let index = index_of(&["a"]);
        let mut memo = SourceRows::default();
        let long = vec!["a"; MEMO_ROWS / 2 + 1].join("<SEP>");
        assert_eq!(memo.rows(&index, &long).len(), MEMO_ROWS / 2 + 1);
        assert_eq!(
            memo.rows(&index, &format!("{long}<SEP>a")).len(),
            MEMO_ROWS / 2 + 2
        );
        assert!(memo.rows_held <= MEMO_ROWS);
        assert_eq!(memo.entries.len(), 1);
    }
}
