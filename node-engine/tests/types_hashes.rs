//! Hash commands against an in-process node: replies, errors, WRONGTYPE, RESP3.

mod types_support;
use redis::Commands;
use types_support::{client, start_node, Raw};

const WRONGTYPE: &str = "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n";

#[test]
fn hash_basics_with_redis_client() {
    let node = start_node();
    let mut c = client(node.port());
    let added: i64 = redis::cmd("HSET").arg("h").arg("a").arg("1").arg("b").arg("2").query(&mut c).expect("redis reply");
    assert_eq!(added, 2);
    let v: Option<String> = c.hget("h", "a").expect("redis reply");
    assert_eq!(v.as_deref(), Some("1"));
    let all: Vec<(String, String)> = c.hgetall("h").expect("redis reply");
    assert_eq!(all, vec![("a".into(), "1".into()), ("b".into(), "2".into())]);
    let n: i64 = c.hincr("h", "a", 41).expect("redis reply");
    assert_eq!(n, 42);
    let keys: Vec<String> = c.hkeys("h").expect("redis reply");
    assert_eq!(keys, vec!["a", "b"]);
    let vals: Vec<String> = c.hvals("h").expect("redis reply");
    assert_eq!(vals, vec!["42", "2"]);
    let del: i64 = c.hdel("h", &["a", "b", "zz"]).expect("redis reply");
    assert_eq!(del, 2);
    let exists: bool = c.exists("h").expect("redis reply");
    assert!(!exists, "an emptied hash must be deleted");
}

#[test]
fn hash_replies_and_errors_are_exact() {
    let node = start_node();
    let mut r = Raw::connect(node.port());
    assert_eq!(r.cmd(&["HSET", "h", "a", "1", "b", "2"]), ":2\r\n");
    assert_eq!(r.cmd(&["HSET", "h", "a"]), "-ERR wrong number of arguments for 'hset' command\r\n");
    assert_eq!(r.cmd(&["HMSET", "h", "c", "3"]), "+OK\r\n");
    assert_eq!(r.cmd(&["HSETNX", "h", "a", "9"]), ":0\r\n");
    assert_eq!(r.cmd(&["HSETNX", "h", "d", "4"]), ":1\r\n");
    assert_eq!(r.cmd(&["HMGET", "h", "a", "zz", "d"]), "*3\r\n$1\r\n1\r\n$-1\r\n$1\r\n4\r\n");
    assert_eq!(r.cmd(&["HEXISTS", "h", "zz"]), ":0\r\n");
    assert_eq!(r.cmd(&["HLEN", "h"]), ":4\r\n");
    assert_eq!(r.cmd(&["HSTRLEN", "h", "a"]), ":1\r\n");
    assert_eq!(r.cmd(&["HGET", "nokey", "a"]), "$-1\r\n");
    assert_eq!(r.cmd(&["HSET", "h", "s", "abc"]), ":1\r\n");
    assert_eq!(r.cmd(&["HINCRBY", "h", "s", "1"]), "-ERR hash value is not an integer\r\n");
    assert_eq!(r.cmd(&["HINCRBY", "h", "a", "x"]), "-ERR value is not an integer or out of range\r\n");
    assert_eq!(r.cmd(&["HSET", "h", "big", "9223372036854775807"]), ":1\r\n");
    assert_eq!(r.cmd(&["HINCRBY", "h", "big", "1"]), "-ERR increment or decrement would overflow\r\n");
    assert_eq!(r.cmd(&["HINCRBYFLOAT", "h", "f", "1.5"]), "$3\r\n1.5\r\n");
    assert_eq!(r.cmd(&["HINCRBYFLOAT", "h", "f", "0.1"]), "$3\r\n1.6\r\n");
    assert_eq!(r.cmd(&["HINCRBYFLOAT", "h", "s", "1"]), "-ERR hash value is not a float\r\n");
    assert_eq!(r.cmd(&["HINCRBYFLOAT", "h", "f", "nan"]), "-ERR value is not a valid float\r\n");
    assert_eq!(r.cmd(&["HINCRBYFLOAT", "h", "f", "+inf"]), "-ERR value is NaN or Infinity\r\n");
    assert_eq!(r.cmd(&["HRANDFIELD", "nokey"]), "$-1\r\n");
    assert_eq!(r.cmd(&["HRANDFIELD", "nokey", "3"]), "*0\r\n");
    assert_eq!(r.cmd(&["HRANDFIELD", "h", "1", "foo"]), "-ERR syntax error\r\n");
    assert_eq!(r.cmd(&["HRANDFIELD", "h", "-9223372036854775807", "WITHVALUES"]), "-ERR value is out of range\r\n");
    assert_eq!(r.cmd(&["HRANDFIELD", "h", "-5"]).matches("\r\n$").count(), 5, "negative count repeats");
    assert_eq!(r.cmd(&["HSCAN", "h", "x"]), "-ERR invalid cursor\r\n");
    assert_eq!(r.cmd(&["SET", "str", "v"]), "+OK\r\n");
    for c in [&["HGET", "str", "a"][..], &["HSET", "str", "a", "b"], &["HGETALL", "str"], &["HLEN", "str"], &["HDEL", "str", "a"]] {
        assert_eq!(r.cmd(c), WRONGTYPE, "{c:?}");
    }
}

#[test]
fn hscan_walks_large_hashes_completely() {
    let node = start_node();
    let mut r = Raw::connect(node.port());
    let mut c = client(node.port());
    for i in 0..1000 {
        let _: i64 = c.hset("big", format!("f{i}"), i).expect("redis reply");
    }
    let mut seen = std::collections::HashSet::new();
    let mut cursor = 0u64;
    loop {
        let (next, items): (u64, Vec<String>) =
            redis::cmd("HSCAN").arg("big").arg(cursor).arg("COUNT").arg(100).query(&mut c).expect("redis reply");
        for pair in items.chunks(2) {
            seen.insert(pair[0].clone());
        }
        cursor = next;
        if cursor == 0 {
            break;
        }
    }
    assert_eq!(seen.len(), 1000);
    let m = r.cmd(&["HSCAN", "big", "0", "MATCH", "f99*", "COUNT", "2000"]);
    assert!(m.starts_with("*2\r\n$1\r\n0\r\n*22\r\n"), "{m}");
}

#[test]
fn hgetall_is_a_map_in_resp3() {
    let node = start_node();
    let mut r = Raw::resp3(node.port());
    r.cmd(&["HSET", "h", "a", "1", "b", "2"]);
    assert_eq!(r.cmd(&["HGETALL", "h"]), "%2\r\n$1\r\na\r\n$1\r\n1\r\n$1\r\nb\r\n$1\r\n2\r\n");
    assert_eq!(r.cmd(&["HGETALL", "nokey"]), "%0\r\n");
    assert_eq!(r.cmd(&["HGET", "h", "zz"]), "_\r\n");
    assert_eq!(r.cmd(&["HRANDFIELD", "h", "5", "WITHVALUES"]), "*2\r\n*2\r\n$1\r\na\r\n$1\r\n1\r\n*2\r\n$1\r\nb\r\n$1\r\n2\r\n");
}
