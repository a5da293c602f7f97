//! `cmsgpack` as Redis bundles it (lua-cmsgpack): pack any number of values,
//! unpack all / one / a limited number from an offset. Tables with keys
//! 1..n are arrays, others maps; nesting past 16 packs as nil.

use mlua::{Lua, MultiValue, Table, Value};

const MAX_NESTING: usize = 16;

pub fn table(lua: &Lua) -> mlua::Result<Table> {
    let t = lua.create_table()?;
    t.set(
        "pack",
        lua.create_function(|lua, args: MultiValue| {
            if args.is_empty() {
                return Err(mlua::Error::runtime("MessagePack pack needs input."));
            }
            let mut out = Vec::new();
            for v in args.iter() {
                pack(v, 0, &mut out)?;
            }
            lua.create_string(&out)
        })?,
    )?;
    t.set(
        "unpack",
        lua.create_function(|lua, s: mlua::String| {
            let b = s.as_bytes();
            let mut pos = 0;
            let mut out = MultiValue::new();
            while pos < b.len() {
                out.push_back(unpack(lua, &b, &mut pos)?);
            }
            Ok(out)
        })?,
    )?;
    t.set(
        "unpack_one",
        lua.create_function(|lua, (s, offset): (mlua::String, Option<i64>)| unpack_limited(lua, &s.as_bytes(), 1, offset.unwrap_or(0)))?,
    )?;
    t.set(
        "unpack_limit",
        lua.create_function(|lua, (s, limit, offset): (mlua::String, i64, Option<i64>)| {
            unpack_limited(lua, &s.as_bytes(), limit, offset.unwrap_or(0))
        })?,
    )?;
    t.set("_NAME", "cmsgpack")?;
    t.set("_VERSION", "lua-cmsgpack 0.4.0")?;
    Ok(t)
}

/// Returns the next offset (-1 at the end) followed by up to `limit` values (0 = all).
fn unpack_limited(lua: &Lua, b: &[u8], limit: i64, offset: i64) -> mlua::Result<MultiValue> {
    if offset < 0 || limit < 0 {
        return Err(mlua::Error::runtime(format!("Invalid request to unpack with offset of {offset} and limit of {limit}.")));
    }
    let mut pos = offset as usize;
    if pos > b.len() {
        return Err(mlua::Error::runtime("Start offset greater than input length."));
    }
    let mut vals = Vec::new();
    while pos < b.len() && (limit == 0 || (vals.len() as i64) < limit) {
        vals.push(unpack(lua, b, &mut pos)?);
    }
    let next = if pos >= b.len() { -1 } else { pos as i64 };
    let mut out = MultiValue::new();
    out.push_back(Value::Integer(next));
    out.extend(vals);
    Ok(out)
}

fn pack_int(n: i64, out: &mut Vec<u8>) {
    if n >= 0 {
        let u = n as u64;
        if u < 128 {
            out.push(u as u8);
        } else if u <= 0xff {
            out.extend_from_slice(&[0xcc, u as u8]);
        } else if u <= 0xffff {
            out.push(0xcd);
            out.extend_from_slice(&(u as u16).to_be_bytes());
        } else if u <= 0xffff_ffff {
            out.push(0xce);
            out.extend_from_slice(&(u as u32).to_be_bytes());
        } else {
            out.push(0xcf);
            out.extend_from_slice(&u.to_be_bytes());
        }
    } else if n >= -32 {
        out.push(n as i8 as u8);
    } else if n >= -128 {
        out.extend_from_slice(&[0xd0, n as i8 as u8]);
    } else if n >= -32768 {
        out.push(0xd1);
        out.extend_from_slice(&(n as i16).to_be_bytes());
    } else if n >= i64::from(i32::MIN) {
        out.push(0xd2);
        out.extend_from_slice(&(n as i32).to_be_bytes());
    } else {
        out.push(0xd3);
        out.extend_from_slice(&n.to_be_bytes());
    }
}

fn pack_len(len: usize, fix: u8, fix_max: usize, small: Option<u8>, c16: u8, c32: u8, out: &mut Vec<u8>) {
    if len < fix_max {
        out.push(fix | len as u8);
    } else if let Some(c8) = small.filter(|_| len <= 0xff) {
        out.extend_from_slice(&[c8, len as u8]);
    } else if len <= 0xffff {
        out.push(c16);
        out.extend_from_slice(&(len as u16).to_be_bytes());
    } else {
        out.push(c32);
        out.extend_from_slice(&(len as u32).to_be_bytes());
    }
}

fn pack_number(n: f64, out: &mut Vec<u8>) {
    if n.fract() == 0.0 && n.is_finite() && n >= i64::MIN as f64 && n < 9.223372036854776e18 {
        pack_int(n as i64, out);
    } else if (n as f32) as f64 == n || n.is_nan() {
        out.push(0xca);
        out.extend_from_slice(&(n as f32).to_be_bytes());
    } else {
        out.push(0xcb);
        out.extend_from_slice(&n.to_be_bytes());
    }
}

fn pack(v: &Value, depth: usize, out: &mut Vec<u8>) -> mlua::Result<()> {
    match v {
        Value::Nil => out.push(0xc0),
        Value::Boolean(b) => out.push(if *b { 0xc3 } else { 0xc2 }),
        Value::Integer(i) => pack_int(*i, out),
        Value::Number(n) => pack_number(*n, out),
        Value::String(s) => {
            let b = s.as_bytes();
            pack_len(b.len(), 0xa0, 32, Some(0xd9), 0xda, 0xdb, out);
            out.extend_from_slice(&b);
        }
        Value::Table(t) if depth < MAX_NESTING => {
            let mut max = 0i64;
            let mut count = 0i64;
            let mut is_array = true;
            for pair in t.pairs::<Value, Value>() {
                let (k, _) = pair?;
                count += 1;
                let n = match k {
                    Value::Integer(i) => i as f64,
                    Value::Number(n) => n,
                    _ => {
                        is_array = false;
                        continue;
                    }
                };
                if n < 1.0 || n.fract() != 0.0 {
                    is_array = false;
                } else {
                    max = max.max(n as i64);
                }
            }
            if is_array && max == count {
                pack_len(count as usize, 0x90, 16, None, 0xdc, 0xdd, out);
                for i in 1..=count {
                    pack(&t.raw_get::<Value>(i)?, depth + 1, out)?;
                }
            } else {
                pack_len(count as usize, 0x80, 16, None, 0xde, 0xdf, out);
                for pair in t.pairs::<Value, Value>() {
                    let (k, val) = pair?;
                    pack(&k, depth + 1, out)?;
                    pack(&val, depth + 1, out)?;
                }
            }
        }
        _ => out.push(0xc0),
    }
    Ok(())
}

fn take<'a>(b: &'a [u8], pos: &mut usize, n: usize) -> mlua::Result<&'a [u8]> {
    let end = pos.checked_add(n).filter(|&e| e <= b.len()).ok_or_else(|| mlua::Error::runtime("Missing bytes in input."))?;
    let s = &b[*pos..end];
    *pos = end;
    Ok(s)
}

fn be(b: &[u8]) -> u64 {
    b.iter().fold(0u64, |acc, &x| (acc << 8) | u64::from(x))
}

fn unpack(lua: &Lua, b: &[u8], pos: &mut usize) -> mlua::Result<Value> {
    let c = take(b, pos, 1)?[0];
    let len_of = |pos: &mut usize, n: usize| -> mlua::Result<usize> { Ok(be(take(b, pos, n)?) as usize) };
    Ok(match c {
        0x00..=0x7f => Value::Integer(i64::from(c)),
        0x80..=0x8f => map(lua, b, pos, usize::from(c & 0x0f))?,
        0x90..=0x9f => array(lua, b, pos, usize::from(c & 0x0f))?,
        0xa0..=0xbf => Value::String(lua.create_string(take(b, pos, usize::from(c & 0x1f))?)?),
        0xc0 => Value::Nil,
        0xc2 => Value::Boolean(false),
        0xc3 => Value::Boolean(true),
        0xc4 | 0xd9 => {
            let n = len_of(pos, 1)?;
            Value::String(lua.create_string(take(b, pos, n)?)?)
        }
        0xc5 | 0xda => {
            let n = len_of(pos, 2)?;
            Value::String(lua.create_string(take(b, pos, n)?)?)
        }
        0xc6 | 0xdb => {
            let n = len_of(pos, 4)?;
            Value::String(lua.create_string(take(b, pos, n)?)?)
        }
        0xca => Value::Number(f64::from(f32::from_bits(be(take(b, pos, 4)?) as u32))),
        0xcb => Value::Number(f64::from_bits(be(take(b, pos, 8)?))),
        0xcc => Value::Integer(be(take(b, pos, 1)?) as i64),
        0xcd => Value::Integer(be(take(b, pos, 2)?) as i64),
        0xce => Value::Integer(be(take(b, pos, 4)?) as i64),
        0xcf => Value::Number(be(take(b, pos, 8)?) as f64),
        0xd0 => Value::Integer(i64::from(be(take(b, pos, 1)?) as u8 as i8)),
        0xd1 => Value::Integer(i64::from(be(take(b, pos, 2)?) as u16 as i16)),
        0xd2 => Value::Integer(i64::from(be(take(b, pos, 4)?) as u32 as i32)),
        0xd3 => Value::Number(be(take(b, pos, 8)?) as i64 as f64),
        0xdc => {
            let n = len_of(pos, 2)?;
            array(lua, b, pos, n)?
        }
        0xdd => {
            let n = len_of(pos, 4)?;
            array(lua, b, pos, n)?
        }
        0xde => {
            let n = len_of(pos, 2)?;
            map(lua, b, pos, n)?
        }
        0xdf => {
            let n = len_of(pos, 4)?;
            map(lua, b, pos, n)?
        }
        0xe0..=0xff => Value::Integer(i64::from(c as i8)),
        _ => return Err(mlua::Error::runtime("Bad data format in input.")),
    })
}

fn array(lua: &Lua, b: &[u8], pos: &mut usize, n: usize) -> mlua::Result<Value> {
    let t = lua.create_table_with_capacity(n.min(1024), 0)?;
    for i in 1..=n {
        let v = unpack(lua, b, pos)?;
        t.raw_set(i, v)?;
    }
    Ok(Value::Table(t))
}

fn map(lua: &Lua, b: &[u8], pos: &mut usize, n: usize) -> mlua::Result<Value> {
    let t = lua.create_table()?;
    for _ in 0..n {
        let k = unpack(lua, b, pos)?;
        let v = unpack(lua, b, pos)?;
        if !k.is_nil() {
            t.raw_set(k, v)?;
        }
    }
    Ok(Value::Table(t))
}
