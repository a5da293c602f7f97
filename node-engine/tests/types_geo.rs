//! GEO commands against a real redis-server: scores, positions, distances,
//! search results in Redis's own order (no ASC/DESC) and errors are
//! byte-identical in RESP2 and RESP3.

mod types_support;

const SCRIPT: &str = r#"
geoadd Sicily 13.361389 38.115556 Palermo 15.087269 37.502669 Catania
geoadd Sicily NX 13.361389 38.115556 Palermo 12.5 37.8 Marsala
geoadd Sicily XX CH 13.4 38.1 Palermo 1 1 Nowhere
geoadd Sicily NX XX 1 1 a
geoadd Sicily 1 1
geoadd Sicily 200 10 bad
geoadd Sicily 10 86 bad
geoadd Sicily abc 10 bad
zrange Sicily 0 -1 withscores
geodist Sicily Palermo Catania
geodist Sicily Palermo Catania km
geodist Sicily Palermo Catania mi
geodist Sicily Palermo Catania ft
geodist Sicily Palermo Catania parsec
geodist Sicily Palermo missing
geodist nokey a b
geodist Sicily Palermo Catania km extra
geohash Sicily Palermo Catania missing
geohash nokey a
geopos Sicily Palermo Catania missing
geopos nokey a b
georadius Sicily 15 37 200 km
georadius Sicily 15 37 200 km WITHDIST WITHCOORD WITHHASH
georadius Sicily 15 37 200 km WITHDIST ASC
georadius Sicily 15 37 200 km WITHDIST DESC
georadius Sicily 15 37 200 km COUNT 1
georadius Sicily 15 37 200 km COUNT 2 ANY
georadius Sicily 15 37 200 km ANY
georadius Sicily 15 37 200 km COUNT 0
georadius Sicily 15 37 -1 km
georadius Sicily 15 37 x km
georadius Sicily 15 37 200 lightyears
georadius Sicily 15 37 200 km STORE dst
zrange dst 0 -1 withscores
georadius Sicily 15 37 200 km STOREDIST dst2
zrange dst2 0 -1 withscores
georadius Sicily 15 37 200 km STORE dst WITHDIST
georadius Sicily 15 37 1 m STORE dst
exists dst
georadius nokey 15 37 200 km
georadius nokey 15 37 200 km STORE dst2
exists dst2
georadius_ro Sicily 15 37 200 km STORE dst
georadius_ro Sicily 15 37 200 km WITHDIST
georadiusbymember Sicily Palermo 300 km WITHDIST
georadiusbymember Sicily missing 300 km
georadiusbymember nokey missing 300 km
georadiusbymember_ro Sicily Catania 100 km WITHCOORD
geosearch Sicily FROMLONLAT 15 37 BYRADIUS 200 km ASC WITHDIST
geosearch Sicily FROMMEMBER Palermo BYBOX 400 400 km WITHCOORD WITHDIST
geosearch Sicily FROMMEMBER Palermo BYBOX 400 400 km
geosearch Sicily FROMLONLAT 15 37 BYBOX 100 100 km
geosearch Sicily BYRADIUS 10 km
geosearch Sicily FROMLONLAT 15 37
geosearch Sicily FROMLONLAT 15 37 FROMMEMBER Palermo BYRADIUS 10 km
geosearch Sicily FROMLONLAT 15 37 BYRADIUS 10 km BYBOX 1 1 km
geosearch Sicily FROMLONLAT 15 37 BYBOX -1 1 km
geosearch Sicily FROMMEMBER missing BYRADIUS 10 km
geosearch Sicily FROMLONLAT 15 37 BYRADIUS 500 km STORE x
geosearchstore gdst Sicily FROMLONLAT 15 37 BYRADIUS 500 km
zrange gdst 0 -1 withscores
geosearchstore gdst Sicily FROMLONLAT 15 37 BYRADIUS 500 km STOREDIST COUNT 2
zrange gdst 0 -1 withscores
geosearchstore gdst Sicily FROMLONLAT 15 37 BYRADIUS 500 km WITHDIST
geosearchstore gdst nokey FROMLONLAT 15 37 BYRADIUS 500 km
exists gdst
geoadd world 0 0 origin 179.9 0 east -179.9 0 west 0 85 north 0 -85 south 2.35 48.85 paris -0.13 51.5 london -74 40.7 nyc 139.7 35.7 tokyo
georadius world 0 0 5000 km
georadius world 0 0 20000 km
georadius world 179.95 0 100 km WITHDIST
geosearch world FROMLONLAT 0 50 BYBOX 2000 2000 km WITHDIST
geosearch world FROMLONLAT 0 50 BYBOX 20000 4000 km
geosearch world FROMMEMBER north BYRADIUS 3000 km WITHCOORD
georadius world 0 0 0 km WITHCOORD
set str x
geoadd str 1 1 a
geopos str a
georadius str 1 1 1 km
"#;

#[test]
fn geo_replies_match_redis_server() {
    types_support::assert_same_as_redis(SCRIPT);
}
