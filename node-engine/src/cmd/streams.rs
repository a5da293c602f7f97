//! Stream commands on the entries: XADD, XRANGE, XREVRANGE, XLEN, XDEL,
//! XTRIM, XSETID and XINFO. Consumer groups are in `stream_groups`, XREAD
//! and XREADGROUP in `stream_read`. Replies and error texts are Redis 7.0's.

use super::args::{is, parse_i64};
use super::flags::*;
use super::{CmdError, CmdResult, CommandSpec, Ctx};
use crate::keyspace::stream::id::{self as sid, Parsed};
use crate::keyspace::stream::{AppendError, EntryRef, NewId, Node, Stream, StreamId, Trim, TrimTo, ENTRIES_READ_UNKNOWN};
use crate::keyspace::{Db, Value};
use crate::resp::ReplyBuf;
use crate::util::events::STREAM;

pub const COMMANDS: &[CommandSpec] = &[
    CommandSpec::new("xadd", -5, WRITE | DENYOOM | FAST, (1, 1, 1), xadd).acl(&["@stream"]),
    CommandSpec::new("xrange", -4, READONLY, (1, 1, 1), xrange).acl(&["@stream"]),
    CommandSpec::new("xrevrange", -4, READONLY, (1, 1, 1), xrevrange).acl(&["@stream"]),
    CommandSpec::new("xlen", 2, READONLY | FAST, (1, 1, 1), xlen).acl(&["@stream"]),
    CommandSpec::new("xdel", -3, WRITE | FAST, (1, 1, 1), xdel).acl(&["@stream"]),
    CommandSpec::new("xtrim", -4, WRITE, (1, 1, 1), xtrim).acl(&["@stream"]),
    CommandSpec::new("xsetid", -3, WRITE | DENYOOM | FAST, (1, 1, 1), xsetid).acl(&["@stream"]),
    CommandSpec::container("xinfo", -2, super::no_subcommand, XINFO),
];

const XINFO: &[CommandSpec] = &[
    CommandSpec::new("xinfo|stream", -3, READONLY, (2, 2, 1), xinfo_stream).acl(&["@stream"]),
    CommandSpec::new("xinfo|groups", 3, READONLY, (2, 2, 1), xinfo_groups).acl(&["@stream"]),
    CommandSpec::new("xinfo|consumers", 4, READONLY, (2, 2, 1), xinfo_consumers).acl(&["@stream"]),
    CommandSpec::new("xinfo|help", 2, LOADING | STALE, (0, 0, 0), xinfo_help).acl(&["@stream"]),
];

pub(crate) fn invalid_id() -> CmdError {
    CmdError::new("ERR Invalid stream ID specified as stream command argument")
}

/// An ID argument: `missing_seq` fills a bare `ms`; `strict` refuses `-`/`+`.
pub(crate) fn id_arg(a: &[u8], missing_seq: u64, strict: bool) -> Result<StreamId, CmdError> {
    sid::parse_id(a, missing_seq, strict).ok_or_else(invalid_id)
}

/// An interval bound, `(` making it exclusive (streamParseIntervalIDOrReply).
fn interval_arg(a: &[u8], missing_seq: u64) -> Result<(StreamId, bool), CmdError> {
    if a.len() > 1 && a[0] == b'(' {
        return Ok((id_arg(&a[1..], missing_seq, true)?, true));
    }
    Ok((id_arg(a, missing_seq, false)?, false))
}

/// A range's start: `(id` starts after `id`.
pub(crate) fn range_start(a: &[u8]) -> Result<StreamId, CmdError> {
    match interval_arg(a, 0)? {
        (id, true) => id.incr().ok_or_else(|| CmdError::new("ERR invalid start ID for the interval")),
        (id, false) => Ok(id),
    }
}

/// A range's end: a bare `ms` covers every sequence; `(id` ends before `id`.
pub(crate) fn range_end(a: &[u8]) -> Result<StreamId, CmdError> {
    match interval_arg(a, u64::MAX)? {
        (id, true) => id.decr().ok_or_else(|| CmdError::new("ERR invalid end ID for the interval")),
        (id, false) => Ok(id),
    }
}

/// The stream at `key`: Ok(None) when missing, WRONGTYPE for other types.
pub(crate) fn lookup<'a>(db: &'a mut Db, key: &[u8], now: u64) -> Result<Option<&'a mut Stream>, CmdError> {
    match db.get_mut(key, now) {
        None => Ok(None),
        Some(e) => match &mut e.value {
            Value::Stream(s) => Ok(Some(s)),
            _ => Err(CmdError::wrong_type()),
        },
    }
}

/// An ID as a bulk string, formatted without allocating.
pub(crate) fn reply_id(r: &mut ReplyBuf, id: StreamId) {
    let mut b = [0u8; 41];
    let mut a = itoa::Buffer::new();
    let ms = a.format(id.ms).as_bytes();
    b[..ms.len()].copy_from_slice(ms);
    b[ms.len()] = b'-';
    let mut c = itoa::Buffer::new();
    let seq = c.format(id.seq).as_bytes();
    b[ms.len() + 1..ms.len() + 1 + seq.len()].copy_from_slice(seq);
    r.bulk(&b[..ms.len() + 1 + seq.len()]);
}

/// `[id, [field, value, ...]]`.
pub(crate) fn reply_entry(r: &mut ReplyBuf, node: &Node, e: &EntryRef) {
    r.array(2);
    reply_id(r, e.id);
    r.array(e.nfields * 2);
    for (f, v) in node.fields(e) {
        f.reply(r);
        v.reply(r);
    }
}

/// The live entries from `start` to `end` as an array, at most `count`
/// (0: all); how many were written.
pub(crate) fn reply_range(r: &mut ReplyBuf, s: &Stream, start: StreamId, end: StreamId, count: usize, rev: bool) -> usize {
    let at = r.buf.len();
    let mut n = 0;
    s.visit(start, end, rev, |node, e| {
        reply_entry(r, node, e);
        n += 1;
        count == 0 || n < count
    });
    r.insert_array(at, n);
    n
}

/// The parsed options of XADD and XTRIM (streamParseAddOrTrimArgsOrReply).
struct AddTrim {
    new_id: NewId,
    no_mkstream: bool,
    trim: Option<Trim>,
    /// Where the MAXLEN/MINID value is, to rewrite it for replicas.
    trim_arg: usize,
    /// Where XADD's ID is (its fields follow).
    id_pos: usize,
}

fn parse_add_trim(ctx: &Ctx<'_>, argv: &[&[u8]], xadd: bool) -> Result<AddTrim, CmdError> {
    let mut a = AddTrim { new_id: NewId::Auto, no_mkstream: false, trim: None, trim_arg: 0, id_pos: argv.len() };
    let (mut to, mut approx, mut limit, mut limit_given) = (None, false, 0i64, false);
    let mut i = 2;
    while i < argv.len() {
        let more = argv.len() - 1 - i;
        let opt = argv[i];
        if xadd && opt == b"*" {
            break;
        } else if (is(opt, "maxlen") || is(opt, "minid")) && more > 0 {
            if to.is_some() {
                return Err(CmdError::new("ERR syntax error, MAXLEN and MINID options at the same time are not compatible"));
            }
            approx = false;
            let next = argv[i + 1];
            if more >= 2 && next == b"~" {
                approx = true;
                i += 1;
            } else if more >= 2 && next == b"=" {
                i += 1;
            }
            let arg = argv.get(i + 1).copied().unwrap_or_default();
            to = Some(if is(opt, "maxlen") {
                let n = parse_i64(arg)?;
                if n < 0 {
                    return Err(CmdError::new("ERR The MAXLEN argument must be >= 0."));
                }
                TrimTo::MaxLen(n as u64)
            } else {
                TrimTo::MinId(id_arg(arg, 0, true)?)
            });
            i += 1;
            a.trim_arg = i;
        } else if is(opt, "limit") && more > 0 {
            limit = parse_i64(argv[i + 1])?;
            if limit < 0 {
                return Err(CmdError::new("ERR The LIMIT argument must be >= 0."));
            }
            limit_given = true;
            i += 1;
        } else if xadd && is(opt, "nomkstream") {
            a.no_mkstream = true;
        } else if xadd {
            a.new_id = match sid::parse(opt, 0, true, true).ok_or_else(invalid_id)? {
                Parsed::Id(id) => NewId::Exact(id),
                Parsed::AutoSeq(ms) => NewId::AutoSeq(ms),
            };
            break;
        } else {
            return Err(CmdError::syntax());
        }
        i += 1;
    }
    a.id_pos = i;
    if limit != 0 && to.is_none() {
        return Err(CmdError::new("ERR syntax error, LIMIT cannot be used without specifying a trimming strategy"));
    }
    if !xadd && to.is_none() {
        return Err(CmdError::new("ERR syntax error, XTRIM must be called with a trimming strategy"));
    }
    if ctx.client.from_master {
        // A master's and the AOF's trims were rewritten to be exact.
        limit = 0;
    } else if limit_given {
        if !approx {
            return Err(CmdError::new("ERR syntax error, LIMIT cannot be used without the special ~ option"));
        }
    } else if approx {
        let max_entries = ctx.node.keyspace.dbs[ctx.client.db].limits.stream_node.max_entries as i64;
        limit = max_entries.saturating_mul(100);
        if limit <= 0 {
            limit = 10_000;
        }
        limit = limit.min(1_000_000);
    } else {
        limit = 0;
    }
    a.trim = to.map(|to| Trim { to, approx, limit: limit as u64 });
    Ok(a)
}

/// What an approximate trim becomes for replicas and the AOF: `=` and the
/// length (or first ID) it left, so they trim exactly the same entries.
fn rewrite_trim(argv: &mut [Vec<u8>], s: &Stream, t: &Trim, at: usize) {
    argv[at - 1] = b"=".to_vec();
    argv[at] = match t.to {
        TrimTo::MaxLen(_) => s.length.to_string().into_bytes(),
        TrimTo::MinId(_) => s.edge_id(true, false).to_text().into_bytes(),
    };
}

/// XADD key [NOMKSTREAM] [MAXLEN|MINID [=|~] threshold [LIMIT count]] *|id field value [field value ...]
fn xadd(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let a = parse_add_trim(ctx, argv, true)?;
    let fields_at = a.id_pos + 1;
    if argv.len() < fields_at + 2 || (argv.len() - fields_at) % 2 == 1 {
        return Err(CmdError::arity("xadd"));
    }
    if a.new_id == NewId::Exact(StreamId::MIN) {
        return Err(CmdError::new("ERR The ID specified in XADD must be greater than 0-0"));
    }
    let now = ctx.now();
    let limits = ctx.db().limits.stream_node;
    // Rewrites for replicas and the AOF are only built when someone takes them.
    let propagate = ctx.node.propagation_wanted();
    let key = argv[1];
    let db = ctx.db();
    let s = match lookup(db, key, now)? {
        Some(s) => s,
        None if a.no_mkstream => {
            ctx.reply().null();
            return Ok(());
        }
        None => match &mut db.get_or_insert_with(key, now, || Value::Stream(Box::default())).value {
            Value::Stream(s) => s,
            _ => return Err(CmdError::wrong_type()),
        },
    };
    if s.last_id == StreamId::MAX {
        return Err(CmdError::new("ERR The stream has exhausted the last possible ID, unable to add more items"));
    }
    let id = s.append(&argv[fields_at..], a.new_id, limits, now).map_err(|e| match e {
        AppendError::TooSmall => CmdError::new("ERR The ID specified in XADD is equal or smaller than the target stream top item"),
        AppendError::TooLarge => CmdError::new("ERR Elements are too large to be stored"),
    })?;
    let mut trimmed = false;
    let mut rewritten: Option<Vec<Vec<u8>>> = None;
    if let Some(t) = a.trim {
        trimmed = s.trim(&t) > 0;
        if t.approx && propagate {
            let mut v: Vec<Vec<u8>> = argv.iter().map(|x| x.to_vec()).collect();
            rewrite_trim(&mut v, s, &t, a.trim_arg);
            rewritten = Some(v);
        }
    }
    if propagate && !matches!(a.new_id, NewId::Exact(_)) {
        let v = rewritten.get_or_insert_with(|| argv.iter().map(|x| x.to_vec()).collect());
        v[a.id_pos] = id.to_text().into_bytes();
    }
    reply_id(ctx.reply(), id);
    ctx.dirty(1);
    ctx.notify(STREAM, "xadd", key);
    if trimmed {
        ctx.notify(STREAM, "xtrim", key);
    }
    if let Some(v) = rewritten {
        ctx.propagate_as(v);
    }
    Ok(())
}

fn range_generic(ctx: &mut Ctx<'_>, argv: &[&[u8]], rev: bool) -> CmdResult {
    let (sa, ea) = if rev { (argv[3], argv[2]) } else { (argv[2], argv[3]) };
    let start = range_start(sa)?;
    let end = range_end(ea)?;
    let mut count: i64 = -1;
    let mut j = 4;
    while j < argv.len() {
        if is(argv[j], "count") && j + 1 < argv.len() {
            count = parse_i64(argv[j + 1])?.max(0);
            j += 2;
        } else {
            return Err(CmdError::syntax());
        }
    }
    let now = ctx.now();
    let i = ctx.client.db;
    let Some(s) = lookup(&mut ctx.node.keyspace.dbs[i], argv[1], now)? else {
        ctx.reply().array(0);
        return Ok(());
    };
    let r = &mut ctx.client.reply;
    if count == 0 {
        r.null_array();
    } else {
        reply_range(r, s, start, end, count.max(0) as usize, rev);
    }
    Ok(())
}

/// XRANGE key start end [COUNT n]
fn xrange(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    range_generic(ctx, argv, false)
}

/// XREVRANGE key end start [COUNT n]
fn xrevrange(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    range_generic(ctx, argv, true)
}

fn xlen(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let now = ctx.now();
    let n = lookup(ctx.db(), argv[1], now)?.map_or(0, |s| s.length);
    ctx.reply().int(n as i64);
    Ok(())
}

/// XDEL key id [id ...]
fn xdel(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let now = ctx.now();
    let Some(s) = lookup(ctx.db(), argv[1], now)? else {
        ctx.reply().int(0);
        return Ok(());
    };
    let ids = argv[2..].iter().map(|a| id_arg(a, 0, true)).collect::<Result<Vec<_>, _>>()?;
    let mut deleted = 0u64;
    let mut first_entry = false;
    for id in ids {
        if s.delete(id) {
            first_entry |= id == s.first_id;
            s.max_deleted = s.max_deleted.max(id);
            deleted += 1;
        }
    }
    if deleted > 0 {
        if s.length == 0 {
            s.first_id = StreamId::MIN;
        } else if first_entry {
            s.first_id = s.edge_id(true, true);
        }
        ctx.notify(STREAM, "xdel", argv[1]);
        ctx.dirty(deleted);
    }
    ctx.reply().int(deleted as i64);
    Ok(())
}

/// XTRIM key MAXLEN|MINID [=|~] threshold [LIMIT count]
fn xtrim(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let a = parse_add_trim(ctx, argv, false)?;
    let Some(t) = a.trim else { return Err(CmdError::syntax()) };
    let now = ctx.now();
    let Some(s) = lookup(ctx.db(), argv[1], now)? else {
        ctx.reply().int(0);
        return Ok(());
    };
    let deleted = s.trim(&t);
    let mut rewritten = None;
    if deleted > 0 && t.approx {
        let mut v: Vec<Vec<u8>> = argv.iter().map(|x| x.to_vec()).collect();
        rewrite_trim(&mut v, s, &t, a.trim_arg);
        rewritten = Some(v);
    }
    if deleted > 0 {
        ctx.notify(STREAM, "xtrim", argv[1]);
        ctx.dirty(deleted);
    }
    if let Some(v) = rewritten {
        ctx.propagate_as(v);
    }
    ctx.reply().int(deleted as i64);
    Ok(())
}

/// XSETID key last-id [ENTRIESADDED n] [MAXDELETEDID id]
fn xsetid(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let id = id_arg(argv[2], 0, true)?;
    let mut entries_added: i64 = -1;
    let mut max_deleted = StreamId::MIN;
    let mut i = 3;
    while i < argv.len() {
        let more = argv.len() - 1 - i;
        if is(argv[i], "entriesadded") && more > 0 {
            entries_added = parse_i64(argv[i + 1])?;
            if entries_added < 0 {
                return Err(CmdError::new("ERR entries_added must be positive"));
            }
        } else if is(argv[i], "maxdeletedid") && more > 0 {
            max_deleted = id_arg(argv[i + 1], 0, true)?;
            if id < max_deleted {
                return Err(CmdError::new("ERR The ID specified in XSETID is smaller than the provided max_deleted_entry_id"));
            }
        } else {
            return Err(CmdError::syntax());
        }
        i += 2;
    }
    let now = ctx.now();
    let Some(s) = lookup(ctx.db(), argv[1], now)? else { return Err(CmdError::no_such_key()) };
    if s.length > 0 {
        if id < s.last_valid_id() {
            return Err(CmdError::new("ERR The ID specified in XSETID is smaller than the target stream top item"));
        }
        if entries_added != -1 && s.length > entries_added as u64 {
            return Err(CmdError::new("ERR The entries_added specified in XSETID is smaller than the target stream length"));
        }
    }
    s.last_id = id;
    if entries_added != -1 {
        s.entries_added = entries_added as u64;
    }
    if !max_deleted.is_zero() {
        s.max_deleted = max_deleted;
    }
    ctx.reply().ok();
    ctx.dirty(1);
    ctx.notify(STREAM, "xsetid", argv[1]);
    Ok(())
}

/// The stream XINFO reports on (`ERR no such key` when missing) and the reply buffer.
fn info_target<'a>(ctx: &'a mut Ctx<'_>, key: &[u8]) -> Result<(&'a Stream, &'a mut ReplyBuf), CmdError> {
    let now = ctx.now();
    let i = ctx.client.db;
    let s = lookup(&mut ctx.node.keyspace.dbs[i], key, now)?.ok_or_else(CmdError::no_such_key)?;
    Ok((s, &mut ctx.client.reply))
}

/// A group's last-delivered-id, entries-read and lag fields (both XINFO forms).
fn reply_group_position(r: &mut ReplyBuf, s: &Stream, g: &crate::keyspace::stream::Group) {
    r.bulk(b"last-delivered-id");
    reply_id(r, g.last_id);
    r.bulk(b"entries-read");
    if g.entries_read == ENTRIES_READ_UNKNOWN {
        r.null();
    } else {
        r.int(g.entries_read);
    }
    r.bulk(b"lag");
    match s.lag(g) {
        Some(n) => r.int(n),
        None => r.null(),
    }
}

/// The first or last entry, or a null (XINFO STREAM).
fn edge_entry(r: &mut ReplyBuf, s: &Stream, last: bool) {
    let mut found = false;
    s.visit(StreamId::MIN, StreamId::MAX, last, |node, e| {
        reply_entry(r, node, e);
        found = true;
        false
    });
    if !found {
        r.null();
    }
}

/// An estimate of the nodes Redis's radix tree would have for these keys
/// (XINFO's radix-tree-nodes; informational only).
fn radix_nodes(s: &Stream) -> usize {
    match s.nodes.len() {
        0 => 1,
        n => 2 * n,
    }
}

/// XINFO STREAM key [FULL [COUNT n]]
fn xinfo_stream(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let (s, r) = info_target(ctx, argv[2])?;
    let opts = &argv[3..];
    let mut count: i64 = 10;
    let full = !opts.is_empty();
    if full {
        if (opts.len() != 1 && opts.len() != 3) || !is(opts[0], "full") || (opts.len() == 3 && !is(opts[1], "count")) {
            return Err(CmdError::sub_syntax(argv));
        }
        if opts.len() == 3 {
            count = parse_i64(opts[2])?;
            if count < 0 {
                count = 10;
            }
        }
    }
    r.map(if full { 9 } else { 10 });
    r.bulk(b"length");
    r.int(s.length as i64);
    r.bulk(b"radix-tree-keys");
    r.int(s.nodes.len() as i64);
    r.bulk(b"radix-tree-nodes");
    r.int(radix_nodes(s) as i64);
    r.bulk(b"last-generated-id");
    reply_id(r, s.last_id);
    r.bulk(b"max-deleted-entry-id");
    reply_id(r, s.max_deleted);
    r.bulk(b"entries-added");
    r.int(s.entries_added as i64);
    r.bulk(b"recorded-first-entry-id");
    reply_id(r, s.first_id);
    if !full {
        r.bulk(b"groups");
        r.int(s.group_count() as i64);
        r.bulk(b"first-entry");
        edge_entry(r, s, false);
        r.bulk(b"last-entry");
        edge_entry(r, s, true);
        return Ok(());
    }
    let count = count as usize;
    r.bulk(b"entries");
    reply_range(r, s, StreamId::MIN, StreamId::MAX, count, false);
    r.bulk(b"groups");
    r.array(s.group_count());
    for (name, g) in s.groups() {
        r.map(7);
        r.bulk(b"name");
        r.bulk(name);
        reply_group_position(r, s, g);
        r.bulk(b"pel-count");
        r.int(g.pel.len() as i64);
        r.bulk(b"pending");
        let shown = if count == 0 { g.pel.len() } else { g.pel.len().min(count) };
        r.array(shown);
        for (id, n) in g.pel.iter().take(shown) {
            r.array(4);
            reply_id(r, *id);
            r.bulk(&n.consumer);
            r.int(n.delivery_time);
            r.int(n.delivery_count as i64);
        }
        r.bulk(b"consumers");
        r.array(g.consumers.len());
        for (cname, c) in &g.consumers {
            r.map(4);
            r.bulk(b"name");
            r.bulk(cname);
            r.bulk(b"seen-time");
            r.int(c.seen_time);
            r.bulk(b"pel-count");
            r.int(c.pel.len() as i64);
            r.bulk(b"pending");
            let shown = if count == 0 { c.pel.len() } else { c.pel.len().min(count) };
            r.array(shown);
            for id in c.pel.iter().take(shown) {
                let n = g.pel.get(id);
                r.array(3);
                reply_id(r, *id);
                r.int(n.map_or(0, |n| n.delivery_time));
                r.int(n.map_or(0, |n| n.delivery_count as i64));
            }
        }
    }
    Ok(())
}

/// XINFO GROUPS key
fn xinfo_groups(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let (s, r) = info_target(ctx, argv[2])?;
    r.array(s.group_count());
    for (name, g) in s.groups() {
        r.map(6);
        r.bulk(b"name");
        r.bulk(name);
        r.bulk(b"consumers");
        r.int(g.consumers.len() as i64);
        r.bulk(b"pending");
        r.int(g.pel.len() as i64);
        reply_group_position(r, s, g);
    }
    Ok(())
}

/// XINFO CONSUMERS key group
fn xinfo_consumers(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let now = ctx.now() as i64;
    let (s, r) = info_target(ctx, argv[2])?;
    let Some(g) = s.group(argv[3]) else {
        return Err(CmdError::new(format!(
            "NOGROUP No such consumer group '{}' for key name '{}'",
            String::from_utf8_lossy(argv[3]),
            String::from_utf8_lossy(argv[2])
        )));
    };
    r.array(g.consumers.len());
    for (name, c) in &g.consumers {
        r.map(3);
        r.bulk(b"name");
        r.bulk(name);
        r.bulk(b"pending");
        r.int(c.pel.len() as i64);
        r.bulk(b"idle");
        r.int((now - c.seen_time).max(0));
    }
    Ok(())
}

fn xinfo_help(ctx: &mut Ctx<'_>, _argv: &[&[u8]]) -> CmdResult {
    super::reply_help(
        ctx,
        &[
            "XINFO <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
            "CONSUMERS <key> <groupname>",
            "    Show consumers of <groupname>.",
            "GROUPS <key>",
            "    Show the stream consumer groups.",
            "STREAM <key> [FULL [COUNT <count>]",
            "    Show information about the stream.",
            "HELP",
            "    Prints this help.",
        ],
    );
    Ok(())
}
