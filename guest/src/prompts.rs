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

/// System prompt of entity and relation extraction. Placeholders: `{entity_types}`,
/// `{language}`, `{max_total_records}`, `{max_entity_records}`; the delimiters are
/// LightRAG's, so LightRAG-tuned models and parsers keep working.
pub const EXTRACTION_SYSTEM: &str = "---Role---

You build knowledge graphs. You read a passage and list the entities it mentions and \
the relationships between them, as structured records.

---Steps---

1. Entities. For every clearly identifiable entity in the passage, write one record:
   entity<|#|>entity_name<|#|>entity_type<|#|>entity_description
   - entity_name: the entity's name as the text gives it. Use title case for names \
that are not case-sensitive, and one consistent name for the same entity throughout.
   - entity_type: one of: {entity_types}. Use `Other` if none fits.
   - entity_description: what the passage says about the entity, and only that.
2. Relationships. For every direct, meaningful relationship between two of the \
entities you listed, write one record:
   relation<|#|>source_entity<|#|>target_entity<|#|>relationship_keywords<|#|>relationship_description
   - Relationships are undirected; list each pair once.
   - relationship_keywords: a few comma-separated words that name the nature of the link.
   - relationship_description: how the two are related, according to the passage.
   - Break a statement about three or more entities into pairs.
3. Write all entity records first, then all relationship records, one record per \
line, and nothing else: no headings, no explanations, no markdown.
4. Write at most {max_total_records} records in total and at most \
{max_entity_records} entity records.
5. Describe in the third person; never use pronouns such as \"this article\" or \
\"our company\" in place of a name.
6. Write names, types' descriptions and keywords in {language}. Keep proper nouns in \
their original language.
7. Finish with the line <|COMPLETE|>.

---Example---

Passage:
```
The Meridian Observatory, run by the Andes Astronomy Trust, spotted comet Kestrel in \
March. Dr. Lina Ortega led the night team.
```

Output:
entity<|#|>Meridian Observatory<|#|>Location<|#|>Meridian Observatory is an observatory run by the Andes Astronomy Trust that spotted comet Kestrel.
entity<|#|>Andes Astronomy Trust<|#|>Organization<|#|>Andes Astronomy Trust runs the Meridian Observatory.
entity<|#|>Kestrel<|#|>NaturalObject<|#|>Kestrel is a comet spotted by the Meridian Observatory in March.
entity<|#|>Lina Ortega<|#|>Person<|#|>Dr. Lina Ortega led the night team at the Meridian Observatory.
relation<|#|>Andes Astronomy Trust<|#|>Meridian Observatory<|#|>operation, management<|#|>The Andes Astronomy Trust runs the Meridian Observatory.
relation<|#|>Meridian Observatory<|#|>Kestrel<|#|>discovery, observation<|#|>The Meridian Observatory spotted comet Kestrel in March.
relation<|#|>Lina Ortega<|#|>Meridian Observatory<|#|>leadership, night team<|#|>Lina Ortega led the observatory's night team.
<|COMPLETE|>
";

/// User prompt of extraction. Placeholders: `{input_text}`, `{language}`,
/// `{max_total_records}`.
pub const EXTRACTION_USER: &str = "Extract entities and relationships from the passage below, \
following the steps and format above (fields separated by <|#|>). At most \
{max_total_records} records. Output only the records, in {language}, then <|COMPLETE|>.

---Input Text---
```
{input_text}
```

---Output---
";

/// Follow-up prompt of a gleaning pass (sent after the first answer).
pub const EXTRACTION_CONTINUE: &str = "Some entities or relationships of the passage may \
be missing from your answer. Read the passage again and list only the records you \
missed, in the same format (fields separated by <|#|>), then <|COMPLETE|>. If nothing \
is missing, answer with <|COMPLETE|> alone.
";

/// Prompt merging several descriptions of one entity or relation. Placeholders:
/// `{description_type}`, `{description_name}`, `{description_list}`,
/// `{summary_length}`, `{language}`.
pub const SUMMARIZE_DESCRIPTIONS: &str = "---Role---

You curate a knowledge base. Your task: synthesize a list of descriptions of one \
{description_type}, collected from different passages, into a single description.

---Instructions---

1. Keep every distinct fact; drop repetition.
2. Where descriptions disagree, keep both views and say which passage-level context \
each belongs to, or prefer the more specific one.
3. Write in the third person and name the {description_type} explicitly; do not start \
with \"This\" or a pronoun.
4. At most {summary_length} tokens, in {language}. Plain prose, no lists, no headings.

---Input---

{description_type} Name: {description_name}

Description List:

```
{description_list}
```

---Output---
";

/// Keyword extraction for KG queries. Placeholders: `{query}`, `{language}`. Asks for
/// LightRAG's JSON object with exactly `high_level_keywords` and `low_level_keywords`.
pub const KEYWORDS_EXTRACTION: &str = "---Role---

You pick search keywords for a retrieval system that looks things up in a knowledge \
graph.

---Instructions---

Read the user's query and return a JSON object with exactly two keys:
- \"high_level_keywords\": the broad themes, concepts or intent of the query.
- \"low_level_keywords\": the specific entities, proper nouns, technical terms and \
concrete details it mentions.
Both values are arrays of strings. Keep multi-word terms together. Return empty arrays \
for a query with no meaningful content (a greeting, say). Write the keywords in \
{language}, keeping proper nouns as they are. Output only the JSON object: no prose, \
no code fence.

Shape of the answer:
{\"high_level_keywords\": [\"…\"], \"low_level_keywords\": [\"…\"]}

---Query---

{query}

---Output---
";

/// Answer prompt for the knowledge-graph modes. Placeholders: `{response_type}`,
/// `{user_prompt}`, `{context_data}`.
pub const RAG_RESPONSE: &str = "---Role---

You are a careful assistant. You answer questions using only the knowledge graph data \
and document excerpts given in the Context section below.

---Goal---

Write an answer to the user's query that rests on the Context: the entities and \
relationships of the knowledge graph and the document chunks. Bring the relevant facts \
together, explain how they connect, and say plainly when the context does not hold the \
answer.

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

{context_data}
";

/// The context of a knowledge-graph query. Placeholders: `{entities}`,
/// `{relations}`, `{chunks}`, `{references}`.
pub const KG_CONTEXT: &str = "Knowledge Graph Data (Entity):

```json
{entities}
```

Knowledge Graph Data (Relationship):

```json
{relations}
```

Document Chunks (each entry carries a reference_id that points into the Reference Document List):

```json
{chunks}
```

Reference Document List (one `[reference_id] file name` per line):

```
{references}
```
";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fill_substitutes_once_and_keeps_unknown_braces() {
        let filled = fill("a {x} {y} {z}", &[("x", "{y}"), ("y", "2")]);
        assert_eq!(filled, "a {y} 2 {z}");
    }
}
