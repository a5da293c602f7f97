//! Lab scenarios: the lab's exercises as TOML files run against a fresh
//! cluster, reported as a narrative with the event timeline, keys lost and
//! PASS/FAIL per expectation; optionally on both engines side by side.

pub mod client;
pub mod runner;
pub mod runs;
pub mod scenario;

use crate::events::{self, stopwatch, EventKind};
use runner::Outcome;

/// Event kinds that tell the cluster's story (the rest is supervision noise).
fn story(kind: EventKind) -> bool {
    !matches!(kind, EventKind::SlotdStarted | EventKind::Running | EventKind::Started)
}

/// The full report of one run.
pub fn report(o: &Outcome) -> String {
    let mut s = String::new();
    let variant = o.variant.as_ref().map(|v| format!(" [{v}]")).unwrap_or_default();
    s.push_str(&format!("=== lab {}{variant} on {} ===\n", o.scenario, o.engine));
    if let Some(why) = &o.skipped {
        s.push_str(&format!("SKIPPED: {why}\n"));
        return s;
    }
    for l in &o.narrative {
        s.push_str(l);
        s.push('\n');
    }
    let story_events: Vec<events::Event> = o.events.iter().filter(|e| story(e.kind)).cloned().collect();
    if !story_events.is_empty() {
        // Start the timeline at the first thing the scenario did, not at node start-up.
        let t0 =
            story_events.iter().find(|e| matches!(e.kind, EventKind::Exited | EventKind::Paused | EventKind::FaultOn)).map(|e| e.ts_ms);
        let t0 = t0.unwrap_or(story_events[0].ts_ms);
        s.push_str("\n-- event timeline (seconds from the first fault) --\n");
        let shown: Vec<events::Event> = story_events.into_iter().filter(|e| e.ts_ms + 1 >= t0).collect();
        s.push_str(&events::render(&shown, t0));
    }
    for sw in &o.failovers {
        s.push('\n');
        s.push_str(&stopwatch::render(sw));
    }
    s.push_str(&format!("\nwrites: {} acknowledged, {} not acknowledged", o.acked, o.not_acked));
    match o.lost {
        Some(l) => s.push_str(&format!("; acknowledged keys lost: {l}\n")),
        None => s.push('\n'),
    }
    if !o.missing.is_empty() {
        let list: Vec<&str> = o.missing.iter().take(50).map(String::as_str).collect();
        s.push_str(&format!("missing: {}{}\n", list.join(" "), if o.missing.len() > 50 { " ..." } else { "" }));
    }
    for c in &o.checks {
        s.push_str(&format!("{} step {}: {} ({})\n", if c.pass { "PASS" } else { "FAIL" }, c.step, c.what, c.detail));
    }
    if let Some(e) = &o.error {
        s.push_str(&format!("ERROR: {e}\n"));
    }
    s.push_str(&format!("RESULT: {}\n", if o.passed() { "PASS" } else { "FAIL" }));
    s
}

/// Two runs of the same scenario side by side: checks, failover phases and
/// the sequence of cluster events, with `<>` marking every difference.
pub fn compare(a: &Outcome, b: &Outcome) -> String {
    let mut s = String::new();
    let w = 44;
    s.push_str(&format!("=== {} : {} vs {} ===\n", a.scenario, a.engine, b.engine));
    s.push_str(&format!("   {:<w$} {}\n", a.engine, b.engine));
    let line = |s: &mut String, l: String, r: String| {
        let mark = if l == r { "  " } else { "<>" };
        s.push_str(&format!("{mark} {l:<w$} {r}\n"));
    };
    let n = a.checks.len().max(b.checks.len());
    for i in 0..n {
        let f = |o: &Outcome| o.checks.get(i).map(|c| format!("{} {}", if c.pass { "PASS" } else { "FAIL" }, c.what)).unwrap_or_default();
        line(&mut s, f(a), f(b));
    }
    line(&mut s, format!("acked {} lost {:?}", a.acked, a.lost), format!("acked {} lost {:?}", b.acked, b.lost));
    let seq = |o: &Outcome| -> Vec<String> {
        o.events
            .iter()
            .filter(|e| {
                matches!(
                    e.kind,
                    EventKind::Pfail
                        | EventKind::Fail
                        | EventKind::Failover
                        | EventKind::RoleChange
                        | EventKind::ClusterState
                        | EventKind::SlotsMoved
                        | EventKind::WritesServed
                        | EventKind::Exited
                )
            })
            .map(|e| {
                format!(
                    "{} {}{}",
                    e.kind.label(),
                    e.node.as_deref().unwrap_or(""),
                    e.value.as_ref().map(|v| format!(" {v}")).unwrap_or_default()
                )
            })
            .collect()
    };
    let (sa, sb) = (seq(a), seq(b));
    s.push_str("-- cluster events in order --\n");
    for i in 0..sa.len().max(sb.len()) {
        line(&mut s, sa.get(i).cloned().unwrap_or_default(), sb.get(i).cloned().unwrap_or_default());
    }
    let fa = a.failovers.first();
    let fb = b.failovers.first();
    if fa.is_some() || fb.is_some() {
        s.push_str("-- first failover, ms from trigger --\n");
        let phases = |sw: Option<&stopwatch::Stopwatch>| -> Vec<(String, Option<u64>)> {
            sw.map(|sw| {
                let t0 = sw.phases.first().and_then(|p| p.ts_ms);
                sw.phases.iter().map(|p| (p.name.clone(), p.ts_ms.zip(t0).map(|(t, z)| t.saturating_sub(z)))).collect()
            })
            .unwrap_or_default()
        };
        let (pa, pb) = (phases(fa), phases(fb));
        for i in 0..pa.len().max(pb.len()) {
            let f = |v: &Vec<(String, Option<u64>)>| {
                v.get(i).map(|(n, t)| format!("{n}: {}", t.map(|t| format!("{t} ms")).unwrap_or_else(|| "-".into()))).unwrap_or_default()
            };
            // Times always differ a little; only mark a phase missing on one side.
            let (l, r) = (f(&pa), f(&pb));
            let mark = if l.ends_with('-') != r.ends_with('-') { "<>" } else { "  " };
            s.push_str(&format!("{mark} {l:<w$} {r}\n"));
        }
    }
    s.push_str(&format!(
        "RESULT: {} {} / {} {}\n",
        a.engine,
        if a.passed() { "PASS" } else { "FAIL" },
        b.engine,
        if b.passed() { "PASS" } else { "FAIL" }
    ));
    s
}
