//! slotd's TOML config: parsed in two stages so a user sees every mistake at
//! once, each with file, line and the fix.
//!
//! Stage 1 (`raw.rs`) is plain serde with `deny_unknown_fields`, keeping
//! the source span of every value. Stage 2 (`validate.rs`) checks the
//! values and resolves defaults, collecting all problems before failing.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};

/// The documented example config, also the embedded default.
pub const DEFAULT_CONFIG: &str = include_str!("../../etc/slotd.toml");

/// Name shown in errors for the embedded default.
pub const DEFAULT_CONFIG_NAME: &str = "<embedded default config>";

/// Directives slotd writes itself; overriding them would break supervision.
pub const MANAGED_DIRECTIVES: &[&str] = &[
    "port",
    "bind",
    "dir",
    "pidfile",
    "logfile",
    "daemonize",
    "supervised",
    "cluster-enabled",
    "cluster-config-file",
    "cluster-port",
    "include",
    "proc-title-template",
];

mod diff;
mod raw;
mod validate;

pub use validate::{ConfigError, Problem};

/// Which node program runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum EngineKind {
    Builtin,
    RedisServer,
}

/// How builtin nodes run: one process each, or threads inside slotd.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum EngineMode {
    Process,
    Inproc,
}

/// Whether slotd forms the cluster by itself on first start.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum CreateMode {
    Auto,
    Manual,
}

/// Who notices a dead master: Redis Cluster's own gossip (what the lab
/// teaches), or slotd too, which sees the process die and asks a replica for
/// `CLUSTER FAILOVER FORCE` at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum FailoverMode {
    Gossip,
    Assisted,
}

/// When a node that exited on its own is started again.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RestartPolicy {
    Never,
    Unexpected,
    Always,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SupervisorConfig {
    pub api: SocketAddr,
    /// Never logged or shown in diffs.
    #[serde(skip)]
    pub api_token: Option<String>,
    /// Absolute (resolved against the start directory).
    pub data_dir: PathBuf,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EngineConfig {
    pub kind: EngineKind,
    pub mode: EngineMode,
    pub redis_server: PathBuf,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ClusterConfig {
    pub replicas: usize,
    pub node_timeout_ms: u64,
    pub create: CreateMode,
    pub failover: FailoverMode,
    /// `requirepass` and `masterauth` of every node; slotd AUTHs with it.
    /// Never logged or shown in diffs.
    #[serde(skip)]
    pub password: Option<String>,
    /// `nodes.acl_user`: an ACL user (with `password`) that slotd and the
    /// replicas log in as, so the default user can be restricted.
    pub acl_user: Option<String>,
    /// What nodes tell clients to connect to (cluster-preferred-endpoint-type).
    pub preferred_endpoint: PreferredEndpoint,
}

/// `cluster-preferred-endpoint-type`: what MOVED and CLUSTER SLOTS name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum PreferredEndpoint {
    Ip,
    Hostname,
}

/// One machine of a cluster that spans several (`[[hosts]]`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HostSpec {
    pub name: String,
    /// The address its nodes bind to.
    pub address: IpAddr,
    /// Its slotd's API.
    pub api: SocketAddr,
    pub ports: Vec<u16>,
    pub kind: EngineKind,
    /// What its nodes announce when other hosts and clients must use
    /// another address (NAT, Docker); default `address`.
    pub announce_ip: Option<String>,
    pub announce_hostname: Option<String>,
}

/// One node as configured.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NodeSpec {
    pub host: IpAddr,
    pub port: u16,
    /// The `[[hosts]]` entry it belongs to (None on a one-machine config).
    pub host_name: Option<String>,
    /// Extra redis.conf directives for this node (validated names and values).
    pub overrides: BTreeMap<String, String>,
}

impl NodeSpec {
    /// The node's name, as used by the API and slotctl.
    pub fn name(&self) -> String {
        format!("node{}", self.port)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Persistence {
    /// RDB save points as (seconds, changes); empty means no RDB snapshots.
    pub save: Vec<(u64, u64)>,
    pub appendonly: bool,
    pub appendfsync: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RestartConfig {
    pub policy: RestartPolicy,
    pub start_retries: u32,
    pub backoff_ms: u64,
    pub backoff_max_ms: u64,
    pub start_timeout_ms: u64,
    pub stop_timeout_ms: u64,
}

/// A validated config.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Config {
    /// The file it came from; None for the embedded default.
    #[serde(skip)]
    pub source: Option<PathBuf>,
    pub supervisor: SupervisorConfig,
    pub engine: EngineConfig,
    pub cluster: ClusterConfig,
    pub nodes: Vec<NodeSpec>,
    pub persistence: Persistence,
    pub restart: RestartConfig,
    /// `[[hosts]]`; empty on a one-machine config.
    pub hosts: Vec<HostSpec>,
    /// Which of `hosts` this slotd runs (set by [`Config::select_host`]).
    pub local_host: Option<String>,
    /// Every node of the cluster, on every host (`nodes` are the local ones).
    pub cluster_nodes: Vec<NodeSpec>,
}

/// Why this slotd cannot tell which `[[hosts]]` entry it is.
#[derive(Debug, thiserror::Error)]
pub enum HostError {
    #[error("no [[hosts]] entry is named `{name}`; the hosts are: {known}")]
    Unknown { name: String, known: String },
    #[error("none of the [[hosts]] addresses ({known}) is an address of this machine; start slotd with --host NAME (or SLOTD_HOST), or give this machine's address in hosts.address")]
    NoneLocal { known: String },
    #[error("several [[hosts]] addresses are addresses of this machine ({local}); start slotd with --host NAME (or SLOTD_HOST) to say which one it is")]
    Ambiguous { local: String },
}

impl Config {
    /// Whether the cluster spans several hosts (`[[hosts]]`).
    pub fn is_multi_host(&self) -> bool {
        !self.hosts.is_empty()
    }

    /// The host a node (port or name) lives on, for a multi-host config.
    pub fn host_of(&self, key: &str) -> Option<&HostSpec> {
        let port = key.strip_prefix("node").unwrap_or(key).parse::<u16>().ok()?;
        self.hosts.iter().find(|h| h.ports.contains(&port))
    }

    /// Picks this slotd's part of a multi-host config: by `name`, or the one
    /// host whose address is an address of this machine. Its nodes become
    /// `nodes`, its API `supervisor.api`, its engine `engine.kind`. A no-op
    /// on a one-machine config.
    ///
    /// # Errors
    /// Unknown name, or no / several local candidates.
    pub fn select_host(&mut self, name: Option<&str>) -> Result<(), HostError> {
        if self.hosts.is_empty() {
            return Ok(());
        }
        let known = self.hosts.iter().map(|h| format!("{} ({})", h.name, h.address)).collect::<Vec<_>>().join(", ");
        let host = match name {
            Some(n) => self.hosts.iter().find(|h| h.name == n).ok_or_else(|| HostError::Unknown { name: n.to_string(), known })?,
            None => {
                // An address is this machine's when a socket can be bound to it.
                let local: Vec<&HostSpec> =
                    self.hosts.iter().filter(|h| std::net::UdpSocket::bind(SocketAddr::new(h.address, 0)).is_ok()).collect();
                match local.as_slice() {
                    [one] => *one,
                    [] => return Err(HostError::NoneLocal { known }),
                    many => return Err(HostError::Ambiguous { local: many.iter().map(|h| h.name.clone()).collect::<Vec<_>>().join(", ") }),
                }
            }
        }
        .clone();
        self.nodes = self.cluster_nodes.iter().filter(|n| n.host_name.as_deref() == Some(host.name.as_str())).cloned().collect();
        self.supervisor.api = host.api;
        self.engine.kind = host.kind;
        self.local_host = Some(host.name);
        Ok(())
    }

    /// Finds a node by port ("6380") or name ("node6380").
    pub fn find_node(&self, key: &str) -> Option<&NodeSpec> {
        let port = key.strip_prefix("node").unwrap_or(key).parse::<u16>().ok()?;
        self.nodes.iter().find(|n| n.port == port)
    }
}

/// Resolves a program name like a shell does: a path with a slash as is,
/// otherwise the first executable match in PATH.
pub fn find_program(prog: &Path) -> Option<PathBuf> {
    use std::os::unix::fs::PermissionsExt;
    let executable = |p: &Path| p.metadata().map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0).unwrap_or(false);
    if prog.components().count() > 1 || prog.is_absolute() {
        return executable(prog).then(|| prog.to_path_buf());
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path).map(|d| d.join(prog)).find(|p| executable(p))
}

impl fmt::Display for EngineKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            EngineKind::Builtin => "builtin",
            EngineKind::RedisServer => "redis-server",
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Config, ConfigError> {
        Config::parse(text, "t.toml", Path::new("/base"))
    }

    #[test]
    fn embedded_default_is_the_documented_one() {
        let c = Config::embedded_default(Path::new("/base")).expect("embedded default parses");
        assert_eq!(c.nodes.len(), 6);
        assert_eq!(c.nodes[0].port, 6380);
        assert_eq!(c.nodes[5].port, 6385);
        assert_eq!(c.cluster.replicas, 1);
        assert_eq!(c.supervisor.api, "127.0.0.1:6300".parse::<SocketAddr>().expect("addr"));
        assert_eq!(c.supervisor.data_dir, PathBuf::from("/base/slotd-data"));
        assert_eq!(c.engine.kind, EngineKind::Builtin);
        assert_eq!(c.engine.mode, EngineMode::Process);
        assert_eq!(c.cluster.create, CreateMode::Auto);
        // An empty file means the same as the default.
        assert_eq!(parse("").expect("empty parses"), c);
    }

    #[test]
    fn reports_every_problem_with_its_line() {
        let text = "[cluster]\nreplicas = 9\ncreate = \"sometimes\"\n[nodes]\nports = \"7000-6000\"\n[restart]\npolicy = \"maybe\"\n";
        let err = parse(text).expect_err("invalid");
        let lines: Vec<Option<usize>> = err.problems().iter().map(|p| p.line).collect();
        assert_eq!(lines, vec![Some(2), Some(3), Some(5), Some(7)], "{err}");
        let shown = err.to_string();
        assert!(shown.contains("t.toml:3: cluster.create = \"sometimes\""), "{shown}");
        assert!(shown.contains("fix: use one of \"auto\", \"manual\""), "{shown}");
    }

    #[test]
    fn unknown_key_names_its_line() {
        let err = parse("[supervisor]\napi = \"127.0.0.1:1\"\nport = 5\n").expect_err("unknown key");
        assert_eq!(err.problems()[0].line, Some(3));
        assert!(err.to_string().contains("unknown field `port`"), "{err}");
    }

    #[test]
    fn non_loopback_api_needs_token() {
        let err = parse("[supervisor]\napi = \"0.0.0.0:6300\"\n").expect_err("needs token");
        assert!(err.to_string().contains("api_token"), "{err}");
        let ok = parse("[supervisor]\napi = \"0.0.0.0:6300\"\napi_token = \"0123456789abcdef\"\n").expect("with token");
        assert_eq!(ok.supervisor.api_token.as_deref(), Some("0123456789abcdef"));
    }

    #[test]
    fn ports_list_and_overrides() {
        let c = parse("[nodes]\nports = [7001, 7002, 7003]\n[nodes.override.7002]\nmaxmemory = \"100mb\"\nappendonly = true\n[cluster]\nreplicas = 0\n").expect("valid");
        assert_eq!(c.nodes.iter().map(|n| n.port).collect::<Vec<_>>(), vec![7001, 7002, 7003]);
        assert_eq!(c.nodes[1].overrides.get("appendonly").map(String::as_str), Some("yes"));
        assert_eq!(c.find_node("node7002").map(|n| n.port), Some(7002));
        assert_eq!(c.find_node("7003").map(|n| n.port), Some(7003));
        assert!(c.find_node("7004").is_none());
        let err =
            parse("[nodes]\nports = [7001, 7002, 7003]\n[cluster]\nreplicas = 0\n[nodes.override.7002]\nport = 1\nmaxmemory = \"lots\"\n")
                .expect_err("bad overrides");
        assert_eq!(err.problems().len(), 2, "{err}");
        assert_eq!(err.problems()[0].line, Some(6));
        assert_eq!(err.problems()[1].line, Some(7));
    }

    #[test]
    fn too_few_masters_for_auto_create() {
        let err = parse("[nodes]\nports = \"7000-7003\"\n").expect_err("4 nodes, replicas 1");
        assert!(err.to_string().contains("at least 3"), "{err}");
        parse("[nodes]\nports = \"7000-7003\"\n[cluster]\ncreate = \"manual\"\n").expect("manual is fine");
    }

    const HOSTS: &str = "[supervisor]\napi_token = \"0123456789abcdef\"\n[cluster]\npassword = \"pw-0123456789\"\n\
        [[hosts]]\nname = \"h1\"\naddress = \"10.9.0.1\"\nports = [7000, 7001]\n\
        [[hosts]]\nname = \"h2\"\naddress = \"10.9.0.2\"\nports = [7002, 7003]\nengine = \"builtin\"\n\
        [[hosts]]\nname = \"h3\"\naddress = \"10.9.0.3\"\napi = \"10.9.0.3:6400\"\nports = [7004, 7005]\nannounce_ip = \"203.0.113.3\"\n";

    #[test]
    fn hosts_select_their_part() {
        let mut c = parse(HOSTS).expect("valid");
        assert_eq!(c.cluster_nodes.len(), 6);
        assert!(c.is_multi_host());
        c.select_host(Some("h3")).expect("h3");
        assert_eq!(c.nodes.iter().map(|n| n.port).collect::<Vec<_>>(), vec![7004, 7005]);
        assert_eq!(c.supervisor.api, "10.9.0.3:6400".parse::<SocketAddr>().expect("addr"));
        assert_eq!(c.host_of("node7001").map(|h| h.name.as_str()), Some("h1"));
        let conf = crate::confgen::node_conf(&c, &c.nodes[0]);
        assert!(conf.contains("bind 10.9.0.3") && conf.contains("cluster-announce-ip 203.0.113.3"), "{conf}");
        assert!(conf.contains("requirepass pw-0123456789") && conf.contains("masterauth pw-0123456789"), "{conf}");
        let err = parse(HOSTS).expect("valid").select_host(Some("h9")).expect_err("unknown");
        assert!(err.to_string().contains("h1 (10.9.0.1)"), "{err}");
        // None of 10.9.0.x is this machine's.
        let err = parse(HOSTS).expect("valid").select_host(None).expect_err("not local");
        assert!(err.to_string().contains("--host"), "{err}");
        let mut local = parse(&HOSTS.replace("10.9.0.2\"", "127.0.0.1\"")).expect("valid");
        local.select_host(None).expect("127.0.0.1 is this machine");
        assert_eq!(local.local_host.as_deref(), Some("h2"));
    }

    #[test]
    fn hosts_problems_name_their_lines() {
        let bad = HOSTS
            .replace("password = \"pw-0123456789\"\n", "")
            .replace("name = \"h2\"", "name = \"h 2\"")
            .replace("ports = [7004, 7005]", "ports = [7003, 7005]")
            .replace("announce_ip = \"203.0.113.3\"", "announce_ip = \"nat-box\"");
        let bad = bad.replace("engine = \"builtin\"", "engine = \"redis-server\"");
        let err = parse(&format!("{bad}[nodes]\nports = [6380]\n")).expect_err("invalid");
        let text = err.to_string();
        for want in [
            "cluster.password is not set",
            "`h 2`",
            "port 7003 is used on two hosts",
            "announce_ip = \"nat-box\"",
            "nodes.ports is set together with [[hosts]]",
        ] {
            assert!(text.contains(want) || text.contains(&want.replace('`', "\"")), "missing {want}: {text}");
        }
    }

    #[test]
    fn diff_names_changed_keys() {
        let a = parse("").expect("a");
        let b = parse("[restart]\nstart_retries = 5\n").expect("b");
        assert_eq!(a.diff(&b), vec!["restart.start_retries: 3 -> 5".to_string()]);
        assert!(a.diff(&a).is_empty());
    }
}
