//! Generic keyspace commands: existence, expiry, renaming, iteration.

use super::args::{is, parse_i64};
use super::flags::*;
use super::{CmdError, CmdResult, CommandSpec, Ctx};
use crate::glob::glob_match;
use crate::keyspace::lru;
use crate::persistence::ChildKind;
use crate::util::events::GENERIC;

pub const COMMANDS: &[CommandSpec] = &[
    CommandSpec::new("del", -2, WRITE, (1, -1, 1), del).acl(&["@keyspace"]),
    CommandSpec::new("unlink", -2, WRITE | FAST, (1, -1, 1), unlink).acl(&["@keyspace"]),
    CommandSpec::new("exists", -2, READONLY | FAST, (1, -1, 1), exists).acl(&["@keyspace"]),
    CommandSpec::new("type", 2, READONLY | FAST, (1, 1, 1), type_cmd).acl(&["@keyspace"]),
    CommandSpec::new("keys", 2, READONLY, (0, 0, 0), keys).acl(&["@dangerous", "@keyspace"]),
    CommandSpec::new("scan", -2, READONLY, (0, 0, 0), scan).acl(&["@keyspace"]),
    CommandSpec::new("randomkey", 1, READONLY, (0, 0, 0), randomkey).acl(&["@keyspace"]),
    CommandSpec::new("rename", 3, WRITE, (1, 2, 1), rename).acl(&["@keyspace"]),
    CommandSpec::new("renamenx", 3, WRITE | FAST, (1, 2, 1), renamenx).acl(&["@keyspace"]),
    CommandSpec::new("expire", -3, WRITE | FAST, (1, 1, 1), expire).acl(&["@keyspace"]),
    CommandSpec::new("pexpire", -3, WRITE | FAST, (1, 1, 1), pexpire).acl(&["@keyspace"]),
    CommandSpec::new("expireat", -3, WRITE | FAST, (1, 1, 1), expireat).acl(&["@keyspace"]),
    CommandSpec::new("pexpireat", -3, WRITE | FAST, (1, 1, 1), pexpireat).acl(&["@keyspace"]),
    CommandSpec::new("ttl", 2, READONLY | FAST, (1, 1, 1), ttl).acl(&["@keyspace"]),
    CommandSpec::new("pttl", 2, READONLY | FAST, (1, 1, 1), pttl).acl(&["@keyspace"]),
    CommandSpec::new("expiretime", 2, READONLY | FAST, (1, 1, 1), expiretime).acl(&["@keyspace"]),
    CommandSpec::new("pexpiretime", 2, READONLY | FAST, (1, 1, 1), pexpiretime).acl(&["@keyspace"]),
    CommandSpec::new("persist", 2, WRITE | FAST, (1, 1, 1), persist).acl(&["@keyspace"]),
    CommandSpec::new("touch", -2, READONLY | FAST, (1, -1, 1), exists_touch).acl(&["@keyspace"]),
    CommandSpec::new("copy", -3, WRITE | DENYOOM, (1, 2, 1), copy).acl(&["@keyspace"]),
    CommandSpec::new("move", 3, WRITE | FAST, (1, 1, 1), move_cmd).acl(&["@keyspace"]),
    CommandSpec::container("object", -2, super::no_subcommand, OBJECT),
    CommandSpec::new("dbsize", 1, READONLY | FAST, (0, 0, 0), dbsize).acl(&["@keyspace"]),
    CommandSpec::new("flushdb", -1, WRITE, (0, 0, 0), flushdb).acl(&["@dangerous", "@keyspace"]),
    CommandSpec::new("flushall", -1, WRITE, (0, 0, 0), flushall).acl(&["@dangerous", "@keyspace"]),
    CommandSpec::new("swapdb", 3, WRITE | FAST, (0, 0, 0), swapdb).acl(&["@dangerous", "@keyspace"]),
];

fn del(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let lazy = ctx.node.config.get("lazyfree-lazy-user-del") == Some("yes");
    delete_keys(ctx, argv, lazy)
}

/// UNLINK: DEL that frees big values off the request path.
fn unlink(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    delete_keys(ctx, argv, true)
}

fn delete_keys(ctx: &mut Ctx<'_>, argv: &[&[u8]], lazy: bool) -> CmdResult {
    let now = ctx.now();
    let mut n = 0;
    for k in &argv[1..] {
        if let Some(e) = ctx.db().remove(k, now) {
            if lazy && e.value.free_effort() > crate::keyspace::lazyfree::THRESHOLD {
                ctx.node.keyspace.lazyfree.free(Box::new(e), 1);
            }
            n += 1;
            ctx.notify(GENERIC, "del", k);
        }
    }
    ctx.dirty(n);
    ctx.reply().int(n as i64);
    Ok(())
}

/// EXISTS does not count as an access (LOOKUP_NOTOUCH), TOUCH does.
fn exists(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let now = ctx.now();
    let n = argv[1..].iter().filter(|k| ctx.db().get_untouched(k, now).is_some()).count();
    ctx.reply().int(n as i64);
    Ok(())
}

fn exists_touch(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let now = ctx.now();
    let n = argv[1..].iter().filter(|k| ctx.db().contains(k, now)).count();
    ctx.reply().int(n as i64);
    Ok(())
}

fn type_cmd(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let now = ctx.now();
    let t = ctx.db().get_untouched(argv[1], now).map_or("none", |e| e.value.type_name());
    ctx.reply().simple(t);
    Ok(())
}

fn keys(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let now = ctx.now();
    let pattern = argv[1];
    let all = pattern == b"*";
    let i = ctx.client.db;
    let found: Vec<Vec<u8>> = ctx.node.keyspace.dbs[i]
        .iter()
        .filter(|(k, e)| (e.expire_at == 0 || e.expire_at > now) && (all || glob_match(pattern, k, false)))
        .map(|(k, _)| k.to_vec())
        .collect();
    let room = ctx.client.reply_room();
    ctx.reply().array(found.len());
    for k in found {
        if room.is_some_and(|m| ctx.client.reply.buf.len() > m) {
            break;
        }
        ctx.reply().bulk(&k);
    }
    ctx.client.output_over_limit();
    Ok(())
}

/// Parses a SCAN cursor: an unsigned integer, else Redis's error.
pub fn parse_cursor(arg: &[u8]) -> Result<u64, CmdError> {
    std::str::from_utf8(arg).ok().and_then(|s| s.parse::<u64>().ok()).ok_or_else(|| CmdError::new("ERR invalid cursor"))
}

/// MATCH/COUNT/TYPE options shared by the SCAN family.
pub struct ScanOpts<'a> {
    pub pattern: Option<&'a [u8]>,
    pub count: usize,
    pub type_name: Option<String>,
}

pub fn parse_scan_opts<'a>(argv: &[&'a [u8]], from: usize, allow_type: bool) -> Result<ScanOpts<'a>, CmdError> {
    let mut o = ScanOpts { pattern: None, count: 10, type_name: None };
    let mut i = from;
    while i < argv.len() {
        let Some(v) = argv.get(i + 1) else {
            return Err(CmdError::syntax());
        };
        if is(argv[i], "match") {
            o.pattern = Some(v);
        } else if is(argv[i], "count") {
            let c = parse_i64(v)?;
            if c < 1 {
                return Err(CmdError::syntax());
            }
            o.count = c as usize;
        } else if allow_type && is(argv[i], "type") {
            o.type_name = Some(String::from_utf8_lossy(v).to_ascii_lowercase());
        } else {
            return Err(CmdError::syntax());
        }
        i += 2;
    }
    Ok(o)
}

fn scan(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let cursor = parse_cursor(argv[1])?;
    let o = parse_scan_opts(argv, 2, true)?;
    let now = ctx.now();
    let mut found: Vec<Vec<u8>> = Vec::new();
    let mut expired: Vec<Vec<u8>> = Vec::new();
    let i = ctx.client.db;
    let next = ctx.node.keyspace.dbs[i].scan(cursor, o.count, |k, e| {
        if let Some(p) = o.pattern {
            if !glob_match(p, k, false) {
                return;
            }
        }
        if e.expire_at != 0 && e.expire_at <= now {
            expired.push(k.to_vec());
            return;
        }
        if let Some(t) = &o.type_name {
            if e.value.type_name() != t {
                return;
            }
        }
        found.push(k.to_vec());
    });
    // Like Redis, the expired keys SCAN passes are deleted (and the DELs propagated).
    for k in expired {
        ctx.db().get(&k, now);
    }
    let r = ctx.reply();
    r.array(2);
    r.bulk(next.to_string().as_bytes());
    r.array(found.len());
    for k in found {
        r.bulk(&k);
    }
    Ok(())
}

fn randomkey(ctx: &mut Ctx<'_>, _argv: &[&[u8]]) -> CmdResult {
    let now = ctx.now();
    match ctx.db().random_key(now) {
        Some(k) => ctx.reply().bulk(&k),
        None => ctx.reply().null(),
    }
    Ok(())
}

fn rename_common(ctx: &mut Ctx<'_>, argv: &[&[u8]], nx: bool) -> Result<bool, CmdError> {
    let now = ctx.now();
    let (src, dst) = (argv[1], argv[2]);
    if !ctx.db().contains(src, now) {
        return Err(CmdError::no_such_key());
    }
    if src == dst {
        return Ok(!nx);
    }
    if nx && ctx.db().contains(dst, now) {
        return Ok(false);
    }
    let Some(e) = ctx.db().remove(src, now) else {
        return Err(CmdError::no_such_key());
    };
    ctx.db().put_entry(dst, e);
    ctx.dirty(1);
    ctx.notify(GENERIC, "rename_from", src);
    ctx.notify(GENERIC, "rename_to", dst);
    Ok(true)
}

fn rename(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    rename_common(ctx, argv, false)?;
    ctx.reply().ok();
    Ok(())
}

fn renamenx(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let done = rename_common(ctx, argv, true)?;
    ctx.reply().int(done as i64);
    Ok(())
}

/// EXPIRE family: unit in ms, absolute or relative, with NX/XX/GT/LT.
fn expire_generic(ctx: &mut Ctx<'_>, argv: &[&[u8]], unit: i64, absolute: bool, name: &str) -> CmdResult {
    let now = ctx.now();
    let n = parse_i64(argv[2])?;
    let (mut nx, mut xx, mut gt, mut lt) = (false, false, false, false);
    for a in &argv[3..] {
        if is(a, "nx") {
            nx = true;
        } else if is(a, "xx") {
            xx = true;
        } else if is(a, "gt") {
            gt = true;
        } else if is(a, "lt") {
            lt = true;
        } else {
            return Err(CmdError::new(format!("ERR Unsupported option {}", String::from_utf8_lossy(a))));
        }
    }
    if nx && (xx || gt || lt) {
        return Err(CmdError::new("ERR NX and XX, GT or LT options at the same time are not compatible"));
    }
    if gt && lt {
        return Err(CmdError::new("ERR GT and LT options at the same time are not compatible"));
    }
    let invalid = || CmdError::new(format!("ERR invalid expire time in '{name}' command"));
    let ms = n.checked_mul(unit).ok_or_else(invalid)?;
    let at: i64 = if absolute { ms } else { (now as i64).checked_add(ms).ok_or_else(invalid)? };
    let Some(cur) = ctx.db().get(argv[1], now).map(|e| e.expire_at) else {
        ctx.reply().int(0);
        return Ok(());
    };
    let has = cur != 0;
    // A key without TTL counts as infinite for GT/LT.
    let refuse = (nx && has) || (xx && !has) || (gt && (!has || at <= cur as i64)) || (lt && has && at >= cur as i64);
    if refuse {
        ctx.reply().int(0);
        return Ok(());
    }
    // A time already past deletes the key, except when loading the AOF or
    // applying a master's stream (Redis's checkAlreadyExpired): the key keeps
    // the TTL and expires later like any other.
    if at <= now as i64 && !ctx.client.from_master {
        ctx.db().remove(argv[1], now);
        ctx.propagate_as(vec![b"DEL".to_vec(), argv[1].to_vec()]);
        ctx.notify(GENERIC, "del", argv[1]);
    } else {
        ctx.db().set_expire(argv[1], at.max(1) as u64, now);
        ctx.propagate_as(vec![b"PEXPIREAT".to_vec(), argv[1].to_vec(), at.to_string().into_bytes()]);
        ctx.notify(GENERIC, "expire", argv[1]);
    }
    ctx.dirty(1);
    ctx.reply().int(1);
    Ok(())
}

fn expire(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    expire_generic(ctx, argv, 1000, false, "expire")
}
fn pexpire(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    expire_generic(ctx, argv, 1, false, "pexpire")
}
fn expireat(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    expire_generic(ctx, argv, 1000, true, "expireat")
}
fn pexpireat(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    expire_generic(ctx, argv, 1, true, "pexpireat")
}

/// TTL family: -2 missing, -1 no expiry, else remaining or absolute time in the unit.
fn ttl_generic(ctx: &mut Ctx<'_>, key: &[u8], unit: u64, absolute: bool) -> CmdResult {
    let now = ctx.now();
    let r = match ctx.db().get_untouched(key, now).map(|e| e.expire_at) {
        None => -2,
        Some(0) => -1,
        Some(at) if absolute => (at / unit) as i64,
        Some(at) => ((at.saturating_sub(now) + unit / 2) / unit) as i64,
    };
    ctx.reply().int(r);
    Ok(())
}

fn ttl(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    ttl_generic(ctx, argv[1], 1000, false)
}
fn pttl(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    ttl_generic(ctx, argv[1], 1, false)
}
fn expiretime(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    ttl_generic(ctx, argv[1], 1000, true)
}
fn pexpiretime(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    ttl_generic(ctx, argv[1], 1, true)
}

fn persist(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let now = ctx.now();
    let had = ctx.db().get(argv[1], now).is_some_and(|e| e.expire_at != 0);
    if had {
        ctx.db().set_expire(argv[1], 0, now);
        ctx.dirty(1);
        ctx.notify(GENERIC, "persist", argv[1]);
    }
    ctx.reply().int(had as i64);
    Ok(())
}

fn copy(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let now = ctx.now();
    let mut replace = false;
    let mut dst_db = ctx.client.db;
    let mut i = 3;
    while i < argv.len() {
        if is(argv[i], "replace") {
            replace = true;
        } else if is(argv[i], "db") && i + 1 < argv.len() {
            let n = parse_i64(argv[i + 1])?;
            if n < 0 || n as usize >= ctx.node.keyspace.dbs.len() {
                return Err(CmdError::new("ERR DB index is out of range"));
            }
            dst_db = n as usize;
            i += 1;
        } else {
            return Err(CmdError::syntax());
        }
        i += 1;
    }
    if argv[1] == argv[2] && dst_db == ctx.client.db {
        return Err(CmdError::new("ERR source and destination objects are the same"));
    }
    let Some(e) = ctx.db().get(argv[1], now).cloned() else {
        ctx.reply().int(0);
        return Ok(());
    };
    let target = &mut ctx.node.keyspace.dbs[dst_db];
    if target.contains(argv[2], now) && !replace {
        ctx.reply().int(0);
        return Ok(());
    }
    target.put_entry(argv[2], e);
    ctx.dirty(1);
    ctx.node.notify(dst_db, GENERIC, "copy_to", argv[2]);
    ctx.reply().int(1);
    Ok(())
}

fn move_cmd(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    if ctx.node.cluster.is_some() {
        return Err(CmdError::new("ERR MOVE is not allowed in cluster mode"));
    }
    let now = ctx.now();
    let n = parse_i64(argv[2])?;
    if n < 0 || n as usize >= ctx.node.keyspace.dbs.len() {
        return Err(CmdError::new("ERR DB index is out of range"));
    }
    let dst = n as usize;
    if dst == ctx.client.db {
        return Err(CmdError::new("ERR source and destination objects are the same"));
    }
    if !ctx.db().contains(argv[1], now) || ctx.node.keyspace.dbs[dst].contains(argv[1], now) {
        ctx.reply().int(0);
        return Ok(());
    }
    let Some(e) = ctx.db().remove(argv[1], now) else {
        ctx.reply().int(0);
        return Ok(());
    };
    ctx.node.keyspace.dbs[dst].put_entry(argv[1], e);
    ctx.dirty(1);
    ctx.notify(GENERIC, "move_from", argv[1]);
    ctx.node.notify(dst, GENERIC, "move_to", argv[1]);
    ctx.reply().int(1);
    Ok(())
}

/// OBJECT's subcommands.
const OBJECT: &[CommandSpec] = &[
    CommandSpec::new("object|encoding", 3, READONLY, (2, 2, 1), object_encoding).acl(&["@keyspace"]),
    CommandSpec::new("object|refcount", 3, READONLY, (2, 2, 1), object_refcount).acl(&["@keyspace"]),
    CommandSpec::new("object|idletime", 3, READONLY, (2, 2, 1), object_idletime).acl(&["@keyspace"]),
    CommandSpec::new("object|freq", 3, READONLY, (2, 2, 1), object_freq).acl(&["@keyspace"]),
    CommandSpec::new("object|help", 2, LOADING | STALE, (0, 0, 0), object_help).acl(&["@keyspace"]),
];

/// The encoding of the key's value, or None (a null reply) when it does not exist.
fn object_target(ctx: &mut Ctx<'_>, key: &[u8]) -> Option<&'static str> {
    let now = ctx.now();
    let enc = ctx.db().get_untouched(key, now).map(|e| e.encoding());
    if enc.is_none() {
        ctx.reply().null();
    }
    enc
}

fn object_encoding(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    if let Some(enc) = object_target(ctx, argv[2]) {
        ctx.reply().bulk_str(enc);
    }
    Ok(())
}

/// Redis shares the integers 0..9999 between keys (refcount INT_MAX),
/// unless an LRU/LFU maxmemory policy needs per-object access data.
fn object_refcount(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let policy = ctx.node.config.get("maxmemory-policy").unwrap_or("noeviction");
    let sharing = ctx.node.config.int_named("maxmemory", 0) == 0 || !(policy.contains("lru") || policy.contains("lfu"));
    let now = ctx.now();
    let shared = match ctx.db().get_untouched(argv[2], now).map(|e| &e.value) {
        Some(v @ crate::keyspace::Value::Str(s)) => {
            v.encoding() == "int" && crate::util::num::strict_i64(s).is_some_and(|n| (0..10_000).contains(&n))
        }
        _ => false,
    };
    if object_target(ctx, argv[2]).is_some() {
        ctx.reply().int(if shared && sharing { i32::MAX as i64 } else { 1 });
    }
    Ok(())
}

fn object_idletime(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let now = ctx.now();
    let mode = ctx.db().lru_mode;
    let Some(field) = ctx.db().get_untouched(argv[2], now).map(|e| e.lru) else {
        ctx.reply().null();
        return Ok(());
    };
    if mode != lru::Mode::Lru {
        return Err(CmdError::new("ERR An LFU maxmemory policy is selected, idle time not tracked. Please note that when switching between policies at runtime LRU and LFU data will take some time to adjust."));
    }
    ctx.reply().int((lru::idle_ms(field, now) / 1000) as i64);
    Ok(())
}

fn object_freq(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let now = ctx.now();
    let mode = ctx.db().lru_mode;
    let Some(field) = ctx.db().get_untouched(argv[2], now).map(|e| e.lru) else {
        ctx.reply().null();
        return Ok(());
    };
    if mode == lru::Mode::Lru {
        return Err(CmdError::new("ERR An LFU maxmemory policy is not selected, access frequency not tracked. Please note that when switching between policies at runtime LRU and LFU data will take some time to adjust."));
    }
    ctx.reply().int(lru::lfu_counter(mode, field, now) as i64);
    Ok(())
}

fn object_help(ctx: &mut Ctx<'_>, _argv: &[&[u8]]) -> CmdResult {
    super::reply_help(
        ctx,
        &[
            "OBJECT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
            "ENCODING <key>",
            "FREQ <key>",
            "IDLETIME <key>",
            "REFCOUNT <key>",
            "HELP",
        ],
    );
    Ok(())
}

fn dbsize(ctx: &mut Ctx<'_>, _argv: &[&[u8]]) -> CmdResult {
    let n = ctx.db().len();
    ctx.reply().int(n as i64);
    Ok(())
}

/// FLUSHDB/FLUSHALL [ASYNC|SYNC]: whether to free in the background
/// (ASYNC, or no option with lazyfree-lazy-user-flush yes).
fn flush_opts(ctx: &Ctx<'_>, argv: &[&[u8]]) -> Result<bool, CmdError> {
    match argv.get(1) {
        None => Ok(ctx.node.config.get("lazyfree-lazy-user-flush") == Some("yes")),
        Some(a) if argv.len() == 2 && is(a, "async") => Ok(true),
        Some(a) if argv.len() == 2 && is(a, "sync") => Ok(false),
        _ => Err(CmdError::syntax()),
    }
}

/// Empties one database, in the background if `lazy` and it is big.
fn flush_db(ctx: &mut Ctx<'_>, i: usize, lazy: bool) {
    let db = &mut ctx.node.keyspace.dbs[i];
    if lazy && db.len() > crate::keyspace::lazyfree::THRESHOLD {
        let (garbage, n) = db.take_all();
        ctx.node.keyspace.lazyfree.free(garbage, n);
    } else {
        db.flush();
    }
}

fn flushdb(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let lazy = flush_opts(ctx, argv)?;
    let n = ctx.db().len() as u64;
    let i = ctx.client.db;
    ctx.node.touch_watched_in(i, None);
    flush_db(ctx, i, lazy);
    ctx.node.wake_blocked_in(i);
    ctx.node.tracking_flush();
    ctx.dirty(n.max(1));
    ctx.reply().ok();
    Ok(())
}

fn flushall(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let lazy = flush_opts(ctx, argv)?;
    let mut n = 0;
    for i in 0..ctx.node.keyspace.dbs.len() {
        n += ctx.node.keyspace.dbs[i].len() as u64;
        ctx.node.touch_watched_in(i, None);
        flush_db(ctx, i, lazy);
        ctx.node.wake_blocked_in(i);
    }
    ctx.node.tracking_flush();
    // A snapshot being written holds the data just dropped: it is stopped,
    // and with save points the empty dataset is saved at once (Redis's
    // flushAllDataAndResetRDB); the save resets the change count, so the
    // FLUSHALL still has to reach replicas and the AOF.
    let mut parts = ctx.node.persistence_parts();
    if matches!(parts.persistence.child.as_ref().map(|c| &c.kind), Some(ChildKind::Rdb | ChildKind::ReplSync)) {
        crate::persistence::kill_child(&mut parts);
    }
    let saved = !parts.config.save_points().is_empty() && crate::persistence::save_sync(&mut parts).is_ok();
    ctx.dirty(if saved { 1 } else { n.max(1) });
    ctx.client.force_propagate = true;
    ctx.reply().ok();
    Ok(())
}

fn swapdb(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    if ctx.node.cluster.is_some() {
        return Err(CmdError::new("ERR SWAPDB is not allowed in cluster mode"));
    }
    let a = parse_i64(argv[1]).map_err(|_| CmdError::new("ERR invalid first DB index"))?;
    let b = parse_i64(argv[2]).map_err(|_| CmdError::new("ERR invalid second DB index"))?;
    let n = ctx.node.keyspace.dbs.len() as i64;
    if a < 0 || b < 0 || a >= n || b >= n {
        return Err(CmdError::new("ERR DB index is out of range"));
    }
    let (a, b) = (a as usize, b as usize);
    if a == b {
        // Nothing moves, nothing is touched (Redis's dbSwapDatabases); it still counts as a change.
        ctx.dirty(1);
        ctx.reply().ok();
        return Ok(());
    }
    ctx.node.touch_watched_in(a, Some(b));
    ctx.node.touch_watched_in(b, Some(a));
    ctx.node.keyspace.dbs.swap(a, b);
    // Clients blocked on keys the swap brought in are served now.
    ctx.node.wake_blocked_in(a);
    ctx.node.wake_blocked_in(b);
    ctx.dirty(1);
    ctx.reply().ok();
    Ok(())
}
