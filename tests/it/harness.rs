//! A real `lightrag-server` process on a loopback port, and a real HTTP client.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The server binary cargo built for these tests.
pub const BINARY: &str = env!("CARGO_BIN_EXE_lightrag-server");

/// Compiled engine code shared by all test servers, so each start skips compilation.
pub fn cache_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("engine-cache")
}

/// A running server.
pub struct Server {
    child: Option<Child>,
    /// `http://127.0.0.1:<port>`.
    pub base: String,
    /// `WORKING_DIR`.
    pub working_dir: PathBuf,
    log: Arc<Mutex<String>>,
    client: reqwest::Client,
}

/// An HTTP reply, read completely.
#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub headers: reqwest::header::HeaderMap,
    pub text: String,
}

impl Reply {
    /// The body as JSON (panics with the body if it is not).
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.text).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.text))
    }

    /// The `LIGHTRAG-WORKSPACE` response header.
    pub fn workspace(&self) -> Option<String> {
        self.headers
            .get("lightrag-workspace")
            .map(|v| v.to_str().unwrap().to_string())
    }
}

impl Server {
    /// Starts a server on a fresh working directory with `env` on top of test defaults.
    pub fn start(env: &[(&str, &str)]) -> Server {
        let dir = tempfile::tempdir().unwrap().keep();
        Server::start_in(&dir, env)
    }

    /// Starts a server on `working_dir` (to restart on existing data).
    pub fn start_in(working_dir: &Path, env: &[(&str, &str)]) -> Server {
        Server::try_start_in(working_dir, env)
            .unwrap_or_else(|log| panic!("server did not start:\n{log}"))
    }

    /// Starts a server, or returns its output if it exits first.
    pub fn try_start_in(working_dir: &Path, env: &[(&str, &str)]) -> Result<Server, String> {
        std::fs::create_dir_all(working_dir).unwrap();
        let mut command = Command::new(BINARY);
        command
            .env_clear()
            .current_dir(working_dir)
            .env("HOST", "127.0.0.1")
            .env("PORT", "0")
            .env("WORKING_DIR", working_dir.join("data"))
            .env("INPUT_DIR", working_dir.join("inputs"))
            .env("LIGHTRAG_CACHE_DIR", cache_dir())
            // Retries stay on, with short waits.
            .env("LIGHTRAG_MODEL_RETRY_BASE_MS", "20")
            .env("LOG_LEVEL", "INFO")
            .env("RUST_LOG", "info,wasmtime=warn,cranelift=warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        for (key, value) in env {
            command.env(key, value);
        }
        let mut child = command.spawn().expect("cannot start lightrag-server");
        let log = Arc::new(Mutex::new(String::new()));
        let (port_tx, port_rx) = std::sync::mpsc::channel();
        for stream in [
            Box::new(child.stdout.take().unwrap()) as Box<dyn std::io::Read + Send>,
            Box::new(child.stderr.take().unwrap()),
        ] {
            let log = log.clone();
            let port_tx = port_tx.clone();
            std::thread::spawn(move || {
                for line in BufReader::new(stream).lines() {
                    let Ok(line) = line else { break };
                    {
                        let mut log = log.lock().unwrap();
                        log.push_str(&line);
                        log.push('\n');
                    }
                    if let Some(rest) = line.split("listening on ").nth(1) {
                        let rest = rest
                            .trim_start_matches("https://")
                            .trim_start_matches("http://");
                        let port = rest.split([' ', ')']).next().unwrap_or("");
                        let _ = port_tx.send(port.rsplit(':').next().unwrap_or("").to_string());
                    }
                }
            });
        }
        drop(port_tx);
        let port = match port_rx.recv_timeout(Duration::from_secs(120)) {
            Ok(port) => port,
            Err(_) => {
                let _ = child.kill();
                let _ = child.wait();
                std::thread::sleep(Duration::from_millis(100));
                return Err(log.lock().unwrap().clone());
            }
        };
        Ok(Server {
            child: Some(child),
            base: format!("http://127.0.0.1:{port}"),
            working_dir: working_dir.join("data"),
            log,
            client: reqwest::Client::builder()
                .timeout(Duration::from_secs(120))
                .build()
                .unwrap(),
        })
    }

    /// Everything the server printed so far.
    pub fn log(&self) -> String {
        self.log.lock().unwrap().clone()
    }

    /// The directory holding this server's `WORKING_DIR`.
    pub fn root(&self) -> PathBuf {
        self.working_dir.parent().unwrap().to_path_buf()
    }

    /// Sends a request; `workspace` goes in `LIGHTRAG-WORKSPACE`.
    pub async fn request(
        &self,
        method: Method,
        path: &str,
        workspace: Option<&str>,
        body: Option<Value>,
    ) -> Reply {
        let mut request = self.client.request(method, format!("{}{path}", self.base));
        if let Some(ws) = workspace {
            request = request.header("LIGHTRAG-WORKSPACE", ws);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.expect("request failed");
        Reply {
            status: response.status(),
            headers: response.headers().clone(),
            text: response.text().await.unwrap(),
        }
    }

    /// Sends a request with arbitrary headers.
    pub async fn request_with(
        &self,
        method: Method,
        path: &str,
        headers: &[(&str, &str)],
        body: Option<Value>,
    ) -> Reply {
        let mut request = self.client.request(method, format!("{}{path}", self.base));
        for (k, v) in headers {
            request = request.header(*k, *v);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.expect("request failed");
        Reply {
            status: response.status(),
            headers: response.headers().clone(),
            text: response.text().await.unwrap(),
        }
    }

    /// `GET`.
    pub async fn get(&self, path: &str, workspace: Option<&str>) -> Reply {
        self.request(Method::GET, path, workspace, None).await
    }

    /// `POST` JSON.
    pub async fn post(&self, path: &str, workspace: Option<&str>, body: Value) -> Reply {
        self.request(Method::POST, path, workspace, Some(body))
            .await
    }

    /// Inserts one text and returns its track id (asserting 200).
    pub async fn insert(&self, workspace: Option<&str>, file: &str, text: &str) -> String {
        let reply = self
            .post(
                "/documents/text",
                workspace,
                json!({"text": text, "file_source": file}),
            )
            .await;
        assert_eq!(reply.status, 200, "{}", reply.text);
        reply.json()["track_id"].as_str().unwrap().to_string()
    }

    /// `status_counts` of a workspace.
    pub async fn counts(&self, workspace: Option<&str>) -> Value {
        let reply = self.get("/documents/status_counts", workspace).await;
        assert_eq!(reply.status, 200, "{}", reply.text);
        reply.json()["status_counts"].clone()
    }

    /// Waits until no document of the workspace is pending or processing and its
    /// pipeline has stopped (it stops just after its last document, so the counts
    /// alone would let a request that needs an idle pipeline race it).
    pub async fn wait_idle(&self, workspace: Option<&str>) -> Value {
        let deadline = Instant::now() + Duration::from_secs(120);
        loop {
            let counts = self.counts(workspace).await;
            let busy = counts["pending"].as_u64().unwrap() + counts["processing"].as_u64().unwrap();
            if busy == 0
                && self
                    .get("/documents/pipeline_status", workspace)
                    .await
                    .json()["busy"]
                    == false
            {
                return counts;
            }
            assert!(Instant::now() < deadline, "documents still busy: {counts}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// A naive query's context (`only_need_context`).
    pub async fn context(&self, workspace: Option<&str>, query: &str) -> String {
        let reply = self
            .post(
                "/query",
                workspace,
                json!({"query": query, "mode": "naive", "only_need_context": true}),
            )
            .await;
        assert_eq!(reply.status, 200, "{}", reply.text);
        reply.json()["response"].as_str().unwrap().to_string()
    }

    /// A counter or gauge from `/metrics`.
    pub async fn metric(&self, name: &str) -> u64 {
        let text = self.get("/metrics", None).await.text;
        text.lines()
            .find_map(|line| line.strip_prefix(&format!("{name} ")))
            .unwrap_or_else(|| panic!("no metric {name}"))
            .trim()
            .parse()
            .unwrap()
    }

    /// Sends SIGTERM and waits for the exit.
    pub fn terminate(mut self) -> (ExitStatus, String) {
        let mut child = self.child.take().unwrap();
        Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status()
            .unwrap();
        let status = wait_with_timeout(&mut child, Duration::from_secs(60));
        std::thread::sleep(Duration::from_millis(100));
        (status, self.log())
    }

    /// Sends SIGKILL: no shutdown, no finalize.
    pub fn kill9(mut self) {
        let mut child = self.child.take().unwrap();
        child.kill().unwrap();
        child.wait().unwrap();
    }
}

fn wait_with_timeout(child: &mut Child, timeout: Duration) -> ExitStatus {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("server did not exit within {timeout:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Borrows a list of owned pairs as `&str` pairs.
pub fn pairs(env: &[(String, String)]) -> Vec<(&str, &str)> {
    env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect()
}

/// Runs `lightrag-server <args>` (a command such as `export`) on the directories a
/// server started in `root` uses, with `env`; whether it succeeded, and its output.
pub fn run_command(root: &Path, env: &[(&str, &str)], args: &[&str]) -> (bool, String) {
    let mut command = Command::new(BINARY);
    command
        .args(args)
        .env_clear()
        .env("WORKING_DIR", root.join("data"))
        .env("INPUT_DIR", root.join("inputs"))
        .env("LIGHTRAG_CACHE_DIR", cache_dir());
    for (key, value) in env {
        command.env(key, value);
    }
    let output = command.output().expect("cannot run lightrag-server");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    (output.status.success(), text)
}
