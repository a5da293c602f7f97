//! Carrying out a scenario's steps: writes and loads, kills and pauses,
//! faults, slot moves, waits and expectations.

use super::*;

impl Run<'_> {
    pub(super) async fn step(&mut self, i: usize, step: &Step) -> Result<(), LabError> {
        match step {
            Step::Say { text } => self.say(format!("-- {text}")),
            Step::Write { keys, prefix, slot, wait_replicas, key_timeout_ms } => {
                let mut c = ClusterClient::new(self.host, self.ports.clone());
                let (mut ok, mut bad, mut streak) = (0u64, 0u64, 0u32);
                let mut first_err = None;
                let started = Instant::now();
                let keyname = |k: u64| match slot {
                    Some(s) => format!("{}:{k}", topology::key_for_slot(&format!("{prefix}:"), *s)),
                    None => format!("{prefix}:{k}"),
                };
                if wait_replicas.is_none() {
                    // Pipelined in batches; refused keys are retried one by one.
                    for batch in (0..*keys).collect::<Vec<u64>>().chunks(1000) {
                        let items: Vec<(String, Option<String>)> = batch.iter().map(|k| (keyname(*k), Some(format!("v{k}")))).collect();
                        let per = if streak >= 10 { 0 } else { *key_timeout_ms };
                        let res = c.many("SET", &items, Instant::now() + Duration::from_millis(per)).await;
                        for ((k, v), r) in items.into_iter().zip(res) {
                            match r {
                                Ok(_) => {
                                    ok += 1;
                                    streak = 0;
                                    self.acked.insert(k, v.unwrap_or_default());
                                }
                                Err(e) => {
                                    bad += 1;
                                    streak += 1;
                                    first_err.get_or_insert(e);
                                }
                            }
                        }
                    }
                }
                for k in (0..*keys).filter(|_| wait_replicas.is_some()) {
                    let key = keyname(k);
                    let per_key = if streak >= 10 { 0 } else { *key_timeout_ms };
                    let value = format!("v{k}");
                    match c.set(&key, &value, *wait_replicas, Instant::now() + Duration::from_millis(per_key)).await {
                        Ok(()) => {
                            ok += 1;
                            streak = 0;
                            self.acked.insert(key, value);
                        }
                        Err(e) => {
                            bad += 1;
                            streak += 1;
                            first_err.get_or_insert(e);
                        }
                    }
                }
                self.not_acked += bad;
                let wait = wait_replicas.map(|n| format!(" with WAIT {n}")).unwrap_or_default();
                let err = first_err.map(|e| format!("; first error: {e}")).unwrap_or_default();
                self.say(format!(
                    "wrote {keys} keys {prefix}:*{wait} in {} ms: {ok} acknowledged, {bad} not{err}",
                    started.elapsed().as_millis()
                ));
            }
            Step::LoadStart { prefix, wait_replicas } => {
                let st = Arc::new(Mutex::new(LoadState::default()));
                let (host, ports, pfx, wait, st2) = (self.host, self.ports.clone(), prefix.clone(), *wait_replicas, st.clone());
                let h = tokio::spawn(async move {
                    let mut c = ClusterClient::new(host, ports);
                    let mut k = 0u64;
                    loop {
                        if st2.lock().map(|s| s.stop).unwrap_or(true) {
                            break;
                        }
                        let key = format!("{pfx}:{k}");
                        let value = format!("v{k}");
                        let r = c.set(&key, &value, wait, Instant::now() + Duration::from_millis(200)).await;
                        if let Ok(mut s) = st2.lock() {
                            match r {
                                Ok(()) => s.acked.push((key, value)),
                                Err(_) => s.failed += 1,
                            }
                        }
                        k += 1;
                        tokio::time::sleep(Duration::from_millis(2)).await;
                    }
                });
                self.load = Some((h, st));
                let wait = wait_replicas.map(|n| format!(" (WAIT {n} after each)")).unwrap_or_default();
                self.say(format!("steady write load started: {prefix}:0, {prefix}:1, ...{wait}"));
            }
            Step::LoadStop => {
                if let Some((h, st)) = self.load.take() {
                    if let Ok(mut s) = st.lock() {
                        s.stop = true;
                    }
                    let _ = h.await;
                    let (acked, failed) = st.lock().map(|s| (s.acked.clone(), s.failed)).unwrap_or_default();
                    self.say(format!("write load stopped: {} acknowledged, {failed} refused or timed out", acked.len()));
                    self.not_acked += failed;
                    self.acked.extend(acked);
                }
            }
            Step::Read => {
                let mut c = ClusterClient::new(self.host, self.ports.clone());
                let mut missing = Vec::new();
                let mut errors = 0;
                let keys: Vec<(String, String)> = self.acked.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
                let items: Vec<(String, Option<String>)> = keys.iter().map(|(k, _)| (k.clone(), None)).collect();
                let res = c.many("GET", &items, Instant::now() + Duration::from_millis(3000)).await;
                for ((k, v), r) in keys.iter().zip(res) {
                    match r {
                        Ok(got) if got.text().as_deref() == Some(v.as_str()) => {}
                        Ok(_) => missing.push(k.clone()),
                        Err(_) => {
                            errors += 1;
                            missing.push(k.clone());
                        }
                    }
                }
                let shown: Vec<&String> = missing.iter().take(20).collect();
                self.say(format!(
                    "read back {} acknowledged keys: {} kept, {} lost{}{}",
                    keys.len(),
                    keys.len() - missing.len(),
                    missing.len(),
                    if errors > 0 { format!(" ({errors} unreadable)") } else { String::new() },
                    if shown.is_empty() {
                        String::new()
                    } else {
                        format!(
                            ": {}{}",
                            shown.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(" "),
                            if missing.len() > 20 { " ..." } else { "" }
                        )
                    }
                ));
                self.lost = Some(missing.len() as u64);
                self.missing = missing;
            }
            Step::Kill { node, signal, alias } => {
                let port = self.resolve(node).await?;
                if let Some(a) = alias {
                    self.aliases.insert(a.clone(), port);
                }
                self.say(format!("kill -{} {} ({node})", signal.trim_start_matches("SIG"), self.name(port)));
                self.act(port, "kill", crate::ctl::wire(&KillRequest { signal: Some(signal.clone()) })).await?;
            }
            Step::Pause { node, alias } => {
                let port = self.resolve(node).await?;
                if let Some(a) = alias {
                    self.aliases.insert(a.clone(), port);
                }
                self.say(format!("pause {} ({node}): SIGSTOP, a hung node", self.name(port)));
                self.act(port, "pause", None).await?;
            }
            Step::Resume { node } | Step::Start { node } | Step::Stop { node } => {
                let port = self.resolve(node).await?;
                let verb = match step {
                    Step::Resume { .. } => "resume",
                    Step::Start { .. } => "start",
                    _ => "stop",
                };
                self.say(format!("{verb} {}", self.name(port)));
                self.act(port, verb, None).await?;
            }
            Step::Remember { node, alias } => {
                let port = self.resolve(node).await?;
                self.aliases.insert(alias.clone(), port);
                self.say(format!("${alias} = {} ({node})", self.name(port)));
            }
            Step::Partition { groups, for_ms } => {
                let mut resolved = Vec::new();
                for g in groups {
                    let mut ports = Vec::new();
                    for s in g {
                        ports.push(self.resolve(s).await?.to_string());
                    }
                    resolved.push(ports);
                }
                let text: Vec<String> = resolved.iter().map(|g| g.join(",")).collect();
                self.say(format!("partition {}", text.join(" / ")));
                self.fault("/v1/faults/partition", &PartitionRequest { groups: resolved, for_ms: *for_ms }).await?;
            }
            Step::Delay { node, ms, jitter_ms } => {
                let port = self.resolve(node).await?;
                self.say(format!("delay {}'s bus frames by {ms} ms (+{jitter_ms})", self.name(port)));
                self.fault("/v1/faults/delay", &DelayRequest { node: port.to_string(), ms: *ms, jitter_ms: *jitter_ms, for_ms: None })
                    .await?;
            }
            Step::Drop { node, rate } => {
                let port = self.resolve(node).await?;
                self.say(format!("drop {:.0}% of {}'s bus frames", rate * 100.0, self.name(port)));
                self.fault("/v1/faults/drop", &DropRequest { node: port.to_string(), rate: *rate, for_ms: None }).await?;
            }
            Step::Heal => {
                self.say("heal every fault");
                self.api.post::<serde_json::Value>("/v1/faults/heal", None).await.map_err(|e| e.to_string())?;
            }
            Step::Command { node, args, error } => {
                let port = self.resolve(node).await?;
                let mut real = Vec::new();
                for a in args {
                    real.push(self.expand(a).await?);
                }
                let shown = real.join(" ");
                let mut c = crate::cluster_admin::Conn::connect(SocketAddr::new(self.host, port), Duration::from_secs(5))
                    .await
                    .map_err(|e| e.to_string())?;
                let argv: Vec<&str> = real.iter().map(String::as_str).collect();
                let r = c.cmd(&argv).await;
                match (r, error) {
                    (Ok(r), None) => self.say(format!("{} > {shown}  -> {}", self.name(port), short(&r))),
                    (Err(e), Some(want)) if e.to_string().contains(want.as_str()) => {
                        let d = e.to_string();
                        self.check(i, format!("`{shown}` is refused with {want}"), true, d);
                    }
                    (Ok(r), Some(want)) => {
                        self.check(i, format!("`{shown}` is refused with {want}"), false, format!("it answered {}", short(&r)))
                    }
                    (Err(e), _) => return Err(LabError::Step(format!("{} > {shown} failed: {e}", self.name(port)))),
                }
            }
            Step::Migrate { slot, to } => self.migrate(*slot, to).await?,
            Step::Wait(cond) => {
                if self.skip_variant(cond) {
                    return Ok(());
                }
                let limit = cond.timeout_ms.map(Duration::from_millis).unwrap_or_else(|| self.timeout());
                let started = Instant::now();
                let desc = self.describe(cond);
                let mut last = String::new();
                loop {
                    let (ok, detail) = self.eval(cond).await;
                    if ok {
                        self.say(format!("waited {} ms until {desc}", started.elapsed().as_millis()));
                        break;
                    }
                    last = detail;
                    if started.elapsed() >= limit {
                        self.check(
                            i,
                            format!("wait until {desc}"),
                            false,
                            format!("not within {} ms; last seen: {last}", limit.as_millis()),
                        );
                        return Err(LabError::Step(format!("gave up at step {i}")));
                    }
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                let _ = last;
            }
            Step::Expect(cond) => {
                if self.skip_variant(cond) {
                    return Ok(());
                }
                let (ok, detail) = self.eval(cond).await;
                let desc = self.describe(cond);
                self.check(i, desc, ok, detail);
            }
            Step::Sleep { ms } => {
                self.say(format!("sleep {ms} ms"));
                tokio::time::sleep(Duration::from_millis(*ms)).await;
            }
        }
        Ok(())
    }

    /// Moves one slot with the reshard mover (the same code as `slotctl
    /// reshard`: IMPORTING, MIGRATING, GETKEYSINSLOT + MIGRATE, SETSLOT NODE
    /// on every master), narrating the lab's steps.
    async fn migrate(&mut self, slot: u16, to: &str) -> Result<(), LabError> {
        use crate::reshard::mover::{self, Endpoint, MoveOpts, Pool};
        let view = self.view().await;
        let src = view.iter().find(|n| n.is_master() && n.owns(slot)).ok_or(format!("nobody serves slot {slot}"))?.clone();
        let dst_port = self.resolve(to).await?;
        let dst = view.iter().find(|n| n.port() == dst_port).ok_or(format!("{} is not in CLUSTER NODES", self.name(dst_port)))?.clone();
        if src.port() == dst.port() {
            return Err(LabError::Step(format!("slot {slot} is already on {}", self.name(dst.port()))));
        }
        let endpoint = |n: &topology::NodeLine| Endpoint { id: n.id.clone(), addr: SocketAddr::new(self.host, n.port()) };
        let (from, into) = (endpoint(&src), endpoint(&dst));
        let others: Vec<SocketAddr> = view
            .iter()
            .filter(|n| n.is_master() && n.port() != src.port() && n.port() != dst.port())
            .map(|n| SocketAddr::new(self.host, n.port()))
            .collect();
        let job = crate::reshard::progress::Job::new(0, "lab", format!("slot {slot}"));
        let mut pool = Pool::new(Duration::from_secs(10));
        let short = |id: &str| id.chars().take(8).collect::<String>();
        self.say(format!("{} > CLUSTER SETSLOT {slot} IMPORTING {}", self.name(dst.port()), short(&src.id)));
        self.say(format!("{} > CLUSTER SETSLOT {slot} MIGRATING {}", self.name(src.port()), short(&dst.id)));
        let moved = mover::move_slot(&mut pool, &from, &into, &others, slot, MoveOpts::default(), &job).await.map_err(|e| e.to_string())?;
        self.say(format!("{} > CLUSTER GETKEYSINSLOT {slot} + MIGRATE ... KEYS: {moved} keys moved", self.name(src.port())));
        self.say(format!("CLUSTER SETSLOT {slot} NODE {} on every master", self.name(dst.port())));
        Ok(())
    }
}
