//! Client memory: eviction (`maxmemory-clients`, Redis 7.0), where the
//! registry keeps the sum of every client's memory and past the limit the
//! biggest evictable clients are disconnected until the sum is under it;
//! and idle clients' query buffers given back, as Redis's clientsCron does.

use super::Node;
use crate::client::{ClientId, ClientMem, Push};

impl Node {
    /// `maxmemory-clients` in bytes (a percentage is of `maxmemory`); 0: off.
    pub fn client_mem_limit(&self) -> usize {
        let v = self.config.get("maxmemory-clients").unwrap_or("0");
        match v.strip_suffix('%') {
            Some(p) => {
                let p: u64 = p.parse().unwrap_or(0);
                self.keyspace.maxmemory.saturating_mul(p) as usize / 100
            }
            None => crate::config::parse_memory(v).map_or(0, |b| b.max(0) as usize),
        }
    }

    /// After a config change: the limit is read again and, when it is on,
    /// the sum is taken afresh (connections only keep it while it is on),
    /// then clients over it are evicted at once, as CONFIG SET does in Redis.
    pub fn refresh_client_eviction(&mut self) {
        self.maxmemory_clients = self.client_mem_limit();
        if self.maxmemory_clients == 0 {
            return;
        }
        let mut sum = 0;
        for c in self.clients.map.values() {
            let t = c.mem.total(c.out_pending.get());
            c.mem.counted.set(t);
            sum += t;
        }
        self.clients.mem_total.set(sum);
        self.evict_clients_if_needed();
    }

    /// Re-adds a client's memory to the sum after its connection updated
    /// its parts (only while `maxmemory-clients` is on); evicts when that
    /// takes the sum over the limit. Whether the client is still connected.
    pub fn recount_client(&mut self, id: ClientId, mem: &ClientMem) -> bool {
        let Some(c) = self.clients.map.get(&id) else { return false };
        let now = mem.total(c.out_pending.get());
        let total = &self.clients.mem_total;
        total.set(total.get() + now - mem.counted.get().min(total.get()));
        mem.counted.set(now);
        self.evict_clients_if_needed();
        self.clients.map.contains_key(&id)
    }

    /// Takes a client's memory out of the sum (it disconnected or was evicted).
    pub fn uncount_client(&self, mem: &ClientMem) {
        let total = &self.clients.mem_total;
        total.set(total.get().saturating_sub(mem.counted.replace(0)));
    }

    /// Pushed bytes grew a client's output: counted at once, evicted at the
    /// end of the batch (`evict_due`).
    pub fn count_pushed(&self, c: &crate::client::ClientInfo, bytes: usize) {
        if self.maxmemory_clients == 0 {
            return;
        }
        c.mem.counted.set(c.mem.counted.get() + bytes);
        let total = &self.clients.mem_total;
        total.set(total.get() + bytes);
        if self.clients.evict_due.get() {
            return;
        }
        if total.get() > self.maxmemory_clients {
            self.clients.evict_due.set(true);
        }
    }

    /// Evicts clients, biggest first, until the clients' memory is within
    /// `maxmemory-clients` (Redis's evictClients). Replicas, clients with
    /// CLIENT NO-EVICT on and our master's link are never evicted.
    pub fn evict_clients_if_needed(&mut self) {
        self.clients.evict_due.set(false);
        let limit = self.maxmemory_clients;
        if limit == 0 || self.clients.mem_total.get() <= limit {
            return;
        }
        let mut candidates: Vec<(usize, ClientId)> = self
            .clients
            .map
            .iter()
            .filter(|(_, c)| !c.no_evict && !c.flags.contains('S') && !c.flags.contains('M'))
            .map(|(id, c)| (c.mem.counted.get(), *id))
            .collect();
        candidates.sort_unstable_by(|a, b| b.cmp(a));
        for (_, id) in candidates {
            if self.clients.mem_total.get() <= limit {
                break;
            }
            let Some(c) = self.clients.map.remove(&id) else { continue };
            tracing::info!(client = %c.addr, tot_mem = c.mem.counted.get(), "Evicting client");
            self.uncount_client(&c.mem);
            self.stats.evicted_clients += 1;
            let _ = c.tx.send(Push::Kill);
        }
    }

    /// Redis's clientsCronResizeQueryBuffer, run each cron tick: clients
    /// idle for 2 s with an empty query buffer free it (a pool of idle
    /// connections then costs no buffers); busy ones with a buffer over
    /// 32 KB trim it to their recent peak (one big argument does not pin a
    /// big buffer to a client that now sends small commands).
    pub fn resize_query_buffers(&self) {
        let now = self.now_ms;
        for c in self.clients.map.values() {
            let idle = now.saturating_sub(c.last_interaction_ms) >= 2000;
            if c.mem.qbuf_cap.get() > 0 && c.mem.qbuf.get() == 0 && idle {
                let _ = c.tx.send(Push::FreeQueryBuffer);
            } else if c.mem.qbuf_cap.get() > crate::client::QUERY_RESIZE_THRESHOLD {
                // Only a buffer that could shrink wakes its connection.
                let peak = c.mem.qbuf_peak.get();
                if peak * 2 < c.mem.qbuf_cap.get() {
                    let _ = c.tx.send(Push::TrimQueryBuffer(peak));
                }
                c.mem.qbuf_peak.set(c.mem.qbuf.get());
            }
        }
    }
}
