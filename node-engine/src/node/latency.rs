//! The latency monitor: events slower than `latency-monitor-threshold`
//! (a slow command, an expire cycle) with the last 160 samples of each, one
//! per second, as LATENCY LATEST/HISTORY/GRAPH/DOCTOR report them; and the
//! per-command latency histograms (LATENCY HISTOGRAM, INFO latencystats).

use std::collections::{BTreeMap, VecDeque};

/// Samples kept per event (Redis's LATENCY_TS_LEN).
pub const HISTORY_LEN: usize = 160;

/// One event class's samples: (unix seconds, milliseconds), oldest first.
#[derive(Debug, Default, Clone)]
pub struct Event {
    pub samples: VecDeque<(u64, u64)>,
    /// The highest latency ever recorded for it.
    pub max: u64,
}

#[derive(Debug, Default)]
pub struct Monitor {
    pub events: BTreeMap<&'static str, Event>,
}

impl Monitor {
    /// Records `ms` for `event` at `now_secs`: one sample per second, the
    /// highest of that second kept (latencyAddSample).
    pub fn add(&mut self, event: &'static str, now_secs: u64, ms: u64) {
        let e = self.events.entry(event).or_default();
        e.max = e.max.max(ms);
        if let Some(last) = e.samples.back_mut() {
            if last.0 == now_secs {
                last.1 = last.1.max(ms);
                return;
            }
        }
        e.samples.push_back((now_secs, ms));
        if e.samples.len() > HISTORY_LEN {
            e.samples.pop_front();
        }
    }

    /// Forgets one event, or all of them; how many were forgotten.
    pub fn reset(&mut self, event: Option<&[u8]>) -> usize {
        match event {
            None => {
                let n = self.events.len();
                self.events.clear();
                n
            }
            Some(name) => {
                let key = self.events.keys().find(|k| k.as_bytes() == name).copied();
                key.map_or(0, |k| usize::from(self.events.remove(k).is_some()))
            }
        }
    }

    pub fn get(&self, event: &[u8]) -> Option<(&'static str, &Event)> {
        self.events.iter().find(|(k, _)| k.as_bytes() == event).map(|(k, e)| (*k, e))
    }
}

/// Buckets of a latency histogram: bucket `i` counts calls of at most 2^i µs.
pub const BUCKETS: usize = 48;

/// A command's latency histogram in powers of two of microseconds.
#[derive(Debug, Clone)]
pub struct Histogram {
    pub counts: Box<[u64; BUCKETS]>,
    pub total: u64,
}

impl Default for Histogram {
    fn default() -> Self {
        Histogram { counts: Box::new([0; BUCKETS]), total: 0 }
    }
}

impl Histogram {
    pub fn record(&mut self, us: u64) {
        let i = if us <= 1 { 0 } else { (64 - (us - 1).leading_zeros()) as usize };
        self.counts[i.min(BUCKETS - 1)] += 1;
        self.total += 1;
    }

    /// (upper bound in µs, calls up to it) for each bucket that adds calls,
    /// as Redis lists its cumulative distribution.
    pub fn cumulative(&self) -> Vec<(u64, u64)> {
        let mut out = Vec::new();
        let mut sum = 0;
        for (i, c) in self.counts.iter().enumerate() {
            if *c > 0 {
                sum += c;
                out.push((1u64 << i, sum));
            }
        }
        out
    }

    /// The latency at percentile `p` (0-100), as the bucket's upper bound.
    pub fn percentile(&self, p: f64) -> u64 {
        if self.total == 0 {
            return 0;
        }
        let want = ((p / 100.0) * self.total as f64).ceil().max(1.0) as u64;
        let mut sum = 0;
        for (i, c) in self.counts.iter().enumerate() {
            sum += c;
            if sum >= want {
                return 1u64 << i;
            }
        }
        1u64 << (BUCKETS - 1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn samples_keep_the_worst_of_each_second_and_histograms_double() {
        let mut m = Monitor::default();
        m.add("command", 100, 5);
        m.add("command", 100, 9);
        m.add("command", 100, 3);
        m.add("command", 101, 4);
        let e = &m.events["command"];
        assert_eq!(e.samples, VecDeque::from(vec![(100, 9), (101, 4)]));
        assert_eq!(e.max, 9);
        assert_eq!(m.reset(Some(b"nope")), 0);
        assert_eq!(m.reset(None), 1);
        let mut h = Histogram::default();
        for us in [1, 2, 3, 4, 5, 1000] {
            h.record(us);
        }
        assert_eq!(h.cumulative(), vec![(1, 1), (2, 2), (4, 4), (8, 5), (1024, 6)]);
        assert_eq!(h.percentile(50.0), 4);
        assert_eq!(h.percentile(100.0), 1024);
    }
}
