//! Lua scripting as Redis 7.0 has it: the sandboxed Lua 5.1 state
//! ([`Vm`]), EVAL's script cache ([`eval::Scripts`]), FUNCTION's libraries
//! ([`functions::Libraries`]), the RESP <-> Lua conversions and the
//! libraries scripts rely on (cjson, cmsgpack, struct, bit).
//!
//! This layer knows nothing of the node: a running script reaches the
//! keyspace only through the [`Host`] the command layer passes in.

pub mod busy;
pub mod convert;
pub mod eval;
pub mod functions;
pub mod libs;
mod raw;

use crate::resp::ReplyBuf;
use mlua::{Function, Lua, LuaOptions, MultiValue, StdLib, Table, Value};
use std::cell::Cell;
use std::rc::Rc;

/// The node's scripting part: EVAL's cache and FUNCTION's libraries, each
/// made on first use (a node that never scripts carries no Lua state).
#[derive(Default)]
pub struct Scripting {
    pub eval: Option<eval::Scripts>,
    pub functions: Option<functions::Libraries>,
    /// DEBUG SET-DISABLE-DENY-SCRIPTS: scripts may run commands flagged noscript (tests only).
    pub allow_noscript_commands: bool,
    /// `busy-reply-threshold` in ms (0: never busy), cached: read for every script.
    pub busy_threshold_ms: u64,
    /// The node was over maxmemory when the running script started (Redis's
    /// script_oom): its first deny-oom write is refused.
    pub oom: bool,
}

impl Scripting {
    /// EVAL's cache, made on first use.
    pub fn eval(&mut self) -> Result<&mut eval::Scripts, String> {
        if self.eval.is_none() {
            self.eval = Some(eval::Scripts::new().map_err(|e| format!("ERR {e}"))?);
        }
        self.eval.as_mut().ok_or_else(|| "ERR scripting unavailable".to_string())
    }
    /// FUNCTION's libraries, made on first use.
    pub fn functions(&mut self) -> Result<&mut functions::Libraries, String> {
        if self.functions.is_none() {
            self.functions = Some(functions::Libraries::new().map_err(|e| format!("ERR {e}"))?);
        }
        self.functions.as_mut().ok_or_else(|| "ERR scripting unavailable".to_string())
    }
}

/// Script flags (shebang `flags=` and `redis.register_function{flags=}`).
pub mod flags {
    pub const NO_WRITES: u32 = 1;
    pub const ALLOW_OOM: u32 = 1 << 1;
    pub const ALLOW_STALE: u32 = 1 << 2;
    pub const NO_CLUSTER: u32 = 1 << 3;
    pub const ALLOW_CROSS_SLOT: u32 = 1 << 4;
    /// An EVAL script without a shebang: Redis 6 rules (no declared flags).
    pub const EVAL_COMPAT: u32 = 1 << 5;
    /// Names in Redis's order (FUNCTION LIST prints them so).
    pub const NAMES: &[(u32, &str)] = &[
        (NO_WRITES, "no-writes"),
        (ALLOW_OOM, "allow-oom"),
        (ALLOW_STALE, "allow-stale"),
        (NO_CLUSTER, "no-cluster"),
        (ALLOW_CROSS_SLOT, "allow-cross-slot-keys"),
    ];
    pub fn by_name(name: &[u8]) -> Option<u32> {
        NAMES.iter().find(|(_, n)| n.as_bytes() == name).map(|(f, _)| *f)
    }
}

/// What a running script asks of the node. Implemented by the command layer.
pub trait Host {
    /// Runs one command for `redis.call`/`redis.pcall`: the reply's RESP
    /// bytes, or the refusal (`-CODE message` or a plain message).
    fn call(&mut self, argv: &[&[u8]]) -> Result<Vec<u8>, String>;
    /// `redis.setresp(2|3)`: the protocol the script's commands reply in.
    fn set_resp(&mut self, resp: u8);
    /// The protocol set by `redis.setresp` (booleans convert by it).
    fn resp(&self) -> u8;
    /// `redis.set_repl(flags)`: 1 = AOF, 2 = replicas.
    fn set_repl(&mut self, flags: u8);
    /// `redis.acl_check_cmd`: None when the command does not exist.
    fn acl_check(&mut self, argv: &[&[u8]]) -> Option<bool>;
    /// The script is past `busy-reply-threshold`: serve what the node must
    /// answer even now (new clients, the cluster bus).
    fn while_busy(&mut self);
}

/// A Lua failure while setting up the sandbox (never expected at run time).
#[derive(Debug, thiserror::Error)]
#[error("lua: {0}")]
pub struct LuaSetupError(#[from] mlua::Error);

/// One sandboxed Lua state (EVAL has one, FUNCTION another, as in Redis).
pub struct Vm {
    pub(crate) lua: Lua,
    /// The error handler scripts run under (adds the failing line).
    err_handler: Function,
    api_load: Function,
    /// The globals scripts see (KEYS/ARGV go here for EVAL).
    pub(crate) globals: Table,
    /// The readonly proxy of `globals`: the environment of every chunk.
    proxy: Table,
    /// What the permanent hook and host function look at while a script runs.
    watch: Rc<Watch>,
}

/// The running script's context, shared with the Lua hook and the host
/// function created once per state (no per-call closures or hooks).
#[derive(Default)]
struct Watch {
    /// The host of the running script; set only for the duration of `Vm::run`.
    host: Cell<Option<std::ptr::NonNull<dyn Host>>>,
    busy: std::cell::RefCell<Option<Rc<busy::Busy>>>,
    /// FUNCTION LOAD's deadline for a library's top-level code.
    load_deadline: Cell<Option<std::time::Instant>>,
    /// Set when the running script is killed: pcall re-raises, so a script cannot catch it.
    killed: Cell<bool>,
    /// Runs since the last collector step (Redis steps it every 50).
    runs: Cell<u32>,
}

/// Clears the host pointer when `run` ends, however it ends.
struct HostGuard<'a>(&'a Watch);

impl Drop for HostGuard<'_> {
    fn drop(&mut self) {
        self.0.host.set(None);
        self.0.busy.borrow_mut().take();
    }
}

/// The Redis version scripts see as `redis.REDIS_VERSION(_NUM)`.
const VERSION_NUM: u32 = 0x07000f;

impl Vm {
    pub fn new() -> Result<Vm, LuaSetupError> {
        // SAFETY: the debug library is needed for the error handler's line
        // numbers; the prelude keeps it in a local and removes the global.
        let lua = unsafe { Lua::unsafe_new_with(StdLib::TABLE | StdLib::STRING | StdLib::MATH | StdLib::DEBUG, LuaOptions::new()) };
        libs::install(&lua)?;
        let version = lua.create_table()?;
        version.set("version", crate::REDIS_VERSION)?;
        version.set("version_num", VERSION_NUM)?;
        let sha1 = lua.create_function(|lua, v: Value| {
            let bytes = match &v {
                Value::String(s) => s.as_bytes().to_vec(),
                Value::Integer(i) => i.to_string().into_bytes(),
                Value::Number(n) => crate::resp::reply::format_g(*n, 14).into_bytes(),
                _ => Vec::new(),
            };
            lua.create_string(sha1_hex(&bytes))
        })?;
        let rng = Rc::new(Cell::new(rand48_seed(rand::random::<u32>() as i64)));
        let r = rng.clone();
        let rand = lua.create_function(move |_, ()| {
            let x = rand48_next(&r);
            Ok((x % 2147483647) as f64)
        })?;
        let srand = lua.create_function(move |_, seed: f64| {
            rng.set(rand48_seed(seed as i64));
            Ok(())
        })?;
        let log = lua.create_function(|_, (level, msg): (i64, mlua::String)| {
            let msg = String::from_utf8_lossy(&msg.as_bytes()).into_owned();
            match level {
                0 => tracing::trace!(target: "lua", "{msg}"),
                1 => tracing::debug!(target: "lua", "{msg}"),
                2 => tracing::info!(target: "lua", "{msg}"),
                _ => tracing::warn!(target: "lua", "{msg}"),
            }
            Ok(())
        })?;
        let watch = Rc::new(Watch::default());
        let w = watch.clone();
        let is_killed = lua.create_function(move |_, ()| Ok(w.killed.get()))?;
        // SAFETY: host_raw follows the Lua C API contract (see raw.rs); the
        // registry's pointer to `watch` stays valid as long as the state (the
        // Vm holds the Rc and drops the state first).
        let host_fn = unsafe { lua.create_c_function(raw::host_raw)? };
        lua.set_named_registry_value("redis_watch", mlua::LightUserData(Rc::as_ptr(&watch) as *mut std::ffi::c_void))?;
        let w = watch.clone();
        lua.set_hook(mlua::HookTriggers::new().every_nth_instruction(100_000), move |_, _| {
            if let Some(deadline) = w.load_deadline.get() {
                if std::time::Instant::now() > deadline {
                    return Err(mlua::Error::runtime("FUNCTION LOAD timeout"));
                }
            }
            if let Some(b) = w.busy.borrow().as_ref() {
                if !b.killed.get() && b.tick() {
                    if let Some(mut host) = w.host.get() {
                        // SAFETY: the pointer is set only while `Vm::run` runs the
                        // script, and the hook fires between Lua instructions, never
                        // inside a host call, so no other reference to the host is live.
                        unsafe { host.as_mut().while_busy() };
                    }
                }
                if b.killed.get() {
                    w.killed.set(true);
                    return Err(mlua::Error::runtime("Script killed by user with SCRIPT KILL..."));
                }
            }
            Ok(mlua::VmState::Continue)
        })?;
        let raiser = lua.create_function(|lua, i: usize| {
            let f = raw::RAISERS.get(i.wrapping_sub(1)).ok_or_else(|| mlua::Error::runtime("no such raiser"))?;
            // SAFETY: every RAISERS entry follows the Lua C API contract (see raw.rs).
            unsafe { lua.create_c_function(*f) }
        })?;
        let api: Table = lua
            .load(include_str!("prelude.lua"))
            .set_name("=[redis]")
            .call((version, sha1, rand, srand, log, raiser, is_killed, &host_fn))?;
        let impls: Table = api.get("impls")?;
        if impls.raw_len() > raw::RAISERS.len() {
            return Err(LuaSetupError(mlua::Error::runtime("more redis.* functions than raisers")));
        }
        lua.set_named_registry_value("redis_impls", impls)?;
        lua.set_named_registry_value("redis_host", &host_fn)?;
        Ok(Vm {
            err_handler: api.get("err_handler")?,
            api_load: api.get("load_library")?,
            globals: api.get("S")?,
            proxy: api.get("G")?,
            watch,
            lua,
        })
    }

    /// Compiles source text (never bytecode) with the sandbox as environment.
    pub fn compile(&self, chunk_name: &str, code: &[u8]) -> Result<Function, String> {
        if code.first() == Some(&27) {
            return Err(format!("{}: bad binary format (binary chunks are not allowed)", chunk_name.trim_start_matches('@')));
        }
        self.lua
            .load(code)
            .set_name(chunk_name)
            .set_mode(mlua::ChunkMode::Text)
            .set_environment(self.proxy.clone())
            .into_function()
            .map_err(|e| match e {
                mlua::Error::SyntaxError { message, .. } => message,
                other => other.to_string(),
            })
    }

    /// Runs `f` with `host` reachable from redis.*; writes the script's
    /// return value (or its error) to `out` as Redis converts it. `keys` and
    /// `args` are passed as arguments (functions) or set as the KEYS/ARGV
    /// globals (EVAL, `as_globals`). `name` is what errors report.
    #[allow(clippy::too_many_arguments)]
    pub fn run(
        &self,
        f: &Function,
        keys: &[&[u8]],
        args: &[&[u8]],
        as_globals: bool,
        name: &str,
        host: &mut dyn Host,
        out: &mut ReplyBuf,
        busy: Option<Rc<busy::Busy>>,
    ) {
        self.watch.killed.set(false);
        *self.watch.busy.borrow_mut() = busy;
        // SAFETY (lifetime erasure): the pointer lives in `watch` only until
        // `_guard` drops at the end of this call, while `host` is still borrowed.
        let ptr: std::ptr::NonNull<dyn Host + '_> = std::ptr::NonNull::from(&mut *host);
        let ptr: std::ptr::NonNull<dyn Host + 'static> = unsafe { std::mem::transmute(ptr) };
        self.watch.host.set(Some(ptr));
        let guard = HostGuard(&self.watch);
        let result = (|| -> mlua::Result<()> {
            // KEYS/ARGV built and the script called on the raw stack: through
            // mlua's typed API this cost thousands of instructions per call.
            // SAFETY: the closure works on the three values exec_raw pushed
            // (handler, f, globals) and leaves (ok, result).
            let (ok, value): (bool, Value) = unsafe {
                self.lua.exec_raw((&self.err_handler, f, &self.globals), |l| {
                    use mlua::ffi;
                    let rc = if as_globals {
                        raw::push_bytes_table(l, keys);
                        ffi::lua_setfield(l, -2, c"KEYS".as_ptr());
                        raw::push_bytes_table(l, args);
                        ffi::lua_setfield(l, -2, c"ARGV".as_ptr());
                        ffi::lua_settop(l, -2);
                        ffi::lua_pcall(l, 0, 1, -2)
                    } else {
                        ffi::lua_settop(l, -2);
                        raw::push_bytes_table(l, keys);
                        raw::push_bytes_table(l, args);
                        ffi::lua_pcall(l, 2, 1, -4)
                    };
                    ffi::lua_pushboolean(l, std::os::raw::c_int::from(rc == 0));
                    ffi::lua_replace(l, -3);
                })?
            };
            drop(guard);
            // Like Redis: a collector step every 50 scripts keeps garbage bounded without a full cycle.
            let runs = self.watch.runs.get() + 1;
            self.watch.runs.set(runs % 50);
            if runs == 50 {
                let _ = self.lua.gc_step_kbytes(8);
            }
            let resp = host.resp();
            if ok {
                convert::lua_to_reply(&value, resp, out, 0);
            } else {
                out.error(&error_text(&value, name));
            }
            Ok(())
        })();
        if let Err(e) = result {
            out.error(&format!("ERR Error running script {name}, {:.100}", e.to_string()));
        }
    }

    /// Runs library code with only the load-time API visible; `register`
    /// receives each `redis.register_function` call's arguments.
    pub fn load_library(
        &self,
        f: &Function,
        register: &mut dyn FnMut(&Lua, MultiValue) -> Result<(), String>,
        timeout: Option<std::time::Duration>,
    ) -> Result<(), String> {
        self.watch.load_deadline.set(timeout.map(|t| std::time::Instant::now() + t));
        let r = self.load_library_inner(f, register);
        self.watch.load_deadline.set(None);
        r
    }

    fn load_library_inner(&self, f: &Function, register: &mut dyn FnMut(&Lua, MultiValue) -> Result<(), String>) -> Result<(), String> {
        let register = std::cell::RefCell::new(register);
        let r = self.lua.scope(|scope| {
            let reg = scope.create_function(|lua, args: MultiValue| {
                let mut reg = register.borrow_mut();
                match (*reg)(lua, args) {
                    Ok(()) => Ok((Value::Nil, false)),
                    Err(msg) => Ok((Value::Table(error_table(lua, &msg)?), true)),
                }
            })?;
            let (ok, value): (bool, Value) = self.api_load.call((f.clone(), reg))?;
            Ok(if ok { Ok(()) } else { Err(error_message(&value)) })
        });
        r.unwrap_or_else(|e| Err(e.to_string()))
    }

    /// Memory used by the Lua state, in bytes (INFO used_memory_lua).
    pub fn used_memory(&self) -> usize {
        self.lua.used_memory()
    }
}

/// The message of an error value (a table with `err`, or anything else).
fn error_message(v: &Value) -> String {
    if let Value::Table(t) = v {
        if let Ok(Value::String(s)) = t.raw_get::<Value>("err") {
            return String::from_utf8_lossy(&s.as_bytes()).into_owned();
        }
    }
    match v {
        Value::String(s) => format!("ERR {}", String::from_utf8_lossy(&s.as_bytes())),
        _ => "ERR execution failure".into(),
    }
}

/// The error reply for a failed run: `ERR msg script: <name>, on @user_script:1.`
fn error_text(v: &Value, name: &str) -> String {
    let mut msg = error_message(v);
    if let Value::Table(t) = v {
        let source = t.raw_get::<Value>("source").ok();
        let line = t.raw_get::<Value>("line").ok();
        let text = |v: &Option<Value>| match v {
            Some(Value::String(s)) => Some(String::from_utf8_lossy(&s.as_bytes()).into_owned()),
            Some(Value::Integer(i)) => Some(i.to_string()),
            Some(Value::Number(n)) => Some(crate::resp::reply::format_g(*n, 14)),
            _ => None,
        };
        if let (Some(s), Some(l)) = (text(&source), text(&line)) {
            msg.push_str(&format!(" script: {name}, on {s}:{l}."));
        }
    }
    msg.replace(['\r', '\n'], " ")
}

/// An error table `{err = "CODE message"}` from "-CODE message" or "message".
pub(crate) fn error_table(lua: &Lua, raw: &str) -> mlua::Result<Table> {
    let (code, msg) = match raw.strip_prefix('-') {
        Some(rest) => match rest.split_once(' ') {
            Some((c, m)) => (c, m),
            None => ("ERR", rest),
        },
        None => ("ERR", raw),
    };
    let msg = msg.trim_matches(['\r', '\n']);
    let t = lua.create_table()?;
    t.raw_set("err", format!("{code} {msg}"))?;
    Ok(t)
}

/// Lowercase hex SHA-1 (script ids, redis.sha1hex).
pub fn sha1_hex(data: &[u8]) -> String {
    sha1_smol::Sha1::from(data).digest().to_string()
}

/// rand48 as Redis uses it for math.random: the same sequence everywhere.
fn rand48_seed(seed: i64) -> u64 {
    (((seed as u64) << 16) | 0x330e) & ((1 << 48) - 1)
}

fn rand48_next(state: &Cell<u64>) -> u64 {
    let x = state.get().wrapping_mul(0x5_deec_e66d).wrapping_add(0xb) & ((1 << 48) - 1);
    state.set(x);
    x >> 17
}

/// Splits a line into arguments as Redis's `sdssplitargs` does: blanks
/// separate, "double quotes" take C escapes, 'single quotes' take \'.
/// None when a quote is left open or is not followed by a blank.
pub fn split_args(line: &[u8]) -> Option<Vec<Vec<u8>>> {
    let mut out = Vec::new();
    let mut i = 0;
    loop {
        while i < line.len() && line[i].is_ascii_whitespace() {
            i += 1;
        }
        if i >= line.len() {
            return Some(out);
        }
        let mut cur = Vec::new();
        let (mut inq, mut insq) = (false, false);
        loop {
            let Some(&c) = line.get(i) else {
                if inq || insq {
                    return None;
                }
                break;
            };
            if inq {
                if c == b'\\'
                    && i + 3 < line.len()
                    && line[i + 1] == b'x'
                    && line[i + 2].is_ascii_hexdigit()
                    && line[i + 3].is_ascii_hexdigit()
                {
                    let hex = std::str::from_utf8(&line[i + 2..i + 4]).ok()?;
                    cur.push(u8::from_str_radix(hex, 16).ok()?);
                    i += 3;
                } else if c == b'\\' && i + 1 < line.len() {
                    i += 1;
                    cur.push(match line[i] {
                        b'n' => b'\n',
                        b'r' => b'\r',
                        b't' => b'\t',
                        b'b' => 8,
                        b'a' => 7,
                        other => other,
                    });
                } else if c == b'"' {
                    i = after_closing_quote(line, i)?;
                    break;
                } else {
                    cur.push(c);
                }
            } else if insq {
                if c == b'\\' && line.get(i + 1) == Some(&b'\'') {
                    i += 1;
                    cur.push(b'\'');
                } else if c == b'\'' {
                    i = after_closing_quote(line, i)?;
                    break;
                } else {
                    cur.push(c);
                }
            } else if c.is_ascii_whitespace() {
                break;
            } else if c == b'"' {
                inq = true;
            } else if c == b'\'' {
                insq = true;
            } else {
                cur.push(c);
            }
            i += 1;
        }
        out.push(cur);
    }
}

/// Past a closing quote at `i`, which must end its argument (be followed by a blank or the end).
fn after_closing_quote(line: &[u8], i: usize) -> Option<usize> {
    match line.get(i + 1) {
        Some(n) if !n.is_ascii_whitespace() => None,
        _ => Some(i + 1),
    }
}

/// Parses a shebang line (`#!lua flags=no-writes,...`): the flags and the
/// line's length (kept out of the compiled code, its newline kept in).
pub fn parse_shebang(body: &[u8]) -> Result<(u32, usize), String> {
    if !body.starts_with(b"#!") {
        return Ok((flags::EVAL_COMPAT, 0));
    }
    let Some(end) = body.iter().position(|&b| b == b'\n') else {
        return Err("Invalid script shebang".into());
    };
    let parts: Vec<String> =
        split_args(&body[..end]).unwrap_or_default().into_iter().map(|p| String::from_utf8_lossy(&p).into_owned()).collect();
    let Some(engine) = parts.first() else {
        return Err("Invalid engine in script shebang".into());
    };
    if *engine != "#!lua" {
        return Err(format!("Unexpected engine in script shebang: {engine}"));
    }
    let mut f = 0;
    for p in &parts[1..] {
        let Some(list) = p.strip_prefix("flags=") else {
            return Err(format!("Unknown lua shebang option: {p}"));
        };
        for name in list.split(',') {
            if name.is_empty() {
                continue;
            }
            f |= flags::by_name(name.as_bytes()).ok_or_else(|| format!("Unexpected flag in script shebang: {name}"))?;
        }
    }
    Ok((f, end))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_args_follows_sdssplitargs() {
        let parts = |s: &str| split_args(s.as_bytes()).map(|v| v.into_iter().map(|p| String::from_utf8(p).unwrap()).collect::<Vec<_>>());
        assert_eq!(parts("#!lua name=\"foo\""), Some(vec!["#!lua".to_string(), "name=foo".into()]));
        assert_eq!(parts("  a 'b c'  \"d\\x41\\n\" "), Some(vec!["a".to_string(), "b c".into(), "dA\n".into()]));
        assert_eq!(parts("a \"open"), None);
        assert_eq!(parts("\"x\"y"), None);
        assert_eq!(parts(""), Some(vec![]));
    }

    #[test]
    fn shebang_flags() {
        assert_eq!(parse_shebang(b"return 1"), Ok((flags::EVAL_COMPAT, 0)));
        assert_eq!(parse_shebang(b"#!lua flags=no-writes,allow-oom\nreturn 1"), Ok((flags::NO_WRITES | flags::ALLOW_OOM, 31)));
        assert_eq!(parse_shebang(b"#!lua\nreturn 1"), Ok((0, 5)));
        assert_eq!(parse_shebang(b"#!lua flags=bad\n").unwrap_err(), "Unexpected flag in script shebang: bad");
        assert_eq!(parse_shebang(b"#!lua nope\n").unwrap_err(), "Unknown lua shebang option: nope");
        assert_eq!(parse_shebang(b"#!lua").unwrap_err(), "Invalid script shebang");
    }

    #[test]
    fn rand48_matches_the_c_sequence() {
        // srand48(0) then lrand48() in C gives 366850414 first.
        let s = Cell::new(rand48_seed(0));
        assert_eq!(rand48_next(&s), 366_850_414);
    }
}
