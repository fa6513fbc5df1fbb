//! A client for Ollama's native API: `/api/chat` (one JSON reply, or NDJSON lines
//! when streamed) and `/api/embed`.
//!
//! One call is one attempt: wrap it in [`super::retry::with_retries`] to retry.

use super::retry::{
    PieceForwarder, ProviderError, ResponseLines, check_status, error_message, from_transport,
    http_client, read_json,
};
use super::stream::StreamEvent;
use crate::bindings::types::Message;
use crate::usage::{Completion, Usage};
use serde_json::{Map, Value, json};
use std::time::Duration;
use tokio::sync::mpsc;

/// One Ollama server and model.
#[derive(Clone)]
pub struct OllamaClient {
    http: reqwest::Client,
    host: String,
    model: String,
    /// Sent as a bearer token when set (Ollama behind an authenticating proxy);
    /// never logged and never part of an error message.
    api_key: String,
    timeout: Duration,
    /// Ollama's model `options` (LightRAG's `OLLAMA_LLM_NUM_CTX`, `…_TEMPERATURE`,
    /// `OLLAMA_EMBEDDING_NUM_CTX`, …), sent with every request when not empty.
    options: Map<String, Value>,
}

impl OllamaClient {
    /// A client for `host` (e.g. `http://localhost:11434`); each request may take
    /// `timeout` in all. `options` become the request's `options` object.
    pub fn new(
        host: &str,
        model: &str,
        api_key: &str,
        timeout: Duration,
        options: Map<String, Value>,
    ) -> OllamaClient {
        OllamaClient {
            http: http_client(timeout),
            host: host.trim_end_matches('/').to_string(),
            model: model.to_string(),
            api_key: api_key.to_string(),
            timeout,
            options,
        }
    }

    async fn post(&self, path: &str, body: &Value) -> Result<reqwest::Response, ProviderError> {
        let mut request = self.http.post(format!("{}{path}", self.host)).json(body);
        if !self.api_key.is_empty() {
            request = request.bearer_auth(&self.api_key);
        }
        let response = request
            .send()
            .await
            .map_err(|e| from_transport(e, self.timeout))?;
        check_status(response, &self.api_key).await
    }

    fn reported_error(&self, value: &Value) -> Option<String> {
        let error = value.get("error")?;
        if error.is_null() {
            return None;
        }
        Some(error_message(
            &json!({ "error": error }).to_string(),
            &self.api_key,
        ))
    }

    /// A chat completion. With a `sink` the answer is streamed and every piece is
    /// forwarded as it arrives (reading goes on if the sink has closed); the whole
    /// text is returned either way, with Ollama's token counts.
    ///
    /// A failure after a piece reached the sink is [`ProviderError::Interrupted`].
    pub async fn chat(
        &self,
        messages: &[Message],
        json_mode: bool,
        sink: Option<&mpsc::Sender<StreamEvent>>,
    ) -> Result<Completion, ProviderError> {
        let messages: Vec<Value> = messages
            .iter()
            .map(|m| json!({"role": m.role, "content": m.content}))
            .collect();
        // `stream` is always explicit: Ollama streams unless told otherwise.
        let mut body = json!({"model": self.model, "messages": messages, "stream": sink.is_some()});
        if json_mode {
            body["format"] = json!("json");
        }
        if !self.options.is_empty() {
            body["options"] = Value::Object(self.options.clone());
        }
        let response = self.post("/api/chat", &body).await?;
        let status = response.status().as_u16();
        let Some(sink) = sink else {
            let value = read_json(response, self.timeout).await?;
            if let Some(message) = self.reported_error(&value) {
                return Err(ProviderError::Server { status, message });
            }
            let text = value["message"]["content"]
                .as_str()
                .ok_or_else(|| ProviderError::Malformed("no message.content".into()))?;
            return Ok(Completion {
                text: text.to_string(),
                usage: parse_usage(&value),
            });
        };
        let mut forwarder = PieceForwarder::new(Some(sink));
        let mut completion = Completion::default();
        let mut lines = ResponseLines::new(response);
        loop {
            let line = match lines.next().await {
                Ok(Some(line)) => line,
                Ok(None) => {
                    return Err(forwarder.fail(ProviderError::Connection(
                        "the answer stream ended before done".into(),
                    )));
                }
                Err(e) => return Err(forwarder.fail(from_transport(e, self.timeout))),
            };
            if line.trim().is_empty() {
                continue;
            }
            let value: Value = serde_json::from_str(&line).map_err(|e| {
                forwarder.fail(ProviderError::Malformed(format!(
                    "a stream line is not JSON ({e})"
                )))
            })?;
            if let Some(message) = self.reported_error(&value) {
                return Err(forwarder.fail(ProviderError::Server { status, message }));
            }
            if let Some(piece) = value["message"]["content"].as_str()
                && !piece.is_empty()
            {
                completion.text.push_str(piece);
                forwarder.send(piece).await;
            }
            if value["done"].as_bool() == Some(true) {
                completion.usage = parse_usage(&value);
                return Ok(completion);
            }
        }
    }

    /// Embedding vectors for `texts`, in order, with Ollama's prompt token count.
    pub async fn embeddings(
        &self,
        texts: &[String],
    ) -> Result<(Vec<Vec<f32>>, Option<Usage>), ProviderError> {
        let mut body = json!({"model": self.model, "input": texts});
        if !self.options.is_empty() {
            body["options"] = Value::Object(self.options.clone());
        }
        let response = self.post("/api/embed", &body).await?;
        let status = response.status().as_u16();
        let value = read_json(response, self.timeout).await?;
        if let Some(message) = self.reported_error(&value) {
            return Err(ProviderError::Server { status, message });
        }
        let items = value["embeddings"]
            .as_array()
            .ok_or_else(|| ProviderError::Malformed("no embeddings array".into()))?;
        if items.len() != texts.len() {
            return Err(ProviderError::Malformed(format!(
                "{} vectors for {} texts",
                items.len(),
                texts.len()
            )));
        }
        let vectors = items
            .iter()
            .map(|item| {
                let numbers = item.as_array().filter(|a| !a.is_empty()).ok_or_else(|| {
                    ProviderError::Malformed("an embedding is not a list of numbers".into())
                })?;
                numbers
                    .iter()
                    .map(|n| {
                        n.as_f64()
                            .map(|f| f as f32)
                            .ok_or_else(|| ProviderError::Malformed("non-numeric embedding".into()))
                    })
                    .collect()
            })
            .collect::<Result<Vec<Vec<f32>>, _>>()?;
        Ok((vectors, parse_usage(&value)))
    }
}

/// Ollama's `prompt_eval_count` and `eval_count` (absent when a prompt was cached
/// whole, or on embeddings for the latter).
fn parse_usage(value: &Value) -> Option<Usage> {
    let prompt = value["prompt_eval_count"].as_u64();
    let completion = value["eval_count"].as_u64();
    if prompt.is_none() && completion.is_none() {
        return None;
    }
    Some(Usage::reported(
        prompt.unwrap_or(0),
        completion.unwrap_or(0),
    ))
}

#[cfg(test)]
mod tests {
    use super::super::mock::{Hits, pieces, serve, slow_body};
    use super::super::retry::{RetryPolicy, with_retries};
    use super::*;
    use axum::Router;
    use axum::body::Body;
    use axum::extract::State;
    use axum::http::StatusCode;
    use axum::response::{IntoResponse, Response};
    use axum::routing::post;
    use std::sync::{Arc, Mutex};

    const TIMEOUT: Duration = Duration::from_secs(10);

    fn messages() -> Vec<Message> {
        vec![Message {
            role: "user".into(),
            content: "Name a colour.".into(),
        }]
    }

    fn options() -> Map<String, Value> {
        let Value::Object(map) = json!({"num_ctx": 32768, "temperature": 0.1}) else {
            unreachable!()
        };
        map
    }

    fn client(base: &str) -> OllamaClient {
        OllamaClient::new(&format!("{base}/"), "qwen-test", "", TIMEOUT, options())
    }

    #[derive(Clone, Default)]
    struct Bodies(Arc<Mutex<Vec<Value>>>);

    impl Bodies {
        fn first(&self) -> Value {
            self.0.lock().unwrap()[0].clone()
        }
    }

    /// What the chat mock holds: the bodies seen, a one-off reply, or NDJSON lines.
    type MockState = (
        Bodies,
        Arc<Mutex<Option<Response<Body>>>>,
        Option<Vec<String>>,
    );

    /// A mock `/api/chat` answering `reply` once, or `streamed` lines to every request.
    async fn chat_server(reply: Response<Body>, streamed: Option<Vec<String>>) -> (String, Bodies) {
        let bodies = Bodies::default();
        let reply = Arc::new(Mutex::new(Some(reply)));
        let app = Router::new()
            .route(
                "/api/chat",
                post(
                    |State((bodies, reply, streamed)): State<MockState>,
                     axum::Json(body): axum::Json<Value>| async move {
                        bodies.0.lock().unwrap().push(body);
                        if let Some(chunks) = streamed {
                            return Response::builder()
                                .header("content-type", "application/x-ndjson")
                                .body(slow_body(chunks, Duration::from_millis(2)))
                                .unwrap();
                        }
                        reply.lock().unwrap().take().unwrap()
                    },
                ),
            )
            .with_state((bodies.clone(), reply, streamed));
        (serve(app).await, bodies)
    }

    fn lines(values: &[Value]) -> Vec<String> {
        values.iter().map(|v| format!("{v}\n")).collect()
    }

    #[tokio::test]
    async fn completion_with_usage_options_and_json_format() {
        let reply = axum::Json(json!({
            "model": "qwen-test",
            "message": {"role": "assistant", "content": "{\"colour\":\"blue\"}"},
            "done": true,
            "prompt_eval_count": 26,
            "eval_count": 8
        }))
        .into_response();
        let (base, bodies) = chat_server(reply, None).await;
        let completion = client(&base).chat(&messages(), true, None).await.unwrap();
        assert_eq!(completion.text, "{\"colour\":\"blue\"}");
        assert_eq!(completion.usage, Some(Usage::reported(26, 8)));
        let body = bodies.first();
        assert_eq!(body["model"], "qwen-test");
        assert_eq!(body["stream"], false);
        assert_eq!(body["format"], "json");
        assert_eq!(body["options"]["num_ctx"], 32768);
        assert_eq!(body["options"]["temperature"], 0.1);
        assert_eq!(body["messages"][0]["content"], "Name a colour.");
    }

    #[tokio::test]
    async fn streamed_completion_forwards_pieces_in_order() {
        let chunks = lines(&[
            json!({"message": {"role": "assistant", "content": "Deep"}, "done": false}),
            json!({"message": {"role": "assistant", "content": " sky"}, "done": false}),
            json!({"message": {"role": "assistant", "content": " blue"}, "done": false}),
            json!({"message": {"role": "assistant", "content": ""}, "done": true,
                   "done_reason": "stop", "prompt_eval_count": 14, "eval_count": 3}),
        ]);
        // Split the lines across chunk boundaries.
        let joined = chunks.concat();
        let rechunked: Vec<String> = joined
            .as_bytes()
            .chunks(11)
            .map(|c| String::from_utf8(c.to_vec()).unwrap())
            .collect();
        let (base, bodies) = chat_server(().into_response(), Some(rechunked)).await;
        let (sink, events) = mpsc::channel(16);
        let completion = client(&base)
            .chat(&messages(), false, Some(&sink))
            .await
            .unwrap();
        drop(sink);
        let pieces = pieces(events).await;
        assert_eq!(pieces, ["Deep", " sky", " blue"]);
        assert_eq!(completion.text, "Deep sky blue");
        assert_eq!(completion.usage, Some(Usage::reported(14, 3)));
        let body = bodies.first();
        assert_eq!(body["stream"], true);
        assert!(body.get("format").is_none());
    }

    #[tokio::test]
    async fn a_mid_stream_error_line_is_an_error() {
        let chunks = lines(&[
            json!({"message": {"content": "Half"}, "done": false}),
            json!({"error": "model runner has unexpectedly stopped"}),
        ]);
        let (base, _) = chat_server(().into_response(), Some(chunks)).await;
        let (sink, mut events) = mpsc::channel(16);
        let error = client(&base)
            .chat(&messages(), false, Some(&sink))
            .await
            .unwrap_err();
        let ProviderError::Interrupted(cause) = &error else {
            panic!("expected Interrupted, got {error:?}")
        };
        assert!(matches!(**cause, ProviderError::Server { .. }));
        assert!(!error.retryable());
        assert!(
            error.to_string().contains("unexpectedly stopped"),
            "{error}"
        );
        assert!(matches!(events.recv().await, Some(StreamEvent::Piece(p)) if p == "Half"));

        // Before any piece, the same line is a plain (retryable) server error.
        let chunks = lines(&[json!({"error": "loading model failed"})]);
        let (base, _) = chat_server(().into_response(), Some(chunks)).await;
        let error = client(&base)
            .chat(&messages(), false, Some(&sink))
            .await
            .unwrap_err();
        assert!(matches!(error, ProviderError::Server { .. }), "{error:?}");
        assert!(error.to_string().contains("loading model failed"));
    }

    #[tokio::test]
    async fn a_stream_without_done_is_an_error() {
        let chunks = lines(&[json!({"message": {"content": "cut"}, "done": false})]);
        let (base, _) = chat_server(().into_response(), Some(chunks)).await;
        let (sink, _events) = mpsc::channel(16);
        let error = client(&base)
            .chat(&messages(), false, Some(&sink))
            .await
            .unwrap_err();
        assert!(error.to_string().contains("ended before done"), "{error}");
    }

    #[tokio::test]
    async fn an_error_body_is_an_error() {
        let reply = (
            StatusCode::NOT_FOUND,
            axum::Json(json!({"error": "model \"qwen-test\" not found, try pulling it first"})),
        )
            .into_response();
        let (base, _) = chat_server(reply, None).await;
        let error = client(&base)
            .chat(&messages(), false, None)
            .await
            .unwrap_err();
        assert!(
            matches!(&error, ProviderError::Client { status: 404, message } if message.contains("try pulling")),
            "{error:?}"
        );

        // An error inside a 200 reply is reported too.
        let reply = axum::Json(json!({"error": "out of memory"})).into_response();
        let (base, _) = chat_server(reply, None).await;
        let error = client(&base)
            .chat(&messages(), false, None)
            .await
            .unwrap_err();
        assert_eq!(
            error.to_string(),
            "the model server reported an error: out of memory"
        );
    }

    #[tokio::test]
    async fn embeddings_in_order_with_usage() {
        let bodies = Bodies::default();
        let app = Router::new()
            .route(
                "/api/embed",
                post(
                    |State(bodies): State<Bodies>, axum::Json(body): axum::Json<Value>| async move {
                        let inputs: Vec<String> =
                            serde_json::from_value(body["input"].clone()).unwrap();
                        bodies.0.lock().unwrap().push(body);
                        // Each vector encodes its text's length and position.
                        let embeddings: Vec<Vec<f32>> = inputs
                            .iter()
                            .enumerate()
                            .map(|(i, t)| vec![t.len() as f32, i as f32])
                            .collect();
                        axum::Json(json!({
                            "model": "qwen-test",
                            "embeddings": embeddings,
                            "prompt_eval_count": 11
                        }))
                    },
                ),
            )
            .with_state(bodies.clone());
        let base = serve(app).await;
        let texts: Vec<String> = ["a", "bbb", "cc"].iter().map(|s| s.to_string()).collect();
        let (vectors, usage) = client(&base).embeddings(&texts).await.unwrap();
        assert_eq!(
            vectors,
            vec![vec![1.0, 0.0], vec![3.0, 1.0], vec![2.0, 2.0]]
        );
        assert_eq!(usage, Some(Usage::reported(11, 0)));
        let body = bodies.first();
        assert_eq!(body["model"], "qwen-test");
        assert_eq!(body["input"], json!(["a", "bbb", "cc"]));
        assert_eq!(body["options"]["num_ctx"], 32768);
    }

    #[tokio::test]
    async fn a_busy_server_is_retried_and_a_missing_model_is_not() {
        let hits = Hits::default();
        let app = Router::new()
            .route(
                "/api/chat",
                post(|State(hits): State<Hits>| async move {
                    match hits.hit() {
                        1 => (
                            StatusCode::SERVICE_UNAVAILABLE,
                            axum::Json(json!({"error": "server busy, please try again"})),
                        )
                            .into_response(),
                        2 => (
                            StatusCode::TOO_MANY_REQUESTS,
                            [("retry-after", "0")],
                            axum::Json(json!({"error": "slow down"})),
                        )
                            .into_response(),
                        3 => axum::Json(json!({"message": {"content": "ok"}, "done": true}))
                            .into_response(),
                        _ => (StatusCode::BAD_REQUEST, axum::Json(json!({"error": "no"})))
                            .into_response(),
                    }
                }),
            )
            .with_state(hits.clone());
        let base = serve(app).await;
        let client = client(&base);
        let policy = RetryPolicy {
            max_attempts: 5,
            base_delay: Duration::from_millis(5),
            max_delay: Duration::from_millis(50),
        };
        let prompt = messages();
        let completion = with_retries(&policy, |_| client.chat(&prompt, false, None))
            .await
            .unwrap();
        assert_eq!(completion.text, "ok");
        assert!(completion.usage.is_none());
        assert_eq!(hits.get(), 3);
        let prompt = messages();
        let error = with_retries(&policy, |_| client.chat(&prompt, false, None))
            .await
            .unwrap_err();
        assert_eq!(hits.get(), 4);
        assert!(matches!(error, ProviderError::Client { status: 400, .. }));
    }

    #[tokio::test]
    async fn a_stream_that_stalls_past_the_timeout_is_interrupted() {
        let chunks = lines(&[
            json!({"message": {"content": "a"}, "done": false}),
            json!({"message": {"content": "b"}, "done": false}),
            json!({"message": {"content": "c"}, "done": false}),
            json!({"message": {"content": ""}, "done": true}),
        ]);
        let app = Router::new().route(
            "/api/chat",
            post(move || async move { slow_body(chunks, Duration::from_millis(400)) }),
        );
        let base = serve(app).await;
        let client = OllamaClient::new(&base, "m", "", Duration::from_secs(1), Map::new());
        let (sink, mut events) = mpsc::channel(16);
        let error = client
            .chat(&messages(), false, Some(&sink))
            .await
            .unwrap_err();
        let ProviderError::Interrupted(cause) = &error else {
            panic!("expected Interrupted, got {error:?}")
        };
        assert!(matches!(**cause, ProviderError::Timeout(_)), "{cause:?}");
        assert!(matches!(events.recv().await, Some(StreamEvent::Piece(p)) if p == "a"));
    }

    #[tokio::test]
    async fn a_slow_server_times_out() {
        let app = Router::new().route(
            "/api/embed",
            post(|| async {
                tokio::time::sleep(Duration::from_secs(5)).await;
                "late"
            }),
        );
        let base = serve(app).await;
        let client = OllamaClient::new(&base, "m", "", Duration::from_millis(250), Map::new());
        let error = client.embeddings(&["x".to_string()]).await.unwrap_err();
        assert!(matches!(error, ProviderError::Timeout(_)), "{error:?}");
        assert!(error.retryable());
    }
}
