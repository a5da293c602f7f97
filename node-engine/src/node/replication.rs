//! The node's side of replication: the stream fed from executed writes to
//! the AOF, the backlog and replica connections; the master it follows; the
//! replica link task. The state itself is [`crate::replication::ReplState`].

use super::{Node, SharedRef};
use crate::client::{ClientId, Push};
use crate::replication::ReplicaState;

/// How the replica link applies one command of its master's stream: given by
/// the layer that executes commands, so the node never calls up into it.
pub type Execute = fn(&mut Node, &mut crate::client::Client, &[&[u8]]);

impl Node {
    /// Turns the commands executed since the last call into stream bytes:
    /// the AOF, the backlog and offset, pending bytes for replicas.
    pub fn feed_stream(&mut self) {
        if self.propagation.buf.is_empty() {
            return;
        }
        let bytes = std::mem::take(&mut self.propagation.buf);
        crate::persistence::aof::feed_aof(&mut self.persistence, &bytes);
        // A replica's stream is its master's bytes, appended as they are applied.
        if self.repl.master.is_none() && self.repl.backlog_active {
            self.repl.append_stream(&bytes);
        }
        // Hand the allocation back for the next command.
        let mut bytes = bytes;
        bytes.clear();
        if self.propagation.buf.is_empty() {
            self.propagation.buf = bytes;
        }
    }

    /// Pushes pending stream bytes to every replica connection (end of each batch).
    pub fn flush_to_replicas(&mut self) {
        if self.repl.pending.is_empty() {
            return;
        }
        let bytes = std::mem::take(&mut self.repl.pending);
        let mut ids: Vec<ClientId> = Vec::with_capacity(self.repl.replicas.len());
        let mut waiting = false;
        for r in &self.repl.replicas {
            match r.state {
                // The backlog keeps the stream for one waiting for its first ACK.
                ReplicaState::Online if r.stream_on_ack.is_some() => waiting = true,
                ReplicaState::Online => ids.push(r.client_id),
                // Kept in the backlog until the snapshot is sent; what came before its fork is in it.
                ReplicaState::WaitBgsaveEnd => waiting = true,
                ReplicaState::WaitBgsaveStart { .. } => {}
            }
        }
        for id in ids {
            self.push_to(id, Push::Bytes(bytes.clone()));
        }
        if waiting {
            self.drop_replicas_over_limit();
        }
    }

    /// A replica waiting for its snapshot (or its first ACK) owes the stream
    /// since its start: over `client-output-buffer-limit replica` it is
    /// dropped, as Redis counts the shared buffer it holds, and the backlog
    /// can shrink again.
    fn drop_replicas_over_limit(&mut self) {
        let end = self.repl.offset;
        let mut over = Vec::new();
        for r in &self.repl.replicas {
            let from = match (r.state, r.stream_on_ack) {
                (ReplicaState::WaitBgsaveEnd, _) => self.repl.held_from,
                (_, Some(from)) => Some(from),
                _ => None,
            };
            let Some(from) = from else { continue };
            let owed = (end + 1).saturating_sub(from) as usize;
            if self.clients.map.get(&r.client_id).is_some_and(|c| self.over_output_limits(c, owed)) {
                over.push(r.client_id);
            }
        }
        if over.is_empty() {
            return;
        }
        self.repl.replicas.retain(|r| !over.contains(&r.client_id));
        for id in over {
            self.push_to(id, Push::Kill);
        }
        self.repl.release_unneeded();
    }

    /// Points replication at a new master (or none: promoted); the link task follows.
    pub fn set_master(&mut self, master: Option<(String, u16)>) {
        if self.repl.master == master {
            return;
        }
        let becoming_master = master.is_none() && self.repl.master.is_some();
        self.repl.master = master;
        self.repl.generation += 1;
        self.repl.link_up = false;
        let expire = self.repl.master.is_none();
        for db in &mut self.keyspace.dbs {
            db.expire_enabled = expire;
        }
        // Our replicas stay: they may continue with us if the new master
        // continues our history; a full sync drops them when it loads.
        if becoming_master {
            // Our own history is whole again: a later master may continue it.
            self.repl.psync_blocked = false;
            self.repl.shift_replid();
            // Our replicas learn the new id by reconnecting (a quick partial
            // resync), as Redis's replicationUnsetMaster does.
            self.disconnect_replicas();
            self.propagation.db = None;
        }
        if let Err(e) = self.apply_oom_score(&self.config) {
            tracing::warn!("{e}");
        }
    }

    /// Every 100 ms: follow the cluster role, start the link task when needed.
    pub fn replication_cron(&mut self, shared: &SharedRef, execute: Execute) {
        if let Some(c) = self.cluster.as_ref() {
            let want = c.myself_node().master_id.as_ref().and_then(|m| c.nodes.get(m)).map(|n| (n.ip.clone(), n.port));
            if want.is_some() && want != self.repl.master {
                self.set_master(want);
            } else if want.is_none() && self.repl.master.is_some() {
                self.set_master(None);
            }
        }
        if self.repl.master.is_some() && self.repl.link_generation != self.repl.generation {
            self.repl.link_generation = self.repl.generation;
            tokio::task::spawn_local(super::replica_link::run_link(shared.clone(), self.repl.generation, execute));
        }
        // Replicas that went away are forgotten.
        let clients = &self.clients.map;
        self.repl.replicas.retain(|r| clients.contains_key(&r.client_id));
        self.free_idle_backlog();
        self.kill_useless_snapshot();
        self.repl.release_unneeded();
        if let Some((fd, pid)) = self.persistence.repl_pipe.take() {
            self.repl.pipe_relaying = Some(pid);
            tokio::task::spawn_local(super::rdb_pipe::relay(shared.clone(), fd, pid));
        }
        self.full_sync_cron();
        self.update_failover_status();
        self.ping_replicas();
    }

    /// Every `repl-ping-replica-period` seconds a master puts a PING in the
    /// stream (replicas only, not the AOF), as Redis does: an idle replica
    /// still hears from its master (master_last_io_seconds_ago stays low),
    /// and offsets move alike on both sides. Not while clients are paused
    /// (a failover in progress must see the offsets hold still).
    /// The period counts from when the first replica attached, so a new
    /// replica (or the suite's SYNC stream reader) gets no PING before it.
    fn ping_replicas(&mut self) {
        if self.repl.master.is_some() || self.repl.replicas.is_empty() || !self.repl.backlog_active {
            self.repl.last_ping_ms = 0;
            return;
        }
        if self.repl.last_ping_ms == 0 {
            self.repl.last_ping_ms = self.now_ms;
            return;
        }
        let period_ms = self.config.int_named("repl-ping-replica-period", 10).max(1) as u64 * 1000;
        if self.now_ms.saturating_sub(self.repl.last_ping_ms) < period_ms || self.writes_paused() {
            return;
        }
        self.repl.last_ping_ms = self.now_ms;
        // A SELECT is not needed: PING runs in any database.
        self.repl.append_stream(b"*1\r\n$4\r\nPING\r\n");
        self.flush_to_replicas();
    }

    /// Whether writes are held (CLIENT PAUSE, or a FAILOVER waiting for its
    /// replica): nothing then expires or is evicted, and no PING goes to
    /// replicas, so the replication offset holds still.
    pub fn writes_paused(&mut self) -> bool {
        self.client_pause().is_some() || self.repl.failover.is_some() || self.shutdown_initiated()
    }

    /// FAILOVER: writes pause until a replica has caught up.
    pub fn start_failover(&mut self, failover: crate::replication::Failover) {
        match &failover.target {
            Some((host, port)) => tracing::info!("FAILOVER requested to {host}:{port}."),
            None => tracing::info!("FAILOVER requested to any replica."),
        }
        self.repl.failover = Some(failover);
        for db in &mut self.keyspace.dbs {
            db.expire_enabled = false;
        }
    }

    /// The replica at this address (its listening port), as FAILOVER TO names it.
    pub fn find_replica(&self, host: &str, port: u16) -> Option<&crate::replication::ReplicaInfo> {
        self.repl.replicas.iter().find(|r| r.ip == host && r.listening_port == port)
    }

    /// Ends a failover, done or not: paused writes run again.
    pub fn clear_failover(&mut self) {
        if self.repl.failover.take().is_none() {
            return;
        }
        let expire = !self.is_replica() && self.clients.pause.is_none();
        for db in &mut self.keyspace.dbs {
            db.expire_enabled = expire;
        }
        for id in std::mem::take(&mut self.clients.paused) {
            self.push_to(id, Push::Wake);
        }
    }

    /// Gives a failover up, logged as Redis does; if we were already
    /// following the target, we are a master again.
    pub fn abort_failover(&mut self, why: &str) {
        let Some(f) = self.repl.failover.as_ref() else { return };
        match &f.target {
            Some((host, port)) => tracing::info!("FAILOVER to {host}:{port} aborted: {why}"),
            None => tracing::info!("FAILOVER to any replica aborted: {why}"),
        }
        if f.in_progress {
            self.set_master(None);
        }
        self.clear_failover();
    }

    /// The failover's wait (Redis's updateFailoverStatus): past the timeout it
    /// forces or gives up; once the target (or any replica) has acknowledged
    /// our whole stream we follow it, and the link's PSYNC FAILOVER asks it to take over.
    fn update_failover_status(&mut self) {
        let Some(f) = self.repl.failover.clone() else { return };
        if f.in_progress {
            return;
        }
        if f.end_ms != 0 && f.end_ms <= self.now_ms {
            if f.force {
                if let Some((host, port)) = f.target {
                    tracing::info!("FAILOVER to {host}:{port} time out exceeded, failing over.");
                    self.follow_failover_target(host, port);
                }
            } else {
                self.abort_failover("Replica never caught up before timeout");
            }
            return;
        }
        let offset = self.repl.offset;
        let caught_up = match &f.target {
            Some((host, port)) => self.find_replica(host, *port).filter(|r| r.ack_offset == offset),
            None => self.repl.replicas.iter().find(|r| r.ack_offset == offset),
        };
        if let Some(r) = caught_up {
            let (host, port) = (r.ip.clone(), r.listening_port);
            tracing::info!("Failover target {host}:{port} is synced, failing over.");
            self.follow_failover_target(host, port);
        }
    }

    fn follow_failover_target(&mut self, host: String, port: u16) {
        if let Some(f) = self.repl.failover.as_mut() {
            f.in_progress = true;
            f.target = Some((host.clone(), port));
        }
        self.set_master(Some((host, port)));
    }

    /// Sets the process's OOM score for its role (`oom-score-adj`), from `config`.
    ///
    /// # Errors
    /// The score could not be read or written (Redis's reason).
    pub fn apply_oom_score(&self, config: &crate::config::NodeConfig) -> Result<(), String> {
        let values = crate::util::oom::parse_values(config.get("oom-score-adj-values").unwrap_or("0 200 800"))?;
        let class = if self.is_replica() { crate::util::oom::OomClass::Replica } else { crate::util::oom::OomClass::Master };
        crate::util::oom::apply(config.get("oom-score-adj").unwrap_or("no"), values, class)
    }

    /// A standalone node's `replicaof host port` directive: it starts as that
    /// master's replica (cluster nodes take their role from the cluster).
    pub fn follow_configured_master(&mut self) {
        if self.cluster.is_some() {
            return;
        }
        let Some(v) = self.config.get("replicaof") else { return };
        let mut parts = v.split_whitespace();
        if let (Some(host), Some(Ok(port)), None) = (parts.next(), parts.next().map(str::parse::<u16>), parts.next()) {
            self.set_master(Some((host.to_string(), port)));
        }
    }

    /// After start-up loading, takes up the replication position the RDB
    /// recorded (Redis's loadDataFromDisk): a replica continues its master's
    /// history from there; a master keeps it as its previous history, so its
    /// replicas can continue after its restart.
    pub fn restore_repl_position(&mut self) {
        let expired = std::mem::take(&mut self.persistence.loaded_expired);
        let Some(aux) = self.persistence.loaded_repl.take() else { return };
        if self.is_replica() {
            self.repl.replid = aux.replid;
            self.repl.offset = aux.offset;
            self.repl.master_db = (aux.stream_db as usize).min(self.keyspace.dbs.len().saturating_sub(1));
        } else {
            self.repl.replid2 = aux.replid;
            self.repl.second_offset = aux.offset as i64 + 1;
            self.repl.offset = aux.offset;
            self.repl.backlog = crate::replication::backlog::Backlog::new(self.repl.backlog.capacity());
            self.repl.backlog_active = true;
            // The stream goes on in the recorded db, or says which one it writes to.
            self.propagation.db = None;
            // Keys that expired while we were down are deleted on the replicas too.
            for (db, key) in &expired {
                self.propagate(*db, &[&b"DEL"[..], key]);
            }
            self.feed_stream();
        }
    }

    /// `repl-backlog-ttl`: a master without replicas for that long frees its
    /// backlog and starts a new history (Redis's replicationCron), so a
    /// replica coming back much later resyncs in full.
    fn free_idle_backlog(&mut self) {
        if !self.repl.replicas.is_empty() || self.repl.master.is_some() {
            self.repl.no_replicas_since_ms = 0;
            return;
        }
        if self.repl.no_replicas_since_ms == 0 {
            self.repl.no_replicas_since_ms = self.now_ms;
        }
        let ttl_s = self.config.int_named("repl-backlog-ttl", 3600).max(0) as u64;
        if ttl_s == 0 || !self.repl.backlog_active || self.now_ms.saturating_sub(self.repl.no_replicas_since_ms) <= ttl_s * 1000 {
            return;
        }
        self.repl.replid = crate::util::id::random_hex_id();
        self.repl.replid2 = "0".repeat(40);
        self.repl.second_offset = -1;
        self.repl.backlog = crate::replication::backlog::Backlog::new(self.repl.backlog.capacity());
        self.repl.backlog_active = false;
        tracing::info!("Replication backlog freed after {ttl_s} seconds without connected replicas.");
    }

    /// A full sync's data is about to become ours: our replicas must sync
    /// again from it, and our backlog holds a history that no longer
    /// leads to it (Redis's replicationAttachToNewMaster).
    pub fn attach_to_new_master(&mut self) {
        // Our data is going: until the new one is in, no master can continue us.
        self.repl.psync_blocked = true;
        self.disconnect_replicas();
        self.repl.backlog = crate::replication::backlog::Backlog::new(self.repl.backlog.capacity());
    }

    /// Drops our replica connections: they reconnect and PSYNC again (after
    /// our history changed under them).
    pub fn disconnect_replicas(&mut self) {
        let ids: Vec<ClientId> = self.repl.replicas.drain(..).map(|r| r.client_id).collect();
        for id in ids {
            self.push_to(id, Push::Kill);
        }
    }

    /// Wakes clients in WAIT after an acknowledgement.
    pub fn wake_waiters(&mut self) {
        for id in std::mem::take(&mut self.repl.waiters) {
            self.push_to(id, Push::Wake);
        }
    }

    /// Compiles the libraries a load left in `keyspace.loaded_functions`:
    /// after a flush of the current ones, replacing same-named ones, or
    /// failing on a name already loaded (Redis's rules for RDB loading).
    pub fn install_loaded_functions(&mut self, how: FunctionLoad) -> Result<(), String> {
        let codes = std::mem::take(&mut self.keyspace.loaded_functions);
        if codes.is_empty() && how != FunctionLoad::Flush {
            return Ok(());
        }
        let libs = self.scripting.functions()?;
        let mut compiled = Vec::with_capacity(codes.len());
        for code in &codes {
            compiled.push(libs.compile(code)?);
        }
        if how == FunctionLoad::Flush {
            libs.flush();
        }
        let r = libs.join(compiled, how != FunctionLoad::Strict);
        self.sync_function_codes();
        r
    }

    /// Keeps the codes snapshots save in step with the loaded libraries.
    pub fn sync_function_codes(&mut self) {
        self.keyspace.functions =
            self.scripting.functions.as_ref().map(|l| l.libs.values().map(|lib| lib.code.clone()).collect()).unwrap_or_default();
    }
}

/// How loaded libraries meet the ones already there.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FunctionLoad {
    /// Drop the current libraries first (start-up, full sync, DEBUG RELOAD).
    Flush,
    /// Keep them; a loaded library replaces one of the same name (DEBUG RELOAD MERGE).
    Replace,
    /// Keep them; a name already loaded is an error (DEBUG RELOAD NOFLUSH).
    Strict,
}
