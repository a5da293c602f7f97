//! Where events live: memory for queries, a broadcast channel for streams,
//! and `<data_dir>/events.jsonl` (append-only) so a restarted slotd keeps them.

use super::Event;
use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};
use tokio::sync::broadcast;

/// Events kept in memory; older ones stay in the file only.
const KEEP: usize = 50_000;

struct Inner {
    mem: Vec<Event>,
    next_seq: u64,
    file: Option<std::fs::File>,
}

/// The timeline; cheap to clone.
#[derive(Clone)]
pub struct EventLog {
    inner: Arc<Mutex<Inner>>,
    tx: broadcast::Sender<Event>,
    path: Option<PathBuf>,
}

/// The file name inside data_dir.
pub const FILE: &str = "events.jsonl";

fn now_ms() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as u64).unwrap_or(0)
}

impl EventLog {
    /// Memory only (tests, lab runner bookkeeping).
    pub fn memory() -> EventLog {
        let (tx, _) = broadcast::channel(1024);
        EventLog { inner: Arc::new(Mutex::new(Inner { mem: Vec::new(), next_seq: 1, file: None })), tx, path: None }
    }

    /// Opens (creating) `<data_dir>/events.jsonl` and loads what it holds;
    /// unreadable lines are skipped. If the file cannot be opened the log
    /// still works in memory and a warning says why.
    pub fn open(data_dir: &Path) -> EventLog {
        let path = data_dir.join(FILE);
        let log = EventLog::memory();
        let mut loaded = Vec::new();
        if let Ok(f) = std::fs::File::open(&path) {
            for line in std::io::BufReader::new(f).lines().map_while(Result::ok) {
                if let Ok(e) = serde_json::from_str::<Event>(&line) {
                    loaded.push(e);
                }
            }
        }
        let file = std::fs::OpenOptions::new().create(true).append(true).open(&path);
        let file = match file {
            Ok(f) => Some(f),
            Err(e) => {
                tracing::warn!("cannot open {} ({e}); events are kept in memory only until slotd stops", path.display());
                None
            }
        };
        if let Ok(mut g) = log.inner.lock() {
            g.next_seq = loaded.last().map(|e| e.seq + 1).unwrap_or(1);
            if loaded.len() > KEEP {
                loaded.drain(..loaded.len() - KEEP);
            }
            g.mem = loaded;
            g.file = file;
        }
        EventLog { path: Some(path), ..log }
    }

    /// The backing file, if any.
    pub fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }

    /// Records an event (time and seq assigned now) and returns it.
    pub fn record(&self, mut e: Event) -> Event {
        if let Ok(mut g) = self.inner.lock() {
            e.seq = g.next_seq;
            g.next_seq += 1;
            if e.ts_ms == 0 {
                e.ts_ms = now_ms();
            }
            if let Some(f) = g.file.as_mut() {
                if let Ok(line) = serde_json::to_string(&e) {
                    if let Err(err) = writeln!(f, "{line}") {
                        tracing::warn!("cannot append to the events file: {err}");
                    }
                }
            }
            g.mem.push(e.clone());
            if g.mem.len() > KEEP + KEEP / 10 {
                let cut = g.mem.len() - KEEP;
                g.mem.drain(..cut);
            }
        }
        tracing::debug!(kind = ?e.kind, node = ?e.node, "{}", e.message);
        let _ = self.tx.send(e.clone());
        e
    }

    /// Events with seq > `after`.
    pub fn since(&self, after: u64) -> Vec<Event> {
        self.inner.lock().map(|g| g.mem.iter().filter(|e| e.seq > after).cloned().collect()).unwrap_or_default()
    }

    /// Every event in memory.
    pub fn all(&self) -> Vec<Event> {
        self.since(0)
    }

    /// How many events were ever recorded in this log.
    pub fn total(&self) -> u64 {
        self.inner.lock().map(|g| g.next_seq.saturating_sub(1)).unwrap_or(0)
    }

    /// Live events from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<Event> {
        self.tx.subscribe()
    }
}

#[cfg(test)]
mod tests {
    use super::super::{Event, EventKind};
    use super::*;

    #[test]
    fn survives_reopen_and_continues_seq() {
        let dir = tempfile::tempdir().expect("tempdir");
        let log = EventLog::open(dir.path());
        log.record(Event::new(EventKind::Started, Some("node1".into()), "started"));
        log.record(Event::new(EventKind::Exited, Some("node1".into()), "exited").value("signal 9"));
        drop(log);
        let again = EventLog::open(dir.path());
        let all = again.all();
        assert_eq!(all.len(), 2);
        assert_eq!(all[1].value.as_deref(), Some("signal 9"));
        let e = again.record(Event::new(EventKind::Running, None, "x"));
        assert_eq!(e.seq, 3);
        assert_eq!(again.since(2).len(), 1);
    }
}
