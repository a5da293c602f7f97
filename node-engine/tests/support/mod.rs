//! Helpers shared by the persistence tests: nodes in-process and as child
//! processes, redis-server when installed, polling with deadlines.
#![allow(dead_code)]

use node_engine::{NodeConfig, NodeHandle};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Starts an in-process node in `dir` with extra directives.
pub fn start(dir: &Path, extra: &[&str]) -> NodeHandle {
    try_start(dir, extra).unwrap_or_else(|e| panic!("node did not start: {e}"))
}

pub fn try_start(dir: &Path, extra: &[&str]) -> Result<NodeHandle, node_engine::StartError> {
    let mut args: Vec<String> =
        vec!["--port".into(), "0".into(), "--bind".into(), "127.0.0.1".into(), "--dir".into(), dir.display().to_string()];
    args.extend(extra.iter().map(|s| s.to_string()));
    node_engine::start(NodeConfig::from_args(&args).expect("config"))
}

pub fn stop(h: NodeHandle) {
    h.shutdown();
    h.join();
}

pub fn conn(port: u16) -> redis::Connection {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        match redis::Client::open(format!("redis://127.0.0.1:{port}/")).and_then(|c| c.get_connection()) {
            Ok(c) => return c,
            Err(e) => {
                assert!(Instant::now() < deadline, "cannot connect to {port}: {e}");
                std::thread::sleep(Duration::from_millis(20));
            }
        }
    }
}

/// Polls `f` until it returns true or the deadline passes.
pub fn wait_until(what: &str, secs: u64, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while !f() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

pub fn info_field(c: &mut redis::Connection, field: &str) -> String {
    let text: String = redis::cmd("INFO").query(c).expect("INFO");
    text.lines().find_map(|l| l.strip_prefix(&format!("{field}:")).map(|v| v.trim().to_string())).unwrap_or_default()
}

/// A port nobody listens on right now.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map(|a| a.port()).expect("port")
}

/// Whether the redis tools are installed; panics when they are required but missing.
pub fn have_redis() -> bool {
    let ok = Command::new("redis-server").arg("--version").stdout(Stdio::null()).status().is_ok_and(|s| s.success());
    if !ok && std::env::var("SLOTD_REQUIRE_REDIS").as_deref() == Ok("1") {
        panic!("redis-server is required (SLOTD_REQUIRE_REDIS=1) but not installed");
    }
    ok
}

/// A child process killed when dropped.
pub struct Proc {
    pub child: Child,
    pub port: u16,
}

impl Proc {
    pub fn sigkill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        self.sigkill();
    }
}

/// A redis-server to compare against, in its own temp dir; None (after
/// saying so) when it is not installed and not required.
pub fn reference_redis() -> Option<(tempfile::TempDir, Proc)> {
    if !have_redis() {
        eprintln!("skipping: redis-server not installed");
        return None;
    }
    let tmp = tempfile::tempdir().expect("tmp");
    let redis = redis_server(tmp.path(), &[]);
    Some((tmp, redis))
}

/// Starts redis-server on a free port in `dir`.
pub fn redis_server(dir: &Path, extra: &[&str]) -> Proc {
    spawn_on_free_port("redis-server", |port| {
        let mut cmd = Command::new("redis-server");
        cmd.args(["--port", &port.to_string(), "--bind", "127.0.0.1", "--dir"])
            .arg(dir)
            .args(["--save", "", "--enable-debug-command", "yes", "--logfile", "redis.log"])
            .args(extra);
        cmd
    })
}

/// Starts the slot-node binary on a free port in `dir`.
pub fn slot_node(dir: &Path, extra: &[&str]) -> Proc {
    spawn_on_free_port("slot-node", |port| {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_slot-node"));
        cmd.args(["--port", &port.to_string(), "--bind", "127.0.0.1", "--dir"]).arg(dir).args(extra);
        cmd
    })
}

/// Spawns a server on a port picked free, and returns once that port is
/// served by this very process (INFO's process_id): a port picked free can
/// be taken before the child binds it (by a parallel test's node on port 0),
/// and then the child exits and another port is tried.
fn spawn_on_free_port(what: &str, command: impl Fn(u16) -> Command) -> Proc {
    for _ in 0..5 {
        let port = free_port();
        let child = command(port).stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap_or_else(|e| panic!("spawn {what}: {e}"));
        let mut p = Proc { child, port };
        let pid = format!("process_id:{}", p.child.id());
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        while std::time::Instant::now() < deadline {
            if p.child.try_wait().ok().flatten().is_some() {
                break;
            }
            // Ours, and done loading (PING answers LOADING until then).
            let ready = redis::Client::open(format!("redis://127.0.0.1:{port}/")).and_then(|c| c.get_connection()).is_ok_and(|mut c| {
                redis::cmd("INFO").arg("server").query::<String>(&mut c).is_ok_and(|i| i.lines().any(|l| l.trim_end() == pid))
                    && redis::cmd("PING").query::<String>(&mut c).is_ok()
            });
            if ready {
                return p;
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        assert!(p.child.try_wait().ok().flatten().is_some(), "{what} did not start within 20 s");
    }
    panic!("{what} could not get a free port");
}

/// The path of a Redis tool (redis-cli, redis-benchmark, ...) if installed; a
/// panic instead of None when SLOTD_REQUIRE_REDIS=1 (CI) so tests cannot skip silently.
pub fn tool(bin: &str) -> Option<std::path::PathBuf> {
    let found = std::env::var_os("PATH").and_then(|p| std::env::split_paths(&p).map(|d| d.join(bin)).find(|f| f.is_file()));
    if found.is_none() && std::env::var("SLOTD_REQUIRE_REDIS").as_deref() == Ok("1") {
        panic!("{bin} is required (SLOTD_REQUIRE_REDIS=1) but not on PATH: apt-get install -y redis-server redis-tools");
    }
    found
}

// ---------------------------------------------------------------- side by side with redis-server

/// Runs one command on a connection: its reply, or its error reply as text
/// (a broken connection fails the test).
pub fn run(c: &mut redis::Connection, args: &[&str]) -> Result<redis::Value, String> {
    let mut cmd = redis::cmd(args[0]);
    for a in &args[1..] {
        cmd.arg(*a);
    }
    match cmd.query(c) {
        Ok(v) => Ok(v),
        Err(e) if e.kind() == redis::ErrorKind::IoError => panic!("{args:?}: {e}"),
        Err(e) => Err(format!("{} {}", e.code().unwrap_or_default(), e.detail().unwrap_or_default())),
    }
}

/// Sends the same commands to both servers; after each, the replies and the
/// encoding of `key` must be equal.
pub fn same_on_both(ours: &mut redis::Connection, theirs: &mut redis::Connection, key: &str, steps: &[Vec<String>]) {
    for step in steps {
        let args: Vec<&str> = step.iter().map(String::as_str).collect();
        let (got, want) = (run(ours, &args), run(theirs, &args));
        assert_eq!(got, want, "reply to {args:?}");
        let enc = ["OBJECT", "ENCODING", key];
        assert_eq!(run(ours, &enc), run(theirs, &enc), "encoding of {key} after {args:?}");
    }
}

/// slot-node (in this process) and redis-server, side by side, with a connection to each.
pub struct Both {
    pub ours: redis::Connection,
    pub theirs: redis::Connection,
    pub ours_port: u16,
    pub theirs_port: u16,
    node: Option<node_engine::NodeHandle>,
    _dir: tempfile::TempDir,
    _redis: (tempfile::TempDir, Proc),
}

impl Both {
    /// None (the test is skipped) only when redis-server is not installed and not required.
    pub fn start() -> Option<Both> {
        let redis = reference_redis()?;
        let dir = tempfile::tempdir().expect("tempdir");
        let node = start(dir.path(), &["--enable-debug-command", "yes"]);
        let (ours_port, theirs_port) = (node.port(), redis.1.port);
        Some(Both { ours: conn(ours_port), theirs: conn(theirs_port), ours_port, theirs_port, node: Some(node), _dir: dir, _redis: redis })
    }
}

impl Drop for Both {
    fn drop(&mut self) {
        if let Some(h) = self.node.take() {
            stop(h);
        }
    }
}

/// DUMP `from` and RESTORE it as `to` on both servers.
pub fn both_copy_by_dump(ours: &mut redis::Connection, theirs: &mut redis::Connection, from: &str, to: &str) {
    for c in [ours, theirs] {
        let dump: Vec<u8> = redis::cmd("DUMP").arg(from).query(c).expect("DUMP");
        let () = redis::cmd("RESTORE").arg(to).arg(0).arg(dump).query(c).expect("RESTORE");
    }
}

pub fn cmd(parts: &[&str]) -> Vec<String> {
    parts.iter().map(|s| s.to_string()).collect()
}

/// Writes `n` keys `<prefix><i>` holding `value`, in one pipeline.
pub fn fill(c: &mut redis::Connection, prefix: &str, n: usize, value: &str) {
    let mut p = redis::pipe();
    for i in 0..n {
        p.cmd("SET").arg(format!("{prefix}{i}")).arg(value).ignore();
    }
    let _: () = p.query(c).expect("fill");
}
