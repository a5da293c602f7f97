//! Settings that act on the slot-node process itself, checked from outside
//! through /proc: the OOM score by role (`oom-score-adj`); and the crash
//! report a fatal signal leaves in the log.

mod support;
use std::os::unix::process::ExitStatusExt;
use support::{conn, run, slot_node, wait_until};

fn oom_score(pid: u32) -> i32 {
    std::fs::read_to_string(format!("/proc/{pid}/oom_score_adj")).expect("oom_score_adj").trim().parse().expect("score")
}

#[test]
fn oom_score_follows_the_role_and_is_restored_when_disabled() {
    let dir = tempfile::tempdir().expect("tmp");
    let node = slot_node(dir.path(), &["--save", ""]);
    let pid = node.child.id();
    let base = oom_score(pid);
    let mut c = conn(node.port);
    run(&mut c, &["CONFIG", "SET", "oom-score-adj-values", "10 20 30", "oom-score-adj", "yes"]).expect("enable");
    assert_eq!(oom_score(pid), base + 10, "a master's score, relative to the process's own");
    run(&mut c, &["REPLICAOF", "127.0.0.1", "1"]).expect("replicaof");
    assert_eq!(oom_score(pid), base + 20, "a replica's score");
    run(&mut c, &["REPLICAOF", "NO", "ONE"]).expect("no one");
    assert_eq!(oom_score(pid), base + 10);
    run(&mut c, &["CONFIG", "SET", "oom-score-adj", "absolute"]).expect("absolute");
    assert_eq!(oom_score(pid), 10);
    let e = run(&mut c, &["CONFIG", "SET", "oom-score-adj-values", "2001 0 0"]).expect_err("out of range");
    assert!(e.contains("must be between -2000 and 2000"), "{e}");
    // A forked child (a slow BGSAVE) takes the child's score.
    run(&mut c, &["SET", "k", "v"]).expect("set");
    run(&mut c, &["CONFIG", "SET", "rdb-key-save-delay", "2000000"]).expect("delay");
    run(&mut c, &["BGSAVE"]).expect("bgsave");
    // The child belongs to the thread that forked it: look in every thread.
    let child: u32 = std::fs::read_dir(format!("/proc/{pid}/task"))
        .expect("tasks")
        .flatten()
        .filter_map(|t| std::fs::read_to_string(t.path().join("children")).ok())
        .find_map(|c| c.split_whitespace().next().and_then(|p| p.parse().ok()))
        .expect("a BGSAVE child");
    wait_until("child score", 5, || oom_score(child) == 30);
    run(&mut c, &["CONFIG", "SET", "oom-score-adj", "no"]).expect("disable");
    assert_eq!(oom_score(pid), base, "the original score is back");
}

/// A fatal signal (DEBUG SEGFAULT, or SIGABRT from outside) or a panic
/// (DEBUG PANIC) leaves Redis's bug report with a symbolised stack trace in
/// the log, and the process still dies by the signal (a panic by SIGABRT).
#[test]
fn a_crash_leaves_a_report_with_a_stack_trace_in_the_log() {
    for how in ["DEBUG SEGFAULT", "SIGABRT", "DEBUG PANIC"] {
        let dir = tempfile::tempdir().expect("tmp");
        let log = dir.path().join("node.log");
        let mut node =
            slot_node(dir.path(), &["--save", "", "--enable-debug-command", "yes", "--logfile", log.to_str().expect("utf-8 path")]);
        if how == "SIGABRT" {
            // SAFETY: signalling our own child.
            unsafe { libc::kill(node.child.id() as i32, libc::SIGABRT) };
        } else {
            let mut c = conn(node.port);
            // No reply comes: the connection closes as the node dies.
            let _ = redis::cmd("DEBUG").arg(&how[6..]).query::<redis::Value>(&mut c);
        }
        let mut status = None;
        wait_until("the node to die", 20, || {
            status = node.child.try_wait().expect("try_wait");
            status.is_some()
        });
        // A panic stops the node too (by abort), rather than leaving a command half done.
        let want = if how == "DEBUG SEGFAULT" { libc::SIGSEGV } else { libc::SIGABRT };
        assert_eq!(status.and_then(|s| s.signal()), Some(want), "{how}: dies by the signal");
        let text = std::fs::read_to_string(&log).expect("log");
        let cause = if how == "DEBUG PANIC" { "Guru Meditation: panicked".to_string() } else { format!("crashed by signal: {want}") };
        assert_eq!(text.matches("=== REDIS BUG REPORT START").count(), 1, "{how}: one report:\n{text}");
        for needle in ["=== REDIS BUG REPORT START", &cause, "------ STACK TRACE ------", "=== REDIS BUG REPORT END"] {
            assert!(text.contains(needle), "{how}: {needle:?} not in the log:\n{text}");
        }
        if how == "DEBUG SEGFAULT" {
            assert!(text.contains("node_engine::cmd::server::debug"), "{how}: the trace names the command's handler:\n{text}");
        }
    }
}
