//! Access control as Redis 7.0 has it: users with passwords, and selectors
//! that allow commands, keys (read and/or write) and pub/sub channels.
//!
//! This layer knows commands only through the [`Commands`] catalog the
//! command layer hands it (ids, names, categories, subcommands), so rules
//! can be parsed and described without importing the command table.

pub mod describe;
pub mod keyspec;
pub mod log;
pub mod user;

pub use log::{AclLog, LogEntry};
pub use user::{Selector, User};

use std::collections::BTreeMap;

/// Redis's ACL categories, in the order ACL CAT and COMMAND INFO list them.
pub const CATEGORIES: &[&str] = &[
    "@keyspace",
    "@read",
    "@write",
    "@set",
    "@sortedset",
    "@list",
    "@hash",
    "@string",
    "@bitmap",
    "@hyperloglog",
    "@geo",
    "@stream",
    "@pubsub",
    "@admin",
    "@fast",
    "@slow",
    "@blocking",
    "@dangerous",
    "@connection",
    "@transaction",
    "@scripting",
];

/// The command table as ACL sees it. Ids are dense, `0..count()`; a
/// container and each of its subcommands have their own id.
pub trait Commands {
    fn count(&self) -> usize;
    /// The id of a command or `container|sub` by full lowercase name.
    fn find(&self, full_name: &str) -> Option<usize>;
    fn name(&self, id: usize) -> &'static str;
    /// Every category, `@`-prefixed, the implied ones included.
    fn categories(&self, id: usize) -> &[&'static str];
    fn subcommands(&self, id: usize) -> &[usize];
    /// Top-level commands in a fixed order (rule descriptions follow it).
    fn top_level(&self) -> &[usize];
}

/// Why a rule was refused: Redis's errno, worded by `message`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RuleError {
    UnknownName,
    Syntax,
    KeyAfterAll,
    ChannelAfterAll,
    NoSuchPassword,
    BadHash,
    Duplicate,
    SubcommandFirstArg,
}

impl RuleError {
    /// Redis's `ACLSetUserStringError` text.
    pub fn message(self) -> &'static str {
        match self {
            RuleError::UnknownName => "Unknown command or category name in ACL",
            RuleError::Syntax => "Syntax error",
            RuleError::KeyAfterAll => "Adding a pattern after the * pattern (or the 'allkeys' flag) is not valid and does not have any effect. Try 'resetkeys' to start with an empty list of patterns",
            RuleError::ChannelAfterAll => "Adding a pattern after the * pattern (or the 'allchannels' flag) is not valid and does not have any effect. Try 'resetchannels' to start with an empty list of channels",
            RuleError::NoSuchPassword => "The password you are trying to remove from the user does not exist",
            RuleError::BadHash => "The password hash must be exactly 64 characters and contain only lowercase hexadecimal characters",
            RuleError::Duplicate => "Duplicate user found. A user can only be defined once in config files",
            RuleError::SubcommandFirstArg => "Allowing first-arg of a subcommand is not supported",
        }
    }
}

/// What a permission check refused, ordered as Redis ranks them when no
/// selector allows a command (command < key < channel).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Denied {
    Command,
    Key,
    Channel,
}

impl Denied {
    /// The NOPERM reply.
    pub fn error(self, full_name: &str) -> String {
        match self {
            Denied::Command => format!("NOPERM this user has no permissions to run the '{full_name}' command"),
            Denied::Key => "NOPERM this user has no permissions to access one of the keys used as arguments".into(),
            Denied::Channel => "NOPERM this user has no permissions to access one of the channels used as arguments".into(),
        }
    }
    /// ACL LOG's `reason`.
    pub fn reason(self) -> &'static str {
        match self {
            Denied::Command => "command",
            Denied::Key => "key",
            Denied::Channel => "channel",
        }
    }
}

/// A key argument and what the command does with it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeyUse {
    pub pos: usize,
    pub read: bool,
    pub write: bool,
}

/// A channel argument; PSUBSCRIBE's are patterns, matched literally.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChannelUse {
    pub pos: usize,
    pub pattern: bool,
}

/// One command as a permission check sees it: which command, and what its
/// arguments name (built once by the command layer, tried on every selector).
#[derive(Debug)]
pub struct Request<'a> {
    pub id: usize,
    /// AUTH, HELLO, QUIT, RESET: allowed whatever the command rules.
    pub no_auth: bool,
    pub argv: &'a [&'a [u8]],
    pub keys: Vec<KeyUse>,
    pub channels: Vec<ChannelUse>,
}

/// The members of a category: every command and subcommand that has it.
pub fn category_members(cat: &dyn Commands, category: &str) -> Vec<usize> {
    let mut out = Vec::new();
    let mut stack: Vec<usize> = cat.top_level().to_vec();
    while let Some(id) = stack.pop() {
        if cat.categories(id).contains(&category) {
            out.push(id);
        }
        stack.extend_from_slice(cat.subcommands(id));
    }
    out
}

/// The users of one node. `default` always exists.
#[derive(Debug)]
pub struct Acl {
    pub users: BTreeMap<String, User>,
    pub log: AclLog,
    /// `acl-pubsub-default allchannels`: new selectors start with every channel.
    pub pubsub_default_all: bool,
    /// Bumped on every change, so clients can cache "this user may do anything".
    pub generation: u64,
}

impl Acl {
    pub fn new(cat: &dyn Commands) -> Acl {
        let mut users = BTreeMap::new();
        users.insert("default".to_string(), User::new_default(cat));
        Acl { users, log: AclLog::default(), pubsub_default_all: false, generation: 1 }
    }

    /// No users at all, until the node's start fills them in (no catalog here).
    pub fn empty() -> Acl {
        Acl { users: BTreeMap::new(), log: AclLog::default(), pubsub_default_all: false, generation: 1 }
    }

    pub fn user(&self, name: &str) -> Option<&User> {
        self.users.get(name)
    }

    /// Whether a new (or RESET) client is logged in as `default` without AUTH:
    /// `default` is on and needs no password (Redis's clientSetDefaultAuth).
    pub fn default_needs_no_auth(&self) -> bool {
        self.users.get("default").is_some_and(|u| u.enabled && u.nopass)
    }

    /// Whether `name` may run anything on any key and channel (checks can be skipped).
    pub fn unrestricted(&self, name: &str) -> bool {
        self.users.get(name).is_some_and(|u| u.selectors.first().is_some_and(Selector::unrestricted))
    }

    /// ACL SETUSER: applies `ops` to a copy of the user (a new one if it
    /// does not exist) and keeps it only if every op is valid.
    pub fn set_user(&mut self, name: &str, ops: &[String], cat: &dyn Commands) -> Result<(), (String, RuleError)> {
        let mut u = self.users.get(name).cloned().unwrap_or_else(|| User::new(name, cat, self.pubsub_default_all));
        for op in ops {
            u.apply(op, cat, self.pubsub_default_all).map_err(|e| (op.clone(), e))?;
        }
        self.users.insert(name.to_string(), u);
        self.generation += 1;
        Ok(())
    }

    /// AUTH's check: the user exists, is on, and the password is one of its own.
    pub fn authenticate(&self, name: &str, password: &[u8]) -> bool {
        self.users.get(name).is_some_and(|u| u.enabled && u.password_ok(password))
    }

    /// Whether `user` may run command `id` with these arguments, by any one selector.
    pub fn check(&self, user: &str, req: &Request<'_>) -> Result<(), (Denied, usize)> {
        let Some(u) = self.users.get(user) else { return Err((Denied::Command, 0)) };
        u.check(req)
    }
}

/// SHA-256 of a password as lowercase hex, as ACL stores and shows it.
pub fn hash_password(p: &[u8]) -> String {
    use sha2::Digest;
    let d = sha2::Sha256::digest(p);
    d.iter().map(|b| format!("{b:02x}")).collect()
}
