//! The one JSON body extractor of the API. A body that does not parse is a
//! 400 `{"error": ...}` naming what is wrong and showing what to send; an
//! empty body counts as `{}`, so routes whose fields are all optional take no
//! body, and routes with required fields say which one is missing.

use super::error::ApiError;
use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use serde::de::DeserializeOwned;

/// A request type with an example body for error messages.
pub trait Example {
    /// A body that would be accepted, shown when one is not.
    const EXAMPLE: &'static str;
}

/// A JSON request body of type `T`.
pub struct JsonBody<T>(pub T);

#[axum::async_trait]
impl<S, T> FromRequest<S> for JsonBody<T>
where
    S: Send + Sync,
    T: DeserializeOwned + Example,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        let bytes =
            Bytes::from_request(req, state).await.map_err(|e| ApiError::bad_request(format!("cannot read the request body: {e}")))?;
        parse(&bytes).map(JsonBody)
    }
}

/// Parses a body as the extractor does.
///
/// # Errors
/// A 400 with the parser's reason and `T::EXAMPLE`.
pub fn parse<T: DeserializeOwned + Example>(bytes: &[u8]) -> Result<T, ApiError> {
    let text: &[u8] = if bytes.iter().all(u8::is_ascii_whitespace) { b"{}" } else { bytes };
    serde_json::from_slice(text).map_err(|e| ApiError::bad_request(format!("invalid JSON body: {e}; send e.g. {}", T::EXAMPLE)))
}

macro_rules! examples {
    ($($t:ty => $e:expr,)*) => { $(impl Example for $t { const EXAMPLE: &'static str = $e; })* };
}

examples! {
    crate::faults::PartitionRequest => r#"{"groups": [["6380"], ["6381", "6382"]], "for_ms": 10000}"#,
    crate::faults::DelayRequest => r#"{"node": "6380", "ms": 200, "jitter_ms": 50}"#,
    crate::faults::DropRequest => r#"{"node": "6380", "rate": 0.3}"#,
    crate::checkpoint::CheckpointRequest => r#"{"name": "before-failover"}"#,
    super::types::KillRequest => r#"{"signal": "SIGKILL"} or no body"#,
    crate::reshard::ReshardRequest => r#"{"from": "6380", "to": "6381", "slots": 100}"#,
    crate::reshard::RebalanceRequest => r#"{"weights": {"6380": 2}, "threshold_pct": 2} or no body"#,
    crate::reshard::AddNodeRequest => r#"{"node": "6386", "replica_of": "6380"}"#,
    super::lab::RunRequest => r#"{"engine": "builtin"} or no body"#,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::faults::DelayRequest;
    use crate::reshard::RebalanceRequest;

    #[test]
    fn empty_means_defaults_and_bad_bodies_say_what_to_send() {
        let r: RebalanceRequest = parse(b"  ").expect("no body is all defaults");
        assert!(r.weights.is_empty());
        let e = parse::<RebalanceRequest>(b"{\"weight\": 1}").expect_err("unknown field refused");
        assert_eq!(e.status, axum::http::StatusCode::BAD_REQUEST);
        assert!(e.message.contains("unknown field `weight`") && e.message.contains("threshold_pct"), "{}", e.message);
        let e = parse::<DelayRequest>(b"").expect_err("required fields");
        assert!(e.message.contains("missing field `node`") && e.message.contains("\"ms\": 200"), "{}", e.message);
    }
}
