//! slotd: runs a Redis Cluster on one machine from one TOML file.
//!
//! [`run`] is the daemon: preflight, node confs, supervision of every node,
//! cluster creation, the HTTP API, config watching and systemd notification,
//! until the [`shutdown::Shutdown`] fires. `slotctl` ([`ctl`]) is its client.
// The OpenAPI document is one large `json!` literal.
#![recursion_limit = "256"]

pub mod api;
pub mod assist;
pub mod checkpoint;
pub mod cluster_admin;
pub mod confgen;
pub mod config;
pub mod ctl;
pub mod engine;
pub mod events;
pub mod faults;
pub mod formation;
pub mod isolate;
pub mod lab;
pub mod metrics;
pub mod notify;
pub mod peers;
pub mod placement;
pub mod preflight;
pub mod readiness;
pub mod reshard;
pub mod shutdown;
pub mod supervise;
pub mod telemetry;
pub mod topology;
pub mod watch;

use config::{Config, CreateMode};
use formation::Formation;
use std::sync::Arc;
use std::time::Duration;
use supervise::Supervisor;

/// Why slotd cannot run.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error("{0}")]
    DataDir(String),
    #[error("another slotd is already using {path} (lock held); stop it with `slotctl shutdown` or `systemctl stop slotd`, or give this one another supervisor.data_dir")]
    Locked { path: String },
    #[error("cannot listen on {addr} for the API: {source}; is another slotd running? (`slotctl --api http://{addr} status`) Otherwise change supervisor.api")]
    ApiBind { addr: std::net::SocketAddr, source: std::io::Error },
}

fn lock_data_dir(config: &Config) -> Result<nix::fcntl::Flock<std::fs::File>, RunError> {
    let layout = confgen::Layout::new(&config.supervisor.data_dir);
    let path = layout.lockfile();
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(|e| RunError::DataDir(format!("cannot open {}: {e} (check that data_dir is writable)", path.display())))?;
    nix::fcntl::Flock::lock(file, nix::fcntl::FlockArg::LockExclusiveNonblock)
        .map_err(|_| RunError::Locked { path: path.display().to_string() })
}

/// Runs slotd until `shutdown` fires, then stops every node and returns.
///
/// # Errors
/// The data dir cannot be prepared or locked, or the API port is busy.
pub async fn run(config: Config, shutdown: shutdown::Shutdown) -> Result<(), RunError> {
    notify::status("preflight");
    match preflight::raise_nofile() {
        Ok((old, new)) if old != new => {
            tracing::info!("raised the open-files soft limit from {old} to {new}")
        }
        Ok(_) => {}
        Err(e) => tracing::warn!("{e}"),
    }
    for c in preflight::run_checks() {
        if c.level == preflight::Level::Warn {
            tracing::warn!("preflight: {} is {} (want {}): {}. Fix: {}", c.name, c.value, c.wanted, c.why, c.fix);
        }
    }
    std::fs::create_dir_all(&config.supervisor.data_dir)
        .map_err(|e| RunError::DataDir(format!("cannot create data_dir {}: {e}", config.supervisor.data_dir.display())))?;
    let _lock = lock_data_dir(&config)?;
    confgen::write_all(&config).map_err(|e| RunError::DataDir(e.to_string()))?;
    let listener = tokio::net::TcpListener::bind(config.supervisor.api)
        .await
        .map_err(|source| RunError::ApiBind { addr: config.supervisor.api, source })?;
    tracing::info!(
        "slotd {}: {} nodes ({} engine), API on http://{}, data in {}",
        env!("CARGO_PKG_VERSION"),
        config.nodes.len(),
        config.engine.kind,
        config.supervisor.api,
        config.supervisor.data_dir.display()
    );
    // Rules a crashed slotd left behind would keep this host cut off.
    if config.is_multi_host() && isolate::available().is_ok() {
        if let Ok(true) = isolate::heal(&config) {
            tracing::warn!("removed host isolation rules left by an earlier slotd");
        }
    }
    notify::status("starting nodes");
    let sup = Supervisor::spawn(config.clone());
    let state = api::AppState::new(sup.clone(), shutdown.clone());
    state.events.record(events::Event::new(
        events::EventKind::SlotdStarted,
        None,
        format!("slotd {} started (pid {})", env!("CARGO_PKG_VERSION"), std::process::id()),
    ));
    events::watch::spawn(sup.clone(), state.events.clone());
    assist::spawn(sup.clone(), state.events.clone());
    state.faults.spawn_reapply();
    let faults = state.faults.clone();
    let router = api::app(state);
    // The API stays up while the nodes stop, so `slotctl shutdown` can wait
    // for slotd to be unreachable as the sign that every node is gone.
    let server_stop = shutdown::Shutdown::new();
    let sd = server_stop.clone();
    let server = tokio::spawn(async move {
        let res = axum::serve(listener, router).with_graceful_shutdown(async move { sd.wait().await }).await;
        if let Err(e) = res {
            tracing::error!("API server failed: {e}");
        }
    });
    if let Some(path) = config.source.clone() {
        watch::spawn(path, sup.clone(), shutdown.clone());
    }
    let startup = tokio::spawn(startup(sup.clone()));
    shutdown.wait().await;
    startup.abort();
    notify::notify("STOPPING=1\nSTATUS=stopping nodes");
    if let Err(e) = faults.heal().await {
        tracing::warn!("healing faults before stopping: {e}");
    }
    // A host cut off by `slotctl isolate` is reconnected when its slotd stops.
    if config.is_multi_host() && isolate::available().is_ok() {
        match isolate::heal(&config) {
            Ok(true) => tracing::info!("removed this host's isolation rules"),
            Ok(false) => {}
            Err(e) => tracing::warn!("removing this host's isolation rules: {e}"),
        }
    }
    tracing::info!("stopping every node");
    sup.stop_all().await;
    server_stop.trigger();
    let _ = tokio::time::timeout(Duration::from_secs(5), server).await;
    tracing::info!("all nodes stopped; bye");
    Ok(())
}

/// Polls every other host's nodes until all answer PING, saying who is
/// missing every 10 s: hosts start in any order, creation waits for all.
async fn wait_for_other_hosts(cfg: &Config) {
    let others: Vec<&config::NodeSpec> = cfg.cluster_nodes.iter().filter(|n| !cfg.nodes.contains(n)).collect();
    let mut last_said = tokio::time::Instant::now();
    loop {
        let mut silent = Vec::new();
        for n in &others {
            if !cluster_admin::ping(std::net::SocketAddr::new(n.host, n.port), Duration::from_millis(500)).await {
                silent.push(format!("{} on {}", n.name(), n.host_name.as_deref().unwrap_or("?")));
            }
        }
        if silent.is_empty() {
            return;
        }
        if last_said.elapsed() >= Duration::from_secs(10) {
            tracing::info!("waiting for the other hosts' nodes to answer: {}", silent.join(", "));
            last_said = tokio::time::Instant::now();
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// Waits for the nodes, forms the cluster when configured, then tells systemd.
async fn startup(sup: Arc<Supervisor>) {
    let cfg = sup.config();
    if cfg.cluster.create == CreateMode::Auto {
        sup.set_formation(Formation::WaitingForNodes);
    }
    let wait = Duration::from_millis(cfg.restart.start_timeout_ms.saturating_mul(2)) + Duration::from_secs(5);
    if !sup.wait_all_running(tokio::time::Instant::now() + wait).await {
        let down: Vec<String> = sup
            .nodes
            .iter()
            .filter(|n| n.status().state != supervise::state::State::Running)
            .map(|n| format!("{} {}", n.spec.name(), n.status().state))
            .collect();
        tracing::error!("not every node is running: {}; see `slotctl status` and the node logs", down.join(", "));
        if cfg.cluster.create == CreateMode::Auto {
            sup.set_formation(Formation::Failed(format!("nodes not running: {}", down.join(", "))));
        }
        notify::notify(&format!("READY=1\nSTATUS=nodes not all running: {}", down.join(", ")));
        return;
    }
    tracing::info!("all {} nodes are RUNNING", sup.nodes.len());
    if cfg.cluster.create == CreateMode::Manual {
        notify::notify("READY=1\nSTATUS=nodes running; cluster left for manual creation (slotctl create)");
        return;
    }
    // Across hosts the first [[hosts]] entry forms the cluster, once every
    // host's nodes answer; the others leave it to that one.
    if let (Some(me), Some(seed)) = (cfg.local_host.as_deref(), cfg.hosts.first()) {
        if me != seed.name {
            tracing::info!("cluster creation is left to host {} (the first [[hosts]] entry)", seed.name);
            sup.set_formation(Formation::LeftTo(seed.name.clone()));
            notify::notify(&format!("READY=1\nSTATUS=nodes running; host {} forms the cluster", seed.name));
            return;
        }
        notify::status("waiting for the other hosts' nodes");
        wait_for_other_hosts(&cfg).await;
    }
    notify::status("forming the cluster");
    let status = match formation::form_cluster(&sup, formation::IfBusy::Wait).await {
        Ok(r) if r.already_formed => {
            tracing::info!("cluster already formed; leaving it as it is");
            "cluster ok".to_string()
        }
        Ok(r) => {
            tracing::info!("cluster formed: masters {:?}, replicas {:?}; every node reports cluster_state:ok", r.masters, r.replicas);
            "cluster ok".to_string()
        }
        Err(e) => {
            tracing::error!("{e}");
            e.to_string()
        }
    };
    notify::notify(&format!("READY=1\nSTATUS={status}"));
}
