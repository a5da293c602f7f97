//! Connections MIGRATE keeps open to its targets, as Redis does, so moving
//! a slot key by key does not reconnect for every key.

use std::net::TcpStream;

/// Cached connections to migration targets: "host:port" -> (stream, last use in unix ms).
#[derive(Default)]
pub struct MigrateCache {
    pub conns: std::collections::HashMap<String, (TcpStream, u64)>,
}

impl std::fmt::Debug for MigrateCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "MigrateCache({} connections)", self.conns.len())
    }
}

/// Redis closes a cached MIGRATE connection idle this long (MIGRATE_SOCKET_CACHE_TTL)...
const IDLE_MS: u64 = 10_000;
/// ...and keeps at most this many (MIGRATE_SOCKET_CACHE_ITEMS).
const MAX_CACHED: usize = 64;

impl MigrateCache {
    /// Keeps `stream` for the next MIGRATE to `target`, making room by
    /// closing the least recently used connection.
    pub fn keep(&mut self, target: String, stream: TcpStream, now: u64) {
        if self.conns.len() >= MAX_CACHED && !self.conns.contains_key(&target) {
            let oldest = self.conns.iter().min_by_key(|(_, (_, at))| *at).map(|(t, _)| t.clone());
            if let Some(t) = oldest {
                self.conns.remove(&t);
            }
        }
        self.conns.insert(target, (stream, now));
    }

    /// Closes connections unused for 10 s (from the cron).
    pub fn close_idle(&mut self, now: u64) {
        self.conns.retain(|_, (_, at)| now.saturating_sub(*at) < IDLE_MS);
    }
}
