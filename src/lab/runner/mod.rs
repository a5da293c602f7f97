//! Runs a scenario against its own fresh slotd (a child process on free
//! ports in a temporary data dir), so it never touches the lab the user
//! runs, and reports a narrative, the event timeline, keys lost and
//! PASS/FAIL per expectation.

mod conditions;
mod sandbox;
mod steps;

use super::client::ClusterClient;
use super::scenario::{Cond, Scenario, Step, Variant};
use crate::api::types::{DelayRequest, DropRequest, KillRequest, PartitionRequest};
use crate::api::types::{NodeView, StatusResponse};
use crate::ctl::client::Client;
use crate::events::{Event, EventsResponse, Stopwatch};
use crate::topology;
use conditions::short;
use sandbox::config_text;
pub use sandbox::free_ports;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::time::Instant;

/// Why a scenario stopped before its end: the line the report shows.
#[derive(Debug, thiserror::Error)]
pub enum LabError {
    /// A step could not be carried out (what and why, in the lab's words).
    #[error("{0}")]
    Step(String),
    /// The cluster answered a request with an error or not at all.
    #[error(transparent)]
    Client(#[from] super::client::ClientError),
    /// The scenario's slotd refused or failed an API call.
    #[error(transparent)]
    Api(#[from] crate::ctl::client::CtlError),
}

impl From<String> for LabError {
    fn from(s: String) -> Self {
        LabError::Step(s)
    }
}

/// How to run.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// The slotd program (its `slotd node` runs builtin nodes).
    pub slotd_bin: PathBuf,
    /// "builtin" or "redis-server".
    pub engine: String,
    /// Overrides the scenario's node timeout (CI uses a short one).
    pub node_timeout_ms: Option<u64>,
    /// Keep the temp dir (its path is printed) for inspection.
    pub keep: bool,
    /// Where narrative lines also go as they happen (the dashboard's live view).
    pub live: Option<Arc<Mutex<Vec<String>>>>,
}

/// One PASS/FAIL line.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CheckResult {
    pub step: usize,
    pub what: String,
    pub pass: bool,
    pub detail: String,
}

/// The result of one run (one engine, one variant).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Outcome {
    pub scenario: String,
    pub engine: String,
    pub variant: Option<String>,
    pub narrative: Vec<String>,
    pub checks: Vec<CheckResult>,
    pub events: Vec<Event>,
    pub failovers: Vec<Stopwatch>,
    pub acked: u64,
    pub not_acked: u64,
    pub lost: Option<u64>,
    pub missing: Vec<String>,
    /// Why the run could not happen at all (setup failure, unsupported step).
    pub error: Option<String>,
    pub skipped: Option<String>,
}

impl Outcome {
    pub fn passed(&self) -> bool {
        self.error.is_none() && self.checks.iter().all(|c| c.pass)
    }
}

struct Run<'a> {
    opts: &'a RunOptions,
    scenario: &'a Scenario,
    variant: Option<&'a Variant>,
    api: Client,
    ports: Vec<u16>,
    host: IpAddr,
    aliases: HashMap<String, u16>,
    acked: BTreeMap<String, String>,
    not_acked: u64,
    lost: Option<u64>,
    missing: Vec<String>,
    narrative: Vec<String>,
    checks: Vec<CheckResult>,
    t0: Instant,
    load: Option<(tokio::task::JoinHandle<()>, Arc<Mutex<LoadState>>)>,
}

#[derive(Default)]
struct LoadState {
    acked: Vec<(String, String)>,
    failed: u64,
    stop: bool,
}

/// Runs the scenario once per variant (or once) on `opts.engine`.
pub async fn run(scenario: &Scenario, opts: &RunOptions) -> Vec<Outcome> {
    if scenario.variants.is_empty() {
        vec![run_one(scenario, None, opts).await]
    } else {
        let mut out = Vec::new();
        for v in &scenario.variants {
            out.push(run_one(scenario, Some(v), opts).await);
        }
        out
    }
}

fn blank(scenario: &Scenario, variant: Option<&Variant>, opts: &RunOptions) -> Outcome {
    Outcome {
        scenario: scenario.name.clone(),
        engine: opts.engine.clone(),
        variant: variant.map(|v| v.name.clone()),
        narrative: Vec::new(),
        checks: Vec::new(),
        events: Vec::new(),
        failovers: Vec::new(),
        acked: 0,
        not_acked: 0,
        lost: None,
        missing: Vec::new(),
        error: None,
        skipped: None,
    }
}

async fn run_one(scenario: &Scenario, variant: Option<&Variant>, opts: &RunOptions) -> Outcome {
    let mut out = blank(scenario, variant, opts);
    if !scenario.setup.engines.iter().any(|e| e == &opts.engine) {
        out.skipped = Some(format!("scenario is for engines {:?}", scenario.setup.engines));
        return out;
    }
    let dir = match tempfile::Builder::new().prefix("slotd-lab-").tempdir() {
        Ok(d) => d,
        Err(e) => {
            out.error = Some(format!("cannot create a temp dir: {e} (set TMPDIR to a writable directory)"));
            return out;
        }
    };
    let mut ports = free_ports(scenario.setup.nodes + 1);
    if ports.len() < scenario.setup.nodes + 1 {
        out.error = Some("cannot find free ports in 20000-29999".into());
        return out;
    }
    let api_port = ports.remove(0);
    let data = dir.path().join("data");
    let conf = dir.path().join("slotd.toml");
    let text = config_text(scenario, variant, opts, api_port, &ports, &data);
    if let Err(e) = std::fs::write(&conf, text) {
        out.error = Some(format!("cannot write {}: {e}", conf.display()));
        return out;
    }
    // The lab's cluster has no password: connections from this process must
    // not reuse one registered earlier for these ports (another cluster here).
    crate::cluster_admin::set_credentials(ports.iter().map(|p| std::net::SocketAddr::new(Ipv4Addr::LOCALHOST.into(), *p)), None);
    let log = dir.path().join("slotd.log");
    let child = std::fs::File::create(&log).and_then(|f| {
        let f2 = f.try_clone()?;
        std::process::Command::new(&opts.slotd_bin)
            .arg("--config")
            .arg(&conf)
            .env("SLOTD_LOG", "warn")
            .env_remove("NOTIFY_SOCKET")
            .stdin(std::process::Stdio::null())
            .stdout(f)
            .stderr(f2)
            .spawn()
    });
    let mut child = match child {
        Ok(c) => c,
        Err(e) => {
            out.error = Some(format!("cannot start {}: {e}; pass the slotd program with --slotd", opts.slotd_bin.display()));
            return out;
        }
    };
    let mut run = Run {
        opts,
        scenario,
        variant,
        api: Client::new(&format!("127.0.0.1:{api_port}"), None, Duration::from_secs(120)),
        ports: ports.clone(),
        host: IpAddr::V4(Ipv4Addr::LOCALHOST),
        aliases: HashMap::new(),
        acked: BTreeMap::new(),
        not_acked: 0,
        lost: None,
        missing: Vec::new(),
        narrative: Vec::new(),
        checks: Vec::new(),
        t0: Instant::now(),
        load: None,
    };
    let res = run.go().await;
    if let Some((h, st)) = run.load.take() {
        if let Ok(mut s) = st.lock() {
            s.stop = true;
        }
        let _ = h.await;
    }
    if let Ok(ev) = run.api.get::<EventsResponse>("/v1/events").await {
        out.events = ev.events;
        out.failovers = ev.failovers;
    }
    let _ = run.api.post::<serde_json::Value>("/v1/shutdown", None).await;
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        match child.try_wait() {
            Ok(Some(_)) => break,
            Ok(None) if std::time::Instant::now() < deadline => tokio::time::sleep(Duration::from_millis(100)).await,
            _ => {
                let _ = child.kill();
                let _ = child.wait();
                break;
            }
        }
    }
    if let Err(e) = res {
        let tail: String = std::fs::read_to_string(&log).unwrap_or_default().lines().rev().take(5).collect::<Vec<_>>().join(" | ");
        out.error = Some(if tail.is_empty() { e.to_string() } else { format!("{e} (slotd log: {tail})") });
    }
    out.narrative = run.narrative;
    out.checks = run.checks;
    out.acked = run.acked.len() as u64;
    out.not_acked = run.not_acked;
    out.lost = run.lost;
    out.missing = run.missing;
    if opts.keep {
        let p = dir.keep();
        out.narrative.push(format!("kept {}", p.display()));
    }
    out
}

fn role_name(n: &NodeView) -> Option<&'static str> {
    match n.role.as_deref() {
        Some("master") => Some("master"),
        Some("slave") | Some("replica") => Some("replica"),
        _ => None,
    }
}

impl Run<'_> {
    fn say(&mut self, line: impl Into<String>) {
        let t = self.t0.elapsed().as_millis();
        let line = format!("{:>4}.{:03}s  {}", t / 1000, t % 1000, line.into());
        if let Some(live) = &self.opts.live {
            if let Ok(mut l) = live.lock() {
                l.push(line.clone());
            }
        }
        self.narrative.push(line);
    }

    fn check(&mut self, step: usize, what: String, pass: bool, detail: String) {
        self.say(format!("{} {what}: {detail}", if pass { "PASS" } else { "FAIL" }));
        self.checks.push(CheckResult { step, what, pass, detail });
    }

    fn timeout(&self) -> Duration {
        let nt = self.opts.node_timeout_ms.unwrap_or(self.scenario.setup.node_timeout_ms);
        Duration::from_millis((nt * 10).max(30_000))
    }

    async fn status(&self) -> Result<StatusResponse, LabError> {
        self.api.get::<StatusResponse>("/v1/status").await.map_err(LabError::from)
    }

    async fn view(&self) -> Vec<topology::NodeLine> {
        let addrs: Vec<SocketAddr> = self.ports.iter().map(|p| SocketAddr::new(self.host, *p)).collect();
        topology::merged_view(&addrs, Duration::from_millis(300)).await
    }

    /// n0..nN (by position), $alias, a port, or a role selector.
    async fn resolve(&self, sel: &str) -> Result<u16, LabError> {
        if let Some(a) = sel.strip_prefix('$') {
            return self
                .aliases
                .get(a)
                .copied()
                .ok_or_else(|| LabError::Step(format!("`{sel}` was not remembered by an earlier step (use `as = \"{a}\"`)")));
        }
        if let Some(i) = sel.strip_prefix('n').and_then(|i| i.parse::<usize>().ok()) {
            return self
                .ports
                .get(i)
                .copied()
                .ok_or_else(|| LabError::Step(format!("`{sel}`: the scenario has {} nodes (n0..)", self.ports.len())));
        }
        let view = if topology::parse_role(sel).is_some() { self.view().await } else { Vec::new() };
        topology::resolve(sel, &self.ports, &view).map_err(|e| LabError::Step(e.to_string()))
    }

    fn name(&self, port: u16) -> String {
        let idx = self.ports.iter().position(|p| *p == port).map(|i| format!(" (n{i})")).unwrap_or_default();
        format!("node{port}{idx}")
    }

    async fn go(&mut self) -> Result<(), LabError> {
        // Wait for slotd and, with create = auto, a formed cluster.
        let limit = Instant::now() + Duration::from_secs(60);
        loop {
            if let Ok(s) = self.status().await {
                let running = s.nodes.iter().all(|n| n.state == crate::supervise::state::State::Running);
                let formed = self.scenario.setup.create == "manual" || s.cluster.formation.as_deref() == Some("formed");
                if running && formed {
                    break;
                }
                if let Some(f) = s.cluster.formation.as_deref().filter(|f| f.starts_with("failed")) {
                    return Err(LabError::Step(format!("cluster creation {f}")));
                }
            }
            if Instant::now() > limit {
                return Err(LabError::Step("slotd did not bring the cluster up within 60 s".into()));
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        self.t0 = Instant::now();
        let variant = self.variant.map(|v| format!(", variant {}", v.name)).unwrap_or_default();
        self.say(format!(
            "cluster up: {} nodes on {} ({} engine{variant}), node timeout {} ms",
            self.ports.len(),
            self.ports.iter().map(u16::to_string).collect::<Vec<_>>().join(","),
            self.opts.engine,
            self.opts.node_timeout_ms.unwrap_or(self.scenario.setup.node_timeout_ms)
        ));
        let steps = self.scenario.steps.clone();
        for (i, step) in steps.iter().enumerate() {
            self.step(i + 1, step).await?;
        }
        Ok(())
    }

    async fn act(&mut self, port: u16, verb: &str, body: Option<serde_json::Value>) -> Result<(), LabError> {
        self.api
            .post::<serde_json::Value>(&format!("/v1/nodes/{port}/{verb}"), body)
            .await
            .map(|_| ())
            .map_err(|e| LabError::Step(format!("{verb} {}: {e}", self.name(port))))
    }

    async fn fault<B: serde::Serialize>(&mut self, path: &str, body: &B) -> Result<bool, LabError> {
        match self.api.post::<serde_json::Value>(path, crate::ctl::wire(body)).await {
            Ok(_) => Ok(true),
            Err(crate::ctl::client::CtlError::Api { status: 409, message, .. }) if message.contains("redis-server") => {
                self.say(format!("SKIPPED: {message}"));
                Ok(false)
            }
            Err(e) => Err(e.into()),
        }
    }

    async fn expand(&self, arg: &str) -> Result<String, LabError> {
        let mut out = arg.replace("{host}", &self.host.to_string());
        while let Some(start) = out.find("{port:").or_else(|| out.find("{id:")) {
            let end = out[start..].find('}').map(|e| start + e).ok_or_else(|| format!("unclosed placeholder in `{arg}`"))?;
            let inner = &out[start + 1..end];
            let (kind, sel) = inner.split_once(':').ok_or_else(|| format!("bad placeholder in `{arg}`"))?;
            let port = self.resolve(sel).await?;
            let val = if kind == "port" {
                port.to_string()
            } else {
                let mut c = crate::cluster_admin::Conn::connect(SocketAddr::new(self.host, port), Duration::from_secs(2))
                    .await
                    .map_err(|e| e.to_string())?;
                c.text(&["CLUSTER", "MYID"]).await.map_err(|e| e.to_string())?
            };
            out.replace_range(start..=end, &val);
        }
        Ok(out)
    }
}
