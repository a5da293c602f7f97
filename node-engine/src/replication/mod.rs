//! Replication: the replica's link to its master and the master's stream to
//! its replicas. The node's role in cluster mode is decided by the cluster
//! state; this module moves the data.

use crate::node::Node;
use crate::server::SharedRef;

/// Replication state of a node.
#[derive(Debug, Default)]
pub struct ReplState {
    /// The master we replicate from, if any: (ip, port).
    pub master: Option<(String, u16)>,
    /// Bytes of the replication stream produced (master) or applied (replica).
    pub offset: u64,
}

/// Our replication offset (gossiped so the best replica wins elections).
pub fn offset(node: &Node) -> u64 {
    node.repl.offset
}

/// Makes this node a replica of the cluster node `master_id`.
pub fn become_replica_of(node: &mut Node, master_id: &str) {
    let Some(c) = node.cluster.as_mut() else { return };
    if master_id == c.myself {
        return;
    }
    let addr = c.nodes.get(master_id).map(|n| (n.ip.clone(), n.port));
    let me = c.myself_mut();
    me.master_id = Some(master_id.to_string());
    me.flags.master = false;
    me.flags.replica = true;
    // A replica serves no slots of its own.
    let mine: Vec<u16> = me.slots.iter().collect();
    for s in mine {
        c.set_owner(s, None);
    }
    c.migrating.clear();
    c.importing.clear();
    c.dirty_config = true;
    for db in &mut node.dbs {
        db.expire_enabled = false;
    }
    node.repl.master = addr;
}

/// Stops replicating: this node is a master now and keeps its data.
pub fn promote(node: &mut Node) {
    node.repl.master = None;
    for db in &mut node.dbs {
        db.expire_enabled = true;
    }
}

/// Called from the cluster cron: keeps the replica link in step with the role.
pub fn cron(_shared: &SharedRef, node: &mut Node) {
    if let Some(c) = node.cluster.as_ref() {
        let want = c.myself_node().master_id.as_ref().and_then(|m| c.nodes.get(m)).map(|n| (n.ip.clone(), n.port));
        if want != node.repl.master {
            node.repl.master = want;
        }
    }
}
