//! slotctl's cluster commands: reshard, rebalance, fix (with a progress bar
//! and Ctrl-C to stop cleanly), cluster, check, add-node, del-node, job, cancel.

use super::client::{Client, CtlError};
use super::output::table;
use crate::api::types::{AddNodeRequest, RebalanceRequest, ReshardRequest};
use crate::reshard::plan::CheckReport;
use crate::reshard::progress::{self, JobState, JobView};
use crate::reshard::{MembershipReport, SlotMap};
use clap::Subcommand;
use std::io::{IsTerminal, Write};
use std::time::Duration;

#[derive(Subcommand, Debug)]
pub enum ClusterCmd {
    /// Move slots between masters (like `redis-cli --cluster reshard`); Ctrl-C stops cleanly, run again or `fix` to continue.
    Reshard {
        /// Source master: port, name, host:port or node id.
        #[arg(long)]
        from: String,
        /// Target master.
        #[arg(long)]
        to: String,
        /// How many slots (the source's lowest ones).
        #[arg(long, conflicts_with = "slot", required_unless_present = "slot")]
        slots: Option<usize>,
        /// One slot or a range START-END.
        #[arg(long)]
        slot: Option<String>,
        /// Keys per MIGRATE.
        #[arg(long, default_value_t = 500)]
        batch: usize,
        /// MIGRATE timeout in ms.
        #[arg(long, default_value_t = 60_000)]
        timeout: u64,
    },
    /// Even out slots across masters by weight (like `redis-cli --cluster rebalance`, empty masters included).
    Rebalance {
        /// NODE=W; masters not named weigh 1, 0 empties one. Repeatable.
        #[arg(long = "weight", value_name = "NODE=W")]
        weights: Vec<String>,
        /// Do nothing when every master is within this percent of its share.
        #[arg(long, default_value_t = 2.0)]
        threshold: f64,
        #[arg(long, default_value_t = 500)]
        batch: usize,
    },
    /// Close slots an interrupted move left open (finish moving their keys), assign unserved slots.
    Fix,
    /// The slot map: ranges per master, keys, replicas, open slots.
    Cluster,
    /// Verify agreement, coverage and no open slots (like `redis-cli --cluster check`); exits 1 when something is wrong.
    Check,
    /// Meet an empty running node into the cluster, as an empty master or a replica.
    AddNode {
        /// Port (on nodes.host) or host:port.
        node: String,
        #[arg(long)]
        replica_of: Option<String>,
    },
    /// Remove a node that owns no slots and no keys (its replicas move to another master).
    DelNode { node: String },
    /// Show (or follow with -f) the running or last reshard/rebalance/fix.
    Job {
        #[arg(short = 'f', long)]
        follow: bool,
    },
    /// Stop the running reshard/rebalance/fix after the batch in flight.
    Cancel,
}

use super::{fail, print_json};

/// Runs one cluster command; returns the exit code.
pub async fn run(client: &Client, cmd: ClusterCmd, json: bool) -> i32 {
    match cmd {
        ClusterCmd::Reshard { from, to, slots, slot, batch, timeout } => {
            let req = ReshardRequest { from, to, slots, slot, batch: Some(batch), timeout_ms: Some(timeout) };
            start(client, "/v1/cluster/reshard", super::wire(&req), json).await
        }
        ClusterCmd::Rebalance { weights, threshold, batch } => {
            let mut w = std::collections::BTreeMap::new();
            for kv in &weights {
                let Some((k, v)) = kv.split_once('=') else {
                    super::complain(format_args!("--weight {kv}: use NODE=WEIGHT, e.g. --weight 6380=2"));
                    return 2;
                };
                let Ok(v) = v.parse::<f64>() else {
                    super::complain(format_args!("--weight {kv}: the weight must be a number >= 0"));
                    return 2;
                };
                w.insert(k.to_string(), v);
            }
            let req = RebalanceRequest { weights: w, threshold_pct: Some(threshold), batch: Some(batch), timeout_ms: None };
            start(client, "/v1/cluster/rebalance", super::wire(&req), json).await
        }
        ClusterCmd::Fix => start(client, "/v1/cluster/fix", None, json).await,
        ClusterCmd::Cluster => match client.get::<SlotMap>("/v1/cluster/slots").await {
            Ok(m) => {
                if json {
                    print_json(&m);
                } else {
                    println!("{}", slot_map(&m));
                }
                0
            }
            Err(e) => fail(e),
        },
        ClusterCmd::Check => match client.get::<CheckReport>("/v1/cluster/check").await {
            Ok(r) => {
                if json {
                    print_json(&r);
                } else {
                    println!("{}", check(&r));
                }
                i32::from(!r.ok)
            }
            Err(e) => fail(e),
        },
        ClusterCmd::AddNode { node, replica_of } => {
            membership(client.post("/v1/cluster/nodes/add", super::wire(&AddNodeRequest { node, replica_of })).await, json)
        }
        ClusterCmd::DelNode { node } => membership(client.post(&format!("/v1/cluster/nodes/{node}/delete"), None).await, json),
        ClusterCmd::Job { follow } => match client.get::<Option<JobView>>("/v1/cluster/job").await {
            Ok(None) => {
                if json {
                    println!("null");
                } else {
                    println!("no reshard, rebalance or fix has run since slotd started");
                }
                0
            }
            Ok(Some(v)) if follow && v.state == JobState::Running => follow_job(client, json).await,
            Ok(Some(v)) => {
                if json {
                    print_json(&v);
                } else {
                    println!("{}", summary(&v));
                }
                0
            }
            Err(e) => fail(e),
        },
        ClusterCmd::Cancel => match client.post::<JobView>("/v1/cluster/job/cancel", None).await {
            Ok(v) => {
                if json {
                    print_json(&v);
                } else {
                    println!("{}", summary(&v));
                }
                0
            }
            Err(e) => fail(e),
        },
    }
}

fn membership(r: Result<MembershipReport, CtlError>, json: bool) -> i32 {
    match r {
        Ok(r) => {
            if json {
                print_json(&r);
            } else {
                println!("{}", r.message);
            }
            0
        }
        Err(e) => fail(e),
    }
}

async fn start(client: &Client, path: &str, body: Option<serde_json::Value>, json: bool) -> i32 {
    match client.post::<JobView>(path, body).await {
        Ok(_) => follow_job(client, json).await,
        Err(e) => fail(e),
    }
}

/// Polls the job, drawing a bar on a terminal (plain lines otherwise) until
/// it ends; Ctrl-C cancels it and waits until the mover stopped.
async fn follow_job(client: &Client, json: bool) -> i32 {
    let tty = !json && std::io::stderr().is_terminal();
    let mut last_line = std::time::Instant::now() - Duration::from_secs(10);
    let mut interrupted = false;
    let ctrl_c = tokio::signal::ctrl_c();
    tokio::pin!(ctrl_c);
    let v = loop {
        let v = match client.get::<Option<JobView>>("/v1/cluster/job").await {
            Ok(Some(v)) => v,
            Ok(None) => {
                super::complain(format_args!("slotd has no job (was it restarted?); `slotctl check` shows the cluster state"));
                return 1;
            }
            Err(e) => return fail(e),
        };
        if v.state != JobState::Running {
            break v;
        }
        let mut err = std::io::stderr();
        if tty {
            let _ = write!(err, "\r\x1b[2K{}", progress::bar(&v, 30));
            let _ = err.flush();
        } else if last_line.elapsed() >= Duration::from_secs(1) {
            let _ = writeln!(err, "{}", progress::line(&v));
            last_line = std::time::Instant::now();
        }
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_millis(200)) => {}
            _ = &mut ctrl_c, if !interrupted => {
                interrupted = true;
                if tty { eprintln!(); }
                super::complain(format_args!("stopping after the batch in flight (no key is lost)..."));
                if let Err(e) = client.post::<JobView>("/v1/cluster/job/cancel", None).await {
                    return fail(e);
                }
            }
        }
    };
    if tty {
        eprintln!("\r\x1b[2K{}", progress::bar(&v, 30));
    }
    if json {
        print_json(&v);
    } else {
        println!("{}", summary(&v));
    }
    match v.state {
        JobState::Done => 0,
        JobState::Cancelled if interrupted => 130,
        _ => 1,
    }
}

/// The end of a job in words.
pub fn summary(v: &JobView) -> String {
    let secs = v.elapsed_ms as f64 / 1000.0;
    let mut out = vec![format!(
        "{} {} ({}): {}/{} slots, {} keys in {:.1} s ({:.0} keys/s)",
        v.kind,
        match v.state {
            JobState::Running => "running",
            JobState::Done => "done",
            JobState::Failed => "FAILED",
            JobState::Cancelled => "interrupted",
        },
        v.summary,
        v.slots_done,
        v.slots_total,
        v.keys_done,
        secs,
        v.keys_per_s
    )];
    out.extend(v.notes.iter().map(|n| format!("  {n}")));
    if let Some(m) = &v.message {
        out.push(m.clone());
    }
    out.join("\n")
}

/// The slot map as a table.
pub fn slot_map(m: &SlotMap) -> String {
    let mut rows = Vec::new();
    for x in &m.masters {
        let replicas: Vec<String> = x
            .replicas
            .iter()
            .map(|r| {
                format!(
                    "{}{}",
                    r.port.map(|p| p.to_string()).unwrap_or_else(|| r.id.chars().take(8).collect()),
                    if r.flags.contains("fail") { " (fail)" } else { "" }
                )
            })
            .collect();
        let state = if !x.reachable {
            "unreachable".to_string()
        } else if x.flags.contains("fail") {
            x.flags.clone()
        } else {
            "ok".into()
        };
        rows.push(vec![
            x.port.map(|p| p.to_string()).unwrap_or_else(|| "-".into()),
            x.id.chars().take(8).collect(),
            x.slots.clone(),
            x.slot_count.to_string(),
            x.keys.map(|k| k.to_string()).unwrap_or_else(|| "-".into()),
            if replicas.is_empty() { "-".into() } else { replicas.join(",") },
            state,
        ]);
    }
    let mut out = table(&["MASTER", "ID", "SLOTS", "COUNT", "KEYS", "REPLICAS", "STATE"], &rows);
    for o in &m.open_slots {
        out.push_str(&format!(
            "\nopen: slot {} {} on {} ({} {})",
            o.slot,
            o.state.to_uppercase(),
            o.node,
            if o.state == "migrating" { "to" } else { "from" },
            o.peer
        ));
    }
    out.push_str(&format!("\ncluster: {} ({} of 16384 slots served)", m.state, m.slots_covered));
    out
}

/// The check report in words.
pub fn check(r: &CheckReport) -> String {
    let mut out = Vec::new();
    if r.ok {
        out.push(format!(
            "[OK] {} nodes ({} masters) agree about slots; all 16384 slots covered; no open slots; {} keys",
            r.nodes, r.masters, r.keys
        ));
    } else {
        for p in &r.problems {
            out.push(format!("[ERR] {p}"));
        }
        out.push(format!("{} problem(s); {} of 16384 slots covered", r.problems.len(), r.slots_covered));
    }
    out.join("\n")
}
