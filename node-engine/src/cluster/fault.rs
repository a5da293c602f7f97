//! Fault injection on the cluster bus, for labs: cut this node off from
//! some peers, delay or drop its bus frames. Driven by the supervisor through
//! the admin-only `SLOTD.FAULT` command; ordinary clients cannot reach it.

use rand::Rng;
use std::collections::HashSet;

#[derive(Debug, Default, Clone)]
pub struct Faults {
    /// Peers whose bus traffic is dropped both ways.
    pub partitioned: HashSet<String>,
    pub delay_ms: u64,
    pub jitter_ms: u64,
    /// Probability in [0, 1] of dropping an outgoing bus frame.
    pub drop_rate: f64,
}

impl Faults {
    pub fn is_empty(&self) -> bool {
        self.partitioned.is_empty() && self.delay_ms == 0 && self.jitter_ms == 0 && self.drop_rate == 0.0
    }
    /// Whether traffic with `peer` is cut.
    pub fn cut(&self, peer: &str) -> bool {
        self.partitioned.contains(peer)
    }
    /// For an outgoing frame to `peer`: None to drop it, else how long to hold it first.
    pub fn outgoing(&self, peer: &str) -> Option<std::time::Duration> {
        if self.cut(peer) {
            return None;
        }
        let mut rng = rand::thread_rng();
        if self.drop_rate > 0.0 && rng.gen::<f64>() < self.drop_rate {
            return None;
        }
        let jitter = if self.jitter_ms > 0 { rng.gen_range(0..=self.jitter_ms) } else { 0 };
        Some(std::time::Duration::from_millis(self.delay_ms + jitter))
    }
    pub fn describe(&self) -> String {
        let mut p: Vec<&String> = self.partitioned.iter().collect();
        p.sort();
        format!(
            "partitioned:{}\r\ndelay_ms:{}\r\njitter_ms:{}\r\ndrop_rate:{}\r\n",
            p.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(","),
            self.delay_ms,
            self.jitter_ms,
            self.drop_rate
        )
    }
}
