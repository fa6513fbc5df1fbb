//! `POST /query/stream`: the answer as NDJSON lines, in LightRAG's format.
//!
//! `{"references": [...]}` first (unless `include_references` is false), then one
//! `{"response": "<piece>"}` per piece the model streams, then `{"error": "..."}` if
//! the query fails midway. An answer that was not streamed (cached, context only, no
//! context) is a single line holding the whole response. With `include_progress`,
//! `{"progress": "<step>"}` lines come before the answer, and `{"response_time": s}`
//! ends the stream.

use super::request::{self, QueryRequest, failure, prepare, references_json, start_query};
use crate::bindings::types::{Error as GuestError, QueryMode, QueryOutput};
use crate::error::AppError;
use crate::providers::{Asked, StreamEvent};
use crate::routes::body::JsonBody;
use crate::routes::state::AppState;
use crate::service;
use crate::workspace::Workspace;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use std::time::Instant;
use tokio::sync::mpsc;

pub(super) async fn query_stream(
    State(state): State<AppState>,
    workspace: Workspace,
    JsonBody(body): JsonBody<QueryRequest>,
) -> Result<Response, AppError> {
    let prepared = prepare(&state, body, true)?;
    let started = Instant::now();
    let mut lines = Lines {
        include_references: prepared.include_references,
        progress: prepared
            .include_progress
            .then(|| Progress::new(prepared.params.mode)),
        streamed: false,
    };
    let (events_tx, mut events) = mpsc::channel(64);
    let mut running = start_query(&state, &workspace, prepared.params, Some(events_tx)).await?;

    // Headers go out once there is a line to send: a progress line, the first streamed
    // piece, or the whole result. So without progress lines, an error before the
    // answer starts is a proper status code. A closed event channel (the task ended)
    // disables the first branch.
    let mut ready = Vec::new();
    while ready.is_empty() {
        tokio::select! {
            Some(event) = events.recv() => ready = lines.event(event),
            result = &mut running => {
                let output = match request::output(result) {
                    Ok(output) => output,
                    Err(err) => failure(err)?,
                };
                // Steps not read yet still get their progress lines; streamed pieces
                // are superseded by the whole response.
                let mut all = Vec::new();
                while let Ok(event) = events.try_recv() {
                    if matches!(event, StreamEvent::Asked(_)) {
                        all.extend(lines.event(event));
                    }
                }
                all.push(lines.whole(&output));
                all.extend(lines.finish(started));
                let body: Vec<u8> = all.iter().flat_map(ndjson_line).collect();
                return Ok(ndjson_response(workspace, Body::from(body)));
            }
        }
    }

    let (lines_tx, lines_rx) = mpsc::channel::<Result<Bytes, std::io::Error>>(64);
    tokio::spawn(async move {
        // The query lives as long as the client reads: a disconnect drops `lines_rx`,
        // sending fails, this task ends, and the query is cancelled.
        loop {
            for line in ready.drain(..) {
                if lines_tx.send(Ok(ndjson_line(&line))).await.is_err() {
                    return;
                }
            }
            // A client that goes away closes the body: stop (and cancel the query)
            // now, not when the model's next piece finds nobody to send it to.
            let event = tokio::select! {
                event = events.recv() => event,
                () = lines_tx.closed() => return,
            };
            match event {
                Some(event) => ready = lines.event(event),
                None => break,
            }
        }
        let result = tokio::select! {
            result = &mut running => result,
            () = lines_tx.closed() => return,
        };
        let tail = match request::output(result) {
            // Progress lines went out, but the answer did not stream: send it whole.
            Ok(output) if !lines.streamed => [Some(lines.whole(&output)), lines.finish(started)],
            Ok(_) => [None, lines.finish(started)],
            Err(err) => {
                let message = match err {
                    service::Error::Engine(GuestError::BadInput(m) | GuestError::Internal(m)) => m,
                    other => other.to_string(),
                };
                [Some(json!({"error": message})), None]
            }
        };
        for line in tail.into_iter().flatten() {
            let _ = lines_tx.send(Ok(ndjson_line(&line))).await;
        }
    });
    let body = Body::from_stream(tokio_stream::wrappers::ReceiverStream::new(lines_rx));
    Ok(ndjson_response(workspace, body))
}

/// Turns the query's events into lines.
struct Lines {
    include_references: bool,
    /// Present when the client asked for progress lines.
    progress: Option<Progress>,
    /// Whether the answer started streaming.
    streamed: bool,
}

impl Lines {
    fn event(&mut self, event: StreamEvent) -> Vec<Value> {
        match event {
            StreamEvent::Asked(asked) => self.progress.as_mut().map_or_else(Vec::new, |p| {
                p.steps(asked)
                    .into_iter()
                    .map(|step| json!({"progress": step}))
                    .collect()
            }),
            StreamEvent::Start { references } => {
                self.streamed = true;
                self.include_references
                    .then(|| json!({"references": references_json(&references)}))
                    .into_iter()
                    .collect()
            }
            StreamEvent::Piece(piece) => {
                self.streamed = true;
                (!piece.is_empty())
                    .then(|| json!({"response": piece}))
                    .into_iter()
                    .collect()
            }
        }
    }

    /// An answer that did not stream, as one line.
    fn whole(&self, output: &QueryOutput) -> Value {
        let mut line = json!({"response": output.response, "llm_generated": output.llm_generated});
        if self.include_references {
            line["references"] = references_json(&output.references);
        }
        line
    }

    /// The last line, when progress lines were asked for.
    fn finish(&self, started: Instant) -> Option<Value> {
        let seconds = (started.elapsed().as_secs_f64() * 1000.0).round() / 1000.0;
        self.progress
            .is_some()
            .then(|| json!({"response_time": seconds}))
    }
}

/// LightRAG's progress steps, told by the model calls the engine makes: the keyword
/// call, the query's embedding (retrieval starts with it), the reranker, the answer.
/// The answer step is reported for knowledge-graph modes only, and only when the model
/// is asked (a cached answer has no such step), as in LightRAG.
struct Progress {
    mode: QueryMode,
    sent: Vec<&'static str>,
}

impl Progress {
    fn new(mode: QueryMode) -> Progress {
        Progress {
            mode,
            sent: Vec::new(),
        }
    }

    /// The steps `asked` begins that were not reported yet, in order.
    fn steps(&mut self, asked: Asked) -> Vec<&'static str> {
        let graph = !matches!(self.mode, QueryMode::Naive | QueryMode::Bypass);
        let steps: &[&'static str] = match asked {
            Asked::Keywords => &["extracting_keywords"],
            Asked::QueryEmbedding if graph => &[
                "retrieving_entities",
                "retrieving_relations",
                "retrieving_chunks",
            ],
            Asked::QueryEmbedding => &["retrieving_chunks"],
            Asked::Rerank => &["reranking"],
            Asked::Answer if graph => &["generating_response"],
            Asked::Answer => &[],
        };
        let new: Vec<&'static str> = steps
            .iter()
            .copied()
            .filter(|step| !self.sent.contains(step))
            .collect();
        self.sent.extend(&new);
        new
    }
}

fn ndjson_line(value: &Value) -> Bytes {
    let mut line = serde_json::to_vec(value).unwrap_or_default();
    line.push(b'\n');
    Bytes::from(line)
}

fn ndjson_response(workspace: Workspace, body: Body) -> Response {
    let mut response = (workspace, body).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/x-ndjson"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    headers.insert("X-Accel-Buffering", HeaderValue::from_static("no"));
    response
}
