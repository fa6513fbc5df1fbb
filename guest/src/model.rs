//! Asking the language model during ingestion, through the extraction cache.

use crate::executor::Io;
use crate::payload::Text;
use crate::shared::Shared;
use crate::state::{CacheRecord, Op};
use crate::util::{args_hash, unix_now};
use crate::wit::{CompletionRequest, Error, Message};

/// The key an answer to `messages` is cached under: it covers every message and the
/// model's identity, so another model never reuses an answer.
pub fn cache_key(
    shared: &Shared,
    cache_type: &str,
    messages: &[Message],
    json_mode: bool,
) -> String {
    let messages: Vec<String> = messages
        .iter()
        .map(|m| format!("{}\u{1f}{}", m.role, m.content))
        .collect();
    let hash = args_hash(&[
        &messages.join("\u{1e}"),
        &json_mode.to_string(),
        &shared.config.llm_identity,
    ]);
    format!("default:{cache_type}:{hash}")
}

/// A completion through the extraction cache (`ENABLE_LLM_CACHE_FOR_EXTRACT`):
/// returns the answer and the cache key it is stored under ([`cache_key`]).
pub async fn cached_complete(
    shared: &Shared,
    io: &Io,
    cache_type: &str,
    chunk_id: Option<&str>,
    request: CompletionRequest,
) -> Result<(String, String), Error> {
    let key = cache_key(shared, cache_type, &request.messages, request.json_mode);
    let use_cache = shared.config.enable_llm_cache_for_extract;
    if use_cache && let Some(hit) = shared.cached(&key) {
        return Ok((hit, key));
    }
    let text = io
        .complete(request)
        .await
        .map_err(|e| Error::Internal(format!("the language model call failed: {e}")))?;
    if use_cache {
        // Lazily durable: the document's own commit syncs it; a crash before that
        // only costs this call again.
        shared.store.borrow_mut().commit_lazy(vec![Op::PutCache(
            key.clone(),
            CacheRecord {
                value: Text::new(text.clone()),
                cache_type: cache_type.into(),
                chunk_id: chunk_id.map(str::to_string),
                created_at: unix_now(),
            },
        )]);
    }
    Ok((text, key))
}
