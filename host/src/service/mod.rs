//! The workspace service: what the routes use to reach a tenant's engine.
//!
//! It puts the workspace policy on top of the generic [`crate::pool`]. From the
//! bottom up:
//!
//! * `error` — [`Error`], the one error type of every operation here.
//! * `blocking` — running disk-bound engine calls off the async workers.
//! * `live` — [`Live`], an open workspace and the host's facts about it.
//! * `open` — [`Opener`], the pool's lifecycle: directories, OS locks, limits,
//!   faults, quarantine, finalize.
//! * `context` — what the parts share: the pool, providers, audit, shutdown.
//! * `lease` — [`WorkspaceLease`] and its typed guest calls.
//! * `task` — the task driver ([`RunningTask`]) and background deletions.
//! * `pipeline` — background ingestion, and the inserts that feed it.
//! * `workspaces` — [`Workspaces`]: leasing, recycling, deleting, shutting down.
//! * `transfer` — exporting a workspace while it serves, installing an unpacked one.
//! * `import` — a Python LightRAG directory, converted by the engine, installed.

mod blocking;
mod context;
mod error;
mod import;
mod lease;
mod live;
mod open;
mod pipeline;
mod task;
mod transfer;
mod workspaces;

pub use error::{Error, guest_message};
pub use import::{PHASES, check_embedding_model, phase_name, tables};
pub use lease::WorkspaceLease;
pub use live::Live;
pub use open::{OpenSettings, Opener, Quarantine};
pub use task::RunningTask;
pub use transfer::Staging;
pub use workspaces::{Parts, Workspaces};
