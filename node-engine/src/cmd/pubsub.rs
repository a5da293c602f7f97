//! Pub/sub: SUBSCRIBE, UNSUBSCRIBE, PSUBSCRIBE, PUNSUBSCRIBE, PUBLISH, PUBSUB.
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
    CommandSpec::container("pubsub", -2, super::no_subcommand, PUBSUB_SUBS),
];

fn counts(node: &Node, id: ClientId) -> (usize, usize) {
    let subs = node.pubsub.channels.values().filter(|ids| ids.contains(&id)).count();
    let psubs = node.pubsub.patterns.iter().filter(|(_, c)| *c == id).count();
    (subs, psubs)
}

fn sync_counts(ctx: &mut Ctx<'_>) -> usize {
    let id = ctx.client.id;
    let (s, p) = counts(ctx.node, id);
    if let Some(c) = ctx.node.clients.map.get_mut(&id) {
        c.sub_count = s;
        c.psub_count = p;
    }
    ctx.client.subscriptions = s + p;
    s + p
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

/// PUBSUB's subcommands.
const PUBSUB_SUBS: &[CommandSpec] = &[
    CommandSpec::new("pubsub|channels", -2, PUBSUB | LOADING | STALE, (0, 0, 0), pubsub_channels),
    CommandSpec::new("pubsub|numsub", -2, PUBSUB | LOADING | STALE, (0, 0, 0), pubsub_numsub),
    CommandSpec::new("pubsub|numpat", 2, PUBSUB | LOADING | STALE, (0, 0, 0), pubsub_numpat),
    CommandSpec::new("pubsub|help", 2, LOADING | STALE, (0, 0, 0), pubsub_help),
];

fn pubsub_channels(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    if argv.len() > 3 {
        return Err(CmdError::sub_syntax(argv));
    }
    let pat = argv.get(2).copied();
    let list: Vec<Key> = ctx.node.pubsub.channels.keys().filter(|c| pat.is_none_or(|p| glob_match(p, c, false))).cloned().collect();
    let r = ctx.reply();
    r.array(list.len());
    for c in list {
        r.bulk(&c);
    }
    Ok(())
}

fn pubsub_numsub(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let pairs: Vec<(Vec<u8>, usize)> =
        argv[2..].iter().map(|c| (c.to_vec(), ctx.node.pubsub.channels.get(*c).map_or(0, Vec::len))).collect();
    let r = ctx.reply();
    r.map(pairs.len());
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
}
