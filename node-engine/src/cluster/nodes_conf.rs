//! nodes.conf, the cluster state on disk: written atomically after every
//! change (CLUSTER NODES lines plus a `vars` line), read back at start-up,
//! refused with its file and line when it cannot be used.

use super::state::*;
use crate::config::NodeConfig;
use crate::slot::SLOTS;
use std::path::PathBuf;

fn parse_err(path: &std::path::Path, line: usize, why: &str) -> String {
    format!("unrecoverable error: corrupted cluster config file {} at line {line}: {why}. Fix or remove it (the node then starts as a new, empty cluster member).", path.display())
}

impl ClusterState {
    /// Path of nodes.conf: `cluster-config-file` relative to `dir`.
    pub fn config_path(config: &NodeConfig) -> PathBuf {
        let f = PathBuf::from(config.get("cluster-config-file").unwrap_or("nodes.conf"));
        if f.is_absolute() {
            f
        } else {
            config.dir().join(f)
        }
    }

    /// Loads nodes.conf if present (keeping our id), else starts fresh.
    ///
    /// # Errors
    /// The file exists but is corrupt: message names file and line.
    pub fn load_or_create(config: &NodeConfig) -> Result<ClusterState, String> {
        let path = Self::config_path(config);
        let ip = config.get("cluster-announce-ip").filter(|s| !s.is_empty()).map(str::to_string).unwrap_or_else(|| {
            let b = config.bind();
            b.into_iter().find(|a| a != "0.0.0.0" && a != "::").unwrap_or_else(|| "127.0.0.1".into())
        });
        let port = config.port();
        let bus_port = config.cluster_port();
        let timeout = config.node_timeout_ms();
        let text = match std::fs::read_to_string(&path) {
            Ok(t) if !t.trim().is_empty() => t,
            _ => {
                let state = ClusterState::new(crate::util::id::random_hex_id(), &ip, port, bus_port, path, timeout);
                tracing::info!(id = %state.myself, "no cluster configuration found, I'm {}", state.myself);
                return Ok(state);
            }
        };
        let mut state: Option<ClusterState> = None;
        let mut others: Vec<ClusterNode> = Vec::new();
        let mut vars: (u64, u64) = (0, 0);
        let mut open_slots: Vec<(u16, bool, NodeId)> = Vec::new();
        for (i, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() {
                continue;
            }
            let parts: Vec<&str> = line.split_whitespace().collect();
            if parts[0] == "vars" {
                let mut it = parts[1..].chunks(2);
                for kv in it.by_ref() {
                    if let [k, v] = kv {
                        let v: u64 = v.parse().map_err(|_| parse_err(&path, i + 1, "bad vars value"))?;
                        match *k {
                            "currentEpoch" => vars.0 = v,
                            "lastVoteEpoch" => vars.1 = v,
                            _ => {}
                        }
                    }
                }
                continue;
            }
            if parts.len() < 8 {
                return Err(parse_err(&path, i + 1, "fewer than 8 fields"));
            }
            let id = parts[0].to_string();
            if id.len() != 40 || !id.bytes().all(|b| b.is_ascii_hexdigit()) {
                return Err(parse_err(&path, i + 1, "node id is not 40 hex characters"));
            }
            let mut addr_parts = parts[1].splitn(2, ',');
            let addr = addr_parts.next().unwrap_or("");
            let hostname = addr_parts.next().unwrap_or("").to_string();
            let (hostport, bus) = addr.split_once('@').unwrap_or((addr, "0"));
            let (host, p) = hostport.rsplit_once(':').ok_or_else(|| parse_err(&path, i + 1, "address has no port"))?;
            let p: u16 = p.parse().map_err(|_| parse_err(&path, i + 1, "bad port"))?;
            let bus: u16 = bus.parse().map_err(|_| parse_err(&path, i + 1, "bad bus port"))?;
            let mut n = ClusterNode::new(id.clone(), host, p, bus, crate::util::time::unix_ms());
            n.hostname = hostname;
            let flags = parts[2];
            let myself = flags.split(',').any(|f| f == "myself");
            n.flags.replica = flags.split(',').any(|f| f == "slave");
            n.flags.master = !n.flags.replica;
            n.flags.fail = flags.split(',').any(|f| f == "fail");
            n.flags.nofailover = flags.split(',').any(|f| f == "nofailover");
            n.master_id = (parts[3] != "-").then(|| parts[3].to_string());
            n.config_epoch = parts[6].parse().map_err(|_| parse_err(&path, i + 1, "bad config epoch"))?;
            for s in &parts[8..] {
                if let Some(inner) = s.strip_prefix('[').and_then(|x| x.strip_suffix(']')) {
                    if let Some((slot, target)) = inner.split_once("->-") {
                        let slot: u16 = slot.parse().map_err(|_| parse_err(&path, i + 1, "bad migrating slot"))?;
                        open_slots.push((slot, true, target.to_string()));
                    } else if let Some((slot, src)) = inner.split_once("-<-") {
                        let slot: u16 = slot.parse().map_err(|_| parse_err(&path, i + 1, "bad importing slot"))?;
                        open_slots.push((slot, false, src.to_string()));
                    }
                    continue;
                }
                let (a, b) = match s.split_once('-') {
                    Some((a, b)) => (a, b),
                    None => (*s, *s),
                };
                let a: u16 = a.parse().map_err(|_| parse_err(&path, i + 1, "bad slot"))?;
                let b: u16 = b.parse().map_err(|_| parse_err(&path, i + 1, "bad slot"))?;
                if a > b || b as usize >= SLOTS {
                    return Err(parse_err(&path, i + 1, "slot out of range"));
                }
                for slot in a..=b {
                    n.slots.insert(slot);
                }
            }
            if myself {
                let mut st = ClusterState::new(id.clone(), &ip, port, bus_port, path.clone(), timeout);
                n.ip = ip.clone();
                n.port = port;
                n.bus_port = bus_port;
                n.link_up = true;
                n.flags.fail = false;
                st.nodes.insert(id, n);
                state = Some(st);
            } else {
                others.push(n);
            }
        }
        let mut state = state.ok_or_else(|| parse_err(&path, 0, "no line has the myself flag"))?;
        for n in others {
            state.nodes.insert(n.id.clone(), n);
        }
        state.current_epoch = vars.0;
        state.last_vote_epoch = vars.1;
        let claims: Vec<(NodeId, Vec<u16>)> = state.nodes.values().map(|n| (n.id.clone(), n.slots.iter().collect())).collect();
        for (id, slots) in claims {
            for s in slots {
                state.owners[s as usize] = Some(id.clone());
            }
        }
        for (slot, migrating, other) in open_slots {
            if migrating {
                state.migrating.insert(slot, other);
            } else {
                state.importing.insert(slot, other);
            }
        }
        tracing::info!(id = %state.myself, "node configuration loaded, I'm {}", state.myself);
        state.dirty_config = false;
        Ok(state)
    }

    /// Writes nodes.conf atomically.
    ///
    /// # Errors
    /// The I/O error.
    pub fn save_config(&self) -> std::io::Result<()> {
        let mut text = self.nodes_text(true);
        text.push_str(&format!("vars currentEpoch {} lastVoteEpoch {}\n", self.current_epoch, self.last_vote_epoch));
        crate::util::fs::write_atomic(&self.config_path_ref(), text.as_bytes())
    }

    fn config_path_ref(&self) -> PathBuf {
        self.config_file.clone()
    }
}
