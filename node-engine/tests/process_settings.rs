//! Settings that act on the slot-node process itself, checked from outside
//! through /proc: the OOM score by role (`oom-score-adj`).

mod support;
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
