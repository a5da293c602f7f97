//! Scripting commands: EVAL, EVALSHA (and their _RO forms), SCRIPT, FCALL,
//! FCALL_RO, FUNCTION. A script runs its redis.call()s as a client of its
//! own through [`ScriptHost`], with Redis 7.0's checks (read-only scripts,
//! replicas, cluster slots), and its writes reach replicas and the AOF as
//! the commands it ran, wrapped in MULTI/EXEC when there are several.

use super::flags::*;
use super::{call, keys_numkeys_at2, CmdError, CmdResult, CommandSpec, Ctx, Lookup};
use crate::client::Client;
use crate::node::Node;
use crate::script::busy::Busy;
use crate::script::{flags as sf, Host};
use crate::slot::key_slot;
use std::cell::Cell;
use std::rc::Rc;

pub const COMMANDS: &[CommandSpec] = &[
    CommandSpec::new("eval", -3, NOSCRIPT | SKIP_MONITOR | STALE | MAY_REPLICATE, (0, 0, 0), eval)
        .with_keys(keys_numkeys_at2)
        .acl(&["@scripting"]),
    CommandSpec::new("evalsha", -3, NOSCRIPT | SKIP_MONITOR | STALE | MAY_REPLICATE, (0, 0, 0), evalsha)
        .with_keys(keys_numkeys_at2)
        .acl(&["@scripting"]),
    CommandSpec::new("eval_ro", -3, NOSCRIPT | SKIP_MONITOR | STALE | READONLY, (0, 0, 0), eval_ro)
        .with_keys(keys_numkeys_at2)
        .acl(&["@scripting"]),
    CommandSpec::new("evalsha_ro", -3, NOSCRIPT | SKIP_MONITOR | STALE | READONLY, (0, 0, 0), evalsha_ro)
        .with_keys(keys_numkeys_at2)
        .acl(&["@scripting"]),
    CommandSpec::new("fcall", -3, NOSCRIPT | SKIP_MONITOR | STALE | MAY_REPLICATE, (0, 0, 0), fcall)
        .with_keys(keys_numkeys_at2)
        .acl(&["@scripting"]),
    CommandSpec::new("fcall_ro", -3, NOSCRIPT | SKIP_MONITOR | STALE | READONLY, (0, 0, 0), fcall_ro)
        .with_keys(keys_numkeys_at2)
        .acl(&["@scripting"]),
    CommandSpec::container("script", -2, super::no_subcommand, SCRIPT_SUBCOMMANDS),
    CommandSpec::container("function", -2, super::no_subcommand, FUNCTION_SUBCOMMANDS),
];

const SCRIPT_SUBCOMMANDS: &[CommandSpec] = &[
    CommandSpec::new("script|load", 3, NOSCRIPT | STALE, (0, 0, 0), script_load).acl(&["@scripting"]),
    CommandSpec::new("script|exists", -3, NOSCRIPT, (0, 0, 0), script_exists).acl(&["@scripting"]),
    CommandSpec::new("script|flush", -2, NOSCRIPT, (0, 0, 0), script_flush).acl(&["@scripting"]),
    CommandSpec::new("script|kill", 2, NOSCRIPT | ALLOW_BUSY, (0, 0, 0), script_kill).acl(&["@scripting"]),
    CommandSpec::new("script|debug", 3, NOSCRIPT, (0, 0, 0), script_debug).acl(&["@scripting"]),
    CommandSpec::new("script|help", 2, LOADING | STALE, (0, 0, 0), script_help).acl(&["@scripting"]),
];

const FUNCTION_SUBCOMMANDS: &[CommandSpec] = &[
    CommandSpec::new("function|load", -3, WRITE | DENYOOM | NOSCRIPT, (0, 0, 0), function_load).acl(&["@scripting"]),
    CommandSpec::new("function|delete", 3, WRITE | NOSCRIPT, (0, 0, 0), function_delete).acl(&["@scripting"]),
    CommandSpec::new("function|flush", -2, WRITE | NOSCRIPT, (0, 0, 0), function_flush).acl(&["@scripting"]),
    CommandSpec::new("function|list", -2, NOSCRIPT, (0, 0, 0), function_list).acl(&["@scripting"]),
    CommandSpec::new("function|dump", 2, NOSCRIPT, (0, 0, 0), function_dump).acl(&["@scripting"]),
    CommandSpec::new("function|restore", -3, WRITE | DENYOOM | NOSCRIPT, (0, 0, 0), function_restore).acl(&["@scripting"]),
    CommandSpec::new("function|stats", 2, NOSCRIPT | ALLOW_BUSY, (0, 0, 0), function_stats).acl(&["@scripting"]),
    CommandSpec::new("function|kill", 2, NOSCRIPT | ALLOW_BUSY, (0, 0, 0), function_kill).acl(&["@scripting"]),
    CommandSpec::new("function|help", 2, LOADING | STALE, (0, 0, 0), function_help).acl(&["@scripting"]),
];

const NOSCRIPT_ERR: &str = "NOSCRIPT No matching script. Please use EVAL.";

fn eval(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    eval_generic(ctx, argv, false, false)
}
fn evalsha(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    eval_generic(ctx, argv, true, false)
}
fn eval_ro(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    eval_generic(ctx, argv, false, true)
}
fn evalsha_ro(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    eval_generic(ctx, argv, true, true)
}
fn fcall(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    fcall_generic(ctx, argv, false)
}
fn fcall_ro(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    fcall_generic(ctx, argv, true)
}

/// `numkeys` of EVAL/FCALL, checked against the arguments given.
fn numkeys(argv: &[&[u8]], bad: &'static str) -> Result<usize, CmdError> {
    let n = super::args::parse_i64(argv[2]).map_err(|_| CmdError::new(bad))?;
    if n > argv.len() as i64 - 3 {
        return Err(CmdError::new("ERR Number of keys can't be greater than number of args"));
    }
    if n < 0 {
        return Err(CmdError::new("ERR Number of keys can't be negative"));
    }
    Ok(n as usize)
}

fn eval_generic(ctx: &mut Ctx<'_>, argv: &[&[u8]], evalsha: bool, ro: bool) -> CmdResult {
    let n = numkeys(argv, "ERR value is not an integer or out of range")?;
    let scripts = ctx.node.scripting.eval().map_err(CmdError::new)?;
    let sha = if evalsha {
        crate::script::eval::sha_key(argv[1]).ok_or(CmdError::new(NOSCRIPT_ERR))?
    } else {
        scripts.load(argv[1]).map_err(|e| CmdError::new(format!("ERR {e}")))?
    };
    let Some(script) = scripts.get(&sha) else {
        return Err(CmdError::new(NOSCRIPT_ERR));
    };
    let sha = std::str::from_utf8(&sha).unwrap_or_default().to_string();
    let (func, flags) = (script.func.clone(), script.flags);
    let run = prepare(ctx.node, ctx.client, flags, ro)?;
    // The cache leaves the node while its script runs: scripts cannot reach EVAL or SCRIPT.
    let Some(scripts) = ctx.node.scripting.eval.take() else {
        return Err(CmdError::new("ERR scripting unavailable"));
    };
    execute(ctx, argv, n, run, (true, sha.clone()), |host, out, keys, args, busy| {
        scripts.vm.run(&func, keys, args, true, &sha, host, out, busy)
    });
    ctx.node.scripting.eval = Some(scripts);
    Ok(())
}

fn fcall_generic(ctx: &mut Ctx<'_>, argv: &[&[u8]], ro: bool) -> CmdResult {
    let libs = ctx.node.scripting.functions().map_err(CmdError::new)?;
    let Some(f) = libs.function(argv[1]) else {
        return Err(CmdError::new("ERR Function not found"));
    };
    let (func, flags, name) = (f.func.clone(), f.flags, f.name.clone());
    let n = numkeys(argv, "ERR Bad number of keys provided")?;
    let run = prepare(ctx.node, ctx.client, flags, ro)?;
    let Some(libs) = ctx.node.scripting.functions.take() else {
        return Err(CmdError::new("ERR scripting unavailable"));
    };
    execute(ctx, argv, n, run, (false, name.clone()), |host, out, keys, args, busy| {
        libs.vm.run(&func, keys, args, false, &name, host, out, busy)
    });
    ctx.node.scripting.functions = Some(libs);
    Ok(())
}

/// How a script may behave, decided before it starts.
#[derive(Clone, Copy)]
struct RunFlags {
    read_only: bool,
    allow_cross_slot: bool,
    allow_oom: bool,
}

/// Redis's checks before a script starts (scriptPrepareForRun).
fn prepare(node: &Node, client: &Client, flags: u32, ro: bool) -> Result<RunFlags, CmdError> {
    let compat = flags & sf::EVAL_COMPAT != 0;
    if !compat {
        if flags & sf::NO_CLUSTER != 0 && node.cluster.is_some() {
            return Err(CmdError::new("ERR Can not run script on cluster, 'no-cluster' flag is set."));
        }
        if flags & sf::NO_WRITES == 0 {
            // With flags, a writing script is a deny-oom command unless it allows OOM.
            if flags & sf::ALLOW_OOM == 0 && node.scripting.oom && node.keyspace.maxmemory != 0 && !client.from_master {
                return Err(CmdError::new("OOM command not allowed when used memory > 'maxmemory'."));
            }
            if node.is_read_only_replica() && !client.from_master {
                return Err(CmdError::new("READONLY Can not run script with write flag on readonly replica"));
            }
            if !client.from_master && crate::persistence::writes_refused(&node.persistence, &node.config) {
                return Err(CmdError::new("MISCONF Redis is configured to save RDB snapshots, but it's currently unable to persist to disk. Writable scripts are blocked. Use 'no-writes' flag for read only scripts."));
            }
            if ro {
                return Err(CmdError::new("ERR Can not execute a script with write flag using *_ro command."));
            }
            if !client.from_master && node.too_few_good_replicas() {
                return Err(CmdError::new("NOREPLICAS Not enough good replicas to write."));
            }
        }
    }
    Ok(RunFlags {
        read_only: ro || (!compat && flags & sf::NO_WRITES != 0),
        allow_cross_slot: compat || flags & sf::ALLOW_CROSS_SLOT != 0,
        allow_oom: !compat && flags & sf::ALLOW_OOM != 0,
    })
}

/// Runs a prepared script: its own client, held propagation, MULTI/EXEC around several effects.
fn execute(
    ctx: &mut Ctx<'_>,
    argv: &[&[u8]],
    n: usize,
    run: RunFlags,
    (eval_mode, name): (bool, String),
    f: impl FnOnce(&mut dyn Host, &mut crate::resp::ReplyBuf, &[&[u8]], &[&[u8]], Option<Rc<Busy>>),
) {
    let threshold = ctx.node.scripting.busy_threshold_ms;
    let busy = (threshold > 0).then(|| {
        let caller = ctx.client.id;
        Rc::new(Busy {
            started: std::time::Instant::now(),
            threshold_ms: threshold,
            eval_mode,
            name,
            // FUNCTION STATS shows a running function's command; an EVAL's is never asked for.
            argv: if eval_mode { Vec::new() } else { argv.iter().map(|a| a.to_vec()).collect() },
            sockets: ctx.node.clients.sockets.clone(),
            caller,
            from_master: ctx.client.from_master,
            loading: ctx.node.persistence.loading && !ctx.node.persistence.async_loading,
            write_dirty: Cell::new(false),
            killed: Cell::new(false),
            shutdown_nosave: Cell::new(false),
            timed_out: Cell::new(false),
        })
    });
    let keys = &argv[3..3 + n];
    let args = &argv[3 + n..];
    let declared_slot = keys.first().map(|k| key_slot(k));
    let mut script_client = Client::new(0, std::net::SocketAddr::from(([0, 0, 0, 0], 0)), false);
    script_client.db = ctx.client.db;
    script_client.from_master = ctx.client.from_master;
    script_client.readonly = ctx.client.readonly;
    script_client.in_script = true;
    // redis.call runs as the caller's ACL user.
    script_client.user = ctx.client.user.clone();
    script_client.acl_unrestricted = ctx.client.acl_unrestricted;
    let caller_id = ctx.client.id;
    script_client.tracking_id = ctx.client.tracking_id;
    // A read inside the script makes the caller track the script's declared keys (Redis's rule).
    if ctx.node.tracking.active() {
        script_client.tracking_keys = Some(keys.iter().map(|k| k.to_vec()).collect());
    }
    let caller_from_master = ctx.client.from_master;
    let caller_asking = ctx.client.asked;
    let mut out = std::mem::take(&mut ctx.client.reply);
    call::propagate_as_transaction(ctx.node, ctx.client, |node, _| {
        let mut host = ScriptHost {
            node,
            client: script_client,
            run,
            caller_from_master,
            caller_asking,
            caller_id,
            write_dirty: false,
            slot: declared_slot,
            resp: 2,
            repl: 3,
            busy: busy.clone(),
        };
        f(&mut host, &mut out, keys, args, busy.clone());
    });
    ctx.client.reply = out;
    if busy.as_ref().is_some_and(|b| b.shutdown_nosave.get()) {
        ctx.node.lifecycle.shutdown = Some(crate::node::ShutdownKind::NoSave);
        ctx.node.lifecycle.shutdown_notify.notify_one();
    }
}

/// The node as a running script sees it (Redis's scriptCall and its checks).
struct ScriptHost<'a> {
    node: &'a mut Node,
    client: Client,
    run: RunFlags,
    caller_from_master: bool,
    caller_asking: bool,
    /// The calling client, named in ACL LOG entries.
    caller_id: u64,
    /// The script already wrote: later writes are not refused (it cannot stop half-way).
    write_dirty: bool,
    /// The slot the script's keys are in (declared keys, then the first key used).
    slot: Option<u16>,
    resp: u8,
    repl: u8,
    /// Shared with the Lua hook: a script that wrote cannot be killed.
    busy: Option<Rc<Busy>>,
}

impl ScriptHost<'_> {
    fn check(&mut self, cmd: &'static CommandSpec, argv: &[&[u8]]) -> Result<(), String> {
        if !cmd.arity_ok(argv.len()) {
            return Err("Wrong number of args calling Redis command from script".into());
        }
        if cmd.flags & NOSCRIPT != 0 && !self.node.scripting.allow_noscript_commands {
            return Err("This Redis command is not allowed from script".into());
        }
        // A user who may do anything (the caller's mark, kept while rules are unchanged) is not checked again.
        if !self.caller_from_master && self.client.acl_unrestricted != self.node.acl.generation {
            let user = self.client.user.clone();
            if let Err((denied, pos)) = super::acl::check_user(self.node, &user, cmd, argv) {
                let object = match denied {
                    crate::acl::Denied::Command => cmd.name.to_string(),
                    _ => String::from_utf8_lossy(argv.get(pos).copied().unwrap_or_default()).into_owned(),
                };
                super::acl::log_denial(self.node, self.caller_id, &user, denied.reason(), "lua", object);
                let why = match denied {
                    crate::acl::Denied::Command => "can't run this command or subcommand",
                    crate::acl::Denied::Key => "can't access at least one of the keys mentioned in the command arguments",
                    crate::acl::Denied::Channel => "can't publish to the channel mentioned in the command",
                };
                return Err(format!("The user executing the script {why}"));
            }
        }
        let write = cmd.is_write();
        // PUBLISH and the like add to the replication stream: not from read-only scripts either.
        if (write || cmd.flags & MAY_REPLICATE != 0) && self.run.read_only {
            return Err("Write commands are not allowed from read-only scripts.".into());
        }
        // The first deny-oom command of a script that started over maxmemory (scriptVerifyOOM).
        if cmd.flags & DENYOOM != 0
            && !self.run.allow_oom
            && !self.write_dirty
            && !self.caller_from_master
            && self.node.keyspace.maxmemory != 0
            && self.node.scripting.oom
        {
            return Err("-OOM command not allowed when used memory > 'maxmemory'.".into());
        }
        if write && !self.write_dirty {
            if self.node.is_read_only_replica() && !self.caller_from_master {
                return Err("-READONLY You can't write against a read only replica.".into());
            }
            if crate::persistence::writes_refused(&self.node.persistence, &self.node.config) {
                return Err(format!("-{}", crate::persistence::MISCONF));
            }
            if self.node.too_few_good_replicas() {
                return Err("-NOREPLICAS Not enough good replicas to write.".into());
            }
        }
        if write {
            self.write_dirty = true;
            if let Some(b) = &self.busy {
                b.write_dirty.set(true);
            }
        }
        if self.node.cluster.is_some() && !self.caller_from_master {
            self.check_cluster(cmd, argv, write)?;
        }
        Ok(())
    }

    /// A key must be in a slot served here, and (unless the script allows
    /// otherwise) in the slot of the script's other keys.
    fn check_cluster(&mut self, cmd: &'static CommandSpec, argv: &[&[u8]], write: bool) -> Result<(), String> {
        let Some(cluster) = self.node.cluster.as_ref() else { return Ok(()) };
        let mut slot: Option<u16> = None;
        let mut cross = false;
        cmd.for_each_key(argv, |p| {
            let s = key_slot(argv[p]);
            match slot {
                None => slot = Some(s),
                Some(first) if first != s => cross = true,
                _ => {}
            }
        });
        let Some(slot) = slot else { return Ok(()) };
        if !cluster.ok {
            let reads_ok = self.node.config.flag_named("cluster-allow-reads-when-down");
            if !reads_ok {
                return Err("Script attempted to execute a command while the cluster is down".into());
            }
            if write {
                return Err("Script attempted to execute a write command while the cluster is down and readonly".into());
            }
        }
        let me = &cluster.myself;
        let owner = cluster.owners[slot as usize].as_ref();
        let served = cross
            || owner == Some(me)
            || (self.caller_asking && cluster.importing.contains_key(&slot))
            || (self.client.readonly && !write && owner.is_some() && cluster.myself_node().master_id.as_ref() == owner);
        if cross || !served {
            return Err("Script attempted to access a non local key in a cluster node".into());
        }
        if !self.run.allow_cross_slot {
            match self.slot {
                None => self.slot = Some(slot),
                Some(s) if s != slot => return Err("Script attempted to access keys that do not hash to the same slot".into()),
                _ => {}
            }
        }
        Ok(())
    }
}

impl Host for ScriptHost<'_> {
    fn call(&mut self, argv: &[&[u8]]) -> Result<Vec<u8>, String> {
        let checked = match super::table().find(argv) {
            Lookup::Found(cmd) => self.check(cmd, argv).map(|()| cmd).inspect_err(|_| {
                self.node.stats.command(cmd as *const CommandSpec as usize, cmd.name).rejected += 1;
            }),
            _ => Err("Unknown Redis command called from script".into()),
        };
        let cmd = match checked {
            Ok(cmd) => cmd,
            Err(e) => {
                // Counted here even when redis.pcall catches it (Redis's
                // scriptCall replies it as an error); the script's own error
                // reply, if it ends with this one, is not counted again.
                let text = e.strip_prefix('-').map_or_else(|| format!("ERR {e}"), str::to_string);
                self.node.stats.count_error(text.as_bytes());
                self.node.stats.nested_error_counted = true;
                return Err(e);
            }
        };
        self.client.suppress_propagation = self.repl == 0;
        self.client.in_exec = true;
        call::call(self.node, &mut self.client, cmd, argv);
        // Blocking commands do not block in a script: they answer as on timeout.
        if self.client.block.take().is_some() {
            super::call::unblock(self.node, &mut self.client);
            self.client.blocked_argv = None;
            self.client.reply.null_array();
        }
        Ok(std::mem::take(&mut self.client.reply.buf))
    }
    fn set_resp(&mut self, resp: u8) {
        self.resp = resp;
        self.client.reply.resp3 = resp == 3;
    }
    fn resp(&self) -> u8 {
        self.resp
    }
    fn set_repl(&mut self, flags: u8) {
        self.repl = flags;
    }
    fn acl_check(&mut self, argv: &[&[u8]]) -> Option<bool> {
        match super::table().find(argv) {
            Lookup::Found(cmd) => {
                let user = self.client.user.clone();
                Some(super::acl::check_user(self.node, &user, cmd, argv).is_ok())
            }
            _ => None,
        }
    }

    fn while_busy(&mut self) {
        crate::node::while_busy::serve(self.node);
    }
}

fn script_load(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let scripts = ctx.node.scripting.eval().map_err(CmdError::new)?;
    let sha = scripts.load(argv[2]).map_err(|e| CmdError::new(format!("ERR {e}")))?;
    ctx.reply().bulk(&sha);
    Ok(())
}

fn script_exists(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let scripts = ctx.node.scripting.eval.as_ref();
    let found: Vec<bool> = argv[2..].iter().map(|sha| scripts.is_some_and(|s| s.contains(sha))).collect();
    let r = ctx.reply();
    r.array(found.len());
    for f in found {
        r.int(i64::from(f));
    }
    Ok(())
}

fn flush_mode(argv: &[&[u8]], err: &'static str) -> Result<(), CmdError> {
    match argv.get(2) {
        None => Ok(()),
        Some(m) if argv.len() == 3 && (m.eq_ignore_ascii_case(b"sync") || m.eq_ignore_ascii_case(b"async")) => Ok(()),
        Some(_) => Err(CmdError::new(err)),
    }
}

fn script_flush(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    flush_mode(argv, "ERR SCRIPT FLUSH only support SYNC|ASYNC option")?;
    // A fresh Lua state is made on the next use; the old one is freed now.
    ctx.node.scripting.eval = None;
    ctx.reply().ok();
    Ok(())
}

fn script_kill(_ctx: &mut Ctx<'_>, _argv: &[&[u8]]) -> CmdResult {
    Err(CmdError::new("NOTBUSY No scripts in execution right now."))
}

fn script_debug(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    if argv[2].eq_ignore_ascii_case(b"no") {
        ctx.reply().ok();
        return Ok(());
    }
    if argv[2].eq_ignore_ascii_case(b"yes") || argv[2].eq_ignore_ascii_case(b"sync") {
        return Err(CmdError::new("ERR SCRIPT DEBUG (the Lua debugger) is not supported by this server"));
    }
    Err(CmdError::new("ERR Use SCRIPT DEBUG YES/SYNC/NO"))
}

fn script_help(ctx: &mut Ctx<'_>, _argv: &[&[u8]]) -> CmdResult {
    super::reply_help(
        ctx,
        &[
            "SCRIPT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
            "DEBUG (YES|SYNC|NO)",
            "    Set the debug mode for subsequent scripts executed.",
            "EXISTS <sha1> [<sha1> ...]",
            "    Return information about the existence of the scripts in the script cache.",
            "FLUSH [ASYNC|SYNC]",
            "    Flush the Lua scripts cache. Very dangerous on replicas.",
            "    When called without the optional mode argument, the behavior is determined by the",
            "    lazyfree-lazy-user-flush configuration directive. Valid modes are:",
            "    * ASYNC: Asynchronously flush the scripts cache.",
            "    * SYNC: Synchronously flush the scripts cache.",
            "KILL",
            "    Kill the currently executing Lua script.",
            "LOAD <script>",
            "    Load a script into the scripts cache without executing it.",
            "HELP",
            "    Print this help.",
        ],
    );
    Ok(())
}

fn function_load(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let mut replace = false;
    let mut i = 2;
    while i < argv.len() - 1 {
        if argv[i].eq_ignore_ascii_case(b"replace") {
            replace = true;
            i += 1;
            continue;
        }
        return Err(CmdError::new(format!("ERR Unknown option given: {}", String::from_utf8_lossy(argv[i]))));
    }
    if i >= argv.len() {
        return Err(CmdError::new("ERR Function code is missing"));
    }
    // Top-level library code gets 500 ms, except from our master or the AOF (Redis's LOAD_TIMEOUT_MS).
    let timeout = (!ctx.client.from_master && ctx.client.id != 0).then_some(std::time::Duration::from_millis(500));
    let libs = ctx.node.scripting.functions().map_err(CmdError::new)?;
    let name = libs.load(argv[i], replace, timeout).map_err(|e| CmdError::new(format!("ERR {e}")))?;
    ctx.node.sync_function_codes();
    ctx.dirty(1);
    ctx.reply().bulk(name.as_bytes());
    Ok(())
}

fn function_delete(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let libs = ctx.node.scripting.functions().map_err(CmdError::new)?;
    if !libs.delete(argv[2]) {
        return Err(CmdError::new("ERR Library not found"));
    }
    ctx.node.sync_function_codes();
    ctx.dirty(1);
    ctx.reply().ok();
    Ok(())
}

fn function_flush(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    if argv.len() > 3 {
        return Err(CmdError::sub_syntax(argv));
    }
    flush_mode(argv, "ERR FUNCTION FLUSH only supports SYNC|ASYNC option")?;
    if let Some(libs) = ctx.node.scripting.functions.as_mut() {
        libs.flush();
    }
    ctx.node.sync_function_codes();
    ctx.dirty(1);
    ctx.reply().ok();
    Ok(())
}

fn function_list(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let mut with_code = false;
    let mut pattern: Option<&[u8]> = None;
    let mut i = 2;
    while i < argv.len() {
        if !with_code && argv[i].eq_ignore_ascii_case(b"withcode") {
            with_code = true;
        } else if pattern.is_none() && argv[i].eq_ignore_ascii_case(b"libraryname") {
            if i >= argv.len() - 1 {
                return Err(CmdError::new("ERR library name argument was not given"));
            }
            i += 1;
            pattern = Some(argv[i]);
        } else {
            return Err(CmdError::new(format!("ERR Unknown argument {}", String::from_utf8_lossy(argv[i]))));
        }
        i += 1;
    }
    let libs = ctx.node.scripting.functions().map_err(CmdError::new)?;
    let chosen: Vec<&crate::script::functions::Library> =
        libs.libs.values().filter(|l| pattern.is_none_or(|p| crate::glob::glob_match(p, l.name.as_bytes(), true))).collect();
    let mut r = crate::resp::ReplyBuf { buf: Vec::new(), resp3: ctx.client.reply.resp3 };
    r.array(chosen.len());
    for lib in chosen {
        r.map(if with_code { 4 } else { 3 });
        r.bulk(b"library_name");
        r.bulk(lib.name.as_bytes());
        r.bulk(b"engine");
        r.bulk(b"LUA");
        r.bulk(b"functions");
        r.array(lib.functions.len());
        for f in lib.functions.values() {
            r.map(3);
            r.bulk(b"name");
            r.bulk(f.name.as_bytes());
            r.bulk(b"description");
            match &f.desc {
                Some(d) => r.bulk(d),
                None => r.null(),
            }
            r.bulk(b"flags");
            let names: Vec<&str> = sf::NAMES.iter().filter(|(bit, _)| f.flags & bit != 0).map(|(_, n)| *n).collect();
            r.set(names.len());
            for n in names {
                r.simple(n);
            }
        }
        if with_code {
            r.bulk(b"library_code");
            r.bulk(&lib.code);
        }
    }
    ctx.reply().raw(&r.buf);
    Ok(())
}

/// RDB's version as FUNCTION DUMP stamps it (Redis 7.0 writes 10).
const DUMP_RDB_VERSION: u16 = 10;

fn function_dump(ctx: &mut Ctx<'_>, _argv: &[&[u8]]) -> CmdResult {
    let mut payload = Vec::new();
    let opts = crate::persistence::rdb::EncodeOptions::from_config(&ctx.node.config);
    if let Some(libs) = ctx.node.scripting.functions.as_ref() {
        for lib in libs.libs.values() {
            crate::persistence::rdb::write_function(&mut payload, &lib.code, &opts);
        }
    }
    payload.extend_from_slice(&DUMP_RDB_VERSION.to_le_bytes());
    let crc = crate::persistence::crc64::crc64(&payload);
    payload.extend_from_slice(&crc.to_le_bytes());
    ctx.reply().bulk(&payload);
    Ok(())
}

fn function_restore(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    if argv.len() > 4 {
        return Err(CmdError::sub_syntax(argv));
    }
    #[derive(PartialEq)]
    enum Policy {
        Append,
        Replace,
        Flush,
    }
    let policy = match argv.get(3) {
        None => Policy::Append,
        Some(p) if p.eq_ignore_ascii_case(b"append") => Policy::Append,
        Some(p) if p.eq_ignore_ascii_case(b"replace") => Policy::Replace,
        Some(p) if p.eq_ignore_ascii_case(b"flush") => Policy::Flush,
        Some(_) => return Err(CmdError::new("ERR Wrong restore policy given, value should be either FLUSH, APPEND or REPLACE.")),
    };
    if crate::persistence::dump::verify(argv[2], ctx.node.persistence.skip_checksum_validation).is_err() {
        return Err(CmdError::new("ERR DUMP payload version or checksum are wrong"));
    }
    let codes = crate::persistence::rdb::read_functions(&argv[2][..argv[2].len() - 10]).map_err(|e| CmdError::new(format!("ERR {e}")))?;
    let libs = ctx.node.scripting.functions().map_err(CmdError::new)?;
    let mut compiled = Vec::with_capacity(codes.len());
    let mut names = std::collections::HashSet::new();
    for code in &codes {
        let lib = libs.compile(code).map_err(|e| CmdError::new(format!("ERR {e}")))?;
        if !names.insert(lib.name.clone()) {
            return Err(CmdError::new(format!("ERR Library {} already exists", lib.name)));
        }
        compiled.push(lib);
    }
    if policy == Policy::Flush {
        libs.flush();
    }
    let joined = libs.join(compiled, policy == Policy::Replace);
    ctx.node.sync_function_codes();
    joined.map_err(|e| CmdError::new(format!("ERR {e}")))?;
    ctx.dirty(1);
    ctx.reply().ok();
    Ok(())
}

fn function_stats(ctx: &mut Ctx<'_>, _argv: &[&[u8]]) -> CmdResult {
    let (libs, funcs) = ctx.node.scripting.functions.as_ref().map_or((0, 0), |l| (l.libs.len(), l.function_count()));
    let r = ctx.reply();
    r.map(2);
    r.bulk(b"running_script");
    r.null();
    r.bulk(b"engines");
    r.map(1);
    r.bulk(b"LUA");
    r.map(2);
    r.bulk(b"libraries_count");
    r.int(libs as i64);
    r.bulk(b"functions_count");
    r.int(funcs as i64);
    Ok(())
}

fn function_kill(_ctx: &mut Ctx<'_>, _argv: &[&[u8]]) -> CmdResult {
    Err(CmdError::new("NOTBUSY No scripts in execution right now."))
}

fn function_help(ctx: &mut Ctx<'_>, _argv: &[&[u8]]) -> CmdResult {
    super::reply_help(
        ctx,
        &[
            "FUNCTION <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
            "LOAD [REPLACE] <FUNCTION CODE>",
            "    Create a new library with the given library name and code.",
            "DELETE <LIBRARY NAME>",
            "    Delete the given library.",
            "LIST [LIBRARYNAME PATTERN] [WITHCODE]",
            "    Return general information on all the libraries:",
            "    * Library name",
            "    * The engine used to run the Library",
            "    * Library description",
            "    * Functions list",
            "    * Library code (if WITHCODE is given)",
            "    It also possible to get only function that matches a pattern using LIBRARYNAME argument.",
            "STATS",
            "    Return information about the current function running:",
            "    * Function name",
            "    * Command used to run the function",
            "    * Duration in MS that the function is running",
            "    If no function is running, return nil",
            "    In addition, returns a list of available engines.",
            "KILL",
            "    Kill the current running function.",
            "FLUSH [ASYNC|SYNC]",
            "    Delete all the libraries.",
            "    When called without the optional mode argument, the behavior is determined by the",
            "    lazyfree-lazy-user-flush configuration directive. Valid modes are:",
            "    * ASYNC: Asynchronously flush the libraries.",
            "    * SYNC: Synchronously flush the libraries.",
            "DUMP",
            "    Return a serialized payload representing the current libraries, can be restored using FUNCTION RESTORE command",
            "RESTORE <PAYLOAD> [FLUSH|APPEND|REPLACE]",
            "    Restore the libraries represented by the given payload, it is possible to give a restore policy to",
            "    control how to handle existing libraries (default APPEND):",
            "    * FLUSH: delete all existing libraries.",
            "    * APPEND: appends the restored libraries to the existing libraries. On collision, abort.",
            "    * REPLACE: appends the restored libraries to the existing libraries, On collision, replace the old",
            "      libraries with the new libraries (notice that even on this option there is a chance of failure",
            "      in case of functions name collision with another library).",
            "HELP",
            "    Print this help.",
        ],
    );
    Ok(())
}
