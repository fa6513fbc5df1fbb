//! Query keywords: LightRAG's high-level (themes) and low-level (entities, terms)
//! keywords, from the caller or from the model, with LightRAG's parsing and cache.

use super::params::mode_name;
use crate::executor::Io;
use crate::payload::Text;
use crate::prompts::{self, fill};
use crate::shared::Shared;
use crate::state::CacheRecord;
use crate::util::{args_hash, unix_now};
use crate::wit::{CompletionRequest, Config, Error, Message, Purpose, QueryMode, RawInput};
use serde_json::Value;

/// High- and low-level keywords.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Keywords {
    pub high: Vec<String>,
    pub low: Vec<String>,
}

impl Keywords {
    /// Whether both lists are empty.
    pub fn is_empty(&self) -> bool {
        self.high.is_empty() && self.low.is_empty()
    }
}

/// The key the keywords of `query` in `mode` (its name) are cached under: the mode,
/// the query, the language and the model, but not the prompt's wording, so keywords
/// imported from a LightRAG cache are found too.
pub fn cache_key(config: &Config, mode: &str, query: &str) -> String {
    let hash = args_hash(&[
        mode,
        query,
        &config.summary_language,
        "keyword",
        &config.llm_identity,
    ]);
    format!("{mode}:keywords:{hash}")
}

/// The keywords of `query`: the caller's when any are given (then the model is not
/// asked), otherwise the model's, through the answer cache (`ENABLE_LLM_CACHE`).
pub async fn keywords(
    shared: &Shared,
    io: &Io,
    query: &str,
    mode: QueryMode,
    given: Keywords,
) -> Result<Keywords, Error> {
    if !given.is_empty() {
        return Ok(given);
    }
    let config = &shared.config;
    let key = cache_key(config, mode_name(mode), query);
    if config.enable_llm_cache
        && let Some(hit) = shared.cached(&key)
    {
        return Ok(parse(&hit));
    }
    let prompt = fill(
        prompts::KEYWORDS_EXTRACTION,
        &[("query", query), ("language", &config.summary_language)],
    );
    let answer = io
        .complete(CompletionRequest {
            purpose: Purpose::Keywords,
            messages: vec![Message {
                role: "user".into(),
                content: prompt,
            }],
            json_mode: true,
            stream: false,
            input: RawInput::Query(query.to_string()),
        })
        .await
        .map_err(|e| Error::Internal(format!("keyword extraction failed: {e}")))?;
    let found = parse(&answer);
    if config.enable_llm_cache && !found.is_empty() {
        let stored = serde_json::json!({
            "high_level_keywords": found.high,
            "low_level_keywords": found.low,
        });
        shared.cache_query_time(
            key,
            CacheRecord {
                value: Text::new(stored.to_string()),
                cache_type: "keywords".into(),
                chunk_id: None,
                created_at: unix_now(),
            },
        );
    }
    Ok(found)
}

/// Parses a keyword answer leniently: reasoning blocks and code fences are removed,
/// the first JSON object is taken, and each field may be a list or a string of
/// comma-, semicolon- or newline-separated terms. Anything unreadable is empty.
pub fn parse(answer: &str) -> Keywords {
    let text = match answer.rfind("</think>") {
        Some(end) => &answer[end + "</think>".len()..],
        None => answer,
    };
    let object = match (text.find('{'), text.rfind('}')) {
        (Some(start), Some(end)) if start < end => &text[start..=end],
        _ => return Keywords::default(),
    };
    let Ok(value) = serde_json::from_str::<Value>(object) else {
        return Keywords::default();
    };
    Keywords {
        high: terms(&value["high_level_keywords"]),
        low: terms(&value["low_level_keywords"]),
    }
}

fn terms(value: &Value) -> Vec<String> {
    let raw: Vec<String> = match value {
        Value::Array(items) => items
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_string)
            .collect(),
        Value::String(text) => text.split(['\n', ',', ';']).map(str::to_string).collect(),
        _ => Vec::new(),
    };
    let mut out: Vec<String> = Vec::new();
    for term in raw {
        let term = term.trim().to_string();
        if !term.is_empty() && !out.contains(&term) {
            out.push(term);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_in_every_shape_parse() {
        let plain = r#"{"high_level_keywords": ["science", "history"], "low_level_keywords": ["Marie Curie"]}"#;
        assert_eq!(parse(plain).high, ["science", "history"]);
        assert_eq!(parse(plain).low, ["Marie Curie"]);
        let fenced = format!("<think>hmm</think>\n```json\n{plain}\n```");
        assert_eq!(parse(&fenced), parse(plain));
        let strings = r#"{"high_level_keywords": "a, b; c\nd", "low_level_keywords": ""}"#;
        assert_eq!(parse(strings).high, ["a", "b", "c", "d"]);
        assert!(parse(strings).low.is_empty());
        assert!(parse("no json here").is_empty());
        assert!(parse(r#"{"high_level_keywords": [1, null]}"#).is_empty());
    }
}
