//! lightrag-wasm's server: many isolated LightRAG workspaces behind one HTTP endpoint.
//!
//! Each workspace runs in its own instance of the engine component (`guest/`), which
//! can see nothing but its own data directory. The host does all I/O: HTTP, model
//! calls, streaming. See `ARCHITECTURE.md` for the design and its reasons.
//!
//! # Layout
//!
//! From the bottom up; every module uses only those above it in this list.
//!
//! * `workspace` — the validated workspace name, the value every layer passes around.
//! * `usage` — token counts of model calls.
//! * `config` — settings from flags, environment and `.env`, with LightRAG's names.
//! * `auth` — API keys, login tokens, per-workspace credentials (who may use what).
//! * `audit` — each workspace's append-only audit trail, outside its directory.
//! * `catalog` — last known sizes of workspaces that are not loaded.
//! * `limits` — per-workspace memory, CPU and disk limits, with admin overrides.
//! * `archive` — the workspace archive: a checked tar of a workspace's files, for
//!   moving it between servers.
//! * `metrics` — Prometheus counters.
//! * `scan_jobs` — recent directory scans, for their status route.
//! * `providers` — the model clients (OpenAI-compatible, Ollama, Azure, offline),
//!   fair budgets, retries.
//! * `runtime` — wasmtime `Engine`, compiled component cache, `InstancePre`, stores.
//! * `instance` — one live engine instance, its typed, budgeted calls, typed faults.
//! * `pool` — a generic LRU of leased slots: single-flight opens, fair capacity waits,
//!   handover, closing, shutdown. Knows nothing of workspaces.
//! * `service` — the workspace service on top of the pool: opening and retiring
//!   engines, typed guest calls on a lease, the task driver, the ingestion pipeline,
//!   deletion, shutdown.
//! * `error` — `AppError`, the one mapping from failure to HTTP status.
//! * `routes` — the HTTP API in LightRAG's shapes; `fn app(state) -> Router`.
//! * `tls` — HTTPS: a rustls listener with handshakes off the accept loop.
//! * `server` — builds the state, serves (HTTP or HTTPS), shuts down gracefully.
//! * `commands` — `export` and `import`: one workspace, then exit.

pub mod archive;
pub mod audit;
pub mod auth;
pub mod catalog;
pub mod commands;
pub mod config;
pub mod error;
pub mod instance;
pub mod limits;
pub mod metrics;
pub mod pool;
pub mod providers;
pub mod routes;
pub mod runtime;
pub mod scan_jobs;
pub mod server;
pub mod service;
pub mod tls;
pub mod usage;
pub mod workspace;

pub use lightrag_bindings as bindings;
