//! Failures of model calls, and retrying the ones worth retrying.
//!
//! Every client (OpenAI, Azure OpenAI, Ollama) turns what went wrong into a
//! [`ProviderError`]: the HTTP status class, a transport failure, a timeout or a reply
//! it cannot read. [`with_retries`] repeats an attempt while the error is transient
//! (429, 5xx, connection, timeout) with exponential backoff and full jitter, honouring
//! a server's `Retry-After`, and never repeats a refused request (other 4xx).
//!
//! A streamed answer is retried only while nothing has reached the client: once a
//! piece was forwarded, a later failure comes back as [`ProviderError::Interrupted`],
//! which is never retried (the client would otherwise see the answer twice).

use super::stream::StreamEvent;
use reqwest::header::HeaderMap;
use std::fmt;
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tokio::sync::mpsc;

/// Why a model call failed. The texts never contain a key or a request header.
#[derive(Debug, Clone)]
pub enum ProviderError {
    /// HTTP 429. `retry_after` is the server's `Retry-After` (or `retry-after-ms`).
    RateLimited {
        retry_after: Option<Duration>,
        message: String,
    },
    /// HTTP 5xx, or an error the server reported inside a successful reply.
    Server { status: u16, message: String },
    /// Any other non-success status: the request itself is wrong; never retried.
    Client { status: u16, message: String },
    /// The server could not be reached, or the connection broke.
    Connection(String),
    /// No complete reply within the configured `TIMEOUT`.
    Timeout(String),
    /// The reply arrived but is not what the protocol promises.
    Malformed(String),
    /// The answer broke off after part of it had been streamed to the client.
    /// Never retried: a second attempt would repeat text the client already has.
    Interrupted(Box<ProviderError>),
    /// The built-in offline model failed (never retried).
    Local(String),
}

impl fmt::Display for ProviderError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ProviderError::RateLimited {
                retry_after,
                message,
            } => {
                write!(f, "the model server is rate limiting requests (HTTP 429)")?;
                if let Some(wait) = retry_after {
                    write!(f, ", asking to wait {}", human(*wait))?;
                }
                write!(f, ": {message}")
            }
            ProviderError::Server { status, message } if (200..300).contains(status) => {
                write!(f, "the model server reported an error: {message}")
            }
            ProviderError::Server { status, message } => {
                write!(f, "the model server failed (HTTP {status}): {message}")
            }
            ProviderError::Client { status, message } => {
                write!(
                    f,
                    "the model server refused the request (HTTP {status}): {message}"
                )
            }
            ProviderError::Connection(message) => {
                write!(f, "cannot reach the model server: {message}")
            }
            ProviderError::Timeout(message) => {
                write!(f, "the model server did not answer in time: {message}")
            }
            ProviderError::Malformed(message) => {
                write!(f, "the model server's reply is malformed: {message}")
            }
            ProviderError::Interrupted(cause) => write!(
                f,
                "the answer broke off after it had started streaming: {cause}"
            ),
            ProviderError::Local(message) => f.write_str(message),
        }
    }
}

impl std::error::Error for ProviderError {}

impl ProviderError {
    /// Whether another attempt may succeed: 429, 5xx, connection failures and
    /// timeouts. Refused requests, unreadable replies and interrupted streams are final.
    pub fn retryable(&self) -> bool {
        matches!(
            self,
            ProviderError::RateLimited { .. }
                | ProviderError::Server { .. }
                | ProviderError::Connection(_)
                | ProviderError::Timeout(_)
        )
    }

    /// How long the server asked us to wait, if it did.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            ProviderError::RateLimited { retry_after, .. } => *retry_after,
            _ => None,
        }
    }

    /// The HTTP status behind the error, if there was one.
    pub fn status(&self) -> Option<u16> {
        match self {
            ProviderError::RateLimited { .. } => Some(429),
            ProviderError::Server { status, .. } | ProviderError::Client { status, .. } => {
                Some(*status)
            }
            ProviderError::Interrupted(cause) => cause.status(),
            _ => None,
        }
    }

    /// Appends `note` to the error's message, keeping its kind.
    fn with_note(self, note: &str) -> ProviderError {
        let add = |message: String| format!("{message} ({note})");
        match self {
            ProviderError::RateLimited {
                retry_after,
                message,
            } => ProviderError::RateLimited {
                retry_after,
                message: add(message),
            },
            ProviderError::Server { status, message } => ProviderError::Server {
                status,
                message: add(message),
            },
            ProviderError::Client { status, message } => ProviderError::Client {
                status,
                message: add(message),
            },
            ProviderError::Connection(message) => ProviderError::Connection(add(message)),
            ProviderError::Timeout(message) => ProviderError::Timeout(add(message)),
            ProviderError::Malformed(message) => ProviderError::Malformed(add(message)),
            ProviderError::Local(message) => ProviderError::Local(add(message)),
            ProviderError::Interrupted(cause) => {
                ProviderError::Interrupted(Box::new(cause.with_note(note)))
            }
        }
    }
}

/// How often and how patiently a model call is retried.
///
/// The default matches what LightRAG's bindings make in effect: tenacity retries
/// rate limits, connection errors and timeouts (`stop_after_attempt(3)`,
/// `wait_exponential(min=4, max=10)`) around an OpenAI client that itself makes up to
/// three tries — nine in all; a server error (5xx) is retried only by the client, so
/// at most three tries ([`SERVER_ERROR_ATTEMPTS`]). Waits grow from 4 s, capped at
/// 10 s, with full jitter (uniform between a floor and the exponential bound) so that
/// many workspaces hitting one rate limit spread out; the floor (an eighth of the
/// base) keeps a `Retry-After: 0` from turning into a burst of instant retries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts in all, the first included (1 = never retry; 0 is taken as 1).
    pub max_attempts: u32,
    /// Upper bound of the first wait; doubles with every further attempt.
    pub base_delay: Duration,
    /// Cap on any wait, a server's `Retry-After` included.
    pub max_delay: Duration,
}

/// Most tries of a call that fails with a server error (5xx), whatever
/// `max_attempts` allows: the other transient failures are worth more patience.
pub const SERVER_ERROR_ATTEMPTS: u32 = 3;

impl Default for RetryPolicy {
    fn default() -> RetryPolicy {
        RetryPolicy {
            max_attempts: 9,
            base_delay: Duration::from_secs(4),
            max_delay: Duration::from_secs(10),
        }
    }
}

impl RetryPolicy {
    /// A single attempt, no retries.
    pub fn no_retries() -> RetryPolicy {
        RetryPolicy {
            max_attempts: 1,
            ..RetryPolicy::default()
        }
    }

    /// The wait after failed attempt number `attempt` (1-based): the server's
    /// `Retry-After` when it gave one, otherwise a jittered exponential backoff;
    /// never more than `max_delay`.
    pub fn delay(&self, attempt: u32, error: &ProviderError) -> Duration {
        let floor = (self.base_delay / 8).min(self.max_delay);
        if let Some(asked) = error.retry_after() {
            return asked.max(floor).min(self.max_delay);
        }
        let factor = 1u32
            .checked_shl(attempt.saturating_sub(1))
            .unwrap_or(u32::MAX);
        let bound = self.base_delay.saturating_mul(factor).min(self.max_delay);
        bound.mul_f64(unit_random()).max(floor)
    }

    /// Attempts in all for a call failing with `error`.
    fn attempts_for(&self, error: &ProviderError) -> u32 {
        let all = self.max_attempts.max(1);
        match error {
            ProviderError::Server { .. } => all.min(SERVER_ERROR_ATTEMPTS),
            _ => all,
        }
    }
}

/// Runs `attempt(1)`, `attempt(2)`, … until one succeeds, the error is not
/// retryable, or `policy.max_attempts` attempts were made. The final error keeps its
/// kind and says how many attempts were made when there was more than one (or when
/// a transient failure exhausted the policy).
///
/// Streaming: pass the same sink to every attempt. The clients return
/// [`ProviderError::Interrupted`] for a failure after a piece reached the client, so
/// a partly streamed answer is never retried; a failure before the first piece is
/// retried like any other.
pub async fn with_retries<T, F, Fut>(
    policy: &RetryPolicy,
    mut attempt: F,
) -> Result<T, ProviderError>
where
    F: FnMut(u32) -> Fut,
    Fut: Future<Output = Result<T, ProviderError>>,
{
    let mut number = 1;
    loop {
        let error = match attempt(number).await {
            Ok(value) => return Ok(value),
            Err(error) => error,
        };
        let max_attempts = policy.attempts_for(&error);
        if !error.retryable() {
            return Err(if number > 1 {
                error.with_note(&format!("after {number} attempts"))
            } else {
                error
            });
        }
        if number >= max_attempts {
            let plural = if number == 1 { "" } else { "s" };
            return Err(error.with_note(&format!("gave up after {number} attempt{plural}")));
        }
        let wait = policy.delay(number, &error);
        tracing::warn!(
            "model call failed (attempt {number} of {max_attempts}), retrying in {}: {error}",
            human(wait)
        );
        tokio::time::sleep(wait).await;
        number += 1;
    }
}

/// A uniform number in [0, 1) from a process-wide xorshift64* generator seeded from
/// the clock: good enough to spread retries, and no dependency.
fn unit_random() -> f64 {
    static STATE: AtomicU64 = AtomicU64::new(0);
    let step = |mut x: u64| {
        if x == 0 {
            let nanos = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0x9e37_79b9_7f4a_7c15, |d| d.as_nanos() as u64);
            x = nanos | 1;
        }
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        x
    };
    let previous = STATE
        .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |x| Some(step(x)))
        .unwrap_or_else(|x| x);
    let value = step(previous).wrapping_mul(0x2545_f491_4f6c_dd1d);
    (value >> 11) as f64 / (1u64 << 53) as f64
}

/// `1.5s`, `200ms`, `4s`.
pub(super) fn human(duration: Duration) -> String {
    let millis = duration.as_millis();
    if millis.is_multiple_of(1000) {
        format!("{}s", millis / 1000)
    } else if millis >= 1000 {
        format!("{:.1}s", duration.as_secs_f64())
    } else {
        format!("{millis}ms")
    }
}

// ---------------------------------------------------------------------------------
// Turning HTTP outcomes into `ProviderError`s (shared by every client).

/// The HTTP client every provider uses: `timeout` bounds a whole request (reply
/// body included), connecting gets at most ten seconds of it.
pub(super) fn http_client(timeout: Duration) -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(timeout)
        .connect_timeout(timeout.min(Duration::from_secs(10)))
        .build()
        .expect("a default HTTP client builds")
}

/// Passes a successful response through; turns any other into its error.
/// `secret` (the API key) is scrubbed from the server's message.
pub(super) async fn check_status(
    response: reqwest::Response,
    secret: &str,
) -> Result<reqwest::Response, ProviderError> {
    let status = response.status();
    if status.is_success() {
        return Ok(response);
    }
    let retry_after = parse_retry_after(response.headers());
    let body = response.text().await.unwrap_or_default();
    let message = error_message(&body, secret);
    let status = status.as_u16();
    Err(match status {
        429 => ProviderError::RateLimited {
            retry_after,
            message,
        },
        500..=599 => ProviderError::Server { status, message },
        _ => ProviderError::Client { status, message },
    })
}

/// The server's own words from an error body: OpenAI's and Azure's
/// `{"error": {"message": …}}`, Ollama's `{"error": "…"}`, or the start of the text.
pub(super) fn error_message(body: &str, secret: &str) -> String {
    let parsed = serde_json::from_str::<serde_json::Value>(body).ok();
    let from_json = parsed.as_ref().and_then(|value| {
        let error = &value["error"];
        error["message"]
            .as_str()
            .or_else(|| error.as_str())
            .or_else(|| value["message"].as_str())
            .map(str::to_string)
    });
    let text = from_json.unwrap_or_else(|| body.trim().to_string());
    let text = if text.is_empty() {
        "(no message)".to_string()
    } else {
        text
    };
    let mut short: String = text.chars().take(300).collect();
    if short.len() < text.len() {
        short.push('…');
    }
    redact(&short, secret)
}

/// Removes the key, and anything shaped like an OpenAI key (servers echo a masked
/// `sk-…` back in 401 replies), from a message.
fn redact(message: &str, secret: &str) -> String {
    let mut text = if secret.len() >= 4 {
        message.replace(secret, "[redacted]")
    } else {
        message.to_string()
    };
    let mut from = 0;
    while let Some(found) = text[from..].find("sk-") {
        let start = from + found;
        let boundary = text[..start]
            .chars()
            .next_back()
            .is_none_or(|c| !(c.is_alphanumeric() || c == '-' || c == '_'));
        if !boundary {
            from = start + 3;
            continue;
        }
        let end = text[start..]
            .find(|c: char| c.is_whitespace() || matches!(c, '"' | '\'' | ',' | ')' | '.'))
            .map_or(text.len(), |n| start + n);
        text.replace_range(start..end, "[redacted]");
        from = start + "[redacted]".len();
    }
    text
}

/// A transport failure: `Timeout` when `TIMEOUT` ran out, `Malformed` for an
/// undecodable body, `Connection` otherwise. The URL is left out.
pub(super) fn from_transport(error: reqwest::Error, timeout: Duration) -> ProviderError {
    let error = error.without_url();
    if error.is_timeout() {
        return ProviderError::Timeout(format!(
            "no complete reply within {} (TIMEOUT)",
            human(timeout)
        ));
    }
    let mut message = error.to_string();
    let mut source = std::error::Error::source(&error);
    while let Some(cause) = source {
        let text = cause.to_string();
        if !message.contains(&text) {
            message.push_str(": ");
            message.push_str(&text);
        }
        source = cause.source();
    }
    if error.is_decode() {
        ProviderError::Malformed(message)
    } else {
        ProviderError::Connection(message)
    }
}

/// Reads a whole JSON reply body.
pub(super) async fn read_json(
    response: reqwest::Response,
    timeout: Duration,
) -> Result<serde_json::Value, ProviderError> {
    let bytes = response
        .bytes()
        .await
        .map_err(|e| from_transport(e, timeout))?;
    serde_json::from_slice(&bytes).map_err(|e| {
        let start: String = String::from_utf8_lossy(&bytes).chars().take(120).collect();
        ProviderError::Malformed(format!("not JSON ({e}): {start}"))
    })
}

/// A wait asked for by `retry-after-ms` (Azure, OpenAI) or `Retry-After` (seconds or
/// an HTTP date).
pub(super) fn parse_retry_after(headers: &HeaderMap) -> Option<Duration> {
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::trim)
    };
    if let Some(millis) = header("retry-after-ms").and_then(|v| v.parse::<f64>().ok())
        && millis.is_finite()
        && millis >= 0.0
    {
        return Some(Duration::from_secs_f64(millis / 1000.0));
    }
    parse_retry_after_value(header("retry-after")?)
}

fn parse_retry_after_value(value: &str) -> Option<Duration> {
    if let Ok(seconds) = value.parse::<f64>() {
        return (seconds.is_finite() && seconds >= 0.0)
            .then(|| Duration::from_secs_f64(seconds.min(86_400.0)));
    }
    let when = chrono::DateTime::parse_from_rfc2822(value).ok()?;
    let wait = when.with_timezone(&chrono::Utc) - chrono::Utc::now();
    Some(wait.to_std().unwrap_or(Duration::ZERO))
}

// ---------------------------------------------------------------------------------
// Forwarding streamed pieces.

/// Forwards the pieces of a streamed answer and remembers whether any reached the
/// client, so that a later failure is reported as [`ProviderError::Interrupted`].
pub(super) struct PieceForwarder<'a> {
    sink: Option<&'a mpsc::Sender<StreamEvent>>,
    forwarded: bool,
}

impl<'a> PieceForwarder<'a> {
    pub(super) fn new(sink: Option<&'a mpsc::Sender<StreamEvent>>) -> PieceForwarder<'a> {
        PieceForwarder {
            sink,
            forwarded: false,
        }
    }

    /// Sends one piece. Once the client has gone, pieces are dropped: the caller
    /// keeps reading because the whole text is still wanted (for the cache).
    pub(super) async fn send(&mut self, piece: &str) {
        let Some(sink) = self.sink else { return };
        if sink
            .send(StreamEvent::Piece(piece.to_string()))
            .await
            .is_ok()
        {
            self.forwarded = true;
        } else {
            self.sink = None;
        }
    }

    /// `error`, marked as interrupted when part of the answer reached the client.
    pub(super) fn fail(&self, error: ProviderError) -> ProviderError {
        if self.forwarded {
            ProviderError::Interrupted(Box::new(error))
        } else {
            error
        }
    }
}

/// Splits a byte stream into lines (`\n` or `\r\n`), however the bytes are chunked.
#[derive(Default)]
pub(super) struct LineSplitter {
    pending: Vec<u8>,
}

impl LineSplitter {
    pub(super) fn push(&mut self, bytes: &[u8]) {
        self.pending.extend_from_slice(bytes);
    }

    /// Makes an unterminated last line available (call at end of stream).
    pub(super) fn finish(&mut self) {
        if !self.pending.is_empty() && self.pending.last() != Some(&b'\n') {
            self.pending.push(b'\n');
        }
    }

    pub(super) fn next_line(&mut self) -> Option<String> {
        let end = self.pending.iter().position(|&b| b == b'\n')?;
        let line: Vec<u8> = self.pending.drain(..=end).collect();
        Some(
            String::from_utf8_lossy(&line)
                .trim_end_matches(['\n', '\r'])
                .to_string(),
        )
    }
}

/// The lines of a streamed response body, read as they arrive.
pub(super) struct ResponseLines {
    body: futures::stream::BoxStream<'static, reqwest::Result<bytes::Bytes>>,
    splitter: LineSplitter,
    ended: bool,
}

impl ResponseLines {
    pub(super) fn new(response: reqwest::Response) -> ResponseLines {
        ResponseLines {
            body: Box::pin(response.bytes_stream()),
            splitter: LineSplitter::default(),
            ended: false,
        }
    }

    /// The next line (an unterminated last one included); `None` at the end.
    pub(super) async fn next(&mut self) -> reqwest::Result<Option<String>> {
        use futures::StreamExt;
        loop {
            if let Some(line) = self.splitter.next_line() {
                return Ok(Some(line));
            }
            if self.ended {
                return Ok(None);
            }
            match self.body.next().await {
                Some(bytes) => self.splitter.push(&bytes?),
                None => {
                    self.ended = true;
                    self.splitter.finish();
                }
            }
        }
    }
}

#[cfg(test)]
mod tests;
