//! ACL users on the builtin node: rules and their descriptions compared
//! with redis-server's, permissions enforced on real connections, users
//! from redis.conf and from an ACL file.

mod support;
use support::*;

fn user_conn(port: u16, user: &str, pass: &str) -> redis::Connection {
    let mut c = conn(port);
    redis::cmd("AUTH").arg(user).arg(pass).query::<()>(&mut c).expect("auth");
    c
}

/// The same ACL commands on both servers give the same replies.
#[test]
fn rules_and_their_descriptions_match_redis_server() {
    if !have_redis() {
        return;
    }
    let (d1, d2) = (tempfile::tempdir().expect("tmp"), tempfile::tempdir().expect("tmp"));
    let ours = slot_node(d1.path(), &[]);
    let theirs = redis_server(d2.path(), &[]);
    let (mut a, mut b) = (conn(ours.port), conn(theirs.port));
    let steps: &[&[&str]] = &[
        &["ACL", "SETUSER", "alice"],
        &["ACL", "GETUSER", "alice"],
        &["ACL", "SETUSER", "alice", "on", ">p1", ">p2", "<p1", "~cache:*", "%R~ro:*", "%W~wo:*", "&news.*", "+get"],
        &["ACL", "GETUSER", "alice"],
        &["ACL", "SETUSER", "bob", "reset", "+@all", "-@string", "~*"],
        &["ACL", "GETUSER", "bob"],
        &["ACL", "SETUSER", "carol", "on", "nopass", "+@all", "-client|kill", "(+get ~r*)", "(+set %W~w*)"],
        &["ACL", "GETUSER", "carol"],
        &["ACL", "SETUSER", "dave", "-@all", "+@hash", "+select|0", "#a5e2f2bb0c6fdb1a77e1e4a0fa6d29aa1c6e1cbcc87a5a5b7b57b3d1f8a8e7a1"],
        &["ACL", "GETUSER", "dave"],
        &["ACL", "USERS"],
        &["ACL", "CAT"],
        &["ACL", "SETUSER", "x", "+nosuchcommand"],
        &["ACL", "SETUSER", "x", "%X~k"],
        &["ACL", "SETUSER", "x", "~*", "~more"],
        &["ACL", "SETUSER", "x", "<never-set"],
        &["ACL", "SETUSER", "x", "#ABC"],
        &["ACL", "SETUSER", "x", "(+get", "~k"],
        &["ACL", "SETUSER", "x", "+get|a|b"],
        &["ACL", "SETUSER", "x y"],
        &["ACL", "DELUSER", "default"],
        &["ACL", "DRYRUN", "alice", "get", "cache:1"],
        &["ACL", "DRYRUN", "alice", "get", "other"],
        &["ACL", "SETUSER", "alice", "+set"],
        &["ACL", "DRYRUN", "alice", "set", "ro:1", "v"],
        &["ACL", "DRYRUN", "alice", "del", "cache:1"],
        &["ACL", "DRYRUN", "carol", "set", "w1", "v"],
        &["ACL", "DRYRUN", "carol", "get", "w1"],
        &["ACL", "DRYRUN", "nobody", "get", "k"],
        &["ACL", "DELUSER", "bob", "nobody"],
        &["ACL", "USERS"],
        &["ACL", "WHOAMI"],
        &["ACL", "GENPASS", "0"],
        &["ACL", "CAT", "nosuchcategory"],
        &["COMMAND", "GETKEYSANDFLAGS", "set", "k", "v"],
        &["COMMAND", "GETKEYSANDFLAGS", "set", "k", "v", "get"],
        &["COMMAND", "GETKEYSANDFLAGS", "copy", "a", "b"],
        &["COMMAND", "GETKEYSANDFLAGS", "zunionstore", "d", "2", "a", "b"],
        &["COMMAND", "GETKEYSANDFLAGS", "lmove", "a", "b", "left", "right"],
        &["COMMAND", "GETKEYSANDFLAGS", "bitfield", "k", "get", "u8", "0"],
        &["COMMAND", "GETKEYSANDFLAGS", "exists", "a", "b"],
        &["COMMAND", "GETKEYSANDFLAGS", "get"],
    ];
    for s in steps {
        assert_eq!(run(&mut a, s), run(&mut b, s), "{s:?}");
    }
}

#[test]
fn permissions_are_enforced_and_logged() {
    let dir = tempfile::tempdir().expect("tmp");
    let node = slot_node(dir.path(), &[]);
    run(&mut conn(node.port), &["CONFIG", "SET", "requirepass", "adminpw"]).expect("requirepass");
    let mut admin = conn(node.port);
    assert!(run(&mut admin, &["PING"]).unwrap_err().starts_with("NOAUTH"), "requirepass is the default user's password");
    redis::cmd("AUTH").arg("adminpw").query::<()>(&mut admin).expect("auth as default");
    run(
        &mut admin,
        &[
            "ACL",
            "SETUSER",
            "app",
            "on",
            ">secret",
            "~app:*",
            "%R~shared:*",
            "&events",
            "+@read",
            "+set",
            "+publish",
            "+multi",
            "+exec",
            "+eval",
        ],
    )
    .expect("setuser");
    run(&mut admin, &["SET", "shared:1", "v"]).expect("set");
    assert!(run(&mut conn(node.port), &["AUTH", "app", "wrong"]).unwrap_err().starts_with("WRONGPASS invalid username-password pair"));

    let mut app = user_conn(node.port, "app", "secret");
    assert_eq!(run(&mut app, &["ACL", "WHOAMI"]).unwrap_err(), "NOPERM this user has no permissions to run the 'acl|whoami' command");
    run(&mut app, &["SET", "app:1", "v"]).expect("own key");
    assert_eq!(run(&mut app, &["GET", "shared:1"]), Ok(redis::Value::BulkString(b"v".to_vec())), "read-only pattern reads");
    assert_eq!(
        run(&mut app, &["SET", "shared:1", "w"]).unwrap_err(),
        "NOPERM this user has no permissions to access one of the keys used as arguments",
        "a read-only pattern does not write"
    );
    assert_eq!(run(&mut app, &["DEL", "app:1"]).unwrap_err(), "NOPERM this user has no permissions to run the 'del' command");
    run(&mut app, &["PUBLISH", "events", "x"]).expect("allowed channel");
    assert_eq!(
        run(&mut app, &["PUBLISH", "other", "x"]).unwrap_err(),
        "NOPERM this user has no permissions to access one of the channels used as arguments"
    );
    assert!(run(&mut app, &["EVAL", "return redis.call('get', 'secret:1')", "0"])
        .unwrap_err()
        .contains("The user executing the script can't access at least one of the keys"));

    // Rules changed between MULTI and EXEC: that command fails, the others run.
    run(&mut app, &["MULTI"]).expect("multi");
    run(&mut app, &["SET", "app:2", "v"]).expect("queued");
    run(&mut app, &["GET", "app:2"]).expect("queued");
    run(&mut admin, &["ACL", "SETUSER", "app", "-set"]).expect("revoke");
    let replies = format!("{:?}", redis::cmd("EXEC").query::<redis::Value>(&mut app));
    assert!(replies.contains("ACLs rules changed between the moment the transaction was accumulated and the EXEC call"), "{replies}");
    assert_eq!(run(&mut app, &["EXISTS", "app:2"]), Ok(redis::Value::Int(0)), "the refused SET did not run");

    let log: Vec<redis::Value> = redis::cmd("ACL").arg("LOG").query(&mut admin).expect("log");
    let text = format!("{log:?}");
    for want in ["acl|whoami", "shared:1", "other", "secret:1", "\"lua\"", "\"multi\"", "\"auth\"", "user=app"] {
        assert!(text.contains(want), "ACL LOG lacks {want}: {text}");
    }

    // Deleting the user disconnects its clients.
    assert_eq!(run(&mut admin, &["ACL", "DELUSER", "app"]), Ok(redis::Value::Int(1)));
    wait_until("the deleted user's client to be dropped", 10, || redis::cmd("PING").query::<String>(&mut app).is_err());

    // Turning default off: new connections must authenticate.
    run(&mut admin, &["ACL", "SETUSER", "ops", "on", ">opspw", "+@all", "~*", "&*"]).expect("ops");
    run(&mut admin, &["ACL", "SETUSER", "default", "off"]).expect("default off");
    assert!(run(&mut conn(node.port), &["AUTH", "adminpw"]).unwrap_err().starts_with("WRONGPASS"));
    let mut ops = user_conn(node.port, "ops", "opspw");
    assert_eq!(run(&mut ops, &["ACL", "WHOAMI"]), Ok(redis::Value::BulkString(b"ops".to_vec())));
}

#[test]
fn users_come_from_redis_conf_or_an_acl_file() {
    let dir = tempfile::tempdir().expect("tmp");
    let node = slot_node(
        dir.path(),
        &["--user", "alice", "on", ">pw", "~*", "&*", "+@all", "-flushdb", "--user", "default", "on", "nopass", "~*", "&*", "+@all"],
    );
    let mut a = user_conn(node.port, "alice", "pw");
    assert_eq!(run(&mut a, &["FLUSHDB"]).unwrap_err(), "NOPERM this user has no permissions to run the 'flushdb' command");
    drop(node);

    // A user declared twice stops the start, naming the problem.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_slot-node"))
        .args(["--port", &free_port().to_string(), "--user", "foo", "--user", "foo"])
        .output()
        .expect("run slot-node");
    assert!(!out.status.success());
    let text = String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    assert!(text.contains("Duplicate user"), "{text}");

    let acl = dir.path().join("users.acl");
    std::fs::write(&acl, "user default on nopass ~* &* +@all\nuser bob on >bobpw ~bob:* resetchannels -@all +get +set\n").expect("write");
    let node = slot_node(dir.path(), &["--aclfile", acl.to_str().expect("utf8")]);
    let mut c = conn(node.port);
    let mut bob = user_conn(node.port, "bob", "bobpw");
    run(&mut bob, &["SET", "bob:1", "v"]).expect("bob writes his keys");
    run(&mut c, &["ACL", "SETUSER", "carol", "on", "nopass", "+ping"]).expect("carol");
    run(&mut c, &["ACL", "SAVE"]).expect("save");
    let saved = std::fs::read_to_string(&acl).expect("read");
    assert!(saved.contains("user carol on nopass resetchannels -@all +ping"), "{saved}");
    assert!(saved.contains("user bob on #"), "{saved}");

    std::fs::write(&acl, "user default on nopass ~* &* +@all\nuser bob on +nosuchcommand\nuser x bad-rule\n").expect("write");
    let err = run(&mut c, &["ACL", "LOAD"]).unwrap_err();
    assert!(
        err.contains("users.acl:2: Error in applying operation '+nosuchcommand'") && err.contains("users.acl:3: Syntax error"),
        "{err}"
    );
    assert!(err.ends_with("WARNING: ACL errors detected, no change to the previously active ACL rules was performed"), "{err}");
    assert_eq!(
        run(&mut c, &["ACL", "USERS"]),
        Ok(redis::Value::Array(["bob", "carol", "default"].map(|u| redis::Value::BulkString(u.into())).to_vec()))
    );
}
