//! Tasks as futures, driven by the host's replies.
//!
//! Engine code is ordinary async Rust: `io.complete(request).await`. The guest never
//! blocks and never does network I/O, so such an await cannot be fulfilled inside the
//! guest. Instead [`Io`] records the request in an outbox and the future stays pending.
//! When a task can make no more progress, [`Executor`] returns everything in the outbox
//! to the host as one step. Because a task may await many futures at once (`join_all`,
//! `FuturesUnordered`), one step can carry many requests — all extraction prompts of a
//! document, say — which the host then runs concurrently.
//!
//! The host may answer any subset of the outstanding requests in each `resume`; the
//! futures waiting on them are woken and the task is polled again. A task therefore
//! never waits for its slowest request before using the fast ones.

use crate::wit::{
    CompletionRequest, EmbedKind, EmbedRequest, Error, NumberedReply, NumberedRequest, Reply,
    Request, RerankRequest, Step, TaskOutput,
};
use std::cell::RefCell;
use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll, Wake, Waker};

/// The result type of a task's future.
pub type TaskResult = Result<TaskOutput, Error>;

/// A task's future. Not `Send`: the guest is single-threaded.
pub type TaskFuture = Pin<Box<dyn Future<Output = TaskResult>>>;

/// A task's handle for asking the host for model calls.
#[derive(Clone, Default)]
pub struct Io {
    inner: Rc<RefCell<IoState>>,
}

#[derive(Default)]
struct IoState {
    next_id: u32,
    outbox: Vec<NumberedRequest>,
    replies: HashMap<u32, Reply>,
    waiting: HashMap<u32, Waker>,
}

impl Io {
    /// Asks for a chat completion; resolves to its text or the provider's error.
    pub async fn complete(&self, request: CompletionRequest) -> Result<String, String> {
        match self.request(Request::Complete(request)).await {
            Reply::Completion(result) => result,
            _ => Err("the host answered a completion with something else".into()),
        }
    }

    /// Asks for the embedding vectors of `texts`.
    pub async fn embed(
        &self,
        kind: EmbedKind,
        texts: Vec<String>,
    ) -> Result<Vec<Vec<f32>>, String> {
        if texts.is_empty() {
            return Ok(Vec::new());
        }
        let expected = texts.len();
        match self
            .request(Request::Embed(EmbedRequest { kind, texts }))
            .await
        {
            Reply::Embedding(Ok(vectors)) if vectors.len() == expected => Ok(vectors),
            Reply::Embedding(Ok(vectors)) => Err(format!(
                "the embedding provider returned {} vectors for {expected} texts",
                vectors.len()
            )),
            Reply::Embedding(Err(err)) => Err(err),
            _ => Err("the host answered an embedding with something else".into()),
        }
    }

    /// Asks the reranker for one relevance score per document.
    pub async fn rerank(&self, query: &str, documents: Vec<String>) -> Result<Vec<f32>, String> {
        let expected = documents.len();
        let request = Request::Rerank(RerankRequest {
            query: query.to_string(),
            documents,
        });
        match self.request(request).await {
            Reply::Ranking(Ok(scores)) if scores.len() == expected => Ok(scores),
            Reply::Ranking(Ok(scores)) => Err(format!(
                "the reranker returned {} scores for {expected} documents",
                scores.len()
            )),
            Reply::Ranking(Err(err)) => Err(err),
            _ => Err("the host answered a rerank request with something else".into()),
        }
    }

    /// Queues a request; the returned future resolves when its reply arrives.
    fn request(&self, request: Request) -> ReplyFuture {
        let mut state = self.inner.borrow_mut();
        let id = state.next_id;
        state.next_id += 1;
        state.outbox.push(NumberedRequest { id, request });
        ReplyFuture {
            io: self.clone(),
            id,
        }
    }

    /// Hands the replies to the futures waiting for them. Unknown ids are ignored:
    /// a request's future may have been dropped (e.g. a `select` that lost).
    fn deliver(&self, replies: Vec<NumberedReply>) {
        let wakers: Vec<Waker> = {
            let mut state = self.inner.borrow_mut();
            replies
                .into_iter()
                .filter_map(|NumberedReply { id, reply }| {
                    state.replies.insert(id, reply);
                    state.waiting.remove(&id)
                })
                .collect()
        };
        for waker in wakers {
            waker.wake();
        }
    }

    fn take_outbox(&self) -> Vec<NumberedRequest> {
        std::mem::take(&mut self.inner.borrow_mut().outbox)
    }

    fn is_waiting(&self) -> bool {
        !self.inner.borrow().waiting.is_empty()
    }
}

/// Resolves when the host delivers the reply numbered `id`.
struct ReplyFuture {
    io: Io,
    id: u32,
}

impl Future for ReplyFuture {
    type Output = Reply;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Reply> {
        let mut state = self.io.inner.borrow_mut();
        match state.replies.remove(&self.id) {
            Some(reply) => Poll::Ready(reply),
            None => {
                state.waiting.insert(self.id, cx.waker().clone());
                Poll::Pending
            }
        }
    }
}

impl Drop for ReplyFuture {
    fn drop(&mut self) {
        if let Ok(mut state) = self.io.inner.try_borrow_mut() {
            state.waiting.remove(&self.id);
            state.replies.remove(&self.id);
        }
    }
}

/// Records whether the task asked to be polled again (e.g. `FuturesUnordered`
/// yielding after a long batch), so the executor keeps polling instead of stalling.
#[derive(Default)]
struct Flag(AtomicBool);

impl Wake for Flag {
    fn wake(self: Arc<Self>) {
        self.0.store(true, Ordering::Relaxed);
    }
    fn wake_by_ref(self: &Arc<Self>) {
        self.0.store(true, Ordering::Relaxed);
    }
}

struct Task {
    future: TaskFuture,
    io: Io,
}

/// The running tasks of one workspace.
#[derive(Default)]
pub struct Executor {
    tasks: HashMap<u64, Task>,
    next_id: u64,
}

impl Executor {
    /// Starts a task built by `make` from a fresh [`Io`] and runs it as far as it goes.
    pub fn start(&mut self, make: impl FnOnce(Io) -> TaskFuture) -> (u64, Step) {
        self.next_id += 1;
        let id = self.next_id;
        let io = Io::default();
        let future = make(io.clone());
        self.tasks.insert(id, Task { future, io });
        (id, self.run(id))
    }

    /// Continues task `id` with some replies.
    pub fn resume(&mut self, id: u64, replies: Vec<NumberedReply>) -> Step {
        match self.tasks.get(&id) {
            Some(task) => task.io.deliver(replies),
            None => return Step::Failed(Error::NotFound(format!("no running task {id}"))),
        }
        self.run(id)
    }

    /// Drops task `id` and everything it was waiting for.
    pub fn cancel(&mut self, id: u64) {
        self.tasks.remove(&id);
    }

    /// Number of tasks in progress.
    pub fn running(&self) -> usize {
        self.tasks.len()
    }

    /// Polls task `id` until it finishes or waits only on the host.
    fn run(&mut self, id: u64) -> Step {
        let Some(task) = self.tasks.get_mut(&id) else {
            return Step::Failed(Error::NotFound(format!("no running task {id}")));
        };
        let flag = Arc::new(Flag::default());
        let waker = Waker::from(flag.clone());
        let mut cx = Context::from_waker(&waker);
        loop {
            if let Poll::Ready(result) = task.future.as_mut().poll(&mut cx) {
                self.tasks.remove(&id);
                return match result {
                    Ok(output) => Step::Done(output),
                    Err(err) => Step::Failed(err),
                };
            }
            if !flag.0.swap(false, Ordering::Relaxed) {
                break;
            }
        }
        let requests = task.io.take_outbox();
        if requests.is_empty() && !task.io.is_waiting() {
            self.tasks.remove(&id);
            return Step::Failed(Error::Internal(
                "a task stopped without finishing or waiting for the host".into(),
            ));
        }
        Step::Pending(requests)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wit::{Purpose, RawInput};
    use futures_util::future::join_all;

    fn completion(text: &str) -> CompletionRequest {
        CompletionRequest {
            purpose: Purpose::Extract,
            messages: Vec::new(),
            json_mode: false,
            stream: false,
            input: RawInput::Query(text.to_string()),
        }
    }

    fn answer(id: u32, text: &str) -> NumberedReply {
        NumberedReply {
            id,
            reply: Reply::Completion(Ok(text.to_string())),
        }
    }

    #[test]
    fn concurrent_awaits_become_one_step_and_partial_replies_make_progress() {
        let mut executor = Executor::default();
        let (id, step) = executor.start(|io| {
            Box::pin(async move {
                let first = join_all((0..3).map(|i| io.complete(completion(&i.to_string())))).await;
                let joined: Vec<String> = first.into_iter().map(Result::unwrap).collect();
                let last = io.complete(completion(&joined.join("+"))).await.unwrap();
                Ok(TaskOutput::Processed((last.len() as u32, 0)))
            })
        });
        let Step::Pending(requests) = step else {
            panic!("expected pending")
        };
        assert_eq!(requests.len(), 3);
        // Answer two of three: nothing new is asked, the task keeps waiting.
        let step = executor.resume(id, vec![answer(2, "c"), answer(0, "a")]);
        assert!(matches!(step, Step::Pending(ref r) if r.is_empty()));
        let Step::Pending(requests) = executor.resume(id, vec![answer(1, "b")]) else {
            panic!("expected the follow-up request")
        };
        assert_eq!(requests.len(), 1);
        let RawInput::Query(text) = &match &requests[0].request {
            Request::Complete(c) => c.clone(),
            _ => panic!("expected a completion"),
        }
        .input
        else {
            panic!("expected a query input")
        };
        assert_eq!(text, "a+b+c");
        let step = executor.resume(id, vec![answer(requests[0].id, "done!")]);
        assert!(matches!(step, Step::Done(TaskOutput::Processed((5, 0)))));
        assert_eq!(executor.running(), 0);
    }

    #[test]
    fn a_task_waiting_on_nothing_fails_instead_of_hanging() {
        let mut executor = Executor::default();
        let (_, step) = executor.start(|_| Box::pin(std::future::pending()));
        assert!(matches!(step, Step::Failed(Error::Internal(_))));
    }

    #[test]
    fn unknown_tasks_and_cancelled_tasks_are_not_found() {
        let mut executor = Executor::default();
        let (id, _) = executor.start(|io| {
            Box::pin(async move {
                io.complete(completion("x")).await.ok();
                Ok(TaskOutput::Processed((0, 0)))
            })
        });
        executor.cancel(id);
        assert!(matches!(
            executor.resume(id, vec![answer(0, "late")]),
            Step::Failed(Error::NotFound(_))
        ));
    }

    #[test]
    fn embeddings_with_the_wrong_count_are_an_error() {
        let mut executor = Executor::default();
        let (id, _) = executor.start(|io| {
            Box::pin(async move {
                let err = io
                    .embed(EmbedKind::Document, vec!["a".into(), "b".into()])
                    .await
                    .unwrap_err();
                assert!(err.contains("1 vectors for 2 texts"));
                Ok(TaskOutput::Processed((0, 0)))
            })
        });
        let reply = NumberedReply {
            id: 0,
            reply: Reply::Embedding(Ok(vec![vec![1.0]])),
        };
        assert!(matches!(executor.resume(id, vec![reply]), Step::Done(_)));
    }
}
