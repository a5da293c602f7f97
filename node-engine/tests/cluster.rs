//! Cluster mode, black box: in-process nodes on allocated ports, formed with
//! our own CLUSTER commands, driven by the `redis` crate and real redis-cli.

mod support;

use node_engine::{NodeConfig, NodeHandle};
use redis::{Commands, Connection, Value};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

const TOKEN: &str = "test-token";

/// A port that is free now, and whose +10000 bus port is free too.
fn free_port_pair() -> u16 {
    loop {
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let p = l.local_addr().expect("addr").port();
        if p < 55000 && std::net::TcpListener::bind(("127.0.0.1", p + 10000)).is_ok() {
            return p;
        }
    }
}

struct TestNode {
    port: u16,
    dir: PathBuf,
    handle: Option<NodeHandle>,
}

fn start_node(port: u16, dir: &Path, timeout_ms: u64) -> NodeHandle {
    let args: Vec<String> = [
        "--port",
        &port.to_string(),
        "--bind",
        "127.0.0.1",
        "--cluster-enabled",
        "yes",
        "--cluster-node-timeout",
        &timeout_ms.to_string(),
        "--dir",
        dir.to_str().expect("utf8 dir"),
        "--save",
        "",
        "--appendonly",
        "no",
        // Replicas attach one at a time here: no need to wait for more to share a sync.
        "--repl-diskless-sync-delay",
        "0",
        "--slotd-admin-token",
        TOKEN,
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let cfg = NodeConfig::from_args(&args).expect("config");
    node_engine::start(cfg).expect("start node")
}

struct Cluster {
    nodes: Vec<TestNode>,
    _tmp: tempfile::TempDir,
    timeout: u64,
    _serial: Option<std::sync::MutexGuard<'static, ()>>,
}

/// Six-node clusters run one at a time: on a 2-core CI box several at once
/// starve each other into spurious failure detection.
static SIX_NODE_LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());

impl Cluster {
    fn new(n: usize, timeout: u64) -> Cluster {
        let guard = (n >= 6).then(|| SIX_NODE_LOCK.lock().unwrap_or_else(|e| e.into_inner()));
        let tmp = tempfile::tempdir().expect("tempdir");
        let nodes = (0..n)
            .map(|i| {
                let dir = tmp.path().join(format!("n{i}"));
                std::fs::create_dir_all(&dir).expect("mkdir");
                let port = free_port_pair();
                let handle = start_node(port, &dir, timeout);
                TestNode { port, dir, handle: Some(handle) }
            })
            .collect();
        Cluster { _tmp: tmp, nodes, timeout, _serial: guard }
    }
    fn conn(&self, i: usize) -> Connection {
        redis::Client::open(format!("redis://127.0.0.1:{}/", self.nodes[i].port)).expect("client").get_connection().expect("connect")
    }
    fn id(&self, i: usize) -> String {
        redis::cmd("CLUSTER").arg("MYID").query(&mut self.conn(i)).expect("myid")
    }
    fn info(&self, i: usize) -> String {
        redis::cmd("CLUSTER").arg("INFO").query(&mut self.conn(i)).unwrap_or_default()
    }
    fn meet_all(&self) {
        let mut c = self.conn(0);
        for n in &self.nodes[1..] {
            let _: () = redis::cmd("CLUSTER").arg("MEET").arg("127.0.0.1").arg(n.port).query(&mut c).expect("meet");
        }
        wait_until("every node knows every other", Duration::from_secs(10), || {
            (0..self.nodes.len()).all(|i| self.info(i).contains(&format!("cluster_known_nodes:{}", self.nodes.len())))
        });
    }
    fn add_range(&self, i: usize, a: u16, b: u16) {
        let _: () = redis::cmd("CLUSTER").arg("ADDSLOTSRANGE").arg(a).arg(b).query(&mut self.conn(i)).expect("addslotsrange");
    }
    fn replicate(&self, replica: usize, master: usize) {
        let id = self.id(master);
        wait_until("replica knows its master", Duration::from_secs(10), || {
            redis::cmd("CLUSTER").arg("REPLICATE").arg(&id).query::<()>(&mut self.conn(replica)).is_ok()
        });
    }
    fn wait_state(&self, which: &[usize], state: &str, within: Duration) {
        wait_until_explained(
            &format!("cluster_state:{state} on {which:?}"),
            within,
            || which.iter().all(|&i| self.info(i).contains(&format!("cluster_state:{state}"))),
            || format!("; views:\n{}", self.views()),
        );
    }
    /// Every running node's CLUSTER NODES, for a failure message that shows who thinks what.
    fn views(&self) -> String {
        self.running()
            .into_iter()
            .map(|i| {
                let nodes: String = redis::cmd("CLUSTER").arg("NODES").query(&mut self.conn(i)).unwrap_or_default();
                format!("node {i} (port {}):\n{nodes}", self.nodes[i].port)
            })
            .collect::<Vec<_>>()
            .join("\n")
    }
    fn running(&self) -> Vec<usize> {
        (0..self.nodes.len()).filter(|i| self.nodes[*i].handle.is_some()).collect()
    }
    /// Three masters with an even split and, when there are six nodes, a replica each.
    fn form_3x(&self) {
        self.meet_all();
        self.add_range(0, 0, 5460);
        self.add_range(1, 5461, 10922);
        self.add_range(2, 10923, 16383);
        if self.nodes.len() >= 6 {
            for r in 0..3 {
                self.replicate(3 + r, r);
            }
        }
        self.wait_state(&self.running(), "ok", Duration::from_secs(15));
    }
    /// Waits until node 1 sees `id` as the master of `slots` (a replica promoted by failover).
    fn wait_promoted(&self, id: &str, slots: &str) {
        wait_until("replica promoted", Duration::from_secs(10), || {
            let nodes: String = redis::cmd("CLUSTER").arg("NODES").query(&mut self.conn(1)).unwrap_or_default();
            nodes.lines().any(|l| l.starts_with(id) && l.contains(" master ") && l.contains(&format!(" {slots}")))
        });
    }
    fn kill(&mut self, i: usize) {
        if let Some(h) = self.nodes[i].handle.take() {
            h.kill();
            h.join();
        }
    }
    fn restart(&mut self, i: usize) {
        let h = start_node(self.nodes[i].port, &self.nodes[i].dir, self.timeout);
        self.nodes[i].handle = Some(h);
    }
}

fn wait_until(what: &str, within: Duration, ok: impl FnMut() -> bool) {
    wait_until_explained(what, within, ok, String::new);
}

/// Polls `ok` until the deadline; on timeout the panic adds `explain()` (what each node thinks).
fn wait_until_explained(what: &str, within: Duration, mut ok: impl FnMut() -> bool, explain: impl FnOnce() -> String) {
    let deadline = Instant::now() + within;
    while Instant::now() < deadline {
        if ok() {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("timed out after {within:?} waiting for: {what}{}", explain());
}

fn err_text<T: std::fmt::Debug>(r: redis::RedisResult<T>) -> String {
    match r {
        Ok(v) => panic!("expected an error, got {v:?}"),
        Err(e) => format!("{} {}", e.code().unwrap_or(""), e.detail().unwrap_or("")),
    }
}

#[test]
fn lab_keyslots_moved_crossslot_and_hash_tags() {
    let c = Cluster::new(3, 1000);
    c.form_3x();
    let mut n0 = c.conn(0);
    for (key, slot) in [("name", 5798), ("age", 741), ("addr", 12790), ("tel", 7485), ("1", 9842), ("10000", 15413)] {
        let got: i64 = redis::cmd("CLUSTER").arg("KEYSLOT").arg(key).query(&mut n0).expect("keyslot");
        assert_eq!(got, slot, "{key}");
    }
    // name -> slot 5798, served by node 1.
    let e = err_text(n0.set::<_, _, ()>("name", "booboo"));
    assert_eq!(e, format!("MOVED 5798 127.0.0.1:{}", c.nodes[1].port));
    let mut n1 = c.conn(1);
    let _: () = n1.set("name", "booboo").expect("set on owner");
    let e = err_text(redis::cmd("MSET").arg("a").arg(1).arg("b").arg(2).query::<()>(&mut n0));
    assert_eq!(e, "CROSSSLOT Keys in request don't hash to the same slot");
    // Hash tags keep keys together.
    let tagged: i64 = redis::cmd("CLUSTER").arg("KEYSLOT").arg("{user1}.a").query(&mut n0).expect("keyslot");
    let owner = match tagged {
        0..=5460 => 0,
        5461..=10922 => 1,
        _ => 2,
    };
    let mut o = c.conn(owner);
    let _: () = redis::cmd("MSET").arg("{user1}.a").arg(1).arg("{user1}.b").arg(2).query(&mut o).expect("mset with tags");
    let count: i64 = redis::cmd("CLUSTER").arg("COUNTKEYSINSLOT").arg(tagged).query(&mut o).expect("count");
    assert_eq!(count, 2);
    let keys: Vec<String> = redis::cmd("CLUSTER").arg("GETKEYSINSLOT").arg(tagged).arg(10).query(&mut o).expect("getkeys");
    assert_eq!(keys.len(), 2);
    // SELECT other than 0 is refused in cluster mode.
    let e = err_text(redis::cmd("SELECT").arg(1).query::<()>(&mut o));
    assert_eq!(e, "ERR SELECT is not allowed in cluster mode");
}

#[test]
fn cluster_client_reads_and_writes_across_slots() {
    let c = Cluster::new(3, 1000);
    c.form_3x();
    let client = redis::cluster::ClusterClient::new(vec![format!("redis://127.0.0.1:{}/", c.nodes[0].port)]).expect("cluster client");
    let mut conn = client.get_connection().expect("cluster connection");
    for i in 0..300 {
        let _: () = conn.set(format!("age{i}"), i).expect("set");
    }
    for i in 0..300 {
        let v: i64 = conn.get(format!("age{i}")).expect("get");
        assert_eq!(v, i);
    }
    let total: i64 = (0..3).map(|i| redis::cmd("DBSIZE").query::<i64>(&mut c.conn(i)).expect("dbsize")).sum();
    assert_eq!(total, 300);
    // Every node answers CLUSTER SLOTS with the three ranges.
    let slots: Value = redis::cmd("CLUSTER").arg("SLOTS").query(&mut c.conn(2)).expect("slots");
    match slots {
        Value::Array(ranges) => assert_eq!(ranges.len(), 3),
        other => panic!("unexpected CLUSTER SLOTS reply {other:?}"),
    }
}

#[test]
fn manual_uneven_addslots_like_the_lab() {
    let c = Cluster::new(3, 1000);
    c.meet_all();
    let mut n0 = c.conn(0);
    assert!(c.info(0).contains("cluster_state:fail"));
    c.add_range(0, 0, 16000);
    c.add_range(1, 16001, 16200);
    c.add_range(2, 16201, 16383);
    c.wait_state(&[0, 1, 2], "ok", Duration::from_secs(10));
    let e = err_text(redis::cmd("CLUSTER").arg("ADDSLOTS").arg(5).query::<()>(&mut n0));
    assert_eq!(e, "ERR Slot 5 is already busy");
    let nodes: String = redis::cmd("CLUSTER").arg("NODES").query(&mut n0).expect("nodes");
    let mine = nodes.lines().find(|l| l.contains("myself")).expect("myself line");
    assert!(mine.ends_with(" connected 0-16000"), "{mine}");
    let info = c.info(1);
    assert!(info.contains("cluster_slots_assigned:16384") && info.contains("cluster_size:3"), "{info}");
}

#[test]
fn master_without_replica_down_means_fail_and_back_means_ok() {
    let mut c = Cluster::new(3, 500);
    c.form_3x();
    let id2 = c.id(2);
    c.kill(2);
    c.wait_state(&[0, 1], "fail", Duration::from_secs(10));
    let e = err_text(c.conn(0).get::<_, Option<String>>("age"));
    assert_eq!(e, "CLUSTERDOWN The cluster is down");
    let info = c.info(0);
    assert!(info.contains("cluster_slots_fail:5461"), "{info}");
    c.restart(2);
    c.wait_state(&[0, 1, 2], "ok", Duration::from_secs(10));
    assert_eq!(c.id(2), id2, "a restarted node keeps its id from nodes.conf");
}

#[test]
fn replica_takes_over_and_old_master_rejoins_as_replica() {
    let mut c = Cluster::new(6, 1000);
    c.form_3x();
    let master_id = c.id(0);
    let replica_id = c.id(3);
    c.kill(0);
    c.wait_promoted(&replica_id, "0-5460");
    c.wait_state(&[1, 2, 3, 4, 5], "ok", Duration::from_secs(10));
    c.restart(0);
    wait_until("old master rejoins as replica of the winner", Duration::from_secs(10), || {
        let nodes: String = redis::cmd("CLUSTER").arg("NODES").query(&mut c.conn(0)).unwrap_or_default();
        nodes.lines().any(|l| l.starts_with(&master_id) && l.contains("myself,slave") && l.contains(&replica_id))
    });
}

#[test]
fn failover_under_write_load_loses_no_acknowledged_write() {
    let mut c = Cluster::new(6, 1000);
    c.form_3x();
    // Keys of slot range 0-5460 (master 0, replica 3): {a} hashes to 15495? pick a tag served by node 0.
    let tag = (0..1000).map(|i| format!("t{i}")).find(|t| {
        let s: i64 = redis::cmd("CLUSTER").arg("KEYSLOT").arg(t).query(&mut c.conn(0)).unwrap_or(-1);
        (0..=5460).contains(&s)
    });
    let tag = tag.expect("a tag in 0-5460");
    let mut m = c.conn(0);
    let mut acked = Vec::new();
    for i in 0..500 {
        let key = format!("{{{tag}}}:{i}");
        let _: () = m.set(&key, i).expect("set");
        let n: i64 = redis::cmd("WAIT").arg(1).arg(2000).query(&mut m).expect("wait");
        if n == 1 {
            acked.push(key);
        }
    }
    assert_eq!(acked.len(), 500, "every write was acknowledged by the replica");
    let replica_id = c.id(3);
    let old_master = c.id(0);
    c.kill(0);
    wait_until("replica promoted", Duration::from_secs(10), || {
        let nodes: String = redis::cmd("CLUSTER").arg("NODES").query(&mut c.conn(3)).unwrap_or_default();
        nodes.lines().any(|l| l.starts_with(&replica_id) && l.contains("myself,master"))
    });
    let mut n3 = c.conn(3);
    let missing: Vec<&String> = acked.iter().filter(|k| n3.get::<_, Option<i64>>(k.as_str()).ok().flatten().is_none()).collect();
    assert!(missing.is_empty(), "{} acknowledged keys missing after failover, e.g. {:?}", missing.len(), missing.first());
    let _: () = n3.set(format!("{{{tag}}}:after"), "new").expect("write on the new master");
    c.restart(0);
    wait_until("old master rejoins as replica", Duration::from_secs(10), || {
        let nodes: String = redis::cmd("CLUSTER").arg("NODES").query(&mut c.conn(0)).unwrap_or_default();
        nodes.lines().any(|l| l.starts_with(&old_master) && l.contains("myself,slave"))
    });
    wait_until("old master has the new master's data", Duration::from_secs(10), || {
        let mut c0 = c.conn(0);
        let _: () = redis::cmd("READONLY").query(&mut c0).unwrap_or(());
        c0.get::<_, Option<String>>(format!("{{{tag}}}:after")).ok().flatten().as_deref() == Some("new")
    });
}

#[test]
fn manual_failover_switches_roles_without_loss() {
    let c = Cluster::new(6, 1000);
    c.form_3x();
    let mut m = c.conn(1);
    let tag = (0..1000).map(|i| format!("u{i}")).find(|t| {
        let s: i64 = redis::cmd("CLUSTER").arg("KEYSLOT").arg(t).query(&mut m).unwrap_or(-1);
        (5461..=10922).contains(&s)
    });
    let tag = tag.expect("a tag in 5461-10922");
    for i in 0..200 {
        let _: () = m.set(format!("{{{tag}}}:{i}"), i).expect("set");
    }
    let replica_id = c.id(4);
    let _: () = redis::cmd("CLUSTER").arg("FAILOVER").query(&mut c.conn(4)).expect("cluster failover");
    wait_until("replica became master", Duration::from_secs(10), || {
        let nodes: String = redis::cmd("CLUSTER").arg("NODES").query(&mut c.conn(1)).unwrap_or_default();
        nodes.lines().any(|l| l.starts_with(&replica_id) && l.contains(" master ")) && nodes.lines().any(|l| l.contains("myself,slave"))
    });
    let mut n4 = c.conn(4);
    for i in 0..200 {
        assert_eq!(n4.get::<_, Option<i64>>(format!("{{{tag}}}:{i}")).expect("get"), Some(i), "key {i} lost in manual failover");
    }
    let e = err_text(redis::cmd("CLUSTER").arg("FAILOVER").query::<()>(&mut c.conn(0)));
    assert_eq!(e, "ERR You should send CLUSTER FAILOVER to a replica");
}

#[test]
fn orphaned_master_gets_a_spare_replica() {
    let mut c = Cluster::new(7, 1000);
    c.form_3x();
    // Master 0 gets a second replica; master 1 then loses its only one.
    c.replicate(6, 0);
    c.wait_state(&[0, 1, 2, 3, 4, 5, 6], "ok", Duration::from_secs(10));
    let master1 = c.id(1);
    let spares = [c.id(3), c.id(6)];
    c.kill(4);
    wait_until("a replica of master 0 migrated to orphaned master 1", Duration::from_secs(20), || {
        let nodes: String = redis::cmd("CLUSTER").arg("NODES").query(&mut c.conn(1)).unwrap_or_default();
        nodes.lines().any(|l| spares.iter().any(|s| l.starts_with(s.as_str())) && l.contains(&format!("slave {master1}")))
    });
}

#[test]
fn garbage_on_the_bus_port_is_survived() {
    use std::io::Write;
    let c = Cluster::new(3, 1000);
    c.form_3x();
    let mut s = std::net::TcpStream::connect(("127.0.0.1", c.nodes[0].port + 10000)).expect("bus connect");
    s.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n").expect("write");
    let mut huge = b"SLTB".to_vec();
    huge.extend_from_slice(&u32::MAX.to_be_bytes());
    let mut s2 = std::net::TcpStream::connect(("127.0.0.1", c.nodes[0].port + 10000)).expect("bus connect");
    s2.write_all(&huge).expect("write");
    let pong: String = redis::cmd("PING").query(&mut c.conn(0)).expect("ping after garbage");
    assert_eq!(pong, "PONG");
    c.wait_state(&[0, 1, 2], "ok", Duration::from_secs(5));
}

#[test]
fn redis_cli_follows_redirects() {
    let Some(cli) = support::tool("redis-cli") else {
        eprintln!("skipping: redis-cli not installed");
        return;
    };
    let c = Cluster::new(3, 1000);
    c.form_3x();
    let port = c.nodes[0].port.to_string();
    let out = std::process::Command::new(&cli).args(["-c", "-p", &port, "set", "name", "booboo"]).output().expect("redis-cli");
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "OK");
    let out = std::process::Command::new(&cli).args(["-p", &port, "get", "name"]).output().expect("redis-cli");
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), format!("MOVED 5798 127.0.0.1:{}", c.nodes[1].port));
    let out = std::process::Command::new(&cli).args(["-c", "-p", &port, "get", "name"]).output().expect("redis-cli");
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "booboo");
    let out = std::process::Command::new(&cli).args(["--cluster", "check", &format!("127.0.0.1:{port}")]).output().expect("redis-cli");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("[OK] All nodes agree about slots configuration.") && text.contains("[OK] All 16384 slots covered."), "{text}");
}

#[test]
fn partitioned_master_stops_serving_and_its_replica_takes_over() {
    let c = Cluster::new(6, 1000);
    c.form_3x();
    let isolated = c.id(0);
    let replica_id = c.id(3);
    let others: Vec<String> = (1..6).map(|i| c.id(i)).collect();
    let fault = |i: usize, ids: &[String]| {
        let mut cmd = redis::cmd("SLOTD.FAULT");
        cmd.arg(TOKEN).arg("PARTITION").arg(ids);
        let _: String = cmd.query(&mut c.conn(i)).expect("fault");
    };
    fault(0, &others);
    for i in 1..6 {
        fault(i, std::slice::from_ref(&isolated));
    }
    // The minority side refuses service once it sees it lost the majority.
    c.wait_state(&[0], "fail", Duration::from_secs(10));
    let e = err_text(c.conn(0).set::<_, _, ()>("age", 1));
    assert_eq!(e, "CLUSTERDOWN The cluster is down");
    wait_until("replica promoted on the majority side", Duration::from_secs(10), || {
        let nodes: String = redis::cmd("CLUSTER").arg("NODES").query(&mut c.conn(1)).unwrap_or_default();
        nodes.lines().any(|l| l.starts_with(&replica_id) && l.contains(" master "))
    });
    c.wait_state(&[1, 2, 3, 4, 5], "ok", Duration::from_secs(10));
    // Without the token the command does not exist for ordinary clients.
    let e = err_text(redis::cmd("SLOTD.FAULT").arg("wrong").arg("HEAL").query::<String>(&mut c.conn(1)));
    assert_eq!(e, "NOPERM wrong admin token for SLOTD.FAULT");
    for i in 0..6 {
        let _: String = redis::cmd("SLOTD.FAULT").arg(TOKEN).arg("HEAL").query(&mut c.conn(i)).expect("heal");
    }
    wait_until("healed node rejoins as a replica", Duration::from_secs(10), || {
        let nodes: String = redis::cmd("CLUSTER").arg("NODES").query(&mut c.conn(0)).unwrap_or_default();
        nodes.lines().any(|l| l.starts_with(&isolated) && l.contains("myself,slave"))
    });
    c.wait_state(&[0, 1, 2, 3, 4, 5], "ok", Duration::from_secs(10));
}

#[test]
fn scripts_and_functions_run_on_a_cluster_and_survive_a_failover() {
    let mut c = Cluster::new(6, 1000);
    c.form_3x();
    let client = redis::cluster::ClusterClient::new(vec![format!("redis://127.0.0.1:{}/", c.nodes[1].port)]).expect("cluster client");
    let mut conn = client.get_connection().expect("cluster connection");
    // redis::Script sends EVALSHA to the key's node and falls back to EVAL on NOSCRIPT.
    let incr = redis::Script::new("return redis.call('incrby', KEYS[1], ARGV[1])");
    for i in 0..60 {
        let v: i64 = incr.key(format!("counter{i}")).arg(i).invoke(&mut conn).expect("script");
        assert_eq!(v, i);
    }
    // Declared keys must share a slot; undeclared ones must be served here.
    let mut n0 = c.conn(0);
    let e = err_text(redis::cmd("EVAL").arg("return 1").arg(2).arg("a").arg("b").query::<i64>(&mut n0));
    assert!(e.starts_with("CROSSSLOT"), "{e}");
    let local = (0..).map(|i| format!("k{i}")).find(|k| node_engine::slot::key_slot(k.as_bytes()) <= 5460).expect("a key of node 0");
    let remote = (0..).map(|i| format!("k{i}")).find(|k| node_engine::slot::key_slot(k.as_bytes()) > 10922).expect("a key of node 2");
    let e = err_text(redis::cmd("EVAL").arg("return redis.call('get', ARGV[1])").arg(1).arg(&local).arg(&remote).query::<String>(&mut n0));
    assert!(e.contains("Script attempted to access a non local key in a cluster node"), "{e}");
    let e = err_text(redis::cmd("EVAL").arg("#!lua flags=no-cluster\nreturn 1").arg(0).query::<i64>(&mut n0));
    assert!(e.contains("'no-cluster' flag is set"), "{e}");
    // A library loaded on every master reaches its replica and outlives a failover.
    let lib = "#!lua name=counters\nredis.register_function('bump', function(keys, args) return redis.call('incr', keys[1]) end)";
    for m in 0..3 {
        let name: String = redis::cmd("FUNCTION").arg("LOAD").arg(lib).query(&mut c.conn(m)).expect("function load");
        assert_eq!(name, "counters");
    }
    let v: i64 = redis::cmd("FCALL").arg("bump").arg(1).arg(&local).query(&mut conn).expect("fcall");
    assert_eq!(v, 1);
    let acked: i64 = redis::cmd("WAIT").arg(1).arg(5000).query(&mut c.conn(0)).expect("wait");
    assert_eq!(acked, 1, "the replica acknowledged the function's write");
    wait_until("the library on node 0's replica", Duration::from_secs(10), || {
        let list: Value = redis::cmd("FUNCTION").arg("LIST").query(&mut c.conn(3)).unwrap_or(Value::Nil);
        matches!(list, Value::Array(ref libs) if libs.len() == 1)
    });
    let replica_id = c.id(3);
    c.kill(0);
    c.wait_promoted(&replica_id, "0-5460");
    c.wait_state(&[1, 2, 3, 4, 5], "ok", Duration::from_secs(10));
    let mut promoted = c.conn(3);
    let v: i64 = redis::cmd("FCALL").arg("bump").arg(1).arg(&local).query(&mut promoted).expect("fcall after failover");
    assert_eq!(v, 2, "the write made through the function before the failover was replicated");
    // Its script cache starts empty: EVALSHA gets NOSCRIPT and the Script falls back to EVAL.
    let v: i64 = incr.key(&local).arg(5).invoke(&mut promoted).expect("script after failover");
    assert_eq!(v, 7);
}

/// A script that runs six node timeouts keeps its node in the cluster: the
/// busy hook answers the bus (as Redis's processEventsWhileBlocked does), so
/// no peer flags the node and its replica stays a replica; a connection
/// opened meanwhile is accepted and told BUSY.
#[test]
fn a_long_script_does_not_get_its_master_failed_over() {
    let c = Cluster::new(6, 500);
    c.form_3x();
    let id0 = c.id(0);
    let _: () = redis::cmd("CONFIG").arg("SET").arg("busy-reply-threshold").arg(100).query(&mut c.conn(0)).expect("config set");
    let mut caller = c.conn(0);
    let script = std::thread::spawn(move || {
        let body = "local function now() local t = redis.call('time') return t[1] * 1000 + t[2] / 1000 end \
                    local start = now() while now() - start < tonumber(ARGV[1]) do end return 'done'";
        redis::cmd("EVAL").arg(body).arg(0).arg(3000).query::<String>(&mut caller)
    });
    let url = format!("redis://127.0.0.1:{}/", c.nodes[0].port);
    wait_until("a new connection told BUSY", Duration::from_secs(5), || {
        let Ok(mut fresh) = redis::Client::open(url.as_str()).expect("client").get_connection() else { return false };
        redis::cmd("PING").query::<String>(&mut fresh).is_err_and(|e| e.code() == Some("BUSY"))
    });
    let mut watched = 0;
    while !script.is_finished() {
        for i in 1..6 {
            let nodes: String = redis::cmd("CLUSTER").arg("NODES").query(&mut c.conn(i)).expect("cluster nodes");
            let line = nodes.lines().find(|l| l.starts_with(&id0)).expect("node 0 known").to_string();
            assert!(!line.contains("fail"), "node {i} flagged the busy node: {line}\n{}", c.views());
        }
        watched += 1;
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(script.join().expect("script thread").expect("script"), "done");
    assert!(watched >= 10, "the script ran while the cluster was watched ({watched} rounds)");
    let nodes: String = redis::cmd("CLUSTER").arg("NODES").query(&mut c.conn(1)).expect("cluster nodes");
    assert!(nodes.lines().any(|l| l.starts_with(&id0) && l.contains("master") && l.contains(" 0-5460")), "{nodes}");
    assert!(nodes.lines().any(|l| l.contains(&format!("slave {id0}"))), "node 0 kept its replica: {nodes}");
    c.wait_state(&[0, 1, 2, 3, 4, 5], "ok", Duration::from_secs(5));
}

/// A worker pool on a consumer group outlives its master: after a kill,
/// the promoted replica has every acknowledged entry acknowledged, every
/// delivered-but-unacknowledged entry pending with its owner, and serves
/// the rest of the stream with no entry delivered twice.
#[test]
fn stream_worker_pool_survives_a_master_kill() {
    let mut c = Cluster::new(6, 1000);
    c.form_3x();
    let key = (0..).map(|i| format!("jobs{i}")).find(|k| node_engine::slot::key_slot(k.as_bytes()) <= 5460).expect("a key of node 0");
    let mut m = c.conn(0);
    for i in 0..100 {
        let _: String = redis::cmd("XADD").arg(&key).arg("*").arg("job").arg(i).query(&mut m).expect("xadd");
    }
    let _: () = redis::cmd("XGROUP").arg("CREATE").arg(&key).arg("pool").arg("0").query(&mut m).expect("xgroup");
    let read = |conn: &mut Connection, worker: &str, count: usize| -> Vec<String> {
        let v: Value = redis::cmd("XREADGROUP")
            .arg("GROUP")
            .arg("pool")
            .arg(worker)
            .arg("COUNT")
            .arg(count)
            .arg("STREAMS")
            .arg(&key)
            .arg(">")
            .query(conn)
            .expect("xreadgroup");
        let Value::Array(streams) = v else { return Vec::new() };
        let mut ids = Vec::new();
        for s in streams {
            let Value::Array(kv) = s else { continue };
            let Some(Value::Array(entries)) = kv.get(1) else { continue };
            for e in entries {
                if let Value::Array(parts) = e {
                    if let Some(Value::BulkString(id)) = parts.first() {
                        ids.push(String::from_utf8_lossy(id).into_owned());
                    }
                }
            }
        }
        ids
    };
    let (mut acked, mut pending) = (Vec::new(), Vec::new());
    for round in 0..6 {
        // w1 finishes its work; w2 takes work and dies before acknowledging it.
        let w1 = read(&mut m, "w1", 5);
        let n: i64 = redis::cmd("XACK").arg(&key).arg("pool").arg(&w1).query(&mut m).expect("xack");
        assert_eq!(n, 5, "round {round}");
        acked.extend(w1);
        pending.extend(read(&mut m, "w2", 5));
        let n: i64 = redis::cmd("WAIT").arg(1).arg(2000).query(&mut m).expect("wait");
        assert_eq!(n, 1, "the replica acknowledged round {round}");
    }
    let replica_id = c.id(3);
    c.kill(0);
    c.wait_promoted(&replica_id, "0-5460");
    let mut p = c.conn(3);
    let still: Vec<(String, String, i64, i64)> =
        redis::cmd("XPENDING").arg(&key).arg("pool").arg("-").arg("+").arg(1000).query(&mut p).expect("xpending");
    let still_ids: Vec<String> = still.iter().map(|e| e.0.clone()).collect();
    assert_eq!(still_ids, pending, "exactly w2's unacknowledged entries are pending");
    assert!(still.iter().all(|e| e.1 == "w2" && e.3 == 1), "owned by w2, delivered once: {still:?}");
    // The pool carries on: w3 claims w2's entries, new reads get only the rest.
    let claimed: (String, Vec<String>, Vec<String>) = redis::cmd("XAUTOCLAIM")
        .arg(&key)
        .arg("pool")
        .arg("w3")
        .arg(0)
        .arg("0")
        .arg("COUNT")
        .arg(100)
        .arg("JUSTID")
        .query(&mut p)
        .expect("xautoclaim");
    assert_eq!(claimed.1, pending);
    let rest = read(&mut p, "w3", 1000);
    assert_eq!(rest.len(), 100 - acked.len() - pending.len(), "no entry is delivered twice");
    assert!(rest.iter().all(|id| !acked.contains(id) && !pending.contains(id)));
}

/// A client blocked on a key whose slot moves to another node is answered
/// with the redirect (as Redis's cron does for blocked clients), not left
/// waiting on a node that no longer serves the key.
#[test]
fn a_blocked_reader_is_redirected_when_its_slot_moves_away() {
    use std::io::{Read, Write};
    let c = Cluster::new(3, 1000);
    c.form_3x();
    let key = (0..).map(|i| format!("q{i}")).find(|k| node_engine::slot::key_slot(k.as_bytes()) <= 5460).expect("a key of node 0");
    let slot = node_engine::slot::key_slot(key.as_bytes());
    let mut raw = std::net::TcpStream::connect(("127.0.0.1", c.nodes[0].port)).expect("connect");
    raw.set_read_timeout(Some(Duration::from_secs(10))).expect("timeout");
    let req = format!("*6\r\n$5\r\nXREAD\r\n$5\r\nBLOCK\r\n$1\r\n0\r\n$7\r\nSTREAMS\r\n${}\r\n{key}\r\n$1\r\n$\r\n", key.len());
    raw.write_all(req.as_bytes()).expect("send");
    wait_until("the reader blocks", Duration::from_secs(5), || {
        let info: String = redis::cmd("INFO").arg("clients").query(&mut c.conn(0)).unwrap_or_default();
        info.contains("blocked_clients:1")
    });
    let target = c.id(1);
    for i in [1, 0] {
        let _: () = redis::cmd("CLUSTER").arg("SETSLOT").arg(slot).arg("NODE").arg(&target).query(&mut c.conn(i)).expect("setslot");
    }
    let mut buf = [0u8; 256];
    let n = raw.read(&mut buf).expect("a reply before the timeout");
    let reply = String::from_utf8_lossy(&buf[..n]);
    assert_eq!(reply, format!("-MOVED {slot} 127.0.0.1:{}\r\n", c.nodes[1].port));
}

/// Resharding moves a stream with its consumer group: MIGRATE carries the
/// entries, the group's position and its pending entries to the new owner.
#[test]
fn migrate_moves_a_stream_with_its_groups() {
    let c = Cluster::new(3, 1000);
    c.form_3x();
    let key = (0..).map(|i| format!("ev{i}")).find(|k| node_engine::slot::key_slot(k.as_bytes()) <= 5460).expect("a key of node 0");
    let slot = node_engine::slot::key_slot(key.as_bytes());
    let mut src = c.conn(0);
    for i in 0..250 {
        let _: String = redis::cmd("XADD").arg(&key).arg("*").arg("n").arg(i).query(&mut src).expect("xadd");
    }
    let _: () = redis::cmd("XGROUP").arg("CREATE").arg(&key).arg("g").arg("0").query(&mut src).expect("xgroup");
    let _: Value = redis::cmd("XREADGROUP")
        .arg("GROUP")
        .arg("g")
        .arg("alice")
        .arg("COUNT")
        .arg(10)
        .arg("STREAMS")
        .arg(&key)
        .arg(">")
        .query(&mut src)
        .expect("read");
    let state = |conn: &mut Connection| -> (Value, Vec<(String, String, i64, i64)>) {
        let groups: Value = redis::cmd("XINFO").arg("GROUPS").arg(&key).query(conn).expect("xinfo");
        let mut pending: Vec<(String, String, i64, i64)> =
            redis::cmd("XPENDING").arg(&key).arg("g").arg("-").arg("+").arg(100).query(conn).expect("xpending");
        for p in &mut pending {
            p.2 = 0; // idle time differs by when it is asked
        }
        (groups, pending)
    };
    let before = state(&mut src);
    let (src_id, dst_id) = (c.id(0), c.id(1));
    let mut dst = c.conn(1);
    let _: () = redis::cmd("CLUSTER").arg("SETSLOT").arg(slot).arg("IMPORTING").arg(&src_id).query(&mut dst).expect("importing");
    let _: () = redis::cmd("CLUSTER").arg("SETSLOT").arg(slot).arg("MIGRATING").arg(&dst_id).query(&mut src).expect("migrating");
    let _: String =
        redis::cmd("MIGRATE").arg("127.0.0.1").arg(c.nodes[1].port).arg(&key).arg(0).arg(5000).query(&mut src).expect("migrate");
    for conn in [&mut dst, &mut src] {
        let _: () = redis::cmd("CLUSTER").arg("SETSLOT").arg(slot).arg("NODE").arg(&dst_id).query(conn).expect("setslot node");
    }
    assert_eq!(state(&mut dst), before, "the group and its pending entries moved with the stream");
    let len: i64 = redis::cmd("XLEN").arg(&key).query(&mut dst).expect("xlen");
    assert_eq!(len, 250);
}

/// A raw connection for pub/sub pushes: sends one command, reads until the
/// accumulated text contains `needle` (or the deadline passes).
struct PushConn(std::net::TcpStream, String);

impl PushConn {
    fn open(port: u16) -> PushConn {
        let s = std::net::TcpStream::connect(("127.0.0.1", port)).expect("connect");
        s.set_read_timeout(Some(Duration::from_millis(100))).expect("timeout");
        PushConn(s, String::new())
    }
    fn send(&mut self, args: &[&str]) {
        use std::io::Write;
        let mut req = format!("*{}\r\n", args.len());
        for a in args {
            req.push_str(&format!("${}\r\n{a}\r\n", a.len()));
        }
        self.0.write_all(req.as_bytes()).expect("send");
    }
    fn expect(&mut self, needle: &str) {
        use std::io::Read;
        let deadline = Instant::now() + Duration::from_secs(10);
        while !self.1.contains(needle) {
            assert!(Instant::now() < deadline, "waited for {needle:?}, got {:?}", self.1);
            let mut buf = [0u8; 4096];
            if let Ok(n) = self.0.read(&mut buf) {
                self.1.push_str(&String::from_utf8_lossy(&buf[..n]));
            }
        }
        let at = self.1.find(needle).unwrap_or(0) + needle.len();
        self.1.drain(..at);
    }
}

/// Sharded pub/sub in a cluster: channels route like keys, a message
/// reaches the shard's master and replica subscribers (not other shards),
/// and subscribers are told when their channel's slot moves away.
#[test]
fn sharded_pubsub_stays_in_its_shard_and_follows_the_slot() {
    let c = Cluster::new(6, 1000);
    c.form_3x();
    let ch = (0..).map(|i| format!("news{i}")).find(|k| node_engine::slot::key_slot(k.as_bytes()) <= 5460).expect("a channel of node 0");
    let other = (0..).map(|i| format!("news{i}")).find(|k| node_engine::slot::key_slot(k.as_bytes()) > 10922).expect("a channel of node 2");
    let slot = node_engine::slot::key_slot(ch.as_bytes());
    let mut on_master = PushConn::open(c.nodes[0].port);
    on_master.send(&["SSUBSCRIBE", &ch]);
    on_master.expect(&format!("$10\r\nssubscribe\r\n${}\r\n{ch}\r\n:1\r\n", ch.len()));
    let mut on_replica = PushConn::open(c.nodes[3].port);
    on_replica.send(&["READONLY"]);
    on_replica.expect("+OK\r\n");
    on_replica.send(&["SSUBSCRIBE", &ch]);
    on_replica.expect(":1\r\n");
    let mut elsewhere = PushConn::open(c.nodes[1].port);
    elsewhere.send(&["SSUBSCRIBE", &ch]);
    elsewhere.expect(&format!("-MOVED {slot} 127.0.0.1:{}\r\n", c.nodes[0].port));
    elsewhere.send(&["SSUBSCRIBE", &ch, &other]);
    elsewhere.expect("-CROSSSLOT Keys in request don't hash to the same slot\r\n");
    // Published on the master: its own subscriber counts, the replica's gets it over the bus.
    let n: i64 = redis::cmd("SPUBLISH").arg(&ch).arg("hello").query(&mut c.conn(0)).expect("spublish");
    assert_eq!(n, 1, "SPUBLISH counts this node's subscribers");
    let msg = format!("$8\r\nsmessage\r\n${}\r\n{ch}\r\n$5\r\nhello\r\n", ch.len());
    on_master.expect(&msg);
    on_replica.expect(&msg);
    let numsub: Vec<redis::Value> = redis::cmd("PUBSUB").arg("SHARDNUMSUB").arg(&ch).query(&mut c.conn(0)).expect("shardnumsub");
    assert_eq!(numsub.get(1), Some(&Value::Int(1)));
    // The slot moves to node 1: node 0's subscriber is unsubscribed with a push.
    let target = c.id(1);
    for i in [1, 0, 2] {
        let _: () = redis::cmd("CLUSTER").arg("SETSLOT").arg(slot).arg("NODE").arg(&target).query(&mut c.conn(i)).expect("setslot");
    }
    on_master.expect(&format!("$12\r\nsunsubscribe\r\n${}\r\n{ch}\r\n:0\r\n", ch.len()));
    let numsub: Vec<redis::Value> = redis::cmd("PUBSUB").arg("SHARDNUMSUB").arg(&ch).query(&mut c.conn(0)).expect("shardnumsub");
    assert_eq!(numsub.get(1), Some(&Value::Int(0)));
}

/// `cluster-announce-hostname` travels over the bus like Redis 7.0's ping
/// extension: every node shows every other's in CLUSTER NODES
/// (`ip:port@cport,hostname`), CLUSTER SLOTS and SHARDS; with
/// `cluster-preferred-endpoint-type hostname` MOVED names the host, and the
/// hostname survives a restart through nodes.conf.
#[test]
fn announced_hostnames_reach_every_node_and_redirects() {
    let mut c = Cluster::new(3, 1000);
    // Redis's rules: a name that could break nodes.conf is refused.
    let e = err_text(redis::cmd("CONFIG").arg("SET").arg("cluster-announce-hostname").arg("a b").query::<()>(&mut c.conn(0)));
    assert_eq!(e, "ERR CONFIG SET failed (possibly related to argument 'cluster-announce-hostname') - Hostnames may only contain alphanumeric characters, hyphens or dots");
    let e = err_text(redis::cmd("CONFIG").arg("SET").arg("cluster-preferred-endpoint-type").arg("dns").query::<()>(&mut c.conn(0)));
    assert!(e.ends_with("argument(s) must be one of the following: ip, hostname, unknown-endpoint"), "{e}");
    for i in 0..3 {
        let _: () = redis::cmd("CONFIG")
            .arg("SET")
            .arg("cluster-announce-hostname")
            .arg(format!("host{i}.lab"))
            .query(&mut c.conn(i))
            .expect("set");
    }
    c.form_3x();
    wait_until("every node knows every hostname", Duration::from_secs(10), || {
        (0..3).all(|i| {
            let nodes: String = redis::cmd("CLUSTER").arg("NODES").query(&mut c.conn(i)).unwrap_or_default();
            (0..3).all(|j| nodes.contains(&format!("127.0.0.1:{}@{},host{j}.lab ", c.nodes[j].port, c.nodes[j].port + 10000)))
        })
    });
    // CLUSTER SLOTS: the IP first, the hostname in the metadata map.
    let slots: Vec<Vec<Value>> = redis::cmd("CLUSTER").arg("SLOTS").query(&mut c.conn(0)).expect("slots");
    let first = &slots[0][2];
    let Value::Array(parts) = first else { panic!("node entry {first:?}") };
    assert_eq!(parts[0], Value::BulkString(b"127.0.0.1".to_vec()));
    assert_eq!(parts[3], Value::Array(vec![Value::BulkString(b"hostname".to_vec()), Value::BulkString(b"host0.lab".to_vec())]));
    // Preferred endpoint "hostname": MOVED and SLOTS name the host, the IP goes to the map.
    let _: () = redis::cmd("CONFIG").arg("SET").arg("cluster-preferred-endpoint-type").arg("hostname").query(&mut c.conn(0)).expect("set");
    let e = err_text(c.conn(0).set::<_, _, ()>("name", "x"));
    assert_eq!(e, format!("MOVED 5798 host1.lab:{}", c.nodes[1].port));
    let slots: Vec<Vec<Value>> = redis::cmd("CLUSTER").arg("SLOTS").query(&mut c.conn(0)).expect("slots");
    let Value::Array(parts) = &slots[0][2] else { panic!("node entry") };
    assert_eq!(parts[0], Value::BulkString(b"host0.lab".to_vec()));
    assert_eq!(parts[3], Value::Array(vec![Value::BulkString(b"ip".to_vec()), Value::BulkString(b"127.0.0.1".to_vec())]));
    // A restart keeps what it knew in nodes.conf (once it was written), and
    // its own hostname comes from its config.
    let conf = c.nodes[2].dir.join("nodes.conf");
    wait_until("node 2 saved the hostnames it learned", Duration::from_secs(5), || {
        std::fs::read_to_string(&conf).is_ok_and(|t| t.contains(",host1.lab "))
    });
    c.kill(2);
    c.restart(2);
    let nodes: String = redis::cmd("CLUSTER").arg("NODES").query(&mut c.conn(2)).expect("nodes");
    assert!(nodes.contains(",host1.lab "), "{nodes}");
}
