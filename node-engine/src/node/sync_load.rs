//! A replica receiving its master's snapshot after `+FULLRESYNC` (Redis's
//! readSyncBulkPayload). `repl-diskless-load disabled` saves it to a temp
//! file, moved over the dump file, then loaded; `on-empty-db` (when empty)
//! and `swapdb` parse it from the socket as it arrives. `swapdb` keeps the
//! old dataset until the new one is complete: served meanwhile when the
//! master's history is ours (async loading), behind LOADING otherwise, and
//! back in place if the transfer fails. Either way the node serves clients
//! between pieces of the load (`loading-process-events-interval-bytes`).

use super::SharedRef;
use crate::keyspace::Db;
use crate::persistence::rdb::incremental::{Progress, StreamLoad};
use crate::persistence::rdb::LoadStats;
use crate::util::time::unix_ms;
use std::io::Write;
use std::time::Duration;
use tokio::net::TcpStream;

const MARK_LEN: usize = 40;

/// How the master frames the payload.
enum Framing {
    /// `$<len>`: a file of known size (disk-based sync).
    Len(usize),
    /// `$EOF:<mark>`: streamed from the child, ended by the mark.
    Mark(Vec<u8>),
}

/// A loaded snapshot: what the load found, and the bytes that followed it
/// (the start of the replication stream).
pub(super) struct Loaded {
    pub stats: LoadStats,
    pub rest: Vec<u8>,
    pub bytes: usize,
}

/// The link task's view of the transfer.
struct Transfer<'a> {
    shared: &'a SharedRef,
    generation: u64,
    stream: &'a mut TcpStream,
    limit: Duration,
}

impl Transfer<'_> {
    fn current(&self) -> bool {
        self.shared.node.borrow().repl.generation == self.generation
    }

    /// The next bytes from the master; silence for `repl-timeout` or a
    /// closed connection ends the transfer.
    async fn read(&mut self, chunk: &mut [u8]) -> Result<usize, String> {
        let (shared, generation) = (self.shared, self.generation);
        let still = || shared.node.borrow().repl.generation == generation;
        let silence = "Timeout receiving bulk data from MASTER... If the problem persists try to set the 'repl-timeout' parameter in redis.conf to a larger value.";
        let n = super::replica_link::read_some(self.stream, chunk, self.limit, &still, silence).await?;
        self.shared.gate.pass().await;
        let mut node = self.shared.node.borrow_mut();
        node.stats.net_repl_input_bytes += n as u64;
        node.repl.last_io_ms = unix_ms();
        node.repl.sync_read_bytes += n as u64;
        Ok(n)
    }
}

/// Receives and loads the snapshot. `buf` holds what was read past the
/// `+FULLRESYNC` line. None: the master changed meanwhile (nothing loaded).
///
/// # Errors
/// The transfer broke or the payload does not load; the dataset is then
/// the old one (`swapdb`) or empty.
pub(super) async fn receive(
    shared: &SharedRef,
    generation: u64,
    stream: &mut TcpStream,
    mut buf: Vec<u8>,
    limit: Duration,
    new_id: &str,
) -> Result<Option<Loaded>, String> {
    let still = || shared.node.borrow().repl.generation == generation;
    let header = super::replica_link::read_line(stream, &mut buf, limit, &still).await?;
    let framing = if let Some(mark) = header.strip_prefix("$EOF:").filter(|m| m.len() >= MARK_LEN) {
        Framing::Mark(mark.as_bytes()[..MARK_LEN].to_vec())
    } else if let Some(len) = header.strip_prefix('$').and_then(|l| l.parse::<usize>().ok()) {
        Framing::Len(len)
    } else if let Some(e) = header.strip_prefix('-') {
        return Err(format!("MASTER aborted replication with an error: {e}"));
    } else {
        return Err(format!(
            "Bad protocol from MASTER, the first byte is not '$' (we received '{header}'), are you sure the host and port are right?"
        ));
    };
    let (diskless, swap) = {
        let mut node = shared.node.borrow_mut();
        let mode = node.config.get("repl-diskless-load").unwrap_or("disabled").to_ascii_lowercase();
        let empty = node.keyspace.dbs.iter().all(|d| d.is_empty());
        node.repl.sync_read_bytes = 0;
        node.repl.sync_total_bytes = match framing {
            Framing::Len(n) => n as u64,
            Framing::Mark(_) => 0,
        };
        match mode.as_str() {
            "swapdb" => (true, true),
            "on-empty-db" => (empty, false),
            _ => (false, false),
        }
    };
    let target = if diskless { "to parser" } else { "to disk" };
    match &framing {
        Framing::Mark(_) => tracing::info!("MASTER <-> REPLICA sync: receiving streamed RDB from master with EOF {target}"),
        Framing::Len(n) => tracing::info!("MASTER <-> REPLICA sync: receiving {n} bytes from master {target}"),
    }
    let mut t = Transfer { shared, generation, stream, limit };
    if diskless {
        load_from_socket(&mut t, framing, buf, swap, new_id).await
    } else {
        save_then_load(&mut t, framing, buf).await
    }
}

/// `repl-diskless-load disabled`: the payload goes to `temp-<time>.<pid>.rdb`,
/// then replaces the dump file and is loaded from it.
async fn save_then_load(t: &mut Transfer<'_>, framing: Framing, mut buf: Vec<u8>) -> Result<Option<Loaded>, String> {
    let (dir, rdb_path) = {
        let node = t.shared.node.borrow();
        (node.config.dir().to_path_buf(), crate::persistence::rdb_path(&node.config))
    };
    let temp = dir.join(format!("temp-{}.{}.rdb", unix_ms() / 1000, std::process::id()));
    let received = receive_to_file(t, &framing, &mut buf, &temp).await;
    let rest = match received {
        Ok(Some(rest)) => rest,
        Ok(None) => {
            let _ = std::fs::remove_file(&temp);
            return Ok(None);
        }
        Err(e) => {
            let _ = std::fs::remove_file(&temp);
            return Err(e);
        }
    };
    // A running BGSAVE is stopped first: it would rename its file over this one.
    before_load(t.shared, false);
    if let Err(e) = std::fs::rename(&temp, &rdb_path) {
        let _ = std::fs::remove_file(&temp);
        return Err(format!("Failed trying to rename the temp DB into {} in MASTER <-> REPLICA synchronization: {e}", rdb_path.display()));
    }
    let data = std::fs::read(&rdb_path).map_err(|e| format!("Failed trying to load the MASTER synchronization DB from disk: {e}"))?;
    let bytes = data.len();
    t.shared.node.borrow_mut().set_loading(true, false, bytes as u64);
    let mut load = StreamLoad::new(limits(t.shared));
    load.push(&data);
    drop(data);
    let r = run_steps(t, &mut load, None).await;
    t.shared.node.borrow_mut().set_loading(false, false, 0);
    let remove_after = {
        let node = t.shared.node.borrow();
        node.config.flag_named("rdb-del-sync-files") && node.config.save_points().is_empty() && !node.config.flag_named("appendonly")
    };
    if remove_after {
        tracing::info!("Removing the RDB file obtained from the master. This replica has persistence disabled");
        let _ = std::fs::remove_file(&rdb_path);
    }
    if let Err(e) = r {
        tracing::warn!("Failed trying to load the MASTER synchronization DB from disk: {e}");
        empty_dataset(&mut t.shared.node.borrow_mut());
        return Err(e);
    }
    Ok(Some(Loaded { stats: load.into_stats(), rest, bytes }))
}

/// Writes the payload to `temp` as it arrives. Returns what followed it.
async fn receive_to_file(
    t: &mut Transfer<'_>,
    framing: &Framing,
    buf: &mut Vec<u8>,
    temp: &std::path::Path,
) -> Result<Option<Vec<u8>>, String> {
    let io = |e: std::io::Error| format!("Write error writing to the DB dump file needed for MASTER <-> REPLICA synchronization: {e}");
    let mut file = std::io::BufWriter::with_capacity(1 << 20, std::fs::File::create(temp).map_err(io)?);
    let mut written = 0usize;
    let mut tail: Vec<u8> = Vec::with_capacity(MARK_LEN);
    let mut chunk = vec![0u8; 64 * 1024];
    let mut pending = std::mem::take(buf);
    loop {
        match framing {
            Framing::Len(len) => {
                let take = pending.len().min(len - written);
                file.write_all(&pending[..take]).map_err(io)?;
                written += take;
                if written == *len {
                    pending.drain(..take);
                    break;
                }
            }
            Framing::Mark(mark) => {
                file.write_all(&pending).map_err(io)?;
                written += pending.len();
                tail.extend_from_slice(&pending);
                if tail.len() > MARK_LEN {
                    tail.drain(..tail.len() - MARK_LEN);
                }
                if tail == *mark {
                    pending.clear();
                    break;
                }
            }
        }
        pending.clear();
        if !t.current() {
            return Ok(None);
        }
        let n = t.read(&mut chunk).await.map_err(|e| format!("I/O error trying to sync with MASTER: {e}"))?;
        pending.extend_from_slice(&chunk[..n]);
    }
    let file = file.into_inner().map_err(|e| io(e.into_error()))?;
    if matches!(framing, Framing::Mark(_)) {
        // The mark is not part of the file.
        file.set_len((written - MARK_LEN) as u64).map_err(io)?;
    }
    file.sync_all().map_err(io)?;
    Ok(Some(pending))
}

/// `on-empty-db` and `swapdb`: the payload is parsed as it arrives, into
/// the dataset (emptied first) or, with `swapdb`, into new databases that
/// replace it only once complete.
async fn load_from_socket(
    t: &mut Transfer<'_>,
    framing: Framing,
    buf: Vec<u8>,
    swap: bool,
    new_id: &str,
) -> Result<Option<Loaded>, String> {
    let (mut temp, async_load) = {
        let node = t.shared.node.borrow();
        let temp: Option<Vec<Db>> = swap.then(|| node.keyspace.dbs.iter().map(Db::empty_like).collect());
        // Our data is an earlier point of the history the master sends: it may be served meanwhile.
        (temp, swap && node.repl.replid == new_id)
    };
    before_load(t.shared, swap);
    t.shared.node.borrow_mut().set_loading(true, async_load, 0);
    let mut load = StreamLoad::new(limits(t.shared));
    let result = socket_steps(t, &framing, buf, &mut load, temp.as_mut()).await;
    t.shared.node.borrow_mut().set_loading(false, false, 0);
    let rest = match result {
        Ok(Some(rest)) => rest,
        other => {
            if let Err(e) = &other {
                tracing::warn!("Failed trying to load the MASTER synchronization DB from socket: {e}");
            }
            match temp {
                Some(mut dbs) => {
                    tracing::info!("MASTER <-> REPLICA sync: Discarding temporary DB in background");
                    t.shared.node.borrow_mut().keyspace.lazyfree.free_dbs(&mut dbs);
                }
                None => empty_dataset(&mut t.shared.node.borrow_mut()),
            }
            return other.map(|_| None);
        }
    };
    let bytes = load.loaded_bytes();
    let stats = load.into_stats();
    if let Some(mut dbs) = temp {
        let mut node = t.shared.node.borrow_mut();
        node.attach_to_new_master();
        tracing::info!("MASTER <-> REPLICA sync: Swapping active DB with loaded DB");
        node.touch_all();
        for (i, new) in dbs.iter_mut().enumerate() {
            node.keyspace.dbs[i].swap_contents(new);
        }
        for i in 0..node.keyspace.dbs.len() {
            node.wake_blocked_in(i);
        }
        node.keyspace.lazyfree.free_dbs(&mut dbs);
        tracing::info!("MASTER <-> REPLICA sync: Discarding old DB in background");
    }
    Ok(Some(Loaded { stats, rest, bytes }))
}

/// Feeds the socket's bytes to the load until the payload ends. Returns what followed it.
async fn socket_steps(
    t: &mut Transfer<'_>,
    framing: &Framing,
    mut pending: Vec<u8>,
    load: &mut StreamLoad,
    mut temp: Option<&mut Vec<Db>>,
) -> Result<Option<Vec<u8>>, String> {
    let mut fed = 0usize;
    let mut tail: Vec<u8> = Vec::with_capacity(MARK_LEN);
    let mut after: Vec<u8> = Vec::new();
    let mut chunk = vec![0u8; 64 * 1024];
    loop {
        // Hand over what arrived: for a sized payload no more than its size.
        let complete = match framing {
            Framing::Len(len) => {
                let take = pending.len().min(len - fed);
                load.push(&pending[..take]);
                after.extend_from_slice(&pending[take..]);
                fed += take;
                fed == *len
            }
            Framing::Mark(mark) => {
                load.push(&pending);
                tail.extend_from_slice(&pending);
                if tail.len() > MARK_LEN {
                    tail.drain(..tail.len() - MARK_LEN);
                }
                // Nothing follows the mark until we acknowledge (the master waits for our REPLCONF ACK).
                tail == *mark
            }
        };
        pending.clear();
        match step(t, load, temp.as_deref_mut(), complete) {
            Ok(Some(Progress::Done)) => break,
            Ok(Some(Progress::Budget)) => {
                tokio::task::yield_now().await;
                continue;
            }
            Ok(Some(Progress::NeedData)) => {}
            Ok(None) => return Ok(None),
            Err(e) => {
                report_rdb_error(load.loaded_bytes(), &e);
                return Err(e);
            }
        }
        match t.read(&mut chunk).await {
            Ok(n) => pending.extend_from_slice(&chunk[..n]),
            Err(e) => {
                if t.current() {
                    report_rdb_error(load.loaded_bytes(), "Unexpected EOF reading RDB file");
                }
                return Err(e);
            }
        }
    }
    let mut rest = load.take_rest();
    if let Framing::Mark(mark) = framing {
        // The mark follows the image.
        while rest.len() < MARK_LEN {
            let n = t.read(&mut chunk).await?;
            rest.extend_from_slice(&chunk[..n]);
        }
        if rest[..MARK_LEN] != mark[..] {
            return Err("Replication stream EOF marker is broken".into());
        }
        rest.drain(..MARK_LEN);
    }
    rest.extend_from_slice(&after);
    Ok(Some(rest))
}

/// Redis's words for a load that broke off: the suite and operators grep them.
fn report_rdb_error(offset: usize, reason: &str) {
    tracing::warn!(
        "Internal error in RDB reading offset {offset} -> {reason}. Failure loading rdb format from socket, assuming connection error, resuming operation."
    );
}

/// Runs steps over a payload that is all there (loaded from the file).
async fn run_steps(t: &mut Transfer<'_>, load: &mut StreamLoad, mut temp: Option<&mut Vec<Db>>) -> Result<(), String> {
    loop {
        match step(t, load, temp.as_deref_mut(), true)? {
            Some(Progress::Done) => return Ok(()),
            Some(_) => tokio::task::yield_now().await,
            None => return Err("the master changed during the load".into()),
        }
    }
}

/// One bounded piece of the load (`loading-process-events-interval-bytes`),
/// with `key-load-delay` after each key. None: the master changed.
fn step(t: &mut Transfer<'_>, load: &mut StreamLoad, temp: Option<&mut Vec<Db>>, complete: bool) -> Result<Option<Progress>, String> {
    let mut node = t.shared.node.borrow_mut();
    if node.repl.generation != t.generation {
        return Ok(None);
    }
    let drop_expired = !node.is_read_only_replica();
    load_piece(&mut node, load, temp, drop_expired, complete).map(Some).map_err(|e| e.to_string())
}

/// Decodes one bounded piece of a load into the node's databases (or
/// `temp`): `loading-process-events-interval-bytes`, with `key-load-delay`
/// after each key, and INFO's progress updated.
pub(super) fn load_piece(
    node: &mut super::Node,
    load: &mut StreamLoad,
    temp: Option<&mut Vec<Db>>,
    drop_expired: bool,
    complete: bool,
) -> Result<Progress, crate::persistence::rdb::DecodeError> {
    let budget = node.config.int_named("loading-process-events-interval-bytes", 2 << 20).max(1024) as usize;
    let delay = node.config.int_named("key-load-delay", 0);
    let now = unix_ms();
    let dbs: &mut [Db] = match temp {
        Some(t) => t,
        None => &mut node.keyspace.dbs,
    };
    let r = load.step(dbs, now, drop_expired, budget, complete, &mut || debug_delay(delay));
    if let Some(p) = node.persistence.load_progress.as_mut() {
        p.loaded_bytes = load.loaded_bytes() as u64;
    }
    r
}

/// `key-load-delay`: microseconds after each key; a negative value -N
/// sleeps one microsecond once every N keys on average (Redis's debugDelay).
fn debug_delay(usec: i64) {
    let usec = if usec < 0 { u64::from(rand::random::<u64>() % usec.unsigned_abs() == 0) } else { usec as u64 };
    if usec > 0 {
        std::thread::sleep(Duration::from_micros(usec));
    }
}

fn limits(shared: &SharedRef) -> crate::keyspace::Limits {
    shared.node.borrow().keyspace.dbs.first().map(|d| d.limits).unwrap_or_default()
}

/// What happens before the new data comes in: a running snapshot child is
/// stopped (it would save or send what is about to go), and unless the old
/// dataset stays until the swap, it is emptied and our own replicas and
/// backlog are dropped (Redis's replicationAttachToNewMaster).
fn before_load(shared: &SharedRef, keep_old: bool) {
    let mut node = shared.node.borrow_mut();
    if matches!(
        node.persistence.child.as_ref().map(|c| &c.kind),
        Some(crate::persistence::ChildKind::Rdb | crate::persistence::ChildKind::ReplSync)
    ) {
        crate::persistence::kill_child(&mut node.persistence_parts());
    }
    if !keep_old {
        node.attach_to_new_master();
        tracing::info!("MASTER <-> REPLICA sync: Flushing old data");
        empty_dataset(&mut node);
    }
    tracing::info!("MASTER <-> REPLICA sync: Loading DB in memory");
}

/// Empties every database (a failed load leaves no half dataset).
fn empty_dataset(node: &mut super::Node) {
    node.touch_all();
    let ks = &mut node.keyspace;
    ks.lazyfree.free_dbs(&mut ks.dbs);
}
