//! Routing decisions for keyed commands in cluster mode: serve, MOVED, ASK,
//! CROSSSLOT, TRYAGAIN or CLUSTERDOWN, following the cluster specification.

use crate::client::Client;
use crate::cmd::{flags, CmdError, CommandSpec};
use crate::node::Node;
use crate::slot::key_slot;

fn addr_of(node: &Node, id: &str) -> String {
    let kind = node.endpoint_type();
    node.cluster.as_ref().and_then(|c| c.nodes.get(id)).map(|n| format!("{}:{}", n.endpoint(kind), n.port)).unwrap_or_default()
}

/// Decides whether this node may run `cmd` for `client`.
///
/// # Errors
/// The redirect or refusal to send instead of running the command.
pub fn check(node: &mut Node, client: &mut Client, cmd: &CommandSpec, argv: &[&[u8]]) -> Result<(), CmdError> {
    let asking = std::mem::take(&mut client.asking);
    client.asked = asking;
    if client.from_master {
        return Ok(());
    }
    let mut slot: Option<u16> = None;
    let mut cross = false;
    let db = client.db;
    cmd.for_each_key(argv, |p| {
        let s = key_slot(argv[p]);
        match slot {
            None => {
                slot = Some(s);
                node.keyspace.dbs[db].set_slot_hint(Some((argv[p], s)));
            }
            Some(first) if first != s => cross = true,
            _ => {}
        }
    });
    let Some(slot) = slot else {
        return Ok(());
    };
    if cross {
        return Err(CmdError::new("CROSSSLOT Keys in request don't hash to the same slot"));
    }
    let now = node.now_ms;
    let Some(cluster) = node.cluster.as_ref() else {
        return Ok(());
    };
    let read_only_cmd = cmd.flags & flags::WRITE == 0;
    if !cluster.ok {
        let allow_reads = node.config.flag_named("cluster-allow-reads-when-down");
        if !(allow_reads && read_only_cmd) {
            return Err(CmdError::new("CLUSTERDOWN The cluster is down"));
        }
    }
    let Some(owner) = cluster.owners[slot as usize].clone() else {
        return Err(CmdError::new("CLUSTERDOWN Hash slot not served"));
    };
    let me = cluster.myself.clone();
    // Like Redis, MIGRATE runs here whenever the slot is open: a key deleted
    // or expired since GETKEYSINSLOT must not turn it into ASK/TRYAGAIN.
    if cmd.name == "migrate" && (cluster.migrating.contains_key(&slot) || cluster.importing.contains_key(&slot)) {
        return Ok(());
    }
    if owner == me {
        if let Some(target) = cluster.migrating.get(&slot).cloned() {
            let positions = cmd.key_positions(argv);
            let db = client.db;
            let missing = positions.iter().filter(|&&p| !node.keyspace.dbs[db].contains(argv[p], now)).count();
            if missing > 0 {
                if missing < positions.len() || positions.len() > 1 && missing != positions.len() {
                    return Err(CmdError::new("TRYAGAIN Multiple keys request during rehashing of slot"));
                }
                return Err(CmdError::new(format!("ASK {slot} {}", addr_of(node, &target))));
            }
        }
        return Ok(());
    }
    if cluster.importing.contains_key(&slot) && (asking || cmd.name == "restore-asking") {
        let positions = cmd.key_positions(argv);
        if positions.len() > 1 {
            let db = client.db;
            let missing = positions.iter().filter(|&&p| !node.keyspace.dbs[db].contains(argv[p], now)).count();
            if missing > 0 {
                return Err(CmdError::new("TRYAGAIN Multiple keys request during rehashing of slot"));
            }
        }
        return Ok(());
    }
    // A replica serves reads for its master's slots after READONLY.
    if client.readonly && read_only_cmd && cluster.myself_node().master_id.as_deref() == Some(owner.as_str()) {
        return Ok(());
    }
    Err(CmdError::new(format!("MOVED {slot} {}", addr_of(node, &owner))))
}
