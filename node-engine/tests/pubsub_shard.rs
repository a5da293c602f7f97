//! Sharded pub/sub on a standalone node: replies compared byte for byte
//! with redis-server (RESP2 and RESP3).

mod types_support;

/// (PUBSUB SHARDCHANNELS is asked with at most one channel: Redis lists its
/// dict in a per-process random order.)
const SCRIPT: &str = r#"
pubsub shardnumsub a b
ssubscribe a
ssubscribe b
ssubscribe a
ping
sunsubscribe a
pubsub shardchannels
sunsubscribe nope
sunsubscribe b
sunsubscribe
pubsub shardchannels
pubsub shardnumsub a b
pubsub shardchannels x y
spublish a hello
spublish a
ssubscribe
"#;

#[test]
fn sharded_pubsub_replies_match_redis_server() {
    types_support::assert_same_as_redis(SCRIPT);
}
