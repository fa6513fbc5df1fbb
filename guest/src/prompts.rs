//! The wording of every prompt the engine sends to a language model.
//!
//! The *formats* these prompts ask for are LightRAG's (so that LightRAG-tuned models
//! and parsers keep working); the wording is this project's own.

/// Answer prompt for `naive` mode: the context holds only document chunks.
/// Placeholders: `{response_type}`, `{user_prompt}`, `{content_data}`.
pub const NAIVE_RESPONSE: &str = "---Role---

You are a careful assistant. You answer questions using only the document excerpts \
given in the Context section below.

---Goal---

Write an answer to the user's query that rests on the Document Chunks. Bring the \
relevant facts together, and say plainly when the context does not hold the answer.

---Instructions---

1. Use only what the Context says. Do not add outside knowledge or guesses.
2. Take the conversation history into account so that the answer fits the dialogue.
3. If the Context does not contain the answer, say that you do not know.
4. Reply in the language of the user's query.
5. Use Markdown where it helps (headings, lists, bold). Shape the answer as: {response_type}.
6. Cite your sources: end with a `### References` section listing at most 5 of the \
most relevant documents, one per line as `- [n] Document Title`, where n is the \
document's reference_id in the Reference Document List. Write nothing after that section.
7. Further instructions from the user: {user_prompt}

---Context---

{content_data}
";

/// The context of a `naive` query. Placeholders: `{chunks}`, `{references}`.
pub const NAIVE_CONTEXT: &str = "Document Chunks (each entry carries a reference_id that points into the Reference Document List):

```json
{chunks}
```

Reference Document List (one `[reference_id] file name` per line):

```
{references}
```
";

/// Separator LightRAG puts between the system prompt and the query in
/// `only_need_prompt` replies.
pub const USER_QUERY_SEPARATOR: &str = "\n\n---User Query---\n\n";

/// The reply when retrieval finds nothing (LightRAG's exact text, which clients match).
pub const NO_CONTEXT_RESPONSE: &str =
    "Sorry, I'm not able to provide an answer to that question.[no-context]";

/// Fills `{name}` placeholders of `template` in one pass, so a value that itself
/// contains `{…}` (documents often do) is never substituted again.
pub fn fill(template: &str, values: &[(&str, &str)]) -> String {
    let mut out =
        String::with_capacity(template.len() + values.iter().map(|v| v.1.len()).sum::<usize>());
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        let replaced = after.find('}').and_then(|close| {
            let name = &after[..close];
            values
                .iter()
                .find(|(key, _)| *key == name)
                .map(|(_, value)| (value, close))
        });
        match replaced {
            Some((value, close)) => {
                out.push_str(value);
                rest = &after[close + 1..];
            }
            None => {
                out.push('{');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fill_substitutes_once_and_keeps_unknown_braces() {
        let filled = fill("a {x} {y} {z}", &[("x", "{y}"), ("y", "2")]);
        assert_eq!(filled, "a {y} 2 {z}");
    }
}
