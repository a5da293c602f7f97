//! Client libraries as apps use them, on the embedded default cluster
//! (builtin nodes under slotd): redis-py's `Lock` and ioredis's
//! `defineCommand`, whose Lua scripts go out as EVALSHA with an EVAL (or
//! SCRIPT LOAD) fallback on NOSCRIPT. The scripts live in `tests/clients/`;
//! `.ci/run` installs the libraries (`pip install redis`, `npm ci`).

use crate::util::{Slotd, TestConfig};
use std::path::Path;
use std::process::Command;
use std::time::Duration;

const LONG: Duration = Duration::from_secs(60);

/// Whether `probe` succeeds; with SLOTD_REQUIRE_REDIS=1 a missing library fails the test.
fn library_available(what: &str, install: &str, probe: &mut Command) -> bool {
    let found = probe.output().is_ok_and(|o| o.status.success());
    if !found {
        assert!(std::env::var("SLOTD_REQUIRE_REDIS").as_deref() != Ok("1"), "SLOTD_REQUIRE_REDIS=1 but {what} is missing: {install}");
        eprintln!("skipping: {what} is missing ({install})");
    }
    found
}

fn clients_dir() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/clients"))
}

/// Runs a client script against the cluster; it prints "ok" when every check held.
fn run_client(program: &str, script: &str, port: u16) {
    let out = Command::new(program)
        .arg(clients_dir().join(script))
        .arg("127.0.0.1")
        .arg(port.to_string())
        .current_dir(clients_dir())
        .output()
        .unwrap_or_else(|e| panic!("cannot run {program}: {e}"));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success() && stdout.trim_end().ends_with("ok"), "{script} failed ({}):\n{stdout}\n{stderr}", out.status);
}

async fn default_cluster() -> Slotd {
    let mut cfg = TestConfig::builtin(6);
    cfg.create = "auto";
    let s = Slotd::start(&cfg);
    s.wait_formed(LONG).await;
    s
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_py_lock_works_on_the_builtin_cluster() {
    if !library_available("redis-py", "python3 -m pip install redis", Command::new("python3").args(["-c", "import redis.cluster"])) {
        return;
    }
    let s = default_cluster().await;
    let port = s.ports[0];
    tokio::task::spawn_blocking(move || run_client("python3", "redis_py_lock.py", port)).await.expect("client thread");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ioredis_define_command_works_on_the_builtin_cluster() {
    let probe = clients_dir().join("node_modules/ioredis/package.json");
    if !library_available("ioredis", "npm ci --prefix tests/clients", Command::new("test").arg("-f").arg(&probe)) {
        return;
    }
    if !library_available("node", "apt-get install nodejs", Command::new("node").arg("--version")) {
        return;
    }
    let s = default_cluster().await;
    let port = s.ports[0];
    tokio::task::spawn_blocking(move || run_client("node", "ioredis_define_command.js", port)).await.expect("client thread");
}
