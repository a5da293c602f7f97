//! Hash commands, over [`Hash`]: a listpack while small, a hash table past
//! `hash-max-listpack-entries` / `hash-max-listpack-value`.

use super::args::{format_float_value, is, parse_f64, parse_i64, strict_i64};
use super::flags::*;
use super::keys::{parse_cursor, parse_scan_opts};
use super::{CmdError, CmdResult, CommandSpec, Ctx};
use crate::glob::glob_match;
use crate::keyspace::{Db, Hash, Value};
use crate::util::events::HASH;
use rand::Rng;

pub const COMMANDS: &[CommandSpec] = &[
    CommandSpec::new("hset", -4, WRITE | DENYOOM | FAST, (1, 1, 1), hset).acl(&["@hash"]),
    CommandSpec::new("hmset", -4, WRITE | DENYOOM | FAST, (1, 1, 1), hmset).acl(&["@hash"]),
    CommandSpec::new("hsetnx", 4, WRITE | DENYOOM | FAST, (1, 1, 1), hsetnx).acl(&["@hash"]),
    CommandSpec::new("hget", 3, READONLY | FAST, (1, 1, 1), hget).acl(&["@hash"]),
    CommandSpec::new("hmget", -3, READONLY | FAST, (1, 1, 1), hmget).acl(&["@hash"]),
    CommandSpec::new("hdel", -3, WRITE | FAST, (1, 1, 1), hdel).acl(&["@hash"]),
    CommandSpec::new("hexists", 3, READONLY | FAST, (1, 1, 1), hexists).acl(&["@hash"]),
    CommandSpec::new("hlen", 2, READONLY | FAST, (1, 1, 1), hlen).acl(&["@hash"]),
    CommandSpec::new("hkeys", 2, READONLY, (1, 1, 1), hkeys).acl(&["@hash"]),
    CommandSpec::new("hvals", 2, READONLY, (1, 1, 1), hvals).acl(&["@hash"]),
    CommandSpec::new("hgetall", 2, READONLY, (1, 1, 1), hgetall).acl(&["@hash"]),
    CommandSpec::new("hincrby", 4, WRITE | DENYOOM | FAST, (1, 1, 1), hincrby).acl(&["@hash"]),
    CommandSpec::new("hincrbyfloat", 4, WRITE | DENYOOM | FAST, (1, 1, 1), hincrbyfloat).acl(&["@hash"]),
    CommandSpec::new("hstrlen", 3, READONLY | FAST, (1, 1, 1), hstrlen).acl(&["@hash"]),
    CommandSpec::new("hscan", -3, READONLY, (1, 1, 1), hscan).acl(&["@hash"]),
    CommandSpec::new("hrandfield", -2, READONLY, (1, 1, 1), hrandfield).acl(&["@hash"]),
];

/// Collections up to this size keep Redis's compact-encoding behaviour
/// (ordered deletes, SCAN in one call).
pub(crate) const SMALL: usize = 128;

/// The hash at `key`: Ok(None) when missing, WRONGTYPE for other types.
fn read<'a>(db: &'a mut Db, key: &[u8], now: u64) -> Result<Option<&'a mut Hash>, CmdError> {
    match db.get_mut(key, now) {
        None => Ok(None),
        Some(e) => match &mut e.value {
            Value::Hash(h) => Ok(Some(h)),
            _ => Err(CmdError::wrong_type()),
        },
    }
}

/// The hash at `key`, created empty when missing.
fn write<'a>(db: &'a mut Db, key: &[u8], now: u64) -> Result<&'a mut Hash, CmdError> {
    match &mut db.get_or_insert_with(key, now, || Value::Hash(Hash::new())).value {
        Value::Hash(h) => Ok(h),
        _ => Err(CmdError::wrong_type()),
    }
}

fn set_fields(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> Result<i64, CmdError> {
    if argv.len() % 2 != 0 {
        return Err(CmdError::arity(&String::from_utf8_lossy(argv[0]).to_ascii_lowercase()));
    }
    let now = ctx.now();
    let db = ctx.db();
    let limits = db.limits;
    let h = write(db, argv[1], now)?;
    let mut added = 0;
    for pair in argv[2..].chunks_exact(2) {
        added += i64::from(h.insert(pair[0], pair[1], &limits));
    }
    ctx.dirty(((argv.len() - 2) / 2) as u64);
    ctx.notify(HASH, "hset", argv[1]);
    Ok(added)
}

fn hset(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let n = set_fields(ctx, argv)?;
    ctx.reply().int(n);
    Ok(())
}

fn hmset(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    set_fields(ctx, argv)?;
    ctx.reply().ok();
    Ok(())
}

fn hsetnx(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let now = ctx.now();
    let db = ctx.db();
    let limits = db.limits;
    let h = write(db, argv[1], now)?;
    if h.contains_key(argv[2]) {
        ctx.reply().int(0);
    } else {
        h.insert(argv[2], argv[3], &limits);
        ctx.dirty(1);
        ctx.notify(HASH, "hset", argv[1]);
        ctx.reply().int(1);
    }
    Ok(())
}

fn hget(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let now = ctx.now();
    let i = ctx.client.db;
    match read(&mut ctx.node.keyspace.dbs[i], argv[1], now)?.and_then(|h| h.get(argv[2])) {
        Some(v) => ctx.client.reply.bulk(&v),
        None => ctx.client.reply.null(),
    }
    Ok(())
}

fn hmget(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let now = ctx.now();
    let i = ctx.client.db;
    let h = read(&mut ctx.node.keyspace.dbs[i], argv[1], now)?;
    let r = &mut ctx.client.reply;
    r.array(argv.len() - 2);
    for f in &argv[2..] {
        match h.as_ref().and_then(|h| h.get(f)) {
            Some(v) => r.bulk(&v),
            None => r.null(),
        }
    }
    Ok(())
}

fn hdel(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let now = ctx.now();
    let mut n = 0;
    if let Some(h) = read(ctx.db(), argv[1], now)? {
        for f in &argv[2..] {
            if h.remove(f) {
                n += 1;
                if h.is_empty() {
                    break;
                }
            }
        }
    }
    if n > 0 {
        ctx.notify(HASH, "hdel", argv[1]);
        ctx.remove_if_empty(argv[1]);
        ctx.dirty(n);
    }
    ctx.reply().int(n as i64);
    Ok(())
}

fn hexists(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let now = ctx.now();
    let found = read(ctx.db(), argv[1], now)?.is_some_and(|h| h.contains_key(argv[2]));
    ctx.reply().int(found as i64);
    Ok(())
}

fn hlen(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let now = ctx.now();
    let n = read(ctx.db(), argv[1], now)?.map_or(0, |h| h.len());
    ctx.reply().int(n as i64);
    Ok(())
}

/// Shared body of HKEYS/HVALS/HGETALL: which halves of each pair to send.
fn hget_many(ctx: &mut Ctx<'_>, key: &[u8], keys: bool, vals: bool) -> CmdResult {
    let now = ctx.now();
    let i = ctx.client.db;
    let h = read(&mut ctx.node.keyspace.dbs[i], key, now)?;
    let r = &mut ctx.client.reply;
    let Some(h) = h else {
        if keys && vals {
            r.map(0);
        } else {
            r.array(0);
        }
        return Ok(());
    };
    if keys && vals {
        r.map(h.len());
    } else {
        r.array(h.len());
    }
    h.reply_each(r, keys, vals);
    Ok(())
}

fn hkeys(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    hget_many(ctx, argv[1], true, false)
}

fn hvals(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    hget_many(ctx, argv[1], false, true)
}

fn hgetall(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    hget_many(ctx, argv[1], true, true)
}

fn hincrby(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let by = parse_i64(argv[3])?;
    let now = ctx.now();
    let db = ctx.db();
    let limits = db.limits;
    let h = write(db, argv[1], now)?;
    let cur = match h.get(argv[2]) {
        Some(v) => strict_i64(&v).ok_or_else(|| CmdError::new("ERR hash value is not an integer"))?,
        None => 0,
    };
    let Some(new) = cur.checked_add(by) else {
        ctx.db().remove_if_empty(argv[1]);
        return Err(CmdError::overflow());
    };
    h.insert(argv[2], itoa::Buffer::new().format(new).as_bytes(), &limits);
    ctx.dirty(1);
    ctx.notify(HASH, "hincrby", argv[1]);
    ctx.reply().int(new);
    Ok(())
}

fn hincrbyfloat(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let by = parse_f64(argv[3])?;
    if !by.is_finite() {
        return Err(CmdError::new("ERR value is NaN or Infinity"));
    }
    let now = ctx.now();
    let db = ctx.db();
    let limits = db.limits;
    let h = write(db, argv[1], now)?;
    let cur = match h.get(argv[2]) {
        Some(v) => super::args::parse_float_opt(&v).ok_or_else(|| CmdError::new("ERR hash value is not a float"))?,
        None => 0.0,
    };
    let new = cur + by;
    if !new.is_finite() {
        ctx.db().remove_if_empty(argv[1]);
        return Err(CmdError::new("ERR increment would produce NaN or Infinity"));
    }
    let text = format_float_value(new);
    h.insert(argv[2], text.as_bytes(), &limits);
    ctx.dirty(1);
    ctx.notify(HASH, "hincrbyfloat", argv[1]);
    ctx.reply().bulk(text.as_bytes());
    // Replicas must store the same text, not redo the float arithmetic.
    ctx.propagate_as(vec![b"HSET".to_vec(), argv[1].to_vec(), argv[2].to_vec(), text.into_bytes()]);
    Ok(())
}

fn hstrlen(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let now = ctx.now();
    let n = read(ctx.db(), argv[1], now)?.and_then(|h| h.get(argv[2]).map(|v| v.len())).unwrap_or(0);
    ctx.reply().int(n as i64);
    Ok(())
}

/// One step over an index-addressed collection of `len` items for the *SCAN
/// commands: small ones go in one call (cursor 0) like Redis's compact
/// encodings; larger ones walk from the end so a `swap_remove` never hides an
/// item present for the whole scan. Returns (next cursor, indexes to visit).
pub(crate) fn scan_positions(len: usize, cursor: u64, count: usize) -> (u64, std::ops::Range<usize>) {
    if len <= SMALL {
        return (0, 0..len);
    }
    let remaining = if cursor == 0 { len } else { (cursor as usize).min(len) };
    let from = remaining.saturating_sub(count);
    let next = if from == 0 { 0 } else { from as u64 };
    (next, from..remaining)
}

/// Writes a SCAN-family reply: the cursor then the flat item list.
pub(crate) fn reply_scan(ctx: &mut Ctx<'_>, next: u64, items: &[&[u8]]) {
    let r = ctx.reply();
    r.array(2);
    r.bulk(next.to_string().as_bytes());
    r.array(items.len());
    for it in items {
        r.bulk(it);
    }
}

fn hscan(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let cursor = parse_cursor(argv[2])?;
    let o = parse_scan_opts(argv, 3, false)?;
    let now = ctx.now();
    let i = ctx.client.db;
    let Some(h) = read(&mut ctx.node.keyspace.dbs[i], argv[1], now)? else {
        reply_scan(ctx, 0, &[]);
        return Ok(());
    };
    // A listpack is returned whole in one call, as Redis does.
    let (next, range) = if matches!(h, Hash::Pack(_)) { (0, 0..h.len()) } else { scan_positions(h.len(), cursor, o.count) };
    let mut items = Vec::new();
    let pairs: Vec<_> = match h {
        Hash::Pack(_) => h.iter().collect(),
        Hash::Table(_) => range.filter_map(|i| h.get_index(i)).collect(),
    };
    for (k, v) in pairs {
        if o.pattern.is_none_or(|p| glob_match(p, &k, false)) {
            items.push(k);
            items.push(v);
        }
    }
    let r = &mut ctx.client.reply;
    r.array(2);
    r.bulk(next.to_string().as_bytes());
    r.array(items.len());
    for it in items {
        r.bulk(&it);
    }
    Ok(())
}

/// Parses the count of HRANDFIELD/ZRANDMEMBER/SRANDMEMBER: (count, allow
/// repeats). `with_pairs` doubles the reply, so the bound is halved like Redis.
pub(crate) fn parse_rand_count(arg: &[u8], with_pairs: bool) -> Result<(usize, bool), CmdError> {
    let n = parse_i64(arg)?;
    if n >= 0 {
        return Ok((n as usize, false));
    }
    let limit = if with_pairs { i64::MAX / 2 } else { i64::MAX };
    if n < -limit {
        return Err(CmdError::new("ERR value is out of range"));
    }
    Ok((n.unsigned_abs() as usize, true))
}

/// Indexes for a random sample of `count` out of `len`: distinct unless `repeats`.
/// The indexes HRANDFIELD, SRANDMEMBER and ZRANDMEMBER answer for a count,
/// and how many: distinct ones sampled up front (at most the collection's
/// size), or, with repeats, drawn one at a time as the reply is written, so
/// a huge count allocates nothing up front and stops at the output limit.
pub(crate) fn picks(len: usize, count: usize, repeats: bool) -> (usize, Box<dyn Iterator<Item = usize>>) {
    let mut rng = rand::thread_rng();
    if len == 0 {
        return (0, Box::new(std::iter::empty()));
    }
    if repeats {
        return (count, Box::new((0..count).map(move |_| rng.gen_range(0..len))));
    }
    if count >= len {
        return (len, Box::new(0..len));
    }
    let v = rand::seq::index::sample(&mut rng, len, count).into_vec();
    (v.len(), Box::new(v.into_iter()))
}

fn hrandfield(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let now = ctx.now();
    let i = ctx.client.db;
    let parsed = if argv.len() >= 3 {
        parse_i64(argv[2])?;
        let with_values = match argv.get(3) {
            None => false,
            Some(a) if is(a, "withvalues") && argv.len() == 4 => true,
            Some(_) => return Err(CmdError::syntax()),
        };
        Some((parse_rand_count(argv[2], with_values)?, with_values))
    } else {
        None
    };
    let h = read(&mut ctx.node.keyspace.dbs[i], argv[1], now)?;
    let room = ctx.client.reply_room();
    let r = &mut ctx.client.reply;
    let Some(((count, repeats), with_values)) = parsed else {
        match h.filter(|h| !h.is_empty()) {
            Some(h) => {
                let idx = rand::thread_rng().gen_range(0..h.len());
                match h.get_index(idx) {
                    Some((k, _)) => r.bulk(&k),
                    None => r.null(),
                }
            }
            None => r.null(),
        }
        return Ok(());
    };
    let Some(h) = h else {
        r.array(0);
        return Ok(());
    };
    let (n, picks) = picks(h.len(), count, repeats);
    if with_values && r.resp3 {
        r.array(n);
    } else {
        r.array(n * if with_values { 2 } else { 1 });
    }
    for idx in picks {
        if room.is_some_and(|m| r.buf.len() > m) {
            break;
        }
        if let Some((k, v)) = h.get_index(idx) {
            if with_values {
                if r.resp3 {
                    r.array(2);
                }
                r.bulk(&k);
                r.bulk(&v);
            } else {
                r.bulk(&k);
            }
        }
    }
    ctx.client.output_over_limit();
    Ok(())
}
