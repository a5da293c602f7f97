//! Persistence commands: SAVE, BGSAVE, BGREWRITEAOF, DUMP, RESTORE (and
//! RESTORE-ASKING, used by MIGRATE during slot migration).

use super::args::{is, parse_i64};
use super::flags::*;
use super::{CmdError, CmdResult, CommandSpec, Ctx};
use crate::persistence::{self, dump, rdb, BgStart, PersistError};

pub const COMMANDS: &[CommandSpec] = &[
    CommandSpec::new("save", 1, ADMIN | NOSCRIPT | NO_MULTI | NO_ASYNC_LOADING, (0, 0, 0), save),
    CommandSpec::new("bgsave", -1, ADMIN | NOSCRIPT | NO_ASYNC_LOADING, (0, 0, 0), bgsave),
    CommandSpec::new("bgrewriteaof", 1, ADMIN | NOSCRIPT | NO_ASYNC_LOADING, (0, 0, 0), bgrewriteaof),
    CommandSpec::new("dump", 2, READONLY, (1, 1, 1), dump_cmd).acl(&["@keyspace"]),
    CommandSpec::new("restore", -4, WRITE | DENYOOM, (1, 1, 1), restore).acl(&["@dangerous", "@keyspace"]),
    CommandSpec::new("restore-asking", -4, WRITE | DENYOOM, (1, 1, 1), restore).acl(&["@dangerous", "@keyspace"]),
];

fn save(ctx: &mut Ctx<'_>, _argv: &[&[u8]]) -> CmdResult {
    match persistence::save_sync(&mut ctx.node.persistence_parts()) {
        Ok(()) => {
            ctx.reply().ok();
            Ok(())
        }
        Err(PersistError::ChildBusy) => Err(CmdError::new("ERR Background save already in progress")),
        Err(_) => Err(CmdError::new("ERR")),
    }
}

fn bgsave(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let schedule = match argv.get(1) {
        None => false,
        Some(a) if is(a, "schedule") && argv.len() == 2 => true,
        Some(_) => return Err(CmdError::syntax()),
    };
    match persistence::bgsave(&mut ctx.node.persistence_parts(), schedule) {
        Ok(BgStart::Started) | Ok(BgStart::DoneInline) => ctx.reply().simple("Background saving started"),
        Ok(BgStart::Scheduled) => ctx.reply().simple("Background saving scheduled"),
        Err(PersistError::ChildBusy) => return Err(CmdError::new("ERR Background save already in progress")),
        Err(PersistError::Aof(msg)) => return Err(CmdError::new(format!("ERR {msg}"))),
        Err(e) => return Err(CmdError::new(format!("ERR {e}"))),
    }
    Ok(())
}

fn bgrewriteaof(ctx: &mut Ctx<'_>, _argv: &[&[u8]]) -> CmdResult {
    let p = &ctx.node.persistence;
    if matches!(p.child.as_ref().map(|c| &c.kind), Some(persistence::ChildKind::AofRewrite { .. })) {
        return Err(CmdError::new("ERR Background append only file rewriting already in progress"));
    }
    if p.child.is_some() {
        ctx.node.persistence.aof_rewrite_scheduled = true;
        ctx.reply().simple("Background append only file rewriting scheduled");
        return Ok(());
    }
    match persistence::aof::start_rewrite(&mut ctx.node.persistence_parts()) {
        Ok(()) => {
            ctx.reply().simple("Background append only file rewriting started");
            Ok(())
        }
        Err(e) => Err(CmdError::new(format!("ERR {e}"))),
    }
}

fn dump_cmd(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let now = ctx.now();
    let opts = rdb::EncodeOptions::from_config(&ctx.node.config);
    let payload = ctx.db().get(argv[1], now).map(|e| dump::dump_value(&e.value, &opts));
    match payload {
        Some(p) => ctx.reply().bulk(&p),
        None => ctx.reply().null(),
    }
    Ok(())
}

/// RESTORE key ttl serialized-value [REPLACE] [ABSTTL] [IDLETIME seconds] [FREQ frequency]
fn restore(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let key = argv[1];
    let mut replace = false;
    let mut absttl = false;
    let mut idle: Option<i64> = None;
    let mut freq: Option<i64> = None;
    let mut i = 4;
    while i < argv.len() {
        let a = argv[i];
        if is(a, "replace") {
            replace = true;
        } else if is(a, "absttl") {
            absttl = true;
        } else if is(a, "idletime") && i + 1 < argv.len() && freq.is_none() {
            let v = parse_i64(argv[i + 1])?;
            if v < 0 {
                return Err(CmdError::new("ERR Invalid IDLETIME value, must be >= 0"));
            }
            idle = Some(v);
            i += 1;
        } else if is(a, "freq") && i + 1 < argv.len() && idle.is_none() {
            let v = parse_i64(argv[i + 1])?;
            if !(0..=255).contains(&v) {
                return Err(CmdError::new("ERR Invalid FREQ value, must be >= 0 and <= 255"));
            }
            freq = Some(v);
            i += 1;
        } else {
            return Err(CmdError::syntax());
        }
        i += 1;
    }
    let ttl = parse_i64(argv[2])?;
    if ttl < 0 {
        return Err(CmdError::new("ERR Invalid TTL value, must be >= 0"));
    }
    let now = ctx.now();
    if !replace && ctx.db().contains(key, now) {
        return Err(CmdError::new("BUSYKEY Target key name already exists."));
    }
    let value = match dump::parse_payload(argv[3], ctx.node.persistence.skip_checksum_validation) {
        Ok(v) => v,
        Err(e) => {
            if let dump::DumpError::BadData(why) = &e {
                // Redis logs a refused payload's reason at verbose level.
                tracing::debug!("{why}");
            }
            return Err(CmdError::new(e.to_string()));
        }
    };
    let expire_at = match (ttl, absttl) {
        (0, _) => 0,
        (t, true) => t as u64,
        (t, false) => now.saturating_add(t as u64),
    };
    if expire_at != 0 && expire_at <= now {
        // Already expired: the key ends up absent, as in Redis.
        if ctx.db().remove(key, now).is_some() {
            ctx.dirty(1);
            ctx.propagate_as(vec![b"DEL".to_vec(), key.to_vec()]);
            ctx.notify(crate::util::events::GENERIC, "del", key);
        }
        ctx.reply().ok();
        return Ok(());
    }
    ctx.db().set_with_expire(key, value, expire_at);
    let mode = ctx.db().lru_mode;
    let field = match (mode, idle, freq) {
        (crate::keyspace::lru::Mode::Lru, Some(s), _) => Some(crate::keyspace::lru::with_idle(s, now)),
        (crate::keyspace::lru::Mode::Lfu { .. }, _, Some(f)) => Some(crate::keyspace::lru::with_freq(f as u8, now)),
        _ => None,
    };
    if let (Some(f), Some(e)) = (field, ctx.db().get_mut(key, now)) {
        e.lru = f;
    }
    ctx.dirty(1);
    ctx.notify(crate::util::events::GENERIC, "restore", key);
    if expire_at != 0 && !absttl {
        // Replicas and the AOF get the absolute deadline.
        let mut p: Vec<Vec<u8>> = argv.iter().map(|a| a.to_vec()).collect();
        p[2] = expire_at.to_string().into_bytes();
        p.push(b"ABSTTL".to_vec());
        ctx.propagate_as(p);
    }
    ctx.reply().ok();
    Ok(())
}
