//! The dump file loaded at start-up while the node already serves: clients
//! connect and get LOADING (INFO, PING, SHUTDOWN and the other commands
//! Redis allows while loading are answered), and the file is decoded a
//! bounded amount at a time (`loading-process-events-interval-bytes`,
//! `key-load-delay`), as redis-server handles events while it loads. With
//! `appendonly yes` the AOF is replayed before the node serves.

use super::replication::FunctionLoad;
use super::sync_load::load_piece;
use super::{Node, SharedRef};
use crate::persistence::rdb::incremental::{Progress, StreamLoad};
use crate::persistence::PersistError;
use std::time::Instant;

/// Whether start-up loads a dump file this way: RDB persistence, and a file there.
pub fn wanted(node: &Node) -> bool {
    !node.config.flag_named("appendonly") && crate::persistence::rdb_path(&node.config).is_file()
}

/// Marks the node loading before it serves anything: a shutdown that comes
/// before the load's first step must not save the empty dataset.
pub fn begin(node: &mut Node) {
    node.set_loading(true, false, 0);
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
    shared.node.borrow_mut().set_loading(true, false, data.len() as u64);
    let mut load = StreamLoad::new(limits);
    load.push(&data);
    drop(data);
    loop {
        let progress = load_piece(&mut shared.node.borrow_mut(), &mut load, None, true, true);
        match progress {
            Ok(Progress::Done) => break,
            Ok(_) => tokio::task::yield_now().await,
            Err(source) => {
                let mut node = shared.node.borrow_mut();
                node.set_loading(false, false, 0);
                let shown = path.display().to_string();
                crate::persistence::report_bad_rdb(&shown, &source, node.keyspace.dbs.len(), limits);
                return Err(PersistError::Rdb { path: shown, source }.to_string());
            }
        }
    }
    let mut node = shared.node.borrow_mut();
    crate::persistence::finish_rdb_load(&mut node.persistence_parts(), load.into_stats());
    let installed = node.install_loaded_functions(FunctionLoad::Replace);
    node.set_loading(false, false, 0);
    node.keyspace.dirty = 0;
    installed?;
    let keys: usize = node.keyspace.dbs.iter().map(crate::keyspace::Db::len).sum();
    tracing::info!(keys, "DB loaded from disk: {:.3} seconds", started.elapsed().as_secs_f64());
    Ok(())
}
