//! A list value as Redis 7.0 keeps it: a quicklist, a sequence of listpack
//! nodes, each filled up to `list-max-listpack-size` (negative: a byte size
//! of 4, 8, 16, 32 or 64 KB; positive: an element count, within 8 KB).
//! Pushes and pops at either end touch one node; an index walks node counts.

use super::listpack::{Elem, ListPack};
use super::{Key, Limits};
use std::borrow::Cow;
use std::collections::VecDeque;

/// Redis's SIZE_SAFETY_LIMIT: a count-limited node still stays within this size.
const SIZE_SAFETY_LIMIT: usize = 8192;

/// Whether a node of `bytes` and `count` elements may take one more element
/// of `add` bytes. Elements at or past the packed threshold live alone in
/// their own ("plain") node, as in Redis 7.0.
fn node_allows(limits: &Limits, bytes: usize, count: usize, add: usize) -> bool {
    let big = limits.list_packed_threshold;
    if add >= big || (count == 1 && bytes >= big) {
        return false;
    }
    let fill = limits.list_fill;
    let new_size = bytes + add + 11;
    if fill >= 0 {
        count < fill.max(1) as usize && new_size <= SIZE_SAFETY_LIMIT
    } else {
        let max = 4096usize << (fill.unsigned_abs().clamp(1, 5) - 1);
        new_size <= max
    }
}

#[derive(Debug, Clone, Default)]
pub struct List {
    nodes: VecDeque<ListPack>,
    len: usize,
}

impl List {
    pub fn new() -> Self {
        List::default()
    }

    /// A list of these elements, packed into nodes as the limits say.
    pub fn from_items<I: IntoIterator<Item = T>, T: AsRef<[u8]>>(items: I, limits: &Limits) -> Self {
        let mut l = List::new();
        for it in items {
            l.push_back(it.as_ref(), limits);
        }
        l
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Heap bytes held (MEMORY USAGE).
    pub fn allocated(&self) -> usize {
        self.nodes.iter().map(ListPack::allocated).sum::<usize>() + self.nodes.capacity() * 16
    }

    /// The nodes, for RDB (each is written as a packed quicklist node).
    pub fn nodes(&self) -> impl Iterator<Item = &ListPack> {
        self.nodes.iter()
    }

    pub fn push_back(&mut self, v: &[u8], limits: &Limits) {
        self.push(v, limits, false);
    }

    pub fn push_front(&mut self, v: &[u8], limits: &Limits) {
        self.push(v, limits, true);
    }

    /// Adds `v` at one end: into the end node while it has room, else into a new node.
    fn push(&mut self, v: &[u8], limits: &Limits, front: bool) {
        let end = if front { self.nodes.front_mut() } else { self.nodes.back_mut() };
        match end {
            Some(n) if node_allows(limits, n.size(), n.len(), v.len()) => {
                let at = if front { n.first_offset() } else { None };
                n.insert(at, &[v]);
            }
            _ => {
                let mut n = ListPack::new();
                n.push(&[v]);
                if self.nodes.is_empty() {
                    // Most lists have one node: the first takes no spare slots.
                    self.nodes.reserve_exact(1);
                }
                if front {
                    self.nodes.push_front(n);
                } else {
                    self.nodes.push_back(n);
                }
            }
        }
        self.len += 1;
    }

    pub fn pop_front(&mut self) -> Option<Key> {
        let n = self.nodes.front_mut()?;
        let pos = n.first_offset()?;
        let v = n.iter().next().map(|(_, e)| e.to_key())?;
        n.remove(pos, 1);
        if n.is_empty() {
            self.nodes.pop_front();
        }
        self.len -= 1;
        Some(v)
    }

    pub fn pop_back(&mut self) -> Option<Key> {
        let n = self.nodes.back_mut()?;
        let pos = n.last_offset()?;
        let v = super::listpack::decode_entry(n.as_bytes(), pos).ok().map(|(e, _)| e.to_key())?;
        n.remove(pos, 1);
        if n.is_empty() {
            self.nodes.pop_back();
        }
        self.len -= 1;
        Some(v)
    }

    /// The node holding index `i` and the index within it.
    fn locate(&self, mut i: usize) -> Option<(usize, usize)> {
        if i >= self.len {
            return None;
        }
        // Walk from the nearer end, as Redis does.
        if i < self.len / 2 {
            for (ni, n) in self.nodes.iter().enumerate() {
                if i < n.len() {
                    return Some((ni, i));
                }
                i -= n.len();
            }
            None
        } else {
            let mut from_end = self.len - 1 - i;
            for (ni, n) in self.nodes.iter().enumerate().rev() {
                if from_end < n.len() {
                    return Some((ni, n.len() - 1 - from_end));
                }
                from_end -= n.len();
            }
            None
        }
    }

    fn elem_at(&self, i: usize) -> Option<(usize, usize, Elem<'_>)> {
        let (ni, off) = self.locate(i)?;
        let (pos, e) = self.nodes[ni].iter().nth(off)?;
        Some((ni, pos, e))
    }

    pub fn get(&self, i: usize) -> Option<Cow<'_, [u8]>> {
        self.elem_at(i).map(|(_, _, e)| e.to_cow())
    }

    /// Replaces the element at `i` (LSET); false when out of range.
    pub fn set(&mut self, i: usize, v: &[u8]) -> bool {
        let Some((ni, pos, _)) = self.elem_at(i) else { return false };
        self.nodes[ni].replace(pos, v);
        true
    }

    /// Inserts `v` so that it ends up at index `i` (LINSERT), splitting a full node.
    pub fn insert(&mut self, i: usize, v: &[u8], limits: &Limits) {
        if i >= self.len {
            self.push_back(v, limits);
            return;
        }
        if i == 0 {
            self.push_front(v, limits);
            return;
        }
        let Some((ni, off)) = self.locate(i) else { return };
        let node = &mut self.nodes[ni];
        if node_allows(limits, node.size(), node.len(), v.len()) {
            let pos = node.iter().nth(off).map(|(p, _)| p);
            node.insert(pos, &[v]);
        } else {
            // A full node: insert, then split it in two halves.
            let mut items: Vec<Key> = node.iter().map(|(_, e)| e.to_key()).collect();
            items.insert(off, v.into());
            let (head, tail) = items.split_at(items.len() / 2);
            let pack = |part: &[Key]| {
                let mut lp = ListPack::new();
                lp.push(&part.iter().map(|k| &k[..]).collect::<Vec<_>>());
                lp
            };
            self.nodes[ni] = pack(head);
            self.nodes.insert(ni + 1, pack(tail));
        }
        self.len += 1;
    }

    /// Elements from index `start` on, in order.
    pub fn iter_from(&self, start: usize) -> impl Iterator<Item = Cow<'_, [u8]>> + '_ {
        let (first, skip) = self.locate(start).unwrap_or((self.nodes.len(), 0));
        self.nodes
            .iter()
            .skip(first)
            .enumerate()
            .flat_map(move |(k, n)| n.iter().skip(if k == 0 { skip } else { 0 }).map(|(_, e)| e.to_cow()))
    }

    pub fn iter(&self) -> impl Iterator<Item = Cow<'_, [u8]>> + '_ {
        self.iter_from(0)
    }

    /// Elements from the last one backwards.
    pub fn iter_rev(&self) -> impl Iterator<Item = Cow<'_, [u8]>> + '_ {
        self.nodes.iter().rev().flat_map(|n| n.iter().map(|(_, e)| e.to_cow()).collect::<Vec<_>>().into_iter().rev())
    }

    /// Keeps only indexes `start..=end` (LTRIM); None keeps nothing.
    pub fn trim(&mut self, keep: Option<(usize, usize)>, limits: &Limits) {
        let kept: Vec<Key> = match keep {
            Some((s, e)) => self.iter_from(s).take(e + 1 - s).map(|c| c.into_owned().into_boxed_slice()).collect(),
            None => Vec::new(),
        };
        *self = List::from_items(kept, limits);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn behaves_like_a_deque_across_many_nodes() {
        let limits = Limits { list_fill: 5, ..Limits::default() };
        let mut l = List::new();
        let mut model: VecDeque<Vec<u8>> = VecDeque::new();
        let mut seed = 11u64;
        for step in 0..4000u64 {
            seed = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(3);
            let v = format!("{}", (seed >> 33) % 1000).into_bytes();
            match (seed >> 20) % 7 {
                0 | 1 => {
                    l.push_back(&v, &limits);
                    model.push_back(v);
                }
                2 | 3 => {
                    l.push_front(&v, &limits);
                    model.push_front(v);
                }
                4 => assert_eq!(l.pop_front().map(|k| k.to_vec()), model.pop_front()),
                5 => assert_eq!(l.pop_back().map(|k| k.to_vec()), model.pop_back()),
                _ => {
                    let i = (seed as usize) % (model.len() + 1);
                    l.insert(i, &v, &limits);
                    model.insert(i, v);
                }
            }
            assert_eq!(l.len(), model.len(), "step {step}");
            if step % 97 == 0 && !model.is_empty() {
                let i = (seed as usize) % model.len();
                assert_eq!(l.get(i).map(|c| c.to_vec()), Some(model[i].clone()));
                assert!(l.set(i, b"x"));
                model[i] = b"x".to_vec();
                let all: Vec<Vec<u8>> = l.iter().map(|c| c.to_vec()).collect();
                assert_eq!(all, model.iter().cloned().collect::<Vec<_>>());
                let rev: Vec<Vec<u8>> = l.iter_rev().map(|c| c.to_vec()).collect();
                assert_eq!(rev, model.iter().rev().cloned().collect::<Vec<_>>());
                assert!(l.nodes().all(|n| n.len() <= 5 && !n.is_empty()));
            }
        }
        l.trim(Some((3, 10)), &limits);
        assert_eq!(l.iter().map(|c| c.to_vec()).collect::<Vec<_>>(), model.range(3..=10).cloned().collect::<Vec<_>>());
    }
}
