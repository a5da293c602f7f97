//! Intset: Redis's compact set of integers, a sorted array of 16, 32 or 64
//! bit little-endian values behind an 8-byte header (encoding width, count).
//! Byte-exact with Redis's, so it is written to RDB files as it is.

/// Why an intset from outside (an RDB file, a RESTORE payload) was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Corrupt(pub &'static str);

const HEADER: usize = 8;

/// The narrowest width (bytes) that holds `v`.
fn width_for(v: i64) -> usize {
    if (i16::MIN as i64..=i16::MAX as i64).contains(&v) {
        2
    } else if (i32::MIN as i64..=i32::MAX as i64).contains(&v) {
        4
    } else {
        8
    }
}

/// An owned intset, allocated to its exact size; always sorted and distinct.
#[derive(Clone, PartialEq, Eq)]
pub struct IntSet {
    bytes: Box<[u8]>,
}

impl std::fmt::Debug for IntSet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "IntSet({} x {} bytes)", self.len(), self.width())
    }
}

impl Default for IntSet {
    fn default() -> Self {
        IntSet::from_sorted(&[])
    }
}

impl IntSet {
    /// An intset of sorted, distinct values.
    pub fn from_sorted(values: &[i64]) -> Self {
        let width = values.iter().map(|v| width_for(*v)).max().unwrap_or(2);
        let mut b = Vec::with_capacity(HEADER + values.len() * width);
        b.extend_from_slice(&(width as u32).to_le_bytes());
        b.extend_from_slice(&(values.len() as u32).to_le_bytes());
        for &v in values {
            b.extend_from_slice(&v.to_le_bytes()[..width]);
        }
        IntSet { bytes: b.into_boxed_slice() }
    }

    /// Adopts an intset from outside after checking it (Redis's own checks
    /// plus order, which lookups rely on).
    ///
    /// # Errors
    /// It is malformed, unsorted or has duplicates.
    pub fn from_bytes(bytes: Vec<u8>) -> Result<Self, Corrupt> {
        if bytes.len() < HEADER {
            return Err(Corrupt("intset too short"));
        }
        let width = u32::from_le_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]) as usize;
        let n = u32::from_le_bytes([bytes[4], bytes[5], bytes[6], bytes[7]]) as usize;
        if !matches!(width, 2 | 4 | 8) {
            return Err(Corrupt("bad intset encoding"));
        }
        if n.checked_mul(width).and_then(|b| b.checked_add(HEADER)) != Some(bytes.len()) {
            return Err(Corrupt("intset size does not match"));
        }
        let set = IntSet { bytes: super::listpack::exact(bytes) };
        if (1..n).any(|i| set.get(i - 1) >= set.get(i)) {
            return Err(Corrupt("intset not sorted or with duplicates"));
        }
        Ok(set)
    }

    /// The intset as Redis stores it.
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes
    }

    fn width(&self) -> usize {
        u32::from_le_bytes([self.bytes[0], self.bytes[1], self.bytes[2], self.bytes[3]]) as usize
    }

    pub fn len(&self) -> usize {
        u32::from_le_bytes([self.bytes[4], self.bytes[5], self.bytes[6], self.bytes[7]]) as usize
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Heap bytes held.
    pub fn allocated(&self) -> usize {
        self.bytes.len()
    }

    /// The value at position `i` (ascending order).
    pub fn get(&self, i: usize) -> i64 {
        let w = self.width();
        let c = &self.bytes[HEADER + i * w..HEADER + (i + 1) * w];
        match w {
            2 => i16::from_le_bytes([c[0], c[1]]) as i64,
            4 => i32::from_le_bytes([c[0], c[1], c[2], c[3]]) as i64,
            _ => {
                let mut a = [0u8; 8];
                a.copy_from_slice(c);
                i64::from_le_bytes(a)
            }
        }
    }

    /// Where `v` is, or where it would go.
    fn search(&self, v: i64) -> Result<usize, usize> {
        if width_for(v) > self.width() {
            return Err(if v < 0 { 0 } else { self.len() });
        }
        let (mut lo, mut hi) = (0, self.len());
        while lo < hi {
            let mid = (lo + hi) / 2;
            match self.get(mid).cmp(&v) {
                std::cmp::Ordering::Less => lo = mid + 1,
                std::cmp::Ordering::Greater => hi = mid,
                std::cmp::Ordering::Equal => return Ok(mid),
            }
        }
        Err(lo)
    }

    pub fn contains(&self, v: i64) -> bool {
        self.search(v).is_ok()
    }

    pub fn iter(&self) -> impl Iterator<Item = i64> + '_ {
        (0..self.len()).map(|i| self.get(i))
    }

    /// Adds `v`; whether it was new. Widens the encoding when `v` needs it.
    pub fn insert(&mut self, v: i64) -> bool {
        let Err(at) = self.search(v) else { return false };
        let mut values: Vec<i64> = self.iter().collect();
        values.insert(at, v);
        *self = IntSet::from_sorted(&values);
        true
    }

    /// Removes the value at position `i` and returns it.
    pub fn remove_at(&mut self, i: usize) -> i64 {
        let mut values: Vec<i64> = self.iter().collect();
        let v = values.remove(i);
        // Redis never narrows an intset's encoding: keep the width.
        let w = self.width();
        let mut b = Vec::with_capacity(HEADER + values.len() * w);
        b.extend_from_slice(&(w as u32).to_le_bytes());
        b.extend_from_slice(&(values.len() as u32).to_le_bytes());
        for x in values {
            b.extend_from_slice(&x.to_le_bytes()[..w]);
        }
        self.bytes = b.into_boxed_slice();
        v
    }

    /// Removes `v`; whether it was there.
    pub fn remove(&mut self, v: i64) -> bool {
        match self.search(v) {
            Ok(i) => {
                self.remove_at(i);
                true
            }
            Err(_) => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sorted_widening_and_redis_bytes() {
        let mut s = IntSet::default();
        assert!(s.insert(5) && s.insert(-3) && !s.insert(5));
        assert_eq!(s.as_bytes(), [2, 0, 0, 0, 2, 0, 0, 0, 0xFD, 0xFF, 5, 0]);
        assert!(s.insert(70_000), "widens to 32 bits");
        assert_eq!(s.iter().collect::<Vec<_>>(), [-3, 5, 70_000]);
        assert_eq!(s.width(), 4);
        assert!(s.insert(i64::MIN));
        assert_eq!(s.get(0), i64::MIN);
        assert!(s.contains(70_000) && !s.contains(6));
        assert!(s.remove(5) && !s.remove(5));
        assert_eq!(s.width(), 8, "never narrowed");
        assert_eq!(IntSet::from_bytes(s.as_bytes().to_vec()), Ok(s.clone()));
        assert!(IntSet::from_bytes(vec![2, 0, 0, 0, 2, 0, 0, 0, 5, 0, 5, 0]).is_err(), "duplicates");
    }
}
