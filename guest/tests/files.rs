//! Uploaded files in the engine: staging, scanning, parsing, archiving, and what
//! opening does with a file whose parse stopped the engine.

mod common;

use common::config;
use lightrag_engine::Workspace;
use lightrag_engine::files::{self, Parsed};
use lightrag_engine::state::{DocState, Op};
use std::path::Path;

fn open(dir: &Path, input: &Path, fault: Option<&str>) -> Workspace {
    Workspace::open(config(), dir, Some(input), fault)
        .expect("open")
        .0
}

fn status(workspace: &Workspace, id: &str) -> (DocState, Option<String>, String) {
    let store = workspace.shared().store.borrow();
    let s = &store.state().status[id];
    (s.state, s.error_msg.clone(), s.metadata.clone())
}

#[test]
fn an_upload_is_parsed_stored_and_moved_aside() {
    let (data, input) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let workspace = open(data.path(), input.path(), None);
    std::fs::write(input.path().join(".staged"), "<p>Tide &amp; moon</p>").unwrap();
    let id = files::enqueue_upload(workspace.shared(), ".staged", "tide.html", "t1").unwrap();
    let (state, _, metadata) = status(&workspace, &id);
    assert_eq!(state, DocState::Pending);
    assert!(metadata.contains("pending_parse"), "{metadata}");
    assert!(input.path().join("tide.html").exists());

    // A second upload of the name, or onto a file already there, is a conflict.
    std::fs::write(input.path().join(".again"), "x").unwrap();
    assert!(files::enqueue_upload(workspace.shared(), ".again", "tide.html", "t2").is_err());
    std::fs::write(input.path().join("loose.txt"), "x").unwrap();
    assert!(files::enqueue_upload(workspace.shared(), ".again", "loose.txt", "t2").is_err());
    // Names that leave the directory are refused.
    assert!(files::enqueue_upload(workspace.shared(), ".again", "../x.txt", "t2").is_err());

    assert!(matches!(
        files::parse_document(workspace.shared(), &id).unwrap(),
        Parsed::Ready
    ));
    let (state, _, metadata) = status(&workspace, &id);
    assert_eq!(state, DocState::Pending, "parsed: ready to process");
    assert!(metadata.contains("\"parser\""), "{metadata}");
    let store = workspace.shared().store.borrow();
    let doc = &store.state().docs[&id];
    assert_eq!(store.read_text(&doc.content).unwrap(), "Tide & moon");
    assert!(!input.path().join("tide.html").exists());
    assert!(input.path().join("__parsed__/tide.html").exists());
}

#[test]
fn a_file_that_cannot_be_parsed_fails_and_stays_for_a_retry() {
    let (data, input) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let workspace = open(data.path(), input.path(), None);
    std::fs::write(input.path().join("bad.txt"), [0x66, 0xff, 0xfe, 0x00]).unwrap();
    let report = files::scan(workspace.shared(), "scan_1").unwrap();
    assert_eq!(report.enqueued.len(), 1);
    let id = &report.enqueued[0];
    assert!(matches!(
        files::parse_document(workspace.shared(), id).unwrap(),
        Parsed::Failed
    ));
    let (state, error, _) = status(&workspace, id);
    assert_eq!(state, DocState::Failed);
    assert!(error.unwrap().contains("UTF-8"));
    assert!(input.path().join("bad.txt").exists(), "kept for a retry");
    // Fixed on disk, a scan enqueues it again and it parses.
    std::fs::write(input.path().join("bad.txt"), "Fixed now.").unwrap();
    let report = files::scan(workspace.shared(), "scan_2").unwrap();
    assert_eq!(report.enqueued, vec![id.clone()]);
    assert!(matches!(
        files::parse_document(workspace.shared(), id).unwrap(),
        Parsed::Ready
    ));
}

#[test]
fn a_scan_skips_links_and_hidden_files_and_archives_under_free_names() {
    let (data, input) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let outside = tempfile::tempdir().unwrap();
    std::fs::write(outside.path().join("secret.txt"), "secret").unwrap();
    std::os::unix::fs::symlink(
        outside.path().join("secret.txt"),
        input.path().join("link.txt"),
    )
    .unwrap();
    std::fs::write(input.path().join(".upload-x.part"), "staged").unwrap();
    std::fs::write(input.path().join("a.md"), "# A").unwrap();
    let workspace = open(data.path(), input.path(), None);
    let report = files::scan(workspace.shared(), "scan_1").unwrap();
    assert_eq!(report.enqueued.len(), 1, "only a.md");
    files::parse_document(workspace.shared(), &report.enqueued[0]).unwrap();
    // Mark it processed, put the file back twice: each scan moves it aside.
    let mut s = workspace.shared().store.borrow().state().status[&report.enqueued[0]].clone();
    s.state = DocState::Processed;
    workspace.shared().commit(vec![Op::PutStatus(s)]).unwrap();
    for expected in ["a_001.md", "a_002.md"] {
        std::fs::write(input.path().join("a.md"), "# A").unwrap();
        let report = files::scan(workspace.shared(), "scan_n").unwrap();
        assert_eq!(report.archived, vec!["a.md".to_string()]);
        assert!(input.path().join("__parsed__").join(expected).exists());
    }
    files::delete_files(workspace.shared(), "a.md");
    let left: Vec<_> = std::fs::read_dir(input.path().join("__parsed__"))
        .unwrap()
        .collect();
    assert!(left.is_empty(), "every archived copy deleted");
}

#[test]
fn a_file_being_parsed_when_the_engine_faulted_fails_on_reopen() {
    let (data, input) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let workspace = open(data.path(), input.path(), None);
    std::fs::write(input.path().join(".s"), "anything").unwrap();
    let id = files::enqueue_upload(workspace.shared(), ".s", "trap.pdf", "t").unwrap();
    // What `parse_document` commits before it reads the file.
    let mut s = workspace.shared().store.borrow().state().status[&id].clone();
    s.state = DocState::Parsing;
    workspace.shared().commit(vec![Op::PutStatus(s)]).unwrap();
    drop(workspace);

    // Killed (no fault): parsed again.
    let workspace = open(data.path(), input.path(), None);
    assert_eq!(status(&workspace, &id).0, DocState::Pending);
    let mut s = workspace.shared().store.borrow().state().status[&id].clone();
    s.state = DocState::Parsing;
    workspace.shared().commit(vec![Op::PutStatus(s)]).unwrap();
    drop(workspace);

    // Faulted: the file's fault, failed at once.
    let workspace = open(
        data.path(),
        input.path(),
        Some("wasm trap: call stack exhausted"),
    );
    let (state, error, _) = status(&workspace, &id);
    assert_eq!(state, DocState::Failed);
    let error = error.unwrap();
    assert!(
        error.contains("parsing this file stopped the engine"),
        "{error}"
    );
    assert!(error.contains("call stack exhausted"), "{error}");
}
