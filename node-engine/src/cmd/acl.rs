//! ACL: the command family (SETUSER, GETUSER, LIST, LOG, DRYRUN...), the
//! command catalog the `acl` layer works on, and the check every command
//! passes before it runs (Redis's `ACLCheckAllPerm`).

use super::args::{is, parse_i64};
use super::flags::*;
use super::{CmdError, CmdResult, CommandSpec, Ctx};
use crate::acl::{self, describe, ChannelUse, Commands, Denied, LogEntry};
use crate::client::Client;
use crate::node::Node;
use std::collections::HashMap;
use std::sync::OnceLock;

pub const COMMANDS: &[CommandSpec] = &[CommandSpec::container("acl", -2, super::no_subcommand, ACL)];

const ADMIN_CMD: u32 = ADMIN | NOSCRIPT | LOADING | STALE;
const ACL: &[CommandSpec] = &[
    CommandSpec::new("acl|cat", -2, NOSCRIPT | LOADING | STALE, (0, 0, 0), cat),
    CommandSpec::new("acl|deluser", -3, ADMIN_CMD, (0, 0, 0), deluser),
    CommandSpec::new("acl|dryrun", -4, ADMIN_CMD, (0, 0, 0), dryrun),
    CommandSpec::new("acl|genpass", -2, NOSCRIPT | LOADING | STALE, (0, 0, 0), genpass),
    CommandSpec::new("acl|getuser", 3, ADMIN_CMD, (0, 0, 0), getuser),
    CommandSpec::new("acl|help", 2, LOADING | STALE, (0, 0, 0), help),
    CommandSpec::new("acl|list", 2, ADMIN_CMD, (0, 0, 0), list),
    CommandSpec::new("acl|load", 2, ADMIN_CMD, (0, 0, 0), load),
    CommandSpec::new("acl|log", -2, ADMIN_CMD, (0, 0, 0), log),
    CommandSpec::new("acl|save", 2, ADMIN_CMD, (0, 0, 0), save),
    CommandSpec::new("acl|setuser", -3, ADMIN_CMD, (0, 0, 0), setuser),
    CommandSpec::new("acl|users", 2, ADMIN_CMD, (0, 0, 0), users),
    CommandSpec::new("acl|whoami", 2, NOSCRIPT | LOADING | STALE, (0, 0, 0), whoami),
];

/// The command table with dense ids, as the `acl` layer sees it.
pub struct Catalog {
    specs: Vec<&'static CommandSpec>,
    categories: Vec<Vec<&'static str>>,
    subs: Vec<Vec<usize>>,
    top: Vec<usize>,
    by_name: HashMap<&'static str, usize>,
    by_spec: HashMap<usize, usize>,
}

impl Commands for Catalog {
    fn count(&self) -> usize {
        self.specs.len()
    }
    fn find(&self, full_name: &str) -> Option<usize> {
        self.by_name.get(full_name).copied()
    }
    fn name(&self, id: usize) -> &'static str {
        self.specs[id].name
    }
    fn categories(&self, id: usize) -> &[&'static str] {
        &self.categories[id]
    }
    fn subcommands(&self, id: usize) -> &[usize] {
        &self.subs[id]
    }
    fn top_level(&self) -> &[usize] {
        &self.top
    }
}

impl Catalog {
    /// The id of a spec from the command table.
    pub fn id(&self, spec: &'static CommandSpec) -> usize {
        self.by_spec.get(&(spec as *const CommandSpec as usize)).copied().unwrap_or(0)
    }
}

/// Built once: ids in name order, each container followed by its subcommands.
pub fn catalog() -> &'static Catalog {
    static C: OnceLock<Catalog> = OnceLock::new();
    C.get_or_init(|| {
        let mut tops: Vec<&'static CommandSpec> = super::table().iter().collect();
        tops.sort_by_key(|c| c.name);
        let mut c = Catalog {
            specs: Vec::new(),
            categories: Vec::new(),
            subs: Vec::new(),
            top: Vec::new(),
            by_name: HashMap::new(),
            by_spec: HashMap::new(),
        };
        let add = |c: &mut Catalog, s: &'static CommandSpec| -> usize {
            let id = c.specs.len();
            c.specs.push(s);
            c.categories.push(s.acl_categories());
            c.subs.push(Vec::new());
            c.by_name.insert(s.name, id);
            c.by_spec.insert(s as *const CommandSpec as usize, id);
            id
        };
        for t in tops {
            let id = add(&mut c, t);
            c.top.push(id);
            for s in t.subcommands {
                let sid = add(&mut c, s);
                c.subs[id].push(sid);
            }
        }
        c
    })
}

/// The channels a command names (only publishing and subscribing are checked).
fn channels_of(name: &str, argv: &[&[u8]]) -> Vec<ChannelUse> {
    match name {
        "publish" | "spublish" => vec![ChannelUse { pos: 1, pattern: false }],
        "subscribe" | "ssubscribe" => (1..argv.len()).map(|pos| ChannelUse { pos, pattern: false }).collect(),
        "psubscribe" => (1..argv.len()).map(|pos| ChannelUse { pos, pattern: true }).collect(),
        _ => Vec::new(),
    }
}

/// Checks `user` against a command; on refusal, the kind and the argument it concerns.
pub fn check_user(node: &Node, user: &str, cmd: &'static CommandSpec, argv: &[&[u8]]) -> Result<(), (Denied, usize)> {
    node.acl.check(user, &request(cmd, argv))
}

/// What the `acl` layer checks of one call: the command's id, its keys with their use, its channels.
fn request<'a>(cmd: &'static CommandSpec, argv: &'a [&'a [u8]]) -> acl::Request<'a> {
    let positions = cmd.key_positions(argv);
    acl::Request {
        id: catalog().id(cmd),
        no_auth: cmd.flags & NO_AUTH != 0,
        argv,
        keys: acl::keyspec::key_uses(cmd.name, argv, &positions),
        channels: channels_of(cmd.name, argv),
    }
}

/// Whether `user` may read any key with this command (SORT BY/GET patterns).
pub fn reads_any_key(node: &Node, user: &str, argv: &[&[u8]]) -> bool {
    let super::Lookup::Found(cmd) = super::table().find(argv) else { return false };
    node.acl.user(user).is_some_and(|u| u.reads_any_key(&request(cmd, argv)))
}

/// The check before a command runs: refused commands are logged and get
/// their NOPERM text. `context` is ACL LOG's (`toplevel`, `multi`, `lua`).
#[inline]
pub fn check(
    node: &mut Node,
    client: &mut Client,
    cmd: &'static CommandSpec,
    argv: &[&[u8]],
    context: &'static str,
) -> Result<(), (Denied, String)> {
    // The request path's cost when the user may do anything: one comparison, no call.
    if client.acl_unrestricted == node.acl.generation {
        return Ok(());
    }
    check_slow(node, client, cmd, argv, context)
}

#[inline(never)]
fn check_slow(
    node: &mut Node,
    client: &mut Client,
    cmd: &'static CommandSpec,
    argv: &[&[u8]],
    context: &'static str,
) -> Result<(), (Denied, String)> {
    if node.acl.unrestricted(&client.user) {
        client.acl_unrestricted = node.acl.generation;
        return Ok(());
    }
    let Err((denied, pos)) = check_user(node, &client.user, cmd, argv) else { return Ok(()) };
    let object = match denied {
        Denied::Command => cmd.name.to_string(),
        _ => String::from_utf8_lossy(argv.get(pos).copied().unwrap_or_default()).into_owned(),
    };
    log_denial(node, client.id, &client.user, denied.reason(), context, object);
    Err((denied, denied.error(cmd.name)))
}

/// Adds an ACL LOG entry for client `id`.
pub fn log_denial(node: &mut Node, id: u64, user: &str, reason: &'static str, context: &'static str, object: String) {
    let client_info = super::connection::client_line(node, id, (id, 0)).unwrap_or_default();
    let max = node.config.int_named("acllog-max-len", 128).max(0) as usize;
    let e = LogEntry { count: 1, reason, context, object, username: user.to_string(), ctime_ms: node.now_ms, client_info };
    node.acl.log.add(e, max);
}

fn err_rule(op: &str, e: acl::RuleError) -> CmdError {
    CmdError::new(format!("ERR Error in ACL SETUSER modifier '{op}': {}", e.message()))
}

/// Joins `(` ... `)` arguments into one selector rule, as Redis's
/// `ACLMergeSelectorArguments` does.
pub fn merge_selectors(args: &[&[u8]]) -> Result<Vec<String>, CmdError> {
    let mut out = Vec::new();
    let mut open: Option<String> = None;
    for a in args {
        let a = String::from_utf8_lossy(a).into_owned();
        match open.as_mut() {
            Some(sel) => {
                sel.push(' ');
                sel.push_str(&a);
                if a.ends_with(')') {
                    out.extend(open.take());
                }
            }
            None if a.starts_with('(') && !a.ends_with(')') => open = Some(a),
            None => out.push(a),
        }
    }
    if let Some(sel) = open {
        let first = sel.split(' ').next().unwrap_or_default().to_string();
        return Err(CmdError::new(format!("ERR Unmatched parenthesis in acl selector starting at '{first}'.")));
    }
    Ok(out)
}

fn setuser(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let name = String::from_utf8_lossy(argv[2]).into_owned();
    if name.bytes().any(|b| b.is_ascii_whitespace() || b == 0) {
        return Err(CmdError::new("ERR Usernames can't contain spaces or null characters"));
    }
    let ops = merge_selectors(&argv[3..])?;
    let before = ctx.node.acl.user(&name).cloned();
    ctx.node.acl.set_user(&name, &ops, catalog()).map_err(|(op, e)| err_rule(&op, e))?;
    if let (Some(old), Some(new)) = (before, ctx.node.acl.user(&name).cloned()) {
        kill_pubsub_clients_if_needed(ctx.node, &old, &new, ctx.client.id);
    }
    ctx.reply().ok();
    Ok(())
}

/// Subscribers of a user whose channel permissions shrank are disconnected
/// if a subscription is no longer allowed (Redis's `ACLKillPubsubClientsIfNeeded`).
fn kill_pubsub_clients_if_needed(node: &mut Node, old: &acl::User, new: &acl::User, me: u64) {
    if new.selectors.iter().any(|s| s.allchannels) {
        return;
    }
    let upcoming: Vec<&String> = new.selectors.iter().flat_map(|s| &s.channels).collect();
    let lost =
        old.selectors.iter().any(|s| s.allchannels) || old.selectors.iter().flat_map(|s| &s.channels).any(|c| !upcoming.contains(&c));
    if !lost {
        return;
    }
    let allowed = |ch: &[u8]| upcoming.iter().any(|p| crate::glob::glob_match(p.as_bytes(), ch, false));
    let mut victims = Vec::new();
    for (&id, info) in &node.clients.map {
        if info.user != new.name {
            continue;
        }
        let subs = node.pubsub.subscriptions_of(id);
        let bad = subs.channels.iter().chain(&subs.shard_channels).any(|c| !allowed(c))
            || subs.patterns.iter().any(|p| !upcoming.iter().any(|u| u.as_bytes() == &p[..]));
        if bad {
            victims.push(id);
        }
    }
    for id in victims {
        if id == me {
            continue;
        }
        node.push_to(id, crate::client::Push::Kill);
    }
}

fn getuser(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let name = String::from_utf8_lossy(argv[2]).into_owned();
    let cat = catalog();
    let Some(u) = ctx.node.acl.user(&name).cloned() else {
        ctx.reply().null();
        return Ok(());
    };
    let r = ctx.reply();
    r.map(6);
    r.bulk(b"flags");
    let flags = u.flag_names();
    r.set(flags.len());
    for f in flags {
        r.bulk(f.as_bytes());
    }
    r.bulk(b"passwords");
    r.array(u.passwords.len());
    for p in &u.passwords {
        r.bulk(p.as_bytes());
    }
    r.bulk(b"commands");
    r.bulk(describe::command_rules(&u.selectors[0], cat).as_bytes());
    r.bulk(b"keys");
    r.bulk(describe::keys(&u.selectors[0]).as_bytes());
    r.bulk(b"channels");
    r.bulk(describe::channels(&u.selectors[0]).as_bytes());
    r.bulk(b"selectors");
    r.array(u.selectors.len() - 1);
    for s in &u.selectors[1..] {
        r.map(3);
        r.bulk(b"commands");
        r.bulk(describe::command_rules(s, cat).as_bytes());
        r.bulk(b"keys");
        r.bulk(describe::keys(s).as_bytes());
        r.bulk(b"channels");
        r.bulk(describe::channels(s).as_bytes());
    }
    Ok(())
}

/// `user NAME rules` lines, in name order (ACL LIST and ACL SAVE).
pub fn user_lines(node: &Node) -> Vec<String> {
    let cat = catalog();
    node.acl.users.values().map(|u| format!("user {} {}", u.name, describe::user(u, cat))).collect()
}

fn list(ctx: &mut Ctx<'_>, _argv: &[&[u8]]) -> CmdResult {
    let lines = user_lines(ctx.node);
    let r = ctx.reply();
    r.array(lines.len());
    for l in lines {
        r.bulk(l.as_bytes());
    }
    Ok(())
}

fn users(ctx: &mut Ctx<'_>, _argv: &[&[u8]]) -> CmdResult {
    let names: Vec<String> = ctx.node.acl.users.keys().cloned().collect();
    let r = ctx.reply();
    r.array(names.len());
    for n in names {
        r.bulk(n.as_bytes());
    }
    Ok(())
}

fn whoami(ctx: &mut Ctx<'_>, _argv: &[&[u8]]) -> CmdResult {
    let user = ctx.client.user.clone();
    ctx.reply().bulk(user.as_bytes());
    Ok(())
}

fn cat(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    match argv.len() {
        2 => {
            let r = ctx.reply();
            r.array(acl::CATEGORIES.len());
            for c in acl::CATEGORIES {
                r.bulk(&c.as_bytes()[1..]);
            }
        }
        3 => {
            let want = format!("@{}", String::from_utf8_lossy(argv[2]).to_ascii_lowercase());
            if !acl::CATEGORIES.contains(&want.as_str()) {
                let shown: String = String::from_utf8_lossy(argv[2]).chars().take(128).collect();
                return Err(CmdError::new(format!("ERR Unknown category '{shown}'")));
            }
            let c = catalog();
            let names: Vec<&str> = (0..c.count()).filter(|&id| c.categories(id).contains(&want.as_str())).map(|id| c.name(id)).collect();
            let r = ctx.reply();
            r.array(names.len());
            for n in names {
                r.bulk(n.as_bytes());
            }
        }
        _ => return Err(CmdError::sub_syntax(argv)),
    }
    Ok(())
}

fn genpass(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let bits = match argv.len() {
        2 => 256,
        3 => parse_i64(argv[2])?,
        _ => return Err(CmdError::sub_syntax(argv)),
    };
    if bits <= 0 || bits > 4096 {
        return Err(CmdError::new(
            "ERR ACL GENPASS argument must be the number of bits for the output password, a positive number up to 4096",
        ));
    }
    let chars = ((bits + 3) / 4) as usize;
    let mut bytes = vec![0u8; chars.div_ceil(2)];
    rand::RngCore::fill_bytes(&mut rand::thread_rng(), &mut bytes);
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    ctx.reply().bulk(&hex.as_bytes()[..chars]);
    Ok(())
}

fn deluser(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    if argv[2..].iter().any(|a| *a == b"default") {
        return Err(CmdError::new("ERR The 'default' user cannot be removed"));
    }
    let mut n = 0;
    for a in &argv[2..] {
        let name = String::from_utf8_lossy(a).into_owned();
        if ctx.node.acl.users.remove(&name).is_some() {
            n += 1;
            kill_clients_of(ctx, &name);
        }
    }
    ctx.node.acl.generation += 1;
    ctx.reply().int(n);
    Ok(())
}

/// Disconnects every client authenticated as `user`; the caller gets its reply first.
fn kill_clients_of(ctx: &mut Ctx<'_>, user: &str) {
    disconnect_where(ctx, |u| u == user);
}

/// Disconnects the clients whose user satisfies `pick`; the caller gets its reply first.
fn disconnect_where(ctx: &mut Ctx<'_>, pick: impl Fn(&str) -> bool) {
    let ids: Vec<u64> = ctx.node.clients.map.iter().filter(|(_, c)| pick(&c.user)).map(|(&id, _)| id).collect();
    for id in ids {
        if id == ctx.client.id {
            ctx.client.close_after_reply = true;
        } else {
            ctx.node.push_to(id, crate::client::Push::Kill);
        }
    }
}

fn dryrun(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let name = String::from_utf8_lossy(argv[2]).into_owned();
    if ctx.node.acl.user(&name).is_none() {
        return Err(CmdError::new(format!("ERR User '{name}' not found")));
    }
    let rest = &argv[3..];
    let cmd = match super::table().find(rest) {
        super::Lookup::Found(c) => c,
        _ => return Err(CmdError::new(format!("ERR Command '{}' not found", String::from_utf8_lossy(rest[0])))),
    };
    if !cmd.arity_ok(rest.len()) {
        return Err(CmdError::new(format!("ERR wrong number of arguments for '{}' command", cmd.name)));
    }
    match check_user(ctx.node, &name, cmd, rest) {
        Ok(()) => ctx.reply().ok(),
        Err((d, pos)) => {
            let arg = String::from_utf8_lossy(rest.get(pos).copied().unwrap_or_default()).into_owned();
            let text = match d {
                Denied::Command => format!("This user has no permissions to run the '{}' command", cmd.name),
                Denied::Key => format!("This user has no permissions to access the '{arg}' key"),
                Denied::Channel => format!("This user has no permissions to access the '{arg}' channel"),
            };
            ctx.reply().bulk(text.as_bytes());
        }
    }
    Ok(())
}

fn log(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let count = match argv.len() {
        2 => 10,
        3 if is(argv[2], "reset") => {
            ctx.node.acl.log.entries.clear();
            ctx.reply().ok();
            return Ok(());
        }
        3 => parse_i64(argv[2])?.max(0) as usize,
        _ => return Err(CmdError::sub_syntax(argv)),
    };
    let now = ctx.node.now_ms;
    let entries: Vec<LogEntry> = ctx.node.acl.log.entries.iter().take(count).cloned().collect();
    let r = ctx.reply();
    r.array(entries.len());
    for e in entries {
        r.map(7);
        r.bulk(b"count");
        r.int(e.count as i64);
        r.bulk(b"reason");
        r.bulk(e.reason.as_bytes());
        r.bulk(b"context");
        r.bulk(e.context.as_bytes());
        r.bulk(b"object");
        r.bulk(e.object.as_bytes());
        r.bulk(b"username");
        r.bulk(e.username.as_bytes());
        r.bulk(b"age-seconds");
        r.double(now.saturating_sub(e.ctime_ms) as f64 / 1000.0);
        r.bulk(b"client-info");
        r.bulk(e.client_info.as_bytes());
    }
    Ok(())
}

const NO_ACLFILE: &str = "ERR This Redis instance is not configured to use an ACL file. You may want to specify users via the ACL SETUSER command and then issue a CONFIG REWRITE (assuming you have a Redis configuration file set) in order to store users in the Redis configuration.";

fn aclfile(node: &Node) -> Option<std::path::PathBuf> {
    let f = node.config.get("aclfile").filter(|f| !f.is_empty())?;
    let p = std::path::Path::new(f);
    Some(if p.is_absolute() { p.to_path_buf() } else { std::path::Path::new(node.config.get("dir").unwrap_or(".")).join(p) })
}

fn save(ctx: &mut Ctx<'_>, _argv: &[&[u8]]) -> CmdResult {
    let path = aclfile(ctx.node).ok_or_else(|| CmdError::new(NO_ACLFILE))?;
    let mut text = user_lines(ctx.node).join("\n");
    text.push('\n');
    crate::util::fs::write_atomic(&path, text.as_bytes()).map_err(|e| {
        tracing::warn!(error = %e, path = %path.display(), "cannot save the ACL file");
        CmdError::new("ERR There was an error trying to save the ACLs. Please check the server logs for more information")
    })?;
    ctx.reply().ok();
    Ok(())
}

fn load(ctx: &mut Ctx<'_>, _argv: &[&[u8]]) -> CmdResult {
    let path = aclfile(ctx.node).ok_or_else(|| CmdError::new(NO_ACLFILE))?;
    let shown = ctx.node.config.get("aclfile").unwrap_or_default().to_string();
    let users = load_file(&path, &shown, ctx.node.acl.pubsub_default_all).map_err(|e| {
        CmdError::new(format!("ERR {e}WARNING: ACL errors detected, no change to the previously active ACL rules was performed"))
    })?;
    // Every client of a user other than `default` is disconnected, as Redis does.
    disconnect_where(ctx, |u| u != "default");
    ctx.node.acl.users = users;
    ctx.node.acl.generation += 1;
    ctx.reply().ok();
    Ok(())
}

/// Reads an ACL file (Redis's `ACLLoadFromFile`): every line `user NAME
/// rules...`; all errors are collected, with the file name and line.
pub fn load_file(path: &std::path::Path, shown: &str, pubsub_all: bool) -> Result<std::collections::BTreeMap<String, acl::User>, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("Error loading ACLs, opening file '{shown}': {}", crate::util::fs::strerror(&e)))?;
    let cat = catalog();
    let mut errors = String::new();
    let mut acl = acl::Acl::new(cat);
    acl.pubsub_default_all = pubsub_all;
    acl.users.clear();
    for (i, raw) in text.split('\n').enumerate() {
        let line = raw.trim_matches([' ', '\t', '\r', '\n']);
        let n = i + 1;
        if line.is_empty() {
            continue;
        }
        let words: Vec<&str> = line.split(' ').collect();
        if words.len() < 2 || words[0] != "user" {
            errors.push_str(&format!("{shown}:{n} should start with user keyword followed by the username. "));
            continue;
        }
        let name = words[1];
        if name.bytes().any(|b| b.is_ascii_whitespace() || b == 0) {
            errors.push_str(&format!("'{shown}:{n}: username '{name}' contains invalid characters. "));
            continue;
        }
        if acl.users.contains_key(name) {
            errors.push_str(&format!("WARNING: Duplicate user '{name}' found on line {n}. "));
            continue;
        }
        let args: Vec<&[u8]> = words[2..].iter().map(|w| w.as_bytes()).collect();
        let Ok(ops) = merge_selectors(&args) else {
            errors.push_str(&format!("{shown}:{n}: Unmatched parenthesis in selector definition."));
            continue;
        };
        let mut u = acl::User::new(name, cat, pubsub_all);
        for op in &ops {
            if let Err(e) = u.apply(op, cat, pubsub_all) {
                if e == acl::RuleError::UnknownName {
                    errors.push_str(&format!("{shown}:{n}: Error in applying operation '{op}': {}. ", e.message()));
                } else {
                    errors.push_str(&format!("{shown}:{n}: {}. ", e.message()));
                    break;
                }
            }
        }
        acl.users.insert(name.to_string(), u);
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    acl.users.entry("default".into()).or_insert_with(|| acl::User::new_default(cat));
    Ok(acl.users)
}

/// Sets up a node's users at start: `requirepass`, `user` directives, or
/// the `aclfile` (not both, as in Redis).
pub fn init(node: &mut Node) -> Result<(), String> {
    let cat = catalog();
    let mut a = acl::Acl::new(cat);
    a.pubsub_default_all = node.config.get("acl-pubsub-default") == Some("allchannels");
    if let Some(p) = node.config.requirepass() {
        let _ = a.set_user("default", &["resetpass".into(), format!(">{p}")], cat);
    }
    let directives = node.config.users.clone();
    let file = aclfile(node);
    if file.is_some() && !directives.is_empty() {
        return Err("Configuring Redis with users defined in redis.conf and at the same setting an ACL file path is invalid. This setup is very likely to lead to configuration errors and security holes, please define either an ACL file or declare users directly in your redis.conf, but not both.".into());
    }
    let mut seen = std::collections::HashSet::new();
    for words in directives {
        let Some(name) = words.first() else { continue };
        if !seen.insert(name.clone()) {
            return Err(format!("Error in user declaration '{name}': {}", acl::RuleError::Duplicate.message()));
        }
        let mut ops: Vec<String> = Vec::new();
        if name == "default" {
            ops.push("reset".into());
        }
        let rest: Vec<&[u8]> = words[1..].iter().map(|w| w.as_bytes()).collect();
        ops.extend(merge_selectors(&rest).map_err(|e| e.0.into_owned())?);
        a.set_user(name, &ops, cat)
            .map_err(|(op, e)| format!("Error loading ACL rule '{op}' for the user named '{name}': {}", e.message()))?;
    }
    if let Some(path) = file {
        let shown = node.config.get("aclfile").unwrap_or_default().to_string();
        a.users =
            load_file(&path, &shown, a.pubsub_default_all).map_err(|e| format!("Aborting Redis startup because of ACL errors: {e}"))?;
    }
    node.acl = a;
    Ok(())
}

/// `requirepass` changed (CONFIG SET): it is the default user's password.
pub fn apply_requirepass(node: &mut Node) {
    let ops = match node.config.requirepass() {
        Some(p) => vec!["resetpass".to_string(), format!(">{p}")],
        None => vec!["nopass".to_string()],
    };
    let _ = node.acl.set_user("default", &ops, catalog());
}

fn help(ctx: &mut Ctx<'_>, _argv: &[&[u8]]) -> CmdResult {
    super::reply_help(
        ctx,
        &[
            "ACL <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
            "CAT [<category>]",
            "    List all commands that belong to <category>, or all command categories",
            "    when no category is specified.",
            "DELUSER <username> [<username> ...]",
            "    Delete a list of users.",
            "DRYRUN <username> <command> [<arg> ...]",
            "    Returns whether the user can execute the given command without executing the command.",
            "GETUSER <username>",
            "    Get the user's details.",
            "GENPASS [<bits>]",
            "    Generate a secure 256-bit user password. The optional `bits` argument can",
            "    be used to specify a different size.",
            "LIST",
            "    Show users details in config file format.",
            "LOAD",
            "    Reload users from the ACL file.",
            "LOG [<count> | RESET]",
            "    Show the ACL log entries.",
            "SAVE",
            "    Save the current config to the ACL file.",
            "SETUSER <username> <attribute> [<attribute> ...]",
            "    Create or modify a user with the specified attributes.",
            "USERS",
            "    List all the registered usernames.",
            "WHOAMI",
            "    Return the current connection username.",
            "HELP",
            "    Print this help.",
        ],
    );
    Ok(())
}
