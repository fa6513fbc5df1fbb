//! The built-in offline provider: what the server uses when no language model and no
//! embedding service are configured, so that it does its main job out of the box,
//! with no network and no API key.
//!
//! * [`embed::OfflineEmbedder`] is a real (small) sentence-embedding model bundled in
//!   the binary by pocket-encoder: paraphrase-MiniLM-L3-v2, 384 dimensions. Retrieval
//!   quality is modest but genuine.
//! * [`llm`] is *not* a language model and never pretends to be one. It is a set of
//!   deterministic rules, one per completion purpose: entity and relation extraction
//!   by capitalisation and a small gazetteer, query keywords by content words,
//!   description merging by sentence de-duplication, and extractive answers that
//!   quote the best-matching retrieved sentences with their citations, clearly labelled
//!   as offline mode. The engine tells the provider the purpose of each completion and
//!   hands over the raw input (chunk, query, fragments, retrieved context), so no
//!   prompt is ever parsed.

pub mod embed;
mod entities;
mod extract;
mod lexicon;
pub mod llm;
mod text;

pub use embed::OfflineEmbedder;
