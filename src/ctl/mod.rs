//! slotctl: supervisorctl-style client of slotd's HTTP API.
//!
//! Exit codes: 0 success, 1 failure (message says what to do), 2 usage,
//! 3 `status` found the cluster not ready (or a listed node not RUNNING).

pub mod client;
pub mod events;
pub mod lab;
pub mod output;
pub mod report;
pub mod reshard;
pub mod wait;

use crate::api::types::{
    ActionResponse, CreateReport, KillRequest, Level, LogChunk, NodeView, PreflightResponse, ShutdownResponse, StatusResponse,
};
use clap::{Parser, Subcommand};
use client::{Client, CtlError};
use std::time::Duration;

#[derive(Parser, Debug)]
#[command(name = "slotctl", version, about = "Control slotd: status, start/stop/kill nodes, create the cluster, preflight, logs")]
pub struct Cli {
    /// slotd API address.
    #[arg(long, env = "SLOTD_API", default_value = "127.0.0.1:6300", global = true)]
    pub api: String,
    /// Bearer token (supervisor.api_token).
    #[arg(long, env = "SLOTD_API_TOKEN", global = true, hide_env_values = true)]
    pub token: Option<String>,
    /// Print JSON instead of tables.
    #[arg(long, global = true)]
    pub json: bool,
    #[command(subcommand)]
    pub cmd: Cmd,
}

#[derive(Subcommand, Debug)]
pub enum Cmd {
    /// Show every node (or the given ones) and the cluster state. Exits 0 when
    /// every node runs and the cluster is formed and ok (or every listed node
    /// runs), 3 otherwise, saying what is missing.
    Status { nodes: Vec<String> },
    /// Wait until the cluster is formed, ok and every replica is in sync
    /// (exit 0), or say what is missing at the deadline (exit 1).
    Wait {
        /// How long to wait (30s, 2m, 1500ms).
        #[arg(long, default_value = "30s")]
        timeout: String,
    },
    /// Start nodes (port, name, or `all`).
    Start {
        #[arg(required = true)]
        nodes: Vec<String>,
    },
    /// Stop nodes gracefully (SIGTERM, then SIGKILL after stop_timeout_ms); they stay down.
    Stop {
        #[arg(required = true)]
        nodes: Vec<String>,
    },
    /// Stop then start nodes.
    Restart {
        #[arg(required = true)]
        nodes: Vec<String>,
    },
    /// Send a signal (default SIGKILL, like `kill -9`); the node stays down.
    Kill {
        #[arg(required = true)]
        nodes: Vec<String>,
        #[arg(long, short = 's', default_value = "SIGKILL")]
        signal: String,
    },
    /// Freeze nodes (SIGSTOP): sockets stay open, nothing answers.
    Pause {
        #[arg(required = true)]
        nodes: Vec<String>,
    },
    /// Continue paused nodes.
    Resume {
        #[arg(required = true)]
        nodes: Vec<String>,
    },
    /// Form the cluster (MEET, ADDSLOTSRANGE, REPLICATE), for create = "manual".
    Create {
        /// Only print which nodes would become masters and replicas.
        #[arg(long)]
        dry_run: bool,
    },
    /// Check kernel settings Redis cares about; --fix applies what it can (root for sysctls).
    Preflight {
        #[arg(long)]
        fix: bool,
    },
    /// Show a node's log; -f follows it.
    Tail {
        node: String,
        #[arg(short = 'f', long)]
        follow: bool,
        #[arg(short = 'n', long, default_value_t = 20)]
        lines: usize,
    },
    /// Stop every node and slotd itself.
    Shutdown,
    /// Cut the cluster bus between groups: `partition 6380,6383 / 6381,6382` (one group = it vs the rest). Builtin nodes only.
    Partition {
        #[arg(required = true, num_args = 1..)]
        groups: Vec<String>,
        /// Heal by itself after this long (10s, 1500ms).
        #[arg(long = "for")]
        for_: Option<String>,
    },
    /// Delay a node's outgoing cluster-bus frames. Builtin nodes only.
    Delay {
        node: String,
        #[arg(long)]
        ms: u64,
        #[arg(long, default_value_t = 0)]
        jitter: u64,
        #[arg(long = "for")]
        for_: Option<String>,
    },
    /// Drop a share (0..1) of a node's outgoing cluster-bus frames. Builtin nodes only.
    Drop {
        node: String,
        #[arg(long)]
        rate: f64,
        #[arg(long = "for")]
        for_: Option<String>,
    },
    /// Remove every fault; with HOST, reconnect that isolated host.
    Heal { host: Option<String> },
    /// Cut a whole host off the other hosts (multi-host clusters; nftables on that host).
    Isolate { host: String },
    /// List active faults and each node's fault status.
    Faults,
    /// The event timeline (times from the first event) and failover stopwatches; -f follows.
    Events {
        #[arg(short = 'f', long)]
        follow: bool,
    },
    /// Print the web dashboard's URL (with the token, if one is given) and
    /// open it in a browser when there is a desktop session.
    Dashboard {
        /// Only print the URL.
        #[arg(long)]
        no_open: bool,
    },
    /// Lab scenarios and checkpoints.
    #[command(subcommand)]
    Lab(lab::LabCmd),
    #[command(flatten)]
    Cluster(reshard::ClusterCmd),
}

pub(crate) use report::{complain, print_json};

/// A request body from one of the API's wire types (`api::types`), so
/// slotctl and slotd cannot disagree on field names.
pub fn wire<T: serde::Serialize>(req: &T) -> Option<serde_json::Value> {
    serde_json::to_value(req).ok()
}

pub(crate) fn fail(e: CtlError) -> i32 {
    complain(e);
    1
}

/// Runs a parsed command; returns the exit code. With `--json`, stdout holds
/// one JSON document whatever happened.
pub async fn run(cli: Cli) -> i32 {
    let json = cli.json;
    let code = run_command(cli).await;
    if json {
        report::print_fallback(code);
    }
    code
}

async fn run_command(cli: Cli) -> i32 {
    let long = Duration::from_secs(180);
    let client = Client::new(&cli.api, cli.token.clone(), long);
    match cli.cmd {
        Cmd::Status { nodes } => status(&client, &nodes, cli.json).await,
        Cmd::Wait { timeout } => wait::run(&cli.api, cli.token.clone(), &timeout, cli.json).await,
        Cmd::Start { nodes } => action(&client, &nodes, "start", None, cli.json).await,
        Cmd::Stop { nodes } => action(&client, &nodes, "stop", None, cli.json).await,
        Cmd::Restart { nodes } => action(&client, &nodes, "restart", None, cli.json).await,
        Cmd::Kill { nodes, signal } => {
            if let Err(e) = crate::api::nodes::parse_signal(&signal) {
                complain(format_args!("{e}"));
                return 2;
            }
            action(&client, &nodes, "kill", wire(&KillRequest { signal: Some(signal) }), cli.json).await
        }
        Cmd::Pause { nodes } => action(&client, &nodes, "pause", None, cli.json).await,
        Cmd::Resume { nodes } => action(&client, &nodes, "resume", None, cli.json).await,
        Cmd::Create { dry_run: true } => match client.get::<crate::placement::Plan>("/v1/cluster/plan").await {
            Ok(p) => {
                if cli.json {
                    print_json(&p);
                } else {
                    print!("{}", p.describe());
                }
                0
            }
            Err(e) => fail(e),
        },
        Cmd::Create { dry_run: false } => match client.post::<CreateReport>("/v1/cluster/create", None).await {
            Ok(r) => {
                if cli.json {
                    print_json(&r);
                } else {
                    println!("{}", output::create(&r));
                }
                0
            }
            Err(e) => fail(e),
        },
        Cmd::Preflight { fix } => preflight(&client, fix, cli.json).await,
        Cmd::Tail { node, follow, lines } => tail(&client, &node, follow, lines, cli.json).await,
        Cmd::Shutdown => shutdown(&client, cli.json).await,
        Cmd::Partition { groups, for_ } => events::partition(&client, &groups, &for_, cli.json).await,
        Cmd::Delay { node, ms, jitter, for_ } => events::delay(&client, &node, ms, jitter, &for_, cli.json).await,
        Cmd::Drop { node, rate, for_ } => events::drop_frames(&client, &node, rate, &for_, cli.json).await,
        Cmd::Heal { host: None } => events::heal_or_list(&client, true, cli.json).await,
        Cmd::Heal { host: Some(h) } => host_fault(&client, &h, "heal", cli.json).await,
        Cmd::Isolate { host } => host_fault(&client, &host, "isolate", cli.json).await,
        Cmd::Faults => events::heal_or_list(&client, false, cli.json).await,
        Cmd::Events { follow } => events::events(&client, follow, cli.json).await,
        Cmd::Dashboard { no_open } => dashboard(&client, cli.token.as_deref(), no_open, cli.json).await,
        Cmd::Lab(cmd) => lab::run(&client, cmd, cli.json).await,
        Cmd::Cluster(c) => reshard::run(&client, c, cli.json).await,
    }
}

async fn host_fault(client: &Client, host: &str, verb: &str, json: bool) -> i32 {
    match client.post::<crate::api::hosts::IsolationReport>(&format!("/v1/hosts/{host}/{verb}"), None).await {
        Ok(r) => {
            if json {
                print_json(&r);
            } else {
                println!("{} ({})", r.message, r.mechanism);
            }
            0
        }
        Err(e) => fail(e),
    }
}

/// The dashboard link: slotd's address, the token in the fragment (a
/// fragment never reaches a server or its logs; the page moves it to a cookie).
pub fn dashboard_url(base: &str, token: Option<&str>) -> String {
    match token {
        Some(t) => format!("{base}/#token={}", crate::api::percent_encode(t)),
        None => format!("{base}/"),
    }
}

async fn dashboard(client: &Client, token: Option<&str>, no_open: bool, json: bool) -> i32 {
    // Only print a link that works: slotd answers and takes the token.
    if let Err(e) = client.get::<StatusResponse>("/v1/status").await {
        return fail(e);
    }
    let url = dashboard_url(client.base(), token);
    let desktop = cfg!(target_os = "macos") || std::env::var_os("DISPLAY").is_some() || std::env::var_os("WAYLAND_DISPLAY").is_some();
    let opener = if cfg!(target_os = "macos") { "open" } else { "xdg-open" };
    let opened = !no_open
        && desktop
        && std::process::Command::new(opener)
            .arg(&url)
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .is_ok();
    if json {
        print_json(&serde_json::json!({"url": url, "opened": opened}));
    } else {
        println!("{url}");
        if opened {
            eprintln!("opened in your browser");
        }
    }
    0
}

async fn status(client: &Client, nodes: &[String], json: bool) -> i32 {
    let s: StatusResponse = match client.get("/v1/status").await {
        Ok(s) => s,
        Err(e) => return fail(e),
    };
    let whole = nodes.is_empty() || nodes.iter().any(|n| n == "all");
    let mut selected: Vec<NodeView> = Vec::new();
    if whole {
        selected = s.nodes.clone();
    } else {
        for key in nodes {
            let port = key.strip_prefix("node").unwrap_or(key).parse::<u16>().ok();
            match s.nodes.iter().find(|n| Some(n.port) == port) {
                Some(n) => selected.push(n.clone()),
                None => {
                    complain(format_args!(
                        "unknown node `{key}`; known nodes: {}",
                        s.nodes.iter().map(|n| n.name.clone()).collect::<Vec<_>>().join(", ")
                    ));
                    return 1;
                }
            }
        }
    }
    if json {
        if whole {
            print_json(&s);
        } else {
            print_json(&selected);
        }
    } else {
        println!("{}", output::status(&s, &selected));
    }
    // The whole cluster: ready means every node runs and it is formed and ok.
    // Listed nodes: each of them runs.
    let ready = if whole { s.cluster.readiness.ready } else { selected.iter().all(|n| n.state == crate::supervise::state::State::Running) };
    if ready {
        0
    } else {
        3
    }
}

async fn action(client: &Client, nodes: &[String], verb: &str, body: Option<serde_json::Value>, json: bool) -> i32 {
    let targets: Vec<String> = if nodes.iter().any(|n| n == "all") { vec!["all".into()] } else { nodes.to_vec() };
    let mut code = 0;
    let mut all = Vec::new();
    for t in targets {
        match client.post::<ActionResponse>(&format!("/v1/nodes/{t}/{verb}"), body.clone()).await {
            Ok(r) => {
                if !json {
                    println!("{}", output::actions(&r));
                }
                all.push(r);
            }
            Err(CtlError::Api { message, body: Some(b), .. }) if !b.results.is_empty() => {
                let r = ActionResponse { action: verb.to_string(), results: b.results };
                if !json {
                    println!("{}", output::actions(&r));
                }
                complain(format_args!("{message}"));
                all.push(r);
                code = 1;
            }
            Err(e) => {
                code = fail(e);
                if matches!(code, 1) && !json {
                    continue;
                }
            }
        }
    }
    if json {
        print_json(&all);
    }
    code
}

async fn preflight(client: &Client, fix: bool, json: bool) -> i32 {
    let checks = if fix {
        crate::preflight::apply_fixes()
    } else {
        match client.get::<PreflightResponse>("/v1/preflight").await {
            Ok(r) => r.checks,
            Err(CtlError::Unreachable { .. }) => {
                if !json {
                    println!("(slotd not reachable: checks run from this shell instead)");
                }
                crate::preflight::run_checks()
            }
            Err(e) => return fail(e),
        }
    };
    if json {
        print_json(&PreflightResponse { checks: checks.clone() });
    } else {
        println!("{}", output::preflight(&checks));
        if fix && checks.iter().any(|c| c.level == Level::Warn) {
            println!("note: slotd raises its own open-files limit at start; restart slotd (or its nodes) to use kernel changes");
        }
    }
    if checks.iter().all(|c| c.level == Level::Ok) {
        0
    } else {
        1
    }
}

async fn tail(client: &Client, node: &str, follow: bool, lines: usize, json: bool) -> i32 {
    let mut chunk: LogChunk = match client.get(&format!("/v1/nodes/{node}/log?lines={lines}")).await {
        Ok(c) => c,
        Err(e) => return fail(e),
    };
    if json && !follow {
        print_json(&chunk);
        return 0;
    }
    print!("{}", chunk.data);
    if !follow {
        if !chunk.data.is_empty() && !chunk.data.ends_with('\n') {
            println!();
        }
        return 0;
    }
    loop {
        tokio::time::sleep(Duration::from_millis(500)).await;
        match client.get::<LogChunk>(&format!("/v1/nodes/{node}/log?offset={}", chunk.next_offset)).await {
            Ok(c) => {
                print!("{}", c.data);
                use std::io::Write;
                let _ = std::io::stdout().flush();
                chunk = c;
            }
            Err(e) => return fail(e),
        }
    }
}

async fn shutdown(client: &Client, json: bool) -> i32 {
    let r: ShutdownResponse = match client.post("/v1/shutdown", None).await {
        Ok(r) => r,
        Err(e) => return fail(e),
    };
    if !json {
        println!("{}", r.message);
    }
    let quick = Client::new(client.base(), None, Duration::from_secs(2));
    let deadline = tokio::time::Instant::now() + Duration::from_secs(120);
    loop {
        match quick.get::<serde_json::Value>("/healthz").await {
            Err(CtlError::Unreachable { .. }) => break,
            _ if tokio::time::Instant::now() >= deadline => {
                complain(format_args!("slotd is still answering after 120 s; see its log (journalctl -u slotd)"));
                return 1;
            }
            _ => tokio::time::sleep(Duration::from_millis(200)).await,
        }
    }
    if json {
        print_json(&report::Stopped { stopped: true });
    } else {
        println!("slotd stopped");
    }
    0
}

#[cfg(test)]
mod tests {
    #[test]
    fn dashboard_url_carries_the_token_in_the_fragment() {
        assert_eq!(super::dashboard_url("http://127.0.0.1:6300", None), "http://127.0.0.1:6300/");
        assert_eq!(super::dashboard_url("http://h:1", Some("a b/c")), "http://h:1/#token=a%20b%2Fc");
    }
}
