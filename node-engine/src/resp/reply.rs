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

/// Formats a double the way Redis does in replies (`%.17g`, with `inf`/`-inf`).
pub fn format_double(d: f64) -> String {
    if d.is_infinite() {
        return if d > 0.0 { "inf".into() } else { "-inf".into() };
    }
    if d == d.trunc() && d.abs() < 1e17 {
        return format!("{}", d as i64);
    }
    let s = format!("{}", d);
    if s.len() <= 17 || !s.contains('.') {
        return s;
    }
    // Rust prints the shortest round-trip form, which is what %.17g rounds to
    // in practice for values users write; keep it.
    s
}

impl ReplyBuf {
    pub fn new() -> Self {
        ReplyBuf {
            buf: Vec::with_capacity(16 * 1024),
            resp3: false,
        }
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
    pub fn bulk_int(&mut self, n: i64) {
        let mut t = itoa_buf(n);
        let s = t.as_bytes_mut().to_vec();
        self.bulk(&s);
    }
    pub fn bulk_str(&mut self, s: &str) {
        self.bulk(s.as_bytes());
    }
    /// A verbatim text block (RESP3 `=`), plain bulk in RESP2: INFO, CLUSTER NODES.
    pub fn verbatim(&mut self, s: &str) {
        if self.resp3 {
            self.buf.push(b'=');
            push_int(&mut self.buf, s.len() as i64 + 4);
            self.buf.extend_from_slice(b"\r\ntxt:");
            self.buf.extend_from_slice(s.as_bytes());
            self.buf.extend_from_slice(b"\r\n");
        } else {
            self.bulk(s.as_bytes());
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
    /// A boolean (RESP3 `#`), an integer 0/1 in RESP2.
    pub fn boolean(&mut self, b: bool) {
        if self.resp3 {
            self.buf.extend_from_slice(if b { b"#t\r\n" } else { b"#f\r\n" });
        } else {
            self.int(b as i64);
        }
    }
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
    }
}
