//! What an entity or relation records of where it came from — its `source_id` (chunk
//! ids) and `file_path` (document names) — within LightRAG's limits
//! (`MAX_SOURCE_IDS_PER_ENTITY`/`_PER_RELATION`, `MAX_FILE_PATHS`,
//! `SOURCE_IDS_LIMIT_METHOD`).
//!
//! The full list of chunk ids is kept apart (the state's `entity_chunks` and
//! `relation_chunks`, for deletion); these fields show at most the limit, the oldest
//! (`KEEP`, LightRAG's default) or the newest (`FIFO`), and `truncate` says so. With
//! `KEEP` a popular entity's fields stop changing once full, so merging one more
//! document that mentions it costs the same however many already did.

use crate::ids::{SEP, sep_parts};
use crate::wit::SourceIdsLimit;

/// The marker closing a `file_path` that was cut.
fn paths_marker(method: SourceIdsLimit) -> &'static str {
    match method {
        SourceIdsLimit::Keep => "...truncated...(KEEP Old)",
        SourceIdsLimit::Fifo => "...truncated...(FIFO)",
    }
}

/// The `source_id` and `truncate` fields for the full list `ids` (oldest first).
pub fn source_id(ids: &[String], limit: usize, method: SourceIdsLimit) -> (String, String) {
    let limit = limit.max(1);
    if ids.len() <= limit {
        return (ids.join(SEP), String::new());
    }
    match method {
        SourceIdsLimit::Keep => (ids[..limit].join(SEP), "KEEP Old".into()),
        SourceIdsLimit::Fifo => (
            ids[ids.len() - limit..].join(SEP),
            format!("FIFO {limit}/{}", ids.len()),
        ),
    }
}

/// The `source_id` and `truncate` fields after appending `new` chunk ids to a list of
/// `total_before` ids whose fields were `old_source_id`/`old_truncate` — without
/// walking the whole list. New ids are ids of chunks merged for the first time.
///
/// The shown ids are borrowed from the old field, never copied one by one: popular
/// entities show hundreds, and are merged with every document that mentions them.
pub fn extend_source_id(
    old_source_id: &str,
    old_truncate: &str,
    total_before: usize,
    new: &[String],
    limit: usize,
    method: SourceIdsLimit,
) -> (String, String) {
    let limit = limit.max(1);
    let total = total_before + new.len();
    let new = new.iter().map(String::as_str);
    match method {
        SourceIdsLimit::Keep if sep_parts(old_source_id).nth(limit - 1).is_some() => (
            old_source_id.to_string(),
            truncate_keep(total, limit, old_truncate),
        ),
        SourceIdsLimit::Keep => {
            let mut ids: Vec<&str> = sep_parts(old_source_id).collect();
            let room = limit - ids.len();
            ids.extend(new.take(room));
            let truncate = if total > limit { "KEEP Old" } else { "" };
            (join(&ids), truncate.into())
        }
        SourceIdsLimit::Fifo => {
            let mut ids: Vec<&str> = sep_parts(old_source_id).collect();
            ids.extend(new);
            let from = ids.len().saturating_sub(limit);
            let truncate = if total > limit {
                format!("FIFO {limit}/{total}")
            } else {
                String::new()
            };
            (join(&ids[from..]), truncate)
        }
    }
}

/// `parts` joined with [`SEP`], in one allocation.
fn join<S: AsRef<str>>(parts: &[S]) -> String {
    let len = parts
        .iter()
        .map(|p| p.as_ref().len() + SEP.len())
        .sum::<usize>();
    let mut out = String::with_capacity(len);
    for (i, part) in parts.iter().enumerate() {
        if i > 0 {
            out.push_str(SEP);
        }
        out.push_str(part.as_ref());
    }
    out
}

fn truncate_keep(total: usize, limit: usize, old: &str) -> String {
    if total > limit {
        "KEEP Old".into()
    } else {
        old.to_string()
    }
}

/// The `file_path` field: distinct names, within the limit, then a marker.
pub fn file_path<S: AsRef<str>>(paths: &[S], limit: usize, method: SourceIdsLimit) -> String {
    let limit = limit.max(1);
    if paths.len() <= limit {
        return join(paths);
    }
    let kept = match method {
        SourceIdsLimit::Keep => &paths[..limit],
        SourceIdsLimit::Fifo => &paths[paths.len() - limit..],
    };
    let mut out = join(kept);
    out.push_str(SEP);
    out.push_str(paths_marker(method));
    out
}

/// The names a stored `file_path` shows, without its marker.
pub fn shown_paths(file_path: &str) -> Vec<String> {
    shown_path_parts(file_path).map(str::to_string).collect()
}

/// [`shown_paths`], borrowed.
pub fn shown_path_parts(file_path: &str) -> impl Iterator<Item = &str> {
    sep_parts(file_path).filter(|p| !p.starts_with("...truncated..."))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(n: usize) -> Vec<String> {
        (0..n).map(|i| format!("c{i}")).collect()
    }

    #[test]
    fn keep_shows_the_oldest_and_fifo_the_newest() {
        let all = ids(5);
        assert_eq!(
            source_id(&all, 5, SourceIdsLimit::Keep),
            (all.join(SEP), String::new())
        );
        let (kept, truncate) = source_id(&all, 3, SourceIdsLimit::Keep);
        assert_eq!(
            (kept.as_str(), truncate.as_str()),
            ("c0<SEP>c1<SEP>c2", "KEEP Old")
        );
        let (kept, truncate) = source_id(&all, 3, SourceIdsLimit::Fifo);
        assert_eq!(
            (kept.as_str(), truncate.as_str()),
            ("c2<SEP>c3<SEP>c4", "FIFO 3/5")
        );
    }

    /// Extending field by field gives what recomputing from the full list gives.
    #[test]
    fn extending_matches_recomputing_from_the_whole_list() {
        for method in [SourceIdsLimit::Keep, SourceIdsLimit::Fifo] {
            for limit in [1, 3, 7] {
                let mut all: Vec<String> = Vec::new();
                let (mut shown, mut truncate) = (String::new(), String::new());
                for batch in [1, 2, 3, 1, 4, 2] {
                    let new: Vec<String> = (all.len()..all.len() + batch)
                        .map(|i| format!("c{i}"))
                        .collect();
                    (shown, truncate) =
                        extend_source_id(&shown, &truncate, all.len(), &new, limit, method);
                    all.extend(new);
                    assert_eq!(
                        (shown.clone(), truncate.clone()),
                        source_id(&all, limit, method)
                    );
                }
            }
        }
    }

    #[test]
    fn file_paths_are_cut_with_a_marker() {
        let paths = ids(4);
        assert_eq!(file_path(&paths, 4, SourceIdsLimit::Keep), paths.join(SEP));
        let kept = file_path(&paths, 2, SourceIdsLimit::Keep);
        assert_eq!(kept, "c0<SEP>c1<SEP>...truncated...(KEEP Old)");
        assert_eq!(shown_paths(&kept), ["c0", "c1"]);
        let kept = file_path(&paths, 2, SourceIdsLimit::Fifo);
        assert_eq!(kept, "c2<SEP>c3<SEP>...truncated...(FIFO)");
    }
}
