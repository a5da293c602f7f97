//! The cluster as its nodes describe it (CLUSTER NODES), and node selectors
//! used by faults and labs: a port, a name, `all`, or a role such as
//! `master-of-slot-0` whose port is only known at the moment it is used.

use crate::cluster_admin::{AdminError, Conn};
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::Duration;

/// CLUSTER NODES lines: one parser for the whole supervisor (reshard, faults, labs, events).
pub use crate::reshard::topology::{parse_nodes, NodeLine};

/// Asks `addr` for CLUSTER NODES.
///
/// # Errors
/// The node is unreachable or not in cluster mode.
pub async fn fetch(addr: SocketAddr, limit: Duration) -> Result<Vec<NodeLine>, AdminError> {
    let mut c = Conn::connect(addr, limit).await?;
    Ok(parse_nodes(&c.text(&["CLUSTER", "NODES"]).await?))
}

/// The view of the first node in `addrs` that answers, with the newest epochs:
/// the node that answers with the highest config epoch for a slot wins it.
pub async fn merged_view(addrs: &[SocketAddr], limit: Duration) -> Vec<NodeLine> {
    let mut views = Vec::new();
    for a in addrs {
        if let Ok(v) = fetch(*a, limit).await {
            views.push(v);
        }
    }
    // Prefer the view whose masters have the highest summed epoch: it has seen the latest failover.
    views.into_iter().max_by_key(|v| v.iter().filter(|n| n.is_master()).map(|n| n.config_epoch).sum::<u64>()).unwrap_or_default()
}

/// Why a selector did not name a node.
#[derive(Debug, thiserror::Error)]
pub enum SelectError {
    #[error("unknown node `{0}`; use a port (6380), a name (node6380), `master-of-slot-N` or `replica-of-slot-N`")]
    Unknown(String),
    #[error("no node answers CLUSTER NODES, so `{0}` cannot be resolved; is the cluster formed (`slotctl status`)?")]
    NoView(String),
    #[error("no {role} serves slot {slot} right now (`slotctl status` shows the roles)")]
    NoneServing { role: &'static str, slot: u16 },
}

/// A role-based selector: (true = master / false = replica, slot).
pub fn parse_role(sel: &str) -> Option<(bool, u16)> {
    let (master, rest) = if let Some(r) = sel.strip_prefix("master-of-slot-") {
        (true, r)
    } else if let Some(r) = sel.strip_prefix("replica-of-slot-") {
        (false, r)
    } else {
        return None;
    };
    let slot: u16 = rest.parse().ok()?;
    (usize::from(slot) < 16384).then_some((master, slot))
}

/// Resolves one selector to a port among `ports`; roles are looked up in `view`.
///
/// # Errors
/// Unknown name, or no node has that role now.
pub fn resolve(sel: &str, ports: &[u16], view: &[NodeLine]) -> Result<u16, SelectError> {
    if let Some((master, slot)) = parse_role(sel) {
        if view.is_empty() {
            return Err(SelectError::NoView(sel.to_string()));
        }
        let owner = view.iter().filter(|n| n.is_master() && !n.has_flag("fail")).find(|n| n.owns(slot));
        let Some(owner) = owner else {
            return Err(SelectError::NoneServing { role: "master", slot });
        };
        if master {
            return Ok(owner.port());
        }
        let mut replicas: Vec<&NodeLine> =
            view.iter().filter(|n| n.master_id.as_deref() == Some(owner.id.as_str()) && !n.has_flag("fail")).collect();
        replicas.sort_by_key(|n| n.port());
        return replicas.first().map(|n| n.port()).ok_or(SelectError::NoneServing { role: "replica", slot });
    }
    let port = sel.strip_prefix("node").unwrap_or(sel).parse::<u16>().map_err(|_| SelectError::Unknown(sel.to_string()))?;
    if ports.contains(&port) {
        Ok(port)
    } else {
        Err(SelectError::Unknown(sel.to_string()))
    }
}

/// Slot -> owning port, from masters' lines (for slot ownership change events).
pub fn owners(view: &[NodeLine]) -> BTreeMap<u16, u16> {
    let mut m = BTreeMap::new();
    for n in view.iter().filter(|n| n.is_master()) {
        for (a, b) in &n.slots {
            for s in *a..=*b {
                m.insert(s, n.port());
            }
        }
    }
    m
}

/// Compresses sorted slots into "a-b,c" text.
pub fn ranges_text(slots: &[u16]) -> String {
    let mut out: Vec<String> = Vec::new();
    let mut i = 0;
    while i < slots.len() {
        let start = slots[i];
        let mut end = start;
        while i + 1 < slots.len() && slots[i + 1] == end + 1 {
            i += 1;
            end = slots[i];
        }
        out.push(if start == end { start.to_string() } else { format!("{start}-{end}") });
        i += 1;
    }
    out.join(",")
}

/// A key that hashes to `slot` (for probe writes and slot-targeted lab writes).
pub fn key_for_slot(prefix: &str, slot: u16) -> String {
    for i in 0u32.. {
        let tag = format!("{i}");
        if node_engine::slot::key_slot(tag.as_bytes()) == slot {
            return format!("{prefix}{{{tag}}}");
        }
    }
    unreachable!("every slot has a short decimal tag")
}

/// A write command that cannot change anything, to learn whether a node
/// accepts writes for `slot` without touching user data: `SETRANGE key 0 ""`
/// creates no key, modifies none and is not propagated (Redis and the builtin
/// node alike), yet passes every check a write does (MOVED, READONLY,
/// CLUSTERDOWN, MISCONF, NOREPLICAS, OOM).
pub fn null_write(slot: u16) -> [String; 4] {
    [String::from("SETRANGE"), key_for_slot("slotd:probe:", slot), String::from("0"), String::new()]
}

/// Whether the error a [`null_write`] got still means writes are served:
/// WRONGTYPE (a user's key of another type has the probe's name) comes only
/// after every routing and write check passed.
pub fn null_write_served(error: &str) -> bool {
    error.starts_with("WRONGTYPE")
}

#[cfg(test)]
mod tests {
    use super::*;

    const NODES: &str = "\
a1 127.0.0.1:7000@17000 myself,master - 0 0 1 connected 0-5460
b2 127.0.0.1:7001@17001 master - 0 0 2 connected 5461-10922 [9842->-c3]
c3 127.0.0.1:7002@17002 master,fail? - 0 0 3 connected 10923-16383
d4 127.0.0.1:7003@17003 slave a1 0 0 1 connected
e5 127.0.0.1:7004@17004 slave,fail b2 0 0 2 disconnected
";

    #[test]
    fn parses_and_resolves_roles() {
        let v = parse_nodes(NODES);
        assert_eq!(v.len(), 5);
        assert_eq!(v[1].slots, vec![(5461, 10922)]);
        assert!(v[2].has_flag("fail?"));
        assert_eq!(v[4].link, "disconnected");
        let ports = [7000, 7001, 7002, 7003, 7004];
        assert_eq!(resolve("master-of-slot-0", &ports, &v).ok(), Some(7000));
        assert_eq!(resolve("replica-of-slot-0", &ports, &v).ok(), Some(7003));
        assert!(resolve("replica-of-slot-6000", &ports, &v).is_err(), "its only replica is failed");
        assert_eq!(resolve("node7002", &ports, &v).ok(), Some(7002));
        assert!(resolve("6380", &ports, &v).is_err());
        assert_eq!(ranges_text(&[1, 2, 3, 7, 9, 10]), "1-3,7,9-10");
    }

    #[test]
    fn key_for_slot_hits_the_slot() {
        for slot in [0u16, 9842, 16383] {
            let k = key_for_slot("p:", slot);
            assert_eq!(node_engine::slot::key_slot(k.as_bytes()), slot);
        }
    }
}
