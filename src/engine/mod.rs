//! Starting, signalling and watching one node, whatever runs it: a child
//! process (builtin `slotd node` or redis-server), an adopted process from an
//! earlier slotd, or a thread inside slotd (inproc).

pub mod inproc;
pub mod process;
pub mod redis_server;

use crate::supervise::state::ExitInfo;
use nix::sys::signal::Signal;
use std::path::PathBuf;
use std::time::SystemTime;
use tokio::sync::mpsc;

/// Why a node could not be started or signalled.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error("cannot open log {path}: {source}")]
    Log { path: PathBuf, source: std::io::Error },
    #[error("cannot start {prog}: {source}")]
    Spawn { prog: PathBuf, source: std::io::Error },
    #[error("child exited before its pid was read")]
    NoPid,
    #[error("cannot send {sig} to pid {pid}: {source}")]
    Signal { sig: Signal, pid: i32, source: nix::Error },
    #[error("`{0}` is not an executable file or in PATH: install Redis 7 (`apt-get install redis-server`) or set engine.redis_server")]
    NoRedisServer(PathBuf),
    #[error("cannot find slotd's own executable to start a builtin node: {0}")]
    OwnExe(std::io::Error),
    #[error("cannot read the fault hook token: {0}")]
    Token(String),
    #[error(transparent)]
    Config(#[from] node_engine::ConfigError),
    #[error(transparent)]
    Start(#[from] node_engine::StartError),
    #[error("node start task failed: {0}")]
    Task(#[from] tokio::task::JoinError),
}

/// A started node; its end is reported once on the channel given at start.
pub struct Running {
    /// OS process id (slotd's own pid for inproc nodes).
    pub pid: Option<u32>,
    pub started_at: SystemTime,
    /// Whether it was found running from an earlier slotd.
    pub adopted: bool,
    pub handle: Handle,
}

/// How signals reach the node.
pub enum Handle {
    Process { pid: i32 },
    Inproc(std::sync::Arc<node_engine::NodeHandle>),
}

/// Reported when a node ends: the generation it was started with, and how.
#[derive(Debug, Clone, Copy)]
pub struct Exited {
    pub generation: u64,
    pub info: ExitInfo,
}

/// Where exit reports go, tagged with the start generation.
pub type ExitSender = mpsc::UnboundedSender<Exited>;

impl Running {
    /// Delivers a signal: processes get it for real (to the whole process
    /// group when `group`); in-process nodes map it to kill/shutdown/pause/resume.
    pub fn signal(&self, sig: Signal, group: bool) -> Result<(), EngineError> {
        match &self.handle {
            Handle::Process { pid } => process::send_signal(*pid, sig, group),
            Handle::Inproc(h) => {
                match sig {
                    Signal::SIGSTOP | Signal::SIGTSTP => h.pause(),
                    Signal::SIGCONT => h.resume(),
                    Signal::SIGTERM | Signal::SIGINT => h.shutdown(),
                    _ => h.kill(),
                }
                Ok(())
            }
        }
    }
}
