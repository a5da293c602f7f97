//! redis.conf parsing. The same file drives `redis-server` and our node, so we
//! accept every directive Redis 7.0 accepts (defaults come from Redis's own
//! `CONFIG GET *`), act on the ones that change our behaviour, and stop on an
//! unknown directive with Redis's message and the line number.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Redis 7.0's directives and defaults, as `CONFIG GET *` prints them.
const DEFAULTS_TSV: &str = include_str!("config_defaults.tsv");

/// Directives Redis 7 still reads but ignores (old ziplist list settings).
const DEAD_DIRECTIVES: &[&str] = &["list-max-ziplist-entries", "list-max-ziplist-value"];

/// Directives whose values are memory sizes (`64mb`); stored in bytes.
/// Directives that take `no`, `yes` or `local` (loopback clients only).
const PROTECTED_ACTION_DIRECTIVES: &[&str] = &["enable-debug-command", "enable-module-command", "enable-protected-configs"];

const MEMORY_DIRECTIVES: &[&str] = &[
    "maxmemory",
    "auto-aof-rewrite-min-size",
    "repl-backlog-size",
    "proto-max-bulk-len",
    "client-query-buffer-limit",
    "active-defrag-ignore-bytes",
    "hll-sparse-max-bytes",
    "maxmemory-clients",
];

/// Directives CONFIG GET lists only when asked for by their exact name (Redis's HIDDEN_CONFIG).
const HIDDEN: &[&str] =
    &["use-exit-on-panic", "rdb-key-save-delay", "key-load-delay", "watchdog-period", "loading-process-events-interval-bytes"];

/// Directives that take several values; each line appends.
const MULTI_ARG: &[&str] = &["save", "client-output-buffer-limit", "bind", "rename-command", "user", "loadmodule"];

/// Pairs of names for the same setting (Redis 5 renamed slave to replica).
const ALIASES: &[(&str, &str)] = &[
    ("slaveof", "replicaof"),
    ("slave-serve-stale-data", "replica-serve-stale-data"),
    ("slave-read-only", "replica-read-only"),
    ("slave-priority", "replica-priority"),
    ("slave-lazy-flush", "replica-lazy-flush"),
    ("slave-ignore-maxmemory", "replica-ignore-maxmemory"),
    ("slave-announce-ip", "replica-announce-ip"),
    ("slave-announce-port", "replica-announce-port"),
    ("min-slaves-to-write", "min-replicas-to-write"),
    ("lua-time-limit", "busy-reply-threshold"),
    ("min-slaves-max-lag", "min-replicas-max-lag"),
    ("repl-ping-slave-period", "repl-ping-replica-period"),
    ("cluster-slave-validity-factor", "cluster-replica-validity-factor"),
    ("cluster-slave-no-failover", "cluster-replica-no-failover"),
    ("hash-max-ziplist-entries", "hash-max-listpack-entries"),
    ("hash-max-ziplist-value", "hash-max-listpack-value"),
    ("zset-max-ziplist-entries", "zset-max-listpack-entries"),
    ("zset-max-ziplist-value", "zset-max-listpack-value"),
    ("list-max-ziplist-size", "list-max-listpack-size"),
];

/// A config problem, worded as Redis words it so users recognise it.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {path}: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    #[error("\n*** FATAL CONFIG FILE ERROR (slot-node) ***\nReading the configuration file{}, at line {line}\n>>> '{text}'\n{reason}", .file.as_ref().map(|f| format!(" {}", f.display())).unwrap_or_default())]
    Directive { file: Option<PathBuf>, line: usize, text: String, reason: String },
}

/// A parsed, validated redis.conf: every directive's current value by name.
#[derive(Debug, Clone)]
pub struct NodeConfig {
    values: BTreeMap<String, String>,
    /// Secret for the supervisor's fault-injection command; never shown by CONFIG GET.
    pub admin_token: Option<String>,
    /// The file it came from, for CONFIG REWRITE and messages.
    pub file: Option<PathBuf>,
    /// `user NAME rules...` directives, one token list each (ACL users).
    pub users: Vec<Vec<String>>,
}

fn canonical(name: &str) -> &str {
    for (old, new) in ALIASES {
        if name == *old {
            return new;
        }
    }
    name
}

fn defaults() -> BTreeMap<String, String> {
    let mut m = BTreeMap::new();
    for line in DEFAULTS_TSV.lines() {
        let mut it = line.splitn(2, '\t');
        let name = it.next().unwrap_or_default();
        let value = it.next().unwrap_or_default();
        if !name.is_empty() {
            m.insert(canonical(name).to_string(), value.to_string());
        }
    }
    m
}

/// Parses a memory size such as `64mb`, `1gb`, `100k` into bytes.
pub fn parse_memory(s: &str) -> Option<i64> {
    let lower = s.to_ascii_lowercase();
    let units: &[(&str, i64)] =
        &[("gb", 1 << 30), ("mb", 1 << 20), ("kb", 1 << 10), ("g", 1_000_000_000), ("m", 1_000_000), ("k", 1_000), ("b", 1)];
    for (suffix, mul) in units {
        if let Some(num) = lower.strip_suffix(suffix) {
            return num.parse::<i64>().ok()?.checked_mul(*mul);
        }
    }
    lower.parse().ok()
}

/// Splits a config line like Redis's sdssplitargs: spaces, "double" and 'single' quotes.
pub fn split_args(line: &str) -> Option<Vec<String>> {
    let mut out = Vec::new();
    let mut chars = line.chars().peekable();
    loop {
        while chars.peek().is_some_and(|c| c.is_whitespace()) {
            chars.next();
        }
        let Some(&first) = chars.peek() else {
            return Some(out);
        };
        let mut cur = String::new();
        if first == '"' || first == '\'' {
            chars.next();
            let mut closed = false;
            while let Some(c) = chars.next() {
                if c == first {
                    closed = true;
                    break;
                }
                if c == '\\' && first == '"' {
                    match chars.next()? {
                        'n' => cur.push('\n'),
                        'r' => cur.push('\r'),
                        't' => cur.push('\t'),
                        other => cur.push(other),
                    }
                } else {
                    cur.push(c);
                }
            }
            if !closed {
                return None;
            }
            if chars.peek().is_some_and(|c| !c.is_whitespace()) {
                return None;
            }
        } else {
            while let Some(&c) = chars.peek() {
                if c.is_whitespace() {
                    break;
                }
                cur.push(c);
                chars.next();
            }
        }
        out.push(cur);
    }
}

impl Default for NodeConfig {
    fn default() -> Self {
        NodeConfig { values: defaults(), admin_token: None, file: None, users: Vec::new() }
    }
}

impl NodeConfig {
    /// Loads a redis.conf file.
    ///
    /// # Errors
    /// The file cannot be read, or a line is not a valid directive.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read { path: path.to_path_buf(), source })?;
        let mut cfg = NodeConfig { file: Some(path.to_path_buf()), ..NodeConfig::default() };
        cfg.apply_text(&text, Some(path))?;
        Ok(cfg)
    }

    /// Builds a config like `redis-server [file] [--directive value ...]` does.
    ///
    /// # Errors
    /// As [`NodeConfig::load`].
    pub fn from_args(args: &[String]) -> Result<Self, ConfigError> {
        let mut cfg = NodeConfig::default();
        let mut rest = args;
        if let Some(first) = args.first() {
            if !first.starts_with("--") {
                cfg = NodeConfig::load(Path::new(first))?;
                rest = &args[1..];
            }
        }
        let mut text = String::new();
        for arg in rest {
            if let Some(name) = arg.strip_prefix("--") {
                if !text.is_empty() {
                    text.push('\n');
                }
                text.push_str(name);
            } else {
                text.push(' ');
                text.push_str(&quote(arg));
            }
        }
        cfg.apply_text(&text, None)?;
        Ok(cfg)
    }

    /// Applies redis.conf text on top of the current values.
    ///
    /// # Errors
    /// The first bad line, with its number and Redis's reason.
    pub fn apply_text(&mut self, text: &str, file: Option<&Path>) -> Result<(), ConfigError> {
        let mut seen_multi: Vec<String> = Vec::new();
        for (idx, raw) in text.lines().enumerate() {
            let line = raw.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let fail = |reason: &str| ConfigError::Directive {
                file: file.map(Path::to_path_buf),
                line: idx + 1,
                text: line.to_string(),
                reason: reason.to_string(),
            };
            let args = split_args(line).ok_or_else(|| fail("Unbalanced quotes in configuration line"))?;
            let Some((name, vals)) = args.split_first() else {
                continue;
            };
            let name = name.to_ascii_lowercase();
            if name == "include" {
                let Some(inc) = vals.first() else {
                    return Err(fail("Bad directive or wrong number of arguments"));
                };
                let inc_text = std::fs::read_to_string(inc).map_err(|e| fail(&format!("cannot read include file: {e}")))?;
                self.apply_text(&inc_text, Some(Path::new(inc)))?;
                continue;
            }
            if DEAD_DIRECTIVES.contains(&name.as_str()) {
                continue;
            }
            if name == "slotd-admin-token" && vals.len() == 1 {
                self.admin_token = Some(vals[0].clone()).filter(|t| !t.is_empty());
                continue;
            }
            let key = canonical(&name).to_string();
            if key == "user" {
                self.users.push(vals.to_vec());
                continue;
            }
            if MULTI_ARG.contains(&key.as_str()) {
                // First occurrence in this text replaces the default, later ones append.
                let joined = vals.join(" ");
                if seen_multi.contains(&key) {
                    let cur = self.values.entry(key.clone()).or_default();
                    if !joined.is_empty() {
                        if !cur.is_empty() {
                            cur.push(' ');
                        }
                        cur.push_str(&joined);
                    }
                } else {
                    self.set_checked(&key, &joined).map_err(|r| fail(&r))?;
                    seen_multi.push(key);
                }
                continue;
            }
            if vals.len() != 1 || !self.values.contains_key(&key) {
                if vals.len() == 2 && (key == "replicaof") {
                    self.values.insert(key, vals.join(" "));
                    continue;
                }
                return Err(fail("Bad directive or wrong number of arguments"));
            }
            self.set_checked(&key, &vals[0]).map_err(|r| fail(&r))?;
        }
        Ok(())
    }

    /// Sets one directive after checking its value; the reason is Redis's text.
    ///
    /// # Errors
    /// The reason the value is not accepted.
    /// Sets a directive at run time (CONFIG SET), checking the value as Redis does.
    pub fn set_checked(&mut self, name: &str, value: &str) -> Result<(), String> {
        let key = canonical(&name.to_ascii_lowercase()).to_string();
        let Some(current) = self.values.get(&key) else {
            return Err(format!("Unknown option or number of arguments for CONFIG SET - '{name}'"));
        };
        let stored = if key == "maxmemory-clients" && value.ends_with('%') {
            // A share of maxmemory, as Redis 7.0 allows for client eviction.
            let n: u64 = value[..value.len() - 1].parse().map_err(|_| "argument must be a memory or percent value".to_string())?;
            if n > 100 {
                return Err("percentage argument must be less or equal to 100".into());
            }
            format!("{n}%")
        } else if MEMORY_DIRECTIVES.contains(&key.as_str()) {
            parse_memory(value).ok_or_else(|| "argument must be a memory value".to_string())?.to_string()
        } else if PROTECTED_ACTION_DIRECTIVES.contains(&key.as_str()) {
            match value.to_ascii_lowercase().as_str() {
                v @ ("yes" | "no" | "local") => v.to_string(),
                _ => return Err("argument(s) must be one of the following: no, yes, local".to_string()),
            }
        } else if key == "oom-score-adj" {
            // `relative` is `yes` (Redis shows the first name of the value).
            match value.to_ascii_lowercase().as_str() {
                "yes" | "relative" => "yes".to_string(),
                v @ ("no" | "absolute") => v.to_string(),
                _ => return Err("argument(s) must be one of the following: no, yes, relative, absolute".to_string()),
            }
        } else if key == "oom-score-adj-values" {
            let v = crate::util::oom::parse_values(value)?;
            format!("{} {} {}", v[0], v[1], v[2])
        } else if current == "yes" || current == "no" {
            match value.to_ascii_lowercase().as_str() {
                "yes" | "no" => value.to_ascii_lowercase(),
                _ => return Err("argument must be 'yes' or 'no'".to_string()),
            }
        } else if !current.is_empty() && current.parse::<i64>().is_ok() && key != "save" {
            value.parse::<i64>().map_err(|_| "argument couldn't be parsed into an integer".to_string())?.to_string()
        } else {
            value.to_string()
        };
        if key == "cluster-announce-hostname" {
            valid_hostname(&stored)?;
        }
        let stored = if key == "cluster-preferred-endpoint-type" {
            match stored.to_ascii_lowercase().as_str() {
                v @ ("ip" | "hostname" | "unknown-endpoint") => v.to_string(),
                _ => return Err("argument(s) must be one of the following: ip, hostname, unknown-endpoint".to_string()),
            }
        } else {
            stored
        };
        if key == "latency-tracking-info-percentiles"
            && stored.split_whitespace().any(|p| !p.parse::<f64>().is_ok_and(|v| (0.0..=100.0).contains(&v)))
        {
            return Err("latency-tracking-info-percentiles should be a list of numbers between 0 and 100".to_string());
        }
        // Stored as Redis shows it: "0.0 50.0" reads back "0 50".
        let stored = if key == "latency-tracking-info-percentiles" {
            stored.split_whitespace().filter_map(|p| p.parse::<f64>().ok()).map(percentile_text).collect::<Vec<_>>().join(" ")
        } else {
            stored
        };
        if key == "save" {
            let parts: Vec<&str> = stored.split_whitespace().collect();
            if parts.len() % 2 != 0 || parts.iter().any(|p| p.parse::<u64>().is_err()) {
                return Err("Invalid save parameters".to_string());
            }
        }
        // notify-keyspace-events keeps the letters given (CONFIG GET shows
        // Redis's canonical form, which can drop `n` next to `A`).
        let stored = if key == "client-output-buffer-limit" { merge_output_limits(current, &stored)? } else { stored };
        let stored = if key == "notify-keyspace-events" {
            crate::util::events::parse(&stored).ok_or_else(|| "Invalid event class character. Use 'Ag$lshzxeKEtmdn'.".to_string())?;
            stored
        } else if key == "maxmemory-policy" {
            stored.to_ascii_lowercase()
        } else {
            stored
        };
        if key == "maxmemory-policy"
            && !matches!(
                stored.as_str(),
                "volatile-lru"
                    | "volatile-lfu"
                    | "volatile-random"
                    | "volatile-ttl"
                    | "allkeys-lru"
                    | "allkeys-lfu"
                    | "allkeys-random"
                    | "noeviction"
            )
        {
            return Err("argument(s) must be one of the following: volatile-lru, volatile-lfu, volatile-random, volatile-ttl, allkeys-lru, allkeys-lfu, allkeys-random, noeviction".to_string());
        }
        if key == "appendfsync" && !matches!(stored.as_str(), "always" | "everysec" | "no") {
            return Err("argument(s) must be one of the following: always, everysec, no".to_string());
        }
        self.values.insert(key.clone(), stored.clone());
        // Keep the old alias readable with the same value, as Redis does.
        for (old, new) in ALIASES {
            if *new == key {
                self.values.insert((*old).to_string(), stored.clone());
            }
        }
        Ok(())
    }

    /// The value of a directive by any of its names.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.values.get(name).or_else(|| self.values.get(canonical(name))).map(String::as_str)
    }

    /// Every (name, value) pair matching a glob, for CONFIG GET.
    /// Every directive whose name matches `pattern`, old alias names
    /// included (as Redis 7 lists them: `hash-max-ziplist-value` next to
    /// `hash-max-listpack-value`, with the same value).
    pub fn matching<'a>(&'a self, pattern: &'a [u8]) -> impl Iterator<Item = (&'a str, Cow<'a, str>)> + 'a {
        let direct = self
            .values
            .iter()
            .filter(move |(k, _)| {
                if HIDDEN.contains(&k.as_str()) {
                    pattern.eq_ignore_ascii_case(k.as_bytes())
                } else {
                    crate::glob::glob_match(pattern, k.as_bytes(), true)
                }
            })
            .map(|(k, v)| (k.as_str(), Cow::Borrowed(v.as_str())))
            .map(|(k, v)| match k {
                "notify-keyspace-events" => {
                    (k, Cow::Owned(crate::util::events::parse(&v).map(crate::util::events::format).unwrap_or_default()))
                }
                _ => (k, v),
            });
        let aliases = ALIASES
            .iter()
            .filter(move |(old, _)| !self.values.contains_key(*old) && crate::glob::glob_match(pattern, old.as_bytes(), true))
            .filter_map(move |(old, new)| self.values.get(*new).map(|v| (*old, Cow::Borrowed(v.as_str()))));
        direct.chain(aliases)
    }

    fn int(&self, name: &str, fallback: i64) -> i64 {
        self.get(name).and_then(|v| v.parse().ok()).unwrap_or(fallback)
    }
    fn flag(&self, name: &str) -> bool {
        self.get(name) == Some("yes")
    }

    pub fn port(&self) -> u16 {
        self.int("port", 6379).clamp(0, 65535) as u16
    }
    /// The bus port: `cluster-port`, or port + 10000 as Redis does.
    pub fn cluster_port(&self) -> u16 {
        match self.int("cluster-port", 0) {
            0 => self.port().wrapping_add(10000),
            p => p.clamp(0, 65535) as u16,
        }
    }
    /// Addresses to listen on; Redis's `* -::*` means all IPv4 (and optional IPv6).
    pub fn bind(&self) -> Vec<String> {
        let raw = self.get("bind").unwrap_or("");
        let mut out = Vec::new();
        for a in raw.split_whitespace() {
            let optional = a.starts_with('-');
            let a = a.trim_start_matches('-');
            match a {
                "*" => out.push("0.0.0.0".to_string()),
                "::*" => {
                    if !optional {
                        out.push("::".to_string())
                    }
                }
                other => out.push(other.to_string()),
            }
        }
        // `bind ""` listens on no TCP address at all, as in Redis.
        out
    }
    pub fn dir(&self) -> PathBuf {
        PathBuf::from(self.get("dir").unwrap_or("."))
    }
    pub fn databases(&self) -> usize {
        self.int("databases", 16).clamp(1, 1 << 20) as usize
    }
    pub fn cluster_enabled(&self) -> bool {
        self.flag("cluster-enabled")
    }
    pub fn node_timeout_ms(&self) -> u64 {
        self.int("cluster-node-timeout", 15000).max(1) as u64
    }
    pub fn maxclients(&self) -> usize {
        self.int("maxclients", 10000).max(1) as usize
    }
    pub fn requirepass(&self) -> Option<&str> {
        self.get("requirepass").filter(|p| !p.is_empty())
    }
    /// Save points as (seconds, changes) pairs.
    pub fn save_points(&self) -> Vec<(u64, u64)> {
        let nums: Vec<u64> = self.get("save").unwrap_or("").split_whitespace().filter_map(|s| s.parse().ok()).collect();
        nums.chunks(2).filter(|c| c.len() == 2).map(|c| (c[0], c[1])).collect()
    }
    pub fn flag_named(&self, name: &str) -> bool {
        self.flag(name)
    }
    pub fn int_named(&self, name: &str, fallback: i64) -> i64 {
        self.int(name, fallback)
    }

    /// The whole config in redis.conf syntax, for CONFIG REWRITE.
    pub fn to_conf_text(&self) -> String {
        let base = NodeConfig::default();
        let mut out = String::from("# Rewritten by slot-node CONFIG REWRITE\n");
        for (k, v) in &self.values {
            if ALIASES.iter().any(|(old, _)| old == k) {
                continue;
            }
            // The master followed now is written by the caller, which knows it.
            if (base.values.get(k) == Some(v) && k != "port") || k == "replicaof" {
                continue;
            }
            if k == "save" && v.is_empty() {
                out.push_str("save \"\"\n");
                continue;
            }
            out.push_str(&format!("{k} {}\n", quote(v)));
        }
        out
    }
}

fn quote(v: &str) -> String {
    if v.is_empty() || v.contains(char::is_whitespace) && !v.split_whitespace().all(|p| p.parse::<i64>().is_ok()) {
        format!("\"{}\"", v.replace('\\', "\\\\").replace('"', "\\\""))
    } else {
        v.to_string()
    }
}

/// `client-output-buffer-limit` set at run time: the classes given replace
/// theirs in `current`, checked as Redis checks them, and the result is in
/// Redis's canonical form (`normal H S SECS slave H S SECS pubsub H S SECS`, bytes).
fn merge_output_limits(current: &str, value: &str) -> Result<String, String> {
    let parts: Vec<&str> = value.split_whitespace().collect();
    if parts.len() % 4 != 0 {
        return Err("Wrong number of arguments in buffer limit configuration.".to_string());
    }
    let class_of = |c: &str| match c.to_ascii_lowercase().as_str() {
        "normal" => Some(0),
        "slave" | "replica" => Some(1),
        "pubsub" => Some(2),
        _ => None,
    };
    let mut limits: [[i64; 3]; 3] = [[0; 3]; 3];
    for chunk in current.split_whitespace().collect::<Vec<_>>().chunks(4) {
        if let (Some(c), [_, h, s, t]) = (chunk.first().and_then(|c| class_of(c)), chunk) {
            limits[c] = [parse_memory(h).unwrap_or(0), parse_memory(s).unwrap_or(0), t.parse().unwrap_or(0)];
        }
    }
    let mut updates = Vec::new();
    for chunk in parts.chunks(4) {
        let class = class_of(chunk[0]).ok_or_else(|| "Invalid client class specified in buffer limit configuration.".to_string())?;
        let mut v = [0i64; 3];
        for (i, a) in chunk[1..].iter().enumerate() {
            v[i] = parse_memory(a)
                .filter(|n| *n >= 0)
                .ok_or_else(|| "Error in hard, soft or soft_seconds setting in buffer limit configuration.".to_string())?;
        }
        updates.push((class, v));
    }
    for (class, v) in updates {
        limits[class] = v;
    }
    let names = ["normal", "slave", "pubsub"];
    Ok(names.iter().zip(limits.iter()).map(|(n, l)| format!("{n} {} {} {}", l[0], l[1], l[2])).collect::<Vec<_>>().join(" "))
}

/// A percentile as Redis prints it (CONFIG GET, INFO latencystats): `%f`
/// with trailing zeros trimmed, so 99.9 is "99.9" and 50.0 is "50".
pub fn percentile_text(p: f64) -> String {
    let s = format!("{p:.6}");
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}

/// Redis's rule for `cluster-announce-hostname` (and hostnames gossiped to
/// us): under 256 bytes of letters, digits, `-` and `.`; empty means none.
///
/// # Errors
/// Redis's message for the first rule broken.
pub fn valid_hostname(v: &str) -> Result<(), String> {
    if v.len() >= 256 {
        return Err("Hostnames must be less than 256 characters".to_string());
    }
    if !v.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'.') {
        return Err("Hostnames may only contain alphanumeric characters, hyphens or dots".to_string());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn output_limits_merge_by_class_in_redis_form() {
        let cur = "normal 0 0 0 slave 268435456 67108864 60 pubsub 33554432 8388608 60";
        assert_eq!(
            merge_output_limits(cur, "pubsub 1mb 0 0").as_deref(),
            Ok("normal 0 0 0 slave 268435456 67108864 60 pubsub 1048576 0 0")
        );
        assert_eq!(
            merge_output_limits(cur, "replica 1kb 2kb 5").as_deref(),
            Ok("normal 0 0 0 slave 1024 2048 5 pubsub 33554432 8388608 60")
        );
        assert!(merge_output_limits(cur, "master 1 1 1").is_err_and(|e| e.contains("Invalid client class")));
        assert!(merge_output_limits(cur, "normal 1 1").is_err_and(|e| e.contains("Wrong number")));
        assert!(merge_output_limits(cur, "normal 1 1 60s").is_err_and(|e| e.contains("soft_seconds")));
    }

    #[test]
    fn unknown_directive_names_line() {
        let mut c = NodeConfig::default();
        let err = c.apply_text("port 7000\nfoo bar\n", None).unwrap_err().to_string();
        assert!(err.contains("at line 2"), "{err}");
        assert!(err.contains("Bad directive or wrong number of arguments"), "{err}");
    }

    #[test]
    fn save_lines_accumulate_and_memory_units() {
        let mut c = NodeConfig::default();
        c.apply_text("save 900 1\nsave 300 10\nauto-aof-rewrite-min-size 64mb\nslave-read-only no", None).unwrap();
        assert_eq!(c.save_points(), vec![(900, 1), (300, 10)]);
        assert_eq!(c.get("auto-aof-rewrite-min-size"), Some("67108864"));
        assert_eq!(c.get("replica-read-only"), Some("no"));
        assert_eq!(c.get("slave-read-only"), Some("no"));
    }

    #[test]
    fn args_like_redis_server() {
        let c = NodeConfig::from_args(&["--port".into(), "7100".into(), "--save".into(), "".into()]).unwrap();
        assert_eq!(c.port(), 7100);
        assert!(c.save_points().is_empty());
        assert_eq!(c.cluster_port(), 17100);
    }
}
