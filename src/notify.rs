//! sd_notify over $NOTIFY_SOCKET (a unix datagram socket), so systemd's
//! Type=notify knows when the cluster is really up. No-op without systemd.

use std::os::unix::net::UnixDatagram;

/// Sends `state` (e.g. "READY=1\nSTATUS=cluster ok"); false when not under
/// systemd or the send failed.
pub fn notify(state: &str) -> bool {
    let Some(path) = std::env::var_os("NOTIFY_SOCKET") else {
        return false;
    };
    let Ok(sock) = UnixDatagram::unbound() else {
        return false;
    };
    let bytes = path.as_encoded_bytes();
    let sent = if let Some(name) = bytes.strip_prefix(b"@") {
        // Abstract socket namespace (Linux).
        use std::os::linux::net::SocketAddrExt;
        match std::os::unix::net::SocketAddr::from_abstract_name(name) {
            Ok(addr) => sock.send_to_addr(state.as_bytes(), &addr).is_ok(),
            Err(_) => false,
        }
    } else {
        sock.send_to(state.as_bytes(), &path).is_ok()
    };
    if !sent {
        tracing::debug!("sd_notify failed for {state:?}");
    }
    sent
}

/// Sends a STATUS= line shown by `systemctl status slotd`.
pub fn status(text: &str) -> bool {
    notify(&format!("STATUS={}", text.replace('\n', " ")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sends_to_the_notify_socket() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("notify.sock");
        let server = UnixDatagram::bind(&path).expect("bind");
        // Tests share the environment; this is the only test touching NOTIFY_SOCKET.
        std::env::set_var("NOTIFY_SOCKET", &path);
        assert!(notify("READY=1\nSTATUS=ok"));
        std::env::remove_var("NOTIFY_SOCKET");
        let mut buf = [0u8; 64];
        let n = server.recv(&mut buf).expect("recv");
        assert_eq!(&buf[..n], b"READY=1\nSTATUS=ok");
        assert!(!notify("READY=1"), "no socket -> false");
    }
}
