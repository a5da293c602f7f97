//! Table growth under `maxmemory`. A table that doubles when full can push
//! a data set that sits just under the limit far over it (the keyspace
//! vector of 48-byte slots grows by 48 KB at 1,024 keys, by 196 KB at
//! 4,096), and eviction then throws out many keys to pay for empty room.
//! Redis refuses such dict expansions while its load factor allows; our
//! open tables cannot overfill, so they grow by what fits under the limit
//! instead of doubling, and double again once there is room.

use std::cell::Cell;

thread_local! {
    /// The limit for this thread's node (each node owns its thread): its
    /// `maxmemory` plus what eviction does not count; 0 when unlimited.
    static LIMIT: Cell<u64> = const { Cell::new(0) };
}

/// Sets the limit the node's tables grow under (0: none).
pub fn set_limit(limit: u64) {
    LIMIT.with(|l| l.set(limit));
}

/// Elements to add to a full table of `cap` elements of `elem` bytes:
/// `cap` (doubling) when that fits under the limit, else half of what fits
/// (the rest is for the data itself), but never under a 256th of the table
/// (and 16): a full table with no room left (nothing evictable) still
/// grows in steps proportional to its size, so inserts stay amortised
/// constant time.
pub fn step(cap: usize, elem: usize) -> usize {
    let limit = LIMIT.with(Cell::get);
    if limit == 0 || cap < 64 {
        return cap.max(4);
    }
    let Some(used) = crate::util::alloc::used() else { return cap };
    let room = limit.saturating_sub(used) as usize;
    if cap.saturating_mul(elem) <= room {
        cap
    } else {
        (room / 2 / elem.max(1)).clamp((cap / 256).max(16), cap)
    }
}

/// Makes room for one more element in `v`, by [`step`].
pub fn reserve_one<T>(v: &mut Vec<T>) {
    if v.len() == v.capacity() {
        v.reserve_exact(step(v.capacity(), std::mem::size_of::<T>()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unlimited_or_small_tables_double() {
        set_limit(0);
        assert_eq!(step(1024, 48), 1024);
        set_limit(1);
        assert_eq!(step(32, 48), 32);
        set_limit(0);
    }
}
