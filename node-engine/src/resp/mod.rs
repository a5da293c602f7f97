//! RESP wire protocol: an incremental request parser that borrows arguments
//! straight from the read buffer, and a reply writer that encodes into the
//! connection's output buffer (no intermediate frame values on the hot path).

pub mod parse;
pub mod reply;

pub use parse::{parse_request, pending_big_arg, ParseLimits, Parsed, BIG_ARG};
pub use reply::ReplyBuf;

/// Encodes argv as a RESP multibulk (the form commands travel in to replicas and the AOF).
pub fn encode_command<A: AsRef<[u8]>>(out: &mut Vec<u8>, argv: &[A]) {
    let mut num = itoa::Buffer::new();
    out.push(b'*');
    out.extend_from_slice(num.format(argv.len()).as_bytes());
    out.extend_from_slice(b"\r\n");
    for a in argv {
        let a = a.as_ref();
        out.push(b'$');
        out.extend_from_slice(num.format(a.len()).as_bytes());
        out.extend_from_slice(b"\r\n");
        out.extend_from_slice(a);
        out.extend_from_slice(b"\r\n");
    }
}
