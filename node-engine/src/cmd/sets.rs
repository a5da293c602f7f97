//! Set commands, over [`Set`]: an intset while its members are integers and
//! few, else an `IndexSet` (O(1) random picks for SPOP/SRANDMEMBER).

use super::flags::*;
use super::hashes::{parse_rand_count, picks, scan_positions};
use super::keys::{parse_cursor, parse_scan_opts};
use super::{args, keys_numkeys_at1, CmdError, CmdResult, CommandSpec, Ctx};
use crate::glob::glob_match;
use crate::keyspace::{Db, Key, Limits, Set, Value};
use crate::util::events::{GENERIC, SET};
use rand::Rng;
use std::borrow::Cow;

pub const COMMANDS: &[CommandSpec] = &[
    CommandSpec::new("sadd", -3, WRITE | DENYOOM | FAST, (1, 1, 1), sadd).acl(&["@set"]),
    CommandSpec::new("srem", -3, WRITE | FAST, (1, 1, 1), srem).acl(&["@set"]),
    CommandSpec::new("smembers", 2, READONLY, (1, 1, 1), smembers).acl(&["@set"]),
    CommandSpec::new("sismember", 3, READONLY | FAST, (1, 1, 1), sismember).acl(&["@set"]),
    CommandSpec::new("smismember", -3, READONLY | FAST, (1, 1, 1), smismember).acl(&["@set"]),
    CommandSpec::new("scard", 2, READONLY | FAST, (1, 1, 1), scard).acl(&["@set"]),
    CommandSpec::new("spop", -2, WRITE | FAST, (1, 1, 1), spop).acl(&["@set"]),
    CommandSpec::new("srandmember", -2, READONLY, (1, 1, 1), srandmember).acl(&["@set"]),
    CommandSpec::new("sinter", -2, READONLY, (1, -1, 1), sinter).acl(&["@set"]),
    CommandSpec::new("sunion", -2, READONLY, (1, -1, 1), sunion).acl(&["@set"]),
    CommandSpec::new("sdiff", -2, READONLY, (1, -1, 1), sdiff).acl(&["@set"]),
    CommandSpec::new("sinterstore", -3, WRITE | DENYOOM, (1, -1, 1), sinterstore).acl(&["@set"]),
    CommandSpec::new("sunionstore", -3, WRITE | DENYOOM, (1, -1, 1), sunionstore).acl(&["@set"]),
    CommandSpec::new("sdiffstore", -3, WRITE | DENYOOM, (1, -1, 1), sdiffstore).acl(&["@set"]),
    CommandSpec::new("sintercard", -3, READONLY, (1, 1, 1), sintercard).acl(&["@set"]).with_keys(keys_numkeys_at1),
    CommandSpec::new("smove", 4, WRITE | FAST, (1, 2, 1), smove).acl(&["@set"]),
    CommandSpec::new("sscan", -3, READONLY, (1, 1, 1), sscan).acl(&["@set"]),
];

/// The set at `key`: Ok(None) when missing, WRONGTYPE for other types.
fn read<'a>(db: &'a mut Db, key: &[u8], now: u64) -> Result<Option<&'a mut Set>, CmdError> {
    match db.get_mut(key, now) {
        None => Ok(None),
        Some(e) => match &mut e.value {
            Value::Set(s) => Ok(Some(s)),
            _ => Err(CmdError::wrong_type()),
        },
    }
}

fn sadd(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let now = ctx.now();
    let db = ctx.db();
    let limits = db.limits;
    let set = match &mut db.get_or_insert_with(argv[1], now, || Value::Set(Set::new())).value {
        Value::Set(s) => s,
        _ => return Err(CmdError::wrong_type()),
    };
    let mut added = 0;
    for m in &argv[2..] {
        added += u64::from(set.insert(m, &limits));
    }
    if added > 0 {
        ctx.dirty(added);
        ctx.notify(SET, "sadd", argv[1]);
    }
    ctx.reply().int(added as i64);
    Ok(())
}

fn srem(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let now = ctx.now();
    let mut n = 0;
    if let Some(set) = read(ctx.db(), argv[1], now)? {
        for m in &argv[2..] {
            if set.remove(m) {
                n += 1;
            }
        }
    }
    if n > 0 {
        ctx.notify(SET, "srem", argv[1]);
        ctx.remove_if_empty(argv[1]);
        ctx.dirty(n);
    }
    ctx.reply().int(n as i64);
    Ok(())
}

fn smembers(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let now = ctx.now();
    let i = ctx.client.db;
    let set = read(&mut ctx.node.keyspace.dbs[i], argv[1], now)?;
    let r = &mut ctx.client.reply;
    match set {
        None => r.set(0),
        Some(s) => {
            r.set(s.len());
            for m in s.iter() {
                r.bulk(&m);
            }
        }
    }
    Ok(())
}

fn sismember(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let now = ctx.now();
    let found = read(ctx.db(), argv[1], now)?.is_some_and(|s| s.contains(argv[2]));
    ctx.reply().int(found as i64);
    Ok(())
}

fn smismember(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let now = ctx.now();
    let i = ctx.client.db;
    let set = read(&mut ctx.node.keyspace.dbs[i], argv[1], now)?;
    let r = &mut ctx.client.reply;
    r.array(argv.len() - 2);
    for m in &argv[2..] {
        r.int(set.as_ref().is_some_and(|s| s.contains(m)) as i64);
    }
    Ok(())
}

fn scard(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let now = ctx.now();
    let n = read(ctx.db(), argv[1], now)?.map_or(0, |s| s.len());
    ctx.reply().int(n as i64);
    Ok(())
}

fn spop(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    if argv.len() > 3 {
        return Err(CmdError::syntax());
    }
    let count = match argv.get(2) {
        Some(a) => {
            let n = args::parse_i64(a)?;
            if n < 0 {
                return Err(CmdError::new("ERR value is out of range, must be positive"));
            }
            Some(n as usize)
        }
        None => None,
    };
    let now = ctx.now();
    let propagate = ctx.node.propagation_wanted();
    let i = ctx.client.db;
    let db = &mut ctx.node.keyspace.dbs[i];
    let r = &mut ctx.client.reply;
    let Some(set) = read(db, argv[1], now)? else {
        match count {
            Some(_) => r.set(0),
            None => r.null(),
        }
        return Ok(());
    };
    let Some(count) = count else {
        let idx = rand::thread_rng().gen_range(0..set.len().max(1));
        let Some(m) = set.swap_remove_index(idx) else {
            r.null();
            return Ok(());
        };
        r.bulk(&m);
        ctx.node.keyspace.dirty += 1;
        ctx.notify(SET, "spop", argv[1]);
        ctx.remove_if_empty(argv[1]);
        if propagate {
            ctx.propagate_as(vec![b"SREM".to_vec(), argv[1].to_vec(), m.to_vec()]);
        }
        return Ok(());
    };
    if count == 0 {
        r.set(0);
        return Ok(());
    }
    if count >= set.len() {
        r.set(set.len());
        for m in set.iter() {
            r.bulk(&m);
        }
        let n = set.len();
        db.remove(argv[1], now);
        ctx.node.keyspace.dirty += n as u64;
        ctx.notify(SET, "spop", argv[1]);
        ctx.notify(GENERIC, "del", argv[1]);
        if propagate {
            ctx.propagate_as(vec![b"DEL".to_vec(), argv[1].to_vec()]);
        }
        return Ok(());
    }
    let mut rng = rand::thread_rng();
    let mut srem = vec![b"SREM".to_vec(), argv[1].to_vec()];
    r.set(count);
    for _ in 0..count {
        let idx = rng.gen_range(0..set.len());
        if let Some(m) = set.swap_remove_index(idx) {
            r.bulk(&m);
            if propagate {
                srem.push(m.to_vec());
            }
        }
    }
    ctx.node.keyspace.dirty += count as u64;
    ctx.notify(SET, "spop", argv[1]);
    if propagate {
        ctx.propagate_as(srem);
    }
    Ok(())
}

fn srandmember(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    if argv.len() > 3 {
        return Err(CmdError::syntax());
    }
    let count = argv.get(2).map(|a| parse_rand_count(a, false)).transpose()?;
    let now = ctx.now();
    let i = ctx.client.db;
    let set = read(&mut ctx.node.keyspace.dbs[i], argv[1], now)?;
    let room = ctx.client.reply_room();
    let r = &mut ctx.client.reply;
    match (set, count) {
        (None, None) => r.null(),
        (None, Some(_)) => r.array(0),
        (Some(s), None) => match s.get_index(rand::thread_rng().gen_range(0..s.len().max(1))) {
            Some(m) => r.bulk(&m),
            None => r.null(),
        },
        (Some(s), Some((n, repeats))) => {
            let (n, picks) = picks(s.len(), n, repeats);
            r.array(n);
            for p in picks {
                if room.is_some_and(|m| r.buf.len() > m) {
                    break;
                }
                if let Some(m) = s.get_index(p) {
                    r.bulk(&m);
                }
            }
        }
    }
    ctx.client.output_over_limit();
    Ok(())
}

#[derive(Clone, Copy, PartialEq)]
enum Op {
    Inter,
    Union,
    Diff,
}

/// Computes SINTER/SUNION/SDIFF over `keys`, members in first-seen order;
/// every key is type-checked first.
fn combine(db: &mut Db, keys: &[&[u8]], now: u64, op: Op) -> Result<Vec<Key>, CmdError> {
    let mut sets: Vec<Option<&Set>> = Vec::with_capacity(keys.len());
    // First pass: expiry and types of every key; SINTER with a missing key is empty.
    let mut missing = false;
    for k in keys {
        missing |= read(db, k, now)?.is_none();
    }
    if missing && op == Op::Inter {
        return Ok(Vec::new());
    }
    for k in keys {
        sets.push(match db.peek(k).map(|e| &e.value) {
            Some(Value::Set(s)) => Some(s),
            _ => None,
        });
    }
    let mut out: Vec<Key> = Vec::new();
    match op {
        Op::Inter => {
            let mut all: Vec<&Set> = sets.into_iter().flatten().collect();
            all.sort_by_key(|s| s.len());
            if let Some((first, rest)) = all.split_first() {
                for m in first.iter() {
                    if rest.iter().all(|s| s.contains(&m)) {
                        out.push(m.into_owned().into_boxed_slice());
                    }
                }
            }
        }
        Op::Union => {
            let mut seen = crate::keyspace::value::SetValue::default();
            for s in sets.into_iter().flatten() {
                for m in s.iter() {
                    if !seen.contains(&m[..]) {
                        seen.insert(m.into_owned().into_boxed_slice());
                    }
                }
            }
            out = seen.into_iter().collect();
        }
        Op::Diff => {
            if let Some(Some(first)) = sets.first() {
                for m in first.iter() {
                    if !sets[1..].iter().flatten().any(|s| s.contains(&m)) {
                        out.push(m.into_owned().into_boxed_slice());
                    }
                }
            }
        }
    }
    Ok(out)
}

fn combine_reply(ctx: &mut Ctx<'_>, argv: &[&[u8]], op: Op) -> CmdResult {
    let now = ctx.now();
    let out = combine(ctx.db(), &argv[1..], now, op)?;
    let r = ctx.reply();
    r.set(out.len());
    for m in &out {
        r.bulk(m);
    }
    Ok(())
}

fn combine_store(ctx: &mut Ctx<'_>, argv: &[&[u8]], op: Op) -> CmdResult {
    let now = ctx.now();
    let out = combine(ctx.db(), &argv[2..], now, op)?;
    let n = out.len();
    let db = ctx.db();
    if n == 0 {
        if db.remove(argv[1], now).is_some() {
            ctx.dirty(1);
            ctx.notify(GENERIC, "del", argv[1]);
        }
    } else {
        let limits: Limits = db.limits;
        db.set(argv[1], Value::Set(Set::from_members(out, &limits)));
        ctx.dirty(1);
        let event = match op {
            Op::Inter => "sinterstore",
            Op::Union => "sunionstore",
            Op::Diff => "sdiffstore",
        };
        ctx.notify(SET, event, argv[1]);
    }
    ctx.reply().int(n as i64);
    Ok(())
}

fn sinter(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    combine_reply(ctx, argv, Op::Inter)
}
fn sunion(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    combine_reply(ctx, argv, Op::Union)
}
fn sdiff(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    combine_reply(ctx, argv, Op::Diff)
}
fn sinterstore(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    combine_store(ctx, argv, Op::Inter)
}
fn sunionstore(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    combine_store(ctx, argv, Op::Union)
}
fn sdiffstore(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    combine_store(ctx, argv, Op::Diff)
}

/// Parses `numkeys key... [LIMIT n]` shared by SINTERCARD and ZINTERCARD:
/// returns (keys, limit with 0 = none).
pub(crate) fn parse_numkeys_limit<'a>(argv: &[&'a [u8]]) -> Result<(Vec<&'a [u8]>, usize), CmdError> {
    let n = args::parse_i64(argv[1])?;
    if n <= 0 {
        return Err(CmdError::new("ERR numkeys should be greater than 0"));
    }
    let n = n as usize;
    if n > argv.len() - 2 {
        return Err(CmdError::new("ERR Number of keys can't be greater than number of args"));
    }
    let keys = argv[2..2 + n].to_vec();
    let mut limit = 0;
    let mut i = 2 + n;
    while i < argv.len() {
        if args::is(argv[i], "limit") && i + 1 < argv.len() {
            // A non-integer gets the same text as a negative number, as in Redis.
            let l = args::parse_i64(argv[i + 1]).unwrap_or(-1);
            if l < 0 {
                return Err(CmdError::new("ERR LIMIT can't be negative"));
            }
            limit = l as usize;
            i += 2;
        } else {
            return Err(CmdError::syntax());
        }
    }
    Ok((keys, limit))
}

fn sintercard(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    // SINTERCARD (unlike ZINTERCARD) gives the same text for a non-integer as for a count below 1.
    if args::parse_i64(argv[1]).is_err() {
        return Err(CmdError::new("ERR numkeys should be greater than 0"));
    }
    let (keys, limit) = parse_numkeys_limit(argv)?;
    let now = ctx.now();
    let out = combine(ctx.db(), &keys, now, Op::Inter)?;
    let n = if limit > 0 { out.len().min(limit) } else { out.len() };
    ctx.reply().int(n as i64);
    Ok(())
}

fn smove(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let (src, dst, m) = (argv[1], argv[2], argv[3]);
    let now = ctx.now();
    let db = ctx.db();
    let src_has = match read(db, src, now)? {
        // A missing source is 0 whatever the destination holds (Redis checks types after).
        None => {
            ctx.reply().int(0);
            return Ok(());
        }
        Some(s) => s.contains(m),
    };
    read(db, dst, now)?;
    if src == dst || !src_has {
        ctx.reply().int(src_has as i64);
        return Ok(());
    }
    if let Some(s) = read(db, src, now)? {
        s.remove(m);
    }
    ctx.notify(SET, "srem", src);
    ctx.remove_if_empty(src);
    let db = ctx.db();
    let limits = db.limits;
    let added = match &mut db.get_or_insert_with(dst, now, || Value::Set(Set::new())).value {
        Value::Set(d) => d.insert(m, &limits),
        _ => false,
    };
    ctx.dirty(1);
    if added {
        ctx.dirty(1);
        ctx.notify(SET, "sadd", dst);
    } else {
        // The destination did not change: its watchers are not disturbed.
        ctx.client.touched_only = Some(vec![src.into()]);
    }
    ctx.reply().int(1);
    Ok(())
}

fn sscan(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let cursor = parse_cursor(argv[2])?;
    let o = parse_scan_opts(argv, 3, false)?;
    let now = ctx.now();
    let i = ctx.client.db;
    let set = read(&mut ctx.node.keyspace.dbs[i], argv[1], now)?;
    let r = &mut ctx.client.reply;
    let Some(s) = set else {
        r.array(2);
        r.bulk(b"0");
        r.array(0);
        return Ok(());
    };
    // An intset is returned whole in one call, as Redis does.
    let (next, items): (u64, Vec<Cow<'_, [u8]>>) = match s {
        Set::Ints(_) => (0, s.iter().collect()),
        Set::Table(_) => {
            let (next, range) = scan_positions(s.len(), cursor, o.count);
            (next, range.filter_map(|idx| s.get_index(idx)).collect())
        }
    };
    let items: Vec<Cow<'_, [u8]>> = items.into_iter().filter(|m| o.pattern.is_none_or(|p| glob_match(p, m, false))).collect();
    r.array(2);
    r.bulk(next.to_string().as_bytes());
    r.array(items.len());
    for m in items {
        r.bulk(&m);
    }
    Ok(())
}
