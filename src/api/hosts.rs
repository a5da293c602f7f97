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
        // Passed on once already: a second hop means a wrong hosts.api.
        if super::forward::is_local_scope(req.uri()) {
            return ApiError::conflict(format!(
                "this is host {}, not {host}: check hosts.api of `{host}` in the config ({})",
                cfg.local_host.as_deref().unwrap_or("?"),
                spec.api
            ))
            .into_response();
        }
        let verb = if cut { "isolate" } else { "heal" };
        return super::forward::pass_on(&st, &spec, req, &format!("/v1/hosts/{host}/{verb}?scope=local")).await;
    }
    let nodes: Vec<String> = cfg.nodes.iter().map(|n| n.name()).collect();
    let (done, message, mechanism) = if cut {
        let how = {
            let c = cfg.clone();
            tokio::task::spawn_blocking(move || mechanism(&c)).await.unwrap_or_else(|e| Err(IsolateError::Nft(e.to_string())))
        };
        match how {
            Ok(Mechanism::Nftables) => match blocking(&cfg, isolate::isolate).await {
                Ok(()) => (true, format!("host {host} cut off from the other hosts (node and bus ports, both ways)"), "nftables"),
                Err(e) => return e.into_response(),
            },
            Ok(Mechanism::Bus) => {
                let remote: Vec<u16> = cfg.cluster_nodes.iter().filter(|n| !cfg.nodes.contains(n)).map(|n| n.port).collect();
                match st.faults.isolate_ports(remote).await {
                    Ok(id) => {
                        let prev = st.bus_isolation.lock().unwrap_or_else(|p| p.into_inner()).replace(id);
                        if let Some(old) = prev {
                            st.faults.lift(old).await;
                        }
                        (
                            true,
                            format!("host {host}'s nodes cut off the other hosts' nodes on the cluster bus (client ports stay open)"),
                            "bus hook",
                        )
                    }
                    Err(e) => return super::faults::fault_error(e).into_response(),
                }
            }
            Err(e) => return err(e).into_response(),
        }
    } else {
        let bus = st.bus_isolation.lock().unwrap_or_else(|p| p.into_inner()).take();
        let lifted = match bus {
            Some(id) => st.faults.lift(id).await,
            None => false,
        };
        let nft = blocking(&cfg, |c| isolate::available().and_then(|()| isolate::heal(c))).await.unwrap_or(false);
        if !lifted && !nft {
            return Json(report(&host, false, format!("host {host} was not isolated"), "none")).into_response();
        }
        (false, format!("host {host} reconnected"), if nft { "nftables" } else { "bus hook" })
    };
    let kind = if cut { EventKind::FaultOn } else { EventKind::FaultOff };
    st.events.record(Event::new(kind, None, message.clone()).nodes(nodes).value(format!("isolate host:{host}")));
    (StatusCode::OK, Json(report(&host, done, message, mechanism))).into_response()
}

fn report(host: &str, isolated: bool, message: String, mechanism: &str) -> IsolationReport {
    IsolationReport { host: host.to_string(), isolated, mechanism: mechanism.into(), message }
}

/// How a host is cut off.
enum Mechanism {
    /// Firewall rules: node and bus ports, any engine.
    Nftables,
    /// The builtin nodes' bus hook: bus only.
    Bus,
}

/// `SLOTD_ISOLATION=nftables|bus` forces one; by default nftables when it
/// can be managed here, else the bus hook on builtin nodes.
fn mechanism(cfg: &crate::config::Config) -> Result<Mechanism, IsolateError> {
    let builtin = cfg.engine.kind == crate::config::EngineKind::Builtin;
    match std::env::var("SLOTD_ISOLATION").as_deref() {
        Ok("nftables") => Ok(Mechanism::Nftables),
        Ok("bus") if builtin => Ok(Mechanism::Bus),
        Ok("bus") => Err(IsolateError::Unavailable("SLOTD_ISOLATION=bus needs builtin nodes (redis-server has no bus hook)".into())),
        _ => match isolate::available() {
            Ok(()) => Ok(Mechanism::Nftables),
            Err(_) if builtin => Ok(Mechanism::Bus),
            Err(e) => Err(e),
        },
    }
}

async fn blocking<T: Send + 'static>(
    cfg: &crate::config::Config,
    f: fn(&crate::config::Config) -> Result<T, IsolateError>,
) -> Result<T, ApiError> {
    let cfg = cfg.clone();
    match tokio::task::spawn_blocking(move || f(&cfg)).await {
        Ok(r) => r.map_err(err),
        Err(e) => Err(ApiError::internal(e.to_string())),
    }
}

/// `POST /v1/hosts/{host}/isolate`.
pub async fn isolate(State(st): State<AppState>, Path(host): Path<String>, req: Request) -> Response {
    act(st, host, req, true).await
}

/// `POST /v1/hosts/{host}/heal`.
pub async fn heal(State(st): State<AppState>, Path(host): Path<String>, req: Request) -> Response {
    act(st, host, req, false).await
}
