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
    let opts = rdb::EncodeOptions::from_config(node.config);
    let format = BaseFormat::from_config(node.config);
    let dbs: &[Db] = &node.keyspace.dbs;
    let functions: &[Vec<u8>] = &node.keyspace.functions;
    let pid_temp = |pid: u32| dir.join(format!("temp-rewriteaof-bg-{pid}.aof"));
    let child = fork_child(
        || {
            let temp = pid_temp(std::process::id());
            let target = temp.with_extension("done");
            write_base_file(dbs, functions, &target, Some(&temp), opts, format).is_ok()
        },
        &mut node.persistence.latest_fork_usec,
    );
    match child {
        Some(pid) => {
            node.persistence.total_forks += 1;
            tracing::info!(pid, "background append only file rewriting started");
            node.persistence.child = Some(Child {
                pid,
                kind: ChildKind::AofRewrite { seq: base_seq, keep_from },
                started: Instant::now(),
                temp: pid_temp(pid as u32).with_extension("done"),
                dirty_at_start: node.keyspace.dirty,
            });
            Ok(())
        }
        None => {
            let temp = dir.join("temp-rewriteaof-fg.aof");
            let opts = rdb::EncodeOptions::from_config(node.config);
            let tmp = dir.join("temp-rewriteaof-fg.tmp");
            write_base_file(&node.keyspace.dbs, &node.keyspace.functions, &temp, Some(&tmp), opts, format)?;
            finish_rewrite(node, &temp, base_seq, keep_from)
        }
    }
}

/// `appendonly yes` at run time (Redis's startAppendOnly): writes go to a
/// temp incr file at once while a child writes the first base; once it is
/// done both get their names and the manifest (`finish_rewrite`). Without
/// fork the base is written here and now.
pub fn start_initial(node: &mut Parts<'_>, dir: PathBuf, prefix: String) -> Result<(), PersistError> {
    std::fs::create_dir_all(&dir).map_err(|e| io_err(&dir, e))?;
    let (seq, incr_seq) = disk_manifest(&dir, &prefix).next_seqs();
    let opts = rdb::EncodeOptions::from_config(node.config);
    let format = BaseFormat::from_config(node.config);
    let dbs: &[Db] = &node.keyspace.dbs;
    let functions: &[Vec<u8>] = &node.keyspace.functions;
    let pid_temp = |pid: u32| dir.join(format!("temp-rewriteaof-bg-{pid}.aof"));
    let child = fork_child(
        || {
            let temp = pid_temp(std::process::id());
            write_base_file(dbs, functions, &temp.with_extension("done"), Some(&temp), opts, format).is_ok()
        },
        &mut node.persistence.latest_fork_usec,
    );
    let Some(pid) = child else {
        tracing::warn!("fork failed; writing the first AOF base in the foreground");
        create_fresh(node, dir, prefix)?;
        tracing::info!("AOF enabled: base written, logging writes");
        return Ok(());
    };
    node.persistence.total_forks += 1;
    tracing::info!(pid, "Background append only file rewriting started by pid {pid}");
    let temp_incr = dir.join(format!("temp-{prefix}.incr"));
    let file = std::fs::File::create(&temp_incr).and_then(|_| open_append(&temp_incr).map_err(|e| std::io::Error::other(e.to_string())));
    let file = match file {
        Ok(f) => f,
        Err(e) => {
            // SAFETY: our own child, just forked.
            unsafe {
                libc::kill(pid, libc::SIGKILL);
                libc::waitpid(pid, std::ptr::null_mut(), 0);
            }
            let _ = std::fs::remove_file(pid_temp(pid as u32));
            return Err(io_err(&temp_incr, e));
        }
    };
    node.persistence.child = Some(Child {
        pid,
        kind: ChildKind::AofRewrite { seq, keep_from: 0 },
        started: Instant::now(),
        temp: pid_temp(pid as u32).with_extension("done"),
        dirty_at_start: node.keyspace.dirty,
    });
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
        aof.manifest = Manifest { base: Some(base), incrs: vec![incr] };
        aof.write_manifest()?;
        for f in old.base.iter().chain(old.incrs.iter()) {
            let _ = std::fs::remove_file(aof.path(&f.name));
        }
        let size = file_size(&base_path) + file_size(&incr_path);
        aof.base_size = size;
        aof.current_size = size;
        return Ok(());
    }
    let name = base_name(&aof.prefix, seq, temp);
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
    temp: Option<&Path>,
    opts: rdb::EncodeOptions,
    format: BaseFormat,
) -> Result<u64, PersistError> {
    if format.rdb {
        return crate::persistence::write_rdb_file(dbs, functions, target, opts, true, temp);
    }
    let dir = target.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let own;
    let tmp = match temp {
        Some(t) => t,
        None => {
            own = dir.join(format!("temp-rewriteaof-{}.aof", std::process::id()));
            &own
        }
    };
    let result = (|| {
        let f = File::create(tmp).map_err(|e| io_err(tmp, e))?;
        let mut w = std::io::BufWriter::new(f);
        let n = super::commands::write_base(&mut w, dbs, functions, format.timestamp, opts.key_delay_us).map_err(|e| io_err(tmp, e))?;
        let f = w.into_inner().map_err(|e| io_err(tmp, e.into_error()))?;
        f.sync_all().map_err(|e| io_err(tmp, e))?;
        std::fs::rename(tmp, target).map_err(|e| io_err(target, e))?;
        if let Ok(d) = File::open(dir) {
            let _ = d.sync_all();
        }
        Ok(n)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(tmp);
    }
    result
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
    let manifest = Manifest { base: Some(ManifestFile { name, seq }), incrs: Vec::new() };
    let mp = dir.join(format!("{prefix}.manifest"));
    crate::util::fs::write_atomic(&mp, manifest.render().as_bytes()).map_err(|e| io_err(&mp, e))?;
    for f in old.base.iter().chain(old.incrs.iter()) {
        let _ = std::fs::remove_file(dir.join(&f.name));
    }
    Ok(())
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
    if growth >= perc as u64 {
        tracing::info!(growth, "starting automatic rewriting of AOF");
        if let Err(e) = start_rewrite(node) {
            tracing::warn!("cannot start AOF rewrite: {e}");
        }
    }
}
