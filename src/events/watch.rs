//! Feeds the timeline: one task per node turns supervision status changes
//! into events; one poller asks every running node for CLUSTER NODES and
//! CLUSTER INFO every 100 ms and turns differences into events.

use super::{Event, EventKind, EventLog};
use crate::cluster_admin::{info_field, Conn};
use crate::supervise::state::State;
use crate::supervise::{NodeStatus, Supervisor};
use crate::topology::{self, NodeLine};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;
use std::time::Duration;

/// How often nodes are polled.
const POLL: Duration = Duration::from_millis(100);

/// Starts the status watchers and the cluster poller.
pub fn spawn(sup: Arc<Supervisor>, log: EventLog) {
    for n in &sup.nodes {
        let rx = n.subscribe();
        tokio::spawn(watch_status(rx, log.clone()));
    }
    tokio::spawn(poll_cluster(sup, log));
}

fn exit_text(s: &NodeStatus) -> (String, String) {
    match s.last_exit {
        Some(x) => match (x.code, x.signal) {
            (_, Some(sig)) => {
                let name = nix::sys::signal::Signal::try_from(sig).map(|s| s.as_str().to_string()).unwrap_or_else(|_| format!("{sig}"));
                (format!("signal {sig}"), format!("exited: killed by {name}"))
            }
            (Some(c), None) => (format!("code {c}"), format!("exited with code {c}")),
            (None, None) => ("unknown".into(), "exited (status unknown: adopted or in-process node)".into()),
        },
        None => ("unknown".into(), "exited".into()),
    }
}

/// Translates one status change into events.
pub fn status_events(prev: &NodeStatus, new: &NodeStatus) -> Vec<Event> {
    let node = Some(new.name.clone());
    let mut out = Vec::new();
    let had = prev.pid.is_some();
    if had && (new.pid.is_none() || (new.started_at_ms != prev.started_at_ms && new.pid.is_some())) {
        let (value, msg) = exit_text(new);
        out.push(Event::new(EventKind::Exited, node.clone(), msg).value(value));
    }
    if new.pid.is_some() && (new.started_at_ms != prev.started_at_ms || !had) {
        let pid = new.pid.unwrap_or(0);
        if new.adopted {
            out.push(Event::new(EventKind::Adopted, node.clone(), format!("adopted pid {pid} left running by an earlier slotd")));
        } else if new.restarts > prev.restarts {
            out.push(Event::new(
                EventKind::Restarted,
                node.clone(),
                format!("restarted by the restart policy (restart #{}), pid {pid}", new.restarts),
            ));
        } else {
            out.push(Event::new(EventKind::Started, node.clone(), format!("started, pid {pid}")));
        }
    }
    if new.state != prev.state {
        match (prev.state, new.state) {
            (State::Paused, State::Running) => out.push(Event::new(EventKind::Resumed, node.clone(), "resumed (SIGCONT)")),
            (_, State::Running) => out.push(Event::new(EventKind::Running, node.clone(), "answers PING")),
            (_, State::Paused) => out.push(Event::new(EventKind::Paused, node.clone(), "paused (SIGSTOP): port open, nothing answers")),
            (_, State::Fatal) => out.push(Event::new(
                EventKind::Fatal,
                node.clone(),
                new.message.clone().unwrap_or_else(|| "gave up after restart.start_retries".into()),
            )),
            _ => {}
        }
    }
    out
}

async fn watch_status(mut rx: tokio::sync::watch::Receiver<NodeStatus>, log: EventLog) {
    let first = rx.borrow_and_update().clone();
    // The node may have started before this task: report it against a blank status.
    let blank = NodeStatus { state: State::Stopped, pid: None, started_at_ms: None, restarts: 0, ..first.clone() };
    for e in status_events(&blank, &first) {
        log.record(e);
    }
    let mut prev = first;
    while rx.changed().await.is_ok() {
        let new = rx.borrow_and_update().clone();
        for e in status_events(&prev, &new) {
            log.record(e);
        }
        prev = new;
    }
}

/// What the last poll saw, to report only differences.
#[derive(Default)]
pub struct PollState {
    ports_by_id: HashMap<String, u16>,
    /// port -> (is master, master port)
    roles: HashMap<u16, (bool, Option<u16>)>,
    pfail: BTreeSet<u16>,
    fail: BTreeSet<u16>,
    /// Nodes that report cluster_state:fail.
    failing: Option<BTreeSet<u16>>,
    /// slot -> (port, config epoch)
    owners: BTreeMap<u16, (u16, u64)>,
}

/// One node's answer to a poll.
pub struct Seen {
    pub port: u16,
    pub nodes: Vec<NodeLine>,
    pub cluster_ok: Option<bool>,
}

fn name(port: u16) -> String {
    format!("node{port}")
}

impl PollState {
    /// Compares a poll with the previous one; returns events and the ports
    /// that just became masters by failover (to probe writes on).
    pub fn diff(&mut self, seen: &[Seen]) -> (Vec<Event>, Vec<(u16, u16)>) {
        let mut out = Vec::new();
        let mut promoted = Vec::new();
        for s in seen {
            for n in &s.nodes {
                self.ports_by_id.insert(n.id.clone(), n.port());
            }
        }
        // PFAIL / FAIL as any running node flags them.
        let mut pfail = BTreeSet::new();
        let mut fail = BTreeSet::new();
        let mut who: HashMap<u16, u16> = HashMap::new();
        for s in seen {
            for n in &s.nodes {
                if n.has_flag("fail?") {
                    pfail.insert(n.port());
                    who.entry(n.port()).or_insert(s.port);
                }
                if n.has_flag("fail") {
                    fail.insert(n.port());
                }
            }
        }
        for p in pfail.difference(&self.pfail) {
            let by = who.get(p).copied().unwrap_or(0);
            out.push(Event::new(EventKind::Pfail, Some(name(*p)), format!("{} flags {} fail? (PFAIL)", name(by), name(*p))));
        }
        for p in fail.difference(&self.fail) {
            out.push(Event::new(EventKind::Fail, Some(name(*p)), format!("{} is FAIL (a majority of masters agreed)", name(*p))));
        }
        for p in self.fail.difference(&fail) {
            out.push(Event::new(EventKind::FailCleared, Some(name(*p)), format!("no node flags {} failed any more", name(*p))));
        }
        self.pfail = pfail;
        self.fail = fail;
        // Roles from each node's own line.
        for s in seen {
            let Some(me) = s.nodes.iter().find(|n| n.has_flag("myself")) else { continue };
            let master_port = me.master_id.as_ref().and_then(|id| self.ports_by_id.get(id).copied());
            let now = (me.is_master(), master_port);
            let prev = self.roles.insert(s.port, now);
            match prev {
                Some((false, old)) if now.0 => {
                    if !me.slots.is_empty() {
                        let old_name = old.map(name).unwrap_or_else(|| "?".into());
                        let slots: Vec<u16> = me.slots.iter().flat_map(|(a, b)| *a..=*b).collect();
                        out.push(
                            Event::new(
                                EventKind::Failover,
                                Some(name(s.port)),
                                format!(
                                    "{} won the election: master of {} instead of {} (config epoch {})",
                                    name(s.port),
                                    topology::ranges_text(&slots),
                                    old_name,
                                    me.config_epoch
                                ),
                            )
                            .peer(old_name)
                            .epoch(me.config_epoch),
                        );
                        promoted.push((s.port, me.slots[0].0));
                    } else {
                        out.push(Event::new(EventKind::RoleChange, Some(name(s.port)), "now a master (no slots)").value("master"));
                    }
                }
                Some((true, _)) if !now.0 => {
                    let m = now.1.map(name).unwrap_or_else(|| "?".into());
                    out.push(
                        Event::new(EventKind::RoleChange, Some(name(s.port)), format!("now a replica of {m}")).value("replica").peer(m),
                    );
                }
                Some((false, Some(a))) if !now.0 && now.1.is_some_and(|b| b != a) => {
                    let m = now.1.map(name).unwrap_or_default();
                    out.push(
                        Event::new(EventKind::RoleChange, Some(name(s.port)), format!("now follows {m} (was {})", name(a)))
                            .value("replica")
                            .peer(m),
                    );
                }
                _ => {}
            }
        }
        // cluster_state, aggregated.
        let answered: Vec<&Seen> = seen.iter().filter(|s| s.cluster_ok.is_some()).collect();
        if !answered.is_empty() {
            let failing: BTreeSet<u16> = answered.iter().filter(|s| s.cluster_ok == Some(false)).map(|s| s.port).collect();
            let changed = match &self.failing {
                None => true,
                Some(prev) => prev.is_empty() != failing.is_empty(),
            };
            if changed {
                if failing.is_empty() {
                    out.push(
                        Event::new(EventKind::ClusterState, None, format!("cluster_state ok on all {} answering nodes", answered.len()))
                            .value("ok"),
                    );
                } else {
                    let list: Vec<String> = failing.iter().map(|p| name(*p)).collect();
                    out.push(
                        Event::new(EventKind::ClusterState, None, format!("cluster_state fail on {}", list.join(", ")))
                            .value("fail")
                            .nodes(list),
                    );
                }
            }
            self.failing = Some(failing);
        }
        // Slot owners: each master's own claim; the higher config epoch wins.
        let mut claims: BTreeMap<u16, (u16, u64)> = BTreeMap::new();
        for s in seen {
            let Some(me) = s.nodes.iter().find(|n| n.has_flag("myself") && n.is_master()) else { continue };
            for (a, b) in &me.slots {
                for slot in *a..=*b {
                    let c = claims.entry(slot).or_insert((me.port(), me.config_epoch));
                    if me.config_epoch > c.1 {
                        *c = (me.port(), me.config_epoch);
                    }
                }
            }
        }
        let mut moves: BTreeMap<(Option<u16>, u16), Vec<u16>> = BTreeMap::new();
        let first = self.owners.is_empty();
        for (slot, (port, epoch)) in &claims {
            let prev = self.owners.get(slot).copied();
            if prev.map(|p| p.0) != Some(*port) && prev.is_none_or(|p| *epoch >= p.1) {
                moves.entry((prev.map(|p| p.0), *port)).or_default().push(*slot);
                self.owners.insert(*slot, (*port, *epoch));
            } else if prev.is_some_and(|p| p.0 == *port) {
                self.owners.insert(*slot, (*port, *epoch));
            }
        }
        if !first {
            for ((from, to), slots) in moves {
                let from_name = from.map(name);
                let mut e = Event::new(
                    EventKind::SlotsMoved,
                    Some(name(to)),
                    format!(
                        "slots {} now served by {} (before: {})",
                        topology::ranges_text(&slots),
                        name(to),
                        from_name.clone().unwrap_or_else(|| "unassigned".into())
                    ),
                );
                if let Some(f) = from_name {
                    e = e.peer(f);
                }
                out.push(e);
            }
        }
        (out, promoted)
    }
}

async fn ask(port: u16, addr: std::net::SocketAddr) -> Option<Seen> {
    let mut c = Conn::connect(addr, Duration::from_millis(150)).await.ok()?;
    let nodes = topology::parse_nodes(&c.text(&["CLUSTER", "NODES"]).await.ok()?);
    let cluster_ok = c.text(&["CLUSTER", "INFO"]).await.ok().and_then(|t| info_field(&t, "cluster_state")).map(|s| s == "ok");
    Some(Seen { port, nodes, cluster_ok })
}

async fn poll_cluster(sup: Arc<Supervisor>, log: EventLog) {
    let mut state = PollState::default();
    let mut tick = tokio::time::interval(POLL);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let mut set = tokio::task::JoinSet::new();
        for n in &sup.nodes {
            if n.status().state == State::Running {
                let (port, addr) = (n.spec.port, n.addr());
                set.spawn(ask(port, addr));
            }
        }
        let mut seen = Vec::new();
        while let Some(r) = set.join_next().await {
            if let Ok(Some(s)) = r {
                seen.push(s);
            }
        }
        seen.sort_by_key(|s| s.port);
        let (events, promoted) = state.diff(&seen);
        for e in events {
            log.record(e);
        }
        for (port, slot) in promoted {
            if let Some(n) = sup.find(&port.to_string()) {
                tokio::spawn(probe_writes(n.addr(), port, slot, log.clone()));
            }
        }
    }
}

/// Retries a write that changes nothing ([`topology::null_write`]) on `slot`
/// at the new master until it is accepted (or 60 s), then records when writes
/// were served again. The user's keyspace is never touched.
async fn probe_writes(addr: std::net::SocketAddr, port: u16, slot: u16, log: EventLog) {
    let probe = topology::null_write(slot);
    let args: Vec<&str> = probe.iter().map(String::as_str).collect();
    let start = tokio::time::Instant::now();
    let deadline = start + Duration::from_secs(60);
    let mut last_err = String::new();
    while tokio::time::Instant::now() < deadline {
        let served = match Conn::connect(addr, Duration::from_millis(300)).await {
            Ok(mut c) => match c.cmd(&args).await {
                Ok(_) => true,
                Err(crate::cluster_admin::AdminError::Server { message, .. }) if topology::null_write_served(&message) => true,
                Err(e) => {
                    last_err = e.to_string();
                    false
                }
            },
            Err(e) => {
                last_err = e.to_string();
                false
            }
        };
        if served {
            log.record(Event::new(
                EventKind::WritesServed,
                Some(name(port)),
                format!("a write on slot {slot} accepted ({} ms after the election was seen)", start.elapsed().as_millis()),
            ));
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    tracing::warn!("{}: writes on slot {slot} still refused after 60 s: {last_err}", name(port));
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seen(port: u16, text: &str, ok: bool) -> Seen {
        Seen { port, nodes: topology::parse_nodes(text), cluster_ok: Some(ok) }
    }

    #[test]
    fn failover_sequence() {
        let mut st = PollState::default();
        let before = "a 127.0.0.1:1@2 master - 0 0 1 connected 0-99\nb 127.0.0.1:3@4 slave a 0 0 1 connected\n";
        let (e, _) = st.diff(&[
            seen(1, &before.replace("a 127.0.0.1:1@2 master", "a 127.0.0.1:1@2 myself,master"), true),
            seen(3, &before.replace("slave a", "myself,slave a"), true),
        ]);
        assert_eq!(e.len(), 1, "initial cluster ok only: {e:?}");
        let pf = "a 127.0.0.1:1@2 master,fail? - 0 0 1 connected 0-99\nb 127.0.0.1:3@4 myself,slave a 0 0 1 connected\n";
        let (e, _) = st.diff(&[seen(3, pf, true)]);
        assert_eq!(e.iter().map(|e| e.kind).collect::<Vec<_>>(), vec![EventKind::Pfail]);
        let fl = "a 127.0.0.1:1@2 master,fail - 0 0 1 connected 0-99\nb 127.0.0.1:3@4 myself,slave a 0 0 1 connected\n";
        let (e, _) = st.diff(&[seen(3, fl, false)]);
        assert_eq!(e.iter().map(|e| e.kind).collect::<Vec<_>>(), vec![EventKind::Fail, EventKind::ClusterState]);
        let won = "a 127.0.0.1:1@2 master,fail - 0 0 1 connected\nb 127.0.0.1:3@4 myself,master - 0 0 2 connected 0-99\n";
        let (e, promoted) = st.diff(&[seen(3, won, true)]);
        let kinds: Vec<_> = e.iter().map(|e| e.kind).collect();
        assert_eq!(kinds, vec![EventKind::Failover, EventKind::ClusterState, EventKind::SlotsMoved]);
        assert_eq!(e[0].peer.as_deref(), Some("node1"));
        assert_eq!(e[0].epoch, Some(2));
        assert_eq!(promoted, vec![(3, 0)]);
    }
}
