//! Stream entry IDs: `<ms>-<seq>`, two unsigned 64-bit numbers ordered as a
//! 128-bit big-endian value (the key Redis's radix tree sorts by).

/// One stream entry ID.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct StreamId {
    pub ms: u64,
    pub seq: u64,
}

impl StreamId {
    pub const MIN: StreamId = StreamId { ms: 0, seq: 0 };
    pub const MAX: StreamId = StreamId { ms: u64::MAX, seq: u64::MAX };

    pub const fn new(ms: u64, seq: u64) -> Self {
        StreamId { ms, seq }
    }

    pub fn is_zero(self) -> bool {
        self == StreamId::MIN
    }

    /// The next ID, or None past the last possible one (streamIncrID).
    pub fn incr(self) -> Option<StreamId> {
        if self.seq == u64::MAX {
            if self.ms == u64::MAX {
                return None;
            }
            return Some(StreamId::new(self.ms + 1, 0));
        }
        Some(StreamId::new(self.ms, self.seq + 1))
    }

    /// The previous ID, or None before 0-0 (streamDecrID).
    pub fn decr(self) -> Option<StreamId> {
        if self.seq == 0 {
            if self.ms == 0 {
                return None;
            }
            return Some(StreamId::new(self.ms - 1, u64::MAX));
        }
        Some(StreamId::new(self.ms, self.seq - 1))
    }

    /// The 16-byte big-endian form RDB files and the radix tree use.
    pub fn to_be_bytes(self) -> [u8; 16] {
        let mut b = [0u8; 16];
        b[..8].copy_from_slice(&self.ms.to_be_bytes());
        b[8..].copy_from_slice(&self.seq.to_be_bytes());
        b
    }

    pub fn from_be_bytes(b: &[u8]) -> Option<StreamId> {
        let ms = u64::from_be_bytes(b.get(..8)?.try_into().ok()?);
        let seq = u64::from_be_bytes(b.get(8..16)?.try_into().ok()?);
        (b.len() == 16).then_some(StreamId::new(ms, seq))
    }

    /// `ms-seq` as replies carry it.
    pub fn to_text(self) -> String {
        format!("{}-{}", self.ms, self.seq)
    }
}

impl std::fmt::Display for StreamId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}-{}", self.ms, self.seq)
    }
}

/// How an ID argument was written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Parsed {
    /// `ms-seq`, `ms` (sequence filled in), `-` or `+`.
    Id(StreamId),
    /// `ms-*`: the sequence is generated (XADD only).
    AutoSeq(u64),
}

/// Redis's `string2ull`: a canonical integer, else what `strtoull` takes
/// whole (leading blanks, a sign; a minus wraps around as in C).
fn parse_u64(s: &[u8]) -> Option<u64> {
    if let Some(v) = crate::util::num::strict_i64(s) {
        return u64::try_from(v).ok();
    }
    let mut i = s.iter().position(|b| !b.is_ascii_whitespace()).unwrap_or(s.len());
    let mut neg = false;
    if let Some(&c) = s.get(i) {
        if c == b'+' || c == b'-' {
            neg = c == b'-';
            i += 1;
        }
    }
    let digits = &s[i..];
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let mut v: u64 = 0;
    for d in digits {
        v = v.checked_mul(10)?.checked_add(u64::from(d - b'0'))?;
    }
    Some(if neg { v.wrapping_neg() } else { v })
}

/// Parses an ID argument (streamGenericParseIDOrReply). `missing_seq` fills
/// a bare `ms`; `strict` refuses `-` and `+`; `auto_seq` accepts `ms-*`.
pub fn parse(arg: &[u8], missing_seq: u64, strict: bool, auto_seq: bool) -> Option<Parsed> {
    if arg.len() > 127 {
        return None;
    }
    // Redis copies into a C string: anything after a NUL is not seen.
    let arg = arg.iter().position(|&b| b == 0).map_or(arg, |n| &arg[..n]);
    match arg {
        b"-" if !strict => return Some(Parsed::Id(StreamId::MIN)),
        b"+" if !strict => return Some(Parsed::Id(StreamId::MAX)),
        b"-" | b"+" => return None,
        _ => {}
    }
    match arg.iter().position(|&b| b == b'-') {
        None => Some(Parsed::Id(StreamId::new(parse_u64(arg)?, missing_seq))),
        Some(dash) => {
            let ms = parse_u64(&arg[..dash])?;
            let rest = &arg[dash + 1..];
            if auto_seq && rest == b"*" {
                return Some(Parsed::AutoSeq(ms));
            }
            Some(Parsed::Id(StreamId::new(ms, parse_u64(rest)?)))
        }
    }
}

/// A plain ID (no `ms-*`), as most commands take them.
pub fn parse_id(arg: &[u8], missing_seq: u64, strict: bool) -> Option<StreamId> {
    match parse(arg, missing_seq, strict, false)? {
        Parsed::Id(id) => Some(id),
        Parsed::AutoSeq(_) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_parse_as_redis_reads_them() {
        assert_eq!(parse_id(b"5-3", 0, true), Some(StreamId::new(5, 3)));
        assert_eq!(parse_id(b"5", 7, true), Some(StreamId::new(5, 7)));
        assert_eq!(parse_id(b"-", 0, false), Some(StreamId::MIN));
        assert_eq!(parse_id(b"+", 0, false), Some(StreamId::MAX));
        assert_eq!(parse_id(b"+", 0, true), None);
        assert_eq!(parse_id(b"18446744073709551615-18446744073709551615", 0, true), Some(StreamId::MAX));
        assert_eq!(parse_id(b"18446744073709551616-0", 0, true), None);
        assert_eq!(parse_id(b"1-x", 0, true), None);
        assert_eq!(parse_id(b"-1", 0, true), None);
        assert_eq!(parse(b"9-*", 0, true, true), Some(Parsed::AutoSeq(9)));
        assert_eq!(parse(b"9-*", 0, true, false), None);
        assert_eq!(StreamId::new(1, u64::MAX).incr(), Some(StreamId::new(2, 0)));
        assert_eq!(StreamId::MAX.incr(), None);
        assert_eq!(StreamId::new(2, 0).decr(), Some(StreamId::new(1, u64::MAX)));
        assert_eq!(StreamId::MIN.decr(), None);
    }
}
