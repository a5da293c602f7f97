//! Shared helpers for the data-type black-box tests: an in-process node and a
//! raw RESP connection that reads exactly one reply frame (no sleeps).

#![allow(dead_code)]

use node_engine::{NodeConfig, NodeHandle};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Starts a node on a free port without persistence.
pub fn start_node() -> NodeHandle {
    let args: Vec<String> = ["--port", "0", "--save", "", "--enable-debug-command", "yes"].iter().map(|s| s.to_string()).collect();
    let cfg = NodeConfig::from_args(&args).expect("config");
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

/// A redis-server child on a free port, killed on drop.
pub struct RedisServer {
    child: Child,
    pub port: u16,
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    l.local_addr().expect("addr").port()
}

/// The reference redis-server for differential tests; None (skip) when it is
/// not installed, unless SLOTD_REQUIRE_REDIS=1 makes that a failure.
pub fn start_redis() -> Option<RedisServer> {
    let required = std::env::var("SLOTD_REQUIRE_REDIS").is_ok_and(|v| v == "1");
    let found =
        Command::new("redis-server").arg("--version").stdout(Stdio::null()).stderr(Stdio::null()).status().is_ok_and(|s| s.success());
    if !found {
        assert!(!required, "SLOTD_REQUIRE_REDIS=1 but redis-server is not on PATH");
        eprintln!("redis-server not found: skipping the differential test");
        return None;
    }
    // A port picked free can be taken before redis-server binds it (by a
    // node of a parallel test on port 0): then it exits, and we try another.
    for _ in 0..5 {
        let port = free_port();
        let child = Command::new("redis-server")
            .args(["--port", &port.to_string(), "--save", "", "--appendonly", "no", "--bind", "127.0.0.1", "--enable-debug-command", "yes"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn redis-server");
        let mut server = RedisServer { child, port };
        let pid = server.child.id().to_string();
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            assert!(Instant::now() < deadline, "redis-server did not start");
            if server.child.try_wait().ok().flatten().is_some() {
                break;
            }
            // Ours only once the server on the port says it is our child.
            let info: Option<String> = redis::Client::open(format!("redis://127.0.0.1:{port}/"))
                .and_then(|c| c.get_connection())
                .and_then(|mut c| redis::cmd("INFO").arg("server").query(&mut c))
                .ok();
            if info.is_some_and(|i| i.lines().any(|l| l.trim_end() == format!("process_id:{pid}"))) {
                return Some(server);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
    panic!("redis-server could not get a free port");
}

/// Sends a script (one command per line, words split on spaces) to both
/// servers after FLUSHALL and returns every reply that differs, as text.
pub fn run_script(script: &str, redis_port: u16, our_port: u16, resp3: bool) -> Vec<String> {
    let open = |p: u16| {
        let mut r = if resp3 { Raw::resp3(p) } else { Raw::connect(p) };
        assert_eq!(r.cmd(&["FLUSHALL"]), "+OK\r\n");
        r
    };
    let (mut theirs, mut ours) = (open(redis_port), open(our_port));
    let mut diffs = Vec::new();
    for line in script.lines().map(str::trim).filter(|l| !l.is_empty()) {
        let args: Vec<&str> = line.split_whitespace().collect();
        let (a, b) = (theirs.cmd(&args), ours.cmd(&args));
        if a != b {
            diffs.push(format!("{line}\n  redis: {a:?}\n  ours:  {b:?}"));
        }
    }
    diffs
}

/// Runs `script` on redis-server and a fresh node in RESP2 and RESP3 and
/// fails listing every differing reply.
pub fn assert_same_as_redis(script: &str) {
    let Some(redis) = start_redis() else { return };
    let node = start_node();
    for resp3 in [false, true] {
        let diffs = run_script(script, redis.port, node.port(), resp3);
        assert!(diffs.is_empty(), "RESP{}: {} differences:\n{}", if resp3 { 3 } else { 2 }, diffs.len(), diffs.join("\n"));
    }
}
