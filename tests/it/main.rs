//! Black-box tests of lightrag-server: a real server process on a loopback port, a
//! real HTTP client, and a mock OpenAI-compatible model server.
//!
//! One binary, one module per area. Regression tests are named after the bug.

mod auth;
mod chaos;
mod component;
mod docs;
mod documents;
mod edges;
mod files;
mod graph;
mod graph_edit;
mod harness;
mod in_process;
mod isolation;
mod layers;
mod lifecycle;
mod lightrag_import;
mod mock_llm;
mod modes;
mod node;
mod offline;
mod ollama;
mod pool;
mod provenance;
mod providers;
mod query;
mod resilience;
mod routing;
mod sandbox;
mod scale_out;
mod storage;
mod transfer;
mod webui;
