//! Conditions of `wait` and `expect` steps: describing them and judging them
//! against the cluster as its nodes report it.

use super::*;

impl Run<'_> {
    pub(super) fn skip_variant(&self, c: &Cond) -> bool {
        match (&c.variant, self.variant) {
            (Some(want), Some(v)) => want != &v.name,
            (Some(_), None) => true,
            _ => false,
        }
    }

    pub(super) fn describe(&self, c: &Cond) -> String {
        let mut parts = Vec::new();
        let on = c.node.clone().unwrap_or_else(|| "every running node".into());
        if let Some(s) = &c.cluster_state {
            parts.push(format!("cluster_state {s} on {on}"));
        }
        if let Some(r) = &c.role {
            parts.push(format!("{on} is {r}"));
        }
        if let Some(m) = &c.replica_of {
            parts.push(format!("{on} replicates {m}"));
        }
        if let Some(s) = &c.state {
            parts.push(format!("{on} is {s}"));
        }
        if let Some(l) = c.lost {
            parts.push(format!("keys lost = {l}"));
        }
        if let Some(l) = c.lost_min {
            parts.push(format!("keys lost >= {l}"));
        }
        if let Some(l) = c.lost_max {
            parts.push(format!("keys lost <= {l}"));
        }
        if let Some(a) = c.acked_min {
            parts.push(format!("acknowledged writes >= {a}"));
        }
        if let (Some(slot), Some(w)) = (c.slot, c.writable) {
            parts.push(format!("slot {slot} {}", if w { "accepts writes" } else { "refuses writes" }));
        }
        if let Some(e) = &c.write_error {
            parts.push(format!("a write on slot {} fails with {e}", c.slot.unwrap_or(0)));
        }
        if let (Some(slot), Some(o)) = (c.slot, &c.slot_owner) {
            parts.push(format!("slot {slot} is served by {o}"));
        }
        parts.join(" and ")
    }

    /// Whether every part of the condition holds now, and what was seen.
    pub(super) async fn eval(&self, c: &Cond) -> (bool, String) {
        let mut seen = Vec::new();
        let mut ok = true;
        let status = self.status().await.ok();
        let node = match &c.node {
            Some(sel) => match self.resolve(sel).await {
                Ok(p) => Some(p),
                Err(e) => return (false, e.to_string()),
            },
            None => None,
        };
        let nv = |p: u16| status.as_ref().and_then(|s| s.nodes.iter().find(|n| n.port == p).cloned());
        if let Some(want) = &c.cluster_state {
            let states: Vec<(u16, Option<String>)> = match (node, &status) {
                (Some(p), _) => vec![(p, nv(p).and_then(|n| n.cluster_state))],
                (None, Some(s)) => s
                    .nodes
                    .iter()
                    .filter(|n| n.state == crate::supervise::state::State::Running)
                    .map(|n| (n.port, n.cluster_state.clone()))
                    .collect(),
                (None, None) => vec![],
            };
            let good = !states.is_empty() && states.iter().all(|(_, s)| s.as_deref() == Some(want.as_str()));
            ok &= good;
            seen.push(format!(
                "cluster_state {}",
                states.iter().map(|(p, s)| format!("{p}={}", s.as_deref().unwrap_or("?"))).collect::<Vec<_>>().join(" ")
            ));
        }
        if let Some(p) = node {
            let n = nv(p);
            if let Some(want) = &c.role {
                let r = n.as_ref().and_then(role_name);
                ok &= r == Some(want.as_str());
                seen.push(format!("{} role {}", self.name(p), r.unwrap_or("?")));
            }
            if let Some(m) = &c.replica_of {
                let want = self.resolve(m).await.ok();
                let got = n.as_ref().and_then(|n| if role_name(n) == Some("replica") { n.master_port } else { None });
                ok &= want.is_some() && got == want;
                seen.push(format!("{} replicates {}", self.name(p), got.map(|g| self.name(g)).unwrap_or_else(|| "nothing".into())));
            }
            if let Some(want) = &c.state {
                let s = n.as_ref().map(|n| n.state.to_string()).unwrap_or_default();
                ok &= s.eq_ignore_ascii_case(want);
                seen.push(format!("{} is {s}", self.name(p)));
            }
        }
        if let Some(l) = c.lost {
            ok &= self.lost == Some(l);
            seen.push(format!("lost {}", self.lost.map(|v| v.to_string()).unwrap_or_else(|| "not measured (no read step)".into())));
        }
        if let Some(l) = c.lost_min {
            ok &= self.lost.is_some_and(|v| v >= l);
            seen.push(format!("lost {:?}", self.lost));
        }
        if let Some(l) = c.lost_max {
            ok &= self.lost.is_some_and(|v| v <= l);
            seen.push(format!("lost {:?}", self.lost));
        }
        if let Some(a) = c.acked_min {
            ok &= self.acked.len() as u64 >= a;
            seen.push(format!("{} acknowledged", self.acked.len()));
        }
        if let Some(slot) = c.slot {
            if c.writable.is_some() || c.write_error.is_some() {
                let mut cl = ClusterClient::new(self.host, self.ports.clone());
                // A write that changes nothing: checking a condition never adds a key.
                let probe = topology::null_write(slot);
                let args: Vec<&str> = probe.iter().map(String::as_str).collect();
                let r = match cl.keyed(&probe[1], &args, Instant::now() + Duration::from_millis(300)).await {
                    Err(e) if e.server_reply().is_some_and(topology::null_write_served) => Ok(()),
                    other => other.map(|_| ()),
                };
                if let Some(w) = c.writable {
                    ok &= r.is_ok() == w;
                }
                if let Some(want) = &c.write_error {
                    ok &= r.as_ref().err().is_some_and(|e| e.to_string().contains(want.as_str()));
                }
                seen.push(match r {
                    Ok(()) => format!("write on slot {slot} accepted"),
                    Err(e) => format!("write on slot {slot}: {e}"),
                });
            }
            if let Some(o) = &c.slot_owner {
                let want = self.resolve(o).await.ok();
                let view = self.view().await;
                let got = view.iter().filter(|n| n.is_master()).find(|n| n.owns(slot)).map(|n| n.port());
                ok &= want.is_some() && got == want;
                seen.push(format!("slot {slot} on {}", got.map(|g| self.name(g)).unwrap_or_else(|| "nobody".into())));
            }
        }
        (ok, seen.join(", "))
    }
}

pub(super) fn short(r: &crate::cluster_admin::Resp) -> String {
    let t = match r {
        crate::cluster_admin::Resp::Int(i) => i.to_string(),
        crate::cluster_admin::Resp::Array(Some(a)) => format!("({} items)", a.len()),
        other => other.text().unwrap_or_else(|| format!("{other:?}")),
    };
    t.lines().next().unwrap_or("").chars().take(80).collect()
}
