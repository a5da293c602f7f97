//! Stage 1: the config file as serde reads it (`deny_unknown_fields`, every
//! value with its source span), before any value is checked.

use serde::Deserialize;
use std::collections::BTreeMap;
use toml::Spanned;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawConfig {
    #[serde(default)]
    pub(super) supervisor: RawSupervisor,
    #[serde(default)]
    pub(super) engine: RawEngine,
    #[serde(default)]
    pub(super) cluster: RawCluster,
    #[serde(default)]
    pub(super) nodes: RawNodes,
    #[serde(default)]
    pub(super) persistence: RawPersistence,
    #[serde(default)]
    pub(super) restart: RawRestart,
    /// `[[hosts]]`: one cluster across machines.
    #[serde(default)]
    pub(super) hosts: Vec<Spanned<RawHost>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawHost {
    pub(super) name: Option<Spanned<String>>,
    pub(super) address: Option<Spanned<String>>,
    pub(super) api: Option<Spanned<String>>,
    pub(super) ports: Option<Spanned<RawPorts>>,
    pub(super) engine: Option<Spanned<String>>,
    pub(super) announce_ip: Option<Spanned<String>>,
    pub(super) announce_hostname: Option<Spanned<String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawSupervisor {
    pub(super) api: Option<Spanned<String>>,
    pub(super) api_token: Option<Spanned<String>>,
    pub(super) data_dir: Option<Spanned<String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawEngine {
    pub(super) kind: Option<Spanned<String>>,
    pub(super) mode: Option<Spanned<String>>,
    pub(super) redis_server: Option<Spanned<String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawCluster {
    pub(super) replicas: Option<Spanned<i64>>,
    pub(super) node_timeout_ms: Option<Spanned<i64>>,
    pub(super) create: Option<Spanned<String>>,
    pub(super) failover: Option<Spanned<String>>,
    pub(super) password: Option<Spanned<String>>,
    pub(super) preferred_endpoint: Option<Spanned<String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawNodes {
    pub(super) host: Option<Spanned<String>>,
    /// The ACL user slotd's own connections (and replicas) log in as.
    pub(super) acl_user: Option<Spanned<String>>,
    pub(super) ports: Option<Spanned<RawPorts>>,
    #[serde(rename = "override", default)]
    pub(super) overrides: BTreeMap<String, Spanned<BTreeMap<String, Spanned<toml::Value>>>>,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub(super) enum RawPorts {
    Range(String),
    List(Vec<i64>),
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawPersistence {
    pub(super) save: Option<Spanned<Vec<Vec<i64>>>>,
    pub(super) appendonly: Option<Spanned<bool>>,
    pub(super) appendfsync: Option<Spanned<String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawRestart {
    pub(super) policy: Option<Spanned<String>>,
    pub(super) start_retries: Option<Spanned<i64>>,
    pub(super) backoff_ms: Option<Spanned<i64>>,
    pub(super) backoff_max_ms: Option<Spanned<i64>>,
    pub(super) start_timeout_ms: Option<Spanned<i64>>,
    pub(super) stop_timeout_ms: Option<Spanned<i64>>,
}

// ---------------------------------------------------------------- stage 2
