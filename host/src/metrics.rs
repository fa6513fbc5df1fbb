//! Counters exported on `/metrics` in Prometheus' text format.
//!
//! Only server-wide series are kept: per-workspace series would let the number of
//! tenants decide the number of time series.

use crate::usage::Usage;
use std::collections::{BTreeMap, HashMap};
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
    /// Workspace opens that reached the engine (successful or refused).
    pub open_attempts: Counter,
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
    /// Reranking requests sent, and those that failed.
    pub rerank_calls: Counter,
    pub rerank_errors: Counter,
    /// Requests by (route, status).
    requests: Mutex<BTreeMap<(String, u16), u64>>,
    /// Model usage by purpose, server-wide.
    usage: Mutex<BTreeMap<String, UsageTotals>>,
    /// Model usage by workspace and purpose (for the admin API and the workspaces
    /// opted into `/metrics`).
    workspace_usage: Mutex<HashMap<String, BTreeMap<String, UsageTotals>>>,
    /// Workspaces whose usage `/metrics` shows (`LIGHTRAG_METRICS_WORKSPACES`).
    pub exported_workspaces: Vec<String>,
}

/// Model calls of one kind, added up.
#[derive(Clone, Copy, Debug, Default, serde::Serialize)]
pub struct UsageTotals {
    pub calls: u64,
    pub errors: u64,
    pub prompt_tokens: u64,
    pub completion_tokens: u64,
    /// Calls whose token counts were estimated (the API reported none).
    pub estimated: u64,
    pub latency_ms: u64,
}

impl UsageTotals {
    fn add(&mut self, usage: Usage, latency: Duration, ok: bool) {
        self.calls += 1;
        self.errors += u64::from(!ok);
        self.prompt_tokens += usage.prompt_tokens;
        self.completion_tokens += usage.completion_tokens;
        self.estimated += u64::from(ok && usage.estimated);
        self.latency_ms += latency.as_millis() as u64;
    }
}

impl Metrics {
    /// Counters starting at zero; `exported_workspaces` get their own usage series.
    pub fn new(exported_workspaces: Vec<String>) -> Metrics {
        Metrics {
            exported_workspaces,
            ..Metrics::default()
        }
    }

    /// Accounts one model call (after retries) of `workspace` for `purpose`
    /// (`extract`, `answer`, …, or `embed`).
    pub fn record_model_call(
        &self,
        workspace: &str,
        purpose: &str,
        usage: Usage,
        latency: Duration,
        ok: bool,
    ) {
        self.usage
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry(purpose.to_string())
            .or_default()
            .add(usage, latency, ok);
        self.workspace_usage
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry(workspace.to_string())
            .or_default()
            .entry(purpose.to_string())
            .or_default()
            .add(usage, latency, ok);
    }

    /// Model usage of one workspace, by purpose.
    pub fn usage_of(&self, workspace: &str) -> BTreeMap<String, UsageTotals> {
        self.workspace_usage
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(workspace)
            .cloned()
            .unwrap_or_default()
    }

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
    pub fn render(&self, gauges: &Gauges) -> String {
        let mut out = String::new();
        let mut gauge = |name: &str, help: &str, value: usize| {
            let _ = writeln!(
                out,
                "# HELP {name} {help}\n# TYPE {name} gauge\n{name} {value}"
            );
        };
        gauge(
            "lightrag_pool_instances",
            "Workspace engine instances loaded.",
            gauges.instances,
        );
        gauge(
            "lightrag_pool_capacity",
            "Most instances kept loaded.",
            gauges.capacity,
        );
        gauge(
            "lightrag_pool_leases",
            "Leases held on loaded instances (requests, streams, pipelines).",
            gauges.leases,
        );
        gauge(
            "lightrag_pool_waiting",
            "Requests waiting for a pool slot.",
            gauges.waiting,
        );
        gauge(
            "lightrag_model_calls_in_flight",
            "Model calls running or waiting for a slot.",
            gauges.model_calls,
        );
        let counters = [
            (
                "lightrag_pool_opens_total",
                "Workspace instances opened.",
                &self.opens,
            ),
            (
                "lightrag_pool_open_attempts_total",
                "Workspace opens that reached the engine, refused ones included.",
                &self.open_attempts,
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
            (
                "lightrag_rerank_requests_total",
                "Reranking requests sent.",
                &self.rerank_calls,
            ),
            (
                "lightrag_rerank_errors_total",
                "Reranking requests that failed.",
                &self.rerank_errors,
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
        drop(requests);
        let usage = self.usage.lock().unwrap_or_else(|e| e.into_inner()).clone();
        render_usage(&mut out, &usage, None);
        let by_workspace = self
            .workspace_usage
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        for workspace in &self.exported_workspaces {
            if let Some(usage) = by_workspace.get(workspace) {
                render_usage(&mut out, usage, Some(workspace));
            }
        }
        out
    }
}

/// The gauges of `/metrics`, read at render time.
#[derive(Debug, Default)]
pub struct Gauges {
    pub instances: usize,
    pub capacity: usize,
    pub leases: usize,
    pub waiting: usize,
    pub model_calls: usize,
}

/// One usage series: name, help text, and which total it shows.
type Series = (&'static str, &'static str, fn(&UsageTotals) -> u64);

/// Usage series, server-wide or (for opted-in workspaces) with a `workspace` label.
fn render_usage(out: &mut String, usage: &BTreeMap<String, UsageTotals>, workspace: Option<&str>) {
    let series: [Series; 5] = [
        (
            "lightrag_model_calls_total",
            "Model calls by purpose.",
            |u| u.calls,
        ),
        (
            "lightrag_model_errors_total",
            "Failed model calls by purpose.",
            |u| u.errors,
        ),
        (
            "lightrag_model_prompt_tokens_total",
            "Tokens sent to models by purpose.",
            |u| u.prompt_tokens,
        ),
        (
            "lightrag_model_completion_tokens_total",
            "Tokens generated by purpose.",
            |u| u.completion_tokens,
        ),
        (
            "lightrag_model_latency_milliseconds_total",
            "Time spent in model calls by purpose.",
            |u| u.latency_ms,
        ),
    ];
    for (name, help, value) in series {
        if workspace.is_none() {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} counter");
        }
        for (purpose, totals) in usage {
            match workspace {
                None => {
                    let _ = writeln!(out, "{name}{{purpose=\"{purpose}\"}} {}", value(totals));
                }
                Some(ws) => {
                    let _ = writeln!(
                        out,
                        "{name}{{purpose=\"{purpose}\",workspace=\"{ws}\"}} {}",
                        value(totals)
                    );
                }
            }
        }
    }
}
