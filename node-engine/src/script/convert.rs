//! Redis's conversion rules between RESP replies and Lua values, both ways
//! (<https://redis.io/docs/interact/programmability/lua-api/>): integers to
//! numbers, bulk strings to strings, nulls to false (RESP2) or nil (RESP3),
//! status to `{ok=...}`, errors to `{err=...}`, maps/sets/doubles/big
//! numbers to tagged tables; and back again for a script's return value.

use crate::resp::ReplyBuf;
use mlua::{Lua, Table, Value};

/// Nesting past which a returned table is refused (Redis's Lua stack limit).
const MAX_DEPTH: usize = 500;

/// Converts one complete reply to a Lua value; `true` when it is an error.
pub fn reply_to_lua(lua: &Lua, reply: &[u8]) -> mlua::Result<(Value, bool)> {
    let mut pos = 0;
    let is_err = reply.first() == Some(&b'-');
    let v = parse(lua, reply, &mut pos)?;
    Ok((v, is_err))
}

fn line<'a>(buf: &'a [u8], pos: &mut usize) -> mlua::Result<&'a [u8]> {
    let start = *pos;
    let rel = buf[start..].windows(2).position(|w| w == b"\r\n").ok_or_else(|| mlua::Error::runtime("truncated reply"))?;
    *pos = start + rel + 2;
    Ok(&buf[start..start + rel])
}

fn num(b: &[u8]) -> i64 {
    std::str::from_utf8(b).ok().and_then(|s| s.parse().ok()).unwrap_or(0)
}

fn tagged(lua: &Lua, tag: &str, v: impl mlua::IntoLua) -> mlua::Result<Value> {
    let t = lua.create_table()?;
    t.raw_set(tag, v)?;
    Ok(Value::Table(t))
}

fn parse(lua: &Lua, buf: &[u8], pos: &mut usize) -> mlua::Result<Value> {
    let Some(&kind) = buf.get(*pos) else {
        return Err(mlua::Error::runtime("truncated reply"));
    };
    *pos += 1;
    let l = line(buf, pos)?;
    Ok(match kind {
        b':' => Value::Number(num(l) as f64),
        b'$' | b'=' => {
            let n = num(l);
            if n < 0 {
                return Ok(Value::Boolean(false));
            }
            let n = n as usize;
            let end = (*pos + n).min(buf.len());
            let data = &buf[*pos..end];
            *pos = (end + 2).min(buf.len());
            if kind == b'=' {
                let (fmt, text) = if data.len() >= 4 { (&data[..3], &data[4..]) } else { (&b"txt"[..], data) };
                let inner = lua.create_table()?;
                inner.raw_set("string", lua.create_string(text)?)?;
                inner.raw_set("format", lua.create_string(fmt)?)?;
                tagged(lua, "verbatim_string", inner)?
            } else {
                Value::String(lua.create_string(data)?)
            }
        }
        b'+' => tagged(lua, "ok", lua.create_string(l)?)?,
        b'-' => {
            let t = lua.create_table()?;
            t.raw_set("err", lua.create_string(l)?)?;
            Value::Table(t)
        }
        b'*' | b'>' => {
            let n = num(l);
            if n < 0 {
                return Ok(Value::Boolean(false));
            }
            let t = lua.create_table_with_capacity(n as usize, 0)?;
            for i in 0..n {
                let v = parse(lua, buf, pos)?;
                t.raw_set(i + 1, v)?;
            }
            Value::Table(t)
        }
        b'%' => {
            let n = num(l);
            let m = lua.create_table()?;
            for _ in 0..n {
                let k = parse(lua, buf, pos)?;
                let v = parse(lua, buf, pos)?;
                m.raw_set(k, v)?;
            }
            tagged(lua, "map", m)?
        }
        b'~' => {
            let n = num(l);
            let s = lua.create_table()?;
            for _ in 0..n {
                let k = parse(lua, buf, pos)?;
                s.raw_set(k, true)?;
            }
            tagged(lua, "set", s)?
        }
        b'|' => {
            for _ in 0..num(l) * 2 {
                parse(lua, buf, pos)?;
            }
            parse(lua, buf, pos)?
        }
        b'_' => Value::Nil,
        b'#' => Value::Boolean(l == b"t"),
        b',' => {
            let s = std::str::from_utf8(l).unwrap_or("0");
            let d = match s {
                "inf" => f64::INFINITY,
                "-inf" => f64::NEG_INFINITY,
                "nan" => f64::NAN,
                _ => s.parse().unwrap_or(0.0),
            };
            tagged(lua, "double", d)?
        }
        b'(' => tagged(lua, "big_number", lua.create_string(l)?)?,
        _ => return Err(mlua::Error::runtime("unknown reply type")),
    })
}

/// Writes a script's return value as Redis does; `resp` is the protocol the
/// script set with redis.setresp (it decides how booleans convert).
pub fn lua_to_reply(v: &Value, resp: u8, out: &mut ReplyBuf, depth: usize) {
    if depth > MAX_DEPTH {
        out.error("ERR reached lua stack limit");
        return;
    }
    match v {
        Value::String(s) => out.bulk(&s.as_bytes()),
        Value::Boolean(b) => {
            if resp == 2 {
                if *b {
                    out.int(1);
                } else {
                    out.null();
                }
            } else {
                out.bool(*b);
            }
        }
        Value::Integer(i) => out.int(*i),
        Value::Number(n) => out.int(number_to_int(*n)),
        Value::Table(t) => table_to_reply(t, resp, out, depth),
        _ => out.null(),
    }
}

/// `(long long)` of a Lua number, as C converts it (saturating, NaN to the minimum).
fn number_to_int(n: f64) -> i64 {
    if n.is_nan() {
        i64::MIN
    } else {
        n as i64
    }
}

fn field(t: &Table, name: &str) -> Value {
    t.raw_get::<Value>(name).unwrap_or(Value::Nil)
}

fn table_to_reply(t: &Table, resp: u8, out: &mut ReplyBuf, depth: usize) {
    if let Value::String(e) = field(t, "err") {
        let msg = String::from_utf8_lossy(&e.as_bytes()).into_owned();
        out.error(&msg.replace(['\r', '\n'], " "));
        return;
    }
    if let Value::String(s) = field(t, "ok") {
        let msg = String::from_utf8_lossy(&s.as_bytes()).replace(['\r', '\n'], " ");
        out.simple(&msg);
        return;
    }
    match field(t, "double") {
        Value::Number(d) => return out.double(d),
        Value::Integer(i) => return out.double(i as f64),
        _ => {}
    }
    if let Value::String(s) = field(t, "big_number") {
        let text = String::from_utf8_lossy(&s.as_bytes()).replace(['\r', '\n'], " ");
        out.big_number(text.as_bytes());
        return;
    }
    if let Value::Table(v) = field(t, "verbatim_string") {
        if let (Value::String(fmt), Value::String(s)) = (field(&v, "format"), field(&v, "string")) {
            out.verbatim_as(&fmt.as_bytes(), &s.as_bytes());
            return;
        }
    }
    if let Value::Table(m) = field(t, "map") {
        let pairs: Vec<(Value, Value)> = m.pairs::<Value, Value>().filter_map(Result::ok).collect();
        out.map(pairs.len());
        for (k, v) in &pairs {
            lua_to_reply(k, resp, out, depth + 1);
            lua_to_reply(v, resp, out, depth + 1);
        }
        return;
    }
    if let Value::Table(s) = field(t, "set") {
        let keys: Vec<Value> = s.pairs::<Value, Value>().filter_map(Result::ok).map(|(k, _)| k).collect();
        out.set(keys.len());
        for k in &keys {
            lua_to_reply(k, resp, out, depth + 1);
        }
        return;
    }
    let mut items = Vec::new();
    let mut i = 1i64;
    loop {
        match t.raw_get::<Value>(i) {
            Ok(Value::Nil) | Err(_) => break,
            Ok(v) => items.push(v),
        }
        i += 1;
    }
    out.array(items.len());
    for v in &items {
        lua_to_reply(v, resp, out, depth + 1);
    }
}
