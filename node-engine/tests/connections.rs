//! Many connections at once: the listen backlog is `tcp-backlog`, and past
//! `maxclients` a connection is refused with Redis's error and closed, never
//! left hanging. Also `enable-debug-command`, which guards DEBUG SLEEP (the
//! command these tests use to freeze a node).

use node_engine::{NodeConfig, NodeHandle};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

fn start(extra: &[&str]) -> NodeHandle {
    let mut args: Vec<String> = ["--port", "0", "--bind", "127.0.0.1", "--save", ""].iter().map(|s| s.to_string()).collect();
    args.extend(extra.iter().map(|s| s.to_string()));
    node_engine::start(NodeConfig::from_args(&args).expect("config")).expect("start")
}

fn addr(h: &NodeHandle) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], h.port()))
}

/// Sends one inline command and reads one reply line (or what came before EOF).
fn request(s: &mut TcpStream, cmd: &str) -> String {
    s.write_all(format!("{cmd}\r\n").as_bytes()).expect("write");
    read_line(s)
}

fn read_line(s: &mut TcpStream) -> String {
    let mut out = Vec::new();
    let mut b = [0u8; 1];
    while !out.ends_with(b"\r\n") {
        match s.read(&mut b) {
            Ok(0) => break,
            Ok(_) => out.push(b[0]),
            Err(e) => panic!("read after {:?}: {e}", String::from_utf8_lossy(&out)),
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn somaxconn() -> usize {
    std::fs::read_to_string("/proc/sys/net/core/somaxconn").ok().and_then(|s| s.trim().parse().ok()).unwrap_or(128)
}

#[test]
fn listen_backlog_is_tcp_backlog_while_the_node_is_busy() {
    let h = start(&["--tcp-backlog", "511", "--enable-debug-command", "local"]);
    let mut busy = TcpStream::connect(addr(&h)).expect("connect");
    // Freeze the node thread: nothing is accepted until DEBUG SLEEP returns,
    // so every connection below must fit in the kernel's accept queue.
    busy.write_all(b"DEBUG SLEEP 4\r\n").expect("write");
    let n = somaxconn().min(511).min(400) - 2;
    let t0 = Instant::now();
    let mut conns = Vec::new();
    for i in 0..n {
        // A dropped SYN is retried after 1 s: a full queue shows as a timeout here.
        let c = TcpStream::connect_timeout(&addr(&h), Duration::from_millis(900))
            .unwrap_or_else(|e| panic!("connection {i} of {n} not queued while the node was busy: {e}"));
        conns.push(c);
    }
    assert!(t0.elapsed() < Duration::from_secs(3), "connecting took {:?}, longer than the node was frozen", t0.elapsed());
    assert_eq!(read_line(&mut busy), "+OK\r\n");
    busy.set_read_timeout(Some(Duration::from_secs(10))).expect("timeout");
    for (i, c) in conns.iter_mut().enumerate() {
        c.set_read_timeout(Some(Duration::from_secs(10))).expect("timeout");
        assert_eq!(request(c, "PING"), "+PONG\r\n", "connection {i}");
    }
}

#[test]
fn past_maxclients_a_connection_gets_the_error_and_is_closed() {
    let h = start(&["--maxclients", "20"]);
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut admitted = Vec::new();
    for i in 0..20 {
        let mut c = TcpStream::connect(addr(&h)).expect("connect");
        c.set_read_timeout(Some(Duration::from_secs(10))).expect("timeout");
        assert_eq!(request(&mut c, "PING"), "+PONG\r\n", "client {i} within maxclients");
        admitted.push(c);
    }
    for i in 0..2000 {
        assert!(Instant::now() < deadline, "refusing connections took over 60 s (at {i})");
        let mut c = TcpStream::connect(addr(&h)).expect("connect");
        c.set_read_timeout(Some(Duration::from_secs(10))).expect("timeout");
        let mut got = Vec::new();
        c.read_to_end(&mut got).unwrap_or_else(|e| panic!("refused connection {i} left open: {e}"));
        assert_eq!(String::from_utf8_lossy(&got), "-ERR max number of clients reached\r\n", "connection {i}");
    }
    // The admitted clients were not disturbed, and a freed slot admits again.
    for c in admitted.iter_mut() {
        assert_eq!(request(c, "PING"), "+PONG\r\n");
    }
    let mut info = admitted.pop().expect("a client");
    let rejected = {
        info.write_all(b"INFO stats\r\n").expect("write");
        let len = read_line(&mut info);
        let n: usize = len.trim_start_matches('$').trim().parse().expect("bulk length");
        let mut body = vec![0u8; n + 2];
        info.read_exact(&mut body).expect("info body");
        String::from_utf8_lossy(&body).lines().find_map(|l| l.strip_prefix("rejected_connections:").map(str::to_string)).expect("field")
    };
    assert_eq!(rejected, "2000");
    drop(info);
    let again = Instant::now() + Duration::from_secs(10);
    loop {
        let mut c = TcpStream::connect(addr(&h)).expect("connect");
        c.set_read_timeout(Some(Duration::from_secs(10))).expect("timeout");
        let reply = request(&mut c, "PING");
        if reply == "+PONG\r\n" {
            break;
        }
        assert!(Instant::now() < again, "a freed client slot was never reused: {reply:?}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn debug_is_refused_unless_enabled() {
    const REFUSED: &str = "-ERR DEBUG command not allowed. If the enable-debug-command option is set to \"local\", you can run it from a local connection, otherwise you need to set this option in the configuration file, and then restart the server.\r\n";
    let h = start(&[]);
    let mut c = TcpStream::connect(addr(&h)).expect("connect");
    c.set_read_timeout(Some(Duration::from_secs(5))).expect("timeout");
    // The default is `no`, like Redis: not even a loopback client may freeze the node.
    assert_eq!(request(&mut c, "DEBUG SLEEP 3600"), REFUSED);
    assert_eq!(request(&mut c, "PING"), "+PONG\r\n");
    assert_eq!(
        request(&mut c, "CONFIG SET enable-debug-command yes"),
        "-ERR CONFIG SET failed (possibly related to argument 'enable-debug-command') - can't set immutable config\r\n"
    );
    for setting in ["yes", "local"] {
        let h = start(&["--enable-debug-command", setting]);
        let mut c = TcpStream::connect(addr(&h)).expect("connect");
        c.set_read_timeout(Some(Duration::from_secs(5))).expect("timeout");
        assert_eq!(request(&mut c, "DEBUG SLEEP 0"), "+OK\r\n", "enable-debug-command {setting}");
    }
    let bad = NodeConfig::from_args(&["--enable-debug-command".to_string(), "sometimes".to_string()]);
    assert!(bad.is_err(), "an unknown enable-debug-command value is accepted");
}

/// A RESTORE payload whose LZF header claims 4 GB must be refused with
/// Redis's error, not become a 4 GB allocation: the node runs with a 1 GB
/// address-space limit, so trying to allocate would kill it.
#[test]
fn forged_lzf_length_in_restore_is_an_error_not_an_allocation() {
    let bin = env!("CARGO_BIN_EXE_slot-node");
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        l.local_addr().expect("addr").port()
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let mut child = std::process::Command::new("sh")
        .arg("-c")
        .arg(format!("ulimit -v 1048576 && exec {bin} --port {port} --bind 127.0.0.1 --save '' --dir {}", dir.path().display()))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("start slot-node");
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut c = loop {
        if let Ok(c) = TcpStream::connect(("127.0.0.1", port)) {
            break c;
        }
        assert!(Instant::now() < deadline, "slot-node did not start");
        std::thread::sleep(Duration::from_millis(20));
    };
    c.set_read_timeout(Some(Duration::from_secs(10))).expect("timeout");
    // Type 0 (string), LZF encoding (0xC3), 3 compressed bytes, claimed length 0xFFFFFFFF.
    let mut payload = vec![0x00, 0xC3, 0x03, 0x80, 0xFF, 0xFF, 0xFF, 0xFF, 0x00, b'a', b'b'];
    payload.extend_from_slice(&10u16.to_le_bytes());
    let crc = crc64_jones(&payload);
    payload.extend_from_slice(&crc.to_le_bytes());
    let mut req = b"*4\r\n$7\r\nRESTORE\r\n$1\r\nk\r\n$1\r\n0\r\n".to_vec();
    req.extend_from_slice(format!("${}\r\n", payload.len()).as_bytes());
    req.extend_from_slice(&payload);
    req.extend_from_slice(b"\r\n");
    c.write_all(&req).expect("write");
    assert_eq!(read_line(&mut c), "-ERR Bad data format\r\n");
    assert_eq!(request(&mut c, "EXISTS k"), ":0\r\n", "nothing was stored");
    assert_eq!(request(&mut c, "PING"), "+PONG\r\n", "the node is alive");
    let _ = child.kill();
    let _ = child.wait();
}

/// CRC-64/Jones (reflected, poly 0xad93d23594c935a9), as DUMP payloads carry it.
fn crc64_jones(data: &[u8]) -> u64 {
    let mut crc = 0u64;
    for &b in data {
        crc ^= u64::from(b);
        for _ in 0..8 {
            crc = if crc & 1 == 1 { (crc >> 1) ^ 0x95ac_9329_ac4b_c9b5 } else { crc >> 1 };
        }
    }
    crc
}

/// Connections that queued while the node was busy are accepted in one
/// burst; `maxclients` still admits exactly as many as it allows.
#[test]
fn a_burst_of_connections_admits_exactly_maxclients() {
    let h = start(&["--maxclients", "20", "--enable-debug-command", "local"]);
    let mut busy = TcpStream::connect(addr(&h)).expect("connect");
    busy.set_read_timeout(Some(Duration::from_secs(10))).expect("timeout");
    assert_eq!(request(&mut busy, "PING"), "+PONG\r\n");
    busy.write_all(b"DEBUG SLEEP 2\r\n").expect("write");
    let mut conns: Vec<TcpStream> = (0..100).map(|_| TcpStream::connect(addr(&h)).expect("connect")).collect();
    assert_eq!(read_line(&mut busy), "+OK\r\n");
    let (mut admitted, mut refused) = (0, 0);
    for (i, c) in conns.iter_mut().enumerate() {
        c.set_read_timeout(Some(Duration::from_secs(10))).expect("timeout");
        let _ = c.write_all(b"PING\r\n");
        match read_line(c).as_str() {
            "+PONG\r\n" => admitted += 1,
            "-ERR max number of clients reached\r\n" => refused += 1,
            other => panic!("connection {i}: {other:?}"),
        }
    }
    assert_eq!((admitted, refused), (19, 81), "20 clients at most, the busy one included");
}

#[test]
fn config_set_port_moves_the_listener_and_a_busy_port_changes_nothing() {
    let h = start(&[]);
    let mut c = TcpStream::connect(addr(&h)).expect("connect");
    let free = std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).expect("free port").port();
    let set = |c: &mut TcpStream, port: u16| {
        let p = port.to_string();
        request(c, &format!("CONFIG SET port {p}")).trim_end().to_string()
    };
    assert_eq!(set(&mut c, free), "+OK");
    // The connected client stays; new clients find the node on the new port only.
    assert_eq!(request(&mut c, "PING").trim_end(), "+PONG");
    let deadline = Instant::now() + Duration::from_secs(5);
    while TcpStream::connect(addr(&h)).is_ok() {
        assert!(Instant::now() < deadline, "the old port still accepts");
        std::thread::sleep(Duration::from_millis(10));
    }
    let mut moved = TcpStream::connect(SocketAddr::from(([127, 0, 0, 1], free))).expect("new port");
    assert_eq!(request(&mut moved, "PING").trim_end(), "+PONG");
    let busy = std::net::TcpListener::bind("127.0.0.1:0").expect("busy");
    let taken = busy.local_addr().expect("addr").port();
    let reply = set(&mut moved, taken);
    assert!(reply.starts_with("-ERR CONFIG SET failed (possibly related to argument 'port') - Unable to listen on this port"), "{reply}");
    assert_eq!(
        request(&mut TcpStream::connect(SocketAddr::from(([127, 0, 0, 1], free))).expect("still there"), "PING").trim_end(),
        "+PONG"
    );
}

/// `unixsocket`: clients on a local socket file (mode from `unixsocketperm`),
/// shown in CLIENT LIST by path with flag `U`, still served after CONFIG SET
/// bind "" closes TCP, and the file is removed at shutdown.
#[test]
fn unix_socket_serves_clients_and_is_removed_at_shutdown() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("node.sock");
    let path_text = path.to_str().expect("utf8 path").to_string();
    let node = start(&["--unixsocket", &path_text, "--unixsocketperm", "700"]);
    let mode = std::fs::metadata(&path).expect("socket file").permissions().mode() & 0o777;
    assert_eq!(mode, 0o700);
    let mut c = redis::Client::open(format!("unix://{path_text}")).expect("client").get_connection().expect("connect over the socket");
    let _: () = redis::cmd("SET").arg("k").arg("v").query(&mut c).expect("set");
    let list: String = redis::cmd("CLIENT").arg("LIST").query(&mut c).expect("client list");
    assert!(list.contains(&format!("addr={path_text}:0 laddr={path_text}:0")) && list.contains("flags=U "), "{list}");
    let _: () = redis::cmd("CONFIG").arg("SET").arg("bind").arg("").query(&mut c).expect("config set bind");
    assert!(TcpStream::connect(addr(&node)).is_err(), "TCP is closed");
    let v: String = redis::cmd("GET").arg("k").query(&mut c).expect("get over the socket");
    assert_eq!(v, "v");
    node.shutdown();
    node.join();
    assert!(!path.exists(), "the socket file is removed at shutdown");
}
