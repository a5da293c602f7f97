//! A set value in one of Redis 7.0's two encodings: an intset while every
//! member is an integer and there are at most `set-max-intset-entries`, a
//! hash table otherwise. Converted when a non-integer member arrives or the
//! count is crossed, and never back (except when loaded or restored).

use super::dense::{Dense, Keyed};
use super::intset::IntSet;
use super::thin::ThinBytes;
use super::{Key, Limits};
use crate::util::num::strict_i64;
use std::borrow::Cow;

#[derive(Debug, Clone)]
pub enum Set {
    Ints(IntSet),
    Table(Box<SetTable>),
}

impl Keyed for ThinBytes {
    fn key(&self) -> &[u8] {
        self.as_bytes()
    }
}

/// The hash-table encoding.
pub type SetTable = Dense<ThinBytes>;

impl Default for Set {
    fn default() -> Self {
        Set::Ints(IntSet::default())
    }
}

fn text(v: i64) -> Vec<u8> {
    itoa::Buffer::new().format(v).as_bytes().to_vec()
}

impl Set {
    pub fn new() -> Self {
        Set::default()
    }

    /// A set of these members in the encoding Redis gives them (a
    /// SINTERSTORE result, a set loaded from a file).
    pub fn from_members<I: IntoIterator<Item = Key>>(members: I, limits: &Limits) -> Self {
        let members: Vec<Key> = members.into_iter().collect();
        if members.len() <= limits.set_intset_entries {
            let ints: Option<Vec<i64>> = members.iter().map(|m| strict_i64(m)).collect();
            if let Some(mut ints) = ints {
                ints.sort_unstable();
                ints.dedup();
                return Set::Ints(IntSet::from_sorted(&ints));
            }
        }
        let mut t = SetTable::with_capacity(members.len());
        for m in members {
            t.insert(ThinBytes::new(&m));
        }
        Set::Table(Box::new(t))
    }

    /// A set from a loaded intset, converted when it is past the limit.
    pub fn from_intset(s: IntSet, limits: &Limits) -> Self {
        if s.len() > limits.set_intset_entries {
            let mut set = Set::Ints(s);
            set.convert();
            return set;
        }
        Set::Ints(s)
    }

    pub fn len(&self) -> usize {
        match self {
            Set::Ints(s) => s.len(),
            Set::Table(t) => t.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        match self {
            Set::Ints(s) => s.is_empty(),
            Set::Table(t) => t.is_empty(),
        }
    }

    /// What OBJECT ENCODING prints.
    pub fn encoding(&self) -> &'static str {
        match self {
            Set::Ints(_) => "intset",
            Set::Table(_) => "hashtable",
        }
    }

    pub fn contains(&self, m: &[u8]) -> bool {
        match self {
            Set::Ints(s) => strict_i64(m).is_some_and(|v| s.contains(v)),
            Set::Table(t) => t.contains(m),
        }
    }

    /// Adds a member; whether it was new. Converts to a table when the member
    /// is not an integer or the intset would grow past the limit.
    pub fn insert(&mut self, m: &[u8], limits: &Limits) -> bool {
        if let Set::Ints(s) = self {
            match strict_i64(m) {
                Some(v) => {
                    if !s.insert(v) {
                        return false;
                    }
                    if s.len() > limits.set_intset_entries {
                        self.convert();
                    }
                    return true;
                }
                None => self.convert(),
            }
        }
        match self {
            Set::Table(t) => !t.contains(m) && t.insert(ThinBytes::new(m)),
            Set::Ints(_) => false,
        }
    }

    /// Removes a member; whether it was there.
    pub fn remove(&mut self, m: &[u8]) -> bool {
        match self {
            Set::Ints(s) => strict_i64(m).is_some_and(|v| s.remove(v)),
            Set::Table(t) => t.swap_remove(m).is_some(),
        }
    }

    /// The member at position `i` (random picks, SCAN).
    pub fn get_index(&self, i: usize) -> Option<Cow<'_, [u8]>> {
        match self {
            Set::Ints(s) => (i < s.len()).then(|| Cow::Owned(text(s.get(i)))),
            Set::Table(t) => t.get_index(i).map(|m| Cow::Borrowed(m.as_bytes())),
        }
    }

    /// Removes and returns the member at position `i` (SPOP).
    pub fn swap_remove_index(&mut self, i: usize) -> Option<Key> {
        match self {
            Set::Ints(s) => (i < s.len()).then(|| text(s.remove_at(i)).into_boxed_slice()),
            Set::Table(t) => t.swap_remove_index(i).map(|m| Key::from(m.as_bytes())),
        }
    }

    /// Every member, in the encoding's order (ascending for an intset).
    pub fn iter(&self) -> Box<dyn Iterator<Item = Cow<'_, [u8]>> + '_> {
        match self {
            Set::Ints(s) => Box::new(s.iter().map(|v| Cow::Owned(text(v)))),
            Set::Table(t) => Box::new(t.iter().map(|m| Cow::Borrowed(m.as_bytes()))),
        }
    }

    /// Heap bytes held (MEMORY USAGE).
    pub fn allocated(&self) -> usize {
        match self {
            Set::Ints(s) => s.allocated(),
            Set::Table(t) => t.allocated() + t.iter().map(ThinBytes::allocated).sum::<usize>(),
        }
    }

    /// Intset to hash table, in ascending order.
    fn convert(&mut self) {
        if let Set::Ints(s) = self {
            let mut t = SetTable::with_capacity(s.len() + 1);
            for v in s.iter() {
                t.push_unique(ThinBytes::new(&text(v)));
            }
            *self = Set::Table(Box::new(t));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integers_stay_an_intset_until_text_or_the_limit() {
        let limits = Limits { set_intset_entries: 3, ..Limits::default() };
        let mut s = Set::new();
        assert!(s.insert(b"10", &limits) && s.insert(b"-2", &limits) && !s.insert(b"10", &limits));
        assert!(s.insert(b"010", &limits), "010 is text, not 10");
        assert_eq!(s.encoding(), "hashtable");
        let mut t = Set::new();
        for m in [&b"3"[..], b"1", b"2"] {
            t.insert(m, &limits);
        }
        assert_eq!(t.encoding(), "intset");
        assert_eq!(t.iter().map(|m| m.into_owned()).collect::<Vec<_>>(), [b"1".to_vec(), b"2".to_vec(), b"3".to_vec()]);
        t.insert(b"4", &limits);
        assert_eq!(t.encoding(), "hashtable");
        assert!(t.remove(b"4") && t.contains(b"1"));
        assert_eq!(t.encoding(), "hashtable", "never back");
        let mixed = Set::from_members([Key::from(&b"1"[..]), Key::from(&b"a"[..])], &limits);
        assert_eq!(mixed.encoding(), "hashtable");
        assert_eq!(Set::from_members([Key::from(&b"7"[..]), Key::from(&b"7"[..])], &limits).len(), 1);
    }
}
