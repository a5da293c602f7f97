//! Across hosts any slotd answers for the whole cluster: a request about a
//! node of another host is passed to that host's slotd, `host:NAME` means
//! every node of a host, and an action on `all` runs here and on every
//! other host, with one merged answer. Requests carry `?scope=local` when
//! passed on, so they are never passed on twice.

use super::error::ApiError;
use super::types::{ActionResponse, ActionResult, ErrorBody};
use super::AppState;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, Method, StatusCode, Uri};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

/// Largest request body passed on (node actions carry tiny JSON bodies).
const MAX_BODY: usize = 1 << 20;

/// Whether another host's slotd passed this request on (`?scope=local`).
pub(crate) fn is_local_scope(uri: &Uri) -> bool {
    uri.query().is_some_and(|q| q.split('&').any(|kv| kv == "scope=local"))
}

fn with_local_scope(path: &str, uri: &Uri) -> String {
    match uri.query() {
        Some(q) if !q.is_empty() => format!("{path}?{q}&scope=local"),
        _ => format!("{path}?scope=local"),
    }
}

fn decode(seg: &str) -> String {
    seg.replace("%3A", ":").replace("%3a", ":")
}

/// The middleware (a no-op on a one-machine config).
pub async fn forward_remote(State(st): State<AppState>, req: Request, next: Next) -> Response {
    let cfg = st.sup.config();
    if !cfg.is_multi_host() || is_local_scope(req.uri()) {
        return next.run(req).await;
    }
    let path = req.uri().path().to_string();
    let Some(rest) = path.strip_prefix("/v1/nodes/") else { return next.run(req).await };
    let (node, tail) = match rest.split_once('/') {
        Some((n, t)) => (decode(n), format!("/{t}")),
        None => (decode(rest), String::new()),
    };
    let me = cfg.local_host.clone().unwrap_or_default();
    if let Some(name) = node.strip_prefix("host:") {
        let Some(host) = cfg.hosts.iter().find(|h| h.name == name) else {
            let known = cfg.hosts.iter().map(|h| h.name.clone()).collect::<Vec<_>>().join(", ");
            return ApiError::not_found(format!("no host `{name}`; the hosts are: {known}")).into_response();
        };
        // This host's own nodes: the handler resolves `host:NAME` itself.
        if host.name == me {
            return next.run(req).await;
        }
        let target = with_local_scope(&format!("/v1/nodes/all{tail}"), req.uri());
        return pass_on(&st, host, req, &target).await;
    }
    if node == "all" {
        if req.method() == Method::POST {
            return all_hosts(&st, req, next, &tail).await;
        }
        return next.run(req).await;
    }
    // `nodes` are this host's; a node of another host is passed on.
    if cfg.find_node(&node).is_none() {
        if let Some(host) = cfg.host_of(&node).filter(|h| h.name != me) {
            let target = with_local_scope(&path, req.uri());
            return pass_on(&st, host, req, &target).await;
        }
    }
    next.run(req).await
}

fn rewrite(mut req: Request, target: &str) -> Request {
    if let Ok(u) = target.parse::<Uri>() {
        *req.uri_mut() = u;
    }
    req
}

pub(crate) async fn pass_on(st: &AppState, host: &crate::config::HostSpec, req: Request, target: &str) -> Response {
    let method = req.method().clone();
    let ctype = req.headers().get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).map(str::to_string);
    let body = match axum::body::to_bytes(req.into_body(), MAX_BODY).await {
        Ok(b) => b,
        Err(e) => return ApiError::bad_request(format!("cannot read the request body: {e}")).into_response(),
    };
    let m = reqwest::Method::from_bytes(method.as_str().as_bytes()).unwrap_or(reqwest::Method::GET);
    match st.peers.forward(host, m, target, ctype.as_deref(), body).await {
        Ok(a) => {
            let mut resp = Response::new(Body::from(a.body));
            *resp.status_mut() = StatusCode::from_u16(a.status).unwrap_or(StatusCode::BAD_GATEWAY);
            if let Some(ct) = a.content_type.and_then(|c| HeaderValue::from_str(&c).ok()) {
                resp.headers_mut().insert(header::CONTENT_TYPE, ct);
            }
            resp
        }
        Err(e) => ApiError::new(StatusCode::BAD_GATEWAY, e.to_string()).into_response(),
    }
}

/// What one host said about an action on all its nodes.
fn results_of(status: u16, body: &[u8]) -> (Vec<ActionResult>, Option<(u16, String)>) {
    if status == 200 {
        if let Ok(r) = serde_json::from_slice::<ActionResponse>(body) {
            return (r.results, None);
        }
    }
    match serde_json::from_slice::<ErrorBody>(body) {
        Ok(e) => (e.results, Some((status, e.error))),
        Err(_) => (Vec::new(), Some((status, String::from_utf8_lossy(body).into_owned()))),
    }
}

/// `POST /v1/nodes/all/{action}`: here, then on every other host in turn.
async fn all_hosts(st: &AppState, req: Request, next: Next, tail: &str) -> Response {
    let cfg = st.sup.config();
    let target = with_local_scope(&format!("/v1/nodes/all{tail}"), req.uri());
    let ctype = req.headers().get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).map(str::to_string);
    let (parts, body) = req.into_parts();
    let body = match axum::body::to_bytes(body, MAX_BODY).await {
        Ok(b) => b,
        Err(e) => return ApiError::bad_request(format!("cannot read the request body: {e}")).into_response(),
    };
    let local_req = rewrite(Request::from_parts(parts, Body::from(body.clone())), &target);
    let local = next.run(local_req).await;
    let status = local.status().as_u16();
    let local_body = axum::body::to_bytes(local.into_body(), 16 << 20).await.unwrap_or_default();
    let (mut results, mut first_err) = results_of(status, &local_body);
    let me = cfg.local_host.clone().unwrap_or_default();
    for host in cfg.hosts.iter().filter(|h| h.name != me) {
        match st.peers.forward(host, reqwest::Method::POST, &target, ctype.as_deref(), body.clone()).await {
            Ok(a) => {
                let (r, e) = results_of(a.status, &a.body);
                results.extend(r);
                if first_err.is_none() {
                    first_err = e;
                }
            }
            Err(e) => {
                results.push(ActionResult { node: format!("host:{}", host.name), ok: false, state: None, error: Some(e.to_string()) });
                first_err.get_or_insert((502, e.to_string()));
            }
        }
    }
    let action = tail.trim_start_matches('/').to_string();
    match first_err {
        None => axum::Json(ActionResponse { action, results }).into_response(),
        Some((status, msg)) => {
            let failed = results.iter().filter(|r| !r.ok).count();
            let mut e = ApiError::new(
                StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_GATEWAY),
                format!("{action} failed on {failed} of {} nodes (every host); first error: {msg}", results.len()),
            );
            e.results = results;
            e.into_response()
        }
    }
}
