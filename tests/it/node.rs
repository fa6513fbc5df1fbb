//! The engine component under a second runtime: Node.js with jco's preview2 shim,
//! driven by `guest/node/driver.mjs`. The same component, document and mock model
//! give the same graph and the same query context under Node as under our server,
//! and a workspace directory written by either runtime opens in the other.
//!
//! Needs Node.js 18 or newer on `PATH` (`apt-get install nodejs npm`); the driver's
//! npm packages are installed from `guest/node/package-lock.json` on first use.

use crate::harness::{Server, pairs};
use crate::mock_llm::MockLlm;
use serde_json::{Value, json};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use tokio::process::Command;

const DOCUMENT: &str = "Marie Curie discovered polonium with Pierre Curie in Paris. \
Pierre Curie taught physics at the Sorbonne. Irene Joliot-Curie, the daughter of \
Marie Curie, shared a Nobel Prize with Frederic Joliot. The Radium Institute in Paris \
was founded for Marie Curie.";

const QUESTION: &str = "Who worked with Marie Curie in Paris?";
const MODES: [&str; 5] = ["naive", "local", "global", "hybrid", "mix"];

fn driver_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../guest/node")
}

async fn run(command: &mut Command, what: &str) -> String {
    let output = command.output().await.unwrap_or_else(|e| {
        panic!(
            "{what}: cannot start it ({e}); Node.js and npm are needed: apt-get install nodejs npm"
        )
    });
    assert!(
        output.status.success(),
        "{what} failed: {}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// Transpiles the server's own engine component for Node into `out`.
async fn transpile(out: &Path) {
    let dir = driver_dir();
    if !dir.join("node_modules/.bin/jco").exists() {
        run(
            Command::new("npm")
                .args(["ci", "--no-audit", "--no-fund"])
                .current_dir(&dir),
            "npm ci in guest/node",
        )
        .await;
    }
    let wasm = out.join("lightrag_engine.wasm");
    std::fs::write(&wasm, lightrag_server::bindings::ENGINE_COMPONENT).unwrap();
    run(
        Command::new(dir.join("node_modules/.bin/jco"))
            .arg("transpile")
            .arg(&wasm)
            .args(["--instantiation", "async", "--quiet", "-o"])
            .arg(out)
            .current_dir(&dir),
        "jco transpile",
    )
    .await;
}

/// Runs the driver on `data` with `commands`, returning its report.
async fn drive(out: &Path, mock: &MockLlm, data: &Path, commands: &[&str]) -> Value {
    let mut command = Command::new("node");
    command
        .arg(driver_dir().join("driver.mjs"))
        .arg(data)
        .args(commands)
        .env("ENGINE_JS", out)
        .envs(pairs(mock.env()));
    let stdout = run(&mut command, "node driver.mjs").await;
    serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("{e}: {stdout}"))
}

fn query_commands() -> Vec<&'static str> {
    MODES
        .iter()
        .flat_map(|mode| ["query", mode, QUESTION])
        .collect()
}

/// Each mode's context as the driver reported it.
fn node_contexts(report: &Value) -> Vec<String> {
    let queries = report["queries"].as_array().unwrap();
    assert_eq!(queries.len(), MODES.len(), "{report}");
    queries
        .iter()
        .map(|q| q["context"].as_str().unwrap().to_string())
        .collect()
}

async fn server_contexts(server: &Server, ws: &str) -> Vec<String> {
    let mut contexts = Vec::new();
    for mode in MODES {
        let body = json!({"query": QUESTION, "mode": mode, "only_need_context": true});
        let reply = server.post("/query", Some(ws), body).await;
        assert_eq!(reply.status, 200, "{}", reply.text);
        contexts.push(reply.json()["response"].as_str().unwrap().to_string());
    }
    contexts
}

type Graph = (BTreeSet<(String, String, String)>, BTreeSet<String>);

/// Entities (name, type, description) and relations (`a|b|description|weight`).
fn node_graph(report: &Value) -> Graph {
    let graph = &report["graph"];
    let nodes = graph["nodes"].as_array().unwrap().iter().map(|n| {
        let field = |k: &str| n[k].as_str().unwrap().to_string();
        (field("entityId"), field("entityType"), field("description"))
    });
    let edges = graph["edges"].as_array().unwrap().iter().map(|e| {
        let (a, b, d) = (&e["source"], &e["target"], &e["description"]);
        format!("{a}|{b}|{d}|{}", e["weight"].as_f64().unwrap())
    });
    (nodes.collect(), edges.collect())
}

async fn server_graph(server: &Server, ws: &str) -> Graph {
    let graph = server
        .get("/graphs?label=*&max_depth=3&max_nodes=1000", Some(ws))
        .await
        .json();
    let nodes = graph["nodes"].as_array().unwrap().iter().map(|n| {
        let field = |k: &str| n["properties"][k].as_str().unwrap().to_string();
        (
            field("entity_id"),
            field("entity_type"),
            field("description"),
        )
    });
    let edges = graph["edges"].as_array().unwrap().iter().map(|e| {
        let p = &e["properties"];
        let (a, b, d) = (&e["source"], &e["target"], &p["description"]);
        format!("{a}|{b}|{d}|{}", p["weight"].as_f64().unwrap())
    });
    (nodes.collect(), edges.collect())
}

#[tokio::test(flavor = "multi_thread")]
async fn node_and_our_server_build_the_same_workspace_and_open_each_others() {
    let mock = MockLlm::start(64).await;
    let scratch = tempfile::tempdir().unwrap();
    let out = scratch.path().join("engine-js");
    std::fs::create_dir_all(&out).unwrap();
    transpile(&out).await;
    let document = scratch.path().join("curie.txt");
    std::fs::write(&document, DOCUMENT).unwrap();

    // Our server ingests the document in workspace `shared`.
    let served = scratch.path().join("served");
    let server = Server::start_in(&served, &pairs(mock.env()));
    server.insert(Some("shared"), "curie.txt", DOCUMENT).await;
    server.wait_idle(Some("shared")).await;
    let contexts = server_contexts(&server, "shared").await;
    let graph = server_graph(&server, "shared").await;
    assert!(
        graph.0.iter().any(|(name, ..)| name == "Pierre Curie"),
        "{graph:?}"
    );
    assert!(contexts[1].contains("Marie Curie"), "{}", contexts[1]);
    server.terminate();

    // Node ingests the same document into a directory of its own.
    let by_node = scratch.path().join("by-node").join("shared");
    std::fs::create_dir_all(&by_node).unwrap();
    let mut commands = vec!["ingest", document.to_str().unwrap()];
    commands.extend(query_commands());
    commands.push("graph");
    let report = drive(&out, &mock, &by_node, &commands).await;
    assert_eq!(report["processed"], json!([1, 0]), "{report}");
    assert_eq!(node_graph(&report), graph);
    for (mode, (node, ours)) in MODES
        .iter()
        .zip(node_contexts(&report).iter().zip(&contexts))
    {
        assert_eq!(node, ours, "{mode} context differs");
    }

    // Node opens the directory our server wrote, and answers alike.
    let mut commands = query_commands();
    commands.push("graph");
    let report = drive(&out, &mock, &served.join("data/shared"), &commands).await;
    assert_eq!(report["documents"][0]["filePath"], "curie.txt");
    assert_eq!(report["documents"][0]["status"], "processed");
    assert_eq!(node_contexts(&report), contexts);
    assert_eq!(node_graph(&report), graph);

    // Our server opens the directory Node wrote.
    let moved = scratch.path().join("moved");
    std::fs::create_dir_all(moved.join("data/shared")).unwrap();
    for entry in std::fs::read_dir(&by_node).unwrap().flatten() {
        std::fs::copy(
            entry.path(),
            moved.join("data/shared").join(entry.file_name()),
        )
        .unwrap();
    }
    let server = Server::start_in(&moved, &pairs(mock.env()));
    assert_eq!(server.counts(Some("shared")).await["processed"], 1);
    assert_eq!(server_contexts(&server, "shared").await, contexts);
    assert_eq!(server_graph(&server, "shared").await, graph);
}
