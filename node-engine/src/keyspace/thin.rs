//! `ThinBytes`: an owned byte string behind one 8-byte pointer, its length a
//! varint in front of the bytes in the same allocation. The big hash, set and
//! sorted-set encodings hold one per element: half the size of a `Box<[u8]>`
//! in their tables, and one allocation where Redis has a dictEntry plus an sds.

use std::alloc::{alloc, dealloc, handle_alloc_error, Layout};
use std::fmt;
use std::ptr::NonNull;

/// Bytes a varint of `n` takes (7 bits per byte).
pub fn varint_len(mut n: usize) -> usize {
    let mut len = 1;
    while n >= 0x80 {
        n >>= 7;
        len += 1;
    }
    len
}

/// Writes `n` as a varint at the start of `out`; returns the bytes written.
pub fn write_varint(out: &mut [u8], mut n: usize) -> usize {
    let mut i = 0;
    while n >= 0x80 {
        out[i] = (n as u8 & 0x7f) | 0x80;
        n >>= 7;
        i += 1;
    }
    out[i] = n as u8;
    i + 1
}

/// Reads a varint from the start of `b`: (value, bytes read). `b` is always
/// one we wrote, so a truncated varint cannot occur.
#[inline]
pub fn read_varint(b: &[u8]) -> (usize, usize) {
    // Lengths below 128 (nearly all fields and members) are one byte.
    if let Some(&first) = b.first() {
        if first < 0x80 {
            return (first as usize, 1);
        }
    }
    let mut n = 0usize;
    for (i, &byte) in b.iter().enumerate() {
        n |= ((byte & 0x7f) as usize) << (7 * i);
        if byte & 0x80 == 0 {
            return (n, i + 1);
        }
    }
    (n, b.len())
}

/// Owned bytes behind a thin pointer: `[varint len][bytes]`.
pub struct ThinBytes(NonNull<u8>);

// SAFETY: ThinBytes owns its allocation exclusively, like Box<[u8]>.
unsafe impl Send for ThinBytes {}
// SAFETY: no interior mutability; shared access only reads.
unsafe impl Sync for ThinBytes {}

impl ThinBytes {
    /// The concatenation of `parts` as one thin string.
    pub fn from_parts(parts: &[&[u8]]) -> Self {
        let len: usize = parts.iter().map(|p| p.len()).sum();
        Self::filled(len, |buf| {
            let mut at = 0;
            for p in parts {
                buf[at..at + p.len()].copy_from_slice(p);
                at += p.len();
            }
        })
    }

    /// A thin string of `len` bytes written by `fill` (given exactly `len` bytes).
    #[inline]
    pub fn filled(len: usize, fill: impl FnOnce(&mut [u8])) -> Self {
        let hdr = varint_len(len);
        let layout = Self::layout(hdr + len);
        // SAFETY: the layout has a non-zero size (the header is at least one byte).
        let raw = unsafe { alloc(layout) };
        let Some(ptr) = NonNull::new(raw) else { handle_alloc_error(layout) };
        // SAFETY: the allocation is hdr + len bytes; zeroing them first means
        // `fill` never sees uninitialised memory.
        let buf = unsafe {
            std::ptr::write_bytes(ptr.as_ptr(), 0, hdr + len);
            std::slice::from_raw_parts_mut(ptr.as_ptr(), hdr + len)
        };
        write_varint(buf, len);
        fill(&mut buf[hdr..]);
        ThinBytes(ptr)
    }

    #[inline]
    pub fn new(b: &[u8]) -> Self {
        Self::filled(b.len(), |buf| buf.copy_from_slice(b))
    }

    fn layout(size: usize) -> Layout {
        // Only sizes of byte strings that already exist in memory reach here,
        // so this cannot exceed isize::MAX.
        Layout::array::<u8>(size).unwrap_or_else(|_| panic!("thin string of {size} bytes"))
    }

    /// (length, header bytes).
    #[inline]
    fn header(&self) -> (usize, usize) {
        // SAFETY: the allocation starts with the varint (at least one byte).
        let first = unsafe { *self.0.as_ptr() };
        if first < 0x80 {
            return (first as usize, 1);
        }
        // SAFETY: a varint is at most 10 bytes and ends at its first byte
        // without the high bit; we read byte by byte up to that one.
        let mut n = 0usize;
        let mut i = 0;
        loop {
            let byte = unsafe { *self.0.as_ptr().add(i) };
            n |= ((byte & 0x7f) as usize) << (7 * i);
            i += 1;
            if byte & 0x80 == 0 {
                return (n, i);
            }
        }
    }

    #[inline]
    pub fn as_bytes(&self) -> &[u8] {
        let (len, hdr) = self.header();
        // SAFETY: the allocation holds hdr + len initialised bytes.
        unsafe { std::slice::from_raw_parts(self.0.as_ptr().add(hdr), len) }
    }

    pub fn as_bytes_mut(&mut self) -> &mut [u8] {
        let (len, hdr) = self.header();
        // SAFETY: as above, and `&mut self` makes the access exclusive.
        unsafe { std::slice::from_raw_parts_mut(self.0.as_ptr().add(hdr), len) }
    }

    /// A non-owning handle to the same bytes (see `ThinRef`).
    pub fn alias(&self) -> ThinRef {
        ThinRef(self.0)
    }

    /// Heap bytes this string holds (MEMORY USAGE).
    pub fn allocated(&self) -> usize {
        let (len, hdr) = self.header();
        len + hdr
    }
}

impl Drop for ThinBytes {
    fn drop(&mut self) {
        let (len, hdr) = self.header();
        // SAFETY: allocated in from_parts with exactly this layout.
        unsafe { dealloc(self.0.as_ptr(), Self::layout(hdr + len)) };
    }
}

impl Clone for ThinBytes {
    fn clone(&self) -> Self {
        Self::new(self.as_bytes())
    }
}

impl fmt::Debug for ThinBytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", String::from_utf8_lossy(self.as_bytes()))
    }
}

/// A copy of a `ThinBytes`'s pointer that does not own it. The sorted set's
/// order index refers to the members its map owns this way, so each member
/// is stored once. Whoever holds one must guarantee the owner outlives it.
#[derive(Clone, Copy)]
pub struct ThinRef(NonNull<u8>);

// SAFETY: a ThinRef is only read through its owner's guarantees (see `get`).
unsafe impl Send for ThinRef {}
// SAFETY: as above.
unsafe impl Sync for ThinRef {}

impl ThinRef {
    /// The bytes.
    ///
    /// # Safety
    /// The `ThinBytes` this was taken from must still be alive, and not be
    /// mutated for `'a`.
    pub unsafe fn get<'a>(self) -> &'a [u8] {
        let owner = std::mem::ManuallyDrop::new(ThinBytes(self.0));
        let b = owner.as_bytes();
        // SAFETY: the caller guarantees the allocation lives for 'a.
        unsafe { std::slice::from_raw_parts(b.as_ptr(), b.len()) }
    }

    /// Whether this refers to `owner`'s bytes.
    pub fn is(self, owner: &ThinBytes) -> bool {
        self.0 == owner.0
    }
}

impl fmt::Debug for ThinRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ThinRef({:p})", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lengths_round_trip_across_varint_sizes() {
        for len in [0usize, 1, 7, 127, 128, 300, 16_383, 16_384, 70_000] {
            let data: Vec<u8> = (0..len).map(|i| i as u8).collect();
            let mut t = ThinBytes::new(&data);
            assert_eq!(t.as_bytes(), &data[..]);
            assert_eq!(t.allocated(), len + varint_len(len));
            if len > 0 {
                t.as_bytes_mut()[0] = 0xff;
                assert_eq!(t.as_bytes()[0], 0xff);
            }
            let c = t.clone();
            assert_eq!(c.as_bytes(), t.as_bytes());
            // SAFETY: `t` is alive and unchanged while the slice is used.
            assert_eq!(unsafe { t.alias().get() }, t.as_bytes());
            assert!(t.alias().is(&t) && !t.alias().is(&c));
        }
        let joined = ThinBytes::from_parts(&[b"ab", b"", b"cde"]);
        assert_eq!(joined.as_bytes(), b"abcde");
        let mut buf = [0u8; 10];
        for n in [0usize, 127, 128, 1 << 20, usize::MAX] {
            let w = write_varint(&mut buf, n);
            assert_eq!((w, read_varint(&buf[..w])), (varint_len(n), (n, w)));
        }
    }
}
