use super::*;
use std::sync::Arc;
use std::sync::atomic::AtomicU32;

fn quick() -> RetryPolicy {
    RetryPolicy {
        max_attempts: 4,
        base_delay: Duration::from_millis(5),
        max_delay: Duration::from_millis(20),
    }
}

#[test]
fn classification() {
    let server = ProviderError::Server {
        status: 503,
        message: "busy".into(),
    };
    assert!(server.retryable());
    assert!(ProviderError::Timeout("t".into()).retryable());
    assert!(ProviderError::Connection("c".into()).retryable());
    assert!(
        ProviderError::RateLimited {
            retry_after: None,
            message: "m".into()
        }
        .retryable()
    );
    let refused = ProviderError::Client {
        status: 400,
        message: "bad".into(),
    };
    assert!(!refused.retryable());
    assert!(!ProviderError::Malformed("m".into()).retryable());
    assert!(!ProviderError::Interrupted(Box::new(server.clone())).retryable());
    assert_eq!(
        ProviderError::Interrupted(Box::new(server)).status(),
        Some(503)
    );
    assert_eq!(
        refused.to_string(),
        "the model server refused the request (HTTP 400): bad"
    );
}

#[tokio::test]
async fn retries_transient_errors_up_to_the_bound() {
    let calls = Arc::new(AtomicU32::new(0));
    let seen = calls.clone();
    let result: Result<(), _> = with_retries(&quick(), |n| {
        let seen = seen.clone();
        async move {
            seen.fetch_add(1, Ordering::SeqCst);
            assert_eq!(seen.load(Ordering::SeqCst), n);
            Err(ProviderError::Connection("refused".into()))
        }
    })
    .await;
    assert_eq!(calls.load(Ordering::SeqCst), 4);
    let error = result.unwrap_err();
    assert!(matches!(error, ProviderError::Connection(_)));
    assert!(
        error.to_string().contains("gave up after 4 attempts"),
        "{error}"
    );
}

#[tokio::test]
async fn stops_at_the_first_final_error() {
    let calls = Arc::new(AtomicU32::new(0));
    let seen = calls.clone();
    let result: Result<(), _> = with_retries(&quick(), |n| {
        let seen = seen.clone();
        async move {
            seen.fetch_add(1, Ordering::SeqCst);
            Err(if n == 1 {
                ProviderError::Server {
                    status: 502,
                    message: "gateway".into(),
                }
            } else {
                ProviderError::Interrupted(Box::new(ProviderError::Timeout("t".into())))
            })
        }
    })
    .await;
    assert_eq!(calls.load(Ordering::SeqCst), 2);
    let error = result.unwrap_err();
    assert!(matches!(error, ProviderError::Interrupted(_)));
    assert!(error.to_string().contains("after 2 attempts"), "{error}");
}

#[tokio::test]
async fn succeeds_after_failures() {
    let value = with_retries(&quick(), |n| async move {
        if n < 3 {
            Err(ProviderError::Timeout("slow".into()))
        } else {
            Ok(n)
        }
    })
    .await
    .unwrap();
    assert_eq!(value, 3);
}

#[test]
fn delays_are_jittered_within_bounds_and_honour_retry_after() {
    let policy = RetryPolicy {
        max_attempts: 10,
        base_delay: Duration::from_millis(100),
        max_delay: Duration::from_millis(1000),
    };
    let transient = ProviderError::Timeout("t".into());
    let mut distinct = std::collections::HashSet::new();
    for attempt in 1..=8 {
        let bound = Duration::from_millis(100 * (1 << (attempt - 1))).min(policy.max_delay);
        for _ in 0..50 {
            let wait = policy.delay(attempt, &transient);
            assert!(wait <= bound, "attempt {attempt}: {wait:?} > {bound:?}");
            distinct.insert(wait);
        }
    }
    assert!(distinct.len() > 100, "jitter should vary the waits");
    let limited = |secs| ProviderError::RateLimited {
        retry_after: Some(Duration::from_secs(secs)),
        message: String::new(),
    };
    // Regression: `Retry-After: 0` made retries instant, so a briefly rate-limited
    // server saw a burst; it now waits at least an eighth of the base.
    assert_eq!(policy.delay(1, &limited(0)), policy.base_delay / 8);
    assert_eq!(policy.delay(1, &limited(60)), policy.max_delay);
    for attempt in 1..=8 {
        assert!(policy.delay(attempt, &transient) >= policy.base_delay / 8);
    }
    let huge = policy.delay(u32::MAX, &transient);
    assert!(huge <= policy.max_delay);
}

#[test]
fn retry_after_headers() {
    let mut headers = HeaderMap::new();
    assert_eq!(parse_retry_after(&headers), None);
    headers.insert("retry-after", "7".parse().unwrap());
    assert_eq!(parse_retry_after(&headers), Some(Duration::from_secs(7)));
    headers.insert("retry-after-ms", "1500".parse().unwrap());
    assert_eq!(
        parse_retry_after(&headers),
        Some(Duration::from_millis(1500))
    );
    headers.clear();
    headers.insert("retry-after", "soon".parse().unwrap());
    assert_eq!(parse_retry_after(&headers), None);
    // An HTTP date in the past means "now"; one in the future, the difference.
    headers.insert(
        "retry-after",
        "Sun, 06 Nov 1994 08:49:37 GMT".parse().unwrap(),
    );
    assert_eq!(parse_retry_after(&headers), Some(Duration::ZERO));
    let later = chrono::Utc::now() + chrono::TimeDelta::seconds(30);
    let date = later.format("%a, %d %b %Y %H:%M:%S GMT").to_string();
    headers.insert("retry-after", date.parse().unwrap());
    let wait = parse_retry_after(&headers).unwrap();
    assert!(
        wait > Duration::from_secs(25) && wait <= Duration::from_secs(30),
        "{wait:?}"
    );
}

#[test]
fn error_messages_are_extracted_and_scrubbed() {
    let openai = r#"{"error":{"message":"Incorrect API key provided: sk-proj-abc***xyz. See docs.","type":"invalid_request_error"}}"#;
    let message = error_message(openai, "sk-proj-abcdefxyz");
    assert!(
        message.starts_with("Incorrect API key provided: [redacted]"),
        "{message}"
    );
    assert!(!message.contains("abc"), "{message}");
    assert_eq!(
        error_message(r#"{"error":"model 'x' not found"}"#, ""),
        "model 'x' not found"
    );
    assert_eq!(
        error_message("upstream said my-secret-key", "my-secret-key"),
        "upstream said [redacted]"
    );
    assert_eq!(error_message("   ", ""), "(no message)");
    assert_eq!(error_message("task-sk-1 ok", ""), "task-sk-1 ok");
    let long = "x".repeat(1000);
    assert_eq!(error_message(&long, "").chars().count(), 301);
}

#[test]
fn lines_split_across_chunks() {
    let mut lines = LineSplitter::default();
    lines.push(b"data: a");
    assert_eq!(lines.next_line(), None);
    lines.push(b"bc\r\ndata: d\n\nlast");
    assert_eq!(lines.next_line().as_deref(), Some("data: abc"));
    assert_eq!(lines.next_line().as_deref(), Some("data: d"));
    assert_eq!(lines.next_line().as_deref(), Some(""));
    assert_eq!(lines.next_line(), None);
    lines.finish();
    assert_eq!(lines.next_line().as_deref(), Some("last"));
    assert_eq!(lines.next_line(), None);
}

#[test]
fn durations_read_well() {
    assert_eq!(human(Duration::from_secs(240)), "240s");
    assert_eq!(human(Duration::from_millis(200)), "200ms");
    assert_eq!(human(Duration::from_millis(1500)), "1.5s");
}

/// Regression: three 429s failed a document LightRAG ingests, because LightRAG's
/// clients retry inside each of their own attempts (nine tries in all). Server errors
/// keep the client's three.
#[tokio::test]
async fn by_default_rate_limits_get_nine_tries_and_server_errors_three() {
    let policy = RetryPolicy {
        base_delay: Duration::from_millis(1),
        max_delay: Duration::from_millis(2),
        ..RetryPolicy::default()
    };
    let count = |error: ProviderError| {
        let tries = std::sync::atomic::AtomicU32::new(0);
        async move {
            let result: Result<(), _> = with_retries(&policy, |_| {
                tries.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                let error = error.clone();
                async move { Err(error) }
            })
            .await;
            assert!(result.is_err());
            tries.into_inner()
        }
    };
    let limited = ProviderError::RateLimited {
        retry_after: Some(Duration::ZERO),
        message: "slow down".into(),
    };
    assert_eq!(count(limited).await, 9);
    assert_eq!(count(ProviderError::Timeout("late".into())).await, 9);
    let server = ProviderError::Server {
        status: 503,
        message: "overloaded".into(),
    };
    assert_eq!(count(server).await, SERVER_ERROR_ATTEMPTS);
}
