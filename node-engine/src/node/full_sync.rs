//! A master's full sync, as Redis does it: the snapshot is written by a
//! forked child while the master goes on serving; `+FULLRESYNC` goes out when
//! the child starts, the stream from then on is held for the replica, and
//! the snapshot followed by that stream is sent once the child is done.

use super::Node;
use crate::client::{ClientId, Push};
use crate::replication::ReplicaState;

impl Node {
    /// Starts a snapshot child for replicas waiting for one, unless another
    /// child runs or `repl-diskless-sync-delay` still gathers replicas (Redis
    /// starts at once when `repl-diskless-sync-max-replicas` are waiting).
    pub fn start_full_sync_if_due(&mut self) {
        let mut waiting = 0usize;
        let mut oldest = u64::MAX;
        // A snapshot is streamed only if every replica can read one (Redis's SLAVE_CAPA_EOF).
        let mut all_eof = true;
        for r in &self.repl.replicas {
            if let ReplicaState::WaitBgsaveStart { since_ms } = r.state {
                waiting += 1;
                oldest = oldest.min(since_ms);
                all_eof &= r.capa_eof;
            }
        }
        if waiting == 0 || self.persistence.child.is_some() || self.persistence.repl_snapshot_done.is_some() {
            return;
        }
        let diskless = self.config.flag_named("repl-diskless-sync") && all_eof;
        if diskless {
            let delay_ms = self.config.int_named("repl-diskless-sync-delay", 5).max(0) as u64 * 1000;
            let max = self.config.int_named("repl-diskless-sync-max-replicas", 0).max(0) as usize;
            let enough = max > 0 && waiting >= max;
            if !enough && self.now_ms.saturating_sub(oldest) < delay_ms {
                return;
            }
        }
        if let Err(e) = crate::persistence::start_repl_snapshot(&mut self.persistence_parts(), diskless) {
            tracing::warn!("Can't start the replication snapshot: {e}");
            self.drop_syncing_replicas(|s| matches!(s, ReplicaState::WaitBgsaveStart { .. }));
            return;
        }
        // The snapshot holds everything up to here: the replicas start at this offset.
        let header = format!("+FULLRESYNC {} {}\r\n", self.repl.replid, self.repl.offset);
        let mut starting = Vec::new();
        for r in &mut self.repl.replicas {
            if matches!(r.state, ReplicaState::WaitBgsaveStart { .. }) {
                r.state = ReplicaState::WaitBgsaveEnd;
                starting.push((r.client_id, r.legacy));
            }
        }
        for (id, legacy) in starting {
            if !legacy {
                self.push_to(id, Push::Bulk(header.clone().into_bytes()));
            }
        }
        // The stream after the snapshot must say which db it writes to.
        self.propagation.db = None;
        self.repl.held_from = Some(self.repl.offset + 1);
    }

    /// Every replication cron: sends a finished snapshot, starts a due one,
    /// and keeps the links of waiting replicas alive with a newline a second
    /// (replicas read it as a ping).
    pub fn full_sync_cron(&mut self) {
        self.send_finished_snapshot();
        self.start_full_sync_if_due();
        let second = self.now_ms / 1000;
        if second != self.repl.last_presync_ping_s {
            self.repl.last_presync_ping_s = second;
            // Not into a streamed snapshot: a newline there would corrupt it.
            let streaming = self.repl.pipe_relaying.is_some()
                || self.persistence.repl_pipe.is_some()
                || matches!(self.persistence.child.as_ref().map(|c| &c.kind), Some(crate::persistence::ChildKind::ReplSync));
            let waiting: Vec<ClientId> = self
                .repl
                .replicas
                .iter()
                .filter(|r| {
                    matches!(r.state, ReplicaState::WaitBgsaveStart { .. }) || (r.state == ReplicaState::WaitBgsaveEnd && !streaming)
                })
                .map(|r| r.client_id)
                .collect();
            for id in waiting {
                self.push_to(id, Push::Bulk(b"\n".to_vec()));
            }
        }
    }

    /// The child is done: its replicas get the snapshot and the stream held
    /// for them, and are online; if it failed they are dropped (they reconnect).
    pub(super) fn send_finished_snapshot(&mut self) {
        let Some(done) = self.persistence.repl_snapshot_done.take() else { return };
        if done.piped {
            self.finish_piped_snapshot(done);
            return;
        }
        let data = if done.ok {
            std::fs::read(&done.path).map_err(|e| tracing::warn!("cannot read the replication snapshot: {e}")).ok()
        } else {
            None
        };
        if !done.keep {
            let _ = std::fs::remove_file(&done.path);
        }
        let Some(data) = data else {
            self.drop_syncing_replicas(|s| s == ReplicaState::WaitBgsaveEnd);
            self.repl.held_from = None;
            return;
        };
        let mut payload = format!("${}\r\n", data.len()).into_bytes();
        payload.extend_from_slice(&data);
        drop(data);
        // A sized payload: the replica knows where it ends, the stream may follow at once.
        for (id, _) in self.snapshot_delivered() {
            self.push_to(id, Push::Bulk(payload.clone()));
            self.start_stream(id);
        }
    }

    /// A diskless snapshot's child ended: once its pipe is drained, its
    /// replicas have the whole payload and get the stream kept for them at
    /// their first ACK; if the child failed they are dropped (they reconnect).
    fn finish_piped_snapshot(&mut self, done: crate::persistence::ReplSnapshot) {
        if done.ok && (self.repl.pipe_relaying.is_some() || self.persistence.repl_pipe.is_some()) {
            self.persistence.repl_snapshot_done = Some(done);
            return;
        }
        if !done.ok {
            self.repl.held_from = None;
            self.drop_syncing_replicas(|s| s == ReplicaState::WaitBgsaveEnd);
            return;
        }
        for (id, acked) in self.snapshot_delivered() {
            tracing::info!(
                "Streamed RDB transfer with replica {} succeeded (socket). Waiting for REPLCONF ACK from replica to enable streaming",
                self.replica_name(id)
            );
            if acked {
                self.start_stream(id);
            }
        }
    }

    /// The replicas that waited for the finished snapshot are online; each
    /// keeps a claim on the backlog from the snapshot's offset until its
    /// stream starts. Returns them, with whether each already acknowledged.
    fn snapshot_delivered(&mut self) -> Vec<(ClientId, bool)> {
        let from = self.repl.held_from.take().unwrap_or(self.repl.offset + 1);
        let now = self.now_ms;
        let mut delivered = Vec::new();
        for r in self.repl.replicas.iter_mut().filter(|r| r.state == ReplicaState::WaitBgsaveEnd) {
            r.state = ReplicaState::Online;
            r.ack_time_ms = now;
            r.stream_on_ack = Some(from);
            delivered.push((r.client_id, r.acked_during_sync));
        }
        delivered
    }

    fn replica_name(&self, id: ClientId) -> String {
        self.repl.replicas.iter().find(|r| r.client_id == id).map(|r| format!("{}:{}", r.ip, r.listening_port)).unwrap_or_default()
    }

    /// A replica acknowledged: after a streamed snapshot, its first ACK
    /// says it is loaded, and the stream kept for it goes out.
    pub fn replica_acked(&mut self, id: ClientId, offset: u64) {
        let now = self.now_ms;
        let Some(r) = self.repl.replicas.iter_mut().find(|r| r.client_id == id) else { return };
        r.ack_offset = r.ack_offset.max(offset);
        r.ack_time_ms = now;
        if r.state == ReplicaState::WaitBgsaveEnd {
            // It could only ack after loading all of it: the end is near here too.
            r.acked_during_sync = true;
        }
        self.start_stream(id);
    }

    /// Sends a replica the stream kept for it since its snapshot, if any:
    /// from then on it gets the stream as it is produced.
    fn start_stream(&mut self, id: ClientId) {
        let Some(from) = self.repl.replicas.iter_mut().find(|r| r.client_id == id).and_then(|r| r.stream_on_ack.take()) else { return };
        let stream = self.repl.stream_since(from);
        // Now a copy is queued for it: the backlog need not keep it too.
        self.repl.release_unneeded();
        if !stream.is_empty() {
            self.push_to(id, Push::Bytes(stream));
        }
        tracing::info!("Synchronization with replica {} succeeded", self.replica_name(id));
    }

    /// A snapshot child no replica waits for any more is stopped (Redis kills
    /// an RDB child whose dump is not useful): always one writing a temp file
    /// for replicas, a BGSAVE of the dump file only without save points.
    pub fn kill_useless_snapshot(&mut self) {
        let waited = self.repl.replicas.iter().any(|r| r.state == ReplicaState::WaitBgsaveEnd);
        let useless = match self.persistence.child.as_ref().map(|c| &c.kind) {
            Some(crate::persistence::ChildKind::ReplSync) => true,
            Some(crate::persistence::ChildKind::Rdb) => self.persistence.rdb_for_replicas && self.config.save_points().is_empty(),
            _ => false,
        };
        if waited || !useless {
            return;
        }
        if matches!(self.persistence.child.as_ref().map(|c| &c.kind), Some(crate::persistence::ChildKind::ReplSync)) {
            tracing::warn!("Diskless rdb transfer, last replica dropped, killing fork child.");
        } else {
            tracing::warn!("Killing the snapshot child: no replica waits for it any more");
        }
        let mut parts = self.persistence_parts();
        crate::persistence::kill_child(&mut parts);
        parts.persistence.repl_snapshot_done = None;
        self.repl.held_from = None;
    }

    /// Disconnects the replicas in a sync state `which` selects.
    fn drop_syncing_replicas(&mut self, which: impl Fn(ReplicaState) -> bool) {
        let mut gone = Vec::new();
        self.repl.replicas.retain(|r| {
            let drop = which(r.state);
            if drop {
                gone.push(r.client_id);
            }
            !drop
        });
        for id in gone {
            self.push_to(id, Push::Kill);
        }
    }

    /// What replicas have not taken yet: each one's queued stream, and the
    /// backlog kept beyond its size for replicas that still need it.
    fn replica_output_bytes(&self) -> usize {
        let queued: usize = self
            .repl
            .replicas
            .iter()
            .filter_map(|r| self.clients.map.get(&r.client_id))
            // The reply buffer too: for a replica it only carries the stream.
            .map(|c| c.out_pending.get() + c.mem.unsent_alloc.get() + c.mem.rbs.get())
            .sum();
        queued + self.backlog_beyond_size()
    }

    /// The part of the backlog only kept because replicas still need it
    /// (Redis counts the shared buffer past `repl-backlog-size` as theirs).
    fn backlog_beyond_size(&self) -> usize {
        let b = &self.repl.backlog;
        if b.len() <= b.capacity() {
            return 0;
        }
        b.allocated().saturating_sub(b.capacity())
    }

    /// Memory eviction leaves out (Redis's freeMemoryGetNotCountedMemory):
    /// replicas' pending output and the AOF buffer, so a slow replica does
    /// not make the node evict its data. (The backlog, capped at
    /// `repl-backlog-size`, is counted.)
    pub fn not_counted_for_evict(&self) -> u64 {
        let aof = self.persistence.aof.as_ref().map_or(0, |a| a.buffered_len());
        (self.replica_output_bytes() + aof) as u64
    }

    /// The memory of the replicas' connections (INFO's mem_clients_slaves).
    pub fn replica_clients_memory(&self) -> usize {
        self.repl
            .replicas
            .iter()
            .filter_map(|r| self.clients.map.get(&r.client_id))
            .map(|c| {
                crate::client::CLIENT_BASE_MEM + c.out_pending.get() + c.mem.unsent_alloc.get() + c.mem.rbs.get() + c.mem.qbuf_cap.get()
            })
            .sum::<usize>()
            + self.backlog_beyond_size()
    }

    /// Bytes held for replicas: the backlog (with what waiting replicas
    /// still need), or the largest stream a replica has queued for its
    /// socket, whichever is larger — as Redis's shared replication buffer.
    pub fn replication_buffer_bytes(&self) -> usize {
        let behind = self
            .repl
            .replicas
            .iter()
            .map(|r| self.clients.map.get(&r.client_id).map_or(0, |c| c.out_pending.get() + c.mem.unsent.get()))
            .max()
            .unwrap_or(0);
        behind.max(if self.repl.backlog_active { self.repl.backlog.len() } else { 0 })
    }
}
