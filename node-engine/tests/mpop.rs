//! LMPOP, BLMPOP, ZMPOP and BZMPOP answer as redis-server 7.0 does: the
//! same commands sent to both, replies (errors included) compared.

mod support;

use support::{cmd, same_on_both, Both};

#[test]
fn multi_pops_match_redis_server() {
    let Some(mut both) = Both::start() else { return };
    let (ours, theirs) = (&mut both.ours, &mut both.theirs);
    same_on_both(
        ours,
        theirs,
        "l2",
        &[
            cmd(&["RPUSH", "l2", "a", "b", "c", "d"]),
            cmd(&["LMPOP", "2", "l1", "l2", "LEFT", "COUNT", "2"]),
            cmd(&["LMPOP", "1", "l2", "right"]),
            cmd(&["LMPOP", "1", "l2", "RIGHT", "COUNT", "10"]),
            cmd(&["LMPOP", "2", "l1", "l2", "LEFT"]),
            cmd(&["BLMPOP", "0.01", "1", "l2", "LEFT"]),
            cmd(&["RPUSH", "l2", "x"]),
            cmd(&["BLMPOP", "0", "2", "l1", "l2", "LEFT", "COUNT", "3"]),
        ],
    );
    same_on_both(
        ours,
        theirs,
        "z",
        &[
            cmd(&["ZADD", "z", "1", "a", "2.5", "b", "3", "c"]),
            cmd(&["ZMPOP", "1", "z", "MAX", "COUNT", "2"]),
            cmd(&["ZMPOP", "2", "nothing", "z", "min"]),
            cmd(&["ZMPOP", "1", "z", "MIN"]),
            cmd(&["ZADD", "z", "7", "q"]),
            cmd(&["BZMPOP", "1", "1", "z", "MAX"]),
            cmd(&["BZMPOP", "0.01", "1", "z", "MIN"]),
        ],
    );
    // Every argument error, with Redis's text.
    for args in [
        &["LMPOP", "0", "l", "LEFT"][..],
        &["LMPOP", "abc", "l", "LEFT"],
        &["LMPOP", "3", "l", "LEFT"],
        &["LMPOP", "1", "l", "MIDDLE"],
        &["LMPOP", "1", "l", "LEFT", "COUNT", "0"],
        &["LMPOP", "1", "l", "LEFT", "COUNT", "x"],
        &["LMPOP", "1", "l", "LEFT", "COUNT", "1", "COUNT", "2"],
        &["ZMPOP", "1", "z", "LEFT"],
        &["BZMPOP", "-1", "1", "z", "MIN"],
        &["BLMPOP", "x", "1", "l", "LEFT"],
        &["SET", "s", "v"],
        &["LMPOP", "1", "s", "LEFT"],
        &["ZMPOP", "1", "s", "MIN"],
    ] {
        same_on_both(ours, theirs, "s", &[args.iter().map(|a| a.to_string()).collect()]);
    }
}

/// A blocked BLMPOP/BZMPOP is served by the next push to one of its keys.
#[test]
fn blocked_multi_pops_wake_on_a_push() {
    let dir = tempfile::tempdir().expect("tempdir");
    let h = support::start(dir.path(), &[]);
    let port = h.port();
    for (block, push, want) in [
        (vec!["BLMPOP", "5", "2", "wa", "wb", "RIGHT", "COUNT", "2"], vec!["RPUSH", "wb", "x", "y", "z"], "wb [z, y]"),
        (vec!["BZMPOP", "5", "1", "wz", "MIN"], vec!["ZADD", "wz", "4", "m"], "wz [[m, 4]]"),
    ] {
        let waiter = std::thread::spawn(move || {
            let mut c = support::conn(port);
            let (key, items): (String, redis::Value) = redis::cmd(block[0]).arg(&block[1..]).query(&mut c).expect("blocking pop");
            format!("{key} {}", render(&items))
        });
        let mut c = support::conn(port);
        support::wait_until("the pop to block", 10, || {
            let text: String = redis::cmd("INFO").arg("clients").query(&mut c).expect("INFO");
            text.contains("blocked_clients:1\r\n")
        });
        let _: redis::Value = redis::cmd(push[0]).arg(&push[1..]).query(&mut c).expect("push");
        assert_eq!(waiter.join().expect("waiter"), want);
    }
    support::stop(h);
}

/// A reply as compact text: arrays in brackets, strings and numbers bare.
fn render(v: &redis::Value) -> String {
    match v {
        redis::Value::Array(items) => format!("[{}]", items.iter().map(render).collect::<Vec<_>>().join(", ")),
        redis::Value::BulkString(b) => String::from_utf8_lossy(b).into_owned(),
        redis::Value::Int(i) => i.to_string(),
        redis::Value::Double(d) => d.to_string(),
        other => format!("{other:?}"),
    }
}

/// A blocked pop woken by a key that meanwhile became another type keeps
/// waiting (Redis serves only a key of the right type), then takes the next push.
#[test]
fn a_key_of_another_type_does_not_serve_a_blocked_pop() {
    let dir = tempfile::tempdir().expect("tempdir");
    let h = support::start(dir.path(), &[]);
    let port = h.port();
    for block in [vec!["BLPOP", "wk", "5"], vec!["BLMPOP", "5", "1", "wk", "LEFT"]] {
        let waiter = std::thread::spawn(move || {
            let mut c = support::conn(port);
            redis::cmd(block[0]).arg(&block[1..]).query::<redis::Value>(&mut c).map(|v| format!("{v:?}")).map_err(|e| e.to_string())
        });
        let mut c = support::conn(port);
        support::wait_until("the pop to block", 10, || {
            let text: String = redis::cmd("INFO").arg("clients").query(&mut c).expect("INFO");
            text.contains("blocked_clients:1\r\n")
        });
        let () = redis::pipe()
            .atomic()
            .cmd("LPUSH")
            .arg("wk")
            .arg("a")
            .ignore()
            .cmd("DEL")
            .arg("wk")
            .ignore()
            .cmd("SET")
            .arg("wk")
            .arg("foo")
            .ignore()
            .query(&mut c)
            .expect("MULTI");
        let _: redis::Value = redis::cmd("DEL").arg("wk").query(&mut c).expect("DEL");
        let _: redis::Value = redis::cmd("RPUSH").arg("wk").arg("b").query(&mut c).expect("RPUSH");
        let got = waiter.join().expect("waiter").expect("the pop answered without an error");
        assert!(got.contains("\"b\""), "{got}");
    }
    support::stop(h);
}

/// CLIENT UNBLOCK ends a blocked pop as a timeout or with UNBLOCKED, and
/// CLIENT LIST flags the waiting client `b`, as on redis-server.
#[test]
fn client_unblock_matches_redis_server() {
    let Some(both) = Both::start() else { return };
    let ports = [both.ours_port, both.theirs_port];
    let mut answers = Vec::new();
    for port in ports {
        let mut got = Vec::new();
        for reason in ["TIMEOUT", "ERROR"] {
            let mut waiter = support::conn(port);
            let id: i64 = redis::cmd("CLIENT").arg("ID").query(&mut waiter).expect("CLIENT ID");
            let handle = std::thread::spawn(move || {
                redis::cmd("BLPOP")
                    .arg("never")
                    .arg(0)
                    .query::<redis::Value>(&mut waiter)
                    .map(|v| format!("{v:?}"))
                    .map_err(|e| e.to_string())
            });
            let mut c = support::conn(port);
            support::wait_until("the pop to block", 10, || {
                let line: String = redis::cmd("CLIENT").arg("LIST").arg("ID").arg(id).query(&mut c).expect("CLIENT LIST");
                line.contains(" flags=b ")
            });
            let n: i64 = redis::cmd("CLIENT").arg("UNBLOCK").arg(id).arg(reason).query(&mut c).expect("CLIENT UNBLOCK");
            got.push(format!("{n} {:?}", handle.join().expect("waiter")));
        }
        let mut c = support::conn(port);
        let none: i64 = redis::cmd("CLIENT").arg("UNBLOCK").arg(999_999).query(&mut c).expect("CLIENT UNBLOCK");
        got.push(none.to_string());
        answers.push(got);
    }
    assert_eq!(answers[0], answers[1], "ours, then redis-server's");
}
