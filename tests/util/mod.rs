//! Test helpers: free ports, a slotd child process with its own data dir,
//! polling with deadlines, and cleanup that leaves no process behind.

#![allow(dead_code)]

use slotd::api::types::{NodeView, StatusResponse};
use slotd::ctl::client::Client;
use std::collections::HashSet;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

static HANDED_OUT: Mutex<Option<HashSet<u16>>> = Mutex::new(None);

/// A node's text reply to `args` on 127.0.0.1:`port`, None when it does not answer.
pub async fn node_text(port: u16, args: &[&str]) -> Option<String> {
    let addr = std::net::SocketAddr::from(([127, 0, 0, 1], port));
    let mut c = slotd::cluster_admin::Conn::connect(addr, Duration::from_millis(500)).await.ok()?;
    c.text(args).await.ok()
}

/// `role` from the node's INFO replication ("master" / "slave").
pub async fn role_of(port: u16) -> Option<String> {
    slotd::cluster_admin::info_field(&node_text(port, &["INFO", "replication"]).await?, "role")
}

/// `cluster_state` from the node's CLUSTER INFO.
pub async fn cluster_state(port: u16) -> Option<String> {
    slotd::cluster_admin::info_field(&node_text(port, &["CLUSTER", "INFO"]).await?, "cluster_state")
}

fn bindable(port: u16) -> bool {
    TcpListener::bind(("127.0.0.1", port)).is_ok()
}

/// The lowest port the kernel hands out to outgoing connections.
fn ephemeral_low() -> u16 {
    std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse().ok())
        .unwrap_or(32768)
}

/// `n` distinct ports where both the port and port + 10000 (cluster bus) are
/// free now, never 6380-6385 or 6300, never handed out twice in this run.
/// Both lie below the ephemeral range where it leaves room, so a restarted
/// node's bus port cannot have been taken as the local port of some other
/// test's outgoing connection meanwhile.
pub fn free_ports(n: usize) -> Vec<u16> {
    let (base, span) = match ephemeral_low().checked_sub(10000) {
        Some(top) if top >= 14000 => (12000u16, top - 12000),
        _ => (20000, 10000),
    };
    let mut guard = HANDED_OUT.lock().unwrap_or_else(|p| p.into_inner());
    let used = guard.get_or_insert_with(HashSet::new);
    let mut out = Vec::new();
    let seed = std::process::id() as u64 ^ Instant::now().elapsed().as_nanos() as u64;
    let mut x = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
    let mut tries = 0;
    while out.len() < n {
        tries += 1;
        assert!(tries < 100_000, "cannot find {n} free ports");
        x = x.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        let port = base + ((x >> 33) % span as u64) as u16;
        if used.contains(&port) || used.contains(&(port + 10000)) || out.contains(&port) {
            continue;
        }
        if bindable(port) && bindable(port + 10000) {
            used.insert(port);
            used.insert(port + 10000);
            out.push(port);
        }
    }
    out
}

/// Polls `f` every 50 ms until it returns Some, or panics with `what` at the deadline.
pub async fn wait_for<T, F, Fut>(limit: Duration, what: &str, mut f: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = Instant::now() + limit;
    loop {
        if let Some(v) = f().await {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out after {limit:?} waiting for {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

pub fn slotd_bin() -> &'static str {
    env!("CARGO_BIN_EXE_slotd")
}

pub fn slotctl_bin() -> &'static str {
    env!("CARGO_BIN_EXE_slotctl")
}

/// Whether a pid is a live process (zombies count as dead).
pub fn alive(pid: u32) -> bool {
    slotd::engine::process::is_alive(pid)
}

/// A config for a test cluster; `extra` is appended verbatim.
pub struct TestConfig {
    pub api_port: u16,
    pub ports: Vec<u16>,
    pub kind: &'static str,
    pub mode: &'static str,
    pub create: &'static str,
    pub replicas: u32,
    pub node_timeout_ms: u64,
    /// `[cluster] failover`: "gossip" or "assisted".
    pub failover: &'static str,
    /// Lines added to `[cluster]` and to `[nodes]`.
    pub cluster_extra: String,
    pub nodes_extra: String,
    pub extra: String,
}

impl TestConfig {
    pub fn builtin(nodes: usize) -> TestConfig {
        let mut p = free_ports(nodes + 1);
        let api_port = p.remove(0);
        TestConfig {
            api_port,
            ports: p,
            kind: "builtin",
            mode: "process",
            create: "manual",
            replicas: 1,
            node_timeout_ms: 1000,
            failover: "gossip",
            cluster_extra: String::new(),
            nodes_extra: String::new(),
            extra: String::new(),
        }
    }

    pub fn render(&self, data_dir: &Path) -> String {
        let ports: Vec<String> = self.ports.iter().map(u16::to_string).collect();
        format!(
            "[supervisor]\napi = \"127.0.0.1:{}\"\ndata_dir = \"{}\"\n\n[engine]\nkind = \"{}\"\nmode = \"{}\"\n\n[cluster]\nreplicas = {}\nnode_timeout_ms = {}\nfailover = \"{}\"\ncreate = \"{}\"\n{}\n[nodes]\nhost = \"127.0.0.1\"\nports = [{}]\n{}\n[restart]\npolicy = \"unexpected\"\nstart_retries = 2\nbackoff_ms = 100\nbackoff_max_ms = 400\nstart_timeout_ms = 10000\nstop_timeout_ms = 5000\n{}\n",
            self.api_port,
            data_dir.display(),
            self.kind,
            self.mode,
            self.replicas,
            self.node_timeout_ms,
            self.failover,
            self.create,
            self.cluster_extra,
            ports.join(", "),
            self.nodes_extra,
            self.extra
        )
    }
}

/// slotd running as a child process on its own data dir.
pub struct Slotd {
    pub dir: tempfile::TempDir,
    pub config_path: PathBuf,
    pub data_dir: PathBuf,
    pub api: String,
    pub ports: Vec<u16>,
    pub child: Option<Child>,
    /// Extra environment for the slotd process.
    pub env: Vec<(String, String)>,
}

impl Slotd {
    /// Writes the config and starts slotd.
    pub fn start(cfg: &TestConfig) -> Slotd {
        Slotd::start_with_env(cfg, Vec::new())
    }

    /// As [`Slotd::start`], with extra environment variables.
    pub fn start_with_env(cfg: &TestConfig, env: Vec<(String, String)>) -> Slotd {
        let dir = tempfile::tempdir().expect("tempdir");
        let data_dir = dir.path().join("data");
        let config_path = dir.path().join("slotd.toml");
        std::fs::write(&config_path, cfg.render(&data_dir)).expect("write config");
        let mut s =
            Slotd { dir, config_path, data_dir, api: format!("127.0.0.1:{}", cfg.api_port), ports: cfg.ports.clone(), child: None, env };
        s.spawn();
        s
    }

    /// Starts (again) the slotd process on the same config.
    pub fn spawn(&mut self) {
        let log = std::fs::OpenOptions::new().create(true).append(true).open(self.dir.path().join("slotd.log")).expect("log");
        let log2 = log.try_clone().expect("log clone");
        let child = Command::new(slotd_bin())
            .arg("--config")
            .arg(&self.config_path)
            .env("SLOTD_LOG", "info")
            .envs(self.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .stdin(Stdio::null())
            .stdout(Stdio::from(log))
            .stderr(Stdio::from(log2))
            .spawn()
            .expect("spawn slotd");
        self.child = Some(child);
    }

    pub fn pid(&self) -> u32 {
        self.child.as_ref().map(|c| c.id()).unwrap_or(0)
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("slotd.log")).unwrap_or_default()
    }

    pub fn client(&self) -> Client {
        Client::new(&self.api, None, Duration::from_secs(60))
    }

    pub async fn status(&self) -> Option<StatusResponse> {
        self.client().get::<StatusResponse>("/v1/status").await.ok()
    }

    /// The event timeline (`GET /v1/events`).
    pub async fn events(&self) -> Option<slotd::events::EventsResponse> {
        self.client().get::<slotd::events::EventsResponse>("/v1/events").await.ok()
    }

    pub async fn node(&self, port: u16) -> Option<NodeView> {
        self.client().get::<NodeView>(&format!("/v1/nodes/{port}")).await.ok()
    }

    /// Waits until every node is RUNNING; returns the status.
    /// Waits until slotd reports the cluster formed by its automatic creation.
    pub async fn wait_formed(&self, limit: Duration) {
        wait_for(limit, "cluster formed", || async {
            let st = self.status().await?;
            (st.cluster.formation.as_deref() == Some("formed")).then_some(())
        })
        .await;
    }

    pub async fn wait_all_running(&self, limit: Duration) -> StatusResponse {
        let what = format!("all nodes RUNNING (slotd log:\n{})", self.log());
        wait_for(limit, &what, || async {
            let s = self.status().await?;
            s.nodes.iter().all(|n| n.state == slotd::supervise::state::State::Running).then_some(s)
        })
        .await
    }

    /// Waits until `port` is in `state`.
    pub async fn wait_state(&self, port: u16, state: slotd::supervise::state::State, limit: Duration) -> NodeView {
        wait_for(limit, &format!("node {port} in {state}"), || async {
            let n = self.node(port).await?;
            (n.state == state).then_some(n)
        })
        .await
    }

    /// Runs slotctl against this slotd; returns (exit code, stdout, stderr).
    pub fn slotctl(&self, args: &[&str]) -> (i32, String, String) {
        let out = Command::new(slotctl_bin()).arg("--api").arg(&self.api).args(args).env_remove("SLOTD_API").output().expect("run slotctl");
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }

    /// kill -9 slotd itself (its nodes keep running).
    pub fn kill9(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Waits for the slotd process to exit; returns its exit code.
    pub async fn wait_exit(&mut self, limit: Duration) -> Option<i32> {
        let child = self.child.as_mut()?;
        let deadline = Instant::now() + limit;
        loop {
            if let Ok(Some(st)) = child.try_wait() {
                self.child = None;
                return st.code();
            }
            if Instant::now() >= deadline {
                return None;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Node pids from their pidfiles that are still alive and ours.
    pub fn live_node_pids(&self) -> Vec<u32> {
        let mut out = Vec::new();
        let run = self.data_dir.join("run");
        let conf_dir = self.data_dir.join("conf").display().to_string();
        if let Ok(rd) = std::fs::read_dir(&run) {
            for e in rd.flatten() {
                let Ok(text) = std::fs::read_to_string(e.path()) else {
                    continue;
                };
                let Ok(pid) = text.trim().parse::<u32>() else {
                    continue;
                };
                let cmd =
                    std::fs::read(format!("/proc/{pid}/cmdline")).map(|b| String::from_utf8_lossy(&b).into_owned()).unwrap_or_default();
                if alive(pid) && cmd.contains(&conf_dir) {
                    out.push(pid);
                }
            }
        }
        out
    }

    /// Any process whose command line mentions this test's data dir.
    pub fn processes_using_data_dir(&self) -> Vec<u32> {
        let needle = self.data_dir.display().to_string();
        let mut out = Vec::new();
        if let Ok(rd) = std::fs::read_dir("/proc") {
            for e in rd.flatten() {
                let Some(pid) = e.file_name().to_str().and_then(|s| s.parse::<u32>().ok()) else {
                    continue;
                };
                let cmd = std::fs::read(format!("/proc/{pid}/cmdline"))
                    .map(|b| String::from_utf8_lossy(&b).replace('\0', " "))
                    .unwrap_or_default();
                if cmd.contains(&needle) && alive(pid) {
                    out.push(pid);
                }
            }
        }
        out
    }
}

impl Drop for Slotd {
    fn drop(&mut self) {
        if std::thread::panicking() {
            // Show what happened, for a failing test in CI.
            eprintln!("---- slotd log ----\n{}", self.log());
            for port in &self.ports {
                let log = std::fs::read_to_string(self.data_dir.join(format!("logs/node{port}.log"))).unwrap_or_default();
                let tail: Vec<&str> = log.lines().rev().take(15).collect();
                eprintln!("---- node{port}.log (last lines) ----");
                for l in tail.iter().rev() {
                    eprintln!("{l}");
                }
            }
        }
        self.kill9();
        for pid in self.processes_using_data_dir() {
            let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid as i32), nix::sys::signal::Signal::SIGKILL);
        }
    }
}

/// Whether redis-server is usable; with SLOTD_REQUIRE_REDIS=1 its absence fails the test.
pub fn redis_available() -> bool {
    let found = slotd::config::find_program(Path::new("redis-server")).is_some();
    if !found {
        assert!(std::env::var("SLOTD_REQUIRE_REDIS").as_deref() != Ok("1"), "SLOTD_REQUIRE_REDIS=1 but redis-server is not installed");
        eprintln!("skipping: redis-server not installed (set SLOTD_REQUIRE_REDIS=1 to make this a failure)");
    }
    found
}
