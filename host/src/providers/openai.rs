//! A client for any server that speaks the OpenAI API (OpenAI, vLLM, llama.cpp,
//! LM Studio, Ollama's `/v1`, DeepSeek…): chat completions, streamed or not, and
//! embeddings. Azure OpenAI (`azure.rs`) is this client with other URLs and another
//! key header.
//!
//! One call is one attempt: wrap it in [`super::retry::with_retries`] to retry.

use super::retry::{
    PieceForwarder, ProviderError, ResponseLines, check_status, error_message, from_transport,
    http_client, read_json,
};
use super::stream::StreamEvent;
use crate::bindings::types::Message;
use crate::usage::{Completion, Usage};
use base64::Engine as _;
use serde_json::{Map, Value, json};
use std::time::Duration;
use tokio::sync::mpsc;

/// How the key is sent.
#[derive(Clone)]
pub(super) enum Auth {
    /// `Authorization: Bearer <key>` (OpenAI and compatible servers).
    Bearer(String),
    /// `api-key: <key>` (Azure OpenAI).
    ApiKeyHeader(String),
}

impl Auth {
    fn secret(&self) -> &str {
        match self {
            Auth::Bearer(key) | Auth::ApiKeyHeader(key) => key,
        }
    }
}

/// Where a client sends its requests.
pub(super) struct Endpoints {
    pub chat: String,
    pub embeddings: String,
}

/// One configured endpoint and model.
#[derive(Clone)]
pub struct OpenAiClient {
    http: reqwest::Client,
    chat_url: String,
    embeddings_url: String,
    /// Sent as `model`; Azure leaves it out (the deployment names the model).
    model: Option<String>,
    /// Never logged and never part of an error message.
    auth: Auth,
    timeout: Duration,
    /// Merged into every request body; see [`OpenAiClient::new`].
    options: Map<String, Value>,
    /// Ask streamed answers for a final usage chunk (`stream_options.include_usage`).
    stream_usage: bool,
}

impl OpenAiClient {
    /// A client for `base` (e.g. `https://api.openai.com/v1`); each request may take
    /// `timeout` in all.
    ///
    /// `options` are merged into every request body this client sends: plain keys
    /// (LightRAG's `OPENAI_LLM_TEMPERATURE`, `…_MAX_TOKENS`, `…_MAX_COMPLETION_TOKENS`,
    /// `…_TOP_P`, …) go in first, so the fields the client itself controls (`model`,
    /// `messages`/`input`, `stream`, JSON mode's `response_format`) win over them;
    /// the object under `extra_body` (`OPENAI_LLM_EXTRA_BODY`, an object or its JSON
    /// text) is merged last and wins over everything, as in the OpenAI SDK. Give the
    /// embedding client its own options (usually none): chat options such as
    /// `temperature` are refused by embedding endpoints.
    pub fn new(
        base: &str,
        model: &str,
        api_key: &str,
        timeout: Duration,
        options: Map<String, Value>,
    ) -> OpenAiClient {
        let base = base.trim_end_matches('/');
        OpenAiClient::with_endpoints(
            Endpoints {
                chat: format!("{base}/chat/completions"),
                embeddings: format!("{base}/embeddings"),
            },
            Some(model),
            Auth::Bearer(api_key.to_string()),
            timeout,
            options,
            true,
        )
    }

    /// A client with explicit URLs and key header (used for Azure OpenAI).
    pub(super) fn with_endpoints(
        endpoints: Endpoints,
        model: Option<&str>,
        auth: Auth,
        timeout: Duration,
        options: Map<String, Value>,
        stream_usage: bool,
    ) -> OpenAiClient {
        OpenAiClient {
            http: http_client(timeout),
            chat_url: endpoints.chat,
            embeddings_url: endpoints.embeddings,
            model: model.filter(|m| !m.is_empty()).map(str::to_string),
            auth,
            timeout,
            options,
            stream_usage,
        }
    }

    async fn post(&self, url: &str, body: &Value) -> Result<reqwest::Response, ProviderError> {
        let request = self.http.post(url).json(body);
        let request = match &self.auth {
            Auth::Bearer(key) if !key.is_empty() => request.bearer_auth(key),
            Auth::ApiKeyHeader(key) if !key.is_empty() => request.header("api-key", key),
            _ => request,
        };
        let response = request
            .send()
            .await
            .map_err(|e| from_transport(e, self.timeout))?;
        check_status(response, self.auth.secret()).await
    }

    /// `fields` with the configured options merged in (see [`OpenAiClient::new`]).
    fn body(&self, fields: Map<String, Value>) -> Value {
        let mut body: Map<String, Value> = self
            .options
            .iter()
            .filter(|(key, _)| key.as_str() != "extra_body")
            .map(|(key, value)| (key.clone(), value.clone()))
            .collect();
        body.extend(fields);
        match self.options.get("extra_body") {
            Some(Value::Object(extra)) => body.extend(extra.clone()),
            Some(Value::String(text)) => {
                if let Ok(Value::Object(extra)) = serde_json::from_str::<Value>(text) {
                    body.extend(extra);
                }
            }
            _ => {}
        }
        Value::Object(body)
    }

    /// A chat completion. With a `sink` the answer is streamed (server-sent events)
    /// and every piece is forwarded as it arrives; the whole text is returned either
    /// way, with the server's usage when it reports it.
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
        let mut fields = Map::new();
        if let Some(model) = &self.model {
            fields.insert("model".into(), json!(model));
        }
        fields.insert("messages".into(), Value::Array(messages));
        if json_mode {
            fields.insert("response_format".into(), json!({"type": "json_object"}));
        }
        if sink.is_some() {
            fields.insert("stream".into(), json!(true));
            if self.stream_usage {
                fields.insert("stream_options".into(), json!({"include_usage": true}));
            }
        }
        let response = self.post(&self.chat_url, &self.body(fields)).await?;
        match sink {
            None => {
                let status = response.status().as_u16();
                let value = read_json(response, self.timeout).await?;
                if let Some(message) = reported_error(&value, self.auth.secret()) {
                    return Err(ProviderError::Server { status, message });
                }
                let text = value["choices"][0]["message"]["content"]
                    .as_str()
                    .ok_or_else(|| {
                        ProviderError::Malformed("no choices[0].message.content".into())
                    })?;
                Ok(Completion {
                    text: text.to_string(),
                    usage: parse_usage(&value["usage"]),
                })
            }
            Some(sink) => self.read_event_stream(response, sink).await,
        }
    }

    /// Reads `data: {…}` events until `data: [DONE]`, forwarding content deltas and
    /// keeping the last usage seen (the final chunk, with `include_usage`).
    async fn read_event_stream(
        &self,
        response: reqwest::Response,
        sink: &mpsc::Sender<StreamEvent>,
    ) -> Result<Completion, ProviderError> {
        let status = response.status().as_u16();
        let mut forwarder = PieceForwarder::new(Some(sink));
        let mut completion = Completion::default();
        let mut finished = false;
        let mut lines = ResponseLines::new(response);
        loop {
            let line = match lines.next().await {
                Ok(Some(line)) => line,
                Ok(None) => break,
                Err(e) => return Err(forwarder.fail(from_transport(e, self.timeout))),
            };
            let Some(data) = line.trim().strip_prefix("data:") else {
                continue;
            };
            let data = data.trim();
            if data == "[DONE]" {
                return Ok(completion);
            }
            let Ok(event) = serde_json::from_str::<Value>(data) else {
                continue;
            };
            if let Some(message) = reported_error(&event, self.auth.secret()) {
                return Err(forwarder.fail(ProviderError::Server { status, message }));
            }
            if let Some(usage) = parse_usage(&event["usage"]) {
                completion.usage = Some(usage);
            }
            let choice = &event["choices"][0];
            if let Some(delta) = choice["delta"]["content"].as_str()
                && !delta.is_empty()
            {
                completion.text.push_str(delta);
                forwarder.send(delta).await;
            }
            if choice["finish_reason"].is_string() {
                finished = true;
            }
        }
        // Some compatible servers close the stream after the last choice without
        // `[DONE]`; that answer is whole. Without a finish reason it was cut short.
        if finished {
            Ok(completion)
        } else {
            Err(forwarder.fail(ProviderError::Connection(
                "the answer stream ended before [DONE]".into(),
            )))
        }
    }

    /// Embedding vectors for `texts`, in order, with the server's usage if reported.
    pub async fn embeddings(
        &self,
        texts: &[String],
    ) -> Result<(Vec<Vec<f32>>, Option<Usage>), ProviderError> {
        let mut fields = Map::new();
        if let Some(model) = &self.model {
            fields.insert("model".into(), json!(model));
        }
        fields.insert("input".into(), json!(texts));
        // Base64 carries a float in 5⅓ characters instead of ~20 of decimal text, and
        // decoding it is far cheaper than parsing numbers: with 1024-dimension vectors
        // this was most of the host's work per ingested document. The official OpenAI
        // client asks for base64 by default, so servers LightRAG works with accept it;
        // a server that ignores it and sends floats is read just as well.
        if !self.options.contains_key("encoding_format") {
            fields.insert("encoding_format".into(), json!("base64"));
        }
        let response = self.post(&self.embeddings_url, &self.body(fields)).await?;
        let value = read_json(response, self.timeout).await?;
        let data = value["data"]
            .as_array()
            .ok_or_else(|| ProviderError::Malformed("no data array".into()))?;
        if data.len() != texts.len() {
            return Err(ProviderError::Malformed(format!(
                "{} vectors for {} texts",
                data.len(),
                texts.len()
            )));
        }
        let mut vectors: Vec<Option<Vec<f32>>> = vec![None; texts.len()];
        for (position, item) in data.iter().enumerate() {
            let index = item["index"].as_u64().map_or(position, |i| i as usize);
            let slot = vectors
                .get_mut(index)
                .ok_or_else(|| ProviderError::Malformed(format!("index {index} out of range")))?;
            if slot.is_some() {
                return Err(ProviderError::Malformed(format!("index {index} twice")));
            }
            *slot = Some(parse_vector(&item["embedding"])?);
        }
        let vectors = vectors.into_iter().map(Option::unwrap_or_default).collect();
        Ok((vectors, parse_usage(&value["usage"])))
    }
}

/// An error a server put inside a successful reply or a stream event.
fn reported_error(value: &Value, secret: &str) -> Option<String> {
    let error = value.get("error")?;
    if error.is_null() {
        return None;
    }
    Some(error_message(
        &json!({ "error": error }).to_string(),
        secret,
    ))
}

/// OpenAI's `usage` object: `prompt_tokens` and (for chat) `completion_tokens`.
pub(super) fn parse_usage(usage: &Value) -> Option<Usage> {
    let prompt = usage["prompt_tokens"].as_u64();
    let completion = usage["completion_tokens"].as_u64();
    if prompt.is_none() && completion.is_none() {
        return None;
    }
    Some(Usage::reported(
        prompt.unwrap_or(0),
        completion.unwrap_or(0),
    ))
}

/// An embedding as a float array, or as base64 of little-endian f32 (both exist).
fn parse_vector(value: &Value) -> Result<Vec<f32>, ProviderError> {
    let vector = match value {
        Value::Array(items) => items
            .iter()
            .map(|v| {
                v.as_f64()
                    .map(|f| f as f32)
                    .ok_or_else(|| ProviderError::Malformed("non-numeric embedding".into()))
            })
            .collect::<Result<Vec<f32>, _>>()?,
        Value::String(encoded) => {
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(encoded)
                .map_err(|e| ProviderError::Malformed(format!("bad base64 embedding: {e}")))?;
            if bytes.len() % 4 != 0 {
                return Err(ProviderError::Malformed(
                    "base64 embedding is not a whole number of f32".into(),
                ));
            }
            bytes
                .chunks_exact(4)
                .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                .collect()
        }
        _ => return Err(ProviderError::Malformed("an item has no embedding".into())),
    };
    if vector.is_empty() {
        return Err(ProviderError::Malformed("an embedding is empty".into()));
    }
    Ok(vector)
}

#[cfg(test)]
mod tests;
