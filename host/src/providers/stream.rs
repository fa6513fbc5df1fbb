//! What a streamed answer tells its client: the steps of the query, the references,
//! the pieces of the answer.

use crate::bindings::types::{EmbedKind, Purpose, Reference, Request};

/// What a streamed answer sends to the client, in order.
#[derive(Debug)]
pub enum StreamEvent {
    /// The engine asked for a model call of this kind. Sent before the call is made,
    /// so that a stream can tell the query's progress.
    Asked(Asked),
    /// The answer is about to stream; these are the documents it may cite.
    Start { references: Vec<Reference> },
    /// A piece of the answer's text.
    Piece(String),
}

/// The model calls that mark the steps of a query.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Asked {
    Keywords,
    QueryEmbedding,
    Rerank,
    Answer,
}

impl Asked {
    /// The step `request` marks, if any.
    pub fn of(request: &Request) -> Option<Asked> {
        match request {
            Request::Complete(c) if matches!(c.purpose, Purpose::Keywords) => Some(Asked::Keywords),
            Request::Complete(c) if matches!(c.purpose, Purpose::Answer) => Some(Asked::Answer),
            Request::Embed(e) if matches!(e.kind, EmbedKind::Query) => Some(Asked::QueryEmbedding),
            Request::Rerank(_) => Some(Asked::Rerank),
            _ => None,
        }
    }
}
