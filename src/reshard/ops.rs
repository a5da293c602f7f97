//! The operations behind slotctl's cluster commands: planning a reshard or
//! rebalance and running it as a job, fixing open slots, the slot map,
//! adding and removing nodes.

use super::mover::{self, Endpoint, MoveOpts, Pool};
use super::plan::{self, Weighted};
use super::progress::{Job, JobState};
use super::topology::{ranges, ranges_text, Member, Topology};
use super::{MasterView, MembershipReport, OpenSlot, RebalanceRequest, ReplicaView, ReshardError, ReshardRequest, SlotMap};
use crate::cluster_admin::Resp;
use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::time::Duration;
use tokio::time::Instant;

/// Slots to move from one master to another.
#[derive(Debug, Clone)]
pub struct Move {
    pub from: Endpoint,
    pub to: Endpoint,
    pub slots: Vec<u16>,
}

fn endpoint(m: &Member) -> Result<Endpoint, ReshardError> {
    if !m.reachable {
        return Err(ReshardError::Conflict(format!(
            "node {} does not answer; start it first (`slotctl start {}`)",
            m.me.label(),
            m.me.label()
        )));
    }
    Ok(Endpoint { id: m.me.id.clone(), addr: m.addr()? })
}

fn master<'a>(topo: &'a Topology, key: &str) -> Result<&'a Member, ReshardError> {
    let m = topo.resolve(key)?;
    if !m.me.is_master() {
        let of = m.me.master_id.as_deref().and_then(|id| topo.by_id(id)).map(|x| x.me.label()).unwrap_or_else(|| "?".into());
        return Err(ReshardError::Invalid(format!("node {} is a replica (of {of}); slots live on masters: name a master", m.me.label())));
    }
    Ok(m)
}

/// Parses "9842" or "100-200".
///
/// # Errors
/// Not a slot or range within 0-16383.
pub fn parse_range(s: &str) -> Result<(u16, u16), ReshardError> {
    let bad = || ReshardError::Invalid(format!("`{s}` is not a slot or range: use a number 0-16383 or START-END (e.g. 9842 or 100-199)"));
    let (a, b) = s.trim().split_once('-').unwrap_or((s.trim(), s.trim()));
    let a: u16 = a.trim().parse().map_err(|_| bad())?;
    let b: u16 = b.trim().parse().map_err(|_| bad())?;
    if a > b || b > 16383 {
        return Err(bad());
    }
    Ok((a, b))
}

/// Refuses to start while slots are open, except those `allowed` (between
/// the same two nodes, which the move finishes first).
fn refuse_open(topo: &Topology, allowed: &[(String, String)]) -> Result<(), ReshardError> {
    let open: Vec<_> = topo
        .open_slots()
        .into_iter()
        .filter(|(_, node, peer, mig)| {
            let pair = if *mig { (node.clone(), peer.clone()) } else { (peer.clone(), node.clone()) };
            !allowed.contains(&pair)
        })
        .collect();
    if let Some((slot, node, _, mig)) = open.first() {
        let label = topo.by_id(node).map(|m| m.me.label()).unwrap_or_else(|| node.clone());
        return Err(ReshardError::Conflict(format!(
            "slot {slot} is open ({} on {label}) from an unfinished move; run `slotctl fix` first",
            if *mig { "MIGRATING" } else { "IMPORTING" }
        )));
    }
    Ok(())
}

/// Which slots a reshard moves. Slots a previous interrupted run left open
/// between the same nodes come first (and count), slots already on the
/// target are skipped.
///
/// # Errors
/// Unknown nodes, replicas, the same node twice, slots not on the source,
/// or other slots open.
pub fn plan_reshard(topo: &Topology, req: &ReshardRequest) -> Result<Move, ReshardError> {
    let from = master(topo, &req.from)?;
    let to = master(topo, &req.to)?;
    if from.me.id == to.me.id {
        return Err(ReshardError::Invalid(format!("--from and --to are the same node ({}); name two different masters", from.me.label())));
    }
    refuse_open(topo, &[(from.me.id.clone(), to.me.id.clone())])?;
    let (fe, te) = (endpoint(from)?, endpoint(to)?);
    let open: Vec<u16> =
        topo.open_slots().iter().filter(|(_, n, p, mig)| *mig && *n == from.me.id && *p == to.me.id).map(|x| x.0).collect();
    let owned: Vec<u16> = from.me.slots.iter().flat_map(|&(a, b)| a..=b).filter(|s| !open.contains(s)).collect();
    let slots: Vec<u16> = match (req.slots, req.slot.as_deref()) {
        (Some(_), Some(_)) | (None, None) => {
            return Err(ReshardError::Invalid("give either --slots N (how many) or --slot S[-E] (which)".into()));
        }
        (Some(0), None) => return Err(ReshardError::Invalid("--slots must be at least 1".into())),
        (Some(n), None) => {
            if n > open.len() + owned.len() {
                return Err(ReshardError::Invalid(format!(
                    "node {} owns {} slots; cannot move {n}: ask for at most {}",
                    from.me.label(),
                    owned.len() + open.len(),
                    owned.len() + open.len()
                )));
            }
            let mut v = open.clone();
            v.extend(owned.iter().take(n - open.len().min(n)));
            v.truncate(n);
            v
        }
        (None, Some(r)) => {
            let (a, b) = parse_range(r)?;
            let mut v = Vec::new();
            for s in a..=b {
                if to.me.owns(s) && !open.contains(&s) {
                    continue;
                }
                if !open.contains(&s) && !from.me.owns(s) {
                    let owner = topo.self_claims()[s as usize].first().and_then(|id| topo.by_id(id)).map(|m| m.me.label());
                    return Err(ReshardError::Invalid(format!(
                        "slot {s} is not on {} (owner: {}); pick slots the source serves (`slotctl cluster` lists them)",
                        from.me.label(),
                        owner.unwrap_or_else(|| "nobody".into())
                    )));
                }
                v.push(s);
            }
            // Open ones first: they are the checkpoint of an interrupted run.
            v.sort_by_key(|s| (!open.contains(s), *s));
            v
        }
    };
    Ok(Move { from: fe, to: te, slots })
}

/// Plans a rebalance by weight.
///
/// # Errors
/// Unknown or non-master nodes in `weights`, bad weights, open slots.
pub fn plan_rebalance(topo: &Topology, req: &RebalanceRequest) -> Result<Vec<Move>, ReshardError> {
    refuse_open(topo, &[])?;
    let masters: Vec<&Member> = topo.masters().filter(|m| !m.me.failing() || m.reachable).collect();
    let mut weighted: Vec<Weighted> = masters
        .iter()
        .map(|m| Weighted { id: m.me.id.clone(), slots: m.me.slots.iter().flat_map(|&(a, b)| a..=b).collect(), weight: 1.0 })
        .collect();
    for (key, w) in &req.weights {
        if !w.is_finite() || *w < 0.0 {
            return Err(ReshardError::Invalid(format!("weight for {key} is {w}; use a number >= 0 (0 empties the master)")));
        }
        let m = master(topo, key)?;
        if let Some(x) = weighted.iter_mut().find(|x| x.id == m.me.id) {
            x.weight = *w;
        }
    }
    if weighted.iter().all(|w| w.weight == 0.0) {
        return Err(ReshardError::Invalid("every master has weight 0; at least one must keep slots".into()));
    }
    let threshold = req.threshold_pct.unwrap_or(2.0);
    let mut out = Vec::new();
    for (f, t, slots) in plan::rebalance(&weighted, threshold) {
        out.push(Move { from: endpoint(masters[f])?, to: endpoint(masters[t])?, slots });
    }
    Ok(out)
}

fn opts(batch: Option<usize>, timeout_ms: Option<u64>) -> MoveOpts {
    let d = MoveOpts::default();
    MoveOpts { batch: batch.unwrap_or(d.batch).clamp(1, 100_000), timeout_ms: timeout_ms.unwrap_or(d.timeout_ms).max(1) }
}

/// Options of a reshard request.
pub fn reshard_opts(req: &ReshardRequest) -> MoveOpts {
    opts(req.batch, req.timeout_ms)
}

/// Options of a rebalance request.
pub fn rebalance_opts(req: &RebalanceRequest) -> MoveOpts {
    opts(req.batch, req.timeout_ms)
}

/// Runs planned moves, updating `job`, and records how the job ended.
pub async fn run_moves(topo: &Topology, moves: Vec<Move>, o: MoveOpts, job: &Job) -> Result<(), ReshardError> {
    let res = run_moves_inner(topo, &moves, o, job).await;
    match &res {
        Ok(()) => job.finish(JobState::Done, None),
        Err(e @ ReshardError::Cancelled { .. }) => job.finish(JobState::Cancelled, Some(e.to_string())),
        Err(e) => job.finish(JobState::Failed, Some(format!("{e}; slots already moved stay moved; `slotctl check` shows the state"))),
    }
    res
}

fn master_addrs(topo: &Topology) -> Vec<SocketAddr> {
    topo.masters().filter(|m| m.reachable).filter_map(|m| m.me.addr).collect()
}

async fn run_moves_inner(topo: &Topology, moves: &[Move], o: MoveOpts, job: &Job) -> Result<(), ReshardError> {
    let mut pool = Pool::new(Duration::from_millis(o.timeout_ms) + Duration::from_secs(5));
    let total: usize = moves.iter().map(|m| m.slots.len()).sum();
    job.slots_total.store(total as u64, Ordering::Relaxed);
    for m in moves {
        let keys = mover::count_keys(&mut pool, m.from.addr, &m.slots).await?;
        job.keys_total.fetch_add(keys, Ordering::Relaxed);
    }
    let others = master_addrs(topo);
    for m in moves {
        let before = job.keys_done.load(Ordering::Relaxed);
        for &slot in &m.slots {
            mover::move_slot(&mut pool, &m.from, &m.to, &others, slot, o, job).await?;
        }
        job.note(format!(
            "moved {} slots ({}) with {} keys from {} to {}",
            m.slots.len(),
            ranges_text(&ranges(&sorted(&m.slots))),
            job.keys_done.load(Ordering::Relaxed) - before,
            m.from.addr,
            m.to.addr
        ));
    }
    job.current_slot.store(-1, Ordering::Relaxed);
    wait_agreement(topo, Instant::now() + Duration::from_secs(10)).await;
    Ok(())
}

fn sorted(v: &[u16]) -> Vec<u16> {
    let mut v = v.to_vec();
    v.sort_unstable();
    v
}

/// Waits (bounded) until every reachable node's view of slot owners
/// matches what the owners claim, so a `check` right after passes.
pub async fn wait_agreement(topo: &Topology, deadline: Instant) -> bool {
    let seeds: Vec<SocketAddr> = topo.members.iter().filter_map(|m| m.me.addr).collect();
    loop {
        if let Ok(t) = Topology::load(&seeds).await {
            let r = plan::check(&t);
            if !r.problems.iter().any(|p| p.contains("disagrees") || p.contains("more than one master")) {
                return true;
            }
        }
        if Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// What `fix` will do for one open or unowned slot.
#[derive(Debug, Clone)]
pub enum FixStep {
    /// Finish a move: remaining keys from `from` to `to`, then SETSLOT NODE everywhere.
    Finish { slot: u16, from: Endpoint, to: Endpoint },
    /// Move keys the `importers` got back to `owner`, then STABLE on all of `nodes`.
    Close { slot: u16, owner: Endpoint, importers: Vec<Endpoint>, nodes: Vec<Endpoint> },
    /// Give an unserved slot to `owner` (ADDSLOTS), after moving keys others hold to it.
    Assign { slot: u16, owner: Endpoint },
}

impl FixStep {
    fn describe(&self) -> String {
        match self {
            FixStep::Finish { slot, from, to } => format!("slot {slot}: finished the move from {} to {}", from.addr, to.addr),
            FixStep::Close { slot, owner, .. } => format!("slot {slot}: closed (stays on {})", owner.addr),
            FixStep::Assign { slot, owner } => format!("slot {slot}: assigned to {}", owner.addr),
        }
    }
}

/// Decides how to close every open slot, like `redis-cli --cluster fix`.
///
/// # Errors
/// A case it cannot decide safely (the message says what to look at).
pub fn plan_fix(topo: &Topology) -> Result<Vec<FixStep>, ReshardError> {
    let claims = topo.self_claims();
    let mut slots: Vec<u16> = topo.open_slots().iter().map(|x| x.0).collect();
    slots.dedup();
    let ep = |id: &str| -> Result<Endpoint, ReshardError> {
        let m = topo.by_id(id).ok_or_else(|| {
            ReshardError::Conflict(format!(
                "node {id} named in an open slot is not in the cluster; `CLUSTER SETSLOT <slot> STABLE` on the node holding the marker"
            ))
        })?;
        endpoint(m)
    };
    let mut steps = Vec::new();
    let open = topo.open_slots();
    for slot in slots {
        let mig: Vec<&(u16, String, String, bool)> = open.iter().filter(|x| x.0 == slot && x.3).collect();
        let imp: Vec<&(u16, String, String, bool)> = open.iter().filter(|x| x.0 == slot && !x.3).collect();
        let owners = &claims[slot as usize];
        match mig.as_slice() {
            [m] => {
                let (a, b) = (&m.1, &m.2);
                let b_importing = imp.iter().any(|x| &x.1 == b);
                let b_owns = owners.iter().any(|o| o == b);
                if b_importing || b_owns {
                    steps.push(FixStep::Finish { slot, from: ep(a)?, to: ep(b)? });
                    let strays: Vec<Endpoint> = imp.iter().filter(|x| &x.1 != b).map(|x| ep(&x.1)).collect::<Result<_, _>>()?;
                    if !strays.is_empty() {
                        steps.push(FixStep::Close { slot, owner: ep(b)?, importers: strays.clone(), nodes: strays });
                    }
                } else {
                    let importers: Vec<Endpoint> = imp.iter().map(|x| ep(&x.1)).collect::<Result<_, _>>()?;
                    let mut nodes = importers.clone();
                    nodes.push(ep(a)?);
                    steps.push(FixStep::Close { slot, owner: ep(a)?, importers, nodes });
                }
            }
            [] => {
                let owner = match owners.as_slice() {
                    [o] => ep(o)?,
                    [] => {
                        // Nobody serves it: the first importer takes it.
                        ep(&imp[0].1)?
                    }
                    _ => {
                        return Err(ReshardError::Conflict(format!(
                            "slot {slot} is claimed by several masters and open; wait for gossip to settle and run `slotctl fix` again"
                        )))
                    }
                };
                let importers: Vec<Endpoint> =
                    imp.iter().filter(|x| x.1 != owner.id).map(|x| ep(&x.1)).collect::<Result<_, _>>()?;
                let nodes: Vec<Endpoint> = imp.iter().map(|x| ep(&x.1)).collect::<Result<_, _>>()?;
                if owners.is_empty() {
                    steps.push(FixStep::Assign { slot, owner: owner.clone() });
                }
                steps.push(FixStep::Close { slot, owner, importers, nodes });
            }
            _ => {
                return Err(ReshardError::Conflict(format!(
                    "slot {slot} is MIGRATING on {} nodes at once; close all but one by hand (`redis-cli -p PORT CLUSTER SETSLOT {slot} STABLE`), then `slotctl fix`",
                    mig.len()
                )))
            }
        }
    }
    if claims.iter().all(|c| c.is_empty()) {
        return Err(ReshardError::Conflict(
            "no slot is assigned to any master: the cluster is not created yet; run `slotctl create`".into(),
        ));
    }
    // Unserved slots that are not open: give them to the master with fewest slots.
    let unserved: Vec<u16> =
        (0..16384u16).filter(|&s| claims[s as usize].is_empty() && !steps.iter().any(|st| step_slot(st) == s)).collect();
    if !unserved.is_empty() {
        let Some(least) = topo.masters().filter(|m| m.reachable).min_by_key(|m| (m.me.slot_count(), m.me.addr.map(|a| a.port()))) else {
            return Err(ReshardError::Conflict("no reachable master to give unserved slots to; start the masters first".into()));
        };
        for s in unserved {
            steps.push(FixStep::Assign { slot: s, owner: endpoint(least)? });
        }
    }
    Ok(steps)
}

fn step_slot(s: &FixStep) -> u16 {
    match s {
        FixStep::Finish { slot, .. } | FixStep::Close { slot, .. } | FixStep::Assign { slot, .. } => *slot,
    }
}

/// Runs the fix steps as a job.
pub async fn run_fix(topo: &Topology, steps: Vec<FixStep>, o: MoveOpts, job: &Job) -> Result<(), ReshardError> {
    let res = run_fix_inner(topo, &steps, o, job).await;
    match &res {
        Ok(()) => job.finish(JobState::Done, None),
        Err(e @ ReshardError::Cancelled { .. }) => job.finish(JobState::Cancelled, Some(e.to_string())),
        Err(e) => job.finish(JobState::Failed, Some(e.to_string())),
    }
    res
}

async fn run_fix_inner(topo: &Topology, steps: &[FixStep], o: MoveOpts, job: &Job) -> Result<(), ReshardError> {
    let mut pool = Pool::new(Duration::from_millis(o.timeout_ms) + Duration::from_secs(5));
    let others = master_addrs(topo);
    job.slots_total.store(steps.len() as u64, Ordering::Relaxed);
    for st in steps {
        if let FixStep::Finish { slot, from, .. } = st {
            let n = mover::count_keys(&mut pool, from.addr, &[*slot]).await?;
            job.keys_total.fetch_add(n, Ordering::Relaxed);
        }
    }
    let mut assigned = 0usize;
    for st in steps {
        match st {
            FixStep::Finish { slot, from, to } => {
                mover::move_slot(&mut pool, from, to, &others, *slot, o, job).await?;
                job.note(st.describe());
            }
            FixStep::Close { slot, owner, importers, nodes } => {
                job.current_slot.store(i64::from(*slot), Ordering::Relaxed);
                for imp in importers {
                    mover::drain_slot(&mut pool, imp, owner, *slot, o, job).await?;
                }
                for n in nodes {
                    let slot_s = slot.to_string();
                    let r = pool.cmd(n.addr, &[b"CLUSTER", b"SETSLOT", slot_s.as_bytes(), b"STABLE"]).await?;
                    if let Resp::Error(e) = r {
                        return Err(ReshardError::refused(n.addr, &format!("CLUSTER SETSLOT {slot} STABLE"), &e));
                    }
                }
                job.slots_done.fetch_add(1, Ordering::Relaxed);
                job.note(st.describe());
            }
            FixStep::Assign { slot, owner } => {
                let slot_s = slot.to_string();
                let r = pool.cmd(owner.addr, &[b"CLUSTER", b"ADDSLOTS", slot_s.as_bytes()]).await?;
                if let Resp::Error(e) = r {
                    if !e.contains("already busy") {
                        return Err(ReshardError::refused(owner.addr, &format!("CLUSTER ADDSLOTS {slot}"), &e));
                    }
                }
                job.slots_done.fetch_add(1, Ordering::Relaxed);
                assigned += 1;
            }
        }
    }
    if assigned > 0 {
        job.note(format!("assigned {assigned} unserved slots"));
    }
    job.current_slot.store(-1, Ordering::Relaxed);
    wait_agreement(topo, Instant::now() + Duration::from_secs(10)).await;
    Ok(())
}

/// The slot map: masters with their ranges, keys and replicas.
pub fn slot_map(topo: &Topology) -> SlotMap {
    let masters = topo
        .masters()
        .map(|m| MasterView {
            id: m.me.id.clone(),
            addr: m.me.addr.map(|a| a.to_string()),
            port: m.me.addr.map(|a| a.port()),
            slots: ranges_text(&m.me.slots),
            slot_count: m.me.slot_count(),
            keys: m.keys,
            flags: m.me.flags.iter().filter(|f| *f != "myself").cloned().collect::<Vec<_>>().join(","),
            reachable: m.reachable,
            replicas: topo
                .members
                .iter()
                .filter(|r| r.me.master_id.as_deref() == Some(m.me.id.as_str()) && !r.me.is_master())
                .map(|r| ReplicaView {
                    id: r.me.id.clone(),
                    port: r.me.addr.map(|a| a.port()),
                    flags: r.me.flags.iter().filter(|f| *f != "myself").cloned().collect::<Vec<_>>().join(","),
                    link: if r.reachable { r.me.link.clone() } else { "unreachable".into() },
                })
                .collect(),
        })
        .collect();
    let label = |id: &str| topo.by_id(id).map(|m| m.me.label()).unwrap_or_else(|| id.chars().take(8).collect());
    let open_slots = topo
        .open_slots()
        .into_iter()
        .map(|(slot, node, peer, mig)| OpenSlot {
            slot,
            node: label(&node),
            state: if mig { "migrating".into() } else { "importing".into() },
            peer: label(&peer),
        })
        .collect();
    let claims = topo.self_claims();
    let state = if topo.members.iter().filter(|m| m.reachable).all(|m| m.state.as_deref() == Some("ok")) { "ok" } else { "fail" };
    SlotMap { masters, open_slots, slots_covered: claims.iter().filter(|c| !c.is_empty()).count(), state: state.into() }
}

/// Parses "6390" (on `host`) or "host:port".
///
/// # Errors
/// Neither a port nor an address.
pub fn parse_node_addr(s: &str, host: std::net::IpAddr) -> Result<SocketAddr, ReshardError> {
    let s = s.trim();
    if let Ok(p) = s.strip_prefix("node").unwrap_or(s).parse::<u16>() {
        return Ok(SocketAddr::new(host, p));
    }
    s.parse().map_err(|_| ReshardError::Invalid(format!("`{s}` is not a port or host:port (e.g. 6386 or 127.0.0.1:6386)")))
}

async fn text(pool: &mut Pool, addr: SocketAddr, args: &[&[u8]]) -> Result<String, ReshardError> {
    match pool.cmd(addr, args).await? {
        Resp::Error(e) => Err(ReshardError::refused(addr, &String::from_utf8_lossy(&args.join(&b' ')), &e)),
        r => Ok(r.text().unwrap_or_default()),
    }
}

/// Meets an empty node into the cluster and, when asked, makes it a replica.
///
/// # Errors
/// The node is unreachable, not in cluster mode, not empty, already a
/// member, or did not join before the deadline.
pub async fn add_node(
    seeds: &[SocketAddr],
    new: SocketAddr,
    replica_of: Option<&str>,
    deadline: Instant,
) -> Result<MembershipReport, ReshardError> {
    let topo = Topology::load(seeds).await?;
    if let Some(m) = topo.members.iter().find(|m| m.me.addr == Some(new)) {
        return Err(ReshardError::Conflict(format!("node {new} is already in the cluster (id {})", m.me.id)));
    }
    let master_ep = match replica_of {
        Some(k) => Some(endpoint(master(&topo, k)?)?),
        None => None,
    };
    let mut pool = Pool::new(Duration::from_secs(5));
    let info = text(&mut pool, new, &[b"CLUSTER", b"INFO"]).await.map_err(|e| {
        ReshardError::Conflict(format!("{e}; the new node must run with cluster-enabled yes (slotd's generated confs set it)"))
    })?;
    let known: u64 = crate::cluster_admin::info_field(&info, "cluster_known_nodes").and_then(|s| s.parse().ok()).unwrap_or(0);
    let keys = match pool.cmd(new, &[b"DBSIZE"]).await? {
        Resp::Int(n) => n,
        _ => 0,
    };
    if known > 1 || keys > 0 {
        return Err(ReshardError::Conflict(format!(
            "node {new} is not empty (knows {known} nodes, holds {keys} keys); empty it first (`redis-cli -p {} FLUSHALL` then `CLUSTER RESET HARD`)",
            new.port()
        )));
    }
    let id = text(&mut pool, new, &[b"CLUSTER", b"MYID"]).await?;
    let seed = topo
        .members
        .iter()
        .find(|m| m.reachable)
        .and_then(|m| m.me.addr)
        .ok_or_else(|| ReshardError::Conflict("no cluster node answers".into()))?;
    let (ip, port) = (seed.ip().to_string(), seed.port().to_string());
    text(&mut pool, new, &[b"CLUSTER", b"MEET", ip.as_bytes(), port.as_bytes()]).await?;
    // Joined when every reachable member knows it (past the handshake) and it knows them.
    let want: Vec<SocketAddr> = topo.members.iter().filter(|m| m.reachable).filter_map(|m| m.me.addr).collect();
    loop {
        let mut missing = None;
        for a in want.iter().chain(std::iter::once(&new)) {
            let nodes = text(&mut pool, *a, &[b"CLUSTER", b"NODES"]).await.unwrap_or_default();
            let lines = super::topology::parse_nodes(&nodes);
            let knows_new = lines.iter().any(|l| l.id == id && !l.has_flag("handshake"));
            let complete = lines.iter().filter(|l| !l.has_flag("handshake")).count() > want.len();
            if !knows_new || (*a == new && !complete) {
                missing = Some(*a);
                break;
            }
        }
        match missing {
            None => break,
            Some(a) if Instant::now() >= deadline => {
                return Err(ReshardError::Conflict(format!(
                    "node {new} did not join in time ({a} does not know it yet); check that its bus port {} is reachable",
                    new.port() as u32 + 10000
                )))
            }
            Some(_) => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    }
    let role = match &master_ep {
        Some(m) => {
            loop {
                match pool.cmd(new, &[b"CLUSTER", b"REPLICATE", m.id.as_bytes()]).await? {
                    Resp::Error(e) if Instant::now() >= deadline => return Err(ReshardError::refused(new, "CLUSTER REPLICATE", &e)),
                    Resp::Error(_) => tokio::time::sleep(Duration::from_millis(100)).await,
                    _ => break,
                }
            }
            format!("replica of {}", m.addr.port())
        }
        None => "master".to_string(),
    };
    let message = if master_ep.is_some() {
        format!("node {new} joined as {role}")
    } else {
        format!("node {new} joined as an empty master; give it slots with `slotctl rebalance` or `slotctl reshard --to {}`", new.port())
    };
    Ok(MembershipReport { node: new.to_string(), id, role, message })
}

/// Removes an empty node from the cluster: its replicas move to the master
/// with the fewest, every other node forgets it, and it is reset so it does
/// not rejoin (it keeps running, unjoined).
///
/// # Errors
/// Unknown node, a master that still owns slots or keys, or a node refusing.
pub async fn del_node(seeds: &[SocketAddr], key: &str) -> Result<MembershipReport, ReshardError> {
    let topo = Topology::load(seeds).await?;
    let node = topo.resolve(key)?;
    let label = node.me.label();
    if node.me.is_master() {
        let n = node.me.slot_count();
        if n > 0 {
            return Err(ReshardError::Conflict(format!(
                "node {label} still owns {n} slots ({}); move them first: `slotctl reshard --from {label} --to OTHER --slots {n}` or `slotctl rebalance --weight {label}=0`",
                ranges_text(&node.me.slots)
            )));
        }
        if let Some(k) = node.keys.filter(|k| *k > 0) {
            return Err(ReshardError::Conflict(format!(
                "node {label} owns no slots but still holds {k} keys; move or delete them (`redis-cli -p {label} --scan`), then try again"
            )));
        }
        let others: Vec<&Member> = topo.masters().filter(|m| m.me.id != node.me.id && m.me.slot_count() > 0 && m.reachable).collect();
        let replicas: Vec<&Member> =
            topo.members.iter().filter(|m| m.me.master_id.as_deref() == Some(node.me.id.as_str()) && !m.me.is_master()).collect();
        let mut pool = Pool::new(Duration::from_secs(5));
        for r in replicas {
            let Some(to) =
                others.iter().min_by_key(|m| topo.members.iter().filter(|x| x.me.master_id.as_deref() == Some(m.me.id.as_str())).count())
            else {
                return Err(ReshardError::Conflict(format!(
                    "node {label} has replicas and no other master can take them; delete its replicas first"
                )));
            };
            let addr = r.addr()?;
            text(&mut pool, addr, &[b"CLUSTER", b"REPLICATE", to.me.id.as_bytes()]).await?;
        }
    }
    let mut pool = Pool::new(Duration::from_secs(5));
    for m in topo.members.iter().filter(|m| m.reachable && m.me.id != node.me.id) {
        let addr = m.addr()?;
        text(&mut pool, addr, &[b"CLUSTER", b"FORGET", node.me.id.as_bytes()]).await?;
    }
    let mut message = format!("node {label} removed from the cluster");
    if node.reachable {
        let addr = node.addr()?;
        // Forgets the cluster so gossip cannot bring it back; a replica's copy is flushed.
        match text(&mut pool, addr, &[b"CLUSTER", b"RESET", b"HARD"]).await {
            Ok(_) => message.push_str(&format!(
                "; it keeps running unjoined: stop it with `slotctl stop {label}` or remove the port from the config (or `slotctl add-node {label}` again)"
            )),
            Err(e) => message.push_str(&format!("; resetting it failed ({e}): stop it before it gossips its way back")),
        }
    }
    Ok(MembershipReport { node: label, id: node.me.id.clone(), role: "removed".into(), message })
}
