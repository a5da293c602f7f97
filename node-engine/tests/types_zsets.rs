//! Sorted-set commands against an in-process node: ranges, options, set
//! algebra, errors, RESP3 doubles and blocking BZPOPMIN.

mod types_support;
use redis::Commands;
use std::time::Duration;
use types_support::{client, start_node, Raw};

const WRONGTYPE: &str = "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n";

#[test]
fn zset_basics_with_redis_client() {
    let node = start_node();
    let mut c = client(node.port());
    let n: i64 = c.zadd_multiple("z", &[(1, "a"), (2, "b"), (3, "c")]).expect("redis reply");
    assert_eq!(n, 3);
    let s: Option<f64> = c.zscore("z", "b").expect("redis reply");
    assert_eq!(s, Some(2.0));
    let r: Option<i64> = c.zrank("z", "c").expect("redis reply");
    assert_eq!(r, Some(2));
    let r: Option<i64> = c.zrevrank("z", "c").expect("redis reply");
    assert_eq!(r, Some(0));
    let ws: Vec<(String, f64)> = c.zrange_withscores("z", 0, -1).expect("redis reply");
    assert_eq!(ws, vec![("a".into(), 1.0), ("b".into(), 2.0), ("c".into(), 3.0)]);
    let by: Vec<String> = c.zrangebyscore("z", "(1", "+inf").expect("redis reply");
    assert_eq!(by, vec!["b", "c"]);
    let inc: f64 = c.zincr("z", "a", 10).expect("redis reply");
    assert_eq!(inc, 11.0);
    let cnt: i64 = c.zcount("z", 2, 20).expect("redis reply");
    assert_eq!(cnt, 3);
    let popped: Vec<(String, f64)> = c.zpopmin("z", 1).expect("redis reply");
    assert_eq!(popped, vec![("b".into(), 2.0)]);
    let removed: i64 = c.zrem("z", &["a", "c"]).expect("redis reply");
    assert_eq!(removed, 2);
    let exists: bool = c.exists("z").expect("redis reply");
    assert!(!exists);
}

#[test]
fn zadd_options_and_errors_are_exact() {
    let node = start_node();
    let mut r = Raw::connect(node.port());
    assert_eq!(r.cmd(&["ZADD", "z", "1", "a", "2", "b"]), ":2\r\n");
    assert_eq!(r.cmd(&["ZADD", "z", "NX", "XX", "1", "a"]), "-ERR XX and NX options at the same time are not compatible\r\n");
    assert_eq!(r.cmd(&["ZADD", "z", "GT", "LT", "1", "a"]), "-ERR GT, LT, and/or NX options at the same time are not compatible\r\n");
    assert_eq!(r.cmd(&["ZADD", "z", "INCR", "1", "a", "2", "b"]), "-ERR INCR option supports a single increment-element pair\r\n");
    assert_eq!(r.cmd(&["ZADD", "z", "1", "a", "2"]), "-ERR syntax error\r\n");
    assert_eq!(r.cmd(&["ZADD", "z", "nan", "a"]), "-ERR value is not a valid float\r\n");
    assert_eq!(r.cmd(&["ZADD", "z", "CH", "5", "a", "2", "b", "9", "n"]), ":2\r\n");
    assert_eq!(r.cmd(&["ZADD", "z", "GT", "CH", "1", "a"]), ":0\r\n");
    assert_eq!(r.cmd(&["ZADD", "z", "LT", "CH", "1", "a"]), ":1\r\n");
    assert_eq!(r.cmd(&["ZADD", "z", "XX", "7", "q"]), ":0\r\n");
    assert_eq!(r.cmd(&["ZADD", "nokey", "XX", "INCR", "7", "q"]), "$-1\r\n");
    assert_eq!(r.cmd(&["EXISTS", "nokey"]), ":0\r\n");
    assert_eq!(r.cmd(&["ZADD", "z", "INCR", "1.1", "a"]), "$18\r\n2.1000000000000001\r\n");
    assert_eq!(r.cmd(&["ZADD", "z", "INCR", "NX", "1", "a"]), "$-1\r\n");
    assert_eq!(r.cmd(&["ZADD", "z", "inf", "i"]), ":1\r\n");
    assert_eq!(r.cmd(&["ZINCRBY", "z", "-inf", "i"]), "-ERR resulting score is not a number (NaN)\r\n");
    assert_eq!(r.cmd(&["ZSCORE", "z", "i"]), "$3\r\ninf\r\n");
    assert_eq!(r.cmd(&["ZMSCORE", "z", "b", "zz"]), "*2\r\n$1\r\n2\r\n$-1\r\n");
    assert_eq!(r.cmd(&["SET", "str", "v"]), "+OK\r\n");
    for c in [
        &["ZADD", "str", "1", "a"][..],
        &["ZRANGE", "str", "0", "1"],
        &["ZSCORE", "str", "a"],
        &["ZUNIONSTORE", "o", "1", "str"],
        &["BZPOPMIN", "str", "0"],
    ] {
        assert_eq!(r.cmd(c), WRONGTYPE, "{c:?}");
    }
}

#[test]
fn range_forms_and_errors_are_exact() {
    let node = start_node();
    let mut r = Raw::connect(node.port());
    r.cmd(&["ZADD", "z", "1", "a", "2", "b", "3", "c", "4", "d"]);
    assert_eq!(r.cmd(&["ZRANGE", "z", "0", "1", "REV"]), "*2\r\n$1\r\nd\r\n$1\r\nc\r\n");
    assert_eq!(r.cmd(&["ZRANGE", "z", "(1", "3", "BYSCORE"]), "*2\r\n$1\r\nb\r\n$1\r\nc\r\n");
    assert_eq!(r.cmd(&["ZRANGE", "z", "3", "(1", "BYSCORE", "REV", "WITHSCORES"]), "*4\r\n$1\r\nc\r\n$1\r\n3\r\n$1\r\nb\r\n$1\r\n2\r\n");
    assert_eq!(r.cmd(&["ZRANGE", "z", "-inf", "+inf", "BYSCORE", "LIMIT", "1", "2"]), "*2\r\n$1\r\nb\r\n$1\r\nc\r\n");
    assert_eq!(
        r.cmd(&["ZRANGE", "z", "0", "1", "LIMIT", "0", "1"]),
        "-ERR syntax error, LIMIT is only supported in combination with either BYSCORE or BYLEX\r\n"
    );
    assert_eq!(
        r.cmd(&["ZRANGE", "z", "-", "+", "BYLEX", "WITHSCORES"]),
        "-ERR syntax error, WITHSCORES not supported in combination with BYLEX\r\n"
    );
    assert_eq!(r.cmd(&["ZRANGE", "z", "0", "1", "BYSCORE", "BYLEX"]), "-ERR syntax error\r\n");
    assert_eq!(r.cmd(&["ZREVRANGEBYSCORE", "z", "+inf", "-inf", "LIMIT", "0", "1"]), "*1\r\n$1\r\nd\r\n");
    assert_eq!(r.cmd(&["ZRANGEBYSCORE", "z", "a", "2"]), "-ERR min or max is not a float\r\n");
    assert_eq!(r.cmd(&["ZCOUNT", "z", "(1", "3"]), ":2\r\n");
    r.cmd(&["ZADD", "lz", "0", "a", "0", "b", "0", "c", "0", "d"]);
    assert_eq!(r.cmd(&["ZRANGEBYLEX", "lz", "[b", "(d"]), "*2\r\n$1\r\nb\r\n$1\r\nc\r\n");
    assert_eq!(r.cmd(&["ZREVRANGEBYLEX", "lz", "+", "-", "LIMIT", "1", "2"]), "*2\r\n$1\r\nc\r\n$1\r\nb\r\n");
    assert_eq!(r.cmd(&["ZLEXCOUNT", "lz", "a", "b"]), "-ERR min or max not valid string range item\r\n");
    assert_eq!(r.cmd(&["ZREMRANGEBYLEX", "lz", "[a", "[b"]), ":2\r\n");
    assert_eq!(r.cmd(&["ZREMRANGEBYRANK", "z", "0", "0"]), ":1\r\n");
    assert_eq!(r.cmd(&["ZREMRANGEBYSCORE", "z", "(2", "+inf"]), ":2\r\n");
    assert_eq!(r.cmd(&["ZRANGE", "z", "0", "-1", "WITHSCORES"]), "*2\r\n$1\r\nb\r\n$1\r\n2\r\n");
    assert_eq!(r.cmd(&["ZPOPMIN", "z", "-1"]), "-ERR value is out of range, must be positive\r\n");
    assert_eq!(r.cmd(&["ZPOPMAX", "nokey"]), "*0\r\n");
    assert_eq!(r.cmd(&["ZRANGESTORE", "dst", "lz", "0", "-1"]), ":2\r\n");
    assert_eq!(r.cmd(&["ZRANGESTORE", "dst", "nokey", "0", "-1"]), ":0\r\n");
    assert_eq!(r.cmd(&["EXISTS", "dst"]), ":0\r\n");
}

#[test]
fn union_and_intersection_with_weights() {
    let node = start_node();
    let mut r = Raw::connect(node.port());
    r.cmd(&["ZADD", "u1", "1", "a", "2", "b", "3", "c"]);
    r.cmd(&["ZADD", "u2", "10", "b", "20", "c", "30", "d"]);
    r.cmd(&["SADD", "us", "a", "d"]);
    assert_eq!(r.cmd(&["ZUNIONSTORE", "out", "2", "u1", "u2", "WEIGHTS", "2", "0.5", "AGGREGATE", "MAX"]), ":4\r\n");
    assert_eq!(
        r.cmd(&["ZRANGE", "out", "0", "-1", "WITHSCORES"]),
        "*8\r\n$1\r\na\r\n$1\r\n2\r\n$1\r\nb\r\n$1\r\n5\r\n$1\r\nc\r\n$2\r\n10\r\n$1\r\nd\r\n$2\r\n15\r\n"
    );
    assert_eq!(r.cmd(&["ZINTERSTORE", "out", "2", "u1", "u2"]), ":2\r\n");
    assert_eq!(r.cmd(&["ZRANGE", "out", "0", "-1", "WITHSCORES"]), "*4\r\n$1\r\nb\r\n$2\r\n12\r\n$1\r\nc\r\n$2\r\n23\r\n");
    assert_eq!(r.cmd(&["ZUNIONSTORE", "out", "2", "u1", "us"]), ":4\r\n");
    assert_eq!(r.cmd(&["ZSCORE", "out", "a"]), "$1\r\n2\r\n");
    assert_eq!(r.cmd(&["ZINTERSTORE", "out", "2", "u1", "nokey"]), ":0\r\n");
    assert_eq!(r.cmd(&["EXISTS", "out"]), ":0\r\n");
    assert_eq!(r.cmd(&["ZUNIONSTORE", "out", "0", "u1"]), "-ERR at least 1 input key is needed for 'zunionstore' command\r\n");
    assert_eq!(r.cmd(&["ZUNIONSTORE", "out", "3", "u1"]), "-ERR syntax error\r\n");
    assert_eq!(r.cmd(&["ZUNIONSTORE", "out", "1", "u1", "WEIGHTS", "a"]), "-ERR weight value is not a float\r\n");
    assert_eq!(r.cmd(&["ZUNIONSTORE", "out", "1", "u1", "AGGREGATE", "foo"]), "-ERR syntax error\r\n");
    assert_eq!(r.cmd(&["ZDIFF", "2", "u1", "u2", "WITHSCORES"]), "*2\r\n$1\r\na\r\n$1\r\n1\r\n");
    assert_eq!(r.cmd(&["ZINTERCARD", "2", "u1", "u2", "LIMIT", "1"]), ":1\r\n");
}

#[test]
fn doubles_and_pairs_in_resp3() {
    let node = start_node();
    let mut r = Raw::resp3(node.port());
    r.cmd(&["ZADD", "z", "1.5", "a", "2", "b"]);
    assert_eq!(r.cmd(&["ZSCORE", "z", "a"]), ",1.5\r\n");
    assert_eq!(r.cmd(&["ZSCORE", "z", "zz"]), "_\r\n");
    assert_eq!(r.cmd(&["ZRANGE", "z", "0", "-1", "WITHSCORES"]), "*2\r\n*2\r\n$1\r\na\r\n,1.5\r\n*2\r\n$1\r\nb\r\n,2\r\n");
    assert_eq!(r.cmd(&["ZINCRBY", "z", "0.25", "a"]), ",1.75\r\n");
    assert_eq!(r.cmd(&["ZPOPMIN", "z"]), "*2\r\n$1\r\na\r\n,1.75\r\n");
    assert_eq!(r.cmd(&["ZPOPMAX", "z", "1"]), "*1\r\n*2\r\n$1\r\nb\r\n,2\r\n");
}

#[test]
fn bzpopmin_is_woken_by_zadd() {
    let node = start_node();
    let mut waiter = Raw::connect(node.port());
    let mut writer = Raw::connect(node.port());
    waiter.send(&["BZPOPMIN", "zq", "0"]);
    assert!(!waiter.has_pending(Duration::from_millis(100)));
    writer.cmd(&["ZADD", "zq", "5", "m", "7", "n"]);
    assert_eq!(waiter.read_reply(), b"*3\r\n$2\r\nzq\r\n$1\r\nm\r\n$1\r\n5\r\n");
    assert_eq!(writer.cmd(&["ZCARD", "zq"]), ":1\r\n");
    assert_eq!(waiter.cmd(&["BZPOPMAX", "empty", "0.05"]), "*-1\r\n");
}

#[test]
fn large_zsets_keep_rank_order() {
    let node = start_node();
    let mut c = client(node.port());
    for i in 0..3000i64 {
        let _: i64 = c.zadd("big", format!("m{i}"), (i * 7919) % 3001).expect("redis reply");
    }
    let all: Vec<(String, f64)> = c.zrange_withscores("big", 0, -1).expect("redis reply");
    assert_eq!(all.len(), 3000);
    assert!(all.windows(2).all(|w| w[0].1 <= w[1].1));
    let (m, _) = &all[1234];
    let rank: Option<i64> = c.zrank("big", m).expect("redis reply");
    assert_eq!(rank, Some(1234));
    let mid: Vec<String> = c.zrange("big", 1000, 1002).expect("redis reply");
    assert_eq!(mid, all[1000..1003].iter().map(|(m, _)| m.clone()).collect::<Vec<_>>());
    let scanned: (u64, Vec<String>) = redis::cmd("ZSCAN").arg("big").arg(0).query(&mut c).expect("redis reply");
    assert_eq!(scanned.1.len(), 6000);
}
