//! The dump file loaded at start-up while the node already serves: clients
//! connect and get LOADING (INFO, PING, SHUTDOWN and the other commands
//! Redis allows while loading are answered), and the file is decoded a
//! bounded amount at a time (`loading-process-events-interval-bytes`,
//! `key-load-delay`), as redis-server handles events while it loads. With
//! `appendonly yes` the AOF is replayed before the node serves.

use super::replication::FunctionLoad;
use super::sync_load::debug_delay;
use super::{Node, SharedRef};
use crate::persistence::rdb::incremental::{Progress, StreamLoad};
use crate::persistence::{LoadProgress, PersistError};
use crate::util::time::unix_ms;
use std::time::Instant;

/// Whether start-up loads a dump file this way: RDB persistence, and a file there.
pub fn wanted(node: &Node) -> bool {
    !node.config.flag_named("appendonly") && crate::persistence::rdb_path(&node.config).is_file()
}

/// Marks the node loading before it serves anything: a shutdown that comes
/// before the load's first step must not save the empty dataset.
pub fn begin(node: &mut Node) {
    node.persistence.loading = true;
    crate::keyspace::growth::set_limit(0);
}

/// Loads the dump file, yielding to the node's other tasks between pieces.
/// A damaged file is reported as Redis reports it and ends the start-up.
///
/// # Errors
/// The file cannot be read, does not decode, or holds functions that do not compile.
pub async fn run(shared: &SharedRef) -> Result<(), String> {
    let started = Instant::now();
    let (path, limits) = {
        let node = shared.node.borrow();
        (crate::persistence::rdb_path(&node.config), node.keyspace.dbs.first().map(|d| d.limits).unwrap_or_default())
    };
    let data = std::fs::read(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    set_loading(shared, Some(data.len() as u64));
    let mut load = StreamLoad::new(limits);
    load.push(&data);
    drop(data);
    loop {
        let progress = {
            let mut node = shared.node.borrow_mut();
            let budget = node.config.int_named("loading-process-events-interval-bytes", 2 << 20).max(1024) as usize;
            let delay = node.config.int_named("key-load-delay", 0);
            let now = unix_ms();
            node.now_ms = now;
            let r = load.step(&mut node.keyspace.dbs, now, true, budget, true, &mut || debug_delay(delay));
            if let Some(p) = node.persistence.load_progress.as_mut() {
                p.loaded_bytes = load.loaded_bytes() as u64;
            }
            r
        };
        match progress {
            Ok(Progress::Done) => break,
            Ok(_) => tokio::task::yield_now().await,
            Err(source) => {
                set_loading(shared, None);
                let node = shared.node.borrow();
                let shown = path.display().to_string();
                crate::persistence::report_bad_rdb(&shown, &source, node.keyspace.dbs.len(), limits);
                return Err(PersistError::Rdb { path: shown, source }.to_string());
            }
        }
    }
    let mut node = shared.node.borrow_mut();
    crate::persistence::finish_rdb_load(&mut node.persistence_parts(), load.into_stats());
    let installed = node.install_loaded_functions(FunctionLoad::Replace);
    node.persistence.loading = false;
    node.persistence.load_progress = None;
    node.keyspace.dirty = 0;
    crate::keyspace::growth::set_limit(node.keyspace.maxmemory);
    installed?;
    let keys: usize = node.keyspace.dbs.iter().map(crate::keyspace::Db::len).sum();
    tracing::info!(keys, "DB loaded from disk: {:.3} seconds", started.elapsed().as_secs_f64());
    Ok(())
}

fn set_loading(shared: &SharedRef, total: Option<u64>) {
    let mut node = shared.node.borrow_mut();
    node.persistence.loading = total.is_some();
    // Nothing is evicted during a load: tables grow freely (keyspace::growth).
    crate::keyspace::growth::set_limit(if total.is_some() { 0 } else { node.keyspace.maxmemory });
    node.persistence.async_loading = false;
    node.persistence.load_progress =
        total.map(|total_bytes| LoadProgress { start_unix: unix_ms() / 1000, started: Instant::now(), total_bytes, loaded_bytes: 0 });
}
