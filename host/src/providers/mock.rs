//! A mock model server for the tests of every client: a listener on a free port, a
//! body that arrives slowly, a request counter and a reader of streamed pieces.

use super::stream::StreamEvent;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

/// Serves `router` on 127.0.0.1 and returns its base URL (`http://127.0.0.1:port`).
pub async fn serve(router: axum::Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind a mock port");
    let address = listener.local_addr().expect("mock address");
    tokio::spawn(async move {
        axum::serve(listener, router).await.ok();
    });
    format!("http://{address}")
}

/// A response body sent as `chunks`, with a pause before each.
pub fn slow_body(chunks: Vec<String>, pause: std::time::Duration) -> axum::body::Body {
    use futures::StreamExt;
    let stream = futures::stream::iter(chunks).then(move |chunk| async move {
        tokio::time::sleep(pause).await;
        Ok::<_, std::convert::Infallible>(chunk)
    });
    axum::body::Body::from_stream(stream)
}

/// Counts requests.
#[derive(Clone, Default)]
pub struct Hits(Arc<AtomicUsize>);

impl Hits {
    /// Counts one more and returns the new count (1 for the first request).
    pub fn hit(&self) -> usize {
        self.0.fetch_add(1, Ordering::SeqCst) + 1
    }
    pub fn get(&self) -> usize {
        self.0.load(Ordering::SeqCst)
    }
}

/// Every piece a streamed completion forwarded, in order; any other event fails the test.
pub async fn pieces(mut events: tokio::sync::mpsc::Receiver<StreamEvent>) -> Vec<String> {
    let mut pieces = Vec::new();
    while let Some(event) = events.recv().await {
        match event {
            StreamEvent::Piece(piece) => pieces.push(piece),
            other => panic!("unexpected event {other:?}"),
        }
    }
    pieces
}
