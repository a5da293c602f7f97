//! `oom-score-adj`: like redis-server, the node sets the kernel's OOM score
//! of its process by role (master, replica, forked child), so under memory
//! pressure the kernel kills a snapshot child before a replica, and a replica
//! before a master. The score is process-wide, so is the state kept here.

use std::sync::atomic::{AtomicI32, Ordering};
use std::sync::Mutex;

/// The classes of `oom-score-adj-values`, in its order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OomClass {
    Master = 0,
    Replica = 1,
    Child = 2,
}

/// Whether we changed the score, and what it was before (to restore it).
struct Adjusted {
    active: bool,
    base: i32,
}

static STATE: Mutex<Adjusted> = Mutex::new(Adjusted { active: false, base: 0 });
/// The score a forked child takes; `NONE` when the node leaves it alone.
static CHILD_SCORE: AtomicI32 = AtomicI32::new(NONE);
const NONE: i32 = i32::MIN;
const PATH: &str = "/proc/self/oom_score_adj";

/// Applies `mode` (`no`, `yes`/`relative`, `absolute`) with `values` for
/// `class` (Redis's setOOMScoreAdj). Turning it off restores the score the
/// process had before; the error is Redis's reason.
pub fn apply(mode: &str, values: [i32; 3], class: OomClass) -> Result<(), String> {
    let mut st = STATE.lock().unwrap_or_else(|p| p.into_inner());
    let score = if mode != "no" {
        if !st.active {
            let text = std::fs::read_to_string(PATH).map_err(|e| format!("Unable to read oom_score_adj: {e}"))?;
            st.base = text.trim().parse().unwrap_or(0);
            st.active = true;
        }
        let relative = mode != "absolute";
        let calc = |v: i32| (if relative { v + st.base } else { v }).clamp(-1000, 1000);
        CHILD_SCORE.store(calc(values[OomClass::Child as usize]), Ordering::Relaxed);
        calc(values[class as usize])
    } else if st.active {
        st.active = false;
        CHILD_SCORE.store(NONE, Ordering::Relaxed);
        st.base
    } else {
        return Ok(());
    };
    std::fs::write(PATH, format!("{score}\n")).map_err(|e| format!("Unable to write oom_score_adj: {e}"))
}

/// In a forked child: takes the child's score, if the node manages scores.
pub fn enter_child() {
    let v = CHILD_SCORE.load(Ordering::Relaxed);
    if v != NONE {
        let _ = std::fs::write(PATH, format!("{v}\n"));
    }
}

/// Parses `oom-score-adj-values`: three scores, each within -2000..=2000.
pub fn parse_values(text: &str) -> Result<[i32; 3], String> {
    let bad = || "Invalid oom-score-adj-values, elements must be between -2000 and 2000.".to_string();
    let v: Vec<i32> = text.split_whitespace().map(|p| p.parse::<i32>().map_err(|_| bad())).collect::<Result<_, _>>()?;
    match v.as_slice() {
        [a, b, c] if v.iter().all(|x| (-2000..=2000).contains(x)) => Ok([*a, *b, *c]),
        [_, _, _] => Err(bad()),
        _ => Err("wrong number of arguments".to_string()),
    }
}
