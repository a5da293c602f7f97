//! Appending executed writes: the buffer, the write to the incr file at the
//! end of each batch, group-commit fsync under `always`, once a second under
//! `everysec`.

use super::*;

/// Records executed write commands in the AOF buffer; `wait_durable` (end of a
/// client's batch) or cron writes it out.
pub fn feed_aof(p: &mut crate::persistence::Persistence, stream: &[u8]) {
    let Some(aof) = p.aof.as_mut() else {
        return;
    };
    if p.aof_timestamps {
        // A `#TS:` annotation when the second changed, for point-in-time
        // recovery with `redis-check-aof --truncate-to-timestamp`.
        let now = unix_ms() / 1000;
        if now > aof.last_timestamp {
            aof.last_timestamp = now;
            aof.buf.extend_from_slice(format!("#TS:{now}\r\n").as_bytes());
        }
    }
    aof.buf.extend_from_slice(stream);
}

/// Writes the buffered commands to the current incr file (in the node thread,
/// like Redis's write in beforeSleep: a page-cache write, no fsync).
pub(super) fn flush(aof: &mut AofState) {
    if aof.buf.is_empty() {
        return;
    }
    if aof.flush_sleep_us > 0 {
        std::thread::sleep(std::time::Duration::from_micros(aof.flush_sleep_us));
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

pub fn write_out(aof: &mut AofState) {
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
pub fn flush_and_sync(node: &mut Parts<'_>) {
    if let Some(aof) = node.persistence.aof.as_mut() {
        flush(aof);
        let f = aof.sync.file.borrow().clone();
        if f.sync_data().is_ok() {
            aof.sync.synced.set(aof.sync.written.get());
        }
    }
}

/// Per tick: retry failed writes, fsync once a second under everysec.
pub fn cron(node: &mut Parts<'_>) {
    let policy = FsyncPolicy::from_config(node.config);
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

pub(super) fn open_append(path: &Path) -> Result<File, PersistError> {
    std::fs::OpenOptions::new().create(true).append(true).open(path).map_err(|e| io_err(path, e))
}

pub(super) fn file_size(p: &Path) -> u64 {
    std::fs::metadata(p).map(|m| m.len()).unwrap_or(0)
}
