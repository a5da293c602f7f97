//! Shared helpers for the data-type black-box tests: an in-process node and a
//! raw RESP connection that reads exactly one reply frame (no sleeps).

#![allow(dead_code)]

use node_engine::{NodeConfig, NodeHandle};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

/// Starts a node on a free port without persistence.
pub fn start_node() -> NodeHandle {
    let cfg = NodeConfig::from_args(&["--port".into(), "0".into(), "--save".into(), "".into()]).expect("config");
    node_engine::start(cfg).expect("start node")
}

/// A `redis` crate connection to the node.
pub fn client(port: u16) -> redis::Connection {
    redis::Client::open(format!("redis://127.0.0.1:{port}/")).expect("client").get_connection().expect("connect")
}

/// A raw connection speaking RESP with exact bytes.
pub struct Raw {
    stream: TcpStream,
    buf: Vec<u8>,
}

impl Raw {
    pub fn connect(port: u16) -> Raw {
        let stream = TcpStream::connect(("127.0.0.1", port)).expect("connect");
        stream.set_read_timeout(Some(Duration::from_secs(10))).expect("timeout");
        Raw { stream, buf: Vec::new() }
    }

    /// Switches to RESP3 and discards the HELLO reply.
    pub fn resp3(port: u16) -> Raw {
        let mut r = Raw::connect(port);
        r.cmd(&["HELLO", "3"]);
        r
    }

    pub fn send(&mut self, args: &[&str]) {
        let mut out = format!("*{}\r\n", args.len()).into_bytes();
        for a in args {
            out.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
            out.extend_from_slice(a.as_bytes());
            out.extend_from_slice(b"\r\n");
        }
        self.stream.write_all(&out).expect("write");
    }

    /// Reads one complete reply frame.
    pub fn read_reply(&mut self) -> Vec<u8> {
        loop {
            if let Some(n) = frame_len(&self.buf) {
                return self.buf.drain(..n).collect();
            }
            let mut tmp = [0u8; 65536];
            let n = self.stream.read(&mut tmp).expect("read reply");
            assert!(n > 0, "connection closed");
            self.buf.extend_from_slice(&tmp[..n]);
        }
    }

    /// Sends a command and returns its reply as a string (lossy, exact bytes otherwise).
    pub fn cmd(&mut self, args: &[&str]) -> String {
        self.send(args);
        String::from_utf8_lossy(&self.read_reply()).into_owned()
    }

    /// Whether a reply is already waiting (used to prove a client is still blocked).
    pub fn has_pending(&mut self, wait: Duration) -> bool {
        if !self.buf.is_empty() {
            return true;
        }
        self.stream.set_read_timeout(Some(wait)).expect("timeout");
        let mut tmp = [0u8; 4096];
        let got = match self.stream.read(&mut tmp) {
            Ok(n) => {
                self.buf.extend_from_slice(&tmp[..n]);
                n > 0
            }
            Err(_) => false,
        };
        self.stream.set_read_timeout(Some(Duration::from_secs(10))).expect("timeout");
        got
    }
}

fn line_end(buf: &[u8], from: usize) -> Option<usize> {
    buf[from..].windows(2).position(|w| w == b"\r\n").map(|p| from + p)
}

/// Length of the first complete RESP2/RESP3 frame in `buf`, if any.
pub fn frame_len(buf: &[u8]) -> Option<usize> {
    frame_at(buf, 0)
}

fn frame_at(buf: &[u8], at: usize) -> Option<usize> {
    let t = *buf.get(at)?;
    let le = line_end(buf, at + 1)?;
    let head = std::str::from_utf8(&buf[at + 1..le]).ok()?;
    let after = le + 2;
    match t {
        b'+' | b'-' | b':' | b',' | b'_' | b'#' | b'(' => Some(after),
        b'$' | b'=' | b'!' => {
            let n: i64 = head.parse().ok()?;
            if n < 0 {
                return Some(after);
            }
            let end = after + n as usize + 2;
            (buf.len() >= end).then_some(end)
        }
        b'*' | b'~' | b'>' | b'%' => {
            let n: i64 = head.parse().ok()?;
            if n < 0 {
                return Some(after);
            }
            let items = if t == b'%' { n * 2 } else { n };
            let mut pos = after;
            for _ in 0..items {
                pos = frame_at(buf, pos)?;
            }
            Some(pos)
        }
        _ => None,
    }
}
