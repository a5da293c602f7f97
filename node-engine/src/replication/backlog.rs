//! The replication backlog: the last N bytes of the stream, so a replica
//! that reconnects after a short outage continues instead of resyncing.

use std::collections::VecDeque;

#[derive(Debug)]
pub struct Backlog {
    buf: VecDeque<u8>,
    capacity: usize,
}

impl Backlog {
    pub fn new(capacity: usize) -> Self {
        Backlog { buf: VecDeque::new(), capacity: capacity.max(16 * 1024) }
    }
    pub fn capacity(&self) -> usize {
        self.capacity
    }
    pub fn len(&self) -> usize {
        self.buf.len()
    }
    pub fn set_capacity(&mut self, cap: usize) {
        self.capacity = cap.max(16 * 1024);
        self.trim();
    }
    pub fn append(&mut self, bytes: &[u8]) {
        self.buf.extend(bytes);
        self.trim();
    }
    fn trim(&mut self) {
        if self.buf.len() > self.capacity {
            let excess = self.buf.len() - self.capacity;
            self.buf.drain(..excess);
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
        b.append(b"hello");
        assert_eq!(b.since(1, 5), Some(b"hello".to_vec()));
        assert_eq!(b.since(4, 5), Some(b"lo".to_vec()));
        assert_eq!(b.since(6, 5), Some(Vec::new()));
        assert_eq!(b.since(7, 5), None);
        let big = vec![b'x'; 20 * 1024];
        b.append(&big);
        assert_eq!(b.len(), 16 * 1024);
        assert_eq!(b.since(1, 5 + big.len() as u64), None);
    }
}
