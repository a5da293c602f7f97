//! Cluster bus I/O: the listener for peers' links, one outbound link per
//! known node, and the cluster cron (pings, failure detection, elections,
//! state, nodes.conf). Message semantics live in [`super::handler`]; the wire
//! format in [`super::gossip`].

use super::gossip::Message;
use super::handler::{self, Outgoing};
use crate::node::SharedRef;
use crate::node::{unix_ms, Node};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc::{unbounded_channel, UnboundedReceiver};

/// Our end of an outbound link to one node.
#[derive(Debug)]
pub struct Link {
    pub tx: tokio::sync::mpsc::UnboundedSender<Vec<u8>>,
    /// Distinguishes a link from its replacement when an old one ends late.
    pub generation: u64,
    /// Unix ms the link was opened: a link younger than the node timeout is
    /// never dropped as stale (as in Redis), or a reconnect that inherits an
    /// old pending ping could be torn down before its first PONG, forever.
    pub created_ms: u64,
}

/// Starts the bus listener and the cluster cron on the node's thread.
pub fn spawn(shared: SharedRef, listener: TcpListener) {
    tokio::task::spawn_local(accept_loop(shared.clone(), listener));
    tokio::task::spawn_local(cron(shared));
}

async fn accept_loop(shared: SharedRef, listener: TcpListener) {
    loop {
        match listener.accept().await {
            Ok((stream, _)) => {
                tokio::task::spawn_local(inbound(shared.clone(), stream));
            }
            Err(e) => {
                tracing::warn!("cluster bus accept failed: {e}");
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }
}

/// Delivers what the handler wants sent: replies go back on `reply`, the rest over links.
pub(crate) fn route(node: &mut Node, out: Vec<Outgoing>, reply: &mut Vec<u8>) {
    for o in out {
        match o {
            Outgoing::Reply(frame) => reply.extend_from_slice(&frame),
            Outgoing::To(id, frame) => send_to(node, &id, frame),
            Outgoing::Broadcast(frame) => {
                if let Some(c) = node.cluster.as_ref() {
                    for l in c.links.values() {
                        let _ = l.tx.send(frame.clone());
                    }
                }
            }
        }
    }
}

pub fn send_to(node: &Node, id: &str, frame: Vec<u8>) {
    if let Some(l) = node.cluster.as_ref().and_then(|c| c.links.get(id)) {
        let _ = l.tx.send(frame);
    }
}

/// A peer's link to us: it sends PING/MEET/FAIL/..., we answer PONGs on it.
async fn inbound(shared: SharedRef, mut stream: TcpStream) {
    let _ = stream.set_nodelay(true);
    let peer_ip = stream.peer_addr().map(|a| a.ip().to_string()).unwrap_or_default();
    let mut buf = Vec::with_capacity(8192);
    let mut chunk = vec![0u8; 16384];
    loop {
        let n = match stream.read(&mut chunk).await {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        shared.gate.pass().await;
        buf.extend_from_slice(&chunk[..n]);
        let mut reply = Vec::new();
        if let Err(e) = handle_frames(&shared, &mut buf, None, &peer_ip, &mut reply) {
            tracing::warn!(peer = %peer_ip, "closing cluster bus link: {e}");
            return;
        }
        if !reply.is_empty() && stream.write_all(&reply).await.is_err() {
            return;
        }
    }
}

/// Our link to `peer`: connect, send what the node queues, handle its PONGs.
async fn outbound(shared: SharedRef, mut peer: String, addr: String, generation: u64, mut rx: UnboundedReceiver<Vec<u8>>) {
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
        handler::on_link_up(&mut node, &peer)
    };
    if let Some(frame) = first {
        if stream.write_all(&frame).await.is_err() {
            end_link(&shared, &peer, generation);
            return;
        }
    }
    let mut buf = Vec::with_capacity(8192);
    let mut chunk = vec![0u8; 16384];
    loop {
        tokio::select! {
            frame = rx.recv() => {
                let Some(frame) = frame else { break };
                shared.gate.pass().await;
                let hold = {
                    let node = shared.node.borrow();
                    match node.cluster.as_ref() {
                        Some(c) if !c.faults.is_empty() => c.faults.outgoing(&peer),
                        _ => Some(Duration::ZERO),
                    }
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
                buf.extend_from_slice(&chunk[..n]);
                // PONGs on our link produce nothing to send back on it.
                let mut ignored = Vec::new();
                if let Err(e) = handle_frames(&shared, &mut buf, Some(&mut peer), "", &mut ignored) {
                    tracing::warn!(peer = %peer, "closing cluster bus link: {e}");
                    break;
                }
            }
        }
    }
    end_link(&shared, &peer, generation);
}

/// Handles every complete frame in `buf` (consumed ones are removed).
/// `link` is the node our outbound link leads to (None for a peer's inbound
/// link); it is updated when a handshake node reveals its real id.
/// Replies meant for the sending link are appended to `reply`.
///
/// # Errors
/// Garbage on the link: the caller closes it.
fn handle_frames(
    shared: &SharedRef,
    buf: &mut Vec<u8>,
    mut link: Option<&mut String>,
    peer_ip: &str,
    reply: &mut Vec<u8>,
) -> Result<(), super::gossip::DecodeError> {
    let mut consumed = 0;
    let result = loop {
        match Message::decode_frame(&buf[consumed..]) {
            Ok(Some((msg, used))) => {
                consumed += used;
                let mut node = shared.node.borrow_mut();
                node.now_ms = unix_ms();
                let peer = link.as_deref().map(String::as_str);
                if node.cluster.as_ref().is_some_and(|c| c.faults.cut(&msg.sender) || peer.is_some_and(|p| c.faults.cut(p))) {
                    continue;
                }
                let out = handler::process(&mut node, &msg, peer, peer_ip);
                route(&mut node, out, reply);
                if let Some(link) = link.as_deref_mut() {
                    // A handshake node learns its real id from the first PONG.
                    if let Some(new_id) = handler::renamed_to(&node, link, &msg) {
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

fn end_link(shared: &SharedRef, peer: &str, generation: u64) {
    let mut node = shared.node.borrow_mut();
    if let Some(c) = node.cluster.as_mut() {
        if c.links.get(peer).is_some_and(|l| l.generation == generation) {
            c.links.remove(peer);
        }
        if let Some(n) = c.nodes.get_mut(peer) {
            n.link_up = false;
        }
    }
}

/// Every 100 ms: open missing links, ping, detect failures, run elections,
/// recompute the state and persist nodes.conf when it changed.
async fn cron(shared: SharedRef) {
    let mut tick = tokio::time::interval(Duration::from_millis(100));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut generation = 0u64;
    loop {
        tick.tick().await;
        shared.gate.pass().await;
        let mut node = shared.node.borrow_mut();
        node.now_ms = unix_ms();
        let to_connect = handler::links_to_open(&node);
        for (id, addr) in to_connect {
            generation += 1;
            let (tx, rx) = unbounded_channel();
            let now = node.now_ms;
            if let Some(c) = node.cluster.as_mut() {
                c.links.insert(id.clone(), super::bus::Link { tx, generation, created_ms: now });
                if let Some(n) = c.nodes.get_mut(&id) {
                    if n.ping_sent == 0 {
                        n.ping_sent = now;
                    }
                }
            }
            tokio::task::spawn_local(outbound(shared.clone(), id, addr, generation, rx));
        }
        let out = handler::cron_tick(&mut node);
        let mut ignored = Vec::new();
        route(&mut node, out, &mut ignored);
        let dirty = node.cluster.as_ref().is_some_and(|c| c.dirty_config);
        if dirty {
            if let Some(c) = node.cluster.as_mut() {
                c.dirty_config = false;
            }
            if let Some(c) = node.cluster.as_ref() {
                if let Err(e) = c.save_config(&node.config) {
                    tracing::warn!("cannot write cluster config {}: {e}", c.config_file.display());
                }
            }
        }
    }
}
