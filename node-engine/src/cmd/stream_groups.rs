//! Consumer-group commands: XGROUP, XACK, XPENDING, XCLAIM, XAUTOCLAIM.
//! Like Redis, claims propagate as XCLAIM ... FORCE JUSTID LASTID (and
//! group moves as XGROUP SETID ... ENTRIESREAD) so replicas and the AOF
//! keep the same pending entries and delivery counts.

use super::args::{is, parse_i64};
use super::flags::*;
use super::streams::{id_arg, lookup, range_start, reply_entry, reply_id};
use super::{CmdError, CmdResult, CommandSpec, Ctx};
use crate::keyspace::stream::{Group, Nack, Stream, StreamId, ENTRIES_READ_UNKNOWN};
use crate::keyspace::Value;
use crate::util::events::STREAM;

pub const COMMANDS: &[CommandSpec] = &[
    CommandSpec::container("xgroup", -2, super::no_subcommand, XGROUP),
    CommandSpec::new("xack", -4, WRITE | FAST, (1, 1, 1), xack).acl(&["@stream"]),
    CommandSpec::new("xpending", -3, READONLY, (1, 1, 1), xpending).acl(&["@stream"]),
    CommandSpec::new("xclaim", -6, WRITE | FAST, (1, 1, 1), xclaim).acl(&["@stream"]),
    CommandSpec::new("xautoclaim", -6, WRITE | FAST, (1, 1, 1), xautoclaim).acl(&["@stream"]),
];

const XGROUP: &[CommandSpec] = &[
    CommandSpec::new("xgroup|create", -5, WRITE | DENYOOM, (2, 2, 1), xgroup).acl(&["@stream"]),
    CommandSpec::new("xgroup|setid", -5, WRITE, (2, 2, 1), xgroup).acl(&["@stream"]),
    CommandSpec::new("xgroup|destroy", 4, WRITE, (2, 2, 1), xgroup).acl(&["@stream"]),
    CommandSpec::new("xgroup|createconsumer", 5, WRITE | DENYOOM, (2, 2, 1), xgroup).acl(&["@stream"]),
    CommandSpec::new("xgroup|delconsumer", 5, WRITE, (2, 2, 1), xgroup).acl(&["@stream"]),
    CommandSpec::new("xgroup|help", 2, LOADING | STALE, (0, 0, 0), xgroup_help).acl(&["@stream"]),
];

fn text(b: &[u8]) -> std::borrow::Cow<'_, str> {
    String::from_utf8_lossy(b)
}

/// `NOGROUP No such key 'k' or consumer group 'g'` (and a suffix some commands add).
pub(crate) fn no_group(key: &[u8], group: &[u8], suffix: &str) -> CmdError {
    CmdError::new(format!("NOGROUP No such key '{}' or consumer group '{}'{suffix}", text(key), text(group)))
}

/// What a claim or delivery propagates: the pending entry as it now is.
pub(crate) fn xclaim_argv(key: &[u8], group: &[u8], id: StreamId, nack: &Nack, last_id: StreamId) -> Vec<Vec<u8>> {
    vec![
        b"XCLAIM".to_vec(),
        key.to_vec(),
        group.to_vec(),
        nack.consumer.to_vec(),
        b"0".to_vec(),
        id.to_text().into_bytes(),
        b"TIME".to_vec(),
        nack.delivery_time.to_string().into_bytes(),
        b"RETRYCOUNT".to_vec(),
        nack.delivery_count.to_string().into_bytes(),
        b"FORCE".to_vec(),
        b"JUSTID".to_vec(),
        b"LASTID".to_vec(),
        last_id.to_text().into_bytes(),
    ]
}

/// What moving a group's last ID propagates.
pub(crate) fn setid_argv(key: &[u8], group: &[u8], g: &Group) -> Vec<Vec<u8>> {
    vec![
        b"XGROUP".to_vec(),
        b"SETID".to_vec(),
        key.to_vec(),
        group.to_vec(),
        g.last_id.to_text().into_bytes(),
        b"ENTRIESREAD".to_vec(),
        g.entries_read.to_string().into_bytes(),
    ]
}

/// What creating a consumer without a claim propagates (XREADGROUP NOACK).
pub(crate) fn createconsumer_argv(key: &[u8], group: &[u8], consumer: &[u8]) -> Vec<Vec<u8>> {
    vec![b"XGROUP".to_vec(), b"CREATECONSUMER".to_vec(), key.to_vec(), group.to_vec(), consumer.to_vec()]
}

/// Looks up (refreshing its seen time) or creates a consumer; whether it was created.
pub(crate) fn touch_consumer(g: &mut Group, name: &[u8], now: i64) -> bool {
    if g.consumer(name, now).is_some() {
        return false;
    }
    g.create_consumer(name, now)
}

/// All of XGROUP's subcommands: one parse, as Redis's xgroupCommand.
fn xgroup(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let sub = argv[1];
    let create = is(sub, "create");
    let setid = is(sub, "setid");
    let mut mkstream = false;
    let mut entries_read = ENTRIES_READ_UNKNOWN;
    let mut i = 5;
    while i < argv.len() {
        if create && is(argv[i], "mkstream") {
            mkstream = true;
            i += 1;
        } else if (create || setid) && is(argv[i], "entriesread") && i + 1 < argv.len() {
            entries_read = parse_i64(argv[i + 1])?;
            if entries_read < 0 && entries_read != ENTRIES_READ_UNKNOWN {
                return Err(CmdError::new("ERR value for ENTRIESREAD must be positive or -1"));
            }
            i += 2;
        } else {
            return Err(CmdError::sub_syntax(argv));
        }
    }
    let (key, name) = (argv[2], argv[3]);
    let now = ctx.now();
    let (exists, has_group) = lookup(ctx.db(), key, now)?.map_or((false, false), |s| (true, s.group(name).is_some()));
    if !mkstream {
        if !exists {
            return Err(CmdError::new(
                "ERR The XGROUP subcommand requires the key to exist. Note that for CREATE you may want to use the MKSTREAM option to create an empty stream automatically.",
            ));
        }
        if !has_group && !create && !is(sub, "destroy") {
            return Err(CmdError::new(format!("NOGROUP No such consumer group '{}' for key name '{}'", text(name), text(key))));
        }
    }
    if create {
        if argv.len() > 8 {
            return Err(CmdError::sub_syntax(argv));
        }
        let id = if argv[4] == b"$" { lookup(ctx.db(), key, now)?.map_or(StreamId::MIN, |s| s.last_id) } else { id_arg(argv[4], 0, true)? };
        let db = ctx.db();
        let s = match &mut db.get_or_insert_with(key, now, || Value::Stream(Box::default())).value {
            Value::Stream(s) => s,
            _ => return Err(CmdError::wrong_type()),
        };
        if !s.create_group(name, id, entries_read) {
            return Err(CmdError::new("BUSYGROUP Consumer Group name already exists"));
        }
        ctx.reply().ok();
        ctx.dirty(1);
        ctx.notify(STREAM, "xgroup-create", key);
        return Ok(());
    }
    let Some(s) = lookup(ctx.db(), key, now)? else { return Err(CmdError::no_such_key()) };
    if setid {
        if argv.len() != 5 && argv.len() != 7 {
            return Err(CmdError::sub_syntax(argv));
        }
        let id = if argv[4] == b"$" { s.last_id } else { id_arg(argv[4], 0, false)? };
        if let Some(g) = s.group_mut(name) {
            g.last_id = id;
            g.entries_read = entries_read;
        }
        ctx.reply().ok();
        ctx.dirty(1);
        ctx.notify(STREAM, "xgroup-setid", key);
    } else if is(sub, "destroy") {
        if s.destroy_group(name) {
            ctx.reply().int(1);
            ctx.dirty(1);
            ctx.notify(STREAM, "xgroup-destroy", key);
        } else {
            ctx.reply().int(0);
        }
    } else if is(sub, "createconsumer") {
        let created = s.group_mut(name).is_some_and(|g| g.create_consumer(argv[4], now as i64));
        ctx.reply().int(created as i64);
        if created {
            ctx.dirty(1);
            ctx.notify(STREAM, "xgroup-createconsumer", key);
        }
    } else if is(sub, "delconsumer") {
        match s.group_mut(name).and_then(|g| g.delete_consumer(argv[4])) {
            Some(pending) => {
                ctx.reply().int(pending as i64);
                ctx.dirty(1);
                ctx.notify(STREAM, "xgroup-delconsumer", key);
            }
            None => ctx.reply().int(0),
        }
    } else {
        return Err(CmdError::sub_syntax(argv));
    }
    Ok(())
}

fn xgroup_help(ctx: &mut Ctx<'_>, _argv: &[&[u8]]) -> CmdResult {
    super::reply_help(
        ctx,
        &[
            "XGROUP <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
            "CREATE <key> <groupname> <id|$> [option]",
            "    Create a new consumer group. Options are:",
            "    * MKSTREAM",
            "      Create the empty stream if it does not exist.",
            "    * ENTRIESREAD entries_read",
            "      Set the group's entries_read counter (internal use).",
            "CREATECONSUMER <key> <groupname> <consumer>",
            "    Create a new consumer in the specified group.",
            "DELCONSUMER <key> <groupname> <consumer>",
            "    Remove the specified consumer.",
            "DESTROY <key> <groupname>",
            "    Remove the specified group.",
            "SETID <key> <groupname> <id|$> [ENTRIESREAD entries_read]",
            "    Set the current group ID and entries_read counter.",
            "HELP",
            "    Prints this help.",
        ],
    );
    Ok(())
}

/// XACK key group id [id ...]
fn xack(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let now = ctx.now();
    let Some(g) = lookup(ctx.db(), argv[1], now)?.and_then(|s| s.group_mut(argv[2])) else {
        ctx.reply().int(0);
        return Ok(());
    };
    let ids = argv[3..].iter().map(|a| id_arg(a, 0, true)).collect::<Result<Vec<_>, _>>()?;
    let acked = ids.into_iter().filter(|id| g.ack(*id)).count();
    ctx.dirty(acked as u64);
    ctx.reply().int(acked as i64);
    Ok(())
}

/// XPENDING key group [[IDLE min-idle] start end count [consumer]]
fn xpending(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let n = argv.len();
    if n != 3 && !(6..=9).contains(&n) {
        return Err(CmdError::syntax());
    }
    let mut range = None;
    let mut min_idle = 0i64;
    if n >= 6 {
        let mut at = 3;
        if is(argv[3], "idle") {
            min_idle = parse_i64(argv[4])?;
            if n < 8 {
                return Err(CmdError::syntax());
            }
            at += 2;
        }
        let count = parse_i64(argv[at + 2])?.max(0) as usize;
        let start = range_start(argv[at])?;
        let end = super::streams::range_end(argv[at + 1])?;
        range = Some((start, end, count, argv.get(at + 3).copied()));
    }
    let now_ms = ctx.now();
    let now = now_ms as i64;
    let i = ctx.client.db;
    let s = lookup(&mut ctx.node.keyspace.dbs[i], argv[1], now_ms)?;
    let Some(g) = s.and_then(|s| s.group(argv[2])) else { return Err(no_group(argv[1], argv[2], "")) };
    let r = &mut ctx.client.reply;
    let Some((start, end, count, consumer)) = range else {
        r.array(4);
        r.int(g.pel.len() as i64);
        let (Some((first, _)), Some((last, _))) = (g.pel.first_key_value(), g.pel.last_key_value()) else {
            r.null();
            r.null();
            r.null_array();
            return Ok(());
        };
        reply_id(r, *first);
        reply_id(r, *last);
        let owners: Vec<_> = g.consumers.iter().filter(|(_, c)| !c.pel.is_empty()).collect();
        r.array(owners.len());
        for (name, c) in owners {
            r.array(2);
            r.bulk(name);
            r.bulk(c.pel.len().to_string().as_bytes());
        }
        return Ok(());
    };
    let ids: Box<dyn Iterator<Item = StreamId>> = match consumer {
        Some(name) => match g.consumers.get(name) {
            Some(c) => Box::new(c.pel.range(start..).copied()),
            None => {
                r.array(0);
                return Ok(());
            }
        },
        None => Box::new(g.pel.range(start..).map(|(id, _)| *id)),
    };
    let at = r.buf.len();
    let mut shown = 0;
    if count > 0 {
        for id in ids.take_while(|id| *id <= end) {
            let Some(nack) = g.pel.get(&id) else { continue };
            if min_idle != 0 && now - nack.delivery_time < min_idle {
                continue;
            }
            r.array(4);
            reply_id(r, id);
            r.bulk(&nack.consumer);
            r.int((now - nack.delivery_time).max(0));
            r.int(nack.delivery_count as i64);
            shown += 1;
            if shown == count {
                break;
            }
        }
    }
    r.insert_array(at, shown);
    Ok(())
}

/// Replies the entry `id` of `s` (it exists).
fn reply_one(r: &mut crate::resp::ReplyBuf, s: &Stream, id: StreamId) {
    s.visit(id, id, false, |node, e| {
        reply_entry(r, node, e);
        false
    });
}

/// An integer option with XCLAIM/XAUTOCLAIM's own error text.
fn int_or(a: &[u8], msg: &'static str) -> Result<i64, CmdError> {
    parse_i64(a).map_err(|_| CmdError::new(msg))
}

/// XCLAIM key group consumer min-idle-time id [id ...] [IDLE ms] [TIME ms]
/// [RETRYCOUNT n] [FORCE] [JUSTID] [LASTID id]
fn xclaim(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let now_ms = ctx.now();
    let now = now_ms as i64;
    let (key, gname, cname) = (argv[1], argv[2], argv[3]);
    if lookup(ctx.db(), key, now_ms)?.and_then(|s| s.group(gname)).is_none() {
        return Err(no_group(key, gname, ""));
    }
    let min_idle = int_or(argv[4], "ERR Invalid min-idle-time argument for XCLAIM")?.max(0);
    let mut ids = Vec::new();
    let mut j = 5;
    while j < argv.len() {
        match super::streams::id_arg(argv[j], 0, true) {
            Ok(id) => ids.push(id),
            Err(_) => break,
        }
        j += 1;
    }
    let (mut force, mut justid) = (false, false);
    let mut retrycount: i64 = -1;
    let mut delivery: i64 = -1;
    let mut last_id = StreamId::MIN;
    while j < argv.len() {
        let more = argv.len() - 1 - j;
        let opt = argv[j];
        if is(opt, "force") {
            force = true;
        } else if is(opt, "justid") {
            justid = true;
        } else if is(opt, "idle") && more > 0 {
            j += 1;
            delivery = now - int_or(argv[j], "ERR Invalid IDLE option argument for XCLAIM")?;
        } else if is(opt, "time") && more > 0 {
            j += 1;
            delivery = int_or(argv[j], "ERR Invalid TIME option argument for XCLAIM")?;
        } else if is(opt, "retrycount") && more > 0 {
            j += 1;
            retrycount = int_or(argv[j], "ERR Invalid RETRYCOUNT option argument for XCLAIM")?;
        } else if is(opt, "lastid") && more > 0 {
            j += 1;
            last_id = id_arg(argv[j], 0, true)?;
        } else {
            return Err(CmdError::new(format!("ERR Unrecognized XCLAIM option '{}'", text(opt))));
        }
        j += 1;
    }
    if delivery == -1 || delivery < 0 || delivery > now {
        delivery = now;
    }
    let i = ctx.client.db;
    let Some(s) = lookup(&mut ctx.node.keyspace.dbs[i], key, now_ms)? else { return Ok(()) };
    let mut claims = Claims::new(key, gname, cname, now);
    let mut propagate_last_id = false;
    if let Some(g) = s.group_mut(gname) {
        if last_id > g.last_id {
            g.last_id = last_id;
            propagate_last_id = true;
        }
    }
    let r = &mut ctx.client.reply;
    let at = r.buf.len();
    let mut shown = 0;
    for id in ids {
        let exists = s.exists(id);
        let Some(g) = s.group_mut(gname) else { break };
        if !exists {
            if claims.drop_deleted(g, id) {
                propagate_last_id = false;
            }
            continue;
        }
        if force && !g.pel.contains_key(&id) {
            g.pel.insert(id, Nack { delivery_time: now, delivery_count: 1, consumer: Box::default() });
        }
        let Some(nack) = g.pel.get(&id) else { continue };
        if !nack.consumer.is_empty() && min_idle > 0 && now - nack.delivery_time < min_idle {
            continue;
        }
        let count = if retrycount >= 0 {
            Delivery::Set(retrycount as u64)
        } else if justid {
            Delivery::Keep
        } else {
            Delivery::Bump
        };
        claims.claim(g, id, delivery, count);
        propagate_last_id = false;
        if justid {
            reply_id(r, id);
        } else {
            reply_one(r, s, id);
        }
        shown += 1;
    }
    r.insert_array(at, shown);
    if propagate_last_id {
        if let Some(g) = s.group(gname) {
            claims.props.push(setid_argv(key, gname, g));
            claims.dirty += 1;
        }
    }
    claims.finish(ctx);
    Ok(())
}

/// How a claim changes an entry's delivery count.
enum Delivery {
    Set(u64),
    Bump,
    Keep,
}

/// What one XCLAIM/XAUTOCLAIM run changes, carried across its entries.
struct Claims<'a> {
    key: &'a [u8],
    group: &'a [u8],
    consumer: &'a [u8],
    now: i64,
    /// The commands replicas and the AOF get instead of the claim itself.
    props: Vec<Vec<Vec<u8>>>,
    dirty: u64,
    /// The consumer was created by this claim (once, at its first entry).
    created: bool,
    consumer_ready: bool,
}

impl<'a> Claims<'a> {
    fn new(key: &'a [u8], group: &'a [u8], consumer: &'a [u8], now: i64) -> Self {
        Claims { key, group, consumer, now, props: Vec::new(), dirty: 0, created: false, consumer_ready: false }
    }

    /// Gives pending entry `id` to the consumer (created at the first
    /// claim), stamps its delivery and records its XCLAIM for replicas.
    fn claim(&mut self, g: &mut Group, id: StreamId, delivery_time: i64, count: Delivery) {
        if !self.consumer_ready {
            if touch_consumer(g, self.consumer, self.now) {
                self.created = true;
                self.dirty += 1;
            }
            self.consumer_ready = true;
        }
        g.reassign(id, self.consumer);
        let last = g.last_id;
        let Some(nack) = g.pel.get_mut(&id) else { return };
        nack.delivery_time = delivery_time;
        match count {
            Delivery::Set(n) => nack.delivery_count = n,
            Delivery::Bump => nack.delivery_count += 1,
            Delivery::Keep => {}
        }
        self.props.push(xclaim_argv(self.key, self.group, id, nack, last));
        self.dirty += 1;
    }

    /// A pending entry whose stream entry is gone leaves the PEL, and
    /// replicas are told with its XCLAIM; whether it was pending.
    fn drop_deleted(&mut self, g: &mut Group, id: StreamId) -> bool {
        let Some(nack) = g.pel.get(&id) else { return false };
        self.props.push(xclaim_argv(self.key, self.group, id, nack, g.last_id));
        self.dirty += 1;
        g.ack(id);
        true
    }

    /// Records the changes: dirtiness, the consumer-creation event, and the
    /// commands propagated instead of the claim itself.
    fn finish(self, ctx: &mut Ctx<'_>) {
        if self.created {
            ctx.notify(STREAM, "xgroup-createconsumer", self.key);
        }
        ctx.dirty(self.dirty);
        ctx.propagate_instead(self.props);
    }
}

/// XAUTOCLAIM key group consumer min-idle-time start [COUNT count] [JUSTID]
fn xautoclaim(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let (key, gname, cname) = (argv[1], argv[2], argv[3]);
    let min_idle = int_or(argv[4], "ERR Invalid min-idle-time argument for XAUTOCLAIM")?.max(0);
    let start = range_start(argv[5])?;
    let mut count: i64 = 100;
    let mut justid = false;
    let mut j = 6;
    while j < argv.len() {
        let more = argv.len() - 1 - j;
        if is(argv[j], "count") && more > 0 {
            let max = i64::MAX / 16;
            count = parse_i64(argv[j + 1]).ok().filter(|c| (1..=max).contains(c)).ok_or_else(|| CmdError::new("ERR COUNT must be > 0"))?;
            j += 1;
        } else if is(argv[j], "justid") {
            justid = true;
        } else {
            return Err(CmdError::syntax());
        }
        j += 1;
    }
    let now_ms = ctx.now();
    let now = now_ms as i64;
    let i = ctx.client.db;
    let s = lookup(&mut ctx.node.keyspace.dbs[i], key, now_ms)?;
    let Some(s) = s.filter(|s| s.group(gname).is_some()) else { return Err(no_group(key, gname, "")) };
    let mut attempts = count.saturating_mul(10);
    let candidates: Vec<StreamId> =
        s.group(gname).map(|g| g.pel.range(start..).map(|(id, _)| *id).take(attempts as usize + 1).collect()).unwrap_or_default();
    let mut claims = Claims::new(key, gname, cname, now);
    let mut deleted = Vec::new();
    let r = &mut ctx.client.reply;
    r.array(3);
    let at = r.buf.len();
    let mut shown = 0;
    let mut idx = 0;
    while attempts > 0 && count > 0 && idx < candidates.len() {
        attempts -= 1;
        let id = candidates[idx];
        idx += 1;
        let exists = s.exists(id);
        let Some(g) = s.group_mut(gname) else { break };
        if !exists {
            claims.drop_deleted(g, id);
            deleted.push(id);
            count -= 1;
            continue;
        }
        let Some(nack) = g.pel.get(&id) else { continue };
        if min_idle > 0 && now - nack.delivery_time < min_idle {
            continue;
        }
        claims.claim(g, id, now, if justid { Delivery::Keep } else { Delivery::Bump });
        if justid {
            reply_id(r, id);
        } else {
            reply_one(r, s, id);
        }
        shown += 1;
        count -= 1;
    }
    r.insert_array(at, shown);
    // The cursor: the next pending ID after the last one looked at, 0-0 at the end.
    let mut cursor = crate::resp::ReplyBuf::new();
    reply_id(&mut cursor, candidates.get(idx).copied().unwrap_or(StreamId::MIN));
    r.buf.splice(at..at, cursor.buf);
    r.array(deleted.len());
    for id in deleted {
        reply_id(r, id);
    }
    claims.finish(ctx);
    Ok(())
}
