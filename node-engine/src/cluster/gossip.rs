//! Cluster bus messages and their wire format (ours, not Redis's).
//!
//! Every message is a frame: the magic `SLTB`, a big-endian u32 payload
//! length (at most [`MAX_FRAME`]), then the payload:
//!
//! | field | bytes |
//! |---|---|
//! | version (1) | u8 |
//! | type (PING 0, PONG 1, MEET 2, FAIL 3, UPDATE 4, AUTH_REQUEST 5, AUTH_ACK 6, MFSTART 7, PUBLISH 8) | u8 |
//! | sender id | 40 ASCII hex |
//! | current epoch, config epoch, replication offset | 3 × u64 BE |
//! | client port, bus port | 2 × u16 BE |
//! | sender flags (master 1, replica 2, pfail 4, fail 8, handshake 16, noaddr 32, nofailover 64) | u16 BE |
//! | master id (40 zero bytes when the sender is a master) | 40 |
//! | cluster state ok (0/1), message flags (PAUSED 1, FORCEACK 2) | 2 × u8 |
//! | slot bitmap (16384 bits, little-endian u64 words) | 2048 |
//! | sender ip | u8 length + bytes |
//! | sender hostname (version 2; empty = none) | u8 length + bytes |
//! | gossip count | u16 BE |
//! | each gossip entry: id, ip (u8 len + bytes), port, bus port, flags, ping sent, pong received | 40 + 1+n + 2+2+2 + 8+8 |
//! | body: FAIL = failing id (40); UPDATE = id (40) + config epoch (u64) + slots (2048); PUBLISH = channel, message (u32 len + bytes each) | varies |
//!
//! Decoding checks every length against the buffer; anything malformed is an
//! error and the link is closed, never a panic.

use super::state::{Flags, SlotSet};

pub const MAGIC: &[u8; 4] = b"SLTB";
/// Largest payload accepted; a frame claiming more is treated as garbage.
pub const MAX_FRAME: usize = 1 << 20;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MsgType {
    Ping = 0,
    Pong = 1,
    Meet = 2,
    Fail = 3,
    Update = 4,
    AuthRequest = 5,
    AuthAck = 6,
    MfStart = 7,
    Publish = 8,
    /// SPUBLISH, sent to the nodes of one shard only (Redis's type 10).
    PublishShard = 10,
}

impl MsgType {
    fn from_u8(b: u8) -> Option<MsgType> {
        Some(match b {
            0 => MsgType::Ping,
            1 => MsgType::Pong,
            2 => MsgType::Meet,
            3 => MsgType::Fail,
            4 => MsgType::Update,
            5 => MsgType::AuthRequest,
            6 => MsgType::AuthAck,
            7 => MsgType::MfStart,
            8 => MsgType::Publish,
            10 => MsgType::PublishShard,
            _ => return None,
        })
    }
    /// Name used in CLUSTER INFO's cluster_stats_messages_<name>_sent.
    pub fn stat_name(self) -> &'static str {
        match self {
            MsgType::Ping => "ping",
            MsgType::Pong => "pong",
            MsgType::Meet => "meet",
            MsgType::Fail => "fail",
            MsgType::Update => "update",
            MsgType::AuthRequest => "auth-req",
            MsgType::AuthAck => "auth-ack",
            MsgType::MfStart => "mfstart",
            MsgType::Publish => "publish",
            MsgType::PublishShard => "publishshard",
        }
    }
}

pub const MFLAG_PAUSED: u8 = 1;
pub const MFLAG_FORCEACK: u8 = 2;

#[derive(Debug, Clone, PartialEq)]
pub struct GossipEntry {
    pub id: String,
    pub ip: String,
    pub port: u16,
    pub bus_port: u16,
    pub flags: Flags,
    pub ping_sent: u64,
    pub pong_received: u64,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Body {
    None,
    Fail { id: String },
    Update { id: String, config_epoch: u64, slots: SlotSet },
    Publish { channel: Vec<u8>, message: Vec<u8> },
}

#[derive(Debug, Clone, PartialEq)]
pub struct Message {
    pub kind: MsgType,
    pub sender: String,
    pub current_epoch: u64,
    pub config_epoch: u64,
    pub repl_offset: u64,
    pub port: u16,
    pub bus_port: u16,
    pub flags: Flags,
    pub master_id: Option<String>,
    pub state_ok: bool,
    pub mflags: u8,
    pub slots: SlotSet,
    pub ip: String,
    /// The sender's announced hostname (empty: none).
    pub hostname: String,
    pub gossip: Vec<GossipEntry>,
    pub body: Body,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum DecodeError {
    #[error("bad magic (not a slotd cluster bus peer)")]
    BadMagic,
    #[error("frame of {0} bytes exceeds the limit")]
    TooLarge(usize),
    #[error("truncated message")]
    Truncated,
    #[error("unknown message type {0}")]
    UnknownType(u8),
    #[error("unsupported version {0}")]
    Version(u8),
    #[error("invalid node id")]
    BadId,
}

fn put_id(out: &mut Vec<u8>, id: &str) {
    let mut b = [b'0'; 40];
    let src = id.as_bytes();
    let n = src.len().min(40);
    b[..n].copy_from_slice(&src[..n]);
    out.extend_from_slice(&b);
}

fn put_str8(out: &mut Vec<u8>, s: &str) {
    let b = &s.as_bytes()[..s.len().min(255)];
    out.push(b.len() as u8);
    out.extend_from_slice(b);
}

fn put_bytes32(out: &mut Vec<u8>, b: &[u8]) {
    out.extend_from_slice(&(b.len() as u32).to_be_bytes());
    out.extend_from_slice(b);
}

impl Message {
    /// Encodes the message as one frame (magic + length + payload).
    pub fn encode(&self) -> Vec<u8> {
        let mut p = Vec::with_capacity(2300 + self.gossip.len() * 80);
        // Version 2 only when there is a hostname to carry, so nodes of an
        // older slotd (which read version 1 only) keep gossiping with us.
        let version: u8 = if self.hostname.is_empty() { 1 } else { 2 };
        p.push(version);
        p.push(self.kind as u8);
        put_id(&mut p, &self.sender);
        p.extend_from_slice(&self.current_epoch.to_be_bytes());
        p.extend_from_slice(&self.config_epoch.to_be_bytes());
        p.extend_from_slice(&self.repl_offset.to_be_bytes());
        p.extend_from_slice(&self.port.to_be_bytes());
        p.extend_from_slice(&self.bus_port.to_be_bytes());
        p.extend_from_slice(&self.flags.to_bits().to_be_bytes());
        match &self.master_id {
            Some(m) => put_id(&mut p, m),
            None => p.extend_from_slice(&[0u8; 40]),
        }
        p.push(self.state_ok as u8);
        p.push(self.mflags);
        p.extend_from_slice(&self.slots.to_bytes());
        put_str8(&mut p, &self.ip);
        if version >= 2 {
            put_str8(&mut p, &self.hostname);
        }
        p.extend_from_slice(&(self.gossip.len().min(u16::MAX as usize) as u16).to_be_bytes());
        for g in self.gossip.iter().take(u16::MAX as usize) {
            put_id(&mut p, &g.id);
            put_str8(&mut p, &g.ip);
            p.extend_from_slice(&g.port.to_be_bytes());
            p.extend_from_slice(&g.bus_port.to_be_bytes());
            p.extend_from_slice(&g.flags.to_bits().to_be_bytes());
            p.extend_from_slice(&g.ping_sent.to_be_bytes());
            p.extend_from_slice(&g.pong_received.to_be_bytes());
        }
        match &self.body {
            Body::None => {}
            Body::Fail { id } => put_id(&mut p, id),
            Body::Update { id, config_epoch, slots } => {
                put_id(&mut p, id);
                p.extend_from_slice(&config_epoch.to_be_bytes());
                p.extend_from_slice(&slots.to_bytes());
            }
            Body::Publish { channel, message } => {
                put_bytes32(&mut p, channel);
                put_bytes32(&mut p, message);
            }
        }
        let mut frame = Vec::with_capacity(p.len() + 8);
        frame.extend_from_slice(MAGIC);
        frame.extend_from_slice(&(p.len() as u32).to_be_bytes());
        frame.extend_from_slice(&p);
        frame
    }

    /// Tries to take one frame from the start of `buf`: Ok(None) if incomplete,
    /// Ok(Some((message, bytes used))) on success.
    ///
    /// # Errors
    /// Garbage or a malformed message.
    pub fn decode_frame(buf: &[u8]) -> Result<Option<(Message, usize)>, DecodeError> {
        if buf.len() < 8 {
            if !MAGIC.starts_with(&buf[..buf.len().min(4)]) {
                return Err(DecodeError::BadMagic);
            }
            return Ok(None);
        }
        if &buf[..4] != MAGIC {
            return Err(DecodeError::BadMagic);
        }
        let len = u32::from_be_bytes([buf[4], buf[5], buf[6], buf[7]]) as usize;
        if len > MAX_FRAME {
            return Err(DecodeError::TooLarge(len));
        }
        if buf.len() < 8 + len {
            return Ok(None);
        }
        let msg = Message::decode_payload(&buf[8..8 + len])?;
        Ok(Some((msg, 8 + len)))
    }

    fn decode_payload(p: &[u8]) -> Result<Message, DecodeError> {
        let mut r = Reader { buf: p, pos: 0 };
        let version = r.u8()?;
        // Version 1 (no hostname) is still read, so nodes of an older slotd keep gossiping.
        if version != 1 && version != 2 {
            return Err(DecodeError::Version(version));
        }
        let t = r.u8()?;
        let kind = MsgType::from_u8(t).ok_or(DecodeError::UnknownType(t))?;
        let sender = r.id()?;
        let current_epoch = r.u64()?;
        let config_epoch = r.u64()?;
        let repl_offset = r.u64()?;
        let port = r.u16()?;
        let bus_port = r.u16()?;
        let flags = Flags::from_bits(r.u16()?);
        let master_raw = r.take(40)?;
        let master_id = if master_raw.iter().all(|&b| b == 0) { None } else { Some(valid_id(master_raw)?) };
        let state_ok = r.u8()? != 0;
        let mflags = r.u8()?;
        let slots = SlotSet::from_bytes(r.take(2048)?).ok_or(DecodeError::Truncated)?;
        let ip = r.str8()?;
        let hostname = if version >= 2 { r.str8()? } else { String::new() };
        let count = r.u16()? as usize;
        let mut gossip = Vec::with_capacity(count.min(64));
        for _ in 0..count {
            gossip.push(GossipEntry {
                id: r.id()?,
                ip: r.str8()?,
                port: r.u16()?,
                bus_port: r.u16()?,
                flags: Flags::from_bits(r.u16()?),
                ping_sent: r.u64()?,
                pong_received: r.u64()?,
            });
        }
        let body = match kind {
            MsgType::Fail => Body::Fail { id: r.id()? },
            MsgType::Update => Body::Update {
                id: r.id()?,
                config_epoch: r.u64()?,
                slots: SlotSet::from_bytes(r.take(2048)?).ok_or(DecodeError::Truncated)?,
            },
            MsgType::Publish | MsgType::PublishShard => Body::Publish { channel: r.bytes32()?.to_vec(), message: r.bytes32()?.to_vec() },
            _ => Body::None,
        };
        Ok(Message {
            kind,
            sender,
            current_epoch,
            config_epoch,
            repl_offset,
            port,
            bus_port,
            flags,
            master_id,
            state_ok,
            mflags,
            slots,
            ip,
            hostname,
            gossip,
            body,
        })
    }
}

fn valid_id(b: &[u8]) -> Result<String, DecodeError> {
    if b.iter().all(|c| c.is_ascii_hexdigit()) {
        Ok(String::from_utf8_lossy(b).into_owned())
    } else {
        Err(DecodeError::BadId)
    }
}

struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], DecodeError> {
        let end = self.pos.checked_add(n).ok_or(DecodeError::Truncated)?;
        let s = self.buf.get(self.pos..end).ok_or(DecodeError::Truncated)?;
        self.pos = end;
        Ok(s)
    }
    fn u8(&mut self) -> Result<u8, DecodeError> {
        Ok(self.take(1)?[0])
    }
    fn u16(&mut self) -> Result<u16, DecodeError> {
        let b = self.take(2)?;
        Ok(u16::from_be_bytes([b[0], b[1]]))
    }
    fn u64(&mut self) -> Result<u64, DecodeError> {
        let b = self.take(8)?;
        let mut a = [0u8; 8];
        a.copy_from_slice(b);
        Ok(u64::from_be_bytes(a))
    }
    fn id(&mut self) -> Result<String, DecodeError> {
        valid_id(self.take(40)?)
    }
    fn str8(&mut self) -> Result<String, DecodeError> {
        let n = self.u8()? as usize;
        Ok(String::from_utf8_lossy(self.take(n)?).into_owned())
    }
    fn bytes32(&mut self) -> Result<&'a [u8], DecodeError> {
        let b = self.take(4)?;
        let n = u32::from_be_bytes([b[0], b[1], b[2], b[3]]) as usize;
        self.take(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Message {
        let mut slots = SlotSet::default();
        slots.insert(9842);
        Message {
            kind: MsgType::Update,
            sender: "a".repeat(40),
            current_epoch: 7,
            config_epoch: 3,
            repl_offset: 99,
            port: 6380,
            bus_port: 16380,
            flags: Flags { master: true, ..Default::default() },
            master_id: None,
            state_ok: true,
            mflags: MFLAG_PAUSED,
            slots: slots.clone(),
            ip: "127.0.0.1".into(),
            hostname: "node-a.lab".into(),
            gossip: vec![GossipEntry {
                id: "b".repeat(40),
                ip: "127.0.0.1".into(),
                port: 6381,
                bus_port: 16381,
                flags: Flags { replica: true, pfail: true, ..Default::default() },
                ping_sent: 1,
                pong_received: 2,
            }],
            body: Body::Update { id: "c".repeat(40), config_epoch: 9, slots },
        }
    }

    #[test]
    fn roundtrip_and_incomplete() {
        let m = sample();
        let bytes = m.encode();
        let (back, used) = Message::decode_frame(&bytes).unwrap().unwrap();
        assert_eq!(used, bytes.len());
        assert_eq!(back, m);
        for cut in [0, 3, 8, 100, bytes.len() - 1] {
            assert_eq!(Message::decode_frame(&bytes[..cut]), Ok(None));
        }
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        assert_eq!(Message::decode_frame(b"GET / HTTP/1.1\r\n"), Err(DecodeError::BadMagic));
        let mut huge = MAGIC.to_vec();
        huge.extend_from_slice(&u32::MAX.to_be_bytes());
        assert!(matches!(Message::decode_frame(&huge), Err(DecodeError::TooLarge(_))));
        let mut bytes = sample().encode();
        bytes.truncate(200);
        let len = (bytes.len() - 8) as u32;
        bytes[4..8].copy_from_slice(&len.to_be_bytes());
        assert_eq!(Message::decode_frame(&bytes), Err(DecodeError::Truncated));
    }
}
