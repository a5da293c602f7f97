//! Reply encoding straight into the connection's output buffer. The protocol
//! version (RESP2 or RESP3 after `HELLO 3`) decides how maps, sets, doubles and
//! nulls are written, so command code stays version-agnostic.

/// The output buffer of one client plus the protocol it speaks.
#[derive(Debug, Default)]
pub struct ReplyBuf {
    pub buf: Vec<u8>,
    pub resp3: bool,
}

fn push_int(buf: &mut Vec<u8>, n: i64) {
    let mut tmp = itoa_buf(n);
    buf.extend_from_slice(tmp.as_bytes_mut());
}

struct ItoaBuf {
    bytes: [u8; 20],
    start: usize,
}

impl ItoaBuf {
    fn as_bytes_mut(&mut self) -> &[u8] {
        &self.bytes[self.start..]
    }
}

fn itoa_buf(n: i64) -> ItoaBuf {
    let mut bytes = [0u8; 20];
    let mut i = 20;
    let neg = n < 0;
    let mut v = n.unsigned_abs();
    loop {
        i -= 1;
        bytes[i] = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    if neg {
        i -= 1;
        bytes[i] = b'-';
    }
    ItoaBuf { bytes, start: i }
}

/// Formats a double the way Redis 7.0 does in replies: `%.17g`, with `inf`/`-inf`
/// (so 1.1 reads back as `1.1000000000000001`, exactly like redis-server).
pub fn format_double(d: f64) -> String {
    format_g(d, 17)
}

/// C's `%.<prec>g` (prec 1..=17), with `inf`/`-inf`/`nan` as glibc prints them;
/// Lua scripts need 17 (command arguments) and 14 (cjson, Lua's own tostring).
pub fn format_g(d: f64, prec: usize) -> String {
    let prec = prec.clamp(1, 17);
    if d.is_infinite() {
        return if d > 0.0 { "inf".into() } else { "-inf".into() };
    }
    if d.is_nan() {
        return if d.is_sign_negative() { "-nan".into() } else { "nan".into() };
    }
    if d == d.trunc() && d.abs() < 10f64.powi(prec as i32) && !(d == 0.0 && d.is_sign_negative()) {
        return (d as i64).to_string();
    }
    // `prec` significant digits in scientific form, then %g's layout rules.
    let sci = format!("{:.*e}", prec - 1, d.abs());
    let (mant, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let digits: String = mant.chars().filter(|c| c.is_ascii_digit()).collect();
    let mut out = String::with_capacity(24);
    if d.is_sign_negative() {
        out.push('-');
    }
    if !(-4..prec as i32).contains(&exp) {
        let frac = digits[1..].trim_end_matches('0');
        out.push_str(&digits[..1]);
        if !frac.is_empty() {
            out.push('.');
            out.push_str(frac);
        }
        out.push('e');
        out.push(if exp < 0 { '-' } else { '+' });
        let e = exp.unsigned_abs();
        if e < 10 {
            out.push('0');
        }
        out.push_str(&e.to_string());
    } else if exp >= 0 {
        let int_len = exp as usize + 1;
        out.push_str(&digits[..int_len]);
        let frac = digits[int_len..].trim_end_matches('0');
        if !frac.is_empty() {
            out.push('.');
            out.push_str(frac);
        }
    } else {
        out.push_str("0.");
        for _ in 0..(-exp - 1) {
            out.push('0');
        }
        out.push_str(digits.trim_end_matches('0'));
    }
    out
}

impl ReplyBuf {
    pub fn new() -> Self {
        ReplyBuf { buf: Vec::new(), resp3: false }
    }
    pub fn ok(&mut self) {
        self.buf.extend_from_slice(b"+OK\r\n");
    }
    pub fn simple(&mut self, s: &str) {
        self.buf.push(b'+');
        self.buf.extend_from_slice(s.as_bytes());
        self.buf.extend_from_slice(b"\r\n");
    }
    /// An error line; `msg` already carries its code (`ERR ...`, `WRONGTYPE ...`).
    pub fn error(&mut self, msg: &str) {
        self.buf.push(b'-');
        for &b in msg.as_bytes() {
            // Never let an error message break the framing.
            self.buf.push(if b == b'\r' || b == b'\n' { b' ' } else { b });
        }
        self.buf.extend_from_slice(b"\r\n");
    }
    pub fn int(&mut self, n: i64) {
        self.buf.push(b':');
        push_int(&mut self.buf, n);
        self.buf.extend_from_slice(b"\r\n");
    }
    pub fn bulk(&mut self, b: &[u8]) {
        self.buf.push(b'$');
        push_int(&mut self.buf, b.len() as i64);
        self.buf.extend_from_slice(b"\r\n");
        self.buf.extend_from_slice(b);
        self.buf.extend_from_slice(b"\r\n");
    }
    pub fn bulk_str(&mut self, s: &str) {
        self.bulk(s.as_bytes());
    }
    /// A verbatim text block (RESP3 `=`), plain bulk in RESP2: INFO, CLUSTER NODES.
    pub fn verbatim(&mut self, s: &str) {
        self.verbatim_as(b"txt", s.as_bytes());
    }
    /// A verbatim block with its 3-byte format (`txt`, `mkd`), plain bulk in RESP2.
    pub fn verbatim_as(&mut self, format: &[u8], s: &[u8]) {
        if self.resp3 {
            self.buf.push(b'=');
            push_int(&mut self.buf, s.len() as i64 + 4);
            self.buf.extend_from_slice(b"\r\n");
            let mut fmt = [b' '; 3];
            for (d, c) in fmt.iter_mut().zip(format) {
                *d = *c;
            }
            self.buf.extend_from_slice(&fmt);
            self.buf.push(b':');
            self.buf.extend_from_slice(s);
            self.buf.extend_from_slice(b"\r\n");
        } else {
            self.bulk(s);
        }
    }
    /// A boolean: RESP3 `#t`/`#f`, the integers 1/0 in RESP2.
    pub fn bool(&mut self, b: bool) {
        if self.resp3 {
            self.buf.extend_from_slice(if b { b"#t\r\n" } else { b"#f\r\n" });
        } else {
            self.int(i64::from(b));
        }
    }
    /// A big number: RESP3 `(`, a bulk string in RESP2.
    pub fn big_number(&mut self, digits: &[u8]) {
        if self.resp3 {
            self.buf.push(b'(');
            self.buf.extend_from_slice(digits);
            self.buf.extend_from_slice(b"\r\n");
        } else {
            self.bulk(digits);
        }
    }
    pub fn null(&mut self) {
        if self.resp3 {
            self.buf.extend_from_slice(b"_\r\n");
        } else {
            self.buf.extend_from_slice(b"$-1\r\n");
        }
    }
    /// The null for a missing array (`*-1` in RESP2), e.g. BLPOP timeout.
    pub fn null_array(&mut self) {
        if self.resp3 {
            self.buf.extend_from_slice(b"_\r\n");
        } else {
            self.buf.extend_from_slice(b"*-1\r\n");
        }
    }
    pub fn array(&mut self, n: usize) {
        self.buf.push(b'*');
        push_int(&mut self.buf, n as i64);
        self.buf.extend_from_slice(b"\r\n");
    }
    /// Inserts an array header at `at`, for a reply whose length is known
    /// only once written (Redis's deferred lengths).
    pub fn insert_array(&mut self, at: usize, n: usize) {
        let mut h = Vec::with_capacity(12);
        h.push(b'*');
        push_int(&mut h, n as i64);
        h.extend_from_slice(b"\r\n");
        self.buf.splice(at..at, h);
    }
    /// Inserts a map header at `at` (see [`ReplyBuf::insert_array`]).
    pub fn insert_map(&mut self, at: usize, n: usize) {
        if !self.resp3 {
            return self.insert_array(at, n * 2);
        }
        let mut h = Vec::with_capacity(12);
        h.push(b'%');
        push_int(&mut h, n as i64);
        h.extend_from_slice(b"\r\n");
        self.buf.splice(at..at, h);
    }
    /// A map of `n` pairs (RESP3 `%`), a flat array of 2n in RESP2.
    pub fn map(&mut self, n: usize) {
        if self.resp3 {
            self.buf.push(b'%');
            push_int(&mut self.buf, n as i64);
            self.buf.extend_from_slice(b"\r\n");
        } else {
            self.array(n * 2);
        }
    }
    /// A set (RESP3 `~`), an array in RESP2.
    pub fn set(&mut self, n: usize) {
        if self.resp3 {
            self.buf.push(b'~');
            push_int(&mut self.buf, n as i64);
            self.buf.extend_from_slice(b"\r\n");
        } else {
            self.array(n);
        }
    }
    /// An out-of-band push (RESP3 `>`), an array in RESP2: pub/sub messages.
    pub fn push(&mut self, n: usize) {
        if self.resp3 {
            self.buf.push(b'>');
            push_int(&mut self.buf, n as i64);
            self.buf.extend_from_slice(b"\r\n");
        } else {
            self.array(n);
        }
    }
    /// A double (RESP3 `,`), a bulk string in RESP2.
    pub fn double(&mut self, d: f64) {
        let s = format_double(d);
        if self.resp3 {
            self.buf.push(b',');
            self.buf.extend_from_slice(s.as_bytes());
            self.buf.extend_from_slice(b"\r\n");
        } else {
            self.bulk(s.as_bytes());
        }
    }
    /// A double already formatted (RESP3 `,`, a bulk string in RESP2), for
    /// replies Redis prints with its own precision rules (GEOPOS).
    pub fn double_text(&mut self, text: &str) {
        if self.resp3 {
            self.buf.push(b',');
            self.buf.extend_from_slice(text.as_bytes());
            self.buf.extend_from_slice(b"\r\n");
        } else {
            self.bulk(text.as_bytes());
        }
    }
    /// Bytes appended as they are.
    pub fn raw(&mut self, bytes: &[u8]) {
        self.buf.extend_from_slice(bytes);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_resp2_and_resp3() {
        let mut r = ReplyBuf::new();
        r.int(-42);
        r.bulk(b"hi");
        r.null();
        r.map(1);
        assert_eq!(r.buf, b":-42\r\n$2\r\nhi\r\n$-1\r\n*2\r\n");
        let mut r = ReplyBuf::new();
        r.resp3 = true;
        r.null();
        r.map(1);
        r.double(1.5);
        assert_eq!(r.buf, b"_\r\n%1\r\n,1.5\r\n");
    }

    #[test]
    fn doubles_like_redis() {
        assert_eq!(format_double(3.0), "3");
        assert_eq!(format_double(1.5), "1.5");
        assert_eq!(format_double(f64::INFINITY), "inf");
        assert_eq!(format_double(1.1), "1.1000000000000001");
        assert_eq!(format_double(0.1), "0.10000000000000001");
        assert_eq!(format_double(1e20), "1e+20");
        assert_eq!(format_double(123456789.123), "123456789.123");
        assert_eq!(format_double(5e-324), "4.9406564584124654e-324");
        assert_eq!(format_double(1.7976931348623157e308), "1.7976931348623157e+308");
        assert_eq!(format_double(0.0001), "0.0001");
        assert_eq!(format_double(-2.5), "-2.5");
        assert_eq!(format_double(0.0), "0");
    }
}
