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

/// `?after=SEQ` returns only newer events.
#[derive(Debug, Deserialize)]
pub struct After {
    #[serde(default)]
    pub after: u64,
}

/// `GET /v1/events`.
pub async fn list(State(st): State<AppState>, Query(q): Query<After>) -> Json<EventsResponse> {
    let all = st.events.all();
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
