//! [`Error`]: every way a workspace operation can fail, as one flat type.

use crate::bindings::types::Error as GuestError;
use crate::instance::Fault;
use std::fmt;

/// Why a workspace operation failed.
#[derive(Debug, Clone)]
pub enum Error {
    /// The engine answered with an error (bad input, not found, busy, storage full...).
    Engine(GuestError),
    /// The engine faulted; its instance was discarded, and the next request opens the
    /// workspace afresh.
    Fault(Fault),
    /// Every pool slot stayed busy for the whole wait.
    Busy { retry_after: u32 },
    /// The server is stopping.
    ShuttingDown,
    /// Another server process holds the workspace.
    Locked(String),
    /// The workspace does not exist (and is not created by naming it), or is being
    /// deleted.
    NotFound(String),
    /// The workspace faulted repeatedly and is quarantined for this many seconds.
    Quarantined { retry_after: u32 },
    /// The task was cancelled (its client went away, or the server is stopping).
    Cancelled,
    /// The workspace is not in a state the operation needs (an import into a
    /// workspace that holds data).
    Conflict(String),
    /// What the caller handed over cannot be used (a damaged workspace archive).
    Invalid(String),
    /// The host itself failed (a directory it cannot create, an engine it cannot
    /// instantiate, a model request that crashed).
    Host(String),
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Engine(err) => write!(f, "{}", guest_message(err)),
            Error::Fault(fault) => write!(f, "the workspace engine stopped: {fault}"),
            Error::Busy { .. } => f.write_str("every workspace slot is busy"),
            Error::ShuttingDown => f.write_str("the server is shutting down"),
            Error::Locked(msg)
            | Error::NotFound(msg)
            | Error::Conflict(msg)
            | Error::Invalid(msg)
            | Error::Host(msg) => f.write_str(msg),
            Error::Quarantined { retry_after } => {
                write!(f, "the workspace is quarantined for {retry_after} s")
            }
            Error::Cancelled => f.write_str("the operation was cancelled"),
        }
    }
}

impl std::error::Error for Error {}

impl From<GuestError> for Error {
    fn from(err: GuestError) -> Self {
        Error::Engine(err)
    }
}

impl From<Fault> for Error {
    fn from(fault: Fault) -> Self {
        Error::Fault(fault)
    }
}

/// The message of an engine error.
pub fn guest_message(err: &GuestError) -> &str {
    match err {
        GuestError::BadInput(m)
        | GuestError::NotFound(m)
        | GuestError::Conflict(m)
        | GuestError::Busy(m)
        | GuestError::StorageFull(m)
        | GuestError::Unavailable(m)
        | GuestError::Internal(m) => m,
    }
}
