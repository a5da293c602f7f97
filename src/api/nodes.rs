//! Node routes: status (what slotd knows plus what each node reports over
//! RESP), actions (start/stop/restart/kill/pause/resume, one node or `all`),
//! and log reading for `slotctl tail`.

use super::body::JsonBody;
use super::error::ApiError;
use super::types::{ActionResponse, ActionResult, ClusterView, HostView, KillRequest, LogChunk, NodeView, StatusResponse};
use super::AppState;
use crate::cluster_admin;
use crate::supervise::state::State as NodeState;
use crate::supervise::{ActionError, NodeEntry, UserAction};
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::Json;
use nix::sys::signal::Signal;
use serde::Deserialize;
use std::io::{Read, Seek, SeekFrom};
use std::str::FromStr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Builds the view of one node, asking it over RESP when it runs.
async fn view(st: &AppState, n: &NodeEntry) -> NodeView {
    let s = n.status();
    let probe = if s.state == NodeState::Running { cluster_admin::probe(n.addr(), Duration::from_millis(500)).await.ok() } else { None };
    let probe = probe.unwrap_or_default();
    let now_ms = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as u64).unwrap_or(0);
    let metrics = s.pid.and_then(|pid| st.sup.metrics.lock().ok().and_then(|m| m.get(&pid).copied()));
    NodeView {
        name: s.name.clone(),
        host: s.host.clone(),
        port: s.port,
        state: s.state,
        pid: s.pid,
        uptime_s: s.started_at_ms.filter(|_| s.pid.is_some()).map(|t| now_ms.saturating_sub(t) / 1000),
        restarts: s.restarts,
        adopted: s.adopted,
        last_exit: s.last_exit,
        message: s.message.clone(),
        role: probe.role,
        master_port: probe.master_port,
        master_link: probe.master_link,
        node_id: probe.id,
        slots: probe.slots,
        cluster_state: probe.cluster_state,
        rss_bytes: metrics.map(|m| m.0),
        cpu_percent: metrics.map(|m| m.1),
        host_name: n.spec.host_name.clone(),
        lag_bytes: None,
        lag_s: probe.load.master_last_io_s,
        load: probe.load,
        log: st.sup.ctx.layout.logfile(s.port).display().to_string(),
    }
}

/// A replica's lag in bytes: its master's offset minus its own, both from
/// this one round of INFO (so it is as fresh as the status itself).
fn fill_lag(nodes: &mut [NodeView]) {
    let masters: Vec<(u16, u64)> =
        nodes.iter().filter(|n| n.role.as_deref() == Some("master")).filter_map(|n| n.load.repl_offset.map(|o| (n.port, o))).collect();
    for n in nodes.iter_mut().filter(|n| n.role.as_deref() == Some("slave")) {
        let master = n.master_port.and_then(|p| masters.iter().find(|(mp, _)| *mp == p)).map(|(_, o)| *o);
        n.lag_bytes = match (master, n.load.repl_offset) {
            (Some(m), Some(own)) => Some(m.saturating_sub(own)),
            _ => None,
        };
    }
}

/// Resolves `{node}`: a port, a name, or `all` / `host:THIS` (when allowed).
fn resolve(st: &AppState, key: &str, allow_all: bool) -> Result<Vec<NodeEntry>, ApiError> {
    let this_host = key.strip_prefix("host:").is_some_and(|h| st.sup.config().local_host.as_deref() == Some(h));
    if allow_all && (key == "all" || this_host) {
        return Ok(st.sup.nodes.clone());
    }
    match st.sup.find(key) {
        Some(n) => Ok(vec![n.clone()]),
        None => Err(ApiError::not_found(format!(
            "unknown node `{key}`; known nodes: {}{}",
            st.sup.names().join(", "),
            if allow_all { " (or `all`)" } else { "" }
        ))),
    }
}

/// `GET /v1/status`.
pub async fn status(State(st): State<AppState>, Query(q): Query<ScopeQuery>) -> Json<StatusResponse> {
    if q.scope.as_deref() == Some("local") {
        return Json(snapshot_local(&st).await);
    }
    Json(snapshot(&st).await)
}

/// `?scope=local`: only this host's nodes (what another host's slotd asks).
#[derive(Debug, Default, Deserialize)]
pub struct ScopeQuery {
    pub scope: Option<String>,
}

/// The status as `GET /v1/status` and the status stream report it: on a
/// multi-host config every host's nodes, asking the other slotds (a host
/// that does not answer has its nodes listed as UNREACHABLE, not hidden).
pub async fn snapshot(st: &AppState) -> StatusResponse {
    let cfg = st.sup.config();
    let local = snapshot_local(st).await;
    if !cfg.is_multi_host() {
        return local;
    }
    let me = cfg.local_host.clone().unwrap_or_default();
    let mut asks = tokio::task::JoinSet::new();
    for (i, h) in cfg.hosts.iter().enumerate().filter(|(_, h)| h.name != me) {
        let (peers, h) = (st.peers.clone(), h.clone());
        asks.spawn(async move { (i, peers.status(&h, Duration::from_secs(2)).await) });
    }
    let mut answers = Vec::new();
    while let Some(r) = asks.join_next().await {
        if let Ok(a) = r {
            answers.push(a);
        }
    }
    let mut hosts = Vec::new();
    let mut nodes = Vec::new();
    let mut formation = local.cluster.formation.clone();
    for (i, h) in cfg.hosts.iter().enumerate() {
        if h.name == me {
            hosts.push(HostView { name: h.name.clone(), api: h.api.to_string(), reachable: true, error: None, local: true });
            nodes.extend(local.nodes.iter().cloned());
            continue;
        }
        match answers.iter().find(|(j, _)| *j == i).map(|(_, r)| r) {
            Some(Ok(s)) => {
                hosts.push(HostView { name: h.name.clone(), api: h.api.to_string(), reachable: true, error: None, local: false });
                nodes.extend(s.nodes.iter().cloned());
                // The first host forms the cluster: its word on formation counts.
                if i == 0 {
                    formation = s.cluster.formation.clone();
                }
            }
            other => {
                let why = match other {
                    Some(Err(e)) => e.to_string(),
                    _ => format!("slotd of host {} did not answer", h.name),
                };
                unreachable_host(h, why, &mut hosts, &mut nodes);
            }
        }
    }
    fill_lag(&mut nodes);
    finish(st, &cfg, nodes, formation, hosts)
}

fn unreachable_host(h: &crate::config::HostSpec, why: String, hosts: &mut Vec<HostView>, nodes: &mut Vec<NodeView>) {
    for port in &h.ports {
        let mut n = NodeView::bare(format!("node{port}"), h.address.to_string(), *port, NodeState::Unreachable);
        n.host_name = Some(h.name.clone());
        n.message = Some(why.clone());
        nodes.push(n);
    }
    hosts.push(HostView { name: h.name.clone(), api: h.api.to_string(), reachable: false, error: Some(why), local: false });
}

/// This slotd's own nodes.
pub async fn snapshot_local(st: &AppState) -> StatusResponse {
    let mut set = tokio::task::JoinSet::new();
    for (i, n) in st.sup.nodes.iter().cloned().enumerate() {
        let st2 = st.clone();
        set.spawn(async move { (i, view(&st2, &n).await) });
    }
    let mut views = Vec::new();
    while let Some(r) = set.join_next().await {
        if let Ok(v) = r {
            views.push(v);
        }
    }
    views.sort_by_key(|(i, _)| *i);
    let mut nodes: Vec<NodeView> = views.into_iter().map(|(_, v)| v).collect();
    fill_lag(&mut nodes);
    let cfg = st.sup.config();
    finish(st, &cfg, nodes, st.sup.formation(), Vec::new())
}

/// The cluster verdicts over `nodes`.
fn finish(
    st: &AppState,
    cfg: &crate::config::Config,
    nodes: Vec<NodeView>,
    formation: Option<String>,
    hosts: Vec<HostView>,
) -> StatusResponse {
    let states: Vec<&str> = nodes.iter().filter_map(|n| n.cluster_state.as_deref()).collect();
    let cluster_state = if states.is_empty() {
        None
    } else if states.iter().all(|s| *s == "ok") && nodes.iter().all(|n| n.state == NodeState::Running) {
        Some("ok".to_string())
    } else if states.iter().all(|s| *s == "ok") {
        Some("ok (some nodes down)".to_string())
    } else {
        Some("fail".to_string())
    };
    let manual = cfg.cluster.create == crate::config::CreateMode::Manual;
    let readiness = crate::readiness::judge(&nodes, formation.as_deref(), manual, cfg.cluster.replicas);
    StatusResponse {
        slotd_pid: std::process::id(),
        slotd_uptime_s: st.started.elapsed().as_secs(),
        engine: match (cfg.engine.kind, cfg.engine.mode) {
            (crate::config::EngineKind::RedisServer, _) => {
                format!("redis-server ({})", cfg.engine.redis_server.display())
            }
            (_, crate::config::EngineMode::Process) => "builtin (process)".into(),
            (_, crate::config::EngineMode::Inproc) => "builtin (inproc)".into(),
        },
        config: cfg.source.as_ref().map(|p| p.display().to_string()),
        data_dir: cfg.supervisor.data_dir.display().to_string(),
        cluster: ClusterView {
            state: cluster_state,
            create: format!("{:?}", cfg.cluster.create).to_lowercase(),
            formation,
            nodes_running: nodes.iter().filter(|n| n.state == NodeState::Running).count(),
            nodes_total: nodes.len(),
            readiness,
        },
        nodes,
        local_host: cfg.local_host.clone(),
        hosts,
    }
}

/// `GET /v1/nodes/{node}`.
pub async fn one(State(st): State<AppState>, Path(node): Path<String>) -> Result<Json<NodeView>, ApiError> {
    let n = resolve(&st, &node, false)?;
    let n = n.first().ok_or_else(|| ApiError::internal("node list empty"))?;
    Ok(Json(view(&st, n).await))
}

async fn run_action(st: &AppState, node: &str, action: UserAction, label: &str) -> Result<Json<ActionResponse>, ApiError> {
    let entries = resolve(st, node, true)?;
    let single = node != "all";
    let outcomes = st.sup.act_many(entries, action).await;
    let mut results = Vec::new();
    let mut first_err: Option<ActionError> = None;
    for (e, r) in outcomes {
        match r {
            Ok(s) => results.push(ActionResult { node: e.spec.name(), ok: true, state: Some(s.state), error: None }),
            Err(err) => {
                results.push(ActionResult { node: e.spec.name(), ok: false, state: Some(e.status().state), error: Some(err.to_string()) });
                first_err.get_or_insert(err);
            }
        }
    }
    if let Some(err) = first_err {
        let (status, msg) = match &err {
            ActionError::Conflict(m) => (StatusCode::CONFLICT, m.clone()),
            ActionError::Failed(m) => (StatusCode::INTERNAL_SERVER_ERROR, m.clone()),
        };
        let failed = results.iter().filter(|r| !r.ok).count();
        let message = if single { msg } else { format!("{label} failed on {failed} of {} nodes; first error: {msg}", results.len()) };
        let mut e = ApiError::new(status, message);
        e.results = results;
        return Err(e);
    }
    Ok(Json(ActionResponse { action: label.to_string(), results }))
}

pub async fn start(State(st): State<AppState>, Path(node): Path<String>) -> Result<Json<ActionResponse>, ApiError> {
    run_action(&st, &node, UserAction::Start, "start").await
}
pub async fn stop(State(st): State<AppState>, Path(node): Path<String>) -> Result<Json<ActionResponse>, ApiError> {
    run_action(&st, &node, UserAction::Stop, "stop").await
}
pub async fn restart(State(st): State<AppState>, Path(node): Path<String>) -> Result<Json<ActionResponse>, ApiError> {
    run_action(&st, &node, UserAction::Restart, "restart").await
}
pub async fn pause(State(st): State<AppState>, Path(node): Path<String>) -> Result<Json<ActionResponse>, ApiError> {
    run_action(&st, &node, UserAction::Pause, "pause").await
}
pub async fn resume(State(st): State<AppState>, Path(node): Path<String>) -> Result<Json<ActionResponse>, ApiError> {
    run_action(&st, &node, UserAction::Resume, "resume").await
}

/// A signal that `kill --signal` does not know.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignalError {
    #[error("unknown signal number {0}")]
    Number(i32),
    #[error("unknown signal `{0}`; use a name like SIGKILL, TERM, STOP or a number like 9")]
    Name(String),
}

/// Parses "SIGKILL", "KILL", "kill" or "9".
///
/// # Errors
/// Not a signal of this platform.
pub fn parse_signal(text: &str) -> Result<Signal, SignalError> {
    let t = text.trim();
    if let Ok(n) = t.parse::<i32>() {
        return Signal::try_from(n).map_err(|_| SignalError::Number(n));
    }
    let upper = t.to_ascii_uppercase();
    let name = if upper.starts_with("SIG") { upper } else { format!("SIG{upper}") };
    Signal::from_str(&name).map_err(|_| SignalError::Name(t.to_string()))
}

/// `POST /v1/nodes/{node}/kill` with optional `{"signal": "SIGTERM"}` (default SIGKILL).
pub async fn kill(
    State(st): State<AppState>,
    Path(node): Path<String>,
    JsonBody(req): JsonBody<KillRequest>,
) -> Result<Json<ActionResponse>, ApiError> {
    let sig = match req.signal.as_deref() {
        None => Signal::SIGKILL,
        Some(s) => parse_signal(s).map_err(|e| ApiError::bad_request(e.to_string()))?,
    };
    run_action(&st, &node, UserAction::Kill(sig), &format!("kill ({sig})")).await
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogQuery {
    /// Byte offset to read from; without it, the last `lines` lines.
    pub offset: Option<u64>,
    pub lines: Option<usize>,
    /// `local` when passed on by another host's slotd (see `forward`).
    pub scope: Option<String>,
}

const LOG_MAX: u64 = 256 * 1024;

/// `GET /v1/nodes/{node}/log?lines=N` or `?offset=BYTES`.
pub async fn log(
    State(st): State<AppState>,
    Path(node): Path<String>,
    q: Result<Query<LogQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<LogChunk>, ApiError> {
    let Query(q) = q.map_err(|e| ApiError::bad_request(format!("{e}; use ?lines=N or ?offset=BYTES")))?;
    let n = resolve(&st, &node, false)?;
    let n = n.first().ok_or_else(|| ApiError::internal("node list empty"))?;
    let path = st.sup.ctx.layout.logfile(n.spec.port);
    let p2 = path.clone();
    let chunk = tokio::task::spawn_blocking(move || read_log(&p2, q.offset, q.lines.unwrap_or(20)))
        .await
        .map_err(|e| ApiError::internal(format!("log read task failed: {e}")))?;
    chunk.map(Json).map_err(|e| ApiError::internal(format!("cannot read {}: {e}", path.display())))
}

fn read_log(path: &std::path::Path, offset: Option<u64>, lines: usize) -> std::io::Result<LogChunk> {
    let mut f = match std::fs::File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Ok(LogChunk { path: path.display().to_string(), offset: 0, next_offset: 0, data: String::new() })
        }
        Err(e) => return Err(e),
    };
    let len = f.metadata()?.len();
    let start = match offset {
        // A file shorter than the offset was truncated or replaced: restart at 0.
        Some(o) if o > len => 0,
        Some(o) => o,
        None => len.saturating_sub(LOG_MAX),
    };
    let end = len.min(start + LOG_MAX);
    f.seek(SeekFrom::Start(start))?;
    let mut buf = vec![0u8; (end - start) as usize];
    f.read_exact(&mut buf)?;
    let mut data = String::from_utf8_lossy(&buf).into_owned();
    let mut first = start;
    if offset.is_none() {
        let kept: Vec<&str> = data.lines().collect();
        let tail = kept[kept.len().saturating_sub(lines)..].join("\n");
        let tail = if data.ends_with('\n') && !tail.is_empty() { format!("{tail}\n") } else { tail };
        first = end - tail.len() as u64;
        data = tail;
    }
    Ok(LogChunk { path: path.display().to_string(), offset: first, next_offset: end, data })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signals_parse() {
        assert_eq!(parse_signal("SIGKILL"), Ok(Signal::SIGKILL));
        assert_eq!(parse_signal("term"), Ok(Signal::SIGTERM));
        assert_eq!(parse_signal("9"), Ok(Signal::SIGKILL));
        assert!(parse_signal("SIGNOPE").is_err());
        assert!(parse_signal("999").is_err());
    }

    #[test]
    fn log_tail_and_follow() {
        let dir = tempfile::tempdir().expect("tempdir");
        let p = dir.path().join("n.log");
        std::fs::write(&p, "a\nb\nc\n").expect("write");
        let c = read_log(&p, None, 2).expect("read");
        assert_eq!(c.data, "b\nc\n");
        assert_eq!(c.offset, 2);
        assert_eq!(c.next_offset, 6);
        std::fs::write(&p, "a\nb\nc\nd\n").expect("write");
        let c2 = read_log(&p, Some(c.next_offset), 0).expect("read");
        assert_eq!(c2.data, "d\n");
        let missing = read_log(&dir.path().join("none"), None, 5).expect("missing is empty");
        assert_eq!(missing.data, "");
    }
}
