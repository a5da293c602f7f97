//! The replica's link to its master: handshake, full or partial sync, then
//! the write stream applied like client commands, with acknowledgements.

use super::replication::Execute;
use super::SharedRef;
use crate::client::Client;
use crate::resp::{parse_request, ParseLimits, Parsed};
use crate::util::time::unix_ms;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

fn current(shared: &SharedRef, generation: u64) -> Option<(String, u16)> {
    let node = shared.node.borrow();
    if node.repl.generation != generation {
        return None;
    }
    node.repl.master.clone()
}

/// Keeps a link to the master of `generation` until the master changes.
pub async fn run_link(shared: SharedRef, generation: u64, execute: Execute) {
    while let Some((host, port)) = current(&shared, generation) {
        match sync_once(&shared, generation, &host, port, execute).await {
            Ok(()) => {}
            Err(e) => tracing::warn!("replication link to {host}:{port}: {e}"),
        }
        {
            let mut node = shared.node.borrow_mut();
            if node.repl.generation == generation {
                node.repl.link_up = false;
                node.repl.sync_in_progress = false;
                node.repl.handshake = false;
            }
        }
        // Retry calmly, but notice a new master at once.
        for _ in 0..10 {
            if current(&shared, generation).is_none() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

fn command(argv: &[&str]) -> Vec<u8> {
    let owned: Vec<Vec<u8>> = argv.iter().map(|a| a.as_bytes().to_vec()).collect();
    let mut out = Vec::new();
    crate::resp::encode_command(&mut out, &owned);
    out
}

/// Reads more bytes: gives up after `limit` (`repl-timeout`) of silence, or
/// as soon as `still` says the link's master is no longer wanted (REPLICAOF
/// NO ONE must not wait for a master that sends nothing). `silence` is
/// what a timeout is reported as.
pub(super) async fn read_some(
    stream: &mut TcpStream,
    chunk: &mut [u8],
    limit: Duration,
    still: &dyn Fn() -> bool,
    silence: &str,
) -> Result<usize, String> {
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        let now = tokio::time::Instant::now();
        if now >= deadline {
            return Err(silence.to_string());
        }
        let slice = (deadline - now).min(Duration::from_millis(100));
        // Reading a TcpStream is cancel-safe: a timed-out read loses nothing.
        if let Ok(r) = tokio::time::timeout(slice, stream.read(chunk)).await {
            return match r {
                Ok(0) => Err("master closed the connection".into()),
                Ok(n) => Ok(n),
                Err(e) => Err(e.to_string()),
            };
        }
        if !still() {
            return Err("the master changed".into());
        }
    }
}

/// Reads one line ending in \r\n (skipping the bare newlines Redis sends as keepalives).
pub(super) async fn read_line(
    stream: &mut TcpStream,
    buf: &mut Vec<u8>,
    limit: Duration,
    still: &dyn Fn() -> bool,
) -> Result<String, String> {
    loop {
        while buf.first() == Some(&b'\n') {
            buf.remove(0);
        }
        if let Some(pos) = buf.windows(2).position(|w| w == b"\r\n") {
            let line = String::from_utf8_lossy(&buf[..pos]).into_owned();
            buf.drain(..pos + 2);
            return Ok(line);
        }
        if buf.len() > 64 * 1024 {
            return Err("protocol error: line too long".into());
        }
        let mut chunk = [0u8; 4096];
        let n = read_some(stream, &mut chunk, limit, still, "Timeout connecting to the MASTER...").await?;
        buf.extend_from_slice(&chunk[..n]);
    }
}

async fn expect_ok(stream: &mut TcpStream, buf: &mut Vec<u8>, what: &str, limit: Duration, still: &dyn Fn() -> bool) -> Result<(), String> {
    let line = read_line(stream, buf, limit, still).await?;
    if line.starts_with('+') {
        Ok(())
    } else {
        Err(format!("{what} refused: {line}"))
    }
}

/// Connects to the master, from `bind-source-addr` when it is set.
async fn connect_from(host: &str, port: u16, source: Option<&str>) -> std::io::Result<TcpStream> {
    let Some(src) = source else { return TcpStream::connect((host, port)).await };
    let target = tokio::net::lookup_host((host, port))
        .await?
        .next()
        .ok_or_else(|| std::io::Error::new(std::io::ErrorKind::InvalidInput, "master address resolves to nothing"))?;
    let src: std::net::IpAddr = src.parse().map_err(|_| std::io::Error::new(std::io::ErrorKind::InvalidInput, "bad bind-source-addr"))?;
    let socket = if target.is_ipv6() { tokio::net::TcpSocket::new_v6()? } else { tokio::net::TcpSocket::new_v4()? };
    socket.bind(std::net::SocketAddr::new(src, 0))?;
    socket.connect(target).await
}

async fn sync_once(shared: &SharedRef, generation: u64, host: &str, port: u16, execute: Execute) -> Result<(), String> {
    let still = || current(shared, generation).is_some();
    let source = shared.node.borrow().config.get("bind-source-addr").filter(|s| !s.is_empty()).map(str::to_string);
    let mut stream = tokio::time::timeout(Duration::from_secs(5), connect_from(host, port, source.as_deref()))
        .await
        .map_err(|_| "connect timeout".to_string())?
        .map_err(|e| format!("cannot connect: {e}"))?;
    let _ = stream.set_nodelay(true);
    let (my_port, auth, user, replid, offset, limit, blocked) = {
        let mut node = shared.node.borrow_mut();
        // Connected: the handshake runs until the master answers PSYNC.
        node.repl.handshake = true;
        let limit = Duration::from_secs(node.config.int_named("repl-timeout", 60).max(1) as u64);
        let auth = node.config.get("masterauth").filter(|s| !s.is_empty()).map(str::to_string);
        let user = node.config.get("masteruser").filter(|s| !s.is_empty()).map(str::to_string);
        (node.config.port(), auth, user, node.repl.replid.clone(), node.repl.offset, limit, node.repl.psync_blocked)
    };
    let mut buf = Vec::new();
    stream.write_all(&command(&["PING"])).await.map_err(|e| e.to_string())?;
    let pong = read_line(&mut stream, &mut buf, limit, &still).await?;
    if pong.starts_with("-NOAUTH") && auth.is_none() {
        return Err("master requires a password: set masterauth".into());
    }
    if let Some(pw) = &auth {
        // `masteruser` names the ACL user; without it the password is the default user's.
        let args = match &user {
            Some(u) => vec!["AUTH", u.as_str(), pw.as_str()],
            None => vec!["AUTH", pw.as_str()],
        };
        stream.write_all(&command(&args)).await.map_err(|e| e.to_string())?;
        let reply = read_line(&mut stream, &mut buf, limit, &still).await?;
        if reply.starts_with('-') {
            return Err(format!("Unable to AUTH to MASTER: {}", reply.trim_start_matches('-')));
        }
    }
    stream.write_all(&command(&["REPLCONF", "listening-port", &my_port.to_string()])).await.map_err(|e| e.to_string())?;
    expect_ok(&mut stream, &mut buf, "REPLCONF listening-port", limit, &still).await?;
    stream.write_all(&command(&["REPLCONF", "capa", "eof", "capa", "psync2"])).await.map_err(|e| e.to_string())?;
    expect_ok(&mut stream, &mut buf, "REPLCONF capa", limit, &still).await?;
    // A master handing over to this replica (FAILOVER) asks it to take over with the PSYNC.
    let failing_over = shared.node.borrow().repl.failover.as_ref().is_some_and(|f| f.in_progress);
    // Our own history is what we continue from, as Redis's replica does with
    // its cached master (or itself, once a master): a master that shares it
    // answers CONTINUE, any other a full resync.
    let offset_arg = if blocked { "-1".to_string() } else { (offset + 1).to_string() };
    let mut psync_args = vec!["PSYNC", if blocked { "?" } else { replid.as_str() }, offset_arg.as_str()];
    if failing_over {
        psync_args.push("FAILOVER");
    }
    if let Err(e) = stream.write_all(&command(&psync_args)).await {
        if failing_over {
            shared.node.borrow_mut().abort_failover("Write error to failover target");
        }
        return Err(e.to_string());
    }
    let reply = read_line(&mut stream, &mut buf, limit, &still).await?;
    if failing_over {
        // The target took over (CONTINUE, or a full resync in edge cases) or refused.
        let mut node = shared.node.borrow_mut();
        if reply.starts_with("+CONTINUE") || reply.starts_with("+FULLRESYNC") {
            node.clear_failover();
        } else {
            node.abort_failover("Failover target rejected psync request");
            return Err(format!("failover target refused PSYNC: {reply}"));
        }
    }
    shared.node.borrow_mut().repl.handshake = false;
    if let Some(rest) = reply.strip_prefix("+FULLRESYNC ") {
        let mut parts = rest.split_whitespace();
        let new_id = parts.next().unwrap_or_default().to_string();
        let new_offset: u64 = parts.next().and_then(|o| o.parse().ok()).ok_or_else(|| format!("bad FULLRESYNC reply: {reply}"))?;
        {
            let mut node = shared.node.borrow_mut();
            node.repl.sync_in_progress = true;
            node.repl.last_io_ms = unix_ms();
        }
        let loaded = match super::sync_load::receive(shared, generation, &mut stream, std::mem::take(&mut buf), limit, &new_id).await {
            Ok(Some(loaded)) => loaded,
            Ok(None) => return Ok(()),
            Err(e) => return Err(e),
        };
        buf = loaded.rest;
        let mut node = shared.node.borrow_mut();
        if node.repl.generation != generation {
            return Ok(());
        }
        // A full sync replaces the libraries too.
        node.keyspace.loaded_functions = loaded.stats.functions;
        if let Err(e) = node.install_loaded_functions(crate::node::replication::FunctionLoad::Flush) {
            tracing::warn!("MASTER <-> REPLICA sync: the master's functions do not load here: {e}");
        }
        node.keyspace.dirty += 1;
        node.repl.replid = new_id;
        node.repl.offset = new_offset;
        node.repl.master_db = 0;
        node.repl.backlog = crate::replication::backlog::Backlog::new(node.repl.backlog.capacity());
        node.repl.backlog_active = true;
        node.repl.sync_in_progress = false;
        node.repl.psync_blocked = false;
        node.propagation.db = None;
        tracing::info!("MASTER <-> REPLICA sync: Finished with success ({} bytes from {host}:{port})", loaded.bytes);
    } else if let Some(rest) = reply.strip_prefix("+CONTINUE") {
        let mut node = shared.node.borrow_mut();
        let new_id = rest.trim();
        if !new_id.is_empty() && new_id != node.repl.replid {
            tracing::warn!("Master replication ID changed to {new_id}");
            node.repl.adopt_replid(new_id);
            // Our replicas must learn the new id: they reconnect and continue.
            node.disconnect_replicas();
        }
        node.repl.backlog_active = true;
        tracing::info!("MASTER <-> REPLICA sync: Master accepted a Partial Resynchronization.");
        tracing::info!("Successful partial resynchronization with master.");
    } else {
        return Err(format!("master refused PSYNC: {reply}"));
    }
    {
        let mut node = shared.node.borrow_mut();
        node.repl.link_up = true;
        node.repl.last_io_ms = unix_ms();
    }
    stream_loop(shared, generation, stream, buf, execute).await
}

/// A command from the master failed here: the data may now differ from the
/// master's, which an operator must hear about (Redis's `== CRITICAL ==` line;
/// `propagation-error-behavior ignore`, its default, goes on).
fn report_divergence(reply: &[u8], argv: &[&[u8]]) {
    let text = String::from_utf8_lossy(reply);
    let first = text.split("\r\n").next().unwrap_or_default().trim_start_matches('-');
    let name = argv.first().map(|a| String::from_utf8_lossy(a).to_ascii_lowercase()).unwrap_or_default();
    tracing::warn!("== CRITICAL == This replica is sending an error to its master: '{first}' after processing the command '{name}'");
}

/// The link to our master as a client of ours, as Redis lists it: CLIENT
/// LIST shows it with `flags=M`, CLIENT KILL (TYPE master, or its address)
/// closes it and the replica reconnects. Unregistered when dropped.
struct MasterClient {
    shared: SharedRef,
    id: crate::client::ClientId,
}

impl MasterClient {
    fn register(
        shared: &SharedRef,
        stream: &TcpStream,
        addr: std::net::SocketAddr,
    ) -> (MasterClient, tokio::sync::mpsc::UnboundedReceiver<crate::client::Push>) {
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
        let laddr = stream.local_addr().map(|a| a.to_string()).unwrap_or_default();
        let mut node = shared.node.borrow_mut();
        let id = node.clients.next_id;
        node.clients.next_id += 1;
        let info = crate::client::ClientInfo::new(addr.to_string(), laddr, "M", unix_ms(), tx);
        node.clients.map.insert(id, info);
        (MasterClient { shared: shared.clone(), id }, rx)
    }
}

impl Drop for MasterClient {
    fn drop(&mut self) {
        if let Ok(mut node) = self.shared.node.try_borrow_mut() {
            node.clients.map.remove(&self.id);
        }
    }
}

/// Applies the master's stream until the link drops or the master changes.
async fn stream_loop(shared: &SharedRef, generation: u64, mut stream: TcpStream, mut buf: Vec<u8>, execute: Execute) -> Result<(), String> {
    let addr = stream.peer_addr().map_err(|e| e.to_string())?;
    let (registered, mut pushes) = MasterClient::register(shared, &stream, addr);
    let mut master_client = Client::new(registered.id, addr, false);
    master_client.from_master = true;
    master_client.db = shared.node.borrow().repl.master_db;
    let limits = ParseLimits::default();
    let mut ranges = Vec::new();
    let mut ack_tick = tokio::time::interval(Duration::from_secs(1));
    let mut chunk = vec![0u8; 64 * 1024];
    loop {
        let mut out = Vec::new();
        {
            let mut node = shared.node.borrow_mut();
            if node.repl.generation != generation {
                return Ok(());
            }
            node.now_ms = unix_ms();
            let mut consumed = 0;
            let mut applied = false;
            // The master's writes land in keys whatever their TTL here: the
            // master decides when they expire (and sends the DEL).
            node.keyspace.dbs.iter_mut().for_each(|d| d.ttl_ignored = true);
            loop {
                match parse_request(&buf[consumed..], &mut ranges, &limits) {
                    Ok(Parsed::Complete(n)) => {
                        let base = consumed;
                        let argv: Vec<&[u8]> = ranges.iter().map(|r| &buf[base + r.start..base + r.end]).collect();
                        let raw = &buf[consumed..consumed + n];
                        consumed += n;
                        if argv.is_empty() {
                            continue;
                        }
                        let getack =
                            argv.len() >= 2 && argv[0].eq_ignore_ascii_case(b"replconf") && argv[1].eq_ignore_ascii_case(b"getack");
                        if !getack {
                            execute(&mut node, &mut master_client, &argv);
                            node.repl.master_db = master_client.db;
                            if master_client.reply.buf.first() == Some(&b'-') {
                                node.stats.unexpected_error_replies += 1;
                                report_divergence(&master_client.reply.buf, &argv);
                            }
                            master_client.reply.buf.clear();
                            master_client.block = None;
                            node.feed_stream();
                        }
                        node.repl.append_stream(raw);
                        applied = true;
                        if getack {
                            out.extend_from_slice(&command(&["REPLCONF", "ACK", &node.repl.offset.to_string()]));
                        }
                    }
                    Ok(Parsed::Incomplete) => break,
                    Err(e) => {
                        node.keyspace.dbs.iter_mut().for_each(|d| d.ttl_ignored = false);
                        return Err(format!("protocol error in the replication stream: {e}"));
                    }
                }
            }
            node.keyspace.dbs.iter_mut().for_each(|d| d.ttl_ignored = false);
            buf.drain(..consumed);
            if applied {
                node.repl.last_io_ms = node.now_ms;
                node.flush_to_replicas();
                if out.is_empty() {
                    out.extend_from_slice(&command(&["REPLCONF", "ACK", &node.repl.offset.to_string()]));
                }
            }
        }
        if !out.is_empty() {
            stream.write_all(&out).await.map_err(|e| e.to_string())?;
        }
        tokio::select! {
            push = pushes.recv() => {
                if matches!(push, Some(crate::client::Push::Kill) | None) {
                    return Err("link closed by CLIENT KILL".into());
                }
            }
            r = stream.read(&mut chunk) => {
                let n = r.map_err(|e| e.to_string())?;
                if n == 0 {
                    return Err("master closed the connection".into());
                }
                shared.gate.pass().await;
                shared.node.borrow_mut().stats.net_repl_input_bytes += n as u64;
                buf.extend_from_slice(&chunk[..n]);
            }
            _ = ack_tick.tick() => {
                let (gen_ok, off) = {
                    let node = shared.node.borrow();
                    (node.repl.generation == generation, node.repl.offset)
                };
                if !gen_ok {
                    return Ok(());
                }
                stream.write_all(&command(&["REPLCONF", "ACK", &off.to_string()])).await.map_err(|e| e.to_string())?;
            }
        }
    }
}
