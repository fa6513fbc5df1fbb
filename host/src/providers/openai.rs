//! A client for any server that speaks the OpenAI API (OpenAI, vLLM, llama.cpp,
//! LM Studio, Ollama's `/v1`, DeepSeek…): chat completions, streamed or not, and
//! embeddings.

use super::StreamEvent;
use crate::bindings::types::Message;
use base64::Engine as _;
use futures::StreamExt;
use serde_json::{Value, json};
use std::time::Duration;
use tokio::sync::mpsc;

/// One configured endpoint and model.
#[derive(Clone)]
pub struct OpenAiClient {
    http: reqwest::Client,
    base: String,
    model: String,
    /// Sent as a bearer token; never logged and never part of an error message.
    api_key: String,
}

impl OpenAiClient {
    /// A client for `base` (e.g. `https://api.openai.com/v1`).
    pub fn new(base: &str, model: &str, api_key: &str, timeout: Duration) -> OpenAiClient {
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(Duration::from_secs(10))
            .build()
            .expect("a default HTTP client builds");
        OpenAiClient {
            http,
            base: base.trim_end_matches('/').to_string(),
            model: model.to_string(),
            api_key: api_key.to_string(),
        }
    }

    fn post(&self, path: &str) -> reqwest::RequestBuilder {
        let request = self.http.post(format!("{}{path}", self.base));
        if self.api_key.is_empty() {
            request
        } else {
            request.bearer_auth(&self.api_key)
        }
    }

    /// A chat completion. With a `sink` the answer is streamed (server-sent events)
    /// and every piece is forwarded as it arrives; the whole text is returned either way.
    pub async fn chat(
        &self,
        messages: &[Message],
        json_mode: bool,
        sink: Option<&mpsc::Sender<StreamEvent>>,
    ) -> Result<String, String> {
        let messages: Vec<Value> = messages
            .iter()
            .map(|m| json!({"role": m.role, "content": m.content}))
            .collect();
        let mut body = json!({"model": self.model, "messages": messages});
        if json_mode {
            body["response_format"] = json!({"type": "json_object"});
        }
        if sink.is_some() {
            body["stream"] = json!(true);
        }
        let response = self
            .post("/chat/completions")
            .json(&body)
            .send()
            .await
            .map_err(describe_transport)?;
        let response = check_status(response).await?;
        match sink {
            None => {
                let value: Value = response.json().await.map_err(describe_transport)?;
                value["choices"][0]["message"]["content"]
                    .as_str()
                    .map(str::to_string)
                    .ok_or_else(|| {
                        "the LLM server's reply has no choices[0].message.content".into()
                    })
            }
            Some(sink) => read_event_stream(response, sink).await,
        }
    }

    /// Embedding vectors for `texts`, in order.
    pub async fn embeddings(&self, texts: &[String]) -> Result<Vec<Vec<f32>>, String> {
        let body = json!({"model": self.model, "input": texts, "encoding_format": "float"});
        let response = self
            .post("/embeddings")
            .json(&body)
            .send()
            .await
            .map_err(describe_transport)?;
        let value: Value = check_status(response)
            .await?
            .json()
            .await
            .map_err(describe_transport)?;
        let data = value["data"]
            .as_array()
            .ok_or("the embedding server's reply has no data array")?;
        let mut vectors = vec![Vec::new(); texts.len()];
        for (position, item) in data.iter().enumerate() {
            let index = item["index"].as_u64().map_or(position, |i| i as usize);
            let vector = parse_vector(&item["embedding"])?;
            *vectors
                .get_mut(index)
                .ok_or("the embedding server returned an index out of range")? = vector;
        }
        if vectors.iter().any(Vec::is_empty) {
            return Err(format!(
                "the embedding server returned {} vectors for {} texts",
                data.len(),
                texts.len()
            ));
        }
        Ok(vectors)
    }
}

/// An embedding as a float array, or as base64 of little-endian f32 (both exist).
fn parse_vector(value: &Value) -> Result<Vec<f32>, String> {
    match value {
        Value::Array(items) => items
            .iter()
            .map(|v| {
                v.as_f64()
                    .map(|f| f as f32)
                    .ok_or_else(|| "non-numeric embedding".to_string())
            })
            .collect(),
        Value::String(encoded) => {
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(encoded)
                .map_err(|e| format!("bad base64 embedding: {e}"))?;
            Ok(bytes
                .chunks_exact(4)
                .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                .collect())
        }
        _ => Err("the embedding server's reply has no embedding".into()),
    }
}

/// Reads `data: {…}` events until `data: [DONE]`, forwarding content deltas.
async fn read_event_stream(
    response: reqwest::Response,
    sink: &mpsc::Sender<StreamEvent>,
) -> Result<String, String> {
    let mut text = String::new();
    let mut pending = Vec::new();
    let mut stream = response.bytes_stream();
    let mut client_gone = false;
    while let Some(piece) = stream.next().await {
        pending.extend_from_slice(&piece.map_err(describe_transport)?);
        while let Some(end) = pending.iter().position(|&b| b == b'\n') {
            let line: Vec<u8> = pending.drain(..=end).collect();
            let line = String::from_utf8_lossy(&line);
            let Some(data) = line.trim().strip_prefix("data:") else {
                continue;
            };
            let data = data.trim();
            if data == "[DONE]" {
                return Ok(text);
            }
            let Ok(event) = serde_json::from_str::<Value>(data) else {
                continue;
            };
            if let Some(message) = event["error"]["message"].as_str() {
                return Err(format!(
                    "the LLM server reported an error mid-stream: {message}"
                ));
            }
            if let Some(delta) = event["choices"][0]["delta"]["content"].as_str()
                && !delta.is_empty()
            {
                text.push_str(delta);
                // Keep reading when the client has gone: the whole text is still cached.
                if !client_gone
                    && sink
                        .send(StreamEvent::Piece(delta.to_string()))
                        .await
                        .is_err()
                {
                    client_gone = true;
                }
            }
        }
    }
    Err("the LLM stream ended before [DONE]".into())
}

async fn check_status(response: reqwest::Response) -> Result<reqwest::Response, String> {
    let status = response.status();
    if status.is_success() {
        return Ok(response);
    }
    let body = response.text().await.unwrap_or_default();
    let snippet: String = body.chars().take(300).collect();
    Err(format!("HTTP {}: {}", status.as_u16(), snippet.trim()))
}

/// Transport errors, without the URL's query or any header.
fn describe_transport(err: reqwest::Error) -> String {
    if err.is_timeout() {
        "the model server did not answer in time (TIMEOUT)".into()
    } else if err.is_connect() {
        "cannot connect to the model server".into()
    } else if err.is_decode() {
        format!(
            "the model server's reply is malformed: {}",
            err.without_url()
        )
    } else {
        format!("request to the model server failed: {}", err.without_url())
    }
}
