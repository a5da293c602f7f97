//! One shutdown signal shared by the API (POST /v1/shutdown), SIGTERM/SIGINT
//! and tests, so every path stops the nodes the same way.

use std::sync::Arc;
use tokio::sync::watch;

/// Cloneable trigger + waiter.
#[derive(Clone)]
pub struct Shutdown {
    tx: Arc<watch::Sender<bool>>,
}

impl Default for Shutdown {
    fn default() -> Self {
        Self::new()
    }
}

impl Shutdown {
    pub fn new() -> Shutdown {
        let (tx, _) = watch::channel(false);
        Shutdown { tx: Arc::new(tx) }
    }
    pub fn trigger(&self) {
        self.tx.send_replace(true);
    }
    pub fn is_triggered(&self) -> bool {
        *self.tx.borrow()
    }
    /// Resolves once triggered.
    pub async fn wait(&self) {
        let mut rx = self.tx.subscribe();
        let _ = rx.wait_for(|v| *v).await;
    }
    /// Triggers on SIGTERM or SIGINT (systemctl stop, Ctrl-C).
    pub fn on_signals(&self) {
        use tokio::signal::unix::{signal, SignalKind};
        let me = self.clone();
        tokio::spawn(async move {
            let (Ok(mut term), Ok(mut int)) = (signal(SignalKind::terminate()), signal(SignalKind::interrupt())) else {
                tracing::error!("cannot install SIGTERM/SIGINT handlers; stop slotd with `slotctl shutdown`");
                return;
            };
            tokio::select! {
                _ = term.recv() => tracing::info!("SIGTERM received: stopping the nodes"),
                _ = int.recv() => tracing::info!("SIGINT received: stopping the nodes"),
            }
            me.trigger();
        });
    }
}
