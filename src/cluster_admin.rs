//! Talking to nodes over RESP: a tiny client, a probe for status (role,
//! slots, cluster state as the node itself reports them), and cluster
//! creation (MEET, ADDSLOTSRANGE, REPLICATE) like `redis-cli --cluster create`.

use serde::{Deserialize, Serialize};
use std::net::SocketAddr;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio::time::{timeout, Instant};

/// Why talking to a node failed.
#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    #[error("cannot connect to node {addr}: {source}")]
    Connect { addr: SocketAddr, source: std::io::Error },
    #[error("node {addr} did not answer `{command}` within {ms} ms")]
    Timeout { addr: SocketAddr, command: String, ms: u64 },
    #[error("connection to node {addr} failed: {source}")]
    Io { addr: SocketAddr, source: std::io::Error },
    #[error("node {addr} sent a malformed reply: {what}")]
    Protocol { addr: SocketAddr, what: String },
    #[error("node {addr} refused `{command}`: {message}")]
    Server { addr: SocketAddr, command: String, message: String },
    #[error("{0}")]
    Cluster(String),
}

/// A RESP2 reply.
#[derive(Debug, Clone, PartialEq)]
pub enum Resp {
    Simple(String),
    Error(String),
    Int(i64),
    Bulk(Option<Vec<u8>>),
    Array(Option<Vec<Resp>>),
}

impl Resp {
    /// The reply as text (simple or bulk string).
    pub fn text(&self) -> Option<String> {
        match self {
            Resp::Simple(s) => Some(s.clone()),
            Resp::Bulk(Some(b)) => Some(String::from_utf8_lossy(b).into_owned()),
            _ => None,
        }
    }
}

/// Node credentials by address (`cluster.password`, and `nodes.acl_user`
/// when set), so every connection slotd opens to a node AUTHs first: set
/// once per supervised cluster, read by [`Conn::connect`]. Keyed by address
/// so several clusters in one process (tests) keep theirs apart.
static PASSWORDS: std::sync::RwLock<std::collections::BTreeMap<SocketAddr, Credentials>> =
    std::sync::RwLock::new(std::collections::BTreeMap::new());

/// What slotd logs in with: a password, for a named ACL user or `default`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Credentials {
    pub user: Option<String>,
    pub password: String,
}

/// Registers the credentials for every node address in `addrs`.
pub fn set_password(addrs: impl IntoIterator<Item = SocketAddr>, user: Option<&str>, password: &str) {
    set_credentials(addrs, Some(Credentials { user: user.map(str::to_string), password: password.to_string() }));
}

/// Makes `creds` the credentials of every address in `addrs`; None: the
/// nodes there need none. A cluster declares its own, so one started later
/// on a reused port does not inherit an earlier cluster's password.
pub fn set_credentials(addrs: impl IntoIterator<Item = SocketAddr>, creds: Option<Credentials>) {
    let mut map = PASSWORDS.write().unwrap_or_else(|p| p.into_inner());
    for a in addrs {
        match &creds {
            Some(c) => map.insert(a, c.clone()),
            None => map.remove(&a),
        };
    }
}

/// The credentials registered for a node, if any.
pub fn password_for(addr: SocketAddr) -> Option<Credentials> {
    PASSWORDS.read().unwrap_or_else(|p| p.into_inner()).get(&addr).cloned()
}

/// One connection to a node.
pub struct Conn {
    addr: SocketAddr,
    stream: BufReader<TcpStream>,
    timeout: Duration,
}

const MAX_BULK: i64 = 64 * 1024 * 1024;

impl Conn {
    /// Connects with a timeout that also bounds every later command.
    ///
    /// # Errors
    /// Connection refused or timed out.
    pub async fn connect(addr: SocketAddr, limit: Duration) -> Result<Conn, AdminError> {
        let stream = match timeout(limit, TcpStream::connect(addr)).await {
            Ok(Ok(s)) => s,
            Ok(Err(source)) => return Err(AdminError::Connect { addr, source }),
            Err(_) => return Err(AdminError::Timeout { addr, command: "connect".into(), ms: limit.as_millis() as u64 }),
        };
        let _ = stream.set_nodelay(true);
        let mut c = Conn { addr, stream: BufReader::new(stream), timeout: limit };
        if let Some(cred) = password_for(addr) {
            let auth: Vec<&str> = match &cred.user {
                Some(u) => vec!["AUTH", u, &cred.password],
                None => vec!["AUTH", &cred.password],
            };
            c.cmd(&auth).await.map_err(|e| match e {
                AdminError::Server { message, .. } => AdminError::Server {
                    addr,
                    command: "AUTH".into(),
                    message: format!("{message} (is cluster.password the same in every host's config?)"),
                },
                other => other,
            })?;
        }
        Ok(c)
    }

    /// Sends a command; an error reply becomes [`AdminError::Server`].
    ///
    /// # Errors
    /// I/O, timeout, malformed or error reply.
    pub async fn cmd(&mut self, args: &[&str]) -> Result<Resp, AdminError> {
        let command = args.join(" ");
        let addr = self.addr;
        let limit = self.timeout;
        let reply = timeout(limit, async {
            let mut buf = format!("*{}\r\n", args.len()).into_bytes();
            for a in args {
                buf.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
                buf.extend_from_slice(a.as_bytes());
                buf.extend_from_slice(b"\r\n");
            }
            self.stream.get_mut().write_all(&buf).await.map_err(|source| AdminError::Io { addr, source })?;
            read_reply(&mut self.stream, addr, 0).await
        })
        .await
        .map_err(|_| AdminError::Timeout { addr, command: command.clone(), ms: limit.as_millis() as u64 })??;
        match reply {
            Resp::Error(message) => Err(AdminError::Server { addr, command, message }),
            other => Ok(other),
        }
    }

    /// Sends several commands in one write and reads every reply in order;
    /// error replies are returned as [`Resp::Error`], not as `Err`, so the
    /// caller can tell which command of the batch failed.
    ///
    /// # Errors
    /// I/O, timeout or a malformed reply.
    pub async fn pipeline(&mut self, cmds: &[Vec<Vec<u8>>]) -> Result<Vec<Resp>, AdminError> {
        let addr = self.addr;
        // A whole batch may take longer than one command: bulk lab writes, MIGRATE of many keys.
        let limit = self.timeout * 4;
        let first = cmds.first().and_then(|c| c.first()).map(|a| String::from_utf8_lossy(a).into_owned()).unwrap_or_default();
        timeout(limit, async {
            let mut buf = Vec::new();
            for args in cmds {
                buf.extend_from_slice(format!("*{}\r\n", args.len()).as_bytes());
                for a in args {
                    buf.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
                    buf.extend_from_slice(a);
                    buf.extend_from_slice(b"\r\n");
                }
            }
            self.stream.get_mut().write_all(&buf).await.map_err(|source| AdminError::Io { addr, source })?;
            let mut out = Vec::with_capacity(cmds.len());
            for _ in cmds {
                out.push(read_reply(&mut self.stream, addr, 0).await?);
            }
            Ok(out)
        })
        .await
        .map_err(|_| AdminError::Timeout {
            addr,
            command: format!("{first} (pipeline of {})", cmds.len()),
            ms: limit.as_millis() as u64,
        })?
    }

    /// The node's address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Sends a command whose reply is text.
    ///
    /// # Errors
    /// As [`Conn::cmd`], or a non-text reply.
    pub async fn text(&mut self, args: &[&str]) -> Result<String, AdminError> {
        let addr = self.addr;
        let r = self.cmd(args).await?;
        r.text().ok_or_else(|| AdminError::Protocol { addr, what: format!("expected text for `{}`, got {r:?}", args.join(" ")) })
    }
}

fn read_reply<'a>(
    r: &'a mut BufReader<TcpStream>,
    addr: SocketAddr,
    depth: usize,
) -> std::pin::Pin<Box<dyn std::future::Future<Output = Result<Resp, AdminError>> + Send + 'a>> {
    Box::pin(async move {
        let proto = |what: &str| AdminError::Protocol { addr, what: what.to_string() };
        if depth > 16 {
            return Err(proto("nesting too deep"));
        }
        let mut line = Vec::new();
        let n = r.read_until(b'\n', &mut line).await.map_err(|source| AdminError::Io { addr, source })?;
        if n == 0 {
            return Err(AdminError::Io {
                addr,
                source: std::io::Error::new(std::io::ErrorKind::UnexpectedEof, "connection closed by the node"),
            });
        }
        if line.len() < 3 || !line.ends_with(b"\r\n") {
            return Err(proto("line without CRLF"));
        }
        let body = String::from_utf8_lossy(&line[1..line.len() - 2]).into_owned();
        let int = |s: &str| s.parse::<i64>().map_err(|_| proto("bad length or integer"));
        match line[0] {
            b'+' => Ok(Resp::Simple(body)),
            b'-' => Ok(Resp::Error(body)),
            b':' => Ok(Resp::Int(int(&body)?)),
            b'$' => {
                let len = int(&body)?;
                if len < 0 {
                    return Ok(Resp::Bulk(None));
                }
                if len > MAX_BULK {
                    return Err(proto("bulk string too large"));
                }
                let mut buf = vec![0u8; len as usize + 2];
                r.read_exact(&mut buf).await.map_err(|source| AdminError::Io { addr, source })?;
                buf.truncate(len as usize);
                Ok(Resp::Bulk(Some(buf)))
            }
            b'*' => {
                let len = int(&body)?;
                if len < 0 {
                    return Ok(Resp::Array(None));
                }
                if len > 1_000_000 {
                    return Err(proto("array too large"));
                }
                let mut items = Vec::with_capacity(len as usize);
                for _ in 0..len {
                    items.push(read_reply(r, addr, depth + 1).await?);
                }
                Ok(Resp::Array(Some(items)))
            }
            _ => Err(proto("unknown reply type")),
        }
    })
}

/// Parses `key:value` lines of INFO / CLUSTER INFO.
pub fn info_field(text: &str, key: &str) -> Option<String> {
    text.lines().find_map(|l| l.trim_end().strip_prefix(key).and_then(|r| r.strip_prefix(':')).map(str::to_string))
}

/// What a node says about itself.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Probe {
    /// "master" or "slave" (INFO replication).
    pub role: Option<String>,
    /// Port of its master when it is a replica.
    pub master_port: Option<u16>,
    /// master_link_status of a replica.
    pub master_link: Option<String>,
    /// Node id (CLUSTER MYID), when cluster mode answers.
    pub id: Option<String>,
    /// Slot ranges it serves, as CLUSTER NODES lists them.
    pub slots: Vec<String>,
    /// cluster_state from CLUSTER INFO ("ok" or "fail").
    pub cluster_state: Option<String>,
    pub known_nodes: Option<u64>,
    pub slots_assigned: Option<u64>,
    /// Flags from its own CLUSTER NODES line (myself,master / myself,slave...).
    pub flags: Option<String>,
    /// The live figures the dashboard draws (INFO clients, stats, keyspace).
    #[serde(default)]
    pub load: Load,
}

/// A node's load and replication position, from one INFO call.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Load {
    pub ops_per_sec: Option<u64>,
    pub connected_clients: Option<u64>,
    /// Keys in every database.
    pub keys: Option<u64>,
    /// A master's master_repl_offset, a replica's slave_repl_offset.
    pub repl_offset: Option<u64>,
    /// A replica's master_last_io_seconds_ago (-1 while the link is down).
    pub master_last_io_s: Option<i64>,
}

impl Load {
    /// Reads the fields out of INFO text (any sections present).
    pub fn from_info(info: &str) -> Load {
        let num = |k: &str| info_field(info, k).and_then(|v| v.trim().parse::<u64>().ok());
        let keys = info
            .lines()
            .filter(|l| l.starts_with("db"))
            .filter_map(|l| l.split_once(':').map(|(_, v)| v))
            .filter_map(|v| v.split(',').find_map(|kv| kv.strip_prefix("keys=")).and_then(|n| n.parse::<u64>().ok()))
            .reduce(|a, b| a + b);
        let is_replica = info_field(info, "role").as_deref() == Some("slave");
        Load {
            ops_per_sec: num("instantaneous_ops_per_sec"),
            connected_clients: num("connected_clients"),
            keys: keys.or(info.contains("# Keyspace").then_some(0)),
            repl_offset: if is_replica { num("slave_repl_offset") } else { num("master_repl_offset") },
            master_last_io_s: info_field(info, "master_last_io_seconds_ago").and_then(|v| v.trim().parse().ok()),
        }
    }
}

/// Asks a node for its role, slots and cluster state; cluster fields stay
/// empty when the node does not (yet) speak cluster commands.
///
/// # Errors
/// The node cannot be reached or does not answer INFO.
pub async fn probe(addr: SocketAddr, limit: Duration) -> Result<Probe, AdminError> {
    let mut c = Conn::connect(addr, limit).await?;
    let mut p = Probe::default();
    // Several sections in one call (Redis 7.0); both engines answer it.
    let repl = c.text(&["INFO", "replication", "clients", "stats", "keyspace"]).await?;
    p.load = Load::from_info(&repl);
    p.role = info_field(&repl, "role");
    p.master_port = info_field(&repl, "master_port").and_then(|s| s.parse().ok());
    p.master_link = info_field(&repl, "master_link_status");
    if let Ok(info) = c.text(&["CLUSTER", "INFO"]).await {
        p.cluster_state = info_field(&info, "cluster_state");
        p.known_nodes = info_field(&info, "cluster_known_nodes").and_then(|s| s.parse().ok());
        p.slots_assigned = info_field(&info, "cluster_slots_assigned").and_then(|s| s.parse().ok());
    }
    if let Ok(nodes) = c.text(&["CLUSTER", "NODES"]).await {
        if let Some(me) = nodes
            .lines()
            .map(str::split_whitespace)
            .map(Iterator::collect::<Vec<_>>)
            .find(|f| f.len() >= 8 && f[2].split(',').any(|x| x == "myself"))
        {
            p.id = Some(me[0].to_string());
            p.flags = Some(me[2].to_string());
            p.slots = me[8..].iter().map(|s| s.to_string()).collect();
        }
    }
    Ok(p)
}

/// How a node answers PING.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Liveness {
    /// PONG.
    Up,
    /// `-LOADING`: alive, still reading its dataset.
    Loading,
    /// No answer, or another one.
    Down,
}

/// Answered PING with PONG.
pub async fn ping(addr: SocketAddr, limit: Duration) -> bool {
    liveness(addr, limit).await == Liveness::Up
}

/// PING's answer: up, loading its dataset (Redis answers `-LOADING` until
/// a big dump file is read), or down.
pub async fn liveness(addr: SocketAddr, limit: Duration) -> Liveness {
    match Conn::connect(addr, limit).await {
        Ok(mut c) => match c.cmd(&["PING"]).await {
            Ok(Resp::Simple(s)) if s == "PONG" => Liveness::Up,
            Ok(Resp::Error(e)) if e.starts_with("LOADING") => Liveness::Loading,
            _ => Liveness::Down,
        },
        Err(_) => Liveness::Down,
    }
}

/// The even slot split `redis-cli --cluster create` uses, per master.
pub fn slot_ranges(masters: usize) -> Vec<(u16, u16)> {
    let mut out = Vec::new();
    if masters == 0 {
        return out;
    }
    let per = 16384.0 / masters as f64;
    let mut first: i64 = 0;
    let mut cursor = 0.0f64;
    for i in 0..masters {
        let mut last = (cursor + per - 1.0).round() as i64;
        if last > 16383 || i == masters - 1 {
            last = 16383;
        }
        out.push((first as u16, last as u16));
        first = last + 1;
        cursor += per;
    }
    out
}

/// What `create` did.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CreateReport {
    /// True when the cluster was already formed and left alone.
    pub already_formed: bool,
    /// (master port, first slot, last slot).
    pub masters: Vec<(u16, u16, u16)>,
    /// (replica port, master port).
    pub replicas: Vec<(u16, u16)>,
}

/// Whether the nodes already form one healthy cluster, are all empty, or neither.
#[derive(Debug, Clone, PartialEq)]
pub enum Formation {
    Formed,
    Empty,
    Partial(String),
}

/// Looks at every node's view to tell formed / empty / partial.
///
/// # Errors
/// A node cannot be reached or has cluster mode off.
pub async fn formation(nodes: &[SocketAddr], limit: Duration) -> Result<Formation, AdminError> {
    let mut all_ok = true;
    let mut all_empty = true;
    let mut detail = Vec::new();
    for addr in nodes {
        let mut c = Conn::connect(*addr, limit).await?;
        let info = c
            .text(&["CLUSTER", "INFO"])
            .await
            .map_err(|e| AdminError::Cluster(format!("{e} (is cluster-enabled on? slotd's generated conf sets it)")))?;
        let state = info_field(&info, "cluster_state").unwrap_or_default();
        let known: usize = info_field(&info, "cluster_known_nodes").and_then(|s| s.parse().ok()).unwrap_or(0);
        let assigned: usize = info_field(&info, "cluster_slots_assigned").and_then(|s| s.parse().ok()).unwrap_or(0);
        if state != "ok" || known != nodes.len() {
            all_ok = false;
        }
        if known > 1 || assigned > 0 {
            all_empty = false;
            detail.push(format!("{addr} knows {known} nodes and has {assigned} slots assigned"));
        }
    }
    Ok(if all_ok {
        Formation::Formed
    } else if all_empty {
        Formation::Empty
    } else {
        Formation::Partial(detail.join("; "))
    })
}

/// Waits until every node knows every other node (handshakes done).
async fn wait_all_met(conns: &mut [Conn], nodes: &[SocketAddr], ids: &[String], deadline: Instant) -> Result<(), AdminError> {
    loop {
        let mut pending = None;
        for (i, c) in conns.iter_mut().enumerate() {
            let text = c.text(&["CLUSTER", "NODES"]).await?;
            let known = text
                .lines()
                .filter(|l| {
                    let f: Vec<&str> = l.split_whitespace().collect();
                    f.len() >= 8 && ids.iter().any(|id| id == f[0]) && !f[2].contains("handshake") && !f[2].contains("noaddr")
                })
                .count();
            if known < nodes.len() {
                pending = Some(format!("{} knows {known} of {} nodes", nodes[i], nodes.len()));
                break;
            }
        }
        match pending {
            None => return Ok(()),
            Some(p) if Instant::now() >= deadline => {
                return Err(AdminError::Cluster(format!(
                    "nodes did not all meet in time: {p}; check that each node's cluster bus port (port + 10000) is reachable"
                )))
            }
            Some(_) => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    }
}

/// Forms a cluster from empty nodes: the first `len / (replicas + 1)` are
/// masters with an even slot split, the rest replicate them in turn. Waits
/// until every node reports `cluster_state:ok`, or fails at `deadline`.
///
/// # Errors
/// Too few masters, a node unreachable or refusing a command, a partially
/// formed cluster, or the deadline passing (message says which step).
pub async fn create(nodes: &[SocketAddr], replicas: usize, deadline: Instant) -> Result<CreateReport, AdminError> {
    let masters = nodes.len() / (replicas + 1);
    let plan: Vec<(SocketAddr, usize)> =
        nodes.iter().enumerate().skip(masters).map(|(j, a)| (*a, (j - masters) % masters.max(1))).collect();
    create_planned(&nodes[..masters.min(nodes.len())], &plan, replicas, deadline).await
}

/// As [`create`], with the masters and each replica's master (an index into
/// `master_addrs`) chosen by the caller (placement across hosts).
///
/// # Errors
/// As [`create`].
pub async fn create_planned(
    master_addrs: &[SocketAddr],
    replica_plan: &[(SocketAddr, usize)],
    replicas: usize,
    deadline: Instant,
) -> Result<CreateReport, AdminError> {
    let limit = Duration::from_secs(2);
    let masters = master_addrs.len();
    let nodes: Vec<SocketAddr> = master_addrs.iter().copied().chain(replica_plan.iter().map(|(a, _)| *a)).collect();
    let nodes = nodes.as_slice();
    if masters < 3 {
        return Err(AdminError::Cluster(format!(
            "{} nodes with {replicas} replica(s) per master give {masters} masters; a Redis Cluster needs at least 3: add ports to [nodes] ports or lower cluster.replicas",
            nodes.len()
        )));
    }
    if let Some((a, m)) = replica_plan.iter().find(|(_, m)| *m >= masters) {
        return Err(AdminError::Cluster(format!("replica {a} is planned for master #{m}, but there are {masters} masters")));
    }
    match formation(nodes, limit).await? {
        Formation::Formed => {
            let mut report = CreateReport {
                already_formed: true,
                masters: Vec::new(),
                replicas: Vec::new(),
            };
            for addr in nodes {
                let p = probe(*addr, limit).await?;
                match (p.role.as_deref(), p.master_port) {
                    (Some("slave"), Some(m)) => report.replicas.push((addr.port(), m)),
                    _ => {
                        for r in &p.slots {
                            let (a, b) = r.split_once('-').unwrap_or((r, r));
                            if let (Ok(a), Ok(b)) = (a.parse(), b.parse()) {
                                report.masters.push((addr.port(), a, b));
                            }
                        }
                    }
                }
            }
            return Ok(report);
        }
        Formation::Partial(detail) => {
            return Err(AdminError::Cluster(format!(
                "the nodes are partly joined ({detail}); finish by hand with CLUSTER MEET/ADDSLOTS/REPLICATE, or reset every node (`redis-cli -p PORT CLUSTER RESET HARD` after FLUSHALL) and run `slotctl create` again"
            )))
        }
        Formation::Empty => {}
    }
    let mut conns = Vec::new();
    let mut ids = Vec::new();
    for addr in nodes {
        let mut c = Conn::connect(*addr, limit).await?;
        ids.push(c.text(&["CLUSTER", "MYID"]).await?);
        conns.push(c);
    }
    // Order matters for readiness: nodes meet, replicas attach and finish
    // their first sync, and only then are slots assigned. The first moment
    // any node reports cluster_state:ok is thus one where every replica is in
    // place (assigning slots first makes the cluster "ok" while all nodes are
    // still masters, and a master killed then has no replica to take over).
    let ranges = slot_ranges(masters);
    let mut report = CreateReport { already_formed: false, masters: Vec::new(), replicas: Vec::new() };
    for (i, c) in conns.iter_mut().enumerate() {
        // Distinct epochs avoid a collision round at start, as redis-cli does
        // (only accepted while a node knows no other node: before MEET).
        let _ = c.cmd(&["CLUSTER", "SET-CONFIG-EPOCH", &(i + 1).to_string()]).await;
    }
    let first_ip = nodes[0].ip().to_string();
    let first_port = nodes[0].port().to_string();
    for c in conns.iter_mut().skip(1) {
        c.cmd(&["CLUSTER", "MEET", &first_ip, &first_port]).await?;
    }
    wait_all_met(&mut conns, nodes, &ids, deadline).await?;
    for j in masters..nodes.len() {
        let m = replica_plan[j - masters].1;
        loop {
            match conns[j].cmd(&["CLUSTER", "REPLICATE", &ids[m]]).await {
                Ok(_) => break,
                Err(AdminError::Server { .. }) if Instant::now() < deadline => tokio::time::sleep(Duration::from_millis(100)).await,
                Err(e) => return Err(e),
            }
        }
        report.replicas.push((nodes[j].port(), nodes[m].port()));
    }
    // A replica that never finished its first sync cannot be promoted (its
    // data counts as too old), so the cluster is not ready for a failover
    // until every replica's link is up (Redis delays the first diskless sync
    // by repl-diskless-sync-delay, 5 s by default).
    for j in masters..nodes.len() {
        loop {
            let repl = conns[j].text(&["INFO", "replication"]).await?;
            if info_field(&repl, "master_link_status").as_deref() == Some("up") {
                break;
            }
            if Instant::now() >= deadline {
                return Err(AdminError::Cluster(format!(
                    "replica {} did not finish its first sync with its master in time; see its log",
                    nodes[j]
                )));
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    for (i, (first, last)) in ranges.iter().enumerate() {
        let (f, l) = (first.to_string(), last.to_string());
        if let Err(e) = conns[i].cmd(&["CLUSTER", "ADDSLOTSRANGE", &f, &l]).await {
            // Older nodes lack ADDSLOTSRANGE: fall back to listing every slot.
            if !matches!(&e, AdminError::Server { message, .. } if message.to_ascii_lowercase().contains("unknown")) {
                return Err(e);
            }
            let slots: Vec<String> = (*first..=*last).map(|s| s.to_string()).collect();
            let mut args: Vec<&str> = vec!["CLUSTER", "ADDSLOTS"];
            args.extend(slots.iter().map(String::as_str));
            conns[i].cmd(&args).await?;
        }
        report.masters.push((nodes[i].port(), *first, *last));
    }
    loop {
        let mut pending = None;
        for (i, c) in conns.iter_mut().enumerate() {
            let info = c.text(&["CLUSTER", "INFO"]).await?;
            if info_field(&info, "cluster_state").as_deref() != Some("ok") {
                pending = Some(nodes[i]);
                break;
            }
        }
        match pending {
            None => break,
            Some(p) if Instant::now() >= deadline => {
                return Err(AdminError::Cluster(format!(
                    "node {p} did not reach cluster_state:ok in time; see its log and `redis-cli -p {} CLUSTER NODES`",
                    p.port()
                )))
            }
            Some(_) => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    }
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn even_split_matches_redis_cli() {
        assert_eq!(slot_ranges(3), vec![(0, 5460), (5461, 10922), (10923, 16383)]);
        let four = slot_ranges(4);
        assert_eq!(four.first(), Some(&(0, 4095)));
        assert_eq!(four.last(), Some(&(12288, 16383)));
        for n in 1..20 {
            let r = slot_ranges(n);
            assert_eq!(r.len(), n);
            assert_eq!(r[0].0, 0);
            assert_eq!(r[n - 1].1, 16383);
            for w in r.windows(2) {
                assert_eq!(w[0].1 + 1, w[1].0, "contiguous for {n}");
            }
        }
    }

    #[test]
    fn info_fields() {
        let t = "# Replication\r\nrole:slave\r\nmaster_port:6380\r\n";
        assert_eq!(info_field(t, "role").as_deref(), Some("slave"));
        assert_eq!(info_field(t, "master_port").as_deref(), Some("6380"));
        assert_eq!(info_field(t, "master"), None);
    }

    #[test]
    fn load_from_info() {
        let t = "# Clients\r\nconnected_clients:3\r\n# Stats\r\ninstantaneous_ops_per_sec:120\r\n# Replication\r\nrole:slave\r\nmaster_last_io_seconds_ago:1\r\nslave_repl_offset:500\r\nmaster_repl_offset:700\r\n# Keyspace\r\ndb0:keys=10,expires=0,avg_ttl=0\r\ndb3:keys=5,expires=1,avg_ttl=9\r\n";
        let l = Load::from_info(t);
        assert_eq!(
            l,
            Load { ops_per_sec: Some(120), connected_clients: Some(3), keys: Some(15), repl_offset: Some(500), master_last_io_s: Some(1) }
        );
        let empty = Load::from_info("# Replication\r\nrole:master\r\nmaster_repl_offset:7\r\n# Keyspace\r\n");
        assert_eq!((empty.keys, empty.repl_offset, empty.master_last_io_s), (Some(0), Some(7), None));
    }
}
