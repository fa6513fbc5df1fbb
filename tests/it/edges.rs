//! The HTTP edge: CORS, compression, request ids, body limits, trusted proxies, and
//! the LightRAG settings refused or ignored at start-up.

use crate::harness::{Server, pairs};
use crate::mock_llm::MockLlm;
use reqwest::Method;
use serde_json::{Value, json};

/// A CORS preflight for `POST path` from `origin`.
async fn preflight(server: &Server, path: &str, origin: &str) -> reqwest::Response {
    reqwest::Client::new()
        .request(Method::OPTIONS, format!("{}{path}", server.base))
        .header("Origin", origin)
        .header("Access-Control-Request-Method", "POST")
        .header("Access-Control-Request-Headers", "content-type,x-api-key")
        .send()
        .await
        .unwrap()
}

fn header<'a>(reply: &'a reqwest::Response, name: &str) -> Option<&'a str> {
    reply.headers().get(name).and_then(|v| v.to_str().ok())
}

#[tokio::test(flavor = "multi_thread")]
async fn any_origin_may_call_by_default_even_with_a_key_on() {
    let mock = MockLlm::start(32).await;
    let mut env = pairs(mock.env());
    env.push(("LIGHTRAG_API_KEY", "edge-key"));
    let server = Server::start(&env);
    // The preflight carries no key: it is answered before authentication.
    let reply = preflight(&server, "/query", "https://app.example").await;
    assert_eq!(reply.status(), 200);
    assert_eq!(header(&reply, "access-control-allow-origin"), Some("*"));
    let methods = header(&reply, "access-control-allow-methods").unwrap_or_default();
    assert!(
        methods.contains('*') || methods.contains("POST"),
        "{methods}"
    );
    let reply = reqwest::Client::new()
        .get(format!("{}/health", server.base))
        .header("Origin", "https://app.example")
        .send()
        .await
        .unwrap();
    assert_eq!(header(&reply, "access-control-allow-origin"), Some("*"));
    let exposed = header(&reply, "access-control-expose-headers").unwrap_or_default();
    assert!(
        exposed.to_ascii_lowercase().contains("x-new-token"),
        "{exposed}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_list_of_origins_admits_those_with_credentials_and_no_others() {
    let mock = MockLlm::start(32).await;
    let mut env = pairs(mock.env());
    env.push((
        "CORS_ORIGINS",
        "https://good.example, http://localhost:5173",
    ));
    let server = Server::start(&env);
    let good = preflight(&server, "/query", "https://good.example").await;
    assert_eq!(
        header(&good, "access-control-allow-origin"),
        Some("https://good.example")
    );
    assert_eq!(
        header(&good, "access-control-allow-credentials"),
        Some("true")
    );
    let evil = preflight(&server, "/query", "https://evil.example").await;
    assert_eq!(header(&evil, "access-control-allow-origin"), None);

    let mut env = pairs(mock.env());
    env.push(("CORS_ORIGINS", ""));
    let closed = Server::start(&env);
    let reply = preflight(&closed, "/query", "https://good.example").await;
    assert_eq!(header(&reply, "access-control-allow-origin"), None);
}

#[tokio::test(flavor = "multi_thread")]
async fn responses_are_compressed_for_clients_that_ask_but_streams_are_not() {
    let mock = MockLlm::start(32).await;
    let server = Server::start(&pairs(mock.env()));
    server
        .insert(Some("gz"), "a.txt", "Ada Lovelace wrote the first program.")
        .await;
    server.wait_idle(Some("gz")).await;
    let client = reqwest::Client::new();
    let reply = client
        .get(format!("{}/health", server.base))
        .header("Accept-Encoding", "gzip")
        .send()
        .await
        .unwrap();
    assert_eq!(header(&reply, "content-encoding"), Some("gzip"));
    let bytes = reply.bytes().await.unwrap();
    assert_eq!(&bytes[..2], &[0x1f, 0x8b], "a gzip stream");
    let stream = client
        .post(format!("{}/query/stream", server.base))
        .header("Accept-Encoding", "gzip")
        .header("LIGHTRAG-WORKSPACE", "gz")
        .json(&json!({"query": "Who wrote the first program?", "mode": "naive"}))
        .send()
        .await
        .unwrap();
    assert_eq!(stream.status(), 200);
    assert_eq!(header(&stream, "content-encoding"), None);
    let text = stream.text().await.unwrap();
    assert!(
        text.lines()
            .all(|l| serde_json::from_str::<Value>(l).is_ok()),
        "{text}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn every_response_names_its_request_id_and_errors_and_logs_carry_it() {
    let mock = MockLlm::start(32).await;
    let server = Server::start(&pairs(mock.env()));
    let reply = server
        .request_with(
            Method::GET,
            "/documents/scan/status/scan_missing",
            &[
                ("X-Request-Id", "edge-test-42"),
                ("LIGHTRAG-WORKSPACE", "ids"),
            ],
            None,
        )
        .await;
    assert_eq!(reply.status, 404);
    assert_eq!(reply.headers["x-request-id"], "edge-test-42");
    assert_eq!(reply.json()["request_id"], "edge-test-42");
    let fresh = server.get("/health", None).await;
    let id = fresh.headers["x-request-id"].to_str().unwrap().to_string();
    assert_eq!(id.len(), 36, "a UUID: {id}");
    // The log is read from the server's output by another thread: give it a moment.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    while !server.log().contains("edge-test-42") {
        assert!(std::time::Instant::now() < deadline, "{}", server.log());
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn max_request_body_bytes_limits_ordinary_routes_and_then_text_inserts() {
    let mock = MockLlm::start(32).await;
    let server = Server::start(&pairs(mock.env()));
    let big = "word ".repeat(400_000); // 2 MB
    let query = server
        .post("/query", Some("b"), json!({"query": big, "mode": "naive"}))
        .await;
    assert_eq!(query.status, 413, "ordinary routes: 1 MiB by default");
    let text = server
        .post(
            "/documents/text",
            Some("b"),
            json!({"text": big, "file_source": "big.txt"}),
        )
        .await;
    assert_eq!(
        text.status, 200,
        "text inserts: 50 MiB by default: {}",
        text.text
    );

    let mut env = pairs(mock.env());
    env.push(("MAX_REQUEST_BODY_BYTES", "2000"));
    let small = Server::start(&env);
    let body = json!({"text": "x ".repeat(1500), "file_source": "x.txt"});
    assert_eq!(
        small.post("/documents/text", Some("b"), body).await.status,
        413
    );
    let fits = json!({"text": "A short note.", "file_source": "y.txt"});
    assert_eq!(
        small.post("/documents/text", Some("b"), fits).await.status,
        200
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_login_lockout_believes_x_forwarded_for_only_from_a_trusted_proxy() {
    let mock = MockLlm::start(32).await;
    let attempts = |server: &Server| {
        let base = server.base.clone();
        async move {
            let client = reqwest::Client::new();
            let mut statuses = Vec::new();
            for i in 0..4 {
                let reply = client
                    .post(format!("{base}/login"))
                    .header("X-Forwarded-For", format!("203.0.113.{i}"))
                    .form(&[("username", "alice"), ("password", "wrong")])
                    .send()
                    .await
                    .unwrap();
                statuses.push(reply.status().as_u16());
            }
            statuses
        }
    };
    let mut env = pairs(mock.env());
    env.push(("AUTH_ACCOUNTS", "alice:wonderland"));
    env.push(("TOKEN_SECRET", "test-signing-secret"));
    env.push(("LOGIN_MAX_FAILED_ATTEMPTS", "2"));
    let direct = Server::start(&env);
    // A client naming a new address each time is still one client.
    assert_eq!(attempts(&direct).await, [401, 401, 429, 429]);
    env.push(("LIGHTRAG_TRUSTED_PROXIES", "127.0.0.1"));
    let proxied = Server::start(&env);
    // Behind a trusted proxy, the addresses it forwards for are the clients.
    assert_eq!(attempts(&proxied).await, [401, 401, 401, 401]);
}

#[tokio::test(flavor = "multi_thread")]
async fn storage_backends_we_do_not_have_stop_start_up_and_parser_engines_warn() {
    let dir = tempfile::tempdir().unwrap();
    let log = Server::try_start_in(dir.path(), &[("LIGHTRAG_GRAPH_STORAGE", "Neo4JStorage")])
        .err()
        .expect("start-up refused");
    assert!(
        log.contains("LIGHTRAG_GRAPH_STORAGE=Neo4JStorage is not supported"),
        "{log}"
    );
    let server = Server::start(&[
        ("LIGHTRAG_KV_STORAGE", "JsonKVStorage"),
        ("LIGHTRAG_PARSER", "mineru"),
    ]);
    assert_eq!(server.get("/health", None).await.status, 200);
    assert!(
        server.log().contains("LIGHTRAG_PARSER is ignored"),
        "{}",
        server.log()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn ssl_serves_https_with_the_configured_certificate() {
    let dir = tempfile::tempdir().unwrap().keep();
    let certified = rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_string()]).unwrap();
    let pem = certified.cert.pem();
    let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
    std::fs::write(&cert, &pem).unwrap();
    std::fs::write(&key, certified.signing_key.serialize_pem()).unwrap();
    let (cert, key) = (cert.display().to_string(), key.display().to_string());
    let server = Server::start_in(
        &dir,
        &[
            ("SSL", "true"),
            ("SSL_CERTFILE", &cert),
            ("SSL_KEYFILE", &key),
        ],
    );
    assert!(
        server.log().contains("listening on https://"),
        "{}",
        server.log()
    );
    let https = server.base.replace("http://", "https://");
    let client = reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(pem.as_bytes()).unwrap())
        .build()
        .unwrap();
    let reply = client.get(format!("{https}/health")).send().await.unwrap();
    assert_eq!(reply.status(), 200);
    let body: Value = reply.json().await.unwrap();
    assert_eq!(body["status"], "healthy", "{body}");
    // Plain HTTP to the TLS port gets no HTTP answer.
    let plain = reqwest::Client::new()
        .get(format!("{}/health", server.base))
        .send()
        .await;
    assert!(plain.is_err() || plain.unwrap().status() != 200);
    // A client that does not trust the certificate is refused.
    assert!(reqwest::get(format!("{https}/health")).await.is_err());
}

#[tokio::test(flavor = "multi_thread")]
async fn auto_scan_at_startup_scans_the_default_workspace() {
    let mock = MockLlm::start(32).await;
    let dir = tempfile::tempdir().unwrap().keep();
    let inputs = dir.join("inputs").join("default");
    std::fs::create_dir_all(&inputs).unwrap();
    std::fs::write(
        inputs.join("found.md"),
        "# Found\nGrace Hopper found a moth.",
    )
    .unwrap();
    let mut env = pairs(mock.env());
    env.push(("AUTO_SCAN_AT_STARTUP", "true"));
    let server = Server::start_in(&dir, &env);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while server.counts(None).await["processed"] != 1 {
        assert!(
            std::time::Instant::now() < deadline,
            "the start-up scan found nothing"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let status = server.get("/documents/pipeline_status", None).await.json();
    assert_eq!(status["autoscanned"], true, "{status}");
    let other = server
        .get("/documents/pipeline_status", Some("other"))
        .await
        .json();
    assert_eq!(other["autoscanned"], false, "{other}");
    assert!(inputs.join("__parsed__/found.md").exists());
}
