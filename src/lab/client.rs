//! A small cluster client for lab write/read steps: routes keys by slot,
//! follows MOVED/ASK, refreshes its slot map and retries CLUSTERDOWN and
//! connection errors until a deadline, and reports what the node answered.

use crate::cluster_admin::{Conn, Resp};
use crate::topology;
use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;
use tokio::time::Instant;

/// Why a lab request did not succeed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ClientError {
    /// The node's error reply, as sent (MOVED, CLUSTERDOWN, READONLY...).
    #[error("{0}")]
    Server(String),
    /// No connection, a timeout, or a broken reply.
    #[error("{0}")]
    Link(String),
    /// The client cannot tell where to send the request.
    #[error("{0}")]
    Routing(&'static str),
    /// WAIT reached fewer replicas than asked.
    #[error("WAIT {wanted} answered {got}: not acknowledged by enough replicas")]
    NotReplicated { wanted: u32, got: String },
}

impl ClientError {
    /// The node's error reply, when that is what this is.
    pub fn server_reply(&self) -> Option<&str> {
        match self {
            ClientError::Server(m) => Some(m),
            _ => None,
        }
    }
}

/// Talks to the cluster formed by `ports` on `host`.
pub struct ClusterClient {
    host: IpAddr,
    ports: Vec<u16>,
    owner: HashMap<u16, u16>,
    conns: HashMap<u16, Conn>,
    timeout: Duration,
}

fn slot_of(key: &str) -> u16 {
    node_engine::slot::key_slot(key.as_bytes())
}

impl ClusterClient {
    pub fn new(host: IpAddr, ports: Vec<u16>) -> ClusterClient {
        ClusterClient { host, ports, owner: HashMap::new(), conns: HashMap::new(), timeout: Duration::from_millis(500) }
    }

    /// Reloads slot owners from the nodes that answer.
    pub async fn refresh(&mut self) {
        let addrs: Vec<SocketAddr> = self.ports.iter().map(|p| SocketAddr::new(self.host, *p)).collect();
        let view = topology::merged_view(&addrs, Duration::from_millis(300)).await;
        let owners = topology::owners(&view.into_iter().filter(|n| !n.has_flag("fail")).collect::<Vec<_>>());
        if !owners.is_empty() {
            self.owner = owners.into_iter().collect();
        }
    }

    async fn conn(&mut self, port: u16) -> Result<&mut Conn, ClientError> {
        if !self.conns.contains_key(&port) {
            let c = Conn::connect(SocketAddr::new(self.host, port), self.timeout).await.map_err(|e| ClientError::Link(e.to_string()))?;
            self.conns.insert(port, c);
        }
        self.conns.get_mut(&port).ok_or(ClientError::Routing("connection vanished"))
    }

    /// Sends one command for `key` directly to `port` (no retries).
    async fn once(&mut self, port: u16, args: &[&str], asking: bool) -> Result<Resp, ClientError> {
        let c = self.conn(port).await?;
        if asking {
            if let Err(e) = c.cmd(&["ASKING"]).await {
                self.conns.remove(&port);
                return Err(ClientError::Link(e.to_string()));
            }
        }
        match c.cmd(args).await {
            Ok(r) => Ok(r),
            Err(crate::cluster_admin::AdminError::Server { message, .. }) => Err(ClientError::Server(message)),
            Err(e) => {
                self.conns.remove(&port);
                Err(ClientError::Link(e.to_string()))
            }
        }
    }

    /// Runs a keyed command until it succeeds or `deadline` passes; the last
    /// error is returned (CLUSTERDOWN..., connection refused, timeout).
    pub async fn keyed(&mut self, key: &str, args: &[&str], deadline: Instant) -> Result<Resp, ClientError> {
        let slot = slot_of(key);
        if self.owner.is_empty() {
            self.refresh().await;
        }
        let mut target = self.owner.get(&slot).copied();
        let mut asking = false;
        loop {
            let port = match target {
                Some(p) => p,
                None => *self.ports.first().ok_or(ClientError::Routing("no nodes"))?,
            };
            let err = match self.once(port, args, asking).await {
                Ok(r) => return Ok(r),
                Err(e) => e,
            };
            asking = false;
            let redirect = |e: &str| e.split_whitespace().nth(2).and_then(|a| a.rsplit(':').next()).and_then(|p| p.parse::<u16>().ok());
            let reply = err.server_reply().unwrap_or_default();
            if reply.starts_with("MOVED") {
                if let Some(p) = redirect(reply) {
                    self.owner.insert(slot, p);
                    target = Some(p);
                    continue;
                }
            } else if reply.starts_with("ASK") {
                if let Some(p) = redirect(reply) {
                    target = Some(p);
                    asking = true;
                    continue;
                }
            }
            if Instant::now() >= deadline {
                return Err(err);
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
            self.refresh().await;
            target = self.owner.get(&slot).copied();
        }
    }

    /// SET key value, then WAIT `replicas` when asked: acknowledged only when
    /// the SET answered OK (and WAIT reached that many replicas).
    pub async fn set(&mut self, key: &str, value: &str, replicas: Option<u32>, deadline: Instant) -> Result<(), ClientError> {
        self.keyed(key, &["SET", key, value], deadline).await?;
        if let Some(n) = replicas {
            let port = self.owner.get(&slot_of(key)).copied().ok_or(ClientError::Routing("slot owner unknown after SET"))?;
            let got = self.once(port, &["WAIT", &n.to_string(), "1000"], false).await?;
            match got {
                Resp::Int(k) if k >= i64::from(n) => {}
                other => return Err(ClientError::NotReplicated { wanted: n, got: format!("{other:?}") }),
            }
        }
        Ok(())
    }

    /// Pipelines `cmd key [value]` for many keys, grouped by slot owner, in
    /// batches; keys whose batch reply is an error (MOVED, CLUSTERDOWN...) or
    /// whose node fails are retried one by one until `deadline`.
    pub async fn many(&mut self, cmd: &str, items: &[(String, Option<String>)], deadline: Instant) -> Vec<Result<Resp, ClientError>> {
        if self.owner.is_empty() {
            self.refresh().await;
        }
        let mut out: Vec<Option<Result<Resp, ClientError>>> = vec![None; items.len()];
        let mut groups: HashMap<u16, Vec<usize>> = HashMap::new();
        for (i, (k, _)) in items.iter().enumerate() {
            if let Some(p) = self.owner.get(&slot_of(k)) {
                groups.entry(*p).or_default().push(i);
            }
        }
        for (port, idxs) in groups {
            for chunk in idxs.chunks(200) {
                let cmds: Vec<Vec<Vec<u8>>> = chunk
                    .iter()
                    .map(|i| {
                        let (k, v) = &items[*i];
                        let mut c = vec![cmd.as_bytes().to_vec(), k.as_bytes().to_vec()];
                        c.extend(v.iter().map(|x| x.as_bytes().to_vec()));
                        c
                    })
                    .collect();
                let Ok(c) = self.conn(port).await else { continue };
                match c.pipeline(&cmds).await {
                    Ok(replies) => {
                        for (i, r) in chunk.iter().zip(replies) {
                            if !matches!(r, Resp::Error(_)) {
                                out[*i] = Some(Ok(r));
                            }
                        }
                    }
                    Err(_) => {
                        self.conns.remove(&port);
                    }
                }
            }
        }
        let mut res = Vec::with_capacity(items.len());
        for (i, r) in out.into_iter().enumerate() {
            match r {
                Some(r) => res.push(r),
                None => {
                    let (k, v) = &items[i];
                    let mut args = vec![cmd, k.as_str()];
                    if let Some(v) = v {
                        args.push(v.as_str());
                    }
                    res.push(self.keyed(k, &args, deadline).await);
                }
            }
        }
        res
    }

    /// GET key: Some(value) or None when the key does not exist.
    pub async fn get(&mut self, key: &str, deadline: Instant) -> Result<Option<String>, ClientError> {
        Ok(self.keyed(key, &["GET", key], deadline).await?.text())
    }
}
