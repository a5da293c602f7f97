//! Node child processes: spawned in their own process group with output to
//! the node's log, watched for exit; and processes adopted from pidfiles.

use super::{EngineError, ExitSender, Exited, Handle, Running};
use crate::supervise::state::ExitInfo;
use nix::sys::signal::{kill, killpg, Signal};
use nix::unistd::{getpgid, Pid};
use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, SystemTime};

/// Spawns `prog args` for a node; its exit is sent on `exits`.
pub fn spawn(prog: &Path, args: &[String], log: &Path, generation: u64, exits: ExitSender) -> Result<Running, EngineError> {
    let open_log = || {
        std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(log)
            .map_err(|source| EngineError::Log { path: log.to_path_buf(), source })
    };
    let out = open_log()?;
    let err = open_log()?;
    let mut cmd = tokio::process::Command::new(prog);
    cmd.args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::from(out))
        .stderr(Stdio::from(err))
        .env_remove("NOTIFY_SOCKET")
        .env_remove("LISTEN_FDS")
        .env_remove("LISTEN_PID")
        // Own process group: a Ctrl-C on slotd's terminal does not reach the
        // nodes, and pause/stop can address the node with its forks.
        .process_group(0)
        .kill_on_drop(false);
    let mut child = cmd.spawn().map_err(|source| EngineError::Spawn { prog: prog.to_path_buf(), source })?;
    let pid = child.id().ok_or(EngineError::NoPid)?;
    tokio::spawn(async move {
        let info = match child.wait().await {
            Ok(st) => ExitInfo { code: st.code(), signal: st.signal() },
            Err(_) => ExitInfo { code: None, signal: None },
        };
        let _ = exits.send(Exited { generation, info });
    });
    Ok(Running { pid: Some(pid), started_at: SystemTime::now(), adopted: false, handle: Handle::Process { pid: pid as i32 } })
}

/// Takes over a node process left by an earlier slotd; its end (no status is
/// available for a process that is not our child) is sent on `exits`.
pub fn adopt(pid: u32, generation: u64, exits: ExitSender) -> Running {
    tokio::spawn(async move {
        while is_alive(pid) {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let _ = exits.send(Exited { generation, info: ExitInfo { code: None, signal: None } });
    });
    Running {
        pid: Some(pid),
        started_at: process_start_time(pid).unwrap_or_else(SystemTime::now),
        adopted: true,
        handle: Handle::Process { pid: pid as i32 },
    }
}

/// The process state letter from /proc (R, S, T, Z...), None if gone.
pub fn proc_state(pid: u32) -> Option<char> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Field 3 follows the ")" that closes the command name.
    stat.rsplit_once(')').and_then(|(_, rest)| rest.split_whitespace().next()).and_then(|s| s.chars().next())
}

/// Whether `pid` is a live process (a zombie counts as dead).
pub fn is_alive(pid: u32) -> bool {
    !matches!(proc_state(pid), Some('Z') | Some('X') | None)
}

/// Waits (up to 1 s) until the process is stopped (`stopped`) or running
/// again, so pause/resume have taken effect when the API answers.
pub async fn await_stopped(pid: u32, stopped: bool) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(1);
    while tokio::time::Instant::now() < deadline {
        match proc_state(pid) {
            None => return,
            Some(c) if (c == 'T') == stopped => return,
            Some(_) => tokio::time::sleep(Duration::from_millis(5)).await,
        }
    }
}

/// When the process started, from /proc (for uptime of adopted nodes).
fn process_start_time(pid: u32) -> Option<SystemTime> {
    let meta = std::fs::metadata(format!("/proc/{pid}")).ok()?;
    meta.modified().ok()
}

/// Sends `sig` to the process, or to its group when `group` and it leads one.
pub fn send_signal(pid: i32, sig: Signal, group: bool) -> Result<(), EngineError> {
    let p = Pid::from_raw(pid);
    let res = if group && getpgid(Some(p)).map(|g| g == p).unwrap_or(false) { killpg(p, sig) } else { kill(p, sig) };
    res.map_err(|source| EngineError::Signal { sig, pid, source })
}
