//! `slotctl isolate HOST`: cuts a whole host's nodes off the other hosts'
//! (client and cluster-bus ports, both ways) with an nftables table of its
//! own, so a lab can watch Redis Cluster fail over across machines; `heal`
//! deletes the table. Nothing else is cut: SSH and the slotd APIs still
//! work, so the heal still arrives.
//! Needs the `nft` program and CAP_NET_ADMIN (root, or the capability in
//! the systemd unit); without them the API says why.

use crate::config::Config;
use std::io::Write;
use std::process::{Command, Stdio};

/// Why isolation could not be applied or removed.
#[derive(Debug, thiserror::Error)]
pub enum IsolateError {
    #[error("host isolation needs nftables: {0}; install nftables and run slotd as root or with CAP_NET_ADMIN (AmbientCapabilities=CAP_NET_ADMIN in the unit)")]
    Unavailable(String),
    #[error("nft refused the rules: {0}")]
    Nft(String),
    #[error("this config has no [[hosts]]: isolate works on a cluster across hosts (on one machine use `slotctl partition`)")]
    NotMultiHost,
}

/// The table slotd owns (one per host name, so several slotds on one
/// machine never touch each other's rules).
fn table(cfg: &Config) -> String {
    let me = cfg.local_host.as_deref().unwrap_or("local");
    format!("slotd_isolate_{}", me.replace('-', "_"))
}

fn nft(script: Option<&str>, args: &[&str]) -> Result<String, IsolateError> {
    let mut cmd = Command::new("nft");
    cmd.args(args).stdin(if script.is_some() { Stdio::piped() } else { Stdio::null() }).stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut child = cmd.spawn().map_err(|e| IsolateError::Unavailable(format!("cannot run nft: {e}")))?;
    if let (Some(text), Some(mut stdin)) = (script, child.stdin.take()) {
        stdin.write_all(text.as_bytes()).map_err(|e| IsolateError::Nft(e.to_string()))?;
    }
    let out = child.wait_with_output().map_err(|e| IsolateError::Nft(e.to_string()))?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        let err = String::from_utf8_lossy(&out.stderr).trim().to_string();
        if err.contains("Operation not permitted") {
            return Err(IsolateError::Unavailable("nft: Operation not permitted".into()));
        }
        Err(IsolateError::Nft(err))
    }
}

/// Whether nftables can be managed here, and if not why.
pub fn available() -> Result<(), IsolateError> {
    nft(None, &["list", "tables"]).map(|_| ())
}

/// Whether this host is cut off now.
pub fn is_isolated(cfg: &Config) -> bool {
    nft(None, &["list", "table", "inet", &table(cfg)]).is_ok()
}

/// The rules: drop TCP between this host's nodes (client and bus ports)
/// and every other host's, both ways; nothing else (SSH, the slotd APIs)
/// is touched. One rule set per address family.
pub fn rules(cfg: &Config) -> Result<String, IsolateError> {
    let me = cfg.local_host.as_deref().ok_or(IsolateError::NotMultiHost)?;
    let mine = cfg.hosts.iter().find(|h| h.name == me).ok_or(IsolateError::NotMultiHost)?;
    let others: Vec<&crate::config::HostSpec> = cfg.hosts.iter().filter(|h| h.name != me && h.address != mine.address).collect();
    if others.is_empty() {
        return Err(IsolateError::NotMultiHost);
    }
    let ports = |hs: &[&crate::config::HostSpec]| -> String {
        let mut v: Vec<u32> = hs.iter().flat_map(|h| h.ports.iter().flat_map(|p| [u32::from(*p), u32::from(*p) + 10000])).collect();
        v.sort_unstable();
        v.dedup();
        v.iter().map(u32::to_string).collect::<Vec<_>>().join(", ")
    };
    let my_ports = ports(&[mine]);
    let their_ports = ports(&others);
    let mut input = String::new();
    let mut output = String::new();
    for (fam, v6) in [("ip", false), ("ip6", true)] {
        let addrs: Vec<String> = others.iter().filter(|h| h.address.is_ipv6() == v6).map(|h| h.address.to_string()).collect();
        if addrs.is_empty() {
            continue;
        }
        let set = addrs.join(", ");
        input.push_str(&format!(
            "    {fam} saddr {{ {set} }} tcp dport {{ {my_ports} }} drop\n    {fam} saddr {{ {set} }} tcp sport {{ {their_ports} }} drop\n"
        ));
        output.push_str(&format!(
            "    {fam} daddr {{ {set} }} tcp dport {{ {their_ports} }} drop\n    {fam} daddr {{ {set} }} tcp sport {{ {my_ports} }} drop\n"
        ));
    }
    let t = table(cfg);
    Ok(format!(
        "table inet {t} {{\n  chain input {{\n    type filter hook input priority -10; policy accept;\n{input}  }}\n  chain output {{\n    type filter hook output priority -10; policy accept;\n{output}  }}\n}}\n"
    ))
}

/// Cuts this host off (idempotent).
///
/// # Errors
/// nftables unavailable, or the rules refused.
pub fn isolate(cfg: &Config) -> Result<(), IsolateError> {
    let text = rules(cfg)?;
    available()?;
    let _ = heal(cfg);
    nft(Some(&text), &["-f", "-"]).map(|_| ())
}

/// Removes this host's isolation; Ok(false) when there was none.
///
/// # Errors
/// nftables unavailable.
pub fn heal(cfg: &Config) -> Result<bool, IsolateError> {
    if !is_isolated(cfg) {
        return Ok(false);
    }
    nft(None, &["delete", "table", "inet", &table(cfg)]).map(|_| true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules_cut_the_other_hosts_but_not_the_apis() {
        let text = "[supervisor]\napi_token = \"0123456789abcdef\"\n[cluster]\npassword = \"pw-0123456789\"\n\
            [[hosts]]\nname = \"h1\"\naddress = \"10.9.0.1\"\nports = [7000, 7001]\n\
            [[hosts]]\nname = \"h2\"\naddress = \"10.9.0.2\"\napi = \"10.9.0.2:6400\"\nports = [7002, 7003]\n\
            [[hosts]]\nname = \"h3\"\naddress = \"10.9.0.3\"\nports = [7004, 7005]\n";
        let mut cfg = Config::parse(text, "t.toml", std::path::Path::new("/tmp")).expect("valid");
        cfg.select_host(Some("h1")).expect("h1");
        let r = rules(&cfg).expect("rules");
        assert!(r.contains("table inet slotd_isolate_h1"), "{r}");
        let mine = "7000, 7001, 17000, 17001";
        let theirs = "7002, 7003, 7004, 7005, 17002, 17003, 17004, 17005";
        assert!(r.contains(&format!("ip saddr {{ 10.9.0.2, 10.9.0.3 }} tcp dport {{ {mine} }} drop")), "{r}");
        assert!(r.contains(&format!("ip saddr {{ 10.9.0.2, 10.9.0.3 }} tcp sport {{ {theirs} }} drop")), "{r}");
        assert!(r.contains(&format!("ip daddr {{ 10.9.0.2, 10.9.0.3 }} tcp dport {{ {theirs} }} drop")), "{r}");
        assert!(r.contains(&format!("ip daddr {{ 10.9.0.2, 10.9.0.3 }} tcp sport {{ {mine} }} drop")), "{r}");
        assert!(!r.contains("6300") && !r.contains("6400"), "the APIs stay reachable: {r}");
        assert!(!r.contains("ip6"), "{r}");
    }
}
