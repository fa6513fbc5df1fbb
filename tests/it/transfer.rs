//! Moving a workspace: exported as an archive while it keeps answering, imported on
//! another server (admin routes) or from the command line, where it answers as it
//! did; damaged archives and occupied targets are refused with nothing installed.

use crate::harness::{Server, pairs, run_command};
use crate::mock_llm::MockLlm;
use reqwest::Method;
use serde_json::{Value, json};

const ADMIN: &str = "transfer-admin-key";

const TEXTS: &[(&str, &str)] = &[
    (
        "harbour.txt",
        "Talia Brennock runs the Quillfen Harbour Authority. The Quillfen Harbour Authority \
         licenses every ferry that docks at Marrowby.",
    ),
    (
        "orchard.txt",
        "Osric Delmane planted the Vellacourt Orchard in 1921. Vellacourt cider is pressed \
         by the Delmane Cooperative.",
    ),
];

/// `/query/data` in local mode: the entities and chunks a query finds.
async fn data(server: &Server, workspace: &str, query: &str) -> (Vec<String>, Vec<String>) {
    let reply = server
        .post(
            "/query/data",
            Some(workspace),
            json!({"query": query, "mode": "mix"}),
        )
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    let body = reply.json();
    let mut entities: Vec<String> = body["data"]["entities"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["entity_name"].as_str().unwrap().to_string())
        .collect();
    let mut chunks: Vec<String> = body["data"]["chunks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["content"].as_str().unwrap().to_string())
        .collect();
    entities.sort();
    chunks.sort();
    (entities, chunks)
}

async fn admin(server: &Server, method: Method, path: &str) -> reqwest::Response {
    reqwest::Client::new()
        .request(method, format!("{}{path}", server.base))
        .header("X-Admin-Key", ADMIN)
        .send()
        .await
        .unwrap()
}

async fn import(server: &Server, workspace: &str, archive: Vec<u8>) -> (u16, Value) {
    let reply = reqwest::Client::new()
        .post(format!("{}/workspaces/{workspace}/import", server.base))
        .header("X-Admin-Key", ADMIN)
        .body(archive)
        .send()
        .await
        .unwrap();
    let status = reply.status().as_u16();
    (status, reply.json().await.unwrap())
}

#[tokio::test(flavor = "multi_thread")]
async fn a_workspace_moves_between_servers_as_an_archive_and_answers_the_same() {
    let mock = MockLlm::start(32).await;
    let mut env = pairs(mock.env());
    env.push(("LIGHTRAG_ADMIN_API_KEY", ADMIN));
    let source = Server::start(&env);
    for (file, text) in TEXTS {
        source.insert(Some("mover"), file, text).await;
    }
    source.wait_idle(Some("mover")).await;
    let question = "Who runs the Quillfen Harbour Authority and who planted Vellacourt Orchard?";
    let before = data(&source, "mover", question).await;
    assert!(
        before.0.contains(&"Quillfen Harbour Authority".to_string()),
        "{before:?}"
    );

    // Exported while queries keep arriving: none of them fails.
    let readers = (0..8).map(|_| data(&source, "mover", question));
    let (export, answers) = tokio::join!(
        admin(&source, Method::GET, "/workspaces/mover/export"),
        futures::future::join_all(readers)
    );
    assert_eq!(export.status(), 200);
    assert_eq!(export.headers()["content-type"], "application/gzip");
    let archive = export.bytes().await.unwrap().to_vec();
    assert!(answers.iter().all(|a| *a == before));

    // Another server installs it under another name, and it answers the same.
    let target = Server::start(&env);
    let (status, report) = import(&target, "moved", archive.clone()).await;
    assert_eq!(status, 201, "{report}");
    assert_eq!(report["from"], "mover");
    assert_eq!(report["documents"], 2, "{report}");
    let stats = admin(&source, Method::GET, "/workspaces/mover")
        .await
        .json::<Value>()
        .await
        .unwrap();
    for table in ["chunks", "entities", "relations"] {
        assert_eq!(report[table], stats[table], "{table}: {report} vs {stats}");
    }
    assert_eq!(data(&target, "moved", question).await, before);
    let counts = target.counts(Some("moved")).await;
    assert_eq!(counts["processed"], 2, "{counts}");

    // The moved workspace keeps working: a new document is processed and found.
    target
        .insert(
            Some("moved"),
            "bridge.txt",
            "Ysmay Corrow designed the Pellgarth Bridge.",
        )
        .await;
    target.wait_idle(Some("moved")).await;
    assert!(
        target
            .context(Some("moved"), "Pellgarth Bridge")
            .await
            .contains("Ysmay Corrow")
    );

    // A workspace that holds data is never overwritten.
    let (status, body) = import(&target, "moved", archive.clone()).await;
    assert_eq!(status, 409, "{body}");
    assert!(
        body["detail"]
            .as_str()
            .unwrap()
            .contains("already holds data"),
        "{body}"
    );
    assert_eq!(target.counts(Some("moved")).await["all"], 3);

    // A damaged archive installs nothing.
    let mut altered = archive.clone();
    altered.truncate(archive.len() * 2 / 3);
    let (status, body) = import(&target, "damaged", altered).await;
    assert_eq!(status, 400, "{body}");
    assert!(
        body["detail"].as_str().unwrap().contains("archive"),
        "{body}"
    );
    assert!(!target.working_dir.join("damaged").exists());
    let (status, _) = import(&target, "damaged", Vec::new()).await;
    assert_eq!(status, 400);
    // Admin only.
    let reply = reqwest::Client::new()
        .get(format!("{}/workspaces/mover/export", source.base))
        .send()
        .await
        .unwrap();
    assert_eq!(reply.status(), 401);
    assert!(
        !source.working_dir.join(".host/transfers").exists()
            || std::fs::read_dir(source.working_dir.join(".host/transfers"))
                .unwrap()
                .next()
                .is_none(),
        "staging left behind"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn export_and_import_commands_move_a_workspace_and_refuse_one_a_server_holds() {
    let source = Server::start(&[]);
    let root = source.root();
    source.insert(Some("notes"), "n.txt", TEXTS[0].1).await;
    source.wait_idle(Some("notes")).await;
    let context = source.context(Some("notes"), "Quillfen Harbour").await;
    let archive = root.join("notes.tar.gz");
    let export = || {
        let to = archive.to_str().unwrap();
        run_command(&root, &[], &["export", "--workspace", "notes", "--to", to])
    };
    // The running server holds the workspace: the command says so, and whom to ask.
    let (ok, out) = export();
    assert!(!ok && out.contains("another"), "{out}");
    let (_, log) = source.terminate();
    assert!(log.contains("finalized"), "{log}");
    let (ok, out) = export();
    assert!(ok, "{out}");
    assert!(out.contains("exported 'notes'"), "{out}");

    let other = tempfile::tempdir().unwrap().keep();
    let import_copy = || {
        let from = archive.to_str().unwrap();
        run_command(
            &other,
            &[],
            &["import", "--workspace", "copy", "--archive", from],
        )
    };
    let (ok, out) = import_copy();
    assert!(ok, "{out}");
    assert!(out.contains("1 documents"), "{out}");
    let (ok, out) = import_copy();
    assert!(!ok && out.contains("already holds data"), "{out}");
    let (ok, out) = run_command(&other, &[], &["export", "--to", "x.tar.gz"]);
    assert!(!ok && out.contains("--workspace"), "{out}");

    let server = Server::start_in(&other, &[]);
    assert_eq!(
        server.context(Some("copy"), "Quillfen Harbour").await,
        context
    );
}
