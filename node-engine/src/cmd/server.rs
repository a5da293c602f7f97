//! Server commands: INFO, CONFIG, COMMAND, TIME, LASTSAVE, SLOWLOG, MONITOR,
//! DEBUG, SHUTDOWN, MEMORY.

use super::args::{is, parse_i64};
use super::flags::*;
use super::{no_subcommand, CmdError, CmdResult, CommandSpec, Ctx};
use crate::client::BlockRequest;
use crate::node::shutdown::{ShutdownFlags, ShutdownStep, SHUTDOWN_FAILED};
use crate::node::Node;
use crate::util::proc::process_rss;

pub const COMMANDS: &[CommandSpec] = &[
    CommandSpec::new("info", -1, LOADING | STALE, (0, 0, 0), info).acl(&["@dangerous"]),
    CommandSpec::container("config", -2, no_subcommand, CONFIG),
    CommandSpec::container("command", -1, command, COMMAND).with_flags(LOADING | STALE).acl(&["@connection"]),
    CommandSpec::new("time", 1, FAST | LOADING | STALE, (0, 0, 0), time),
    CommandSpec::new("lastsave", 1, FAST | LOADING | STALE, (0, 0, 0), lastsave).acl(&["@admin", "@dangerous"]),
    CommandSpec::container("slowlog", -2, no_subcommand, SLOWLOG),
    CommandSpec::new("monitor", 1, ADMIN | NOSCRIPT | LOADING | STALE | NO_MULTI, (0, 0, 0), monitor),
    CommandSpec::new("debug", -2, ADMIN | NOSCRIPT | LOADING | STALE, (0, 0, 0), debug),
    CommandSpec::new("shutdown", -1, ADMIN | NOSCRIPT | LOADING | STALE | NO_MULTI, (0, 0, 0), shutdown),
    CommandSpec::container("memory", -2, no_subcommand, MEMORY),
];

fn cpu_times() -> (f64, f64) {
    let mut usage = std::mem::MaybeUninit::<libc::rusage>::zeroed();
    // SAFETY: getrusage writes a rusage into the pointer we own.
    let rc = unsafe { libc::getrusage(libc::RUSAGE_SELF, usage.as_mut_ptr()) };
    if rc != 0 {
        return (0.0, 0.0);
    }
    // SAFETY: initialised by the successful call above.
    let u = unsafe { usage.assume_init() };
    let t = |tv: libc::timeval| tv.tv_sec as f64 + tv.tv_usec as f64 / 1e6;
    (t(u.ru_stime), t(u.ru_utime))
}

fn human(bytes: u64) -> String {
    let b = bytes as f64;
    if b >= 1024.0 * 1024.0 * 1024.0 {
        format!("{:.2}G", b / (1024.0 * 1024.0 * 1024.0))
    } else if b >= 1024.0 * 1024.0 {
        format!("{:.2}M", b / (1024.0 * 1024.0))
    } else if b >= 1024.0 {
        format!("{:.2}K", b / 1024.0)
    } else {
        format!("{bytes}B")
    }
}

/// Builds the INFO text for the requested sections (all when empty / "all" / "everything").
pub fn info_text(node: &Node, sections: &[String]) -> String {
    let default = sections.is_empty() || sections.iter().any(|s| s == "default");
    let all = sections.iter().any(|s| s == "all" || s == "everything");
    // Sections outside "default" (as in Redis): only with all/everything or by name.
    let extra = |s: &str| all || sections.iter().any(|x| x == s);
    let want = |s: &str| default || extra(s);
    let mut out = String::new();
    let uptime = node.lifecycle.started.elapsed().as_secs();
    if want("server") {
        out.push_str(&format!(
            "# Server\r\nredis_version:{}\r\nredis_git_sha1:00000000\r\nredis_git_dirty:0\r\nredis_build_id:0\r\nredis_mode:{}\r\nos:{} {}\r\narch_bits:64\r\nmultiplexing_api:epoll\r\natomicvar_api:c11-builtin\r\ngcc_version:0.0.0\r\nprocess_id:{}\r\nprocess_supervised:no\r\nrun_id:{}\r\ntcp_port:{}\r\nserver_time_usec:{}\r\nuptime_in_seconds:{}\r\nuptime_in_days:{}\r\nhz:{}\r\nconfigured_hz:{}\r\nlru_clock:{}\r\nexecutable:slot-node\r\nconfig_file:{}\r\nio_threads_active:0\r\n{}slot_node_version:{}\r\n\r\n",
            crate::REDIS_VERSION,
            if node.cluster.is_some() { "cluster" } else { "standalone" },
            std::env::consts::OS,
            std::env::consts::ARCH,
            std::process::id(),
            node.lifecycle.run_id,
            node.config.port(),
            node.now_ms * 1000,
            uptime,
            uptime / 86400,
            node.config.int_named("hz", 10),
            node.config.int_named("hz", 10),
            crate::keyspace::lru::clock(node.now_ms),
            node.config.file.as_ref().map(|f| f.display().to_string()).unwrap_or_default(),
            if node.shutdown_initiated() {
                format!("shutdown_in_milliseconds:{}\r\n", node.lifecycle.pending.deadline_ms.saturating_sub(node.now_ms))
            } else {
                String::new()
            },
            env!("CARGO_PKG_VERSION"),
        ));
    }
    if want("clients") {
        // Distinct clients: one blocked on several keys counts once; WAIT and paused writes count too.
        let mut ids: std::collections::HashSet<crate::client::ClientId> = node.waits.blocked.values().flatten().copied().collect();
        ids.extend(node.repl.waiters.iter().chain(&node.clients.paused).chain(&node.lifecycle.pending.waiters));
        let blocked = ids.len();
        let pubsub = node.clients.map.values().filter(|c| c.sub_count + c.psub_count + c.ssub_count > 0).count();
        out.push_str(&format!(
            "# Clients\r\nconnected_clients:{}\r\ncluster_connections:0\r\nmaxclients:{}\r\nclient_recent_max_input_buffer:0\r\nclient_recent_max_output_buffer:0\r\nblocked_clients:{}\r\ntracking_clients:{}\r\nclients_in_timeout_table:{}\r\npubsub_clients:{}\r\n\r\n",
            // Replicas are not counted (Redis: clients minus slaves).
            node.clients.map.len().saturating_sub(node.repl.replicas.len()),
            node.config.maxclients(),
            blocked,
            node.tracking.clients.len(),
            blocked,
            pubsub
        ));
    }
    if want("memory") {
        let rss = process_rss();
        let used = crate::util::alloc::used().unwrap_or(rss);
        let peak = node.stats.used_memory_peak.max(used);
        let maxmemory = node.config.int_named("maxmemory", 0).max(0) as u64;
        let frag = if used > 0 { rss as f64 / used as f64 } else { 1.0 };
        let replica_mem = node.replica_clients_memory();
        out.push_str(&format!(
            "# Memory\r\nused_memory:{used}\r\nused_memory_human:{}\r\nused_memory_rss:{rss}\r\nused_memory_rss_human:{}\r\nused_memory_peak:{peak}\r\nused_memory_peak_human:{}\r\nused_memory_dataset:{used}\r\nmaxmemory:{maxmemory}\r\nmaxmemory_human:{}\r\nmaxmemory_policy:{}\r\nmem_fragmentation_ratio:{frag:.2}\r\nmem_not_counted_for_evict:{}\r\nmem_replication_backlog:{}\r\nmem_total_replication_buffers:{}\r\nmem_clients_slaves:{}\r\nmem_clients_normal:{}\r\nmem_allocator:mimalloc\r\nlazyfree_pending_objects:{}\r\nlazyfreed_objects:{}\r\n",
            human(used),
            human(rss),
            human(peak),
            human(maxmemory),
            node.config.get("maxmemory-policy").unwrap_or("noeviction"),
            node.not_counted_for_evict(),
            if node.repl.backlog_active { node.repl.backlog.len() } else { 0 },
            node.replication_buffer_bytes(),
            replica_mem,
            node.normal_clients_memory(),
            node.keyspace.lazyfree.pending(),
            node.keyspace.lazyfree.freed(),
        ));
        let s = &node.scripting;
        let lua_eval = s.eval.as_ref().map_or(0, |e| e.vm.used_memory());
        let lua_func = s.functions.as_ref().map_or(0, |f| f.vm.used_memory());
        let scripts_eval = s.eval.as_ref().map_or(0, |e| e.body_bytes);
        out.push_str(&format!(
            "used_memory_lua:{lua_eval}\r\nused_memory_lua_human:{}\r\nused_memory_vm_eval:{lua_eval}\r\nused_memory_vm_functions:{lua_func}\r\nused_memory_vm_total:{}\r\nused_memory_scripts_eval:{scripts_eval}\r\nnumber_of_cached_scripts:{}\r\nnumber_of_functions:{}\r\nnumber_of_libraries:{}\r\nused_memory_scripts:{scripts_eval}\r\n\r\n",
            human(lua_eval as u64),
            lua_eval + lua_func,
            s.eval.as_ref().map_or(0, |e| e.len()),
            s.functions.as_ref().map_or(0, |f| f.function_count()),
            s.functions.as_ref().map_or(0, |f| f.libs.len()),
        ));
    }
    if want("persistence") {
        out.push_str(&crate::cmd::server::persistence_info(node));
    }
    if want("stats") {
        out.push_str(&stats_info(node));
    }
    if want("replication") {
        out.push_str(&crate::replication::info(&node.repl, &node.config, node.now_ms));
    }
    if want("cpu") {
        let (sys, user) = cpu_times();
        out.push_str(&format!("# CPU\r\nused_cpu_sys:{sys:.6}\r\nused_cpu_user:{user:.6}\r\nused_cpu_sys_children:0.000000\r\nused_cpu_user_children:0.000000\r\n\r\n"));
    }
    if want("modules") {
        out.push_str("# Modules\r\n\r\n");
    }
    if extra("latencystats") && node.config.flag_named("latency-tracking") {
        out.push_str("# Latencystats\r\n");
        let pcts: Vec<f64> = node
            .config
            .get("latency-tracking-info-percentiles")
            .unwrap_or("50 99 99.9")
            .split_whitespace()
            .filter_map(|p| p.parse().ok())
            .collect();
        let mut stats: Vec<&crate::node::CommandStat> = node.stats.commands.values().filter(|c| c.hist.total > 0).collect();
        stats.sort_by_key(|c| c.name);
        for c in stats {
            let parts: Vec<String> =
                pcts.iter().map(|p| format!("p{}={:.3}", crate::config::percentile_text(*p), c.hist.percentile(*p) as f64)).collect();
            out.push_str(&format!("latency_percentiles_usec_{}:{}\r\n", c.name, parts.join(",")));
        }
        out.push_str("\r\n");
    }
    if want("errorstats") {
        out.push_str("# Errorstats\r\n");
        for (code, n) in &node.stats.errors_by_code {
            out.push_str(&format!("errorstat_{code}:count={n}\r\n"));
        }
        out.push_str("\r\n");
    }
    if extra("commandstats") {
        out.push_str("# Commandstats\r\n");
        let mut stats: Vec<&crate::node::CommandStat> = node.stats.commands.values().collect();
        stats.sort_by_key(|c| c.name);
        for c in stats {
            let name = c.name;
            let per_call = if c.calls == 0 { 0.0 } else { c.usec as f64 / c.calls as f64 };
            out.push_str(&format!(
                "cmdstat_{name}:calls={},usec={},usec_per_call={per_call:.2},rejected_calls={},failed_calls={}\r\n",
                c.calls, c.usec, c.rejected, c.failed
            ));
        }
        out.push_str("\r\n");
    }
    if want("cluster") {
        out.push_str(&format!("# Cluster\r\ncluster_enabled:{}\r\n\r\n", node.cluster.is_some() as u8));
    }
    if want("keyspace") {
        out.push_str("# Keyspace\r\n");
        for (i, db) in node.keyspace.dbs.iter().enumerate() {
            if !db.is_empty() {
                out.push_str(&format!("db{i}:keys={},expires={},avg_ttl=0\r\n", db.len(), db.expires_len()));
            }
        }
        out.push_str("\r\n");
    }
    while out.ends_with("\r\n\r\n") {
        out.truncate(out.len() - 2);
    }
    out
}

/// The `# Persistence` section (kept next to INFO so every field lives in one place).
pub fn persistence_info(node: &Node) -> String {
    crate::persistence::info(&node.persistence, node.keyspace.dirty)
}

fn info(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let sections: Vec<String> = argv[1..].iter().map(|a| String::from_utf8_lossy(a).to_ascii_lowercase()).collect();
    let text = info_text(ctx.node, &sections);
    ctx.reply().verbatim(&text);
    Ok(())
}

/// CONFIG's subcommands.
const CONFIG: &[CommandSpec] = &[
    CommandSpec::new("config|get", -3, ADMIN | NOSCRIPT | LOADING | STALE, (0, 0, 0), config_get),
    CommandSpec::new("config|set", -4, ADMIN | NOSCRIPT | LOADING | STALE, (0, 0, 0), config_set),
    CommandSpec::new("config|resetstat", 2, ADMIN | NOSCRIPT | LOADING | STALE, (0, 0, 0), config_resetstat),
    CommandSpec::new("config|rewrite", 2, ADMIN | NOSCRIPT | LOADING | STALE, (0, 0, 0), config_rewrite),
    CommandSpec::new("config|help", 2, LOADING | STALE, (0, 0, 0), config_help),
];

fn config_get(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let mut pairs: Vec<(String, String)> = Vec::new();
    for pat in &argv[2..] {
        let lower = pat.to_ascii_lowercase();
        for (k, v) in ctx.node.config.matching(&lower) {
            if !pairs.iter().any(|(pk, _)| pk == k) {
                pairs.push((k.to_string(), v.to_string()));
            }
        }
    }
    let r = ctx.reply();
    r.map(pairs.len());
    for (k, v) in pairs {
        r.bulk(k.as_bytes());
        r.bulk(v.as_bytes());
    }
    Ok(())
}

fn config_set(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    if argv.len() % 2 != 0 {
        return Err(CmdError::sub_syntax(argv));
    }
    // Settings a load in progress depends on (Redis's DENY_LOADING_CONFIG).
    if ctx.node.persistence.loading
        && argv[2..].chunks(2).any(|p| ["appendonly", "repl-diskless-load", "dir"].iter().any(|n| p[0].eq_ignore_ascii_case(n.as_bytes())))
    {
        return Err(CmdError::new(crate::persistence::LOADING_ERR));
    }
    let mut next = ctx.node.config.clone();
    let mut seen: Vec<String> = Vec::new();
    for pair in argv[2..].chunks(2) {
        let name = String::from_utf8_lossy(pair[0]).into_owned();
        if seen.contains(&name.to_ascii_lowercase()) {
            return Err(CmdError::new(format!("ERR CONFIG SET failed (possibly related to argument '{name}') - duplicate parameter")));
        }
        seen.push(name.to_ascii_lowercase());
        let value = String::from_utf8_lossy(pair[1]).into_owned();
        if IMMUTABLE.contains(&name.to_ascii_lowercase().as_str()) {
            return Err(CmdError::new(format!(
                "ERR CONFIG SET failed (possibly related to argument '{name}') - can't set immutable config"
            )));
        }
        next.set_checked(&name, &value)
            .map_err(|reason| CmdError::new(format!("ERR CONFIG SET failed (possibly related to argument '{name}') - {reason}")))?;
    }
    if seen.iter().any(|n| n == "port" || n == "bind") {
        // Bound before anything changes: a port in use leaves the old listeners and config.
        let listeners = bind_clients(&next, &ctx.node.listeners.bound).map_err(|(name, e)| {
            if name == "port" {
                CmdError::new(format!(
                    "ERR CONFIG SET failed (possibly related to argument 'port') - Unable to listen on this port: {}",
                    crate::util::fs::strerror(&e)
                ))
            } else {
                CmdError::new("ERR CONFIG SET failed (possibly related to argument 'bind') - Failed to bind to specified addresses.")
            }
        })?;
        ctx.node.listeners.pending = Some(listeners);
    }
    if seen.iter().any(|n| n == "oom-score-adj" || n == "oom-score-adj-values") {
        // Applied before the change is kept: a score the kernel refuses leaves the old config.
        ctx.node.apply_oom_score(&next).map_err(|e| {
            tracing::warn!("{e}");
            let _ = ctx.node.apply_oom_score(&ctx.node.config);
            CmdError::new("ERR CONFIG SET failed (possibly related to argument 'oom-score-adj') - Failed to set current oom_score_adj. Check server logs.")
        })?;
    }
    ctx.node.config = next;
    ctx.node.refresh_cached_config();
    if seen.iter().any(|n| n == "requirepass") {
        super::acl::apply_requirepass(ctx.node);
    }
    if seen.iter().any(|n| n == "acl-pubsub-default") {
        ctx.node.acl.pubsub_default_all = ctx.node.config.get("acl-pubsub-default") == Some("allchannels");
    }
    // `appendonly` switches now (the cron retries while a child blocks it),
    // so the next command is already logged, as after Redis's CONFIG SET.
    crate::persistence::aof::apply_config_switch(&mut ctx.node.persistence_parts());
    // A lower maxmemory evicts right after this command (and its
    // transaction), as Redis's eviction time event does: the DELs reach
    // replicas on their own, and a MULTI goes on with the data it started with.
    if ctx.node.keyspace.maxmemory != 0 {
        ctx.node.keyspace.evict_soon = true;
    }
    ctx.reply().ok();
    Ok(())
}

/// The client listeners for a config's `bind` and `port`; on failure, which of the two is to blame.
/// An address already listened on is kept (a duplicate of its socket).
fn bind_clients(
    cfg: &crate::config::NodeConfig,
    bound: &[std::net::TcpListener],
) -> Result<Vec<std::net::TcpListener>, (&'static str, std::io::Error)> {
    let backlog = crate::util::net::listen_backlog(cfg.int_named("tcp-backlog", 511));
    let mut out = Vec::new();
    for host in cfg.bind() {
        let addr = crate::util::net::host_port(&host, cfg.port());
        let wanted = std::net::ToSocketAddrs::to_socket_addrs(&addr).ok().and_then(|mut a| a.next());
        if let Some(kept) = bound.iter().find(|l| wanted.is_some() && l.local_addr().ok() == wanted).and_then(|l| l.try_clone().ok()) {
            out.push(kept);
            continue;
        }
        match crate::util::net::listen(&addr, backlog) {
            Ok(l) => out.push(l),
            Err(e) if e.kind() == std::io::ErrorKind::AddrInUse => return Err(("port", e)),
            Err(e) => return Err(("bind", e)),
        }
    }
    Ok(out)
}

fn config_resetstat(ctx: &mut Ctx<'_>, _argv: &[&[u8]]) -> CmdResult {
    let rss_sample = ctx.node.stats.rss_sample;
    ctx.node.stats = crate::node::Stats { rss_sample, ..Default::default() };
    ctx.node.slowlog.entries.clear();
    ctx.node.keyspace.lazyfree.reset_stats();
    for db in &mut ctx.node.keyspace.dbs {
        db.expired_total = 0;
    }
    ctx.reply().ok();
    Ok(())
}

fn config_rewrite(ctx: &mut Ctx<'_>, _argv: &[&[u8]]) -> CmdResult {
    let Some(path) = ctx.node.config.file.clone() else {
        return Err(CmdError::new("ERR The server is running without a config file"));
    };
    let mut text = ctx.node.config.to_conf_text();
    if let (Some((host, port)), None) = (&ctx.node.repl.master, &ctx.node.cluster) {
        text.push_str(&format!("replicaof {host} {port}\n"));
    }
    // Users are written as `user` lines, unless an ACL file holds them (Redis's rewriteConfigUserOption).
    if ctx.node.config.get("aclfile").is_none_or(str::is_empty) {
        for line in super::acl::user_lines(ctx.node) {
            text.push_str(&line);
            text.push('\n');
        }
    }
    crate::util::fs::write_atomic(&path, text.as_bytes()).map_err(|e| CmdError::new(format!("ERR Rewriting config file: {e}")))?;
    ctx.reply().ok();
    Ok(())
}

fn config_help(ctx: &mut Ctx<'_>, _argv: &[&[u8]]) -> CmdResult {
    super::reply_help(
        ctx,
        &[
            "CONFIG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
            "GET <pattern>",
            "SET <directive> <value>",
            "RESETSTAT",
            "REWRITE",
            "HELP",
        ],
    );
    Ok(())
}

/// Directives Redis refuses to change at runtime.
const IMMUTABLE: &[&str] = &[
    "cluster-enabled",
    "cluster-config-file",
    "cluster-port",
    "databases",
    "daemonize",
    "pidfile",
    "logfile",
    "unixsocket",
    "supervised",
    "io-threads",
    "enable-debug-command",
    "enable-module-command",
    "enable-protected-configs",
    "aclfile",
];

fn write_command_entry(r: &mut crate::resp::ReplyBuf, c: &CommandSpec) {
    r.array(10);
    r.bulk(c.name.as_bytes());
    r.int(c.arity as i64);
    let mut names: Vec<&str> = super::flags::NAMES.iter().filter(|(f, _)| c.flags & f != 0).map(|(_, n)| *n).collect();
    // Keys found by parsing the arguments: Redis's "movablekeys", listed before allow_busy.
    if c.keys.is_some() {
        let at = names.iter().position(|n| *n == "allow_busy").unwrap_or(names.len());
        names.insert(at, "movablekeys");
    }
    r.set(names.len());
    for n in names {
        r.simple(n);
    }
    r.int(c.first_key as i64);
    r.int(c.last_key as i64);
    r.int(c.step as i64);
    let categories = c.acl_categories();
    r.set(categories.len());
    for cat in categories {
        r.simple(cat);
    }
    r.set(0); // tips
              // key specs: one range spec when keys are positional, as Redis describes them.
    if c.first_key > 0 {
        r.array(1);
        r.map(3);
        r.bulk(b"flags");
        r.set(0);
        r.bulk(b"begin_search");
        r.map(2);
        r.bulk(b"type");
        r.bulk(b"index");
        r.bulk(b"spec");
        r.map(1);
        r.bulk(b"index");
        r.int(c.first_key as i64);
        r.bulk(b"find_keys");
        r.map(2);
        r.bulk(b"type");
        r.bulk(b"range");
        r.bulk(b"spec");
        r.map(3);
        r.bulk(b"lastkey");
        r.int(if c.last_key < 0 { c.last_key as i64 } else { (c.last_key - c.first_key) as i64 });
        r.bulk(b"keystep");
        r.int(c.step as i64);
        r.bulk(b"limit");
        r.int(0);
    } else {
        r.array(0);
    }
    r.array(c.subcommands.len());
    for sub in c.subcommands {
        write_command_entry(r, sub);
    }
}

/// COMMAND DOCS for one command: a summary, and its subcommands' docs.
fn write_command_docs(r: &mut crate::resp::ReplyBuf, c: &CommandSpec) {
    if super::command_docs::write(r, c.name) {
        return;
    }
    // Commands Redis has no docs for (slotd's own): a summary only.
    r.bulk(c.name.as_bytes());
    let subs = !c.subcommands.is_empty();
    r.map(1 + usize::from(subs));
    r.bulk(b"summary");
    r.bulk(c.name.as_bytes());
    if subs {
        r.bulk(b"subcommands");
        r.map(c.subcommands.len());
        for sub in c.subcommands {
            write_command_docs(r, sub);
        }
    }
}

/// COMMAND's subcommands.
const COMMAND: &[CommandSpec] = &[
    CommandSpec::new("command|count", 2, LOADING | STALE, (0, 0, 0), command_count).acl(&["@connection"]),
    CommandSpec::new("command|list", -2, LOADING | STALE, (0, 0, 0), command_list).acl(&["@connection"]),
    CommandSpec::new("command|info", -2, LOADING | STALE, (0, 0, 0), command_info).acl(&["@connection"]),
    CommandSpec::new("command|docs", -2, LOADING | STALE, (0, 0, 0), command_docs).acl(&["@connection"]),
    CommandSpec::new("command|getkeys", -4, LOADING | STALE, (0, 0, 0), command_getkeys).acl(&["@connection"]),
    CommandSpec::new("command|getkeysandflags", -4, LOADING | STALE, (0, 0, 0), command_getkeysandflags).acl(&["@connection"]),
    CommandSpec::new("command|help", 2, LOADING | STALE, (0, 0, 0), command_help).acl(&["@connection"]),
];

/// Top-level commands this client may see (slotd's own only with the admin token configured).
fn visible(ctx: &Ctx<'_>) -> Vec<&'static CommandSpec> {
    let admin = ctx.node.config.admin_token.is_some();
    let mut all: Vec<&'static CommandSpec> = super::table().iter().filter(|c| admin || !c.name.starts_with("slotd.")).collect();
    all.sort_by_key(|c| c.name);
    all
}

/// COMMAND alone: every command with its metadata.
fn command(ctx: &mut Ctx<'_>, _argv: &[&[u8]]) -> CmdResult {
    let all = visible(ctx);
    let r = ctx.reply();
    r.array(all.len());
    for c in all {
        write_command_entry(r, c);
    }
    Ok(())
}

fn command_count(ctx: &mut Ctx<'_>, _argv: &[&[u8]]) -> CmdResult {
    let n = visible(ctx).len();
    ctx.reply().int(n as i64);
    Ok(())
}

/// COMMAND LIST [FILTERBY MODULE name | ACLCAT category | PATTERN pattern]:
/// every command and subcommand name, or those the filter keeps.
fn command_list(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    enum Filter<'a> {
        All,
        Module,
        AclCat(String),
        Pattern(&'a [u8]),
    }
    let filter = match argv.len() {
        2 => Filter::All,
        5 if is(argv[2], "filterby") && is(argv[3], "module") => Filter::Module,
        5 if is(argv[2], "filterby") && is(argv[3], "aclcat") => {
            Filter::AclCat(format!("@{}", String::from_utf8_lossy(argv[4]).to_ascii_lowercase()))
        }
        5 if is(argv[2], "filterby") && is(argv[3], "pattern") => Filter::Pattern(argv[4]),
        _ => return Err(CmdError::syntax()),
    };
    let keep = |c: &CommandSpec| match &filter {
        Filter::All => true,
        Filter::Module => false,
        Filter::AclCat(cat) => c.acl_categories().contains(&cat.as_str()),
        Filter::Pattern(p) => crate::glob::glob_match(p, c.name.as_bytes(), true),
    };
    let names: Vec<&str> =
        visible(ctx).into_iter().flat_map(|c| std::iter::once(c).chain(c.subcommands.iter())).filter(|c| keep(c)).map(|c| c.name).collect();
    let r = ctx.reply();
    r.array(names.len());
    for n in names {
        r.bulk(n.as_bytes());
    }
    Ok(())
}

/// The commands COMMAND INFO/DOCS were asked about (all when none is named).
fn named(ctx: &Ctx<'_>, argv: &[&[u8]]) -> Vec<Option<&'static CommandSpec>> {
    if argv.len() == 2 {
        return visible(ctx).into_iter().map(Some).collect();
    }
    argv[2..].iter().map(|n| super::table().by_full_name(n)).collect()
}

fn command_info(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let found = named(ctx, argv);
    let r = ctx.reply();
    r.array(found.len());
    for c in found {
        match c {
            Some(c) => write_command_entry(r, c),
            None => r.null_array(),
        }
    }
    Ok(())
}

fn command_docs(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let present: Vec<&'static CommandSpec> = named(ctx, argv).into_iter().flatten().collect();
    let r = ctx.reply();
    r.map(present.len());
    for c in present {
        write_command_docs(r, c);
    }
    Ok(())
}

fn command_getkeys(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let (_, rest, pos) = keys_of_request(argv)?;
    let r = ctx.reply();
    r.array(pos.len());
    for p in pos {
        r.bulk(rest[p]);
    }
    Ok(())
}

/// COMMAND GETKEYSANDFLAGS: each key with its key-spec flags.
fn command_getkeysandflags(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let (c, rest, pos) = keys_of_request(argv)?;
    let flags = crate::acl::keyspec::key_flags(c.name, rest, &pos);
    let r = ctx.reply();
    r.array(pos.len());
    for (p, f) in pos.iter().zip(flags) {
        r.array(2);
        r.bulk(rest[*p]);
        r.set(f.len());
        for name in f {
            // Redis prints the access kinds in capitals and the rest in lowercase.
            if matches!(name, "RO" | "RW" | "OW" | "RM") {
                r.simple(name);
            } else {
                r.simple(&name.to_ascii_lowercase());
            }
        }
    }
    Ok(())
}

/// The command a COMMAND GETKEYS* request names, its arguments, and their key positions.
type KeysOfRequest<'a> = (&'static CommandSpec, &'a [&'a [u8]], Vec<usize>);

fn keys_of_request<'a>(argv: &'a [&'a [u8]]) -> Result<KeysOfRequest<'a>, CmdError> {
    let rest = &argv[2..];
    let super::Lookup::Found(c) = super::table().find(rest) else {
        return Err(CmdError::new("ERR Invalid command specified"));
    };
    if c.first_key <= 0 && c.keys.is_none() {
        return Err(CmdError::new("ERR The command has no key arguments"));
    }
    if !c.arity_ok(rest.len()) {
        return Err(CmdError::new("ERR Invalid number of arguments specified for command"));
    }
    let pos = c.key_positions(rest);
    // Scripts, functions and MIGRATE may name no key (Redis's NO_MANDATORY_KEYS).
    let optional = matches!(c.name, "eval" | "evalsha" | "eval_ro" | "evalsha_ro" | "fcall" | "fcall_ro" | "migrate");
    if pos.is_empty() && !optional {
        return Err(CmdError::new("ERR Invalid arguments specified for command"));
    }
    Ok((c, rest, pos))
}

fn command_help(ctx: &mut Ctx<'_>, _argv: &[&[u8]]) -> CmdResult {
    super::reply_help(
        ctx,
        &[
            "COMMAND <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
            "(no subcommand)",
            "    Return details about all Redis commands.",
            "COUNT",
            "    Return the total number of commands in this Redis server.",
            "LIST",
            "    Return a list of all commands in this Redis server.",
            "INFO [<command-name> ...]",
            "    Return details about multiple Redis commands.",
            "    If no command names are given, documentation details for all",
            "    commands are returned.",
            "DOCS [<command-name> ...]",
            "    Return documentation details about multiple Redis commands.",
            "    If no command names are given, documentation details for all",
            "    commands are returned.",
            "GETKEYS <full-command>",
            "    Return the keys from a full Redis command.",
            "HELP",
            "    Prints this help.",
        ],
    );
    Ok(())
}

fn time(ctx: &mut Ctx<'_>, _argv: &[&[u8]]) -> CmdResult {
    let d = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    let r = ctx.reply();
    r.array(2);
    r.bulk(d.as_secs().to_string().as_bytes());
    r.bulk(d.subsec_micros().to_string().as_bytes());
    Ok(())
}

fn lastsave(ctx: &mut Ctx<'_>, _argv: &[&[u8]]) -> CmdResult {
    let t = ctx.node.persistence.last_save_unix as i64;
    ctx.reply().int(t);
    Ok(())
}

/// SLOWLOG's subcommands.
const SLOWLOG: &[CommandSpec] = &[
    CommandSpec::new("slowlog|get", -2, ADMIN | LOADING | STALE, (0, 0, 0), slowlog_get),
    CommandSpec::new("slowlog|len", 2, ADMIN | LOADING | STALE, (0, 0, 0), slowlog_len),
    CommandSpec::new("slowlog|reset", 2, ADMIN | LOADING | STALE, (0, 0, 0), slowlog_reset),
    CommandSpec::new("slowlog|help", 2, LOADING | STALE, (0, 0, 0), slowlog_help),
];

fn slowlog_get(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    if argv.len() > 3 {
        return Err(CmdError::sub_syntax(argv));
    }
    let count = match argv.get(2) {
        Some(a) => {
            let n = parse_i64(a)?;
            if n < -1 {
                return Err(CmdError::new("ERR count should be greater than or equal to -1"));
            }
            if n == -1 {
                usize::MAX
            } else {
                n as usize
            }
        }
        None => 10,
    };
    let entries: Vec<_> = ctx.node.slowlog.entries.iter().take(count).cloned().collect();
    let r = ctx.reply();
    r.array(entries.len());
    for e in entries {
        r.array(6);
        r.int(e.id as i64);
        r.int(e.at_secs as i64);
        r.int(e.micros as i64);
        r.array(e.argv.len());
        for a in &e.argv {
            r.bulk(a);
        }
        r.bulk(e.peer.as_bytes());
        r.bulk(e.name.as_bytes());
    }
    Ok(())
}

fn slowlog_len(ctx: &mut Ctx<'_>, _argv: &[&[u8]]) -> CmdResult {
    let n = ctx.node.slowlog.entries.len() as i64;
    ctx.reply().int(n);
    Ok(())
}

fn slowlog_reset(ctx: &mut Ctx<'_>, _argv: &[&[u8]]) -> CmdResult {
    ctx.node.slowlog.entries.clear();
    ctx.reply().ok();
    Ok(())
}

fn slowlog_help(ctx: &mut Ctx<'_>, _argv: &[&[u8]]) -> CmdResult {
    super::reply_help(ctx, &["SLOWLOG <subcommand> [<arg> [value] [opt] ...]. Subcommands are: GET [<count>], LEN, RESET, HELP"]);
    Ok(())
}

fn monitor(ctx: &mut Ctx<'_>, _argv: &[&[u8]]) -> CmdResult {
    let id = ctx.client.id;
    if !ctx.node.clients.monitors.contains(&id) {
        ctx.node.clients.monitors.push(id);
    }
    ctx.reply().ok();
    Ok(())
}

/// DEBUG RELOAD [NOSAVE] [NOFLUSH] [MERGE]: save the RDB file, empty the
/// keyspace and load the file again, so every value is re-encoded by the
/// current thresholds (how Redis's tests check encodings after a load).
fn debug_reload(ctx: &mut Ctx<'_>, opts: &[&[u8]]) -> CmdResult {
    let (mut save, mut flush, mut merge) = (true, true, false);
    for o in opts {
        if is(o, "nosave") {
            save = false;
        } else if is(o, "noflush") {
            flush = false;
        } else if is(o, "merge") {
            merge = true;
        } else {
            return Err(CmdError::syntax());
        }
    }
    let mut parts = ctx.node.persistence_parts();
    if save && crate::persistence::save_sync(&mut parts).is_err() {
        return Err(CmdError::new("ERR"));
    }
    if flush {
        for db in &mut parts.keyspace.dbs {
            db.flush();
        }
    }
    if let Err(e) = crate::persistence::load_rdb_file(&mut parts) {
        tracing::warn!("DEBUG RELOAD: {e}");
        return Err(CmdError::new("ERR Error trying to load the RDB dump, check server logs."));
    }
    // A reload keeps the running replication history (Redis loads without rdbSaveInfo).
    parts.persistence.loaded_repl = None;
    parts.persistence.loaded_expired.clear();
    use crate::node::replication::FunctionLoad;
    let how = if flush {
        FunctionLoad::Flush
    } else if merge {
        FunctionLoad::Replace
    } else {
        FunctionLoad::Strict
    };
    if let Err(e) = ctx.node.install_loaded_functions(how) {
        tracing::warn!("DEBUG RELOAD: {e}");
        return Err(CmdError::new("ERR Error trying to load the RDB dump, check server logs."));
    }
    ctx.node.touch_all();
    ctx.reply().ok();
    Ok(())
}

/// DEBUG LOADAOF: write out what the AOF buffer holds, empty the dataset
/// and replay the AOF files, as a restart would. The replay is not
/// propagated again (to the AOF itself or to replicas).
fn debug_loadaof(ctx: &mut Ctx<'_>) -> CmdResult {
    ctx.node.write_aof_now();
    crate::persistence::aof::collect_history(&mut ctx.node.persistence_parts());
    for db in &mut ctx.node.keyspace.dbs {
        db.flush();
    }
    let p = &mut ctx.node.propagation;
    let (start, db, count) = (p.buf.len(), p.db, p.count);
    p.held += 1;
    // Clients a slow script lets in meanwhile are told the node is loading, as in Redis.
    ctx.node.persistence.loading = true;
    let r = crate::persistence::aof::reload(&mut super::replay::AofReplayer::new(ctx.node));
    ctx.node.persistence.loading = false;
    let p = &mut ctx.node.propagation;
    p.held -= 1;
    p.buf.truncate(start);
    p.db = db;
    p.count = count;
    // As Redis: what was loaded is what the files hold, nothing to save.
    ctx.node.keyspace.dirty = 0;
    ctx.node.touch_all();
    if let Err(e) = r {
        // Redis exits here; we keep serving and say why.
        tracing::error!("DEBUG LOADAOF: {e}");
        return Err(CmdError::new("ERR Error trying to load the AOF files, check server logs."));
    }
    tracing::warn!("Append Only File loaded by DEBUG LOADAOF");
    ctx.reply().ok();
    Ok(())
}

/// DEBUG PROTOCOL <type>: one reply of each RESP type, as Redis sends them (client tests use it).
/// DEBUG POPULATE count [prefix] [size]: keys `prefix:N` holding
/// `value:N` (NUL-padded or cut to `size`); existing keys are kept. Like
/// Redis it is not propagated: it is a test tool.
fn debug_populate(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let positive = |a: &[u8]| {
        super::args::parse_i64(a)
            .and_then(|n| if n < 0 { Err(CmdError::new("ERR value is out of range, must be positive")) } else { Ok(n) })
    };
    let count = positive(argv[2])?;
    let size = if argv.len() == 5 { positive(argv[4])? as usize } else { 0 };
    let prefix: &[u8] = argv.get(3).map_or(b"key", |p| &p[..p.len().min(120)]);
    let now = ctx.now();
    let db = ctx.db();
    for j in 0..count {
        let mut key = prefix.to_vec();
        key.extend_from_slice(format!(":{j}").as_bytes());
        if db.contains(&key, now) {
            continue;
        }
        let mut val = format!("value:{j}").into_bytes();
        if size != 0 {
            val.resize(size, 0);
        }
        db.set(&key, crate::keyspace::Value::Str(val.into_boxed_slice()));
    }
    ctx.reply().ok();
    Ok(())
}

fn debug_protocol(ctx: &mut Ctx<'_>, kind: &[u8]) -> CmdResult {
    let r = ctx.reply();
    match kind.to_ascii_lowercase().as_slice() {
        b"string" => r.bulk(b"Hello World"),
        b"integer" => r.int(12345),
        // Redis's own test value, not π.
        #[allow(clippy::approx_constant)]
        b"double" => r.double(3.141),
        b"bignum" => r.big_number(b"1234567999999999999999999999999999999"),
        b"null" => r.null(),
        b"array" | b"set" | b"map" => {
            match kind.to_ascii_lowercase().as_slice() {
                b"array" => r.array(3),
                b"set" => r.set(3),
                _ => r.map(3),
            }
            let map = is(kind, "map");
            for j in 0..3 {
                r.int(j);
                if map {
                    r.bool(j == 1);
                }
            }
        }
        b"attrib" => {
            if r.resp3 {
                r.raw(b"|1\r\n");
                r.bulk(b"key-popularity");
                r.array(2);
                r.bulk(b"key:123");
                r.int(90);
            }
            r.bulk(b"Some real reply following the attribute");
        }
        b"push" => {
            if !r.resp3 {
                return Err(CmdError::new("ERR RESP2 is not supported by this command"));
            }
            r.push(2);
            r.bulk(b"server-cpu-usage");
            r.int(42);
            r.bulk(b"Some real reply following the push reply");
        }
        b"verbatim" => r.verbatim_as(b"txt", b"This is a verbatim\nstring"),
        b"true" => r.bool(true),
        b"false" => r.bool(false),
        _ => {
            return Err(CmdError::new(
                "ERR Wrong protocol type name. Please use one of the following: string|integer|double|bignum|null|array|set|map|attrib|push|verbatim|true|false",
            ))
        }
    }
    Ok(())
}

fn debug(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let sub = argv[1];
    // DEBUG runs while a dataset loads; these two would save or replace it half loaded.
    if ctx.node.persistence.loading && (is(sub, "reload") || is(sub, "loadaof")) {
        return Err(CmdError::new(crate::persistence::LOADING_ERR));
    }
    if is(sub, "sleep") && argv.len() == 3 {
        let secs = super::args::parse_f64(argv[2])?;
        // Blocks the node on purpose, as Redis does: it is how tests simulate a hung server.
        std::thread::sleep(std::time::Duration::from_secs_f64(secs.clamp(0.0, 3600.0)));
        ctx.reply().ok();
    } else if is(sub, "replicate") && argv.len() >= 3 {
        // Puts a command in the replication stream without running it here
        // (tests use it to make a replica diverge).
        let mut bytes = Vec::new();
        crate::resp::encode_command(&mut bytes, &argv[2..].iter().map(|a| a.to_vec()).collect::<Vec<_>>());
        if ctx.node.repl.backlog_active {
            ctx.node.repl.append_stream(&bytes);
            ctx.node.flush_to_replicas();
        }
        ctx.reply().ok();
    } else if is(sub, "aof-flush-sleep") && argv.len() == 3 {
        // A test hook: each AOF write waits this long first (microseconds).
        let us = super::args::parse_i64(argv[2])?.clamp(0, 10_000_000) as u64;
        if let Some(aof) = ctx.node.persistence.aof.as_mut() {
            aof.flush_sleep_us = us;
        }
        ctx.reply().ok();
    } else if is(sub, "log") && argv.len() == 3 {
        // A marker in the log (tests use it to find their place).
        tracing::warn!("DEBUG LOG: {}", String::from_utf8_lossy(argv[2]));
        ctx.reply().ok();
    } else if is(sub, "segfault") && argv.len() == 2 {
        if !crate::util::crash::installed() {
            // A node inside slotd shares its process: crashing it would stop them all.
            return Err(CmdError::new("ERR DEBUG SEGFAULT is only available in a slot-node process"));
        }
        crate::util::crash::segfault();
    } else if is(sub, "panic") && argv.len() == 2 {
        if !crate::util::crash::installed() {
            return Err(CmdError::new("ERR DEBUG PANIC is only available in a slot-node process"));
        }
        // DEBUG PANIC: the panic path on purpose; the hook logs the report.
        panic!("DEBUG PANIC called at Unix time {}", ctx.now() / 1000);
    } else if is(sub, "set-skip-checksum-validation") && argv.len() == 3 {
        ctx.node.persistence.skip_checksum_validation = super::args::parse_i64(argv[2])? != 0;
        ctx.reply().ok();
    } else if is(sub, "set-active-expire") && argv.len() == 3 {
        ctx.node.keyspace.active_expire = super::args::parse_i64(argv[2])? != 0;
        ctx.reply().ok();
    } else if is(sub, "protocol") && argv.len() == 3 {
        debug_protocol(ctx, argv[2])?;
    } else if is(sub, "set-disable-deny-scripts") && argv.len() == 3 {
        ctx.node.scripting.allow_noscript_commands = super::args::parse_i64(argv[2])? != 0;
        ctx.reply().ok();
    } else if is(sub, "reload") {
        debug_reload(ctx, &argv[2..])?;
    } else if is(sub, "pause-cron") && argv.len() == 3 {
        ctx.node.cron_paused = super::args::parse_i64(argv[2])? != 0;
        ctx.reply().ok();
    } else if is(sub, "loadaof") && argv.len() == 2 {
        debug_loadaof(ctx)?;
    } else if is(sub, "populate") && (3..=5).contains(&argv.len()) {
        debug_populate(ctx, argv)?;
    } else if is(sub, "digest") && argv.len() == 2 {
        let d = crate::keyspace::digest::dataset_digest(&ctx.node.keyspace.dbs);
        ctx.reply().simple(&d);
    } else if is(sub, "digest-value") {
        let digests: Vec<String> = argv[2..].iter().map(|k| crate::keyspace::digest::key_digest(ctx.db(), k)).collect();
        ctx.reply().array(digests.len());
        for d in digests {
            ctx.reply().simple(&d);
        }
    } else if is(sub, "replybuffer") && argv.len() == 4 {
        // Redis resizes each client's reply buffer on a peak timer; ours is
        // sized by use (kept up to 1 MB, dropped after a bigger reply), so the
        // knobs are checked as Redis checks them and have nothing to tune.
        if is(argv[2], "peak-reset-time") {
            if !is(argv[3], "never") && !is(argv[3], "reset") {
                parse_i64(argv[3])?;
            }
        } else if !is(argv[2], "resizing") {
            return Err(CmdError::new(format!("ERR unknown subcommand '{}'. Try DEBUG HELP.", String::from_utf8_lossy(argv[2]))));
        }
        ctx.reply().ok();
    } else if is(sub, "quicklist-packed-threshold") && argv.len() == 3 {
        let size =
            std::str::from_utf8(argv[2]).ok().and_then(crate::config::parse_memory).filter(|n| *n >= 0 && *n <= (1i64 << 32) - (1 << 20));
        let Some(size) = size else {
            return Err(CmdError::new("ERR argument must be a memory value bigger than 1 and smaller than 4gb"));
        };
        ctx.node.keyspace.list_packed_threshold = size as usize;
        ctx.node.refresh_cached_config();
        ctx.reply().ok();
    } else if is(sub, "object") && argv.len() == 3 {
        // Like Redis, DEBUG OBJECT looks the key up without expiring it.
        let Some(e) = ctx.db().peek(argv[2]).cloned() else {
            return Err(CmdError::no_such_key());
        };
        let now = ctx.now();
        let line = format!(
            "Value at:0x0 refcount:1 encoding:{} serializedlength:{} lru:{} lru_seconds_idle:{}",
            e.encoding(),
            e.value.approx_size(),
            e.lru,
            crate::keyspace::lru::idle_ms(e.lru, now) / 1000
        );
        ctx.reply().simple(&line);
    } else {
        return Err(CmdError::new(format!(
            "ERR unknown subcommand or wrong number of arguments for '{}'. Try DEBUG HELP.",
            String::from_utf8_lossy(sub)
        )));
    }
    Ok(())
}

fn shutdown(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let mut flags = ShutdownFlags::default();
    let mut abort = false;
    for a in &argv[1..] {
        if is(a, "save") {
            flags.save = true;
        } else if is(a, "nosave") {
            flags.nosave = true;
        } else if is(a, "force") {
            flags.force = true;
        } else if is(a, "abort") {
            abort = true;
        } else if is(a, "now") {
            flags.now = true;
        } else {
            return Err(CmdError::syntax());
        }
    }
    if (abort && flags != ShutdownFlags::default()) || (flags.save && flags.nosave) {
        return Err(CmdError::syntax());
    }
    if abort {
        if !ctx.node.abort_shutdown() {
            return Err(CmdError::new("ERR No shutdown in progress."));
        }
        ctx.reply().ok();
        return Ok(());
    }
    if !flags.now && ctx.client.in_exec {
        return Err(CmdError::new("ERR SHUTDOWN without NOW or ABORT isn't allowed for DENY BLOCKING client"));
    }
    if ctx.node.persistence.loading {
        // Half a dataset is never saved over the file it comes from (Redis
        // turns SAVE into NOSAVE while loading).
        flags.save = false;
        flags.nosave = true;
    }
    // Like Redis, the final save happens here (or once lagging replicas caught
    // up): when it fails the node stays up and says so (FORCE goes on regardless).
    match ctx.node.prepare_shutdown(flags) {
        // Redis sends no reply on success: the connection just closes.
        ShutdownStep::Exit => ctx.client.close_after_reply = true,
        ShutdownStep::Failed => return Err(CmdError::new(SHUTDOWN_FAILED)),
        ShutdownStep::Waiting => {
            ctx.client.block = Some(BlockRequest { keys: Vec::new(), deadline_ms: 0, rerun_on_timeout: false, rerun_argv: None });
            let id = ctx.client.id;
            if !ctx.node.lifecycle.pending.waiters.contains(&id) {
                ctx.node.lifecycle.pending.waiters.push(id);
            }
        }
    }
    Ok(())
}

/// MEMORY's subcommands.
const MEMORY: &[CommandSpec] = &[
    CommandSpec::new("memory|usage", -3, READONLY, (2, 2, 1), memory_usage),
    CommandSpec::new("memory|doctor", 2, 0, (0, 0, 0), memory_doctor),
    CommandSpec::new("memory|stats", 2, 0, (0, 0, 0), memory_stats),
    CommandSpec::new("memory|help", 2, LOADING | STALE, (0, 0, 0), memory_help),
];

fn memory_usage(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let now = ctx.now();
    match ctx.db().get(argv[2], now).map(|e| e.value.approx_size() + argv[2].len() + 56) {
        Some(n) => ctx.reply().int(n as i64),
        None => ctx.reply().null(),
    }
    Ok(())
}

fn memory_doctor(ctx: &mut Ctx<'_>, _argv: &[&[u8]]) -> CmdResult {
    ctx.reply().verbatim("Hi Sam, I can't find any memory issue in your instance. I can only account for what occurs on this base.");
    Ok(())
}

/// MEMORY STATS: where the memory goes, in Redis's fields (those slot-node
/// can measure; the allocator's internal figures are left out).
fn memory_stats(ctx: &mut Ctx<'_>, _argv: &[&[u8]]) -> CmdResult {
    let node = &*ctx.node;
    let rss = process_rss();
    let used = crate::util::alloc::used().unwrap_or(rss);
    let peak = node.stats.used_memory_peak.max(used);
    let startup = node.stats.startup_allocated.min(used);
    let backlog = if node.repl.backlog_active { node.repl.backlog.allocated() as u64 } else { 0 };
    let slaves = node.replica_clients_memory() as u64;
    let normal = node.normal_clients_memory() as u64;
    let aof = node.persistence.aof.as_ref().map_or(0, |a| a.buffered_len()) as u64;
    let lua = node.scripting.eval.as_ref().map_or(0, |e| e.vm.used_memory() + e.body_bytes) as u64;
    let dbs: Vec<(usize, (usize, usize))> = node
        .keyspace
        .dbs
        .iter()
        .enumerate()
        .filter(|(_, d)| !d.is_empty() || d.expires_len() > 0)
        .map(|(i, d)| (i, d.overhead()))
        .collect();
    let keys: usize = node.keyspace.dbs.iter().map(crate::keyspace::Db::len).sum();
    let tables: u64 = dbs.iter().map(|(_, (m, e))| (m + e) as u64).sum();
    let overhead = startup + backlog + slaves + normal + aof + lua + tables;
    let dataset = used.saturating_sub(overhead);
    let net = used.saturating_sub(startup);
    let pct = |part: u64, whole: u64| if whole == 0 { 0.0 } else { part as f64 * 100.0 / whole as f64 };
    let r = ctx.reply();
    r.map(17 + dbs.len());
    let int = |r: &mut crate::resp::ReplyBuf, k: &str, v: u64| {
        r.bulk(k.as_bytes());
        r.int(v as i64);
    };
    int(r, "peak.allocated", peak);
    int(r, "total.allocated", used);
    int(r, "startup.allocated", startup);
    int(r, "replication.backlog", backlog);
    int(r, "clients.slaves", slaves);
    int(r, "clients.normal", normal);
    int(r, "cluster.links", 0);
    int(r, "aof.buffer", aof);
    int(r, "lua.caches", lua);
    for (i, (main, expires)) in &dbs {
        r.bulk(format!("db.{i}").as_bytes());
        r.map(2);
        int(r, "overhead.hashtable.main", *main as u64);
        int(r, "overhead.hashtable.expires", *expires as u64);
    }
    int(r, "overhead.total", overhead);
    int(r, "keys.count", keys as u64);
    int(r, "keys.bytes-per-key", if keys == 0 { 0 } else { net / keys as u64 });
    int(r, "dataset.bytes", dataset);
    r.bulk(b"dataset.percentage");
    r.double(pct(dataset, net));
    r.bulk(b"peak.percentage");
    r.double(pct(used, peak));
    r.bulk(b"fragmentation");
    r.double(if used == 0 { 1.0 } else { rss as f64 / used as f64 });
    int(r, "fragmentation.bytes", rss.saturating_sub(used));
    Ok(())
}

fn memory_help(ctx: &mut Ctx<'_>, _argv: &[&[u8]]) -> CmdResult {
    super::reply_help(
        ctx,
        &[
            "MEMORY <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
            "DOCTOR",
            "    Return memory problems reports.",
            "STATS",
            "    Return information about the memory usage of the server.",
            "USAGE <key> [SAMPLES <count>]",
            "    Return memory in bytes used by <key> and its value. Nested values are",
            "    sampled up to <count> times (default: 5, 0 means sample all).",
            "HELP",
            "    Prints this help.",
        ],
    );
    Ok(())
}

/// INFO's Stats section: Redis 7.0's fields in its order. Counters we have
/// no mechanism for (active defrag, I/O threads, client eviction) are 0, as
/// on a redis-server with those features off.
fn stats_info(node: &crate::node::Node) -> String {
    let s = &node.stats;
    let expired: u64 = node.keyspace.dbs.iter().map(|d| d.expired_total).sum();
    let kbps = |of: fn(&crate::node::RateSample) -> u64| format!("{:.2}", s.rate(of) / 1024.0);
    let mut out = String::from("# Stats\r\n");
    let mut kv = |k: &str, v: String| {
        out.push_str(k);
        out.push(':');
        out.push_str(&v);
        out.push_str("\r\n");
    };
    kv("total_connections_received", s.total_connections.to_string());
    kv("total_commands_processed", s.total_commands.to_string());
    kv("instantaneous_ops_per_sec", s.instantaneous_ops().to_string());
    kv("total_net_input_bytes", s.net_input_bytes.to_string());
    kv("total_net_output_bytes", s.net_output_bytes.to_string());
    kv("total_net_repl_input_bytes", s.net_repl_input_bytes.to_string());
    kv("total_net_repl_output_bytes", s.net_repl_output_bytes.to_string());
    kv("instantaneous_input_kbps", kbps(|r| r.net_in));
    kv("instantaneous_output_kbps", kbps(|r| r.net_out));
    kv("instantaneous_input_repl_kbps", kbps(|r| r.repl_in));
    kv("instantaneous_output_repl_kbps", kbps(|r| r.repl_out));
    kv("rejected_connections", s.rejected_connections.to_string());
    kv("sync_full", s.sync_full.to_string());
    kv("sync_partial_ok", s.sync_partial_ok.to_string());
    kv("sync_partial_err", s.sync_partial_err.to_string());
    kv("expired_keys", expired.to_string());
    kv("expired_stale_perc", "0.00".into());
    kv("expired_time_cap_reached_count", "0".into());
    kv("expire_cycle_cpu_milliseconds", "0".into());
    kv("evicted_keys", s.evicted_keys.to_string());
    kv("evicted_clients", node.stats.evicted_clients.to_string());
    kv("total_eviction_exceeded_time", "0".into());
    kv("current_eviction_exceeded_time", "0".into());
    kv("keyspace_hits", s.keyspace_hits.to_string());
    kv("keyspace_misses", s.keyspace_misses.to_string());
    kv("pubsub_channels", node.pubsub.channels.len().to_string());
    kv("pubsub_patterns", node.pubsub.patterns.len().to_string());
    kv("pubsubshard_channels", node.pubsub.shard_channels.len().to_string());
    kv("latest_fork_usec", node.persistence.latest_fork_usec.to_string());
    kv("total_forks", node.persistence.total_forks.to_string());
    kv("migrate_cached_sockets", node.migrate_cache.conns.len().to_string());
    kv("slave_expires_tracked_keys", "0".into());
    for k in ["active_defrag_hits", "active_defrag_misses", "active_defrag_key_hits", "active_defrag_key_misses"] {
        kv(k, "0".into());
    }
    kv("total_active_defrag_time", "0".into());
    kv("current_active_defrag_time", "0".into());
    kv("tracking_total_keys", node.tracking.table.len().to_string());
    kv("tracking_total_items", node.tracking.items.to_string());
    kv("tracking_total_prefixes", node.tracking.prefixes.len().to_string());
    kv("unexpected_error_replies", node.stats.unexpected_error_replies.to_string());
    kv("total_error_replies", s.error_replies.to_string());
    kv("dump_payload_sanitizations", "0".into());
    kv("total_reads_processed", s.reads_processed.to_string());
    kv("total_writes_processed", s.writes_processed.to_string());
    kv("io_threaded_reads_processed", "0".into());
    kv("io_threaded_writes_processed", "0".into());
    kv("reply_buffer_shrinks", "0".into());
    kv("reply_buffer_expands", "0".into());
    out.push_str("\r\n");
    out
}
