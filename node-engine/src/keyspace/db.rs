//! One database: key tables with lazy and active expiry.
//!
//! In cluster mode the keys are split into 16384 tables, one per hash slot, so
//! COUNTKEYSINSLOT and GETKEYSINSLOT (and slot migration) touch only their slot.
//! Standalone uses a single table. Keys with a TTL are also listed in `ttl_keys`
//! so the active expiry cycle samples only keys that can expire, like Redis's
//! expires dict. SCAN walks each table from its end so that `swap_remove`
//! never hides a key that was present for the whole iteration.

use super::dense::{Dense, Keyed};
use super::thin::ThinBytes;
use super::{Key, Value};
use crate::slot::{key_slot, SLOTS};
use indexmap::IndexSet;
use rand::Rng;

#[derive(Debug, Clone)]
pub struct Entry {
    pub value: Value,
    /// Absolute expiry in unix milliseconds; 0 means no expiry.
    pub expire_at: u64,
    /// Last access (LRU clock) or access frequency (LFU), see `lru`.
    pub lru: u32,
    /// A string edited in place (APPEND, SETRANGE, SETBIT...): Redis's `raw`
    /// encoding whatever its content. Fits in the entry's padding.
    pub raw: bool,
}

impl Entry {
    /// OBJECT ENCODING's answer.
    pub fn encoding(&self) -> &'static str {
        match &self.value {
            Value::Str(_) if self.raw => "raw",
            v => v.encoding(),
        }
    }
}

/// A key and its entry: the key is a thin single allocation, so a slot is
/// 48 bytes where an IndexMap bucket (hash, boxed key, entry) was 64.
#[derive(Debug, Clone)]
struct Slot {
    key: ThinBytes,
    entry: Entry,
}

impl Keyed for Slot {
    fn key(&self) -> &[u8] {
        self.key.as_bytes()
    }
}

type Table = Dense<Slot>;

thread_local! {
    /// Set when a database on this thread (each node has its own) logs an
    /// expired key, so the per-command drain does not walk every database.
    static EXPIRED_PENDING: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Whether keys expired on this thread since the last call (and clears the mark).
pub fn take_expired_pending() -> bool {
    EXPIRED_PENDING.with(|p| p.replace(false))
}

/// Adds a key to the TTL index, growing it by [`super::growth::step`]
/// (an entry and its index slot: about 33 bytes).
fn ttl_insert(set: &mut IndexSet<Key, ahash::RandomState>, key: &[u8]) {
    if set.len() == set.capacity() {
        set.reserve_exact(super::growth::step(set.capacity(), 33));
    }
    set.insert(key.into());
}

/// What one hash lookup found.
enum Lookup {
    Live(usize),
    Missing,
    Expired,
}

/// Bits of a SCAN cursor that hold the position inside one table.
const CURSOR_POS_BITS: u32 = 40;

#[derive(Debug)]
pub struct Db {
    tables: Vec<Table>,
    ttl_keys: IndexSet<Key, ahash::RandomState>,
    len: usize,
    /// False on replicas: expired keys read as missing but are deleted only
    /// when the master says so.
    pub expire_enabled: bool,
    /// Keys count as live whatever their TTL: while loading, and while a
    /// replica applies its master's stream (Redis's keyIsExpired and
    /// expireIfNeeded), so a write lands in the key the master wrote to.
    pub ttl_ignored: bool,
    /// Keys a client (not the master) gave a TTL on a writable replica: the
    /// replica expires those itself (Redis's slaveKeysWithExpire).
    local_ttl: IndexSet<Key, ahash::RandomState>,
    /// Keys removed by expiry since the last drain, to propagate as DEL.
    pub expired_log: Vec<Key>,
    /// Total keys expired, for INFO stats.
    pub expired_total: u64,
    /// (pointer, length, slot) of the current command's first key, set by routing.
    slot_hint: Option<(usize, usize, u16)>,
    /// The compact encodings' thresholds (from the config).
    pub limits: super::Limits,
    /// Keys created since the last drain, collected only while someone
    /// listens for `new` keyspace events.
    pub new_keys: Option<Vec<Key>>,
    /// How accesses are recorded (from `maxmemory-policy`).
    pub lru_mode: super::lru::Mode,
}

impl Db {
    pub fn new(sharded: bool) -> Db {
        let n = if sharded { SLOTS } else { 1 };
        Db {
            tables: (0..n).map(|_| Table::default()).collect(),
            ttl_keys: IndexSet::default(),
            len: 0,
            expire_enabled: true,
            ttl_ignored: false,
            local_ttl: IndexSet::default(),
            expired_log: Vec::new(),
            expired_total: 0,
            slot_hint: None,
            limits: super::Limits::default(),
            new_keys: None,
            lru_mode: super::lru::Mode::Lru,
        }
    }

    #[inline]
    fn table_index(&self, key: &[u8]) -> usize {
        if self.tables.len() == 1 {
            return 0;
        }
        // Routing already hashed the command's first key: reuse it for that exact slice.
        if let Some((ptr, len, slot)) = self.slot_hint {
            if ptr == key.as_ptr() as usize && len == key.len() {
                return slot as usize;
            }
        }
        key_slot(key) as usize
    }

    /// Remembers the slot of one argument slice for the current command (see `table_index`).
    /// The caller clears it when the command ends, before the slice can be reused.
    pub fn set_slot_hint(&mut self, hint: Option<(&[u8], u16)>) {
        self.slot_hint = hint.map(|(k, s)| (k.as_ptr() as usize, k.len(), s));
    }

    pub fn len(&self) -> usize {
        self.len
    }
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
    /// Bytes of the key tables themselves and of the TTL index (MEMORY
    /// STATS's overhead.hashtable.main and .expires): slots and index, not
    /// what keys and values own.
    pub fn overhead(&self) -> (usize, usize) {
        let main = self.tables.iter().map(Dense::allocated).sum::<usize>() + self.tables.capacity() * std::mem::size_of::<Table>();
        // An IndexSet entry: the hash and the boxed key, plus its index slot.
        let expires =
            self.ttl_keys.capacity() * (std::mem::size_of::<u64>() + std::mem::size_of::<Key>() + std::mem::size_of::<usize>() + 1);
        (main, expires)
    }

    pub fn expires_len(&self) -> usize {
        self.ttl_keys.len()
    }

    /// Finds `key` in table `t` with one hash lookup, expiring it first if
    /// its time has passed (masters delete it; replicas only hide it).
    #[inline]
    fn lookup(&mut self, t: usize, key: &[u8], now: u64) -> Lookup {
        let Some(idx) = self.tables[t].position(key) else { return Lookup::Missing };
        let expire_at = self.tables[t].get_index(idx).map_or(0, |s| s.entry.expire_at);
        if expire_at == 0 || expire_at > now || self.ttl_ignored {
            return Lookup::Live(idx);
        }
        if self.expire_enabled {
            self.remove_at(t, key);
            self.expired_log.push(key.into());
            EXPIRED_PENDING.with(|p| p.set(true));
            self.expired_total += 1;
        }
        Lookup::Expired
    }

    /// Removes `key` if it has expired; returns whether it is (logically) gone.
    #[inline]
    fn expire_if_needed(&mut self, t: usize, key: &[u8], now: u64) -> bool {
        matches!(self.lookup(t, key, now), Lookup::Expired)
    }

    /// Looks a key up, expiring it first if its time has passed.
    #[inline]
    pub fn get(&mut self, key: &[u8], now: u64) -> Option<&Entry> {
        self.get_mut(key, now).map(|e| &*e)
    }

    /// Looks a key up for writing, recording the access (LRU/LFU).
    #[inline]
    pub fn get_mut(&mut self, key: &[u8], now: u64) -> Option<&mut Entry> {
        let t = self.table_index(key);
        let mode = self.lru_mode;
        match self.lookup(t, key, now) {
            Lookup::Live(idx) => self.tables[t].get_index_mut(idx).map(|s| {
                s.entry.lru = super::lru::touched(mode, s.entry.lru, now);
                &mut s.entry
            }),
            Lookup::Missing | Lookup::Expired => None,
        }
    }

    /// Looks a key up (expiring it if due) without recording an access:
    /// OBJECT IDLETIME must not reset what it reports.
    pub fn get_untouched(&mut self, key: &[u8], now: u64) -> Option<&Entry> {
        let t = self.table_index(key);
        match self.lookup(t, key, now) {
            Lookup::Live(idx) => self.tables[t].get_index(idx).map(|s| &s.entry),
            Lookup::Missing | Lookup::Expired => None,
        }
    }

    pub fn contains(&mut self, key: &[u8], now: u64) -> bool {
        self.get(key, now).is_some()
    }

    /// Looks a key up without expiring or counting it (DEBUG, persistence).
    pub fn peek(&self, key: &[u8]) -> Option<&Entry> {
        self.tables[self.table_index(key)].get(key).map(|s| &s.entry)
    }

    /// Stores a value, replacing any old value and TTL.
    pub fn set(&mut self, key: &[u8], value: Value) {
        self.set_with_expire(key, value, 0);
    }

    /// Stores a value with an absolute expiry (0 = none).
    pub fn set_with_expire(&mut self, key: &[u8], value: Value, expire_at: u64) {
        self.note_local_ttl(key, expire_at);
        let t = self.table_index(key);
        let table = &mut self.tables[t];
        let mode = self.lru_mode;
        let now = crate::util::time::recent_ms();
        if let Some(Slot { entry: e, .. }) = table.get_mut(key) {
            let had_ttl = e.expire_at != 0;
            e.value = value;
            e.expire_at = expire_at;
            e.raw = false;
            // A new value is a new object: fresh LRU clock; LFU keeps the count (as dbOverwrite does).
            if mode == super::lru::Mode::Lru {
                e.lru = super::lru::clock(now);
            }
            match (had_ttl, expire_at != 0) {
                (true, false) => {
                    self.ttl_keys.swap_remove(key);
                }
                (false, true) => {
                    ttl_insert(&mut self.ttl_keys, key);
                }
                _ => {}
            }
        } else {
            table.push_unique(Slot {
                key: ThinBytes::new(key),
                entry: Entry { value, expire_at, lru: super::lru::initial(mode, now), raw: false },
            });
            self.len += 1;
            if let Some(v) = &mut self.new_keys {
                v.push(key.into());
            }
            if expire_at != 0 {
                ttl_insert(&mut self.ttl_keys, key);
            }
        }
    }

    /// Stores an entry moved or copied from another key (RENAME, MOVE, COPY):
    /// its TTL, encoding (`raw`) and access data travel with the value.
    pub fn put_entry(&mut self, key: &[u8], entry: Entry) {
        let (raw, lru) = (entry.raw, entry.lru);
        self.set_with_expire(key, entry.value, entry.expire_at);
        let t = self.table_index(key);
        if let Some(s) = self.tables[t].get_mut(key) {
            s.entry.raw = raw;
            s.entry.lru = lru;
        }
    }

    /// Returns the entry for `key`, creating it with `make()` if missing.
    pub fn get_or_insert_with(&mut self, key: &[u8], now: u64, make: impl FnOnce() -> Value) -> &mut Entry {
        let t = self.table_index(key);
        let mode = self.lru_mode;
        let idx = match self.lookup(t, key, now) {
            Lookup::Live(idx) => idx,
            // A client's write on a writable replica replaces a key whose TTL
            // passed (Redis's lookupKeyWrite deletes it first); the master's
            // own writes see it live (`ttl_ignored`).
            Lookup::Expired if !self.expire_enabled => {
                self.remove_at(t, key);
                self.len += 1;
                let entry = Entry { value: make(), expire_at: 0, lru: super::lru::initial(mode, now), raw: false };
                self.tables[t].push_unique(Slot { key: ThinBytes::new(key), entry })
            }
            Lookup::Missing | Lookup::Expired => {
                self.len += 1;
                if let Some(v) = &mut self.new_keys {
                    v.push(key.into());
                }
                let entry = Entry { value: make(), expire_at: 0, lru: super::lru::initial(mode, now), raw: false };
                self.tables[t].push_unique(Slot { key: ThinBytes::new(key), entry })
            }
        };
        let Some(slot) = self.tables[t].get_index_mut(idx) else { unreachable!("position {idx} was just found or pushed") };
        let e = &mut slot.entry;
        e.lru = super::lru::touched(mode, e.lru, now);
        e
    }

    fn remove_at(&mut self, t: usize, key: &[u8]) -> Option<Entry> {
        // The table gives memory back once it is mostly empty (Redis shrinks
        // its dicts too); eviction relies on used memory going down.
        let e = self.tables[t].swap_remove(key)?.entry;
        self.len -= 1;
        if e.expire_at != 0 {
            self.ttl_keys.swap_remove(key);
            if self.ttl_keys.capacity() > 1024 && self.ttl_keys.len() * 8 < self.ttl_keys.capacity() {
                self.ttl_keys.shrink_to(self.ttl_keys.len() * 2);
            }
        }
        Some(e)
    }

    /// Deletes a key; returns the entry if it existed (expired keys count as missing).
    pub fn remove(&mut self, key: &[u8], now: u64) -> Option<Entry> {
        let t = self.table_index(key);
        if self.expire_if_needed(t, key, now) {
            // On a replica the expired key is still stored: the master's DEL removes it.
            self.remove_at(t, key);
            return None;
        }
        self.remove_at(t, key)
    }

    /// Deletes a collection key that became empty.
    pub fn remove_if_empty(&mut self, key: &[u8]) -> bool {
        let t = self.table_index(key);
        if self.tables[t].get(key).is_some_and(|s| s.entry.value.is_empty_collection()) {
            self.remove_at(t, key);
            return true;
        }
        false
    }

    /// Sets or clears (0) a key's expiry; false when the key does not exist.
    pub fn set_expire(&mut self, key: &[u8], at: u64, now: u64) -> bool {
        self.note_local_ttl(key, at);
        let t = self.table_index(key);
        if self.expire_if_needed(t, key, now) {
            return false;
        }
        let Some(Slot { entry: e, .. }) = self.tables[t].get_mut(key) else {
            return false;
        };
        let had = e.expire_at != 0;
        e.expire_at = at;
        if !had && at != 0 {
            ttl_insert(&mut self.ttl_keys, key);
        } else if had && at == 0 {
            self.ttl_keys.swap_remove(key);
        }
        true
    }

    /// Drops every key.
    pub fn flush(&mut self) {
        for t in &mut self.tables {
            *t = Table::default();
        }
        self.ttl_keys = IndexSet::default();
        self.len = 0;
    }

    /// Up to `n` random keys for eviction, with their access field and expiry:
    /// from every key, or only from keys with a TTL (`volatile`). Keys may
    /// repeat; sampling never expires or touches anything.
    pub fn sample(&self, volatile: bool, n: usize) -> Vec<(Key, u32, u64)> {
        let mut rng = rand::thread_rng();
        let mut out = Vec::with_capacity(n);
        if volatile {
            if self.ttl_keys.is_empty() {
                return out;
            }
            for _ in 0..n {
                let Some(k) = self.ttl_keys.get_index(rng.gen_range(0..self.ttl_keys.len())) else { continue };
                if let Some(e) = self.peek(k) {
                    out.push((k.clone(), e.lru, e.expire_at));
                }
            }
            return out;
        }
        if self.len == 0 {
            return out;
        }
        for _ in 0..n {
            let t = self.random_table(&mut rng);
            let table = &self.tables[t];
            if let Some(s) = (!table.is_empty()).then(|| table.get_index(rng.gen_range(0..table.len()))).flatten() {
                out.push((Key::from(s.key.as_bytes()), s.entry.lru, s.entry.expire_at));
            }
        }
        out
    }

    /// A random non-empty table: a few random slots first, then a scan
    /// weighted by size (cluster nodes keep one table per slot).
    fn random_table(&self, rng: &mut impl Rng) -> usize {
        if self.tables.len() == 1 {
            return 0;
        }
        for _ in 0..32 {
            let t = rng.gen_range(0..self.tables.len());
            if !self.tables[t].is_empty() {
                return t;
            }
        }
        let mut pos = rng.gen_range(0..self.len.max(1));
        for (i, tab) in self.tables.iter().enumerate() {
            if pos < tab.len() {
                return i;
            }
            pos -= tab.len();
        }
        0
    }

    /// Drops every key, handing the old tables back (for a background free).
    pub fn take_all(&mut self) -> (Box<dyn Send>, u64) {
        let n = self.len as u64;
        let tables = std::mem::take(&mut self.tables);
        let count = tables.len();
        self.tables = (0..count).map(|_| Table::default()).collect();
        let ttl = std::mem::take(&mut self.ttl_keys);
        self.len = 0;
        (Box::new((tables, ttl)), n)
    }

    /// An empty database with this one's layout and settings (a replica
    /// loads its master's snapshot into these while serving the old data).
    pub fn empty_like(&self) -> Db {
        let mut db = Db::new(self.tables.len() > 1);
        db.expire_enabled = self.expire_enabled;
        db.limits = self.limits;
        db.lru_mode = self.lru_mode;
        db
    }

    /// Exchanges the keys (and their TTLs) with `other`; settings and
    /// statistics stay with each database.
    pub fn swap_contents(&mut self, other: &mut Db) {
        std::mem::swap(&mut self.tables, &mut other.tables);
        std::mem::swap(&mut self.ttl_keys, &mut other.ttl_keys);
        std::mem::swap(&mut self.len, &mut other.len);
        std::mem::swap(&mut self.local_ttl, &mut other.local_ttl);
        self.slot_hint = None;
        other.slot_hint = None;
    }

    /// A random live key, or None when empty.
    pub fn random_key(&mut self, now: u64) -> Option<Key> {
        let mut rng = rand::thread_rng();
        for _ in 0..100 {
            if self.len == 0 {
                return None;
            }
            let t = if self.tables.len() == 1 {
                0
            } else {
                // Pick a slot weighted by its size by picking a global position.
                let mut pos = rng.gen_range(0..self.len);
                let mut found = 0;
                for (i, tab) in self.tables.iter().enumerate() {
                    if pos < tab.len() {
                        found = i;
                        break;
                    }
                    pos -= tab.len();
                }
                found
            };
            let table = &self.tables[t];
            if table.is_empty() {
                continue;
            }
            let s = table.get_index(rng.gen_range(0..table.len()))?;
            let k = Key::from(s.key.as_bytes());
            if s.entry.expire_at != 0 && s.entry.expire_at <= now {
                self.expire_if_needed(t, &k, now);
                continue;
            }
            return Some(k);
        }
        None
    }

    /// One step of SCAN: calls `visit` for up to about `count` entries and
    /// returns the next cursor (0 when done).
    pub fn scan(&self, cursor: u64, count: usize, mut visit: impl FnMut(&[u8], &Entry)) -> u64 {
        let mut table = (cursor >> CURSOR_POS_BITS) as usize;
        let mut remaining = (cursor & ((1u64 << CURSOR_POS_BITS) - 1)) as usize;
        let mut fresh = remaining == 0;
        let mut visited = 0;
        while table < self.tables.len() {
            let tab = &self.tables[table];
            if fresh {
                remaining = tab.len();
            }
            remaining = remaining.min(tab.len());
            while remaining > 0 && visited < count {
                remaining -= 1;
                if let Some(s) = tab.get_index(remaining) {
                    visit(s.key.as_bytes(), &s.entry);
                }
                visited += 1;
            }
            if remaining > 0 {
                return ((table as u64) << CURSOR_POS_BITS) | remaining as u64;
            }
            table += 1;
            fresh = true;
            if visited >= count {
                break;
            }
        }
        if table >= self.tables.len() {
            0
        } else {
            (table as u64) << CURSOR_POS_BITS
        }
    }

    /// Every (key, entry), for KEYS, snapshots and DEBUG.
    pub fn iter(&self) -> impl Iterator<Item = (&[u8], &Entry)> + '_ {
        self.tables.iter().flat_map(|t| t.iter()).map(|s| (s.key.as_bytes(), &s.entry))
    }

    /// Number of keys in one hash slot (cluster mode).
    pub fn count_in_slot(&self, slot: u16) -> usize {
        self.tables.get(slot as usize).map_or(0, |t| {
            if self.tables.len() == 1 {
                t.iter().filter(|s| key_slot(s.key.as_bytes()) == slot).count()
            } else {
                t.len()
            }
        })
    }

    /// Up to `count` keys of one hash slot.
    pub fn keys_in_slot(&self, slot: u16, count: usize) -> Vec<Key> {
        if self.tables.len() == 1 {
            return self.tables[0].iter().map(|s| s.key.as_bytes()).filter(|k| key_slot(k) == slot).take(count).map(Key::from).collect();
        }
        self.tables.get(slot as usize).map_or_else(Vec::new, |t| t.iter().take(count).map(|s| Key::from(s.key.as_bytes())).collect())
    }

    /// Removes every key of a slot; returns how many.
    pub fn remove_slot(&mut self, slot: u16) -> usize {
        let keys = self.keys_in_slot(slot, usize::MAX);
        let n = keys.len();
        for k in keys {
            let t = self.table_index(&k);
            self.remove_at(t, &k);
        }
        n
    }

    /// On a replica, a TTL a client set (not the master) is the replica's to enforce.
    fn note_local_ttl(&mut self, key: &[u8], at: u64) {
        if !self.expire_enabled && !self.ttl_ignored && at != 0 {
            self.local_ttl.insert(key.into());
        }
    }

    /// A writable replica's own keys whose TTL passed are deleted (every
    /// cron); keys that lost their TTL or are gone are forgotten.
    pub fn expire_local_keys(&mut self, now: u64) {
        if self.local_ttl.is_empty() {
            return;
        }
        let keys = std::mem::take(&mut self.local_ttl);
        for k in keys {
            let t = self.table_index(&k);
            match self.tables[t].get(&k).map(|s| s.entry.expire_at) {
                Some(at) if at != 0 && at <= now => {
                    self.remove_at(t, &k);
                    self.expired_total += 1;
                }
                Some(at) if at != 0 => {
                    self.local_ttl.insert(k);
                }
                _ => {}
            }
        }
    }

    /// Active expiry: samples keys with a TTL and deletes the expired ones,
    /// repeating while more than a quarter of a sample had expired, within `budget` checks.
    pub fn active_expire(&mut self, now: u64, budget: usize) -> usize {
        if !self.expire_enabled {
            return 0;
        }
        let mut rng = rand::thread_rng();
        let mut removed = 0;
        let mut checked = 0;
        while checked < budget && !self.ttl_keys.is_empty() {
            let mut expired_in_sample = 0;
            for _ in 0..20 {
                if self.ttl_keys.is_empty() {
                    break;
                }
                let i = rng.gen_range(0..self.ttl_keys.len());
                let Some(k) = self.ttl_keys.get_index(i).cloned() else { break };
                checked += 1;
                let t = self.table_index(&k);
                if self.expire_if_needed(t, &k, now) {
                    expired_in_sample += 1;
                    removed += 1;
                }
            }
            if expired_in_sample <= 5 {
                break;
            }
        }
        removed
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &str) -> Value {
        Value::Str(v.as_bytes().into())
    }

    #[test]
    fn lazy_expiry_and_ttl_index() {
        let mut db = Db::new(false);
        db.set_with_expire(b"a", s("1"), 100);
        db.set(b"b", s("2"));
        assert_eq!(db.expires_len(), 1);
        assert!(db.get(b"a", 50).is_some());
        assert!(db.get(b"a", 100).is_none());
        assert_eq!(db.len(), 1);
        assert_eq!(db.expires_len(), 0);
        assert_eq!(db.expired_log.len(), 1);
    }

    #[test]
    fn scan_visits_everything_in_sharded_db() {
        let mut db = Db::new(true);
        for i in 0..1000 {
            db.set(format!("k{i}").as_bytes(), s("v"));
        }
        let mut seen = std::collections::HashSet::new();
        let mut cursor = 0;
        loop {
            cursor = db.scan(cursor, 10, |k, _| {
                seen.insert(k.to_vec());
            });
            if cursor == 0 {
                break;
            }
        }
        assert_eq!(seen.len(), 1000);
        assert_eq!(db.count_in_slot(key_slot(b"k1")), db.keys_in_slot(key_slot(b"k1"), 100).len());
    }

    #[test]
    fn active_expire_removes_expired() {
        let mut db = Db::new(false);
        for i in 0..100 {
            db.set_with_expire(format!("k{i}").as_bytes(), s("v"), 10);
        }
        let n = db.active_expire(20, 10_000);
        assert_eq!(n, 100);
        assert!(db.is_empty());
    }
}
