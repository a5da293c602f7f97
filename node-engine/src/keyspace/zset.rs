//! Sorted set, in one of Redis's two encodings: a listpack of member,
//! score, member, score... in (score, member) order while it is small
//! (`zset-max-listpack-entries`, `zset-max-listpack-value`), else [`Full`]:
//! a member -> score map plus an order-statistic index of (score, member)
//! kept as a list of sorted chunks ("sorted list" layout).
//! Chunks are small `VecDeque`s, so insert/remove cost O(log n + B), popping
//! either end is O(1) amortised, and rank queries walk only chunk lengths
//! (n/B additions) instead of every element.

use super::dense::hash_key;
use super::listpack::{Elem, ListPack};
use super::thin::{ThinBytes, ThinRef};
use super::{Key, Limits};
use hashbrown::HashTable;
use std::borrow::Cow;
use std::cmp::Ordering;
use std::collections::VecDeque;

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

/// An index entry: the score (kept here so searches need not follow the
/// pointer for it) and the member, owned by `Full::map`.
type Item = (Score, ThinRef);
type Chunk = VecDeque<Item>;

/// The big encoding: a member -> score map plus the sorted chunks.
///
/// Each member is stored once, as `[score: 8 bytes LE][member]` in a
/// `ThinBytes` owned by `map`; the chunks hold `ThinRef`s to those. The
/// invariant every method keeps: the chunks refer to exactly the members in
/// `map`, and a member is removed from the chunks before its owner is dropped.
#[derive(Debug, Default)]
pub struct Full {
    map: HashTable<ThinBytes>,
    /// Non-empty sorted chunks whose concatenation is sorted by (score, member).
    chunks: Vec<Chunk>,
}

fn stored(member: &[u8], score: f64) -> ThinBytes {
    ThinBytes::from_parts(&[&score.to_le_bytes(), member])
}

/// The member part of a stored `[score][member]`.
fn stored_member(t: &ThinBytes) -> &[u8] {
    &t.as_bytes()[8..]
}

/// The map's rehash function.
fn rehash(t: &ThinBytes) -> u64 {
    hash_key(stored_member(t))
}

fn stored_score(b: &[u8]) -> f64 {
    let mut s = [0u8; 8];
    s.copy_from_slice(&b[..8]);
    f64::from_le_bytes(s)
}

/// The member an index entry refers to.
fn member_of<'a>(r: ThinRef) -> &'a [u8] {
    // SAFETY: by `Full`'s invariant the owner is alive in `map`; callers
    // tie 'a to a borrow of the `Full` and do not drop or change the owner
    // while the slice is used.
    unsafe { &r.get()[8..] }
}

fn cmp_item(a: &Item, score: f64, member: &[u8]) -> Ordering {
    a.0.cmp(&Score(score)).then_with(|| member_of(a.1).cmp(member))
}

impl Clone for Full {
    fn clone(&self) -> Self {
        let mut f = Full { map: HashTable::with_capacity(self.map.len()), chunks: Vec::with_capacity(self.chunks.len()) };
        for c in &self.chunks {
            let mut chunk = Chunk::with_capacity(c.len());
            for &(s, r) in c {
                let owner = stored(member_of(r), s.0);
                chunk.push_back((s, owner.alias()));
                f.map.insert_unique(hash_key(member_of(r)), owner, rehash);
            }
            f.chunks.push(chunk);
        }
        f
    }
}

impl Full {
    pub fn len(&self) -> usize {
        self.map.len()
    }
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }
    fn find(&self, member: &[u8]) -> Option<&ThinBytes> {
        self.map.find(hash_key(member), |t| stored_member(t) == member)
    }
    pub fn score(&self, member: &[u8]) -> Option<f64> {
        self.find(member).map(|t| stored_score(t.as_bytes()))
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

    fn index_insert(&mut self, score: f64, r: ThinRef) {
        if self.chunks.is_empty() {
            self.chunks.push(VecDeque::from([(Score(score), r)]));
            return;
        }
        let (ci, pos) = self.locate(score, member_of(r));
        let pos = pos.unwrap_or_else(|p| p);
        let chunk = &mut self.chunks[ci];
        chunk.insert(pos, (Score(score), r));
        if chunk.len() > CHUNK_MAX {
            let tail = chunk.split_off(chunk.len() / 2);
            self.chunks.insert(ci + 1, tail);
        }
    }

    fn index_remove(&mut self, score: f64, member: &[u8]) -> Option<ThinRef> {
        let (ci, pos) = self.locate(score, member);
        let pos = pos.ok()?;
        let chunk = &mut self.chunks[ci];
        let (_, r) = chunk.remove(pos)?;
        if chunk.is_empty() {
            self.chunks.remove(ci);
        }
        Some(r)
    }

    /// Inserts or updates; returns true when the member is new.
    pub fn insert(&mut self, member: &[u8], score: f64) -> bool {
        let h = hash_key(member);
        if let Some(old) = self.map.find(h, |t| stored_member(t) == member) {
            let old_score = stored_score(old.as_bytes());
            // Same score (incl. -0 vs 0 which order equal) keeps its place.
            if Score(old_score) != Score(score) || old_score.to_bits() != score.to_bits() {
                let r = self.index_remove(old_score, member);
                if let Some(owner) = self.map.find_mut(h, |t| stored_member(t) == member) {
                    owner.as_bytes_mut()[..8].copy_from_slice(&score.to_le_bytes());
                    let r = r.unwrap_or_else(|| owner.alias());
                    self.index_insert(score, r);
                }
            }
            false
        } else {
            let owner = stored(member, score);
            let r = owner.alias();
            self.map.insert_unique(h, owner, rehash);
            self.index_insert(score, r);
            true
        }
    }

    pub fn remove(&mut self, member: &[u8]) -> bool {
        let h = hash_key(member);
        let Some(score) = self.map.find(h, |t| stored_member(t) == member).map(|t| stored_score(t.as_bytes())) else {
            return false;
        };
        self.index_remove(score, member);
        if let Ok(e) = self.map.find_entry(h, |t| stored_member(t) == member) {
            e.remove();
        }
        true
    }

    /// Drops the owner of an entry already taken out of the chunks, giving its member back.
    fn take_owner(&mut self, r: ThinRef) -> Key {
        let member = Key::from(member_of(r));
        if let Ok(e) = self.map.find_entry(hash_key(&member), |t| r.is(t)) {
            e.remove();
        }
        member
    }

    /// Members in ascending (score, member) order.
    pub fn iter(&self) -> impl DoubleEndedIterator<Item = (&[u8], f64)> + '_ {
        self.chunks.iter().flatten().map(|&(s, r)| (member_of(r), s.0))
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
    pub fn iter_from(&self, rank: usize) -> impl Iterator<Item = (&[u8], f64)> + '_ {
        let (ci, off) = self.chunk_of_rank(rank).unwrap_or((self.chunks.len(), 0));
        let head = self.chunks.get(ci).into_iter().flat_map(move |c| c.range(off..));
        let rest = self.chunks.get(ci + 1..).unwrap_or(&[]).iter().flatten();
        head.chain(rest).map(|&(s, r)| (member_of(r), s.0))
    }

    /// Ascending iteration from the first element for which `before` is
    /// false (`before` must hold for a prefix of the order), found by binary
    /// search: a score range scan without counting ranks.
    pub fn iter_skipping(&self, before: impl Fn(&[u8], f64) -> bool) -> impl Iterator<Item = (&[u8], f64)> + '_ {
        let ci = self.chunks.partition_point(|c| c.back().is_some_and(|&(s, r)| before(member_of(r), s.0)));
        let off = self.chunks.get(ci).map_or(0, |c| c.partition_point(|&(s, r)| before(member_of(r), s.0)));
        let head = self.chunks.get(ci).into_iter().flat_map(move |c| c.range(off..));
        let rest = self.chunks.get(ci + 1..).unwrap_or(&[]).iter().flatten();
        head.chain(rest).map(|&(s, r)| (member_of(r), s.0))
    }

    /// Descending iteration starting at `rank` (ascending rank) going down.
    pub fn iter_down_from(&self, rank: usize) -> impl Iterator<Item = (&[u8], f64)> + '_ {
        let found = self.chunk_of_rank(rank);
        let (ci, off) = found.unwrap_or((0, 0));
        let head = found.and_then(|_| self.chunks.get(ci)).into_iter().flat_map(move |c| c.range(..=off).rev());
        let rest = if found.is_some() { &self.chunks[..ci] } else { &[] };
        head.chain(rest.iter().rev().flat_map(|c| c.iter().rev())).map(|&(s, r)| (member_of(r), s.0))
    }

    /// Number of leading elements for which `before` holds; `before` must be
    /// true for a prefix of the order and false after it.
    pub fn count_while(&self, before: impl Fn(&[u8], f64) -> bool) -> usize {
        let ci = self.chunks.partition_point(|c| c.back().is_some_and(|&(s, r)| before(member_of(r), s.0)));
        let skipped: usize = self.chunks[..ci].iter().map(VecDeque::len).sum();
        skipped + self.chunks.get(ci).map_or(0, |c| c.partition_point(|&(s, r)| before(member_of(r), s.0)))
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
        let (s, r) = chunk.pop_front()?;
        if chunk.is_empty() {
            self.chunks.remove(0);
        }
        Some((self.take_owner(r), s.0))
    }

    pub fn pop_last(&mut self) -> Option<(Key, f64)> {
        let chunk = self.chunks.last_mut()?;
        let (s, r) = chunk.pop_back()?;
        if chunk.is_empty() {
            self.chunks.pop();
        }
        Some((self.take_owner(r), s.0))
    }

    /// The member at ascending rank `n`, for random sampling and rank ranges.
    pub fn nth(&self, n: usize) -> Option<(&[u8], f64)> {
        let (ci, off) = self.chunk_of_rank(n)?;
        self.chunks[ci].get(off).map(|&(s, r)| (member_of(r), s.0))
    }

    /// Removes the members at ascending ranks `start..=end`; returns how many.
    pub fn remove_rank_range(&mut self, start: usize, end: usize) -> usize {
        let victims: Vec<Key> = self.iter_from(start).take(end + 1 - start).map(|(m, _)| Key::from(m)).collect();
        for m in &victims {
            self.remove(m);
        }
        victims.len()
    }

    /// Heap bytes held (MEMORY USAGE).
    pub fn allocated(&self) -> usize {
        let chunks: usize = self.chunks.iter().map(|c| c.capacity() * std::mem::size_of::<Item>()).sum();
        self.map.allocation_size() + chunks + self.map.iter().map(ThinBytes::allocated).sum::<usize>()
    }
}

/// A member as stored: borrowed from the big encoding, rendered from a listpack.
pub type Member<'a> = Cow<'a, [u8]>;

/// A sorted set in its current encoding.
#[derive(Debug, Clone)]
pub enum ZSet {
    Pack(ListPack),
    Full(Box<Full>),
}

impl Default for ZSet {
    fn default() -> Self {
        ZSet::Pack(ListPack::new())
    }
}

/// A score as a listpack stores it, as Redis's `d2string` does for the
/// cases that matter: integral values as integers (the listpack then keeps
/// them as ints), others in a form that reads back to the same double.
pub fn score_text(score: f64, buf: &mut String) {
    use std::fmt::Write as _;
    buf.clear();
    if score == 0.0 && score.is_sign_negative() {
        buf.push_str("-0");
    } else if score.is_finite() && score == score.trunc() && score.abs() < 4_503_599_627_370_496.0 {
        let _ = write!(buf, "{}", score as i64);
    } else if score == f64::INFINITY {
        buf.push_str("inf");
    } else if score == f64::NEG_INFINITY {
        buf.push_str("-inf");
    } else {
        let _ = write!(buf, "{score:?}");
    }
}

/// The (member, score) pairs of a zset listpack, with the member's offset.
fn pairs(lp: &ListPack) -> impl Iterator<Item = (usize, Elem<'_>, f64)> + '_ {
    let mut it = lp.iter();
    std::iter::from_fn(move || {
        let (pos, m) = it.next()?;
        let (_, s) = it.next()?;
        Some((pos, m, s.to_f64().unwrap_or(0.0)))
    })
}

/// The pair of `member` in a zset listpack: its offset and score.
fn find_member(lp: &ListPack, member: &[u8]) -> Option<(usize, f64)> {
    let needle = Elem::of(member);
    pairs(lp).find(|(_, m, _)| *m == needle).map(|(pos, _, s)| (pos, s))
}

impl ZSet {
    pub fn new() -> Self {
        ZSet::default()
    }

    pub fn len(&self) -> usize {
        match self {
            ZSet::Pack(lp) => lp.len() / 2,
            ZSet::Full(f) => f.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        match self {
            ZSet::Pack(lp) => lp.is_empty(),
            ZSet::Full(f) => f.is_empty(),
        }
    }

    /// What OBJECT ENCODING prints.
    pub fn encoding(&self) -> &'static str {
        match self {
            ZSet::Pack(_) => "listpack",
            ZSet::Full(_) => "skiplist",
        }
    }

    /// Heap bytes held (MEMORY USAGE).
    pub fn allocated(&self) -> usize {
        match self {
            ZSet::Pack(lp) => lp.allocated(),
            ZSet::Full(f) => f.allocated(),
        }
    }

    pub fn score(&self, member: &[u8]) -> Option<f64> {
        match self {
            ZSet::Pack(lp) => find_member(lp, member).map(|(_, s)| s),
            ZSet::Full(f) => f.score(member),
        }
    }

    /// Inserts or updates; returns true when the member is new. Converts to
    /// the big encoding past the limits.
    pub fn insert(&mut self, member: &[u8], score: f64, limits: &Limits) -> bool {
        if let ZSet::Pack(lp) = self {
            if member.len() > limits.zset_value {
                self.convert();
            } else {
                let old = find_member(lp, member);
                if let Some((pos, old_score)) = old {
                    if old_score.to_bits() == score.to_bits() {
                        return false;
                    }
                    lp.remove(pos, 2);
                }
                // Before the first pair that sorts after (score, member).
                let at = pairs(lp)
                    .find(|(_, m, s)| Score(*s).cmp(&Score(score)).then_with(|| m.cmp_text(member)) == Ordering::Greater)
                    .map(|(pos, _, _)| pos);
                let mut text = String::new();
                score_text(score, &mut text);
                lp.insert(at, &[member, text.as_bytes()]);
                if old.is_none() && lp.len() / 2 > limits.zset_entries {
                    self.convert();
                }
                return old.is_none();
            }
        }
        match self {
            ZSet::Full(f) => f.insert(member, score),
            ZSet::Pack(_) => false,
        }
    }

    pub fn remove(&mut self, member: &[u8]) -> bool {
        match self {
            ZSet::Pack(lp) => {
                let found = find_member(lp, member).map(|(pos, _)| pos);
                if let Some(pos) = found {
                    lp.remove(pos, 2);
                }
                found.is_some()
            }
            ZSet::Full(f) => f.remove(member),
        }
    }

    /// Members in ascending (score, member) order.
    pub fn iter(&self) -> Box<dyn DoubleEndedIterator<Item = (Member<'_>, f64)> + '_> {
        match self {
            ZSet::Pack(lp) => Box::new(pairs(lp).map(|(_, m, s)| (m.to_cow(), s)).collect::<Vec<_>>().into_iter()),
            ZSet::Full(f) => Box::new(f.iter().map(|(m, s)| (Cow::Borrowed(m), s))),
        }
    }

    /// Ascending iteration starting at `rank`.
    pub fn iter_from(&self, rank: usize) -> Box<dyn Iterator<Item = (Member<'_>, f64)> + '_> {
        match self {
            ZSet::Pack(lp) => Box::new(pairs(lp).skip(rank).map(|(_, m, s)| (m.to_cow(), s))),
            ZSet::Full(f) => Box::new(f.iter_from(rank).map(|(m, s)| (Cow::Borrowed(m), s))),
        }
    }

    /// Ascending iteration from the first element for which `before` is
    /// false (`before` must hold for a prefix of the order).
    pub fn iter_skipping<'a>(&'a self, before: impl Fn(&[u8], f64) -> bool + 'a) -> Box<dyn Iterator<Item = (Member<'a>, f64)> + 'a> {
        match self {
            ZSet::Pack(lp) => Box::new(pairs(lp).map(|(_, m, s)| (m.to_cow(), s)).skip_while(move |(m, s)| before(m, *s))),
            ZSet::Full(f) => Box::new(f.iter_skipping(move |m, s| before(m, s)).map(|(m, s)| (Cow::Borrowed(m), s))),
        }
    }

    /// Descending iteration starting at `rank` (ascending rank) going down.
    pub fn iter_down_from(&self, rank: usize) -> Box<dyn Iterator<Item = (Member<'_>, f64)> + '_> {
        match self {
            ZSet::Pack(lp) => {
                let upto: Vec<_> = pairs(lp).take(rank.saturating_add(1)).map(|(_, m, s)| (m.to_cow(), s)).collect();
                let upto = if rank < self.len() { upto } else { Vec::new() };
                Box::new(upto.into_iter().rev())
            }
            ZSet::Full(f) => Box::new(f.iter_down_from(rank).map(|(m, s)| (Cow::Borrowed(m), s))),
        }
    }

    /// Number of leading elements for which `before` holds; `before` must be
    /// true for a prefix of the order and false after it.
    pub fn count_while(&self, before: impl Fn(&[u8], f64) -> bool) -> usize {
        match self {
            ZSet::Pack(lp) => pairs(lp).take_while(|(_, m, s)| before(&m.to_cow(), *s)).count(),
            ZSet::Full(f) => f.count_while(|m, s| before(m, s)),
        }
    }

    /// 0-based rank in ascending order.
    pub fn rank(&self, member: &[u8]) -> Option<usize> {
        match self {
            ZSet::Pack(lp) => {
                let needle = Elem::of(member);
                pairs(lp).position(|(_, m, _)| m == needle)
            }
            ZSet::Full(f) => f.rank(member),
        }
    }

    pub fn pop_first(&mut self) -> Option<(Key, f64)> {
        match self {
            ZSet::Pack(lp) => {
                let (pos, m, s) = pairs(lp).next()?;
                let m = m.to_key();
                lp.remove(pos, 2);
                Some((m, s))
            }
            ZSet::Full(f) => f.pop_first(),
        }
    }

    pub fn pop_last(&mut self) -> Option<(Key, f64)> {
        match self {
            ZSet::Pack(lp) => {
                let (pos, m, s) = pairs(lp).last()?;
                let m = m.to_key();
                lp.remove(pos, 2);
                Some((m, s))
            }
            ZSet::Full(f) => f.pop_last(),
        }
    }

    /// The member at ascending rank `n`, for random sampling and rank ranges.
    pub fn nth(&self, n: usize) -> Option<(Member<'_>, f64)> {
        match self {
            ZSet::Pack(lp) => pairs(lp).nth(n).map(|(_, m, s)| (m.to_cow(), s)),
            ZSet::Full(f) => f.nth(n).map(|(m, s)| (Cow::Borrowed(m), s)),
        }
    }

    /// Removes the members at ascending ranks `start..=end`; returns how many.
    pub fn remove_rank_range(&mut self, start: usize, end: usize) -> usize {
        match self {
            ZSet::Pack(lp) => {
                let Some((pos, _, _)) = pairs(lp).nth(start) else { return 0 };
                let n = (end + 1 - start).min(lp.len() / 2 - start);
                lp.remove(pos, 2 * n);
                n
            }
            ZSet::Full(f) => f.remove_rank_range(start, end),
        }
    }

    /// A sorted set of these (member, score) pairs in the encoding Redis
    /// gives them (a stored ZUNION result, a set loaded from a file).
    pub fn from_pairs<'a>(items: impl IntoIterator<Item = (&'a [u8], f64)>, limits: &Limits) -> Self {
        let mut f = Full::default();
        for (m, s) in items {
            f.insert(m, s);
        }
        let fits = f.len() <= limits.zset_entries && f.iter().all(|(m, _)| m.len() <= limits.zset_value);
        if !fits {
            return ZSet::Full(Box::new(f));
        }
        let mut flat: Vec<Vec<u8>> = Vec::with_capacity(f.len() * 2);
        let mut text = String::new();
        for (m, s) in f.iter() {
            flat.push(m.to_vec());
            score_text(s, &mut text);
            flat.push(text.as_bytes().to_vec());
        }
        let refs: Vec<&[u8]> = flat.iter().map(Vec::as_slice).collect();
        let mut lp = ListPack::new();
        lp.push(&refs);
        ZSet::Pack(lp)
    }

    /// Listpack to the big encoding (SORT does this to its source, as Redis's
    /// sortCommand converts a sorted set to a skiplist).
    pub fn convert(&mut self) {
        if let ZSet::Pack(lp) = self {
            let mut f = Full::default();
            for (_, m, s) in pairs(lp) {
                f.insert(&m.to_cow(), s);
            }
            *self = ZSet::Full(Box::new(f));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranks_and_order_survive_many_updates() {
        let mut z = Full::default();
        for i in 0..2000u32 {
            z.insert(format!("m{i}").as_bytes(), ((i * 7919) % 1000) as f64);
        }
        for i in (0..2000u32).step_by(3) {
            z.remove(format!("m{i}").as_bytes());
        }
        for i in (1..2000u32).step_by(5) {
            z.insert(format!("m{i}").as_bytes(), -(i as f64));
        }
        let all: Vec<(Key, f64)> = z.iter().map(|(m, s)| (Key::from(m), s)).collect();
        assert_eq!(all.len(), z.len());
        for w in all.windows(2) {
            assert!((Score(w[0].1), &w[0].0) < (Score(w[1].1), &w[1].0));
        }
        for (r, (m, _)) in all.iter().enumerate() {
            assert_eq!(z.rank(m), Some(r));
            assert_eq!(z.nth(r).map(|(k, _)| Key::from(k)), Some(m.clone()));
        }
        let from: Vec<Key> = z.iter_from(100).take(3).map(|(m, _)| Key::from(m)).collect();
        assert_eq!(from, all[100..103].iter().map(|(m, _)| m.clone()).collect::<Vec<_>>());
        let down: Vec<Key> = z.iter_down_from(100).take(3).map(|(m, _)| Key::from(m)).collect();
        assert_eq!(down, vec![all[100].0.clone(), all[99].0.clone(), all[98].0.clone()]);
        assert_eq!(z.count_while(|_, s| s < 0.0), all.iter().filter(|(_, s)| *s < 0.0).count());
        // A clone owns its own members: it outlives the original.
        let copy = z.clone();
        let copied: Vec<(Key, f64)> = copy.iter().map(|(m, s)| (Key::from(m), s)).collect();
        assert_eq!(copied, all);
        assert_eq!(copy.score(&all[7].0), Some(all[7].1));
        let first = z.pop_first().map(|(m, _)| m);
        assert_eq!(first, Some(all[0].0.clone()));
        assert_eq!(z.remove_rank_range(0, 9), 10);
        assert_eq!(z.len(), all.len() - 11);
        drop(z);
        assert_eq!(copy.iter().count(), all.len());
    }

    /// The listpack encoding answers every query exactly as the big one does.
    #[test]
    fn listpack_and_full_encodings_agree() {
        let small = Limits { zset_entries: 10_000, zset_value: 1000, ..Limits::default() };
        let big = Limits { zset_entries: 0, ..Limits::default() };
        let (mut p, mut f) = (ZSet::new(), ZSet::new());
        let mut seed = 7u64;
        for step in 0..3000u64 {
            seed = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
            let m = format!("{}", (seed >> 40) % 60);
            let score = match (seed >> 20) % 5 {
                0 => -0.0,
                1 => f64::INFINITY,
                2 => ((seed >> 8) % 7) as f64,
                3 => ((seed >> 8) % 1000) as f64 / 7.0,
                _ => -(((seed >> 8) % 9) as f64),
            };
            match step % 4 {
                0 | 1 => assert_eq!(p.insert(m.as_bytes(), score, &small), f.insert(m.as_bytes(), score, &big)),
                2 => assert_eq!(p.remove(m.as_bytes()), f.remove(m.as_bytes())),
                _ => {
                    if step % 40 == 3 {
                        assert_eq!(p.pop_first(), f.pop_first());
                        assert_eq!(p.pop_last(), f.pop_last());
                    }
                }
            }
            assert_eq!((p.encoding(), f.encoding()), ("listpack", "skiplist"));
            let a: Vec<_> = p.iter().map(|(m, s)| (m.into_owned(), s.to_bits())).collect();
            let b: Vec<_> = f.iter().map(|(m, s)| (m.into_owned(), s.to_bits())).collect();
            assert_eq!(a, b, "step {step}");
            assert_eq!(p.rank(m.as_bytes()), f.rank(m.as_bytes()));
            assert_eq!(p.score(m.as_bytes()).map(f64::to_bits), f.score(m.as_bytes()).map(f64::to_bits));
            let r = (seed as usize) % (p.len() + 1);
            assert_eq!(p.nth(r), f.nth(r));
            assert_eq!(p.iter_from(r).collect::<Vec<_>>(), f.iter_from(r).collect::<Vec<_>>());
            assert_eq!(p.iter_down_from(r).collect::<Vec<_>>(), f.iter_down_from(r).collect::<Vec<_>>());
            assert_eq!(p.count_while(|_, s| s < 3.0), f.count_while(|_, s| s < 3.0));
        }
        assert_eq!(p.remove_rank_range(1, 3), f.remove_rank_range(1, 3));
        assert_eq!(p.iter().collect::<Vec<_>>(), f.iter().collect::<Vec<_>>());
    }
}
