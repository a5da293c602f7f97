//! The lab's flow, on our builtin nodes (process and in-process) and on real
//! redis-server (skipped when it is not installed, a failure with
//! SLOTD_REQUIRE_REDIS=1): generated confs accepted unchanged,
//! automatic cluster creation to cluster_state:ok on all six, kill a master
//! -> it stays down and its replica takes over, start -> it rejoins as a
//! replica, slotd restart leaves the formed cluster alone, shutdown.

use crate::util::{cluster_state, node_text, redis_available, role_of, wait_for, Slotd, TestConfig};
use redis::Commands;
use slotd::supervise::state::State;
use std::time::Duration;

const LONG: Duration = Duration::from_secs(60);

fn cluster_client(ports: &[u16]) -> redis::cluster::ClusterClient {
    let urls: Vec<String> = ports.iter().map(|p| format!("redis://127.0.0.1:{p}/")).collect();
    redis::cluster::ClusterClient::builder(urls).retries(10).build().expect("cluster client")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_server_cluster_full_flow() {
    if !redis_available() {
        return;
    }
    full_flow("redis-server", "process").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn builtin_cluster_full_flow() {
    full_flow("builtin", "process").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn builtin_inproc_cluster_full_flow() {
    full_flow("builtin", "inproc").await;
}

async fn full_flow(kind: &'static str, mode: &'static str) {
    let mut cfg = TestConfig::builtin(6);
    cfg.kind = kind;
    cfg.mode = mode;
    cfg.create = "auto";
    let p = cfg.ports.clone();
    cfg.extra = format!("[nodes.override.{}]\nmaxmemory = \"100mb\"\n", p[5]);
    let mut s = Slotd::start(&cfg);
    // `slotctl wait` may start before slotd's API is up: that counts as waiting.
    let waiter = {
        let (bin, api) = (crate::util::slotctl_bin(), s.api.clone());
        std::thread::spawn(move || {
            std::process::Command::new(bin).args(["--api", &api, "wait", "--timeout", "90s"]).output().expect("run slotctl wait")
        })
    };
    // Readiness: the first moment any node reports cluster_state:ok, every
    // replica is already attached and synced (creation assigns slots last).
    let first_ok = wait_for(LONG, "a node reporting cluster_state:ok", || async {
        for port in &p {
            if cluster_state(*port).await.as_deref() == Some("ok") {
                return Some(*port);
            }
        }
        None
    })
    .await;
    for port in &p[3..] {
        let repl = node_text(*port, &["INFO", "replication"]).await.expect("INFO replication");
        let field = |k| slotd::cluster_admin::info_field(&repl, k);
        assert_eq!(field("role").as_deref(), Some("slave"), "{port} not a replica when {first_ok} reported ok:\n{repl}");
        assert_eq!(field("master_link_status").as_deref(), Some("up"), "{port} not synced when {first_ok} reported ok:\n{repl}");
    }
    s.wait_all_running(LONG).await;

    // Formed automatically: every node reports cluster_state:ok.
    let st = wait_for(LONG, "cluster formed by slotd", || async {
        let st = s.status().await?;
        (st.cluster.formation.as_deref() == Some("formed")).then_some(st)
    })
    .await;
    assert!(st.nodes.iter().all(|n| n.cluster_state.as_deref() == Some("ok")), "{:?}", st.nodes);
    assert_eq!(st.cluster.state.as_deref(), Some("ok"));
    let slots: Vec<Vec<String>> = st.nodes.iter().map(|n| n.slots.clone()).collect();
    assert_eq!(slots[0], vec!["0-5460"]);
    assert_eq!(slots[1], vec!["5461-10922"]);
    assert_eq!(slots[2], vec!["10923-16383"]);
    for (i, n) in st.nodes.iter().enumerate().skip(3) {
        assert_eq!(n.role.as_deref(), Some("slave"), "{n:?}");
        assert_eq!(n.master_port, Some(p[i - 3]), "replica i -> master i");
        assert!(n.slots.is_empty());
    }
    // Every replica's link is up (polled: on a loaded box a link may be re-established just now).
    wait_for(LONG, "every replica's master link up", || async {
        let st = s.status().await?;
        st.nodes.iter().skip(3).all(|n| n.master_link.as_deref() == Some("up")).then_some(())
    })
    .await;
    let out = waiter.join().expect("slotctl wait thread");
    assert_eq!(
        out.status.code(),
        Some(0),
        "slotctl wait: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("every replica in sync"), "{}", String::from_utf8_lossy(&out.stdout));
    let (code, out, err) = s.slotctl(&["status"]);
    assert_eq!(code, 0, "status of a ready cluster: {out}{err}");

    // The override reached redis-server through the generated conf.
    let mut c = redis::Client::open(format!("redis://127.0.0.1:{}/", p[5])).expect("client").get_connection().expect("conn");
    let mm: Vec<String> = redis::cmd("CONFIG").arg("GET").arg("maxmemory").query(&mut c).expect("config get");
    assert_eq!(mm, vec!["maxmemory".to_string(), "104857600".to_string()]);

    // The lab's workload through a cluster client.
    let ports = p.clone();
    tokio::task::spawn_blocking(move || {
        let mut con = cluster_client(&ports).get_connection().expect("cluster conn");
        for i in 0..300 {
            let _: () = con.set(format!("key:{i}"), i).expect("set");
        }
        let v: i64 = con.get("key:299").expect("get");
        assert_eq!(v, 299);
    })
    .await
    .expect("writer");

    // Replication is asynchronous: before the kill, wait until the replica
    // has every acknowledged write, so "no key lost" is a fair expectation.
    let offset = |port: u16, field: &'static str| async move {
        let addr = std::net::SocketAddr::from(([127, 0, 0, 1], port));
        let mut c = slotd::cluster_admin::Conn::connect(addr, Duration::from_secs(2)).await.ok()?;
        let info = c.text(&["INFO", "replication"]).await.ok()?;
        slotd::cluster_admin::info_field(&info, field)?.parse::<u64>().ok()
    };
    wait_for(LONG, "replica caught up", || async {
        let m = offset(p[0], "master_repl_offset").await?;
        let r = offset(p[3], "slave_repl_offset").await?;
        (r >= m).then_some(())
    })
    .await;

    // Kill master p[0]: it stays down, its replica p[3] takes over.
    let (code, out, err) = s.slotctl(&["kill", &p[0].to_string()]);
    assert_eq!(code, 0, "{out}{err}");
    wait_for(LONG, "replica promoted", || async {
        let n = s.node(p[3]).await?;
        (n.role.as_deref() == Some("master") && n.slots == vec!["0-5460".to_string()]).then_some(())
    })
    .await;
    assert_eq!(s.node(p[0]).await.map(|n| n.state), Some(State::Exited), "killed master stays down");
    let (code, out, _) = s.slotctl(&["status"]);
    assert_eq!(code, 3, "a node down: not ready: {out}");
    assert!(out.contains(&format!("node{} is EXITED", p[0])), "{out}");
    let (code, out, err) = s.slotctl(&["wait", "--timeout", "300ms"]);
    assert_eq!(code, 1, "wait with a node down: {out}{err}");
    assert!(err.contains("cluster not ready after 300ms") && err.contains(&format!("node{} is EXITED", p[0])), "{err}");
    let ports = p.clone();
    tokio::task::spawn_blocking(move || {
        // Other nodes learn of the new master by gossip; a client may need a
        // few tries (with a fresh slot map) before every node agrees.
        let deadline = std::time::Instant::now() + LONG;
        for i in (0..300).step_by(37) {
            loop {
                let got: Result<i64, _> = cluster_client(&ports[1..]).get_connection().and_then(|mut c| c.get(format!("key:{i}")));
                match got {
                    Ok(v) => {
                        assert_eq!(v, i, "acknowledged write survives the failover");
                        break;
                    }
                    Err(e) => {
                        assert!(std::time::Instant::now() < deadline, "read after failover: {e}");
                        std::thread::sleep(Duration::from_millis(100));
                    }
                }
            }
        }
    })
    .await
    .expect("reader");

    // Start it again: it rejoins as a replica of the new master.
    let (code, out, err) = s.slotctl(&["start", &p[0].to_string()]);
    assert_eq!(code, 0, "{out}{err}");
    wait_for(LONG, "old master back as replica", || async {
        let n = s.node(p[0]).await?;
        (n.role.as_deref() == Some("slave") && n.master_port == Some(p[3])).then_some(())
    })
    .await;

    // The timeline timed "writes served" on the new master without leaving
    // anything behind: the masters hold exactly the lab's 300 keys.
    wait_for(LONG, "writes-ok event on the timeline", || async {
        let ev = s.events().await?;
        ev.events.iter().any(|e| e.kind == slotd::events::EventKind::WritesServed).then_some(())
    })
    .await;
    let mut total = 0;
    for port in [p[1], p[2], p[3]] {
        let addr = std::net::SocketAddr::from(([127, 0, 0, 1], port));
        let mut c = slotd::cluster_admin::Conn::connect(addr, Duration::from_secs(2)).await.expect("connect");
        match c.cmd(&["DBSIZE"]).await.expect("DBSIZE") {
            slotd::cluster_admin::Resp::Int(n) => total += n,
            other => panic!("DBSIZE on {port}: {other:?}"),
        }
    }
    assert_eq!(total, 300, "DBSIZE summed over the masters after kill, failover and restart");

    // A restarted slotd finds the cluster formed and leaves it alone.
    s.kill9();
    s.spawn();
    s.wait_all_running(LONG).await;
    wait_for(LONG, "slotd saw the formed cluster", || async {
        let st = s.status().await?;
        (st.cluster.formation.as_deref() == Some("already formed")).then_some(())
    })
    .await;
    assert_eq!(s.node(p[3]).await.and_then(|n| n.role), Some("master".to_string()));

    let (code, out, err) = s.slotctl(&["shutdown"]);
    assert_eq!(code, 0, "{out}{err}");
    assert_eq!(s.wait_exit(LONG).await, Some(0));
    assert!(s.processes_using_data_dir().is_empty(), "left: {:?}", s.processes_using_data_dir());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn manual_create_with_slotctl() {
    if !redis_available() {
        return;
    }
    let mut cfg = TestConfig::builtin(6);
    cfg.kind = "redis-server";
    cfg.create = "manual";
    let s = Slotd::start(&cfg);
    let st = s.wait_all_running(LONG).await;
    // Manual: nodes are left unjoined for the lab's hand-built cluster.
    assert!(st.nodes.iter().all(|n| n.cluster_state.as_deref() == Some("fail") && n.slots.is_empty()), "{:?}", st.nodes);
    let (code, out, err) = s.slotctl(&["create"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("master") && out.contains("0-5460"), "{out}");
    let st = s.status().await.expect("status");
    assert!(st.nodes.iter().all(|n| n.cluster_state.as_deref() == Some("ok")), "{:?}", st.nodes);
    // A second create finds it formed.
    let (code, out, _) = s.slotctl(&["create"]);
    assert_eq!(code, 0);
    assert!(out.contains("already formed"), "{out}");
    let (code, _, err) = s.slotctl(&["shutdown"]);
    assert_eq!(code, 0, "{err}");
}

/// The persistence issue's promise on the embedded engine: with AOF on
/// (`appendfsync always`), `slotctl kill` of a master then `slotctl start`
/// brings back every acknowledged key.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn builtin_aof_kill_and_start_keeps_every_acknowledged_key() {
    let mut cfg = TestConfig::builtin(3);
    cfg.create = "auto";
    // Three masters, no replicas: the killed master's data can only come back from its AOF.
    cfg.replicas = 0;
    cfg.extra = "[persistence]\nappendonly = true\nappendfsync = \"always\"\nsave = []\n".into();
    let p = cfg.ports.clone();
    let s = Slotd::start(&cfg);
    s.wait_all_running(LONG).await;
    s.wait_formed(LONG).await;
    let ports = p.clone();
    tokio::task::spawn_blocking(move || {
        let mut con = cluster_client(&ports).get_connection().expect("cluster conn");
        for i in 0..500 {
            let _: () = con.set(format!("key:{i}"), i).expect("set");
        }
    })
    .await
    .expect("writer");
    let (code, out, err) = s.slotctl(&["kill", &p[0].to_string()]);
    assert_eq!(code, 0, "{out}{err}");
    let (code, out, err) = s.slotctl(&["start", &p[0].to_string()]);
    assert_eq!(code, 0, "{out}{err}");
    let ports = p.clone();
    tokio::task::spawn_blocking(move || {
        let deadline = std::time::Instant::now() + LONG;
        let mut missing = Vec::new();
        for i in 0..500 {
            loop {
                let got: Result<Option<i64>, _> = cluster_client(&ports).get_connection().and_then(|mut c| c.get(format!("key:{i}")));
                match got {
                    Ok(v) => {
                        if v != Some(i) {
                            missing.push(i);
                        }
                        break;
                    }
                    Err(e) => {
                        assert!(std::time::Instant::now() < deadline, "read after restart: {e}");
                        std::thread::sleep(Duration::from_millis(100));
                    }
                }
            }
        }
        assert!(missing.is_empty(), "acknowledged keys lost after kill + start with AOF: {missing:?}");
    })
    .await
    .expect("reader");
    let (code, _, err) = s.slotctl(&["shutdown"]);
    assert_eq!(code, 0, "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn assisted_failover_on_redis_server() {
    if !redis_available() {
        return;
    }
    assisted_failover("redis-server").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn assisted_failover_on_builtin() {
    assisted_failover("builtin").await;
}

/// `failover = "assisted"` with a node timeout of 30 s: a killed master's
/// replica takes over long before gossip could notice, the timeline shows
/// slotd's CLUSTER FAILOVER FORCE, and a paused master is left alone.
async fn assisted_failover(kind: &'static str) {
    let mut cfg = TestConfig::builtin(6);
    cfg.kind = kind;
    cfg.create = "auto";
    cfg.failover = "assisted";
    cfg.node_timeout_ms = 30_000;
    let p = cfg.ports.clone();
    let s = Slotd::start(&cfg);
    let (code, out, err) = s.slotctl(&["wait", "--timeout", "60s"]);
    assert_eq!(code, 0, "{out}{err}");
    let assisted = |ev: &slotd::events::EventsResponse| {
        ev.events.iter().filter(|e| e.kind == slotd::events::EventKind::AssistedFailover).cloned().collect::<Vec<_>>()
    };

    // Paused (SIGSTOP): alive, so no assist; with a 30 s node timeout nothing moves.
    let (code, _, err) = s.slotctl(&["pause", &p[0].to_string()]);
    assert_eq!(code, 0, "{err}");
    let until = std::time::Instant::now() + Duration::from_millis(1500);
    while std::time::Instant::now() < until {
        let ev = s.events().await.expect("events");
        assert!(assisted(&ev).is_empty(), "assisted failover for a paused node: {:?}", assisted(&ev));
        assert_eq!(role_of(p[3]).await.as_deref(), Some("slave"));
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let (code, _, err) = s.slotctl(&["resume", &p[0].to_string()]);
    assert_eq!(code, 0, "{err}");

    // Killed: the replica is master well inside the 30 s node timeout.
    let (code, out, err) = s.slotctl(&["kill", &p[0].to_string()]);
    assert_eq!(code, 0, "{out}{err}");
    wait_for(Duration::from_secs(10), "replica promoted by the assisted failover", || async {
        (role_of(p[3]).await.as_deref() == Some("master")).then_some(())
    })
    .await;
    let ev = wait_for(Duration::from_secs(10), "failover on the timeline", || async {
        let ev = s.events().await?;
        ev.failovers.iter().any(|f| f.new_master == format!("node{}", p[3])).then_some(ev)
    })
    .await;
    let asked = assisted(&ev);
    assert_eq!(asked.len(), 1, "{asked:?}");
    assert_eq!(asked[0].node.as_deref(), Some(format!("node{}", p[3]).as_str()));
    assert_eq!(asked[0].peer.as_deref(), Some(format!("node{}", p[0]).as_str()));
    assert!(asked[0].message.contains("CLUSTER FAILOVER FORCE"), "{}", asked[0].message);
    let sw = ev.failovers.iter().find(|f| f.new_master == format!("node{}", p[3])).expect("stopwatch");
    assert!(sw.phases.iter().any(|ph| ph.name == "FAILOVER FORCE asked" && ph.ts_ms.is_some()), "{sw:?}");
    // Writes on the dead master's slots are served by the new master.
    let mut c = redis::Client::open(format!("redis://127.0.0.1:{}/", p[3])).expect("client").get_connection().expect("conn");
    let key = slotd::topology::key_for_slot("test:", 0);
    let () = c.set(&key, "after").expect("write on slot 0 after the assisted failover");
}

/// `nodes.acl_user`: slotd and the replicas log in as their own ACL user, so
/// an operator can restrict the default user (the apps' login) and slotd
/// still watches the cluster and moves slots.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acl_user_keeps_slotd_working_when_default_is_restricted() {
    const PW: &str = "pw-0123456789abcdef";
    let mut cfg = TestConfig::builtin(6);
    cfg.create = "auto";
    cfg.cluster_extra = format!("password = \"{PW}\"\n");
    cfg.nodes_extra = "acl_user = \"slotd-admin\"\n".into();
    let p = cfg.ports.clone();
    let s = Slotd::start(&cfg);
    let addrs: Vec<std::net::SocketAddr> = p.iter().map(|port| std::net::SocketAddr::from(([127, 0, 0, 1], *port))).collect();
    slotd::cluster_admin::set_password(addrs, Some("slotd-admin"), PW);
    s.wait_formed(LONG).await;
    // The apps' user: reads and writes data, nothing else.
    for port in &p {
        let mut c =
            redis::Client::open(format!("redis://:{PW}@127.0.0.1:{port}/")).and_then(|c| c.get_connection()).expect("connect as default");
        redis::cmd("ACL")
            .arg("SETUSER")
            .arg("default")
            .arg("resetkeys")
            .arg("~*")
            .arg("-@all")
            .arg("+@read")
            .arg("+@write")
            .arg("+ping")
            .query::<()>(&mut c)
            .expect("restrict default");
        let denied = redis::cmd("CLUSTER").arg("NODES").query::<String>(&mut c).expect_err("default lost CLUSTER");
        assert_eq!(denied.code(), Some("NOPERM"), "{denied}");
        let users = node_text(*port, &["CLIENT", "LIST"]).await.expect("slotd's user reads CLIENT LIST");
        assert!(users.contains("user=slotd-admin"), "{users}");
    }
    // slotd's own work goes on as its user: status sees every node, a reshard moves slots (MIGRATE AUTH2).
    let st = s.status().await.expect("status");
    assert!(st.nodes.iter().all(|n| n.cluster_state.as_deref() == Some("ok")), "{:?}", st.nodes);
    let masters: Vec<u16> = st.nodes.iter().filter(|n| !n.slots.is_empty()).map(|n| n.port).collect();
    let count = |slots: &[String]| -> usize {
        slots
            .iter()
            .map(|r| match r.split_once('-') {
                Some((a, b)) => b.parse::<usize>().unwrap_or(0) + 1 - a.parse::<usize>().unwrap_or(0),
                None => 1,
            })
            .sum()
    };
    let before = count(&st.nodes.iter().find(|n| n.port == masters[1]).expect("target").slots);
    let (code, out, err) = s.slotctl(&["reshard", "--from", &masters[0].to_string(), "--to", &masters[1].to_string(), "--slots", "5"]);
    assert_eq!(code, 0, "{out}{err}");
    let st = s.status().await.expect("status");
    let to = st.nodes.iter().find(|n| n.port == masters[1]).expect("target");
    assert_eq!(count(&to.slots), before + 5, "{:?}", to.slots);
}
