//! Model providers: the host answers every request a guest task makes.
//!
//! The guest never sees a key, a URL or a socket. The host picks the provider,
//! enforces the server-wide concurrency budgets (`MAX_ASYNC` for completions,
//! `EMBEDDING_FUNC_MAX_ASYNC` for embedding batches, shared by all workspaces), splits
//! embeddings into `EMBEDDING_BATCH_NUM` batches, streams final answers to the
//! client, and counts calls.

pub mod openai;

use crate::bindings::types::{
    CompletionRequest, EmbedRequest, Purpose, RawInput, Reference, Reply, Request,
};
use crate::config::{Binding, Config};
use crate::metrics::Metrics;
use crate::offline::{self, OfflineEmbedder};
use openai::OpenAiClient;
use std::sync::Arc;
use tokio::sync::{Semaphore, mpsc};

/// What a streamed answer sends to the client, in order.
#[derive(Debug)]
pub enum StreamEvent {
    /// The answer is about to stream; these are the documents it may cite.
    Start { references: Vec<Reference> },
    /// A piece of the answer's text.
    Piece(String),
}

/// Where completions come from.
enum Llm {
    OpenAi(OpenAiClient),
    /// Rule-based stand-in; `entity_types` guide its extraction.
    Offline {
        entity_types: Vec<String>,
    },
}

/// Where embeddings come from.
enum Embedder {
    OpenAi(OpenAiClient),
    Offline(OfflineEmbedder),
}

/// All providers of the server.
pub struct Providers {
    llm: Llm,
    embedder: Embedder,
    llm_slots: Semaphore,
    embed_slots: Semaphore,
    batch: usize,
    metrics: Arc<Metrics>,
    /// Identity of the LLM (binding, model, host), part of every cache key.
    pub llm_identity: String,
    /// Identity of the embedding model, stored with every workspace's vectors.
    pub embedding_identity: String,
    /// Dimension of the embeddings.
    pub embedding_dim: u32,
}

impl Providers {
    /// Builds the configured providers.
    pub fn new(config: &Config, metrics: Arc<Metrics>) -> Result<Providers, String> {
        let llm = match config.llm.binding {
            Binding::OpenAi => Llm::OpenAi(OpenAiClient::new(
                &config.llm.host,
                &config.llm.model,
                &config.llm.api_key,
                config.llm_timeout,
            )),
            Binding::Offline => Llm::Offline {
                entity_types: config.entity_types.clone(),
            },
        };
        let llm_identity = match config.llm.binding {
            Binding::OpenAi => format!("openai:{}@{}", config.llm.model, config.llm.host),
            Binding::Offline => "offline:rules-v1".into(),
        };
        let (embedder, embedding_identity) = match config.embedding.binding {
            Binding::OpenAi => (
                Embedder::OpenAi(OpenAiClient::new(
                    &config.embedding.host,
                    &config.embedding.model,
                    &config.embedding.api_key,
                    config.llm_timeout,
                )),
                format!("openai:{}/{}", config.embedding.model, config.embedding_dim),
            ),
            Binding::Offline => (
                Embedder::Offline(OfflineEmbedder::new()?),
                OfflineEmbedder::identity(),
            ),
        };
        Ok(Providers {
            llm,
            embedder,
            llm_slots: Semaphore::new(config.max_async),
            embed_slots: Semaphore::new(config.embedding_max_async),
            batch: config.embedding_batch,
            metrics,
            llm_identity,
            embedding_identity,
            embedding_dim: config.embedding_dim,
        })
    }

    /// Answers one guest request. `sink` receives the pieces of a streamed answer.
    pub async fn answer(&self, request: Request, sink: Option<mpsc::Sender<StreamEvent>>) -> Reply {
        match request {
            Request::Complete(completion) => {
                let sink = sink.filter(|_| completion.stream);
                if let Some(sink) = &sink {
                    let references = match &completion.input {
                        RawInput::Context(context) => context.references.clone(),
                        _ => Vec::new(),
                    };
                    let _ = sink.send(StreamEvent::Start { references }).await;
                }
                Reply::Completion(self.complete(&completion, sink.as_ref()).await)
            }
            Request::Embed(embed) => Reply::Embedding(self.embed(embed).await),
        }
    }

    /// One chat completion, within the server-wide `MAX_ASYNC` budget.
    pub async fn complete(
        &self,
        request: &CompletionRequest,
        sink: Option<&mpsc::Sender<StreamEvent>>,
    ) -> Result<String, String> {
        let _slot = self
            .llm_slots
            .acquire()
            .await
            .map_err(|_| "shutting down")?;
        self.metrics.llm_calls.inc();
        let result = match &self.llm {
            Llm::OpenAi(client) => {
                client
                    .chat(&request.messages, request.json_mode, sink)
                    .await
            }
            Llm::Offline { entity_types } => {
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
                Ok(text)
            }
        };
        if result.is_err() {
            self.metrics.llm_errors.inc();
        }
        result
    }

    /// Embeddings of `request.texts`, in batches of `EMBEDDING_BATCH_NUM` run
    /// concurrently within `EMBEDDING_FUNC_MAX_ASYNC`.
    pub async fn embed(&self, request: EmbedRequest) -> Result<Vec<Vec<f32>>, String> {
        let batches = request
            .texts
            .chunks(self.batch.max(1))
            .map(|batch| async move {
                let _slot = self
                    .embed_slots
                    .acquire()
                    .await
                    .map_err(|_| "shutting down")?;
                self.metrics.embed_calls.inc();
                let result = match &self.embedder {
                    Embedder::OpenAi(client) => client.embeddings(batch).await,
                    Embedder::Offline(model) => {
                        let model = model.clone();
                        let batch = batch.to_vec();
                        tokio::task::spawn_blocking(move || model.embed(&batch))
                            .await
                            .map_err(|e| format!("the embedding model crashed: {e}"))?
                    }
                };
                if result.is_err() {
                    self.metrics.embed_errors.inc();
                }
                result
            });
        let results = futures::future::join_all(batches).await;
        let mut vectors = Vec::with_capacity(request.texts.len());
        for result in results {
            vectors.extend(result?);
        }
        Ok(vectors)
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
