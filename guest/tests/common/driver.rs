//! Driving an engine for the import tests as a host would: opening a workspace,
//! running the import's phases, running tasks with scripted model replies.

use crate::common::config;
use crate::fixture::write_fixture;
use crate::lightrag::axis;
use lightrag_engine::Workspace;
use lightrag_engine::import::Session;
use lightrag_engine::wit::{
    ImportCounts, ImportPhase, NumberedReply, Purpose, QueryData, QueryMode, QueryParams, Reply,
    Request, Step, Task, TaskOutput,
};
use std::collections::BTreeSet;
use std::path::Path;

pub const PHASES: [ImportPhase; 6] = [
    ImportPhase::Check,
    ImportPhase::Documents,
    ImportPhase::Chunks,
    ImportPhase::Graph,
    ImportPhase::Cache,
    ImportPhase::Finish,
];

pub fn open(dir: &Path) -> Workspace {
    Workspace::open(config(), dir, None, None).expect("open").0
}

/// Runs every phase in order; the counts of each.
pub fn import(workspace: &Workspace, source: &Path) -> Vec<ImportCounts> {
    let mut session = Session::new();
    PHASES
        .iter()
        .map(|&phase| {
            session
                .run(workspace.shared(), source, phase)
                .unwrap_or_else(|e| panic!("{phase:?}: {e:?}"))
        })
        .collect()
}

pub fn fixture() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    write_fixture(dir.path());
    dir
}

/// Runs a task to its end, answering embeddings with `vector` for every text and
/// extraction prompts with no records; returns its output and every request made.
pub fn drive(workspace: &mut Workspace, task: Task, vector: &[f32]) -> (TaskOutput, Vec<Request>) {
    let (id, mut progress) = workspace.start(task);
    let mut seen = Vec::new();
    loop {
        match progress.step {
            Step::Done(output) => return (output, seen),
            Step::Failed(err) => panic!("task failed: {err:?}"),
            Step::Pending(requests) => {
                let replies: Vec<NumberedReply> = requests
                    .iter()
                    .map(|r| NumberedReply {
                        id: r.id,
                        reply: match &r.request {
                            Request::Embed(e) => {
                                Reply::Embedding(Ok(vec![vector.to_vec(); e.texts.len()]))
                            }
                            Request::Complete(_) => Reply::Completion(Ok("<|COMPLETE|>".into())),
                            Request::Rerank(r) => Reply::Ranking(Ok(vec![1.0; r.documents.len()])),
                        },
                    })
                    .collect();
                assert!(!replies.is_empty(), "the task waits on nothing");
                seen.extend(requests.into_iter().map(|r| r.request));
                progress = workspace.resume(id, replies);
            }
        }
    }
}

pub fn params(query: &str, mode: QueryMode, keywords: bool) -> QueryParams {
    let words = |w: &str| {
        if keywords {
            vec![w.to_string()]
        } else {
            Vec::new()
        }
    };
    QueryParams {
        query: query.into(),
        mode,
        only_need_context: false,
        only_need_prompt: false,
        response_type: String::new(),
        top_k: None,
        chunk_top_k: None,
        max_entity_tokens: None,
        max_relation_tokens: None,
        max_total_tokens: None,
        hl_keywords: words("meetings"),
        ll_keywords: words("Alice"),
        conversation_history: Vec::new(),
        user_prompt: None,
        stream: false,
        include_chunk_content: false,
        data_only: true,
        enable_rerank: false,
    }
}

/// A data query answered with Alice's vector: what it retrieved, and the requests.
pub fn query(
    workspace: &mut Workspace,
    query: &str,
    mode: QueryMode,
    keywords: bool,
) -> (QueryData, Vec<Request>) {
    let (output, requests) = drive(
        workspace,
        Task::Query(params(query, mode, keywords)),
        &axis(0),
    );
    let TaskOutput::Query(output) = output else {
        panic!("{output:?}")
    };
    (output.data.expect("data"), requests)
}

pub fn completions(requests: &[Request]) -> Vec<Purpose> {
    requests
        .iter()
        .filter_map(|r| match r {
            Request::Complete(c) => Some(c.purpose),
            _ => None,
        })
        .collect()
}

/// Everything a reopened workspace must still have: statuses, chunks, the graph
/// with its provenance, vectors, tracking, cache keys.
pub fn fingerprint(workspace: &Workspace) -> String {
    let store = workspace.shared().store.borrow();
    let state = store.state();
    let statuses: BTreeSet<String> = state
        .status
        .values()
        .map(|s| {
            format!(
                "{} {:?} {:?} {} {}",
                s.id, s.state, s.chunks_list, s.track_id, s.created_at
            )
        })
        .collect();
    let nodes: BTreeSet<String> = state.graph.nodes().map(|n| format!("{n:?}")).collect();
    let edges: BTreeSet<String> = state.graph.edges().map(|e| format!("{e:?}")).collect();
    let chunks: BTreeSet<String> = state
        .chunks
        .values()
        .map(|c| format!("{} {} {:?}", c.id, c.doc_id, c.llm_cache_list))
        .collect();
    let cache: BTreeSet<&String> = state.cache.keys().collect();
    format!(
        "{statuses:?}\n{nodes:?}\n{edges:?}\n{chunks:?}\n{cache:?}\nvectors {} {} {} docs {} graphs {}",
        state.chunk_vectors.len(),
        state.entity_vectors.len(),
        state.relation_vectors.len(),
        state.docs.len(),
        state.doc_graph.len()
    )
}
