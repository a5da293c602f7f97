//! Facts about this process that INFO and the RDB header report.

/// Resident set size of this process in bytes (Linux), for INFO memory.
pub fn process_rss() -> u64 {
    std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|s| s.split_whitespace().nth(1).and_then(|p| p.parse::<u64>().ok()))
        .map_or(0, |pages| pages * 4096)
}
