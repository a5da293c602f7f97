//! Node process states (supervisord's names plus PAUSED) and the only
//! transitions allowed between them, kept pure so they can be unit-tested.

use crate::config::RestartPolicy;
use serde::{Deserialize, Serialize};
use std::fmt;

/// A node's supervision state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum State {
    /// Not running, and slotd was asked (or configured) to leave it so.
    Stopped,
    /// Started, not yet answering PING.
    Starting,
    /// Answered PING.
    Running,
    /// Waiting before the next start attempt.
    Backoff,
    /// SIGTERM sent, waiting for it to exit.
    Stopping,
    /// Exited: killed by the user, or exited and not restarted by policy.
    Exited,
    /// Could not be kept running after `start_retries` attempts.
    Fatal,
    /// Frozen (SIGSTOP or in-process pause); sockets stay open.
    Paused,
    /// A node on another host whose slotd does not answer: only in a
    /// multi-host status view, never a state this slotd's supervisor is in.
    Unreachable,
}

impl State {
    pub const ALL: [State; 8] =
        [State::Stopped, State::Starting, State::Running, State::Backoff, State::Stopping, State::Exited, State::Fatal, State::Paused];

    /// Whether a node process exists in this state.
    pub fn has_process(self) -> bool {
        matches!(self, State::Starting | State::Running | State::Stopping | State::Paused)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            State::Stopped => "STOPPED",
            State::Starting => "STARTING",
            State::Running => "RUNNING",
            State::Backoff => "BACKOFF",
            State::Stopping => "STOPPING",
            State::Exited => "EXITED",
            State::Fatal => "FATAL",
            State::Paused => "PAUSED",
            State::Unreachable => "UNREACHABLE",
        }
    }
}

impl fmt::Display for State {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Every allowed (from, to) transition.
pub const TRANSITIONS: &[(State, State)] = &[
    (State::Stopped, State::Starting),
    (State::Exited, State::Starting),
    (State::Fatal, State::Starting),
    (State::Backoff, State::Starting),
    (State::Starting, State::Running),
    (State::Starting, State::Backoff),
    (State::Starting, State::Fatal),
    (State::Starting, State::Stopping),
    (State::Starting, State::Exited),
    (State::Running, State::Stopping),
    (State::Running, State::Exited),
    (State::Running, State::Paused),
    (State::Paused, State::Running),
    (State::Paused, State::Stopping),
    (State::Paused, State::Exited),
    (State::Stopping, State::Stopped),
    (State::Exited, State::Backoff),
    (State::Exited, State::Fatal),
    (State::Backoff, State::Stopped),
    (State::Backoff, State::Fatal),
];

/// Whether `from -> to` is allowed.
pub fn allowed(from: State, to: State) -> bool {
    TRANSITIONS.contains(&(from, to))
}

/// How a node process ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExitInfo {
    /// Exit code when it exited normally.
    pub code: Option<i32>,
    /// Signal number when a signal ended it.
    pub signal: Option<i32>,
}

impl ExitInfo {
    /// Exit code 0 is the only expected way for a node to end on its own.
    pub fn clean(&self) -> bool {
        self.code == Some(0) && self.signal.is_none()
    }
}

impl fmt::Display for ExitInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.code, self.signal) {
            (_, Some(sig)) => write!(f, "killed by signal {sig}"),
            (Some(c), None) => write!(f, "exit code {c}"),
            (None, None) => write!(f, "exit status unknown"),
        }
    }
}

/// What to do after a node process ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AfterExit {
    /// Slotd caused it or policy says leave it: go to this state and stay.
    Stay(State),
    /// Restart after a backoff delay (attempt number, 1-based).
    Restart { attempt: u32 },
    /// Retries are used up.
    Fatal,
}

/// Decides what follows an exit. `caused_by_user`: slotd stopped/killed it on
/// request, which is never undone; `attempts`: restarts already tried in a row.
pub fn after_exit(
    state: State,
    exit: ExitInfo,
    caused_by_user: bool,
    policy: RestartPolicy,
    attempts: u32,
    start_retries: u32,
) -> AfterExit {
    if caused_by_user {
        return AfterExit::Stay(if state == State::Stopping { State::Stopped } else { State::Exited });
    }
    let restart = match policy {
        RestartPolicy::Never => false,
        RestartPolicy::Always => true,
        RestartPolicy::Unexpected => !exit.clean(),
    };
    // Supervisord: a process that dies while STARTING always counts as a failed start.
    if !restart && state != State::Starting {
        return AfterExit::Stay(State::Exited);
    }
    if attempts >= start_retries {
        return AfterExit::Fatal;
    }
    AfterExit::Restart { attempt: attempts + 1 }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KILLED: ExitInfo = ExitInfo { code: None, signal: Some(9) };
    const CLEAN: ExitInfo = ExitInfo { code: Some(0), signal: None };

    #[test]
    fn transition_table() {
        assert!(allowed(State::Stopped, State::Starting));
        assert!(allowed(State::Starting, State::Running));
        assert!(allowed(State::Running, State::Paused));
        assert!(allowed(State::Paused, State::Running));
        assert!(!allowed(State::Stopped, State::Running), "must pass STARTING (PING) first");
        assert!(!allowed(State::Fatal, State::Running));
        assert!(!allowed(State::Paused, State::Starting));
        assert!(!allowed(State::Stopping, State::Running));
        for s in State::ALL {
            assert!(!allowed(s, s), "{s} -> {s} is not a transition");
            // Every state can be left, and every state but STOPPED can be reached.
            assert!(TRANSITIONS.iter().any(|(f, _)| *f == s), "{s} is a dead end");
        }
        for s in State::ALL.iter().filter(|s| **s != State::Stopped) {
            assert!(TRANSITIONS.iter().any(|(_, t)| t == s), "{s} unreachable");
        }
    }

    #[test]
    fn user_kill_and_stop_are_never_undone() {
        for policy in [RestartPolicy::Never, RestartPolicy::Unexpected, RestartPolicy::Always] {
            assert_eq!(after_exit(State::Running, KILLED, true, policy, 0, 3), AfterExit::Stay(State::Exited));
            assert_eq!(after_exit(State::Stopping, CLEAN, true, policy, 0, 3), AfterExit::Stay(State::Stopped));
        }
    }

    #[test]
    fn crashes_follow_policy_then_fatal() {
        assert_eq!(after_exit(State::Running, KILLED, false, RestartPolicy::Unexpected, 0, 3), AfterExit::Restart { attempt: 1 });
        assert_eq!(after_exit(State::Running, KILLED, false, RestartPolicy::Unexpected, 2, 3), AfterExit::Restart { attempt: 3 });
        assert_eq!(after_exit(State::Running, KILLED, false, RestartPolicy::Unexpected, 3, 3), AfterExit::Fatal);
        assert_eq!(after_exit(State::Running, CLEAN, false, RestartPolicy::Unexpected, 0, 3), AfterExit::Stay(State::Exited));
        assert_eq!(after_exit(State::Running, CLEAN, false, RestartPolicy::Always, 0, 3), AfterExit::Restart { attempt: 1 });
        assert_eq!(after_exit(State::Running, KILLED, false, RestartPolicy::Never, 0, 3), AfterExit::Stay(State::Exited));
        // A failed start is retried even under "never", like supervisord's startretries.
        assert_eq!(
            after_exit(State::Starting, ExitInfo { code: Some(1), signal: None }, false, RestartPolicy::Never, 0, 2),
            AfterExit::Restart { attempt: 1 }
        );
        assert_eq!(
            after_exit(State::Starting, ExitInfo { code: Some(1), signal: None }, false, RestartPolicy::Never, 2, 2),
            AfterExit::Fatal
        );
    }
}
