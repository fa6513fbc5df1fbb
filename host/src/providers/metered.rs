//! The one way a model call is made: the role's own cap, then a fair slot of the
//! server-wide budget, then the call (retried when worth it), then its accounting in
//! the metrics and the workspace's audit trail.

use super::fair::{FairLimiter, Priority};
use super::retry::{ProviderError, RetryPolicy, with_retries};
use crate::audit::Audit;
use crate::metrics::{Counter, Metrics};
use crate::usage::Usage;
use std::future::Future;
use std::sync::Arc;
use std::time::Instant;
use tokio::sync::Semaphore;

/// What a call is, for its budget and its accounting.
pub(super) struct Call<'a> {
    pub workspace: &'a str,
    /// `extract`, `answer`, …, `embed`, `rerank`.
    pub purpose: &'a str,
    /// Identity of the model, for the audit trail.
    pub model: &'a str,
    /// The role's own cap on calls in flight, if it has one.
    pub role: Option<&'a Semaphore>,
    pub budget: &'a Arc<FairLimiter>,
    pub priority: Priority,
    /// Whether failures are retried (remote backends).
    pub retried: bool,
    /// Counted per attempt, and per failed call.
    pub attempts: &'a Counter,
    pub failures: &'a Counter,
}

/// Makes and accounts model calls.
pub(super) struct Meter {
    pub retry: RetryPolicy,
    pub metrics: Arc<Metrics>,
    pub audit: Arc<Audit>,
}

impl Meter {
    /// Makes `attempt` within `call`'s budget; `usage` reads (or estimates) what a
    /// successful result consumed.
    pub async fn call<T, F, Fut>(
        &self,
        call: Call<'_>,
        mut attempt: F,
        usage: impl FnOnce(&T) -> Usage,
    ) -> Result<T, String>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, ProviderError>>,
    {
        // The role's cap first, so that a call held back by it occupies no slot of the
        // server-wide budget. The semaphore is never closed.
        let _role = match call.role {
            Some(slots) => slots.acquire().await.ok(),
            None => None,
        };
        let _slot = call.budget.acquire(call.workspace, call.priority).await;
        let started = Instant::now();
        let policy = if call.retried {
            self.retry
        } else {
            RetryPolicy::no_retries()
        };
        let result = with_retries(&policy, |_| {
            call.attempts.inc();
            attempt()
        })
        .await;
        match result {
            Ok(value) => {
                let used = usage(&value);
                self.account(&call, used, started, None);
                Ok(value)
            }
            Err(err) => {
                call.failures.inc();
                let message = err.to_string();
                self.account(&call, Usage::default(), started, Some(&message));
                Err(message)
            }
        }
    }

    /// Counts a call in the metrics and the workspace's audit trail (purpose, model,
    /// tokens, latency, outcome — never prompts or answers).
    fn account(&self, call: &Call<'_>, usage: Usage, started: Instant, error: Option<&str>) {
        let latency = started.elapsed();
        self.metrics.record_model_call(
            call.workspace,
            call.purpose,
            usage,
            latency,
            error.is_none(),
        );
        let mut entry = serde_json::json!({
            "purpose": call.purpose,
            "model": call.model,
            "prompt_tokens": usage.prompt_tokens,
            "completion_tokens": usage.completion_tokens,
            "tokens_estimated": usage.estimated,
            "latency_ms": latency.as_secs_f64() * 1000.0,
            "outcome": if error.is_none() { "ok" } else { "error" },
        });
        if let Some(error) = error {
            entry["error"] = serde_json::json!(error);
        }
        self.audit.record(call.workspace, "model_call", entry);
    }
}
