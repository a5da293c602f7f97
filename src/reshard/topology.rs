//! The cluster as its nodes describe it: every node's own CLUSTER NODES line
//! (the only place Redis shows a node's open slots) plus each node's view of
//! the others, so checks can tell when nodes disagree.

use super::ReshardError;
use crate::cluster_admin::{Conn, Resp};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::Duration;

/// One line of CLUSTER NODES.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NodeLine {
    pub id: String,
    /// None for a node without address yet (`noaddr`, handshake).
    pub addr: Option<SocketAddr>,
    pub flags: Vec<String>,
    /// The master's id for a replica.
    pub master_id: Option<String>,
    pub config_epoch: u64,
    pub link: String,
    /// Slot ranges, inclusive.
    pub slots: Vec<(u16, u16)>,
    /// `[slot->-id]`: this node migrates `slot` to `id` (only on the myself line).
    pub migrating: Vec<(u16, String)>,
    /// `[slot-<-id]`: this node imports `slot` from `id` (only on the myself line).
    pub importing: Vec<(u16, String)>,
}

impl NodeLine {
    pub fn has_flag(&self, f: &str) -> bool {
        self.flags.iter().any(|x| x == f)
    }
    /// The client port (0 when the node has no address yet).
    pub fn port(&self) -> u16 {
        self.addr.map_or(0, |a| a.port())
    }
    pub fn is_master(&self) -> bool {
        self.has_flag("master")
    }
    /// Marked failing (`fail` or `fail?`) in this view.
    pub fn failing(&self) -> bool {
        self.has_flag("fail") || self.has_flag("fail?")
    }
    pub fn slot_count(&self) -> usize {
        self.slots.iter().map(|(a, b)| usize::from(b - a) + 1).sum()
    }
    pub fn owns(&self, slot: u16) -> bool {
        self.slots.iter().any(|&(a, b)| a <= slot && slot <= b)
    }
    /// Port for messages: the node's port, or its id prefix when it has no address.
    pub fn label(&self) -> String {
        match self.addr {
            Some(a) => a.port().to_string(),
            None => self.id.chars().take(8).collect(),
        }
    }
}

fn parse_addr(s: &str) -> Option<SocketAddr> {
    let hostport = s.split(['@', ',']).next()?;
    let (host, port) = hostport.rsplit_once(':')?;
    let port: u16 = port.parse().ok()?;
    if port == 0 || host.is_empty() {
        return None;
    }
    format!("{host}:{port}").parse().ok().or_else(|| format!("[{host}]:{port}").parse().ok())
}

/// Parses CLUSTER NODES output; malformed lines are skipped.
pub fn parse_nodes(text: &str) -> Vec<NodeLine> {
    let mut out = Vec::new();
    for line in text.lines() {
        let f: Vec<&str> = line.split_whitespace().collect();
        if f.len() < 8 {
            continue;
        }
        let mut n = NodeLine {
            id: f[0].to_string(),
            addr: parse_addr(f[1]),
            flags: f[2].split(',').map(str::to_string).collect(),
            master_id: (f[3] != "-").then(|| f[3].to_string()),
            config_epoch: f[6].parse().unwrap_or(0),
            link: f[7].to_string(),
            slots: Vec::new(),
            migrating: Vec::new(),
            importing: Vec::new(),
        };
        for s in &f[8..] {
            if let Some(inner) = s.strip_prefix('[').and_then(|x| x.strip_suffix(']')) {
                if let Some((slot, id)) = inner.split_once("->-") {
                    if let Ok(slot) = slot.parse() {
                        n.migrating.push((slot, id.to_string()));
                    }
                } else if let Some((slot, id)) = inner.split_once("-<-") {
                    if let Ok(slot) = slot.parse() {
                        n.importing.push((slot, id.to_string()));
                    }
                }
                continue;
            }
            let (a, b) = s.split_once('-').unwrap_or((s, s));
            if let (Ok(a), Ok(b)) = (a.parse::<u16>(), b.parse::<u16>()) {
                if a <= b && b < 16384 {
                    n.slots.push((a, b));
                }
            }
        }
        out.push(n);
    }
    out
}

/// A node of the cluster as it reports itself (or as others see it when it
/// does not answer).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Member {
    /// Its own myself line, or a peer's line about it when unreachable.
    pub me: NodeLine,
    pub reachable: bool,
    /// Its whole CLUSTER NODES (empty when unreachable).
    pub view: Vec<NodeLine>,
    /// DBSIZE (None when unreachable).
    pub keys: Option<u64>,
    /// cluster_state from its CLUSTER INFO.
    pub state: Option<String>,
}

impl Member {
    pub fn id(&self) -> &str {
        &self.me.id
    }
    pub fn addr(&self) -> Result<SocketAddr, ReshardError> {
        self.me.addr.ok_or_else(|| {
            ReshardError::Invalid(format!("node {} has no address yet (still in handshake); try again in a moment", self.me.id))
        })
    }
}

/// Every node of the cluster, found from seed addresses.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Topology {
    pub members: Vec<Member>,
}

/// Reads one node's CLUSTER NODES, DBSIZE and CLUSTER INFO.
async fn read_member(addr: SocketAddr, limit: Duration) -> Result<(Vec<NodeLine>, u64, Option<String>), ReshardError> {
    let mut c = Conn::connect(addr, limit).await?;
    let replies = c
        .pipeline(&[vec![b"CLUSTER".to_vec(), b"NODES".to_vec()], vec![b"DBSIZE".to_vec()], vec![b"CLUSTER".to_vec(), b"INFO".to_vec()]])
        .await?;
    let text = match &replies[0] {
        Resp::Error(e) => {
            return Err(ReshardError::Invalid(format!(
                "node {addr} refused CLUSTER NODES ({e}); is cluster-enabled on? slotd's generated conf sets it"
            )))
        }
        r => r.text().unwrap_or_default(),
    };
    let keys = match &replies[1] {
        Resp::Int(n) => (*n).max(0) as u64,
        _ => 0,
    };
    let state = replies[2].text().and_then(|t| crate::cluster_admin::info_field(&t, "cluster_state"));
    Ok((parse_nodes(&text), keys, state))
}

impl Topology {
    /// Discovers the cluster from `seeds` (the first that answers gives the
    /// node list), then asks every node about itself.
    ///
    /// # Errors
    /// No seed answers, or the answering node is not in cluster mode.
    pub async fn load(seeds: &[SocketAddr]) -> Result<Topology, ReshardError> {
        let limit = Duration::from_secs(2);
        let mut first: Option<Vec<NodeLine>> = None;
        let mut errors = Vec::new();
        for s in seeds {
            match read_member(*s, limit).await {
                Ok((view, _, _)) if !view.is_empty() => {
                    first = Some(view);
                    break;
                }
                Ok(_) => errors.push(format!("{s}: empty CLUSTER NODES")),
                Err(e) => errors.push(e.to_string()),
            }
        }
        let Some(seed_view) = first else {
            return Err(ReshardError::Invalid(format!(
                "no node answered CLUSTER NODES ({}); start the nodes with `slotctl start all`",
                errors.join("; ")
            )));
        };
        let mut by_id: BTreeMap<String, NodeLine> = BTreeMap::new();
        for n in seed_view {
            if !n.has_flag("handshake") {
                by_id.insert(n.id.clone(), n);
            }
        }
        let mut members = Vec::new();
        for (_, line) in by_id {
            let Some(addr) = line.addr else {
                members.push(Member { me: line, reachable: false, view: Vec::new(), keys: None, state: None });
                continue;
            };
            match read_member(addr, limit).await {
                Ok((view, keys, state)) => {
                    let me = view.iter().find(|l| l.has_flag("myself")).cloned().unwrap_or(line);
                    members.push(Member { me, reachable: true, view, keys: Some(keys), state });
                }
                Err(_) => members.push(Member { me: line, reachable: false, view: Vec::new(), keys: None, state: None }),
            }
        }
        members.sort_by_key(|m| m.me.addr.map(|a| (a.ip(), a.port())));
        Ok(Topology { members })
    }

    /// Masters, in port order.
    pub fn masters(&self) -> impl Iterator<Item = &Member> {
        self.members.iter().filter(|m| m.me.is_master())
    }

    pub fn by_id(&self, id: &str) -> Option<&Member> {
        self.members.iter().find(|m| m.me.id == id)
    }

    /// Finds a node by port (`6381`), name (`node6381`), `host:port`, or id
    /// (or a unique id prefix of at least 6 characters).
    ///
    /// # Errors
    /// No node or several nodes match; the message lists the known nodes.
    pub fn resolve(&self, key: &str) -> Result<&Member, ReshardError> {
        let key = key.trim();
        let port = key.strip_prefix("node").unwrap_or(key).parse::<u16>().ok();
        let addr: Option<SocketAddr> = key.parse().ok();
        let hits: Vec<&Member> = self
            .members
            .iter()
            .filter(|m| {
                m.me.id == key
                    || (key.len() >= 6 && m.me.id.starts_with(key) && port.is_none())
                    || (port.is_some() && m.me.addr.map(|a| a.port()) == port)
                    || (addr.is_some() && m.me.addr == addr)
            })
            .collect();
        match hits.as_slice() {
            [one] => Ok(one),
            [] => Err(ReshardError::UnknownNode { key: key.to_string(), known: self.describe_all() }),
            many => Err(ReshardError::Invalid(format!(
                "`{key}` matches several nodes ({}); give host:port or the full node id",
                many.iter().map(|m| m.me.addr.map(|a| a.to_string()).unwrap_or_else(|| m.me.id.clone())).collect::<Vec<_>>().join(", ")
            ))),
        }
    }

    fn describe_all(&self) -> String {
        self.members
            .iter()
            .map(|m| format!("{} ({})", m.me.label(), if m.me.is_master() { "master" } else { "replica" }))
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// Who owns each slot according to the owner itself (its myself line);
    /// None when no reachable node claims it.
    pub fn self_claims(&self) -> Vec<Vec<&str>> {
        let mut out: Vec<Vec<&str>> = vec![Vec::new(); 16384];
        for m in self.members.iter().filter(|m| m.reachable && m.me.is_master()) {
            for &(a, b) in &m.me.slots {
                for s in a..=b {
                    out[s as usize].push(m.me.id.as_str());
                }
            }
        }
        out
    }

    /// Slots open anywhere: (slot, node id, other id, migrating?).
    pub fn open_slots(&self) -> Vec<(u16, String, String, bool)> {
        let mut out = Vec::new();
        for m in self.members.iter().filter(|m| m.reachable) {
            for (s, to) in &m.me.migrating {
                out.push((*s, m.me.id.clone(), to.clone(), true));
            }
            for (s, from) in &m.me.importing {
                out.push((*s, m.me.id.clone(), from.clone(), false));
            }
        }
        out.sort();
        out
    }
}

/// Compresses sorted slots into inclusive ranges.
pub fn ranges(slots: &[u16]) -> Vec<(u16, u16)> {
    let mut out: Vec<(u16, u16)> = Vec::new();
    for &s in slots {
        match out.last_mut() {
            Some((_, b)) if *b + 1 == s => *b = s,
            _ => out.push((s, s)),
        }
    }
    out
}

/// "0-5460,9842" style text.
pub fn ranges_text(r: &[(u16, u16)]) -> String {
    if r.is_empty() {
        return "-".into();
    }
    r.iter().map(|(a, b)| if a == b { a.to_string() } else { format!("{a}-{b}") }).collect::<Vec<_>>().join(",")
}

#[cfg(test)]
mod tests {
    use super::*;

    const NODES: &str = "\
07c37dfeb235213a872192d90877d0cd55635b91 127.0.0.1:30004@31004 slave e7d1eecce10fd6bb5eb35b9f99a514335d9ba9ca 0 1426238317239 4 connected
67ed2db8d677e59ec4a4cefb06858cf2a1a89fa1 127.0.0.1:30002@31002,host.example master - 0 1426238316232 2 connected 5461-10922
e7d1eecce10fd6bb5eb35b9f99a514335d9ba9ca 127.0.0.1:30001@31001 myself,master - 0 0 1 connected 0-5460 [9842->-67ed2db8d677e59ec4a4cefb06858cf2a1a89fa1] [77-<-292f8b365bb7edb5e285caf0b7e6ddc7265d2f4f]
6ec23923021cf3ffec47632106199cb7f496ce01 :0@0 master,fail?,noaddr - 1426238316232 1426238316232 5 disconnected
";

    #[test]
    fn parses_lines_slots_and_open_markers() {
        let n = parse_nodes(NODES);
        assert_eq!(n.len(), 4);
        assert_eq!(n[0].master_id.as_deref(), Some("e7d1eecce10fd6bb5eb35b9f99a514335d9ba9ca"));
        assert!(!n[0].is_master());
        assert_eq!(n[1].addr, Some("127.0.0.1:30002".parse().unwrap_or_else(|_| unreachable!())));
        assert_eq!(n[1].slots, vec![(5461, 10922)]);
        assert_eq!(n[2].slots, vec![(0, 5460)]);
        assert_eq!(n[2].migrating, vec![(9842, "67ed2db8d677e59ec4a4cefb06858cf2a1a89fa1".to_string())]);
        assert_eq!(n[2].importing, vec![(77, "292f8b365bb7edb5e285caf0b7e6ddc7265d2f4f".to_string())]);
        assert!(n[2].has_flag("myself"));
        assert_eq!(n[2].slot_count(), 5461);
        assert_eq!(n[3].addr, None);
        assert!(n[3].failing());
    }

    #[test]
    fn slot_ranges_compress() {
        assert_eq!(ranges(&[1, 2, 3, 7, 9, 10]), vec![(1, 3), (7, 7), (9, 10)]);
        assert_eq!(ranges_text(&ranges(&[1, 2, 3, 7])), "1-3,7");
        assert_eq!(ranges_text(&[]), "-");
    }
}
