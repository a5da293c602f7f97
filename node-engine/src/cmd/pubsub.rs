//! Pub/sub: SUBSCRIBE, UNSUBSCRIBE, PSUBSCRIBE, PUNSUBSCRIBE, PUBLISH, PUBSUB,
//! and sharded pub/sub (SSUBSCRIBE, SUNSUBSCRIBE, SPUBLISH), whose channels
//! are routed like keys in a cluster and whose messages stay in the shard.
//! Messages are encoded per subscriber (RESP2 array or RESP3 push) and sent
//! through the subscriber's push channel.

use super::flags::*;
use super::{CmdError, CmdResult, CommandSpec, Ctx};
use crate::client::ClientId;
use crate::glob::glob_match;
use crate::keyspace::Key;
use crate::node::Node;
use crate::resp::ReplyBuf;

pub const COMMANDS: &[CommandSpec] = &[
    CommandSpec::new("subscribe", -2, PUBSUB | NOSCRIPT | LOADING | STALE, (0, 0, 0), subscribe),
    CommandSpec::new("unsubscribe", -1, PUBSUB | NOSCRIPT | LOADING | STALE, (0, 0, 0), unsubscribe),
    CommandSpec::new("psubscribe", -2, PUBSUB | NOSCRIPT | LOADING | STALE, (0, 0, 0), psubscribe),
    CommandSpec::new("punsubscribe", -1, PUBSUB | NOSCRIPT | LOADING | STALE, (0, 0, 0), punsubscribe),
    CommandSpec::new("publish", 3, PUBSUB | LOADING | STALE | FAST | MAY_REPLICATE, (0, 0, 0), publish),
    CommandSpec::new("ssubscribe", -2, PUBSUB | NOSCRIPT | LOADING | STALE, (1, -1, 1), ssubscribe),
    CommandSpec::new("sunsubscribe", -1, PUBSUB | NOSCRIPT | LOADING | STALE, (1, -1, 1), sunsubscribe),
    CommandSpec::new("spublish", 3, PUBSUB | LOADING | STALE | FAST | MAY_REPLICATE, (1, 1, 1), spublish),
    CommandSpec::container("pubsub", -2, super::no_subcommand, PUBSUB_SUBS),
];

/// A client's channels, patterns and shard channels.
fn counts(node: &Node, id: ClientId) -> (usize, usize, usize) {
    let subs = node.pubsub.channels.values().filter(|ids| ids.contains(&id)).count();
    let psubs = node.pubsub.patterns.iter().filter(|(_, c)| *c == id).count();
    let ssubs = node.pubsub.shard_channels.values().filter(|ids| ids.contains(&id)).count();
    (subs, psubs, ssubs)
}

/// Records a client's subscription counts; returns what (P)SUBSCRIBE replies
/// carry (channels and patterns: shard channels are counted apart).
fn sync_counts(ctx: &mut Ctx<'_>) -> usize {
    sync_all(ctx).0
}

/// As [`sync_counts`], also returning the shard-channel count (what
/// SSUBSCRIBE replies carry).
fn sync_all(ctx: &mut Ctx<'_>) -> (usize, usize) {
    let id = ctx.client.id;
    let (s, p, ss) = counts(ctx.node, id);
    if let Some(c) = ctx.node.clients.map.get_mut(&id) {
        c.sub_count = s;
        c.psub_count = p;
        c.ssub_count = ss;
    }
    ctx.client.subscriptions = s + p + ss;
    (s + p, ss)
}

fn confirm(r: &mut ReplyBuf, kind: &[u8], name: Option<&[u8]>, count: usize) {
    r.push(3);
    r.bulk(kind);
    match name {
        Some(n) => r.bulk(n),
        None => r.null(),
    }
    r.int(count as i64);
}

fn subscribe(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    if ctx.client.multi.is_some() {
        return Err(CmdError::new("ERR SUBSCRIBE isn't allowed for a DENY BLOCKING client"));
    }
    let id = ctx.client.id;
    for ch in &argv[1..] {
        let subs = ctx.node.pubsub.channels.entry(Key::from(*ch)).or_default();
        if !subs.contains(&id) {
            subs.push(id);
        }
        let n = sync_counts(ctx);
        confirm(ctx.reply(), b"subscribe", Some(ch), n);
    }
    Ok(())
}

fn psubscribe(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let id = ctx.client.id;
    for p in &argv[1..] {
        if !ctx.node.pubsub.patterns.iter().any(|(pp, c)| *c == id && &pp[..] == *p) {
            ctx.node.pubsub.patterns.push((Key::from(*p), id));
        }
        let n = sync_counts(ctx);
        confirm(ctx.reply(), b"psubscribe", Some(p), n);
    }
    Ok(())
}

fn unsubscribe(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let id = ctx.client.id;
    let targets: Vec<Key> = if argv.len() == 1 {
        ctx.node.pubsub.channels.iter().filter(|(_, ids)| ids.contains(&id)).map(|(k, _)| k.clone()).collect()
    } else {
        argv[1..].iter().map(|a| Key::from(*a)).collect()
    };
    if targets.is_empty() {
        let n = sync_counts(ctx);
        confirm(ctx.reply(), b"unsubscribe", None, n);
    }
    for ch in targets {
        if let Some(ids) = ctx.node.pubsub.channels.get_mut(&ch) {
            ids.retain(|&c| c != id);
            if ids.is_empty() {
                ctx.node.pubsub.channels.remove(&ch);
            }
        }
        let n = sync_counts(ctx);
        confirm(ctx.reply(), b"unsubscribe", Some(&ch), n);
    }
    Ok(())
}

fn punsubscribe(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let id = ctx.client.id;
    let targets: Vec<Key> = if argv.len() == 1 {
        ctx.node.pubsub.patterns.iter().filter(|(_, c)| *c == id).map(|(p, _)| p.clone()).collect()
    } else {
        argv[1..].iter().map(|a| Key::from(*a)).collect()
    };
    if targets.is_empty() {
        let n = sync_counts(ctx);
        confirm(ctx.reply(), b"punsubscribe", None, n);
    }
    for p in targets {
        ctx.node.pubsub.patterns.retain(|(pp, c)| !(*c == id && *pp == p));
        let n = sync_counts(ctx);
        confirm(ctx.reply(), b"punsubscribe", Some(&p), n);
    }
    Ok(())
}

fn publish(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let n = ctx.node.publish(argv[1], argv[2]);
    // In a cluster every node's subscribers get the message over the bus;
    // otherwise it travels to replicas in the replication stream (Redis's rules).
    if ctx.node.cluster.is_none() {
        ctx.client.force_propagate = true;
    } else {
        let body = crate::cluster::gossip::Body::Publish { channel: argv[1].to_vec(), message: argv[2].to_vec() };
        ctx.node.run_cluster(&mut Vec::new(), |c, env, fx| {
            crate::cluster::handler::broadcast(c, env, crate::cluster::gossip::MsgType::Publish, body, fx)
        });
    }
    ctx.reply().int(n as i64);
    Ok(())
}

fn ssubscribe(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    if ctx.client.multi.is_some() || ctx.client.in_exec {
        return Err(CmdError::new("ERR SSUBSCRIBE isn't allowed for a DENY BLOCKING client"));
    }
    let id = ctx.client.id;
    for ch in &argv[1..] {
        let subs = ctx.node.pubsub.shard_channels.entry(Key::from(*ch)).or_default();
        if !subs.contains(&id) {
            subs.push(id);
        }
        let n = sync_all(ctx).1;
        confirm(ctx.reply(), b"ssubscribe", Some(ch), n);
    }
    Ok(())
}

fn sunsubscribe(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let id = ctx.client.id;
    let targets: Vec<Key> = if argv.len() == 1 {
        ctx.node.pubsub.shard_channels.iter().filter(|(_, ids)| ids.contains(&id)).map(|(k, _)| k.clone()).collect()
    } else {
        argv[1..].iter().map(|a| Key::from(*a)).collect()
    };
    if targets.is_empty() {
        let n = sync_all(ctx).1;
        confirm(ctx.reply(), b"sunsubscribe", None, n);
    }
    for ch in targets {
        drop_shard_subscriber(ctx.node, &ch, id);
        let n = sync_all(ctx).1;
        confirm(ctx.reply(), b"sunsubscribe", Some(&ch), n);
    }
    Ok(())
}

fn drop_shard_subscriber(node: &mut Node, channel: &[u8], id: ClientId) {
    if let Some(ids) = node.pubsub.shard_channels.get_mut(channel) {
        ids.retain(|&c| c != id);
        if ids.is_empty() {
            node.pubsub.shard_channels.remove(channel);
        }
    }
}

/// SPUBLISH shardchannel message: to this node's subscribers, and to the
/// other nodes of the shard (its master and replicas) over the bus; outside
/// a cluster, to replicas in the replication stream.
fn spublish(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let n = ctx.node.publish_shard(argv[1], argv[2]);
    if ctx.node.cluster.is_none() {
        ctx.client.force_propagate = true;
    } else {
        let body = crate::cluster::gossip::Body::Publish { channel: argv[1].to_vec(), message: argv[2].to_vec() };
        ctx.node.run_cluster(&mut Vec::new(), |c, env, fx| {
            crate::cluster::handler::send_to_shard(c, env, crate::cluster::gossip::MsgType::PublishShard, body, fx)
        });
    }
    ctx.reply().int(n as i64);
    Ok(())
}

/// Drops shard-channel subscriptions whose slot this node's shard no longer
/// serves (a reshard or failover moved it): each subscriber gets the
/// `sunsubscribe` message Redis sends, and can subscribe again where the
/// slot went.
pub fn drop_misrouted_shard_channels(node: &mut Node) {
    let Some(c) = node.cluster.as_ref() else { return };
    if node.pubsub.shard_channels.is_empty() {
        return;
    }
    let me = c.myself.clone();
    let my_master = c.myself_node().master_id.clone().unwrap_or_else(|| me.clone());
    let stray: Vec<Key> = node
        .pubsub
        .shard_channels
        .keys()
        .filter(|ch| c.owners[crate::slot::key_slot(ch) as usize].as_ref() != Some(&my_master))
        .cloned()
        .collect();
    for ch in stray {
        let ids = node.pubsub.shard_channels.remove(&ch).unwrap_or_default();
        for id in ids {
            let (_, _, left) = counts(node, id);
            if let Some(info) = node.clients.map.get_mut(&id) {
                info.ssub_count = left;
            }
            node.push_message_with_count(id, b"sunsubscribe", &ch, left);
        }
    }
}

/// PUBSUB's subcommands.
const PUBSUB_SUBS: &[CommandSpec] = &[
    CommandSpec::new("pubsub|channels", -2, PUBSUB | LOADING | STALE, (0, 0, 0), pubsub_channels),
    CommandSpec::new("pubsub|numsub", -2, PUBSUB | LOADING | STALE, (0, 0, 0), pubsub_numsub),
    CommandSpec::new("pubsub|numpat", 2, PUBSUB | LOADING | STALE, (0, 0, 0), pubsub_numpat),
    CommandSpec::new("pubsub|shardchannels", -2, PUBSUB | LOADING | STALE, (0, 0, 0), pubsub_shardchannels),
    CommandSpec::new("pubsub|shardnumsub", -2, PUBSUB | LOADING | STALE, (0, 0, 0), pubsub_shardnumsub),
    CommandSpec::new("pubsub|help", 2, LOADING | STALE, (0, 0, 0), pubsub_help),
];

/// PUBSUB CHANNELS / SHARDCHANNELS [pattern] over one channel table.
fn list_channels(ctx: &mut Ctx<'_>, argv: &[&[u8]], shard: bool) -> CmdResult {
    if argv.len() > 3 {
        return Err(CmdError::sub_syntax(argv));
    }
    let pat = argv.get(2).copied();
    let table = if shard { &ctx.node.pubsub.shard_channels } else { &ctx.node.pubsub.channels };
    let list: Vec<Key> = table.keys().filter(|c| pat.is_none_or(|p| glob_match(p, c, false))).cloned().collect();
    let r = ctx.reply();
    r.array(list.len());
    for c in list {
        r.bulk(&c);
    }
    Ok(())
}

fn pubsub_channels(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    list_channels(ctx, argv, false)
}

fn pubsub_shardchannels(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    list_channels(ctx, argv, true)
}

fn pubsub_numsub(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    count_subscribers(ctx, argv, false)
}

fn pubsub_shardnumsub(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    count_subscribers(ctx, argv, true)
}

/// PUBSUB NUMSUB / SHARDNUMSUB channel...: subscribers per channel.
fn count_subscribers(ctx: &mut Ctx<'_>, argv: &[&[u8]], shard: bool) -> CmdResult {
    let table = if shard { &ctx.node.pubsub.shard_channels } else { &ctx.node.pubsub.channels };
    let pairs: Vec<(Vec<u8>, usize)> = argv[2..].iter().map(|c| (c.to_vec(), table.get(*c).map_or(0, Vec::len))).collect();
    let r = ctx.reply();
    // A flat array in RESP3 too, as Redis 7.0 replies.
    r.array(pairs.len() * 2);
    for (c, n) in pairs {
        r.bulk(&c);
        r.int(n as i64);
    }
    Ok(())
}

fn pubsub_numpat(ctx: &mut Ctx<'_>, _argv: &[&[u8]]) -> CmdResult {
    let mut pats: Vec<&Key> = ctx.node.pubsub.patterns.iter().map(|(p, _)| p).collect();
    pats.sort();
    pats.dedup();
    let n = pats.len() as i64;
    ctx.reply().int(n);
    Ok(())
}

fn pubsub_help(ctx: &mut Ctx<'_>, _argv: &[&[u8]]) -> CmdResult {
    super::reply_help(
        ctx,
        &[
            "PUBSUB <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
            "CHANNELS [<pattern>]",
            "    Return the currently active channels matching a <pattern> (default: '*').",
            "NUMPAT",
            "    Return number of subscriptions to patterns.",
            "NUMSUB [<channel> ...]",
            "    Return the number of subscribers for the specified channels, excluding",
            "    pattern subscriptions(default: no channels).",
            "SHARDCHANNELS [<pattern>]",
            "    Return the currently active shard level channels matching a <pattern> (default: '*').",
            "SHARDNUMSUB [<shardchannel> ...]",
            "    Return the number of subscribers for the specified shard level channel(s)",
            "HELP",
            "    Prints this help.",
        ],
    );
    Ok(())
}

/// Drops every subscription of a client (disconnect, RESET).
pub fn unsubscribe_all(node: &mut Node, id: ClientId) {
    node.pubsub.channels.retain(|_, ids| {
        ids.retain(|&c| c != id);
        !ids.is_empty()
    });
    node.pubsub.patterns.retain(|(_, c)| *c != id);
    node.pubsub.shard_channels.retain(|_, ids| {
        ids.retain(|&c| c != id);
        !ids.is_empty()
    });
}
