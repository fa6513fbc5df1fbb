//! The pool against a fake lifecycle, on tokio's paused clock: scenarios for each
//! rule, regressions named after their bugs, and a model-based test that runs random
//! clients and checks the invariants after every step.

use super::*;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

/// A value: its key and which open of that key made it.
#[derive(Debug, PartialEq)]
struct Value {
    key: String,
    generation: usize,
}

type V = Arc<Value>;

/// Opens after `open_delay`, retires after `retire_delay`, fails keys in `failing`,
/// and checks that a key never has two values at once.
#[derive(Default)]
struct Fake {
    open_delay: Duration,
    retire_delay: Duration,
    failing: Mutex<HashSet<String>>,
    /// Keys with a value opened and not yet retired or discarded.
    alive: Mutex<HashSet<String>>,
    opens: AtomicUsize,
    retires: AtomicUsize,
}

impl Lifecycle<String, V> for Arc<Fake> {
    type Error = String;

    async fn open(&self, key: &String) -> Result<V, String> {
        tokio::time::sleep(self.open_delay).await;
        if self.failing.lock().unwrap().contains(key) {
            return Err(format!("{key} cannot open"));
        }
        assert!(
            self.alive.lock().unwrap().insert(key.clone()),
            "{key} opened while its previous value was alive"
        );
        let generation = self.opens.fetch_add(1, Ordering::SeqCst);
        Ok(Arc::new(Value {
            key: key.clone(),
            generation,
        }))
    }

    async fn retire(&self, key: &String, value: V, _: Retirement) {
        assert_eq!(&value.key, key);
        tokio::time::sleep(self.retire_delay).await;
        self.alive.lock().unwrap().remove(key);
        self.retires.fetch_add(1, Ordering::SeqCst);
    }
}

type TestPool = Pool<String, V, Arc<Fake>>;

fn pool(fake: Fake, capacity: usize, wait_ms: u64, hold_ms: u64) -> (TestPool, Arc<Fake>) {
    let fake = Arc::new(fake);
    let pool = Pool::new(
        fake.clone(),
        Settings {
            capacity,
            wait: Duration::from_millis(wait_ms),
            hold: Duration::from_millis(hold_ms),
        },
    );
    (pool, fake)
}

fn key(name: &str) -> String {
    name.to_string()
}

/// Lets spawned tasks (opens, retires) run; the paused clock advances only when
/// everything is idle.
async fn settle() {
    for _ in 0..20 {
        tokio::task::yield_now().await;
    }
    tokio::time::sleep(Duration::from_millis(1)).await;
}

#[tokio::test(start_paused = true)]
async fn concurrent_first_leases_make_one_open() {
    let (pool, fake) = pool(
        Fake {
            open_delay: Duration::from_millis(50),
            ..Fake::default()
        },
        4,
        1000,
        100,
    );
    let leases = {
        let a = key("a");
        futures::future::join_all((0..20).map(|_| pool.lease(&a))).await
    };
    assert!(leases.iter().all(Result::is_ok));
    assert_eq!(fake.opens.load(Ordering::SeqCst), 1);
    assert_eq!(pool.summary().leases, 20);
    drop(leases);
    assert_eq!(pool.summary().leases, 0);
}

#[tokio::test(start_paused = true)]
async fn the_least_recently_used_idle_slot_is_retired_for_a_new_key() {
    let (pool, fake) = pool(Fake::default(), 2, 1000, 100);
    drop(pool.lease(&key("a")).await.unwrap());
    drop(pool.lease(&key("b")).await.unwrap());
    drop(pool.lease(&key("a")).await.unwrap());
    let c = pool.lease(&key("c")).await.unwrap();
    settle().await;
    let live: HashSet<String> = pool.entries().into_iter().map(|e| e.key).collect();
    assert_eq!(live, HashSet::from([key("a"), key("c")]));
    assert_eq!(fake.retires.load(Ordering::SeqCst), 1);
    assert_eq!(c.key, "c");
}

/// Regression: the slot of a first request started with one lease, and the `Lease`
/// that gives it back was built only after the open was joined — a client that went
/// away meanwhile left the workspace leased for ever (never evicted, never closable).
#[tokio::test(start_paused = true)]
async fn a_client_that_disconnects_while_its_workspace_opens_leaks_no_lease() {
    let (pool, fake) = pool(
        Fake {
            open_delay: Duration::from_millis(200),
            ..Fake::default()
        },
        1,
        1000,
        100,
    );
    let abandoned = tokio::time::timeout(Duration::from_millis(50), pool.lease(&key("a"))).await;
    assert!(abandoned.is_err(), "the open is still running");
    assert_eq!(pool.summary().leases, 0);
    tokio::time::sleep(Duration::from_millis(300)).await;
    // The open finished for nobody; the slot is idle, so another key can take it and
    // the key can be closed.
    assert_eq!(fake.opens.load(Ordering::SeqCst), 1);
    drop(pool.lease(&key("b")).await.unwrap());
    let closed = pool.close(&key("b"), Duration::from_secs(1)).await;
    assert!(closed.is_ok());
    assert_eq!(pool.summary().leases, 0);
}

#[tokio::test(start_paused = true)]
async fn waiters_get_slots_in_arrival_order() {
    let (pool, _) = pool(Fake::default(), 1, 10_000, 60_000);
    let first = pool.lease(&key("a")).await.unwrap();
    let order = Arc::new(Mutex::new(Vec::new()));
    let mut clients = Vec::new();
    for name in ["b", "c", "d"] {
        let (pool, order) = (pool.clone(), order.clone());
        clients.push(tokio::spawn(async move {
            let lease = pool.lease(&key(name)).await.unwrap();
            order.lock().unwrap().push(name);
            tokio::time::sleep(Duration::from_millis(10)).await;
            drop(lease);
        }));
        settle().await;
    }
    assert_eq!(pool.summary().waiting, 3);
    drop(first);
    for client in clients {
        client.await.unwrap();
    }
    assert_eq!(*order.lock().unwrap(), ["b", "c", "d"]);
}

/// Regression: an instance was evicted only when nothing leased it, so with more busy
/// workspaces than slots a steadily used workspace was never free, and requests for
/// the others got 503 "All workspace slots are busy".
#[tokio::test(start_paused = true)]
async fn busy_tenants_hand_their_slot_over_to_waiting_ones() {
    let (pool, _) = pool(Fake::default(), 1, 2000, 100);
    // A hot key whose requests always overlap: one arrives every 5 ms and each holds
    // its lease for 12 ms, so the slot is never idle.
    let hot = pool.lease(&key("hot")).await.unwrap();
    let drained = hot.drain_requested();
    let stop = CancellationToken::new();
    let keeper = {
        let (pool, stop) = (pool.clone(), stop.clone());
        tokio::spawn(async move {
            let mut requests = tokio::task::JoinSet::new();
            requests.spawn(async move {
                tokio::time::sleep(Duration::from_millis(12)).await;
                drop(hot);
            });
            while !stop.is_cancelled() {
                tokio::time::sleep(Duration::from_millis(5)).await;
                let pool = pool.clone();
                requests.spawn(async move {
                    if let Ok(lease) = pool.lease(&key("hot")).await {
                        tokio::time::sleep(Duration::from_millis(12)).await;
                        drop(lease);
                    }
                });
            }
            requests.shutdown().await;
        })
    };
    let started = Instant::now();
    let cold = pool.lease(&key("cold")).await;
    assert!(
        cold.is_ok(),
        "a waiting tenant gets the slot within the wait"
    );
    assert!(drained.is_cancelled(), "the hot slot was asked to drain");
    assert!(started.elapsed() < Duration::from_millis(2000));
    drop(cold);
    stop.cancel();
    keeper.await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn a_wait_longer_than_the_limit_is_full_and_leaves_no_ticket() {
    let (pool, _) = pool(Fake::default(), 1, 500, 100);
    let held = pool.lease(&key("a")).await.unwrap();
    let started = Instant::now();
    let refused = pool.lease(&key("b")).await;
    assert!(matches!(refused, Err(PoolError::Full)));
    assert!(started.elapsed() >= Duration::from_millis(500));
    // Asked to drain, but its holder did not let go.
    assert!(held.drain_requested().is_cancelled());
    assert_eq!(pool.summary().waiting, 0);
}

#[tokio::test(start_paused = true)]
async fn a_failed_open_reaches_every_waiter_and_the_next_lease_tries_again() {
    let (pool, fake) = pool(
        Fake {
            open_delay: Duration::from_millis(20),
            ..Fake::default()
        },
        2,
        1000,
        100,
    );
    fake.failing.lock().unwrap().insert(key("a"));
    let results = {
        let a = key("a");
        futures::future::join_all((0..3).map(|_| pool.lease(&a))).await
    };
    for result in &results {
        assert!(matches!(result, Err(PoolError::Open(m)) if m.contains("cannot open")));
    }
    assert_eq!(pool.summary().loaded, 0);
    fake.failing.lock().unwrap().clear();
    assert!(pool.lease(&key("a")).await.is_ok());
}

#[tokio::test(start_paused = true)]
async fn a_discarded_value_is_not_retired_and_the_key_opens_afresh() {
    let (pool, fake) = pool(Fake::default(), 2, 1000, 100);
    let lease = pool.lease(&key("a")).await.unwrap();
    let other = lease.share();
    pool.discard(&lease);
    fake.alive.lock().unwrap().remove("a");
    let fresh = pool.lease(&key("a")).await.unwrap();
    assert_ne!(fresh.generation, lease.generation);
    drop((lease, other));
    settle().await;
    assert_eq!(fake.retires.load(Ordering::SeqCst), 0);
    assert_eq!(pool.summary().leases, 1);
}

/// Regression: admin close and delete marked the workspace closing and then waited; a
/// client that went away mid-drain left it closed (404) until the server restarted.
#[tokio::test(start_paused = true)]
async fn an_admin_close_abandoned_mid_drain_reopens_the_workspace() {
    let (pool, _) = pool(Fake::default(), 2, 1000, 100);
    let held = pool.lease(&key("a")).await.unwrap();
    let abandoned = tokio::time::timeout(
        Duration::from_millis(50),
        pool.close(&key("a"), Duration::from_secs(30)),
    )
    .await;
    assert!(abandoned.is_err());
    drop(held);
    settle().await;
    assert!(pool.lease(&key("a")).await.is_ok(), "the key is open again");
}

#[tokio::test(start_paused = true)]
async fn close_waits_for_leases_retires_and_refuses_until_released() {
    let (pool, fake) = pool(Fake::default(), 2, 1000, 100);
    let held = pool.lease(&key("a")).await.unwrap();
    let drained = held.drain_requested();
    let closing = {
        let pool = pool.clone();
        tokio::spawn(async move { pool.close(&key("a"), Duration::from_secs(5)).await })
    };
    settle().await;
    assert!(drained.is_cancelled());
    assert!(matches!(
        pool.lease(&key("a")).await,
        Err(PoolError::Closed)
    ));
    drop(held);
    let guard = closing.await.unwrap().expect("closed");
    assert_eq!(fake.retires.load(Ordering::SeqCst), 1);
    assert!(matches!(
        pool.lease(&key("a")).await,
        Err(PoolError::Closed)
    ));
    drop(guard);
    assert!(pool.lease(&key("a")).await.is_ok());
}

#[tokio::test(start_paused = true)]
async fn recycling_retires_after_the_leases_and_new_leases_wait_for_a_fresh_value() {
    let (pool, fake) = pool(Fake::default(), 2, 1000, 100);
    let held = pool.lease(&key("a")).await.unwrap();
    let recycling = {
        let pool = pool.clone();
        tokio::spawn(async move { pool.recycle(&key("a"), Duration::from_secs(5)).await })
    };
    settle().await;
    assert!(held.drain_requested().is_cancelled());
    // A lease asked for meanwhile waits (no refusal) and gets the fresh value.
    let waiting = {
        let pool = pool.clone();
        tokio::spawn(async move { pool.lease(&key("a")).await.map(|l| l.generation) })
    };
    settle().await;
    assert!(!waiting.is_finished());
    let old = held.generation;
    drop(held);
    recycling.await.unwrap().unwrap();
    assert_ne!(waiting.await.unwrap().unwrap(), old);
    assert_eq!(fake.retires.load(Ordering::SeqCst), 1);
}

#[tokio::test(start_paused = true)]
async fn shutdown_retires_every_slot_even_one_still_opening() {
    let (pool, fake) = pool(
        Fake {
            open_delay: Duration::from_millis(100),
            retire_delay: Duration::from_millis(10),
            ..Fake::default()
        },
        4,
        1000,
        100,
    );
    drop(pool.lease(&key("a")).await.unwrap());
    let held = pool.lease(&key("b")).await.unwrap();
    // An open in flight when shutdown starts.
    let opening = {
        let pool = pool.clone();
        tokio::spawn(async move { pool.lease(&key("c")).await.map(drop) })
    };
    settle().await;
    let stopping = {
        let pool = pool.clone();
        tokio::spawn(async move { pool.shutdown(Instant::now() + Duration::from_secs(5)).await })
    };
    settle().await;
    assert!(matches!(
        pool.lease(&key("d")).await,
        Err(PoolError::ShuttingDown)
    ));
    assert!(held.drain_requested().is_cancelled());
    drop(held);
    stopping.await.unwrap();
    let _ = opening.await.unwrap();
    assert_eq!(fake.retires.load(Ordering::SeqCst), 3);
    assert!(fake.alive.lock().unwrap().is_empty());
    assert_eq!(
        pool.summary(),
        Summary {
            capacity: 4,
            ..Summary::default()
        }
    );
}

/// A small deterministic generator, so failures reproduce from the seed.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }
}

/// Random clients lease random keys for random times, some give up half-way, an
/// admin closes keys; after every step the pool's state is checked against the
/// invariants, and at the end every lease is back and every value retired.
#[tokio::test(start_paused = true)]
async fn random_clients_keep_the_invariants() {
    for seed in 1..=12u64 {
        let (pool, fake) = pool(
            Fake {
                open_delay: Duration::from_millis(3),
                retire_delay: Duration::from_millis(2),
                ..Fake::default()
            },
            3,
            400,
            20,
        );
        let mut rng = Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15));
        let served = Arc::new(AtomicUsize::new(0));
        let mut clients = tokio::task::JoinSet::new();
        for client in 0..24u64 {
            let name = key(&format!("k{}", rng.below(7)));
            let hold = Duration::from_millis(rng.below(40));
            let give_up = rng.below(5) == 0;
            let close = rng.below(12) == 0;
            let start = Duration::from_millis(rng.below(200));
            let (pool, served) = (pool.clone(), served.clone());
            clients.spawn(async move {
                tokio::time::sleep(start).await;
                if close {
                    let _ = pool.close(&name, Duration::from_millis(100)).await;
                    return;
                }
                let lease = pool.lease(&name);
                let lease = if give_up {
                    match tokio::time::timeout(Duration::from_millis(2), lease).await {
                        Ok(lease) => lease,
                        Err(_) => return,
                    }
                } else {
                    lease.await
                };
                if let Ok(lease) = lease {
                    assert_eq!(lease.key, name, "client {client} got another key's value");
                    served.fetch_add(1, Ordering::SeqCst);
                    tokio::time::sleep(hold).await;
                }
            });
        }
        while !clients.is_empty() {
            tokio::select! {
                joined = clients.join_next() => { joined.unwrap().unwrap(); }
                () = tokio::time::sleep(Duration::from_millis(1)) => {}
            }
            let summary = pool.summary();
            assert!(summary.loaded <= 3, "seed {seed}: {summary:?}");
            assert!(summary.leases >= summary.leased);
        }
        settle().await;
        assert_eq!(pool.summary().leases, 0, "seed {seed}: a lease was leaked");
        assert_eq!(
            pool.summary().waiting,
            0,
            "seed {seed}: a ticket was leaked"
        );
        assert!(served.load(Ordering::SeqCst) > 0);
        pool.shutdown(Instant::now() + Duration::from_secs(5)).await;
        assert!(fake.alive.lock().unwrap().is_empty(), "seed {seed}");
        assert_eq!(
            fake.opens.load(Ordering::SeqCst),
            fake.retires.load(Ordering::SeqCst),
            "seed {seed}: every opened value was retired exactly once"
        );
    }
}
