//! Key specs: how each command uses each of its keys (read, write, insert,
//! delete), from Redis 7.0's command JSON (`key_specs.tsv`, made by
//! `tools/gen-key-specs.py`). ACL's `%R~`/`%W~` patterns are judged by them:
//! a key the command reads (ACCESS) needs R, one it changes (INSERT,
//! DELETE, UPDATE) needs W, and one it only checks (EXISTS) needs either.

use super::KeyUse;
use std::collections::HashMap;
use std::sync::OnceLock;

const TABLE: &str = include_str!("key_specs.tsv");

/// Key-spec flags in the order Redis prints them.
const FLAG_ORDER: &[&str] = &["RO", "RW", "OW", "RM", "ACCESS", "UPDATE", "INSERT", "DELETE", "NOT_KEY", "INCOMPLETE", "VARIABLE_FLAGS"];

#[derive(Debug, Clone)]
enum Begin {
    Index(usize),
    Keyword(String, i64),
    Unknown,
}

#[derive(Debug, Clone)]
enum Find {
    Range { last: i64, step: usize, limit: i64 },
    KeyNum { idx: usize, first: usize, step: usize },
    Unknown,
}

#[derive(Debug, Clone)]
struct Spec {
    /// The spec's flags as Redis names them (COMMAND GETKEYSANDFLAGS).
    flags: Vec<&'static str>,
    /// Shard channels sit where keys would (for routing); they are not keys.
    not_key: bool,
    read: bool,
    write: bool,
    variable: bool,
    begin: Begin,
    find: Find,
}

fn parse_spec(s: &str) -> Option<Spec> {
    let mut parts = s.split('/');
    let flags: Vec<&str> = parts.next()?.split(',').collect();
    let begin = parts.next()?;
    let find = parts.next()?;
    let num = |x: Option<&str>| x.and_then(|v| v.parse::<i64>().ok());
    let begin = match begin.split(':').collect::<Vec<_>>()[..] {
        ["i", pos] => Begin::Index(pos.parse().ok()?),
        ["k", kw, from] => Begin::Keyword(kw.to_string(), from.parse().ok()?),
        _ => Begin::Unknown,
    };
    let f: Vec<&str> = find.split(':').collect();
    let find = match f.first() {
        Some(&"r") => {
            Find::Range { last: num(f.get(1).copied())?, step: num(f.get(2).copied())?.max(1) as usize, limit: num(f.get(3).copied())? }
        }
        Some(&"n") => Find::KeyNum {
            idx: num(f.get(1).copied())? as usize,
            first: num(f.get(2).copied())? as usize,
            step: num(f.get(3).copied())?.max(1) as usize,
        },
        _ => Find::Unknown,
    };
    let known: Vec<&'static str> = FLAG_ORDER.iter().copied().filter(|f| flags.contains(f)).collect();
    Some(Spec {
        flags: known,
        not_key: flags.contains(&"NOT_KEY"),
        read: flags.contains(&"ACCESS"),
        write: flags.iter().any(|f| matches!(*f, "INSERT" | "DELETE" | "UPDATE")),
        variable: flags.contains(&"VARIABLE_FLAGS"),
        begin,
        find,
    })
}

fn table() -> &'static HashMap<&'static str, Vec<Spec>> {
    static T: OnceLock<HashMap<&'static str, Vec<Spec>>> = OnceLock::new();
    T.get_or_init(|| {
        TABLE
            .lines()
            .filter_map(|l| {
                let (name, specs) = l.split_once('\t')?;
                Some((name, specs.split(';').filter_map(parse_spec).collect()))
            })
            .collect()
    })
}

/// The first key position and its (first, last, step) range for one spec, if it applies to `argv`.
fn spec_range(s: &Spec, argv: &[&[u8]]) -> Option<(usize, usize, usize)> {
    let argc = argv.len() as i64;
    let first = match &s.begin {
        Begin::Index(p) => *p as i64,
        Begin::Keyword(kw, from) => {
            let hits = |i: &i64| (1..argc).contains(i) && argv[*i as usize].eq_ignore_ascii_case(kw.as_bytes());
            let found = if *from >= 0 { (*from..argc).find(hits) } else { (1..=argc + from).rev().find(hits) };
            found? + 1
        }
        Begin::Unknown => return None,
    };
    let (first, last, step) = match s.find {
        Find::Range { last, step, limit } => {
            let l = if last >= 0 {
                first + last
            } else if limit == 0 {
                argc + last
            } else {
                first + ((argc - first) / limit + last)
            };
            (first, l, step)
        }
        Find::KeyNum { idx, first: fk, step } => {
            let at = first + idx as i64;
            let n: i64 = std::str::from_utf8(argv.get(at as usize)?).ok()?.parse().ok().filter(|n| *n >= 0)?;
            let f = first + fk as i64;
            (f, f + (n - 1) * step as i64, step)
        }
        Find::Unknown => return None,
    };
    (first >= 1 && last < argc && last >= first).then_some((first as usize, last as usize, step))
}

/// A command's specs, and which one places each key position of `argv` (the first that does).
fn specs_by_position<'s>(command: &str, argv: &[&[u8]]) -> (&'s [Spec], HashMap<usize, &'s Spec>) {
    let specs = table().get(command).map(Vec::as_slice).unwrap_or(&[]);
    let mut by_pos: HashMap<usize, &Spec> = HashMap::new();
    for s in specs {
        if let Some((first, last, step)) = spec_range(s, argv) {
            for p in (first..=last).step_by(step) {
                by_pos.entry(p).or_insert(s);
            }
        }
    }
    (specs, by_pos)
}

/// The key-spec flags of each key at `positions` (COMMAND GETKEYSANDFLAGS).
pub fn key_flags(command: &str, argv: &[&[u8]], positions: &[usize]) -> Vec<Vec<&'static str>> {
    let (specs, by_pos) = specs_by_position(command, argv);
    positions
        .iter()
        .map(|pos| {
            // SET and BITFIELD name their flags by their arguments, as their getkeys procs do.
            match (command, variable_flags(command, argv)) {
                ("set", (true, _)) => vec!["RW", "ACCESS", "UPDATE"],
                ("set", _) => vec!["OW", "UPDATE"],
                ("bitfield", (_, false)) => vec!["RO", "ACCESS"],
                ("bitfield", _) => vec!["RW", "ACCESS", "UPDATE"],
                _ => by_pos.get(pos).copied().or(specs.last()).map_or_else(Vec::new, |s| s.flags.clone()),
            }
        })
        .collect()
}

/// What `command` (full lowercase name) does with the keys at `positions`.
pub fn key_uses(command: &str, argv: &[&[u8]], positions: &[usize]) -> Vec<KeyUse> {
    let (specs, by_pos) = specs_by_position(command, argv);
    if !specs.is_empty() && specs.iter().all(|s| s.not_key) {
        return Vec::new();
    }
    // A key no spec places (SORT's STORE, found by the command's own
    // parser) takes the last spec's use; a command without specs, both.
    let fallback = specs.last().map_or((true, true), |s| (s.read, s.write));
    let variable = specs.iter().any(|s| s.variable);
    positions
        .iter()
        .map(|&pos| {
            let (mut read, mut write) = by_pos.get(&pos).map_or(fallback, |s| (s.read, s.write));
            if variable {
                (read, write) = variable_flags(command, argv);
            }
            KeyUse { pos, read, write }
        })
        .collect()
}

/// SET and BITFIELD decide by their arguments (Redis's `setGetKeys`,
/// `bitfieldGetKeys`): SET ... GET reads, BITFIELD with only GET reads.
fn variable_flags(command: &str, argv: &[&[u8]]) -> (bool, bool) {
    match command {
        "set" => {
            let get = argv.iter().skip(3).any(|a| a.eq_ignore_ascii_case(b"get"));
            (get, true)
        }
        "bitfield" => {
            let mut i = 2;
            let mut writes = false;
            while i < argv.len() {
                let op = argv[i];
                if op.eq_ignore_ascii_case(b"get") {
                    i += 3;
                } else if op.eq_ignore_ascii_case(b"overflow") {
                    i += 2;
                } else {
                    writes = true;
                    break;
                }
            }
            (true, writes)
        }
        _ => (true, true),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn uses(cmd: &str, argv: &[&str], pos: &[usize]) -> Vec<(usize, bool, bool)> {
        let a: Vec<&[u8]> = argv.iter().map(|s| s.as_bytes()).collect();
        key_uses(cmd, &a, pos).into_iter().map(|k| (k.pos, k.read, k.write)).collect()
    }

    #[test]
    fn flags_follow_redis_key_specs() {
        assert_eq!(uses("get", &["get", "k"], &[1]), [(1, true, false)]);
        assert_eq!(uses("lpush", &["lpush", "k", "v"], &[1]), [(1, false, true)]);
        assert_eq!(uses("incr", &["incr", "k"], &[1]), [(1, true, true)]);
        assert_eq!(uses("exists", &["exists", "a", "b"], &[1, 2]), [(1, false, false), (2, false, false)]);
        assert_eq!(uses("copy", &["copy", "s", "d"], &[1, 2]), [(1, true, false), (2, false, true)]);
        assert_eq!(uses("set", &["set", "k", "v"], &[1]), [(1, false, true)]);
        assert_eq!(uses("set", &["set", "k", "v", "GET"], &[1]), [(1, true, true)]);
        assert_eq!(uses("bitfield", &["bitfield", "k", "get", "u8", "0"], &[1]), [(1, true, false)]);
        assert_eq!(uses("bitfield", &["bitfield", "k", "set", "u8", "0", "1"], &[1]), [(1, true, true)]);
        let z = uses("zunionstore", &["zunionstore", "d", "2", "a", "b"], &[1, 3, 4]);
        assert_eq!(z, [(1, false, true), (3, true, false), (4, true, false)]);
        let m = uses("migrate", &["migrate", "h", "1", "", "0", "5", "KEYS", "a", "b"], &[7, 8]);
        assert_eq!(m, [(7, true, true), (8, true, true)]);
        assert!(uses("spublish", &["spublish", "ch", "m"], &[1]).is_empty(), "a shard channel is not a key");
        assert_eq!(uses("sort", &["sort", "s", "store", "d"], &[1, 3]), [(1, true, false), (3, false, true)]);
    }
}
