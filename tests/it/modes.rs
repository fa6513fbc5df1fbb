//! The knowledge-graph query modes: keywords, retrieval per mode, budgets,
//! `/query/data`, caching by mode.

use crate::harness::{Server, pairs};
use crate::mock_llm::{MockLlm, purpose_of};
use serde_json::{Value, json};

async fn corpus(mock: &MockLlm, extra: &[(&str, &str)]) -> Server {
    let mut env = pairs(mock.env());
    env.extend_from_slice(extra);
    let server = Server::start(&env);
    let ws = Some("kgq");
    server
        .insert(
            ws,
            "nova.txt",
            "Alice Smith founded Nova Labs in Berlin. Nova Labs builds quiet satellites.",
        )
        .await;
    server
        .insert(
            ws,
            "orion.txt",
            "Nova Labs designed the Orion Engine. Bob Jones tested the Orion Engine in Munich.",
        )
        .await;
    server
        .insert(
            ws,
            "art.txt",
            "Carol White painted murals in Lisbon. Carol White admires Dora Maar.",
        )
        .await;
    server.wait_idle(ws).await;
    server
}

async fn data(server: &Server, body: Value) -> Value {
    let reply = server.post("/query/data", Some("kgq"), body).await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    reply.json()
}

fn names(list: &Value, field: &str) -> Vec<String> {
    list.as_array()
        .unwrap()
        .iter()
        .map(|v| v[field].as_str().unwrap().to_string())
        .collect()
}

fn calls(mock: &MockLlm, purpose: &str) -> usize {
    mock.state
        .log()
        .iter()
        .filter(|l| l.kind == "chat" && purpose_of(&l.messages) == purpose)
        .count()
}

#[tokio::test(flavor = "multi_thread")]
async fn local_mode_retrieves_entities_by_low_level_keywords_and_their_relations() {
    let mock = MockLlm::start(64).await;
    let server = corpus(&mock, &[]).await;
    let body = data(
        &server,
        json!({"query": "Who founded Nova Labs?", "mode": "local", "top_k": 2}),
    )
    .await;
    assert_eq!(body["status"], "success");
    assert_eq!(body["metadata"]["query_mode"], "local");
    assert_eq!(
        body["metadata"]["keywords"]["low_level"],
        json!(["Nova Labs"])
    );
    let entities = names(&body["data"]["entities"], "entity_name");
    assert_eq!(entities[0], "Nova Labs", "{entities:?}");
    assert_eq!(entities.len(), 2);
    // Every relation around the retrieved entities, none elsewhere.
    let relations = body["data"]["relationships"].as_array().unwrap();
    assert!(
        relations
            .iter()
            .any(|r| r["src_id"] == "Alice Smith" && r["tgt_id"] == "Nova Labs")
    );
    for r in relations {
        let (a, b) = (r["src_id"].as_str().unwrap(), r["tgt_id"].as_str().unwrap());
        assert!(entities.iter().any(|e| e == a || e == b), "{r}");
        assert!(a < b);
    }
    let info = &body["metadata"]["processing_info"];
    for key in [
        "total_entities_found",
        "total_relations_found",
        "entities_after_truncation",
        "relations_after_truncation",
        "merged_chunks_count",
        "final_chunks_count",
    ] {
        assert!(info[key].is_u64(), "{key}: {info}");
    }
    // Chunks come from the entities' sources and carry reference ids.
    let chunks = body["data"]["chunks"].as_array().unwrap();
    assert!(!chunks.is_empty());
    for chunk in chunks {
        assert!(chunk["chunk_id"].as_str().unwrap().contains("-chunk-"));
        assert!(!chunk["reference_id"].as_str().unwrap().is_empty());
    }
    let references = names(&body["data"]["references"], "file_path");
    assert!(
        references.contains(&"nova.txt".to_string()),
        "{references:?}"
    );
    for entity in body["data"]["entities"].as_array().unwrap() {
        for key in [
            "entity_name",
            "entity_type",
            "description",
            "source_id",
            "file_path",
        ] {
            assert!(entity[key].is_string(), "{key}");
        }
        assert!(entity["created_at"].is_i64());
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn global_mode_retrieves_relations_by_high_level_keywords_and_their_endpoints() {
    let mock = MockLlm::start(64).await;
    let server = corpus(&mock, &[]).await;
    let body = data(
        &server,
        json!({"query": "which company designed the engine", "mode": "global", "top_k": 1}),
    )
    .await;
    assert_eq!(
        body["metadata"]["keywords"]["high_level"],
        json!(["which", "company", "designed", "engine"])
    );
    let relations = body["data"]["relationships"].as_array().unwrap();
    assert_eq!(relations.len(), 1);
    assert_eq!(
        (
            relations[0]["src_id"].as_str(),
            relations[0]["tgt_id"].as_str()
        ),
        (Some("Nova Labs"), Some("Orion Engine"))
    );
    assert_eq!(
        names(&body["data"]["entities"], "entity_name"),
        ["Nova Labs", "Orion Engine"]
    );
    for key in [
        "src_id",
        "tgt_id",
        "description",
        "keywords",
        "source_id",
        "file_path",
    ] {
        assert!(relations[0][key].is_string(), "{key}");
    }
    assert!(relations[0]["weight"].is_f64());
}

#[tokio::test(flavor = "multi_thread")]
async fn hybrid_interleaves_local_and_global_and_mix_adds_the_query_chunks() {
    let mock = MockLlm::start(64).await;
    let server = corpus(&mock, &[]).await;
    let question = json!({"query": "Who painted murals in Lisbon?", "mode": "local", "top_k": 1});
    let local = data(&server, question.clone()).await;
    let mut global_question = question.clone();
    global_question["mode"] = json!("global");
    let global = data(&server, global_question).await;
    let mut hybrid_question = question.clone();
    hybrid_question["mode"] = json!("hybrid");
    let hybrid = data(&server, hybrid_question).await;
    let local_entities = names(&local["data"]["entities"], "entity_name");
    let global_entities = names(&global["data"]["entities"], "entity_name");
    let hybrid_entities = names(&hybrid["data"]["entities"], "entity_name");
    // Round robin: local[0], global[0], local[1], … without duplicates.
    let mut expected: Vec<String> = Vec::new();
    for i in 0..local_entities.len().max(global_entities.len()) {
        for list in [&local_entities, &global_entities] {
            if let Some(name) = list.get(i)
                && !expected.contains(name)
            {
                expected.push(name.clone());
            }
        }
    }
    assert_eq!(hybrid_entities, expected);

    let mut mix_question = question.clone();
    mix_question["mode"] = json!("mix");
    mix_question["chunk_top_k"] = json!(5);
    let mix = data(&server, mix_question).await;
    let mut naive_question = question;
    naive_question["mode"] = json!("naive");
    naive_question["chunk_top_k"] = json!(1);
    let naive = data(&server, naive_question).await;
    let top_chunk = naive["data"]["chunks"][0]["chunk_id"]
        .as_str()
        .unwrap()
        .to_string();
    // The query's own best chunk comes first in mix (vector chunks lead the round robin).
    assert_eq!(mix["data"]["chunks"][0]["chunk_id"], top_chunk);
    assert_eq!(naive["data"]["entities"], json!([]));
    assert!(naive["metadata"]["processing_info"]["total_chunks_found"].is_u64());
}

#[tokio::test(flavor = "multi_thread")]
async fn given_keywords_skip_the_model_and_model_keywords_are_cached() {
    let mock = MockLlm::start(64).await;
    let server = corpus(&mock, &[]).await;
    let body = data(
        &server,
        json!({"query": "anything about satellites", "mode": "local",
        "ll_keywords": ["Bob Jones"], "hl_keywords": ["testing"]}),
    )
    .await;
    assert_eq!(calls(&mock, "keywords"), 0);
    assert_eq!(
        body["metadata"]["keywords"]["low_level"],
        json!(["Bob Jones"])
    );
    assert_eq!(
        names(&body["data"]["entities"], "entity_name")[0],
        "Bob Jones"
    );
    data(
        &server,
        json!({"query": "Who tested the Orion Engine?", "mode": "local"}),
    )
    .await;
    data(
        &server,
        json!({"query": "Who tested the Orion Engine?", "mode": "local"}),
    )
    .await;
    assert_eq!(calls(&mock, "keywords"), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn budgets_hold_when_counted_with_the_same_tokenizer() {
    let mock = MockLlm::start(64).await;
    let server = corpus(&mock, &[]).await;
    let bpe = tiktoken_rs::o200k_base().unwrap();
    let count = |text: &str| bpe.encode_ordinary(text).len();
    let full = data(
        &server,
        json!({"query": "Tell me about Nova Labs and Carol White", "mode": "hybrid"}),
    )
    .await;
    let all_entities = full["metadata"]["processing_info"]["entities_after_truncation"]
        .as_u64()
        .unwrap();
    assert!(all_entities > 3);
    let limited = data(
        &server,
        json!({"query": "Tell me about Nova Labs and Carol White", "mode": "hybrid",
        "max_entity_tokens": 60, "max_relation_tokens": 60}),
    )
    .await;
    let info = &limited["metadata"]["processing_info"];
    assert!(
        info["entities_after_truncation"].as_u64().unwrap() < all_entities,
        "{info}"
    );
    assert!(
        info["entities_after_truncation"].as_u64().unwrap() >= 1,
        "{info}"
    );
    let context = server
        .post(
            "/query",
            Some("kgq"),
            json!({"query": "Tell me about Nova Labs and Carol White", "mode": "hybrid",
            "max_entity_tokens": 60, "max_relation_tokens": 60, "only_need_context": true}),
        )
        .await
        .json()["response"]
        .as_str()
        .unwrap()
        .to_string();
    let section = |title: &str| -> String {
        let after = context.split(title).nth(1).unwrap();
        after
            .split("```json\n")
            .nth(1)
            .unwrap()
            .split("\n```")
            .next()
            .unwrap()
            .to_string()
    };
    assert!(count(&section("(Entity)")) <= 60, "{}", section("(Entity)"));
    assert!(count(&section("(Relationship)")) <= 60);
    // The whole prompt stays within max_total_tokens.
    for max_total in [900, 1200] {
        let prompt = server
            .post(
                "/query",
                Some("kgq"),
                json!({"query": "Tell me about Nova Labs and Carol White", "mode": "mix",
                "max_total_tokens": max_total, "only_need_prompt": true}),
            )
            .await
            .json()["response"]
            .as_str()
            .unwrap()
            .to_string();
        assert!(
            count(&prompt) <= max_total,
            "{} > {max_total}",
            count(&prompt)
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn answers_are_cached_per_mode_and_the_context_reaches_the_model() {
    let mock = MockLlm::start(64).await;
    let server = corpus(&mock, &[]).await;
    let ask = |mode: &str| json!({"query": "Who tested the Orion Engine?", "mode": mode});
    let local = server
        .post("/query", Some("kgq"), ask("local"))
        .await
        .json();
    let answer = local["response"].as_str().unwrap();
    assert!(
        answer.contains("Knowledge Graph Data (Entity)") && answer.contains("Bob Jones"),
        "{answer}"
    );
    assert_eq!(local["llm_generated"], true);
    assert!(!local["references"].as_array().unwrap().is_empty());
    let answers = calls(&mock, "answer");
    server.post("/query", Some("kgq"), ask("global")).await;
    assert_eq!(
        calls(&mock, "answer"),
        answers + 1,
        "another mode must not reuse the answer"
    );
    let again = server
        .post("/query", Some("kgq"), ask("local"))
        .await
        .json();
    assert_eq!(calls(&mock, "answer"), answers + 1);
    assert_eq!(again["llm_generated"], false);
    assert_eq!(again["response"], local["response"]);
}

#[tokio::test(flavor = "multi_thread")]
async fn query_data_reports_failures_in_lightrag_shapes() {
    let mock = MockLlm::start(64).await;
    let server = Server::start(&pairs(mock.env()));
    let reply = server
        .post(
            "/query/data",
            Some("empty"),
            json!({"query": "Who founded Nova Labs?", "mode": "local"}),
        )
        .await;
    assert_eq!(reply.status, 200);
    assert_eq!(
        reply.json(),
        json!({"status": "failure", "message": "Query returned no results", "data": {},
        "metadata": {"failure_reason": "no_results", "mode": "local"}})
    );
    let reply = server
        .post(
            "/query/data",
            Some("empty"),
            json!({"query": "Who founded Nova Labs?", "mode": "naive"}),
        )
        .await;
    assert_eq!(
        reply.json()["message"],
        "No relevant document chunks found."
    );
    let reply = server
        .post(
            "/query/data",
            Some("empty"),
            json!({"query": "Who founded Nova Labs?", "mode": "sideways"}),
        )
        .await;
    assert_eq!(reply.status, 400);
    let body = reply.json();
    assert_eq!(body["status"], "failure");
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .starts_with("Validation error: body -> mode: "),
        "{body}"
    );
    assert_eq!(
        (body["data"].clone(), body["metadata"].clone()),
        (json!({}), json!({}))
    );
    let reply = server
        .post(
            "/query/data",
            Some("empty"),
            json!({"query": "Hi there", "mode": "bypass"}),
        )
        .await;
    assert_eq!(reply.json()["status"], "success");
    assert_eq!(reply.json()["data"]["entities"], json!([]));
    assert_eq!(
        calls(&mock, "answer") + calls(&mock, "other"),
        0,
        "query/data never asks for an answer"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_mix_stream_sends_references_then_the_answer() {
    let mock = MockLlm::start(64).await;
    let server = corpus(&mock, &[]).await;
    let reply = server
        .post(
            "/query/stream",
            Some("kgq"),
            json!({"query": "What did Bob Jones test?", "mode": "mix"}),
        )
        .await;
    let lines: Vec<Value> = reply
        .text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert!(lines[0]["references"].is_array(), "{lines:?}");
    let text: String = lines[1..]
        .iter()
        .map(|l| l["response"].as_str().unwrap())
        .collect();
    assert!(
        text.starts_with("MOCK ANSWER to: What did Bob Jones test?"),
        "{text}"
    );
    assert!(text.contains("Knowledge Graph Data (Relationship)"));
}

/// A configured reranker reorders the chunks and drops those under MIN_RERANK_SCORE;
/// `enable_rerank: false` skips it.
#[tokio::test(flavor = "multi_thread")]
async fn the_reranker_orders_and_filters_chunks() {
    let mock = MockLlm::start(64).await;
    let rerank_url = format!(
        "{}/rerank",
        mock.env()
            .iter()
            .find(|(k, _)| k == "LLM_BINDING_HOST")
            .unwrap()
            .1
    );
    let server = corpus(
        &mock,
        &[
            ("RERANK_BINDING", "cohere"),
            ("RERANK_BINDING_HOST", &rerank_url),
            ("RERANK_MODEL", "mock-rerank"),
            ("MIN_RERANK_SCORE", "0.5"),
        ],
    )
    .await;
    let body = data(
        &server,
        json!({"query": "murals painted Lisbon", "mode": "naive"}),
    )
    .await;
    let chunks = body["data"]["chunks"].as_array().unwrap();
    // Only the art document holds at least half of the query's words.
    assert_eq!(chunks.len(), 1, "{body}");
    assert_eq!(chunks[0]["file_path"], "art.txt");
    let reranks = mock
        .state
        .log()
        .iter()
        .filter(|l| l.kind == "rerank")
        .count();
    assert_eq!(reranks, 1);
    assert_eq!(
        mock.state
            .log()
            .iter()
            .find(|l| l.kind == "rerank")
            .unwrap()
            .model,
        "mock-rerank"
    );
    let plain = data(
        &server,
        json!({"query": "murals painted Lisbon", "mode": "naive", "enable_rerank": false}),
    )
    .await;
    assert_eq!(plain["data"]["chunks"].as_array().unwrap().len(), 3);
    assert_eq!(
        mock.state
            .log()
            .iter()
            .filter(|l| l.kind == "rerank")
            .count(),
        1
    );
    // Knowledge-graph modes rerank their merged chunks too.
    data(
        &server,
        json!({"query": "murals painted Lisbon", "mode": "mix"}),
    )
    .await;
    assert_eq!(
        mock.state
            .log()
            .iter()
            .filter(|l| l.kind == "rerank")
            .count(),
        2
    );
}

/// `include_progress`: LightRAG's progress lines before the answer and
/// `response_time` last. A second asking hits the keyword and answer caches: no
/// keyword or answer step, and the cached answer comes as one whole line.
#[tokio::test(flavor = "multi_thread")]
async fn the_stream_reports_progress_when_asked() {
    let mock = MockLlm::start(64).await;
    let server = corpus(&mock, &[]).await;
    let ask = async |mode: &str, progress: bool| -> Vec<Value> {
        let reply = server
            .post(
                "/query/stream",
                Some("kgq"),
                json!({"query": "What did Bob Jones test?", "mode": mode, "include_progress": progress}),
            )
            .await;
        assert_eq!(reply.status, 200, "{}", reply.text);
        reply
            .text
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    };
    let steps = |lines: &[Value]| -> Vec<String> {
        lines
            .iter()
            .filter_map(|l| l["progress"].as_str().map(str::to_string))
            .collect()
    };

    let lines = ask("local", true).await;
    assert_eq!(
        steps(&lines),
        [
            "extracting_keywords",
            "retrieving_entities",
            "retrieving_relations",
            "retrieving_chunks",
            "generating_response"
        ],
        "{lines:?}"
    );
    assert!(lines[..5].iter().all(|l| l["progress"].is_string()));
    assert!(lines[5]["references"].is_array(), "{lines:?}");
    let text: String = lines[6..lines.len() - 1]
        .iter()
        .map(|l| l["response"].as_str().unwrap())
        .collect();
    assert!(text.starts_with("MOCK ANSWER to: What did Bob Jones test?"));
    assert!(lines.last().unwrap()["response_time"].as_f64().is_some());

    let cached = ask("local", true).await;
    assert_eq!(
        steps(&cached),
        [
            "retrieving_entities",
            "retrieving_relations",
            "retrieving_chunks"
        ],
        "{cached:?}"
    );
    assert_eq!(cached.len(), 5, "{cached:?}");
    assert!(
        cached[3]["response"]
            .as_str()
            .unwrap()
            .starts_with("MOCK ANSWER")
    );
    assert!(cached[3]["references"].is_array());
    assert!(cached[4]["response_time"].as_f64().is_some());

    let naive = ask("naive", true).await;
    assert_eq!(steps(&naive), ["retrieving_chunks"], "{naive:?}");
    // Not asked for: no progress, no response_time.
    let plain = ask("hybrid", false).await;
    assert!(steps(&plain).is_empty());
    assert!(plain.iter().all(|l| l.get("response_time").is_none()));
    assert!(plain[0]["references"].is_array(), "{plain:?}");
}
