//! Listening sockets: the node's client and bus listeners, bound at start
//! and again when CONFIG SET changes `port` or `bind`.

use std::net::TcpListener;

/// The listen backlog: `tcp-backlog`, capped by the kernel's somaxconn with
/// Redis's warning (a silent cap hides why connections see SYN retransmits).
pub fn listen_backlog(wanted: i64) -> i32 {
    let wanted = wanted.clamp(1, i32::MAX as i64) as i32;
    let somaxconn = std::fs::read_to_string("/proc/sys/net/core/somaxconn").ok().and_then(|s| s.trim().parse::<i32>().ok());
    match somaxconn {
        Some(max) if max < wanted => {
            tracing::warn!(
                "WARNING: The TCP backlog setting of {wanted} cannot be enforced because /proc/sys/net/core/somaxconn is set to the lower value of {max}."
            );
            max
        }
        _ => wanted,
    }
}

/// Binds one non-blocking listener with `SO_REUSEADDR` and the given backlog
/// (std's `TcpListener::bind` always listens with 128).
pub fn listen(addr: &str, backlog: i32) -> std::io::Result<TcpListener> {
    let sockaddr: std::net::SocketAddr = std::net::ToSocketAddrs::to_socket_addrs(addr)?
        .next()
        .ok_or_else(|| std::io::Error::new(std::io::ErrorKind::InvalidInput, "address resolves to nothing"))?;
    let socket = socket2::Socket::new(socket2::Domain::for_address(sockaddr), socket2::Type::STREAM, Some(socket2::Protocol::TCP))?;
    if sockaddr.is_ipv6() {
        socket.set_only_v6(true)?;
    }
    socket.set_reuse_address(true)?;
    socket.bind(&sockaddr.into())?;
    socket.listen(backlog)?;
    socket.set_nonblocking(true)?;
    Ok(socket.into())
}

/// `host:port` with IPv6 hosts bracketed.
pub fn host_port(host: &str, port: u16) -> String {
    if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}
