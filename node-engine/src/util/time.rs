//! The wall clock in Unix milliseconds, the unit of every expiry, timestamp
//! and timeout in the node.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

/// The last time read by `unix_ms` (each command batch reads the clock).
static RECENT: AtomicU64 = AtomicU64::new(0);

/// Unix time in milliseconds (0 if the clock is before 1970).
pub fn unix_ms() -> u64 {
    let now = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as u64).unwrap_or(0);
    RECENT.store(now, Ordering::Relaxed);
    now
}

/// The clock as last read, without a system call: for bookkeeping that
/// needs no more precision than "this command batch" (LRU clocks).
pub fn recent_ms() -> u64 {
    match RECENT.load(Ordering::Relaxed) {
        0 => unix_ms(),
        t => t,
    }
}
