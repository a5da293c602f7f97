//! Stage 2: checking every value of the raw config and resolving defaults,
//! collecting *all* problems (with line and fix) before failing.

use super::raw::*;
use super::*;
use std::collections::BTreeSet;
use toml::Spanned;

/// One problem found in a config file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Problem {
    /// 1-based line, when the problem is tied to a value.
    pub line: Option<usize>,
    pub message: String,
    pub fix: String,
}

/// Why a config cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {path}: {source}\n  fix: check the path given to --config, or run without --config to use ./slotd.toml or the embedded default")]
    Read { path: PathBuf, source: std::io::Error },
    #[error("{}", render_problems(file, problems))]
    Invalid { file: String, problems: Vec<Problem> },
}

impl ConfigError {
    /// The problems found, empty for a read error.
    pub fn problems(&self) -> &[Problem] {
        match self {
            ConfigError::Read { .. } => &[],
            ConfigError::Invalid { problems, .. } => problems,
        }
    }
}

fn render_problems(file: &str, problems: &[Problem]) -> String {
    let mut out = format!("{} problem{} in {file}:", problems.len(), if problems.len() == 1 { "" } else { "s" });
    for p in problems {
        match p.line {
            Some(line) => out.push_str(&format!("\n{file}:{line}: {}\n  fix: {}", p.message, p.fix)),
            None => out.push_str(&format!("\n{file}: {}\n  fix: {}", p.message, p.fix)),
        }
    }
    out
}

/// Collects problems with their lines while validating.
struct Checker<'a> {
    text: &'a str,
    problems: Vec<Problem>,
}

impl<'a> Checker<'a> {
    fn line_of(&self, offset: usize) -> usize {
        let end = offset.min(self.text.len());
        self.text.as_bytes()[..end].iter().filter(|b| **b == b'\n').count() + 1
    }
    fn at<T>(&mut self, span: &Spanned<T>, message: impl Into<String>, fix: impl Into<String>) {
        let line = self.line_of(span.span().start);
        self.problems.push(Problem { line: Some(line), message: message.into(), fix: fix.into() });
    }
    fn general(&mut self, message: impl Into<String>, fix: impl Into<String>) {
        self.problems.push(Problem { line: None, message: message.into(), fix: fix.into() });
    }
    /// An integer within bounds, or the default.
    fn int(&mut self, v: &Option<Spanned<i64>>, key: &str, min: i64, max: i64, default: i64) -> i64 {
        match v {
            None => default,
            Some(s) if (min..=max).contains(s.get_ref()) => *s.get_ref(),
            Some(s) => {
                self.at(
                    s,
                    format!("{key} = {} is out of range", s.get_ref()),
                    format!("use a whole number from {min} to {max} (default {default})"),
                );
                default
            }
        }
    }
    /// One of a fixed set of words, or the default.
    fn choice<T: Copy>(&mut self, v: &Option<Spanned<String>>, key: &str, options: &[(&str, T)], default: T) -> T {
        let Some(s) = v else { return default };
        if let Some((_, t)) = options.iter().find(|(name, _)| *name == s.get_ref().as_str()) {
            return *t;
        }
        let names: Vec<String> = options.iter().map(|(n, _)| format!("\"{n}\"")).collect();
        self.at(s, format!("{key} = \"{}\" is not a known value", s.get_ref()), format!("use one of {}", names.join(", ")));
        default
    }
}

impl Config {
    /// Loads and validates a config file.
    ///
    /// # Errors
    /// The file cannot be read or has problems (all of them are reported).
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read { path: path.to_path_buf(), source })?;
        let base = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("/"));
        let mut cfg = Config::parse(&text, &path.display().to_string(), &base)?;
        cfg.source = Some(path.to_path_buf());
        Ok(cfg)
    }

    /// The embedded default config, with data_dir under `base`.
    ///
    /// # Errors
    /// Only if the embedded file were broken (a unit test guards that).
    pub fn embedded_default(base: &Path) -> Result<Config, ConfigError> {
        Config::parse(DEFAULT_CONFIG, DEFAULT_CONFIG_NAME, base)
    }

    /// Parses and validates TOML text; `file` names it in errors, relative
    /// paths resolve against `base`.
    ///
    /// # Errors
    /// Every problem found, each with its line and fix.
    pub fn parse(text: &str, file: &str, base: &Path) -> Result<Config, ConfigError> {
        let raw: RawConfig = toml::from_str(text).map_err(|e| {
            let line = e.span().map(|s| text.as_bytes()[..s.start.min(text.len())].iter().filter(|b| **b == b'\n').count() + 1);
            let msg = e.message().to_string();
            let fix = if msg.contains("unknown field") {
                "remove or rename the key; `slotd --print-default-config` lists every key with its meaning".to_string()
            } else if msg.contains("invalid type") {
                "give the value the type shown in `slotd --print-default-config` (numbers unquoted, words in quotes)".to_string()
            } else {
                "fix the TOML syntax at that line (see https://toml.io)".to_string()
            };
            ConfigError::Invalid { file: file.to_string(), problems: vec![Problem { line, message: msg, fix }] }
        })?;
        Config::from_raw(raw, text, file, base)
    }

    fn from_raw(raw: RawConfig, text: &str, file: &str, base: &Path) -> Result<Config, ConfigError> {
        let mut c = Checker { text, problems: Vec::new() };

        // [supervisor]
        let default_api: SocketAddr = SocketAddr::from(([127, 0, 0, 1], 6300));
        let api = match &raw.supervisor.api {
            None => default_api,
            Some(s) => match s.get_ref().parse::<SocketAddr>() {
                Ok(a) => a,
                Err(_) => {
                    c.at(
                        s,
                        format!("supervisor.api = \"{}\" is not an IP:PORT address", s.get_ref()),
                        "use an address such as \"127.0.0.1:6300\"",
                    );
                    default_api
                }
            },
        };
        let api_token = match &raw.supervisor.api_token {
            Some(s) if s.get_ref().trim().len() < 8 => {
                c.at(
                    s,
                    "supervisor.api_token is shorter than 8 characters",
                    "use a long random token, e.g. the output of `openssl rand -hex 16`",
                );
                None
            }
            Some(s) => Some(s.get_ref().clone()),
            None => None,
        };
        if !api.ip().is_loopback() && api_token.is_none() {
            match &raw.supervisor.api {
                Some(s) => c.at(
                    s,
                    format!("supervisor.api = \"{api}\" is reachable from other machines but no supervisor.api_token is set"),
                    "set supervisor.api_token = \"<long random string>\" (clients send it as `Authorization: Bearer ...`), or bind to 127.0.0.1",
                ),
                None => c.general("the API is not on loopback but no api_token is set", "set supervisor.api_token"),
            }
        }
        let data_dir = match &raw.supervisor.data_dir {
            None => base.join("slotd-data"),
            Some(s) if s.get_ref().trim().is_empty() => {
                c.at(s, "supervisor.data_dir is empty", "set a directory such as \"slotd-data\" or \"/var/lib/slotd\"");
                base.join("slotd-data")
            }
            Some(s) => base.join(s.get_ref()),
        };

        // [engine]
        let kind = c.choice(
            &raw.engine.kind,
            "engine.kind",
            &[("builtin", EngineKind::Builtin), ("redis-server", EngineKind::RedisServer)],
            EngineKind::Builtin,
        );
        let mode = c.choice(
            &raw.engine.mode,
            "engine.mode",
            &[("process", EngineMode::Process), ("inproc", EngineMode::Inproc)],
            EngineMode::Process,
        );
        let redis_server =
            raw.engine.redis_server.as_ref().map(|s| PathBuf::from(s.get_ref())).unwrap_or_else(|| PathBuf::from("redis-server"));
        if kind == EngineKind::RedisServer && find_program(&redis_server).is_none() {
            let msg = format!("engine.kind = \"redis-server\" but `{}` is not an executable file or in PATH", redis_server.display());
            let fix = "install Redis 7 (`apt-get install redis-server`), set engine.redis_server to its full path, or use engine.kind = \"builtin\"";
            match raw.engine.redis_server.as_ref() {
                Some(s) => c.at(s, msg, fix),
                None => match raw.engine.kind.as_ref() {
                    Some(s) => c.at(s, msg, fix),
                    None => c.general(msg, fix),
                },
            }
        }

        // [cluster]
        let replicas = c.int(&raw.cluster.replicas, "cluster.replicas", 0, 5, 1) as usize;
        let node_timeout_ms = c.int(&raw.cluster.node_timeout_ms, "cluster.node_timeout_ms", 100, 3_600_000, 5000) as u64;
        let create = c.choice(
            &raw.cluster.create,
            "cluster.create",
            &[("auto", CreateMode::Auto), ("manual", CreateMode::Manual)],
            CreateMode::Auto,
        );
        let failover = c.choice(
            &raw.cluster.failover,
            "cluster.failover",
            &[("gossip", FailoverMode::Gossip), ("assisted", FailoverMode::Assisted)],
            FailoverMode::Gossip,
        );

        // [nodes]
        let host: IpAddr = match &raw.nodes.host {
            None => IpAddr::from([127, 0, 0, 1]),
            Some(s) => match s.get_ref().parse() {
                Ok(ip) => ip,
                Err(_) => {
                    c.at(
                        s,
                        format!("nodes.host = \"{}\" is not an IP address", s.get_ref()),
                        "use an IP address such as \"127.0.0.1\" (CLUSTER MEET needs an IP, not a host name)",
                    );
                    IpAddr::from([127, 0, 0, 1])
                }
            },
        };
        let hosts = parse_hosts(&mut c, &raw, kind);
        let ports: Vec<u16> = if !hosts.is_empty() {
            hosts.iter().flat_map(|h| h.ports.iter().copied()).collect()
        } else {
            match &raw.nodes.ports {
                None => (6380..=6385).collect(),
                Some(s) => parse_ports(&mut c, s, "nodes.ports"),
            }
        };
        let password = match &raw.cluster.password {
            Some(s) if s.get_ref().len() < 8 || s.get_ref().chars().any(|ch| ch.is_whitespace() || ch == '"') => {
                c.at(
                    s,
                    "cluster.password is shorter than 8 characters or contains a space or a quote",
                    "use a long random string without spaces, e.g. the output of `openssl rand -hex 16`",
                );
                None
            }
            Some(s) => Some(s.get_ref().clone()),
            None => None,
        };
        let acl_user = match &raw.nodes.acl_user {
            Some(s)
                if s.get_ref().is_empty() || s.get_ref() == "default" || s.get_ref().chars().any(|ch| ch.is_whitespace() || ch == '"') =>
            {
                c.at(s, "nodes.acl_user must be a user name other than `default`, without spaces or quotes", "e.g. acl_user = \"slotd\"");
                None
            }
            Some(s) if password.is_none() => {
                c.at(
                    s,
                    "nodes.acl_user is set but cluster.password is not (it is that user's password)",
                    "set cluster.password = \"<long random string>\"",
                );
                None
            }
            Some(s) => Some(s.get_ref().clone()),
            None => None,
        };
        if !hosts.is_empty() {
            if password.is_none() {
                c.general(
                    "[[hosts]] puts nodes on the network, but cluster.password is not set",
                    "set cluster.password = \"<long random string>\" (every node's requirepass and masterauth)",
                );
            }
            if api_token.is_none() {
                c.general(
                    "[[hosts]] makes every slotd's API reachable from the other hosts, but supervisor.api_token is not set",
                    "set supervisor.api_token = \"<long random string>\", the same in the file every host uses",
                );
            }
        } else if !host.is_loopback() && !host.is_unspecified() && password.is_none() && raw.nodes.host.is_some() {
            // One machine but nodes on a network address: same rule as for hosts.
            if let Some(s) = &raw.nodes.host {
                c.at(
                    s,
                    format!("nodes.host = \"{host}\" is reachable from other machines but cluster.password is not set"),
                    "set cluster.password, or bind the nodes to 127.0.0.1",
                );
            }
        }
        let preferred_endpoint = c.choice(
            &raw.cluster.preferred_endpoint,
            "cluster.preferred_endpoint",
            &[("ip", PreferredEndpoint::Ip), ("hostname", PreferredEndpoint::Hostname)],
            PreferredEndpoint::Ip,
        );
        if preferred_endpoint == PreferredEndpoint::Hostname && !hosts.iter().all(|h| h.announce_hostname.is_some()) {
            if let Some(s) = &raw.cluster.preferred_endpoint {
                c.at(
                    s,
                    "cluster.preferred_endpoint = \"hostname\" but not every host has announce_hostname",
                    "give each [[hosts]] entry an announce_hostname, or use \"ip\"",
                );
            }
        }
        let mut seen = BTreeSet::new();
        for p in &ports {
            if !seen.insert(*p) {
                if !hosts.is_empty() {
                    c.general(
                        format!("port {p} is used on two hosts"),
                        "give every node of the cluster its own port (nodes are named by port: node7000), even on different hosts",
                    );
                } else if let Some(s) = &raw.nodes.ports {
                    c.at(s, format!("port {p} is listed twice in nodes.ports"), "list each port once");
                }
            }
            if seen.contains(&(p.wrapping_add(10000))) {
                if let Some(s) = &raw.nodes.ports {
                    c.at(
                        s,
                        format!("port {} is the cluster bus port of node {p} (port + 10000)", p + 10000),
                        "choose ports that are not 10000 apart",
                    );
                }
            }
            if *p == api.port() && (api.ip() == host || api.ip().is_unspecified() || host.is_unspecified()) {
                if let Some(s) = &raw.nodes.ports {
                    c.at(s, format!("port {p} is also the API port (supervisor.api)"), "move the API or the node to another port");
                }
            }
        }
        let masters = ports.len() / (replicas + 1);
        if create == CreateMode::Auto && !ports.is_empty() && masters < 3 {
            let msg = format!(
                "cluster.create = \"auto\" with {} nodes and replicas = {replicas} gives {masters} masters; a Redis Cluster needs at least 3",
                ports.len()
            );
            let fix = format!(
                "list at least {} ports in nodes.ports, lower cluster.replicas, or set cluster.create = \"manual\"",
                3 * (replicas + 1)
            );
            match &raw.cluster.replicas {
                Some(s) => c.at(s, msg, fix),
                None => match &raw.nodes.ports {
                    Some(s) => c.at(s, msg, fix),
                    None => c.general(msg, fix),
                },
            }
        }
        let mut overrides: BTreeMap<u16, BTreeMap<String, String>> = BTreeMap::new();
        for (key, table) in &raw.nodes.overrides {
            let port = key.strip_prefix("node").unwrap_or(key).parse::<u16>().ok().filter(|p| ports.contains(p));
            let Some(port) = port else {
                c.at(
                    table,
                    format!("[nodes.override.{key}] does not name a configured node"),
                    format!("use one of the ports in nodes.ports ({})", ports.iter().map(u16::to_string).collect::<Vec<_>>().join(", ")),
                );
                continue;
            };
            let mut probe = node_engine::NodeConfig::default();
            let mut set = BTreeMap::new();
            for (name, value) in table.get_ref() {
                let name_l = name.to_ascii_lowercase();
                if MANAGED_DIRECTIVES.contains(&name_l.as_str()) {
                    c.at(
                        value,
                        format!("`{name}` is written by slotd and cannot be overridden"),
                        "remove it; slotd derives it from [supervisor] and [nodes]",
                    );
                    continue;
                }
                let text = match value.get_ref() {
                    toml::Value::String(s) => s.clone(),
                    toml::Value::Integer(i) => i.to_string(),
                    toml::Value::Float(f) => f.to_string(),
                    toml::Value::Boolean(b) => {
                        if *b {
                            "yes".into()
                        } else {
                            "no".into()
                        }
                    }
                    _ => {
                        c.at(
                            value,
                            format!("override `{name}` must be a string, number or boolean"),
                            "write the value as in redis.conf, e.g. maxmemory = \"100mb\"",
                        );
                        continue;
                    }
                };
                if text.contains('\n') || text.contains('"') {
                    c.at(value, format!("override `{name}` contains a newline or a quote"), "use a single-line value without quotes");
                    continue;
                }
                if let Err(reason) = probe.set_checked(&name_l, &text) {
                    c.at(
                        value,
                        format!("override `{name} = {text}` is not accepted by the node: {reason}"),
                        "use a redis.conf directive and value accepted by Redis 7.0 (see `CONFIG GET *`)",
                    );
                    continue;
                }
                set.insert(name_l, text);
            }
            overrides.insert(port, set);
        }
        let place = |p: u16| -> (IpAddr, Option<String>) {
            match hosts.iter().find(|h| h.ports.contains(&p)) {
                Some(h) => (h.address, Some(h.name.clone())),
                None => (host, None),
            }
        };
        let nodes: Vec<NodeSpec> = ports
            .iter()
            .map(|p| {
                let (host, host_name) = place(*p);
                NodeSpec { host, port: *p, host_name, overrides: overrides.get(p).cloned().unwrap_or_default() }
            })
            .collect();

        // [persistence]
        let save = match &raw.persistence.save {
            None => vec![(900, 1), (300, 10), (60, 10000)],
            Some(s) => {
                let mut out = Vec::new();
                for pair in s.get_ref() {
                    match pair.as_slice() {
                        [secs, changes] if *secs > 0 && *changes > 0 => out.push((*secs as u64, *changes as u64)),
                        _ => {
                            c.at(
                                s,
                                format!("persistence.save entry {pair:?} is not [seconds, changes] with both > 0"),
                                "write save points like [[900, 1], [300, 10]], or save = [] for no snapshots",
                            );
                        }
                    }
                }
                out
            }
        };
        let appendonly = raw.persistence.appendonly.as_ref().map(|s| *s.get_ref()).unwrap_or(false);
        let appendfsync = c
            .choice(
                &raw.persistence.appendfsync,
                "persistence.appendfsync",
                &[("always", "always"), ("everysec", "everysec"), ("no", "no")],
                "everysec",
            )
            .to_string();

        // [restart]
        let policy = c.choice(
            &raw.restart.policy,
            "restart.policy",
            &[("never", RestartPolicy::Never), ("unexpected", RestartPolicy::Unexpected), ("always", RestartPolicy::Always)],
            RestartPolicy::Unexpected,
        );
        let start_retries = c.int(&raw.restart.start_retries, "restart.start_retries", 0, 100, 3) as u32;
        let backoff_ms = c.int(&raw.restart.backoff_ms, "restart.backoff_ms", 10, 600_000, 1000) as u64;
        let backoff_max_ms = c.int(&raw.restart.backoff_max_ms, "restart.backoff_max_ms", 10, 3_600_000, 30_000) as u64;
        if backoff_max_ms < backoff_ms {
            if let Some(s) = &raw.restart.backoff_max_ms {
                c.at(
                    s,
                    format!("restart.backoff_max_ms = {backoff_max_ms} is below restart.backoff_ms = {backoff_ms}"),
                    "make backoff_max_ms at least backoff_ms",
                );
            }
        }
        let start_timeout_ms = c.int(&raw.restart.start_timeout_ms, "restart.start_timeout_ms", 100, 3_600_000, 10_000) as u64;
        let stop_timeout_ms = c.int(&raw.restart.stop_timeout_ms, "restart.stop_timeout_ms", 100, 3_600_000, 10_000) as u64;

        if !c.problems.is_empty() {
            c.problems.sort_by_key(|p| p.line.unwrap_or(usize::MAX));
            return Err(ConfigError::Invalid { file: file.to_string(), problems: c.problems });
        }
        Ok(Config {
            source: None,
            supervisor: SupervisorConfig { api, api_token, data_dir },
            engine: EngineConfig { kind, mode, redis_server },
            cluster: ClusterConfig { replicas, node_timeout_ms, create, failover, password, acl_user, preferred_endpoint },
            cluster_nodes: nodes.clone(),
            nodes,
            hosts,
            local_host: None,
            persistence: Persistence { save, appendonly, appendfsync },
            restart: RestartConfig { policy, start_retries, backoff_ms, backoff_max_ms, start_timeout_ms, stop_timeout_ms },
        })
    }
}

fn parse_ports(c: &mut Checker<'_>, s: &Spanned<RawPorts>, key: &str) -> Vec<u16> {
    let fix = "write a range \"6380-6385\" or a list [6380, 6381, 6382, 6383, 6384, 6385] of ports from 1 to 55535 (port + 10000 is the cluster bus)";
    let check = |p: i64| (1..=55535).contains(&p);
    match s.get_ref() {
        RawPorts::Range(r) => {
            let parts: Vec<&str> = r.split('-').map(str::trim).collect();
            let parsed = match parts.as_slice() {
                [a, b] => a.parse::<i64>().ok().zip(b.parse::<i64>().ok()),
                [a] => a.parse::<i64>().ok().map(|a| (a, a)),
                _ => None,
            };
            match parsed {
                Some((a, b)) if check(a) && check(b) && a <= b && b - a < 1000 => (a as u16..=b as u16).collect(),
                _ => {
                    c.at(s, format!("{key} = \"{r}\" is not a valid port range"), fix);
                    Vec::new()
                }
            }
        }
        RawPorts::List(list) => {
            if list.is_empty() {
                c.at(s, format!("{key} is empty"), fix);
            }
            let mut out = Vec::new();
            for p in list {
                if check(*p) {
                    out.push(*p as u16);
                } else {
                    c.at(s, format!("port {p} in {key} is out of range"), fix);
                }
            }
            out
        }
    }
}

/// `[[hosts]]`: every entry checked, names and addresses unique.
fn parse_hosts(c: &mut Checker<'_>, raw: &RawConfig, default_kind: EngineKind) -> Vec<HostSpec> {
    let mut out: Vec<HostSpec> = Vec::new();
    if raw.hosts.is_empty() {
        return out;
    }
    if let Some(s) = &raw.nodes.host {
        c.at(s, "nodes.host is set together with [[hosts]]", "remove it: with [[hosts]] each host's nodes bind to hosts.address");
    }
    if let Some(s) = &raw.nodes.ports {
        c.at(s, "nodes.ports is set together with [[hosts]]", "remove it: with [[hosts]] list each host's ports in hosts.ports");
    }
    for (i, entry) in raw.hosts.iter().enumerate() {
        let h = entry.get_ref();
        let name = match &h.name {
            Some(n) if !n.get_ref().is_empty() && n.get_ref().bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_') => {
                if out.iter().any(|o| o.name == *n.get_ref()) {
                    c.at(n, format!("host name `{}` is used twice", n.get_ref()), "give every [[hosts]] entry its own name");
                }
                n.get_ref().clone()
            }
            Some(n) => {
                c.at(n, format!("hosts.name = \"{}\" is not a plain name", n.get_ref()), "use letters, digits, - and _ (e.g. \"vm1\")");
                format!("host{}", i + 1)
            }
            None => {
                c.at(entry, format!("[[hosts]] entry {} has no name", i + 1), "add name = \"vm1\" (slotd --host vm1 picks it)");
                format!("host{}", i + 1)
            }
        };
        let address: IpAddr = match &h.address {
            Some(a) => match a.get_ref().parse() {
                Ok(ip) => ip,
                Err(_) => {
                    c.at(
                        a,
                        format!("hosts.address = \"{}\" is not an IP address", a.get_ref()),
                        "use the IP address the host's nodes bind to, e.g. \"10.0.0.11\"",
                    );
                    IpAddr::from([127, 0, 0, 1])
                }
            },
            None => {
                c.at(entry, format!("host `{name}` has no address"), "add address = \"<the host's IP address>\"");
                IpAddr::from([127, 0, 0, 1])
            }
        };
        if address.is_unspecified() {
            if let Some(a) = &h.address {
                c.at(a, format!("hosts.address = \"{address}\" is not an address other hosts can reach"), "use the host's own IP address");
            }
        }
        let api = match &h.api {
            Some(a) => match a.get_ref().parse::<SocketAddr>() {
                Ok(x) => x,
                Err(_) => {
                    c.at(a, format!("hosts.api = \"{}\" is not an IP:PORT address", a.get_ref()), "use e.g. \"10.0.0.11:6300\"");
                    SocketAddr::new(address, 6300)
                }
            },
            None => SocketAddr::new(address, 6300),
        };
        let ports = match &h.ports {
            Some(p) => parse_ports(c, p, "hosts.ports"),
            None => {
                c.at(entry, format!("host `{name}` has no ports"), "add ports = [7000, 7001] (the nodes it runs)");
                Vec::new()
            }
        };
        let kind = c.choice(
            &h.engine,
            "hosts.engine",
            &[("builtin", EngineKind::Builtin), ("redis-server", EngineKind::RedisServer)],
            default_kind,
        );
        let announce_ip = h.announce_ip.as_ref().and_then(|a| match a.get_ref().parse::<IpAddr>() {
            Ok(_) => Some(a.get_ref().clone()),
            Err(_) => {
                c.at(
                    a,
                    format!("hosts.announce_ip = \"{}\" is not an IP address", a.get_ref()),
                    "use the address clients and the other hosts reach this host at (cluster-announce-ip takes an IP)",
                );
                None
            }
        });
        let announce_hostname = h.announce_hostname.as_ref().and_then(|a| {
            let v = a.get_ref();
            if !v.is_empty() && v.len() <= 253 && v.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.') {
                Some(v.clone())
            } else {
                c.at(
                    a,
                    format!("hosts.announce_hostname = \"{v}\" is not a host name"),
                    "use letters, digits, - and . (e.g. \"vm1.lab.example\")",
                );
                None
            }
        });
        if out.iter().any(|o| o.address == address && o.api == api) {
            c.at(
                entry,
                format!("host `{name}` has the same address and API as another host"),
                "give each host its own address (or API port)",
            );
        }
        if let Some(first) = out.first() {
            if first.kind != kind {
                c.at(
                    entry,
                    format!("host `{name}` runs {kind} nodes but host `{}` runs {}", first.name, first.kind),
                    "use one engine for the whole cluster: the builtin node's cluster bus is its own protocol, so builtin and redis-server nodes cannot gossip with each other",
                );
            }
        }
        out.push(HostSpec { name, address, api, ports, kind, announce_ip, announce_hostname });
    }
    out
}
