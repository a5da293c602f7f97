//! Fault routes: partition, delay, drop, heal, and the list of active faults.

use super::error::ApiError;
use super::AppState;
use crate::faults::{DelayRequest, DropRequest, FaultError, FaultsResponse, PartitionRequest};
use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde::de::DeserializeOwned;

fn body<T: DeserializeOwned>(b: &Bytes, example: &str) -> Result<T, ApiError> {
    serde_json::from_slice(b).map_err(|e| ApiError::bad_request(format!("invalid JSON body: {e}; expected e.g. {example}")))
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
pub async fn partition(State(st): State<AppState>, b: Bytes) -> Result<Json<FaultsResponse>, ApiError> {
    let req: PartitionRequest = body(&b, r#"{"groups": [["6380"], ["6381","6382"]], "for_ms": 10000}"#)?;
    st.faults.partition(req).await.map(Json).map_err(err)
}

/// `POST /v1/faults/delay`.
pub async fn delay(State(st): State<AppState>, b: Bytes) -> Result<Json<FaultsResponse>, ApiError> {
    let req: DelayRequest = body(&b, r#"{"node": "6380", "ms": 200, "jitter_ms": 50}"#)?;
    st.faults.delay(req).await.map(Json).map_err(err)
}

/// `POST /v1/faults/drop`.
pub async fn drop_frames(State(st): State<AppState>, b: Bytes) -> Result<Json<FaultsResponse>, ApiError> {
    let req: DropRequest = body(&b, r#"{"node": "6380", "rate": 0.3}"#)?;
    st.faults.drop_frames(req).await.map(Json).map_err(err)
}

/// `POST /v1/faults/heal`.
pub async fn heal(State(st): State<AppState>) -> Result<Json<FaultsResponse>, ApiError> {
    st.faults.heal().await.map(Json).map_err(err)
}
