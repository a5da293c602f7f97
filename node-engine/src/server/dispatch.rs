//! From parsed arguments to an executed command: lookup, arity, auth, MULTI
//! queueing, pub/sub context, cluster routing, read-only replicas, then the
//! handler; afterwards WATCH invalidation, wake-ups, propagation, slowlog
//! and MONITOR.

use crate::client::Client;
use crate::cmd::call::{call, unblock};
use crate::cmd::{flags, CommandSpec, Lookup};
use crate::node::Shared;
use crate::node::{unix_ms, Node};
use crate::resp::{parse_request, ParseLimits, Parsed};
use std::ops::Range;

/// Runs every complete request at the start of `input`; returns bytes
/// consumed. `fresh` is how much of `input` was read since the last call
/// (INFO's input counters count each byte once, however often a partial
/// request is looked at).
pub fn process_batch(
    shared: &Shared,
    client: &mut Client,
    input: &[u8],
    fresh: usize,
    ranges: &mut Vec<Range<usize>>,
    limits: &ParseLimits,
) -> usize {
    let mut node = shared.node.borrow_mut();
    node.now_ms = unix_ms();
    node.slowlog.cmd_clock = Some(std::time::Instant::now());
    if fresh > 0 {
        node.stats.net_input_bytes += fresh as u64;
        node.stats.reads_processed += 1;
    }
    let mut consumed = 0;
    let mut argv: Vec<&[u8]> = Vec::with_capacity(8);
    client.obuf_hard = if node.obuf_limits.iter().all(|l| l.0 == 0) { 0 } else { node.hard_output_limit(client.id) };
    while client.block.is_none() && !client.close_after_reply && !client.close_asap {
        let unauth_limits;
        let limits = if client.authenticated {
            limits
        } else {
            unauth_limits = ParseLimits { unauthenticated: true, ..*limits };
            &unauth_limits
        };
        match parse_request(&input[consumed..], ranges, limits) {
            Ok(Parsed::Complete(n)) => {
                let base = consumed;
                argv.clear();
                argv.extend(ranges.iter().map(|r| &input[base + r.start..base + r.end]));
                consumed += n;
                if argv.is_empty() {
                    continue;
                }
                let reply_at = client.reply.buf.len();
                client.reply_skip_now = std::mem::take(&mut client.reply_skip_next);
                client.qbuf_now = input.len() - base;
                execute(&mut node, client, &argv);
                if client.reply.buf.get(reply_at) == Some(&b'-') {
                    node.stats.count_reply_error(&client.reply.buf[reply_at + 1..]);
                }
                node.stats.nested_error_counted = false;
                if (std::mem::take(&mut client.reply_skip_now) || client.reply_off) && !is_subscription(argv[0]) {
                    client.reply.buf.truncate(reply_at);
                }
                if client.obuf_hard != 0 && client.output_over_limit() {
                    // Closed without another byte sent: the replies built so far go too.
                    tracing::warn!(client = %client.addr, "Client scheduled to be closed ASAP for overcoming of output buffer limits.");
                    client.reply.buf.clear();
                    break;
                }
            }
            Ok(Parsed::Incomplete) => break,
            Err(e) => {
                client.reply.error(&format!("ERR {e}"));
                client.close_after_reply = true;
                consumed = input.len();
                break;
            }
        }
    }
    if std::mem::take(&mut node.keyspace.evict_soon) {
        node.evict_if_needed();
    }
    node.flush_propagated();
    node.flush_to_replicas();
    let now = node.now_ms;
    if let Some(info) = node.clients.map.get_mut(&client.id) {
        info.last_interaction_ms = now;
        info.db = client.db;
    }
    consumed
}

/// (UN)SUBSCRIBE confirmations are pushes: CLIENT REPLY OFF does not silence them.
fn is_subscription(name: &[u8]) -> bool {
    ["subscribe", "unsubscribe", "psubscribe", "punsubscribe", "ssubscribe", "sunsubscribe"]
        .iter()
        .any(|n| n.as_bytes().eq_ignore_ascii_case(name))
}

const PUBSUB_CONTEXT: &[&str] =
    &["subscribe", "unsubscribe", "psubscribe", "punsubscribe", "ping", "quit", "reset", "ssubscribe", "sunsubscribe"];
const MULTI_IMMEDIATE: &[&str] = &["exec", "discard", "multi", "watch", "quit", "reset"];

const DEBUG_NOT_ALLOWED: &str = "ERR DEBUG command not allowed. If the enable-debug-command option is set to \"local\", you can run it from a local connection, otherwise you need to set this option in the configuration file, and then restart the server.";

/// `enable-debug-command no|yes|local`, as Redis checks it: `local` admits
/// loopback clients (and the node's own internal clients) only.
fn protected_action_allowed(setting: Option<&str>, client: &Client) -> bool {
    match setting.unwrap_or("no") {
        "yes" => true,
        "local" => client.addr.ip().is_loopback() || client.addr.ip().is_unspecified(),
        _ => false,
    }
}

pub use crate::cmd::replay::AofReplayer;

/// Runs one request with every check a Redis server applies first.
pub fn execute(node: &mut Node, client: &mut Client, argv: &[&[u8]]) {
    if !client.is_replica {
        return execute_command(node, client, argv);
    }
    // A replica's link carries our stream: a command of its that produced a
    // reply would corrupt it, so the replica is cut off instead (Redis's
    // "Replica generated a reply").
    let at = client.reply.buf.len();
    execute_command(node, client, argv);
    if client.reply.buf.len() > at {
        if client.reply.buf[at] == b'-' {
            let text = String::from_utf8_lossy(&client.reply.buf[at + 1..]);
            let first = text.split("\r\n").next().unwrap_or_default().to_string();
            node.stats.unexpected_error_replies += 1;
            tracing::warn!(
                "== CRITICAL == This master is sending an error to its replica: '{first}' after processing the command '{}'",
                client.cmd_cell.get()
            );
        }
        client.reply.buf.truncate(at);
        tracing::warn!(
            "Replica generated a reply to command '{}', disconnecting it: addr={} id={}",
            client.cmd_cell.get(),
            client.addr,
            client.id
        );
        client.close_asap = true;
    }
}

fn execute_command(node: &mut Node, client: &mut Client, argv: &[&[u8]]) {
    if node.tracking.active() {
        node.tracking.current = Some(client.id);
        // Over tracking-table-max-keys: keys are dropped before the command
        // runs, and this client's own invalidations precede its reply.
        node.tracking_limit();
        client.reply.buf.append(&mut node.tracking.pending_self);
        execute_checked(node, client, argv);
        node.tracking.current = None;
        // Anything still queued for this client goes after its reply.
        client.reply.buf.append(&mut node.tracking.pending_self);
        return;
    }
    execute_checked(node, client, argv);
}

fn execute_checked(node: &mut Node, client: &mut Client, argv: &[&[u8]]) {
    let cmd = match crate::cmd::table().find(argv) {
        Lookup::Found(cmd) => {
            client.cmd_cell.set(cmd.name);
            cmd
        }
        other => {
            client.reply.error(&other.error(argv).unwrap_or_default());
            if client.multi.is_some() {
                client.multi_error = true;
            }
            return;
        }
    };
    if !cmd.arity_ok(argv.len()) {
        rejected(node, cmd);
        client.reply.error(&format!("ERR wrong number of arguments for '{}' command", cmd.name));
        if client.multi.is_some() {
            client.multi_error = true;
        }
        return;
    }
    if cmd.name == "debug" && !protected_action_allowed(node.config.get("enable-debug-command"), client) {
        client.reply.error(DEBUG_NOT_ALLOWED);
        if client.multi.is_some() {
            client.multi_error = true;
        }
        return;
    }
    if !client.authenticated && cmd.flags & flags::NO_AUTH == 0 {
        rejected(node, cmd);
        client.reply.error("NOAUTH Authentication required.");
        return;
    }
    if node.keyspace.maxmemory != 0 && !client.from_master && refused_for_memory(node, client, cmd) {
        reject(node, client, cmd, OOM_ERR);
        return;
    }
    if !client.from_master && stale_refused(node, client, cmd) {
        reject(node, client, cmd, "MASTERDOWN Link with MASTER is down and replica-serve-stale-data is set to 'no'.");
        return;
    }
    // A replica's link is no client: it may not read or write data (Redis
    // exempts replicas from CLIENT PAUSE, which this would let them dodge).
    if client.is_replica && cmd.flags & (flags::WRITE | flags::READONLY | flags::MAY_REPLICATE) != 0 {
        reject(node, client, cmd, "ERR Replica can't interact with the keyspace");
        return;
    }
    if !client.from_master && loading_refused(node, client, cmd) {
        reject(node, client, cmd, crate::persistence::LOADING_ERR);
        return;
    }
    if client.multi.is_some() && !MULTI_IMMEDIATE.contains(&cmd.name) && cmd.flags & flags::NO_MULTI != 0 {
        client.reply.error("ERR Command not allowed inside a transaction");
        client.multi_error = true;
        return;
    }
    if !client.from_master {
        let context = if client.multi.is_some() { "multi" } else { "toplevel" };
        if let Err((_, msg)) = crate::cmd::acl::check(node, client, cmd, argv, context) {
            reject(node, client, cmd, &msg);
            return;
        }
    }
    if client.multi.is_some() && !MULTI_IMMEDIATE.contains(&cmd.name) {
        if let Some(q) = client.multi.as_mut() {
            if q.is_empty() {
                client.multi_bytes = 0;
            }
            // Each argument's bytes and its handle, as Redis's multiStateMemOverhead weighs them.
            client.multi_bytes += argv.iter().map(|a| a.len() + 24).sum::<usize>() + 16;
            q.push(argv.iter().map(|a| a.to_vec()).collect());
        }
        client.reply.simple("QUEUED");
        return;
    }
    if client.subscriptions > 0 && !client.reply.resp3 && !PUBSUB_CONTEXT.contains(&cmd.name) {
        client.reply.error(&format!(
            "ERR Can't execute '{}': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context",
            cmd.name
        ));
        return;
    }
    if let Some(until) = write_pause(node, client, cmd, argv) {
        // A coordinated failover or CLIENT PAUSE: the command waits (and runs when woken).
        client.block = Some(crate::client::BlockRequest { keys: Vec::new(), deadline_ms: until, rerun_on_timeout: true, rerun_argv: None });
        client.blocked_argv = Some(argv.iter().map(|a| a.to_vec()).collect());
        node.clients.paused.push(client.id);
        return;
    }
    let routed = node.cluster.is_some();
    if routed {
        if let Err(e) = super::redirect::check(node, client, cmd, argv) {
            rejected(node, cmd);
            node.keyspace.dbs[client.db].set_slot_hint(None);
            client.reply.error(&e.0);
            return;
        }
    }
    // EXEC counts as a write when it holds one (checked once, for the whole
    // transaction: what runs inside is not re-checked, as in Redis 7.0).
    let write = !client.from_master && !client.in_exec && (cmd.is_write() || (cmd.name == "exec" && queue_has(client, flags::WRITE)));
    if write && crate::persistence::writes_refused(&node.persistence, &node.config) {
        reject(node, client, cmd, crate::persistence::MISCONF);
    } else if write && node.too_few_good_replicas() {
        reject(node, client, cmd, "NOREPLICAS Not enough good replicas to write.");
    } else if write && node.is_read_only_replica() {
        reject(node, client, cmd, "READONLY You can't write against a read only replica.");
    } else {
        call(node, client, cmd, argv);
    }
    if routed {
        node.keyspace.dbs[client.db].set_slot_hint(None);
    }
}

/// Refuses a command with `msg` (Redis's rejectCommand): inside MULTI the
/// transaction is doomed; a refused EXEC discards it with EXECABORT.
fn reject(node: &mut Node, client: &mut Client, cmd: &'static CommandSpec, msg: &str) {
    rejected(node, cmd);
    if cmd.name == "exec" && client.multi.is_some() {
        client.multi = None;
        client.multi_error = false;
        crate::cmd::transactions::unwatch_all(node, client);
        client.reply.error(&format!("EXECABORT Transaction discarded because of: {msg}"));
        return;
    }
    if client.multi.is_some() {
        client.multi_error = true;
    }
    client.reply.error(msg);
}

/// A replica cut off from its master with `replica-serve-stale-data no`
/// answers only commands flagged stale (INFO, REPLICAOF, ...); an EXEC is
/// refused if it holds any other.
fn stale_refused(node: &Node, client: &Client, cmd: &CommandSpec) -> bool {
    if node.repl.master.is_none() || node.repl.link_up || node.config.get("replica-serve-stale-data") != Some("no") {
        return false;
    }
    if cmd.name == "exec" {
        return queue_any(client, |c, _| c.flags & flags::STALE == 0);
    }
    cmd.flags & flags::STALE == 0
}

/// While a replica loads its master's snapshot only commands flagged
/// `loading` run; while it loads behind the old dataset (async loading)
/// everything runs but what is flagged `no_async_loading`. An EXEC is judged
/// by its queue.
fn loading_refused(node: &Node, client: &Client, cmd: &CommandSpec) -> bool {
    let p = &node.persistence;
    if !p.loading {
        return false;
    }
    let denied = |c: &CommandSpec| if p.async_loading { c.flags & flags::NO_ASYNC_LOADING != 0 } else { c.flags & flags::LOADING == 0 };
    if cmd.name == "exec" {
        return queue_any(client, |c, _| denied(c));
    }
    denied(cmd)
}

/// Whether a command queued in the client's transaction satisfies `pred`
/// (how EXEC is judged as a whole: its queue's writes, deny-oom, ...).
fn queue_any(client: &Client, pred: impl Fn(&'static CommandSpec, &[&[u8]]) -> bool) -> bool {
    client.multi.as_ref().is_some_and(|q| {
        q.iter().any(|argv| {
            let parts: Vec<&[u8]> = argv.iter().map(Vec::as_slice).collect();
            matches!(crate::cmd::table().find(&parts), Lookup::Found(c) if pred(c, &parts))
        })
    })
}

/// Whether the queued transaction holds a command with any of `flag`.
fn queue_has(client: &Client, flag: u32) -> bool {
    queue_any(client, |c, _| c.flags & flag != 0)
}

/// Counts a command refused before it ran (INFO commandstats rejected_calls).
fn rejected(node: &mut Node, cmd: &'static CommandSpec) {
    node.stats.command(cmd as *const CommandSpec as usize, cmd.name).rejected += 1;
}

const OOM_ERR: &str = "OOM command not allowed when used memory > 'maxmemory'.";

/// Redis's maxmemory step of processCommand: evict what the policy allows,
/// then refuse commands that may grow memory (deny-oom ones, anything queued
/// in MULTI, an EXEC of deny-oom commands) if still over the limit. Scripts
/// remember the verdict for their own writes.
fn refused_for_memory(node: &mut Node, client: &Client, cmd: &CommandSpec) -> bool {
    let oom = !node.evict_if_needed();
    if matches!(cmd.name, "eval" | "evalsha" | "eval_ro" | "evalsha_ro" | "fcall" | "fcall_ro") {
        node.scripting.oom = oom;
    }
    if !oom {
        return false;
    }
    cmd.flags & flags::DENYOOM != 0
        || (client.multi.is_some() && !matches!(cmd.name, "exec" | "discard" | "quit" | "reset"))
        || (cmd.name == "exec" && queue_has(client, flags::DENYOOM))
}

/// Until when this command must wait: a manual failover pauses writes, a
/// CLIENT PAUSE holds everything (ALL) or what may write or replicate
/// (WRITE). Replication links and commands inside EXEC never wait.
fn write_pause(node: &mut Node, client: &Client, cmd: &CommandSpec, argv: &[&[u8]]) -> Option<u64> {
    if client.from_master || client.in_exec || client.is_replica {
        return None;
    }
    let failover = node.cluster.as_ref().map_or(0, |c| c.paused_until);
    if failover > node.now_ms && cmd.is_write() {
        return Some(failover);
    }
    // A FAILOVER, or a shutdown waiting for replicas, holds what may write
    // (as CLIENT PAUSE WRITE) until it ends: no deadline.
    if node.repl.failover.is_some() || node.shutdown_initiated() {
        let held = if cmd.name == "exec" {
            queue_any(client, |c, parts| may_replicate(node, c, parts))
        } else {
            client.multi.is_none() && may_replicate(node, cmd, argv)
        };
        if held {
            return Some(0);
        }
    }
    let pause = node.client_pause()?;
    let held = if pause.all {
        true
    } else if cmd.name == "exec" {
        // A transaction waits at EXEC if it holds anything that may write.
        queue_any(client, |c, parts| may_replicate(node, c, parts))
    } else {
        // Commands are only queued inside MULTI.
        client.multi.is_none() && may_replicate(node, cmd, argv)
    };
    held.then_some(pause.until_ms)
}

/// Whether a command may add to the replication stream (CLIENT PAUSE WRITE
/// holds it): writes, PUBLISH/PFCOUNT, scripts that may write, an EXEC of such.
fn may_replicate(node: &Node, cmd: &CommandSpec, argv: &[&[u8]]) -> bool {
    if cmd.is_write() {
        return true;
    }
    if cmd.flags & flags::MAY_REPLICATE == 0 {
        return false;
    }
    // A script declared no-writes does not replicate anything.
    let script_flags = match cmd.name {
        "eval" => argv.get(1).and_then(|b| crate::script::parse_shebang(b).ok()).map(|(f, _)| f),
        "evalsha" => node.scripting.eval.as_ref().and_then(|e| argv.get(1).and_then(|s| e.get(s))).map(|s| s.flags),
        "fcall" => node.scripting.functions.as_ref().and_then(|f| argv.get(1).and_then(|n| f.function(n))).map(|f| f.flags),
        _ => None,
    };
    !script_flags.is_some_and(|f| f & crate::script::flags::EVAL_COMPAT == 0 && f & crate::script::flags::NO_WRITES != 0)
}

/// Cleans up after a connection ends: registry, WATCH, blocking, subscriptions.
pub fn client_gone(shared: &Shared, client: &mut Client) {
    let mut node = shared.node.borrow_mut();
    unblock(&mut node, client);
    crate::cmd::transactions::unwatch_all(&mut node, client);
    crate::cmd::pubsub::unsubscribe_all(&mut node, client.id);
    node.tracking_disable(client.id);
    node.clients.monitors.retain(|&id| id != client.id);
    if let Some(c) = node.clients.map.remove(&client.id) {
        node.uncount_client(&c.mem);
    }
    node.clients.sockets.borrow_mut().retain(|(id, _, _)| *id != client.id);
}
