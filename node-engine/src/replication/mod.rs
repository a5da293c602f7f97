//! Replication, Redis style. The master turns every executed write into RESP
//! bytes (the replication stream), keeps the last `repl-backlog-size` bytes
//! in a backlog for partial resyncs, and pushes the stream to each replica
//! connection. A replica connects with PING / REPLCONF / PSYNC, loads the
//! RDB snapshot of a full sync (or continues from the backlog), then applies
//! the stream as if a client sent it, acknowledging its offset.
//!
//! In cluster mode the role comes from the cluster state (CLUSTER REPLICATE,
//! failover); standalone it comes from REPLICAOF.

pub mod backlog;
pub mod replica;
pub mod snapshot;

use crate::client::{ClientId, Push};
use crate::node::Node;
use crate::node::SharedRef;
use backlog::Backlog;

/// One of our replicas, as INFO replication and WAIT see it.
#[derive(Debug, Clone)]
pub struct ReplicaInfo {
    pub client_id: ClientId,
    pub ip: String,
    pub listening_port: u16,
    pub ack_offset: u64,
    pub ack_time_ms: u64,
}

/// Replication state of a node.
#[derive(Debug)]
pub struct ReplState {
    /// The master we replicate from, if any: (ip, port).
    pub master: Option<(String, u16)>,
    /// Changes whenever `master` changes; a link task for an old generation ends itself.
    pub generation: u64,
    /// The generation whose link task is running (0 = none).
    pub link_generation: u64,
    pub link_up: bool,
    pub last_io_ms: u64,
    pub sync_in_progress: bool,
    /// Our replication id and the previous one (kept for partial resync after a promotion).
    pub replid: String,
    pub replid2: String,
    pub second_offset: i64,
    /// Offset of the last byte of the stream produced (master) or applied (replica).
    pub offset: u64,
    pub backlog: Backlog,
    /// Set once the stream is recorded (a replica attached, or cluster mode).
    pub backlog_active: bool,
    pub replicas: Vec<ReplicaInfo>,
    /// Stream bytes not yet pushed to replicas (sent at the end of each batch).
    pub pending: Vec<u8>,
    /// Clients blocked in WAIT.
    pub waiters: Vec<ClientId>,
}

impl Default for ReplState {
    fn default() -> Self {
        ReplState {
            master: None,
            generation: 0,
            link_generation: 0,
            link_up: false,
            last_io_ms: 0,
            sync_in_progress: false,
            replid: crate::cluster::random_hex_id(),
            replid2: "0".repeat(40),
            second_offset: -1,
            offset: 0,
            backlog: Backlog::new(1 << 20),
            backlog_active: false,
            replicas: Vec::new(),
            pending: Vec::new(),
            waiters: Vec::new(),
        }
    }
}

/// Our replication offset (gossiped so the best replica wins elections).
pub fn offset(node: &Node) -> u64 {
    node.repl.offset
}

pub use crate::resp::encode_command;

/// Turns the commands executed since the last call into stream bytes:
/// backlog, offset, pending bytes for replicas.
pub fn feed(node: &mut Node) {
    if node.propagated.is_empty() {
        return;
    }
    let bytes = std::mem::take(&mut node.propagated);
    crate::persistence::aof::feed_aof(node, &bytes);
    // A replica's stream is its master's bytes, appended as they are applied.
    if node.repl.master.is_none() && node.repl.backlog_active {
        append_stream(node, &bytes);
    }
    // Hand the allocation back for the next command.
    let mut bytes = bytes;
    bytes.clear();
    if node.propagated.is_empty() {
        node.propagated = bytes;
    }
}

/// Adds raw stream bytes: a master's own writes, or what a replica applied from its master.
pub fn append_stream(node: &mut Node, bytes: &[u8]) {
    node.repl.backlog.append(bytes);
    node.repl.offset += bytes.len() as u64;
    if !node.repl.replicas.is_empty() {
        node.repl.pending.extend_from_slice(bytes);
    }
}

/// Pushes pending stream bytes to every replica connection (end of each batch).
pub fn flush_to_replicas(node: &mut Node) {
    if node.repl.pending.is_empty() {
        return;
    }
    let bytes = std::mem::take(&mut node.repl.pending);
    let ids: Vec<ClientId> = node.repl.replicas.iter().map(|r| r.client_id).collect();
    for id in ids {
        node.push_to(id, Push::Bytes(bytes.clone()));
    }
}

/// Makes this node a replica of the cluster node `master_id`.
pub fn become_replica_of(node: &mut Node, master_id: &str) {
    let Some(c) = node.cluster.as_mut() else { return };
    if master_id == c.myself {
        return;
    }
    let addr = c.nodes.get(master_id).map(|n| (n.ip.clone(), n.port));
    let me = c.myself_mut();
    me.master_id = Some(master_id.to_string());
    me.flags.master = false;
    me.flags.replica = true;
    let mine: Vec<u16> = me.slots.iter().collect();
    for s in mine {
        c.set_owner(s, None);
    }
    c.migrating.clear();
    c.importing.clear();
    c.dirty_config = true;
    // Writes paused for a manual failover resume now (and get redirected).
    c.paused_until = 0;
    let paused = std::mem::take(&mut c.paused_clients);
    for id in paused {
        node.push_to(id, Push::Wake);
    }
    set_master(node, addr);
}

/// Points replication at a new master (or none); the link task follows.
pub fn set_master(node: &mut Node, master: Option<(String, u16)>) {
    if node.repl.master == master {
        return;
    }
    let becoming_master = master.is_none() && node.repl.master.is_some();
    node.repl.master = master;
    node.repl.generation += 1;
    node.repl.link_up = false;
    for db in &mut node.dbs {
        db.expire_enabled = node.repl.master.is_none();
    }
    if node.repl.master.is_some() {
        // Our own replicas must resync from the new history.
        disconnect_replicas(node);
    }
    if becoming_master {
        shift_replid(node);
    }
}

/// Keeps the old history reachable for partial resyncs after a promotion.
fn shift_replid(node: &mut Node) {
    node.repl.replid2 = std::mem::replace(&mut node.repl.replid, crate::cluster::random_hex_id());
    node.repl.second_offset = node.repl.offset as i64 + 1;
    node.propagated_db = None;
}

fn disconnect_replicas(node: &mut Node) {
    let ids: Vec<ClientId> = node.repl.replicas.drain(..).map(|r| r.client_id).collect();
    for id in ids {
        node.push_to(id, Push::Kill);
    }
}

/// Stops replicating: this node is a master now and keeps its data.
pub fn promote(node: &mut Node) {
    set_master(node, None);
}

/// How the replica link applies one command of its master's stream: given by
/// the layer that executes commands, so replication never calls up into it.
pub type Execute = fn(&mut Node, &mut crate::client::Client, &[&[u8]]);

/// Every 100 ms: follow the cluster role, start the link task when needed, ack the master.
pub fn cron(shared: &SharedRef, node: &mut Node, execute: Execute) {
    if let Some(c) = node.cluster.as_ref() {
        let want = c.myself_node().master_id.as_ref().and_then(|m| c.nodes.get(m)).map(|n| (n.ip.clone(), n.port));
        if want.is_some() && want != node.repl.master {
            set_master(node, want);
        } else if want.is_none() && node.repl.master.is_some() {
            set_master(node, None);
        }
    }
    if node.repl.master.is_some() && node.repl.link_generation != node.repl.generation {
        node.repl.link_generation = node.repl.generation;
        tokio::task::spawn_local(replica::run_link(shared.clone(), node.repl.generation, execute));
    }
    // Replicas that went away are forgotten.
    let clients = &node.clients;
    node.repl.replicas.retain(|r| clients.contains_key(&r.client_id));
}

/// Wakes clients in WAIT after an acknowledgement.
pub fn wake_waiters(node: &mut Node) {
    for id in std::mem::take(&mut node.repl.waiters) {
        node.push_to(id, Push::Wake);
    }
}

/// Number of replicas that acknowledged at least `offset`.
pub fn acked(node: &Node, offset: u64) -> usize {
    node.repl.replicas.iter().filter(|r| r.ack_offset >= offset).count()
}

/// The `# Replication` section of INFO.
pub fn info(node: &Node) -> String {
    let now = node.now_ms;
    let mut out = String::from("# Replication\r\n");
    if let Some((host, port)) = &node.repl.master {
        out.push_str(&format!(
            "role:slave\r\nmaster_host:{host}\r\nmaster_port:{port}\r\nmaster_link_status:{}\r\nmaster_last_io_seconds_ago:{}\r\nmaster_sync_in_progress:{}\r\nslave_read_repl_offset:{}\r\nslave_repl_offset:{}\r\nslave_priority:{}\r\nslave_read_only:{}\r\nreplica_announced:1\r\n",
            if node.repl.link_up { "up" } else { "down" },
            if node.repl.link_up { (now.saturating_sub(node.repl.last_io_ms) / 1000) as i64 } else { -1 },
            node.repl.sync_in_progress as u8,
            node.repl.offset,
            node.repl.offset,
            node.config.int_named("replica-priority", 100),
            node.config.flag_named("replica-read-only") as u8,
        ));
    } else {
        out.push_str("role:master\r\n");
    }
    out.push_str(&format!("connected_slaves:{}\r\n", node.repl.replicas.len()));
    for (i, r) in node.repl.replicas.iter().enumerate() {
        out.push_str(&format!(
            "slave{i}:ip={},port={},state=online,offset={},lag={}\r\n",
            r.ip,
            r.listening_port,
            r.ack_offset,
            now.saturating_sub(r.ack_time_ms) / 1000
        ));
    }
    let b = &node.repl.backlog;
    out.push_str(&format!(
        "master_failover_state:no-failover\r\nmaster_replid:{}\r\nmaster_replid2:{}\r\nmaster_repl_offset:{}\r\nsecond_repl_offset:{}\r\nrepl_backlog_active:{}\r\nrepl_backlog_size:{}\r\nrepl_backlog_first_byte_offset:{}\r\nrepl_backlog_histlen:{}\r\n\r\n",
        node.repl.replid,
        node.repl.replid2,
        node.repl.offset,
        node.repl.second_offset,
        node.repl.backlog_active as u8,
        b.capacity(),
        node.repl.offset + 1 - b.len() as u64,
        b.len()
    ));
    out
}
