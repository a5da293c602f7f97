//! OBJECT ENCODING tells the truth: the same command sequences, driven
//! through the compact encodings' thresholds, give the same encodings (and
//! the same replies) on slot-node and on redis-server 7.0.

mod support;

use support::{both_copy_by_dump, cmd, same_on_both, Both};

#[test]
fn hash_encodings_follow_redis_through_every_threshold() {
    let Some(mut both) = Both::start() else { return };
    let (ours, theirs) = (&mut both.ours, &mut both.theirs);

    // Entries: 512 fields stay a listpack, the 513th converts it; deleting never converts back.
    let mut steps = vec![cmd(&["HSET", "h", "f0", "v0"])];
    for i in 1..512 {
        steps.push(cmd(&["HSET", "h", &format!("f{i}"), &i.to_string()]));
    }
    steps.push(cmd(&["HGETALL", "h"]));
    steps.push(cmd(&["HSET", "h", "f512", "x"]));
    steps.push(cmd(&["HDEL", "h", "f0", "f1", "f2"]));
    steps.push(cmd(&["HLEN", "h"]));
    same_on_both(ours, theirs, "h", &steps);

    // Value length: 64 bytes stay, 65 convert, for fields and values alike; numbers are stored as numbers.
    let v64 = "v".repeat(64);
    let v65 = "v".repeat(65);
    same_on_both(
        ours,
        theirs,
        "l",
        &[
            cmd(&["HSET", "l", "n", "-42", "big", "9223372036854775807", "pad", "007"]),
            cmd(&["HINCRBY", "l", "n", "50"]),
            cmd(&["HINCRBYFLOAT", "l", "n", "0.5"]),
            cmd(&["HSET", "l", "a", &v64]),
            cmd(&["HMGET", "l", "n", "big", "pad", "a", "missing"]),
            cmd(&["HSTRLEN", "l", "big"]),
            cmd(&["HSET", "l", "b", &v65]),
            cmd(&["HGET", "l", "b"]),
        ],
    );
    same_on_both(ours, theirs, "k", &[cmd(&["HSETNX", "k", &v65, "1"]), cmd(&["HEXISTS", "k", &v65])]);

    // The legacy names set the same thresholds; RESTORE re-encodes by the current ones.
    same_on_both(
        ours,
        theirs,
        "t",
        &[
            cmd(&["CONFIG", "SET", "hash-max-ziplist-entries", "2"]),
            cmd(&["HSET", "t", "a", "1", "b", "2"]),
            cmd(&["HSET", "t", "c", "3"]),
            cmd(&["CONFIG", "SET", "hash-max-ziplist-entries", "512"]),
        ],
    );
    both_copy_by_dump(ours, theirs, "t", "t2");
    // A hash table's order is its hash function's, so only the content is compared.
    same_on_both(ours, theirs, "t2", &[cmd(&["HLEN", "t2"])]);
    let sorted = |c: &mut redis::Connection| {
        let mut m: Vec<(String, String)> = redis::cmd("HGETALL").arg("t2").query(c).expect("HGETALL");
        m.sort();
        m
    };
    assert_eq!(sorted(ours), sorted(theirs));
}

#[test]
fn set_encodings_follow_redis_through_every_threshold() {
    let Some(mut both) = Both::start() else { return };
    let (ours, theirs) = (&mut both.ours, &mut both.theirs);

    // Integers of every width stay an intset, listed in ascending order; the 513th member converts it.
    let mut steps = vec![cmd(&["SADD", "s", "5", "-3", "70000", "-9999999999", "0"]), cmd(&["SMEMBERS", "s"])];
    for i in 0..507 {
        steps.push(cmd(&["SADD", "s", &(i * 11).to_string()]));
    }
    steps.extend([
        cmd(&["SCARD", "s"]),
        cmd(&["SISMEMBER", "s", "70000"]),
        cmd(&["SMISMEMBER", "s", "-3", "4", "0"]),
        cmd(&["SADD", "s", "1000000"]),
        cmd(&["SREM", "s", "5", "-3", "70000"]),
        cmd(&["SCARD", "s"]),
    ]);
    same_on_both(ours, theirs, "s", &steps);

    // Text, and integer-looking text that is not canonical, make a hash table.
    same_on_both(ours, theirs, "t", &[cmd(&["SADD", "t", "1", "2"]), cmd(&["SADD", "t", "010"]), cmd(&["SISMEMBER", "t", "10"])]);
    same_on_both(ours, theirs, "u", &[cmd(&["SADD", "u", "a"]), cmd(&["SREM", "u", "a"]), cmd(&["SADD", "u", "1"])]);

    // Stored results take the encoding their members call for.
    same_on_both(
        ours,
        theirs,
        "d",
        &[
            cmd(&["SADD", "a", "1", "2", "3", "x"]),
            cmd(&["SADD", "b", "2", "3", "4"]),
            cmd(&["SINTERSTORE", "d", "a", "b"]),
            cmd(&["SMEMBERS", "d"]),
            cmd(&["SDIFFSTORE", "d", "b", "a"]),
            cmd(&["SMOVE", "a", "m", "x"]),
            cmd(&["SMOVE", "b", "d", "2"]),
        ],
    );
    same_on_both(ours, theirs, "m", &[cmd(&["SMOVE", "b", "m", "3"]), cmd(&["SCARD", "m"])]);

    // The limit is a setting; RESTORE re-encodes by it.
    same_on_both(
        ours,
        theirs,
        "c",
        &[
            cmd(&["CONFIG", "SET", "set-max-intset-entries", "3"]),
            cmd(&["SADD", "c", "1", "2", "3"]),
            cmd(&["SADD", "c", "4"]),
            cmd(&["CONFIG", "SET", "set-max-intset-entries", "512"]),
        ],
    );
    both_copy_by_dump(ours, theirs, "c", "c2");
    same_on_both(ours, theirs, "c2", &[cmd(&["SMEMBERS", "c2"])]);
    // DEBUG RELOAD re-encodes by the current limits, as a restart does.
    same_on_both(ours, theirs, "c", &[cmd(&["DEBUG", "RELOAD"]), cmd(&["SMEMBERS", "c"])]);
}

#[test]
fn sorted_set_encodings_follow_redis_through_every_threshold() {
    let Some(mut both) = Both::start() else { return };
    let (ours, theirs) = (&mut both.ours, &mut both.theirs);

    // 128 members stay a listpack, in (score, member) order; the 129th converts it.
    let mut steps = vec![cmd(&["ZADD", "z", "1.5", "a", "-inf", "b", "inf", "c", "0.1", "d", "3", "e", "3", "aa"])];
    for i in 0..122 {
        steps.push(cmd(&["ZADD", "z", &(i % 7).to_string(), &format!("m{i}")]));
    }
    steps.extend([
        cmd(&["ZRANGE", "z", "0", "-1", "WITHSCORES"]),
        cmd(&["ZINCRBY", "z", "2.25", "a"]),
        cmd(&["ZRANK", "z", "a"]),
        cmd(&["ZREVRANGE", "z", "0", "4", "WITHSCORES"]),
        cmd(&["ZRANGEBYSCORE", "z", "(1", "3", "LIMIT", "2", "5"]),
        cmd(&["ZRANGEBYLEX", "z", "-", "+", "LIMIT", "0", "3"]),
        cmd(&["ZCOUNT", "z", "2", "inf"]),
        cmd(&["ZPOPMIN", "z"]),
        cmd(&["ZPOPMAX", "z", "2"]),
        cmd(&["ZADD", "z", "1", "x1", "2", "x2"]),
        cmd(&["ZCARD", "z"]),
        cmd(&["ZADD", "z", "5", "x3"]),
        cmd(&["ZCARD", "z"]),
        cmd(&["ZADD", "z", "6", "x4"]),
        cmd(&["ZREMRANGEBYRANK", "z", "0", "100"]),
        cmd(&["ZRANGE", "z", "0", "-1", "WITHSCORES"]),
    ]);
    same_on_both(ours, theirs, "z", &steps);

    // A long member converts at once; stored results take the encoding their size calls for.
    let long = "m".repeat(65);
    same_on_both(ours, theirs, "l", &[cmd(&["ZADD", "l", "1", "a"]), cmd(&["ZADD", "l", "2", &long])]);
    same_on_both(
        ours,
        theirs,
        "u",
        &[
            cmd(&["ZADD", "p", "1", "a", "2", "b", "3", "c"]),
            cmd(&["SADD", "q", "b", "c", "d"]),
            cmd(&["ZUNIONSTORE", "u", "2", "p", "q", "WEIGHTS", "2", "1"]),
            cmd(&["ZRANGE", "u", "0", "-1", "WITHSCORES"]),
            cmd(&["ZINTERSTORE", "u", "2", "p", "q"]),
            cmd(&["ZRANGESTORE", "u", "p", "0", "1"]),
            cmd(&["ZRANGE", "u", "0", "-1", "WITHSCORES"]),
        ],
    );

    // The legacy names set the limits; RESTORE re-encodes by them.
    same_on_both(
        ours,
        theirs,
        "c",
        &[
            cmd(&["CONFIG", "SET", "zset-max-ziplist-entries", "2"]),
            cmd(&["ZADD", "c", "1", "a", "2", "b"]),
            cmd(&["ZADD", "c", "3", "c"]),
            cmd(&["ZUNIONSTORE", "big", "1", "c"]),
            cmd(&["CONFIG", "SET", "zset-max-ziplist-entries", "128"]),
        ],
    );
    same_on_both(ours, theirs, "big", &[cmd(&["ZCARD", "big"])]);
    both_copy_by_dump(ours, theirs, "c", "c2");
    same_on_both(ours, theirs, "c2", &[cmd(&["ZRANGE", "c2", "0", "-1", "WITHSCORES"])]);
}

/// Lists are quicklists of listpack nodes: across many small nodes (and the
/// default 8 KB ones), every list command answers as redis-server does.
#[test]
fn list_commands_across_quicklist_nodes_match_redis() {
    let Some(mut both) = Both::start() else { return };
    let (ours, theirs) = (&mut both.ours, &mut both.theirs);
    for fill in ["3", "-2"] {
        let key = format!("l{fill}");
        let k = key.as_str();
        let mut steps = vec![cmd(&["CONFIG", "SET", "list-max-listpack-size", fill])];
        for i in 0..40 {
            let v = if i % 3 == 0 { format!("{}", i * 1000 - 7) } else { format!("v{i}") };
            steps.push(cmd(&[if i % 2 == 0 { "RPUSH" } else { "LPUSH" }, k, &v]));
        }
        steps.extend([
            cmd(&["LRANGE", k, "0", "-1"]),
            cmd(&["LINDEX", k, "17"]),
            cmd(&["LINDEX", k, "-3"]),
            cmd(&["LSET", k, "5", "five"]),
            cmd(&["LINSERT", k, "BEFORE", "v7", "new"]),
            cmd(&["LINSERT", k, "AFTER", "-7", "after"]),
            cmd(&["LPOS", k, "five"]),
            cmd(&["LPOS", k, "v1", "RANK", "-1", "COUNT", "0"]),
            cmd(&["LREM", k, "-1", "v9"]),
            cmd(&["RPUSH", k, "v9", "v9", "v9"]),
            cmd(&["LREM", k, "2", "v9"]),
            cmd(&["LRANGE", k, "3", "20"]),
            cmd(&["LTRIM", k, "2", "-4"]),
            cmd(&["LRANGE", k, "0", "-1"]),
            cmd(&["LPOP", k, "3"]),
            cmd(&["RPOP", k, "4"]),
            cmd(&["LMOVE", k, "other", "LEFT", "RIGHT"]),
            cmd(&["LLEN", k]),
        ]);
        same_on_both(ours, theirs, k, &steps);
    }
}
