//! One cluster across three "hosts": three network namespaces joined by veth
//! pairs to a bridge, one slotd per namespace, all reading the same TOML.
//! The cluster forms with no master and its replica on one host, a client in
//! the root namespace follows MOVED across hosts, any slotd reports all six
//! nodes, isolating the host of slot 0's master fails it over to a replica
//! on another host, healing brings the old master back as a replica, and no
//! write acknowledged by WAIT 1 is lost. On builtin nodes and redis-server.
//!
//! Needs root (namespaces, nftables); skipped with a message otherwise, a
//! failure when SLOTD_REQUIRE_NETNS=1 (CI).

use crate::util::*;
use redis::Commands;
use slotd::api::types::StatusResponse;
use slotd::ctl::client::Client;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

const TOKEN: &str = "multihost-test-token-0123";
const PASSWORD: &str = "multihost-test-pass-0123";
const API_PORT: u16 = 16300;

fn run(args: &[&str]) -> Result<(), String> {
    let out = Command::new(args[0]).args(&args[1..]).output().map_err(|e| format!("{}: {e}", args.join(" ")))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!("{}: {}", args.join(" "), String::from_utf8_lossy(&out.stderr).trim()))
    }
}

/// Three namespaces on a bridge; removed on drop.
struct Net {
    tag: String,
    subnet: u8,
}

impl Net {
    fn ns(&self, i: usize) -> String {
        format!("sd{}h{i}", self.tag)
    }
    fn addr(&self, i: usize) -> String {
        format!("10.231.{}.{i}", self.subnet)
    }
    fn bridge(&self) -> String {
        format!("sdbr{}", self.tag)
    }

    fn create() -> Result<Net, String> {
        let tag = format!("{:04x}", std::process::id() as u16 ^ rand_u16());
        let net = Net { tag, subnet: (rand_u16() % 200 + 20) as u8 };
        let br = net.bridge();
        run(&["ip", "link", "add", &br, "type", "bridge"])?;
        run(&["ip", "addr", "add", &format!("10.231.{}.254/24", net.subnet), "dev", &br])?;
        run(&["ip", "link", "set", &br, "up"])?;
        for i in 1..=3 {
            let ns = net.ns(i);
            let (outer, inner) = (format!("sdv{}{i}", net.tag), format!("sdi{}{i}", net.tag));
            run(&["ip", "netns", "add", &ns])?;
            run(&["ip", "link", "add", &outer, "type", "veth", "peer", "name", &inner])?;
            run(&["ip", "link", "set", &inner, "netns", &ns])?;
            run(&["ip", "link", "set", &outer, "master", &br, "up"])?;
            run(&["ip", "netns", "exec", &ns, "ip", "addr", "add", &format!("{}/24", net.addr(i)), "dev", &inner])?;
            run(&["ip", "netns", "exec", &ns, "ip", "link", "set", &inner, "up"])?;
            run(&["ip", "netns", "exec", &ns, "ip", "link", "set", "lo", "up"])?;
        }
        Ok(net)
    }
}

impl Drop for Net {
    fn drop(&mut self) {
        for i in 1..=3 {
            let _ = run(&["ip", "netns", "del", &self.ns(i)]);
        }
        let _ = run(&["ip", "link", "del", &self.bridge()]);
    }
}

fn rand_u16() -> u16 {
    let t = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.subsec_nanos()).unwrap_or(0);
    (t ^ (t >> 16)) as u16
}

/// Namespaces can be made here (root, iproute2); otherwise skip or fail.
fn netns_available() -> bool {
    let probe = format!("sdprobe{}", std::process::id() % 10000);
    let ok = run(&["ip", "netns", "add", &probe]).is_ok() && run(&["ip", "netns", "del", &probe]).is_ok();
    if !ok {
        assert!(
            std::env::var("SLOTD_REQUIRE_NETNS").as_deref() != Ok("1"),
            "SLOTD_REQUIRE_NETNS=1 but network namespaces cannot be created (root and iproute2 needed)"
        );
        eprintln!("skipping: network namespaces not available (run as root; SLOTD_REQUIRE_NETNS=1 makes this a failure)");
    }
    ok
}

fn config(net: &Net, engine: &str) -> String {
    let mut hosts = String::new();
    for i in 1..=3 {
        let p = 17000 + (i as u16 - 1) * 2;
        hosts.push_str(&format!(
            "\n[[hosts]]\nname = \"h{i}\"\naddress = \"{a}\"\napi = \"{a}:{API_PORT}\"\nports = [{p}, {}]\nannounce_hostname = \"h{i}.lab\"\n",
            p + 1,
            a = net.addr(i)
        ));
    }
    format!(
        "[supervisor]\napi_token = \"{TOKEN}\"\ndata_dir = \"data\"\n\n[engine]\nkind = \"{engine}\"\n\n[cluster]\nreplicas = 1\nnode_timeout_ms = 2000\npassword = \"{PASSWORD}\"\n\n[persistence]\nsave = []\n\n[restart]\nbackoff_ms = 200\nstart_timeout_ms = 20000\nstop_timeout_ms = 5000\n{hosts}"
    )
}

/// One slotd per namespace, all from the same TOML text.
struct Slotds {
    children: Vec<Child>,
    dirs: Vec<PathBuf>,
    _root: tempfile::TempDir,
}

impl Slotds {
    fn start(net: &Net, text: &str, env: &[(&str, &str)]) -> Slotds {
        let root = tempfile::tempdir().expect("tempdir");
        let mut children = Vec::new();
        let mut dirs = Vec::new();
        for i in 1..=3 {
            let dir = root.path().join(format!("h{i}"));
            std::fs::create_dir_all(&dir).expect("host dir");
            std::fs::write(dir.join("slotd.toml"), text).expect("config");
            let log = std::fs::File::create(dir.join("slotd.log")).expect("log");
            let mut cmd = Command::new("ip");
            cmd.args(["netns", "exec", &net.ns(i), slotd_bin(), "--config", "slotd.toml"]);
            // h1 is named; h2 and h3 find themselves by their local address.
            if i == 1 {
                cmd.args(["--host", "h1"]);
            }
            let child = cmd
                .current_dir(&dir)
                .env("SLOTD_LOG", "info")
                .envs(env.iter().copied())
                .stdin(Stdio::null())
                .stdout(Stdio::from(log.try_clone().expect("log")))
                .stderr(Stdio::from(log))
                .spawn()
                .expect("start slotd in its namespace");
            children.push(child);
            dirs.push(dir);
        }
        Slotds { children, dirs, _root: root }
    }

    fn logs(&self) -> String {
        self.dirs
            .iter()
            .enumerate()
            .map(|(i, d)| format!("--- h{} ---\n{}", i + 1, std::fs::read_to_string(d.join("slotd.log")).unwrap_or_default()))
            .collect::<Vec<_>>()
            .join("\n")
    }
}

impl Drop for Slotds {
    fn drop(&mut self) {
        // SIGTERM: each slotd stops its nodes and exits.
        for c in &self.children {
            let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(c.id() as i32), nix::sys::signal::Signal::SIGTERM);
        }
        let deadline = std::time::Instant::now() + Duration::from_secs(20);
        for c in &mut self.children {
            while std::time::Instant::now() < deadline {
                if let Ok(Some(_)) = c.try_wait() {
                    break;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            let _ = c.kill();
            let _ = c.wait();
        }
        for d in &self.dirs {
            let pids = std::fs::read_dir(d.join("data/run"))
                .into_iter()
                .flatten()
                .flatten()
                .filter_map(|e| std::fs::read_to_string(e.path()).ok().and_then(|t| t.trim().parse::<i32>().ok()));
            for pid in pids {
                let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), nix::sys::signal::Signal::SIGKILL);
            }
        }
    }
}

fn api(net: &Net, i: usize) -> Client {
    Client::new(&format!("{}:{API_PORT}", net.addr(i)), Some(TOKEN.to_string()), Duration::from_secs(60))
}

fn slotctl(net: &Net, i: usize, args: &[&str]) -> (i32, String, String) {
    let out = Command::new(slotctl_bin())
        .args(["--api", &format!("{}:{API_PORT}", net.addr(i)), "--token", TOKEN])
        .args(args)
        .output()
        .expect("run slotctl");
    (out.status.code().unwrap_or(-1), String::from_utf8_lossy(&out.stdout).into_owned(), String::from_utf8_lossy(&out.stderr).into_owned())
}

fn conn(addr: &str) -> Option<redis::Connection> {
    redis::Client::open(format!("redis://:{PASSWORD}@{addr}/")).ok()?.get_connection_with_timeout(Duration::from_secs(1)).ok()
}

/// The address serving `slot`, as a node sees the slot map.
fn owner_of(seed: &str, slot: u16) -> Option<String> {
    let mut c = conn(seed)?;
    let slots: Vec<Vec<redis::Value>> = redis::cmd("CLUSTER").arg("SLOTS").query(&mut c).ok()?;
    let int = |v: &redis::Value| match v {
        redis::Value::Int(i) => Some(*i),
        _ => None,
    };
    let entry = slots
        .into_iter()
        .find(|e| matches!((e.first().and_then(int), e.get(1).and_then(int)), (Some(a), Some(b)) if (a..=b).contains(&i64::from(slot))))?;
    match entry.get(2)? {
        redis::Value::Array(parts) => match (parts.first()?, parts.get(1)?) {
            (redis::Value::BulkString(ip), redis::Value::Int(port)) => Some(format!("{}:{port}", String::from_utf8_lossy(ip))),
            _ => None,
        },
        _ => None,
    }
}

/// SET then WAIT 1 on the key's master: Some(true) when a replica acknowledged.
fn acked_write(seed: &str, key: &str, val: &str) -> Option<bool> {
    let mut c = conn(seed)?;
    let slot: u16 = redis::cmd("CLUSTER").arg("KEYSLOT").arg(key).query(&mut c).ok()?;
    let master = owner_of(seed, slot)?;
    let mut m = conn(&master)?;
    m.set::<_, _, ()>(key, val).ok()?;
    let n: i64 = redis::cmd("WAIT").arg(1).arg(1000).query(&mut m).ok()?;
    Some(n >= 1)
}

fn by_name(st: &StatusResponse) -> BTreeMap<String, slotd::api::types::NodeView> {
    st.nodes.iter().map(|n| (n.name.clone(), n.clone())).collect()
}

async fn dashboard_shows_every_host(net: &Net) {
    let Some(exe) = crate::dashboard::chromium() else {
        assert!(std::env::var("SLOTD_REQUIRE_REDIS").as_deref() != Ok("1"), "chromium is required (SLOTD_REQUIRE_REDIS=1)");
        return;
    };
    let (code, url, err) = slotctl(net, 1, &["dashboard", "--no-open"]);
    assert_eq!(code, 0, "{err}");
    let url = url.trim().to_string();
    assert!(url.contains("#token="), "the link carries the token: {url}");
    let (_profile, mut browser, driver) = crate::dashboard::launch(&exe).await;
    let page = browser.new_page("about:blank").await.expect("page");
    page.goto(url).await.expect("open h1's dashboard");
    let js = |code: &'static str| {
        let page = &page;
        async move { crate::dashboard::js(page, code).await }
    };
    wait_for(Duration::from_secs(20), "three host pills and six live nodes", || async {
        let hosts = js("document.querySelectorAll('#hosts .pill[data-up=\"true\"]').length").await.as_u64()?;
        let nodes = js("document.querySelectorAll('.node[data-up=\"true\"] .host-name').length").await.as_u64()?;
        let owners = js("document.getElementById('strip').dataset.owners || ''").await;
        (hosts == 3 && nodes == 6 && owners == serde_json::json!("3")).then_some(())
    })
    .await;
    // The timeline is every host's: h2's and h3's own records (their nodes'
    // starts, shown with supervision events) show up on h1's page.
    js("document.getElementById('tl-noise').click()").await;
    wait_for(Duration::from_secs(15), "other hosts' events on h1's page", || async {
        let text = js("Array.from(document.querySelectorAll('#events li')).map(l => l.textContent).join('\\n')").await;
        let t = text.as_str()?.to_string();
        (t.contains("@h2") && t.contains("@h3")).then_some(())
    })
    .await;
    // The token left the address bar for the page's cookie.
    assert_eq!(js("location.hash").await, serde_json::json!(""));
    let _ = browser.close().await;
    let _ = browser.wait().await;
    driver.abort();
}

/// `isolation`: how `slotctl isolate` cuts the host ("bus hook" or "nftables").
async fn scenario(engine: &str, isolation: &str) {
    let net = Net::create().unwrap_or_else(|e| panic!("cannot build the test network: {e}"));
    let forced = if isolation == "bus hook" { "bus" } else { "nftables" };
    let slotds = Slotds::start(&net, &config(&net, engine), &[("SLOTD_ISOLATION", forced)]);
    let what = || format!("logs:\n{}", slotds.logs());

    // Any slotd answers for all six; the first host formed the cluster.
    let st = wait_for(Duration::from_secs(120), "six nodes across three hosts, cluster ready", || async {
        let st: StatusResponse = api(&net, 2).get("/v1/status").await.ok()?;
        (st.nodes.len() == 6 && st.cluster.readiness.in_sync && st.hosts.iter().all(|h| h.reachable)).then_some(st)
    })
    .await;
    assert_eq!(st.local_host.as_deref(), Some("h2"), "h2 found itself by its address");
    let nodes = by_name(&st);
    let masters: Vec<_> = nodes.values().filter(|n| n.role.as_deref() == Some("master")).collect();
    assert_eq!(masters.len(), 3, "{}", what());
    let master_hosts: std::collections::BTreeSet<_> = masters.iter().map(|m| m.host_name.clone()).collect();
    assert_eq!(master_hosts.len(), 3, "one master per host: {masters:?}");
    for r in nodes.values().filter(|n| n.role.as_deref() == Some("slave")) {
        let m = nodes.values().find(|m| Some(m.port) == r.master_port).expect("replica's master");
        assert_ne!(r.host_name, m.host_name, "{} replicates {} on the same host", r.name, m.name);
    }
    // slotctl on another host tells the same truth, and the plan matches.
    let (code, out, err) = slotctl(&net, 3, &["status"]);
    assert_eq!(code, 0, "slotctl status on h3: {out}{err}");
    for n in nodes.keys() {
        assert!(out.contains(n.as_str()), "h3's status lists {n}: {out}");
    }
    let (code, plan, err) = slotctl(&net, 1, &["create", "--dry-run"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(plan.matches("master ").count(), 3, "{plan}");
    assert!(!plan.contains("warning"), "{plan}");

    // Every node announces its host's name (CLUSTER NODES ip:port@cport,hostname).
    wait_for(Duration::from_secs(10), "hostnames gossiped", || async {
        let mut c = conn(&format!("{}:17000", net.addr(1)))?;
        let text: String = redis::cmd("CLUSTER").arg("NODES").query(&mut c).ok()?;
        (1..=3).all(|i| text.contains(&format!(",h{i}.lab "))).then_some(())
    })
    .await;

    // The dashboard of h1, opened with the link `slotctl dashboard` prints
    // (token in the fragment), shows every host and all six nodes.
    if engine == "builtin" {
        dashboard_shows_every_host(&net).await;
    }

    // A client in the root namespace follows MOVED across hosts.
    let seeds: Vec<String> = (1..=3).map(|i| format!("redis://:{PASSWORD}@{}:{}/", net.addr(i), 17000 + (i as u16 - 1) * 2)).collect();
    let cluster = redis::cluster::ClusterClient::builder(seeds).retries(10).build().expect("cluster client");
    let mut cc = cluster.get_connection().expect("cluster connection");
    for i in 0..50 {
        cc.set::<_, _, ()>(format!("moved:{i}"), i).expect("cluster set");
    }
    let seed = format!("{}:17000", net.addr(1));
    let mut acked = Vec::new();
    for i in 0..300 {
        let k = format!("acked:{i}");
        if acked_write(&seed, &k, &i.to_string()) == Some(true) {
            acked.push(k);
        }
    }
    assert!(acked.len() >= 290, "writes acknowledged by a replica: {}", acked.len());

    // Actions on a node of another host are passed to its slotd.
    let replica =
        nodes.values().find(|n| n.role.as_deref() == Some("slave") && n.host_name.as_deref() == Some("h3")).expect("a replica on h3");
    let (code, out, err) = slotctl(&net, 1, &["kill", &replica.name]);
    assert_eq!(code, 0, "kill {} through h1: {out}{err}", replica.name);
    wait_for(Duration::from_secs(10), "the killed replica EXITED, seen from h2", || async {
        let st: StatusResponse = api(&net, 2).get("/v1/status").await.ok()?;
        (by_name(&st).get(&replica.name)?.state == slotd::supervise::state::State::Exited).then_some(())
    })
    .await;
    // The timeline asked of h1 carries h3's own record of that kill.
    let ev: slotd::events::EventsResponse = api(&net, 1).get("/v1/events").await.expect("events");
    assert!(
        ev.events.iter().any(|e| e.kind == slotd::events::EventKind::Exited
            && e.node.as_deref() == Some(replica.name.as_str())
            && e.host.as_deref() == Some("h3")),
        "h3's kill in h1's merged timeline"
    );
    let (code, out, err) = slotctl(&net, 2, &["start", &replica.name]);
    assert_eq!(code, 0, "start {} through h2: {out}{err}", replica.name);
    wait_for(Duration::from_secs(30), "every replica in sync again", || async {
        let st: StatusResponse = api(&net, 1).get("/v1/status").await.ok()?;
        st.cluster.readiness.in_sync.then_some(())
    })
    .await;

    // Isolate the host of slot 0's master, asking another host's slotd.
    let old = owner_of(&seed, 0).expect("owner of slot 0");
    let victim = nodes.values().find(|n| format!("{}:{}", n.host, n.port) == old).expect("victim in status").clone();
    let vhost = victim.host_name.clone().expect("host of the victim");
    let ask = if vhost == "h1" { 2 } else { 1 };
    let (code, out, err) = slotctl(&net, ask, &["isolate", &vhost]);
    assert_eq!(code, 0, "isolate {vhost}: {out}{err}");
    assert!(out.contains(&format!("({isolation})")), "isolated with {isolation}: {out}");
    let other_seed = (1..=3)
        .map(|i| (format!("h{i}"), format!("{}:{}", net.addr(i), 17000 + (i as u16 - 1) * 2)))
        .find(|(h, _)| *h != vhost)
        .map(|(_, a)| a)
        .expect("a seed on another host");
    let new = wait_for(Duration::from_secs(60), "a replica on another host to take slot 0", || async {
        let o = owner_of(&other_seed, 0)?;
        let mut c = conn(&other_seed)?;
        let info: String = redis::cmd("CLUSTER").arg("INFO").query(&mut c).ok()?;
        (o != old && info.contains("cluster_state:ok")).then_some(o)
    })
    .await;
    let new_node = nodes.values().find(|n| format!("{}:{}", n.host, n.port) == new).expect("new master known");
    assert_ne!(new_node.host_name.as_deref(), Some(vhost.as_str()), "the new master is on another host");

    // Heal: the old master comes back as a replica.
    let (code, out, err) = slotctl(&net, ask, &["heal", &vhost]);
    assert_eq!(code, 0, "heal {vhost}: {out}{err}");
    wait_for(Duration::from_secs(60), "the old master to rejoin as a replica", || async {
        let mut c = conn(&old)?;
        let info: String = redis::cmd("INFO").arg("replication").query(&mut c).ok()?;
        (info.contains("role:slave") && info.contains("master_link_status:up")).then_some(())
    })
    .await;
    let mut cc = cluster.get_connection().expect("cluster connection after the failover");
    let mut lost = Vec::new();
    for (i, k) in acked.iter().enumerate() {
        // The cluster client retries through MOVED and the new topology itself.
        let v: Option<String> = cc.get(k).unwrap_or_else(|e| panic!("read {k}: {e}"));
        if v.as_deref() != Some(k.trim_start_matches("acked:")) {
            lost.push((i, k.clone(), v));
        }
    }
    assert!(lost.is_empty(), "acknowledged writes lost: {lost:?}");
    // And the whole cluster agrees again, seen from the host that was cut off.
    wait_for(Duration::from_secs(30), "every node ok, seen from the healed host", || async {
        let st: StatusResponse = api(&net, vhost.trim_start_matches('h').parse().ok()?).get("/v1/status").await.ok()?;
        (st.cluster.state.as_deref() == Some("ok") && st.nodes.len() == 6).then_some(())
    })
    .await;

    // Slots move between masters on different hosts (MIGRATE with the password).
    let st: StatusResponse = api(&net, 1).get("/v1/status").await.expect("status");
    let mut c = conn(&other_seed).expect("a node");
    let first: u16 = redis::cmd("CLUSTER").arg("KEYSLOT").arg(&acked[0]).query(&mut c).expect("keyslot");
    let holder = owner_of(&other_seed, first).expect("owner of the key's slot");
    let from = st.nodes.iter().find(|n| format!("{}:{}", n.host, n.port) == holder).expect("the key's master").clone();
    // Up to 20 slots from the key's one, within the range its master serves.
    let end = from
        .slots
        .iter()
        .filter_map(|r| {
            let (a, b) = r.split_once('-').unwrap_or((r, r));
            Some((a.parse::<u16>().ok()?, b.parse::<u16>().ok()?))
        })
        .find(|(a, b)| (*a..=*b).contains(&first))
        .map(|(_, b)| b)
        .expect("the key's slot in its master's ranges");
    let last = end.min(first + 19);
    let to = st
        .nodes
        .iter()
        .find(|n| n.role.as_deref() == Some("master") && !n.slots.is_empty() && n.host_name != from.host_name)
        .expect("a master on another host")
        .clone();
    let body = serde_json::json!({"from": from.name, "to": to.name, "slot": format!("{first}-{last}")});
    let job: serde_json::Value = api(&net, 3).post("/v1/cluster/reshard?wait=true", Some(body)).await.expect("reshard across hosts");
    assert_eq!(job["state"], "done", "{job}");
    assert!(job["keys_done"].as_u64().is_some_and(|k| k > 0), "keys moved across hosts: {job}");
    let moved_to = owner_of(&other_seed, first).expect("owner of the moved slot");
    assert_eq!(moved_to, format!("{}:{}", to.host, to.port));
    let mut cc = cluster.get_connection().expect("cluster connection after the reshard");
    for k in &acked {
        let v: Option<String> = cc.get(k).unwrap_or_else(|e| panic!("read {k} after the reshard: {e}"));
        assert_eq!(v.as_deref(), Some(k.trim_start_matches("acked:")), "{k} after the reshard");
    }

    // A host whose slotd stops (and its nodes with it) is shown, not hidden;
    // the others fail over what it served and keep every acknowledged write.
    let mut slotds = slotds;
    let h3 = slotds.children[2].id();
    let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(h3 as i32), nix::sys::signal::Signal::SIGTERM);
    let _ = slotds.children[2].wait();
    let st = wait_for(Duration::from_secs(60), "h3 unreachable and the cluster ok without it", || async {
        let st: StatusResponse = api(&net, 1).get("/v1/status").await.ok()?;
        let down = st.nodes.iter().filter(|n| n.state == slotd::supervise::state::State::Unreachable).count();
        let h3_down = st.hosts.iter().any(|h| h.name == "h3" && !h.reachable);
        let ok = st.nodes.iter().filter(|n| n.host_name.as_deref() != Some("h3")).all(|n| n.cluster_state.as_deref() == Some("ok"));
        // Every slot served by a master on h1 or h2 (the failover is done).
        let served: u32 = st
            .nodes
            .iter()
            .filter(|n| n.host_name.as_deref() != Some("h3") && n.role.as_deref() == Some("master"))
            .flat_map(|n| n.slots.iter())
            .filter_map(|r| {
                let (a, b) = r.split_once('-').unwrap_or((r, r));
                Some(b.parse::<u32>().ok()? - a.parse::<u32>().ok()? + 1)
            })
            .sum();
        (down == 2 && h3_down && ok && served == 16384).then_some(st)
    })
    .await;
    assert_eq!(st.cluster.state.as_deref(), Some("ok (some nodes down)"), "{:?}", st.cluster);
    let (code, out, _) = slotctl(&net, 2, &["status"]);
    assert_ne!(code, 0, "status is not all-good with a host gone");
    assert!(out.contains("UNREACHABLE"), "{out}");
    let mut cc = cluster.get_connection().expect("cluster connection without h3");
    for k in &acked {
        let v: Option<String> = cc.get(k).unwrap_or_else(|e| panic!("read {k} without h3: {e}"));
        assert_eq!(v.as_deref(), Some(k.trim_start_matches("acked:")), "{k} after h3 went away");
    }
    drop(slotds);
    drop(net);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cluster_across_three_hosts() {
    if !netns_available() {
        return;
    }
    scenario("builtin", "bus hook").await;
    if redis_available() {
        scenario("redis-server", "nftables").await;
    }
}
