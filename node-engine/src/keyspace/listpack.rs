//! Listpack: Redis 7.0's compact sequence of strings and integers, the
//! in-memory form of small hashes (and the form RDB files embed). Byte-exact
//! with Redis's, so a small hash is written to an RDB file as it is.
//!
//! Layout: 4 bytes total size, 2 bytes element count (65535 = unknown),
//! entries, then 0xFF. Each entry is an encoding byte (7-bit uint, 6/12/32-bit
//! string length, 13/16/24/32/64-bit int), its data, and its own length
//! written backwards ("backlen") so the list can be walked from the end.

use crate::util::num::strict_i64;

/// One element: a string, or an integer stored as one (a canonical decimal
/// string like "42" is stored as an integer, as `lpAppend` does).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Elem<'a> {
    Bytes(&'a [u8]),
    Int(i64),
}

impl<'a> Elem<'a> {
    /// How `s` is stored.
    pub fn of(s: &'a [u8]) -> Elem<'a> {
        match strict_i64(s) {
            Some(v) => Elem::Int(v),
            None => Elem::Bytes(s),
        }
    }

    /// Orders the element against `s` by the text Redis returns for it.
    pub fn cmp_text(self, s: &[u8]) -> std::cmp::Ordering {
        match self {
            Elem::Bytes(b) => b.cmp(s),
            Elem::Int(i) => itoa::Buffer::new().format(i).as_bytes().cmp(s),
        }
    }

    /// The element as the string Redis returns for it.
    pub fn to_key(self) -> Box<[u8]> {
        match self {
            Elem::Bytes(b) => b.into(),
            Elem::Int(i) => itoa::Buffer::new().format(i).as_bytes().into(),
        }
    }

    /// The element as text, borrowing when it is stored as text.
    pub fn to_cow(self) -> std::borrow::Cow<'a, [u8]> {
        match self {
            Elem::Bytes(b) => std::borrow::Cow::Borrowed(b),
            Elem::Int(i) => std::borrow::Cow::Owned(itoa::Buffer::new().format(i).as_bytes().to_vec()),
        }
    }

    /// Writes the element as a bulk string reply.
    pub fn reply(self, r: &mut crate::resp::ReplyBuf) {
        match self {
            Elem::Bytes(b) => r.bulk(b),
            Elem::Int(i) => r.bulk(itoa::Buffer::new().format(i).as_bytes()),
        }
    }

    pub fn to_f64(self) -> Option<f64> {
        match self {
            Elem::Int(i) => Some(i as f64),
            Elem::Bytes(b) => crate::util::num::parse_float_opt(b),
        }
    }
}

/// Why a listpack from outside (an RDB file, a RESTORE payload) was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Corrupt(pub &'static str);

/// Bytes before the first entry: total size (4) and element count (2).
pub const HEADER: usize = 6;
/// The terminator byte.
pub const EOF: u8 = 0xFF;

/// Appends the entry for `s` (an integer when it is one, as `lpAppend` does), backlen included.
pub fn append_entry(buf: &mut Vec<u8>, s: &[u8]) {
    let start = buf.len();
    encode_entry(buf, Elem::of(s));
    let n = buf.len() - start;
    encode_backlen(buf, n);
}

/// Appends `v` as an integer entry, backlen included (`lpAppendInteger`).
pub fn append_int(buf: &mut Vec<u8>, v: i64) {
    let start = buf.len();
    encode_int(buf, v);
    let n = buf.len() - start;
    encode_backlen(buf, n);
}

/// Appends the encoding of `e` (without its backlen).
fn encode_entry(buf: &mut Vec<u8>, e: Elem<'_>) {
    match e {
        Elem::Int(v) => encode_int(buf, v),
        Elem::Bytes(s) => {
            let n = s.len();
            if n < 64 {
                buf.push(0x80 | n as u8);
            } else if n < 4096 {
                buf.push(0xE0 | (n >> 8) as u8);
                buf.push((n & 0xff) as u8);
            } else {
                buf.push(0xF0);
                buf.extend_from_slice(&(n as u32).to_le_bytes());
            }
            buf.extend_from_slice(s);
        }
    }
}

fn encode_int(buf: &mut Vec<u8>, v: i64) {
    if (0..=127).contains(&v) {
        buf.push(v as u8);
    } else if (-4096..=4095).contains(&v) {
        let u = (v as u64) & 0x1fff;
        buf.push(0xC0 | (u >> 8) as u8);
        buf.push((u & 0xff) as u8);
    } else if (-32768..=32767).contains(&v) {
        buf.push(0xF1);
        buf.extend_from_slice(&(v as i16).to_le_bytes());
    } else if (-8_388_608..=8_388_607).contains(&v) {
        buf.push(0xF2);
        buf.extend_from_slice(&(v as i32).to_le_bytes()[..3]);
    } else if (i32::MIN as i64..=i32::MAX as i64).contains(&v) {
        buf.push(0xF3);
        buf.extend_from_slice(&(v as i32).to_le_bytes());
    } else {
        buf.push(0xF4);
        buf.extend_from_slice(&v.to_le_bytes());
    }
}

/// The entry length written after each entry, readable from its end.
fn encode_backlen(buf: &mut Vec<u8>, l: usize) {
    let n = backlen_size(l);
    for i in (0..n).rev() {
        let group = ((l >> (7 * i)) & 127) as u8;
        // The byte read first from the end (the lowest group) has no high bit on the first byte written.
        buf.push(if i == n - 1 { group } else { group | 128 });
    }
}

/// Reads the back-length ending at `last` (as Redis walks backwards):
/// the size of the entry it closes, back-length included.
fn read_backlen(lp: &[u8], last: usize) -> Option<usize> {
    let mut v = 0usize;
    for i in 0..5 {
        let b = *lp.get(last.checked_sub(i)?)?;
        v |= ((b & 127) as usize) << (7 * i);
        if b & 128 == 0 {
            return Some(v + i + 1);
        }
    }
    None
}

fn backlen_size(l: usize) -> usize {
    match l {
        0..=127 => 1,
        128..=16382 => 2,
        16383..=2_097_150 => 3,
        2_097_151..=268_435_454 => 4,
        _ => 5,
    }
}

fn take(lp: &[u8], pos: usize, n: usize) -> Result<&[u8], Corrupt> {
    lp.get(pos..pos.checked_add(n).ok_or(Corrupt("listpack entry too long"))?).ok_or(Corrupt("listpack entry runs past its end"))
}

fn sign_extend(v: u64, bits: u32) -> i64 {
    let shift = 64 - bits;
    ((v << shift) as i64) >> shift
}

/// Decodes the entry at `pos` (not the terminator): the element and where the next entry starts.
///
/// # Errors
/// The entry is malformed or runs past the end of `lp`.
pub fn decode_entry(lp: &[u8], pos: usize) -> Result<(Elem<'_>, usize), Corrupt> {
    let b = *lp.get(pos).ok_or(Corrupt("listpack without terminator"))?;
    let start = pos;
    let (elem, end) = if b & 0x80 == 0 {
        (Elem::Int((b & 0x7f) as i64), pos + 1)
    } else if b & 0xC0 == 0x80 {
        let n = (b & 0x3f) as usize;
        (Elem::Bytes(take(lp, pos + 1, n)?), pos + 1 + n)
    } else if b & 0xE0 == 0xC0 {
        let lo = take(lp, pos + 1, 1)?[0];
        (Elem::Int(sign_extend((((b & 0x1f) as u64) << 8) | lo as u64, 13)), pos + 2)
    } else if b & 0xF0 == 0xE0 {
        let lo = take(lp, pos + 1, 1)?[0];
        let n = (((b & 0x0f) as usize) << 8) | lo as usize;
        (Elem::Bytes(take(lp, pos + 2, n)?), pos + 2 + n)
    } else {
        match b {
            0xF0 => {
                let h = take(lp, pos + 1, 4)?;
                let n = u32::from_le_bytes([h[0], h[1], h[2], h[3]]) as usize;
                (Elem::Bytes(take(lp, pos + 5, n)?), pos + 5 + n)
            }
            0xF1 => {
                let h = take(lp, pos + 1, 2)?;
                (Elem::Int(i16::from_le_bytes([h[0], h[1]]) as i64), pos + 3)
            }
            0xF2 => {
                let h = take(lp, pos + 1, 3)?;
                (Elem::Int(sign_extend(u32::from_le_bytes([h[0], h[1], h[2], 0]) as u64, 24)), pos + 4)
            }
            0xF3 => {
                let h = take(lp, pos + 1, 4)?;
                (Elem::Int(i32::from_le_bytes([h[0], h[1], h[2], h[3]]) as i64), pos + 5)
            }
            0xF4 => {
                let h = take(lp, pos + 1, 8)?;
                let mut a = [0u8; 8];
                a.copy_from_slice(h);
                (Elem::Int(i64::from_le_bytes(a)), pos + 9)
            }
            _ => return Err(Corrupt("bad listpack entry encoding")),
        }
    };
    let bl = backlen_size(end - start);
    take(lp, end, bl)?;
    Ok((elem, end + bl))
}

/// Checks a listpack from outside and counts its elements.
///
/// # Errors
/// Its header, an entry or its terminator is malformed.
pub fn validate(lp: &[u8]) -> Result<usize, Corrupt> {
    if lp.len() < HEADER + 1 {
        return Err(Corrupt("listpack too short"));
    }
    let total = u32::from_le_bytes([lp[0], lp[1], lp[2], lp[3]]) as usize;
    if total != lp.len() {
        return Err(Corrupt("listpack size header does not match"));
    }
    let announced = u16::from_le_bytes([lp[4], lp[5]]) as usize;
    let mut pos = HEADER;
    let mut count = 0;
    loop {
        match lp.get(pos) {
            None => return Err(Corrupt("listpack without terminator")),
            Some(&EOF) => {
                if pos + 1 != lp.len() {
                    return Err(Corrupt("data after listpack terminator"));
                }
                break;
            }
            Some(_) => {
                let next = decode_entry(lp, pos)?.1;
                // The back-length must give this entry's size, or walking
                // the listpack backwards (LRANGE -1, LPOP) would go astray.
                if read_backlen(lp, next - 1) != Some(next - pos) {
                    return Err(Corrupt("listpack entry with a wrong back-length"));
                }
                pos = next;
                count += 1;
            }
        }
    }
    if announced != 65535 && announced != count {
        return Err(Corrupt("listpack element count does not match"));
    }
    Ok(count)
}

/// `v` as a boxed slice without much slack: a small surplus is given back
/// by a shrinking realloc, a large one by a fresh block of the exact size (a
/// shrinking realloc may keep the old, bigger block).
pub fn exact(v: Vec<u8>) -> Box<[u8]> {
    if v.capacity() - v.len() > v.len() / 4 {
        v.as_slice().into()
    } else {
        v.into_boxed_slice()
    }
}

/// An owned listpack, allocated to its exact size (16 bytes inline, like
/// Redis's realloc-per-edit). Every operation keeps it valid, so reading it
/// needs no checks.
#[derive(Clone, PartialEq, Eq)]
pub struct ListPack {
    bytes: Box<[u8]>,
}

impl std::fmt::Debug for ListPack {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ListPack({} elements, {} bytes)", self.len(), self.bytes.len())
    }
}

impl Default for ListPack {
    fn default() -> Self {
        ListPack::new()
    }
}

impl ListPack {
    pub fn new() -> Self {
        let mut bytes = vec![0; HEADER];
        bytes.push(EOF);
        Self::with(bytes, 0)
    }

    /// Wraps edited bytes, writing the header for `count` elements.
    fn with(mut bytes: Vec<u8>, count: usize) -> Self {
        let total = bytes.len() as u32;
        bytes[0..4].copy_from_slice(&total.to_le_bytes());
        let n = count.min(65535) as u16;
        bytes[4..6].copy_from_slice(&n.to_le_bytes());
        ListPack { bytes: exact(bytes) }
    }

    /// Adopts a listpack from outside after checking it.
    ///
    /// # Errors
    /// It is malformed.
    pub fn from_bytes(bytes: Vec<u8>) -> Result<Self, Corrupt> {
        let count = validate(&bytes)?;
        Ok(Self::with(bytes, count))
    }

    /// The listpack as Redis stores it.
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// Elements: the header's count, or a walk when it saturated at 65535.
    pub fn len(&self) -> usize {
        match u16::from_le_bytes([self.bytes[4], self.bytes[5]]) {
            65535 => self.iter().count(),
            n => n as usize,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.bytes[HEADER] == EOF
    }

    /// Heap bytes held.
    pub fn allocated(&self) -> usize {
        self.bytes.len()
    }

    /// Replaces `range` of the bytes with `with`, `delta` elements more or fewer.
    fn edit(&mut self, range: std::ops::Range<usize>, with: &[u8], delta: isize) {
        let count = self.len().saturating_add_signed(delta);
        let mut v = std::mem::take(&mut self.bytes).into_vec();
        // Grow by exactly what is needed (a Vec would double, and the block
        // would stay twice the size): the allocator can often extend in place.
        v.reserve_exact(with.len().saturating_sub(range.len()));
        v.splice(range, with.iter().copied());
        *self = Self::with(v, count);
    }

    /// Elements in order, with the offset of each.
    pub fn iter(&self) -> Iter<'_> {
        self.iter_from(HEADER)
    }

    /// Elements from the one at offset `pos` on.
    pub fn iter_from(&self, pos: usize) -> Iter<'_> {
        Iter { lp: &self.bytes, pos }
    }

    /// The encoded entry for `s`, backlen included.
    fn entry(s: &[u8]) -> Vec<u8> {
        let mut e = Vec::with_capacity(s.len() + 3);
        append_entry(&mut e, s);
        e
    }

    /// Inserts elements before the element at offset `at` (None: at the end).
    pub fn insert(&mut self, at: Option<usize>, items: &[&[u8]]) {
        let at = at.unwrap_or(self.bytes.len() - 1);
        let mut add = Vec::new();
        for s in items {
            append_entry(&mut add, s);
        }
        self.edit(at..at, &add, items.len() as isize);
    }

    /// Bytes of the whole listpack (quicklist node sizing).
    pub fn size(&self) -> usize {
        self.bytes.len()
    }

    /// Offset of the first element, if any.
    pub fn first_offset(&self) -> Option<usize> {
        (!self.is_empty()).then_some(HEADER)
    }

    /// Offset of the last element, found from the end through its backlen.
    pub fn last_offset(&self) -> Option<usize> {
        if self.is_empty() {
            return None;
        }
        let end = self.bytes.len() - 1;
        let (mut p, mut v, mut shift) = (end, 0usize, 0);
        loop {
            p = p.checked_sub(1)?;
            let b = self.bytes[p];
            v |= ((b & 127) as usize) << shift;
            shift += 7;
            if b & 128 == 0 {
                break;
            }
        }
        end.checked_sub(backlen_size(v) + v)
    }

    /// Appends elements at the end.
    pub fn push(&mut self, items: &[&[u8]]) {
        let end = self.bytes.len() - 1;
        let mut add = Vec::new();
        for s in items {
            append_entry(&mut add, s);
        }
        self.edit(end..end, &add, items.len() as isize);
    }

    /// Replaces the element at offset `pos` (from [`ListPack::iter`]).
    pub fn replace(&mut self, pos: usize, s: &[u8]) {
        let next = self.next_offset(pos);
        self.edit(pos..next, &Self::entry(s), 0);
    }

    /// Removes `n` elements starting at offset `pos`.
    pub fn remove(&mut self, pos: usize, n: usize) {
        let mut end = pos;
        for _ in 0..n {
            end = self.next_offset(end);
        }
        self.edit(pos..end, &[], -(n as isize));
    }

    fn next_offset(&self, pos: usize) -> usize {
        // The listpack is valid by construction; a failure here would be our bug.
        decode_entry(&self.bytes, pos).map_or(self.bytes.len() - 1, |(_, next)| next)
    }
}

/// Elements of a [`ListPack`], each with its offset.
pub struct Iter<'a> {
    lp: &'a [u8],
    pos: usize,
}

impl<'a> Iterator for Iter<'a> {
    type Item = (usize, Elem<'a>);
    fn next(&mut self) -> Option<Self::Item> {
        if self.lp.get(self.pos).is_none_or(|b| *b == EOF) {
            return None;
        }
        let at = self.pos;
        let (e, next) = decode_entry(self.lp, at).ok()?;
        self.pos = next;
        Some((at, e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn edits_keep_a_valid_listpack_with_redis_encodings() {
        let mut lp = ListPack::new();
        let long = vec![b'x'; 300];
        lp.push(&[b"f1", b"42", b"-5000", b"", &long, b"9223372036854775807", b"007"]);
        assert_eq!(validate(lp.as_bytes()), Ok(7));
        let got: Vec<Elem<'_>> = lp.iter().map(|(_, e)| e).collect();
        assert_eq!(
            got,
            [
                Elem::Bytes(b"f1"),
                Elem::Int(42),
                Elem::Int(-5000),
                Elem::Bytes(b""),
                Elem::Bytes(&long),
                Elem::Int(i64::MAX),
                Elem::Bytes(b"007")
            ]
        );
        let pos = lp.iter().nth(1).map(|(p, _)| p).expect("second");
        lp.replace(pos, b"a much longer value than before");
        lp.remove(HEADER, 1);
        assert_eq!(validate(lp.as_bytes()), Ok(6));
        assert_eq!(lp.iter().next().map(|(_, e)| e), Some(Elem::Bytes(b"a much longer value than before")));
        // A 13-bit int, a 6-bit string: the exact bytes Redis writes.
        let mut small = ListPack::new();
        small.push(&[b"-1", b"ab"]);
        assert_eq!(small.as_bytes(), [14, 0, 0, 0, 2, 0, 0xDF, 0xFF, 2, 0x82, b'a', b'b', 3, 0xFF]);
    }

    #[test]
    fn backlen_of_long_entries_reads_back() {
        for n in [0usize, 127, 128, 16382, 16383, 2_097_150, 2_097_151] {
            let mut b = Vec::new();
            encode_backlen(&mut b, n);
            assert_eq!(b.len(), backlen_size(n), "{n}");
            // Read from the end as Redis does: 7 bits per byte, the last byte read has no high bit.
            let mut v = 0usize;
            for (i, byte) in b.iter().rev().enumerate() {
                v |= ((byte & 127) as usize) << (7 * i);
            }
            assert_eq!(v, n);
        }
    }
}
