//! DUMP/RESTORE payloads: the RDB type byte and value body, then the RDB
//! version (2 bytes LE) and a CRC-64 of everything before it (8 bytes LE),
//! exactly as Redis 7.0 builds them, so MIGRATE works between us and Redis.

use super::crc64;
use super::rdb::{self, EncodeOptions, Reader, Scratch};
use crate::keyspace::Value;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DumpError {
    /// Redis's text for a payload from a newer Redis or with a bad checksum.
    #[error("ERR DUMP payload version or checksum are wrong")]
    VersionOrChecksum,
    /// Redis's reply for a payload that does not decode; the reason is for the log.
    #[error("ERR Bad data format")]
    BadData(String),
}

/// Serialises one value as DUMP does.
pub fn dump_value(v: &Value, opts: &EncodeOptions) -> Vec<u8> {
    let mut out = Vec::with_capacity(32);
    let mut sc = Scratch::default();
    out.push(rdb::value_type(v));
    rdb::write_value(&mut out, v, opts, &mut sc);
    out.extend_from_slice(&rdb::RDB_VERSION.to_le_bytes());
    let crc = crc64::crc64(&out);
    out.extend_from_slice(&crc.to_le_bytes());
    out
}

/// Checks the footer of a payload (version we can read, matching CRC-64
/// unless `skip_crc`: DEBUG SET-SKIP-CHECKSUM-VALIDATION, for tests that
/// craft payloads by hand).
pub fn verify(payload: &[u8], skip_crc: bool) -> Result<(), DumpError> {
    if payload.len() < 10 {
        return Err(DumpError::VersionOrChecksum);
    }
    let n = payload.len();
    let version = u16::from_le_bytes([payload[n - 10], payload[n - 9]]);
    if version > rdb::RDB_VERSION_MAX_READ {
        return Err(DumpError::VersionOrChecksum);
    }
    if skip_crc {
        return Ok(());
    }
    let mut crc = [0u8; 8];
    crc.copy_from_slice(&payload[n - 8..]);
    if crc64::crc64(&payload[..n - 8]) != u64::from_le_bytes(crc) {
        return Err(DumpError::VersionOrChecksum);
    }
    Ok(())
}

/// Decodes a payload RESTORE received, checked in full whatever
/// `sanitize-dump-payload` says (we convert every encoding on load, so a
/// corrupt value is refused here and never reaches a command).
pub fn parse_payload(payload: &[u8], skip_crc: bool) -> Result<Value, DumpError> {
    verify(payload, skip_crc)?;
    let body = &payload[..payload.len() - 10];
    let mut r = Reader::new(body);
    let bad = |e: rdb::DecodeError| DumpError::BadData(format!("Internal error in RDB reading offset {} -> {}", e.offset, e.kind));
    let t = r.u8().map_err(bad)?;
    let v = r.value(t).map_err(bad)?.ok_or_else(|| DumpError::BadData("the payload holds an empty collection".into()))?;
    if r.pos != body.len() {
        return Err(DumpError::BadData(format!("{} bytes after the value", body.len() - r.pos)));
    }
    Ok(v)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_tamper() {
        let db = crate::persistence::rdb::tests_support::sample();
        let opts = EncodeOptions::default();
        for (_, e) in db.iter() {
            let p = dump_value(&e.value, &opts);
            let back = parse_payload(&p, false).unwrap();
            assert_eq!(dump_value(&back, &opts), p);
            let mut bad = p.clone();
            bad[0] ^= 1;
            assert_eq!(parse_payload(&bad, false).unwrap_err(), DumpError::VersionOrChecksum);
        }
        // From redis-server 7.0.15: DUMP of "hello".
        let hello = b"\x00\x05hello\x0a\x00cr\xdfve4 \x0a";
        if let Ok(Value::Str(s)) = parse_payload(hello, false) {
            assert_eq!(&s[..], b"hello");
        } else {
            panic!("redis payload refused");
        }
        assert_eq!(dump_value(&Value::Str(b"hello".to_vec().into()), &opts), hello.to_vec());
    }
}
