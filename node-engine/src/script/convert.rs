//! A script's return value as a RESP reply, by Redis's conversion rules
//! (<https://redis.io/docs/interact/programmability/lua-api/>): numbers to
//! integers, strings to bulks, `{ok=...}` to status, `{err=...}` to errors,
//! tagged tables to maps/sets/doubles/big numbers, booleans by the script's
//! protocol. The other direction (replies into Lua) is on the raw stack in `raw`.

use crate::resp::ReplyBuf;
use mlua::{Table, Value};

/// Nesting past which a returned table is refused (Redis's Lua stack limit).
const MAX_DEPTH: usize = 500;

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
