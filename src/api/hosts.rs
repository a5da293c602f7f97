//! Host routes of a cluster across machines: the creation plan, and
//! isolating / healing a whole host (passed on to that host's slotd, which
//! changes its own firewall).

use super::error::ApiError;
use super::AppState;
use crate::events::{Event, EventKind};
use crate::isolate::{self, IsolateError};
use axum::extract::{Path, Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::{Deserialize, Serialize};

/// `POST /v1/hosts/{host}/{isolate,heal}`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct IsolationReport {
    pub host: String,
    pub isolated: bool,
    /// How it is done ("nftables").
    pub mechanism: String,
    pub message: String,
}

/// `GET /v1/cluster/plan`: which nodes creation makes masters and replicas.
pub async fn plan(State(st): State<AppState>) -> Json<crate::placement::Plan> {
    let cfg = st.sup.config();
    Json(crate::placement::plan(&cfg.cluster_nodes, cfg.cluster.replicas))
}

fn err(e: IsolateError) -> ApiError {
    match e {
        IsolateError::Unavailable(_) | IsolateError::NotMultiHost => ApiError::conflict(e.to_string()),
        IsolateError::Nft(_) => ApiError::internal(e.to_string()),
    }
}

/// Isolates or heals `host` here, or passes the request to its slotd.
async fn act(st: AppState, host: String, req: Request, cut: bool) -> Response {
    let cfg = st.sup.config();
    if !cfg.is_multi_host() {
        return err(IsolateError::NotMultiHost).into_response();
    }
    let Some(spec) = cfg.hosts.iter().find(|h| h.name == host).cloned() else {
        let known = cfg.hosts.iter().map(|h| h.name.clone()).collect::<Vec<_>>().join(", ");
        return ApiError::not_found(format!("no host `{host}`; the hosts are: {known}")).into_response();
    };
    if cfg.local_host.as_deref() != Some(spec.name.as_str()) {
        let verb = if cut { "isolate" } else { "heal" };
        return super::forward::pass_on(&st, &spec, req, &format!("/v1/hosts/{host}/{verb}?scope=local")).await;
    }
    let nodes: Vec<String> = cfg.nodes.iter().map(|n| n.name()).collect();
    let (done, message) = if cut {
        match tokio::task::spawn_blocking({
            let cfg = cfg.clone();
            move || isolate::isolate(&cfg)
        })
        .await
        {
            Ok(Ok(())) => (true, format!("host {host} cut off from the other hosts (node and bus ports, both ways)")),
            Ok(Err(e)) => return err(e).into_response(),
            Err(e) => return ApiError::internal(e.to_string()).into_response(),
        }
    } else {
        match tokio::task::spawn_blocking({
            let cfg = cfg.clone();
            move || isolate::heal(&cfg)
        })
        .await
        {
            Ok(Ok(true)) => (false, format!("host {host} reconnected")),
            Ok(Ok(false)) => return Json(report(&host, false, format!("host {host} was not isolated"))).into_response(),
            Ok(Err(e)) => return err(e).into_response(),
            Err(e) => return ApiError::internal(e.to_string()).into_response(),
        }
    };
    let kind = if cut { EventKind::FaultOn } else { EventKind::FaultOff };
    st.events.record(Event::new(kind, None, message.clone()).nodes(nodes).value(format!("isolate host:{host}")));
    (StatusCode::OK, Json(report(&host, done, message))).into_response()
}

fn report(host: &str, isolated: bool, message: String) -> IsolationReport {
    IsolationReport { host: host.to_string(), isolated, mechanism: "nftables".into(), message }
}

/// `POST /v1/hosts/{host}/isolate`.
pub async fn isolate(State(st): State<AppState>, Path(host): Path<String>, req: Request) -> Response {
    act(st, host, req, true).await
}

/// `POST /v1/hosts/{host}/heal`.
pub async fn heal(State(st): State<AppState>, Path(host): Path<String>, req: Request) -> Response {
    act(st, host, req, false).await
}
