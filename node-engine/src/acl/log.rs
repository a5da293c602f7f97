//! ACL LOG: recent refusals, newest first, with repeats folded into one
//! entry (same reason, context, object and user within a minute), as Redis
//! 7.0's `addACLLogEntry` does.

use std::collections::VecDeque;

#[derive(Debug, Clone, PartialEq)]
pub struct LogEntry {
    pub count: u64,
    /// `command`, `key`, `channel` or `auth`.
    pub reason: &'static str,
    /// `toplevel`, `multi` or `lua`.
    pub context: &'static str,
    /// The command's full name, the key, the channel, or AUTH as typed.
    pub object: String,
    pub username: String,
    pub ctime_ms: u64,
    /// The client's CLIENT LIST line.
    pub client_info: String,
}

#[derive(Debug, Default)]
pub struct AclLog {
    pub entries: VecDeque<LogEntry>,
}

/// Entries this close in time are the same event repeated.
const GROUP_MS: u64 = 60_000;
/// How many recent entries a new one may fold into.
const GROUP_LOOKBACK: usize = 10;

impl AclLog {
    /// Records a refusal, keeping at most `max_len` entries.
    pub fn add(&mut self, e: LogEntry, max_len: usize) {
        let found = self.entries.iter().take(GROUP_LOOKBACK).position(|x| {
            x.reason == e.reason
                && x.context == e.context
                && x.object == e.object
                && x.username == e.username
                && x.ctime_ms.abs_diff(e.ctime_ms) <= GROUP_MS
        });
        if let Some(i) = found {
            if let Some(mut old) = self.entries.remove(i) {
                old.count += 1;
                old.ctime_ms = e.ctime_ms;
                old.client_info = e.client_info;
                self.entries.push_front(old);
            }
            return;
        }
        self.entries.push_front(e);
        self.entries.truncate(max_len);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(object: &str, at: u64) -> LogEntry {
        LogEntry {
            count: 1,
            reason: "command",
            context: "toplevel",
            object: object.into(),
            username: "u".into(),
            ctime_ms: at,
            client_info: String::new(),
        }
    }

    #[test]
    fn repeats_fold_and_the_log_is_capped() {
        let mut log = AclLog::default();
        log.add(entry("get", 0), 3);
        log.add(entry("set", 10), 3);
        log.add(entry("get", 20), 3);
        assert_eq!(log.entries.len(), 2);
        assert_eq!((log.entries[0].object.as_str(), log.entries[0].count), ("get", 2), "the repeat moves to the head");
        log.add(entry("get", 200_000), 3);
        assert_eq!(log.entries.len(), 3, "a minute later it is a new event");
        log.add(entry("del", 200_001), 3);
        assert_eq!(log.entries.len(), 3);
        assert_eq!(log.entries[0].object, "del");
    }
}
