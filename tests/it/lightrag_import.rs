//! Importing a Python LightRAG workspace directory: a small one written here in
//! LightRAG's documented layout (JSON KV stores, NanoVectorDB files, GraphML), its
//! vectors made by the mock's embedding function so the server's queries match them.
//! Imported from the command line and through the admin route, it answers
//! `/query/data` with the same entities and chunks; the source is never changed; a
//! wrong model, a wrong dimension, an occupied workspace or a path outside the import
//! directory are refused; an import killed half-way can be run again.

use crate::harness::{BINARY, Server, cache_dir, pairs, run_command};
use crate::mock_llm::MockLlm;
use crate::mock_llm::answers::embed;
use base64::Engine as _;
use serde_json::{Value, json};
use std::path::Path;
use std::process::Command;

const DIM: usize = 32;
const ADMIN: &str = "import-admin";

const DOCS: &[(&str, &str, &str)] = &[
    (
        "doc-5f1d2a",
        "lighthouse.txt",
        "Maren Ostrova keeps the Corveth Lighthouse. The Corveth Lighthouse guides ships into Talmouth.",
    ),
    (
        "doc-9c4e7b",
        "brewery.txt",
        "Dunstan Hale founded the Ambergate Brewery, which ships ale to Talmouth.",
    ),
];

/// Entities: (name, type, description, document index).
const ENTITIES: &[(&str, &str, &str, usize)] = &[
    (
        "Maren Ostrova",
        "person",
        "Keeper of the Corveth Lighthouse.",
        0,
    ),
    (
        "Corveth Lighthouse",
        "location",
        "A lighthouse guiding ships into Talmouth.",
        0,
    ),
    (
        "Talmouth",
        "location",
        "A harbour town served by the lighthouse and the brewery.",
        0,
    ),
    (
        "Dunstan Hale",
        "person",
        "Founder of the Ambergate Brewery.",
        1,
    ),
    (
        "Ambergate Brewery",
        "organization",
        "A brewery shipping ale to Talmouth.",
        1,
    ),
];

/// Relations: (source, target, keywords, description, document index).
const RELATIONS: &[(&str, &str, &str, &str, usize)] = &[
    (
        "Maren Ostrova",
        "Corveth Lighthouse",
        "keeper",
        "Maren Ostrova keeps the lighthouse.",
        0,
    ),
    (
        "Corveth Lighthouse",
        "Talmouth",
        "guidance",
        "The lighthouse guides ships into Talmouth.",
        0,
    ),
    (
        "Dunstan Hale",
        "Ambergate Brewery",
        "founder",
        "Dunstan Hale founded the brewery.",
        1,
    ),
    (
        "Ambergate Brewery",
        "Talmouth",
        "trade",
        "The brewery ships ale to Talmouth.",
        1,
    ),
];

fn chunk_id(doc: usize) -> String {
    format!("chunk-{}", &DOCS[doc].0[4..])
}

/// LightRAG's ids: a prefix and the md5 of the text (`compute_mdhash_id`).
fn mdhash(prefix: &str, text: &str) -> String {
    use md5::Digest;
    format!("{prefix}{}", hex::encode(md5::Md5::digest(text.as_bytes())))
}

/// A NanoVectorDB file: the records, and their vectors as one base64 float32 matrix.
fn nano(dim: usize, rows: Vec<(Value, Vec<f32>)>) -> Value {
    let mut matrix = Vec::new();
    let mut data = Vec::new();
    for (record, vector) in rows {
        assert_eq!(vector.len(), dim);
        for value in vector {
            matrix.extend_from_slice(&value.to_le_bytes());
        }
        data.push(record);
    }
    json!({
        "embedding_dim": dim,
        "data": data,
        "matrix": base64::engine::general_purpose::STANDARD.encode(matrix),
    })
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// Writes the LightRAG directory with vectors of `dim` dimensions.
fn write_lightrag_dir(dir: &Path, dim: usize) {
    std::fs::create_dir_all(dir).unwrap();
    let write = |name: &str, value: Value| {
        std::fs::write(
            dir.join(name),
            serde_json::to_string_pretty(&value).unwrap(),
        )
        .unwrap();
    };
    let vector = |text: &str| {
        let mut v = embed(text, DIM);
        v.resize(dim, 0.0);
        v
    };
    let mut full_docs = json!({});
    let mut status = json!({});
    let mut chunks = json!({});
    let mut chunk_rows = Vec::new();
    for (i, (id, file, text)) in DOCS.iter().enumerate() {
        let chunk = chunk_id(i);
        full_docs[id] = json!({"content": text, "file_path": file, "create_time": 1750000000,
                               "update_time": 1750000000, "_id": id});
        status[id] = json!({
            "status": "processed", "content_summary": text, "content_length": text.len(),
            "created_at": "2025-06-15T10:00:00+00:00", "updated_at": "2025-06-15T10:00:05+00:00",
            "file_path": file, "track_id": "insert_20250615_100000_abcd1234",
            "chunks_count": 1, "chunks_list": [chunk], "metadata": {},
        });
        chunks[&chunk] = json!({
            "tokens": 20, "content": text, "chunk_order_index": 0, "full_doc_id": id,
            "file_path": file, "llm_cache_list": [], "create_time": 1750000000,
            "update_time": 1750000000, "_id": chunk,
        });
        chunk_rows.push((
            json!({"__id__": chunk, "__created_at__": 1750000000, "full_doc_id": id,
                   "content": text, "file_path": file}),
            vector(text),
        ));
    }
    write("kv_store_full_docs.json", full_docs);
    write("kv_store_doc_status.json", status);
    write("kv_store_text_chunks.json", chunks);
    write("vdb_chunks.json", nano(dim, chunk_rows));

    let entity_rows = ENTITIES
        .iter()
        .map(|(name, _, description, doc)| {
            let content = format!("{name}\n{description}");
            (
                json!({"__id__": mdhash("ent-", name), "__created_at__": 1750000000,
                       "entity_name": name, "source_id": chunk_id(*doc),
                       "content": content, "file_path": DOCS[*doc].1}),
                vector(&content),
            )
        })
        .collect();
    write("vdb_entities.json", nano(dim, entity_rows));
    let relation_rows = RELATIONS
        .iter()
        .map(|(a, b, keywords, description, doc)| {
            let content = format!("{keywords}\t{a}\n{b}\n{description}");
            (
                json!({"__id__": mdhash("rel-", &format!("{a}{b}")), "__created_at__": 1750000000,
                       "src_id": a, "tgt_id": b, "source_id": chunk_id(*doc),
                       "content": content, "file_path": DOCS[*doc].1}),
                vector(&content),
            )
        })
        .collect();
    write("vdb_relationships.json", nano(dim, relation_rows));

    let mut graph = String::from(
        "<?xml version='1.0' encoding='utf-8'?>\n\
         <graphml xmlns=\"http://graphml.graphdrawing.org/xmlns\">\n\
         <key id=\"d0\" for=\"node\" attr.name=\"entity_id\" attr.type=\"string\"/>\n\
         <key id=\"d1\" for=\"node\" attr.name=\"entity_type\" attr.type=\"string\"/>\n\
         <key id=\"d2\" for=\"node\" attr.name=\"description\" attr.type=\"string\"/>\n\
         <key id=\"d3\" for=\"node\" attr.name=\"source_id\" attr.type=\"string\"/>\n\
         <key id=\"d4\" for=\"node\" attr.name=\"file_path\" attr.type=\"string\"/>\n\
         <key id=\"d5\" for=\"node\" attr.name=\"created_at\" attr.type=\"long\"/>\n\
         <key id=\"d6\" for=\"edge\" attr.name=\"weight\" attr.type=\"double\"/>\n\
         <key id=\"d7\" for=\"edge\" attr.name=\"description\" attr.type=\"string\"/>\n\
         <key id=\"d8\" for=\"edge\" attr.name=\"keywords\" attr.type=\"string\"/>\n\
         <key id=\"d9\" for=\"edge\" attr.name=\"source_id\" attr.type=\"string\"/>\n\
         <key id=\"d10\" for=\"edge\" attr.name=\"file_path\" attr.type=\"string\"/>\n\
         <key id=\"d11\" for=\"edge\" attr.name=\"created_at\" attr.type=\"long\"/>\n\
         <graph edgedefault=\"undirected\">\n",
    );
    for (name, kind, description, doc) in ENTITIES {
        graph.push_str(&format!(
            "<node id=\"{n}\"><data key=\"d0\">{n}</data><data key=\"d1\">{kind}</data>\
             <data key=\"d2\">{d}</data><data key=\"d3\">{c}</data><data key=\"d4\">{f}</data>\
             <data key=\"d5\">1750000000</data></node>\n",
            n = escape(name),
            d = escape(description),
            c = chunk_id(*doc),
            f = DOCS[*doc].1,
        ));
    }
    for (a, b, keywords, description, doc) in RELATIONS {
        graph.push_str(&format!(
            "<edge source=\"{a}\" target=\"{b}\"><data key=\"d6\">1.0</data>\
             <data key=\"d7\">{d}</data><data key=\"d8\">{keywords}</data>\
             <data key=\"d9\">{c}</data><data key=\"d10\">{f}</data>\
             <data key=\"d11\">1750000000</data></edge>\n",
            a = escape(a),
            b = escape(b),
            d = escape(description),
            c = chunk_id(*doc),
            f = DOCS[*doc].1,
        ));
    }
    graph.push_str("</graph>\n</graphml>\n");
    std::fs::write(dir.join("graph_chunk_entity_relation.graphml"), graph).unwrap();
}

/// Every file of `dir` with its bytes, to show the source is never changed.
fn snapshot(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut files: Vec<(String, Vec<u8>)> = std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .map(|e| {
            (
                e.file_name().to_string_lossy().into_owned(),
                std::fs::read(e.path()).unwrap(),
            )
        })
        .collect();
    files.sort();
    files
}

/// The entity names and chunk texts `/query/data` finds.
async fn found(server: &Server, workspace: &str) -> (Vec<String>, Vec<String>) {
    let reply = server
        .post(
            "/query/data",
            Some(workspace),
            json!({"query": "Who keeps the Corveth Lighthouse and who founded the Ambergate Brewery?",
                   "mode": "mix", "top_k": 10}),
        )
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    let body = reply.json();
    let names = |key: &str, field: &str| {
        let mut out: Vec<String> = body["data"][key]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e[field].as_str().unwrap().to_string())
            .collect();
        out.sort();
        out
    };
    (names("entities", "entity_name"), names("chunks", "content"))
}

fn run(root: &Path, mock: &MockLlm, args: &[&str]) -> (bool, String) {
    run_command(root, &pairs(mock.env()), args)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_lightrag_directory_imports_and_answers_with_its_entities_and_chunks() {
    let mock = MockLlm::start(DIM).await;
    let root = tempfile::tempdir().unwrap().keep();
    let source = root.join("imports/old-rag");
    write_lightrag_dir(&source, DIM);
    let before = snapshot(&source);
    let from = source.to_str().unwrap();

    // The model must be named, and be ours.
    let (ok, out) = run(
        &root,
        &mock,
        &["import", "--workspace", "kb", "--from", from],
    );
    assert!(!ok && out.contains("--source-embedding-model"), "{out}");
    let (ok, out) = run(
        &root,
        &mock,
        &[
            "import",
            "--workspace",
            "kb",
            "--from",
            from,
            "--source-embedding-model",
            "bge-m3",
        ],
    );
    assert!(
        !ok && out.contains("bge-m3") && out.contains("mock-embed"),
        "{out}"
    );
    assert!(!root.join("data/kb").join("engine.snap").exists());

    let args = [
        "import",
        "--workspace",
        "kb",
        "--from",
        from,
        "--source-embedding-model",
        "mock-embed",
    ];
    let (ok, out) = run(&root, &mock, &args);
    assert!(ok, "{out}");
    assert!(
        out.contains("[1/6] check") && out.contains("[6/6] finish"),
        "{out}"
    );
    assert!(out.contains("2 documents"), "{out}");
    // The verification: a sample /query/data finds the most connected entity.
    assert!(
        out.contains("sample /query/data for") && out.contains("\" found"),
        "{out}"
    );
    // Again: the workspace holds data now.
    let (ok, out) = run(&root, &mock, &args);
    assert!(!ok && out.contains("already holds data"), "{out}");
    assert_eq!(snapshot(&source), before, "the source was changed");

    let mut env = pairs(mock.env());
    let import_root = root.join("imports");
    let import_dir = import_root.to_str().unwrap();
    env.push(("LIGHTRAG_ADMIN_API_KEY", ADMIN));
    env.push(("LIGHTRAG_IMPORT_DIR", import_dir));
    let server = Server::start_in(&root, &env);
    let counts = server.counts(Some("kb")).await;
    assert_eq!(counts["processed"], 2, "{counts}");
    let (entities, chunks) = found(&server, "kb").await;
    for name in [
        "Maren Ostrova",
        "Corveth Lighthouse",
        "Dunstan Hale",
        "Ambergate Brewery",
    ] {
        assert!(
            entities.iter().any(|e| e == name),
            "{name} not in {entities:?}"
        );
    }
    for (_, _, text) in DOCS {
        assert!(chunks.iter().any(|c| c == text), "{text} not in {chunks:?}");
    }

    // The admin route imports the same directory into another workspace: same answer.
    let import = |workspace: &'static str, body: Value| {
        let base = server.base.clone();
        async move {
            let reply = reqwest::Client::new()
                .post(format!("{base}/workspaces/{workspace}/import-lightrag"))
                .header("X-Admin-Key", ADMIN)
                .json(&body)
                .send()
                .await
                .unwrap();
            let status = reply.status().as_u16();
            (status, reply.json::<Value>().await.unwrap())
        }
    };
    let (status, report) = import(
        "kb2",
        json!({"source": "old-rag", "embedding_model": "mock-embed"}),
    )
    .await;
    assert_eq!(status, 201, "{report}");
    assert_eq!(report["imported"]["documents"]["imported"], 2, "{report}");
    assert_eq!(
        report["imported"]["entities"]["imported"],
        ENTITIES.len(),
        "{report}"
    );
    assert_eq!(
        report["imported"]["relations"]["imported"],
        RELATIONS.len(),
        "{report}"
    );
    assert_eq!(report["documents"], 2);
    assert_eq!(found(&server, "kb2").await, (entities, chunks));

    for (workspace, body, expected) in [
        (
            "kb",
            json!({"source": "old-rag", "embedding_model": "mock-embed"}),
            409,
        ),
        (
            "kb3",
            json!({"source": "../imports/old-rag", "embedding_model": "mock-embed"}),
            400,
        ),
        ("kb3", json!({"source": "old-rag"}), 400),
        (
            "kb3",
            json!({"source": "missing", "embedding_model": "mock-embed"}),
            400,
        ),
    ] {
        let (status, body) = import(workspace, body).await;
        assert_eq!(status, expected, "{workspace}: {body}");
        assert!(body["detail"].is_string(), "{body}");
    }
    assert!(!server.working_dir.join("kb3").join("engine.snap").exists());

    // Vectors of another dimension are refused, naming both.
    write_lightrag_dir(&import_root.join("narrow"), 16);
    let (status, body) = import(
        "kb4",
        json!({"source": "narrow", "embedding_model": "mock-embed"}),
    )
    .await;
    assert_eq!(status, 400, "{body}");
    let detail = body["detail"].as_str().unwrap();
    assert!(detail.contains("16") && detail.contains("32"), "{detail}");
    assert_eq!(snapshot(&source), before, "the source was changed");
}

/// Regression guard for "safe to interrupt and rerun": an import killed at any
/// moment leaves the workspace either untouched or complete, and running it again
/// finishes it.
#[tokio::test(flavor = "multi_thread")]
async fn an_import_killed_half_way_can_be_run_again() {
    let mock = MockLlm::start(DIM).await;
    let root = tempfile::tempdir().unwrap().keep();
    let source = root.join("old-rag");
    write_lightrag_dir(&source, DIM);
    let from = source.to_str().unwrap().to_string();
    let args = [
        "import",
        "--workspace",
        "kb",
        "--from",
        &from,
        "--source-embedding-model",
        "mock-embed",
    ];
    for delay_ms in [5u64, 40, 120] {
        let ws_dir = root.join("data/kb");
        let _ = std::fs::remove_dir_all(&ws_dir);
        let mut command = Command::new(BINARY);
        command
            .args(args)
            .env_clear()
            .env("WORKING_DIR", root.join("data"))
            .env("INPUT_DIR", root.join("inputs"))
            .env("LIGHTRAG_CACHE_DIR", cache_dir())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null());
        for (key, value) in mock.env() {
            command.env(key, value);
        }
        let mut child = command.spawn().unwrap();
        std::thread::sleep(std::time::Duration::from_millis(delay_ms));
        let _ = child.kill();
        let _ = child.wait();
        let (ok, out) = run(&root, &mock, &args);
        assert!(
            ok || out.contains("already holds data"),
            "after {delay_ms} ms: {out}"
        );
    }
    let server = Server::start_in(&root, &pairs(mock.env()));
    assert_eq!(server.counts(Some("kb")).await["processed"], 2);
}
