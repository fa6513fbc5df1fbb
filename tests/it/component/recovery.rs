//! The engine's exports through interruptions, step by step: tasks that wait for each
//! other, cancelled tasks, instances that fault mid-ingestion, compactions that fail.
//! Each test is a regression named after what used to go wrong.

use super::{Host, answer, compile, config, instantiate, run};
use lightrag_server::bindings::Workspace;
use lightrag_server::bindings::types::{
    DeleteRequest, DocPageRequest, DocSort, DocState, Error, NewDocument, NumberedReply,
    NumberedRequest, OpenReport, Progress, RawInput, Request, Step, Task, TaskOutput,
};
use std::path::Path;
use wasmtime::Store;
use wasmtime::component::Component;

/// One instance of the component on a workspace directory.
struct Open {
    store: Store<Host>,
    instance: Workspace,
}

impl Open {
    async fn new(
        engine: &wasmtime::Engine,
        component: &Component,
        dir: &Path,
        last_fault: Option<&str>,
    ) -> (Open, OpenReport) {
        let (mut store, instance) = instantiate(engine, component, dir).await;
        let report = instance
            .lightrag_engine_engine()
            .call_open(&mut store, &config(), last_fault)
            .await
            .unwrap()
            .unwrap();
        (Open { store, instance }, report)
    }

    async fn enqueue(&mut self, docs: &[(&str, &str)]) -> Result<(), Error> {
        let docs: Vec<NewDocument> = docs
            .iter()
            .map(|(name, text)| NewDocument {
                content: text.to_string(),
                file_path: name.to_string(),
            })
            .collect();
        let api = self.instance.lightrag_engine_engine();
        api.call_enqueue(&mut self.store, &docs, "track")
            .await
            .unwrap()
            .map(drop)
    }

    async fn start(&mut self, task: Task) -> (u64, Progress) {
        let api = self.instance.lightrag_engine_engine();
        api.call_start(&mut self.store, &task).await.unwrap()
    }

    async fn resume(&mut self, id: u64, replies: &[NumberedReply]) -> Progress {
        let api = self.instance.lightrag_engine_engine();
        api.call_resume(&mut self.store, id, replies).await.unwrap()
    }

    /// Files and states of the documents, sorted by file.
    async fn documents(&mut self) -> Vec<(String, DocState, Option<String>)> {
        let request = DocPageRequest {
            states: Vec::new(),
            page: 1,
            page_size: 200,
            sort: DocSort::FilePath,
            descending: false,
        };
        let api = self.instance.lightrag_engine_engine();
        let page = api
            .call_documents_page(&mut self.store, &request)
            .await
            .unwrap();
        page.documents
            .into_iter()
            .map(|d| (d.file_path, d.status, d.error_msg))
            .collect()
    }

    async fn run(&mut self, task: Task) -> TaskOutput {
        let api = self.instance.lightrag_engine_engine();
        run(api, &mut self.store, task, |r| answer(r, &mut Vec::new())).await
    }
}

fn replies(requests: &[NumberedRequest]) -> Vec<NumberedReply> {
    requests
        .iter()
        .map(|r| NumberedReply {
            id: r.id,
            reply: answer(&r.request, &mut Vec::new()),
        })
        .collect()
}

/// The document texts a step's extraction requests are about.
fn chunks_of(requests: &[NumberedRequest]) -> Vec<String> {
    requests
        .iter()
        .filter_map(|r| match &r.request {
            Request::Complete(c) => match &c.input {
                RawInput::Chunk(text) => Some(text.clone()),
                _ => None,
            },
            _ => None,
        })
        .collect()
}

const SHARED_A: (&str, &str) = (
    "a.txt",
    "Zanzibar exports cloves. Amina sails to Zanzibar every spring.",
);
const SHARED_B: (&str, &str) = (
    "b.txt",
    "Zanzibar has many spice farms. Baraka lives in Zanzibar with his goats.",
);
const OTHER: (&str, &str) = (
    "c.txt",
    "Kilimanjaro is the tallest mountain. Neema climbs Kilimanjaro in winter.",
);

/// The task deleting the document stored under `file`.
async fn delete(ws: &mut Open, file: &str) -> Task {
    let request = DocPageRequest {
        states: Vec::new(),
        page: 1,
        page_size: 200,
        sort: DocSort::FilePath,
        descending: false,
    };
    let api = ws.instance.lightrag_engine_engine();
    let page = api
        .call_documents_page(&mut ws.store, &request)
        .await
        .unwrap();
    let id = page
        .documents
        .into_iter()
        .find(|d| d.file_path == file)
        .map(|d| d.id)
        .expect("the document exists");
    Task::DeleteDocuments(DeleteRequest {
        doc_ids: vec![id],
        delete_llm_cache: false,
        delete_file: false,
    })
}

/// Regression: a task parked on the guest's merge lock was never run again when the
/// lock was released — the executor only polled the task the host called — so the
/// pipeline's merge behind a deletion failed ("a task stopped without finishing"),
/// left `busy` set and its document `processing`. The deletion's call now reports the
/// parked pipeline in `woken`, and resuming it with no replies finishes the merge.
#[tokio::test(flavor = "multi_thread")]
async fn a_merge_parked_behind_a_deletion_is_woken_when_the_deletion_commits() {
    let (engine, component) = compile();
    let dir = tempfile::tempdir().unwrap();
    let (mut ws, _) = Open::new(&engine, &component, dir.path(), None).await;
    ws.enqueue(&[SHARED_A, SHARED_B]).await.unwrap();
    ws.run(Task::ProcessDocuments).await;

    // The deletion rebuilds the shared entity and waits for its embedding, holding
    // the merge lock; its requests stay unanswered for now.
    let task = delete(&mut ws, SHARED_A.0).await;
    let (deleting, progress) = ws.start(task).await;
    let Step::Pending(held) = progress.step else {
        panic!("the deletion waits for its embedding")
    };
    assert!(!held.is_empty());

    // A new document is extracted, then its merge parks on the lock.
    ws.enqueue(&[OTHER]).await.unwrap();
    let (pipeline, mut progress) = ws.start(Task::ProcessDocuments).await;
    loop {
        match progress.step {
            Step::Pending(requests) if requests.is_empty() => break,
            Step::Pending(requests) => progress = ws.resume(pipeline, &replies(&requests)).await,
            other => panic!("the pipeline should wait for the deletion, got {other:?}"),
        }
    }
    assert!(
        ws.instance
            .lightrag_engine_engine()
            .call_pipeline_status(&mut ws.store)
            .await
            .unwrap()
            .busy
    );

    // The deletion commits and releases the lock: the pipeline is reported woken.
    let mut progress = ws.resume(deleting, &replies(&held)).await;
    let mut woken = progress.woken.clone();
    while let Step::Pending(requests) = progress.step {
        progress = ws.resume(deleting, &replies(&requests)).await;
        woken.extend(progress.woken.iter().copied());
    }
    assert!(matches!(progress.step, Step::Done(TaskOutput::Deleted(_))));
    assert_eq!(woken, [pipeline]);

    // Resumed with no replies, it merges and finishes.
    let mut progress = ws.resume(pipeline, &[]).await;
    while let Step::Pending(requests) = progress.step {
        progress = ws.resume(pipeline, &replies(&requests)).await;
    }
    assert!(
        matches!(progress.step, Step::Done(TaskOutput::Processed((1, 0)))),
        "{:?}",
        progress.step
    );
    let docs = ws.documents().await;
    assert_eq!(
        docs.iter().map(|d| (d.0.as_str(), d.1)).collect::<Vec<_>>(),
        [
            ("b.txt", DocState::Processed),
            ("c.txt", DocState::Processed)
        ]
    );
    assert!(
        !ws.instance
            .lightrag_engine_engine()
            .call_pipeline_status(&mut ws.store)
            .await
            .unwrap()
            .busy
    );
    assert!(
        ws.instance
            .lightrag_engine_engine()
            .call_entity_exists(&mut ws.store, "Kilimanjaro")
            .await
            .unwrap()
    );
}

/// Regression: `clear` ran while a deletion was between its plan and its commit; the
/// deletion then committed into the emptied workspace and resurrected entities that
/// pointed at deleted chunks. `clear` now refuses while a task holds the graph.
#[tokio::test(flavor = "multi_thread")]
async fn clear_refuses_while_a_deletion_holds_the_graph() {
    let (engine, component) = compile();
    let dir = tempfile::tempdir().unwrap();
    let (mut ws, _) = Open::new(&engine, &component, dir.path(), None).await;
    ws.enqueue(&[SHARED_A, SHARED_B]).await.unwrap();
    ws.run(Task::ProcessDocuments).await;
    let task = delete(&mut ws, SHARED_A.0).await;
    let (deleting, progress) = ws.start(task).await;
    let Step::Pending(held) = progress.step else {
        panic!("the deletion waits for its embedding")
    };
    let refused = ws
        .instance
        .lightrag_engine_engine()
        .call_clear(&mut ws.store)
        .await
        .unwrap();
    assert!(matches!(refused, Err(Error::Busy(_))), "{refused:?}");
    let mut progress = ws.resume(deleting, &replies(&held)).await;
    while let Step::Pending(requests) = progress.step {
        progress = ws.resume(deleting, &replies(&requests)).await;
    }
    let cleared = ws
        .instance
        .lightrag_engine_engine()
        .call_clear(&mut ws.store)
        .await;
    assert!(matches!(cleared.unwrap(), Ok(1)));
    assert!(
        !ws.instance
            .lightrag_engine_engine()
            .call_entity_exists(&mut ws.store, "Zanzibar")
            .await
            .unwrap()
    );
    assert!(ws.documents().await.is_empty());
}

/// Regression: the pipeline's `busy` flag was cleared only when it finished, so a
/// pipeline task that was cancelled left the workspace busy for ever (every later
/// pipeline, edit and clear refused) and its documents `processing`.
#[tokio::test(flavor = "multi_thread")]
async fn a_cancelled_pipeline_leaves_the_workspace_idle_and_its_documents_pending() {
    let (engine, component) = compile();
    let dir = tempfile::tempdir().unwrap();
    let (mut ws, _) = Open::new(&engine, &component, dir.path(), None).await;
    ws.enqueue(&[OTHER]).await.unwrap();
    let (pipeline, progress) = ws.start(Task::ProcessDocuments).await;
    assert!(matches!(progress.step, Step::Pending(_)));
    assert_eq!(ws.documents().await[0].1, DocState::Processing);
    let woken = ws
        .instance
        .lightrag_engine_engine()
        .call_cancel(&mut ws.store, pipeline)
        .await
        .unwrap();
    assert!(woken.is_empty());
    assert!(
        !ws.instance
            .lightrag_engine_engine()
            .call_pipeline_status(&mut ws.store)
            .await
            .unwrap()
            .busy
    );
    assert_eq!(ws.documents().await[0].1, DocState::Pending);
    assert!(matches!(
        ws.run(Task::ProcessDocuments).await,
        TaskOutput::Processed((1, 0))
    ));
}

/// Regression: a document whose processing crashed the engine went back to pending on
/// every reopen, the pipeline restarted, and the engine crashed again — for ever. The
/// host now tells `open` why the last instance stopped; the documents it was on are
/// processed alone from then on, and after three faults a document fails with the
/// fault as its reason while the others proceed. A killed process counts for nothing.
#[tokio::test(flavor = "multi_thread")]
async fn a_document_that_faults_the_engine_three_times_fails_and_the_rest_proceed() {
    let (engine, component) = compile();
    let dir = tempfile::tempdir().unwrap();
    let fault = "the engine ran out of memory (LIGHTRAG_WORKSPACE_MEMORY_MB)";
    let (mut ws, _) = Open::new(&engine, &component, dir.path(), None).await;
    ws.enqueue(&[SHARED_A, OTHER]).await.unwrap();
    // Both documents start together; the instance then faults (it is dropped
    // without finalize, as the host drops a trapped instance).
    let (_, progress) = ws.start(Task::ProcessDocuments).await;
    let Step::Pending(requests) = progress.step else {
        panic!("expected requests")
    };
    assert_eq!(chunks_of(&requests).len(), 2, "two documents at once");
    drop(ws);

    // Both were being processed: both are suspects now, and go one at a time. The
    // one that is processed is the one the next fault is pinned on.
    let (mut ws, report) = Open::new(&engine, &component, dir.path(), Some(fault)).await;
    assert_eq!(
        (report.recovered_documents, report.failed_documents),
        (2, 0)
    );
    let culprit = alone_in_processing(&mut ws).await;
    drop(ws);
    // A killed process (no fault) sets nothing back and counts nothing.
    let (mut ws, report) = Open::new(&engine, &component, dir.path(), None).await;
    assert_eq!(
        (report.recovered_documents, report.failed_documents),
        (1, 0)
    );
    assert_eq!(alone_in_processing(&mut ws).await, culprit);
    drop(ws);
    let (mut ws, report) = Open::new(&engine, &component, dir.path(), Some(fault)).await;
    assert_eq!(
        (report.recovered_documents, report.failed_documents),
        (1, 0)
    );
    assert_eq!(alone_in_processing(&mut ws).await, culprit);
    drop(ws);

    // The third fault while processing it: failed, with the reason.
    let (mut ws, report) = Open::new(&engine, &component, dir.path(), Some(fault)).await;
    assert_eq!(
        (report.recovered_documents, report.failed_documents),
        (1, 1)
    );
    assert_eq!(report.pending_documents, 1);
    assert!(matches!(
        ws.run(Task::ProcessDocuments).await,
        TaskOutput::Processed((1, 0))
    ));
    let docs = ws.documents().await;
    let failed = docs.iter().find(|d| d.0 == culprit).unwrap();
    assert_eq!(failed.1, DocState::Failed);
    let reason = failed.2.as_deref().unwrap();
    assert!(
        reason.contains("3 times") && reason.contains(fault),
        "{reason}"
    );
    assert!(
        docs.iter()
            .any(|d| d.0 != culprit && d.1 == DocState::Processed)
    );
}

/// Starts the pipeline and checks that it took exactly one document; returns its file.
async fn alone_in_processing(ws: &mut Open) -> String {
    let (_, progress) = ws.start(Task::ProcessDocuments).await;
    let Step::Pending(requests) = progress.step else {
        panic!("expected requests")
    };
    assert_eq!(
        chunks_of(&requests).len(),
        1,
        "a suspect is processed alone"
    );
    let processing: Vec<String> = ws
        .documents()
        .await
        .into_iter()
        .filter(|d| d.1 == DocState::Processing)
        .map(|d| d.0)
        .collect();
    assert_eq!(processing.len(), 1, "{processing:?}");
    processing.into_iter().next().unwrap()
}

/// Regression: once a compaction had renamed its new snapshot into place, a failure
/// starting the new journal left commits going to the old generation's journal, which
/// the next open ignores — acknowledged documents vanished after a crash.
#[tokio::test(flavor = "multi_thread")]
async fn a_failed_compaction_never_drops_acknowledged_commits() {
    let (engine, component) = compile();
    let dir = tempfile::tempdir().unwrap();
    let (mut ws, _) = Open::new(&engine, &component, dir.path(), None).await;
    let mut acknowledged = Vec::new();
    ws.enqueue(&[("one.txt", "First document about otters.")])
        .await
        .unwrap();
    acknowledged.push("one.txt");
    // The new journal is written as engine.jrnl.tmp first: a directory there makes
    // that step fail after the snapshot was renamed.
    let obstacle = dir.path().join("engine.jrnl.tmp");
    std::fs::create_dir(&obstacle).unwrap();
    let compacted = ws
        .instance
        .lightrag_engine_engine()
        .call_finalize(&mut ws.store)
        .await
        .unwrap();
    assert!(compacted.is_err());
    if ws
        .enqueue(&[("two.txt", "Second document about beavers.")])
        .await
        .is_ok()
    {
        acknowledged.push("two.txt");
    }
    std::fs::remove_dir(&obstacle).unwrap();
    ws.enqueue(&[("three.txt", "Third document about herons.")])
        .await
        .unwrap();
    acknowledged.push("three.txt");
    // A crash: no finalize.
    drop(ws);
    let (mut ws, _) = Open::new(&engine, &component, dir.path(), None).await;
    let stored: Vec<String> = ws.documents().await.into_iter().map(|d| d.0).collect();
    for name in acknowledged {
        assert!(stored.iter().any(|s| s == name), "{name} lost: {stored:?}");
    }
}

/// Regression: every eviction rewrote the whole snapshot, even when nothing had
/// changed since it was written.
#[tokio::test(flavor = "multi_thread")]
async fn finalize_does_not_rewrite_an_unchanged_workspace() {
    use std::os::unix::fs::MetadataExt;
    let (engine, component) = compile();
    let dir = tempfile::tempdir().unwrap();
    let (mut ws, _) = Open::new(&engine, &component, dir.path(), None).await;
    ws.enqueue(&[OTHER]).await.unwrap();
    ws.run(Task::ProcessDocuments).await;
    ws.instance
        .lightrag_engine_engine()
        .call_finalize(&mut ws.store)
        .await
        .unwrap()
        .unwrap();
    let snapshot = dir.path().join("engine.snap");
    let written = std::fs::metadata(&snapshot).unwrap().ino();
    drop(ws);
    for _ in 0..3 {
        let (mut ws, _) = Open::new(&engine, &component, dir.path(), None).await;
        ws.instance
            .lightrag_engine_engine()
            .call_finalize(&mut ws.store)
            .await
            .unwrap()
            .unwrap();
    }
    assert_eq!(std::fs::metadata(&snapshot).unwrap().ino(), written);
}
