//! What bus messages mean: gossip about nodes, slot ownership by config
//! epoch, failure reports and FAIL, votes, UPDATE. Works on the cluster
//! state and returns effects (frames to send among them); the node's bus
//! tasks do the I/O.

use super::gossip::{Body, GossipEntry, Message, MsgType, MFLAG_FORCEACK, MFLAG_PAUSED};
use super::state::{ClusterNode, ClusterState, Flags, NodeId};
use super::{Effect, Effects, Env};

/// Our header for a message of `kind`: identity, epochs, slots, gossip about every other node.
pub fn build(c: &ClusterState, env: &Env, kind: MsgType, body: Body) -> Message {
    let me = c.myself_node();
    let mut mflags = 0;
    if c.paused_until > env.now_ms {
        mflags |= MFLAG_PAUSED;
    }
    if c.election.as_ref().is_some_and(|e| e.forced) && kind == MsgType::AuthRequest {
        mflags |= MFLAG_FORCEACK;
    }
    // A replica advertises its master's slots and epoch so voters and peers can check them.
    let (slots, config_epoch) = match &me.master_id {
        Some(m) => c.nodes.get(m).map_or((me.slots.clone(), me.config_epoch), |n| (n.slots.clone(), n.config_epoch)),
        None => (me.slots.clone(), me.config_epoch),
    };
    let gossip = c
        .nodes
        .values()
        .filter(|n| n.id != c.myself && !n.flags.handshake)
        .map(|n| GossipEntry {
            id: n.id.clone(),
            ip: n.ip.clone(),
            port: n.port,
            bus_port: n.bus_port,
            flags: n.flags.clone(),
            ping_sent: n.ping_sent,
            pong_received: n.pong_received,
        })
        .collect();
    let mut flags = me.flags.clone();
    flags.master = me.master_id.is_none();
    flags.replica = me.master_id.is_some();
    Message {
        kind,
        sender: c.myself.clone(),
        current_epoch: c.current_epoch,
        config_epoch,
        repl_offset: env.repl_offset,
        port: me.port,
        bus_port: me.bus_port,
        flags,
        master_id: me.master_id.clone(),
        state_ok: c.ok,
        mflags,
        slots,
        ip: me.ip.clone(),
        hostname: me.hostname.clone(),
        gossip,
        body,
    }
}

/// An encoded message, counted as sent `n` times.
fn frame(c: &mut ClusterState, env: &Env, kind: MsgType, body: Body, n: u64) -> Vec<u8> {
    *c.stats.sent.entry(kind.stat_name()).or_default() += n;
    build(c, env, kind, body).encode()
}

/// The first frame on a fresh outbound link: MEET for a node we were told to meet, else PING.
pub fn on_link_up(c: &mut ClusterState, env: &Env, peer: &str) -> Option<Vec<u8>> {
    let n = c.nodes.get_mut(peer)?;
    n.link_up = true;
    if n.ping_sent == 0 {
        n.ping_sent = env.now_ms;
    }
    let kind = if n.meet { MsgType::Meet } else { MsgType::Ping };
    Some(frame(c, env, kind, Body::None, 1))
}

/// If a handshake node `peer` was renamed to the sender's real id, the new id.
pub fn renamed_to(c: &ClusterState, peer: &str, msg: &Message) -> Option<String> {
    (msg.sender != peer && !c.nodes.contains_key(peer) && c.nodes.contains_key(&msg.sender)).then(|| msg.sender.clone())
}

/// Nodes that need an outbound link now: (id, "ip:busport").
pub fn links_to_open(c: &ClusterState, now: u64) -> Vec<(NodeId, String)> {
    c.nodes
        .values()
        .filter(|n| n.id != c.myself && !c.links.contains_key(&n.id) && n.next_link_attempt <= now && !n.flags.noaddr)
        .map(|n| (n.id.clone(), format!("{}:{}", n.ip, n.bus_port)))
        .collect()
}

/// Handles one message; `from_link` is the node our outbound link leads to
/// (PONGs arrive there), None for a peer's inbound link.
pub fn process(c: &mut ClusterState, env: &Env, msg: &Message, from_link: Option<&str>, peer_ip: &str, fx: &mut Effects) {
    let now = env.now_ms;
    *c.stats.received.entry(msg.kind.stat_name()).or_default() += 1;
    if msg.sender == c.myself {
        return;
    }
    let known = c.nodes.contains_key(&msg.sender);
    let ip = if msg.ip.is_empty() || msg.ip == "0.0.0.0" { peer_ip.to_string() } else { msg.ip.clone() };

    // A MEET from an unknown node adds it; PING/MEET always get a PONG.
    if msg.kind == MsgType::Meet && !known && c.blacklist.get(&msg.sender).is_none_or(|t| *t <= now) {
        let mut n = ClusterNode::new(msg.sender.clone(), &ip, msg.port, msg.bus_port, now);
        n.flags = Flags { master: msg.master_id.is_none(), replica: msg.master_id.is_some(), ..Flags::default() };
        c.nodes.insert(msg.sender.clone(), n);
        c.dirty_config = true;
    }

    // A PONG on a link to a handshake node reveals the node's real id.
    let mut pong_on_our_link = msg.kind == MsgType::Pong && from_link == Some(msg.sender.as_str());
    if let Some(link_peer) = from_link {
        if link_peer != msg.sender && msg.kind == MsgType::Pong {
            let was_handshake = c.nodes.get(link_peer).is_some_and(|n| n.flags.handshake);
            if was_handshake {
                let old = c.nodes.remove(link_peer);
                if let Some(link) = c.links.remove(link_peer) {
                    c.links.insert(msg.sender.clone(), link);
                }
                if !c.nodes.contains_key(&msg.sender) {
                    if let Some(mut n) = old {
                        n.id = msg.sender.clone();
                        n.flags.handshake = false;
                        n.meet = false;
                        c.nodes.insert(msg.sender.clone(), n);
                    }
                }
                pong_on_our_link = true;
                c.dirty_config = true;
            }
        }
    }

    if !c.nodes.contains_key(&msg.sender) {
        if matches!(msg.kind, MsgType::Ping | MsgType::Meet) {
            fx.push(Effect::Reply(frame(c, env, MsgType::Pong, Body::None, 1)));
        }
        return;
    }
    c.observe_epoch(msg.current_epoch);

    if pong_on_our_link {
        if let Some(n) = c.nodes.get_mut(&msg.sender) {
            n.pong_received = now;
            n.ping_sent = 0;
            n.link_up = true;
            n.meet = false;
            if n.flags.pfail {
                n.flags.pfail = false;
            }
        }
        clear_failure_if_needed(c, &msg.sender, now);
    }
    // Any traffic from a node that was marked failed for long may clear it too.
    if let Some(n) = c.nodes.get_mut(&msg.sender) {
        if msg.kind != MsgType::Pong || from_link.is_none() {
            n.ip = ip.clone();
            n.port = msg.port;
            n.bus_port = msg.bus_port;
        }
        // The hostname travels with every message of its node (none = cleared).
        // A name that could not be written to nodes.conf intact is ignored.
        let name = if crate::config::valid_hostname(&msg.hostname).is_ok() { msg.hostname.as_str() } else { "" };
        if n.hostname != name {
            n.hostname = name.to_string();
            c.dirty_config = true;
        }
        n.repl_offset = msg.repl_offset;
        n.flags.nofailover = msg.flags.nofailover;
    }

    update_role(c, msg);
    update_slots(c, env, msg, fx);
    epoch_collision(c, msg);
    absorb_gossip(c, msg, now);

    match (&msg.kind, &msg.body) {
        (MsgType::Ping | MsgType::Meet, _) => {
            fx.push(Effect::Reply(frame(c, env, MsgType::Pong, Body::None, 1)));
        }
        (MsgType::Fail, Body::Fail { id }) => {
            if let Some(n) = c.nodes.get_mut(id) {
                if !n.flags.fail && *id != c.myself {
                    n.flags.fail = true;
                    n.flags.pfail = false;
                    n.fail_time = now;
                    c.dirty_config = true;
                    tracing::warn!("FAIL message received from {} about {id}", msg.sender);
                }
            }
        }
        (MsgType::Update, Body::Update { id, config_epoch, slots }) => {
            let known_epoch = c.nodes.get(id).map(|n| n.config_epoch);
            if known_epoch.is_some_and(|e| e < *config_epoch) {
                if let Some(n) = c.nodes.get_mut(id) {
                    n.config_epoch = *config_epoch;
                }
                claim_slots(c, id, *config_epoch, slots, fx);
            }
        }
        (MsgType::AuthRequest, _) => {
            if let Some(ack) = super::failover::vote(c, env, msg) {
                fx.push(Effect::To(msg.sender.clone(), ack));
            }
        }
        (MsgType::AuthAck, _) => {
            super::failover::count_vote(c, msg);
            // Promote as soon as the quorum is there, not at the next tick.
            if c.election.as_ref().is_some_and(|e| e.epoch != 0) {
                super::failover::tick(c, env, fx);
            }
        }
        (MsgType::MfStart, _) => super::failover::manual_failover_requested(c, env, &msg.sender, fx),
        (MsgType::Publish, Body::Publish { channel, message }) => {
            fx.push(Effect::Publish { channel: channel.clone(), message: message.clone() });
        }
        (MsgType::PublishShard, Body::Publish { channel, message }) => {
            fx.push(Effect::PublishShard { channel: channel.clone(), message: message.clone() });
        }
        _ => {}
    }
    if msg.kind == MsgType::Pong || msg.kind == MsgType::Ping {
        super::failover::observe_master_pause(c, msg);
    }
    c.update_state(env.require_full_coverage, now);
}

/// Learns the sender's role: master, or replica of a given master.
fn update_role(c: &mut ClusterState, msg: &Message) {
    let Some(n) = c.nodes.get_mut(&msg.sender) else { return };
    match &msg.master_id {
        None => {
            if n.master_id.is_some() {
                tracing::info!("node {} is now a master", msg.sender);
                n.master_id = None;
                c.dirty_config = true;
            }
            n.flags.master = true;
            n.flags.replica = false;
        }
        Some(m) => {
            if n.master_id.as_deref() != Some(m) {
                n.master_id = Some(m.clone());
                c.dirty_config = true;
            }
            n.flags.master = false;
            n.flags.replica = true;
            // A node turned replica serves no slots any more.
            if !n.slots.is_empty() {
                let slots: Vec<u16> = n.slots.iter().collect();
                let id = msg.sender.clone();
                for s in slots {
                    if c.owners[s as usize].as_deref() == Some(id.as_str()) {
                        c.set_owner(s, None);
                    }
                }
            }
        }
    }
}

/// Applies the sender's slot claims (masters only) by config epoch, and sends
/// UPDATE when the sender claims slots someone newer owns.
fn update_slots(c: &mut ClusterState, env: &Env, msg: &Message, fx: &mut Effects) {
    if msg.master_id.is_some() {
        return;
    }
    if let Some(n) = c.nodes.get_mut(&msg.sender) {
        if msg.config_epoch > n.config_epoch {
            n.config_epoch = msg.config_epoch;
            c.dirty_config = true;
        }
    }
    claim_slots(c, &msg.sender.clone(), msg.config_epoch, &msg.slots, fx);
    // Stale claims: tell the sender who owns those slots now.
    let mut newer: Option<NodeId> = None;
    for s in msg.slots.iter() {
        if let Some(owner) = &c.owners[s as usize] {
            if owner != &msg.sender {
                if let Some(o) = c.nodes.get(owner) {
                    if o.config_epoch > msg.config_epoch {
                        newer = Some(owner.clone());
                        break;
                    }
                }
            }
        }
    }
    if let Some(owner) = newer {
        let (epoch, slots) = match c.nodes.get(&owner) {
            Some(o) => (o.config_epoch, o.slots.clone()),
            None => return,
        };
        let f = frame(c, env, MsgType::Update, Body::Update { id: owner, config_epoch: epoch, slots }, 1);
        fx.push(Effect::To(msg.sender.clone(), f));
    }
}

/// Gives `claimer` every claimed slot that is unowned or owned by an older
/// epoch. When this node (or its master) loses its last slot to the claimer,
/// it becomes the claimer's replica, as Redis does after a failover.
pub fn claim_slots(c: &mut ClusterState, claimer: &str, epoch: u64, slots: &super::state::SlotSet, fx: &mut Effects) {
    let me = c.myself.clone();
    let my_master = c.myself_node().master_id.clone();
    let had_mine = c.myself_node().slots.count();
    let master_had = my_master.as_ref().and_then(|m| c.nodes.get(m)).map_or(0, |n| n.slots.count());
    let mut lost_from_me = Vec::new();
    let mut changed = false;
    for s in slots.iter() {
        let owner = c.owners[s as usize].clone();
        if owner.as_deref() == Some(claimer) {
            continue;
        }
        // Slots being imported by us are ours to assign (SETSLOT), not gossip's.
        if c.importing.contains_key(&s) {
            continue;
        }
        let take = match owner.as_ref().and_then(|o| c.nodes.get(o)) {
            None => true,
            Some(o) => o.config_epoch < epoch,
        };
        if take {
            if owner.as_deref() == Some(me.as_str()) {
                lost_from_me.push(s);
            }
            c.set_owner(s, Some(claimer));
            changed = true;
        }
    }
    if !changed {
        return;
    }
    c.dirty_config = true;
    let now_mine = c.myself_node().slots.count();
    let master_now = my_master.as_ref().and_then(|m| c.nodes.get(m)).map_or(0, |n| n.slots.count());
    let become_replica = (had_mine > 0 && now_mine == 0 && my_master.is_none())
        || (my_master.is_some() && master_had > 0 && master_now == 0 && my_master.as_deref() != Some(claimer));
    // Keys in slots we lost are no longer ours to serve.
    if !lost_from_me.is_empty() && !become_replica {
        fx.push(Effect::DropSlotKeys(lost_from_me));
    }
    if become_replica {
        tracing::warn!("configuration change detected: reconfiguring myself as a replica of {claimer}");
        follow(c, claimer, fx);
    }
}

/// Two masters with the same config epoch: the one with the smaller id takes a new epoch.
fn epoch_collision(c: &mut ClusterState, msg: &Message) {
    let me = c.myself_node();
    if msg.master_id.is_some() || me.master_id.is_some() || msg.config_epoch != me.config_epoch || msg.sender.as_str() <= c.myself.as_str()
    {
        return;
    }
    c.current_epoch += 1;
    let e = c.current_epoch;
    c.myself_mut().config_epoch = e;
    c.dirty_config = true;
    tracing::info!("config epoch collision with {}: my config epoch is now {e}", msg.sender);
}

/// Learns nodes from gossip and records failure reports from masters.
fn absorb_gossip(c: &mut ClusterState, msg: &Message, now: u64) {
    let sender_is_master = msg.master_id.is_none();
    for g in &msg.gossip {
        if g.id == c.myself {
            continue;
        }
        if let Some(n) = c.nodes.get_mut(&g.id) {
            if sender_is_master {
                if g.flags.fail || g.flags.pfail {
                    n.fail_reports.insert(msg.sender.clone(), now);
                } else {
                    n.fail_reports.remove(&msg.sender);
                }
            }
            // Address updates for a node we cannot reach.
            if !n.link_up && (n.ip != g.ip || n.port != g.port) && !g.flags.noaddr && !g.ip.is_empty() {
                n.ip = g.ip.clone();
                n.port = g.port;
                n.bus_port = g.bus_port;
            }
        } else if !g.flags.handshake && !g.flags.noaddr && c.blacklist.get(&g.id).is_none_or(|t| *t <= now) {
            let mut n = ClusterNode::new(g.id.clone(), &g.ip, g.port, g.bus_port, now);
            n.flags.master = g.flags.master;
            n.flags.replica = g.flags.replica;
            c.nodes.insert(g.id.clone(), n);
            c.dirty_config = true;
        }
    }
}

/// Clears FAIL when the node is reachable again: at once for replicas and
/// masters without slots, after 2 × node timeout for masters with slots.
fn clear_failure_if_needed(c: &mut ClusterState, id: &str, now: u64) {
    let timeout = c.node_timeout;
    let Some(n) = c.nodes.get_mut(id) else { return };
    if !n.flags.fail {
        return;
    }
    if !n.is_master() || n.slots.is_empty() || now.saturating_sub(n.fail_time) > timeout * 2 {
        tracing::info!("clear FAIL state for node {id}: it is reachable again");
        n.flags.fail = false;
        c.dirty_config = true;
    }
}

/// The 100 ms cluster tick: pings, PFAIL/FAIL, handshake expiry, elections.
pub fn cron_tick(c: &mut ClusterState, env: &Env, fx: &mut Effects) {
    let now = env.now_ms;
    let timeout = c.node_timeout;
    // Ping every linked node whose last pong is older than the interval.
    let interval = (timeout / 10).clamp(100, 1000);
    let mut to_ping = Vec::new();
    let mut handshake_expired = Vec::new();
    for n in c.nodes.values_mut() {
        if n.id == c.myself {
            continue;
        }
        if n.flags.handshake && now.saturating_sub(n.ctime) > timeout.max(1000) {
            handshake_expired.push(n.id.clone());
            continue;
        }
        if !c.links.contains_key(&n.id) {
            if n.next_link_attempt <= now {
                n.next_link_attempt = now + interval.min(500);
            }
        } else if n.link_up && n.ping_sent == 0 && now.saturating_sub(n.pong_received) >= interval {
            n.ping_sent = now;
            to_ping.push(n.id.clone());
        }
    }
    for id in handshake_expired {
        c.remove_node(&id);
        c.links.remove(&id);
    }
    // A ping unanswered for half the timeout on a link older than the timeout: drop the
    // link; the reconnect pings afresh (a lost frame or a healed partition must not leave
    // us waiting forever).
    let stale: Vec<NodeId> = c
        .nodes
        .values()
        .filter(|n| {
            n.id != c.myself
                && n.ping_sent != 0
                && n.link_up
                && now.saturating_sub(n.ping_sent) > timeout / 2
                && c.links.get(&n.id).is_some_and(|l| now.saturating_sub(l.created_ms) > timeout)
        })
        .map(|n| n.id.clone())
        .collect();
    for id in stale {
        c.links.remove(&id);
        if let Some(n) = c.nodes.get_mut(&id) {
            n.link_up = false;
        }
    }
    // PFAIL: a ping pending longer than the node timeout.
    let me = c.myself.clone();
    let mut newly_pfail = Vec::new();
    for n in c.nodes.values_mut() {
        if n.id == me || n.flags.handshake {
            continue;
        }
        // Silence is measured from the last pong when there is one (a ping is only sent every interval).
        let silent_since = if n.pong_received != 0 { n.pong_received.min(n.ping_sent) } else { n.ping_sent };
        if n.ping_sent != 0 && now.saturating_sub(silent_since) > timeout && !n.flags.pfail && !n.flags.fail {
            n.flags.pfail = true;
            newly_pfail.push(n.id.clone());
        }
    }
    for id in &newly_pfail {
        tracing::info!("*** NODE {id} possibly failing");
    }
    // PFAIL -> FAIL with a majority of masters' reports (ours included when we are a master).
    let quorum = c.quorum();
    let i_am_voter = c.myself_node().is_master() && !c.myself_node().slots.is_empty();
    let mut failed = Vec::new();
    let validity = timeout * 2;
    for n in c.nodes.values_mut() {
        n.fail_reports.retain(|_, t| now.saturating_sub(*t) <= validity);
    }
    let masters: Vec<NodeId> = c.nodes.values().filter(|n| n.is_master() && !n.slots.is_empty()).map(|n| n.id.clone()).collect();
    for n in c.nodes.values_mut() {
        if !n.flags.pfail || n.flags.fail {
            continue;
        }
        let reports = n.fail_reports.keys().filter(|r| masters.contains(r)).count() + i_am_voter as usize;
        if reports >= quorum {
            n.flags.fail = true;
            n.flags.pfail = false;
            n.fail_time = now;
            failed.push(n.id.clone());
        }
    }
    if !failed.is_empty() {
        c.dirty_config = true;
    }
    c.update_state(env.require_full_coverage, now);
    for id in to_ping {
        let f = frame(c, env, MsgType::Ping, Body::None, 1);
        fx.push(Effect::To(id, f));
    }
    for id in failed {
        tracing::warn!("marking node {id} as failing (quorum reached)");
        broadcast(c, env, MsgType::Fail, Body::Fail { id }, fx);
    }
    super::failover::tick(c, env, fx);
}

/// A frame to every linked node.
pub fn broadcast(c: &mut ClusterState, env: &Env, kind: MsgType, body: Body, fx: &mut Effects) {
    let n = c.links.len() as u64;
    fx.push(Effect::Broadcast(frame(c, env, kind, body, n)));
}

/// A frame to the other nodes of this node's shard: its master (or itself)
/// and that master's replicas (clusterGetNodesServingMySlots).
pub fn send_to_shard(c: &mut ClusterState, env: &Env, kind: MsgType, body: Body, fx: &mut Effects) {
    let me = c.myself.clone();
    let master = c.myself_node().master_id.clone().unwrap_or_else(|| me.clone());
    let targets: Vec<String> = c
        .nodes
        .values()
        .filter(|n| n.id != me && (n.id == master || n.master_id.as_deref() == Some(master.as_str())))
        .map(|n| n.id.clone())
        .collect();
    for id in targets {
        send(c, env, &id, kind, body.clone(), fx);
    }
}

/// A frame to one node.
pub fn send(c: &mut ClusterState, env: &Env, id: &str, kind: MsgType, body: Body, fx: &mut Effects) {
    fx.push(Effect::To(id.to_string(), frame(c, env, kind, body, 1)));
}

/// Makes this node a replica of the cluster node `master_id`: it serves no
/// slots any more, and the node replicates from the master's address.
pub fn follow(c: &mut ClusterState, master_id: &str, fx: &mut Effects) {
    if master_id == c.myself {
        return;
    }
    let addr = c.nodes.get(master_id).map(|n| (n.ip.clone(), n.port));
    let me = c.myself_mut();
    me.master_id = Some(master_id.to_string());
    me.flags.master = false;
    me.flags.replica = true;
    let mine: Vec<u16> = me.slots.iter().collect();
    for s in mine {
        c.set_owner(s, None);
    }
    c.migrating.clear();
    c.importing.clear();
    c.dirty_config = true;
    // Writes paused for a manual failover resume now (and get redirected).
    c.paused_until = 0;
    fx.push(Effect::ResumePausedClients);
    fx.push(Effect::Replicate(addr));
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cluster::state::LinkInfo;

    /// After one cluster tick of a node (timeout 1000 ms) whose linked peer has
    /// had a ping pending for 10 s on a link opened `link_age_ms` ago: whether
    /// the link is still there, and the peer as the node sees it.
    fn peer_after_one_tick(link_age_ms: u64) -> (bool, ClusterNode) {
        let now = 1_000_000_000;
        let mut c = ClusterState::new("a".repeat(40), "127.0.0.1", 7000, 17000, "nodes.conf".into(), 1000);
        let peer = "b".repeat(40);
        let mut n = ClusterNode::new(peer.clone(), "127.0.0.1", 7001, 17001, now - 60_000);
        n.link_up = true;
        n.ping_sent = now - 10_000;
        n.pong_received = now - 11_000;
        c.nodes.insert(peer.clone(), n);
        c.links.insert(peer.clone(), LinkInfo { generation: 1, created_ms: now - link_age_ms });
        let env = Env { now_ms: now, ..Env::default() };
        let mut fx = Effects::new();
        cron_tick(&mut c, &env, &mut fx);
        (c.links.contains_key(&peer), c.nodes.get(&peer).cloned().expect("peer still known"))
    }

    #[test]
    fn a_fresh_link_keeps_waiting_for_its_first_pong() {
        let (kept, _) = peer_after_one_tick(50);
        assert!(kept, "a link opened 50 ms ago must not be dropped for a ping sent before it existed");
    }

    #[test]
    fn an_old_link_with_an_unanswered_ping_is_dropped() {
        let (kept, peer) = peer_after_one_tick(5_000);
        assert!(!kept, "a 5 s old link whose ping is 10 s unanswered is stale");
        assert!(!peer.link_up && peer.flags.pfail, "{peer:?}");
    }
}
