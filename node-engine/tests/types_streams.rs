//! Streams against an in-process node: replies compared byte for byte with
//! redis-server, and consumer groups used as a worker pool would use them.

mod types_support;
use std::time::{Duration, Instant};
use types_support::{client, start_node, Raw};

/// Deterministic commands only: explicit IDs, no idle times or seen times.
const SCRIPT: &str = r#"
xadd s 1-1 a 1 b 2
xadd s 1-2 a 3 b 4
xadd s 1-* c 5
xadd s 1 a 1
xadd s 0-0 a 1
xadd s 0-* a 1
xadd s 2-0 a
xadd s NOMKSTREAM 3-0 a 1
xadd missing NOMKSTREAM 5-0 a 1
exists missing
xadd s MAXLEN 10 3-0 a 1
xadd s MAXLEN = 3 4-0 a 1 b 2
xlen s
xrange s - +
xrange s (1-1 + COUNT 2
xrevrange s + - COUNT 1
xrevrange s + (3-0
xrange s 1 1
xrange s - + COUNT 0
xrange s - + COUNT -1
xrange s x +
xrange s (- +
xrange s - + FOO
xrange nokey - +
xadd s MAXLEN ~ 1 LIMIT 5 5-0 z 9
xadd s MAXLEN 1 LIMIT 5 6-0 z 9
xadd s LIMIT 5 6-0 z 9
xadd s MAXLEN 1 MINID 1 6-0 z 9
xadd s MAXLEN -1 6-0 z 9
xtrim s MAXLEN -1
xtrim s LIMIT 1
xtrim s MINID 4
xtrim s MAXLEN ~ 0
xtrim nokey MAXLEN 0
xrange s - +
xdel s 5-0 99-0
xdel s bad
xdel nokey 1-0
xsetid s 1-0
xsetid nokey 1-0
xsetid s 100-0 ENTRIESADDED 1
xsetid s 100-0 ENTRIESADDED 50 MAXDELETEDID 5-0
xsetid s 100-0 MAXDELETEDID 200-0
xsetid s 100-0 FOO
xgroup create s g 0
xgroup create s g 0
xgroup create nokey g $
xgroup create nokey2 g $ MKSTREAM
xgroup create nokey3 g bad MKSTREAM
exists nokey3
xgroup create s g2 $ ENTRIESREAD -5
xgroup createconsumer s g alice
xgroup createconsumer s g alice
xgroup createconsumer s nogroup x
xgroup foo s g
xadd s 101-0 f v
xadd s 102-0 f v
xadd s 103-0 f2 v2
xadd s 104-0 f v
xreadgroup GROUP g alice COUNT 1 STREAMS s >
xreadgroup GROUP g bob STREAMS s >
xreadgroup GROUP g bob STREAMS s 0
xreadgroup GROUP g bob COUNT 1 STREAMS s 102-0
xreadgroup GROUP g bob STREAMS s $
xreadgroup GROUP nog bob STREAMS s >
xreadgroup GROUP g bob STREAMS s
xreadgroup STREAMS s >
xreadgroup GROUP g carol NOACK STREAMS s >
xread STREAMS s 101-0
xread COUNT 1 STREAMS s nokey2 0 0
xread STREAMS s nokey $ $
xread STREAMS s >
xread GROUP g a STREAMS s 0
xread NOACK STREAMS s 0
xread STREAMS s 0 1
xread BLOCK -1 STREAMS s 0
xread BLOCK x STREAMS s 0
xpending s g
xpending s g - + 10 nobody
xpending s g - + 0
xpending s g - + x
xpending s g IDLE 0 - +
xpending nokey g
xpending s nog
xack s g 101-0 999-0
xack s g bad
xack nokey g bad
xack s nog bad
xpending s g
xclaim s g carol 0 102-0 JUSTID
xclaim s g carol 0 102-0 103-0 FORCE JUSTID
xclaim s g carol 0 102-0 FOO
xclaim s g carol x 102-0
xclaim s nog carol 0 102-0
xclaim s g carol 0 102-0 IDLE x
xautoclaim s g dave 0 0 COUNT 1 JUSTID
xautoclaim s g dave 0 0 COUNT 0
xautoclaim s g dave x 0
xautoclaim s nog dave 0 0
xdel s 104-0
xautoclaim s g erin 0 0 JUSTID
xpending s g
xinfo groups s
xgroup delconsumer s g dave
xgroup delconsumer s g nobody
xgroup setid s g 0 ENTRIESREAD 0
xgroup setid s g $
xgroup setid s nog 0
xinfo groups s
xgroup destroy s g
xgroup destroy s g
xinfo groups s
xinfo groups nokey
xinfo stream s FULL COUNT
xinfo stream s FOO
set str x
xadd str 1-0 a b
xrange str - +
xread STREAMS str 0
xgroup create str g $
xinfo stream str
xinfo stream nokey
type s
object encoding s
xinfo help
xgroup help
xinfo help x
"#;

#[test]
fn stream_replies_match_redis_server() {
    types_support::assert_same_as_redis(SCRIPT);
}

fn ids(v: &redis::Value) -> Vec<String> {
    // [[key, [[id, [f, v...]]...]]] -> the IDs.
    let redis::Value::Array(streams) = v else { return Vec::new() };
    let mut out = Vec::new();
    for s in streams {
        let redis::Value::Array(kv) = s else { continue };
        let Some(redis::Value::Array(entries)) = kv.get(1) else { continue };
        for e in entries {
            if let redis::Value::Array(parts) = e {
                if let Some(redis::Value::BulkString(id)) = parts.first() {
                    out.push(String::from_utf8_lossy(id).into_owned());
                }
            }
        }
    }
    out
}

#[test]
fn workers_share_a_group_ack_and_claim() {
    let node = start_node();
    let mut c = client(node.port());
    for i in 0..30 {
        let _: String = redis::cmd("XADD").arg("jobs").arg("*").arg("n").arg(i).query(&mut c).expect("xadd");
    }
    let _: () = redis::cmd("XGROUP").arg("CREATE").arg("jobs").arg("pool").arg("0").query(&mut c).expect("create");
    // Three workers take ten each; nobody gets an entry twice.
    let mut seen = std::collections::HashSet::new();
    for w in ["w1", "w2", "w3"] {
        let got: redis::Value = redis::cmd("XREADGROUP")
            .arg("GROUP")
            .arg("pool")
            .arg(w)
            .arg("COUNT")
            .arg(10)
            .arg("STREAMS")
            .arg("jobs")
            .arg(">")
            .query(&mut c)
            .expect("xreadgroup");
        let got = ids(&got);
        assert_eq!(got.len(), 10, "{w}");
        for id in got {
            assert!(seen.insert(id), "an entry went to two workers");
        }
    }
    // w1 acknowledges its work; w2 dies; w3 claims w2's entries.
    let pending: Vec<(String, String, i64, i64)> =
        redis::cmd("XPENDING").arg("jobs").arg("pool").arg("-").arg("+").arg(100).arg("w1").query(&mut c).expect("xpending");
    let w1_ids: Vec<&str> = pending.iter().map(|p| p.0.as_str()).collect();
    let acked: i64 = redis::cmd("XACK").arg("jobs").arg("pool").arg(&w1_ids).query(&mut c).expect("xack");
    assert_eq!(acked, 10);
    let claimed: (String, Vec<String>, Vec<String>) = redis::cmd("XAUTOCLAIM")
        .arg("jobs")
        .arg("pool")
        .arg("w3")
        .arg(0)
        .arg("0")
        .arg("COUNT")
        .arg(100)
        .arg("JUSTID")
        .query(&mut c)
        .expect("xautoclaim");
    assert_eq!(claimed.1.len(), 20, "w2's and w3's entries now belong to w3");
    assert_eq!(claimed.0, "0-0", "the whole PEL was scanned");
    let summary: (i64, String, String, Vec<(String, String)>) =
        redis::cmd("XPENDING").arg("jobs").arg("pool").query(&mut c).expect("summary");
    assert_eq!(summary.0, 20);
    assert_eq!(summary.3, vec![("w3".to_string(), "20".to_string())]);
    let groups: Vec<std::collections::HashMap<String, redis::Value>> =
        redis::cmd("XINFO").arg("GROUPS").arg("jobs").query(&mut c).expect("xinfo");
    assert_eq!(groups[0].get("lag"), Some(&redis::Value::Int(0)));
    assert_eq!(groups[0].get("entries-read"), Some(&redis::Value::Int(30)));
}

#[test]
fn a_blocked_reader_is_woken_by_xadd_and_gets_only_new_entries() {
    let node = start_node();
    let mut w = Raw::connect(node.port());
    assert!(w.cmd(&["XADD", "s", "1-0", "old", "1"]).starts_with('$'));
    let mut group_reader = Raw::connect(node.port());
    assert_eq!(w.cmd(&["XGROUP", "CREATE", "s", "g", "$"]), "+OK\r\n");
    let mut reader = Raw::connect(node.port());
    reader.send(&["XREAD", "BLOCK", "0", "STREAMS", "s", "$"]);
    group_reader.send(&["XREADGROUP", "GROUP", "g", "c1", "BLOCK", "0", "STREAMS", "s", ">"]);
    // Both are blocked once CLIENT LIST shows them waiting.
    let deadline = Instant::now() + Duration::from_secs(5);
    while !w.cmd(&["INFO", "clients"]).contains("blocked_clients:2") {
        assert!(Instant::now() < deadline, "readers did not block");
        std::thread::sleep(Duration::from_millis(5));
    }
    assert_eq!(w.cmd(&["XADD", "s", "2-0", "new", "2"]), "$3\r\n2-0\r\n");
    // The first frame each reader gets is the new entry: nothing was sent before it.
    let expect = "*1\r\n*2\r\n$1\r\ns\r\n*1\r\n*2\r\n$3\r\n2-0\r\n*2\r\n$3\r\nnew\r\n$1\r\n2\r\n";
    assert_eq!(String::from_utf8_lossy(&reader.read_reply()), expect);
    assert_eq!(String::from_utf8_lossy(&group_reader.read_reply()), expect);
    assert_eq!(w.cmd(&["XPENDING", "s", "g", "-", "+", "10"]).matches("c1").count(), 1, "the woken group read is pending");
    // A timeout gives a null array; destroying the group fails the reader.
    assert_eq!(reader.cmd(&["XREAD", "BLOCK", "20", "STREAMS", "s", "$"]), "*-1\r\n");
    group_reader.send(&["XREADGROUP", "GROUP", "g", "c1", "BLOCK", "0", "STREAMS", "s", ">"]);
    while !w.cmd(&["INFO", "clients"]).contains("blocked_clients:1") {
        assert!(Instant::now() < deadline, "group reader did not block");
        std::thread::sleep(Duration::from_millis(5));
    }
    assert_eq!(w.cmd(&["XGROUP", "DESTROY", "s", "g"]), ":1\r\n");
    assert_eq!(
        String::from_utf8_lossy(&group_reader.read_reply()),
        "-NOGROUP the consumer group this client was blocked on no longer exists\r\n"
    );
    // Inside MULTI a blocking read does not wait.
    assert_eq!(w.cmd(&["MULTI"]), "+OK\r\n");
    assert_eq!(w.cmd(&["XREAD", "BLOCK", "0", "STREAMS", "s", "$"]), "+QUEUED\r\n");
    assert_eq!(w.cmd(&["EXEC"]), "*1\r\n*-1\r\n");
}
