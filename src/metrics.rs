//! `GET /metrics`: Prometheus text exposition of what slotd supervises and
//! what each node reports (INFO, CLUSTER INFO), gathered at scrape time so
//! nothing is stale; plus a tiny parser used by tests to keep it valid.

use crate::cluster_admin::{info_field, Conn};
use crate::events::{EventKind, EventLog};
use crate::supervise::state::State;
use crate::supervise::Supervisor;
use std::collections::BTreeMap;
use std::fmt::Write;
use std::time::Duration;

/// One metric family being written.
struct Family {
    help: &'static str,
    kind: &'static str,
    samples: Vec<(String, f64)>,
}

/// Collects samples per family, then renders them in order.
#[derive(Default)]
struct Out {
    families: BTreeMap<&'static str, Family>,
}

impl Out {
    fn add(&mut self, name: &'static str, kind: &'static str, help: &'static str, labels: &str, v: f64) {
        let f = self.families.entry(name).or_insert(Family { help, kind, samples: Vec::new() });
        f.samples.push((labels.to_string(), v));
    }
    fn render(&self) -> String {
        let mut s = String::new();
        for (name, f) in &self.families {
            let _ = writeln!(s, "# HELP {name} {}", f.help);
            let _ = writeln!(s, "# TYPE {name} {}", f.kind);
            for (labels, v) in &f.samples {
                let val = if v.is_finite() { format!("{v}") } else { "NaN".into() };
                if labels.is_empty() {
                    let _ = writeln!(s, "{name} {val}");
                } else {
                    let _ = writeln!(s, "{name}{{{labels}}} {val}");
                }
            }
        }
        s
    }
}

fn num(text: &str, key: &str) -> Option<f64> {
    info_field(text, key).and_then(|v| v.trim().parse::<f64>().ok())
}

/// Sum of `keys=` over every `dbN:` line of INFO keyspace.
fn keys(info: &str) -> f64 {
    info.lines()
        .filter(|l| l.starts_with("db"))
        .filter_map(|l| l.split(',').find_map(|kv| kv.split_once("keys=").map(|(_, v)| v.trim().parse::<f64>().unwrap_or(0.0))))
        .fold(0.0, |a, b| a + b)
}

/// Renders every metric.
pub async fn render(sup: &Supervisor, events: &EventLog) -> String {
    let mut o = Out::default();
    let metrics = sup.metrics.lock().map(|m| m.clone()).unwrap_or_default();
    let mut cluster_ok: Option<bool> = None;
    let mut slots: Option<(f64, f64, f64)> = None;
    // Ask every running node at once: a scrape must not take 6 x a slow node.
    let mut set = tokio::task::JoinSet::new();
    for n in sup.nodes.iter().filter(|n| n.status().state == State::Running) {
        let (port, addr) = (n.spec.port, n.addr());
        set.spawn(async move {
            let Ok(mut c) = Conn::connect(addr, Duration::from_secs(1)).await else { return (port, None, None) };
            let info = c.text(&["INFO"]).await.ok();
            let ci = c.text(&["CLUSTER", "INFO"]).await.ok();
            (port, info, ci)
        });
    }
    let mut answers = std::collections::HashMap::new();
    while let Some(r) = set.join_next().await {
        if let Ok((port, info, ci)) = r {
            answers.insert(port, (info, ci));
        }
    }
    for n in &sup.nodes {
        let s = n.status();
        let l = format!("node=\"{}\",port=\"{}\"", s.name, s.port);
        o.add("slotd_node_up", "gauge", "1 when the node is RUNNING (answers PING)", &l, f64::from(u8::from(s.state == State::Running)));
        for st in ["STOPPED", "STARTING", "RUNNING", "BACKOFF", "STOPPING", "EXITED", "FATAL", "PAUSED"] {
            let v = f64::from(u8::from(s.state.to_string() == st));
            o.add("slotd_node_state", "gauge", "Supervision state of the node (1 for the current one)", &format!("{l},state=\"{st}\""), v);
        }
        o.add("slotd_node_restarts_total", "counter", "Automatic restarts since slotd started", &l, f64::from(s.restarts));
        if let Some((rss, cpu)) = s.pid.and_then(|p| metrics.get(&p).copied()) {
            o.add("slotd_node_rss_bytes", "gauge", "Resident memory of the node process", &l, rss as f64);
            o.add("slotd_node_cpu_percent", "gauge", "CPU use of the node process (percent of one core)", &l, f64::from(cpu));
        }
        if s.state != State::Running {
            continue;
        }
        let Some((info, ci)) = answers.remove(&s.port) else { continue };
        if let Some(info) = info {
            let master = info_field(&info, "role").as_deref() == Some("master");
            o.add(
                "slotd_node_is_master",
                "gauge",
                "1 for a master, 0 for a replica (INFO replication role)",
                &l,
                f64::from(u8::from(master)),
            );
            o.add("slotd_node_keys", "gauge", "Keys in all databases (INFO keyspace)", &l, keys(&info));
            for (name, field, help) in [
                ("slotd_node_ops_per_sec", "instantaneous_ops_per_sec", "Commands per second (INFO stats)"),
                ("slotd_node_connected_clients", "connected_clients", "Client connections (INFO clients)"),
                ("slotd_node_repl_offset", "master_repl_offset", "Replication offset (INFO replication)"),
            ] {
                if let Some(v) = num(&info, field) {
                    o.add(name, "gauge", help, &l, v);
                }
            }
            if !master {
                if let (Some(mine), Some(link)) = (num(&info, "slave_repl_offset"), info_field(&info, "master_link_status")) {
                    o.add(
                        "slotd_node_master_link_up",
                        "gauge",
                        "A replica's link to its master is up",
                        &l,
                        f64::from(u8::from(link == "up")),
                    );
                    o.add("slotd_node_repl_offset_replica", "gauge", "A replica's processed offset", &l, mine);
                }
                if let Some(v) = num(&info, "master_last_io_seconds_ago") {
                    o.add("slotd_node_repl_lag_seconds", "gauge", "Seconds since a replica last heard from its master", &l, v);
                }
            }
        }
        if let Some(ci) = ci {
            let ok = info_field(&ci, "cluster_state").as_deref() == Some("ok");
            o.add("slotd_node_cluster_state_ok", "gauge", "1 when this node reports cluster_state:ok", &l, f64::from(u8::from(ok)));
            cluster_ok = Some(cluster_ok.unwrap_or(true) && ok);
            if let (Some(a), Some(okv), Some(f)) =
                (num(&ci, "cluster_slots_assigned"), num(&ci, "cluster_slots_ok"), num(&ci, "cluster_slots_fail"))
            {
                slots.get_or_insert((a, okv, f));
            }
        }
    }
    if let Some(ok) = cluster_ok {
        o.add("slotd_cluster_state_ok", "gauge", "1 when every answering node reports cluster_state:ok", "", f64::from(u8::from(ok)));
    }
    if let Some((a, okv, f)) = slots {
        o.add("slotd_cluster_slots_assigned", "gauge", "Assigned slots (CLUSTER INFO of the first answering node)", "", a);
        o.add("slotd_cluster_slots_ok", "gauge", "Slots served by a healthy node", "", okv);
        o.add("slotd_cluster_slots_fail", "gauge", "Slots whose node is FAIL", "", f);
    }
    let running = sup.nodes.iter().filter(|n| n.status().state == State::Running).count();
    o.add("slotd_nodes_running", "gauge", "Nodes RUNNING", "", running as f64);
    o.add("slotd_nodes_total", "gauge", "Nodes configured", "", sup.nodes.len() as f64);
    let all = events.all();
    let failovers = all.iter().filter(|e| e.kind == EventKind::Failover).count();
    o.add("slotd_failovers_total", "counter", "Failovers seen in the event timeline", "", failovers as f64);
    o.add("slotd_events_total", "counter", "Events recorded in the timeline", "", events.total() as f64);
    o.render()
}

/// Why a text is not valid Prometheus exposition.
#[derive(Debug, thiserror::Error)]
#[error("line {line}: {why}: `{text}`")]
pub struct ParseError {
    pub line: usize,
    pub why: &'static str,
    pub text: String,
}

/// One parsed sample: name, labels, value.
pub type Sample = (String, BTreeMap<String, String>, f64);

/// A minimal parser of the text format: checks HELP/TYPE, names, labels and
/// values, and that every sample's family was declared; returns the samples.
///
/// # Errors
/// The first malformed line.
pub fn parse(text: &str) -> Result<Vec<Sample>, ParseError> {
    let mut declared = std::collections::HashSet::new();
    let mut out = Vec::new();
    let valid_name = |n: &str| {
        !n.is_empty()
            && n.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
            && !n.starts_with(|c: char| c.is_ascii_digit())
    };
    for (i, line) in text.lines().enumerate() {
        let err = |why| ParseError { line: i + 1, why, text: line.to_string() };
        if line.is_empty() {
            continue;
        }
        if let Some(rest) = line.strip_prefix("# ") {
            let mut p = rest.splitn(3, ' ');
            match (p.next(), p.next(), p.next()) {
                (Some("HELP"), Some(n), _) if valid_name(n) => {}
                (Some("TYPE"), Some(n), Some(t)) if valid_name(n) => {
                    if !["counter", "gauge", "histogram", "summary", "untyped"].contains(&t) {
                        return Err(err("unknown TYPE"));
                    }
                    declared.insert(n.to_string());
                }
                _ => return Err(err("bad comment line")),
            }
            continue;
        }
        let (head, value) = line.rsplit_once(' ').ok_or_else(|| err("no value"))?;
        let v: f64 = match value {
            "NaN" => f64::NAN,
            "+Inf" => f64::INFINITY,
            "-Inf" => f64::NEG_INFINITY,
            _ => value.parse().map_err(|_| err("bad value"))?,
        };
        let (name, labels) = match head.split_once('{') {
            Some((n, l)) => (n, l.strip_suffix('}').ok_or_else(|| err("unclosed labels"))?),
            None => (head, ""),
        };
        if !valid_name(name) {
            return Err(err("bad metric name"));
        }
        if !declared.contains(name) {
            return Err(err("sample without TYPE"));
        }
        let mut map = BTreeMap::new();
        if !labels.is_empty() {
            for kv in labels.split(',') {
                let (k, v) = kv.split_once('=').ok_or_else(|| err("label without ="))?;
                let v = v.strip_prefix('"').and_then(|v| v.strip_suffix('"')).ok_or_else(|| err("label value not quoted"))?;
                if !valid_name(k) {
                    return Err(err("bad label name"));
                }
                map.insert(k.to_string(), v.to_string());
            }
        }
        out.push((name.to_string(), map, v));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parser_accepts_and_rejects() {
        let good = "# HELP a_b x\n# TYPE a_b gauge\na_b{node=\"n\",port=\"1\"} 1\na_b 2.5\n";
        let s = parse(good).expect("valid");
        assert_eq!(s.len(), 2);
        assert_eq!(s[0].1.get("port").map(String::as_str), Some("1"));
        assert!(parse("a_b 1\n").is_err(), "no TYPE");
        assert!(parse("# TYPE a gauge\na{x=1} 1\n").is_err(), "unquoted label");
        assert!(parse("# TYPE a gauge\na one\n").is_err(), "bad value");
        assert_eq!(keys("db0:keys=5,expires=0,avg_ttl=0\r\ndb1:keys=2,expires=0\r\n"), 7.0);
    }
}
