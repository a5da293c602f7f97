//! Lab checkpoints: save every node's data (after SAVE: dump.rdb, AOF,
//! nodes.conf) and which nodes were running under
//! `<data_dir>/checkpoints/<name>/`, and bring them back, so an exercise can
//! be retried from a known state in seconds.

use crate::cluster_admin::Conn;
use crate::events::{Event, EventKind, EventLog};
use crate::supervise::state::State;
use crate::supervise::{Supervisor, UserAction};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// Why a checkpoint could not be saved or restored.
#[derive(Debug, thiserror::Error)]
pub enum CheckpointError {
    #[error("checkpoint name `{0}` is not allowed; use letters, digits, - and _ (at most 64)")]
    BadName(String),
    #[error("no checkpoint `{name}`; saved ones: {known} (create one with `slotctl lab checkpoint NAME`)")]
    Unknown { name: String, known: String },
    #[error("checkpoint `{name}` was saved for nodes {saved:?}, this slotd runs {now:?}; restore it with the config it was made with")]
    Mismatch { name: String, saved: Vec<u16>, now: Vec<u16> },
    #[error("{node} did not SAVE: {why}; is it running (`slotctl status`)?")]
    Save { node: String, why: String },
    #[error("cannot copy {from} to {to}: {source} (check free space and permissions in data_dir)")]
    Copy { from: String, to: String, source: std::io::Error },
    #[error("{0}")]
    Node(String),
}

/// What a checkpoint holds besides the node dirs.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Manifest {
    pub name: String,
    pub created_ms: u64,
    /// (port, was running) per node.
    pub nodes: Vec<(u16, bool)>,
    pub engine: String,
}

/// Outcome of save or restore.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CheckpointReport {
    pub manifest: Manifest,
    pub path: String,
    pub bytes: u64,
    pub elapsed_ms: u64,
}

/// `GET /v1/lab/checkpoints`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CheckpointList {
    pub checkpoints: Vec<Manifest>,
}

/// Body of `POST /v1/lab/checkpoints`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CheckpointRequest {
    pub name: String,
}

fn root(sup: &Supervisor) -> PathBuf {
    sup.config().supervisor.data_dir.join("checkpoints")
}

fn check_name(name: &str) -> Result<(), CheckpointError> {
    let ok = !name.is_empty() && name.len() <= 64 && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if ok {
        Ok(())
    } else {
        Err(CheckpointError::BadName(name.to_string()))
    }
}

fn copy_dir(from: &Path, to: &Path) -> Result<u64, CheckpointError> {
    let err = |source| CheckpointError::Copy { from: from.display().to_string(), to: to.display().to_string(), source };
    std::fs::create_dir_all(to).map_err(err)?;
    let mut bytes = 0;
    for entry in std::fs::read_dir(from).map_err(err)? {
        let entry = entry.map_err(err)?;
        let ty = entry.file_type().map_err(err)?;
        let dest = to.join(entry.file_name());
        if ty.is_dir() {
            bytes += copy_dir(&entry.path(), &dest)?;
        } else if ty.is_file() {
            bytes += std::fs::copy(entry.path(), &dest).map_err(err)?;
        }
    }
    Ok(bytes)
}

/// Lists saved checkpoints.
pub fn list(sup: &Supervisor) -> CheckpointList {
    let mut checkpoints = Vec::new();
    if let Ok(rd) = std::fs::read_dir(root(sup)) {
        for e in rd.flatten() {
            if let Ok(text) = std::fs::read_to_string(e.path().join("manifest.json")) {
                if let Ok(m) = serde_json::from_str::<Manifest>(&text) {
                    checkpoints.push(m);
                }
            }
        }
    }
    checkpoints.sort_by_key(|m| m.created_ms);
    CheckpointList { checkpoints }
}

/// Saves the lab under `name` (replacing an older one of that name).
///
/// # Errors
/// Bad name, a running node refusing SAVE, or a copy failing.
pub async fn save(sup: &Supervisor, events: &EventLog, name: &str) -> Result<CheckpointReport, CheckpointError> {
    check_name(name)?;
    let t = Instant::now();
    let layout = sup.ctx.layout.clone();
    let mut nodes = Vec::new();
    for n in &sup.nodes {
        let running = n.status().state == State::Running;
        if running {
            let mut c = Conn::connect(n.addr(), Duration::from_secs(2))
                .await
                .map_err(|e| CheckpointError::Save { node: n.spec.name(), why: e.to_string() })?;
            // SAVE on a big dataset can take a while; the default timeout would cut it.
            c.cmd(&["SAVE"]).await.map_err(|e| CheckpointError::Save { node: n.spec.name(), why: e.to_string() })?;
        }
        nodes.push((n.spec.port, running));
    }
    let dir = root(sup).join(name);
    let tmp = root(sup).join(format!(".{name}.tmp"));
    let _ = std::fs::remove_dir_all(&tmp);
    let mut bytes = 0;
    for (port, _) in &nodes {
        bytes += copy_dir(&layout.node_dir(*port), &tmp.join(format!("node{port}")))?;
    }
    let cfg = sup.config();
    let created_ms = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as u64).unwrap_or(0);
    let manifest = Manifest { name: name.to_string(), created_ms, nodes, engine: format!("{:?}", cfg.engine.kind).to_lowercase() };
    let text = serde_json::to_string_pretty(&manifest).unwrap_or_default();
    let werr = |source| CheckpointError::Copy { from: "manifest".into(), to: tmp.display().to_string(), source };
    std::fs::write(tmp.join("manifest.json"), text).map_err(werr)?;
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::rename(&tmp, &dir).map_err(|source| CheckpointError::Copy {
        from: tmp.display().to_string(),
        to: dir.display().to_string(),
        source,
    })?;
    events.record(Event::new(EventKind::Lab, None, format!("checkpoint `{name}` saved ({bytes} bytes)")));
    Ok(CheckpointReport { manifest, path: dir.display().to_string(), bytes, elapsed_ms: t.elapsed().as_millis() as u64 })
}

/// Stops every node, puts the saved data back, and starts the nodes that
/// were running when the checkpoint was taken.
///
/// # Errors
/// Unknown checkpoint, different node list, copy failure, or a node not starting.
pub async fn restore(sup: &Supervisor, events: &EventLog, name: &str) -> Result<CheckpointReport, CheckpointError> {
    check_name(name)?;
    let t = Instant::now();
    let dir = root(sup).join(name);
    let manifest: Manifest = match std::fs::read_to_string(dir.join("manifest.json")).ok().and_then(|t| serde_json::from_str(&t).ok()) {
        Some(m) => m,
        None => {
            let known: Vec<String> = list(sup).checkpoints.into_iter().map(|m| m.name).collect();
            return Err(CheckpointError::Unknown {
                name: name.to_string(),
                known: if known.is_empty() { "none".into() } else { known.join(", ") },
            });
        }
    };
    let now: Vec<u16> = sup.nodes.iter().map(|n| n.spec.port).collect();
    let saved: Vec<u16> = manifest.nodes.iter().map(|n| n.0).collect();
    if now != saved {
        return Err(CheckpointError::Mismatch { name: name.to_string(), saved, now });
    }
    sup.act_many(sup.nodes.clone(), UserAction::Stop).await;
    let layout = sup.ctx.layout.clone();
    let mut bytes = 0;
    for (port, _) in &manifest.nodes {
        let target = layout.node_dir(*port);
        let _ = std::fs::remove_dir_all(&target);
        bytes += copy_dir(&dir.join(format!("node{port}")), &target)?;
    }
    let to_start: Vec<_> =
        sup.nodes.iter().filter(|n| manifest.nodes.iter().any(|(p, running)| *p == n.spec.port && *running)).cloned().collect();
    for (n, r) in sup.act_many(to_start, UserAction::Start).await {
        r.map_err(|e| CheckpointError::Node(format!("{} did not start after restore: {e}", n.spec.name())))?;
    }
    events.record(Event::new(EventKind::Lab, None, format!("checkpoint `{name}` restored")));
    Ok(CheckpointReport { manifest, path: dir.display().to_string(), bytes, elapsed_ms: t.elapsed().as_millis() as u64 })
}
