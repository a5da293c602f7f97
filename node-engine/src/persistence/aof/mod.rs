//! The append-only file in Redis 7's multi-part layout: `<dir>/<appenddirname>/`
//! holds a manifest naming one base file (an RDB, `appendonly.aof.N.base.rdb`)
//! and the incremental files (`appendonly.aof.N.incr.aof`, RESP commands)
//! written since. Executed writes arrive through `Node::flush_propagated` at the
//! end of each batch and are written at once; `appendfsync always` replies wait
//! for an fsync shared by every client of that moment (group commit).

use super::{fork_child, io_err, rdb, ChildKind, PersistError};
use super::{Loader, Parts};
use crate::keyspace::Db;
use crate::resp::{parse_request, ParseLimits, Parsed};
use crate::util::time::unix_ms;
use std::cell::Cell;
use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Instant;

mod commands;
mod load;
mod manifest;
mod rewrite;
mod writer;

use load::create_fresh;
pub use load::{load_or_create, reload};
pub use manifest::{Manifest, ManifestFile};
pub use rewrite::{abandon_initial, collect_history, finish_rewrite, maybe_auto_rewrite, start_rewrite};
pub use writer::{cron, feed_aof, flush_and_sync, write_out};
use writer::{file_size, flush, open_append};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FsyncPolicy {
    Always,
    EverySec,
    No,
}

impl FsyncPolicy {
    fn from_config(cfg: &crate::config::NodeConfig) -> Self {
        match cfg.get("appendfsync") {
            Some("always") => FsyncPolicy::Always,
            Some("no") => FsyncPolicy::No,
            _ => FsyncPolicy::EverySec,
        }
    }
}

/// Write/fsync progress of the current incr file.
#[derive(Debug)]
pub struct SyncState {
    pub file: std::cell::RefCell<Arc<File>>,
    /// Bytes written to incr files so far (logical, across rotations).
    pub written: Cell<u64>,
    /// Bytes known to be on disk.
    pub synced: Cell<u64>,
    pub fsync_failed: Cell<bool>,
}

/// The live AOF of a node.
#[derive(Debug)]
pub struct AofState {
    pub dir: PathBuf,
    prefix: String,
    pub manifest: Manifest,
    pub sync: Rc<SyncState>,
    /// RESP not yet written (filled by `feed_aof`, written by `flush`).
    buf: Vec<u8>,
    write_ok: bool,
    /// Size of base + incr files right after the last rewrite (or load).
    base_size: u64,
    /// Size of base + incr files now.
    current_size: u64,
    everysec_busy: Arc<AtomicBool>,
    everysec_failed: Arc<AtomicBool>,
    last_everysec: Instant,
    /// appendfsync, refreshed from the config by cron (so CONFIG SET applies).
    pub policy: FsyncPolicy,
    /// While the first base is written (Redis's AOF_WAIT_REWRITE): the temp
    /// incr file taking the writes meanwhile and the sequence number it will
    /// take; the manifest names nothing yet.
    pub initial: Option<(PathBuf, u64)>,
    /// The unix second of the last `#TS:` annotation written.
    pub last_timestamp: u64,
    /// DEBUG AOF-FLUSH-SLEEP: microseconds each write waits first (tests).
    pub flush_sleep_us: u64,
}

impl AofState {
    /// When something is buffered or not yet synced as the policy wants: the
    /// file offset that ends everything fed so far.
    pub fn pending_end(&self) -> Option<u64> {
        let pending = !self.buf.is_empty() || (self.policy == FsyncPolicy::Always && self.sync.synced.get() < self.sync.written.get());
        pending.then(|| self.sync.written.get() + self.buf.len() as u64)
    }
    pub fn write_ok(&self) -> bool {
        self.write_ok && !self.sync.fsync_failed.get() && !self.everysec_failed.load(Ordering::Relaxed)
    }
    /// Commands waiting to be written (counted apart from the dataset by eviction).
    pub fn buffered_len(&self) -> usize {
        self.buf.len()
    }
    pub fn current_size(&self) -> u64 {
        self.current_size
    }
    pub fn base_size(&self) -> u64 {
        self.base_size
    }
    fn path(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }
    fn write_manifest(&self) -> Result<(), PersistError> {
        let p = self.path(&format!("{}.manifest", self.prefix));
        crate::util::fs::write_atomic(&p, self.manifest.render().as_bytes()).map_err(|e| io_err(&p, e))
    }
}

pub(super) fn aof_dir(node: &Parts<'_>) -> PathBuf {
    node.config.dir().join(node.config.get("appenddirname").unwrap_or("appendonlydir"))
}

pub(super) fn prefix(node: &Parts<'_>) -> String {
    node.config.get("appendfilename").unwrap_or("appendonly.aof").to_string()
}

/// Applies `CONFIG SET appendonly` (checked from cron): turning it on writes a
/// base of the current data (in the node thread) and starts logging; turning
/// it off flushes, fsyncs and stops logging, keeping the files.
impl super::Persistence {
    /// Whether the AOF was just turned on and its first base is still being
    /// written: exiting now would lose the data (Redis refuses to shut down).
    pub fn initial_aof_rewrite(&self) -> bool {
        self.aof.as_ref().is_some_and(|a| a.initial.is_some()) && self.child.is_some()
    }
}

pub fn apply_config_switch(node: &mut Parts<'_>) {
    let want = node.config.flag_named("appendonly");
    let have = node.persistence.aof.is_some();
    if want && !have && node.persistence.child.is_some() {
        // Another child runs: the first rewrite waits for it (INFO shows it scheduled).
        node.persistence.aof_rewrite_scheduled = true;
    } else if want && !have {
        let (dir, prefix) = (aof_dir(node), prefix(node));
        if let Err(e) = rewrite::start_initial(node, dir, prefix) {
            tracing::warn!("cannot enable the AOF: {e}");
        }
    } else if !want && have {
        if let Some(pid) = node.persistence.child.as_ref().filter(|c| matches!(c.kind, ChildKind::AofRewrite { .. })).map(|c| c.pid) {
            tracing::info!("Killing running AOF rewrite child: {pid}");
            super::kill_child(node);
        }
        flush_and_sync(node);
        if let Some((temp, _)) = node.persistence.aof.take().and_then(|a| a.initial) {
            let _ = std::fs::remove_file(temp);
        }
        node.persistence.aof_rewrite_scheduled = false;
        node.propagation.consumers = node.propagation.consumers.saturating_sub(1);
        tracing::info!("AOF disabled");
    }
}
