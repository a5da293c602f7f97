//! An AOF base written as commands (`aof-use-rdb-preamble no`), in the
//! shape of Redis's rewriteAppendOnlyFileRio: FUNCTION LOAD, then per
//! database a SELECT and the commands that rebuild each key (collections in
//! batches of 64 items), its TTL as PEXPIREAT.

use crate::keyspace::stream::StreamId;
use crate::keyspace::{Db, Value};
use crate::resp::reply::format_g;
use std::io::Write;

/// Items per command when a collection is rebuilt (Redis's AOF_REWRITE_ITEMS_PER_CMD).
const ITEMS_PER_CMD: usize = 64;

/// One command in RESP, as the AOF holds it.
fn command<A: AsRef<[u8]>>(out: &mut Vec<u8>, argv: &[A]) {
    out.extend_from_slice(format!("*{}\r\n", argv.len()).as_bytes());
    for a in argv {
        let a = a.as_ref();
        out.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
        out.extend_from_slice(a);
        out.extend_from_slice(b"\r\n");
    }
}

/// `NAME key items...` commands, at most [`ITEMS_PER_CMD`] items each.
fn batched(out: &mut Vec<u8>, name: &[u8], key: &[u8], items: impl Iterator<Item = Vec<Vec<u8>>>) {
    let mut argv: Vec<Vec<u8>> = Vec::new();
    let mut count = 0;
    for item in items {
        if argv.is_empty() {
            argv.push(name.to_vec());
            argv.push(key.to_vec());
        }
        argv.extend(item);
        count += 1;
        if count == ITEMS_PER_CMD {
            command(out, &argv);
            argv.clear();
            count = 0;
        }
    }
    if !argv.is_empty() {
        command(out, &argv);
    }
}

/// The commands that rebuild one key.
fn rebuild(out: &mut Vec<u8>, key: &[u8], value: &Value) {
    match value {
        Value::Str(s) => command(out, &[&b"SET"[..], key, s]),
        Value::List(l) => batched(out, b"RPUSH", key, l.iter().map(|e| vec![e.into_owned()])),
        Value::Set(s) => batched(out, b"SADD", key, s.iter().map(|e| vec![e.into_owned()])),
        Value::ZSet(z) => {
            batched(out, b"ZADD", key, z.iter().map(|(m, score)| vec![format_g(score, 17).into_bytes(), m.to_vec()]));
        }
        Value::Hash(h) => batched(out, b"HMSET", key, h.iter().map(|(f, v)| vec![f.to_vec(), v.to_vec()])),
        Value::Stream(st) => {
            let mut any = false;
            st.visit(StreamId::MIN, StreamId::MAX, false, |node, e| {
                any = true;
                let mut argv: Vec<Vec<u8>> = vec![b"XADD".to_vec(), key.to_vec(), e.id.to_string().into_bytes()];
                for (f, v) in node.fields(e) {
                    argv.push(f.to_cow().into_owned());
                    argv.push(v.to_cow().into_owned());
                }
                command(out, &argv);
                true
            });
            if !any {
                // An empty stream still exists: made with the MAXLEN 0 trick.
                command(out, &[&b"XADD"[..], key, b"MAXLEN", b"0", b"0-1", b"x", b"y"]);
            }
            let (last, added, max_deleted) = (st.last_id.to_string(), st.entries_added.to_string(), st.max_deleted.to_string());
            command(
                out,
                &[&b"XSETID"[..], key, last.as_bytes(), b"ENTRIESADDED", added.as_bytes(), b"MAXDELETEDID", max_deleted.as_bytes()],
            );
            for (name, g) in &st.groups {
                let (gid, read) = (g.last_id.to_string(), g.entries_read.to_string());
                command(out, &[&b"XGROUP"[..], b"CREATE", key, name, gid.as_bytes(), b"ENTRIESREAD", read.as_bytes()]);
                for (consumer, c) in &g.consumers {
                    if c.pel.is_empty() {
                        command(out, &[&b"XGROUP"[..], b"CREATECONSUMER", key, name, consumer]);
                        continue;
                    }
                    for id in &c.pel {
                        let Some(nack) = g.pel.get(id) else { continue };
                        let (id, time, count) = (id.to_string(), nack.delivery_time.to_string(), nack.delivery_count.to_string());
                        command(
                            out,
                            &[
                                &b"XCLAIM"[..],
                                key,
                                name,
                                consumer,
                                b"0",
                                id.as_bytes(),
                                b"TIME",
                                time.as_bytes(),
                                b"RETRYCOUNT",
                                count.as_bytes(),
                                b"JUSTID",
                                b"FORCE",
                            ],
                        );
                    }
                }
            }
        }
    }
}

/// Writes the whole dataset as commands to `sink`; `timestamp` starts it with
/// a `#TS:` annotation (aof-timestamp-enabled). Returns the bytes written.
pub fn write_base<W: Write>(
    sink: &mut W,
    dbs: &[Db],
    functions: &[Vec<u8>],
    timestamp: Option<u64>,
    key_delay_us: u64,
) -> std::io::Result<u64> {
    let mut written = 0u64;
    let mut out = Vec::with_capacity(64 * 1024);
    if let Some(ts) = timestamp {
        out.extend_from_slice(format!("#TS:{ts}\r\n").as_bytes());
    }
    for code in functions {
        command(&mut out, &[&b"FUNCTION"[..], b"LOAD", code]);
    }
    for (i, db) in dbs.iter().enumerate() {
        if db.is_empty() {
            continue;
        }
        command(&mut out, &[&b"SELECT"[..], i.to_string().as_bytes()]);
        for (key, e) in db.iter() {
            rebuild(&mut out, key, &e.value);
            if e.expire_at != 0 {
                command(&mut out, &[&b"PEXPIREAT"[..], key, e.expire_at.to_string().as_bytes()]);
            }
            if out.len() >= 64 * 1024 {
                sink.write_all(&out)?;
                written += out.len() as u64;
                out.clear();
            }
            crate::persistence::child_info::key_written();
            if key_delay_us > 0 {
                std::thread::sleep(std::time::Duration::from_micros(key_delay_us));
            }
        }
    }
    sink.write_all(&out)?;
    written += out.len() as u64;
    sink.flush()?;
    Ok(written)
}
