//! The engine component on its own, driven through its WIT exports by plain wasmtime
//! and a short loop — what any WASI Preview 2 runtime would do. No pool, no server.
//!
//! `recovery` drives the exports through interruptions: tasks waiting for each other,
//! cancelled tasks, engine faults, failed compactions.

mod recovery;

use crate::mock_llm::embed;
use lightrag_server::bindings::Workspace;
use lightrag_server::bindings::exports::lightrag::engine::engine::Guest;
use lightrag_server::bindings::types::{
    Config as EngineConfig, Error, NewDocument, NumberedReply, Purpose, QueryMode, QueryParams,
    RawInput, Reply, Request, SourceIdsLimit, Step, Task, TaskOutput,
};
use wasmtime::component::{Component, Linker, ResourceTable};
use wasmtime::{Config, Engine, Store};
use wasmtime_wasi::{FsPerms, WasiCtx, WasiCtxBuilder, WasiCtxView, WasiView};

struct Host {
    wasi: WasiCtx,
    table: ResourceTable,
}

impl WasiView for Host {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

fn config() -> EngineConfig {
    EngineConfig {
        workspace: "solo".into(),
        chunk_size: 1200,
        chunk_overlap: 100,
        cosine_threshold: 0.2,
        top_k: 40,
        chunk_top_k: 20,
        max_entity_tokens: 6000,
        max_relation_tokens: 8000,
        max_total_tokens: 30000,
        enable_llm_cache: true,
        enable_llm_cache_for_extract: true,
        max_parallel_insert: 3,
        summary_language: "English".into(),
        entity_types: vec!["Person".into(), "Location".into()],
        max_gleaning: 1,
        force_llm_summary_on_merge: 8,
        summary_max_tokens: 1200,
        summary_context_size: 12000,
        summary_length_recommended: 600,
        related_chunk_number: 5,
        llm_identity: "test-llm".into(),
        embedding_identity: "test-embed/16".into(),
        embedding_dim: 16,
        min_rerank_score: 0.0,
        disk_quota_bytes: 0,
        query_cache_bytes: 0,
        max_source_ids_per_entity: 200,
        max_source_ids_per_relation: 200,
        source_ids_limit: SourceIdsLimit::Keep,
        max_file_paths: 75,
        memory_limit_bytes: 0,
        exact_vectors: false,
        pdf_decrypt_password: None,
    }
}

/// Answers every request the way a host would: vectors for embeddings, a canned
/// text for completions (remembering what the answer call was given).
fn answer(request: &Request, seen: &mut Vec<RawInput>) -> Reply {
    match request {
        Request::Embed(embed_request) => Reply::Embedding(Ok(embed_request
            .texts
            .iter()
            .map(|t| embed(t, 16))
            .collect())),
        Request::Complete(completion) => match (&completion.purpose, &completion.input) {
            (Purpose::Extract, RawInput::Chunk(chunk)) => {
                Reply::Completion(Ok(crate::mock_llm::extraction_for(chunk)))
            }
            (Purpose::Glean, _) => Reply::Completion(Ok("<|COMPLETE|>".into())),
            (Purpose::Answer, _) => {
                seen.push(completion.input.clone());
                Reply::Completion(Ok("Otters live in rivers.".into()))
            }
            other => panic!("unexpected request {other:?}"),
        },
        Request::Rerank(_) => panic!("no reranker is configured"),
    }
}

/// Compiles the engine component for a plain wasmtime engine.
fn compile() -> (Engine, Component) {
    let mut wasm_config = Config::new();
    wasm_config.epoch_interruption(false);
    let engine = Engine::new(&wasm_config).unwrap();
    let component = Component::new(&engine, lightrag_server::bindings::ENGINE_COMPONENT).unwrap();
    (engine, component)
}

/// A fresh instance with `dir` preopened as its only directory.
async fn instantiate(
    engine: &Engine,
    component: &Component,
    dir: &std::path::Path,
) -> (Store<Host>, Workspace) {
    let mut linker: Linker<Host> = Linker::new(engine);
    wasmtime_wasi::p2::add_to_linker_async(&mut linker).unwrap();
    let mut wasi = WasiCtxBuilder::new();
    wasi.preopened_dir(dir, "/data", FsPerms::ReadWrite)
        .unwrap();
    let mut store = Store::new(
        engine,
        Host {
            wasi: wasi.build(),
            table: ResourceTable::new(),
        },
    );
    let instance = Workspace::instantiate_async(&mut store, component, &linker)
        .await
        .unwrap();
    (store, instance)
}

/// The whole host side of a task: answer what it asks until it is done.
async fn run(
    api: &Guest,
    store: &mut Store<Host>,
    task: Task,
    mut answer: impl FnMut(&Request) -> Reply,
) -> TaskOutput {
    let (id, progress) = api.call_start(&mut *store, &task).await.unwrap();
    let mut step = progress.step;
    loop {
        match step {
            Step::Done(output) => return output,
            Step::Failed(err) => panic!("task failed: {err:?}"),
            Step::Pending(requests) => {
                let replies: Vec<NumberedReply> = requests
                    .iter()
                    .map(|r| NumberedReply {
                        id: r.id,
                        reply: answer(&r.request),
                    })
                    .collect();
                step = api
                    .call_resume(&mut *store, id, &replies)
                    .await
                    .unwrap()
                    .step;
            }
        }
    }
}

fn naive_query(query: &str) -> QueryParams {
    QueryParams {
        query: query.into(),
        mode: QueryMode::Naive,
        only_need_context: false,
        only_need_prompt: false,
        response_type: String::new(),
        top_k: None,
        chunk_top_k: None,
        max_entity_tokens: None,
        max_relation_tokens: None,
        max_total_tokens: None,
        hl_keywords: Vec::new(),
        ll_keywords: Vec::new(),
        conversation_history: Vec::new(),
        user_prompt: None,
        stream: false,
        include_chunk_content: false,
        data_only: false,
        enable_rerank: false,
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_component_runs_under_plain_wasmtime_with_a_short_driver_loop() {
    let (engine, component) = compile();
    // The component asks for nothing but WASI.
    let imports: Vec<String> = component
        .component_type()
        .imports(&engine)
        .map(|(name, _)| name.to_string())
        .collect();
    assert!(!imports.is_empty());
    assert!(
        imports.iter().all(|name| name.starts_with("wasi:")),
        "{imports:?}"
    );

    let dir = tempfile::tempdir().unwrap();
    let (mut store, instance) = instantiate(&engine, &component, dir.path()).await;
    let api = instance.lightrag_engine_engine();

    let report = api
        .call_open(&mut store, &config(), None)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(report.pending_documents, 0);
    let docs = [NewDocument {
        content: "Otters are semi-aquatic mammals that live in the Amazon River.".into(),
        file_path: "otters.txt".into(),
    }];
    let enqueued = api
        .call_enqueue(&mut store, &docs, "insert_test")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(enqueued.accepted.len(), 1);
    let again = api
        .call_enqueue(&mut store, &docs, "insert_test")
        .await
        .unwrap();
    assert!(matches!(again, Err(Error::Conflict(_))));

    let mut seen = Vec::new();
    let processed = run(api, &mut store, Task::ProcessDocuments, |r| {
        answer(r, &mut seen)
    })
    .await;
    assert!(matches!(processed, TaskOutput::Processed((1, 0))));
    let query = naive_query("Where do otters live?");
    let TaskOutput::Query(output) = run(api, &mut store, Task::Query(query), |r| {
        answer(r, &mut seen)
    })
    .await
    else {
        panic!("expected a query output")
    };
    assert_eq!(output.response, "Otters live in rivers.");
    assert!(output.llm_generated);
    assert_eq!(output.references[0].file_path, "otters.txt");
    let Some(RawInput::Context(context)) = seen.first() else {
        panic!("the answer call carried no context")
    };
    assert!(context.passages[0].content.contains("semi-aquatic"));
    // Extraction went through the same loop: the graph holds the entities.
    assert!(api.call_entity_exists(&mut store, "Otters").await.unwrap());
    let part = api.call_subgraph(&mut store, "*", 3, 10).await.unwrap();
    assert_eq!(part.edges.len(), 1, "{part:?}");

    api.call_finalize(&mut store).await.unwrap().unwrap();
    // Everything the engine wrote is inside its preopened directory.
    let names: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(names.contains(&"engine.snap".to_string()), "{names:?}");
}

/// Regression: every distinct question added its answer to the in-memory cache for
/// good, so a long stream of questions trapped the instance on memory. Query-time
/// entries are now bounded by `query-cache-bytes`, oldest dropped first, while
/// extraction answers stay; the bound holds across reopening, and a lower bound
/// trims on open.
#[tokio::test(flavor = "multi_thread")]
async fn distinct_questions_no_longer_grow_the_cache_without_bound() {
    let (engine, component) = compile();
    let dir = tempfile::tempdir().unwrap();
    let limit = 64 * 1024;
    let config = EngineConfig {
        query_cache_bytes: limit,
        ..config()
    };
    let answer_calls = std::cell::Cell::new(0);
    // Each answer is ~8 KB, so the bound holds about seven of them.
    let big_answers = |request: &Request| match request {
        Request::Complete(c) if c.purpose == Purpose::Answer => {
            answer_calls.set(answer_calls.get() + 1);
            let RawInput::Context(context) = &c.input else {
                panic!("an answer without context")
            };
            Reply::Completion(Ok(format!("{} {}", context.query, "x".repeat(8000))))
        }
        other => answer(other, &mut Vec::new()),
    };

    let (mut store, instance) = instantiate(&engine, &component, dir.path()).await;
    let api = instance.lightrag_engine_engine();
    api.call_open(&mut store, &config, None)
        .await
        .unwrap()
        .unwrap();
    let docs = [NewDocument {
        content: "Otters are semi-aquatic mammals that live in the Amazon River.".into(),
        file_path: "otters.txt".into(),
    }];
    api.call_enqueue(&mut store, &docs, "t")
        .await
        .unwrap()
        .unwrap();
    run(api, &mut store, Task::ProcessDocuments, big_answers).await;
    let extraction_entries = api.call_stats(&mut store).await.unwrap().cache_entries;
    assert!(extraction_entries > 0);

    let ask = async |store: &mut Store<Host>, api: &Guest, n: u32| {
        let question = naive_query(&format!("Question number {n} about otters?"));
        let before = answer_calls.get();
        run(api, store, Task::Query(question), big_answers).await;
        answer_calls.get() > before
    };
    for n in 0..40 {
        assert!(ask(&mut store, api, n).await, "question {n} was new");
    }
    let stats = api.call_stats(&mut store).await.unwrap();
    let query_entries = stats.cache_entries - extraction_entries;
    assert!(
        (5..=8).contains(&query_entries),
        "{query_entries} answers kept"
    );
    // The newest answers are kept, the oldest dropped.
    assert!(
        !ask(&mut store, api, 39).await,
        "the newest answer was dropped"
    );
    // Creation times have a resolution of a second, and only they order the entries
    // after reopening: make the re-asked question clearly the newest.
    std::thread::sleep(std::time::Duration::from_millis(1100));
    assert!(ask(&mut store, api, 0).await, "the oldest answer was kept");
    api.call_finalize(&mut store).await.unwrap().unwrap();
    drop(store);

    // Reopened: the same entries, in the same order.
    let (mut store, instance) = instantiate(&engine, &component, dir.path()).await;
    let api = instance.lightrag_engine_engine();
    api.call_open(&mut store, &config, None)
        .await
        .unwrap()
        .unwrap();
    let reopened = api.call_stats(&mut store).await.unwrap();
    assert_eq!(reopened.cache_entries, stats.cache_entries);
    assert!(!ask(&mut store, api, 0).await, "the newest answer was lost");
    api.call_finalize(&mut store).await.unwrap().unwrap();
    drop(store);

    // Reopened with a lower bound: trimmed to it, newest first kept; extraction
    // answers untouched.
    let (mut store, instance) = instantiate(&engine, &component, dir.path()).await;
    let api = instance.lightrag_engine_engine();
    let smaller = EngineConfig {
        query_cache_bytes: 20 * 1024,
        ..config
    };
    api.call_open(&mut store, &smaller, None)
        .await
        .unwrap()
        .unwrap();
    let trimmed = api.call_stats(&mut store).await.unwrap().cache_entries;
    assert!(
        (extraction_entries + 1..=extraction_entries + 2).contains(&trimmed),
        "{trimmed} entries after trimming"
    );
    assert!(
        !ask(&mut store, api, 0).await,
        "the newest answer was trimmed"
    );
}
