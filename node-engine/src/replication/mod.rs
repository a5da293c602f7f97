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

use crate::client::ClientId;
use crate::config::NodeConfig;
use backlog::Backlog;

/// One of our replicas, as INFO replication and WAIT see it.
#[derive(Debug, Clone)]
pub struct ReplicaInfo {
    pub client_id: ClientId,
    pub ip: String,
    pub listening_port: u16,
    pub ack_offset: u64,
    pub ack_time_ms: u64,
    pub state: ReplicaState,
    /// Came with SYNC (no `+FULLRESYNC` line before the snapshot).
    pub legacy: bool,
    /// Got a streamed snapshot: the stream from this offset is sent (from
    /// the backlog) once the replica's first REPLCONF ACK says it loaded it
    /// (Redis's repl_start_cmd_stream_on_ack), so nothing follows the end mark.
    pub stream_on_ack: Option<u64>,
    /// It reads a streamed (`$EOF:`) snapshot; else it needs a sized one.
    pub capa_eof: bool,
    /// It acknowledged while its streamed snapshot was still being finished
    /// here: it has loaded it, and takes the stream as soon as it is done.
    pub acked_during_sync: bool,
}

impl ReplicaInfo {
    /// A replica that continues from the backlog, streaming at once.
    pub fn online(client_id: ClientId, ip: String, listening_port: u16, now_ms: u64) -> Self {
        ReplicaInfo {
            client_id,
            ip,
            listening_port,
            ack_offset: 0,
            ack_time_ms: now_ms,
            state: ReplicaState::Online,
            legacy: false,
            stream_on_ack: None,
            capa_eof: false,
            acked_during_sync: false,
        }
    }
}

/// Where a replica is in its sync (Redis's SLAVE_STATE_*).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReplicaState {
    /// Needs a full sync; waits for a snapshot child to start (since this unix ms).
    WaitBgsaveStart {
        since_ms: u64,
    },
    /// Its snapshot is being written; the stream is buffered for it.
    WaitBgsaveEnd,
    Online,
}

impl ReplicaState {
    /// The name INFO replication gives the state.
    pub fn name(self) -> &'static str {
        match self {
            ReplicaState::WaitBgsaveStart { .. } | ReplicaState::WaitBgsaveEnd => "wait_bgsave",
            ReplicaState::Online => "online",
        }
    }
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
    /// When a master last put a PING in the stream for its replicas.
    pub last_ping_ms: u64,
    pub sync_in_progress: bool,
    /// A full sync's payload: its size (0 when streamed) and the bytes read so far.
    pub sync_total_bytes: u64,
    pub sync_read_bytes: u64,
    /// A full sync started replacing our data (Redis discards its cached
    /// master then): until it completes, our id and offset no longer
    /// describe what we hold, so a reconnection asks for a full sync.
    pub psync_blocked: bool,
    /// Connected to the master, before its answer to PSYNC (ROLE's `handshake`).
    pub handshake: bool,
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
    /// `min-replicas-to-write` and `min-replicas-max-lag` (seconds), cached for the write path.
    pub min_replicas: (usize, u64),
    /// A coordinated FAILOVER this master runs (writes are paused meanwhile).
    pub failover: Option<Failover>,
    /// The database the master's stream last selected: kept across
    /// reconnections (as Redis's cached master keeps it), since a partial
    /// resync does not repeat the SELECT.
    pub master_db: usize,
    /// The unix second of the last keepalive newline to replicas waiting for their snapshot.
    pub last_presync_ping_s: u64,
    /// Where the stream after the running snapshot starts (the offset at the
    /// fork, plus one): the replicas waiting for that snapshot need the
    /// backlog from there on (one child at a time, so they share the start).
    pub held_from: Option<u64>,
    /// Since when (unix ms) a master has had no replica; 0 while it has some.
    pub no_replicas_since_ms: u64,
    /// The child whose diskless snapshot is being relayed from its pipe: it
    /// is complete only once the pipe is drained, not when the child exits.
    pub pipe_relaying: Option<libc::pid_t>,
}

/// A FAILOVER in progress on a master (Redis's failover_state and its target).
#[derive(Debug, Clone, PartialEq)]
pub struct Failover {
    /// Still waiting for a replica to catch up (`waiting-for-sync`), or
    /// already asking it to take over (`failover-in-progress`).
    pub in_progress: bool,
    /// The replica to hand over to; None until one is caught up (FAILOVER without TO).
    pub target: Option<(String, u16)>,
    /// Unix ms after which the wait gives up (or forces, with FORCE); 0: no TIMEOUT.
    pub end_ms: u64,
    pub force: bool,
}

impl Failover {
    /// INFO's `master_failover_state`.
    pub fn state_name(f: Option<&Failover>) -> &'static str {
        match f {
            None => "no-failover",
            Some(f) if f.in_progress => "failover-in-progress",
            Some(_) => "waiting-for-sync",
        }
    }
}

impl Default for ReplState {
    fn default() -> Self {
        ReplState {
            master: None,
            generation: 0,
            link_generation: 0,
            link_up: false,
            last_io_ms: 0,
            last_ping_ms: 0,
            sync_in_progress: false,
            sync_total_bytes: 0,
            sync_read_bytes: 0,
            psync_blocked: false,
            pipe_relaying: None,
            handshake: false,
            replid: crate::util::id::random_hex_id(),
            replid2: "0".repeat(40),
            second_offset: -1,
            offset: 0,
            backlog: Backlog::new(1 << 20),
            backlog_active: false,
            replicas: Vec::new(),
            pending: Vec::new(),
            waiters: Vec::new(),
            min_replicas: (0, 10),
            failover: None,
            master_db: 0,
            last_presync_ping_s: 0,
            no_replicas_since_ms: 0,
            held_from: None,
        }
    }
}

impl ReplState {
    /// Adds raw stream bytes: a master's own writes, or what a replica applied from its master.
    pub fn append_stream(&mut self, bytes: &[u8]) {
        let keep = self.needed_len(self.offset + bytes.len() as u64);
        self.backlog.append(bytes, keep);
        self.offset += bytes.len() as u64;
        if !self.replicas.is_empty() {
            self.pending.extend_from_slice(bytes);
        }
    }

    /// The first stream offset a replica still needs from the backlog:
    /// replicas waiting for a snapshot, and those waiting for their first ACK.
    pub fn pinned_from(&self) -> Option<u64> {
        self.replicas.iter().filter_map(|r| r.stream_on_ack).chain(self.held_from).min()
    }

    /// How many trailing bytes of a stream ending at `end` replicas still need.
    fn needed_len(&self, end: u64) -> usize {
        self.pinned_from().map_or(0, |from| (end + 1).saturating_sub(from) as usize)
    }

    /// Lets the backlog go back to its configured size once no replica needs more.
    pub fn release_unneeded(&mut self) {
        let keep = self.needed_len(self.offset);
        self.backlog.shrink(keep);
    }

    /// The stream a replica needs from `from` on (for a waiting replica,
    /// after its snapshot), from the backlog that was kept for it.
    pub fn stream_since(&self, from: u64) -> Vec<u8> {
        self.backlog.since(from, self.offset).unwrap_or_default()
    }

    /// Number of replicas that acknowledged at least `offset`.
    pub fn acked(&self, offset: u64) -> usize {
        self.replicas.iter().filter(|r| r.ack_offset >= offset).count()
    }

    /// The master we continue from says its history has a new id: ours takes
    /// it, the old one stays reachable up to here (Redis's +CONTINUE <id>).
    pub fn adopt_replid(&mut self, new_id: &str) {
        self.replid2 = std::mem::replace(&mut self.replid, new_id.to_string());
        self.second_offset = self.offset as i64 + 1;
    }

    /// Keeps the old history reachable for partial resyncs after a promotion.
    pub fn shift_replid(&mut self) {
        self.replid2 = std::mem::replace(&mut self.replid, crate::util::id::random_hex_id());
        self.second_offset = self.offset as i64 + 1;
    }
}

/// A replica's full sync transfer, as INFO shows it while it runs.
fn sync_progress(repl: &ReplState, now: u64) -> String {
    if !repl.sync_in_progress {
        return String::new();
    }
    let (total, read) = (repl.sync_total_bytes, repl.sync_read_bytes);
    let perc = if total > 0 { read as f64 * 100.0 / total as f64 } else { 0.0 };
    format!(
        "master_sync_total_bytes:{total}\r\nmaster_sync_read_bytes:{read}\r\nmaster_sync_left_bytes:{}\r\nmaster_sync_perc:{perc:.2}\r\nmaster_sync_last_io_seconds_ago:{}\r\n",
        total as i64 - read as i64,
        now.saturating_sub(repl.last_io_ms) / 1000
    )
}

/// The `# Replication` section of INFO.
pub fn info(repl: &ReplState, config: &NodeConfig, now: u64) -> String {
    let mut out = String::from("# Replication\r\n");
    if let Some((host, port)) = &repl.master {
        out.push_str(&format!(
            "role:slave\r\nmaster_host:{host}\r\nmaster_port:{port}\r\nmaster_link_status:{}\r\nmaster_last_io_seconds_ago:{}\r\nmaster_sync_in_progress:{}\r\n{}slave_read_repl_offset:{}\r\nslave_repl_offset:{}\r\nslave_priority:{}\r\nslave_read_only:{}\r\nreplica_announced:1\r\n",
            if repl.link_up { "up" } else { "down" },
            if repl.link_up { (now.saturating_sub(repl.last_io_ms) / 1000) as i64 } else { -1 },
            repl.sync_in_progress as u8,
            sync_progress(repl, now),
            repl.offset,
            repl.offset,
            config.int_named("replica-priority", 100),
            config.flag_named("replica-read-only") as u8,
        ));
    } else {
        out.push_str("role:master\r\n");
    }
    out.push_str(&format!("connected_slaves:{}\r\n", repl.replicas.len()));
    for (i, r) in repl.replicas.iter().enumerate() {
        out.push_str(&format!(
            "slave{i}:ip={},port={},state={},offset={},lag={}\r\n",
            r.ip,
            r.listening_port,
            r.state.name(),
            r.ack_offset,
            now.saturating_sub(r.ack_time_ms) / 1000
        ));
    }
    let b = &repl.backlog;
    out.push_str(&format!(
        "master_failover_state:{}\r\nmaster_replid:{}\r\nmaster_replid2:{}\r\nmaster_repl_offset:{}\r\nsecond_repl_offset:{}\r\nrepl_backlog_active:{}\r\nrepl_backlog_size:{}\r\nrepl_backlog_first_byte_offset:{}\r\nrepl_backlog_histlen:{}\r\n\r\n",
        Failover::state_name(repl.failover.as_ref()),
        repl.replid,
        repl.replid2,
        repl.offset,
        repl.second_offset,
        repl.backlog_active as u8,
        b.capacity(),
        repl.offset + 1 - b.len() as u64,
        b.len()
    ));
    out
}
