//! COMMAND DOCS as redis-server 7.0.15 answers it. The docs (summary,
//! since, group, complexity, history, arguments) are Redis's own data, which
//! redis-cli's hints and RedisInsight read; they are kept as redis-server's
//! raw RESP3 reply (`tools/gen-command-docs.py`) and replayed entry by entry
//! in the client's protocol.

use crate::resp::ReplyBuf;
use std::collections::HashMap;
use std::sync::OnceLock;

static DOCS: &[u8] = include_bytes!("command_docs.resp");

/// Each command's docs (subcommands by their `container|sub` names): the raw RESP3 value.
fn index() -> &'static HashMap<&'static [u8], &'static [u8]> {
    static INDEX: OnceLock<HashMap<&'static [u8], &'static [u8]>> = OnceLock::new();
    INDEX.get_or_init(|| {
        let mut map = HashMap::new();
        add_entries(DOCS, &mut map);
        map
    })
}

/// Adds the entries of a RESP3 map of name -> docs, and of their `subcommands` maps.
fn add_entries(map_bytes: &'static [u8], out: &mut HashMap<&'static [u8], &'static [u8]>) {
    let Some((b'%', n, mut pos)) = header(map_bytes, 0) else { return };
    for _ in 0..n {
        let Some((name, after_name)) = bulk(map_bytes, pos) else { return };
        let Some(end) = skip(map_bytes, after_name) else { return };
        let docs = &map_bytes[after_name..end];
        out.insert(name, docs);
        if let Some(subs) = field(docs, b"subcommands") {
            add_entries(subs, out);
        }
        pos = end;
    }
}

/// The value of `key` in a RESP3 map of bulk keys.
fn field(map_bytes: &'static [u8], key: &[u8]) -> Option<&'static [u8]> {
    let (kind, n, mut pos) = header(map_bytes, 0)?;
    if kind != b'%' {
        return None;
    }
    for _ in 0..n {
        let (k, after) = bulk(map_bytes, pos)?;
        let end = skip(map_bytes, after)?;
        if k == key {
            return Some(&map_bytes[after..end]);
        }
        pos = end;
    }
    None
}

/// The type byte, the number on the header line and where the line ends.
fn header(b: &[u8], pos: usize) -> Option<(u8, i64, usize)> {
    let kind = *b.get(pos)?;
    let cr = pos + b.get(pos..)?.windows(2).position(|w| w == b"\r\n")?;
    let n = std::str::from_utf8(&b[pos + 1..cr]).ok()?.parse().unwrap_or(0);
    Some((kind, n, cr + 2))
}

fn bulk(b: &'static [u8], pos: usize) -> Option<(&'static [u8], usize)> {
    let (kind, n, start) = header(b, pos)?;
    let end = start.checked_add(usize::try_from(n).ok()?)?;
    (kind == b'$' && end + 2 <= b.len()).then(|| (&b[start..end], end + 2))
}

/// Where the value starting at `pos` ends.
fn skip(b: &[u8], pos: usize) -> Option<usize> {
    let (kind, n, next) = header(b, pos)?;
    match kind {
        b'$' | b'=' => Some(next + usize::try_from(n).ok()? + 2),
        b'*' | b'~' => (0..n).try_fold(next, |p, _| skip(b, p)),
        b'%' => (0..2 * n).try_fold(next, |p, _| skip(b, p)),
        _ => Some(next),
    }
}

/// Writes one RESP3 value in the reply's protocol (maps and sets become
/// arrays for RESP2 clients); returns where the value ended.
fn replay(r: &mut ReplyBuf, b: &[u8], pos: usize) -> Option<usize> {
    let (kind, n, next) = header(b, pos)?;
    let count = usize::try_from(n).unwrap_or(0);
    match kind {
        b'$' => {
            let end = next + count;
            r.bulk(b.get(next..end)?);
            Some(end + 2)
        }
        b'+' => {
            r.simple(std::str::from_utf8(&b[pos + 1..next - 2]).ok()?);
            Some(next)
        }
        b':' => {
            r.int(n);
            Some(next)
        }
        b'*' | b'~' | b'%' => {
            let items = if kind == b'%' { 2 * count } else { count };
            match kind {
                b'*' => r.array(count),
                b'~' => r.set(count),
                _ => r.map(count),
            }
            (0..items).try_fold(next, |p, _| replay(r, b, p))
        }
        _ => {
            r.null();
            Some(next)
        }
    }
}

/// Writes `name` and its docs as redis-server gives them; false (nothing
/// written) when Redis has no docs for it (slotd's own commands).
pub fn write(r: &mut ReplyBuf, name: &str) -> bool {
    let Some(docs) = index().get(name.as_bytes()) else { return false };
    let mark = r.buf.len();
    r.bulk(name.as_bytes());
    if replay(r, docs, 0).is_none() {
        r.buf.truncate(mark);
        return false;
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_entry_replays_and_subcommands_are_indexed() {
        assert!(index().len() > 300, "{} entries", index().len());
        assert!(index().contains_key(&b"config|get"[..]));
        for name in index().keys() {
            let mut r = ReplyBuf::new();
            assert!(write(&mut r, std::str::from_utf8(name).expect("utf8")), "{}", String::from_utf8_lossy(name));
        }
    }
}
