//! The web UI: served compiled-in at `/webui/` (and `/` redirects there), public like
//! LightRAG's, its configuration injected into the page; and, in real headless
//! Chromium driven through chromedriver, the path a user takes — upload a file, watch
//! it processed, ask a question and see the answer arrive piece by piece with its
//! references, find the entity in the graph and edit it and its relation, scan the
//! input directory, switch to another tenant's workspace and see only its documents,
//! read the operator view, delete a document. Screenshots of each step are kept under
//! `target/tmp/webui-screenshots/<test>/`.
//!
//! The browser test needs `chromium` and `chromedriver` (Debian: `chromium`,
//! `chromium-driver`); `.ci/run` installs them. Where they are missing it says so and
//! passes, except under CI, where it fails.

use crate::harness::{Server, pairs};
use crate::mock_llm::MockLlm;
use fantoccini::elements::Element;
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{Value, json};
use std::future::Future;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

#[tokio::test(flavor = "multi_thread")]
async fn root_redirects_to_the_webui_which_is_public_with_its_configuration_injected() {
    let server = Server::start(&[
        ("LIGHTRAG_API_KEY", "ui-key"),
        ("WEBUI_TITLE", "Team </script><b>RAG"),
    ]);
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    for from in ["/", "/webui"] {
        let reply = client
            .get(format!("{}{from}", server.base))
            .send()
            .await
            .unwrap();
        assert_eq!(reply.status(), 307, "{from}");
        assert_eq!(reply.headers()["location"], "/webui/", "{from}");
    }
    // Public although the API needs a key: the page holds no data.
    let page = server.get("/webui/", None).await;
    assert_eq!(page.status, 200, "{}", page.text);
    assert!(
        page.headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    assert!(
        page.headers["cache-control"]
            .to_str()
            .unwrap()
            .contains("no-store")
    );
    assert!(!page.text.contains("<!-- LIGHTRAG_CONFIG -->"));
    let start = page.text.find("window.__LIGHTRAG_CONFIG__=").unwrap();
    let rest = &page.text[start + "window.__LIGHTRAG_CONFIG__=".len()..];
    let config: Value = serde_json::from_str(&rest[..rest.find("</script>").unwrap()]).unwrap();
    // The title survives intact, and cannot close the script element it sits in.
    assert_eq!(config["webuiTitle"], "Team </script><b>RAG");
    assert_eq!(config["webuiPrefix"], "/webui/");
    for (file, media) in [
        ("app.js", "text/javascript"),
        ("api.js", "text/javascript"),
        ("graph.js", "text/javascript"),
        ("style.css", "text/css"),
    ] {
        let reply = server.get(&format!("/webui/{file}"), None).await;
        assert_eq!(reply.status, 200, "{file}");
        let kind = reply.headers["content-type"].to_str().unwrap();
        assert!(kind.starts_with(media), "{file}: {kind}");
    }
    for missing in [
        "/webui/secret.txt",
        "/webui/..%2FCargo.toml",
        "/webui/a/b.js",
    ] {
        let reply = server.get(missing, None).await;
        assert_eq!(reply.status, 404, "{missing}: {}", reply.text);
    }
    // The API behind it still wants the key.
    assert_eq!(server.get("/auth/workspaces", None).await.status, 403);
    let health = server
        .request_with(
            reqwest::Method::GET,
            "/health",
            &[("X-API-Key", "ui-key")],
            None,
        )
        .await
        .json();
    assert_eq!(health["webui_available"], true);
    assert_eq!(health["api_docs_available"], true);
    assert_eq!(health["webui_title"], "Team </script><b>RAG");
}

/// `/auth/workspaces`: an unbound caller sees the workspaces that exist and the
/// default; a key bound to workspaces sees exactly those, never the others.
#[tokio::test(flavor = "multi_thread")]
async fn auth_workspaces_lists_what_the_caller_may_use_and_nothing_else() {
    let dir = tempfile::tempdir().unwrap().keep();
    let keys = dir.join("keys.json");
    std::fs::write(
        &keys,
        json!({"keys": [{"name": "team-a", "sha256": lightrag_server::auth::hash_key("key-a"), "workspaces": ["alpha", "gamma"]}]})
            .to_string(),
    )
    .unwrap();
    let server = Server::start_in(
        &dir,
        &[
            ("LIGHTRAG_API_KEY", "global-key"),
            ("LIGHTRAG_WORKSPACE_KEYS_FILE", keys.to_str().unwrap()),
        ],
    );
    for ws in ["alpha", "beta"] {
        let reply = server
            .request_with(
                reqwest::Method::POST,
                "/documents/text",
                &[("X-API-Key", "global-key"), ("LIGHTRAG-WORKSPACE", ws)],
                Some(json!({"text": format!("Notes of {ws}."), "file_source": "n.txt"})),
            )
            .await;
        assert_eq!(reply.status, 200, "{}", reply.text);
    }
    let list = |key: &'static str| {
        let server = &server;
        async move {
            let reply = server
                .request_with(
                    reqwest::Method::GET,
                    "/auth/workspaces",
                    &[("X-API-Key", key)],
                    None,
                )
                .await;
            assert_eq!(reply.status, 200, "{}", reply.text);
            reply.json()
        }
    };
    let global = list("global-key").await;
    assert_eq!(global["workspaces"], json!(["alpha", "beta", "default"]));
    assert_eq!(global["default"], "default");
    // Bound to alpha and gamma: gamma holds nothing yet but is theirs; beta and the
    // default are not.
    let bound = list("key-a").await;
    assert_eq!(bound["workspaces"], json!(["alpha", "gamma"]));
    assert_eq!(bound["default"], Value::Null);
}

/// chromedriver on a free port, killed on drop.
struct Driver {
    child: Child,
    url: String,
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The browser tools, or `None` (outside CI) when they are not installed.
fn browser_tools() -> Option<(PathBuf, PathBuf)> {
    let find = |names: &[&str]| {
        names.iter().find_map(|name| {
            std::env::var_os("PATH").and_then(|paths| {
                std::env::split_paths(&paths)
                    .map(|dir| dir.join(name))
                    .find(|path| path.is_file())
            })
        })
    };
    match (
        find(&["chromium", "chromium-browser", "google-chrome"]),
        find(&["chromedriver"]),
    ) {
        (Some(browser), Some(driver)) => Some((browser, driver)),
        _ if std::env::var_os("CI").is_some() => {
            panic!("the web UI's browser test needs chromium and chromedriver (CI installs them)")
        }
        _ => {
            eprintln!(
                "SKIPPED: the web UI's browser test needs chromium and chromedriver \
                 (Debian: apt-get install chromium chromium-driver)"
            );
            None
        }
    }
}

fn start_driver(driver: &Path) -> Driver {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let child = Command::new(driver)
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("cannot start chromedriver");
    let url = format!("http://127.0.0.1:{port}");
    let deadline = Instant::now() + Duration::from_secs(20);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "chromedriver did not start");
        std::thread::sleep(Duration::from_millis(50));
    }
    Driver { child, url }
}

/// A headless Chromium session that saves numbered screenshots.
struct Browser {
    client: Client,
    shots: PathBuf,
    taken: usize,
}

impl Browser {
    /// A session whose screenshots go to `webui-screenshots/<test>/`.
    async fn open(browser: &Path, driver: &Driver, test: &str) -> Browser {
        let mut capabilities = serde_json::Map::new();
        capabilities.insert(
            "goog:chromeOptions".into(),
            json!({
                "binary": browser,
                "args": ["--headless=new", "--no-sandbox", "--disable-gpu",
                         "--disable-dev-shm-usage", "--window-size=1280,900"],
            }),
        );
        let connector = hyper_util::client::legacy::connect::HttpConnector::new();
        let client = ClientBuilder::new(connector)
            .capabilities(capabilities)
            .connect(&driver.url)
            .await
            .expect("cannot open a Chromium session");
        let shots = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
            .join("webui-screenshots")
            .join(test);
        let _ = std::fs::remove_dir_all(&shots);
        std::fs::create_dir_all(&shots).unwrap();
        Browser {
            client,
            shots,
            taken: 0,
        }
    }

    async fn shot(&mut self, name: &str) {
        self.taken += 1;
        let png = self.client.screenshot().await.unwrap();
        let path = self.shots.join(format!("{:02}-{name}.png", self.taken));
        std::fs::write(&path, png).unwrap();
    }

    async fn find(&self, css: &str) -> Element {
        self.client
            .wait()
            .at_most(Duration::from_secs(30))
            .for_element(Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("no element {css}: {e}"))
    }

    async fn click(&self, css: &str) {
        self.find(css).await.click().await.unwrap();
    }

    async fn type_into(&self, css: &str, text: &str) {
        let input = self.find(css).await;
        input.clear().await.unwrap();
        input.send_keys(text).await.unwrap();
    }

    /// The text of every element matching `css`.
    async fn texts(&self, css: &str) -> Vec<String> {
        let mut out = Vec::new();
        for element in self.client.find_all(Locator::Css(css)).await.unwrap() {
            out.push(element.text().await.unwrap_or_default());
        }
        out
    }

    /// Polls `check` until it holds (60 s), with a screenshot named after `what` if it
    /// never does.
    async fn until<F, Fut>(&mut self, what: &str, mut check: F)
    where
        F: FnMut(Browser2) -> Fut,
        Fut: Future<Output = bool>,
    {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if check(Browser2(self.client.clone())).await {
                return;
            }
            if Instant::now() > deadline {
                self.shot(&format!("FAILED-{}", what.replace(' ', "-")))
                    .await;
                let body = self
                    .client
                    .find(Locator::Css("body"))
                    .await
                    .unwrap()
                    .text()
                    .await
                    .unwrap();
                panic!("the page never showed: {what}\n--- page text ---\n{body}");
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
}

/// A handle for polling closures (a cheap clone of the session).
struct Browser2(Client);

impl Browser2 {
    /// Whether an element matching `css` exists and is displayed.
    async fn displayed(&self, css: &str) -> bool {
        match self.0.find(Locator::Css(css)).await {
            Ok(element) => element.is_displayed().await.unwrap_or(false),
            Err(_) => false,
        }
    }

    async fn texts(&self, css: &str) -> Vec<String> {
        let mut out = Vec::new();
        for element in self.0.find_all(Locator::Css(css)).await.unwrap_or_default() {
            out.push(element.text().await.unwrap_or_default());
        }
        out
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn webui_in_chromium_uploads_answers_with_references_graphs_edits_and_switches_tenants() {
    let Some((browser_path, driver_path)) = browser_tools() else {
        return;
    };
    let mock = MockLlm::start(32).await;
    let mut env = pairs(mock.env());
    env.push(("LIGHTRAG_ADMIN_API_KEY", "operator-key"));
    let server = Server::start(&env);
    // Another tenant, with a document of its own.
    server
        .insert(
            Some("beta"),
            "beta-notes.txt",
            "Orla Penhallow keeps the Cindervale lighthouse.",
        )
        .await;
    server.wait_idle(Some("beta")).await;

    let driver = start_driver(&driver_path);
    let mut ui = Browser::open(&browser_path, &driver, "tenant-path").await;
    ui.client.goto(&server.base).await.unwrap();
    assert_eq!(ui.client.current_url().await.unwrap().path(), "/webui/");
    ui.find("#tab-documents").await;
    ui.shot("opened").await;

    // A new tenant's workspace, chosen by name.
    ui.type_into("#workspace-new", "alpha").await;
    ui.click("#workspace-use").await;

    // Upload a Word document: parsed in alpha's sandbox, then processed.
    let docx = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/files/sample.docx");
    let docx = docx.canonicalize().unwrap();
    ui.find("#upload-input")
        .await
        .send_keys(docx.to_str().unwrap())
        .await
        .unwrap();
    ui.until("the upload processed", |b| async move {
        let names = b
            .texts("#documents-table tr[data-doc-id] td.file-path")
            .await;
        let states = b.texts("#documents-table tr[data-doc-id] td.status").await;
        names.iter().any(|n| n.contains("sample.docx")) && states == ["processed"]
    })
    .await;
    ui.shot("documents-processed").await;
    // The server agrees, and alpha holds only that document.
    let counts = server.counts(Some("alpha")).await;
    assert_eq!(counts["processed"], 1, "{counts}");
    assert_eq!(counts["all"], 1, "{counts}");

    // Retrieval: a streamed answer with the document among its references.
    ui.click("#tab-retrieval").await;
    ui.type_into("#query-input", "Who founded the Brantholm Seed Library?")
        .await;
    ui.find("#query-mode")
        .await
        .select_by_value("mix")
        .await
        .unwrap();
    // Pieces 40 ms apart: the answer must show while it is still arriving.
    mock.state
        .chunk_ms
        .store(40, std::sync::atomic::Ordering::Relaxed);
    ui.click("#query-submit").await;
    let deadline = Instant::now() + Duration::from_secs(60);
    let (first_seen, seen_at) = loop {
        let answer = ui.texts("#answer").await.concat();
        if !answer.trim().is_empty() {
            break (answer.len(), Instant::now());
        }
        assert!(Instant::now() < deadline, "no answer appeared");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    ui.until("the answer complete", |b| async move {
        b.texts("#query-state")
            .await
            .concat()
            .starts_with("Answered")
    })
    .await;
    let complete = ui.texts("#answer").await.concat();
    assert!(
        first_seen < complete.len() && seen_at.elapsed() >= Duration::from_millis(200),
        "the answer appeared all at once ({first_seen} of {} bytes, {:?} before the end)",
        complete.len(),
        seen_at.elapsed()
    );
    mock.state
        .chunk_ms
        .store(0, std::sync::atomic::Ordering::Relaxed);
    ui.until("a streamed answer with references", |b| async move {
        let answer = b.texts("#answer").await.concat();
        let references = b.texts("#references li").await;
        !answer.trim().is_empty() && references.iter().any(|r| r.contains("sample.docx"))
    })
    .await;
    ui.shot("retrieval-answer").await;
    let streamed = mock.state.log().iter().any(|call| {
        call.stream && crate::mock_llm::answers::purpose_of(&call.messages) == "answer"
    });
    assert!(streamed, "the answer was not requested as a stream");

    // The graph: the entity the document names, its properties, then an edit.
    ui.click("#tab-graph").await;
    ui.type_into("#graph-label", "Mirelda Voss").await;
    ui.click("#graph-load").await;
    ui.until("the entity in the graph", |b| async move {
        !b.texts("#graph-nodes li[data-node-id='Mirelda Voss']")
            .await
            .is_empty()
    })
    .await;
    ui.click("#graph-nodes li[data-node-id='Mirelda Voss']")
        .await;
    ui.until("the entity's properties", |b| async move {
        b.texts("#graph-properties")
            .await
            .concat()
            .contains("Brantholm")
    })
    .await;
    ui.shot("graph-entity").await;
    ui.type_into(
        "#entity-description",
        "Founder of a seed library, edited in the web UI.",
    )
    .await;
    ui.click("#entity-save").await;
    until_graph(&server, "the entity edit", |graph| {
        graph["nodes"].as_array().unwrap().iter().any(|node| {
            node["id"] == "Mirelda Voss"
                && node["properties"]["description"]
                    .as_str()
                    .is_some_and(|d| d.contains("edited in the web UI"))
        })
    })
    .await;
    // And the relation between the two, from the list of relations.
    ui.until("the relation listed", |b| async move {
        !b.texts("#graph-edges li").await.is_empty()
    })
    .await;
    ui.click("#graph-edges li").await;
    ui.type_into("#entity-description", "A relation edited in the web UI.")
        .await;
    ui.click("#entity-save").await;
    until_graph(&server, "the relation edit", |graph| {
        graph["edges"].as_array().unwrap().iter().any(|edge| {
            edge["properties"]["description"]
                .as_str()
                .is_some_and(|d| d.contains("relation edited in the web UI"))
        })
    })
    .await;

    // A file dropped in alpha's input directory, picked up by a scan.
    ui.click("#tab-documents").await;
    let inputs = server.root().join("inputs/alpha");
    std::fs::create_dir_all(&inputs).unwrap();
    std::fs::copy(docx.with_file_name("sample.rtf"), inputs.join("sample.rtf")).unwrap();
    ui.click("#scan-button").await;
    ui.until("the scanned file processed", |b| async move {
        let names = b
            .texts("#documents-table tr[data-doc-id] td.file-path")
            .await;
        let states = b.texts("#documents-table tr[data-doc-id] td.status").await;
        names.iter().any(|n| n.contains("sample.rtf")) && states == ["processed", "processed"]
    })
    .await;

    // Switching tenant shows beta's documents only.
    ui.click("#workspace-select").await;
    ui.find("#workspace-select")
        .await
        .select_by_value("beta")
        .await
        .unwrap();
    ui.until("beta's documents only", |b| async move {
        let names = b
            .texts("#documents-table tr[data-doc-id] td.file-path")
            .await;
        names.len() == 1 && names[0].contains("beta-notes.txt")
    })
    .await;
    ui.shot("workspace-beta").await;
    assert!(
        ui.texts("#documents-table")
            .await
            .concat()
            .find("sample.docx")
            .is_none(),
        "alpha's document shown in beta"
    );

    // The operator view, with the admin key: both workspaces, with their sizes.
    ui.click("#tab-operator").await;
    ui.type_into("#admin-key", "operator-key").await;
    ui.click("#admin-load").await;
    ui.until("both workspaces in the operator view", |b| async move {
        !b.texts("#workspaces-table tr[data-workspace='alpha']")
            .await
            .is_empty()
            && !b
                .texts("#workspaces-table tr[data-workspace='beta']")
                .await
                .is_empty()
    })
    .await;
    // Loaded workspaces show their memory against the limit, not "not measured yet".
    let memory = ui
        .texts("#workspaces-table tr[data-workspace='alpha'] td.memory")
        .await
        .concat();
    assert!(memory.contains("MiB") && memory.contains('%'), "{memory}");
    ui.click("#workspaces-table tr[data-workspace='alpha']")
        .await;
    ui.until("alpha's audit trail", |b| async move {
        !b.texts("#audit-list li").await.is_empty()
    })
    .await;
    ui.shot("operator").await;

    // Deleting beta's document, after the browser's confirmation.
    ui.click("#tab-documents").await;
    ui.click("#documents-table tr[data-doc-id] button.delete-doc")
        .await;
    ui.client.accept_alert().await.unwrap();
    ui.until("beta's table empty", |b| async move {
        b.texts("#documents-table tr[data-doc-id]").await.is_empty()
    })
    .await;
    assert_eq!(server.counts(Some("beta")).await["all"], 0);
    assert_eq!(server.counts(Some("alpha")).await["all"], 2);
    ui.client.close().await.unwrap();
    drop(driver);
}

/// With accounts configured the UI asks for a login, refuses a wrong password with the
/// server's message, and works once signed in.
#[tokio::test(flavor = "multi_thread")]
async fn webui_in_chromium_asks_for_a_login_when_accounts_are_configured() {
    let Some((browser_path, driver_path)) = browser_tools() else {
        return;
    };
    let server = Server::start(&[
        ("AUTH_ACCOUNTS", "alice:wonderland"),
        ("TOKEN_SECRET", "a-long-random-secret-for-the-browser-test"),
    ]);
    let driver = start_driver(&driver_path);
    let mut ui = Browser::open(&browser_path, &driver, "login").await;
    ui.client
        .goto(&format!("{}/webui/", server.base))
        .await
        .unwrap();
    ui.until("the login form", |b| async move {
        b.displayed("#login-form").await
    })
    .await;
    ui.shot("login").await;
    ui.type_into("#login-username", "alice").await;
    ui.type_into("#login-password", "not-the-password").await;
    ui.click("#login-submit").await;
    ui.until("the refusal", |b| async move {
        b.texts("#login-error")
            .await
            .concat()
            .contains("Incorrect credentials")
    })
    .await;
    ui.type_into("#login-password", "wonderland").await;
    ui.click("#login-submit").await;
    ui.until("signed in, the documents view", |b| async move {
        !b.displayed("#login-form").await
            && b.texts("#session-user").await.concat().contains("alice")
            && b.displayed("#view-documents").await
    })
    .await;
    ui.shot("signed-in").await;
    ui.client.close().await.unwrap();
}

/// Polls alpha's graph around Mirelda Voss (30 s) until `holds` says `what` reached
/// the server.
async fn until_graph(server: &Server, what: &str, holds: impl Fn(&Value) -> bool) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let graph = server
            .get("/graphs?label=Mirelda%20Voss&max_depth=1", Some("alpha"))
            .await
            .json();
        if holds(&graph) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{what} never reached the server: {graph}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}
