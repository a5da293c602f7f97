//! Sorted set: a member -> score map plus an ordered index of (score, member).

use super::Key;
use std::cmp::Ordering;
use std::collections::{BTreeSet, HashMap};

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

#[derive(Debug, Clone, Default)]
pub struct ZSet {
    scores: HashMap<Key, f64, ahash::RandomState>,
    order: BTreeSet<(Score, Key)>,
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
    /// Inserts or updates; returns true when the member is new.
    pub fn insert(&mut self, member: &[u8], score: f64) -> bool {
        if let Some(old) = self.scores.get_mut(member) {
            if *old != score {
                let key: Key = member.into();
                self.order.remove(&(Score(*old), key.clone()));
                *old = score;
                self.order.insert((Score(score), key));
            }
            false
        } else {
            let key: Key = member.into();
            self.scores.insert(key.clone(), score);
            self.order.insert((Score(score), key));
            true
        }
    }
    pub fn remove(&mut self, member: &[u8]) -> bool {
        if let Some(score) = self.scores.remove(member) {
            self.order.remove(&(Score(score), member.into()));
            true
        } else {
            false
        }
    }
    /// Members in ascending (score, member) order.
    pub fn iter(&self) -> impl DoubleEndedIterator<Item = (&Key, f64)> + '_ {
        self.order.iter().map(|(s, m)| (m, s.0))
    }
    /// 0-based rank in ascending order.
    pub fn rank(&self, member: &[u8]) -> Option<usize> {
        let score = self.score(member)?;
        let key: Key = member.into();
        Some(self.order.range(..(Score(score), key)).count())
    }
    /// Members with score in the given range, ascending.
    pub fn range_by_score(&self, min: f64, min_excl: bool, max: f64, max_excl: bool) -> impl Iterator<Item = (&Key, f64)> + '_ {
        self.order
            .range((Score(min), Key::default())..)
            .map(|(s, m)| (m, s.0))
            .skip_while(move |(_, s)| *s < min || (min_excl && *s == min))
            .take_while(move |(_, s)| *s < max || (!max_excl && *s == max))
    }
    pub fn pop_first(&mut self) -> Option<(Key, f64)> {
        let (s, m) = self.order.pop_first()?;
        self.scores.remove(&m);
        Some((m, s.0))
    }
    pub fn pop_last(&mut self) -> Option<(Key, f64)> {
        let (s, m) = self.order.pop_last()?;
        self.scores.remove(&m);
        Some((m, s.0))
    }
    /// A member picked by position, for random sampling.
    pub fn nth(&self, n: usize) -> Option<(&Key, f64)> {
        self.order.iter().nth(n).map(|(s, m)| (m, s.0))
    }
}
