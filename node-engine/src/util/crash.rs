//! The crash report: on a fatal signal (SIGSEGV, SIGBUS, SIGFPE, SIGILL,
//! SIGABRT) or a panic the node writes Redis's bug-report block with a
//! stack trace to its log, so the log an operator already reads says where
//! it broke. A signal then kills the process as it would have (core dump).

use std::fmt::Write as _;
use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};

/// Where reports go: the log file's descriptor, or 1 (`logfile ""`).
static LOG_FD: AtomicI32 = AtomicI32::new(1);

/// Whether [`install`] ran: only then may DEBUG SEGFAULT crash on purpose
/// (in slotd's in-process mode it would take the supervisor down).
static INSTALLED: AtomicBool = AtomicBool::new(false);

/// Whether this process reports crashes (the slot-node binary).
pub fn installed() -> bool {
    INSTALLED.load(Ordering::Relaxed)
}

const FATAL: [libc::c_int; 5] = [libc::SIGSEGV, libc::SIGBUS, libc::SIGFPE, libc::SIGILL, libc::SIGABRT];

/// Installs the signal handlers and the panic hook for this process (the
/// slot-node binary; in-process nodes leave their host's handlers alone).
pub fn install(logfile: &str) {
    if !logfile.is_empty() {
        if let Ok(path) = std::ffi::CString::new(logfile) {
            // SAFETY: a NUL-terminated path; the descriptor is kept for the process's life.
            let fd = unsafe { libc::open(path.as_ptr(), libc::O_WRONLY | libc::O_APPEND | libc::O_CREAT | libc::O_CLOEXEC, 0o644) };
            if fd >= 0 {
                LOG_FD.store(fd, Ordering::Relaxed);
            }
        }
    }
    use_big_altstack();
    for sig in FATAL {
        // SAFETY: sigaction with a zeroed struct, our extern "C" handler and
        // SA_SIGINFO (three-argument form); SA_ONSTACK uses the alternate
        // stacks std gives its threads, so a stack overflow is reported too.
        unsafe {
            let mut sa: libc::sigaction = std::mem::zeroed();
            sa.sa_sigaction = on_fatal_signal as *const () as usize;
            sa.sa_flags = libc::SA_SIGINFO | libc::SA_ONSTACK | libc::SA_RESETHAND | libc::SA_NODEFER;
            libc::sigemptyset(&mut sa.sa_mask);
            libc::sigaction(sig, &sa, std::ptr::null_mut());
        }
    }
    let default_hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let thread = std::thread::current().name().unwrap_or("unnamed").to_string();
        let mut head = String::new();
        let _ = writeln!(head, "------------------------------------------------");
        let _ = writeln!(head, "!!! Software Failure. Press left mouse button to continue");
        let _ = writeln!(head, "Guru Meditation: {info} (thread {thread})");
        report(&head);
        default_hook(info);
        // A panic leaves a command half done: stop, as Redis does on a
        // failed assertion, rather than serve from that state (slotd
        // restarts the node). The signal handler has reported already.
        // SAFETY: restoring the default action of SIGABRT for this process.
        unsafe {
            libc::signal(libc::SIGABRT, libc::SIG_DFL);
        }
        std::process::abort();
    }));
    INSTALLED.store(true, Ordering::Relaxed);
}

/// Bytes of the signal stack a report runs on: symbolising a backtrace
/// needs far more than the few KB std gives each thread for its own
/// overflow message.
const ALTSTACK_BYTES: usize = 512 * 1024;

/// Gives the calling thread a signal stack big enough for the report (the
/// node's thread calls it; pages are only touched by a crash).
pub fn use_big_altstack() {
    // SAFETY: a fresh anonymous mapping, handed to sigaltstack and never
    // unmapped (the thread may crash at any point of its life).
    unsafe {
        let p = libc::mmap(
            std::ptr::null_mut(),
            ALTSTACK_BYTES,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
            -1,
            0,
        );
        if p == libc::MAP_FAILED {
            return;
        }
        let st = libc::stack_t { ss_sp: p, ss_flags: 0, ss_size: ALTSTACK_BYTES };
        libc::sigaltstack(&st, std::ptr::null_mut());
    }
}

/// Writes the whole report block: `head`, then the calling thread's stack.
fn report(head: &str) {
    let mut out = String::new();
    let _ = writeln!(out, "\n\n=== REDIS BUG REPORT START: Cut & paste starting from here ===");
    for line in head.lines() {
        let _ = writeln!(out, "{}:M {} # {line}", std::process::id(), super::time::log_time());
    }
    let _ = writeln!(out, "\n------ STACK TRACE ------");
    let _ = writeln!(out, "{}", std::backtrace::Backtrace::force_capture());
    let _ = writeln!(out, "=== REDIS BUG REPORT END. Make sure to include from START to END. ===\n");
    write_fd(LOG_FD.load(Ordering::Relaxed), out.as_bytes());
}

fn write_fd(fd: i32, mut bytes: &[u8]) {
    while !bytes.is_empty() {
        // SAFETY: writes from a live slice to a descriptor we own (or stdout).
        let n = unsafe { libc::write(fd, bytes.as_ptr().cast(), bytes.len()) };
        if n <= 0 {
            return;
        }
        bytes = &bytes[n as usize..];
    }
}

/// Not async-signal-safe (it formats and captures a backtrace, which may
/// allocate), as Redis's own report is not: a crash inside the allocator
/// could hang here, so an alarm ends the process if the report stalls.
extern "C" fn on_fatal_signal(sig: libc::c_int, info: *mut libc::siginfo_t, _ctx: *mut libc::c_void) {
    // SAFETY: alarm and the siginfo the kernel passed (valid for the handler's duration).
    let (code, addr) = unsafe {
        libc::alarm(10);
        if info.is_null() {
            (0, std::ptr::null_mut())
        } else {
            ((*info).si_code, (*info).si_addr())
        }
    };
    let mut head = format!("slot-node {} crashed by signal: {sig}, si_code: {code}\n", env!("CARGO_PKG_VERSION"));
    if sig == libc::SIGSEGV || sig == libc::SIGBUS {
        let _ = writeln!(head, "Accessing address: {addr:p}");
    }
    report(&head);
    // SA_RESETHAND restored the default action: die by the same signal.
    // SAFETY: raising a signal in our own process.
    unsafe {
        libc::raise(sig);
    }
}

/// DEBUG SEGFAULT: the crash path, on purpose (tests and operators check the report).
pub fn segfault() -> ! {
    // SAFETY: raising SIGSEGV in our own process; the handler reports and re-raises.
    unsafe {
        libc::raise(libc::SIGSEGV);
    }
    std::process::abort()
}
