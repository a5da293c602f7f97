//! List commands against an in-process node, including blocking pops woken
//! by another connection, timeouts, and the MULTI rule.

mod types_support;
use redis::Commands;
use std::time::{Duration, Instant};
use types_support::{client, start_node, Raw};

const WRONGTYPE: &str = "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n";

#[test]
fn list_basics_with_redis_client() {
    let node = start_node();
    let mut c = client(node.port());
    let n: i64 = c.rpush("l", &["a", "b", "c"]).expect("redis reply");
    assert_eq!(n, 3);
    let n: i64 = c.lpush("l", "z").expect("redis reply");
    assert_eq!(n, 4);
    let all: Vec<String> = c.lrange("l", 0, -1).expect("redis reply");
    assert_eq!(all, vec!["z", "a", "b", "c"]);
    let v: Option<String> = c.lindex("l", -1).expect("redis reply");
    assert_eq!(v.as_deref(), Some("c"));
    let _: () = c.lset("l", 0, "Z").expect("redis reply");
    let popped: Vec<String> = redis::cmd("LPOP").arg("l").arg(2).query(&mut c).expect("redis reply");
    assert_eq!(popped, vec!["Z", "a"]);
    let moved: Option<String> = redis::cmd("LMOVE").arg("l").arg("m").arg("RIGHT").arg("LEFT").query(&mut c).expect("redis reply");
    assert_eq!(moved.as_deref(), Some("c"));
    let moved: Option<String> = c.rpoplpush("l", "m").expect("redis reply");
    assert_eq!(moved.as_deref(), Some("b"));
    let exists: bool = c.exists("l").expect("redis reply");
    assert!(!exists, "an emptied list must be deleted");
    let m: Vec<String> = c.lrange("m", 0, -1).expect("redis reply");
    assert_eq!(m, vec!["b", "c"]);
}

#[test]
fn list_replies_and_errors_are_exact() {
    let node = start_node();
    let mut r = Raw::connect(node.port());
    assert_eq!(r.cmd(&["RPUSH", "l", "a", "a", "b", "a", "c", "a"]), ":6\r\n");
    assert_eq!(r.cmd(&["LPUSHX", "nokey", "x"]), ":0\r\n");
    assert_eq!(r.cmd(&["LREM", "l", "-1", "a"]), ":1\r\n");
    assert_eq!(r.cmd(&["LREM", "l", "2", "a"]), ":2\r\n");
    assert_eq!(r.cmd(&["LRANGE", "l", "0", "-1"]), "*3\r\n$1\r\nb\r\n$1\r\na\r\n$1\r\nc\r\n");
    assert_eq!(r.cmd(&["LINSERT", "l", "BEFORE", "a", "X"]), ":4\r\n");
    assert_eq!(r.cmd(&["LINSERT", "l", "AFTER", "zz", "X"]), ":-1\r\n");
    assert_eq!(r.cmd(&["LINSERT", "nokey", "AFTER", "zz", "X"]), ":0\r\n");
    assert_eq!(r.cmd(&["LINSERT", "l", "MIDDLE", "a", "X"]), "-ERR syntax error\r\n");
    assert_eq!(r.cmd(&["LSET", "l", "100", "x"]), "-ERR index out of range\r\n");
    assert_eq!(r.cmd(&["LSET", "nokey", "0", "x"]), "-ERR no such key\r\n");
    assert_eq!(r.cmd(&["LPOP", "l", "-1"]), "-ERR value is out of range, must be positive\r\n");
    assert_eq!(r.cmd(&["LPOP", "nokey", "2"]), "*-1\r\n");
    assert_eq!(r.cmd(&["LPOP", "nokey"]), "$-1\r\n");
    assert_eq!(r.cmd(&["RPOP", "l", "0"]), "*0\r\n");
    assert_eq!(r.cmd(&["LRANGE", "l", "x", "1"]), "-ERR value is not an integer or out of range\r\n");
    assert_eq!(r.cmd(&["RPUSH", "p", "a", "b", "c", "a", "b", "c", "a"]), ":7\r\n");
    assert_eq!(r.cmd(&["LPOS", "p", "a"]), ":0\r\n");
    assert_eq!(r.cmd(&["LPOS", "p", "a", "RANK", "-1"]), ":6\r\n");
    assert_eq!(r.cmd(&["LPOS", "p", "a", "COUNT", "0"]), "*3\r\n:0\r\n:3\r\n:6\r\n");
    assert_eq!(r.cmd(&["LPOS", "p", "a", "COUNT", "2", "RANK", "-1"]), "*2\r\n:6\r\n:3\r\n");
    assert_eq!(r.cmd(&["LPOS", "p", "a", "MAXLEN", "2", "COUNT", "0"]), "*1\r\n:0\r\n");
    assert_eq!(r.cmd(&["LPOS", "p", "zz"]), "$-1\r\n");
    assert_eq!(
        r.cmd(&["LPOS", "p", "a", "RANK", "0"]),
        "-ERR RANK can't be zero: use 1 to start from the first match, 2 from the second ... or use negative to start from the end of the list\r\n"
    );
    assert_eq!(r.cmd(&["LPOS", "p", "a", "COUNT", "-1"]), "-ERR COUNT can't be negative\r\n");
    assert_eq!(r.cmd(&["LPOS", "p", "a", "MAXLEN", "-1"]), "-ERR MAXLEN can't be negative\r\n");
    assert_eq!(r.cmd(&["LTRIM", "p", "1", "-2"]), "+OK\r\n");
    assert_eq!(r.cmd(&["LLEN", "p"]), ":5\r\n");
    assert_eq!(r.cmd(&["LTRIM", "p", "5", "1"]), "+OK\r\n");
    assert_eq!(r.cmd(&["EXISTS", "p"]), ":0\r\n");
    assert_eq!(r.cmd(&["LMOVE", "l", "d", "UP", "LEFT"]), "-ERR syntax error\r\n");
    assert_eq!(r.cmd(&["BLPOP", "l", "-1"]), "-ERR timeout is negative\r\n");
    assert_eq!(r.cmd(&["BLPOP", "l", "abc"]), "-ERR timeout is not a float or out of range\r\n");
    assert_eq!(r.cmd(&["SET", "str", "v"]), "+OK\r\n");
    for c in [&["LPUSH", "str", "a"][..], &["LRANGE", "str", "0", "1"], &["LPOP", "str"], &["BLPOP", "str", "0"], &["LLEN", "str"]] {
        assert_eq!(r.cmd(c), WRONGTYPE, "{c:?}");
    }
    // A WRONGTYPE destination leaves the source untouched.
    assert_eq!(r.cmd(&["LMOVE", "l", "str", "LEFT", "LEFT"]), WRONGTYPE);
    assert_eq!(r.cmd(&["LLEN", "l"]), ":4\r\n");
}

#[test]
fn blpop_is_woken_by_a_push_from_another_connection() {
    let node = start_node();
    let mut waiter = Raw::connect(node.port());
    let mut pusher = Raw::connect(node.port());
    waiter.send(&["BLPOP", "q1", "q2", "0"]);
    assert!(!waiter.has_pending(Duration::from_millis(100)), "BLPOP must block on empty lists");
    assert_eq!(pusher.cmd(&["RPUSH", "q2", "hello", "world"]), ":2\r\n");
    assert_eq!(waiter.read_reply(), b"*2\r\n$2\r\nq2\r\n$5\r\nhello\r\n");
    assert_eq!(pusher.cmd(&["LRANGE", "q2", "0", "-1"]), "*1\r\n$5\r\nworld\r\n");

    waiter.send(&["BRPOPLPUSH", "src", "dst", "0"]);
    assert!(!waiter.has_pending(Duration::from_millis(50)));
    pusher.cmd(&["LPUSH", "src", "v"]);
    assert_eq!(waiter.read_reply(), b"$1\r\nv\r\n");
    assert_eq!(pusher.cmd(&["LRANGE", "dst", "0", "-1"]), "*1\r\n$1\r\nv\r\n");
    assert_eq!(pusher.cmd(&["EXISTS", "src"]), ":0\r\n");
}

#[test]
fn blocking_pops_time_out_with_a_null_array() {
    let node = start_node();
    let mut r = Raw::connect(node.port());
    let started = Instant::now();
    assert_eq!(r.cmd(&["BLPOP", "nothing", "0.2"]), "*-1\r\n");
    assert!(started.elapsed() >= Duration::from_millis(150), "returned too early");
    assert_eq!(r.cmd(&["BLMOVE", "nothing", "x", "LEFT", "LEFT", "0.05"]), "*-1\r\n");
    let mut r3 = Raw::resp3(node.port());
    assert_eq!(r3.cmd(&["BRPOP", "nothing", "0.05"]), "_\r\n");
}

#[test]
fn blocking_commands_inside_multi_do_not_block() {
    let node = start_node();
    let mut r = Raw::connect(node.port());
    assert_eq!(r.cmd(&["MULTI"]), "+OK\r\n");
    assert_eq!(r.cmd(&["BLPOP", "nothing", "0"]), "+QUEUED\r\n");
    assert_eq!(r.cmd(&["BLMOVE", "nothing", "x", "LEFT", "LEFT", "0"]), "+QUEUED\r\n");
    assert_eq!(r.cmd(&["EXEC"]), "*2\r\n*-1\r\n$-1\r\n");
}

#[test]
fn lrange_of_a_large_list() {
    let node = start_node();
    let mut c = client(node.port());
    let items: Vec<String> = (0..600).map(|i| i.to_string()).collect();
    let _: i64 = c.rpush("big", &items).expect("redis reply");
    let got: Vec<String> = c.lrange("big", 0, 599).expect("redis reply");
    assert_eq!(got, items);
    let tail: Vec<String> = c.lrange("big", -2, -1).expect("redis reply");
    assert_eq!(tail, vec!["598", "599"]);
}
