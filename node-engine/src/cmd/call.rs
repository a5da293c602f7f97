//! Running one command once every check has passed: the handler, then its
//! after-effects (blocking registration, WATCH invalidation and wake-ups,
//! propagation, slowlog, MONITOR). Shared by live clients, EXEC and AOF
//! replay, so it lives in the command layer, below the server.

use super::{flags, CommandSpec, Ctx};
use crate::client::{Client, Push};
use crate::node::{unix_ms, Node, SlowEntry};

/// Runs the handler and the after-effects. Used by `execute` and by EXEC.
pub fn call(node: &mut Node, client: &mut Client, cmd: &'static CommandSpec, argv: &[&[u8]]) {
    node.stats.total_commands += 1;
    let dirty_before = node.keyspace.dirty;
    let slowlog_us = node.slowlog.threshold_us;
    // One clock read per command: this command starts where the previous one ended.
    let started = (slowlog_us >= 0).then(|| node.slowlog.cmd_clock.unwrap_or_else(std::time::Instant::now));
    // A transaction's own invalidations wait for EXEC's whole reply.
    let own = node.tracking.current == Some(client.id) && !client.in_exec;
    if own && !node.tracking.pending_self.is_empty() {
        client.reply.buf.append(&mut node.tracking.pending_self);
    }
    let reply_at = client.reply.buf.len();
    // Scripts show in MONITOR before the commands they run (Redis's SKIP_MONITOR commands feed it themselves).
    let monitor_first = cmd.flags & flags::SKIP_MONITOR != 0;
    if monitor_first && !node.clients.monitors.is_empty() {
        feed_monitors(node, client, argv);
    }
    let result = {
        let mut ctx = Ctx { node: &mut *node, client: &mut *client };
        (cmd.handler)(&mut ctx, argv)
    };
    // Failed: answered an error, returned or written (scripts write theirs).
    let failed = result.is_err() || client.reply.buf.get(reply_at) == Some(&b'-');
    if let Err(e) = result {
        client.reply.error(&e.0);
    }
    // An error inside EXEC or a script is counted where it happens (INFO
    // errorstats), as Redis does; the outer reply is then not counted again.
    if failed && (client.in_exec || client.in_script) && client.reply.buf.get(reply_at) == Some(&b'-') {
        node.stats.count_error(&client.reply.buf[reply_at + 1..]);
        node.stats.nested_error_counted = true;
    }
    if client.block.is_some() {
        register_block(node, client, argv);
    }
    propagate_expired(node);
    if node.pubsub.notify_flags & crate::util::events::NEW != 0 {
        node.flush_new_key_events(client.db);
    }
    let suppress = std::mem::take(&mut client.suppress_propagation);
    let forced = std::mem::take(&mut client.force_propagate);
    let tracking = node.tracking.active();
    // Read-only scripts (READONLY with SKIP_MONITOR) are tracked through the commands they run, not themselves.
    if tracking && cmd.flags & (flags::READONLY | flags::PUBSUB | flags::SKIP_MONITOR) == flags::READONLY && !failed {
        let mut keys: Vec<&[u8]> = Vec::new();
        match client.tracking_keys.as_ref() {
            Some(declared) => keys.extend(declared.iter().map(Vec::as_slice)),
            None => cmd.for_each_key(argv, |i| keys.push(argv[i])),
        }
        node.tracking_remember(client.tracking_id, &keys);
    }
    // A save resets the counter: only growth is a change (Redis's call() clamps a negative difference).
    let changed = node.keyspace.dirty > dirty_before;
    if changed || forced {
        if changed && (!node.waits.watched.is_empty() || !node.waits.blocked.is_empty() || tracking) {
            node.tracking.writer = Some(client.tracking_id);
            match client.touched_only.take() {
                Some(keys) => keys.iter().for_each(|k| node.touch_key(client.db, k)),
                None => cmd.for_each_key(argv, |i| node.touch_key(client.db, argv[i])),
            }
            node.tracking.writer = None;
        }
        if node.propagation_wanted() && !suppress {
            let db = client.db;
            if client.propagate_override.is_empty() {
                node.propagate(db, argv);
            } else {
                for p in client.propagate_override.drain(..) {
                    node.propagate(db, &p);
                }
            }
        }
    }
    client.propagate_override.clear();
    client.touched_only = None;
    if tracking {
        // BCAST messages go out once per top-level command: a transaction's
        // or a script's keys come in one message per prefix.
        if !client.in_exec && !client.in_script {
            node.tracking_broadcast();
        }
        if own && !node.tracking.pending_self.is_empty() {
            client.reply.buf.append(&mut node.tracking.pending_self);
        }
        // CLIENT CACHING covers the next command (a whole transaction in MULTI).
        if !cmd.name.starts_with("client") && client.multi.is_none() && !client.in_exec {
            if let Some(t) = node.tracking.clients.get_mut(&client.tracking_id) {
                t.caching = false;
            }
        }
    }
    if !node.propagation.buf.is_empty() && node.propagation.held == 0 {
        node.feed_stream();
    }
    if changed {
        client.last_write_offset = node.repl.offset;
    }
    let mut us = 0;
    if let Some(start) = started {
        let end = std::time::Instant::now();
        node.slowlog.cmd_clock = Some(end);
        us = end.duration_since(start).as_micros() as u64;
        // The threshold as it is now: CONFIG SET slowlog-log-slower-than -1 is not logged itself.
        let threshold = node.slowlog.threshold_us;
        if threshold >= 0 && us as i64 >= threshold && cmd.flags & super::flags::SKIP_SLOWLOG == 0 {
            record_slow(node, client, argv, us);
        }
    }
    let stat = node.stats.command(cmd as *const CommandSpec as usize, cmd.name);
    stat.usec += us;
    if started.is_some() && client.block.is_none() {
        stat.hist.record(us);
    }
    let ms = us / 1000;
    if node.latency_threshold_ms > 0 && ms >= node.latency_threshold_ms {
        let event = if cmd.flags & flags::FAST != 0 { "fast-command" } else { "command" };
        node.latency.add(event, unix_ms() / 1000, ms);
    }
    // A command that blocked is counted once, when it is served or times out (as Redis does).
    if client.block.is_none() {
        stat.calls += 1;
        stat.failed += failed as u64;
    }
    if !node.clients.monitors.is_empty() && cmd.flags & flags::ADMIN == 0 && !monitor_first {
        feed_monitors(node, client, argv);
    }
}

/// The length of the SELECT frame `stream` starts with (0 if none).
fn leading_select_len(stream: &[u8]) -> usize {
    let mut ranges = Vec::new();
    match crate::resp::parse_request(stream, &mut ranges, &crate::resp::ParseLimits::default()) {
        Ok(crate::resp::Parsed::Complete(n)) if ranges.first().is_some_and(|r| stream[r.clone()].eq_ignore_ascii_case(b"select")) => n,
        _ => 0,
    }
}

/// Runs the commands of a transaction or a script (`f`) so that replicas
/// and the AOF get them as one unit: wrapped in MULTI/EXEC when more than
/// one was propagated (a single command is atomic already), never nested,
/// and without the EXEC/EVAL/FCALL that ran them (Redis 7.0's rules).
pub fn propagate_as_transaction<R>(node: &mut Node, client: &mut Client, f: impl FnOnce(&mut Node, &mut Client) -> R) -> R {
    let start = node.propagation.buf.len();
    let count = node.propagation.count;
    node.propagation.held += 1;
    let r = f(node, client);
    node.propagation.held -= 1;
    let p = &mut node.propagation;
    if p.held == 0 && p.count - count > 1 && p.buf.len() > start {
        // The first command's SELECT goes before MULTI, as Redis 7.0 writes it.
        let head = leading_select_len(&p.buf[start..]);
        let mut wrapped = Vec::with_capacity(p.buf.len() - start + 32);
        wrapped.extend_from_slice(&p.buf[start..start + head]);
        crate::resp::encode_command(&mut wrapped, &[b"MULTI".as_slice()]);
        wrapped.extend_from_slice(&p.buf[start + head..]);
        crate::resp::encode_command(&mut wrapped, &[b"EXEC".as_slice()]);
        p.buf.truncate(start);
        p.buf.extend_from_slice(&wrapped);
    }
    client.suppress_propagation = true;
    r
}

/// Hands keys deleted by expiry to propagation as DEL, as a master does.
pub fn propagate_expired(node: &mut Node) {
    if !crate::keyspace::db::take_expired_pending() {
        return;
    }
    drain_expired(node);
}

/// Propagates and announces every logged expiry, whatever the mark says
/// (the cron's sweep, so nothing logged elsewhere waits long).
pub fn drain_expired(node: &mut Node) {
    let wanted = node.propagation_wanted();
    let notify = node.pubsub.notify_flags & crate::util::events::EXPIRED != 0;
    for i in 0..node.keyspace.dbs.len() {
        if node.keyspace.dbs[i].expired_log.is_empty() {
            continue;
        }
        let keys = std::mem::take(&mut node.keyspace.dbs[i].expired_log);
        for k in keys {
            // Deleting an expired key is a change for its watchers and may serve no one blocked.
            node.touch_key(i, &k);
            if notify {
                node.notify(i, crate::util::events::EXPIRED, "expired", &k);
            }
            if wanted {
                node.propagate(i, &[&b"DEL"[..], &k[..]]);
            }
        }
    }
}

fn register_block(node: &mut Node, client: &mut Client, argv: &[&[u8]]) {
    let Some(req) = client.block.as_ref() else { return };
    for k in &req.keys {
        node.waits.blocked.entry((client.db, k.clone())).or_default().push(client.id);
    }
    client.blocked_argv = Some(req.rerun_argv.clone().unwrap_or_else(|| argv.iter().map(|a| a.to_vec()).collect()));
}

/// Counts the call of a blocked command that timed out without running again.
pub fn count_timed_out(node: &mut Node, argv: &[Vec<u8>]) {
    let refs: Vec<&[u8]> = argv.iter().map(Vec::as_slice).collect();
    if let super::Lookup::Found(cmd) = super::table().find(&refs) {
        node.stats.command(cmd as *const CommandSpec as usize, cmd.name).calls += 1;
    }
}

/// A blocked command ended by CLIENT UNBLOCK ... ERROR: one call, failed.
pub fn count_failed_unblock(node: &mut Node, argv: &[Vec<u8>]) {
    let refs: Vec<&[u8]> = argv.iter().map(Vec::as_slice).collect();
    if let super::Lookup::Found(cmd) = super::table().find(&refs) {
        let stat = node.stats.command(cmd as *const CommandSpec as usize, cmd.name);
        stat.calls += 1;
        stat.failed += 1;
    }
}

/// Removes a client from every blocked-key list.
pub fn unblock(node: &mut Node, client: &mut Client) {
    if let Some(req) = client.block.as_ref() {
        node.repl.waiters.retain(|&i| i != client.id);
        node.lifecycle.pending.waiters.retain(|&i| i != client.id);
        for k in &req.keys {
            let key = (client.db, k.clone());
            if let Some(ids) = node.waits.blocked.get_mut(&key) {
                ids.retain(|&i| i != client.id);
                if ids.is_empty() {
                    node.waits.blocked.remove(&key);
                }
            }
        }
    }
}

/// Slow log entries keep at most this many arguments, each at most 128 bytes (Redis's SLOWLOG_ENTRY_MAX_*).
const SLOWLOG_MAX_ARGC: usize = 32;
const SLOWLOG_MAX_STRING: usize = 128;

/// A command's arguments as the slow log keeps them: secrets redacted, long
/// lists and long strings cut with Redis's "... (N more ...)" notes.
fn slowlog_argv(argv: &[&[u8]]) -> Vec<Vec<u8>> {
    let hide = redacted(argv);
    let kept = if argv.len() > SLOWLOG_MAX_ARGC { SLOWLOG_MAX_ARGC - 1 } else { argv.len() };
    let mut out: Vec<Vec<u8>> = argv[..kept]
        .iter()
        .zip(&hide)
        .map(|(a, h)| {
            if *h {
                b"(redacted)".to_vec()
            } else if a.len() > SLOWLOG_MAX_STRING {
                let mut t = a[..SLOWLOG_MAX_STRING].to_vec();
                t.extend_from_slice(format!("... ({} more bytes)", a.len() - SLOWLOG_MAX_STRING).as_bytes());
                t
            } else {
                a.to_vec()
            }
        })
        .collect();
    if argv.len() > kept {
        out.push(format!("... ({} more arguments)", argv.len() - kept).into_bytes());
    }
    out
}

fn record_slow(node: &mut Node, client: &Client, argv: &[&[u8]], micros: u64) {
    let max = node.config.int_named("slowlog-max-len", 128).max(0) as usize;
    let id = node.slowlog.next_id;
    node.slowlog.next_id += 1;
    node.slowlog.entries.push_front(SlowEntry {
        id,
        at_secs: node.now_ms / 1000,
        micros,
        argv: slowlog_argv(argv),
        peer: client.addr.to_string(),
        name: client.name.as_ref().map(|n| String::from_utf8_lossy(n).into_owned()).unwrap_or_default(),
    });
    while node.slowlog.entries.len() > max {
        node.slowlog.entries.pop_back();
    }
}

/// Arguments MONITOR and SLOWLOG show as `(redacted)`: passwords of AUTH,
/// HELLO ... AUTH and MIGRATE ... AUTH/AUTH2, ACL SETUSER's rules, and the
/// values of sensitive configs in CONFIG SET (Redis's redactClientCommandArgument).
fn redacted(argv: &[&[u8]]) -> Vec<bool> {
    let mut hide = vec![false; argv.len()];
    let name = argv.first().map(|n| n.to_ascii_lowercase()).unwrap_or_default();
    let sub = argv.get(1).map(|n| n.to_ascii_lowercase()).unwrap_or_default();
    match name.as_slice() {
        b"auth" => hide.iter_mut().skip(1).for_each(|h| *h = true),
        b"acl" if sub == b"setuser" => hide.iter_mut().skip(2).for_each(|h| *h = true),
        b"config" if sub == b"set" => {
            for i in (2..argv.len()).step_by(2) {
                if argv[i].eq_ignore_ascii_case(b"masterauth") || argv[i].eq_ignore_ascii_case(b"requirepass") {
                    if let Some(h) = hide.get_mut(i + 1) {
                        *h = true;
                    }
                }
            }
        }
        b"hello" | b"migrate" => {
            let from = if name == b"hello" { 2 } else { 6 };
            let mut i = from;
            while i < argv.len() {
                let take = if argv[i].eq_ignore_ascii_case(b"auth2") || (name == b"hello" && argv[i].eq_ignore_ascii_case(b"auth")) {
                    2
                } else if argv[i].eq_ignore_ascii_case(b"auth") {
                    1
                } else {
                    0
                };
                for h in hide.iter_mut().skip(i + 1).take(take) {
                    *h = true;
                }
                i += 1 + take;
            }
        }
        _ => {}
    }
    hide
}

fn feed_monitors(node: &mut Node, client: &Client, argv: &[&[u8]]) {
    let now = unix_ms();
    let who = if client.in_script { "lua".to_string() } else { client.addr.to_string() };
    let mut line = format!("+{}.{:06} [{} {who}]", now / 1000, (now % 1000) * 1000, client.db);
    let hide = redacted(argv);
    for (i, a) in argv.iter().enumerate() {
        if hide[i] {
            line.push_str(" \"(redacted)\"");
            continue;
        }
        line.push_str(" \"");
        for &b in *a {
            match b {
                b'"' => line.push_str("\\\""),
                b'\\' => line.push_str("\\\\"),
                b'\n' => line.push_str("\\n"),
                b'\r' => line.push_str("\\r"),
                0x20..=0x7e => line.push(b as char),
                _ => line.push_str(&format!("\\x{b:02x}")),
            }
        }
        line.push('"');
    }
    line.push_str("\r\n");
    let bytes = line.into_bytes();
    for id in node.clients.monitors.clone() {
        if id != client.id {
            node.push_to(id, Push::Bytes(bytes.clone()));
        }
    }
}
