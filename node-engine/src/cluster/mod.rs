//! Redis Cluster: slots, the cluster state, the gossip bus, failover.

pub mod bus;
pub mod failover;
pub mod fault;
pub mod gossip;
pub mod handler;
pub mod nodes_conf;

pub mod state;

pub use state::ClusterState;

use crate::node::Node;
use rand::Rng;

/// A random 40-hex-character id (node ids, run ids, replication ids).
pub fn random_hex_id() -> String {
    let mut rng = rand::thread_rng();
    (0..40).map(|_| char::from(b"0123456789abcdef"[rng.gen_range(0..16)])).collect()
}

/// Sets up cluster state when `cluster-enabled yes`: loads nodes.conf or
/// creates a fresh identity.
///
/// # Errors
/// A message naming the cluster config file when it exists but cannot be used.
pub fn init(node: &mut Node) -> Result<(), String> {
    if !node.config.cluster_enabled() {
        return Ok(());
    }
    let state = ClusterState::load_or_create(&node.config)?;
    if let Some(me) = state.nodes.get(&state.myself) {
        if me.master_id.is_some() {
            for db in &mut node.dbs {
                db.expire_enabled = false;
            }
        }
    }
    node.cluster = Some(Box::new(state));
    // Keep the stream history so a promoted replica can serve partial resyncs.
    node.repl.backlog_active = true;
    Ok(())
}

/// The `# Replication` section of INFO.
pub fn replication_info(node: &Node) -> String {
    crate::replication::info(node)
}
