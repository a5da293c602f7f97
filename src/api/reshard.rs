//! Slot migration and membership routes: reshard, rebalance and fix run as
//! one background job at a time (polled at `GET /v1/cluster/job`, cancelled
//! with `POST /v1/cluster/job/cancel`); check, slots, add and delete answer
//! directly.

use super::body::JsonBody;
use super::error::ApiError;
use super::AppState;
use crate::reshard::ops::{self, FixStep};
use crate::reshard::plan::CheckReport;
use crate::reshard::progress::{Job, JobView, Jobs};
use crate::reshard::topology::Topology;
use crate::reshard::{AddNodeRequest, MembershipReport, RebalanceRequest, ReshardError, ReshardRequest, SlotMap};
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

#[derive(Clone)]
pub struct ReshardState {
    app: AppState,
    jobs: Arc<Jobs>,
}

/// The reshard routes with their own job registry.
pub fn routes<S>(app: AppState) -> Router<S> {
    let st = ReshardState { jobs: app.jobs.clone(), app };
    Router::new()
        .route("/v1/cluster/reshard", post(reshard))
        .route("/v1/cluster/rebalance", post(rebalance))
        .route("/v1/cluster/fix", post(fix))
        .route("/v1/cluster/job", get(job))
        .route("/v1/cluster/job/cancel", post(cancel))
        .route("/v1/cluster/check", get(check))
        .route("/v1/cluster/slots", get(slots))
        .route("/v1/cluster/nodes/add", post(add_node))
        .route("/v1/cluster/nodes/:node/delete", post(del_node))
        .with_state(st)
}

impl From<ReshardError> for ApiError {
    fn from(e: ReshardError) -> ApiError {
        let status = match &e {
            // A node the cluster does not know is a bad request here, not a missing route.
            ReshardError::Invalid(_) | ReshardError::UnknownNode { .. } => StatusCode::BAD_REQUEST,
            ReshardError::Conflict(_) | ReshardError::Cancelled { .. } => StatusCode::CONFLICT,
            ReshardError::Node(_) | ReshardError::Refused { .. } => StatusCode::BAD_GATEWAY,
        };
        ApiError::new(status, e.to_string())
    }
}

/// Every configured node, running ones first: where to start discovering the cluster.
fn seeds(st: &ReshardState) -> Vec<SocketAddr> {
    let mut v: Vec<(bool, SocketAddr)> =
        st.app.sup.nodes.iter().map(|n| (n.status().state != crate::supervise::state::State::Running, n.addr())).collect();
    v.sort();
    v.into_iter().map(|x| x.1).collect()
}

async fn topology(st: &ReshardState) -> Result<Topology, ApiError> {
    Ok(Topology::load(&seeds(st)).await?)
}

/// `?wait=true`: answer when the job ends instead of at once.
#[derive(Debug, Default, Deserialize)]
pub struct WaitQuery {
    #[serde(default)]
    pub wait: bool,
}

fn busy(j: &Job) -> ApiError {
    ApiError::conflict(format!(
        "a {} is already running ({}); follow it with `slotctl job`, or cancel it with `slotctl cancel`",
        j.kind, j.summary
    ))
}

/// Starts `work` as the job; with `wait` answers when it ends.
async fn launch<F, Fut>(
    st: &ReshardState,
    kind: &str,
    summary: String,
    wait: bool,
    work: F,
) -> Result<(StatusCode, Json<JobView>), ApiError>
where
    F: FnOnce(Arc<Job>) -> Fut,
    Fut: Future<Output = Result<(), ReshardError>> + Send + 'static,
{
    let job = st.jobs.begin(kind, summary).map_err(|j| busy(&j))?;
    let fut = work(job.clone());
    let j2 = job.clone();
    let handle = tokio::spawn(async move {
        match fut.await {
            Ok(()) => tracing::info!("{} {} done: {}", j2.kind, j2.id, crate::reshard::progress::line(&j2.view())),
            Err(e) => tracing::warn!("{} {} stopped: {e}", j2.kind, j2.id),
        }
    });
    if wait {
        let _ = handle.await;
        return Ok((StatusCode::OK, Json(job.view())));
    }
    Ok((StatusCode::ACCEPTED, Json(job.view())))
}

pub async fn reshard(
    State(st): State<ReshardState>,
    Query(q): Query<WaitQuery>,
    JsonBody(req): JsonBody<ReshardRequest>,
) -> Result<(StatusCode, Json<JobView>), ApiError> {
    let topo = topology(&st).await?;
    let mv = ops::plan_reshard(&topo, &req)?;
    let o = ops::reshard_opts(&req);
    let summary = format!("{} -> {}, {} slots", mv.from.addr, mv.to.addr, mv.slots.len());
    launch(&st, "reshard", summary, q.wait, move |job| async move { ops::run_moves(&topo, vec![mv], o, &job).await }).await
}

pub async fn rebalance(
    State(st): State<ReshardState>,
    Query(q): Query<WaitQuery>,
    JsonBody(req): JsonBody<RebalanceRequest>,
) -> Result<(StatusCode, Json<JobView>), ApiError> {
    let topo = topology(&st).await?;
    let moves = ops::plan_rebalance(&topo, &req)?;
    let o = ops::rebalance_opts(&req);
    let n: usize = moves.iter().map(|m| m.slots.len()).sum();
    let summary = if moves.is_empty() { "already balanced".to_string() } else { format!("{n} slots in {} moves", moves.len()) };
    launch(&st, "rebalance", summary, q.wait, move |job| async move { ops::run_moves(&topo, moves, o, &job).await }).await
}

pub async fn fix(State(st): State<ReshardState>, Query(q): Query<WaitQuery>) -> Result<(StatusCode, Json<JobView>), ApiError> {
    let topo = topology(&st).await?;
    let steps: Vec<FixStep> = ops::plan_fix(&topo)?;
    let summary = if steps.is_empty() { "nothing to fix".to_string() } else { format!("{} slots to close", steps.len()) };
    launch(&st, "fix", summary, q.wait, move |job| async move {
        ops::run_fix(&topo, steps, crate::reshard::mover::MoveOpts::default(), &job).await
    })
    .await
}

/// The running or last job; null when none ran since slotd started.
pub async fn job(State(st): State<ReshardState>) -> Json<Option<JobView>> {
    Json(st.jobs.current().map(|j| j.view()))
}

pub async fn cancel(State(st): State<ReshardState>) -> Result<Json<JobView>, ApiError> {
    let Some(j) = st.jobs.current() else {
        return Err(ApiError::conflict("no reshard, rebalance or fix has run; nothing to cancel"));
    };
    j.cancel();
    // The mover stops after the batch in flight; answer once it has.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(120);
    while j.state() == crate::reshard::progress::JobState::Running && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    Ok(Json(j.view()))
}

pub async fn check(State(st): State<ReshardState>) -> Result<Json<CheckReport>, ApiError> {
    let topo = topology(&st).await?;
    Ok(Json(crate::reshard::plan::check(&topo)))
}

pub async fn slots(State(st): State<ReshardState>) -> Result<Json<SlotMap>, ApiError> {
    let topo = topology(&st).await?;
    Ok(Json(ops::slot_map(&topo)))
}

pub async fn add_node(State(st): State<ReshardState>, JsonBody(req): JsonBody<AddNodeRequest>) -> Result<Json<MembershipReport>, ApiError> {
    let host = st.app.sup.config().nodes.first().map(|n| n.host).unwrap_or(std::net::IpAddr::from([127, 0, 0, 1]));
    let new = ops::parse_node_addr(&req.node, host)?;
    let cfg = st.app.sup.config();
    let deadline =
        tokio::time::Instant::now() + Duration::from_secs(20) + Duration::from_millis(cfg.cluster.node_timeout_ms.saturating_mul(2));
    Ok(Json(ops::add_node(&seeds(&st), new, req.replica_of.as_deref(), deadline).await?))
}

pub async fn del_node(State(st): State<ReshardState>, Path(node): Path<String>) -> Result<Json<MembershipReport>, ApiError> {
    if st.jobs.current().is_some_and(|j| j.state() == crate::reshard::progress::JobState::Running) {
        return Err(ApiError::conflict("a slot move is running; wait for it (`slotctl job`) before deleting a node"));
    }
    Ok(Json(ops::del_node(&seeds(&st), &node).await?))
}

/// OpenAPI schemas of these routes' bodies, merged into the main document.
pub fn schemas() -> serde_json::Map<String, serde_json::Value> {
    use serde_json::json;
    let s = |t: &str| json!({"type": t});
    let ns = |t: &str| json!({"type": [t, "null"]});
    let node = json!({"type": "string", "description": "port (6381), name (node6381), host:port or node id"});
    let v = json!({
        "ReshardRequest": {"type": "object", "additionalProperties": false, "required": ["from", "to"], "properties": {
            "from": node, "to": node,
            "slots": {"type": "integer", "minimum": 1, "description": "how many slots (the source's lowest); or `slot`"},
            "slot": {"type": "string", "description": "one slot or a range S-E; or `slots`"},
            "batch": {"type": "integer", "minimum": 1, "description": "keys per MIGRATE (default 500)"},
            "timeout_ms": {"type": "integer", "minimum": 1, "description": "MIGRATE timeout (default 60000)"}
        }},
        "RebalanceRequest": {"type": "object", "additionalProperties": false, "properties": {
            "weights": {"type": "object", "additionalProperties": {"type": "number", "minimum": 0}, "description": "node -> weight; others weigh 1; 0 empties a master"},
            "threshold_pct": {"type": "number", "description": "do nothing when every master is within this percent of its share (default 2)"},
            "batch": s("integer"), "timeout_ms": s("integer")
        }},
        "AddNodeRequest": {"type": "object", "additionalProperties": false, "required": ["node"], "properties": {
            "node": {"type": "string", "description": "port of the new node (on nodes.host) or host:port"},
            "replica_of": {"type": "string", "description": "master to replicate; omitted: joins as an empty master"}
        }},
        "JobView": {"type": ["object", "null"], "properties": {
            "id": s("integer"), "kind": {"type": "string", "enum": ["reshard", "rebalance", "fix"]}, "summary": s("string"),
            "state": {"type": "string", "enum": ["running", "done", "failed", "cancelled"]},
            "slots_total": s("integer"), "slots_done": s("integer"), "keys_total": s("integer"), "keys_done": s("integer"),
            "current_slot": ns("integer"), "elapsed_ms": s("integer"), "keys_per_s": s("number"), "eta_s": ns("number"),
            "message": ns("string"), "notes": {"type": "array", "items": s("string")}
        }},
        "CheckReport": {"type": "object", "properties": {
            "ok": s("boolean"), "problems": {"type": "array", "items": s("string")}, "nodes": s("integer"), "masters": s("integer"),
            "slots_covered": s("integer"), "keys": s("integer")
        }},
        "MembershipReport": {"type": "object", "properties": {"node": s("string"), "id": s("string"), "role": s("string"), "message": s("string")}},
        "SlotMap": {"type": "object", "properties": {
            "masters": {"type": "array", "items": {"type": "object", "properties": {
                "id": s("string"), "addr": ns("string"), "port": ns("integer"), "slots": s("string"), "slot_count": s("integer"),
                "keys": ns("integer"), "flags": s("string"), "reachable": s("boolean"),
                "replicas": {"type": "array", "items": {"type": "object", "properties": {"id": s("string"), "port": ns("integer"), "flags": s("string"), "link": s("string")}}}
            }}},
            "open_slots": {"type": "array", "items": {"type": "object", "properties": {"slot": s("integer"), "node": s("string"), "state": s("string"), "peer": s("string")}}},
            "slots_covered": s("integer"), "state": s("string")
        }}
    });
    match v {
        serde_json::Value::Object(m) => m,
        _ => serde_json::Map::new(),
    }
}
