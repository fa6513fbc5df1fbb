//! What the mock answers: extraction records, keywords, summaries, answers and
//! embeddings, all derived from the request.

use super::state::MockState;
use serde_json::{Value, json};
use std::sync::atomic::Ordering;

/// Which kind of request a conversation is, by the markers of the engine's prompts.
pub fn purpose_of(messages: &[(String, String)]) -> &'static str {
    let last_user = messages
        .iter()
        .rev()
        .find(|(r, _)| r == "user")
        .map(|(_, c)| c.as_str())
        .unwrap_or("");
    if last_user.contains("---Input Text---") {
        "extract"
    } else if messages
        .iter()
        .any(|(r, c)| r == "user" && c.contains("---Input Text---"))
    {
        "glean"
    } else if last_user.contains("Description List:") {
        "summary"
    } else if last_user.contains("---Query---") && last_user.contains("high_level_keywords") {
        "keywords"
    } else if messages
        .iter()
        .any(|(r, c)| r == "system" && c.contains("---Context---"))
    {
        "answer"
    } else {
        "other"
    }
}

/// Words that start a sentence without being names.
const FUNCTION_WORDS: &[&str] = &[
    "The", "A", "An", "In", "On", "At", "During", "When", "After", "Before", "While", "It", "This",
    "That", "Its", "Their", "His", "Her", "And", "But", "Of", "With", "From", "By", "Who", "What",
    "Which", "Where", "How", "Why", "Tell", "Did", "Does", "Is", "Are", "Was",
];

/// Runs of capitalised words, in order of first appearance.
pub fn capitalised_runs(sentence: &str) -> Vec<String> {
    let mut runs: Vec<String> = Vec::new();
    let mut current: Vec<&str> = Vec::new();
    let words: Vec<&str> = sentence
        .split(|c: char| c.is_whitespace() || ",;:()\"".contains(c))
        .filter(|w| !w.is_empty())
        .collect();
    for word in words {
        let word = word
            .trim_end_matches(['.', '!', '?', '\''])
            .trim_end_matches("'s");
        let capital = word.chars().next().is_some_and(char::is_uppercase);
        if capital && !(current.is_empty() && FUNCTION_WORDS.contains(&word)) {
            current.push(word);
        } else if !current.is_empty() {
            runs.push(current.join(" "));
            current.clear();
        }
    }
    if !current.is_empty() {
        runs.push(current.join(" "));
    }
    let mut unique = Vec::new();
    for run in runs {
        if !unique.contains(&run) {
            unique.push(run);
        }
    }
    unique
}

fn entity_type(name: &str) -> &'static str {
    let last = name.rsplit(' ').next().unwrap_or("");
    match last {
        "Inc" | "Corp" | "Company" | "University" | "Institute" | "Agency" | "Trust"
        | "Society" | "Observatory" => "Organization",
        "City" | "River" | "Lake" | "Mountain" | "Island" | "Street" | "Harbour" => "Location",
        "Prize" | "Festival" | "War" | "Summit" => "Event",
        _ => "Person",
    }
}

/// LightRAG extraction records for `text`.
pub fn extraction_for(text: &str) -> String {
    let sentences: Vec<&str> = text
        .split_inclusive(['.', '!', '?'])
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .collect();
    let mut entities: Vec<(String, String)> = Vec::new();
    let mut relations: Vec<String> = Vec::new();
    for sentence in &sentences {
        let names = capitalised_runs(sentence);
        for name in &names {
            if !entities.iter().any(|(n, _)| n == name) {
                entities.push((name.clone(), sentence.to_string()));
            }
        }
        for (i, a) in names.iter().enumerate() {
            for b in &names[i + 1..] {
                relations.push(format!(
                    "relation<|#|>{a}<|#|>{b}<|#|>co-occurrence, context<|#|>{sentence}"
                ));
            }
        }
    }
    let mut out: Vec<String> = entities
        .iter()
        .map(|(name, sentence)| {
            format!("entity<|#|>{name}<|#|>{}<|#|>{sentence}", entity_type(name))
        })
        .collect();
    out.extend(relations);
    out.push("<|COMPLETE|>".into());
    out.join("\n")
}

/// Keyword JSON for a query: capitalised runs are low-level keywords, other words
/// of five letters or more are high-level ones.
pub fn keywords_for(query: &str) -> String {
    let low = capitalised_runs(query);
    let high: Vec<String> = query
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| w.len() >= 5 && w.chars().next().is_some_and(char::is_lowercase))
        .map(str::to_string)
        .collect();
    json!({"high_level_keywords": high, "low_level_keywords": low}).to_string()
}

/// The mock's answer to a conversation.
pub fn answer_for(state: &MockState, messages: &[(String, String)]) -> String {
    match purpose_of(messages) {
        "extract" => {
            let user = messages
                .iter()
                .rev()
                .find(|(r, _)| r == "user")
                .map(|(_, c)| c.as_str())
                .unwrap_or("");
            let after = user.split("---Input Text---").nth(1).unwrap_or("");
            let text = after.split("```").nth(1).unwrap_or("");
            let bloated = state.bloated_extraction.lock().unwrap().clone();
            if let Some((marker, bytes)) = bloated.filter(|(m, _)| text.contains(m.as_str())) {
                let _ = marker;
                return format!(
                    "entity<|#|>Bloat<|#|>concept<|#|>{}\n<|COMPLETE|>",
                    "x".repeat(bytes)
                );
            }
            return extraction_for(text.trim());
        }
        "glean" => {
            return state
                .glean_answer
                .lock()
                .unwrap()
                .clone()
                .unwrap_or_else(|| "<|COMPLETE|>".into());
        }
        "keywords" => {
            let user = messages
                .iter()
                .rev()
                .find(|(r, _)| r == "user")
                .map(|(_, c)| c.as_str())
                .unwrap_or("");
            let query = user
                .split("---Query---")
                .nth(1)
                .unwrap_or("")
                .split("---Output---")
                .next()
                .unwrap_or("")
                .trim();
            return keywords_for(query);
        }
        "summary" => {
            let user = messages
                .iter()
                .rev()
                .find(|(r, _)| r == "user")
                .map(|(_, c)| c.as_str())
                .unwrap_or("");
            let list = user.split("Description List:").nth(1).unwrap_or("");
            let fragments: Vec<String> = list
                .lines()
                .filter_map(|l| serde_json::from_str::<Value>(l.trim()).ok())
                .filter_map(|v| v["Description"].as_str().map(str::to_string))
                .collect();
            return format!(
                "SUMMARY({}): {}",
                fragments.len(),
                fragments.first().cloned().unwrap_or_default()
            );
        }
        _ => {}
    }
    let text = answer_text(messages);
    if state.short_answers.load(Ordering::Relaxed) {
        return text.chars().take(400).collect();
    }
    text
}

/// The reply to an answer request or any other conversation.
fn answer_text(messages: &[(String, String)]) -> String {
    let last_user = messages
        .iter()
        .rev()
        .find(|(role, _)| role == "user")
        .map(|(_, c)| c.as_str())
        .unwrap_or("");
    let system = messages
        .iter()
        .find(|(role, _)| role == "system")
        .map(|(_, c)| c.as_str())
        .unwrap_or("");
    match system.split_once("---Context---") {
        Some((_, context)) => format!("MOCK ANSWER to: {last_user}\n{}", context.trim()),
        None => format!("MOCK REPLY to: {last_user}"),
    }
}

/// Hashed bag of words (FNV-1a, signed, sublinear) in `dim - 1` components plus a
/// bias component, normalised: `cos(a, b) = 0.4 + 0.6 · cos_words(a, b)`.
pub fn embed(text: &str, dim: usize) -> Vec<f32> {
    let mut words = vec![0f32; dim - 1];
    for word in text
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
    {
        let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
        for byte in word.bytes() {
            hash ^= u64::from(byte);
            hash = hash.wrapping_mul(0x0100_0000_01b3);
        }
        let sign = if hash >> 63 == 0 { 1.0 } else { -1.0 };
        words[(hash % (dim as u64 - 1)) as usize] += sign;
    }
    for v in &mut words {
        *v = v.signum() * (1.0 + v.abs()).ln();
    }
    let norm = words.iter().map(|v| v * v).sum::<f32>().sqrt();
    let scale = if norm > 0.0 {
        0.6f32.sqrt() / norm
    } else {
        0.0
    };
    let mut vector: Vec<f32> = words.iter().map(|v| v * scale).collect();
    vector.push(if norm > 0.0 { 0.4f32.sqrt() } else { 1.0 });
    vector
}
