//! The report redis-check-rdb prints about a file that fails to load: where
//! it broke, the key and type being read, and how far it got, so an operator
//! can find the damage (Redis prints it before giving up on the file).

use super::decode::{check_crc, load_entry, read_header, EntryState};
use super::{opcodes, types, Reader};
use crate::keyspace::{Db, Limits};
use crate::persistence::crc64;

/// Keys decoded between two clear-outs of the scratch databases, so
/// checking a big file does not hold a second copy of it.
const SCRATCH_KEYS: u64 = 1024;

/// Re-reads `data` and describes its first problem, one line per item;
/// `["RDB looks OK"]` when the whole image reads.
pub fn report(data: &[u8], databases: usize, limits: Limits) -> Vec<String> {
    let mut lines = Vec::new();
    let mut r = Reader::new(data).with_limits(limits);
    let version = match read_header(&mut r) {
        Ok(v) => v,
        Err(e) => {
            lines.push("--- RDB ERROR DETECTED ---".to_string());
            lines.push(format!("[offset {}] {}", e.offset, e.kind));
            return lines;
        }
    };
    let mut dbs: Vec<Db> = (0..databases.max(1)).map(|_| Db::new(false)).collect();
    let mut st = EntryState::default();
    let mut cleared_at = 0;
    loop {
        let entry_at = r.pos;
        match load_entry(&mut r, &mut st, &mut dbs, 0, false, &mut || {}) {
            Ok(true) => break,
            Ok(false) => {
                if st.stats.keys - cleared_at >= SCRATCH_KEYS {
                    cleared_at = st.stats.keys;
                    for db in &mut dbs {
                        *db = db.empty_like();
                    }
                }
            }
            Err(e) => {
                lines.push("--- RDB ERROR DETECTED ---".to_string());
                lines.push(format!("[offset {}] {}", e.offset, e.kind));
                lines.extend(reading(data, entry_at));
                lines.push(format!("[info] {} keys read", st.stats.keys));
                return lines;
            }
        }
    }
    let body_end = r.pos;
    if let Err(e) = check_crc(&mut r, version, || crc64::crc64(&data[..body_end]), 0) {
        lines.push("--- RDB ERROR DETECTED ---".to_string());
        lines.push(format!("[offset {}] {}", e.offset, e.kind));
        return lines;
    }
    lines.push(format!("[info] {} keys read", st.stats.keys));
    lines.push("RDB looks OK".to_string());
    lines
}

/// The key and type of the entry starting at `at`, when it is a key.
fn reading(data: &[u8], at: usize) -> Vec<String> {
    let mut r = Reader::new(data);
    r.pos = at;
    let Ok(t) = r.u8() else { return Vec::new() };
    if t >= opcodes::FUNCTION_2 {
        return vec![format!("[additional info] Reading opcode {t:#04x}")];
    }
    let mut out = Vec::new();
    if let Ok(key) = r.string() {
        out.push(format!("[additional info] Reading key '{}'", String::from_utf8_lossy(&key)));
    }
    out.push(format!("[additional info] Reading type {t} ({})", types::name(t)));
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn names_the_key_and_type_that_broke() {
        // REDIS0010, key "k" of type list-ziplist whose blob is cut short, EOF.
        let mut data = b"REDIS0010".to_vec();
        data.extend_from_slice(&[types::LIST_ZIPLIST, 1, b'k', 3, 1, 2, 3, opcodes::EOF]);
        data.extend_from_slice(&[0; 8]);
        let lines = report(&data, 16, Limits::default());
        assert_eq!(lines[0], "--- RDB ERROR DETECTED ---");
        assert!(lines[1].contains("List ziplist integrity check failed."), "{lines:?}");
        assert!(lines.contains(&"[additional info] Reading key 'k'".to_string()), "{lines:?}");
        assert!(lines.contains(&"[additional info] Reading type 10 (list (ziplist))".to_string()), "{lines:?}");
        assert_eq!(lines.last().unwrap(), "[info] 0 keys read");
    }

    #[test]
    fn a_sound_file_reads_ok() {
        let db = super::super::tests_support::sample();
        let (data, _) =
            super::super::save_dbs(Vec::new(), std::slice::from_ref(&db), &[], super::super::EncodeOptions::default(), false).unwrap();
        let lines = report(&data, 1, Limits::default());
        assert_eq!(lines.last().unwrap(), "RDB looks OK", "{lines:?}");
    }
}
