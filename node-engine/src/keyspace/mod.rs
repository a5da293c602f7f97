//! The data: typed values and the per-database key tables with expiry.

pub mod db;
pub mod dense;
pub mod digest;
pub mod geohash;
pub mod growth;
pub mod hash;
pub mod hll;
pub mod intset;
pub mod lazyfree;
pub mod list;
pub mod listpack;
pub mod lru;
pub mod propagation;
pub mod set;
pub mod stream;
pub mod thin;
pub mod value;
pub mod zset;

pub use db::Db;
pub use hash::Hash;
pub use list::List;
pub use propagation::Propagation;
pub use set::Set;
pub use stream::Stream;
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
    /// The code of every FUNCTION library, as snapshots save them (kept
    /// in step with the loaded libraries by the node).
    pub functions: Vec<Vec<u8>>,
    /// Library code read by a load, waiting for the node to compile it.
    pub loaded_functions: Vec<Vec<u8>>,
    /// `maxmemory` in bytes (0: no limit), cached for the per-command check.
    pub maxmemory: u64,
    /// CONFIG SET lowered the limit: evict once the running batch is done.
    pub evict_soon: bool,
    /// The background thread that frees big values and flushed databases.
    pub lazyfree: lazyfree::LazyFree,
    /// DEBUG QUICKLIST-PACKED-THRESHOLD's setting (0: the default, 1 GB).
    pub list_packed_threshold: usize,
    /// Whether the cron deletes expired keys (DEBUG SET-ACTIVE-EXPIRE 0 turns it off, as tests do).
    pub active_expire: bool,
}

impl Keyspace {
    /// Keys in every database.
    pub fn key_count(&self) -> u64 {
        self.dbs.iter().map(|d| d.len() as u64).sum()
    }
}

/// Redis's default for a list element that gets a node of its own.
pub const DEFAULT_PACKED_THRESHOLD: usize = 1 << 30;

/// The thresholds of the compact encodings (Redis 7.0's settings, cached per database).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// `hash-max-listpack-entries` (field-value pairs).
    pub hash_entries: usize,
    /// `hash-max-listpack-value` (bytes of a field or value).
    pub hash_value: usize,
    /// `set-max-intset-entries`.
    pub set_intset_entries: usize,
    /// `zset-max-listpack-entries` (members).
    pub zset_entries: usize,
    /// `zset-max-listpack-value` (bytes of a member).
    pub zset_value: usize,
    /// `list-max-listpack-size` (negative: node bytes class; positive: elements per node).
    pub list_fill: i64,
    /// Elements this big get a list node of their own (DEBUG QUICKLIST-PACKED-THRESHOLD).
    pub list_packed_threshold: usize,
    /// `hll-sparse-max-bytes`: a sparse HyperLogLog past this turns dense.
    pub hll_sparse_max: usize,
    /// `stream-node-max-bytes` and `stream-node-max-entries`.
    pub stream_node: stream::NodeLimits,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            hash_entries: 512,
            hash_value: 64,
            set_intset_entries: 512,
            zset_entries: 128,
            zset_value: 64,
            list_fill: -2,
            list_packed_threshold: DEFAULT_PACKED_THRESHOLD,
            hll_sparse_max: 3000,
            stream_node: stream::NodeLimits::default(),
        }
    }
}
