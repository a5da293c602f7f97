//! The HTTP API (axum): status, node actions, cluster creation, preflight,
//! shutdown, and its own OpenAPI description. `app(state)` is the whole
//! router, so tests drive it with `oneshot` without a socket.

pub mod body;
pub mod cluster;
pub mod dashboard;
pub mod error;
pub mod events;
pub mod faults;
pub mod forward;
pub mod health;
pub mod hosts;
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
    ("GET", "/"),
    ("GET", "/v1/status"),
    ("GET", "/v1/status/stream"),
    ("POST", "/v1/session"),
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
    ("GET", "/v1/lab/scenarios"),
    ("POST", "/v1/lab/scenarios/{name}/run"),
    ("GET", "/v1/lab/run"),
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
    ("GET", "/v1/cluster/plan"),
    ("POST", "/v1/hosts/{host}/isolate"),
    ("POST", "/v1/hosts/{host}/heal"),
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
    /// The reshard / rebalance / fix job (one at a time).
    pub jobs: Arc<crate::reshard::progress::Jobs>,
    /// Lab scenarios started from the API.
    pub labs: Arc<crate::lab::runs::LabRuns>,
    /// The dashboard's live status poller.
    pub feed: Arc<dashboard::StatusFeed>,
    /// The other hosts' slotds (multi-host configs).
    pub peers: crate::peers::Peers,
    /// The fault id of this host's isolation through the bus hook, if any.
    pub bus_isolation: Arc<std::sync::Mutex<Option<u64>>>,
}

impl AppState {
    pub fn new(sup: Arc<Supervisor>, shutdown: Shutdown) -> AppState {
        let cfg = sup.config();
        let events = crate::events::EventLog::open(&cfg.supervisor.data_dir);
        let faults = crate::faults::FaultManager::new(sup.clone(), events.clone());
        // Scenarios run under this same program (its `slotd node` runs builtin nodes).
        let slotd_bin = std::env::current_exe().unwrap_or_else(|_| "slotd".into());
        let labs = Arc::new(crate::lab::runs::LabRuns::new(slotd_bin, &cfg.supervisor.data_dir));
        AppState {
            sup,
            shutdown,
            started: Instant::now(),
            token: cfg.supervisor.api_token.clone(),
            events,
            faults,
            jobs: Arc::default(),
            labs,
            feed: Arc::default(),
            peers: crate::peers::Peers::new(cfg.supervisor.api_token.clone()),
            bus_isolation: Arc::default(),
        }
    }
}

/// The whole API.
pub fn app(state: AppState) -> Router {
    Router::new()
        .route("/", get(dashboard::asset))
        .route("/ui/*file", get(dashboard::asset))
        .route("/healthz", get(health::healthz))
        .route("/v1/openapi.json", get(openapi::serve))
        .route("/v1/status", get(nodes::status))
        .route("/v1/status/stream", get(dashboard::status_stream))
        .route("/v1/session", post(dashboard::session))
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
        .route("/v1/lab/scenarios", get(lab::scenarios))
        .route("/v1/lab/scenarios/:name/run", post(lab::run))
        .route("/v1/lab/run", get(lab::current_run))
        .route("/metrics", get(lab::metrics))
        .route("/v1/cluster/plan", get(hosts::plan))
        .route("/v1/hosts/:host/isolate", post(hosts::isolate))
        .route("/v1/hosts/:host/heal", post(hosts::heal))
        .merge(reshard::routes(state.clone()))
        .fallback(not_found)
        .layer(middleware::from_fn_with_state(state.clone(), forward::forward_remote))
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

/// The token a browser keeps for the dashboard (its EventSource cannot send headers).
pub const TOKEN_COOKIE: &str = "slotd_token";

/// `name`'s value in a Cookie header, percent-decoded.
fn cookie<'a>(headers: &'a axum::http::HeaderMap, name: &str) -> Option<String> {
    let raw: Vec<&'a str> = headers.get_all(header::COOKIE).iter().filter_map(|v| v.to_str().ok()).collect();
    raw.iter().flat_map(|h| h.split(';')).find_map(|kv| {
        let (k, v) = kv.trim().split_once('=')?;
        (k == name).then(|| percent_decode(v))
    })
}

/// The page's cookie is named after the port it was served on: two slotds
/// on one machine (cookies ignore ports) keep theirs apart.
pub fn token_cookie_name(headers: &axum::http::HeaderMap) -> String {
    let port = headers.get(header::HOST).and_then(|v| v.to_str().ok()).and_then(|h| h.rsplit_once(':')).map_or("80", |(_, p)| p);
    format!("{TOKEN_COOKIE}_{port}")
}

/// Percent-encodes all but URL-safe characters (cookie values, link fragments).
pub fn percent_encode(s: &str) -> String {
    s.bytes()
        .map(|b| if b.is_ascii_alphanumeric() || b"-._~".contains(&b) { (b as char).to_string() } else { format!("%{b:02X}") })
        .collect()
}

fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let hex = |c: u8| (c as char).to_digit(16);
        match (b[i], b.get(i + 1).copied().and_then(hex), b.get(i + 2).copied().and_then(hex)) {
            (b'%', Some(h), Some(l)) => {
                out.push((h * 16 + l) as u8);
                i += 3;
            }
            (c, _, _) => {
                out.push(c);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// A browser request from another site (another origin's page posting to
/// this API on loopback): refused, so a web page cannot kill the lab's nodes.
fn cross_site(req: &Request) -> bool {
    let h = req.headers();
    if h.get("sec-fetch-site").and_then(|v| v.to_str().ok()) == Some("cross-site") {
        return true;
    }
    match (h.get(header::ORIGIN).and_then(|v| v.to_str().ok()), h.get(header::HOST).and_then(|v| v.to_str().ok())) {
        (Some(origin), Some(host)) => origin.split_once("://").map(|(_, a)| a) != Some(host),
        (Some(_), None) => true,
        _ => false,
    }
}

/// Whether a Host header names this API by address (or `localhost`): a
/// name that resolves here only through DNS rebinding is refused when the
/// API has no token to stop such a page.
fn host_is_an_address(host: &str) -> bool {
    let name = if let Some(rest) = host.strip_prefix('[') {
        rest.split(']').next().unwrap_or("")
    } else {
        host.rsplit_once(':').map_or(host, |(h, _)| h)
    };
    name.eq_ignore_ascii_case("localhost") || name.parse::<std::net::IpAddr>().is_ok()
}

async fn auth(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let path = req.uri().path();
    if state.token.is_none() {
        if let Some(h) = req.headers().get(header::HOST).and_then(|v| v.to_str().ok()) {
            if !host_is_an_address(h) {
                return ApiError::new(StatusCode::FORBIDDEN, format!("Host `{h}` refused: without supervisor.api_token the API answers only to its address (127.0.0.1:PORT) or localhost")).into_response();
            }
        }
    }
    if path == "/healthz" || dashboard::is_asset(path) {
        return next.run(req).await;
    }
    if req.method() != Method::GET && req.method() != Method::HEAD && cross_site(&req) {
        return ApiError::new(
            StatusCode::FORBIDDEN,
            "cross-site request refused: the API takes actions only from slotctl, scripts, or its own dashboard page",
        )
        .into_response();
    }
    if let Some(token) = &state.token {
        let given = req.headers().get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()).and_then(|v| v.strip_prefix("Bearer "));
        let ok =
            given == Some(token.as_str()) || cookie(req.headers(), &token_cookie_name(req.headers())).as_deref() == Some(token.as_str());
        if !ok {
            return ApiError::new(StatusCode::UNAUTHORIZED, "missing or wrong bearer token: send `Authorization: Bearer <supervisor.api_token>` (slotctl: --token or SLOTD_API_TOKEN; the dashboard asks for it)").into_response();
        }
    }
    next.run(req).await
}
