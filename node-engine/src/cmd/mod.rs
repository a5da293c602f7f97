//! Commands: each is a [`CommandSpec`] (name, arity, flags, key positions,
//! handler) declared next to its code in a family file, and every family's
//! table is listed once in [`all_commands`]. The server's dispatcher uses
//! the metadata for arity errors, COMMAND,
//! cluster routing, read-only replicas, WATCH and propagation.

pub mod acl;
pub mod args;
pub mod bitmaps;
pub mod call;
pub mod cluster;
pub mod command_docs;
pub mod connection;
pub mod geo;
pub mod hashes;
pub mod hyperloglog;
pub mod keys;
pub mod latency;
pub mod lists;
pub mod migrate;
pub mod persistence;
pub mod pubsub;
pub mod replay;
pub mod replication;
pub mod scripting;
pub mod server;
pub mod sets;
pub mod sort;
pub mod stream_groups;
pub mod stream_read;
pub mod streams;
pub mod strings;
pub mod transactions;
pub mod zsets;

use crate::client::Client;
use crate::node::Node;
use std::borrow::Cow;

/// Command flags (a subset of Redis's, printed by COMMAND).
pub mod flags {
    pub const WRITE: u32 = 1;
    pub const READONLY: u32 = 1 << 1;
    pub const DENYOOM: u32 = 1 << 2;
    pub const ADMIN: u32 = 1 << 3;
    pub const PUBSUB: u32 = 1 << 4;
    pub const NOSCRIPT: u32 = 1 << 5;
    pub const BLOCKING: u32 = 1 << 6;
    pub const LOADING: u32 = 1 << 7;
    pub const STALE: u32 = 1 << 8;
    pub const FAST: u32 = 1 << 9;
    pub const NO_AUTH: u32 = 1 << 10;
    pub const NO_MULTI: u32 = 1 << 11;
    pub const ALLOW_BUSY: u32 = 1 << 12;
    /// Not a write, but may add to the replication stream (PUBLISH, PFCOUNT, EVAL):
    /// CLIENT PAUSE WRITE holds it like a write.
    pub const MAY_REPLICATE: u32 = 1 << 13;
    /// Feeds MONITOR itself, before it runs (EVAL, FCALL and their forms):
    /// a script shows ahead of the commands it runs.
    pub const SKIP_MONITOR: u32 = 1 << 14;
    /// Not written to the slow log (EXEC: the commands it runs are).
    pub const SKIP_SLOWLOG: u32 = 1 << 15;
    /// Refused while a replica loads its master's snapshot behind the old
    /// dataset (async loading): REPLICAOF, SAVE, CLUSTER MEET, ...
    pub const NO_ASYNC_LOADING: u32 = 1 << 16;

    /// Names as COMMAND prints them, in Redis's order.
    pub const NAMES: &[(u32, &str)] = &[
        (WRITE, "write"),
        (READONLY, "readonly"),
        (DENYOOM, "denyoom"),
        (ADMIN, "admin"),
        (PUBSUB, "pubsub"),
        (NOSCRIPT, "noscript"),
        (BLOCKING, "blocking"),
        (LOADING, "loading"),
        (STALE, "stale"),
        (SKIP_SLOWLOG, "skip_slowlog"),
        (FAST, "fast"),
        (NO_AUTH, "no_auth"),
        (MAY_REPLICATE, "may_replicate"),
        (NO_ASYNC_LOADING, "no_async_loading"),
        (NO_MULTI, "no_multi"),
        (ALLOW_BUSY, "allow_busy"),
    ];
}

/// Redis's ACL categories, in the order COMMAND INFO and ACL CAT list them.
pub use crate::acl::CATEGORIES as ACL_CATEGORIES;

/// A command's reply failure, carrying Redis's exact error line (code first).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CmdError(pub Cow<'static, str>);

impl CmdError {
    pub fn new(msg: impl Into<Cow<'static, str>>) -> Self {
        CmdError(msg.into())
    }
    pub fn syntax() -> Self {
        CmdError::new("ERR syntax error")
    }
    pub fn wrong_type() -> Self {
        CmdError::new("WRONGTYPE Operation against a key holding the wrong kind of value")
    }
    pub fn not_integer() -> Self {
        CmdError::new("ERR value is not an integer or out of range")
    }
    pub fn not_float() -> Self {
        CmdError::new("ERR value is not a valid float")
    }
    pub fn overflow() -> Self {
        CmdError::new("ERR increment or decrement would overflow")
    }
    pub fn no_such_key() -> Self {
        CmdError::new("ERR no such key")
    }
    pub fn arity(name: &str) -> Self {
        CmdError::new(format!("ERR wrong number of arguments for '{name}' command"))
    }
    pub fn out_of_range() -> Self {
        CmdError::new("ERR index out of range")
    }
    /// A container's subcommand called with arguments it does not take
    /// (Redis's `addReplySubcommandSyntaxError`).
    pub fn sub_syntax(argv: &[&[u8]]) -> Self {
        let sub = argv.get(1).map_or(Cow::Borrowed(""), |s| String::from_utf8_lossy(&s[..s.len().min(128)]));
        let cmd = String::from_utf8_lossy(argv[0]).to_ascii_uppercase();
        CmdError::new(format!("ERR unknown subcommand or wrong number of arguments for '{sub}'. Try {cmd} HELP."))
    }
}

pub type CmdResult = Result<(), CmdError>;

/// Everything a handler may touch: the node (keyspace, config, cluster) and the calling client.
pub struct Ctx<'a> {
    pub node: &'a mut Node,
    pub client: &'a mut Client,
}

impl Ctx<'_> {
    /// The client's selected database.
    #[inline]
    pub fn db(&mut self) -> &mut crate::keyspace::Db {
        let i = self.client.db;
        &mut self.node.keyspace.dbs[i]
    }
    #[inline]
    pub fn now(&self) -> u64 {
        self.node.now_ms
    }
    #[inline]
    pub fn reply(&mut self) -> &mut crate::resp::ReplyBuf {
        &mut self.client.reply
    }
    /// Records `n` changes to the dataset (drives save points and propagation).
    #[inline]
    pub fn dirty(&mut self, n: u64) {
        self.node.keyspace.dirty += n;
    }
    /// Publishes a keyspace event for `key` in the client's database (a
    /// no-op unless `notify-keyspace-events` enables `class`).
    #[inline]
    pub fn notify(&mut self, class: u32, event: &str, key: &[u8]) {
        if self.node.pubsub.notify_flags != 0 {
            self.node.notify(self.client.db, class, event, key);
        }
    }
    /// Deletes `key` if its collection became empty (Redis keeps no empty
    /// collections), with the `del` event; returns whether it did.
    pub fn remove_if_empty(&mut self, key: &[u8]) -> bool {
        let gone = self.db().remove_if_empty(key);
        if gone {
            self.notify(crate::util::events::GENERIC, "del", key);
        }
        gone
    }
    /// Replaces what is propagated to replicas/AOF for this command
    /// (e.g. SET EX becomes SET PXAT so replicas agree on the deadline).
    pub fn propagate_as(&mut self, argv: Vec<Vec<u8>>) {
        self.client.propagate_override.push(argv);
    }
    /// Propagates `cmds` instead of this command, and nothing when there
    /// are none (Redis's alsoPropagate + preventCommandPropagation).
    pub fn propagate_instead(&mut self, cmds: Vec<Vec<Vec<u8>>>) {
        if cmds.is_empty() {
            self.client.suppress_propagation = true;
        }
        self.client.propagate_override.extend(cmds);
    }
}

pub type Handler = fn(&mut Ctx<'_>, &[&[u8]]) -> CmdResult;

/// The handler of a container that needs a subcommand: its arity already
/// refuses a call without one, so this only answers if that check is skipped.
pub fn no_subcommand(_ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    Err(CmdError::arity(&String::from_utf8_lossy(argv[0]).to_ascii_lowercase()))
}

/// A HELP reply: one status line per line of text.
pub fn reply_help(ctx: &mut Ctx<'_>, lines: &[&str]) {
    let r = ctx.reply();
    r.array(lines.len());
    for l in lines {
        r.simple(l);
    }
}
pub type KeysFn = fn(&[&[u8]]) -> Vec<usize>;

/// A command's metadata and handler. A container command (CLUSTER, CONFIG,
/// ...) lists its subcommands, each a full spec named `container|sub`, and
/// the dispatcher runs the subcommand's checks and handler.
pub struct CommandSpec {
    /// Lowercase name: `get`, or `config|get` for a subcommand.
    pub name: &'static str,
    /// Redis arity: exact count if positive, minimum if negative (name included).
    pub arity: i32,
    pub flags: u32,
    pub first_key: i32,
    pub last_key: i32,
    pub step: i32,
    pub handler: Handler,
    /// For commands whose keys are not a fixed range (numkeys forms).
    pub keys: Option<KeysFn>,
    /// The ACL categories Redis declares for the command (`@string`,
    /// `@keyspace`, `@dangerous`, ...); those implied by the flags (`@write`,
    /// `@read`, `@fast`/`@slow`, ...) are added by [`CommandSpec::acl_categories`].
    pub categories: &'static [&'static str],
    /// A container's subcommands (empty for other commands).
    pub subcommands: &'static [CommandSpec],
}

impl CommandSpec {
    pub const fn new(name: &'static str, arity: i32, flags: u32, keys: (i32, i32, i32), handler: Handler) -> Self {
        CommandSpec {
            name,
            arity,
            flags,
            first_key: keys.0,
            last_key: keys.1,
            step: keys.2,
            handler,
            keys: None,
            categories: &[],
            subcommands: &[],
        }
    }
    /// A container command: what it does is chosen by its first argument.
    /// It has no flags of its own, as in Redis; `handler` runs only when it
    /// is called without a subcommand and its arity allows that (COMMAND).
    pub const fn container(name: &'static str, arity: i32, handler: Handler, subcommands: &'static [CommandSpec]) -> Self {
        let mut c = CommandSpec::new(name, arity, 0, (0, 0, 0), handler);
        c.subcommands = subcommands;
        c
    }
    /// Sets flags (a container that accepts being called alone carries the flags that call needs).
    pub const fn with_flags(mut self, flags: u32) -> Self {
        self.flags = flags;
        self
    }
    /// A subcommand's own name (`get` for `config|get`).
    pub fn sub_name(&self) -> &'static str {
        self.name.rsplit_once('|').map_or(self.name, |(_, s)| s)
    }
    /// The subcommand called `name` (any case).
    pub fn subcommand(&self, name: &[u8]) -> Option<&'static CommandSpec> {
        self.subcommands.iter().find(|s| s.sub_name().as_bytes().eq_ignore_ascii_case(name))
    }
    /// Declares the command's own ACL categories (as in Redis's command table).
    pub const fn acl(mut self, categories: &'static [&'static str]) -> Self {
        self.categories = categories;
        self
    }
    /// Every ACL category of the command, in the order Redis lists them:
    /// the declared ones plus those Redis derives from the flags.
    pub fn acl_categories(&self) -> Vec<&'static str> {
        let f = self.flags;
        let implied = [
            (f & flags::WRITE != 0, "@write"),
            // Redis does not count read-only scripting commands (EVAL_RO, FCALL_RO) as @read.
            (f & flags::READONLY != 0 && !self.categories.contains(&"@scripting"), "@read"),
            (f & flags::ADMIN != 0, "@admin"),
            (f & flags::ADMIN != 0, "@dangerous"),
            (f & flags::PUBSUB != 0, "@pubsub"),
            (f & flags::FAST != 0, "@fast"),
            (f & flags::BLOCKING != 0, "@blocking"),
            (f & flags::FAST == 0 && !self.categories.contains(&"@fast"), "@slow"),
        ];
        ACL_CATEGORIES
            .iter()
            .copied()
            .filter(|c| self.categories.contains(c) || implied.iter().any(|(on, name)| *on && name == c))
            .collect()
    }
    pub const fn with_keys(mut self, f: KeysFn) -> Self {
        self.keys = Some(f);
        self
    }
    pub const fn is_write(&self) -> bool {
        self.flags & flags::WRITE != 0
    }
    /// Argument positions that are keys for this call.
    pub fn key_positions(&self, argv: &[&[u8]]) -> Vec<usize> {
        if let Some(f) = self.keys {
            return f(argv);
        }
        if self.first_key <= 0 {
            return Vec::new();
        }
        let last = if self.last_key < 0 { argv.len() as i32 + self.last_key } else { self.last_key };
        let step = self.step.max(1) as usize;
        (self.first_key as usize..=last.max(0) as usize).step_by(step).filter(|&i| i < argv.len()).collect()
    }
    /// Calls `f` with each key position, without allocating for fixed-range commands (hot path).
    #[inline]
    pub fn for_each_key(&self, argv: &[&[u8]], mut f: impl FnMut(usize)) {
        if self.keys.is_some() {
            self.key_positions(argv).into_iter().for_each(f);
            return;
        }
        if self.first_key <= 0 {
            return;
        }
        let last = if self.last_key < 0 { argv.len() as i32 + self.last_key } else { self.last_key };
        let step = self.step.max(1) as usize;
        let mut i = self.first_key as usize;
        while i <= last.max(0) as usize && i < argv.len() {
            f(i);
            i += step;
        }
    }

    pub fn arity_ok(&self, argc: usize) -> bool {
        if self.arity >= 0 {
            argc == self.arity as usize
        } else {
            argc >= (-self.arity) as usize
        }
    }
}

/// Every command family's table, listed in one place.
pub fn all_commands() -> impl Iterator<Item = &'static CommandSpec> {
    [
        connection::COMMANDS,
        strings::COMMANDS,
        bitmaps::COMMANDS,
        hyperloglog::COMMANDS,
        keys::COMMANDS,
        server::COMMANDS,
        latency::COMMANDS,
        hashes::COMMANDS,
        lists::COMMANDS,
        sets::COMMANDS,
        zsets::COMMANDS,
        geo::COMMANDS,
        sort::COMMANDS,
        streams::COMMANDS,
        stream_read::COMMANDS,
        stream_groups::COMMANDS,
        pubsub::COMMANDS,
        replication::COMMANDS,
        transactions::COMMANDS,
        cluster::COMMANDS,
        migrate::COMMANDS,
        persistence::COMMANDS,
        scripting::COMMANDS,
        acl::COMMANDS,
    ]
    .into_iter()
    .flatten()
}

/// Name -> spec lookup built once per node.
pub struct CommandTable {
    map: ahash::AHashMap<&'static [u8], &'static CommandSpec>,
}

/// What a request names.
pub enum Lookup {
    /// A command, or a container's subcommand.
    Found(&'static CommandSpec),
    /// No such command.
    Unknown,
    /// A container that has no such subcommand.
    UnknownSub(&'static CommandSpec),
}

impl Lookup {
    /// Redis's error text for a request that names nothing we run.
    pub fn error(&self, argv: &[&[u8]]) -> Option<String> {
        match self {
            Lookup::Found(_) => None,
            Lookup::Unknown => Some(unknown_command(argv)),
            Lookup::UnknownSub(c) => {
                let sub = argv.get(1).map_or(Cow::Borrowed(""), |s| String::from_utf8_lossy(&s[..s.len().min(128)]));
                Some(format!("ERR unknown subcommand '{sub}'. Try {} HELP.", c.name.to_ascii_uppercase()))
            }
        }
    }
}

/// Redis's text for an unknown command: its name and the first arguments, quoted.
pub fn unknown_command(argv: &[&[u8]]) -> String {
    let mut msg = format!("ERR unknown command '{}', with args beginning with: ", String::from_utf8_lossy(argv[0]));
    for a in argv.iter().skip(1) {
        let s = String::from_utf8_lossy(a);
        if msg.len() + s.len() > 128 + 64 {
            break;
        }
        msg.push('\'');
        msg.push_str(&s);
        msg.push_str("' ");
    }
    msg
}

/// The command table, built once per process (specs are static data).
pub fn table() -> &'static CommandTable {
    static TABLE: std::sync::OnceLock<CommandTable> = std::sync::OnceLock::new();
    TABLE.get_or_init(|| CommandTable { map: all_commands().map(|c| (c.name.as_bytes(), c)).collect() })
}

impl CommandTable {
    /// Case-insensitive lookup without allocating for short names.
    #[inline]
    pub fn lookup(&self, name: &[u8]) -> Option<&'static CommandSpec> {
        let mut tmp = [0u8; 32];
        if name.len() > tmp.len() {
            return None;
        }
        for (d, s) in tmp.iter_mut().zip(name) {
            *d = s.to_ascii_lowercase();
        }
        self.map.get(&tmp[..name.len()]).copied()
    }
    pub fn iter(&self) -> impl Iterator<Item = &'static CommandSpec> + '_ {
        self.map.values().copied()
    }
    /// The command or subcommand a request names.
    pub fn find(&self, argv: &[&[u8]]) -> Lookup {
        let Some(c) = argv.first().and_then(|n| self.lookup(n)) else { return Lookup::Unknown };
        if c.subcommands.is_empty() || argv.len() < 2 {
            return Lookup::Found(c);
        }
        c.subcommand(argv[1]).map_or(Lookup::UnknownSub(c), Lookup::Found)
    }
    /// A command or subcommand by its full name (`get`, `config|get`), as COMMAND INFO takes them.
    pub fn by_full_name(&self, name: &[u8]) -> Option<&'static CommandSpec> {
        match name.iter().position(|&b| b == b'|') {
            Some(i) => self.lookup(&name[..i])?.subcommand(&name[i + 1..]),
            None => self.lookup(name),
        }
    }
}

/// Shared key-position function: `numkeys` at argv[1], keys after it (ZUNION, SINTERCARD, ...).
pub fn keys_numkeys_at1(argv: &[&[u8]]) -> Vec<usize> {
    numkeys_from(argv, 1)
}

/// Key positions of `timeout numkeys key...` forms (BLMPOP, BZMPOP).
pub fn keys_numkeys_at2(argv: &[&[u8]]) -> Vec<usize> {
    numkeys_from(argv, 2)
}

/// Keys counted by a numkeys argument at `at`, following it; none when
/// the count is more than the arguments there are (the command refuses it).
pub fn numkeys_from(argv: &[&[u8]], at: usize) -> Vec<usize> {
    let n = argv.get(at).and_then(|a| args::parse_i64(a).ok()).unwrap_or(0);
    if n <= 0 || at as i64 + n >= argv.len() as i64 {
        return Vec::new();
    }
    (at + 1..at + 1 + n as usize).collect()
}
