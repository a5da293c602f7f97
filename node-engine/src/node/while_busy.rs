//! What the node still does while a script holds its thread past
//! `busy-reply-threshold` (Redis's processEventsWhileBlocked): new clients
//! are accepted (the script hook answers them -BUSY) and the cluster bus is
//! served, so peers do not take a long script for a dead node.

use super::Node;
use std::os::fd::AsRawFd;

/// A client accepted while busy, in the busy hook's socket list until an
/// accept task registers it with a real id.
pub const UNREGISTERED: u64 = 0;

/// Called by the busy script's hook, between its Lua instructions.
pub fn serve(node: &mut Node) {
    accept_clients(node);
    super::bus::serve_while_busy(node);
}

fn accept_clients(node: &mut Node) {
    let fds: Vec<i32> = node.listeners.bound.iter().map(AsRawFd::as_raw_fd).collect();
    for fd in fds {
        while let Some((stream, addr)) = crate::util::net::accept_now(fd) {
            if let Some(msg) = node.admission_error(addr) {
                node.stats.rejected_connections += 1;
                crate::util::net::write_all_now(stream.as_raw_fd(), msg.as_bytes());
                continue;
            }
            if stream.set_nonblocking(true).is_err() {
                continue;
            }
            let txn = std::rc::Rc::new(std::cell::Cell::new(0u8));
            node.clients.sockets.borrow_mut().push((UNREGISTERED, stream.as_raw_fd(), txn.clone()));
            node.listeners.busy_accepted.push((stream, addr, txn));
            node.listeners.wake.notify_one();
        }
    }
}
