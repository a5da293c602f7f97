//! The node core, black box over raw TCP: exact reply bytes for protocol
//! edge cases, error texts, RESP3, the lab's config file, and interop with
//! real redis-cli / redis-benchmark / redis-server where installed.

mod support;

use node_engine::{NodeConfig, NodeHandle};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};
use support::{reference_redis, tool};

fn start(extra: &[&str]) -> NodeHandle {
    let mut args: Vec<String> = ["--port", "0", "--bind", "127.0.0.1", "--save", ""].iter().map(|s| s.to_string()).collect();
    args.extend(extra.iter().map(|s| s.to_string()));
    node_engine::start(NodeConfig::from_args(&args).expect("config")).expect("start")
}

fn connect(port: u16) -> TcpStream {
    let s = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(5))).expect("timeout");
    s
}

/// Sends bytes and reads until `expected.len()` bytes arrived, then compares.
fn exchange(s: &mut TcpStream, send: &[u8], expected: &[u8]) {
    s.write_all(send).expect("write");
    let got = read_n(s, expected.len());
    assert_eq!(String::from_utf8_lossy(&got), String::from_utf8_lossy(expected), "reply to {:?}", String::from_utf8_lossy(send));
}

fn read_n(s: &mut TcpStream, n: usize) -> Vec<u8> {
    let mut got = vec![0u8; n];
    let mut filled = 0;
    while filled < n {
        match s.read(&mut got[filled..]) {
            Ok(0) => break,
            Ok(k) => filled += k,
            Err(e) => panic!("read after {filled} of {n} bytes: {e}"),
        }
    }
    got.truncate(filled);
    got
}

fn read_to_close(s: &mut TcpStream) -> Vec<u8> {
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out);
    out
}

#[test]
fn replies_and_errors_byte_for_byte() {
    let h = start(&[]);
    let mut s = connect(h.port());
    let table: &[(&[u8], &[u8])] = &[
        (b"*1\r\n$4\r\nPING\r\n", b"+PONG\r\n"),
        (b"PING\r\n", b"+PONG\r\n"),
        (b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n", b"+OK\r\n"),
        (b"*2\r\n$3\r\nGET\r\n$1\r\nk\r\n", b"$1\r\nv\r\n"),
        (b"*2\r\n$3\r\nGET\r\n$7\r\nmissing\r\n", b"$-1\r\n"),
        (b"*1\r\n$3\r\nGET\r\n", b"-ERR wrong number of arguments for 'get' command\r\n"),
        (b"*2\r\n$4\r\nINCR\r\n$1\r\nk\r\n", b"-ERR value is not an integer or out of range\r\n"),
        (b"*3\r\n$3\r\nFOO\r\n$1\r\na\r\n$1\r\nb\r\n", b"-ERR unknown command 'FOO', with args beginning with: 'a' 'b' \r\n"),
        (b"*3\r\n$3\r\nSET\r\n$1\r\nn\r\n$19\r\n9223372036854775807\r\n", b"+OK\r\n"),
        (b"*2\r\n$4\r\nINCR\r\n$1\r\nn\r\n", b"-ERR increment or decrement would overflow\r\n"),
        (b"*4\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n$2\r\nXY\r\n", b"-ERR syntax error\r\n"),
        (b"*4\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n$2\r\nEX\r\n", b"-ERR syntax error\r\n"),
        (b"*5\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n$2\r\nEX\r\n$1\r\n0\r\n", b"-ERR invalid expire time in 'set' command\r\n"),
        (b"*2\r\n$6\r\nSELECT\r\n$2\r\n99\r\n", b"-ERR DB index is out of range\r\n"),
        (b"*2\r\n$4\r\nECHO\r\n$0\r\n\r\n", b"$0\r\n\r\n"),
    ];
    for (send, expected) in table {
        exchange(&mut s, send, expected);
    }
}

#[test]
fn frames_split_across_reads_and_pipelines() {
    let h = start(&[]);
    let mut s = connect(h.port());
    let req = b"*3\r\n$3\r\nSET\r\n$3\r\nkey\r\n$5\r\nvalue\r\n";
    for b in req.iter() {
        s.write_all(&[*b]).expect("write byte");
    }
    assert_eq!(read_n(&mut s, 5), b"+OK\r\n");
    let mut batch = Vec::new();
    for _ in 0..1000 {
        batch.extend_from_slice(b"*2\r\n$4\r\nINCR\r\n$3\r\nctr\r\n");
    }
    s.write_all(&batch).expect("pipeline");
    let mut expected = Vec::new();
    for i in 1..=1000 {
        expected.extend_from_slice(format!(":{i}\r\n").as_bytes());
    }
    assert_eq!(read_n(&mut s, expected.len()), expected);
}

#[test]
fn protocol_errors_answer_and_close() {
    let h = start(&[]);
    for (send, expected) in [
        (&b"*2\r\n$-5\r\n"[..], &b"-ERR Protocol error: invalid bulk length\r\n"[..]),
        (b"*99999999999\r\n", b"-ERR Protocol error: invalid multibulk length\r\n"),
        (b"*1\r\n+PING\r\n", b"-ERR Protocol error: expected '$', got '+'\r\n"),
        (b"*2\r\n$999999999999\r\n", b"-ERR Protocol error: invalid bulk length\r\n"),
    ] {
        let mut s = connect(h.port());
        s.write_all(send).expect("write");
        assert_eq!(read_to_close(&mut s), expected, "for {:?}", String::from_utf8_lossy(send));
    }
    // The node is still fine.
    let mut s = connect(h.port());
    exchange(&mut s, b"PING\r\n", b"+PONG\r\n");
}

#[test]
fn resp3_after_hello_3() {
    let h = start(&[]);
    let mut s = connect(h.port());
    s.write_all(b"*2\r\n$5\r\nHELLO\r\n$1\r\n3\r\n").expect("hello");
    let head = read_n(&mut s, 4);
    assert_eq!(head, b"%7\r\n");
    // Drain the rest of the HELLO map, then check RESP3 null and double.
    let mut rest = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(2);
    while !rest.ends_with(b"*0\r\n") && Instant::now() < deadline {
        rest.extend(read_n(&mut s, 1));
    }
    exchange(&mut s, b"*2\r\n$3\r\nGET\r\n$4\r\nnope\r\n", b"_\r\n");
    exchange(&mut s, b"*3\r\n$11\r\nINCRBYFLOAT\r\n$1\r\nf\r\n$3\r\n1.5\r\n", b"$3\r\n1.5\r\n");
    exchange(&mut s, b"*3\r\n$6\r\nCONFIG\r\n$3\r\nGET\r\n$9\r\nmaxmemory\r\n", b"%1\r\n$9\r\nmaxmemory\r\n$1\r\n0\r\n");
}

#[test]
fn transactions_and_watch() {
    let h = start(&[]);
    let mut a = connect(h.port());
    let mut b = connect(h.port());
    exchange(&mut a, b"*2\r\n$5\r\nWATCH\r\n$1\r\nw\r\n", b"+OK\r\n");
    exchange(&mut a, b"*1\r\n$5\r\nMULTI\r\n", b"+OK\r\n");
    exchange(&mut a, b"*3\r\n$3\r\nSET\r\n$1\r\nw\r\n$1\r\n1\r\n", b"+QUEUED\r\n");
    exchange(&mut b, b"*3\r\n$3\r\nSET\r\n$1\r\nw\r\n$1\r\n2\r\n", b"+OK\r\n");
    exchange(&mut a, b"*1\r\n$4\r\nEXEC\r\n", b"*-1\r\n");
    exchange(&mut a, b"*1\r\n$5\r\nMULTI\r\n", b"+OK\r\n");
    exchange(&mut a, b"*2\r\n$4\r\nINCR\r\n$1\r\nc\r\n", b"+QUEUED\r\n");
    exchange(&mut a, b"*1\r\n$3\r\nGET\r\n", b"-ERR wrong number of arguments for 'get' command\r\n");
    exchange(&mut a, b"*1\r\n$4\r\nEXEC\r\n", b"-EXECABORT Transaction discarded because of previous errors.\r\n");
    exchange(&mut a, b"*1\r\n$5\r\nMULTI\r\n", b"+OK\r\n");
    exchange(&mut a, b"*2\r\n$4\r\nINCR\r\n$1\r\nc\r\n", b"+QUEUED\r\n");
    exchange(&mut a, b"*2\r\n$4\r\nINCR\r\n$1\r\nc\r\n", b"+QUEUED\r\n");
    exchange(&mut a, b"*1\r\n$4\r\nEXEC\r\n", b"*2\r\n:1\r\n:2\r\n");
}

#[test]
fn pubsub_delivers_to_subscribers() {
    let h = start(&[]);
    let mut sub = connect(h.port());
    exchange(&mut sub, b"*2\r\n$9\r\nSUBSCRIBE\r\n$4\r\nnews\r\n", b"*3\r\n$9\r\nsubscribe\r\n$4\r\nnews\r\n:1\r\n");
    exchange(
        &mut sub,
        b"*2\r\n$3\r\nGET\r\n$1\r\nx\r\n",
        b"-ERR Can't execute 'get': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context\r\n",
    );
    let mut publisher = connect(h.port());
    exchange(&mut publisher, b"*3\r\n$7\r\nPUBLISH\r\n$4\r\nnews\r\n$2\r\nhi\r\n", b":1\r\n");
    let msg = b"*3\r\n$7\r\nmessage\r\n$4\r\nnews\r\n$2\r\nhi\r\n";
    assert_eq!(read_n(&mut sub, msg.len()), msg);
}

#[test]
fn a_subscriber_that_never_reads_is_cut_off_at_the_output_limit() {
    let h = start(&["--client-output-buffer-limit", "pubsub 1mb 0 0"]);
    let mut sub = connect(h.port());
    exchange(&mut sub, b"*2\r\n$9\r\nSUBSCRIBE\r\n$1\r\nc\r\n", b"*3\r\n$9\r\nsubscribe\r\n$1\r\nc\r\n:1\r\n");
    // The subscriber stops reading; the publisher keeps going far past 1 MB.
    let mut publisher = connect(h.port());
    let payload = "x".repeat(64 * 1024);
    let msg = format!("*3\r\n$7\r\nPUBLISH\r\n$1\r\nc\r\n${}\r\n{payload}\r\n", payload.len());
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        publisher.write_all(msg.as_bytes()).expect("publish");
        let mut buf = [0u8; 4];
        let n = publisher.read(&mut buf).expect("reply");
        if &buf[..n] == b":0\r\n" {
            break; // the subscriber was disconnected
        }
        assert!(Instant::now() < deadline, "a non-reading subscriber was never cut off");
    }
}

#[test]
fn active_expiry_removes_keys_nobody_reads() {
    let h = start(&["--hz", "50"]);
    let mut s = connect(h.port());
    let mut batch = Vec::new();
    for i in 0..500 {
        let k = format!("k{i}");
        batch.extend_from_slice(format!("*5\r\n$3\r\nSET\r\n${}\r\n{k}\r\n$1\r\nv\r\n$2\r\nPX\r\n$2\r\n50\r\n", k.len()).as_bytes());
    }
    s.write_all(&batch).expect("write");
    assert_eq!(read_n(&mut s, 5 * 500).len(), 2500);
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        s.write_all(b"*1\r\n$6\r\nDBSIZE\r\n").expect("dbsize");
        let mut buf = [0u8; 16];
        let n = s.read(&mut buf).expect("read");
        if &buf[..n] == b":0\r\n" {
            break;
        }
        assert!(Instant::now() < deadline, "keys not expired actively: {}", String::from_utf8_lossy(&buf[..n]));
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn loads_the_labs_full_redis_3_config() {
    let tmp = tempfile::tempdir().expect("tmp");
    let template = include_str!("fixtures/lab-redis-3.0.7.conf.in");
    let dir = tmp.path().display().to_string();
    let text =
        template.replace("/app/redis_cluster/node$i", &dir).replace("/var/run/redis$i.pid", &format!("{dir}/r.pid")).replace("$i", "0");
    let path = tmp.path().join("redis.conf");
    std::fs::write(&path, &text).expect("write conf");
    let cfg = NodeConfig::load(&path).expect("the lab's config loads");
    assert!(cfg.cluster_enabled());
    assert_eq!(cfg.node_timeout_ms(), 5000);
    assert_eq!(cfg.save_points(), vec![(900, 1), (300, 10), (60, 10000)]);
    assert_eq!(cfg.get("slave-read-only"), Some("yes"));
    assert_eq!(cfg.get("auto-aof-rewrite-min-size"), Some("67108864"));
    std::fs::write(&path, format!("{text}\nnot-a-directive yes\n")).expect("write conf");
    let err = NodeConfig::load(&path).expect_err("unknown directive").to_string();
    assert!(
        err.contains(&format!("at line {}", text.lines().count() + 2)) && err.contains("Bad directive or wrong number of arguments"),
        "{err}"
    );
}

#[test]
fn redis_cli_and_benchmark_work_unchanged() {
    let (Some(cli), Some(bench)) = (tool("redis-cli"), tool("redis-benchmark")) else {
        eprintln!("skipping: redis-cli/redis-benchmark not installed");
        return;
    };
    let h = start(&[]);
    let port = h.port().to_string();
    let out = std::process::Command::new(&cli).args(["-p", &port, "set", "name", "booboo"]).output().expect("redis-cli");
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "OK");
    let out = std::process::Command::new(&cli).args(["-p", &port, "info", "server"]).output().expect("redis-cli");
    assert!(String::from_utf8_lossy(&out.stdout).contains("redis_version:7."));
    let out = std::process::Command::new(&bench)
        .args(["-p", &port, "-t", "set,get,incr", "-n", "20000", "-c", "10", "-P", "16", "-q", "--csv"])
        .output()
        .expect("redis-benchmark");
    let text = String::from_utf8_lossy(&out.stdout);
    for t in ["SET", "GET", "INCR"] {
        assert!(text.lines().any(|l| l.starts_with(&format!("\"{t}\""))), "no {t} line in {text}");
    }
    let out = std::process::Command::new(&cli).args(["-p", &port, "get", "counter:__rand_int__"]).output().expect("redis-cli");
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "20000", "INCR from redis-benchmark counted every request");
}

#[test]
fn same_bytes_as_redis_server() {
    let Some((_tmp, redis)) = reference_redis() else { return };
    let mut theirs = connect(redis.port);
    theirs.set_read_timeout(Some(Duration::from_secs(5))).expect("timeout");
    let h = start(&[]);
    let mut ours = connect(h.port());
    let script: &[&[&str]] = &[
        &["SET", "a", "1"],
        &["INCR", "a"],
        &["INCRBY", "a", "x"],
        &["GET", "a"],
        &["APPEND", "a", "zz"],
        &["GETRANGE", "a", "0", "-2"],
        &["SETRANGE", "s", "5", "hi"],
        &["GET", "s"],
        &["STRLEN", "s"],
        &["MSET", "m1", "1", "m2", "2"],
        &["MGET", "m1", "nope", "m2"],
        &["SETNX", "m1", "x"],
        &["GETSET", "m1", "y"],
        &["GETDEL", "m1"],
        &["EXISTS", "m1", "m2", "m2"],
        &["TYPE", "m2"],
        &["TYPE", "zzz"],
        &["EXPIRE", "m2", "100"],
        &["TTL", "m2"],
        &["PERSIST", "m2"],
        &["TTL", "m2"],
        &["EXPIRE", "m2", "100", "NX", "XX"],
        &["RENAME", "nokey", "x"],
        &["RENAME", "m2", "m3"],
        &["INCRBYFLOAT", "f", "10.5"],
        &["INCRBYFLOAT", "f", "0.1"],
        &["SET", "k", "v", "NX", "XX"],
        &["SET", "k", "v", "GET"],
        &["SET", "k", "w", "GET"],
        &["OBJECT", "ENCODING", "k"],
        &["DEL", "a", "k", "nokey"],
        &["DECRBY", "d", "-9223372036854775808"],
        &["DBSIZE"],
        &["SELECT", "x"],
        &["ECHO"],
        &["COPY", "s", "s2"],
        &["GET", "s2"],
        &["CLIENT", "SETNAME", "has space"],
        &["CLIENT", "GETNAME"],
        &["CONFIG", "GET", "maxmemory-policy"],
        &["CONFIG", "SET", "daemonize", "yes"],
        &["WAIT", "0", "0"],
        &["FLUSHDB"],
        &["DBSIZE"],
    ];
    for cmd in script {
        let mut req = format!("*{}\r\n", cmd.len()).into_bytes();
        for a in *cmd {
            req.extend_from_slice(format!("${}\r\n{a}\r\n", a.len()).as_bytes());
        }
        // A PING after each command marks the end of its reply on both sides.
        req.extend_from_slice(b"*1\r\n$4\r\nPING\r\n");
        let a = reply_until_pong(&mut ours, &req);
        let b = reply_until_pong(&mut theirs, &req);
        assert_eq!(String::from_utf8_lossy(&a), String::from_utf8_lossy(&b), "reply to {cmd:?} differs from redis-server");
    }
}

fn reply_until_pong(s: &mut TcpStream, req: &[u8]) -> Vec<u8> {
    s.write_all(req).expect("write");
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    while !got.ends_with(b"+PONG\r\n") {
        let n = s.read(&mut buf).expect("read");
        assert!(n > 0, "connection closed");
        got.extend_from_slice(&buf[..n]);
    }
    got.truncate(got.len() - 7);
    got
}

/// COMMAND INFO's ACL categories (and their order) equal redis-server's for
/// every command and container subcommand (`config|get`) we implement; a
/// container's subcommand list also names only subcommands Redis has.
#[test]
fn acl_categories_match_redis_server() {
    let Some((_tmp, redis)) = reference_redis() else { return };
    fn strings(v: &redis::Value) -> Vec<String> {
        match v {
            redis::Value::Array(items) | redis::Value::Set(items) => items
                .iter()
                .map(|i| match i {
                    redis::Value::SimpleString(s) => s.clone(),
                    redis::Value::BulkString(b) => String::from_utf8_lossy(b).into_owned(),
                    other => panic!("not a string: {other:?}"),
                })
                .collect(),
            other => panic!("not an array: {other:?}"),
        }
    }
    /// (categories, arity) from COMMAND INFO name.
    fn info(c: &mut redis::Connection, name: &str) -> Option<(Vec<String>, i64)> {
        let reply: redis::Value = redis::cmd("COMMAND").arg("INFO").arg(name).query(c).expect("COMMAND INFO");
        let redis::Value::Array(entries) = reply else { panic!("COMMAND INFO {name}: {reply:?}") };
        match entries.first() {
            Some(redis::Value::Array(e)) => {
                let redis::Value::Int(arity) = e[1] else { panic!("COMMAND INFO {name}: arity {:?}", e[1]) };
                Some((strings(&e[6]), arity))
            }
            _ => None,
        }
    }
    /// Redis 7.2 subcommands we have because current clients send them.
    const NEWER_THAN_7_0: &[&str] = &["client|setinfo"];
    let mut theirs = support::conn(redis.port);
    let h = start(&[]);
    let mut ours = support::conn(h.port());
    let names: Vec<String> = redis::cmd("COMMAND").arg("LIST").query(&mut ours).expect("COMMAND LIST");
    let mut compared = 0;
    for name in names.iter().filter(|n| !NEWER_THAN_7_0.contains(&n.as_str())) {
        let Some(want) = info(&mut theirs, name) else { panic!("{name}: not a Redis 7.0 command") };
        let got = info(&mut ours, name).expect("our own command");
        assert_eq!(got, want, "ACL categories and arity of {name}");
        compared += 1;
    }
    assert!(names.iter().any(|n| n == "config|get"), "COMMAND LIST names subcommands");
    assert!(compared > 220, "only {compared} commands compared");
}

/// CONFIG GET lists the old names (`slave-*`, `*-ziplist-*`) beside the new
/// ones, with the same values, exactly as redis-server does.
#[test]
fn config_get_lists_alias_names_like_redis_server() {
    let Some((_tmp, redis)) = reference_redis() else { return };
    let mut theirs = support::conn(redis.port);
    let h = start(&[]);
    let mut ours = support::conn(h.port());
    for c in [&mut theirs, &mut ours] {
        let () = redis::cmd("CONFIG").arg("SET").arg("hash-max-listpack-value").arg("65").query(c).expect("CONFIG SET");
    }
    for pattern in ["*slave*", "*ziplist*", "hash-max-*"] {
        let mut got: Vec<(String, String)> = redis::cmd("CONFIG").arg("GET").arg(pattern).query(&mut ours).expect("ours");
        let mut want: Vec<(String, String)> = redis::cmd("CONFIG").arg("GET").arg(pattern).query(&mut theirs).expect("theirs");
        got.sort();
        want.sort();
        let names = |v: &[(String, String)]| v.iter().map(|(k, _)| k.clone()).collect::<Vec<_>>();
        assert_eq!(names(&got), names(&want), "names for CONFIG GET {pattern}");
        if pattern != "*slave*" {
            // slave-* values depend on each server's replication defaults; these must be equal.
            assert_eq!(got, want, "values for CONFIG GET {pattern}");
        }
    }
}

/// Container commands answer like redis-server: an unknown subcommand, a
/// subcommand with the wrong number of arguments (by its table arity, or by
/// its own check), a container alone, and COMMAND INFO of a subcommand.
#[test]
fn container_subcommands_answer_like_redis_server() {
    let Some((_tmp, redis)) = reference_redis() else { return };
    let mut theirs = support::conn(redis.port);
    let h = start(&[]);
    let mut ours = support::conn(h.port());
    fn error_of(c: &mut redis::Connection, args: &[&str]) -> String {
        let mut cmd = redis::cmd(args[0]);
        for a in &args[1..] {
            cmd.arg(*a);
        }
        match cmd.query::<redis::Value>(c) {
            Err(e) => format!("{:?} {}", e.code(), e.detail().unwrap_or_default()),
            Ok(v) => panic!("{args:?} succeeded: {v:?}"),
        }
    }
    for args in [
        &["CONFIG", "NOPE"][..],
        &["config", "get"],
        &["CONFIG"],
        &["OBJECT", "ENCODING"],
        &["SLOWLOG", "GET", "1", "2"],
        &["CLIENT", "nope", "x"],
        &["PUBSUB", "NUMPAT", "x"],
        &["MEMORY", "USAGE"],
        &["COMMAND", "GETKEYS", "get"],
        &["CLUSTER", "KEYSLOT"],
    ] {
        assert_eq!(error_of(&mut ours, args), error_of(&mut theirs, args), "{args:?}");
    }
    for name in ["config|get", "object|encoding", "memory|usage", "client|kill", "cluster|myid"] {
        let q = |c: &mut redis::Connection| -> redis::Value { redis::cmd("COMMAND").arg("INFO").arg(name).query(c).expect("COMMAND INFO") };
        let (got, want) = (q(&mut ours), q(&mut theirs));
        let head = |v: &redis::Value| match v {
            redis::Value::Array(e) => match e.first() {
                Some(redis::Value::Array(f)) => f[..6].to_vec(),
                other => panic!("{name}: {other:?}"),
            },
            other => panic!("{name}: {other:?}"),
        };
        assert_eq!(head(&got), head(&want), "COMMAND INFO {name}: name, arity, flags, key range");
    }
    let keys: Vec<String> = redis::cmd("COMMAND").arg("GETKEYS").arg("OBJECT").arg("ENCODING").arg("k1").query(&mut ours).expect("GETKEYS");
    assert_eq!(keys, ["k1"], "a subcommand's key positions");
}

/// WATCH across SWAPDB with keys past their TTL, as Redis 7.0 decides:
/// nothing replaced by an expired key, or an expired key by another, is no
/// change; an expired key replaced by a live one is. Same EXEC replies as
/// redis-server.
#[test]
fn watch_survives_swapdb_that_only_moves_expired_keys() {
    let Some((_dir, redis)) = reference_redis() else { return };
    let h = start(&["--enable-debug-command", "yes"]);
    let exec_after_swap = |port: u16, db0: Option<(&str, u64)>, db1: Option<(&str, u64)>| -> redis::Value {
        let mut c = redis::Client::open(format!("redis://127.0.0.1:{port}/")).unwrap().get_connection().unwrap();
        let q = |c: &mut redis::Connection, args: &[&str]| -> redis::Value {
            let mut cmd = redis::cmd(args[0]);
            for a in &args[1..] {
                cmd.arg(*a);
            }
            cmd.query(c).unwrap()
        };
        q(&mut c, &["FLUSHALL"]);
        q(&mut c, &["DEBUG", "SET-ACTIVE-EXPIRE", "0"]);
        for (db, key) in [("0", db0), ("1", db1)] {
            if let Some((v, px)) = key {
                q(&mut c, &["SELECT", db]);
                q(&mut c, &["SET", "x", v, "PX", &px.to_string()]);
            }
        }
        // Wait (polling the server's clock) until 1 ms TTLs are past.
        let now_ms = |c: &mut redis::Connection| -> u64 {
            let t: Vec<u64> = redis::cmd("TIME").query(c).unwrap();
            t[0] * 1000 + t[1] / 1000
        };
        let start = now_ms(&mut c);
        let deadline = Instant::now() + Duration::from_secs(5);
        while now_ms(&mut c) < start + 3 {
            assert!(Instant::now() < deadline, "server clock stuck");
        }
        q(&mut c, &["SELECT", "1"]);
        q(&mut c, &["WATCH", "x"]);
        q(&mut c, &["SWAPDB", "0", "1"]);
        q(&mut c, &["MULTI"]);
        q(&mut c, &["PING"]);
        let r = q(&mut c, &["EXEC"]);
        q(&mut c, &["DEBUG", "SET-ACTIVE-EXPIRE", "1"]);
        r
    };
    let cases = [
        ("nothing replaced by an expired key", Some(("foo", 1)), None),
        ("an expired key replaced by another", Some(("bar", 1)), Some(("foo", 1))),
        ("an expired key replaced by a live one", Some(("bar", 100_000)), Some(("foo", 1))),
        ("a live key replaced by nothing", None, Some(("foo", 100_000))),
    ];
    for (what, db0, db1) in cases {
        let ours = exec_after_swap(h.port(), db0, db1);
        let theirs = exec_after_swap(redis.port, db0, db1);
        assert_eq!(ours, theirs, "{what}");
    }
    assert_eq!(exec_after_swap(h.port(), Some(("foo", 1)), None), redis::Value::Array(vec![redis::Value::SimpleString("PONG".into())]));
}
