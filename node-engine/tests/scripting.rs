//! Lua scripting (EVAL, EVALSHA, SCRIPT, FUNCTION, FCALL) answers as
//! redis-server 7.0 does: the same scripts sent to both, replies and error
//! texts compared; plus what a client library does (redis::Script's EVALSHA
//! with its EVAL fallback), effects replication into the AOF, and a busy
//! script that other clients see as BUSY and SCRIPT KILL ends.

mod support;

use support::{cmd, conn, run, same_on_both, start, stop, wait_until, Both};

fn eval(body: &str, keys: &[&str], args: &[&str]) -> Vec<String> {
    let mut v = cmd(&["EVAL", body, &keys.len().to_string()]);
    v.extend(keys.iter().map(|s| s.to_string()));
    v.extend(args.iter().map(|s| s.to_string()));
    v
}

#[test]
fn eval_matches_redis_server() {
    let Some(mut both) = Both::start() else { return };
    let (ours, theirs) = (&mut both.ours, &mut both.theirs);
    same_on_both(
        ours,
        theirs,
        "k",
        &[
            eval("return 'hello'", &[], &[]),
            eval("return {1, 2, 3, 'ciao', {1, 2}, true, false, 3.99}", &[], &[]),
            eval("return redis.call('set', KEYS[1], ARGV[1])", &["k"], &["v"]),
            eval("return redis.call('get', KEYS[1])", &["k"], &[]),
            eval("return redis.call('incr', 'counter')", &[], &[]),
            eval("return redis.call('get', 'nokey')", &[], &[]),
            eval("return {err = 'MY_CODE custom'}", &[], &[]),
            eval("return redis.status_reply('FINE')", &[], &[]),
            eval("return redis.error_reply('MY_ERR_CODE custom msg')", &[], &[]),
            eval("return redis.error_reply('no code here')", &[], &[]),
            eval("return {double = 3.14}", &[], &[]),
            eval("return a", &[], &[]),
            eval("a = 10", &[], &[]),
            eval("error('boom')", &[], &[]),
            eval("return redis.call('nosuchcommand')", &[], &[]),
            eval("return redis.call('lpush', KEYS[1], 'x')", &["k"], &[]),
            eval("return redis.pcall('lpush', KEYS[1], 'x')", &["k"], &[]),
            eval("local ok, e = pcall(function() redis.call('lpush', 'k', 'x') end) return e", &[], &[]),
            eval("return redis.call('set', 'onlyone')", &[], &[]),
            eval("return redis.call('get', {})", &[], &[]),
            eval("return redis.call()", &[], &[]),
            eval("redis.call('multi')", &[], &[]),
            eval("return redis.sha1hex('Pizza & Mandolino')", &[], &[]),
            eval("setmetatable(_G, {})", &[], &[]),
            eval("redis.call = function() return 1 end", &[], &[]),
            eval("cjson.encode = 1", &[], &[]),
            eval("return loadstring(string.dump(function() return 1 end))()", &[], &[]),
            eval("print('x')", &[], &[]),
            eval("return cjson.encode({1, 2, 3, {a = 'b'}, 'x', cjson.null})", &[], &[]),
            eval("return cjson.decode('[1,2,{\"a\":[true,false,null]},\"s\"]')[3].a[1]", &[], &[]),
            eval("return cjson.encode({})", &[], &[]),
            eval("return cjson.encode(3.14159265358979)", &[], &[]),
            eval("return cjson.decode('{')", &[], &[]),
            eval("return cmsgpack.pack(0.1, -1099511627776, 'abc', {1, 2}, {a = 1})", &[], &[]),
            eval("return {cmsgpack.unpack(cmsgpack.pack(1, 'two', {3, 4}, 300, -5, 70000))}", &[], &[]),
            eval("return {bit.band(0xff, 0x0f), bit.bor(1, 2, 4), bit.bxor(1, 3), bit.lshift(1, 31), bit.tohex(255), bit.tohex(-1, -4), bit.bnot(0)}", &[], &[]),
            eval("return {struct.unpack('>I2<i4', struct.pack('>I2<i4', 513, -2))}", &[], &[]),
            eval("return struct.size('>hi4d')", &[], &[]),
            eval("return tostring(1e15) .. ' ' .. tostring(0.1)", &[], &[]),
            eval("return redis.call('ping')", &[], &[]),
            eval("redis.setresp(3) return redis.call('hgetall', 'nohash')", &[], &[]),
            eval("redis.setresp(3) return redis.call('ping')", &[], &[]),
            eval("return redis.setresp(4)", &[], &[]),
            eval("return redis.REDIS_VERSION", &[], &[]),
            eval("return KEYS[1] .. ARGV[2]", &["a"], &["b", "c"]),
            cmd(&["EVAL", "return 1", "2", "a"]),
            cmd(&["EVAL", "return 1", "-1"]),
            cmd(&["EVAL", "return 1", "x"]),
            cmd(&["EVAL", "return (", "0"]),
            cmd(&["EVALSHA", "ffffffffffffffffffffffffffffffffffffffff", "0"]),
            cmd(&["EVALSHA", "short", "0"]),
            cmd(&["SCRIPT", "LOAD", "return 'loaded'"]),
            cmd(&["EVALSHA", "a1f6e6e7a1a9e0ec2b5e6f4f2e0b7c5a3b2c1d0e", "0"]),
            cmd(&["SCRIPT", "EXISTS", "4c8a4ec85a5e2c1b8e1d3dbb7d2c6a2f2e7ffc4b", "ffffffffffffffffffffffffffffffffffffffff"]),
            eval("#!lua flags=no-writes\nreturn redis.call('set', 'k', 'v')", &[], &[]),
            eval("#!lua flags=no-writes\nreturn redis.call('get', 'k')", &[], &[]),
            eval("#!lua flags=bogus\nreturn 1", &[], &[]),
            eval("#!python\nreturn 1", &[], &[]),
            cmd(&["EVAL_RO", "return redis.call('set', 'k', 'v')", "0"]),
            cmd(&["EVAL_RO", "#!lua flags=no-writes\nreturn redis.call('get', 'k')", "0"]),
            cmd(&["EVAL_RO", "return redis.call('get', 'k')", "0"]),
            cmd(&["SCRIPT", "FLUSH"]),
            cmd(&["SCRIPT", "FLUSH", "BOGUS"]),
            cmd(&["SCRIPT", "KILL"]),
            cmd(&["SCRIPT", "NOSUCH"]),
        ],
    );
    // Error replies are counted by code (INFO errorstats), scripts' included.
    for c in [&mut *ours, &mut *theirs] {
        let () = redis::cmd("CONFIG").arg("RESETSTAT").query(c).expect("resetstat");
        let _ = run(c, &["EVAL", "return redis.error_reply('MY_ERR_CODE custom msg')", "0"]);
        let _ = run(c, &["EVAL", "return redis.call('nosuch')", "0"]);
        let _ = run(c, &["NOSUCHCOMMAND"]);
        let info: String = redis::cmd("INFO").arg("errorstats").query(c).expect("info");
        let lines: Vec<&str> = info.lines().filter(|l| l.starts_with("errorstat_")).collect();
        assert_eq!(lines, ["errorstat_ERR:count=2", "errorstat_MY_ERR_CODE:count=1"], "{info}");
    }
    // The SHA SCRIPT LOAD returns runs the script, on both.
    for c in [&mut *ours, &mut *theirs] {
        let sha: String = redis::cmd("SCRIPT").arg("LOAD").arg("return ARGV[1]").query(c).expect("load");
        assert_eq!(run(c, &["EVALSHA", &sha.to_uppercase(), "0", "x"]), Ok(redis::Value::BulkString(b"x".to_vec())));
    }
}

#[test]
fn functions_match_redis_server() {
    let Some(mut both) = Both::start() else { return };
    let (ours, theirs) = (&mut both.ours, &mut both.theirs);
    let lib = "#!lua name=mylib\n\
        redis.register_function('myset', function(keys, args) return redis.call('set', keys[1], args[1]) end)\n\
        redis.register_function{function_name='myget', callback=function(keys) return redis.call('get', keys[1]) end, flags={'no-writes'}, description='reads'}";
    same_on_both(
        ours,
        theirs,
        "fk",
        &[
            cmd(&["FUNCTION", "LOAD", lib]),
            cmd(&["FUNCTION", "LOAD", lib]),
            cmd(&["FUNCTION", "LOAD", "REPLACE", lib]),
            cmd(&["FCALL", "myset", "1", "fk", "v1"]),
            cmd(&["FCALL", "myget", "1", "fk"]),
            cmd(&["FCALL_RO", "myget", "1", "fk"]),
            cmd(&["FCALL_RO", "myset", "1", "fk", "v2"]),
            cmd(&["FCALL", "nosuch", "0"]),
            cmd(&["FCALL", "myget", "x"]),
            cmd(&["FCALL", "myget", "5", "a"]),
            cmd(&["FUNCTION", "LOAD", "#!lua name=solo\nredis.register_function{function_name='only', callback=function() return 1 end, flags={'no-writes', 'allow-stale'}, description='d'}"]),
            cmd(&["FUNCTION", "LIST", "LIBRARYNAME", "sol*"]),
            cmd(&["FUNCTION", "LIST", "WITHCODE", "LIBRARYNAME", "solo"]),
            cmd(&["FCALL_RO", "only", "0"]),
            cmd(&["FUNCTION", "LIST", "LIBRARYNAME"]),
            cmd(&["FUNCTION", "LIST", "BOGUS"]),
            cmd(&["FUNCTION", "STATS"]),
            cmd(&["FUNCTION", "LOAD", "#!lua name=other\nredis.register_function('myset', function() return 1 end)"]),
            cmd(&["FUNCTION", "LOAD", "#!lua name=bad-name\nredis.register_function('f', function() return 1 end)"]),
            cmd(&["FUNCTION", "LOAD", "#!lua name=empty\nlocal x = 1"]),
            cmd(&["FUNCTION", "LOAD", "#!lua name=calls\nredis.call('ping')"]),
            cmd(&["FUNCTION", "LOAD", "#!lua name=syntax\nredis.register_function('f', function() return ( end)"]),
            cmd(&["FUNCTION", "LOAD", "#!nope name=x\nreturn 1"]),
            cmd(&["FUNCTION", "LOAD", "no header"]),
            cmd(&["FUNCTION", "LOAD", "#!lua\nreturn 1"]),
            cmd(&["FUNCTION", "LOAD", "#!lua name=dup\nredis.register_function('d', function() end)\nredis.register_function('d', function() end)"]),
            cmd(&["FUNCTION", "LOAD", "#!lua name=err\nredis.register_function('e', function() return error('inside') end)"]),
            cmd(&["FCALL", "e", "0"]),
            cmd(&["FUNCTION", "DELETE", "err"]),
            cmd(&["FUNCTION", "DELETE", "err"]),
            cmd(&["FUNCTION", "RESTORE", "garbage"]),
            cmd(&["FUNCTION", "KILL"]),
        ],
    );
    // A FUNCTION DUMP moves both ways between the servers (library order is
    // Redis's hash order and LZF output may differ by a byte or two, so the
    // payloads are compared by what they restore).
    let from_theirs: Vec<u8> = redis::cmd("FUNCTION").arg("DUMP").query(theirs).expect("dump");
    let from_ours: Vec<u8> = redis::cmd("FUNCTION").arg("DUMP").query(ours).expect("dump");
    for (c, payload) in [(&mut *ours, &from_theirs), (&mut *theirs, &from_ours)] {
        let () = redis::cmd("FUNCTION").arg("FLUSH").query(c).expect("flush");
        let () = redis::cmd("FUNCTION").arg("RESTORE").arg(payload).query(c).expect("restore");
        assert_eq!(run(c, &["FCALL", "myget", "1", "fk"]), Ok(redis::Value::BulkString(b"v1".to_vec())));
    }
    same_on_both(ours, theirs, "fk", &[cmd(&["FUNCTION", "RESTORE", "x", "BOGUS"])]);
    let restore_again = |c: &mut redis::Connection, p: &[u8], policy: &str| -> Result<(), String> {
        redis::cmd("FUNCTION").arg("RESTORE").arg(p).arg(policy).query::<()>(c).map_err(|e| e.to_string())
    };
    for c in [&mut *ours, &mut *theirs] {
        let e = restore_again(c, &from_ours, "APPEND").expect_err("append clashes");
        assert!(e.contains("Library ") && e.contains(" already exists"), "{e}");
        restore_again(c, &from_ours, "REPLACE").expect("replace");
        restore_again(c, &from_ours, "FLUSH").expect("flush");
    }
}

#[test]
fn redis_crate_script_loads_on_noscript() {
    let dir = tempfile::tempdir().expect("tempdir");
    let node = start(dir.path(), &[]);
    let mut c = conn(node.port());
    let script = redis::Script::new("redis.call('set', KEYS[1], ARGV[1]) return redis.call('incrby', KEYS[1], ARGV[2])");
    // The first invoke gets NOSCRIPT for its EVALSHA and falls back to EVAL.
    let v: i64 = script.key("lock").arg(40).arg(2).invoke(&mut c).expect("invoke");
    assert_eq!(v, 42);
    let exists: Vec<i64> = redis::cmd("SCRIPT").arg("EXISTS").arg(script.get_hash()).query(&mut c).expect("exists");
    assert_eq!(exists, vec![1]);
    let v: i64 = script.key("lock").arg(1).arg(1).invoke(&mut c).expect("invoke");
    assert_eq!(v, 2);
    drop(c);
    stop(node);
}

#[test]
fn script_and_transaction_effects_reach_the_aof_wrapped_in_multi_exec() {
    let dir = tempfile::tempdir().expect("tempdir");
    let node = start(dir.path(), &["--appendonly", "yes", "--appendfsync", "always"]);
    let mut c = conn(node.port());
    let () = redis::cmd("EVAL")
        .arg("redis.call('set', 'a', '1') redis.call('rpush', 'l', 'x', 'y') return redis.call('get', 'nothing')")
        .arg(0)
        .query(&mut c)
        .expect("eval");
    let () = redis::cmd("EVAL").arg("redis.call('set', 'solo', '1')").arg(0).query(&mut c).expect("eval");
    let () = redis::cmd("EVAL").arg("return redis.call('get', 'a')").arg(0).query::<String>(&mut c).map(|_| ()).expect("eval");
    // A transaction of two writes, then one of a single write.
    let () = redis::pipe().atomic().cmd("SET").arg("t1").arg("1").ignore().cmd("INCR").arg("t2").ignore().query(&mut c).expect("multi");
    let () = redis::pipe().atomic().cmd("SET").arg("t3").arg("1").ignore().cmd("GET").arg("t3").ignore().query(&mut c).expect("multi");
    let aof_dir = dir.path().join("appendonlydir");
    let read_incr = || -> String {
        let Ok(entries) = std::fs::read_dir(&aof_dir) else { return String::new() };
        entries
            .filter_map(Result::ok)
            .filter(|e| e.file_name().to_string_lossy().contains(".incr.aof"))
            .map(|e| String::from_utf8_lossy(&std::fs::read(e.path()).unwrap_or_default()).into_owned())
            .collect()
    };
    wait_until("every effect in the AOF", 10, || read_incr().contains("t3"));
    let text = read_incr();
    // The commands as the AOF holds them, one per line.
    let mut commands = Vec::new();
    let mut lines = text.split("\r\n");
    while let Some(head) = lines.next() {
        let Some(n) = head.strip_prefix('*').and_then(|n| n.parse::<usize>().ok()) else { continue };
        let words: Vec<&str> = (0..n).filter_map(|_| lines.next().and(lines.next())).collect();
        commands.push(words.join(" ").to_ascii_uppercase());
    }
    assert_eq!(
        commands,
        ["SELECT 0", "MULTI", "SET A 1", "RPUSH L X Y", "EXEC", "SET SOLO 1", "MULTI", "SET T1 1", "INCR T2", "EXEC", "SET T3 1"],
        "{text:?}"
    );
    drop(c);
    stop(node);
}

#[test]
fn busy_script_answers_busy_until_script_kill() {
    let dir = tempfile::tempdir().expect("tempdir");
    let node = start(dir.path(), &["--busy-reply-threshold", "50"]);
    let port = node.port();
    let mut other = conn(port);
    let mut runner = conn(port);
    let script = std::thread::spawn(move || run(&mut runner, &["EVAL", "local i = 0 while true do i = i + 1 end", "0"]));
    wait_until("a BUSY reply while the script runs", 10, || run(&mut other, &["PING"]).is_err_and(|e| e.starts_with("BUSY")));
    assert_eq!(run(&mut other, &["FUNCTION", "KILL"]).map_err(|e| e[..4].to_string()), Err("BUSY".into()));
    assert_eq!(run(&mut other, &["SCRIPT", "KILL"]), Ok(redis::Value::Okay));
    let result = script.join().expect("script thread");
    let err = result.expect_err("the killed script answers an error");
    assert!(err.contains("Script killed by user with SCRIPT KILL"), "{err}");
    assert_eq!(run(&mut other, &["PING"]), Ok(redis::Value::SimpleString("PONG".into())));
    // A script that wrote cannot be killed; it ends by itself here.
    let mut runner = conn(port);
    let writer = std::thread::spawn(move || {
        run(&mut runner, &["EVAL", "redis.call('set', 'w', '1') for i = 1, 100000000 do end return 'done'", "0"])
    });
    wait_until("the writing script to be busy", 10, || run(&mut other, &["PING"]).is_err_and(|e| e.starts_with("BUSY")));
    let e = run(&mut other, &["SCRIPT", "KILL"]).expect_err("unkillable");
    assert!(e.starts_with("UNKILLABLE"), "{e}");
    assert_eq!(writer.join().expect("writer thread"), Ok(redis::Value::BulkString(b"done".to_vec())));
    drop(other);
    stop(node);
}
