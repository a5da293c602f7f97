//! The node's thread, its listeners and its public handle.
//!
//! [`start`] binds the client port (and the cluster bus port) on the caller's
//! thread, so a busy port is reported at once, then runs the node on its own
//! thread with a single-threaded tokio runtime. [`NodeHandle`] is how an
//! embedding program (slotd's in-process mode, tests) stops, kills, pauses
//! and resumes it. [`run_main`] is the `slot-node` program: config from
//! arguments, pidfile, logging, signals.

pub mod connection;
pub mod dispatch;
pub mod log_format;
pub mod redirect;

use crate::config::{ConfigError, NodeConfig};
use crate::node::{unix_ms, Node, ShutdownKind};
pub use crate::node::{Shared, SharedRef};
use crate::util::gate::Gate;
use std::cell::RefCell;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;
use tokio::sync::mpsc::{unbounded_channel, UnboundedReceiver, UnboundedSender};

/// Why a node could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("cannot listen on {addr}: {source}")]
    Bind { addr: String, source: std::io::Error },
    #[error("cannot start the node thread: {0}")]
    Thread(std::io::Error),
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error("{0}")]
    Load(String),
}

/// Requests an embedding program sends to a running node.
#[derive(Debug)]
pub enum Control {
    /// Graceful stop: finish, save per policy, close.
    Shutdown(ShutdownKind),
    /// Abrupt stop, as close to `kill -9` as a thread gets: nothing more is written.
    Kill,
    Pause,
    Resume,
}

/// Handle to a node running on its own thread.
pub struct NodeHandle {
    port: u16,
    tx: UnboundedSender<Control>,
    thread: Option<JoinHandle<i32>>,
    finished: Arc<AtomicBool>,
}

impl NodeHandle {
    /// The client port actually bound (useful with `port 0`).
    pub fn port(&self) -> u16 {
        self.port
    }
    /// Asks for a graceful shutdown (saves when save points exist, like SIGTERM).
    pub fn shutdown(&self) {
        let _ = self.tx.send(Control::Shutdown(ShutdownKind::Default));
    }
    /// Drops the node abruptly: listeners closed, clients cut, nothing saved.
    pub fn kill(&self) {
        let _ = self.tx.send(Control::Kill);
    }
    /// Freezes the node's tasks; sockets stay open, as with SIGSTOP.
    pub fn pause(&self) {
        let _ = self.tx.send(Control::Pause);
    }
    pub fn resume(&self) {
        let _ = self.tx.send(Control::Resume);
    }
    /// Whether the node thread has ended (shutdown, SHUTDOWN command, kill).
    pub fn is_finished(&self) -> bool {
        self.finished.load(Ordering::SeqCst)
    }
    /// Waits for the node thread to end; returns its exit code.
    pub fn join(mut self) -> i32 {
        self.thread.take().and_then(|t| t.join().ok()).unwrap_or(1)
    }
}

impl Drop for NodeHandle {
    fn drop(&mut self) {
        if let Some(t) = self.thread.take() {
            let _ = self.tx.send(Control::Kill);
            let _ = t.join();
        }
    }
}

/// Listeners bound before the thread starts.
pub(crate) struct BoundListeners {
    pub clients: Vec<std::net::TcpListener>,
    pub bus: Option<std::net::TcpListener>,
    /// `unixsocket`: clients on a local socket file.
    pub unix: Option<std::os::unix::net::UnixListener>,
}

/// The listen backlog (see [`crate::util::net::listen_backlog`]).
fn listen_backlog(cfg: &NodeConfig) -> i32 {
    crate::util::net::listen_backlog(cfg.int_named("tcp-backlog", 511))
}

/// Binds one listener, naming the address on failure.
fn listen(addr: &str, backlog: i32) -> Result<std::net::TcpListener, StartError> {
    crate::util::net::listen(addr, backlog).map_err(|source| StartError::Bind { addr: addr.to_string(), source })
}

fn bind_all(cfg: &mut NodeConfig) -> Result<BoundListeners, StartError> {
    let backlog = listen_backlog(cfg);
    let mut clients = Vec::new();
    let mut port = cfg.port();
    for host in cfg.bind() {
        let addr = crate::util::net::host_port(&host, port);
        let l = listen(&addr, backlog)?;
        if port == 0 {
            port = l.local_addr().map(|a| a.port()).unwrap_or(0);
            let _ = cfg.set_checked("port", &port.to_string());
        }
        clients.push(l);
    }
    let bus = if cfg.cluster_enabled() {
        let bus_port = cfg.cluster_port();
        let host = cfg.bind().into_iter().next().unwrap_or_else(|| "0.0.0.0".into());
        Some(listen(&format!("{host}:{bus_port}"), backlog)?)
    } else {
        None
    };
    let unix = match cfg.get("unixsocket").filter(|p| !p.is_empty()) {
        Some(path) => Some(
            crate::util::net::listen_unix(path, cfg.int_named("unixsocketperm", 0))
                .map_err(|source| StartError::Bind { addr: path.to_string(), source })?,
        ),
        None => None,
    };
    Ok(BoundListeners { clients, bus, unix })
}

/// Starts a node on its own thread.
///
/// # Errors
/// A port cannot be bound, the data cannot be loaded, or the thread cannot start.
pub fn start(mut config: NodeConfig) -> Result<NodeHandle, StartError> {
    // THP is a per-process setting: an embedding program (slotd's in-process
    // mode) gets it for all its nodes, as each slot-node process would.
    disable_thp(&config);
    let listeners = bind_all(&mut config)?;
    let port = config.port();
    let (tx, rx) = unbounded_channel();
    let finished = Arc::new(AtomicBool::new(false));
    let done = finished.clone();
    let (ready_tx, ready_rx) = std::sync::mpsc::channel();
    let thread = std::thread::Builder::new()
        .name(format!("node-{port}"))
        .spawn(move || {
            let code = run_node_thread(config, listeners, rx, false, ready_tx);
            done.store(true, Ordering::SeqCst);
            code
        })
        .map_err(StartError::Thread)?;
    match ready_rx.recv() {
        Ok(Ok(())) => {}
        Ok(Err(msg)) => {
            let _ = thread.join();
            return Err(StartError::Load(msg));
        }
        Err(_) => {
            let _ = thread.join();
            return Err(StartError::Load("node thread ended during start-up".into()));
        }
    }
    Ok(NodeHandle { port, tx, thread: Some(thread), finished })
}

fn run_node_thread(
    config: NodeConfig,
    listeners: BoundListeners,
    rx: UnboundedReceiver<Control>,
    handle_signals: bool,
    ready: std::sync::mpsc::Sender<Result<(), String>>,
) -> i32 {
    // The slot-node binary's own node (its crash handlers are installed).
    if handle_signals {
        crate::util::crash::use_big_altstack();
    }
    let rt = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            let _ = ready.send(Err(format!("cannot build runtime: {e}")));
            return 1;
        }
    };
    let local = tokio::task::LocalSet::new();
    let unix_socket = listeners.unix.is_some().then(|| config.get("unixsocket").map(str::to_string)).flatten();
    let code = local.block_on(&rt, serve(config, listeners, rx, handle_signals, ready));
    if let Some(path) = unix_socket {
        // As redis-server does on the way out (said only after a shutdown: a
        // failed start ends with the reason as its last log line).
        if code == 0 {
            tracing::info!("Removing the unix socket file.");
        }
        let _ = std::fs::remove_file(path);
    }
    code
}

async fn serve(
    config: NodeConfig,
    listeners: BoundListeners,
    mut rx: UnboundedReceiver<Control>,
    handle_signals: bool,
    ready: std::sync::mpsc::Sender<Result<(), String>>,
) -> i32 {
    let mut node = Node::new(config);
    node.refresh_cached_config();
    if let Err(e) = crate::cmd::acl::init(&mut node) {
        let _ = ready.send(Err(e));
        return 1;
    }
    if let Err(e) = node.init_cluster() {
        let _ = ready.send(Err(e));
        return 1;
    }
    // A dump file is loaded while the node serves (clients get LOADING);
    // the AOF is replayed first.
    node.stats.startup_allocated = crate::util::alloc::used().unwrap_or(0);
    let background = crate::node::startup_load::wanted(&node);
    if background {
        crate::node::startup_load::begin(&mut node);
    } else {
        if let Err(e) = crate::persistence::load_at_startup(&mut dispatch::AofReplayer::new(&mut node)) {
            let _ = ready.send(Err(e.to_string()));
            return 1;
        }
    }
    if let Err(e) = node.apply_oom_score(&node.config) {
        tracing::warn!("{e}");
    }
    let shared: SharedRef = Rc::new(Shared { node: RefCell::new(node), gate: Gate::new() });
    for l in listeners.clients {
        if let Err(e) = connection::serve_listener(&shared, l) {
            let _ = ready.send(Err(format!("cannot register listener: {e}")));
            return 1;
        }
    }
    if let Some(l) = listeners.unix {
        if let Err(e) = connection::serve_unix_listener(&shared, l) {
            let _ = ready.send(Err(format!("cannot register the unix socket listener: {e}")));
            return 1;
        }
    }
    if let Some(bus) = listeners.bus {
        match tokio::net::TcpListener::from_std(bus) {
            Ok(l) => crate::node::bus::spawn(shared.clone(), l),
            Err(e) => {
                let _ = ready.send(Err(format!("cannot register cluster bus listener: {e}")));
                return 1;
            }
        }
    }
    let startup = async {
        if background {
            crate::node::startup_load::run(&shared).await
        } else {
            Ok(())
        }
    };
    tokio::pin!(startup);
    let mut starting = true;
    let notify = shared.node.borrow().lifecycle.shutdown_notify.clone();
    let mut term = if handle_signals { tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok() } else { None };
    let mut int = if handle_signals { tokio::signal::unix::signal(tokio::signal::unix::SignalKind::interrupt()).ok() } else { None };
    if handle_signals {
        insist::install();
    }
    loop {
        tokio::select! {
            loaded = &mut startup, if starting => {
                starting = false;
                if let Err(e) = loaded {
                    let _ = ready.send(Err(e));
                    return 1;
                }
                after_load(&shared);
                let _ = ready.send(Ok(()));
            }
            ctl = rx.recv() => match ctl {
                Some(Control::Shutdown(kind)) => { return graceful_stop(&shared, kind).await; }
                Some(Control::Kill) | None => {
                    tracing::warn!("killed");
                    return 137;
                }
                Some(Control::Pause) => shared.gate.close(),
                Some(Control::Resume) => shared.gate.open(),
            },
            _ = notify.notified() => {
                let kind = shared.node.borrow().lifecycle.shutdown.unwrap_or(ShutdownKind::Default);
                return graceful_stop(&shared, kind).await;
            }
            _ = recv_signal(&mut term) => schedule_shutdown(&shared, "SIGTERM"),
            _ = recv_signal(&mut int) => schedule_shutdown(&shared, "SIGINT"),
        }
    }
}

/// What follows the data load: replicate the configured master from the
/// position the file recorded, start the cron, and say the node is ready.
fn after_load(shared: &SharedRef) {
    {
        let mut node = shared.node.borrow_mut();
        node.follow_configured_master();
        node.restore_repl_position();
    }
    tokio::task::spawn_local(cron(shared.clone()));
    let node = shared.node.borrow();
    tracing::info!(port = node.config.port(), cluster = node.config.cluster_enabled(), "ready to accept connections");
}

async fn recv_signal(sig: &mut Option<tokio::signal::unix::Signal>) {
    match sig {
        Some(s) => {
            s.recv().await;
        }
        None => std::future::pending::<()>().await,
    }
}

/// A signal asks for a shutdown; the next cron carries it out (a second
/// SIGINT while one is pending exits at once, as Redis does).
fn schedule_shutdown(shared: &SharedRef, sig: &'static str) {
    let mut node = shared.node.borrow_mut();
    if node.lifecycle.shutdown_asap.is_some() && sig == "SIGINT" {
        tracing::warn!("You insist... exiting now.");
        crate::persistence::remove_own_temp(&node.config);
        std::process::exit(1);
    }
    tracing::warn!("Received {sig} scheduling shutdown...");
    node.lifecycle.shutdown_asap = Some(sig);
}

/// While the final save of a signalled shutdown runs (the event loop is
/// busy with it), a second SIGINT must still end the process at once and
/// leave no temp file: a plain signal handler does that, armed only then.
mod insist {
    use std::sync::atomic::{AtomicBool, AtomicPtr, Ordering};
    static ARMED: AtomicBool = AtomicBool::new(false);
    static TEMP: AtomicPtr<libc::c_char> = AtomicPtr::new(std::ptr::null_mut());

    /// Installs the handler once (it does nothing unless armed).
    pub fn install() {
        // SAFETY: the action only reads atomics and calls async-signal-safe
        // functions (write, unlink, _exit).
        let _ = unsafe {
            signal_hook_registry::register(libc::SIGINT, || {
                if ARMED.load(Ordering::SeqCst) {
                    let msg = b"You insist... exiting now.\n";
                    let path = TEMP.load(Ordering::SeqCst);
                    libc::write(1, msg.as_ptr().cast(), msg.len());
                    if !path.is_null() {
                        libc::unlink(path);
                    }
                    libc::_exit(1);
                }
            })
        };
    }

    /// Arms it for a save writing `temp` (the path is kept for the process's life).
    pub fn arm(temp: std::path::PathBuf) {
        if let Ok(c) = std::ffi::CString::new(temp.as_os_str().as_encoded_bytes()) {
            TEMP.store(c.into_raw(), Ordering::SeqCst);
        }
        ARMED.store(true, Ordering::SeqCst);
    }

    pub fn disarm() {
        ARMED.store(false, Ordering::SeqCst);
    }
}

/// Called by cron: a signal's shutdown starts, or a shutdown waiting for
/// replicas ends; when its final save fails the node keeps running, as Redis does.
fn shutdown_if_asked(node: &mut Node) {
    if node.lifecycle.shutdown_asap.is_none() && !node.shutdown_initiated() {
        return;
    }
    let signalled = node.lifecycle.shutdown_asap.is_some();
    if signalled {
        insist::arm(node.config.dir().join(format!("temp-{}.rdb", std::process::id())));
    }
    node.shutdown_cron();
    if signalled {
        insist::disarm();
    }
}

/// Stops the node: saves per policy, persists cluster state, cuts clients.
async fn graceful_stop(shared: &SharedRef, kind: ShutdownKind) -> i32 {
    let mut node = shared.node.borrow_mut();
    if kind != ShutdownKind::Prepared {
        tracing::warn!("User requested shutdown...");
    }
    if let Some(c) = node.cluster.as_ref() {
        if let Err(e) = c.save_config() {
            tracing::warn!("cannot save cluster config: {e}");
        }
    }
    // Past the point of refusing: a failed save was reported where it was asked.
    let _ = crate::persistence::on_shutdown(&mut node.persistence_parts(), kind);
    for c in node.clients.map.values() {
        let _ = c.tx.send(crate::client::Push::Kill);
    }
    if let Some(p) = node.config.get("pidfile").filter(|p| !p.is_empty()) {
        let _ = std::fs::remove_file(p);
    }
    tracing::warn!("ready to exit, bye bye");
    0
}

/// Periodic work, like Redis's serverCron at `hz`: active expiry, ops/sec
/// samples, cluster cron.
async fn cron(shared: SharedRef) {
    let hz = shared.node.borrow().config.int_named("hz", 10).clamp(1, 500) as u64;
    let mut tick = tokio::time::interval(Duration::from_millis(1000 / hz));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        shared.gate.pass().await;
        let mut node = shared.node.borrow_mut();
        if node.cron_paused {
            continue;
        }
        let now = unix_ms();
        node.now_ms = now;
        let cycle = std::time::Instant::now();
        for i in 0..node.keyspace.dbs.len() {
            if node.keyspace.active_expire {
                node.keyspace.dbs[i].active_expire(now, 200);
            }
            // A writable replica's own keys: the master will never send their DEL.
            node.keyspace.dbs[i].expire_local_keys(now);
        }
        let ms = cycle.elapsed().as_millis() as u64;
        if node.latency_threshold_ms > 0 && ms >= node.latency_threshold_ms {
            node.latency.add("expire-cycle", now / 1000, ms);
        }
        shutdown_if_asked(&mut node);
        node.client_pause();
        node.wake_misrouted_blocked();
        node.enforce_soft_output_limits();
        // Each tick, as Redis's clientsCron visits every client of a small
        // node per tick: a trim follows a big argument within moments.
        node.resize_query_buffers();
        crate::cmd::pubsub::drop_misrouted_shard_channels(&mut node);
        if crate::util::alloc::used().is_none() {
            node.stats.rss_sample = crate::util::proc::process_rss();
        }
        crate::cmd::call::drain_expired(&mut node);
        node.tracking_broadcast();
        node.tracking_limit();
        node.feed_stream();
        node.flush_to_replicas();
        node.replication_cron(&shared, dispatch::execute);
        crate::persistence::cron(&mut node.persistence_parts());
        let sample = node.stats.sample(now);
        node.stats.ops_samples.push_back(sample);
        node.migrate_cache.close_idle(now);
        while node.stats.ops_samples.len() > 16 {
            node.stats.ops_samples.pop_front();
        }
    }
}

/// The `slot-node` program: `slot-node [CONFIG_FILE] [--directive value ...]`.
/// Returns the process exit code.
pub fn run_main(args: Vec<String>) -> i32 {
    if args.iter().any(|a| a == "-v" || a == "--version") {
        println!("slot-node v={} (Redis-compatible {})", env!("CARGO_PKG_VERSION"), crate::REDIS_VERSION);
        return 0;
    }
    let mut config = match NodeConfig::from_args(&args) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("{e}");
            return 1;
        }
    };
    init_logging(&config);
    crate::util::crash::install(config.get("logfile").unwrap_or(""));
    disable_thp(&config);
    adjust_open_files_limit(&mut config);
    let pid = std::process::id();
    // The lines redis-server prints on stdout and that tools (Redis's own test
    // harness, scripts that start redis-server) wait for: its PID, then
    // "Ready to accept connections", or "Failed listening on port".
    stdout_line(&format!(
        "* slot-node {} (Redis {} compatible), port: {}, PID: {pid}",
        env!("CARGO_PKG_VERSION"),
        crate::REDIS_VERSION,
        config.port()
    ));
    let listeners = match bind_all(&mut config) {
        Ok(l) => l,
        Err(e) => {
            tracing::error!("{e}");
            eprintln!("{e}");
            stdout_line(&format!("# Failed listening on port {} (tcp), aborting.", config.port()));
            return 1;
        }
    };
    if let Some(p) = config.get("pidfile").filter(|p| !p.is_empty()) {
        if let Err(e) = std::fs::write(p, format!("{}\n", std::process::id())) {
            tracing::warn!("cannot write pidfile {p}: {e}");
        }
    }
    let (_tx, rx) = unbounded_channel();
    let (ready_tx, ready_rx) = std::sync::mpsc::channel();
    let unix_socket = config.get("unixsocket").filter(|p| !p.is_empty()).map(str::to_string);
    let code = std::thread::scope(|s| {
        let h = s.spawn(|| run_node_thread(config, listeners, rx, true, ready_tx));
        match ready_rx.recv() {
            Ok(Err(msg)) => {
                eprintln!("{msg}");
                // One log line each, as Redis logs a report (with `logfile ""`
                // on stdout, where tools read why it stopped).
                for line in msg.lines().filter(|l| !l.is_empty()) {
                    tracing::error!("{line}");
                }
            }
            Ok(Ok(())) => {
                stdout_line("* Ready to accept connections tcp");
                if unix_socket.is_some() {
                    stdout_line("* Ready to accept connections unix");
                }
            }
            Err(_) => {}
        }
        h.join().unwrap_or(1)
    });
    let _ = unix_ms();
    code
}

/// One line on stdout in redis-server's log format (`pid:M date level message`).
fn stdout_line(msg: &str) {
    use std::io::Write;
    let now = log_format::log_time();
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{}:M {now} {msg}", std::process::id());
    let _ = out.flush();
}

/// `disable-thp yes` (the default), as redis-server does: transparent huge
/// pages make fork's copy-on-write and first touches expensive (a 2 MB page
/// is zeroed for a few bytes of a new connection's state). Idempotent.
fn disable_thp(config: &NodeConfig) {
    if !config.flag_named("disable-thp") {
        return;
    }
    // SAFETY: prctl with PR_SET_THP_DISABLE only sets a flag on this process.
    if unsafe { libc::prctl(libc::PR_SET_THP_DISABLE, 1, 0, 0, 0) } != 0 {
        tracing::warn!("cannot disable transparent huge pages: {}", std::io::Error::last_os_error());
    }
}

/// File descriptors Redis keeps for itself beyond `maxclients` (listeners, files, the bus).
const RESERVED_FDS: u64 = 32;

/// Raises `RLIMIT_NOFILE` to `maxclients + 32` like redis-server, or lowers
/// `maxclients` to what the limit allows (with Redis's warnings), so that
/// accept never fails with EMFILE while the node still admits clients.
fn adjust_open_files_limit(config: &mut NodeConfig) {
    let maxclients = config.maxclients() as u64;
    let wanted = maxclients + RESERVED_FDS;
    let mut lim = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
    // SAFETY: getrlimit writes into the struct we own.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) } != 0 {
        tracing::warn!(
            "Unable to obtain the current NOFILE limit ({}), assuming 1024 and setting the max clients configuration accordingly.",
            std::io::Error::last_os_error()
        );
        let _ = config.set_checked("maxclients", &(1024 - RESERVED_FDS).to_string());
        return;
    }
    let old = lim.rlim_cur;
    if old >= wanted {
        return;
    }
    let mut best = wanted;
    let mut last_err = None;
    while best > old {
        let try_lim = libc::rlimit { rlim_cur: best, rlim_max: lim.rlim_max.max(best) };
        // SAFETY: setrlimit reads the struct we own.
        if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &try_lim) } == 0 {
            break;
        }
        last_err = Some(std::io::Error::last_os_error());
        best = best.saturating_sub(16);
    }
    if best <= old {
        best = old;
    }
    if best < wanted {
        let reduced = best.saturating_sub(RESERVED_FDS).max(1);
        tracing::warn!("You requested maxclients of {maxclients} requiring at least {wanted} max file descriptors.");
        if let Some(e) = last_err {
            tracing::warn!("Server can't set maximum open files to {wanted} because of OS error: {e}.");
        }
        tracing::warn!(
            "Current maximum open files is {best}. maxclients has been reduced to {reduced} to compensate for low ulimit. If you need higher maxclients increase 'ulimit -n'."
        );
        let _ = config.set_checked("maxclients", &reduced.to_string());
    } else {
        tracing::info!("Increased maximum number of open files to {wanted} (it was originally set to {old}).");
    }
}

fn init_logging(config: &NodeConfig) {
    // Redis's four levels on tracing's: debug is TRACE ('.'), verbose DEBUG
    // ('-'), notice INFO ('*'), warning WARN ('#'); only our own targets go
    // below INFO, so a dependency's chatter never floods the log.
    let level = match config.get("loglevel").unwrap_or("notice") {
        "debug" => "info,node_engine=trace,lua=trace",
        "verbose" => "info,node_engine=debug,lua=debug",
        "warning" => "warn",
        _ => "info",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_env("SLOT_NODE_LOG").unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(level));
    let logfile = config.get("logfile").unwrap_or("").to_string();
    if logfile.is_empty() {
        // `logfile ""` means standard output, as in Redis (its test harness reads the log there).
        use std::io::IsTerminal;
        let ansi = std::io::stdout().is_terminal();
        let _ = tracing_subscriber::fmt()
            .with_env_filter(filter)
            .with_ansi(ansi)
            .event_format(log_format::RedisLogFormat)
            .with_writer(std::io::stdout)
            .try_init();
    } else {
        match std::fs::OpenOptions::new().create(true).append(true).open(&logfile) {
            Ok(f) => {
                let _ = tracing_subscriber::fmt()
                    .with_env_filter(filter)
                    .with_ansi(false)
                    .event_format(log_format::RedisLogFormat)
                    .with_writer(std::sync::Mutex::new(f))
                    .try_init();
            }
            Err(e) => {
                eprintln!("cannot open logfile {logfile}: {e}; logging to stderr");
                let _ = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).try_init();
            }
        }
    }
}
