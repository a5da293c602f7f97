//! Assisted failover (`[cluster] failover = "assisted"`): slotd is the parent
//! of every node, so it knows the moment a master's process dies, long before
//! gossip does (node timeout, then a FAIL majority, then an election). It then
//! asks the dead master's most up-to-date replica for `CLUSTER FAILOVER FORCE`
//! (standard Redis, so both engines), records that on the timeline, and leaves
//! the rest to Redis Cluster: the replica still needs the masters' votes, and
//! if it does not win, gossip detection goes on as without slotd.
//!
//! Only a process that ended counts: a paused (SIGSTOP) node is left to
//! gossip, since a hung master is exactly what the lab teaches.

use crate::cluster_admin::{info_field, Conn};
use crate::config::FailoverMode;
use crate::events::{Event, EventKind, EventLog};
use crate::supervise::state::State;
use crate::supervise::{NodeStatus, Supervisor};
use crate::topology::{self, NodeLine};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How long a node may take to answer one admin command here.
const ASK: Duration = Duration::from_millis(300);
/// How long the forced failover may take before we say gossip takes over.
const GIVE_UP: Duration = Duration::from_secs(3);

/// Watches every node's process; acts when `failover = "assisted"` (read at
/// each death, so a config edit applies at once).
pub fn spawn(sup: Arc<Supervisor>, log: EventLog) {
    for n in &sup.nodes {
        let mut rx = n.subscribe();
        let (sup, log) = (sup.clone(), log.clone());
        tokio::spawn(async move {
            let mut prev = rx.borrow().clone();
            while rx.changed().await.is_ok() {
                let now = rx.borrow_and_update().clone();
                if process_died(&prev, &now) && sup.config().cluster.failover == FailoverMode::Assisted {
                    tokio::spawn(assist(sup.clone(), log.clone(), now.port, now.name.clone()));
                }
                prev = now;
            }
        });
    }
}

/// The process went away (a new pid means it died and was restarted before we looked).
fn process_died(prev: &NodeStatus, now: &NodeStatus) -> bool {
    prev.pid.is_some() && (now.pid.is_none() || now.started_at_ms != prev.started_at_ms)
}

/// Picks the replica to promote: the running, non-failing one with the highest offset.
fn choose(candidates: &[(u16, Option<u64>)]) -> Option<u16> {
    candidates.iter().filter_map(|(p, o)| o.map(|o| (*p, o))).max_by_key(|(p, o)| (*o, std::cmp::Reverse(*p))).map(|(p, _)| p)
}

async fn assist(sup: Arc<Supervisor>, log: EventLog, dead_port: u16, dead_name: String) {
    let started = Instant::now();
    let running: Vec<(u16, SocketAddr)> = sup
        .nodes
        .iter()
        .filter(|n| n.spec.port != dead_port && n.status().state == State::Running)
        .map(|n| (n.spec.port, n.addr()))
        .collect();
    let addrs: Vec<SocketAddr> = running.iter().map(|(_, a)| *a).collect();
    let view = topology::merged_view(&addrs, ASK).await;
    let Some(dead) = view.iter().find(|l| l.port() == dead_port) else { return };
    if !dead.is_master() || dead.slots.is_empty() {
        return;
    }
    let replicas: Vec<&NodeLine> = view
        .iter()
        .filter(|l| l.master_id.as_deref() == Some(dead.id.as_str()) && !l.failing() && running.iter().any(|(p, _)| *p == l.port()))
        .collect();
    let mut offsets = Vec::new();
    for r in &replicas {
        let offset = replication_field(addr_of(&running, r.port()), "slave_repl_offset").await.and_then(|s| s.parse().ok());
        offsets.push((r.port(), offset));
    }
    let Some(port) = choose(&offsets) else {
        log.record(Event::new(
            EventKind::AssistedFailover,
            Some(dead_name.clone()),
            format!("{dead_name}'s process died but it has no running replica to promote; Redis Cluster's own detection decides"),
        ));
        return;
    };
    let target = addr_of(&running, port);
    let offset = offsets.iter().find(|(p, _)| *p == port).and_then(|(_, o)| *o).unwrap_or(0);
    let asked = match Conn::connect(target, ASK).await {
        Ok(mut c) => c.cmd(&["CLUSTER", "FAILOVER", "FORCE"]).await.map(|_| ()).map_err(|e| e.to_string()),
        Err(e) => Err(e.to_string()),
    };
    let replica_name = format!("node{port}");
    match asked {
        Ok(()) => {
            log.record(
                Event::new(
                    EventKind::AssistedFailover,
                    Some(replica_name.clone()),
                    format!(
                    "{dead_name}'s process died: asked {replica_name} (offset {offset}) for CLUSTER FAILOVER FORCE, {} ms after the exit",
                    started.elapsed().as_millis()
                ),
                )
                .peer(dead_name.clone()),
            );
        }
        Err(e) => {
            log.record(
                Event::new(
                    EventKind::AssistedFailover,
                    Some(replica_name),
                    format!("CLUSTER FAILOVER FORCE refused ({e}); Redis Cluster's own detection takes over"),
                )
                .peer(dead_name),
            );
            return;
        }
    }
    let deadline = Instant::now() + GIVE_UP;
    while Instant::now() < deadline {
        if replication_field(target, "role").await.as_deref() == Some("master") {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    tracing::warn!("assisted failover of {dead_name} to {replica_name} did not complete within {} s", GIVE_UP.as_secs());
    log.record(
        Event::new(
            EventKind::AssistedFailover,
            Some(replica_name),
            format!("the forced failover did not complete within {} s; Redis Cluster's own detection takes over", GIVE_UP.as_secs()),
        )
        .peer(dead_name),
    );
}

fn addr_of(running: &[(u16, SocketAddr)], port: u16) -> SocketAddr {
    running.iter().find(|(p, _)| *p == port).map(|(_, a)| *a).unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], port)))
}

/// One field of the node's INFO replication.
async fn replication_field(addr: SocketAddr, field: &str) -> Option<String> {
    let mut c = Conn::connect(addr, ASK).await.ok()?;
    info_field(&c.text(&["INFO", "replication"]).await.ok()?, field)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn most_up_to_date_replica_wins_and_unknown_offsets_never_do() {
        assert_eq!(choose(&[(1, Some(10)), (2, Some(30)), (3, Some(20))]), Some(2));
        assert_eq!(choose(&[(1, None), (2, Some(0))]), Some(2));
        assert_eq!(choose(&[(1, None)]), None);
        assert_eq!(choose(&[(5, Some(7)), (4, Some(7))]), Some(4), "ties go to the lowest port, deterministically");
    }

    #[test]
    fn only_a_process_that_ended_counts() {
        let base = NodeStatus {
            name: "node1".into(),
            host: "127.0.0.1".into(),
            port: 1,
            state: State::Running,
            pid: Some(10),
            started_at_ms: Some(1),
            state_since_ms: 1,
            restarts: 0,
            attempts: 0,
            adopted: false,
            last_exit: None,
            message: None,
        };
        let paused = NodeStatus { state: State::Paused, ..base.clone() };
        assert!(!process_died(&base, &paused), "a paused node is alive");
        let exited = NodeStatus { state: State::Exited, pid: None, ..base.clone() };
        assert!(process_died(&base, &exited));
        assert!(process_died(&paused, &exited), "killed while paused: it did die");
        let restarted = NodeStatus { pid: Some(11), started_at_ms: Some(2), ..base.clone() };
        assert!(process_died(&base, &restarted), "died and restarted between two looks");
        assert!(!process_died(&exited, &base), "a start is not a death");
    }
}
