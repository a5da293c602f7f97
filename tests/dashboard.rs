//! The web dashboard in a real browser: Debian's chromium, headless, driven
//! over the DevTools protocol. A teacher's failover lesson from the page
//! alone: three owners on the slot strip, kill the master of slot 0 with the
//! page's button, watch it turn red, the timeline gain FAIL and the failover
//! with its stopwatch, the strip recolour, then start it again as a replica.
//! Screenshots go to `target/dashboard-shots/` (or `SLOTD_SCREENSHOTS_DIR`,
//! which is how README's pictures are made).

use crate::util::*;
use chromiumoxide::browser::{Browser, BrowserConfig};
use chromiumoxide::cdp::js_protocol::runtime::{EventConsoleApiCalled, EventExceptionThrown};
use chromiumoxide::page::ScreenshotParams;
use chromiumoxide::Page;
use futures_util::StreamExt;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// The browser to drive: `SLOTD_CHROMIUM`, else chromium on PATH.
pub(crate) fn chromium() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("SLOTD_CHROMIUM") {
        return Some(p.into());
    }
    ["chromium", "chromium-browser", "google-chrome"]
        .iter()
        .filter_map(|n| std::env::var_os("PATH").map(|p| std::env::split_paths(&p).map(|d| d.join(n)).collect::<Vec<_>>()))
        .flatten()
        .find(|p| p.is_file())
}

/// Headless chromium with a fresh profile, and the task driving its events.
pub(crate) async fn launch(exe: &std::path::Path) -> (tempfile::TempDir, Browser, tokio::task::JoinHandle<()>) {
    let profile = tempfile::tempdir().expect("profile dir");
    let config = BrowserConfig::builder()
        .chrome_executable(exe)
        .no_sandbox()
        .user_data_dir(profile.path())
        .window_size(1440, 1000)
        .args([
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
        ])
        .launch_timeout(Duration::from_secs(60))
        .request_timeout(Duration::from_secs(30))
        .build()
        .expect("browser config");
    let (browser, mut handler) = Browser::launch(config).await.expect("launch chromium");
    let driver = tokio::spawn(async move { while handler.next().await.is_some() {} });

    (profile, browser, driver)
}

/// Evaluates `js` in the page and returns its JSON value (null on error).
pub(crate) async fn js(page: &Page, js: &str) -> serde_json::Value {
    match page.evaluate(js).await {
        Ok(r) => r.into_value().unwrap_or(serde_json::Value::Null),
        Err(_) => serde_json::Value::Null,
    }
}

async fn js_str(page: &Page, code: &str) -> Option<String> {
    js(page, code).await.as_str().map(str::to_string)
}

fn shots_dir() -> PathBuf {
    let d = std::env::var_os("SLOTD_SCREENSHOTS_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("dashboard-shots"));
    std::fs::create_dir_all(&d).expect("screenshot dir");
    d
}

async fn shot(page: &Page, name: &str) {
    let path = shots_dir().join(name);
    page.save_screenshot(ScreenshotParams::builder().full_page(true).build(), &path).await.expect("screenshot");
    let len = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
    assert!(len > 10_000, "{name}: a screenshot of {len} bytes is not a page");
}

/// Clicks the element as a user would (mouse events at its position).
async fn click(page: &Page, selector: &str) {
    let el = page.find_element(selector).await.unwrap_or_else(|e| panic!("no element {selector}: {e}"));
    el.scroll_into_view().await.expect("scroll");
    el.click().await.unwrap_or_else(|e| panic!("click {selector}: {e}"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failover_lesson_from_the_page() {
    let Some(exe) = chromium() else {
        assert!(
            std::env::var("SLOTD_REQUIRE_REDIS").as_deref() != Ok("1"),
            "SLOTD_REQUIRE_REDIS=1 but chromium is not installed (apt-get install chromium)"
        );
        eprintln!("skipping: chromium not installed");
        return;
    };
    let mut cfg = TestConfig::builtin(6);
    cfg.create = "auto";
    let mut slotd = Slotd::start(&cfg);
    slotd.wait_formed(Duration::from_secs(60)).await;

    let (_profile, mut browser, driver) = launch(&exe).await;
    let page = browser.new_page("about:blank").await.expect("page");
    // Every uncaught exception and console.error of the page is a failure.
    let problems = Arc::new(Mutex::new(Vec::<String>::new()));
    let mut exceptions = page.event_listener::<EventExceptionThrown>().await.expect("listen");
    let mut console = page.event_listener::<EventConsoleApiCalled>().await.expect("listen");
    let (p1, p2) = (problems.clone(), problems.clone());
    tokio::spawn(async move {
        while let Some(e) = exceptions.next().await {
            p1.lock().unwrap_or_else(|p| p.into_inner()).push(format!("exception: {:?}", e.exception_details.text));
        }
    });
    tokio::spawn(async move {
        while let Some(e) = console.next().await {
            if format!("{:?}", e.r#type).to_lowercase().contains("error") {
                p2.lock().unwrap_or_else(|p| p.into_inner()).push(format!("console.error: {:?}", e.args));
            }
        }
    });
    // The page is opened at the address `slotctl dashboard` prints.
    let (code, out, err) = slotd.slotctl(&["dashboard", "--no-open"]);
    assert_eq!(code, 0, "slotctl dashboard: {err}");
    let url = out.trim().to_string();
    assert_eq!(url, format!("http://{}/", slotd.api));
    page.goto(url).await.expect("open the dashboard");

    // Three owners on the strip, the cluster ok, six nodes drawn.
    wait_for(Duration::from_secs(20), "the strip to show three owners", || async {
        (js_str(&page, "document.getElementById('strip').dataset.owners || ''").await.as_deref() == Some("3")).then_some(())
    })
    .await;
    assert_eq!(js_str(&page, "document.getElementById('cluster-state').dataset.state").await.as_deref(), Some("ok"));
    // One machine: no host pills, no host actions.
    assert_eq!(
        js(&page, "document.getElementById('hosts').hidden && document.getElementById('host-form').hidden").await,
        serde_json::json!(true)
    );
    assert_eq!(js(&page, "document.querySelectorAll('.node[data-up=\"true\"]').length").await, serde_json::json!(6));
    assert_eq!(
        js(&page, "document.querySelectorAll('article.card[data-master]:not([data-master=\"\"])').length").await,
        serde_json::json!(3)
    );
    let victim = js_str(&page, "document.querySelector('#strip .seg[data-first=\"0\"]').dataset.owner").await.expect("owner of slot 0");
    let status = slotd.status().await.expect("status");
    let by_api = status.nodes.iter().find(|n| n.slots.iter().any(|s| s.starts_with("0-"))).map(|n| n.name.clone());
    assert_eq!(by_api.as_deref(), Some(victim.as_str()), "the strip's owner of slot 0 is the API's");
    // Every replica row shows its lag (bytes), from the live status stream.
    wait_for(Duration::from_secs(10), "replica lag drawn", || async {
        let t = js_str(&page, "Array.from(document.querySelectorAll('.replicas .node')).map(n => n.textContent).join('|')").await?;
        (t.matches("lag ").count() == 3 && !t.contains("lag –")).then_some(())
    })
    .await;
    shot(&page, "dashboard-overview.png").await;

    // Kill it from the page: the button, then the one confirmation.
    click(&page, &format!("button[data-node=\"{victim}\"][data-action=\"kill\"]")).await;
    wait_for(Duration::from_secs(5), "the confirmation dialog", || async {
        js(&page, "document.getElementById('confirm').open").await.as_bool().filter(|o| *o)
    })
    .await;
    click(&page, "#confirm-ok").await;

    let node_sel = format!(".node[data-node=\"{victim}\"]");
    wait_for(Duration::from_secs(10), "the killed node drawn red", || async {
        let st = js_str(&page, &format!("document.querySelector('{node_sel}').dataset.state")).await?;
        let bg = js_str(&page, &format!("getComputedStyle(document.querySelector('{node_sel} .state')).backgroundColor")).await?;
        (st == "EXITED" && bg == "rgb(198, 40, 40)").then_some(())
    })
    .await;
    let new_owner = wait_for(Duration::from_secs(60), "the strip to recolour slot 0 to a new owner", || async {
        let o = js_str(&page, "document.querySelector('#strip .seg[data-first=\"0\"]').dataset.owner").await?;
        (!o.is_empty() && o != victim).then_some(o)
    })
    .await;
    let timeline = |kind: &'static str| {
        let page = &page;
        let victim = victim.clone();
        async move {
            let rows = js_str(
                page,
                &format!("Array.from(document.querySelectorAll('#events li[data-kind=\"{kind}\"]')).map(l => l.textContent).join('\\n')"),
            )
            .await?;
            rows.contains(&victim).then_some(rows)
        }
    };
    wait_for(Duration::from_secs(20), "a FAIL row for the victim", || timeline("fail")).await;
    let failover = wait_for(Duration::from_secs(20), "a failover row", || timeline("failover")).await;
    assert!(failover.contains(&new_owner), "the failover row names the new master {new_owner}: {failover}");
    wait_for(Duration::from_secs(20), "the failover stopwatch drawn", || async {
        let bars = js(&page, &format!("document.querySelectorAll('.stopwatch[data-old-master=\"{victim}\"] .sw-bar > div').length")).await;
        (bars.as_u64().unwrap_or(0) >= 3).then_some(())
    })
    .await;
    wait_for(Duration::from_secs(30), "cluster ok again on the page", || async {
        (js_str(&page, "document.getElementById('cluster-state').textContent").await?.contains("ok")).then_some(())
    })
    .await;
    assert_eq!(js_str(&page, "document.getElementById('strip').dataset.owners").await.as_deref(), Some("3"));
    shot(&page, "dashboard-failover.png").await;

    // Start it again from the page: it comes back as a replica of the new owner.
    click(&page, &format!("button[data-node=\"{victim}\"][data-action=\"start\"]")).await;
    wait_for(Duration::from_secs(60), "the old master listed as a replica of the new one", || async {
        let card = js_str(&page, &format!("document.querySelector('{node_sel}').closest('article').dataset.master")).await?;
        let role = js_str(&page, &format!("document.querySelector('{node_sel}').dataset.role")).await?;
        let up = js_str(&page, &format!("document.querySelector('{node_sel}').dataset.up")).await?;
        (card == new_owner && role == "slave" && up == "true").then_some(())
    })
    .await;
    let n = slotd.status().await.expect("status").nodes.into_iter().find(|n| n.name == victim).expect("victim in status");
    assert_eq!(n.role.as_deref(), Some("slave"), "the API agrees it is a replica");
    // Reshard slots 0-29 from the page: confirmed once, the progress bar
    // fills, the strip shows them at the target.
    let target = js_str(
        &page,
        &format!("Array.from(document.querySelectorAll('#rs-to option')).map(o => o.value).find(v => v !== '{new_owner}') || ''"),
    )
    .await
    .filter(|t| !t.is_empty())
    .expect("another master in the reshard form");
    js(
        &page,
        &format!(
            "(() => {{ const f = document.getElementById('rs-from'); f.value = '{new_owner}'; f.dispatchEvent(new Event('change')); \
             document.getElementById('rs-to').value = '{target}'; document.getElementById('rs-slots').value = '0-29'; return true; }})()"
        ),
    )
    .await;
    click(&page, "#reshard-form button[type=submit]").await;
    wait_for(Duration::from_secs(5), "the reshard confirmation", || async {
        js(&page, "document.getElementById('confirm').open").await.as_bool().filter(|o| *o)
    })
    .await;
    click(&page, "#confirm-ok").await;
    wait_for(Duration::from_secs(60), "the reshard job done with a full bar", || async {
        let title = js_str(&page, "document.getElementById('job-title').textContent").await?;
        let width = js_str(&page, "document.getElementById('job-bar').style.width").await?;
        (title.contains("done") && width == "100%").then_some(())
    })
    .await;
    wait_for(Duration::from_secs(10), "slots 0-29 drawn at the target", || async {
        let seg = js(
            &page,
            "(() => { const s = document.querySelector('#strip .seg[data-first=\"0\"]'); return [s.dataset.owner, s.dataset.last]; })()",
        )
        .await;
        (seg == serde_json::json!([target, "29"])).then_some(())
    })
    .await;

    // The lab panel lists the scenarios; the log panel tails a node.
    wait_for(Duration::from_secs(10), "scenarios listed", || async {
        (js(&page, "document.querySelectorAll('#scenarios li').length").await.as_u64()? >= 6).then_some(())
    })
    .await;
    wait_for(Duration::from_secs(10), "a node log shown", || async {
        (js_str(&page, "document.getElementById('log-text').textContent").await?.len() > 50).then_some(())
    })
    .await;
    shot(&page, "dashboard-rejoined.png").await;

    // Run a lab scenario from the page and watch its narrative to PASS.
    click(&page, "button[data-scenario=\"migrate-9842\"]").await;
    wait_for(Duration::from_secs(30), "the scenario's narrative", || async {
        (js_str(&page, "document.getElementById('lab-narrative').textContent").await?.lines().count() >= 2).then_some(())
    })
    .await;
    let verdict = wait_for(Duration::from_secs(120), "the scenario to end", || async {
        let st = js_str(&page, "document.getElementById('lab-run-state').textContent").await?;
        (st != "running").then_some(st)
    })
    .await;
    let report = js_str(&page, "document.getElementById('lab-narrative').textContent").await.unwrap_or_default();
    assert_eq!(verdict, "passed", "{report}");
    assert!(report.contains("RESULT: PASS"), "{report}");
    wait_for(Duration::from_secs(10), "the scenario's last result listed", || async {
        (js_str(&page, "document.querySelector('#scenarios li[data-scenario=\"migrate-9842\"] .pill').textContent")
            .await?
            .starts_with("PASS"))
        .then_some(())
    })
    .await;
    shot(&page, "dashboard-lab.png").await;

    // slotd restarts (kill -9, started again: it adopts its nodes): the page
    // says it lost slotd, then comes back live on its own.
    let seq_before = js(&page, "state.seenSeq").await.as_u64().expect("the page's last event");
    slotd.kill9();
    wait_for(Duration::from_secs(15), "the page to notice slotd is gone", || async {
        (js_str(&page, "document.getElementById('conn').dataset.conn").await? == "down").then_some(())
    })
    .await;
    slotd.spawn();
    wait_for(Duration::from_secs(30), "the page live again after the restart", || async {
        let conn = js_str(&page, "document.getElementById('conn').dataset.conn").await?;
        let up = js(&page, "document.querySelectorAll('.node[data-up=\"true\"]').length").await.as_u64()?;
        let uptime = js_str(&page, "document.getElementById('engine').textContent").await?;
        (conn == "live" && up == 6 && uptime.contains("slotd up")).then_some(())
    })
    .await;
    wait_for(Duration::from_secs(10), "slotd's restart in the page's timeline", || async {
        js(&page, &format!("state.events.some(e => e.kind === 'slotd_started' && e.seq > {seq_before})")).await.as_bool().filter(|b| *b)
    })
    .await;

    let problems = problems.lock().unwrap_or_else(|p| p.into_inner()).clone();
    assert!(problems.is_empty(), "the page logged errors: {problems:#?}");
    let _ = browser.close().await;
    let _ = browser.wait().await;
    driver.abort();
}
