//! Forming the cluster: one `form_cluster` for slotd's start-up (`create =
//! "auto"`) and `POST /v1/cluster/create` (`slotctl create`), under one lock,
//! so two creations never interleave their MEETs and REPLICATEs; and the
//! typed state that status reports.

use crate::cluster_admin::{self, AdminError, CreateReport};
use crate::supervise::state::State as NodeState;
use crate::supervise::Supervisor;
use std::fmt;
use std::time::Duration;

/// What slotd's own cluster creation is doing (None in status: never tried).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Formation {
    /// `create = "auto"`: waiting for every node to run.
    WaitingForNodes,
    Forming,
    /// Formed by this creation.
    Formed,
    /// The nodes already formed a healthy cluster; left as it was.
    AlreadyFormed,
    /// Across hosts only the first `[[hosts]]` entry's slotd forms the cluster.
    LeftTo(String),
    Failed(String),
}

impl fmt::Display for Formation {
    /// The text `/v1/status` carries in `cluster.formation`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Formation::WaitingForNodes => f.write_str("waiting for nodes"),
            Formation::Forming => f.write_str("forming"),
            Formation::Formed => f.write_str("formed"),
            Formation::AlreadyFormed => f.write_str("already formed"),
            Formation::LeftTo(host) => write!(f, "left to host {host}"),
            Formation::Failed(why) => write!(f, "failed: {why}"),
        }
    }
}

/// Why the cluster was not formed.
#[derive(Debug, thiserror::Error)]
pub enum FormError {
    #[error("a cluster creation is already running; wait for it to finish")]
    Busy,
    #[error("every node must be RUNNING to create the cluster; not running: {0}; start them with `slotctl start all`")]
    NodesDown(String),
    #[error("cluster creation failed: {0}")]
    Admin(#[from] AdminError),
}

/// How long creation may take: meeting, replication and the cluster
/// converging scale with node_timeout.
pub fn create_deadline(node_timeout_ms: u64) -> tokio::time::Instant {
    tokio::time::Instant::now() + Duration::from_secs(30) + Duration::from_millis(node_timeout_ms.saturating_mul(4))
}

/// Whether to wait for a running creation or give up at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IfBusy {
    Wait,
    Refuse,
}

/// Forms the cluster from slotd's nodes (or finds it formed), recording the
/// state for status.
///
/// # Errors
/// Another creation runs (with `IfBusy::Refuse`), a node is not RUNNING, or
/// the nodes refuse (partly joined, unreachable, deadline passed).
pub async fn form_cluster(sup: &Supervisor, if_busy: IfBusy) -> Result<CreateReport, FormError> {
    let _guard = match if_busy {
        IfBusy::Wait => sup.formation_lock.lock().await,
        IfBusy::Refuse => sup.formation_lock.try_lock().map_err(|_| FormError::Busy)?,
    };
    let down: Vec<String> = sup
        .nodes
        .iter()
        .filter(|n| n.status().state != NodeState::Running)
        .map(|n| format!("{} ({})", n.spec.name(), n.status().state))
        .collect();
    if !down.is_empty() {
        let e = FormError::NodesDown(down.join(", "));
        sup.set_formation(Formation::Failed(format!("nodes not running: {}", down.join(", "))));
        return Err(e);
    }
    let cfg = sup.config();
    // Across hosts: every other host's nodes must answer too.
    let mut silent = Vec::new();
    for n in cfg.cluster_nodes.iter().filter(|n| !cfg.nodes.contains(n)) {
        if !cluster_admin::ping(std::net::SocketAddr::new(n.host, n.port), Duration::from_secs(1)).await {
            silent.push(format!("{} on {} ({}:{} does not answer)", n.name(), n.host_name.as_deref().unwrap_or("?"), n.host, n.port));
        }
    }
    if !silent.is_empty() {
        let e = FormError::NodesDown(silent.join(", "));
        sup.set_formation(Formation::Failed(format!("nodes not answering: {}", silent.join(", "))));
        return Err(e);
    }
    let plan = crate::placement::plan(&cfg.cluster_nodes, cfg.cluster.replicas);
    for w in &plan.warnings {
        tracing::warn!("placement: {w}");
    }
    let masters: Vec<_> = plan.masters.iter().map(|m| m.addr).collect();
    let replicas: Vec<_> = plan.replicas.iter().map(|(r, m)| (r.addr, *m)).collect();
    sup.set_formation(Formation::Forming);
    match cluster_admin::create_planned(&masters, &replicas, cfg.cluster.replicas, create_deadline(cfg.cluster.node_timeout_ms)).await {
        Ok(r) => {
            sup.set_formation(if r.already_formed { Formation::AlreadyFormed } else { Formation::Formed });
            Ok(r)
        }
        Err(e) => {
            sup.set_formation(Formation::Failed(e.to_string()));
            Err(e.into())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_text_is_what_clients_match_on() {
        assert_eq!(Formation::Formed.to_string(), "formed");
        assert_eq!(Formation::AlreadyFormed.to_string(), "already formed");
        assert_eq!(Formation::WaitingForNodes.to_string(), "waiting for nodes");
        assert_eq!(Formation::Failed("x".into()).to_string(), "failed: x");
    }
}
