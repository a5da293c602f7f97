//! Slot migration and cluster membership, driven over RESP like redis-cli
//! does it: reshard, rebalance, fix, check, the slot map, add-node and
//! del-node. The HTTP API runs these; slotctl draws their progress.

pub mod mover;
pub mod ops;
pub mod plan;
pub mod progress;
pub mod topology;

use crate::cluster_admin::AdminError;
use serde::{Deserialize, Serialize};
use std::net::SocketAddr;

/// Why a cluster operation failed or was refused. Messages say what to do.
#[derive(Debug, thiserror::Error)]
pub enum ReshardError {
    #[error(transparent)]
    Node(#[from] AdminError),
    #[error("node {addr} refused `{command}`: {message}")]
    Refused { addr: SocketAddr, command: String, message: String },
    #[error("unknown node `{key}`; the cluster has: {known}")]
    UnknownNode { key: String, known: String },
    /// Not possible in the cluster's current state (HTTP 409).
    #[error("{0}")]
    Conflict(String),
    /// A bad request (HTTP 400).
    #[error("{0}")]
    Invalid(String),
    #[error("interrupted while moving slot {slot} from {src} to {dst}; no key is lost: the slot stays open (MIGRATING/IMPORTING) and `slotctl fix` or the same reshard again finishes it")]
    Cancelled { slot: u16, src: SocketAddr, dst: SocketAddr },
}

impl ReshardError {
    pub fn refused(addr: SocketAddr, command: &str, message: &str) -> ReshardError {
        ReshardError::Refused { addr, command: command.to_string(), message: message.to_string() }
    }
}

/// `POST /v1/cluster/reshard`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReshardRequest {
    /// Source master: port, node name, host:port or node id.
    pub from: String,
    /// Target master.
    pub to: String,
    /// How many slots to move (taken from the source's lowest slots); or `slot`.
    pub slots: Option<usize>,
    /// One slot or a range "S-E" to move; or `slots`.
    pub slot: Option<String>,
    /// Keys per MIGRATE (default 500).
    pub batch: Option<usize>,
    /// MIGRATE timeout in ms (default 60000).
    pub timeout_ms: Option<u64>,
}

/// `POST /v1/cluster/rebalance`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RebalanceRequest {
    /// Node (port, name or id) -> weight; masters not listed weigh 1; 0 empties a master.
    #[serde(default)]
    pub weights: std::collections::BTreeMap<String, f64>,
    /// Do nothing when every master is within this percent of its share (default 2, like redis-cli).
    pub threshold_pct: Option<f64>,
    pub batch: Option<usize>,
    pub timeout_ms: Option<u64>,
}

/// `POST /v1/cluster/nodes/add`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AddNodeRequest {
    /// Port of the new node (on the configured host) or host:port.
    pub node: String,
    /// Make it a replica of this master; otherwise it joins as an empty master.
    pub replica_of: Option<String>,
}

/// What add-node / del-node did.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct MembershipReport {
    pub node: String,
    pub id: String,
    /// "master" or "replica of PORT" after add; "removed" after del.
    pub role: String,
    pub message: String,
}

/// `GET /v1/cluster/slots`: the slot map per master.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SlotMap {
    pub masters: Vec<MasterView>,
    /// Nodes that are neither a master with slots' replica nor a master (e.g. unjoined).
    pub open_slots: Vec<OpenSlot>,
    pub slots_covered: usize,
    /// "ok" when every reachable node says cluster_state:ok.
    pub state: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct MasterView {
    pub id: String,
    pub addr: Option<String>,
    pub port: Option<u16>,
    pub slots: String,
    pub slot_count: usize,
    pub keys: Option<u64>,
    pub flags: String,
    pub reachable: bool,
    pub replicas: Vec<ReplicaView>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ReplicaView {
    pub id: String,
    pub port: Option<u16>,
    pub flags: String,
    pub link: String,
}

/// A slot left open by an unfinished move.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct OpenSlot {
    pub slot: u16,
    /// Port (or id) of the node with the marker.
    pub node: String,
    /// "migrating" or "importing".
    pub state: String,
    /// The other end of the move.
    pub peer: String,
}
