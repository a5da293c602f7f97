//! Builtin nodes as child processes of a real slotd: start, kill (stays
//! down), start again, pause/resume, crash -> restart with backoff -> FATAL,
//! busy port, adoption after `kill -9` of slotd, shutdown leaving nothing.

use crate::util::{alive, Slotd, TestConfig};
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use slotd::supervise::state::State;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

const LONG: Duration = Duration::from_secs(30);

async fn ping(port: u16) -> bool {
    slotd::cluster_admin::ping(SocketAddr::from(([127, 0, 0, 1], port)), Duration::from_millis(300)).await
}

fn kill9(pid: u32) {
    kill(Pid::from_raw(pid as i32), Signal::SIGKILL).expect("kill -9");
}

/// Asserts the node stays in `state` for `window` (it must not be restarted behind the user's back).
async fn stays(s: &Slotd, port: u16, state: State, window: Duration) {
    let until = Instant::now() + window;
    while Instant::now() < until {
        let n = s.node(port).await.expect("node view");
        assert_eq!(n.state, state, "node {port} left {state}: {n:?}");
        assert_eq!(n.pid, None);
        assert!(!ping(port).await, "node {port} answers although {state}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn six_nodes_run_kill_stays_down_start_brings_back() {
    let cfg = TestConfig::builtin(6);
    let s = Slotd::start(&cfg);
    let st = s.wait_all_running(LONG).await;
    assert_eq!(st.nodes.len(), 6);
    for n in &st.nodes {
        assert!(ping(n.port).await, "{} RUNNING but no PONG", n.name);
        let pid = n.pid.expect("pid");
        assert!(alive(pid) && pid != s.pid(), "node runs in its own process");
        assert_eq!(n.role.as_deref(), Some("master"), "role as the node reports it");
        assert!(std::path::Path::new(&n.log).exists(), "log file {}", n.log);
    }
    let (code, out, _) = s.slotctl(&["status"]);
    assert_eq!(code, 3, "six unjoined nodes (create = manual) are not a ready cluster: {out}");
    assert_eq!(out.matches("RUNNING").count(), 6, "{out}");
    assert!(out.contains("not ready:") && out.contains("run `slotctl create`"), "{out}");

    let victim = cfg.ports[0];
    let old_pid = st.nodes[0].pid.expect("pid");
    let (code, out, err) = s.slotctl(&["kill", &victim.to_string()]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("EXITED"), "{out}");
    assert!(!alive(old_pid), "killed process is gone");
    stays(&s, victim, State::Exited, Duration::from_millis(1500)).await;
    let (code, out, _) = s.slotctl(&["status"]);
    assert_eq!(code, 3, "status exits 3 when a node is down: {out}");
    let (code, _, _) = s.slotctl(&["status", &format!("node{}", cfg.ports[1])]);
    assert_eq!(code, 0, "only the listed node counts");

    let (code, out, err) = s.slotctl(&["start", &victim.to_string()]);
    assert_eq!(code, 0, "{out}{err}");
    let n = s.node(victim).await.expect("node");
    assert_eq!(n.state, State::Running);
    assert_ne!(n.pid, Some(old_pid));
    assert!(ping(victim).await);

    // Pause: the process is stopped (T), the port stays open but nothing answers.
    let (code, _, err) = s.slotctl(&["pause", &victim.to_string()]);
    assert_eq!(code, 0, "{err}");
    let pid = n.pid.expect("pid");
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).expect("stat");
    assert!(stat.rsplit_once(')').is_some_and(|(_, r)| r.trim_start().starts_with('T')), "{stat}");
    assert!(!ping(victim).await, "paused node answered");
    assert_eq!(s.node(victim).await.map(|n| n.state), Some(State::Paused));
    let (code, _, err) = s.slotctl(&["resume", &victim.to_string()]);
    assert_eq!(code, 0, "{err}");
    assert!(ping(victim).await, "resumed node answers");

    // Stop is graceful and the node stays STOPPED.
    let (code, _, err) = s.slotctl(&["stop", &victim.to_string()]);
    assert_eq!(code, 0, "{err}");
    assert!(!alive(pid));
    stays(&s, victim, State::Stopped, Duration::from_millis(500)).await;
    let (code, _, err) = s.slotctl(&["start", "all"]);
    assert_eq!(code, 0, "{err}");
    s.wait_all_running(LONG).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crash_is_restarted_with_backoff_then_fatal_and_busy_port_is_named() {
    let cfg = TestConfig::builtin(3);
    let s = Slotd::start(&cfg);
    s.wait_all_running(LONG).await;
    let victim = cfg.ports[0];
    // start_retries = 2: two crashes are restarted, the third is FATAL.
    for round in 1..=2u32 {
        let before = s.node(victim).await.expect("node");
        let pid = before.pid.expect("pid");
        kill9(pid);
        let after = crate::util::wait_for(LONG, "restart after crash", || async {
            let n = s.node(victim).await?;
            (n.state == State::Running && n.pid.is_some_and(|p| p != pid)).then_some(n)
        })
        .await;
        assert_eq!(after.restarts, round, "{after:?}");
        assert_eq!(after.last_exit.and_then(|e| e.signal), Some(9));
        assert!(ping(victim).await);
    }
    let pid = s.node(victim).await.and_then(|n| n.pid).expect("pid");
    kill9(pid);
    let n = s.wait_state(victim, State::Fatal, LONG).await;
    assert_eq!(n.restarts, 2);
    stays(&s, victim, State::Fatal, Duration::from_millis(800)).await;

    // A busy port: start fails with a message naming the port, then works once freed.
    let holder = std::net::TcpListener::bind(("127.0.0.1", victim)).expect("hold the port");
    let (code, out, err) = s.slotctl(&["start", &victim.to_string()]);
    assert_eq!(code, 1, "{out}{err}");
    assert!(err.contains(&format!("port {victim}")) && err.contains("not free"), "{err}");
    drop(holder);
    let (code, out, err) = s.slotctl(&["start", &victim.to_string()]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(ping(victim).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restarted_slotd_adopts_nodes_and_shutdown_leaves_no_process() {
    let cfg = TestConfig::builtin(6);
    let mut s = Slotd::start(&cfg);
    let before = s.wait_all_running(LONG).await;
    let pids: Vec<u32> = before.nodes.iter().map(|n| n.pid.expect("pid")).collect();

    s.kill9();
    for p in &pids {
        assert!(alive(*p), "nodes survive kill -9 of slotd");
    }
    s.spawn();
    let after = s.wait_all_running(LONG).await;
    let again: Vec<u32> = after.nodes.iter().map(|n| n.pid.expect("pid")).collect();
    assert_eq!(again, pids, "adopted, not restarted");
    assert!(after.nodes.iter().all(|n| n.adopted), "{:?}", after.nodes);
    assert!(s.log().contains("adopting"), "log says so");

    // An adopted node that crashes is still noticed and restarted.
    kill9(pids[1]);
    crate::util::wait_for(LONG, "adopted node restarted", || async {
        let n = s.node(cfg.ports[1]).await?;
        (n.state == State::Running && n.pid.is_some_and(|p| p != pids[1])).then_some(())
    })
    .await;

    let (code, out, err) = s.slotctl(&["shutdown"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("slotd stopped"), "{out}");
    let exit = s.wait_exit(LONG).await;
    assert_eq!(exit, Some(0), "slotd exits cleanly: {}", s.log());
    assert!(s.processes_using_data_dir().is_empty(), "processes left: {:?}", s.processes_using_data_dir());
    for p in &pids {
        assert!(!alive(*p));
    }
    for port in &cfg.ports {
        assert!(std::net::TcpListener::bind(("127.0.0.1", *port)).is_ok(), "port {port} released");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn systemd_notify_and_config_watch() {
    // A fake systemd: a unix datagram socket slotd reports to.
    let sockdir = tempfile::tempdir().expect("tempdir");
    let sock_path = sockdir.path().join("notify.sock");
    let sock = std::os::unix::net::UnixDatagram::bind(&sock_path).expect("bind notify socket");
    sock.set_read_timeout(Some(Duration::from_millis(200))).expect("timeout");
    let cfg = TestConfig::builtin(3);
    let s = Slotd::start_with_env(&cfg, vec![("NOTIFY_SOCKET".into(), sock_path.display().to_string())]);
    s.wait_all_running(LONG).await;
    let ready = crate::util::wait_for(LONG, "READY=1 from slotd", || {
        let sock = &sock;
        async move {
            let mut buf = [0u8; 1024];
            let n = sock.recv(&mut buf).ok()?;
            let msg = String::from_utf8_lossy(&buf[..n]).into_owned();
            msg.contains("READY=1").then_some(msg)
        }
    })
    .await;
    assert!(ready.contains("STATUS=nodes running"), "{ready}");
    // Nodes must not inherit slotd's NOTIFY_SOCKET.
    for pid in s.live_node_pids() {
        let env = std::fs::read(format!("/proc/{pid}/environ")).expect("environ");
        assert!(!String::from_utf8_lossy(&env).contains("NOTIFY_SOCKET"), "node {pid} got NOTIFY_SOCKET");
    }

    // An invalid edit is rejected with file:line; the running config stays.
    let good = std::fs::read_to_string(&s.config_path).expect("read config");
    let bad = good.replace("start_retries = 2", "start_retries = -4");
    std::fs::write(&s.config_path, &bad).expect("write bad config");
    let line = bad.lines().position(|l| l.contains("start_retries = -4")).expect("line") + 1;
    let want = format!("{}:{line}: restart.start_retries = -4 is out of range", s.config_path.display());
    crate::util::wait_for(LONG, "rejected edit in the log", || async { s.log().contains(&want).then_some(()) }).await;
    assert!(s.log().contains("running config stays"));
    // A valid edit is logged key by key.
    std::fs::write(&s.config_path, good.replace("start_retries = 2", "start_retries = 5")).expect("write good config");
    crate::util::wait_for(LONG, "config change in the log", || async {
        s.log().contains("config changed: restart.start_retries: 2 -> 5").then_some(())
    })
    .await;
    let (code, _, err) = s.slotctl(&["shutdown"]);
    assert_eq!(code, 0, "{err}");
}
