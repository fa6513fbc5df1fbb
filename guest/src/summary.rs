//! Descriptions of merged entities and relations: LightRAG's choice between keeping,
//! joining and summarising the fragments, with map-reduce for long sets.

use crate::executor::Io;
use crate::ids::SEP;
use crate::model::cached_complete;
use crate::prompts::{self, fill};
use crate::shared::Shared;
use crate::wit::{CompletionRequest, DescriptionInput, Error, Message, Purpose, RawInput};
use futures_util::future::try_join_all;

/// LightRAG's summary decision: one fragment stays as it is; a few short ones are
/// joined with `<SEP>`; `FORCE_LLM_SUMMARY_ON_MERGE` fragments or more, or
/// `SUMMARY_MAX_TOKENS` tokens or more, get one model summary; more than
/// `SUMMARY_CONTEXT_SIZE` tokens are summarised in groups, repeatedly (map-reduce).
pub async fn summarize(
    shared: &Shared,
    io: &Io,
    kind: &'static str,
    name: String,
    mut fragments: Vec<String>,
) -> Result<String, Error> {
    let name = name.as_str();
    let config = &shared.config;
    let context_size = config.summary_context_size.max(1) as usize;
    loop {
        if fragments.len() <= 1 {
            return Ok(fragments.pop().unwrap_or_default());
        }
        // An entity's fragments are counted again at each of its merges: remembered.
        let tokens: Vec<usize> = {
            let mut memo = shared.token_memo.borrow_mut();
            fragments.iter().map(|f| memo.count(f)).collect()
        };
        let total: usize = tokens.iter().sum();
        if total <= context_size || fragments.len() <= 2 {
            if fragments.len() < config.force_llm_summary_on_merge as usize
                && total < config.summary_max_tokens as usize
            {
                return Ok(fragments.join(SEP));
            }
            return summarize_once(shared, io, kind, name, &fragments).await;
        }
        // Map: pack fragments into groups that fit one request; every group of two or
        // more becomes one summary. At least one group has two items, so each round
        // shrinks the list.
        let mut groups: Vec<Vec<String>> = Vec::new();
        let mut current: Vec<String> = Vec::new();
        let mut current_tokens = 0;
        for (fragment, count) in fragments.into_iter().zip(tokens) {
            if !current.is_empty() && current_tokens + count > context_size {
                groups.push(std::mem::take(&mut current));
                current_tokens = 0;
            }
            current_tokens += count;
            current.push(fragment);
        }
        groups.push(current);
        if groups.iter().all(|g| g.len() < 2) && groups.len() >= 2 {
            let second = groups.remove(1);
            groups[0].extend(second);
        }
        fragments = try_join_all(groups.into_iter().map(|group| async move {
            if group.len() == 1 {
                Ok(group.into_iter().next().unwrap_or_default())
            } else {
                summarize_once(shared, io, kind, name, &group).await
            }
        }))
        .await?;
    }
}

/// One model summary of `fragments`, through the extraction cache.
async fn summarize_once(
    shared: &Shared,
    io: &Io,
    kind: &'static str,
    name: &str,
    fragments: &[String],
) -> Result<String, Error> {
    let config = &shared.config;
    let list: Vec<String> = fragments
        .iter()
        .map(|f| serde_json::json!({ "Description": f }).to_string())
        .collect();
    let prompt = fill(
        prompts::SUMMARIZE_DESCRIPTIONS,
        &[
            ("description_type", kind),
            ("description_name", name),
            ("description_list", &list.join("\n")),
            (
                "summary_length",
                &config.summary_length_recommended.to_string(),
            ),
            ("language", &config.summary_language),
        ],
    );
    let request = CompletionRequest {
        purpose: Purpose::Summary,
        messages: vec![Message {
            role: "user".into(),
            content: prompt,
        }],
        json_mode: false,
        stream: false,
        input: RawInput::Descriptions(DescriptionInput {
            kind: kind.into(),
            name: name.into(),
            fragments: fragments.to_vec(),
        }),
    };
    let (text, _) = cached_complete(shared, io, "summary", None, request).await?;
    Ok(text.trim().to_string())
}
