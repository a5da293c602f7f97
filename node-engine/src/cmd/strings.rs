//! String commands.

use super::args::{format_float_value, is, parse_f64, parse_i64, strict_i64};
use super::flags::*;
use super::{CmdError, CmdResult, CommandSpec, Ctx};
use crate::keyspace::{Key, Value};
use crate::util::events::{GENERIC, STRING};

pub const COMMANDS: &[CommandSpec] = &[
    CommandSpec::new("get", 2, READONLY | FAST, (1, 1, 1), get).acl(&["@string"]),
    CommandSpec::new("set", -3, WRITE | DENYOOM, (1, 1, 1), set).acl(&["@string"]),
    CommandSpec::new("setnx", 3, WRITE | DENYOOM | FAST, (1, 1, 1), setnx).acl(&["@string"]),
    CommandSpec::new("setex", 4, WRITE | DENYOOM, (1, 1, 1), setex).acl(&["@string"]),
    CommandSpec::new("psetex", 4, WRITE | DENYOOM, (1, 1, 1), psetex).acl(&["@string"]),
    CommandSpec::new("mget", -2, READONLY | FAST, (1, -1, 1), mget).acl(&["@string"]),
    CommandSpec::new("mset", -3, WRITE | DENYOOM, (1, -1, 2), mset).acl(&["@string"]),
    CommandSpec::new("msetnx", -3, WRITE | DENYOOM, (1, -1, 2), msetnx).acl(&["@string"]),
    CommandSpec::new("incr", 2, WRITE | DENYOOM | FAST, (1, 1, 1), incr).acl(&["@string"]),
    CommandSpec::new("decr", 2, WRITE | DENYOOM | FAST, (1, 1, 1), decr).acl(&["@string"]),
    CommandSpec::new("incrby", 3, WRITE | DENYOOM | FAST, (1, 1, 1), incrby).acl(&["@string"]),
    CommandSpec::new("decrby", 3, WRITE | DENYOOM | FAST, (1, 1, 1), decrby).acl(&["@string"]),
    CommandSpec::new("incrbyfloat", 3, WRITE | DENYOOM | FAST, (1, 1, 1), incrbyfloat).acl(&["@string"]),
    CommandSpec::new("append", 3, WRITE | DENYOOM | FAST, (1, 1, 1), append).acl(&["@string"]),
    CommandSpec::new("strlen", 2, READONLY | FAST, (1, 1, 1), strlen).acl(&["@string"]),
    CommandSpec::new("getrange", 4, READONLY, (1, 1, 1), getrange).acl(&["@string"]),
    CommandSpec::new("substr", 4, READONLY, (1, 1, 1), getrange).acl(&["@string"]),
    CommandSpec::new("setrange", 4, WRITE | DENYOOM, (1, 1, 1), setrange).acl(&["@string"]),
    CommandSpec::new("getset", 3, WRITE | DENYOOM | FAST, (1, 1, 1), getset).acl(&["@string"]),
    CommandSpec::new("getdel", 2, WRITE | FAST, (1, 1, 1), getdel).acl(&["@string"]),
    CommandSpec::new("getex", -2, WRITE | FAST, (1, 1, 1), getex).acl(&["@string"]),
    CommandSpec::new("lcs", -3, READONLY, (1, 2, 1), lcs).acl(&["@string"]),
];

/// Reads a string value: Ok(None) when missing, WRONGTYPE for other types.
pub fn read_str<'a>(ctx: &'a mut Ctx<'_>, key: &[u8]) -> Result<Option<&'a [u8]>, CmdError> {
    let now = ctx.now();
    match ctx.db().get(key, now) {
        None => Ok(None),
        Some(e) => match &e.value {
            Value::Str(s) => Ok(Some(s)),
            _ => Err(CmdError::wrong_type()),
        },
    }
}

fn get(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let now = ctx.now();
    let i = ctx.client.db;
    let db = &mut ctx.node.keyspace.dbs[i];
    match db.get(argv[1], now) {
        None => {
            ctx.node.stats.keyspace_misses += 1;
            ctx.client.reply.null();
        }
        Some(e) => match &e.value {
            Value::Str(s) => {
                ctx.client.reply.bulk(s);
                ctx.node.stats.keyspace_hits += 1;
            }
            _ => return Err(CmdError::wrong_type()),
        },
    }
    Ok(())
}

/// Expiry given by SET/GETEX options.
enum Ttl {
    Keep,
    Clear,
    At(u64),
}

/// An EX/PX/EXAT/PXAT argument as an absolute deadline in ms, checked as
/// Redis's getExpireMillisecondsOrReply does (signed 64-bit arithmetic).
fn parse_expire_arg(unit_ms: u64, absolute: bool, arg: &[u8], now: u64, cmd: &str) -> Result<u64, CmdError> {
    let invalid = || CmdError::new(format!("ERR invalid expire time in '{cmd}' command"));
    let n = parse_i64(arg)?;
    if n <= 0 {
        return Err(invalid());
    }
    let ms = n.checked_mul(unit_ms as i64).ok_or_else(invalid)?;
    let at = if absolute { ms } else { ms.checked_add(now as i64).ok_or_else(invalid)? };
    if at <= 0 {
        return Err(invalid());
    }
    Ok(at as u64)
}

fn set(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let now = ctx.now();
    let (mut nx, mut xx, mut get_old) = (false, false, false);
    let mut ttl = Ttl::Clear;
    let mut ttl_given = false;
    let mut i = 3;
    while i < argv.len() {
        let a = argv[i];
        let next = argv.get(i + 1);
        if is(a, "nx") && !xx {
            nx = true;
        } else if is(a, "xx") && !nx {
            xx = true;
        } else if is(a, "get") {
            get_old = true;
        } else if is(a, "keepttl") && !ttl_given {
            ttl = Ttl::Keep;
            ttl_given = true;
        } else if !ttl_given && (is(a, "ex") || is(a, "px") || is(a, "exat") || is(a, "pxat")) && next.is_some() {
            let unit = if is(a, "ex") || is(a, "exat") { 1000 } else { 1 };
            let abs = is(a, "exat") || is(a, "pxat");
            let at = parse_expire_arg(unit, abs, next.map_or(&b""[..], |v| v), now, "set")?;
            ttl = Ttl::At(at);
            ttl_given = true;
            i += 1;
        } else {
            return Err(CmdError::syntax());
        }
        i += 1;
    }
    let key = argv[1];
    let old: Option<Option<Key>> = if get_old { Some(read_str(ctx, key)?.map(Into::into)) } else { None };
    let exists = match &old {
        Some(o) => o.is_some() || ctx.db().contains(key, now),
        None => (nx || xx) && ctx.db().contains(key, now),
    };
    if (nx && exists) || (xx && !exists) {
        match old {
            Some(Some(v)) => ctx.reply().bulk(&v),
            _ => ctx.reply().null(),
        }
        return Ok(());
    }
    let value = Value::Str(argv[2].into());
    let db = ctx.db();
    match ttl {
        Ttl::Keep => {
            let keep = db.get(key, now).map_or(0, |e| e.expire_at);
            db.set_with_expire(key, value, keep);
        }
        Ttl::Clear => db.set(key, value),
        Ttl::At(at) => {
            db.set_with_expire(key, value, at);
            if at <= now {
                db.remove(key, now);
            }
            ctx.propagate_as(vec![b"SET".to_vec(), key.to_vec(), argv[2].to_vec(), b"PXAT".to_vec(), at.to_string().into_bytes()]);
        }
    }
    ctx.dirty(1);
    ctx.notify(STRING, "set", key);
    if ttl_given && !matches!(ttl, Ttl::Keep) {
        ctx.notify(GENERIC, "expire", key);
    }
    match old {
        Some(Some(v)) => ctx.reply().bulk(&v),
        Some(None) => ctx.reply().null(),
        None => ctx.reply().ok(),
    }
    Ok(())
}

fn setnx(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let now = ctx.now();
    if ctx.db().contains(argv[1], now) {
        ctx.reply().int(0);
    } else {
        ctx.db().set(argv[1], Value::Str(argv[2].into()));
        ctx.dirty(1);
        ctx.notify(STRING, "set", argv[1]);
        ctx.reply().int(1);
    }
    Ok(())
}

fn setex_common(ctx: &mut Ctx<'_>, argv: &[&[u8]], unit: u64, name: &str) -> CmdResult {
    let now = ctx.now();
    let at = parse_expire_arg(unit, false, argv[2], now, name)?;
    ctx.db().set_with_expire(argv[1], Value::Str(argv[3].into()), at);
    ctx.propagate_as(vec![b"SET".to_vec(), argv[1].to_vec(), argv[3].to_vec(), b"PXAT".to_vec(), at.to_string().into_bytes()]);
    ctx.dirty(1);
    ctx.notify(STRING, "set", argv[1]);
    ctx.notify(GENERIC, "expire", argv[1]);
    ctx.reply().ok();
    Ok(())
}

fn setex(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    setex_common(ctx, argv, 1000, "setex")
}

fn psetex(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    setex_common(ctx, argv, 1, "psetex")
}

fn mget(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let now = ctx.now();
    ctx.client.reply.array(argv.len() - 1);
    let i = ctx.client.db;
    for key in &argv[1..] {
        match ctx.node.keyspace.dbs[i].get(key, now).map(|e| &e.value) {
            Some(Value::Str(s)) => ctx.client.reply.bulk(s),
            _ => ctx.client.reply.null(),
        }
    }
    Ok(())
}

fn mset(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    if argv.len() % 2 != 1 {
        return Err(CmdError::arity("mset"));
    }
    for pair in argv[1..].chunks(2) {
        ctx.db().set(pair[0], Value::Str(pair[1].into()));
        ctx.notify(STRING, "set", pair[0]);
    }
    ctx.dirty((argv.len() / 2) as u64);
    ctx.reply().ok();
    Ok(())
}

fn msetnx(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    if argv.len() % 2 != 1 {
        return Err(CmdError::arity("msetnx"));
    }
    let now = ctx.now();
    if argv[1..].chunks(2).any(|p| ctx.db().contains(p[0], now)) {
        ctx.reply().int(0);
        return Ok(());
    }
    for pair in argv[1..].chunks(2) {
        ctx.db().set(pair[0], Value::Str(pair[1].into()));
        ctx.notify(STRING, "set", pair[0]);
    }
    ctx.dirty((argv.len() / 2) as u64);
    ctx.reply().int(1);
    Ok(())
}

/// INCR family: parse, add with overflow check, store keeping the TTL.
fn incr_by(ctx: &mut Ctx<'_>, key: &[u8], delta: i64) -> CmdResult {
    let now = ctx.now();
    let db = ctx.db();
    let new = match db.get_mut(key, now) {
        Some(e) => {
            let Value::Str(s) = &mut e.value else {
                return Err(CmdError::wrong_type());
            };
            let cur = strict_i64(s).ok_or_else(CmdError::not_integer)?;
            // The result is a new integer object, as in Redis.
            e.raw = false;
            let new = cur.checked_add(delta).ok_or_else(CmdError::overflow)?;
            let mut buf = itoa(new);
            *s = buf.as_slice_mut().into();
            new
        }
        None => {
            db.set(key, Value::Str(itoa(delta).as_slice_mut().into()));
            delta
        }
    };
    ctx.dirty(1);
    ctx.notify(STRING, "incrby", key);
    ctx.reply().int(new);
    Ok(())
}

struct Itoa([u8; 20], usize);
impl Itoa {
    fn as_slice_mut(&mut self) -> &[u8] {
        &self.0[self.1..]
    }
}
fn itoa(n: i64) -> Itoa {
    let mut b = [0u8; 20];
    let mut i = 20;
    let mut v = n.unsigned_abs();
    loop {
        i -= 1;
        b[i] = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    if n < 0 {
        i -= 1;
        b[i] = b'-';
    }
    Itoa(b, i)
}

fn incr(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    incr_by(ctx, argv[1], 1)
}
fn decr(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    incr_by(ctx, argv[1], -1)
}
fn incrby(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    incr_by(ctx, argv[1], parse_i64(argv[2])?)
}
fn decrby(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let d = parse_i64(argv[2])?;
    if d == i64::MIN {
        return Err(CmdError::new("ERR decrement would overflow"));
    }
    incr_by(ctx, argv[1], -d)
}

fn incrbyfloat(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let delta = parse_f64(argv[2])?;
    let cur = match read_str(ctx, argv[1])? {
        Some(s) => super::args::parse_float_opt(s).ok_or_else(CmdError::not_float)?,
        None => 0.0,
    };
    let new = cur + delta;
    if new.is_nan() || new.is_infinite() {
        return Err(CmdError::new("ERR increment would produce NaN or Infinity"));
    }
    let text = format_float_value(new);
    let now = ctx.now();
    let keep = ctx.db().get(argv[1], now).map_or(0, |e| e.expire_at);
    ctx.db().set_with_expire(argv[1], Value::Str(text.as_bytes().into()), keep);
    ctx.propagate_as(vec![b"SET".to_vec(), argv[1].to_vec(), text.clone().into_bytes(), b"KEEPTTL".to_vec()]);
    ctx.dirty(1);
    ctx.notify(STRING, "incrbyfloat", argv[1]);
    ctx.reply().bulk(text.as_bytes());
    Ok(())
}

fn append(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let now = ctx.now();
    let db = ctx.db();
    let len = match db.get_mut(argv[1], now) {
        Some(e) => {
            let Value::Str(s) = &mut e.value else {
                return Err(CmdError::wrong_type());
            };
            e.raw = true;
            let mut v = std::mem::take(s).into_vec();
            v.extend_from_slice(argv[2]);
            let len = v.len();
            *s = v.into_boxed_slice();
            len
        }
        None => {
            db.set(argv[1], Value::Str(argv[2].into()));
            argv[2].len()
        }
    };
    ctx.dirty(1);
    ctx.notify(STRING, "append", argv[1]);
    ctx.reply().int(len as i64);
    Ok(())
}

fn strlen(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let n = read_str(ctx, argv[1])?.map_or(0, |s| s.len());
    ctx.reply().int(n as i64);
    Ok(())
}

fn getrange(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let start = parse_i64(argv[2])?;
    let end = parse_i64(argv[3])?;
    // Redis's getrangeCommand: unlike LRANGE, a negative end clamps to 0.
    let out: Vec<u8> = match read_str(ctx, argv[1])? {
        Some(s) if !(s.is_empty() || start < 0 && end < 0 && start > end) => {
            let len = s.len() as i64;
            let a = if start < 0 { (len + start).max(0) } else { start };
            let b = if end < 0 { (len + end).max(0) } else { end.min(len - 1) };
            if a > b {
                Vec::new()
            } else {
                s[a as usize..=b as usize].to_vec()
            }
        }
        _ => Vec::new(),
    };
    ctx.reply().bulk(&out);
    Ok(())
}

fn setrange(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let offset = parse_i64(argv[2])?;
    if offset < 0 {
        return Err(CmdError::new("ERR offset is out of range"));
    }
    let offset = offset as usize;
    let value = argv[3];
    if offset + value.len() > 512 * 1024 * 1024 {
        return Err(CmdError::new("ERR string exceeds maximum allowed size (proto-max-bulk-len)"));
    }
    let cur: Option<Vec<u8>> = read_str(ctx, argv[1])?.map(<[u8]>::to_vec);
    let now = ctx.now();
    let Some(mut v) = cur else {
        if value.is_empty() {
            ctx.reply().int(0);
            return Ok(());
        }
        let mut v = vec![0u8; offset];
        v.extend_from_slice(value);
        let len = v.len();
        ctx.db().set(argv[1], Value::Str(v.into_boxed_slice()));
        mark_raw(ctx, argv[1]);
        ctx.dirty(1);
        ctx.notify(STRING, "setrange", argv[1]);
        ctx.reply().int(len as i64);
        return Ok(());
    };
    if !value.is_empty() {
        if v.len() < offset + value.len() {
            v.resize(offset + value.len(), 0);
        }
        v[offset..offset + value.len()].copy_from_slice(value);
        let keep = ctx.db().get(argv[1], now).map_or(0, |e| e.expire_at);
        ctx.db().set_with_expire(argv[1], Value::Str(v.clone().into_boxed_slice()), keep);
        mark_raw(ctx, argv[1]);
        ctx.dirty(1);
        ctx.notify(STRING, "setrange", argv[1]);
    }
    ctx.reply().int(v.len() as i64);
    Ok(())
}

/// Records that a string was edited in place (Redis's `raw` encoding).
pub fn mark_raw(ctx: &mut Ctx<'_>, key: &[u8]) {
    let now = ctx.now();
    if let Some(e) = ctx.db().get_mut(key, now) {
        e.raw = true;
    }
}

fn getset(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let old: Option<Vec<u8>> = read_str(ctx, argv[1])?.map(<[u8]>::to_vec);
    ctx.db().set(argv[1], Value::Str(argv[2].into()));
    ctx.dirty(1);
    ctx.notify(STRING, "set", argv[1]);
    // Replicas and the AOF get a SET (Redis rewrites GETSET so).
    ctx.propagate_as(vec![b"SET".to_vec(), argv[1].to_vec(), argv[2].to_vec()]);
    match old {
        Some(v) => ctx.reply().bulk(&v),
        None => ctx.reply().null(),
    }
    Ok(())
}

fn getdel(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let old: Option<Vec<u8>> = read_str(ctx, argv[1])?.map(<[u8]>::to_vec);
    match old {
        Some(v) => {
            let now = ctx.now();
            ctx.db().remove(argv[1], now);
            ctx.propagate_as(vec![b"DEL".to_vec(), argv[1].to_vec()]);
            ctx.dirty(1);
            ctx.notify(GENERIC, "del", argv[1]);
            ctx.reply().bulk(&v);
        }
        None => ctx.reply().null(),
    }
    Ok(())
}

fn getex(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let now = ctx.now();
    let mut ttl = Ttl::Keep;
    let mut i = 2;
    let mut seen = false;
    while i < argv.len() {
        let a = argv[i];
        if is(a, "persist") && !seen {
            ttl = Ttl::Clear;
            seen = true;
        } else if !seen && (is(a, "ex") || is(a, "px") || is(a, "exat") || is(a, "pxat")) && i + 1 < argv.len() {
            let unit = if is(a, "ex") || is(a, "exat") { 1000 } else { 1 };
            let abs = is(a, "exat") || is(a, "pxat");
            ttl = Ttl::At(parse_expire_arg(unit, abs, argv[i + 1], now, "getex")?);
            seen = true;
            i += 1;
        } else {
            return Err(CmdError::syntax());
        }
        i += 1;
    }
    let Some(v) = read_str(ctx, argv[1])?.map(<[u8]>::to_vec) else {
        ctx.reply().null();
        return Ok(());
    };
    match ttl {
        Ttl::Keep => {}
        Ttl::Clear => {
            if ctx.db().get(argv[1], now).is_some_and(|e| e.expire_at != 0) {
                ctx.db().set_expire(argv[1], 0, now);
                ctx.propagate_as(vec![b"PERSIST".to_vec(), argv[1].to_vec()]);
                ctx.dirty(1);
                ctx.notify(GENERIC, "persist", argv[1]);
            }
        }
        Ttl::At(at) => {
            if at <= now {
                ctx.db().remove(argv[1], now);
                ctx.propagate_as(vec![b"DEL".to_vec(), argv[1].to_vec()]);
                ctx.notify(GENERIC, "del", argv[1]);
            } else {
                ctx.db().set_expire(argv[1], at, now);
                ctx.propagate_as(vec![b"PEXPIREAT".to_vec(), argv[1].to_vec(), at.to_string().into_bytes()]);
                ctx.notify(GENERIC, "expire", argv[1]);
            }
            ctx.dirty(1);
        }
    }
    ctx.reply().bulk(&v);
    Ok(())
}

/// One range LCS IDX reports: positions in each string and its length.
struct LcsMatch {
    a: (usize, usize),
    b: (usize, usize),
    len: usize,
}

/// LCS: the longest common subsequence of two strings (dynamic programming
/// over a table Redis caps at proto-max-bulk-len bytes), its length, or the
/// matching ranges found walking the table back from the end.
fn lcs(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let mut both: [Vec<u8>; 2] = [Vec::new(), Vec::new()];
    for (slot, key) in both.iter_mut().zip(&argv[1..3]) {
        match read_str(ctx, key) {
            Ok(v) => *slot = v.map(<[u8]>::to_vec).unwrap_or_default(),
            Err(_) => return Err(CmdError::new("ERR The specified keys must contain string values")),
        }
    }
    let [a, b] = both;
    let (mut getlen, mut getidx, mut withmatchlen, mut minmatchlen) = (false, false, false, 0i64);
    let mut j = 3;
    while j < argv.len() {
        let opt = argv[j];
        if is(opt, "idx") {
            getidx = true;
        } else if is(opt, "len") {
            getlen = true;
        } else if is(opt, "withmatchlen") {
            withmatchlen = true;
        } else if is(opt, "minmatchlen") && j + 1 < argv.len() {
            minmatchlen = parse_i64(argv[j + 1])?.max(0);
            j += 1;
        } else {
            return Err(CmdError::syntax());
        }
        j += 1;
    }
    if getlen && getidx {
        return Err(CmdError::new("ERR If you want both the length and indexes, please just use IDX."));
    }
    let (alen, blen) = (a.len(), b.len());
    let cells = (alen as u64 + 1) * (blen as u64 + 1);
    let max_bulk = ctx.node.config.int_named("proto-max-bulk-len", 512 << 20).max(0) as u64;
    if cells.saturating_mul(4) > max_bulk {
        return Err(CmdError::new("ERR Insufficient memory, transient memory for LCS exceeds proto-max-bulk-len"));
    }
    let w = blen + 1;
    let mut t = vec![0u32; cells as usize];
    for i in 1..=alen {
        for k in 1..=blen {
            t[i * w + k] = if a[i - 1] == b[k - 1] { t[(i - 1) * w + k - 1] + 1 } else { t[(i - 1) * w + k].max(t[i * w + k - 1]) };
        }
    }
    let total = t[alen * w + blen];
    if getlen {
        ctx.reply().int(total as i64);
        return Ok(());
    }
    let mut result = vec![0u8; total as usize];
    let mut idx = total as usize;
    // Matched ranges; a_start == alen below means "none open".
    let mut ranges: Vec<LcsMatch> = Vec::new();
    let (mut as_, mut ae, mut bs, mut be) = (alen, 0usize, 0usize, 0usize);
    let (mut i, mut k) = (alen, blen);
    while i > 0 && k > 0 {
        let mut emit = false;
        if a[i - 1] == b[k - 1] {
            result[idx - 1] = a[i - 1];
            if as_ == alen {
                (as_, ae, bs, be) = (i - 1, i - 1, k - 1, k - 1);
            } else if as_ == i && bs == k {
                as_ -= 1;
                bs -= 1;
            } else {
                emit = true;
            }
            if as_ == 0 || bs == 0 {
                emit = true;
            }
            idx -= 1;
            i -= 1;
            k -= 1;
        } else {
            if t[(i - 1) * w + k] > t[i * w + k - 1] {
                i -= 1;
            } else {
                k -= 1;
            }
            if as_ != alen {
                emit = true;
            }
        }
        if emit {
            let len = ae.wrapping_sub(as_).wrapping_add(1);
            if minmatchlen == 0 || len as i64 >= minmatchlen {
                ranges.push(LcsMatch { a: (as_, ae), b: (bs, be), len });
            }
            as_ = alen;
        }
    }
    if !getidx {
        ctx.reply().bulk(&result);
        return Ok(());
    }
    let r = ctx.reply();
    r.map(2);
    r.bulk(b"matches");
    r.array(ranges.len());
    for LcsMatch { a: (a0, a1), b: (b0, b1), len } in ranges {
        r.array(2 + withmatchlen as usize);
        r.array(2);
        r.int(a0 as i64);
        r.int(a1 as i64);
        r.array(2);
        r.int(b0 as i64);
        r.int(b1 as i64);
        if withmatchlen {
            r.int(len as i64);
        }
    }
    r.bulk(b"len");
    r.int(total as i64);
    Ok(())
}
