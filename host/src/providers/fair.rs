//! Fair sharing of a server-wide model budget between tenants.
//!
//! `MAX_ASYNC` is one budget for the whole server (a model server's rate limit does
//! not multiply with the number of tenants). A plain semaphore would serve callers
//! in arrival order, so a tenant that enqueues 200 extraction calls would make every
//! other tenant wait for all of them. Here waiting calls queue per workspace and per
//! class: interactive calls (queries) are served before background ones (ingestion),
//! and within a class the workspaces take turns. An optional per-workspace cap keeps
//! one tenant from holding every slot even when nobody else is waiting.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use tokio::sync::oneshot;

/// Who is waiting for a slot.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Priority {
    /// A user is waiting for the answer (keywords, answers, query embeddings).
    Interactive = 0,
    /// Background work (extraction, summaries, document embeddings).
    Background = 1,
}

/// A granted slot; dropping it frees the slot for the next waiter.
pub struct Permit {
    limiter: Arc<FairLimiter>,
    workspace: String,
    counted: bool,
}

impl Drop for Permit {
    fn drop(&mut self) {
        if self.counted {
            self.limiter.release(&self.workspace);
        }
    }
}

/// The shared budget.
pub struct FairLimiter {
    total: usize,
    per_workspace: Option<usize>,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    in_use: usize,
    in_use_by: HashMap<String, usize>,
    /// Per class: workspaces with waiters, in turn order, and their waiters.
    classes: [Class; 2],
}

#[derive(Default)]
struct Class {
    turns: VecDeque<String>,
    waiting: HashMap<String, VecDeque<oneshot::Sender<Permit>>>,
}

impl FairLimiter {
    /// A budget of `total` slots, at most `per_workspace` of them for one workspace.
    pub fn new(total: usize, per_workspace: Option<usize>) -> Arc<FairLimiter> {
        Arc::new(FairLimiter {
            total: total.max(1),
            per_workspace: per_workspace.map(|n| n.max(1)),
            state: Mutex::new(State::default()),
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn cap_allows(&self, state: &State, workspace: &str) -> bool {
        self.per_workspace
            .is_none_or(|cap| state.in_use_by.get(workspace).copied().unwrap_or(0) < cap)
    }

    /// Waits for a slot for `workspace` at `priority`.
    pub async fn acquire(self: &Arc<Self>, workspace: &str, priority: Priority) -> Permit {
        let receiver = {
            let mut state = self.lock();
            // Queue first, then hand out free slots: an arrival never jumps waiters
            // that can be served, but is not held up by waiters that cannot (a
            // workspace at its cap).
            let (sender, receiver) = oneshot::channel();
            let class = &mut state.classes[priority as usize];
            let queue = class.waiting.entry(workspace.to_string()).or_default();
            if queue.is_empty() {
                class.turns.push_back(workspace.to_string());
            }
            queue.push_back(sender);
            self.dispatch(&mut state);
            receiver
        };
        // The sender is only dropped with the limiter itself, which outlives callers.
        receiver.await.expect("the limiter outlives its waiters")
    }

    /// Frees a slot and hands free slots to the next waiters.
    fn release(self: &Arc<Self>, workspace: &str) {
        let mut state = self.lock();
        state.in_use -= 1;
        if let Some(n) = state.in_use_by.get_mut(workspace) {
            *n -= 1;
            if *n == 0 {
                state.in_use_by.remove(workspace);
            }
        }
        self.dispatch(&mut state);
    }

    /// Grants slots while there are free ones and eligible waiters: the highest class
    /// first, workspaces in turn within a class.
    fn dispatch(self: &Arc<Self>, state: &mut State) {
        'grant: while state.in_use < self.total {
            for class_index in 0..state.classes.len() {
                let rounds = state.classes[class_index].turns.len();
                for _ in 0..rounds {
                    let Some(workspace) = state.classes[class_index].turns.pop_front() else {
                        break;
                    };
                    if !self.cap_allows(state, &workspace) {
                        state.classes[class_index].turns.push_back(workspace);
                        continue;
                    }
                    let class = &mut state.classes[class_index];
                    let queue = class
                        .waiting
                        .get_mut(&workspace)
                        .expect("a turn has waiters");
                    let sender = queue.pop_front().expect("a turn has waiters");
                    if queue.is_empty() {
                        class.waiting.remove(&workspace);
                    } else {
                        class.turns.push_back(workspace.clone());
                    }
                    state.in_use += 1;
                    *state.in_use_by.entry(workspace.clone()).or_default() += 1;
                    let permit = Permit {
                        limiter: self.clone(),
                        workspace: workspace.clone(),
                        counted: true,
                    };
                    if let Err(mut permit) = sender.send(permit) {
                        // The waiter went away: take the slot back without recursing.
                        permit.counted = false;
                        state.in_use -= 1;
                        if let Some(n) = state.in_use_by.get_mut(&workspace) {
                            *n -= 1;
                            if *n == 0 {
                                state.in_use_by.remove(&workspace);
                            }
                        }
                    }
                    continue 'grant;
                }
            }
            break;
        }
    }

    /// Slots in use and calls waiting, for `/health`.
    pub fn load(&self) -> (usize, usize) {
        let state = self.lock();
        let waiting = state
            .classes
            .iter()
            .flat_map(|c| c.waiting.values())
            .map(VecDeque::len)
            .sum();
        (state.in_use, waiting)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex as StdMutex;
    use std::time::Duration;

    /// Queues `n` calls of `workspace` that record their order of service.
    fn spawn_calls(
        limiter: &Arc<FairLimiter>,
        workspace: &'static str,
        priority: Priority,
        n: usize,
        order: &Arc<StdMutex<Vec<&'static str>>>,
    ) -> Vec<tokio::task::JoinHandle<()>> {
        (0..n)
            .map(|_| {
                let limiter = limiter.clone();
                let order = order.clone();
                tokio::spawn(async move {
                    let _permit = limiter.acquire(workspace, priority).await;
                    order.lock().unwrap().push(workspace);
                    tokio::time::sleep(Duration::from_millis(2)).await;
                })
            })
            .collect()
    }

    #[tokio::test]
    async fn a_bulk_tenant_does_not_starve_another() {
        let limiter = FairLimiter::new(1, None);
        let order = Arc::new(StdMutex::new(Vec::new()));
        let hold = limiter.acquire("a", Priority::Background).await;
        let mut tasks = spawn_calls(&limiter, "a", Priority::Background, 50, &order);
        tokio::task::yield_now().await;
        tasks.extend(spawn_calls(&limiter, "b", Priority::Background, 3, &order));
        tokio::time::sleep(Duration::from_millis(5)).await;
        drop(hold);
        for task in tasks {
            task.await.unwrap();
        }
        let order = order.lock().unwrap();
        // Turns alternate: b's three calls are among the first six served.
        let b_positions: Vec<usize> = order
            .iter()
            .enumerate()
            .filter(|(_, w)| **w == "b")
            .map(|(i, _)| i)
            .collect();
        assert_eq!(b_positions.len(), 3);
        assert!(b_positions.iter().all(|&i| i < 6), "{b_positions:?}");
    }

    #[tokio::test]
    async fn interactive_calls_go_before_background_ones() {
        let limiter = FairLimiter::new(1, None);
        let order = Arc::new(StdMutex::new(Vec::new()));
        let hold = limiter.acquire("a", Priority::Background).await;
        let mut tasks = spawn_calls(&limiter, "a", Priority::Background, 10, &order);
        tokio::task::yield_now().await;
        tasks.extend(spawn_calls(&limiter, "q", Priority::Interactive, 2, &order));
        tokio::time::sleep(Duration::from_millis(5)).await;
        drop(hold);
        for task in tasks {
            task.await.unwrap();
        }
        assert_eq!(&order.lock().unwrap()[..2], ["q", "q"]);
    }

    #[tokio::test]
    async fn the_total_and_the_per_workspace_cap_hold() {
        let limiter = FairLimiter::new(3, Some(2));
        let a1 = limiter.acquire("a", Priority::Background).await;
        let _a2 = limiter.acquire("a", Priority::Background).await;
        // A third for "a" must wait although a slot is free; "b" gets it.
        let waiting = {
            let limiter = limiter.clone();
            tokio::spawn(async move { limiter.acquire("a", Priority::Background).await })
        };
        tokio::time::sleep(Duration::from_millis(5)).await;
        assert!(!waiting.is_finished());
        let _b = limiter.acquire("b", Priority::Background).await;
        assert_eq!(limiter.load(), (3, 1));
        drop(a1);
        let _a3 = waiting.await.unwrap();
        assert_eq!(limiter.load(), (3, 0));
    }

    #[tokio::test]
    async fn an_abandoned_waiter_does_not_leak_its_slot() {
        let limiter = FairLimiter::new(1, None);
        let hold = limiter.acquire("a", Priority::Background).await;
        let abandoned = {
            let limiter = limiter.clone();
            tokio::spawn(async move { limiter.acquire("b", Priority::Background).await })
        };
        tokio::time::sleep(Duration::from_millis(5)).await;
        abandoned.abort();
        let _ = abandoned.await;
        drop(hold);
        let _again = tokio::time::timeout(
            Duration::from_secs(1),
            limiter.acquire("c", Priority::Background),
        )
        .await
        .expect("the slot came back");
        assert_eq!(limiter.load().0, 1);
    }
}
