//! CLIENT PAUSE / UNPAUSE and CLIENT REPLY as Redis 7.0 has them: WRITE holds
//! writes, PUBLISH, PFCOUNT and scripts that may write, not reads or
//! read-only scripts; ALL holds everything; waiting commands run on UNPAUSE
//! or when the pause times out; keys do not expire while paused.

mod types_support;
use std::time::{Duration, Instant};
use types_support::{start_node, Raw};

#[test]
fn write_pause_holds_writes_until_unpause() {
    let node = start_node();
    let mut admin = Raw::connect(node.port());
    let mut c = Raw::connect(node.port());
    assert_eq!(admin.cmd(&["SET", "k", "v"]), "+OK\r\n");
    assert_eq!(admin.cmd(&["CLIENT", "PAUSE", "60000", "WRITE"]), "+OK\r\n");
    // Reads, and scripts declared no-writes, are not held.
    assert_eq!(c.cmd(&["GET", "k"]), "$1\r\nv\r\n");
    assert_eq!(c.cmd(&["EVAL", "#!lua flags=no-writes\nreturn redis.call('get','k')", "0"]), "$1\r\nv\r\n");
    assert_eq!(c.cmd(&["EVAL_RO", "return 1", "0"]), ":1\r\n");
    // A write waits...
    c.send(&["SET", "k", "w"]);
    assert!(!c.has_pending(Duration::from_millis(200)), "SET answered during CLIENT PAUSE WRITE");
    let mut p = Raw::connect(node.port());
    p.send(&["PUBLISH", "ch", "x"]);
    let mut s = Raw::connect(node.port());
    s.send(&["EVAL", "return 1", "0"]);
    assert!(!p.has_pending(Duration::from_millis(100)) && !s.has_pending(Duration::from_millis(100)), "PUBLISH and EVAL are held");
    // ... and runs on UNPAUSE.
    assert_eq!(admin.cmd(&["CLIENT", "UNPAUSE"]), "+OK\r\n");
    assert_eq!(c.read_reply(), b"+OK\r\n");
    assert_eq!(p.read_reply(), b":0\r\n");
    assert_eq!(s.read_reply(), b":1\r\n");
    assert_eq!(admin.cmd(&["GET", "k"]), "$1\r\nw\r\n");
}

#[test]
fn pause_ends_by_itself_and_keys_do_not_expire_meanwhile() {
    let node = start_node();
    let mut admin = Raw::connect(node.port());
    assert_eq!(admin.cmd(&["SET", "k", "v", "PX", "50"]), "+OK\r\n");
    assert_eq!(admin.cmd(&["CLIENT", "PAUSE", "400", "WRITE"]), "+OK\r\n");
    // Expired keys read as missing but stay stored while paused.
    let deadline = Instant::now() + Duration::from_secs(5);
    while admin.cmd(&["GET", "k"]) != "$-1\r\n" {
        assert!(Instant::now() < deadline, "the key did not expire");
        std::thread::yield_now();
    }
    assert_eq!(admin.cmd(&["DBSIZE"]), ":1\r\n");
    let started = Instant::now();
    let mut c = Raw::connect(node.port());
    assert_eq!(c.cmd(&["SET", "x", "1"]), "+OK\r\n", "the write ran when the pause timed out");
    assert!(started.elapsed() >= Duration::from_millis(150), "the write waited for the pause");
    let deadline = Instant::now() + Duration::from_secs(5);
    while admin.cmd(&["DBSIZE"]) != ":1\r\n" {
        assert!(Instant::now() < deadline, "the expired key was not deleted after the pause");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn pause_all_holds_reads_and_bad_arguments_are_answered_at_once() {
    let node = start_node();
    let mut admin = Raw::connect(node.port());
    assert_eq!(admin.cmd(&["CLIENT", "PAUSE", "abc"]), "-ERR timeout is not an integer or out of range\r\n");
    assert_eq!(admin.cmd(&["CLIENT", "PAUSE", "100", "SOME"]), "-ERR CLIENT PAUSE mode must be WRITE or ALL\r\n");
    assert_eq!(admin.cmd(&["CLIENT", "PAUSE", "300", "ALL"]), "+OK\r\n");
    let mut c = Raw::connect(node.port());
    assert_eq!(c.cmd(&["GET"]), "-ERR wrong number of arguments for 'get' command\r\n");
    c.send(&["GET", "k"]);
    assert!(!c.has_pending(Duration::from_millis(100)), "GET answered during CLIENT PAUSE ALL");
    assert_eq!(c.read_reply(), b"$-1\r\n");
}

#[test]
fn client_reply_off_and_skip_silence_replies_but_not_pushes() {
    let node = start_node();
    let mut c = Raw::connect(node.port());
    c.send(&["CLIENT", "REPLY", "SKIP"]);
    c.send(&["SET", "a", "1"]);
    assert_eq!(c.cmd(&["GET", "a"]), "$1\r\n1\r\n", "SKIP silences itself and the next command only");
    c.send(&["CLIENT", "REPLY", "OFF"]);
    c.send(&["SET", "a", "2"]);
    c.send(&["SUBSCRIBE", "ch"]);
    assert_eq!(c.read_reply(), b"*3\r\n$9\r\nsubscribe\r\n$2\r\nch\r\n:1\r\n", "subscription pushes still arrive");
    let mut other = Raw::connect(node.port());
    assert_eq!(other.cmd(&["GET", "a"]), "$1\r\n2\r\n", "the silenced SET ran");
}
