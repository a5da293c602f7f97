//! Introspection against an in-process node: the latency monitor and
//! histograms, CLIENT LIST/KILL details, MONITOR's view of scripts.

mod types_support;
use types_support::{start_node, Raw};

#[test]
fn latency_monitor_records_slow_commands_and_histograms_count_calls() {
    let node = start_node();
    let mut r = Raw::connect(node.port());
    assert_eq!(r.cmd(&["LATENCY", "LATEST"]), "*0\r\n");
    assert!(r.cmd(&["LATENCY", "DOCTOR"]).contains("Latency monitoring is disabled"));
    assert_eq!(r.cmd(&["CONFIG", "SET", "latency-monitor-threshold", "5"]), "+OK\r\n");
    assert_eq!(r.cmd(&["DEBUG", "SLEEP", "0.02"]), "+OK\r\n");
    let latest = r.cmd(&["LATENCY", "LATEST"]);
    assert!(latest.starts_with("*1\r\n*4\r\n$7\r\ncommand\r\n:"), "{latest}");
    let history = r.cmd(&["LATENCY", "HISTORY", "command"]);
    assert!(history.starts_with("*1\r\n*2\r\n:"), "{history}");
    let ms: i64 = history.rsplit(':').next().and_then(|t| t.trim().parse().ok()).unwrap_or(0);
    assert!((20..1000).contains(&ms), "DEBUG SLEEP 0.02 recorded as {ms} ms");
    assert!(r.cmd(&["LATENCY", "GRAPH", "command"]).contains("command - high"));
    assert_eq!(r.cmd(&["LATENCY", "GRAPH", "nope"]), "-ERR No samples available for event 'nope'\r\n");
    assert!(r.cmd(&["LATENCY", "DOCTOR"]).contains("1. command: 1 latency spikes"));
    assert_eq!(r.cmd(&["LATENCY", "RESET", "nope"]), ":0\r\n");
    assert_eq!(r.cmd(&["LATENCY", "RESET"]), ":1\r\n");
    assert_eq!(r.cmd(&["LATENCY", "LATEST"]), "*0\r\n");
    // Histograms: two SETs, one CLIENT ID; a container lists its subcommands.
    assert_eq!(r.cmd(&["CONFIG", "RESETSTAT"]), "+OK\r\n");
    r.cmd(&["SET", "a", "1"]);
    r.cmd(&["SET", "b", "2"]);
    r.cmd(&["CLIENT", "ID"]);
    let h = r.cmd(&["LATENCY", "HISTOGRAM", "set", "blabla", "client"]);
    assert!(h.starts_with("*4\r\n$3\r\nset\r\n*4\r\n$5\r\ncalls\r\n:2\r\n$14\r\nhistogram_usec\r\n"), "{h}");
    assert!(h.contains("$9\r\nclient|id\r\n*4\r\n$5\r\ncalls\r\n:1\r\n"), "{h}");
    assert_eq!(r.cmd(&["LATENCY", "HELP", "x"]), "-ERR wrong number of arguments for 'latency|help' command\r\n");
    let info = r.cmd(&["INFO", "latencystats"]);
    assert!(info.contains("latency_percentiles_usec_set:p50="), "{info}");
}

#[test]
fn client_list_shows_the_running_command_and_kill_checks_its_filters() {
    let node = start_node();
    let mut r = Raw::connect(node.port());
    let line = r.cmd(&["CLIENT", "LIST"]);
    assert!(line.contains(" qbuf=26 ") && line.contains(" cmd=client|list "), "{line}");
    let mut other = Raw::connect(node.port());
    // A reply proves the server registered the connection.
    assert_eq!(other.cmd(&["PING"]), "+PONG\r\n");
    assert!(r.cmd(&["CLIENT", "LIST", "TYPE", "normal"]).matches("id=").count() >= 2);
    assert_eq!(r.cmd(&["CLIENT", "LIST", "TYPE", "bogus"]), "-ERR Unknown client type 'bogus'\r\n");
    assert_eq!(r.cmd(&["CLIENT", "LIST", "ID", "x"]), "-ERR Invalid client ID\r\n");
    assert_eq!(r.cmd(&["CLIENT", "KILL", "ID", "0"]), "-ERR client-id should be greater than 0\r\n");
    assert_eq!(r.cmd(&["CLIENT", "KILL", "TYPE", "x"]), "-ERR Unknown client type 'x'\r\n");
    assert_eq!(r.cmd(&["CLIENT", "KILL", "USER", "x"]), "-ERR No such user 'x'\r\n");
    assert_eq!(r.cmd(&["CLIENT", "KILL", "SKIPME", "maybe"]), "-ERR syntax error\r\n");
    assert_eq!(r.cmd(&["CLIENT", "KILL", "TYPE", "normal", "SKIPME", "yes"]), ":1\r\n");
    drop(other);
    // CLIENT REPLY SKIP then ON: ON's own OK is sent.
    r.send(&["CLIENT", "REPLY", "SKIP"]);
    assert_eq!(r.cmd(&["CLIENT", "REPLY", "ON"]), "+OK\r\n");
    assert_eq!(
        r.cmd(&["CONFIG", "SET", "maxmemory", "1", "maxmemory", "2"]),
        "-ERR CONFIG SET failed (possibly related to argument 'maxmemory') - duplicate parameter\r\n"
    );
}

#[test]
fn monitor_shows_a_script_before_its_commands_and_hides_passwords() {
    let node = start_node();
    let mut mon = Raw::connect(node.port());
    assert_eq!(mon.cmd(&["MONITOR"]), "+OK\r\n");
    let mut r = Raw::connect(node.port());
    r.cmd(&["EVAL", "redis.call('set', KEYS[1], ARGV[1])", "1", "foo", "bar"]);
    let first = String::from_utf8_lossy(&mon.read_reply()).into_owned();
    assert!(first.contains("\"EVAL\" \"redis.call('set', KEYS[1], ARGV[1])\" \"1\" \"foo\" \"bar\""), "{first}");
    let second = String::from_utf8_lossy(&mon.read_reply()).into_owned();
    assert!(second.contains(" lua] \"set\" \"foo\" \"bar\""), "{second}");
    r.cmd(&["AUTH", "secret"]);
    let auth = String::from_utf8_lossy(&mon.read_reply()).into_owned();
    assert!(auth.contains("\"AUTH\" \"(redacted)\"") && !auth.contains("secret"), "{auth}");
}

/// COMMAND DOCS gives Redis's own docs (summary, since, group, complexity,
/// arguments...), byte for byte in RESP2 and RESP3, for commands without
/// subcommands (a container's subcommands come in hash order, which differs
/// between two redis-server processes too).
#[test]
fn command_docs_match_redis_server() {
    let Some(redis) = types_support::start_redis() else { return };
    let node = start_node();
    for resp3 in [false, true] {
        let (mut ours, mut theirs) =
            if resp3 { (Raw::resp3(node.port()), Raw::resp3(redis.port)) } else { (Raw::connect(node.port()), Raw::connect(redis.port)) };
        for names in [&["get"][..], &["set", "xadd", "zadd"], &["eval", "georadius", "client|list", "config|get"], &["nosuch", "get"]] {
            let mut args = vec!["COMMAND", "DOCS"];
            args.extend_from_slice(names);
            ours.send(&args);
            theirs.send(&args);
            let (a, b) = (ours.read_reply(), theirs.read_reply());
            assert_eq!(String::from_utf8_lossy(&a), String::from_utf8_lossy(&b), "COMMAND DOCS {names:?} (RESP3: {resp3})");
        }
    }
}

/// The query buffer a big argument grew is trimmed back to the client's
/// recent peak once it sends small commands again (Redis's querybuf
/// resize), not kept at the big size while the client stays busy.
#[test]
fn a_big_argument_does_not_pin_a_big_query_buffer() {
    let node = start_node();
    let mut big = Raw::connect(node.port());
    let mut watcher = Raw::connect(node.port());
    assert_eq!(big.cmd(&["CLIENT", "SETNAME", "big"]), "+OK\r\n");
    let qbuf_total = |w: &mut Raw| -> usize {
        let list = w.cmd(&["CLIENT", "LIST"]);
        let line = list.lines().find(|l| l.contains(" name=big ")).expect("the client is listed").to_string();
        let field =
            |name: &str| -> usize { line.split(' ').find_map(|kv| kv.strip_prefix(name)).and_then(|v| v.parse().ok()).expect("a number") };
        field("qbuf=") + field("qbuf-free=")
    };
    let value = "A".repeat(400_000);
    assert_eq!(big.cmd(&["SET", "x", &value]), "+OK\r\n");
    let grown = qbuf_total(&mut watcher);
    assert!(grown >= 400_000, "the buffer holds the argument: {grown}");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    loop {
        assert_eq!(big.cmd(&["SET", "x", "small"]), "+OK\r\n");
        let now = qbuf_total(&mut watcher);
        if now < grown {
            assert!(now > 0 && now <= 32 * 1024, "trimmed to the recent peak, not freed: {now}");
            break;
        }
        assert!(std::time::Instant::now() < deadline, "still {now} bytes after 5 s of small commands");
    }
}
