//! Kernel preflight: the host settings Redis itself warns about at start
//! (overcommit, somaxconn, THP, open files), each with the value seen, why it
//! matters for a node, and the exact command that fixes it.

use nix::sys::resource::{getrlimit, setrlimit, Resource};
use serde::{Deserialize, Serialize};
use std::path::Path;

/// Redis's default tcp-backlog.
pub const TCP_BACKLOG: u64 = 511;
/// Redis's default maxclients plus the 32 descriptors it reserves.
pub const NOFILE_WANTED: u64 = 10_000 + 32;

/// Outcome of one check.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    Ok,
    Warn,
}

/// One preflight check.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Check {
    /// e.g. "vm.overcommit_memory".
    pub name: String,
    /// The value seen on this host.
    pub value: String,
    pub wanted: String,
    pub level: Level,
    /// Why it matters for a node.
    pub why: String,
    /// The exact command that fixes it.
    pub fix: String,
    /// Set by `--fix`: what was done or why it could not be.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fix_result: Option<String>,
}

const OVERCOMMIT: &str = "/proc/sys/vm/overcommit_memory";
const SOMAXCONN: &str = "/proc/sys/net/core/somaxconn";
const THP: &str = "/sys/kernel/mm/transparent_hugepage/enabled";

fn read_trim(path: &str) -> Option<String> {
    std::fs::read_to_string(path).ok().map(|s| s.trim().to_string())
}

/// THP's active mode: the bracketed word in "always [madvise] never".
fn thp_mode(text: &str) -> Option<String> {
    let start = text.find('[')?;
    let end = text[start..].find(']')? + start;
    Some(text[start + 1..end].to_string())
}

/// Runs every check against this host and this process's limits.
pub fn run_checks() -> Vec<Check> {
    let mut out = Vec::new();
    let over = read_trim(OVERCOMMIT);
    out.push(Check {
        name: "vm.overcommit_memory".into(),
        value: over.clone().unwrap_or_else(|| "unreadable".into()),
        wanted: "1".into(),
        level: if over.as_deref() == Some("1") { Level::Ok } else { Level::Warn },
        why: "a node forks to save RDB/AOF rewrites; with 0 the fork can fail under memory pressure and the save is lost (Redis logs \"WARNING Memory overcommit must be enabled!\")".into(),
        fix: "sysctl -w vm.overcommit_memory=1 && echo 'vm.overcommit_memory = 1' > /etc/sysctl.d/60-slotd.conf".into(),
        fix_result: None,
    });
    let somax = read_trim(SOMAXCONN).and_then(|s| s.parse::<u64>().ok());
    out.push(Check {
        name: "net.core.somaxconn".into(),
        value: somax.map(|v| v.to_string()).unwrap_or_else(|| "unreadable".into()),
        wanted: format!(">= {TCP_BACKLOG}"),
        level: if somax.is_some_and(|v| v >= TCP_BACKLOG) { Level::Ok } else { Level::Warn },
        why: "the kernel caps each node's listen backlog (tcp-backlog 511) at this value; bursts of new connections are then refused (Redis warns \"The TCP backlog setting of 511 cannot be enforced\")".into(),
        fix: "sysctl -w net.core.somaxconn=1024 && echo 'net.core.somaxconn = 1024' > /etc/sysctl.d/60-slotd-somaxconn.conf".into(),
        fix_result: None,
    });
    let thp = if Path::new(THP).exists() { read_trim(THP).and_then(|t| thp_mode(&t)) } else { Some("not supported by this kernel".into()) };
    let thp_ok = matches!(thp.as_deref(), Some("never") | Some("madvise") | Some("not supported by this kernel"));
    out.push(Check {
        name: "transparent_hugepage".into(),
        value: thp.unwrap_or_else(|| "unreadable".into()),
        wanted: "never or madvise".into(),
        level: if thp_ok { Level::Ok } else { Level::Warn },
        why: "with THP always, copy-on-write after a fork copies 2 MB pages: latency spikes and memory growth during saves (Redis warns \"you have Transparent Huge Pages (THP) support enabled\")".into(),
        fix: format!("echo madvise > {THP}   (persist: add transparent_hugepage=madvise to the kernel command line)"),
        fix_result: None,
    });
    let nofile = getrlimit(Resource::RLIMIT_NOFILE).ok();
    let soft = nofile.map(|(s, _)| s);
    out.push(Check {
        name: "open files (RLIMIT_NOFILE)".into(),
        value: match nofile {
            Some((s, h)) => format!("soft {s}, hard {h}"),
            None => "unreadable".into(),
        },
        wanted: format!(">= {NOFILE_WANTED} (maxclients 10000 + 32)"),
        level: if soft.is_some_and(|s| s >= NOFILE_WANTED) { Level::Ok } else { Level::Warn },
        why: "each node needs one descriptor per client plus 32; with fewer Redis lowers maxclients and refuses clients (\"You requested maxclients of 10000 requiring at least 10032 max file descriptors\")".into(),
        fix: "LimitNOFILE=65535 in slotd.service (systemd), or `ulimit -n 65535` before starting slotd (raise the hard limit in /etc/security/limits.conf)".into(),
        fix_result: None,
    });
    out
}

/// Why the open-files limit could not be raised.
#[derive(Debug, thiserror::Error)]
pub enum NofileError {
    #[error("cannot read RLIMIT_NOFILE: {0}")]
    Read(nix::Error),
    #[error("cannot raise RLIMIT_NOFILE to {to}: {source}")]
    Raise { to: u64, source: nix::Error },
}

/// Raises the soft open-files limit to the hard limit (no privilege needed);
/// returns (old soft, new soft).
///
/// # Errors
/// The limit cannot be read or set.
pub fn raise_nofile() -> Result<(u64, u64), NofileError> {
    let (soft, hard) = getrlimit(Resource::RLIMIT_NOFILE).map_err(NofileError::Read)?;
    if soft >= hard {
        return Ok((soft, soft));
    }
    setrlimit(Resource::RLIMIT_NOFILE, hard, hard).map_err(|source| NofileError::Raise { to: hard, source })?;
    Ok((soft, hard))
}

fn write_setting(path: &str, value: &str) -> String {
    match std::fs::write(path, value) {
        Ok(()) => format!("fixed: wrote {value} to {path} (not persistent across reboots; see the fix command to persist)"),
        Err(e) if e.kind() == std::io::ErrorKind::PermissionDenied => {
            format!("could not write {path}: {e}: run `sudo slotctl preflight --fix`")
        }
        Err(e) if e.raw_os_error() == Some(nix::libc::EROFS) => format!(
            "could not write {path}: read-only file system (in a container, set it on the host: {})",
            "sysctl on the host or docker run --sysctl"
        ),
        Err(e) => format!("could not write {path}: {e}"),
    }
}

/// Applies what can be fixed from this process (root for kernel settings)
/// and returns the checks again, each warning with what happened.
pub fn apply_fixes() -> Vec<Check> {
    let root = nix::unistd::geteuid().is_root();
    let before = run_checks();
    let mut results = Vec::new();
    for c in &before {
        if c.level == Level::Ok {
            continue;
        }
        let r = match c.name.as_str() {
            "open files (RLIMIT_NOFILE)" => match raise_nofile() {
                Ok((old, new)) if new >= NOFILE_WANTED => format!("fixed for this process: soft limit {old} -> {new}; slotd raises its own limit the same way at start"),
                Ok((old, new)) => format!("soft limit {old} -> {new} (the hard limit); still below {NOFILE_WANTED}: raise the hard limit (LimitNOFILE= or limits.conf)"),
                Err(e) => e.to_string(),
            },
            _ if !root => format!("not root: run `sudo slotctl preflight --fix`, or by hand: {}", c.fix),
            "vm.overcommit_memory" => write_setting(OVERCOMMIT, "1"),
            "net.core.somaxconn" => write_setting(SOMAXCONN, "1024"),
            "transparent_hugepage" => write_setting(THP, "madvise"),
            _ => "no automatic fix".into(),
        };
        results.push((c.name.clone(), r));
    }
    let mut after = run_checks();
    for c in &mut after {
        if let Some((_, r)) = results.iter().find(|(n, _)| *n == c.name) {
            c.fix_result = Some(r.clone());
        }
    }
    after
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reports_each_check_with_value_why_and_fix() {
        let checks = run_checks();
        let names: Vec<&str> = checks.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(names, vec!["vm.overcommit_memory", "net.core.somaxconn", "transparent_hugepage", "open files (RLIMIT_NOFILE)"]);
        for c in &checks {
            assert!(!c.value.is_empty() && !c.why.is_empty() && !c.fix.is_empty(), "{c:?}");
        }
        // The check agrees with what the kernel says.
        let over = std::fs::read_to_string(OVERCOMMIT).map(|s| s.trim() == "1").ok();
        if let Some(ok) = over {
            assert_eq!(checks[0].level == Level::Ok, ok);
        }
    }

    #[test]
    fn thp_mode_parses_brackets() {
        assert_eq!(thp_mode("always [madvise] never").as_deref(), Some("madvise"));
        assert_eq!(thp_mode("[always] madvise never").as_deref(), Some("always"));
        assert_eq!(thp_mode("garbage"), None);
    }
}
