//! In-process nodes: `node_engine::start` on a thread inside slotd.

use super::{EngineError, ExitSender, Exited, Handle, Running};
use crate::supervise::state::ExitInfo;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

/// Starts a node thread from its conf file; its end is sent on `exits`.
/// `admin_token` enables the node's fault hook (never written to the conf).
pub async fn start(conf: &Path, admin_token: Option<String>, generation: u64, exits: ExitSender) -> Result<Running, EngineError> {
    let conf = conf.to_path_buf();
    let handle = tokio::task::spawn_blocking(move || -> Result<node_engine::NodeHandle, EngineError> {
        let mut cfg = node_engine::NodeConfig::load(&conf)?;
        if admin_token.is_some() {
            cfg.admin_token = admin_token;
        }
        Ok(node_engine::start(cfg)?)
    })
    .await??;
    let handle = Arc::new(handle);
    let watch = handle.clone();
    tokio::spawn(async move {
        while !watch.is_finished() {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let _ = exits.send(Exited { generation, info: ExitInfo { code: None, signal: None } });
    });
    Ok(Running { pid: Some(std::process::id()), started_at: SystemTime::now(), adopted: false, handle: Handle::Inproc(handle) })
}
