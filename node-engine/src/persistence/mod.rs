//! Persistence: RDB snapshots (SAVE, BGSAVE, save points), the multi-part
//! append-only file, DUMP/RESTORE payloads, and the start-up load.
//!
//! The node thread owns the keyspace, so a background save forks, as Redis
//! does: the child sees a copy-on-write snapshot, writes `temp-<pid>.rdb`,
//! fsyncs and renames it over the target, then `_exit`s; the node thread
//! polls `waitpid` from cron. Without fork we fall back to saving in place.

pub mod aof;
pub mod child_info;
pub mod crc64;
pub mod dump;
pub mod lzf;
pub mod rdb;

use crate::config::NodeConfig;
use crate::keyspace::{Db, Keyspace, Propagation};
use crate::util::time::unix_ms;
use std::io::Write;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::path::{Path, PathBuf};
use std::time::Instant;

/// The parts of a node persistence works on, borrowed together.
pub struct Parts<'a> {
    pub persistence: &'a mut Persistence,
    pub config: &'a NodeConfig,
    pub keyspace: &'a mut Keyspace,
    pub propagation: &'a mut Propagation,
    /// The node's cached clock (loading refreshes it).
    pub now_ms: &'a mut u64,
    /// The replication position a save records, if the node has one.
    pub repl_info: Option<rdb::ReplAux>,
}

/// What start-up loading needs of the node: its parts, and a way to apply
/// one command read from the AOF (given by the layer that executes
/// commands, so persistence never calls up into it).
pub trait Loader {
    fn parts(&mut self) -> Parts<'_>;
    /// Applies one command; the error is the reason to report.
    fn apply(&mut self, argv: &[&[u8]]) -> Result<(), String>;
    /// Compiles the function libraries a load left in `keyspace.loaded_functions`.
    fn install_functions(&mut self) -> Result<(), String>;
}

/// Why the node is stopping, as far as saving goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ShutdownKind {
    /// Save if save points are configured (SIGTERM, plain SHUTDOWN).
    Default,
    Save,
    NoSave,
    /// The final save already happened (SHUTDOWN did it before replying).
    Prepared,
}

/// A snapshot made for replicas' full sync, done or failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplSnapshot {
    pub path: PathBuf,
    pub ok: bool,
    /// It is the dump file (disk-based sync): sent, not deleted.
    pub keep: bool,
    /// The child streamed it through `repl_pipe` (diskless): there is no file.
    pub piped: bool,
}

/// A load in progress, as INFO reports it.
#[derive(Debug, Clone)]
pub struct LoadProgress {
    pub start_unix: u64,
    pub started: Instant,
    /// 0 when unknown (a streamed payload).
    pub total_bytes: u64,
    pub loaded_bytes: u64,
}

/// Why a save or load failed.
#[derive(Debug, thiserror::Error)]
pub enum PersistError {
    #[error("{path}: {source}")]
    Io { path: String, source: std::io::Error },
    #[error("Bad file format reading {path}: {source}")]
    Rdb { path: String, source: rdb::DecodeError },
    #[error("{0}")]
    Aof(String),
    #[error("Background save already in progress")]
    ChildBusy,
}

fn io_err(path: &Path, source: std::io::Error) -> PersistError {
    PersistError::Io { path: path.display().to_string(), source }
}

/// What the forked child is producing.
#[derive(Debug, PartialEq, Eq)]
pub enum ChildKind {
    Rdb,
    /// A snapshot for replicas' full sync, written to `temp` (never to the
    /// user's dump file), sent to them once done and then deleted.
    ReplSync,
    /// An AOF rewrite: the new base goes to `temp`, then becomes base `seq`;
    /// incr files from index `keep_from` on are kept.
    AofRewrite {
        seq: u64,
        keep_from: usize,
    },
}

#[derive(Debug)]
pub struct Child {
    pub pid: libc::pid_t,
    pub kind: ChildKind,
    pub started: Instant,
    pub temp: PathBuf,
    pub dirty_at_start: u64,
}

/// Persistence state kept in the node.
#[derive(Debug)]
pub struct Persistence {
    pub child: Option<Child>,
    /// DEBUG SET-SKIP-CHECKSUM-VALIDATION: RESTORE ignores payload CRCs.
    pub skip_checksum_validation: bool,
    pub last_bgsave_ok: bool,
    pub last_bgsave_secs: i64,
    pub last_bgsave_try_unix: u64,
    pub bgsave_scheduled: bool,
    pub aof_rewrite_scheduled: bool,
    pub last_rewrite_ok: bool,
    /// Rewrites done, and failed in a row; after 3 failures automatic
    /// rewrites wait 1, 2, 4 ... 60 minutes (Redis's aofRewriteLimited).
    pub rewrites: u64,
    pub rewrite_failures: u64,
    pub rewrite_delay_min: u64,
    pub rewrite_not_before: u64,
    pub last_rewrite_secs: i64,
    pub loading: bool,
    /// The load runs behind the old dataset, which clients keep using
    /// (a replica's `repl-diskless-load swapdb` from its own master's history).
    pub async_loading: bool,
    /// How far the current load is (INFO's loading_* fields).
    pub load_progress: Option<LoadProgress>,
    pub rdb_saves: u64,
    /// How long the last fork() took, in microseconds (Redis's latest_fork_usec).
    pub latest_fork_usec: u64,
    /// Forks done (RDB and AOF rewrite children).
    pub total_forks: u64,
    pub aof: Option<aof::AofState>,
    /// Unix seconds of the last successful save (LASTSAVE).
    pub last_save_unix: u64,
    /// The replication position the start-up RDB recorded, for the node to take up.
    pub loaded_repl: Option<rdb::ReplAux>,
    /// Keys the last RDB load dropped as expired, for a master to propagate their deletion.
    pub loaded_expired: Vec<(usize, Vec<u8>)>,
    /// Keys the last RDB load kept and dropped as expired (INFO's rdb_last_load_keys_*).
    pub last_load_keys: (u64, u64),
    /// `aof-timestamp-enabled`, cached: written AOF commands get `#TS:<unix s>` annotations.
    pub aof_timestamps: bool,
    /// A finished replication snapshot, for the replication side to send.
    pub repl_snapshot_done: Option<ReplSnapshot>,
    /// The running RDB child (a BGSAVE of the dump file) was started for
    /// replicas (`repl-diskless-sync no`): they get its file when it ends.
    pub rdb_for_replicas: bool,
    /// The read end of a diskless snapshot's pipe and the child writing it,
    /// for the replication side to relay to the replicas (taken once).
    pub repl_pipe: Option<(OwnedFd, libc::pid_t)>,
    /// The running child's progress (INFO's current_* fields).
    pub child_info: child_info::ChildInfo,
    /// Copy-on-write of the last RDB and AOF rewrite children.
    pub rdb_last_cow: u64,
    pub aof_last_cow: u64,
}

impl Persistence {
    /// Whether an automatic AOF rewrite must wait: after 3 failures in a
    /// row, 1 minute, then twice as long after each further one, up to an
    /// hour (BGREWRITEAOF still runs at once).
    pub fn rewrite_limited(&mut self, now_s: u64) -> bool {
        if self.rewrite_failures < 3 {
            self.rewrite_delay_min = 0;
            self.rewrite_not_before = 0;
            return false;
        }
        if self.rewrite_not_before != 0 {
            if now_s < self.rewrite_not_before {
                return true;
            }
            self.rewrite_not_before = 0;
            return false;
        }
        self.rewrite_delay_min = if self.rewrite_delay_min == 0 { 1 } else { (self.rewrite_delay_min * 2).min(60) };
        self.rewrite_not_before = now_s + self.rewrite_delay_min * 60;
        tracing::warn!(
            "Background AOF rewrite has repeatedly failed and triggered the limit, will retry in {} minutes",
            self.rewrite_delay_min
        );
        true
    }

    /// Records a child just forked, saving `keys` keys: the one cron waits
    /// for (INFO counts it in `total_forks` and shows its progress).
    pub(crate) fn child_started(&mut self, forked: Forked, keys: u64, kind: ChildKind, temp: PathBuf, dirty_at_start: u64) {
        self.total_forks += 1;
        self.child_info = child_info::ChildInfo::started(forked.info, keys);
        self.child = Some(Child { pid: forked.pid, kind, started: Instant::now(), temp, dirty_at_start });
    }
}

impl Default for Persistence {
    fn default() -> Self {
        Persistence {
            child: None,
            skip_checksum_validation: false,
            last_bgsave_ok: true,
            last_bgsave_secs: -1,
            last_bgsave_try_unix: 0,
            bgsave_scheduled: false,
            aof_rewrite_scheduled: false,
            last_rewrite_ok: true,
            rewrites: 0,
            rewrite_failures: 0,
            rewrite_delay_min: 0,
            rewrite_not_before: 0,
            last_rewrite_secs: -1,
            loading: false,
            rdb_saves: 0,
            latest_fork_usec: 0,
            total_forks: 0,
            aof: None,
            last_save_unix: 0,
            loaded_repl: None,
            loaded_expired: Vec::new(),
            last_load_keys: (0, 0),
            aof_timestamps: false,
            repl_snapshot_done: None,
            rdb_for_replicas: false,
            repl_pipe: None,
            async_loading: false,
            load_progress: None,
            child_info: Default::default(),
            rdb_last_cow: 0,
            aof_last_cow: 0,
        }
    }
}

/// `<dir>/<dbfilename>`.
pub fn rdb_path(cfg: &NodeConfig) -> PathBuf {
    cfg.dir().join(cfg.get("dbfilename").unwrap_or("dump.rdb"))
}

/// Removes this process's `temp-<pid>.rdb` (a save cut short on exit).
pub fn remove_own_temp(cfg: &NodeConfig) {
    let _ = std::fs::remove_file(cfg.dir().join(format!("temp-{}.rdb", std::process::id())));
}

/// Writes an RDB of `dbs` to `path` through `<dir>/temp-<pid>.rdb`: write, fsync,
/// rename, fsync the directory, so a crash leaves the old file or the new one.
pub fn write_rdb_file(
    dbs: &[Db],
    functions: &[Vec<u8>],
    path: &Path,
    opts: rdb::EncodeOptions,
    aof_base: bool,
    temp: Option<&Path>,
) -> Result<u64, PersistError> {
    let dir = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let own_temp;
    let tmp = match temp {
        Some(t) => t,
        None => {
            own_temp = dir.join(format!("temp-{}.rdb", std::process::id()));
            &own_temp
        }
    };
    write_atomically(path, tmp, |f| rdb::save_dbs(f, dbs, functions, opts, aof_base))
}

/// Writes `path` through `temp`: write, fsync, rename, fsync the directory,
/// so a crash leaves the old file or the new one; a failed write leaves no temp file.
pub(crate) fn write_atomically(
    path: &Path,
    temp: &Path,
    write: impl FnOnce(std::fs::File) -> std::io::Result<(std::fs::File, u64)>,
) -> Result<u64, PersistError> {
    let dir = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let result = (|| {
        let f = std::fs::File::create(temp).map_err(|e| io_err(temp, e))?;
        let (f, n) = write(f).map_err(|e| io_err(temp, e))?;
        f.sync_all().map_err(|e| io_err(temp, e))?;
        drop(f);
        std::fs::rename(temp, path).map_err(|e| io_err(path, e))?;
        if let Ok(d) = std::fs::File::open(dir) {
            let _ = d.sync_all();
        }
        Ok(n)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(temp);
    }
    result
}

/// SAVE: a synchronous snapshot.
pub fn save_sync(node: &mut Parts<'_>) -> Result<(), PersistError> {
    if node.persistence.child.is_some() {
        return Err(PersistError::ChildBusy);
    }
    let path = rdb_path(node.config);
    let mut opts = rdb::EncodeOptions::from_config(node.config);
    opts.repl = node.repl_info.clone();
    let started = Instant::now();
    let r = write_rdb_file(&node.keyspace.dbs, &node.keyspace.functions, &path, opts, false, None);
    let p = &mut node.persistence;
    p.last_bgsave_try_unix = unix_ms() / 1000;
    match r {
        Ok(_) => {
            node.keyspace.dirty = 0;
            p.last_save_unix = unix_ms() / 1000;
            p.last_bgsave_ok = true;
            p.rdb_saves += 1;
            p.last_bgsave_secs = started.elapsed().as_secs() as i64;
            tracing::info!("DB saved on disk");
            Ok(())
        }
        Err(e) => {
            p.last_bgsave_ok = false;
            tracing::warn!("error saving DB on disk: {e}");
            Err(e)
        }
    }
}

/// Closes every descriptor a forked child inherited (so it holds no
/// listening socket or client connection while it writes) except stdio and
/// `keep`, moved to fds 3, 4, ... in order.
fn close_inherited_fds(keep: &[RawFd]) {
    // SAFETY: raw syscalls on our own descriptor table in a single-threaded child.
    unsafe {
        // Out of the way first, so moving one down cannot clobber another.
        let high: Vec<RawFd> = keep.iter().map(|&fd| libc::fcntl(fd, libc::F_DUPFD, 1000)).collect();
        for (i, &fd) in high.iter().enumerate() {
            if fd < 0 || libc::dup2(fd, 3 + i as RawFd) != 3 + i as RawFd {
                libc::_exit(1);
            }
        }
        let first = 3 + keep.len() as u32;
        if libc::syscall(libc::SYS_close_range, first, u32::MAX, 0u32) != 0 {
            for fd in first as i32..4096 {
                libc::close(fd);
            }
        }
    }
}

/// A forked child: its pid and the read end of its progress reports.
pub(crate) struct Forked {
    pub pid: libc::pid_t,
    info: OwnedFd,
}

/// Forks a child that runs `work` and exits with 0 on success, reporting
/// its progress (`child_info`). Returns None when fork failed (callers then
/// work synchronously). With `keep`, that descriptor stays open in the
/// child as fd 3 (its progress pipe is then fd 4).
fn fork_child(work: impl FnOnce() -> bool, fork_usec: &mut u64, keep: Option<RawFd>) -> Option<Forked> {
    let started = Instant::now();
    let (info_read, info_write) = child_info::pipe().ok()?;
    // SAFETY: getpid has no preconditions.
    let parent = unsafe { libc::getpid() };
    // SAFETY: after fork the child only reads the (copied) keyspace, writes a
    // file and calls _exit; it takes no lock another thread could have held
    // except the allocator's, which mimalloc keeps per thread.
    let pid = unsafe { libc::fork() };
    if pid == 0 {
        // A child whose parent was killed (OOM killer, kill -9) stops too:
        // nobody would collect what it writes.
        // SAFETY: prctl and getppid on ourselves.
        unsafe {
            libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
            if libc::getppid() != parent {
                libc::_exit(1);
            }
        }
        let mut fds: Vec<RawFd> = keep.into_iter().collect();
        fds.push(info_write.as_raw_fd());
        close_inherited_fds(&fds);
        child_info::child_started(2 + fds.len() as RawFd);
        crate::util::oom::enter_child();
        let ok = std::panic::catch_unwind(std::panic::AssertUnwindSafe(work)).unwrap_or(false);
        child_info::child_finishing();
        // SAFETY: leave without running destructors or atexit handlers of the parent's state.
        unsafe { libc::_exit(if ok { 0 } else { 1 }) }
    }
    *fork_usec = started.elapsed().as_micros() as u64;
    (pid > 0).then_some(Forked { pid, info: info_read })
}

/// Result of a BGSAVE request.
#[derive(Debug, PartialEq, Eq)]
pub enum BgStart {
    Started,
    /// fork was unavailable: the save ran in place and finished.
    DoneInline,
    /// An AOF rewrite runs: the save will start when it ends.
    Scheduled,
}

/// BGSAVE: snapshot in a forked child.
pub fn bgsave(node: &mut Parts<'_>, schedule: bool) -> Result<BgStart, PersistError> {
    match node.persistence.child.as_ref().map(|c| &c.kind) {
        Some(ChildKind::Rdb | ChildKind::ReplSync) => return Err(PersistError::ChildBusy),
        Some(ChildKind::AofRewrite { .. }) => {
            if schedule {
                node.persistence.bgsave_scheduled = true;
                return Ok(BgStart::Scheduled);
            }
            return Err(PersistError::Aof(
                "Another child process is active (AOF?): can't BGSAVE right now. Use BGSAVE SCHEDULE in order to schedule a BGSAVE whenever possible.".into(),
            ));
        }
        None => {}
    }
    let path = rdb_path(node.config);
    let mut opts = rdb::EncodeOptions::from_config(node.config);
    opts.repl = node.repl_info.clone();
    let dir = path.parent().map(Path::to_path_buf).unwrap_or_else(|| PathBuf::from("."));
    node.persistence.last_bgsave_try_unix = unix_ms() / 1000;
    let dbs: &[Db] = &node.keyspace.dbs;
    let functions: &[Vec<u8>] = &node.keyspace.functions;
    let child = fork_child(
        || {
            // In the child: its own pid names the temp file, as in Redis.
            write_rdb_file(dbs, functions, &path, opts, false, None).is_ok()
        },
        &mut node.persistence.latest_fork_usec,
        None,
    );
    match child {
        Some(forked) => {
            let pid = forked.pid;
            tracing::info!(pid, fork_usec = node.persistence.latest_fork_usec, "background saving started");
            let dirty = node.keyspace.dirty;
            let keys = node.keyspace.key_count();
            node.persistence.child_started(forked, keys, ChildKind::Rdb, dir.join(format!("temp-{pid}.rdb")), dirty);
            Ok(BgStart::Started)
        }
        None => {
            tracing::warn!("fork failed; saving in the foreground");
            save_sync(node).map(|_| BgStart::DoneInline)
        }
    }
}

/// Starts the snapshot for replicas' full sync in a forked child (Redis's
/// BGSAVE for replication). Diskless (`repl-diskless-sync yes`, replicas
/// that read a streamed payload): the child
/// writes `$EOF:<mark>`, the RDB and the mark into a pipe whose read end is
/// left in `repl_pipe` for the replication side to relay. Disk-based: a
/// BGSAVE of the dump file, sent when it ends. When fork is unavailable the
/// snapshot is written here and now to a temp file, sent whole.
///
/// # Errors
/// Another child runs, the pipe cannot be made, or the inline write failed.
pub fn start_repl_snapshot(node: &mut Parts<'_>, diskless: bool) -> Result<(), PersistError> {
    if node.persistence.child.is_some() {
        return Err(PersistError::ChildBusy);
    }
    if !diskless {
        if bgsave(node, false)? == BgStart::Started {
            node.persistence.rdb_for_replicas = true;
        } else {
            node.persistence.repl_snapshot_done = Some(ReplSnapshot { path: rdb_path(node.config), ok: true, keep: true, piped: false });
        }
        return Ok(());
    }
    let mut opts = rdb::EncodeOptions::from_config(node.config);
    opts.repl = node.repl_info.clone();
    let (read_end, write_end) = child_info::pipe().map_err(|e| io_err(Path::new("replication pipe"), e))?;
    let mark = eof_mark();
    let dbs: &[Db] = &node.keyspace.dbs;
    let functions: &[Vec<u8>] = &node.keyspace.functions;
    let child = fork_child(
        || {
            // SAFETY: fd 3 is the pipe's write end, kept open for us by fork_child.
            let pipe = unsafe { std::fs::File::from_raw_fd(3) };
            stream_rdb(pipe, dbs, functions, opts.clone(), &mark).is_ok()
        },
        &mut node.persistence.latest_fork_usec,
        Some(write_end.as_raw_fd()),
    );
    drop(write_end);
    match child {
        Some(forked) => {
            let pid = forked.pid;
            tracing::info!(pid, "Background RDB transfer started by pid {pid}");
            let dirty = node.keyspace.dirty;
            let keys = node.keyspace.key_count();
            node.persistence.child_started(forked, keys, ChildKind::ReplSync, PathBuf::new(), dirty);
            node.persistence.repl_pipe = Some((read_end, pid));
        }
        None => {
            let path = node.config.dir().join(format!("temp-sync-{}.rdb", std::process::id()));
            write_rdb_file(&node.keyspace.dbs, &node.keyspace.functions, &path, opts, false, None)?;
            node.persistence.repl_snapshot_done = Some(ReplSnapshot { path, ok: true, keep: false, piped: false });
        }
    }
    Ok(())
}

/// The 40 random characters ending a streamed RDB (Redis's EOF mark).
fn eof_mark() -> String {
    use rand::Rng;
    let mut rng = rand::thread_rng();
    (0..40).map(|_| char::from(b"0123456789abcdef"[rng.gen_range(0..16)])).collect()
}

/// The diskless payload: `$EOF:<mark>\r\n`, the RDB, then the mark again
/// (the replica knows the end when it reads the mark).
fn stream_rdb(sink: std::fs::File, dbs: &[Db], functions: &[Vec<u8>], opts: rdb::EncodeOptions, mark: &str) -> std::io::Result<()> {
    let mut w = std::io::BufWriter::with_capacity(64 * 1024, sink);
    w.write_all(format!("$EOF:{mark}\r\n").as_bytes())?;
    // The replicas know a snapshot is coming as soon as it starts.
    w.flush()?;
    let (mut w, _) = rdb::save_dbs(w, dbs, functions, opts, false)?;
    w.write_all(mark.as_bytes())?;
    w.flush()
}

/// Checks on the child; handles its end. Called from cron.
pub fn poll_child(node: &mut Parts<'_>) {
    let Some(child) = node.persistence.child.as_ref() else {
        return;
    };
    node.persistence.child_info.read();
    let mut status: libc::c_int = 0;
    // SAFETY: waitpid on our own child's pid, non-blocking.
    let r = unsafe { libc::waitpid(child.pid, &mut status, libc::WNOHANG) };
    if r == 0 {
        return;
    }
    let ok = r == child.pid && libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0;
    let Some(child) = node.persistence.child.take() else {
        return;
    };
    // Its last report (the final copy-on-write size) is in the pipe by now.
    let p = &mut node.persistence;
    p.child_info.read();
    let cow = std::mem::take(&mut p.child_info).cow;
    if matches!(child.kind, ChildKind::AofRewrite { .. }) {
        p.aof_last_cow = cow;
    } else {
        p.rdb_last_cow = cow;
    }
    child_done(node, child, ok);
}

fn child_done(node: &mut Parts<'_>, child: Child, ok: bool) {
    let secs = child.started.elapsed().as_secs() as i64;
    match child.kind {
        ChildKind::ReplSync => {
            if ok {
                tracing::info!("Background RDB transfer terminated with success");
            } else {
                tracing::warn!("Background transfer error");
            }
            // Streamed through the pipe: nothing is left to send but the end.
            node.persistence.repl_snapshot_done = Some(ReplSnapshot { path: child.temp, ok, keep: false, piped: true });
        }
        ChildKind::Rdb => {
            let p = &mut node.persistence;
            p.last_bgsave_secs = secs;
            p.last_bgsave_ok = ok;
            if ok {
                p.rdb_saves += 1;
                node.keyspace.dirty = node.keyspace.dirty.saturating_sub(child.dirty_at_start);
                node.persistence.last_save_unix = unix_ms() / 1000;
                tracing::info!("background saving terminated with success");
            } else {
                let _ = std::fs::remove_file(&child.temp);
                tracing::warn!("background saving error");
            }
            if std::mem::take(&mut node.persistence.rdb_for_replicas) {
                node.persistence.repl_snapshot_done = Some(ReplSnapshot { path: rdb_path(node.config), ok, keep: true, piped: false });
            }
        }
        ChildKind::AofRewrite { seq, keep_from } => {
            node.persistence.last_rewrite_secs = secs;
            let r = if ok {
                aof::finish_rewrite(node, &child.temp, seq, keep_from)
            } else {
                Err(PersistError::Aof("rewrite child failed".into()))
            };
            node.persistence.last_rewrite_ok = r.is_ok();
            if r.is_ok() {
                node.persistence.rewrites += 1;
                node.persistence.rewrite_failures = 0;
            } else {
                node.persistence.rewrite_failures += 1;
            }
            if let Err(e) = r {
                let _ = std::fs::remove_file(&child.temp);
                tracing::warn!("background AOF rewrite failed: {e}");
                aof::abandon_initial(node);
            } else {
                tracing::info!("background AOF rewrite finished successfully");
            }
        }
    }
}

/// Stops a running child and removes its temp file (shutdown, FLUSHALL-style resets).
pub fn kill_child(node: &mut Parts<'_>) {
    if let Some(child) = node.persistence.child.take() {
        // SAFETY: signalling and reaping our own child.
        unsafe {
            libc::kill(child.pid, libc::SIGKILL);
            let mut st = 0;
            libc::waitpid(child.pid, &mut st, 0);
        }
        let _ = std::fs::remove_file(&child.temp);
        // The replicas waiting for it are dropped (they reconnect and sync again).
        if child.kind == ChildKind::ReplSync {
            node.persistence.repl_pipe = None;
            node.persistence.repl_snapshot_done = Some(ReplSnapshot { path: child.temp, ok: false, keep: false, piped: true });
        } else if std::mem::take(&mut node.persistence.rdb_for_replicas) {
            node.persistence.repl_snapshot_done = Some(ReplSnapshot { path: rdb_path(node.config), ok: false, keep: true, piped: false });
        }
    }
}

/// Periodic persistence work: reap the child, save points, AOF fsync and auto-rewrite.
pub fn cron(node: &mut Parts<'_>) {
    poll_child(node);
    aof::apply_config_switch(node);
    aof::cron(node);
    if node.persistence.child.is_some() {
        return;
    }
    let now = unix_ms() / 1000;
    if node.persistence.bgsave_scheduled {
        node.persistence.bgsave_scheduled = false;
        let _ = bgsave(node, false);
        return;
    }
    if node.persistence.aof_rewrite_scheduled {
        node.persistence.aof_rewrite_scheduled = false;
        if let Err(e) = aof::start_rewrite(node) {
            tracing::warn!("cannot start AOF rewrite: {e}");
        }
        return;
    }
    let since = now.saturating_sub(node.persistence.last_save_unix);
    // After a failed save, retry save points only every 5 seconds, like Redis.
    let may_retry = node.persistence.last_bgsave_ok || now.saturating_sub(node.persistence.last_bgsave_try_unix) >= 5;
    if node.keyspace.dirty > 0 && may_retry {
        for (secs, changes) in node.config.save_points() {
            if node.keyspace.dirty >= changes && since >= secs {
                tracing::info!("{changes} changes in {secs} seconds. Saving...");
                if let Err(e) = bgsave(node, false) {
                    tracing::warn!("cannot start background save: {e}");
                }
                return;
            }
        }
    }
    aof::maybe_auto_rewrite(node);
}

/// Whether write commands must be refused (stop-writes-on-bgsave-error).
pub fn writes_refused(p: &Persistence, config: &NodeConfig) -> bool {
    !p.last_bgsave_ok && config.flag_named("stop-writes-on-bgsave-error") && !config.save_points().is_empty()
}

/// What commands get while the dataset loads.
pub const LOADING_ERR: &str = "LOADING Redis is loading the dataset in memory";

pub const MISCONF: &str = "MISCONF Redis is configured to save RDB snapshots, but it's currently unable to persist to disk. Commands that may modify the data set are disabled, because this instance is configured to report errors during writes if RDB snapshotting fails (stop-writes-on-bgsave-error option). Please check the Redis logs for details about the RDB error.";

/// Start-up: the AOF when appendonly is on, else `<dir>/<dbfilename>` if present.
/// A file we cannot read stops start-up; it is never modified.
pub fn load_at_startup(h: &mut dyn Loader) -> Result<(), PersistError> {
    h.parts().persistence.loading = true;
    let started = Instant::now();
    let aof_on = h.parts().config.flag_named("appendonly");
    let mut r = if aof_on { aof::load_or_create(h) } else { load_rdb_file(&mut h.parts()).map(|_| ()) };
    if r.is_ok() {
        r = h.install_functions().map_err(PersistError::Aof);
    }
    let node = &mut h.parts();
    if let Err(PersistError::Rdb { path, source }) = &r {
        report_bad_rdb(path, source, node.keyspace.dbs.len(), node.keyspace.dbs.first().map(|d| d.limits).unwrap_or_default());
    }
    node.persistence.loading = false;
    // Replaying the AOF counted its commands as changes; nothing is unsaved yet.
    node.keyspace.dirty = 0;
    if r.is_ok() {
        let keys: usize = node.keyspace.dbs.iter().map(Db::len).sum();
        tracing::info!(keys, "DB loaded from disk: {:.3} seconds", started.elapsed().as_secs_f64());
    }
    r
}

/// Logs why a file did not load and what a check of it finds (the key and
/// type being read), as Redis does before it exits.
pub fn report_bad_rdb(path: &str, e: &rdb::DecodeError, databases: usize, limits: crate::keyspace::Limits) {
    tracing::warn!("Internal error in RDB reading offset {} -> {}", e.offset, e.kind);
    if let Ok(data) = std::fs::read(path) {
        tracing::warn!("Checking RDB file {path}");
        for line in rdb::check::report(&data, databases, limits) {
            tracing::warn!("{line}");
        }
    }
    tracing::warn!("Terminating server after rdb file reading failure.");
}

/// Loads `<dir>/<dbfilename>` if it exists; returns whether it did.
pub fn load_rdb_file(node: &mut Parts<'_>) -> Result<bool, PersistError> {
    let path = rdb_path(node.config);
    let data = match std::fs::read(&path) {
        Ok(d) => d,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(false),
        Err(e) => return Err(io_err(&path, e)),
    };
    let now = unix_ms();
    *node.now_ms = now;
    let (stats, _) = rdb::load_into(&data, &mut node.keyspace.dbs, now, true)
        .map_err(|source| PersistError::Rdb { path: path.display().to_string(), source })?;
    finish_rdb_load(node, stats);
    Ok(true)
}

/// What a completed RDB load leaves besides the keys: function libraries
/// to compile, the replication position it recorded, INFO's counts.
pub fn finish_rdb_load(node: &mut Parts<'_>, stats: rdb::LoadStats) {
    node.keyspace.loaded_functions.extend(stats.functions);
    node.persistence.loaded_repl = rdb::ReplAux::from_aux(&stats.aux);
    tracing::info!(
        "Done loading RDB, keys loaded: {}, keys expired: {}, empty keys skipped: {}.",
        stats.keys,
        stats.expired_skipped,
        stats.empty_skipped
    );
    node.persistence.last_load_keys = (stats.keys, stats.expired_skipped);
    node.persistence.loaded_expired = stats.expired;
}

/// Graceful stop: finish AOF writes, stop a child, save per policy. An
/// error means the final save failed: Redis then refuses to exit (unless
/// told NOSAVE or FORCE), so the caller decides.
///
/// # Errors
/// The final RDB save failed.
pub fn on_shutdown(node: &mut Parts<'_>, kind: ShutdownKind) -> Result<(), PersistError> {
    kill_child(node);
    aof::flush_and_sync(node);
    let save = match kind {
        ShutdownKind::Save => true,
        ShutdownKind::NoSave | ShutdownKind::Prepared => false,
        ShutdownKind::Default => !node.config.save_points().is_empty(),
    };
    // Half a dataset is never saved over the file it is loading from.
    let save = save && !node.persistence.loading;
    if save {
        tracing::info!("saving the final RDB snapshot before exiting");
        if let Err(e) = save_sync(node) {
            tracing::warn!("Error trying to save the DB, can't exit.");
            return Err(e);
        }
    }
    Ok(())
}

/// The `# Persistence` section of INFO.
pub fn info(p: &Persistence, dirty: u64) -> String {
    let rdb_child = matches!(p.child.as_ref().map(|c| &c.kind), Some(ChildKind::Rdb | ChildKind::ReplSync));
    let aof_child = matches!(p.child.as_ref().map(|c| &c.kind), Some(ChildKind::AofRewrite { .. }));
    let cur = |want: bool| p.child.as_ref().filter(|_| want).map_or(-1, |c| c.started.elapsed().as_secs() as i64);
    let mut s = String::with_capacity(1024);
    s.push_str("# Persistence\r\n");
    let mut kv = |k: &str, v: String| {
        s.push_str(k);
        s.push(':');
        s.push_str(&v);
        s.push_str("\r\n");
    };
    kv("loading", ((p.loading && !p.async_loading) as u8).to_string());
    kv("async_loading", (p.async_loading as u8).to_string());
    let ci = &p.child_info;
    let perc = if ci.keys_total > 0 { ci.keys_processed as f64 * 100.0 / ci.keys_total as f64 } else { 0.0 };
    kv("current_cow_peak", ci.cow_peak.to_string());
    kv("current_cow_size", ci.cow.to_string());
    kv("current_cow_size_age", ci.cow_updated.map_or(0, |t| t.elapsed().as_secs()).to_string());
    kv("current_fork_perc", format!("{perc:.2}"));
    kv("current_save_keys_processed", ci.keys_processed.to_string());
    kv("current_save_keys_total", ci.keys_total.to_string());
    kv("rdb_changes_since_last_save", dirty.to_string());
    kv("rdb_bgsave_in_progress", (rdb_child as u8).to_string());
    kv("rdb_last_save_time", p.last_save_unix.to_string());
    kv("rdb_last_bgsave_status", if p.last_bgsave_ok { "ok" } else { "err" }.into());
    kv("rdb_last_bgsave_time_sec", p.last_bgsave_secs.to_string());
    kv("rdb_current_bgsave_time_sec", cur(rdb_child).to_string());
    kv("rdb_saves", p.rdb_saves.to_string());
    kv("rdb_last_cow_size", p.rdb_last_cow.to_string());
    kv("rdb_last_load_keys_expired", p.last_load_keys.1.to_string());
    kv("rdb_last_load_keys_loaded", p.last_load_keys.0.to_string());
    kv("aof_enabled", (p.aof.is_some() as u8).to_string());
    kv("aof_rewrite_in_progress", (aof_child as u8).to_string());
    kv("aof_rewrite_scheduled", (p.aof_rewrite_scheduled as u8).to_string());
    kv("aof_last_rewrite_time_sec", p.last_rewrite_secs.to_string());
    kv("aof_current_rewrite_time_sec", cur(aof_child).to_string());
    kv("aof_last_bgrewrite_status", if p.last_rewrite_ok { "ok" } else { "err" }.into());
    kv("aof_rewrites", p.rewrites.to_string());
    kv("aof_rewrites_consecutive_failures", p.rewrite_failures.to_string());
    let write_ok = p.aof.as_ref().is_none_or(|a| a.write_ok());
    kv("aof_last_write_status", if write_ok { "ok" } else { "err" }.into());
    kv("aof_last_cow_size", p.aof_last_cow.to_string());
    kv("module_fork_in_progress", "0".into());
    kv("module_fork_last_cow_size", "0".into());
    if let Some(a) = p.aof.as_ref() {
        kv("aof_current_size", a.current_size().to_string());
        kv("aof_base_size", a.base_size().to_string());
        kv("aof_pending_rewrite", (p.aof_rewrite_scheduled as u8).to_string());
        kv("aof_buffer_length", "0".into());
        kv("aof_pending_bio_fsync", "0".into());
        kv("aof_delayed_fsync", "0".into());
    }
    if let Some(l) = p.load_progress.as_ref().filter(|_| p.loading) {
        let elapsed = l.started.elapsed().as_secs_f64();
        let perc = if l.total_bytes > 0 { l.loaded_bytes as f64 * 100.0 / l.total_bytes as f64 } else { 0.0 };
        let eta = if l.total_bytes > l.loaded_bytes && l.loaded_bytes > 0 {
            ((l.total_bytes - l.loaded_bytes) as f64 * elapsed / l.loaded_bytes as f64) as u64
        } else {
            1
        };
        kv("loading_start_time", l.start_unix.to_string());
        kv("loading_total_bytes", l.total_bytes.to_string());
        kv("loading_rdb_used_mem", "0".into());
        kv("loading_loaded_bytes", l.loaded_bytes.to_string());
        kv("loading_loaded_perc", format!("{perc:.2}"));
        kv("loading_eta_seconds", eta.to_string());
    }
    s.push_str("\r\n");
    s
}
