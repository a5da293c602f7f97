//! How a node program is invoked for each engine kind.

use crate::config::{Config, EngineKind};
use std::path::{Path, PathBuf};

/// Program and arguments that run the node reading `conf`.
pub fn command_for(config: &Config, conf: &Path) -> Result<(PathBuf, Vec<String>), String> {
    match config.engine.kind {
        EngineKind::RedisServer => {
            let prog = crate::config::find_program(&config.engine.redis_server).ok_or_else(|| {
                format!(
                    "`{}` is not an executable file or in PATH: install Redis 7 (`apt-get install redis-server`) or set engine.redis_server",
                    config.engine.redis_server.display()
                )
            })?;
            Ok((prog, vec![conf.display().to_string()]))
        }
        EngineKind::Builtin => {
            let exe = std::env::current_exe().map_err(|e| format!("cannot find slotd's own executable to start a builtin node: {e}"))?;
            // The fault hook's token goes on the command line only: redis-server
            // would reject it in the shared conf.
            let layout = crate::confgen::Layout::new(&config.supervisor.data_dir);
            let token = crate::faults::admin_token(&layout).map_err(|e| e.to_string())?;
            Ok((exe, vec!["node".into(), conf.display().to_string(), "--slotd-admin-token".into(), token]))
        }
    }
}
