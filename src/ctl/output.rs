//! Human-readable output for slotctl: aligned tables like supervisorctl.

use crate::api::types::{ActionResponse, Check, CreateReport, Level, NodeView, StatusResponse};

/// Left-aligned columns separated by two spaces.
pub fn table(header: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = header.iter().map(|h| h.len()).collect();
    for r in rows {
        for (i, c) in r.iter().enumerate() {
            if i < widths.len() {
                widths[i] = widths[i].max(c.chars().count());
            }
        }
    }
    let line = |cells: Vec<String>| {
        let mut s = String::new();
        for (i, c) in cells.iter().enumerate() {
            if i + 1 == cells.len() {
                s.push_str(c);
            } else {
                s.push_str(&format!("{c:<w$}  ", w = widths[i]));
            }
        }
        s.trim_end().to_string()
    };
    let mut out = vec![line(header.iter().map(|h| h.to_string()).collect())];
    out.extend(rows.iter().map(|r| line(r.clone())));
    out.join("\n")
}

fn human_bytes(b: u64) -> String {
    const UNITS: [&str; 4] = ["B", "K", "M", "G"];
    let mut v = b as f64;
    let mut u = 0;
    while v >= 1024.0 && u < UNITS.len() - 1 {
        v /= 1024.0;
        u += 1;
    }
    if u == 0 {
        format!("{b}B")
    } else {
        format!("{v:.1}{}", UNITS[u])
    }
}

fn human_duration(s: u64) -> String {
    let (d, h, m, sec) = (s / 86400, (s % 86400) / 3600, (s % 3600) / 60, s % 60);
    if d > 0 {
        format!("{d}d{h:02}h")
    } else if h > 0 {
        format!("{h}:{m:02}:{sec:02}")
    } else {
        format!("{m}:{sec:02}")
    }
}

fn dash<T: ToString>(v: Option<T>) -> String {
    v.map(|x| x.to_string()).unwrap_or_else(|| "-".into())
}

/// Role as the node reports it, with its master for replicas.
fn role(n: &NodeView) -> String {
    match (n.role.as_deref(), n.master_port) {
        (Some("slave"), Some(p)) => format!("replica of {p}"),
        (Some("slave"), None) => "replica".into(),
        (Some(r), _) => r.to_string(),
        (None, _) => "-".into(),
    }
}

pub fn status(s: &StatusResponse, only: &[NodeView]) -> String {
    let multi = !s.hosts.is_empty();
    let rows: Vec<Vec<String>> = only
        .iter()
        .map(|n| {
            let mut row = vec![
                n.name.clone(),
                if multi { format!("{}:{}", n.host_name.as_deref().unwrap_or("?"), n.port) } else { n.port.to_string() },
                n.state.to_string(),
                role(n),
                if n.slots.is_empty() { "-".into() } else { n.slots.join(",") },
                dash(n.pid),
                n.uptime_s.map(human_duration).unwrap_or_else(|| "-".into()),
                n.rss_bytes.map(human_bytes).unwrap_or_else(|| "-".into()),
                n.cpu_percent.map(|c| format!("{c:.1}%")).unwrap_or_else(|| "-".into()),
                n.restarts.to_string(),
                n.message.clone().unwrap_or_default(),
            ];
            row.truncate(11);
            row
        })
        .collect();
    let port_col = if multi { "HOST:PORT" } else { "PORT" };
    let mut out = table(&["NAME", port_col, "STATE", "ROLE", "SLOTS", "PID", "UPTIME", "RSS", "CPU", "RESTARTS", "INFO"], &rows);
    for h in s.hosts.iter().filter(|h| !h.reachable) {
        out.push_str(&format!(
            "
host {} ({}) is UNREACHABLE: {}",
            h.name,
            h.api,
            h.error.as_deref().unwrap_or("no answer")
        ));
    }
    let formation = s.cluster.formation.as_ref().map(|f| format!(", creation: {f}")).unwrap_or_default();
    out.push_str(&format!(
        "\ncluster: {} ({} of {} nodes running, create = {}{formation}, engine {})",
        s.cluster.state.clone().unwrap_or_else(|| "unknown (nodes do not answer CLUSTER INFO)".into()),
        s.cluster.nodes_running,
        s.cluster.nodes_total,
        s.cluster.create,
        s.engine
    ));
    if s.cluster.readiness.ready && !s.cluster.readiness.in_sync {
        out.push_str("\nready; replicas still syncing:");
    } else if !s.cluster.readiness.ready {
        out.push_str("\nnot ready:");
    }
    for w in &s.cluster.readiness.waiting_for {
        out.push_str(&format!("\n  - {w}"));
    }
    out
}

pub fn actions(r: &ActionResponse) -> String {
    r.results
        .iter()
        .map(|x| match (&x.error, x.state) {
            (Some(e), _) => format!("{}: ERROR {e}", x.node),
            (None, Some(st)) => format!("{}: {} ({st})", x.node, r.action),
            (None, None) => format!("{}: {}", x.node, r.action),
        })
        .collect::<Vec<_>>()
        .join("\n")
}

pub fn preflight(checks: &[Check]) -> String {
    let mut out = Vec::new();
    for c in checks {
        let tag = match c.level {
            Level::Ok => "ok  ",
            Level::Warn => "WARN",
        };
        out.push(format!("[{tag}] {}: {} (want {})", c.name, c.value, c.wanted));
        if c.level == Level::Warn {
            out.push(format!("       why: {}", c.why));
            out.push(format!("       fix: {}", c.fix));
        }
        if let Some(r) = &c.fix_result {
            out.push(format!("       --fix: {r}"));
        }
    }
    out.join("\n")
}

pub fn create(r: &CreateReport) -> String {
    let mut out = Vec::new();
    if r.already_formed {
        out.push("cluster already formed; left as it is".to_string());
    } else {
        out.push("cluster formed; every node reports cluster_state:ok".to_string());
    }
    for (p, a, b) in &r.masters {
        out.push(format!("  master {p}: slots {a}-{b}"));
    }
    for (p, m) in &r.replicas {
        out.push(format!("  replica {p} -> master {m}"));
    }
    out.join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_aligns_columns() {
        let t = table(&["A", "BB"], &[vec!["xxx".into(), "1".into()], vec!["y".into(), "22".into()]]);
        assert_eq!(t, "A    BB\nxxx  1\ny    22");
    }

    #[test]
    fn sizes_and_durations() {
        assert_eq!(human_bytes(512), "512B");
        assert_eq!(human_bytes(3 * 1024 * 1024), "3.0M");
        assert_eq!(human_duration(65), "1:05");
        assert_eq!(human_duration(3725), "1:02:05");
        assert_eq!(human_duration(90000), "1d01h");
    }
}
