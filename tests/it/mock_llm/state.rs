//! The mock's knobs and request log, shared by the server and the answers.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU32, AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

/// One request the mock received.
#[derive(Clone, Debug)]
pub struct Logged {
    /// `chat` or `embed`.
    pub kind: &'static str,
    /// Chat messages as (role, content), or the texts to embed as ("input", text).
    pub messages: Vec<(String, String)>,
    /// Whether a chat asked to stream.
    pub stream: bool,
    /// The `Authorization` header (or Azure's `api-key`).
    pub authorization: Option<String>,
    /// The request path and query.
    pub path: String,
    /// The `model` field of the body.
    pub model: String,
}

/// Knobs and the request log.
#[derive(Default)]
pub struct MockState {
    /// Delay before answering a completion, in ms.
    pub latency_ms: AtomicU64,
    /// Delay before answering an embedding request, in ms.
    pub embed_latency_ms: AtomicU64,
    /// Delay between streamed pieces, in ms.
    pub chunk_ms: AtomicU64,
    /// The next this-many completions fail with HTTP `fail_status` (500 if unset).
    pub fail_completions: AtomicU32,
    /// Status of injected failures; 429 comes with `Retry-After: 1`.
    pub fail_status: std::sync::atomic::AtomicU16,
    /// When nonzero, streams break off (no `[DONE]`) after this many pieces.
    pub break_stream_after: AtomicUsize,
    /// Vector dimension.
    pub dim: AtomicUsize,
    /// What gleaning passes answer (default: nothing more).
    pub glean_answer: Mutex<Option<String>>,
    /// Answers quote only the start of the context instead of echoing all of it:
    /// a few hundred bytes, like a real model's answer (and the shared bench's mock),
    /// for benchmarks. Tests keep the echo, which lets them see the context.
    pub short_answers: std::sync::atomic::AtomicBool,
    /// Chat completions waiting out their latency right now, and the most at once. A
    /// request whose client goes away stops counting.
    pub chats_in_flight: AtomicUsize,
    pub most_chats_in_flight: AtomicUsize,
    /// Embedding requests being answered right now.
    pub embeds_in_flight: AtomicUsize,
    /// Embedding requests with a text containing this marker wait this many ms more.
    pub slow_embed: Mutex<Option<(String, u64)>>,
    /// The `Retry-After` of injected 429s (default `1`).
    pub retry_after: Mutex<Option<String>>,
    /// Extraction answers for chunks containing this marker are padded to this many
    /// bytes: a model reply too large for the workspace's memory limit.
    pub bloated_extraction: Mutex<Option<(String, usize)>>,
    /// Chaos: this percentage of chat and embedding requests fail (half 500, half
    /// 429), and every one waits a random time up to `chaos_latency_ms`.
    pub chaos_percent: AtomicU32,
    pub chaos_latency_ms: AtomicU64,
    chaos_seed: AtomicU64,
    pub(super) log: Mutex<Vec<Logged>>,
}

impl MockState {
    /// A random number below `n` (xorshift; the sequence depends on arrival order).
    fn random(&self, n: u64) -> u64 {
        let step = |mut x: u64| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        let previous = self
            .chaos_seed
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |x| {
                Some(step(if x == 0 { 0x2545_f491_4f6c_dd1d } else { x }))
            })
            .unwrap_or(1);
        step(if previous == 0 {
            0x2545_f491_4f6c_dd1d
        } else {
            previous
        }) % n.max(1)
    }

    /// Chaos for one request: a random wait, then maybe a failure.
    pub(super) async fn chaos(&self) -> Option<Response> {
        let percent = self.chaos_percent.load(Ordering::Relaxed) as u64;
        let latency = self.chaos_latency_ms.load(Ordering::Relaxed);
        if latency > 0 {
            sleep_ms(self.random(latency + 1)).await;
        }
        if percent == 0 || self.random(100) >= percent {
            return None;
        }
        let (status, headers) = if self.random(2) == 0 {
            (StatusCode::INTERNAL_SERVER_ERROR, None)
        } else {
            (StatusCode::TOO_MANY_REQUESTS, Some("0"))
        };
        let mut response = (
            status,
            axum::Json(json!({"error": {"message": "chaos", "type": "server_error"}})),
        )
            .into_response();
        if let Some(after) = headers {
            response
                .headers_mut()
                .insert("retry-after", after.parse().unwrap());
        }
        Some(response)
    }

    /// Everything received so far.
    pub fn log(&self) -> Vec<Logged> {
        self.log.lock().unwrap().clone()
    }

    /// Number of chat completions received.
    pub fn chats(&self) -> usize {
        self.log().iter().filter(|l| l.kind == "chat").count()
    }
}

/// Waits `ms` milliseconds, if any.
pub(super) async fn sleep_ms(ms: u64) {
    if ms > 0 {
        tokio::time::sleep(Duration::from_millis(ms)).await;
    }
}
