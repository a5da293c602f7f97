//! Argument parsing shared by commands, with Redis's strictness and error texts.

use super::CmdError;

/// Parses a signed 64-bit integer the way Redis's string2ll does (no spaces, no `+`, no leading zeros).
pub fn parse_i64(b: &[u8]) -> Result<i64, CmdError> {
    strict_i64(b).ok_or_else(CmdError::not_integer)
}

/// `Some(n)` if `b` is the canonical decimal form of an i64.
pub fn strict_i64(b: &[u8]) -> Option<i64> {
    if b.is_empty() || b.len() > 20 {
        return None;
    }
    if b == b"0" {
        return Some(0);
    }
    let (neg, digits) = if b[0] == b'-' { (true, &b[1..]) } else { (false, b) };
    if digits.is_empty() || digits[0] == b'0' {
        return None;
    }
    let mut v: u64 = 0;
    for &d in digits {
        if !d.is_ascii_digit() {
            return None;
        }
        v = v.checked_mul(10)?.checked_add((d - b'0') as u64)?;
    }
    if neg {
        if v > i64::MAX as u64 + 1 {
            None
        } else {
            Some((v as i64).wrapping_neg())
        }
    } else if v > i64::MAX as u64 {
        None
    } else {
        Some(v as i64)
    }
}

/// Parses a float like Redis's strtold-based helpers: `inf`, `-inf`, no NaN, no spaces.
pub fn parse_f64(b: &[u8]) -> Result<f64, CmdError> {
    parse_float_opt(b).ok_or_else(CmdError::not_float)
}

pub fn parse_float_opt(b: &[u8]) -> Option<f64> {
    let s = std::str::from_utf8(b).ok()?;
    if s.is_empty() || s.starts_with(char::is_whitespace) || s.ends_with(char::is_whitespace) {
        return None;
    }
    let v = match s.to_ascii_lowercase().as_str() {
        "inf" | "+inf" | "infinity" | "+infinity" => f64::INFINITY,
        "-inf" | "-infinity" => f64::NEG_INFINITY,
        _ => s.parse::<f64>().ok()?,
    };
    if v.is_nan() {
        return None;
    }
    Some(v)
}

/// A non-negative integer argument with a custom error when negative.
pub fn parse_usize(b: &[u8], negative_msg: &'static str) -> Result<usize, CmdError> {
    let n = parse_i64(b)?;
    if n < 0 {
        return Err(CmdError::new(negative_msg));
    }
    Ok(n as usize)
}

/// Case-insensitive keyword comparison.
#[inline]
pub fn is(arg: &[u8], word: &str) -> bool {
    arg.eq_ignore_ascii_case(word.as_bytes())
}

/// Formats a float result of INCRBYFLOAT/HINCRBYFLOAT (`%.17Lg` then trimmed), as Redis stores it.
pub fn format_float_value(v: f64) -> String {
    if v == v.trunc() && v.abs() < 1e17 {
        return format!("{}", v as i64);
    }
    let s = format!("{:.17}", v);
    let s = s.trim_end_matches('0').trim_end_matches('.').to_string();
    // Prefer the shortest representation that round-trips.
    let short = format!("{}", v);
    if short.len() < s.len() {
        short
    } else {
        s
    }
}

/// Normalizes negative indexes of LRANGE/GETRANGE style ranges into [start, end] or None if empty.
pub fn normalize_range(start: i64, end: i64, len: usize) -> Option<(usize, usize)> {
    let len = len as i64;
    let mut s = if start < 0 { len + start } else { start };
    let mut e = if end < 0 { len + end } else { end };
    if s < 0 {
        s = 0;
    }
    if e >= len {
        e = len - 1;
    }
    if s > e || s >= len || len == 0 {
        return None;
    }
    Some((s as usize, e as usize))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integers_like_redis() {
        assert_eq!(strict_i64(b"123"), Some(123));
        assert_eq!(strict_i64(b"-9223372036854775808"), Some(i64::MIN));
        assert_eq!(strict_i64(b"9223372036854775808"), None);
        assert_eq!(strict_i64(b"01"), None);
        assert_eq!(strict_i64(b" 1"), None);
        assert_eq!(strict_i64(b"+1"), None);
        assert_eq!(strict_i64(b"-0"), None);
    }

    #[test]
    fn floats_like_redis() {
        assert_eq!(parse_float_opt(b"1.5"), Some(1.5));
        assert_eq!(parse_float_opt(b"-inf"), Some(f64::NEG_INFINITY));
        assert_eq!(parse_float_opt(b"nan"), None);
        assert_eq!(parse_float_opt(b" 1"), None);
        assert_eq!(format_float_value(10.5), "10.5");
        assert_eq!(format_float_value(3.0), "3");
    }
}
