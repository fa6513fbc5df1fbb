//! API documentation: `/openapi.json` lists every route the server has (read from the
//! source's `.route(...)` calls), Swagger UI is served offline, both are public, and
//! `ENABLE_API_DOCS=false` removes them.

use crate::harness::Server;
use serde_json::Value;
use std::path::{Path, PathBuf};

/// Every `(method, path)` the router declares, read from host/src/routes.
fn declared_routes() -> Vec<(String, String)> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        for entry in std::fs::read_dir(dir).unwrap().flatten() {
            let path = entry.path();
            if path.is_dir() {
                walk(&path, out);
            } else if path.extension().is_some_and(|e| e == "rs") {
                out.push(path);
            }
        }
    }
    let mut files = Vec::new();
    walk(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("src/routes"),
        &mut files,
    );
    let mut routes = Vec::new();
    for file in files {
        let source = std::fs::read_to_string(&file).unwrap();
        for (at, _) in source.match_indices(".route(\"") {
            let rest = &source[at + ".route(\"".len()..];
            let path = &rest[..rest.find('"').unwrap()];
            // Then `, get(handler).post(other))`: each method name before a `(`.
            let mut chain = rest[path.len() + 1..].trim_start_matches([',', ' ', '\n']);
            loop {
                let name_end = chain.find('(').unwrap();
                let method = chain[..name_end].trim();
                routes.push((method.to_uppercase(), path.to_string()));
                let close = chain.find(')').unwrap();
                chain = &chain[close + 1..];
                match chain.strip_prefix('.') {
                    Some(next) => chain = next,
                    None => break,
                }
            }
        }
    }
    routes.sort();
    routes.dedup();
    routes
}

#[tokio::test(flavor = "multi_thread")]
async fn openapi_lists_every_route_and_swagger_ui_is_served_offline() {
    let server = Server::start(&[("LIGHTRAG_API_KEY", "docs-key")]);
    // Public even with a key on, as in LightRAG.
    let reply = server.get("/openapi.json", None).await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    let doc: Value = reply.json();
    assert!(
        doc["openapi"].as_str().unwrap().starts_with("3."),
        "{}",
        doc["openapi"]
    );
    let declared = declared_routes();
    assert!(declared.len() > 40, "{declared:?}");
    for (method, path) in &declared {
        let operation = &doc["paths"][path][method.to_lowercase()];
        assert!(operation.is_object(), "{method} {path} is not documented");
        assert!(operation["responses"]["200"].is_object(), "{method} {path}");
    }
    let documented: usize = doc["paths"]
        .as_object()
        .unwrap()
        .values()
        .map(|item| item.as_object().unwrap().len())
        .sum();
    assert_eq!(
        documented,
        declared.len(),
        "documented routes the router lacks"
    );
    // Request bodies come from the body types.
    let query =
        &doc["paths"]["/query"]["post"]["requestBody"]["content"]["application/json"]["schema"];
    assert!(query["properties"]["mode"].is_object(), "{query}");
    assert!(
        query["properties"]["conversation_history"].is_object(),
        "{query}"
    );
    let upload = &doc["paths"]["/documents/upload"]["post"]["requestBody"]["content"];
    assert!(upload["multipart/form-data"].is_object(), "{upload}");

    let page = server.get("/docs/", None).await;
    assert_eq!(page.status, 200);
    assert!(
        page.text.to_lowercase().contains("swagger"),
        "{}",
        page.text
    );
    let bundle = server.get("/docs/swagger-ui-bundle.js", None).await;
    assert_eq!(bundle.status, 200);
    assert!(bundle.text.len() > 100_000, "the bundled Swagger UI");

    let off = Server::start(&[("ENABLE_API_DOCS", "false")]);
    assert_eq!(off.get("/openapi.json", None).await.status, 404);
    assert_eq!(off.get("/docs/", None).await.status, 404);
}
