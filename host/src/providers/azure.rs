//! Azure OpenAI: the OpenAI protocol at
//! `{endpoint}/openai/deployments/{deployment}/{chat/completions|embeddings}?api-version=…`,
//! with the key in an `api-key` header. The deployment names the model, so the
//! body carries none.
//!
//! One call is one attempt: wrap it in [`super::retry::with_retries`] to retry.

use super::openai::{Auth, Endpoints, OpenAiClient};
use super::retry::ProviderError;
use super::stream::StreamEvent;
use crate::bindings::types::Message;
use crate::usage::{Completion, Usage};
use serde_json::{Map, Value};
use std::time::Duration;
use tokio::sync::mpsc;

/// The first API version that accepts `stream_options` (older ones refuse the
/// request with "Unrecognized request argument").
const STREAM_USAGE_SINCE: &str = "2024-09-01";

/// One Azure OpenAI deployment.
#[derive(Clone)]
pub struct AzureOpenAiClient {
    inner: OpenAiClient,
}

impl AzureOpenAiClient {
    /// A client for `deployment` of the resource at `endpoint`
    /// (`https://<resource>.openai.azure.com`), using `api_version`
    /// (`AZURE_OPENAI_API_VERSION`, e.g. `2024-08-01-preview`). Each request may take
    /// `timeout` in all; `options` are merged into the body as for
    /// [`OpenAiClient::new`].
    pub fn new(
        endpoint: &str,
        deployment: &str,
        api_version: &str,
        api_key: &str,
        timeout: Duration,
        options: Map<String, Value>,
    ) -> AzureOpenAiClient {
        let url = |operation: &str| deployment_url(endpoint, deployment, operation, api_version);
        let api_version = api_version.trim();
        AzureOpenAiClient {
            inner: OpenAiClient::with_endpoints(
                Endpoints {
                    chat: url("chat/completions"),
                    embeddings: url("embeddings"),
                },
                None,
                Auth::ApiKeyHeader(api_key.to_string()),
                timeout,
                options,
                api_version.get(..10).unwrap_or(api_version) >= STREAM_USAGE_SINCE,
            ),
        }
    }

    /// A chat completion, streamed to `sink` when given; see [`OpenAiClient::chat`].
    pub async fn chat(
        &self,
        messages: &[Message],
        json_mode: bool,
        sink: Option<&mpsc::Sender<StreamEvent>>,
    ) -> Result<Completion, ProviderError> {
        self.inner.chat(messages, json_mode, sink).await
    }

    /// Embedding vectors for `texts`, in order; see [`OpenAiClient::embeddings`].
    pub async fn embeddings(
        &self,
        texts: &[String],
    ) -> Result<(Vec<Vec<f32>>, Option<Usage>), ProviderError> {
        self.inner.embeddings(texts).await
    }
}

/// `{endpoint}/openai/deployments/{deployment}/{operation}?api-version={version}`,
/// with the deployment and version encoded. An endpoint given with a trailing
/// `/openai` (as some portals show it) is accepted too.
fn deployment_url(endpoint: &str, deployment: &str, operation: &str, version: &str) -> String {
    let endpoint = endpoint.trim_end_matches('/');
    let endpoint = endpoint.strip_suffix("/openai").unwrap_or(endpoint);
    let base = format!("{endpoint}/openai/deployments/");
    match reqwest::Url::parse(&base) {
        Ok(mut url) => {
            if let Ok(mut segments) = url.path_segments_mut() {
                segments.pop_if_empty().push(deployment.trim());
                segments.extend(operation.split('/'));
            }
            url.query_pairs_mut()
                .append_pair("api-version", version.trim());
            url.to_string()
        }
        // Not a URL: keep the text so that the request fails with a clear error.
        Err(_) => format!("{base}{deployment}/{operation}?api-version={version}"),
    }
}

#[cfg(test)]
mod tests {
    use super::super::mock::{Hits, pieces, serve, slow_body};
    use super::super::retry::{RetryPolicy, with_retries};
    use super::*;
    use axum::Router;
    use axum::extract::{Path, Query, State};
    use axum::http::{HeaderMap, StatusCode};
    use axum::response::{IntoResponse, Response};
    use axum::routing::post;
    use serde_json::json;
    use std::collections::HashMap;
    use std::sync::{Arc, Mutex};

    const VERSION: &str = "2024-10-21";
    const KEY: &str = "azure-secret-0123";

    fn messages() -> Vec<Message> {
        vec![Message {
            role: "user".into(),
            content: "Hi".into(),
        }]
    }

    fn client(base: &str, version: &str) -> AzureOpenAiClient {
        AzureOpenAiClient::new(
            &format!("{base}/"),
            "gpt4o-prod",
            version,
            KEY,
            Duration::from_secs(10),
            Map::new(),
        )
    }

    #[derive(Clone, Default)]
    struct Seen(Arc<Mutex<Vec<Value>>>);

    /// Refuses (401/404) anything but the right deployment, version and key header,
    /// like Azure does; records the accepted bodies.
    fn check(
        deployment: &str,
        query: &HashMap<String, String>,
        headers: &HeaderMap,
        version: &str,
    ) -> Option<Response> {
        if headers.contains_key("authorization") {
            return Some((StatusCode::BAD_REQUEST, "no bearer token expected").into_response());
        }
        if headers.get("api-key").and_then(|v| v.to_str().ok()) != Some(KEY) {
            return Some(
                (
                    StatusCode::UNAUTHORIZED,
                    axum::Json(json!({"error": {"code": "401", "message": "Access denied due to invalid subscription key"}})),
                )
                    .into_response(),
            );
        }
        if deployment != "gpt4o-prod"
            || query.get("api-version").map(String::as_str) != Some(version)
        {
            return Some(
                (
                    StatusCode::NOT_FOUND,
                    axum::Json(json!({"error": {"code": "DeploymentNotFound", "message": "wrong deployment or version"}})),
                )
                    .into_response(),
            );
        }
        None
    }

    async fn azure_server(version: &'static str) -> (String, Seen) {
        let seen = Seen::default();
        let app = Router::new()
            .route(
                "/openai/deployments/{deployment}/chat/completions",
                post(
                    move |State(seen): State<Seen>,
                          Path(deployment): Path<String>,
                          Query(query): Query<HashMap<String, String>>,
                          headers: HeaderMap,
                          axum::Json(body): axum::Json<Value>| async move {
                        if let Some(refusal) = check(&deployment, &query, &headers, version) {
                            return refusal;
                        }
                        let streamed = body["stream"] == json!(true);
                        seen.0.lock().unwrap().push(body);
                        if streamed {
                            let events = [
                                // Azure's first chunk: prompt filter results, no choices.
                                json!({"choices": [], "prompt_filter_results": []}),
                                json!({"choices": [{"delta": {"content": "Hi"}}]}),
                                json!({"choices": [{"delta": {"content": " there"}, "finish_reason": "stop"}]}),
                                json!({"choices": [], "usage": {"prompt_tokens": 8, "completion_tokens": 2}}),
                            ];
                            let mut chunks: Vec<String> =
                                events.iter().map(|e| format!("data: {e}\n\n")).collect();
                            chunks.push("data: [DONE]\n\n".into());
                            return Response::builder()
                                .header("content-type", "text/event-stream")
                                .body(slow_body(chunks, Duration::from_millis(2)))
                                .unwrap();
                        }
                        axum::Json(json!({
                            "choices": [{"message": {"content": "Hello from Azure"}}],
                            "usage": {"prompt_tokens": 10, "completion_tokens": 4}
                        }))
                        .into_response()
                    },
                ),
            )
            .route(
                "/openai/deployments/{deployment}/embeddings",
                post(
                    move |State(seen): State<Seen>,
                          Path(deployment): Path<String>,
                          Query(query): Query<HashMap<String, String>>,
                          headers: HeaderMap,
                          axum::Json(body): axum::Json<Value>| async move {
                        if let Some(refusal) = check(&deployment, &query, &headers, version) {
                            return refusal;
                        }
                        seen.0.lock().unwrap().push(body);
                        axum::Json(json!({
                            "data": [
                                {"index": 1, "embedding": [0.0, 1.0]},
                                {"index": 0, "embedding": [1.0, 0.0]}
                            ],
                            "usage": {"prompt_tokens": 4, "total_tokens": 4}
                        }))
                        .into_response()
                    },
                ),
            )
            .with_state(seen.clone());
        (serve(app).await, seen)
    }

    #[tokio::test]
    async fn completion_uses_deployment_version_and_key_header() {
        let (base, seen) = azure_server(VERSION).await;
        let completion = client(&base, VERSION)
            .chat(&messages(), false, None)
            .await
            .unwrap();
        assert_eq!(completion.text, "Hello from Azure");
        assert_eq!(completion.usage, Some(Usage::reported(10, 4)));
        let body = seen.0.lock().unwrap()[0].clone();
        assert!(body.get("model").is_none(), "{body}");
        assert_eq!(body["messages"][0]["content"], "Hi");

        // The mock really checks: a wrong key or version is refused.
        let wrong_key = AzureOpenAiClient::new(
            &base,
            "gpt4o-prod",
            VERSION,
            "other",
            Duration::from_secs(10),
            Map::new(),
        );
        let error = wrong_key.chat(&messages(), false, None).await.unwrap_err();
        assert!(
            matches!(error, ProviderError::Client { status: 401, .. }),
            "{error:?}"
        );
        let error = client(&base, "2023-05-15")
            .chat(&messages(), false, None)
            .await
            .unwrap_err();
        assert!(
            matches!(&error, ProviderError::Client { status: 404, message } if message.contains("wrong deployment")),
            "{error:?}"
        );
    }

    #[tokio::test]
    async fn streamed_completion_with_usage() {
        let (base, seen) = azure_server(VERSION).await;
        let (sink, events) = mpsc::channel(16);
        let completion = client(&base, VERSION)
            .chat(&messages(), false, Some(&sink))
            .await
            .unwrap();
        drop(sink);
        let pieces = pieces(events).await;
        assert_eq!(pieces, ["Hi", " there"]);
        assert_eq!(completion.text, "Hi there");
        assert_eq!(completion.usage, Some(Usage::reported(8, 2)));
        assert_eq!(
            seen.0.lock().unwrap()[0]["stream_options"]["include_usage"],
            true
        );
    }

    #[tokio::test]
    async fn older_api_versions_are_not_sent_stream_options() {
        let (base, seen) = azure_server("2024-08-01-preview").await;
        let (sink, _events) = mpsc::channel(16);
        let completion = client(&base, "2024-08-01-preview")
            .chat(&messages(), false, Some(&sink))
            .await
            .unwrap();
        assert_eq!(completion.text, "Hi there");
        let body = seen.0.lock().unwrap()[0].clone();
        assert_eq!(body["stream"], true);
        assert!(body.get("stream_options").is_none(), "{body}");
    }

    #[tokio::test]
    async fn embeddings_in_order() {
        let (base, seen) = azure_server(VERSION).await;
        let texts = vec!["first".to_string(), "second".to_string()];
        let (vectors, usage) = client(&base, VERSION).embeddings(&texts).await.unwrap();
        assert_eq!(vectors, vec![vec![1.0, 0.0], vec![0.0, 1.0]]);
        assert_eq!(usage, Some(Usage::reported(4, 0)));
        let body = seen.0.lock().unwrap()[0].clone();
        assert_eq!(body["input"], json!(["first", "second"]));
        assert!(body.get("model").is_none());
    }

    #[tokio::test]
    async fn rate_limit_in_milliseconds_is_honoured() {
        let hits = Hits::default();
        let app = Router::new()
            .route(
                "/openai/deployments/{deployment}/chat/completions",
                post(|State(hits): State<Hits>| async move {
                    if hits.hit() == 1 {
                        return (
                            StatusCode::TOO_MANY_REQUESTS,
                            [("retry-after-ms", "600"), ("retry-after", "1")],
                            axum::Json(json!({"error": {"code": "429", "message": "Requests to the ChatCompletions_Create Operation have exceeded call rate limit"}})),
                        )
                            .into_response();
                    }
                    axum::Json(json!({"choices": [{"message": {"content": "ok"}}]})).into_response()
                }),
            )
            .with_state(hits.clone());
        let base = serve(app).await;
        let client = client(&base, VERSION);
        let policy = RetryPolicy {
            max_attempts: 2,
            base_delay: Duration::from_millis(1),
            max_delay: Duration::from_secs(5),
        };
        let started = std::time::Instant::now();
        let prompt = messages();
        let completion = with_retries(&policy, |_| client.chat(&prompt, false, None))
            .await
            .unwrap();
        let took = started.elapsed();
        assert_eq!(completion.text, "ok");
        assert_eq!(hits.get(), 2);
        assert!(took >= Duration::from_millis(500), "{took:?}");
        assert!(took < Duration::from_secs(4), "{took:?}");
    }

    #[test]
    fn urls() {
        assert_eq!(
            deployment_url(
                "https://r.openai.azure.com/",
                "my dep",
                "embeddings",
                "2024-10-21"
            ),
            "https://r.openai.azure.com/openai/deployments/my%20dep/embeddings?api-version=2024-10-21"
        );
        assert_eq!(
            deployment_url(
                "https://r.openai.azure.com/openai",
                "d",
                "chat/completions",
                "v"
            ),
            "https://r.openai.azure.com/openai/deployments/d/chat/completions?api-version=v"
        );
    }
}
