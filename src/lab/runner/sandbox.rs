//! The scenario's own slotd: free ports and the config it runs with, so a
//! lab run never touches the cluster the user runs.

use super::*;

/// Picks `n` ports whose port and port + 10000 are free (never 6380-6385/6300).
pub fn free_ports(n: usize) -> Vec<u16> {
    let mut out = Vec::new();
    let mut tries = 0;
    while out.len() < n && tries < 100_000 {
        tries += 1;
        let port = 20000 + rand::random::<u16>() % 10000;
        if out.contains(&port) {
            continue;
        }
        let ok = |p: u16| std::net::TcpListener::bind(("127.0.0.1", p)).is_ok();
        if ok(port) && ok(port + 10000) {
            out.push(port);
        }
    }
    out
}

pub(super) fn config_text(s: &Scenario, v: Option<&Variant>, o: &RunOptions, api: u16, ports: &[u16], data: &std::path::Path) -> String {
    let st = &s.setup;
    let save = v.and_then(|v| v.save.clone()).unwrap_or_else(|| st.save.clone());
    let save: Vec<String> = save.iter().map(|[a, b]| format!("[{a}, {b}]")).collect();
    let list: Vec<String> = ports.iter().map(u16::to_string).collect();
    format!(
        "[supervisor]\napi = \"127.0.0.1:{api}\"\ndata_dir = \"{}\"\n[engine]\nkind = \"{}\"\nmode = \"process\"\n[cluster]\nreplicas = {}\nnode_timeout_ms = {}\ncreate = \"{}\"\n[nodes]\nhost = \"127.0.0.1\"\nports = [{}]\n[persistence]\nsave = [{}]\nappendonly = {}\nappendfsync = \"{}\"\n[restart]\npolicy = \"unexpected\"\nbackoff_ms = 200\nstart_timeout_ms = 10000\nstop_timeout_ms = 5000\n",
        data.display(),
        o.engine,
        st.replicas,
        o.node_timeout_ms.unwrap_or(st.node_timeout_ms),
        st.create,
        list.join(", "),
        save.join(", "),
        v.and_then(|v| v.appendonly).unwrap_or(st.appendonly),
        v.and_then(|v| v.appendfsync.clone()).unwrap_or_else(|| st.appendfsync.clone()),
    )
}
