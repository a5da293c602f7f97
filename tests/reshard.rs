//! Slot migration on builtin nodes: the lab's slot-9842 move by hand with
//! real redis-cli (ASK / ASKING / TRYAGAIN, MIGRATE COPY / REPLACE / KEYS /
//! NOKEY on the way), `slotctl reshard` and `rebalance` under a cluster
//! client's continuous writes and reads, an interrupted reshard repaired by
//! `slotctl fix`, and add-node / del-node.

use crate::util::{free_ports, wait_for, Slotd, TestConfig};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

const LONG: Duration = Duration::from_secs(90);

/// A formed six-node builtin cluster (3 masters + 3 replicas).
async fn cluster() -> Slotd {
    let mut cfg = TestConfig::builtin(6);
    cfg.create = "auto";
    // Debug-built nodes on a busy 2-core CI box can stall for a second; the
    // test config's 1 s node timeout would fail masters over mid-move.
    cfg.extra = cfg.ports.iter().map(|p| format!("[nodes.override.{p}]\ncluster-node-timeout = 15000\n")).collect();
    let s = Slotd::start(&cfg);
    s.wait_all_running(LONG).await;
    s.wait_formed(LONG).await;
    s
}

fn redis_cli_available() -> bool {
    let ok = Command::new("redis-cli").arg("--version").output().is_ok();
    if !ok {
        assert!(std::env::var("SLOTD_REQUIRE_REDIS").as_deref() != Ok("1"), "SLOTD_REQUIRE_REDIS=1 but redis-cli is not installed");
        eprintln!("skipping: redis-cli not installed");
    }
    ok
}

/// `redis-cli -p PORT args...`, stdout trimmed (errors are printed there too).
fn cli(port: u16, args: &[&str]) -> String {
    let out = Command::new("redis-cli").arg("-p").arg(port.to_string()).args(args).output().expect("redis-cli");
    let mut s = String::from_utf8_lossy(&out.stdout).into_owned();
    s.push_str(&String::from_utf8_lossy(&out.stderr));
    s.trim().to_string()
}

/// Several commands in one redis-cli session (ASKING applies to the next command).
fn cli_session(port: u16, script: &str) -> String {
    use std::io::Write;
    let mut child =
        Command::new("redis-cli").arg("-p").arg(port.to_string()).stdin(Stdio::piped()).stdout(Stdio::piped()).spawn().expect("redis-cli");
    child.stdin.take().expect("stdin").write_all(script.as_bytes()).expect("write");
    let out = child.wait_with_output().expect("redis-cli");
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

fn cluster_client(ports: &[u16]) -> redis::cluster::ClusterClient {
    let urls: Vec<String> = ports.iter().map(|p| format!("redis://127.0.0.1:{p}/")).collect();
    redis::cluster::ClusterClient::builder(urls).retries(30).build().expect("cluster client")
}

async fn check_ok(s: &Slotd) {
    wait_for(LONG, "slotctl check passes", || async {
        let (code, out, _) = s.slotctl(&["check"]);
        (code == 0).then_some(out)
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lab_slot_9842_by_hand_with_redis_cli() {
    if !redis_cli_available() {
        return;
    }
    let s = cluster().await;
    let (src, dst) = (s.ports[1], s.ports[2]);
    assert_eq!(cli(src, &["cluster", "keyslot", "1"]), "9842");
    assert_eq!(cli(src, &["-c", "set", "1", "one"]), "OK");
    assert_eq!(cli(src, &["-c", "set", "{1}a", "A"]), "OK");
    assert_eq!(cli(src, &["-c", "set", "{1}b", "B"]), "OK");
    assert_eq!(cli(src, &["-c", "set", "{1}c", "C"]), "OK");
    let src_id = cli(src, &["cluster", "myid"]);
    let dst_id = cli(dst, &["cluster", "myid"]);

    // The lab: IMPORTING on the target, MIGRATING on the source.
    assert_eq!(cli(dst, &["cluster", "setslot", "9842", "importing", &src_id]), "OK");
    assert_eq!(cli(src, &["cluster", "setslot", "9842", "migrating", &dst_id]), "OK");
    assert!(cli(src, &["cluster", "nodes"]).contains(&format!("[9842->-{dst_id}]")));
    assert!(cli(dst, &["cluster", "nodes"]).contains(&format!("[9842-<-{src_id}]")));
    assert_eq!(cli(src, &["cluster", "countkeysinslot", "9842"]), "4");
    let keys = cli(src, &["cluster", "getkeysinslot", "9842", "10"]);
    for k in ["1", "{1}a", "{1}b", "{1}c"] {
        assert!(keys.lines().any(|l| l == k), "{k} in {keys}");
    }
    // The open slot could not be stolen by a SETSLOT NODE while keys remain.
    assert!(cli(src, &["cluster", "setslot", "9842", "node", &dst_id]).contains("still hold keys"));

    // ASK for a key not (or no longer) on the source; the target serves it only after ASKING.
    let ask = cli(src, &["get", "{1}missing"]);
    assert!(ask.contains(&format!("ASK 9842 127.0.0.1:{dst}")), "{ask}");
    assert!(cli(dst, &["get", "{1}missing"]).contains(&format!("MOVED 9842 127.0.0.1:{src}")));
    assert_eq!(cli_session(dst, "ASKING\nSET {1}new N\n"), "OK\nOK");
    assert!(cli(src, &["get", "1"]) == "one", "an existing key is still served by the source");

    // MIGRATE ... COPY leaves the key here; again without REPLACE is refused; REPLACE moves it.
    assert_eq!(cli(src, &["migrate", "127.0.0.1", &dst.to_string(), "", "0", "5000", "COPY", "KEYS", "{1}a"]), "OK");
    assert_eq!(cli(src, &["get", "{1}a"]), "A");
    assert_eq!(cli_session(dst, "ASKING\nGET {1}a\n"), "OK\nA");
    let busy = cli(src, &["migrate", "127.0.0.1", &dst.to_string(), "{1}a", "0", "5000"]);
    assert!(busy.contains("BUSYKEY"), "{busy}");
    assert_eq!(cli(src, &["get", "{1}a"]), "A", "a refused MIGRATE keeps the key");
    assert_eq!(cli(src, &["migrate", "127.0.0.1", &dst.to_string(), "{1}a", "0", "5000", "REPLACE"]), "OK");
    assert!(cli(src, &["get", "{1}a"]).contains("ASK 9842"), "moved away");

    // Keys split between the two nodes: TRYAGAIN for a multi-key command.
    let tryagain = cli(src, &["mget", "{1}a", "{1}b"]);
    assert!(tryagain.contains("TRYAGAIN"), "{tryagain}");

    // MIGRATE the rest, one by one like the lab, and several with KEYS; NOKEY when nothing moved.
    assert_eq!(cli(src, &["migrate", "127.0.0.1", &dst.to_string(), "1", "0", "5000"]), "OK");
    assert_eq!(cli(src, &["migrate", "127.0.0.1", &dst.to_string(), "", "0", "5000", "KEYS", "{1}b", "{1}c"]), "OK");
    assert_eq!(cli(src, &["migrate", "127.0.0.1", &dst.to_string(), "{1}gone", "0", "5000"]), "NOKEY");
    assert_eq!(cli(src, &["cluster", "countkeysinslot", "9842"]), "0");
    assert_eq!(cli(dst, &["cluster", "countkeysinslot", "9842"]), "5");

    // SETSLOT NODE on both; then the source redirects for good.
    assert_eq!(cli(dst, &["cluster", "setslot", "9842", "node", &dst_id]), "OK");
    assert_eq!(cli(src, &["cluster", "setslot", "9842", "node", &dst_id]), "OK");
    assert_eq!(cli(src, &["get", "1"]), format!("MOVED 9842 127.0.0.1:{dst}"));
    assert_eq!(cli(src, &["-c", "get", "1"]), "one");
    assert_eq!(cli(src, &["-c", "get", "{1}new"]), "N");

    // Every node learns the new owner (gossip for the third master and the replicas).
    check_ok(&s).await;
    let (code, out, err) = s.slotctl(&["cluster"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("9842"), "{out}");

    // The same move back with slotctl: one command.
    let (code, out, err) = s.slotctl(&["reshard", "--from", &dst.to_string(), "--to", &src.to_string(), "--slot", "9842"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("done") && out.contains("5 keys"), "{out}");
    assert_eq!(cli(dst, &["get", "1"]), format!("MOVED 9842 127.0.0.1:{src}"));
    assert_eq!(cli(src, &["get", "1"]), "one");
    check_ok(&s).await;
}

/// Writes and reads through a cluster client until told to stop; returns
/// (acknowledged writes, errors seen).
fn load(ports: Vec<u16>, stop: Arc<AtomicBool>, acked: Arc<AtomicU64>) -> std::thread::JoinHandle<Vec<String>> {
    std::thread::spawn(move || {
        use redis::Commands;
        let mut errors = Vec::new();
        let mut con = cluster_client(&ports).get_connection().expect("cluster connection");
        let mut i = 0u64;
        while !stop.load(Ordering::Relaxed) {
            match con.set::<_, _, ()>(format!("load:{i}"), i) {
                Ok(()) => acked.store(i + 1, Ordering::Relaxed),
                Err(e) => {
                    errors.push(format!("set load:{i}: {e}"));
                    continue;
                }
            }
            // Read back an earlier key: the move must not hide it.
            let j = i / 2;
            match con.get::<_, Option<u64>>(format!("load:{j}")) {
                Ok(Some(v)) if v == j => {}
                other => errors.push(format!("get load:{j}: {other:?}")),
            }
            i += 1;
        }
        errors
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reshard_and_rebalance_under_load_lose_nothing() {
    let s = cluster().await;
    let p = s.ports.clone();
    let stop = Arc::new(AtomicBool::new(false));
    let acked = Arc::new(AtomicU64::new(0));
    let writer = load(p[..3].to_vec(), stop.clone(), acked.clone());
    wait_for(LONG, "some writes", || async { (acked.load(Ordering::Relaxed) > 2000).then_some(()) }).await;

    let (code, out, err) =
        s.slotctl(&["reshard", "--from", &p[0].to_string(), "--to", &p[1].to_string(), "--slots", "300", "--batch", "50"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("300/300 slots"), "{out}");
    assert!(err.contains("reshard:"), "plain progress lines when not a terminal: {err}");
    let map: serde_json::Value = serde_json::from_str(&s.slotctl(&["cluster", "--json"]).1).expect("json");
    let count = |port: u16| {
        map["masters"]
            .as_array()
            .expect("masters")
            .iter()
            .find(|m| m["port"].as_u64() == Some(u64::from(port)))
            .and_then(|m| m["slot_count"].as_u64())
    };
    assert_eq!((count(p[0]), count(p[1]), count(p[2])), (Some(5461 - 300), Some(5462 + 300), Some(5461)), "{map}");

    // Rebalance evens it out again, still under load.
    let (code, out, err) = s.slotctl(&["rebalance"]);
    assert_eq!(code, 0, "{out}{err}");
    let map: serde_json::Value = serde_json::from_str(&s.slotctl(&["cluster", "--json"]).1).expect("json");
    for m in map["masters"].as_array().expect("masters") {
        let n = m["slot_count"].as_u64().unwrap_or(0);
        assert!((5350..=5570).contains(&n), "balanced within 2%: {map}");
    }

    stop.store(true, Ordering::Relaxed);
    let errors = tokio::task::spawn_blocking(move || writer.join().expect("writer")).await.expect("join");
    assert!(errors.is_empty(), "errors surfaced to the client: {:?}", &errors[..errors.len().min(5)]);
    let n = acked.load(Ordering::Relaxed);
    let ports = p[..3].to_vec();
    tokio::task::spawn_blocking(move || {
        use redis::Commands;
        let mut con = cluster_client(&ports).get_connection().expect("cluster connection");
        for i in 0..n {
            let v: Option<u64> = con.get(format!("load:{i}")).expect("get");
            assert_eq!(v, Some(i), "acknowledged write load:{i} lost");
        }
    })
    .await
    .expect("verify");
    check_ok(&s).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn interrupted_reshard_is_repaired_by_fix() {
    let s = cluster().await;
    let p = s.ports.clone();
    let ports = p[..3].to_vec();
    let n = 1500u64;
    // Every key in one slot of the first master, so the move is long and
    // the interruption lands in the middle of it.
    let slot = tokio::task::spawn_blocking(move || {
        let mut con = cluster_client(&ports).get_connection().expect("cluster connection");
        let slot: u16 = redis::cmd("CLUSTER").arg("KEYSLOT").arg("{b}").query(&mut con).expect("keyslot");
        for i in 0..n {
            let _: () = redis::cmd("SET").arg(format!("{{b}}k:{i}")).arg(i).query(&mut con).expect("set");
        }
        slot
    })
    .await
    .expect("preload");
    // "{b}" hashes (3300) to a slot of the first master (0-5460).
    assert!(slot <= 5460, "slot {slot}");

    // A slow reshard (one key per MIGRATE), interrupted with Ctrl-C.
    let mut child: Child = Command::new(crate::util::slotctl_bin())
        .args([
            "--api",
            &s.api,
            "reshard",
            "--from",
            &p[0].to_string(),
            "--to",
            &p[2].to_string(),
            "--slot",
            &slot.to_string(),
            "--batch",
            "1",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("slotctl");
    wait_for(LONG, "the reshard moved some keys", || async {
        let j: Option<serde_json::Value> = s.client().get("/v1/cluster/job").await.ok();
        (j?["keys_done"].as_u64()? >= 20).then_some(())
    })
    .await;
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(child.id() as i32), nix::sys::signal::Signal::SIGINT).expect("SIGINT");
    let deadline = std::time::Instant::now() + LONG;
    let status = loop {
        if let Some(st) = child.try_wait().expect("wait") {
            break st;
        }
        assert!(std::time::Instant::now() < deadline, "slotctl did not stop after Ctrl-C");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let out = child.wait_with_output().expect("output");
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert_eq!(status.code(), Some(130), "{text}");
    assert!(text.contains("interrupted") && text.contains("slotctl fix"), "{text}");

    // The open slot is visible to check, and fix finishes it.
    let (code, out, _) = s.slotctl(&["check"]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("is open: MIGRATING"), "{out}");
    let (code, out, err) = s.slotctl(&["fix"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("finished the move"), "{out}");
    check_ok(&s).await;

    let ports = p[..3].to_vec();
    tokio::task::spawn_blocking(move || {
        let mut con = cluster_client(&ports).get_connection().expect("cluster connection");
        for i in 0..n {
            let v: Option<u64> = redis::cmd("GET").arg(format!("{{b}}k:{i}")).query(&mut con).expect("get");
            assert_eq!(v, Some(i), "{{b}}k:{i} lost by the interrupted reshard");
        }
    })
    .await
    .expect("verify");
}

/// Starts a builtin node outside slotd (an empty cluster node to add).
fn spare_node(dir: &std::path::Path, port: u16) -> Child {
    let node_dir = dir.join(format!("spare{port}"));
    std::fs::create_dir_all(&node_dir).expect("dir");
    let conf = dir.join(format!("spare{port}.conf"));
    std::fs::write(
        &conf,
        format!(
            "port {port}\nbind 127.0.0.1\ndir {}\ncluster-enabled yes\ncluster-config-file nodes-{port}.conf\ncluster-node-timeout 5000\nsave \"\"\nappendonly no\nrepl-diskless-sync-delay 0\n",
            node_dir.display()
        ),
    )
    .expect("conf");
    Command::new(crate::util::slotd_bin()).arg("node").arg(&conf).stdout(Stdio::null()).stderr(Stdio::null()).spawn().expect("spawn node")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn add_node_and_del_node() {
    let s = cluster().await;
    let p = s.ports.clone();
    let extra = free_ports(1)[0];
    let mut node = spare_node(s.dir.path(), extra);
    let addr = std::net::SocketAddr::from(([127, 0, 0, 1], extra));
    wait_for(LONG, "spare node up", || async { slotd::cluster_admin::ping(addr, Duration::from_secs(1)).await.then_some(()) }).await;
    let e = extra.to_string();

    let (code, out, err) = s.slotctl(&["add-node", &e]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("empty master"), "{out}");
    let (code, _, err) = s.slotctl(&["add-node", &e]);
    assert_eq!(code, 1);
    assert!(err.contains("already in the cluster"), "{err}");

    let (code, out, err) = s.slotctl(&["reshard", "--from", &p[0].to_string(), "--to", &e, "--slots", "10"]);
    assert_eq!(code, 0, "{out}{err}");
    let (code, _, err) = s.slotctl(&["del-node", &e]);
    assert_eq!(code, 1);
    assert!(err.contains("still owns 10 slots") && err.contains("slotctl reshard"), "{err}");
    let (code, out, err) = s.slotctl(&["reshard", "--from", &e, "--to", &p[0].to_string(), "--slots", "10"]);
    assert_eq!(code, 0, "{out}{err}");
    let (code, out, err) = s.slotctl(&["del-node", &e]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("removed"), "{out}");
    let (_, out, _) = s.slotctl(&["cluster"]);
    assert!(!out.contains(&e), "{out}");
    check_ok(&s).await;

    // Reset by del-node, it can come back as a replica.
    let (code, out, err) = s.slotctl(&["add-node", &e, "--replica-of", &p[1].to_string()]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains(&format!("replica of {}", p[1])), "{out}");
    wait_for(LONG, "new replica listed under its master", || async {
        let (_, out, _) = s.slotctl(&["cluster", "--json"]);
        let v: serde_json::Value = serde_json::from_str(&out).ok()?;
        let m = v["masters"].as_array()?.iter().find(|m| m["port"].as_u64() == Some(u64::from(p[1])))?.clone();
        m["replicas"].as_array()?.iter().any(|r| r["port"].as_u64() == Some(u64::from(extra))).then_some(())
    })
    .await;
    let (code, out, err) = s.slotctl(&["del-node", &e]);
    assert_eq!(code, 0, "{out}{err}");
    check_ok(&s).await;
    let _ = node.kill();
    let _ = node.wait();
}
