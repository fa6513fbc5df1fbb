//! The common end of every retrieval mode: the answer's prompt, the answer cache,
//! the model call, and the shapes of the reply.

use super::context::Retrieved;
use super::keywords::Keywords;
use super::params::{mode_name, response_type, user_prompt_value};
use crate::executor::Io;
use crate::payload::Text;
use crate::prompts::{NO_CONTEXT_RESPONSE, USER_QUERY_SEPARATOR, fill};
use crate::shared::Shared;
use crate::state::CacheRecord;
use crate::util::{args_hash, unix_now};
use crate::wit::{
    ChunkData, CompletionRequest, ContextInput, Error, Message, Passage, Purpose, QueryData,
    QueryOutput, QueryParams, RawInput, Reference,
};
use std::collections::HashMap;

/// Version tag of the answer-cache key scheme.
const CACHE_POLICY: &str = "query-answer-cache-v3";

/// The messages of an answer call: system prompt, earlier turns, then the query.
pub fn messages(system: Option<String>, params: &QueryParams, query: &str) -> Vec<Message> {
    let mut messages = Vec::with_capacity(params.conversation_history.len() + 2);
    if let Some(system) = system {
        messages.push(Message {
            role: "system".into(),
            content: system,
        });
    }
    messages.extend(params.conversation_history.iter().map(|m| Message {
        role: m.role.clone(),
        content: m.content.clone(),
    }));
    messages.push(Message {
        role: "user".into(),
        content: query.to_string(),
    });
    messages
}

/// A failed model call, as the contract reports it.
pub fn llm_error(err: String) -> Error {
    Error::Internal(format!("the language model call failed: {err}"))
}

/// A reply that found something to answer from.
pub fn output(
    response: String,
    llm_generated: bool,
    references: Vec<Reference>,
    data: Option<QueryData>,
) -> QueryOutput {
    QueryOutput {
        response,
        llm_generated,
        references,
        data,
        no_results: false,
    }
}

/// Retrieval data with nothing in it, for the modes that retrieve nothing.
pub fn empty_data() -> QueryData {
    QueryData {
        entities: Vec::new(),
        relationships: Vec::new(),
        chunks: Vec::new(),
        references: Vec::new(),
        high_level_keywords: Vec::new(),
        low_level_keywords: Vec::new(),
        processing_info: Vec::new(),
    }
}

/// The fixed reply when nothing relevant was found.
pub fn no_context(keywords: &Keywords) -> QueryOutput {
    QueryOutput {
        response: NO_CONTEXT_RESPONSE.into(),
        llm_generated: false,
        references: Vec::new(),
        data: Some(QueryData {
            high_level_keywords: keywords.high.clone(),
            low_level_keywords: keywords.low.clone(),
            ..empty_data()
        }),
        no_results: true,
    }
}

/// The system prompt of `template` around `context`.
pub fn system_prompt(template: &str, params: &QueryParams, context: &str) -> String {
    fill(
        template,
        &[
            ("response_type", &response_type(params)),
            ("user_prompt", &user_prompt_value(params)),
            ("context_data", context),
            ("content_data", context),
        ],
    )
}

/// What an answer is built from, whatever the mode.
pub struct Prepared {
    pub template: &'static str,
    pub context: String,
    pub chunks: Vec<Retrieved>,
    pub references: Vec<Reference>,
    pub ref_of: HashMap<String, String>,
    pub entity_lines: Vec<String>,
    pub relation_lines: Vec<String>,
    pub data: QueryData,
}

/// The common end of every retrieval mode: data, context, prompt, cached or fresh
/// answer.
pub async fn answer(
    shared: &Shared,
    io: &Io,
    params: &QueryParams,
    query: &str,
    prepared: Prepared,
    keywords: &Keywords,
) -> Result<QueryOutput, Error> {
    let Prepared {
        template,
        context,
        chunks,
        references,
        ref_of,
        entity_lines,
        relation_lines,
        mut data,
    } = prepared;
    if params.data_only {
        data.chunks = chunks
            .iter()
            .map(|c| ChunkData {
                reference_id: ref_of.get(&c.file_path).cloned().unwrap_or_default(),
                content: c.content.clone(),
                file_path: c.file_path.clone(),
                chunk_id: c.id.clone(),
            })
            .collect();
        data.references = references.clone();
        data.high_level_keywords = keywords.high.clone();
        data.low_level_keywords = keywords.low.clone();
        return Ok(output(String::new(), false, references, Some(data)));
    }
    if params.only_need_context {
        return Ok(output(context, false, references, None));
    }
    let system = system_prompt(template, params, &context);
    if params.only_need_prompt {
        return Ok(output(
            format!("{system}{USER_QUERY_SEPARATOR}{query}"),
            false,
            references,
            None,
        ));
    }
    let cache_key = answer_cache_key(shared, params, query, keywords, &context);
    if let Some(key) = &cache_key
        && let Some(hit) = shared.cached(key)
    {
        return Ok(output(hit, false, references, None));
    }
    let passages = chunks
        .iter()
        .map(|c| Passage {
            reference_id: ref_of.get(&c.file_path).cloned().unwrap_or_default(),
            content: c.content.clone(),
        })
        .collect();
    let text = io
        .complete(CompletionRequest {
            purpose: Purpose::Answer,
            messages: messages(Some(system), params, query),
            json_mode: false,
            stream: params.stream,
            input: RawInput::Context(ContextInput {
                query: query.to_string(),
                entities: entity_lines,
                relations: relation_lines,
                passages,
                references: references.clone(),
            }),
        })
        .await
        .map_err(llm_error)?;
    if let Some(key) = cache_key
        && !text.trim().is_empty()
    {
        // The cache is an optimisation: it need not be synced before answering.
        shared.cache_query_time(
            key,
            CacheRecord {
                value: Text::new(text.clone()),
                cache_type: "query".into(),
                chunk_id: None,
                created_at: unix_now(),
            },
        );
    }
    Ok(output(text, true, references, None))
}

/// The answer-cache key, or `None` when caching does not apply (disabled, or a
/// conversation is going on). The key covers the mode and every parameter that
/// shapes the answer, so different modes or parameters never share an entry; unlike
/// LightRAG it also covers the retrieved context, so adding or deleting documents
/// never serves a stale answer.
fn answer_cache_key(
    shared: &Shared,
    params: &QueryParams,
    query: &str,
    keywords: &Keywords,
    context: &str,
) -> Option<String> {
    if !shared.config.enable_llm_cache || !params.conversation_history.is_empty() {
        return None;
    }
    let mode = mode_name(params.mode);
    let numbers = format!(
        "{:?}/{:?}/{:?}/{:?}/{:?}",
        params.top_k,
        params.chunk_top_k,
        params.max_entity_tokens,
        params.max_relation_tokens,
        params.max_total_tokens
    );
    let hash = args_hash(&[
        CACHE_POLICY,
        mode,
        query,
        &response_type(params),
        &numbers,
        &keywords.high.join(", "),
        &keywords.low.join(", "),
        params.user_prompt.as_deref().unwrap_or(""),
        &shared.config.llm_identity,
        context,
    ]);
    Some(format!("{mode}:query:{hash}"))
}
