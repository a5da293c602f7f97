//! `cjson` as Redis bundles it (Lua CJSON 2.1): encode/decode with
//! `cjson.null`, `%.14g` numbers, empty tables as `{}`, sparse-array and
//! nesting checks, and the settings functions scripts call.

use mlua::{LightUserData, Lua, MultiValue, Table, Value};
use std::cell::RefCell;
use std::rc::Rc;

struct Settings {
    encode_max_depth: usize,
    decode_max_depth: usize,
    encode_invalid_numbers: bool,
    decode_invalid_numbers: bool,
    sparse_convert: bool,
    sparse_ratio: i64,
    sparse_safe: i64,
    precision: usize,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            encode_max_depth: 1000,
            decode_max_depth: 1000,
            encode_invalid_numbers: false,
            decode_invalid_numbers: true,
            sparse_convert: false,
            sparse_ratio: 2,
            sparse_safe: 10,
            precision: 14,
        }
    }
}

fn null() -> Value {
    Value::LightUserData(LightUserData(std::ptr::null_mut()))
}

pub fn table(lua: &Lua) -> mlua::Result<Table> {
    let t = lua.create_table()?;
    let s = Rc::new(RefCell::new(Settings::default()));
    let st = s.clone();
    t.set(
        "encode",
        lua.create_function(move |lua, v: Value| {
            let mut out = Vec::new();
            encode(&v, &st.borrow(), 0, &mut out)?;
            lua.create_string(&out)
        })?,
    )?;
    let st = s.clone();
    t.set(
        "decode",
        lua.create_function(move |lua, text: mlua::String| {
            let bytes = text.as_bytes();
            let mut d = Decoder { lua, s: &bytes, pos: 0, max_depth: st.borrow().decode_max_depth };
            d.skip_ws();
            let v = d.value(0)?;
            d.skip_ws();
            if d.pos < d.s.len() {
                return Err(d.err("the end"));
            }
            Ok(v)
        })?,
    )?;
    t.set("null", null())?;
    t.set("_NAME", "cjson")?;
    t.set("_VERSION", "2.1.0")?;
    type Setter = fn(&mut Settings, &MultiValue) -> mlua::Result<MultiValue>;
    let setters: [(&str, Setter); 9] = [
        ("encode_max_depth", |s, a| depth_setting(&mut s.encode_max_depth, a)),
        ("decode_max_depth", |s, a| depth_setting(&mut s.decode_max_depth, a)),
        ("encode_invalid_numbers", |s, a| bool_setting(&mut s.encode_invalid_numbers, a)),
        ("decode_invalid_numbers", |s, a| bool_setting(&mut s.decode_invalid_numbers, a)),
        ("encode_keep_buffer", |_, a| {
            let mut keep = true;
            bool_setting(&mut keep, a)
        }),
        ("encode_number_precision", |s, a| {
            let mut p = s.precision;
            let r = depth_setting(&mut p, a)?;
            s.precision = p.clamp(1, 14);
            Ok(r)
        }),
        ("encode_sparse_array", |s, a| {
            if let Some(Value::Boolean(b)) = a.front() {
                s.sparse_convert = *b;
            }
            if let Some(n) = a.get(1).and_then(as_int) {
                s.sparse_ratio = n;
            }
            if let Some(n) = a.get(2).and_then(as_int) {
                s.sparse_safe = n;
            }
            Ok(MultiValue::from_iter([Value::Boolean(s.sparse_convert), Value::Integer(s.sparse_ratio), Value::Integer(s.sparse_safe)]))
        }),
        ("decode_array_with_array_mt", |_, _| Ok(MultiValue::new())),
        ("encode_empty_table_as_object", |_, _| Ok(MultiValue::from_iter([Value::Boolean(true)]))),
    ];
    for (name, f) in setters {
        let st = s.clone();
        t.set(name, lua.create_function(move |_, a: MultiValue| f(&mut st.borrow_mut(), &a))?)?;
    }
    t.set("new", lua.create_function(|lua, ()| table(lua))?)?;
    Ok(t)
}

fn as_int(v: &Value) -> Option<i64> {
    match v {
        Value::Integer(i) => Some(*i),
        Value::Number(n) => Some(*n as i64),
        _ => None,
    }
}

fn depth_setting(slot: &mut usize, a: &MultiValue) -> mlua::Result<MultiValue> {
    if let Some(n) = a.front().and_then(as_int) {
        if n < 1 {
            return Err(mlua::Error::runtime("bad argument #1 to '?' (expected integer between 1 and 2147483647)"));
        }
        *slot = n as usize;
    }
    Ok(MultiValue::from_iter([Value::Integer(*slot as i64)]))
}

fn bool_setting(slot: &mut bool, a: &MultiValue) -> mlua::Result<MultiValue> {
    match a.front() {
        Some(Value::Boolean(b)) => *slot = *b,
        Some(Value::String(s)) if s.as_bytes().as_ref() == b"on" => *slot = true,
        Some(Value::String(s)) if s.as_bytes().as_ref() == b"off" => *slot = false,
        _ => {}
    }
    Ok(MultiValue::from_iter([Value::Boolean(*slot)]))
}

fn encode_number(n: f64, s: &Settings, out: &mut Vec<u8>) -> mlua::Result<()> {
    if !n.is_finite() {
        if !s.encode_invalid_numbers {
            return Err(mlua::Error::runtime("Cannot serialise number: must not be NaN or Inf"));
        }
        out.extend_from_slice(if n.is_nan() {
            b"nan"
        } else if n > 0.0 {
            b"inf"
        } else {
            b"-inf"
        });
        return Ok(());
    }
    out.extend_from_slice(crate::resp::reply::format_g(n, s.precision).as_bytes());
    Ok(())
}

fn encode_string(b: &[u8], out: &mut Vec<u8>) {
    out.push(b'"');
    for &c in b {
        match c {
            b'"' => out.extend_from_slice(b"\\\""),
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'/' => out.extend_from_slice(b"\\/"),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            b'\t' => out.extend_from_slice(b"\\t"),
            0x08 => out.extend_from_slice(b"\\b"),
            0x0c => out.extend_from_slice(b"\\f"),
            c if c < 0x20 || c == 0x7f => out.extend_from_slice(format!("\\u{c:04x}").as_bytes()),
            c => out.push(c),
        }
    }
    out.push(b'"');
}

fn encode(v: &Value, s: &Settings, depth: usize, out: &mut Vec<u8>) -> mlua::Result<()> {
    match v {
        Value::Nil => out.extend_from_slice(b"null"),
        Value::Boolean(b) => out.extend_from_slice(if *b { b"true" } else { b"false" }),
        Value::Integer(i) => encode_number(*i as f64, s, out)?,
        Value::Number(n) => encode_number(*n, s, out)?,
        Value::String(st) => encode_string(&st.as_bytes(), out),
        Value::LightUserData(p) if p.0.is_null() => out.extend_from_slice(b"null"),
        Value::Table(t) => {
            let depth = depth + 1;
            if depth > s.encode_max_depth {
                return Err(mlua::Error::runtime(format!("Cannot serialise, excessive nesting ({depth})")));
            }
            match array_length(t, s)? {
                Some(len) => {
                    out.push(b'[');
                    for i in 1..=len {
                        if i > 1 {
                            out.push(b',');
                        }
                        encode(&t.raw_get::<Value>(i)?, s, depth, out)?;
                    }
                    out.push(b']');
                }
                None => {
                    out.push(b'{');
                    let mut first = true;
                    for pair in t.pairs::<Value, Value>() {
                        let (k, val) = pair?;
                        if !first {
                            out.push(b',');
                        }
                        first = false;
                        match &k {
                            Value::String(ks) => encode_string(&ks.as_bytes(), out),
                            Value::Integer(i) => encode_string(i.to_string().as_bytes(), out),
                            Value::Number(n) => encode_string(crate::resp::reply::format_g(*n, s.precision).as_bytes(), out),
                            _ => return Err(mlua::Error::runtime("Cannot serialise table: table key must be a number or string")),
                        }
                        out.push(b':');
                        encode(&val, s, depth, out)?;
                    }
                    out.push(b'}');
                }
            }
        }
        other => return Err(mlua::Error::runtime(format!("Cannot serialise {}: type not supported", other.type_name()))),
    }
    Ok(())
}

/// Some(length) when the table is an array (positive integer keys only);
/// None for an object (and for the empty table, which encodes as `{}`).
fn array_length(t: &Table, s: &Settings) -> mlua::Result<Option<i64>> {
    let mut max = 0i64;
    let mut items = 0i64;
    for pair in t.pairs::<Value, Value>() {
        let (k, _) = pair?;
        let n = match k {
            Value::Integer(i) => i as f64,
            Value::Number(n) => n,
            _ => return Ok(None),
        };
        if n < 1.0 || n.fract() != 0.0 {
            return Ok(None);
        }
        max = max.max(n as i64);
        items += 1;
    }
    if items == 0 {
        return Ok(None);
    }
    if s.sparse_ratio > 0 && max > items * s.sparse_ratio && max > s.sparse_safe {
        if !s.sparse_convert {
            return Err(mlua::Error::runtime("Cannot serialise table: excessively sparse array"));
        }
        return Ok(None);
    }
    Ok(Some(max))
}

struct Decoder<'a> {
    lua: &'a Lua,
    s: &'a [u8],
    pos: usize,
    max_depth: usize,
}

impl Decoder<'_> {
    fn err(&self, expected: &str) -> mlua::Error {
        let found = match self.s.get(self.pos) {
            None => "T_END".to_string(),
            Some(_) => "invalid token".to_string(),
        };
        mlua::Error::runtime(format!("Expected {expected} but found {found} at character {}", self.pos + 1))
    }

    fn skip_ws(&mut self) {
        while self.s.get(self.pos).is_some_and(|c| matches!(c, b' ' | b'\t' | b'\n' | b'\r')) {
            self.pos += 1;
        }
    }

    fn value(&mut self, depth: usize) -> mlua::Result<Value> {
        self.skip_ws();
        match self.s.get(self.pos) {
            Some(b'{') | Some(b'[') => {
                let depth = depth + 1;
                if depth > self.max_depth {
                    return Err(mlua::Error::runtime(format!(
                        "Found too many nested data structures ({depth}) at character {}",
                        self.pos + 1
                    )));
                }
                if self.s[self.pos] == b'{' {
                    self.object(depth)
                } else {
                    self.array(depth)
                }
            }
            Some(b'"') => Ok(Value::String(self.lua.create_string(self.string()?)?)),
            Some(b't') if self.s[self.pos..].starts_with(b"true") => {
                self.pos += 4;
                Ok(Value::Boolean(true))
            }
            Some(b'f') if self.s[self.pos..].starts_with(b"false") => {
                self.pos += 5;
                Ok(Value::Boolean(false))
            }
            Some(b'n') if self.s[self.pos..].starts_with(b"null") => {
                self.pos += 4;
                Ok(null())
            }
            Some(c) if *c == b'-' || c.is_ascii_digit() || matches!(c, b'i' | b'I' | b'n' | b'N') => self.number(),
            _ => Err(self.err("value")),
        }
    }

    fn number(&mut self) -> mlua::Result<Value> {
        let start = self.pos;
        while self.s.get(self.pos).is_some_and(|c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'+' | b'.')) {
            self.pos += 1;
        }
        let text = std::str::from_utf8(&self.s[start..self.pos]).unwrap_or("");
        let lower = text.to_ascii_lowercase();
        let n = match lower.as_str() {
            "inf" | "infinity" => f64::INFINITY,
            "-inf" | "-infinity" => f64::NEG_INFINITY,
            "nan" | "-nan" => f64::NAN,
            _ if lower.starts_with("0x") || lower.starts_with("-0x") => {
                let neg = lower.starts_with('-');
                let digits = lower.trim_start_matches('-').trim_start_matches("0x");
                let v = i64::from_str_radix(digits, 16).map_err(|_| {
                    self.pos = start;
                    self.err("value")
                })? as f64;
                if neg {
                    -v
                } else {
                    v
                }
            }
            _ => text.parse::<f64>().map_err(|_| {
                self.pos = start;
                self.err("value")
            })?,
        };
        Ok(Value::Number(n))
    }

    fn hex4(&mut self) -> mlua::Result<u32> {
        let h = self.s.get(self.pos..self.pos + 4).and_then(|h| std::str::from_utf8(h).ok()).and_then(|h| u32::from_str_radix(h, 16).ok());
        match h {
            Some(v) => {
                self.pos += 4;
                Ok(v)
            }
            None => Err(self.err("value")),
        }
    }

    fn string(&mut self) -> mlua::Result<Vec<u8>> {
        self.pos += 1;
        let mut out = Vec::new();
        loop {
            let Some(&c) = self.s.get(self.pos) else {
                return Err(mlua::Error::runtime(format!("Expected string but found T_END at character {}", self.pos + 1)));
            };
            self.pos += 1;
            match c {
                b'"' => return Ok(out),
                b'\\' => {
                    let Some(&e) = self.s.get(self.pos) else { return Err(self.err("value")) };
                    self.pos += 1;
                    match e {
                        b'"' | b'\\' | b'/' => out.push(e),
                        b'b' => out.push(8),
                        b'f' => out.push(12),
                        b'n' => out.push(b'\n'),
                        b'r' => out.push(b'\r'),
                        b't' => out.push(b'\t'),
                        b'u' => {
                            let mut cp = self.hex4()?;
                            if (0xd800..0xdc00).contains(&cp) && self.s[self.pos..].starts_with(b"\\u") {
                                self.pos += 2;
                                let lo = self.hex4()?;
                                cp = 0x10000 + ((cp - 0xd800) << 10) + (lo.wrapping_sub(0xdc00) & 0x3ff);
                            }
                            let ch = char::from_u32(cp).unwrap_or('\u{fffd}');
                            let mut b = [0; 4];
                            out.extend_from_slice(ch.encode_utf8(&mut b).as_bytes());
                        }
                        _ => return Err(self.err("value")),
                    }
                }
                c => out.push(c),
            }
        }
    }

    fn object(&mut self, depth: usize) -> mlua::Result<Value> {
        self.pos += 1;
        let t = self.lua.create_table()?;
        self.skip_ws();
        if self.s.get(self.pos) == Some(&b'}') {
            self.pos += 1;
            return Ok(Value::Table(t));
        }
        loop {
            self.skip_ws();
            if self.s.get(self.pos) != Some(&b'"') {
                return Err(self.err("object key string"));
            }
            let k = self.string()?;
            self.skip_ws();
            if self.s.get(self.pos) != Some(&b':') {
                return Err(self.err("colon"));
            }
            self.pos += 1;
            let v = self.value(depth)?;
            t.raw_set(self.lua.create_string(&k)?, v)?;
            self.skip_ws();
            match self.s.get(self.pos) {
                Some(b',') => self.pos += 1,
                Some(b'}') => {
                    self.pos += 1;
                    return Ok(Value::Table(t));
                }
                _ => return Err(self.err("comma or object end")),
            }
        }
    }

    fn array(&mut self, depth: usize) -> mlua::Result<Value> {
        self.pos += 1;
        let t = self.lua.create_table()?;
        self.skip_ws();
        if self.s.get(self.pos) == Some(&b']') {
            self.pos += 1;
            return Ok(Value::Table(t));
        }
        let mut i = 1;
        loop {
            let v = self.value(depth)?;
            t.raw_set(i, v)?;
            i += 1;
            self.skip_ws();
            match self.s.get(self.pos) {
                Some(b',') => self.pos += 1,
                Some(b']') => {
                    self.pos += 1;
                    return Ok(Value::Table(t));
                }
                _ => return Err(self.err("comma or array end")),
            }
        }
    }
}
