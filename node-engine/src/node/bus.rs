//! Cluster bus I/O: the listener for peers' links, one outbound link per
//! known node, and the cluster cron (pings, failure detection, elections,
//! state, nodes.conf). Message semantics live in [`crate::cluster::handler`];
//! the wire format in [`crate::cluster::gossip`]. This is where the rules'
//! effects meet sockets.

use super::Shared;
use super::{Node, SharedRef};
use crate::cluster::fault::Faults;
use crate::cluster::gossip::{DecodeError, Message};
use crate::cluster::handler;
use crate::cluster::state::LinkInfo;
use crate::util::time::unix_ms;
use std::cell::RefCell;
use std::collections::HashMap;
use std::os::fd::{AsRawFd, RawFd};
use std::rc::{Rc, Weak};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc::{unbounded_channel, UnboundedReceiver, UnboundedSender};

/// The node's side of the bus: the send queues of its outbound links (by
/// link generation; the cluster state knows which node each leads to) and
/// the injected faults.
#[derive(Debug, Default)]
pub struct Bus {
    senders: HashMap<u64, UnboundedSender<Vec<u8>>>,
    next_generation: u64,
    /// Injected bus faults (labs).
    pub faults: Faults,
    /// Every open link's socket and read buffer, so a busy script's hook can
    /// serve the bus while the tasks cannot run (see [`serve_while_busy`]).
    links: Vec<Rc<LinkIo>>,
    /// The bus listener's socket, accepted on by the busy hook too.
    listener_fd: Option<RawFd>,
    /// The node's shared state, to start link tasks from the busy hook.
    shared: Weak<Shared>,
}

/// One bus link as both its task and the busy hook see it: the socket and
/// the bytes read but not yet handled (a frame may arrive in pieces).
#[derive(Debug)]
struct LinkIo {
    fd: RawFd,
    buf: RefCell<Vec<u8>>,
    /// The node an outbound link leads to (renamed after a handshake); None
    /// for a peer's inbound link, whose replies go back on it.
    peer: Option<RefCell<String>>,
    peer_ip: String,
}

impl LinkIo {
    fn new(fd: RawFd, peer: Option<String>, peer_ip: String) -> Rc<LinkIo> {
        Rc::new(LinkIo { fd, buf: RefCell::new(Vec::with_capacity(8192)), peer: peer.map(RefCell::new), peer_ip })
    }
}

impl Bus {
    /// Queues a frame on the link with this generation.
    pub fn send(&self, generation: u64, frame: Vec<u8>) {
        if let Some(tx) = self.senders.get(&generation) {
            let _ = tx.send(frame);
        }
    }

    /// Closes the queues of links the cluster state no longer has: their
    /// tasks see the queue end and close the connection.
    pub fn prune(&mut self, links: &HashMap<String, LinkInfo>) {
        if self.senders.len() != links.len() {
            self.senders.retain(|g, _| links.values().any(|l| l.generation == *g));
        }
    }

    /// Closes every link (CLUSTER RESET).
    pub fn close_all(&mut self) {
        self.senders.clear();
    }
}

/// Starts the bus listener and the cluster cron on the node's thread.
pub fn spawn(shared: SharedRef, listener: TcpListener) {
    {
        let mut node = shared.node.borrow_mut();
        node.bus.listener_fd = Some(listener.as_raw_fd());
        node.bus.shared = Rc::downgrade(&shared);
    }
    tokio::task::spawn_local(accept_loop(shared.clone(), listener));
    tokio::task::spawn_local(cron(shared));
}

async fn accept_loop(shared: SharedRef, listener: TcpListener) {
    loop {
        match listener.accept().await {
            Ok((stream, _)) => start_inbound(&shared, &mut shared.node.borrow_mut(), stream),
            Err(e) => {
                tracing::warn!("cluster bus accept failed: {e}");
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }
}

/// Registers a peer's new link and starts its task.
fn start_inbound(shared: &SharedRef, node: &mut Node, stream: TcpStream) {
    let _ = stream.set_nodelay(true);
    let peer_ip = stream.peer_addr().map(|a| a.ip().to_string()).unwrap_or_default();
    let link = LinkIo::new(stream.as_raw_fd(), None, peer_ip);
    node.bus.links.push(link.clone());
    tokio::task::spawn_local(inbound(shared.clone(), stream, link));
}

/// A peer's link to us: it sends PING/MEET/FAIL/..., we answer PONGs on it.
async fn inbound(shared: SharedRef, mut stream: TcpStream, link: Rc<LinkIo>) {
    let mut chunk = vec![0u8; 16384];
    loop {
        let n = match stream.read(&mut chunk).await {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        shared.gate.pass().await;
        let mut reply = Vec::new();
        if let Err(e) = read_frames(&mut shared.node.borrow_mut(), &link, &chunk[..n], &mut reply) {
            tracing::warn!(peer = %link.peer_ip, "closing cluster bus link: {e}");
            break;
        }
        if !reply.is_empty() && stream.write_all(&reply).await.is_err() {
            break;
        }
    }
    shared.node.borrow_mut().bus.links.retain(|l| !Rc::ptr_eq(l, &link));
}

/// Our link to `peer`: connect, send what the node queues, handle its PONGs.
async fn outbound(shared: SharedRef, peer: String, addr: String, generation: u64, mut rx: UnboundedReceiver<Vec<u8>>) {
    let timeout = shared.node.borrow().config.node_timeout_ms().max(100);
    let connected = tokio::time::timeout(Duration::from_millis(timeout), TcpStream::connect(&addr)).await;
    let mut stream = match connected {
        Ok(Ok(s)) => s,
        _ => {
            end_link(&shared, &peer, generation);
            return;
        }
    };
    let _ = stream.set_nodelay(true);
    let first = {
        let mut node = shared.node.borrow_mut();
        node.now_ms = unix_ms();
        let env = node.cluster_env();
        node.cluster.as_mut().and_then(|c| handler::on_link_up(c, &env, &peer))
    };
    if let Some(frame) = first {
        if stream.write_all(&frame).await.is_err() {
            end_link(&shared, &peer, generation);
            return;
        }
    }
    let link = LinkIo::new(stream.as_raw_fd(), Some(peer), String::new());
    shared.node.borrow_mut().bus.links.push(link.clone());
    let mut chunk = vec![0u8; 16384];
    loop {
        tokio::select! {
            frame = rx.recv() => {
                let Some(frame) = frame else { break };
                shared.gate.pass().await;
                let hold = {
                    let node = shared.node.borrow();
                    let peer = link.peer.as_ref().map(|p| p.borrow().clone()).unwrap_or_default();
                    if node.bus.faults.is_empty() { Some(Duration::ZERO) } else { node.bus.faults.outgoing(&peer) }
                };
                let Some(hold) = hold else { continue };
                if !hold.is_zero() {
                    tokio::time::sleep(hold).await;
                }
                if stream.write_all(&frame).await.is_err() {
                    break;
                }
            }
            r = stream.read(&mut chunk) => {
                let n = match r {
                    Ok(0) | Err(_) => break,
                    Ok(n) => n,
                };
                shared.gate.pass().await;
                // PONGs on our link produce nothing to send back on it.
                let mut ignored = Vec::new();
                if let Err(e) = read_frames(&mut shared.node.borrow_mut(), &link, &chunk[..n], &mut ignored) {
                    tracing::warn!(peer = ?link.peer, "closing cluster bus link: {e}");
                    break;
                }
            }
        }
    }
    shared.node.borrow_mut().bus.links.retain(|l| !Rc::ptr_eq(l, &link));
    let peer = link.peer.as_ref().map(|p| p.borrow().clone()).unwrap_or_default();
    end_link(&shared, &peer, generation);
}

/// Adds what was read on `link` to its buffer and handles every complete
/// frame in it (replies for an inbound link go to `reply`).
fn read_frames(node: &mut Node, link: &LinkIo, data: &[u8], reply: &mut Vec<u8>) -> Result<(), DecodeError> {
    let mut buf = link.buf.borrow_mut();
    buf.extend_from_slice(data);
    let mut peer = link.peer.as_ref().map(|p| p.borrow_mut());
    handle_frames(node, &mut buf, peer.as_deref_mut(), &link.peer_ip, reply)
}

/// Handles every complete frame in `buf` (consumed ones are removed).
/// `link` is the node our outbound link leads to (None for a peer's inbound
/// link); it is updated when a handshake node reveals its real id.
/// Replies meant for the sending link are appended to `reply`.
///
/// # Errors
/// Garbage on the link: the caller closes it.
fn handle_frames(
    node: &mut Node,
    buf: &mut Vec<u8>,
    mut link: Option<&mut String>,
    peer_ip: &str,
    reply: &mut Vec<u8>,
) -> Result<(), DecodeError> {
    let mut consumed = 0;
    let result = loop {
        match Message::decode_frame(&buf[consumed..]) {
            Ok(Some((msg, used))) => {
                consumed += used;
                node.now_ms = unix_ms();
                let peer = link.as_deref().map(String::as_str);
                if node.bus.faults.cut(&msg.sender) || peer.is_some_and(|p| node.bus.faults.cut(p)) {
                    continue;
                }
                node.run_cluster(reply, |c, env, fx| handler::process(c, env, &msg, peer, peer_ip, fx));
                if let Some(link) = link.as_deref_mut() {
                    // A handshake node learns its real id from the first PONG.
                    if let Some(new_id) = node.cluster.as_ref().and_then(|c| handler::renamed_to(c, link, &msg)) {
                        *link = new_id;
                    }
                }
            }
            Ok(None) => break Ok(()),
            Err(e) => break Err(e),
        }
    };
    buf.drain(..consumed);
    result
}

/// While a script keeps the node's thread past `busy-reply-threshold`, the
/// hook calls this so the node still answers its peers (as Redis's
/// processEventsWhileBlocked does): without PONGs a long script would get
/// the node marked failing and failed over. It accepts new peer links,
/// reads every link without blocking, handles what came and answers on
/// inbound links; frames queued for outbound links go out when the script ends.
pub fn serve_while_busy(node: &mut Node) {
    if let (Some(fd), Some(shared)) = (node.bus.listener_fd, node.bus.shared.upgrade()) {
        while let Some((stream, _)) = crate::util::net::accept_now(fd) {
            match stream.set_nonblocking(true).and_then(|()| TcpStream::from_std(stream)) {
                Ok(s) => start_inbound(&shared, node, s),
                Err(e) => tracing::warn!("cluster bus accept failed: {e}"),
            }
        }
    }
    let links = node.bus.links.clone();
    let mut chunk = [0u8; 16384];
    for link in links {
        loop {
            let n = crate::util::net::read_now(link.fd, &mut chunk);
            if n == 0 {
                break;
            }
            let mut reply = Vec::new();
            if read_frames(node, &link, &chunk[..n], &mut reply).is_err() {
                // The link's task then reads the end and closes it.
                crate::util::net::shut_down(link.fd);
                break;
            }
            if link.peer.is_none() && !reply.is_empty() {
                crate::util::net::write_all_now(link.fd, &reply);
            }
        }
    }
}

fn end_link(shared: &SharedRef, peer: &str, generation: u64) {
    let mut node = shared.node.borrow_mut();
    let node = &mut *node;
    node.bus.senders.remove(&generation);
    if let Some(c) = node.cluster.as_mut() {
        if c.links.get(peer).is_some_and(|l| l.generation == generation) {
            c.links.remove(peer);
        }
        if let Some(n) = c.nodes.get_mut(peer) {
            n.link_up = false;
        }
    }
}

/// Opens the outbound links the cluster state wants.
fn open_links(shared: &SharedRef, node: &mut Node) {
    let now = node.now_ms;
    let Some(c) = node.cluster.as_mut() else { return };
    for (id, addr) in handler::links_to_open(c, now) {
        node.bus.next_generation += 1;
        let generation = node.bus.next_generation;
        let (tx, rx) = unbounded_channel();
        node.bus.senders.insert(generation, tx);
        c.links.insert(id.clone(), LinkInfo { generation, created_ms: now });
        if let Some(n) = c.nodes.get_mut(&id) {
            if n.ping_sent == 0 {
                n.ping_sent = now;
            }
        }
        tokio::task::spawn_local(outbound(shared.clone(), id, addr, generation, rx));
    }
}

/// Every 100 ms: open missing links, ping, detect failures, run elections,
/// recompute the state and persist nodes.conf when it changed.
async fn cron(shared: SharedRef) {
    let mut tick = tokio::time::interval(Duration::from_millis(100));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        shared.gate.pass().await;
        let mut node = shared.node.borrow_mut();
        node.now_ms = unix_ms();
        open_links(&shared, &mut node);
        let mut ignored = Vec::new();
        node.run_cluster(&mut ignored, handler::cron_tick);
        node.save_cluster_config_if_dirty();
    }
}
