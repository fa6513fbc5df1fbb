//! Several servers behind a real nginx with the routing of `deploy/nginx/`: every
//! workspace is served by one node only; a stopped node makes its workspaces — and
//! only them — unavailable; moved to the survivors (exported from the stopped node's
//! disk, imported through the admin route, pinned in `moved.map`), every workspace
//! answers again with nothing lost. And a live move: drained at nginx, exported from
//! its running node, imported on another, pinned there, its last write kept.
//!
//! Needs nginx (Debian: `nginx`); `.ci/run` installs it. Where it is missing the test
//! says so and passes, except under CI, where it fails.

use crate::harness::{Server, run_command};
use futures::StreamExt;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const ADMIN: &str = "scale-out-admin";
const WORKSPACES: usize = 200;
const NODES: usize = 3;

fn nginx_binary() -> Option<PathBuf> {
    let found = ["/usr/sbin/nginx", "/usr/local/sbin/nginx", "/usr/bin/nginx"]
        .iter()
        .map(PathBuf::from)
        .find(|p| p.is_file());
    if found.is_none() {
        assert!(
            std::env::var_os("CI").is_none(),
            "the scale-out test needs nginx (CI installs it)"
        );
        eprintln!("SKIPPED: the scale-out test needs nginx (Debian: apt-get install nginx)");
    }
    found
}

/// nginx in the foreground on a loopback port, with the committed routing files.
struct Nginx {
    binary: PathBuf,
    dir: PathBuf,
    child: Child,
    base: String,
}

impl Nginx {
    fn start(binary: &Path, nodes: &[String]) -> Nginx {
        let dir = tempfile::tempdir().unwrap().keep();
        let deploy = Path::new(env!("CARGO_MANIFEST_DIR")).join("../deploy/nginx");
        for file in ["lightrag-routing.conf", "lightrag-location.conf"] {
            std::fs::copy(deploy.join(file), dir.join(file)).unwrap();
        }
        std::fs::write(dir.join("moved.map"), "").unwrap();
        let mut upstreams =
            String::from("upstream lightrag_ring {\n    hash $lightrag_ring_key consistent;\n");
        for node in nodes {
            upstreams.push_str(&format!("    server {node} max_fails=0;\n"));
        }
        upstreams.push_str("}\n");
        for (i, node) in nodes.iter().enumerate() {
            upstreams.push_str(&format!("upstream node{i} {{ server {node}; }}\n"));
        }
        std::fs::write(dir.join("upstreams.conf"), upstreams).unwrap();
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        // As root, nginx's workers would switch to `nobody`, who cannot read this
        // directory; in a test they may stay who we are.
        let root = Command::new("id")
            .arg("-u")
            .output()
            .is_ok_and(|o| o.stdout.starts_with(b"0\n"));
        let config = format!(
            "{user}daemon off;\nworker_processes 1;\npid {dir}/nginx.pid;\n\
             events {{}}\nhttp {{\n    access_log off;\n    include upstreams.conf;\n\
             include lightrag-routing.conf;\n    server {{\n        listen 127.0.0.1:{port};\n\
             location / {{\n            include lightrag-location.conf;\n        }}\n    }}\n}}\n",
            user = if root { "user root;\n" } else { "" },
            dir = dir.display(),
        );
        std::fs::write(dir.join("nginx.conf"), config).unwrap();
        let child = Command::new(binary)
            .args(nginx_args(&dir))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("cannot start nginx");
        let deadline = Instant::now() + Duration::from_secs(20);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "nginx did not start: {}",
                std::fs::read_to_string(dir.join("error.log")).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        Nginx {
            binary: binary.to_path_buf(),
            dir,
            child,
            base: format!("http://127.0.0.1:{port}"),
        }
    }

    /// Pins each workspace to its node (`usize::MAX`: drained) in moved.map, and
    /// reloads; returns once every worker that had the old map has exited, so each
    /// request from then on is routed by the new one. (`nginx -s reload` only signals
    /// the master: until it has started new workers and retired the old ones, a new
    /// connection may still reach an old worker, which once answered a query for a
    /// moved workspace with an error page right after the new map had answered.)
    fn pin(&self, pins: &[(String, usize)]) {
        let old_workers = self.workers();
        let map: String = pins
            .iter()
            .map(|(ws, node)| match node {
                &usize::MAX => format!("{ws} drain;\n"),
                node => format!("{ws} node{node};\n"),
            })
            .collect();
        std::fs::write(self.dir.join("moved.map"), map).unwrap();
        let status = Command::new(&self.binary)
            .args(nginx_args(&self.dir))
            .args(["-s", "reload"])
            .status()
            .unwrap();
        assert!(status.success(), "nginx reload failed");
        let deadline = Instant::now() + Duration::from_secs(30);
        while old_workers
            .iter()
            .any(|pid| Path::new(&format!("/proc/{pid}")).exists())
        {
            assert!(Instant::now() < deadline, "nginx kept its old workers");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// The pids of the master's worker processes.
    fn workers(&self) -> Vec<u32> {
        let master = self.child.id();
        std::fs::read_dir("/proc")
            .unwrap()
            .flatten()
            .filter_map(|entry| entry.file_name().to_str()?.parse::<u32>().ok())
            .filter(|pid| {
                // `pid (comm) state ppid …`; comm may hold spaces, so split after it.
                std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|stat| {
                    stat.rsplit_once(')')
                        .and_then(|(_, rest)| rest.split_whitespace().nth(1)?.parse::<u32>().ok())
                        == Some(master)
                })
            })
            .collect()
    }
}

fn nginx_args(dir: &Path) -> Vec<String> {
    vec![
        "-p".into(),
        format!("{}/", dir.display()),
        "-c".into(),
        dir.join("nginx.conf").display().to_string(),
        "-e".into(),
        dir.join("error.log").display().to_string(),
    ]
}

impl Drop for Nginx {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn text_of(workspace: &str) -> String {
    format!("The {workspace} Archive keeps the ledgers of Quorran Shipping.")
}

/// The status, and the counts by state.
async fn status_counts(client: &reqwest::Client, base: &str, workspace: &str) -> (u16, Value) {
    let reply = client
        .get(format!("{base}/documents/status_counts"))
        .header("LIGHTRAG-WORKSPACE", workspace)
        .send()
        .await
        .unwrap_or_else(|e| panic!("status of {workspace} through {base}: {e:?}"));
    let status = reply.status().as_u16();
    let body: Value = reply.json().await.unwrap_or(Value::Null);
    (status, body["status_counts"].clone())
}

/// Which nodes hold a directory for `workspace`.
fn holders(servers: &[PathBuf], workspace: &str) -> Vec<usize> {
    (0..servers.len())
        .filter(|&i| servers[i].join(workspace).is_dir())
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn nginx_keeps_each_workspace_on_one_node_and_a_stopped_nodes_workspaces_move_without_loss() {
    let Some(binary) = nginx_binary() else {
        return;
    };
    let mut servers: Vec<Option<Server>> = (0..NODES)
        .map(|_| {
            // Pool capacity is another test's concern: each node keeps all it holds.
            Some(Server::start(&[
                ("LIGHTRAG_ADMIN_API_KEY", ADMIN),
                ("LIGHTRAG_MAX_WORKSPACES_IN_POOL", "150"),
            ]))
        })
        .collect();
    let bases: Vec<String> = servers
        .iter()
        .map(|s| s.as_ref().unwrap().base.clone())
        .collect();
    let data_dirs: Vec<PathBuf> = servers
        .iter()
        .map(|s| s.as_ref().unwrap().working_dir.clone())
        .collect();
    let roots: Vec<PathBuf> = servers.iter().map(|s| s.as_ref().unwrap().root()).collect();
    let nodes: Vec<String> = bases
        .iter()
        .map(|b| b.trim_start_matches("http://").to_string())
        .collect();
    let nginx = Nginx::start(&binary, &nodes);
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(60))
        // No kept-alive connections: `nginx -s reload` retires the old workers, which
        // close their idle connections, and a request sent on one at that moment
        // fails with `IncompleteMessage` (it did, right after a reload, in loaded
        // runs). A fresh connection per request always reaches a live worker.
        .pool_max_idle_per_host(0)
        .build()
        .unwrap();
    let names: Vec<String> = (0..WORKSPACES).map(|i| format!("ws-{i:03}")).collect();

    // Every workspace gets a document through nginx.
    let inserts = futures::stream::iter(names.iter().map(|ws| {
        let client = client.clone();
        let base = nginx.base.clone();
        async move {
            let reply = client
                .post(format!("{base}/documents/text"))
                .header("LIGHTRAG-WORKSPACE", ws.as_str())
                .json(&json!({"text": text_of(ws), "file_source": format!("{ws}.txt")}))
                .send()
                .await
                .unwrap();
            assert_eq!(reply.status(), 200, "{ws}: {}", reply.text().await.unwrap());
        }
    }))
    .buffer_unordered(16)
    .collect::<Vec<()>>();
    inserts.await;
    let deadline = Instant::now() + Duration::from_secs(180);
    for ws in &names {
        loop {
            let (status, counts) = status_counts(&client, &nginx.base, ws).await;
            if status == 200 && counts["processed"] == 1 {
                break;
            }
            assert!(Instant::now() < deadline, "{ws} never processed: {counts}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    // Each workspace lives on exactly one node, and the nodes share them out.
    let mut owner: BTreeMap<String, usize> = BTreeMap::new();
    for ws in &names {
        let held = holders(&data_dirs, ws);
        assert_eq!(held.len(), 1, "{ws} is on nodes {held:?}");
        owner.insert(ws.clone(), held[0]);
    }
    for node in 0..NODES {
        let count = owner.values().filter(|&&n| n == node).count();
        assert!(count >= WORKSPACES / 10, "node {node} holds only {count}");
    }
    // Requests naming no workspace all reach one node too.
    for _ in 0..6 {
        let reply = client
            .get(format!("{}/documents/status_counts", nginx.base))
            .send()
            .await
            .unwrap();
        assert_eq!(reply.status(), 200);
    }
    assert_eq!(holders(&data_dirs, "default").len(), 1);

    // One node stops: its workspaces, and only them, become unavailable.
    let lost = 1;
    let (_, log) = servers[lost].take().unwrap().terminate();
    assert!(log.contains("finalized"), "{log}");
    for ws in &names {
        let (status, counts) = status_counts(&client, &nginx.base, ws).await;
        if owner[ws] == lost {
            assert_eq!(status, 502, "{ws} answered though its node is down");
        } else {
            assert_eq!(
                (status, counts["processed"].clone()),
                (200, json!(1)),
                "{ws}"
            );
        }
    }

    // Moved to the survivors from the stopped node's disk, then pinned.
    let moving: Vec<String> = names
        .iter()
        .filter(|ws| owner[*ws] == lost)
        .cloned()
        .collect();
    let mut pins = Vec::new();
    for (i, ws) in moving.iter().enumerate() {
        let archive = roots[lost].join(format!("{ws}.tar.gz"));
        let (ok, out) = run_command(
            &roots[lost],
            &[],
            &[
                "export",
                "--workspace",
                ws,
                "--to",
                archive.to_str().unwrap(),
            ],
        );
        assert!(ok, "{out}");
        let to = if i % 2 == 0 { 0 } else { 2 };
        let reply = client
            .post(format!("{}/workspaces/{ws}/import", bases[to]))
            .header("X-Admin-Key", ADMIN)
            .body(std::fs::read(&archive).unwrap())
            .send()
            .await
            .unwrap();
        assert_eq!(reply.status(), 201, "{ws}: {}", reply.text().await.unwrap());
        pins.push((ws.clone(), to));
    }
    nginx.pin(&pins);

    // Everything answers, each with its own document.
    let deadline = Instant::now() + Duration::from_secs(30);
    for ws in &names {
        loop {
            let (status, counts) = status_counts(&client, &nginx.base, ws).await;
            if status == 200 {
                assert_eq!(counts["processed"], 1, "{ws}: {counts}");
                assert_eq!(counts["all"], 1, "{ws}: {counts}");
                break;
            }
            // The reload reaches nginx's worker a moment later.
            assert!(
                Instant::now() < deadline,
                "{ws} still unavailable ({status})"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let reply = client
            .post(format!("{}/query", nginx.base))
            .header("LIGHTRAG-WORKSPACE", ws.as_str())
            .json(&json!({"query": "Quorran Shipping ledgers", "mode": "naive", "only_need_context": true}))
            .send()
            .await
            .unwrap();
        let body: Value = reply.json().await.unwrap();
        assert!(
            body["response"].as_str().unwrap().contains(&text_of(ws)),
            "{ws}: {body}"
        );
    }

    // A live move, the documented way: drain at nginx, export from the running node,
    // import on another, flip the pin. A write acknowledged before the drain arrives.
    let live = names.iter().find(|ws| owner[*ws] == 0).unwrap().clone();
    let reply = client
        .post(format!("{}/documents/text", nginx.base))
        .header("LIGHTRAG-WORKSPACE", live.as_str())
        .json(&json!({"text": "Sefton Vale ships amber to Quorran Shipping.", "file_source": "late.txt"}))
        .send()
        .await
        .unwrap();
    assert_eq!(reply.status(), 200);
    let mut drained = pins.clone();
    drained.push((live.clone(), usize::MAX));
    nginx.pin(&drained);
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let (status, _) = status_counts(&client, &nginx.base, &live).await;
        if status == 503 {
            break;
        }
        assert!(Instant::now() < deadline, "the drain never took effect");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let reply = client
        .get(format!("{}/documents/status_counts", nginx.base))
        .header("LIGHTRAG-WORKSPACE", live.as_str())
        .send()
        .await
        .unwrap();
    assert_eq!(reply.headers()["retry-after"], "30");
    let archive = client
        .get(format!("{}/workspaces/{live}/export", bases[0]))
        .header("X-Admin-Key", ADMIN)
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    let reply = client
        .post(format!("{}/workspaces/{live}/import", bases[2]))
        .header("X-Admin-Key", ADMIN)
        .body(archive)
        .send()
        .await
        .unwrap();
    assert_eq!(reply.status(), 201);
    let mut flipped = pins.clone();
    flipped.push((live.clone(), 2));
    nginx.pin(&flipped);
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let (status, counts) = status_counts(&client, &nginx.base, &live).await;
        // The late document, whether processed before the export or after the import.
        if status == 200 && counts["processed"] == 2 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "{live} after the move: {status} {counts}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(holders(&data_dirs, &live).contains(&2));
    for survivor in [0, 2] {
        drop(servers[survivor].take());
    }
}
