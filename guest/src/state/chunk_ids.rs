//! A list of chunk ids in one byte string.
//!
//! Every entity and relation keeps the full list of chunks it was extracted from
//! (for deletion), so a chunk's id is held once per entity and relation it mentions:
//! a dozen times or more. As strings that was a heap allocation of ~60 bytes each,
//! and these lists were the largest tables after the vectors. Ids this engine makes,
//! `doc-<32 hex digits>-chunk-<n>`, are kept as their 16 bytes and a varint instead;
//! any other id (written by hand through the graph-editing routes, or imported) is
//! kept as its text. The list is one allocation, and is stored and decoded as one
//! byte string, so opening a workspace no longer allocates per id either.

use serde::{Deserialize, Serialize};
use std::borrow::Cow;

/// Marks an id kept as 16 bytes and a varint order.
const MADE: u8 = 0;
/// Marks an id kept as text: a varint length, then its bytes.
const TEXT: u8 = 1;

/// Chunk ids in order, encoded; see the module docs.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ChunkIds {
    count: u32,
    #[serde(with = "crate::payload::bytes")]
    bytes: Vec<u8>,
}

impl ChunkIds {
    /// How many ids the list holds.
    pub fn len(&self) -> usize {
        self.count as usize
    }

    /// Whether the list holds no id.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// Appends one id.
    pub fn push(&mut self, id: &str) {
        match made_parts(id) {
            Some((doc, order)) => {
                self.bytes.push(MADE);
                self.bytes.extend_from_slice(&doc);
                put_varint(&mut self.bytes, order);
            }
            None => {
                self.bytes.push(TEXT);
                put_varint(&mut self.bytes, id.len() as u64);
                self.bytes.extend_from_slice(id.as_bytes());
            }
        }
        self.count += 1;
    }

    /// The ids, in order. Ids kept as text are borrowed; made ones are written out.
    pub fn iter(&self) -> impl Iterator<Item = Cow<'_, str>> {
        let mut at = 0;
        std::iter::from_fn(move || {
            let (id, next) = decode_one(&self.bytes, at)?;
            at = next;
            Some(id)
        })
    }

    /// The ids as strings.
    pub fn to_vec(&self) -> Vec<String> {
        self.iter().map(Cow::into_owned).collect()
    }

    /// How many ids are not among `excluded`, without writing out made ids (a merge
    /// counts a popular relation's thousands of sources this way).
    pub fn count_not_in(&self, excluded: &[&str]) -> usize {
        let made: Vec<([u8; 16], u64)> = excluded.iter().filter_map(|id| made_parts(id)).collect();
        let mut count = 0;
        let mut at = 0;
        while let Some(&tag) = self.bytes.get(at) {
            let listed = if tag == MADE {
                let Some((order, next)) = get_varint(&self.bytes, at + 17) else {
                    break;
                };
                let doc = &self.bytes[at + 1..at + 17];
                at = next;
                made.iter().any(|(d, o)| d[..] == *doc && *o == order)
            } else {
                let Some((id, next)) = decode_one(&self.bytes, at) else {
                    break;
                };
                at = next;
                excluded.contains(&id.as_ref())
            };
            count += usize::from(!listed);
        }
        count
    }
}

impl<S: AsRef<str>> FromIterator<S> for ChunkIds {
    fn from_iter<I: IntoIterator<Item = S>>(ids: I) -> ChunkIds {
        let mut list = ChunkIds::default();
        list.extend(ids);
        list
    }
}

impl<S: AsRef<str>> Extend<S> for ChunkIds {
    fn extend<I: IntoIterator<Item = S>>(&mut self, ids: I) {
        for id in ids {
            self.push(id.as_ref());
        }
    }
}

/// The document hash and order of an id this engine makes, if `id` is one whose
/// text [`decode_one`] gives back exactly (lowercase hex, an order without leading
/// zeros beyond the usual three digits).
fn made_parts(id: &str) -> Option<([u8; 16], u64)> {
    let rest = id.strip_prefix("doc-")?;
    let (hex, order) = rest.split_once("-chunk-")?;
    if hex.len() != 32 || order.is_empty() || order.len() > 9 {
        return None;
    }
    let mut doc = [0u8; 16];
    for (byte, pair) in doc.iter_mut().zip(hex.as_bytes().chunks_exact(2)) {
        *byte = (hex_digit(pair[0])? << 4) | hex_digit(pair[1])?;
    }
    if !order.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let n: u64 = order.parse().ok()?;
    (format_order(n) == order).then_some((doc, n))
}

fn hex_digit(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        _ => None,
    }
}

/// The order as ids write it: at least three digits.
fn format_order(n: u64) -> String {
    format!("{n:03}")
}

fn decode_one(bytes: &[u8], at: usize) -> Option<(Cow<'_, str>, usize)> {
    match *bytes.get(at)? {
        MADE => {
            let doc = bytes.get(at + 1..at + 17)?;
            let (order, next) = get_varint(bytes, at + 17)?;
            let mut id = String::with_capacity(48);
            id.push_str("doc-");
            for byte in doc {
                id.push(char::from(b"0123456789abcdef"[usize::from(byte >> 4)]));
                id.push(char::from(b"0123456789abcdef"[usize::from(byte & 15)]));
            }
            id.push_str("-chunk-");
            id.push_str(&format_order(order));
            Some((Cow::Owned(id), next))
        }
        TEXT => {
            let (len, start) = get_varint(bytes, at + 1)?;
            let end = start.checked_add(usize::try_from(len).ok()?)?;
            let text = std::str::from_utf8(bytes.get(start..end)?).ok()?;
            Some((Cow::Borrowed(text), end))
        }
        _ => None,
    }
}

fn put_varint(out: &mut Vec<u8>, mut n: u64) {
    while n >= 0x80 {
        out.push((n as u8) | 0x80);
        n >>= 7;
    }
    out.push(n as u8);
}

fn get_varint(bytes: &[u8], mut at: usize) -> Option<(u64, usize)> {
    let mut n = 0u64;
    for shift in (0..64).step_by(7) {
        let byte = *bytes.get(at)?;
        at += 1;
        n |= u64::from(byte & 0x7f) << shift;
        if byte < 0x80 {
            return Some((n, at));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn made_and_other_ids_come_back_as_they_went_in_and_made_ones_are_small() {
        let made = "doc-4ed28f4f50aef00c005abb76998b49ee-chunk-000";
        let ids = [
            made,
            "doc-4ed28f4f50aef00c005abb76998b49ee-chunk-1234",
            "manual_creation",
            // Near misses are kept as text, so they come back unchanged too.
            "doc-4ED28F4F50AEF00C005ABB76998B49EE-chunk-000",
            "doc-4ed28f4f50aef00c005abb76998b49ee-chunk-01",
            "doc-4ed28f4f50aef00c005abb76998b49ee-chunk-0001",
            "doc-4ed28f4f50aef00c005abb76998b49e-chunk-000",
            "doc-4ed28f4f50aef00c005abb76998b49ee-chunk-",
            "doc-4ed28f4f50aef00c005abb76998b49ee-chunk-+12",
            "chunk-ünïcode",
            "",
        ];
        let list: ChunkIds = ids.iter().collect();
        assert_eq!(list.len(), ids.len());
        assert_eq!(list.to_vec(), ids);
        let one: ChunkIds = [made].into_iter().collect();
        assert_eq!(
            one.bytes.len(),
            18,
            "a made id is a tag, 16 bytes, one varint byte"
        );
        // Round trip through the snapshot's encoding.
        let encoded = postcard::to_allocvec(&list).unwrap();
        let back: ChunkIds = postcard::from_bytes(&encoded).unwrap();
        assert_eq!(back, list);
        assert_eq!(back.to_vec(), ids);
    }

    #[test]
    fn counting_ids_outside_a_set_matches_the_strings() {
        let made = "doc-0123456789abcdef0123456789abcdef-chunk-002";
        let list: ChunkIds = [made, "UNKNOWN", "manual_creation", "x", made]
            .into_iter()
            .collect();
        assert_eq!(list.count_not_in(&["manual_creation", "UNKNOWN"]), 3);
        assert_eq!(list.count_not_in(&[made]), 3);
        assert_eq!(list.count_not_in(&[]), 5);
        assert_eq!(ChunkIds::default().count_not_in(&["x"]), 0);
    }

    #[test]
    fn appending_keeps_order_and_count() {
        let mut list = ChunkIds::default();
        assert!(list.is_empty());
        list.extend(["a", "b"]);
        list.push("doc-00000000000000000000000000000000-chunk-999");
        list.extend(vec!["c".to_string()]);
        assert_eq!(
            list.to_vec(),
            [
                "a",
                "b",
                "doc-00000000000000000000000000000000-chunk-999",
                "c"
            ]
        );
        assert_eq!(list.len(), 4);
    }
}
