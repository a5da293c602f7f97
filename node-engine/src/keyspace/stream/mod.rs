//! Streams as Redis 7.0 keeps them: entries packed in listpack nodes keyed
//! by their master ID, the stream's counters, and its consumer groups.
//! Where Redis has a radix tree of nodes we keep a sorted deque (same
//! order, same node contents): nodes are added at the tail and trimmed
//! from the head, and a small stream costs one slot, not a tree node.

pub mod group;
pub mod id;
pub mod node;

pub use group::{Consumer, Group, Nack, ENTRIES_READ_UNKNOWN};
pub use id::StreamId;
pub use node::{EntryRef, Node};

use crate::keyspace::Key;
use std::collections::{BTreeMap, VecDeque};

/// Redis caps a node at 1 GB whatever `stream-node-max-bytes` says.
const NODE_MAX_SIZE: usize = 1 << 30;

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Stream {
    /// Nodes by master ID, ascending.
    pub nodes: VecDeque<(StreamId, Node)>,
    /// Live entries.
    pub length: u64,
    pub last_id: StreamId,
    /// The first live entry's ID when the last change recorded it.
    pub first_id: StreamId,
    pub max_deleted: StreamId,
    /// Entries ever added (XADD), for consumer-group lag.
    pub entries_added: u64,
    /// Consumer groups by name (an empty map allocates nothing).
    pub groups: BTreeMap<Key, Group>,
}

/// The node size limits (`stream-node-max-bytes`, `stream-node-max-entries`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NodeLimits {
    pub max_bytes: usize,
    pub max_entries: usize,
}

impl Default for NodeLimits {
    fn default() -> Self {
        NodeLimits { max_bytes: 4096, max_entries: 100 }
    }
}

/// How XADD names the new entry's ID.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NewId {
    /// `*`: from the clock.
    Auto,
    /// `ms-*`: the sequence is generated.
    AutoSeq(u64),
    Exact(StreamId),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AppendError {
    /// The ID is not greater than the last one.
    TooSmall,
    /// The fields and values are too big for a node.
    TooLarge,
}

/// What to trim (XADD/XTRIM's MAXLEN/MINID).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TrimTo {
    MaxLen(u64),
    MinId(StreamId),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Trim {
    pub to: TrimTo,
    /// `~`: only whole nodes go.
    pub approx: bool,
    /// The most entries to remove (0: no limit).
    pub limit: u64,
}

impl Stream {
    pub fn new() -> Self {
        Stream::default()
    }

    pub fn groups(&self) -> impl Iterator<Item = (&Key, &Group)> {
        self.groups.iter()
    }

    pub fn group(&self, name: &[u8]) -> Option<&Group> {
        self.groups.get(name)
    }

    pub fn group_mut(&mut self, name: &[u8]) -> Option<&mut Group> {
        self.groups.get_mut(name)
    }

    pub fn group_count(&self) -> usize {
        self.groups.len()
    }

    /// Creates a group; false if the name is taken.
    pub fn create_group(&mut self, name: &[u8], last_id: StreamId, entries_read: i64) -> bool {
        if self.groups.contains_key(name) {
            return false;
        }
        self.groups.insert(name.into(), Group::new(last_id, entries_read));
        true
    }

    pub fn destroy_group(&mut self, name: &[u8]) -> bool {
        self.groups.remove(name).is_some()
    }

    /// Heap bytes held, roughly (MEMORY USAGE).
    pub fn allocated(&self) -> usize {
        self.nodes.iter().map(|(_, n)| n.allocated() + 40).sum::<usize>()
            + self.groups().map(|(k, g)| k.len() + 64 + g.allocated()).sum::<usize>()
    }

    /// Appends an entry (`fv`: field, value, ...), as streamAppendItem does.
    ///
    /// # Errors
    /// The ID is not above the last one, or the entry is too big.
    pub fn append(&mut self, fv: &[&[u8]], new_id: NewId, limits: NodeLimits, now_ms: u64) -> Result<StreamId, AppendError> {
        let id = match new_id {
            NewId::Exact(id) => id,
            NewId::AutoSeq(ms) => {
                if self.last_id.ms == ms {
                    if self.last_id.seq == u64::MAX {
                        return Err(AppendError::TooSmall);
                    }
                    StreamId::new(ms, self.last_id.seq + 1)
                } else {
                    StreamId::new(ms, 0)
                }
            }
            NewId::Auto => {
                if now_ms > self.last_id.ms {
                    StreamId::new(now_ms, 0)
                } else {
                    self.last_id.incr().unwrap_or(StreamId::MIN)
                }
            }
        };
        if id <= self.last_id {
            return Err(AppendError::TooSmall);
        }
        let total: usize = fv.iter().map(|x| x.len()).sum();
        if total > NODE_MAX_SIZE {
            return Err(AppendError::TooLarge);
        }
        let max_bytes = if limits.max_bytes == 0 || limits.max_bytes > NODE_MAX_SIZE { NODE_MAX_SIZE } else { limits.max_bytes };
        let mut tail = self.nodes.back_mut();
        if let Some((_, node)) = tail.as_mut() {
            let full =
                node.size() + total >= max_bytes || (limits.max_entries > 0 && node.live() + node.deleted() >= limits.max_entries as i64);
            if full {
                node.shrink();
                tail = None;
            }
        }
        match tail {
            Some((master, node)) => node.append(*master, id, fv, max_bytes.min(4096)),
            None => self.nodes.push_back((id, Node::new(fv))),
        }
        self.length += 1;
        self.entries_added += 1;
        self.last_id = id;
        if self.length == 1 {
            self.first_id = id;
        }
        Ok(id)
    }

    /// Trims from the head (streamTrim); returns how many entries went.
    pub fn trim(&mut self, t: &Trim) -> u64 {
        let mut deleted = 0u64;
        loop {
            if let TrimTo::MaxLen(max) = t.to {
                if self.length <= max {
                    break;
                }
            }
            let Some((master, node)) = self.nodes.front_mut() else { break };
            let master = *master;
            let entries = node.live().max(0) as u64;
            if t.limit > 0 && deleted + entries > t.limit {
                break;
            }
            let remove_node = match t.to {
                TrimTo::MaxLen(max) => self.length - entries >= max,
                TrimTo::MinId(min) => node.last_id(master).is_some_and(|last| last < min),
            };
            if remove_node {
                self.nodes.pop_front();
                self.length -= entries;
                deleted += entries;
                continue;
            }
            if t.approx {
                break;
            }
            let mut marks = Vec::new();
            let mut length = self.length;
            for e in node.entries(master) {
                let stop = match t.to {
                    TrimTo::MaxLen(max) => length <= max,
                    TrimTo::MinId(min) => e.id >= min,
                };
                if stop {
                    break;
                }
                if !e.deleted() {
                    marks.push(e.flags_pos);
                    length -= 1;
                }
            }
            for pos in &marks {
                node.mark_deleted(*pos);
            }
            self.length = length;
            deleted += marks.len() as u64;
            break;
        }
        if self.length == 0 {
            self.first_id = StreamId::MIN;
        } else if deleted > 0 {
            self.first_id = self.edge_id(true, true);
        }
        deleted
    }

    /// Calls `f` for each live entry between `start` and `end` (inclusive),
    /// backwards if `rev`, until it returns false.
    pub fn visit(&self, start: StreamId, end: StreamId, rev: bool, mut f: impl FnMut(&Node, &EntryRef) -> bool) {
        self.visit_all(start, end, rev, true, &mut f);
    }

    fn visit_all(&self, start: StreamId, end: StreamId, rev: bool, skip_deleted: bool, f: &mut impl FnMut(&Node, &EntryRef) -> bool) {
        if start > end {
            return;
        }
        if !rev {
            let from = self.nodes.partition_point(|(k, _)| *k <= start).saturating_sub(1);
            for (master, node) in self.nodes.range(from..) {
                if *master > end {
                    return;
                }
                for e in node.entries(*master) {
                    if e.id < start || (skip_deleted && e.deleted()) {
                        continue;
                    }
                    if e.id > end || !f(node, &e) {
                        return;
                    }
                }
            }
        } else {
            let to = self.nodes.partition_point(|(k, _)| *k <= end);
            for (master, node) in self.nodes.range(..to).rev() {
                let entries: Vec<EntryRef> = node.entries(*master).collect();
                for e in entries.iter().rev() {
                    if e.id > end || (skip_deleted && e.deleted()) {
                        continue;
                    }
                    if e.id < start || !f(node, e) {
                        return;
                    }
                }
            }
        }
    }

    /// Whether a live entry has this ID.
    pub fn exists(&self, id: StreamId) -> bool {
        let mut found = false;
        self.visit(id, id, false, |_, _| {
            found = true;
            false
        });
        found
    }

    /// Deletes one entry (streamDeleteItem); whether it was there.
    pub fn delete(&mut self, id: StreamId) -> bool {
        let Some(i) = self.nodes.partition_point(|(k, _)| *k <= id).checked_sub(1) else { return false };
        let Some((master, node)) = self.nodes.get_mut(i) else { return false };
        let Some(e) = node.entries(*master).find(|e| e.id == id && !e.deleted()) else { return false };
        if node.live() == 1 {
            self.nodes.remove(i);
        } else {
            node.mark_deleted(e.flags_pos);
        }
        self.length -= 1;
        true
    }

    /// The first (or last) entry's ID, tombstones included or not; with no
    /// entry, MAX for the first and 0-0 for the last (streamGetEdgeID).
    pub fn edge_id(&self, first: bool, skip_tombstones: bool) -> StreamId {
        let mut out = None;
        self.visit_all(StreamId::MIN, StreamId::MAX, !first, skip_tombstones, &mut |_, e| {
            out = Some(e.id);
            false
        });
        out.unwrap_or(if first { StreamId::MAX } else { StreamId::MIN })
    }

    /// The last live entry's ID (0-0 when empty).
    pub fn last_valid_id(&self) -> StreamId {
        if self.length == 0 {
            return StreamId::MIN;
        }
        self.edge_id(false, true)
    }

    /// Whether a deleted entry may lie between `start` and `end` (streamRangeHasTombstones).
    pub fn range_has_tombstones(&self, start: StreamId, end: StreamId) -> bool {
        if self.length == 0 || self.max_deleted.is_zero() || self.first_id > self.max_deleted {
            return false;
        }
        start <= self.max_deleted && self.max_deleted <= end
    }

    /// How many entries were added up to `id`, when that can be known
    /// (streamEstimateDistanceFromFirstEverEntry); None if not.
    pub fn estimate_distance(&self, id: StreamId) -> Option<u64> {
        if self.entries_added == 0 {
            return Some(0);
        }
        if self.length == 0 && id <= self.last_id {
            return Some(self.entries_added);
        }
        match id.cmp(&self.last_id) {
            std::cmp::Ordering::Equal => return Some(self.entries_added),
            std::cmp::Ordering::Greater => return None,
            std::cmp::Ordering::Less => {}
        }
        if self.max_deleted.is_zero() || self.max_deleted < self.first_id {
            match id.cmp(&self.first_id) {
                std::cmp::Ordering::Less => return Some(self.entries_added - self.length),
                std::cmp::Ordering::Equal => return Some(self.entries_added - self.length + 1),
                std::cmp::Ordering::Greater => {}
            }
        }
        None
    }

    /// A group's lag (entries not yet read by it), None when unknown.
    pub fn lag(&self, g: &Group) -> Option<i64> {
        if self.entries_added == 0 {
            return Some(0);
        }
        if g.entries_read != ENTRIES_READ_UNKNOWN && !self.range_has_tombstones(g.last_id, StreamId::MAX) {
            return Some(self.entries_added as i64 - g.entries_read);
        }
        self.estimate_distance(g.last_id).map(|read| self.entries_added as i64 - read as i64)
    }

    /// Advances a group past `id` as a delivery does, keeping entries_read.
    pub fn advance_group(&mut self, name: &[u8], id: StreamId) {
        let has_tombstones = self.range_has_tombstones(id, StreamId::MAX);
        let estimate = self.estimate_distance(id);
        let added = self.entries_added;
        let Some(g) = self.group_mut(name) else { return };
        if id <= g.last_id {
            return;
        }
        if g.entries_read != ENTRIES_READ_UNKNOWN && !has_tombstones {
            g.entries_read += 1;
        } else if added > 0 {
            g.entries_read = estimate.map_or(ENTRIES_READ_UNKNOWN, |v| v as i64);
        }
        g.last_id = id;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(s: &Stream) -> Vec<StreamId> {
        let mut v = Vec::new();
        s.visit(StreamId::MIN, StreamId::MAX, false, |_, e| {
            v.push(e.id);
            true
        });
        v
    }

    #[test]
    fn append_splits_nodes_and_trim_deletes_as_redis_does() {
        let mut s = Stream::new();
        let limits = NodeLimits { max_bytes: 4096, max_entries: 10 };
        for i in 1..=25u64 {
            assert_eq!(s.append(&[b"f", b"v"], NewId::Exact(StreamId::new(i, 0)), limits, 0), Ok(StreamId::new(i, 0)));
        }
        assert_eq!(s.nodes.len(), 3);
        assert_eq!(s.append(&[b"f", b"v"], NewId::Exact(StreamId::new(3, 0)), limits, 0), Err(AppendError::TooSmall));
        assert_eq!(s.append(&[b"f", b"v"], NewId::AutoSeq(25), limits, 0), Ok(StreamId::new(25, 1)));
        // Approximate trimming removes only whole nodes.
        assert_eq!(s.trim(&Trim { to: TrimTo::MaxLen(15), approx: true, limit: 0 }), 10);
        assert_eq!(s.length, 16);
        assert_eq!(s.trim(&Trim { to: TrimTo::MaxLen(12), approx: false, limit: 0 }), 4);
        assert_eq!(ids(&s).first(), Some(&StreamId::new(15, 0)));
        assert_eq!(s.first_id, StreamId::new(15, 0));
        assert!(s.delete(StreamId::new(20, 0)));
        assert!(!s.delete(StreamId::new(20, 0)));
        assert_eq!(s.length, 11);
        let mut rev = Vec::new();
        s.visit(StreamId::new(18, 0), StreamId::new(22, 0), true, |_, e| {
            rev.push(e.id.ms);
            true
        });
        assert_eq!(rev, vec![22, 21, 19, 18]);
        assert_eq!(s.last_valid_id(), StreamId::new(25, 1));
    }
}
