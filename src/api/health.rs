//! Liveness, preflight and shutdown routes.

use super::types::{Health, PreflightResponse, ShutdownResponse};
use super::AppState;
use crate::supervise::state::State as NodeState;
use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;

/// `GET /healthz`: 200 when every node is RUNNING, 503 otherwise.
pub async fn healthz(State(st): State<AppState>) -> (StatusCode, Json<Health>) {
    let total = st.sup.nodes.len();
    let running = st.sup.nodes.iter().filter(|n| n.status().state == NodeState::Running).count();
    let ok = running == total;
    let code = if ok { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE };
    (code, Json(Health { ok, nodes_running: running, nodes_total: total }))
}

/// `GET /v1/preflight`: the checks as slotd's process sees them.
pub async fn preflight() -> Json<PreflightResponse> {
    Json(PreflightResponse { checks: crate::preflight::run_checks() })
}

/// `POST /v1/shutdown`: stops every node, then slotd exits.
pub async fn shutdown(State(st): State<AppState>) -> (StatusCode, Json<ShutdownResponse>) {
    st.shutdown.trigger();
    (StatusCode::ACCEPTED, Json(ShutdownResponse { message: format!("stopping {} nodes, then slotd exits", st.sup.nodes.len()) }))
}
