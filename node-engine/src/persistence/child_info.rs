//! What a forked child tells its parent while it saves (Redis's child info
//! pipe): how many keys it has written and how much memory copy-on-write
//! has cost so far, so INFO shows a save's progress and its real memory
//! price. The child side is process-wide state, set only in a child.

use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::sync::atomic::{AtomicI32, AtomicU64, Ordering};
use std::time::Instant;

/// The report pipe's write end in a child; -1 in the parent (reports are then no-ops).
static PIPE: AtomicI32 = AtomicI32::new(-1);
static KEYS: AtomicU64 = AtomicU64::new(0);
static COW: AtomicU64 = AtomicU64::new(0);
/// Milliseconds since the child started when COW was last measured (0: never).
static COW_AT_MS: AtomicU64 = AtomicU64::new(0);

const RECORD: usize = 16;

/// In the child, right after fork: reports go to `fd`.
pub(super) fn child_started(fd: RawFd) {
    PIPE.store(fd, Ordering::Relaxed);
    KEYS.store(0, Ordering::Relaxed);
    COW.store(0, Ordering::Relaxed);
    COW_AT_MS.store(0, Ordering::Relaxed);
    started();
}

fn started() -> Instant {
    static START: std::sync::OnceLock<Instant> = std::sync::OnceLock::new();
    *START.get_or_init(Instant::now)
}

/// The child wrote a key: every 1024 keys the count goes to the parent,
/// with the COW size measured at most once a second (reading smaps costs).
pub fn key_written() {
    if PIPE.load(Ordering::Relaxed) < 0 {
        return;
    }
    let n = KEYS.fetch_add(1, Ordering::Relaxed) + 1;
    if n % 1024 == 0 {
        report(false);
    }
}

/// The child's last word before it exits: the final count and COW size.
pub(super) fn child_finishing() {
    if PIPE.load(Ordering::Relaxed) >= 0 {
        report(true);
    }
}

fn report(force_cow: bool) {
    let now = started().elapsed().as_millis() as u64;
    let last = COW_AT_MS.load(Ordering::Relaxed);
    if force_cow || last == 0 || now.saturating_sub(last) >= 1000 {
        COW_AT_MS.store(now.max(1), Ordering::Relaxed);
        COW.store(private_dirty_bytes(), Ordering::Relaxed);
    }
    let mut rec = [0u8; RECORD];
    rec[..8].copy_from_slice(&KEYS.load(Ordering::Relaxed).to_le_bytes());
    rec[8..].copy_from_slice(&COW.load(Ordering::Relaxed).to_le_bytes());
    // SAFETY: writing a small buffer to our own pipe; a full pipe (the
    // parent is slow to read) loses a report, which the next one replaces.
    unsafe {
        libc::write(PIPE.load(Ordering::Relaxed), rec.as_ptr().cast(), RECORD);
    }
}

/// This process's private dirty memory: what copy-on-write has copied
/// since the fork (Redis reads the same from smaps).
fn private_dirty_bytes() -> u64 {
    let Ok(text) = std::fs::read_to_string("/proc/self/smaps_rollup") else { return 0 };
    text.lines()
        .filter_map(|l| l.strip_prefix("Private_Dirty:"))
        .filter_map(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .sum::<u64>()
        * 1024
}

/// The parent's side: the latest report of the running child.
#[derive(Debug, Default)]
pub struct ChildInfo {
    pipe: Option<OwnedFd>,
    pub keys_total: u64,
    pub keys_processed: u64,
    pub cow: u64,
    pub cow_peak: u64,
    /// When the COW size last changed.
    pub cow_updated: Option<Instant>,
}

impl ChildInfo {
    /// A child was forked with `keys_total` keys to save; its reports come on `pipe`.
    pub fn started(pipe: OwnedFd, keys_total: u64) -> ChildInfo {
        // SAFETY: F_SETFL on our own descriptor.
        unsafe {
            let fd = pipe.as_raw_fd();
            libc::fcntl(fd, libc::F_SETFL, libc::fcntl(fd, libc::F_GETFL) | libc::O_NONBLOCK);
        }
        ChildInfo { pipe: Some(pipe), keys_total, ..Default::default() }
    }

    /// Takes in what the child reported since the last call.
    pub fn read(&mut self) {
        let Some(fd) = self.pipe.as_ref().map(AsRawFd::as_raw_fd) else { return };
        let mut rec = [0u8; RECORD];
        loop {
            // SAFETY: reading into a buffer we own from a non-blocking pipe.
            let n = unsafe { libc::read(fd, rec.as_mut_ptr().cast(), RECORD) };
            if n != RECORD as isize {
                return;
            }
            self.keys_processed = u64::from_le_bytes(rec[..8].try_into().unwrap_or_default());
            let cow = u64::from_le_bytes(rec[8..].try_into().unwrap_or_default());
            if cow != self.cow {
                self.cow = cow;
                self.cow_updated = Some(Instant::now());
            }
            self.cow_peak = self.cow_peak.max(cow);
        }
    }
}

/// A pipe for a child's reports: (read end for us, write end for it).
pub(super) fn pipe() -> std::io::Result<(OwnedFd, OwnedFd)> {
    let mut fds = [0 as RawFd; 2];
    // SAFETY: pipe2 fills both descriptors on success; we own them from here.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: fresh descriptors, owned by nobody else.
    Ok(unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) })
}
