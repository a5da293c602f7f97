//! HyperLogLog commands: PFADD, PFCOUNT, PFMERGE, PFDEBUG, PFSELFTEST. The
//! value is a plain string in Redis's HYLL format (see `keyspace::hll`).

use super::args::is;
use super::flags::*;
use super::{CmdError, CmdResult, CommandSpec, Ctx};
use crate::keyspace::hll::{self, Corrupt};
use crate::keyspace::Value;
use crate::util::events::STRING;

pub const COMMANDS: &[CommandSpec] = &[
    CommandSpec::new("pfadd", -2, WRITE | DENYOOM | FAST, (1, 1, 1), pfadd).acl(&["@hyperloglog"]),
    CommandSpec::new("pfcount", -2, READONLY | MAY_REPLICATE, (1, -1, 1), pfcount).acl(&["@hyperloglog"]),
    CommandSpec::new("pfmerge", -2, WRITE | DENYOOM, (1, -1, 1), pfmerge).acl(&["@hyperloglog"]),
    CommandSpec::new("pfdebug", 3, WRITE | DENYOOM | ADMIN, (2, 2, 1), pfdebug).acl(&["@hyperloglog"]),
    CommandSpec::new("pfselftest", 1, ADMIN, (0, 0, 0), pfselftest).acl(&["@hyperloglog"]),
];

fn not_hll() -> CmdError {
    CmdError::new("WRONGTYPE Key is not a valid HyperLogLog string value.")
}

fn corrupt(_: Corrupt) -> CmdError {
    CmdError::new("INVALIDOBJ Corrupted HLL object detected")
}

fn sparse_max(ctx: &mut Ctx<'_>) -> usize {
    ctx.db().limits.hll_sparse_max
}

/// The HLL string at `key` for writing: None if missing, errors for other
/// types and for strings that are not HLLs.
fn hll_mut<'a>(ctx: &'a mut Ctx<'_>, key: &[u8]) -> Result<Option<&'a mut Box<[u8]>>, CmdError> {
    let now = ctx.now();
    match ctx.db().get_mut(key, now) {
        None => Ok(None),
        Some(e) => match &mut e.value {
            Value::Str(s) if hll::is_hll(s) => {
                // Written in place: Redis's `raw` encoding.
                e.raw = true;
                Ok(Some(s))
            }
            Value::Str(_) => Err(not_hll()),
            _ => Err(CmdError::wrong_type()),
        },
    }
}

/// Runs `f` on the value as a growable vector and stores it back.
fn edit<R>(s: &mut Box<[u8]>, f: impl FnOnce(&mut Vec<u8>) -> R) -> R {
    let mut v = std::mem::take(s).into_vec();
    let r = f(&mut v);
    *s = v.into_boxed_slice();
    r
}

fn pfadd(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let max = sparse_max(ctx);
    let add_all = |v: &mut Vec<u8>| {
        let mut changed = 0u64;
        for ele in &argv[2..] {
            if hll::add(v, ele, max)? {
                changed += 1;
            }
        }
        if changed > 0 {
            hll::invalidate_cache(v);
        }
        Ok(changed)
    };
    let updated = match hll_mut(ctx, argv[1])? {
        Some(s) => edit(s, add_all).map_err(corrupt)?,
        None => {
            // A new HLL: built here, stored once (its creation counts as a change).
            let mut v = hll::new_sparse();
            let changed = add_all(&mut v).map_err(corrupt)?;
            ctx.db().set(argv[1], Value::Str(v.into_boxed_slice()));
            super::strings::mark_raw(ctx, argv[1]);
            changed + 1
        }
    };
    if updated > 0 {
        ctx.dirty(updated);
        ctx.notify(STRING, "pfadd", argv[1]);
    }
    ctx.reply().int((updated > 0) as i64);
    Ok(())
}

/// An HLL source for reading: None if missing.
fn hll_read<'a>(ctx: &'a mut Ctx<'_>, key: &[u8]) -> Result<Option<&'a [u8]>, CmdError> {
    match super::strings::read_str(ctx, key) {
        Ok(Some(s)) if hll::is_hll(s) => Ok(Some(s)),
        Ok(Some(_)) => Err(not_hll()),
        Ok(None) => Ok(None),
        Err(_) => Err(CmdError::wrong_type()),
    }
}

fn pfcount(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    if argv.len() > 2 {
        let mut max = Box::new([0u8; hll::REGISTERS]);
        for key in &argv[1..] {
            if let Some(s) = hll_read(ctx, key)? {
                hll::merge_into(&mut max, s).map_err(corrupt)?;
            }
        }
        ctx.reply().int(hll::count_registers(&max) as i64);
        return Ok(());
    }
    let Some(s) = hll_mut(ctx, argv[1])? else {
        ctx.reply().int(0);
        return Ok(());
    };
    let card = match hll::cached(s) {
        Some(c) => c,
        None => {
            let c = hll::count(s).map_err(corrupt)?;
            hll::set_cache(s, c);
            ctx.dirty(1);
            c
        }
    };
    ctx.reply().int(card as i64);
    Ok(())
}

fn pfmerge(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let mut max = Box::new([0u8; hll::REGISTERS]);
    let mut use_dense = false;
    for key in &argv[1..] {
        if let Some(s) = hll_read(ctx, key)? {
            use_dense |= !hll::is_sparse(s);
            hll::merge_into(&mut max, s).map_err(corrupt)?;
        }
    }
    let limit = sparse_max(ctx);
    if hll_mut(ctx, argv[1])?.is_none() {
        ctx.db().set(argv[1], Value::Str(hll::new_sparse().into_boxed_slice()));
    }
    let Some(s) = hll_mut(ctx, argv[1])? else { return Err(CmdError::no_such_key()) };
    edit(s, |v| {
        if use_dense {
            hll::to_dense(v)?;
        }
        hll::set_registers(v, &max, limit)?;
        hll::invalidate_cache(v);
        Ok(())
    })
    .map_err(corrupt)?;
    ctx.dirty(1);
    ctx.notify(STRING, "pfadd", argv[1]);
    ctx.reply().ok();
    Ok(())
}

fn pfdebug(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let sub = argv[1];
    let Some(s) = hll_mut(ctx, argv[2])? else { return Err(CmdError::new("ERR The specified key does not exist")) };
    if is(sub, "getreg") {
        let converted = hll::is_sparse(s);
        let regs = edit(s, |v| hll::to_dense(v).map(|_| hll::dense_registers(v))).map_err(corrupt)?;
        if converted {
            ctx.dirty(1);
        }
        let r = ctx.reply();
        r.array(regs.len());
        for v in regs {
            r.int(v as i64);
        }
    } else if is(sub, "decode") {
        if !hll::is_sparse(s) {
            return Err(CmdError::new("ERR HLL encoding is not sparse"));
        }
        let text = hll::decode_sparse(s);
        ctx.reply().bulk(text.as_bytes());
    } else if is(sub, "encoding") {
        let name = if hll::is_sparse(s) { "sparse" } else { "dense" };
        ctx.reply().simple(name);
    } else if is(sub, "todense") {
        let conv = hll::is_sparse(s);
        if conv {
            edit(s, hll::to_dense).map_err(corrupt)?;
            ctx.dirty(1);
        }
        ctx.reply().int(conv as i64);
    } else {
        return Err(CmdError::new(format!("ERR Unknown PFDEBUG subcommand '{}'", String::from_utf8_lossy(sub))));
    }
    Ok(())
}

fn pfselftest(ctx: &mut Ctx<'_>, _argv: &[&[u8]]) -> CmdResult {
    let seed = crate::util::time::unix_ms() ^ ctx.client.id.rotate_left(32);
    hll::self_test(seed, sparse_max(ctx)).map_err(CmdError::new)?;
    ctx.reply().ok();
    Ok(())
}
