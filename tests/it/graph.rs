//! Knowledge-graph ingestion and graph reads, with the mock model's extraction.

use crate::harness::{Server, pairs};
use crate::mock_llm::MockLlm;
use reqwest::Method;
use serde_json::{Value, json};
use std::time::{Duration, Instant};

fn node<'a>(graph: &'a Value, id: &str) -> &'a Value {
    graph["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["id"] == id)
        .unwrap_or_else(|| panic!("no node {id} in {graph}"))
}

fn edge<'a>(graph: &'a Value, a: &str, b: &str) -> Option<&'a Value> {
    graph["edges"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["source"] == a && e["target"] == b)
}

async fn doc_id(server: &Server, ws: &str, track: &str) -> String {
    let status = server
        .get(&format!("/documents/track_status/{track}"), Some(ws))
        .await
        .json();
    status["documents"][0]["id"].as_str().unwrap().to_string()
}

#[tokio::test(flavor = "multi_thread")]
async fn entities_and_relations_of_a_known_text_appear_in_the_graph() {
    let mock = MockLlm::start(32).await;
    let server = Server::start(&pairs(mock.env()));
    let ws = Some("kg");
    let track = server
        .insert(
            ws,
            "curie.txt",
            "Marie Curie worked with Pierre Curie in Paris. Marie Curie won the Nobel Prize.",
        )
        .await;
    server.wait_idle(ws).await;
    let id = doc_id(&server, "kg", &track).await;
    let chunk = format!("{id}-chunk-000");

    let labels = server.get("/graph/label/list", ws).await.json();
    assert_eq!(
        labels,
        json!(["Marie Curie", "Nobel Prize", "Paris", "Pierre Curie"])
    );
    let graph = server
        .get("/graphs?label=Marie%20Curie&max_depth=2", ws)
        .await
        .json();
    assert_eq!(graph["is_truncated"], false);
    let marie = node(&graph, "Marie Curie");
    assert_eq!(marie["labels"], json!(["Marie Curie"]));
    let props = &marie["properties"];
    assert_eq!(props["entity_type"], "person");
    assert_eq!(
        props["description"],
        "Marie Curie worked with Pierre Curie in Paris."
    );
    assert_eq!(props["source_id"], chunk);
    assert_eq!(props["file_path"], "curie.txt");
    assert_eq!(
        node(&graph, "Nobel Prize")["properties"]["entity_type"],
        "event"
    );
    let link = edge(&graph, "Marie Curie", "Pierre Curie").expect("relation");
    assert_eq!(link["id"], "Marie Curie-Pierre Curie");
    assert_eq!(link["properties"]["weight"], 1.0);
    assert_eq!(link["properties"]["keywords"], "co-occurrence,context");
    assert_eq!(link["properties"]["source_id"], chunk);

    // A second document about the same pair: weights add, descriptions join.
    server
        .insert(
            ws,
            "letters.txt",
            "Pierre Curie wrote letters to Marie Curie.",
        )
        .await;
    server.wait_idle(ws).await;
    let graph = server.get("/graphs?label=Pierre%20Curie", ws).await.json();
    let link = edge(&graph, "Marie Curie", "Pierre Curie").unwrap();
    assert_eq!(link["properties"]["weight"], 2.0);
    assert_eq!(
        link["properties"]["description"],
        "Marie Curie worked with Pierre Curie in Paris.<SEP>Pierre Curie wrote letters to Marie Curie."
    );
    assert_eq!(
        link["properties"]["source_id"]
            .as_str()
            .unwrap()
            .matches("<SEP>")
            .count(),
        1
    );
    let pierre = node(&graph, "Pierre Curie");
    assert!(
        pierre["properties"]["file_path"]
            .as_str()
            .unwrap()
            .contains("curie.txt<SEP>letters.txt")
    );

    let popular = server.get("/graph/label/popular?limit=2", ws).await.json();
    assert_eq!(popular, json!(["Marie Curie", "Paris"]));
    let found = server.get("/graph/label/search?q=curie", ws).await.json();
    assert_eq!(found, json!(["Marie Curie", "Pierre Curie"]));
    assert_eq!(
        server
            .get("/graph/entity/exists?name=Paris", ws)
            .await
            .json()["exists"],
        true
    );
    assert_eq!(
        server
            .get("/graph/entity/exists?name=London", ws)
            .await
            .json()["exists"],
        false
    );
    let whole = server.get("/graphs?label=*&max_nodes=2", ws).await.json();
    assert_eq!(whole["nodes"].as_array().unwrap().len(), 2);
    assert_eq!(whole["is_truncated"], true);
    assert_eq!(
        server.get("/graphs?label=Nobody", ws).await.json()["nodes"],
        json!([])
    );
    assert_eq!(server.get("/graphs", ws).await.status, 422);
    assert_eq!(
        server.get("/graph/label/popular?limit=0", ws).await.status,
        422
    );
}

/// LightRAG joins descriptions with `<SEP>` until FORCE_LLM_SUMMARY_ON_MERGE
/// fragments (or SUMMARY_MAX_TOKENS tokens), then asks the model for one summary.
#[tokio::test(flavor = "multi_thread")]
async fn the_summary_triggers_exactly_at_the_fragment_threshold() {
    let mock = MockLlm::start(32).await;
    let mut env = pairs(mock.env());
    env.push(("FORCE_LLM_SUMMARY_ON_MERGE", "3"));
    let server = Server::start(&env);
    let ws = Some("sum");
    let summaries = || {
        mock.state
            .log()
            .iter()
            .filter(|l| l.kind == "chat" && crate::mock_llm::purpose_of(&l.messages) == "summary")
            .count()
    };
    let sentences = [
        "Zed Corp builds quiet engines.",
        "Zed Corp opened a second factory.",
        "Zed Corp hired two hundred welders.",
    ];
    for (i, sentence) in sentences.iter().enumerate() {
        server.insert(ws, &format!("zed-{i}.txt"), sentence).await;
        server.wait_idle(ws).await;
        let graph = server.get("/graphs?label=Zed%20Corp", ws).await.json();
        let description = node(&graph, "Zed Corp")["properties"]["description"]
            .as_str()
            .unwrap()
            .to_string();
        if i < 2 {
            assert_eq!(summaries(), 0, "summarised at {} fragments", i + 1);
            assert_eq!(description, sentences[..=i].join("<SEP>"));
        } else {
            assert_eq!(summaries(), 1);
            assert_eq!(description, format!("SUMMARY(3): {}", sentences[0]));
        }
    }
    assert_eq!(
        node(
            &server.get("/graphs?label=Zed%20Corp", ws).await.json(),
            "Zed Corp"
        )["properties"]["entity_type"],
        "organization"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_summary_triggers_at_the_token_threshold() {
    let mock = MockLlm::start(32).await;
    let mut env = pairs(mock.env());
    env.push(("SUMMARY_MAX_TOKENS", "30"));
    let server = Server::start(&env);
    let ws = Some("tokens");
    let long = "Kilo Labs runs a long experiment with many careful steps and measurements.";
    server.insert(ws, "k1.txt", long).await;
    server.wait_idle(ws).await;
    server
        .insert(ws, "k2.txt", "Kilo Labs published short notes.")
        .await;
    server.wait_idle(ws).await;
    // 2 fragments, ~20 tokens: joined.
    let graph = server.get("/graphs?label=Kilo%20Labs", ws).await.json();
    assert!(
        node(&graph, "Kilo Labs")["properties"]["description"]
            .as_str()
            .unwrap()
            .contains("<SEP>")
    );
    server
        .insert(
            ws,
            "k3.txt",
            "Kilo Labs moved its whole team into a bright new building near the old harbour.",
        )
        .await;
    server.wait_idle(ws).await;
    // 3 fragments, over 30 tokens: one summary.
    let graph = server.get("/graphs?label=Kilo%20Labs", ws).await.json();
    let description = node(&graph, "Kilo Labs")["properties"]["description"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(description.starts_with("SUMMARY(3): "), "{description}");
}

#[tokio::test(flavor = "multi_thread")]
async fn deleting_one_of_two_documents_keeps_the_shared_entity_with_the_surviving_description() {
    let mock = MockLlm::start(32).await;
    let server = Server::start(&pairs(mock.env()));
    let ws = Some("del");
    let first = server
        .insert(
            ws,
            "notes.txt",
            "Ada Lovelace wrote notes on the Analytical Engine.",
        )
        .await;
    let second = server
        .insert(
            ws,
            "meeting.txt",
            "Ada Lovelace met Charles Babbage in London.",
        )
        .await;
    server.wait_idle(ws).await;
    let graph = server.get("/graphs?label=Ada%20Lovelace", ws).await.json();
    assert!(
        node(&graph, "Ada Lovelace")["properties"]["description"]
            .as_str()
            .unwrap()
            .contains("<SEP>")
    );
    let extractions_before = mock.state.chats();

    let first_id = doc_id(&server, "del", &first).await;
    let reply = server
        .request(
            Method::DELETE,
            "/documents/delete_document",
            ws,
            Some(json!({"doc_ids": [first_id]})),
        )
        .await;
    assert_eq!(reply.json()["status"], "deletion_started");
    wait_for_count(&server, "del", 1).await;
    let labels = server.get("/graph/label/list", ws).await.json();
    assert_eq!(labels, json!(["Ada Lovelace", "Charles Babbage", "London"]));
    let graph = server.get("/graphs?label=Ada%20Lovelace", ws).await.json();
    let ada = &node(&graph, "Ada Lovelace")["properties"];
    assert_eq!(
        ada["description"],
        "Ada Lovelace met Charles Babbage in London."
    );
    assert_eq!(ada["file_path"], "meeting.txt");
    assert!(edge(&graph, "Ada Lovelace", "Analytical Engine").is_none());
    assert!(edge(&graph, "Ada Lovelace", "Charles Babbage").is_some());
    // Rebuilt from cached extraction answers: no model call.
    assert_eq!(mock.state.chats(), extractions_before);
    // The deleted document's chunks are gone from retrieval too.
    assert!(
        !server
            .context(ws, "Who wrote notes on the Analytical Engine?")
            .await
            .contains("notes on")
    );

    let second_id = doc_id(&server, "del", &second).await;
    server
        .request(
            Method::DELETE,
            "/documents/delete_document",
            ws,
            Some(json!({"doc_ids": [second_id]})),
        )
        .await;
    wait_for_count(&server, "del", 0).await;
    assert_eq!(server.get("/graph/label/list", ws).await.json(), json!([]));
    assert_eq!(
        server.get("/graphs?label=*", ws).await.json()["nodes"],
        json!([])
    );
    // An empty workspace is still a valid one.
    server
        .insert(ws, "again.txt", "Grace Hopper wrote the first compiler.")
        .await;
    server.wait_idle(ws).await;
    assert_eq!(
        server.get("/graph/label/list", ws).await.json(),
        json!(["Grace Hopper"])
    );
}

async fn wait_for_count(server: &Server, ws: &str, all: u64) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while server.counts(Some(ws)).await["all"].as_u64() != Some(all) {
        assert!(Instant::now() < deadline, "deletion did not finish");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn two_workspaces_ingesting_the_same_file_do_not_see_each_others_graph() {
    let mock = MockLlm::start(32).await;
    let server = Server::start(&pairs(mock.env()));
    server
        .insert(Some("one"), "same.txt", "Alice Walker visited Lisbon.")
        .await;
    server
        .insert(Some("two"), "same.txt", "Bob Dylan visited Oslo.")
        .await;
    server.wait_idle(Some("one")).await;
    server.wait_idle(Some("two")).await;
    assert_eq!(
        server.get("/graph/label/list", Some("one")).await.json(),
        json!(["Alice Walker", "Lisbon"])
    );
    assert_eq!(
        server.get("/graph/label/list", Some("two")).await.json(),
        json!(["Bob Dylan", "Oslo"])
    );
    assert_eq!(
        server
            .get("/graph/entity/exists?name=Oslo", Some("one"))
            .await
            .json()["exists"],
        false
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn gleaning_adds_missed_entities_and_replaces_only_with_longer_descriptions() {
    let mock = MockLlm::start(32).await;
    *mock.state.glean_answer.lock().unwrap() = Some(
        "entity<|#|>Hidden Valley<|#|>Location<|#|>A valley the first pass missed.\n\
         entity<|#|>Tom Sawyer<|#|>Person<|#|>Short.\n<|COMPLETE|>"
            .into(),
    );
    let server = Server::start(&pairs(mock.env()));
    let ws = Some("glean");
    server
        .insert(
            ws,
            "tom.txt",
            "Tom Sawyer painted the fence with great care.",
        )
        .await;
    server.wait_idle(ws).await;
    let labels = server.get("/graph/label/list", ws).await.json();
    assert_eq!(labels, json!(["Hidden Valley", "Tom Sawyer"]));
    let graph = server.get("/graphs?label=*", ws).await.json();
    assert_eq!(
        node(&graph, "Tom Sawyer")["properties"]["description"],
        "Tom Sawyer painted the fence with great care."
    );
    assert_eq!(
        node(&graph, "Hidden Valley")["properties"]["entity_type"],
        "location"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn failed_documents_can_be_reprocessed() {
    let mock = MockLlm::start(32).await;
    // More failures than retry attempts: the document fails.
    mock.state
        .fail_completions
        .store(3, std::sync::atomic::Ordering::Relaxed);
    let server = Server::start(&pairs(mock.env()));
    let ws = Some("retry");
    server
        .insert(ws, "flaky.txt", "Nina Simone sang in Paris.")
        .await;
    let counts = server.wait_idle(ws).await;
    assert_eq!(counts["failed"], 1, "{counts}");
    let page = server
        .post("/documents/paginated", ws, json!({}))
        .await
        .json();
    assert!(
        page["documents"][0]["error_msg"]
            .as_str()
            .unwrap()
            .contains("HTTP 500"),
        "{page}"
    );
    let reply = server
        .post("/documents/reprocess_failed", ws, json!({}))
        .await;
    assert_eq!(reply.json()["status"], "reprocessing_started");
    let counts = server.wait_idle(ws).await;
    assert_eq!(counts["processed"], 1, "{counts}");
    assert_eq!(
        server.get("/graph/label/list", ws).await.json(),
        json!(["Nina Simone", "Paris"])
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn scan_enqueues_new_text_files_of_the_workspace_input_directory() {
    let mock = MockLlm::start(32).await;
    let server = Server::start(&pairs(mock.env()));
    let inputs = server.root().join("inputs").join("scanned");
    std::fs::create_dir_all(&inputs).unwrap();
    std::fs::write(inputs.join("a.txt"), "Isaac Newton studied light.").unwrap();
    std::fs::write(
        inputs.join("b.md"),
        "# Notes\nGottfried Leibniz wrote about calculus.",
    )
    .unwrap();
    std::fs::write(inputs.join("c.png"), "not text").unwrap();
    let outside = server.root().join("outside-secret.txt");
    std::fs::write(&outside, "Secret Agent hides here.").unwrap();
    std::os::unix::fs::symlink(&outside, inputs.join("link.txt")).unwrap();
    let ws = Some("scanned");
    let reply = server.post("/documents/scan", ws, json!({})).await;
    assert_eq!(reply.json()["status"], "scanning_started", "{}", reply.text);
    assert!(
        reply.json()["track_id"]
            .as_str()
            .unwrap()
            .starts_with("scan_")
    );
    let counts = server.wait_idle(ws).await;
    assert_eq!(counts["processed"], 2, "{counts}");
    let labels = server.get("/graph/label/list", ws).await.json();
    assert!(!labels.to_string().contains("Secret Agent"), "{labels}");
    // The scanned files were moved aside; a second scan finds nothing to add.
    assert!(inputs.join("__parsed__/a.txt").exists() && !inputs.join("a.txt").exists());
    let reply = server.post("/documents/scan", ws, json!({})).await;
    let track = reply.json()["track_id"].as_str().unwrap().to_string();
    let status = server
        .get(&format!("/documents/scan/status/{track}"), ws)
        .await
        .json();
    assert_eq!(status["counts"]["enqueued"], 0, "{status}");
    assert_eq!(status["status"], "completed", "{status}");
    assert_eq!(server.wait_idle(ws).await["all"], 2);
}
