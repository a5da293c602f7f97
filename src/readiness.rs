//! When is the cluster ready? One rule for `slotctl status`, `slotctl wait`
//! and the API: every node runs, creation is done, every node reports
//! `cluster_state:ok`, each master with slots has its replicas, and (for
//! "in sync") every replica's link to its master is up.

use crate::api::types::{NodeView, State};
use serde::{Deserialize, Serialize};

/// The verdict, with the reasons it is not (yet) positive.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Readiness {
    /// Every node RUNNING, the cluster formed and every node says `cluster_state:ok`.
    pub ready: bool,
    /// Ready, and every replica's master link is up (its first sync done).
    pub in_sync: bool,
    /// What is missing, one sentence each, in node order.
    pub waiting_for: Vec<String>,
}

/// Judges `nodes` (as `/v1/status` reports them). `formation` is slotd's own
/// creation state (None when it did not try: `create = "manual"`), and
/// `replicas` the configured replicas per master.
pub fn judge(nodes: &[NodeView], formation: Option<&str>, manual: bool, replicas: usize) -> Readiness {
    let mut waiting = Vec::new();
    let mut sync = Vec::new();
    for n in nodes {
        if n.state != State::Running {
            waiting.push(format!("{} is {}", n.name, n.state));
        }
    }
    match formation {
        Some("formed" | "already formed") => {}
        // Another host's slotd forms it; the nodes' own state tells the rest.
        Some(f) if f.starts_with("left to host") => {}
        Some(f) => waiting.push(format!("cluster creation: {f}")),
        None if manual => {}
        None => waiting.push("cluster creation has not run yet".to_string()),
    }
    let running = || nodes.iter().filter(|n| n.state == State::Running);
    for n in running() {
        match n.cluster_state.as_deref() {
            Some("ok") => {}
            Some(s) => waiting.push(format!("{} reports cluster_state:{s}", n.name)),
            None => waiting.push(format!("{} does not answer CLUSTER INFO", n.name)),
        }
    }
    if manual && formation.is_none() && running().any(|n| n.cluster_state.as_deref() != Some("ok")) {
        waiting.push("cluster not formed (create = \"manual\"): run `slotctl create`, or form it by hand".to_string());
    }
    for m in running().filter(|n| n.role.as_deref() == Some("master") && !n.slots.is_empty()) {
        let have = running().filter(|r| r.role.as_deref() == Some("slave") && r.master_port == Some(m.port)).count();
        if have < replicas {
            waiting.push(format!("{} (master of {}) has {have} of {replicas} replicas", m.name, m.slots.join(",")));
        }
    }
    for r in running().filter(|n| n.role.as_deref() == Some("slave")) {
        if r.master_link.as_deref() != Some("up") {
            let master = r.master_port.map(|p| p.to_string()).unwrap_or_else(|| "its master".into());
            sync.push(format!(
                "{} has not finished syncing with {master} (master_link_status:{})",
                r.name,
                r.master_link.as_deref().unwrap_or("unknown")
            ));
        }
    }
    let ready = waiting.is_empty();
    let in_sync = ready && sync.is_empty();
    waiting.extend(sync);
    Readiness { ready, in_sync, waiting_for: waiting }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(port: u16, role: &str, master: Option<u16>, slots: &[&str]) -> NodeView {
        let mut n = NodeView::bare(format!("node{port}"), "127.0.0.1".into(), port, State::Running);
        n.pid = Some(1);
        n.uptime_s = Some(1);
        n.role = Some(role.into());
        n.master_port = master;
        n.master_link = master.map(|_| "up".to_string());
        n.slots = slots.iter().map(|s| s.to_string()).collect();
        n.cluster_state = Some("ok".into());
        n
    }

    fn six() -> Vec<NodeView> {
        vec![
            node(1, "master", None, &["0-5460"]),
            node(2, "master", None, &["5461-10922"]),
            node(3, "master", None, &["10923-16383"]),
            node(4, "slave", Some(1), &[]),
            node(5, "slave", Some(2), &[]),
            node(6, "slave", Some(3), &[]),
        ]
    }

    #[test]
    fn formed_cluster_with_synced_replicas_is_ready_and_in_sync() {
        let r = judge(&six(), Some("formed"), false, 1);
        assert_eq!(r, Readiness { ready: true, in_sync: true, waiting_for: vec![] });
    }

    #[test]
    fn slots_assigned_but_replicas_not_attached_is_not_ready() {
        // What redis-server reported while creation still had to attach replicas.
        let mut n = six();
        for x in n.iter_mut().skip(3) {
            x.role = Some("master".into());
            x.master_port = None;
            x.master_link = None;
        }
        let r = judge(&n, Some("forming"), false, 1);
        assert!(!r.ready && !r.in_sync);
        assert!(r.waiting_for.contains(&"cluster creation: forming".to_string()), "{r:?}");
        assert!(r.waiting_for.contains(&"node1 (master of 0-5460) has 0 of 1 replicas".to_string()), "{r:?}");
    }

    #[test]
    fn down_node_fail_state_and_unsynced_replica_are_each_named() {
        let mut n = six();
        n[0].state = State::Exited;
        n[1].cluster_state = Some("fail".into());
        n[4].master_link = Some("down".into());
        let r = judge(&n, Some("formed"), false, 1);
        assert!(!r.ready);
        assert_eq!(
            r.waiting_for,
            vec![
                "node1 is EXITED".to_string(),
                "node2 reports cluster_state:fail".to_string(),
                "node5 has not finished syncing with 2 (master_link_status:down)".to_string(),
            ]
        );
        let mut n = six();
        n[5].master_link = Some("down".into());
        let r = judge(&n, Some("already formed"), false, 1);
        assert!(r.ready && !r.in_sync, "{r:?}");
    }

    #[test]
    fn manual_creation_counts_a_cluster_formed_by_hand() {
        assert!(judge(&six(), None, true, 1).in_sync);
        let mut n = six();
        for x in n.iter_mut() {
            x.cluster_state = Some("fail".into());
        }
        let r = judge(&n, None, true, 1);
        assert!(r.waiting_for.iter().any(|w| w.contains("run `slotctl create`")), "{r:?}");
        assert!(!judge(&six(), None, false, 1).ready, "auto creation that never ran is not ready");
    }
}
