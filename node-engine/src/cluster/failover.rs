//! Replica failover: election after the master is FAIL (delay 500 ms +
//! random + rank by replication offset), votes from a majority of masters
//! (one per epoch, one per failed master per 2 × node timeout), promotion
//! with a new config epoch; manual CLUSTER FAILOVER (default, FORCE, TAKEOVER).

use super::gossip::{Body, Message, MsgType, MFLAG_FORCEACK, MFLAG_PAUSED};
use super::handler;
use super::state::{ClusterState, Election, ManualFailover};
use super::{Effect, Effects, Env};
use rand::Rng;

/// How CLUSTER FAILOVER was asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ManualMode {
    /// Coordinated with the master: no acknowledged write is lost.
    Default,
    /// Without the master's agreement (it may be down), still with votes.
    Force,
    /// Without votes: take a new epoch and the slots at once.
    Takeover,
}

/// Election bookkeeping, run every cluster tick on replicas.
pub fn tick(c: &mut ClusterState, env: &Env, fx: &mut Effects) {
    let now = env.now_ms;
    let no_failover = env.replica_no_failover;
    let validity_factor = env.replica_validity_factor;
    let my_offset = env.repl_offset;
    let me = c.myself_node();
    let Some(master_id) = me.master_id.clone() else {
        c.election = None;
        c.manual_failover = None;
        return;
    };
    if c.election.is_none() && c.manual_failover.is_none() {
        if let Some(orphan) = replica_migration_target(c, env) {
            tracing::warn!("migrating to orphaned master {orphan} (cluster-migration-barrier)");
            handler::follow(c, &orphan, fx);
            handler::broadcast(c, env, MsgType::Pong, Body::None, fx);
            return;
        }
    }
    if c.manual_failover.as_ref().is_some_and(|m| m.deadline < now) {
        tracing::warn!("manual failover timed out");
        c.manual_failover = None;
        c.election = None;
    }
    let Some(master) = c.nodes.get(&master_id).cloned() else { return };
    let manual_ready = c.manual_failover.as_ref().and_then(|m| m.master_offset).is_some_and(|o| my_offset >= o);
    let automatic = master.flags.fail && !master.slots.is_empty() && !no_failover;
    if !automatic && !manual_ready && c.election.as_ref().is_none_or(|e| !e.forced) {
        c.election = None;
        return;
    }
    // Data too old: a replica disconnected for long must not win (validity factor).
    if automatic && !manual_ready && validity_factor > 0 {
        let last_contact = master.pong_received.max(master.fail_time.saturating_sub(c.node_timeout));
        let max_age = c.node_timeout * validity_factor + 10_000;
        if last_contact > 0 && now.saturating_sub(last_contact) > max_age + c.node_timeout {
            if c.election.is_none() {
                tracing::warn!("my data is too old to fail over (cluster-replica-validity-factor)");
            }
            return;
        }
    }
    if c.election.is_none() {
        let rank = c.replicas_of(&master_id).iter().filter(|r| r.id != c.myself && r.repl_offset > my_offset).count() as u64;
        let delay = if manual_ready { 0 } else { 500 + rand::thread_rng().gen_range(0..500) + rank * 1000 };
        c.election = Some(Election { start_at: now + delay, forced: manual_ready, ..Election::default() });
        tracing::info!("start of election delayed for {delay} milliseconds (rank #{rank}, offset {my_offset})");
        return;
    }
    let quorum = c.quorum();
    let timeout = (c.node_timeout * 2).max(2000);
    let Some(e) = c.election.as_mut() else { return };
    if e.epoch == 0 && now >= e.start_at {
        c.current_epoch += 1;
        let epoch = c.current_epoch;
        if let Some(e) = c.election.as_mut() {
            e.epoch = epoch;
            e.deadline = now + timeout;
            e.votes = 0;
            e.voters.clear();
        }
        c.dirty_config = true;
        tracing::info!("starting a failover election for epoch {epoch}");
        handler::broadcast(c, env, MsgType::AuthRequest, Body::None, fx);
        return;
    }
    if e.epoch != 0 && e.votes >= quorum {
        let epoch = e.epoch;
        promote(c, env, epoch, fx);
        handler::broadcast(c, env, MsgType::Pong, Body::None, fx);
        return;
    }
    if e.epoch != 0 && now > e.deadline {
        tracing::warn!("failover election for epoch {} timed out; retrying", e.epoch);
        c.election = None;
        c.manual_failover = None;
    }
}

/// Delay before a replica moves to an orphaned master, as in Redis.
const MIGRATION_DELAY_MS: u64 = 5000;

/// Replica migration: when a master with slots has had no working replica for
/// a while, the replica with the smallest id of the master with the most
/// working replicas (more than `cluster-migration-barrier`) moves to it.
fn replica_migration_target(c: &mut ClusterState, env: &Env) -> Option<String> {
    if !env.allow_replica_migration {
        return None;
    }
    let barrier = env.migration_barrier;
    let now = env.now_ms;
    let good = |c: &super::state::ClusterState, m: &str| c.replicas_of(m).iter().filter(|r| !r.is_failing()).count();
    let masters: Vec<String> = c.nodes.values().filter(|n| n.is_master() && !n.slots.is_empty()).map(|n| n.id.clone()).collect();
    for m in &masters {
        let orphaned = good(c, m) == 0 && c.nodes.get(m).is_some_and(|n| !n.is_failing());
        if let Some(n) = c.nodes.get_mut(m) {
            if !orphaned {
                n.orphaned_since = 0;
            } else if n.orphaned_since == 0 {
                n.orphaned_since = now;
            }
        }
    }
    let my_master = c.myself_node().master_id.clone()?;
    let my_good = good(c, &my_master);
    if my_good <= barrier || masters.iter().any(|m| good(c, m) > my_good) {
        return None;
    }
    let smallest = c.replicas_of(&my_master).iter().filter(|r| !r.is_failing()).map(|r| r.id.clone()).min()?;
    if smallest != c.myself {
        return None;
    }
    masters
        .into_iter()
        .find(|m| c.nodes.get(m).is_some_and(|n| n.orphaned_since != 0 && now.saturating_sub(n.orphaned_since) > MIGRATION_DELAY_MS))
}

/// Turns this replica into the master of its master's slots with `epoch`.
pub fn promote(c: &mut ClusterState, env: &Env, epoch: u64, fx: &mut Effects) {
    let me = c.myself.clone();
    let Some(old) = c.myself_mut().master_id.take() else { return };
    {
        let m = c.myself_mut();
        m.flags.master = true;
        m.flags.replica = false;
        if epoch > m.config_epoch {
            m.config_epoch = epoch;
        }
    }
    c.observe_epoch(epoch);
    let slots: Vec<u16> = c.nodes.get(&old).map(|n| n.slots.iter().collect()).unwrap_or_default();
    for s in slots {
        c.set_owner(s, Some(&me));
    }
    c.election = None;
    c.manual_failover = None;
    c.dirty_config = true;
    tracing::warn!("failover won: I am the new master for the slots of {old} (epoch {epoch})");
    fx.push(Effect::Replicate(None));
    c.update_state(env.require_full_coverage, env.now_ms);
}

/// A master's answer to a replica's AUTH_REQUEST: the AUTH_ACK frame when it grants its vote.
pub fn vote(c: &mut ClusterState, env: &Env, msg: &Message) -> Option<Vec<u8>> {
    let now = env.now_ms;
    let me = c.myself_node();
    if !me.is_master() || me.slots.is_empty() {
        return None;
    }
    let req_epoch = msg.current_epoch;
    if req_epoch < c.current_epoch || c.last_vote_epoch == c.current_epoch {
        return None;
    }
    let master = msg.master_id.clone()?;
    let forced = msg.mflags & MFLAG_FORCEACK != 0;
    let master_node = c.nodes.get(&master)?;
    if !master_node.flags.fail && !forced {
        return None;
    }
    if c.voted_for_master.get(&master).is_some_and(|t| now.saturating_sub(*t) < c.node_timeout * 2) {
        return None;
    }
    for s in msg.slots.iter() {
        if let Some(owner) = c.owners[s as usize].as_ref().and_then(|o| c.nodes.get(o)) {
            if owner.config_epoch > msg.config_epoch {
                return None;
            }
        }
    }
    c.last_vote_epoch = c.current_epoch;
    c.voted_for_master.insert(master, now);
    c.dirty_config = true;
    tracing::info!("failover auth granted to {} for epoch {}", msg.sender, c.current_epoch);
    *c.stats.sent.entry(MsgType::AuthAck.stat_name()).or_default() += 1;
    Some(handler::build(c, env, MsgType::AuthAck, Body::None).encode())
}

/// A vote for our election.
pub fn count_vote(c: &mut ClusterState, msg: &Message) {
    let voter_is_master = c.nodes.get(&msg.sender).is_some_and(|n| n.is_master() && !n.slots.is_empty());
    if let Some(e) = c.election.as_mut() {
        if voter_is_master && e.epoch != 0 && msg.current_epoch >= e.epoch && !e.voters.contains(&msg.sender) {
            e.voters.push(msg.sender.clone());
            e.votes += 1;
        }
    }
}

/// Master side of a coordinated manual failover: pause writes so the replica catches up.
pub fn manual_failover_requested(c: &mut ClusterState, env: &Env, replica: &str, fx: &mut Effects) {
    let now = env.now_ms;
    if !c.myself_node().is_master() || c.nodes.get(replica).and_then(|n| n.master_id.as_deref()) != Some(c.myself.as_str()) {
        return;
    }
    c.paused_until = now + 5000;
    tracing::warn!("manual failover requested by replica {replica}: pausing writes");
    handler::send(c, env, replica, MsgType::Ping, Body::None, fx);
}

/// Replica side: the master reported it paused; remember its offset to wait for.
pub fn observe_master_pause(c: &mut ClusterState, msg: &Message) {
    if msg.mflags & MFLAG_PAUSED == 0 || c.myself_node().master_id.as_deref() != Some(msg.sender.as_str()) {
        return;
    }
    if let Some(m) = c.manual_failover.as_mut() {
        if m.master_offset.is_none() {
            m.master_offset = Some(msg.repl_offset);
        }
    }
}

/// CLUSTER FAILOVER on a replica.
///
/// # Errors
/// Redis's error text when this node is not a replica or its master is unknown.
pub fn start_manual(c: &mut ClusterState, env: &Env, mode: ManualMode, fx: &mut Effects) -> Result<(), String> {
    let now = env.now_ms;
    let Some(master) = c.myself_node().master_id.clone() else {
        return Err("ERR You should send CLUSTER FAILOVER to a replica".into());
    };
    let master_failed = c.nodes.get(&master).is_none_or(|m| m.flags.fail || m.flags.pfail);
    match mode {
        ManualMode::Takeover => {
            c.current_epoch += 1;
            let e = c.current_epoch;
            promote(c, env, e, fx);
            handler::broadcast(c, env, MsgType::Pong, Body::None, fx);
        }
        ManualMode::Force => {
            c.manual_failover = Some(ManualFailover { deadline: now + 5000, master_offset: Some(0) });
            c.election = None;
            // Start the election now, not at the next tick (Redis does it from beforeSleep).
            tick(c, env, fx);
            tick(c, env, fx);
        }
        ManualMode::Default => {
            if master_failed {
                return Err("ERR Master is down or failed, please use CLUSTER FAILOVER FORCE".into());
            }
            c.manual_failover = Some(ManualFailover { deadline: now + 5000, master_offset: None });
            c.election = None;
            handler::send(c, env, &master, MsgType::MfStart, Body::None, fx);
        }
    }
    Ok(())
}
