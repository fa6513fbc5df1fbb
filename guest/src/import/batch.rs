//! Writing an import through the engine's durable path: operations are committed
//! in batches, each one journal record like any other change, so what an import
//! writes is exactly what the engine would have written itself and reopens the
//! same way. Batches bound the memory held by operations not yet written (their
//! texts and vectors move to the blob file at commit).

use crate::shared::Shared;
use crate::state::Op;
use crate::wit::Error;

/// Records per batch.
const RECORDS: usize = 256;
/// Bytes of text and vectors per batch.
const BYTES: usize = 8 << 20;

/// Operations waiting to be committed.
pub struct Batch<'a> {
    shared: &'a Shared,
    ops: Vec<Op>,
    records: usize,
    bytes: usize,
}

impl<'a> Batch<'a> {
    /// An empty batch for `shared`.
    pub fn new(shared: &'a Shared) -> Batch<'a> {
        Batch {
            shared,
            ops: Vec::new(),
            records: 0,
            bytes: 0,
        }
    }

    /// Adds the operations of one record of about `bytes` bytes; commits when the
    /// batch is full.
    pub fn push(&mut self, ops: impl IntoIterator<Item = Op>, bytes: usize) -> Result<(), Error> {
        self.ops.extend(ops);
        self.records += 1;
        self.bytes += bytes;
        if self.records >= RECORDS || self.bytes >= BYTES {
            self.flush()?;
        }
        Ok(())
    }

    /// Commits what is waiting, as one durable transaction.
    pub fn flush(&mut self) -> Result<(), Error> {
        if self.ops.is_empty() {
            return Ok(());
        }
        check_memory(self.shared)?;
        let ops = std::mem::take(&mut self.ops);
        self.records = 0;
        self.bytes = 0;
        self.shared.commit(ops)
    }
}

/// Refuses to grow the tables past three quarters of the memory limit, the headroom
/// a workspace keeps so that it can still be reopened (see [`crate::memory`]).
fn check_memory(shared: &Shared) -> Result<(), Error> {
    let limit = shared.config.memory_limit_bytes;
    let live = crate::memory::live_bytes() as u64;
    if limit == 0 || live <= limit / 4 * 3 {
        return Ok(());
    }
    Err(Error::StorageFull(format!(
        "the imported workspace does not fit in this workspace's memory: {} MiB are in use \
         of the {} MiB limit, and at most three quarters may be, so that it can be reopened; \
         raise LIGHTRAG_WORKSPACE_MEMORY_MB (or the workspace's memory_mb limit) and import \
         again",
        live >> 20,
        limit >> 20
    )))
}
