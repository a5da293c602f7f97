//! The stream type in RDB (RDB_TYPE_STREAM_LISTPACKS_2, Redis 7.0): the
//! nodes' listpacks as they are, the stream's counters, then each consumer
//! group with its pending entries and consumers. Type 15 (Redis 5/6) and 21
//! (Redis 7.2) are read too.

use super::decode::{DecodeError, DecodeErrorKind, Reader};
use super::encode::{write_len, write_string, EncodeOptions, Scratch};
use super::types;
use crate::keyspace::stream::{Consumer, Group, Nack, Node, Stream, StreamId};

type R<T> = Result<T, DecodeError>;

fn write_id(out: &mut Vec<u8>, id: StreamId) {
    write_len(out, id.ms);
    write_len(out, id.seq);
}

/// Writes a stream's body (after its type byte), as rdbSaveObject does.
pub fn write_stream(out: &mut Vec<u8>, s: &Stream, opts: &EncodeOptions, sc: &mut Scratch) {
    write_len(out, s.nodes.len() as u64);
    for (master, node) in s.nodes.iter() {
        write_string(out, &master.to_be_bytes(), opts, sc);
        write_string(out, node.as_bytes(), opts, sc);
    }
    write_len(out, s.length);
    write_id(out, s.last_id);
    write_id(out, s.first_id);
    write_id(out, s.max_deleted);
    write_len(out, s.entries_added);
    write_len(out, s.group_count() as u64);
    for (name, g) in s.groups() {
        write_string(out, name, opts, sc);
        write_id(out, g.last_id);
        // -1 (unknown) is written as the 64-bit length it casts to, as Redis does.
        write_len(out, g.entries_read as u64);
        write_len(out, g.pel.len() as u64);
        for (id, n) in &g.pel {
            out.extend_from_slice(&id.to_be_bytes());
            out.extend_from_slice(&n.delivery_time.to_le_bytes());
            write_len(out, n.delivery_count);
        }
        write_len(out, g.consumers.len() as u64);
        for (cname, c) in &g.consumers {
            write_string(out, cname, opts, sc);
            out.extend_from_slice(&c.seen_time.to_le_bytes());
            write_len(out, c.pel.len() as u64);
            for id in &c.pel {
                out.extend_from_slice(&id.to_be_bytes());
            }
        }
    }
}

fn corrupt(r: &Reader<'_>, what: &'static str) -> DecodeError {
    r.err(DecodeErrorKind::Corrupt(what))
}

fn read_id(r: &mut Reader<'_>) -> R<StreamId> {
    Ok(StreamId::new(r.length()?, r.length()?))
}

fn raw_id(r: &mut Reader<'_>) -> R<StreamId> {
    let b = r.bytes(16)?;
    StreamId::from_be_bytes(b).ok_or_else(|| corrupt(r, "stream ID"))
}

fn ms_time(r: &mut Reader<'_>) -> R<i64> {
    let b = r.bytes(8)?;
    let mut a = [0u8; 8];
    a.copy_from_slice(b);
    Ok(i64::from_le_bytes(a))
}

/// Reads a stream of RDB type `t`, checking it as Redis's deep sanitization does.
pub fn read_stream(r: &mut Reader<'_>, t: u8) -> R<Stream> {
    let mut s = Stream::new();
    let nodes = r.length()?;
    let mut loaded = Vec::new();
    for _ in 0..nodes {
        let key = r.string()?;
        let master = StreamId::from_be_bytes(&key).ok_or_else(|| corrupt(r, "Stream node key entry is not the size of a stream ID"))?;
        let lp = r.string()?;
        let node = Node::from_bytes(lp).map_err(|c| r.err(DecodeErrorKind::Integrity { what: "Stream listpack", detail: c.0 }))?;
        if node.entries(master).next().is_none() {
            return Err(corrupt(r, "Empty listpack inside stream"));
        }
        loaded.push((master, node));
    }
    // Redis writes its nodes in order; any order is accepted, a repeat is not.
    loaded.sort_by_key(|(m, _)| *m);
    if loaded.windows(2).any(|w| w[0].0 == w[1].0) {
        return Err(corrupt(r, "Listpack re-added with existing key"));
    }
    s.nodes = loaded.into();
    s.length = r.length()?;
    s.last_id = read_id(r)?;
    if t == types::STREAM_LISTPACKS {
        s.entries_added = s.length;
        s.first_id = s.edge_id(true, true);
    } else {
        s.first_id = read_id(r)?;
        s.max_deleted = read_id(r)?;
        s.entries_added = r.length()?;
    }
    if s.length > 0 && s.nodes.is_empty() {
        return Err(corrupt(r, "Stream length inconsistent with rax entries"));
    }
    let groups = r.length()?;
    for _ in 0..groups {
        let name = r.string()?;
        let last_id = read_id(r)?;
        let entries_read = if t == types::STREAM_LISTPACKS {
            s.estimate_distance(last_id).map_or(crate::keyspace::stream::ENTRIES_READ_UNKNOWN, |v| v as i64)
        } else {
            r.length()? as i64
        };
        let mut g = Group::new(last_id, entries_read);
        let pel = r.length()?;
        for _ in 0..pel {
            let id = raw_id(r)?;
            let delivery_time = ms_time(r)?;
            let delivery_count = r.length()?;
            if g.pel.insert(id, Nack { delivery_time, delivery_count, consumer: Box::default() }).is_some() {
                return Err(corrupt(r, "Duplicated global PEL entry loading stream consumer group"));
            }
        }
        let consumers = r.length()?;
        for _ in 0..consumers {
            let cname = r.string()?;
            let seen_time = ms_time(r)?;
            // 7.2 adds an active time after the seen time.
            if t == types::STREAM_LISTPACKS_3 {
                ms_time(r)?;
            }
            let mut c = Consumer::new(seen_time);
            let n = r.length()?;
            for _ in 0..n {
                let id = raw_id(r)?;
                let nack = g.pel.get_mut(&id).ok_or_else(|| corrupt(r, "Consumer entry not found in group global PEL"))?;
                if !nack.consumer.is_empty() || !c.pel.insert(id) {
                    return Err(corrupt(r, "Duplicated consumer PEL entry loading a stream consumer group"));
                }
                nack.consumer = cname.clone().into_boxed_slice();
            }
            if g.consumers.insert(cname.into_boxed_slice(), c).is_some() {
                return Err(corrupt(r, "Duplicate stream consumer detected."));
            }
        }
        if g.pel.values().any(|n| n.consumer.is_empty()) {
            return Err(corrupt(r, "Stream CG PEL entry without consumer"));
        }
        if !s.create_group(&name, g.last_id, g.entries_read) {
            return Err(corrupt(r, "Duplicated consumer group name"));
        }
        if let Some(slot) = s.group_mut(&name) {
            *slot = g;
        }
    }
    Ok(s)
}
