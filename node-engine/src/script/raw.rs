//! The hot path between Lua and the node, on Lua's C API: redis.call's C
//! functions, the host function, and the RESP -> Lua conversion. Going
//! through mlua's typed values here cost several thousand instructions per
//! call; on the raw stack a call costs about what Redis's C code does.
//!
//! Every function here is called by Lua with a valid state. Each keeps to
//! Lua's stack discipline: it checks for room before pushing more than the
//! 20 slots Lua guarantees, and returns exactly what it pushed last.

use super::{Host, Watch};
use mlua::ffi;
use std::os::raw::c_int;

/// Registry key of the light userdata pointing at the state's `Watch`.
pub(super) const WATCH_KEY: &std::ffi::CStr = c"redis_watch";
/// Registry key of the host function (`host_raw`).
pub(super) const HOST_KEY: &std::ffi::CStr = c"redis_host";
/// Registry key of the table of Lua functions behind the raising redis.* functions.
pub(super) const IMPLS_KEY: &std::ffi::CStr = c"redis_impls";

/// redis.call passes up to this many arguments on the stack; more go in a table.
const DIRECT_ARGS: c_int = 16;

/// The raising redis.* functions (call, setresp, set_repl, acl_check_cmd,
/// sha1hex, log, register_function): C functions, so that the script's own
/// frame stays on the stack for the error handler's line number (a Lua
/// wrapper would be tail-called away by `return redis.call(...)`).
pub(super) const RAISERS: [ffi::lua_CFunction; 8] =
    [raising::<1>, raising::<2>, raising::<3>, raising::<4>, raising::<5>, raising::<6>, raising::<7>, raising::<8>];

/// Runs `impls[K]` with (args table, count) — or, for redis.call with few
/// arguments, the host function directly — and raises the error table it
/// returns with a true second value; otherwise returns its first value.
unsafe extern "C-unwind" fn raising<const K: i32>(l: *mut ffi::lua_State) -> c_int {
    // SAFETY: see the module comment; at most 3 slots are pushed above the
    // arguments before the call consumes them.
    unsafe {
        let n = ffi::lua_gettop(l);
        if K == 1 && n <= DIRECT_ARGS {
            ffi::lua_getfield(l, ffi::LUA_REGISTRYINDEX, HOST_KEY.as_ptr());
            ffi::lua_insert(l, 1);
            ffi::lua_pushinteger(l, 1);
            ffi::lua_insert(l, 2);
            ffi::lua_call(l, n + 1, 2);
        } else {
            ffi::lua_createtable(l, n, 0);
            for i in 1..=n {
                ffi::lua_pushvalue(l, i);
                ffi::lua_rawseti(l, -2, i as _);
            }
            ffi::lua_getfield(l, ffi::LUA_REGISTRYINDEX, IMPLS_KEY.as_ptr());
            ffi::lua_rawgeti(l, -1, K as _);
            ffi::lua_remove(l, -2);
            ffi::lua_insert(l, -2);
            ffi::lua_pushinteger(l, n as _);
            ffi::lua_call(l, 2, 2);
        }
        let failed = ffi::lua_toboolean(l, -1) != 0;
        ffi::lua_settop(l, -2);
        if failed {
            ffi::lua_error(l);
        }
        1
    }
}

/// Pushes `{err = "CODE message"}` from "-CODE message" or "message".
unsafe fn push_error_table(l: *mut ffi::lua_State, raw: &str) {
    let (code, msg) = match raw.strip_prefix('-') {
        Some(rest) => rest.split_once(' ').unwrap_or(("ERR", rest)),
        None => ("ERR", raw),
    };
    let text = format!("{code} {}", msg.trim_matches(['\r', '\n']));
    // SAFETY: two slots, within the guaranteed 20.
    unsafe {
        ffi::lua_createtable(l, 0, 1);
        ffi::lua_pushlstring(l, text.as_ptr().cast(), text.len());
        ffi::lua_setfield(l, -2, c"err".as_ptr());
    }
}

/// Pushes a table of strings (KEYS, ARGV).
pub(super) unsafe fn push_bytes_table(l: *mut ffi::lua_State, items: &[&[u8]]) {
    // SAFETY: the table and one string at a time.
    unsafe {
        ffi::lua_createtable(l, items.len() as c_int, 0);
        for (i, a) in items.iter().enumerate() {
            ffi::lua_pushlstring(l, a.as_ptr().cast(), a.len());
            ffi::lua_rawseti(l, -2, (i + 1) as _);
        }
    }
}

/// The host function: `host(op, ...)` for redis.call/pcall (1, or 11 with
/// an (args table, count) pair), setresp (2), set_repl (3) and
/// acl_check_cmd (4, 14). Returns (value, failed).
pub(super) unsafe extern "C-unwind" fn host_raw(l: *mut ffi::lua_State) -> c_int {
    // SAFETY: see the module comment. The Watch outlives the Lua state (the
    // Vm owns both and drops the state first); the host pointer is valid
    // while set (Vm::run clears it before returning).
    unsafe {
        ffi::lua_getfield(l, ffi::LUA_REGISTRYINDEX, WATCH_KEY.as_ptr());
        let watch = ffi::lua_touserdata(l, -1) as *const Watch;
        ffi::lua_settop(l, -2);
        let host_ptr = watch.as_ref().and_then(|w| w.host.get());
        let Some(mut host_ptr) = host_ptr else {
            push_error_table(l, "redis.call/pcall can only be called inside a script invocation");
            ffi::lua_pushboolean(l, 1);
            return 2;
        };
        let host: &mut dyn Host = host_ptr.as_mut();
        let op = ffi::lua_tointeger(l, 1);
        match op {
            1 | 4 | 11 | 14 => {
                // Direct arguments sit at 2..=top; a (table, count) pair is read
                // element by element (a script may pass thousands, more than the
                // C stack holds). Strings are borrowed: the stack or the table
                // keeps them alive, and nothing runs Lua until the call returns.
                let in_table = op >= 11;
                let n = if in_table { ffi::lua_tointeger(l, 3).max(0) as c_int } else { ffi::lua_gettop(l) - 1 };
                if n == 0 {
                    push_error_table(l, "Please specify at least one argument for this redis lib call");
                    ffi::lua_pushboolean(l, 1);
                    return 2;
                }
                let mut argv: Vec<std::borrow::Cow<'_, [u8]>> = Vec::with_capacity(n as usize);
                for i in 0..n {
                    let idx = if in_table {
                        ffi::lua_rawgeti(l, 2, (i + 1) as _);
                        -1
                    } else {
                        2 + i
                    };
                    match ffi::lua_type(l, idx) {
                        ffi::LUA_TSTRING => {
                            let mut len = 0usize;
                            let p = ffi::lua_tolstring(l, idx, &mut len);
                            argv.push(std::slice::from_raw_parts(p.cast(), len).into());
                        }
                        ffi::LUA_TNUMBER => argv.push(crate::resp::reply::format_g(ffi::lua_tonumber(l, idx), 17).into_bytes().into()),
                        _ => {
                            push_error_table(l, "Lua redis lib command arguments must be strings or integers");
                            ffi::lua_pushboolean(l, 1);
                            return 2;
                        }
                    }
                    if in_table {
                        ffi::lua_settop(l, -2);
                    }
                }
                let argv: Vec<&[u8]> = argv.iter().map(|a| a.as_ref()).collect();
                let acl = op == 4 || op == 14;
                let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                    if acl {
                        Err(host.acl_check(&argv))
                    } else {
                        Ok(host.call(&argv))
                    }
                }));
                drop(argv);
                match result {
                    Ok(Err(Some(allowed))) => {
                        ffi::lua_pushboolean(l, c_int::from(allowed));
                        ffi::lua_pushboolean(l, 0);
                    }
                    Ok(Err(None)) => {
                        push_error_table(l, "Invalid command passed to redis.acl_check_cmd()");
                        ffi::lua_pushboolean(l, 1);
                    }
                    Ok(Ok(Ok(reply))) => {
                        let mut pos = 0;
                        let is_err = reply.first() == Some(&b'-');
                        if push_reply(l, &reply, &mut pos, 0).is_none() {
                            push_error_table(l, "malformed reply");
                            ffi::lua_pushboolean(l, 1);
                        } else {
                            ffi::lua_pushboolean(l, c_int::from(is_err));
                        }
                    }
                    Ok(Ok(Err(msg))) => {
                        push_error_table(l, &msg);
                        ffi::lua_pushboolean(l, 1);
                    }
                    Err(_) => {
                        push_error_table(l, "internal error running the command");
                        ffi::lua_pushboolean(l, 1);
                    }
                }
                2
            }
            2 => {
                host.set_resp(if ffi::lua_tointeger(l, 2) == 3 { 3 } else { 2 });
                0
            }
            3 => {
                host.set_repl((ffi::lua_tointeger(l, 2) & 3) as u8);
                0
            }
            _ => 0,
        }
    }
}

fn line<'a>(buf: &'a [u8], pos: &mut usize) -> Option<&'a [u8]> {
    let start = *pos;
    let rel = buf.get(start..)?.windows(2).position(|w| w == b"\r\n")?;
    *pos = start + rel + 2;
    Some(&buf[start..start + rel])
}

fn num(b: &[u8]) -> i64 {
    std::str::from_utf8(b).ok().and_then(|s| s.parse().ok()).unwrap_or(0)
}

/// Pushes one reply as Redis converts it for Lua (see `convert`'s module
/// comment for the rules); None if the bytes are not a whole reply.
unsafe fn push_reply(l: *mut ffi::lua_State, buf: &[u8], pos: &mut usize, depth: usize) -> Option<()> {
    if depth > 100 {
        return None;
    }
    let kind = *buf.get(*pos)?;
    *pos += 1;
    let ln = line(buf, pos)?;
    // SAFETY: each level checks for the 4 slots it uses at most.
    unsafe {
        if ffi::lua_checkstack(l, 4) == 0 {
            return None;
        }
        let tagged = |tag: &std::ffi::CStr| {
            ffi::lua_createtable(l, 0, 1);
            ffi::lua_insert(l, -2);
            ffi::lua_setfield(l, -2, tag.as_ptr());
        };
        match kind {
            b':' => ffi::lua_pushnumber(l, num(ln) as f64),
            b'$' | b'=' => {
                let n = num(ln);
                if n < 0 {
                    ffi::lua_pushboolean(l, 0);
                    return Some(());
                }
                let end = pos.checked_add(n as usize).filter(|&e| e <= buf.len())?;
                let data = &buf[*pos..end];
                *pos = (end + 2).min(buf.len());
                if kind == b'=' && data.len() >= 4 {
                    ffi::lua_createtable(l, 0, 2);
                    ffi::lua_pushlstring(l, data[4..].as_ptr().cast(), data.len() - 4);
                    ffi::lua_setfield(l, -2, c"string".as_ptr());
                    ffi::lua_pushlstring(l, data.as_ptr().cast(), 3);
                    ffi::lua_setfield(l, -2, c"format".as_ptr());
                    tagged(c"verbatim_string");
                } else {
                    ffi::lua_pushlstring(l, data.as_ptr().cast(), data.len());
                }
            }
            b'+' => {
                ffi::lua_pushlstring(l, ln.as_ptr().cast(), ln.len());
                tagged(c"ok");
            }
            b'-' => {
                ffi::lua_pushlstring(l, ln.as_ptr().cast(), ln.len());
                tagged(c"err");
            }
            b'*' | b'>' => {
                let n = num(ln);
                if n < 0 {
                    ffi::lua_pushboolean(l, 0);
                    return Some(());
                }
                ffi::lua_createtable(l, n.min(1 << 16) as c_int, 0);
                for i in 0..n {
                    push_reply(l, buf, pos, depth + 1)?;
                    ffi::lua_rawseti(l, -2, (i + 1) as _);
                }
            }
            b'%' => {
                ffi::lua_createtable(l, 0, 0);
                for _ in 0..num(ln) {
                    push_reply(l, buf, pos, depth + 1)?;
                    push_reply(l, buf, pos, depth + 1)?;
                    ffi::lua_rawset(l, -3);
                }
                tagged(c"map");
            }
            b'~' => {
                ffi::lua_createtable(l, 0, 0);
                for _ in 0..num(ln) {
                    push_reply(l, buf, pos, depth + 1)?;
                    ffi::lua_pushboolean(l, 1);
                    ffi::lua_rawset(l, -3);
                }
                tagged(c"set");
            }
            b'|' => {
                for _ in 0..num(ln) * 2 {
                    push_reply(l, buf, pos, depth + 1)?;
                    ffi::lua_settop(l, -2);
                }
                return push_reply(l, buf, pos, depth + 1);
            }
            b'_' => ffi::lua_pushnil(l),
            b'#' => ffi::lua_pushboolean(l, c_int::from(ln == b"t")),
            b',' => {
                let s = std::str::from_utf8(ln).unwrap_or("0");
                let d = match s {
                    "inf" => f64::INFINITY,
                    "-inf" => f64::NEG_INFINITY,
                    "nan" => f64::NAN,
                    _ => s.parse().unwrap_or(0.0),
                };
                ffi::lua_pushnumber(l, d);
                tagged(c"double");
            }
            b'(' => {
                ffi::lua_pushlstring(l, ln.as_ptr().cast(), ln.len());
                tagged(c"big_number");
            }
            _ => return None,
        }
    }
    Some(())
}
