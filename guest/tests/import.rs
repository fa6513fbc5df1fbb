//! Importing a Python LightRAG workspace directory, driven through the calls the
//! component exports (`import-lightrag` phase by phase, then the status, query and
//! deletion exports), on a directory written in LightRAG's documented layout.

mod common;
#[path = "common/driver.rs"]
mod driver;
#[path = "common/fixture.rs"]
mod fixture;
#[path = "common/lightrag.rs"]
mod lightrag;

use common::DIM;
use driver::*;
use fixture::*;
use lightrag::*;
use lightrag_engine::Workspace;
use lightrag_engine::documents;
use lightrag_engine::import::Session;
use lightrag_engine::state::DocState;
use lightrag_engine::wit::{
    DeleteRequest, DocPageRequest, DocSort, Error, ImportPhase, QueryMode, RawInput, Request, Task,
    TaskOutput,
};
use std::collections::BTreeSet;
use std::path::Path;

#[test]
fn a_lightrag_directory_imports_with_its_counts_statuses_and_graph() {
    let source = fixture();
    let data = tempfile::tempdir().unwrap();
    let workspace = open(data.path());
    let counts = import(&workspace, source.path());

    // `check` reads everything and writes nothing.
    let check = &counts[0];
    assert_eq!((check.documents.read, check.chunks.read), (5, 3));
    assert_eq!((check.entities.read, check.relations.read), (6, 5));
    assert_eq!(check.cache.read, 10);
    assert_eq!(check.documents.imported + check.chunks.imported, 0);

    let documents = &counts[1].documents;
    assert_eq!(
        (documents.read, documents.imported, documents.skipped),
        (5, 5, 0)
    );
    assert!(
        documents
            .skip_reasons
            .iter()
            .any(|r| r.contains("without an imported status")),
        "{documents:?}"
    );
    let chunks = &counts[2].chunks;
    assert_eq!((chunks.read, chunks.imported, chunks.skipped), (3, 2, 1));
    assert!(
        chunks.skip_reasons[0].contains("not processed"),
        "{chunks:?}"
    );
    // Both passes of all three chunks, the failed document's included.
    assert_eq!(counts[2].cache.imported, 6);
    let entities = &counts[3].entities;
    assert_eq!(
        (entities.read, entities.imported, entities.skipped),
        (6, 5, 1)
    );
    assert!(
        entities.skip_reasons[0].contains("none of its source chunks"),
        "{entities:?}"
    );
    let relations = &counts[3].relations;
    assert_eq!(
        (relations.read, relations.imported, relations.skipped),
        (5, 4, 1)
    );
    assert!(
        relations.skip_reasons[0].contains("endpoint was not imported"),
        "{relations:?}"
    );
    let cache = &counts[4].cache;
    assert_eq!((cache.read, cache.imported, cache.skipped), (4, 1, 3));
    let reasons = cache.skip_reasons.join("\n");
    for why in ["a query answer", "a summary", "no imported chunk lists"] {
        assert!(reasons.contains(why), "{reasons}");
    }
    // `finish` reports the totals of the writing phases.
    let total = &counts[5];
    assert_eq!(total.documents.imported, 5);
    assert_eq!(total.chunks.imported, 2);
    assert_eq!(total.cache.imported, 7);
    assert_eq!((total.entities.imported, total.relations.imported), (5, 4));

    // Statuses, through the page export: states mapped, fields kept.
    let page = documents::page(
        workspace.shared(),
        &DocPageRequest {
            states: Vec::new(),
            page: 1,
            page_size: 50,
            sort: DocSort::FilePath,
            descending: false,
        },
    );
    assert_eq!(page.total_count, 5);
    let by_file = |file: &str| page.documents.iter().find(|d| d.file_path == file).unwrap();
    let a = by_file("a.txt");
    assert_eq!(a.id, doc_id("a.txt"));
    assert_eq!(a.status, lightrag_engine::wit::DocState::Processed);
    assert_eq!(a.chunks_count, Some(1));
    assert_eq!(a.track_id, "insert_20250601_100000_abcd1234");
    assert_eq!(a.created_at, "2025-06-01T10:00:00.000000+00:00");
    assert!(
        a.metadata_json.contains("process_start_time"),
        "{}",
        a.metadata_json
    );
    let c = by_file("c.txt");
    assert_eq!(c.status, lightrag_engine::wit::DocState::Failed);
    assert_eq!(c.error_msg.as_deref(), Some("LLM timeout after 3 retries"));
    assert_eq!(
        by_file("d.txt").status,
        lightrag_engine::wit::DocState::Pending,
        "interrupted"
    );
    assert_eq!(
        by_file("a-copy.txt").status,
        lightrag_engine::wit::DocState::Failed
    );
    assert_eq!(
        documents::by_track(workspace.shared(), "insert_20250601_100000_abcd1234").len(),
        4
    );

    let store = workspace.shared().store.borrow();
    let state = store.state();
    assert_eq!(
        state.status[&doc_id("a.txt")].chunks_list,
        [chunk0("a.txt")]
    );
    assert_eq!(
        store
            .read_text(&state.docs[&doc_id("b.txt")].content)
            .unwrap(),
        TEXT_B
    );
    let chunk = &state.chunks[&chunk0("a.txt")];
    assert_eq!(store.read_text(&chunk.content).unwrap(), TEXT_A);
    assert_eq!(
        chunk.llm_cache_list.len(),
        2,
        "first pass and gleaning, re-keyed"
    );
    assert!(
        chunk
            .llm_cache_list
            .iter()
            .all(|k| state.cache.contains_key(k))
    );
    // The graph, with LightRAG's descriptions and this workspace's provenance.
    let alice = state.graph.node("Alice").unwrap();
    assert_eq!(alice.entity_type, "person");
    assert!(alice.description.contains("Alice met Carol"));
    assert_eq!(
        alice.source_id,
        format!("{}<SEP>{}", chunk0("a.txt"), chunk0("b.txt"))
    );
    assert_eq!(alice.file_path, "a.txt<SEP>b.txt");
    assert_eq!(alice.created_at, 1_748_772_300);
    assert!(state.graph.node("Ghost").is_none());
    let edge = state
        .graph
        .edge("Alice", "Dave")
        .expect("found under the legacy vector id");
    assert_eq!((edge.keywords.as_str(), edge.weight), ("letter", 1.0));
    assert_eq!(state.entity_vectors.len(), 5);
    assert_eq!(state.relation_vectors.len(), 4);
    assert_eq!(state.entity_chunks["Carol"].len(), 2);
    let a_graph: BTreeSet<&str> = state.doc_graph[&doc_id("a.txt")].entities().collect();
    assert_eq!(a_graph, BTreeSet::from(["Alice", "Bob", "Carol", "Paris"]));
    assert_eq!(state.meta.embedding_dim, DIM as u32);
}

#[test]
fn imported_data_answers_every_query_mode_and_survives_a_reopen() {
    let source = fixture();
    let dir = tempfile::tempdir().unwrap();
    let mut workspace = open(dir.path());
    import(&workspace, source.path());
    let check = |workspace: &mut Workspace| {
        let (data, requests) = query(workspace, "Alice", QueryMode::Naive, false);
        assert!(completions(&requests).is_empty());
        let chunks: BTreeSet<&str> = data.chunks.iter().map(|c| c.chunk_id.as_str()).collect();
        assert_eq!(
            chunks,
            BTreeSet::from([chunk0("a.txt").as_str(), chunk0("b.txt").as_str()])
        );
        for mode in [
            QueryMode::Local,
            QueryMode::Global,
            QueryMode::Hybrid,
            QueryMode::Mix,
        ] {
            let (data, requests) = query(workspace, "Whom did Alice meet?", mode, true);
            assert!(completions(&requests).is_empty(), "{mode:?}");
            let entities: Vec<&str> = data
                .entities
                .iter()
                .map(|e| e.entity_name.as_str())
                .collect();
            assert!(entities.contains(&"Alice"), "{mode:?}: {entities:?}");
            let relations: Vec<(&str, &str)> = data
                .relationships
                .iter()
                .map(|r| (r.src_id.as_str(), r.tgt_id.as_str()))
                .collect();
            assert!(
                relations.contains(&("Alice", "Bob")),
                "{mode:?}: {relations:?}"
            );
            assert!(!data.chunks.is_empty(), "{mode:?}");
            assert!(
                data.references.iter().any(|r| r.file_path == "a.txt"),
                "{mode:?}"
            );
        }
    };
    check(&mut workspace);
    // LightRAG's cached keywords of this very question spare the keyword call.
    let (data, requests) = query(&mut workspace, CACHED_QUERY, QueryMode::Hybrid, false);
    assert!(
        completions(&requests).is_empty(),
        "{:?}",
        completions(&requests)
    );
    assert_eq!(data.low_level_keywords, ["Alice"]);

    let before = fingerprint(&workspace);
    workspace.finalize().unwrap();
    drop(workspace);
    let mut workspace = open(dir.path());
    assert_eq!(fingerprint(&workspace), before);
    check(&mut workspace);
}

#[test]
fn deleting_an_imported_document_rebuilds_what_it_shared_from_the_cache() {
    let source = fixture();
    let data = tempfile::tempdir().unwrap();
    let mut workspace = open(data.path());
    import(&workspace, source.path());
    let task = Task::DeleteDocuments(DeleteRequest {
        doc_ids: vec![doc_id("a.txt")],
        delete_llm_cache: true,
        delete_file: false,
    });
    let (output, requests) = drive(&mut workspace, task, &axis(0));
    assert!(matches!(output, TaskOutput::Deleted((ref done, _)) if done.len() == 1));
    assert!(
        completions(&requests).is_empty(),
        "rebuilt from the imported answers"
    );
    let store = workspace.shared().store.borrow();
    let state = store.state();
    for gone in ["Bob", "Paris"] {
        assert!(state.graph.node(gone).is_none(), "{gone}");
    }
    assert!(state.graph.edge("Alice", "Bob").is_none());
    let alice = state.graph.node("Alice").unwrap();
    assert_eq!(alice.source_id, chunk0("b.txt"));
    assert_eq!(alice.description, "Alice met Carol and wrote to Dave.");
    assert_eq!(alice.file_path, "b.txt");
    assert_eq!(
        state.graph.node("Carol").unwrap().description,
        "Carol met Alice."
    );
    assert!(state.graph.edge("Alice", "Dave").is_some());
    assert!(!state.chunks.contains_key(&chunk0("a.txt")));
    assert!(!state.status.contains_key(&doc_id("a.txt")));
    assert_eq!(state.entity_vectors.len(), 3);
}

#[test]
fn a_failed_document_processed_again_finds_its_imported_extraction() {
    let source = fixture();
    let data = tempfile::tempdir().unwrap();
    let mut workspace = open(data.path());
    import(&workspace, source.path());
    assert_eq!(documents::reset_failed(workspace.shared()).unwrap(), 1);
    let (_, requests) = drive(&mut workspace, Task::ProcessDocuments, &axis(5));
    // Only the interrupted document (never extracted by LightRAG) needs the model.
    let extracted: Vec<&str> = requests
        .iter()
        .filter_map(|r| match r {
            Request::Complete(c) => match &c.input {
                RawInput::Chunk(text) => Some(text.as_str()),
                _ => None,
            },
            _ => None,
        })
        .collect();
    assert!(!extracted.is_empty());
    assert!(extracted.iter().all(|t| *t == TEXT_D), "{extracted:?}");
    let store = workspace.shared().store.borrow();
    let state = store.state();
    assert_eq!(state.status[&doc_id("c.txt")].state, DocState::Processed);
    assert!(state.graph.edge("Erin", "Frank").is_some());
}

fn refused(source: &Path, data: &Path, phase: ImportPhase) -> Error {
    let workspace = open(data);
    let mut session = Session::new();
    for &earlier in PHASES.iter().take_while(|&&p| p != phase) {
        session.run(workspace.shared(), source, earlier).unwrap();
    }
    session
        .run(workspace.shared(), source, phase)
        .expect_err("accepted")
}

fn message(err: Error) -> String {
    match err {
        Error::BadInput(m) | Error::Conflict(m) => m,
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_workspace_with_documents_is_refused() {
    let source = fixture();
    let data = tempfile::tempdir().unwrap();
    let workspace = open(data.path());
    let doc = lightrag_engine::wit::NewDocument {
        content: "Already here.".into(),
        file_path: "here.txt".into(),
    };
    documents::enqueue(workspace.shared(), vec![doc], "t", false).unwrap();
    let mut session = Session::new();
    let err = session
        .run(workspace.shared(), source.path(), ImportPhase::Check)
        .unwrap_err();
    assert!(
        matches!(&err, Error::Conflict(m) if m.contains("empty workspace")),
        "{err:?}"
    );
}

#[test]
fn wrong_dimensions_malformed_or_missing_files_are_refused_before_any_write() {
    let data = tempfile::tempdir().unwrap();
    let empty = open(data.path()).stats().disk_bytes;
    // Another embedding model's vectors: both numbers named.
    let source = fixture();
    let rows = vec![("x".to_string(), serde_json::json!({}), vec![1.0; 4])];
    write_json(source.path(), "vdb_entities.json", &nano(4, &rows));
    let err = message(refused(source.path(), data.path(), ImportPhase::Check));
    assert!(
        err.contains("vdb_entities.json") && err.contains("4 dimensions"),
        "{err}"
    );
    assert!(err.contains(&format!("EMBEDDING_DIM={DIM}")), "{err}");

    let source = fixture();
    std::fs::write(
        source.path().join("kv_store_doc_status.json"),
        "{\"doc-1\": {\"status\": ",
    )
    .unwrap();
    let err = message(refused(source.path(), data.path(), ImportPhase::Check));
    assert!(
        err.starts_with("kv_store_doc_status.json: malformed JSON"),
        "{err}"
    );

    let source = fixture();
    let graph = source.path().join("graph_chunk_entity_relation.graphml");
    let text = std::fs::read_to_string(&graph)
        .unwrap()
        .replace("</node>", "</nod>");
    std::fs::write(&graph, text).unwrap();
    let err = message(refused(source.path(), data.path(), ImportPhase::Check));
    assert!(
        err.starts_with("graph_chunk_entity_relation.graphml: malformed XML"),
        "{err}"
    );

    for required in ["kv_store_text_chunks.json", "kv_store_doc_status.json"] {
        let source = fixture();
        std::fs::remove_file(source.path().join(required)).unwrap();
        let err = message(refused(source.path(), data.path(), ImportPhase::Check));
        assert!(err.contains(required) && err.contains("missing"), "{err}");
    }
    let workspace = open(data.path());
    assert_eq!(workspace.stats().documents, 0, "nothing was written");
    assert_eq!(workspace.stats().disk_bytes, empty);
}

#[test]
fn optional_files_may_be_missing_and_phases_must_run_in_order() {
    let source = fixture();
    for optional in [
        "kv_store_llm_response_cache.json",
        "kv_store_full_entities.json",
        "kv_store_full_relations.json",
        "kv_store_entity_chunks.json",
        "kv_store_relation_chunks.json",
        "kv_store_full_docs.json",
    ] {
        std::fs::remove_file(source.path().join(optional)).unwrap();
    }
    let data = tempfile::tempdir().unwrap();
    let workspace = open(data.path());
    let mut session = Session::new();
    // Out of order: refused, nothing written.
    for phase in [
        ImportPhase::Chunks,
        ImportPhase::Finish,
        ImportPhase::Documents,
    ] {
        let err = session
            .run(workspace.shared(), source.path(), phase)
            .unwrap_err();
        assert!(
            matches!(&err, Error::BadInput(m) if m.contains("cannot run")),
            "{err:?}"
        );
    }
    assert_eq!(workspace.stats().documents, 0);
    // A phase that fails before writing may run again once its input is fixed.
    let chunks = source.path().join("kv_store_text_chunks.json");
    let good = std::fs::read(&chunks).unwrap();
    std::fs::write(&chunks, b"{\"x\": [").unwrap();
    let err = session.run(workspace.shared(), source.path(), ImportPhase::Check);
    assert!(err.is_err());
    std::fs::write(&chunks, &good).unwrap();
    session
        .run(workspace.shared(), source.path(), ImportPhase::Check)
        .unwrap();
    session
        .run(workspace.shared(), source.path(), ImportPhase::Check)
        .expect("checking twice is harmless");
    session
        .run(workspace.shared(), source.path(), ImportPhase::Documents)
        .unwrap();
    std::fs::write(&chunks, b"{\"x\": [").unwrap();
    let err = session
        .run(workspace.shared(), source.path(), ImportPhase::Chunks)
        .unwrap_err();
    assert!(
        matches!(&err, Error::BadInput(m) if m.contains("kv_store_text_chunks.json")),
        "{err:?}"
    );
    std::fs::write(&chunks, &good).unwrap();
    for phase in PHASES.into_iter().skip(2) {
        let counts = session
            .run(workspace.shared(), source.path(), phase)
            .unwrap();
        if phase == ImportPhase::Graph {
            assert_eq!(counts.entities.imported, 5);
            assert_eq!(counts.relations.imported, 4);
        }
    }
    let err = session
        .run(workspace.shared(), source.path(), ImportPhase::Cache)
        .unwrap_err();
    assert!(matches!(err, Error::BadInput(_)));
    let store = workspace.shared().store.borrow();
    let state = store.state();
    assert!(
        state.docs.is_empty(),
        "no texts without kv_store_full_docs.json"
    );
    assert!(
        state.chunks[&chunk0("a.txt")].llm_cache_list.is_empty(),
        "no cache file"
    );
    // Without LightRAG's records, each document's contribution comes from the graph.
    let b_graph: BTreeSet<&str> = state.doc_graph[&doc_id("b.txt")].entities().collect();
    assert_eq!(b_graph, BTreeSet::from(["Alice", "Carol", "Dave"]));
}
