//! A hash value in one of Redis's two encodings: a listpack of field, value,
//! field, value... while it is small, a hash table once it is not. A hash is
//! converted when it crosses `hash-max-listpack-entries` or a field or value
//! longer than `hash-max-listpack-value` arrives, and never back (except when
//! loaded from a file), as in Redis.

use super::dense::{Dense, Keyed};
use super::listpack::{Elem, ListPack};
use super::thin::{read_varint, varint_len, write_varint, ThinBytes};
use super::{Key, Limits};
use std::borrow::Cow;

/// A field and its value in one thin allocation: `[varint field length][field][value]`.
#[derive(Debug, Clone)]
pub struct FieldValue(ThinBytes);

impl FieldValue {
    #[inline]
    pub fn new(field: &[u8], value: &[u8]) -> Self {
        let n = varint_len(field.len());
        FieldValue(ThinBytes::filled(n + field.len() + value.len(), |buf| {
            let at = write_varint(buf, field.len());
            let (f, v) = buf[at..].split_at_mut(field.len());
            f.copy_from_slice(field);
            v.copy_from_slice(value);
        }))
    }

    pub fn field(&self) -> &[u8] {
        self.split().0
    }

    pub fn value(&self) -> &[u8] {
        self.split().1
    }

    #[inline]
    pub fn split(&self) -> (&[u8], &[u8]) {
        let b = self.0.as_bytes();
        let (flen, n) = read_varint(b);
        b[n..].split_at(flen)
    }
}

impl Keyed for FieldValue {
    #[inline]
    fn key(&self) -> &[u8] {
        self.field()
    }
}

/// The hash-table encoding.
pub type HashTable = Dense<FieldValue>;

/// A field and its value, borrowed when stored as text.
pub type Pair<'a> = (Cow<'a, [u8]>, Cow<'a, [u8]>);

#[derive(Debug, Clone)]
pub enum Hash {
    Pack(ListPack),
    Table(Box<HashTable>),
}

impl Default for Hash {
    fn default() -> Self {
        Hash::Pack(ListPack::new())
    }
}

impl Hash {
    /// An empty hash in the encoding it would get for a first field of these lengths.
    pub fn new() -> Self {
        Hash::default()
    }

    /// A hash from a listpack of pairs (an RDB file's), converted if it is past the limits.
    pub fn from_listpack(lp: ListPack, limits: &Limits) -> Self {
        let mut h = Hash::Pack(lp);
        let too_long = h.iter().any(|(k, v)| k.len() > limits.hash_value || v.len() > limits.hash_value);
        if h.len() > limits.hash_entries || too_long {
            h.convert();
        }
        h
    }

    /// A hash from pairs (an RDB file's hash-table form), compact when it fits the limits, as Redis loads it.
    pub fn from_pairs(pairs: Vec<(Key, Key)>, limits: &Limits) -> Self {
        let fits =
            pairs.len() <= limits.hash_entries && pairs.iter().all(|(k, v)| k.len() <= limits.hash_value && v.len() <= limits.hash_value);
        if fits {
            let mut lp = ListPack::new();
            let flat: Vec<&[u8]> = pairs.iter().flat_map(|(k, v)| [&k[..], &v[..]]).collect();
            lp.push(&flat);
            return Hash::Pack(lp);
        }
        let mut t = HashTable::with_capacity(pairs.len());
        for (f, v) in pairs {
            t.insert(FieldValue::new(&f, &v));
        }
        Hash::Table(Box::new(t))
    }

    pub fn len(&self) -> usize {
        match self {
            Hash::Pack(lp) => lp.len() / 2,
            Hash::Table(t) => t.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        match self {
            Hash::Pack(lp) => lp.is_empty(),
            Hash::Table(t) => t.is_empty(),
        }
    }

    /// What OBJECT ENCODING prints.
    pub fn encoding(&self) -> &'static str {
        match self {
            Hash::Pack(_) => "listpack",
            Hash::Table(_) => "hashtable",
        }
    }

    /// In the listpack, the offsets of the field and of its value.
    fn find(lp: &ListPack, field: &[u8]) -> Option<(usize, usize)> {
        // Stored as the listpack would store it, the field compares by value.
        let needle = Elem::of(field);
        let mut it = lp.iter();
        while let Some((fpos, f)) = it.next() {
            let (vpos, _) = it.next()?;
            if f == needle {
                return Some((fpos, vpos));
            }
        }
        None
    }

    pub fn get(&self, field: &[u8]) -> Option<Cow<'_, [u8]>> {
        match self {
            Hash::Pack(lp) => {
                let (_, vpos) = Self::find(lp, field)?;
                lp.iter_from(vpos).next().map(|(_, v)| v.to_cow())
            }
            Hash::Table(t) => t.get(field).map(|fv| Cow::Borrowed(fv.value())),
        }
    }

    pub fn contains_key(&self, field: &[u8]) -> bool {
        match self {
            Hash::Pack(lp) => Self::find(lp, field).is_some(),
            Hash::Table(t) => t.contains(field),
        }
    }

    /// Sets a field; whether it is new. Converts to a table past the limits.
    pub fn insert(&mut self, field: &[u8], value: &[u8], limits: &Limits) -> bool {
        if let Hash::Pack(lp) = self {
            if field.len() > limits.hash_value || value.len() > limits.hash_value {
                self.convert();
            } else if let Some((_, vpos)) = Self::find(lp, field) {
                lp.replace(vpos, value);
                return false;
            } else {
                lp.push(&[field, value]);
                if lp.len() / 2 > limits.hash_entries {
                    self.convert();
                }
                return true;
            }
        }
        match self {
            Hash::Table(t) => t.insert(FieldValue::new(field, value)),
            Hash::Pack(_) => false,
        }
    }

    /// Removes a field; whether it was there.
    pub fn remove(&mut self, field: &[u8]) -> bool {
        match self {
            Hash::Pack(lp) => match Self::find(lp, field) {
                Some((fpos, _)) => {
                    lp.remove(fpos, 2);
                    true
                }
                None => false,
            },
            Hash::Table(t) => t.swap_remove(field).is_some(),
        }
    }

    /// The pair at position `i` (SCAN, random picks).
    pub fn get_index(&self, i: usize) -> Option<Pair<'_>> {
        match self {
            Hash::Pack(lp) => {
                let mut it = lp.iter().skip(2 * i);
                let (_, f) = it.next()?;
                let (_, v) = it.next()?;
                Some((f.to_cow(), v.to_cow()))
            }
            Hash::Table(t) => t.get_index(i).map(|fv| {
                let (k, v) = fv.split();
                (Cow::Borrowed(k), Cow::Borrowed(v))
            }),
        }
    }

    /// Every pair, in the encoding's order.
    pub fn iter(&self) -> Box<dyn Iterator<Item = Pair<'_>> + '_> {
        match self {
            Hash::Pack(lp) => {
                let mut it = lp.iter();
                Box::new(std::iter::from_fn(move || {
                    let (_, f) = it.next()?;
                    let (_, v) = it.next()?;
                    Some((f.to_cow(), v.to_cow()))
                }))
            }
            Hash::Table(t) => Box::new(t.iter().map(|fv| {
                let (k, v) = fv.split();
                (Cow::Borrowed(k), Cow::Borrowed(v))
            })),
        }
    }

    /// Replies field and/or value of every pair without building strings for text entries.
    pub fn reply_each(&self, r: &mut crate::resp::ReplyBuf, fields: bool, values: bool) {
        match self {
            Hash::Pack(lp) => {
                let mut it = lp.iter();
                while let (Some((_, f)), Some((_, v))) = (it.next(), it.next()) {
                    if fields {
                        f.reply(r);
                    }
                    if values {
                        v.reply(r);
                    }
                }
            }
            Hash::Table(t) => {
                for (k, v) in t.iter().map(FieldValue::split) {
                    if fields {
                        r.bulk(k);
                    }
                    if values {
                        r.bulk(v);
                    }
                }
            }
        }
    }

    /// Heap bytes held (MEMORY USAGE).
    pub fn allocated(&self) -> usize {
        match self {
            Hash::Pack(lp) => lp.allocated(),
            Hash::Table(t) => t.allocated() + t.iter().map(|fv| fv.0.allocated()).sum::<usize>(),
        }
    }

    /// Listpack to hash table, keeping the order.
    fn convert(&mut self) {
        if let Hash::Pack(lp) = self {
            let mut t = HashTable::with_capacity(lp.len() / 2 + 1);
            let mut it = lp.iter();
            while let (Some((_, f)), Some((_, v))) = (it.next(), it.next()) {
                t.push_unique(FieldValue::new(&f.to_cow(), &v.to_cow()));
            }
            *self = Hash::Table(Box::new(t));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_hashes_stay_compact_until_a_limit_is_crossed() {
        let limits = Limits { hash_entries: 3, hash_value: 8, ..Limits::default() };
        let mut h = Hash::new();
        assert!(h.insert(b"a", b"1", &limits));
        assert!(h.insert(b"b", b"two", &limits));
        assert!(!h.insert(b"a", b"100", &limits), "an update is not new");
        assert_eq!(h.get(b"a").as_deref(), Some(&b"100"[..]));
        assert_eq!(h.encoding(), "listpack");
        assert!(h.insert(b"c", b"3", &limits));
        assert_eq!(h.encoding(), "listpack");
        assert!(h.insert(b"d", b"4", &limits));
        assert_eq!(h.encoding(), "hashtable", "past hash_entries");
        let order: Vec<Vec<u8>> = h.iter().map(|(k, _)| k.into_owned()).collect();
        assert_eq!(order, [b"a".to_vec(), b"b".to_vec(), b"c".to_vec(), b"d".to_vec()]);
        assert!(h.remove(b"a") && !h.remove(b"a"));
        assert_eq!(h.encoding(), "hashtable", "never converted back");

        let mut long = Hash::new();
        long.insert(b"f", b"a value longer than eight", &limits);
        assert_eq!(long.encoding(), "hashtable");
        assert_eq!(long.get(b"f").as_deref(), Some(&b"a value longer than eight"[..]));
    }

    #[test]
    fn integer_looking_text_round_trips() {
        let limits = Limits::default();
        let mut h = Hash::new();
        for (f, v) in [(&b"1"[..], &b"-7"[..]), (b"01", b"007"), (b"x", b"9223372036854775807")] {
            h.insert(f, v, &limits);
        }
        assert_eq!(h.get(b"1").as_deref(), Some(&b"-7"[..]));
        assert_eq!(h.get(b"01").as_deref(), Some(&b"007"[..]));
        assert!(h.get(b"001").is_none());
        assert_eq!(h.get(b"x").as_deref(), Some(&b"9223372036854775807"[..]));
        assert!(h.remove(b"01"));
        assert_eq!(h.len(), 2);
    }
}
