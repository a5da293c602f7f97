//! Lab routes: checkpoints (save / restore / list), scenario runs (each on
//! a fresh cluster of its own, never this one) and Prometheus metrics.

use super::body::JsonBody;
use super::error::ApiError;
use super::AppState;
use crate::checkpoint::{self, CheckpointError, CheckpointList, CheckpointReport, CheckpointRequest};
use crate::lab::runs::{LastResult, RunError, RunView};
use crate::lab::scenario::{self, ScenarioError};
use axum::extract::{Path, State};
use axum::http::{header, StatusCode};
use axum::response::IntoResponse;
use axum::Json;

fn err(e: CheckpointError) -> ApiError {
    match e {
        CheckpointError::BadName(_) => ApiError::bad_request(e.to_string()),
        CheckpointError::Unknown { .. } => ApiError::not_found(e.to_string()),
        CheckpointError::Mismatch { .. } => ApiError::conflict(e.to_string()),
        _ => ApiError::internal(e.to_string()),
    }
}

/// `GET /v1/lab/checkpoints`.
pub async fn list(State(st): State<AppState>) -> Json<CheckpointList> {
    Json(checkpoint::list(&st.sup))
}

/// `POST /v1/lab/checkpoints` with `{"name": "..."}`.
pub async fn save(State(st): State<AppState>, JsonBody(req): JsonBody<CheckpointRequest>) -> Result<Json<CheckpointReport>, ApiError> {
    let _guard = st.sup.formation_lock.lock().await;
    checkpoint::save(&st.sup, &st.events, &req.name).await.map(Json).map_err(err)
}

/// `POST /v1/lab/checkpoints/{name}/restore`.
pub async fn restore(State(st): State<AppState>, Path(name): Path<String>) -> Result<Json<CheckpointReport>, ApiError> {
    let _guard = st.sup.formation_lock.lock().await;
    let _ = st.faults.heal().await;
    checkpoint::restore(&st.sup, &st.events, &name).await.map(Json).map_err(err)
}

/// `GET /metrics` (Prometheus text format).
pub async fn metrics(State(st): State<AppState>) -> impl IntoResponse {
    let body = crate::metrics::render(&st.sup, &st.events).await;
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")], body)
}

/// One scenario in `GET /v1/lab/scenarios`.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct ScenarioInfo {
    pub name: String,
    pub description: String,
    pub steps: usize,
    /// Engines it runs on.
    pub engines: Vec<String>,
    pub last: Option<LastResult>,
}

/// Body of `POST /v1/lab/scenarios/{name}/run` (optional).
#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RunRequest {
    /// "builtin" (default) or "redis-server".
    pub engine: Option<String>,
}

/// Users' own scenarios, as `slotctl lab` finds them.
fn labs_dir() -> Option<std::path::PathBuf> {
    std::env::var_os("SLOTD_LABS_DIR").map(Into::into)
}

fn scenario_err(e: ScenarioError) -> ApiError {
    match e {
        ScenarioError::Unknown { .. } => ApiError::not_found(e.to_string()),
        ScenarioError::Parse { .. } => ApiError::internal(e.to_string()),
    }
}

/// `GET /v1/lab/scenarios`: every scenario with its last result.
pub async fn scenarios(State(st): State<AppState>) -> Result<Json<Vec<ScenarioInfo>>, ApiError> {
    let all = scenario::all(labs_dir().as_deref()).map_err(scenario_err)?;
    let mut last = st.labs.last_results();
    Ok(Json(
        all.into_iter()
            .map(|s| ScenarioInfo {
                last: last.remove(&s.name),
                steps: s.steps.len(),
                engines: s.setup.engines,
                name: s.name,
                description: s.description,
            })
            .collect(),
    ))
}

/// `POST /v1/lab/scenarios/{name}/run`: starts it and answers 202 at once.
pub async fn run(
    State(st): State<AppState>,
    Path(name): Path<String>,
    JsonBody(req): JsonBody<RunRequest>,
) -> Result<(StatusCode, Json<RunView>), ApiError> {
    // Only names here: a path would let an API caller read any file.
    if name.is_empty() || !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_') {
        return Err(ApiError::bad_request(format!("`{name}` is not a scenario name; GET /v1/lab/scenarios lists them")));
    }
    let sc = scenario::find(&name, labs_dir().as_deref()).map_err(scenario_err)?;
    let engine = req.engine.unwrap_or_else(|| "builtin".into());
    match st.labs.start(sc, &engine) {
        Ok(v) => Ok((StatusCode::ACCEPTED, Json(v))),
        Err(e @ RunError::Busy(_)) => Err(ApiError::conflict(e.to_string())),
        Err(e @ RunError::Engine(_)) => Err(ApiError::bad_request(e.to_string())),
    }
}

/// `GET /v1/lab/run`: the run going on or the last one (null before any).
pub async fn current_run(State(st): State<AppState>) -> Json<Option<RunView>> {
    Json(st.labs.view())
}
