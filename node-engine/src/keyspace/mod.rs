//! The data: typed values and the per-database key tables with expiry.

pub mod db;
pub mod value;
pub mod zset;

pub use db::Db;
pub use value::Value;
pub use zset::ZSet;

/// Keys and small strings are owned boxed byte slices: one allocation, 16 bytes inline.
pub type Key = Box<[u8]>;
