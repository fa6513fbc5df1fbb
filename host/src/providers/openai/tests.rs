use super::super::mock::{Hits, pieces, serve, slow_body};
use super::super::retry::{RetryPolicy, with_retries};
use super::*;
use axum::Router;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use std::sync::{Arc, Mutex};
use std::time::Instant;

const TIMEOUT: Duration = Duration::from_secs(10);

fn messages() -> Vec<Message> {
    vec![
        Message {
            role: "system".into(),
            content: "Be brief.".into(),
        },
        Message {
            role: "user".into(),
            content: "Hello?".into(),
        },
    ]
}

fn client(base: &str, options: Map<String, Value>) -> OpenAiClient {
    OpenAiClient::new(
        &format!("{base}/v1/"),
        "gpt-test",
        "sk-test-key",
        TIMEOUT,
        options,
    )
}

/// Requests a mock saw: body and headers.
#[derive(Clone, Default)]
struct Seen(Arc<Mutex<Vec<(HeaderMap, Value)>>>);

impl Seen {
    fn push(&self, headers: HeaderMap, body: Value) {
        self.0.lock().unwrap().push((headers, body));
    }
    fn bodies(&self) -> Vec<Value> {
        self.0
            .lock()
            .unwrap()
            .iter()
            .map(|(_, b)| b.clone())
            .collect()
    }
    fn headers(&self) -> Vec<HeaderMap> {
        self.0
            .lock()
            .unwrap()
            .iter()
            .map(|(h, _)| h.clone())
            .collect()
    }
}

fn sse(events: &[Value]) -> Vec<String> {
    let mut chunks: Vec<String> = events.iter().map(|e| format!("data: {e}\n\n")).collect();
    chunks.push("data: [DONE]\n\n".into());
    chunks
}

/// A model server that records every request to `path` and answers `reply`.
async fn recording_server(path: &str, reply: Value) -> (String, Seen) {
    let seen = Seen::default();
    let app = Router::new()
        .route(
            path,
            post(
                |State((seen, reply)): State<(Seen, Value)>,
                 headers: HeaderMap,
                 axum::Json(body): axum::Json<Value>| async move {
                    seen.push(headers, body);
                    axum::Json(reply)
                },
            ),
        )
        .with_state((seen.clone(), reply));
    (serve(app).await, seen)
}

#[tokio::test]
async fn completion_with_usage_and_json_mode() {
    let (base, seen) = recording_server(
        "/v1/chat/completions",
        json!({
            "choices": [{"message": {"role": "assistant", "content": "{\"ok\":true}"}}],
            "usage": {"prompt_tokens": 12, "completion_tokens": 5, "total_tokens": 17}
        }),
    )
    .await;
    let completion = client(&base, Map::new())
        .chat(&messages(), true, None)
        .await
        .unwrap();
    assert_eq!(completion.text, "{\"ok\":true}");
    assert_eq!(completion.usage, Some(Usage::reported(12, 5)));
    let body = &seen.bodies()[0];
    assert_eq!(body["model"], "gpt-test");
    assert_eq!(body["messages"][1]["content"], "Hello?");
    assert_eq!(body["messages"][0]["role"], "system");
    assert_eq!(body["response_format"]["type"], "json_object");
    assert!(body.get("stream").is_none());
    let headers = &seen.headers()[0];
    assert_eq!(headers["authorization"], "Bearer sk-test-key");
}

#[tokio::test]
async fn completion_without_usage_reports_none() {
    let (base, _) = recording_server(
        "/v1/chat/completions",
        json!({"choices": [{"message": {"content": "plain"}}]}),
    )
    .await;
    let completion = client(&base, Map::new())
        .chat(&messages(), false, None)
        .await
        .unwrap();
    assert_eq!(completion.text, "plain");
    assert!(completion.usage.is_none());
}

#[tokio::test]
async fn options_and_extra_body_reach_the_request() {
    let (base, seen) = recording_server(
        "/v1/chat/completions",
        json!({"choices": [{"message": {"content": "x"}}]}),
    )
    .await;
    let options = json!({
        "temperature": 0.2,
        "max_completion_tokens": 300,
        "top_p": 0.9,
        "messages": "must not replace the messages",
        "extra_body": {"chat_template_kwargs": {"enable_thinking": false}, "top_k": 20}
    });
    let Value::Object(options) = options else {
        unreachable!()
    };
    client(&base, options)
        .chat(&messages(), false, None)
        .await
        .unwrap();
    let body = &seen.bodies()[0];
    assert_eq!(body["temperature"], 0.2);
    assert_eq!(body["max_completion_tokens"], 300);
    assert_eq!(body["top_p"], 0.9);
    assert_eq!(body["chat_template_kwargs"]["enable_thinking"], false);
    assert_eq!(body["top_k"], 20);
    assert!(body.get("extra_body").is_none());
    assert_eq!(body["messages"][1]["content"], "Hello?");

    // `extra_body` given as JSON text, as it comes from the environment.
    let mut options = Map::new();
    options.insert("extra_body".into(), json!(r#"{"seed": 7}"#));
    client(&base, options)
        .chat(&messages(), false, None)
        .await
        .unwrap();
    assert_eq!(seen.bodies()[1]["seed"], 7);
}

#[tokio::test]
async fn streamed_completion_forwards_pieces_in_order_and_reads_usage() {
    let seen = Seen::default();
    let events = vec![
        json!({"choices": [{"delta": {"role": "assistant"}}]}),
        json!({"choices": [{"delta": {"content": "Hel"}}]}),
        json!({"choices": [{"delta": {"content": "lo, "}}]}),
        json!({"choices": [{"delta": {"content": "world"}, "finish_reason": "stop"}]}),
        json!({"choices": [], "usage": {"prompt_tokens": 9, "completion_tokens": 3}}),
    ];
    // Re-chunk the stream so that events are split mid-line.
    let joined: String = sse(&events).concat();
    let chunks: Vec<String> = joined
        .as_bytes()
        .chunks(17)
        .map(|c| String::from_utf8(c.to_vec()).unwrap())
        .collect();
    let app = Router::new()
        .route(
            "/v1/chat/completions",
            post(
                |State((seen, chunks)): State<(Seen, Vec<String>)>,
                 headers: HeaderMap,
                 axum::Json(body): axum::Json<Value>| async move {
                    seen.push(headers, body);
                    Response::builder()
                        .header("content-type", "text/event-stream")
                        .body(slow_body(chunks, Duration::from_millis(2)))
                        .unwrap()
                },
            ),
        )
        .with_state((seen.clone(), chunks));
    let base = serve(app).await;
    let (sink, events) = mpsc::channel(64);
    let completion = client(&base, Map::new())
        .chat(&messages(), false, Some(&sink))
        .await
        .unwrap();
    drop(sink);
    assert_eq!(pieces(events).await, ["Hel", "lo, ", "world"]);
    assert_eq!(completion.text, "Hello, world");
    assert_eq!(completion.usage, Some(Usage::reported(9, 3)));
    let body = &seen.bodies()[0];
    assert_eq!(body["stream"], true);
    assert_eq!(body["stream_options"]["include_usage"], true);
}

#[tokio::test]
async fn a_closed_sink_still_yields_the_whole_text() {
    let events = vec![
        json!({"choices": [{"delta": {"content": "one "}}]}),
        json!({"choices": [{"delta": {"content": "two"}}]}),
    ];
    let app = Router::new().route(
        "/v1/chat/completions",
        post(move || async move { Body::from(sse(&events).concat()) }),
    );
    let base = serve(app).await;
    let (sink, receiver) = mpsc::channel(1);
    drop(receiver);
    let completion = client(&base, Map::new())
        .chat(&messages(), false, Some(&sink))
        .await
        .unwrap();
    assert_eq!(completion.text, "one two");
}

#[tokio::test]
async fn a_stream_that_breaks_after_pieces_is_interrupted_and_not_retried() {
    let hits = Hits::default();
    let app = Router::new()
        .route(
            "/v1/chat/completions",
            post(|State(hits): State<Hits>| async move {
                hits.hit();
                let piece = json!({"choices": [{"delta": {"content": "par"}}]});
                let failure = json!({"error": {"message": "overloaded"}});
                Body::from(format!("data: {piece}\n\ndata: {failure}\n\n"))
            }),
        )
        .with_state(hits.clone());
    let base = serve(app).await;
    let client = client(&base, Map::new());
    let (sink, mut pieces) = mpsc::channel(8);
    let policy = RetryPolicy {
        max_attempts: 3,
        base_delay: Duration::from_millis(1),
        max_delay: Duration::from_millis(5),
    };
    let prompt = messages();
    let error = with_retries(&policy, |_| client.chat(&prompt, false, Some(&sink)))
        .await
        .unwrap_err();
    assert_eq!(hits.get(), 1);
    let ProviderError::Interrupted(cause) = &error else {
        panic!("expected Interrupted, got {error:?}")
    };
    assert!(matches!(**cause, ProviderError::Server { .. }));
    assert!(error.to_string().contains("overloaded"), "{error}");
    assert!(matches!(pieces.recv().await, Some(StreamEvent::Piece(p)) if p == "par"));
}

#[tokio::test]
async fn a_stream_cut_before_done_is_an_error() {
    let app = Router::new().route(
        "/v1/chat/completions",
        post(|| async {
            Body::from(format!(
                "data: {}\n\n",
                json!({"choices": [{"delta": {"content": "half"}}]})
            ))
        }),
    );
    let base = serve(app).await;
    let (sink, _pieces) = mpsc::channel(8);
    let error = client(&base, Map::new())
        .chat(&messages(), false, Some(&sink))
        .await
        .unwrap_err();
    assert!(
        matches!(&error, ProviderError::Interrupted(c) if matches!(**c, ProviderError::Connection(_))),
        "{error:?}"
    );
    assert!(error.to_string().contains("[DONE]"));
}

#[tokio::test]
async fn embeddings_in_order_from_base64_and_floats() {
    let encode = |v: &[f32]| {
        let bytes: Vec<u8> = v.iter().flat_map(|f| f.to_le_bytes()).collect();
        base64::engine::general_purpose::STANDARD.encode(bytes)
    };
    // Out of order on the wire: the `index` field decides.
    let reply = json!({
        "data": [
            {"index": 2, "embedding": encode(&[0.5, -2.0])},
            {"index": 0, "embedding": encode(&[1.0, 0.25])},
            {"index": 1, "embedding": [3.0, 4.5]}
        ],
        "usage": {"prompt_tokens": 6, "total_tokens": 6}
    });
    let (base, seen) = recording_server("/v1/embeddings", reply).await;
    let texts: Vec<String> = ["a", "b", "c"].iter().map(|s| s.to_string()).collect();
    let (vectors, usage) = client(&base, Map::new()).embeddings(&texts).await.unwrap();
    assert_eq!(
        vectors,
        vec![vec![1.0, 0.25], vec![3.0, 4.5], vec![0.5, -2.0]]
    );
    assert_eq!(usage, Some(Usage::reported(6, 0)));
    let body = &seen.bodies()[0];
    assert_eq!(body["input"], json!(["a", "b", "c"]));
    assert_eq!(body["model"], "gpt-test");
    assert_eq!(body["encoding_format"], "base64");
}

#[tokio::test]
async fn embeddings_with_a_missing_vector_are_malformed() {
    let app = Router::new().route(
        "/v1/embeddings",
        post(|| async { axum::Json(json!({"data": [{"index": 0, "embedding": [1.0]}]})) }),
    );
    let base = serve(app).await;
    let texts = vec!["a".to_string(), "b".to_string()];
    let error = client(&base, Map::new())
        .embeddings(&texts)
        .await
        .unwrap_err();
    assert!(matches!(error, ProviderError::Malformed(_)), "{error:?}");
    assert!(error.to_string().contains("1 vectors for 2 texts"));
}

/// A failure: status and extra headers.
type Failure = (u16, Vec<(&'static str, String)>);

/// A chat endpoint failing with `failures`, in turn, before answering.
async fn flaky_server(failures: Vec<Failure>) -> (String, Hits) {
    let hits = Hits::default();
    let failures = Arc::new(failures);
    let app = Router::new()
        .route(
            "/v1/chat/completions",
            post(
                |State((hits, failures)): State<(Hits, Arc<Vec<Failure>>)>| async move {
                    let n = hits.hit();
                    match failures.get(n - 1) {
                        Some((status, headers)) => {
                            let mut response = (
                                StatusCode::from_u16(*status).unwrap(),
                                axum::Json(json!({"error": {"message": format!("failure {n}")}})),
                            )
                                .into_response();
                            for (name, value) in headers {
                                response.headers_mut().insert(*name, value.parse().unwrap());
                            }
                            response
                        }
                        None => {
                            axum::Json(json!({"choices": [{"message": {"content": "finally"}}]}))
                                .into_response()
                        }
                    }
                },
            ),
        )
        .with_state((hits.clone(), failures));
    (serve(app).await, hits)
}

fn fast_policy(max_attempts: u32) -> RetryPolicy {
    RetryPolicy {
        max_attempts,
        base_delay: Duration::from_millis(5),
        max_delay: Duration::from_secs(5),
    }
}

#[tokio::test]
async fn rate_limit_with_retry_after_is_honoured_then_succeeds() {
    let (base, hits) = flaky_server(vec![(429, vec![("retry-after", "1".into())])]).await;
    let client = client(&base, Map::new());
    let started = Instant::now();
    let prompt = messages();
    let completion = with_retries(&fast_policy(3), |_| client.chat(&prompt, false, None))
        .await
        .unwrap();
    let took = started.elapsed();
    assert_eq!(completion.text, "finally");
    assert_eq!(hits.get(), 2);
    assert!(took >= Duration::from_millis(900), "waited only {took:?}");
    assert!(took < Duration::from_secs(5), "waited {took:?}");
}

#[tokio::test]
async fn rate_limit_error_carries_retry_after() {
    let (base, _) = flaky_server(vec![(429, vec![("retry-after", "42".into())])]).await;
    let error = client(&base, Map::new())
        .chat(&messages(), false, None)
        .await
        .unwrap_err();
    match &error {
        ProviderError::RateLimited {
            retry_after,
            message,
        } => {
            assert_eq!(*retry_after, Some(Duration::from_secs(42)));
            assert_eq!(message, "failure 1");
        }
        other => panic!("expected RateLimited, got {other:?}"),
    }
}

#[tokio::test]
async fn server_error_is_retried_then_succeeds() {
    let (base, hits) = flaky_server(vec![(500, vec![]), (503, vec![])]).await;
    let client = client(&base, Map::new());
    let prompt = messages();
    let completion = with_retries(&fast_policy(3), |_| client.chat(&prompt, false, None))
        .await
        .unwrap();
    assert_eq!(completion.text, "finally");
    assert_eq!(hits.get(), 3);
}

#[tokio::test]
async fn client_error_is_not_retried() {
    let (base, hits) = flaky_server(vec![(400, vec![]), (400, vec![])]).await;
    let client = client(&base, Map::new());
    let prompt = messages();
    let error = with_retries(&fast_policy(3), |_| client.chat(&prompt, false, None))
        .await
        .unwrap_err();
    assert_eq!(hits.get(), 1);
    assert!(
        matches!(&error, ProviderError::Client { status: 400, message } if message == "failure 1"),
        "{error:?}"
    );
}

#[tokio::test]
async fn attempts_are_bounded_and_counted() {
    let always = (0..10).map(|_| (429, vec![])).collect();
    let (base, hits) = flaky_server(always).await;
    let client = client(&base, Map::new());
    let prompt = messages();
    let error = with_retries(&fast_policy(4), |_| client.chat(&prompt, false, None))
        .await
        .unwrap_err();
    assert_eq!(hits.get(), 4);
    assert!(matches!(error, ProviderError::RateLimited { .. }));
    let text = error.to_string();
    assert!(text.contains("4 attempts"), "{text}");
    assert!(text.contains("failure 4"), "{text}");
    // A server error gets at most three tries, however many the policy allows.
    let always = (0..10).map(|_| (502, vec![])).collect();
    let (base, hits) = flaky_server(always).await;
    let client = self::client(&base, Map::new());
    let error = with_retries(&fast_policy(4), |_| client.chat(&prompt, false, None))
        .await
        .unwrap_err();
    assert_eq!(hits.get(), 3);
    assert!(matches!(error, ProviderError::Server { status: 502, .. }));
}

#[tokio::test]
async fn the_key_never_appears_in_errors() {
    let app = Router::new().route(
        "/v1/chat/completions",
        post(|headers: HeaderMap| async move {
            let auth = headers["authorization"].to_str().unwrap().to_string();
            (
                StatusCode::UNAUTHORIZED,
                axum::Json(json!({"error": {"message": format!("bad key {auth}")}})),
            )
        }),
    );
    let base = serve(app).await;
    let error = client(&base, Map::new())
        .chat(&messages(), false, None)
        .await
        .unwrap_err();
    let text = error.to_string();
    assert!(matches!(error, ProviderError::Client { status: 401, .. }));
    assert!(!text.contains("sk-test-key"), "{text}");
    assert!(text.contains("bad key Bearer [redacted]"), "{text}");
}

#[tokio::test]
async fn a_slow_server_times_out() {
    let app = Router::new().route(
        "/v1/chat/completions",
        post(|| async {
            tokio::time::sleep(Duration::from_secs(5)).await;
            "too late"
        }),
    );
    let base = serve(app).await;
    let client = OpenAiClient::new(
        &format!("{base}/v1"),
        "m",
        "",
        Duration::from_millis(300),
        Map::new(),
    );
    let started = Instant::now();
    let error = client.chat(&messages(), false, None).await.unwrap_err();
    assert!(matches!(error, ProviderError::Timeout(_)), "{error:?}");
    assert!(error.to_string().contains("300ms"), "{error}");
    assert!(started.elapsed() < Duration::from_secs(4));
}

#[tokio::test]
async fn an_unreachable_server_is_a_connection_error() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    drop(listener);
    let error = client(&format!("http://{address}"), Map::new())
        .chat(&messages(), false, None)
        .await
        .unwrap_err();
    assert!(matches!(error, ProviderError::Connection(_)), "{error:?}");
    assert!(error.retryable());
}

#[tokio::test]
async fn a_non_json_reply_is_malformed() {
    let app = Router::new().route(
        "/v1/chat/completions",
        post(|| async { "<html>proxy</html>" }),
    );
    let base = serve(app).await;
    let error = client(&base, Map::new())
        .chat(&messages(), false, None)
        .await
        .unwrap_err();
    assert!(matches!(error, ProviderError::Malformed(_)), "{error:?}");
    assert!(!error.retryable());
}
