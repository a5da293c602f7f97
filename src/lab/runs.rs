//! Scenario runs started through the API (the dashboard's lab panel): one at
//! a time, its narrative readable while it runs, and each scenario's last
//! result kept in `<data_dir>/lab-results.json` so it survives a restart.

use super::runner::{self, Outcome, RunOptions};
use super::scenario::Scenario;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

/// How a scenario's most recent run ended.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LastResult {
    pub engine: String,
    pub passed: bool,
    /// Unix ms when it ended.
    pub finished_ms: u64,
    /// PASS/FAIL counts over every variant.
    pub checks_passed: usize,
    pub checks_total: usize,
    /// The first error or failed check, for the list.
    pub summary: String,
}

/// The run in progress or the one that ended last.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RunView {
    pub id: u64,
    pub scenario: String,
    pub engine: String,
    /// "running", "passed" or "failed".
    pub state: String,
    pub started_ms: u64,
    pub finished_ms: Option<u64>,
    /// Narrative lines so far (every variant, in order).
    pub narrative: Vec<String>,
    /// The full reports (as `slotctl lab run` prints them), once it ended.
    pub reports: Vec<String>,
}

/// Why a run cannot start.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error("lab scenario `{0}` is still running; wait for it to end (GET /v1/lab/run)")]
    Busy(String),
    #[error("engine must be `builtin` or `redis-server`, not `{0}`")]
    Engine(String),
}

struct Current {
    view: RunView,
    live: Arc<Mutex<Vec<String>>>,
}

/// The registry the API keeps.
pub struct LabRuns {
    slotd_bin: PathBuf,
    results_file: PathBuf,
    current: Mutex<Option<Current>>,
    last: Mutex<BTreeMap<String, LastResult>>,
}

fn now_ms() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as u64).unwrap_or(0)
}

impl LabRuns {
    /// `slotd_bin` runs each scenario's own slotd; results live in `data_dir`.
    pub fn new(slotd_bin: PathBuf, data_dir: &std::path::Path) -> LabRuns {
        let results_file = data_dir.join("lab-results.json");
        let last = std::fs::read(&results_file).ok().and_then(|b| serde_json::from_slice(&b).ok()).unwrap_or_default();
        LabRuns { slotd_bin, results_file, current: Mutex::new(None), last: Mutex::new(last) }
    }

    /// Each scenario's last result.
    pub fn last_results(&self) -> BTreeMap<String, LastResult> {
        self.last.lock().map(|l| l.clone()).unwrap_or_default()
    }

    /// The running or last run, with its narrative up to now.
    pub fn view(&self) -> Option<RunView> {
        let cur = self.current.lock().ok()?;
        let c = cur.as_ref()?;
        let mut v = c.view.clone();
        if v.state == "running" {
            v.narrative = c.live.lock().map(|l| l.clone()).unwrap_or_default();
        }
        Some(v)
    }

    /// Starts `scenario` on a fresh cluster of its own in the background.
    ///
    /// # Errors
    /// Another run is going, or the engine is unknown.
    pub fn start(self: &Arc<Self>, scenario: Scenario, engine: &str) -> Result<RunView, RunError> {
        if engine != "builtin" && engine != "redis-server" {
            return Err(RunError::Engine(engine.to_string()));
        }
        let live = Arc::new(Mutex::new(Vec::new()));
        let view = {
            let mut cur = self.current.lock().unwrap_or_else(|p| p.into_inner());
            if let Some(c) = cur.as_ref().filter(|c| c.view.state == "running") {
                return Err(RunError::Busy(c.view.scenario.clone()));
            }
            let id = cur.as_ref().map(|c| c.view.id + 1).unwrap_or(1);
            let view = RunView {
                id,
                scenario: scenario.name.clone(),
                engine: engine.to_string(),
                state: "running".into(),
                started_ms: now_ms(),
                finished_ms: None,
                narrative: Vec::new(),
                reports: Vec::new(),
            };
            *cur = Some(Current { view: view.clone(), live: live.clone() });
            view
        };
        let opts = RunOptions {
            slotd_bin: self.slotd_bin.clone(),
            engine: engine.to_string(),
            node_timeout_ms: None,
            keep: false,
            live: Some(live),
        };
        let me = self.clone();
        let (name, engine) = (scenario.name.clone(), opts.engine.clone());
        let run = tokio::spawn(async move { runner::run(&scenario, &opts).await });
        // A run that panics still ends (failed), so the next one may start.
        tokio::spawn(async move {
            match run.await {
                Ok(outcomes) => me.finish(&name, engine, &outcomes),
                Err(e) => me.finish_broken(&name, engine, &e.to_string()),
            }
        });
        Ok(view)
    }

    fn finish_broken(&self, name: &str, engine: String, why: &str) {
        tracing::error!("lab scenario {name} ended abnormally: {why}");
        if let Ok(mut cur) = self.current.lock() {
            if let Some(c) = cur.as_mut() {
                c.view.state = "failed".into();
                c.view.finished_ms = Some(now_ms());
                c.view.reports = vec![format!("the run ended abnormally: {why}")];
            }
        }
        self.record(
            name,
            LastResult { engine, passed: false, finished_ms: now_ms(), checks_passed: 0, checks_total: 0, summary: why.to_string() },
        );
    }

    /// Keeps a scenario's last result, in memory and in `lab-results.json`.
    fn record(&self, name: &str, result: LastResult) {
        if let Ok(mut last) = self.last.lock() {
            last.insert(name.to_string(), result);
            if let Ok(text) = serde_json::to_vec_pretty(&*last) {
                if let Err(e) = std::fs::write(&self.results_file, text) {
                    tracing::warn!("cannot keep lab results in {}: {e}", self.results_file.display());
                }
            }
        }
    }

    fn finish(&self, name: &str, engine: String, outcomes: &[Outcome]) {
        let passed = !outcomes.is_empty() && outcomes.iter().all(|o| o.passed() || o.skipped.is_some());
        let checks_total = outcomes.iter().map(|o| o.checks.len()).sum();
        let checks_passed = outcomes.iter().map(|o| o.checks.iter().filter(|c| c.pass).count()).sum();
        let summary = outcomes
            .iter()
            .find_map(|o| o.error.clone().or_else(|| o.checks.iter().find(|c| !c.pass).map(|c| format!("FAIL {}: {}", c.what, c.detail))))
            .unwrap_or_else(|| format!("{checks_passed}/{checks_total} checks passed"));
        let finished_ms = now_ms();
        if let Ok(mut cur) = self.current.lock() {
            if let Some(c) = cur.as_mut() {
                c.view.state = if passed { "passed" } else { "failed" }.into();
                c.view.finished_ms = Some(finished_ms);
                c.view.narrative = outcomes.iter().flat_map(|o| o.narrative.iter().cloned()).collect();
                c.view.reports = outcomes.iter().map(super::report).collect();
            }
        }
        self.record(name, LastResult { engine, passed, finished_ms, checks_passed, checks_total, summary });
    }
}
