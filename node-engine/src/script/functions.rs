//! FUNCTION's libraries: code with a `#!lua name=<lib>` header whose top
//! level calls `redis.register_function`, compiled into the functions' own
//! Lua state. Error texts are Redis 7.0's.

use super::{LuaSetupError, Vm};
use indexmap::IndexMap;
use mlua::{Function, Lua, MultiValue, Value};
use std::collections::HashMap;

pub struct FunctionInfo {
    pub name: String,
    pub desc: Option<Vec<u8>>,
    pub flags: u32,
    pub func: Function,
}

pub struct Library {
    pub name: String,
    /// The code as loaded, header included (what DUMP, RDB and LIST WITHCODE carry).
    pub code: Vec<u8>,
    /// By lowercase name (function names are case-insensitive).
    pub functions: IndexMap<String, FunctionInfo>,
}

/// The loaded libraries and the index of their functions by name.
pub struct Libraries {
    pub vm: Vm,
    pub libs: IndexMap<String, Library>,
    index: HashMap<String, String>,
}

const BAD_NAME: &str = "Library names can only contain letters, numbers, or underscores(_) and must be at least one character long";

fn valid_name(name: &[u8]) -> bool {
    !name.is_empty() && name.iter().all(|&c| c.is_ascii_alphanumeric() || c == b'_')
}

impl Libraries {
    pub fn new() -> Result<Libraries, LuaSetupError> {
        Ok(Libraries { vm: Vm::new()?, libs: IndexMap::new(), index: HashMap::new() })
    }

    /// The function called `name` and the library holding it.
    pub fn function(&self, name: &[u8]) -> Option<&FunctionInfo> {
        let key = std::str::from_utf8(name).ok()?.to_ascii_lowercase();
        let lib = self.index.get(&key)?;
        self.libs.get(lib)?.functions.get(&key)
    }

    pub fn function_count(&self) -> usize {
        self.index.len()
    }

    /// Compiles a library without linking it (FUNCTION LOAD, RESTORE, RDB load).
    pub fn compile(&self, code: &[u8]) -> Result<Library, String> {
        self.compile_within(code, None)
    }

    /// Compiles a library whose top-level code may run for at most `timeout`
    /// (FUNCTION LOAD from a client: 500 ms, as Redis allows).
    pub fn compile_within(&self, code: &[u8], timeout: Option<std::time::Duration>) -> Result<Library, String> {
        if !code.starts_with(b"#!") {
            return Err("Missing library metadata".into());
        }
        let Some(end) = code.iter().position(|&b| b == b'\n') else {
            return Err("Invalid library metadata".into());
        };
        let parts: Vec<String> =
            super::split_args(&code[..end]).unwrap_or_default().into_iter().map(|p| String::from_utf8_lossy(&p).into_owned()).collect();
        let Some(first) = parts.first() else {
            return Err("Invalid library metadata".into());
        };
        let engine = first.get(2..).unwrap_or("");
        let mut name: Option<&str> = None;
        for p in &parts[1..] {
            if p.len() >= 5 && p[..5].eq_ignore_ascii_case("name=") {
                if name.is_some() {
                    return Err("Invalid metadata value, name argument was given multiple times".into());
                }
                name = Some(&p[5..]);
                continue;
            }
            return Err(format!("Invalid metadata value given: {p}"));
        }
        let Some(name) = name else {
            return Err("Library name was not given".into());
        };
        if !valid_name(name.as_bytes()) {
            return Err(BAD_NAME.into());
        }
        if !engine.eq_ignore_ascii_case("lua") {
            return Err(format!("Engine '{engine}' not found"));
        }
        let f = self.vm.compile("@user_function", &code[end..]).map_err(|e| format!("Error compiling function: {e}"))?;
        let mut functions: IndexMap<String, FunctionInfo> = IndexMap::new();
        let mut register = |lua: &Lua, args: MultiValue| -> Result<(), String> {
            let info = read_registration(lua, args)?;
            if !valid_name(info.name.as_bytes()) {
                return Err(BAD_NAME.into());
            }
            // Function names are case-insensitive, as in Redis.
            let key = info.name.to_ascii_lowercase();
            if functions.contains_key(&key) {
                return Err("Function already exists in the library".into());
            }
            functions.insert(key, info);
            Ok(())
        };
        self.vm.load_library(&f, &mut register, timeout).map_err(|e| format!("Error registering functions: {e}"))?;
        if functions.is_empty() {
            return Err("No functions registered".into());
        }
        Ok(Library { name: name.to_string(), code: code.to_vec(), functions })
    }

    /// FUNCTION LOAD [REPLACE]: the library's name, or Redis's error text.
    pub fn load(&mut self, code: &[u8], replace: bool, timeout: Option<std::time::Duration>) -> Result<String, String> {
        let lib = self.compile_within(code, timeout)?;
        if self.libs.contains_key(&lib.name) && !replace {
            return Err(format!("Library '{}' already exists", lib.name));
        }
        for (key, f) in &lib.functions {
            if self.index.get(key).is_some_and(|owner| *owner != lib.name) {
                return Err(format!("Function {} already exists", f.name));
            }
        }
        let name = lib.name.clone();
        self.unlink(&name);
        self.link(lib);
        Ok(name)
    }

    /// Adds compiled libraries (FUNCTION RESTORE APPEND|REPLACE): all or none.
    pub fn join(&mut self, new: Vec<Library>, replace: bool) -> Result<(), String> {
        for lib in &new {
            if self.libs.contains_key(&lib.name) && !replace {
                return Err(format!("Library {} already exists", lib.name));
            }
        }
        let replaced: std::collections::HashSet<&str> = new.iter().map(|l| l.name.as_str()).collect();
        for lib in &new {
            for (key, f) in &lib.functions {
                if self.index.get(key).is_some_and(|owner| !replaced.contains(owner.as_str())) {
                    return Err(format!("Function {} already exists", f.name));
                }
            }
        }
        for lib in new {
            let name = lib.name.clone();
            self.unlink(&name);
            self.link(lib);
        }
        Ok(())
    }

    /// FUNCTION DELETE: false when there is no such library.
    pub fn delete(&mut self, name: &[u8]) -> bool {
        let Ok(name) = std::str::from_utf8(name) else { return false };
        self.unlink(name).is_some()
    }

    /// FUNCTION FLUSH (and RESTORE FLUSH before adding).
    pub fn flush(&mut self) {
        self.libs.clear();
        self.index.clear();
    }

    fn unlink(&mut self, name: &str) -> Option<Library> {
        let lib = self.libs.shift_remove(name)?;
        for f in lib.functions.keys() {
            self.index.remove(f);
        }
        Some(lib)
    }

    fn link(&mut self, lib: Library) {
        for f in lib.functions.keys() {
            self.index.insert(f.clone(), lib.name.clone());
        }
        self.libs.insert(lib.name.clone(), lib);
    }
}

/// redis.register_function(name, callback) or redis.register_function{...}.
fn read_registration(lua: &Lua, args: MultiValue) -> Result<FunctionInfo, String> {
    let _ = lua;
    let args: Vec<Value> = args.into_iter().collect();
    match args.len() {
        1 => {
            let Value::Table(t) = &args[0] else {
                return Err("calling redis.register_function with a single argument is only applicable to Lua table (representing named arguments).".into());
            };
            let mut name = None;
            let mut desc = None;
            let mut func = None;
            let mut flags = 0;
            for pair in t.pairs::<Value, Value>() {
                let (k, v) = pair.map_err(|e| e.to_string())?;
                let key = match &k {
                    Value::String(s) => s.to_string_lossy().to_ascii_lowercase(),
                    Value::Integer(i) => i.to_string(),
                    Value::Number(n) => n.to_string(),
                    _ => return Err("named argument key given to redis.register_function is not a string".into()),
                };
                match key.as_str() {
                    "function_name" => {
                        name = Some(string_of(&v).ok_or("function_name argument given to redis.register_function must be a string")?);
                    }
                    "description" => {
                        desc = Some(string_of(&v).ok_or("description argument given to redis.register_function must be a string")?);
                    }
                    "callback" => match v {
                        Value::Function(f) => func = Some(f),
                        _ => return Err("callback argument given to redis.register_function must be a function".into()),
                    },
                    "flags" => {
                        let Value::Table(ft) = v else {
                            return Err("flags argument to redis.register_function must be a table representing function flags".into());
                        };
                        for i in 1.. {
                            match ft.raw_get::<Value>(i) {
                                Ok(Value::Nil) | Err(_) => break,
                                Ok(fv) => {
                                    let s = string_of(&fv).ok_or("unknown flag given")?;
                                    let lower = s.to_ascii_lowercase();
                                    flags |= super::flags::by_name(&lower).ok_or("unknown flag given")?;
                                }
                            }
                        }
                    }
                    _ => return Err("unknown argument given to redis.register_function".into()),
                }
            }
            let name = name.ok_or("redis.register_function must get a function name argument")?;
            let func = func.ok_or("redis.register_function must get a callback argument")?;
            Ok(FunctionInfo { name: String::from_utf8_lossy(&name).into_owned(), desc, flags, func })
        }
        2 => {
            let name = string_of(&args[0]).ok_or("first argument to redis.register_function must be a string")?;
            let Value::Function(f) = &args[1] else {
                return Err("second argument to redis.register_function must be a function".into());
            };
            Ok(FunctionInfo { name: String::from_utf8_lossy(&name).into_owned(), desc: None, flags: 0, func: f.clone() })
        }
        _ => Err("wrong number of arguments to redis.register_function".into()),
    }
}

fn string_of(v: &Value) -> Option<Vec<u8>> {
    match v {
        Value::String(s) => Some(s.as_bytes().to_vec()),
        Value::Integer(i) => Some(i.to_string().into_bytes()),
        Value::Number(n) => Some(crate::resp::reply::format_g(*n, 14).into_bytes()),
        _ => None,
    }
}
