//! The failover stopwatch: for each failover in the timeline, the moments of
//! trigger (kill/pause/fault) -> first PFAIL -> FAIL -> election won -> writes
//! served -> cluster_state ok, so a student sees where the seconds go.

use super::{Event, EventKind};
use serde::{Deserialize, Serialize};

/// One phase: what and when (unix ms), None if it was not seen.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Phase {
    pub name: String,
    pub ts_ms: Option<u64>,
    pub detail: String,
}

/// One failover, phase by phase.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Stopwatch {
    pub old_master: String,
    pub new_master: String,
    pub epoch: Option<u64>,
    pub phases: Vec<Phase>,
    /// Trigger to writes served (or to election when writes were not probed), ms.
    pub total_ms: Option<u64>,
}

fn touches(e: &Event, node: &str) -> bool {
    e.node.as_deref() == Some(node) || e.nodes.iter().any(|n| n == node)
}

/// Builds a stopwatch for every Failover event.
pub fn stopwatches(events: &[Event]) -> Vec<Stopwatch> {
    let mut out = Vec::new();
    for (i, f) in events.iter().enumerate() {
        if f.kind != EventKind::Failover {
            continue;
        }
        let (Some(new), Some(old)) = (f.node.clone(), f.peer.clone()) else { continue };
        let trigger_idx = events[..i]
            .iter()
            .rposition(|e| matches!(e.kind, EventKind::Exited | EventKind::Paused | EventKind::FaultOn) && touches(e, &old));
        let from = trigger_idx.unwrap_or(0);
        let find_before = |kind: EventKind| events[from..i].iter().find(|e| e.kind == kind && e.node.as_deref() == Some(old.as_str()));
        let find_after = |pred: &dyn Fn(&Event) -> bool| events[i..].iter().find(|e| pred(e));
        let mut phases = Vec::new();
        let trig = trigger_idx.map(|t| &events[t]);
        phases.push(Phase {
            name: "trigger".into(),
            ts_ms: trig.map(|e| e.ts_ms),
            detail: trig.map(|e| e.message.clone()).unwrap_or_else(|| "no kill/pause/fault recorded".into()),
        });
        // Assisted failover: when slotd asked the replica (shown only when it did).
        if let Some(a) = events[from..i].iter().find(|e| e.kind == EventKind::AssistedFailover && e.peer.as_deref() == Some(old.as_str())) {
            phases.push(Phase { name: "FAILOVER FORCE asked".into(), ts_ms: Some(a.ts_ms), detail: a.message.clone() });
        }
        let p = find_before(EventKind::Pfail);
        phases.push(Phase {
            name: "first PFAIL".into(),
            ts_ms: p.map(|e| e.ts_ms),
            detail: p.map(|e| e.message.clone()).unwrap_or_default(),
        });
        let fl = find_before(EventKind::Fail);
        phases.push(Phase { name: "FAIL".into(), ts_ms: fl.map(|e| e.ts_ms), detail: fl.map(|e| e.message.clone()).unwrap_or_default() });
        phases.push(Phase { name: "election won".into(), ts_ms: Some(f.ts_ms), detail: f.message.clone() });
        let w = find_after(&|e: &Event| e.kind == EventKind::WritesServed && e.node.as_deref() == Some(new.as_str()));
        phases.push(Phase {
            name: "writes served".into(),
            ts_ms: w.map(|e| e.ts_ms),
            detail: w.map(|e| e.message.clone()).unwrap_or_default(),
        });
        let ok = find_after(&|e: &Event| e.kind == EventKind::ClusterState && e.value.as_deref() == Some("ok"));
        phases.push(Phase {
            name: "cluster_state ok".into(),
            ts_ms: ok.map(|e| e.ts_ms),
            detail: ok.map(|e| e.message.clone()).unwrap_or_default(),
        });
        let start = trig.map(|e| e.ts_ms);
        let end = w.map(|e| e.ts_ms).unwrap_or(f.ts_ms);
        out.push(Stopwatch { old_master: old, new_master: new, epoch: f.epoch, phases, total_ms: start.map(|s| end.saturating_sub(s)) });
    }
    out
}

/// Human text: each phase with ms since the trigger and since the previous phase.
pub fn render(sw: &Stopwatch) -> String {
    let mut out =
        format!("failover {} -> {}{}:\n", sw.old_master, sw.new_master, sw.epoch.map(|e| format!(" (epoch {e})")).unwrap_or_default());
    let t0 = sw.phases.first().and_then(|p| p.ts_ms);
    let mut prev = t0;
    for p in &sw.phases {
        match (p.ts_ms, t0) {
            (Some(t), Some(s)) => {
                let step = prev.map(|pv| t.saturating_sub(pv)).unwrap_or(0);
                out.push_str(&format!("  {:>7} ms  (+{:>5} ms)  {:<17} {}\n", t.saturating_sub(s), step, p.name, p.detail));
                prev = Some(t);
            }
            (Some(_), None) => out.push_str(&format!("  {:>7}     {:>12}  {:<17} {}\n", "?", "", p.name, p.detail)),
            (None, _) => out.push_str(&format!("  {:>7}     {:>12}  {:<17} (not seen)\n", "-", "", p.name)),
        }
    }
    if let Some(t) = sw.total_ms {
        out.push_str(&format!("  total {t} ms from trigger to writes served\n"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::events::test_event as ev;

    #[test]
    fn phases_in_order() {
        let mut f = ev(3000, EventKind::Failover, "n3");
        f.peer = Some("n0".into());
        let mut ok = ev(3300, EventKind::ClusterState, "n1");
        ok.value = Some("ok".into());
        let events = vec![
            ev(900, EventKind::Pfail, "n0"),
            ev(1000, EventKind::Exited, "n0"),
            ev(2000, EventKind::Pfail, "n0"),
            ev(2500, EventKind::Fail, "n0"),
            f,
            ev(3100, EventKind::WritesServed, "n3"),
            ok,
        ];
        let sw = stopwatches(&events);
        assert_eq!(sw.len(), 1);
        let ts: Vec<Option<u64>> = sw[0].phases.iter().map(|p| p.ts_ms).collect();
        assert_eq!(ts, vec![Some(1000), Some(2000), Some(2500), Some(3000), Some(3100), Some(3300)]);
        assert_eq!(sw[0].total_ms, Some(2100));
        assert!(render(&sw[0]).contains("+  500 ms"));
    }
}
