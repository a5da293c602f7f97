//! The append-only file in Redis 7's multi-part layout: `<dir>/<appenddirname>/`
//! holds a manifest naming one base file (an RDB, `appendonly.aof.N.base.rdb`)
//! and the incremental files (`appendonly.aof.N.incr.aof`, RESP commands)
//! written since. Executed writes arrive through `Node::flush_propagated` at the
//! end of each batch and are written at once; `appendfsync always` replies wait
//! for an fsync shared by every client of that moment (group commit).

use super::{fork_child, io_err, rdb, Child, ChildKind, PersistError};
use crate::keyspace::Db;
use crate::node::{unix_ms, Node};
use crate::resp::{parse_request, ParseLimits, Parsed};
use std::cell::Cell;
use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Instant;

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

/// One file named in the manifest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ManifestFile {
    pub name: String,
    pub seq: u64,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Manifest {
    pub base: Option<ManifestFile>,
    pub incrs: Vec<ManifestFile>,
}

impl Manifest {
    /// Parses Redis 7's manifest: `file <name> seq <n> type <b|i|h>` lines.
    pub fn parse(text: &str) -> Result<Manifest, String> {
        let mut m = Manifest::default();
        for (i, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let parts = crate::config::split_args(line).ok_or_else(|| format!("invalid manifest line {}", i + 1))?;
            let (mut name, mut seq, mut ty) = (None, None, None);
            for kv in parts.chunks(2) {
                if kv.len() != 2 {
                    return Err(format!("invalid manifest line {}", i + 1));
                }
                match kv[0].as_str() {
                    "file" => name = Some(kv[1].clone()),
                    "seq" => seq = kv[1].parse::<u64>().ok(),
                    "type" => ty = Some(kv[1].clone()),
                    _ => {}
                }
            }
            let (Some(name), Some(seq), Some(ty)) = (name, seq, ty) else {
                return Err(format!("invalid manifest line {}", i + 1));
            };
            if name.contains('/') {
                return Err(format!("invalid file name in manifest line {}", i + 1));
            }
            let f = ManifestFile { name, seq };
            match ty.as_str() {
                "b" => {
                    if m.base.is_some() {
                        return Err("manifest names two base files".into());
                    }
                    m.base = Some(f)
                }
                "i" => m.incrs.push(f),
                "h" => {}
                _ => return Err(format!("invalid file type in manifest line {}", i + 1)),
            }
        }
        Ok(m)
    }

    pub fn render(&self) -> String {
        let mut s = String::new();
        if let Some(b) = &self.base {
            s.push_str(&format!("file {} seq {} type b\n", b.name, b.seq));
        }
        for f in &self.incrs {
            s.push_str(&format!("file {} seq {} type i\n", f.name, f.seq));
        }
        s
    }
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
}

impl AofState {
    fn has_pending(&self) -> bool {
        !self.buf.is_empty() || (self.policy == FsyncPolicy::Always && self.sync.synced.get() < self.sync.written.get())
    }
    pub fn write_ok(&self) -> bool {
        self.write_ok && !self.sync.fsync_failed.get() && !self.everysec_failed.load(Ordering::Relaxed)
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

fn aof_dir(node: &Node) -> PathBuf {
    node.config.dir().join(node.config.get("appenddirname").unwrap_or("appendonlydir"))
}

fn prefix(node: &Node) -> String {
    node.config.get("appendfilename").unwrap_or("appendonly.aof").to_string()
}

/// Records executed write commands in the AOF buffer; `wait_durable` (end of a
/// client's batch) or cron writes it out.
pub fn feed_aof(node: &mut Node, stream: &[u8]) {
    let Some(aof) = node.persistence.aof.as_mut() else {
        return;
    };
    aof.buf.extend_from_slice(stream);
}

/// Writes the buffered commands to the current incr file (in the node thread,
/// like Redis's write in beforeSleep: a page-cache write, no fsync).
fn flush(aof: &mut AofState) {
    if aof.buf.is_empty() {
        return;
    }
    let f = aof.sync.file.borrow().clone();
    match (&*f).write_all(&aof.buf) {
        Ok(()) => {
            let n = aof.buf.len() as u64;
            aof.sync.written.set(aof.sync.written.get() + n);
            aof.current_size += n;
            aof.buf.clear();
            if !aof.write_ok {
                tracing::info!("AOF write error looks solved, can write again");
            }
            aof.write_ok = true;
        }
        Err(e) => {
            // Keep the data and retry at the next flush, as Redis does.
            if aof.write_ok {
                tracing::warn!("error writing to the AOF file: {e}");
            }
            aof.write_ok = false;
        }
    }
}

/// Called by a connection after its batch, before it replies: lets the other
/// clients ready right now run their batches too, then writes the AOF buffer
/// once for all of them (and fsyncs it under `appendfsync always`), as Redis
/// does once per event-loop iteration. A reply therefore never precedes the
/// write of the command it acknowledges.
pub async fn wait_durable(shared: &crate::node::Shared) {
    // Everything fed so far, this client's commands included, ends at `target`.
    let target = {
        let node = shared.node.borrow();
        match node.persistence.aof.as_ref() {
            Some(a) if a.has_pending() => a.sync.written.get() + a.buf.len() as u64,
            _ => return,
        }
    };
    tokio::task::yield_now().await;
    let mut node = shared.node.borrow_mut();
    if let Some(aof) = node.persistence.aof.as_mut() {
        // Another client of this round may already have written (and synced) our part.
        let done = aof.sync.written.get() >= target && (aof.policy != FsyncPolicy::Always || aof.sync.synced.get() >= target);
        if !done {
            write_out(aof);
        }
    }
}

/// Writes the buffer and, under `always`, fsyncs: used where no reply waits (blocked clients woken up).
pub fn write_now(node: &mut Node) {
    node.flush_propagated();
    if let Some(aof) = node.persistence.aof.as_mut() {
        write_out(aof);
    }
}

fn write_out(aof: &mut AofState) {
    flush(aof);
    if aof.policy == FsyncPolicy::Always && aof.sync.synced.get() < aof.sync.written.get() {
        let f = aof.sync.file.borrow().clone();
        if let Err(e) = f.sync_data() {
            if !aof.sync.fsync_failed.get() {
                tracing::error!("fsync of the AOF failed with appendfsync always: {e}");
            }
            aof.sync.fsync_failed.set(true);
        } else {
            aof.sync.fsync_failed.set(false);
            aof.sync.synced.set(aof.sync.written.get());
        }
    }
}

/// Writes what is buffered and fsyncs (shutdown, rotation).
pub fn flush_and_sync(node: &mut Node) {
    if let Some(aof) = node.persistence.aof.as_mut() {
        flush(aof);
        let f = aof.sync.file.borrow().clone();
        if f.sync_data().is_ok() {
            aof.sync.synced.set(aof.sync.written.get());
        }
    }
}

/// Per tick: retry failed writes, fsync once a second under everysec.
pub fn cron(node: &mut Node) {
    let policy = FsyncPolicy::from_config(&node.config);
    let Some(aof) = node.persistence.aof.as_mut() else {
        return;
    };
    aof.policy = policy;
    write_out(aof);
    if policy == FsyncPolicy::EverySec
        && aof.sync.synced.get() < aof.sync.written.get()
        && aof.last_everysec.elapsed().as_millis() >= 1000
        && !aof.everysec_busy.load(Ordering::Acquire)
    {
        aof.last_everysec = Instant::now();
        aof.everysec_busy.store(true, Ordering::Release);
        let f = aof.sync.file.borrow().clone();
        let busy = aof.everysec_busy.clone();
        let failed = aof.everysec_failed.clone();
        // Synced is advanced optimistically: a failure shows in aof_last_write_status.
        aof.sync.synced.set(aof.sync.written.get());
        std::thread::spawn(move || {
            let ok = f.sync_data().is_ok();
            failed.store(!ok, Ordering::Relaxed);
            busy.store(false, Ordering::Release);
        });
    }
}

fn open_append(path: &Path) -> Result<File, PersistError> {
    std::fs::OpenOptions::new().create(true).append(true).open(path).map_err(|e| io_err(path, e))
}

fn file_size(p: &Path) -> u64 {
    std::fs::metadata(p).map(|m| m.len()).unwrap_or(0)
}

/// Start-up with appendonly on: load the AOF named by the manifest, or, when
/// there is none yet, the RDB (if any) and then create the AOF from it.
pub fn load_or_create(node: &mut Node, apply: &mut super::ApplyFn<'_>) -> Result<(), PersistError> {
    let dir = aof_dir(node);
    let prefix = prefix(node);
    let manifest_path = dir.join(format!("{prefix}.manifest"));
    let manifest = match std::fs::read_to_string(&manifest_path) {
        Ok(t) => Some(Manifest::parse(&t).map_err(|e| PersistError::Aof(format!("{}: {e}", manifest_path.display())))?),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => return Err(io_err(&manifest_path, e)),
    };
    match manifest {
        Some(m) if m.base.is_some() || !m.incrs.is_empty() => {
            load_files(node, &dir, &m, apply)?;
            let size = m.base.iter().chain(m.incrs.iter()).map(|f| file_size(&dir.join(&f.name))).sum();
            let mut m = m;
            if m.incrs.is_empty() {
                let seq = m.base.as_ref().map_or(1, |b| b.seq);
                m.incrs.push(ManifestFile { name: format!("{prefix}.{seq}.incr.aof"), seq });
            }
            let last = m.incrs.last().map(|f| f.name.clone()).unwrap_or_default();
            let file = open_append(&dir.join(&last))?;
            install(node, dir, prefix, m, file, size)?;
        }
        _ => {
            // No AOF yet: keep what the RDB holds (Redis 7.0 would start empty here).
            super::load_rdb_file(node)?;
            create_fresh(node, dir, prefix)?;
        }
    }
    Ok(())
}

fn install(node: &mut Node, dir: PathBuf, prefix: String, manifest: Manifest, file: File, size: u64) -> Result<(), PersistError> {
    let aof = AofState {
        dir,
        prefix,
        manifest,
        sync: Rc::new(SyncState {
            file: std::cell::RefCell::new(Arc::new(file)),
            written: Cell::new(0),
            synced: Cell::new(0),
            fsync_failed: Cell::new(false),
        }),
        buf: Vec::new(),
        write_ok: true,
        base_size: size,
        current_size: size,
        everysec_busy: Arc::new(AtomicBool::new(false)),
        everysec_failed: Arc::new(AtomicBool::new(false)),
        last_everysec: Instant::now(),
        policy: FsyncPolicy::from_config(&node.config),
    };
    aof.write_manifest()?;
    node.persistence.aof = Some(aof);
    // The first command in the new file must SELECT its db.
    node.propagated_db = None;
    node.propagation_consumers += 1;
    Ok(())
}

/// Creates the AOF with a base of the current data and an empty incr file,
/// numbered after any files an older manifest names (which are then removed).
fn create_fresh(node: &mut Node, dir: PathBuf, prefix: String) -> Result<(), PersistError> {
    std::fs::create_dir_all(&dir).map_err(|e| io_err(&dir, e))?;
    let manifest_path = dir.join(format!("{prefix}.manifest"));
    let old = std::fs::read_to_string(&manifest_path).ok().and_then(|t| Manifest::parse(&t).ok()).unwrap_or_default();
    let seq = old.base.iter().chain(old.incrs.iter()).map(|f| f.seq).max().unwrap_or(0) + 1;
    let base = ManifestFile { name: format!("{prefix}.{seq}.base.rdb"), seq };
    let incr = ManifestFile { name: format!("{prefix}.{seq}.incr.aof"), seq };
    let opts = rdb::EncodeOptions::from_config(&node.config);
    let base_path = dir.join(&base.name);
    let size = super::write_rdb_file(&node.dbs, &base_path, opts, true, None)?;
    let incr_path = dir.join(&incr.name);
    // Start the incr file empty, then append to it.
    std::fs::File::create(&incr_path).map_err(|e| io_err(&incr_path, e))?;
    let file = open_append(&incr_path)?;
    install(node, dir.clone(), prefix, Manifest { base: Some(base), incrs: vec![incr] }, file, size)?;
    for f in old.base.iter().chain(old.incrs.iter()) {
        let _ = std::fs::remove_file(dir.join(&f.name));
    }
    Ok(())
}

/// Applies `CONFIG SET appendonly` (checked from cron): turning it on writes a
/// base of the current data (in the node thread) and starts logging; turning
/// it off flushes, fsyncs and stops logging, keeping the files.
pub fn apply_config_switch(node: &mut Node) {
    let want = node.config.flag_named("appendonly");
    let have = node.persistence.aof.is_some();
    if want && !have && node.persistence.child.is_none() {
        let (dir, prefix) = (aof_dir(node), prefix(node));
        match create_fresh(node, dir, prefix) {
            Ok(()) => tracing::info!("AOF enabled: base written, logging writes"),
            Err(e) => tracing::warn!("cannot enable the AOF: {e}"),
        }
    } else if !want && have {
        if matches!(node.persistence.child.as_ref().map(|c| &c.kind), Some(ChildKind::AofRewrite { .. })) {
            super::kill_child(node);
        }
        flush_and_sync(node);
        node.persistence.aof = None;
        node.persistence.aof_rewrite_scheduled = false;
        node.propagation_consumers = node.propagation_consumers.saturating_sub(1);
        tracing::info!("AOF disabled");
    }
}

/// Loads base then incr files, in manifest order.
fn load_files(node: &mut Node, dir: &Path, m: &Manifest, apply: &mut super::ApplyFn<'_>) -> Result<(), PersistError> {
    node.now_ms = unix_ms();
    let truncated_ok = node.config.flag_named("aof-load-truncated");
    let files: Vec<(&ManifestFile, bool)> = m.base.iter().map(|b| (b, true)).chain(m.incrs.iter().map(|f| (f, false))).collect();
    let n = files.len();
    for (i, (f, is_base)) in files.into_iter().enumerate() {
        let path = dir.join(&f.name);
        let data = match std::fs::read(&path) {
            Ok(d) => d,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && !is_base && i + 1 == n => continue,
            Err(e) => return Err(io_err(&path, e)),
        };
        let mut start = 0;
        if data.starts_with(b"REDIS") {
            let now = node.now_ms;
            let (_, end) = rdb::load_into(&data, &mut node.dbs, now, true)
                .map_err(|source| PersistError::Rdb { path: path.display().to_string(), source })?;
            start = end;
        }
        let last = i + 1 == n;
        match replay(node, apply, &data, start) {
            Ok(()) => {}
            Err(Replay::Truncated(at)) if last && truncated_ok => {
                tracing::warn!(file = %path.display(), offset = at, "!!! Warning: short read while loading the AOF file !!! AOF loaded anyway because aof-load-truncated is enabled; truncating the file");
                let fh = std::fs::OpenOptions::new().write(true).open(&path).map_err(|e| io_err(&path, e))?;
                fh.set_len(at as u64).map_err(|e| io_err(&path, e))?;
                let _ = fh.sync_all();
            }
            Err(Replay::Truncated(at)) => {
                return Err(PersistError::Aof(format!(
                    "Unexpected end of file reading the append only file {} at offset {at}. You can: 1) make a backup; 2) set aof-load-truncated yes or run redis-check-aof --fix",
                    path.display()
                )))
            }
            Err(Replay::Bad(at, why)) => {
                return Err(PersistError::Aof(format!("Bad file format reading the append only file {} at offset {at}: {why}", path.display())))
            }
        }
    }
    Ok(())
}

enum Replay {
    Truncated(usize),
    Bad(usize, String),
}

/// Executes the RESP commands of one AOF file from `pos`.
fn replay(node: &mut Node, apply: &mut super::ApplyFn<'_>, data: &[u8], mut pos: usize) -> Result<(), Replay> {
    let limits = ParseLimits::default();
    let mut ranges = Vec::new();
    let mut argv: Vec<&[u8]> = Vec::new();
    // Start of an open MULTI: a torn transaction is dropped whole, as Redis does.
    let mut multi_at: Option<usize> = None;
    let mut queued: Vec<Vec<Vec<u8>>> = Vec::new();
    while pos < data.len() {
        if data[pos] != b'*' {
            return Err(Replay::Bad(pos, "expected '*'".into()));
        }
        let n = match parse_request(&data[pos..], &mut ranges, &limits) {
            Ok(Parsed::Complete(n)) => n,
            Ok(Parsed::Incomplete) => return Err(Replay::Truncated(multi_at.unwrap_or(pos))),
            Err(e) => return Err(Replay::Bad(pos, e.to_string())),
        };
        argv.clear();
        argv.extend(ranges.iter().map(|r| &data[pos + r.start..pos + r.end]));
        let at = pos;
        pos += n;
        if argv.is_empty() {
            continue;
        }
        let name = argv[0];
        if name.eq_ignore_ascii_case(b"multi") {
            multi_at = Some(at);
            continue;
        }
        if name.eq_ignore_ascii_case(b"exec") {
            multi_at = None;
            for q in std::mem::take(&mut queued) {
                let refs: Vec<&[u8]> = q.iter().map(Vec::as_slice).collect();
                apply(node, &refs).map_err(|why| Replay::Bad(at, why))?;
            }
            continue;
        }
        if multi_at.is_some() {
            queued.push(argv.iter().map(|a| a.to_vec()).collect());
            continue;
        }
        apply(node, &argv).map_err(|why| Replay::Bad(at, why))?;
    }
    if let Some(at) = multi_at {
        return Err(Replay::Truncated(at));
    }
    Ok(())
}

/// BGREWRITEAOF: switch to a new incr file now, then write a new base in a
/// forked child; `finish_rewrite` swaps the manifest when the child is done.
pub fn start_rewrite(node: &mut Node) -> Result<(), PersistError> {
    if node.persistence.child.is_some() {
        node.persistence.aof_rewrite_scheduled = true;
        return Ok(());
    }
    let Some(aof) = node.persistence.aof.as_mut() else {
        return Err(PersistError::Aof("AOF is not enabled".into()));
    };
    flush(aof);
    {
        let f = aof.sync.file.borrow().clone();
        f.sync_data().map_err(|e| PersistError::Aof(format!("cannot fsync the AOF: {e}")))?;
        aof.sync.synced.set(aof.sync.written.get());
    }
    let next_seq = aof.manifest.incrs.last().map_or(1, |f| f.seq + 1);
    let name = format!("{}.{next_seq}.incr.aof", aof.prefix);
    let file = open_append(&aof.path(&name))?;
    aof.manifest.incrs.push(ManifestFile { name, seq: next_seq });
    let keep_from = aof.manifest.incrs.len() - 1;
    aof.write_manifest()?;
    *aof.sync.file.borrow_mut() = Arc::new(file);
    // The new incr file must start with a SELECT.
    node.propagated_db = None;
    let base_seq = aof.manifest.base.as_ref().map_or(1, |b| b.seq + 1);
    let dir = aof.dir.clone();
    let opts = rdb::EncodeOptions::from_config(&node.config);
    let dbs: &[Db] = &node.dbs;
    let pid_temp = |pid: u32| dir.join(format!("temp-rewriteaof-bg-{pid}.aof"));
    let child = fork_child(
        || {
            let temp = pid_temp(std::process::id());
            let target = temp.with_extension("done");
            super::write_rdb_file(dbs, &target, opts, true, Some(&temp)).is_ok()
        },
        &mut node.persistence.latest_fork_usec,
    );
    match child {
        Some(pid) => {
            tracing::info!(pid, "background append only file rewriting started");
            node.persistence.child = Some(Child {
                pid,
                kind: ChildKind::AofRewrite { seq: base_seq, keep_from },
                started: Instant::now(),
                temp: pid_temp(pid as u32).with_extension("done"),
                dirty_at_start: node.dirty,
            });
            Ok(())
        }
        None => {
            let temp = dir.join("temp-rewriteaof-fg.aof");
            let opts = rdb::EncodeOptions::from_config(&node.config);
            super::write_rdb_file(&node.dbs, &temp, opts, true, Some(&dir.join("temp-rewriteaof-fg.tmp")))?;
            finish_rewrite(node, &temp, base_seq, keep_from)
        }
    }
}

/// Installs a finished base: rename it, point the manifest at it and the
/// incr files written since, delete the files it replaces.
pub fn finish_rewrite(node: &mut Node, temp: &Path, seq: u64, keep_from: usize) -> Result<(), PersistError> {
    let Some(aof) = node.persistence.aof.as_mut() else {
        let _ = std::fs::remove_file(temp);
        return Ok(());
    };
    let name = format!("{}.{seq}.base.rdb", aof.prefix);
    let path = aof.path(&name);
    std::fs::rename(temp, &path).map_err(|e| io_err(&path, e))?;
    let old_base = aof.manifest.base.replace(ManifestFile { name, seq });
    let keep_from = keep_from.min(aof.manifest.incrs.len());
    let old_incrs: Vec<ManifestFile> = aof.manifest.incrs.drain(..keep_from).collect();
    aof.write_manifest()?;
    for f in old_base.iter().chain(old_incrs.iter()) {
        let _ = std::fs::remove_file(aof.path(&f.name));
    }
    let size = aof.manifest.base.iter().chain(aof.manifest.incrs.iter()).map(|f| file_size(&aof.path(&f.name))).sum();
    aof.base_size = size;
    aof.current_size = size;
    Ok(())
}

/// auto-aof-rewrite-percentage / auto-aof-rewrite-min-size.
pub fn maybe_auto_rewrite(node: &mut Node) {
    let Some(aof) = node.persistence.aof.as_ref() else {
        return;
    };
    let perc = node.config.int_named("auto-aof-rewrite-percentage", 100);
    let min = node.config.int_named("auto-aof-rewrite-min-size", 64 << 20).max(0) as u64;
    if perc <= 0 || aof.current_size < min {
        return;
    }
    let base = aof.base_size.max(1);
    let growth = (aof.current_size.saturating_sub(base)) * 100 / base;
    if growth >= perc as u64 {
        tracing::info!(growth, "starting automatic rewriting of AOF");
        if let Err(e) = start_rewrite(node) {
            tracing::warn!("cannot start AOF rewrite: {e}");
        }
    }
}
