//! How LightRAG names graph items in storage: the vector ids of entities and
//! relations, the order of a relation's endpoints, and the `<SEP>`-joined lists kept
//! in a node's or edge's fields.
//!
//! The tables key their derived indexes by these ids, and merging, editing and
//! deleting write them: one definition keeps them in step.

use crate::util::mdhash_id;

/// Separator of description fragments, chunk ids and file paths.
pub const SEP: &str = "<SEP>";

/// Vector id of an entity (LightRAG's `ent-` + md5 of the name).
pub fn entity_vector_id(name: &str) -> String {
    mdhash_id("ent-", name)
}

/// Vector id of a relation (`rel-` + md5 of the sorted endpoints concatenated).
pub fn relation_vector_id(a: &str, b: &str) -> String {
    let (a, b) = sorted(a, b);
    mdhash_id("rel-", &format!("{a}{b}"))
}

/// The pair in LightRAG's storage order.
pub fn sorted<'a>(a: &'a str, b: &'a str) -> (&'a str, &'a str) {
    if a <= b { (a, b) } else { (b, a) }
}

/// Splits a `<SEP>`-joined field, dropping empty parts.
pub fn split_sep(value: &str) -> Vec<String> {
    value
        .split(SEP)
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect()
}
