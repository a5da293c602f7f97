//! EVAL's script cache: scripts by SHA-1, compiled once into the EVAL Lua
//! state, with the flags their shebang declared. SCRIPT FLUSH drops the
//! state and starts a new one, as Redis does.

use super::{parse_shebang, sha1_hex, LuaSetupError, Vm};
use mlua::Function;
use std::collections::HashMap;

/// One cached script.
pub struct Script {
    pub flags: u32,
    pub func: Function,
}

/// The EVAL engine: its Lua state and the scripts compiled into it.
pub struct Scripts {
    pub vm: Vm,
    map: HashMap<String, Script>,
    /// Bytes of script bodies and ids (INFO used_memory_scripts_eval).
    pub body_bytes: usize,
}

impl Scripts {
    pub fn new() -> Result<Scripts, LuaSetupError> {
        Ok(Scripts { vm: Vm::new()?, map: HashMap::new(), body_bytes: 0 })
    }

    /// Compiles and caches `body` (once); returns its SHA-1, or Redis's error text.
    pub fn load(&mut self, body: &[u8]) -> Result<String, String> {
        let sha = sha1_hex(body);
        if self.map.contains_key(&sha) {
            return Ok(sha);
        }
        let (flags, shebang_len) = parse_shebang(body)?;
        let func =
            self.vm.compile("@user_script", &body[shebang_len..]).map_err(|e| format!("Error compiling script (new function): {e}"))?;
        self.body_bytes += body.len() + 40;
        self.map.insert(sha.clone(), Script { flags, func });
        Ok(sha)
    }

    /// The cached script with this SHA-1 (any case).
    pub fn get(&self, sha: &[u8]) -> Option<&Script> {
        if sha.len() != 40 {
            return None;
        }
        let lower = String::from_utf8_lossy(sha).to_ascii_lowercase();
        self.map.get(&lower)
    }

    pub fn contains(&self, sha: &[u8]) -> bool {
        self.get(sha).is_some()
    }

    pub fn len(&self) -> usize {
        self.map.len()
    }
}
