//! Queries in every LightRAG mode: retrieval, the context within token budgets,
//! references, the answer (streamed or not) and the answer cache.
//!
//! * `params` — checks on the query, mode names, the answer's requested form.
//! * `keywords` — high/low-level keywords, from the caller or the model.
//! * `retrieve` — what each mode retrieves from the graph and the vectors.
//! * `context` — context lines, budgets, references.
//! * `answer` — the answer's prompt, the answer cache and the model call.
//!
//! This file holds the modes themselves, from the query to what the answer is built
//! from.

mod answer;
mod context;
mod keywords;
mod params;
mod retrieve;

pub use keywords::cache_key as keywords_cache_key;
pub use params::{mode_name, validate};

use crate::chunking::python_strip;
use crate::executor::{Io, TaskResult};
use crate::graph::{Edge, Node};
use crate::payload::BlobSource;
use crate::prompts;
use crate::shared::Shared;
use crate::state::State;
use crate::token_memo::TokenMemo;
use crate::wit::{
    CompletionRequest, EmbedKind, EntityData, Error, Purpose, QueryData, QueryMode, QueryOutput,
    QueryParams, RawInput, RelationData, TaskOutput,
};
use answer::{
    Prepared, answer, empty_data, llm_error, messages, no_context, output, system_prompt,
};
use context::{Retrieved, entity_line, fit_chunks, lines_fitting, reference_list, relation_line};
use keywords::Keywords;
use std::collections::HashMap;
use std::rc::Rc;

/// Tokens LightRAG reserves beside the prompt when budgeting chunks.
const BUDGET_RESERVE: usize = 200;
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
            .search(
                &vectors[0],
                chunk_top_k,
                config.cosine_threshold,
                store.blobs(),
            )
            .into_iter()
            .map(|(id, _)| id)
            .collect();
        retrieve::chunks_by_id(state, store.blobs(), &ids)?
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
    let retrieved = {
        let top_k = params.top_k.unwrap_or(config.top_k) as usize;
        let store = shared.store.borrow();
        let state = store.state();
        let memo = &mut shared.token_memo.borrow_mut();
        let blobs = store.blobs();
        let threshold = config.cosine_threshold;
        let found = Found {
            local: low_vector.map(|v| retrieve::local(state, blobs, &v, top_k, threshold)),
            global: high_vector.map(|v| retrieve::global(state, blobs, &v, top_k, threshold)),
            query_vector: &query_vector,
        };
        select(shared, state, blobs, memo, params, found)
    };
    let Some(selected) = retrieved? else {
        return Ok(no_context(&keywords));
    };
    let merged_count = selected.merged_count;
    let capped = rerank(
        io,
        params,
        query,
        selected.chunks,
        config.min_rerank_score,
        chunk_top_k,
    )
    .await?;
    let empty_system = system_prompt(prompts::RAG_RESPONSE, params, "");
    let (entity_lines, relation_lines) = (&selected.entity_lines, &selected.relation_lines);
    let empty_context =
        context::kg_context(entity_lines, relation_lines, &[], &[], &HashMap::new());
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
    let context = context::kg_context(entity_lines, relation_lines, &kept, &references, &ref_of);
    let mut data = selected.data;
    data.processing_info.extend([
        ("merged_chunks_count".into(), merged_count),
        ("final_chunks_count".into(), kept.len() as u32),
    ]);
    data.high_level_keywords = keywords.high.clone();
    data.low_level_keywords = keywords.low.clone();
    let prepared = Prepared {
        template: prompts::RAG_RESPONSE,
        context,
        chunks: kept,
        references,
        ref_of,
        entity_lines: selected.entity_text,
        relation_lines: selected.relation_text,
        data,
    };
    answer(shared, io, params, query, prepared, &keywords).await
}

/// What the graph's vectors found for a query, borrowed from the state.
struct Found<'s, 'q> {
    local: Option<(Vec<&'s Node>, Vec<&'s Edge>)>,
    global: Option<(Vec<&'s Node>, Vec<&'s Edge>)>,
    query_vector: &'q [f32],
}

/// What a graph query keeps of what it found, owned (it outlives the state's borrow).
struct Selected {
    /// Entity and relation context lines within their token budgets.
    entity_lines: Vec<String>,
    relation_lines: Vec<String>,
    /// The same entities and relations for the answer's structured input.
    entity_text: Vec<String>,
    relation_text: Vec<String>,
    /// Candidate chunks, best first, before reranking and the total budget.
    chunks: Vec<Retrieved>,
    /// How many candidate chunks there were before any cap.
    merged_count: u32,
    /// The structured result: filled only for `data_only` queries, counts always.
    data: QueryData,
}

/// From what was found to what the context keeps: the entities and relations whose
/// lines fit their budgets, then their chunks. Only kept items are copied out of the
/// state. `None` when nothing at all was found.
fn select(
    shared: &Shared,
    state: &State,
    blobs: &dyn BlobSource,
    memo: &mut TokenMemo,
    params: &QueryParams,
    found: Found<'_, '_>,
) -> Result<Option<Selected>, Error> {
    let config = &shared.config;
    let mode = params.mode;
    let chunk_top_k = params.chunk_top_k.unwrap_or(config.chunk_top_k) as usize;
    let (local_nodes, local_edges) = found.local.unwrap_or_default();
    let (global_nodes, global_edges) = found.global.unwrap_or_default();
    let nodes = retrieve::round_robin(vec![local_nodes, global_nodes], |n| n.entity_id.as_str());
    let edges = retrieve::round_robin(vec![local_edges, global_edges], |e| {
        (e.source.as_str(), e.target.as_str())
    });
    // Chunks are handled as rows of the chunk index until their text is read.
    let vector_chunk_rows: Vec<usize> = if mode == QueryMode::Mix {
        state
            .chunk_vectors
            .search_rows(
                found.query_vector,
                chunk_top_k,
                config.cosine_threshold,
                blobs,
            )
            .into_iter()
            .map(|(row, _)| row)
            .collect()
    } else {
        Vec::new()
    };
    if nodes.is_empty() && edges.is_empty() && vector_chunk_rows.is_empty() {
        return Ok(None);
    }
    let (total_entities, total_relations) = (nodes.len() as u32, edges.len() as u32);

    // Token budgets: whole lines only.
    let max_entity = params.max_entity_tokens.unwrap_or(config.max_entity_tokens) as usize;
    let max_relation = params
        .max_relation_tokens
        .unwrap_or(config.max_relation_tokens) as usize;
    let entity_lines = lines_fitting(memo, &nodes, |n| entity_line(n), max_entity);
    let nodes = &nodes[..entity_lines.len()];
    let relation_lines = lines_fitting(memo, &edges, |e| relation_line(e), max_relation);
    let edges = &edges[..relation_lines.len()];

    // Chunks: the query's own hits (mix), then those of the entities, then those of
    // the relations not already chosen; round-robin. Without reranking only the
    // first chunk_top_k can be used, so only their text is copied.
    let related = config.related_chunk_number as usize;
    let mut scores = retrieve::ChunkScores::new(state, found.query_vector);
    let source_rows = &mut shared.source_rows.borrow_mut();
    let entity_sources: Vec<&str> = nodes.iter().map(|n| n.source_id.as_str()).collect();
    let entity_rows =
        retrieve::related_chunks(&mut scores, source_rows, &entity_sources, &[], related);
    let relation_sources: Vec<&str> = edges.iter().map(|e| e.source_id.as_str()).collect();
    let relation_rows = retrieve::related_chunks(
        &mut scores,
        source_rows,
        &relation_sources,
        &entity_rows,
        related,
    );
    let mut chunk_rows = retrieve::round_robin(
        vec![vector_chunk_rows, entity_rows, relation_rows],
        |&row| row,
    );
    let merged_count = chunk_rows.len() as u32;
    if !params.enable_rerank {
        chunk_rows.truncate(chunk_top_k);
    }
    let chunk_ids: Vec<String> = chunk_rows
        .into_iter()
        .map(|row| scores.id(row).to_string())
        .collect();

    let mut data = QueryData {
        processing_info: vec![
            ("total_entities_found".into(), total_entities),
            ("total_relations_found".into(), total_relations),
            ("entities_after_truncation".into(), nodes.len() as u32),
            ("relations_after_truncation".into(), edges.len() as u32),
        ],
        ..empty_data()
    };
    if params.data_only {
        data.entities = nodes.iter().map(|n| entity_data(n)).collect();
        data.relationships = edges.iter().map(|e| relation_data(e)).collect();
    }
    Ok(Some(Selected {
        merged_count,
        entity_text: nodes
            .iter()
            .map(|n| format!("{}: {}", n.entity_id, n.description))
            .collect(),
        relation_text: edges
            .iter()
            .map(|e| format!("{} -> {}: {}", e.source, e.target, e.description))
            .collect(),
        entity_lines,
        relation_lines,
        chunks: retrieve::chunks_by_id(state, blobs, &chunk_ids)?,
        data,
    }))
}

fn entity_data(n: &Node) -> EntityData {
    EntityData {
        entity_name: n.entity_id.clone(),
        entity_type: n.entity_type.clone(),
        description: n.description.clone(),
        source_id: n.source_id.clone(),
        file_path: n.file_path.clone(),
        created_at: n.created_at,
    }
}

fn relation_data(e: &Edge) -> RelationData {
    RelationData {
        src_id: e.source.clone(),
        tgt_id: e.target.clone(),
        description: e.description.clone(),
        keywords: e.keywords.clone(),
        weight: e.weight,
        source_id: e.source_id.clone(),
        file_path: e.file_path.clone(),
        created_at: e.created_at,
    }
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
