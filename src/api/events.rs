//! Event routes: the timeline as JSON (with failover stopwatches) and as a
//! server-sent event stream.

use super::AppState;
use crate::events::{stopwatches, EventsResponse};
use axum::extract::{Query, State};
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use axum::Json;
use futures_util::stream::{self, Stream, StreamExt};
use serde::Deserialize;
use std::convert::Infallible;

/// `?after=SEQ` returns only newer events; `scope=local` only this host's.
#[derive(Debug, Deserialize)]
pub struct After {
    #[serde(default)]
    pub after: u64,
    pub scope: Option<String>,
}

/// `GET /v1/events`. Across hosts the whole timeline (no `after`) is every
/// host's, merged; `after` follows this host's own sequence numbers.
pub async fn list(State(st): State<AppState>, Query(q): Query<After>) -> Json<EventsResponse> {
    let cfg = st.sup.config();
    let all = st.events.all();
    if cfg.is_multi_host() && q.after == 0 && q.scope.as_deref() != Some("local") {
        let me = cfg.local_host.clone().unwrap_or_default();
        let mut timelines = vec![(me.clone(), all)];
        let mut asks = tokio::task::JoinSet::new();
        for h in cfg.hosts.iter().filter(|h| h.name != me).cloned() {
            let peers = st.peers.clone();
            asks.spawn(async move {
                let r = peers.get::<EventsResponse>(&h, "/v1/events?scope=local", std::time::Duration::from_secs(3)).await;
                (h.name, r)
            });
        }
        while let Some(Ok((name, r))) = asks.join_next().await {
            match r {
                Ok(e) => timelines.push((name, e.events)),
                Err(e) => tracing::debug!("events of host {name}: {e}"),
            }
        }
        let merged = crate::events::merge(timelines);
        let failovers = stopwatches(&merged);
        let total = merged.len() as u64;
        return Json(EventsResponse { events: merged, failovers, total });
    }
    let failovers = stopwatches(&all);
    let events = all.into_iter().filter(|e| e.seq > q.after).collect();
    Json(EventsResponse { events, failovers, total: st.events.total() })
}

/// `GET /v1/events/stream`: past events after `after`, then live ones.
pub async fn stream(State(st): State<AppState>, Query(q): Query<After>) -> Sse<impl Stream<Item = Result<SseEvent, Infallible>>> {
    let rx = st.events.subscribe();
    let backlog = st.events.since(q.after);
    let last = backlog.last().map(|e| e.seq).unwrap_or(q.after);
    let to_sse = |e: &crate::events::Event| {
        let data = serde_json::to_string(e).unwrap_or_else(|_| "{}".into());
        Ok(SseEvent::default().id(e.seq.to_string()).event(e.kind.label()).data(data))
    };
    let past = stream::iter(backlog.iter().map(to_sse).collect::<Vec<_>>());
    let live = stream::unfold((rx, last), move |(mut rx, last)| async move {
        loop {
            match rx.recv().await {
                Ok(e) if e.seq <= last => continue,
                Ok(e) => {
                    let item = to_sse(&e);
                    return Some((item, (rx, e.seq)));
                }
                Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => continue,
                Err(tokio::sync::broadcast::error::RecvError::Closed) => return None,
            }
        }
    });
    Sse::new(past.chain(live)).keep_alive(KeepAlive::default())
}
