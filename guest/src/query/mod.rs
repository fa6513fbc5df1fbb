//! Queries in every LightRAG mode: retrieval, the context within token budgets,
//! references, the answer (streamed or not) and the answer cache.
//!
//! * `keywords` — high/low-level keywords, from the caller or the model.
//! * `retrieve` — what each mode retrieves from the graph and the vectors.
//! * `context` — context lines, budgets, references.

mod context;
mod keywords;
mod retrieve;

use crate::chunking::python_strip;
use crate::executor::{Io, TaskResult};
use crate::prompts::{self, NO_CONTEXT_RESPONSE, USER_QUERY_SEPARATOR, fill};
use crate::state::CacheRecord;
use crate::util::{args_hash, unix_now};
use crate::wit::{
    ChunkData, CompletionRequest, ContextInput, EmbedKind, EntityData, Error, Message, Passage,
    Purpose, QueryData, QueryMode, QueryOutput, QueryParams, RawInput, Reference, RelationData,
    TaskOutput,
};
use crate::workspace::Shared;
use context::{Retrieved, entity_line, fit_chunks, lines_within, reference_list, relation_line};
use keywords::Keywords;
use std::collections::{HashMap, HashSet};
use std::rc::Rc;

/// Longest accepted query, in characters (LightRAG's limit).
const MAX_QUERY_CHARS: usize = 65_536;
/// Tokens LightRAG reserves beside the prompt when budgeting chunks.
const BUDGET_RESERVE: usize = 200;
/// Version tag of the answer-cache key scheme.
const CACHE_POLICY: &str = "query-answer-cache-v3";
/// Shorter queries without keywords are used as their own low-level keyword.
const SHORT_QUERY_CHARS: usize = 50;

/// Runs a query task.
pub async fn run(shared: Rc<Shared>, io: Io, params: QueryParams) -> TaskResult {
    let query = python_strip(&params.query).to_string();
    validate(&query, params.mode)?;
    let output = match params.mode {
        QueryMode::Bypass => bypass(&io, &params, &query).await?,
        QueryMode::Naive => naive(&shared, &io, &params, &query).await?,
        _ => graph_query(&shared, &io, &params, &query).await?,
    };
    Ok(TaskOutput::Query(output))
}

/// LightRAG's checks: non-empty, at most 65 536 characters, and (except in `bypass`)
/// a "weight" of at least 3, where CJK characters count 2.
pub fn validate(query: &str, mode: QueryMode) -> Result<(), Error> {
    if query.is_empty() {
        return Err(Error::BadInput("query must not be empty".into()));
    }
    if query.chars().count() > MAX_QUERY_CHARS {
        return Err(Error::BadInput(format!(
            "query is longer than {MAX_QUERY_CHARS} characters"
        )));
    }
    let weight: usize = query.chars().map(|c| if is_wide(c) { 2 } else { 1 }).sum();
    if mode != QueryMode::Bypass && weight < 3 {
        return Err(Error::BadInput(
            "RAG query is too short. Enter at least 3 English characters or an equivalent \
             combination where each Chinese, Japanese or Korean character counts as 2."
                .into(),
        ));
    }
    Ok(())
}

/// CJK ideographs, kana, hangul and fullwidth forms.
fn is_wide(c: char) -> bool {
    matches!(c as u32,
        0x1100..=0x11FF | 0x2E80..=0x2FDF | 0x3040..=0x30FF | 0x3130..=0x318F
        | 0x3400..=0x4DBF | 0x4E00..=0x9FFF | 0xAC00..=0xD7AF | 0xF900..=0xFAFF
        | 0xFF00..=0xFFEF | 0x20000..=0x2FA1F)
}

/// LightRAG's name of a mode.
pub fn mode_name(mode: QueryMode) -> &'static str {
    match mode {
        QueryMode::Local => "local",
        QueryMode::Global => "global",
        QueryMode::Hybrid => "hybrid",
        QueryMode::Naive => "naive",
        QueryMode::Mix => "mix",
        QueryMode::Bypass => "bypass",
    }
}

/// The messages of an answer call: system prompt, earlier turns, then the query.
fn messages(system: Option<String>, params: &QueryParams, query: &str) -> Vec<Message> {
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

fn llm_error(err: String) -> Error {
    Error::Internal(format!("the language model call failed: {err}"))
}

/// `bypass`: the query goes straight to the model, with the conversation.
async fn bypass(io: &Io, params: &QueryParams, query: &str) -> Result<QueryOutput, Error> {
    if params.data_only {
        return Ok(output(String::new(), false, Vec::new(), Some(empty_data())));
    }
    let response = io
        .complete(CompletionRequest {
            purpose: Purpose::Bypass,
            messages: messages(None, params, query),
            json_mode: false,
            stream: params.stream,
            input: RawInput::Query(query.to_string()),
        })
        .await
        .map_err(llm_error)?;
    Ok(output(response, true, Vec::new(), None))
}

fn output(
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

fn empty_data() -> QueryData {
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
fn no_context(keywords: &Keywords) -> QueryOutput {
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

fn response_type(params: &QueryParams) -> String {
    let trimmed = params.response_type.trim();
    if trimmed.is_empty() {
        "Multiple Paragraphs".into()
    } else {
        trimmed.to_string()
    }
}

/// LightRAG's `{user_prompt}` value: `n/a`, or the instructions after a blank line.
fn user_prompt_value(params: &QueryParams) -> String {
    match params.user_prompt.as_deref().map(str::trim) {
        Some(text) if !text.is_empty() => format!("\n\n{text}"),
        _ => "n/a".into(),
    }
}

/// The system prompt of `template` around `context`.
fn system_prompt(template: &str, params: &QueryParams, context: &str) -> String {
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
struct Prepared {
    template: &'static str,
    context: String,
    chunks: Vec<Retrieved>,
    references: Vec<Reference>,
    ref_of: HashMap<String, String>,
    entity_lines: Vec<String>,
    relation_lines: Vec<String>,
    data: QueryData,
}

/// `naive`: the query's vector against the chunk vectors.
async fn naive(
    shared: &Shared,
    io: &Io,
    params: &QueryParams,
    query: &str,
) -> Result<QueryOutput, Error> {
    let config = &shared.config;
    let chunk_top_k = params.chunk_top_k.unwrap_or(config.chunk_top_k) as usize;
    let vectors = io
        .embed(EmbedKind::Query, vec![query.to_string()])
        .await
        .map_err(|e| Error::Internal(format!("embedding the query failed: {e}")))?;
    let found: Vec<Retrieved> = {
        let store = shared.store.borrow();
        let state = store.state();
        let ids: Vec<String> = state
            .chunk_vectors
            .search(&vectors[0], chunk_top_k, config.cosine_threshold)
            .into_iter()
            .map(|(id, _)| id)
            .collect();
        retrieve::chunks_by_id(state, &ids)
    };
    let total_found = found.len() as u32;
    let found = rerank(
        io,
        params,
        query,
        found,
        config.min_rerank_score,
        chunk_top_k,
    )
    .await?;
    if found.is_empty() {
        return Ok(no_context(&Keywords::default()));
    }
    let empty_system = system_prompt(prompts::NAIVE_RESPONSE, params, "");
    let max_total = params.max_total_tokens.unwrap_or(config.max_total_tokens) as usize;
    let kept = {
        // Borrowed only here: never across an await, where other tasks run.
        let memo = &mut shared.token_memo.borrow_mut();
        let used = memo.count(&empty_system) + memo.count(query) + BUDGET_RESERVE;
        fit_chunks(memo, found, max_total.saturating_sub(used))
    };
    if kept.is_empty() {
        return Ok(no_context(&Keywords::default()));
    }
    let (references, ref_of) = reference_list(&kept, params.include_chunk_content);
    let context = context::naive_context(&kept, &references, &ref_of);
    let data = QueryData {
        processing_info: vec![
            ("total_chunks_found".into(), total_found),
            ("final_chunks_count".into(), kept.len() as u32),
        ],
        ..empty_data()
    };
    let prepared = Prepared {
        template: prompts::NAIVE_RESPONSE,
        context,
        chunks: kept,
        references,
        ref_of,
        entity_lines: Vec::new(),
        relation_lines: Vec::new(),
        data,
    };
    answer(shared, io, params, query, prepared, &Keywords::default()).await
}

/// `local`, `global`, `hybrid`, `mix`: keywords, then entities and relations from
/// the graph's vectors, their chunks, and for `mix` the query's own chunk hits.
async fn graph_query(
    shared: &Shared,
    io: &Io,
    params: &QueryParams,
    query: &str,
) -> Result<QueryOutput, Error> {
    let config = &shared.config;
    let mode = params.mode;
    let given = Keywords {
        high: params.hl_keywords.clone(),
        low: params.ll_keywords.clone(),
    };
    let mut keywords = keywords::keywords(shared, io, query, mode, given).await?;
    if keywords.is_empty() {
        if query.chars().count() < SHORT_QUERY_CHARS {
            keywords.low = vec![query.to_string()];
        } else {
            return Ok(no_context(&keywords));
        }
    }
    let low = keywords.low.join(", ");
    let high = keywords.high.join(", ");
    let uses_local =
        matches!(mode, QueryMode::Local | QueryMode::Hybrid | QueryMode::Mix) && !low.is_empty();
    let uses_global =
        matches!(mode, QueryMode::Global | QueryMode::Hybrid | QueryMode::Mix) && !high.is_empty();
    // One embedding request: the query (for chunk ranking), then the keyword strings.
    let mut texts = vec![query.to_string()];
    if uses_local {
        texts.push(low.clone());
    }
    if uses_global {
        texts.push(high.clone());
    }
    let mut vectors = io
        .embed(EmbedKind::Query, texts)
        .await
        .map_err(|e| Error::Internal(format!("embedding the query failed: {e}")))?
        .into_iter();
    let query_vector = vectors.next().unwrap_or_default();
    let low_vector = if uses_local { vectors.next() } else { None };
    let high_vector = if uses_global { vectors.next() } else { None };

    let chunk_top_k = params.chunk_top_k.unwrap_or(config.chunk_top_k) as usize;
    let (nodes, edges, entity_lines, relation_lines, merged, total_entities, total_relations) = {
        let top_k = params.top_k.unwrap_or(config.top_k) as usize;
        let threshold = config.cosine_threshold;
        let store = shared.store.borrow();
        let state = store.state();
        let (local_nodes, local_edges) = low_vector
            .map(|v| retrieve::local(state, &v, top_k, threshold))
            .unwrap_or_default();
        let (global_nodes, global_edges) = high_vector
            .map(|v| retrieve::global(state, &v, top_k, threshold))
            .unwrap_or_default();
        let nodes = retrieve::round_robin(vec![local_nodes, global_nodes], |n| n.entity_id.clone());
        let edges = retrieve::round_robin(vec![local_edges, global_edges], |e| {
            (e.source.clone(), e.target.clone())
        });
        let vector_chunks: Vec<Retrieved> = if mode == QueryMode::Mix {
            let ids: Vec<String> = state
                .chunk_vectors
                .search(&query_vector, chunk_top_k, threshold)
                .into_iter()
                .map(|(id, _)| id)
                .collect();
            retrieve::chunks_by_id(state, &ids)
        } else {
            Vec::new()
        };
        if nodes.is_empty() && edges.is_empty() && vector_chunks.is_empty() {
            return Ok(no_context(&keywords));
        }
        let (total_entities, total_relations) = (nodes.len() as u32, edges.len() as u32);

        // Token budgets: whole lines only.
        let max_entity = params.max_entity_tokens.unwrap_or(config.max_entity_tokens) as usize;
        let max_relation = params
            .max_relation_tokens
            .unwrap_or(config.max_relation_tokens) as usize;
        let mut entity_lines: Vec<String> = nodes.iter().map(entity_line).collect();
        let memo = &mut shared.token_memo.borrow_mut();
        let kept_entities = lines_within(memo, &entity_lines, max_entity);
        entity_lines.truncate(kept_entities);
        let nodes: Vec<_> = nodes.into_iter().take(kept_entities).collect();
        let mut relation_lines: Vec<String> = edges.iter().map(relation_line).collect();
        let kept_relations = lines_within(memo, &relation_lines, max_relation);
        relation_lines.truncate(kept_relations);
        let edges: Vec<_> = edges.into_iter().take(kept_relations).collect();

        // Chunks: the query's own hits (mix), then those of the entities, then those of
        // the relations not already chosen; round-robin, capped at chunk_top_k.
        let related = config.related_chunk_number as usize;
        let entity_sources: Vec<&str> = nodes.iter().map(|n| n.source_id.as_str()).collect();
        let entity_chunk_ids = retrieve::related_chunks(
            state,
            &entity_sources,
            &HashSet::new(),
            &query_vector,
            related,
        );
        let chosen: HashSet<String> = entity_chunk_ids.iter().cloned().collect();
        let relation_sources: Vec<&str> = edges.iter().map(|e| e.source_id.as_str()).collect();
        let relation_chunk_ids =
            retrieve::related_chunks(state, &relation_sources, &chosen, &query_vector, related);
        let merged = retrieve::round_robin(
            vec![
                vector_chunks,
                retrieve::chunks_by_id(state, &entity_chunk_ids),
                retrieve::chunks_by_id(state, &relation_chunk_ids),
            ],
            |c| c.id.clone(),
        );
        (
            nodes,
            edges,
            entity_lines,
            relation_lines,
            merged,
            total_entities,
            total_relations,
        )
    };
    let merged_count = merged.len() as u32;
    let capped = rerank(
        io,
        params,
        query,
        merged,
        config.min_rerank_score,
        chunk_top_k,
    )
    .await?;
    let empty_system = system_prompt(prompts::RAG_RESPONSE, params, "");
    let empty_context =
        context::kg_context(&entity_lines, &relation_lines, &[], &[], &HashMap::new());
    let max_total = params.max_total_tokens.unwrap_or(config.max_total_tokens) as usize;
    let kept = {
        let memo = &mut shared.token_memo.borrow_mut();
        let used = memo.count(&empty_system)
            + memo.count(&empty_context)
            + memo.count(query)
            + BUDGET_RESERVE;
        fit_chunks(memo, capped, max_total.saturating_sub(used))
    };
    let (references, ref_of) = reference_list(&kept, params.include_chunk_content);
    let context = context::kg_context(&entity_lines, &relation_lines, &kept, &references, &ref_of);
    let data = QueryData {
        entities: nodes
            .iter()
            .map(|n| EntityData {
                entity_name: n.entity_id.clone(),
                entity_type: n.entity_type.clone(),
                description: n.description.clone(),
                source_id: n.source_id.clone(),
                file_path: n.file_path.clone(),
                created_at: n.created_at,
            })
            .collect(),
        relationships: edges
            .iter()
            .map(|e| RelationData {
                src_id: e.source.clone(),
                tgt_id: e.target.clone(),
                description: e.description.clone(),
                keywords: e.keywords.clone(),
                weight: e.weight,
                source_id: e.source_id.clone(),
                file_path: e.file_path.clone(),
                created_at: e.created_at,
            })
            .collect(),
        high_level_keywords: keywords.high.clone(),
        low_level_keywords: keywords.low.clone(),
        processing_info: vec![
            ("total_entities_found".into(), total_entities),
            ("total_relations_found".into(), total_relations),
            ("entities_after_truncation".into(), nodes.len() as u32),
            ("relations_after_truncation".into(), edges.len() as u32),
            ("merged_chunks_count".into(), merged_count),
            ("final_chunks_count".into(), kept.len() as u32),
        ],
        ..empty_data()
    };
    let entity_text: Vec<String> = nodes
        .iter()
        .map(|n| format!("{}: {}", n.entity_id, n.description))
        .collect();
    let relation_text: Vec<String> = edges
        .iter()
        .map(|e| format!("{} -> {}: {}", e.source, e.target, e.description))
        .collect();
    let prepared = Prepared {
        template: prompts::RAG_RESPONSE,
        context,
        chunks: kept,
        references,
        ref_of,
        entity_lines: entity_text,
        relation_lines: relation_text,
        data,
    };
    answer(shared, io, params, query, prepared, &keywords).await
}

/// LightRAG's chunk post-processing: with reranking on, the reranker's scores order
/// the chunks and those below `MIN_RERANK_SCORE` are dropped; either way at most
/// `chunk_top_k` remain.
async fn rerank(
    io: &Io,
    params: &QueryParams,
    query: &str,
    chunks: Vec<Retrieved>,
    min_score: f32,
    chunk_top_k: usize,
) -> Result<Vec<Retrieved>, Error> {
    if !params.enable_rerank || chunks.is_empty() {
        return Ok(chunks.into_iter().take(chunk_top_k).collect());
    }
    let documents = chunks.iter().map(|c| c.content.clone()).collect();
    let scores = io
        .rerank(query, documents)
        .await
        .map_err(|e| Error::Internal(format!("reranking failed: {e}")))?;
    let mut scored: Vec<(f32, usize, Retrieved)> = scores
        .into_iter()
        .zip(chunks)
        .enumerate()
        .map(|(i, (score, chunk))| (score, i, chunk))
        .filter(|(score, _, _)| *score >= min_score)
        .collect();
    scored.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
    Ok(scored
        .into_iter()
        .take(chunk_top_k)
        .map(|(_, _, c)| c)
        .collect())
}

/// The common end of every retrieval mode: data, context, prompt, cached or fresh
/// answer.
async fn answer(
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
        && let Some(hit) = shared.store.borrow().state().cache.get(key)
    {
        return Ok(output(hit.value.clone(), false, references, None));
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
                value: text.clone(),
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_queries_are_refused_except_in_bypass() {
        assert!(validate("AI", QueryMode::Naive).is_err());
        assert!(validate("中文", QueryMode::Naive).is_ok());
        assert!(validate("AI", QueryMode::Bypass).is_ok());
        assert!(validate("", QueryMode::Bypass).is_err());
    }
}
