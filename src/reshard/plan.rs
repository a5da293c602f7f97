//! Pure decisions, unit-tested without nodes: which slots a reshard or a
//! rebalance moves, and what `check` reports about a topology.

use super::topology::{ranges, ranges_text, Topology};
use serde::{Deserialize, Serialize};

/// A master for rebalancing: its slots and its weight.
#[derive(Debug, Clone)]
pub struct Weighted {
    pub id: String,
    pub slots: Vec<u16>,
    pub weight: f64,
}

/// Slot counts each master should have: proportional to weight, the
/// rounding remainder going to the heaviest masters first.
pub fn targets(masters: &[Weighted]) -> Vec<usize> {
    let total_w: f64 = masters.iter().map(|m| m.weight.max(0.0)).sum();
    if total_w <= 0.0 {
        return masters.iter().map(|m| m.slots.len()).collect();
    }
    let total: usize = masters.iter().map(|m| m.slots.len()).sum();
    let mut out: Vec<usize> = masters.iter().map(|m| (total as f64 * m.weight.max(0.0) / total_w).floor() as usize).collect();
    let mut rest = total - out.iter().sum::<usize>();
    let mut order: Vec<usize> = (0..masters.len()).filter(|&i| masters[i].weight > 0.0).collect();
    order.sort_by(|&a, &b| {
        let fa = total as f64 * masters[a].weight / total_w - out[a] as f64;
        let fb = total as f64 * masters[b].weight / total_w - out[b] as f64;
        fb.total_cmp(&fa).then(a.cmp(&b))
    });
    for i in order.iter().cycle() {
        if rest == 0 {
            break;
        }
        out[*i] += 1;
        rest -= 1;
    }
    out
}

/// Moves (from index, to index, slots) that bring every master to its
/// target, or nothing when every master is within `threshold_pct` percent
/// of it (redis-cli's --cluster-threshold, default 2). A master of weight 0
/// is always emptied.
pub fn rebalance(masters: &[Weighted], threshold_pct: f64) -> Vec<(usize, usize, Vec<u16>)> {
    let want = targets(masters);
    let off = masters.iter().zip(&want).any(|(m, &w)| {
        let have = m.slots.len();
        if w == 0 {
            have > 0
        } else {
            (have as f64 - w as f64).abs() / w as f64 * 100.0 > threshold_pct
        }
    });
    if !off {
        return Vec::new();
    }
    let mut balance: Vec<i64> = masters.iter().zip(&want).map(|(m, &w)| m.slots.len() as i64 - w as i64).collect();
    let mut pools: Vec<Vec<u16>> = masters.iter().map(|m| m.slots.clone()).collect();
    let mut moves = Vec::new();
    while let Some(src) = (0..masters.len()).filter(|&i| balance[i] > 0).max_by_key(|&i| (balance[i], std::cmp::Reverse(i))) {
        let Some(dst) = (0..masters.len()).filter(|&i| balance[i] < 0).min_by_key(|&i| (balance[i], i)) else {
            break;
        };
        let n = balance[src].min(-balance[dst]) as usize;
        // Take from the top of the source's slots so its ranges stay whole.
        let cut = pools[src].len() - n;
        let taken: Vec<u16> = pools[src].split_off(cut);
        balance[src] -= n as i64;
        balance[dst] += n as i64;
        moves.push((src, dst, taken));
    }
    moves
}

/// `GET /v1/cluster/check`: what `redis-cli --cluster check` verifies.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CheckReport {
    pub ok: bool,
    /// Each problem in one line, with what to do.
    pub problems: Vec<String>,
    pub nodes: usize,
    pub masters: usize,
    /// Slots some reachable master claims.
    pub slots_covered: usize,
    pub keys: u64,
}

/// Checks a topology: every node answers and is not failing, every slot is
/// served by exactly one master, every node agrees on who serves which
/// slot, no slot is open, every node says cluster_state:ok.
pub fn check(topo: &Topology) -> CheckReport {
    let mut problems = Vec::new();
    for m in &topo.members {
        if !m.reachable {
            problems.push(format!(
                "node {} ({}) does not answer: start it (`slotctl start {}`) or remove it (`slotctl del-node {}`)",
                m.me.label(),
                m.me.id,
                m.me.label(),
                m.me.id
            ));
        }
    }
    for m in topo.members.iter().filter(|m| m.reachable) {
        for other in &m.view {
            if other.failing() && !other.has_flag("myself") {
                problems.push(format!("node {} sees node {} as failing ({})", m.me.label(), other.label(), other.flags.join(",")));
            }
        }
        if m.state.as_deref() != Some("ok") {
            problems.push(format!("node {} reports cluster_state:{}", m.me.label(), m.state.clone().unwrap_or_else(|| "?".into())));
        }
    }
    let claims = topo.self_claims();
    let uncovered: Vec<u16> = (0..16384u16).filter(|&s| claims[s as usize].is_empty()).collect();
    if !uncovered.is_empty() {
        problems.push(format!(
            "{} slots are not served by any master ({}): run `slotctl fix` to assign them",
            uncovered.len(),
            short(&ranges_text(&ranges(&uncovered)))
        ));
    }
    let multi: Vec<u16> = (0..16384u16).filter(|&s| claims[s as usize].len() > 1).collect();
    if !multi.is_empty() {
        problems.push(format!(
            "{} slots are claimed by more than one master ({}): wait a few seconds for gossip, then `slotctl fix`",
            multi.len(),
            short(&ranges_text(&ranges(&multi)))
        ));
    }
    // Each node's view of the owners, compared with what the owners claim.
    for m in topo.members.iter().filter(|m| m.reachable) {
        let mut seen: Vec<Option<&str>> = vec![None; 16384];
        for l in m.view.iter().filter(|l| l.is_master()) {
            for &(a, b) in &l.slots {
                for s in a..=b {
                    seen[s as usize] = Some(l.id.as_str());
                }
            }
        }
        let differ: Vec<u16> = (0..16384u16)
            .filter(|&s| {
                let c = &claims[s as usize];
                c.len() == 1 && seen[s as usize] != Some(c[0])
            })
            .collect();
        if !differ.is_empty() {
            problems.push(format!(
                "node {} disagrees about the owner of {} slots ({}): wait for gossip to settle, or run `slotctl fix`",
                m.me.label(),
                differ.len(),
                short(&ranges_text(&ranges(&differ)))
            ));
        }
    }
    for (slot, node, other, migrating) in topo.open_slots() {
        let label = |id: &str| topo.by_id(id).map(|m| m.me.label()).unwrap_or_else(|| id.chars().take(8).collect());
        if migrating {
            problems.push(format!(
                "slot {slot} is open: MIGRATING on {} to {}; run `slotctl fix` to finish the move",
                label(&node),
                label(&other)
            ));
        } else {
            problems.push(format!(
                "slot {slot} is open: IMPORTING on {} from {}; run `slotctl fix` to close it",
                label(&node),
                label(&other)
            ));
        }
    }
    CheckReport {
        ok: problems.is_empty(),
        problems,
        nodes: topo.members.len(),
        masters: topo.masters().count(),
        slots_covered: 16384 - uncovered.len(),
        keys: topo.masters().filter_map(|m| m.keys).sum(),
    }
}

fn short(s: &str) -> String {
    if s.len() > 80 {
        let cut = s[..80].rfind(',').unwrap_or(80);
        format!("{},...", &s[..cut])
    } else {
        s.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(id: &str, slots: std::ops::Range<u16>, weight: f64) -> Weighted {
        Weighted { id: id.into(), slots: slots.collect(), weight }
    }

    #[test]
    fn targets_follow_weights_and_sum() {
        let ms = vec![m("a", 0..8192, 1.0), m("b", 8192..16384, 1.0), m("c", 0..0, 1.0), m("d", 0..0, 1.0)];
        assert_eq!(targets(&ms), vec![4096; 4]);
        let ms = vec![m("a", 0..16384, 2.0), m("b", 0..0, 1.0), m("c", 0..0, 0.0)];
        let t = targets(&ms);
        assert_eq!(t.iter().sum::<usize>(), 16384);
        assert_eq!(t[2], 0);
        assert!(t[0] == 10923 && t[1] == 5461, "{t:?}");
    }

    #[test]
    fn rebalance_moves_to_empty_master_and_respects_threshold() {
        let ms = vec![m("a", 0..5461, 1.0), m("b", 5461..10923, 1.0), m("c", 10923..16384, 1.0), m("d", 0..0, 1.0)];
        let moves = rebalance(&ms, 2.0);
        let to_d: usize = moves.iter().filter(|x| x.1 == 3).map(|x| x.2.len()).sum();
        assert_eq!(to_d, 4096);
        let mut after: Vec<usize> = ms.iter().map(|x| x.slots.len()).collect();
        for (f, t, s) in &moves {
            after[*f] -= s.len();
            after[*t] += s.len();
        }
        assert_eq!(after, vec![4096; 4]);
        // Already balanced within 2%: nothing to do.
        let ms = vec![m("a", 0..5461, 1.0), m("b", 5461..10923, 1.0), m("c", 10923..16384, 1.0)];
        assert!(rebalance(&ms, 2.0).is_empty());
        // Weight 0 empties the master.
        let ms = vec![m("a", 0..5461, 1.0), m("b", 5461..10923, 1.0), m("c", 10923..16384, 0.0)];
        let moves = rebalance(&ms, 2.0);
        assert_eq!(moves.iter().filter(|x| x.0 == 2).map(|x| x.2.len()).sum::<usize>(), 5461);
    }
}
