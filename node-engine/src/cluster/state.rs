//! The cluster state as this node sees it: known nodes, slot owners, epochs,
//! open (migrating/importing) slots. Pure data plus the rules that change it;
//! the bus does the I/O. Persisted as `cluster-config-file` in the
//! CLUSTER NODES line format, plus a `vars` line, like Redis's nodes.conf.

use crate::slot::SLOTS;
use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;

/// A node id: 40 lowercase hex characters.
pub type NodeId = String;

/// Per-node flags as CLUSTER NODES prints them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Flags {
    pub master: bool,
    pub replica: bool,
    pub pfail: bool,
    pub fail: bool,
    pub handshake: bool,
    pub noaddr: bool,
    pub nofailover: bool,
}

impl Flags {
    pub fn to_bits(&self) -> u16 {
        (self.master as u16)
            | (self.replica as u16) << 1
            | (self.pfail as u16) << 2
            | (self.fail as u16) << 3
            | (self.handshake as u16) << 4
            | (self.noaddr as u16) << 5
            | (self.nofailover as u16) << 6
    }
    pub fn from_bits(b: u16) -> Flags {
        Flags {
            master: b & 1 != 0,
            replica: b & 2 != 0,
            pfail: b & 4 != 0,
            fail: b & 8 != 0,
            handshake: b & 16 != 0,
            noaddr: b & 32 != 0,
            nofailover: b & 64 != 0,
        }
    }
}

/// A bitmap of 16384 slots.
#[derive(Clone, PartialEq, Eq)]
pub struct SlotSet(pub Box<[u64; SLOTS / 64]>);

impl std::fmt::Debug for SlotSet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SlotSet({} slots)", self.count())
    }
}

impl Default for SlotSet {
    fn default() -> Self {
        SlotSet(Box::new([0; SLOTS / 64]))
    }
}

impl SlotSet {
    pub fn contains(&self, s: u16) -> bool {
        self.0[s as usize / 64] & (1 << (s % 64)) != 0
    }
    pub fn insert(&mut self, s: u16) {
        self.0[s as usize / 64] |= 1 << (s % 64);
    }
    pub fn remove(&mut self, s: u16) {
        self.0[s as usize / 64] &= !(1 << (s % 64));
    }
    pub fn count(&self) -> usize {
        self.0.iter().map(|w| w.count_ones() as usize).sum()
    }
    pub fn is_empty(&self) -> bool {
        self.0.iter().all(|w| *w == 0)
    }
    pub fn iter(&self) -> impl Iterator<Item = u16> + '_ {
        (0..SLOTS as u16).filter(|s| self.contains(*s))
    }
    /// Contiguous ranges, as CLUSTER NODES and SLOTS print them.
    pub fn ranges(&self) -> Vec<(u16, u16)> {
        let mut out = Vec::new();
        let mut start: Option<u16> = None;
        for s in 0..SLOTS as u16 {
            match (self.contains(s), start) {
                (true, None) => start = Some(s),
                (false, Some(a)) => {
                    out.push((a, s - 1));
                    start = None;
                }
                _ => {}
            }
        }
        if let Some(a) = start {
            out.push((a, SLOTS as u16 - 1));
        }
        out
    }
    pub fn to_bytes(&self) -> Vec<u8> {
        self.0.iter().flat_map(|w| w.to_le_bytes()).collect()
    }
    pub fn from_bytes(b: &[u8]) -> Option<SlotSet> {
        if b.len() != SLOTS / 8 {
            return None;
        }
        let mut s = SlotSet::default();
        for (i, chunk) in b.chunks(8).enumerate() {
            let mut w = [0u8; 8];
            w.copy_from_slice(chunk);
            s.0[i] = u64::from_le_bytes(w);
        }
        Some(s)
    }
}

/// `cluster-preferred-endpoint-type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EndpointType {
    Ip,
    Hostname,
    /// `unknown-endpoint`: clients reuse the address they connected to.
    Unknown,
}

impl EndpointType {
    pub fn from_config(v: Option<&str>) -> EndpointType {
        match v.map(str::to_ascii_lowercase).as_deref() {
            Some("hostname") => EndpointType::Hostname,
            Some("unknown-endpoint") => EndpointType::Unknown,
            _ => EndpointType::Ip,
        }
    }
}

/// What this node knows about one cluster node (itself included).
#[derive(Debug, Clone)]
pub struct ClusterNode {
    pub id: NodeId,
    pub ip: String,
    /// Its `cluster-announce-hostname` (empty: none), as Redis 7.0 gossips it.
    pub hostname: String,
    pub port: u16,
    pub bus_port: u16,
    pub flags: Flags,
    pub master_id: Option<NodeId>,
    /// Unix ms of the oldest ping not yet answered (0 = none pending).
    pub ping_sent: u64,
    pub pong_received: u64,
    pub config_epoch: u64,
    pub slots: SlotSet,
    /// Whether our outbound bus link to it is up.
    pub link_up: bool,
    /// Masters that reported it as PFAIL/FAIL, with the time of the report.
    pub fail_reports: HashMap<NodeId, u64>,
    pub fail_time: u64,
    pub repl_offset: u64,
    /// When it was created (handshake nodes time out).
    pub ctime: u64,
    /// Send MEET instead of PING when the link comes up (CLUSTER MEET).
    pub meet: bool,
    /// Earliest unix ms for the next connection attempt (dead peers are retried calmly).
    pub next_link_attempt: u64,
    /// Since when this master with slots has had no working replica (0 = it has one).
    pub orphaned_since: u64,
}

impl ClusterNode {
    pub fn new(id: NodeId, ip: &str, port: u16, bus_port: u16, now: u64) -> Self {
        ClusterNode {
            id,
            ip: ip.to_string(),
            hostname: String::new(),
            port,
            bus_port,
            flags: Flags { master: true, ..Flags::default() },
            master_id: None,
            ping_sent: 0,
            pong_received: 0,
            config_epoch: 0,
            slots: SlotSet::default(),
            link_up: false,
            fail_reports: HashMap::new(),
            fail_time: 0,
            repl_offset: 0,
            ctime: now,
            meet: false,
            next_link_attempt: 0,
            orphaned_since: 0,
        }
    }
    /// What clients are told to connect to (MOVED, ASK, CLUSTER SLOTS),
    /// as `cluster-preferred-endpoint-type` says.
    pub fn endpoint(&self, kind: EndpointType) -> &str {
        match kind {
            EndpointType::Ip => &self.ip,
            EndpointType::Hostname if self.hostname.is_empty() => "?",
            EndpointType::Hostname => &self.hostname,
            EndpointType::Unknown => "",
        }
    }
    pub fn is_master(&self) -> bool {
        self.master_id.is_none() && !self.flags.replica
    }
    pub fn is_failing(&self) -> bool {
        self.flags.fail || self.flags.pfail
    }
    /// The flags field of a CLUSTER NODES line.
    pub fn flags_text(&self, myself: bool) -> String {
        let mut f: Vec<&str> = Vec::new();
        if myself {
            f.push("myself");
        }
        if self.is_master() {
            f.push("master");
        } else {
            f.push("slave");
        }
        if self.flags.pfail {
            f.push("fail?");
        }
        if self.flags.fail {
            f.push("fail");
        }
        if self.flags.handshake {
            f.push("handshake");
        }
        if self.flags.noaddr {
            f.push("noaddr");
        }
        if self.flags.nofailover {
            f.push("nofailover");
        }
        f.join(",")
    }
}

/// Counters for CLUSTER INFO's cluster_stats_messages_* lines.
#[derive(Debug, Default, Clone)]
pub struct MessageStats {
    pub sent: BTreeMap<&'static str, u64>,
    pub received: BTreeMap<&'static str, u64>,
}

/// A replica's election in progress.
#[derive(Debug, Clone, Default)]
pub struct Election {
    /// Unix ms when the election may start (after the rank delay).
    pub start_at: u64,
    /// The epoch we asked votes for (0 = not yet sent).
    pub epoch: u64,
    pub votes: usize,
    pub voters: Vec<NodeId>,
    /// Unix ms after which a running election is abandoned.
    pub deadline: u64,
    /// Manual failover: masters vote even though the master is not failed.
    pub forced: bool,
}

/// A manual failover (CLUSTER FAILOVER without FORCE/TAKEOVER) in progress on the replica.
#[derive(Debug, Clone, Default)]
pub struct ManualFailover {
    pub deadline: u64,
    /// The master's replication offset once it has paused its clients.
    pub master_offset: Option<u64>,
}

/// What the rules know of an outbound link: which one it is and its age.
#[derive(Debug, Clone, Copy)]
pub struct LinkInfo {
    /// Distinguishes a link from its replacement when an old one ends late.
    pub generation: u64,
    /// Unix ms the link was opened: a link younger than the node timeout is
    /// never dropped as stale (as in Redis), or a reconnect that inherits an
    /// old pending ping could be torn down before its first PONG, forever.
    pub created_ms: u64,
}

#[derive(Debug)]
pub struct ClusterState {
    pub myself: NodeId,
    pub nodes: BTreeMap<NodeId, ClusterNode>,
    /// Owner of each slot.
    pub owners: Vec<Option<NodeId>>,
    pub migrating: BTreeMap<u16, NodeId>,
    pub importing: BTreeMap<u16, NodeId>,
    pub current_epoch: u64,
    pub last_vote_epoch: u64,
    /// Masters whose replica got our vote, with the time (one vote per master per 2 * node timeout).
    pub voted_for_master: HashMap<NodeId, u64>,
    pub ok: bool,
    pub stats: MessageStats,
    pub config_file: PathBuf,
    pub node_timeout: u64,
    pub election: Option<Election>,
    pub manual_failover: Option<ManualFailover>,
    /// Until when this master pauses client writes for a manual failover.
    pub paused_until: u64,
    /// Nodes removed with CLUSTER FORGET, not re-added by gossip for 60 s.
    pub blacklist: HashMap<NodeId, u64>,
    /// Set when the state changed and must be written to nodes.conf.
    pub dirty_config: bool,
    /// Our outbound bus links, by node id (the I/O side lives with the bus).
    pub links: HashMap<NodeId, LinkInfo>,
    /// Unix ms when the cluster last became reachable from a minority partition, for rejoin delay.
    pub state_changed_at: u64,
}

impl ClusterState {
    pub fn new(myself: NodeId, ip: &str, port: u16, bus_port: u16, config_file: PathBuf, node_timeout: u64) -> Self {
        let now = crate::util::time::unix_ms();
        let mut me = ClusterNode::new(myself.clone(), ip, port, bus_port, now);
        me.link_up = true;
        let mut nodes = BTreeMap::new();
        nodes.insert(myself.clone(), me);
        ClusterState {
            myself,
            nodes,
            owners: vec![None; SLOTS],
            migrating: BTreeMap::new(),
            importing: BTreeMap::new(),
            current_epoch: 0,
            last_vote_epoch: 0,
            voted_for_master: HashMap::new(),
            ok: false,
            stats: MessageStats::default(),
            config_file,
            node_timeout,
            election: None,
            manual_failover: None,
            paused_until: 0,
            blacklist: HashMap::new(),
            dirty_config: true,
            links: HashMap::new(),
            state_changed_at: now,
        }
    }

    pub fn myself_node(&self) -> &ClusterNode {
        // The myself entry is inserted at creation and never removed.
        &self.nodes[&self.myself]
    }
    pub fn myself_mut(&mut self) -> &mut ClusterNode {
        let id = self.myself.clone();
        self.nodes.entry(id.clone()).or_insert_with(|| ClusterNode::new(id, "127.0.0.1", 0, 0, 0))
    }
    pub fn myself_is_replica(&self) -> bool {
        !self.myself_node().is_master()
    }

    /// The master of `id` if it is a replica, else itself.
    pub fn master_of<'a>(&'a self, id: &'a str) -> &'a str {
        self.nodes.get(id).and_then(|n| n.master_id.as_deref()).unwrap_or(id)
    }

    /// Replicas of a master.
    pub fn replicas_of(&self, master: &str) -> Vec<&ClusterNode> {
        self.nodes.values().filter(|n| n.master_id.as_deref() == Some(master)).collect()
    }

    /// Masters that serve at least one slot: the voters.
    pub fn voting_masters(&self) -> usize {
        self.nodes.values().filter(|n| n.is_master() && !n.slots.is_empty()).count()
    }

    /// Votes needed: a majority of masters with slots.
    pub fn quorum(&self) -> usize {
        self.voting_masters() / 2 + 1
    }

    /// Assigns a slot (keeping each node's slot bitmap in step).
    pub fn set_owner(&mut self, slot: u16, owner: Option<&str>) {
        if let Some(old) = self.owners[slot as usize].take() {
            if let Some(n) = self.nodes.get_mut(&old) {
                n.slots.remove(slot);
            }
        }
        if let Some(o) = owner {
            if let Some(n) = self.nodes.get_mut(o) {
                n.slots.insert(slot);
                self.owners[slot as usize] = Some(o.to_string());
            }
        }
        self.dirty_config = true;
    }

    /// Removes a node entirely (FORGET, handshake timeout).
    pub fn remove_node(&mut self, id: &str) {
        let slots: Vec<u16> = self.nodes.get(id).map(|n| n.slots.iter().collect()).unwrap_or_default();
        for s in slots {
            self.owners[s as usize] = None;
        }
        self.nodes.remove(id);
        for n in self.nodes.values_mut() {
            n.fail_reports.remove(id);
            if n.master_id.as_deref() == Some(id) {
                n.master_id = None;
                n.flags.replica = false;
                n.flags.master = true;
            }
        }
        self.migrating.retain(|_, t| t != id);
        self.importing.retain(|_, t| t != id);
        self.dirty_config = true;
    }

    /// Recomputes cluster_state: ok when every slot is served by a non-failed
    /// master (with full coverage required) and we are not in a minority partition.
    pub fn update_state(&mut self, require_full_coverage: bool, now: u64) -> bool {
        let mut ok = true;
        if require_full_coverage {
            for owner in &self.owners {
                match owner.as_ref().and_then(|o| self.nodes.get(o)) {
                    Some(n) if !n.flags.fail => {}
                    _ => {
                        ok = false;
                        break;
                    }
                }
            }
        }
        // A master in a minority partition stops serving (Redis: reachable masters < quorum).
        let size = self.voting_masters();
        if ok && size > 0 {
            let reachable =
                self.nodes.values().filter(|n| n.is_master() && !n.slots.is_empty() && (n.id == self.myself || !n.is_failing())).count();
            if reachable < size / 2 + 1 {
                ok = false;
            }
        }
        if ok != self.ok {
            self.ok = ok;
            self.state_changed_at = now;
            tracing::warn!("cluster state changed: {}", if ok { "ok" } else { "fail" });
        }
        ok
    }

    /// CLUSTER NODES text (also the nodes.conf body).
    pub fn nodes_text(&self, for_file: bool) -> String {
        let mut out = String::new();
        let mut ids: Vec<&NodeId> = self.nodes.keys().collect();
        // Redis prints in hash-table order; we print myself first, then by id, which is stable.
        ids.sort_by_key(|id| (**id != self.myself, (*id).clone()));
        for id in ids {
            let n = &self.nodes[id];
            if n.flags.handshake && for_file {
                continue;
            }
            out.push_str(&self.node_line(n));
            out.push('\n');
        }
        out
    }

    /// One CLUSTER NODES line, byte for byte in Redis 7's format.
    pub fn node_line(&self, n: &ClusterNode) -> String {
        let me = n.id == self.myself;
        let link = if me || n.link_up { "connected" } else { "disconnected" };
        // Like Redis, a replica's line shows its master's config epoch.
        let epoch = n.master_id.as_ref().and_then(|m| self.nodes.get(m)).map_or(n.config_epoch, |m| m.config_epoch);
        let hostname = if n.hostname.is_empty() { String::new() } else { format!(",{}", n.hostname) };
        let mut line = format!(
            "{} {}:{}@{}{hostname} {} {} {} {} {} {}",
            n.id,
            n.ip,
            n.port,
            n.bus_port,
            n.flags_text(me),
            n.master_id.as_deref().unwrap_or("-"),
            if me { 0 } else { n.ping_sent },
            if me { 0 } else { n.pong_received },
            epoch,
            link
        );
        for (a, b) in n.slots.ranges() {
            if a == b {
                line.push_str(&format!(" {a}"));
            } else {
                line.push_str(&format!(" {a}-{b}"));
            }
        }
        if me {
            for (slot, target) in &self.migrating {
                line.push_str(&format!(" [{slot}->-{target}]"));
            }
            for (slot, src) in &self.importing {
                line.push_str(&format!(" [{slot}-<-{src}]"));
            }
        }
        line
    }

    /// CLUSTER INFO text.
    pub fn info_text(&self) -> String {
        let assigned = self.owners.iter().filter(|o| o.is_some()).count();
        let (mut pfail, mut fail) = (0, 0);
        for o in self.owners.iter().flatten() {
            if let Some(n) = self.nodes.get(o) {
                if n.flags.fail {
                    fail += 1;
                } else if n.flags.pfail {
                    pfail += 1;
                }
            }
        }
        let size = self.voting_masters();
        let mut out = format!(
            "cluster_state:{}\r\ncluster_slots_assigned:{assigned}\r\ncluster_slots_ok:{}\r\ncluster_slots_pfail:{pfail}\r\ncluster_slots_fail:{fail}\r\ncluster_known_nodes:{}\r\ncluster_size:{size}\r\ncluster_current_epoch:{}\r\ncluster_my_epoch:{}\r\n",
            if self.ok { "ok" } else { "fail" },
            assigned - pfail - fail,
            self.nodes.len(),
            self.current_epoch,
            self.nodes.get(self.master_of(&self.myself)).map_or(0, |n| n.config_epoch),
        );
        let sent: u64 = self.stats.sent.values().sum();
        for (k, v) in &self.stats.sent {
            out.push_str(&format!("cluster_stats_messages_{k}_sent:{v}\r\n"));
        }
        out.push_str(&format!("cluster_stats_messages_sent:{sent}\r\n"));
        let received: u64 = self.stats.received.values().sum();
        for (k, v) in &self.stats.received {
            out.push_str(&format!("cluster_stats_messages_{k}_received:{v}\r\n"));
        }
        out.push_str(&format!("cluster_stats_messages_received:{received}\r\ntotal_cluster_links_buffer_limit_exceeded:0\r\n"));
        out
    }

    /// Raises currentEpoch to at least `e`.
    pub fn observe_epoch(&mut self, e: u64) {
        if e > self.current_epoch {
            self.current_epoch = e;
            self.dirty_config = true;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::NodeConfig;

    #[test]
    fn nodes_line_and_roundtrip() {
        let dir = tempfile::tempdir().unwrap();
        let mut cfg = NodeConfig::default();
        cfg.set_checked("dir", dir.path().to_str().unwrap()).unwrap();
        cfg.set_checked("cluster-enabled", "yes").unwrap();
        cfg.set_checked("port", "7000").unwrap();
        let mut st = ClusterState::load_or_create(&cfg).unwrap();
        let me = st.myself.clone();
        for s in 0..=5460 {
            st.set_owner(s, Some(&me));
        }
        st.set_owner(9842, Some(&me));
        st.migrating.insert(9842, "a".repeat(40));
        st.current_epoch = 7;
        let line = st.node_line(st.myself_node());
        assert!(line.starts_with(&format!("{me} 127.0.0.1:7000@17000 myself,master - 0 0 0 connected 0-5460 9842 [9842->-")), "{line}");
        st.save_config().unwrap();
        let back = ClusterState::load_or_create(&cfg).unwrap();
        assert_eq!(back.myself, me);
        assert_eq!(back.current_epoch, 7);
        assert_eq!(back.myself_node().slots.count(), 5462);
        assert_eq!(back.migrating.get(&9842).map(String::len), Some(40));
    }

    #[test]
    fn slot_ranges() {
        let mut s = SlotSet::default();
        for x in [0, 1, 2, 5, 16383] {
            s.insert(x);
        }
        assert_eq!(s.ranges(), vec![(0, 2), (5, 5), (16383, 16383)]);
        assert_eq!(SlotSet::from_bytes(&s.to_bytes()), Some(s));
    }
}
