//! Faults, the event timeline, metrics, checkpoints and the built-in lab
//! scenarios, against real builtin node processes on ephemeral ports.

use crate::util::{cluster_state, role_of, wait_for, Slotd, TestConfig};
use slotd::cluster_admin::Conn;
use slotd::events::{EventKind, EventsResponse};
use slotd::faults::FaultsResponse;
use slotd::supervise::state::State;
use slotd::topology;
use std::net::SocketAddr;
use std::time::Duration;

const LIMIT: Duration = Duration::from_secs(40);

fn addr(port: u16) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], port))
}

async fn formed() -> (Slotd, Vec<u16>) {
    let mut cfg = TestConfig::builtin(6);
    cfg.create = "auto";
    let s = Slotd::start(&cfg);
    wait_for(LIMIT, "cluster formed", || async {
        let st = s.status().await?;
        (st.cluster.formation.as_deref() == Some("formed") && st.cluster.state.as_deref() == Some("ok")).then_some(())
    })
    .await;
    let ports = s.ports.clone();
    (s, ports)
}

async fn view(ports: &[u16]) -> Vec<topology::NodeLine> {
    let addrs: Vec<SocketAddr> = ports.iter().map(|p| addr(*p)).collect();
    topology::merged_view(&addrs, Duration::from_millis(500)).await
}

async fn events(s: &Slotd) -> EventsResponse {
    s.events().await.expect("events")
}

/// Kinds of the events after `after`, for one node or any.
fn kinds(ev: &EventsResponse, after: u64) -> Vec<(EventKind, Option<String>)> {
    ev.events.iter().filter(|e| e.seq > after).map(|e| (e.kind, e.node.clone())).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn faults_timeline_metrics_checkpoints() {
    let (mut s, ports) = formed().await;
    let v = view(&ports).await;
    let master = topology::resolve("master-of-slot-0", &ports, &v).expect("master of 0");
    let heir = topology::resolve("replica-of-slot-0", &ports, &v).expect("replica of 0");
    let mname = format!("node{master}");
    let hname = format!("node{heir}");

    // kill -> FAIL -> failover -> writes served -> ok, then restart -> rejoins as replica.
    let mark = events(&s).await.total;
    let (code, _, err) = s.slotctl(&["kill", &master.to_string()]);
    assert_eq!(code, 0, "{err}");
    wait_for(LIMIT, "failover recorded with writes served", || async {
        let ev = events(&s).await;
        ev.events.iter().any(|e| e.seq > mark && e.kind == EventKind::WritesServed).then_some(())
    })
    .await;
    let (code, _, err) = s.slotctl(&["start", &master.to_string()]);
    assert_eq!(code, 0, "{err}");
    wait_for(LIMIT, "old master rejoins as replica", || async {
        let ev = events(&s).await;
        ev.events
            .iter()
            .any(|e| {
                e.seq > mark
                    && e.kind == EventKind::RoleChange
                    && e.node.as_deref() == Some(&mname)
                    && e.value.as_deref() == Some("replica")
            })
            .then_some(())
    })
    .await;
    let ev = events(&s).await;
    let seq = kinds(&ev, mark);
    let pos = |k: EventKind, n: Option<&str>| {
        seq.iter()
            .position(|(kk, nn)| *kk == k && (n.is_none() || nn.as_deref() == n))
            .unwrap_or_else(|| panic!("{k:?} {n:?} missing from {seq:?}"))
    };
    let order = [
        pos(EventKind::Exited, Some(&mname)),
        pos(EventKind::Fail, Some(&mname)),
        pos(EventKind::Failover, Some(&hname)),
        pos(EventKind::WritesServed, Some(&hname)),
        pos(EventKind::Started, Some(&mname)),
        pos(EventKind::RoleChange, Some(&mname)),
    ];
    assert!(order.windows(2).all(|w| w[0] < w[1]), "events out of order: {order:?} in {seq:?}");
    let sw = ev.failovers.last().expect("a stopwatch");
    assert_eq!(sw.old_master, mname);
    assert!(sw.total_ms.is_some_and(|t| t > 500 && t < 20_000), "stopwatch total: {sw:?}");
    let (code, out, _) = s.slotctl(&["events"]);
    assert_eq!(code, 0);
    assert!(out.contains("won the election") && out.contains("writes served"), "{out}");

    // Pause the new master: it is failed over to the old one (now its replica).
    wait_for(LIMIT, "cluster ok again", || async { (cluster_state(heir).await.as_deref() == Some("ok")).then_some(()) }).await;
    wait_for(LIMIT, "old master synced", || async { (role_of(master).await.as_deref() == Some("slave")).then_some(()) }).await;
    let (code, _, err) = s.slotctl(&["pause", &heir.to_string()]);
    assert_eq!(code, 0, "{err}");
    wait_for(LIMIT, "paused master failed over", || async { (role_of(master).await.as_deref() == Some("master")).then_some(()) }).await;
    let (code, _, err) = s.slotctl(&["resume", &heir.to_string()]);
    assert_eq!(code, 0, "{err}");
    wait_for(LIMIT, "paused master rejoins as replica", || async { (role_of(heir).await.as_deref() == Some("slave")).then_some(()) }).await;
    wait_for(LIMIT, "cluster ok after pause", || async {
        let mut ok = true;
        for p in &ports {
            ok &= cluster_state(*p).await.as_deref() == Some("ok");
        }
        ok.then_some(())
    })
    .await;

    // Partition the master of slot 0 alone: it stops accepting writes; heal restores ok.
    let v = view(&ports).await;
    let lonely = topology::resolve("master-of-slot-0", &ports, &v).expect("master of 0");
    let (code, out, err) = s.slotctl(&["partition", "master-of-slot-0"]);
    assert_eq!(code, 0, "{out}{err}");
    wait_for(LIMIT, "minority master refuses writes", || async {
        let mut c = Conn::connect(addr(lonely), Duration::from_millis(500)).await.ok()?;
        let key = topology::key_for_slot("p:", 0);
        match c.cmd(&["SET", &key, "x"]).await {
            Err(e) if e.to_string().contains("CLUSTERDOWN") => Some(()),
            _ => None,
        }
    })
    .await;
    let (code, _, err) = s.slotctl(&["heal"]);
    assert_eq!(code, 0, "{err}");
    wait_for(LIMIT, "ok on every node after heal", || async {
        let mut ok = true;
        for p in &ports {
            ok &= cluster_state(*p).await.as_deref() == Some("ok");
        }
        ok.then_some(())
    })
    .await;

    // Delay and drop are visible in the node's own fault status; --for heals by itself.
    let (code, _, err) = s.slotctl(&["delay", &ports[1].to_string(), "--ms", "150", "--jitter", "20", "--for", "4s"]);
    assert_eq!(code, 0, "{err}");
    let (code, _, err) = s.slotctl(&["drop", &ports[2].to_string(), "--rate", "0.5"]);
    assert_eq!(code, 0, "{err}");
    let f: FaultsResponse = s.client().get("/v1/faults").await.expect("faults");
    assert_eq!(f.active.len(), 2, "{f:?}");
    let st1 = f.nodes.get(&format!("node{}", ports[1])).cloned().unwrap_or_default();
    assert!(st1.contains("delay_ms:150") && st1.contains("jitter_ms:20"), "{st1}");
    assert!(f.nodes.get(&format!("node{}", ports[2])).is_some_and(|t| t.contains("drop_rate:0.5")), "{f:?}");
    wait_for(Duration::from_secs(15), "delay healed by --for", || async {
        let f: FaultsResponse = s.client().get("/v1/faults").await.ok()?;
        let st = f.nodes.get(&format!("node{}", ports[1]))?.clone();
        (f.active.len() == 1 && st.contains("delay_ms:0")).then_some(())
    })
    .await;
    let (code, _, _) = s.slotctl(&["heal"]);
    assert_eq!(code, 0);
    let (code, _, err) = s.slotctl(&["partition", "6380"]);
    assert_ne!(code, 0);
    assert!(err.contains("unknown node"), "{err}");
    // The token is on the command line, never in the shared conf.
    let conf = std::fs::read_to_string(s.data_dir.join(format!("conf/node{}.conf", ports[0]))).expect("conf");
    assert!(!conf.contains("admin-token"), "{conf}");
    let mut c = Conn::connect(addr(ports[0]), Duration::from_secs(1)).await.expect("conn");
    let e = c.cmd(&["SLOTD.FAULT", "guess", "HEAL"]).await.expect_err("wrong token refused");
    assert!(e.to_string().contains("NOPERM"), "{e}");

    // /metrics parses as Prometheus text and says what it should.
    let text = reqwest::get(format!("http://{}/metrics", s.api)).await.expect("metrics").text().await.expect("text");
    let samples = slotd::metrics::parse(&text).unwrap_or_else(|e| panic!("{e}\n{text}"));
    let get = |name: &str| samples.iter().filter(|(n, _, _)| n == name).map(|(_, _, v)| *v).collect::<Vec<f64>>();
    assert_eq!(get("slotd_node_up").iter().sum::<f64>(), 6.0, "{text}");
    assert!(get("slotd_failovers_total").first().is_some_and(|v| *v >= 2.0), "{text}");
    assert_eq!(get("slotd_cluster_slots_ok"), vec![16384.0], "{text}");
    assert!(get("slotd_node_keys").len() == 6 && !get("slotd_node_repl_offset").is_empty(), "{text}");

    // SSE stream: the backlog arrives as `data:` lines.
    let mut resp = reqwest::get(format!("http://{}/v1/events/stream?after=0", s.api)).await.expect("stream");
    assert!(resp.headers().get("content-type").is_some_and(|v| v.to_str().unwrap_or("").starts_with("text/event-stream")));
    let chunk =
        tokio::time::timeout(Duration::from_secs(5), resp.chunk()).await.expect("first chunk in time").expect("chunk").expect("data");
    assert!(String::from_utf8_lossy(&chunk).contains("data:"), "{chunk:?}");
    drop(resp);

    // Checkpoint, change data, restore: the data comes back.
    let mut cl = slotd::lab::client::ClusterClient::new(addr(ports[0]).ip(), ports.clone());
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    cl.set("cp-key", "before", None, deadline).await.expect("set");
    let (code, out, err) = s.slotctl(&["lab", "checkpoint", "t1"]);
    assert_eq!(code, 0, "{out}{err}");
    cl.set("cp-key", "after", None, deadline).await.expect("set");
    let (code, out, err) = s.slotctl(&["lab", "restore", "t1"]);
    assert_eq!(code, 0, "{out}{err}");
    wait_for(LIMIT, "restored value", || async {
        let mut cl = slotd::lab::client::ClusterClient::new(addr(ports[0]).ip(), ports.clone());
        let v = cl.get("cp-key", tokio::time::Instant::now() + Duration::from_millis(500)).await.ok()??;
        (v == "before").then_some(())
    })
    .await;

    // Events survive a slotd restart (kill -9; the nodes are adopted).
    let before = events(&s).await.total;
    s.kill9();
    s.spawn();
    wait_for(LIMIT, "adopted after restart", || async {
        let ev = s.client().get::<EventsResponse>("/v1/events").await.ok()?;
        let adopted = ev.events.iter().filter(|e| e.kind == EventKind::Adopted).count();
        (ev.events.first().map(|e| e.seq) == Some(1) && ev.total > before && adopted == 6).then_some(())
    })
    .await;
    let _ = s.client().post::<serde_json::Value>("/v1/shutdown", None).await;
    assert!(s.wait_exit(Duration::from_secs(30)).await.is_some());
    let _ = State::Running;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_builtin_scenario_passes() {
    let opts = slotd::lab::runner::RunOptions {
        slotd_bin: crate::util::slotd_bin().into(),
        engine: "builtin".into(),
        // The scenarios' own 2000 ms: short, yet no false PFAIL on a busy 2-core CI box.
        node_timeout_ms: None,
        keep: false,
        live: None,
    };
    let mut failed = Vec::new();
    for sc in slotd::lab::scenario::all(None).expect("scenarios") {
        for o in slotd::lab::runner::run(&sc, &opts).await {
            let report = slotd::lab::report(&o);
            eprintln!("{report}");
            if !o.passed() {
                failed.push(report);
            }
        }
    }
    assert!(failed.is_empty(), "scenarios failed:\n{}", failed.join("\n"));
}
