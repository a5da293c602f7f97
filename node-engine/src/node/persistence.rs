//! The node's side of persistence: its parts lent to the RDB/AOF code, and
//! the AOF write that a connection waits for before it replies.

use super::{Node, Shared};
use crate::persistence::aof::{write_out, FsyncPolicy};
use crate::persistence::Parts;

impl Node {
    /// Starts or ends a dataset load (start-up, or a replica's full sync):
    /// LOADING for clients (or async loading, the old data served), INFO's
    /// progress from `total` bytes (0: unknown), and tables growing freely
    /// meanwhile, as nothing is evicted.
    pub fn set_loading(&mut self, on: bool, async_load: bool, total: u64) {
        self.persistence.loading = on;
        self.persistence.async_loading = on && async_load;
        self.persistence.load_progress = on.then(|| crate::persistence::LoadProgress {
            start_unix: crate::util::time::unix_ms() / 1000,
            started: std::time::Instant::now(),
            total_bytes: total,
            loaded_bytes: 0,
        });
        self.update_growth_limit(0);
    }

    /// The parts persistence works on, borrowed together.
    pub fn persistence_parts(&mut self) -> Parts<'_> {
        let repl_info = self.repl_save_info();
        Parts {
            persistence: &mut self.persistence,
            config: &self.config,
            keyspace: &mut self.keyspace,
            propagation: &mut self.propagation,
            now_ms: &mut self.now_ms,
            repl_info,
        }
    }

    /// The replication position a save records (Redis's rdbPopulateSaveInfo):
    /// a master's once its stream is kept for replicas, a replica's always.
    fn repl_save_info(&self) -> Option<crate::persistence::rdb::ReplAux> {
        let stream_db = if self.is_replica() {
            self.repl.master_db
        } else if self.repl.backlog_active {
            // No SELECT in the stream yet: the next write sends one anyway.
            self.propagation.db.unwrap_or(0)
        } else {
            return None;
        };
        Some(crate::persistence::rdb::ReplAux { stream_db: stream_db as i64, replid: self.repl.replid.clone(), offset: self.repl.offset })
    }

    /// Hands executed writes to the AOF and writes it now (fsync under
    /// `always`): used where no reply waits (blocked clients woken up).
    pub fn write_aof_now(&mut self) {
        self.flush_propagated();
        if let Some(aof) = self.persistence.aof.as_mut() {
            write_out(aof);
        }
    }
}

/// Called by a connection after its batch, before it replies: lets the other
/// clients ready right now run their batches too, then writes the AOF buffer
/// once for all of them (and fsyncs it under `appendfsync always`), as Redis
/// does once per event-loop iteration. A reply therefore never precedes the
/// write of the command it acknowledges.
pub async fn wait_durable(shared: &Shared) {
    // Everything fed so far, this client's commands included, ends at `target`.
    let target = {
        let node = shared.node.borrow();
        match node.persistence.aof.as_ref().and_then(|a| a.pending_end()) {
            Some(end) => end,
            None => return,
        }
    };
    tokio::task::yield_now().await;
    let mut node = shared.node.borrow_mut();
    if let Some(aof) = node.persistence.aof.as_mut() {
        // Another client of this round may already have written (and synced) our part.
        let done = aof.sync.written.get() >= target && (aof.policy != FsyncPolicy::Always || aof.sync.synced.get() >= target);
        if !done {
            write_out(aof);
        }
    }
}
