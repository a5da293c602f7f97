//! Redis Cluster: the cluster state and its rules. The rules work on a
//! `&mut ClusterState` and an [`Env`] (what they read of the rest of the
//! node) and return [`Effect`]s (what the rest of the node must do); the
//! node carries the effects out. Bus I/O lives with the node's tasks.

pub mod failover;
pub mod fault;
pub mod gossip;
pub mod handler;
pub mod nodes_conf;

pub mod state;

pub use state::ClusterState;

use state::NodeId;

/// What the cluster rules read from the rest of the node, taken once per call.
#[derive(Debug, Clone, Default)]
pub struct Env {
    pub now_ms: u64,
    /// Our replication offset (gossiped; ranks replicas in elections).
    pub repl_offset: u64,
    pub require_full_coverage: bool,
    pub replica_no_failover: bool,
    pub replica_validity_factor: u64,
    pub allow_replica_migration: bool,
    pub migration_barrier: usize,
}

/// What the cluster rules ask the rest of the node to do.
#[derive(Debug)]
pub enum Effect {
    /// A frame back on the link the message came from (PONG to PING/MEET).
    Reply(Vec<u8>),
    /// A frame to one node over our link to it.
    To(NodeId, Vec<u8>),
    /// A frame to every linked node.
    Broadcast(Vec<u8>),
    /// Deliver a message published on another node to our subscribers.
    Publish { channel: Vec<u8>, message: Vec<u8> },
    /// A shard-channel message from another node of this shard.
    PublishShard { channel: Vec<u8>, message: Vec<u8> },
    /// Keys of slots this node no longer serves are dropped.
    DropSlotKeys(Vec<u16>),
    /// Replicate from this address (a new master), or stop replicating (None: promoted).
    Replicate(Option<(String, u16)>),
    /// Clients held by a manual-failover pause go on (and get redirected).
    ResumePausedClients,
}

/// The effects of one rule call.
pub type Effects = Vec<Effect>;
