//! Exponential backoff between restart attempts.

use std::time::Duration;

/// Delay before restart attempt `attempt` (1-based): base, 2*base, 4*base... capped.
pub fn delay(attempt: u32, base_ms: u64, max_ms: u64) -> Duration {
    let shift = attempt.saturating_sub(1).min(30);
    let ms = base_ms.saturating_mul(1u64 << shift).min(max_ms.max(base_ms));
    Duration::from_millis(ms)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doubles_and_caps() {
        assert_eq!(delay(1, 100, 1000), Duration::from_millis(100));
        assert_eq!(delay(2, 100, 1000), Duration::from_millis(200));
        assert_eq!(delay(4, 100, 1000), Duration::from_millis(800));
        assert_eq!(delay(5, 100, 1000), Duration::from_millis(1000));
        assert_eq!(delay(99, 100, 1000), Duration::from_millis(1000));
    }
}
