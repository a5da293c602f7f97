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
