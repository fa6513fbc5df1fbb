use super::*;
use crate::payload::BlobRef;
use std::cell::RefCell;

/// Exact values moved out of the index into memory standing in for the blob file.
#[derive(Default)]
struct MemoryBlobs(RefCell<Vec<Vec<u8>>>);

impl MemoryBlobs {
    /// Moves every inline exact value of `index` here.
    fn take_from(&self, index: &mut VectorIndex) {
        index
            .payloads(&mut |_, payload| {
                if let Payload::Inline(bytes) = payload {
                    let bytes = std::mem::take(bytes);
                    let mut all = self.0.borrow_mut();
                    *payload = Payload::Stored(BlobRef {
                        offset: all.len() as u64,
                        len: bytes.len() as u32,
                        crc: crc32fast::hash(&bytes),
                    });
                    all.push(bytes);
                }
                Ok(())
            })
            .unwrap();
    }
}

impl BlobSource for MemoryBlobs {
    fn read(&self, blob: BlobRef) -> io::Result<Vec<u8>> {
        self.0
            .borrow()
            .get(blob.offset as usize)
            .cloned()
            .ok_or_else(|| io::Error::other("no such value"))
    }
}

fn put(index: &mut VectorIndex, id: &str, vector: &[f32]) {
    index.upsert(id, Embedding::new(vector));
}

/// A deterministic pseudo-random vector in clusters, like embeddings of related text.
fn vector(seed: u64, dim: usize) -> Vec<f32> {
    let mut state = (seed / 7).wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    let mut noise = seed.wrapping_mul(0xd1b5_4a32_d192_ed03) | 1;
    (0..dim)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            noise ^= noise << 13;
            noise ^= noise >> 7;
            noise ^= noise << 17;
            let centre = (state % 2001) as f32 / 1000.0 - 1.0;
            let jitter = (noise % 2001) as f32 / 1000.0 - 1.0;
            centre + 0.6 * jitter
        })
        .collect()
}

#[test]
fn search_ranks_by_exact_cosine_and_applies_the_threshold() {
    let blobs = MemoryBlobs::default();
    for stored in [false, true] {
        let mut index = VectorIndex::default();
        put(&mut index, "x", &[1.0, 0.0, 0.0]);
        put(&mut index, "xy", &[1.0, 1.0, 0.0]);
        put(&mut index, "z", &[0.0, 0.0, 5.0]);
        if stored {
            blobs.take_from(&mut index);
        }
        let hits = index.search(&[2.0, 0.0, 0.0], 10, 0.2, &blobs);
        assert_eq!(
            hits.iter().map(|h| h.0.as_str()).collect::<Vec<_>>(),
            ["x", "xy"]
        );
        // Scores are the exact cosines, not the codes' approximation.
        assert!((hits[0].1 - 1.0).abs() < 1e-6);
        assert!((hits[1].1 - std::f32::consts::FRAC_1_SQRT_2).abs() < 1e-6);
        assert_eq!(index.search(&[2.0, 0.0, 0.0], 1, 0.0, &blobs).len(), 1);
    }
}

#[test]
fn remove_keeps_other_rows_addressable_and_the_index_round_trips() {
    let blobs = MemoryBlobs::default();
    let mut index = VectorIndex::default();
    for i in 0..5 {
        let mut v = vec![0.0; 5];
        v[i] = 1.0;
        put(&mut index, &format!("v{i}"), &v);
    }
    blobs.take_from(&mut index);
    index.remove("v1");
    index.remove("v4");
    index.remove("missing");
    assert_eq!(index.len(), 3);
    for i in [0, 2, 3] {
        let mut v = vec![0.0; 5];
        v[i] = 1.0;
        let hits = index.search(&v, 1, 0.5, &blobs);
        assert_eq!(hits[0].0, format!("v{i}"));
        assert!(
            index
                .score_row(index.row(&format!("v{i}")).unwrap(), &Query::new(&v))
                .unwrap()
                > 0.99
        );
    }
    assert!(!index.contains("v1"));
    let restored: VectorIndex =
        postcard::from_bytes(&postcard::to_stdvec(&index).unwrap()).unwrap();
    assert_eq!(
        restored.search(&[0.0, 0.0, 1.0, 0.0, 0.0], 1, 0.5, &blobs)[0].0,
        "v2"
    );
}

#[test]
fn codes_approximate_the_dot_product_closely() {
    let dim = 1024;
    for seed in 0..20 {
        let a = normalise(&vector(seed, dim));
        let embedding = Embedding::new(&vector(seed + 1000, dim));
        let Payload::Inline(bytes) = &embedding.exact else {
            unreachable!()
        };
        let exact = dot_bytes(&a, bytes);
        let query = Query::new(&a);
        let both_quantised =
            dot_i8(&query.codes, &embedding.codes.0) as f32 * query.scale * embedding.scale;
        assert!(
            (exact - both_quantised).abs() < THRESHOLD_MARGIN / 2.0,
            "{exact} vs {both_quantised}"
        );
    }
}

#[test]
fn dots_match_a_plain_loop_for_odd_lengths() {
    let a: Vec<f32> = (0..37).map(|i| i as f32 * 0.5).collect();
    let b: Vec<f32> = (0..37).map(|i| 1.0 - i as f32 * 0.25).collect();
    let plain: f32 = a.iter().zip(&b).map(|(x, y)| x * y).sum();
    assert!((dot(&a, &b) - plain).abs() < 1e-3);
    let bytes: Vec<u8> = b.iter().flat_map(|v| v.to_le_bytes()).collect();
    assert!((dot_bytes(&a, &bytes) - plain).abs() < 1e-3);
    let x: Vec<u8> = (0..37).map(|i| (i as i8 - 18) as u8).collect();
    let y: Vec<u8> = (0..37i32)
        .map(|i| (127 - 7 * i).clamp(-127, 127) as i8 as u8)
        .collect();
    let plain: i32 = x
        .iter()
        .zip(&y)
        .map(|(a, b)| i32::from(*a as i8) * i32::from(*b as i8))
        .sum();
    assert_eq!(dot_i8(&x, &y), plain);
}

/// The top 10 of the quantised search with exact re-ranking against an exact scan,
/// over clustered vectors where many are close to each other.
#[test]
fn recall_at_ten_matches_exact_search() {
    let dim = 256;
    let blobs = MemoryBlobs::default();
    let mut index = VectorIndex::default();
    let vectors: Vec<Vec<f32>> = (0..2000).map(|i| vector(i, dim)).collect();
    for (i, v) in vectors.iter().enumerate() {
        put(&mut index, &format!("{i:05}"), v);
    }
    blobs.take_from(&mut index);
    let (mut found, mut total) = (0, 0);
    for q in 0..40 {
        let query = vector(5000 + q * 37, dim);
        let unit = normalise(&query);
        let mut exact: Vec<(f32, usize)> = vectors
            .iter()
            .enumerate()
            .map(|(i, v)| (dot(&unit, &normalise(v)), i))
            .collect();
        exact.sort_by(|a, b| b.0.total_cmp(&a.0));
        let truth: Vec<String> = exact[..10].iter().map(|(_, i)| format!("{i:05}")).collect();
        let hits = index.search(&query, 10, -1.0, &blobs);
        // The same hits as rows, for callers that keep working with rows.
        let rows: Vec<(&str, f32)> = index
            .search_rows(&query, 10, -1.0, &blobs)
            .into_iter()
            .map(|(row, score)| (index.id(row), score))
            .collect();
        let by_id: Vec<(&str, f32)> = hits.iter().map(|(id, s)| (id.as_str(), *s)).collect();
        assert_eq!(rows, by_id);
        found += hits.iter().filter(|(id, _)| truth.contains(id)).count();
        total += 10;
        // The scores reported are the exact ones.
        for (id, score) in &hits {
            let i: usize = id.parse().unwrap();
            assert!((score - dot(&unit, &normalise(&vectors[i]))).abs() < 1e-5);
        }
    }
    assert!(found * 100 >= total * 99, "recall@10 {found}/{total}");
}

#[test]
fn rows_stay_findable_through_random_upserts_and_removes() {
    // Ids of every length around the 8-byte words `same` compares, with shared
    // prefixes, against a plain map of what should be there.
    let mut rng = 0x2545_F491_4F6C_DD1Du64;
    let mut next = move |n: u64| {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        rng % n
    };
    let mut index = VectorIndex::default();
    let mut model: std::collections::HashMap<String, usize> = Default::default();
    for step in 0..3000 {
        let id = format!("chunk-{}", "x".repeat(next(20) as usize)) + &next(40).to_string();
        if next(3) == 0 {
            index.remove(&id);
            model.remove(&id);
        } else {
            let axis = next(4) as usize;
            let mut v = vec![0.1; 4];
            v[axis] = 1.0;
            put(&mut index, &id, &v);
            model.insert(id, axis);
        }
        if step % 100 == 0 || step == 2999 {
            assert_eq!(index.len(), model.len());
            for (id, &axis) in &model {
                let row = index.row(id).unwrap_or_else(|| panic!("{id} lost"));
                assert_eq!(index.id(row), id);
                let mut v = vec![0.1; 4];
                v[axis] = 1.0;
                assert!(index.score_row(row, &Query::new(&v)).unwrap() > 0.99);
            }
        }
    }
    let restored: VectorIndex =
        postcard::from_bytes(&postcard::to_stdvec(&index).unwrap()).unwrap();
    for id in model.keys() {
        assert_eq!(restored.id(restored.row(id).unwrap()), id);
    }
    assert!(restored.row("chunk-").is_none());
}

#[test]
fn codes_are_kept_in_bounded_pages_through_growth_removal_and_reopening() {
    // 128 Ki dimensions make a page hold eight rows, so thirty rows span four pages.
    let dim = 1 << 17;
    let per_page = PAGE_BYTES / dim;
    assert_eq!(per_page, 8);
    let mut index = VectorIndex::default();
    let mut kept: Vec<(String, Vec<f32>)> = Vec::new();
    for i in 0..30 {
        let v = vector(i * 7919, dim);
        put(&mut index, &format!("r{i}"), &v);
        kept.push((format!("r{i}"), v));
    }
    let check = |index: &VectorIndex, kept: &[(String, Vec<f32>)]| {
        assert_eq!(index.len(), kept.len());
        assert_eq!(index.pages.len(), kept.len().div_ceil(per_page));
        for page in &index.pages {
            assert!(page.len() <= PAGE_BYTES && page.len() % dim == 0);
        }
        for (id, v) in kept {
            let row = index.row(id).unwrap_or_else(|| panic!("{id} lost"));
            assert!(index.score_row(row, &Query::new(v)).unwrap() > 0.99, "{id}");
        }
    };
    check(&index, &kept);
    // Remove from the first page, the middle and the end: the last row moves into
    // each hole and the last page shrinks, dropping when it empties.
    for id in ["r0", "r12", "r29", "r3", "r28", "r27", "r26", "r25", "r24"] {
        index.remove(id);
        kept.retain(|(k, _)| k != id);
        check(&index, &kept);
    }
    let restored: VectorIndex =
        postcard::from_bytes(&postcard::to_stdvec(&index).unwrap()).unwrap();
    check(&restored, &kept);

    // Codes arriving as one run (the older layout) are cut into pages on opening.
    let one_run: Vec<u8> = index.pages.concat();
    let joined = VectorIndex::from_parts(
        dim,
        index.ids.clone(),
        index.scales.clone(),
        vec![one_run.clone()],
        index.exact.clone(),
    )
    .unwrap();
    check(&joined, &kept);
    assert_eq!(joined.pages, index.pages);
    // Parts that disagree are refused rather than misread.
    let short = one_run[..one_run.len() - 1].to_vec();
    let (ids, scales, exact) = (index.ids.clone(), index.scales.clone(), index.exact.clone());
    assert!(VectorIndex::from_parts(dim, ids, scales, vec![short], exact).is_none());
}
