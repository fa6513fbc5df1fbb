//! Taking slots back on purpose: closing a key, recycling its value, shutting the
//! pool down.

use super::types::{Key, Lifecycle, PoolError, Retirement, Value};
use super::{Closed, Pool};
use std::time::Duration;
use tokio::time::Instant;

impl<K, V, L> Pool<K, V, L>
where
    K: Key,
    V: Value,
    L: Lifecycle<K, V>,
{
    /// Closes `key`: leases are refused (with [`PoolError::Closed`]) until the returned
    /// guard is dropped. Holders are asked to drain, and once the last lease ends the
    /// value is retired; waits at most `wait` for that, else gives up with `Full` and
    /// reopens the key. Dropping the future half-way reopens it too.
    pub async fn close(
        &self,
        key: &K,
        wait: Duration,
    ) -> Result<Closed<K, V, L>, PoolError<L::Error>> {
        let guard = {
            let mut maps = self.maps();
            if maps.shutting_down {
                return Err(PoolError::ShuttingDown);
            }
            if !maps.closed.insert(key.clone()) {
                return Err(PoolError::Closed);
            }
            Closed {
                key: key.clone(),
                pool: self.clone(),
            }
        };
        let deadline = Instant::now() + wait;
        loop {
            let changed = self.inner.changed.notified();
            tokio::pin!(changed);
            changed.as_mut().enable();
            {
                let mut maps = self.maps();
                if let Some(slot) = maps.live.peek(key).cloned() {
                    let idle = {
                        let mut meta = slot.meta();
                        meta.draining.get_or_insert(Retirement::Closed);
                        meta.leases == 0
                    };
                    slot.drain.cancel();
                    if idle {
                        self.start_retiring(&mut maps, key, Retirement::Closed);
                    }
                } else if !maps.retiring.contains_key(key) {
                    return Ok(guard);
                }
            }
            if tokio::time::timeout_at(deadline, changed).await.is_err() {
                return Err(PoolError::Full);
            }
        }
    }

    /// Retires `key`'s value once its current leases end, so that the next lease opens
    /// a fresh one (new settings, say). Unlike [`Pool::close`], leases asked for
    /// meanwhile are not refused: they wait for the fresh value. Returns once the old
    /// value is retired, or `Full` after `wait` (it is retired when its leases end).
    pub async fn recycle(&self, key: &K, wait: Duration) -> Result<(), PoolError<L::Error>> {
        let deadline = Instant::now() + wait;
        loop {
            let changed = self.inner.changed.notified();
            tokio::pin!(changed);
            changed.as_mut().enable();
            {
                let mut maps = self.maps();
                match maps.live.peek(key).cloned() {
                    Some(slot) => {
                        let idle = {
                            let mut meta = slot.meta();
                            meta.draining.get_or_insert(Retirement::Closed);
                            meta.leases == 0
                        };
                        slot.drain.cancel();
                        if idle {
                            self.start_retiring(&mut maps, key, Retirement::Closed);
                        }
                    }
                    None if !maps.retiring.contains_key(key) => return Ok(()),
                    None => {}
                }
            }
            if tokio::time::timeout_at(deadline, changed).await.is_err() {
                return Err(PoolError::Full);
            }
        }
    }

    /// Stops the pool: every lease from now on is refused, every slot drains and is
    /// retired once its leases end. Returns when all are retired, or at `deadline`
    /// (slots still leased then are left to their holders).
    pub async fn shutdown(&self, deadline: Instant) {
        loop {
            let changed = self.inner.changed.notified();
            tokio::pin!(changed);
            changed.as_mut().enable();
            {
                let mut maps = self.maps();
                maps.shutting_down = true;
                let keys: Vec<K> = maps.live.iter().map(|(k, _)| k.clone()).collect();
                for key in keys {
                    let slot = maps.live.peek(&key).cloned();
                    if let Some(slot) = slot {
                        let idle = {
                            let mut meta = slot.meta();
                            meta.draining = Some(Retirement::Shutdown);
                            meta.leases == 0
                        };
                        slot.drain.cancel();
                        if idle {
                            self.start_retiring(&mut maps, &key, Retirement::Shutdown);
                        }
                    }
                }
                if maps.live.is_empty() && maps.retiring.is_empty() {
                    return;
                }
            }
            if tokio::time::timeout_at(deadline, changed).await.is_err() {
                let maps = self.maps();
                let stuck: Vec<String> = maps
                    .live
                    .iter()
                    .map(|(k, _)| k.to_string())
                    .chain(maps.retiring.keys().map(|k| k.to_string()))
                    .collect();
                tracing::warn!("shutdown deadline reached with {stuck:?} not retired");
                return;
            }
        }
    }
}
