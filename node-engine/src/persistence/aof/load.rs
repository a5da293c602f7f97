//! Start-up: loading the files the manifest names (an RDB base, then RESP
//! commands replayed through the caller's apply function), or creating the
//! AOF from the current data.

use super::*;

/// Start-up with appendonly on: load the AOF named by the manifest, or, when
/// there is none yet, the RDB (if any) and then create the AOF from it.
pub fn load_or_create(h: &mut dyn Loader) -> Result<(), PersistError> {
    let dir = aof_dir(&h.parts());
    let prefix = prefix(&h.parts());
    let manifest_path = dir.join(format!("{prefix}.manifest"));
    let manifest = match std::fs::read_to_string(&manifest_path) {
        Ok(t) => Some(Manifest::parse(&t).map_err(PersistError::Aof)?),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => return Err(io_err(&manifest_path, e)),
    };
    let manifest = upgrade_old_aof(&h.parts(), &dir, &prefix, manifest)?;
    match manifest {
        Some(m) if m.base.is_some() || !m.incrs.is_empty() => {
            load_files(h, &dir, &m)?;
            let size = m.base.iter().chain(m.incrs.iter()).map(|f| file_size(&dir.join(&f.name))).sum();
            let mut m = m;
            if m.incrs.is_empty() {
                let seq = m.base.as_ref().map_or(1, |b| b.seq);
                m.incrs.push(ManifestFile { name: format!("{prefix}.{seq}.incr.aof"), seq });
            }
            let last = m.incrs.last().map(|f| f.name.clone()).unwrap_or_default();
            let file = open_append(&dir.join(&last))?;
            install(&mut h.parts(), dir, prefix, m, file, size, None)?;
        }
        _ => {
            // No AOF yet: keep what the RDB holds (Redis 7.0 would start empty here).
            crate::persistence::load_rdb_file(&mut h.parts())?;
            create_fresh(&mut h.parts(), dir, prefix)?;
        }
    }
    Ok(())
}

/// A single-file AOF of Redis before 7.0 (`<dir>/<appendfilename>`) becomes
/// the base of a multi-part AOF, as Redis 7's aofUpgradePrepare does: when
/// there is no AOF directory or manifest yet, or a manifest whose only file
/// is that base not moved yet (an upgrade cut short). The file is moved into
/// the AOF directory after the manifest naming it is written.
fn upgrade_old_aof(node: &Parts<'_>, dir: &Path, prefix: &str, manifest: Option<Manifest>) -> Result<Option<Manifest>, PersistError> {
    let old = node.config.dir().join(prefix);
    if !old.is_file() {
        return Ok(manifest);
    }
    let due = match &manifest {
        None => true,
        Some(m) if m.base.is_none() && m.incrs.is_empty() => true,
        Some(m) => m.incrs.is_empty() && m.base.as_ref().is_some_and(|b| b.name == prefix) && !dir.join(prefix).exists(),
    };
    if !due {
        return Ok(manifest);
    }
    std::fs::create_dir_all(dir).map_err(|e| io_err(dir, e))?;
    let m = Manifest { base: Some(ManifestFile { name: prefix.to_string(), seq: 1 }), ..Default::default() };
    let mp = dir.join(format!("{prefix}.manifest"));
    crate::util::fs::write_atomic(&mp, m.render().as_bytes()).map_err(|e| io_err(&mp, e))?;
    let to = dir.join(prefix);
    std::fs::rename(&old, &to).map_err(|e| io_err(&to, e))?;
    tracing::info!("Successfully migrated an old-style AOF into the AOF directory ({}).", dir.display());
    Ok(Some(m))
}

/// DEBUG LOADAOF: replays the files the manifest names into the dataset.
pub fn reload(h: &mut dyn Loader) -> Result<(), PersistError> {
    let dir = aof_dir(&h.parts());
    let prefix = prefix(&h.parts());
    let manifest_path = dir.join(format!("{prefix}.manifest"));
    let text = std::fs::read_to_string(&manifest_path).map_err(|e| io_err(&manifest_path, e))?;
    let m = Manifest::parse(&text).map_err(PersistError::Aof)?;
    load_files(h, &dir, &m)
}

pub(super) fn install(
    node: &mut Parts<'_>,
    dir: PathBuf,
    prefix: String,
    manifest: Manifest,
    file: File,
    size: u64,
    initial: Option<(PathBuf, u64)>,
) -> Result<(), PersistError> {
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
        policy: FsyncPolicy::from_config(node.config),
        initial,
        last_timestamp: 0,
        flush_sleep_us: 0,
    };
    // The first base is not there yet: the manifest on disk stays as it is until it is.
    if aof.initial.is_none() {
        aof.write_manifest()?;
    }
    node.persistence.aof = Some(aof);
    // The first command in the new file must SELECT its db.
    node.propagation.db = None;
    node.propagation.consumers += 1;
    Ok(())
}

/// Creates the AOF with a base of the current data and an empty incr file,
/// numbered after the files of their kind an older manifest names (which
/// are then removed).
pub(super) fn create_fresh(node: &mut Parts<'_>, dir: PathBuf, prefix: String) -> Result<(), PersistError> {
    std::fs::create_dir_all(&dir).map_err(|e| io_err(&dir, e))?;
    let manifest_path = dir.join(format!("{prefix}.manifest"));
    let old = std::fs::read_to_string(&manifest_path).ok().and_then(|t| Manifest::parse(&t).ok()).unwrap_or_default();
    let (seq, incr_seq) = old.next_seqs();
    let format = super::rewrite::BaseFormat::from_config(node.config);
    let temp = dir.join(format!("temp-rewriteaof-{}.aof", std::process::id()));
    let written = dir.join(format!("temp-rewriteaof-{}.done", std::process::id()));
    let incr = ManifestFile { name: format!("{prefix}.{incr_seq}.incr.aof"), seq: incr_seq };
    let opts = rdb::EncodeOptions::from_config(node.config);
    super::rewrite::write_base_file(&node.keyspace.dbs, &node.keyspace.functions, &written, &temp, opts, format)?;
    let base = ManifestFile { name: super::rewrite::base_name(&prefix, seq, &written), seq };
    let base_path = dir.join(&base.name);
    std::fs::rename(&written, &base_path).map_err(|e| io_err(&base_path, e))?;
    let size = file_size(&base_path);
    let incr_path = dir.join(&incr.name);
    // Start the incr file empty, then append to it.
    std::fs::File::create(&incr_path).map_err(|e| io_err(&incr_path, e))?;
    let file = open_append(&incr_path)?;
    install(node, dir.clone(), prefix, Manifest { base: Some(base), incrs: vec![incr], ..Default::default() }, file, size, None)?;
    for f in old.base.iter().chain(old.incrs.iter()) {
        let _ = std::fs::remove_file(dir.join(&f.name));
    }
    Ok(())
}

/// Loads base then incr files, in manifest order.
fn load_files(h: &mut dyn Loader, dir: &Path, m: &Manifest) -> Result<(), PersistError> {
    // Nothing expires while loading (Redis's keyIsExpired): a key whose TTL
    // passed is still there for the commands that follow it in the file, and
    // expires once the node runs.
    h.parts().keyspace.dbs.iter_mut().for_each(|d| d.ttl_ignored = true);
    let r = load_files_as_written(h, dir, m);
    h.parts().keyspace.dbs.iter_mut().for_each(|d| d.ttl_ignored = false);
    r
}

fn load_files_as_written(h: &mut dyn Loader, dir: &Path, m: &Manifest) -> Result<(), PersistError> {
    *h.parts().now_ms = unix_ms();
    let truncated_ok = h.parts().config.flag_named("aof-load-truncated");
    let files: Vec<&ManifestFile> = m.base.iter().chain(m.incrs.iter()).collect();
    let n = files.len();
    for (i, f) in files.into_iter().enumerate() {
        let path = dir.join(&f.name);
        let data = match std::fs::read(&path) {
            Ok(d) => d,
            // A file the manifest names must be there (Redis refuses to start otherwise).
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(PersistError::Aof(format!("The append log file {} doesn't exist: No such file or directory", f.name)))
            }
            Err(e) => return Err(PersistError::Aof(format!("Fatal error: can't open the append log file {} for reading: {e}", f.name))),
        };
        let mut start = 0;
        if data.starts_with(b"REDIS") {
            let node = h.parts();
            let now = *node.now_ms;
            // Keys whose TTL passed are kept, as Redis loads an AOF preamble: the
            // commands after it may still touch them; they expire once the node runs.
            let (stats, end) = rdb::load_into(&data, &mut node.keyspace.dbs, now, false)
                .map_err(|source| PersistError::Rdb { path: path.display().to_string(), source })?;
            node.keyspace.loaded_functions.extend(stats.functions);
            start = end;
            // The base's libraries are in place before its commands replay (FUNCTION LOAD may follow).
            h.install_functions().map_err(PersistError::Aof)?;
        }
        let last = i + 1 == n;
        match replay(h, &data, start) {
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
fn replay(h: &mut dyn Loader, data: &[u8], mut pos: usize) -> Result<(), Replay> {
    let limits = ParseLimits::default();
    let mut ranges = Vec::new();
    let mut argv: Vec<&[u8]> = Vec::new();
    // Start of an open MULTI: a torn transaction is dropped whole, as Redis does.
    let mut multi_at: Option<usize> = None;
    let mut queued: Vec<Vec<Vec<u8>>> = Vec::new();
    while pos < data.len() {
        if data[pos] == b'#' {
            // An annotation line (`#TS:<unix s>`): nothing to execute.
            match data[pos..].windows(2).position(|w| w == b"\r\n") {
                Some(end) => {
                    pos += end + 2;
                    continue;
                }
                None => return Err(Replay::Truncated(multi_at.unwrap_or(pos))),
            }
        }
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
                h.apply(&refs).map_err(|why| Replay::Bad(at, why))?;
            }
            continue;
        }
        if multi_at.is_some() {
            queued.push(argv.iter().map(|a| a.to_vec()).collect());
            continue;
        }
        h.apply(&argv).map_err(|why| Replay::Bad(at, why))?;
    }
    if let Some(at) = multi_at {
        return Err(Replay::Truncated(at));
    }
    Ok(())
}
