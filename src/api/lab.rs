//! Lab routes: checkpoints (save / restore / list) and Prometheus metrics.

use super::body::JsonBody;
use super::error::ApiError;
use super::AppState;
use crate::checkpoint::{self, CheckpointError, CheckpointList, CheckpointReport, CheckpointRequest};
use axum::extract::{Path, State};
use axum::http::header;
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
