//! Connection commands: PING, ECHO, QUIT, HELLO, SELECT, AUTH, CLIENT, RESET.

use super::args::{is, parse_i64};
use super::flags::*;
use super::{CmdError, CmdResult, CommandSpec, Ctx};
use crate::client::Push;

pub const COMMANDS: &[CommandSpec] = &[
    // Not LOADING: Redis answers PING with LOADING while the dataset loads.
    CommandSpec::new("ping", -1, FAST, (0, 0, 0), ping).acl(&["@connection"]),
    CommandSpec::new("echo", 2, FAST, (0, 0, 0), echo).acl(&["@connection"]),
    CommandSpec::new("quit", -1, FAST | NO_AUTH | STALE | LOADING, (0, 0, 0), quit).acl(&["@connection"]),
    CommandSpec::new("hello", -1, FAST | NO_AUTH | STALE | LOADING, (0, 0, 0), hello).acl(&["@connection"]),
    CommandSpec::new("select", 2, FAST | LOADING | STALE, (0, 0, 0), select).acl(&["@connection"]),
    CommandSpec::new("auth", -2, FAST | NO_AUTH | STALE | LOADING, (0, 0, 0), auth).acl(&["@connection"]),
    CommandSpec::container("client", -2, super::no_subcommand, CLIENT),
    CommandSpec::new("reset", 1, FAST | NO_AUTH | STALE | LOADING, (0, 0, 0), reset).acl(&["@connection"]),
];

fn ping(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    if argv.len() > 2 {
        return Err(CmdError::arity("ping"));
    }
    if ctx.client.subscriptions > 0 && !ctx.client.reply.resp3 {
        let r = ctx.reply();
        r.array(2);
        r.bulk(b"pong");
        r.bulk(argv.get(1).copied().unwrap_or(b""));
        return Ok(());
    }
    match argv.get(1) {
        Some(m) => ctx.reply().bulk(m),
        None => ctx.reply().simple("PONG"),
    }
    Ok(())
}

fn echo(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    ctx.reply().bulk(argv[1]);
    Ok(())
}

fn quit(ctx: &mut Ctx<'_>, _argv: &[&[u8]]) -> CmdResult {
    ctx.reply().ok();
    ctx.client.close_after_reply = true;
    Ok(())
}

/// AUTH and HELLO AUTH: the user must exist, be on, and know one of its
/// passwords (any, with nopass). `AUTH <password>` is the default user's.
fn check_password(ctx: &mut Ctx<'_>, user: Option<&[u8]>, pass: &[u8], typed: &[u8]) -> CmdResult {
    let name = user.map_or_else(|| "default".to_string(), |u| String::from_utf8_lossy(u).into_owned());
    if user.is_none() && ctx.node.acl.user("default").is_some_and(|u| u.nopass) {
        return Err(CmdError::new(
            "ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?",
        ));
    }
    if !ctx.node.acl.authenticate(&name, pass) {
        let object = String::from_utf8_lossy(typed).into_owned();
        crate::cmd::acl::log_denial(ctx.node, ctx.client.id, &name, "auth", "toplevel", object);
        return Err(CmdError::new("WRONGPASS invalid username-password pair or user is disabled."));
    }
    ctx.client.authenticated = true;
    ctx.client.acl_unrestricted = 0;
    let id = ctx.client.id;
    if let Some(info) = ctx.node.clients.map.get_mut(&id) {
        info.user = name.clone();
    }
    ctx.client.user = name;
    Ok(())
}

fn auth(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    match argv.len() {
        2 => check_password(ctx, None, argv[1], argv[0])?,
        3 => check_password(ctx, Some(argv[1]), argv[2], argv[0])?,
        _ => return Err(CmdError::syntax()),
    }
    ctx.reply().ok();
    Ok(())
}

fn hello(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let mut proto = if ctx.client.reply.resp3 { 3 } else { 2 };
    let mut i = 1;
    if let Some(v) = argv.get(1) {
        let n = parse_i64(v).map_err(|_| CmdError::new("ERR Protocol version is not an integer or out of range"))?;
        if !(2..=3).contains(&n) {
            return Err(CmdError::new("NOPROTO unsupported protocol version"));
        }
        proto = n;
        i = 2;
    }
    while i < argv.len() {
        if is(argv[i], "auth") && i + 2 < argv.len() {
            check_password(ctx, Some(argv[i + 1]), argv[i + 2], argv[i])?;
            i += 3;
        } else if is(argv[i], "setname") && i + 1 < argv.len() {
            set_name(ctx, argv[i + 1])?;
            i += 2;
        } else {
            return Err(CmdError::new(format!("ERR Syntax error in HELLO option '{}'", String::from_utf8_lossy(argv[i]))));
        }
    }
    if !ctx.client.authenticated {
        return Err(CmdError::new("NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO <proto> AUTH <user> <pass> option can be used to authenticate the client and select the RESP protocol version at the same time"));
    }
    ctx.client.reply.resp3 = proto == 3;
    let id = ctx.client.id;
    if let Some(info) = ctx.node.clients.map.get_mut(&id) {
        info.resp3 = proto == 3;
    }
    let role = if ctx.node.is_read_only_replica() { "replica" } else { "master" };
    let mode = if ctx.node.cluster.is_some() { "cluster" } else { "standalone" };
    let r = ctx.reply();
    r.map(7);
    r.bulk(b"server");
    r.bulk(b"redis");
    r.bulk(b"version");
    r.bulk(crate::REDIS_VERSION.as_bytes());
    r.bulk(b"proto");
    r.int(proto);
    r.bulk(b"id");
    r.int(id as i64);
    r.bulk(b"mode");
    r.bulk(mode.as_bytes());
    r.bulk(b"role");
    r.bulk(role.as_bytes());
    r.bulk(b"modules");
    r.array(0);
    Ok(())
}

fn select(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let n = parse_i64(argv[1]).map_err(|_| CmdError::new("ERR value is not an integer or out of range"))?;
    if ctx.node.cluster.is_some() && n != 0 {
        return Err(CmdError::new("ERR SELECT is not allowed in cluster mode"));
    }
    if n < 0 || n as usize >= ctx.node.keyspace.dbs.len() {
        return Err(CmdError::new("ERR DB index is out of range"));
    }
    ctx.client.db = n as usize;
    ctx.reply().ok();
    Ok(())
}

fn set_name(ctx: &mut Ctx<'_>, name: &[u8]) -> CmdResult {
    if name.iter().any(|&b| !(b'!'..=b'~').contains(&b)) {
        return Err(CmdError::new("ERR Client names cannot contain spaces, newlines or special characters."));
    }
    let v = (!name.is_empty()).then(|| name.to_vec());
    ctx.client.name = v.clone();
    let id = ctx.client.id;
    if let Some(info) = ctx.node.clients.map.get_mut(&id) {
        info.name = v;
    }
    Ok(())
}

/// One CLIENT LIST line, in Redis's field order (the fields tools parse).
/// `me` is the calling client and the query-buffer bytes of its command.
pub(crate) fn client_line(node: &crate::node::Node, id: u64, me: (u64, usize)) -> Option<String> {
    let c = node.clients.map.get(&id)?;
    let m = &c.mem;
    let qbuf = if id == me.0 { me.1 } else { m.qbuf.get() };
    let qbuf_free = m.qbuf_cap.get().saturating_sub(m.qbuf.get().max(qbuf));
    let omem = c.out_pending.get() + m.unsent.get();
    let now = node.now_ms;
    // `b` marks a client waiting in a blocking command, as in Redis.
    let flags = match (node.is_blocked(id), c.flags.as_str()) {
        (true, "N") => "b".to_string(),
        (true, f) => format!("{f}b"),
        (false, f) => f.to_string(),
    };
    Some(format!(
        "id={id} addr={} laddr={} fd=8 name={} age={} idle={} flags={} db={} sub={} psub={} ssub={} multi=-1 qbuf={qbuf} qbuf-free={qbuf_free} argv-mem=0 multi-mem={} rbs={} rbp=0 obl=0 oll=0 omem={omem} tot-mem={} events=r cmd={} user={} redir=-1 resp={}",
        c.addr,
        c.laddr,
        c.name.as_ref().map(|n| String::from_utf8_lossy(n).into_owned()).unwrap_or_default(),
        now.saturating_sub(c.created_ms) / 1000,
        now.saturating_sub(c.last_interaction_ms) / 1000,
        flags,
        c.db,
        c.sub_count,
        c.psub_count,
        c.ssub_count,
        m.multi.get(),
        m.rbs.get(),
        m.total(c.out_pending.get()),
        c.last_cmd.get(),
        c.user,
        if c.resp3 { 3 } else { 2 }
    ))
}

/// CLIENT's subcommands.
const CLIENT: &[CommandSpec] = &[
    CommandSpec::new("client|id", 2, NOSCRIPT | LOADING | STALE, (0, 0, 0), client_id).acl(&["@connection"]),
    CommandSpec::new("client|setname", 3, NOSCRIPT | LOADING | STALE, (0, 0, 0), client_setname).acl(&["@connection"]),
    CommandSpec::new("client|getname", 2, NOSCRIPT | LOADING | STALE, (0, 0, 0), client_getname).acl(&["@connection"]),
    CommandSpec::new("client|list", -2, ADMIN | NOSCRIPT | LOADING | STALE, (0, 0, 0), client_list).acl(&["@connection"]),
    CommandSpec::new("client|info", 2, NOSCRIPT | LOADING | STALE, (0, 0, 0), client_info).acl(&["@connection"]),
    CommandSpec::new("client|kill", -3, ADMIN | NOSCRIPT | LOADING | STALE, (0, 0, 0), client_kill).acl(&["@connection"]),
    CommandSpec::new("client|unblock", -3, ADMIN | NOSCRIPT | LOADING | STALE, (0, 0, 0), client_unblock).acl(&["@connection"]),
    CommandSpec::new("client|pause", -3, ADMIN | NOSCRIPT | LOADING | STALE, (0, 0, 0), client_pause).acl(&["@connection"]),
    CommandSpec::new("client|unpause", 2, ADMIN | NOSCRIPT | LOADING | STALE, (0, 0, 0), client_unpause).acl(&["@connection"]),
    CommandSpec::new("client|reply", 3, NOSCRIPT | LOADING | STALE, (0, 0, 0), client_reply).acl(&["@connection"]),
    CommandSpec::new("client|tracking", -3, NOSCRIPT | LOADING | STALE, (0, 0, 0), client_tracking).acl(&["@connection"]),
    CommandSpec::new("client|caching", 3, NOSCRIPT | LOADING | STALE, (0, 0, 0), client_caching).acl(&["@connection"]),
    CommandSpec::new("client|getredir", 2, NOSCRIPT | LOADING | STALE, (0, 0, 0), client_getredir).acl(&["@connection"]),
    CommandSpec::new("client|trackinginfo", 2, NOSCRIPT | LOADING | STALE, (0, 0, 0), client_trackinginfo).acl(&["@connection"]),
    CommandSpec::new("client|no-evict", 3, ADMIN | NOSCRIPT | LOADING | STALE, (0, 0, 0), client_no_evict).acl(&["@connection"]),
    // Redis 7.2's; clients such as redis-py 5 send it on connect.
    CommandSpec::new("client|setinfo", 4, NOSCRIPT | LOADING | STALE, (0, 0, 0), client_setinfo).acl(&["@connection"]),
    CommandSpec::new("client|help", 2, LOADING | STALE, (0, 0, 0), client_help).acl(&["@connection"]),
];

fn client_id(ctx: &mut Ctx<'_>, _argv: &[&[u8]]) -> CmdResult {
    let id = ctx.client.id as i64;
    ctx.reply().int(id);
    Ok(())
}

fn client_setname(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    set_name(ctx, argv[2])?;
    ctx.reply().ok();
    Ok(())
}

fn client_getname(ctx: &mut Ctx<'_>, _argv: &[&[u8]]) -> CmdResult {
    match ctx.client.name.clone() {
        Some(n) => ctx.reply().bulk(&n),
        None => ctx.reply().null(),
    }
    Ok(())
}

fn client_list(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let mut all: Vec<u64> = ctx.node.clients.map.keys().copied().collect();
    all.sort_unstable();
    let ids: Vec<u64> = if argv.len() == 4 && is(argv[2], "type") {
        let t = String::from_utf8_lossy(argv[3]).to_ascii_lowercase();
        let t = if t == "replica" { "slave".to_string() } else { t };
        if !["normal", "slave", "master", "pubsub"].contains(&t.as_str()) {
            return Err(CmdError::new(format!("ERR Unknown client type '{}'", String::from_utf8_lossy(argv[3]))));
        }
        all.into_iter().filter(|id| ctx.node.clients.map.get(id).is_some_and(|c| client_type(c) == t)).collect()
    } else if argv.len() > 3 && is(argv[2], "id") {
        let mut ids = Vec::new();
        for a in &argv[3..] {
            ids.push(parse_i64(a).map_err(|_| CmdError::new("ERR Invalid client ID"))? as u64);
        }
        ids
    } else if argv.len() != 2 {
        return Err(CmdError::syntax());
    } else {
        all
    };
    reply_client_lines(ctx, ids);
    Ok(())
}

fn client_info(ctx: &mut Ctx<'_>, _argv: &[&[u8]]) -> CmdResult {
    let id = ctx.client.id;
    reply_client_lines(ctx, vec![id]);
    Ok(())
}

fn reply_client_lines(ctx: &mut Ctx<'_>, ids: Vec<u64>) {
    let mut out = String::new();
    for id in ids {
        if let Some(l) = client_line(ctx.node, id, (ctx.client.id, ctx.client.qbuf_now)) {
            out.push_str(&l);
            out.push('\n');
        }
    }
    ctx.reply().verbatim(&out);
}

/// CLIENT UNBLOCK id [TIMEOUT|ERROR]: ends a blocking command of another
/// client as if it timed out, or with an UNBLOCKED error; 1 if it was blocked.
fn client_unblock(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let id = parse_i64(argv[2])?;
    let error = match argv.get(3) {
        None => None,
        Some(a) if is(a, "timeout") && argv.len() == 4 => None,
        Some(a) if is(a, "error") && argv.len() == 4 => Some("UNBLOCKED client unblocked via CLIENT UNBLOCK"),
        Some(_) => return Err(CmdError::new("ERR CLIENT UNBLOCK reason should be TIMEOUT or ERROR")),
    };
    // A SHUTDOWN waiting for replicas is not a blocking command a client can end.
    let target = u64::try_from(id).ok().filter(|t| ctx.node.is_blocked(*t) && !ctx.node.blocked_in_shutdown(*t));
    let done = target.is_some_and(|t| ctx.node.push_to(t, Push::Unblock { error }));
    ctx.reply().int(i64::from(done));
    Ok(())
}

/// CLIENT PAUSE timeout [WRITE|ALL]: holds clients' commands (all, or those
/// that may write) for `timeout` ms or until CLIENT UNPAUSE.
fn client_pause(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    if argv.len() > 4 {
        return Err(CmdError::sub_syntax(argv));
    }
    let all = match argv.get(3) {
        None => true,
        Some(m) if is(m, "write") => false,
        Some(m) if is(m, "all") => true,
        Some(_) => return Err(CmdError::new("ERR CLIENT PAUSE mode must be WRITE or ALL")),
    };
    let ms = crate::util::num::strict_i64(argv[2]).ok_or_else(|| CmdError::new("ERR timeout is not an integer or out of range"))?;
    if ms < 0 {
        return Err(CmdError::new("ERR timeout is negative"));
    }
    let until = if ms > 0 { ctx.now().saturating_add(ms as u64) } else { 0 };
    ctx.node.pause_clients(until, all);
    ctx.reply().ok();
    Ok(())
}

fn client_unpause(ctx: &mut Ctx<'_>, _argv: &[&[u8]]) -> CmdResult {
    ctx.node.unpause_clients();
    ctx.reply().ok();
    Ok(())
}

/// CLIENT REPLY ON|OFF|SKIP: OFF and SKIP are not answered themselves;
/// the dispatcher drops the replies they silence (pub/sub pushes still flow).
fn client_reply(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    if is(argv[2], "on") {
        ctx.client.reply_off = false;
        ctx.client.reply_skip_now = false;
        ctx.reply().ok();
    } else if is(argv[2], "off") {
        ctx.client.reply_off = true;
    } else if is(argv[2], "skip") {
        if !ctx.client.reply_off {
            ctx.client.reply_skip_next = true;
        }
    } else {
        return Err(CmdError::syntax());
    }
    Ok(())
}

/// CLIENT TRACKING ON|OFF [REDIRECT id] [PREFIX p ...] [BCAST] [OPTIN] [OPTOUT] [NOLOOP]
fn client_tracking(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let mut t = crate::node::tracking::ClientTracking::default();
    let mut prefixes: Vec<crate::keyspace::Key> = Vec::new();
    let mut j = 3;
    while j < argv.len() {
        let more = j + 1 < argv.len();
        let o = argv[j];
        if is(o, "redirect") && more {
            j += 1;
            if t.redirect != 0 {
                return Err(CmdError::new("ERR A client can only redirect to a single other client"));
            }
            let id = parse_i64(argv[j])?;
            if !ctx.node.clients.map.contains_key(&(id as u64)) {
                return Err(CmdError::new("ERR The client ID you want redirect to does not exist"));
            }
            t.redirect = id as u64;
        } else if is(o, "bcast") {
            t.bcast = true;
        } else if is(o, "optin") {
            t.optin = true;
        } else if is(o, "optout") {
            t.optout = true;
        } else if is(o, "noloop") {
            t.noloop = true;
        } else if is(o, "prefix") && more {
            j += 1;
            prefixes.push(argv[j].into());
        } else {
            return Err(CmdError::syntax());
        }
        j += 1;
    }
    let id = ctx.client.id;
    if is(argv[2], "on") {
        if !t.bcast && !prefixes.is_empty() {
            return Err(CmdError::new("ERR PREFIX option requires BCAST mode to be enabled"));
        }
        let current = ctx.node.tracking.clients.get(&id).cloned();
        if current.as_ref().is_some_and(|c| c.bcast != t.bcast) {
            return Err(CmdError::new("ERR You can't switch BCAST mode on/off before disabling tracking for this client, and then re-enabling it with a different mode."));
        }
        if t.bcast && (t.optin || t.optout) {
            return Err(CmdError::new("ERR OPTIN and OPTOUT are not compatible with BCAST"));
        }
        if t.optin && t.optout {
            return Err(CmdError::new("ERR You can't specify both OPTIN mode and OPTOUT mode"));
        }
        if current.as_ref().is_some_and(|c| (t.optin && c.optout) || (t.optout && c.optin)) {
            return Err(CmdError::new("ERR You can't switch OPTIN/OPTOUT mode before disabling tracking for this client, and then re-enabling it with a different mode."));
        }
        if t.bcast {
            let existing: Vec<crate::keyspace::Key> = current.map(|c| c.prefixes.into_iter().collect()).unwrap_or_default();
            let overlap = |a: &[u8], b: &[u8]| a.starts_with(b) || b.starts_with(a);
            for (i, p) in prefixes.iter().enumerate() {
                if let Some(e) = existing.iter().find(|e| overlap(e, p)) {
                    return Err(CmdError::new(format!(
                        "ERR Prefix '{}' overlaps with an existing prefix '{}'. Prefixes for a single client must not overlap.",
                        String::from_utf8_lossy(p),
                        String::from_utf8_lossy(e)
                    )));
                }
                if let Some(q) = prefixes[i + 1..].iter().find(|q| overlap(p, q)) {
                    return Err(CmdError::new(format!(
                        "ERR Prefix '{}' overlaps with another provided prefix '{}'. Prefixes for a single client must not overlap.",
                        String::from_utf8_lossy(p),
                        String::from_utf8_lossy(q)
                    )));
                }
            }
            // Prefixes add up while BCAST stays on, as in Redis.
            prefixes.extend(existing);
        }
        ctx.node.tracking_enable(id, t, prefixes);
    } else if is(argv[2], "off") {
        ctx.node.tracking_disable(id);
    } else {
        return Err(CmdError::syntax());
    }
    ctx.reply().ok();
    Ok(())
}

/// CLIENT CACHING YES|NO: whether the next command's reads are tracked (OPTIN/OPTOUT).
fn client_caching(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let id = ctx.client.id;
    let Some(t) = ctx.node.tracking.clients.get_mut(&id) else {
        return Err(CmdError::new(
            "ERR CLIENT CACHING can be called only when the client is in tracking mode with OPTIN or OPTOUT mode enabled",
        ));
    };
    if is(argv[2], "yes") {
        if !t.optin {
            return Err(CmdError::new("ERR CLIENT CACHING YES is only valid when tracking is enabled in OPTIN mode."));
        }
    } else if is(argv[2], "no") {
        if !t.optout {
            return Err(CmdError::new("ERR CLIENT CACHING NO is only valid when tracking is enabled in OPTOUT mode."));
        }
    } else {
        return Err(CmdError::syntax());
    }
    t.caching = true;
    ctx.reply().ok();
    Ok(())
}

/// CLIENT GETREDIR: where invalidations go (0: this client, -1: not tracking).
fn client_getredir(ctx: &mut Ctx<'_>, _argv: &[&[u8]]) -> CmdResult {
    let id = ctx.client.id;
    let r = ctx.node.tracking.clients.get(&id).map_or(-1, |t| t.redirect as i64);
    ctx.reply().int(r);
    Ok(())
}

/// CLIENT TRACKINGINFO: flags, redirect and BCAST prefixes.
fn client_trackinginfo(ctx: &mut Ctx<'_>, _argv: &[&[u8]]) -> CmdResult {
    let id = ctx.client.id;
    let t = ctx.node.tracking.clients.get(&id).cloned();
    let mut flags: Vec<&str> = vec![if t.is_some() { "on" } else { "off" }];
    if let Some(t) = &t {
        // In Redis's order.
        let set = [
            (t.bcast, "bcast"),
            (t.optin, "optin"),
            (t.optin && t.caching, "caching-yes"),
            (t.optout, "optout"),
            (t.optout && t.caching, "caching-no"),
            (t.noloop, "noloop"),
            (t.broken_redirect, "broken_redirect"),
        ];
        flags.extend(set.iter().filter(|(on, _)| *on).map(|(_, name)| *name));
    }
    let r = ctx.reply();
    r.map(3);
    r.bulk(b"flags");
    r.set(flags.len());
    for f in flags {
        r.bulk(f.as_bytes());
    }
    r.bulk(b"redirect");
    r.int(t.as_ref().map_or(-1, |t| t.redirect as i64));
    r.bulk(b"prefixes");
    let prefixes: Vec<crate::keyspace::Key> = t.map(|t| t.prefixes.into_iter().collect()).unwrap_or_default();
    r.array(prefixes.len());
    for p in prefixes {
        r.bulk(&p);
    }
    Ok(())
}

fn client_no_evict(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let on = if is(argv[2], "on") {
        true
    } else if is(argv[2], "off") {
        false
    } else {
        return Err(CmdError::syntax());
    };
    let id = ctx.client.id;
    if let Some(c) = ctx.node.clients.map.get_mut(&id) {
        c.no_evict = on;
    }
    if !on {
        // Turning protection off lets eviction take this client at once if it is over.
        ctx.node.evict_clients_if_needed();
    }
    ctx.reply().ok();
    Ok(())
}

fn client_setinfo(ctx: &mut Ctx<'_>, _argv: &[&[u8]]) -> CmdResult {
    ctx.reply().ok();
    Ok(())
}

fn client_help(ctx: &mut Ctx<'_>, _argv: &[&[u8]]) -> CmdResult {
    super::reply_help(
        ctx,
        &[
            "CLIENT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
            "ID",
            "GETNAME",
            "SETNAME <name>",
            "LIST [ID <id> [<id> ...]]",
            "INFO",
            "KILL <ip:port> | <option> <value> [...]",
            "NO-EVICT (ON|OFF)",
            "HELP",
        ],
    );
    Ok(())
}

fn client_kill(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let me = ctx.client.id;
    if argv.len() == 3 {
        // Old form: CLIENT KILL addr:port
        let addr = String::from_utf8_lossy(argv[2]).into_owned();
        let target = ctx.node.clients.map.iter().find(|(_, c)| c.addr == addr).map(|(id, _)| *id);
        let Some(id) = target else {
            return Err(CmdError::new("ERR No such client"));
        };
        kill_client(ctx, id);
        ctx.reply().ok();
        return Ok(());
    }
    let mut filters: Vec<(String, String)> = Vec::new();
    let mut skipme = true;
    for pair in argv[2..].chunks(2) {
        let [k, v] = pair else { return Err(CmdError::syntax()) };
        let k = String::from_utf8_lossy(k).to_ascii_lowercase();
        let v = String::from_utf8_lossy(v).into_owned();
        match k.as_str() {
            "id" => {
                if v.parse::<i64>().ok().is_none_or(|n| n <= 0) {
                    return Err(CmdError::new("ERR client-id should be greater than 0"));
                }
                filters.push((k, v));
            }
            "type" => {
                if !["normal", "slave", "replica", "master", "pubsub"].iter().any(|t| v.eq_ignore_ascii_case(t)) {
                    return Err(CmdError::new(format!("ERR Unknown client type '{v}'")));
                }
                filters.push((k, v));
            }
            "user" => {
                if ctx.node.acl.user(&v).is_none() {
                    return Err(CmdError::new(format!("ERR No such user '{v}'")));
                }
                filters.push((k, v));
            }
            "addr" | "laddr" => filters.push((k, v)),
            "skipme" if v.eq_ignore_ascii_case("yes") => skipme = true,
            "skipme" if v.eq_ignore_ascii_case("no") => skipme = false,
            _ => return Err(CmdError::syntax()),
        }
    }
    let targets: Vec<u64> = ctx
        .node
        .clients
        .map
        .iter()
        .filter(|(id, c)| {
            (!skipme || **id != me)
                && filters.iter().all(|(k, v)| match k.as_str() {
                    "id" => v.parse::<u64>().ok() == Some(**id),
                    "addr" => &c.addr == v,
                    "laddr" => &c.laddr == v,
                    "type" => client_type(c).eq_ignore_ascii_case(v) || (v.eq_ignore_ascii_case("replica") && client_type(c) == "slave"),
                    "user" => &c.user == v,
                    _ => false,
                })
        })
        .map(|(id, _)| *id)
        .collect();
    for id in &targets {
        kill_client(ctx, *id);
    }
    ctx.reply().int(targets.len() as i64);
    Ok(())
}

/// The class CLIENT KILL TYPE and CLIENT LIST TYPE match on (getClientType).
fn client_type(c: &crate::client::ClientInfo) -> &'static str {
    if c.flags.contains('S') {
        "slave"
    } else if c.flags.contains('M') {
        "master"
    } else if c.sub_count + c.psub_count + c.ssub_count > 0 {
        "pubsub"
    } else {
        "normal"
    }
}

fn kill_client(ctx: &mut Ctx<'_>, id: u64) {
    if id == ctx.client.id {
        ctx.client.close_after_reply = true;
    } else {
        ctx.node.push_to(id, Push::Kill);
        // A killed replica is gone at once for replication (INFO, WAIT), as
        // in Redis, though its connection closes a moment later.
        ctx.node.repl.replicas.retain(|r| r.client_id != id);
    }
}

fn reset(ctx: &mut Ctx<'_>, _argv: &[&[u8]]) -> CmdResult {
    crate::cmd::transactions::unwatch_all(ctx.node, ctx.client);
    ctx.client.multi = None;
    ctx.client.multi_error = false;
    crate::cmd::pubsub::unsubscribe_all(ctx.node, ctx.client.id);
    ctx.client.subscriptions = 0;
    ctx.client.db = 0;
    ctx.client.reply.resp3 = false;
    ctx.client.asking = false;
    ctx.client.readonly = false;
    ctx.client.name = None;
    // Back to the default user, authenticated only if it needs no password.
    ctx.client.authenticated = ctx.node.acl.default_needs_no_auth();
    ctx.client.user = "default".into();
    ctx.client.acl_unrestricted = 0;
    let id = ctx.client.id;
    ctx.node.clients.monitors.retain(|&m| m != id);
    if let Some(c) = ctx.node.clients.map.get_mut(&id) {
        c.user = "default".into();
        c.resp3 = false;
        c.name = None;
        c.sub_count = 0;
        c.psub_count = 0;
        c.ssub_count = 0;
    }
    ctx.reply().simple("RESET");
    Ok(())
}
