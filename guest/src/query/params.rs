//! What a query's parameters mean: LightRAG's checks on the query, the names of the
//! modes, and the answer's requested form.

use crate::wit::{Error, QueryMode, QueryParams};

/// Longest accepted query, in characters (LightRAG's limit).
const MAX_QUERY_CHARS: usize = 65_536;

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

/// The answer's requested form (LightRAG's `response_type`), `Multiple Paragraphs`
/// when none is given.
pub fn response_type(params: &QueryParams) -> String {
    let trimmed = params.response_type.trim();
    if trimmed.is_empty() {
        "Multiple Paragraphs".into()
    } else {
        trimmed.to_string()
    }
}

/// LightRAG's `{user_prompt}` value: `n/a`, or the instructions after a blank line.
pub fn user_prompt_value(params: &QueryParams) -> String {
    match params.user_prompt.as_deref().map(str::trim) {
        Some(text) if !text.is_empty() => format!("\n\n{text}"),
        _ => "n/a".into(),
    }
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
