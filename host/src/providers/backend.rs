//! [`Backend`]: one model backend — an OpenAI-compatible server, Ollama, Azure
//! OpenAI, or the built-in offline provider — behind the same two calls.

use super::azure::AzureOpenAiClient;
use super::ollama::OllamaClient;
use super::openai::OpenAiClient;
use super::retry::ProviderError;
use super::stream::StreamEvent;
use crate::bindings::types::{CompletionRequest, Purpose, RawInput};
use crate::config::{Binding, ModelConfig};
use crate::usage::{Completion, Usage};
use lightrag_offline::{self as offline, OfflineEmbedder};
use serde_json::{Map, Value};
use std::time::Duration;
use tokio::sync::mpsc;

/// Where completions or embeddings come from.
pub enum Backend {
    OpenAi(OpenAiClient),
    Ollama(OllamaClient),
    Azure(AzureOpenAiClient),
    /// No network: rules for completions (guided by `entity_types`), the bundled
    /// model for embeddings.
    Offline {
        entity_types: Vec<String>,
        embedder: Option<OfflineEmbedder>,
    },
}

impl Backend {
    /// The backend of `model`'s binding. An offline one answers completions and, with
    /// `embedder`, embeddings.
    pub fn new(
        model: &ModelConfig,
        timeout: Duration,
        options: Map<String, Value>,
        entity_types: &[String],
        embedder: Option<OfflineEmbedder>,
    ) -> Backend {
        let m = model;
        match m.binding {
            Binding::OpenAi => Backend::OpenAi(OpenAiClient::new(
                &m.host, &m.model, &m.api_key, timeout, options,
            )),
            Binding::Ollama => Backend::Ollama(OllamaClient::new(
                &m.host, &m.model, &m.api_key, timeout, options,
            )),
            Binding::AzureOpenAi => Backend::Azure(AzureOpenAiClient::new(
                &m.host,
                &m.model,
                &m.api_version,
                &m.api_key,
                timeout,
                options,
            )),
            Binding::Offline => Backend::Offline {
                entity_types: entity_types.to_vec(),
                embedder,
            },
        }
    }

    /// Whether failed calls are worth retrying (a remote server's may be transient;
    /// the offline rules' are not).
    pub fn remote(&self) -> bool {
        !matches!(self, Backend::Offline { .. })
    }

    /// One chat completion; `sink` receives the pieces of a streamed answer.
    pub async fn chat(
        &self,
        request: &CompletionRequest,
        sink: Option<&mpsc::Sender<StreamEvent>>,
    ) -> Result<Completion, ProviderError> {
        let (messages, json) = (&request.messages, request.json_mode);
        match self {
            Backend::OpenAi(c) => c.chat(messages, json, sink).await,
            Backend::Ollama(c) => c.chat(messages, json, sink).await,
            Backend::Azure(c) => c.chat(messages, json, sink).await,
            Backend::Offline { entity_types, .. } => {
                let text = offline_completion(request, entity_types);
                if let Some(sink) = sink {
                    for piece in text.split_inclusive(' ') {
                        if sink
                            .send(StreamEvent::Piece(piece.to_string()))
                            .await
                            .is_err()
                        {
                            break;
                        }
                    }
                }
                Ok(Completion { text, usage: None })
            }
        }
    }

    /// The embedding vectors of `texts`.
    pub async fn embeddings(
        &self,
        texts: &[String],
    ) -> Result<(Vec<Vec<f32>>, Option<Usage>), ProviderError> {
        match self {
            Backend::OpenAi(c) => c.embeddings(texts).await,
            Backend::Ollama(c) => c.embeddings(texts).await,
            Backend::Azure(c) => c.embeddings(texts).await,
            Backend::Offline {
                embedder: Some(model),
                ..
            } => {
                // The model is CPU-bound: off the async workers.
                let (model, texts) = (model.clone(), texts.to_vec());
                tokio::task::spawn_blocking(move || model.embed(&texts))
                    .await
                    .map_err(|e| ProviderError::Local(format!("the embedding model crashed: {e}")))?
                    .map(|vectors| (vectors, None))
                    .map_err(ProviderError::Local)
            }
            Backend::Offline { embedder: None, .. } => Err(ProviderError::Local(
                "the offline completion backend has no embedding model".into(),
            )),
        }
    }
}

/// The offline stand-in's answer, chosen by the request's purpose and raw input.
fn offline_completion(request: &CompletionRequest, entity_types: &[String]) -> String {
    match (&request.purpose, &request.input) {
        (Purpose::Extract, RawInput::Chunk(chunk)) => offline::llm::extract(chunk, entity_types),
        (Purpose::Glean, _) => offline::llm::glean(),
        (Purpose::Keywords, RawInput::Query(query)) => offline::llm::keywords(query),
        (Purpose::Summary, RawInput::Descriptions(input)) => {
            offline::llm::summarize(&input.kind, &input.name, &input.fragments)
        }
        (Purpose::Answer, RawInput::Context(context)) => {
            let passages: Vec<(String, String)> = context
                .passages
                .iter()
                .map(|p| (p.reference_id.clone(), p.content.clone()))
                .collect();
            let references: Vec<(String, String)> = context
                .references
                .iter()
                .map(|r| (r.reference_id.clone(), r.file_path.clone()))
                .collect();
            offline::llm::answer(
                &context.query,
                &context.entities,
                &context.relations,
                &passages,
                &references,
            )
        }
        (Purpose::Bypass, RawInput::Query(query)) => offline::llm::bypass(query),
        // A purpose with an unexpected input: answer from the last user message.
        _ => {
            let last = request
                .messages
                .iter()
                .rev()
                .find(|m| m.role == "user")
                .map(|m| m.content.as_str())
                .unwrap_or("");
            offline::llm::bypass(last)
        }
    }
}
