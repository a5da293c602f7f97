//! One node's lifecycle as a pure state machine: `(phase, event) -> (phase,
//! effects)`. The phases carry their data (deadlines, attempt numbers); the
//! worker in `mod.rs` only carries the effects out (spawn, signal, ping) and
//! feeds back what happened. Every phase change goes through
//! [`Lifecycle::goto`], which refuses a transition not in
//! [`super::state::TRANSITIONS`]: the tests drive every event from every
//! phase and fail on such a bug.

use super::backoff;
use super::state::{after_exit, allowed, AfterExit, ExitInfo, State};
use crate::config::RestartConfig;
use nix::sys::signal::Signal;
use std::time::Duration;
use tokio::time::Instant;

/// A node that stays RUNNING this long has its retry count reset.
pub const STABLE_AFTER: Duration = Duration::from_secs(10);

/// Where a node is, with what that phase needs to know.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    Stopped,
    /// A process is being started (`deadline` None until it is spawned, and
    /// again once the deadline passed and it was killed).
    Starting {
        deadline: Option<Instant>,
    },
    Running {
        since: Instant,
    },
    /// The next start attempt, and when it is due.
    Backoff {
        attempt: u32,
        until: Instant,
    },
    /// SIGTERM sent; SIGKILL at `deadline` (None once sent).
    Stopping {
        deadline: Option<Instant>,
    },
    Exited,
    Fatal,
    Paused,
}

impl Phase {
    /// The state the API and slotctl show.
    pub fn state(&self) -> State {
        match self {
            Phase::Stopped => State::Stopped,
            Phase::Starting { .. } => State::Starting,
            Phase::Running { .. } => State::Running,
            Phase::Backoff { .. } => State::Backoff,
            Phase::Stopping { .. } => State::Stopping,
            Phase::Exited => State::Exited,
            Phase::Fatal => State::Fatal,
            Phase::Paused => State::Paused,
        }
    }
}

/// The status message while a starting node answers PING with `-LOADING`.
pub const LOADING_MSG: &str = "loading its dataset";

/// What happened to the node, or what the user asked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// The user (or slotd's start-up) wants the node started.
    Start,
    /// A process was spawned.
    Spawned,
    /// Spawning failed before any process existed.
    SpawnFailed(String),
    /// A node left running by an earlier slotd was adopted.
    Adopted,
    /// The periodic tick.
    Tick,
    /// Answer to [`Effect::Ping`].
    Pinged(bool),
    /// PING was answered `-LOADING`: the node is alive and reading its
    /// dataset, which may take longer than the start timeout.
    Loading,
    /// The current process ended.
    Exited(ExitInfo),
    /// The backoff delay is over.
    BackoffDue,
    Stop,
    /// SIGTERM was delivered (after [`Effect::Terminate`]).
    TermSent,
    Kill(Signal),
    Pause,
    /// The process is frozen (after [`Effect::Freeze`]).
    Frozen,
    Resume,
    /// The process runs again (after [`Effect::Thaw`]).
    Thawed,
}

/// What the worker must do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Effect {
    /// Start a process, then report [`Event::Spawned`] or [`Event::SpawnFailed`].
    Spawn,
    /// PING the node, then report [`Event::Pinged`].
    Ping,
    /// Send SIGTERM (continuing a frozen process so it can act on it), then report [`Event::TermSent`].
    Terminate { frozen: bool },
    /// Send a signal the user asked for; continue a frozen process after it when `cont`.
    Signal { sig: Signal, cont: bool },
    /// SIGKILL a process that missed a deadline.
    ForceKill,
    /// SIGSTOP and wait until stopped, then report [`Event::Frozen`].
    Freeze,
    /// SIGCONT and wait until running, then report [`Event::Thawed`].
    Thaw,
}

/// Why an event was refused in the current phase (HTTP 409).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Refused(pub String);

/// A node's lifecycle and the counters its status shows.
#[derive(Debug, Clone)]
pub struct Lifecycle {
    pub phase: Phase,
    /// Failed starts/crashes in a row (reset after a stable run).
    pub attempts: u32,
    /// Automatic restarts since slotd started.
    pub restarts: u32,
    /// Why the node is not running, when known.
    pub message: Option<String>,
    /// Whether a process exists (spawned or adopted, not yet ended).
    pub has_process: bool,
    /// The current process is ending because the user asked (stop/kill): never undone.
    user_caused: bool,
    name: String,
    port: u16,
    log: String,
}

impl Lifecycle {
    /// A stopped node; `log` is where its start-up errors can be read.
    pub fn new(name: String, port: u16, log: String) -> Self {
        Lifecycle {
            phase: Phase::Stopped,
            attempts: 0,
            restarts: 0,
            message: None,
            has_process: false,
            user_caused: false,
            name,
            port,
            log,
        }
    }

    pub fn state(&self) -> State {
        self.phase.state()
    }

    /// When the worker must feed [`Event::BackoffDue`].
    pub fn backoff_due(&self) -> Option<Instant> {
        match self.phase {
            Phase::Backoff { until, .. } => Some(until),
            _ => None,
        }
    }

    /// Moves to `to`.
    ///
    /// # Panics
    /// On a transition the table does not allow: a bug in this machine, which its tests catch.
    fn goto(&mut self, to: Phase) {
        let (from, next) = (self.state(), to.state());
        if from != next {
            assert!(allowed(from, next), "{}: transition {from} -> {next} is not in the table", self.name);
            tracing::info!(node = %self.name, "{from} -> {next}");
        }
        self.phase = to;
    }

    fn not_running(&self, what: &str) -> Refused {
        Refused(format!("cannot {what} {}: it is {} (not running); start it with `slotctl start {}`", self.name, self.state(), self.port))
    }

    /// Applies one event at `now` under the restart settings `cfg`.
    ///
    /// # Errors
    /// The event is a user request the current phase refuses.
    pub fn handle(&mut self, event: Event, now: Instant, cfg: &RestartConfig) -> Result<Vec<Effect>, Refused> {
        let st = self.state();
        let mut fx = Vec::new();
        match event {
            Event::Start => match st {
                // A phase never maps to Unreachable (remote nodes only).
                State::Running | State::Starting | State::Paused | State::Unreachable => {}
                State::Stopping => return Err(Refused(format!("{} is stopping; start it again once it is STOPPED", self.name))),
                State::Stopped | State::Exited | State::Fatal | State::Backoff => {
                    self.attempts = 0;
                    self.launch(&mut fx);
                }
            },
            Event::BackoffDue => {
                if st == State::Backoff {
                    self.restarts += 1;
                    self.launch(&mut fx);
                }
            }
            Event::Spawned => {
                if st != State::Starting {
                    return Ok(fx);
                }
                self.has_process = true;
                self.message = None;
                self.phase = Phase::Starting { deadline: Some(now + Duration::from_millis(cfg.start_timeout_ms)) };
            }
            Event::SpawnFailed(msg) => {
                if st != State::Starting || self.has_process {
                    return Ok(fx);
                }
                tracing::warn!(node = %self.name, "cannot start: {msg}");
                self.message = Some(msg);
                self.decide(State::Starting, ExitInfo { code: Some(1), signal: None }, now, cfg);
            }
            Event::Adopted => {
                if st != State::Stopped {
                    return Ok(fx);
                }
                self.has_process = true;
                self.user_caused = false;
                self.message = None;
                self.goto(Phase::Starting { deadline: Some(now + Duration::from_millis(cfg.start_timeout_ms)) });
            }
            Event::Tick => match self.phase {
                Phase::Starting { .. } if self.has_process => fx.push(Effect::Ping),
                Phase::Stopping { deadline: Some(d) } if now >= d => {
                    tracing::warn!(node = %self.name, "did not stop within stop_timeout_ms; sending SIGKILL");
                    self.phase = Phase::Stopping { deadline: None };
                    fx.push(Effect::ForceKill);
                }
                Phase::Running { since } if now.duration_since(since) >= STABLE_AFTER && self.attempts > 0 => self.attempts = 0,
                _ => {}
            },
            Event::Pinged(ok) => {
                if let Phase::Starting { deadline } = self.phase {
                    if ok && self.has_process {
                        self.message = None;
                        self.goto(Phase::Running { since: now });
                    } else if deadline.is_some_and(|d| now >= d) {
                        self.message =
                            Some(format!("did not answer PING within {} ms of starting (restart.start_timeout_ms)", cfg.start_timeout_ms));
                        self.phase = Phase::Starting { deadline: None };
                        fx.push(Effect::ForceKill);
                    }
                }
            }
            Event::Loading => {
                if let Phase::Starting { deadline: Some(_) } = self.phase {
                    // Progress, not a hang: the start timeout counts from the last sign of life.
                    self.message = Some(LOADING_MSG.into());
                    self.phase = Phase::Starting { deadline: Some(now + Duration::from_millis(cfg.start_timeout_ms)) };
                }
            }
            Event::Exited(info) => {
                if !self.has_process {
                    return Ok(fx);
                }
                self.has_process = false;
                tracing::info!(node = %self.name, "process ended: {info}");
                if st == State::Starting && !self.user_caused && self.message.as_deref().is_none_or(|m| m == LOADING_MSG) {
                    self.message = Some(format!("exited during start-up ({info}); see {}", self.log));
                }
                self.decide(st, info, now, cfg);
            }
            Event::Stop => match st {
                State::Backoff => self.goto(Phase::Stopped),
                State::Starting | State::Running | State::Paused if self.has_process => {
                    fx.push(Effect::Terminate { frozen: st == State::Paused });
                }
                State::Starting | State::Running | State::Paused => return Err(Refused(format!("{}: no process to stop", self.name))),
                State::Stopped | State::Exited | State::Fatal | State::Stopping | State::Unreachable => {}
            },
            Event::TermSent => {
                if matches!(st, State::Starting | State::Running | State::Paused) {
                    self.user_caused = true;
                    self.goto(Phase::Stopping { deadline: Some(now + Duration::from_millis(cfg.stop_timeout_ms)) });
                }
            }
            Event::Kill(Signal::SIGSTOP) => return self.handle(Event::Pause, now, cfg),
            Event::Kill(Signal::SIGCONT) => return self.handle(Event::Resume, now, cfg),
            Event::Kill(sig) => {
                if !st.has_process() || !self.has_process {
                    return Err(self.not_running("kill"));
                }
                if super::terminates(sig) {
                    self.user_caused = true;
                }
                tracing::warn!(node = %self.name, "sending {sig} on user request");
                fx.push(Effect::Signal { sig, cont: st == State::Paused && sig != Signal::SIGKILL });
            }
            Event::Pause => match st {
                State::Paused => {}
                State::Running if self.has_process => fx.push(Effect::Freeze),
                State::Running => self.goto(Phase::Paused),
                _ => return Err(self.not_running("pause")),
            },
            Event::Frozen => {
                if st == State::Running {
                    self.goto(Phase::Paused);
                }
            }
            Event::Resume => match st {
                State::Running => {}
                State::Paused if self.has_process => fx.push(Effect::Thaw),
                State::Paused => self.goto(Phase::Running { since: now }),
                _ => return Err(Refused(format!("cannot resume {}: it is {st}, not PAUSED", self.name))),
            },
            Event::Thawed => {
                if st == State::Paused {
                    self.goto(Phase::Running { since: now });
                }
            }
        }
        Ok(fx)
    }

    /// Starts a new process: STARTING, and the worker spawns it.
    fn launch(&mut self, fx: &mut Vec<Effect>) {
        self.user_caused = false;
        self.goto(Phase::Starting { deadline: None });
        fx.push(Effect::Spawn);
    }

    /// Applies the restart policy after the process ended in state `from`.
    fn decide(&mut self, from: State, info: ExitInfo, now: Instant, cfg: &RestartConfig) {
        match after_exit(from, info, self.user_caused, cfg.policy, self.attempts, cfg.start_retries) {
            AfterExit::Stay(State::Stopped) => self.goto(Phase::Stopped),
            AfterExit::Stay(_) => self.goto(Phase::Exited),
            AfterExit::Restart { attempt } => {
                if from != State::Starting {
                    self.goto(Phase::Exited);
                }
                let delay = backoff::delay(attempt, cfg.backoff_ms, cfg.backoff_max_ms);
                tracing::warn!(node = %self.name, "restart attempt {attempt} of {} in {} ms", cfg.start_retries, delay.as_millis());
                self.attempts = attempt;
                self.goto(Phase::Backoff { attempt, until: now + delay });
            }
            AfterExit::Fatal => {
                if from != State::Starting {
                    self.goto(Phase::Exited);
                }
                tracing::error!(
                    node = %self.name,
                    "gave up after {} restart attempts; `slotctl start {}` tries again",
                    cfg.start_retries,
                    self.port
                );
                self.goto(Phase::Fatal);
            }
        }
        self.user_caused = false;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::RestartPolicy;

    fn cfg() -> RestartConfig {
        RestartConfig {
            policy: RestartPolicy::Unexpected,
            start_retries: 3,
            backoff_ms: 100,
            backoff_max_ms: 1000,
            start_timeout_ms: 5000,
            stop_timeout_ms: 2000,
        }
    }

    const KILLED: ExitInfo = ExitInfo { code: None, signal: Some(9) };

    fn node() -> Lifecycle {
        Lifecycle::new("node7000".into(), 7000, "/tmp/node7000.log".into())
    }

    /// Feeds events, answering each effect the way a healthy worker would.
    fn run(l: &mut Lifecycle, events: &[Event], now: Instant) -> Vec<Effect> {
        let mut all = Vec::new();
        for e in events {
            let fx = l.handle(e.clone(), now, &cfg()).unwrap_or_default();
            all.extend(fx);
        }
        all
    }

    #[test]
    fn start_ping_run_then_crash_backs_off_and_restarts() {
        let t = Instant::now();
        let mut l = node();
        assert_eq!(run(&mut l, &[Event::Start], t), [Effect::Spawn]);
        run(&mut l, &[Event::Spawned], t);
        assert_eq!(l.phase, Phase::Starting { deadline: Some(t + Duration::from_millis(5000)) });
        assert_eq!(run(&mut l, &[Event::Tick], t), [Effect::Ping]);
        run(&mut l, &[Event::Pinged(true)], t);
        assert_eq!(l.phase, Phase::Running { since: t });
        run(&mut l, &[Event::Exited(KILLED)], t);
        assert_eq!(l.phase, Phase::Backoff { attempt: 1, until: t + Duration::from_millis(100) });
        assert_eq!(l.backoff_due(), Some(t + Duration::from_millis(100)));
        assert_eq!(run(&mut l, &[Event::BackoffDue], t), [Effect::Spawn]);
        assert_eq!((l.state(), l.restarts, l.attempts), (State::Starting, 1, 1));
    }

    #[test]
    fn a_stop_is_never_undone_and_a_missed_deadline_kills() {
        let t = Instant::now();
        let mut l = node();
        run(&mut l, &[Event::Start, Event::Spawned, Event::Pinged(true)], t);
        assert_eq!(run(&mut l, &[Event::Stop], t), [Effect::Terminate { frozen: false }]);
        run(&mut l, &[Event::TermSent], t);
        assert_eq!(l.state(), State::Stopping);
        assert_eq!(run(&mut l, &[Event::Tick], t + Duration::from_millis(2001)), [Effect::ForceKill]);
        run(&mut l, &[Event::Exited(KILLED)], t);
        assert_eq!(l.state(), State::Stopped, "a user stop stays stopped, whatever the policy");
    }

    #[test]
    fn a_node_loading_its_dataset_is_not_killed_at_the_start_deadline() {
        let t = Instant::now();
        let mut l = node();
        run(&mut l, &[Event::Start, Event::Spawned], t);
        // Each LOADING answer pushes the deadline: 20 s of loading, then up.
        for s in 1..=20 {
            assert!(run(&mut l, &[Event::Loading], t + Duration::from_secs(s)).is_empty());
            assert!(run(&mut l, &[Event::Pinged(false)], t + Duration::from_secs(s) + Duration::from_millis(10)).is_empty(), "{s}");
        }
        assert_eq!(l.state(), State::Starting);
        run(&mut l, &[Event::Pinged(true)], t + Duration::from_secs(21));
        assert_eq!(l.state(), State::Running);
        // Silence after loading stopped answering still kills at the deadline.
        let mut l = node();
        run(&mut l, &[Event::Start, Event::Spawned, Event::Loading], t);
        assert_eq!(run(&mut l, &[Event::Pinged(false)], t + Duration::from_millis(5000)), [Effect::ForceKill]);
    }

    #[test]
    fn a_silent_start_is_killed_at_its_deadline_and_counts_as_failed() {
        let t = Instant::now();
        let mut l = node();
        run(&mut l, &[Event::Start, Event::Spawned], t);
        assert!(run(&mut l, &[Event::Pinged(false)], t + Duration::from_millis(10)).is_empty());
        assert_eq!(run(&mut l, &[Event::Pinged(false)], t + Duration::from_millis(5000)), [Effect::ForceKill]);
        assert!(l.message.as_deref().is_some_and(|m| m.contains("did not answer PING")), "{:?}", l.message);
        run(&mut l, &[Event::Exited(KILLED)], t);
        assert_eq!(l.state(), State::Backoff);
    }

    #[test]
    fn retries_run_out_into_fatal_and_a_stable_run_resets_them() {
        let t = Instant::now();
        let mut l = node();
        run(&mut l, &[Event::Start, Event::Spawned, Event::Exited(ExitInfo { code: Some(1), signal: None })], t);
        for attempt in 1..=3 {
            assert_eq!(l.phase, Phase::Backoff { attempt, until: t + backoff::delay(attempt, 100, 1000) });
            run(&mut l, &[Event::BackoffDue, Event::Spawned, Event::Exited(KILLED)], t);
        }
        assert_eq!(l.state(), State::Fatal);
        run(&mut l, &[Event::Start, Event::Spawned, Event::Pinged(true)], t);
        run(&mut l, &[Event::Exited(KILLED)], t);
        assert_eq!(l.attempts, 1);
        run(&mut l, &[Event::BackoffDue, Event::Spawned, Event::Pinged(true)], t);
        run(&mut l, &[Event::Tick], t + STABLE_AFTER);
        assert_eq!(l.attempts, 0);
    }

    #[test]
    fn user_requests_in_the_wrong_phase_are_refused() {
        let t = Instant::now();
        let mut l = node();
        assert!(l.handle(Event::Kill(Signal::SIGKILL), t, &cfg()).is_err());
        assert!(l.handle(Event::Pause, t, &cfg()).is_err());
        assert!(l.handle(Event::Resume, t, &cfg()).is_err());
        run(&mut l, &[Event::Start, Event::Spawned, Event::Pinged(true), Event::Stop, Event::TermSent], t);
        assert!(l.handle(Event::Start, t, &cfg()).is_err(), "starting a STOPPING node");
    }

    /// Every event from every reachable phase, several steps deep: no
    /// transition outside the table (`goto` panics on one).
    #[test]
    fn no_event_sequence_makes_an_illegal_transition() {
        let t = Instant::now();
        let events = [
            Event::Start,
            Event::Spawned,
            Event::SpawnFailed("x".into()),
            Event::Adopted,
            Event::Tick,
            Event::Pinged(true),
            Event::Pinged(false),
            Event::Exited(KILLED),
            Event::Exited(ExitInfo { code: Some(0), signal: None }),
            Event::BackoffDue,
            Event::Stop,
            Event::TermSent,
            Event::Kill(Signal::SIGKILL),
            Event::Kill(Signal::SIGUSR1),
            Event::Kill(Signal::SIGSTOP),
            Event::Pause,
            Event::Frozen,
            Event::Resume,
            Event::Thawed,
        ];
        // Random walks (a fixed-seed LCG, so a failure replays), with one
        // retry so FATAL is within reach.
        let cfg = RestartConfig { start_retries: 1, ..cfg() };
        let mut seed: u64 = 0x2545_f491_4f6c_dd1d;
        let mut seen_states = std::collections::HashSet::new();
        for _walk in 0..3000 {
            let mut l = node();
            let mut now = t;
            for _step in 0..40 {
                seed = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
                let e = &events[(seed >> 33) as usize % events.len()];
                now += Duration::from_millis((seed >> 20) % 3000);
                let _ = l.handle(e.clone(), now, &cfg);
                seen_states.insert(l.state());
            }
        }
        for s in State::ALL {
            assert!(seen_states.contains(&s), "{s} never reached");
        }
    }
}
