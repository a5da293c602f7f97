//! MIGRATE: move keys to another node (DUMP here, RESTORE-ASKING there,
//! delete here only once the target said OK). Like Redis it runs
//! synchronously with a timeout and keeps connections to targets cached.

use super::args::{is, parse_i64};
use super::flags::*;
use super::{CmdError, CmdResult, CommandSpec, Ctx};
use crate::persistence::dump::dump_value;
use crate::persistence::rdb::EncodeOptions;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::time::Duration;

pub const COMMANDS: &[CommandSpec] =
    &[CommandSpec::new("migrate", -6, WRITE, (3, 3, 1), migrate).acl(&["@dangerous", "@keyspace"]).with_keys(migrate_keys)];

/// Keys are argv[3], or everything after KEYS when argv[3] is "". AUTH's
/// password and AUTH2's user and password are skipped (a password may be
/// the word KEYS), as Redis's `migrateGetKeys` does.
fn migrate_keys(argv: &[&[u8]]) -> Vec<usize> {
    if argv.get(3).is_some_and(|k| k.is_empty()) {
        let mut i = 6;
        while i < argv.len() {
            if is(argv[i], "auth") {
                i += 2;
            } else if is(argv[i], "auth2") {
                i += 3;
            } else if is(argv[i], "keys") {
                return (i + 1..argv.len()).collect();
            } else {
                i += 1;
            }
        }
        return Vec::new();
    }
    vec![3]
}

fn encode(out: &mut Vec<u8>, argv: &[&[u8]]) {
    out.extend_from_slice(format!("*{}\r\n", argv.len()).as_bytes());
    for a in argv {
        out.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
        out.extend_from_slice(a);
        out.extend_from_slice(b"\r\n");
    }
}

/// Reads one simple reply line (+OK / -ERR ...); RESTORE and SELECT only answer those.
fn read_line(r: &mut BufReader<&mut TcpStream>) -> Result<String, CmdError> {
    let mut line = String::new();
    match r.read_line(&mut line) {
        Ok(0) | Err(_) => Err(CmdError::new("IOERR error or timeout reading to target instance")),
        Ok(_) => Ok(line.trim_end().to_string()),
    }
}

fn migrate(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let host = String::from_utf8_lossy(argv[1]).into_owned();
    let port = parse_i64(argv[2])?;
    let db = parse_i64(argv[4])?;
    let timeout = parse_i64(argv[5])?;
    let (mut copy, mut replace) = (false, false);
    let mut auth: Option<(Option<Vec<u8>>, Vec<u8>)> = None;
    let mut i = 6;
    let mut keys: Vec<&[u8]> = if argv[3].is_empty() { Vec::new() } else { vec![argv[3]] };
    while i < argv.len() {
        let a = argv[i];
        if is(a, "copy") {
            copy = true;
        } else if is(a, "replace") {
            replace = true;
        } else if is(a, "auth") && i + 1 < argv.len() {
            auth = Some((None, argv[i + 1].to_vec()));
            i += 1;
        } else if is(a, "auth2") && i + 2 < argv.len() {
            auth = Some((Some(argv[i + 1].to_vec()), argv[i + 2].to_vec()));
            i += 2;
        } else if is(a, "keys") {
            if !argv[3].is_empty() {
                return Err(CmdError::new("ERR When using MIGRATE KEYS option, the key argument must be set to the empty string"));
            }
            keys = argv[i + 1..].to_vec();
            break;
        } else {
            return Err(CmdError::syntax());
        }
        i += 1;
    }
    let timeout_ms = if timeout <= 0 { 1000 } else { timeout as u64 };
    let now = ctx.now();
    // Only keys that exist move; none at all is NOKEY.
    let opts = EncodeOptions::from_config(&ctx.node.config);
    let mut payloads: Vec<(&[u8], Vec<u8>, u64)> = Vec::new();
    for k in &keys {
        if let Some(e) = ctx.db().get(k, now) {
            let ttl = if e.expire_at == 0 { 0 } else { e.expire_at.saturating_sub(now).max(1) };
            payloads.push((k, dump_value(&e.value, &opts), ttl));
        }
    }
    if payloads.is_empty() {
        ctx.reply().simple("NOKEY");
        return Ok(());
    }
    let target = format!("{host}:{port}");
    let mut req = Vec::new();
    if let Some((user, pass)) = &auth {
        match user {
            Some(u) => encode(&mut req, &[b"AUTH", u, pass]),
            None => encode(&mut req, &[b"AUTH", pass]),
        }
    }
    let db_s = db.to_string();
    encode(&mut req, &[b"SELECT", db_s.as_bytes()]);
    let cmd_name: &[u8] = if ctx.node.cluster.is_some() { b"RESTORE-ASKING" } else { b"RESTORE" };
    for (k, payload, ttl) in &payloads {
        let ttl_s = ttl.to_string();
        let mut args: Vec<&[u8]> = vec![cmd_name, k, ttl_s.as_bytes(), payload];
        if replace {
            args.push(b"REPLACE");
        }
        encode(&mut req, &args);
    }
    let cache = &mut ctx.node.migrate_cache;
    let mut stream = match cache.conns.remove(&target) {
        Some((s, _)) => s,
        None => {
            let addr = std::net::ToSocketAddrs::to_socket_addrs(&target)
                .ok()
                .and_then(|mut a| a.next())
                .ok_or_else(|| CmdError::new("IOERR error or timeout connecting to the client"))?;
            TcpStream::connect_timeout(&addr, Duration::from_millis(timeout_ms))
                .map_err(|_| CmdError::new("IOERR error or timeout connecting to the client"))?
        }
    };
    let _ = stream.set_read_timeout(Some(Duration::from_millis(timeout_ms)));
    let _ = stream.set_write_timeout(Some(Duration::from_millis(timeout_ms)));
    let _ = stream.set_nodelay(true);
    if stream.write_all(&req).is_err() {
        return Err(CmdError::new("IOERR error or timeout writing to target instance"));
    }
    let mut reader = BufReader::new(&mut stream);
    let mut first_error: Option<String> = None;
    if auth.is_some() {
        let l = read_line(&mut reader)?;
        if l.starts_with('-') {
            first_error.get_or_insert(l);
        }
    }
    let l = read_line(&mut reader)?;
    if l.starts_with('-') {
        first_error.get_or_insert(l);
    }
    let mut moved: Vec<&[u8]> = Vec::new();
    for (k, _, _) in &payloads {
        let l = read_line(&mut reader)?;
        if l.starts_with('-') {
            first_error.get_or_insert(l);
        } else {
            moved.push(k);
        }
    }
    // Nothing may be left unread in a cached connection.
    let leftover = reader.buffer().len();
    drop(reader);
    if leftover == 0 {
        let mut probe = [0u8; 1];
        let _ = stream.set_nonblocking(true);
        let stale = stream.read(&mut probe).is_ok();
        let _ = stream.set_nonblocking(false);
        if !stale {
            ctx.node.migrate_cache.keep(target, stream, now);
        }
    }
    if !copy {
        for k in &moved {
            ctx.db().remove(k, now);
            ctx.propagate_as(vec![b"DEL".to_vec(), k.to_vec()]);
            ctx.notify(crate::util::events::GENERIC, "del", k);
        }
        if !moved.is_empty() {
            ctx.dirty(moved.len() as u64);
        }
    }
    match first_error {
        Some(e) => Err(CmdError::new(format!("ERR Target instance replied with error: {}", e.trim_start_matches('-')))),
        None => {
            ctx.reply().ok();
            Ok(())
        }
    }
}
