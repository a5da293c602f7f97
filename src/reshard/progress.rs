//! A running slot move (reshard, rebalance, fix) as a job: counters the
//! mover bumps without locks, a cancel flag checked between batches, and a
//! serializable snapshot that the API returns and slotctl draws as a bar.

use serde::{Deserialize, Serialize};
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Instant;

/// Where a job is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum JobState {
    Running,
    Done,
    Failed,
    Cancelled,
}

/// Counters of one job, shared between the mover and the API.
#[derive(Debug)]
pub struct Job {
    pub id: u64,
    /// "reshard", "rebalance" or "fix".
    pub kind: String,
    /// What was asked, for display ("6381 -> 6382, 100 slots").
    pub summary: String,
    pub slots_total: AtomicU64,
    pub slots_done: AtomicU64,
    pub keys_total: AtomicU64,
    pub keys_done: AtomicU64,
    /// The slot being moved, -1 when none.
    pub current_slot: AtomicI64,
    cancel: AtomicBool,
    started: Instant,
    finished: Mutex<Option<(JobState, Instant, Option<String>)>>,
    /// Human lines about what was done (one per source/target pair).
    pub notes: Mutex<Vec<String>>,
}

/// `GET /v1/cluster/job`: a job as seen now.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct JobView {
    pub id: u64,
    pub kind: String,
    pub summary: String,
    pub state: JobState,
    pub slots_total: u64,
    pub slots_done: u64,
    /// Keys in the slots to move, counted when the job started (writes during
    /// the move can change it).
    pub keys_total: u64,
    pub keys_done: u64,
    pub current_slot: Option<u16>,
    pub elapsed_ms: u64,
    pub keys_per_s: f64,
    /// Estimated seconds left, from the key rate (or the slot rate before any key moved).
    pub eta_s: Option<f64>,
    /// Why it failed or stopped, with what to do next.
    pub message: Option<String>,
    pub notes: Vec<String>,
}

impl Job {
    pub fn new(id: u64, kind: &str, summary: String) -> Job {
        Job {
            id,
            kind: kind.to_string(),
            summary,
            slots_total: AtomicU64::new(0),
            slots_done: AtomicU64::new(0),
            keys_total: AtomicU64::new(0),
            keys_done: AtomicU64::new(0),
            current_slot: AtomicI64::new(-1),
            cancel: AtomicBool::new(false),
            started: Instant::now(),
            finished: Mutex::new(None),
            notes: Mutex::new(Vec::new()),
        }
    }

    /// Asks the mover to stop after the batch in flight.
    pub fn cancel(&self) {
        self.cancel.store(true, Ordering::SeqCst);
    }
    pub fn cancelled(&self) -> bool {
        self.cancel.load(Ordering::SeqCst)
    }
    pub fn add_keys(&self, n: u64) {
        self.keys_done.fetch_add(n, Ordering::Relaxed);
    }
    pub fn note(&self, line: String) {
        if let Ok(mut n) = self.notes.lock() {
            n.push(line);
        }
    }

    pub fn finish(&self, state: JobState, message: Option<String>) {
        if let Ok(mut f) = self.finished.lock() {
            *f = Some((state, Instant::now(), message));
        }
        self.current_slot.store(-1, Ordering::Relaxed);
    }

    pub fn state(&self) -> JobState {
        self.finished.lock().ok().and_then(|f| f.as_ref().map(|x| x.0)).unwrap_or(JobState::Running)
    }

    pub fn view(&self) -> JobView {
        let fin = self.finished.lock().ok().and_then(|f| f.clone());
        let end = fin.as_ref().map(|f| f.1).unwrap_or_else(Instant::now);
        let elapsed = end.saturating_duration_since(self.started);
        let secs = elapsed.as_secs_f64().max(1e-3);
        let keys_done = self.keys_done.load(Ordering::Relaxed);
        let keys_total = self.keys_total.load(Ordering::Relaxed).max(keys_done);
        let slots_total = self.slots_total.load(Ordering::Relaxed);
        let slots_done = self.slots_done.load(Ordering::Relaxed);
        let rate = keys_done as f64 / secs;
        let eta = if fin.is_some() {
            Some(0.0)
        } else if keys_done > 0 && keys_total > keys_done {
            Some((keys_total - keys_done) as f64 / rate)
        } else if slots_done > 0 && slots_total > slots_done {
            Some((slots_total - slots_done) as f64 * secs / slots_done as f64)
        } else {
            None
        };
        let cur = self.current_slot.load(Ordering::Relaxed);
        JobView {
            id: self.id,
            kind: self.kind.clone(),
            summary: self.summary.clone(),
            state: fin.as_ref().map(|f| f.0).unwrap_or(JobState::Running),
            slots_total,
            slots_done,
            keys_total,
            keys_done,
            current_slot: u16::try_from(cur).ok(),
            elapsed_ms: elapsed.as_millis() as u64,
            keys_per_s: (rate * 10.0).round() / 10.0,
            eta_s: eta,
            message: fin.and_then(|f| f.2),
            notes: self.notes.lock().map(|n| n.clone()).unwrap_or_default(),
        }
    }
}

/// One job at a time; the last one stays visible after it ends.
#[derive(Debug, Default)]
pub struct Jobs {
    current: Mutex<Option<std::sync::Arc<Job>>>,
    next_id: AtomicU64,
}

impl Jobs {
    /// Registers a new job unless one is running (then returns that one as Err).
    pub fn begin(&self, kind: &str, summary: String) -> Result<std::sync::Arc<Job>, std::sync::Arc<Job>> {
        let mut cur = self.current.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(j) = cur.as_ref() {
            if j.state() == JobState::Running {
                return Err(j.clone());
            }
        }
        let id = self.next_id.fetch_add(1, Ordering::Relaxed) + 1;
        let job = std::sync::Arc::new(Job::new(id, kind, summary));
        *cur = Some(job.clone());
        Ok(job)
    }

    pub fn current(&self) -> Option<std::sync::Arc<Job>> {
        self.current.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }
}

/// "1:05" / "1:02:05".
pub fn clock(secs: f64) -> String {
    let s = secs.max(0.0).round() as u64;
    let (h, m, sec) = (s / 3600, (s % 3600) / 60, s % 60);
    if h > 0 {
        format!("{h}:{m:02}:{sec:02}")
    } else {
        format!("{m}:{sec:02}")
    }
}

/// One line for logs and non-terminal output.
pub fn line(v: &JobView) -> String {
    let eta = v.eta_s.map(clock).unwrap_or_else(|| "?".into());
    let cur = v.current_slot.map(|s| format!(", slot {s}")).unwrap_or_default();
    format!(
        "{}: {}/{} slots, {}/{} keys, {:.0} keys/s, ETA {eta}{cur}",
        v.kind, v.slots_done, v.slots_total, v.keys_done, v.keys_total, v.keys_per_s
    )
}

/// A terminal progress bar of `width` cells, drawn over the current line.
pub fn bar(v: &JobView, width: usize) -> String {
    let frac = if v.keys_total > 0 {
        v.keys_done as f64 / v.keys_total as f64
    } else if v.slots_total > 0 {
        v.slots_done as f64 / v.slots_total as f64
    } else {
        0.0
    }
    .clamp(0.0, 1.0);
    let filled = (frac * width as f64).round() as usize;
    format!("[{}{}] {:>3.0}% {}", "#".repeat(filled), "-".repeat(width - filled.min(width)), frac * 100.0, line(v))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_job_at_a_time_and_eta() {
        let jobs = Jobs::default();
        let j = jobs.begin("reshard", "a -> b".into()).unwrap();
        assert!(jobs.begin("fix", String::new()).is_err(), "second job refused while one runs");
        j.slots_total.store(10, Ordering::Relaxed);
        j.keys_total.store(100, Ordering::Relaxed);
        j.add_keys(50);
        let v = j.view();
        assert_eq!(v.state, JobState::Running);
        assert!(v.eta_s.is_some());
        assert!(bar(&v, 10).starts_with("[#####-----]  50%"), "{}", bar(&v, 10));
        j.finish(JobState::Done, None);
        assert_eq!(j.view().eta_s, Some(0.0));
        assert!(jobs.begin("fix", String::new()).is_ok(), "a finished job makes room");
        assert_eq!(clock(3725.0), "1:02:05");
    }
}
