//! List commands, including the blocking pops. A list is a quicklist
//! ([`List`]: listpack nodes); a
//! blocking command that finds nothing sets `ctx.client.block` and writes no
//! reply, and the dispatcher re-runs it when a write touches one of its keys.

use super::args::{is, normalize_range, parse_float_opt, parse_i64};
use super::flags::*;
use super::{keys_numkeys_at1, keys_numkeys_at2, CmdError, CmdResult, CommandSpec, Ctx};
use crate::client::BlockRequest;
use crate::keyspace::{Db, Key, List, Value};
use crate::util::events::LIST;

pub const COMMANDS: &[CommandSpec] = &[
    CommandSpec::new("lpush", -3, WRITE | DENYOOM | FAST, (1, 1, 1), lpush).acl(&["@list"]),
    CommandSpec::new("rpush", -3, WRITE | DENYOOM | FAST, (1, 1, 1), rpush).acl(&["@list"]),
    CommandSpec::new("lpushx", -3, WRITE | DENYOOM | FAST, (1, 1, 1), lpushx).acl(&["@list"]),
    CommandSpec::new("rpushx", -3, WRITE | DENYOOM | FAST, (1, 1, 1), rpushx).acl(&["@list"]),
    CommandSpec::new("lpop", -2, WRITE | FAST, (1, 1, 1), lpop).acl(&["@list"]),
    CommandSpec::new("rpop", -2, WRITE | FAST, (1, 1, 1), rpop).acl(&["@list"]),
    CommandSpec::new("llen", 2, READONLY | FAST, (1, 1, 1), llen).acl(&["@list"]),
    CommandSpec::new("lrange", 4, READONLY, (1, 1, 1), lrange).acl(&["@list"]),
    CommandSpec::new("lindex", 3, READONLY, (1, 1, 1), lindex).acl(&["@list"]),
    CommandSpec::new("lset", 4, WRITE | DENYOOM, (1, 1, 1), lset).acl(&["@list"]),
    CommandSpec::new("lrem", 4, WRITE, (1, 1, 1), lrem).acl(&["@list"]),
    CommandSpec::new("ltrim", 4, WRITE, (1, 1, 1), ltrim).acl(&["@list"]),
    CommandSpec::new("linsert", 5, WRITE | DENYOOM, (1, 1, 1), linsert).acl(&["@list"]),
    CommandSpec::new("lpos", -3, READONLY, (1, 1, 1), lpos).acl(&["@list"]),
    CommandSpec::new("lmove", 5, WRITE | DENYOOM, (1, 2, 1), lmove).acl(&["@list"]),
    CommandSpec::new("rpoplpush", 3, WRITE | DENYOOM, (1, 2, 1), rpoplpush).acl(&["@list"]),
    CommandSpec::new("blpop", -3, WRITE | NOSCRIPT | BLOCKING, (1, -2, 1), blpop).acl(&["@list"]),
    CommandSpec::new("brpop", -3, WRITE | NOSCRIPT | BLOCKING, (1, -2, 1), brpop).acl(&["@list"]),
    CommandSpec::new("blmove", 6, WRITE | DENYOOM | NOSCRIPT | BLOCKING, (1, 2, 1), blmove).acl(&["@list"]),
    CommandSpec::new("brpoplpush", 4, WRITE | DENYOOM | NOSCRIPT | BLOCKING, (1, 2, 1), brpoplpush).acl(&["@list"]),
    CommandSpec::new("lmpop", -4, WRITE, (0, 0, 0), lmpop).acl(&["@list"]).with_keys(keys_numkeys_at1),
    CommandSpec::new("blmpop", -5, WRITE | BLOCKING, (0, 0, 0), blmpop).acl(&["@list"]).with_keys(keys_numkeys_at2),
];

/// The parsed tail of LMPOP/ZMPOP and their blocking forms:
/// `numkeys key... <first|second> [COUNT count]`.
pub(crate) struct MultiPop<'a> {
    pub keys: Vec<&'a [u8]>,
    /// The second of the two sides was asked for (RIGHT, MAX).
    pub second: bool,
    pub count: usize,
}

/// Parses `numkeys key... <side> [COUNT count]` from `argv[at]` on, with Redis's error texts.
fn parse_multi_pop<'a>(argv: &[&'a [u8]], at: usize, sides: (&str, &str)) -> Result<MultiPop<'a>, CmdError> {
    let numkeys =
        parse_i64(argv[at]).ok().filter(|n| *n > 0).ok_or_else(|| CmdError::new("ERR numkeys should be greater than 0"))? as usize;
    let side_at = at + 1 + numkeys.min(argv.len());
    let Some(side) = argv.get(side_at) else { return Err(CmdError::syntax()) };
    let second = if is(side, sides.0) {
        false
    } else if is(side, sides.1) {
        true
    } else {
        return Err(CmdError::syntax());
    };
    let count = match &argv[side_at + 1..] {
        [] => 1,
        [c, n] if is(c, "count") => {
            parse_i64(n).ok().filter(|n| *n > 0).ok_or_else(|| CmdError::new("ERR count should be greater than 0"))? as usize
        }
        _ => return Err(CmdError::syntax()),
    };
    Ok(MultiPop { keys: argv[at + 1..side_at].to_vec(), second, count })
}

/// Pops up to `count` from the first non-empty list of `keys`: replies
/// `[key, [elements]]` and propagates it as LPOP/RPOP with a count. Whether it popped.
fn multi_pop(ctx: &mut Ctx<'_>, mp: &MultiPop<'_>, now: u64) -> Result<bool, CmdError> {
    let i = ctx.client.db;
    for key in &mp.keys {
        let db = &mut ctx.node.keyspace.dbs[i];
        let Some(list) = skip_wrong_type_on_retry(read(db, key, now), ctx.client.retrying_block)? else { continue };
        let n = mp.count.min(list.len());
        let r = &mut ctx.client.reply;
        r.array(2);
        r.bulk(key);
        r.array(n);
        for _ in 0..n {
            if let Some(v) = if mp.second { list.pop_back() } else { list.pop_front() } {
                r.bulk(&v);
            }
        }
        ctx.dirty(n as u64);
        ctx.notify(LIST, if mp.second { "rpop" } else { "lpop" }, key);
        ctx.remove_if_empty(key);
        let name: &[u8] = if mp.second { b"RPOP" } else { b"LPOP" };
        ctx.propagate_as(vec![name.to_vec(), key.to_vec(), n.to_string().into_bytes()]);
        return Ok(true);
    }
    Ok(false)
}

/// How LMPOP/ZMPOP pop from the first non-empty key; whether it found one.
pub(crate) type MultiPopFn = fn(&mut Ctx<'_>, &MultiPop<'_>, u64) -> Result<bool, CmdError>;

/// LMPOP/ZMPOP and their blocking forms (`timeout` first): parse, pop, else
/// reply a null array or block on the keys.
pub(crate) fn multi_pop_command(ctx: &mut Ctx<'_>, argv: &[&[u8]], blocking: bool, sides: (&str, &str), pop: MultiPopFn) -> CmdResult {
    let now = ctx.now();
    let deadline = if blocking { Some(parse_timeout(argv[1], now)?) } else { None };
    let mp = parse_multi_pop(argv, 1 + usize::from(blocking), sides)?;
    if !pop(ctx, &mp, now)? {
        match deadline {
            Some(d) => block_on(ctx, &mp.keys, d, true),
            None => ctx.reply().null_array(),
        }
    }
    Ok(())
}

/// LMPOP numkeys key... LEFT|RIGHT [COUNT count].
fn lmpop(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    multi_pop_command(ctx, argv, false, ("left", "right"), multi_pop)
}

/// BLMPOP timeout numkeys key... LEFT|RIGHT [COUNT count]: LMPOP, or a block on the keys.
fn blmpop(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    multi_pop_command(ctx, argv, true, ("left", "right"), multi_pop)
}

/// The list at `key`: Ok(None) when missing, WRONGTYPE for other types.
fn read<'a>(db: &'a mut Db, key: &[u8], now: u64) -> Result<Option<&'a mut List>, CmdError> {
    match db.get_mut(key, now) {
        None => Ok(None),
        Some(e) => match &mut e.value {
            Value::List(l) => Ok(Some(l)),
            _ => Err(CmdError::wrong_type()),
        },
    }
}

/// For a blocking pop retried after a wake-up, a key of another type reads as
/// missing (keep waiting); on the first run it is the usual WRONGTYPE.
pub(crate) fn skip_wrong_type_on_retry<T>(found: Result<Option<T>, CmdError>, retrying: bool) -> Result<Option<T>, CmdError> {
    match found {
        Err(_) if retrying => Ok(None),
        other => other,
    }
}

/// The list at `key`, created empty when missing.
fn write<'a>(db: &'a mut Db, key: &[u8], now: u64) -> Result<&'a mut List, CmdError> {
    match &mut db.get_or_insert_with(key, now, || Value::List(Box::new(List::new()))).value {
        Value::List(l) => Ok(l),
        _ => Err(CmdError::wrong_type()),
    }
}

/// Parses a blocking timeout in seconds (fractions allowed) into an absolute
/// unix-ms deadline, 0 meaning forever, with Redis's error texts.
pub(crate) fn parse_timeout(arg: &[u8], now: u64) -> Result<u64, CmdError> {
    let secs = parse_float_opt(arg).ok_or_else(|| CmdError::new("ERR timeout is not a float or out of range"))?;
    let ms = (secs * 1000.0).ceil();
    if ms > i64::MAX as f64 {
        return Err(CmdError::new("ERR timeout is out of range"));
    }
    if ms < 0.0 {
        return Err(CmdError::new("ERR timeout is negative"));
    }
    if ms == 0.0 {
        return Ok(0);
    }
    now.checked_add(ms as u64).filter(|d| *d <= i64::MAX as u64).ok_or_else(|| CmdError::new("ERR timeout is out of range"))
}

/// Blocks the client on `keys` until `deadline`; inside MULTI replies `nil_array`
/// style null at once instead, because a transaction cannot wait.
pub(crate) fn block_on(ctx: &mut Ctx<'_>, keys: &[&[u8]], deadline_ms: u64, null_array: bool) {
    if ctx.client.in_exec {
        if null_array {
            ctx.reply().null_array();
        } else {
            ctx.reply().null();
        }
        return;
    }
    ctx.client.block =
        Some(BlockRequest { keys: keys.iter().map(|k| Key::from(*k)).collect(), deadline_ms, rerun_on_timeout: false, rerun_argv: None });
}

fn push_generic(ctx: &mut Ctx<'_>, argv: &[&[u8]], left: bool, only_existing: bool) -> CmdResult {
    let now = ctx.now();
    let db = ctx.db();
    let limits = db.limits;
    let list = if only_existing {
        match read(db, argv[1], now)? {
            Some(l) => l,
            None => {
                ctx.reply().int(0);
                return Ok(());
            }
        }
    } else {
        write(db, argv[1], now)?
    };
    for v in &argv[2..] {
        if left {
            list.push_front(v, &limits);
        } else {
            list.push_back(v, &limits);
        }
    }
    let len = list.len();
    ctx.dirty((argv.len() - 2) as u64);
    ctx.notify(LIST, if left { "lpush" } else { "rpush" }, argv[1]);
    ctx.reply().int(len as i64);
    Ok(())
}

fn lpush(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    push_generic(ctx, argv, true, false)
}

fn rpush(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    push_generic(ctx, argv, false, false)
}

fn lpushx(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    push_generic(ctx, argv, true, true)
}

fn rpushx(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    push_generic(ctx, argv, false, true)
}

fn pop_generic(ctx: &mut Ctx<'_>, argv: &[&[u8]], left: bool) -> CmdResult {
    if argv.len() > 3 {
        return Err(CmdError::arity(if left { "lpop" } else { "rpop" }));
    }
    let count = match argv.get(2) {
        Some(a) => {
            let n = parse_i64(a)?;
            if n < 0 {
                return Err(CmdError::new("ERR value is out of range, must be positive"));
            }
            Some(n as usize)
        }
        None => None,
    };
    let now = ctx.now();
    let i = ctx.client.db;
    let db = &mut ctx.node.keyspace.dbs[i];
    let r = &mut ctx.client.reply;
    let Some(list) = read(db, argv[1], now)? else {
        if count.is_some() {
            r.null_array();
        } else {
            r.null();
        }
        return Ok(());
    };
    let popped = match count {
        None => {
            let v = if left { list.pop_front() } else { list.pop_back() };
            match v {
                Some(v) => {
                    r.bulk(&v);
                    1
                }
                None => {
                    r.null();
                    0
                }
            }
        }
        Some(n) => {
            let n = n.min(list.len());
            r.array(n);
            for _ in 0..n {
                if let Some(v) = if left { list.pop_front() } else { list.pop_back() } {
                    r.bulk(&v);
                }
            }
            n
        }
    };
    if popped > 0 {
        ctx.dirty(popped as u64);
        ctx.notify(LIST, if left { "lpop" } else { "rpop" }, argv[1]);
        ctx.remove_if_empty(argv[1]);
    }
    Ok(())
}

fn lpop(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    pop_generic(ctx, argv, true)
}

fn rpop(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    pop_generic(ctx, argv, false)
}

fn llen(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let now = ctx.now();
    let n = read(ctx.db(), argv[1], now)?.map_or(0, |l| l.len());
    ctx.reply().int(n as i64);
    Ok(())
}

fn lrange(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let start = parse_i64(argv[2])?;
    let end = parse_i64(argv[3])?;
    let now = ctx.now();
    let i = ctx.client.db;
    let list = read(&mut ctx.node.keyspace.dbs[i], argv[1], now)?;
    let r = &mut ctx.client.reply;
    match list.and_then(|l| normalize_range(start, end, l.len()).map(|rg| (l, rg))) {
        None => r.array(0),
        Some((l, (s, e))) => {
            r.array(e - s + 1);
            for v in l.iter_from(s).take(e - s + 1) {
                r.bulk(&v);
            }
        }
    }
    Ok(())
}

/// Resolves a possibly negative list index; None when outside the list.
fn resolve_index(idx: i64, len: usize) -> Option<usize> {
    let i = if idx < 0 { len as i64 + idx } else { idx };
    (0..len as i64).contains(&i).then_some(i as usize)
}

fn lindex(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let idx = parse_i64(argv[2])?;
    let now = ctx.now();
    let i = ctx.client.db;
    let list = read(&mut ctx.node.keyspace.dbs[i], argv[1], now)?;
    match list.and_then(|l| resolve_index(idx, l.len()).and_then(|p| l.get(p))) {
        Some(v) => ctx.client.reply.bulk(&v),
        None => ctx.client.reply.null(),
    }
    Ok(())
}

fn lset(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let idx = parse_i64(argv[2])?;
    let now = ctx.now();
    let list = read(ctx.db(), argv[1], now)?.ok_or_else(CmdError::no_such_key)?;
    let p = resolve_index(idx, list.len()).ok_or_else(CmdError::out_of_range)?;
    list.set(p, argv[3]);
    ctx.dirty(1);
    ctx.notify(LIST, "lset", argv[1]);
    ctx.reply().ok();
    Ok(())
}

fn lrem(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let count = parse_i64(argv[2])?;
    let now = ctx.now();
    let elem = argv[3];
    let mut removed = 0usize;
    let db = ctx.db();
    let limits = db.limits;
    if let Some(list) = read(db, argv[1], now)? {
        let budget = if count == 0 { usize::MAX } else { count.unsigned_abs() as usize };
        if list.iter().any(|v| &v[..] == elem) {
            let mut kept: Vec<Key> = Vec::with_capacity(list.len());
            let items: Box<dyn Iterator<Item = std::borrow::Cow<'_, [u8]>>> =
                if count < 0 { Box::new(list.iter_rev()) } else { Box::new(list.iter()) };
            for v in items {
                if removed < budget && &v[..] == elem {
                    removed += 1;
                } else {
                    kept.push(v.into_owned().into_boxed_slice());
                }
            }
            if count < 0 {
                kept.reverse();
            }
            *list = List::from_items(kept, &limits);
        }
    }
    if removed > 0 {
        ctx.notify(LIST, "lrem", argv[1]);
        ctx.remove_if_empty(argv[1]);
        ctx.dirty(removed as u64);
    }
    ctx.reply().int(removed as i64);
    Ok(())
}

fn ltrim(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let start = parse_i64(argv[2])?;
    let end = parse_i64(argv[3])?;
    let now = ctx.now();
    let mut changed = 0;
    let db = ctx.db();
    let limits = db.limits;
    if let Some(list) = read(db, argv[1], now)? {
        let before = list.len();
        let keep = normalize_range(start, end, list.len());
        if keep != Some((0, before.saturating_sub(1))) {
            list.trim(keep, &limits);
        }
        changed = before - list.len();
        ctx.notify(LIST, "ltrim", argv[1]);
        ctx.remove_if_empty(argv[1]);
    }
    if changed > 0 {
        ctx.dirty(changed as u64);
    }
    ctx.reply().ok();
    Ok(())
}

fn linsert(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let after = if is(argv[2], "after") {
        true
    } else if is(argv[2], "before") {
        false
    } else {
        return Err(CmdError::syntax());
    };
    let now = ctx.now();
    let db = ctx.db();
    let limits = db.limits;
    let Some(list) = read(db, argv[1], now)? else {
        ctx.reply().int(0);
        return Ok(());
    };
    let Some(pos) = list.iter().position(|v| &v[..] == argv[3]) else {
        ctx.reply().int(-1);
        return Ok(());
    };
    list.insert(if after { pos + 1 } else { pos }, argv[4], &limits);
    let len = list.len();
    ctx.dirty(1);
    ctx.notify(LIST, "linsert", argv[1]);
    ctx.reply().int(len as i64);
    Ok(())
}

fn lpos(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let (mut rank, mut count, mut maxlen) = (1i64, None::<usize>, 0usize);
    let mut i = 3;
    while i < argv.len() {
        let Some(v) = argv.get(i + 1) else {
            return Err(CmdError::syntax());
        };
        if is(argv[i], "rank") {
            rank = parse_i64(v)?;
            if rank == 0 {
                return Err(CmdError::new(
                    "ERR RANK can't be zero: use 1 to start from the first match, 2 from the second ... or use negative to start from the end of the list",
                ));
            }
        } else if is(argv[i], "count") {
            let n = parse_i64(v)?;
            if n < 0 {
                return Err(CmdError::new("ERR COUNT can't be negative"));
            }
            count = Some(n as usize);
        } else if is(argv[i], "maxlen") {
            let n = parse_i64(v)?;
            if n < 0 {
                return Err(CmdError::new("ERR MAXLEN can't be negative"));
            }
            maxlen = n as usize;
        } else {
            return Err(CmdError::syntax());
        }
        i += 2;
    }
    let now = ctx.now();
    let idb = ctx.client.db;
    let list = read(&mut ctx.node.keyspace.dbs[idb], argv[1], now)?;
    let r = &mut ctx.client.reply;
    let Some(list) = list else {
        match count {
            Some(_) => r.array(0),
            None => r.null(),
        }
        return Ok(());
    };
    let want = match count {
        Some(0) => usize::MAX,
        Some(n) => n,
        None => 1,
    };
    let limit = if maxlen == 0 { list.len() } else { maxlen.min(list.len()) };
    let mut skip = rank.unsigned_abs().saturating_sub(1);
    let mut found: Vec<usize> = Vec::new();
    let len = list.len();
    let items: Box<dyn Iterator<Item = std::borrow::Cow<'_, [u8]>>> =
        if rank > 0 { Box::new(list.iter()) } else { Box::new(list.iter_rev()) };
    for (step, item) in items.take(limit).enumerate() {
        let idx = if rank > 0 { step } else { len - 1 - step };
        if item[..] == *argv[2] {
            if skip > 0 {
                skip -= 1;
                continue;
            }
            found.push(idx);
            if found.len() >= want {
                break;
            }
        }
    }
    match count {
        Some(_) => {
            r.array(found.len());
            for f in found {
                r.int(f as i64);
            }
        }
        None => match found.first() {
            Some(&f) => r.int(f as i64),
            None => r.null(),
        },
    }
    Ok(())
}

/// Parses LEFT/RIGHT; true for LEFT.
fn parse_side(arg: &[u8]) -> Result<bool, CmdError> {
    if is(arg, "left") {
        Ok(true)
    } else if is(arg, "right") {
        Ok(false)
    } else {
        Err(CmdError::syntax())
    }
}

/// Moves one element from `src` to `dst`; Ok(None) when `src` is missing.
/// Checks `dst`'s type before popping so a WRONGTYPE leaves both untouched.
fn move_one(ctx: &mut Ctx<'_>, src: &[u8], dst: &[u8], from_left: bool, to_left: bool) -> Result<Option<Key>, CmdError> {
    let now = ctx.now();
    let db = ctx.db();
    if read(db, src, now)?.is_none() {
        return Ok(None);
    }
    read(db, dst, now)?;
    let Some(v) = read(db, src, now)?.and_then(|l| if from_left { l.pop_front() } else { l.pop_back() }) else {
        return Ok(None);
    };
    let limits = db.limits;
    let d = write(db, dst, now)?;
    if to_left {
        d.push_front(&v, &limits);
    } else {
        d.push_back(&v, &limits);
    }
    ctx.dirty(2);
    ctx.notify(LIST, if to_left { "lpush" } else { "rpush" }, dst);
    ctx.notify(LIST, if from_left { "lpop" } else { "rpop" }, src);
    ctx.remove_if_empty(src);
    Ok(Some(v))
}

fn lmove(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let from = parse_side(argv[3])?;
    let to = parse_side(argv[4])?;
    match move_one(ctx, argv[1], argv[2], from, to)? {
        Some(v) => ctx.reply().bulk(&v),
        None => ctx.reply().null(),
    }
    Ok(())
}

fn rpoplpush(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    match move_one(ctx, argv[1], argv[2], false, true)? {
        Some(v) => ctx.reply().bulk(&v),
        None => ctx.reply().null(),
    }
    Ok(())
}

fn bpop_generic(ctx: &mut Ctx<'_>, argv: &[&[u8]], left: bool) -> CmdResult {
    let now = ctx.now();
    let deadline = parse_timeout(argv[argv.len() - 1], now)?;
    let keys = &argv[1..argv.len() - 1];
    for key in keys {
        let i = ctx.client.db;
        let db = &mut ctx.node.keyspace.dbs[i];
        let Some(list) = skip_wrong_type_on_retry(read(db, key, now), ctx.client.retrying_block)? else {
            continue;
        };
        let Some(v) = (if left { list.pop_front() } else { list.pop_back() }) else {
            continue;
        };
        let r = &mut ctx.client.reply;
        r.array(2);
        r.bulk(key);
        r.bulk(&v);
        ctx.dirty(1);
        ctx.notify(LIST, if left { "lpop" } else { "rpop" }, key);
        ctx.remove_if_empty(key);
        // Replicas must pop from the same key, never block.
        let name: &[u8] = if left { b"LPOP" } else { b"RPOP" };
        ctx.propagate_as(vec![name.to_vec(), key.to_vec()]);
        return Ok(());
    }
    block_on(ctx, keys, deadline, true);
    Ok(())
}

fn blpop(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    bpop_generic(ctx, argv, true)
}

fn brpop(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    bpop_generic(ctx, argv, false)
}

/// BLMOVE/BRPOPLPUSH: a move now, or a block on `src`; propagated as the
/// non-blocking form (LMOVE, or RPOPLPUSH for BRPOPLPUSH, as Redis does).
fn bmove_generic(ctx: &mut Ctx<'_>, src: &[u8], dst: &[u8], from: bool, to: bool, timeout: &[u8], rpoplpush: bool) -> CmdResult {
    let now = ctx.now();
    let deadline = parse_timeout(timeout, now)?;
    match move_one(ctx, src, dst, from, to)? {
        Some(v) => {
            ctx.reply().bulk(&v);
            let side = |l: bool| {
                if l {
                    b"LEFT".to_vec()
                } else {
                    b"RIGHT".to_vec()
                }
            };
            if rpoplpush {
                ctx.propagate_as(vec![b"RPOPLPUSH".to_vec(), src.to_vec(), dst.to_vec()]);
            } else {
                ctx.propagate_as(vec![b"LMOVE".to_vec(), src.to_vec(), dst.to_vec(), side(from), side(to)]);
            }
        }
        None => block_on(ctx, &[src], deadline, false),
    }
    Ok(())
}

fn blmove(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let from = parse_side(argv[3])?;
    let to = parse_side(argv[4])?;
    bmove_generic(ctx, argv[1], argv[2], from, to, argv[5], false)
}

fn brpoplpush(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    bmove_generic(ctx, argv[1], argv[2], false, true, argv[3], true)
}
