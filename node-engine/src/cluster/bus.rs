//! Cluster bus (placeholder until the gossip lands in this file).

use crate::server::SharedRef;

pub fn spawn(_shared: SharedRef, _listener: tokio::net::TcpListener) {}
