//! `struct` (Roberto Ierusalimschy's library Redis bundles): pack/unpack
//! binary records by a format string. Supported: `<` `>` `=` `!n`, `b B h H
//! l L j J T i[n] I[n] x f d s c[n]`, and spaces.

use mlua::{Lua, MultiValue, Table, Value};

struct Fmt<'a> {
    s: &'a [u8],
    pos: usize,
    little: bool,
}

enum Item {
    Int { size: usize, signed: bool },
    Pad,
    Float,
    Double,
    ZString,
    Chars(Option<usize>),
}

impl Fmt<'_> {
    fn num(&mut self) -> Option<usize> {
        let start = self.pos;
        while self.s.get(self.pos).is_some_and(u8::is_ascii_digit) {
            self.pos += 1;
        }
        std::str::from_utf8(&self.s[start..self.pos]).ok()?.parse().ok()
    }

    fn next(&mut self) -> mlua::Result<Option<Item>> {
        loop {
            let Some(&c) = self.s.get(self.pos) else { return Ok(None) };
            self.pos += 1;
            let item = match c {
                b' ' => continue,
                b'<' => {
                    self.little = true;
                    continue;
                }
                b'>' => {
                    self.little = false;
                    continue;
                }
                b'=' => {
                    self.little = cfg!(target_endian = "little");
                    continue;
                }
                b'!' => {
                    self.num();
                    continue;
                }
                b'b' | b'B' => Item::Int { size: 1, signed: c == b'b' },
                b'h' | b'H' => Item::Int { size: 2, signed: c == b'h' },
                b'l' | b'L' | b'j' | b'J' | b'T' => Item::Int { size: 8, signed: c.is_ascii_lowercase() },
                b'i' | b'I' => {
                    let n = self.num().unwrap_or(4);
                    if !(1..=8).contains(&n) {
                        return Err(mlua::Error::runtime(format!("integral size {n} is larger than limit of 8")));
                    }
                    Item::Int { size: n, signed: c == b'i' }
                }
                b'x' => Item::Pad,
                b'f' => Item::Float,
                b'd' => Item::Double,
                b's' => Item::ZString,
                b'c' => Item::Chars(self.num()),
                other => return Err(mlua::Error::runtime(format!("invalid format option '{}'", other as char))),
            };
            return Ok(Some(item));
        }
    }
}

fn number(v: Option<&Value>, pos: usize) -> mlua::Result<f64> {
    super::number(v.unwrap_or(&Value::Nil), pos, "pack")
}

fn put_int(out: &mut Vec<u8>, v: i64, size: usize, little: bool) {
    let bytes = v.to_le_bytes();
    if little {
        out.extend_from_slice(&bytes[..size]);
    } else {
        out.extend(bytes[..size].iter().rev());
    }
}

fn get_int(b: &[u8], size: usize, signed: bool, little: bool) -> i64 {
    let mut v: u64 = 0;
    for i in 0..size {
        let byte = if little { b[size - 1 - i] } else { b[i] };
        v = (v << 8) | u64::from(byte);
    }
    if signed && size < 8 {
        let shift = 64 - 8 * size as u32;
        ((v << shift) as i64) >> shift
    } else {
        v as i64
    }
}

pub fn table(lua: &Lua) -> mlua::Result<Table> {
    let t = lua.create_table()?;
    t.set(
        "pack",
        lua.create_function(|lua, args: MultiValue| {
            let fmt = match args.front() {
                Some(Value::String(s)) => s.as_bytes().to_vec(),
                other => return Err(super::bad_arg(1, "pack", "string", other.unwrap_or(&Value::Nil))),
            };
            let mut f = Fmt { s: &fmt, pos: 0, little: cfg!(target_endian = "little") };
            let mut out = Vec::new();
            let mut arg = 1;
            while let Some(item) = f.next()? {
                match item {
                    Item::Pad => out.push(0),
                    Item::Int { size, .. } => {
                        let n = number(args.get(arg), arg + 1)?;
                        put_int(&mut out, n as i64, size, f.little);
                        arg += 1;
                    }
                    Item::Float => {
                        let n = number(args.get(arg), arg + 1)? as f32;
                        let b = n.to_bits() as i64;
                        put_int(&mut out, b, 4, f.little);
                        arg += 1;
                    }
                    Item::Double => {
                        let n = number(args.get(arg), arg + 1)?;
                        put_int(&mut out, n.to_bits() as i64, 8, f.little);
                        arg += 1;
                    }
                    Item::ZString | Item::Chars(_) => {
                        let s = match args.get(arg) {
                            Some(Value::String(s)) => s.as_bytes().to_vec(),
                            Some(Value::Integer(i)) => i.to_string().into_bytes(),
                            Some(Value::Number(n)) => crate::resp::reply::format_g(*n, 14).into_bytes(),
                            other => return Err(super::bad_arg(arg + 1, "pack", "string", other.unwrap_or(&Value::Nil))),
                        };
                        match item {
                            Item::ZString => {
                                out.extend_from_slice(&s);
                                out.push(0);
                            }
                            Item::Chars(Some(n)) if n > 0 => {
                                if s.len() < n {
                                    return Err(mlua::Error::runtime(format!("bad argument #{} to 'pack' (string too short)", arg + 1)));
                                }
                                out.extend_from_slice(&s[..n]);
                            }
                            _ => out.extend_from_slice(&s),
                        }
                        arg += 1;
                    }
                }
            }
            lua.create_string(&out)
        })?,
    )?;
    t.set(
        "unpack",
        lua.create_function(|lua, (fmt, data, init): (mlua::String, mlua::String, Option<i64>)| {
            let fmt = fmt.as_bytes().to_vec();
            let data = data.as_bytes().to_vec();
            let mut f = Fmt { s: &fmt, pos: 0, little: cfg!(target_endian = "little") };
            let mut pos = (init.unwrap_or(1).max(1) - 1) as usize;
            let mut out = MultiValue::new();
            let short = || mlua::Error::runtime("bad argument #2 to 'unpack' (data string too short)");
            let mut last_int: Option<i64> = None;
            while let Some(item) = f.next()? {
                match item {
                    Item::Pad => pos += 1,
                    Item::Int { size, signed } => {
                        let b = data.get(pos..pos + size).ok_or_else(short)?;
                        let v = get_int(b, size, signed, f.little);
                        out.push_back(Value::Number(v as f64));
                        last_int = Some(v);
                        pos += size;
                    }
                    Item::Float => {
                        let b = data.get(pos..pos + 4).ok_or_else(short)?;
                        out.push_back(Value::Number(f64::from(f32::from_bits(get_int(b, 4, false, f.little) as u32))));
                        pos += 4;
                    }
                    Item::Double => {
                        let b = data.get(pos..pos + 8).ok_or_else(short)?;
                        out.push_back(Value::Number(f64::from_bits(get_int(b, 8, false, f.little) as u64)));
                        pos += 8;
                    }
                    Item::ZString => {
                        let end = data[pos.min(data.len())..]
                            .iter()
                            .position(|&c| c == 0)
                            .ok_or_else(|| mlua::Error::runtime("unfinished string in data"))?;
                        out.push_back(Value::String(lua.create_string(&data[pos..pos + end])?));
                        pos += end + 1;
                    }
                    Item::Chars(n) => {
                        let n = match n {
                            Some(0) | None => {
                                let n = last_int.ok_or_else(|| mlua::Error::runtime("format 'c0' needs a previous size"))?;
                                out.pop_back();
                                n.max(0) as usize
                            }
                            Some(n) => n,
                        };
                        let b = data.get(pos..pos + n).ok_or_else(short)?;
                        out.push_back(Value::String(lua.create_string(b)?));
                        pos += n;
                    }
                }
            }
            out.push_back(Value::Number((pos + 1) as f64));
            Ok(out)
        })?,
    )?;
    t.set(
        "size",
        lua.create_function(|_, fmt: mlua::String| {
            let fmt = fmt.as_bytes().to_vec();
            let mut f = Fmt { s: &fmt, pos: 0, little: true };
            let mut size = 0usize;
            while let Some(item) = f.next()? {
                size += match item {
                    Item::Pad => 1,
                    Item::Int { size, .. } => size,
                    Item::Float => 4,
                    Item::Double => 8,
                    Item::Chars(Some(n)) => n,
                    Item::ZString | Item::Chars(None) => return Err(mlua::Error::runtime("options 'c0' - 's' have undefined sizes")),
                };
            }
            Ok(size as f64)
        })?,
    )?;
    Ok(t)
}
