//! Moving hash slots between masters with Redis's own protocol, so it works
//! on builtin nodes and on redis-server alike: SETSLOT IMPORTING on the
//! target, MIGRATING on the source, GETKEYSINSLOT + MIGRATE ... REPLACE KEYS
//! in batches (each MIGRATE pipelined with the next GETKEYSINSLOT), then
//! SETSLOT NODE on the target, the source and every other master.
//!
//! The open-slot state on the two nodes is the checkpoint: stopping between
//! batches loses nothing, and running the move again (or `fix`) finishes it.

use super::progress::Job;
use super::ReshardError;
use crate::cluster_admin::{Conn, Resp};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::time::Duration;

/// How keys are moved.
#[derive(Debug, Clone, Copy)]
pub struct MoveOpts {
    /// Keys per MIGRATE (redis-cli's --cluster-pipeline, default 10 there).
    pub batch: usize,
    /// MIGRATE timeout in ms (redis-cli's --cluster-timeout).
    pub timeout_ms: u64,
}

impl Default for MoveOpts {
    fn default() -> Self {
        MoveOpts { batch: 500, timeout_ms: 60_000 }
    }
}

/// One node of a move: its id and address as the cluster announces it.
#[derive(Debug, Clone, PartialEq)]
pub struct Endpoint {
    pub id: String,
    pub addr: SocketAddr,
}

/// Connections reused across slots; one that failed is dropped (a broken
/// pipeline could otherwise hand a stale reply to the next command).
pub struct Pool {
    conns: HashMap<SocketAddr, Conn>,
    limit: Duration,
}

impl Pool {
    pub fn new(limit: Duration) -> Pool {
        Pool { conns: HashMap::new(), limit }
    }

    /// Sends commands in one round trip; error replies come back as [`Resp::Error`].
    ///
    /// # Errors
    /// The node cannot be reached or the connection broke.
    pub async fn pipe(&mut self, addr: SocketAddr, cmds: &[Vec<Vec<u8>>]) -> Result<Vec<Resp>, ReshardError> {
        if !self.conns.contains_key(&addr) {
            let c = Conn::connect(addr, self.limit).await?;
            self.conns.insert(addr, c);
        }
        let Some(conn) = self.conns.get_mut(&addr) else {
            return Err(ReshardError::Invalid(format!("no connection to {addr}")));
        };
        match conn.pipeline(cmds).await {
            Ok(r) => Ok(r),
            Err(e) => {
                self.conns.remove(&addr);
                Err(e.into())
            }
        }
    }

    /// One command.
    ///
    /// # Errors
    /// As [`Pool::pipe`].
    pub async fn cmd(&mut self, addr: SocketAddr, args: &[&[u8]]) -> Result<Resp, ReshardError> {
        let mut r = self.pipe(addr, &[args.iter().map(|a| a.to_vec()).collect()]).await?;
        r.pop().ok_or_else(|| ReshardError::Invalid(format!("no reply from {addr}")))
    }
}

/// `CLUSTER SETSLOT slot ...` as bytes.
fn setslot(slot: u16, what: &str, id: Option<&str>) -> Vec<Vec<u8>> {
    let mut v = vec![b"CLUSTER".to_vec(), b"SETSLOT".to_vec(), slot.to_string().into_bytes(), what.as_bytes().to_vec()];
    if let Some(id) = id {
        v.push(id.as_bytes().to_vec());
    }
    v
}

fn getkeys(slot: u16, n: usize) -> Vec<Vec<u8>> {
    vec![b"CLUSTER".to_vec(), b"GETKEYSINSLOT".to_vec(), slot.to_string().into_bytes(), n.to_string().into_bytes()]
}

fn keys_of(r: &Resp, addr: SocketAddr, slot: u16) -> Result<Vec<Vec<u8>>, ReshardError> {
    match r {
        Resp::Array(Some(items)) => Ok(items
            .iter()
            .filter_map(|i| match i {
                Resp::Bulk(Some(b)) => Some(b.clone()),
                _ => None,
            })
            .collect()),
        Resp::Array(None) => Ok(Vec::new()),
        Resp::Error(e) => Err(ReshardError::refused(addr, &format!("CLUSTER GETKEYSINSLOT {slot}"), e)),
        other => Err(ReshardError::Invalid(format!("{addr} answered CLUSTER GETKEYSINSLOT with {other:?}"))),
    }
}

fn ok(r: &Resp, addr: SocketAddr, what: &str) -> Result<(), ReshardError> {
    match r {
        Resp::Error(e) => Err(ReshardError::refused(addr, what, e)),
        _ => Ok(()),
    }
}

/// Sends every key of `slot` still on `src` to `dst`; returns how many moved.
/// Stops between batches when the job is cancelled (the slot stays open).
///
/// # Errors
/// A node unreachable, MIGRATE failing after retries, or cancellation.
pub async fn drain_slot(
    pool: &mut Pool,
    src: &Endpoint,
    dst: &Endpoint,
    slot: u16,
    opts: MoveOpts,
    job: &Job,
) -> Result<u64, ReshardError> {
    // MIGRATE blocks the source like it does in Redis: keep each call short
    // (adapting the batch) so the node keeps answering pings and is not
    // failed over while it moves a big slot.
    let max_batch = opts.batch.max(1);
    let mut batch = max_batch.min(100);
    let host = dst.addr.ip().to_string().into_bytes();
    let port = dst.addr.port().to_string().into_bytes();
    let timeout = opts.timeout_ms.to_string().into_bytes();
    let mut r = pool.pipe(src.addr, &[getkeys(slot, batch)]).await?;
    let mut keys = keys_of(&r.remove(0), src.addr, slot)?;
    let mut moved = 0u64;
    let (mut io_retries, mut nokey_rounds) = (0u32, 0u32);
    while !keys.is_empty() {
        if job.cancelled() {
            return Err(ReshardError::Cancelled { slot, src: src.addr, dst: dst.addr });
        }
        let n = keys.len() as u64;
        let mut migrate: Vec<Vec<u8>> =
            vec![b"MIGRATE".to_vec(), host.clone(), port.clone(), Vec::new(), b"0".to_vec(), timeout.clone(), b"REPLACE".to_vec()];
        // The target asks for the cluster password like any client.
        if let Some(cred) = crate::cluster_admin::password_for(dst.addr) {
            match cred.user {
                Some(user) => migrate.extend([b"AUTH2".to_vec(), user.into_bytes(), cred.password.into_bytes()]),
                None => migrate.extend([b"AUTH".to_vec(), cred.password.into_bytes()]),
            }
        }
        migrate.push(b"KEYS".to_vec());
        migrate.extend(keys);
        let t0 = std::time::Instant::now();
        let mut replies = pool.pipe(src.addr, &[migrate, getkeys(slot, batch)]).await?;
        let took = t0.elapsed();
        if took > Duration::from_millis(200) {
            batch = (batch / 2).max(1);
        } else if took < Duration::from_millis(50) {
            batch = (batch * 2).min(max_batch);
        }
        let next = replies.pop().unwrap_or(Resp::Array(None));
        match replies.pop() {
            Some(Resp::Simple(s)) if s == "NOKEY" => {
                // Keys deleted or expired since GETKEYSINSLOT; the next batch decides.
                nokey_rounds += 1;
                if nokey_rounds > 100 {
                    return Err(ReshardError::Invalid(format!(
                        "slot {slot}: {} keeps listing keys that MIGRATE does not find; check the node's log",
                        src.addr
                    )));
                }
            }
            Some(Resp::Error(e)) if e.starts_with("IOERR") && io_retries < 5 => {
                io_retries += 1;
                tracing::warn!("slot {slot}: MIGRATE {} -> {}: {e}; retrying", src.addr, dst.addr);
                tokio::time::sleep(Duration::from_millis(200 * u64::from(io_retries))).await;
            }
            Some(Resp::Error(e)) => {
                return Err(ReshardError::Invalid(format!(
                "slot {slot}: MIGRATE from {} to {} failed: {e}; the slot stays open and no key is lost: fix the cause, then `slotctl fix`",
                src.addr, dst.addr
            )))
            }
            _ => {
                moved += n;
                job.add_keys(n);
                io_retries = 0;
            }
        }
        keys = keys_of(&next, src.addr, slot)?;
    }
    Ok(moved)
}

/// Assigns `slot` to `dst` on `dst`, then `src`, then every other master, as
/// redis-cli does. Returns false when `src` still holds keys (a write raced
/// in), so the caller drains again.
///
/// # Errors
/// The target or source refusing for another reason.
pub async fn assign(
    pool: &mut Pool,
    src: Option<&Endpoint>,
    dst: &Endpoint,
    others: &[SocketAddr],
    slot: u16,
) -> Result<bool, ReshardError> {
    let cmd = setslot(slot, "NODE", Some(&dst.id));
    let what = format!("CLUSTER SETSLOT {slot} NODE {}", dst.id);
    let r = pool.cmd(dst.addr, &cmd.iter().map(Vec::as_slice).collect::<Vec<_>>()).await?;
    ok(&r, dst.addr, &what)?;
    if let Some(src) = src {
        match pool.cmd(src.addr, &cmd.iter().map(Vec::as_slice).collect::<Vec<_>>()).await? {
            Resp::Error(e) if e.contains("still hold keys") => return Ok(false),
            // A master that just lost its last slot turns itself into a
            // replica of the new owner (cluster-allow-replica-migration), as in Redis.
            Resp::Error(e) if e.contains("only with masters") => {}
            r => ok(&r, src.addr, &what)?,
        }
    }
    for o in others {
        if Some(*o) == src.map(|s| s.addr) || *o == dst.addr {
            continue;
        }
        // Gossip carries the new owner anyway; a node that is down is not fatal.
        match pool.cmd(*o, &cmd.iter().map(Vec::as_slice).collect::<Vec<_>>()).await {
            Ok(Resp::Error(e)) => tracing::warn!("{o} refused `{what}`: {e}; it will learn the owner by gossip"),
            Err(e) => tracing::warn!("{e}; it will learn the owner of slot {slot} by gossip"),
            Ok(_) => {}
        }
    }
    Ok(true)
}

/// Moves one slot from `src` to `dst` (also finishing a slot a previous run
/// left open between them).
///
/// # Errors
/// See [`drain_slot`] and [`assign`].
pub async fn move_slot(
    pool: &mut Pool,
    src: &Endpoint,
    dst: &Endpoint,
    others: &[SocketAddr],
    slot: u16,
    opts: MoveOpts,
    job: &Job,
) -> Result<u64, ReshardError> {
    job.current_slot.store(i64::from(slot), Ordering::Relaxed);
    if job.cancelled() {
        return Err(ReshardError::Cancelled { slot, src: src.addr, dst: dst.addr });
    }
    let imp = setslot(slot, "IMPORTING", Some(&src.id));
    let mut dst_owns = false;
    match pool.pipe(dst.addr, &[imp]).await?.remove(0) {
        // An earlier run already handed the slot to the target: only finish.
        Resp::Error(e) if e.contains("already the owner") => dst_owns = true,
        r => ok(&r, dst.addr, &format!("CLUSTER SETSLOT {slot} IMPORTING {}", src.id))?,
    }
    match pool.pipe(src.addr, &[setslot(slot, "MIGRATING", Some(&dst.id))]).await?.remove(0) {
        Resp::Error(e) if e.contains("not the owner") && dst_owns => {}
        r => ok(&r, src.addr, &format!("CLUSTER SETSLOT {slot} MIGRATING {}", dst.id))?,
    }
    let mut moved = 0;
    for _ in 0..5 {
        moved += drain_slot(pool, src, dst, slot, opts, job).await?;
        if assign(pool, Some(src), dst, others, slot).await? {
            job.slots_done.fetch_add(1, Ordering::Relaxed);
            return Ok(moved);
        }
    }
    Err(ReshardError::Invalid(format!(
        "slot {slot}: {} keeps getting new keys while it is being emptied; the slot stays open: run `slotctl fix` when writes calm down",
        src.addr
    )))
}

/// Counts keys per slot on `addr` in one round trip.
///
/// # Errors
/// The node cannot be reached.
pub async fn count_keys(pool: &mut Pool, addr: SocketAddr, slots: &[u16]) -> Result<u64, ReshardError> {
    let mut total = 0u64;
    for chunk in slots.chunks(2000) {
        let cmds: Vec<Vec<Vec<u8>>> =
            chunk.iter().map(|s| vec![b"CLUSTER".to_vec(), b"COUNTKEYSINSLOT".to_vec(), s.to_string().into_bytes()]).collect();
        for r in pool.pipe(addr, &cmds).await? {
            if let Resp::Int(n) = r {
                total += n.max(0) as u64;
            }
        }
    }
    Ok(total)
}
