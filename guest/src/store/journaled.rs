//! What a state must provide to be stored, and how storage fails.

use crate::payload::Visit;
use postcard::de_flavors::Flavor;
use serde::{Serialize, de::DeserializeOwned};
use std::io;

/// State that can be rebuilt by replaying operations.
pub trait Journaled: Serialize + DeserializeOwned + Default {
    /// One change to the state. New kinds of change are only ever added at the end,
    /// so journals written before them still decode.
    type Op: Serialize + DeserializeOwned;
    /// The snapshot layout this type writes (1-99).
    const FORMAT: u8 = 1;
    /// Applies one change. Must not fail: operations were validated before commit.
    fn apply(&mut self, op: Self::Op);
    /// Rebuilds derived indexes after a snapshot was loaded.
    fn after_load(&mut self) {}
    /// Decodes a snapshot payload of an earlier layout, from the same stream as
    /// today's (so converting a large workspace does not first read it whole); `None`
    /// if it is not one this type still reads.
    fn decode_older<'de, F: Flavor<'de>>(
        format: u8,
        input: &mut postcard::Deserializer<'de, F>,
    ) -> Option<Self> {
        let _ = (format, input);
        None
    }
    /// Decodes a journal record of operations in an earlier layout (the journal's
    /// `layout`, 1 for the first).
    fn decode_older_ops(layout: u8, payload: &[u8]) -> Option<Vec<Self::Op>> {
        let _ = (layout, payload);
        None
    }
    /// Visits every payload the state holds.
    fn payloads(&mut self, visit: &mut Visit<'_>) -> io::Result<()> {
        let _ = visit;
        Ok(())
    }
    /// Visits every payload an operation carries.
    fn op_payloads(op: &mut Self::Op, visit: &mut Visit<'_>) -> io::Result<()> {
        let _ = (op, visit);
        Ok(())
    }
}

/// Storage failures, as the engine reports them.
#[derive(Debug)]
pub enum StoreError {
    /// The disk (or the workspace's quota) is full; nothing was changed.
    Full(String),
    /// Any other I/O failure; nothing was changed.
    Io(String),
}

impl std::fmt::Display for StoreError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StoreError::Full(msg) | StoreError::Io(msg) => f.write_str(msg),
        }
    }
}

impl From<io::Error> for StoreError {
    fn from(err: io::Error) -> Self {
        // WASI reports ENOSPC / EDQUOT through std's error kinds.
        match err.kind() {
            io::ErrorKind::StorageFull | io::ErrorKind::QuotaExceeded => {
                StoreError::Full(format!("storage full: {err}"))
            }
            _ => StoreError::Io(format!("storage error: {err}")),
        }
    }
}
