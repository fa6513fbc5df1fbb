//! Bulky values the engine keeps on disk rather than in memory: a document's text, a
//! cached model answer, a vector's exact values.
//!
//! Memory is what limits a workspace (a wasm instance has at most 4 GiB, and the
//! server gives each far less), while most of these bytes are read rarely: a
//! document's text once when it is chunked, a cached answer on a hit, an exact vector
//! when the search re-ranks its best candidates. So the store moves them into an
//! append-only blob file when they are committed, and what stays in memory is a
//! [`BlobRef`] — sixteen bytes — through which they are read back on demand.
//!
//! A value is [`Payload::Inline`] until the store has moved it, and may stay inline
//! when a setting asks for it (exact vectors with `LIGHTRAG_VECTOR_PRECISION=f32`).

use serde::de::{self, Deserializer, Visitor};
use serde::ser::Serializer;
use serde::{Deserialize, Serialize};
use std::borrow::Cow;
use std::fmt;
use std::io;

/// Where a value lives in the workspace's current blob file.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct BlobRef {
    pub offset: u64,
    pub len: u32,
    /// Checksum of the bytes, checked on every read: the low 32 bits of their XXH3-64,
    /// or their CRC-32 in a blob file of the first layout (`LRBLOB01`).
    pub crc: u32,
}

/// A value in memory or in the blob file.
#[derive(Clone, Debug, PartialEq)]
pub enum Payload {
    Inline(Vec<u8>),
    Stored(BlobRef),
}

/// What a payload holds, which decides whether the store may move it to disk.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// Text: always moved.
    Text,
    /// A vector's exact values: moved unless exact vectors are kept in memory.
    Vector,
}

/// Reads payloads back from the blob file.
pub trait BlobSource {
    /// The bytes of `blob`; an error if they cannot be read or fail their checksum.
    fn read(&self, blob: BlobRef) -> io::Result<Vec<u8>>;
}

/// Visits payloads in place (the store moving them to disk, or between files).
pub type Visit<'a> = dyn FnMut(Kind, &mut Payload) -> io::Result<()> + 'a;

impl Payload {
    /// Size of the value in bytes, wherever it is.
    pub fn len(&self) -> usize {
        match self {
            Payload::Inline(bytes) => bytes.len(),
            Payload::Stored(blob) => blob.len as usize,
        }
    }

    /// Whether the value is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Bytes of memory the value itself occupies (inline bytes; a reference is part of
    /// its owner).
    pub fn heap_bytes(&self) -> usize {
        match self {
            Payload::Inline(bytes) => bytes.capacity(),
            Payload::Stored(_) => 0,
        }
    }

    /// The value's bytes, read from `blobs` if stored.
    pub fn bytes<'a>(&'a self, blobs: &dyn BlobSource) -> io::Result<Cow<'a, [u8]>> {
        match self {
            Payload::Inline(bytes) => Ok(Cow::Borrowed(bytes)),
            Payload::Stored(blob) => blobs.read(*blob).map(Cow::Owned),
        }
    }
}

/// Text that is a [`Payload`]: UTF-8 by construction.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Text(Payload);

impl Text {
    /// Text held in memory until the store moves it.
    pub fn new(text: impl Into<String>) -> Text {
        Text(Payload::Inline(text.into().into_bytes()))
    }

    /// Length in bytes.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether the text is empty.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The underlying payload, for the store.
    pub fn payload_mut(&mut self) -> &mut Payload {
        &mut self.0
    }

    /// Memory held (see [`Payload::heap_bytes`]).
    pub fn heap_bytes(&self) -> usize {
        self.0.heap_bytes()
    }

    /// The text, read from `blobs` if stored.
    pub fn read(&self, blobs: &dyn BlobSource) -> io::Result<String> {
        let bytes = self.0.bytes(blobs)?.into_owned();
        String::from_utf8(bytes)
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidData, "stored text is not UTF-8"))
    }
}

// Inline bytes are written as one byte string (not a sequence of numbers), so that a
// streaming decoder takes them in one read.
impl Serialize for Payload {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Payload::Inline(bytes) => {
                serializer.serialize_newtype_variant("Payload", 0, "Inline", &AsBytes(bytes))
            }
            Payload::Stored(blob) => {
                serializer.serialize_newtype_variant("Payload", 1, "Stored", blob)
            }
        }
    }
}

impl<'de> Deserialize<'de> for Payload {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Payload, D::Error> {
        #[derive(Deserialize)]
        enum Repr {
            Inline(ByteBuf),
            Stored(BlobRef),
        }
        Ok(match Repr::deserialize(deserializer)? {
            Repr::Inline(ByteBuf(bytes)) => Payload::Inline(bytes),
            Repr::Stored(blob) => Payload::Stored(blob),
        })
    }
}

/// Serialises a byte slice as a byte string.
pub struct AsBytes<'a>(pub &'a [u8]);

impl Serialize for AsBytes<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_bytes(self.0)
    }
}

/// `#[serde(with = "crate::payload::bytes")]`: a `Vec<u8>` field as one byte string
/// (serde's default is a sequence of numbers, decoded one element at a time).
pub mod bytes {
    use super::{AsBytes, ByteBuf};
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    pub fn serialize<S: Serializer>(bytes: &[u8], serializer: S) -> Result<S::Ok, S::Error> {
        AsBytes(bytes).serialize(serializer)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<u8>, D::Error> {
        ByteBuf::deserialize(deserializer).map(|b| b.0)
    }
}

/// Deserialises a byte string into owned bytes.
pub struct ByteBuf(pub Vec<u8>);

impl<'de> Deserialize<'de> for ByteBuf {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<ByteBuf, D::Error> {
        struct BytesVisitor;
        impl<'de> Visitor<'de> for BytesVisitor {
            type Value = ByteBuf;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a byte string")
            }
            fn visit_bytes<E: de::Error>(self, v: &[u8]) -> Result<ByteBuf, E> {
                Ok(ByteBuf(v.to_vec()))
            }
            fn visit_byte_buf<E: de::Error>(self, v: Vec<u8>) -> Result<ByteBuf, E> {
                Ok(ByteBuf(v))
            }
        }
        deserializer.deserialize_byte_buf(BytesVisitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct NoBlobs;
    impl BlobSource for NoBlobs {
        fn read(&self, _: BlobRef) -> io::Result<Vec<u8>> {
            Err(io::Error::other("no blobs here"))
        }
    }

    #[test]
    fn payloads_round_trip_through_postcard() {
        for payload in [
            Payload::Inline(b"hello \xff bytes".to_vec()),
            Payload::Inline(Vec::new()),
            Payload::Stored(BlobRef {
                offset: 1 << 40,
                len: 7,
                crc: 0xdead_beef,
            }),
        ] {
            let encoded = postcard::to_stdvec(&payload).unwrap();
            let decoded: Payload = postcard::from_bytes(&encoded).unwrap();
            assert_eq!(decoded, payload);
        }
        let text = Text::new("grüße");
        let decoded: Text = postcard::from_bytes(&postcard::to_stdvec(&text).unwrap()).unwrap();
        assert_eq!(decoded.read(&NoBlobs).unwrap(), "grüße");
        assert_eq!(decoded.len(), "grüße".len());
    }
}
