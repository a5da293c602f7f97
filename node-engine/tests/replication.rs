//! Standalone replication, black box: full and partial resync, read-only
//! replicas, WAIT, expiry following the master, interop with redis-server.

mod support;

use node_engine::NodeHandle;
use redis::{Commands, Connection};
use support::{conn, fill, have_redis, redis_server, wait_until};

/// An in-process node without persistence; the tempdir lives as long as the node.
fn start(extra: &[&str]) -> (NodeHandle, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("tempdir");
    // One replica at a time here: no reason to wait for others to share a snapshot.
    let mut args = vec!["--save", "", "--repl-diskless-sync-delay", "0"];
    args.extend_from_slice(extra);
    (support::start(dir.path(), &args), dir)
}

/// A master and a replica attached to it, with a connection to each.
struct Pair {
    master: NodeHandle,
    replica: NodeHandle,
    mc: Connection,
    rc: Connection,
    _dirs: (tempfile::TempDir, tempfile::TempDir),
}

fn pair() -> Pair {
    let (master, md) = start(&[]);
    let (replica, rd) = start(&[]);
    let mc = conn(master.port());
    let mut rc = conn(replica.port());
    attach(&mut rc, master.port());
    Pair { master, replica, mc, rc, _dirs: (md, rd) }
}

fn info_field(c: &mut Connection, section: &str, field: &str) -> String {
    let text: String = redis::cmd("INFO").arg(section).query(c).expect("info");
    text.lines().find_map(|l| l.strip_prefix(&format!("{field}:"))).unwrap_or_default().trim().to_string()
}

fn attach(replica: &mut Connection, master_port: u16) {
    let _: () = redis::cmd("REPLICAOF").arg("127.0.0.1").arg(master_port).query(replica).expect("replicaof");
    wait_until("replica link up", 10, || info_field(replica, "replication", "master_link_status") == "up");
}

#[test]
fn full_sync_stream_readonly_and_wait() {
    let (m, _md) = start(&[]);
    let (r, _rd) = start(&[]);
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
fn min_replicas_to_write_refuses_writes_without_a_good_replica() {
    let (m, _md) = start(&["--min-replicas-to-write", "1", "--min-replicas-max-lag", "10"]);
    let mut mc = conn(m.port());
    let e = mc.set::<_, _, ()>("k", 1).expect_err("no replica yet");
    assert_eq!(e.code(), Some("NOREPLICAS"));
    let (r, _rd) = start(&[]);
    let mut rc = conn(r.port());
    attach(&mut rc, m.port());
    wait_until("write accepted once a replica acks", 10, || mc.set::<_, _, ()>("k", 1).is_ok());
}

#[test]
fn short_disconnect_resumes_with_partial_resync() {
    let Pair { master: _m, replica: _r, mut mc, mut rc, _dirs } = pair();
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
    continued_with_b(&mut mc, &mut rc);
}

/// The replica reconnected with a partial resync (no second full sync) and
/// got `b`, written on the master while the link was down.
fn continued_with_b(mc: &mut Connection, rc: &mut Connection) {
    wait_until("partial resync", 10, || info_field(mc, "stats", "sync_partial_ok") == "1");
    wait_until("write made while disconnected arrives", 10, || rc.get::<_, Option<i64>>("b").ok().flatten() == Some(2));
    assert_eq!(info_field(mc, "stats", "sync_full"), "1", "no second full sync");
}

#[test]
fn expiry_on_the_replica_follows_the_master() {
    let (m, _md) = start(&["--hz", "50"]);
    let (r, _rd) = start(&[]);
    let mut mc = conn(m.port());
    let mut rc = conn(r.port());
    attach(&mut rc, m.port());
    let _: () = redis::cmd("SET").arg("temp").arg("v").arg("PX").arg(200).query(&mut mc).expect("set px");
    let _: i64 = redis::cmd("WAIT").arg(1).arg(5000).query(&mut mc).expect("wait");
    let ttl: i64 = rc.pttl("temp").expect("pttl");
    assert!(ttl > 0 && ttl <= 200, "replica has the same deadline: {ttl}");
    // The master's active expiry deletes it and sends DEL; the replica's key count drops to 0.
    wait_until("replica key count drops after the master's DEL", 5, || redis::cmd("DBSIZE").query::<i64>(&mut rc).ok() == Some(0));
}

#[test]
fn replicates_both_ways_with_redis_server() {
    if !have_redis() {
        eprintln!("skipping: redis-server not installed");
        return;
    }
    let tmp = tempfile::tempdir().expect("tmp");
    let redis = redis_server(tmp.path(), &[]);
    let port = redis.port;
    let mut rs = conn(port);
    // redis-server replicates from our node.
    let (ours, _od) = start(&[]);
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
    let (replica, _rpd) = start(&[]);
    let mut rc = conn(replica.port());
    attach(&mut rc, port);
    assert_eq!(rc.hget::<_, _, String>("h", "field").expect("hget"), "value");
    let _: () = rs.set("live", "yes").expect("set");
    wait_until("stream from redis-server applied", 5, || rc.get::<_, Option<String>>("live").ok().flatten().as_deref() == Some("yes"));
}

/// The pre-PSYNC `SYNC` gets the RDB payload (`$<len>`) with no
/// `+FULLRESYNC` line first, from us as from redis-server (tools such as
/// Redis's test suite read the stream this way).
#[test]
fn legacy_sync_sends_the_payload_without_fullresync() {
    use std::io::{Read, Write};
    let (h, _dir) = start(&[]);
    let redis = have_redis().then(|| {
        let dir = tempfile::tempdir().expect("tempdir");
        let p = redis_server(dir.path(), &[]);
        (dir, p)
    });
    let mut ports = vec![("slot-node", h.port())];
    if let Some((_, p)) = &redis {
        ports.push(("redis-server", p.port));
    }
    for (who, port) in ports {
        let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).expect("connect");
        s.set_read_timeout(Some(std::time::Duration::from_secs(10))).expect("timeout");
        s.write_all(b"SYNC\r\n").expect("send");
        // Redis may send newlines as keep-alives while it prepares the payload.
        let mut first = [b'\n'];
        while first[0] == b'\n' {
            s.read_exact(&mut first).expect("read");
        }
        assert_eq!(first[0] as char, '$', "{who} starts its SYNC reply with the payload");
    }
}

#[test]
fn publish_reaches_subscribers_on_the_replica() {
    let Pair { master: _m, replica: r, mut mc, _dirs, .. } = pair();
    let client = redis::Client::open(format!("redis://127.0.0.1:{}/", r.port())).expect("client");
    let mut sub = client.get_connection().expect("sub");
    sub.set_read_timeout(Some(std::time::Duration::from_secs(10))).expect("timeout");
    let mut ps = sub.as_pubsub();
    ps.subscribe("news").expect("subscribe");
    // The master has no subscriber of its own: the message travels in the replication stream.
    let receivers: i64 = redis::cmd("PUBLISH").arg("news").arg("hello").query(&mut mc).expect("publish");
    assert_eq!(receivers, 0);
    let msg: String = ps.get_message().expect("message on the replica").get_payload().expect("payload");
    assert_eq!(msg, "hello");
}

/// What a stream looks like to a reader, without times that differ by
/// server (delivery and seen times, idle): entries, groups, pending IDs
/// with owners and delivery counts.
fn stream_state(c: &mut Connection, key: &str) -> String {
    let entries: redis::Value = redis::cmd("XRANGE").arg(key).arg("-").arg("+").query(c).expect("xrange");
    let groups: redis::Value = redis::cmd("XINFO").arg("GROUPS").arg(key).query(c).expect("xinfo groups");
    let mut out = format!("{entries:?}\n{groups:?}\n");
    let names: Vec<std::collections::HashMap<String, redis::Value>> = redis::cmd("XINFO").arg("GROUPS").arg(key).query(c).expect("groups");
    for g in names {
        let Some(redis::Value::BulkString(name)) = g.get("name") else { continue };
        let pending: Vec<(String, String, i64, i64)> =
            redis::cmd("XPENDING").arg(key).arg(name.as_slice()).arg("-").arg("+").arg(1000).query(c).expect("xpending");
        for (id, owner, _idle, count) in pending {
            out.push_str(&format!("{id} {owner} {count}\n"));
        }
    }
    out
}

/// Consumer-group work on a master (reads, claims, acks, approximate
/// trims) reaches a replica as Redis propagates it, both ways with
/// redis-server: the full sync carries streams as RDB and the command
/// stream keeps every group's PEL and delivery counts.
#[test]
fn streams_and_groups_replicate_both_ways_with_redis_server() {
    if !have_redis() {
        eprintln!("skipping: redis-server not installed");
        return;
    }
    let work = |m: &mut Connection, phase: &str| {
        for i in 0..300 {
            let _: String = redis::cmd("XADD")
                .arg("s")
                .arg("MAXLEN")
                .arg("~")
                .arg(250)
                .arg("*")
                .arg("n")
                .arg(i)
                .arg("phase")
                .arg(phase)
                .query(m)
                .expect("xadd");
        }
        let _: redis::Value = redis::cmd("XGROUP").arg("CREATE").arg("s").arg(phase).arg("0").query(m).expect("create");
        for w in ["a", "b"] {
            let _: redis::Value = redis::cmd("XREADGROUP")
                .arg("GROUP")
                .arg(phase)
                .arg(w)
                .arg("COUNT")
                .arg(7)
                .arg("STREAMS")
                .arg("s")
                .arg(">")
                .query(m)
                .expect("read");
        }
        let _: redis::Value = redis::cmd("XREADGROUP")
            .arg("GROUP")
            .arg(phase)
            .arg("n")
            .arg("NOACK")
            .arg("COUNT")
            .arg(3)
            .arg("STREAMS")
            .arg("s")
            .arg(">")
            .query(m)
            .expect("noack");
        let _: redis::Value =
            redis::cmd("XAUTOCLAIM").arg("s").arg(phase).arg("c").arg(0).arg("0").arg("COUNT").arg(4).query(m).expect("autoclaim");
        let first: Vec<(String, String, i64, i64)> =
            redis::cmd("XPENDING").arg("s").arg(phase).arg("-").arg("+").arg(2).query(m).expect("pending");
        let ids: Vec<&str> = first.iter().map(|p| p.0.as_str()).collect();
        let _: i64 = redis::cmd("XACK").arg("s").arg(phase).arg(&ids).query(m).expect("ack");
        let _: i64 = redis::cmd("XTRIM").arg("s").arg("MAXLEN").arg("~").arg(100).query(m).expect("trim");
    };
    let tmp = tempfile::tempdir().expect("tmp");
    let redis = redis_server(tmp.path(), &[]);
    let mut rs = conn(redis.port);
    // Ours as master, redis-server replicating: RDB first, then the stream.
    let (ours, _od) = start(&[]);
    let mut oc = conn(ours.port());
    work(&mut oc, "before");
    attach(&mut rs, ours.port());
    work(&mut oc, "after");
    let _: i64 = redis::cmd("WAIT").arg(1).arg(5000).query(&mut oc).expect("wait");
    wait_until("redis-server replica caught up", 5, || stream_state(&mut rs, "s") == stream_state(&mut oc, "s"));
    // redis-server as master, ours replicating.
    let _: () = redis::cmd("REPLICAOF").arg("NO").arg("ONE").query(&mut rs).expect("promote redis");
    let _: () = redis::cmd("DEL").arg("s").query(&mut rs).expect("del");
    work(&mut rs, "before");
    let (replica, _rd) = start(&[]);
    let mut rc = conn(replica.port());
    attach(&mut rc, redis.port);
    work(&mut rs, "after");
    wait_until("our replica caught up", 5, || stream_state(&mut rc, "s") == stream_state(&mut rs, "s"));
    let state = stream_state(&mut rc, "s");
    assert!(state.matches(" a ").count() + state.matches(" c ").count() > 0, "pending entries reached the replica:\n{state}");
}

/// An idle master still PINGs its replicas every `repl-ping-replica-period`
/// seconds through the stream: offsets advance alike on both sides and the
/// replica's master_last_io_seconds_ago stays within the period.
#[test]
fn idle_master_pings_its_replicas() {
    let mut p = pair();
    let _: () = redis::cmd("CONFIG").arg("SET").arg("repl-ping-replica-period").arg(1).query(&mut p.mc).expect("config set");
    let offset = |c: &mut Connection, f: &str| info_field(c, "replication", f).parse::<u64>().expect("offset");
    let start = offset(&mut p.mc, "master_repl_offset");
    // Two PINGs (14 bytes each) with no write at all.
    wait_until("the master's offset to move by two PINGs", 10, || offset(&mut p.mc, "master_repl_offset") >= start + 28);
    let target = offset(&mut p.mc, "master_repl_offset");
    wait_until("the replica to follow the PINGs", 10, || offset(&mut p.rc, "slave_repl_offset") >= target);
    let io: i64 = info_field(&mut p.rc, "replication", "master_last_io_seconds_ago").parse().expect("last io");
    assert!((0..=2).contains(&io), "master_last_io_seconds_ago {io}");
    let _ = (&p.master, &p.replica);
}

fn digest(c: &mut Connection) -> String {
    redis::cmd("DEBUG").arg("DIGEST").query(c).expect("debug digest")
}

/// FAILOVER hands the master role over without losing an acknowledged
/// write, both ways with redis-server: our master to a redis-server replica
/// (it answers our PSYNC FAILOVER), then redis-server back to our node.
#[test]
fn failover_hands_over_both_ways_with_redis_server_losing_no_write() {
    if !have_redis() {
        eprintln!("skipping: redis-server not installed");
        return;
    }
    let tmp = tempfile::tempdir().expect("tmp");
    let redis = redis_server(tmp.path(), &[]);
    let (ours, _od) = start(&["--enable-debug-command", "yes"]);
    let (other, _rd) = start(&["--enable-debug-command", "yes"]);
    let (mut oc, mut rs, mut xc) = (conn(ours.port()), conn(redis.port), conn(other.port()));
    attach(&mut rs, ours.port());
    attach(&mut xc, ours.port());
    let e = redis::cmd("FAILOVER").arg("TO").arg("127.0.0.1").arg(1).query::<()>(&mut oc).expect_err("not a replica");
    assert_eq!(e.detail(), Some("FAILOVER target HOST and PORT is not a replica."), "{e}");
    // A writer keeps writing; the handover pauses it, and once our node follows
    // redis-server its writes are refused (READONLY): every acknowledged one must survive.
    let port = ours.port();
    let writer = std::thread::spawn(move || {
        let mut c = conn(port);
        let mut acked = 0u64;
        while c.set::<_, _, ()>(format!("w{acked}"), acked).is_ok() && acked < 100_000 {
            acked += 1;
        }
        acked
    });
    wait_until("the writer to be going", 5, || oc.exists::<_, bool>("w100").unwrap_or(false));
    let _: () =
        redis::cmd("FAILOVER").arg("TO").arg("127.0.0.1").arg(redis.port).arg("TIMEOUT").arg(5000).query(&mut oc).expect("failover");
    wait_until("our master handed over", 10, || info_field(&mut oc, "replication", "master_failover_state") == "no-failover");
    let acked = writer.join().expect("writer");
    assert!(acked < 100_000, "the writer was refused after the handover");
    assert_eq!(info_field(&mut rs, "replication", "role"), "master");
    assert_eq!(info_field(&mut oc, "replication", "role"), "slave");
    for i in [0, acked / 2, acked - 1] {
        assert_eq!(rs.get::<_, Option<u64>>(format!("w{i}")).expect("get"), Some(i), "acknowledged write w{i} reached the new master");
    }
    // Our other replica moves over to redis-server with a partial resync.
    let full_before: u64 = info_field(&mut rs, "stats", "sync_full").parse().expect("sync_full");
    let _: () = redis::cmd("REPLICAOF").arg("127.0.0.1").arg(redis.port).query(&mut xc).expect("replicaof");
    wait_until("both follow redis-server", 10, || {
        info_field(&mut oc, "replication", "master_link_status") == "up" && info_field(&mut xc, "replication", "master_link_status") == "up"
    });
    assert_eq!(info_field(&mut rs, "stats", "sync_full").parse::<u64>().expect("sync_full"), full_before, "no full resync");
    let _: () = rs.set("written-on-redis", "1").expect("set");
    let _: i64 = redis::cmd("WAIT").arg(2).arg(5000).query(&mut rs).expect("wait");
    assert_eq!(digest(&mut oc), digest(&mut rs));
    assert_eq!(digest(&mut xc), digest(&mut rs));
    // And back: redis-server's FAILOVER makes our node the master again through our PSYNC FAILOVER handling.
    let _: () = redis::cmd("FAILOVER").arg("TO").arg("127.0.0.1").arg(ours.port()).query(&mut rs).expect("failover back");
    wait_until("redis-server handed over", 10, || info_field(&mut rs, "replication", "master_failover_state") == "no-failover");
    wait_until("our node is the master again", 10, || info_field(&mut oc, "replication", "role") == "master");
    wait_until("redis-server follows our node", 10, || info_field(&mut rs, "replication", "master_link_status") == "up");
    let _: () = oc.set("written-on-ours", "1").expect("our node takes writes again");
    let _: i64 = redis::cmd("WAIT").arg(1).arg(5000).query(&mut oc).expect("wait");
    assert_eq!(rs.get::<_, String>("written-on-redis").expect("get"), "1");
    assert_eq!(digest(&mut oc), digest(&mut rs));
}

#[test]
fn a_master_restarted_from_its_rdb_continues_with_partial_resyncs() {
    let md = tempfile::tempdir().expect("tempdir");
    let args = ["--save", "3600 1", "--repl-diskless-sync-delay", "0"];
    let master = support::start(md.path(), &args);
    let port = master.port().to_string();
    let (_replica, _rd) = start(&[]);
    let mut mc = conn(master.port());
    let mut rc = conn(_replica.port());
    attach(&mut rc, master.port());
    for i in 0..100 {
        let _: () = mc.set(format!("k{i}"), i).expect("set");
    }
    let offset = info_field(&mut mc, "replication", "master_repl_offset");
    wait_until("replica caught up", 10, || info_field(&mut rc, "replication", "master_repl_offset") == offset);
    let replid = info_field(&mut mc, "replication", "master_replid");
    drop(mc);
    // A graceful stop saves the RDB, which records the replication id and offset.
    support::stop(master);
    let mut again: Vec<&str> = args.to_vec();
    again.extend(["--port", port.as_str()]);
    let master = support::start(md.path(), &again);
    let mut mc = conn(master.port());
    assert_eq!(info_field(&mut mc, "replication", "master_replid2"), replid, "the old history is the previous one");
    assert_eq!(info_field(&mut mc, "replication", "master_repl_offset"), offset);
    assert_ne!(info_field(&mut mc, "replication", "master_replid"), replid);
    wait_until("replica continues", 15, || info_field(&mut mc, "stats", "sync_partial_ok") == "1");
    assert_eq!(info_field(&mut mc, "stats", "sync_full"), "0", "no full resync after the restart");
    let _: () = mc.set("after", "restart").expect("set");
    wait_until("write after the restart arrives", 10, || rc.get::<_, Option<String>>("after").ok().flatten().as_deref() == Some("restart"));
    assert_eq!(rc.get::<_, i64>("k99").expect("get"), 99);
}

/// A replica speaking the protocol by hand, so the test decides when it acknowledges.
struct HandReplica {
    stream: std::net::TcpStream,
}

impl HandReplica {
    fn attach(master_port: u16) -> HandReplica {
        use std::io::{BufRead, BufReader, Read, Write};
        let mut stream = std::net::TcpStream::connect(("127.0.0.1", master_port)).expect("connect");
        stream.set_read_timeout(Some(std::time::Duration::from_secs(10))).expect("timeout");
        stream.write_all(b"REPLCONF listening-port 1\r\nPSYNC ? -1\r\n").expect("psync");
        let mut r = BufReader::new(stream.try_clone().expect("clone"));
        let mut line = String::new();
        r.read_line(&mut line).expect("+OK");
        assert_eq!(line.trim(), "+OK");
        // Newlines may keep the link alive before the reply.
        let mut header = String::new();
        while header.trim().is_empty() {
            header.clear();
            r.read_line(&mut header).expect("fullresync");
        }
        assert!(header.starts_with("+FULLRESYNC"), "{header}");
        let mut bulk = String::new();
        while bulk.trim().is_empty() {
            bulk.clear();
            r.read_line(&mut bulk).expect("payload header");
        }
        let len: usize = bulk.trim().trim_start_matches('$').parse().expect("payload length");
        let mut payload = vec![0u8; len];
        r.read_exact(&mut payload).expect("payload");
        assert!(payload.starts_with(b"REDIS"));
        HandReplica { stream }
    }

    fn ack(&mut self, offset: &str) {
        use std::io::Write;
        let cmd = format!("*3\r\n$8\r\nREPLCONF\r\n$3\r\nACK\r\n${}\r\n{offset}\r\n", offset.len());
        self.stream.write_all(cmd.as_bytes()).expect("ack");
    }
}

#[test]
fn shutdown_waits_for_a_lagging_replica_and_abort_tells_the_waiting_callers() {
    let (master, _md) = start(&["--repl-diskless-sync-delay", "0", "--shutdown-timeout", "30"]);
    let mut mc = conn(master.port());
    let mut replica = HandReplica::attach(master.port());
    wait_until("replica online", 10, || info_field(&mut mc, "replication", "slave0").contains("state=online"));
    let _: () = mc.set("k", 1).expect("set");
    let offset = info_field(&mut mc, "replication", "master_repl_offset");

    // The replica has not acknowledged the write: SHUTDOWN waits, writes pause.
    let mut caller = conn(master.port());
    let waiting = std::thread::spawn(move || redis::cmd("SHUTDOWN").query::<()>(&mut caller));
    wait_until("shutdown waiting", 10, || info_field(&mut mc, "server", "shutdown_in_milliseconds").parse::<u64>().is_ok_and(|ms| ms > 0));
    assert_eq!(info_field(&mut mc, "clients", "blocked_clients"), "1");
    let _: () = redis::cmd("SHUTDOWN").arg("ABORT").query(&mut mc).expect("abort");
    let e = waiting.join().expect("thread").expect_err("the waiting SHUTDOWN fails");
    assert!(e.to_string().contains("Errors trying to SHUTDOWN. Check logs."), "{e}");
    assert_eq!(info_field(&mut mc, "server", "shutdown_in_milliseconds"), "", "no shutdown in progress");
    let _: () = mc.set("k", 2).expect("writes resume after the abort");

    // Once the replica acknowledges everything, a waiting SHUTDOWN completes.
    let mut caller = conn(master.port());
    let waiting = std::thread::spawn(move || redis::cmd("SHUTDOWN").query::<()>(&mut caller));
    wait_until("shutdown waiting again", 10, || {
        info_field(&mut mc, "server", "shutdown_in_milliseconds").parse::<u64>().is_ok_and(|ms| ms > 0)
    });
    let offset2 = info_field(&mut mc, "replication", "master_repl_offset");
    assert_ne!(offset, offset2);
    replica.ack(&offset2);
    assert_eq!(master.join(), 0, "the node exits once its replica is in sync");
    assert!(waiting.join().expect("thread").is_err(), "the connection closes without a reply");
}

#[test]
fn a_writable_replica_expires_its_own_keys_and_replaces_expired_ones_on_write() {
    let (m, _md) = start(&["--enable-debug-command", "yes"]);
    let (r, _rd) = start(&["--replica-read-only", "no", "--hz", "50"]);
    let mut mc = conn(m.port());
    let mut rc = conn(r.port());
    attach(&mut rc, m.port());
    let _: () = redis::cmd("DEBUG").arg("SET-ACTIVE-EXPIRE").arg(0).query(&mut mc).expect("active expire off");
    let _: () = redis::cmd("SET").arg("key1").arg(5).arg("PX").arg(10).query(&mut mc).expect("set px");
    // The master's key is hidden once expired, but only the master deletes it.
    wait_until("expired on the replica", 10, || {
        redis::cmd("DBSIZE").query::<i64>(&mut rc).ok() == Some(1) && rc.exists::<_, bool>("key1").ok() == Some(false)
    });
    // A client's write replaces it with a fresh key, without the old TTL.
    assert_eq!(rc.incr::<_, _, i64>("key1", 1).expect("incr"), 1);
    assert_eq!(rc.ttl::<_, i64>("key1").expect("ttl"), -1);
    // A TTL set on the replica itself is the replica's to enforce.
    let _: () = redis::cmd("SET").arg("own").arg(1).arg("PX").arg(50).query(&mut rc).expect("own key");
    wait_until("own key expired", 10, || redis::cmd("DBSIZE").query::<i64>(&mut rc).ok() == Some(1));
    // GETSET reaches the replica as SET, as Redis propagates it.
    let _: Option<String> = redis::cmd("GETSET").arg("g").arg("v").query(&mut mc).expect("getset");
    wait_until("getset replicated", 10, || rc.get::<_, Option<String>>("g").ok().flatten().as_deref() == Some("v"));
    let stats: String = redis::cmd("INFO").arg("commandstats").query(&mut rc).expect("commandstats");
    assert!(stats.contains("cmdstat_set:") && !stats.contains("cmdstat_getset:"), "{stats}");
}

#[test]
fn the_master_link_is_a_client_the_replica_can_kill_and_it_continues() {
    let Pair { master: _m, replica: _r, mut mc, mut rc, _dirs } = pair();
    let _: () = mc.set("a", 1).expect("set");
    let list: String = redis::cmd("CLIENT").arg("LIST").arg("TYPE").arg("master").query(&mut rc).expect("client list");
    assert_eq!(list.lines().count(), 1, "{list}");
    assert!(list.contains("flags=M"), "{list}");
    let killed: i64 = redis::cmd("CLIENT").arg("KILL").arg("TYPE").arg("master").query(&mut rc).expect("kill");
    assert_eq!(killed, 1);
    let _: () = mc.set("b", 2).expect("set while the link is down");
    continued_with_b(&mut mc, &mut rc);
}

#[test]
fn an_idle_backlog_is_freed_after_repl_backlog_ttl() {
    let (m, _md) = start(&[]);
    let (r, _rd) = start(&[]);
    let mut mc = conn(m.port());
    let mut rc = conn(r.port());
    attach(&mut rc, m.port());
    let _: () = redis::cmd("CONFIG").arg("SET").arg("repl-backlog-ttl").arg(1).query(&mut mc).expect("ttl");
    let _: () = redis::cmd("CONFIG").arg("SET").arg("repl-backlog-size").arg(1 << 21).query(&mut mc).expect("size");
    assert_eq!(info_field(&mut mc, "replication", "repl_backlog_size"), (1 << 21).to_string(), "applies at run time");
    let replid = info_field(&mut mc, "replication", "master_replid");
    drop(rc);
    support::stop(r);
    wait_until("backlog freed", 10, || info_field(&mut mc, "replication", "repl_backlog_active") == "0");
    assert_ne!(info_field(&mut mc, "replication", "master_replid"), replid, "a new history starts");
}

#[test]
fn disk_based_sync_sends_the_dump_file_and_a_snapshot_nobody_waits_for_is_stopped() {
    let (m, md) = start(&["--repl-diskless-sync", "no"]);
    let (_r, _rd) = start(&[]);
    let mut mc = conn(m.port());
    let mut rc = conn(_r.port());
    for i in 0..10 {
        let _: () = mc.set(format!("k{i}"), i).expect("set");
    }
    attach(&mut rc, m.port());
    assert_eq!(rc.get::<_, i64>("k9").expect("get"), 9);
    assert!(md.path().join("dump.rdb").exists(), "the snapshot is the dump file, as in Redis's disk-based sync");
    assert_eq!(info_field(&mut mc, "persistence", "rdb_saves"), "1");
    // A replica that leaves while its snapshot is written: the child is stopped.
    let _: () = redis::cmd("CONFIG").arg("SET").arg("rdb-key-save-delay").arg(1_000_000).query(&mut mc).expect("slow");
    let mut hand = std::net::TcpStream::connect(("127.0.0.1", m.port())).expect("connect");
    std::io::Write::write_all(&mut hand, b"REPLCONF listening-port 1\r\nPSYNC ? -1\r\n").expect("psync");
    wait_until("snapshot started", 10, || info_field(&mut mc, "persistence", "rdb_bgsave_in_progress") == "1");
    drop(hand);
    wait_until("snapshot stopped", 5, || info_field(&mut mc, "persistence", "rdb_bgsave_in_progress") == "0");
    assert_eq!(rc.get::<_, i64>("k9").expect("the first replica is unaffected"), 9);
}

#[test]
fn a_replica_that_stops_reading_does_not_make_the_master_evict() {
    // The binary: its counting allocator makes used_memory exact.
    let md = tempfile::tempdir().expect("tmp");
    let m = support::slot_node(
        md.path(),
        &[
            "--save",
            "",
            "--repl-diskless-sync-delay",
            "0",
            "--maxmemory-policy",
            "allkeys-random",
            "--client-output-buffer-limit",
            "replica 0 0 0",
        ],
    );
    let mut mc = conn(m.port);
    for i in 0..100 {
        let _: () = redis::cmd("SETRANGE").arg(format!("key:{i}")).arg(10_000).arg("x").query(&mut mc).expect("setrange");
    }
    // Attached, then never reads again: its stream piles up on the master.
    let _stuck = HandReplica::attach(m.port);
    wait_until("replica online", 10, || info_field(&mut mc, "replication", "slave0").contains("state=online"));
    let used: u64 = info_field(&mut mc, "memory", "used_memory").parse().expect("used");
    // Room for a few MB of bookkeeping around the stream, far less than the
    // 10 MB the replica is left owing: without the accounting, keys would go.
    let _: () = redis::cmd("CONFIG").arg("SET").arg("maxmemory").arg(used + 4_000_000).query(&mut mc).expect("maxmemory");
    let payload = "A".repeat(1000);
    let mut p = redis::pipe();
    for _ in 0..10_000 {
        p.cmd("SETRANGE").arg("key:0").arg(0).arg(&payload).ignore();
    }
    let _: () = p.query(&mut mc).expect("writes");
    // One INFO: the kernel keeps taking bytes of the stream between two.
    let memory: String = redis::cmd("INFO").arg("memory").query(&mut mc).expect("info");
    let field = |name: &str| -> u64 {
        memory.lines().find_map(|l| l.strip_prefix(&format!("{name}:"))).and_then(|v| v.trim().parse().ok()).expect(name)
    };
    let held = field("mem_not_counted_for_evict");
    assert!(held > 5_000_000, "the replica's waiting stream is left out of the dataset: {held}");
    let replicas = field("mem_clients_slaves");
    assert!(replicas >= held, "{replicas} < {held}");
    assert_eq!(redis::cmd("DBSIZE").query::<i64>(&mut mc).expect("dbsize"), 100, "nothing evicted for it");
}

#[test]
fn a_woken_blocked_pop_follows_the_push_that_woke_it_in_the_stream() {
    use std::io::{BufRead, BufReader, Read, Write};
    let (m, _md) = start(&[]);
    let mut mc = conn(m.port());
    let mut blocked = conn(m.port());
    // A SYNC reader: the payload, then the stream as it is written.
    let mut s = std::net::TcpStream::connect(("127.0.0.1", m.port())).expect("connect");
    s.write_all(b"SYNC\r\n").expect("sync");
    let mut r = BufReader::new(s.try_clone().expect("clone"));
    let mut line = String::new();
    while line.trim().is_empty() {
        line.clear();
        r.read_line(&mut line).expect("payload header");
    }
    let mut payload = vec![0u8; line.trim().trim_start_matches('$').parse().expect("length")];
    r.read_exact(&mut payload).expect("payload");
    let waiter = std::thread::spawn(move || {
        redis::cmd("BLMPOP").arg(0).arg(1).arg("l").arg("LEFT").arg("COUNT").arg(5).query::<redis::Value>(&mut blocked).expect("blmpop")
    });
    wait_until("client blocked", 10, || info_field(&mut mc, "clients", "blocked_clients") == "1");
    // The next command comes at once after the reply: the woken pop must already be in the stream.
    let _: i64 = redis::cmd("LPUSH").arg("l").arg("a").arg("b").arg("c").query(&mut mc).expect("lpush");
    let _: () = mc.set("after", 1).expect("set");
    waiter.join().expect("waiter");
    s.set_read_timeout(Some(std::time::Duration::from_secs(5))).expect("timeout");
    let mut stream = String::new();
    while !stream.contains("after") {
        let mut buf = [0u8; 4096];
        let n = r.read(&mut buf).expect("stream");
        assert!(n > 0, "stream ended: {stream:?}");
        stream.push_str(&String::from_utf8_lossy(&buf[..n]));
    }
    let (push, pop, set) = (stream.find("lpush"), stream.find("LPOP"), stream.find("after"));
    assert!(push < pop && pop < set, "LPUSH, then the woken LPOP, then SET: {stream:?}");
}

fn config_set(c: &mut Connection, name: &str, value: &str) {
    let _: () = redis::cmd("CONFIG").arg("SET").arg(name).arg(value).query(c).expect("config set");
}

#[test]
fn a_streamed_snapshot_ends_with_its_mark_and_the_stream_waits_for_the_first_ack() {
    use std::io::{BufRead, BufReader, Read, Write};
    let (m, _md) = start(&[]);
    let mut mc = conn(m.port());
    fill(&mut mc, "key:", 50, &"x".repeat(1000));
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", m.port())).expect("connect");
    stream.set_read_timeout(Some(std::time::Duration::from_secs(10))).expect("timeout");
    stream.write_all(b"REPLCONF listening-port 1\r\nREPLCONF capa eof capa psync2\r\nPSYNC ? -1\r\n").expect("psync");
    let mut r = BufReader::new(stream.try_clone().expect("clone"));
    let mut line = String::new();
    for _ in 0..2 {
        line.clear();
        r.read_line(&mut line).expect("+OK");
        assert_eq!(line.trim(), "+OK");
    }
    let mut next_line = || {
        let mut l = String::new();
        while l.trim().is_empty() {
            l.clear();
            r.read_line(&mut l).expect("line");
        }
        l.trim().to_string()
    };
    assert!(next_line().starts_with("+FULLRESYNC"));
    let header = next_line();
    let mark = header.strip_prefix("$EOF:").expect("a streamed payload is announced by its end mark").to_string();
    assert_eq!(mark.len(), 40, "{header}");
    let mut payload = Vec::new();
    let mut byte = [0u8; 1];
    while !payload.ends_with(mark.as_bytes()) {
        r.read_exact(&mut byte).expect("payload");
        payload.push(byte[0]);
    }
    assert!(payload.starts_with(b"REDIS0010"));
    assert!(payload.windows(6).any(|w| w == b"key:49"), "the snapshot holds the keys");
    // Until we acknowledge, nothing follows the mark (we could not tell it from the RDB).
    let _: () = mc.set("after", "1").expect("set");
    wait_until("master online for it", 10, || info_field(&mut mc, "replication", "slave0").contains("state=online"));
    stream.set_read_timeout(Some(std::time::Duration::from_millis(300))).expect("timeout");
    assert!(r.read_exact(&mut byte).is_err(), "the stream is held until the first ACK");
    stream.set_read_timeout(Some(std::time::Duration::from_secs(10))).expect("timeout");
    stream.write_all(b"*3\r\n$8\r\nREPLCONF\r\n$3\r\nACK\r\n$1\r\n0\r\n").expect("ack");
    let mut got = Vec::new();
    while !String::from_utf8_lossy(&got).contains("after") {
        r.read_exact(&mut byte).expect("the held stream after the ACK");
        got.push(byte[0]);
    }
}

#[test]
fn a_swapdb_replica_keeps_its_old_data_behind_loading_and_gets_it_back_if_the_transfer_fails() {
    // 5 ms per key: the transfer of 400 keys takes 2 s, long enough to watch.
    let (m, _md) = start(&["--rdb-key-save-delay", "5000"]);
    let (r, _rd) = start(&["--repl-diskless-load", "swapdb"]);
    let mut mc = conn(m.port());
    let mut rc = conn(r.port());
    fill(&mut mc, "master:", 400, &"x".repeat(1000));
    let _: () = rc.set("mine", "old").expect("set");
    let _: () = redis::cmd("REPLICAOF").arg("127.0.0.1").arg(m.port()).query(&mut rc).expect("replicaof");
    wait_until("replica loading", 10, || info_field(&mut rc, "persistence", "loading") == "1");
    assert_eq!(info_field(&mut rc, "persistence", "async_loading"), "0", "another history: not served meanwhile");
    let err = rc.get::<_, Option<String>>("mine").expect_err("LOADING while loading");
    assert_eq!(err.code(), Some("LOADING"), "{err}");
    // Cut the transfer; the next sync waits 5 s, so the old data can be seen.
    config_set(&mut mc, "repl-diskless-sync-delay", "5");
    let _: () = redis::cmd("CLIENT").arg("KILL").arg("TYPE").arg("replica").query(&mut mc).expect("kill");
    wait_until("loading stopped", 10, || info_field(&mut rc, "persistence", "loading") == "0");
    assert_eq!(rc.get::<_, Option<String>>("mine").expect("get"), Some("old".to_string()), "the old dataset is back");
    assert_eq!(redis::cmd("DBSIZE").query::<i64>(&mut rc).expect("dbsize"), 1);
    config_set(&mut mc, "rdb-key-save-delay", "0");
    config_set(&mut mc, "repl-diskless-sync-delay", "0");
    wait_until("sync done", 20, || info_field(&mut rc, "replication", "master_link_status") == "up");
    assert_eq!(rc.get::<_, Option<String>>("mine").expect("get"), None, "the new dataset replaced it");
    assert_eq!(redis::cmd("DBSIZE").query::<i64>(&mut rc).expect("dbsize"), 400);
}

#[test]
fn a_swapdb_replica_of_the_same_history_serves_during_its_full_sync() {
    let (m, _md) = start(&[]);
    let (r, _rd) = start(&["--repl-diskless-load", "swapdb", "--replica-read-only", "no"]);
    let mut mc = conn(m.port());
    let mut rc = conn(r.port());
    attach(&mut rc, m.port());
    fill(&mut mc, "master:", 400, &"x".repeat(1000));
    let _: () = rc.set("mine", "local").expect("set on the writable replica");
    // Force a full sync of the same history: the backlog no longer reaches the replica.
    config_set(&mut mc, "rdb-key-save-delay", "5000");
    let _: () = redis::pipe()
        .atomic()
        .cmd("CLIENT")
        .arg("KILL")
        .arg("TYPE")
        .arg("replica")
        .ignore()
        .cmd("CONFIG")
        .arg("SET")
        .arg("repl-backlog-size")
        .arg("16384")
        .ignore()
        .cmd("SET")
        .arg("big")
        .arg("A".repeat(100_000))
        .ignore()
        .query(&mut mc)
        .expect("multi");
    wait_until("async loading", 10, || info_field(&mut rc, "persistence", "async_loading") == "1");
    assert_eq!(info_field(&mut rc, "persistence", "loading"), "0");
    assert_eq!(rc.get::<_, Option<String>>("mine").expect("served meanwhile"), Some("local".to_string()));
    let err = redis::cmd("REPLICAOF").arg("NO").arg("ONE").query::<()>(&mut rc).expect_err("refused while async loading");
    assert_eq!(err.code(), Some("LOADING"), "{err}");
    config_set(&mut mc, "rdb-key-save-delay", "0");
    wait_until("swapped", 20, || {
        info_field(&mut rc, "persistence", "async_loading") == "0" && info_field(&mut rc, "replication", "master_link_status") == "up"
    });
    assert_eq!(rc.get::<_, Option<String>>("mine").expect("get"), None);
    assert_eq!(redis::cmd("DBSIZE").query::<i64>(&mut rc).expect("dbsize"), 401);
}

#[test]
fn a_disk_loaded_sync_leaves_the_masters_snapshot_as_the_replicas_dump_file() {
    let (m, _md) = start(&[]);
    let (r, rd) = start(&[]);
    let mut mc = conn(m.port());
    let mut rc = conn(r.port());
    fill(&mut mc, "from-master:", 10, &"x".repeat(1000));
    attach(&mut rc, m.port());
    let dump = std::fs::read(rd.path().join("dump.rdb")).expect("the replica's dump file");
    assert!(dump.starts_with(b"REDIS0010"));
    assert!(dump.windows(13).any(|w| w == b"from-master:9"));
    assert_eq!(redis::cmd("DBSIZE").query::<i64>(&mut rc).expect("dbsize"), 10);
    let leftovers: Vec<_> = std::fs::read_dir(rd.path())
        .expect("dir")
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("temp-"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

#[test]
fn the_backlog_kept_for_a_replica_waiting_for_its_snapshot_serves_a_partial_resync() {
    let (m, _md) = start(&["--repl-backlog-size", "16384"]);
    let (r, _rd) = start(&[]);
    let mut mc = conn(m.port());
    let mut rc = conn(r.port());
    attach(&mut rc, m.port());
    // A second replica waits for a snapshot that takes a second per key.
    fill(&mut mc, "k:", 5, &"x".repeat(1000));
    config_set(&mut mc, "rdb-key-save-delay", "1000000");
    let mut waiting = std::net::TcpStream::connect(("127.0.0.1", m.port())).expect("connect");
    std::io::Write::write_all(&mut waiting, b"REPLCONF listening-port 1\r\nPSYNC ? -1\r\n").expect("psync");
    wait_until("snapshot started", 10, || info_field(&mut mc, "persistence", "rdb_bgsave_in_progress") == "1");
    // The first replica goes away while far more than the backlog's size is written.
    let dead = support::free_port();
    let _: () = redis::cmd("REPLICAOF").arg("127.0.0.1").arg(dead).query(&mut rc).expect("replicaof elsewhere");
    for i in 0..20 {
        let _: () = mc.set(format!("big:{i}"), "B".repeat(10_000)).expect("set");
    }
    // Setting the size again does not drop what the waiting replica needs.
    config_set(&mut mc, "repl-backlog-size", "16384");
    let histlen: usize = info_field(&mut mc, "replication", "repl_backlog_histlen").parse().expect("histlen");
    assert!(histlen > 200_000, "the stream since the snapshot is kept for the waiting replica: {histlen}");
    attach(&mut rc, m.port());
    assert_eq!(info_field(&mut mc, "stats", "sync_partial_ok"), "1", "continued from the kept stream");
    wait_until("caught up", 10, || rc.get::<_, Option<String>>("big:19").ok().flatten().is_some_and(|v| v.len() == 10_000));
    // Once nobody waits, the backlog is back to its size.
    drop(waiting);
    wait_until("backlog trimmed", 10, || {
        info_field(&mut mc, "replication", "repl_backlog_histlen").parse::<usize>().is_ok_and(|n| n <= 16384)
    });
    config_set(&mut mc, "rdb-key-save-delay", "0");
}
