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
//!
//! Tasks of one workspace also wait for each other: two tasks that change the graph
//! take turns on a guest-side lock. Each task has its own waker, which marks it
//! runnable. A task woken by another one's call (the holder released the lock, or
//! was cancelled) cannot be polled by that call — the host is driving it separately —
//! so the call reports it in `woken`, and the host resumes it with no replies.

use crate::wit::{
    CompletionRequest, EmbedKind, EmbedRequest, Error, NumberedReply, NumberedRequest, Progress,
    Reply, Request, RerankRequest, Step, TaskOutput,
};
use std::cell::RefCell;
use std::collections::{BTreeSet, HashMap, HashSet};
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::sync::{Arc, Mutex};
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
    /// Requests not yet handed to the host.
    outbox: Vec<NumberedRequest>,
    /// Requests whose future still exists: only their replies are kept.
    wanted: HashSet<u32>,
    replies: HashMap<u32, Reply>,
    waiting: HashMap<u32, Waker>,
    /// Requests handed to the host whose future was dropped since the last step.
    withdrawn: Vec<u32>,
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
        state.wanted.insert(id);
        ReplyFuture {
            io: self.clone(),
            id,
        }
    }

    /// Hands the replies to the futures waiting for them. A reply nobody wants any
    /// more (its future was dropped, e.g. a sibling of a failed `try_join_all`) is
    /// dropped here rather than kept until the task ends.
    fn deliver(&self, replies: Vec<NumberedReply>) {
        let wakers: Vec<Waker> = {
            let mut state = self.inner.borrow_mut();
            replies
                .into_iter()
                .filter_map(|NumberedReply { id, reply }| {
                    if !state.wanted.contains(&id) {
                        return None;
                    }
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

    fn take_withdrawn(&self) -> Vec<u32> {
        std::mem::take(&mut self.inner.borrow_mut().withdrawn)
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
            Some(reply) => {
                state.wanted.remove(&self.id);
                Poll::Ready(reply)
            }
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
            if state.wanted.remove(&self.id) {
                // Never handed out: take it back. Handed out: tell the host.
                match state.outbox.iter().position(|r| r.id == self.id) {
                    Some(at) => {
                        state.outbox.remove(at);
                    }
                    None => state.withdrawn.push(self.id),
                }
            }
        }
    }
}

/// Ids of tasks woken since the host last heard of it. Shared by every task's waker;
/// the guest is single-threaded, so the lock is never contended (a `Waker` must be
/// `Send + Sync`, which rules out `RefCell`).
type Woken = Arc<Mutex<BTreeSet<u64>>>;

/// Wakes one task: marks it runnable. The executor polls the task it was called for
/// again while that task wakes itself (`FuturesUnordered` yields after a batch), and
/// reports the others to the host, which resumes them.
struct TaskWaker {
    id: u64,
    woken: Woken,
}

impl Wake for TaskWaker {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }
    fn wake_by_ref(self: &Arc<Self>) {
        lock(&self.woken).insert(self.id);
    }
}

fn lock(woken: &Woken) -> std::sync::MutexGuard<'_, BTreeSet<u64>> {
    woken.lock().unwrap_or_else(|e| e.into_inner())
}

struct Task {
    future: TaskFuture,
    io: Io,
    waker: Waker,
}

/// The running tasks of one workspace.
#[derive(Default)]
pub struct Executor {
    tasks: HashMap<u64, Task>,
    next_id: u64,
    woken: Woken,
}

impl Executor {
    /// Starts a task built by `make` from a fresh [`Io`] and runs it as far as it goes.
    pub fn start(&mut self, make: impl FnOnce(Io) -> TaskFuture) -> (u64, Progress) {
        self.next_id += 1;
        let id = self.next_id;
        let io = Io::default();
        let future = make(io.clone());
        let waker = Waker::from(Arc::new(TaskWaker {
            id,
            woken: self.woken.clone(),
        }));
        self.tasks.insert(id, Task { future, io, waker });
        (id, self.run(id))
    }

    /// Continues task `id` with some replies (or none, after it was woken).
    pub fn resume(&mut self, id: u64, replies: Vec<NumberedReply>) -> Progress {
        match self.tasks.get(&id) {
            Some(task) => task.io.deliver(replies),
            None => {
                return Progress {
                    step: Step::Failed(Error::NotFound(format!("no running task {id}"))),
                    woken: Vec::new(),
                    withdrawn: Vec::new(),
                };
            }
        }
        self.run(id)
    }

    /// Drops task `id` and everything it was waiting for; returns the tasks that
    /// dropping it woke (it may have held a lock they wait for).
    pub fn cancel(&mut self, id: u64) -> Vec<u64> {
        drop(self.tasks.remove(&id));
        self.take_woken()
    }

    /// Number of tasks in progress.
    pub fn running(&self) -> usize {
        self.tasks.len()
    }

    /// Polls task `id` until it finishes or waits, and says what else became runnable.
    fn run(&mut self, id: u64) -> Progress {
        let step = self.poll(id);
        let withdrawn = match self.tasks.get(&id) {
            Some(task) => task.io.take_withdrawn(),
            None => Vec::new(),
        };
        Progress {
            step,
            woken: self.take_woken(),
            withdrawn,
        }
    }

    fn poll(&mut self, id: u64) -> Step {
        let Some(task) = self.tasks.get_mut(&id) else {
            return Step::Failed(Error::NotFound(format!("no running task {id}")));
        };
        let mut cx = Context::from_waker(&task.waker);
        loop {
            lock(&self.woken).remove(&id);
            if let Poll::Ready(result) = task.future.as_mut().poll(&mut cx) {
                // Dropped here, inside the call, so whatever it held wakes its waiters
                // now and they are reported with this step.
                drop(self.tasks.remove(&id));
                return match result {
                    Ok(output) => Step::Done(output),
                    Err(err) => Step::Failed(err),
                };
            }
            if !lock(&self.woken).contains(&id) {
                break;
            }
        }
        let requests = task.io.take_outbox();
        if requests.is_empty() && !task.io.is_waiting() && self.tasks.len() == 1 {
            // Waiting neither for the host nor for another task: it can never go on.
            drop(self.tasks.remove(&id));
            return Step::Failed(Error::Internal(
                "a task stopped without finishing or waiting for the host".into(),
            ));
        }
        Step::Pending(requests)
    }

    /// Woken tasks that still exist, for the host to resume.
    fn take_woken(&mut self) -> Vec<u64> {
        let woken = std::mem::take(&mut *lock(&self.woken));
        woken
            .into_iter()
            .filter(|id| self.tasks.contains_key(id))
            .collect()
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
        let (id, Progress { step, .. }) = executor.start(|io| {
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
        let step = executor
            .resume(id, vec![answer(2, "c"), answer(0, "a")])
            .step;
        assert!(matches!(step, Step::Pending(ref r) if r.is_empty()));
        let Step::Pending(requests) = executor.resume(id, vec![answer(1, "b")]).step else {
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
        let step = executor
            .resume(id, vec![answer(requests[0].id, "done!")])
            .step;
        assert!(matches!(step, Step::Done(TaskOutput::Processed((5, 0)))));
        assert_eq!(executor.running(), 0);
    }

    #[test]
    fn a_task_waiting_on_nothing_fails_instead_of_hanging() {
        let mut executor = Executor::default();
        let (_, progress) = executor.start(|_| Box::pin(std::future::pending()));
        assert!(matches!(progress.step, Step::Failed(Error::Internal(_))));
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
            executor.resume(id, vec![answer(0, "late")]).step,
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
        assert!(matches!(
            executor.resume(id, vec![reply]).step,
            Step::Done(_)
        ));
    }

    /// Regression: a task parked on a guest-side lock was only ever polled when the
    /// host called it, so when the holder released the lock nobody ran it, and the
    /// executor failed it ("a task stopped without finishing...").
    #[test]
    fn a_task_parked_on_a_lock_is_reported_woken_when_the_holder_releases_it() {
        let lock = Rc::new(futures_util::lock::Mutex::new(Vec::<&str>::new()));
        let mut executor = Executor::default();
        let holder_lock = lock.clone();
        let (holder, progress) = executor.start(move |io| {
            Box::pin(async move {
                let mut held = holder_lock.lock().await;
                let reply = io.complete(completion("hold")).await.unwrap();
                held.push("holder");
                Ok(TaskOutput::Processed((reply.len() as u32, 0)))
            })
        });
        let Step::Pending(requests) = progress.step else {
            panic!("the holder waits for its reply")
        };
        let waiter_lock = lock.clone();
        let (waiter, progress) = executor.start(move |_| {
            Box::pin(async move {
                let mut held = waiter_lock.lock().await;
                held.push("waiter");
                Ok(TaskOutput::Processed((held.len() as u32, 0)))
            })
        });
        // Parked on the lock, which is fine while another task runs.
        assert!(matches!(progress.step, Step::Pending(ref r) if r.is_empty()));
        assert!(progress.woken.is_empty());
        let progress = executor.resume(holder, vec![answer(requests[0].id, "ok")]);
        assert!(matches!(progress.step, Step::Done(_)));
        assert_eq!(progress.woken, [waiter]);
        let progress = executor.resume(waiter, Vec::new());
        assert!(matches!(
            progress.step,
            Step::Done(TaskOutput::Processed((2, 0)))
        ));
        assert_eq!(executor.running(), 0);
    }

    #[test]
    fn cancelling_a_lock_holder_wakes_its_waiters() {
        let lock = Rc::new(futures_util::lock::Mutex::new(()));
        let mut executor = Executor::default();
        let held = lock.clone();
        let (holder, _) = executor.start(move |io| {
            Box::pin(async move {
                let _held = held.lock().await;
                io.complete(completion("forever")).await.ok();
                Ok(TaskOutput::Processed((0, 0)))
            })
        });
        let wanted = lock.clone();
        let (waiter, _) = executor.start(move |_| {
            Box::pin(async move {
                let _held = wanted.lock().await;
                Ok(TaskOutput::Processed((1, 0)))
            })
        });
        assert_eq!(executor.cancel(holder), [waiter]);
        assert!(matches!(
            executor.resume(waiter, Vec::new()).step,
            Step::Done(TaskOutput::Processed((1, 0)))
        ));
    }

    /// Regression: replies to requests whose future was dropped were stored until the
    /// task ended, and the host kept running those requests.
    #[test]
    fn requests_nobody_waits_for_are_withdrawn_and_their_late_replies_dropped() {
        let mut executor = Executor::default();
        let (id, progress) = executor.start(|io| {
            Box::pin(async move {
                let first = io.complete(completion("fails fast"));
                let second = io.complete(completion("slow sibling"));
                let joined =
                    futures_util::future::try_join(async { first.await.map(|_| ()) }, async {
                        second.await.map(|_| ())
                    })
                    .await;
                assert!(joined.is_err());
                io.complete(completion("after")).await.ok();
                Ok(TaskOutput::Processed((0, 0)))
            })
        });
        let Step::Pending(requests) = progress.step else {
            panic!("expected two requests")
        };
        assert_eq!(requests.len(), 2);
        let failed = NumberedReply {
            id: 0,
            reply: Reply::Completion(Err("model error".into())),
        };
        let progress = executor.resume(id, vec![failed]);
        assert_eq!(progress.withdrawn, [1]);
        let Step::Pending(requests) = progress.step else {
            panic!("expected the follow-up request")
        };
        assert_eq!(requests[0].id, 2);
        // The withdrawn request's reply arrives anyway: ignored, not kept.
        let progress = executor.resume(id, vec![answer(1, "late")]);
        assert!(matches!(progress.step, Step::Pending(ref r) if r.is_empty()));
        let task = executor.tasks.get(&id).unwrap();
        assert!(task.io.inner.borrow().replies.is_empty());
        let progress = executor.resume(id, vec![answer(2, "done")]);
        assert!(matches!(progress.step, Step::Done(_)));
    }
}
