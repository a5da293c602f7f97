//! Lazy freeing: big values removed by UNLINK (or DEL/expiry/eviction with
//! the `lazyfree-lazy-*` options) and whole databases dropped by FLUSHALL or
//! FLUSHDB ASYNC are dropped on a background thread, so freeing millions of
//! allocations does not stall the request path. Counts are Redis's INFO
//! fields `lazyfree_pending_objects` and `lazyfreed_objects`.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{channel, Sender};
use std::sync::Arc;

/// Below this effort (elements to free) a value is freed in place, as in Redis.
pub const THRESHOLD: usize = 64;

type Garbage = (Box<dyn Send>, u64);

#[derive(Debug, Default)]
pub struct LazyFree {
    tx: Option<Sender<Garbage>>,
    counts: Arc<Counts>,
}

#[derive(Debug, Default)]
struct Counts {
    pending: AtomicU64,
    freed: AtomicU64,
}

impl LazyFree {
    /// Empties `dbs`, their keys dropped on the background thread.
    pub fn free_dbs(&mut self, dbs: &mut [super::Db]) {
        for db in dbs {
            let (garbage, n) = db.take_all();
            self.free(garbage, n);
        }
    }

    /// Drops `garbage` (counted as `objects` objects) on the background
    /// thread, started on first use; frees in place if it cannot start.
    pub fn free(&mut self, garbage: Box<dyn Send>, objects: u64) {
        if self.tx.is_none() {
            let (tx, rx) = channel::<Garbage>();
            let counts = self.counts.clone();
            let spawned = std::thread::Builder::new().name("lazyfree".into()).spawn(move || {
                for (g, n) in rx {
                    drop(g);
                    counts.pending.fetch_sub(n, Ordering::Relaxed);
                    counts.freed.fetch_add(n, Ordering::Relaxed);
                }
            });
            if spawned.is_err() {
                self.counts.freed.fetch_add(objects, Ordering::Relaxed);
                return;
            }
            self.tx = Some(tx);
        }
        self.counts.pending.fetch_add(objects, Ordering::Relaxed);
        if let Some(tx) = &self.tx {
            if let Err(e) = tx.send((garbage, objects)) {
                // The thread is gone: free here.
                drop(e);
                self.counts.pending.fetch_sub(objects, Ordering::Relaxed);
                self.counts.freed.fetch_add(objects, Ordering::Relaxed);
            }
        }
    }

    pub fn pending(&self) -> u64 {
        self.counts.pending.load(Ordering::Relaxed)
    }

    pub fn freed(&self) -> u64 {
        self.counts.freed.load(Ordering::Relaxed)
    }

    /// CONFIG RESETSTAT.
    pub fn reset_stats(&self) {
        self.counts.freed.store(0, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn garbage_is_freed_in_the_background_and_counted() {
        let mut lf = LazyFree::default();
        lf.free(Box::new(vec![0u8; 1 << 20]), 3);
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        while lf.freed() < 3 {
            assert!(std::time::Instant::now() < deadline, "background free did not happen");
            std::thread::yield_now();
        }
        assert_eq!(lf.pending(), 0);
    }
}
