//! Sorted set: a member -> score map plus an order-statistic index of
//! (score, member) kept as a list of sorted chunks ("sorted list" layout).
//! Chunks are small `VecDeque`s, so insert/remove cost O(log n + B), popping
//! either end is O(1) amortised, and rank queries walk only chunk lengths
//! (n/B additions) instead of every element.

use super::Key;
use std::cmp::Ordering;
use std::collections::{HashMap, VecDeque};

/// A score with a total order (scores are never NaN; we refuse NaN on input).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Score(pub f64);

impl Eq for Score {}
impl PartialOrd for Score {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Score {
    fn cmp(&self, other: &Self) -> Ordering {
        self.0.partial_cmp(&other.0).unwrap_or(Ordering::Equal)
    }
}

/// Largest chunk before it is split in two.
const CHUNK_MAX: usize = 256;

type Item = (Score, Key);
type Chunk = VecDeque<Item>;

#[derive(Debug, Clone, Default)]
pub struct ZSet {
    scores: HashMap<Key, f64, ahash::RandomState>,
    /// Non-empty sorted chunks whose concatenation is sorted by (score, member).
    chunks: Vec<Chunk>,
}

fn cmp_item(a: &Item, score: f64, member: &[u8]) -> Ordering {
    a.0.cmp(&Score(score)).then_with(|| a.1[..].cmp(member))
}

impl ZSet {
    pub fn new() -> Self {
        Self::default()
    }
    pub fn len(&self) -> usize {
        self.scores.len()
    }
    pub fn is_empty(&self) -> bool {
        self.scores.is_empty()
    }
    pub fn score(&self, member: &[u8]) -> Option<f64> {
        self.scores.get(member).copied()
    }

    /// The chunk that holds (or would hold) the item, and the position in it.
    fn locate(&self, score: f64, member: &[u8]) -> (usize, Result<usize, usize>) {
        if self.chunks.is_empty() {
            return (0, Err(0));
        }
        let ci = self
            .chunks
            .partition_point(|c| c.back().is_some_and(|last| cmp_item(last, score, member) == Ordering::Less))
            .min(self.chunks.len() - 1);
        (ci, self.chunks[ci].binary_search_by(|it| cmp_item(it, score, member)))
    }

    fn index_insert(&mut self, score: f64, member: Key) {
        if self.chunks.is_empty() {
            self.chunks.push(VecDeque::from([(Score(score), member)]));
            return;
        }
        let (ci, pos) = self.locate(score, &member);
        let pos = pos.unwrap_or_else(|p| p);
        let chunk = &mut self.chunks[ci];
        chunk.insert(pos, (Score(score), member));
        if chunk.len() > CHUNK_MAX {
            let tail = chunk.split_off(chunk.len() / 2);
            self.chunks.insert(ci + 1, tail);
        }
    }

    fn index_remove(&mut self, score: f64, member: &[u8]) -> Option<Key> {
        let (ci, pos) = self.locate(score, member);
        let pos = pos.ok()?;
        let chunk = &mut self.chunks[ci];
        let (_, k) = chunk.remove(pos)?;
        if chunk.is_empty() {
            self.chunks.remove(ci);
        }
        Some(k)
    }

    /// Inserts or updates; returns true when the member is new.
    pub fn insert(&mut self, member: &[u8], score: f64) -> bool {
        if let Some(old) = self.scores.get_mut(member) {
            let old_score = *old;
            // Same score (incl. -0 vs 0 which order equal) keeps its place.
            if Score(old_score) != Score(score) || old_score.to_bits() != score.to_bits() {
                *old = score;
                let key = self.index_remove(old_score, member).unwrap_or_else(|| member.into());
                self.index_insert(score, key);
            }
            false
        } else {
            self.scores.insert(member.into(), score);
            self.index_insert(score, member.into());
            true
        }
    }

    pub fn remove(&mut self, member: &[u8]) -> bool {
        match self.scores.remove(member) {
            Some(score) => {
                self.index_remove(score, member);
                true
            }
            None => false,
        }
    }

    /// Members in ascending (score, member) order.
    pub fn iter(&self) -> impl DoubleEndedIterator<Item = (&Key, f64)> + '_ {
        self.chunks.iter().flatten().map(|(s, m)| (m, s.0))
    }

    /// Chunk and offset of the element at `rank`.
    fn chunk_of_rank(&self, mut rank: usize) -> Option<(usize, usize)> {
        for (i, c) in self.chunks.iter().enumerate() {
            if rank < c.len() {
                return Some((i, rank));
            }
            rank -= c.len();
        }
        None
    }

    /// Ascending iteration starting at `rank`.
    pub fn iter_from(&self, rank: usize) -> impl Iterator<Item = (&Key, f64)> + '_ {
        let (ci, off) = self.chunk_of_rank(rank).unwrap_or((self.chunks.len(), 0));
        let head = self.chunks.get(ci).into_iter().flat_map(move |c| c.range(off..));
        let rest = self.chunks.get(ci + 1..).unwrap_or(&[]).iter().flatten();
        head.chain(rest).map(|(s, m)| (m, s.0))
    }

    /// Descending iteration starting at `rank` (ascending rank) going down.
    pub fn iter_down_from(&self, rank: usize) -> impl Iterator<Item = (&Key, f64)> + '_ {
        let found = self.chunk_of_rank(rank);
        let (ci, off) = found.unwrap_or((0, 0));
        let head = found.and_then(|_| self.chunks.get(ci)).into_iter().flat_map(move |c| c.range(..=off).rev());
        let rest = if found.is_some() { &self.chunks[..ci] } else { &[] };
        head.chain(rest.iter().rev().flat_map(|c| c.iter().rev())).map(|(s, m)| (m, s.0))
    }

    /// Number of leading elements for which `before` holds; `before` must be
    /// true for a prefix of the order and false after it.
    pub fn count_while(&self, before: impl Fn(&Key, f64) -> bool) -> usize {
        let ci = self.chunks.partition_point(|c| c.back().is_some_and(|(s, m)| before(m, s.0)));
        let skipped: usize = self.chunks[..ci].iter().map(VecDeque::len).sum();
        skipped + self.chunks.get(ci).map_or(0, |c| c.partition_point(|(s, m)| before(m, s.0)))
    }

    /// 0-based rank in ascending order.
    pub fn rank(&self, member: &[u8]) -> Option<usize> {
        let score = self.score(member)?;
        let (ci, pos) = self.locate(score, member);
        let before: usize = self.chunks[..ci].iter().map(VecDeque::len).sum();
        pos.ok().map(|p| before + p)
    }

    pub fn pop_first(&mut self) -> Option<(Key, f64)> {
        let chunk = self.chunks.first_mut()?;
        let (s, m) = chunk.pop_front()?;
        if chunk.is_empty() {
            self.chunks.remove(0);
        }
        self.scores.remove(&m);
        Some((m, s.0))
    }

    pub fn pop_last(&mut self) -> Option<(Key, f64)> {
        let chunk = self.chunks.last_mut()?;
        let (s, m) = chunk.pop_back()?;
        if chunk.is_empty() {
            self.chunks.pop();
        }
        self.scores.remove(&m);
        Some((m, s.0))
    }

    /// The member at ascending rank `n`, for random sampling and rank ranges.
    pub fn nth(&self, n: usize) -> Option<(&Key, f64)> {
        let (ci, off) = self.chunk_of_rank(n)?;
        self.chunks[ci].get(off).map(|(s, m)| (m, s.0))
    }

    /// Removes the members at ascending ranks `start..=end`; returns how many.
    pub fn remove_rank_range(&mut self, start: usize, end: usize) -> usize {
        let victims: Vec<Key> = self.iter_from(start).take(end + 1 - start).map(|(m, _)| m.clone()).collect();
        for m in &victims {
            self.remove(m);
        }
        victims.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranks_and_order_survive_many_updates() {
        let mut z = ZSet::new();
        for i in 0..2000u32 {
            z.insert(format!("m{i}").as_bytes(), ((i * 7919) % 1000) as f64);
        }
        for i in (0..2000u32).step_by(3) {
            z.remove(format!("m{i}").as_bytes());
        }
        for i in (1..2000u32).step_by(5) {
            z.insert(format!("m{i}").as_bytes(), -(i as f64));
        }
        let all: Vec<(Key, f64)> = z.iter().map(|(m, s)| (m.clone(), s)).collect();
        assert_eq!(all.len(), z.len());
        for w in all.windows(2) {
            assert!((Score(w[0].1), &w[0].0) < (Score(w[1].1), &w[1].0));
        }
        for (r, (m, _)) in all.iter().enumerate() {
            assert_eq!(z.rank(m), Some(r));
            assert_eq!(z.nth(r).map(|(k, _)| k.clone()), Some(m.clone()));
        }
        let from: Vec<_> = z.iter_from(100).take(3).map(|(m, _)| m.clone()).collect();
        assert_eq!(from, all[100..103].iter().map(|(m, _)| m.clone()).collect::<Vec<_>>());
        let down: Vec<_> = z.iter_down_from(100).take(3).map(|(m, _)| m.clone()).collect();
        assert_eq!(down, vec![all[100].0.clone(), all[99].0.clone(), all[98].0.clone()]);
        assert_eq!(z.count_while(|_, s| s < 0.0), all.iter().filter(|(_, s)| *s < 0.0).count());
        let first = z.pop_first().map(|(m, _)| m);
        assert_eq!(first, Some(all[0].0.clone()));
        assert_eq!(z.remove_rank_range(0, 9), 10);
        assert_eq!(z.len(), all.len() - 11);
    }
}
