//! lightrag-wasm's server: many isolated LightRAG workspaces behind one HTTP endpoint.
//!
//! Each workspace runs in its own instance of the engine component (`guest/`), which
//! can see nothing but its own data directory. The host does all I/O: HTTP, model
//! calls, streaming. See `ARCHITECTURE.md` for the design and its reasons.
//!
//! # Layout
//!
//! * `config` — settings from flags, environment and `.env`, with LightRAG's names.
//! * `auth` — API keys, login tokens, per-workspace credentials (who may use what).
//! * `audit` — each workspace's append-only audit trail, outside its directory.
//! * `catalog` — last known sizes of workspaces that are not loaded.
//! * `limits` — per-workspace memory, CPU and disk limits, with admin overrides.
//! * `workspace` — the `Workspace` extractor: header → validated name → 400 otherwise.
//! * `runtime` — wasmtime `Engine`, compiled component cache, `InstancePre`, stores.
//! * `instance` — one live engine instance and its typed, budgeted calls.
//! * `pool` — the LRU pool: single-flight opens, leases, eviction with `finalize`.
//! * `driver` — runs a guest task, answering its model requests concurrently.
//! * `pipeline` — the background ingestion of each workspace.
//! * `providers` — OpenAI-compatible client and the built-in offline provider.
//! * `offline` — the offline embedding model and rule-based LLM stand-in.
//! * `routes` — the HTTP API in LightRAG's shapes.
//! * `error` — `AppError`, the one mapping from failure to HTTP status.
//! * `metrics` — Prometheus counters.
//! * `server` — shared state, serving, graceful shutdown.

pub mod audit;
pub mod auth;
pub mod catalog;
pub mod config;
pub mod driver;
pub mod error;
pub mod instance;
pub mod limits;
pub mod metrics;
pub mod offline;
pub mod pipeline;
pub mod pool;
pub mod providers;
pub mod routes;
pub mod runtime;
pub mod server;
pub mod workspace;

pub use lightrag_bindings as bindings;
