//! Memory accounting and `maxmemory`: used_memory as the counting allocator
//! reports it (RSS when none is installed), and eviction by the configured
//! `maxmemory-policy` with Redis's sampled approximations of LRU, LFU and
//! TTL order. A write that needs memory gets OOM when nothing can go.

use super::Node;
use crate::keyspace::{lru, Key};
use crate::util::events;

/// What `maxmemory-policy` selects.
#[derive(Clone, Copy, PartialEq, Debug)]
enum Policy {
    NoEviction,
    Lru { volatile: bool },
    Lfu { volatile: bool },
    Random { volatile: bool },
    Ttl,
}

fn policy(name: &str) -> Policy {
    match name {
        "allkeys-lru" => Policy::Lru { volatile: false },
        "volatile-lru" => Policy::Lru { volatile: true },
        "allkeys-lfu" => Policy::Lfu { volatile: false },
        "volatile-lfu" => Policy::Lfu { volatile: true },
        "allkeys-random" => Policy::Random { volatile: false },
        "volatile-random" => Policy::Random { volatile: true },
        "volatile-ttl" => Policy::Ttl,
        _ => Policy::NoEviction,
    }
}

/// Redis's eviction pool size: the best candidates kept between samples.
const POOL: usize = 16;

impl Node {
    /// Bytes in use: the counting allocator's total, else the RSS the cron sampled.
    pub fn used_memory(&mut self) -> u64 {
        let used = crate::util::alloc::used().unwrap_or(self.stats.rss_sample);
        self.stats.used_memory_peak = self.stats.used_memory_peak.max(used);
        used
    }

    /// Frees memory by the policy until under `maxmemory`: false when it
    /// cannot (noeviction, or nothing left to evict), so deny-oom commands
    /// must be refused.
    /// Whether this node evicts under its `maxmemory`: not a replica with
    /// `replica-ignore-maxmemory` (the default), whose master's DELs keep
    /// it in step (Redis's performEvictions).
    fn evicts(&self) -> bool {
        self.keyspace.maxmemory != 0 && !(self.is_replica() && self.config.flag_named("replica-ignore-maxmemory"))
    }

    /// The memory of every connection but the replicas' (INFO's
    /// mem_clients_normal, MEMORY STATS's clients.normal).
    pub fn normal_clients_memory(&self) -> usize {
        let replicas: std::collections::HashSet<crate::client::ClientId> = self.repl.replicas.iter().map(|r| r.client_id).collect();
        self.clients.map.iter().filter(|(id, _)| !replicas.contains(id)).map(|(_, c)| c.mem.total(c.out_pending.get())).sum()
    }

    /// Sets the limit the keyspace's tables grow under (keyspace::growth):
    /// the one eviction keeps, with what it does not count; none while a
    /// dataset loads (nothing is evicted then) or when the node does not evict.
    pub fn update_growth_limit(&self, not_counted: u64) {
        let limited = self.evicts() && !self.persistence.loading;
        crate::keyspace::growth::set_limit(if limited { self.keyspace.maxmemory.saturating_add(not_counted) } else { 0 });
    }

    pub fn evict_if_needed(&mut self) -> bool {
        let max = self.keyspace.maxmemory;
        let evicts = self.evicts();
        let not_counted = if evicts { self.not_counted_for_evict() } else { 0 };
        self.update_growth_limit(not_counted);
        if !evicts || self.used_memory().saturating_sub(not_counted) <= max {
            return true;
        }
        // Nothing is evicted while clients are paused (Redis's PAUSE_ACTION_EVICT).
        if self.writes_paused() {
            return true;
        }
        let pol = policy(self.config.get("maxmemory-policy").unwrap_or("noeviction"));
        if pol == Policy::NoEviction {
            return false;
        }
        let samples = self.config.int_named("maxmemory-samples", 5).clamp(1, 64) as usize;
        let lazy = self.config.get("lazyfree-lazy-eviction") == Some("yes");
        let now = self.now_ms;
        let mut pool: Vec<(u64, usize, Key)> = Vec::new();
        // Without the counting allocator the sampled RSS does not move while
        // we evict: count what the evicted entries held instead.
        let exact = crate::util::alloc::used().is_some();
        // What must go is fixed up front, and only what the deletions
        // themselves free counts against it (Redis's performEvictions): the
        // DELs propagated and the invalidations sent to tracking clients
        // grow memory too, and counting them would evict everything.
        let to_free = self.used_memory().saturating_sub(not_counted).saturating_sub(self.pushes_in_flight()).saturating_sub(max);
        if to_free == 0 {
            return true;
        }
        let mut freed = 0u64;
        while freed < to_free {
            let Some((db, key)) = self.pick_victim(pol, samples, now, &mut pool) else { return false };
            let before = self.used_memory();
            let Some(entry) = self.keyspace.dbs[db].remove(&key, now) else { continue };
            let approx = (entry.value.approx_size() + key.len()) as u64;
            if lazy && entry.value.free_effort() > crate::keyspace::lazyfree::THRESHOLD {
                self.keyspace.lazyfree.free(Box::new(entry), 1);
                // Freed by another thread soon: count what it held.
                freed += approx;
            } else {
                drop(entry);
                freed += if exact { before.saturating_sub(self.used_memory()) } else { approx };
            }
            self.stats.evicted_keys += 1;
            self.keyspace.dirty += 1;
            self.touch_key(db, &key);
            if self.propagation_wanted() {
                self.propagate(db, &[&b"DEL"[..], &key[..]]);
            }
            self.notify(db, events::EVICTED, "evicted", &key);
        }
        if !self.propagation.buf.is_empty() && self.propagation.held == 0 {
            self.feed_stream();
        }
        true
    }

    /// Pushes (invalidations, pub/sub messages) handed to other clients'
    /// connections and not yet taken: they reach those sockets before the
    /// next command, as Redis writes them out before it reads again, so they
    /// do not make this command evict (a tracking client's invalidations
    /// would otherwise feed eviction after eviction). Replicas' are
    /// already left out. Counted only when over the limit.
    fn pushes_in_flight(&self) -> u64 {
        self.clients.map.values().filter(|c| !c.flags.contains('S')).map(|c| c.out_pending.get() as u64).sum()
    }

    /// The next key to evict: a random one, or the best of a sampled pool
    /// (longest idle, least frequent, or soonest to expire).
    fn pick_victim(&mut self, pol: Policy, samples: usize, now: u64, pool: &mut Vec<(u64, usize, Key)>) -> Option<(usize, Key)> {
        let volatile = matches!(
            pol,
            Policy::Lru { volatile: true } | Policy::Lfu { volatile: true } | Policy::Random { volatile: true } | Policy::Ttl
        );
        if let Policy::Random { .. } = pol {
            let start = rand::random::<usize>() % self.keyspace.dbs.len().max(1);
            for i in 0..self.keyspace.dbs.len() {
                let db = (start + i) % self.keyspace.dbs.len();
                if let Some((k, _, _)) = self.keyspace.dbs[db].sample(volatile, 1).pop() {
                    return Some((db, k));
                }
            }
            return None;
        }
        for (db, d) in self.keyspace.dbs.iter().enumerate() {
            for (k, field, expire_at) in d.sample(volatile, samples) {
                let score = match pol {
                    Policy::Lru { .. } => lru::idle_ms(field, now),
                    Policy::Lfu { .. } => 255 - lru::lfu_counter(d.lru_mode, field, now) as u64,
                    _ => u64::MAX - expire_at,
                };
                if !pool.iter().any(|(_, pdb, pk)| *pdb == db && *pk == k) {
                    pool.push((score, db, k));
                }
            }
        }
        pool.sort_by_key(|p| std::cmp::Reverse(p.0));
        pool.truncate(POOL);
        // Best first; entries that vanished meanwhile are skipped.
        while !pool.is_empty() {
            let (_, db, k) = pool.remove(0);
            if self.keyspace.dbs[db].peek(&k).is_some() {
                return Some((db, k));
            }
        }
        None
    }
}
