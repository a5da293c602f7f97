//! Client-side caching (CLIENT TRACKING): the keys each tracking client
//! read, the prefixes BCAST clients follow, and the invalidation messages
//! sent when those keys change, as Redis 7.0's tracking.c does: a RESP3
//! `invalidate` push, or for a RESP2 client redirecting to a subscriber of
//! `__redis__:invalidate`, a pub/sub message on that channel.

use super::Node;
use crate::client::{ClientId, Push};
use crate::keyspace::Key;
use std::collections::{BTreeMap, BTreeSet, HashMap};

/// One client's tracking settings.
#[derive(Debug, Clone, Default)]
pub struct ClientTracking {
    /// The client that receives this one's invalidations (0: itself).
    pub redirect: ClientId,
    pub bcast: bool,
    pub optin: bool,
    pub optout: bool,
    pub noloop: bool,
    /// CLIENT CACHING YES/NO was given for the next command.
    pub caching: bool,
    /// The redirect client went away (reported once, with a push).
    pub broken_redirect: bool,
    /// BCAST prefixes (the empty prefix: every key).
    pub prefixes: BTreeSet<Key>,
}

/// A BCAST prefix: its clients and the keys changed since the last broadcast
/// (with who changed them, for NOLOOP).
#[derive(Debug, Default)]
pub struct Prefix {
    pub clients: BTreeSet<ClientId>,
    pub keys: BTreeMap<Key, Option<ClientId>>,
}

#[derive(Debug, Default)]
pub struct Tracking {
    pub clients: HashMap<ClientId, ClientTracking>,
    /// Keys read by tracking clients (default mode) and who read them.
    pub table: HashMap<Key, BTreeSet<ClientId>>,
    pub prefixes: BTreeMap<Key, Prefix>,
    /// Client IDs across the whole table (INFO tracking_total_items).
    pub items: u64,
    /// `tracking-table-max-keys` (0: no limit), cached: it is checked before every command.
    pub max_keys: usize,
    /// The client whose command is running (NOLOOP skips its own writes).
    pub writer: Option<ClientId>,
    /// The connection being served now: its own invalidations are queued
    /// in `pending_self` and written around its reply (an eviction's before
    /// it, the command's own after it), as Redis orders them.
    pub current: Option<ClientId>,
    pub pending_self: Vec<u8>,
}

impl Tracking {
    /// Whether any client tracks anything (the write path's quick check).
    #[inline]
    pub fn active(&self) -> bool {
        !self.clients.is_empty()
    }
}

/// What an invalidation says: some keys, or everything (a flush).
enum Payload<'a> {
    Keys(&'a [&'a [u8]]),
    All,
}

impl Node {
    /// Turns tracking on for `id` (CLIENT TRACKING ON), replacing its mode.
    pub fn tracking_enable(&mut self, id: ClientId, mut t: ClientTracking, prefixes: Vec<Key>) {
        self.tracking_disable_prefixes(id);
        if t.bcast {
            let list = if prefixes.is_empty() { vec![Key::default()] } else { prefixes };
            for p in list {
                self.tracking.prefixes.entry(p.clone()).or_default().clients.insert(id);
                t.prefixes.insert(p);
            }
        }
        self.tracking.clients.insert(id, t);
    }

    fn tracking_disable_prefixes(&mut self, id: ClientId) {
        let Some(old) = self.tracking.clients.get(&id) else { return };
        for p in old.prefixes.clone() {
            if let Some(state) = self.tracking.prefixes.get_mut(&p) {
                state.clients.remove(&id);
                if state.clients.is_empty() {
                    self.tracking.prefixes.remove(&p);
                }
            }
        }
    }

    /// CLIENT TRACKING OFF, or the client is gone.
    pub fn tracking_disable(&mut self, id: ClientId) {
        self.tracking_disable_prefixes(id);
        self.tracking.clients.remove(&id);
    }

    /// After a read-only command of `id`: remembers the keys it read
    /// (trackingRememberKeys), unless OPTIN/OPTOUT says not this time.
    pub fn tracking_remember(&mut self, id: ClientId, keys: &[&[u8]]) {
        let Some(t) = self.tracking.clients.get(&id) else { return };
        if t.bcast || (t.optin && !t.caching) || (t.optout && t.caching) {
            return;
        }
        for k in keys {
            if self.tracking.table.entry(Key::from(*k)).or_default().insert(id) {
                self.tracking.items += 1;
            }
        }
        self.tracking_limit();
    }

    /// `tracking-table-max-keys`: past it, keys are dropped from the table
    /// with an invalidation, so clients stop caching them.
    pub fn tracking_limit(&mut self) {
        let max = self.tracking.max_keys;
        if max == 0 || self.tracking.table.len() <= max {
            return;
        }
        let excess: Vec<Key> = self.tracking.table.keys().take(self.tracking.table.len() - max).cloned().collect();
        let writer = self.tracking.writer.take();
        for k in excess {
            self.tracking_invalidate(&k, false);
        }
        self.tracking.writer = writer;
    }

    /// A key changed: its readers get an invalidation (trackingInvalidateKey);
    /// with `bcast`, BCAST prefixes that match it note it for the next broadcast.
    pub fn tracking_invalidate(&mut self, key: &[u8], bcast: bool) {
        if !self.tracking.active() {
            return;
        }
        let writer = self.tracking.writer;
        if bcast {
            for (p, state) in self.tracking.prefixes.iter_mut() {
                if key.starts_with(p) {
                    state.keys.insert(Key::from(key), writer);
                }
            }
        }
        let Some(ids) = self.tracking.table.remove(key) else { return };
        self.tracking.items -= ids.len() as u64;
        for id in ids {
            let Some(t) = self.tracking.clients.get(&id) else { continue };
            if t.bcast || (t.noloop && Some(id) == writer) {
                continue;
            }
            self.send_invalidation(id, Payload::Keys(&[key]));
        }
    }

    /// Sends the broadcasts BCAST clients are owed: per prefix, the keys
    /// changed since the last call (without a NOLOOP client's own changes).
    pub fn tracking_broadcast(&mut self) {
        if self.tracking.prefixes.values().all(|p| p.keys.is_empty()) {
            return;
        }
        let mut sends: Vec<(ClientId, Vec<Key>)> = Vec::new();
        for state in self.tracking.prefixes.values_mut() {
            let keys = std::mem::take(&mut state.keys);
            if keys.is_empty() {
                continue;
            }
            for id in &state.clients {
                let noloop = self.tracking.clients.get(id).is_some_and(|t| t.noloop);
                let list: Vec<Key> = keys.iter().filter(|(_, w)| !(noloop && **w == Some(*id))).map(|(k, _)| k.clone()).collect();
                if !list.is_empty() {
                    sends.push((*id, list));
                }
            }
        }
        for (id, keys) in sends {
            let refs: Vec<&[u8]> = keys.iter().map(|k| &k[..]).collect();
            self.send_invalidation(id, Payload::Keys(&refs));
        }
    }

    /// FLUSHALL/FLUSHDB: every tracking client is told to drop everything.
    pub fn tracking_flush(&mut self) {
        let ids: Vec<ClientId> = self.tracking.clients.keys().copied().collect();
        for id in ids {
            self.send_invalidation(id, Payload::All);
        }
        self.tracking.table.clear();
        self.tracking.items = 0;
    }

    /// Delivers an invalidation for tracking client `id` to it or to its
    /// redirect (sendTrackingMessage).
    fn send_invalidation(&mut self, id: ClientId, payload: Payload<'_>) {
        let Some(t) = self.tracking.clients.get(&id) else { return };
        let own_resp3 = self.clients.map.get(&id).is_some_and(|c| c.resp3);
        let mut target = id;
        let mut redirected = false;
        if t.redirect != 0 {
            if !self.clients.map.contains_key(&t.redirect) {
                let redirect = t.redirect;
                if let Some(t) = self.tracking.clients.get_mut(&id) {
                    t.broken_redirect = true;
                }
                if own_resp3 {
                    let mut r = crate::resp::ReplyBuf { buf: Vec::new(), resp3: true };
                    r.push(2);
                    r.bulk(b"tracking-redir-broken");
                    r.int(redirect as i64);
                    self.push_to(id, Push::Bytes(r.buf));
                }
                return;
            }
            target = t.redirect;
            redirected = true;
        }
        let Some(info) = self.clients.map.get(&target) else { return };
        let size = match &payload {
            Payload::Keys(keys) => keys.iter().map(|k| k.len() + 16).sum::<usize>() + 64,
            Payload::All => 64,
        };
        let mut r = crate::resp::ReplyBuf { buf: Vec::with_capacity(size), resp3: info.resp3 };
        if info.resp3 {
            r.push(2);
            r.bulk(b"invalidate");
        } else if redirected && info.sub_count + info.psub_count + info.ssub_count > 0 {
            r.array(3);
            r.bulk(b"message");
            r.bulk(b"__redis__:invalidate");
        } else {
            return;
        }
        match payload {
            Payload::Keys(keys) => {
                r.array(keys.len());
                for k in keys {
                    r.bulk(k);
                }
            }
            // The null of the tracking client's own protocol, as Redis writes it.
            Payload::All => r.buf.extend_from_slice(if own_resp3 { b"_\r\n" } else { b"$-1\r\n" }),
        }
        if Some(target) == self.tracking.current {
            self.tracking.pending_self.extend_from_slice(&r.buf);
        } else {
            self.push_to(target, Push::Bytes(r.buf));
        }
    }
}
