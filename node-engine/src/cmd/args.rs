//! Argument parsing shared by commands, with Redis's strictness and error texts.

use super::CmdError;
pub use crate::util::num::{parse_float_opt, strict_i64};

/// Parses a signed 64-bit integer the way Redis's string2ll does (no spaces, no `+`, no leading zeros).
pub fn parse_i64(b: &[u8]) -> Result<i64, CmdError> {
    strict_i64(b).ok_or_else(CmdError::not_integer)
}

/// Parses a float like Redis's strtold-based helpers: `inf`, `-inf`, no NaN, no spaces.
pub fn parse_f64(b: &[u8]) -> Result<f64, CmdError> {
    parse_float_opt(b).ok_or_else(CmdError::not_float)
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
