//! Fault routes: partition, delay, drop, heal, and the list of active faults.

use super::body::JsonBody;
use super::error::ApiError;
use super::AppState;
use crate::faults::{DelayRequest, DropRequest, FaultError, FaultsResponse, PartitionRequest};
use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;

/// A fault error as the API answers it.
pub fn fault_error(e: FaultError) -> ApiError {
    err(e)
}

fn err(e: FaultError) -> ApiError {
    match e {
        FaultError::Unsupported(_) => ApiError::conflict(e.to_string()),
        FaultError::Select(_) => ApiError::not_found(e.to_string()),
        FaultError::Invalid(_) => ApiError::bad_request(e.to_string()),
        FaultError::Node { .. } | FaultError::Token { .. } => ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
    }
}

/// `GET /v1/faults`.
pub async fn list(State(st): State<AppState>) -> Json<FaultsResponse> {
    Json(st.faults.status().await)
}

/// `POST /v1/faults/partition`.
pub async fn partition(State(st): State<AppState>, JsonBody(req): JsonBody<PartitionRequest>) -> Result<Json<FaultsResponse>, ApiError> {
    st.faults.partition(req).await.map(Json).map_err(err)
}

/// `POST /v1/faults/delay`.
pub async fn delay(State(st): State<AppState>, JsonBody(req): JsonBody<DelayRequest>) -> Result<Json<FaultsResponse>, ApiError> {
    st.faults.delay(req).await.map(Json).map_err(err)
}

/// `POST /v1/faults/drop`.
pub async fn drop_frames(State(st): State<AppState>, JsonBody(req): JsonBody<DropRequest>) -> Result<Json<FaultsResponse>, ApiError> {
    st.faults.drop_frames(req).await.map(Json).map_err(err)
}

/// `POST /v1/faults/heal`.
pub async fn heal(State(st): State<AppState>) -> Result<Json<FaultsResponse>, ApiError> {
    st.faults.heal().await.map(Json).map_err(err)
}
