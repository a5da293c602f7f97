//! Reading RDB: every encoding Redis 7.0 writes or still loads, with the
//! byte offset of any problem so a corrupt file can be pinpointed.

use super::packed::{listpack_for_each, pairs_for_each, ziplist_for_each, zipmap_for_each};
use super::{enc, opcodes, types, RDB_VERSION_MAX_READ};
use crate::keyspace::intset::IntSet;
use crate::keyspace::listpack::ListPack;
use crate::keyspace::{Db, Hash, Key, Limits, List, Set, Value, ZSet};
use crate::persistence::{crc64, lzf};
use std::collections::VecDeque;

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum DecodeErrorKind {
    #[error("unexpected end of data (truncated)")]
    Truncated,
    #[error("not an RDB file (bad magic)")]
    BadMagic,
    #[error("unsupported RDB version {0}")]
    Version(u32),
    #[error("unsupported value type {0} ({name})", name = types::name(*.0))]
    UnsupportedType(u8),
    #[error("{0} are not supported by slot-node")]
    Unsupported(&'static str),
    #[error("corrupt data: {0}")]
    Corrupt(&'static str),
    /// A compact blob that fails its check, named as Redis logs it
    /// ("Ziplist integrity check failed.") with what we found wrong.
    #[error("{what} integrity check failed. ({detail})")]
    Integrity { what: &'static str, detail: &'static str },
    #[error("database index {0} out of range")]
    DbIndex(u64),
    #[error("RDB CRC error: wrong RDB checksum expected: ({expected:x}) got: ({actual:x})")]
    Checksum { expected: u64, actual: u64 },
}

/// Refuses a hash that names a field twice (Redis treats it as corruption).
fn check_distinct(pairs: &[(Key, Key)]) -> Result<(), DecodeErrorKind> {
    let mut seen = std::collections::HashSet::with_capacity(pairs.len());
    if pairs.iter().all(|(f, _)| seen.insert(&f[..])) {
        Ok(())
    } else {
        Err(DecodeErrorKind::Corrupt("Duplicate hash fields detected"))
    }
}

/// Refuses a sorted set that names a member twice.
fn check_distinct_members<M: AsRef<[u8]>>(items: &[(M, f64)]) -> Result<(), DecodeErrorKind> {
    let mut seen = std::collections::HashSet::with_capacity(items.len());
    if items.iter().all(|(m, _)| seen.insert(m.as_ref())) {
        Ok(())
    } else {
        Err(DecodeErrorKind::Corrupt("Duplicate zset fields detected"))
    }
}

/// Names a blob's failure as Redis logs it for that encoding.
fn integrity(what: &'static str) -> impl Fn(DecodeErrorKind) -> DecodeErrorKind {
    move |k| match k {
        DecodeErrorKind::Corrupt(detail) => DecodeErrorKind::Integrity { what, detail },
        DecodeErrorKind::Integrity { detail, .. } => DecodeErrorKind::Integrity { what, detail },
        other => other,
    }
}

/// A set read as members, in the encoding Redis would give it; a repeated member is corruption.
fn set_from_members(members: Vec<Key>, limits: &Limits) -> Result<Set, DecodeErrorKind> {
    let mut seen = std::collections::HashSet::with_capacity(members.len());
    if !members.iter().all(|m| seen.insert(&m[..])) {
        return Err(DecodeErrorKind::Corrupt("Duplicate set members detected"));
    }
    Ok(Set::from_members(members, limits))
}

/// A hash read as pairs, in the encoding Redis would give it.
fn hash_from_pairs(pairs: Vec<(Key, Key)>, limits: &Limits) -> Result<Hash, DecodeErrorKind> {
    check_distinct(&pairs)?;
    Ok(Hash::from_pairs(pairs, limits))
}

/// A decoding failure and where in the data it happened.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{kind} at offset {offset}")]
pub struct DecodeError {
    pub offset: usize,
    pub kind: DecodeErrorKind,
}

type R<T> = Result<T, DecodeError>;

/// A cursor over RDB bytes.
pub struct Reader<'a> {
    pub data: &'a [u8],
    pub pos: usize,
    /// Compact-encoding thresholds for the values read (as Redis converts on load).
    pub limits: Limits,
}

impl<'a> Reader<'a> {
    pub fn new(data: &'a [u8]) -> Self {
        Reader { data, pos: 0, limits: Limits::default() }
    }

    pub fn with_limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self
    }

    pub fn err(&self, kind: DecodeErrorKind) -> DecodeError {
        DecodeError { offset: self.pos, kind }
    }

    pub fn bytes(&mut self, n: usize) -> R<&'a [u8]> {
        let end = self.pos.checked_add(n).filter(|&e| e <= self.data.len()).ok_or_else(|| self.err(DecodeErrorKind::Truncated))?;
        let s = &self.data[self.pos..end];
        self.pos = end;
        Ok(s)
    }

    pub fn u8(&mut self) -> R<u8> {
        Ok(self.bytes(1)?[0])
    }

    pub(super) fn array<const N: usize>(&mut self) -> R<[u8; N]> {
        let mut a = [0u8; N];
        a.copy_from_slice(self.bytes(N)?);
        Ok(a)
    }

    /// A length, or Err(special encoding) for `11xxxxxx`.
    fn len_or_enc(&mut self) -> R<Result<u64, u8>> {
        let b = self.u8()?;
        Ok(match b >> 6 {
            0 => Ok((b & 0x3f) as u64),
            1 => Ok((((b & 0x3f) as u64) << 8) | self.u8()? as u64),
            2 => match b {
                0x80 => Ok(u32::from_be_bytes(self.array()?) as u64),
                0x81 => Ok(u64::from_be_bytes(self.array()?)),
                _ => return Err(self.err(DecodeErrorKind::Corrupt("bad length encoding"))),
            },
            _ => Err(b & 0x3f),
        })
    }

    pub fn length(&mut self) -> R<u64> {
        match self.len_or_enc()? {
            Ok(n) => Ok(n),
            Err(_) => Err(self.err(DecodeErrorKind::Corrupt("expected a length, found a string encoding"))),
        }
    }

    /// A length used to size an allocation: bounded by the bytes left, so a
    /// corrupt header cannot make us reserve gigabytes.
    fn count(&mut self) -> R<usize> {
        let n = self.length()?;
        if n > (self.data.len() - self.pos) as u64 {
            return Err(self.err(DecodeErrorKind::Corrupt("element count larger than the data")));
        }
        Ok(n as usize)
    }

    /// A string in any of its encodings (raw, integer, LZF).
    pub fn string(&mut self) -> R<Vec<u8>> {
        match self.len_or_enc()? {
            Ok(n) => {
                let n = usize::try_from(n).map_err(|_| self.err(DecodeErrorKind::Truncated))?;
                Ok(self.bytes(n)?.to_vec())
            }
            Err(enc::INT8) => Ok((self.u8()? as i8).to_string().into_bytes()),
            Err(enc::INT16) => Ok(i16::from_le_bytes(self.array()?).to_string().into_bytes()),
            Err(enc::INT32) => Ok(i32::from_le_bytes(self.array()?).to_string().into_bytes()),
            Err(enc::LZF) => {
                let at = self.pos;
                let clen = self.length()? as usize;
                let len = self.length()?;
                // The output buffer is sized from `len`: refuse a length the
                // compressed bytes cannot expand to, so a forged header is an
                // error, never an allocation of what it claims.
                if len > lzf::max_decompressed_len(clen) as u64 {
                    return Err(self.err(DecodeErrorKind::Corrupt("LZF length larger than its compressed data can hold")));
                }
                let c = self.bytes(clen)?;
                lzf::decompress(c, len as usize)
                    .map_err(|_| DecodeError { offset: at, kind: DecodeErrorKind::Corrupt("LZF string does not decompress") })
            }
            Err(_) => Err(self.err(DecodeErrorKind::Corrupt("unknown string encoding"))),
        }
    }

    fn key(&mut self) -> R<Key> {
        Ok(self.string()?.into_boxed_slice())
    }

    fn binary_double(&mut self) -> R<f64> {
        let v = f64::from_le_bytes(self.array()?);
        if v.is_nan() {
            return Err(self.err(DecodeErrorKind::Corrupt("NaN score")));
        }
        Ok(v)
    }

    /// The old text score format of RDB_TYPE_ZSET.
    fn text_double(&mut self) -> R<f64> {
        let n = self.u8()?;
        match n {
            253 => Err(self.err(DecodeErrorKind::Corrupt("NaN score"))),
            254 => Ok(f64::INFINITY),
            255 => Ok(f64::NEG_INFINITY),
            _ => {
                let s = self.bytes(n as usize)?;
                crate::util::num::parse_float_opt(s).ok_or_else(|| self.err(DecodeErrorKind::Corrupt("bad score")))
            }
        }
    }

    /// A value body of the given type; None when it decodes to an empty collection.
    pub fn value(&mut self, t: u8) -> R<Option<Value>> {
        let start = self.pos;
        let at = |kind: DecodeErrorKind| DecodeError { offset: start, kind };
        let v = match t {
            types::STRING => Value::Str(self.key()?),
            types::LIST => {
                let n = self.count()?;
                let mut l = VecDeque::with_capacity(n);
                for _ in 0..n {
                    l.push_back(self.key()?);
                }
                Value::List(Box::new(List::from_items(l, &self.limits)))
            }
            types::SET => {
                let n = self.count()?;
                let mut members = Vec::with_capacity(n);
                for _ in 0..n {
                    members.push(self.key()?);
                }
                Value::Set(set_from_members(members, &self.limits).map_err(at)?)
            }
            types::ZSET | types::ZSET_2 => {
                let n = self.count()?;
                let mut items = Vec::with_capacity(n);
                for _ in 0..n {
                    let m = self.string()?;
                    let score = if t == types::ZSET_2 { self.binary_double()? } else { self.text_double()? };
                    items.push((m, score));
                }
                check_distinct_members(&items).map_err(at)?;
                Value::ZSet(ZSet::from_pairs(items.iter().map(|(m, s)| (&m[..], *s)), &self.limits))
            }
            types::HASH => {
                let n = self.count()?;
                let mut pairs = Vec::with_capacity(n);
                for _ in 0..n {
                    let k = self.key()?;
                    let v = self.key()?;
                    pairs.push((k, v));
                }
                Value::Hash(hash_from_pairs(pairs, &self.limits).map_err(at)?)
            }
            types::SET_INTSET => {
                let blob = self.string()?;
                let ints = IntSet::from_bytes(blob).map_err(|c| at(integrity("Intset")(DecodeErrorKind::Corrupt(c.0))))?;
                Value::Set(Set::from_intset(ints, &self.limits))
            }
            types::SET_LISTPACK => {
                let blob = self.string()?;
                let mut members = Vec::new();
                listpack_for_each(&blob, |e| {
                    members.push(e.to_key());
                    Ok(())
                })
                .map_err(integrity("Set listpack"))
                .map_err(at)?;
                Value::Set(set_from_members(members, &self.limits).map_err(at)?)
            }
            types::LIST_ZIPLIST => {
                let blob = self.string()?;
                let mut l = VecDeque::new();
                ziplist_for_each(&blob, |e| {
                    l.push_back(e.to_key());
                    Ok(())
                })
                .map_err(integrity("List ziplist"))
                .map_err(at)?;
                Value::List(Box::new(List::from_items(l, &self.limits)))
            }
            types::LIST_QUICKLIST | types::LIST_QUICKLIST_2 => {
                let nodes = self.count()?;
                let mut l = VecDeque::new();
                for _ in 0..nodes {
                    let container = if t == types::LIST_QUICKLIST_2 { self.length()? } else { 2 };
                    let node_at = self.pos;
                    let blob = self.string()?;
                    let here = |kind| DecodeError { offset: node_at, kind };
                    if blob.is_empty() {
                        return Err(here(DecodeErrorKind::Corrupt("empty quicklist node")));
                    }
                    match (t, container) {
                        (_, 1) => l.push_back(blob.into_boxed_slice()),
                        (types::LIST_QUICKLIST_2, 2) => {
                            listpack_for_each(&blob, |e| {
                                l.push_back(e.to_key());
                                Ok(())
                            })
                            .map_err(integrity("Listpack"))
                            .map_err(here)?;
                        }
                        (types::LIST_QUICKLIST, _) => {
                            ziplist_for_each(&blob, |e| {
                                l.push_back(e.to_key());
                                Ok(())
                            })
                            .map_err(integrity("Ziplist"))
                            .map_err(here)?;
                        }
                        _ => return Err(here(DecodeErrorKind::Integrity { what: "Quicklist", detail: "bad node container" })),
                    }
                }
                Value::List(Box::new(List::from_items(l, &self.limits)))
            }
            types::HASH_ZIPMAP => {
                let blob = self.string()?;
                let mut pairs = Vec::new();
                zipmap_for_each(&blob, |f, v| {
                    pairs.push((Key::from(f), Key::from(v)));
                    Ok(())
                })
                .map_err(integrity("Zipmap"))
                .map_err(at)?;
                if check_distinct(&pairs).is_err() {
                    return Err(at(DecodeErrorKind::Corrupt("Hash zipmap with dup elements")));
                }
                Value::Hash(Hash::from_pairs(pairs, &self.limits))
            }
            types::HASH_ZIPLIST | types::HASH_LISTPACK => {
                let what = if t == types::HASH_LISTPACK { "Hash listpack" } else { "Hash ziplist" };
                let blob = self.string()?;
                let mut pairs = Vec::new();
                pairs_for_each(&blob, t == types::HASH_LISTPACK, |f, v| {
                    pairs.push((f.to_key(), v.to_key()));
                    Ok(())
                })
                .and_then(|()| check_distinct(&pairs))
                .map_err(integrity(what))
                .map_err(at)?;
                let h = if t == types::HASH_LISTPACK && !pairs.is_empty() {
                    // A valid listpack of distinct fields is kept as it is: no rebuild.
                    ListPack::from_bytes(blob).map(|lp| Hash::from_listpack(lp, &self.limits)).map_err(|c| at(c.into()))?
                } else {
                    Hash::from_pairs(pairs, &self.limits)
                };
                Value::Hash(h)
            }
            types::ZSET_ZIPLIST | types::ZSET_LISTPACK => {
                let what = if t == types::ZSET_LISTPACK { "Zset listpack" } else { "Zset ziplist" };
                let blob = self.string()?;
                let mut items = Vec::new();
                pairs_for_each(&blob, t == types::ZSET_LISTPACK, |m, s| {
                    let score = s.to_f64().ok_or(DecodeErrorKind::Corrupt("bad score in zset"))?;
                    items.push((m.to_key(), score));
                    Ok(())
                })
                .and_then(|()| check_distinct_members(&items))
                .map_err(integrity(what))
                .map_err(at)?;
                Value::ZSet(ZSet::from_pairs(items.iter().map(|(m, s)| (&m[..], *s)), &self.limits))
            }
            types::MODULE | types::MODULE_2 => return Err(at(DecodeErrorKind::Unsupported("module values"))),
            types::STREAM_LISTPACKS | types::STREAM_LISTPACKS_2 | types::STREAM_LISTPACKS_3 => {
                Value::Stream(Box::new(super::stream::read_stream(self, t)?))
            }
            _ => return Err(at(DecodeErrorKind::UnsupportedType(t))),
        };
        Ok((!v.is_empty_collection()).then_some(v))
    }
}

/// What a load found.
#[derive(Debug, Default, Clone)]
pub struct LoadStats {
    pub keys: u64,
    pub expired_skipped: u64,
    /// Keys whose collection was empty (Redis never writes them; a damaged or
    /// foreign file may), dropped as Redis drops them.
    pub empty_skipped: u64,
    /// The keys dropped as already expired, with their db: a master that
    /// loads them propagates their deletion (Redis's RDBFLAGS_FEED_REPL).
    pub expired: Vec<(usize, Vec<u8>)>,
    pub aux: Vec<(String, String)>,
    /// Function libraries' code (FUNCTION LOAD), for the scripting layer to compile.
    pub functions: Vec<Vec<u8>>,
}

/// Parses the `REDISnnnn` header; returns the version.
pub fn read_header(r: &mut Reader<'_>) -> R<u32> {
    let magic = r.bytes(9).map_err(|_| r.err(DecodeErrorKind::BadMagic))?;
    if &magic[..5] != b"REDIS" {
        return Err(DecodeError { offset: 0, kind: DecodeErrorKind::BadMagic });
    }
    let v: u32 = std::str::from_utf8(&magic[5..])
        .ok()
        .and_then(|s| s.parse().ok())
        .ok_or(DecodeError { offset: 5, kind: DecodeErrorKind::BadMagic })?;
    if v == 0 || v > RDB_VERSION_MAX_READ as u32 {
        return Err(DecodeError { offset: 5, kind: DecodeErrorKind::Version(v) });
    }
    Ok(v)
}

/// Where a load is between entries: the db selected and the expire time
/// read for the next key.
#[derive(Debug, Default)]
pub(super) struct EntryState {
    pub db: usize,
    pub expire_at: u64,
    pub stats: LoadStats,
}

/// Reads one top-level entry (an opcode and what follows it) into `dbs`.
/// Returns true at the EOF opcode. `on_key` runs after each key is stored
/// (`key-load-delay`).
pub(super) fn load_entry(
    r: &mut Reader<'_>,
    st: &mut EntryState,
    dbs: &mut [Db],
    now_ms: u64,
    drop_expired: bool,
    on_key: &mut dyn FnMut(),
) -> R<bool> {
    let op_at = r.pos;
    let op = r.u8()?;
    match op {
        opcodes::EOF => return Ok(true),
        opcodes::SELECTDB => {
            let n = r.length()?;
            if n >= dbs.len() as u64 {
                return Err(DecodeError { offset: op_at, kind: DecodeErrorKind::DbIndex(n) });
            }
            st.db = n as usize;
        }
        opcodes::RESIZEDB => {
            r.length()?;
            r.length()?;
        }
        opcodes::AUX => {
            let k = r.string()?;
            let v = r.string()?;
            st.stats.aux.push((String::from_utf8_lossy(&k).into_owned(), String::from_utf8_lossy(&v).into_owned()));
        }
        opcodes::EXPIRETIME_MS => st.expire_at = u64::from_le_bytes(r.array()?),
        opcodes::EXPIRETIME => st.expire_at = u32::from_le_bytes(r.array()?) as u64 * 1000,
        opcodes::IDLE => {
            r.length()?;
        }
        opcodes::FREQ => {
            r.u8()?;
        }
        opcodes::MODULE_AUX => return Err(DecodeError { offset: op_at, kind: DecodeErrorKind::Unsupported("module data") }),
        opcodes::FUNCTION_2 => st.stats.functions.push(r.string()?),
        opcodes::FUNCTION_PRE_GA => {
            return Err(DecodeError { offset: op_at, kind: DecodeErrorKind::Unsupported("functions of Redis 7.0 release candidates") })
        }
        t => {
            let key = r.key()?;
            let value = r.value(t)?;
            let exp = std::mem::take(&mut st.expire_at);
            if let Some(v) = value {
                if drop_expired && exp != 0 && exp <= now_ms {
                    st.stats.expired_skipped += 1;
                    st.stats.expired.push((st.db, key.to_vec()));
                } else {
                    dbs[st.db].set_with_expire(&key, v, exp);
                    st.stats.keys += 1;
                }
                on_key();
            } else {
                st.stats.empty_skipped += 1;
                if st.stats.empty_skipped <= 10 {
                    tracing::warn!("RDB load skipping empty key: {}", String::from_utf8_lossy(&key));
                }
            }
        }
    }
    Ok(false)
}

/// Checks the trailing CRC-64 (RDB 5 and later; 0 means none was computed)
/// against `actual`, the checksum of everything before it.
pub(super) fn check_crc(r: &mut Reader<'_>, version: u32, actual: impl FnOnce() -> u64, base: usize) -> R<()> {
    if version < 5 {
        return Ok(());
    }
    let at = r.pos;
    let expected = u64::from_le_bytes(r.array()?);
    if expected != 0 {
        let actual = actual();
        if actual != expected {
            return Err(DecodeError { offset: base + at, kind: DecodeErrorKind::Checksum { expected, actual } });
        }
    }
    Ok(())
}

/// Loads a whole RDB image into `dbs`, dropping keys already expired at
/// `now_ms` (when `drop_expired`), and verifies the trailing CRC-64.
/// Returns where the image ended (an AOF base may be followed by commands).
pub fn load_into(data: &[u8], dbs: &mut [Db], now_ms: u64, drop_expired: bool) -> R<(LoadStats, usize)> {
    let mut r = Reader::new(data).with_limits(dbs.first().map(|d| d.limits).unwrap_or_default());
    let version = read_header(&mut r)?;
    let mut st = EntryState::default();
    while !load_entry(&mut r, &mut st, dbs, now_ms, drop_expired, &mut || {})? {}
    let body_end = r.pos;
    check_crc(&mut r, version, || crc64::crc64(&data[..body_end]), 0)?;
    Ok((st.stats, r.pos))
}
