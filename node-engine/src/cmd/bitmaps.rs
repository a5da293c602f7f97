//! Bitmap commands on string values: SETBIT, GETBIT, BITCOUNT, BITPOS,
//! BITOP and BITFIELD, with Redis 7.0's ranges, errors and overflow rules.

use super::args::{is, parse_i64};
use super::flags::*;
use super::strings::read_str;
use super::{CmdError, CmdResult, CommandSpec, Ctx};
use crate::keyspace::Value;
use crate::util::events::{GENERIC, STRING};

pub const COMMANDS: &[CommandSpec] = &[
    CommandSpec::new("setbit", 4, WRITE | DENYOOM, (1, 1, 1), setbit).acl(&["@bitmap"]),
    CommandSpec::new("getbit", 3, READONLY | FAST, (1, 1, 1), getbit).acl(&["@bitmap"]),
    CommandSpec::new("bitcount", -2, READONLY, (1, 1, 1), bitcount).acl(&["@bitmap"]),
    CommandSpec::new("bitpos", -3, READONLY, (1, 1, 1), bitpos).acl(&["@bitmap"]),
    CommandSpec::new("bitop", -4, WRITE | DENYOOM, (2, -1, 1), bitop).acl(&["@bitmap"]),
    CommandSpec::new("bitfield", -2, WRITE | DENYOOM, (1, 1, 1), bitfield).acl(&["@bitmap"]),
    CommandSpec::new("bitfield_ro", -2, READONLY | FAST, (1, 1, 1), bitfield_ro).acl(&["@bitmap"]),
];

const OFFSET_ERR: &str = "ERR bit offset is not an integer or out of range";

/// A bit offset argument; `#N` (BITFIELD) means N times the field width.
fn bit_offset(ctx: &Ctx<'_>, arg: &[u8], hash_bits: Option<u32>) -> Result<u64, CmdError> {
    let err = || CmdError::new(OFFSET_ERR);
    let (digits, mul) = match (arg.first(), hash_bits) {
        (Some(b'#'), Some(bits)) => (&arg[1..], bits as i64),
        _ => (arg, 1),
    };
    let n = super::args::strict_i64(digits).ok_or_else(err)?.checked_mul(mul).ok_or_else(err)?;
    let max_bulk = ctx.node.config.int_named("proto-max-bulk-len", 512 << 20);
    if n < 0 || (!ctx.client.from_master && (n >> 3) >= max_bulk) {
        return Err(err());
    }
    Ok(n as u64)
}

/// The string at `key`, zero-padded so that bit `maxbit` exists (created if
/// missing). Returns whether the key was created or grew.
fn string_for_write<'a>(ctx: &'a mut Ctx<'_>, key: &[u8], maxbit: u64) -> Result<(&'a mut Box<[u8]>, bool), CmdError> {
    let need = (maxbit >> 3) as usize + 1;
    let now = ctx.now();
    let db = ctx.db();
    if let Some(e) = db.get(key, now) {
        if !matches!(e.value, Value::Str(_)) {
            return Err(CmdError::wrong_type());
        }
    }
    let mut grew = false;
    let e = db.get_or_insert_with(key, now, || {
        grew = true;
        Value::Str(vec![0u8; need].into_boxed_slice())
    });
    let Value::Str(s) = &mut e.value else { return Err(CmdError::wrong_type()) };
    e.raw = true;
    if s.len() < need {
        let mut v = std::mem::take(s).into_vec();
        v.resize(need, 0);
        *s = v.into_boxed_slice();
        grew = true;
    }
    Ok((s, grew))
}

fn setbit(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let offset = bit_offset(ctx, argv[2], None)?;
    let on = super::args::strict_i64(argv[3]).filter(|v| *v == 0 || *v == 1);
    let Some(on) = on else { return Err(CmdError::new("ERR bit is not an integer or out of range")) };
    let (s, grew) = string_for_write(ctx, argv[1], offset)?;
    let byte = (offset >> 3) as usize;
    let mask = 1u8 << (7 - (offset & 7));
    let old = s[byte] & mask != 0;
    let changed = grew || old != (on == 1);
    if on == 1 {
        s[byte] |= mask;
    } else {
        s[byte] &= !mask;
    }
    if changed {
        ctx.dirty(1);
        ctx.notify(STRING, "setbit", argv[1]);
    }
    ctx.reply().int(old as i64);
    Ok(())
}

fn getbit(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let offset = bit_offset(ctx, argv[2], None)?;
    let byte = (offset >> 3) as usize;
    let bit = read_str(ctx, argv[1])?.and_then(|s| s.get(byte).copied()).map_or(0, |b| (b >> (7 - (offset & 7))) & 1);
    ctx.reply().int(bit as i64);
    Ok(())
}

/// A BITCOUNT/BITPOS range resolved to bytes, with the masks of the bits
/// outside a BIT range in the first and last byte.
struct Range {
    start: i64,
    end: i64,
    first_mask: u8,
    last_mask: u8,
}

/// Clamps `start..=end` (negative from the end) to a string of `len` bytes,
/// counting bits when `bits` is set, as Redis's bitcount/bitpos do.
fn resolve(mut start: i64, mut end: i64, len: usize, bits: bool) -> Range {
    let total = if bits { (len as i64) << 3 } else { len as i64 };
    if start < 0 {
        start += total;
    }
    if end < 0 {
        end += total;
    }
    start = start.max(0);
    end = end.max(0).min(total - 1);
    let (mut first_mask, mut last_mask) = (0u8, 0u8);
    if bits && start <= end {
        first_mask = !((1u16 << (8 - (start & 7))) - 1) as u8;
        last_mask = ((1u16 << (7 - (end & 7))) - 1) as u8;
        start >>= 3;
        end >>= 3;
    }
    Range { start, end, first_mask, last_mask }
}

fn unit_is_bit(arg: &[u8]) -> Result<bool, CmdError> {
    if is(arg, "bit") {
        Ok(true)
    } else if is(arg, "byte") {
        Ok(false)
    } else {
        Err(CmdError::syntax())
    }
}

fn popcount(b: &[u8]) -> i64 {
    let words = b.chunks_exact(8);
    let tail: i64 = words.remainder().iter().map(|x| x.count_ones() as i64).sum();
    let mut n = 0i64;
    for w in words {
        n += u64::from_ne_bytes([w[0], w[1], w[2], w[3], w[4], w[5], w[6], w[7]]).count_ones() as i64;
    }
    n + tail
}

fn bitcount(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let Some(s) = read_str(ctx, argv[1])? else {
        ctx.reply().int(0);
        return Ok(());
    };
    let r = match argv.len() {
        2 => Range { start: 0, end: s.len() as i64 - 1, first_mask: 0, last_mask: 0 },
        4 | 5 => {
            let start = parse_i64(argv[2])?;
            let end = parse_i64(argv[3])?;
            if start < 0 && end < 0 && start > end {
                ctx.reply().int(0);
                return Ok(());
            }
            let bits = if argv.len() == 5 { unit_is_bit(argv[4])? } else { false };
            resolve(start, end, s.len(), bits)
        }
        _ => return Err(CmdError::syntax()),
    };
    let count = if r.start > r.end {
        0
    } else {
        let (a, b) = (r.start as usize, r.end as usize);
        popcount(&s[a..=b]) - (s[a] & r.first_mask).count_ones() as i64 - (s[b] & r.last_mask).count_ones() as i64
    };
    ctx.reply().int(count);
    Ok(())
}

/// First bit equal to `bit` in `bytes`, counted from the first byte's MSB;
/// for a clear bit not found, the position just past the end (Redis's
/// redisBitpos); for a set bit not found, -1.
fn first_bit(bytes: &[u8], bit: bool) -> i64 {
    for (i, &b) in bytes.iter().enumerate() {
        let b = if bit { b } else { !b };
        if b != 0 {
            return (i as i64) * 8 + b.leading_zeros() as i64;
        }
    }
    if bit {
        -1
    } else {
        (bytes.len() as i64) * 8
    }
}

fn bitpos(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let bit = parse_i64(argv[2])?;
    if bit != 0 && bit != 1 {
        return Err(CmdError::new("ERR The bit argument must be 1 or 0."));
    }
    let bit = bit == 1;
    let Some(s) = read_str(ctx, argv[1])? else {
        ctx.reply().int(if bit { -1 } else { 0 });
        return Ok(());
    };
    let mut end_given = false;
    let r = match argv.len() {
        3 => Range { start: 0, end: s.len() as i64 - 1, first_mask: 0, last_mask: 0 },
        4..=6 => {
            let start = parse_i64(argv[3])?;
            let bits = if argv.len() == 6 { unit_is_bit(argv[5])? } else { false };
            let end = if argv.len() >= 5 {
                end_given = true;
                parse_i64(argv[4])?
            } else if bits {
                ((s.len() as i64) << 3) + 7
            } else {
                s.len() as i64 - 1
            };
            resolve(start, end, s.len(), bits)
        }
        _ => return Err(CmdError::syntax()),
    };
    if r.start > r.end {
        ctx.reply().int(-1);
        return Ok(());
    }
    // Bits outside a BIT range are forced to the value not searched for.
    let mut window: Vec<u8> = s[r.start as usize..=r.end as usize].to_vec();
    let last = window.len() - 1;
    let force = |b: &mut u8, mask: u8| {
        if bit {
            *b &= !mask
        } else {
            *b |= mask
        }
    };
    force(&mut window[0], r.first_mask);
    force(&mut window[last], r.last_mask);
    let mut pos = first_bit(&window, bit);
    // An explicit end means the range is not zero-padded to the right.
    if end_given && !bit && pos == (window.len() as i64) * 8 {
        pos = -1;
    }
    if pos != -1 {
        pos += r.start << 3;
    }
    ctx.reply().int(pos);
    Ok(())
}

fn bitop(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    #[derive(PartialEq, Clone, Copy)]
    enum Op {
        And,
        Or,
        Xor,
        Not,
    }
    let op = match argv[1] {
        a if is(a, "and") => Op::And,
        a if is(a, "or") => Op::Or,
        a if is(a, "xor") => Op::Xor,
        a if is(a, "not") => Op::Not,
        _ => return Err(CmdError::syntax()),
    };
    if op == Op::Not && argv.len() != 4 {
        return Err(CmdError::new("ERR BITOP NOT must be called with a single source key."));
    }
    let mut sources: Vec<Option<Vec<u8>>> = Vec::with_capacity(argv.len() - 3);
    for key in &argv[3..] {
        sources.push(read_str(ctx, key)?.map(<[u8]>::to_vec));
    }
    let maxlen = sources.iter().map(|s| s.as_ref().map_or(0, Vec::len)).max().unwrap_or(0);
    let now = ctx.now();
    if maxlen == 0 {
        if ctx.db().remove(argv[2], now).is_some() {
            ctx.dirty(1);
            ctx.propagate_as(vec![b"DEL".to_vec(), argv[2].to_vec()]);
            ctx.notify(GENERIC, "del", argv[2]);
        }
        ctx.reply().int(0);
        return Ok(());
    }
    let byte = |s: &Option<Vec<u8>>, j: usize| s.as_ref().and_then(|v| v.get(j).copied()).unwrap_or(0);
    let mut out = vec![0u8; maxlen];
    for (j, o) in out.iter_mut().enumerate() {
        let mut acc = byte(&sources[0], j);
        for s in &sources[1..] {
            let b = byte(s, j);
            match op {
                Op::And => acc &= b,
                Op::Or => acc |= b,
                Op::Xor => acc ^= b,
                Op::Not => {}
            }
        }
        *o = if op == Op::Not { !acc } else { acc };
    }
    ctx.db().set(argv[2], Value::Str(out.into_boxed_slice()));
    super::strings::mark_raw(ctx, argv[2]);
    ctx.dirty(1);
    ctx.notify(STRING, "set", argv[2]);
    ctx.reply().int(maxlen as i64);
    Ok(())
}

#[derive(Clone, Copy, PartialEq)]
enum Overflow {
    Wrap,
    Sat,
    Fail,
}

#[derive(Clone, Copy, PartialEq)]
enum FieldOp {
    Get,
    Set,
    IncrBy,
}

struct Field {
    op: FieldOp,
    offset: u64,
    value: i64,
    overflow: Overflow,
    bits: u32,
    signed: bool,
}

/// `i8`..`i64`, `u1`..`u63` (u64 replies would not fit a RESP integer).
fn field_type(arg: &[u8]) -> Result<(bool, u32), CmdError> {
    let err = || CmdError::new("ERR Invalid bitfield type. Use something like i16 u8. Note that u64 is not supported but i64 is.");
    let signed = match arg.first() {
        Some(b'i') => true,
        Some(b'u') => false,
        _ => return Err(err()),
    };
    let bits = super::args::strict_i64(&arg[1..]).ok_or_else(err)?;
    if bits < 1 || (signed && bits > 64) || (!signed && bits > 63) {
        return Err(err());
    }
    Ok((signed, bits as u32))
}

/// Reads `bits` bits at bit `offset` (MSB first) as an unsigned number.
fn get_bits(s: &[u8], offset: u64, bits: u32) -> u64 {
    let mut v = 0u64;
    for i in 0..bits as u64 {
        let pos = offset + i;
        let b = s.get((pos >> 3) as usize).map_or(0, |b| (b >> (7 - (pos & 7))) & 1);
        v = (v << 1) | b as u64;
    }
    v
}

fn set_bits(s: &mut [u8], offset: u64, bits: u32, value: u64) {
    for i in 0..bits as u64 {
        let pos = offset + i;
        let bit = (value >> (bits as u64 - 1 - i)) & 1;
        let mask = 1u8 << (7 - (pos & 7));
        let byte = &mut s[(pos >> 3) as usize];
        if bit == 1 {
            *byte |= mask;
        } else {
            *byte &= !mask;
        }
    }
}

fn get_signed(s: &[u8], offset: u64, bits: u32) -> i64 {
    let u = get_bits(s, offset, bits);
    if bits == 64 {
        return u as i64;
    }
    // Sign-extend the top bit of the field.
    let shift = 64 - bits;
    ((u << shift) as i64) >> shift
}

/// Redis's overflow check for an unsigned field: Some(new) when the result
/// overflows (the wrapped or saturated value; None value for FAIL).
fn unsigned_overflow(value: u64, incr: i64, bits: u32, ow: Overflow) -> Option<u64> {
    let max = (1u64 << bits) - 1;
    let maxincr = max.wrapping_sub(value) as i64;
    let minincr = (value as i64).wrapping_neg();
    let wrap = || value.wrapping_add(incr as u64) & max;
    if value > max || (incr > 0 && incr > maxincr) {
        Some(match ow {
            Overflow::Wrap => wrap(),
            Overflow::Sat | Overflow::Fail => max,
        })
    } else if incr < 0 && incr < minincr {
        Some(match ow {
            Overflow::Wrap => wrap(),
            Overflow::Sat | Overflow::Fail => 0,
        })
    } else {
        None
    }
}

/// The same for a signed field.
fn signed_overflow(value: i64, incr: i64, bits: u32, ow: Overflow) -> Option<i64> {
    let max = if bits == 64 { i64::MAX } else { (1i64 << (bits - 1)) - 1 };
    let min = -max - 1;
    let maxincr = (max as u64).wrapping_sub(value as u64) as i64;
    let minincr = min.wrapping_sub(value);
    let wrap = || {
        let c = (value as u64).wrapping_add(incr as u64);
        if bits < 64 {
            let shift = 64 - bits;
            ((c << shift) as i64) >> shift
        } else {
            c as i64
        }
    };
    if value > max || (bits != 64 && incr > maxincr) || (value >= 0 && incr > 0 && incr > maxincr) {
        Some(match ow {
            Overflow::Wrap => wrap(),
            Overflow::Sat | Overflow::Fail => max,
        })
    } else if value < min || (bits != 64 && incr < minincr) || (value < 0 && incr < 0 && incr < minincr) {
        Some(match ow {
            Overflow::Wrap => wrap(),
            Overflow::Sat | Overflow::Fail => min,
        })
    } else {
        None
    }
}

fn bitfield(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    bitfield_generic(ctx, argv, false)
}

fn bitfield_ro(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    bitfield_generic(ctx, argv, true)
}

fn bitfield_generic(ctx: &mut Ctx<'_>, argv: &[&[u8]], ro_command: bool) -> CmdResult {
    let mut ops: Vec<Field> = Vec::new();
    let mut overflow = Overflow::Wrap;
    let mut highest_write: Option<u64> = None;
    let mut j = 2;
    while j < argv.len() {
        let rem = argv.len() - j - 1;
        let sub = argv[j];
        let op = if is(sub, "get") && rem >= 2 {
            FieldOp::Get
        } else if is(sub, "set") && rem >= 3 {
            FieldOp::Set
        } else if is(sub, "incrby") && rem >= 3 {
            FieldOp::IncrBy
        } else if is(sub, "overflow") && rem >= 1 {
            let t = argv[j + 1];
            overflow = if is(t, "wrap") {
                Overflow::Wrap
            } else if is(t, "sat") {
                Overflow::Sat
            } else if is(t, "fail") {
                Overflow::Fail
            } else {
                return Err(CmdError::new("ERR Invalid OVERFLOW type specified"));
            };
            j += 2;
            continue;
        } else {
            return Err(CmdError::syntax());
        };
        let (signed, bits) = field_type(argv[j + 1])?;
        let offset = bit_offset(ctx, argv[j + 2], Some(bits))?;
        let mut value = 0;
        if op != FieldOp::Get {
            let top = offset + bits as u64 - 1;
            highest_write = Some(highest_write.map_or(top, |h| h.max(top)));
            value = parse_i64(argv[j + 3])?;
        }
        ops.push(Field { op, offset, value, overflow, bits, signed });
        j += if op == FieldOp::Get { 3 } else { 4 };
    }

    let Some(highest) = highest_write else {
        // Only GETs: a missing key reads as zeros.
        let s: Vec<u8> = read_str(ctx, argv[1])?.map(<[u8]>::to_vec).unwrap_or_default();
        let r = ctx.reply();
        r.array(ops.len());
        for f in &ops {
            if f.signed {
                r.int(get_signed(&s, f.offset, f.bits));
            } else {
                r.int(get_bits(&s, f.offset, f.bits) as i64);
            }
        }
        return Ok(());
    };
    if ro_command {
        return Err(CmdError::new("ERR BITFIELD_RO only supports the GET subcommand"));
    }
    let (s, grew) = string_for_write(ctx, argv[1], highest)?;
    let mut replies: Vec<Option<i64>> = Vec::with_capacity(ops.len());
    let mut changes = 0u64;
    for f in &ops {
        match f.op {
            FieldOp::Get => {
                replies.push(Some(if f.signed { get_signed(s, f.offset, f.bits) } else { get_bits(s, f.offset, f.bits) as i64 }))
            }
            FieldOp::Set | FieldOp::IncrBy if f.signed => {
                let old = get_signed(s, f.offset, f.bits);
                let (ow, new, ret) = if f.op == FieldOp::IncrBy {
                    let ow = signed_overflow(old, f.value, f.bits, f.overflow);
                    let new = ow.unwrap_or_else(|| old.wrapping_add(f.value));
                    (ow, new, new)
                } else {
                    let ow = signed_overflow(f.value, 0, f.bits, f.overflow);
                    (ow, ow.unwrap_or(f.value), old)
                };
                if ow.is_some() && f.overflow == Overflow::Fail {
                    replies.push(None);
                } else {
                    replies.push(Some(ret));
                    set_bits(s, f.offset, f.bits, new as u64);
                    if grew || old != new {
                        changes += 1;
                    }
                }
            }
            FieldOp::Set | FieldOp::IncrBy => {
                let old = get_bits(s, f.offset, f.bits);
                let (ow, new, ret) = if f.op == FieldOp::IncrBy {
                    let ow = unsigned_overflow(old, f.value, f.bits, f.overflow);
                    let new = ow.unwrap_or_else(|| old.wrapping_add(f.value as u64));
                    (ow, new, new)
                } else {
                    let v = f.value as u64;
                    let ow = unsigned_overflow(v, 0, f.bits, f.overflow);
                    (ow, ow.unwrap_or(v), old)
                };
                if ow.is_some() && f.overflow == Overflow::Fail {
                    replies.push(None);
                } else {
                    replies.push(Some(ret as i64));
                    set_bits(s, f.offset, f.bits, new);
                    if grew || old != new {
                        changes += 1;
                    }
                }
            }
        }
    }
    if changes > 0 {
        ctx.dirty(changes);
        ctx.notify(STRING, "setbit", argv[1]);
    }
    let r = ctx.reply();
    r.array(replies.len());
    for v in replies {
        match v {
            Some(n) => r.int(n),
            None => r.null(),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_read_and_write_msb_first() {
        let mut s = vec![0u8; 3];
        set_bits(&mut s, 4, 8, 0xAB);
        assert_eq!(s, [0x0A, 0xB0, 0]);
        assert_eq!(get_bits(&s, 4, 8), 0xAB);
        assert_eq!(get_signed(&s, 4, 8), 0xABu8 as i8 as i64);
        assert_eq!(get_bits(&s, 20, 8), 0, "bits past the end read as zero");
    }

    #[test]
    fn overflow_rules_follow_redis() {
        assert_eq!(unsigned_overflow(250, 10, 8, Overflow::Wrap), Some(4));
        assert_eq!(unsigned_overflow(250, 10, 8, Overflow::Sat), Some(255));
        assert_eq!(unsigned_overflow(5, -10, 8, Overflow::Sat), Some(0));
        assert_eq!(unsigned_overflow(5, 10, 8, Overflow::Sat), None);
        assert_eq!(signed_overflow(127, 1, 8, Overflow::Wrap), Some(-128));
        assert_eq!(signed_overflow(-128, -1, 8, Overflow::Sat), Some(-128));
        assert_eq!(signed_overflow(i64::MAX, 1, 64, Overflow::Wrap), Some(i64::MIN));
        assert_eq!(signed_overflow(0, 100, 8, Overflow::Fail), None);
    }

    #[test]
    fn bit_search_pads_clear_bits_past_the_end() {
        assert_eq!(first_bit(&[0xff, 0xf0], false), 12);
        assert_eq!(first_bit(&[0xff], false), 8);
        assert_eq!(first_bit(&[0, 0], true), -1);
        assert_eq!(first_bit(&[0, 0x10], true), 11);
    }
}
