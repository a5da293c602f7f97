//! Transactions: MULTI, EXEC, DISCARD, WATCH, UNWATCH. Queued commands run
//! back to back under the one borrow of the node the batch already holds, so
//! nothing interleaves.

use super::flags::*;
use super::{CmdError, CmdResult, CommandSpec, Ctx};
use crate::client::Client;
use crate::keyspace::Key;
use crate::node::Node;

pub const COMMANDS: &[CommandSpec] = &[
    CommandSpec::new("multi", 1, NOSCRIPT | LOADING | STALE | FAST | NO_MULTI, (0, 0, 0), multi).acl(&["@transaction"]),
    CommandSpec::new("exec", 1, NOSCRIPT | LOADING | STALE | SKIP_SLOWLOG, (0, 0, 0), exec).acl(&["@transaction"]),
    CommandSpec::new("discard", 1, NOSCRIPT | LOADING | STALE | FAST, (0, 0, 0), discard).acl(&["@transaction"]),
    CommandSpec::new("watch", -2, NOSCRIPT | LOADING | STALE | FAST, (1, -1, 1), watch).acl(&["@transaction"]),
    CommandSpec::new("unwatch", 1, NOSCRIPT | LOADING | STALE | FAST, (0, 0, 0), unwatch).acl(&["@transaction"]),
];

fn multi(ctx: &mut Ctx<'_>, _argv: &[&[u8]]) -> CmdResult {
    if ctx.client.multi.is_some() {
        return Err(CmdError::new("ERR MULTI calls can not be nested"));
    }
    ctx.client.multi = Some(Vec::new());
    ctx.client.multi_error = false;
    ctx.reply().ok();
    Ok(())
}

fn discard(ctx: &mut Ctx<'_>, _argv: &[&[u8]]) -> CmdResult {
    if ctx.client.multi.take().is_none() {
        return Err(CmdError::new("ERR DISCARD without MULTI"));
    }
    ctx.client.multi_error = false;
    unwatch_all(ctx.node, ctx.client);
    ctx.reply().ok();
    Ok(())
}

fn exec(ctx: &mut Ctx<'_>, _argv: &[&[u8]]) -> CmdResult {
    let Some(queue) = ctx.client.multi.take() else {
        return Err(CmdError::new("ERR EXEC without MULTI"));
    };
    let id = ctx.client.id;
    let dirty_watch = ctx.node.clients.map.get(&id).is_some_and(|c| c.watch_dirty) || watched_key_expired(ctx);
    unwatch_all(ctx.node, ctx.client);
    if std::mem::take(&mut ctx.client.multi_error) {
        return Err(CmdError::new("EXECABORT Transaction discarded because of previous errors."));
    }
    if dirty_watch {
        ctx.client.reply.null_array();
        return Ok(());
    }
    ctx.client.reply.array(queue.len());
    super::call::propagate_as_transaction(ctx.node, ctx.client, |node, client| run_queue(node, client, &queue));
    Ok(())
}

/// EXEC's queued commands, back to back.
fn run_queue(node: &mut Node, client: &mut Client, queue: &[Vec<Vec<u8>>]) {
    let ctx = &mut Ctx { node, client };
    ctx.client.in_exec = true;
    for argv in queue {
        let refs: Vec<&[u8]> = argv.iter().map(Vec::as_slice).collect();
        match super::table().find(&refs) {
            super::Lookup::Found(cmd) => {
                // ACL rules may have changed since the command was queued.
                if !ctx.client.from_master {
                    if let Err((denied, _)) = super::acl::check(ctx.node, ctx.client, cmd, &refs, "multi") {
                        let why = match denied {
                            crate::acl::Denied::Command => "no permission to execute the command or subcommand",
                            crate::acl::Denied::Key => "no permission to touch the specified keys",
                            crate::acl::Denied::Channel => "no permission to access one of the channels used as arguments",
                        };
                        ctx.client.reply.error(&format!("NOPERM ACLs rules changed between the moment the transaction was accumulated and the EXEC call. This command is no longer allowed for the following reason: {why}"));
                        continue;
                    }
                }
                // The role was checked once for the whole EXEC: a REPLICAOF inside
                // the transaction does not refuse the commands after it (Redis 7.0).
                super::call::call(ctx.node, ctx.client, cmd, &refs);
                // Blocking commands inside MULTI behave as if the timeout expired.
                if ctx.client.block.take().is_some() {
                    ctx.client.blocked_argv = None;
                    ctx.client.reply.null_array();
                }
            }
            other => ctx.client.reply.error(&other.error(&refs).unwrap_or_default()),
        }
    }
    ctx.client.in_exec = false;
}

/// A watched key that expired since WATCH (and was not expired then) fails
/// the EXEC, even if nothing deleted it yet (Redis's isWatchedKeyExpired).
fn watched_key_expired(ctx: &mut Ctx<'_>) -> bool {
    let now = ctx.now();
    let id = ctx.client.id;
    ctx.client.watching.iter().any(|(db, key)| {
        let was_expired =
            ctx.node.waits.watched.get(&(*db, key.clone())).and_then(|w| w.iter().find(|(i, _)| *i == id)).is_some_and(|(_, e)| *e);
        !was_expired && ctx.node.keyspace.dbs[*db].peek(key).is_some_and(|e| e.expire_at != 0 && e.expire_at <= now)
    })
}

fn watch(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    if ctx.client.multi.is_some() {
        return Err(CmdError::new("ERR WATCH inside MULTI is not allowed"));
    }
    let db = ctx.client.db;
    let id = ctx.client.id;
    for k in &argv[1..] {
        let key = (db, Key::from(*k));
        if ctx.client.watching.contains(&key) {
            continue;
        }
        // A key still stored but past its TTL is "already expired" (Redis's keyIsExpired).
        let now = ctx.now();
        let expired = ctx.node.keyspace.dbs[db].peek(k).is_some_and(|e| e.expire_at != 0 && e.expire_at <= now);
        ctx.node.waits.watched.entry(key.clone()).or_default().push((id, expired));
        ctx.client.watching.push(key);
    }
    ctx.reply().ok();
    Ok(())
}

fn unwatch(ctx: &mut Ctx<'_>, _argv: &[&[u8]]) -> CmdResult {
    unwatch_all(ctx.node, ctx.client);
    ctx.reply().ok();
    Ok(())
}

/// Forgets every WATCHed key of a client and clears its dirty flag.
pub fn unwatch_all(node: &mut Node, client: &mut Client) {
    for key in client.watching.drain(..) {
        if let Some(ids) = node.waits.watched.get_mut(&key) {
            ids.retain(|&(i, _)| i != client.id);
            if ids.is_empty() {
                node.waits.watched.remove(&key);
            }
        }
    }
    if let Some(c) = node.clients.map.get_mut(&client.id) {
        c.watch_dirty = false;
    }
}
