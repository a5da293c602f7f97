//! An RDB image loaded while it arrives (a replica's full sync read from the
//! socket, as Redis's diskless load): whole entries are decoded as soon as
//! their bytes are in, a bounded amount at a time, so the node serves its
//! clients between pieces and never holds the whole payload.

use super::decode::{check_crc, load_entry, read_header, EntryState};
use super::{DecodeError, LoadStats, Reader};
use crate::keyspace::{Db, Limits};
use crate::persistence::crc64;

/// Where decoding stands after a step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Progress {
    /// The bytes in are used up: feed more.
    NeedData,
    /// The step's budget is used up: step again (after serving clients).
    Budget,
    /// The image ended and its checksum matched.
    Done,
}

#[derive(Debug, Default)]
pub struct StreamLoad {
    /// Received, not yet decoded (from `pos` on).
    buf: Vec<u8>,
    pos: usize,
    /// Bytes decoded and dropped from the front of `buf`.
    dropped: usize,
    /// CRC-64 of every decoded byte.
    crc: u64,
    version: Option<u32>,
    state: EntryState,
    /// The EOF opcode was read: only the checksum is left.
    body_done: bool,
    done: bool,
    /// An entry did not decode from the bytes in: try again once `buf` holds
    /// this many (it doubles, so a big value is not re-parsed per packet).
    retry_len: usize,
    limits: Limits,
}

impl StreamLoad {
    pub fn new(limits: Limits) -> Self {
        StreamLoad { limits, ..Default::default() }
    }

    pub fn push(&mut self, bytes: &[u8]) {
        self.buf.extend_from_slice(bytes);
    }

    /// Bytes decoded so far (INFO's loading_loaded_bytes).
    pub fn loaded_bytes(&self) -> usize {
        self.dropped + self.pos
    }

    /// Decodes entries into `dbs` until about `budget` bytes are decoded or
    /// the bytes in run out. With `complete` no more bytes will come: what
    /// does not decode then is an error (a short read or corruption).
    ///
    /// # Errors
    /// The image is corrupt or, once complete, ends early.
    pub fn step(
        &mut self,
        dbs: &mut [Db],
        now_ms: u64,
        drop_expired: bool,
        budget: usize,
        complete: bool,
        on_key: &mut dyn FnMut(),
    ) -> Result<Progress, DecodeError> {
        if self.done {
            return Ok(Progress::Done);
        }
        if !complete && self.buf.len() < self.retry_len {
            return Ok(Progress::NeedData);
        }
        let start = self.pos;
        let result = self.decode(start, dbs, now_ms, drop_expired, budget, on_key);
        let decoded_to = self.pos;
        self.crc = crc64::update(self.crc, &self.buf[start..decoded_to]);
        let progress = match result {
            Ok(p) => p,
            Err(e) if complete => return Err(DecodeError { offset: e.offset + self.dropped, kind: e.kind }),
            // Most likely the entry's bytes are not all in yet.
            Err(_) => {
                self.retry_len = self.buf.len() + (self.buf.len() - self.pos).max(64 * 1024);
                Progress::NeedData
            }
        };
        if self.pos > 1 << 20 && self.pos * 2 > self.buf.len() {
            self.buf.drain(..self.pos);
            self.dropped += self.pos;
            self.retry_len = self.retry_len.saturating_sub(self.pos);
            self.pos = 0;
        }
        Ok(progress)
    }

    fn decode(
        &mut self,
        start: usize,
        dbs: &mut [Db],
        now_ms: u64,
        drop_expired: bool,
        budget: usize,
        on_key: &mut dyn FnMut(),
    ) -> Result<Progress, DecodeError> {
        let limit = self.pos + budget.max(1);
        let mut r = Reader { data: &self.buf, pos: self.pos, limits: self.limits };
        let version = match self.version {
            Some(v) => v,
            None => {
                let v = read_header(&mut r)?;
                self.version = Some(v);
                self.pos = r.pos;
                v
            }
        };
        while !self.body_done {
            if r.pos >= limit {
                return Ok(Progress::Budget);
            }
            let mut st = std::mem::take(&mut self.state);
            let res = load_entry(&mut r, &mut st, dbs, now_ms, drop_expired, on_key);
            self.state = st;
            self.body_done = res?;
            self.pos = r.pos;
        }
        // `self.crc` covers the bytes before this step; the checksum needs the rest of the body.
        let crc = crc64::update(self.crc, &self.buf[start..r.pos]);
        check_crc(&mut r, version, || crc, self.dropped)?;
        self.pos = r.pos;
        self.done = true;
        Ok(Progress::Done)
    }

    /// The bytes received after the image (an end mark, the replication stream).
    pub fn take_rest(&mut self) -> Vec<u8> {
        self.buf.split_off(self.pos.min(self.buf.len()))
    }

    /// What the load found.
    pub fn into_stats(self) -> LoadStats {
        self.state.stats
    }
}
