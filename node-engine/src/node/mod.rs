//! The state of one node. Owned by the node's thread; connections and
//! background tasks reach it through `Rc<RefCell<Node>>` and never hold the
//! borrow across an `.await`.

pub mod bus;
pub mod client_eviction;
pub mod cluster;
pub mod full_sync;
pub mod latency;
pub mod memory;
pub mod migrate_cache;
pub mod persistence;
pub mod rdb_pipe;
pub mod replica_link;
pub mod replication;
pub mod shutdown;
pub mod startup_load;
pub mod sync_load;
pub mod tracking;
pub mod while_busy;

use crate::client::{ClientId, ClientInfo, Push};
use crate::cluster::ClusterState;
use crate::config::NodeConfig;
use crate::glob::glob_match;
use crate::keyspace::Db;
use crate::resp::ReplyBuf;
use std::time::Instant;

pub use crate::util::time::unix_ms;

/// What the node thread shares between its tasks (connections, bus links,
/// the replica link, crons). Borrowed for synchronous work only, never
/// across an `.await`.
pub struct Shared {
    pub node: std::cell::RefCell<Node>,
    /// Closed while the node is paused (fault injection): tasks wait at it.
    pub gate: crate::util::gate::Gate,
}

pub type SharedRef = std::rc::Rc<Shared>;

/// Counters INFO stats reports.
#[derive(Debug, Default)]
pub struct Stats {
    pub total_connections: u64,
    pub total_commands: u64,
    pub rejected_connections: u64,
    /// Clients disconnected by client eviction (`maxmemory-clients`).
    pub evicted_clients: u64,
    pub keyspace_hits: u64,
    pub keyspace_misses: u64,
    pub net_input_bytes: u64,
    pub net_output_bytes: u64,
    /// Bytes read from our master / written to our replicas (snapshots
    /// included), kept apart from the client traffic as Redis 7.0 does.
    pub net_repl_input_bytes: u64,
    /// Error replies on a replication link, either way (Redis's `== CRITICAL ==` cases).
    pub unexpected_error_replies: u64,
    pub net_repl_output_bytes: u64,
    /// Reads and writes done for clients (total_reads/writes_processed).
    pub reads_processed: u64,
    pub writes_processed: u64,
    /// PSYNC requests that asked to continue but got a full resync.
    pub sync_partial_err: u64,
    /// Full and partial resyncs served to replicas (INFO stats sync_full / sync_partial_ok).
    pub sync_full: u64,
    pub sync_partial_ok: u64,
    /// Cron samples for the instantaneous_* rates.
    pub ops_samples: std::collections::VecDeque<RateSample>,
    /// Error replies sent (INFO total_error_replies) and their count by code
    /// (INFO errorstats, in code order as Redis lists them).
    pub error_replies: u64,
    pub errors_by_code: std::collections::BTreeMap<String, u64>,
    /// Keys removed to stay under maxmemory (INFO evicted_keys).
    pub evicted_keys: u64,
    /// The highest used_memory seen (INFO used_memory_peak).
    pub used_memory_peak: u64,
    /// Memory in use once the node was set up, before any data (MEMORY
    /// STATS's startup.allocated: Redis's initial_memory_usage).
    pub startup_allocated: u64,
    /// The process RSS as the cron last read it: used_memory when no counting
    /// allocator is installed (in-process nodes), without a /proc read per command.
    pub rss_sample: u64,
    /// Per command (or `container|sub`), keyed by the address of its static
    /// spec (cheap to hash on every call): INFO commandstats.
    pub commands: ahash::AHashMap<usize, CommandStat>,
    /// An error inside the running top-level command was counted already.
    pub nested_error_counted: bool,
}

impl Stats {
    /// The counters of the command whose spec lives at `id`.
    #[inline]
    pub fn command(&mut self, id: usize, name: &'static str) -> &mut CommandStat {
        self.commands.entry(id).or_insert_with(|| CommandStat { name, ..Default::default() })
    }
}

/// The node's client listeners as the server runs them.
#[derive(Debug, Default)]
pub struct Listeners {
    pub accept_tasks: Vec<tokio::task::AbortHandle>,
    /// A duplicate of each listening socket, so CONFIG SET bind can keep an
    /// address it already listens on (binding it again would fail).
    pub bound: Vec<std::net::TcpListener>,
    /// Bound by CONFIG SET port/bind; the server replaces the accept tasks with these.
    pub pending: Option<Vec<std::net::TcpListener>>,
    /// Clients a busy script's hook accepted (answered -BUSY until it ends),
    /// with their shared MULTI state; the accept tasks adopt them after.
    pub busy_accepted: Vec<(std::net::TcpStream, std::net::SocketAddr, std::rc::Rc<std::cell::Cell<u8>>)>,
    /// Wakes an accept task to adopt `busy_accepted`.
    pub wake: std::rc::Rc<tokio::sync::Notify>,
}

/// Counters at one cron tick, for INFO's instantaneous_* rates.
#[derive(Debug, Clone, Copy, Default)]
pub struct RateSample {
    pub at_ms: u64,
    pub commands: u64,
    pub net_in: u64,
    pub net_out: u64,
    pub repl_in: u64,
    pub repl_out: u64,
}

/// One command's counters (INFO commandstats `cmdstat_<name>`).
#[derive(Debug, Default, Clone)]
pub struct CommandStat {
    pub name: &'static str,
    pub calls: u64,
    pub usec: u64,
    /// Refused before running (arity, OOM, READONLY, MOVED, ...).
    pub rejected: u64,
    /// Ran and answered an error.
    pub failed: u64,
    /// Latency distribution (LATENCY HISTOGRAM, INFO latencystats).
    pub hist: latency::Histogram,
}

impl Stats {
    /// Counts one error reply (its text without the leading '-'). Like Redis,
    /// at most 128 distinct codes are tracked; later new codes only count in the total.
    /// Counts the error reply of a top-level command, unless an error inside
    /// it (EXEC, script) was counted already; clears that mark.
    pub fn count_reply_error(&mut self, text: &[u8]) {
        if !std::mem::take(&mut self.nested_error_counted) {
            self.count_error(text);
        }
    }

    pub fn count_error(&mut self, text: &[u8]) {
        const MAX_CODES: usize = 128;
        self.error_replies += 1;
        let end = text.iter().position(|&b| b == b' ' || b == b'\r').unwrap_or(text.len());
        let code = String::from_utf8_lossy(&text[..end]);
        if let Some(n) = self.errors_by_code.get_mut(code.as_ref()) {
            *n += 1;
        } else if self.errors_by_code.len() < MAX_CODES {
            self.errors_by_code.insert(code.into_owned(), 1);
        }
    }

    pub fn instantaneous_ops(&self) -> u64 {
        self.rate(|s| s.commands) as u64
    }

    /// Per-second rate of one sampled counter over the sampled window.
    pub fn rate(&self, of: impl Fn(&RateSample) -> u64) -> f64 {
        match (self.ops_samples.front(), self.ops_samples.back()) {
            (Some(a), Some(b)) if b.at_ms > a.at_ms => of(b).saturating_sub(of(a)) as f64 * 1000.0 / (b.at_ms - a.at_ms) as f64,
            _ => 0.0,
        }
    }

    /// The counters the cron samples for the rates.
    pub fn sample(&self, at_ms: u64) -> RateSample {
        RateSample {
            at_ms,
            commands: self.total_commands,
            net_in: self.net_input_bytes,
            net_out: self.net_output_bytes,
            repl_in: self.net_repl_input_bytes,
            repl_out: self.net_repl_output_bytes,
        }
    }
}

/// A slow command, for SLOWLOG.
#[derive(Debug, Clone)]
pub struct SlowEntry {
    pub id: u64,
    pub at_secs: u64,
    pub micros: u64,
    pub argv: Vec<Vec<u8>>,
    pub peer: String,
    pub name: String,
}

/// SLOWLOG: the entries and the settings read for every command.
#[derive(Debug)]
pub struct SlowLog {
    pub entries: std::collections::VecDeque<SlowEntry>,
    pub next_id: u64,
    /// `slowlog-log-slower-than`, cached: it is read for every command.
    pub threshold_us: i64,
    /// When the previous command of this batch ended (timing without a second clock read).
    pub cmd_clock: Option<Instant>,
}

pub use crate::persistence::ShutdownKind;

/// The node's identity in time: when it started, its run id, and whether it is stopping.
#[derive(Debug)]
pub struct Lifecycle {
    pub started: Instant,
    pub run_id: String,
    /// Set by SHUTDOWN or a signal; the server loop stops when it sees it.
    pub shutdown: Option<ShutdownKind>,
    /// SIGTERM/SIGINT received, to be carried out by the next cron (as
    /// Redis's shutdown_asap): SHUTDOWN ABORT can still cancel it.
    pub shutdown_asap: Option<&'static str>,
    /// A shutdown waiting for replicas to catch up.
    pub pending: shutdown::PendingShutdown,
    pub shutdown_notify: std::rc::Rc<tokio::sync::Notify>,
}

/// One node, as a composition of its parts: each function borrows the part it uses.
pub struct Node {
    pub config: NodeConfig,
    /// Cached unix ms, refreshed before each batch of commands.
    pub now_ms: u64,
    pub keyspace: crate::keyspace::Keyspace,
    pub clients: crate::client::Clients,
    pub waits: crate::client::KeyWaits,
    pub pubsub: crate::client::PubSub,
    /// Executed writes on their way to replication and the AOF.
    pub propagation: crate::keyspace::Propagation,
    pub stats: Stats,
    pub slowlog: SlowLog,
    /// Events slower than `latency-monitor-threshold` (LATENCY).
    pub latency: latency::Monitor,
    /// Client-side caching state (CLIENT TRACKING).
    pub tracking: tracking::Tracking,
    /// DEBUG PAUSE-CRON 1: the periodic work stops (tests freeze time-driven changes).
    pub cron_paused: bool,
    /// `latency-monitor-threshold` in ms (0: off), cached for the per-command check.
    pub latency_threshold_ms: u64,
    /// `cluster-preferred-endpoint-type`, cached for redirects.
    pub endpoint_type: crate::cluster::state::EndpointType,
    pub lifecycle: Lifecycle,
    pub repl: crate::replication::ReplState,
    pub cluster: Option<Box<ClusterState>>,
    /// The cluster bus's link queues and injected faults.
    pub bus: bus::Bus,
    /// RDB/AOF state: background child, AOF files, last save status.
    pub persistence: crate::persistence::Persistence,
    /// Connections kept open to MIGRATE targets.
    pub migrate_cache: migrate_cache::MigrateCache,
    /// The client listeners' accept tasks, and new listeners CONFIG SET
    /// port/bind bound for the server to switch to.
    pub listeners: Listeners,
    /// ACL users; filled by the command layer at start (`cmd::acl::init`).
    pub acl: crate::acl::Acl,
    /// EVAL's scripts and FUNCTION's libraries, each in its own Lua state (made on first use).
    pub scripting: crate::script::Scripting,
    /// `client-output-buffer-limit` by class (normal, replica, pubsub), cached.
    pub obuf_limits: [(usize, usize, u64); 3],
    /// `maxmemory-clients` in bytes (0: off), cached for the per-batch count.
    pub maxmemory_clients: usize,
}

impl Node {
    /// Why a new connection from `peer` is refused, as the text sent before
    /// closing it (maxclients, protected mode), or None to admit it.
    pub fn admission_error(&self, peer: std::net::SocketAddr) -> Option<&'static str> {
        if self.clients.map.len() + self.listeners.busy_accepted.len() >= self.config.maxclients() {
            return Some("-ERR max number of clients reached\r\n");
        }
        // Redis 7.0: whatever the bind, a default user without password serves only loopback.
        let protected = self.config.flag_named("protected-mode") && self.acl.user("default").is_some_and(|u| u.nopass);
        if protected && !peer.ip().is_loopback() {
            return Some("-DENIED Running in protected mode because protected mode is enabled and no password is set for the default user. Connections are only accepted from the loopback interface. Set a password with requirepass, bind to a specific address, or disable protected-mode.\r\n");
        }
        None
    }

    /// Pushes a pub/sub message (an array of bulks, a RESP3 push for RESP3
    /// clients) to one client; whether it was delivered.
    fn push_message(&self, id: ClientId, parts: &[&[u8]]) -> bool {
        let resp3 = self.clients.map.get(&id).is_some_and(|c| c.resp3);
        let size = parts.iter().map(|p| p.len() + 16).sum::<usize>() + 8;
        let mut r = ReplyBuf { buf: Vec::with_capacity(size), resp3 };
        r.push(parts.len());
        for p in parts {
            r.bulk(p);
        }
        self.push_to(id, Push::Bytes(r.buf))
    }

    /// Pushes `[kind, channel, count]` (a subscription change the client
    /// did not ask for, such as a shard channel whose slot moved away).
    pub fn push_message_with_count(&self, id: ClientId, kind: &[u8], channel: &[u8], count: usize) -> bool {
        let resp3 = self.clients.map.get(&id).is_some_and(|c| c.resp3);
        let mut r = ReplyBuf { buf: Vec::new(), resp3 };
        r.push(3);
        r.bulk(kind);
        r.bulk(channel);
        r.int(count as i64);
        self.push_to(id, Push::Bytes(r.buf))
    }

    /// Publishes a keyspace event (Redis's notifyKeyspaceEvent) when its
    /// class is enabled: `__keyspace@<db>__:<key>` carries the event,
    /// `__keyevent@<db>__:<event>` the key. Pending `new` events go first.
    pub fn notify(&mut self, db: usize, class: u32, event: &str, key: &[u8]) {
        use crate::util::events::{KEYEVENT, KEYSPACE};
        let flags = self.pubsub.notify_flags;
        if flags & class == 0 && self.keyspace.dbs.get(db).is_none_or(|d| d.new_keys.as_ref().is_none_or(Vec::is_empty)) {
            return;
        }
        self.flush_new_key_events(db);
        if flags & class == 0 {
            return;
        }
        if flags & KEYSPACE != 0 {
            let mut chan = format!("__keyspace@{db}__:").into_bytes();
            chan.extend_from_slice(key);
            self.publish(&chan, event.as_bytes());
        }
        if flags & KEYEVENT != 0 {
            let chan = format!("__keyevent@{db}__:{event}");
            self.publish(chan.as_bytes(), key);
        }
    }

    /// Sends the `new` events of keys created since the last call.
    pub fn flush_new_key_events(&mut self, db: usize) {
        let Some(keys) = self.keyspace.dbs.get_mut(db).and_then(|d| d.new_keys.as_mut()).map(std::mem::take) else { return };
        for k in keys {
            self.notify(db, crate::util::events::NEW, "new", &k);
        }
    }

    /// Delivers a shard-channel message (SPUBLISH); returns receivers.
    pub fn publish_shard(&mut self, channel: &[u8], message: &[u8]) -> usize {
        let Some(ids) = self.pubsub.shard_channels.get(channel) else { return 0 };
        ids.iter().filter(|id| self.push_message(**id, &[b"smessage", channel, message])).count()
    }

    /// Delivers a message to channel and pattern subscribers; returns receivers.
    pub fn publish(&mut self, channel: &[u8], message: &[u8]) -> usize {
        let mut n = 0;
        if let Some(ids) = self.pubsub.channels.get(channel) {
            for id in ids {
                n += usize::from(self.push_message(*id, &[b"message", channel, message]));
            }
        }
        for (pattern, id) in &self.pubsub.patterns {
            if glob_match(pattern, channel, false) {
                n += usize::from(self.push_message(*id, &[b"pmessage", pattern, channel, message]));
            }
        }
        n
    }

    pub fn new(config: NodeConfig) -> Node {
        let cluster_enabled = config.cluster_enabled();
        let ndb = if cluster_enabled { 1 } else { config.databases() };
        let dbs = (0..ndb).map(|_| Db::new(cluster_enabled)).collect();
        let now = unix_ms();
        let mut repl = crate::replication::ReplState::default();
        repl.backlog.set_capacity(config.int_named("repl-backlog-size", 1 << 20).max(0) as usize);
        let persistence = crate::persistence::Persistence { last_save_unix: now / 1000, ..Default::default() };
        Node {
            config,
            now_ms: now,
            keyspace: crate::keyspace::Keyspace {
                dbs,
                dirty: 0,
                functions: Vec::new(),
                loaded_functions: Vec::new(),
                active_expire: true,
                list_packed_threshold: 0,
                lazyfree: Default::default(),
                maxmemory: 0,
                evict_soon: false,
            },
            clients: Default::default(),
            waits: Default::default(),
            pubsub: Default::default(),
            propagation: Default::default(),
            stats: Stats::default(),
            slowlog: SlowLog { entries: Default::default(), next_id: 0, threshold_us: 10_000, cmd_clock: None },
            latency: latency::Monitor::default(),
            tracking: tracking::Tracking::default(),
            cron_paused: false,
            latency_threshold_ms: 0,
            endpoint_type: crate::cluster::state::EndpointType::Ip,
            lifecycle: Lifecycle {
                started: Instant::now(),
                run_id: crate::util::id::random_hex_id(),
                shutdown: None,
                shutdown_notify: std::rc::Rc::new(tokio::sync::Notify::new()),
                shutdown_asap: None,
                pending: Default::default(),
            },
            repl,
            cluster: None,
            bus: bus::Bus::default(),
            persistence,
            migrate_cache: Default::default(),
            acl: crate::acl::Acl::empty(),
            listeners: Listeners::default(),
            scripting: Default::default(),
            obuf_limits: [(0, 0, 0); 3],
            maxmemory_clients: 0,
        }
    }

    /// Sends a push (pub/sub message, wake-up, kill) to a connected client.
    pub fn push_to(&self, id: ClientId, mut push: Push) -> bool {
        let Some(c) = self.clients.map.get(&id) else { return false };
        if let Push::Bytes(b) = &mut push {
            // A message built by appending can hold up to twice its length;
            // it may wait in the queue (a client that does not read), where
            // only its length is counted, so the slack is given back.
            if b.capacity() > b.len() + b.len() / 8 + 64 {
                b.shrink_to_fit();
            }
            // client-output-buffer-limit: a consumer that does not read is cut
            // off instead of growing our memory without bound.
            let pending = c.out_pending.get() + b.len() + crate::client::PUSH_OVERHEAD;
            if self.over_output_limits(c, pending + c.mem.unsent.get()) {
                let _ = c.tx.send(Push::Kill);
                return false;
            }
            c.out_pending.set(pending);
            self.count_pushed(c, b.len());
        }
        if let Push::Bulk(b) = &push {
            c.mem.bulk_queued.set(c.mem.bulk_queued.get() + b.len());
        }
        if matches!(push, Push::Wake) {
            self.clients.woke.set(true);
        }
        c.tx.send(push).is_ok()
    }

    /// Whether a client whose output waiting to be sent is `output` bytes
    /// must be closed (Redis's checkClientOutputBufferLimits): over the hard
    /// limit, or over the soft one for longer than its seconds.
    pub fn over_output_limits(&self, c: &ClientInfo, output: usize) -> bool {
        let (limit, soft, secs) = self.output_limits(c);
        if limit > 0 && output > limit {
            tracing::warn!(client = %c.addr, output, limit, "Client scheduled to be closed ASAP for overcoming of output buffer limits.");
            return true;
        }
        if soft > 0 && output > soft {
            let now = unix_ms();
            match c.soft_since.get() {
                0 => c.soft_since.set(now),
                since if now.saturating_sub(since) > secs * 1000 => {
                    tracing::warn!(client = %c.addr, output, soft, "Client scheduled to be closed ASAP for overcoming of output buffer limits.");
                    return true;
                }
                _ => {}
            }
        } else {
            c.soft_since.set(0);
        }
        false
    }

    /// The hard output limit of a client's class, for the replies of its next batch.
    pub fn hard_output_limit(&self, id: ClientId) -> usize {
        self.clients.map.get(&id).map_or(0, |c| self.output_limits(c).0)
    }

    /// Clients over the soft output limit for longer than allowed are cut
    /// off even if nothing more is sent to them (Redis's clientsCron check).
    pub fn enforce_soft_output_limits(&self) {
        let now = unix_ms();
        for c in self.clients.map.values() {
            let since = c.soft_since.get();
            if since == 0 {
                continue;
            }
            let (_, soft, secs) = self.output_limits(c);
            if soft == 0 || c.out_pending.get() + c.mem.unsent.get() <= soft {
                c.soft_since.set(0);
            } else if now.saturating_sub(since) > secs * 1000 {
                tracing::warn!(client = %c.addr, "closing client over the soft client-output-buffer-limit");
                let _ = c.tx.send(Push::Kill);
            }
        }
    }

    /// (hard bytes, soft bytes, soft seconds) for a client's class; 0 = none.
    fn output_limits(&self, c: &ClientInfo) -> (usize, usize, u64) {
        let class = if c.flags.contains('S') {
            "slave"
        } else if c.sub_count + c.psub_count + c.ssub_count > 0 {
            "pubsub"
        } else {
            "normal"
        };
        let (mut hard, soft, secs) = self.obuf_limits[match class {
            "normal" => 0,
            "slave" => 1,
            _ => 2,
        }];
        // A replica's hard limit below the backlog would cut off the very
        // partial resync the backlog allows: the backlog size wins, as in Redis.
        if class == "slave" && hard > 0 {
            hard = hard.max(self.repl.backlog.capacity());
        }
        (hard, soft, secs)
    }

    /// `client-output-buffer-limit` parsed once per change: (hard, soft, soft
    /// seconds) for normal, replica and pubsub clients.
    fn parse_output_limits(spec: &str) -> [(usize, usize, u64); 3] {
        let parts: Vec<&str> = spec.split_whitespace().collect();
        let mut limits = [(0, 0, 0); 3];
        for (i, class) in ["normal", "slave", "pubsub"].iter().enumerate() {
            if let Some(chunk) = parts.chunks(4).find(|c| c.first().is_some_and(|n| n == class || (*class == "slave" && *n == "replica"))) {
                let mem = |i: usize| chunk.get(i).and_then(|v| crate::config::parse_memory(v)).map_or(0, |v| v.max(0) as usize);
                limits[i] = (mem(1), mem(2), chunk.get(3).and_then(|s| s.parse().ok()).unwrap_or(0));
            }
        }
        limits
    }

    /// Whether a client waits in a blocking command (on keys, or in WAIT).
    pub fn is_blocked(&self, id: ClientId) -> bool {
        self.waits.blocked.values().any(|ids| ids.contains(&id)) || self.repl.waiters.contains(&id) || self.blocked_in_shutdown(id)
    }

    /// Marks WATCHers of a key dirty and wakes clients blocked on it. A key
    /// that was already expired when watched is no change once deleted
    /// (Redis 7.0's touchWatchedKey).
    pub fn touch_key(&mut self, db: usize, key: &[u8]) {
        self.tracking_invalidate(key, true);
        if !self.waits.watched.is_empty() {
            if let Some(watchers) = self.waits.watched.get_mut(&(db, key.into())) {
                // Only watchers flagged "already expired" need to know if the key is still stored.
                let stored = watchers.iter().any(|(_, e)| *e) && self.keyspace.dbs.get(db).is_some_and(|d| d.peek(key).is_some());
                for (id, expired) in watchers.iter_mut() {
                    if *expired {
                        if !stored {
                            *expired = false;
                        }
                        continue;
                    }
                    if let Some(c) = self.clients.map.get_mut(id) {
                        c.watch_dirty = true;
                    }
                }
            }
        }
        if !self.waits.blocked.is_empty() {
            if let Some(ids) = self.waits.blocked.get(&(db, key.into())) {
                for id in ids {
                    if let Some(c) = self.clients.map.get(id) {
                        self.clients.woke.set(true);
                        let _ = c.tx.send(Push::Wake);
                    }
                }
            }
        }
    }

    /// Before database `db` is emptied or swapped with `replaced_with`: the
    /// watchers of keys it holds (or that the other database brings) become
    /// dirty; a key already expired when watched counts only if replaced
    /// (Redis 7.0's touchAllWatchedKeysInDb). Call before the change.
    pub fn touch_watched_in(&mut self, db: usize, replaced_with: Option<usize>) {
        if self.waits.watched.is_empty() {
            return;
        }
        let keys: Vec<(usize, crate::keyspace::Key)> = self.waits.watched.keys().filter(|(d, _)| *d == db).cloned().collect();
        for wk in keys {
            let exists = self.keyspace.dbs.get(db).is_some_and(|d| d.peek(&wk.1).is_some());
            let replaced = replaced_with.is_some_and(|o| self.keyspace.dbs.get(o).is_some_and(|d| d.peek(&wk.1).is_some()));
            if !exists && !replaced {
                continue;
            }
            // The key that takes its place is already past its TTL (Redis's keyIsExpired).
            let now = self.now_ms;
            let replaced_expired = replaced_with.is_some_and(|o| {
                self.keyspace.dbs.get(o).and_then(|d| d.peek(&wk.1)).is_some_and(|e| e.expire_at != 0 && e.expire_at <= now)
            });
            let Some(watchers) = self.waits.watched.get_mut(&wk) else { continue };
            for (id, expired) in watchers.iter_mut() {
                if *expired {
                    if !replaced {
                        // The expired key is gone: no logical change.
                        *expired = false;
                        continue;
                    } else if replaced_expired {
                        // Expired before, expired still.
                        continue;
                    }
                } else if !exists && replaced_expired {
                    // Nothing replaced by an expired key: still nothing.
                    *expired = true;
                    continue;
                }
                if let Some(c) = self.clients.map.get_mut(id) {
                    c.watch_dirty = true;
                }
            }
        }
    }

    /// Marks every WATCHer dirty (a reload replaced the whole dataset).
    pub fn touch_all(&mut self) {
        let ids: Vec<ClientId> = self.waits.watched.values().flat_map(|w| w.iter().map(|(id, _)| *id)).collect();
        for id in ids {
            if let Some(c) = self.clients.map.get_mut(&id) {
                c.watch_dirty = true;
            }
        }
    }

    /// Wakes every client blocked on a key of `db` (after SWAPDB or a
    /// flush): each runs its command again, served by a key that now
    /// exists, failed if its stream group went away, else waiting on.
    pub fn wake_blocked_in(&mut self, db: usize) {
        let ready: Vec<crate::keyspace::Key> = self.waits.blocked.keys().filter(|(d, _)| *d == db).map(|(_, k)| k.clone()).collect();
        for k in ready {
            self.touch_key(db, &k);
        }
    }

    /// Whether `min-replicas-to-write` refuses writes now: too few replicas acked within the max lag.
    pub fn too_few_good_replicas(&self) -> bool {
        let (wanted, max_lag) = self.repl.min_replicas;
        if wanted == 0 || self.repl.master.is_some() {
            return false;
        }
        let good = self
            .repl
            .replicas
            .iter()
            .filter(|r| r.state == crate::replication::ReplicaState::Online && self.now_ms.saturating_sub(r.ack_time_ms) <= max_lag * 1000)
            .count();
        good < wanted
    }

    /// Starts or extends a CLIENT PAUSE (a longer or stronger one wins, as
    /// in Redis). While paused, keys do not expire or get evicted.
    pub fn pause_clients(&mut self, until_ms: u64, all: bool) {
        let p = match self.clients.pause {
            Some(cur) if cur.until_ms > self.now_ms => {
                crate::client::ClientPause { until_ms: cur.until_ms.max(until_ms), all: cur.all || all }
            }
            _ => crate::client::ClientPause { until_ms, all },
        };
        self.clients.pause = Some(p);
        for db in &mut self.keyspace.dbs {
            db.expire_enabled = false;
        }
    }

    /// Ends a CLIENT PAUSE (CLIENT UNPAUSE, or its time is up): waiting
    /// clients run their commands, keys expire again.
    pub fn unpause_clients(&mut self) {
        if self.clients.pause.take().is_none() {
            return;
        }
        let expire = !self.is_replica();
        for db in &mut self.keyspace.dbs {
            db.expire_enabled = expire;
        }
        for id in std::mem::take(&mut self.clients.paused) {
            self.push_to(id, Push::Wake);
        }
    }

    /// The CLIENT PAUSE in force now, ending it if its time is up.
    pub fn client_pause(&mut self) -> Option<crate::client::ClientPause> {
        let p = self.clients.pause?;
        if p.until_ms <= self.now_ms {
            self.unpause_clients();
            return None;
        }
        Some(p)
    }

    /// Re-reads settings cached for the hot path (after start-up and CONFIG SET).
    pub fn refresh_cached_config(&mut self) {
        // `aof-disable-auto-gc no` deletes the history files kept meanwhile.
        crate::persistence::aof::collect_history(&mut self.persistence_parts());
        self.slowlog.threshold_us = self.config.int_named("slowlog-log-slower-than", 10_000);
        self.persistence.aof_timestamps = self.config.flag_named("aof-timestamp-enabled");
        self.repl.backlog.set_capacity(self.config.int_named("repl-backlog-size", 1 << 20).max(0) as usize);
        self.repl.release_unneeded();
        self.latency_threshold_ms = self.config.int_named("latency-monitor-threshold", 0).max(0) as u64;
        self.endpoint_type = crate::cluster::state::EndpointType::from_config(self.config.get("cluster-preferred-endpoint-type"));
        self.sync_announced_hostname();
        self.tracking.max_keys = self.config.int_named("tracking-table-max-keys", 1_000_000).max(0) as usize;
        self.scripting.busy_threshold_ms = self.config.int_named("busy-reply-threshold", 5000).max(0) as u64;
        self.obuf_limits = Node::parse_output_limits(self.config.get("client-output-buffer-limit").unwrap_or(""));
        self.repl.min_replicas = (
            self.config.int_named("min-replicas-to-write", 0).max(0) as usize,
            self.config.int_named("min-replicas-max-lag", 10).max(0) as u64,
        );
        let limits = crate::keyspace::Limits {
            hash_entries: self.config.int_named("hash-max-listpack-entries", 512).max(0) as usize,
            hash_value: self.config.int_named("hash-max-listpack-value", 64).max(0) as usize,
            set_intset_entries: self.config.int_named("set-max-intset-entries", 512).max(0) as usize,
            zset_entries: self.config.int_named("zset-max-listpack-entries", 128).max(0) as usize,
            zset_value: self.config.int_named("zset-max-listpack-value", 64).max(0) as usize,
            list_fill: self.config.int_named("list-max-listpack-size", -2),
            hll_sparse_max: self.config.int_named("hll-sparse-max-bytes", 3000).max(0) as usize,
            stream_node: crate::keyspace::stream::NodeLimits {
                max_bytes: self.config.int_named("stream-node-max-bytes", 4096).max(0) as usize,
                max_entries: self.config.int_named("stream-node-max-entries", 100).max(0) as usize,
            },
            list_packed_threshold: match self.keyspace.list_packed_threshold {
                0 => crate::keyspace::DEFAULT_PACKED_THRESHOLD,
                n => n,
            },
        };
        let flags = self.config.get("notify-keyspace-events").and_then(crate::util::events::parse).unwrap_or(0);
        self.pubsub.notify_flags = flags;
        let track_new =
            flags & crate::util::events::NEW != 0 && flags & (crate::util::events::KEYSPACE | crate::util::events::KEYEVENT) != 0;
        self.keyspace.maxmemory = self.config.int_named("maxmemory", 0).max(0) as u64;
        // Set again (with what eviction does not count) before each command while limited.
        self.update_growth_limit(0);
        let policy = self.config.get("maxmemory-policy").unwrap_or("noeviction");
        let lru_mode = if policy.ends_with("lfu") {
            crate::keyspace::lru::Mode::Lfu {
                log_factor: self.config.int_named("lfu-log-factor", 10).max(0) as f64,
                decay_minutes: self.config.int_named("lfu-decay-time", 1).max(0) as u64,
            }
        } else {
            crate::keyspace::lru::Mode::Lru
        };
        for db in &mut self.keyspace.dbs {
            db.limits = limits;
            db.lru_mode = lru_mode;
            if track_new != db.new_keys.is_some() {
                db.new_keys = track_new.then(Vec::new);
            }
        }
        self.refresh_client_eviction();
    }

    /// Appends one executed write to the propagated stream, SELECTing its db first when needed.
    #[inline]
    pub fn propagate<A: AsRef<[u8]>>(&mut self, db: usize, argv: &[A]) {
        self.propagation.push(db, argv);
    }

    /// Whether executed writes must be recorded for replicas or the AOF.
    #[inline]
    pub fn propagation_wanted(&self) -> bool {
        // A replica's backlog takes its master's bytes as they are (replica.rs); only the AOF needs re-encoding there.
        self.propagation.consumers > 0 || (self.repl.backlog_active && self.repl.master.is_none())
    }

    /// Hands the commands executed since the last call to their consumers
    /// (the AOF; replication feeds from here too). Called at the end of each batch.
    pub fn flush_propagated(&mut self) {
        if self.propagation.buf.is_empty() {
            return;
        }
        self.feed_stream();
    }

    /// Whether this node accepts writes from clients (false on a read-only replica).
    pub fn is_read_only_replica(&self) -> bool {
        self.is_replica() && self.config.flag_named("replica-read-only")
    }

    /// Whether this node replicates from a master (cluster role or REPLICAOF).
    pub fn is_replica(&self) -> bool {
        match self.cluster.as_ref() {
            Some(c) => c.myself_is_replica(),
            None => self.repl.master.is_some(),
        }
    }
}
