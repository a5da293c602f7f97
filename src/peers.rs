//! The other hosts' slotds (`[[hosts]]`): their status, and requests passed
//! on to them, over their HTTP API with the shared token. slotd adds no
//! consensus of its own across hosts: Redis Cluster does the distributed
//! part, each slotd supervises its own nodes, and asking the others is how
//! any one of them answers for the whole cluster.

use crate::api::types::StatusResponse;
use crate::config::HostSpec;
use std::time::Duration;

/// Why another host's slotd did not answer.
#[derive(Debug, thiserror::Error)]
pub enum PeerError {
    #[error("slotd of host {host} at {api} does not answer: {reason}")]
    Unreachable { host: String, api: String, reason: String },
    #[error("slotd of host {host} answered {status}: {body}")]
    Refused { host: String, status: u16, body: String },
}

/// A client for the other hosts' APIs.
#[derive(Clone)]
pub struct Peers {
    http: reqwest::Client,
    token: Option<String>,
}

/// A forwarded request's answer: status and body, passed back as they are.
pub struct Answer {
    pub status: u16,
    pub content_type: Option<String>,
    pub body: bytes::Bytes,
}

impl Peers {
    pub fn new(token: Option<String>) -> Peers {
        // Actions wait for nodes (start waits for RUNNING), so allow as long as slotctl does.
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(2))
            .timeout(Duration::from_secs(180))
            .build()
            .unwrap_or_else(|_| reqwest::Client::new());
        Peers { http, token }
    }

    fn url(host: &HostSpec, path_and_query: &str) -> String {
        format!("http://{}{path_and_query}", host.api)
    }

    fn unreachable(host: &HostSpec, e: &reqwest::Error) -> PeerError {
        let reason = if e.is_timeout() { "timed out".to_string() } else { e.to_string() };
        PeerError::Unreachable { host: host.name.clone(), api: host.api.to_string(), reason }
    }

    /// Another host's own view (`scope=local`: its nodes only).
    ///
    /// # Errors
    /// It does not answer in time or refuses.
    pub async fn status(&self, host: &HostSpec, limit: Duration) -> Result<StatusResponse, PeerError> {
        self.get(host, "/v1/status?scope=local", limit).await
    }

    /// GET a JSON document from another host's slotd.
    ///
    /// # Errors
    /// It does not answer in time, refuses, or sends something else.
    pub async fn get<T: serde::de::DeserializeOwned>(&self, host: &HostSpec, path: &str, limit: Duration) -> Result<T, PeerError> {
        let mut req = self.http.get(Peers::url(host, path)).timeout(limit);
        if let Some(t) = &self.token {
            req = req.bearer_auth(t);
        }
        let resp = req.send().await.map_err(|e| Peers::unreachable(host, &e))?;
        let status = resp.status().as_u16();
        if status != 200 {
            let body = resp.text().await.unwrap_or_default();
            return Err(PeerError::Refused { host: host.name.clone(), status, body });
        }
        resp.json::<T>().await.map_err(|e| Peers::unreachable(host, &e))
    }

    /// Passes a request on to another host's slotd and returns its answer.
    ///
    /// # Errors
    /// It does not answer.
    pub async fn forward(
        &self,
        host: &HostSpec,
        method: reqwest::Method,
        path_and_query: &str,
        content_type: Option<&str>,
        body: bytes::Bytes,
    ) -> Result<Answer, PeerError> {
        let mut req = self.http.request(method, Peers::url(host, path_and_query)).body(body);
        if let Some(t) = &self.token {
            req = req.bearer_auth(t);
        }
        if let Some(ct) = content_type {
            req = req.header(reqwest::header::CONTENT_TYPE, ct);
        }
        let resp = req.send().await.map_err(|e| Peers::unreachable(host, &e))?;
        let status = resp.status().as_u16();
        let content_type = resp.headers().get(reqwest::header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).map(str::to_string);
        let body = resp.bytes().await.map_err(|e| Peers::unreachable(host, &e))?;
        Ok(Answer { status, content_type, body })
    }
}
