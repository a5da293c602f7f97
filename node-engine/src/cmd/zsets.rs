//! Sorted-set commands. Every range form (by rank, score or lex, forward or
//! REV, with LIMIT) is resolved to a span of ascending ranks first, so the
//! reply length is known up front and members stream straight into the reply.

use super::args::{is, normalize_range, parse_f64, parse_float_opt, parse_i64};
use super::flags::*;
use super::hashes::{parse_rand_count, picks};
use super::keys::{parse_cursor, parse_scan_opts};
use super::lists::{block_on, multi_pop_command, parse_timeout, skip_wrong_type_on_retry, MultiPop};
use super::sets::parse_numkeys_limit;
use super::{keys_numkeys_at1, keys_numkeys_at2, numkeys_from, CmdError, CmdResult, CommandSpec, Ctx};
use crate::glob::glob_match;
use crate::keyspace::zset::Member;
use crate::keyspace::{Db, Value, ZSet};
use crate::resp::reply::format_double;
use crate::resp::ReplyBuf;
use crate::util::events::{GENERIC, ZSET};
use std::collections::HashMap;

pub const COMMANDS: &[CommandSpec] = &[
    CommandSpec::new("zadd", -4, WRITE | DENYOOM | FAST, (1, 1, 1), zadd).acl(&["@sortedset"]),
    CommandSpec::new("zincrby", 4, WRITE | DENYOOM | FAST, (1, 1, 1), zincrby).acl(&["@sortedset"]),
    CommandSpec::new("zrem", -3, WRITE | FAST, (1, 1, 1), zrem).acl(&["@sortedset"]),
    CommandSpec::new("zscore", 3, READONLY | FAST, (1, 1, 1), zscore).acl(&["@sortedset"]),
    CommandSpec::new("zmscore", -3, READONLY | FAST, (1, 1, 1), zmscore).acl(&["@sortedset"]),
    CommandSpec::new("zcard", 2, READONLY | FAST, (1, 1, 1), zcard).acl(&["@sortedset"]),
    CommandSpec::new("zcount", 4, READONLY | FAST, (1, 1, 1), zcount).acl(&["@sortedset"]),
    CommandSpec::new("zlexcount", 4, READONLY | FAST, (1, 1, 1), zlexcount).acl(&["@sortedset"]),
    CommandSpec::new("zrange", -4, READONLY, (1, 1, 1), zrange).acl(&["@sortedset"]),
    CommandSpec::new("zrangestore", -5, WRITE | DENYOOM, (1, 2, 1), zrangestore).acl(&["@sortedset"]),
    CommandSpec::new("zrevrange", -4, READONLY, (1, 1, 1), zrevrange).acl(&["@sortedset"]),
    CommandSpec::new("zrangebyscore", -4, READONLY, (1, 1, 1), zrangebyscore).acl(&["@sortedset"]),
    CommandSpec::new("zrevrangebyscore", -4, READONLY, (1, 1, 1), zrevrangebyscore).acl(&["@sortedset"]),
    CommandSpec::new("zrangebylex", -4, READONLY, (1, 1, 1), zrangebylex).acl(&["@sortedset"]),
    CommandSpec::new("zrevrangebylex", -4, READONLY, (1, 1, 1), zrevrangebylex).acl(&["@sortedset"]),
    CommandSpec::new("zrank", 3, READONLY | FAST, (1, 1, 1), zrank).acl(&["@sortedset"]),
    CommandSpec::new("zrevrank", 3, READONLY | FAST, (1, 1, 1), zrevrank).acl(&["@sortedset"]),
    CommandSpec::new("zpopmin", -2, WRITE | FAST, (1, 1, 1), zpopmin).acl(&["@sortedset"]),
    CommandSpec::new("zpopmax", -2, WRITE | FAST, (1, 1, 1), zpopmax).acl(&["@sortedset"]),
    CommandSpec::new("bzpopmin", -3, WRITE | NOSCRIPT | FAST | BLOCKING, (1, -2, 1), bzpopmin).acl(&["@sortedset"]),
    CommandSpec::new("bzpopmax", -3, WRITE | NOSCRIPT | FAST | BLOCKING, (1, -2, 1), bzpopmax).acl(&["@sortedset"]),
    CommandSpec::new("zremrangebyrank", 4, WRITE, (1, 1, 1), zremrangebyrank).acl(&["@sortedset"]),
    CommandSpec::new("zremrangebyscore", 4, WRITE, (1, 1, 1), zremrangebyscore).acl(&["@sortedset"]),
    CommandSpec::new("zremrangebylex", 4, WRITE, (1, 1, 1), zremrangebylex).acl(&["@sortedset"]),
    CommandSpec::new("zunionstore", -4, WRITE | DENYOOM, (1, 1, 1), zunionstore).acl(&["@sortedset"]).with_keys(keys_store_numkeys),
    CommandSpec::new("zinterstore", -4, WRITE | DENYOOM, (1, 1, 1), zinterstore).acl(&["@sortedset"]).with_keys(keys_store_numkeys),
    CommandSpec::new("zdiffstore", -4, WRITE | DENYOOM, (1, 1, 1), zdiffstore).acl(&["@sortedset"]).with_keys(keys_store_numkeys),
    CommandSpec::new("zunion", -3, READONLY, (1, 1, 1), zunion).acl(&["@sortedset"]).with_keys(keys_numkeys_at1),
    CommandSpec::new("zinter", -3, READONLY, (1, 1, 1), zinter).acl(&["@sortedset"]).with_keys(keys_numkeys_at1),
    CommandSpec::new("zdiff", -3, READONLY, (1, 1, 1), zdiff).acl(&["@sortedset"]).with_keys(keys_numkeys_at1),
    CommandSpec::new("zintercard", -3, READONLY, (1, 1, 1), zintercard).acl(&["@sortedset"]).with_keys(keys_numkeys_at1),
    CommandSpec::new("zscan", -3, READONLY, (1, 1, 1), zscan).acl(&["@sortedset"]),
    CommandSpec::new("zrandmember", -2, READONLY, (1, 1, 1), zrandmember).acl(&["@sortedset"]),
    CommandSpec::new("zmpop", -4, WRITE, (0, 0, 0), zmpop).acl(&["@sortedset"]).with_keys(keys_numkeys_at1),
    CommandSpec::new("bzmpop", -5, WRITE | BLOCKING, (0, 0, 0), bzmpop).acl(&["@sortedset"]).with_keys(keys_numkeys_at2),
];

/// Key positions of `ZxxxSTORE dst numkeys key...`: the destination, then the counted keys.
fn keys_store_numkeys(argv: &[&[u8]]) -> Vec<usize> {
    let mut v = vec![1];
    v.extend(numkeys_from(argv, 2));
    v
}

/// The sorted set at `key`: Ok(None) when missing, WRONGTYPE for other types.
fn read<'a>(db: &'a mut Db, key: &[u8], now: u64) -> Result<Option<&'a mut ZSet>, CmdError> {
    match db.get_mut(key, now) {
        None => Ok(None),
        Some(e) => match &mut e.value {
            Value::ZSet(z) => Ok(Some(z)),
            _ => Err(CmdError::wrong_type()),
        },
    }
}

fn nan_error() -> CmdError {
    CmdError::new("ERR resulting score is not a number (NaN)")
}

/// Writes `n` (member, score) items: flat in RESP2, [member, double] pairs in RESP3.
fn write_items<'a>(r: &mut ReplyBuf, n: usize, withscores: bool, items: impl Iterator<Item = (Member<'a>, f64)>) {
    write_items_within(r, n, withscores, items, None);
}

/// As `write_items`, stopping once the reply passes `room` bytes (the client
/// is then over its output limit and closed: the rest would never be sent).
fn write_items_within<'a>(
    r: &mut ReplyBuf,
    n: usize,
    withscores: bool,
    items: impl Iterator<Item = (Member<'a>, f64)>,
    room: Option<usize>,
) {
    if withscores && !r.resp3 {
        r.array(n * 2);
    } else {
        r.array(n);
    }
    for (m, s) in items.take(n) {
        if room.is_some_and(|max| r.buf.len() > max) {
            break;
        }
        if withscores {
            if r.resp3 {
                r.array(2);
            }
            r.bulk(&m);
            r.double(s);
        } else {
            r.bulk(&m);
        }
    }
}

// ---------------------------------------------------------------- ranges

/// One end of a lex range.
#[derive(Clone, Copy)]
enum Lex<'a> {
    Min,
    Max,
    Incl(&'a [u8]),
    Excl(&'a [u8]),
}

fn parse_lex(arg: &[u8]) -> Result<Lex<'_>, CmdError> {
    match arg.first() {
        Some(b'-') if arg.len() == 1 => Ok(Lex::Min),
        Some(b'+') if arg.len() == 1 => Ok(Lex::Max),
        Some(b'[') => Ok(Lex::Incl(&arg[1..])),
        Some(b'(') => Ok(Lex::Excl(&arg[1..])),
        _ => Err(CmdError::new("ERR min or max not valid string range item")),
    }
}

/// Parses a score bound: `(x` is exclusive, `-inf`/`+inf` allowed.
fn parse_score_bound(arg: &[u8]) -> Result<(f64, bool), CmdError> {
    let err = || CmdError::new("ERR min or max is not a float");
    match arg.first() {
        Some(b'(') => parse_float_opt(&arg[1..]).map(|v| (v, true)).ok_or_else(err),
        _ => parse_float_opt(arg).map(|v| (v, false)).ok_or_else(err),
    }
}

/// A parsed range, validated before the key is looked up (as Redis does).
#[derive(Clone, Copy)]
enum Bounds<'a> {
    Rank(i64, i64),
    Score { min: f64, min_ex: bool, max: f64, max_ex: bool },
    Lex { min: Lex<'a>, max: Lex<'a> },
}

impl<'a> Bounds<'a> {
    /// `lo`/`hi` as written in ascending order (callers swap for REV forms).
    fn score(lo: &[u8], hi: &[u8]) -> Result<Self, CmdError> {
        let (min, min_ex) = parse_score_bound(lo)?;
        let (max, max_ex) = parse_score_bound(hi)?;
        Ok(Bounds::Score { min, min_ex, max, max_ex })
    }
    fn lex(lo: &'a [u8], hi: &'a [u8]) -> Result<Self, CmdError> {
        Ok(Bounds::Lex { min: parse_lex(lo)?, max: parse_lex(hi)? })
    }

    /// The ascending ranks `[lo, hi)` the range covers in `z`.
    fn span(&self, z: &ZSet) -> (usize, usize) {
        match *self {
            Bounds::Rank(s, e) => match normalize_range(s, e, z.len()) {
                Some((s, e)) => (s, e + 1),
                None => (0, 0),
            },
            Bounds::Score { min, min_ex, max, max_ex } => {
                if min > max || (min == max && (min_ex || max_ex)) {
                    return (0, 0);
                }
                let lo = z.count_while(|_, s| s < min || (min_ex && s == min));
                let hi = z.count_while(|_, s| s < max || (!max_ex && s == max));
                (lo, hi.max(lo))
            }
            Bounds::Lex { min, max } => {
                let lo = z.count_while(|m, _| match min {
                    Lex::Min => false,
                    Lex::Max => true,
                    Lex::Incl(x) => m < x,
                    Lex::Excl(x) => m <= x,
                });
                let hi = z.count_while(|m, _| match max {
                    Lex::Min => false,
                    Lex::Max => true,
                    Lex::Incl(x) => m <= x,
                    Lex::Excl(x) => m < x,
                });
                (lo, hi.max(lo))
            }
        }
    }
}

/// A full range request: bounds, direction and LIMIT.
struct RangeQuery<'a> {
    bounds: Bounds<'a>,
    rev: bool,
    /// (offset, count); count < 0 means all.
    limit: Option<(i64, i64)>,
    withscores: bool,
}

impl RangeQuery<'_> {
    /// Number of items and an iterator over them in reply order.
    fn select<'z>(&self, z: &'z ZSet) -> (usize, Box<dyn Iterator<Item = (Member<'z>, f64)> + 'z>) {
        let (lo, hi) = match self.bounds {
            // Rank ranges with REV count from the top.
            Bounds::Rank(..) if self.rev => {
                let (s, e) = self.bounds.span(z);
                (z.len() - e, z.len() - s)
            }
            _ => self.bounds.span(z),
        };
        let mut n = hi - lo;
        let mut offset = 0usize;
        if let Some((off, count)) = self.limit {
            if off < 0 {
                return (0, Box::new(std::iter::empty()));
            }
            offset = (off as usize).min(n);
            n -= offset;
            if count >= 0 {
                n = n.min(count as usize);
            }
        }
        if n == 0 {
            return (0, Box::new(std::iter::empty()));
        }
        if self.rev {
            (n, Box::new(z.iter_down_from(hi - 1 - offset)))
        } else {
            (n, Box::new(z.iter_from(lo + offset)))
        }
    }
}

/// Which spelling of the range command is being parsed.
#[derive(Clone, Copy, PartialEq)]
enum RangeForm {
    /// ZRANGE / ZRANGESTORE with BYSCORE/BYLEX/REV/LIMIT options.
    Generic,
    Rank {
        rev: bool,
    },
    Score {
        rev: bool,
    },
    Lex {
        rev: bool,
    },
}

/// Parses `start stop [options]` at `argv[at..]` for every range command.
fn parse_range<'a>(argv: &[&'a [u8]], at: usize, form: RangeForm, allow_withscores: bool) -> Result<RangeQuery<'a>, CmdError> {
    let (a, b) = (argv[at], argv[at + 1]);
    let mut withscores = false;
    let mut limit = None;
    let (mut by_score, mut by_lex, mut rev) = (false, false, false);
    let mut i = at + 2;
    while i < argv.len() {
        let o = argv[i];
        if allow_withscores && is(o, "withscores") {
            withscores = true;
        } else if is(o, "limit") && i + 2 < argv.len() {
            limit = Some((parse_i64(argv[i + 1])?, parse_i64(argv[i + 2])?));
            i += 2;
        } else if form == RangeForm::Generic && is(o, "byscore") && !by_lex {
            by_score = true;
        } else if form == RangeForm::Generic && is(o, "bylex") && !by_score {
            by_lex = true;
        } else if form == RangeForm::Generic && is(o, "rev") {
            rev = true;
        } else {
            return Err(CmdError::syntax());
        }
        i += 1;
    }
    let (kind_score, kind_lex) = match form {
        RangeForm::Generic => (by_score, by_lex),
        RangeForm::Rank { rev: r } => {
            rev = r;
            (false, false)
        }
        RangeForm::Score { rev: r } => {
            rev = r;
            (true, false)
        }
        RangeForm::Lex { rev: r } => {
            rev = r;
            (false, true)
        }
    };
    if limit.is_some() && !kind_score && !kind_lex {
        return Err(CmdError::new("ERR syntax error, LIMIT is only supported in combination with either BYSCORE or BYLEX"));
    }
    if withscores && kind_lex {
        return Err(CmdError::new("ERR syntax error, WITHSCORES not supported in combination with BYLEX"));
    }
    // REV score/lex forms take `max min`.
    let (lo, hi) = if rev && (kind_score || kind_lex) { (b, a) } else { (a, b) };
    let bounds = if kind_score {
        Bounds::score(lo, hi)?
    } else if kind_lex {
        Bounds::lex(lo, hi)?
    } else {
        Bounds::Rank(parse_i64(a)?, parse_i64(b)?)
    };
    Ok(RangeQuery { bounds, rev, limit, withscores })
}

fn range_reply(ctx: &mut Ctx<'_>, argv: &[&[u8]], form: RangeForm) -> CmdResult {
    let q = parse_range(argv, 2, form, true)?;
    let now = ctx.now();
    let i = ctx.client.db;
    let z = read(&mut ctx.node.keyspace.dbs[i], argv[1], now)?;
    let r = &mut ctx.client.reply;
    match z {
        None => r.array(0),
        Some(z) => {
            let (n, items) = q.select(z);
            write_items(r, n, q.withscores, items);
        }
    }
    Ok(())
}

fn zrange(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    range_reply(ctx, argv, RangeForm::Generic)
}
fn zrevrange(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    range_reply(ctx, argv, RangeForm::Rank { rev: true })
}
fn zrangebyscore(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    range_reply(ctx, argv, RangeForm::Score { rev: false })
}
fn zrevrangebyscore(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    range_reply(ctx, argv, RangeForm::Score { rev: true })
}
fn zrangebylex(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    range_reply(ctx, argv, RangeForm::Lex { rev: false })
}
fn zrevrangebylex(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    range_reply(ctx, argv, RangeForm::Lex { rev: true })
}

/// Stores `z` at `dst` (deleting `dst` when empty) and replies with its size.
fn store_result(ctx: &mut Ctx<'_>, dst: &[u8], z: ZSet, event: &str) {
    let now = ctx.now();
    let n = z.len();
    let db = ctx.db();
    if n == 0 {
        if db.remove(dst, now).is_some() {
            ctx.dirty(1);
            ctx.notify(GENERIC, "del", dst);
        }
    } else {
        db.set(dst, Value::ZSet(z));
        ctx.dirty(1);
        ctx.notify(ZSET, event, dst);
    }
    ctx.reply().int(n as i64);
}

fn zrangestore(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let q = parse_range(argv, 3, RangeForm::Generic, false)?;
    let now = ctx.now();
    let mut out = ZSet::new();
    let limits = ctx.db().limits;
    if let Some(z) = read(ctx.db(), argv[2], now)? {
        let (n, items) = q.select(z);
        for (m, s) in items.take(n) {
            out.insert(&m, s, &limits);
        }
    }
    store_result(ctx, argv[1], out, "zrangestore");
    Ok(())
}

// ---------------------------------------------------------------- writes

pub(super) fn zadd(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let (mut nx, mut xx, mut gt, mut lt, mut ch, mut incr) = (false, false, false, false, false, false);
    let mut i = 2;
    while i < argv.len() {
        let a = argv[i];
        if is(a, "nx") {
            nx = true;
        } else if is(a, "xx") {
            xx = true;
        } else if is(a, "gt") {
            gt = true;
        } else if is(a, "lt") {
            lt = true;
        } else if is(a, "ch") {
            ch = true;
        } else if is(a, "incr") {
            incr = true;
        } else {
            break;
        }
        i += 1;
    }
    let pairs = &argv[i..];
    if pairs.is_empty() || pairs.len() % 2 != 0 {
        return Err(CmdError::syntax());
    }
    if nx && xx {
        return Err(CmdError::new("ERR XX and NX options at the same time are not compatible"));
    }
    if (nx && (gt || lt)) || (gt && lt) {
        return Err(CmdError::new("ERR GT, LT, and/or NX options at the same time are not compatible"));
    }
    if incr && pairs.len() > 2 {
        return Err(CmdError::new("ERR INCR option supports a single increment-element pair"));
    }
    // All scores are validated before anything changes.
    let mut scores: Vec<f64> = Vec::with_capacity(pairs.len() / 2);
    for p in pairs.chunks_exact(2) {
        // `+ 0.0` turns -0 into 0, which is how Redis stores it.
        scores.push(parse_f64(p[0])? + 0.0);
    }
    let now = ctx.now();
    let db = ctx.db();
    let limits = db.limits;
    let z = match read(db, argv[1], now)? {
        Some(z) => z,
        None if xx => {
            if incr {
                ctx.reply().null();
            } else {
                ctx.reply().int(0);
            }
            return Ok(());
        }
        None => match &mut db.get_or_insert_with(argv[1], now, || Value::ZSet(Default::default())).value {
            Value::ZSet(z) => z,
            _ => return Err(CmdError::wrong_type()),
        },
    };
    let (mut added, mut updated) = (0i64, 0i64);
    let mut incr_result = None;
    for (p, &score) in pairs.chunks_exact(2).zip(&scores) {
        let m = p[1];
        match z.score(m) {
            Some(cur) => {
                if nx {
                    continue;
                }
                let new = if incr { cur + score } else { score };
                if new.is_nan() {
                    ctx.db().remove_if_empty(argv[1]);
                    return Err(nan_error());
                }
                if (gt && new <= cur) || (lt && new >= cur) {
                    continue;
                }
                if new != cur {
                    z.insert(m, new, &limits);
                    updated += 1;
                }
                incr_result = Some(new);
            }
            None => {
                if xx {
                    continue;
                }
                z.insert(m, score, &limits);
                added += 1;
                incr_result = Some(score);
            }
        }
    }
    ctx.db().remove_if_empty(argv[1]);
    if added + updated > 0 {
        ctx.dirty((added + updated) as u64);
        ctx.notify(ZSET, if incr { "zincr" } else { "zadd" }, argv[1]);
    }
    if incr {
        match incr_result {
            Some(s) => ctx.reply().double(s),
            None => ctx.reply().null(),
        }
    } else {
        ctx.reply().int(if ch { added + updated } else { added });
    }
    Ok(())
}

fn zincrby(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let by = parse_f64(argv[2])?;
    let now = ctx.now();
    let db = ctx.db();
    let limits = db.limits;
    let z = match &mut db.get_or_insert_with(argv[1], now, || Value::ZSet(Default::default())).value {
        Value::ZSet(z) => z,
        _ => return Err(CmdError::wrong_type()),
    };
    let new = z.score(argv[3]).unwrap_or(0.0) + by + 0.0;
    if new.is_nan() {
        db.remove_if_empty(argv[1]);
        return Err(nan_error());
    }
    z.insert(argv[3], new, &limits);
    ctx.dirty(1);
    ctx.notify(ZSET, "zincr", argv[1]);
    ctx.reply().double(new);
    Ok(())
}

fn zrem(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let now = ctx.now();
    let mut n = 0;
    if let Some(z) = read(ctx.db(), argv[1], now)? {
        for m in &argv[2..] {
            if z.remove(m) {
                n += 1;
            }
        }
    }
    if n > 0 {
        ctx.notify(ZSET, "zrem", argv[1]);
        ctx.remove_if_empty(argv[1]);
        ctx.dirty(n);
    }
    ctx.reply().int(n as i64);
    Ok(())
}

fn zscore(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let now = ctx.now();
    match read(ctx.db(), argv[1], now)?.and_then(|z| z.score(argv[2])) {
        Some(s) => ctx.reply().double(s),
        None => ctx.reply().null(),
    }
    Ok(())
}

fn zmscore(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let now = ctx.now();
    let i = ctx.client.db;
    let z = read(&mut ctx.node.keyspace.dbs[i], argv[1], now)?;
    let r = &mut ctx.client.reply;
    r.array(argv.len() - 2);
    for m in &argv[2..] {
        match z.as_ref().and_then(|z| z.score(m)) {
            Some(s) => r.double(s),
            None => r.null(),
        }
    }
    Ok(())
}

fn zcard(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let now = ctx.now();
    let n = read(ctx.db(), argv[1], now)?.map_or(0, |z| z.len());
    ctx.reply().int(n as i64);
    Ok(())
}

fn count_in(ctx: &mut Ctx<'_>, key: &[u8], b: Bounds<'_>) -> CmdResult {
    let now = ctx.now();
    let n = read(ctx.db(), key, now)?.map_or(0, |z| {
        let (lo, hi) = b.span(z);
        hi - lo
    });
    ctx.reply().int(n as i64);
    Ok(())
}

fn zcount(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let b = Bounds::score(argv[2], argv[3])?;
    count_in(ctx, argv[1], b)
}

fn zlexcount(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let b = Bounds::lex(argv[2], argv[3])?;
    count_in(ctx, argv[1], b)
}

fn rank_generic(ctx: &mut Ctx<'_>, argv: &[&[u8]], rev: bool) -> CmdResult {
    let now = ctx.now();
    let rank = read(ctx.db(), argv[1], now)?.and_then(|z| z.rank(argv[2]).map(|r| if rev { z.len() - 1 - r } else { r }));
    match rank {
        Some(r) => ctx.reply().int(r as i64),
        None => ctx.reply().null(),
    }
    Ok(())
}

fn zrank(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    rank_generic(ctx, argv, false)
}
fn zrevrank(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    rank_generic(ctx, argv, true)
}

fn pop_generic(ctx: &mut Ctx<'_>, argv: &[&[u8]], max: bool) -> CmdResult {
    if argv.len() > 3 {
        return Err(CmdError::syntax());
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
    let Some(z) = read(db, argv[1], now)? else {
        r.array(0);
        return Ok(());
    };
    let n = count.unwrap_or(1).min(z.len());
    // Without a count RESP3 still gets a flat [member, score].
    if count.is_some() && r.resp3 {
        r.array(n);
    } else {
        r.array(n * 2);
    }
    for _ in 0..n {
        if let Some((m, s)) = if max { z.pop_last() } else { z.pop_first() } {
            if count.is_some() && r.resp3 {
                r.array(2);
            }
            r.bulk(&m);
            r.double(s);
        }
    }
    if n > 0 {
        ctx.node.keyspace.dirty += n as u64;
        ctx.notify(ZSET, if max { "zpopmax" } else { "zpopmin" }, argv[1]);
        ctx.remove_if_empty(argv[1]);
    }
    Ok(())
}

fn zpopmin(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    pop_generic(ctx, argv, false)
}
fn zpopmax(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    pop_generic(ctx, argv, true)
}

fn bpop_generic(ctx: &mut Ctx<'_>, argv: &[&[u8]], max: bool) -> CmdResult {
    let now = ctx.now();
    let deadline = parse_timeout(argv[argv.len() - 1], now)?;
    let keys = &argv[1..argv.len() - 1];
    for key in keys {
        let i = ctx.client.db;
        let db = &mut ctx.node.keyspace.dbs[i];
        let Some(z) = skip_wrong_type_on_retry(read(db, key, now), ctx.client.retrying_block)? else {
            continue;
        };
        let Some((m, s)) = (if max { z.pop_last() } else { z.pop_first() }) else {
            continue;
        };
        let r = &mut ctx.client.reply;
        r.array(3);
        r.bulk(key);
        r.bulk(&m);
        r.double(s);
        ctx.dirty(1);
        ctx.notify(ZSET, if max { "zpopmax" } else { "zpopmin" }, key);
        ctx.remove_if_empty(key);
        let name: &[u8] = if max { b"ZPOPMAX" } else { b"ZPOPMIN" };
        ctx.propagate_as(vec![name.to_vec(), key.to_vec()]);
        return Ok(());
    }
    block_on(ctx, keys, deadline, true);
    Ok(())
}

/// Pops up to `count` from the first non-empty sorted set of `keys`: replies
/// `[key, [[member, score]...]]` and propagates ZPOPMIN/ZPOPMAX with a count. Whether it popped.
fn multi_pop(ctx: &mut Ctx<'_>, mp: &MultiPop<'_>, now: u64) -> Result<bool, CmdError> {
    let i = ctx.client.db;
    for key in &mp.keys {
        let db = &mut ctx.node.keyspace.dbs[i];
        let Some(z) = skip_wrong_type_on_retry(read(db, key, now), ctx.client.retrying_block)? else { continue };
        let n = mp.count.min(z.len());
        let r = &mut ctx.client.reply;
        r.array(2);
        r.bulk(key);
        r.array(n);
        for _ in 0..n {
            if let Some((m, s)) = if mp.second { z.pop_last() } else { z.pop_first() } {
                r.array(2);
                r.bulk(&m);
                r.double(s);
            }
        }
        ctx.dirty(n as u64);
        if n > 0 {
            ctx.notify(ZSET, if mp.second { "zpopmax" } else { "zpopmin" }, key);
        }
        ctx.remove_if_empty(key);
        let name: &[u8] = if mp.second { b"ZPOPMAX" } else { b"ZPOPMIN" };
        ctx.propagate_as(vec![name.to_vec(), key.to_vec(), n.to_string().into_bytes()]);
        return Ok(true);
    }
    Ok(false)
}

/// ZMPOP numkeys key... MIN|MAX [COUNT count].
fn zmpop(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    multi_pop_command(ctx, argv, false, ("min", "max"), multi_pop)
}

/// BZMPOP timeout numkeys key... MIN|MAX [COUNT count]: ZMPOP, or a block on the keys.
fn bzmpop(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    multi_pop_command(ctx, argv, true, ("min", "max"), multi_pop)
}

fn bzpopmin(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    bpop_generic(ctx, argv, false)
}
fn bzpopmax(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    bpop_generic(ctx, argv, true)
}

fn remrange(ctx: &mut Ctx<'_>, key: &[u8], b: Bounds<'_>, event: &str) -> CmdResult {
    let now = ctx.now();
    let mut n = 0;
    if let Some(z) = read(ctx.db(), key, now)? {
        let (lo, hi) = b.span(z);
        if hi > lo {
            n = z.remove_rank_range(lo, hi - 1);
        }
    }
    if n > 0 {
        ctx.notify(ZSET, event, key);
        ctx.remove_if_empty(key);
        ctx.dirty(n as u64);
    }
    ctx.reply().int(n as i64);
    Ok(())
}

fn zremrangebyrank(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let b = Bounds::Rank(parse_i64(argv[2])?, parse_i64(argv[3])?);
    remrange(ctx, argv[1], b, "zremrangebyrank")
}
fn zremrangebyscore(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let b = Bounds::score(argv[2], argv[3])?;
    remrange(ctx, argv[1], b, "zremrangebyscore")
}
fn zremrangebylex(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let b = Bounds::lex(argv[2], argv[3])?;
    remrange(ctx, argv[1], b, "zremrangebylex")
}

// ---------------------------------------------------------------- set algebra

#[derive(Clone, Copy, PartialEq)]
enum SetOp {
    Union,
    Inter,
    Diff,
}

#[derive(Clone, Copy)]
enum Aggregate {
    Sum,
    Min,
    Max,
}

fn aggregate(agg: Aggregate, a: f64, b: f64) -> f64 {
    match agg {
        Aggregate::Sum => {
            let s = a + b;
            // inf + -inf: Redis stores 0 rather than NaN.
            if s.is_nan() {
                0.0
            } else {
                s
            }
        }
        Aggregate::Min => a.min(b),
        Aggregate::Max => a.max(b),
    }
}

/// A source of ZUNION & co: a sorted set, or a plain set whose members score 1.
fn source_items(v: Option<&Value>) -> Vec<(std::borrow::Cow<'_, [u8]>, f64)> {
    match v {
        Some(Value::ZSet(z)) => z.iter().collect(),
        Some(Value::Set(s)) => s.iter().map(|m| (m, 1.0)).collect(),
        _ => Vec::new(),
    }
}

/// Parsed `numkeys key... [WEIGHTS ...] [AGGREGATE ...] [WITHSCORES]`.
struct SetOpArgs<'a> {
    keys: Vec<&'a [u8]>,
    weights: Vec<f64>,
    agg: Aggregate,
    withscores: bool,
}

fn parse_setop<'a>(argv: &[&'a [u8]], at: usize, op: SetOp, store: bool, name: &str) -> Result<SetOpArgs<'a>, CmdError> {
    let n = parse_i64(argv[at])?;
    if n < 1 {
        return Err(CmdError::new(format!("ERR at least 1 input key is needed for '{name}' command")));
    }
    let n = n as usize;
    if n > argv.len() - at - 1 {
        return Err(CmdError::syntax());
    }
    let keys = argv[at + 1..at + 1 + n].to_vec();
    let mut a = SetOpArgs { keys, weights: vec![1.0; n], agg: Aggregate::Sum, withscores: false };
    let mut i = at + 1 + n;
    while i < argv.len() {
        let o = argv[i];
        let left = argv.len() - i - 1;
        if op != SetOp::Diff && is(o, "weights") && left >= n {
            for j in 0..n {
                a.weights[j] = parse_float_opt(argv[i + 1 + j]).ok_or_else(|| CmdError::new("ERR weight value is not a float"))?;
            }
            i += n;
        } else if op != SetOp::Diff && is(o, "aggregate") && left >= 1 {
            let v = argv[i + 1];
            a.agg = if is(v, "sum") {
                Aggregate::Sum
            } else if is(v, "min") {
                Aggregate::Min
            } else if is(v, "max") {
                Aggregate::Max
            } else {
                return Err(CmdError::syntax());
            };
            i += 1;
        } else if !store && is(o, "withscores") {
            a.withscores = true;
        } else {
            return Err(CmdError::syntax());
        }
        i += 1;
    }
    Ok(a)
}

/// Computes a union/intersection/difference into a new sorted set.
fn compute_setop(db: &mut Db, a: &SetOpArgs<'_>, op: SetOp, now: u64) -> Result<ZSet, CmdError> {
    // Expire and type-check every source first.
    for k in &a.keys {
        match db.get(k, now).map(|e| &e.value) {
            None | Some(Value::ZSet(_)) | Some(Value::Set(_)) => {}
            Some(_) => return Err(CmdError::wrong_type()),
        }
    }
    let owned: Vec<Vec<(std::borrow::Cow<'_, [u8]>, f64)>> = a.keys.iter().map(|k| source_items(db.peek(k).map(|e| &e.value))).collect();
    let sources: Vec<Vec<(&[u8], f64)>> = owned.iter().map(|v| v.iter().map(|(m, s)| (&m[..], *s)).collect()).collect();
    let weighted = |s: f64, w: f64| {
        let v = s * w;
        if v.is_nan() {
            0.0
        } else {
            v
        }
    };
    let mut out = ZSet::new();
    let limits = db.limits;
    match op {
        SetOp::Union => {
            let mut acc: HashMap<&[u8], f64, ahash::RandomState> = HashMap::default();
            let mut order: Vec<&[u8]> = Vec::new();
            for (src, &w) in sources.iter().zip(&a.weights) {
                for &(m, s) in src {
                    let v = weighted(s, w);
                    match acc.get_mut(m) {
                        Some(cur) => *cur = aggregate(a.agg, *cur, v),
                        None => {
                            acc.insert(m, v);
                            order.push(m);
                        }
                    }
                }
            }
            for m in order {
                out.insert(m, acc[m], &limits);
            }
        }
        SetOp::Inter => {
            if sources.iter().any(Vec::is_empty) {
                return Ok(out);
            }
            let lookups: Vec<HashMap<&[u8], f64, ahash::RandomState>> = sources.iter().map(|s| s.iter().copied().collect()).collect();
            let smallest = (0..sources.len()).min_by_key(|&i| sources[i].len()).unwrap_or(0);
            'members: for &(m, _) in &sources[smallest] {
                let mut score: Option<f64> = None;
                for (j, l) in lookups.iter().enumerate() {
                    let Some(&s) = l.get(m) else {
                        continue 'members;
                    };
                    let v = weighted(s, a.weights[j]);
                    score = Some(match score {
                        None => v,
                        Some(c) => aggregate(a.agg, c, v),
                    });
                }
                out.insert(m, score.unwrap_or(0.0), &limits);
            }
        }
        SetOp::Diff => {
            let others: Vec<HashMap<&[u8], f64, ahash::RandomState>> = sources[1..].iter().map(|s| s.iter().copied().collect()).collect();
            for &(m, s) in &sources[0] {
                if !others.iter().any(|o| o.contains_key(m)) {
                    out.insert(m, s, &limits);
                }
            }
        }
    }
    Ok(out)
}

fn setop_store(ctx: &mut Ctx<'_>, argv: &[&[u8]], op: SetOp, name: &str) -> CmdResult {
    let a = parse_setop(argv, 2, op, true, name)?;
    let now = ctx.now();
    let out = compute_setop(ctx.db(), &a, op, now)?;
    store_result(ctx, argv[1], out, name);
    Ok(())
}

fn setop_reply(ctx: &mut Ctx<'_>, argv: &[&[u8]], op: SetOp, name: &str) -> CmdResult {
    let a = parse_setop(argv, 1, op, false, name)?;
    let now = ctx.now();
    let out = compute_setop(ctx.db(), &a, op, now)?;
    write_items(ctx.reply(), out.len(), a.withscores, out.iter());
    Ok(())
}

fn zunionstore(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    setop_store(ctx, argv, SetOp::Union, "zunionstore")
}
fn zinterstore(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    setop_store(ctx, argv, SetOp::Inter, "zinterstore")
}
fn zdiffstore(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    setop_store(ctx, argv, SetOp::Diff, "zdiffstore")
}
fn zunion(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    setop_reply(ctx, argv, SetOp::Union, "zunion")
}
fn zinter(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    setop_reply(ctx, argv, SetOp::Inter, "zinter")
}
fn zdiff(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    setop_reply(ctx, argv, SetOp::Diff, "zdiff")
}

fn zintercard(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    if parse_i64(argv[1]).is_ok_and(|n| n <= 0) {
        return Err(CmdError::new("ERR at least 1 input key is needed for 'zintercard' command"));
    }
    let (keys, limit) = parse_numkeys_limit(argv)?;
    let a = SetOpArgs { weights: vec![1.0; keys.len()], keys, agg: Aggregate::Sum, withscores: false };
    let now = ctx.now();
    let out = compute_setop(ctx.db(), &a, SetOp::Inter, now)?;
    let n = if limit > 0 { out.len().min(limit) } else { out.len() };
    ctx.reply().int(n as i64);
    Ok(())
}

// ---------------------------------------------------------------- scan & random

/// ZSCAN answers in one call (cursor 0): ranks shift on insert, so a
/// rank-based cursor could skip members; COUNT is only a hint in Redis too.
fn zscan(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    parse_cursor(argv[2])?;
    let o = parse_scan_opts(argv, 3, false)?;
    let now = ctx.now();
    let i = ctx.client.db;
    let z = read(&mut ctx.node.keyspace.dbs[i], argv[1], now)?;
    let r = &mut ctx.client.reply;
    let items: Vec<(Member<'_>, f64)> =
        z.map(|z| z.iter().filter(|(m, _)| o.pattern.is_none_or(|p| glob_match(p, m, false))).collect()).unwrap_or_default();
    r.array(2);
    r.bulk(b"0");
    r.array(items.len() * 2);
    for (m, s) in items {
        r.bulk(&m);
        r.bulk(format_double(s).as_bytes());
    }
    Ok(())
}

fn zrandmember(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let now = ctx.now();
    let parsed = if argv.len() >= 3 {
        parse_i64(argv[2])?;
        let ws = match argv.get(3) {
            None => false,
            Some(a) if is(a, "withscores") && argv.len() == 4 => true,
            Some(_) => return Err(CmdError::syntax()),
        };
        Some((parse_rand_count(argv[2], ws)?, ws))
    } else {
        None
    };
    let i = ctx.client.db;
    let z = read(&mut ctx.node.keyspace.dbs[i], argv[1], now)?;
    let room = ctx.client.reply_room();
    let r = &mut ctx.client.reply;
    let Some(((count, repeats), ws)) = parsed else {
        match z.filter(|z| !z.is_empty()).and_then(|z| z.nth(rand::Rng::gen_range(&mut rand::thread_rng(), 0..z.len()))) {
            Some((m, _)) => r.bulk(&m),
            None => r.null(),
        }
        return Ok(());
    };
    let Some(z) = z else {
        r.array(0);
        return Ok(());
    };
    if !repeats && count >= z.len() {
        // The whole set, highest first, as Redis 7.0 answers this case.
        write_items(r, z.len(), ws, z.iter().rev());
        return Ok(());
    }
    let (n, picks) = picks(z.len(), count, repeats);
    write_items_within(r, n, ws, picks.filter_map(|p| z.nth(p)), room);
    ctx.client.output_over_limit();
    Ok(())
}
