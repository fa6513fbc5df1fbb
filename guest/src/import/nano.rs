//! NanoVectorDB files (`vdb_chunks.json`, `vdb_entities.json`,
//! `vdb_relationships.json`): `{"embedding_dim": n, "data": [records], "matrix":
//! base64}`, where the matrix is float32 little-endian, row-major, one row per
//! record in the order of `data`.
//!
//! The matrix is most of such a file and may be hundreds of megabytes of one JSON
//! string, so it is never held: a scan of the file keeps the id of every record and
//! where the matrix string starts, and a row is later read by seeking to the base64
//! groups that hold it (base64 maps every 3 bytes to 4 characters, so any row's
//! characters are known without decoding the rest). Records carry a compressed
//! float16 copy of their vector too; the matrix is the exact one, and the only one
//! used.

use super::base64::{decode, decoded_len, group_span, is_base64};
use super::json::JsonReader;
use super::source::bad_file;
use crate::wit::Error;
use serde::Deserialize;
use std::collections::HashMap;
use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

/// The part of a record the import needs.
#[derive(Deserialize)]
struct Record {
    #[serde(rename = "__id__")]
    id: String,
}

/// A scanned NanoVectorDB file: which row each id is, and where the rows are.
pub struct VectorFile {
    path: PathBuf,
    file: &'static str,
    dim: usize,
    rows: HashMap<String, u32>,
    /// Byte offset of the matrix string's first character, and its length.
    matrix_at: u64,
    matrix_chars: u64,
}

impl VectorFile {
    /// Scans the file at `path` (named `file` in errors), whose dimension must be
    /// `expected_dim`: reads every record's id and checks that the matrix holds
    /// exactly one row per record.
    pub fn scan(path: &Path, file: &'static str, expected_dim: u32) -> Result<VectorFile, Error> {
        let input = File::open(path).map_err(|e| bad_file(file, format!("cannot be read: {e}")))?;
        let mut reader = JsonReader::new(input);
        let malformed = |e: String| bad_file(file, format!("malformed JSON: {e}"));
        if !reader.begin_object().map_err(malformed)? {
            return Err(bad_file(file, "the file is empty"));
        }
        let check_dim = |dim: u64| {
            if dim == u64::from(expected_dim) {
                Ok(dim as usize)
            } else {
                Err(bad_file(
                    file,
                    format!(
                        "its vectors have {dim} dimensions, but the workspace is configured \
                         with EMBEDDING_DIM={expected_dim}; import with the embedding model \
                         the LightRAG workspace was built with"
                    ),
                ))
            }
        };
        let mut dim = None;
        let mut ids: Vec<String> = Vec::new();
        let mut matrix = None;
        let mut padding = 0u64;
        let mut raw = Vec::new();
        while let Some(key) = reader.next_key().map_err(malformed)? {
            match key.as_str() {
                "embedding_dim" => {
                    reader.value_into(&mut raw).map_err(malformed)?;
                    let value: u64 = serde_json::from_slice(&raw).map_err(|e| {
                        bad_file(file, format!("embedding_dim is not a whole number: {e}"))
                    })?;
                    dim = Some(check_dim(value)?);
                }
                "data" => {
                    reader.begin_array().map_err(malformed)?;
                    while reader.next_element().map_err(malformed)? {
                        let at = reader.value_into(&mut raw).map_err(malformed)?;
                        let record: Record = serde_json::from_slice(&raw).map_err(|e| {
                            bad_file(
                                file,
                                format!("the record at byte {at} has no usable __id__: {e}"),
                            )
                        })?;
                        ids.push(record.id);
                    }
                }
                "matrix" => {
                    let mut trailing = 0u64;
                    let span = reader
                        .scan_string(|piece| {
                            for &byte in piece {
                                if !is_base64(byte) || (trailing > 0 && byte != b'=') {
                                    return Err(format!(
                                        "the matrix is not base64 (byte 0x{byte:02x})"
                                    ));
                                }
                                trailing += u64::from(byte == b'=');
                            }
                            Ok(())
                        })
                        .map_err(|e| bad_file(file, e))?;
                    padding = trailing;
                    matrix = Some(span);
                }
                _ => {
                    reader.skip_value().map_err(malformed)?;
                }
            }
        }
        reader.end().map_err(malformed)?;
        let dim = dim.ok_or_else(|| bad_file(file, "embedding_dim is missing"))?;
        let (matrix_at, matrix_chars) = match matrix {
            Some(span) => span,
            None if ids.is_empty() => (0, 0),
            None => return Err(bad_file(file, "the matrix is missing")),
        };
        if !matrix_chars.is_multiple_of(4) {
            return Err(bad_file(file, "the matrix is not whole base64 groups"));
        }
        let have = decoded_len(matrix_chars, padding);
        let need = ids.len() as u64 * dim as u64 * 4;
        if have != need {
            return Err(bad_file(
                file,
                format!(
                    "the matrix holds {have} bytes, but {} records of {dim} float32 values \
                     need {need}",
                    ids.len()
                ),
            ));
        }
        let rows = ids
            .into_iter()
            .enumerate()
            .map(|(row, id)| (id, row as u32))
            .collect();
        Ok(VectorFile {
            path: path.to_path_buf(),
            file,
            dim,
            rows,
            matrix_at,
            matrix_chars,
        })
    }

    /// Number of records.
    #[cfg(test)]
    fn len(&self) -> usize {
        self.rows.len()
    }

    /// Opens the file for reading rows.
    pub fn rows(&self) -> Result<Rows<'_>, Error> {
        let input = File::open(&self.path)
            .map_err(|e| bad_file(self.file, format!("cannot be read: {e}")))?;
        Ok(Rows {
            vectors: self,
            input,
            text: Vec::new(),
        })
    }
}

/// Reads rows of a [`VectorFile`].
pub struct Rows<'a> {
    vectors: &'a VectorFile,
    input: File,
    text: Vec<u8>,
}

impl Rows<'_> {
    /// The vector of `id`: `None` when the file has none, `Some(Err)` when its values
    /// are not finite numbers.
    pub fn get(&mut self, id: &str) -> Result<Option<Result<Vec<f32>, String>>, Error> {
        let v = self.vectors;
        let Some(&row) = v.rows.get(id) else {
            return Ok(None);
        };
        let bytes = v.dim as u64 * 4;
        let (from, to, skip) = group_span(u64::from(row) * bytes, bytes, v.matrix_chars);
        let unreadable = |e: std::io::Error| bad_file(v.file, format!("cannot be read: {e}"));
        self.text.resize((to - from) as usize, 0);
        self.input
            .seek(SeekFrom::Start(v.matrix_at + from))
            .map_err(unreadable)?;
        self.input.read_exact(&mut self.text).map_err(unreadable)?;
        let decoded = decode(&self.text).map_err(|e| bad_file(v.file, e))?;
        let values: Vec<f32> = decoded
            .get(skip..skip + bytes as usize)
            .ok_or_else(|| bad_file(v.file, "the matrix is shorter than its records"))?
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect();
        if values.iter().any(|x| !x.is_finite()) {
            return Ok(Some(Err(
                "its vector holds a value that is not a number".into()
            )));
        }
        Ok(Some(Ok(values)))
    }
}

#[cfg(test)]
mod tests {
    use super::super::base64::encode;
    use super::*;

    fn write(dir: &Path, dim: u32, rows: &[(&str, Vec<f32>)]) -> PathBuf {
        let matrix: Vec<u8> = rows
            .iter()
            .flat_map(|(_, v)| v.iter().flat_map(|x| x.to_le_bytes()))
            .collect();
        let data: Vec<serde_json::Value> = rows
            .iter()
            .map(|(id, _)| serde_json::json!({"__id__": id, "__created_at__": 1, "content": "x"}))
            .collect();
        let text =
            serde_json::json!({"embedding_dim": dim, "data": data, "matrix": encode(&matrix)});
        let path = dir.join("vdb.json");
        std::fs::write(&path, text.to_string()).unwrap();
        path
    }

    #[test]
    fn rows_are_read_by_id_from_the_middle_of_the_matrix() {
        let dir = tempfile::tempdir().unwrap();
        // Three dimensions: 12 bytes a row, so rows start in the middle of groups.
        let rows: Vec<(&str, Vec<f32>)> = vec![
            ("a", vec![1.0, 2.0, 3.0]),
            ("b", vec![-0.5, 0.25, 1e-3]),
            ("c", vec![7.0, 8.0, 9.5]),
            ("d", vec![0.0, -1.0, 2.5]),
        ];
        let path = write(dir.path(), 3, &rows);
        let file = VectorFile::scan(&path, "vdb.json", 3).unwrap();
        assert_eq!(file.len(), 4);
        let mut reader = file.rows().unwrap();
        for (id, values) in rows.iter().rev() {
            assert_eq!(&reader.get(id).unwrap().unwrap().unwrap(), values);
        }
        assert!(reader.get("missing").unwrap().is_none());
    }

    #[test]
    fn a_wrong_dimension_or_matrix_is_refused_naming_both_numbers() {
        let dir = tempfile::tempdir().unwrap();
        let path = write(dir.path(), 3, &[("a", vec![1.0, 2.0, 3.0])]);
        let Err(Error::BadInput(message)) = VectorFile::scan(&path, "vdb.json", 8) else {
            panic!("accepted")
        };
        assert!(
            message.contains('3') && message.contains("EMBEDDING_DIM=8"),
            "{message}"
        );
        // Rows of the wrong size for the declared dimension.
        let path = write(dir.path(), 4, &[("a", vec![1.0, 2.0, 3.0])]);
        let Err(Error::BadInput(message)) = VectorFile::scan(&path, "vdb.json", 4) else {
            panic!("accepted")
        };
        assert!(message.contains("the matrix holds 12 bytes"), "{message}");
        // An empty database is fine.
        std::fs::write(&path, r#"{"embedding_dim": 4, "data": [], "matrix": ""}"#).unwrap();
        assert_eq!(VectorFile::scan(&path, "vdb.json", 4).unwrap().len(), 0);
        std::fs::write(
            &path,
            r#"{"embedding_dim": 4, "data": [], "matrix": "a\/b="}"#,
        )
        .unwrap();
        assert!(VectorFile::scan(&path, "vdb.json", 4).is_err());
    }
}
