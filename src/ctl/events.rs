//! slotctl: faults (partition / delay / drop / heal) and the event timeline.

use super::client::{Client, CtlError};
use super::{fail, print_json};
use crate::api::types::{DelayRequest, DropRequest, PartitionRequest};
use crate::events::{self, stopwatch, EventsResponse};
use crate::faults::{parse_duration_ms, FaultsResponse};
use std::time::Duration;

fn print_faults(r: &FaultsResponse, json: bool) {
    if json {
        print_json(r);
        return;
    }
    if r.active.is_empty() {
        println!("no active faults");
    }
    for f in &r.active {
        let until = f.until_ms.map(|u| format!(" (heals by itself in {} s)", u.saturating_sub(f.since_ms) / 1000)).unwrap_or_default();
        println!("fault {}: {}{until}", f.id, f.description);
    }
    for (node, status) in &r.nodes {
        println!("  {node}: {status}");
    }
    if let Some(n) = &r.note {
        println!("note: {n}");
    }
}

fn for_ms(d: &Option<String>) -> Result<Option<u64>, i32> {
    match d {
        None => Ok(None),
        Some(s) => parse_duration_ms(s).map(Some).map_err(|e| {
            super::complain(format_args!("--for: {e}"));
            2
        }),
    }
}

/// `slotctl partition A,B / C,D [--for D]`: groups are split on `/`.
pub async fn partition(client: &Client, spec: &[String], dur: &Option<String>, json: bool) -> i32 {
    let for_ms = match for_ms(dur) {
        Ok(v) => v,
        Err(c) => return c,
    };
    let joined = spec.join(" ");
    let groups: Vec<Vec<String>> = joined
        .split('/')
        .map(|g| g.split([',', ' ']).map(str::trim).filter(|s| !s.is_empty()).map(String::from).collect::<Vec<_>>())
        .filter(|g| !g.is_empty())
        .collect();
    if groups.is_empty() {
        super::complain(format_args!(
            "give the groups, e.g. `slotctl partition 6380,6383 / 6381,6382,6384,6385` or `slotctl partition master-of-slot-0`"
        ));
        return 2;
    }
    let body = super::wire(&PartitionRequest { groups, for_ms });
    match client.post::<FaultsResponse>("/v1/faults/partition", body).await {
        Ok(r) => {
            print_faults(&r, json);
            0
        }
        Err(e) => fail(e),
    }
}

/// `slotctl delay NODE --ms N [--jitter N] [--for D]`.
pub async fn delay(client: &Client, node: &str, ms: u64, jitter: u64, dur: &Option<String>, json: bool) -> i32 {
    let for_ms = match for_ms(dur) {
        Ok(v) => v,
        Err(c) => return c,
    };
    let body = super::wire(&DelayRequest { node: node.to_string(), ms, jitter_ms: jitter, for_ms });
    match client.post::<FaultsResponse>("/v1/faults/delay", body).await {
        Ok(r) => {
            print_faults(&r, json);
            0
        }
        Err(e) => fail(e),
    }
}

/// `slotctl drop NODE --rate P [--for D]`.
pub async fn drop_frames(client: &Client, node: &str, rate: f64, dur: &Option<String>, json: bool) -> i32 {
    let for_ms = match for_ms(dur) {
        Ok(v) => v,
        Err(c) => return c,
    };
    let body = super::wire(&DropRequest { node: node.to_string(), rate, for_ms });
    match client.post::<FaultsResponse>("/v1/faults/drop", body).await {
        Ok(r) => {
            print_faults(&r, json);
            0
        }
        Err(e) => fail(e),
    }
}

/// `slotctl heal` / `slotctl faults`.
pub async fn heal_or_list(client: &Client, heal: bool, json: bool) -> i32 {
    let r = if heal { client.post::<FaultsResponse>("/v1/faults/heal", None).await } else { client.get("/v1/faults").await };
    match r {
        Ok(r) => {
            if heal && !json {
                println!("healed");
            }
            print_faults(&r, json);
            0
        }
        Err(e) => fail(e),
    }
}

/// `slotctl events [-f]`: times relative to the first event, then the
/// failover stopwatches; `-f` keeps printing new events.
pub async fn events(client: &Client, follow: bool, json: bool) -> i32 {
    let r: EventsResponse = match client.get("/v1/events").await {
        Ok(r) => r,
        Err(e) => return fail(e),
    };
    if json && !follow {
        print_json(&r);
        return 0;
    }
    let t0 = r.events.first().map(|e| e.ts_ms).unwrap_or(0);
    if json {
        for e in &r.events {
            println!("{}", serde_json::to_string(e).unwrap_or_default());
        }
    } else {
        print!("{}", events::render(&r.events, t0));
        if !follow {
            for sw in &r.failovers {
                print!("\n{}", stopwatch::render(sw));
            }
        }
    }
    if !follow {
        return 0;
    }
    let mut last = r.events.last().map(|e| e.seq).unwrap_or(0);
    let mut t0 = if t0 == 0 { None } else { Some(t0) };
    loop {
        tokio::time::sleep(Duration::from_millis(250)).await;
        match client.get::<EventsResponse>(&format!("/v1/events?after={last}")).await {
            Ok(r) => {
                for e in &r.events {
                    let base = *t0.get_or_insert(e.ts_ms);
                    if json {
                        println!("{}", serde_json::to_string(e).unwrap_or_default());
                    } else {
                        print!("{}", events::render(std::slice::from_ref(e), base));
                        if e.kind == events::EventKind::WritesServed {
                            if let Some(sw) = r.failovers.iter().rev().find(|s| Some(&s.new_master) == e.node.as_ref()) {
                                print!("{}", stopwatch::render(sw));
                            }
                        }
                    }
                    last = e.seq;
                }
                use std::io::Write;
                let _ = std::io::stdout().flush();
            }
            Err(e @ CtlError::Unreachable { .. }) => return fail(e),
            Err(e) => return fail(e),
        }
    }
}
