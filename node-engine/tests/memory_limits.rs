//! maxmemory and lazy freeing on the slot-node binary (its counting
//! allocator makes used_memory exact): eviction by policy with `evicted`
//! events, OOM for deny-oom commands and scripts, background frees counted
//! in INFO, and the LRU/LFU data OBJECT and RESTORE expose.

mod support;
use support::{conn, info_field, reference_redis, run, slot_node, wait_until};

fn int(c: &mut redis::Connection, args: &[&str]) -> i64 {
    match run(c, args) {
        Ok(redis::Value::Int(n)) => n,
        other => panic!("{args:?}: {other:?}"),
    }
}

fn used(c: &mut redis::Connection) -> u64 {
    info_field(c, "used_memory").parse().expect("used_memory")
}

#[test]
fn eviction_keeps_used_memory_under_the_limit_and_announces_it() {
    let dir = tempfile::tempdir().expect("tmp");
    let node = slot_node(dir.path(), &["--save", "", "--enable-debug-command", "yes"]);
    let mut c = conn(node.port);
    run(&mut c, &["DEBUG", "POPULATE", "50000"]).expect("populate");
    let before = used(&mut c);
    let limit = before - (before - 200_000) / 2;
    run(&mut c, &["CONFIG", "SET", "maxmemory-policy", "allkeys-lru"]).expect("policy");
    run(&mut c, &["CONFIG", "SET", "maxmemory", &limit.to_string()]).expect("maxmemory");
    assert!(used(&mut c) <= limit, "used_memory {} over maxmemory {limit}", used(&mut c));
    let evicted: i64 = info_field(&mut c, "evicted_keys").parse().expect("evicted_keys");
    let left = int(&mut c, &["DBSIZE"]);
    assert!(evicted > 1000 && left > 1000 && left + evicted == 50000, "evicted {evicted}, left {left}");

    // volatile-ttl only takes keys with a TTL, soonest first.
    run(&mut c, &["CONFIG", "SET", "maxmemory", "0"]).expect("no limit");
    run(&mut c, &["FLUSHALL"]).expect("flush");
    run(&mut c, &["DEBUG", "POPULATE", "20000"]).expect("populate");
    for i in 0..2000 {
        run(&mut c, &["EXPIRE", &format!("key:{i}"), &(1000 + i).to_string()]).expect("expire");
    }
    let full = used(&mut c);
    run(&mut c, &["CONFIG", "SET", "maxmemory-policy", "volatile-ttl"]).expect("policy");
    run(&mut c, &["CONFIG", "SET", "maxmemory", &(full - 20_000).to_string()]).expect("maxmemory");
    let gone = |c: &mut redis::Connection, r: std::ops::Range<usize>| r.filter(|i| int(c, &["EXISTS", &format!("key:{i}")]) == 0).count();
    assert_eq!(gone(&mut c, 2000..20000), 0, "volatile-ttl only evicts keys with a TTL");
    let (soon, late) = (gone(&mut c, 0..1000), gone(&mut c, 1000..2000));
    // Sampled like Redis: not strictly in order, but the sooner-expiring half goes first.
    assert!(soon > 0 && soon > late, "evicted {soon} of the sooner half and {late} of the later one");

    // An evicted key is announced (as Redis's own test does it).
    let client = redis::Client::open(format!("redis://127.0.0.1:{}/", node.port)).expect("client");
    let mut sub = client.get_connection().expect("sub");
    sub.set_read_timeout(Some(std::time::Duration::from_secs(10))).expect("timeout");
    let mut ps = sub.as_pubsub();
    ps.psubscribe("__keyevent@*__:evicted").expect("psubscribe");
    run(&mut c, &["CONFIG", "SET", "maxmemory", "0"]).expect("no limit");
    run(&mut c, &["CONFIG", "SET", "maxmemory-policy", "allkeys-lru"]).expect("policy");
    run(&mut c, &["FLUSHALL"]).expect("flush");
    run(&mut c, &["CONFIG", "SET", "notify-keyspace-events", "Ee"]).expect("events");
    run(&mut c, &["SET", "foo", "bar"]).expect("set");
    run(&mut c, &["CONFIG", "SET", "maxmemory", "1"]).expect("maxmemory");
    let key: String = ps.get_message().expect("an evicted event").get_payload().expect("payload");
    assert_eq!(key, "foo");
}

#[test]
fn over_the_limit_without_eviction_writes_get_oom() {
    let dir = tempfile::tempdir().expect("tmp");
    let node = slot_node(dir.path(), &["--save", "", "--enable-debug-command", "yes"]);
    let mut c = conn(node.port);
    run(&mut c, &["SET", "k", "v"]).expect("set");
    run(&mut c, &["CONFIG", "SET", "maxmemory", "1"]).expect("maxmemory");
    let oom = "OOM command not allowed when used memory > 'maxmemory'.";
    assert_eq!(run(&mut c, &["SET", "k2", "v"]).unwrap_err(), format!("OOM {}", &oom[4..]));
    assert!(run(&mut c, &["GET", "k"]).is_ok(), "reads still work");
    assert!(run(&mut c, &["DEL", "k"]).is_ok(), "DEL is not deny-oom");
    let e = run(&mut c, &["EVAL", "return redis.call('set','x','y')", "0"]).unwrap_err();
    assert!(e.starts_with("OOM command not allowed"), "script write: {e}");
    assert!(run(&mut c, &["EVAL", "return redis.call('get','x')", "0"]).is_ok(), "script read");
    let e = run(&mut c, &["EVAL", "#!lua\nreturn 1", "0"]).unwrap_err();
    assert!(e.starts_with("OOM"), "a flagged script that may write: {e}");
    assert!(run(&mut c, &["EVAL", "#!lua flags=allow-oom\nreturn redis.call('set','x','y')", "0"]).is_ok());
    run(&mut c, &["MULTI"]).expect("multi");
    assert!(run(&mut c, &["GET", "k"]).unwrap_err().starts_with("OOM"), "nothing is queued while out of memory");
    run(&mut c, &["DISCARD"]).expect("discard");
    run(&mut c, &["CONFIG", "SET", "maxmemory", "0"]).expect("no limit");
    assert!(run(&mut c, &["SET", "k2", "v"]).is_ok());
}

#[test]
fn unlink_and_flush_async_free_in_the_background() {
    let dir = tempfile::tempdir().expect("tmp");
    let node = slot_node(dir.path(), &["--save", "", "--enable-debug-command", "yes"]);
    let mut c = conn(node.port);
    let base = used(&mut c);
    let members: Vec<String> = (0..100_000).map(|i| format!("m{i}")).collect();
    let mut sadd = redis::cmd("SADD");
    sadd.arg("big").arg(&members);
    let _: i64 = sadd.query(&mut c).expect("sadd");
    let peak = used(&mut c);
    let size = int(&mut c, &["MEMORY", "USAGE", "big"]) as u64;
    assert!(size > 1_000_000 && peak > base + size, "a 100k set uses memory: {size} B, {base} -> {peak}");
    // The 1 MB request's query buffer and argument table are not kept.
    assert!(peak < base + size + 256 * 1024, "the request's buffers stayed: {size} B set, {base} -> {peak}");
    assert_eq!(int(&mut c, &["UNLINK", "big"]), 1);
    wait_until("the set to be freed", 10, || used(&mut c) < peak - size / 2);
    wait_until("the free to be counted", 10, || info_field(&mut c, "lazyfreed_objects") == "1");
    run(&mut c, &["DEBUG", "POPULATE", "10000"]).expect("populate");
    run(&mut c, &["FLUSHALL", "ASYNC"]).expect("flushall async");
    assert_eq!(int(&mut c, &["DBSIZE"]), 0);
    wait_until("the flushed keys to be counted", 10, || info_field(&mut c, "lazyfreed_objects") == "10001");
    assert_eq!(info_field(&mut c, "lazyfree_pending_objects"), "0");
}

#[test]
fn access_data_follows_the_policy() {
    let dir = tempfile::tempdir().expect("tmp");
    let node = slot_node(dir.path(), &["--save", "", "--enable-debug-command", "yes"]);
    let mut c = conn(node.port);
    run(&mut c, &["SET", "k", "v"]).expect("set");
    let dump: Vec<u8> = redis::cmd("DUMP").arg("k").query(&mut c).expect("dump");
    redis::cmd("RESTORE").arg("r").arg(0).arg(dump.clone()).arg("IDLETIME").arg(1000).query::<()>(&mut c).expect("restore");
    let idle = int(&mut c, &["OBJECT", "IDLETIME", "r"]);
    assert!((1000..=1002).contains(&idle), "idle time {idle}");
    assert_eq!(int(&mut c, &["OBJECT", "IDLETIME", "r"]), idle, "OBJECT does not count as an access");
    assert!(run(&mut c, &["OBJECT", "FREQ", "r"]).unwrap_err().contains("An LFU maxmemory policy is not selected"));
    run(&mut c, &["CONFIG", "SET", "maxmemory-policy", "allkeys-lfu"]).expect("lfu");
    // No decay, so a minute boundary between two commands cannot change the counts.
    run(&mut c, &["CONFIG", "SET", "lfu-decay-time", "0"]).expect("decay");
    redis::cmd("RESTORE").arg("f").arg(0).arg(dump).arg("FREQ").arg(100).query::<()>(&mut c).expect("restore");
    assert_eq!(int(&mut c, &["OBJECT", "FREQ", "f"]), 100);
    run(&mut c, &["SET", "n", "v"]).expect("set");
    assert_eq!(int(&mut c, &["OBJECT", "FREQ", "n"]), 5, "a new key starts at LFU_INIT_VAL");
    assert!(run(&mut c, &["OBJECT", "IDLETIME", "n"]).unwrap_err().contains("An LFU maxmemory policy is selected"));
}

/// A keyspace table that is full doubles (4,096 keys to 8,192 slots: some
/// 200 KB); with `maxmemory` just above the data it grows only by what fits,
/// so adding a key does not make the next write evict (Redis refuses such a
/// rehash for the same reason), and it doubles again once there is room.
#[test]
fn a_full_table_grows_only_as_far_as_the_limit_allows() {
    let dir = tempfile::tempdir().expect("tmp");
    let node = slot_node(dir.path(), &["--save", "", "--enable-debug-command", "yes"]);
    let mut c = conn(node.port);
    // No per-command latency histogram appears with the first SET.
    run(&mut c, &["CONFIG", "SET", "latency-tracking", "no"]).expect("latency-tracking");
    run(&mut c, &["CONFIG", "SET", "maxmemory-policy", "allkeys-random"]).expect("policy");
    run(&mut c, &["DEBUG", "POPULATE", "4096", "", "1"]).expect("populate");
    // The first INFO grows this client's reply buffer: measure after it.
    used(&mut c);
    let limit = used(&mut c) + 10 * 1024;
    run(&mut c, &["CONFIG", "SET", "maxmemory", &limit.to_string()]).expect("maxmemory");
    run(&mut c, &["SET", "k1", "v1"]).expect("set");
    run(&mut c, &["SET", "k2", "v2"]).expect("set");
    assert_eq!(int(&mut c, &["DBSIZE"]), 4098, "nothing evicted");
    // INFO counts the reply it is building: Redis's tests allow 4 KB for that.
    assert!(used(&mut c) <= limit + 4096, "used_memory {} over maxmemory {limit}", used(&mut c));
    // Without a limit the table grows as usual again.
    run(&mut c, &["CONFIG", "SET", "maxmemory", "0"]).expect("no limit");
    run(&mut c, &["DEBUG", "POPULATE", "20000", "more", "1"]).expect("populate");
    assert_eq!(int(&mut c, &["DBSIZE"]), 24098);
}

/// Evicting a key sends its invalidation to every tracking client; those
/// messages go out to the clients' sockets and must not make the next
/// command evict again (Redis's "eviction feedback loop" test): ten
/// tracking clients, 300 keys of 1 KB names, a limit 40 KB under use.
#[test]
fn invalidations_to_tracking_clients_do_not_feed_eviction() {
    use std::io::{Read, Write};
    let dir = tempfile::tempdir().expect("tmp");
    let node = slot_node(dir.path(), &["--save", ""]);
    let mut c = conn(node.port);
    for (k, v) in [("latency-tracking", "no"), ("maxmemory-policy", "allkeys-lru"), ("maxmemory-eviction-tenacity", "100")] {
        run(&mut c, &["CONFIG", "SET", k, v]).expect("config");
    }
    let read_until = |s: &mut std::net::TcpStream, end: &[u8]| {
        let mut got = Vec::new();
        let mut buf = [0u8; 4096];
        while !got.ends_with(end) {
            let n = s.read(&mut buf).expect("read");
            assert!(n > 0, "connection closed");
            got.extend_from_slice(&buf[..n]);
        }
    };
    let mut trackers: Vec<std::net::TcpStream> = (0..10)
        .map(|_| {
            let mut s = std::net::TcpStream::connect(("127.0.0.1", node.port)).expect("connect");
            s.set_read_timeout(Some(std::time::Duration::from_secs(10))).expect("timeout");
            s.write_all(b"HELLO 3\r\n").expect("hello");
            read_until(&mut s, b"modules\r\n*0\r\n");
            s.write_all(b"CLIENT TRACKING on\r\n").expect("tracking");
            read_until(&mut s, b"+OK\r\n");
            s
        })
        .collect();
    for j in 0..300 {
        let key = format!("{j}{}", "x".repeat(1000));
        run(&mut c, &["SET", &key, "x"]).expect("set");
        for s in &mut trackers {
            s.write_all(format!("*2\r\n$3\r\nGET\r\n${}\r\n{key}\r\n", key.len()).as_bytes()).expect("get");
            read_until(s, b"$1\r\nx\r\n");
        }
    }
    let limit = used(&mut c) - 40_000;
    run(&mut c, &["CONFIG", "SET", "maxmemory", &limit.to_string()]).expect("maxmemory");
    // The very next commands, before the trackers read anything.
    let left = int(&mut c, &["DBSIZE"]);
    let evicted: i64 = info_field(&mut c, "evicted_keys").parse().expect("evicted_keys");
    assert!((200..=300).contains(&left), "{left} keys left after evicting {evicted}: the database was drained");
    assert!((10..=60).contains(&evicted), "{evicted} keys evicted for 40 KB");
}

/// A replica under `maxmemory` with `replica-ignore-maxmemory yes` (the
/// default) never evicts: its master's DELs keep it in step, and evicting
/// on its own would make it diverge.
#[test]
fn a_replica_ignores_its_maxmemory_by_default() {
    let dir = tempfile::tempdir().expect("tmp");
    for d in ["m", "r"] {
        std::fs::create_dir_all(dir.path().join(d)).expect("dir");
    }
    let master = slot_node(&dir.path().join("m"), &["--save", "", "--enable-debug-command", "yes", "--repl-diskless-sync-delay", "0"]);
    let replica = slot_node(&dir.path().join("r"), &["--save", "", "--maxmemory", "1", "--maxmemory-policy", "allkeys-random"]);
    let mut r = conn(replica.port);
    run(&mut r, &["REPLICAOF", "127.0.0.1", &master.port.to_string()]).expect("replicaof");
    let mut m = conn(master.port);
    run(&mut m, &["DEBUG", "POPULATE", "1000"]).expect("populate");
    wait_until("the replica to have every key", 20, || int(&mut r, &["DBSIZE"]) == 1000);
    for i in 0..100 {
        run(&mut r, &["GET", &format!("key:{i}")]).expect("get");
    }
    assert_eq!(int(&mut r, &["DBSIZE"]), 1000);
    assert_eq!(info_field(&mut r, "evicted_keys"), "0");
    // Told not to ignore it, the replica evicts like a master.
    run(&mut r, &["CONFIG", "SET", "replica-ignore-maxmemory", "no"]).expect("config");
    run(&mut r, &["GET", "key:1"]).expect("get");
    assert!(int(&mut r, &["DBSIZE"]) < 1000);
}

/// MEMORY STATS breaks the memory down in Redis's field names (every name
/// is one redis-server also reports), and its parts add up.
#[test]
fn memory_stats_breaks_down_used_memory() {
    let dir = tempfile::tempdir().expect("tmp");
    let node = slot_node(dir.path(), &["--save", "", "--enable-debug-command", "yes"]);
    let mut c = conn(node.port);
    run(&mut c, &["DEBUG", "POPULATE", "5000"]).expect("populate");
    run(&mut c, &["EXPIRE", "key:1", "100"]).expect("expire");
    let stats: Vec<redis::Value> = match run(&mut c, &["MEMORY", "STATS"]) {
        Ok(redis::Value::Array(v)) => v,
        other => panic!("{other:?}"),
    };
    let mut ints = std::collections::HashMap::new();
    let mut names = Vec::new();
    for pair in stats.chunks(2) {
        let name = match &pair[0] {
            redis::Value::BulkString(b) => String::from_utf8_lossy(b).into_owned(),
            other => panic!("{other:?}"),
        };
        if let redis::Value::Int(n) = pair[1] {
            ints.insert(name.clone(), n);
        }
        names.push(name);
    }
    assert!(names.contains(&"db.0".to_string()), "{names:?}");
    assert_eq!(ints["keys.count"], 5000);
    assert_eq!(ints["overhead.total"] + ints["dataset.bytes"], ints["total.allocated"], "{ints:?}");
    assert!(ints["startup.allocated"] > 0 && ints["startup.allocated"] < ints["total.allocated"]);
    assert!(ints["peak.allocated"] >= ints["total.allocated"]);
    assert!(ints["dataset.bytes"] > 5000 * 10, "the values and keys: {ints:?}");
    let Some((_rdir, redis)) = reference_redis() else { return };
    let mut theirs = conn(redis.port);
    run(&mut theirs, &["SET", "k", "v"]).expect("set");
    let their_names: Vec<String> = match run(&mut theirs, &["MEMORY", "STATS"]) {
        Ok(redis::Value::Array(v)) => v
            .chunks(2)
            .filter_map(|p| match &p[0] {
                redis::Value::BulkString(b) => Some(String::from_utf8_lossy(b).into_owned()),
                _ => None,
            })
            .collect(),
        other => panic!("{other:?}"),
    };
    for n in &names {
        assert!(their_names.contains(n), "{n} is not a field redis-server reports: {their_names:?}");
    }
}
