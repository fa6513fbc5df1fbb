//! The Ollama-compatible API: shapes, mode prefixes, streaming, model-name workspaces.

use crate::harness::{Server, pairs};
use crate::mock_llm::{MockLlm, purpose_of};
use serde_json::{Value, json};

async fn seeded(mock: &MockLlm) -> Server {
    let server = Server::start(&pairs(mock.env()));
    server
        .insert(
            Some("olla"),
            "birds.txt",
            "Grey Herons nest in Holland. Grey Herons eat fish.",
        )
        .await;
    server.wait_idle(Some("olla")).await;
    server
}

fn assert_final_fields(line: &Value) {
    for key in [
        "model",
        "created_at",
        "done_reason",
        "total_duration",
        "load_duration",
        "prompt_eval_count",
        "prompt_eval_duration",
        "eval_count",
        "eval_duration",
    ] {
        assert!(!line[key].is_null(), "missing {key}: {line}");
    }
    assert_eq!(line["done"], true);
    assert_eq!(line["load_duration"], 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn version_tags_and_ps_have_ollamas_shapes() {
    let mock = MockLlm::start(32).await;
    let server = seeded(&mock).await;
    assert_eq!(
        server.get("/api/version", None).await.json(),
        json!({"version": "0.9.3"})
    );
    let tags = server.get("/api/tags", None).await.json();
    let names: Vec<&str> = tags["models"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["name"].as_str().unwrap())
        .collect();
    assert!(
        names.contains(&"lightrag:latest") && names.contains(&"lightrag:olla"),
        "{names:?}"
    );
    let model = &tags["models"][0];
    assert_eq!(model["digest"], "sha256:lightrag");
    assert_eq!(model["modified_at"], "2024-01-15T00:00:00Z");
    assert_eq!(model["details"]["format"], "gguf");
    let ps = server.get("/api/ps", None).await.json();
    assert_eq!(
        ps["models"][0]["expires_at"],
        "2050-12-31T14:38:31.83753-07:00"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn chat_in_each_mode_with_exact_fields() {
    let mock = MockLlm::start(32).await;
    let server = seeded(&mock).await;
    for (prefix, expect_answer) in [
        ("", true),
        ("/local ", true),
        ("/global ", true),
        ("/hybrid ", true),
        ("/naive ", true),
        ("/mix ", true),
        ("/bypass ", true),
        ("/context ", false),
        ("/naivecontext ", false),
    ] {
        let log_before = mock.state.log().len();
        let body = json!({"model": "lightrag:latest", "stream": false,
            "messages": [{"role": "user", "content": format!("{prefix}Where do Grey Herons build nests?")}]});
        let reply = server.post("/api/chat", Some("olla"), body).await;
        assert_eq!(reply.status, 200, "{prefix}: {}", reply.text);
        let line = reply.json();
        assert_final_fields(&line);
        assert_eq!(line["message"]["role"], "assistant");
        assert!(line["message"]["images"].is_null());
        let content = line["message"]["content"].as_str().unwrap();
        if expect_answer {
            assert!(content.starts_with("MOCK"), "{prefix}: {content}");
        } else {
            assert!(
                content.contains("Grey Herons nest in Holland"),
                "{prefix}: {content}"
            );
            let asked: Vec<_> = mock.state.log()[..]
                .iter()
                .skip(log_before)
                .filter(|l| l.kind == "chat")
                .map(|l| purpose_of(&l.messages))
                .collect();
            assert!(!asked.contains(&"answer"), "{prefix} asked for an answer");
        }
        if prefix == "/bypass " {
            assert_eq!(content, "MOCK REPLY to: Where do Grey Herons build nests?");
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn chat_streams_ndjson_and_uses_the_history() {
    let mock = MockLlm::start(32).await;
    let server = seeded(&mock).await;
    let body = json!({"model": "lightrag:latest", "messages": [
        {"role": "user", "content": "Hello"}, {"role": "assistant", "content": "Hi there"},
        {"role": "user", "content": "/naive What do Grey Herons eat?"}]});
    let reply = server.post("/api/chat", Some("olla"), body).await;
    assert_eq!(reply.status, 200);
    let lines: Vec<Value> = reply
        .text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert!(lines.len() >= 3, "{lines:?}");
    for line in &lines[..lines.len() - 1] {
        assert_eq!(line["done"], false);
        assert_eq!(line["message"]["role"], "assistant");
    }
    let last = lines.last().unwrap();
    assert_final_fields(last);
    assert_eq!(last["message"]["content"], "");
    let text: String = lines
        .iter()
        .map(|l| l["message"]["content"].as_str().unwrap())
        .collect();
    assert!(
        text.starts_with("MOCK ANSWER to: What do Grey Herons eat?"),
        "{text}"
    );
    let answer_call = mock
        .state
        .log()
        .into_iter()
        .rev()
        .find(|l| purpose_of(&l.messages) == "answer")
        .unwrap();
    let roles: Vec<&str> = answer_call
        .messages
        .iter()
        .map(|(r, _)| r.as_str())
        .collect();
    assert_eq!(roles, ["system", "user", "assistant", "user"]);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_model_name_selects_the_workspace_when_no_header_is_sent() {
    let mock = MockLlm::start(32).await;
    let server = seeded(&mock).await;
    server
        .insert(Some("other"), "cats.txt", "Snow Leopards live in Tibet.")
        .await;
    server.wait_idle(Some("other")).await;
    let ask = |model: &str| {
        json!({"model": model, "stream": false,
        "messages": [{"role": "user", "content": "/naivecontext Which animals live here?"}]})
    };
    let reply = server.post("/api/chat", None, ask("lightrag:other")).await;
    assert_eq!(reply.workspace().as_deref(), Some("other"));
    let content = reply.json()["message"]["content"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        content.contains("Snow Leopards") && !content.contains("Grey Herons"),
        "{content}"
    );
    let reply = server.post("/api/chat", None, ask("lightrag:olla")).await;
    assert!(
        reply.json()["message"]["content"]
            .as_str()
            .unwrap()
            .contains("Grey Herons")
    );
    // The header wins over the model name.
    let reply = server
        .post("/api/chat", Some("olla"), ask("lightrag:other"))
        .await;
    assert_eq!(reply.workspace().as_deref(), Some("olla"));
    let bad = server.post("/api/chat", None, ask("lightrag:../etc")).await;
    assert_eq!(bad.status, 400);
}

#[tokio::test(flavor = "multi_thread")]
async fn chat_errors_and_generate() {
    let mock = MockLlm::start(32).await;
    let server = seeded(&mock).await;
    let cases = [
        (
            json!({"model": "lightrag:latest", "messages": []}),
            "No messages provided",
        ),
        (
            json!({"model": "lightrag:latest", "messages": [{"role": "assistant", "content": "x"}]}),
            "Last message must be from user role",
        ),
        (
            json!({"model": "lightrag:latest", "messages": [{"role": "user", "content": "/local   "}]}),
            "Query must not be empty.",
        ),
    ];
    for (body, message) in cases {
        let reply = server.post("/api/chat", Some("olla"), body).await;
        assert_eq!(reply.status, 400);
        assert_eq!(reply.json()["detail"], message);
    }
    let reply = reqwest::Client::new()
        .post(format!("{}/api/chat", server.base))
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(reply.status(), 400);

    let reply = server
        .post(
            "/api/generate",
            Some("olla"),
            json!({"model": "lightrag:latest", "prompt": "Say hi", "system": "Be brief."}),
        )
        .await;
    let body = reply.json();
    assert_eq!(body["response"], "MOCK REPLY to: Say hi");
    assert_eq!(body["context"], json!([]));
    assert_final_fields(&body);
    let call = mock
        .state
        .log()
        .into_iter()
        .rev()
        .find(|l| l.kind == "chat")
        .unwrap();
    assert_eq!(
        call.messages[0],
        ("system".to_string(), "Be brief.".to_string())
    );
    let reply = server
        .post(
            "/api/generate",
            Some("olla"),
            json!({"model": "lightrag:latest", "prompt": "Say hi again", "stream": true}),
        )
        .await;
    let lines: Vec<Value> = reply
        .text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.last().unwrap()["response"], "");
    let text: String = lines
        .iter()
        .map(|l| l["response"].as_str().unwrap())
        .collect();
    assert_eq!(text, "MOCK REPLY to: Say hi again");
}
