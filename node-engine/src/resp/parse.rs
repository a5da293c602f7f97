//! Request parsing. A request is either a RESP multibulk (`*N\r\n$len\r\n...`)
//! or an inline command (`PING\r\n` typed in telnet). "Incomplete" is a cheap
//! value, not an error: the caller reads more bytes and tries again.

use std::ops::Range;

/// Limits that keep a client from growing our memory without bound.
#[derive(Debug, Clone, Copy)]
pub struct ParseLimits {
    /// Largest bulk string accepted (`proto-max-bulk-len`).
    pub max_bulk_len: usize,
    /// Largest multibulk count accepted.
    pub max_multibulk: usize,
    /// Longest inline request accepted.
    pub max_inline: usize,
    /// The client has not authenticated: Redis allows it at most 10
    /// arguments of 16 KB each, so a stranger cannot make it allocate.
    pub unauthenticated: bool,
}

impl Default for ParseLimits {
    fn default() -> Self {
        ParseLimits { max_bulk_len: 512 * 1024 * 1024, max_multibulk: 1024 * 1024, max_inline: 64 * 1024, unauthenticated: false }
    }
}

/// Outcome of trying to parse one request from the start of a buffer.
#[derive(Debug, PartialEq)]
pub enum Parsed {
    /// A whole request: bytes consumed; argument ranges were pushed to `args`.
    Complete(usize),
    /// Not enough bytes yet.
    Incomplete,
}

/// A protocol violation: the connection is answered and closed, as Redis does.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    #[error("Protocol error: invalid multibulk length")]
    InvalidMultibulkLength,
    #[error("Protocol error: invalid bulk length")]
    InvalidBulkLength,
    #[error("Protocol error: expected '$', got '{0}'")]
    ExpectedDollar(char),
    #[error("Protocol error: too big inline request")]
    TooBigInline,
    #[error("Protocol error: too big mbulk count string")]
    TooBigCount,
    #[error("Protocol error: unbalanced quotes in request")]
    UnbalancedQuotes,
    #[error("Protocol error: unauthenticated multibulk length")]
    UnauthenticatedMultibulk,
    #[error("Protocol error: unauthenticated bulk length")]
    UnauthenticatedBulk,
}

fn find_crlf(buf: &[u8], from: usize) -> Option<usize> {
    let hay = buf.get(from..)?;
    memchr_cr(hay).map(|i| i + from)
}

#[inline]
fn memchr_cr(hay: &[u8]) -> Option<usize> {
    hay.iter().position(|&b| b == b'\r')
}

fn parse_len(digits: &[u8]) -> Option<i64> {
    if digits.is_empty() || digits.len() > 19 {
        return None;
    }
    let (neg, digits) = match digits[0] {
        b'-' => (true, &digits[1..]),
        _ => (false, digits),
    };
    if digits.is_empty() {
        return None;
    }
    let mut n: i64 = 0;
    for &d in digits {
        if !d.is_ascii_digit() {
            return None;
        }
        n = n.checked_mul(10)?.checked_add((d - b'0') as i64)?;
    }
    Some(if neg { -n } else { n })
}

/// Parses one request at the start of `buf`, pushing argument ranges into `args`.
/// On `Incomplete` or error, `args` may hold partial ranges and must be cleared.
///
/// # Errors
/// A [`ParseError`] when the bytes are not a valid request.
pub fn parse_request(buf: &[u8], args: &mut Vec<Range<usize>>, limits: &ParseLimits) -> Result<Parsed, ParseError> {
    args.clear();
    if buf.is_empty() {
        return Ok(Parsed::Incomplete);
    }
    if buf[0] != b'*' {
        return parse_inline(buf, args, limits);
    }
    let Some(cr) = find_crlf(buf, 1) else {
        if buf.len() > 64 * 1024 {
            return Err(ParseError::TooBigCount);
        }
        return Ok(Parsed::Incomplete);
    };
    if buf.len() < cr + 2 {
        return Ok(Parsed::Incomplete);
    }
    let count = parse_len(&buf[1..cr]).ok_or(ParseError::InvalidMultibulkLength)?;
    if count > limits.max_multibulk as i64 {
        return Err(ParseError::InvalidMultibulkLength);
    }
    if limits.unauthenticated && count > 10 {
        return Err(ParseError::UnauthenticatedMultibulk);
    }
    let mut pos = cr + 2;
    if count <= 0 {
        return Ok(Parsed::Complete(pos));
    }
    let count = count as usize;
    if args.capacity() < count.min(1024) {
        args.reserve(count.min(1024));
    }
    for _ in 0..count {
        if pos >= buf.len() {
            return Ok(Parsed::Incomplete);
        }
        if buf[pos] != b'$' {
            return Err(ParseError::ExpectedDollar(buf[pos] as char));
        }
        let Some(cr) = find_crlf(buf, pos + 1) else {
            if buf.len() - pos > 64 * 1024 {
                return Err(ParseError::InvalidBulkLength);
            }
            return Ok(Parsed::Incomplete);
        };
        let len = parse_len(&buf[pos + 1..cr]).ok_or(ParseError::InvalidBulkLength)?;
        if len < 0 || len as u64 > limits.max_bulk_len as u64 {
            return Err(ParseError::InvalidBulkLength);
        }
        if limits.unauthenticated && len > 16384 {
            return Err(ParseError::UnauthenticatedBulk);
        }
        let start = cr + 2;
        let end = start + len as usize;
        if buf.len() < end + 2 {
            return Ok(Parsed::Incomplete);
        }
        args.push(start..end);
        pos = end + 2;
    }
    Ok(Parsed::Complete(pos))
}

/// Arguments at least this long are read into a buffer of their exact size
/// (Redis's PROTO_MBULK_BIG_ARG).
pub const BIG_ARG: usize = 32 * 1024;

/// For a multibulk request cut short inside an argument of at least
/// [`BIG_ARG`] bytes: where that argument's data starts, and the length of
/// the request up to the end of it. The query buffer is then sized exactly,
/// and its `qbuf` counts from the argument's data, as Redis reports it.
/// None for anything else (call it after `parse_request` said Incomplete).
pub fn pending_big_arg(buf: &[u8]) -> Option<(usize, usize)> {
    if buf.first() != Some(&b'*') {
        return None;
    }
    let cr = find_crlf(buf, 1)?;
    let count = parse_len(&buf[1..cr])?;
    let mut pos = cr + 2;
    for _ in 0..count.max(0) {
        if buf.get(pos) != Some(&b'$') {
            return None;
        }
        let cr = find_crlf(buf, pos + 1)?;
        let len = usize::try_from(parse_len(&buf[pos + 1..cr])?).ok()?;
        let start = cr + 2;
        let end = start.checked_add(len)?.checked_add(2)?;
        if buf.len() < end {
            return (len >= BIG_ARG).then_some((start, end));
        }
        pos = end;
    }
    None
}

fn parse_inline(buf: &[u8], args: &mut Vec<Range<usize>>, limits: &ParseLimits) -> Result<Parsed, ParseError> {
    let Some(nl) = buf.iter().position(|&b| b == b'\n') else {
        if buf.len() > limits.max_inline {
            return Err(ParseError::TooBigInline);
        }
        return Ok(Parsed::Incomplete);
    };
    let line_end = if nl > 0 && buf[nl - 1] == b'\r' { nl - 1 } else { nl };
    let line = &buf[..line_end];
    let mut i = 0;
    while i < line.len() {
        while i < line.len() && line[i].is_ascii_whitespace() {
            i += 1;
        }
        if i >= line.len() {
            break;
        }
        if line[i] == b'"' || line[i] == b'\'' {
            // Quoted inline arguments are rare (telnet users); keep them unescaped.
            let quote = line[i];
            let start = i + 1;
            let Some(close) = line[start..].iter().position(|&b| b == quote) else {
                return Err(ParseError::UnbalancedQuotes);
            };
            args.push(start..start + close);
            i = start + close + 1;
            // As in sdssplitargs, a closing quote must end the argument.
            if line.get(i).is_some_and(|b| !b.is_ascii_whitespace()) {
                return Err(ParseError::UnbalancedQuotes);
            }
        } else {
            let start = i;
            while i < line.len() && !line[i].is_ascii_whitespace() {
                i += 1;
            }
            args.push(start..i);
        }
    }
    Ok(Parsed::Complete(nl + 1))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(b: &[u8]) -> (Result<Parsed, ParseError>, Vec<Vec<u8>>) {
        let mut args = Vec::new();
        let r = parse_request(b, &mut args, &ParseLimits::default());
        let v = args.iter().map(|r| b[r.clone()].to_vec()).collect();
        (r, v)
    }

    #[test]
    fn multibulk_complete_and_split() {
        let req = b"*2\r\n$3\r\nGET\r\n$3\r\nkey\r\n";
        let (r, a) = parse(req);
        assert_eq!(r, Ok(Parsed::Complete(req.len())));
        assert_eq!(a, vec![b"GET".to_vec(), b"key".to_vec()]);
        for cut in 0..req.len() {
            assert_eq!(parse(&req[..cut]).0, Ok(Parsed::Incomplete), "cut at {cut}");
        }
    }

    #[test]
    fn inline_and_errors() {
        let (r, a) = parse(b"PING hello\r\n");
        assert_eq!(r, Ok(Parsed::Complete(12)));
        assert_eq!(a, vec![b"PING".to_vec(), b"hello".to_vec()]);
        assert_eq!(parse(b"*2\r\n$-5\r\n").0, Err(ParseError::InvalidBulkLength));
        assert_eq!(parse(b"*99999999999\r\n").0, Err(ParseError::InvalidMultibulkLength));
        assert_eq!(parse(b"*1\r\n+x\r\n").0, Err(ParseError::ExpectedDollar('+')));
        assert_eq!(parse(b"set \"\"\"k\"\"\" v\r\n").0, Err(ParseError::UnbalancedQuotes));
        let (r, a) = parse(b"set \"a b\" 'c'\r\n");
        assert_eq!(r, Ok(Parsed::Complete(15)));
        assert_eq!(a, vec![b"set".to_vec(), b"a b".to_vec(), b"c".to_vec()]);
        let mut unauth = ParseLimits { unauthenticated: true, ..ParseLimits::default() };
        let mut args = Vec::new();
        assert_eq!(parse_request(b"*100\r\n", &mut args, &unauth), Err(ParseError::UnauthenticatedMultibulk));
        assert_eq!(parse_request(b"*1\r\n$100000\r\n", &mut args, &unauth), Err(ParseError::UnauthenticatedBulk));
        unauth.unauthenticated = false;
        assert_eq!(parse_request(b"*1\r\n$100000\r\n", &mut args, &unauth), Ok(Parsed::Incomplete));
    }
}
