//! node-engine: a Redis-protocol server with Redis Cluster semantics.
//!
//! # Layout (lowest layer first; `tests/layers.rs` keeps imports pointing down)
//! - [`util`], [`glob`]: clock, atomic file writes, ids, number parsing, RSS, the pause gate; glob patterns.
//! - [`resp`], [`slot`], [`config`]: wire format; hash slots; redis.conf parsing (the file slotd generates, also read by redis-server).
//! - [`keyspace`]: values, databases, expiry, the propagated write stream.
//! - [`acl`]: users, selectors and their rules, key specs, the ACL log (commands known only through a catalog the command layer gives).
//! - [`script`]: the sandboxed Lua state, EVAL's script cache and FUNCTION's libraries (reaching the node only through a `Host`).
//! - [`client`]: per-client state, the client registry, WATCH/blocking waits, pub/sub subscriptions.
//! - [`persistence`], [`replication`], [`cluster`]: RDB/AOF over lent parts, replication state, cluster state and its rules (which return effects).
//! - [`node`]: the `Node` composed of those parts, `Shared` (how the node's tasks reach it), and the tasks that carry out effects (bus, replica link).
//! - [`cmd`]: one file per command family; each command's metadata sits next to its handler.
//! - [`server`]: listener, per-client connections, dispatch and routing, the node's thread and handle.
//!
//! A node is owned by one thread running a single-threaded tokio runtime: the
//! keyspace needs no lock, as in Redis. Several nodes in one process are
//! several threads, each with its own state (no globals), which is what
//! slotd's in-process mode and the tests rely on.

pub(crate) mod acl;
pub(crate) mod client;
pub(crate) mod cluster;
pub(crate) mod cmd;
pub(crate) mod config;
pub(crate) mod glob;
pub(crate) mod keyspace;
pub(crate) mod node;
pub(crate) mod persistence;
pub(crate) mod replication;
pub(crate) mod resp;
pub(crate) mod script;
pub(crate) mod server;
pub mod slot;
pub(crate) mod util;
/// The counting allocator a binary installs so `used_memory` is exact.
pub use util::alloc;

pub use config::{ConfigError, NodeConfig};
pub use server::{run_main, start, NodeHandle, StartError};

/// The version we report in INFO and HELLO; tools check it is >= 7.
pub const REDIS_VERSION: &str = "7.0.15";

/// Tells mimalloc to return freed memory to the OS at once instead of after
/// a delay: the key table's growth frees large buffers, and holding on to
/// them made RSS 40% larger than Redis's for the same data. Programs that
/// use mimalloc as their global allocator (slot-node, slotd) call this first.
pub fn tune_allocator() {
    /// mimalloc's `mi_option_purge_delay`.
    const MI_OPTION_PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;
    // SAFETY: mi_option_set only stores an integer option; valid at any time.
    unsafe { libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DELAY, 0) };
}
