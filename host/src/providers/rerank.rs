//! A reranker client: Cohere-style (`cohere`, `jina`: `{model, query, documents,
//! top_n}` → `results[{index, relevance_score}]`) and Aliyun DashScope (`aliyun`:
//! `{model, input: {query, documents}, parameters: {top_n}}` →
//! `output.results[…]`), as LightRAG's `RERANK_BINDING` supports.

use super::retry::{ProviderError, check_status, from_transport, http_client, read_json};
use serde_json::json;
use std::time::Duration;

/// Which request shape the reranker speaks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RerankStyle {
    /// Cohere and Jina (and compatible servers).
    Cohere,
    /// Aliyun DashScope.
    Aliyun,
}

/// One configured reranker.
pub struct RerankClient {
    http: reqwest::Client,
    /// The full endpoint URL (`RERANK_BINDING_HOST`), e.g. `https://api.cohere.com/v2/rerank`.
    url: String,
    model: String,
    /// Sent as a bearer token; never logged.
    api_key: String,
    style: RerankStyle,
    timeout: Duration,
}

impl RerankClient {
    /// A client for the reranker at `url`.
    pub fn new(
        url: &str,
        model: &str,
        api_key: &str,
        style: RerankStyle,
        timeout: Duration,
    ) -> RerankClient {
        RerankClient {
            http: http_client(timeout),
            url: url.to_string(),
            model: model.to_string(),
            api_key: api_key.to_string(),
            style,
            timeout,
        }
    }

    /// One relevance score per document, in the documents' order (a document the
    /// reranker left out scores 0).
    pub async fn scores(
        &self,
        query: &str,
        documents: &[String],
    ) -> Result<Vec<f32>, ProviderError> {
        let body = match self.style {
            RerankStyle::Cohere => {
                json!({"model": self.model, "query": query, "documents": documents, "top_n": documents.len()})
            }
            RerankStyle::Aliyun => {
                json!({"model": self.model, "input": {"query": query, "documents": documents},
                "parameters": {"top_n": documents.len(), "return_documents": false}})
            }
        };
        let mut request = self.http.post(&self.url).json(&body);
        if !self.api_key.is_empty() {
            request = request.bearer_auth(&self.api_key);
        }
        let response = request
            .send()
            .await
            .map_err(|e| from_transport(e, self.timeout))?;
        let value = read_json(check_status(response, &self.api_key).await?, self.timeout).await?;
        let results = match self.style {
            RerankStyle::Cohere => &value["results"],
            RerankStyle::Aliyun => &value["output"]["results"],
        };
        let results = results.as_array().ok_or_else(|| {
            ProviderError::Malformed("the reranker's reply has no results".into())
        })?;
        let mut scores = vec![0.0f32; documents.len()];
        for item in results {
            let index = item["index"].as_u64().map(|i| i as usize);
            let score = item["relevance_score"].as_f64();
            match (index, score) {
                (Some(i), Some(score)) if i < scores.len() => scores[i] = score as f32,
                _ => {
                    return Err(ProviderError::Malformed(
                        "a rerank result without a valid index and score".into(),
                    ));
                }
            }
        }
        Ok(scores)
    }
}
