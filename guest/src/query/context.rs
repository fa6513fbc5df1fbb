//! Turning retrieved entities, relations and chunks into LightRAG's context text,
//! within token budgets, with the reference list.

use crate::graph::{Edge, Node};
use crate::prompts::{self, fill};
use crate::token_memo::TokenMemo;
use crate::wit::Reference;
use std::collections::HashMap;

/// A retrieved chunk on its way into the context.
#[derive(Clone, Debug)]
pub struct Retrieved {
    pub id: String,
    pub content: String,
    pub file_path: String,
}

/// A JSON string as Python's `json.dumps(ensure_ascii=False)` writes it.
pub fn json_string(text: &str) -> String {
    serde_json::to_string(text).unwrap_or_else(|_| "\"\"".into())
}

/// One chunk as a context line: Python's `json.dumps` layout (`", "` and `": "`), so
/// token counts match LightRAG's.
pub fn chunk_line(reference_id: &str, content: &str) -> String {
    format!(
        "{{\"reference_id\": {}, \"content\": {}}}",
        json_string(reference_id),
        json_string(content)
    )
}

/// One entity as a context line (LightRAG never shows the model paths or times).
pub fn entity_line(node: &Node) -> String {
    let kind = if node.entity_type.is_empty() {
        "UNKNOWN"
    } else {
        &node.entity_type
    };
    format!(
        "{{\"entity\": {}, \"type\": {}, \"description\": {}}}",
        json_string(&node.entity_id),
        json_string(kind),
        json_string(&node.description)
    )
}

/// One relation as a context line.
pub fn relation_line(edge: &Edge) -> String {
    format!(
        "{{\"entity1\": {}, \"entity2\": {}, \"description\": {}}}",
        json_string(&edge.source),
        json_string(&edge.target),
        json_string(&edge.description)
    )
}

/// The context lines of the leading `items` that fit in `budget` tokens when joined
/// with newlines (whole lines only), counted with the same tokenizer as LightRAG.
/// Lines are built one at a time and building stops at the first that does not fit:
/// a popular entity brings hundreds of relations, of which the budget keeps a few.
pub fn lines_fitting<T>(
    memo: &mut TokenMemo,
    items: &[T],
    line: impl Fn(&T) -> String,
    budget: usize,
) -> Vec<String> {
    let mut used = 0;
    let mut lines = Vec::new();
    for item in items {
        let text = line(item);
        used += memo.count(&text) + usize::from(!lines.is_empty());
        if used > budget {
            break;
        }
        lines.push(text);
    }
    lines
}

/// Tokens of `chunk_line(reference_id, &chunk.content)`, without building the line
/// for a chunk counted before. The line cuts into a head, `{"reference_id": …,
/// "content":`, and a tail, ` "<content>"}`: the head's last piece is the punctuation
/// run `":`, which stops at whitespace, so pre-tokenisation starts a piece at the
/// space whatever the reference id, and the tail's count (most of the line) is
/// remembered under the chunk's id.
pub fn chunk_line_tokens(memo: &mut TokenMemo, reference_id: &str, chunk: &Retrieved) -> usize {
    let head = format!(
        "{{\"reference_id\": {}, \"content\":",
        json_string(reference_id)
    );
    memo.count(&head)
        + memo.count_keyed(&chunk.id, chunk.content.len(), || {
            format!(" {}}}", json_string(&chunk.content))
        })
}

/// The longest prefix of `chunks` whose context lines fit in `budget` tokens.
pub fn fit_chunks(memo: &mut TokenMemo, chunks: Vec<Retrieved>, budget: usize) -> Vec<Retrieved> {
    let (_, ref_of) = reference_list(&chunks, false);
    let mut used = 0;
    let mut keep = 0;
    for (i, chunk) in chunks.iter().enumerate() {
        let reference_id = ref_of.get(&chunk.file_path).map_or("", String::as_str);
        used += chunk_line_tokens(memo, reference_id, chunk) + usize::from(i > 0);
        if used > budget {
            break;
        }
        keep = i + 1;
    }
    chunks.into_iter().take(keep).collect()
}

/// LightRAG's reference list: distinct file paths (not `unknown_source`) by how many
/// chunks cite them, then by first appearance; numbered from `"1"`.
pub fn reference_list(
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

fn chunk_lines(chunks: &[Retrieved], ref_of: &HashMap<String, String>) -> String {
    chunks
        .iter()
        .map(|c| {
            chunk_line(
                ref_of.get(&c.file_path).map(String::as_str).unwrap_or(""),
                &c.content,
            )
        })
        .collect::<Vec<_>>()
        .join("\n")
}

fn reference_lines(references: &[Reference]) -> String {
    references
        .iter()
        .map(|r| format!("[{}] {}", r.reference_id, r.file_path))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The context of a `naive` query.
pub fn naive_context(
    chunks: &[Retrieved],
    references: &[Reference],
    ref_of: &HashMap<String, String>,
) -> String {
    fill(
        prompts::NAIVE_CONTEXT,
        &[
            ("chunks", &chunk_lines(chunks, ref_of)),
            ("references", &reference_lines(references)),
        ],
    )
}

/// The context of a knowledge-graph query.
pub fn kg_context(
    entity_lines: &[String],
    relation_lines: &[String],
    chunks: &[Retrieved],
    references: &[Reference],
    ref_of: &HashMap<String, String>,
) -> String {
    fill(
        prompts::KG_CONTEXT,
        &[
            ("entities", &entity_lines.join("\n")),
            ("relations", &relation_lines.join("\n")),
            ("chunks", &chunk_lines(chunks, ref_of)),
            ("references", &reference_lines(references)),
        ],
    )
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
    fn lines_use_python_json_layout() {
        assert_eq!(
            chunk_line("1", "say \"hi\"\n"),
            r#"{"reference_id": "1", "content": "say \"hi\"\n"}"#
        );
    }

    #[test]
    fn a_chunk_line_counts_as_its_head_plus_its_remembered_tail() {
        let memo = &mut TokenMemo::default();
        let contents = [
            "plain words here",
            "\"quoted\" start",
            " leading space and ünïcödé",
            "{\"json\": \"inside\"}\n{next}",
            "42 numbers 1234567",
            "",
            "tabs\tand\r\nnewlines\n\n",
            ":colon: start",
            "日本語のテキスト",
        ];
        for (i, content) in contents.iter().enumerate() {
            let chunk = chunk(&format!("c{i}"), "a.txt", content);
            for reference_id in ["1", "12", "", "7"] {
                let exact = crate::tokenizer::count(&chunk_line(reference_id, content));
                // Twice: the second time the tail comes from the memo.
                assert_eq!(chunk_line_tokens(memo, reference_id, &chunk), exact);
                assert_eq!(chunk_line_tokens(memo, reference_id, &chunk), exact);
            }
        }
        // A name reused for text of another length is counted afresh.
        let other = chunk("c0", "a.txt", "entirely different and longer words");
        let exact = crate::tokenizer::count(&chunk_line("1", &other.content));
        assert_eq!(chunk_line_tokens(memo, "1", &other), exact);
    }

    #[test]
    fn only_the_lines_that_fit_are_built() {
        let memo = &mut TokenMemo::default();
        let built = std::cell::Cell::new(0);
        let items: Vec<usize> = (0..100).collect();
        let line = |i: &usize| {
            built.set(built.get() + 1);
            format!("{{\"entity\": \"E{i}\", \"description\": \"a few words\"}}")
        };
        let one = memo.count(&line(&0));
        built.set(0);
        let lines = lines_fitting(memo, &items, line, one * 3 + 2);
        assert_eq!(lines.len(), 3);
        assert_eq!(built.get(), 4, "one line past the budget is built, no more");
        assert!(lines_fitting(memo, &items, line, 0).is_empty());
    }

    #[test]
    fn the_budget_keeps_a_prefix_that_fits() {
        let chunks: Vec<Retrieved> = (0..10)
            .map(|i| chunk(&i.to_string(), "a.txt", &"word ".repeat(50)))
            .collect();
        let one = crate::tokenizer::count(&chunk_line("1", &"word ".repeat(50)));
        let memo = &mut TokenMemo::default();
        assert_eq!(fit_chunks(memo, chunks.clone(), one * 3 + 2).len(), 3);
        assert_eq!(fit_chunks(memo, chunks.clone(), one * 3 + 1).len(), 2);
        assert_eq!(fit_chunks(memo, chunks, 0).len(), 0);
    }
}
