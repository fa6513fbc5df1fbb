//! Entity and relation extraction from one chunk: the extraction prompt, gleaning,
//! and the extraction cache. The model's answers are parsed by [`crate::records`].

use crate::executor::Io;
use crate::model::{cache_key, cached_complete};
use crate::progress::progress;
use crate::prompts::{self, fill};
use crate::records::{Extraction, merge_gleaning, parse};
use crate::shared::Shared;
use crate::tokenizer;
use crate::wit::{CompletionRequest, Error, Message, Purpose, RawInput};

/// Most records asked for per chunk (LightRAG's `MAX_EXTRACTION_RECORDS`).
const MAX_RECORDS: u32 = 100;
/// Most entity records asked for per chunk (`MAX_EXTRACTION_ENTITIES`).
const MAX_ENTITY_RECORDS: u32 = 40;
/// No gleaning pass when the conversation would exceed this many tokens
/// (`MAX_EXTRACT_INPUT_TOKENS`).
const MAX_EXTRACT_INPUT_TOKENS: usize = 20_480;

/// A chunk's extraction and the cache keys of the answers it came from, in order
/// (first pass, then gleaning passes), so deletion can rebuild it without a model.
#[derive(Clone, Debug)]
pub struct ChunkExtraction {
    pub extraction: Extraction,
    pub cache_keys: Vec<String>,
}

fn message(role: &str, content: String) -> Message {
    Message {
        role: role.into(),
        content,
    }
}

/// The first-pass messages for `content`.
fn first_messages(shared: &Shared, content: &str) -> Vec<Message> {
    let config = &shared.config;
    let system = fill(
        prompts::EXTRACTION_SYSTEM,
        &[
            ("entity_types", &config.entity_types.join(", ")),
            ("language", &config.summary_language),
            ("max_total_records", &MAX_RECORDS.to_string()),
            ("max_entity_records", &MAX_ENTITY_RECORDS.to_string()),
        ],
    );
    let user = fill(
        prompts::EXTRACTION_USER,
        &[
            ("input_text", content),
            ("language", &config.summary_language),
            ("max_total_records", &MAX_RECORDS.to_string()),
        ],
    );
    vec![message("system", system), message("user", user)]
}

/// Extracts entities and relations from one chunk, with `MAX_GLEANING` further
/// passes. A gleaned record replaces the first pass's only when its description is
/// longer (LightRAG's rule); new names are added.
pub async fn extract_chunk(
    shared: &Shared,
    io: &Io,
    chunk_id: &str,
    content: &str,
    file_path: &str,
    order: u32,
    total: usize,
) -> Result<ChunkExtraction, Error> {
    let mut messages = first_messages(shared, content);
    let request = |purpose, messages: Vec<Message>| CompletionRequest {
        purpose,
        messages,
        json_mode: false,
        stream: false,
        input: RawInput::Chunk(content.to_string()),
    };
    let (answer, key) = cached_complete(
        shared,
        io,
        "extract",
        Some(chunk_id),
        request(Purpose::Extract, messages.clone()),
    )
    .await?;
    let mut extraction = parse(&answer);
    let mut cache_keys = vec![key];
    let mut last_answer = answer;
    for _ in 0..shared.config.max_gleaning {
        messages.push(message("assistant", last_answer.clone()));
        messages.push(message("user", prompts::EXTRACTION_CONTINUE.to_string()));
        // The system prompt is the same for every chunk: its count is remembered.
        let size: usize = {
            let mut memo = shared.token_memo.borrow_mut();
            messages
                .iter()
                .map(|m| match m.role.as_str() {
                    "system" => memo.count(&m.content),
                    _ => tokenizer::count(&m.content),
                })
                .sum()
        };
        if size > MAX_EXTRACT_INPUT_TOKENS {
            messages.truncate(messages.len() - 2);
            break;
        }
        let (answer, key) = cached_complete(
            shared,
            io,
            "extract",
            Some(chunk_id),
            request(Purpose::Glean, messages.clone()),
        )
        .await?;
        extraction = merge_gleaning(extraction, parse(&answer));
        cache_keys.push(key);
        last_answer = answer;
    }
    progress(
        shared,
        format!(
            "Chunk {} of {total} extracted {} Ent + {} Rel {chunk_id} ({file_path})",
            order + 1,
            extraction.entities.len(),
            extraction.relations.len()
        ),
    );
    Ok(ChunkExtraction {
        extraction,
        cache_keys,
    })
}

/// The cache keys [`extract_chunk`] looks the answers of its passes over `content` up
/// under, given those answers (the first pass's, then each gleaning pass's): the
/// key of a gleaning pass covers the answers before it. An import stores answers
/// obtained elsewhere under these keys, so that extracting the same chunk again
/// finds them, and lists them with the chunk for its rebuild on deletion.
pub fn cache_keys_for(shared: &Shared, content: &str, answers: &[String]) -> Vec<String> {
    let mut messages = first_messages(shared, content);
    let mut keys = Vec::with_capacity(answers.len());
    for answer in answers {
        keys.push(cache_key(shared, "extract", &messages, false));
        messages.push(message("assistant", answer.clone()));
        messages.push(message("user", prompts::EXTRACTION_CONTINUE.to_string()));
    }
    keys
}

/// A chunk's extraction rebuilt from the cached answers listed in `cache_keys`; when
/// any is missing (cache cleared or disabled), the chunk is extracted again.
pub async fn extraction_of(
    shared: &Shared,
    io: &Io,
    chunk_id: &str,
    content: &str,
    file_path: &str,
    cache_keys: &[String],
) -> Result<ChunkExtraction, Error> {
    let cached: Option<Vec<String>> = cache_keys.iter().map(|key| shared.cached(key)).collect();
    match cached {
        Some(answers) if !answers.is_empty() => {
            let mut answers = answers.iter();
            let mut extraction = answers.next().map(|a| parse(a)).unwrap_or_default();
            for gleaned in answers {
                extraction = merge_gleaning(extraction, parse(gleaned));
            }
            Ok(ChunkExtraction {
                extraction,
                cache_keys: cache_keys.to_vec(),
            })
        }
        _ => extract_chunk(shared, io, chunk_id, content, file_path, 0, 1).await,
    }
}
