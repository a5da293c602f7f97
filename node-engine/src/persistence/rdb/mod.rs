//! Redis RDB version 10 (Redis 7.0): the snapshot file format, also the body
//! of DUMP payloads and of the AOF base file. `encode` writes what Redis 7.0
//! writes; `decode` reads everything Redis 7.0 writes (and the older
//! encodings it still loads), so files move both ways between us and Redis.

pub mod check;
pub mod decode;
pub mod encode;
pub mod incremental;
pub mod packed;
pub mod stream;

pub use decode::{load_into, DecodeError, LoadStats, Reader};
pub use encode::{save_dbs, value_type, write_value, EncodeOptions, ReplAux, Scratch};

/// The RDB version we write (Redis 7.0).
pub const RDB_VERSION: u16 = 10;
/// The newest version we read (Redis 7.2 adds only the set listpack type).
pub const RDB_VERSION_MAX_READ: u16 = 11;

pub mod types {
    pub const STRING: u8 = 0;
    pub const LIST: u8 = 1;
    pub const SET: u8 = 2;
    pub const ZSET: u8 = 3;
    pub const HASH: u8 = 4;
    pub const ZSET_2: u8 = 5;
    pub const MODULE: u8 = 6;
    pub const MODULE_2: u8 = 7;
    pub const HASH_ZIPMAP: u8 = 9;
    pub const LIST_ZIPLIST: u8 = 10;
    pub const SET_INTSET: u8 = 11;
    pub const ZSET_ZIPLIST: u8 = 12;
    pub const HASH_ZIPLIST: u8 = 13;
    pub const LIST_QUICKLIST: u8 = 14;
    pub const STREAM_LISTPACKS: u8 = 15;
    pub const HASH_LISTPACK: u8 = 16;
    pub const ZSET_LISTPACK: u8 = 17;
    pub const LIST_QUICKLIST_2: u8 = 18;
    pub const STREAM_LISTPACKS_2: u8 = 19;
    pub const SET_LISTPACK: u8 = 20;
    pub const STREAM_LISTPACKS_3: u8 = 21;

    /// A readable name for error messages.
    pub fn name(t: u8) -> &'static str {
        match t {
            STRING => "string",
            LIST => "list (linked list)",
            SET => "set",
            ZSET => "zset (v1)",
            HASH => "hash",
            ZSET_2 => "zset",
            MODULE | MODULE_2 => "module value",
            HASH_ZIPMAP => "hash (zipmap)",
            LIST_ZIPLIST => "list (ziplist)",
            SET_INTSET => "set (intset)",
            ZSET_ZIPLIST => "zset (ziplist)",
            HASH_ZIPLIST => "hash (ziplist)",
            LIST_QUICKLIST => "list (quicklist)",
            STREAM_LISTPACKS | STREAM_LISTPACKS_2 | STREAM_LISTPACKS_3 => "stream",
            HASH_LISTPACK => "hash (listpack)",
            ZSET_LISTPACK => "zset (listpack)",
            LIST_QUICKLIST_2 => "list (quicklist)",
            SET_LISTPACK => "set (listpack)",
            _ => "unknown",
        }
    }
}

/// Appends one function library as RDB and FUNCTION DUMP carry it:
/// the FUNCTION2 opcode and the library's code (header included).
pub fn write_function(out: &mut Vec<u8>, code: &[u8], opts: &EncodeOptions) {
    out.push(opcodes::FUNCTION_2);
    encode::write_string(out, code, opts, &mut Scratch::default());
}

/// Reads the libraries of a FUNCTION DUMP body (the payload without its
/// version and checksum): Redis's error texts for anything else.
pub fn read_functions(body: &[u8]) -> Result<Vec<Vec<u8>>, String> {
    let mut r = Reader::new(body);
    let mut out = Vec::new();
    while r.pos < body.len() {
        let t = r.u8().map_err(|_| "can not read data type".to_string())?;
        if t != opcodes::FUNCTION_2 {
            return Err("given type is not a function".into());
        }
        out.push(r.string().map_err(|_| "failed loading the given functions payload".to_string())?);
    }
    Ok(out)
}

pub mod opcodes {
    pub const FUNCTION_2: u8 = 0xF5;
    pub const FUNCTION_PRE_GA: u8 = 0xF6;
    pub const MODULE_AUX: u8 = 0xF7;
    pub const IDLE: u8 = 0xF8;
    pub const FREQ: u8 = 0xF9;
    pub const AUX: u8 = 0xFA;
    pub const RESIZEDB: u8 = 0xFB;
    pub const EXPIRETIME_MS: u8 = 0xFC;
    pub const EXPIRETIME: u8 = 0xFD;
    pub const SELECTDB: u8 = 0xFE;
    pub const EOF: u8 = 0xFF;
}

/// Special string encodings (length byte 11xxxxxx).
pub mod enc {
    pub const INT8: u8 = 0;
    pub const INT16: u8 = 1;
    pub const INT32: u8 = 2;
    pub const LZF: u8 = 3;
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests;

/// Test data shared with other persistence tests.
#[cfg(test)]
pub(crate) mod tests_support {
    pub fn sample() -> crate::keyspace::Db {
        super::tests::sample_db()
    }
}
