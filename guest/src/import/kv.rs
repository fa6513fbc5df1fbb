//! LightRAG's JSON key-value files (`kv_store_*.json`): one object of records, read
//! entry by entry (see `json`), and the shapes of the records the import uses.
//!
//! Record fields are optional wherever LightRAG's versions differ or a field may be
//! `null`, so an older file still imports; a record whose shape is wrong is reported
//! to the caller, which skips it with a reason. A file that is not JSON, or not an
//! object, is an error naming the file.

use super::json::JsonReader;
use super::source::bad_file;
use crate::wit::Error;
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::Value;
use std::collections::HashMap;
use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

/// A `kv_store_doc_status.json` record.
#[derive(Debug, Deserialize)]
pub struct StatusRow {
    pub status: String,
    pub content_summary: Option<String>,
    pub content_length: Option<u64>,
    /// ISO-8601 text (Unix seconds in some older files).
    pub created_at: Option<Value>,
    pub updated_at: Option<Value>,
    pub file_path: Option<String>,
    pub track_id: Option<String>,
    pub content_hash: Option<String>,
    pub chunks_count: Option<u64>,
    pub chunks_list: Option<Vec<String>>,
    pub error_msg: Option<String>,
    pub metadata: Option<Value>,
}

/// A `kv_store_full_docs.json` record.
#[derive(Debug, Deserialize)]
pub struct FullDocRow {
    pub content: Option<String>,
    pub file_path: Option<String>,
}

/// A `kv_store_text_chunks.json` record.
#[derive(Debug, Deserialize)]
pub struct ChunkRow {
    pub tokens: Option<u64>,
    pub content: String,
    pub chunk_order_index: Option<u64>,
    pub full_doc_id: String,
    pub file_path: Option<String>,
    pub llm_cache_list: Option<Vec<String>>,
    pub create_time: Option<i64>,
}

/// A `kv_store_llm_response_cache.json` record.
#[derive(Debug, Deserialize)]
pub struct CacheRow {
    #[serde(rename = "return")]
    pub answer: Option<String>,
    pub cache_type: Option<String>,
    pub original_prompt: Option<String>,
    pub create_time: Option<i64>,
}

/// A `kv_store_entity_chunks.json` or `kv_store_relation_chunks.json` record.
#[derive(Debug, Deserialize)]
pub struct ChunkListRow {
    pub chunk_ids: Vec<String>,
}

/// A `kv_store_full_entities.json` record.
#[derive(Debug, Deserialize)]
pub struct FullEntitiesRow {
    pub entity_names: Vec<String>,
}

/// A `kv_store_full_relations.json` record.
#[derive(Debug, Deserialize)]
pub struct FullRelationsRow {
    pub relation_pairs: Vec<Vec<String>>,
}

/// Parses a record; the error says what is wrong with its shape.
pub fn decode<T: DeserializeOwned>(raw: &[u8]) -> Result<T, String> {
    serde_json::from_slice(raw).map_err(|e| {
        // serde's message names the field; the line and column are the record's own.
        let text = e.to_string();
        match text.find(" at line ") {
            Some(at) => text[..at].to_string(),
            None => text,
        }
    })
}

/// Calls `each` with every entry of the KV file at `path` (named `file` in errors):
/// its key, its value's raw JSON, and the value's byte offset. Malformed JSON (as
/// opposed to a record of the wrong shape) is an error naming the file.
pub fn for_each(
    path: &Path,
    file: &str,
    mut each: impl FnMut(String, &[u8], u64) -> Result<(), Error>,
) -> Result<(), Error> {
    let input = File::open(path).map_err(|e| bad_file(file, format!("cannot be read: {e}")))?;
    let mut reader = JsonReader::new(input);
    let malformed = |e: String| bad_file(file, format!("malformed JSON: {e}"));
    if !reader.begin_object().map_err(malformed)? {
        return Ok(());
    }
    let mut raw = Vec::new();
    while let Some(key) = reader.next_key().map_err(malformed)? {
        let at = reader.value_into(&mut raw).map_err(malformed)?;
        // Syntax inside the value is checked here, so that "malformed" always means
        // the file and never one record.
        if let Err(e) = serde_json::from_slice::<serde::de::IgnoredAny>(&raw) {
            return Err(malformed(format!(
                "{e} (in the value of \"{key}\", at byte {at})"
            )));
        }
        each(key, &raw, at)?;
    }
    reader.end().map_err(malformed)
}

/// Where each entry of a KV file is, so that entries can be read when needed instead
/// of held: the extraction answers of a chunk, the chunk list of an entity.
pub struct Index {
    path: PathBuf,
    file: &'static str,
    spans: HashMap<String, (u64, u32)>,
    input: Option<File>,
}

impl Index {
    /// Indexes the entries of `path` for which `keep(key, raw)` holds.
    pub fn build(
        path: &Path,
        file: &'static str,
        mut keep: impl FnMut(&str, &[u8]) -> bool,
    ) -> Result<Index, Error> {
        let mut spans = HashMap::new();
        for_each(path, file, |key, raw, at| {
            if keep(&key, raw) {
                let len = u32::try_from(raw.len())
                    .map_err(|_| bad_file(file, format!("the record \"{key}\" is over 4 GiB")))?;
                spans.insert(key, (at, len));
            }
            Ok(())
        })?;
        Ok(Index {
            path: path.to_path_buf(),
            file,
            spans,
            input: None,
        })
    }

    /// An index of nothing (the file is absent).
    pub fn empty(file: &'static str) -> Index {
        Index {
            path: PathBuf::new(),
            file,
            spans: HashMap::new(),
            input: None,
        }
    }

    /// The record under `key`: `None` when there is none, `Some(Err)` when it has the
    /// wrong shape.
    pub fn get<T: DeserializeOwned>(
        &mut self,
        key: &str,
    ) -> Result<Option<Result<T, String>>, Error> {
        let Some(&(at, len)) = self.spans.get(key) else {
            return Ok(None);
        };
        let file = self.file;
        let unreadable = |e: std::io::Error| bad_file(file, format!("cannot be read: {e}"));
        if self.input.is_none() {
            self.input = Some(File::open(&self.path).map_err(unreadable)?);
        }
        let input = self
            .input
            .as_mut()
            .ok_or_else(|| bad_file(file, "not open"))?;
        input.seek(SeekFrom::Start(at)).map_err(unreadable)?;
        let mut raw = vec![0; len as usize];
        input.read_exact(&mut raw).map_err(unreadable)?;
        Ok(Some(decode(&raw)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_are_read_in_order_and_again_by_key() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("kv.json");
        std::fs::write(
            &path,
            r#"{
  "doc-1": {"chunk_ids": ["c1", "c2"], "count": 2},
  "doc-2": {"chunk_ids": "not a list"},
  "doc-3": {"chunk_ids": ["c3"]}
}"#,
        )
        .unwrap();
        let mut keys = Vec::new();
        for_each(&path, "kv.json", |key, _, _| {
            keys.push(key);
            Ok(())
        })
        .unwrap();
        assert_eq!(keys, ["doc-1", "doc-2", "doc-3"]);
        let mut index = Index::build(&path, "kv.json", |key, _| key != "doc-3").unwrap();
        let row: ChunkListRow = index.get("doc-1").unwrap().unwrap().unwrap();
        assert_eq!(row.chunk_ids, ["c1", "c2"]);
        let wrong = index.get::<ChunkListRow>("doc-2").unwrap().unwrap();
        assert!(wrong.unwrap_err().contains("invalid type"));
        assert!(index.get::<ChunkListRow>("doc-3").unwrap().is_none());
    }

    #[test]
    fn malformed_json_names_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("kv.json");
        std::fs::write(&path, r#"{"a": {"b": [1, 2}, "c": 1}"#).unwrap();
        let err = for_each(&path, "kv_store_x.json", |_, _, _| Ok(())).unwrap_err();
        let Error::BadInput(message) = err else {
            panic!("{err:?}")
        };
        assert!(
            message.starts_with("kv_store_x.json: malformed JSON"),
            "{message}"
        );
    }
}
