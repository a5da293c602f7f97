//! Which nodes become masters and which master each replica follows. On one
//! machine: the first nodes are masters and the rest follow them in turn
//! (as before). Across hosts: like `redis-cli --cluster create`, but keyed on
//! the configured host rather than the IP string: masters spread over the
//! hosts, and no replica on its master's host when another host can take it.

use crate::config::NodeSpec;
use serde::{Deserialize, Serialize};
use std::net::SocketAddr;

/// One node in a plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Member {
    pub name: String,
    pub addr: SocketAddr,
    /// Its `[[hosts]]` name (None on one machine).
    pub host: Option<String>,
}

/// The masters, and each replica with the index of its master.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Plan {
    pub masters: Vec<Member>,
    pub replicas: Vec<(Member, usize)>,
    /// Where anti-affinity could not hold (too few hosts), in words.
    pub warnings: Vec<String>,
}

fn member(n: &NodeSpec) -> Member {
    Member { name: n.name(), addr: SocketAddr::new(n.host, n.port), host: n.host_name.clone() }
}

/// Plans `nodes` (in config order) with `replicas` per master.
pub fn plan(nodes: &[NodeSpec], replicas: usize) -> Plan {
    let m = nodes.len() / (replicas + 1);
    if m == 0 {
        // Too few nodes for one master with its replicas: creation refuses it anyway.
        return Plan {
            masters: Vec::new(),
            replicas: Vec::new(),
            warnings: vec![format!("{} nodes are too few for replicas = {replicas}", nodes.len())],
        };
    }
    if nodes.iter().all(|n| n.host_name.is_none()) {
        let masters: Vec<Member> = nodes.iter().take(m).map(member).collect();
        let reps = nodes.iter().enumerate().skip(m).map(|(j, n)| (member(n), (j - m) % m.max(1))).collect();
        return Plan { masters, replicas: reps, warnings: Vec::new() };
    }
    // Hosts in config order, each with its nodes still free.
    let mut hosts: Vec<(String, Vec<Member>)> = Vec::new();
    for n in nodes {
        let h = n.host_name.clone().unwrap_or_default();
        match hosts.iter_mut().find(|(name, _)| *name == h) {
            Some((_, list)) => list.push(member(n)),
            None => hosts.push((h, vec![member(n)])),
        }
    }
    // Masters: one per host in turn, so they spread.
    let mut masters = Vec::new();
    let mut i = 0;
    while masters.len() < m {
        let idx = i % hosts.len();
        if !hosts[idx].1.is_empty() {
            masters.push(hosts[idx].1.remove(0));
        }
        i += 1;
    }
    // Replicas: every master in turn takes one, round after round. First
    // look for an assignment where no replica shares its master's host
    // (a small search: clusters have a handful of hosts); if there is none,
    // take the host with the most free nodes, its own host last, and say so.
    let free: Vec<usize> = hosts.iter().map(|(_, l)| l.len()).collect();
    let total: usize = free.iter().sum();
    let slots: Vec<usize> = (0..total).map(|k| k % masters.len().max(1)).collect();
    let master_host: Vec<usize> =
        masters.iter().map(|m| hosts.iter().position(|(h, _)| Some(h) == m.host.as_ref()).unwrap_or(usize::MAX)).collect();
    let mut chosen = Vec::with_capacity(slots.len());
    let mut budget = 100_000u32;
    let mut counts = free.clone();
    let perfect = !masters.is_empty() && search(&slots, &master_host, &mut counts, &mut chosen, &mut budget);
    let mut reps: Vec<(Member, usize)> = Vec::new();
    let mut warnings = Vec::new();
    if perfect {
        for (k, hi) in chosen.iter().enumerate() {
            reps.push((hosts[*hi].1.remove(0), slots[k]));
        }
    } else {
        for mi in slots {
            let own = master_host[mi];
            let pick = hosts
                .iter()
                .enumerate()
                .filter(|(i, (_, l))| !l.is_empty() && *i != own)
                .max_by_key(|(i, (_, l))| (l.len(), std::cmp::Reverse(*i)))
                .map(|(i, _)| i)
                .or_else(|| hosts.iter().position(|(_, l)| !l.is_empty()));
            let Some(idx) = pick else { break };
            if idx == own {
                warnings.push(format!(
                    "{} replicates {} on the same host {}: no other host has a free node",
                    hosts[idx].1[0].name, masters[mi].name, hosts[idx].0
                ));
            }
            reps.push((hosts[idx].1.remove(0), mi));
        }
    }
    Plan { masters, replicas: reps, warnings }
}

/// Depth-first: a host for each replica slot, never its master's host,
/// fullest hosts first. False when none exists (or the budget runs out).
fn search(slots: &[usize], master_host: &[usize], free: &mut [usize], chosen: &mut Vec<usize>, budget: &mut u32) -> bool {
    let k = chosen.len();
    if k == slots.len() {
        return true;
    }
    if *budget == 0 {
        return false;
    }
    *budget -= 1;
    let own = master_host[slots[k]];
    let mut order: Vec<usize> = (0..free.len()).filter(|h| *h != own && free[*h] > 0).collect();
    order.sort_by_key(|h| (std::cmp::Reverse(free[*h]), *h));
    for h in order {
        free[h] -= 1;
        chosen.push(h);
        if search(slots, master_host, free, chosen, budget) {
            return true;
        }
        chosen.pop();
        free[h] += 1;
    }
    false
}

impl Plan {
    /// The plan in words, one node per line (`slotctl create --dry-run`).
    pub fn describe(&self) -> String {
        let ranges = crate::cluster_admin::slot_ranges(self.masters.len());
        let at = |m: &Member| match &m.host {
            Some(h) => format!("{} ({} on {h})", m.name, m.addr),
            None => format!("{} ({})", m.name, m.addr),
        };
        let mut out = String::new();
        for (i, m) in self.masters.iter().enumerate() {
            let (a, b) = ranges.get(i).copied().unwrap_or((0, 0));
            out.push_str(&format!("master  {}  slots {a}-{b}\n", at(m)));
            for (r, _) in self.replicas.iter().filter(|(_, mi)| *mi == i) {
                out.push_str(&format!("  replica {}\n", at(r)));
            }
        }
        for w in &self.warnings {
            out.push_str(&format!("warning: {w}\n"));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(host: Option<&str>, ip: [u8; 4], port: u16) -> NodeSpec {
        NodeSpec { host: ip.into(), port, host_name: host.map(str::to_string), overrides: Default::default() }
    }

    #[test]
    fn one_machine_keeps_the_old_order() {
        let nodes: Vec<NodeSpec> = (0..6).map(|i| spec(None, [127, 0, 0, 1], 7000 + i)).collect();
        let p = plan(&nodes, 1);
        assert_eq!(p.masters.iter().map(|m| m.addr.port()).collect::<Vec<_>>(), vec![7000, 7001, 7002]);
        assert_eq!(p.replicas.iter().map(|(r, m)| (r.addr.port(), *m)).collect::<Vec<_>>(), vec![(7003, 0), (7004, 1), (7005, 2)]);
    }

    #[test]
    fn three_hosts_two_nodes_each_never_pair_on_one_host() {
        let mut nodes = Vec::new();
        for (h, ip) in [("h1", 1u8), ("h2", 2), ("h3", 3)] {
            for k in 0..2 {
                nodes.push(spec(Some(h), [10, 0, 0, ip], 7000 + u16::from(ip) * 10 + k));
            }
        }
        let p = plan(&nodes, 1);
        let hosts: Vec<&str> = p.masters.iter().map(|m| m.host.as_deref().unwrap_or("")).collect();
        assert_eq!(hosts, vec!["h1", "h2", "h3"], "one master per host");
        assert_eq!(p.replicas.len(), 3);
        for (r, mi) in &p.replicas {
            assert_ne!(r.host, p.masters[*mi].host, "{} on its master's host", r.name);
        }
        assert!(p.warnings.is_empty());
        // Each master has exactly one replica.
        let mut per = [0; 3];
        p.replicas.iter().for_each(|(_, m)| per[*m] += 1);
        assert_eq!(per, [1, 1, 1]);
        assert!(p.describe().contains("replica node7011"), "{}", p.describe());
    }

    #[test]
    fn one_host_with_everything_warns_instead_of_failing() {
        let nodes: Vec<NodeSpec> = (0..6).map(|i| spec(Some("solo"), [10, 0, 0, 1], 7000 + i)).collect();
        let p = plan(&nodes, 1);
        assert_eq!(p.masters.len(), 3);
        assert_eq!(p.replicas.len(), 3);
        assert_eq!(p.warnings.len(), 3);
    }

    #[test]
    fn uneven_hosts_spread_masters_and_keep_replicas_away() {
        // h1 has 4 nodes, h2 and h3 one each: 3 masters on 3 hosts, replicas from h1 for h2/h3.
        let mut nodes: Vec<NodeSpec> = (0..4).map(|i| spec(Some("h1"), [10, 0, 0, 1], 7000 + i)).collect();
        nodes.push(spec(Some("h2"), [10, 0, 0, 2], 7100));
        nodes.push(spec(Some("h3"), [10, 0, 0, 3], 7200));
        let p = plan(&nodes, 1);
        assert_eq!(p.masters.iter().filter_map(|m| m.host.clone()).collect::<Vec<_>>(), vec!["h1", "h2", "h3"]);
        let same: Vec<_> = p.replicas.iter().filter(|(r, m)| r.host == p.masters[*m].host).collect();
        assert_eq!(same.len(), 1, "only h1's own master must take an h1 replica: {:?}", p.replicas);
        assert_eq!(p.warnings.len(), 1);
    }
}
