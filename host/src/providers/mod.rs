//! Model providers: the host answers every request a guest task makes.
//!
//! The guest never sees a key, a URL or a socket. Here the host picks the binding,
//! shares the server-wide budgets fairly between workspaces (`MAX_ASYNC` for
//! completions, `EMBEDDING_FUNC_MAX_ASYNC` for embedding batches; see `fair`),
//! retries what is worth retrying, splits embeddings into `EMBEDDING_BATCH_NUM`
//! batches, streams final answers to the client, and accounts for usage.
//!
//! * `openai`, `ollama`, `azure` — the HTTP clients of each binding.
//! * `retry` — typed provider errors and bounded retries with backoff.
//! * `fair` — the fair, prioritised concurrency budget.

pub mod azure;
pub mod fair;
#[cfg(test)]
mod mock;
pub mod ollama;
pub mod openai;
pub mod rerank;
pub mod retry;

use crate::audit::Audit;
use crate::bindings::types::{
    CompletionRequest, EmbedKind, EmbedRequest, Message, Purpose, RawInput, Reference, Reply,
    Request, RerankRequest,
};
use crate::config::{Binding, Config, ModelConfig, RoleLimit};
use crate::metrics::Metrics;
use crate::offline::{self, OfflineEmbedder};
use crate::usage::{Completion, Usage};
use azure::AzureOpenAiClient;
use fair::{FairLimiter, Priority};
use ollama::OllamaClient;
use openai::OpenAiClient;
use retry::{ProviderError, RetryPolicy, with_retries};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::mpsc;

/// What a streamed answer sends to the client, in order.
#[derive(Debug)]
pub enum StreamEvent {
    /// The engine asked for a model call of this kind. Sent before the call is made,
    /// so that a stream can tell the query's progress.
    Asked(Asked),
    /// The answer is about to stream; these are the documents it may cite.
    Start { references: Vec<Reference> },
    /// A piece of the answer's text.
    Piece(String),
}

/// The model calls that mark the steps of a query.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Asked {
    Keywords,
    QueryEmbedding,
    Rerank,
    Answer,
}

impl Asked {
    /// The step `request` marks, if any.
    pub fn of(request: &Request) -> Option<Asked> {
        match request {
            Request::Complete(c) if matches!(c.purpose, Purpose::Keywords) => Some(Asked::Keywords),
            Request::Complete(c) if matches!(c.purpose, Purpose::Answer) => Some(Asked::Answer),
            Request::Embed(e) if matches!(e.kind, EmbedKind::Query) => Some(Asked::QueryEmbedding),
            Request::Rerank(_) => Some(Asked::Rerank),
            _ => None,
        }
    }
}

/// A remote model server of any binding.
enum Remote {
    OpenAi(OpenAiClient),
    Ollama(OllamaClient),
    Azure(AzureOpenAiClient),
}

impl Remote {
    fn new(
        config: &ModelConfig,
        timeout: Duration,
        options: serde_json::Map<String, serde_json::Value>,
    ) -> Option<Remote> {
        let m = config;
        Some(match m.binding {
            Binding::OpenAi => Remote::OpenAi(OpenAiClient::new(
                &m.host, &m.model, &m.api_key, timeout, options,
            )),
            Binding::Ollama => Remote::Ollama(OllamaClient::new(
                &m.host, &m.model, &m.api_key, timeout, options,
            )),
            Binding::AzureOpenAi => Remote::Azure(AzureOpenAiClient::new(
                &m.host,
                &m.model,
                &m.api_version,
                &m.api_key,
                timeout,
                options,
            )),
            Binding::Offline => return None,
        })
    }

    async fn chat(
        &self,
        messages: &[Message],
        json_mode: bool,
        sink: Option<&mpsc::Sender<StreamEvent>>,
    ) -> Result<Completion, ProviderError> {
        match self {
            Remote::OpenAi(c) => c.chat(messages, json_mode, sink).await,
            Remote::Ollama(c) => c.chat(messages, json_mode, sink).await,
            Remote::Azure(c) => c.chat(messages, json_mode, sink).await,
        }
    }

    async fn embeddings(
        &self,
        texts: &[String],
    ) -> Result<(Vec<Vec<f32>>, Option<Usage>), ProviderError> {
        match self {
            Remote::OpenAi(c) => c.embeddings(texts).await,
            Remote::Ollama(c) => c.embeddings(texts).await,
            Remote::Azure(c) => c.embeddings(texts).await,
        }
    }
}

/// Where completions come from.
enum Llm {
    Remote(Remote),
    /// Rule-based stand-in; `entity_types` guide its extraction.
    Offline {
        entity_types: Vec<String>,
    },
}

/// A role's own model (when it has a model or a timeout of its own) and its own cap
/// on calls in flight.
#[derive(Default)]
struct Role {
    llm: Option<Llm>,
    slots: Option<tokio::sync::Semaphore>,
}

/// The model of each role: extraction (and summaries), keywords, answers.
struct Llms {
    base: Llm,
    extract: Role,
    keyword: Role,
    query: Role,
}

impl Llms {
    /// The model that serves `purpose` (LightRAG's roles), and the role's cap.
    fn for_purpose(&self, purpose: Purpose) -> (&Llm, Option<&tokio::sync::Semaphore>) {
        let role = match purpose {
            Purpose::Extract | Purpose::Glean | Purpose::Summary => &self.extract,
            Purpose::Keywords => &self.keyword,
            Purpose::Answer | Purpose::Bypass => &self.query,
        };
        (role.llm.as_ref().unwrap_or(&self.base), role.slots.as_ref())
    }
}

/// Where embeddings come from.
enum Embedder {
    Remote(Remote),
    Offline(OfflineEmbedder),
}

/// All providers of the server.
pub struct Providers {
    llms: Llms,
    embedder: Embedder,
    reranker: Option<rerank::RerankClient>,
    llm_slots: Arc<FairLimiter>,
    embed_slots: Arc<FairLimiter>,
    batch: usize,
    retry: RetryPolicy,
    metrics: Arc<Metrics>,
    audit: Arc<Audit>,
    /// Identity of the LLM (binding, model, host), part of every cache key.
    pub llm_identity: String,
    /// Identity of the embedding model, stored with every workspace's vectors.
    pub embedding_identity: String,
    /// Dimension of the embeddings.
    pub embedding_dim: u32,
}

/// LightRAG's name of a purpose (metrics, audit).
pub fn purpose_name(purpose: Purpose) -> &'static str {
    match purpose {
        Purpose::Extract => "extract",
        Purpose::Glean => "glean",
        Purpose::Summary => "summary",
        Purpose::Keywords => "keywords",
        Purpose::Answer => "answer",
        Purpose::Bypass => "bypass",
    }
}

/// Queries are interactive; ingestion is background.
fn priority_of(purpose: Purpose) -> Priority {
    match purpose {
        Purpose::Keywords | Purpose::Answer | Purpose::Bypass => Priority::Interactive,
        Purpose::Extract | Purpose::Glean | Purpose::Summary => Priority::Background,
    }
}

impl Providers {
    /// Builds the configured providers.
    pub fn new(
        config: &Config,
        metrics: Arc<Metrics>,
        audit: Arc<Audit>,
    ) -> Result<Providers, String> {
        let timeout = config.llm_timeout;
        let make =
            |model: &ModelConfig, timeout| match Remote::new(model, timeout, model.options.clone())
            {
                Some(remote) => Llm::Remote(remote),
                None => Llm::Offline {
                    entity_types: config.entity_types.clone(),
                },
            };
        let identity = |model: &ModelConfig| match model.binding {
            Binding::Offline => "offline:rules-v1".to_string(),
            binding => format!("{}:{}@{}", binding.name(), model.model, model.host),
        };
        // The cache key of every answer includes this identity; with role-specific
        // models, changing any of them invalidates the cached answers.
        let mut llm_identity = identity(&config.llm);
        for (role, model) in [
            ("extract", &config.extract_llm),
            ("keyword", &config.keyword_llm),
            ("query", &config.query_llm),
        ] {
            if let Some(model) = model {
                llm_identity.push_str(&format!(";{role}={}", identity(model)));
            }
        }
        // A role gets its own client when it has its own model or timeout.
        let role = |model: &Option<ModelConfig>, limit: &RoleLimit| Role {
            llm: match (model, limit.timeout) {
                (Some(model), own) => Some(make(model, own.unwrap_or(timeout))),
                (None, Some(own)) => Some(make(&config.llm, own)),
                (None, None) => None,
            },
            slots: limit.max_async.map(tokio::sync::Semaphore::new),
        };
        let [extract_limit, keyword_limit, query_limit] = &config.role_limits;
        let llms = Llms {
            base: make(&config.llm, timeout),
            extract: role(&config.extract_llm, extract_limit),
            keyword: role(&config.keyword_llm, keyword_limit),
            query: role(&config.query_llm, query_limit),
        };
        // Embedding endpoints reject chat options: only their own options go there.
        let embed_options = match config.embedding.binding {
            Binding::Ollama => config.embedding.options.clone(),
            _ => serde_json::Map::new(),
        };
        let (embedder, embedding_identity) =
            match Remote::new(&config.embedding, config.embedding_timeout, embed_options) {
                Some(remote) => (
                    Embedder::Remote(remote),
                    format!(
                        "{}:{}/{}",
                        config.embedding.binding.name(),
                        config.embedding.model,
                        config.embedding_dim
                    ),
                ),
                None => (
                    Embedder::Offline(OfflineEmbedder::new()?),
                    OfflineEmbedder::identity(),
                ),
            };
        let reranker = config.rerank.as_ref().map(|r| {
            let style = if r.binding == "aliyun" {
                rerank::RerankStyle::Aliyun
            } else {
                rerank::RerankStyle::Cohere
            };
            rerank::RerankClient::new(&r.url, &r.model, &r.api_key, style, timeout)
        });
        Ok(Providers {
            llms,
            reranker,
            embedder,
            llm_slots: FairLimiter::new(config.max_async, config.workspace_max_async),
            embed_slots: FairLimiter::new(config.embedding_max_async, None),
            batch: config.embedding_batch,
            retry: RetryPolicy {
                max_attempts: config.retry_attempts,
                base_delay: config.retry_base,
                ..RetryPolicy::default()
            },
            metrics,
            audit,
            llm_identity,
            embedding_identity,
            embedding_dim: config.embedding_dim,
        })
    }

    /// Counts a model call in the metrics and the workspace's audit trail (purpose,
    /// model, tokens, latency, outcome — never prompts or answers).
    fn account(
        &self,
        workspace: &str,
        purpose: &str,
        model: &str,
        usage: Usage,
        started: Instant,
        error: Option<&str>,
    ) {
        let latency = started.elapsed();
        self.metrics
            .record_model_call(workspace, purpose, usage, latency, error.is_none());
        let mut entry = serde_json::json!({
            "purpose": purpose,
            "model": model,
            "prompt_tokens": usage.prompt_tokens,
            "completion_tokens": usage.completion_tokens,
            "tokens_estimated": usage.estimated,
            "latency_ms": latency.as_secs_f64() * 1000.0,
            "outcome": if error.is_none() { "ok" } else { "error" },
        });
        if let Some(error) = error {
            entry["error"] = serde_json::json!(error);
        }
        self.audit.record(workspace, "model_call", entry);
    }

    /// Slots in use and calls waiting, for completions and embeddings.
    pub fn load(&self) -> ((usize, usize), (usize, usize)) {
        (self.llm_slots.load(), self.embed_slots.load())
    }

    /// Answers one guest request of `workspace`. `sink` receives the pieces of a
    /// streamed answer.
    pub async fn answer(
        &self,
        workspace: &str,
        request: Request,
        sink: Option<mpsc::Sender<StreamEvent>>,
    ) -> Reply {
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
                Reply::Completion(self.complete(workspace, &completion, sink.as_ref()).await)
            }
            Request::Embed(embed) => Reply::Embedding(self.embed(workspace, embed).await),
            Request::Rerank(rerank) => Reply::Ranking(self.rerank(workspace, rerank).await),
        }
    }

    /// Whether a reranker is configured.
    pub fn has_reranker(&self) -> bool {
        self.reranker.is_some()
    }

    /// Relevance scores from the reranker, one per document, within the fair
    /// interactive budget (reranking only happens for queries).
    pub async fn rerank(
        &self,
        workspace: &str,
        request: RerankRequest,
    ) -> Result<Vec<f32>, String> {
        let Some(reranker) = &self.reranker else {
            return Err("no reranker is configured".into());
        };
        let _slot = self
            .llm_slots
            .acquire(workspace, Priority::Interactive)
            .await;
        let started = Instant::now();
        let result = with_retries(&self.retry, |_| {
            reranker.scores(&request.query, &request.documents)
        })
        .await;
        let none = Usage::default();
        match result {
            Ok(scores) => {
                self.account(workspace, "rerank", "reranker", none, started, None);
                Ok(scores)
            }
            Err(err) => {
                let message = err.to_string();
                self.account(
                    workspace,
                    "rerank",
                    "reranker",
                    none,
                    started,
                    Some(&message),
                );
                Err(message)
            }
        }
    }

    /// One chat completion, within the fair `MAX_ASYNC` budget, retried when worth it.
    pub async fn complete(
        &self,
        workspace: &str,
        request: &CompletionRequest,
        sink: Option<&mpsc::Sender<StreamEvent>>,
    ) -> Result<String, String> {
        let (llm, role_slots) = self.llms.for_purpose(request.purpose);
        // The role's own cap first, so that a call waiting for it holds no slot of
        // the server-wide budget. The semaphore is never closed.
        let _role_slot = match role_slots {
            Some(slots) => slots.acquire().await.ok(),
            None => None,
        };
        let _slot = self
            .llm_slots
            .acquire(workspace, priority_of(request.purpose))
            .await;
        let started = Instant::now();
        let purpose = purpose_name(request.purpose);
        let result = match llm {
            Llm::Remote(remote) => {
                with_retries(&self.retry, |_| {
                    self.metrics.llm_calls.inc();
                    remote.chat(&request.messages, request.json_mode, sink)
                })
                .await
            }
            Llm::Offline { entity_types } => {
                self.metrics.llm_calls.inc();
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
        };
        match result {
            Ok(Completion { text, usage }) => {
                let usage = usage.unwrap_or_else(|| Usage::estimate(&request.messages, &text));
                self.account(workspace, purpose, &self.llm_identity, usage, started, None);
                Ok(text)
            }
            Err(err) => {
                self.metrics.llm_errors.inc();
                let message = err.to_string();
                let none = Usage::default();
                self.account(
                    workspace,
                    purpose,
                    &self.llm_identity,
                    none,
                    started,
                    Some(&message),
                );
                Err(message)
            }
        }
    }

    /// Embeddings of `request.texts`, in batches of `EMBEDDING_BATCH_NUM` run
    /// concurrently within the fair `EMBEDDING_FUNC_MAX_ASYNC` budget.
    pub async fn embed(
        &self,
        workspace: &str,
        request: EmbedRequest,
    ) -> Result<Vec<Vec<f32>>, String> {
        let priority = match request.kind {
            EmbedKind::Query => Priority::Interactive,
            EmbedKind::Document => Priority::Background,
        };
        let batches = request
            .texts
            .chunks(self.batch.max(1))
            .map(|batch| async move {
                let _slot = self.embed_slots.acquire(workspace, priority).await;
                let started = Instant::now();
                let result = match &self.embedder {
                    Embedder::Remote(remote) => with_retries(&self.retry, |_| {
                        self.metrics.embed_calls.inc();
                        remote.embeddings(batch)
                    })
                    .await
                    .map_err(|e| e.to_string()),
                    Embedder::Offline(model) => {
                        self.metrics.embed_calls.inc();
                        let model = model.clone();
                        let texts = batch.to_vec();
                        tokio::task::spawn_blocking(move || model.embed(&texts))
                            .await
                            .map_err(|e| format!("the embedding model crashed: {e}"))
                            .and_then(|r| r)
                            .map(|vectors| (vectors, None))
                    }
                };
                let model = &self.embedding_identity;
                match result {
                    Ok((vectors, usage)) => {
                        let usage = usage.unwrap_or_else(|| Usage::estimate_embedding(batch));
                        self.account(workspace, "embed", model, usage, started, None);
                        Ok(vectors)
                    }
                    Err(err) => {
                        self.metrics.embed_errors.inc();
                        let none = Usage::default();
                        self.account(workspace, "embed", model, none, started, Some(&err));
                        Err(err)
                    }
                }
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
