//! Redis Cluster: slots, the cluster state, the gossip bus, failover.

pub mod bus;
pub mod redirect;
pub mod slot;
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
    Ok(())
}

/// The `# Replication` section of INFO.
pub fn replication_info(node: &Node) -> String {
    let role = if node.is_read_only_replica() { "slave" } else { "master" };
    let mut out = format!("# Replication\r\nrole:{role}\r\n");
    if let Some(c) = node.cluster.as_ref() {
        if let Some(master) = c.myself_node().master_id.as_ref().and_then(|m| c.nodes.get(m)) {
            out.push_str(&format!("master_host:{}\r\nmaster_port:{}\r\nmaster_link_status:up\r\n", master.ip, master.port));
        }
    }
    out.push_str(&format!("connected_slaves:0\r\nmaster_replid:{}\r\nmaster_replid2:0000000000000000000000000000000000000000\r\nmaster_repl_offset:0\r\nsecond_repl_offset:-1\r\nrepl_backlog_active:0\r\nrepl_backlog_size:1048576\r\nrepl_backlog_first_byte_offset:0\r\nrepl_backlog_histlen:0\r\n\r\n", node.run_id));
    out
}
