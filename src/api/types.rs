//! Request and response bodies of the HTTP API, shared by slotd and slotctl
//! so both sides always agree on the wire format. Bodies defined next to the
//! code that acts on them are re-exported here: this module is the one list
//! of the API's wire types.

pub use crate::checkpoint::{CheckpointList, CheckpointReport, CheckpointRequest};
pub use crate::cluster_admin::CreateReport;
pub use crate::events::EventsResponse;
pub use crate::faults::{DelayRequest, DropRequest, FaultsResponse, PartitionRequest};
pub use crate::preflight::{Check, Level};
pub use crate::reshard::{AddNodeRequest, MembershipReport, RebalanceRequest, ReshardRequest, SlotMap};
pub use crate::supervise::state::{ExitInfo, State};
use serde::{Deserialize, Serialize};

/// `{"error": "..."}` on every 4xx/5xx.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ErrorBody {
    pub error: String,
    /// Per-node outcomes when an action on several nodes partly failed.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub results: Vec<ActionResult>,
}

/// One node as slotd and the node itself report it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct NodeView {
    pub name: String,
    pub host: String,
    /// Its `[[hosts]]` entry (multi-host configs).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host_name: Option<String>,
    pub port: u16,
    pub state: State,
    pub pid: Option<u32>,
    /// Seconds since the current process started.
    pub uptime_s: Option<u64>,
    pub restarts: u32,
    pub adopted: bool,
    pub last_exit: Option<ExitInfo>,
    pub message: Option<String>,
    /// "master" / "slave" from INFO replication.
    pub role: Option<String>,
    pub master_port: Option<u16>,
    /// A replica's master_link_status ("up" once its first sync is done).
    pub master_link: Option<String>,
    pub node_id: Option<String>,
    /// Slot ranges from the node's own CLUSTER NODES line.
    pub slots: Vec<String>,
    pub cluster_state: Option<String>,
    pub rss_bytes: Option<u64>,
    pub cpu_percent: Option<f32>,
    /// ops/s, clients, keys, replication offset (flat in the JSON).
    #[serde(flatten, default)]
    pub load: crate::cluster_admin::Load,
    /// A replica's distance behind its master in bytes of the replication
    /// stream (master offset minus its own), when both answered.
    #[serde(default)]
    pub lag_bytes: Option<u64>,
    /// Seconds since a replica last heard from its master (-1: link down).
    #[serde(default)]
    pub lag_s: Option<i64>,
    pub log: String,
}

impl NodeView {
    /// A node known only by its address and state: nothing asked of it yet.
    pub fn bare(name: String, host: String, port: u16, state: State) -> NodeView {
        NodeView {
            name,
            host,
            host_name: None,
            port,
            state,
            pid: None,
            uptime_s: None,
            restarts: 0,
            adopted: false,
            last_exit: None,
            message: None,
            role: None,
            master_port: None,
            master_link: None,
            node_id: None,
            slots: Vec::new(),
            cluster_state: None,
            rss_bytes: None,
            cpu_percent: None,
            load: Default::default(),
            lag_bytes: None,
            lag_s: None,
            log: String::new(),
        }
    }
}

/// Cluster-wide view.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ClusterView {
    /// "ok" when every running node says cluster_state:ok, "fail" when any
    /// says fail, null when no node answered CLUSTER INFO.
    pub state: Option<String>,
    pub create: String,
    /// slotd's cluster creation: "waiting for nodes", "forming", "formed",
    /// "already formed", "failed: ..."; null when none was attempted.
    pub formation: Option<String>,
    pub nodes_running: usize,
    pub nodes_total: usize,
    /// `ready`, `in_sync` and `waiting_for` (see [`crate::readiness`]).
    #[serde(flatten, default)]
    pub readiness: crate::readiness::Readiness,
}

/// `GET /v1/status`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StatusResponse {
    pub slotd_pid: u32,
    pub slotd_uptime_s: u64,
    pub engine: String,
    pub config: Option<String>,
    pub data_dir: String,
    pub cluster: ClusterView,
    pub nodes: Vec<NodeView>,
    /// Which `[[hosts]]` entry answered (multi-host configs).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub local_host: Option<String>,
    /// Every host and whether its slotd answered (multi-host configs).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub hosts: Vec<HostView>,
}

/// One host of a multi-host cluster in `GET /v1/status`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct HostView {
    pub name: String,
    /// Its slotd's API address.
    pub api: String,
    pub reachable: bool,
    pub error: Option<String>,
    /// The host whose slotd answered this request.
    pub local: bool,
}

/// Body of `POST /v1/nodes/{node}/kill` (optional).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KillRequest {
    /// "SIGKILL", "KILL", "9", "TERM"...; default SIGKILL.
    pub signal: Option<String>,
}

/// Outcome for one node of an action.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ActionResult {
    pub node: String,
    pub ok: bool,
    pub state: Option<State>,
    pub error: Option<String>,
}

/// `POST /v1/nodes/{node}/{action}`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ActionResponse {
    pub action: String,
    pub results: Vec<ActionResult>,
}

/// `GET /v1/nodes/{node}/log`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LogChunk {
    pub path: String,
    /// Byte offset of `data` in the file.
    pub offset: u64,
    /// Pass as `offset` to get what follows.
    pub next_offset: u64,
    pub data: String,
}

/// `GET /v1/preflight`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PreflightResponse {
    pub checks: Vec<Check>,
}

/// `GET /healthz`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Health {
    pub ok: bool,
    pub nodes_running: usize,
    pub nodes_total: usize,
}

/// `POST /v1/shutdown`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ShutdownResponse {
    pub message: String,
}
