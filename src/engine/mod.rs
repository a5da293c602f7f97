//! Starting, signalling and watching one node, whatever runs it: a child
//! process (builtin `slotd node` or redis-server), an adopted process from an
//! earlier slotd, or a thread inside slotd (inproc).

pub mod inproc;
pub mod process;
pub mod redis_server;

use crate::supervise::state::ExitInfo;
use nix::sys::signal::Signal;
use std::time::SystemTime;
use tokio::sync::mpsc;

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
    pub fn signal(&self, sig: Signal, group: bool) -> Result<(), String> {
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
