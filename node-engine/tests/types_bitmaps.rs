//! Bitmap commands (SETBIT ... BITFIELD) against a real redis-server: the same
//! commands, byte-identical replies in RESP2 and RESP3, and the string
//! encodings (int, embstr, raw) OBJECT ENCODING reports after each kind of write.

mod types_support;

const SCRIPT: &str = r#"
setbit b 7 1
setbit b 7 1
setbit b 7 0
setbit b 100 1
getbit b 100
getbit b 101
getbit b 100000
getbit nokey 3
setbit b -1 1
setbit b 4294967296 1
setbit b 1 2
setbit b x 1
setbit b 1 -1
get b
set s foobar
bitcount s
bitcount s 0 0
bitcount s 1 1
bitcount s 1 -2
bitcount s -3 -1
bitcount s -1 -3
bitcount s 5 30 bit
bitcount s 5 30 byte
bitcount s 0 -1 bit
bitcount s -10 -2 bit
bitcount s 0 1 foo
bitcount s 0
bitcount s a b
bitcount nokey
bitcount nokey 0 1
set z ""
bitcount z
bitcount z 0 -1 bit
set p \xff\xf0\x00
bitpos p 0
bitpos p 1
bitpos p 1 2
bitpos p 0 0 0
bitpos p 0 0 -1
bitpos p 0 0 -1 bit
bitpos p 1 7 15 bit
bitpos p 0 7 15 bit
bitpos p 0 2 3 bit
bitpos p 1 12 23 bit
bitpos p 1 100 200
bitpos p 2
bitpos p 1 0 1 nope
bitpos nokey 1
bitpos nokey 0
set ones \xff\xff
bitpos ones 0
bitpos ones 0 0 -1
bitpos ones 0 0
set a1 abc
set a2 xy
bitop and dst a1 a2
get dst
bitop or dst a1 a2 nokey
get dst
bitop xor dst a1 a2
get dst
bitop not dst a1
get dst
bitop not dst a1 a2
bitop nand dst a1
bitop and dst nokey nokey2
exists dst
bitop and dst a1 h1
hset h1 f v
bitop and dst a1 h1
bitfield bf set u8 0 255 get u8 0 get i8 0
bitfield bf incrby u2 100 1 overflow sat incrby u2 102 1
bitfield bf overflow fail incrby u2 102 5 get u2 102
bitfield bf overflow wrap incrby i8 #1 200 get i8 #1
bitfield bf set i64 0 -9223372036854775808 get i64 0 incrby i64 0 -1
bitfield bf overflow sat set i8 0 1000 set u8 8 -5 get u8 8
bitfield bf get u64 0
bitfield bf get i65 0
bitfield bf get x8 0
bitfield bf get u8 -1
bitfield bf overflow nope get u8 0
bitfield bf get u8
bitfield bf foo u8 0
bitfield bf set u8 0 notnum
bitfield bf
bitfield_ro bf get u8 0 get i4 #3
bitfield_ro bf set u8 0 1
bitfield_ro nokey get u8 0
bitfield nokey2 get u8 0
exists nokey2
bitfield h1 get u8 0
setbit h1 0 1
getbit h1 0
get bf
set e1 123
object encoding e1
append e1 4
object encoding e1
incr e1
object encoding e1
set e2 abc
setrange e2 1 x
object encoding e2
set e3 12345678901234567890123456789012345678901234567890
object encoding e3
setbit e4 1 1
object encoding e4
bitop or e5 e4
object encoding e5
pfadd e6 a
object encoding e6
append e7 99
object encoding e7
setrange e8 0 ab
object encoding e8
set e2 abc
object encoding e2
incrbyfloat e9 1.5
object encoding e9
"#;

#[test]
fn bitmap_replies_match_redis_server() {
    types_support::assert_same_as_redis(SCRIPT);
}
