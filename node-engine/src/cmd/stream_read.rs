//! XREAD and XREADGROUP, with their blocking forms. A blocked read waits on
//! its keys and is run again when one of them is written; XREAD's `$` is
//! replaced first by the ID it meant when the client blocked, so only
//! entries added later are served, as Redis does.

use super::args::{is, parse_i64};
use super::flags::*;
use super::stream_groups::{createconsumer_argv, no_group, setid_argv, touch_consumer, xclaim_argv};
use super::streams::{id_arg, lookup, reply_entry, reply_id, reply_range};
use super::{CmdError, CmdResult, CommandSpec, Ctx};
use crate::client::BlockRequest;
use crate::keyspace::stream::{Stream, StreamId};
use crate::keyspace::Key;
use crate::resp::ReplyBuf;
use crate::util::events::STREAM;

pub const COMMANDS: &[CommandSpec] = &[
    CommandSpec::new("xread", -4, READONLY | BLOCKING, (0, 0, 0), xread).acl(&["@stream"]).with_keys(read_keys),
    CommandSpec::new("xreadgroup", -7, WRITE | BLOCKING, (0, 0, 0), xreadgroup).acl(&["@stream"]).with_keys(read_keys),
];

/// Default COUNT of a read served after blocking (XREAD_BLOCKED_DEFAULT_COUNT).
const BLOCKED_DEFAULT_COUNT: usize = 1000;

/// Key positions: the first half of what follows STREAMS (xreadGetKeys).
pub fn read_keys(argv: &[&[u8]]) -> Vec<usize> {
    let mut i = 1;
    while i < argv.len() {
        let a = argv[i];
        if is(a, "block") || is(a, "count") {
            i += 1;
        } else if is(a, "group") {
            i += 2;
        } else if is(a, "streams") {
            let n = argv.len() - i - 1;
            if n == 0 || n % 2 != 0 {
                return Vec::new();
            }
            return (i + 1..i + 1 + n / 2).collect();
        }
        i += 1;
    }
    Vec::new()
}

/// BLOCK's milliseconds as an absolute deadline (0: forever).
fn block_deadline(arg: &[u8], now: u64) -> Result<u64, CmdError> {
    let ms = parse_i64(arg).map_err(|_| CmdError::new("ERR timeout is not an integer or out of range"))?;
    if ms < 0 {
        return Err(CmdError::new("ERR timeout is negative"));
    }
    if ms == 0 {
        return Ok(0);
    }
    now.checked_add(ms as u64).filter(|d| *d <= i64::MAX as u64).ok_or_else(|| CmdError::new("ERR timeout is out of range"))
}

struct Request<'a> {
    deadline: Option<u64>,
    count: usize,
    noack: bool,
    group: Option<(&'a [u8], &'a [u8])>,
    streams_at: usize,
    n: usize,
}

fn parse<'a>(ctx: &Ctx<'_>, argv: &[&'a [u8]], xreadgroup: bool) -> Result<Request<'a>, CmdError> {
    let mut q = Request { deadline: None, count: 0, noack: false, group: None, streams_at: 0, n: 0 };
    let mut i = 1;
    while i < argv.len() {
        let more = argv.len() - i - 1;
        let o = argv[i];
        if is(o, "block") && more > 0 {
            if ctx.client.in_script {
                return Err(CmdError::new(format!(
                    "ERR {} command is not allowed with BLOCK option from scripts",
                    String::from_utf8_lossy(argv[0])
                )));
            }
            i += 1;
            q.deadline = Some(block_deadline(argv[i], ctx.now())?);
        } else if is(o, "count") && more > 0 {
            i += 1;
            q.count = parse_i64(argv[i])?.max(0) as usize;
        } else if is(o, "streams") && more > 0 {
            q.streams_at = i + 1;
            let n = argv.len() - q.streams_at;
            if n % 2 != 0 {
                return Err(CmdError::new("ERR Unbalanced XREAD list of streams: for each stream key an ID or '$' must be specified."));
            }
            q.n = n / 2;
            break;
        } else if is(o, "group") && more >= 2 {
            if !xreadgroup {
                return Err(CmdError::new("ERR The GROUP option is only supported by XREADGROUP. You called XREAD instead."));
            }
            q.group = Some((argv[i + 1], argv[i + 2]));
            i += 2;
        } else if is(o, "noack") {
            if !xreadgroup {
                return Err(CmdError::new("ERR The NOACK option is only supported by XREADGROUP. You called XREAD instead."));
            }
            q.noack = true;
        } else {
            return Err(CmdError::syntax());
        }
        i += 1;
    }
    if q.streams_at == 0 {
        return Err(CmdError::syntax());
    }
    if xreadgroup && q.group.is_none() {
        return Err(CmdError::new("ERR Missing GROUP option for XREADGROUP"));
    }
    Ok(q)
}

/// The stream at `key` for a read. On a retry after blocking, a key that is
/// gone or of another type makes XREADGROUP fail (its group is gone with
/// it) and XREAD keep waiting, as Redis's blocked-client service does.
fn stream_for_read<'a>(ctx: &'a mut Ctx<'_>, key: &[u8], group: bool) -> Result<Option<&'a mut Stream>, CmdError> {
    let now = ctx.now();
    let retry = ctx.client.retrying_block;
    let i = ctx.client.db;
    match lookup(&mut ctx.node.keyspace.dbs[i], key, now) {
        Ok(None) | Err(_) if retry && group => Err(CmdError::new("UNBLOCKED the stream key no longer exists")),
        Err(_) if retry => Ok(None),
        other => other,
    }
}

fn xread(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    read_generic(ctx, argv, false)
}

fn xreadgroup(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    read_generic(ctx, argv, true)
}

/// XREAD [COUNT n] [BLOCK ms] STREAMS key... id...
/// XREADGROUP GROUP g c [COUNT n] [BLOCK ms] [NOACK] STREAMS key... id...
fn read_generic(ctx: &mut Ctx<'_>, argv: &[&[u8]], xreadgroup: bool) -> CmdResult {
    let q = parse(ctx, argv, xreadgroup)?;
    let keys = &argv[q.streams_at..q.streams_at + q.n];
    let id_args = &argv[q.streams_at + q.n..];
    let retry = ctx.client.retrying_block;
    let mut ids = Vec::with_capacity(q.n);
    let mut dollar = false;
    for (key, a) in keys.iter().zip(id_args) {
        let s = stream_for_read(ctx, key, q.group.is_some())?;
        if let Some((g, _)) = q.group {
            if s.as_ref().and_then(|s| s.group(g)).is_none() {
                if retry {
                    return Err(CmdError::new("NOGROUP the consumer group this client was blocked on no longer exists"));
                }
                return Err(no_group(key, g, " in XREADGROUP with GROUP option"));
            }
        }
        let id = if *a == b"$" {
            if xreadgroup {
                return Err(CmdError::new(
                    "ERR The $ ID is meaningless in the context of XREADGROUP: you want to read the history of this consumer by specifying a proper ID, or use the > ID to get new messages. The $ ID would just return an empty result set.",
                ));
            }
            dollar = true;
            s.map_or(StreamId::MIN, |s| s.last_id)
        } else if *a == b">" {
            if !xreadgroup {
                return Err(CmdError::new(
                    "ERR The > ID can be specified only when calling XREADGROUP using the GROUP <group> <consumer> option.",
                ));
            }
            StreamId::MAX
        } else {
            id_arg(a, 0, true)?
        };
        ids.push(id);
    }
    let count = if retry && q.count == 0 { BLOCKED_DEFAULT_COUNT } else { q.count };
    let now = ctx.now();
    let resp3 = ctx.client.reply.resp3;
    let at = ctx.client.reply.buf.len();
    let mut served = 0;
    let mut props = Vec::new();
    let mut dirty = 0u64;
    let mut created = Vec::new();
    for (key, gt) in keys.iter().zip(ids.iter().copied()) {
        let i = ctx.client.db;
        let s = match lookup(&mut ctx.node.keyspace.dbs[i], key, now) {
            Ok(Some(s)) => s,
            _ => continue,
        };
        let r = &mut ctx.client.reply;
        match q.group {
            Some((g, consumer)) => {
                let history = gt != StreamId::MAX;
                let Some(last) = s.group(g).map(|g| g.last_id) else { continue };
                if !history && (s.length == 0 || s.last_valid_id() <= last) {
                    continue;
                }
                served += 1;
                if !resp3 {
                    r.array(2);
                }
                r.bulk(key);
                let Some(grp) = s.group_mut(g) else { continue };
                if touch_consumer(grp, consumer, now as i64) {
                    dirty += 1;
                    created.push(key.to_vec());
                    if q.noack {
                        props.push(createconsumer_argv(key, g, consumer));
                    }
                }
                if history {
                    serve_history(r, s, g, consumer, gt, count, now as i64);
                } else {
                    serve_new(r, s, key, (g, consumer), last, count, q.noack, now as i64, &mut props);
                }
                dirty += 1;
            }
            None => {
                if s.length == 0 || s.last_valid_id() <= gt {
                    continue;
                }
                served += 1;
                if !resp3 {
                    r.array(2);
                }
                r.bulk(key);
                reply_range(r, s, gt.incr().unwrap_or(StreamId::MAX), StreamId::MAX, count, false);
            }
        }
    }
    for key in created {
        ctx.notify(STREAM, "xgroup-createconsumer", &key);
    }
    if xreadgroup {
        ctx.dirty(dirty);
        ctx.propagate_instead(props);
    }
    let r = &mut ctx.client.reply;
    if served > 0 {
        if resp3 {
            r.insert_map(at, served);
        } else {
            r.insert_array(at, served);
        }
        return Ok(());
    }
    match q.deadline {
        Some(deadline) if !ctx.client.in_exec => {
            let rerun_argv = dollar.then(|| {
                let mut v: Vec<Vec<u8>> = argv.iter().map(|a| a.to_vec()).collect();
                for (k, id) in ids.iter().enumerate() {
                    v[q.streams_at + q.n + k] = id.to_text().into_bytes();
                }
                v
            });
            ctx.client.block = Some(BlockRequest {
                keys: keys.iter().map(|k| Key::from(*k)).collect(),
                deadline_ms: deadline,
                rerun_on_timeout: false,
                rerun_argv,
            });
        }
        _ => r.null_array(),
    }
    Ok(())
}

/// A consumer's own pending entries from after `gt` (XREADGROUP with an ID):
/// each counts as delivered again; a deleted one is `[id, nil]`.
fn serve_history(r: &mut ReplyBuf, s: &mut Stream, g: &[u8], consumer: &[u8], gt: StreamId, count: usize, now: i64) {
    let start = gt.incr().unwrap_or(StreamId::MAX);
    let pending: Vec<StreamId> = s
        .group(g)
        .and_then(|grp| grp.consumers.get(consumer))
        .map(|c| c.pel.range(start..).copied().take(if count == 0 { usize::MAX } else { count }).collect())
        .unwrap_or_default();
    r.array(pending.len());
    for id in pending {
        let mut found = false;
        s.visit(id, id, false, |node, e| {
            reply_entry(r, node, e);
            found = true;
            false
        });
        if !found {
            r.array(2);
            reply_id(r, id);
            r.null_array();
            continue;
        }
        if let Some(n) = s.group_mut(g).and_then(|grp| grp.pel.get_mut(&id)) {
            n.delivery_time = now;
            n.delivery_count += 1;
        }
    }
}

/// New entries for a group (`>`): delivered to `consumer` (pending unless
/// NOACK), the group moved past them; what replicas need goes to `props`.
#[allow(clippy::too_many_arguments)]
fn serve_new(
    r: &mut ReplyBuf,
    s: &mut Stream,
    key: &[u8],
    (g, consumer): (&[u8], &[u8]),
    last: StreamId,
    count: usize,
    noack: bool,
    now: i64,
    props: &mut Vec<Vec<Vec<u8>>>,
) {
    let at = r.buf.len();
    let mut delivered = Vec::new();
    s.visit(last.incr().unwrap_or(StreamId::MAX), StreamId::MAX, false, |node, e| {
        reply_entry(r, node, e);
        delivered.push(e.id);
        count == 0 || delivered.len() < count
    });
    r.insert_array(at, delivered.len());
    let moved = !delivered.is_empty();
    for id in delivered {
        s.advance_group(g, id);
        let Some(grp) = s.group_mut(g) else { return };
        if noack {
            continue;
        }
        grp.deliver(id, consumer, now);
        if let Some(n) = grp.pel.get(&id) {
            props.push(xclaim_argv(key, g, id, n, grp.last_id));
        }
    }
    if noack && moved {
        if let Some(grp) = s.group(g) {
            props.push(setid_argv(key, g, grp));
        }
    }
}
