//! Counters exported on `/metrics` in Prometheus' text format.
//!
//! Only server-wide series are kept: per-workspace series would let the number of
//! tenants decide the number of time series.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// A monotonically increasing counter.
#[derive(Default, Debug)]
pub struct Counter(AtomicU64);

impl Counter {
    /// Adds one.
    pub fn inc(&self) {
        self.0.fetch_add(1, Ordering::Relaxed);
    }
    /// Adds `n`.
    pub fn add(&self, n: u64) {
        self.0.fetch_add(n, Ordering::Relaxed);
    }
    /// The current value.
    pub fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

/// Every counter of the server.
#[derive(Default, Debug)]
pub struct Metrics {
    /// Instances opened (pool misses).
    pub opens: Counter,
    /// Instances evicted to make room.
    pub evictions: Counter,
    /// Successful `finalize` calls.
    pub finalizes: Counter,
    /// Instances discarded after a guest fault.
    pub traps: Counter,
    /// Total microseconds spent opening instances (for the mean).
    pub open_micros: Counter,
    /// Completion requests sent to the LLM provider, and how many failed.
    pub llm_calls: Counter,
    pub llm_errors: Counter,
    /// Embedding requests sent, and how many failed.
    pub embed_calls: Counter,
    pub embed_errors: Counter,
    /// Requests by (route, status).
    requests: Mutex<BTreeMap<(String, u16), u64>>,
}

impl Metrics {
    /// Records the duration of an open.
    pub fn observe_open(&self, took: Duration) {
        self.open_micros.add(took.as_micros() as u64);
    }

    /// Counts a finished request. `route` is the matched route pattern, never the raw
    /// path, so hostile paths cannot create series.
    pub fn count_request(&self, route: &str, status: u16) {
        let mut requests = self.requests.lock().unwrap_or_else(|e| e.into_inner());
        *requests.entry((route.to_string(), status)).or_default() += 1;
    }

    /// The Prometheus text exposition.
    pub fn render(&self, instances: usize, capacity: usize) -> String {
        let mut out = String::new();
        let mut gauge = |name: &str, help: &str, value: u64| {
            let _ = writeln!(
                out,
                "# HELP {name} {help}\n# TYPE {name} gauge\n{name} {value}"
            );
        };
        gauge(
            "lightrag_pool_instances",
            "Workspace engine instances loaded.",
            instances as u64,
        );
        gauge(
            "lightrag_pool_capacity",
            "Most instances kept loaded.",
            capacity as u64,
        );
        let counters = [
            (
                "lightrag_pool_opens_total",
                "Workspace instances opened.",
                &self.opens,
            ),
            (
                "lightrag_pool_evictions_total",
                "Instances evicted to make room.",
                &self.evictions,
            ),
            (
                "lightrag_pool_finalize_total",
                "Instances finalized before being dropped.",
                &self.finalizes,
            ),
            (
                "lightrag_pool_traps_total",
                "Instances discarded after a guest fault.",
                &self.traps,
            ),
            (
                "lightrag_pool_open_microseconds_total",
                "Time spent opening instances.",
                &self.open_micros,
            ),
            (
                "lightrag_llm_requests_total",
                "Completion requests sent to the LLM provider.",
                &self.llm_calls,
            ),
            (
                "lightrag_llm_errors_total",
                "Completion requests that failed.",
                &self.llm_errors,
            ),
            (
                "lightrag_embedding_requests_total",
                "Embedding requests sent.",
                &self.embed_calls,
            ),
            (
                "lightrag_embedding_errors_total",
                "Embedding requests that failed.",
                &self.embed_errors,
            ),
        ];
        for (name, help, counter) in counters {
            let _ = writeln!(
                out,
                "# HELP {name} {help}\n# TYPE {name} counter\n{name} {}",
                counter.get()
            );
        }
        let _ = writeln!(
            out,
            "# HELP lightrag_http_requests_total HTTP requests by route and status.\n\
             # TYPE lightrag_http_requests_total counter"
        );
        let requests = self.requests.lock().unwrap_or_else(|e| e.into_inner());
        for ((route, status), count) in requests.iter() {
            let route = route.replace('\\', "\\\\").replace('"', "\\\"");
            let _ = writeln!(
                out,
                "lightrag_http_requests_total{{route=\"{route}\",status=\"{status}\"}} {count}"
            );
        }
        out
    }
}
