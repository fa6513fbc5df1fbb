//! Taking slots back on purpose: closing a key, recycling its value, shutting the
//! pool down.

use super::slot::Maps;
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
        self.drain(key, Retirement::Closed, Instant::now() + wait)
            .await?;
        Ok(guard)
    }

    /// Retires `key`'s value once its current leases end, so that the next lease opens
    /// a fresh one (new settings, say). Unlike [`Pool::close`], leases asked for
    /// meanwhile are not refused: they wait for the fresh value. Returns once the old
    /// value is retired, or `Full` after `wait` (it is retired when its leases end).
    pub async fn recycle(&self, key: &K, wait: Duration) -> Result<(), PoolError<L::Error>> {
        self.drain(key, Retirement::Closed, Instant::now() + wait)
            .await
    }

    /// Asks `key`'s slot to drain (`why` says why it goes) and waits until it is
    /// retired — at once if nobody leases it, else when its last lease ends — or gives
    /// up with `Full` at `deadline`, leaving it to retire when its leases end.
    async fn drain(
        &self,
        key: &K,
        why: Retirement,
        deadline: Instant,
    ) -> Result<(), PoolError<L::Error>> {
        loop {
            let changed = self.inner.changed.notified();
            tokio::pin!(changed);
            changed.as_mut().enable();
            {
                let mut maps = self.maps();
                if !self.ask_to_drain(&mut maps, key, why) && !maps.retiring.contains_key(key) {
                    return Ok(());
                }
            }
            if tokio::time::timeout_at(deadline, changed).await.is_err() {
                return Err(PoolError::Full);
            }
        }
    }

    /// Marks `key`'s live slot draining and tells its holders; retires it now if it is
    /// idle. False if the key has no live slot.
    fn ask_to_drain(&self, maps: &mut Maps<K, V, L::Error>, key: &K, why: Retirement) -> bool {
        let Some(slot) = maps.live.peek(key).cloned() else {
            return false;
        };
        let idle = {
            let mut meta = slot.meta();
            meta.draining.get_or_insert(why);
            meta.leases == 0
        };
        slot.drain.cancel();
        if idle {
            self.start_retiring(maps, key, why);
        }
        true
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
                    self.ask_to_drain(&mut maps, &key, Retirement::Shutdown);
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
