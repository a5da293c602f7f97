//! A script running past `busy-reply-threshold`: like Redis's
//! processEventsWhileBlocked, the Lua hook answers the other clients itself
//! (`-BUSY ...`), and SCRIPT KILL / FUNCTION KILL / SHUTDOWN NOSAVE work.
//! The node's event loop is blocked by the script, so the hook reads the
//! clients' sockets directly, taking only complete requests from them.

use crate::resp::{parse_request, ParseLimits, Parsed, ReplyBuf};
use std::cell::Cell;
use std::time::Instant;

const BUSY_EVAL: &[u8] = b"-BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE.\r\n";
const BUSY_FUNCTION: &[u8] = b"-BUSY Redis is busy running a script. You can only call FUNCTION KILL or SHUTDOWN NOSAVE.\r\n";
const UNKILLABLE: &[u8] = b"-UNKILLABLE Sorry the script already executed write commands against the dataset. You can either wait the script termination or kill the server in a hard way using the SHUTDOWN NOSAVE command.\r\n";
const UNKILLABLE_MASTER: &[u8] =
    b"-UNKILLABLE The busy script was sent by a master instance in the context of replication and cannot be killed.\r\n";

/// The state of one running script, shared with the Lua hook.
pub struct Busy {
    pub started: Instant,
    pub threshold_ms: u64,
    /// EVAL (SCRIPT KILL applies) or FCALL (FUNCTION KILL applies).
    pub eval_mode: bool,
    /// The script or function name, and the command that runs it (FUNCTION STATS).
    pub name: String,
    pub argv: Vec<Vec<u8>>,
    /// Every client's socket by id (the node keeps it current), and the
    /// caller's id: its socket is left alone.
    pub sockets: std::rc::Rc<std::cell::RefCell<Vec<Socket>>>,
    pub caller: u64,
    /// The caller is our master: the script cannot be killed.
    pub from_master: bool,
    /// It runs while the dataset loads (an AOF replayed): clients are told LOADING.
    pub loading: bool,
    pub write_dirty: Cell<bool>,
    pub killed: Cell<bool>,
    pub shutdown_nosave: Cell<bool>,
    pub timed_out: Cell<bool>,
}

/// A client's socket as the busy hook sees it: id, fd, and the MULTI state
/// the connection and the hook share (`txn` flags).
pub type Socket = (u64, i32, std::rc::Rc<Cell<u8>>);

/// Flags of a client's transaction shared with the busy hook.
pub mod txn {
    /// The connection is inside MULTI (set by the connection).
    pub const IN_MULTI: u8 = 1;
    /// A command was refused with BUSY inside MULTI: EXEC must abort.
    pub const REJECTED: u8 = 2;
    /// EXEC was answered with EXECABORT: the transaction is gone.
    pub const ABORTED: u8 = 4;
    /// MULTI was accepted while busy (it is allowed then, as in Redis).
    pub const STARTED: u8 = 8;
}

impl Busy {
    /// Called by the hook: past the threshold, answers what the clients sent
    /// and says so (the host then serves the rest: new clients, the bus).
    pub fn tick(&self) -> bool {
        let past = self.started.elapsed().as_millis() as u64 >= self.threshold_ms;
        if past {
            if !self.timed_out.get() {
                self.timed_out.set(true);
                tracing::warn!(
                    "Slow script detected: still in execution after {} milliseconds. You can try killing the script using the {} command. Script name is: {}.",
                    self.started.elapsed().as_millis(),
                    if self.eval_mode { "SCRIPT KILL" } else { "FUNCTION KILL" },
                    self.name
                );
            }
            let socks: Vec<(i32, std::rc::Rc<Cell<u8>>)> =
                self.sockets.borrow().iter().filter(|(id, _, _)| *id != self.caller).map(|(_, fd, t)| (*fd, t.clone())).collect();
            for (fd, txn) in socks {
                self.serve(fd, &txn);
            }
        }
        past
    }

    fn serve(&self, fd: i32, txn: &Cell<u8>) {
        let mut buf = vec![0u8; 16 * 1024];
        // SAFETY: fd is a connected socket the node owns for this whole call;
        // MSG_PEEK leaves the bytes in place, so only whole requests are taken below.
        let n = unsafe { libc::recv(fd, buf.as_mut_ptr().cast(), buf.len(), libc::MSG_PEEK | libc::MSG_DONTWAIT) };
        if n <= 0 {
            return;
        }
        buf.truncate(n as usize);
        let mut consumed = 0;
        let mut ranges = Vec::new();
        let mut out = Vec::new();
        let limits = ParseLimits::default();
        while let Ok(Parsed::Complete(len)) = parse_request(&buf[consumed..], &mut ranges, &limits) {
            let argv: Vec<&[u8]> = ranges.iter().map(|r| &buf[consumed + r.start..consumed + r.end]).collect();
            consumed += len;
            if !argv.is_empty() {
                out.extend_from_slice(&self.answer_in(&argv, txn));
            }
        }
        if consumed > 0 {
            // SAFETY: drops exactly the bytes just peeked and answered.
            unsafe { libc::recv(fd, buf.as_mut_ptr().cast(), consumed, libc::MSG_DONTWAIT) };
        }
        if !out.is_empty() {
            // SAFETY: a best-effort, non-blocking write of a buffer we own.
            unsafe { libc::send(fd, out.as_ptr().cast(), out.len(), libc::MSG_DONTWAIT | libc::MSG_NOSIGNAL) };
        }
    }

    /// A refused command inside MULTI dooms the transaction; EXEC itself is
    /// answered EXECABORT and ends it (Redis's rejectCommand/execCommandAbort).
    fn answer_in(&self, argv: &[&[u8]], txn: &Cell<u8>) -> Vec<u8> {
        if argv.len() == 1 && argv[0].eq_ignore_ascii_case(b"multi") {
            if txn.get() & txn::IN_MULTI != 0 {
                txn.set(txn.get() | txn::REJECTED);
                return b"-ERR MULTI calls can not be nested\r\n".to_vec();
            }
            txn.set(txn::IN_MULTI | txn::STARTED);
            return b"+OK\r\n".to_vec();
        }
        let reply = self.answer(argv);
        if txn.get() & txn::IN_MULTI == 0 || !reply.starts_with(b"-BUSY") {
            return reply;
        }
        if argv[0].eq_ignore_ascii_case(b"exec") {
            txn.set(txn::ABORTED);
            let mut r = b"-EXECABORT Transaction discarded because of: ".to_vec();
            r.extend_from_slice(&reply[1..]);
            return r;
        }
        txn.set(txn.get() | txn::REJECTED);
        reply
    }

    fn answer(&self, argv: &[&[u8]]) -> Vec<u8> {
        if self.loading {
            return b"-LOADING Redis is loading the dataset in memory\r\n".to_vec();
        }
        let is = |i: usize, s: &str| argv.get(i).is_some_and(|a| a.eq_ignore_ascii_case(s.as_bytes()));
        let busy = if self.eval_mode { BUSY_EVAL } else { BUSY_FUNCTION };
        if argv.len() == 2 && (is(0, "script") || is(0, "function")) && is(1, "kill") {
            if is(0, "script") != self.eval_mode {
                return busy.to_vec();
            }
            if self.from_master {
                return UNKILLABLE_MASTER.to_vec();
            }
            if self.write_dirty.get() {
                return UNKILLABLE.to_vec();
            }
            self.killed.set(true);
            return b"+OK\r\n".to_vec();
        }
        if is(0, "shutdown") && argv.iter().skip(1).any(|a| a.eq_ignore_ascii_case(b"nosave")) {
            self.shutdown_nosave.set(true);
            self.killed.set(true);
            return Vec::new();
        }
        if argv.len() == 2 && is(0, "function") && is(1, "stats") {
            if self.eval_mode {
                return BUSY_EVAL.to_vec();
            }
            let mut r = ReplyBuf::new();
            r.map(2);
            r.bulk(b"running_script");
            r.map(3);
            r.bulk(b"name");
            r.bulk(self.name.as_bytes());
            r.bulk(b"command");
            r.array(self.argv.len());
            for a in &self.argv {
                r.bulk(a);
            }
            r.bulk(b"duration_ms");
            r.int(self.started.elapsed().as_millis() as i64);
            r.bulk(b"engines");
            r.map(1);
            r.bulk(b"LUA");
            r.map(0);
            return r.buf;
        }
        busy.to_vec()
    }
}
