//! Lab scenario files: TOML with a cluster setup, optional variants (e.g.
//! RDB vs AOF) and a list of steps. Built-ins are embedded from `etc/labs/`;
//! users add their own in a directory (`slotctl lab --dir`, `SLOTD_LABS_DIR`).

use serde::Deserialize;
use std::path::Path;

/// The scenarios shipped with slotd: (file name, text).
pub const BUILTIN: &[(&str, &str)] = &[
    ("failover", include_str!("../../etc/labs/failover.toml")),
    ("replica-then-master", include_str!("../../etc/labs/replica-then-master.toml")),
    ("manual-build", include_str!("../../etc/labs/manual-build.toml")),
    ("migrate-9842", include_str!("../../etc/labs/migrate-9842.toml")),
    ("rdb-vs-aof", include_str!("../../etc/labs/rdb-vs-aof.toml")),
    ("minority-partition", include_str!("../../etc/labs/minority-partition.toml")),
];

/// Why a scenario cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ScenarioError {
    #[error("{file}: {message}")]
    Parse { file: String, message: String },
    #[error("no scenario `{name}`; known: {known} (`slotctl lab list`)")]
    Unknown { name: String, known: String },
}

/// A scenario.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    pub name: String,
    pub description: String,
    #[serde(default)]
    pub setup: Setup,
    /// Runs of the same steps with other persistence settings.
    #[serde(default, rename = "variant")]
    pub variants: Vec<Variant>,
    #[serde(rename = "step")]
    pub steps: Vec<Step>,
}

/// The cluster a scenario runs on.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Setup {
    pub nodes: usize,
    pub replicas: usize,
    pub node_timeout_ms: u64,
    /// "auto" or "manual".
    pub create: String,
    pub appendonly: bool,
    pub appendfsync: String,
    /// RDB save points; [] = none.
    pub save: Vec<[u64; 2]>,
    /// Engines this scenario makes sense on (default both).
    pub engines: Vec<String>,
}

impl Default for Setup {
    fn default() -> Setup {
        Setup {
            nodes: 6,
            replicas: 1,
            node_timeout_ms: 2000,
            create: "auto".into(),
            appendonly: false,
            appendfsync: "everysec".into(),
            save: vec![[900, 1], [300, 10], [60, 10000]],
            engines: vec!["builtin".into(), "redis-server".into()],
        }
    }
}

/// Persistence overrides for one run of the steps.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Variant {
    pub name: String,
    pub appendonly: Option<bool>,
    pub appendfsync: Option<String>,
    pub save: Option<Vec<[u64; 2]>>,
}

/// A condition for `wait` and `expect`. Every field given must hold.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Cond {
    /// "ok" / "fail": on `node`, or on every RUNNING node.
    pub cluster_state: Option<String>,
    /// The node `role`, `state`, `replica_of` and `cluster_state` refer to.
    pub node: Option<String>,
    /// "master" / "replica".
    pub role: Option<String>,
    pub replica_of: Option<String>,
    /// Supervision state: RUNNING, EXITED...
    pub state: Option<String>,
    /// Keys found missing by the last `read`.
    pub lost: Option<u64>,
    pub lost_min: Option<u64>,
    pub lost_max: Option<u64>,
    /// Acknowledged writes so far, at least.
    pub acked_min: Option<u64>,
    /// A SET on this slot must succeed (`writable = true`) or fail.
    pub slot: Option<u16>,
    pub writable: Option<bool>,
    /// The failed SET's error contains this (e.g. "CLUSTERDOWN").
    pub write_error: Option<String>,
    /// Which node serves `slot` (a selector such as `$target`).
    pub slot_owner: Option<String>,
    /// Only checked in this variant.
    pub variant: Option<String>,
    /// Wait only: give up after this long (default 30 s, or 10 x node timeout).
    pub timeout_ms: Option<u64>,
}

/// One step.
#[derive(Debug, Clone, Deserialize)]
#[serde(tag = "do", rename_all = "snake_case")]
pub enum Step {
    /// Prints a line in the narrative.
    Say {
        text: String,
    },
    /// Writes `keys` keys through a cluster client, counting acknowledged ones.
    Write {
        keys: u64,
        #[serde(default = "default_prefix")]
        prefix: String,
        /// All keys in this slot (hash tag).
        slot: Option<u16>,
        /// WAIT for this many replicas after each SET.
        wait_replicas: Option<u32>,
        /// Per key: retry this long before counting it as not acknowledged.
        #[serde(default = "default_key_timeout")]
        key_timeout_ms: u64,
    },
    /// Starts a steady background write load (until `load_stop`).
    LoadStart {
        #[serde(default = "default_load_prefix")]
        prefix: String,
        wait_replicas: Option<u32>,
    },
    LoadStop,
    /// Reads every acknowledged key back; records which are missing.
    Read,
    Kill {
        node: String,
        #[serde(default = "default_signal")]
        signal: String,
        #[serde(rename = "as")]
        alias: Option<String>,
    },
    Pause {
        node: String,
        #[serde(rename = "as")]
        alias: Option<String>,
    },
    Resume {
        node: String,
    },
    Start {
        node: String,
    },
    Stop {
        node: String,
    },
    /// Gives the node a selector picks now a name (`$name`) for later steps.
    Remember {
        node: String,
        #[serde(rename = "as")]
        alias: String,
    },
    Partition {
        groups: Vec<Vec<String>>,
        for_ms: Option<u64>,
    },
    Delay {
        node: String,
        ms: u64,
        #[serde(default)]
        jitter_ms: u64,
    },
    Drop {
        node: String,
        rate: f64,
    },
    Heal,
    /// A raw command on a node; `{port:SEL}`, `{id:SEL}`, `{host}` are replaced.
    Command {
        node: String,
        args: Vec<String>,
        /// Expect an error containing this instead of success.
        error: Option<String>,
    },
    /// Moves a slot by hand: SETSLOT IMPORTING/MIGRATING, GETKEYSINSLOT + MIGRATE, SETSLOT NODE.
    Migrate {
        slot: u16,
        to: String,
    },
    /// Waits until the condition holds (FAIL at the timeout).
    Wait(Cond),
    /// Checks the condition now: PASS or FAIL.
    Expect(Cond),
    /// Pauses the scenario (for demonstrations, e.g. writes during a partition).
    Sleep {
        ms: u64,
    },
}

fn default_prefix() -> String {
    "key".into()
}
fn default_load_prefix() -> String {
    "load".into()
}
fn default_signal() -> String {
    "SIGKILL".into()
}
fn default_key_timeout() -> u64 {
    1000
}

/// Parses a scenario text.
///
/// # Errors
/// Invalid TOML or unknown fields (with the TOML error's location).
pub fn parse(text: &str, file: &str) -> Result<Scenario, ScenarioError> {
    toml::from_str(text).map_err(|e| ScenarioError::Parse { file: file.to_string(), message: e.to_string() })
}

/// Every scenario: built-ins, then `*.toml` in `dir` (same name overrides).
///
/// # Errors
/// A user file that does not parse.
pub fn all(dir: Option<&Path>) -> Result<Vec<Scenario>, ScenarioError> {
    let mut out = Vec::new();
    for (name, text) in BUILTIN {
        out.push(parse(text, &format!("etc/labs/{name}.toml"))?);
    }
    if let Some(dir) = dir {
        let mut files: Vec<_> = std::fs::read_dir(dir)
            .map_err(|e| ScenarioError::Parse { file: dir.display().to_string(), message: format!("cannot read the directory: {e}") })?
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|x| x == "toml"))
            .collect();
        files.sort();
        for f in files {
            let text =
                std::fs::read_to_string(&f).map_err(|e| ScenarioError::Parse { file: f.display().to_string(), message: e.to_string() })?;
            let s = parse(&text, &f.display().to_string())?;
            out.retain(|o: &Scenario| o.name != s.name);
            out.push(s);
        }
    }
    Ok(out)
}

/// Finds a scenario by name, or reads it from a path ending in `.toml`.
///
/// # Errors
/// Unknown name or a file that does not parse.
pub fn find(name: &str, dir: Option<&Path>) -> Result<Scenario, ScenarioError> {
    if name.ends_with(".toml") {
        let text = std::fs::read_to_string(name).map_err(|e| ScenarioError::Parse { file: name.to_string(), message: e.to_string() })?;
        return parse(&text, name);
    }
    let all = all(dir)?;
    let known = all.iter().map(|s| s.name.clone()).collect::<Vec<_>>().join(", ");
    all.into_iter().find(|s| s.name == name).ok_or(ScenarioError::Unknown { name: name.to_string(), known })
}

#[cfg(test)]
mod tests {
    #[test]
    fn builtins_parse() {
        let all = super::all(None).expect("built-in scenarios parse");
        assert_eq!(all.len(), super::BUILTIN.len());
        for (s, (file, _)) in all.iter().zip(super::BUILTIN) {
            assert_eq!(&s.name, file, "scenario name matches its file");
        }
    }
}
