//! Editing the graph by hand: LightRAG's routes, rules and messages; durability.

use crate::harness::{Server, pairs};
use crate::mock_llm::MockLlm;
use reqwest::Method;
use serde_json::{Value, json};
use std::sync::atomic::Ordering;

async fn seeded(mock: &MockLlm) -> Server {
    let server = Server::start(&pairs(mock.env()));
    server
        .insert(
            Some("ed"),
            "team.txt",
            "Alice Smith works with Bob Jones. Bob Jones lives in Paris.",
        )
        .await;
    server.wait_idle(Some("ed")).await;
    server
}

async fn node(server: &Server, name: &str) -> Option<Value> {
    let graph = server.get("/graphs?label=*", Some("ed")).await.json();
    graph["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["id"] == name)
        .cloned()
}

async fn edges(server: &Server) -> Vec<(String, String)> {
    let graph = server.get("/graphs?label=*", Some("ed")).await.json();
    graph["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["source"].as_str().unwrap().to_string(),
                e["target"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

fn pair(a: &str, b: &str) -> (String, String) {
    (a.to_string(), b.to_string())
}

#[tokio::test(flavor = "multi_thread")]
async fn entities_and_relations_can_be_created_with_lightrag_rules() {
    let mock = MockLlm::start(32).await;
    let server = seeded(&mock).await;
    let ws = Some("ed");
    let reply = server
        .post("/graph/entity/create", ws, json!({"entity_name": " Carol King ", "entity_data": {"description": "A songwriter.", "entity_type": "person"}}))
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    let body = reply.json();
    assert_eq!(body["message"], "Entity 'Carol King' created successfully");
    assert_eq!(body["data"]["graph_data"]["source_id"], "manual_creation");
    assert_eq!(body["data"]["graph_data"]["file_path"], "manual_creation");
    for (body, status) in [
        (
            json!({"entity_name": "Carol King", "entity_data": {"description": "Again."}}),
            400,
        ),
        (
            json!({"entity_name": "  ", "entity_data": {"description": "Blank name."}}),
            400,
        ),
        (
            json!({"entity_name": "Dan", "entity_data": {"description": ""}}),
            400,
        ),
        (json!({"entity_name": "Dan"}), 422),
        (
            json!({"entity_name": "Dan", "entity_data": "a description"}),
            422,
        ),
    ] {
        let reply = server.post("/graph/entity/create", ws, body.clone()).await;
        assert_eq!(reply.status, status, "{body}: {}", reply.text);
    }
    let reply = server
        .post("/graph/relation/create", ws, json!({"source_entity": "Carol King", "target_entity": "Alice Smith",
            "relation_data": {"description": "Carol King wrote a song for Alice Smith.", "keywords": "song"}}))
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert_eq!(
        reply.json()["message"],
        "Relation created successfully between 'Carol King' and 'Alice Smith'"
    );
    assert_eq!(reply.json()["data"]["src_entity"], "Alice Smith");
    assert!(
        edges(&server)
            .await
            .contains(&pair("Alice Smith", "Carol King"))
    );
    for body in [
        json!({"source_entity": "Carol King", "target_entity": "Carol King", "relation_data": {"description": "self"}}),
        json!({"source_entity": "Carol King", "target_entity": "Nobody", "relation_data": {"description": "x"}}),
        json!({"source_entity": "Alice Smith", "target_entity": "Carol King", "relation_data": {"description": "again"}}),
    ] {
        let reply = server
            .post("/graph/relation/create", ws, body.clone())
            .await;
        assert_eq!(reply.status, 400, "{body}: {}", reply.text);
    }
    // The new entity is embedded: local retrieval by its name finds it first.
    let data = server
        .post("/query/data", ws, json!({"query": "songwriter please", "mode": "local", "ll_keywords": ["Carol King songwriter"], "top_k": 1}))
        .await
        .json();
    assert_eq!(
        data["data"]["entities"][0]["entity_name"], "Carol King",
        "{data}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn editing_renaming_and_merging_entities() {
    let mock = MockLlm::start(32).await;
    let server = seeded(&mock).await;
    let ws = Some("ed");
    let reply = server
        .post("/graph/entity/edit", ws, json!({"entity_name": "Bob Jones", "updated_data": {"description": "Bob Jones repairs bicycles."}}))
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert_eq!(reply.json()["message"], "Entity updated successfully");
    assert_eq!(reply.json()["operation_summary"]["renamed"], false);
    assert_eq!(
        node(&server, "Bob Jones").await.unwrap()["properties"]["description"],
        "Bob Jones repairs bicycles."
    );
    let bad = server
        .post(
            "/graph/entity/edit",
            ws,
            json!({"entity_name": "Bob Jones", "updated_data": {"colour": "blue"}}),
        )
        .await;
    assert_eq!(bad.status, 400);
    let missing = server
        .post(
            "/graph/entity/edit",
            ws,
            json!({"entity_name": "Nobody", "updated_data": {"description": "x"}}),
        )
        .await;
    assert_eq!(missing.status, 404);

    // Rename: refused without allow_rename; with it, relations follow the new name.
    let rename =
        json!({"entity_name": "Bob Jones", "updated_data": {"entity_name": "Robert Jones"}});
    assert_eq!(
        server
            .post("/graph/entity/edit", ws, rename.clone())
            .await
            .status,
        400
    );
    let mut allowed = rename.clone();
    allowed["allow_rename"] = json!(true);
    let reply = server.post("/graph/entity/edit", ws, allowed).await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert_eq!(
        reply.json()["operation_summary"]["final_entity"],
        "Robert Jones"
    );
    assert!(node(&server, "Bob Jones").await.is_none());
    assert!(node(&server, "Robert Jones").await.is_some());
    let links = edges(&server).await;
    assert!(
        links.contains(&pair("Alice Smith", "Robert Jones")),
        "{links:?}"
    );
    assert!(links.contains(&pair("Paris", "Robert Jones")), "{links:?}");

    // Renaming onto an existing entity needs allow_merge.
    let onto = json!({"entity_name": "Robert Jones", "updated_data": {"entity_name": "Alice Smith"}, "allow_rename": true});
    assert_eq!(
        server
            .post("/graph/entity/edit", ws, onto.clone())
            .await
            .status,
        400
    );
    let mut merge = onto;
    merge["allow_merge"] = json!(true);
    let reply = server.post("/graph/entity/edit", ws, merge).await.json();
    assert_eq!(
        reply["message"],
        "Entity merged successfully into 'Alice Smith'"
    );
    assert_eq!(reply["operation_summary"]["merged"], true);
    let alice = node(&server, "Alice Smith").await.unwrap();
    assert!(
        alice["properties"]["description"]
            .as_str()
            .unwrap()
            .contains("repairs bicycles")
    );
    let links = edges(&server).await;
    assert_eq!(
        links,
        vec![pair("Alice Smith", "Paris")],
        "the relation between the two merged ones disappears"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn merging_several_entities_moves_their_relations() {
    let mock = MockLlm::start(32).await;
    let server = seeded(&mock).await;
    let ws = Some("ed");
    let reply = server
        .post("/graph/entities/merge", ws, json!({"entities_to_change": ["Alice Smith", "Paris"], "entity_to_change_into": "Team"}))
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert_eq!(
        reply.json()["message"],
        "Successfully merged 2 entities into 'Team'"
    );
    let labels = server.get("/graph/label/list", ws).await.json();
    assert_eq!(labels, json!(["Bob Jones", "Team"]));
    let links = edges(&server).await;
    assert_eq!(links, vec![pair("Bob Jones", "Team")]);
    let graph = server.get("/graphs?label=Team", ws).await.json();
    let edge = &graph["edges"][0]["properties"];
    assert_eq!(
        edge["weight"], 2.0,
        "two relations to Bob Jones became one: {edge}"
    );
    let missing = server
        .post(
            "/graph/entities/merge",
            ws,
            json!({"entities_to_change": ["Nobody"], "entity_to_change_into": "Team"}),
        )
        .await;
    assert_eq!(missing.status, 404);
}

#[tokio::test(flavor = "multi_thread")]
async fn deleting_and_editing_relations_and_entities() {
    let mock = MockLlm::start(32).await;
    let server = seeded(&mock).await;
    let ws = Some("ed");
    let reply = server
        .post("/graph/relation/edit", ws, json!({"source_id": "Paris", "target_id": "Bob Jones", "updated_data": {"description": "Bob Jones moved to Paris.", "weight": 3}}))
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert_eq!(reply.json()["data"]["graph_data"]["weight"], 3.0);
    let too_light = server
        .post(
            "/graph/relation/edit",
            ws,
            json!({"source_id": "Paris", "target_id": "Bob Jones", "updated_data": {"weight": -1}}),
        )
        .await;
    assert_eq!(too_light.status, 400);
    let reply = server
        .request(
            Method::DELETE,
            "/graph/relation/delete",
            ws,
            Some(json!({"source_entity": "Bob Jones", "target_entity": "Paris"})),
        )
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert_eq!(reply.json()["status_code"], 200);
    assert!(!edges(&server).await.contains(&pair("Bob Jones", "Paris")));
    let again = server
        .request(
            Method::DELETE,
            "/graph/relation/delete",
            ws,
            Some(json!({"source_entity": "Bob Jones", "target_entity": "Paris"})),
        )
        .await;
    assert_eq!(again.status, 404);
    // The LightRAG 1.4 alias.
    let reply = server
        .request(
            Method::DELETE,
            "/documents/delete_entity",
            ws,
            Some(json!({"entity_name": "Alice Smith"})),
        )
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert_eq!(
        server
            .get("/graph/entity/exists?name=Alice%20Smith", ws)
            .await
            .json()["exists"],
        false
    );
    assert!(edges(&server).await.is_empty());
    let gone = server
        .request(
            Method::DELETE,
            "/graph/entity/delete",
            ws,
            Some(json!({"entity_name": "Alice Smith"})),
        )
        .await;
    assert_eq!(gone.status, 404);
    assert_eq!(gone.json()["detail"], "Entity 'Alice Smith' not found.");
}

/// An acknowledged edit survives `kill -9`.
#[tokio::test(flavor = "multi_thread")]
async fn edits_are_durable_when_acknowledged() {
    let mock = MockLlm::start(32).await;
    let env = mock.env().to_vec();
    let server = seeded(&mock).await;
    let ws = Some("ed");
    server
        .post(
            "/graph/entity/create",
            ws,
            json!({"entity_name": "Durable Thing", "entity_data": {"description": "It stays."}}),
        )
        .await;
    server
        .post("/graph/entity/edit", ws, json!({"entity_name": "Paris", "updated_data": {"entity_name": "Lutetia"}, "allow_rename": true}))
        .await;
    let root = server.root();
    server.kill9();
    let server = Server::start_in(&root, &pairs(&env));
    let labels = server.get("/graph/label/list", ws).await.json();
    assert_eq!(
        labels,
        json!(["Alice Smith", "Bob Jones", "Durable Thing", "Lutetia"])
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn edits_wait_for_the_pipeline() {
    let mock = MockLlm::start(32).await;
    let server = seeded(&mock).await;
    mock.state.embed_latency_ms.store(1500, Ordering::Relaxed);
    server
        .insert(Some("ed"), "slow.txt", "Zoe Park visits Rome.")
        .await;
    let reply = server
        .post(
            "/graph/entity/create",
            Some("ed"),
            json!({"entity_name": "Busy Thing", "entity_data": {"description": "x"}}),
        )
        .await;
    assert_eq!(reply.status, 409, "{}", reply.text);
    assert!(
        reply.json()["detail"]
            .as_str()
            .unwrap()
            .starts_with("Pipeline is busy")
    );
    server.wait_idle(Some("ed")).await;
}

/// Regression: an edit whose embedding call still failed after the retries answered
/// 500 (an error id, the cause hidden); it is the provider's outage, a 503 to retry.
#[tokio::test(flavor = "multi_thread")]
async fn an_edit_the_model_provider_cannot_embed_is_a_503_to_retry() {
    let mock = MockLlm::start(32).await;
    let mut env = pairs(mock.env());
    env.push(("LIGHTRAG_MODEL_RETRY_ATTEMPTS", "2"));
    let server = Server::start(&env);
    let create = json!({"entity_name": "Harpoon", "entity_data": {"description": "A tool.", "entity_type": "equipment"}});
    mock.state.chaos_percent.store(100, Ordering::Relaxed);
    let reply = server
        .post("/graph/entity/create", Some("outage"), create.clone())
        .await;
    assert_eq!(reply.status, 503, "{}", reply.text);
    assert!(reply.headers.get("retry-after").is_some());
    assert!(
        reply.json()["detail"]
            .as_str()
            .unwrap()
            .contains("model provider"),
        "{}",
        reply.text
    );
    mock.state.chaos_percent.store(0, Ordering::Relaxed);
    let reply = server
        .post("/graph/entity/create", Some("outage"), create)
        .await;
    assert_eq!(
        reply.status, 200,
        "nothing was kept from the failed edit: {}",
        reply.text
    );
}
