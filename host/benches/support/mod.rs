//! What the black-box benchmarks share: a server process on a loopback port, and
//! waiting for a workspace's documents.

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// The server under test: `LIGHTRAG_BENCH_SERVER` (another build, an earlier commit
/// say, for a side-by-side run), else the one cargo built.
pub fn server_binary() -> String {
    std::env::var("LIGHTRAG_BENCH_SERVER")
        .unwrap_or_else(|_| env!("CARGO_BIN_EXE_lightrag-server").to_string())
}

/// A running server process.
pub struct ServerProcess {
    pub child: Child,
    /// `http://127.0.0.1:<port>`.
    pub base: String,
}

impl ServerProcess {
    /// Starts the server on `dir` with `env` (the mock's and the bench's settings).
    /// Its log goes to `BENCH_SERVER_LOG` when that is set.
    pub fn start(dir: &Path, env: &[(String, String)]) -> ServerProcess {
        let mut command = Command::new(server_binary());
        command
            .env_clear()
            .current_dir(dir)
            .env("HOST", "127.0.0.1")
            .env("PORT", "0")
            .env("WORKING_DIR", dir.join("data"))
            .env("LOG_LEVEL", "WARNING")
            .env("RUST_LOG", "info,wasmtime=warn,cranelift=warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::null());
        for (key, value) in env {
            command.env(key, value);
        }
        let mut child = command.spawn().expect("start the server");
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let port = loop {
            let line = lines.next().expect("server output").unwrap();
            if let Some(rest) = line.split("listening on http://").nth(1) {
                break rest
                    .split(' ')
                    .next()
                    .unwrap()
                    .rsplit(':')
                    .next()
                    .unwrap()
                    .to_string();
            }
        };
        // The server logs to stdout: keep reading it.
        let mut log = std::env::var_os("BENCH_SERVER_LOG")
            .map(|path| std::fs::File::create(path).expect("create the server log"));
        std::thread::spawn(move || {
            for line in lines.map_while(Result::ok) {
                if let Some(file) = log.as_mut() {
                    let _ = writeln!(file, "{line}");
                }
            }
        });
        ServerProcess {
            child,
            base: format!("http://127.0.0.1:{port}"),
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// SIGTERM, and wait for the exit.
    pub fn stop(mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let _ = self.child.wait();
    }
}

/// Documents of `ws` that are processed or failed.
pub async fn settled(client: &reqwest::Client, base: &str, ws: &str) -> serde_json::Value {
    client
        .get(format!("{base}/documents/status_counts"))
        .header("LIGHTRAG-WORKSPACE", ws)
        .send()
        .await
        .unwrap()
        .json::<serde_json::Value>()
        .await
        .unwrap()["status_counts"]
        .clone()
}

/// Waits until `docs` documents of `ws` are processed or failed.
pub async fn wait_settled(client: &reqwest::Client, base: &str, ws: &str, docs: u64) {
    loop {
        let counts = settled(client, base, ws).await;
        let done =
            counts["processed"].as_u64().unwrap_or(0) + counts["failed"].as_u64().unwrap_or(0);
        if done >= docs {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
