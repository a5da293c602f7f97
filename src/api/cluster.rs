//! `POST /v1/cluster/create`: forms the cluster by hand (create = "manual").

use super::error::ApiError;
use super::types::CreateReport;
use super::AppState;
use crate::supervise::state::State as NodeState;
use axum::extract::State;
use axum::Json;
use std::time::Duration;

/// How long creation may take: meeting, replication and the cluster
/// converging scale with node_timeout.
pub fn create_deadline(node_timeout_ms: u64) -> tokio::time::Instant {
    tokio::time::Instant::now() + Duration::from_secs(30) + Duration::from_millis(node_timeout_ms.saturating_mul(4))
}

pub async fn create(State(st): State<AppState>) -> Result<Json<CreateReport>, ApiError> {
    let _guard =
        st.create_lock.try_lock().map_err(|_| ApiError::conflict("a cluster creation is already running; wait for it to finish"))?;
    let down: Vec<String> = st
        .sup
        .nodes
        .iter()
        .filter(|n| n.status().state != NodeState::Running)
        .map(|n| format!("{} ({})", n.spec.name(), n.status().state))
        .collect();
    if !down.is_empty() {
        return Err(ApiError::conflict(format!(
            "every node must be RUNNING to create the cluster; not running: {}; start them with `slotctl start all`",
            down.join(", ")
        )));
    }
    let cfg = st.sup.config();
    let addrs: Vec<_> = st.sup.nodes.iter().map(|n| n.addr()).collect();
    st.sup.set_formation("forming");
    match crate::cluster_admin::create(&addrs, cfg.cluster.replicas, create_deadline(cfg.cluster.node_timeout_ms)).await {
        Ok(r) => {
            st.sup.set_formation(if r.already_formed { "already formed" } else { "formed" });
            Ok(Json(r))
        }
        Err(e) => {
            st.sup.set_formation(format!("failed: {e}"));
            Err(ApiError::internal(format!("cluster creation failed: {e}")))
        }
    }
}
