use super::*;
use crate::keyspace::{Db, Value, ZSet};
use crate::keyspace::{Hash, Limits, List, Set};

/// A database holding every type, in small and large encodings.
pub(crate) fn sample_db() -> Db {
    let mut db = Db::new(false);
    db.set(b"s:int", Value::Str(b"12345".to_vec().into()));
    db.set(b"s:neg", Value::Str(b"-7".to_vec().into()));
    db.set(b"s:big", Value::Str(b"9223372036854775807".to_vec().into()));
    db.set(b"s:lead0", Value::Str(b"007".to_vec().into()));
    db.set(b"s:empty", Value::Str(Vec::new().into()));
    db.set(b"s:long", Value::Str(vec![b'a'; 1000].into()));
    db.set(b"s:bin", Value::Str((0..=255u8).collect::<Vec<_>>().into()));
    db.set_with_expire(b"s:ttl", Value::Str(b"v".to_vec().into()), 4_000_000_000_000);
    let limits = Limits::default();
    let list = List::from_items(["a", "1", "-5000", "70000", "9999999999", "x".repeat(100).as_str(), ""], &limits);
    db.set(b"l:small", Value::List(Box::new(list)));
    let big = List::from_items((0..5000).map(|i| format!("elem-{i}")), &limits);
    db.set(b"l:big", Value::List(Box::new(big)));
    let mut si = Set::new();
    for i in [-1i64, 5, 100000, -3_000_000_000] {
        si.insert(i.to_string().as_bytes(), &limits);
    }
    db.set(b"set:int", Value::Set(si));
    let mut ss = Set::new();
    for m in ["a", "b", "1"] {
        ss.insert(m.as_bytes(), &limits);
    }
    db.set(b"set:str", Value::Set(ss));
    let mut h = Hash::new();
    h.insert(b"f1", b"v1", &limits);
    h.insert(b"n", b"42", &limits);
    db.set(b"h:small", Value::Hash(h));
    let mut hb = Hash::new();
    for i in 0..700 {
        hb.insert(format!("field{i}").as_bytes(), format!("value{i}").as_bytes(), &limits);
    }
    db.set(b"h:big", Value::Hash(hb));
    let mut z = ZSet::new();
    z.insert(b"one", 1.0, &limits);
    z.insert(b"half", 0.5, &limits);
    z.insert(b"inf", f64::INFINITY, &limits);
    z.insert(b"ninf", f64::NEG_INFINITY, &limits);
    z.insert(b"tiny", 1.5e-300, &limits);
    db.set(b"z:small", Value::ZSet(z));
    let mut zb = ZSet::new();
    for i in 0..500 {
        zb.insert(format!("m{i}").as_bytes(), i as f64 / 3.0, &limits);
    }
    db.set(b"z:big", Value::ZSet(zb));
    db.set(b"x:stream", Value::Stream(Box::new(sample_stream())));
    db
}

/// A stream over several nodes, with a deleted entry and a consumer group
/// holding pending entries of two consumers.
fn sample_stream() -> crate::keyspace::Stream {
    use crate::keyspace::stream::{NewId, NodeLimits, StreamId};
    let mut st = crate::keyspace::Stream::new();
    let limits = NodeLimits { max_bytes: 4096, max_entries: 10 };
    for i in 1..=25u64 {
        let v = i.to_string();
        let fv: [&[u8]; 4] = if i % 7 == 0 { [b"other", v.as_bytes(), b"g", b"y"] } else { [b"f", v.as_bytes(), b"g", b"x"] };
        st.append(&fv, NewId::Exact(StreamId::new(i, 0)), limits, 0).unwrap();
    }
    assert!(st.delete(StreamId::new(3, 0)));
    st.max_deleted = StreamId::new(3, 0);
    assert!(st.create_group(b"workers", StreamId::MIN, 0));
    assert!(st.create_group(b"idle", StreamId::new(25, 0), -1));
    let g = st.group_mut(b"workers").unwrap();
    for (i, who) in [(1u64, &b"alice"[..]), (2, b"bob"), (4, b"alice")] {
        g.deliver(StreamId::new(i, 0), who, 1_700_000_000_000 + i as i64);
    }
    g.create_consumer(b"carol", 1_700_000_000_500);
    st.advance_group(b"workers", StreamId::new(4, 0));
    st
}

/// A canonical, order-independent rendering of a database for comparisons.
pub(crate) fn render(db: &Db) -> Vec<String> {
    let mut out: Vec<String> = db
        .iter()
        .map(|(k, e)| {
            let v = match &e.value {
                Value::Str(s) => format!("{s:?}"),
                Value::List(l) => format!("{:?}", l.iter().collect::<Vec<_>>()),
                Value::Set(s) => {
                    let mut m: Vec<_> = s.iter().collect();
                    m.sort();
                    format!("{} {m:?}", s.encoding())
                }
                Value::Hash(h) => {
                    let mut m: Vec<_> = h.iter().collect();
                    m.sort();
                    format!("{} {m:?}", h.encoding())
                }
                Value::ZSet(z) => format!("{} {:?}", z.encoding(), z.iter().map(|(m, s)| (m.clone(), s.to_bits())).collect::<Vec<_>>()),
                Value::Stream(st) => format!("{st:?}"),
            };
            format!("{}={} {}@{}", String::from_utf8_lossy(k), e.value.type_name(), v, e.expire_at)
        })
        .collect();
    out.sort();
    out
}

#[test]
fn round_trip_every_type() {
    for compress in [true, false] {
        let db = sample_db();
        let opts = EncodeOptions { compress, ..Default::default() };
        let (bytes, n) = save_dbs(Vec::new(), std::slice::from_ref(&db), &[], opts, false).unwrap();
        assert_eq!(bytes.len() as u64, n);
        let mut dbs = vec![Db::new(false)];
        let (stats, end) = load_into(&bytes, &mut dbs, 1, true).unwrap();
        assert_eq!(end, bytes.len());
        assert_eq!(stats.keys as usize, db.len());
        assert_eq!(render(&dbs[0]), render(&db));
    }
}

#[test]
fn checksum_and_truncation_detected() {
    let db = sample_db();
    let (bytes, _) = save_dbs(Vec::new(), std::slice::from_ref(&db), &[], EncodeOptions::default(), false).unwrap();
    let mut bad = bytes.clone();
    let mid = bad.len() / 2;
    bad[mid] ^= 0x55;
    let mut dbs = vec![Db::new(false)];
    assert!(load_into(&bad, &mut dbs, 1, true).is_err());
    for cut in [5, 20, bytes.len() / 3, bytes.len() - 3] {
        let mut dbs = vec![Db::new(false)];
        let e = load_into(&bytes[..cut], &mut dbs, 1, true).unwrap_err();
        assert!(e.offset <= cut, "{e}");
    }
}

#[test]
fn expired_keys_dropped_on_load() {
    let mut db = Db::new(false);
    db.set_with_expire(b"gone", Value::Str(b"x".to_vec().into()), 10);
    db.set(b"kept", Value::Str(b"y".to_vec().into()));
    let (bytes, _) = save_dbs(Vec::new(), std::slice::from_ref(&db), &[], EncodeOptions::default(), false).unwrap();
    let mut dbs = vec![Db::new(false)];
    let (stats, _) = load_into(&bytes, &mut dbs, 1000, true).unwrap();
    assert_eq!((stats.keys, stats.expired_skipped), (1, 1));
}

#[test]
fn redis_fixture_loads() {
    // Written by redis-server 7.0 (see tests/fixtures/rdb/README).
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/rdb");
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let p = e.path();
        if p.extension().is_some_and(|x| x == "rdb") {
            let data = std::fs::read(&p).unwrap();
            let mut dbs: Vec<Db> = (0..16).map(|_| Db::new(false)).collect();
            let res = load_into(&data, &mut dbs, 1, false);
            if p.file_name().is_some_and(|n| n.to_string_lossy().starts_with("bad-")) {
                assert!(res.is_err(), "{p:?} should be refused");
            } else {
                let (stats, _) = res.unwrap_or_else(|e| panic!("{p:?}: {e}"));
                assert!(stats.keys > 0, "{p:?}");
            }
        }
    }
}

#[test]
fn our_file_passes_redis_check_rdb() {
    let Ok(out) = std::process::Command::new("redis-check-rdb").arg("--version").output() else {
        assert!(std::env::var("SLOTD_REQUIRE_REDIS").as_deref() != Ok("1"), "redis-check-rdb missing");
        return;
    };
    let _ = out;
    let dir = tempfile::tempdir().unwrap();
    for compress in [true, false] {
        let path = dir.path().join(format!("ours-{compress}.rdb"));
        let db = sample_db();
        let opts = EncodeOptions { compress, ..Default::default() };
        let f = std::fs::File::create(&path).unwrap();
        save_dbs(f, std::slice::from_ref(&db), &[], opts, false).unwrap();
        let out = std::process::Command::new("redis-check-rdb").arg(&path).output().unwrap();
        let text = String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success() && text.contains("RDB looks OK"), "{text}");
    }
}

fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(format!("{}/tests/fixtures/rdb/{name}", env!("CARGO_MANIFEST_DIR"))).unwrap()
}

#[test]
fn redis_fixture_contents() {
    let mut dbs: Vec<Db> = (0..16).map(|_| Db::new(false)).collect();
    let (stats, _) = load_into(&fixture("redis7-all-types.rdb"), &mut dbs, 1, true).unwrap();
    assert_eq!(stats.keys, 16);
    assert_eq!(dbs[0].len(), 15);
    assert_eq!(dbs[3].len(), 1);
    let get = |k: &str| dbs[0].peek(k.as_bytes()).map(|e| e.value.clone()).unwrap();
    match get("list") {
        Value::List(l) => {
            assert_eq!(
                l.iter().map(|e| String::from_utf8_lossy(&e).into_owned()).collect::<Vec<_>>(),
                ["a", "b", "1", "2", "-300", "70000"]
            )
        }
        v => panic!("{v:?}"),
    }
    match get("biglist") {
        Value::List(l) => assert_eq!(l.len(), 300),
        v => panic!("{v:?}"),
    }
    match get("zset") {
        Value::ZSet(z) => {
            let got: Vec<(String, f64)> = z.iter().map(|(m, s)| (String::from_utf8_lossy(&m).into_owned(), s)).collect();
            assert_eq!(got, [("c".to_string(), f64::NEG_INFINITY), ("a".into(), 1.0), ("b".into(), 2.5), ("d".into(), f64::INFINITY)]);
        }
        v => panic!("{v:?}"),
    }
    match get("bigzset") {
        Value::ZSet(z) => assert_eq!(z.score(b"m7"), Some(7.25)),
        v => panic!("{v:?}"),
    }
    match get("iset") {
        Value::Set(s) => assert!(s.len() == 5 && s.contains(b"-5".as_slice()) && s.contains(b"100000".as_slice())),
        v => panic!("{v:?}"),
    }
    match get("bigiset") {
        Value::Set(s) => assert_eq!(s.len(), 600),
        v => panic!("{v:?}"),
    }
    match get("hash") {
        Value::Hash(h) => assert_eq!(h.get(b"f2").as_deref(), Some(b"2".as_slice())),
        v => panic!("{v:?}"),
    }
    match get("long") {
        Value::Str(s) => assert_eq!(&s[..], "abc".repeat(200).as_bytes()),
        v => panic!("{v:?}"),
    }
    match get("bigint") {
        Value::Str(s) => assert_eq!(&s[..], b"9223372036854775807"),
        v => panic!("{v:?}"),
    }
    assert!(dbs[0].peek(b"ttl").is_some_and(|e| e.expire_at > 1_000_000_000_000));
}

#[test]
fn redis_stream_loads_with_its_groups() {
    use crate::keyspace::stream::{StreamId, ENTRIES_READ_UNKNOWN};
    let mut dbs: Vec<Db> = (0..16).map(|_| Db::new(false)).collect();
    load_into(&fixture("redis7-stream.rdb"), &mut dbs, 1, true).unwrap();
    let Some(Value::Stream(s)) = dbs[0].peek(b"s").map(|e| &e.value) else { panic!("no stream") };
    assert_eq!((s.length, s.nodes.len(), s.entries_added), (24, 3, 25));
    assert_eq!((s.last_id, s.first_id, s.max_deleted), (StreamId::new(25, 0), StreamId::new(1, 0), StreamId::new(3, 0)));
    let mut ids = Vec::new();
    s.visit(StreamId::MIN, StreamId::MAX, false, |node, e| {
        let fields: Vec<Vec<u8>> = node.fields(e).map(|(f, _)| f.to_cow().into_owned()).collect();
        let expect: &[u8] = if e.id.ms % 7 == 0 { b"other" } else { b"f" };
        assert_eq!(fields[0], expect, "{}", e.id);
        ids.push(e.id.ms);
        true
    });
    assert_eq!(ids, (1..=25).filter(|i| *i != 3).collect::<Vec<u64>>());
    let g = s.group(b"workers").unwrap();
    assert_eq!((g.last_id, g.entries_read), (StreamId::new(4, 0), ENTRIES_READ_UNKNOWN));
    let pel: Vec<(u64, &[u8])> = g.pel.iter().map(|(id, n)| (id.ms, &n.consumer[..])).collect();
    assert_eq!(pel, [(1, &b"alice"[..]), (2, b"bob"), (4, b"alice")]);
    let names: Vec<&[u8]> = g.consumers.keys().map(|k| &k[..]).collect();
    assert_eq!(names, [&b"alice"[..], b"bob", b"carol"]);
    assert_eq!(s.lag(s.group(b"idle").unwrap()), Some(0));
    let Some(Value::Stream(empty)) = dbs[0].peek(b"empty").map(|e| &e.value) else { panic!("no empty stream") };
    assert_eq!((empty.length, empty.entries_added), (0, 1));
    // Written back and read again, it is the same stream.
    let mut out = Vec::new();
    write_value(&mut out, &dbs[0].peek(b"s").unwrap().value, &EncodeOptions::default(), &mut Scratch::default());
    let mut r = Reader::new(&out);
    let back = r.value(types::STREAM_LISTPACKS_2).unwrap().unwrap();
    assert_eq!(format!("{back:?}"), format!("{:?}", dbs[0].peek(b"s").unwrap().value));
}

/// Feeds `bytes` to a stream load in pieces of `piece` bytes, stepping with
/// `budget` after each; the image is complete only once all are in.
fn stream_load(bytes: &[u8], piece: usize, budget: usize) -> Result<(Db, LoadStats, Vec<u8>, usize), DecodeError> {
    use incremental::{Progress, StreamLoad};
    let mut dbs = vec![Db::new(false)];
    let mut load = StreamLoad::new(Limits::default());
    let mut keys_seen = 0usize;
    let mut fed = 0;
    loop {
        let complete = fed >= bytes.len();
        match load.step(&mut dbs, 1, true, budget, complete, &mut || keys_seen += 1)? {
            Progress::Done => break,
            Progress::Budget => {}
            Progress::NeedData if complete => panic!("a complete image needs no more data"),
            Progress::NeedData => {
                let end = (fed + piece).min(bytes.len());
                load.push(&bytes[fed..end]);
                fed = end;
            }
        }
    }
    let rest = load.take_rest();
    let stats = load.into_stats();
    Ok((dbs.remove(0), stats, rest, keys_seen))
}

#[test]
fn stream_load_matches_whole_load_for_any_piece_size() {
    let db = sample_db();
    let (mut bytes, _) = save_dbs(Vec::new(), std::slice::from_ref(&db), &[], EncodeOptions::default(), false).unwrap();
    let image_len = bytes.len();
    // What follows the image (the replication stream) is handed back untouched.
    bytes.extend_from_slice(b"*1\r\n$4\r\nPING\r\n");
    for (piece, budget) in [(1, 1), (7, 100), (4096, 1 << 20), (bytes.len(), 1 << 20)] {
        let (loaded, stats, rest, keys_seen) = stream_load(&bytes, piece, budget).unwrap();
        assert_eq!(render(&loaded), render(&db), "piece {piece}");
        assert_eq!(stats.keys as usize, db.len());
        assert_eq!(keys_seen, db.len());
        assert_eq!(rest, bytes[image_len..].to_vec(), "piece {piece}");
    }
}

#[test]
fn stream_load_reports_short_reads_and_corruption_once_complete() {
    let db = sample_db();
    let (bytes, _) = save_dbs(Vec::new(), std::slice::from_ref(&db), &[], EncodeOptions::default(), false).unwrap();
    for cut in [20, bytes.len() / 2, bytes.len() - 1] {
        let e = stream_load(&bytes[..cut], 1000, 1 << 20).unwrap_err();
        assert_eq!(e.kind, decode::DecodeErrorKind::Truncated, "cut {cut}");
    }
    let mut bad = bytes.clone();
    let n = bad.len();
    bad[n - 2] ^= 0x55;
    let e = stream_load(&bad, 333, 1 << 20).unwrap_err();
    assert!(matches!(e.kind, decode::DecodeErrorKind::Checksum { .. }), "{e}");
}
