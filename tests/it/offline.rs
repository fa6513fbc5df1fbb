//! The embedded defaults: no model server, no key, no network.

use crate::harness::Server;
use serde_json::json;

#[tokio::test(flavor = "multi_thread")]
async fn the_server_ingests_and_answers_with_no_configuration_at_all() {
    let server = Server::start(&[]);
    let ws = Some("offline");
    server
        .insert(ws, "curie.txt", "Marie Curie was a physicist and chemist who worked at the University of Paris. She shared the Nobel Prize in Physics with Pierre Curie.")
        .await;
    server
        .insert(
            ws,
            "bees.txt",
            "Honey bees communicate the location of flowers with a waggle dance inside the hive.",
        )
        .await;
    assert_eq!(server.wait_idle(ws).await["processed"], 2);
    let body = server
        .post(
            "/query",
            ws,
            json!({"query": "How do bees tell each other where flowers are?", "mode": "naive"}),
        )
        .await
        .json();
    let answer = body["response"].as_str().unwrap();
    assert!(answer.contains("Offline mode"), "{answer}");
    assert!(answer.contains("waggle dance"), "{answer}");
    // A real (if small) embedding model: the paraphrased question finds the bee text first.
    assert_eq!(body["references"][0]["file_path"], "bees.txt", "{body}");
    let health = server.get("/health", ws).await.json();
    assert_eq!(health["configuration"]["embedding_dim"], 384);
    assert_eq!(health["configuration"]["llm_binding"], "offline");
}
