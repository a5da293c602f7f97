//! A diskless full sync's relay (Redis's rdbPipeReadHandler): the snapshot
//! child writes the payload into a pipe, and this task hands each piece to
//! every replica waiting for it. It reads no further while a replica has a
//! piece unsent, so the slowest replica paces the child and nothing piles up
//! in memory; a replica stuck longer than `repl-timeout` is dropped.

use super::SharedRef;
use crate::client::{ClientId, Push};
use crate::replication::ReplicaState;
use std::collections::HashMap;
use std::os::fd::OwnedFd;
use std::time::{Duration, Instant};
use tokio::io::AsyncReadExt;

/// Bytes a replica may have queued before the relay waits for it.
const MAX_UNSENT: usize = 256 * 1024;
const PIECE: usize = 64 * 1024;

/// Relays the pipe of child `pid` until the child closes it (done, failed
/// or killed), or is no longer the snapshot being sent.
pub async fn relay(shared: SharedRef, fd: OwnedFd, pid: libc::pid_t) {
    let mut pipe = match tokio::net::unix::pipe::Receiver::from_owned_fd(fd) {
        Ok(p) => p,
        Err(e) => {
            tracing::warn!("Diskless rdb transfer: cannot read the child's pipe: {e}");
            shared.node.borrow_mut().end_relay(pid);
            return;
        }
    };
    let mut piece = vec![0u8; PIECE];
    // When each replica last had room for more (for repl-timeout).
    let mut had_room: HashMap<ClientId, Instant> = HashMap::new();
    loop {
        while !targets_have_room(&shared, &mut had_room) {
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        let n = match pipe.read(&mut piece).await {
            Ok(n) => n,
            Err(e) => {
                tracing::warn!("Diskless rdb transfer, error reading from the child's pipe: {e}");
                0
            }
        };
        shared.gate.pass().await;
        let mut node = shared.node.borrow_mut();
        if !node.relays_current_snapshot(pid) {
            // Killed (FLUSHALL, no replica left): what is left is not sent.
            node.end_relay(pid);
            return;
        }
        let targets = node.pipe_targets();
        if n == 0 {
            node.end_relay(pid);
            if !targets.is_empty() {
                tracing::info!("Diskless rdb transfer, done reading from pipe, {} replicas still up.", targets.len());
            }
            // The child exits right after closing the pipe: finish now if it has.
            crate::persistence::poll_child(&mut node.persistence_parts());
            node.send_finished_snapshot();
            return;
        }
        for id in targets {
            node.push_to(id, Push::Bulk(piece[..n].to_vec()));
        }
    }
}

/// Whether every waiting replica can take another piece; drops one that
/// has had no room for `repl-timeout` (Redis's "timedout replica (full sync)").
fn targets_have_room(shared: &SharedRef, had_room: &mut HashMap<ClientId, Instant>) -> bool {
    let mut node = shared.node.borrow_mut();
    let timeout = Duration::from_secs(node.config.int_named("repl-timeout", 60).max(1) as u64);
    let now = Instant::now();
    let mut room = true;
    let mut timed_out = Vec::new();
    for id in node.pipe_targets() {
        let Some(c) = node.clients.map.get(&id) else { continue };
        let since = had_room.entry(id).or_insert(now);
        if c.mem.bulk_queued.get() + c.mem.unsent.get() < MAX_UNSENT {
            *since = now;
        } else if now.duration_since(*since) > timeout {
            timed_out.push(id);
        } else {
            room = false;
        }
    }
    for id in timed_out {
        if let Some(r) = node.repl.replicas.iter().find(|r| r.client_id == id) {
            tracing::warn!("Disconnecting timedout replica (full sync): {}:{}", r.ip, r.listening_port);
        }
        node.repl.replicas.retain(|r| r.client_id != id);
        node.push_to(id, Push::Kill);
    }
    room
}

impl super::Node {
    /// Whether child `pid`'s snapshot is still the one being sent: it runs,
    /// or it ended well and its pipe is being drained.
    fn relays_current_snapshot(&self, pid: libc::pid_t) -> bool {
        if self.repl.pipe_relaying != Some(pid) {
            return false;
        }
        match self.persistence.child.as_ref() {
            Some(c) => c.pid == pid,
            None => self.persistence.repl_snapshot_done.as_ref().is_some_and(|d| d.piped && d.ok),
        }
    }

    fn end_relay(&mut self, pid: libc::pid_t) {
        if self.repl.pipe_relaying == Some(pid) {
            self.repl.pipe_relaying = None;
        }
    }

    /// The replicas a running diskless snapshot is streamed to.
    fn pipe_targets(&self) -> Vec<ClientId> {
        self.repl.replicas.iter().filter(|r| r.state == ReplicaState::WaitBgsaveEnd).map(|r| r.client_id).collect()
    }
}
