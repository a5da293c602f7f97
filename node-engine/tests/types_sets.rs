//! Set commands against an in-process node: replies, errors, WRONGTYPE, RESP3.

mod types_support;
use redis::Commands;
use std::collections::BTreeSet;
use types_support::{client, start_node, Raw};

const WRONGTYPE: &str = "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n";

#[test]
fn set_algebra_with_redis_client() {
    let node = start_node();
    let mut c = client(node.port());
    let _: i64 = c.sadd("a", &["1", "2", "3", "4"]).expect("redis reply");
    let _: i64 = c.sadd("b", &["3", "4", "5"]).expect("redis reply");
    let inter: BTreeSet<String> = c.sinter(&["a", "b"]).expect("redis reply");
    assert_eq!(inter, ["3", "4"].iter().map(|s| s.to_string()).collect());
    let union: BTreeSet<String> = c.sunion(&["a", "b"]).expect("redis reply");
    assert_eq!(union.len(), 5);
    let diff: BTreeSet<String> = c.sdiff(&["a", "b"]).expect("redis reply");
    assert_eq!(diff, ["1", "2"].iter().map(|s| s.to_string()).collect());
    let n: i64 = c.sinterstore("dst", &["a", "b"]).expect("redis reply");
    assert_eq!(n, 2);
    let n: i64 = c.sunionstore("dst", &["a", "b"]).expect("redis reply");
    assert_eq!(n, 5);
    let n: i64 = c.sdiffstore("dst", &["a", "a"]).expect("redis reply");
    assert_eq!(n, 0);
    let exists: bool = c.exists("dst").expect("redis reply");
    assert!(!exists, "an empty store result deletes the destination");
    let card: i64 = redis::cmd("SINTERCARD").arg(2).arg("a").arg("b").arg("LIMIT").arg(1).query(&mut c).expect("redis reply");
    assert_eq!(card, 1);
    let moved: bool = c.smove("a", "b", "1").expect("redis reply");
    assert!(moved);
    let is: bool = c.sismember("b", "1").expect("redis reply");
    assert!(is);
    let popped: Vec<String> = redis::cmd("SPOP").arg("a").arg(10).query(&mut c).expect("redis reply");
    assert_eq!(popped.len(), 3);
    let exists: bool = c.exists("a").expect("redis reply");
    assert!(!exists);
}

#[test]
fn set_replies_and_errors_are_exact() {
    let node = start_node();
    let mut r = Raw::connect(node.port());
    assert_eq!(r.cmd(&["SADD", "s", "a", "b", "a"]), ":2\r\n");
    assert_eq!(r.cmd(&["SREM", "s", "a", "zz"]), ":1\r\n");
    assert_eq!(r.cmd(&["SMISMEMBER", "s", "b", "zz"]), "*2\r\n:1\r\n:0\r\n");
    assert_eq!(r.cmd(&["SCARD", "nokey"]), ":0\r\n");
    assert_eq!(r.cmd(&["SPOP", "nokey"]), "$-1\r\n");
    assert_eq!(r.cmd(&["SPOP", "nokey", "3"]), "*0\r\n");
    assert_eq!(r.cmd(&["SPOP", "s", "-1"]), "-ERR value is out of range, must be positive\r\n");
    assert_eq!(r.cmd(&["SRANDMEMBER", "s", "-3"]), "*3\r\n$1\r\nb\r\n$1\r\nb\r\n$1\r\nb\r\n");
    assert_eq!(r.cmd(&["SRANDMEMBER", "nokey"]), "$-1\r\n");
    assert_eq!(r.cmd(&["SINTERCARD", "0", "s"]), "-ERR numkeys should be greater than 0\r\n");
    assert_eq!(r.cmd(&["SINTERCARD", "3", "s"]), "-ERR Number of keys can't be greater than number of args\r\n");
    assert_eq!(r.cmd(&["SINTERCARD", "1", "s", "LIMIT", "-1"]), "-ERR LIMIT can't be negative\r\n");
    assert_eq!(r.cmd(&["SINTER", "s", "nokey"]), "*0\r\n");
    assert_eq!(r.cmd(&["SET", "str", "v"]), "+OK\r\n");
    assert_eq!(r.cmd(&["SINTER", "s", "nokey", "str"]), WRONGTYPE);
    assert_eq!(r.cmd(&["SADD", "str", "a"]), WRONGTYPE);
    assert_eq!(r.cmd(&["SMOVE", "s", "str", "b"]), WRONGTYPE);
    assert_eq!(r.cmd(&["SMEMBERS", "str"]), WRONGTYPE);
    assert_eq!(r.cmd(&["SSCAN", "s", "0"]), "*2\r\n$1\r\n0\r\n*1\r\n$1\r\nb\r\n");
}

#[test]
fn sets_are_resp3_sets() {
    let node = start_node();
    let mut r = Raw::resp3(node.port());
    r.cmd(&["SADD", "s", "x"]);
    assert_eq!(r.cmd(&["SMEMBERS", "s"]), "~1\r\n$1\r\nx\r\n");
    assert_eq!(r.cmd(&["SUNION", "s", "nokey"]), "~1\r\n$1\r\nx\r\n");
    assert_eq!(r.cmd(&["SPOP", "s", "0"]), "~0\r\n");
    assert_eq!(r.cmd(&["SPOP", "s", "1"]), "~1\r\n$1\r\nx\r\n");
    assert_eq!(r.cmd(&["EXISTS", "s"]), ":0\r\n");
}

#[test]
fn sscan_walks_large_sets_completely() {
    let node = start_node();
    let mut c = client(node.port());
    let members: Vec<String> = (0..1500).map(|i| format!("m{i}")).collect();
    let _: i64 = c.sadd("big", &members).expect("redis reply");
    let mut seen = BTreeSet::new();
    let mut cursor = 0u64;
    loop {
        let (next, items): (u64, Vec<String>) =
            redis::cmd("SSCAN").arg("big").arg(cursor).arg("COUNT").arg(50).query(&mut c).expect("redis reply");
        seen.extend(items);
        cursor = next;
        if cursor == 0 {
            break;
        }
    }
    assert_eq!(seen.len(), 1500);
}
