//! Supervision: one task per node owns that node's process and state, acts
//! on user commands (start/stop/kill/pause/resume), applies the restart
//! policy with backoff, and publishes its status on a watch channel.

pub mod adopt;
pub mod backoff;
pub mod lifecycle;
pub mod state;

use crate::cluster_admin;
use crate::confgen::Layout;
use crate::config::{Config, EngineKind, EngineMode, NodeSpec};
use crate::engine::{self, Exited, Running};
use lifecycle::{Effect, Event, Lifecycle};
use nix::sys::signal::Signal;
use serde::{Deserialize, Serialize};
use state::{ExitInfo, State};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tokio::sync::{mpsc, oneshot, watch};
use tokio::time::Instant;

/// How often a STARTING node is pinged and deadlines are checked.
const TICK: Duration = Duration::from_millis(100);

/// A node's supervision status as slotd sees it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NodeStatus {
    pub name: String,
    pub host: String,
    pub port: u16,
    pub state: State,
    pub pid: Option<u32>,
    /// When the current process started (unix ms).
    pub started_at_ms: Option<u64>,
    /// When the state last changed (unix ms).
    pub state_since_ms: u64,
    /// Automatic restarts since slotd started.
    pub restarts: u32,
    /// Failed starts/crashes in a row (reset after a stable run).
    pub attempts: u32,
    pub adopted: bool,
    pub last_exit: Option<ExitInfo>,
    /// Why the node is not running, when slotd knows.
    pub message: Option<String>,
}

/// What a user can ask of a node.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UserAction {
    Start,
    Stop,
    Restart,
    Kill(Signal),
    Pause,
    Resume,
}

/// Why an action was refused or failed.
#[derive(Debug, Clone, thiserror::Error)]
pub enum ActionError {
    /// Not possible in the node's current state (HTTP 409).
    #[error("{0}")]
    Conflict(String),
    /// Tried and failed (HTTP 500).
    #[error("{0}")]
    Failed(String),
}

fn unix_ms(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH).map(|d| d.as_millis() as u64).unwrap_or(0)
}

/// Shared by all node tasks.
pub struct Ctx {
    pub layout: Layout,
    /// The running config; restart settings are re-read at each decision so a
    /// config reload applies them live.
    pub config: RwLock<Config>,
}

impl Ctx {
    fn config(&self) -> Config {
        match self.config.read() {
            Ok(c) => c.clone(),
            Err(p) => p.into_inner().clone(),
        }
    }
}

struct Cmd {
    event: Event,
    reply: oneshot::Sender<Result<(), ActionError>>,
}

/// Handle to one supervised node.
#[derive(Clone)]
pub struct NodeEntry {
    pub spec: NodeSpec,
    ctx: Arc<Ctx>,
    tx: mpsc::Sender<Cmd>,
    status: watch::Receiver<NodeStatus>,
}

impl NodeEntry {
    pub fn status(&self) -> NodeStatus {
        self.status.borrow().clone()
    }
    pub fn addr(&self) -> SocketAddr {
        SocketAddr::new(self.spec.host, self.spec.port)
    }
    /// Status changes as they happen (event timeline, fault re-application).
    pub fn subscribe(&self) -> watch::Receiver<NodeStatus> {
        self.status.clone()
    }

    async fn send(&self, event: Event) -> Result<(), ActionError> {
        let (reply, rx) = oneshot::channel();
        self.tx
            .send(Cmd { event, reply })
            .await
            .map_err(|_| ActionError::Failed(format!("{}: supervisor task is gone (slotd is shutting down)", self.spec.name())))?;
        rx.await.map_err(|_| ActionError::Failed(format!("{}: supervisor task is gone (slotd is shutting down)", self.spec.name())))?
    }

    /// Waits (bounded) until the state satisfies `done`.
    async fn settle(&self, limit: Duration, done: impl Fn(State) -> bool) -> NodeStatus {
        let mut rx = self.status.clone();
        let _ = tokio::time::timeout(limit, rx.wait_for(|s| done(s.state))).await;
        self.status()
    }

    /// Performs a user action and waits until it has taken effect.
    ///
    /// # Errors
    /// Refused in the current state, or the node could not be started/stopped.
    pub async fn act(&self, action: UserAction) -> Result<NodeStatus, ActionError> {
        let cfg = self.ctx.config();
        let start_wait = Duration::from_millis(cfg.restart.start_timeout_ms + 2000);
        let stop_wait = Duration::from_millis(cfg.restart.stop_timeout_ms + 2000);
        let name = self.spec.name();
        match action {
            UserAction::Start => {
                self.send(Event::Start).await?;
                let st = self
                    .settle(start_wait, |s| matches!(s, State::Running | State::Fatal | State::Exited | State::Stopped | State::Paused))
                    .await;
                if st.state == State::Fatal {
                    return Err(ActionError::Failed(format!(
                        "{name} could not be started: {}; see `slotctl tail {}`",
                        st.message.clone().unwrap_or_else(|| "it kept exiting".into()),
                        st.port
                    )));
                }
                Ok(st)
            }
            UserAction::Stop => {
                self.send(Event::Stop).await?;
                Ok(self.settle(stop_wait, |s| !s.has_process() && s != State::Backoff).await)
            }
            UserAction::Restart => {
                self.send(Event::Stop).await?;
                self.settle(stop_wait, |s| !s.has_process() && s != State::Backoff).await;
                Box::pin(self.act(UserAction::Start)).await
            }
            UserAction::Kill(sig) => {
                self.send(Event::Kill(sig)).await?;
                if terminates(sig) {
                    Ok(self.settle(stop_wait, |s| !s.has_process()).await)
                } else {
                    Ok(self.status())
                }
            }
            UserAction::Pause => {
                self.send(Event::Pause).await?;
                Ok(self.status())
            }
            UserAction::Resume => {
                self.send(Event::Resume).await?;
                Ok(self.status())
            }
        }
    }
}

/// Signals whose default action ends a process: after these, the node is
/// expected to exit and must stay down.
pub fn terminates(sig: Signal) -> bool {
    use Signal::*;
    matches!(
        sig,
        SIGKILL
            | SIGTERM
            | SIGINT
            | SIGQUIT
            | SIGABRT
            | SIGSEGV
            | SIGBUS
            | SIGILL
            | SIGFPE
            | SIGHUP
            | SIGUSR1
            | SIGUSR2
            | SIGALRM
            | SIGPIPE
    )
}

/// RSS (bytes) and CPU% of a pid, sampled in the background.
pub type Metrics = Arc<Mutex<HashMap<u32, (u64, f32)>>>;

/// All supervised nodes.
pub struct Supervisor {
    pub ctx: Arc<Ctx>,
    pub nodes: Vec<NodeEntry>,
    pub metrics: Metrics,
    /// What slotd's own cluster creation is doing; None until it tries.
    pub formation: Mutex<Option<crate::formation::Formation>>,
    /// Held while the cluster is formed or a checkpoint is saved/restored.
    pub formation_lock: tokio::sync::Mutex<()>,
}

impl Supervisor {
    /// Starts one task per node: each adopts its node if an earlier slotd
    /// left it running, or starts it.
    pub fn spawn(config: Config) -> Arc<Supervisor> {
        // Every node of the cluster, here and on other hosts, wants the password (or none);
        // behind NAT the cluster names nodes by their announced address (reshard, check, fix use it).
        let creds = config
            .cluster
            .password
            .as_ref()
            .map(|pw| crate::cluster_admin::Credentials { user: config.cluster.acl_user.clone(), password: pw.clone() });
        let announced = config.hosts.iter().filter_map(|h| {
            let ip = h.announce_ip.as_deref().and_then(|a| a.parse::<std::net::IpAddr>().ok())?;
            Some(h.ports.iter().map(move |p| SocketAddr::new(ip, *p)))
        });
        let addrs = config.cluster_nodes.iter().map(|n| SocketAddr::new(n.host, n.port)).chain(announced.flatten());
        crate::cluster_admin::set_credentials(addrs, creds);
        let layout = Layout::new(&config.supervisor.data_dir);
        let specs = config.nodes.clone();
        let ctx = Arc::new(Ctx { layout, config: RwLock::new(config) });
        let mut nodes = Vec::new();
        for spec in specs {
            let now = unix_ms(SystemTime::now());
            let (status_tx, status_rx) = watch::channel(NodeStatus {
                name: spec.name(),
                host: spec.host.to_string(),
                port: spec.port,
                state: State::Stopped,
                pid: None,
                started_at_ms: None,
                state_since_ms: now,
                restarts: 0,
                attempts: 0,
                adopted: false,
                last_exit: None,
                message: None,
            });
            let (tx, rx) = mpsc::channel(16);
            let (exits_tx, exits_rx) = mpsc::unbounded_channel();
            let log = ctx.layout.logfile(spec.port).display().to_string();
            let worker = Worker {
                life: Lifecycle::new(spec.name(), spec.port, log),
                spec: spec.clone(),
                ctx: ctx.clone(),
                status: status_tx,
                running: None,
                generation: 0,
                exits: exits_tx,
            };
            tokio::spawn(worker.run(rx, exits_rx));
            nodes.push(NodeEntry { spec, ctx: ctx.clone(), tx, status: status_rx });
        }
        let metrics: Metrics = Arc::new(Mutex::new(HashMap::new()));
        tokio::spawn(sample_metrics(nodes.clone(), metrics.clone()));
        Arc::new(Supervisor { ctx, nodes, metrics, formation: Mutex::new(None), formation_lock: tokio::sync::Mutex::new(()) })
    }

    /// Finds a node by port ("6380") or name ("node6380").
    pub fn find(&self, key: &str) -> Option<&NodeEntry> {
        let port = key.strip_prefix("node").unwrap_or(key).parse::<u16>().ok()?;
        self.nodes.iter().find(|n| n.spec.port == port)
    }

    /// Names of all nodes, for "unknown node" messages.
    pub fn names(&self) -> Vec<String> {
        self.nodes.iter().map(|n| n.spec.name()).collect()
    }

    /// Runs an action on several nodes at once; results in the given order.
    pub async fn act_many(&self, entries: Vec<NodeEntry>, action: UserAction) -> Vec<(NodeEntry, Result<NodeStatus, ActionError>)> {
        let mut set = tokio::task::JoinSet::new();
        for (i, e) in entries.into_iter().enumerate() {
            set.spawn(async move {
                let r = e.act(action).await;
                (i, e, r)
            });
        }
        let mut out = Vec::new();
        while let Some(res) = set.join_next().await {
            if let Ok(v) = res {
                out.push(v);
            }
        }
        out.sort_by_key(|(i, _, _)| *i);
        out.into_iter().map(|(_, e, r)| (e, r)).collect()
    }

    /// Stops every node gracefully (SIGTERM, SIGKILL after stop_timeout_ms).
    pub async fn stop_all(&self) {
        let results = self.act_many(self.nodes.clone(), UserAction::Stop).await;
        for (e, r) in results {
            if let Err(err) = r {
                tracing::warn!(node = %e.spec.name(), "stop failed: {err}");
            }
        }
    }

    /// Waits until every node is RUNNING, or the deadline passes.
    pub async fn wait_all_running(&self, deadline: Instant) -> bool {
        for n in &self.nodes {
            let mut rx = n.status.clone();
            let mut until = deadline;
            while tokio::time::timeout_at(until, rx.wait_for(|s| s.state == State::Running)).await.is_err() {
                // A node still reading a big dump file is making progress: wait on.
                let loading = {
                    let s = rx.borrow();
                    s.state == State::Starting && s.message.as_deref() == Some(lifecycle::LOADING_MSG)
                };
                if !loading {
                    return false;
                }
                until = Instant::now() + Duration::from_secs(5);
            }
        }
        true
    }

    /// Replaces the running config (after a reload); restart settings apply at once.
    pub fn update_config(&self, config: Config) {
        if let Ok(mut c) = self.ctx.config.write() {
            *c = config;
        }
    }

    pub fn config(&self) -> Config {
        self.ctx.config()
    }

    /// Records what cluster creation is doing, for status.
    pub fn set_formation(&self, state: crate::formation::Formation) {
        if let Ok(mut f) = self.formation.lock() {
            *f = Some(state);
        }
    }

    /// The formation state as status reports it.
    pub fn formation(&self) -> Option<String> {
        self.formation.lock().ok().and_then(|f| f.as_ref().map(ToString::to_string))
    }
}

async fn sample_metrics(nodes: Vec<NodeEntry>, metrics: Metrics) {
    use sysinfo::{Pid, ProcessRefreshKind, ProcessesToUpdate, System};
    let mut sys = System::new();
    let own = std::process::id();
    loop {
        let pids: Vec<u32> = nodes.iter().filter_map(|n| n.status().pid).filter(|p| *p != own).collect();
        let spids: Vec<Pid> = pids.iter().map(|p| Pid::from_u32(*p)).collect();
        sys.refresh_processes_specifics(ProcessesToUpdate::Some(&spids), true, ProcessRefreshKind::new().with_cpu().with_memory());
        let mut m = HashMap::new();
        for p in &pids {
            if let Some(proc_) = sys.process(Pid::from_u32(*p)) {
                m.insert(*p, (proc_.memory(), proc_.cpu_usage()));
            }
        }
        if let Ok(mut g) = metrics.lock() {
            *g = m;
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

/// Owns one node's process; carries out what its lifecycle decides.
struct Worker {
    spec: NodeSpec,
    ctx: Arc<Ctx>,
    life: Lifecycle,
    status: watch::Sender<NodeStatus>,
    running: Option<Running>,
    generation: u64,
    exits: engine::ExitSender,
}

async fn sleep_opt(at: Option<Instant>) {
    match at {
        Some(t) => tokio::time::sleep_until(t).await,
        None => std::future::pending().await,
    }
}

impl Worker {
    fn name(&self) -> String {
        self.spec.name()
    }

    /// Copies the lifecycle into the published status.
    fn publish(&self) {
        let l = &self.life;
        self.status.send_modify(|s| {
            if s.state != l.state() {
                s.state = l.state();
                s.state_since_ms = unix_ms(SystemTime::now());
            }
            s.attempts = l.attempts;
            s.restarts = l.restarts;
            s.message.clone_from(&l.message);
        });
    }

    /// Feeds one event to the lifecycle and carries out its effects, feeding
    /// back what they produce, until nothing is left to do.
    async fn feed(&mut self, event: Event) -> Result<(), ActionError> {
        let mut queue = std::collections::VecDeque::from([event]);
        while let Some(ev) = queue.pop_front() {
            let restart = self.ctx.config().restart;
            let effects = self.life.handle(ev, Instant::now(), &restart);
            self.publish();
            for effect in effects.map_err(|r| ActionError::Conflict(r.0))? {
                if let Some(next) = self.carry_out(effect).await? {
                    queue.push_back(next);
                }
            }
        }
        Ok(())
    }

    fn process(&self) -> Result<&Running, ActionError> {
        self.running.as_ref().ok_or_else(|| ActionError::Failed(format!("{}: no process", self.name())))
    }

    async fn carry_out(&mut self, effect: Effect) -> Result<Option<Event>, ActionError> {
        let failed = |e: engine::EngineError| ActionError::Failed(e.to_string());
        Ok(match effect {
            Effect::Spawn => Some(self.spawn().await),
            Effect::Ping => {
                let addr = SocketAddr::new(self.spec.host, self.spec.port);
                Some(match cluster_admin::liveness(addr, Duration::from_millis(300)).await {
                    cluster_admin::Liveness::Loading => Event::Loading,
                    l => Event::Pinged(l == cluster_admin::Liveness::Up),
                })
            }
            Effect::Terminate { frozen } => {
                let r = self.process()?;
                r.signal(Signal::SIGTERM, false).map_err(failed)?;
                if frozen {
                    // A stopped process only acts on SIGTERM once continued.
                    let _ = r.signal(Signal::SIGCONT, true);
                }
                Some(Event::TermSent)
            }
            Effect::Signal { sig, cont } => {
                let r = self.process()?;
                r.signal(sig, false).map_err(failed)?;
                if cont {
                    let _ = r.signal(Signal::SIGCONT, true);
                }
                None
            }
            Effect::ForceKill => {
                if let Some(r) = &self.running {
                    let _ = r.signal(Signal::SIGKILL, true);
                }
                None
            }
            Effect::Freeze | Effect::Thaw => {
                let freeze = effect == Effect::Freeze;
                let r = self.process()?;
                r.signal(if freeze { Signal::SIGSTOP } else { Signal::SIGCONT }, true).map_err(failed)?;
                if let (engine::Handle::Process { .. }, Some(pid)) = (&r.handle, r.pid) {
                    engine::process::await_stopped(pid, freeze).await;
                }
                Some(if freeze { Event::Frozen } else { Event::Thawed })
            }
        })
    }

    async fn run(mut self, mut cmds: mpsc::Receiver<Cmd>, mut exits: mpsc::UnboundedReceiver<Exited>) {
        self.initial().await;
        let mut tick = tokio::time::interval(TICK);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                c = cmds.recv() => match c {
                    Some(c) => {
                        let r = self.feed(c.event).await;
                        let _ = c.reply.send(r);
                    }
                    None => break,
                },
                Some(e) = exits.recv() => self.on_exit(e).await,
                _ = sleep_opt(self.life.backoff_due()) => self.feed_internal(Event::BackoffDue).await,
                _ = tick.tick() => self.feed_internal(Event::Tick).await,
            }
        }
    }

    /// Feeds an event no user waits for; a failure is logged.
    async fn feed_internal(&mut self, event: Event) {
        if let Err(e) = self.feed(event).await {
            tracing::warn!(node = %self.name(), "{e}");
        }
    }

    /// Adopts a node left running by an earlier slotd, or starts it.
    async fn initial(&mut self) {
        let cfg = self.ctx.config();
        if cfg.engine.kind == EngineKind::RedisServer || cfg.engine.mode == EngineMode::Process {
            let port = self.spec.port;
            if let Some(pid) = adopt::find(&self.ctx.layout.pidfile(port), &self.ctx.layout.conf(port)) {
                tracing::info!(node = %self.name(), pid, "adopting the node left running by an earlier slotd");
                self.generation += 1;
                let r = engine::process::adopt(pid, self.generation, self.exits.clone());
                // A node the old slotd had paused would otherwise stay frozen
                // with nobody knowing: adopt it running.
                let _ = r.signal(Signal::SIGCONT, true);
                self.status.send_modify(|s| {
                    s.pid = r.pid;
                    s.started_at_ms = Some(unix_ms(r.started_at));
                    s.adopted = true;
                });
                self.running = Some(r);
                self.feed_internal(Event::Adopted).await;
                return;
            }
        }
        self.feed_internal(Event::Start).await;
    }

    /// Whether the node's ports are free (a busy port makes the node exit at once).
    fn port_conflict(&self) -> Option<String> {
        for port in [self.spec.port, self.spec.port.saturating_add(10000)] {
            if let Err(e) = std::net::TcpListener::bind(SocketAddr::new(self.spec.host, port)) {
                return Some(format!(
                    "port {port} on {} is not free ({e}); find the owner with `ss -ltnp 'sport = :{port}'`",
                    self.spec.host
                ));
            }
        }
        None
    }

    /// Starts a node process: [`Event::Spawned`], or why it could not be.
    async fn spawn(&mut self) -> Event {
        let cfg = self.ctx.config();
        self.generation += 1;
        let port = self.spec.port;
        let conf = self.ctx.layout.conf(port);
        let started = match self.port_conflict() {
            Some(msg) => Err(msg),
            None => {
                let _ = std::fs::remove_file(self.ctx.layout.pidfile(port));
                if cfg.engine.kind == EngineKind::Builtin && cfg.engine.mode == EngineMode::Inproc {
                    engine::inproc::start(&conf, crate::faults::admin_token(&self.ctx.layout).ok(), self.generation, self.exits.clone())
                        .await
                        .map_err(|e| e.to_string())
                } else {
                    engine::redis_server::command_for(&cfg, &conf)
                        .and_then(|(prog, args)| {
                            engine::process::spawn(&prog, &args, &self.ctx.layout.logfile(port), self.generation, self.exits.clone())
                        })
                        .map_err(|e| e.to_string())
                }
            }
        };
        match started {
            Ok(r) => {
                tracing::info!(node = %self.name(), pid = ?r.pid, "started");
                self.status.send_modify(|s| {
                    s.pid = r.pid;
                    s.started_at_ms = Some(unix_ms(r.started_at));
                    s.adopted = false;
                });
                self.running = Some(r);
                Event::Spawned
            }
            Err(msg) => Event::SpawnFailed(msg),
        }
    }

    async fn on_exit(&mut self, e: Exited) {
        if e.generation != self.generation || self.running.is_none() {
            return;
        }
        self.running = None;
        self.status.send_modify(|s| {
            s.pid = None;
            s.last_exit = Some(e.info);
            s.adopted = false;
        });
        self.feed_internal(Event::Exited(e.info)).await;
    }
}
