//! Per-client state. `Client` is owned by the connection task; `ClientInfo`
//! is the part other clients can see or act on (CLIENT LIST/KILL, pub/sub
//! delivery, WATCH invalidation) and lives in the node's registry.

use crate::keyspace::Key;
use crate::resp::ReplyBuf;
use std::cell::Cell;
use std::net::SocketAddr;
use tokio::sync::mpsc::UnboundedSender;

pub type ClientId = u64;

/// Something delivered to a connection from outside its own request stream.
#[derive(Debug)]
pub enum Push {
    /// Already-encoded bytes to write (pub/sub message, MONITOR line).
    Bytes(Vec<u8>),
    /// Bytes outside the output-buffer limits: a replica's full-sync
    /// snapshot and its framing (Redis does not count the RDB transfer).
    Bulk(Vec<u8>),
    /// A key this client blocks on changed: retry the blocked command.
    Wake,
    /// CLIENT KILL or shutdown: close the connection.
    Kill,
    /// End the client's wait now: as a timeout, or with this error (CLIENT
    /// UNBLOCK ERROR, a cancelled SHUTDOWN).
    Unblock { error: Option<&'static str> },
    /// Idle for 2 s with nothing pending: give the query buffer back (Redis's clientsCron).
    FreeQueryBuffer,
    /// Busy with a query buffer over [`QUERY_RESIZE_THRESHOLD`] that held
    /// under half of it lately: trim it to that peak (given, as the cron
    /// resets the shared one when it looks).
    TrimQueryBuffer(usize),
}

/// A query buffer bigger than this is trimmed to its recent peak (Redis's
/// PROTO_RESIZE_THRESHOLD).
pub const QUERY_RESIZE_THRESHOLD: usize = 32 * 1024;

/// What a queued push costs beyond its bytes: its slot in the channel
/// and its share of the slot block's header (tokio allocates 32 slots with
/// a four-word header). Counted with them, so many small pushes to a
/// stalled replica or subscriber show up in its output memory, as Redis's
/// reply blocks do; a million queued pushes would otherwise leave a
/// megabyte unaccounted.
pub const PUSH_OVERHEAD: usize = std::mem::size_of::<Push>() + 4 * std::mem::size_of::<usize>() / 32;

/// The registry entry for a connected client.
#[derive(Debug)]
pub struct ClientInfo {
    pub addr: String,
    pub laddr: String,
    pub name: Option<Vec<u8>>,
    pub db: usize,
    pub created_ms: u64,
    pub last_interaction_ms: u64,
    /// The command the client runs or ran last (CLIENT LIST `cmd=`), shared
    /// with its connection so setting it costs no registry lookup.
    pub last_cmd: std::rc::Rc<std::cell::Cell<&'static str>>,
    pub resp3: bool,
    pub watch_dirty: bool,
    pub sub_count: usize,
    pub psub_count: usize,
    /// Shard channels (SSUBSCRIBE).
    pub ssub_count: usize,
    pub flags: String,
    pub no_evict: bool,
    /// The ACL user the client is authenticated as.
    pub user: String,
    /// Since when (unix ms) the output is over the soft limit; 0: it is not.
    pub soft_since: std::cell::Cell<u64>,
    /// Bytes pushed to this client and not yet taken by its connection (output-buffer limit).
    pub out_pending: std::rc::Rc<std::cell::Cell<usize>>,
    /// Its memory as its connection last reported it (CLIENT LIST, client eviction).
    pub mem: std::rc::Rc<ClientMem>,
    pub tx: UnboundedSender<Push>,
}

impl ClientInfo {
    /// A fresh entry: the `default` user, database 0, no subscriptions.
    pub fn new(addr: String, laddr: String, flags: &str, now_ms: u64, tx: UnboundedSender<Push>) -> Self {
        ClientInfo {
            addr,
            laddr,
            name: None,
            db: 0,
            created_ms: now_ms,
            last_interaction_ms: now_ms,
            last_cmd: std::rc::Rc::new(std::cell::Cell::new("NULL")),
            resp3: false,
            watch_dirty: false,
            sub_count: 0,
            psub_count: 0,
            ssub_count: 0,
            flags: flags.into(),
            no_evict: false,
            user: "default".into(),
            out_pending: Default::default(),
            mem: Default::default(),
            soft_since: std::cell::Cell::new(0),
            tx,
        }
    }
}

/// A client's memory in the parts CLIENT LIST shows and client eviction
/// (`maxmemory-clients`) weighs, kept by its connection after each read and
/// each batch; pushed bytes waiting for it are in `ClientInfo::out_pending`.
#[derive(Debug, Default)]
pub struct ClientMem {
    /// Query buffer: bytes held (from a big argument's data on, as Redis
    /// counts them) and the buffer's capacity.
    pub qbuf: Cell<usize>,
    pub qbuf_cap: Cell<usize>,
    /// The most the query buffer held since the cron last looked (Redis's
    /// querybuf_peak): raised by the connection, reset by the cron.
    pub qbuf_peak: Cell<usize>,
    /// Commands queued in MULTI (`multi-mem`).
    pub multi: Cell<usize>,
    /// Replies waiting for the socket.
    pub unsent: Cell<usize>,
    /// What holding them takes (the buffer's capacity): eviction and INFO
    /// leave a replica's waiting output out of the dataset by this much.
    pub unsent_alloc: Cell<usize>,
    /// The reply buffer's capacity (`rbs`).
    pub rbs: Cell<usize>,
    /// WATCHed keys, subscriptions and tracking prefixes.
    pub other: Cell<usize>,
    /// Snapshot bytes (`Push::Bulk`) queued for the connection and not yet
    /// taken: a diskless sync sends no more while a replica lags.
    pub bulk_queued: Cell<usize>,
    /// The total as last added to the registry's sum (`tot-mem`).
    pub counted: Cell<usize>,
}

/// What a connection costs beyond its buffers (Redis counts its client struct).
pub const CLIENT_BASE_MEM: usize = 1024;

impl ClientMem {
    /// `tot-mem`: buffers, queued commands, waiting output and bookkeeping.
    pub fn total(&self, out_pending: usize) -> usize {
        CLIENT_BASE_MEM + self.qbuf_cap.get() + self.multi.get() + self.unsent.get() + out_pending + self.rbs.get() + self.other.get()
    }
}

/// A blocking command waiting for data (BLPOP and friends).
#[derive(Debug, Clone)]
pub struct BlockRequest {
    pub keys: Vec<Key>,
    /// Unix ms deadline; 0 blocks forever.
    pub deadline_ms: u64,
    /// At the deadline, run the command once more (WAIT) instead of replying a null array.
    pub rerun_on_timeout: bool,
    /// What to re-run when woken, if not the command as sent (XREAD's `$`
    /// becomes the ID it stood for when the client blocked).
    pub rerun_argv: Option<Vec<Vec<u8>>>,
}

#[derive(Debug)]
pub struct Client {
    pub id: ClientId,
    pub db: usize,
    pub reply: ReplyBuf,
    pub authenticated: bool,
    /// The ACL user (`default` until AUTH says otherwise).
    pub user: String,
    /// The ACL generation at which `user` was seen to be unrestricted
    /// (checks skipped until users change); 0: not known to be.
    pub acl_unrestricted: u64,
    /// Queued commands between MULTI and EXEC.
    pub multi: Option<Vec<Vec<Vec<u8>>>>,
    /// Bytes of the queued commands (`multi-mem`); stale once `multi` is None.
    pub multi_bytes: usize,
    /// A command failed to queue: EXEC must abort.
    pub multi_error: bool,
    pub watching: Vec<(usize, Key)>,
    pub asking: bool,
    pub readonly: bool,
    /// Subscribed channels and patterns (RESP2 restricts commands while > 0).
    pub subscriptions: usize,
    pub block: Option<BlockRequest>,
    /// The blocking command's arguments, kept to retry it when woken.
    pub blocked_argv: Option<Vec<Vec<u8>>>,
    pub close_after_reply: bool,
    /// Over its output-buffer limit: closed without another byte sent (Redis's CLIENT_CLOSE_ASAP).
    pub close_asap: bool,
    /// This batch's hard output limit (0: none), and the output already
    /// waiting before it, so a long reply can stop once over (HRANDFIELD, KEYS).
    pub obuf_hard: usize,
    pub obuf_base: usize,
    pub addr: SocketAddr,
    /// Replacements for what this command propagates (see `Ctx::propagate_as`).
    pub propagate_override: Vec<Vec<Vec<u8>>>,
    /// This connection carries our master's replication stream: its writes are applied, not refused.
    pub from_master: bool,
    /// This client is one of our replicas (it sent PSYNC): it receives the stream.
    pub is_replica: bool,
    /// The port a replica said it listens on (REPLCONF listening-port).
    pub repl_listening_port: u16,
    /// The replica said `REPLCONF capa eof`: it reads a streamed snapshot.
    pub repl_capa_eof: bool,
    /// Replication offset after this client's last write, for WAIT.
    pub last_write_offset: u64,
    /// Set when a blocked command is re-run because its deadline passed.
    pub block_timed_out: bool,
    /// Set while a blocked command runs again after a wake-up: a key that
    /// now holds another type is skipped (the client keeps waiting), as
    /// Redis serves a blocked client only from a key of the right type.
    pub retrying_block: bool,
    pub name: Option<Vec<u8>>,
    /// Set while executing the commands of EXEC.
    pub in_exec: bool,
    /// This command's own propagation is replaced by what it ran (a
    /// script's effects), or turned off (`redis.set_repl(REPL_NONE)`).
    pub suppress_propagation: bool,
    /// The command being run was preceded by ASKING (the flag itself is
    /// consumed by routing; a script's own key checks need it too).
    pub asked: bool,
    /// The client a script's redis.call runs as (SORT orders sets for it).
    pub in_script: bool,
    /// The keys this command modified, when not all of its keys (SMOVE
    /// into a set that already had the member): WATCH and blocked clients
    /// only hear about these.
    pub touched_only: Option<Vec<Key>>,
    /// Propagate this command although it changed no data (PUBLISH reaches
    /// replicas' subscribers this way, as in Redis).
    pub force_propagate: bool,
    /// CLIENT REPLY OFF: replies are dropped until CLIENT REPLY ON.
    pub reply_off: bool,
    /// CLIENT REPLY SKIP: the next command's reply is dropped.
    pub reply_skip_next: bool,
    /// Whose reads and writes this client's commands count as for CLIENT
    /// TRACKING: its own ID, or a script's caller.
    pub tracking_id: ClientId,
    /// A script's declared keys, tracked for its caller when it reads.
    pub tracking_keys: Option<Vec<Vec<u8>>>,
    /// This client's `cmd=` cell (see [`ClientInfo::last_cmd`]).
    pub cmd_cell: std::rc::Rc<std::cell::Cell<&'static str>>,
    /// Bytes of the query buffer from the running command on (CLIENT LIST `qbuf=`).
    pub qbuf_now: usize,
    /// The reply of the command running now is dropped (the SKIP it
    /// follows); CLIENT REPLY ON clears it, so its own OK goes out.
    pub reply_skip_now: bool,
}

impl Client {
    /// Whether the output (what waited before this batch and the replies
    /// built since) is over the hard limit: the client is closed without
    /// another byte, so a long reply (HRANDFIELD, KEYS) stops being built.
    #[inline]
    pub fn output_over_limit(&mut self) -> bool {
        if self.obuf_hard != 0 && self.obuf_base + self.reply.buf.len() > self.obuf_hard {
            self.close_asap = true;
        }
        self.close_asap
    }

    /// How big the reply buffer may grow in this batch before the client is
    /// over its hard output limit; None without a limit.
    #[inline]
    pub fn reply_room(&self) -> Option<usize> {
        (self.obuf_hard != 0).then(|| self.obuf_hard.saturating_sub(self.obuf_base))
    }

    pub fn new(id: ClientId, addr: SocketAddr, needs_auth: bool) -> Client {
        Client {
            id,
            db: 0,
            reply: ReplyBuf::new(),
            authenticated: !needs_auth,
            user: "default".to_string(),
            acl_unrestricted: 0,
            multi: None,
            multi_error: false,
            watching: Vec::new(),
            asking: false,
            readonly: false,
            subscriptions: 0,
            block: None,
            blocked_argv: None,
            close_after_reply: false,
            close_asap: false,
            multi_bytes: 0,
            obuf_hard: 0,
            obuf_base: 0,
            addr,
            propagate_override: Vec::new(),
            from_master: false,
            is_replica: false,
            repl_listening_port: 0,
            repl_capa_eof: false,
            last_write_offset: 0,
            block_timed_out: false,
            retrying_block: false,
            name: None,
            in_exec: false,
            suppress_propagation: false,
            asked: false,
            in_script: false,
            touched_only: None,
            force_propagate: false,
            reply_off: false,
            reply_skip_next: false,
            reply_skip_now: false,
            cmd_cell: std::rc::Rc::new(std::cell::Cell::new("NULL")),
            tracking_id: id,
            tracking_keys: None,
            qbuf_now: 0,
        }
    }
}

/// The registry of connected clients.
#[derive(Debug)]
pub struct Clients {
    pub map: std::collections::HashMap<ClientId, ClientInfo>,
    pub next_id: ClientId,
    pub monitors: Vec<ClientId>,
    /// Clients whose commands wait for a pause to end (manual failover, CLIENT PAUSE).
    pub paused: Vec<ClientId>,
    /// CLIENT PAUSE in force: until when (unix ms), and whether all
    /// commands wait or only those that may write.
    pub pause: Option<ClientPause>,
    /// Every connection's socket, shared with a running script's hook (which
    /// answers other clients itself once the script runs too long).
    pub sockets: Sockets,
    /// The sum of every client's `tot-mem` (client eviction weighs it).
    pub mem_total: Cell<usize>,
    /// Set when a push took the sum over `maxmemory-clients`: clients are
    /// evicted at the end of the batch that pushed.
    pub evict_due: Cell<bool>,
    /// Set when a blocked client was woken: the waking connection lets it
    /// run before sending its own reply, so the woken command's effects
    /// follow the waking write in the stream, as Redis serves blocked
    /// clients inside the same command.
    pub woke: Cell<bool>,
}

/// A CLIENT PAUSE: until when, and whether it holds every command (ALL) or
/// only those that may write (WRITE).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ClientPause {
    pub until_ms: u64,
    pub all: bool,
}

/// Connected clients' sockets by client id, with the MULTI state a busy
/// script's hook shares with each connection.
pub type Sockets = std::rc::Rc<std::cell::RefCell<Vec<crate::script::busy::Socket>>>;

impl Default for Clients {
    fn default() -> Self {
        Clients {
            map: Default::default(),
            next_id: 1,
            monitors: Vec::new(),
            paused: Vec::new(),
            pause: None,
            sockets: Default::default(),
            mem_total: Cell::new(0),
            evict_due: Cell::new(false),
            woke: Cell::new(false),
        }
    }
}

/// Clients waiting on keys: WATCH (invalidated by writes) and blocking commands (woken by writes).
#[derive(Debug, Default)]
pub struct KeyWaits {
    /// (db, key) -> clients watching it, each with whether the key was
    /// already expired (still stored, past its TTL) when it was watched.
    pub watched: std::collections::HashMap<(usize, Key), Vec<(ClientId, bool)>>,
    /// (db, key) -> clients blocked on it, oldest first.
    pub blocked: std::collections::HashMap<(usize, Key), Vec<ClientId>>,
}

/// Pub/sub subscriptions: channel -> subscribers, and pattern subscriptions.
#[derive(Debug, Default)]
pub struct PubSub {
    pub channels: std::collections::HashMap<Key, Vec<ClientId>>,
    pub patterns: Vec<(Key, ClientId)>,
    /// Shard channels (SSUBSCRIBE): a namespace of their own, routed by slot in a cluster.
    pub shard_channels: std::collections::HashMap<Key, Vec<ClientId>>,
    /// `notify-keyspace-events` as flags (`util::events`), cached.
    pub notify_flags: u32,
}

/// What one client is subscribed to (ACL checks these when its user's channels change).
#[derive(Debug, Default)]
pub struct Subscriptions {
    pub channels: Vec<Key>,
    pub patterns: Vec<Key>,
    pub shard_channels: Vec<Key>,
}

impl PubSub {
    pub fn subscriptions_of(&self, id: ClientId) -> Subscriptions {
        let of = |m: &std::collections::HashMap<Key, Vec<ClientId>>| {
            m.iter().filter(|(_, ids)| ids.contains(&id)).map(|(k, _)| k.clone()).collect()
        };
        Subscriptions {
            channels: of(&self.channels),
            patterns: self.patterns.iter().filter(|(_, c)| *c == id).map(|(p, _)| p.clone()).collect(),
            shard_channels: of(&self.shard_channels),
        }
    }
}
