//! Replication commands: REPLICAOF/SLAVEOF, REPLCONF, PSYNC/SYNC, ROLE, WAIT.

use super::args::{is, parse_i64};
use super::flags::*;
use super::{CmdError, CmdResult, CommandSpec, Ctx};
use crate::client::BlockRequest;
use crate::replication::{ReplicaInfo, ReplicaState};

pub const COMMANDS: &[CommandSpec] = &[
    CommandSpec::new("replicaof", 3, ADMIN | NOSCRIPT | STALE | NO_ASYNC_LOADING, (0, 0, 0), replicaof),
    CommandSpec::new("slaveof", 3, ADMIN | NOSCRIPT | STALE | NO_ASYNC_LOADING, (0, 0, 0), replicaof),
    CommandSpec::new("replconf", -1, ADMIN | NOSCRIPT | LOADING | STALE | ALLOW_BUSY, (0, 0, 0), replconf),
    CommandSpec::new("psync", -3, ADMIN | NOSCRIPT | NO_MULTI | NO_ASYNC_LOADING, (0, 0, 0), psync),
    CommandSpec::new("sync", 1, ADMIN | NOSCRIPT | NO_MULTI | NO_ASYNC_LOADING, (0, 0, 0), sync),
    CommandSpec::new("role", 1, NOSCRIPT | LOADING | STALE | FAST, (0, 0, 0), role).acl(&["@admin", "@dangerous"]),
    CommandSpec::new("wait", 3, NOSCRIPT, (0, 0, 0), wait).acl(&["@connection"]),
    CommandSpec::new("failover", -1, ADMIN | NOSCRIPT | STALE, (0, 0, 0), failover),
];

fn replicaof(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    if ctx.node.cluster.is_some() {
        return Err(CmdError::new("ERR REPLICAOF not allowed in cluster mode."));
    }
    if ctx.node.repl.failover.is_some() {
        return Err(CmdError::new("ERR REPLICAOF not allowed while failing over."));
    }
    if is(argv[1], "no") && is(argv[2], "one") {
        ctx.node.set_master(None);
        ctx.reply().ok();
        return Ok(());
    }
    let host = String::from_utf8_lossy(argv[1]).into_owned();
    let port = parse_i64(argv[2]).ok().filter(|p| (0..=65535).contains(p)).ok_or_else(|| CmdError::new("ERR Invalid master port"))? as u16;
    if ctx.node.repl.master.as_ref() == Some(&(host.clone(), port)) {
        ctx.reply().simple("OK Already connected to specified master");
        return Ok(());
    }
    ctx.node.set_master(Some((host, port)));
    ctx.reply().ok();
    Ok(())
}

fn replconf(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    if argv.len() % 2 == 0 {
        return Err(CmdError::syntax());
    }
    let mut i = 1;
    while i + 1 < argv.len() {
        let (k, v) = (argv[i], argv[i + 1]);
        if is(k, "listening-port") {
            ctx.client.repl_listening_port = parse_i64(v)?.clamp(0, 65535) as u16;
        } else if is(k, "ack") {
            // Acks get no reply.
            let off = parse_i64(v)?.max(0) as u64;
            ctx.node.replica_acked(ctx.client.id, off);
            ctx.node.wake_waiters();
            return Ok(());
        } else if is(k, "getack") {
            return Ok(());
        } else if is(k, "capa") {
            if is(v, "eof") {
                ctx.client.repl_capa_eof = true;
            }
        } else if !(is(k, "ip-address") || is(k, "rdb-only") || is(k, "rdb-filter-only")) {
            return Err(CmdError::new(format!("ERR Unrecognized REPLCONF option: {}", String::from_utf8_lossy(k))));
        }
        i += 2;
    }
    ctx.reply().ok();
    Ok(())
}

/// Starts streaming to this client after a full or partial sync.
fn attach_replica(ctx: &mut Ctx<'_>, requested_id: &[u8], requested_offset: i64, legacy: bool) -> CmdResult {
    let node = &mut *ctx.node;
    if node.repl.master.is_some() && !node.repl.link_up {
        return Err(CmdError::new("NOMASTERLINK Can't SYNC while not connected with my master"));
    }
    node.repl.backlog_active = true;
    let id = String::from_utf8_lossy(requested_id).into_owned();
    let same_history = id == node.repl.replid || (id == node.repl.replid2 && requested_offset <= node.repl.second_offset);
    let partial =
        if same_history && requested_offset > 0 { node.repl.backlog.since(requested_offset as u64, node.repl.offset) } else { None };
    let r = &mut ctx.client.reply;
    let name = format!("{}:{}", ctx.client.addr.ip(), ctx.client.repl_listening_port);
    let mut info = ReplicaInfo::online(ctx.client.id, ctx.client.addr.ip().to_string(), ctx.client.repl_listening_port, node.now_ms);
    info.capa_eof = ctx.client.repl_capa_eof;
    match partial {
        Some(bytes) => {
            node.stats.sync_partial_ok += 1;
            r.simple(&format!("CONTINUE {}", node.repl.replid));
            r.raw(&bytes);
            tracing::info!(
                "Partial resynchronization request from {name} accepted. Sending {} bytes of backlog starting from offset {requested_offset}.",
                bytes.len()
            );
        }
        None => {
            node.stats.sync_full += 1;
            // Redis counts a refused continuation (not a first "?" sync) as a partial error.
            if !legacy && id != "?" {
                node.stats.sync_partial_err += 1;
            }
            tracing::info!("Replica {name} asks for synchronization");
            // The snapshot is written by a child; `+FULLRESYNC` goes out when it starts.
            info.state = ReplicaState::WaitBgsaveStart { since_ms: node.now_ms };
            info.legacy = legacy;
        }
    }
    ctx.client.is_replica = true;
    node.repl.replicas.retain(|r| r.client_id != info.client_id);
    node.repl.replicas.push(info);
    if let Some(c) = node.clients.map.get_mut(&ctx.client.id) {
        c.flags = "S".into();
    }
    node.start_full_sync_if_due();
    Ok(())
}

fn psync(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    // `PSYNC <replid> <offset> FAILOVER`: our master hands over to us (its FAILOVER command).
    if argv.len() > 3 && is(argv[3], "failover") {
        tracing::warn!("Failover request received for replid {}.", String::from_utf8_lossy(argv[1]));
        if ctx.node.repl.master.is_none() {
            return Err(CmdError::new("ERR PSYNC FAILOVER can't be sent to a master."));
        }
        if argv[1] != ctx.node.repl.replid.as_bytes() {
            return Err(CmdError::new("ERR PSYNC FAILOVER replid must match my replid."));
        }
        ctx.node.set_master(None);
        tracing::info!("MASTER MODE enabled (failover request from 'addr={}')", ctx.client.addr);
    }
    if ctx.node.repl.failover.is_some() {
        return Err(CmdError::new("NOMASTERLINK Can't SYNC while failing over"));
    }
    let off = parse_i64(argv[2]).inspect_err(|_| {
        tracing::warn!("Replica {} asks for synchronization but with a wrong offset", ctx.client.addr);
    })?;
    attach_replica(ctx, argv[1], off, false)
}

/// FAILOVER [TO host port [FORCE]] [ABORT] [TIMEOUT ms]: hands this master's
/// role to a replica without losing a write (Redis's failoverCommand). Writes
/// pause until the replica has acknowledged the whole stream; then this node
/// follows it and its PSYNC FAILOVER makes the replica the master.
fn failover(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    if ctx.node.cluster.is_some() {
        return Err(CmdError::new("ERR FAILOVER not allowed in cluster mode. Use CLUSTER FAILOVER command instead."));
    }
    if argv.len() == 2 && is(argv[1], "abort") {
        if ctx.node.repl.failover.is_none() {
            return Err(CmdError::new("ERR No failover in progress."));
        }
        ctx.node.abort_failover("Failover manually aborted");
        ctx.reply().ok();
        return Ok(());
    }
    let (mut timeout, mut force, mut target) = (0i64, false, None);
    let mut j = 1;
    while j < argv.len() {
        if is(argv[j], "timeout") && j + 1 < argv.len() && timeout == 0 {
            timeout = parse_i64(argv[j + 1])?;
            if timeout <= 0 {
                return Err(CmdError::new("ERR FAILOVER timeout must be greater than 0"));
            }
            j += 2;
        } else if is(argv[j], "to") && j + 2 < argv.len() && target.is_none() {
            let port = parse_i64(argv[j + 2])?;
            target = Some((String::from_utf8_lossy(argv[j + 1]).into_owned(), port));
            j += 3;
        } else if is(argv[j], "force") && !force {
            force = true;
            j += 1;
        } else {
            return Err(CmdError::syntax());
        }
    }
    let node = &mut *ctx.node;
    if node.repl.failover.is_some() {
        return Err(CmdError::new("ERR FAILOVER already in progress."));
    }
    if node.repl.master.is_some() {
        return Err(CmdError::new("ERR FAILOVER is not valid when server is a replica."));
    }
    if node.repl.replicas.is_empty() {
        return Err(CmdError::new("ERR FAILOVER requires connected replicas."));
    }
    if force && (timeout == 0 || target.is_none()) {
        return Err(CmdError::new("ERR FAILOVER with force option requires both a timeout and target HOST and IP."));
    }
    let target = match target {
        Some((host, port)) => {
            let port = u16::try_from(port).ok().filter(|p| node.find_replica(&host, *p).is_some());
            let Some(port) = port else { return Err(CmdError::new("ERR FAILOVER target HOST and PORT is not a replica.")) };
            Some((host, port))
        }
        None => None,
    };
    let end_ms = if timeout > 0 { node.now_ms.saturating_add(timeout as u64) } else { 0 };
    node.start_failover(crate::replication::Failover { in_progress: false, target, end_ms, force });
    ctx.reply().ok();
    Ok(())
}

/// The pre-PSYNC form: the payload comes with no `+FULLRESYNC` line, as Redis sends it.
fn sync(ctx: &mut Ctx<'_>, _argv: &[&[u8]]) -> CmdResult {
    attach_replica(ctx, b"?", -1, true)
}

fn role(ctx: &mut Ctx<'_>, _argv: &[&[u8]]) -> CmdResult {
    let node = &*ctx.node;
    let r = &mut ctx.client.reply;
    match &node.repl.master {
        Some((host, port)) => {
            r.array(5);
            r.bulk(b"slave");
            r.bulk(host.as_bytes());
            r.int(*port as i64);
            r.bulk(if node.repl.link_up {
                b"connected" as &[u8]
            } else if node.repl.sync_in_progress {
                b"sync"
            } else if node.repl.handshake {
                b"handshake"
            } else {
                b"connect"
            });
            r.int(node.repl.offset as i64);
        }
        None => {
            r.array(3);
            r.bulk(b"master");
            r.int(node.repl.offset as i64);
            r.array(node.repl.replicas.len());
            for rep in &node.repl.replicas {
                r.array(3);
                r.bulk(rep.ip.as_bytes());
                r.bulk(rep.listening_port.to_string().as_bytes());
                r.bulk(rep.ack_offset.to_string().as_bytes());
            }
        }
    }
    Ok(())
}

fn wait(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    if ctx.node.is_replica() {
        return Err(CmdError::new("ERR WAIT cannot be used with replica instances. Please also note that since Redis 4.0 if a replica is configured to be writable (which is not the default) writes to replicas are just local and are not propagated."));
    }
    let wanted = parse_i64(argv[1])?;
    let timeout = parse_i64(argv[2]).map_err(|_| CmdError::new("ERR timeout is not an integer or out of range"))?;
    if timeout < 0 {
        return Err(CmdError::new("ERR timeout is negative"));
    }
    let target = ctx.client.last_write_offset;
    let n = ctx.node.repl.acked(target);
    if n as i64 >= wanted || ctx.client.block_timed_out || ctx.client.in_exec || target == 0 {
        ctx.reply().int(n as i64);
        return Ok(());
    }
    // Ask replicas to acknowledge now instead of at their next periodic ack.
    let mut getack = Vec::new();
    crate::resp::encode_command(&mut getack, &[b"REPLCONF".to_vec(), b"GETACK".to_vec(), b"*".to_vec()]);
    ctx.node.repl.append_stream(&getack);
    ctx.node.flush_to_replicas();
    let deadline = if timeout == 0 { 0 } else { ctx.node.now_ms + timeout as u64 };
    ctx.client.block = Some(BlockRequest { keys: Vec::new(), deadline_ms: deadline, rerun_on_timeout: true, rerun_argv: None });
    let id = ctx.client.id;
    ctx.node.repl.waiters.push(id);
    Ok(())
}
