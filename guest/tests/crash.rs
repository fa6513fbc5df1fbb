//! Fault injection: the engine is stopped after every possible step of an ingestion
//! — as `kill -9` or a trap would stop it, without `finalize` — and reopened.
//! After every stop, a document is either completely stored or not at all, and
//! finishing the ingestion gives the same graph as an uninterrupted run.

mod common;

use common::{DIM, config};
use lightrag_engine::Workspace;
use lightrag_engine::documents;
use lightrag_engine::wit::{
    NewDocument, NumberedReply, Purpose, RawInput, Reply, Request, Step, Task,
};
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// Capitalised words are entities; two in one sentence are related.
fn extraction(text: &str) -> String {
    let mut lines = Vec::new();
    let mut seen = BTreeSet::new();
    for sentence in text.split('.').map(str::trim).filter(|s| !s.is_empty()) {
        let names: Vec<&str> = sentence
            .split_whitespace()
            .filter(|w| w.starts_with(|c: char| c.is_uppercase()))
            .collect();
        for name in &names {
            if seen.insert(name.to_string()) {
                lines.push(format!(
                    "entity<|#|>{name}<|#|>Person<|#|>{name} in: {sentence}."
                ));
            }
        }
        for pair in names.windows(2) {
            lines.push(format!(
                "relation<|#|>{}<|#|>{}<|#|>met<|#|>{sentence}.",
                pair[0], pair[1]
            ));
        }
    }
    lines.push("<|COMPLETE|>".into());
    lines.join("\n")
}

fn vector(text: &str) -> Vec<f32> {
    let mut v = vec![0.1f32; DIM];
    for (i, byte) in text.bytes().enumerate() {
        v[(byte as usize + i) % DIM] += 1.0;
    }
    v
}

fn respond(request: &Request) -> Reply {
    match request {
        Request::Embed(e) => Reply::Embedding(Ok(e.texts.iter().map(|t| vector(t)).collect())),
        Request::Complete(c) => Reply::Completion(Ok(match (&c.purpose, &c.input) {
            (Purpose::Extract, RawInput::Chunk(chunk)) => extraction(chunk),
            (Purpose::Glean, _) => "<|COMPLETE|>".into(),
            other => panic!("unexpected request {other:?}"),
        })),
        Request::Rerank(r) => panic!("unexpected rerank {r:?}"),
    }
}

/// Runs the pipeline, answering one request per step so that there are as many
/// stopping points as possible; with `stop_after`, gives up (like a crash) after that
/// many resumes. Returns how many resumes a complete run took.
fn ingest(workspace: &mut Workspace, stop_after: Option<usize>) -> Option<usize> {
    let (id, mut step) = workspace.start(Task::ProcessDocuments);
    let mut queue: std::collections::VecDeque<NumberedReply> = Default::default();
    let mut resumes = 0;
    loop {
        match step.step {
            Step::Done(_) => return Some(resumes),
            Step::Failed(err) => panic!("pipeline failed: {err:?}"),
            Step::Pending(requests) => queue.extend(requests.iter().map(|r| NumberedReply {
                id: r.id,
                reply: respond(&r.request),
            })),
        }
        if stop_after == Some(resumes) {
            return None;
        }
        let reply = queue.pop_front().expect("the task waits on nothing");
        step = workspace.resume(id, vec![reply]);
        resumes += 1;
    }
}

fn documents() -> Vec<NewDocument> {
    [
        ("a.txt", "Alice met Bob in Paris. Bob thanked Carol."),
        ("b.txt", "Carol met Dave. Alice wrote to Dave."),
        ("c.txt", "Erin met Alice. Bob met Erin in Rome."),
        ("d.txt", "Frank met Carol. Dave met Frank. Alice met Frank."),
    ]
    .into_iter()
    .map(|(name, text)| NewDocument {
        content: text.into(),
        file_path: name.into(),
    })
    .collect()
}

/// What must be equal between an interrupted and an uninterrupted ingestion:
/// nodes with their description fragments and sources, edges with weights.
fn fingerprint(workspace: &Workspace) -> String {
    let store = workspace.shared().store.borrow();
    let state = store.state();
    let set = |s: &str| {
        s.split("<SEP>")
            .map(str::to_string)
            .collect::<BTreeSet<String>>()
    };
    let nodes: BTreeMap<_, _> = state
        .graph
        .nodes()
        .map(|n| {
            (
                n.entity_id.clone(),
                (
                    n.entity_type.clone(),
                    format!("{:?}", set(&n.description)),
                    format!("{:?}", set(&n.source_id)),
                ),
            )
        })
        .collect();
    let edges: BTreeMap<_, _> = state
        .graph
        .edges()
        .map(|e| {
            (
                (e.source.clone(), e.target.clone()),
                (
                    e.weight,
                    e.keywords.clone(),
                    format!("{:?}", set(&e.source_id)),
                ),
            )
        })
        .collect();
    format!(
        "{nodes:?}\n{edges:?}\nchunks={} entity_vectors={} relation_vectors={} docs={}",
        state.chunks.len(),
        state.entity_vectors.len(),
        state.relation_vectors.len(),
        state.doc_graph.len()
    )
}

/// After any stop: a processed document is complete; any other has left nothing.
fn assert_all_or_nothing(workspace: &Workspace, stop: usize) {
    let store = workspace.shared().store.borrow();
    let state = store.state();
    for status in state.status.values() {
        let chunk_prefix = format!("{}-chunk-", status.id);
        let stored_chunks = state
            .chunks
            .keys()
            .filter(|k| k.starts_with(&chunk_prefix))
            .count();
        if status.state == lightrag_engine::state::DocState::Processed {
            let graph = state
                .doc_graph
                .get(&status.id)
                .expect("processed without its graph");
            assert_eq!(
                stored_chunks,
                status.chunks_count.unwrap() as usize,
                "stop {stop}"
            );
            for name in graph.entities() {
                assert!(
                    state.graph.node(name).is_some(),
                    "stop {stop}: {name} missing"
                );
            }
        } else {
            assert_eq!(
                status.state,
                lightrag_engine::state::DocState::Pending,
                "stop {stop}"
            );
            assert_eq!(stored_chunks, 0, "stop {stop}: half-stored {}", status.id);
            assert!(!state.doc_graph.contains_key(&status.id), "stop {stop}");
        }
    }
}

fn open(dir: &Path) -> Workspace {
    Workspace::open(config(), dir, None, None).expect("open").0
}

#[test]
fn stopping_after_any_step_never_leaves_a_document_half_merged() {
    let base = std::env::temp_dir().join(format!("lr-crash-{}", std::process::id()));
    let reference_dir = base.join("reference");
    let mut reference = open(&reference_dir);
    documents::enqueue(reference.shared(), documents(), "t", false).unwrap();
    let steps = ingest(&mut reference, None).unwrap();
    let expected = fingerprint(&reference);
    assert!(steps > 10, "too few steps to be interesting: {steps}");
    assert!(expected.contains("Alice"));

    for stop in 0..steps {
        let dir = base.join(format!("stop-{stop}"));
        let mut workspace = open(&dir);
        documents::enqueue(workspace.shared(), documents(), "t", false).unwrap();
        assert!(ingest(&mut workspace, Some(stop)).is_none());
        drop(workspace); // no finalize: the crash
        let mut workspace = open(&dir);
        assert_all_or_nothing(&workspace, stop);
        ingest(&mut workspace, None).unwrap();
        assert_eq!(fingerprint(&workspace), expected, "stop after {stop} steps");
        drop(workspace);
        std::fs::remove_dir_all(&dir).unwrap();
    }
    std::fs::remove_dir_all(&base).unwrap();
}

/// Every field of every node and edge, exactly.
fn graph_fields(workspace: &Workspace) -> String {
    let store = workspace.shared().store.borrow();
    let state = store.state();
    let nodes: BTreeMap<_, _> = state
        .graph
        .nodes()
        .map(|n| (n.entity_id.clone(), format!("{n:?}")))
        .collect();
    let edges: BTreeMap<_, _> = state
        .graph
        .edges()
        .map(|e| ((e.source.clone(), e.target.clone()), format!("{e:?}")))
        .collect();
    format!("{nodes:#?}\n{edges:#?}")
}

/// Once an entity shows as many sources and files as it may, merging another
/// document journals it without them; replaying the journal must give them back.
#[test]
fn a_full_entitys_sources_and_files_survive_replaying_the_journal() {
    let dir = tempfile::tempdir().unwrap();
    let config = lightrag_engine::wit::Config {
        max_source_ids_per_entity: 1,
        max_source_ids_per_relation: 1,
        max_file_paths: 1,
        ..config()
    };
    let mut workspace = Workspace::open(config.clone(), dir.path(), None, None)
        .expect("open")
        .0;
    // One document at a time, so each is a merge of its own. Alice is in all four:
    // what she first showed (one source, one file) stays (`KEEP`).
    let mut first_shown: Option<(String, String)> = None;
    for document in documents() {
        documents::enqueue(workspace.shared(), vec![document], "t", false).unwrap();
        ingest(&mut workspace, None).unwrap();
        let store = workspace.shared().store.borrow();
        let alice = store.state().graph.node("Alice").unwrap();
        let shown = (alice.source_id.clone(), alice.file_path.clone());
        assert_eq!(first_shown.get_or_insert_with(|| shown.clone()).0, shown.0);
    }
    let before = graph_fields(&workspace);
    {
        let store = workspace.shared().store.borrow();
        let alice = store.state().graph.node("Alice").unwrap().clone();
        // Alice is in all four documents: one source and one file shown, and her
        // description gathered from the later ones too.
        assert!(alice.source_id.starts_with("doc-"), "{alice:?}");
        assert!(!alice.source_id.contains("<SEP>"), "{alice:?}");
        let (file, marker) = alice.file_path.split_once("<SEP>").unwrap();
        assert!(file.ends_with(".txt"), "{alice:?}");
        assert_eq!(marker, "...truncated...(KEEP Old)");
        assert!(alice.description.contains("Frank"), "{alice:?}");
    }
    // As a crash leaves it: no finalize, so the state comes from the journal.
    drop(workspace);
    let reopened = Workspace::open(config, dir.path(), None, None)
        .expect("reopen")
        .0;
    assert_eq!(graph_fields(&reopened), before);
}
