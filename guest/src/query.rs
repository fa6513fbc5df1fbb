//! Queries: `naive` retrieval over chunk vectors and `bypass`, with LightRAG's context
//! layout, token budget, references and answer cache.

use crate::chunking::python_strip;
use crate::engine::Shared;
use crate::executor::{Io, TaskResult};
use crate::prompts::{self, NO_CONTEXT_RESPONSE, USER_QUERY_SEPARATOR};
use crate::state::{CacheRecord, Op};
use crate::tokenizer;
use crate::util::{args_hash, unix_now};
use crate::wit::{
    ChunkData, CompletionRequest, ContextInput, EmbedKind, Error, Message, Passage, Purpose,
    QueryData, QueryMode, QueryOutput, QueryParams, RawInput, Reference, TaskOutput,
};
use std::collections::HashMap;
use std::rc::Rc;

/// Longest accepted query, in characters (LightRAG's limit).
const MAX_QUERY_CHARS: usize = 65_536;
/// Tokens LightRAG reserves beside the prompt when budgeting chunks.
const BUDGET_RESERVE: usize = 200;
/// Version tag of the answer-cache key scheme.
const CACHE_POLICY: &str = "query-answer-cache-v3";

/// Runs a query task.
pub async fn run(shared: Rc<Shared>, io: Io, params: QueryParams) -> TaskResult {
    let query = python_strip(&params.query).to_string();
    validate(&query, params.mode)?;
    let output = match params.mode {
        QueryMode::Bypass => bypass(&io, &params, &query).await?,
        QueryMode::Naive => naive(&shared, &io, &params, &query).await?,
        _ => {
            return Err(Error::BadInput(format!(
                "mode not supported yet: '{}'",
                mode_name(params.mode)
            )));
        }
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

/// A retrieved chunk on its way into the context.
#[derive(Clone)]
struct Retrieved {
    id: String,
    content: String,
    file_path: String,
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
        state
            .chunk_vectors
            .search(&vectors[0], chunk_top_k, config.cosine_threshold)
            .into_iter()
            .filter_map(|(id, _)| {
                state.chunks.get(&id).map(|c| Retrieved {
                    id,
                    content: c.content.clone(),
                    file_path: c.file_path.clone(),
                })
            })
            .collect()
    };
    let total_found = found.len() as u32;
    if found.is_empty() {
        return Ok(no_context());
    }

    let response_type = response_type(params);
    let user_prompt = user_prompt_value(params);
    let empty_system = prompts::fill(
        prompts::NAIVE_RESPONSE,
        &[
            ("response_type", &response_type),
            ("user_prompt", &user_prompt),
            ("content_data", ""),
        ],
    );
    let max_total = params.max_total_tokens.unwrap_or(config.max_total_tokens) as usize;
    let used = tokenizer::count(&empty_system) + tokenizer::count(query) + BUDGET_RESERVE;
    let kept = fit_chunks(found, max_total.saturating_sub(used));
    if kept.is_empty() {
        return Ok(no_context());
    }
    let (references, ref_of) = reference_list(&kept, params.include_chunk_content);
    let context = naive_context(&kept, &references, &ref_of);

    if params.data_only {
        let data = QueryData {
            chunks: kept
                .iter()
                .map(|c| ChunkData {
                    reference_id: ref_of.get(&c.file_path).cloned().unwrap_or_default(),
                    content: c.content.clone(),
                    file_path: c.file_path.clone(),
                    chunk_id: c.id.clone(),
                })
                .collect(),
            references: references.clone(),
            processing_info: vec![
                ("total_chunks_found".into(), total_found),
                ("final_chunks_count".into(), kept.len() as u32),
            ],
            ..empty_data()
        };
        return Ok(output(String::new(), false, references, Some(data)));
    }
    if params.only_need_context {
        return Ok(output(context, false, references, None));
    }
    let system = prompts::fill(
        prompts::NAIVE_RESPONSE,
        &[
            ("response_type", &response_type),
            ("user_prompt", &user_prompt),
            ("content_data", &context),
        ],
    );
    if params.only_need_prompt {
        return Ok(output(
            format!("{system}{USER_QUERY_SEPARATOR}{query}"),
            false,
            references,
            None,
        ));
    }

    let cache_key = answer_cache_key(shared, params, query, &context);
    if let Some(key) = &cache_key
        && let Some(hit) = shared.store.borrow().state().cache.get(key)
    {
        return Ok(output(hit.value.clone(), false, references, None));
    }
    let passages = kept
        .iter()
        .map(|c| Passage {
            reference_id: ref_of.get(&c.file_path).cloned().unwrap_or_default(),
            content: c.content.clone(),
        })
        .collect();
    let answer = io
        .complete(CompletionRequest {
            purpose: Purpose::Answer,
            messages: messages(Some(system), params, query),
            json_mode: false,
            stream: params.stream,
            input: RawInput::Context(ContextInput {
                query: query.to_string(),
                entities: Vec::new(),
                relations: Vec::new(),
                passages,
                references: references.clone(),
            }),
        })
        .await
        .map_err(llm_error)?;
    if let Some(key) = cache_key
        && !answer.trim().is_empty()
    {
        // The cache is an optimisation: it need not be synced before answering.
        shared.store.borrow_mut().commit_lazy(vec![Op::PutCache(
            key,
            CacheRecord {
                value: answer.clone(),
                cache_type: "query".into(),
                chunk_id: None,
                created_at: unix_now(),
            },
        )]);
    }
    Ok(output(answer, true, references, None))
}

/// The fixed reply when nothing relevant was found.
fn no_context() -> QueryOutput {
    QueryOutput {
        response: NO_CONTEXT_RESPONSE.into(),
        llm_generated: false,
        references: Vec::new(),
        data: Some(empty_data()),
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

/// One chunk as a context line: Python's `json.dumps` layout (`", "` and `": "`), so
/// token counts match LightRAG's.
fn chunk_line(reference_id: &str, content: &str) -> String {
    format!(
        "{{\"reference_id\": {}, \"content\": {}}}",
        json_string(reference_id),
        json_string(content)
    )
}

fn json_string(text: &str) -> String {
    serde_json::to_string(text).unwrap_or_else(|_| "\"\"".into())
}

/// The longest prefix of `chunks` whose context lines fit in `budget` tokens.
fn fit_chunks(chunks: Vec<Retrieved>, budget: usize) -> Vec<Retrieved> {
    let (_, ref_of) = reference_list(&chunks, false);
    let mut used = 0;
    let mut kept = Vec::with_capacity(chunks.len());
    for chunk in chunks {
        let reference = ref_of
            .get(&chunk.file_path)
            .map(String::as_str)
            .unwrap_or("");
        used += tokenizer::count(&chunk_line(reference, &chunk.content)) + 1;
        if used > budget {
            break;
        }
        kept.push(chunk);
    }
    kept
}

/// LightRAG's reference list: distinct file paths (not `unknown_source`) by how many
/// chunks cite them, then by first appearance; numbered from `"1"`.
fn reference_list(
    chunks: &[Retrieved],
    with_content: bool,
) -> (Vec<Reference>, HashMap<String, String>) {
    let mut order: Vec<(&str, usize, usize)> = Vec::new();
    for (position, chunk) in chunks.iter().enumerate() {
        let path = chunk.file_path.as_str();
        if path.is_empty() || path == "unknown_source" {
            continue;
        }
        match order.iter_mut().find(|(p, _, _)| *p == path) {
            Some(entry) => entry.1 += 1,
            None => order.push((path, 1, position)),
        }
    }
    order.sort_by(|a, b| b.1.cmp(&a.1).then(a.2.cmp(&b.2)));
    let ref_of: HashMap<String, String> = order
        .iter()
        .enumerate()
        .map(|(i, (path, _, _))| (path.to_string(), (i + 1).to_string()))
        .collect();
    let references = order
        .iter()
        .enumerate()
        .map(|(i, (path, _, _))| Reference {
            reference_id: (i + 1).to_string(),
            file_path: path.to_string(),
            content: with_content.then(|| {
                chunks
                    .iter()
                    .filter(|c| c.file_path == *path)
                    .map(|c| c.content.clone())
                    .collect()
            }),
        })
        .collect();
    (references, ref_of)
}

fn naive_context(
    chunks: &[Retrieved],
    references: &[Reference],
    ref_of: &HashMap<String, String>,
) -> String {
    let lines: Vec<String> = chunks
        .iter()
        .map(|c| {
            chunk_line(
                ref_of.get(&c.file_path).map(String::as_str).unwrap_or(""),
                &c.content,
            )
        })
        .collect();
    let refs: Vec<String> = references
        .iter()
        .map(|r| format!("[{}] {}", r.reference_id, r.file_path))
        .collect();
    prompts::fill(
        prompts::NAIVE_CONTEXT,
        &[
            ("chunks", &lines.join("\n")),
            ("references", &refs.join("\n")),
        ],
    )
}

/// The answer-cache key, or `None` when caching does not apply (disabled, or a
/// conversation is going on). Unlike LightRAG, the key also covers the retrieved
/// context, so adding or deleting documents never serves a stale answer.
fn answer_cache_key(
    shared: &Shared,
    params: &QueryParams,
    query: &str,
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
        &params.hl_keywords.join(", "),
        &params.ll_keywords.join(", "),
        params.user_prompt.as_deref().unwrap_or(""),
        &shared.config.llm_identity,
        context,
    ]);
    Some(format!("{mode}:query:{hash}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chunk(id: &str, path: &str, content: &str) -> Retrieved {
        Retrieved {
            id: id.into(),
            content: content.into(),
            file_path: path.into(),
        }
    }

    #[test]
    fn references_are_ordered_by_frequency_then_first_use() {
        let chunks = [
            chunk("1", "b.txt", "x"),
            chunk("2", "a.txt", "y"),
            chunk("3", "a.txt", "z"),
            chunk("4", "unknown_source", "w"),
        ];
        let (refs, map) = reference_list(&chunks, true);
        assert_eq!(refs.len(), 2);
        assert_eq!(
            (refs[0].file_path.as_str(), refs[0].reference_id.as_str()),
            ("a.txt", "1")
        );
        assert_eq!(
            refs[0].content.as_deref(),
            Some(&["y".to_string(), "z".to_string()][..])
        );
        assert_eq!(map["b.txt"], "2");
        assert!(!map.contains_key("unknown_source"));
    }

    #[test]
    fn chunk_lines_use_python_json_layout() {
        assert_eq!(
            chunk_line("1", "say \"hi\"\n"),
            r#"{"reference_id": "1", "content": "say \"hi\"\n"}"#
        );
    }

    #[test]
    fn the_budget_keeps_a_prefix_that_fits() {
        let chunks: Vec<Retrieved> = (0..10)
            .map(|i| chunk(&i.to_string(), "a.txt", &"word ".repeat(50)))
            .collect();
        let one = tokenizer::count(&chunk_line("1", &"word ".repeat(50))) + 1;
        assert_eq!(fit_chunks(chunks.clone(), one * 3).len(), 3);
        assert_eq!(fit_chunks(chunks.clone(), one * 3 - 1).len(), 2);
        assert_eq!(fit_chunks(chunks, 0).len(), 0);
    }

    #[test]
    fn short_queries_are_refused_except_in_bypass() {
        assert!(validate("AI", QueryMode::Naive).is_err());
        assert!(validate("中文", QueryMode::Naive).is_ok());
        assert!(validate("AI", QueryMode::Bypass).is_ok());
        assert!(validate("", QueryMode::Bypass).is_err());
    }
}
