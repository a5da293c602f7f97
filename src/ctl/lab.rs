//! slotctl lab: list and run scenarios (each on its own fresh cluster), and
//! checkpoint / restore the running lab through the API.

use super::client::Client;
use super::{fail, print_json};
use crate::api::types::CheckpointRequest;
use crate::checkpoint::{CheckpointList, CheckpointReport};
use crate::lab::runner::{self, RunOptions};
use crate::lab::scenario;
use clap::Subcommand;
use std::path::PathBuf;

#[derive(Subcommand, Debug)]
pub enum LabCmd {
    /// List the scenarios (built-ins and those in --dir / SLOTD_LABS_DIR).
    List {
        #[arg(long, env = "SLOTD_LABS_DIR")]
        dir: Option<PathBuf>,
    },
    /// Run a scenario on a fresh cluster of its own (never the running lab); exits 1 on any FAIL.
    Run {
        /// Scenario name, or a path to a .toml file.
        name: String,
        /// builtin, redis-server, or both comma-separated to compare side by side.
        #[arg(long, default_value = "builtin")]
        engine: String,
        /// Override the scenario's cluster-node-timeout (ms).
        #[arg(long)]
        node_timeout_ms: Option<u64>,
        #[arg(long, env = "SLOTD_LABS_DIR")]
        dir: Option<PathBuf>,
        /// The slotd program (default: next to slotctl, else in PATH).
        #[arg(long, env = "SLOTD_BIN")]
        slotd: Option<PathBuf>,
        /// Keep the scenario's temp data dir.
        #[arg(long)]
        keep: bool,
    },
    /// Save the running lab (every node's data + nodes.conf, which nodes run) under NAME.
    Checkpoint { name: String },
    /// Bring back a checkpoint: stop nodes, restore their data, start them.
    Restore { name: String },
    /// List saved checkpoints.
    Checkpoints,
}

fn find_slotd(given: Option<PathBuf>) -> PathBuf {
    if let Some(p) = given {
        return p;
    }
    if let Some(p) = std::env::current_exe().ok().and_then(|e| e.parent().map(|d| d.join("slotd"))).filter(|p| p.exists()) {
        return p;
    }
    crate::config::find_program(std::path::Path::new("slotd")).unwrap_or_else(|| PathBuf::from("slotd"))
}

/// One line of `slotctl lab list --json`.
#[derive(serde::Serialize)]
struct ScenarioSummary<'a> {
    name: &'a str,
    description: &'a str,
}

pub async fn run(client: &Client, cmd: LabCmd, json: bool) -> i32 {
    match cmd {
        LabCmd::List { dir } => match scenario::all(dir.as_deref()) {
            Ok(all) => {
                if json {
                    let v: Vec<ScenarioSummary> =
                        all.iter().map(|s| ScenarioSummary { name: &s.name, description: &s.description }).collect();
                    print_json(&v);
                } else {
                    for s in all {
                        println!("{:<20} {}", s.name, s.description);
                    }
                }
                0
            }
            Err(e) => {
                super::complain(format_args!("{e}"));
                1
            }
        },
        LabCmd::Run { name, engine, node_timeout_ms, dir, slotd, keep } => {
            let sc = match scenario::find(&name, dir.as_deref()) {
                Ok(s) => s,
                Err(e) => {
                    super::complain(format_args!("{e}"));
                    return 2;
                }
            };
            let engines: Vec<String> = engine.split(',').map(|s| s.trim().to_string()).filter(|s| !s.is_empty()).collect();
            if engines.is_empty() || engines.iter().any(|e| e != "builtin" && e != "redis-server") {
                super::complain(format_args!("--engine takes builtin, redis-server, or builtin,redis-server"));
                return 2;
            }
            let slotd_bin = find_slotd(slotd);
            if !json {
                println!("lab {}: {}", sc.name, sc.description);
            }
            let mut all = Vec::new();
            for e in &engines {
                let opts = RunOptions { slotd_bin: slotd_bin.clone(), engine: e.clone(), node_timeout_ms, keep, live: None };
                let outs = runner::run(&sc, &opts).await;
                if !json {
                    for o in &outs {
                        println!("{}", crate::lab::report(o));
                    }
                }
                all.push(outs);
            }
            if all.len() == 2 && !json {
                for (a, b) in all[0].iter().zip(all[1].iter()) {
                    if a.skipped.is_none() && b.skipped.is_none() {
                        println!("{}", crate::lab::compare(a, b));
                    }
                }
            }
            let flat: Vec<_> = all.into_iter().flatten().collect();
            if json {
                print_json(&flat);
            }
            if flat.iter().all(|o| o.passed()) {
                0
            } else {
                1
            }
        }
        LabCmd::Checkpoint { name } => {
            match client.post::<CheckpointReport>("/v1/lab/checkpoints", super::wire(&CheckpointRequest { name: name.clone() })).await {
                Ok(r) => {
                    if json {
                        print_json(&r);
                    } else {
                        println!("checkpoint `{}` saved in {} ms ({} bytes) at {}", r.manifest.name, r.elapsed_ms, r.bytes, r.path);
                    }
                    0
                }
                Err(e) => fail(e),
            }
        }
        LabCmd::Restore { name } => match client.post::<CheckpointReport>(&format!("/v1/lab/checkpoints/{name}/restore"), None).await {
            Ok(r) => {
                if json {
                    print_json(&r);
                } else {
                    println!("checkpoint `{}` restored in {} ms; `slotctl status` shows the cluster state", r.manifest.name, r.elapsed_ms);
                }
                0
            }
            Err(e) => fail(e),
        },
        LabCmd::Checkpoints => match client.get::<CheckpointList>("/v1/lab/checkpoints").await {
            Ok(l) => {
                if json {
                    print_json(&l);
                } else if l.checkpoints.is_empty() {
                    println!("no checkpoints (`slotctl lab checkpoint NAME` saves one)");
                } else {
                    for m in l.checkpoints {
                        let running = m.nodes.iter().filter(|n| n.1).count();
                        println!("{:<20} {} nodes ({running} running), engine {}", m.name, m.nodes.len(), m.engine);
                    }
                }
                0
            }
            Err(e) => fail(e),
        },
    }
}
