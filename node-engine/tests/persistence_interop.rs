//! Interop with Redis 7.0 (skipped when redis-server is not installed, unless
//! SLOTD_REQUIRE_REDIS=1) and crash tests with the slot-node binary killed by SIGKILL.
#![allow(clippy::unwrap_used)]

mod support;

use redis::Connection;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use support::*;

/// Fills a redis-server with every type in the encodings Redis 7.0 picks.
fn populate_redis(c: &mut Connection) -> Vec<String> {
    let mut p = redis::pipe();
    p.cmd("SET").arg("str").arg("hello").ignore();
    p.cmd("SET").arg("int").arg(12345).ignore();
    p.cmd("SET").arg("bigint").arg("9223372036854775807").ignore();
    p.cmd("SET").arg("long").arg("abc".repeat(400)).ignore();
    p.cmd("SET").arg("ttl").arg("v").arg("PX").arg(50_000_000).ignore();
    p.cmd("RPUSH").arg("list").arg(&["a", "b", "1", "-300", "70000", ""]).ignore();
    for i in 0..2000 {
        p.cmd("RPUSH").arg("biglist").arg(format!("element-{i}-{}", "x".repeat(i % 70))).ignore();
    }
    p.cmd("SADD").arg("intset").arg(&["1", "2", "-5", "100000", "5000000000"]).ignore();
    p.cmd("SADD").arg("set").arg(&["a", "b", "c"]).ignore();
    for i in 0..700 {
        p.cmd("SADD").arg("bigset").arg(i).ignore();
    }
    p.cmd("HSET").arg("hash").arg(&["f1", "v1", "f2", "2"]).ignore();
    for i in 0..600 {
        p.cmd("HSET").arg("bighash").arg(format!("f{i}")).arg(format!("v{i}")).ignore();
    }
    p.cmd("HSET").arg("widehash").arg("f").arg("v".repeat(100)).ignore();
    p.cmd("ZADD").arg("zset").arg(&["1", "a", "2.5", "b", "-inf", "c", "inf", "d", "0.1", "e"]).ignore();
    for i in 0..300 {
        p.cmd("ZADD").arg("bigzset").arg(i as f64 / 7.0).arg(format!("m{i}")).ignore();
    }
    let () = p.query(c).expect("populate");
    ["str", "int", "bigint", "long", "ttl", "list", "biglist", "intset", "set", "bigset", "hash", "bighash", "widehash", "zset", "bigzset"]
        .iter()
        .map(|s| s.to_string())
        .collect()
}

fn digest(c: &mut Connection, key: &str) -> String {
    redis::cmd("DEBUG").arg("DIGEST-VALUE").arg(key).query::<Vec<String>>(c).expect("DIGEST-VALUE").concat()
}

fn tool_ok(tool: &str, arg: &std::path::Path, needle: &str) {
    let out = std::process::Command::new(tool).arg(arg).output().expect(tool);
    let text = String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success() && text.contains(needle), "{tool} rejected {}: {text}", arg.display());
}

#[test]
fn interop_with_redis_server_both_ways() {
    if !have_redis() {
        eprintln!("redis-server not installed: skipped");
        return;
    }
    let rdir = tempfile::tempdir().unwrap();
    let a = redis_server(rdir.path(), &[]);
    let mut ca = conn(a.port);
    let keys = populate_redis(&mut ca);

    // Redis DUMP -> our RESTORE.
    let ours = tempfile::tempdir().unwrap();
    let h = start(ours.path(), &["--save", "", "--appendonly", "yes"]);
    let mut co = conn(h.port());
    for k in &keys {
        let p: Vec<u8> = redis::cmd("DUMP").arg(k).query(&mut ca).unwrap();
        let pttl: i64 = redis::cmd("PTTL").arg(k).query(&mut ca).unwrap();
        let () = redis::cmd("RESTORE").arg(k).arg(pttl.max(0)).arg(p).query(&mut co).unwrap_or_else(|e| panic!("RESTORE {k}: {e}"));
    }
    let () = redis::cmd("SAVE").query(&mut co).unwrap();
    let _: String = redis::cmd("BGREWRITEAOF").query(&mut co).unwrap();
    wait_until("rewrite", 20, || info_field(&mut co, "aof_rewrite_in_progress") == "0");
    // Something in the incr file too.
    let () = redis::cmd("SET").arg("incr-only").arg("yes").query(&mut co).unwrap();
    let () = redis::cmd("SET").arg("ttl-incr").arg("v").arg("EX").arg(5000).query(&mut co).unwrap();
    let () = redis::cmd("SET").arg("incr-only").arg("yes").query(&mut ca).unwrap();
    let () = redis::cmd("SET").arg("ttl-incr").arg("v").arg("EX").arg(5000).query(&mut ca).unwrap();
    // Our DUMP -> Redis RESTORE: same content.
    for k in &keys {
        let p: Vec<u8> = redis::cmd("DUMP").arg(k).query(&mut co).unwrap();
        let back = format!("{k}:back");
        let pttl: i64 = redis::cmd("PTTL").arg(k).query(&mut co).unwrap();
        let () = redis::cmd("RESTORE")
            .arg(&back)
            .arg(pttl.max(0))
            .arg(p)
            .query(&mut ca)
            .unwrap_or_else(|e| panic!("redis RESTORE of our {k}: {e}"));
        assert_eq!(digest(&mut ca, k), digest(&mut ca, &back), "DUMP of {k}");
        let _: i64 = redis::cmd("DEL").arg(&back).query(&mut ca).unwrap();
    }
    drop(co);
    h.kill();
    h.join();

    // Our files pass Redis's checkers and load into redis-server with the same content.
    tool_ok("redis-check-rdb", &ours.path().join("dump.rdb"), "RDB looks OK");
    tool_ok("redis-check-aof", &ours.path().join("appendonlydir/appendonly.aof.manifest"), "valid");
    let mut all = keys.clone();
    all.push("incr-only".into());
    all.push("ttl-incr".into());
    for (label, extra, check) in [("rdb", "no", &keys), ("aof", "yes", &all)] {
        let copy = tempfile::tempdir().unwrap();
        std::fs::copy(ours.path().join("dump.rdb"), copy.path().join("dump.rdb")).unwrap();
        let aofdir = copy.path().join("appendonlydir");
        std::fs::create_dir(&aofdir).unwrap();
        for e in std::fs::read_dir(ours.path().join("appendonlydir")).unwrap().flatten() {
            std::fs::copy(e.path(), aofdir.join(e.file_name())).unwrap();
        }
        let b = redis_server(copy.path(), &["--appendonly", extra]);
        let mut cb = conn(b.port);
        for k in check.iter() {
            assert_eq!(digest(&mut ca, k), digest(&mut cb, k), "{label}: key {k}");
        }
        let pttl: i64 = redis::cmd("PTTL").arg("ttl").query(&mut cb).unwrap();
        assert!(pttl > 40_000_000, "{label}: ttl lost ({pttl})");
    }

    // Redis's dump.rdb -> our node.
    let () = redis::cmd("SAVE").query(&mut ca).unwrap();
    let mine = tempfile::tempdir().unwrap();
    std::fs::copy(rdir.path().join("dump.rdb"), mine.path().join("dump.rdb")).unwrap();
    let h = start(mine.path(), &["--save", ""]);
    let mut co = conn(h.port());
    for k in &all {
        let p: Vec<u8> = redis::cmd("DUMP").arg(k).query(&mut co).unwrap();
        let back = format!("{k}:back2");
        let pttl: i64 = redis::cmd("PTTL").arg(k).query(&mut co).unwrap();
        let () = redis::cmd("RESTORE").arg(&back).arg(pttl.max(0)).arg(p).query(&mut ca).unwrap();
        assert_eq!(digest(&mut ca, k), digest(&mut ca, &back), "redis dump.rdb key {k}");
    }
    let pttl: i64 = redis::cmd("PTTL").arg("ttl").query(&mut co).unwrap();
    assert!(pttl > 40_000_000);
    stop(h);
}

/// Writes keys `prefix:N` as fast as acknowledgements come back, until `stop`.
fn writer(port: u16, prefix: &'static str, stop: Arc<AtomicBool>, acked: Arc<AtomicU64>) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        let Ok(mut c) = redis::Client::open(format!("redis://127.0.0.1:{port}/")).and_then(|c| c.get_connection()) else {
            return;
        };
        let mut i = 0u64;
        while !stop.load(Ordering::Relaxed) {
            if redis::cmd("SET").arg(format!("{prefix}:{i}")).arg(i).query::<()>(&mut c).is_err() {
                return;
            }
            acked.store(i + 1, Ordering::SeqCst);
            i += 1;
        }
    })
}

fn crash_keeps_acked_writes(fsync: &str) {
    let dir = tempfile::tempdir().unwrap();
    let args = ["--save", "", "--appendonly", "yes", "--appendfsync", fsync];
    let mut node = slot_node(dir.path(), &args);
    let stop = Arc::new(AtomicBool::new(false));
    let acked = Arc::new(AtomicU64::new(0));
    let w = writer(node.port, "k", stop.clone(), acked.clone());
    wait_until("some writes", 20, || acked.load(Ordering::SeqCst) >= 500);
    node.sigkill(); // mid-stream
    let n = acked.load(Ordering::SeqCst);
    stop.store(true, Ordering::Relaxed);
    let _ = w.join();
    let node = slot_node(dir.path(), &args);
    let mut c = conn(node.port);
    for i in 0..n {
        let v: Option<u64> = redis::cmd("GET").arg(format!("k:{i}")).query(&mut c).unwrap();
        assert_eq!(v, Some(i), "appendfsync {fsync}: acknowledged write k:{i} of {n} lost");
    }
}

#[test]
fn crash_appendfsync_always_keeps_every_acknowledged_write() {
    crash_keeps_acked_writes("always");
}

#[test]
fn crash_appendfsync_everysec_keeps_acknowledged_writes() {
    // A process crash (not an OS crash) loses nothing written: replies follow the write().
    crash_keeps_acked_writes("everysec");
}

#[test]
fn crash_rdb_only_loses_writes_after_last_save() {
    let dir = tempfile::tempdir().unwrap();
    let args = ["--save", ""];
    let mut node = slot_node(dir.path(), &args);
    let mut c = conn(node.port);
    for i in 0..1000 {
        let () = redis::cmd("SET").arg(format!("before:{i}")).arg(i).query(&mut c).unwrap();
    }
    let () = redis::cmd("SAVE").query(&mut c).unwrap();
    for i in 0..1000 {
        let () = redis::cmd("SET").arg(format!("after:{i}")).arg(i).query(&mut c).unwrap();
    }
    node.sigkill();
    let node = slot_node(dir.path(), &args);
    let mut c = conn(node.port);
    let n: i64 = redis::cmd("DBSIZE").query(&mut c).unwrap();
    assert_eq!(n, 1000, "exactly the writes before the last save are back");
    let v: Option<i64> = redis::cmd("GET").arg("before:999").query(&mut c).unwrap();
    assert_eq!(v, Some(999));
    let v: Option<i64> = redis::cmd("GET").arg("after:0").query(&mut c).unwrap();
    assert_eq!(v, None);
}

#[test]
fn sigterm_saves_with_save_points() {
    let dir = tempfile::tempdir().unwrap();
    let args = ["--save", "3600 1"];
    let node = slot_node(dir.path(), &args);
    let mut c = conn(node.port);
    let () = redis::cmd("SET").arg("k").arg("v").query(&mut c).unwrap();
    // SAFETY: signalling our own child process.
    unsafe { libc_kill(node.child.id() as i32, 15) };
    let mut node = node;
    let _ = node.child.wait();
    let node = slot_node(dir.path(), &args);
    let mut c = conn(node.port);
    let v: Option<String> = redis::cmd("GET").arg("k").query(&mut c).unwrap();
    assert_eq!(v.as_deref(), Some("v"));
}

extern "C" {
    #[link_name = "kill"]
    fn libc_kill(pid: i32, sig: i32) -> i32;
}

/// Function libraries live in the RDB as Redis 7.0 writes them: ours load
/// into redis-server (and pass redis-check-rdb), Redis's load into ours, and
/// our AOF (base and FUNCTION LOAD commands) brings them back after a restart.
#[test]
fn function_libraries_in_rdb_and_aof_both_ways() {
    if !have_redis() {
        eprintln!("redis-server not installed: skipped");
        return;
    }
    let lib =
        |name: &str, f: &str, v: &str| format!("#!lua name={name}\nredis.register_function('{f}', function(keys, args) return '{v}' end)");
    let fcall = |c: &mut Connection, f: &str| redis::cmd("FCALL").arg(f).arg(0).query::<String>(c);
    let ours = tempfile::tempdir().unwrap();
    let h = start(ours.path(), &["--save", "", "--appendonly", "yes"]);
    let mut co = conn(h.port());
    let _: String = redis::cmd("FUNCTION").arg("LOAD").arg(lib("mylib", "hello", "from-ours")).query(&mut co).unwrap();
    let () = redis::cmd("SET").arg("k").arg("v").query(&mut co).unwrap();
    let () = redis::cmd("SAVE").query(&mut co).unwrap();
    let _: String = redis::cmd("BGREWRITEAOF").query(&mut co).unwrap();
    wait_until("rewrite", 20, || info_field(&mut co, "aof_rewrite_in_progress") == "0");
    // One library only in the AOF's incr file.
    let _: String = redis::cmd("FUNCTION").arg("LOAD").arg(lib("later", "later", "after-rewrite")).query(&mut co).unwrap();
    drop(co);
    stop(h);
    tool_ok("redis-check-rdb", &ours.path().join("dump.rdb"), "RDB looks OK");

    // Our RDB into redis-server.
    let rdir = tempfile::tempdir().unwrap();
    std::fs::copy(ours.path().join("dump.rdb"), rdir.path().join("dump.rdb")).unwrap();
    let r = redis_server(rdir.path(), &[]);
    let mut cr = conn(r.port);
    assert_eq!(fcall(&mut cr, "hello").unwrap(), "from-ours");
    // Redis's RDB (with a library of its own) into ours.
    let _: String = redis::cmd("FUNCTION").arg("LOAD").arg(lib("theirs", "hi", "from-redis")).query(&mut cr).unwrap();
    let () = redis::cmd("SAVE").query(&mut cr).unwrap();
    let mine = tempfile::tempdir().unwrap();
    std::fs::copy(rdir.path().join("dump.rdb"), mine.path().join("dump.rdb")).unwrap();
    let h2 = start(mine.path(), &["--save", ""]);
    let mut c2 = conn(h2.port());
    assert_eq!(fcall(&mut c2, "hello").unwrap(), "from-ours");
    assert_eq!(fcall(&mut c2, "hi").unwrap(), "from-redis");
    drop(c2);
    stop(h2);

    // Our own restart from the AOF: the base's library and the incr file's.
    let h3 = start(ours.path(), &["--save", "", "--appendonly", "yes"]);
    let mut c3 = conn(h3.port());
    assert_eq!(fcall(&mut c3, "hello").unwrap(), "from-ours");
    assert_eq!(fcall(&mut c3, "later").unwrap(), "after-rewrite");
    let v: String = redis::cmd("GET").arg("k").query(&mut c3).unwrap();
    assert_eq!(v, "v");
    drop(c3);
    stop(h3);
}
