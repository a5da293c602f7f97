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

/// `04 Dec 2026 21:30:00.123` as Redis stamps its log lines (UTC here).
pub fn log_time() -> String {
    const MONTHS: [&str; 12] = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
    let ms = unix_ms();
    let secs = ms / 1000;
    let days = (secs / 86_400) as i64;
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    let t = secs % 86_400;
    format!("{day:02} {} {year} {:02}:{:02}:{:02}.{:03}", MONTHS[(month - 1) as usize], t / 3600, t / 60 % 60, t % 60, ms % 1000)
}
