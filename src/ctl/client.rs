//! slotctl's HTTP client: every failure becomes a message that says what to do.

use crate::api::types::ErrorBody;
use serde::de::DeserializeOwned;
use std::time::Duration;

/// Why a request failed; the Display text is shown to the user as is.
#[derive(Debug, thiserror::Error)]
pub enum CtlError {
    #[error("cannot reach slotd at {api} ({reason}): is it running? start it with `slotd` or `systemctl start slotd`, or point --api / SLOTD_API at it")]
    Unreachable { api: String, reason: String },
    #[error("{message}")]
    Api { status: u16, message: String, body: Option<ErrorBody> },
    #[error("unexpected reply from slotd at {api}: {reason}")]
    Protocol { api: String, reason: String },
}

/// A slotd API endpoint.
pub struct Client {
    base: String,
    token: Option<String>,
    http: reqwest::Client,
}

fn describe(e: &reqwest::Error) -> String {
    let mut msg = e.to_string();
    let mut src = std::error::Error::source(e);
    while let Some(s) = src {
        msg = s.to_string();
        src = s.source();
    }
    if msg.contains("onnection refused") {
        "connection refused".to_string()
    } else if e.is_timeout() {
        "timed out".to_string()
    } else {
        msg
    }
}

impl Client {
    /// `api` is "127.0.0.1:6300" or "http://host:port".
    pub fn new(api: &str, token: Option<String>, timeout: Duration) -> Client {
        let base = if api.starts_with("http://") || api.starts_with("https://") {
            api.trim_end_matches('/').to_string()
        } else {
            format!("http://{}", api.trim_end_matches('/'))
        };
        let http = reqwest::Client::builder().timeout(timeout).build().unwrap_or_else(|_| reqwest::Client::new());
        Client { base, token, http }
    }

    pub fn base(&self) -> &str {
        &self.base
    }

    async fn send_req<T: DeserializeOwned>(&self, req: reqwest::RequestBuilder) -> Result<T, CtlError> {
        let req = match &self.token {
            Some(t) => req.bearer_auth(t),
            None => req,
        };
        let resp = req
            .send()
            .await
            .map_err(|e| CtlError::Unreachable { api: self.base.trim_start_matches("http://").to_string(), reason: describe(&e) })?;
        let status = resp.status();
        let bytes = resp.bytes().await.map_err(|e| CtlError::Protocol { api: self.base.clone(), reason: describe(&e) })?;
        if !status.is_success() && status.as_u16() != 503 {
            let body: Option<ErrorBody> = serde_json::from_slice(&bytes).ok();
            let message =
                body.as_ref().map(|b| b.error.clone()).unwrap_or_else(|| format!("HTTP {status}: {}", String::from_utf8_lossy(&bytes)));
            return Err(CtlError::Api { status: status.as_u16(), message, body });
        }
        serde_json::from_slice(&bytes)
            .map_err(|e| CtlError::Protocol { api: self.base.clone(), reason: format!("{e} (is this a slotd of the same version?)") })
    }

    /// GET a JSON document.
    ///
    /// # Errors
    /// Unreachable, an error status, or a body that is not the expected JSON.
    pub async fn get<T: DeserializeOwned>(&self, path: &str) -> Result<T, CtlError> {
        self.send_req(self.http.get(format!("{}{path}", self.base))).await
    }

    /// POST (optionally with a JSON body) and read JSON back.
    ///
    /// # Errors
    /// As [`Client::get`].
    pub async fn post<T: DeserializeOwned>(&self, path: &str, body: Option<serde_json::Value>) -> Result<T, CtlError> {
        let mut req = self.http.post(format!("{}{path}", self.base));
        if let Some(b) = body {
            req = req.json(&b);
        }
        self.send_req(req).await
    }
}
