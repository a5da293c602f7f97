//! Round trips through our RDB and AOF (every type, expiries), BGSAVE and
//! INFO, RESTORE semantics, corrupt files refused, torn AOF tails, MISCONF.
#![allow(clippy::unwrap_used)]

mod support;

use redis::Connection;
use support::*;

/// One value of every type and encoding, as (key, DUMP payload): built with
/// commands on a scratch node and dumped over the wire, as a client would.
fn samples() -> Vec<(String, Vec<u8>)> {
    let dir = tempfile::tempdir().unwrap();
    let h = start(dir.path(), &["--save", ""]);
    let mut c = conn(h.port());
    let mut p = redis::pipe();
    p.cmd("SET").arg("str").arg("hello").ignore();
    p.cmd("SET").arg("int").arg("-123456").ignore();
    p.cmd("SET").arg("long").arg("xyz".repeat(300)).ignore();
    p.cmd("RPUSH").arg("list").arg(&["a", "1", "-70000", "", "zz"]).ignore();
    let items: Vec<String> = (0..3000).map(|i| format!("item-{i}")).collect();
    p.cmd("RPUSH").arg("biglist").arg(&items).ignore();
    p.cmd("SADD").arg("intset").arg(&["3", "-2", "70000", &(1i64 << 40).to_string()]).ignore();
    p.cmd("SADD").arg("set").arg(&["x", "y", "12"]).ignore();
    p.cmd("HSET").arg("hash").arg(&["f", "v", "n", "7"]).ignore();
    for i in 0..600 {
        p.cmd("HSET").arg("bighash").arg(format!("field:{i}")).arg(i.to_string()).ignore();
    }
    p.cmd("ZADD").arg("zset").arg(&["1.5", "a", "-3", "b", "inf", "c"]).ignore();
    for i in 0..300 {
        p.cmd("ZADD").arg("bigzset").arg(i as f64 * 0.1).arg(format!("m{i}")).ignore();
    }
    let () = p.query(&mut c).unwrap();
    let keys = ["str", "int", "long", "list", "biglist", "intset", "set", "hash", "bighash", "zset", "bigzset"];
    let out = keys
        .iter()
        .map(|k| {
            let payload: Vec<u8> = redis::cmd("DUMP").arg(*k).query(&mut c).unwrap();
            (k.to_string(), payload)
        })
        .collect();
    drop(c);
    stop(h);
    out
}

fn restore_all(c: &mut Connection, samples: &[(String, Vec<u8>)]) {
    for (k, p) in samples {
        let () = redis::cmd("RESTORE").arg(k).arg(0).arg(p.as_slice()).query(c).expect("RESTORE");
    }
    let () = redis::cmd("RESTORE").arg("withttl").arg(3_600_000).arg(samples[0].1.as_slice()).query(c).expect("RESTORE ttl");
}

fn check_all(c: &mut Connection, samples: &[(String, Vec<u8>)]) {
    for (k, p) in samples {
        let got: Option<Vec<u8>> = redis::cmd("DUMP").arg(k).query(c).expect("DUMP");
        assert!(got.as_deref() == Some(p.as_slice()), "key {k}: DUMP differs");
    }
    let pttl: i64 = redis::cmd("PTTL").arg("withttl").query(c).expect("PTTL");
    assert!(pttl > 3_500_000 && pttl <= 3_600_000, "pttl {pttl}");
}

#[test]
fn rdb_round_trip_every_type() {
    let dir = tempfile::tempdir().unwrap();
    let s = samples();
    let h = start(dir.path(), &["--save", ""]);
    let mut c = conn(h.port());
    restore_all(&mut c, &s);
    let () = redis::cmd("SET").arg("plain").arg("1").query(&mut c).unwrap();
    let () = redis::cmd("SAVE").query(&mut c).unwrap();
    assert_eq!(info_field(&mut c, "rdb_changes_since_last_save"), "0");
    let () = redis::cmd("SET").arg("unsaved").arg("1").query(&mut c).unwrap();
    drop(c);
    stop(h); // no save points: the last write is not saved
    let h = start(dir.path(), &["--save", ""]);
    let mut c = conn(h.port());
    check_all(&mut c, &s);
    let unsaved: Option<String> = redis::cmd("GET").arg("unsaved").query(&mut c).unwrap();
    assert_eq!(unsaved, None);
    stop(h);
}

#[test]
fn shutdown_saves_when_save_points_exist() {
    let dir = tempfile::tempdir().unwrap();
    let h = start(dir.path(), &["--save", "3600 1"]);
    let mut c = conn(h.port());
    for i in 0..100 {
        let () = redis::cmd("SET").arg(format!("k{i}")).arg(i).query(&mut c).unwrap();
    }
    drop(c);
    stop(h);
    assert!(dir.path().join("dump.rdb").exists());
    let h = start(dir.path(), &["--save", "3600 1"]);
    let mut c = conn(h.port());
    let n: i64 = redis::cmd("DBSIZE").query(&mut c).unwrap();
    assert_eq!(n, 100);
    stop(h);
}

#[test]
fn bgsave_and_save_points_update_info() {
    let dir = tempfile::tempdir().unwrap();
    let h = start(dir.path(), &["--save", "1 5", "--hz", "50"]);
    let mut c = conn(h.port());
    let before: i64 = redis::cmd("LASTSAVE").query(&mut c).unwrap();
    for i in 0..20_000 {
        let () = redis::cmd("SET").arg(format!("key:{i}")).arg("x".repeat(50)).query(&mut c).unwrap();
    }
    // The save point (1 second, 5 changes) fires on its own.
    wait_until("save point", 20, || {
        info_field(&mut c, "rdb_changes_since_last_save") == "0" && info_field(&mut c, "rdb_bgsave_in_progress") == "0"
    });
    assert_eq!(info_field(&mut c, "rdb_last_bgsave_status"), "ok");
    let after: i64 = redis::cmd("LASTSAVE").query(&mut c).unwrap();
    assert!(after >= before);
    let () = redis::cmd("SET").arg("one-more").arg("1").query(&mut c).unwrap();
    let r: String = redis::cmd("BGSAVE").query(&mut c).unwrap();
    assert!(r.contains("Background saving"), "{r}");
    wait_until("bgsave", 20, || info_field(&mut c, "rdb_bgsave_in_progress") == "0");
    assert_eq!(info_field(&mut c, "rdb_last_bgsave_status"), "ok");
    drop(c);
    h.kill();
    h.join();
    let h = start(dir.path(), &["--save", ""]);
    let mut c = conn(h.port());
    let n: i64 = redis::cmd("DBSIZE").query(&mut c).unwrap();
    assert_eq!(n, 20_001);
    stop(h);
}

#[test]
fn aof_round_trip_every_type_and_rewrite() {
    let dir = tempfile::tempdir().unwrap();
    let s = samples();
    let args = ["--save", "", "--appendonly", "yes"];
    let h = start(dir.path(), &args);
    let mut c = conn(h.port());
    restore_all(&mut c, &s);
    let () = redis::cmd("SET").arg("gone").arg("1").query(&mut c).unwrap();
    let _: i64 = redis::cmd("DEL").arg("gone").query(&mut c).unwrap();
    let () = redis::cmd("SET").arg("ex").arg("v").arg("EX").arg(1000).query(&mut c).unwrap();
    drop(c);
    h.kill(); // nothing written at stop: the AOF alone must carry everything
    h.join();
    let h = start(dir.path(), &args);
    let mut c = conn(h.port());
    check_all(&mut c, &s);
    let gone: Option<String> = redis::cmd("GET").arg("gone").query(&mut c).unwrap();
    assert_eq!(gone, None);
    let ttl: i64 = redis::cmd("TTL").arg("ex").query(&mut c).unwrap();
    assert!(ttl > 900);
    // Rewrite, then more writes into the new incr file.
    let r: String = redis::cmd("BGREWRITEAOF").query(&mut c).unwrap();
    assert!(r.contains("rewriting"), "{r}");
    let () = redis::cmd("SET").arg("during").arg("1").query(&mut c).unwrap();
    wait_until("rewrite", 20, || info_field(&mut c, "aof_rewrite_in_progress") == "0");
    assert_eq!(info_field(&mut c, "aof_last_bgrewrite_status"), "ok");
    let () = redis::cmd("SET").arg("after").arg("2").query(&mut c).unwrap();
    drop(c);
    h.kill();
    h.join();
    let manifest = std::fs::read_to_string(dir.path().join("appendonlydir/appendonly.aof.manifest")).unwrap();
    assert!(manifest.contains("appendonly.aof.2.base.rdb") && manifest.contains("type i"), "{manifest}");
    assert!(!dir.path().join("appendonlydir/appendonly.aof.1.base.rdb").exists());
    let h = start(dir.path(), &args);
    let mut c = conn(h.port());
    check_all(&mut c, &s);
    for k in ["during", "after"] {
        let v: Option<String> = redis::cmd("GET").arg(k).query(&mut c).unwrap();
        assert!(v.is_some(), "{k}");
    }
    stop(h);
}

#[test]
fn aof_rewrite_without_rdb_preamble_writes_commands_with_timestamps() {
    let dir = tempfile::tempdir().unwrap();
    let s = samples();
    let args = [
        "--save",
        "",
        "--appendonly",
        "yes",
        "--aof-use-rdb-preamble",
        "no",
        "--aof-timestamp-enabled",
        "yes",
        "--enable-debug-command",
        "yes",
    ];
    let h = start(dir.path(), &args);
    let mut c = conn(h.port());
    restore_all(&mut c, &s);
    // A stream with a group, a pending entry and an idle consumer, and a function.
    for i in 0..3 {
        let _: String = redis::cmd("XADD").arg("st").arg(format!("{}-1", i + 1)).arg("f").arg(i).query(&mut c).unwrap();
    }
    let () = redis::cmd("XGROUP").arg("CREATE").arg("st").arg("g").arg("0").query(&mut c).unwrap();
    let _: redis::Value = redis::cmd("XREADGROUP")
        .arg("GROUP")
        .arg("g")
        .arg("alice")
        .arg("COUNT")
        .arg(2)
        .arg("STREAMS")
        .arg("st")
        .arg(">")
        .query(&mut c)
        .unwrap();
    let _: i64 = redis::cmd("XGROUP").arg("CREATECONSUMER").arg("st").arg("g").arg("bob").query(&mut c).unwrap();
    let _: String = redis::cmd("FUNCTION")
        .arg("LOAD")
        .arg("#!lua name=lib\nredis.register_function('one', function() return 1 end)")
        .query(&mut c)
        .unwrap();
    let digest: String = redis::cmd("DEBUG").arg("DIGEST").query(&mut c).unwrap();
    let _: String = redis::cmd("BGREWRITEAOF").query(&mut c).unwrap();
    wait_until("rewrite", 20, || info_field(&mut c, "aof_rewrite_in_progress") == "0");
    assert_eq!(info_field(&mut c, "aof_last_bgrewrite_status"), "ok");
    let () = redis::cmd("SET").arg("after").arg("2").query(&mut c).unwrap();
    drop(c);
    h.kill();
    h.join();
    // Redis's naming and shape: a command base, annotated with its time.
    let aof_dir = dir.path().join("appendonlydir");
    let manifest = std::fs::read_to_string(aof_dir.join("appendonly.aof.manifest")).unwrap();
    assert!(manifest.contains("appendonly.aof.2.base.aof seq 2 type b"), "{manifest}");
    let base = std::fs::read(aof_dir.join("appendonly.aof.2.base.aof")).unwrap();
    assert!(base.starts_with(b"#TS:"), "{}", String::from_utf8_lossy(&base[..40.min(base.len())]));
    let incr = std::fs::read(aof_dir.join("appendonly.aof.2.incr.aof")).unwrap();
    assert!(incr.starts_with(b"#TS:"), "the incr file annotates its writes too");
    let h = start(dir.path(), &args);
    let mut c = conn(h.port());
    check_all(&mut c, &s);
    let after: String = redis::cmd("GET").arg("after").query(&mut c).unwrap();
    assert_eq!(after, "2");
    let () = redis::cmd("DEL").arg("after").query(&mut c).map(|_: i64| ()).unwrap();
    let reloaded: String = redis::cmd("DEBUG").arg("DIGEST").query(&mut c).unwrap();
    assert_eq!(reloaded, digest, "the commands rebuild the same dataset");
    let pending: Vec<redis::Value> = redis::cmd("XPENDING").arg("st").arg("g").query(&mut c).unwrap();
    assert_eq!(pending.first(), Some(&redis::Value::Int(2)), "the pending entries survive");
    let consumers: Vec<redis::Value> = redis::cmd("XINFO").arg("CONSUMERS").arg("st").arg("g").query(&mut c).unwrap();
    assert_eq!(consumers.len(), 2, "the idle consumer survives");
    let one: i64 = redis::cmd("FCALL").arg("one").arg(0).query(&mut c).unwrap();
    assert_eq!(one, 1);
    stop(h);
}

#[test]
fn flushall_stops_a_running_bgsave_and_saves_when_save_points_exist() {
    let dir = tempfile::tempdir().unwrap();
    let h = start(dir.path(), &["--save", ""]);
    let mut c = conn(h.port());
    let mut p = redis::pipe();
    for i in 0..2000 {
        p.cmd("SET").arg(format!("k{i}")).arg(i).ignore();
    }
    let () = p.query(&mut c).unwrap();
    // 1 ms a key: the snapshot would take 2 s.
    let () = redis::cmd("CONFIG").arg("SET").arg("rdb-key-save-delay").arg(1000).query(&mut c).unwrap();
    let _: String = redis::cmd("BGSAVE").query(&mut c).unwrap();
    assert_eq!(info_field(&mut c, "rdb_bgsave_in_progress"), "1");
    let () = redis::cmd("FLUSHALL").query(&mut c).unwrap();
    wait_until("the snapshot stopped", 1, || info_field(&mut c, "rdb_bgsave_in_progress") == "0");
    let changes: u64 = info_field(&mut c, "rdb_changes_since_last_save").parse().unwrap();
    assert!(changes > 1999, "the stopped snapshot saved nothing: {changes}");
    assert!(!dir.path().join("dump.rdb").exists());
    // With save points, FLUSHALL saves the empty dataset at once.
    let () = redis::cmd("CONFIG").arg("SET").arg("rdb-key-save-delay").arg(0).query(&mut c).unwrap();
    let () = redis::cmd("CONFIG").arg("SET").arg("save").arg("3600 1").query(&mut c).unwrap();
    let () = redis::cmd("SET").arg("k").arg("v").query(&mut c).unwrap();
    let () = redis::cmd("FLUSHALL").query(&mut c).unwrap();
    assert_eq!(info_field(&mut c, "rdb_changes_since_last_save"), "1");
    assert!(dir.path().join("dump.rdb").exists());
    drop(c);
    h.kill();
    h.join();
    let h = start(dir.path(), &["--save", ""]);
    let mut c = conn(h.port());
    let n: i64 = redis::cmd("DBSIZE").query(&mut c).unwrap();
    assert_eq!(n, 0, "the saved dataset is the flushed one");
    stop(h);
}

#[test]
fn a_pre_7_single_file_aof_is_upgraded_to_a_manifest() {
    let dir = tempfile::tempdir().unwrap();
    // What Redis 6 leaves in its data dir: one appendonly.aof of commands.
    std::fs::write(dir.path().join("appendonly.aof"), b"*2\r\n$6\r\nSELECT\r\n$1\r\n0\r\n*3\r\n$3\r\nSET\r\n$3\r\nold\r\n$5\r\nvalue\r\n")
        .unwrap();
    let args = ["--save", "", "--appendonly", "yes"];
    let h = start(dir.path(), &args);
    let mut c = conn(h.port());
    let v: String = redis::cmd("GET").arg("old").query(&mut c).unwrap();
    assert_eq!(v, "value");
    let () = redis::cmd("SET").arg("new").arg("1").query(&mut c).unwrap();
    drop(c);
    stop(h);
    let aof_dir = dir.path().join("appendonlydir");
    assert!(!dir.path().join("appendonly.aof").exists(), "moved into the AOF directory");
    assert!(aof_dir.join("appendonly.aof").exists());
    let manifest = std::fs::read_to_string(aof_dir.join("appendonly.aof.manifest")).unwrap();
    assert_eq!(manifest, "file appendonly.aof seq 1 type b\nfile appendonly.aof.1.incr.aof seq 1 type i\n");
    let h = start(dir.path(), &args);
    let mut c = conn(h.port());
    for k in ["old", "new"] {
        let v: Option<String> = redis::cmd("GET").arg(k).query(&mut c).unwrap();
        assert!(v.is_some(), "{k}");
    }
    stop(h);
}

#[test]
fn torn_aof_tail_dropped_or_refused() {
    let dir = tempfile::tempdir().unwrap();
    let h = start(dir.path(), &["--save", "", "--appendonly", "yes"]);
    let mut c = conn(h.port());
    let () = redis::cmd("SET").arg("a").arg("1").query(&mut c).unwrap();
    let () = redis::cmd("SET").arg("b").arg("2").query(&mut c).unwrap();
    drop(c);
    stop(h);
    let incr = dir.path().join("appendonlydir/appendonly.aof.1.incr.aof");
    let good_len = std::fs::metadata(&incr).unwrap().len();
    {
        use std::io::Write;
        let mut f = std::fs::OpenOptions::new().append(true).open(&incr).unwrap();
        f.write_all(b"*3\r\n$3\r\nSET\r\n$1\r\nc\r\n$5\r\nhal").unwrap();
    }
    let err = try_start(dir.path(), &["--save", "", "--appendonly", "yes", "--aof-load-truncated", "no"]).err().expect("must refuse");
    let msg = err.to_string();
    assert!(msg.contains("appendonly.aof.1.incr.aof") && msg.contains(&format!("offset {good_len}")), "{msg}");
    let h = start(dir.path(), &["--save", "", "--appendonly", "yes"]);
    let mut c = conn(h.port());
    let n: i64 = redis::cmd("DBSIZE").query(&mut c).unwrap();
    assert_eq!(n, 2);
    let () = redis::cmd("SET").arg("d").arg("4").query(&mut c).unwrap();
    drop(c);
    h.kill();
    h.join();
    // The torn tail was cut, so the file stays valid after new appends.
    let h = start(dir.path(), &["--save", "", "--appendonly", "yes", "--aof-load-truncated", "no"]);
    let mut c = conn(h.port());
    let n: i64 = redis::cmd("DBSIZE").query(&mut c).unwrap();
    assert_eq!(n, 3);
    stop(h);
}

#[test]
fn corrupt_rdb_refused_and_kept() {
    let dir = tempfile::tempdir().unwrap();
    let h = start(dir.path(), &["--save", ""]);
    let mut c = conn(h.port());
    for i in 0..50 {
        let () = redis::cmd("SET").arg(format!("k{i}")).arg("v".repeat(i)).query(&mut c).unwrap();
    }
    let () = redis::cmd("SAVE").query(&mut c).unwrap();
    drop(c);
    stop(h);
    let path = dir.path().join("dump.rdb");
    let good = std::fs::read(&path).unwrap();
    for (name, bad) in [
        ("flipped", {
            let mut b = good.clone();
            let m = b.len() / 2;
            b[m] ^= 0xff;
            b
        }),
        ("truncated", good[..good.len() / 2].to_vec()),
    ] {
        std::fs::write(&path, &bad).unwrap();
        let err = try_start(dir.path(), &["--save", "3600 1"]).err().unwrap_or_else(|| panic!("{name}: must refuse"));
        let msg = err.to_string();
        assert!(msg.contains("dump.rdb") && msg.contains("offset"), "{name}: {msg}");
        assert_eq!(std::fs::read(&path).unwrap(), bad, "{name}: file must be kept as is");
    }
}

#[test]
fn restore_semantics() {
    let dir = tempfile::tempdir().unwrap();
    let h = start(dir.path(), &["--save", ""]);
    let mut c = conn(h.port());
    let () = redis::cmd("SET").arg("k").arg("v").query(&mut c).unwrap();
    let p: Vec<u8> = redis::cmd("DUMP").arg("k").query(&mut c).unwrap();
    let e = redis::cmd("RESTORE").arg("k").arg(0).arg(p.as_slice()).query::<()>(&mut c).unwrap_err();
    assert!(e.to_string().contains("Target key name already exists"), "{e}");
    let () = redis::cmd("RESTORE").arg("k").arg(0).arg(p.as_slice()).arg("REPLACE").arg("IDLETIME").arg(10).query(&mut c).unwrap();
    let () = redis::cmd("RESTORE").arg("k2").arg(0).arg(p.as_slice()).arg("FREQ").arg(5).query(&mut c).unwrap();
    let mut bad = p.clone();
    bad[1] ^= 1;
    let e = redis::cmd("RESTORE").arg("k3").arg(0).arg(bad.as_slice()).query::<()>(&mut c).unwrap_err();
    assert!(e.to_string().contains("DUMP payload version or checksum are wrong"), "{e}");
    let e = redis::cmd("RESTORE").arg("k3").arg(-1).arg(p.as_slice()).query::<()>(&mut c).unwrap_err();
    assert!(e.to_string().contains("Invalid TTL value"), "{e}");
    // ABSTTL in the past: OK, and the key ends up absent.
    let () = redis::cmd("RESTORE").arg("k").arg(1000).arg(p.as_slice()).arg("REPLACE").arg("ABSTTL").query(&mut c).unwrap();
    let v: Option<String> = redis::cmd("GET").arg("k").query(&mut c).unwrap();
    assert_eq!(v, None);
    let () = redis::cmd("RESTORE-ASKING").arg("k4").arg(5000).arg(p.as_slice()).query(&mut c).unwrap();
    let pttl: i64 = redis::cmd("PTTL").arg("k4").query(&mut c).unwrap();
    assert!(pttl > 0 && pttl <= 5000);
    let none: Option<Vec<u8>> = redis::cmd("DUMP").arg("missing").query(&mut c).unwrap();
    assert_eq!(none, None);
    stop(h);
}

#[test]
fn misconf_after_failed_bgsave() {
    let dir = tempfile::tempdir().unwrap();
    let h = start(dir.path(), &["--save", "3600 1"]);
    let mut c = conn(h.port());
    let () = redis::cmd("SET").arg("a").arg("1").query(&mut c).unwrap();
    // A directory where dump.rdb should go makes the rename fail, even for root.
    std::fs::create_dir(dir.path().join("dump.rdb")).unwrap();
    let _: String = redis::cmd("BGSAVE").query(&mut c).unwrap();
    wait_until("bgsave to fail", 20, || info_field(&mut c, "rdb_last_bgsave_status") == "err");
    let e = redis::cmd("SET").arg("b").arg("2").query::<()>(&mut c).unwrap_err();
    assert!(e.to_string().contains("MISCONF"), "{e}");
    let v: Option<String> = redis::cmd("GET").arg("a").query(&mut c).unwrap();
    assert_eq!(v.as_deref(), Some("1"));
    std::fs::remove_dir(dir.path().join("dump.rdb")).unwrap();
    let () = redis::cmd("SAVE").query(&mut c).unwrap();
    let () = redis::cmd("SET").arg("b").arg("2").query(&mut c).unwrap();
    drop(c);
    h.kill();
    h.join();
}

#[test]
fn config_set_appendonly_switches_the_aof() {
    let dir = tempfile::tempdir().unwrap();
    let h = start(dir.path(), &["--save", "", "--hz", "50"]);
    let mut c = conn(h.port());
    let () = redis::cmd("SET").arg("before").arg("1").query(&mut c).unwrap();
    let () = redis::cmd("CONFIG").arg("SET").arg("appendonly").arg("yes").query(&mut c).unwrap();
    // Writes made while the first base is written go to the AOF too.
    let () = redis::cmd("SET").arg("during").arg("1").query(&mut c).unwrap();
    assert_eq!(info_field(&mut c, "aof_enabled"), "1");
    // As in Redis, the AOF holds the data once its first rewrite is done.
    wait_until("first AOF base written", 10, || info_field(&mut c, "aof_rewrite_in_progress") == "0");
    let () = redis::cmd("SET").arg("after").arg("2").query(&mut c).unwrap();
    drop(c);
    h.kill();
    h.join();
    let h = start(dir.path(), &["--save", "", "--appendonly", "yes", "--hz", "50"]);
    let mut c = conn(h.port());
    for k in ["before", "during", "after"] {
        let v: Option<String> = redis::cmd("GET").arg(k).query(&mut c).unwrap();
        assert!(v.is_some(), "{k}");
    }
    let () = redis::cmd("CONFIG").arg("SET").arg("appendonly").arg("no").query(&mut c).unwrap();
    wait_until("AOF off", 10, || info_field(&mut c, "aof_enabled") == "0");
    stop(h);
}

#[test]
fn a_background_save_reports_its_progress_and_copy_on_write() {
    let dir = tempfile::tempdir().unwrap();
    let h = start(dir.path(), &["--save", ""]);
    let mut c = conn(h.port());
    fill(&mut c, "key", 4000, &"A".repeat(500));
    // 300 µs a key: about a second and a half of saving to watch.
    let () = redis::cmd("CONFIG").arg("SET").arg("rdb-key-save-delay").arg("300").query(&mut c).unwrap();
    let () = redis::cmd("BGSAVE").query(&mut c).map(|_: String| ()).unwrap();
    let field = |c: &mut Connection, name: &str| info_field(c, name).parse::<f64>().unwrap();
    assert_eq!(field(&mut c, "current_save_keys_total"), 4000.0);
    // Writes during the save make the kernel copy pages for the child.
    let mut i = 0;
    wait_until("progress and copy-on-write reported", 20, || {
        for _ in 0..64 {
            let _: () = redis::cmd("SETRANGE").arg(format!("key{}", i % 4000)).arg(0).arg("B".repeat(500)).query(&mut c).unwrap();
            i += 1;
        }
        field(&mut c, "current_save_keys_processed") > 0.0
            && field(&mut c, "current_cow_size") > 0.0
            && field(&mut c, "current_fork_perc") > 0.0
    });
    assert!(field(&mut c, "current_save_keys_processed") <= 4000.0);
    wait_until("save done", 20, || info_field(&mut c, "rdb_bgsave_in_progress") == "0");
    assert!(field(&mut c, "rdb_last_cow_size") > 0.0, "the child's final copy-on-write size is kept");
    assert_eq!(field(&mut c, "current_save_keys_total"), 0.0, "no save runs");
}

#[test]
fn rewritten_aof_files_are_kept_as_history_until_auto_gc_is_back_on() {
    let dir = tempfile::tempdir().unwrap();
    let h = start(dir.path(), &["--save", "", "--appendonly", "yes", "--aof-disable-auto-gc", "yes", "--enable-debug-command", "yes"]);
    let mut c = conn(h.port());
    let manifest = dir.path().join("appendonlydir").join("appendonly.aof.manifest");
    for round in 1..=2 {
        let () = redis::cmd("SET").arg("k").arg(round).query(&mut c).unwrap();
        let _: String = redis::cmd("BGREWRITEAOF").query(&mut c).unwrap();
        wait_until("rewrite done", 20, || {
            info_field(&mut c, "aof_rewrites") == round.to_string() && info_field(&mut c, "aof_rewrite_in_progress") == "0"
        });
    }
    let text = std::fs::read_to_string(&manifest).unwrap();
    let history: Vec<&str> = text.lines().filter(|l| l.ends_with("type h")).collect();
    assert_eq!(history.len(), 4, "two bases and two incr files replaced: {text}");
    for line in &history {
        let name = line.split_whitespace().nth(1).unwrap();
        assert!(dir.path().join("appendonlydir").join(name).exists(), "{name} kept");
    }
    let () = redis::cmd("CONFIG").arg("SET").arg("aof-disable-auto-gc").arg("no").query(&mut c).unwrap();
    let text = std::fs::read_to_string(&manifest).unwrap();
    assert!(!text.contains("type h"), "{text}");
    for line in &history {
        let name = line.split_whitespace().nth(1).unwrap();
        assert!(!dir.path().join("appendonlydir").join(name).exists(), "{name} collected");
    }
    // What is left still loads.
    let () = redis::cmd("DEBUG").arg("LOADAOF").query(&mut c).map(|_: String| ()).unwrap();
    assert_eq!(redis::cmd("GET").arg("k").query::<String>(&mut c).unwrap(), "2");
}

/// The dump file loads while the node already serves, as redis-server does:
/// clients connect and get LOADING (INFO and SHUTDOWN answered), a
/// shutdown during the load never saves the half-loaded data over the
/// file, and a load left to finish brings every key back.
#[test]
fn the_dump_file_loads_while_clients_are_served() {
    use std::process::{Command, Stdio};
    use std::time::{Duration, Instant};
    let dir = tempfile::tempdir().unwrap();
    {
        let h = start(dir.path(), &["--save", "", "--enable-debug-command", "yes"]);
        let mut c = conn(h.port());
        run(&mut c, &["DEBUG", "POPULATE", "20000", "key", "100"]).unwrap();
        run(&mut c, &["SAVE"]).unwrap();
        stop(h);
    }
    let file = std::fs::read(dir.path().join("dump.rdb")).unwrap();
    // 1 ms per key: the load takes 20 s unless stopped.
    let port = free_port();
    let mut child = Command::new(env!("CARGO_BIN_EXE_slot-node"))
        .args(["--port", &port.to_string(), "--bind", "127.0.0.1", "--dir"])
        .arg(dir.path())
        .args(["--save", "900 1", "--key-load-delay", "1000", "--loading-process-events-interval-bytes", "1024"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut c = loop {
        if let Ok(c) = redis::Client::open(format!("redis://127.0.0.1:{port}/")).unwrap().get_connection() {
            break c;
        }
        assert!(Instant::now() < deadline, "the node never listened");
        std::thread::sleep(Duration::from_millis(20));
    };
    assert_eq!(info_field(&mut c, "loading"), "1");
    assert!(info_field(&mut c, "loading_total_bytes").parse::<usize>().unwrap() == file.len());
    assert_eq!(run(&mut c, &["DBSIZE"]), Err("LOADING Redis is loading the dataset in memory".into()));
    assert_eq!(run(&mut c, &["PING"]), Err("LOADING Redis is loading the dataset in memory".into()));
    // SHUTDOWN SAVE while loading: no save (Redis makes it NOSAVE).
    let _ = redis::cmd("SHUTDOWN").arg("SAVE").query::<redis::Value>(&mut c);
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            panic!("the node did not exit on SHUTDOWN during the load");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(status.success(), "{status:?}");
    assert_eq!(std::fs::read(dir.path().join("dump.rdb")).unwrap(), file, "the file is untouched");
    // Left to finish, the load brings every key back.
    let node = slot_node(dir.path(), &["--save", ""]);
    let mut c = conn(node.port);
    assert_eq!(run(&mut c, &["DBSIZE"]), Ok(redis::Value::Int(20000)));
    assert_eq!(info_field(&mut c, "loading"), "0");
}
