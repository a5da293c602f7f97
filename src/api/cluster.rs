//! `POST /v1/cluster/create`: forms the cluster by hand (create = "manual").

use super::error::ApiError;
use super::types::CreateReport;
use super::AppState;
use crate::formation::{form_cluster, FormError, IfBusy};
use axum::extract::State;
use axum::Json;

pub async fn create(State(st): State<AppState>) -> Result<Json<CreateReport>, ApiError> {
    match form_cluster(&st.sup, IfBusy::Refuse).await {
        Ok(r) => Ok(Json(r)),
        Err(e @ (FormError::Busy | FormError::NodesDown(_))) => Err(ApiError::conflict(e.to_string())),
        Err(e @ FormError::Admin(_)) => Err(ApiError::internal(e.to_string())),
    }
}
