//! Listening sockets: the node's client and bus listeners, bound at start
//! and again when CONFIG SET changes `port` or `bind`.

use std::net::TcpListener;
use std::os::fd::{FromRawFd, RawFd};

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

/// Binds the `unixsocket` listener: a stale socket file from an earlier run
/// is replaced, and `unixsocketperm` (octal, as written in the config; 0
/// leaves the umask's) sets the file's mode, as Redis does.
pub fn listen_unix(path: &str, perm: i64) -> std::io::Result<std::os::unix::net::UnixListener> {
    use std::os::unix::fs::{FileTypeExt, PermissionsExt};
    if std::fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_socket()) {
        std::fs::remove_file(path)?;
    }
    let l = std::os::unix::net::UnixListener::bind(path)?;
    if perm > 0 {
        let mode = u32::from_str_radix(&perm.to_string(), 8).unwrap_or(0o700);
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))?;
    }
    l.set_nonblocking(true)?;
    Ok(l)
}

/// Accepts one pending connection on a non-blocking listening socket, now or
/// never: for a busy script's hook, which serves sockets the runtime cannot
/// poll while the script holds the thread.
pub fn accept_now(listener: RawFd) -> Option<(std::net::TcpStream, std::net::SocketAddr)> {
    // SAFETY: borrowing a descriptor the caller keeps open for this call;
    // ManuallyDrop leaves it open afterwards.
    let l = std::mem::ManuallyDrop::new(unsafe { TcpListener::from_raw_fd(listener) });
    l.accept().ok()
}

/// Reads what a socket holds without waiting: 0 when nothing (or the peer closed).
pub fn read_now(fd: RawFd, buf: &mut [u8]) -> usize {
    // SAFETY: a non-blocking read into a buffer we own, of at most its length.
    let n = unsafe { libc::recv(fd, buf.as_mut_ptr().cast(), buf.len(), libc::MSG_DONTWAIT) };
    n.max(0) as usize
}

/// Writes all of `data`, waiting up to a second in all for the socket to
/// drain (bus frames are small: a full socket buffer means a dead peer).
pub fn write_all_now(fd: RawFd, mut data: &[u8]) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(1);
    while !data.is_empty() && std::time::Instant::now() < deadline {
        // SAFETY: a non-blocking write of a buffer we own.
        let n = unsafe { libc::send(fd, data.as_ptr().cast(), data.len(), libc::MSG_DONTWAIT | libc::MSG_NOSIGNAL) };
        if n > 0 {
            data = &data[n as usize..];
            continue;
        }
        if std::io::Error::last_os_error().kind() != std::io::ErrorKind::WouldBlock {
            return;
        }
        let mut pfd = libc::pollfd { fd, events: libc::POLLOUT, revents: 0 };
        // SAFETY: one pollfd we own.
        unsafe { libc::poll(&mut pfd, 1, 10) };
    }
}

/// Ends a socket's traffic both ways, so the task reading it sees the end.
pub fn shut_down(fd: RawFd) {
    // SAFETY: shutdown on a descriptor the caller keeps open; it does not close it.
    unsafe { libc::shutdown(fd, libc::SHUT_RDWR) };
}
