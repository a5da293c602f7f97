//! A user and its selectors, and the ACL SETUSER rules that change them
//! (Redis's `ACLSetUser` / `ACLSetSelector`, with their errors).

use super::{hash_password, Commands, Denied, Request, RuleError};
use crate::glob::glob_match;
use std::collections::BTreeMap;

/// A key pattern may be used for reads, writes or both (`%R~`, `%W~`, `~`).
pub const READ: u8 = 1;
pub const WRITE: u8 = 2;

/// A set of permissions: which commands, keys and channels.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Selector {
    /// One bit per command id.
    pub allowed: Vec<u64>,
    /// Set by `+@all`/`allcommands` and kept until `-@all`: what Redis's
    /// reserved bit records, so descriptions start from `+@all`.
    pub all_bit: bool,
    pub allcommands: bool,
    pub allkeys: bool,
    pub allchannels: bool,
    /// Allowed first arguments of otherwise blocked commands (`+select|0`).
    pub firstargs: BTreeMap<usize, Vec<String>>,
    pub patterns: Vec<(String, u8)>,
    pub channels: Vec<String>,
}

impl Selector {
    pub fn new(cat: &dyn Commands, allchannels: bool) -> Selector {
        Selector {
            allowed: vec![0; cat.count().div_ceil(64)],
            all_bit: false,
            allcommands: false,
            allkeys: false,
            allchannels,
            firstargs: BTreeMap::new(),
            patterns: Vec::new(),
            channels: Vec::new(),
        }
    }

    pub fn bit(&self, id: usize) -> bool {
        self.allowed.get(id / 64).is_some_and(|w| w & (1 << (id % 64)) != 0)
    }

    fn set_bit(&mut self, id: usize, on: bool) {
        if let Some(w) = self.allowed.get_mut(id / 64) {
            if on {
                *w |= 1 << (id % 64);
            } else {
                *w &= !(1 << (id % 64));
            }
        }
    }

    /// Allows or blocks a command and, for a container, all its subcommands.
    pub fn change(&mut self, cat: &dyn Commands, id: usize, allow: bool) {
        self.set_bit(id, allow);
        self.firstargs.remove(&id);
        if !allow {
            self.allcommands = false;
        }
        for &sub in cat.subcommands(id) {
            self.change(cat, sub, allow);
        }
    }

    /// Every command, key and channel: checks can be skipped.
    pub fn unrestricted(&self) -> bool {
        self.allcommands && self.allkeys && self.allchannels
    }

    fn set_all_commands(&mut self, on: bool) {
        for w in &mut self.allowed {
            *w = if on { u64::MAX } else { 0 };
        }
        self.all_bit = on;
        self.allcommands = on;
        self.firstargs.clear();
    }

    /// Applies one selector rule.
    pub fn apply(&mut self, op: &str, cat: &dyn Commands) -> Result<(), RuleError> {
        let lower = op.to_ascii_lowercase();
        match lower.as_str() {
            "allkeys" | "~*" => {
                self.allkeys = true;
                self.patterns.clear();
                return Ok(());
            }
            "resetkeys" => {
                self.allkeys = false;
                self.patterns.clear();
                return Ok(());
            }
            "allchannels" | "&*" => {
                self.allchannels = true;
                self.channels.clear();
                return Ok(());
            }
            "resetchannels" => {
                self.allchannels = false;
                self.channels.clear();
                return Ok(());
            }
            "allcommands" | "+@all" => {
                self.set_all_commands(true);
                return Ok(());
            }
            "nocommands" | "-@all" => {
                self.set_all_commands(false);
                return Ok(());
            }
            _ => {}
        }
        let bytes = op.as_bytes();
        match bytes.first() {
            Some(b'~') | Some(b'%') => self.add_key_pattern(op),
            Some(b'&') => {
                if self.allchannels {
                    return Err(RuleError::ChannelAfterAll);
                }
                let pat = &op[1..];
                if pat.bytes().any(|b| b.is_ascii_whitespace() || b == 0) {
                    return Err(RuleError::Syntax);
                }
                if !self.channels.iter().any(|c| c == pat) {
                    self.channels.push(pat.to_string());
                }
                Ok(())
            }
            Some(b'+') if bytes.get(1) == Some(&b'@') => self.category(&lower[2..], cat, true),
            Some(b'-') if bytes.get(1) == Some(&b'@') => self.category(&lower[2..], cat, false),
            Some(b'+') => self.allow_command(&lower[1..], &op[1..], cat),
            Some(b'-') => {
                let id = cat.find(&lower[1..]).ok_or(RuleError::UnknownName)?;
                self.change(cat, id, false);
                Ok(())
            }
            _ => Err(RuleError::Syntax),
        }
    }

    fn add_key_pattern(&mut self, op: &str) -> Result<(), RuleError> {
        if self.allkeys {
            return Err(RuleError::KeyAfterAll);
        }
        let (flags, pat) = if let Some(rest) = op.strip_prefix('%') {
            let mut flags = 0u8;
            let mut end = None;
            for (i, c) in rest.char_indices() {
                match c {
                    'R' | 'r' if flags & READ == 0 => flags |= READ,
                    'W' | 'w' if flags & WRITE == 0 => flags |= WRITE,
                    '~' => {
                        end = Some(i);
                        break;
                    }
                    _ => return Err(RuleError::Syntax),
                }
            }
            // `%R` without `~`, or `%~x` with no flag, are refused (Redis
            // would store an unusable pattern).
            let Some(end) = end else { return Err(RuleError::Syntax) };
            if flags == 0 {
                return Err(RuleError::Syntax);
            }
            (flags, &rest[end + 1..])
        } else {
            (READ | WRITE, &op[1..])
        };
        if pat.bytes().any(|b| b.is_ascii_whitespace() || b == 0) {
            return Err(RuleError::Syntax);
        }
        match self.patterns.iter_mut().find(|(p, _)| p == pat) {
            Some((_, f)) => *f |= flags,
            None => self.patterns.push((pat.to_string(), flags)),
        }
        Ok(())
    }

    fn category(&mut self, name: &str, cat: &dyn Commands, allow: bool) -> Result<(), RuleError> {
        let full = format!("@{name}");
        if !super::CATEGORIES.contains(&full.as_str()) {
            return Err(RuleError::UnknownName);
        }
        for id in super::category_members(cat, &full) {
            self.change(cat, id, allow);
        }
        Ok(())
    }

    /// `+cmd`, `+container|sub`, or `+cmd|firstarg` for a non-container.
    fn allow_command(&mut self, lower: &str, orig: &str, cat: &dyn Commands) -> Result<(), RuleError> {
        let Some((base, sub)) = lower.rsplit_once('|') else {
            let id = cat.find(lower).ok_or(RuleError::UnknownName)?;
            self.change(cat, id, true);
            return Ok(());
        };
        let id = cat.find(base).ok_or(RuleError::UnknownName)?;
        if base.contains('|') {
            return Err(RuleError::SubcommandFirstArg);
        }
        if sub.is_empty() {
            return Err(RuleError::Syntax);
        }
        if !cat.subcommands(id).is_empty() {
            let sub_id = cat.find(lower).ok_or(RuleError::UnknownName)?;
            self.change(cat, sub_id, true);
            return Ok(());
        }
        let arg = orig.rsplit_once('|').map_or(sub, |(_, a)| a);
        let args = self.firstargs.entry(id).or_default();
        if !args.iter().any(|a| a.eq_ignore_ascii_case(arg)) {
            args.push(arg.to_string());
        }
        Ok(())
    }

    /// Redis's `ACLSelectorCheckCmd`: the command, then each key, then each channel.
    pub fn check(&self, req: &Request<'_>) -> Result<(), (Denied, usize)> {
        let (id, argv) = (req.id, req.argv);
        if !self.allcommands && !req.no_auth && !self.bit(id) {
            let first_ok = argv
                .get(1)
                .is_some_and(|a| self.firstargs.get(&id).is_some_and(|args| args.iter().any(|x| x.as_bytes().eq_ignore_ascii_case(a))));
            if !first_ok {
                return Err((Denied::Command, 0));
            }
        }
        if !self.allkeys {
            for k in &req.keys {
                let need = if k.read { READ } else { 0 } | if k.write { WRITE } else { 0 };
                let key = argv.get(k.pos).copied().unwrap_or_default();
                let ok = self.patterns.iter().any(|(p, f)| f & need == need && glob_match(p.as_bytes(), key, false));
                if !ok {
                    return Err((Denied::Key, k.pos));
                }
            }
        }
        if !self.allchannels {
            for c in &req.channels {
                let ch = argv.get(c.pos).copied().unwrap_or_default();
                let ok = if c.pattern {
                    self.channels.iter().any(|p| p.as_bytes() == ch)
                } else {
                    self.channels.iter().any(|p| glob_match(p.as_bytes(), ch, false))
                };
                if !ok {
                    return Err((Denied::Channel, c.pos));
                }
            }
        }
        Ok(())
    }
}

/// A user: on/off, passwords, and its selectors (the first is the root).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    pub name: String,
    pub enabled: bool,
    pub nopass: bool,
    pub skip_sanitize: bool,
    pub sanitize: bool,
    /// SHA-256 hex of each password, in the order they were added.
    pub passwords: Vec<String>,
    pub selectors: Vec<Selector>,
}

impl User {
    /// A new user: off, no password, no permissions.
    pub fn new(name: &str, cat: &dyn Commands, pubsub_all: bool) -> User {
        User {
            name: name.to_string(),
            enabled: false,
            nopass: false,
            skip_sanitize: false,
            sanitize: false,
            passwords: Vec::new(),
            selectors: vec![Selector::new(cat, pubsub_all)],
        }
    }

    /// The `default` user: `on nopass ~* &* +@all`.
    pub fn new_default(cat: &dyn Commands) -> User {
        let mut u = User::new("default", cat, true);
        for op in ["+@all", "~*", "&*", "on", "nopass"] {
            // These rules are always valid.
            let _ = u.apply(op, cat, true);
        }
        u
    }

    pub fn password_ok(&self, p: &[u8]) -> bool {
        if self.nopass {
            return true;
        }
        let h = hash_password(p);
        // Compare against every hash, so the time does not say which one matched.
        self.passwords.iter().fold(false, |found, x| found | (x.as_bytes() == h.as_bytes()))
    }

    /// Applies one ACL SETUSER rule.
    pub fn apply(&mut self, op: &str, cat: &dyn Commands, pubsub_all: bool) -> Result<(), RuleError> {
        let lower = op.to_ascii_lowercase();
        match lower.as_str() {
            "" => return Ok(()),
            "on" => self.enabled = true,
            "off" => self.enabled = false,
            "skip-sanitize-payload" => {
                self.skip_sanitize = true;
                self.sanitize = false;
            }
            "sanitize-payload" => {
                self.skip_sanitize = false;
                self.sanitize = true;
            }
            "nopass" => {
                self.nopass = true;
                self.passwords.clear();
            }
            "resetpass" => {
                self.nopass = false;
                self.passwords.clear();
            }
            "clearselectors" => self.selectors.truncate(1),
            "reset" => {
                for step in ["resetpass", "resetkeys", "resetchannels"] {
                    self.apply(step, cat, pubsub_all)?;
                }
                if pubsub_all {
                    self.apply("allchannels", cat, pubsub_all)?;
                }
                for step in ["off", "sanitize-payload", "clearselectors", "-@all"] {
                    self.apply(step, cat, pubsub_all)?;
                }
            }
            _ => return self.apply_other(op, cat, pubsub_all),
        }
        Ok(())
    }

    fn apply_other(&mut self, op: &str, cat: &dyn Commands, pubsub_all: bool) -> Result<(), RuleError> {
        if let Some(p) = op.strip_prefix('>') {
            let h = hash_password(p.as_bytes());
            if !self.passwords.contains(&h) {
                self.passwords.push(h);
            }
            self.nopass = false;
            return Ok(());
        }
        if let Some(h) = op.strip_prefix('#') {
            valid_hash(h)?;
            if !self.passwords.iter().any(|x| x == h) {
                self.passwords.push(h.to_string());
            }
            self.nopass = false;
            return Ok(());
        }
        if let Some(p) = op.strip_prefix('<') {
            let h = hash_password(p.as_bytes());
            let at = self.passwords.iter().position(|x| *x == h).ok_or(RuleError::NoSuchPassword)?;
            self.passwords.remove(at);
            return Ok(());
        }
        if let Some(h) = op.strip_prefix('!') {
            valid_hash(h)?;
            let at = self.passwords.iter().position(|x| x == h).ok_or(RuleError::NoSuchPassword)?;
            self.passwords.remove(at);
            return Ok(());
        }
        if op.len() >= 2 && op.starts_with('(') && op.ends_with(')') {
            let mut s = Selector::new(cat, pubsub_all);
            for rule in crate::config::split_args(&op[1..op.len() - 1]).ok_or(RuleError::Syntax)? {
                s.apply(&rule, cat)?;
            }
            self.selectors.push(s);
            return Ok(());
        }
        self.selectors[0].apply(op, cat)
    }

    /// Allowed when one selector allows the whole command; otherwise the
    /// worst refusal (a channel over a key over the command, the later argument on ties).
    pub fn check(&self, req: &Request<'_>) -> Result<(), (Denied, usize)> {
        let mut worst = (Denied::Command, 0);
        for s in &self.selectors {
            match s.check(req) {
                Ok(()) => return Ok(()),
                Err(e) => {
                    if e.0 > worst.0 || (e.0 == worst.0 && e.1 > worst.1) {
                        worst = e;
                    }
                }
            }
        }
        Err(worst)
    }

    /// Whether one selector that allows the command may also read every key
    /// (SORT's BY and GET patterns reach keys no argument names).
    pub fn reads_any_key(&self, req: &Request<'_>) -> bool {
        self.selectors.iter().any(|s| s.check(req).is_ok() && (s.allkeys || s.patterns.iter().any(|(p, f)| p == "*" && f & READ != 0)))
    }

    /// Names of the flags ACL GETUSER and ACL LIST show, in Redis's order.
    pub fn flag_names(&self) -> Vec<&'static str> {
        let mut out = vec![if self.enabled { "on" } else { "off" }];
        if self.nopass {
            out.push("nopass");
        }
        if self.skip_sanitize {
            out.push("skip-sanitize-payload");
        }
        if self.sanitize {
            out.push("sanitize-payload");
        }
        out
    }
}

fn valid_hash(h: &str) -> Result<(), RuleError> {
    if h.len() == 64 && h.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)) {
        Ok(())
    } else {
        Err(RuleError::BadHash)
    }
}
