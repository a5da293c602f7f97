//! Per-key access data for eviction and OBJECT IDLETIME/FREQ, in Redis's
//! 24-bit form: an LRU clock in seconds, or for LFU policies the access time
//! in minutes (16 bits) and a logarithmic access counter (8 bits).

/// 24 bits, as Redis's LRU_CLOCK_MAX.
pub const CLOCK_MAX: u32 = (1 << 24) - 1;
/// A new key's LFU counter (LFU_INIT_VAL).
pub const LFU_INIT: u32 = 5;

/// How keys record accesses: set from `maxmemory-policy`.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub enum Mode {
    #[default]
    Lru,
    Lfu {
        log_factor: f64,
        decay_minutes: u64,
    },
}

/// The LRU clock at `now_ms`.
pub fn clock(now_ms: u64) -> u32 {
    ((now_ms / 1000) as u32) & CLOCK_MAX
}

fn minutes(now_ms: u64) -> u32 {
    ((now_ms / 60_000) & 0xffff) as u32
}

/// The field of a key created now.
pub fn initial(mode: Mode, now_ms: u64) -> u32 {
    match mode {
        Mode::Lru => clock(now_ms),
        Mode::Lfu { .. } => (minutes(now_ms) << 8) | LFU_INIT,
    }
}

/// The field after an access.
pub fn touched(mode: Mode, field: u32, now_ms: u64) -> u32 {
    match mode {
        Mode::Lru => clock(now_ms),
        Mode::Lfu { log_factor, .. } => {
            let mut counter = lfu_counter(mode, field, now_ms);
            if counter < 255 {
                let base = counter.saturating_sub(LFU_INIT) as f64;
                let p = 1.0 / (base * log_factor + 1.0);
                if rand::random::<f64>() < p {
                    counter += 1;
                }
            }
            (minutes(now_ms) << 8) | counter
        }
    }
}

/// The LFU counter decayed by the minutes since the last access (OBJECT FREQ).
pub fn lfu_counter(mode: Mode, field: u32, now_ms: u64) -> u32 {
    let Mode::Lfu { decay_minutes, .. } = mode else { return 0 };
    let ldt = field >> 8;
    let counter = field & 255;
    let now = minutes(now_ms);
    let elapsed = if now >= ldt { now - ldt } else { 65535 - ldt + now };
    let periods = (elapsed as u64).checked_div(decay_minutes).unwrap_or(0);
    counter.saturating_sub(periods.min(255) as u32)
}

/// Milliseconds since the last access (LRU mode).
pub fn idle_ms(field: u32, now_ms: u64) -> u64 {
    let now = clock(now_ms);
    let secs = if now >= field { now - field } else { now + (CLOCK_MAX - field) };
    secs as u64 * 1000
}

/// RESTORE ... IDLETIME: the field of a key idle for `idle_s` seconds.
pub fn with_idle(idle_s: i64, now_ms: u64) -> u32 {
    let now = clock(now_ms) as i64;
    let abs = now - idle_s;
    if abs < 0 {
        ((now + (CLOCK_MAX as i64) / 2) % CLOCK_MAX as i64) as u32
    } else {
        abs as u32
    }
}

/// RESTORE ... FREQ: the field of a key with this counter.
pub fn with_freq(freq: u8, now_ms: u64) -> u32 {
    (minutes(now_ms) << 8) | freq as u32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn idle_time_counts_seconds_and_wraps() {
        let t0 = 1_000_000_000;
        let f = initial(Mode::Lru, t0);
        assert_eq!(idle_ms(f, t0 + 5_500), 5_000);
        assert_eq!(idle_ms(with_idle(1000, t0), t0), 1_000_000);
        assert_eq!(idle_ms(CLOCK_MAX, 0), 0, "a clock that wrapped still gives a small idle time");
    }

    #[test]
    fn lfu_counters_start_at_five_and_decay_per_period() {
        let mode = Mode::Lfu { log_factor: 10.0, decay_minutes: 1 };
        let t0 = 6_000_000;
        let f = initial(mode, t0);
        assert_eq!(lfu_counter(mode, f, t0), 5);
        assert_eq!(lfu_counter(mode, f, t0 + 3 * 60_000), 2);
        assert_eq!(lfu_counter(mode, with_freq(100, t0), t0 + 60_000), 99);
    }
}
