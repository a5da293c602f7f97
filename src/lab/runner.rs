//! Runs a scenario against its own fresh slotd (a child process on free
//! ports in a temporary data dir), so it never touches the lab the user
//! runs, and reports a narrative, the event timeline, keys lost and
//! PASS/FAIL per expectation.

use super::client::ClusterClient;
use super::scenario::{Cond, Scenario, Step, Variant};
use crate::api::types::{DelayRequest, DropRequest, KillRequest, PartitionRequest};
use crate::api::types::{NodeView, StatusResponse};
use crate::ctl::client::Client;
use crate::events::{Event, EventsResponse, Stopwatch};
use crate::topology;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::time::Instant;

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

/// Picks `n` ports whose port and port + 10000 are free (never 6380-6385/6300).
pub fn free_ports(n: usize) -> Vec<u16> {
    let mut out = Vec::new();
    let mut tries = 0;
    while out.len() < n && tries < 100_000 {
        tries += 1;
        let port = 20000 + rand::random::<u16>() % 10000;
        if out.contains(&port) {
            continue;
        }
        let ok = |p: u16| std::net::TcpListener::bind(("127.0.0.1", p)).is_ok();
        if ok(port) && ok(port + 10000) {
            out.push(port);
        }
    }
    out
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

fn config_text(s: &Scenario, v: Option<&Variant>, o: &RunOptions, api: u16, ports: &[u16], data: &std::path::Path) -> String {
    let st = &s.setup;
    let save = v.and_then(|v| v.save.clone()).unwrap_or_else(|| st.save.clone());
    let save: Vec<String> = save.iter().map(|[a, b]| format!("[{a}, {b}]")).collect();
    let list: Vec<String> = ports.iter().map(u16::to_string).collect();
    format!(
        "[supervisor]\napi = \"127.0.0.1:{api}\"\ndata_dir = \"{}\"\n[engine]\nkind = \"{}\"\nmode = \"process\"\n[cluster]\nreplicas = {}\nnode_timeout_ms = {}\ncreate = \"{}\"\n[nodes]\nhost = \"127.0.0.1\"\nports = [{}]\n[persistence]\nsave = [{}]\nappendonly = {}\nappendfsync = \"{}\"\n[restart]\npolicy = \"unexpected\"\nbackoff_ms = 200\nstart_timeout_ms = 10000\nstop_timeout_ms = 5000\n",
        data.display(),
        o.engine,
        st.replicas,
        o.node_timeout_ms.unwrap_or(st.node_timeout_ms),
        st.create,
        list.join(", "),
        save.join(", "),
        v.and_then(|v| v.appendonly).unwrap_or(st.appendonly),
        v.and_then(|v| v.appendfsync.clone()).unwrap_or_else(|| st.appendfsync.clone()),
    )
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
        out.error = Some(if tail.is_empty() { e } else { format!("{e} (slotd log: {tail})") });
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
        self.narrative.push(format!("{:>4}.{:03}s  {}", t / 1000, t % 1000, line.into()));
    }

    fn check(&mut self, step: usize, what: String, pass: bool, detail: String) {
        self.say(format!("{} {what}: {detail}", if pass { "PASS" } else { "FAIL" }));
        self.checks.push(CheckResult { step, what, pass, detail });
    }

    fn timeout(&self) -> Duration {
        let nt = self.opts.node_timeout_ms.unwrap_or(self.scenario.setup.node_timeout_ms);
        Duration::from_millis((nt * 10).max(30_000))
    }

    async fn status(&self) -> Result<StatusResponse, String> {
        self.api.get::<StatusResponse>("/v1/status").await.map_err(|e| e.to_string())
    }

    async fn view(&self) -> Vec<topology::NodeLine> {
        let addrs: Vec<SocketAddr> = self.ports.iter().map(|p| SocketAddr::new(self.host, *p)).collect();
        topology::merged_view(&addrs, Duration::from_millis(300)).await
    }

    /// n0..nN (by position), $alias, a port, or a role selector.
    async fn resolve(&self, sel: &str) -> Result<u16, String> {
        if let Some(a) = sel.strip_prefix('$') {
            return self
                .aliases
                .get(a)
                .copied()
                .ok_or_else(|| format!("`{sel}` was not remembered by an earlier step (use `as = \"{a}\"`)"));
        }
        if let Some(i) = sel.strip_prefix('n').and_then(|i| i.parse::<usize>().ok()) {
            return self.ports.get(i).copied().ok_or_else(|| format!("`{sel}`: the scenario has {} nodes (n0..)", self.ports.len()));
        }
        let view = if topology::parse_role(sel).is_some() { self.view().await } else { Vec::new() };
        topology::resolve(sel, &self.ports, &view).map_err(|e| e.to_string())
    }

    fn name(&self, port: u16) -> String {
        let idx = self.ports.iter().position(|p| *p == port).map(|i| format!(" (n{i})")).unwrap_or_default();
        format!("node{port}{idx}")
    }

    async fn go(&mut self) -> Result<(), String> {
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
                    return Err(format!("cluster creation {f}"));
                }
            }
            if Instant::now() > limit {
                return Err("slotd did not bring the cluster up within 60 s".into());
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

    async fn act(&mut self, port: u16, verb: &str, body: Option<serde_json::Value>) -> Result<(), String> {
        self.api
            .post::<serde_json::Value>(&format!("/v1/nodes/{port}/{verb}"), body)
            .await
            .map(|_| ())
            .map_err(|e| format!("{verb} {}: {e}", self.name(port)))
    }

    async fn fault<B: serde::Serialize>(&mut self, path: &str, body: &B) -> Result<bool, String> {
        match self.api.post::<serde_json::Value>(path, crate::ctl::wire(body)).await {
            Ok(_) => Ok(true),
            Err(crate::ctl::client::CtlError::Api { status: 409, message, .. }) if message.contains("redis-server") => {
                self.say(format!("SKIPPED: {message}"));
                Ok(false)
            }
            Err(e) => Err(e.to_string()),
        }
    }

    async fn step(&mut self, i: usize, step: &Step) -> Result<(), String> {
        match step {
            Step::Say { text } => self.say(format!("-- {text}")),
            Step::Write { keys, prefix, slot, wait_replicas, key_timeout_ms } => {
                let mut c = ClusterClient::new(self.host, self.ports.clone());
                let (mut ok, mut bad, mut streak) = (0u64, 0u64, 0u32);
                let mut first_err = None;
                let started = Instant::now();
                let keyname = |k: u64| match slot {
                    Some(s) => format!("{}:{k}", topology::key_for_slot(&format!("{prefix}:"), *s)),
                    None => format!("{prefix}:{k}"),
                };
                if wait_replicas.is_none() {
                    // Pipelined in batches; refused keys are retried one by one.
                    for batch in (0..*keys).collect::<Vec<u64>>().chunks(1000) {
                        let items: Vec<(String, Option<String>)> = batch.iter().map(|k| (keyname(*k), Some(format!("v{k}")))).collect();
                        let per = if streak >= 10 { 0 } else { *key_timeout_ms };
                        let res = c.many("SET", &items, Instant::now() + Duration::from_millis(per)).await;
                        for ((k, v), r) in items.into_iter().zip(res) {
                            match r {
                                Ok(_) => {
                                    ok += 1;
                                    streak = 0;
                                    self.acked.insert(k, v.unwrap_or_default());
                                }
                                Err(e) => {
                                    bad += 1;
                                    streak += 1;
                                    first_err.get_or_insert(e);
                                }
                            }
                        }
                    }
                }
                for k in (0..*keys).filter(|_| wait_replicas.is_some()) {
                    let key = keyname(k);
                    let per_key = if streak >= 10 { 0 } else { *key_timeout_ms };
                    let value = format!("v{k}");
                    match c.set(&key, &value, *wait_replicas, Instant::now() + Duration::from_millis(per_key)).await {
                        Ok(()) => {
                            ok += 1;
                            streak = 0;
                            self.acked.insert(key, value);
                        }
                        Err(e) => {
                            bad += 1;
                            streak += 1;
                            first_err.get_or_insert(e);
                        }
                    }
                }
                self.not_acked += bad;
                let wait = wait_replicas.map(|n| format!(" with WAIT {n}")).unwrap_or_default();
                let err = first_err.map(|e| format!("; first error: {e}")).unwrap_or_default();
                self.say(format!(
                    "wrote {keys} keys {prefix}:*{wait} in {} ms: {ok} acknowledged, {bad} not{err}",
                    started.elapsed().as_millis()
                ));
            }
            Step::LoadStart { prefix, wait_replicas } => {
                let st = Arc::new(Mutex::new(LoadState::default()));
                let (host, ports, pfx, wait, st2) = (self.host, self.ports.clone(), prefix.clone(), *wait_replicas, st.clone());
                let h = tokio::spawn(async move {
                    let mut c = ClusterClient::new(host, ports);
                    let mut k = 0u64;
                    loop {
                        if st2.lock().map(|s| s.stop).unwrap_or(true) {
                            break;
                        }
                        let key = format!("{pfx}:{k}");
                        let value = format!("v{k}");
                        let r = c.set(&key, &value, wait, Instant::now() + Duration::from_millis(200)).await;
                        if let Ok(mut s) = st2.lock() {
                            match r {
                                Ok(()) => s.acked.push((key, value)),
                                Err(_) => s.failed += 1,
                            }
                        }
                        k += 1;
                        tokio::time::sleep(Duration::from_millis(2)).await;
                    }
                });
                self.load = Some((h, st));
                let wait = wait_replicas.map(|n| format!(" (WAIT {n} after each)")).unwrap_or_default();
                self.say(format!("steady write load started: {prefix}:0, {prefix}:1, ...{wait}"));
            }
            Step::LoadStop => {
                if let Some((h, st)) = self.load.take() {
                    if let Ok(mut s) = st.lock() {
                        s.stop = true;
                    }
                    let _ = h.await;
                    let (acked, failed) = st.lock().map(|s| (s.acked.clone(), s.failed)).unwrap_or_default();
                    self.say(format!("write load stopped: {} acknowledged, {failed} refused or timed out", acked.len()));
                    self.not_acked += failed;
                    self.acked.extend(acked);
                }
            }
            Step::Read => {
                let mut c = ClusterClient::new(self.host, self.ports.clone());
                let mut missing = Vec::new();
                let mut errors = 0;
                let keys: Vec<(String, String)> = self.acked.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
                let items: Vec<(String, Option<String>)> = keys.iter().map(|(k, _)| (k.clone(), None)).collect();
                let res = c.many("GET", &items, Instant::now() + Duration::from_millis(3000)).await;
                for ((k, v), r) in keys.iter().zip(res) {
                    match r {
                        Ok(got) if got.text().as_deref() == Some(v.as_str()) => {}
                        Ok(_) => missing.push(k.clone()),
                        Err(_) => {
                            errors += 1;
                            missing.push(k.clone());
                        }
                    }
                }
                let shown: Vec<&String> = missing.iter().take(20).collect();
                self.say(format!(
                    "read back {} acknowledged keys: {} kept, {} lost{}{}",
                    keys.len(),
                    keys.len() - missing.len(),
                    missing.len(),
                    if errors > 0 { format!(" ({errors} unreadable)") } else { String::new() },
                    if shown.is_empty() {
                        String::new()
                    } else {
                        format!(
                            ": {}{}",
                            shown.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(" "),
                            if missing.len() > 20 { " ..." } else { "" }
                        )
                    }
                ));
                self.lost = Some(missing.len() as u64);
                self.missing = missing;
            }
            Step::Kill { node, signal, alias } => {
                let port = self.resolve(node).await?;
                if let Some(a) = alias {
                    self.aliases.insert(a.clone(), port);
                }
                self.say(format!("kill -{} {} ({node})", signal.trim_start_matches("SIG"), self.name(port)));
                self.act(port, "kill", crate::ctl::wire(&KillRequest { signal: Some(signal.clone()) })).await?;
            }
            Step::Pause { node, alias } => {
                let port = self.resolve(node).await?;
                if let Some(a) = alias {
                    self.aliases.insert(a.clone(), port);
                }
                self.say(format!("pause {} ({node}): SIGSTOP, a hung node", self.name(port)));
                self.act(port, "pause", None).await?;
            }
            Step::Resume { node } | Step::Start { node } | Step::Stop { node } => {
                let port = self.resolve(node).await?;
                let verb = match step {
                    Step::Resume { .. } => "resume",
                    Step::Start { .. } => "start",
                    _ => "stop",
                };
                self.say(format!("{verb} {}", self.name(port)));
                self.act(port, verb, None).await?;
            }
            Step::Remember { node, alias } => {
                let port = self.resolve(node).await?;
                self.aliases.insert(alias.clone(), port);
                self.say(format!("${alias} = {} ({node})", self.name(port)));
            }
            Step::Partition { groups, for_ms } => {
                let mut resolved = Vec::new();
                for g in groups {
                    let mut ports = Vec::new();
                    for s in g {
                        ports.push(self.resolve(s).await?.to_string());
                    }
                    resolved.push(ports);
                }
                let text: Vec<String> = resolved.iter().map(|g| g.join(",")).collect();
                self.say(format!("partition {}", text.join(" / ")));
                self.fault("/v1/faults/partition", &PartitionRequest { groups: resolved, for_ms: *for_ms }).await?;
            }
            Step::Delay { node, ms, jitter_ms } => {
                let port = self.resolve(node).await?;
                self.say(format!("delay {}'s bus frames by {ms} ms (+{jitter_ms})", self.name(port)));
                self.fault("/v1/faults/delay", &DelayRequest { node: port.to_string(), ms: *ms, jitter_ms: *jitter_ms, for_ms: None })
                    .await?;
            }
            Step::Drop { node, rate } => {
                let port = self.resolve(node).await?;
                self.say(format!("drop {:.0}% of {}'s bus frames", rate * 100.0, self.name(port)));
                self.fault("/v1/faults/drop", &DropRequest { node: port.to_string(), rate: *rate, for_ms: None }).await?;
            }
            Step::Heal => {
                self.say("heal every fault");
                self.api.post::<serde_json::Value>("/v1/faults/heal", None).await.map_err(|e| e.to_string())?;
            }
            Step::Command { node, args, error } => {
                let port = self.resolve(node).await?;
                let mut real = Vec::new();
                for a in args {
                    real.push(self.expand(a).await?);
                }
                let shown = real.join(" ");
                let mut c = crate::cluster_admin::Conn::connect(SocketAddr::new(self.host, port), Duration::from_secs(5))
                    .await
                    .map_err(|e| e.to_string())?;
                let argv: Vec<&str> = real.iter().map(String::as_str).collect();
                let r = c.cmd(&argv).await;
                match (r, error) {
                    (Ok(r), None) => self.say(format!("{} > {shown}  -> {}", self.name(port), short(&r))),
                    (Err(e), Some(want)) if e.to_string().contains(want.as_str()) => {
                        let d = e.to_string();
                        self.check(i, format!("`{shown}` is refused with {want}"), true, d);
                    }
                    (Ok(r), Some(want)) => {
                        self.check(i, format!("`{shown}` is refused with {want}"), false, format!("it answered {}", short(&r)))
                    }
                    (Err(e), _) => return Err(format!("{} > {shown} failed: {e}", self.name(port))),
                }
            }
            Step::Migrate { slot, to } => self.migrate(*slot, to).await?,
            Step::Wait(cond) => {
                if self.skip_variant(cond) {
                    return Ok(());
                }
                let limit = cond.timeout_ms.map(Duration::from_millis).unwrap_or_else(|| self.timeout());
                let started = Instant::now();
                let desc = self.describe(cond);
                let mut last = String::new();
                loop {
                    let (ok, detail) = self.eval(cond).await;
                    if ok {
                        self.say(format!("waited {} ms until {desc}", started.elapsed().as_millis()));
                        break;
                    }
                    last = detail;
                    if started.elapsed() >= limit {
                        self.check(
                            i,
                            format!("wait until {desc}"),
                            false,
                            format!("not within {} ms; last seen: {last}", limit.as_millis()),
                        );
                        return Err(format!("gave up at step {i}"));
                    }
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                let _ = last;
            }
            Step::Expect(cond) => {
                if self.skip_variant(cond) {
                    return Ok(());
                }
                let (ok, detail) = self.eval(cond).await;
                let desc = self.describe(cond);
                self.check(i, desc, ok, detail);
            }
            Step::Sleep { ms } => {
                self.say(format!("sleep {ms} ms"));
                tokio::time::sleep(Duration::from_millis(*ms)).await;
            }
        }
        Ok(())
    }

    fn skip_variant(&self, c: &Cond) -> bool {
        match (&c.variant, self.variant) {
            (Some(want), Some(v)) => want != &v.name,
            (Some(_), None) => true,
            _ => false,
        }
    }

    async fn expand(&self, arg: &str) -> Result<String, String> {
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

    /// Moves one slot with the reshard mover (the same code as `slotctl
    /// reshard`: IMPORTING, MIGRATING, GETKEYSINSLOT + MIGRATE, SETSLOT NODE
    /// on every master), narrating the lab's steps.
    async fn migrate(&mut self, slot: u16, to: &str) -> Result<(), String> {
        use crate::reshard::mover::{self, Endpoint, MoveOpts, Pool};
        let view = self.view().await;
        let src = view.iter().find(|n| n.is_master() && n.owns(slot)).ok_or(format!("nobody serves slot {slot}"))?.clone();
        let dst_port = self.resolve(to).await?;
        let dst = view.iter().find(|n| n.port() == dst_port).ok_or(format!("{} is not in CLUSTER NODES", self.name(dst_port)))?.clone();
        if src.port() == dst.port() {
            return Err(format!("slot {slot} is already on {}", self.name(dst.port())));
        }
        let endpoint = |n: &topology::NodeLine| Endpoint { id: n.id.clone(), addr: SocketAddr::new(self.host, n.port()) };
        let (from, into) = (endpoint(&src), endpoint(&dst));
        let others: Vec<SocketAddr> = view
            .iter()
            .filter(|n| n.is_master() && n.port() != src.port() && n.port() != dst.port())
            .map(|n| SocketAddr::new(self.host, n.port()))
            .collect();
        let job = crate::reshard::progress::Job::new(0, "lab", format!("slot {slot}"));
        let mut pool = Pool::new(Duration::from_secs(10));
        let short = |id: &str| id.chars().take(8).collect::<String>();
        self.say(format!("{} > CLUSTER SETSLOT {slot} IMPORTING {}", self.name(dst.port()), short(&src.id)));
        self.say(format!("{} > CLUSTER SETSLOT {slot} MIGRATING {}", self.name(src.port()), short(&dst.id)));
        let moved = mover::move_slot(&mut pool, &from, &into, &others, slot, MoveOpts::default(), &job).await.map_err(|e| e.to_string())?;
        self.say(format!("{} > CLUSTER GETKEYSINSLOT {slot} + MIGRATE ... KEYS: {moved} keys moved", self.name(src.port())));
        self.say(format!("CLUSTER SETSLOT {slot} NODE {} on every master", self.name(dst.port())));
        Ok(())
    }

    fn describe(&self, c: &Cond) -> String {
        let mut parts = Vec::new();
        let on = c.node.clone().unwrap_or_else(|| "every running node".into());
        if let Some(s) = &c.cluster_state {
            parts.push(format!("cluster_state {s} on {on}"));
        }
        if let Some(r) = &c.role {
            parts.push(format!("{on} is {r}"));
        }
        if let Some(m) = &c.replica_of {
            parts.push(format!("{on} replicates {m}"));
        }
        if let Some(s) = &c.state {
            parts.push(format!("{on} is {s}"));
        }
        if let Some(l) = c.lost {
            parts.push(format!("keys lost = {l}"));
        }
        if let Some(l) = c.lost_min {
            parts.push(format!("keys lost >= {l}"));
        }
        if let Some(l) = c.lost_max {
            parts.push(format!("keys lost <= {l}"));
        }
        if let Some(a) = c.acked_min {
            parts.push(format!("acknowledged writes >= {a}"));
        }
        if let (Some(slot), Some(w)) = (c.slot, c.writable) {
            parts.push(format!("slot {slot} {}", if w { "accepts writes" } else { "refuses writes" }));
        }
        if let Some(e) = &c.write_error {
            parts.push(format!("a write on slot {} fails with {e}", c.slot.unwrap_or(0)));
        }
        if let (Some(slot), Some(o)) = (c.slot, &c.slot_owner) {
            parts.push(format!("slot {slot} is served by {o}"));
        }
        parts.join(" and ")
    }

    /// Whether every part of the condition holds now, and what was seen.
    async fn eval(&self, c: &Cond) -> (bool, String) {
        let mut seen = Vec::new();
        let mut ok = true;
        let status = self.status().await.ok();
        let node = match &c.node {
            Some(sel) => match self.resolve(sel).await {
                Ok(p) => Some(p),
                Err(e) => return (false, e),
            },
            None => None,
        };
        let nv = |p: u16| status.as_ref().and_then(|s| s.nodes.iter().find(|n| n.port == p).cloned());
        if let Some(want) = &c.cluster_state {
            let states: Vec<(u16, Option<String>)> = match (node, &status) {
                (Some(p), _) => vec![(p, nv(p).and_then(|n| n.cluster_state))],
                (None, Some(s)) => s
                    .nodes
                    .iter()
                    .filter(|n| n.state == crate::supervise::state::State::Running)
                    .map(|n| (n.port, n.cluster_state.clone()))
                    .collect(),
                (None, None) => vec![],
            };
            let good = !states.is_empty() && states.iter().all(|(_, s)| s.as_deref() == Some(want.as_str()));
            ok &= good;
            seen.push(format!(
                "cluster_state {}",
                states.iter().map(|(p, s)| format!("{p}={}", s.as_deref().unwrap_or("?"))).collect::<Vec<_>>().join(" ")
            ));
        }
        if let Some(p) = node {
            let n = nv(p);
            if let Some(want) = &c.role {
                let r = n.as_ref().and_then(role_name);
                ok &= r == Some(want.as_str());
                seen.push(format!("{} role {}", self.name(p), r.unwrap_or("?")));
            }
            if let Some(m) = &c.replica_of {
                let want = self.resolve(m).await.ok();
                let got = n.as_ref().and_then(|n| if role_name(n) == Some("replica") { n.master_port } else { None });
                ok &= want.is_some() && got == want;
                seen.push(format!("{} replicates {}", self.name(p), got.map(|g| self.name(g)).unwrap_or_else(|| "nothing".into())));
            }
            if let Some(want) = &c.state {
                let s = n.as_ref().map(|n| n.state.to_string()).unwrap_or_default();
                ok &= s.eq_ignore_ascii_case(want);
                seen.push(format!("{} is {s}", self.name(p)));
            }
        }
        if let Some(l) = c.lost {
            ok &= self.lost == Some(l);
            seen.push(format!("lost {}", self.lost.map(|v| v.to_string()).unwrap_or_else(|| "not measured (no read step)".into())));
        }
        if let Some(l) = c.lost_min {
            ok &= self.lost.is_some_and(|v| v >= l);
            seen.push(format!("lost {:?}", self.lost));
        }
        if let Some(l) = c.lost_max {
            ok &= self.lost.is_some_and(|v| v <= l);
            seen.push(format!("lost {:?}", self.lost));
        }
        if let Some(a) = c.acked_min {
            ok &= self.acked.len() as u64 >= a;
            seen.push(format!("{} acknowledged", self.acked.len()));
        }
        if let Some(slot) = c.slot {
            if c.writable.is_some() || c.write_error.is_some() {
                let mut cl = ClusterClient::new(self.host, self.ports.clone());
                // A write that changes nothing: checking a condition never adds a key.
                let probe = topology::null_write(slot);
                let args: Vec<&str> = probe.iter().map(String::as_str).collect();
                let r = match cl.keyed(&probe[1], &args, Instant::now() + Duration::from_millis(300)).await {
                    Err(e) if topology::null_write_served(&e) => Ok(()),
                    other => other.map(|_| ()),
                };
                if let Some(w) = c.writable {
                    ok &= r.is_ok() == w;
                }
                if let Some(want) = &c.write_error {
                    ok &= r.as_ref().err().is_some_and(|e| e.contains(want.as_str()));
                }
                seen.push(match r {
                    Ok(()) => format!("write on slot {slot} accepted"),
                    Err(e) => format!("write on slot {slot}: {e}"),
                });
            }
            if let Some(o) = &c.slot_owner {
                let want = self.resolve(o).await.ok();
                let view = self.view().await;
                let got = view.iter().filter(|n| n.is_master()).find(|n| n.owns(slot)).map(|n| n.port());
                ok &= want.is_some() && got == want;
                seen.push(format!("slot {slot} on {}", got.map(|g| self.name(g)).unwrap_or_else(|| "nobody".into())));
            }
        }
        (ok, seen.join(", "))
    }
}

fn short(r: &crate::cluster_admin::Resp) -> String {
    let t = match r {
        crate::cluster_admin::Resp::Int(i) => i.to_string(),
        crate::cluster_admin::Resp::Array(Some(a)) => format!("({} items)", a.len()),
        other => other.text().unwrap_or_else(|| format!("{other:?}")),
    };
    t.lines().next().unwrap_or("").chars().take(80).collect()
}
