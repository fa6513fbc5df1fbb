//! What entities and relations record of their sources, within LightRAG's limits
//! (`MAX_SOURCE_IDS_PER_ENTITY`, `MAX_SOURCE_IDS_PER_RELATION`, `MAX_FILE_PATHS`,
//! `SOURCE_IDS_LIMIT_METHOD`), while the full list stays known for deletion.

use crate::harness::{Server, pairs};
use crate::mock_llm::MockLlm;
use reqwest::Method;
use serde_json::{Value, json};

/// Three documents that each mention Zorro (and Diego, in the same sentence).
async fn three_mentions(server: &Server, ws: Option<&str>) {
    for (file, text) in [
        ("a.txt", "Zorro rides with Diego at dawn."),
        ("b.txt", "Zorro fences with Diego at noon."),
        ("c.txt", "Zorro dines with Diego at dusk."),
    ] {
        server.insert(ws, file, text).await;
        server.wait_idle(ws).await;
    }
}

async fn node(server: &Server, ws: Option<&str>, name: &str) -> Option<Value> {
    let graph = server
        .get(&format!("/graphs?label={name}&max_depth=1"), ws)
        .await
        .json();
    graph["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["id"] == name)
        .map(|n| n["properties"].clone())
}

fn chunks_of(source_id: &Value) -> Vec<String> {
    source_id
        .as_str()
        .unwrap()
        .split("<SEP>")
        .map(str::to_string)
        .collect()
}

async fn chunk_of(server: &Server, ws: Option<&str>, file: &str) -> String {
    let page = server
        .post(
            "/documents/paginated",
            ws,
            json!({"page": 1, "page_size": 10}),
        )
        .await
        .json();
    let doc = page["documents"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["file_path"] == file)
        .unwrap()
        .clone();
    format!("{}-chunk-000", doc["id"].as_str().unwrap())
}

#[tokio::test(flavor = "multi_thread")]
async fn source_lists_keep_the_oldest_by_default_and_the_newest_with_fifo() {
    let mock = MockLlm::start(32).await;
    for (method, kept, truncate, marker) in [
        (
            "KEEP",
            ["a.txt", "b.txt"],
            "KEEP Old",
            "...truncated...(KEEP Old)",
        ),
        (
            "FIFO",
            ["b.txt", "c.txt"],
            "FIFO 2/3",
            "...truncated...(FIFO)",
        ),
    ] {
        let mut env = pairs(mock.env());
        env.extend([
            ("MAX_SOURCE_IDS_PER_ENTITY", "2"),
            ("MAX_SOURCE_IDS_PER_RELATION", "2"),
            ("MAX_FILE_PATHS", "2"),
            ("SOURCE_IDS_LIMIT_METHOD", method),
        ]);
        let server = Server::start(&env);
        let ws = Some("bounded");
        three_mentions(&server, ws).await;
        let zorro = node(&server, ws, "Zorro").await.expect("Zorro");
        let mut expected = Vec::new();
        for file in kept {
            expected.push(chunk_of(&server, ws, file).await);
        }
        assert_eq!(
            chunks_of(&zorro["source_id"]),
            expected,
            "{method}: {zorro}"
        );
        assert_eq!(zorro["truncate"], truncate, "{method}");
        assert_eq!(
            zorro["file_path"],
            format!("{}<SEP>{}<SEP>{marker}", kept[0], kept[1]),
            "{method}"
        );
        let graph = server
            .get("/graphs?label=Zorro&max_depth=1", ws)
            .await
            .json();
        let edge = &graph["edges"][0]["properties"];
        assert_eq!(chunks_of(&edge["source_id"]), expected, "{method}: {edge}");
        assert_eq!(edge["truncate"], truncate, "{method}");
    }
}

/// Regression: an edit rewrote an entity's full chunk list from the ids its
/// `source_id` shows — at most the limit — so deleting the documents it showed then
/// deleted the entity, though another document still mentioned it.
#[tokio::test(flavor = "multi_thread")]
async fn an_edit_keeps_the_full_chunk_list_that_deletion_rebuilds_from() {
    let mock = MockLlm::start(32).await;
    let mut env = pairs(mock.env());
    env.push(("MAX_SOURCE_IDS_PER_ENTITY", "2"));
    let server = Server::start(&env);
    let ws = Some("edited");
    three_mentions(&server, ws).await;
    let edit = server
        .post(
            "/graph/entity/edit",
            ws,
            json!({"entity_name": "Zorro", "updated_data": {"description": "A masked rider."}}),
        )
        .await;
    assert_eq!(edit.status, 200, "{}", edit.text);
    let shown = node(&server, ws, "Zorro").await.unwrap();
    assert_eq!(chunks_of(&shown["source_id"]).len(), 2);
    let page = server
        .post(
            "/documents/paginated",
            ws,
            json!({"page": 1, "page_size": 10}),
        )
        .await
        .json();
    let ids: Vec<Value> = page["documents"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|d| d["file_path"] != "c.txt")
        .map(|d| d["id"].clone())
        .collect();
    let reply = server
        .request(
            Method::DELETE,
            "/documents/delete_document",
            ws,
            Some(json!({"doc_ids": ids})),
        )
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    // Deletion runs in the background.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while server.counts(ws).await["all"] != 1 {
        assert!(
            std::time::Instant::now() < deadline,
            "the deletion did not finish"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let zorro = node(&server, ws, "Zorro")
        .await
        .expect("c.txt still mentions Zorro");
    assert_eq!(
        chunks_of(&zorro["source_id"]),
        [chunk_of(&server, ws, "c.txt").await]
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn an_unknown_limit_method_stops_start_up_naming_the_setting() {
    let dir = tempfile::tempdir().unwrap();
    let log = Server::try_start_in(dir.path(), &[("SOURCE_IDS_LIMIT_METHOD", "LIFO")])
        .err()
        .expect("the server must refuse to start");
    assert!(log.contains("SOURCE_IDS_LIMIT_METHOD"), "{log}");
}
