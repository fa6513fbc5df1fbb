//! The files of a LightRAG workspace directory, and how a problem with one of them is
//! reported: always `bad-input` naming the file, never a trap.

use crate::wit::Error;
use std::fmt::Display;
use std::path::{Path, PathBuf};

/// Document statuses (required).
pub const DOC_STATUS: &str = "kv_store_doc_status.json";
/// Document texts.
pub const FULL_DOCS: &str = "kv_store_full_docs.json";
/// Chunks (required).
pub const TEXT_CHUNKS: &str = "kv_store_text_chunks.json";
/// Cached model answers.
pub const LLM_CACHE: &str = "kv_store_llm_response_cache.json";
/// Per document, the entities it contributed.
pub const FULL_ENTITIES: &str = "kv_store_full_entities.json";
/// Per document, the relations it contributed.
pub const FULL_RELATIONS: &str = "kv_store_full_relations.json";
/// Per entity, every chunk it was extracted from.
pub const ENTITY_CHUNKS: &str = "kv_store_entity_chunks.json";
/// Per relation (`a<SEP>b`), every chunk it was extracted from.
pub const RELATION_CHUNKS: &str = "kv_store_relation_chunks.json";
/// Chunk vectors.
pub const VDB_CHUNKS: &str = "vdb_chunks.json";
/// Entity vectors.
pub const VDB_ENTITIES: &str = "vdb_entities.json";
/// Relation vectors.
pub const VDB_RELATIONS: &str = "vdb_relationships.json";
/// The knowledge graph.
pub const GRAPH: &str = "graph_chunk_entity_relation.graphml";

/// A LightRAG workspace directory.
#[derive(Clone, Debug)]
pub struct Source {
    dir: PathBuf,
}

impl Source {
    /// The directory at `dir` (its files are looked up when needed).
    pub fn new(dir: &Path) -> Source {
        Source {
            dir: dir.to_path_buf(),
        }
    }

    /// The path of `file`, if the directory has it.
    pub fn optional(&self, file: &str) -> Option<PathBuf> {
        let path = self.dir.join(file);
        path.is_file().then_some(path)
    }

    /// The path of `file`, which the directory must have.
    pub fn required(&self, file: &str) -> Result<PathBuf, Error> {
        self.optional(file).ok_or_else(|| {
            Error::BadInput(format!(
                "{file} is missing from the LightRAG directory; it is required to import one"
            ))
        })
    }

    /// Whether the directory exists at all.
    pub fn exists(&self) -> bool {
        self.dir.is_dir()
    }
}

/// `bad-input` naming `file` and what is wrong with it.
pub fn bad_file(file: &str, what: impl Display) -> Error {
    Error::BadInput(format!("{file}: {what}"))
}
