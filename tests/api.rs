//! The HTTP API driven in-process with `oneshot` (nodes run inproc, so no
//! socket for the API is needed): error bodies, routes vs OpenAPI, auth,
//! preflight, and the in-process kill/start cycle.

use crate::util::free_ports;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use http_body_util::BodyExt;
use slotd::api::{self, AppState};
use slotd::config::Config;
use slotd::shutdown::Shutdown;
use slotd::supervise::Supervisor;
use std::collections::BTreeSet;
use std::time::Duration;
use tower::ServiceExt;

struct Inproc {
    state: AppState,
    ports: Vec<u16>,
    _dir: tempfile::TempDir,
}

async fn inproc(nodes: usize, extra: &str) -> Inproc {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut ports = free_ports(nodes + 1);
    let api_port = ports.remove(0);
    let list: Vec<String> = ports.iter().map(u16::to_string).collect();
    let text = format!(
        "[supervisor]\napi = \"127.0.0.1:{api_port}\"\ndata_dir = \"{}\"\n{extra}\n[engine]\nmode = \"inproc\"\n[cluster]\ncreate = \"manual\"\nnode_timeout_ms = 1000\n[nodes]\nports = [{}]\n[restart]\nbackoff_ms = 50\nstop_timeout_ms = 2000\n",
        dir.path().join("data").display(),
        list.join(", ")
    );
    let config = Config::parse(&text, "test.toml", dir.path()).expect("valid config");
    slotd::confgen::write_all(&config).expect("write confs");
    let sup = Supervisor::spawn(config);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    assert!(sup.wait_all_running(deadline).await, "inproc nodes did not start");
    Inproc { state: AppState::new(sup, Shutdown::new()), ports, _dir: dir }
}

async fn call(state: &AppState, method: &str, uri: &str, body: Option<&str>, token: Option<&str>) -> (StatusCode, serde_json::Value) {
    let mut req = Request::builder().method(method).uri(uri);
    if let Some(t) = token {
        req = req.header("authorization", format!("Bearer {t}"));
    }
    let req = req.body(body.map(|b| Body::from(b.to_string())).unwrap_or_else(Body::empty)).expect("request");
    let resp = api::app(state.clone()).oneshot(req).await.expect("router never fails");
    let status = resp.status();
    let bytes = resp.into_body().collect().await.expect("body").to_bytes();
    let json = serde_json::from_slice(&bytes)
        .unwrap_or_else(|e| panic!("{method} {uri}: body is not JSON ({e}): {}", String::from_utf8_lossy(&bytes)));
    (status, json)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn errors_are_json_with_the_right_status() {
    let t = inproc(3, "").await;
    let s = &t.state;

    let (code, body) = call(s, "GET", "/v1/nodes/9", None, None).await;
    assert_eq!(code, StatusCode::NOT_FOUND);
    let msg = body["error"].as_str().expect("error string");
    for p in &t.ports {
        assert!(msg.contains(&format!("node{p}")), "404 names the known nodes: {msg}");
    }
    let (code, body) = call(s, "POST", "/v1/nodes/nodeX/stop", None, None).await;
    assert_eq!(code, StatusCode::NOT_FOUND);
    assert!(body["error"].as_str().is_some_and(|m| m.contains("or `all`")));

    let (code, body) = call(s, "POST", &format!("/v1/nodes/{}/kill", t.ports[0]), Some("{\"signal\": \"SIGNOPE\"}"), None).await;
    assert_eq!(code, StatusCode::BAD_REQUEST);
    assert!(body["error"].as_str().is_some_and(|m| m.contains("unknown signal")), "{body}");
    let (code, body) = call(s, "POST", &format!("/v1/nodes/{}/kill", t.ports[0]), Some("{not json"), None).await;
    assert_eq!(code, StatusCode::BAD_REQUEST);
    assert!(body["error"].as_str().is_some_and(|m| m.contains("invalid JSON")), "{body}");
    let (code, _) = call(s, "POST", &format!("/v1/nodes/{}/kill", t.ports[0]), Some("{\"signal\": \"KILL\", \"extra\": 1}"), None).await;
    assert_eq!(code, StatusCode::BAD_REQUEST, "unknown fields are rejected");
    let (code, body) = call(s, "GET", &format!("/v1/nodes/{}/log?lines=abc", t.ports[0]), None, None).await;
    assert_eq!(code, StatusCode::BAD_REQUEST, "{body}");

    let (code, body) = call(s, "GET", "/nope", None, None).await;
    assert_eq!(code, StatusCode::NOT_FOUND);
    assert!(body["error"].as_str().is_some_and(|m| m.contains("/v1/openapi.json")));
    let (code, body) = call(s, "DELETE", "/v1/status", None, None).await;
    assert_eq!(code, StatusCode::METHOD_NOT_ALLOWED);
    assert!(body["error"].is_string());

    // Nothing was killed by the rejected requests.
    let (code, body) = call(s, "GET", "/v1/status", None, None).await;
    assert_eq!(code, StatusCode::OK);
    assert!(body["nodes"].as_array().is_some_and(|n| n.len() == 3 && n.iter().all(|n| n["state"] == "RUNNING")), "{body}");

    // Killing a node that is not running is a 409 naming the fix.
    let p = t.ports[1];
    let (code, body) = call(s, "POST", &format!("/v1/nodes/node{p}/kill"), None, None).await;
    assert_eq!(code, StatusCode::OK, "{body}");
    assert_eq!(body["results"][0]["state"], "EXITED");
    let (code, body) = call(s, "POST", &format!("/v1/nodes/{p}/kill"), None, None).await;
    assert_eq!(code, StatusCode::CONFLICT);
    assert!(body["error"].as_str().is_some_and(|m| m.contains(&format!("slotctl start {p}"))), "{body}");
    let (code, _) = call(s, "GET", "/healthz", None, None).await;
    assert_eq!(code, StatusCode::SERVICE_UNAVAILABLE);
    // Killed in-process node stays down, then comes back on start.
    let addr = std::net::SocketAddr::from(([127, 0, 0, 1], p));
    assert!(!slotd::cluster_admin::ping(addr, Duration::from_millis(300)).await, "killed inproc node must not answer");
    let (code, body) = call(s, "POST", &format!("/v1/nodes/{p}/start"), None, None).await;
    assert_eq!(code, StatusCode::OK, "{body}");
    assert_eq!(body["results"][0]["state"], "RUNNING");
    assert!(slotd::cluster_admin::ping(addr, Duration::from_millis(500)).await);
    let (code, body) = call(s, "GET", "/healthz", None, None).await;
    assert_eq!(code, StatusCode::OK, "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openapi_documents_exactly_the_routes_and_every_route_is_routed() {
    let t = inproc(3, "").await;
    let documented: BTreeSet<(String, String)> = api::openapi::documented().into_iter().collect();
    let routes: BTreeSet<(String, String)> = api::ROUTES.iter().map(|(m, p)| (m.to_string(), p.to_string())).collect();
    assert_eq!(documented, routes, "OpenAPI and ROUTES differ");

    let (code, doc) = call(&t.state, "GET", "/v1/openapi.json", None, None).await;
    assert_eq!(code, StatusCode::OK);
    assert!(doc["openapi"].as_str().is_some_and(|v| v.starts_with("3.")));
    let paths = doc["paths"].as_object().expect("paths");
    let mut served = BTreeSet::new();
    for (path, ops) in paths {
        for method in ops.as_object().expect("ops").keys() {
            served.insert((method.to_ascii_uppercase(), path.clone()));
        }
    }
    assert_eq!(served, routes, "served document lists other routes");
    // Every schema reference resolves.
    let text = doc.to_string();
    for part in text.split("#/components/schemas/").skip(1) {
        let name: String = part.chars().take_while(|c| c.is_alphanumeric()).collect();
        assert!(doc["components"]["schemas"][&name].is_object(), "missing schema {name}");
    }
    // Every listed route is really routed (not 404 "no route", not 405).
    let victim = t.ports[2];
    // The SSE stream never ends and /metrics is text: tests/labs.rs reads both.
    // The page is HTML: dashboard_page_and_browser_auth reads it.
    let skip = |p: &str| p == "/v1/shutdown" || p.ends_with("/stream") || p == "/metrics" || p == "/";
    for (method, path) in api::ROUTES.iter().filter(|(_, p)| !skip(p)) {
        let uri = path.replace("{node}", &victim.to_string());
        let (code, body) = call(&t.state, method, &uri, None, None).await;
        assert!(code != StatusCode::METHOD_NOT_ALLOWED, "{method} {uri}: 405");
        if code == StatusCode::NOT_FOUND {
            panic!("{method} {uri} is documented but not routed: {body}");
        }
    }
    let (code, body) = call(&t.state, "POST", "/v1/shutdown", None, None).await;
    assert_eq!(code, StatusCode::ACCEPTED, "{body}");
    assert!(t.state.shutdown.is_triggered());
    t.state.sup.stop_all().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn token_is_required_when_configured() {
    let t = inproc(3, "api_token = \"0123456789abcdef\"").await;
    let (code, body) = call(&t.state, "GET", "/v1/status", None, None).await;
    assert_eq!(code, StatusCode::UNAUTHORIZED);
    assert!(body["error"].as_str().is_some_and(|m| m.contains("Bearer")));
    let (code, _) = call(&t.state, "GET", "/v1/status", None, Some("wrong-token-value")).await;
    assert_eq!(code, StatusCode::UNAUTHORIZED);
    let (code, _) = call(&t.state, "GET", "/v1/status", None, Some("0123456789abcdef")).await;
    assert_eq!(code, StatusCode::OK);
    let (code, _) = call(&t.state, "GET", "/healthz", None, None).await;
    assert_eq!(code, StatusCode::OK, "healthz needs no token");
}

/// A raw request: status, headers and body text.
async fn raw(state: &AppState, req: Request<Body>) -> (StatusCode, axum::http::HeaderMap, String) {
    let resp = api::app(state.clone()).oneshot(req).await.expect("router never fails");
    let (parts, body) = resp.into_parts();
    let bytes = body.collect().await.expect("body").to_bytes();
    (parts.status, parts.headers, String::from_utf8_lossy(&bytes).into_owned())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dashboard_page_and_browser_auth() {
    let t = inproc(3, "api_token = \"tok/en 42\"").await;
    let get = |uri: &str| Request::builder().uri(uri).body(Body::empty()).expect("request");
    // The page and its assets need no token (they hold no data) and allow only same-origin code.
    let (code, headers, html) = raw(&t.state, get("/")).await;
    assert_eq!(code, StatusCode::OK);
    assert!(headers["content-type"].to_str().is_ok_and(|v| v.starts_with("text/html")));
    assert!(headers["content-security-policy"].to_str().is_ok_and(|v| v.contains("default-src 'self'")));
    assert!(html.contains("<script src=\"/ui/app.js\"") && !html.contains("onclick="), "no inline code");
    for asset in ["/ui/app.js", "/ui/app.css", "/ui/icon.svg"] {
        let (code, _, body) = raw(&t.state, get(asset)).await;
        assert_eq!(code, StatusCode::OK, "{asset}");
        assert!(body.len() > 100, "{asset} is served whole");
    }
    let (code, _, body) = raw(&t.state, get("/ui/nope.js")).await;
    assert_eq!(code, StatusCode::UNAUTHORIZED, "an unknown path is not an asset: {body}");
    // Data needs the token: as a bearer, or as the page's cookie (percent-encoded).
    let (code, _, _) = raw(&t.state, get("/v1/status")).await;
    assert_eq!(code, StatusCode::UNAUTHORIZED);
    let with_cookie = |c: &str| {
        Request::builder().uri("/v1/status").header("host", "127.0.0.1:16300").header("cookie", c).body(Body::empty()).expect("request")
    };
    let (code, _, body) = raw(&t.state, with_cookie("theme=dark; slotd_token_16300=tok%2Fen%2042")).await;
    assert_eq!(code, StatusCode::OK, "{body}");
    let (code, _, _) = raw(&t.state, with_cookie("slotd_token_16300=tok%2Fen")).await;
    assert_eq!(code, StatusCode::UNAUTHORIZED);
    let (code, _, _) = raw(&t.state, with_cookie("slotd_token_16400=tok%2Fen%2042")).await;
    assert_eq!(code, StatusCode::UNAUTHORIZED, "another port's cookie is not this slotd's");
    // The page trades the bearer token for an HttpOnly cookie named after the port.
    let login = Request::builder()
        .method("POST")
        .uri("/v1/session")
        .header("host", "127.0.0.1:16300")
        .header("authorization", "Bearer tok/en 42")
        .body(Body::empty())
        .expect("request");
    let (code, headers, body) = raw(&t.state, login).await;
    assert_eq!(code, StatusCode::OK, "{body}");
    let cookie = headers["set-cookie"].to_str().expect("cookie");
    assert_eq!(cookie, "slotd_token_16300=tok%2Fen%2042; Path=/; HttpOnly; SameSite=Strict");
    // Another site's page cannot post to the API, even with the cookie; the page's own origin can.
    let post = |origin: &str| {
        Request::builder()
            .method("POST")
            .uri("/v1/faults/heal")
            .header("host", "127.0.0.1:16300")
            .header("origin", origin)
            .header("authorization", "Bearer tok/en 42")
            .body(Body::empty())
            .expect("request")
    };
    let (code, _, body) = raw(&t.state, post("http://evil.example")).await;
    assert_eq!(code, StatusCode::FORBIDDEN, "{body}");
    assert!(body.contains("cross-site"), "{body}");
    let (code, _, body) = raw(&t.state, post("http://127.0.0.1:16300")).await;
    assert_ne!(code, StatusCode::FORBIDDEN, "{body}");
    assert_ne!(code, StatusCode::UNAUTHORIZED, "{body}");
    t.state.sup.stop_all().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_token_only_address_hosts_are_answered() {
    let t = inproc(3, "").await;
    let get = |host: &str| Request::builder().uri("/v1/status").header("host", host).body(Body::empty()).expect("request");
    for ok in ["127.0.0.1:16300", "localhost:16300", "[::1]:16300", "10.0.0.5"] {
        let (code, _, body) = raw(&t.state, get(ok)).await;
        assert_eq!(code, StatusCode::OK, "{ok}: {body}");
    }
    // A DNS-rebound page asks with its own name.
    let (code, _, body) = raw(&t.state, get("evil.example:16300")).await;
    assert_eq!(code, StatusCode::FORBIDDEN, "{body}");
    assert!(body.contains("api_token"), "{body}");
    t.state.sup.stop_all().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_stream_and_lab_routes() {
    let t = inproc(3, "").await;
    let s = &t.state;
    // The status stream's first frame is the status itself, with the live figures.
    let req = Request::builder().uri("/v1/status/stream").body(Body::empty()).expect("request");
    let resp = api::app(s.clone()).oneshot(req).await.expect("router never fails");
    assert_eq!(resp.status(), StatusCode::OK);
    let mut body = resp.into_body();
    let mut text = String::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while !text.contains("event: lab") {
        let frame = tokio::time::timeout_at(deadline, body.frame()).await.expect("stream frames in time");
        let frame = frame.expect("stream open").expect("frame");
        if let Some(d) = frame.data_ref() {
            text.push_str(&String::from_utf8_lossy(d));
        }
    }
    let status_line = text.lines().find(|l| l.starts_with("data: {\"slotd_pid\"")).expect("a status frame");
    let st: serde_json::Value = serde_json::from_str(&status_line["data: ".len()..]).expect("status JSON");
    assert_eq!(st["nodes"].as_array().map(Vec::len), Some(3));
    assert!(st["nodes"][0]["connected_clients"].as_u64().is_some_and(|c| c >= 1), "{}", st["nodes"][0]);
    assert!(st["nodes"][0]["keys"].as_u64().is_some(), "{}", st["nodes"][0]);
    assert!(text.contains("event: faults") && text.contains("event: job"), "{text}");

    let (code, list) = call(s, "GET", "/v1/lab/scenarios", None, None).await;
    assert_eq!(code, StatusCode::OK);
    let names: Vec<&str> = list.as_array().expect("list").iter().filter_map(|x| x["name"].as_str()).collect();
    assert!(names.contains(&"failover") && names.contains(&"migrate-9842"), "{names:?}");
    let (code, body) = call(s, "POST", "/v1/lab/scenarios/nope/run", None, None).await;
    assert_eq!(code, StatusCode::NOT_FOUND, "{body}");
    let (code, body) = call(s, "POST", "/v1/lab/scenarios/..%2Fetc%2Fpasswd/run", None, None).await;
    assert_eq!(code, StatusCode::BAD_REQUEST, "{body}");
    let (code, body) = call(s, "POST", "/v1/lab/scenarios/failover/run", Some("{\"engine\": \"memcached\"}"), None).await;
    assert_eq!(code, StatusCode::BAD_REQUEST, "{body}");
    assert!(body["error"].as_str().is_some_and(|m| m.contains("builtin")), "{body}");
    let (code, body) = call(s, "GET", "/v1/lab/run", None, None).await;
    assert_eq!((code, body), (StatusCode::OK, serde_json::Value::Null), "no run yet");
    t.state.sup.stop_all().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn preflight_reports_each_check() {
    let t = inproc(3, "").await;
    let (code, body) = call(&t.state, "GET", "/v1/preflight", None, None).await;
    assert_eq!(code, StatusCode::OK);
    let checks = body["checks"].as_array().expect("checks");
    let names: Vec<&str> = checks.iter().filter_map(|c| c["name"].as_str()).collect();
    assert_eq!(names, vec!["vm.overcommit_memory", "net.core.somaxconn", "transparent_hugepage", "open files (RLIMIT_NOFILE)"]);
    for c in checks {
        for field in ["value", "wanted", "why", "fix"] {
            assert!(c[field].as_str().is_some_and(|v| !v.is_empty()), "{field} missing in {c}");
        }
        assert!(c["level"] == "ok" || c["level"] == "warn", "{c}");
    }
    // What slotd reports for overcommit is what the kernel says.
    if let Ok(v) = std::fs::read_to_string("/proc/sys/vm/overcommit_memory") {
        assert_eq!(checks[0]["value"], v.trim());
    }
    // slotctl preflight falls back to local checks when slotd is not running.
    let port = free_ports(1)[0];
    let out = std::process::Command::new(crate::util::slotctl_bin())
        .args(["--api", &format!("127.0.0.1:{port}"), "--json", "preflight"])
        .output()
        .expect("slotctl");
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(v["checks"].as_array().map(Vec::len), Some(4));
    let all_ok = v["checks"].as_array().is_some_and(|c| c.iter().all(|c| c["level"] == "ok"));
    assert_eq!(out.status.code(), Some(if all_ok { 0 } else { 1 }));
}
