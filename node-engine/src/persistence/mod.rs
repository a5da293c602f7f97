//! Persistence: RDB snapshots, the append-only file, DUMP/RESTORE payloads.

pub mod crc64;
pub mod dump;
pub mod lzf;
pub mod rdb;
