//! The data: typed values and the per-database key tables with expiry.

pub mod db;
pub mod hash;
pub mod intset;
pub mod list;
pub mod listpack;
pub mod propagation;
pub mod set;
pub mod value;
pub mod zset;

pub use db::Db;
pub use hash::{Hash, Limits};
pub use list::List;
pub use propagation::Propagation;
pub use set::Set;
pub use value::Value;
pub use zset::ZSet;

/// Keys and small strings are owned boxed byte slices: one allocation, 16 bytes inline.
pub type Key = Box<[u8]>;

/// The node's databases and the count of changes since the last save.
#[derive(Debug, Default)]
pub struct Keyspace {
    pub dbs: Vec<Db>,
    /// Changes since the last successful save.
    pub dirty: u64,
}
