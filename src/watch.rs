//! Watches the config file: an edit is re-validated and the differences are
//! logged; an invalid edit is rejected (file:line) and the running config stays.

use crate::config::Config;
use crate::shutdown::Shutdown;
use crate::supervise::Supervisor;
use notify::{RecursiveMode, Watcher};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// Starts watching `path` until shutdown.
pub fn spawn(path: PathBuf, sup: Arc<Supervisor>, shutdown: Shutdown) {
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let file_name = path.file_name().map(|f| f.to_os_string());
    let mut watcher = match notify::recommended_watcher(move |res: notify::Result<notify::Event>| {
        if let Ok(ev) = res {
            if ev.paths.iter().any(|p| p.file_name().map(|f| f.to_os_string()) == file_name) {
                let _ = tx.send(());
            }
        }
    }) {
        Ok(w) => w,
        Err(e) => {
            tracing::warn!("cannot watch {}: {e}; config edits need a slotd restart", path.display());
            return;
        }
    };
    // Watch the directory: editors replace the file rather than write into it.
    let dir = path
        .parent()
        .map(|p| if p.as_os_str().is_empty() { PathBuf::from(".") } else { p.to_path_buf() })
        .unwrap_or_else(|| PathBuf::from("."));
    if let Err(e) = watcher.watch(&dir, RecursiveMode::NonRecursive) {
        tracing::warn!("cannot watch {}: {e}; config edits need a slotd restart", dir.display());
        return;
    }
    tokio::spawn(async move {
        let _keep = watcher;
        loop {
            tokio::select! {
                _ = shutdown.wait() => return,
                got = rx.recv() => if got.is_none() { return },
            }
            // Let the editor finish writing, and coalesce the burst of events.
            tokio::time::sleep(Duration::from_millis(200)).await;
            while rx.try_recv().is_ok() {}
            reload(&path, &sup);
        }
    });
}

/// Restart settings apply at once; node settings are written to the node
/// confs and apply when a node restarts; layout changes need a slotd restart.
pub fn reload(path: &std::path::Path, sup: &Supervisor) {
    let old = sup.config();
    let mut new = match Config::load(path) {
        Ok(c) => c,
        Err(e) => {
            tracing::error!("config edit rejected, the running config stays:\n{e}");
            return;
        }
    };
    // The same machine as before: its [[hosts]] entry keeps its name.
    if let Err(e) = new.select_host(old.local_host.as_deref()) {
        tracing::error!("config edit rejected, the running config stays: {e}");
        return;
    }
    let changes = old.diff(&new);
    if changes.is_empty() {
        return;
    }
    for c in &changes {
        tracing::info!("config changed: {c}");
    }
    let same_layout = old.supervisor == new.supervisor
        && old.engine == new.engine
        && old.nodes.iter().map(|n| (n.host, n.port)).eq(new.nodes.iter().map(|n| (n.host, n.port)));
    if same_layout {
        if let Err(e) = crate::confgen::write_all(&new) {
            tracing::error!("cannot rewrite node confs: {e}");
            return;
        }
        sup.update_config(new);
        tracing::info!(
            "restart settings apply now; node settings are in the node confs and apply when a node restarts (`slotctl restart NODE`)"
        );
    } else {
        let mut merged = old.clone();
        merged.restart = new.restart.clone();
        sup.update_config(merged);
        tracing::warn!("supervisor/engine/node list changes apply only after restarting slotd (`slotctl shutdown`, then start slotd); restart settings apply now");
    }
}
