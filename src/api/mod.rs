//! The HTTP API (axum): status, node actions, cluster creation, preflight,
//! shutdown, and its own OpenAPI description. `app(state)` is the whole
//! router, so tests drive it with `oneshot` without a socket.

pub mod body;
pub mod cluster;
pub mod error;
pub mod events;
pub mod faults;
pub mod health;
pub mod lab;
pub mod nodes;
pub mod openapi;
pub mod reshard;
pub mod types;

use crate::shutdown::Shutdown;
use crate::supervise::Supervisor;
use axum::extract::{Request, State};
use axum::http::{header, Method, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use error::ApiError;
use std::sync::Arc;
use std::time::Instant;

/// Every route: (method, OpenAPI path). The OpenAPI document and a test are
/// both checked against this list.
pub const ROUTES: &[(&str, &str)] = &[
    ("GET", "/healthz"),
    ("GET", "/v1/openapi.json"),
    ("GET", "/v1/status"),
    ("GET", "/v1/nodes/{node}"),
    ("GET", "/v1/nodes/{node}/log"),
    ("POST", "/v1/nodes/{node}/start"),
    ("POST", "/v1/nodes/{node}/stop"),
    ("POST", "/v1/nodes/{node}/restart"),
    ("POST", "/v1/nodes/{node}/kill"),
    ("POST", "/v1/nodes/{node}/pause"),
    ("POST", "/v1/nodes/{node}/resume"),
    ("POST", "/v1/cluster/create"),
    ("GET", "/v1/preflight"),
    ("POST", "/v1/shutdown"),
    ("GET", "/v1/events"),
    ("GET", "/v1/events/stream"),
    ("GET", "/v1/faults"),
    ("POST", "/v1/faults/partition"),
    ("POST", "/v1/faults/delay"),
    ("POST", "/v1/faults/drop"),
    ("POST", "/v1/faults/heal"),
    ("GET", "/v1/lab/checkpoints"),
    ("POST", "/v1/lab/checkpoints"),
    ("POST", "/v1/lab/checkpoints/{name}/restore"),
    ("GET", "/metrics"),
    ("POST", "/v1/cluster/reshard"),
    ("POST", "/v1/cluster/rebalance"),
    ("POST", "/v1/cluster/fix"),
    ("GET", "/v1/cluster/job"),
    ("POST", "/v1/cluster/job/cancel"),
    ("GET", "/v1/cluster/check"),
    ("GET", "/v1/cluster/slots"),
    ("POST", "/v1/cluster/nodes/add"),
    ("POST", "/v1/cluster/nodes/{node}/delete"),
];

/// What handlers share.
#[derive(Clone)]
pub struct AppState {
    pub sup: Arc<Supervisor>,
    pub shutdown: Shutdown,
    pub started: Instant,
    /// Required as `Authorization: Bearer <token>` when set.
    pub token: Option<String>,
    /// The event timeline (`<data_dir>/events.jsonl`).
    pub events: crate::events::EventLog,
    /// Active bus faults.
    pub faults: Arc<crate::faults::FaultManager>,
}

impl AppState {
    pub fn new(sup: Arc<Supervisor>, shutdown: Shutdown) -> AppState {
        let cfg = sup.config();
        let events = crate::events::EventLog::open(&cfg.supervisor.data_dir);
        let faults = crate::faults::FaultManager::new(sup.clone(), events.clone());
        AppState { sup, shutdown, started: Instant::now(), token: cfg.supervisor.api_token, events, faults }
    }
}

/// The whole API.
pub fn app(state: AppState) -> Router {
    Router::new()
        .route("/healthz", get(health::healthz))
        .route("/v1/openapi.json", get(openapi::serve))
        .route("/v1/status", get(nodes::status))
        .route("/v1/nodes/:node", get(nodes::one))
        .route("/v1/nodes/:node/log", get(nodes::log))
        .route("/v1/nodes/:node/start", post(nodes::start))
        .route("/v1/nodes/:node/stop", post(nodes::stop))
        .route("/v1/nodes/:node/restart", post(nodes::restart))
        .route("/v1/nodes/:node/kill", post(nodes::kill))
        .route("/v1/nodes/:node/pause", post(nodes::pause))
        .route("/v1/nodes/:node/resume", post(nodes::resume))
        .route("/v1/cluster/create", post(cluster::create))
        .route("/v1/preflight", get(health::preflight))
        .route("/v1/shutdown", post(health::shutdown))
        .route("/v1/events", get(events::list))
        .route("/v1/events/stream", get(events::stream))
        .route("/v1/faults", get(faults::list))
        .route("/v1/faults/partition", post(faults::partition))
        .route("/v1/faults/delay", post(faults::delay))
        .route("/v1/faults/drop", post(faults::drop_frames))
        .route("/v1/faults/heal", post(faults::heal))
        .route("/v1/lab/checkpoints", get(lab::list).post(lab::save))
        .route("/v1/lab/checkpoints/:name/restore", post(lab::restore))
        .route("/metrics", get(lab::metrics))
        .merge(reshard::routes(state.clone()))
        .fallback(not_found)
        .layer(middleware::from_fn_with_state(state.clone(), auth))
        .layer(middleware::map_response(json_method_not_allowed))
        .with_state(state)
}

async fn not_found(method: Method, uri: axum::http::Uri) -> ApiError {
    ApiError::not_found(format!("no route {method} {}; the routes are listed at GET /v1/openapi.json", uri.path()))
}

/// axum answers a wrong method with an empty 405; give it the JSON body too.
async fn json_method_not_allowed(resp: Response) -> Response {
    if resp.status() == StatusCode::METHOD_NOT_ALLOWED {
        return ApiError::new(StatusCode::METHOD_NOT_ALLOWED, "method not allowed on this route; see GET /v1/openapi.json").into_response();
    }
    resp
}

async fn auth(State(state): State<AppState>, req: Request, next: Next) -> Response {
    if let Some(token) = &state.token {
        if req.uri().path() != "/healthz" {
            let given = req.headers().get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()).and_then(|v| v.strip_prefix("Bearer "));
            if given != Some(token.as_str()) {
                return ApiError::new(StatusCode::UNAUTHORIZED, "missing or wrong bearer token: send `Authorization: Bearer <supervisor.api_token>` (slotctl: --token or SLOTD_API_TOKEN)").into_response();
            }
        }
    }
    next.run(req).await
}
