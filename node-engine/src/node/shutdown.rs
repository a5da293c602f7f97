//! Shutting down like Redis 7.0: a master first gives lagging replicas up to
//! `shutdown-timeout` seconds to acknowledge its whole stream (writes paused,
//! SHUTDOWN callers blocked), then does the final save; a failure or
//! SHUTDOWN ABORT cancels it and the callers get an error.

use super::Node;
use crate::client::{ClientId, Push};
use crate::node::ShutdownKind;

/// The error SHUTDOWN's callers get when the shutdown is cancelled.
pub const SHUTDOWN_FAILED: &str = "ERR Errors trying to SHUTDOWN. Check logs.";

/// How a shutdown was asked for: SHUTDOWN's flags, or `shutdown-on-sigterm`/`-sigint`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ShutdownFlags {
    pub save: bool,
    pub nosave: bool,
    /// Do not wait for lagging replicas.
    pub now: bool,
    /// Exit even when the final save fails.
    pub force: bool,
}

impl ShutdownFlags {
    /// The flags a `shutdown-on-sig*` value names (`default`, or any of
    /// save/nosave/now/force); words it does not know are ignored, CONFIG SET
    /// having checked them.
    pub fn from_config(value: &str) -> ShutdownFlags {
        let mut f = ShutdownFlags::default();
        for w in value.split_whitespace() {
            match w.to_ascii_lowercase().as_str() {
                "save" => f.save = true,
                "nosave" => f.nosave = true,
                "now" => f.now = true,
                "force" => f.force = true,
                _ => {}
            }
        }
        f
    }

    fn kind(self) -> ShutdownKind {
        if self.save {
            ShutdownKind::Save
        } else if self.nosave {
            ShutdownKind::NoSave
        } else {
            ShutdownKind::Default
        }
    }
}

/// A shutdown in progress, waiting for replicas (Redis's shutdown_mstime).
#[derive(Debug, Default)]
pub struct PendingShutdown {
    /// Unix ms when the wait ends and the shutdown goes on regardless; 0: none started.
    pub deadline_ms: u64,
    pub flags: ShutdownFlags,
    /// Clients blocked in SHUTDOWN until it ends one way or the other.
    pub waiters: Vec<ClientId>,
}

/// What an attempt to shut down came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ShutdownStep {
    /// The final save is done: the process may exit.
    Exit,
    /// Waiting for replicas (or a shutdown is already under way).
    Waiting,
    /// It failed and was cancelled; the node keeps running.
    Failed,
}

impl Node {
    /// Whether a shutdown is waiting for replicas (INFO's `shutdown_in_milliseconds`).
    pub fn shutdown_initiated(&self) -> bool {
        self.lifecycle.pending.deadline_ms != 0
    }

    /// Redis's prepareForShutdown: unless told NOW, a master with a replica
    /// that has not acknowledged everything pauses writes and waits for it.
    pub fn prepare_shutdown(&mut self, flags: ShutdownFlags) -> ShutdownStep {
        if self.shutdown_initiated() {
            return ShutdownStep::Waiting;
        }
        let mut flags = flags;
        if self.persistence.loading {
            // Saving a half-loaded dataset would overwrite the good one.
            flags.save = false;
            flags.nosave = true;
        }
        self.lifecycle.pending.flags = flags;
        tracing::warn!("User requested shutdown...");
        let timeout_s = self.config.int_named("shutdown-timeout", 10).max(0) as u64;
        if !flags.now && timeout_s != 0 && !self.replicas_in_sync() {
            self.lifecycle.pending.deadline_ms = self.now_ms + timeout_s * 1000;
            self.send_getack();
            for db in &mut self.keyspace.dbs {
                db.expire_enabled = false;
            }
            tracing::info!("Waiting for replicas before shutting down.");
            return ShutdownStep::Waiting;
        }
        self.finish_shutdown()
    }

    /// Every cron: a signal's shutdown starts here; a waiting one ends once
    /// the replicas caught up or its time is up.
    pub fn shutdown_cron(&mut self) -> ShutdownStep {
        if let Some(sig) = self.lifecycle.shutdown_asap.filter(|_| !self.shutdown_initiated()) {
            if self.lifecycle.shutdown.is_some() {
                return ShutdownStep::Exit;
            }
            let conf = if sig == "SIGINT" { "shutdown-on-sigint" } else { "shutdown-on-sigterm" };
            let flags = ShutdownFlags::from_config(self.config.get(conf).unwrap_or("default"));
            let step = self.prepare_shutdown(flags);
            if step == ShutdownStep::Failed {
                tracing::warn!("{sig} received but errors trying to shut down the server, check the logs for more information");
            }
            return step;
        }
        if self.shutdown_initiated() && (self.now_ms >= self.lifecycle.pending.deadline_ms || self.replicas_in_sync()) {
            return self.finish_shutdown();
        }
        ShutdownStep::Waiting
    }

    /// SHUTDOWN ABORT: false when no shutdown was asked for.
    pub fn abort_shutdown(&mut self) -> bool {
        if self.shutdown_initiated() {
            self.cancel_shutdown();
        } else if self.lifecycle.shutdown_asap.take().is_none() {
            return false;
        }
        tracing::info!("Shutdown manually aborted.");
        true
    }

    /// Whether a client waits in SHUTDOWN.
    pub fn blocked_in_shutdown(&self, id: ClientId) -> bool {
        self.lifecycle.pending.waiters.contains(&id)
    }

    fn replicas_in_sync(&self) -> bool {
        self.repl.replicas.iter().all(|r| r.ack_offset == self.repl.offset)
    }

    /// Asks the replicas for an acknowledgement now rather than at their next second.
    fn send_getack(&mut self) {
        if self.repl.replicas.is_empty() {
            return;
        }
        let mut getack = Vec::new();
        crate::resp::encode_command(&mut getack, &[b"REPLCONF".to_vec(), b"GETACK".to_vec(), b"*".to_vec()]);
        self.repl.append_stream(&getack);
        self.flush_to_replicas();
    }

    /// Redis's finishShutdown: reports each lagging replica, then the final
    /// save; on failure the shutdown is cancelled and the node goes on.
    fn finish_shutdown(&mut self) -> ShutdownStep {
        let flags = self.lifecycle.pending.flags;
        let now_s = self.now_ms / 1000;
        let mut lagging = 0;
        for r in &self.repl.replicas {
            if r.ack_offset != self.repl.offset {
                lagging += 1;
                tracing::warn!(
                    "Lagging replica {}:{} reported offset {} behind master, lag={}, state=online.",
                    r.ip,
                    r.listening_port,
                    self.repl.offset.saturating_sub(r.ack_offset),
                    now_s.saturating_sub(r.ack_time_ms / 1000)
                );
            }
        }
        let total = self.repl.replicas.len();
        if total > 0 {
            tracing::info!("{} of {total} replicas are in sync when shutting down.", total - lagging);
        }
        if self.persistence.initial_aof_rewrite() {
            if flags.force {
                tracing::warn!("Writing initial AOF. Exit anyway.");
            } else {
                tracing::warn!("Writing initial AOF, can't exit.");
                return self.shutdown_failed();
            }
        }
        let saved = crate::persistence::on_shutdown(&mut self.persistence_parts(), flags.kind());
        if saved.is_err() && !flags.force {
            return self.shutdown_failed();
        }
        self.lifecycle.shutdown = Some(ShutdownKind::Prepared);
        self.lifecycle.shutdown_notify.notify_one();
        ShutdownStep::Exit
    }

    fn shutdown_failed(&mut self) -> ShutdownStep {
        tracing::warn!("Errors trying to shut down the server. Check the logs for more information.");
        self.cancel_shutdown();
        ShutdownStep::Failed
    }

    /// Ends the wait: SHUTDOWN's callers get an error, writes and expiry resume.
    fn cancel_shutdown(&mut self) {
        let was_waiting = self.shutdown_initiated();
        self.lifecycle.shutdown_asap = None;
        let pending = std::mem::take(&mut self.lifecycle.pending);
        for id in pending.waiters {
            self.push_to(id, Push::Unblock { error: Some(SHUTDOWN_FAILED) });
        }
        if was_waiting {
            let expire = !self.is_replica() && self.clients.pause.is_none() && self.repl.failover.is_none();
            for db in &mut self.keyspace.dbs {
                db.expire_enabled = expire;
            }
            if !self.writes_paused() {
                for id in std::mem::take(&mut self.clients.paused) {
                    self.push_to(id, Push::Wake);
                }
            }
        }
    }
}
