//! Where the cluster rules meet the rest of the node: the environment they
//! read, and the effects they return carried out (frames onto the bus,
//! replication role, slot keys, pub/sub, paused clients).

use super::Node;
use crate::client::Push;
use crate::cluster::{ClusterState, Effect, Effects, Env};

impl Node {
    /// Wakes blocked clients whose key's slot this node does not serve any
    /// more (moved by a reshard or a failover) or whose cluster is down:
    /// run again, they get the MOVED or CLUSTERDOWN Redis sends them
    /// (clusterRedirectBlockedClientIfNeeded).
    pub fn wake_misrouted_blocked(&mut self) {
        let Some(c) = self.cluster.as_ref() else { return };
        if self.waits.blocked.is_empty() {
            return;
        }
        let stray: Vec<crate::client::ClientId> = self
            .waits
            .blocked
            .iter()
            .filter(|((_, k), _)| !c.ok || c.owners[crate::slot::key_slot(k) as usize].as_ref() != Some(&c.myself))
            .flat_map(|(_, ids)| ids.iter().copied())
            .collect();
        for id in stray {
            if let Some(client) = self.clients.map.get(&id) {
                let _ = client.tx.send(Push::Wake);
            }
        }
    }

    /// Sets up cluster state when `cluster-enabled yes`: loads nodes.conf or
    /// creates a fresh identity.
    ///
    /// # Errors
    /// A message naming the cluster config file when it exists but cannot be used.
    pub fn init_cluster(&mut self) -> Result<(), String> {
        if !self.config.cluster_enabled() {
            return Ok(());
        }
        let state = ClusterState::load_or_create(&self.config)?;
        if state.myself_node().master_id.is_some() {
            for db in &mut self.keyspace.dbs {
                db.expire_enabled = false;
            }
        }
        self.cluster = Some(Box::new(state));
        // Our own hostname is the config's, whatever nodes.conf remembered.
        self.sync_announced_hostname();
        // Keep the stream history so a promoted replica can serve partial resyncs.
        self.repl.backlog_active = true;
        Ok(())
    }

    /// Puts `cluster-announce-hostname` on our own node (at start and after
    /// CONFIG SET): messages carry it from there, CLUSTER NODES shows it.
    pub fn sync_announced_hostname(&mut self) {
        let name = self.config.get("cluster-announce-hostname").unwrap_or("");
        let Some(c) = self.cluster.as_mut() else { return };
        let myself = c.myself.clone();
        if let Some(me) = c.nodes.get_mut(&myself) {
            if me.hostname != name {
                me.hostname = name.to_string();
                c.dirty_config = true;
            }
        }
    }

    /// `cluster-preferred-endpoint-type` (cached by `refresh_cached_config`).
    pub fn endpoint_type(&self) -> crate::cluster::state::EndpointType {
        self.endpoint_type
    }

    /// What the cluster rules read of the rest of the node now.
    pub fn cluster_env(&self) -> Env {
        let cfg = &self.config;
        Env {
            now_ms: self.now_ms,
            repl_offset: self.repl.offset,
            require_full_coverage: cfg.flag_named("cluster-require-full-coverage"),
            replica_no_failover: cfg.flag_named("cluster-replica-no-failover"),
            replica_validity_factor: cfg.int_named("cluster-replica-validity-factor", 10).max(0) as u64,
            allow_replica_migration: cfg.flag_named("cluster-allow-replica-migration"),
            migration_barrier: cfg.int_named("cluster-migration-barrier", 1).max(0) as usize,
        }
    }

    /// Runs one cluster rule and carries out its effects; frames meant for
    /// the link a message came on are appended to `reply`. None without
    /// cluster state.
    pub fn run_cluster<R>(&mut self, reply: &mut Vec<u8>, rule: impl FnOnce(&mut ClusterState, &Env, &mut Effects) -> R) -> Option<R> {
        let env = self.cluster_env();
        let c = self.cluster.as_mut()?;
        let mut fx = Effects::new();
        let r = rule(c, &env, &mut fx);
        self.apply_cluster_effects(fx, reply);
        Some(r)
    }

    fn apply_cluster_effects(&mut self, fx: Effects, reply: &mut Vec<u8>) {
        for e in fx {
            match e {
                Effect::Reply(frame) => reply.extend_from_slice(&frame),
                Effect::To(id, frame) => {
                    if let Some(l) = self.cluster.as_ref().and_then(|c| c.links.get(&id)) {
                        self.bus.send(l.generation, frame);
                    }
                }
                Effect::Broadcast(frame) => {
                    if let Some(c) = self.cluster.as_ref() {
                        for l in c.links.values() {
                            self.bus.send(l.generation, frame.clone());
                        }
                    }
                }
                Effect::Publish { channel, message } => {
                    self.publish(&channel, &message);
                }
                Effect::PublishShard { channel, message } => {
                    self.publish_shard(&channel, &message);
                }
                Effect::DropSlotKeys(slots) => {
                    for s in slots {
                        for db in &mut self.keyspace.dbs {
                            db.remove_slot(s);
                        }
                    }
                }
                Effect::Replicate(master) => self.set_master(master),
                Effect::ResumePausedClients => {
                    for id in std::mem::take(&mut self.clients.paused) {
                        self.push_to(id, Push::Wake);
                    }
                }
            }
        }
        if let Some(c) = self.cluster.as_ref() {
            self.bus.prune(&c.links);
        }
    }

    /// Writes nodes.conf when the cluster state changed since the last write.
    pub fn save_cluster_config_if_dirty(&mut self) {
        let Some(c) = self.cluster.as_mut() else { return };
        if !c.dirty_config {
            return;
        }
        c.dirty_config = false;
        if let Err(e) = c.save_config() {
            tracing::warn!("cannot write cluster config {}: {e}", c.config_file.display());
        }
    }
}
