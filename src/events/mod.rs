//! The event timeline: what slotd did (start, kill, pause, faults) and what
//! the nodes reported (PFAIL, FAIL, failovers, cluster_state, slot moves), in
//! order, with timestamps, kept in an append-only JSON-lines file so it
//! survives a slotd restart; plus the failover stopwatch computed from it.

pub mod stopwatch;
pub mod store;
pub mod watch;

use serde::{Deserialize, Serialize};

pub use stopwatch::{stopwatches, Phase, Stopwatch};
pub use store::EventLog;

/// What happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EventKind {
    /// slotd itself started (marks a restart in the timeline).
    SlotdStarted,
    /// A node process was started by slotd.
    Started,
    /// Automatic restart after an exit slotd did not cause.
    Restarted,
    /// A node left by an earlier slotd was taken over.
    Adopted,
    /// The node answers PING.
    Running,
    /// The node process ended (code or signal in `value`).
    Exited,
    /// slotd gave up restarting it.
    Fatal,
    Paused,
    Resumed,
    FaultOn,
    FaultOff,
    /// Some node flags this one `fail?`.
    Pfail,
    /// Some node flags this one `fail`.
    Fail,
    /// No node flags it failed any more.
    FailCleared,
    /// The node's own role changed (`value`: master / replica).
    RoleChange,
    /// A replica took over its master's slots (`peer`: the old master).
    Failover,
    /// The cluster's state as the nodes report it (`value`: ok / fail).
    ClusterState,
    /// Slots changed owner (`peer`: from, `node`: to).
    SlotsMoved,
    /// A write that changes nothing (`SETRANGE key 0 ""`) was accepted on the new master's slot.
    WritesServed,
    /// slotd saw a master's process die and asked a replica for
    /// `CLUSTER FAILOVER FORCE` (`failover = "assisted"`; `peer`: the dead master).
    AssistedFailover,
    /// A lab runner step (narrative marker).
    Lab,
}

impl EventKind {
    /// Short label for tables.
    pub fn label(self) -> &'static str {
        match self {
            EventKind::SlotdStarted => "slotd",
            EventKind::Started => "started",
            EventKind::Restarted => "restarted",
            EventKind::Adopted => "adopted",
            EventKind::Running => "running",
            EventKind::Exited => "exited",
            EventKind::Fatal => "fatal",
            EventKind::Paused => "paused",
            EventKind::Resumed => "resumed",
            EventKind::FaultOn => "fault-on",
            EventKind::FaultOff => "fault-off",
            EventKind::Pfail => "pfail",
            EventKind::Fail => "fail",
            EventKind::FailCleared => "fail-cleared",
            EventKind::RoleChange => "role",
            EventKind::Failover => "failover",
            EventKind::ClusterState => "cluster",
            EventKind::SlotsMoved => "slots",
            EventKind::WritesServed => "writes-ok",
            EventKind::AssistedFailover => "assist",
            EventKind::Lab => "lab",
        }
    }
}

/// One timeline entry.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event {
    /// Position in the log (1-based, grows across slotd restarts).
    pub seq: u64,
    /// Unix time in milliseconds.
    pub ts_ms: u64,
    pub kind: EventKind,
    /// The node it is about ("node6380").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node: Option<String>,
    /// The other node involved (old master, slot source...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub peer: Option<String>,
    /// Every node a fault touches.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub nodes: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub epoch: Option<u64>,
    /// ok / fail, master / replica, signal 9...
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
    pub message: String,
    /// The host whose slotd recorded it, in a timeline merged across hosts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
}

impl Event {
    /// A new event (seq and time are set when it is recorded).
    pub fn new(kind: EventKind, node: Option<String>, message: impl Into<String>) -> Event {
        Event { seq: 0, ts_ms: 0, kind, node, peer: None, nodes: Vec::new(), epoch: None, value: None, message: message.into(), host: None }
    }
    pub fn peer(mut self, p: impl Into<String>) -> Event {
        self.peer = Some(p.into());
        self
    }
    pub fn value(mut self, v: impl Into<String>) -> Event {
        self.value = Some(v.into());
        self
    }
    pub fn epoch(mut self, e: u64) -> Event {
        self.epoch = Some(e);
        self
    }
    pub fn nodes(mut self, n: Vec<String>) -> Event {
        self.nodes = n;
        self
    }
}

/// `GET /v1/events`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct EventsResponse {
    pub events: Vec<Event>,
    /// One stopwatch per failover found in the whole timeline.
    pub failovers: Vec<Stopwatch>,
    /// Total events recorded (also counts ones not returned).
    pub total: u64,
}

/// Several hosts' timelines as one, in time order. Each event keeps its
/// host; what the cluster itself reported (PFAIL, FAIL, failovers, roles,
/// state, slot moves) is seen by every host's slotd, so such an event is
/// kept once: the first report within two seconds.
pub fn merge(timelines: Vec<(String, Vec<Event>)>) -> Vec<Event> {
    let mut all: Vec<Event> = timelines
        .into_iter()
        .flat_map(|(host, evs)| {
            evs.into_iter().map(move |mut e| {
                e.host.get_or_insert_with(|| host.clone());
                e
            })
        })
        .collect();
    all.sort_by_key(|e| e.ts_ms);
    let observed = |k: EventKind| {
        matches!(
            k,
            EventKind::Pfail
                | EventKind::Fail
                | EventKind::FailCleared
                | EventKind::RoleChange
                | EventKind::Failover
                | EventKind::ClusterState
                | EventKind::SlotsMoved
        )
    };
    let mut out: Vec<Event> = Vec::with_capacity(all.len());
    for e in all {
        let dup = observed(e.kind)
            && out.iter().rev().take_while(|o| e.ts_ms.saturating_sub(o.ts_ms) <= 2000).any(|o| {
                o.kind == e.kind && o.node == e.node && o.peer == e.peer && o.value == e.value && o.epoch == e.epoch && o.host != e.host
            });
        if !dup {
            out.push(e);
        }
    }
    out
}

/// Renders events with times relative to `t0` (ms), one line each.
pub fn render(events: &[Event], t0: u64) -> String {
    let mut out = String::new();
    for e in events {
        let rel = e.ts_ms.saturating_sub(t0);
        // In a timeline merged across hosts, the host that recorded it.
        let who = match (&e.node, &e.host) {
            (Some(n), Some(h)) => format!("{n}@{h}"),
            (Some(n), None) => n.clone(),
            (None, Some(h)) => format!("@{h}"),
            (None, None) => "-".into(),
        };
        out.push_str(&format!("{:>4}.{:03}s  {:<12} {:<10} {}\n", rel / 1000, rel % 1000, e.kind.label(), who, e.message));
    }
    out
}

/// An event at `ts` about `node`, for the timeline's tests.
#[cfg(test)]
pub(crate) fn test_event(ts: u64, kind: EventKind, node: &str) -> Event {
    let mut e = Event::new(kind, Some(node.into()), format!("{kind:?}"));
    e.ts_ms = ts;
    e
}

#[cfg(test)]
mod tests {
    use super::test_event as ev;
    use super::*;

    #[test]
    fn merged_timelines_keep_each_hosts_events_and_one_copy_of_the_clusters() {
        let h1 =
            vec![ev(100, EventKind::Exited, "node7000"), ev(1500, EventKind::Fail, "node7000"), ev(2000, EventKind::Failover, "node7003")];
        let h2 =
            vec![ev(1600, EventKind::Fail, "node7000"), ev(2100, EventKind::Failover, "node7003"), ev(9000, EventKind::Fail, "node7000")];
        let m = merge(vec![("h1".into(), h1), ("h2".into(), h2)]);
        let seen: Vec<(u64, EventKind, Option<&str>)> = m.iter().map(|e| (e.ts_ms, e.kind, e.host.as_deref())).collect();
        assert_eq!(
            seen,
            vec![
                (100, EventKind::Exited, Some("h1")),
                (1500, EventKind::Fail, Some("h1")),
                (2000, EventKind::Failover, Some("h1")),
                // A later, separate FAIL is its own event.
                (9000, EventKind::Fail, Some("h2")),
            ]
        );
        assert!(render(&m, 0).contains("node7000@h1"));
    }
}
