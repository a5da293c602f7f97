//! SORT, SORT_RO and LCS against a real redis-server: byte-identical
//! replies in RESP2 and RESP3 (sets are only sorted outputs, whose order
//! does not depend on the set's own iteration order).

mod types_support;

const SCRIPT: &str = r#"
rpush l 3 1 2 10 -5 2.5
sort l
sort l desc
sort l limit 1 2
sort l limit -5 2
sort l limit 2 -1
sort l limit 10 5
sort l limit 0 0
sort l limit x 1
sort l alpha
sort l alpha desc limit 0 3
sort l by nosort
sort l by nosort desc
sort l by nosort limit 1 3
sort l by nosort desc limit 1 3
mset w_3 30 w_1 10 w_2 -2 w_10 5 w_-5 1
sort l by w_*
sort l by w_* desc
sort l by w_* limit 0 2
sort l by w_* get # get w_*
sort l by w_* get w_* get nomatch
sort l get #
hset h_3 f c
hset h_1 f a
hset h_2 f b
sort l by h_*->f alpha get h_*->f get #
sort l by h_*->f alpha desc
sort l by h_*-> alpha
sort l by w_* alpha
sort l store dst
lrange dst 0 -1
sort l by w_* get h_*->f store dst2
lrange dst2 0 -1
sort l limit 100 1 store dst2
exists dst2
sort_ro l desc
sort_ro l store x
sadd s 5 3 9 1
sort s
sort s desc limit 1 2
sort s alpha
sort s by nosort store dst3
lrange dst3 0 -1
zadd z 1 c 2 b 3 a
sort z alpha
sort z by nosort
sort z by nosort desc limit 1 1
rpush bad 1 x 3
sort bad
sort bad alpha
set str foo
sort str
sort nokey
sort nokey store dst4
sort l foo
sort l limit 1
sort l store
set k1 ohmytext
set k2 mynewtext
lcs k1 k2
lcs k1 k2 len
lcs k1 k2 idx
lcs k1 k2 idx minmatchlen 4
lcs k1 k2 idx minmatchlen 4 withmatchlen
lcs k1 k2 idx withmatchlen
lcs k1 k2 len idx
lcs k1 k2 minmatchlen x
lcs k1 k2 foo
lcs k1 nokey
lcs nokey nokey2 idx
lcs k1 l
set k3 abcabcabcabc
set k4 cbacbacbaabc
lcs k3 k4 idx withmatchlen
"#;

#[test]
fn sort_and_lcs_replies_match_redis_server() {
    types_support::assert_same_as_redis(SCRIPT);
}
