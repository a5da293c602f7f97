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
    node.propagation.db = None;
    let base_seq = aof.manifest.base.as_ref().map_or(1, |b| b.seq + 1);
    let dir = aof.dir.clone();
    let opts = rdb::EncodeOptions::from_config(node.config);
    let dbs: &[Db] = &node.keyspace.dbs;
    let functions: &[Vec<u8>] = &node.keyspace.functions;
    let pid_temp = |pid: u32| dir.join(format!("temp-rewriteaof-bg-{pid}.aof"));
    let child = fork_child(
        || {
            let temp = pid_temp(std::process::id());
            let target = temp.with_extension("done");
            crate::persistence::write_rdb_file(dbs, functions, &target, opts, true, Some(&temp)).is_ok()
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
            crate::persistence::write_rdb_file(
                &node.keyspace.dbs,
                &node.keyspace.functions,
                &temp,
                opts,
                true,
                Some(&dir.join("temp-rewriteaof-fg.tmp")),
            )?;
            finish_rewrite(node, &temp, base_seq, keep_from)
        }
    }
}

/// Installs a finished base: rename it, point the manifest at it and the
/// incr files written since, delete the files it replaces.
pub fn finish_rewrite(node: &mut Parts<'_>, temp: &Path, seq: u64, keep_from: usize) -> Result<(), PersistError> {
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
