//! The engine component on its own, driven through its WIT exports by plain wasmtime
//! and a short loop — what any WASI Preview 2 runtime would do. No pool, no server.

use crate::mock_llm::embed;
use lightrag_server::bindings::Workspace;
use lightrag_server::bindings::types::{
    Config as EngineConfig, Error, NewDocument, NumberedReply, Purpose, QueryMode, QueryParams,
    RawInput, Reply, Request, Step, Task, TaskOutput,
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

#[tokio::test(flavor = "multi_thread")]
async fn the_component_runs_under_plain_wasmtime_with_a_short_driver_loop() {
    let mut wasm_config = Config::new();
    wasm_config.epoch_interruption(false);
    let engine = Engine::new(&wasm_config).unwrap();
    let component = Component::new(&engine, lightrag_server::bindings::ENGINE_COMPONENT).unwrap();
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
    let mut linker: Linker<Host> = Linker::new(&engine);
    wasmtime_wasi::p2::add_to_linker_async(&mut linker).unwrap();
    let mut wasi = WasiCtxBuilder::new();
    wasi.preopened_dir(dir.path(), "/data", FsPerms::ReadWrite)
        .unwrap();
    let mut store = Store::new(
        &engine,
        Host {
            wasi: wasi.build(),
            table: ResourceTable::new(),
        },
    );
    let instance = Workspace::instantiate_async(&mut store, &component, &linker)
        .await
        .unwrap();
    let api = instance.lightrag_engine_engine();

    let report = api.call_open(&mut store, &config()).await.unwrap().unwrap();
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

    // The whole host side of a task: answer what it asks until it is done.
    let mut seen = Vec::new();
    let mut run = async |store: &mut Store<Host>, task: Task| -> TaskOutput {
        let (id, mut step) = api.call_start(&mut *store, &task).await.unwrap();
        loop {
            match step {
                Step::Done(output) => return output,
                Step::Failed(err) => panic!("task failed: {err:?}"),
                Step::Pending(requests) => {
                    let replies: Vec<NumberedReply> = requests
                        .iter()
                        .map(|r| NumberedReply {
                            id: r.id,
                            reply: answer(&r.request, &mut seen),
                        })
                        .collect();
                    step = api.call_resume(&mut *store, id, &replies).await.unwrap();
                }
            }
        }
    };
    let processed = run(&mut store, Task::ProcessDocuments).await;
    assert!(matches!(processed, TaskOutput::Processed((1, 0))));
    let query = QueryParams {
        query: "Where do otters live?".into(),
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
    };
    let TaskOutput::Query(output) = run(&mut store, Task::Query(query)).await else {
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
