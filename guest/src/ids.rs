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
    sep_parts(value).map(str::to_string).collect()
}

/// The parts of a `<SEP>`-joined field, trimmed, without the empty ones.
///
/// Queries split thousands of chunk ids out of these lists, so this looks for `<`
/// with a byte search and checks the rest of the separator there, rather than run a
/// substring search over every byte; the parts are those of `value.split(SEP)`.
pub fn sep_parts(value: &str) -> impl Iterator<Item = &str> {
    SepParts { rest: Some(value) }
        .map(str::trim)
        .filter(|s| !s.is_empty())
}

struct SepParts<'a> {
    rest: Option<&'a str>,
}

impl<'a> Iterator for SepParts<'a> {
    type Item = &'a str;

    fn next(&mut self) -> Option<&'a str> {
        let rest = self.rest?;
        let mut from = 0;
        while let Some(at) = rest[from..].find('<').map(|at| from + at) {
            if rest[at..].starts_with(SEP) {
                self.rest = Some(&rest[at + SEP.len()..]);
                return Some(&rest[..at]);
            }
            from = at + 1;
        }
        self.rest = None;
        Some(rest)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sep_parts_are_the_trimmed_non_empty_parts_of_split() {
        for value in [
            "",
            "a",
            "a<SEP>b",
            " a <SEP><SEP> b<SEP>",
            "<SEP>",
            "a<b<SEP>c",
            "a<<SEP>b",
            "a<SE",
            "a<SEP",
            "<SEP<SEP>>",
            "é<SEP>ü<>",
            "chunk-1<SEP>chunk-2<SEP>chunk-1",
        ] {
            let expected: Vec<&str> = value
                .split(SEP)
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .collect();
            assert_eq!(sep_parts(value).collect::<Vec<_>>(), expected, "{value:?}");
        }
    }
}
