//! Cluster commands: CLUSTER and its subcommands, READONLY, READWRITE, ASKING.

use super::args::{is, parse_i64};
use super::flags::*;
use super::{CmdError, CmdResult, CommandSpec, Ctx};
use crate::cluster::failover::{self, ManualMode};
use crate::cluster::gossip::{Body, MsgType};
use crate::cluster::handler;
use crate::cluster::state::{ClusterNode, ClusterState, EndpointType};
use crate::resp::ReplyBuf;
use crate::slot::{key_slot, SLOTS};

pub const COMMANDS: &[CommandSpec] = &[
    CommandSpec::container("cluster", -2, super::no_subcommand, CLUSTER),
    CommandSpec::new("readonly", 1, FAST | LOADING | STALE, (0, 0, 0), readonly).acl(&["@connection"]),
    CommandSpec::new("readwrite", 1, FAST | LOADING | STALE, (0, 0, 0), readwrite).acl(&["@connection"]),
    CommandSpec::new("asking", 1, FAST, (0, 0, 0), asking).acl(&["@connection"]),
    CommandSpec::new("slotd.fault", -3, ADMIN | STALE | LOADING, (0, 0, 0), slotd_fault),
];

fn disabled() -> CmdError {
    CmdError::new("ERR This instance has cluster support disabled")
}

fn readonly(ctx: &mut Ctx<'_>, _argv: &[&[u8]]) -> CmdResult {
    if ctx.node.cluster.is_none() {
        return Err(disabled());
    }
    ctx.client.readonly = true;
    ctx.reply().ok();
    Ok(())
}

fn readwrite(ctx: &mut Ctx<'_>, _argv: &[&[u8]]) -> CmdResult {
    if ctx.node.cluster.is_none() {
        return Err(disabled());
    }
    ctx.client.readonly = false;
    ctx.reply().ok();
    Ok(())
}

fn asking(ctx: &mut Ctx<'_>, _argv: &[&[u8]]) -> CmdResult {
    if ctx.node.cluster.is_none() {
        return Err(disabled());
    }
    ctx.client.asking = true;
    ctx.reply().ok();
    Ok(())
}

fn parse_slot(arg: &[u8]) -> Result<u16, CmdError> {
    match parse_i64(arg) {
        Ok(n) if (0..SLOTS as i64).contains(&n) => Ok(n as u16),
        _ => Err(CmdError::new("ERR Invalid or out of range slot")),
    }
}

fn state<'a>(ctx: &'a mut Ctx<'_>) -> Result<&'a mut ClusterState, CmdError> {
    ctx.node.cluster.as_deref_mut().ok_or_else(disabled)
}

/// CLUSTER's subcommands.
const CLUSTER: &[CommandSpec] = &[
    CommandSpec::new("cluster|info", 2, STALE, (0, 0, 0), cluster_info),
    CommandSpec::new("cluster|nodes", 2, STALE, (0, 0, 0), cluster_nodes),
    CommandSpec::new("cluster|myid", 2, STALE, (0, 0, 0), cluster_myid),
    CommandSpec::new("cluster|slots", 2, STALE, (0, 0, 0), cluster_slots),
    CommandSpec::new("cluster|shards", 2, STALE, (0, 0, 0), cluster_shards),
    CommandSpec::new("cluster|links", 2, STALE, (0, 0, 0), cluster_links),
    CommandSpec::new("cluster|keyslot", 3, STALE, (0, 0, 0), cluster_keyslot),
    CommandSpec::new("cluster|countkeysinslot", 3, STALE, (0, 0, 0), cluster_countkeysinslot),
    CommandSpec::new("cluster|getkeysinslot", 4, STALE, (0, 0, 0), cluster_getkeysinslot),
    CommandSpec::new("cluster|meet", -4, ADMIN | STALE | NO_ASYNC_LOADING, (0, 0, 0), cluster_meet),
    CommandSpec::new("cluster|forget", 3, ADMIN | STALE | NO_ASYNC_LOADING, (0, 0, 0), cluster_forget),
    CommandSpec::new("cluster|replicate", 3, ADMIN | STALE | NO_ASYNC_LOADING, (0, 0, 0), cluster_replicate),
    CommandSpec::new("cluster|replicas", 3, ADMIN | STALE, (0, 0, 0), cluster_replicas),
    CommandSpec::new("cluster|slaves", 3, ADMIN | STALE, (0, 0, 0), cluster_replicas),
    CommandSpec::new("cluster|addslots", -3, ADMIN | STALE | NO_ASYNC_LOADING, (0, 0, 0), cluster_addslots),
    CommandSpec::new("cluster|addslotsrange", -4, ADMIN | STALE | NO_ASYNC_LOADING, (0, 0, 0), cluster_addslotsrange),
    CommandSpec::new("cluster|delslots", -3, ADMIN | STALE | NO_ASYNC_LOADING, (0, 0, 0), cluster_delslots),
    CommandSpec::new("cluster|delslotsrange", -4, ADMIN | STALE | NO_ASYNC_LOADING, (0, 0, 0), cluster_delslotsrange),
    CommandSpec::new("cluster|flushslots", 2, ADMIN | STALE | NO_ASYNC_LOADING, (0, 0, 0), cluster_flushslots),
    CommandSpec::new("cluster|setslot", -4, ADMIN | STALE | NO_ASYNC_LOADING, (0, 0, 0), cluster_setslot),
    CommandSpec::new("cluster|count-failure-reports", 3, ADMIN | STALE, (0, 0, 0), cluster_count_failure_reports),
    CommandSpec::new("cluster|saveconfig", 2, ADMIN | STALE | NO_ASYNC_LOADING, (0, 0, 0), cluster_saveconfig),
    CommandSpec::new("cluster|bumpepoch", 2, ADMIN | STALE | NO_ASYNC_LOADING, (0, 0, 0), cluster_bumpepoch),
    CommandSpec::new("cluster|set-config-epoch", 3, ADMIN | STALE | NO_ASYNC_LOADING, (0, 0, 0), cluster_set_config_epoch),
    CommandSpec::new("cluster|reset", -2, ADMIN | NOSCRIPT | STALE, (0, 0, 0), cluster_reset),
    CommandSpec::new("cluster|failover", -2, ADMIN | STALE | NO_ASYNC_LOADING, (0, 0, 0), cluster_failover),
    CommandSpec::new("cluster|help", 2, LOADING | STALE, (0, 0, 0), cluster_help),
];

fn cluster_info(ctx: &mut Ctx<'_>, _argv: &[&[u8]]) -> CmdResult {
    let text = state(ctx)?.info_text();
    ctx.reply().verbatim(&text);
    Ok(())
}

fn cluster_nodes(ctx: &mut Ctx<'_>, _argv: &[&[u8]]) -> CmdResult {
    let text = state(ctx)?.nodes_text(false);
    ctx.reply().verbatim(&text);
    Ok(())
}

fn cluster_myid(ctx: &mut Ctx<'_>, _argv: &[&[u8]]) -> CmdResult {
    let id = state(ctx)?.myself.clone();
    ctx.reply().bulk(id.as_bytes());
    Ok(())
}

fn cluster_slots(ctx: &mut Ctx<'_>, _argv: &[&[u8]]) -> CmdResult {
    slots(ctx)
}

fn cluster_shards(ctx: &mut Ctx<'_>, _argv: &[&[u8]]) -> CmdResult {
    shards(ctx)
}

fn cluster_links(ctx: &mut Ctx<'_>, _argv: &[&[u8]]) -> CmdResult {
    links(ctx)
}

/// KEYSLOT is pure slot math: it answers even with cluster support off.
fn cluster_keyslot(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let s = key_slot(argv[2]);
    ctx.reply().int(s as i64);
    Ok(())
}

fn cluster_countkeysinslot(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    state(ctx)?;
    let s = parse_i64(argv[2]).ok().filter(|s| (0..SLOTS as i64).contains(s)).ok_or_else(|| CmdError::new("ERR Invalid slot"))?;
    let count = ctx.node.keyspace.dbs[0].count_in_slot(s as u16);
    ctx.reply().int(count as i64);
    Ok(())
}

fn cluster_getkeysinslot(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    state(ctx)?;
    let s = parse_i64(argv[2]).ok().filter(|s| (0..SLOTS as i64).contains(s));
    let count = parse_i64(argv[3]).ok().filter(|c| *c >= 0);
    let (Some(s), Some(count)) = (s, count) else {
        return Err(CmdError::new("ERR Invalid slot or number of keys"));
    };
    let keys = ctx.node.keyspace.dbs[0].keys_in_slot(s as u16, count as usize);
    let r = ctx.reply();
    r.array(keys.len());
    for k in keys {
        r.bulk(&k);
    }
    Ok(())
}

fn cluster_meet(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    state(ctx)?;
    if argv.len() > 5 {
        return Err(CmdError::sub_syntax(argv));
    }
    meet(ctx, argv)
}

fn cluster_forget(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    forget(ctx, argv[2])
}

fn cluster_replicate(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    state(ctx)?;
    replicate(ctx, argv[2])
}

fn cluster_replicas(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let id = String::from_utf8_lossy(argv[2]).into_owned();
    let c = state(ctx)?;
    let Some(node) = c.nodes.get(&id) else {
        return Err(CmdError::new(format!("ERR Unknown node {id}")));
    };
    if !node.is_master() {
        return Err(CmdError::new("ERR The specified node is not a master"));
    }
    let lines: Vec<String> = c.replicas_of(&id).iter().map(|r| c.node_line(r)).collect();
    let r = ctx.reply();
    r.array(lines.len());
    for l in lines {
        r.bulk(l.as_bytes());
    }
    Ok(())
}

fn cluster_addslots(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    state(ctx)?;
    let slots = argv[2..].iter().map(|a| parse_slot(a)).collect::<Result<Vec<_>, _>>()?;
    add_slots(ctx, &slots)
}

fn cluster_addslotsrange(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    state(ctx)?;
    if argv.len() % 2 != 0 {
        return Err(CmdError::sub_syntax(argv));
    }
    let slots = ranges(&argv[2..])?;
    add_slots(ctx, &slots)
}

fn cluster_delslots(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    state(ctx)?;
    let slots = argv[2..].iter().map(|a| parse_slot(a)).collect::<Result<Vec<_>, _>>()?;
    del_slots(ctx, &slots)
}

fn cluster_delslotsrange(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    state(ctx)?;
    if argv.len() % 2 != 0 {
        return Err(CmdError::sub_syntax(argv));
    }
    let slots = ranges(&argv[2..])?;
    del_slots(ctx, &slots)
}

fn cluster_flushslots(ctx: &mut Ctx<'_>, _argv: &[&[u8]]) -> CmdResult {
    state(ctx)?;
    if ctx.node.keyspace.dbs.iter().any(|d| !d.is_empty()) {
        return Err(CmdError::new("ERR DB must be empty to perform CLUSTER FLUSHSLOTS."));
    }
    let c = state(ctx)?;
    let me = c.myself.clone();
    let mine: Vec<u16> = c.myself_node().slots.iter().collect();
    for s in mine {
        if c.owners[s as usize].as_deref() == Some(me.as_str()) {
            c.set_owner(s, None);
        }
    }
    after_change(ctx);
    ctx.reply().ok();
    Ok(())
}

fn cluster_setslot(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    state(ctx)?;
    if argv.len() > 5 {
        return Err(CmdError::sub_syntax(argv));
    }
    setslot(ctx, argv)
}

fn cluster_count_failure_reports(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let id = String::from_utf8_lossy(argv[2]).into_owned();
    let c = state(ctx)?;
    let Some(node) = c.nodes.get(&id) else {
        return Err(CmdError::new(format!("ERR Unknown node {id}")));
    };
    let n = node.fail_reports.len() as i64;
    ctx.reply().int(n);
    Ok(())
}

fn cluster_saveconfig(ctx: &mut Ctx<'_>, _argv: &[&[u8]]) -> CmdResult {
    let c = ctx.node.cluster.as_deref().ok_or_else(disabled)?;
    c.save_config().map_err(|e| CmdError::new(format!("ERR error saving the cluster node config: {e}")))?;
    ctx.reply().ok();
    Ok(())
}

fn cluster_bumpepoch(ctx: &mut Ctx<'_>, _argv: &[&[u8]]) -> CmdResult {
    let c = state(ctx)?;
    let me_epoch = c.myself_node().config_epoch;
    let max = c.nodes.values().map(|n| n.config_epoch).max().unwrap_or(0);
    let bumped = me_epoch == 0 || me_epoch != max || c.nodes.values().filter(|n| n.config_epoch == max).count() > 1;
    if bumped {
        c.current_epoch += 1;
        let e = c.current_epoch;
        c.myself_mut().config_epoch = e;
        c.dirty_config = true;
    }
    let e = c.myself_node().config_epoch;
    ctx.reply().simple(&format!("{} {e}", if bumped { "BUMPED" } else { "STILL" }));
    Ok(())
}

fn cluster_set_config_epoch(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    state(ctx)?;
    let e = parse_i64(argv[2])?;
    let c = state(ctx)?;
    if e < 0 {
        return Err(CmdError::new(format!("ERR Invalid config epoch specified: {e}")));
    }
    if c.nodes.len() > 1 {
        return Err(CmdError::new("ERR The user can assign a config epoch only when the node does not know any other node."));
    }
    if c.myself_node().config_epoch != 0 {
        return Err(CmdError::new("ERR Node config epoch is already non-zero"));
    }
    c.myself_mut().config_epoch = e as u64;
    c.observe_epoch(e as u64);
    c.dirty_config = true;
    ctx.reply().ok();
    Ok(())
}

fn cluster_reset(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    state(ctx)?;
    if argv.len() > 3 {
        return Err(CmdError::sub_syntax(argv));
    }
    reset(ctx, argv.get(2).copied())
}

fn cluster_failover(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    state(ctx)?;
    if argv.len() > 3 {
        return Err(CmdError::sub_syntax(argv));
    }
    let mode = match argv.get(2) {
        None => ManualMode::Default,
        Some(a) if is(a, "force") => ManualMode::Force,
        Some(a) if is(a, "takeover") => ManualMode::Takeover,
        Some(_) => return Err(CmdError::syntax()),
    };
    ctx.node
        .run_cluster(&mut Vec::new(), |c, env, fx| failover::start_manual(c, env, mode, fx))
        .ok_or_else(disabled)?
        .map_err(CmdError::new)?;
    ctx.reply().ok();
    Ok(())
}

fn cluster_help(ctx: &mut Ctx<'_>, _argv: &[&[u8]]) -> CmdResult {
    help(ctx)
}

fn help(ctx: &mut Ctx<'_>) -> CmdResult {
    let lines = [
        "CLUSTER <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "ADDSLOTS <slot> [<slot> ...]",
        "ADDSLOTSRANGE <start slot> <end slot> [<start slot> <end slot> ...]",
        "BUMPEPOCH",
        "COUNT-FAILURE-REPORTS <node-id>",
        "COUNTKEYSINSLOT <slot>",
        "DELSLOTS <slot> [<slot> ...]",
        "DELSLOTSRANGE <start slot> <end slot> [<start slot> <end slot> ...]",
        "FAILOVER [FORCE|TAKEOVER]",
        "FORGET <node-id>",
        "FLUSHSLOTS",
        "GETKEYSINSLOT <slot> <count>",
        "INFO",
        "KEYSLOT <key>",
        "LINKS",
        "MEET <ip> <port> [<bus-port>]",
        "MYID",
        "NODES",
        "REPLICATE <node-id>",
        "RESET [HARD|SOFT]",
        "SET-CONFIG-EPOCH <epoch>",
        "SETSLOT <slot> (IMPORTING <node-id>|MIGRATING <node-id>|STABLE|NODE <node-id>)",
        "REPLICAS <node-id>",
        "SAVECONFIG",
        "SHARDS",
        "SLOTS",
        "HELP",
    ];
    let r = ctx.reply();
    r.array(lines.len());
    for l in lines {
        r.simple(l);
    }
    Ok(())
}

fn ranges(args: &[&[u8]]) -> Result<Vec<u16>, CmdError> {
    let mut out = Vec::new();
    for pair in args.chunks(2) {
        let a = parse_slot(pair[0])?;
        let b = parse_slot(pair[1])?;
        if a > b {
            return Err(CmdError::new(format!("ERR start slot number {a} is greater than end slot number {b}")));
        }
        out.extend(a..=b);
    }
    Ok(out)
}

/// Persists and announces a local change at once, as Redis does after cluster commands.
fn after_change(ctx: &mut Ctx<'_>) {
    ctx.node.run_cluster(&mut Vec::new(), |c, env, fx| {
        c.dirty_config = true;
        c.update_state(env.require_full_coverage, env.now_ms);
        handler::broadcast(c, env, MsgType::Pong, Body::None, fx);
    });
}

fn add_slots(ctx: &mut Ctx<'_>, slots: &[u16]) -> CmdResult {
    let c = state(ctx)?;
    let mut seen = std::collections::HashSet::new();
    for &s in slots {
        if !seen.insert(s) {
            return Err(CmdError::new(format!("ERR Slot {s} specified multiple times")));
        }
        if c.owners[s as usize].is_some() {
            return Err(CmdError::new(format!("ERR Slot {s} is already busy")));
        }
    }
    let me = c.myself.clone();
    for &s in slots {
        c.importing.remove(&s);
        c.set_owner(s, Some(&me));
    }
    after_change(ctx);
    ctx.reply().ok();
    Ok(())
}

fn del_slots(ctx: &mut Ctx<'_>, slots: &[u16]) -> CmdResult {
    let c = state(ctx)?;
    for &s in slots {
        if c.owners[s as usize].is_none() {
            return Err(CmdError::new(format!("ERR Slot {s} is already unassigned")));
        }
    }
    for &s in slots {
        c.set_owner(s, None);
        c.migrating.remove(&s);
        c.importing.remove(&s);
    }
    after_change(ctx);
    ctx.reply().ok();
    Ok(())
}

fn meet(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let ip = String::from_utf8_lossy(argv[2]).into_owned();
    let port_s = String::from_utf8_lossy(argv[3]).into_owned();
    let port: u16 = port_s.parse().map_err(|_| CmdError::new(format!("ERR Invalid base port specified: {port_s}")))?;
    let bus_port: u16 = match argv.get(4) {
        Some(b) => {
            let s = String::from_utf8_lossy(b).into_owned();
            s.parse().map_err(|_| CmdError::new(format!("ERR Invalid bus port specified: {s}")))?
        }
        None => port.wrapping_add(10000),
    };
    if ip.parse::<std::net::IpAddr>().is_err() {
        return Err(CmdError::new(format!("ERR Invalid node address specified: {ip}:{port_s}")));
    }
    let now = ctx.node.now_ms;
    let c = state(ctx)?;
    // Already known at that address, or already in handshake with it: nothing to do.
    if c.nodes.values().any(|n| n.ip == ip && n.port == port && (n.flags.handshake || n.link_up)) {
        ctx.reply().ok();
        return Ok(());
    }
    let mut n = ClusterNode::new(crate::util::id::random_hex_id(), &ip, port, bus_port, now);
    n.flags.handshake = true;
    n.meet = true;
    c.nodes.insert(n.id.clone(), n);
    ctx.reply().ok();
    Ok(())
}

fn forget(ctx: &mut Ctx<'_>, id: &[u8]) -> CmdResult {
    let id = String::from_utf8_lossy(id).into_owned();
    let now = ctx.node.now_ms;
    let c = state(ctx)?;
    if !c.nodes.contains_key(&id) {
        return Err(CmdError::new(format!("ERR Unknown node {id}")));
    }
    if id == c.myself {
        return Err(CmdError::new("ERR I tried hard but I can't forget myself..."));
    }
    if c.myself_node().master_id.as_deref() == Some(id.as_str()) {
        return Err(CmdError::new("ERR Can't forget my master!"));
    }
    c.remove_node(&id);
    c.links.remove(&id);
    c.blacklist.insert(id, now + 60_000);
    after_change(ctx);
    ctx.reply().ok();
    Ok(())
}

fn replicate(ctx: &mut Ctx<'_>, id: &[u8]) -> CmdResult {
    let id = String::from_utf8_lossy(id).into_owned();
    let has_keys = ctx.node.keyspace.dbs.iter().any(|d| !d.is_empty());
    let c = state(ctx)?;
    let Some(target) = c.nodes.get(&id) else {
        return Err(CmdError::new(format!("ERR Unknown node {id}")));
    };
    if id == c.myself {
        return Err(CmdError::new("ERR Can't replicate myself"));
    }
    if !target.is_master() {
        return Err(CmdError::new("ERR I can only replicate a master, not a replica."));
    }
    let me = c.myself_node();
    if me.is_master() && (!me.slots.is_empty() || has_keys) {
        return Err(CmdError::new("ERR To set a master the node must be empty and without assigned slots."));
    }
    ctx.node.run_cluster(&mut Vec::new(), |c, _, fx| handler::follow(c, &id, fx));
    after_change(ctx);
    ctx.reply().ok();
    Ok(())
}

fn setslot(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let slot = parse_slot(argv[2])?;
    let action = String::from_utf8_lossy(argv[3]).to_ascii_lowercase();
    let target = argv.get(4).map(|a| String::from_utf8_lossy(a).into_owned());
    let keys_in_slot = ctx.node.keyspace.dbs[0].count_in_slot(slot);
    let c = state(ctx)?;
    if !c.myself_node().is_master() {
        return Err(CmdError::new("ERR Please use SETSLOT only with masters."));
    }
    let me = c.myself.clone();
    let owner = c.owners[slot as usize].clone();
    match (action.as_str(), target) {
        ("migrating", Some(t)) => {
            if owner.as_deref() != Some(me.as_str()) {
                return Err(CmdError::new(format!("ERR I'm not the owner of hash slot {slot}")));
            }
            let Some(n) = c.nodes.get(&t) else {
                return Err(CmdError::new(format!("ERR I don't know about node {t}")));
            };
            if !n.is_master() {
                return Err(CmdError::new("ERR Target node is not a master"));
            }
            c.migrating.insert(slot, t);
        }
        ("importing", Some(t)) => {
            if owner.as_deref() == Some(me.as_str()) {
                return Err(CmdError::new(format!("ERR I'm already the owner of hash slot {slot}")));
            }
            let Some(n) = c.nodes.get(&t) else {
                return Err(CmdError::new(format!("ERR I don't know about node {t}")));
            };
            if !n.is_master() {
                return Err(CmdError::new("ERR Target node is not a master"));
            }
            c.importing.insert(slot, t);
        }
        ("stable", None) => {
            c.migrating.remove(&slot);
            c.importing.remove(&slot);
        }
        ("node", Some(t)) => {
            let Some(n) = c.nodes.get(&t) else {
                return Err(CmdError::new(format!("ERR Unknown node {t}")));
            };
            if !n.is_master() {
                return Err(CmdError::new("ERR Target node is not a master"));
            }
            if owner.as_deref() == Some(me.as_str()) && t != me && keys_in_slot > 0 {
                return Err(CmdError::new(format!(
                    "ERR Can't assign hashslot {slot} to a different node while I still hold keys for this hash slot."
                )));
            }
            if t != me {
                c.migrating.remove(&slot);
            }
            let was_importing = c.importing.remove(&slot).is_some();
            c.set_owner(slot, Some(&t));
            // Taking a slot we imported: a new epoch so the whole cluster accepts the move.
            if t == me && was_importing {
                let max = c.nodes.values().map(|n| n.config_epoch).max().unwrap_or(0);
                let mine = c.myself_node().config_epoch;
                if mine == 0 || mine != max || c.nodes.values().filter(|n| n.config_epoch == max).count() > 1 {
                    c.current_epoch += 1;
                    let e = c.current_epoch;
                    c.myself_mut().config_epoch = e;
                }
            }
        }
        _ => return Err(CmdError::new("ERR Invalid CLUSTER SETSLOT action or number of arguments. Try CLUSTER HELP")),
    }
    after_change(ctx);
    ctx.reply().ok();
    Ok(())
}

fn reset(ctx: &mut Ctx<'_>, mode: Option<&[u8]>) -> CmdResult {
    let hard = match mode {
        None => false,
        Some(m) if is(m, "soft") => false,
        Some(m) if is(m, "hard") => true,
        Some(_) => return Err(CmdError::syntax()),
    };
    let has_keys = ctx.node.keyspace.dbs.iter().any(|d| !d.is_empty());
    let c = state(ctx)?;
    if c.myself_node().is_master() && has_keys {
        return Err(CmdError::new("ERR CLUSTER RESET can't be called with master nodes containing keys"));
    }
    let me = c.myself.clone();
    let others: Vec<String> = c.nodes.keys().filter(|k| **k != me).cloned().collect();
    for id in others {
        c.remove_node(&id);
    }
    c.links.clear();
    for s in 0..SLOTS as u16 {
        c.set_owner(s, None);
    }
    c.migrating.clear();
    c.importing.clear();
    {
        let m = c.myself_mut();
        m.master_id = None;
        m.flags.master = true;
        m.flags.replica = false;
    }
    if hard {
        c.current_epoch = 0;
        c.last_vote_epoch = 0;
        c.myself_mut().config_epoch = 0;
        let new_id = crate::util::id::random_hex_id();
        if let Some(mut n) = c.nodes.remove(&me) {
            n.id = new_id.clone();
            c.nodes.insert(new_id.clone(), n);
        }
        c.myself = new_id;
    }
    c.dirty_config = true;
    ctx.node.bus.close_all();
    ctx.node.set_master(None);
    ctx.reply().ok();
    Ok(())
}

/// One node of CLUSTER SLOTS: the preferred endpoint, port, id, then the
/// other known addresses as a map (Redis 7.0's layout).
fn node_entry(r: &mut ReplyBuf, n: &ClusterNode, kind: EndpointType) {
    r.array(4);
    match kind {
        EndpointType::Unknown => r.null(),
        _ => r.bulk(n.endpoint(kind).as_bytes()),
    }
    r.int(n.port as i64);
    r.bulk(n.id.as_bytes());
    let with_ip = kind != EndpointType::Ip;
    let with_host = kind != EndpointType::Hostname && !n.hostname.is_empty();
    r.map(usize::from(with_ip) + usize::from(with_host));
    if with_ip {
        r.bulk(b"ip");
        r.bulk(n.ip.as_bytes());
    }
    if with_host {
        r.bulk(b"hostname");
        r.bulk(n.hostname.as_bytes());
    }
}

fn slots(ctx: &mut Ctx<'_>) -> CmdResult {
    let kind = ctx.node.endpoint_type();
    let c = ctx.node.cluster.as_deref().ok_or_else(disabled)?;
    let mut entries: Vec<(u16, u16, &ClusterNode)> = Vec::new();
    for n in c.nodes.values().filter(|n| n.is_master()) {
        for (a, b) in n.slots.ranges() {
            entries.push((a, b, n));
        }
    }
    entries.sort_by_key(|e| e.0);
    let r = &mut ctx.client.reply;
    r.array(entries.len());
    for (a, b, m) in entries {
        let replicas: Vec<&ClusterNode> = c.replicas_of(&m.id).into_iter().filter(|x| !x.flags.fail).collect();
        r.array(3 + replicas.len());
        r.int(a as i64);
        r.int(b as i64);
        node_entry(r, m, kind);
        for rep in replicas {
            node_entry(r, rep, kind);
        }
    }
    Ok(())
}

fn shards(ctx: &mut Ctx<'_>) -> CmdResult {
    let kind = ctx.node.endpoint_type();
    let c = ctx.node.cluster.as_deref().ok_or_else(disabled)?;
    let masters: Vec<&ClusterNode> = c.nodes.values().filter(|n| n.is_master()).collect();
    let r = &mut ctx.client.reply;
    r.array(masters.len());
    for m in masters {
        let ranges = m.slots.ranges();
        r.map(2);
        r.bulk(b"slots");
        r.array(ranges.len() * 2);
        for (a, b) in ranges {
            r.int(a as i64);
            r.int(b as i64);
        }
        r.bulk(b"nodes");
        let mut members = vec![m];
        members.extend(c.replicas_of(&m.id));
        r.array(members.len());
        for n in members {
            r.map(7 + usize::from(!n.hostname.is_empty()));
            r.bulk(b"id");
            r.bulk(n.id.as_bytes());
            r.bulk(b"port");
            r.int(n.port as i64);
            r.bulk(b"ip");
            r.bulk(n.ip.as_bytes());
            r.bulk(b"endpoint");
            r.bulk(n.endpoint(kind).as_bytes());
            if !n.hostname.is_empty() {
                r.bulk(b"hostname");
                r.bulk(n.hostname.as_bytes());
            }
            r.bulk(b"role");
            r.bulk(if n.is_master() { b"master" as &[u8] } else { b"replica" });
            r.bulk(b"replication-offset");
            r.int(n.repl_offset as i64);
            r.bulk(b"health");
            r.bulk(if n.flags.fail { b"fail" as &[u8] } else { b"online" });
        }
    }
    Ok(())
}

fn links(ctx: &mut Ctx<'_>) -> CmdResult {
    let c = ctx.node.cluster.as_deref().ok_or_else(disabled)?;
    let linked: Vec<&ClusterNode> = c.nodes.values().filter(|n| c.links.contains_key(&n.id)).collect();
    let r = &mut ctx.client.reply;
    r.array(linked.len());
    for n in linked {
        r.map(6);
        r.bulk(b"direction");
        r.bulk(b"to");
        r.bulk(b"node");
        r.bulk(n.id.as_bytes());
        r.bulk(b"create-time");
        r.int(n.ctime as i64);
        r.bulk(b"events");
        r.bulk(b"rw");
        r.bulk(b"send-buffer-allocated");
        r.int(0);
        r.bulk(b"send-buffer-used");
        r.int(0);
    }
    Ok(())
}

/// `SLOTD.FAULT <token> PARTITION <id>... | DELAY <ms> [<jitter>] | DROP <rate> | HEAL | STATUS`:
/// bus fault injection for slotd's labs. Without `slotd-admin-token`
/// configured (passed by slotd on the command line) it does not exist.
pub fn slotd_fault(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let expected = ctx.node.config.admin_token.clone();
    let Some(expected) = expected else {
        return Err(CmdError::new(format!("ERR unknown command '{}', with args beginning with: ", String::from_utf8_lossy(argv[0]))));
    };
    if argv[1] != expected.as_bytes() {
        return Err(CmdError::new("NOPERM wrong admin token for SLOTD.FAULT"));
    }
    state(ctx)?;
    let faults = &mut ctx.node.bus.faults;
    let sub = String::from_utf8_lossy(argv[2]).to_ascii_lowercase();
    match sub.as_str() {
        "partition" => {
            for id in &argv[3..] {
                faults.partitioned.insert(String::from_utf8_lossy(id).into_owned());
            }
        }
        "delay" if argv.len() >= 4 => {
            faults.delay_ms = parse_i64(argv[3])?.max(0) as u64;
            faults.jitter_ms = argv.get(4).map(|j| parse_i64(j)).transpose()?.unwrap_or(0).max(0) as u64;
        }
        "drop" if argv.len() == 4 => {
            let rate = super::args::parse_f64(argv[3])?;
            if !(0.0..=1.0).contains(&rate) {
                return Err(CmdError::new("ERR drop rate must be between 0 and 1"));
            }
            faults.drop_rate = rate;
        }
        "heal" => *faults = Default::default(),
        "status" => {}
        _ => return Err(CmdError::syntax()),
    }
    let text = faults.describe();
    ctx.reply().verbatim(&text);
    Ok(())
}
