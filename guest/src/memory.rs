//! How much memory the engine holds, and the headroom it keeps below its limit.
//!
//! The component counts its live heap with an allocator that forwards to the
//! standard one: the host sees only the linear memory's size, which never shrinks,
//! while what matters for a workspace is what its tables hold now — the memory a
//! reopen will need. Native builds (tests, tools) use the standard allocator
//! uncounted, and report 0.
//!
//! A workspace must stay openable: reopening decodes its tables into a fresh
//! instance under the same limit, with the working memory of queries and ingestion
//! on top. So new documents are refused once the tables would pass three quarters of
//! the limit, with an error that names the setting that raises it.

use crate::wit::Error;
use std::sync::atomic::{AtomicUsize, Ordering};

static LIVE: AtomicUsize = AtomicUsize::new(0);

/// Bytes currently allocated on the engine's heap (0 when not counted).
pub fn live_bytes() -> usize {
    LIVE.load(Ordering::Relaxed)
}

/// The counting allocator. Its methods only forward to [`std::alloc::System`] and
/// update a counter, which is why `unsafe` is allowed here and nowhere else.
#[cfg(target_arch = "wasm32")]
mod counting {
    #![allow(unsafe_code)]
    use super::LIVE;
    use std::alloc::{GlobalAlloc, Layout, System};
    use std::sync::atomic::Ordering;

    struct Counting;

    // SAFETY: every call is forwarded unchanged to `System`, which upholds the
    // contract; the counter has no effect on the memory handed out.
    unsafe impl GlobalAlloc for Counting {
        unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
            LIVE.fetch_add(layout.size(), Ordering::Relaxed);
            unsafe { System.alloc(layout) }
        }
        unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
            LIVE.fetch_add(layout.size(), Ordering::Relaxed);
            unsafe { System.alloc_zeroed(layout) }
        }
        unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
            LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
            unsafe { System.dealloc(ptr, layout) }
        }
        unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
            let grown = unsafe { System.realloc(ptr, layout, new_size) };
            if !grown.is_null() {
                LIVE.fetch_add(new_size, Ordering::Relaxed);
                LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
            }
            grown
        }
    }

    #[global_allocator]
    static ALLOCATOR: Counting = Counting;
}

/// Refuses new documents of `sizes` bytes of text if, counting from `live` bytes:
/// the tables would pass three quarters of `limit` (0 = no limit) once they are
/// processed, or processing the largest would not fit in the limit at all.
pub fn check_headroom(live: usize, sizes: &[usize], limit: u64) -> Result<(), Error> {
    if limit == 0 || sizes.is_empty() {
        return Ok(());
    }
    let mib = |bytes: usize| bytes.div_ceil(1 << 20);
    let limit_mib = limit >> 20;
    let largest = sizes.iter().copied().max().unwrap_or(0);
    // Chunking and embedding a document holds its text several times over at once:
    // the text, its tokens, its chunks, the requests built from them.
    let working = largest.saturating_mul(WORKING_COPIES);
    if live.saturating_add(working) > limit as usize {
        return Err(Error::StorageFull(format!(
            "a document of {} MiB is too large to process within the workspace's {limit_mib} \
             MiB memory limit (processing needs about {} MiB); split it, or raise \
             LIGHTRAG_WORKSPACE_MEMORY_MB (or the workspace's memory_mb limit)",
            mib(largest),
            mib(working)
        )));
    }
    let allowed = (limit / 4 * 3) as usize;
    let total: usize = sizes.iter().sum();
    // Once processed, content takes about one and a half times its text: the chunks'
    // text, their vectors' codes, and their share of the graph.
    let needed = total.saturating_add(total / 2);
    if live.saturating_add(needed) <= allowed {
        return Ok(());
    }
    Err(Error::StorageFull(format!(
        "the workspace's memory is nearly full: it holds {} MiB, these documents would add \
         about {} MiB, and it may hold {} MiB (three quarters of its {limit_mib} MiB limit, so \
         that it can still be reopened); delete documents, or raise \
         LIGHTRAG_WORKSPACE_MEMORY_MB (or the workspace's memory_mb limit)",
        mib(live),
        mib(needed),
        mib(allowed),
    )))
}

/// Copies of a document's text that processing it holds at its peak.
const WORKING_COPIES: usize = 6;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headroom_refuses_what_would_pass_three_quarters_of_the_limit() {
        let limit = 256u64 << 20;
        assert!(check_headroom(0, &[1 << 20], limit).is_ok());
        assert!(check_headroom(100 << 20, &[1 << 20, 2 << 20], limit).is_ok());
        // Already past three quarters: even a small document is refused.
        let err = check_headroom(193 << 20, &[1000], limit).unwrap_err();
        let Error::StorageFull(message) = err else {
            panic!("{err:?}")
        };
        assert!(
            message.contains("LIGHTRAG_WORKSPACE_MEMORY_MB"),
            "{message}"
        );
        assert!(message.contains("256 MiB"), "{message}");
        // Many documents that would not fit together.
        let many = vec![10 << 20; 14];
        assert!(check_headroom(0, &many, limit).is_err());
        assert!(check_headroom(0, &many[..12], limit).is_ok());
        // One document too large to process at all, though it would fit once processed.
        let Error::StorageFull(message) = check_headroom(0, &[45 << 20], limit).unwrap_err() else {
            panic!()
        };
        assert!(message.contains("too large to process"), "{message}");
        assert!(
            !message.contains("  "),
            "one space between words: {message}"
        );
        // No limit known, or nothing new: nothing refused.
        assert!(check_headroom(usize::MAX / 2, &[usize::MAX / 4], 0).is_ok());
        assert!(check_headroom(usize::MAX / 2, &[], limit).is_ok());
    }
}
