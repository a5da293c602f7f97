//! How slotctl reports: tables or JSON on stdout, complaints on stderr. With
//! `--json`, every run prints exactly one JSON document (streams excepted):
//! what the command printed, or `{"error": ...}` when it failed before it
//! could print anything, so a script can always parse stdout.

use std::fmt::Display;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;

static JSON_PRINTED: AtomicBool = AtomicBool::new(false);
static LAST_ERROR: Mutex<Option<String>> = Mutex::new(None);

/// `slotctl shutdown --json` once slotd is gone.
#[derive(serde::Serialize)]
pub(crate) struct Stopped {
    pub stopped: bool,
}

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

/// `{"ok": true}`: a run that succeeded without a document of its own.
#[derive(serde::Serialize)]
struct Done {
    ok: bool,
}

/// `{"error": ..., "exit_code": N}`: a run that failed before printing one.
#[derive(serde::Serialize)]
struct Failed {
    error: String,
    exit_code: i32,
}

/// Prints the JSON document of a run that printed none yet.
pub(crate) fn print_fallback(code: i32) {
    if JSON_PRINTED.load(Ordering::SeqCst) {
        return;
    }
    if code == 0 {
        print_json(&Done { ok: true });
    } else {
        let error = LAST_ERROR.lock().ok().and_then(|l| l.clone()).unwrap_or_else(|| format!("failed with exit code {code}"));
        print_json(&Failed { error, exit_code: code });
    }
}
