//! `Dense`: the big hash and set encodings' table. Elements sit in a dense
//! vector (positions for SCAN cursors and uniform random picks, as IndexMap
//! gives) and a hashbrown table maps each key's hash to its position. Unlike
//! IndexMap it keeps no hash per element, does not size the vector to the
//! index's capacity and stores positions as u32, so an element costs its
//! handle plus about two 5-byte index slots: less than Redis's dictEntry
//! and bucket. (2^32 elements in one table would take over 100 GB.)

use hashbrown::HashTable;
use std::sync::OnceLock;

/// An element that carries its own lookup key.
pub trait Keyed {
    fn key(&self) -> &[u8];
}

/// One hasher state per process, randomly seeded (hash flooding needs the seed).
fn state() -> &'static ahash::RandomState {
    static STATE: OnceLock<ahash::RandomState> = OnceLock::new();
    STATE.get_or_init(ahash::RandomState::new)
}

/// A position as the index stores it.
fn pos32(i: usize) -> u32 {
    u32::try_from(i).unwrap_or_else(|_| panic!("more than 2^32 elements in one table"))
}

/// The hash every big encoding's table uses for a key.
pub fn hash_key(k: &[u8]) -> u64 {
    state().hash_one(k)
}

#[derive(Debug, Clone)]
pub struct Dense<T> {
    items: Vec<T>,
    index: HashTable<u32>,
}

impl<T> Default for Dense<T> {
    fn default() -> Self {
        Dense { items: Vec::new(), index: HashTable::new() }
    }
}

impl<T: Keyed> Dense<T> {
    pub fn with_capacity(n: usize) -> Self {
        Dense { items: Vec::with_capacity(n), index: HashTable::with_capacity(n) }
    }

    pub fn len(&self) -> usize {
        self.items.len()
    }

    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// The position of `key`.
    pub fn position(&self, key: &[u8]) -> Option<usize> {
        let items = &self.items;
        self.index.find(hash_key(key), |&i| items[i as usize].key() == key).map(|&i| i as usize)
    }

    pub fn get(&self, key: &[u8]) -> Option<&T> {
        self.position(key).map(|i| &self.items[i])
    }

    pub fn contains(&self, key: &[u8]) -> bool {
        self.position(key).is_some()
    }

    /// For changing anything but the key.
    pub fn get_mut(&mut self, key: &[u8]) -> Option<&mut T> {
        self.position(key).map(|i| &mut self.items[i])
    }

    /// The element at `i` (SCAN positions, random picks).
    pub fn get_index(&self, i: usize) -> Option<&T> {
        self.items.get(i)
    }

    /// For changing anything but the key.
    pub fn get_index_mut(&mut self, i: usize) -> Option<&mut T> {
        self.items.get_mut(i)
    }

    /// Adds `item`, or replaces the element with its key in place; returns
    /// whether it was new.
    pub fn insert(&mut self, item: T) -> bool {
        let h = hash_key(item.key());
        let Dense { items, index } = self;
        if let Some(&i) = index.find(h, |&i| items[i as usize].key() == item.key()) {
            items[i as usize] = item;
            return false;
        }
        let at = pos32(items.len());
        super::growth::reserve_one(items);
        items.push(item);
        index.insert_unique(h, at, |&i| hash_key(items[i as usize].key()));
        true
    }

    /// Adds an element known not to be present (a load, a conversion);
    /// returns its position.
    pub fn push_unique(&mut self, item: T) -> usize {
        let h = hash_key(item.key());
        let Dense { items, index } = self;
        let at = items.len();
        super::growth::reserve_one(items);
        items.push(item);
        index.insert_unique(h, pos32(at), |&i| hash_key(items[i as usize].key()));
        at
    }

    /// Removes `key`'s element; the last element takes its position.
    pub fn swap_remove(&mut self, key: &[u8]) -> Option<T> {
        let i = self.position(key)?;
        self.swap_remove_index(i)
    }

    /// Removes the element at `i`; the last element takes its position.
    pub fn swap_remove_index(&mut self, i: usize) -> Option<T> {
        let Dense { items, index } = self;
        let h = hash_key(items.get(i)?.key());
        if let Ok(e) = index.find_entry(h, |&j| j as usize == i) {
            e.remove();
        }
        let last = items.len() - 1;
        if i != last {
            let moved = hash_key(items[last].key());
            if let Some(slot) = index.find_mut(moved, |&j| j as usize == last) {
                *slot = pos32(i);
            }
        }
        let out = items.swap_remove(i);
        self.shrink_if_sparse();
        Some(out)
    }

    /// Gives memory back once most of it is unused (Redis shrinks a dict
    /// below 10 % use); a factor of 8 keeps the resizes amortised.
    fn shrink_if_sparse(&mut self) {
        let len = self.items.len();
        if self.items.capacity() > 64 && len * 8 < self.items.capacity() {
            self.items.shrink_to(len * 2);
            let items = &self.items;
            self.index.shrink_to(len * 2, |&i| hash_key(items[i as usize].key()));
        }
    }

    pub fn iter(&self) -> std::slice::Iter<'_, T> {
        self.items.iter()
    }

    /// Heap bytes of the vector and the index, not counting what elements own.
    pub fn allocated(&self) -> usize {
        self.items.capacity() * std::mem::size_of::<T>() + self.index.allocation_size()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    #[derive(Debug, Clone, PartialEq)]
    struct Kv(Vec<u8>, u32);
    impl Keyed for Kv {
        fn key(&self) -> &[u8] {
            &self.0
        }
    }

    #[test]
    fn matches_a_map_through_random_inserts_and_removes() {
        use rand::{Rng, SeedableRng};
        let mut rng = rand::rngs::StdRng::seed_from_u64(7);
        let mut d: Dense<Kv> = Dense::default();
        let mut model = BTreeMap::new();
        for step in 0..20_000u32 {
            let k = format!("k{}", rng.gen_range(0..500)).into_bytes();
            match rng.gen_range(0..4) {
                0 | 1 => assert_eq!(d.insert(Kv(k.clone(), step)), model.insert(k, step).is_none()),
                2 => assert_eq!(d.swap_remove(&k).map(|kv| kv.1), model.remove(&k)),
                _ => {
                    if !d.is_empty() {
                        let i = rng.gen_range(0..d.len());
                        let kv = d.swap_remove_index(i).expect("in range");
                        assert_eq!(model.remove(&kv.0), Some(kv.1));
                    }
                }
            }
            assert_eq!(d.len(), model.len());
            if step % 997 == 0 {
                for (i, kv) in d.iter().enumerate() {
                    assert_eq!(d.position(&kv.0), Some(i));
                    assert_eq!(model.get(&kv.0), Some(&kv.1));
                }
            }
        }
        // Emptied, it gives its memory back.
        let keys: Vec<Vec<u8>> = d.iter().map(|kv| kv.0.clone()).collect();
        let mut big: Dense<Kv> = Dense::default();
        for i in 0..10_000u32 {
            big.push_unique(Kv(i.to_be_bytes().to_vec(), i));
        }
        let full = big.allocated();
        for i in 0..9_990u32 {
            assert!(big.swap_remove(&i.to_be_bytes()).is_some());
        }
        assert!(big.allocated() * 50 < full, "{} of {full}", big.allocated());
        assert!((9_990u32..10_000).all(|i| big.get(&i.to_be_bytes()).map(|kv| kv.1) == Some(i)));
        assert!(keys.iter().all(|k| d.contains(k)));
    }
}
