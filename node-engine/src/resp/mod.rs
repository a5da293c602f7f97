//! RESP wire protocol: an incremental request parser that borrows arguments
//! straight from the read buffer, and a reply writer that encodes into the
//! connection's output buffer (no intermediate frame values on the hot path).

pub mod parse;
pub mod reply;

pub use parse::{parse_request, ParseError, ParseLimits, Parsed};
pub use reply::ReplyBuf;
