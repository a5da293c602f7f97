//! Full-sync snapshots: the dataset as a Redis-compatible RDB payload (so a
//! redis-server replica can sync from us and we from it), and loading one.

use crate::node::Node;

/// Encodes every database as an RDB payload.
///
/// # Errors
/// When the snapshot cannot be produced.
pub fn encode(node: &Node) -> Result<Vec<u8>, String> {
    let bytes = crate::persistence::snapshot_bytes(node);
    if bytes.is_empty() {
        return Err("the RDB encoder produced nothing".into());
    }
    Ok(bytes)
}

/// Replaces the dataset with the content of an RDB payload.
///
/// # Errors
/// A description of what is wrong with the payload.
pub fn load(node: &mut Node, rdb: &[u8]) -> Result<(), String> {
    crate::persistence::load_snapshot(node, rdb).map(|_| ()).map_err(|e| format!("cannot load the master's snapshot: {e}"))
}
