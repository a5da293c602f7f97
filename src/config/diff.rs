//! What changed between two configs, one line per key, for reload logs.

use super::Config;
use std::collections::BTreeMap;

impl Config {
    /// Human-readable differences to `newer`, one line per changed key.
    pub fn diff(&self, newer: &Config) -> Vec<String> {
        let a = flatten(&serde_json::to_value(self).unwrap_or_default());
        let b = flatten(&serde_json::to_value(newer).unwrap_or_default());
        let mut out = Vec::new();
        for (k, v) in &a {
            match b.get(k) {
                None => out.push(format!("{k}: {v} -> (removed)")),
                Some(nv) if nv != v => out.push(format!("{k}: {v} -> {nv}")),
                _ => {}
            }
        }
        for (k, v) in &b {
            if !a.contains_key(k) {
                out.push(format!("{k}: (none) -> {v}"));
            }
        }
        if self.supervisor.api_token != newer.supervisor.api_token {
            out.push("supervisor.api_token: changed".into());
        }
        out
    }
}

fn flatten(v: &serde_json::Value) -> BTreeMap<String, String> {
    fn walk(prefix: String, v: &serde_json::Value, out: &mut BTreeMap<String, String>) {
        match v {
            serde_json::Value::Object(m) => {
                for (k, v) in m {
                    let p = if prefix.is_empty() { k.clone() } else { format!("{prefix}.{k}") };
                    walk(p, v, out);
                }
            }
            serde_json::Value::Array(items) if items.iter().all(|i| i.is_object()) && !items.is_empty() => {
                for (i, item) in items.iter().enumerate() {
                    walk(format!("{prefix}[{i}]"), item, out);
                }
            }
            other => {
                out.insert(prefix, other.to_string());
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(String::new(), v, &mut out);
    out
}
