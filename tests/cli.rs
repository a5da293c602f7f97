//! slotd's command line: config checking and the embedded default.

use crate::util::slotd_bin;
use std::process::Command;

#[test]
fn check_config_reports_every_problem_with_file_and_line() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("bad.toml");
    std::fs::write(
        &path,
        "[supervisor]\napi = \"127.0.0.1:6300\"\n\n[cluster]\nreplicas = 9\ncreate = \"sometimes\"\n\n[restart]\npolicy = \"maybe\"\n",
    )
    .expect("write");
    let out = Command::new(slotd_bin()).arg("--check-config").arg(&path).output().expect("run slotd");
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    let p = path.display();
    assert!(err.contains(&format!("{p}:5: cluster.replicas = 9 is out of range")), "{err}");
    assert!(err.contains(&format!("{p}:6: cluster.create = \"sometimes\"")), "{err}");
    assert!(err.contains(&format!("{p}:9: restart.policy = \"maybe\"")), "{err}");
    assert!(err.contains("fix: use one of \"never\", \"unexpected\", \"always\""), "{err}");

    std::fs::write(&path, "[nodes]\nhost = \"127.0.0.1\"\nportz = 1\n").expect("write");
    let out = Command::new(slotd_bin()).arg("--check-config").arg(&path).output().expect("run slotd");
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains(&format!("{p}:3:")) && err.contains("unknown field `portz`"), "{err}");

    let out = Command::new(slotd_bin()).arg("--check-config").arg(dir.path().join("missing.toml")).output().expect("run slotd");
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot read config file"));
}

#[test]
fn default_config_is_printed_and_valid() {
    let out = Command::new(slotd_bin()).arg("--print-default-config").output().expect("run slotd");
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(text, include_str!("../etc/slotd.toml"));
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("default.toml");
    std::fs::write(&path, text.as_bytes()).expect("write");
    let out = Command::new(slotd_bin()).arg("--check-config").arg(&path).output().expect("run slotd");
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stdout).contains("6 nodes"));
}

#[test]
fn slotctl_without_slotd_says_what_to_do() {
    let port = crate::util::free_ports(1)[0];
    let out =
        Command::new(crate::util::slotctl_bin()).args(["--api", &format!("127.0.0.1:{port}"), "status"]).output().expect("run slotctl");
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains(&format!("cannot reach slotd at 127.0.0.1:{port} (connection refused)")), "{err}");
    assert!(err.contains("start it with `slotd`"), "{err}");
}

#[test]
fn slotctl_json_prints_one_document_also_on_errors() {
    let port = crate::util::free_ports(1)[0];
    let api = format!("127.0.0.1:{port}");
    for args in [vec!["--json", "status"], vec!["--json", "kill", "6380", "--signal", "NOPE"], vec!["--json", "no-such-command"]] {
        let out = Command::new(crate::util::slotctl_bin()).arg("--api").arg(&api).args(&args).output().expect("run slotctl");
        let stdout = String::from_utf8_lossy(&out.stdout);
        let doc: serde_json::Value =
            serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("{args:?}: stdout is not one JSON document ({e}): {stdout:?}"));
        let error = doc["error"].as_str().unwrap_or_else(|| panic!("{args:?}: no error field: {doc}"));
        assert!(!error.is_empty(), "{args:?}");
        assert_eq!(doc["exit_code"].as_i64(), out.status.code().map(i64::from), "{args:?}: {doc}");
        assert_ne!(out.status.code(), Some(0), "{args:?}");
    }
}
