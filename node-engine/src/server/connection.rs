//! Accept loop and the per-client task: read what the socket has, run every
//! complete request in it under one borrow of the node, write all replies in
//! one go. Pushes (pub/sub, wake-ups, kills) arrive on the client's channel.

use super::dispatch;
use crate::client::{Client, ClientInfo, Push};
use crate::node::SharedRef;
use crate::util::time::unix_ms;
use bytes::{Buf, BytesMut};
use std::time::Duration;
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream, UnixListener, UnixStream};
use tokio::sync::mpsc::{unbounded_channel, UnboundedReceiver};

/// Accepts until the queue is empty, admitting or refusing each connection
/// at once: refusing never waits on the client, and a new client's task is
/// only spawned, so accepting never waits behind other work.
pub async fn accept_loop(shared: SharedRef, listener: TcpListener) {
    /// Like Redis's MAX_ACCEPTS_PER_CALL: a flood of connects cannot starve the clients.
    const ACCEPTS_PER_TURN: u32 = 1000;
    let mut backoff = Duration::from_millis(5);
    let mut in_a_row = 0u32;
    let wake = shared.node.borrow().listeners.wake.clone();
    loop {
        // Unconstrained: tokio's cooperative budget would make the loop yield
        // every 128 accepts; it yields by itself below, less often.
        let accepted = tokio::select! {
            r = tokio::task::unconstrained(listener.accept()) => r,
            () = wake.notified() => {
                adopt_busy_accepted(&shared);
                continue;
            }
        };
        match accepted {
            Ok((stream, addr)) => {
                backoff = Duration::from_millis(5);
                shared.gate.pass().await;
                let refused = shared.node.borrow().admission_error(addr);
                if let Some(msg) = refused {
                    shared.node.borrow_mut().stats.rejected_connections += 1;
                    // Best effort, like Redis: one non-blocking write, then close.
                    let _ = stream.try_write(msg.as_bytes());
                    drop(stream);
                } else {
                    // Registered here, not in the task: the next admission
                    // check counts this client even before its task runs.
                    let admitted = register(&shared, &stream, addr, None);
                    tokio::task::spawn_local(serve_client(shared.clone(), stream, addr, admitted));
                }
                in_a_row += 1;
                if in_a_row >= ACCEPTS_PER_TURN {
                    in_a_row = 0;
                    tokio::task::yield_now().await;
                }
            }
            Err(e) => {
                // Out of file descriptors and similar: wait instead of spinning.
                tracing::warn!("Accepting client connection: {e}");
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(Duration::from_secs(1));
            }
        }
    }
}

/// What a client connection needs of its socket, TCP or Unix (`unixsocket`).
pub(crate) trait ClientSocket: tokio::io::AsyncWrite + Unpin + std::os::fd::AsRawFd + 'static {
    fn readable(&self) -> impl std::future::Future<Output = std::io::Result<()>>;
    fn writable(&self) -> impl std::future::Future<Output = std::io::Result<()>>;
    fn try_read_buf(&self, buf: &mut BytesMut) -> std::io::Result<usize>;
    fn try_write(&self, buf: &[u8]) -> std::io::Result<usize>;
    /// CLIENT LIST's `addr` and `laddr`.
    fn addresses(&self, peer: std::net::SocketAddr) -> (String, String);
    /// CLIENT LIST's flags for a new client: `N`, or `U` on a unix socket.
    fn flags(&self) -> &'static str;
    /// Socket options set once, before serving.
    fn configure(&self, shared: &SharedRef);
}

impl ClientSocket for TcpStream {
    fn readable(&self) -> impl std::future::Future<Output = std::io::Result<()>> {
        TcpStream::readable(self)
    }
    fn writable(&self) -> impl std::future::Future<Output = std::io::Result<()>> {
        TcpStream::writable(self)
    }
    fn try_read_buf(&self, buf: &mut BytesMut) -> std::io::Result<usize> {
        TcpStream::try_read_buf(self, buf)
    }
    fn try_write(&self, buf: &[u8]) -> std::io::Result<usize> {
        TcpStream::try_write(self, buf)
    }
    fn addresses(&self, peer: std::net::SocketAddr) -> (String, String) {
        (peer.to_string(), self.local_addr().map(|a| a.to_string()).unwrap_or_default())
    }
    fn flags(&self) -> &'static str {
        "N"
    }
    fn configure(&self, shared: &SharedRef) {
        let _ = self.set_nodelay(true);
        // tcp-keepalive N: probe idle peers every N seconds so dead clients are noticed (Redis default 300).
        let keepalive = shared.node.borrow().config.int_named("tcp-keepalive", 300);
        if keepalive > 0 {
            let ka = socket2::TcpKeepalive::new()
                .with_time(Duration::from_secs(keepalive as u64))
                .with_interval(Duration::from_secs((keepalive as u64 / 3).max(1)));
            let _ = socket2::SockRef::from(self).set_tcp_keepalive(&ka);
        }
    }
}

impl ClientSocket for UnixStream {
    fn readable(&self) -> impl std::future::Future<Output = std::io::Result<()>> {
        UnixStream::readable(self)
    }
    fn writable(&self) -> impl std::future::Future<Output = std::io::Result<()>> {
        UnixStream::writable(self)
    }
    fn try_read_buf(&self, buf: &mut BytesMut) -> std::io::Result<usize> {
        UnixStream::try_read_buf(self, buf)
    }
    fn try_write(&self, buf: &[u8]) -> std::io::Result<usize> {
        UnixStream::try_write(self, buf)
    }
    /// Redis shows the socket's path with port 0 for both ends.
    fn addresses(&self, _peer: std::net::SocketAddr) -> (String, String) {
        let path = self.local_addr().ok().and_then(|a| a.as_pathname().map(|p| p.display().to_string())).unwrap_or_default();
        (format!("{path}:0"), format!("{path}:0"))
    }
    fn flags(&self) -> &'static str {
        "U"
    }
    fn configure(&self, _shared: &SharedRef) {}
}

/// Accepts clients on the `unixsocket` listener: no protected mode (the
/// peer is local) and no TCP options; otherwise served as TCP clients are.
async fn unix_accept_loop(shared: SharedRef, listener: UnixListener) {
    // Unix clients have no address (CLIENT LIST shows the socket path); as
    // local peers they count as loopback for the admission check.
    let local = std::net::SocketAddr::from(([127, 0, 0, 1], 0));
    loop {
        match listener.accept().await {
            Ok((stream, _)) => {
                shared.gate.pass().await;
                let refused = shared.node.borrow().admission_error(local);
                if let Some(msg) = refused {
                    shared.node.borrow_mut().stats.rejected_connections += 1;
                    let _ = stream.try_write(msg.as_bytes());
                    continue;
                }
                let admitted = register(&shared, &stream, local, None);
                tokio::task::spawn_local(serve_client(shared.clone(), stream, local, admitted));
            }
            Err(e) => {
                tracing::warn!("Accepting client connection: {e}");
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }
}

/// Serves clients on the `unixsocket` listener bound at start.
///
/// # Errors
/// The listener cannot be registered with the runtime.
pub fn serve_unix_listener(shared: &SharedRef, l: std::os::unix::net::UnixListener) -> std::io::Result<()> {
    let l = UnixListener::from_std(l)?;
    tokio::task::spawn_local(unix_accept_loop(shared.clone(), l));
    Ok(())
}

/// Starts the tasks of the clients a busy script's hook accepted.
fn adopt_busy_accepted(shared: &SharedRef) {
    let accepted = std::mem::take(&mut shared.node.borrow_mut().listeners.busy_accepted);
    for (stream, addr, txn) in accepted {
        let fd = std::os::fd::AsRawFd::as_raw_fd(&stream);
        let Ok(stream) = TcpStream::from_std(stream) else { continue };
        shared.node.borrow().clients.sockets.borrow_mut().retain(|(id, f, _)| !(*id == crate::node::while_busy::UNREGISTERED && *f == fd));
        let admitted = register(shared, &stream, addr, Some(txn));
        tokio::task::spawn_local(serve_client(shared.clone(), stream, addr, admitted));
    }
}

/// What a connection's task needs once its client is in the registry.
struct Admitted {
    id: u64,
    rx: UnboundedReceiver<Push>,
    out_pending: std::rc::Rc<std::cell::Cell<usize>>,
    /// Its memory as CLIENT LIST and client eviction see it, shared with the registry.
    mem: std::rc::Rc<crate::client::ClientMem>,
    needs_auth: bool,
    limits: crate::resp::ParseLimits,
    qbuf_limit: usize,
    idle_timeout: u64,
    /// MULTI state shared with a busy script's hook (`script::busy::txn`).
    txn: std::rc::Rc<std::cell::Cell<u8>>,
    /// CLIENT LIST's `cmd=`, shared with the registry.
    cmd_cell: std::rc::Rc<std::cell::Cell<&'static str>>,
}

/// Adds the client to the node's registry (CLIENT LIST, pub/sub, maxclients).
/// `txn` is the MULTI state a busy script's hook already kept for it.
fn register(
    shared: &SharedRef,
    stream: &impl ClientSocket,
    addr: std::net::SocketAddr,
    txn: Option<std::rc::Rc<std::cell::Cell<u8>>>,
) -> Admitted {
    let (tx, rx) = unbounded_channel();
    let out_pending = std::rc::Rc::new(std::cell::Cell::new(0usize));
    let mem = std::rc::Rc::new(crate::client::ClientMem::default());
    let mut node = shared.node.borrow_mut();
    let id = node.clients.next_id;
    node.clients.next_id += 1;
    node.stats.total_connections += 1;
    let now = unix_ms();
    let (addr_text, laddr) = stream.addresses(addr);
    let cmd_cell = std::rc::Rc::new(std::cell::Cell::new("NULL"));
    let mut info = ClientInfo::new(addr_text, laddr, stream.flags(), now, tx);
    info.last_cmd = cmd_cell.clone();
    info.out_pending = out_pending.clone();
    info.mem = mem.clone();
    node.clients.map.insert(id, info);
    let txn = txn.unwrap_or_default();
    node.clients.sockets.borrow_mut().push((id, std::os::fd::AsRawFd::as_raw_fd(stream), txn.clone()));
    let limits = crate::resp::ParseLimits {
        max_bulk_len: node.config.int_named("proto-max-bulk-len", 512 << 20).max(1) as usize,
        ..Default::default()
    };
    Admitted {
        id,
        rx,
        out_pending,
        mem,
        needs_auth: !node.acl.default_needs_no_auth(),
        limits,
        qbuf_limit: node.config.int_named("client-query-buffer-limit", 1 << 30).max(1024) as usize,
        idle_timeout: node.config.int_named("timeout", 0).max(0) as u64,
        txn,
        cmd_cell,
    }
}

/// What a busy script's hook did to this client's transaction while the node
/// could not run it: a refused command dooms the MULTI, an aborted EXEC ends it.
fn apply_busy_verdicts(shared: &SharedRef, client: &mut Client, txn: &std::cell::Cell<u8>) {
    use crate::script::busy::txn::{ABORTED, IN_MULTI, REJECTED, STARTED};
    let t = txn.get();
    if t & STARTED != 0 && client.multi.is_none() {
        client.multi = Some(Vec::new());
    }
    if t & ABORTED != 0 {
        client.multi = None;
        client.multi_error = false;
        crate::cmd::transactions::unwatch_all(&mut shared.node.borrow_mut(), client);
    } else if t & REJECTED != 0 && client.multi.is_some() {
        client.multi_error = true;
    }
    txn.set(if client.multi.is_some() { IN_MULTI } else { 0 });
}

async fn serve_client<S: ClientSocket>(shared: SharedRef, stream: S, addr: std::net::SocketAddr, admitted: Admitted) {
    stream.configure(&shared);
    let mut stream = stream;
    let Admitted { id, mut rx, out_pending, mem, needs_auth, limits, qbuf_limit, idle_timeout, txn, cmd_cell } = admitted;
    let mut client = Client::new(id, addr, needs_auth);
    client.cmd_cell = cmd_cell;
    // The query buffer is reserved on the first read, as Redis does: an idle
    // connection (a pool warming up) costs no buffer pages.
    let mut inbuf = BytesMut::new();
    let mut ranges = Vec::with_capacity(16);
    // Set when a big request grew the query buffer: once it is consumed the
    // buffer is dropped (BytesMut's capacity shrinks as it is consumed, so
    // it cannot tell afterwards), as Redis frees a big idle query buffer.
    let mut big_inbuf = false;
    let mut blocked_argv: Option<Vec<Vec<u8>>> = None;
    // Replies the socket did not take yet: sent as it drains, while requests
    // go on being read and served (as Redis keeps a reply list), within the
    // client-output-buffer-limit.
    let mut unsent = Unsent::default();
    // Bytes read and not yet counted in INFO's input counters.
    let mut unread_bytes = 0usize;
    loop {
        // Timers only when needed: arming two per batch cost clock reads on the hot path.
        let block_wait =
            client.block.as_ref().map(|b| b.deadline_ms).filter(|d| *d > 0).map(|d| Duration::from_millis(d.saturating_sub(unix_ms())));
        let idle_wait =
            (idle_timeout > 0 && client.subscriptions == 0 && client.block.is_none()).then(|| Duration::from_secs(idle_timeout));
        tokio::select! {
            biased;
            push = rx.recv() => match push {
                Some(Push::Bytes(b)) => {
                    out_pending.set(out_pending.get().saturating_sub(b.len() + crate::client::PUSH_OVERHEAD));
                    client.reply.buf.extend_from_slice(&b);
                }
                Some(Push::Bulk(b)) => {
                    mem.bulk_queued.set(mem.bulk_queued.get().saturating_sub(b.len()));
                    client.reply.buf.extend_from_slice(&b);
                }
                Some(Push::Wake) => {
                    if let Some(argv) = blocked_argv.as_ref() {
                        retry_blocked(&shared, &mut client, argv, false);
                    }
                }
                Some(Push::Unblock { error }) => {
                    if let Some(argv) = blocked_argv.as_ref() {
                        if let Some(error) = error {
                            let mut node = shared.node.borrow_mut();
                            crate::cmd::call::unblock(&mut node, &mut client);
                            client.block = None;
                            client.reply.error(error);
                            // The blocked command ends here, failed: counted once, with its error.
                            crate::cmd::call::count_failed_unblock(&mut node, argv);
                            node.stats.count_error(error.as_bytes());
                        } else {
                            retry_blocked(&shared, &mut client, argv, true);
                        }
                    }
                }
                Some(Push::FreeQueryBuffer) => {
                    if inbuf.is_empty() {
                        inbuf = BytesMut::new();
                    }
                    mem.qbuf_peak.set(0);
                }
                Some(Push::TrimQueryBuffer(peak)) => {
                    let keep = peak.max(mem.qbuf_peak.get()).max(inbuf.len());
                    let cap = inbuf.capacity();
                    // Not in the middle of a big argument: its buffer is sized for it.
                    if cap > crate::client::QUERY_RESIZE_THRESHOLD && cap - inbuf.len() > 4096 && keep < cap / 2 && !sized_for_big_arg(&inbuf) {
                        let mut trimmed = BytesMut::with_capacity(keep);
                        trimmed.extend_from_slice(&inbuf);
                        inbuf = trimmed;
                        big_inbuf = false;
                    }
                }
                Some(Push::Kill) | None => break,
            },
            r = async {
                // The buffer is reserved once data is there (an idle
                // connection costs none); after that this is a plain read.
                loop {
                    stream.readable().await?;
                    // A buffer sized for the rest of a big argument is not grown
                    // for its last bytes (that would double it).
                    if inbuf.capacity() - inbuf.len() < 1024 && !sized_for_big_arg(&inbuf) {
                        inbuf.reserve(16 * 1024);
                    }
                    match stream.try_read_buf(&mut inbuf) {
                        Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => continue,
                        r => break r,
                    }
                }
            } => match r {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    unread_bytes += n;
                    mem.qbuf_peak.set(mem.qbuf_peak.get().max(inbuf.len()));
                    if inbuf.len() >= crate::resp::BIG_ARG {
                        size_for_big_arg(&mut inbuf);
                    }
                    // The capacity is what eviction weighs; `qbuf` is set with the rest after the batch.
                    mem.qbuf_cap.set(inbuf.capacity());
                    if shared.node.borrow().maxmemory_clients != 0 && !shared.node.borrow_mut().recount_client(id, &mem) {
                        break;
                    }
                }
            },
            _ = sleep_if(block_wait) => {
                if let Some(argv) = blocked_argv.as_ref() {
                    retry_blocked(&shared, &mut client, argv, true);
                }
            }
            _ = sleep_if(idle_wait) => break,
            w = stream.writable(), if !unsent.is_empty() => if w.is_err() { break },
        }
        big_inbuf |= inbuf.capacity() > 1 << 20;
        shared.gate.pass().await;
        if client.block.is_none() {
            blocked_argv = None;
            if !inbuf.is_empty() {
                apply_busy_verdicts(&shared, &mut client, &txn);
                client.obuf_base = unsent.len();
                let fresh = std::mem::take(&mut unread_bytes);
                let consumed = dispatch::process_batch(&shared, &mut client, &inbuf, fresh, &mut ranges, &limits);
                switch_listeners(&shared);
                // A command that changed the cluster config (ADDSLOTS, SETSLOT, MEET...)
                // has it on disk before its reply goes out, as Redis's beforeSleep does:
                // a crash right after the OK cannot lose it.
                shared.node.borrow_mut().save_cluster_config_if_dirty();
                txn.set(if client.multi.is_some() { crate::script::busy::txn::IN_MULTI } else { 0 });
                crate::node::persistence::wait_durable(&shared).await;
                // Clients this batch woke run their commands before our reply goes out.
                if shared.node.borrow().clients.woke.replace(false) {
                    tokio::task::yield_now().await;
                }
                if let Some(b) = client.block.as_ref() {
                    // Keep the blocking command's arguments to retry it when woken.
                    let _ = b;
                    blocked_argv = client.blocked_argv.take();
                }
                inbuf.advance(consumed);
                if inbuf.is_empty() {
                    // Everything was consumed: the whole allocation is free again
                    // (BytesMut counts capacity from the consumed front).
                    let _ = inbuf.try_reclaim(inbuf.capacity() + 1);
                }
                if inbuf.len() > qbuf_limit {
                    tracing::warn!(client = %addr, "closing client that exceeded client-query-buffer-limit");
                    break;
                }
            }
        }
        if client.close_asap {
            break;
        }
        if (!client.reply.buf.is_empty() || !unsent.is_empty()) && send_now(&shared, &stream, &mut client, &mut unsent).is_err() {
            break;
        }
        if big_inbuf && inbuf.is_empty() {
            inbuf = BytesMut::new();
            big_inbuf = false;
        }
        if !report_mem(&shared, &client, &mem, &inbuf, &unsent) {
            break;
        }
        if !unsent.is_empty() {
            let node = shared.node.borrow();
            let over = node.clients.map.get(&client.id).is_some_and(|c| node.over_output_limits(c, unsent.len() + c.out_pending.get()));
            if over {
                break;
            }
        }
        if client.close_after_reply {
            // QUIT and the like: what is left goes out before the close.
            let _ = stream.write_all(unsent.pending()).await;
            break;
        }
        // One command of many arguments (a 100k-member SADD) must not leave
        // its argument table behind for the connection's lifetime.
        if ranges.capacity() > 4096 {
            ranges = Vec::with_capacity(16);
        }
    }
    dispatch::client_gone(&shared, &mut client);
}

/// After CONFIG SET port/bind: the old listeners close and the new ones
/// accept (connected clients stay).
fn switch_listeners(shared: &SharedRef) {
    let Some(new) = shared.node.borrow_mut().listeners.pending.take() else { return };
    let old = std::mem::take(&mut shared.node.borrow_mut().listeners.accept_tasks);
    for task in old {
        task.abort();
    }
    // An aborted task drops its listener only when the runtime gets to it:
    // stop listening now on the addresses given up (kept ones share the
    // socket with the new listeners), so a connect right after the reply is refused.
    let kept: Vec<_> = new.iter().filter_map(|l| l.local_addr().ok()).collect();
    for l in std::mem::take(&mut shared.node.borrow_mut().listeners.bound) {
        if l.local_addr().is_ok_and(|a| !kept.contains(&a)) {
            crate::util::net::shut_down(std::os::fd::AsRawFd::as_raw_fd(&l));
        }
    }
    for l in new {
        if let Err(e) = serve_listener(shared, l) {
            tracing::warn!(error = %e, "cannot register the new listener");
        }
    }
}

/// Accepts clients on `l` in a task of its own, kept (with a duplicate of
/// the socket) in the node's listeners so CONFIG SET port/bind can replace it.
///
/// # Errors
/// The listener cannot be registered with the runtime.
pub fn serve_listener(shared: &SharedRef, l: std::net::TcpListener) -> std::io::Result<()> {
    let dup = l.try_clone();
    let l = TcpListener::from_std(l)?;
    let task = tokio::task::spawn_local(accept_loop(shared.clone(), l));
    let mut node = shared.node.borrow_mut();
    node.listeners.accept_tasks.push(task.abort_handle());
    node.listeners.bound.extend(dup.ok());
    Ok(())
}

/// A request cut short inside a big argument: the query buffer is sized to
/// hold exactly the rest of it (no doubling), as Redis reads a big argument.
fn size_for_big_arg(inbuf: &mut BytesMut) {
    let Some((_, end)) = crate::resp::pending_big_arg(inbuf) else { return };
    if inbuf.capacity() < end {
        let mut exact = BytesMut::with_capacity(end);
        exact.extend_from_slice(inbuf);
        *inbuf = exact;
    }
}

/// Whether the buffer already has room for the rest of the big argument it is receiving.
fn sized_for_big_arg(inbuf: &BytesMut) -> bool {
    inbuf.len() >= crate::resp::BIG_ARG
        && inbuf.capacity() > inbuf.len()
        && crate::resp::pending_big_arg(inbuf).is_some_and(|(_, end)| inbuf.capacity() >= end)
}

/// Updates this client's memory parts after a batch (CLIENT LIST) and, with
/// `maxmemory-clients` on, its share of the sum; evicts clients when the sum
/// is over (this one included: then false).
fn report_mem(shared: &SharedRef, client: &Client, mem: &crate::client::ClientMem, inbuf: &BytesMut, unsent: &Unsent) -> bool {
    let big = if inbuf.len() < crate::resp::BIG_ARG { None } else { crate::resp::pending_big_arg(inbuf) };
    mem.qbuf.set(inbuf.len() - big.map_or(0, |(data_start, _)| data_start));
    mem.qbuf_cap.set(inbuf.capacity());
    mem.multi.set(if client.multi.is_some() { client.multi_bytes } else { 0 });
    mem.unsent.set(unsent.len());
    mem.unsent_alloc.set(unsent.buf.capacity());
    mem.rbs.set(client.reply.buf.capacity());
    let mut node = shared.node.borrow_mut();
    let prefixes = if node.tracking.clients.is_empty() { 0 } else { node.tracking.clients.get(&client.id).map_or(0, |t| t.prefixes.len()) };
    // Redis's per-item bookkeeping: a watched key's list node and entry, a subscription's dict entry.
    mem.other.set(client.watching.len() * 48 + client.subscriptions * 32 + prefixes * 32);
    if node.maxmemory_clients == 0 {
        return true;
    }
    node.recount_client(client.id, mem)
}

/// Reply bytes written to the client's buffer but not yet to its socket.
#[derive(Default)]
struct Unsent {
    buf: Vec<u8>,
    /// How much of `buf` has been sent.
    sent: usize,
}

impl Unsent {
    fn len(&self) -> usize {
        self.buf.len() - self.sent
    }
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
    fn pending(&self) -> &[u8] {
        &self.buf[self.sent..]
    }
}

/// Writes what the socket takes now without waiting: first what already
/// waited, then this batch's replies; the rest waits in `unsent`.
///
/// # Errors
/// The connection failed.
fn send_now(shared: &SharedRef, stream: &impl ClientSocket, client: &mut Client, unsent: &mut Unsent) -> std::io::Result<()> {
    let mut written = 0;
    if unsent.is_empty() {
        // The common case: the replies go straight from the client's buffer.
        written += write_now(stream, &client.reply.buf)?;
        if written < client.reply.buf.len() {
            unsent.buf.clear();
            unsent.sent = 0;
            unsent.buf.extend_from_slice(&client.reply.buf[written..]);
        }
    } else {
        unsent.buf.extend_from_slice(&client.reply.buf);
        let n = write_now(stream, unsent.pending())?;
        unsent.sent += n;
        written += n;
        if unsent.is_empty() {
            unsent.buf.clear();
            unsent.sent = 0;
            // A slow reader's backlog is given back once sent: held
            // capacity would be memory nobody accounts for.
            if unsent.buf.capacity() > 16 * 1024 {
                unsent.buf = Vec::new();
            }
        }
    }
    client.reply.buf.clear();
    if client.reply.buf.capacity() > 1 << 20 {
        client.reply.buf = Vec::new();
    }
    if written > 0 {
        let stats = &mut shared.node.borrow_mut().stats;
        if client.is_replica {
            stats.net_repl_output_bytes += written as u64;
        } else {
            stats.net_output_bytes += written as u64;
            stats.writes_processed += 1;
        }
    }
    Ok(())
}

/// Writes as much of `data` as the socket takes now.
fn write_now(stream: &impl ClientSocket, data: &[u8]) -> std::io::Result<usize> {
    let mut n = 0;
    while n < data.len() {
        match stream.try_write(&data[n..]) {
            Ok(0) => return Err(std::io::ErrorKind::WriteZero.into()),
            Ok(k) => n += k,
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break,
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

/// Sleeps for `d`, or forever when there is nothing to wait for.
async fn sleep_if(d: Option<Duration>) {
    match d {
        Some(d) => tokio::time::sleep(d).await,
        None => std::future::pending().await,
    }
}

fn retry_blocked(shared: &SharedRef, client: &mut Client, argv: &[Vec<u8>], timed_out: bool) {
    let mut node = shared.node.borrow_mut();
    crate::cmd::call::unblock(&mut node, client);
    node.now_ms = unix_ms();
    let rerun = client.block.as_ref().is_some_and(|b| b.rerun_on_timeout);
    if timed_out && !rerun {
        client.block = None;
        crate::cmd::call::count_timed_out(&mut node, argv);
        client.reply.null_array();
        return;
    }
    client.block_timed_out = timed_out;
    client.retrying_block = true;
    let refs: Vec<&[u8]> = argv.iter().map(Vec::as_slice).collect();
    let deadline = client.block.as_ref().map(|b| b.deadline_ms);
    client.block = None;
    let reply_at = client.reply.buf.len();
    dispatch::execute(&mut node, client, &refs);
    if client.reply.buf.get(reply_at) == Some(&b'-') {
        // A woken command that fails (XREADGROUP whose group is gone) counts as an error reply.
        node.stats.count_error(&client.reply.buf[reply_at + 1..]);
    }
    client.block_timed_out = false;
    client.retrying_block = false;
    node.write_aof_now();
    if let (Some(b), Some(d)) = (client.block.as_mut(), deadline) {
        // Still nothing to pop: keep the original deadline.
        b.deadline_ms = d;
        client.blocked_argv = None;
    }
}
