//! EVAL's script cache: scripts by SHA-1, compiled once into the EVAL Lua
//! state, with the flags their shebang declared. SCRIPT FLUSH drops the
//! state and starts a new one, as Redis does.

use super::{parse_shebang, sha1_hex, LuaSetupError, Vm};
use mlua::Function;
use std::collections::HashMap;

/// A script id: 40 lowercase hex digits.
pub type Sha = [u8; 40];

/// The id of a SHA-1 given in any case; None unless it is 40 bytes long.
pub fn sha_key(sha: &[u8]) -> Option<Sha> {
    let mut key: Sha = sha.try_into().ok()?;
    key.make_ascii_lowercase();
    Some(key)
}

/// One cached script.
pub struct Script {
    pub flags: u32,
    pub func: Function,
}

/// The EVAL engine: its Lua state and the scripts compiled into it.
pub struct Scripts {
    pub vm: Vm,
    /// By lowercase hex SHA-1.
    map: HashMap<Sha, Script, ahash::RandomState>,
    /// Bytes of script bodies and ids (INFO used_memory_scripts_eval).
    pub body_bytes: usize,
}

impl Scripts {
    pub fn new() -> Result<Scripts, LuaSetupError> {
        Ok(Scripts { vm: Vm::new()?, map: HashMap::default(), body_bytes: 0 })
    }

    /// Compiles and caches `body` (once); returns its SHA-1, or Redis's error text.
    pub fn load(&mut self, body: &[u8]) -> Result<Sha, String> {
        let sha = sha_key(sha1_hex(body).as_bytes()).ok_or("bad digest")?;
        if self.map.contains_key(&sha) {
            return Ok(sha);
        }
        let (flags, shebang_len) = parse_shebang(body)?;
        let func =
            self.vm.compile("@user_script", &body[shebang_len..]).map_err(|e| format!("Error compiling script (new function): {e}"))?;
        self.body_bytes += body.len() + 40;
        self.map.insert(sha, Script { flags, func });
        Ok(sha)
    }

    /// The cached script with this SHA-1 (any case).
    pub fn get(&self, sha: &[u8]) -> Option<&Script> {
        self.map.get(&sha_key(sha)?)
    }

    pub fn contains(&self, sha: &[u8]) -> bool {
        self.get(sha).is_some()
    }

    pub fn len(&self) -> usize {
        self.map.len()
    }
}
