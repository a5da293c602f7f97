//! Bus faults on builtin nodes: partitions, delays and drops, driven through
//! the node engine's admin-only `SLOTD.FAULT` command. The token that unlocks
//! it is per data_dir and reaches nodes only on their command line.
//!
//! The manager keeps the list of active faults and, on every change, sets
//! each node's fault state from scratch (HEAL, then the union of what still
//! applies to it), so one fault healing (`--for`) leaves the others intact.

use crate::cluster_admin::{AdminError, Conn};
use crate::confgen::Layout;
use crate::config::EngineKind;
use crate::events::{Event, EventKind, EventLog};
use crate::supervise::state::State;
use crate::supervise::Supervisor;
use crate::topology::{self, SelectError};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Why a fault could not be set.
#[derive(Debug, thiserror::Error)]
pub enum FaultError {
    #[error("{0} is not available with engine kind = \"redis-server\": real Redis has no fault hook. Use kill/pause/resume (they work on every engine), or run the lab with kind = \"builtin\"")]
    Unsupported(&'static str),
    #[error(transparent)]
    Select(#[from] SelectError),
    #[error("{0}")]
    Invalid(String),
    #[error("cannot set the fault on {node}: {source}")]
    Node { node: String, source: AdminError },
    #[error("cannot read or create the admin token {path}: {source} (check that data_dir is writable)")]
    Token { path: String, source: std::io::Error },
}

/// The fault hook token for this data_dir: created once (mode 0600) so nodes
/// adopted by a restarted slotd still accept it.
///
/// # Errors
/// The file cannot be read or written.
pub fn admin_token(layout: &Layout) -> Result<String, FaultError> {
    let path = layout.run_dir().join("admin-token");
    let err = |source| FaultError::Token { path: path.display().to_string(), source };
    if let Ok(t) = std::fs::read_to_string(&path) {
        let t = t.trim().to_string();
        if !t.is_empty() {
            return Ok(t);
        }
    }
    std::fs::create_dir_all(layout.run_dir()).map_err(err)?;
    // Node workers start concurrently: the first token published wins and every
    // caller returns that one. The file appears with its content at once
    // (written under a unique name, then hard-linked into place).
    let token: String = (0..32).map(|_| format!("{:x}", rand::random::<u8>() % 16)).collect();
    let tmp = layout.run_dir().join(format!("admin-token.{}.{}", std::process::id(), rand::random::<u64>()));
    {
        let mut f = std::fs::OpenOptions::new().create_new(true).write(true).mode(0o600).open(&tmp).map_err(err)?;
        f.write_all(token.as_bytes()).map_err(err)?;
    }
    let linked = std::fs::hard_link(&tmp, &path);
    let _ = std::fs::remove_file(&tmp);
    match linked {
        Ok(()) => Ok(token),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            std::fs::read_to_string(&path).map(|t| t.trim().to_string()).map_err(err)
        }
        Err(e) => Err(err(e)),
    }
}

/// What a fault does.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum FaultSpec {
    /// Bus traffic cut between every pair of groups (ports).
    Partition { groups: Vec<Vec<u16>> },
    /// Outgoing bus frames of `port` held `ms` (+ up to `jitter_ms`).
    Delay { port: u16, ms: u64, jitter_ms: u64 },
    /// Outgoing bus frames of `port` dropped with probability `rate`.
    Drop { port: u16, rate: f64 },
}

impl FaultSpec {
    fn ports(&self) -> Vec<u16> {
        match self {
            FaultSpec::Partition { groups } => groups.iter().flatten().copied().collect(),
            FaultSpec::Delay { port, .. } | FaultSpec::Drop { port, .. } => vec![*port],
        }
    }
    /// Human description.
    pub fn describe(&self) -> String {
        let names = |g: &Vec<u16>| g.iter().map(|p| format!("node{p}")).collect::<Vec<_>>().join(",");
        match self {
            FaultSpec::Partition { groups } => format!("partition {}", groups.iter().map(names).collect::<Vec<_>>().join(" / ")),
            FaultSpec::Delay { port, ms, jitter_ms } => format!("delay node{port} bus frames {ms} ms (jitter {jitter_ms} ms)"),
            FaultSpec::Drop { port, rate } => format!("drop {:.0}% of node{port}'s bus frames", rate * 100.0),
        }
    }
}

/// An active fault.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ActiveFault {
    pub id: u64,
    pub spec: FaultSpec,
    pub description: String,
    pub since_ms: u64,
    /// When it heals by itself (unix ms), for `--for`.
    pub until_ms: Option<u64>,
}

/// `POST /v1/faults/partition`: groups of node selectors (port, name,
/// master-of-slot-N...). One group means "these vs every other node".
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PartitionRequest {
    pub groups: Vec<Vec<String>>,
    pub for_ms: Option<u64>,
}

/// `POST /v1/faults/delay`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DelayRequest {
    pub node: String,
    pub ms: u64,
    #[serde(default)]
    pub jitter_ms: u64,
    pub for_ms: Option<u64>,
}

/// `POST /v1/faults/drop`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DropRequest {
    pub node: String,
    pub rate: f64,
    pub for_ms: Option<u64>,
}

/// `GET /v1/faults` and the answer to every fault action.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FaultsResponse {
    pub active: Vec<ActiveFault>,
    /// Each running builtin node's own `SLOTD.FAULT STATUS` (one line per field).
    pub nodes: BTreeMap<String, String>,
    /// Why node status is missing (redis-server engine).
    pub note: Option<String>,
}

fn now_ms() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as u64).unwrap_or(0)
}

/// Keeps active faults and applies them to the nodes.
pub struct FaultManager {
    sup: Arc<Supervisor>,
    log: EventLog,
    active: tokio::sync::Mutex<Vec<ActiveFault>>,
    next_id: AtomicU64,
}

impl FaultManager {
    pub fn new(sup: Arc<Supervisor>, log: EventLog) -> Arc<FaultManager> {
        Arc::new(FaultManager { sup, log, active: tokio::sync::Mutex::new(Vec::new()), next_id: AtomicU64::new(1) })
    }

    fn builtin(&self, what: &'static str) -> Result<String, FaultError> {
        if self.sup.config().engine.kind == EngineKind::RedisServer {
            return Err(FaultError::Unsupported(what));
        }
        admin_token(&self.sup.ctx.layout)
    }

    fn ports(&self) -> Vec<u16> {
        self.sup.nodes.iter().map(|n| n.spec.port).collect()
    }

    async fn view(&self) -> Vec<topology::NodeLine> {
        let addrs: Vec<_> = self.sup.nodes.iter().filter(|n| n.status().state == State::Running).map(|n| n.addr()).collect();
        topology::merged_view(&addrs, Duration::from_millis(500)).await
    }

    /// Resolves selectors (port, name, master-of-slot-N, replica-of-slot-N).
    ///
    /// # Errors
    /// A selector names no node.
    pub async fn resolve(&self, sels: &[String]) -> Result<Vec<u16>, FaultError> {
        let needs_view = sels.iter().any(|s| topology::parse_role(s).is_some());
        let view = if needs_view { self.view().await } else { Vec::new() };
        let ports = self.ports();
        let mut out = Vec::new();
        for s in sels {
            let p = topology::resolve(s.trim(), &ports, &view)?;
            if !out.contains(&p) {
                out.push(p);
            }
        }
        Ok(out)
    }

    /// Cuts the bus between the groups.
    ///
    /// # Errors
    /// redis-server engine, bad selectors, overlapping groups, or a node refusing.
    pub async fn partition(self: &Arc<Self>, req: PartitionRequest) -> Result<FaultsResponse, FaultError> {
        self.builtin("partition")?;
        let mut groups = Vec::new();
        for g in &req.groups {
            let g: Vec<String> = g.iter().flat_map(|s| s.split(',')).map(str::trim).filter(|s| !s.is_empty()).map(String::from).collect();
            if !g.is_empty() {
                groups.push(self.resolve(&g).await?);
            }
        }
        if groups.len() == 1 {
            let rest: Vec<u16> = self.ports().into_iter().filter(|p| !groups[0].contains(p)).collect();
            groups.push(rest);
        }
        let all: Vec<u16> = groups.iter().flatten().copied().collect();
        let uniq: BTreeSet<u16> = all.iter().copied().collect();
        if groups.len() < 2 || groups.iter().any(Vec::is_empty) {
            return Err(FaultError::Invalid("a partition needs two non-empty groups, e.g. `slotctl partition 6380 / 6381,6382,6383,6384,6385` (one group alone means: it vs every other node)".into()));
        }
        if uniq.len() != all.len() {
            return Err(FaultError::Invalid("a node is in two groups of the partition; list each node once".into()));
        }
        self.add(FaultSpec::Partition { groups }, req.for_ms).await
    }

    /// Cuts this host's nodes off `remote` ports (nodes of other hosts)
    /// through the bus hook: host isolation where nftables cannot be used.
    /// Returns the fault's id for [`FaultManager::lift`].
    ///
    /// # Errors
    /// Not builtin nodes, or a node refused.
    pub async fn isolate_ports(self: &Arc<Self>, remote: Vec<u16>) -> Result<u64, FaultError> {
        self.builtin("host isolation through the bus hook")?;
        let local = self.ports();
        if local.is_empty() || remote.is_empty() {
            return Err(FaultError::Invalid("nothing to cut: this host or the others have no nodes".into()));
        }
        self.add_id(FaultSpec::Partition { groups: vec![local, remote] }, None).await
    }

    /// Removes one fault (host isolation healed); false when it was not active.
    pub async fn lift(&self, id: u64) -> bool {
        let active = self.active.lock().await.iter().any(|f| f.id == id);
        if active {
            self.remove(id, "healed").await;
        }
        active
    }

    /// Delays a node's outgoing bus frames.
    ///
    /// # Errors
    /// As [`FaultManager::partition`].
    pub async fn delay(self: &Arc<Self>, req: DelayRequest) -> Result<FaultsResponse, FaultError> {
        self.builtin("delay")?;
        if req.ms > 60_000 || req.jitter_ms > 60_000 {
            return Err(FaultError::Invalid("delay and jitter must be at most 60000 ms".into()));
        }
        let port = self.resolve(std::slice::from_ref(&req.node)).await?[0];
        self.add(FaultSpec::Delay { port, ms: req.ms, jitter_ms: req.jitter_ms }, req.for_ms).await
    }

    /// Drops a share of a node's outgoing bus frames.
    ///
    /// # Errors
    /// As [`FaultManager::partition`]; a rate outside 0..1.
    pub async fn drop_frames(self: &Arc<Self>, req: DropRequest) -> Result<FaultsResponse, FaultError> {
        self.builtin("drop")?;
        if !(0.0..=1.0).contains(&req.rate) {
            return Err(FaultError::Invalid(format!("drop rate {} is out of range; use a fraction from 0 to 1 (0.3 = 30%)", req.rate)));
        }
        let port = self.resolve(std::slice::from_ref(&req.node)).await?[0];
        self.add(FaultSpec::Drop { port, rate: req.rate }, req.for_ms).await
    }

    async fn add(self: &Arc<Self>, spec: FaultSpec, for_ms: Option<u64>) -> Result<FaultsResponse, FaultError> {
        self.add_id(spec, for_ms).await?;
        Ok(self.status().await)
    }

    /// Activates a fault on the nodes; returns its id.
    async fn add_id(self: &Arc<Self>, spec: FaultSpec, for_ms: Option<u64>) -> Result<u64, FaultError> {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let now = now_ms();
        let fault = ActiveFault { id, description: spec.describe(), spec: spec.clone(), since_ms: now, until_ms: for_ms.map(|d| now + d) };
        self.active.lock().await.push(fault.clone());
        if let Err(e) = self.apply().await {
            self.active.lock().await.retain(|f| f.id != id);
            let _ = self.apply().await;
            return Err(e);
        }
        let names = spec.ports().iter().map(|p| format!("node{p}")).collect();
        let mut msg = fault.description.clone();
        if let Some(d) = for_ms {
            msg.push_str(&format!(" for {d} ms"));
        }
        let node = match &spec {
            FaultSpec::Partition { groups } if groups[0].len() == 1 => Some(format!("node{}", groups[0][0])),
            FaultSpec::Delay { port, .. } | FaultSpec::Drop { port, .. } => Some(format!("node{port}")),
            _ => None,
        };
        self.log.record(Event::new(EventKind::FaultOn, node, msg).nodes(names).value(id.to_string()));
        if let Some(d) = for_ms {
            let me = self.clone();
            tokio::spawn(async move {
                tokio::time::sleep(Duration::from_millis(d)).await;
                me.remove(id, "its --for time is up").await;
            });
        }
        Ok(id)
    }

    async fn remove(&self, id: u64, why: &str) {
        let removed = {
            let mut a = self.active.lock().await;
            let pos = a.iter().position(|f| f.id == id);
            pos.map(|p| a.remove(p))
        };
        if let Some(f) = removed {
            if let Err(e) = self.apply().await {
                tracing::warn!("healing fault {id}: {e}");
            }
            let names = f.spec.ports().iter().map(|p| format!("node{p}")).collect();
            self.log.record(
                Event::new(EventKind::FaultOff, None, format!("healed ({why}): {}", f.description)).nodes(names).value(id.to_string()),
            );
        }
    }

    /// Removes every fault from every running node.
    ///
    /// # Errors
    /// A running node refused HEAL (the others are healed anyway).
    pub async fn heal(&self) -> Result<FaultsResponse, FaultError> {
        let had: Vec<ActiveFault> = std::mem::take(&mut *self.active.lock().await);
        let res = if self.sup.config().engine.kind == EngineKind::RedisServer { Ok(()) } else { self.apply().await };
        if !had.is_empty() {
            let names: BTreeSet<String> = had.iter().flat_map(|f| f.spec.ports()).map(|p| format!("node{p}")).collect();
            self.log.record(
                Event::new(EventKind::FaultOff, None, format!("healed every fault ({} active)", had.len()))
                    .nodes(names.into_iter().collect()),
            );
        }
        res?;
        Ok(self.status().await)
    }

    /// Sets every running node's fault state to what the active list says.
    async fn apply(&self) -> Result<(), FaultError> {
        let token = admin_token(&self.sup.ctx.layout)?;
        let active = self.active.lock().await.clone();
        let view = if active.iter().any(|f| matches!(f.spec, FaultSpec::Partition { .. })) { self.view().await } else { Vec::new() };
        let id_of = |port: u16| view.iter().find(|n| n.port() == port).map(|n| n.id.clone());
        let mut first_err = None;
        for n in &self.sup.nodes {
            if n.status().state != State::Running {
                continue;
            }
            let port = n.spec.port;
            let mut cmds: Vec<Vec<String>> = vec![vec!["HEAL".into()]];
            let mut cut = Vec::new();
            for f in &active {
                match &f.spec {
                    FaultSpec::Partition { groups } => {
                        if let Some(mine) = groups.iter().position(|g| g.contains(&port)) {
                            for (i, g) in groups.iter().enumerate() {
                                if i != mine {
                                    for p in g {
                                        match id_of(*p) {
                                            Some(id) => cut.push(id),
                                            None => {
                                                first_err.get_or_insert(FaultError::Invalid(format!(
                                                    "node{p}'s cluster id is unknown (no node lists it in CLUSTER NODES); is the cluster formed?"
                                                )));
                                            }
                                        }
                                    }
                                }
                            }
                        }
                    }
                    FaultSpec::Delay { port: p, ms, jitter_ms } if *p == port => {
                        cmds.push(vec!["DELAY".into(), ms.to_string(), jitter_ms.to_string()]);
                    }
                    FaultSpec::Drop { port: p, rate } if *p == port => cmds.push(vec!["DROP".into(), rate.to_string()]),
                    _ => {}
                }
            }
            if !cut.is_empty() {
                let mut c = vec!["PARTITION".to_string()];
                c.extend(cut);
                cmds.push(c);
            }
            if let Err(source) = send(n.addr(), &token, &cmds).await {
                first_err.get_or_insert(FaultError::Node { node: n.spec.name(), source });
            }
        }
        match first_err {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }

    /// Active faults and each node's own fault status.
    pub async fn status(&self) -> FaultsResponse {
        let active = self.active.lock().await.clone();
        let mut nodes = BTreeMap::new();
        let mut note = None;
        match self.builtin("fault status") {
            Ok(token) => {
                for n in &self.sup.nodes {
                    if n.status().state != State::Running {
                        continue;
                    }
                    if let Ok(mut c) = Conn::connect(n.addr(), Duration::from_millis(500)).await {
                        if let Ok(t) = c.text(&["SLOTD.FAULT", &token, "STATUS"]).await {
                            nodes.insert(n.spec.name(), t.replace("\r\n", " ").trim().to_string());
                        }
                    }
                }
            }
            Err(e) => note = Some(e.to_string()),
        }
        FaultsResponse { active, nodes, note }
    }

    /// Re-applies active faults to a node that comes back (a restart loses them).
    pub fn spawn_reapply(self: &Arc<Self>) {
        for n in &self.sup.nodes {
            let mut rx = n.subscribe();
            let me = self.clone();
            tokio::spawn(async move {
                let mut was = rx.borrow().state;
                while rx.changed().await.is_ok() {
                    let now = rx.borrow().state;
                    if now == State::Running && was != State::Running && was != State::Paused && !me.active.lock().await.is_empty() {
                        if let Err(e) = me.apply().await {
                            tracing::warn!("re-applying faults after a restart: {e}");
                        }
                    }
                    was = now;
                }
            });
        }
    }
}

async fn send(addr: std::net::SocketAddr, token: &str, cmds: &[Vec<String>]) -> Result<(), AdminError> {
    let mut c = Conn::connect(addr, Duration::from_millis(1000)).await?;
    for cmd in cmds {
        let mut args: Vec<&str> = vec!["SLOTD.FAULT", token];
        args.extend(cmd.iter().map(String::as_str));
        c.cmd(&args).await?;
    }
    Ok(())
}

/// Parses "30s", "1500ms", "2m" (humantime) into ms, for `--for`.
///
/// # Errors
/// Not a duration; the message shows the accepted forms.
pub fn parse_duration_ms(s: &str) -> Result<u64, DurationError> {
    if let Ok(ms) = s.parse::<u64>() {
        return Ok(ms);
    }
    humantime::parse_duration(s).map(|d| d.as_millis() as u64).map_err(|source| DurationError { text: s.to_string(), source })
}

/// A `--for` / `--timeout` value that is not a duration.
#[derive(Debug, thiserror::Error)]
#[error("`{text}` is not a duration ({source}); use e.g. 1500ms, 10s, 2m")]
pub struct DurationError {
    text: String,
    source: humantime::DurationError,
}
