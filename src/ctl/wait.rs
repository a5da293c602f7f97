//! `slotctl wait [--timeout 30s]`: returns once the cluster is formed, ok and
//! every replica is in sync (exit 0), or says what is still missing when the
//! deadline passes (exit 1). Made for CI, like `docker compose up --wait`: it
//! may run before slotd has opened its API, which then counts as waiting.

use super::client::{Client, CtlError};
use super::{complain, print_json};
use crate::api::types::StatusResponse;
use std::time::{Duration, Instant};

/// Polls `/v1/status` until the cluster is in sync or `timeout` passes.
pub async fn run(api: &str, token: Option<String>, timeout: &str, json: bool) -> i32 {
    let limit = match crate::faults::parse_duration_ms(timeout) {
        Ok(ms) => Duration::from_millis(ms),
        Err(e) => {
            complain(format_args!("--timeout: {e}"));
            return 2;
        }
    };
    let started = Instant::now();
    let deadline = started + limit;
    let client = Client::new(api, token, Duration::from_secs(5));
    let mut last: Result<StatusResponse, CtlError>;
    loop {
        last = client.get::<StatusResponse>("/v1/status").await;
        match &last {
            Ok(s) if s.cluster.readiness.in_sync => {
                if json {
                    print_json(s);
                } else {
                    println!(
                        "cluster ready after {:.1}s: {} nodes running, cluster_state:ok, every replica in sync",
                        started.elapsed().as_secs_f64(),
                        s.cluster.nodes_total
                    );
                }
                return 0;
            }
            // Bad token or wrong address: waiting cannot help.
            Err(CtlError::Api { status: 401 | 403 | 404, .. }) => break,
            _ => {}
        }
        if Instant::now() >= deadline {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200).min(deadline.saturating_duration_since(Instant::now()))).await;
    }
    match last {
        Ok(s) => {
            if json {
                print_json(&s);
            }
            complain(format_args!("cluster not ready after {timeout}; still waiting for:"));
            for w in &s.cluster.readiness.waiting_for {
                eprintln!("  - {w}");
            }
        }
        Err(e) => complain(format_args!("cluster not ready after {timeout}: {e}")),
    }
    1
}
