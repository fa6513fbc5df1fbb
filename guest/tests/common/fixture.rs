//! A small Python LightRAG workspace directory in LightRAG's documented layout,
//! written file by file for the import tests.
//!
//! Two processed documents share entities (Alice, Carol); a third failed after
//! LightRAG had chunked and extracted it; a fourth was interrupted while processing;
//! a duplicate record has no text. One entity (Ghost) cites a chunk that does not
//! exist, and one edge joins it. The cache holds both extraction passes of every
//! chunk, keywords of one query, a query answer, a summary and an orphan answer.

use crate::common::DIM;
use crate::lightrag::{axis, between, chunk0, doc_id, graphml, nano, write_json};
use lightrag_engine::util::{md5_hex, mdhash_id};
use serde_json::{Value, json};
use std::path::Path;

/// A LightRAG extraction answer.
fn answer(entities: &[(&str, &str, &str)], relations: &[(&str, &str, &str, &str)]) -> String {
    let mut lines: Vec<String> = entities
        .iter()
        .map(|(n, t, d)| format!("entity<|#|>{n}<|#|>{t}<|#|>{d}"))
        .collect();
    lines.extend(
        relations
            .iter()
            .map(|(a, b, k, d)| format!("relation<|#|>{a}<|#|>{b}<|#|>{k}<|#|>{d}")),
    );
    lines.push("<|COMPLETE|>".into());
    lines.join("\n")
}

/// LightRAG's key of an extraction answer.
fn extract_key(seed: &str) -> String {
    format!("default:extract:{}", md5_hex(seed))
}

/// The vectors of the fixture's entities, by name.
pub fn entity_vector(name: &str) -> Vec<f32> {
    match name {
        "Alice" => axis(0),
        "Bob" => axis(1),
        "Carol" => axis(2),
        "Dave" => axis(3),
        "Paris" => axis(4),
        _ => axis(5),
    }
}

/// Texts of the fixture's documents.
pub const TEXT_A: &str = "Alice met Bob in Paris. Bob thanked Carol.";
pub const TEXT_B: &str = "Carol met Alice. Alice wrote to Dave.";
pub const TEXT_C: &str = "Erin met Frank.";
pub const TEXT_D: &str = "Gina visited Rome.";
/// The query whose keywords LightRAG cached.
pub const CACHED_QUERY: &str = "Who did Alice meet?";

/// Writes the whole fixture into `dir`.
pub fn write_fixture(dir: &Path) {
    let (a, b, c, d) = (
        doc_id("a.txt"),
        doc_id("b.txt"),
        doc_id("c.txt"),
        doc_id("d.txt"),
    );
    let (a0, b0, c0) = (chunk0("a.txt"), chunk0("b.txt"), chunk0("c.txt"));
    let dup = mdhash_id("dup-", "a-copy");
    let status = |state: &str, file: &str, text: &str, chunks: &[&str], error: Option<&str>| {
        let mut row = json!({
            "status": state,
            "content_summary": text,
            "content_length": text.len(),
            "created_at": "2025-06-01T10:00:00.000000+00:00",
            "updated_at": "2025-06-01T10:05:00.000000+00:00",
            "file_path": file,
            "track_id": "insert_20250601_100000_abcd1234",
            "content_hash": md5_hex(text),
            "metadata": {"process_start_time": 1748772000, "parse_format": "raw"},
        });
        if !chunks.is_empty() {
            row["chunks_count"] = json!(chunks.len());
            row["chunks_list"] = json!(chunks);
        }
        if let Some(error) = error {
            row["error_msg"] = json!(error);
        }
        row
    };
    let mut statuses = json!({
        a.clone(): status("processed", "a.txt", TEXT_A, &[&a0], None),
        b.clone(): status("processed", "b.txt", TEXT_B, &[&b0], None),
        c.clone(): status("failed", "c.txt", TEXT_C, &[&c0], Some("LLM timeout after 3 retries")),
        d.clone(): status("processing", "d.txt", TEXT_D, &[], None),
    });
    statuses[&dup] = json!({
        "status": "failed",
        "content_summary": format!("[DUPLICATE:content_hash] Original document: {a}"),
        "content_length": TEXT_A.len(),
        "created_at": "2025-06-01T11:00:00+00:00",
        "updated_at": "2025-06-01T11:00:00+00:00",
        "file_path": "a-copy.txt",
        "track_id": "insert_dup",
        "error_msg": "Identical content already exists under another filename.",
        "metadata": {"is_duplicate": true},
    });
    write_json(dir, "kv_store_doc_status.json", &statuses);
    let full = |text: &str, file: &str| json!({"content": text, "file_path": file, "create_time": 1, "update_time": 1, "_id": "x"});
    write_json(
        dir,
        "kv_store_full_docs.json",
        &json!({
            a.clone(): full(TEXT_A, "a.txt"),
            b.clone(): full(TEXT_B, "b.txt"),
            c.clone(): full(TEXT_C, "c.txt"),
            d.clone(): full(TEXT_D, "d.txt"),
            "doc-orphan": full("No status for this one.", "orphan.txt"),
        }),
    );

    // Extraction answers: a first pass and an empty gleaning pass per chunk.
    let answer_a = answer(
        &[
            ("Alice", "person", "Alice met Bob in Paris."),
            ("Bob", "person", "Bob met Alice and thanked Carol."),
            ("Carol", "person", "Carol was thanked by Bob."),
            ("Paris", "location", "Paris is where Alice met Bob."),
        ],
        &[
            ("Alice", "Bob", "meeting", "Alice met Bob in Paris."),
            ("Bob", "Carol", "gratitude", "Bob thanked Carol."),
        ],
    );
    let answer_b = answer(
        &[
            ("Carol", "person", "Carol met Alice."),
            ("Alice", "person", "Alice met Carol and wrote to Dave."),
            ("Dave", "person", "Dave received a letter from Alice."),
        ],
        &[
            ("Carol", "Alice", "meeting", "Carol met Alice."),
            ("Alice", "Dave", "letter", "Alice wrote to Dave."),
        ],
    );
    let answer_c = answer(
        &[
            ("Erin", "person", "Erin met Frank."),
            ("Frank", "person", "Frank met Erin."),
        ],
        &[("Erin", "Frank", "meeting", "Erin met Frank.")],
    );
    let glean = "<|COMPLETE|>".to_string();
    let mut cache = serde_json::Map::new();
    let mut keys_of = |chunk: &str, answers: [&String; 2]| -> Vec<String> {
        answers
            .iter()
            .enumerate()
            .map(|(i, text)| {
                let key = extract_key(&format!("{chunk}-{i}"));
                cache.insert(
                    key.clone(),
                    json!({"return": text, "cache_type": "extract", "chunk_id": chunk,
                           "original_prompt": "(LightRAG's prompt)", "queryparam": null,
                           "create_time": 1748772100, "update_time": 1748772100, "_id": key}),
                );
                key
            })
            .collect()
    };
    let keys_a = keys_of(&a0, [&answer_a, &glean]);
    let keys_b = keys_of(&b0, [&answer_b, &glean]);
    let keys_c = keys_of(&c0, [&answer_c, &glean]);
    cache.insert(
        format!("hybrid:keywords:{}", md5_hex("kw")),
        json!({"return": "{\"high_level_keywords\": [\"meetings\"], \"low_level_keywords\": [\"Alice\"]}",
               "cache_type": "keywords", "chunk_id": null, "original_prompt": CACHED_QUERY,
               "create_time": 1748772200}),
    );
    cache.insert(
        format!("hybrid:query:{}", md5_hex("q")),
        json!({"return": "Alice met Bob and Carol.", "cache_type": "query", "chunk_id": null,
               "original_prompt": CACHED_QUERY, "create_time": 1748772200}),
    );
    cache.insert(
        format!("default:summary:{}", md5_hex("s")),
        json!({"return": "A summary.", "cache_type": "summary", "chunk_id": null, "original_prompt": "…"}),
    );
    cache.insert(
        extract_key("orphan"),
        json!({"return": answer_c, "cache_type": "extract", "chunk_id": "chunk-gone"}),
    );
    write_json(
        dir,
        "kv_store_llm_response_cache.json",
        &Value::Object(cache),
    );

    let chunk = |text: &str, doc: &str, file: &str, keys: &[String]| {
        json!({"tokens": 12, "content": text, "chunk_order_index": 0, "full_doc_id": doc,
               "file_path": file, "llm_cache_list": keys, "create_time": 1748772000,
               "update_time": 1748772000, "_id": "x"})
    };
    write_json(
        dir,
        "kv_store_text_chunks.json",
        &json!({
            a0.clone(): chunk(TEXT_A, &a, "a.txt", &keys_a),
            b0.clone(): chunk(TEXT_B, &b, "b.txt", &keys_b),
            c0.clone(): chunk(TEXT_C, &c, "c.txt", &keys_c),
        }),
    );
    let meta = |doc: &str, text: &str, file: &str| json!({"full_doc_id": doc, "content": text, "file_path": file});
    write_json(
        dir,
        "vdb_chunks.json",
        &nano(
            DIM,
            &[
                (a0.clone(), meta(&a, TEXT_A, "a.txt"), between(0, 7)),
                (b0.clone(), meta(&b, TEXT_B, "b.txt"), between(0, 6)),
                (c0.clone(), meta(&c, TEXT_C, "c.txt"), between(5, 6)),
            ],
        ),
    );

    // The graph, as LightRAG merged it.
    let sep = |parts: &[&str]| parts.join("<SEP>");
    let node = |ty: &str, description: String, sources: String, files: &str| {
        vec![
            ("entity_type", ty.to_string()),
            ("description", description),
            ("source_id", sources),
            ("file_path", files.to_string()),
            ("created_at", "1748772300".to_string()),
        ]
    };
    let both = sep(&[&a0, &b0]);
    let nodes = [
        (
            "Alice",
            node(
                "person",
                sep(&[
                    "Alice met Bob in Paris.",
                    "Alice met Carol and wrote to Dave.",
                ]),
                both.clone(),
                "a.txt<SEP>b.txt",
            ),
        ),
        (
            "Bob",
            node(
                "person",
                "Bob met Alice and thanked Carol.".into(),
                a0.clone(),
                "a.txt",
            ),
        ),
        (
            "Carol",
            node(
                "person",
                sep(&["Carol was thanked by Bob.", "Carol met Alice."]),
                both.clone(),
                "a.txt<SEP>b.txt",
            ),
        ),
        (
            "Dave",
            node(
                "person",
                "Dave received a letter from Alice.".into(),
                b0.clone(),
                "b.txt",
            ),
        ),
        (
            "Paris",
            node(
                "location",
                "Paris is where Alice met Bob.".into(),
                a0.clone(),
                "a.txt",
            ),
        ),
        (
            "Ghost",
            node(
                "person",
                "Only in a chunk that is gone.".into(),
                "doc-gone-chunk-000".into(),
                "gone.txt",
            ),
        ),
    ];
    let edge = |keywords: &str, description: &str, sources: &str, file: &str| {
        vec![
            ("weight", "1.0".to_string()),
            ("description", description.to_string()),
            ("keywords", keywords.to_string()),
            ("source_id", sources.to_string()),
            ("file_path", file.to_string()),
            ("created_at", "1748772300".to_string()),
        ]
    };
    let edges = [
        (
            "Alice",
            "Bob",
            edge("meeting", "Alice met Bob in Paris.", &a0, "a.txt"),
        ),
        (
            "Bob",
            "Carol",
            edge("gratitude", "Bob thanked Carol.", &a0, "a.txt"),
        ),
        (
            "Carol",
            "Alice",
            edge("meeting", "Carol met Alice.", &b0, "b.txt"),
        ),
        (
            "Alice",
            "Dave",
            edge("letter", "Alice wrote to Dave.", &b0, "b.txt"),
        ),
        (
            "Ghost",
            "Alice",
            edge("haunting", "A ghost edge.", &b0, "b.txt"),
        ),
    ];
    std::fs::write(
        dir.join("graph_chunk_entity_relation.graphml"),
        graphml(&nodes, &edges),
    )
    .unwrap();

    let entity_meta = |name: &str, sources: &str| json!({"entity_name": name, "source_id": sources, "content": name, "file_path": "x"});
    let entity_rows: Vec<(String, Value, Vec<f32>)> =
        ["Alice", "Bob", "Carol", "Dave", "Paris", "Ghost"]
            .iter()
            .map(|n| (mdhash_id("ent-", n), entity_meta(n, ""), entity_vector(n)))
            .collect();
    write_json(dir, "vdb_entities.json", &nano(DIM, &entity_rows));
    let rel = |a: &str, b: &str, v: Vec<f32>| {
        (
            mdhash_id("rel-", &format!("{a}{b}")),
            json!({"src_id": a, "tgt_id": b, "content": "x"}),
            v,
        )
    };
    write_json(
        dir,
        "vdb_relationships.json",
        &nano(
            DIM,
            &[
                rel("Alice", "Bob", between(0, 1)),
                rel("Bob", "Carol", between(1, 2)),
                rel("Alice", "Carol", between(0, 2)),
                // Under the reversed id older LightRAG versions wrote.
                rel("Dave", "Alice", between(0, 3)),
                rel("Alice", "Ghost", between(0, 5)),
            ],
        ),
    );
    let list = |ids: &[&str]| json!({"chunk_ids": ids, "count": ids.len()});
    write_json(
        dir,
        "kv_store_entity_chunks.json",
        &json!({"Alice": list(&[&a0, &b0]), "Bob": list(&[&a0]), "Carol": list(&[&a0, &b0])}),
    );
    write_json(
        dir,
        "kv_store_relation_chunks.json",
        &json!({"Alice<SEP>Bob": list(&[&a0]), "Alice<SEP>Carol": list(&[&b0])}),
    );
    write_json(
        dir,
        "kv_store_full_entities.json",
        &json!({a.clone(): {"entity_names": ["Alice", "Bob", "Carol", "Paris"], "count": 4},
                b.clone(): {"entity_names": ["Alice", "Carol", "Dave"], "count": 3}}),
    );
    write_json(
        dir,
        "kv_store_full_relations.json",
        &json!({a: {"relation_pairs": [["Alice", "Bob"], ["Bob", "Carol"]], "count": 2},
                b: {"relation_pairs": [["Alice", "Carol"], ["Alice", "Dave"]], "count": 2}}),
    );
}
