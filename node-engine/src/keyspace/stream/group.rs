//! Consumer groups: the last delivered ID, the pending entries list (PEL)
//! of delivered but unacknowledged entries, and the consumers that own them.

use super::StreamId;
use crate::keyspace::Key;
use std::collections::{BTreeMap, BTreeSet};

/// `entries_read` when it is not known (SCG_INVALID_ENTRIES_READ).
pub const ENTRIES_READ_UNKNOWN: i64 = -1;

/// A delivered, unacknowledged entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Nack {
    /// Unix ms of the last delivery.
    pub delivery_time: i64,
    pub delivery_count: u64,
    /// The consumer that owns it (empty only while an RDB load links it).
    pub consumer: Key,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Consumer {
    /// Unix ms of the last time it read or claimed.
    pub seen_time: i64,
    /// IDs it owns in the group's PEL.
    pub pel: BTreeSet<StreamId>,
}

impl Consumer {
    pub fn new(now: i64) -> Self {
        Consumer { seen_time: now, pel: BTreeSet::new() }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Group {
    pub last_id: StreamId,
    /// Logical entries read so far, or [`ENTRIES_READ_UNKNOWN`].
    pub entries_read: i64,
    pub pel: BTreeMap<StreamId, Nack>,
    /// By name, in byte order (as Redis's radix tree lists them).
    pub consumers: BTreeMap<Key, Consumer>,
}

impl Group {
    pub fn new(last_id: StreamId, entries_read: i64) -> Self {
        Group { last_id, entries_read, pel: BTreeMap::new(), consumers: BTreeMap::new() }
    }

    /// The consumer called `name`, refreshing its seen time (streamLookupConsumer).
    pub fn consumer(&mut self, name: &[u8], now: i64) -> Option<&mut Consumer> {
        let c = self.consumers.get_mut(name)?;
        c.seen_time = now;
        Some(c)
    }

    /// Creates a consumer; false if it exists already.
    pub fn create_consumer(&mut self, name: &[u8], now: i64) -> bool {
        if self.consumers.contains_key(name) {
            return false;
        }
        self.consumers.insert(name.into(), Consumer::new(now));
        true
    }

    /// Deletes a consumer and its pending entries; how many it had pending.
    pub fn delete_consumer(&mut self, name: &[u8]) -> Option<usize> {
        let c = self.consumers.remove(name)?;
        for id in &c.pel {
            self.pel.remove(id);
        }
        Some(c.pel.len())
    }

    /// Acknowledges `id`: whether it was pending.
    pub fn ack(&mut self, id: StreamId) -> bool {
        match self.pel.remove(&id) {
            Some(n) => {
                if let Some(c) = self.consumers.get_mut(&n.consumer) {
                    c.pel.remove(&id);
                }
                true
            }
            None => false,
        }
    }

    /// Records a delivery of `id` to `consumer` (created if needed): a new
    /// pending entry, or one taken over from another consumer with its
    /// count reset (streamReplyWithRange).
    pub fn deliver(&mut self, id: StreamId, consumer: &[u8], now: i64) {
        if let Some(n) = self.pel.get_mut(&id) {
            if let Some(c) = self.consumers.get_mut(&n.consumer) {
                c.pel.remove(&id);
            }
            n.consumer = consumer.into();
            n.delivery_time = now;
            n.delivery_count = 1;
        } else {
            self.pel.insert(id, Nack { delivery_time: now, delivery_count: 1, consumer: consumer.into() });
        }
        self.consumers.entry(consumer.into()).or_insert_with(|| Consumer::new(now)).pel.insert(id);
    }

    /// Moves a pending entry to `consumer` (XCLAIM/XAUTOCLAIM), which must exist.
    pub fn reassign(&mut self, id: StreamId, consumer: &[u8]) {
        let Some(n) = self.pel.get_mut(&id) else { return };
        if &n.consumer[..] != consumer {
            if let Some(c) = self.consumers.get_mut(&n.consumer) {
                c.pel.remove(&id);
            }
            n.consumer = consumer.into();
        }
        if let Some(c) = self.consumers.get_mut(consumer) {
            c.pel.insert(id);
        }
    }

    /// Heap bytes held, roughly (MEMORY USAGE).
    pub fn allocated(&self) -> usize {
        self.pel.len() * 64 + self.consumers.iter().map(|(k, c)| k.len() + 48 + c.pel.len() * 24).sum::<usize>()
    }
}
