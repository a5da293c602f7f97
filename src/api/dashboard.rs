//! The web dashboard: its page and assets, embedded in the binary (no build
//! step, works offline), and the status stream it draws from: one poller
//! shared by every open page, running only while a page is connected.

use super::AppState;
use axum::extract::State;
use axum::http::header;
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use futures_util::stream::{self, Stream};
use std::convert::Infallible;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;

/// The page's files: (path, content type, body).
const ASSETS: &[(&str, &str, &str)] = &[
    ("/", "text/html; charset=utf-8", include_str!("ui/index.html")),
    ("/ui/app.js", "text/javascript; charset=utf-8", include_str!("ui/app.js")),
    ("/ui/app.css", "text/css; charset=utf-8", include_str!("ui/app.css")),
    ("/ui/icon.svg", "image/svg+xml", include_str!("ui/icon.svg")),
];

/// Paths served without the API token: the page holds no data; everything
/// it shows comes from the API, which asks for the token.
pub fn is_asset(path: &str) -> bool {
    ASSETS.iter().any(|(p, _, _)| *p == path)
}

/// Serves one embedded file. Only script and styles from this origin run
/// (the page builds its DOM without inline code).
pub async fn asset(uri: axum::http::Uri) -> Response {
    let Some((_, ctype, body)) = ASSETS.iter().find(|(p, _, _)| *p == uri.path()) else {
        return super::error::ApiError::not_found(format!("no asset {}", uri.path())).into_response();
    };
    (
        [
            (header::CONTENT_TYPE, *ctype),
            (header::CACHE_CONTROL, "no-cache"),
            (header::CONTENT_SECURITY_POLICY, "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'"),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
            (header::REFERRER_POLICY, "no-referrer"),
        ],
        *body,
    )
        .into_response()
}

/// `POST /v1/session`: the page trades the token (sent once as a bearer,
/// checked by the auth layer) for an HttpOnly cookie, which its scripts and
/// other pages on this machine cannot read, and which its EventSource sends.
pub async fn session(State(st): State<AppState>, headers: axum::http::HeaderMap) -> Response {
    let body = axum::Json(serde_json::json!({"ok": true}));
    let Some(token) = st.token.as_deref() else { return body.into_response() };
    let cookie = format!("{}={}; Path=/; HttpOnly; SameSite=Strict", super::token_cookie_name(&headers), super::percent_encode(token));
    ([(header::SET_COOKIE, cookie)], body).into_response()
}

/// One round of what the dashboard shows live, each part as JSON text.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Frame {
    pub status: String,
    pub faults: String,
    pub job: String,
    pub lab: String,
}

/// The shared poller behind `GET /v1/status/stream`.
pub struct StatusFeed {
    tx: watch::Sender<Arc<Frame>>,
    running: AtomicBool,
}

impl Default for StatusFeed {
    fn default() -> Self {
        StatusFeed { tx: watch::channel(Arc::new(Frame::default())).0, running: AtomicBool::new(false) }
    }
}

/// How often the feed asks the nodes.
const TICK: Duration = Duration::from_millis(1000);

async fn frame(st: &AppState) -> Frame {
    let status = super::nodes::snapshot(st).await;
    let faults = st.faults.status().await;
    let job = st.jobs.current().map(|j| j.view());
    let lab = st.labs.view();
    let json = |v: serde_json::Result<String>| v.unwrap_or_else(|_| "null".into());
    Frame {
        status: json(serde_json::to_string(&status)),
        faults: json(serde_json::to_string(&faults)),
        job: json(serde_json::to_string(&job)),
        lab: json(serde_json::to_string(&lab)),
    }
}

impl StatusFeed {
    /// A receiver, starting the poller if no page was connected.
    fn subscribe(&self, st: &AppState) -> watch::Receiver<Arc<Frame>> {
        let rx = self.tx.subscribe();
        if !self.running.swap(true, Ordering::SeqCst) {
            let st = st.clone();
            tokio::spawn(async move {
                loop {
                    let f = frame(&st).await;
                    st.feed.tx.send_replace(Arc::new(f));
                    tokio::time::sleep(TICK).await;
                    if st.feed.tx.receiver_count() == 0 {
                        st.feed.running.store(false, Ordering::SeqCst);
                        // A page that subscribed between the check and the store restarts it.
                        if st.feed.tx.receiver_count() == 0 || st.feed.running.swap(true, Ordering::SeqCst) {
                            return;
                        }
                    }
                }
            });
        }
        rx
    }
}

/// `GET /v1/status/stream`: `status` every second (the body of GET
/// /v1/status), and `faults`, `job`, `lab` whenever they change.
pub async fn status_stream(State(st): State<AppState>) -> Sse<impl Stream<Item = Result<SseEvent, Infallible>>> {
    let mut rx = st.feed.subscribe(&st);
    // The first frame now, not after a tick: the page draws at once.
    let first = Arc::new(frame(&st).await);
    rx.mark_unchanged();
    let events = stream::unfold((rx, Some(first), Frame::default()), |(mut rx, pending, mut sent)| async move {
        let f = match pending {
            Some(f) => f,
            None => {
                rx.changed().await.ok()?;
                rx.borrow_and_update().clone()
            }
        };
        let mut out = vec![Ok(SseEvent::default().event("status").data(f.status.clone()))];
        for (name, now, before) in [("faults", &f.faults, &mut sent.faults), ("job", &f.job, &mut sent.job), ("lab", &f.lab, &mut sent.lab)]
        {
            if now != before && !now.is_empty() {
                out.push(Ok(SseEvent::default().event(name).data(now.clone())));
                before.clone_from(now);
            }
        }
        Some((stream::iter(out), (rx, None, sent)))
    });
    Sse::new(futures_util::StreamExt::flatten(events)).keep_alive(KeepAlive::default())
}
