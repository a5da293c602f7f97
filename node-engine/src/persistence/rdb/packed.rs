//! The compact blobs Redis embeds in RDB strings: listpack (7.0's small
//! hashes, zsets and quicklist nodes) and ziplist (older files). Intsets are
//! [`crate::keyspace::intset`].

use super::decode::DecodeErrorKind;

pub use crate::keyspace::listpack::Elem;
use crate::keyspace::listpack::{self, Corrupt};

impl From<Corrupt> for DecodeErrorKind {
    fn from(c: Corrupt) -> Self {
        DecodeErrorKind::Corrupt(c.0)
    }
}

// ---------------------------------------------------------------- listpack

fn sign_extend(v: u64, bits: u32) -> i64 {
    let shift = 64 - bits;
    ((v << shift) as i64) >> shift
}

/// Calls `f` for each element of a listpack, checking its structure.
pub fn listpack_for_each<'a>(lp: &'a [u8], mut f: impl FnMut(Elem<'a>) -> Result<(), DecodeErrorKind>) -> Result<usize, DecodeErrorKind> {
    let count = listpack::validate(lp)?;
    let mut pos = 6;
    for _ in 0..count {
        let (e, next) = listpack::decode_entry(lp, pos)?;
        pos = next;
        f(e)?;
    }
    Ok(count)
}

// ---------------------------------------------------------------- ziplist

/// Calls `f` for each element of a ziplist (RDB files from Redis before 7.0),
/// checking it as Redis's deep validation does: sizes, each entry's length
/// of its predecessor, the tail offset and the count in the header.
pub fn ziplist_for_each<'a>(zl: &'a [u8], mut f: impl FnMut(Elem<'a>) -> Result<(), DecodeErrorKind>) -> Result<usize, DecodeErrorKind> {
    const ERR: DecodeErrorKind = DecodeErrorKind::Corrupt("ziplist entry runs past its end");
    if zl.len() < 11 {
        return Err(DecodeErrorKind::Corrupt("ziplist too short"));
    }
    let total = u32::from_le_bytes([zl[0], zl[1], zl[2], zl[3]]) as usize;
    if total != zl.len() {
        return Err(DecodeErrorKind::Corrupt("ziplist size header does not match"));
    }
    if zl[zl.len() - 1] != 0xFF {
        return Err(DecodeErrorKind::Corrupt("ziplist without terminator"));
    }
    let tail = u32::from_le_bytes([zl[4], zl[5], zl[6], zl[7]]) as usize;
    let announced = u16::from_le_bytes([zl[8], zl[9]]) as usize;
    let mut pos = 10;
    let mut count = 0;
    let mut prev: Option<(usize, usize)> = None; // (start, length) of the previous entry
    loop {
        let start = pos;
        let b = *zl.get(pos).ok_or(ERR)?;
        if b == 0xFF {
            break;
        }
        let prevlen = if b < 254 {
            pos += 1;
            b as usize
        } else {
            let h = zl.get(pos + 1..pos + 5).ok_or(ERR)?;
            pos += 5;
            u32::from_le_bytes([h[0], h[1], h[2], h[3]]) as usize
        };
        if prevlen != prev.map_or(0, |(_, len)| len) {
            return Err(DecodeErrorKind::Corrupt("ziplist entry with a wrong previous length"));
        }
        let e = *zl.get(pos).ok_or(ERR)?;
        let elem = match e >> 6 {
            0 => {
                let n = (e & 0x3f) as usize;
                let s = zl.get(pos + 1..pos + 1 + n).ok_or(ERR)?;
                pos += 1 + n;
                Elem::Bytes(s)
            }
            1 => {
                let lo = *zl.get(pos + 1).ok_or(ERR)? as usize;
                let n = (((e & 0x3f) as usize) << 8) | lo;
                let s = zl.get(pos + 2..pos + 2 + n).ok_or(ERR)?;
                pos += 2 + n;
                Elem::Bytes(s)
            }
            2 => {
                let h = zl.get(pos + 1..pos + 5).ok_or(ERR)?;
                let n = u32::from_be_bytes([h[0], h[1], h[2], h[3]]) as usize;
                let s = zl.get(pos + 5..pos.saturating_add(5).saturating_add(n)).ok_or(ERR)?;
                pos += 5 + n;
                Elem::Bytes(s)
            }
            _ => {
                let (v, n) = match e {
                    0xC0 => {
                        let h = zl.get(pos + 1..pos + 3).ok_or(ERR)?;
                        (i16::from_le_bytes([h[0], h[1]]) as i64, 2)
                    }
                    0xD0 => {
                        let h = zl.get(pos + 1..pos + 5).ok_or(ERR)?;
                        (i32::from_le_bytes([h[0], h[1], h[2], h[3]]) as i64, 4)
                    }
                    0xE0 => {
                        let h = zl.get(pos + 1..pos + 9).ok_or(ERR)?;
                        let mut a = [0u8; 8];
                        a.copy_from_slice(h);
                        (i64::from_le_bytes(a), 8)
                    }
                    0xF0 => {
                        let h = zl.get(pos + 1..pos + 4).ok_or(ERR)?;
                        (sign_extend(u32::from_le_bytes([h[0], h[1], h[2], 0]) as u64, 24), 3)
                    }
                    0xFE => (*zl.get(pos + 1).ok_or(ERR)? as i8 as i64, 1),
                    0xF1..=0xFD => (((e & 0x0f) as i64) - 1, 0),
                    _ => return Err(DecodeErrorKind::Corrupt("bad ziplist entry encoding")),
                };
                pos += 1 + n;
                Elem::Int(v)
            }
        };
        // An entry may not run into the terminator.
        if pos > zl.len() - 1 {
            return Err(ERR);
        }
        prev = Some((start, pos - start));
        count += 1;
        f(elem)?;
    }
    if pos != zl.len() - 1 {
        return Err(DecodeErrorKind::Corrupt("data after ziplist terminator"));
    }
    if tail != prev.map_or(10, |(start, _)| start) {
        return Err(DecodeErrorKind::Corrupt("ziplist tail offset does not point to its last entry"));
    }
    if announced != u16::MAX as usize && announced != count {
        return Err(DecodeErrorKind::Corrupt("ziplist element count does not match"));
    }
    Ok(count)
}

/// Calls `f` for each (field, value) pair of a listpack or ziplist holding
/// a hash or sorted set; an odd number of elements is corruption.
pub fn pairs_for_each<'a>(
    blob: &'a [u8],
    listpack: bool,
    mut f: impl FnMut(Elem<'a>, Elem<'a>) -> Result<(), DecodeErrorKind>,
) -> Result<(), DecodeErrorKind> {
    let mut first: Option<Elem<'a>> = None;
    let each = |e: Elem<'a>| match first.take() {
        None => {
            first = Some(e);
            Ok(())
        }
        Some(a) => f(a, e),
    };
    if listpack {
        listpack_for_each(blob, each)?;
    } else {
        ziplist_for_each(blob, each)?;
    }
    match first {
        Some(_) => Err(DecodeErrorKind::Corrupt("odd number of elements")),
        None => Ok(()),
    }
}

// ---------------------------------------------------------------- zipmap

/// Calls `f` for each field and value of a zipmap (hashes in RDB files from
/// Redis 2.4 and older): one length byte (254: four more follow), the
/// field, the value's length, a free-space byte, the value and its slack.
/// An empty zipmap is corrupt, as Redis's check says.
pub fn zipmap_for_each<'a>(
    zm: &'a [u8],
    mut f: impl FnMut(&'a [u8], &'a [u8]) -> Result<(), DecodeErrorKind>,
) -> Result<usize, DecodeErrorKind> {
    const ERR: DecodeErrorKind = DecodeErrorKind::Corrupt("zipmap entry runs past its end");
    let len_at = |pos: &mut usize| -> Result<Option<usize>, DecodeErrorKind> {
        let b = *zm.get(*pos).ok_or(ERR)?;
        match b {
            255 => Ok(None),
            254 => {
                let h = zm.get(*pos + 1..*pos + 5).ok_or(ERR)?;
                *pos += 5;
                Ok(Some(u32::from_le_bytes([h[0], h[1], h[2], h[3]]) as usize))
            }
            n => {
                *pos += 1;
                Ok(Some(n as usize))
            }
        }
    };
    let take = |pos: &mut usize, n: usize| -> Result<&'a [u8], DecodeErrorKind> {
        let s = zm.get(*pos..pos.checked_add(n).ok_or(ERR)?).ok_or(ERR)?;
        *pos += n;
        Ok(s)
    };
    if zm.len() < 2 {
        return Err(DecodeErrorKind::Corrupt("zipmap too short"));
    }
    let mut pos = 1;
    let mut count = 0;
    while let Some(flen) = len_at(&mut pos)? {
        let field = take(&mut pos, flen)?;
        let vlen = len_at(&mut pos)?.ok_or(ERR)?;
        let free = *zm.get(pos).ok_or(ERR)? as usize;
        pos += 1;
        let value = take(&mut pos, vlen)?;
        take(&mut pos, free)?;
        count += 1;
        f(field, value)?;
    }
    if pos + 1 != zm.len() {
        return Err(DecodeErrorKind::Corrupt("data after zipmap terminator"));
    }
    let announced = zm[0] as usize;
    if announced != 254 && announced != count {
        return Err(DecodeErrorKind::Corrupt("zipmap element count does not match"));
    }
    if count == 0 {
        return Err(DecodeErrorKind::Corrupt("empty zipmap"));
    }
    Ok(count)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn ziplist_every_encoding() {
        // Entries as Redis < 7 wrote them: prevlen, encoding, data.
        let mut body: Vec<u8> = Vec::new();
        let mut prev = 0usize;
        let mut last = 0usize;
        let mut push = |body: &mut Vec<u8>, entry: &[u8]| {
            let start = body.len();
            last = start;
            if prev < 254 {
                body.push(prev as u8);
            } else {
                body.push(0xFE);
                body.extend_from_slice(&(prev as u32).to_le_bytes());
            }
            body.extend_from_slice(entry);
            prev = body.len() - start;
        };
        push(&mut body, b"\x03abc");
        let long = vec![b'x'; 300];
        let mut e = vec![0x40 | (300 >> 8) as u8, (300 & 0xff) as u8];
        e.extend_from_slice(&long);
        push(&mut body, &e);
        push(&mut body, &[0xC0, 0x30, 0xF8]); // int16 -2000
        push(&mut body, &[0xD0, 0x40, 0x42, 0x0F, 0x00]); // int32 1000000
        push(&mut body, &[0xE0, 0, 0, 0, 0, 1, 0, 0, 0]); // int64 2^32
        push(&mut body, &[0xF0, 0xFF, 0xFF, 0xFF]); // int24 -1
        push(&mut body, &[0xFE, 0x85]); // int8 -123
        push(&mut body, &[0xF1]); // immediate 0
        push(&mut body, &[0xFD]); // immediate 12
        let mut zl = Vec::new();
        let total = 10 + body.len() + 1;
        zl.extend_from_slice(&(total as u32).to_le_bytes());
        zl.extend_from_slice(&(10 + last as u32).to_le_bytes());
        zl.extend_from_slice(&9u16.to_le_bytes());
        zl.extend_from_slice(&body);
        zl.push(0xFF);
        let mut got = Vec::new();
        ziplist_for_each(&zl, |e| {
            got.push(String::from_utf8_lossy(&e.to_key()).into_owned());
            Ok(())
        })
        .unwrap();
        assert_eq!(
            got,
            [
                "abc".to_string(),
                "x".repeat(300),
                "-2000".into(),
                "1000000".into(),
                "4294967296".into(),
                "-1".into(),
                "-123".into(),
                "0".into(),
                "12".into()
            ]
        );
        assert!(ziplist_for_each(&zl[..zl.len() - 3], |_| Ok(())).is_err());
    }

    #[test]
    fn listpack_round_trip() {
        let items: Vec<Vec<u8>> = [
            "0",
            "127",
            "128",
            "-1",
            "-4096",
            "4095",
            "32767",
            "-32768",
            "8388607",
            "-8388608",
            "2147483647",
            "-2147483648",
            "9223372036854775807",
            "-9223372036854775808",
            "007",
            "abc",
            "",
        ]
        .iter()
        .map(|s| s.as_bytes().to_vec())
        .chain([vec![b'y'; 100], vec![b'z'; 5000]])
        .collect();
        let mut lp = crate::keyspace::listpack::ListPack::new();
        lp.push(&items.iter().map(Vec::as_slice).collect::<Vec<_>>());
        let mut got = Vec::new();
        listpack_for_each(lp.as_bytes(), |e| {
            got.push(e.to_key().to_vec());
            Ok(())
        })
        .unwrap();
        assert_eq!(got, items);
    }
}
