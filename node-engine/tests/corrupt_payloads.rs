//! Damaged DUMP payloads and RDB files: RESTORE refuses them with Redis's
//! error (whatever `sanitize-dump-payload` says, since every encoding is
//! converted on load), a damaged file stops start-up with a report naming
//! the key, and no corrupted payload takes the node down.
#![allow(clippy::unwrap_used)]

mod support;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use support::*;

const HASH_ZIPMAP: u8 = 9;
const LIST_ZIPLIST: u8 = 10;
const ZSET_ZIPLIST: u8 = 12;
const HASH_ZIPLIST: u8 = 13;
const LIST_QUICKLIST: u8 = 14;
const HASH_LISTPACK: u8 = 16;

/// A ziplist of short strings, laid out as Redis before 7.0 wrote it.
fn ziplist(items: &[&[u8]]) -> Vec<u8> {
    let mut body = Vec::new();
    let mut prev = 0usize;
    let mut tail = 10;
    for it in items {
        assert!(it.len() < 64 && prev < 254);
        tail = 10 + body.len();
        let start = body.len();
        body.push(prev as u8);
        body.push(it.len() as u8);
        body.extend_from_slice(it);
        prev = body.len() - start;
    }
    let mut zl = Vec::new();
    zl.extend_from_slice(&((10 + body.len() + 1) as u32).to_le_bytes());
    zl.extend_from_slice(&(tail as u32).to_le_bytes());
    zl.extend_from_slice(&(items.len() as u16).to_le_bytes());
    zl.extend_from_slice(&body);
    zl.push(0xFF);
    zl
}

/// A listpack of short strings (Redis 7.0's small hashes).
fn listpack(items: &[&[u8]]) -> Vec<u8> {
    let mut body = Vec::new();
    for it in items {
        assert!(it.len() < 64);
        body.push(0x80 | it.len() as u8);
        body.extend_from_slice(it);
        body.push(1 + it.len() as u8);
    }
    let mut lp = Vec::new();
    lp.extend_from_slice(&((6 + body.len() + 1) as u32).to_le_bytes());
    lp.extend_from_slice(&(items.len() as u16).to_le_bytes());
    lp.extend_from_slice(&body);
    lp.push(0xFF);
    lp
}

/// A zipmap (hashes of Redis 2.4 and older): count, then length-prefixed
/// field, value length, free byte, value.
fn zipmap(pairs: &[(&[u8], &[u8])]) -> Vec<u8> {
    let mut zm = vec![pairs.len() as u8];
    for (f, v) in pairs {
        zm.push(f.len() as u8);
        zm.extend_from_slice(f);
        zm.push(v.len() as u8);
        zm.push(0);
        zm.extend_from_slice(v);
    }
    zm.push(0xFF);
    zm
}

/// A DUMP payload with a blob value: type, RDB string, version 10, and a
/// zero checksum (both servers told to skip checksums).
fn payload(t: u8, prefix: &[u8], blob: &[u8]) -> Vec<u8> {
    let mut p = vec![t];
    p.extend_from_slice(prefix);
    assert!(blob.len() < 16384);
    if blob.len() < 64 {
        p.push(blob.len() as u8);
    } else {
        p.push(0x40 | (blob.len() >> 8) as u8);
        p.push(blob.len() as u8);
    }
    p.extend_from_slice(blob);
    p.extend_from_slice(&10u16.to_le_bytes());
    p.extend_from_slice(&[0; 8]);
    p
}

fn restore(c: &mut redis::Connection, key: &str, p: &[u8]) -> Result<(), String> {
    match redis::cmd("RESTORE").arg(key).arg(0).arg(p).arg("REPLACE").query::<()>(c) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == redis::ErrorKind::IoError => panic!("RESTORE {key}: {e}"),
        Err(e) => Err(format!("{} {}", e.code().unwrap_or_default(), e.detail().unwrap_or_default())),
    }
}

fn damaged_payloads() -> Vec<(&'static str, Vec<u8>)> {
    let items: &[&[u8]] = &[b"a", b"1", b"b", b"2"];
    let zl = ziplist(items);
    let mut wrong_prevlen = zl.clone();
    wrong_prevlen[10 + 3] = 9; // second entry's length of the first
    let mut wrong_count = zl.clone();
    wrong_count[8] = 3;
    let mut wrong_tail = zl.clone();
    wrong_tail[4] = 10;
    let mut wrong_size = zl.clone();
    wrong_size[0] += 1;
    let lp = listpack(items);
    let mut wrong_backlen = lp.clone();
    wrong_backlen[6 + 2] = 5;
    vec![
        ("list ziplist, wrong previous length", payload(LIST_ZIPLIST, &[], &wrong_prevlen)),
        ("list ziplist, wrong count", payload(LIST_ZIPLIST, &[], &wrong_count)),
        ("list ziplist, wrong tail offset", payload(LIST_ZIPLIST, &[], &wrong_tail)),
        ("list ziplist, wrong size header", payload(LIST_ZIPLIST, &[], &wrong_size)),
        ("quicklist node, wrong previous length", payload(LIST_QUICKLIST, &[1], &wrong_prevlen)),
        ("hash ziplist, duplicate field", payload(HASH_ZIPLIST, &[], &ziplist(&[b"a", b"1", b"a", b"2"]))),
        ("hash ziplist, odd count", payload(HASH_ZIPLIST, &[], &ziplist(&[b"a", b"1", b"b"]))),
        ("zset ziplist, duplicate member", payload(ZSET_ZIPLIST, &[], &ziplist(&[b"m", b"1", b"m", b"2"]))),
        ("hash listpack, wrong back-length", payload(HASH_LISTPACK, &[], &wrong_backlen)),
        ("hash listpack, duplicate field", payload(HASH_LISTPACK, &[], &listpack(&[b"a", b"1", b"a", b"2"]))),
        ("empty zipmap", payload(HASH_ZIPMAP, &[], &[0, 0xFF])),
        ("zipmap, duplicate field", payload(HASH_ZIPMAP, &[], &zipmap(&[(b"f", b"1"), (b"f", b"2")]))),
        ("empty list ziplist", payload(LIST_ZIPLIST, &[], &ziplist(&[]))),
    ]
}

#[test]
fn damaged_payloads_are_refused_as_redis_refuses_them() {
    let Some(mut both) = Both::start() else { return };
    for c in [&mut both.ours, &mut both.theirs] {
        let () = redis::cmd("CONFIG").arg("SET").arg("sanitize-dump-payload").arg("yes").query(c).unwrap();
    }
    let (_, wrong_count) = &damaged_payloads()[1];
    // The checksum is checked unless told otherwise.
    for c in [&mut both.ours, &mut both.theirs] {
        assert_eq!(restore(c, "k", wrong_count), Err("ERR DUMP payload version or checksum are wrong".into()));
        let () = redis::cmd("DEBUG").arg("SET-SKIP-CHECKSUM-VALIDATION").arg(1).query(c).unwrap();
    }
    for (what, p) in damaged_payloads() {
        let ours = restore(&mut both.ours, "k", &p);
        let theirs = restore(&mut both.theirs, "k", &p);
        assert_eq!(ours, theirs, "{what}");
        assert_eq!(ours, Err("ERR Bad data format".into()), "{what}");
    }
    // Refusing loses nothing and the node goes on.
    assert_eq!(run(&mut both.ours, &["DBSIZE"]), Ok(redis::Value::Int(0)));
    // The intact forms restore the same on both, zipmap included.
    let good: Vec<(&str, Vec<u8>)> = vec![
        ("zipmap", payload(HASH_ZIPMAP, &[], &zipmap(&[(b"f1", b"v1"), (b"f2", b"22")]))),
        ("list ziplist", payload(LIST_ZIPLIST, &[], &ziplist(&[b"a", b"1", b"b", b"2"]))),
        ("hash ziplist", payload(HASH_ZIPLIST, &[], &ziplist(&[b"a", b"1", b"b", b"2"]))),
        ("zset ziplist", payload(ZSET_ZIPLIST, &[], &ziplist(&[b"m", b"1.5", b"n", b"2"]))),
    ];
    for (what, p) in good {
        for c in [&mut both.ours, &mut both.theirs] {
            assert_eq!(restore(c, what, &p), Ok(()), "{what}");
        }
        let steps = [cmd(&["TYPE", what]), cmd(&["DEBUG", "DIGEST-VALUE", what]), cmd(&["DUMP", what])];
        same_on_both(&mut both.ours, &mut both.theirs, what, &steps);
    }
}

/// A tiny deterministic generator, so a failure names a seed that replays it.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

/// Commands that read and change a value of each type, replies ignored:
/// they must only never break the connection.
fn traffic(key: &str) -> Vec<Vec<String>> {
    let k = key;
    [
        vec!["TYPE", k],
        vec!["OBJECT", "ENCODING", k],
        vec!["DEBUG", "DIGEST-VALUE", k],
        vec!["LRANGE", k, "0", "-1"],
        vec!["LINDEX", k, "-1"],
        vec!["LINSERT", k, "BEFORE", "_3", "x"],
        vec!["RPUSH", k, "tail"],
        vec!["LPOP", k],
        vec!["HGETALL", k],
        vec!["HSET", k, "f", "v"],
        vec!["HRANDFIELD", k, "-5", "WITHVALUES"],
        vec!["HDEL", k, "1"],
        vec!["SMEMBERS", k],
        vec!["SADD", k, "m"],
        vec!["SRANDMEMBER", k, "-3"],
        vec!["SPOP", k],
        vec!["ZRANGE", k, "0", "-1", "WITHSCORES"],
        vec!["ZRANGEBYSCORE", k, "-inf", "+inf"],
        vec!["ZADD", k, "1", "z"],
        vec!["ZRANK", k, "z"],
        vec!["ZPOPMIN", k],
        vec!["XRANGE", k, "-", "+"],
        vec!["XREVRANGE", k, "+", "-"],
        vec!["XINFO", "STREAM", k, "FULL"],
        vec!["XADD", k, "*", "a", "b"],
        vec!["XREADGROUP", "GROUP", "mygroup", "Bob", "STREAMS", k, ">"],
        vec!["XPENDING", k, "mygroup", "-", "+", "10"],
        vec!["XAUTOCLAIM", k, "mygroup", "Carol", "0", "0-0"],
        vec!["XTRIM", k, "MAXLEN", "1"],
        vec!["GET", k],
        vec!["APPEND", k, "s"],
        vec!["STRLEN", k],
    ]
    .into_iter()
    .map(|v| v.into_iter().map(String::from).collect())
    .collect()
}

/// Keys of every type, small (listpack, intset) and big (quicklist, hash
/// table, skiplist, several stream nodes), as the Tcl fuzzer builds them.
fn fill_types(c: &mut redis::Connection) {
    for (k, v) in [
        ("list-max-listpack-size", "5"),
        ("hash-max-listpack-entries", "5"),
        ("zset-max-listpack-entries", "5"),
        ("stream-node-max-entries", "5"),
    ] {
        let () = redis::cmd("CONFIG").arg("SET").arg(k).arg(v).query(c).unwrap();
    }
    for (suffix, n) in [("", 3), ("big", 10)] {
        let mut p = redis::pipe();
        for j in 0..n {
            let val = if j % 2 == 0 { j.to_string() } else { format!("_{j}") };
            p.cmd("HSET").arg(format!("hash{suffix}")).arg(j).arg(&val).ignore();
            p.cmd("LPUSH").arg(format!("list{suffix}")).arg(&val).ignore();
            p.cmd("ZADD").arg(format!("zset{suffix}")).arg(j).arg(&val).ignore();
            p.cmd("SADD").arg(format!("set{suffix}")).arg(&val).ignore();
            p.cmd("SADD").arg(format!("intset{suffix}")).arg(j * 1000).ignore();
            p.cmd("XADD").arg(format!("stream{suffix}")).arg("*").arg("item").arg(1).arg("value").arg(&val).ignore();
        }
        let () = p.query(c).unwrap();
    }
    for args in [
        &["XGROUP", "CREATE", "stream", "mygroup", "0"][..],
        &["XREADGROUP", "GROUP", "mygroup", "Alice", "COUNT", "2", "STREAMS", "stream", ">"],
        &["INCR", "int"],
        &["SET", "string", "str"],
        &["SET", "long", &"x".repeat(300)],
    ] {
        run(c, args).unwrap();
    }
}

#[test]
fn corrupted_payloads_never_take_the_node_down() {
    let dir = tempfile::tempdir().unwrap();
    let h = start(dir.path(), &["--enable-debug-command", "yes"]);
    let mut c = conn(h.port());
    fill_types(&mut c);
    run(&mut c, &["DEBUG", "SET-SKIP-CHECKSUM-VALIDATION", "1"]).unwrap();
    let keys: Vec<String> = redis::cmd("KEYS").arg("*").query(&mut c).unwrap();
    let dumps: Vec<Vec<u8>> = keys.iter().map(|k| redis::cmd("DUMP").arg(k).query(&mut c).unwrap()).collect();
    // SLOTD_FUZZ_SEED / SLOTD_FUZZ_ROUNDS run a longer or different search locally.
    let env = |name: &str, default: u64| std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default);
    let seed = env("SLOTD_FUZZ_SEED", 0x5107_d00d).max(1);
    let rounds = env("SLOTD_FUZZ_ROUNDS", 3000);
    let mut rng = Rng(seed);
    let (mut accepted, mut refused) = (0, 0);
    for round in 0..rounds {
        let i = rng.below(dumps.len());
        let mut p = dumps[i].clone();
        // One byte usually, two sometimes, never in the version footer.
        for _ in 0..(1 + usize::from(rng.below(10) == 0)) {
            let at = rng.below(p.len() - 10);
            p[at] = rng.next() as u8;
        }
        match restore(&mut c, "_fuzz", &p) {
            Err(e) => {
                assert_eq!(e, "ERR Bad data format", "seed {seed:#x} round {round}, payload {p:?}");
                refused += 1;
            }
            Ok(()) => {
                accepted += 1;
                // What was accepted is a sound value: it dumps and restores again.
                let again: Vec<u8> = redis::cmd("DUMP").arg("_fuzz").query(&mut c).unwrap();
                assert_eq!(restore(&mut c, "_fuzz2", &again), Ok(()), "seed {seed:#x} round {round}, payload {p:?}");
                for args in traffic("_fuzz") {
                    let args: Vec<&str> = args.iter().map(String::as_str).collect();
                    let _ = run(&mut c, &args);
                }
                run(&mut c, &["DEL", "_fuzz", "_fuzz2"]).unwrap();
            }
        }
    }
    assert!(accepted > 100 && refused > 100, "the fuzzer exercised both paths: {accepted} accepted, {refused} refused");
    // Nothing of the originals changed.
    assert_eq!(run(&mut c, &["DBSIZE"]), Ok(redis::Value::Int(keys.len() as i64)));
    for (k, d) in keys.iter().zip(&dumps) {
        let now: Vec<u8> = redis::cmd("DUMP").arg(k).query(&mut c).unwrap();
        assert_eq!(&now, d, "{k}");
    }
    stop(h);
}

/// An RDB image (version 10, no checksum) holding `entries` (type, key, value body).
fn rdb_file(entries: &[(u8, &str, Vec<u8>)]) -> Vec<u8> {
    let mut f = b"REDIS0010".to_vec();
    f.extend_from_slice(&[0xFE, 0]);
    for (t, k, body) in entries {
        f.push(*t);
        f.push(k.len() as u8);
        f.extend_from_slice(k.as_bytes());
        f.extend_from_slice(body);
    }
    f.push(0xFF);
    f.extend_from_slice(&[0; 8]);
    f
}

fn rdb_string(blob: &[u8]) -> Vec<u8> {
    assert!(blob.len() < 64);
    let mut s = vec![blob.len() as u8];
    s.extend_from_slice(blob);
    s
}

/// Runs slot-node on `dir` until it exits (or `secs` pass): its exit status and output.
fn run_to_exit(dir: &std::path::Path, secs: u64) -> (Option<std::process::ExitStatus>, String) {
    let port = free_port().to_string();
    let out = tempfile::NamedTempFile::new().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_slot-node"))
        .args(["--port", &port, "--bind", "127.0.0.1", "--dir"])
        .arg(dir)
        .stdout(Stdio::from(out.reopen().unwrap()))
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(secs);
    let status = loop {
        match child.try_wait() {
            Ok(Some(s)) => break Some(s),
            Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(20)),
            _ => {
                let _ = child.kill();
                let _ = child.wait();
                break None;
            }
        }
    };
    (status, std::fs::read_to_string(out.path()).unwrap())
}

#[test]
fn a_damaged_rdb_stops_start_up_with_a_report_naming_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let mut bad = ziplist(&[b"a", b"b"]);
    bad[8] = 7; // wrong count
    let file = rdb_file(&[(0, "fine", rdb_string(b"v")), (LIST_ZIPLIST, "broken", rdb_string(&bad))]);
    std::fs::write(dir.path().join("dump.rdb"), &file).unwrap();
    let (status, log) = run_to_exit(dir.path(), 20);
    let status = status.expect("slot-node exits on a damaged RDB");
    assert!(!status.success(), "{log}");
    for needle in [
        "List ziplist integrity check failed.",
        "--- RDB ERROR DETECTED ---",
        "[additional info] Reading key 'broken'",
        "[info] 1 keys read",
        "Terminating server after rdb file reading failure.",
    ] {
        assert!(log.contains(needle), "{needle:?} not in:\n{log}");
    }
    // The file is left as it was.
    assert_eq!(std::fs::read(dir.path().join("dump.rdb")).unwrap(), file);
}

#[test]
fn empty_collections_in_an_rdb_are_skipped_and_counted() {
    let dir = tempfile::tempdir().unwrap();
    let file = rdb_file(&[
        (0, "kept", rdb_string(b"v")),
        (1, "emptylist", vec![0]),
        (LIST_ZIPLIST, "emptyziplist", rdb_string(&ziplist(&[]))),
        (HASH_LISTPACK, "emptyhash", rdb_string(&listpack(&[]))),
    ]);
    std::fs::write(dir.path().join("dump.rdb"), &file).unwrap();
    let out = tempfile::NamedTempFile::new().unwrap();
    let log_path = out.path().to_str().unwrap().to_string();
    let node = slot_node(dir.path(), &["--logfile", &log_path]);
    let mut c = conn(node.port);
    assert_eq!(run(&mut c, &["DBSIZE"]), Ok(redis::Value::Int(1)));
    let log = std::fs::read_to_string(&log_path).unwrap();
    for needle in [
        "skipping empty key: emptylist",
        "skipping empty key: emptyziplist",
        "skipping empty key: emptyhash",
        "Done loading RDB, keys loaded: 1, keys expired: 0, empty keys skipped: 3.",
    ] {
        assert!(log.contains(needle), "{needle:?} not in:\n{log}");
    }
}
