//! One stream node: a listpack laid out as Redis 7.0 lays it out, so RDB
//! files carry it byte for byte.
//!
//! Master entry: `count deleted num-fields field... 0`. Then each entry:
//! `flags ms-delta seq-delta [num-fields field value...| value...] lp-count`,
//! the field names omitted when the SAMEFIELDS flag says they are the
//! master's. IDs are deltas from the node's key (its master ID).

use super::StreamId;
use crate::keyspace::listpack::{self, Corrupt, Elem, EOF, HEADER};

pub const FLAG_DELETED: u8 = 1;
pub const FLAG_SAMEFIELDS: u8 = 2;

/// A stream node's listpack. It keeps spare capacity while it is the tail
/// (Redis pre-allocates too) and is shrunk when a new tail starts.
#[derive(Clone, PartialEq, Eq)]
pub struct Node {
    lp: Vec<u8>,
}

impl std::fmt::Debug for Node {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "StreamNode({} live, {} bytes)", self.live(), self.lp.len())
    }
}

/// One entry found in a node, with where its parts are.
#[derive(Debug, Clone, Copy)]
pub struct EntryRef {
    pub id: StreamId,
    pub flags: u8,
    /// Offset of the flags element (to mark the entry deleted in place).
    pub flags_pos: usize,
    /// Field-value pairs.
    pub nfields: usize,
    /// Offset of the first field (or value, with SAMEFIELDS).
    data_pos: usize,
}

impl EntryRef {
    pub fn deleted(&self) -> bool {
        self.flags & FLAG_DELETED != 0
    }
}

/// The integer at `pos` and the next offset (Redis reads text integers too).
fn int_at(lp: &[u8], pos: usize) -> (i64, usize) {
    match listpack::decode_entry(lp, pos) {
        Ok((Elem::Int(v), next)) => (v, next),
        Ok((Elem::Bytes(b), next)) => (crate::util::num::strict_i64(b).unwrap_or(0), next),
        Err(_) => (0, lp.len().saturating_sub(1)),
    }
}

fn skip(lp: &[u8], pos: usize) -> usize {
    listpack::decode_entry(lp, pos).map_or(lp.len().saturating_sub(1), |(_, n)| n)
}

fn elem(lp: &[u8], pos: usize) -> (Elem<'_>, usize) {
    listpack::decode_entry(lp, pos).unwrap_or((Elem::Bytes(b""), lp.len().saturating_sub(1)))
}

impl Node {
    /// A node whose master entry takes the fields of its first entry, `fv`
    /// (field, value, field, value...). It is allocated to size and grows
    /// by doubling while it is the tail (Redis reserves 4 KB up front).
    pub fn new(fv: &[&[u8]]) -> Node {
        let n = fv.len() / 2;
        let mut lp = Vec::with_capacity(32 + fv.iter().map(|x| x.len() + 2).sum::<usize>() * 3 / 2);
        lp.extend_from_slice(&[0; HEADER]);
        listpack::append_int(&mut lp, 1);
        listpack::append_int(&mut lp, 0);
        listpack::append_int(&mut lp, n as i64);
        for f in fv.iter().step_by(2) {
            listpack::append_entry(&mut lp, f);
        }
        listpack::append_int(&mut lp, 0);
        listpack::append_int(&mut lp, FLAG_SAMEFIELDS as i64);
        listpack::append_int(&mut lp, 0);
        listpack::append_int(&mut lp, 0);
        for v in fv.iter().skip(1).step_by(2) {
            listpack::append_entry(&mut lp, v);
        }
        listpack::append_int(&mut lp, n as i64 + 3);
        lp.push(EOF);
        let mut node = Node { lp };
        node.write_header(n + 4 + n + 3 + 1);
        node
    }

    /// Adopts a node read from an RDB file or a RESTORE payload after checking
    /// its stream layout (streamValidateListpackIntegrity, deep).
    ///
    /// # Errors
    /// The listpack or its stream layout is malformed.
    pub fn from_bytes(lp: Vec<u8>) -> Result<Node, Corrupt> {
        listpack::validate(&lp)?;
        let bad = Corrupt("stream listpack layout");
        let mut p = HEADER;
        let next = |p: &mut usize| -> Result<i64, Corrupt> {
            if lp.get(*p).is_none_or(|b| *b == EOF) {
                return Err(bad);
            }
            let (v, n) = listpack::decode_entry(&lp, *p)?;
            *p = n;
            match v {
                Elem::Int(i) => Ok(i),
                Elem::Bytes(b) => crate::util::num::strict_i64(b).ok_or(bad),
            }
        };
        let count = next(&mut p)?;
        let deleted = next(&mut p)?;
        let master_fields = next(&mut p)?;
        if count < 0 || deleted < 0 || master_fields < 0 {
            return Err(bad);
        }
        for _ in 0..master_fields {
            if lp.get(p).is_none_or(|b| *b == EOF) {
                return Err(bad);
            }
            p = listpack::decode_entry(&lp, p)?.1;
        }
        if next(&mut p)? != 0 {
            return Err(bad);
        }
        let mut total = count.checked_add(deleted).ok_or(bad)?;
        while total > 0 {
            total -= 1;
            let flags = next(&mut p)?;
            next(&mut p)?;
            next(&mut p)?;
            let mut fields = master_fields;
            let mut extra = 3;
            if flags & FLAG_SAMEFIELDS as i64 == 0 {
                fields = next(&mut p)?;
                if fields < 0 {
                    return Err(bad);
                }
                for _ in 0..fields {
                    if lp.get(p).is_none_or(|b| *b == EOF) {
                        return Err(bad);
                    }
                    p = listpack::decode_entry(&lp, p)?.1;
                }
                extra += fields + 1;
            }
            for _ in 0..fields {
                if lp.get(p).is_none_or(|b| *b == EOF) {
                    return Err(bad);
                }
                p = listpack::decode_entry(&lp, p)?.1;
            }
            if next(&mut p)? != fields + extra {
                return Err(bad);
            }
        }
        if lp.get(p) != Some(&EOF) {
            return Err(bad);
        }
        Ok(Node { lp })
    }

    /// The listpack as Redis stores it.
    pub fn as_bytes(&self) -> &[u8] {
        &self.lp
    }

    /// Heap bytes held.
    pub fn allocated(&self) -> usize {
        self.lp.capacity()
    }

    /// Gives back the spare capacity (the node stops being the tail).
    pub fn shrink(&mut self) {
        self.lp.shrink_to_fit();
    }

    fn write_header(&mut self, elements: usize) {
        let total = self.lp.len() as u32;
        self.lp[0..4].copy_from_slice(&total.to_le_bytes());
        let n = elements.min(65535) as u16;
        self.lp[4..6].copy_from_slice(&n.to_le_bytes());
    }

    fn elements(&self) -> usize {
        u16::from_le_bytes([self.lp[4], self.lp[5]]) as usize
    }

    /// Records `added` more elements (the count saturates at 65535: unknown).
    fn grew(&mut self, added: usize) {
        let now = self.elements();
        let n = if now == 65535 { 65535 } else { now + added };
        self.write_header(n);
    }

    /// Live entries (the master entry's count).
    pub fn live(&self) -> i64 {
        int_at(&self.lp, HEADER).0
    }

    /// Entries marked deleted.
    pub fn deleted(&self) -> i64 {
        let p = skip(&self.lp, HEADER);
        int_at(&self.lp, p).0
    }

    /// Bytes of the listpack.
    pub fn size(&self) -> usize {
        self.lp.len()
    }

    /// Rewrites the integer at `pos` (its encoding may change size).
    fn set_int(&mut self, pos: usize, v: i64) {
        let end = skip(&self.lp, pos);
        let mut enc = Vec::with_capacity(10);
        listpack::append_int(&mut enc, v);
        if enc.len() == end - pos {
            self.lp[pos..end].copy_from_slice(&enc);
        } else {
            self.lp.splice(pos..end, enc);
            let els = self.elements();
            self.write_header(els);
        }
    }

    /// Adds `delta_live` to the live count and `delta_deleted` to the deleted count.
    fn adjust_counts(&mut self, delta_live: i64, delta_deleted: i64) {
        if delta_live != 0 {
            let live = self.live();
            self.set_int(HEADER, live + delta_live);
        }
        if delta_deleted != 0 {
            let p = skip(&self.lp, HEADER);
            let d = int_at(&self.lp, p).0;
            self.set_int(p, d + delta_deleted);
        }
    }

    /// The master entry: number of fields, offset of its first field, offset of the first entry.
    fn master(&self) -> (usize, usize, usize) {
        let p = skip(&self.lp, HEADER);
        let p = skip(&self.lp, p);
        let (n, mut p) = int_at(&self.lp, p);
        let fields_pos = p;
        for _ in 0..n.max(0) {
            p = skip(&self.lp, p);
        }
        (n.max(0) as usize, fields_pos, skip(&self.lp, p))
    }

    /// Appends an entry (`fv`: field, value, ...) with ID `id`. A small node
    /// grows by doubling; past 1 KB it reserves `full_size` at once, as
    /// Redis's pre-allocation does (fewer reallocations, no fragments).
    pub fn append(&mut self, master_id: StreamId, id: StreamId, fv: &[&[u8]], full_size: usize) {
        let need = self.lp.len() + 24 + fv.iter().map(|x| x.len() + 6).sum::<usize>();
        if need > self.lp.capacity() {
            let cap = self.lp.capacity();
            let target = if cap < 1024 { (cap * 2).max(need) } else { full_size.max(need) };
            self.lp.reserve_exact(target - self.lp.len());
        }
        self.adjust_counts(1, 0);
        let n = fv.len() / 2;
        let (mn, mut fp, _) = self.master();
        let mut same = mn == n;
        if same {
            for f in fv.iter().step_by(2) {
                let (e, next) = elem(&self.lp, fp);
                if e.cmp_text(f) != std::cmp::Ordering::Equal {
                    same = false;
                    break;
                }
                fp = next;
            }
        }
        self.lp.pop();
        let flags = if same { FLAG_SAMEFIELDS } else { 0 };
        listpack::append_int(&mut self.lp, flags as i64);
        listpack::append_int(&mut self.lp, id.ms.wrapping_sub(master_id.ms) as i64);
        listpack::append_int(&mut self.lp, id.seq.wrapping_sub(master_id.seq) as i64);
        let mut elements = 3 + n + 1;
        if same {
            for v in fv.iter().skip(1).step_by(2) {
                listpack::append_entry(&mut self.lp, v);
            }
        } else {
            listpack::append_int(&mut self.lp, n as i64);
            for x in fv {
                listpack::append_entry(&mut self.lp, x);
            }
            elements += n + 1;
        }
        let lp_count = if same { n + 3 } else { 2 * n + 4 };
        listpack::append_int(&mut self.lp, lp_count as i64);
        self.lp.push(EOF);
        self.grew(elements);
    }

    /// The entries, deleted ones included, in ID order.
    pub fn entries(&self, master_id: StreamId) -> Entries<'_> {
        let (mn, _, first) = self.master();
        Entries { lp: &self.lp, pos: first, master_id, master_fields: mn }
    }

    /// The field-value pairs of `e`.
    pub fn fields<'a>(&'a self, e: &EntryRef) -> Fields<'a> {
        let master = if e.flags & FLAG_SAMEFIELDS != 0 { Some(self.master().1) } else { None };
        Fields { lp: &self.lp, pos: e.data_pos, master, left: e.nfields }
    }

    /// Marks the entry whose flags are at `flags_pos` deleted; returns the
    /// live entries left in the node.
    pub fn mark_deleted(&mut self, flags_pos: usize) -> i64 {
        let (flags, _) = int_at(&self.lp, flags_pos);
        // Flags are 0..3: a one-byte 7-bit integer, rewritten in place.
        self.lp[flags_pos] = (flags as u8) | FLAG_DELETED;
        self.adjust_counts(-1, 1);
        self.live()
    }

    /// The last entry's ID (deleted or not), if the node has one.
    pub fn last_id(&self, master_id: StreamId) -> Option<StreamId> {
        self.entries(master_id).last().map(|e| e.id)
    }
}

/// Entries of a node, in order.
pub struct Entries<'a> {
    lp: &'a [u8],
    pos: usize,
    master_id: StreamId,
    master_fields: usize,
}

impl Iterator for Entries<'_> {
    type Item = EntryRef;
    fn next(&mut self) -> Option<EntryRef> {
        if self.lp.get(self.pos).is_none_or(|b| *b == EOF) {
            return None;
        }
        let flags_pos = self.pos;
        let (flags, p) = int_at(self.lp, self.pos);
        let (ms, p) = int_at(self.lp, p);
        let (seq, mut p) = int_at(self.lp, p);
        let id = StreamId::new(self.master_id.ms.wrapping_add(ms as u64), self.master_id.seq.wrapping_add(seq as u64));
        let flags = flags as u8;
        let nfields;
        let skip_n;
        if flags & FLAG_SAMEFIELDS != 0 {
            nfields = self.master_fields;
            skip_n = nfields;
        } else {
            let (n, q) = int_at(self.lp, p);
            p = q;
            nfields = n.max(0) as usize;
            skip_n = 2 * nfields;
        }
        let data_pos = p;
        for _ in 0..skip_n {
            p = skip(self.lp, p);
        }
        self.pos = skip(self.lp, p);
        Some(EntryRef { id, flags, flags_pos, nfields, data_pos })
    }
}

/// Field-value pairs of one entry.
pub struct Fields<'a> {
    lp: &'a [u8],
    pos: usize,
    master: Option<usize>,
    left: usize,
}

impl<'a> Iterator for Fields<'a> {
    type Item = (Elem<'a>, Elem<'a>);
    fn next(&mut self) -> Option<Self::Item> {
        if self.left == 0 {
            return None;
        }
        self.left -= 1;
        let field = match self.master.as_mut() {
            Some(mp) => {
                let (f, next) = elem(self.lp, *mp);
                *mp = next;
                f
            }
            None => {
                let (f, next) = elem(self.lp, self.pos);
                self.pos = next;
                f
            }
        };
        let (v, next) = elem(self.lp, self.pos);
        self.pos = next;
        Some((field, v))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    type Pairs = Vec<(Vec<u8>, Vec<u8>)>;

    #[test]
    fn a_node_reads_back_what_was_appended_with_redis_layout() {
        let m = StreamId::new(1000, 0);
        let mut n = Node::new(&[b"a", b"1", b"b", b"x"]);
        n.append(m, StreamId::new(1000, 1), &[b"a", b"2", b"b", b"y"], 4096);
        n.append(m, StreamId::new(1005, 0), &[b"c", b"3"], 4096);
        assert_eq!(listpack::validate(n.as_bytes()), Ok(12 + 6 + 7));
        assert!(Node::from_bytes(n.as_bytes().to_vec()).is_ok());
        let got: Vec<(StreamId, u8, Pairs)> = n
            .entries(m)
            .map(|e| (e.id, e.flags, n.fields(&e).map(|(f, v)| (f.to_cow().into_owned(), v.to_cow().into_owned())).collect()))
            .collect();
        assert_eq!(got[0].0, StreamId::new(1000, 0));
        assert_eq!(got[0].1, FLAG_SAMEFIELDS);
        assert_eq!(got[1].2, vec![(b"a".to_vec(), b"2".to_vec()), (b"b".to_vec(), b"y".to_vec())]);
        assert_eq!(got[2].0, StreamId::new(1005, 0));
        assert_eq!(got[2].1, 0);
        assert_eq!(got[2].2, vec![(b"c".to_vec(), b"3".to_vec())]);
        let second = n.entries(m).nth(1).map(|e| e.flags_pos).unwrap_or(0);
        assert_eq!(n.mark_deleted(second), 2);
        assert_eq!(n.deleted(), 1);
        assert!(n.entries(m).nth(1).is_some_and(|e| e.deleted()));
        assert!(Node::from_bytes(n.as_bytes().to_vec()).is_ok());
        // The master entry of a one-field node, as Redis writes it for XADD s 5-0 f v.
        let one = Node::new(&[b"f", b"v"]);
        let expect: &[u8] = &[1, 1, 0, 1, 1, 1, 0x81, b'f', 2, 0, 1, 2, 1, 0, 1, 0, 1, 0x81, b'v', 2, 4, 1, 0xFF];
        assert_eq!(&one.as_bytes()[HEADER..], expect);
    }
}
