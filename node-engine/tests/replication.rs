//! Standalone replication, black box: full and partial resync, read-only
//! replicas, WAIT, expiry following the master, interop with redis-server.

use node_engine::{NodeConfig, NodeHandle};
use redis::{Commands, Connection};
use std::time::{Duration, Instant};

fn start(extra: &[&str]) -> NodeHandle {
    let mut args: Vec<String> = ["--port", "0", "--bind", "127.0.0.1", "--save", ""].iter().map(|s| s.to_string()).collect();
    args.extend(extra.iter().map(|s| s.to_string()));
    node_engine::start(NodeConfig::from_args(&args).expect("config")).expect("start")
}

fn conn(port: u16) -> Connection {
    redis::Client::open(format!("redis://127.0.0.1:{port}/")).expect("client").get_connection().expect("connect")
}

fn wait_until(what: &str, within: Duration, mut ok: impl FnMut() -> bool) {
    let deadline = Instant::now() + within;
    while Instant::now() < deadline {
        if ok() {
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    panic!("timed out after {within:?} waiting for: {what}");
}

fn info_field(c: &mut Connection, section: &str, field: &str) -> String {
    let text: String = redis::cmd("INFO").arg(section).query(c).expect("info");
    text.lines().find_map(|l| l.strip_prefix(&format!("{field}:"))).unwrap_or_default().trim().to_string()
}

fn attach(replica: &mut Connection, master_port: u16) {
    let _: () = redis::cmd("REPLICAOF").arg("127.0.0.1").arg(master_port).query(replica).expect("replicaof");
    wait_until("replica link up", Duration::from_secs(10), || info_field(replica, "replication", "master_link_status") == "up");
}

#[test]
fn full_sync_stream_readonly_and_wait() {
    let m = start(&[]);
    let r = start(&[]);
    let mut mc = conn(m.port());
    let mut rc = conn(r.port());
    for i in 0..1000 {
        let _: () = mc.set(format!("k{i}"), i).expect("set");
    }
    let _: () = mc.rpush("list", &["a", "b", "c"]).expect("rpush");
    let _: () = mc.hset("h", "f", "v").expect("hset");
    attach(&mut rc, m.port());
    assert_eq!(rc.get::<_, i64>("k999").expect("get"), 999, "full sync carried the data");
    let _: () = mc.set("after", "sync").expect("set");
    let acked: i64 = redis::cmd("WAIT").arg(1).arg(5000).query(&mut mc).expect("wait");
    assert_eq!(acked, 1);
    assert_eq!(rc.get::<_, String>("after").expect("get"), "sync", "after WAIT 1 the write is on the replica");
    let e = rc.set::<_, _, ()>("x", 1).expect_err("replica refuses writes");
    assert_eq!(e.code(), Some("READONLY"));
    assert_eq!(info_field(&mut mc, "replication", "connected_slaves"), "1");
    let role: Vec<redis::Value> = redis::cmd("ROLE").query(&mut rc).expect("role");
    assert_eq!(role.len(), 5);
    assert_eq!(info_field(&mut mc, "stats", "sync_full"), "1");
}

#[test]
fn short_disconnect_resumes_with_partial_resync() {
    let m = start(&[]);
    let r = start(&[]);
    let mut mc = conn(m.port());
    let mut rc = conn(r.port());
    attach(&mut rc, m.port());
    let _: () = mc.set("a", 1).expect("set");
    // Cut the replica's link from the master side; it reconnects by itself.
    let clients: String = redis::cmd("CLIENT").arg("LIST").query(&mut mc).expect("client list");
    let replica_addr = clients
        .lines()
        .find(|l| l.contains("flags=S"))
        .and_then(|l| l.split_whitespace().find_map(|f| f.strip_prefix("addr=")))
        .expect("replica in CLIENT LIST")
        .to_string();
    let _: () = redis::cmd("CLIENT").arg("KILL").arg(&replica_addr).query(&mut mc).expect("kill");
    let _: () = mc.set("b", 2).expect("set while disconnected");
    wait_until("partial resync", Duration::from_secs(10), || info_field(&mut mc, "stats", "sync_partial_ok") == "1");
    wait_until("write made while disconnected arrives", Duration::from_secs(10), || {
        rc.get::<_, Option<i64>>("b").ok().flatten() == Some(2)
    });
    assert_eq!(info_field(&mut mc, "stats", "sync_full"), "1", "no second full sync");
}

#[test]
fn expiry_on_the_replica_follows_the_master() {
    let m = start(&["--hz", "50"]);
    let r = start(&[]);
    let mut mc = conn(m.port());
    let mut rc = conn(r.port());
    attach(&mut rc, m.port());
    let _: () = redis::cmd("SET").arg("temp").arg("v").arg("PX").arg(200).query(&mut mc).expect("set px");
    let _: i64 = redis::cmd("WAIT").arg(1).arg(5000).query(&mut mc).expect("wait");
    let ttl: i64 = rc.pttl("temp").expect("pttl");
    assert!(ttl > 0 && ttl <= 200, "replica has the same deadline: {ttl}");
    // The master's active expiry deletes it and sends DEL; the replica's key count drops to 0.
    wait_until("replica key count drops after the master's DEL", Duration::from_secs(5), || {
        redis::cmd("DBSIZE").query::<i64>(&mut rc).ok() == Some(0)
    });
}

fn which(bin: &str) -> Option<std::path::PathBuf> {
    let found = std::env::var_os("PATH").and_then(|p| std::env::split_paths(&p).map(|d| d.join(bin)).find(|f| f.is_file()));
    if found.is_none() && std::env::var("SLOTD_REQUIRE_REDIS").is_ok_and(|v| v == "1") {
        panic!("{bin} is required (SLOTD_REQUIRE_REDIS=1) but not on PATH: apt-get install -y redis-server");
    }
    found
}

struct KillOnDrop(std::process::Child);
impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn replicates_both_ways_with_redis_server() {
    let Some(server) = which("redis-server") else {
        eprintln!("skipping: redis-server not installed");
        return;
    };
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        l.local_addr().expect("addr").port()
    };
    let tmp = tempfile::tempdir().expect("tmp");
    let _redis = KillOnDrop(
        std::process::Command::new(server)
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1", "--save", "", "--dir", tmp.path().to_str().expect("utf8")])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("spawn redis-server"),
    );
    let mut redis_conn = None;
    wait_until("redis-server up", Duration::from_secs(10), || {
        redis_conn = redis::Client::open(format!("redis://127.0.0.1:{port}/")).ok().and_then(|c| c.get_connection().ok());
        redis_conn.is_some()
    });
    let mut rs = redis_conn.expect("connected");
    // redis-server replicates from our node.
    let ours = start(&[]);
    let mut oc = conn(ours.port());
    let _: () = oc.set("from-ours", "1").expect("set");
    let _: () = oc.zadd("z", "m", 1.5).expect("zadd");
    attach(&mut rs, ours.port());
    let _: () = oc.set("streamed", "2").expect("set");
    let _: i64 = redis::cmd("WAIT").arg(1).arg(5000).query(&mut oc).expect("wait");
    assert_eq!(rs.get::<_, String>("from-ours").expect("get"), "1");
    assert_eq!(rs.get::<_, String>("streamed").expect("get"), "2");
    assert_eq!(rs.zscore::<_, _, f64>("z", "m").expect("zscore"), 1.5);
    // And our node replicates from redis-server.
    let _: () = redis::cmd("REPLICAOF").arg("NO").arg("ONE").query(&mut rs).expect("promote redis");
    let _: () = rs.hset("h", "field", "value").expect("hset");
    let replica = start(&[]);
    let mut rc = conn(replica.port());
    attach(&mut rc, port);
    assert_eq!(rc.hget::<_, _, String>("h", "field").expect("hget"), "value");
    let _: () = rs.set("live", "yes").expect("set");
    wait_until("stream from redis-server applied", Duration::from_secs(5), || {
        rc.get::<_, Option<String>>("live").ok().flatten().as_deref() == Some("yes")
    });
}
