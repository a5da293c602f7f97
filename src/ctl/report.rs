//! How slotctl reports: tables or JSON on stdout, complaints on stderr. With
//! `--json`, every run prints exactly one JSON document (streams excepted):
//! what the command printed, or `{"error": ...}` when it failed before it
//! could print anything, so a script can always parse stdout.

use std::fmt::Display;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;

static JSON_PRINTED: AtomicBool = AtomicBool::new(false);
static LAST_ERROR: Mutex<Option<String>> = Mutex::new(None);

/// Prints `v` as pretty JSON on stdout.
pub(crate) fn print_json<T: serde::Serialize>(v: &T) {
    match serde_json::to_string_pretty(v) {
        Ok(s) => {
            JSON_PRINTED.store(true, Ordering::SeqCst);
            println!("{s}");
        }
        Err(e) => complain(format_args!("cannot encode JSON: {e}")),
    }
}

/// Says what went wrong on stderr, and keeps it for the JSON error document.
pub(crate) fn complain(msg: impl Display) {
    let msg = msg.to_string();
    eprintln!("slotctl: {msg}");
    if let Ok(mut last) = LAST_ERROR.lock() {
        *last = Some(msg);
    }
}

/// The JSON document for a run that printed none: `{"error": ..., "exit_code": N}`
/// on failure, `{"ok": true}` on success.
pub(crate) fn fallback_document(code: i32) -> Option<serde_json::Value> {
    if JSON_PRINTED.load(Ordering::SeqCst) {
        return None;
    }
    Some(if code == 0 {
        serde_json::json!({ "ok": true })
    } else {
        let error = LAST_ERROR.lock().ok().and_then(|l| l.clone()).unwrap_or_else(|| format!("failed with exit code {code}"));
        serde_json::json!({ "error": error, "exit_code": code })
    })
}
