//! Finding a node left running by an earlier slotd (after `kill -9` of slotd
//! or a crash), so a restarted slotd takes it over instead of starting a
//! duplicate that would fail on the busy port.

use crate::engine::process::is_alive;
use std::path::Path;

/// The pid from `pidfile` if that process is alive and is a node reading
/// `conf` (its command line names the conf file: `slotd node <conf>`, or
/// redis-server's process title, which slotd's conf sets to include it).
pub fn find(pidfile: &Path, conf: &Path) -> Option<u32> {
    let text = std::fs::read_to_string(pidfile).ok()?;
    let pid: u32 = text.trim().parse().ok()?;
    if pid == 0 || pid == std::process::id() || !is_alive(pid) {
        return None;
    }
    let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).ok()?;
    let cmdline = String::from_utf8_lossy(&cmdline).replace('\0', " ");
    let conf = conf.display().to_string();
    cmdline.split_whitespace().any(|arg| arg == conf).then_some(pid)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejects_missing_dead_and_foreign_pids() {
        let dir = tempfile::tempdir().expect("tempdir");
        let pidfile = dir.path().join("n.pid");
        let conf = dir.path().join("n.conf");
        assert_eq!(find(&pidfile, &conf), None, "no pidfile");
        std::fs::write(&pidfile, "garbage").expect("write");
        assert_eq!(find(&pidfile, &conf), None, "bad pidfile");
        // pid 1 is alive but is not a node for this conf.
        std::fs::write(&pidfile, "1\n").expect("write");
        assert_eq!(find(&pidfile, &conf), None, "foreign process");
    }

    #[test]
    fn accepts_a_live_process_naming_the_conf() {
        let dir = tempfile::tempdir().expect("tempdir");
        let pidfile = dir.path().join("n.pid");
        let conf = dir.path().join("n.conf");
        let mut child = std::process::Command::new("sh").args(["-c", "sleep 30; true"]).arg(&conf).spawn().expect("spawn sleep");
        std::fs::write(&pidfile, format!("{}\n", child.id())).expect("write");
        // Right after fork the child may not have exec'd yet: poll briefly.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        let mut found = find(&pidfile, &conf);
        while found.is_none() && std::time::Instant::now() < deadline {
            std::thread::sleep(std::time::Duration::from_millis(10));
            found = find(&pidfile, &conf);
        }
        let _ = child.kill();
        let _ = child.wait();
        assert_eq!(found, Some(child.id()));
        assert_eq!(find(&pidfile, &conf), None, "dead after kill");
    }
}
