//! Model providers: the host answers every request a guest task makes.
//!
//! The guest never sees a key, a URL or a socket. Here the host picks the binding,
//! shares the server-wide budgets fairly between workspaces (`MAX_ASYNC` for
//! completions, `EMBEDDING_FUNC_MAX_ASYNC` for embedding batches; see `fair`),
//! retries what is worth retrying, splits embeddings into `EMBEDDING_BATCH_NUM`
//! batches, streams final answers to the client, and accounts for usage.
//!
//! * `openai`, `ollama`, `azure` — the HTTP clients of each binding; `rerank` — the
//!   reranker client.
//! * `retry` — typed provider errors and bounded retries with backoff.
//! * `backend` — [`backend::Backend`]: any of the bindings, or the offline provider
//!   (the `lightrag-offline` crate), behind the same calls.
//! * `fair` — the fair, prioritised concurrency budget.
//! * `metered` — the one way a call is made: role cap, fair slot, retries, accounting.
//! * `stream` — what a streamed answer tells its client.

pub mod azure;
pub mod backend;
pub mod fair;
mod metered;
#[cfg(test)]
mod mock;
pub mod ollama;
pub mod openai;
pub mod rerank;
pub mod retry;
mod stream;

pub use stream::{Asked, StreamEvent};

use crate::audit::Audit;
use crate::bindings::types::{
    CompletionRequest, EmbedKind, EmbedRequest, Purpose, RawInput, Reply, Request, RerankRequest,
};
use crate::config::{Binding, Config, ModelConfig, RoleLimit};
use crate::metrics::Metrics;
use crate::usage::Usage;
use backend::Backend;
use fair::{FairLimiter, Priority};
use lightrag_offline::OfflineEmbedder;
use metered::Call;
use retry::RetryPolicy;
use std::sync::Arc;
use tokio::sync::mpsc;

/// A role's own model (when it has a model or a timeout of its own) and its own cap
/// on calls in flight.
#[derive(Default)]
struct Role {
    backend: Option<Backend>,
    slots: Option<tokio::sync::Semaphore>,
}

/// The model of each role: extraction (and summaries), keywords, answers.
struct Llms {
    base: Backend,
    extract: Role,
    keyword: Role,
    query: Role,
}

impl Llms {
    /// The backend that serves `purpose` (LightRAG's roles), and the role's cap.
    fn for_purpose(&self, purpose: Purpose) -> (&Backend, Option<&tokio::sync::Semaphore>) {
        let role = match purpose {
            Purpose::Extract | Purpose::Glean | Purpose::Summary => &self.extract,
            Purpose::Keywords => &self.keyword,
            Purpose::Answer | Purpose::Bypass => &self.query,
        };
        (
            role.backend.as_ref().unwrap_or(&self.base),
            role.slots.as_ref(),
        )
    }
}

/// All providers of the server.
pub struct Providers {
    llms: Llms,
    embedder: Backend,
    reranker: Option<rerank::RerankClient>,
    llm_slots: Arc<FairLimiter>,
    embed_slots: Arc<FairLimiter>,
    batch: usize,
    meter: metered::Meter,
    metrics: Arc<Metrics>,
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
        let make = |model: &ModelConfig, timeout| {
            Backend::new(
                model,
                timeout,
                model.options.clone(),
                &config.engine.entity_types,
                None,
            )
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
        // A role gets its own backend when it has its own model or timeout.
        let role = |model: &Option<ModelConfig>, limit: &RoleLimit| Role {
            backend: match (model, limit.timeout) {
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
        let (offline_model, embedding_identity) = match config.embedding.binding {
            Binding::Offline => (Some(OfflineEmbedder::new()?), OfflineEmbedder::identity()),
            binding => (
                None,
                format!(
                    "{}:{}/{}",
                    binding.name(),
                    config.embedding.model,
                    config.embedding_dim
                ),
            ),
        };
        let embedder = Backend::new(
            &config.embedding,
            config.embedding_timeout,
            embed_options,
            &config.engine.entity_types,
            offline_model,
        );
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
            meter: metered::Meter {
                retry: RetryPolicy {
                    max_attempts: config.retry_attempts,
                    base_delay: config.retry_base,
                    ..RetryPolicy::default()
                },
                metrics: metrics.clone(),
                audit,
            },
            metrics,
            llm_identity,
            embedding_identity,
            embedding_dim: config.embedding_dim,
        })
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
        let call = Call {
            workspace,
            purpose: "rerank",
            model: "reranker",
            role: None,
            budget: &self.llm_slots,
            priority: Priority::Interactive,
            retried: true,
            attempts: &self.metrics.rerank_calls,
            failures: &self.metrics.rerank_errors,
        };
        self.meter
            .call(
                call,
                || reranker.scores(&request.query, &request.documents),
                |_| Usage::default(),
            )
            .await
    }

    /// One chat completion of the model serving its purpose.
    pub async fn complete(
        &self,
        workspace: &str,
        request: &CompletionRequest,
        sink: Option<&mpsc::Sender<StreamEvent>>,
    ) -> Result<String, String> {
        let (backend, role) = self.llms.for_purpose(request.purpose);
        let call = Call {
            workspace,
            purpose: purpose_name(request.purpose),
            model: &self.llm_identity,
            role,
            budget: &self.llm_slots,
            priority: priority_of(request.purpose),
            retried: backend.remote(),
            attempts: &self.metrics.llm_calls,
            failures: &self.metrics.llm_errors,
        };
        let completion = self
            .meter
            .call(
                call,
                || backend.chat(request, sink),
                |c| {
                    c.usage
                        .unwrap_or_else(|| Usage::estimate(&request.messages, &c.text))
                },
            )
            .await?;
        Ok(completion.text)
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
        let batches = request.texts.chunks(self.batch.max(1)).map(|batch| {
            let call = Call {
                workspace,
                purpose: "embed",
                model: &self.embedding_identity,
                role: None,
                budget: &self.embed_slots,
                priority,
                retried: self.embedder.remote(),
                attempts: &self.metrics.embed_calls,
                failures: &self.metrics.embed_errors,
            };
            self.meter.call(
                call,
                || self.embedder.embeddings(batch),
                |(_, usage)| usage.unwrap_or_else(|| Usage::estimate_embedding(batch)),
            )
        });
        let results = futures::future::join_all(batches).await;
        let mut vectors = Vec::with_capacity(request.texts.len());
        for result in results {
            vectors.extend(result?.0);
        }
        Ok(vectors)
    }
}
