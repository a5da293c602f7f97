//! Writing RDB: values in the encodings Redis 7.0 picks, and whole files.

use super::{enc, opcodes, types, RDB_VERSION};
use crate::config::NodeConfig;
use crate::keyspace::{Db, Hash, Set, Value, ZSet};
use crate::persistence::{crc64, lzf};
use crate::util::num::strict_i64;
use std::io::Write;

/// Encoding choices, from the node's config (Redis's names and defaults).
#[derive(Debug, Clone)]
pub struct EncodeOptions {
    pub compress: bool,
    pub checksum: bool,
    /// `rdb-key-save-delay`: microseconds to wait after each key (tests use
    /// it to keep a BGSAVE or a full sync running).
    pub key_delay_us: u64,
    /// The replication position to record, when there is one.
    pub repl: Option<ReplAux>,
}

impl Default for EncodeOptions {
    fn default() -> Self {
        EncodeOptions { compress: true, checksum: true, key_delay_us: 0, repl: None }
    }
}

/// The replication position an RDB records (Redis's rdbSaveInfo, as the
/// `repl-stream-db`, `repl-id` and `repl-offset` aux fields), so that a node
/// restarted from it continues its history with a partial resync.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplAux {
    /// The database the replication stream last selected.
    pub stream_db: i64,
    pub replid: String,
    pub offset: u64,
}

impl ReplAux {
    /// The position an RDB's aux fields give, if complete and valid (Redis
    /// ignores a `repl-stream-db` of -1, which old versions wrote by mistake).
    pub fn from_aux(aux: &[(String, String)]) -> Option<ReplAux> {
        let get = |k: &str| aux.iter().rev().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
        let stream_db: i64 = get("repl-stream-db")?.parse().ok()?;
        let replid = get("repl-id")?;
        let offset: i64 = get("repl-offset")?.parse().ok()?;
        if stream_db < 0 || offset < 0 || replid.len() != 40 {
            return None;
        }
        Some(ReplAux { stream_db, replid: replid.to_string(), offset: offset as u64 })
    }
}

impl EncodeOptions {
    pub fn from_config(cfg: &NodeConfig) -> Self {
        EncodeOptions {
            compress: cfg.get("rdbcompression").is_none_or(|v| v == "yes"),
            checksum: cfg.get("rdbchecksum").is_none_or(|v| v == "yes"),
            key_delay_us: cfg.int_named("rdb-key-save-delay", 0).max(0) as u64,
            repl: None,
        }
    }
}

/// Reusable buffers, so encoding a keyspace does not allocate per key.
#[derive(Default)]
pub struct Scratch {
    blob: Vec<u8>,
    lzf_out: Vec<u8>,
    lzf_table: Vec<u32>,
}

pub fn write_len(out: &mut Vec<u8>, n: u64) {
    if n < 64 {
        out.push(n as u8);
    } else if n < 16384 {
        out.push(0x40 | (n >> 8) as u8);
        out.push((n & 0xff) as u8);
    } else if n <= u32::MAX as u64 {
        out.push(0x80);
        out.extend_from_slice(&(n as u32).to_be_bytes());
    } else {
        out.push(0x81);
        out.extend_from_slice(&n.to_be_bytes());
    }
}

/// Writes a string: as an integer when it is a short canonical one, LZF-compressed
/// when long and compressible, else raw (rdbSaveRawString's choices).
fn write_string_with(out: &mut Vec<u8>, s: &[u8], compress: bool, lzf_out: &mut Vec<u8>, lzf_table: &mut Vec<u32>) {
    if s.len() <= 11 {
        if let Some(v) = strict_i64(s) {
            if (i8::MIN as i64..=i8::MAX as i64).contains(&v) {
                out.push(0xC0 | enc::INT8);
                out.push(v as i8 as u8);
                return;
            } else if (i16::MIN as i64..=i16::MAX as i64).contains(&v) {
                out.push(0xC0 | enc::INT16);
                out.extend_from_slice(&(v as i16).to_le_bytes());
                return;
            } else if (i32::MIN as i64..=i32::MAX as i64).contains(&v) {
                out.push(0xC0 | enc::INT32);
                out.extend_from_slice(&(v as i32).to_le_bytes());
                return;
            }
        }
    }
    if compress && s.len() > 20 && lzf::compress(s, lzf_out, lzf_table) {
        out.push(0xC0 | enc::LZF);
        write_len(out, lzf_out.len() as u64);
        write_len(out, s.len() as u64);
        out.extend_from_slice(lzf_out);
        return;
    }
    write_len(out, s.len() as u64);
    out.extend_from_slice(s);
}

pub fn write_string(out: &mut Vec<u8>, s: &[u8], opts: &EncodeOptions, sc: &mut Scratch) {
    write_string_with(out, s, opts.compress, &mut sc.lzf_out, &mut sc.lzf_table);
}

fn write_blob(out: &mut Vec<u8>, opts: &EncodeOptions, sc: &mut Scratch) {
    write_string_with(out, &sc.blob, opts.compress, &mut sc.lzf_out, &mut sc.lzf_table);
}

/// The RDB type byte a value is written with.
pub fn value_type(v: &Value) -> u8 {
    match v {
        Value::Str(_) => types::STRING,
        Value::List(_) => types::LIST_QUICKLIST_2,
        Value::Set(s) => match s {
            Set::Ints(_) => types::SET_INTSET,
            Set::Table(_) => types::SET,
        },
        // A hash is written in the encoding it has, as Redis does.
        Value::Hash(h) => match h {
            Hash::Pack(_) => types::HASH_LISTPACK,
            Hash::Table(_) => types::HASH,
        },
        Value::ZSet(z) => match z {
            ZSet::Pack(_) => types::ZSET_LISTPACK,
            ZSet::Full(_) => types::ZSET_2,
        },
        Value::Stream(_) => types::STREAM_LISTPACKS_2,
    }
}

/// Writes a value's body (after its type byte), in the type `value_type` gives.
pub fn write_value(out: &mut Vec<u8>, v: &Value, opts: &EncodeOptions, sc: &mut Scratch) {
    match v {
        Value::Str(s) => write_string(out, s, opts, sc),
        // The quicklist's own nodes, each a packed listpack node, as Redis writes them.
        Value::List(l) => {
            write_len(out, l.nodes().count() as u64);
            for node in l.nodes() {
                write_len(out, 2); // QUICKLIST_NODE_CONTAINER_PACKED
                sc.blob.clear();
                sc.blob.extend_from_slice(node.as_bytes());
                write_blob(out, opts, sc);
            }
        }
        Value::Set(s) => match s {
            Set::Ints(ints) => {
                sc.blob.clear();
                sc.blob.extend_from_slice(ints.as_bytes());
                write_blob(out, opts, sc);
            }
            Set::Table(t) => {
                write_len(out, t.len() as u64);
                for m in t.iter() {
                    write_string(out, m.as_bytes(), opts, sc);
                }
            }
        },
        Value::Hash(h) => match h {
            Hash::Pack(lp) => {
                sc.blob.clear();
                sc.blob.extend_from_slice(lp.as_bytes());
                write_blob(out, opts, sc);
            }
            Hash::Table(t) => {
                write_len(out, t.len() as u64);
                for (k, v) in t.iter().map(|fv| fv.split()) {
                    write_string(out, k, opts, sc);
                    write_string(out, v, opts, sc);
                }
            }
        },
        Value::ZSet(z) => match z {
            ZSet::Pack(lp) => {
                sc.blob.clear();
                sc.blob.extend_from_slice(lp.as_bytes());
                write_blob(out, opts, sc);
            }
            ZSet::Full(_) => {
                write_len(out, z.len() as u64);
                // Redis writes from the highest score down so loading appends cheaply.
                for (m, score) in z.iter().rev() {
                    write_string(out, &m, opts, sc);
                    out.extend_from_slice(&score.to_le_bytes());
                }
            }
        },
        Value::Stream(st) => super::stream::write_stream(out, st, opts, sc),
    }
}

/// A streaming RDB file writer: buffers output, keeps the running CRC-64.
pub struct RdbWriter<W: Write> {
    sink: W,
    pub buf: Vec<u8>,
    crc: u64,
    written: u64,
    pub opts: EncodeOptions,
    pub scratch: Scratch,
}

const FLUSH_AT: usize = 1 << 16;

impl<W: Write> RdbWriter<W> {
    pub fn new(sink: W, opts: EncodeOptions) -> Self {
        RdbWriter { sink, buf: Vec::with_capacity(FLUSH_AT * 2), crc: 0, written: 0, opts, scratch: Scratch::default() }
    }

    fn maybe_flush(&mut self) -> std::io::Result<()> {
        if self.buf.len() >= FLUSH_AT {
            self.flush_buf()?;
        }
        Ok(())
    }

    fn flush_buf(&mut self) -> std::io::Result<()> {
        if self.opts.checksum {
            self.crc = crc64::update(self.crc, &self.buf);
        }
        self.sink.write_all(&self.buf)?;
        self.written += self.buf.len() as u64;
        self.buf.clear();
        Ok(())
    }

    pub fn header(&mut self) {
        self.buf.extend_from_slice(format!("REDIS{RDB_VERSION:04}").as_bytes());
    }

    /// A FUNCTION library (written after the AUX fields, before the databases, as Redis does).
    pub fn function(&mut self, code: &[u8]) {
        super::write_function(&mut self.buf, code, &self.opts);
    }

    pub fn aux(&mut self, key: &str, value: &str) {
        self.buf.push(opcodes::AUX);
        write_string(&mut self.buf, key.as_bytes(), &self.opts, &mut self.scratch);
        write_string(&mut self.buf, value.as_bytes(), &self.opts, &mut self.scratch);
    }

    /// Writes one database's SELECTDB, RESIZEDB and keys (skips empty databases).
    pub fn db(&mut self, index: usize, db: &Db) -> std::io::Result<()> {
        if db.is_empty() {
            return Ok(());
        }
        self.buf.push(opcodes::SELECTDB);
        write_len(&mut self.buf, index as u64);
        self.buf.push(opcodes::RESIZEDB);
        write_len(&mut self.buf, db.len() as u64);
        write_len(&mut self.buf, db.expires_len() as u64);
        for (k, e) in db.iter() {
            if e.expire_at != 0 {
                self.buf.push(opcodes::EXPIRETIME_MS);
                self.buf.extend_from_slice(&e.expire_at.to_le_bytes());
            }
            self.buf.push(value_type(&e.value));
            write_string(&mut self.buf, k, &self.opts, &mut self.scratch);
            write_value(&mut self.buf, &e.value, &self.opts, &mut self.scratch);
            self.maybe_flush()?;
            crate::persistence::child_info::key_written();
            if self.opts.key_delay_us > 0 {
                std::thread::sleep(std::time::Duration::from_micros(self.opts.key_delay_us));
            }
        }
        Ok(())
    }

    /// Writes EOF and the checksum (zero when rdbchecksum is off); returns the sink and size.
    pub fn finish(mut self) -> std::io::Result<(W, u64)> {
        self.buf.push(opcodes::EOF);
        self.flush_buf()?;
        let crc = if self.opts.checksum { self.crc } else { 0 };
        self.sink.write_all(&crc.to_le_bytes())?;
        self.written += 8;
        self.sink.flush()?;
        Ok((self.sink, self.written))
    }
}

/// Writes a whole RDB (header, AUX fields, every database, EOF, checksum) to `sink`.
pub fn save_dbs<W: Write>(
    sink: W,
    dbs: &[Db],
    functions: &[Vec<u8>],
    mut opts: EncodeOptions,
    aof_base: bool,
) -> std::io::Result<(W, u64)> {
    let repl = opts.repl.take();
    let mut w = RdbWriter::new(sink, opts);
    w.header();
    w.aux("redis-ver", crate::REDIS_VERSION);
    w.aux("redis-bits", "64");
    let now = crate::util::time::unix_ms() / 1000;
    w.aux("ctime", &now.to_string());
    w.aux("used-mem", &crate::util::proc::process_rss().to_string());
    if let Some(r) = repl {
        w.aux("repl-stream-db", &r.stream_db.to_string());
        w.aux("repl-id", &r.replid);
        w.aux("repl-offset", &r.offset.to_string());
    }
    w.aux("aof-base", if aof_base { "1" } else { "0" });
    for code in functions {
        w.function(code);
    }
    for (i, db) in dbs.iter().enumerate() {
        w.db(i, db)?;
    }
    w.finish()
}
