//! BGREWRITEAOF and its automatic trigger: a new base written by a forked
//! child, then the manifest swapped to it.

use super::*;

/// BGREWRITEAOF: switch to a new incr file now, then write a new base in a
/// forked child; `finish_rewrite` swaps the manifest when the child is done.
pub fn start_rewrite(node: &mut Parts<'_>) -> Result<(), PersistError> {
    if node.persistence.child.is_some() {
        node.persistence.aof_rewrite_scheduled = true;
        return Ok(());
    }
    let (dir, base_seq, keep_from) = match node.persistence.aof.as_mut() {
        Some(aof) => {
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
            // The new incr file must start with a SELECT (and its own `#TS:`).
            node.propagation.db = None;
            aof.last_timestamp = 0;
            (aof.dir.clone(), aof.manifest.base.as_ref().map_or(1, |b| b.seq + 1), keep_from)
        }
        None => {
            // With the AOF off Redis still rewrites: the new base alone becomes
            // the AOF on disk (DEBUG LOADAOF, a later `appendonly yes` start from it).
            let dir = aof_dir(node);
            std::fs::create_dir_all(&dir).map_err(|e| io_err(&dir, e))?;
            let (seq, _) = disk_manifest(&dir, &prefix(node)).next_seqs();
            (dir, seq, usize::MAX)
        }
    };
    match fork_base_child(node, &dir, base_seq, keep_from) {
        Some(pid) => {
            tracing::info!(pid, "background append only file rewriting started");
            Ok(())
        }
        None => {
            let (temp, tmp) = (dir.join("temp-rewriteaof-fg.aof"), dir.join("temp-rewriteaof-fg.tmp"));
            let (opts, format) = (rdb::EncodeOptions::from_config(node.config), BaseFormat::from_config(node.config));
            write_base_file(&node.keyspace.dbs, &node.keyspace.functions, &temp, &tmp, opts, format)?;
            finish_rewrite(node, &temp, base_seq, keep_from)
        }
    }
}

/// Forks a child writing a new base of the dataset (to
/// `<dir>/temp-rewriteaof-bg-<pid>.done`, through `.aof`) and records it as the
/// rewrite child that will become base `seq`; None when fork failed.
fn fork_base_child(node: &mut Parts<'_>, dir: &Path, seq: u64, keep_from: usize) -> Option<libc::pid_t> {
    let opts = rdb::EncodeOptions::from_config(node.config);
    let format = BaseFormat::from_config(node.config);
    let dbs: &[Db] = &node.keyspace.dbs;
    let functions: &[Vec<u8>] = &node.keyspace.functions;
    let pid_temp = |pid: u32| dir.join(format!("temp-rewriteaof-bg-{pid}.aof"));
    let forked = fork_child(
        || {
            let temp = pid_temp(std::process::id());
            write_base_file(dbs, functions, &temp.with_extension("done"), &temp, opts, format).is_ok()
        },
        &mut node.persistence.latest_fork_usec,
        None,
    )?;
    let pid = forked.pid;
    let dirty = node.keyspace.dirty;
    let keys = node.keyspace.key_count();
    node.persistence.child_started(
        forked,
        keys,
        ChildKind::AofRewrite { seq, keep_from },
        pid_temp(pid as u32).with_extension("done"),
        dirty,
    );
    Some(pid)
}

/// `appendonly yes` at run time (Redis's startAppendOnly): writes go to a
/// temp incr file at once while a child writes the first base; once it is
/// done both get their names and the manifest (`finish_rewrite`). Without
/// fork the base is written here and now.
pub fn start_initial(node: &mut Parts<'_>, dir: PathBuf, prefix: String) -> Result<(), PersistError> {
    std::fs::create_dir_all(&dir).map_err(|e| io_err(&dir, e))?;
    let (seq, incr_seq) = disk_manifest(&dir, &prefix).next_seqs();
    // The temp incr file first: if it cannot be made, there is no child to undo.
    let temp_incr = dir.join(format!("temp-{prefix}.incr"));
    std::fs::File::create(&temp_incr).map_err(|e| io_err(&temp_incr, e))?;
    let file = open_append(&temp_incr)?;
    let Some(pid) = fork_base_child(node, &dir, seq, 0) else {
        let _ = std::fs::remove_file(&temp_incr);
        tracing::warn!("fork failed; writing the first AOF base in the foreground");
        create_fresh(node, dir, prefix)?;
        tracing::info!("AOF enabled: base written, logging writes");
        return Ok(());
    };
    tracing::info!(pid, "Background append only file rewriting started by pid {pid}");
    node.persistence.aof_rewrite_scheduled = false;
    super::load::install(node, dir, prefix, Manifest::default(), file, 0, Some((temp_incr, incr_seq)))
}

/// The first base failed: the AOF is off again (cron tries anew while `appendonly` is yes).
pub fn abandon_initial(node: &mut Parts<'_>) {
    if let Some((temp, _)) = node.persistence.aof.as_ref().and_then(|a| a.initial.clone()) {
        node.persistence.aof = None;
        node.propagation.consumers = node.propagation.consumers.saturating_sub(1);
        tracing::info!("Removing the temp incr aof file {} in background", temp.file_name().unwrap_or_default().to_string_lossy());
        let _ = std::fs::remove_file(temp);
    }
}

/// Installs a finished base: rename it, point the manifest at it and the
/// incr files written since, delete the files it replaces.
pub fn finish_rewrite(node: &mut Parts<'_>, temp: &Path, seq: u64, keep_from: usize) -> Result<(), PersistError> {
    let Some(aof) = node.persistence.aof.as_mut() else {
        return finish_rewrite_while_off(node, temp, seq);
    };
    if let Some((temp_incr, incr_seq)) = aof.initial.take() {
        // The first base: it and the writes since become the AOF the manifest names.
        let old = disk_manifest(&aof.dir, &aof.prefix);
        let base = ManifestFile { name: base_name(&aof.prefix, seq, temp), seq };
        let incr = ManifestFile { name: format!("{}.{incr_seq}.incr.aof", aof.prefix), seq: incr_seq };
        let (base_path, incr_path) = (aof.path(&base.name), aof.path(&incr.name));
        std::fs::rename(temp, &base_path).map_err(|e| io_err(&base_path, e))?;
        std::fs::rename(&temp_incr, &incr_path).map_err(|e| io_err(&incr_path, e))?;
        let mut manifest = Manifest { base: Some(base), incrs: vec![incr], history: old.history };
        manifest.retire(old.base.into_iter().chain(old.incrs));
        aof.manifest = manifest;
        aof.write_manifest()?;
        let size = file_size(&base_path) + file_size(&incr_path);
        aof.base_size = size;
        aof.current_size = size;
        collect_history(node);
        return Ok(());
    }
    let name = base_name(&aof.prefix, seq, temp);
    let path = aof.path(&name);
    std::fs::rename(temp, &path).map_err(|e| io_err(&path, e))?;
    let old_base = aof.manifest.base.replace(ManifestFile { name, seq });
    let keep_from = keep_from.min(aof.manifest.incrs.len());
    let old_incrs: Vec<ManifestFile> = aof.manifest.incrs.drain(..keep_from).collect();
    aof.manifest.retire(old_base.into_iter().chain(old_incrs));
    aof.write_manifest()?;
    let size = aof.manifest.base.iter().chain(aof.manifest.incrs.iter()).map(|f| file_size(&aof.path(&f.name))).sum();
    aof.base_size = size;
    aof.current_size = size;
    collect_history(node);
    Ok(())
}

/// Deletes the files a rewrite replaced and drops them from the manifest,
/// unless `aof-disable-auto-gc yes` keeps them (for inspection or backup);
/// also when that setting goes back to `no` (Redis's aofDelHistoryFiles).
pub fn collect_history(node: &mut Parts<'_>) {
    if node.config.flag_named("aof-disable-auto-gc") {
        return;
    }
    let Some(aof) = node.persistence.aof.as_mut() else { return };
    if aof.manifest.history.is_empty() {
        return;
    }
    let gone = std::mem::take(&mut aof.manifest.history);
    if let Err(e) = aof.write_manifest() {
        tracing::warn!("cannot drop the AOF history from the manifest: {e}");
        aof.manifest.history = gone;
        return;
    }
    for f in gone {
        tracing::info!("Removing the history file {} in the background", f.name);
        let _ = std::fs::remove_file(aof.path(&f.name));
    }
}

/// How a new base is written: an RDB (`aof-use-rdb-preamble yes`) or
/// commands, starting with a `#TS:` annotation under `aof-timestamp-enabled`.
#[derive(Debug, Clone, Copy)]
pub(super) struct BaseFormat {
    rdb: bool,
    timestamp: Option<u64>,
}

impl BaseFormat {
    pub(super) fn from_config(cfg: &crate::config::NodeConfig) -> Self {
        let timestamp = cfg.flag_named("aof-timestamp-enabled").then(|| unix_ms() / 1000);
        BaseFormat { rdb: cfg.flag_named("aof-use-rdb-preamble"), timestamp }
    }
}

/// Writes a base to `target` through `temp`, in `format`; returns its size.
pub(super) fn write_base_file(
    dbs: &[Db],
    functions: &[Vec<u8>],
    target: &Path,
    temp: &Path,
    opts: rdb::EncodeOptions,
    format: BaseFormat,
) -> Result<u64, PersistError> {
    if format.rdb {
        return crate::persistence::write_rdb_file(dbs, functions, target, opts, true, Some(temp));
    }
    let key_delay_us = opts.key_delay_us;
    crate::persistence::write_atomically(target, temp, |f| {
        let mut w = std::io::BufWriter::new(f);
        let n = super::commands::write_base(&mut w, dbs, functions, format.timestamp, key_delay_us)?;
        Ok((w.into_inner().map_err(|e| e.into_error())?, n))
    })
}

/// A base file's name: `.base.rdb` for an RDB, `.base.aof` for commands
/// (Redis's naming), told by what `written` holds.
pub(super) fn base_name(prefix: &str, seq: u64, written: &Path) -> String {
    let mut head = [0u8; 5];
    let rdb = File::open(written).and_then(|mut f| std::io::Read::read_exact(&mut f, &mut head)).is_ok() && &head == b"REDIS";
    format!("{prefix}.{seq}.base.{}", if rdb { "rdb" } else { "aof" })
}

/// The manifest on disk in `dir`, or an empty one.
fn disk_manifest(dir: &Path, prefix: &str) -> Manifest {
    std::fs::read_to_string(dir.join(format!("{prefix}.manifest"))).ok().and_then(|t| Manifest::parse(&t).ok()).unwrap_or_default()
}

/// A rewrite done while the AOF is off: the new base replaces every file
/// the manifest named (Redis marks all incr files history then).
fn finish_rewrite_while_off(node: &mut Parts<'_>, temp: &Path, seq: u64) -> Result<(), PersistError> {
    let (dir, prefix) = (aof_dir(node), prefix(node));
    let old = disk_manifest(&dir, &prefix);
    let name = base_name(&prefix, seq, temp);
    let path = dir.join(&name);
    std::fs::rename(temp, &path).map_err(|e| io_err(&path, e))?;
    let mut manifest = Manifest { base: Some(ManifestFile { name, seq }), history: old.history, incrs: Vec::new() };
    manifest.retire(old.base.into_iter().chain(old.incrs));
    if !node.config.flag_named("aof-disable-auto-gc") {
        for f in std::mem::take(&mut manifest.history) {
            let _ = std::fs::remove_file(dir.join(&f.name));
        }
    }
    let mp = dir.join(format!("{prefix}.manifest"));
    crate::util::fs::write_atomic(&mp, manifest.render().as_bytes()).map_err(|e| io_err(&mp, e))
}

/// auto-aof-rewrite-percentage / auto-aof-rewrite-min-size.
pub fn maybe_auto_rewrite(node: &mut Parts<'_>) {
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
    if growth >= perc as u64 && !node.persistence.rewrite_limited(unix_ms() / 1000) {
        tracing::info!(growth, "starting automatic rewriting of AOF");
        if let Err(e) = start_rewrite(node) {
            tracing::warn!("cannot start AOF rewrite: {e}");
        }
    }
}
