//! How a node program is invoked for each engine kind.

use super::EngineError;
use crate::config::{Config, EngineKind};
use std::path::{Path, PathBuf};

/// Program and arguments that run the node reading `conf`.
pub fn command_for(config: &Config, conf: &Path) -> Result<(PathBuf, Vec<String>), EngineError> {
    match config.engine.kind {
        EngineKind::RedisServer => {
            let prog = crate::config::find_program(&config.engine.redis_server)
                .ok_or_else(|| EngineError::NoRedisServer(config.engine.redis_server.clone()))?;
            Ok((prog, vec![conf.display().to_string()]))
        }
        EngineKind::Builtin => {
            let exe = std::env::current_exe().map_err(EngineError::OwnExe)?;
            // The fault hook's token goes on the command line only: redis-server
            // would reject it in the shared conf.
            let layout = crate::confgen::Layout::new(&config.supervisor.data_dir);
            let token = crate::faults::admin_token(&layout).map_err(|e| EngineError::Token(e.to_string()))?;
            Ok((exe, vec!["node".into(), conf.display().to_string(), "--slotd-admin-token".into(), token]))
        }
    }
}
