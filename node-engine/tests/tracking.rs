//! Client-side caching (CLIENT TRACKING) against an in-process node:
//! invalidations as RESP3 pushes, through a RESP2 redirect subscribed to
//! `__redis__:invalidate`, in BCAST mode with prefixes, with NOLOOP and
//! OPTIN, and on FLUSHALL. An invalidation is pushed before the writer's
//! reply returns, so a PING answered first proves none is pending.

mod types_support;
use types_support::{start_node, Raw};

#[test]
fn resp3_reads_are_invalidated_after_the_writers_reply() {
    let node = start_node();
    let mut c = Raw::resp3(node.port());
    let mut w = Raw::connect(node.port());
    assert_eq!(c.cmd(&["CLIENT", "TRACKING", "ON"]), "+OK\r\n");
    w.cmd(&["SET", "k", "1"]);
    assert_eq!(c.cmd(&["GET", "k"]), "$1\r\n1\r\n");
    assert_eq!(w.cmd(&["SET", "other", "1"]), "+OK\r\n");
    assert_eq!(c.cmd(&["PING"]), "+PONG\r\n", "a key not read gives no invalidation");
    w.cmd(&["SET", "k", "2"]);
    assert_eq!(String::from_utf8_lossy(&c.read_reply()), ">2\r\n$10\r\ninvalidate\r\n*1\r\n$1\r\nk\r\n");
    // Once invalidated the key is forgotten until read again.
    w.cmd(&["SET", "k", "3"]);
    assert_eq!(c.cmd(&["PING"]), "+PONG\r\n", "no invalidation is pending");
    // The client's own write: the push comes after its reply.
    assert_eq!(c.cmd(&["GET", "k"]), "$1\r\n3\r\n");
    assert_eq!(c.cmd(&["SET", "k", "4"]), "+OK\r\n");
    assert_eq!(String::from_utf8_lossy(&c.read_reply()), ">2\r\n$10\r\ninvalidate\r\n*1\r\n$1\r\nk\r\n");
    // FLUSHALL invalidates everything with a null.
    w.cmd(&["FLUSHALL"]);
    assert_eq!(String::from_utf8_lossy(&c.read_reply()), ">2\r\n$10\r\ninvalidate\r\n_\r\n");
    let info = c.cmd(&["CLIENT", "TRACKINGINFO"]);
    assert!(info.contains("$5\r\nflags\r\n~1\r\n$2\r\non\r\n$8\r\nredirect\r\n:0\r\n"), "{info}");
}

#[test]
fn a_resp2_client_redirects_to_a_subscriber_and_bcast_follows_prefixes() {
    let node = start_node();
    let mut sub = Raw::connect(node.port());
    let sub_id = sub.cmd(&["CLIENT", "ID"]).trim_start_matches(':').trim().to_string();
    assert!(sub.cmd(&["SUBSCRIBE", "__redis__:invalidate"]).contains("subscribe"));
    let mut c = Raw::connect(node.port());
    let mut w = Raw::connect(node.port());
    assert_eq!(c.cmd(&["CLIENT", "TRACKING", "ON", "REDIRECT", &sub_id, "NOLOOP"]), "+OK\r\n");
    assert_eq!(c.cmd(&["CLIENT", "GETREDIR"]), format!(":{sub_id}\r\n"));
    c.cmd(&["MGET", "a", "b"]);
    c.cmd(&["SET", "a", "mine"]); // NOLOOP: no message for the client's own write
    w.cmd(&["SET", "b", "theirs"]);
    let msg = String::from_utf8_lossy(&sub.read_reply()).into_owned();
    assert_eq!(msg, "*3\r\n$7\r\nmessage\r\n$20\r\n__redis__:invalidate\r\n*1\r\n$1\r\nb\r\n");
    // BCAST with prefixes: one message per prefix for a transaction's keys.
    assert_eq!(c.cmd(&["CLIENT", "TRACKING", "OFF"]), "+OK\r\n");
    assert_eq!(
        c.cmd(&["CLIENT", "TRACKING", "ON", "BCAST", "REDIRECT", &sub_id, "PREFIX", "user:", "PREFIX", "us"]),
        "-ERR Prefix 'user:' overlaps with another provided prefix 'us'. Prefixes for a single client must not overlap.\r\n"
    );
    assert_eq!(c.cmd(&["CLIENT", "TRACKING", "ON", "BCAST", "REDIRECT", &sub_id, "PREFIX", "user:"]), "+OK\r\n");
    assert_eq!(w.cmd(&["MULTI"]), "+OK\r\n");
    w.cmd(&["SET", "user:1", "x"]);
    w.cmd(&["SET", "user:2", "y"]);
    w.cmd(&["SET", "order:1", "z"]);
    assert!(w.cmd(&["EXEC"]).starts_with("*3\r\n"));
    let msg = String::from_utf8_lossy(&sub.read_reply()).into_owned();
    assert_eq!(msg, "*3\r\n$7\r\nmessage\r\n$20\r\n__redis__:invalidate\r\n*2\r\n$6\r\nuser:1\r\n$6\r\nuser:2\r\n");
    assert_eq!(sub.cmd(&["PING"]), "*2\r\n$4\r\npong\r\n$0\r\n\r\n", "order:1 matches no prefix");
    let info = w.cmd(&["INFO", "stats"]);
    assert!(info.contains("tracking_total_prefixes:1"), "{info}");
}

#[test]
fn optin_tracks_only_after_caching_yes_and_errors_match_redis() {
    let node = start_node();
    let mut c = Raw::resp3(node.port());
    let mut w = Raw::connect(node.port());
    assert_eq!(
        c.cmd(&["CLIENT", "CACHING", "YES"]),
        "-ERR CLIENT CACHING can be called only when the client is in tracking mode with OPTIN or OPTOUT mode enabled\r\n"
    );
    assert_eq!(c.cmd(&["CLIENT", "TRACKING", "ON", "OPTIN", "OPTOUT"]), "-ERR You can't specify both OPTIN mode and OPTOUT mode\r\n");
    assert_eq!(c.cmd(&["CLIENT", "TRACKING", "ON", "PREFIX", "a"]), "-ERR PREFIX option requires BCAST mode to be enabled\r\n");
    assert_eq!(c.cmd(&["CLIENT", "TRACKING", "ON", "REDIRECT", "999999"]), "-ERR The client ID you want redirect to does not exist\r\n");
    assert_eq!(c.cmd(&["CLIENT", "TRACKING", "ON", "OPTIN"]), "+OK\r\n");
    assert_eq!(c.cmd(&["CLIENT", "CACHING", "NO"]), "-ERR CLIENT CACHING NO is only valid when tracking is enabled in OPTOUT mode.\r\n");
    c.cmd(&["GET", "x"]);
    w.cmd(&["SET", "x", "1"]);
    assert_eq!(c.cmd(&["PING"]), "+PONG\r\n", "OPTIN without CACHING YES tracks nothing");
    assert_eq!(c.cmd(&["CLIENT", "CACHING", "YES"]), "+OK\r\n");
    c.cmd(&["GET", "y"]);
    c.cmd(&["GET", "z"]); // CACHING YES covered only the previous command
    w.cmd(&["MSET", "y", "1", "z", "1"]);
    assert_eq!(String::from_utf8_lossy(&c.read_reply()), ">2\r\n$10\r\ninvalidate\r\n*1\r\n$1\r\ny\r\n");
    assert_eq!(c.cmd(&["PING"]), "+PONG\r\n", "no invalidation is pending");
}
