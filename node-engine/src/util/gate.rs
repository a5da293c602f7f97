//! A gate the node's tasks pass before doing work; closing it freezes them
//! while their sockets stay open, which is what a paused process looks like.

use std::cell::Cell;
use tokio::sync::Notify;

pub struct Gate {
    closed: Cell<bool>,
    opened: Notify,
}

impl Default for Gate {
    fn default() -> Self {
        Self::new()
    }
}

impl Gate {
    pub fn new() -> Self {
        Gate { closed: Cell::new(false), opened: Notify::new() }
    }
    pub fn close(&self) {
        self.closed.set(true);
    }
    pub fn open(&self) {
        self.closed.set(false);
        self.opened.notify_waiters();
    }
    /// Returns at once when open; otherwise waits until opened.
    pub async fn pass(&self) {
        while self.closed.get() {
            self.opened.notified().await;
        }
    }
}
