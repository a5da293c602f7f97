//! The replication backlog: the last N bytes of the stream, so a replica
//! that reconnects after a short outage continues instead of resyncing.

use std::collections::VecDeque;

#[derive(Debug)]
pub struct Backlog {
    buf: VecDeque<u8>,
    capacity: usize,
}

impl Backlog {
    /// Empty and unallocated until [`Backlog::allocate`] (a node with no
    /// replica holds none, as Redis creates its backlog on first use).
    pub fn new(capacity: usize) -> Self {
        Backlog { buf: VecDeque::new(), capacity: capacity.max(16 * 1024) }
    }
    /// Allocates the full configured size when the backlog comes into use
    /// (its first append):
    /// it fills with the first writes anyway, and then its memory does not
    /// grow under a `maxmemory` measured after replicas attached.
    pub fn allocate(&mut self) {
        self.buf.reserve(self.capacity.saturating_sub(self.buf.len()));
    }
    pub fn capacity(&self) -> usize {
        self.capacity
    }
    pub fn len(&self) -> usize {
        self.buf.len()
    }
    /// The bytes its buffer takes (more than `len` after growth).
    pub fn allocated(&self) -> usize {
        self.buf.capacity()
    }
    /// A new configured size; what goes beyond it is dropped by the next
    /// `shrink`, which knows what replicas still need.
    pub fn set_capacity(&mut self, cap: usize) {
        self.capacity = cap.max(16 * 1024);
        if self.buf.capacity() > 0 {
            self.allocate();
        }
    }
    /// Adds stream bytes, keeping at least the last `keep` (what replicas
    /// still need may outgrow the configured size, as Redis's shared
    /// replication buffer does).
    pub fn append(&mut self, bytes: &[u8], keep: usize) {
        // Room is made before the bytes go in, so a full backlog reuses its
        // buffer instead of doubling it for a moment (that would hold twice
        // `repl-backlog-size`, which counts against maxmemory).
        if self.buf.capacity() == 0 {
            self.allocate();
        }
        let limit = self.capacity.max(keep);
        let total = self.buf.len() + bytes.len();
        if total > limit {
            let drop = (total - limit).min(self.buf.len());
            self.buf.drain(..drop);
        }
        // Past its size (replicas waiting for a snapshot need the stream
        // since it began) it grows by a quarter, not double: Redis's shared
        // buffer grows by 16 KB blocks, and the excess counts as memory.
        if self.buf.len() + bytes.len() > self.buf.capacity() {
            // reserve_exact counts from the length, not the capacity.
            self.buf.reserve_exact(bytes.len().max(self.buf.len() / 4));
        }
        self.buf.extend(bytes);
        self.shrink(keep);
    }
    /// Drops what is beyond the configured size and not in the last `keep` bytes.
    pub fn shrink(&mut self, keep: usize) {
        let limit = self.capacity.max(keep);
        if self.buf.len() > limit {
            let excess = self.buf.len() - limit;
            self.buf.drain(..excess);
            if self.buf.capacity() > 2 * limit.max(1 << 20) {
                self.buf.shrink_to(limit);
            }
        }
    }
    /// The bytes after stream offset `from` (1-based offsets, as PSYNC sends
    /// `offset + 1`), if the backlog still holds them; `end` is our offset.
    pub fn since(&self, from: u64, end: u64) -> Option<Vec<u8>> {
        let first = end + 1 - self.buf.len() as u64;
        if from < first || from > end + 1 {
            return None;
        }
        let skip = (from - first) as usize;
        Some(self.buf.iter().skip(skip).copied().collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_the_tail_and_answers_ranges() {
        let mut b = Backlog::new(16 * 1024);
        b.append(b"hello", 0);
        assert_eq!(b.since(1, 5), Some(b"hello".to_vec()));
        assert_eq!(b.since(4, 5), Some(b"lo".to_vec()));
        assert_eq!(b.since(6, 5), Some(Vec::new()));
        assert_eq!(b.since(7, 5), None);
        let big = vec![b'x'; 20 * 1024];
        b.append(&big, 0);
        assert_eq!(b.len(), 16 * 1024);
        assert_eq!(b.since(1, 5 + big.len() as u64), None);
        // What a replica still needs is kept past the size, then let go.
        let end = 5 + big.len() as u64;
        b.append(&big, 20 * 1024 + 10);
        assert_eq!(b.len(), 20 * 1024 + 10);
        assert!(b.since(end + 1 - 10, end + big.len() as u64).is_some());
        b.shrink(0);
        assert_eq!(b.len(), 16 * 1024);
    }

    #[test]
    fn allocated_once_at_full_size_and_never_doubled() {
        let mut b = Backlog::new(16 * 1024);
        assert_eq!(b.allocated(), 0, "nothing until first used");
        b.append(b"x", 0);
        let first = b.allocated();
        assert!(first >= 16 * 1024, "{first}");
        for _ in 0..1000 {
            b.append(&[b'y'; 113], 0);
        }
        assert_eq!(b.len(), 16 * 1024);
        assert_eq!(b.allocated(), first, "a full backlog reuses its buffer");
    }
}
