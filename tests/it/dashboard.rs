//! `storyforge serve` as a real process, against the sandbox and the local
//! store: its guards over plain HTTP (no key, a wrong key, a foreign Host,
//! no CSRF token), and the whole flow driven in headless Chromium over
//! WebDriver (upload → preview and findings → schedule → queue → `tick`
//! publishes → Recent with the sandbox's insights → quota → a template
//! form re-rendering its preview). `STORYFORGE_SCREENSHOTS=DIR` keeps a
//! screenshot of each view (the README's pictures).

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{json, Value};

use crate::common::{self, Rig};

/// A `storyforge serve` process, stopped when dropped.
struct Served {
    child: Child,
    /// The printed URL, with the key.
    url: String,
    /// `http://127.0.0.1:PORT`.
    base: String,
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts `serve` on a free port with `rig`'s settings; uploads and
/// outputs go into the rig's work folder.
fn serve(rig: &Rig) -> Served {
    let work = rig.work.path();
    let mut child = common::command()
        .args(["serve", "--port", "0", "--tick", "0", "--templates"])
        .arg(common::root().join("templates"))
        .arg("--uploads")
        .arg(work.join("uploads"))
        .arg("--out")
        .arg(work.join("out"))
        .arg("--config")
        .arg(&rig.config)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start storyforge serve");
    let stdout = child.stdout.take().expect("serve's stdout");
    let mut line = String::new();
    BufReader::new(stdout)
        .read_line(&mut line)
        .expect("serve prints its URL");
    let url = line
        .trim()
        .strip_prefix("storyforge dashboard: ")
        .unwrap_or_else(|| panic!("serve printed {line:?}, not its URL"))
        .to_string();
    let base = url.split("/?key=").next().expect("a base URL").to_string();
    Served { child, url, base }
}

/// A client that keeps cookies and follows no redirect.
fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(30))
        .build()
        .expect("client")
}

/// The session cookie `serve` gives for its key.
async fn session(s: &Served) -> String {
    let res = http().get(&s.url).send().await.expect("GET with the key");
    assert_eq!(res.status(), 303);
    let cookie = res
        .headers()
        .get("set-cookie")
        .and_then(|v| v.to_str().ok())
        .expect("a session cookie")
        .to_string();
    assert!(cookie.contains("HttpOnly"), "{cookie}");
    assert!(cookie.contains("SameSite=Strict"), "{cookie}");
    assert_eq!(res.headers()["location"], "/");
    cookie.split(';').next().expect("name=value").to_string()
}

#[tokio::test(flavor = "multi_thread")]
async fn requests_without_the_key_or_token_are_refused() {
    let rig = Rig::start(|_| {});
    let s = serve(&rig);
    let c = http();
    let no_key = c.get(format!("{}/", s.base)).send().await.expect("GET /");
    assert_eq!(no_key.status(), 401);
    let text = no_key.text().await.expect("body");
    assert!(text.contains("access key"), "{text}");
    let wrong = c
        .get(format!("{}/?key=0123", s.base))
        .send()
        .await
        .expect("GET wrong key");
    assert_eq!(wrong.status(), 401);
    for path in ["/quota", "/recent", "/api/draft/x", "/static/app.js"] {
        let r = c
            .get(format!("{}{path}", s.base))
            .send()
            .await
            .expect("GET");
        assert_eq!(r.status(), 401, "{path} without the cookie");
    }

    let cookie = session(&s).await;
    let page = c
        .get(format!("{}/", s.base))
        .header("cookie", &cookie)
        .send()
        .await
        .expect("GET / with the cookie");
    assert_eq!(page.status(), 200);
    let html = page.text().await.expect("page");
    assert!(html.contains("<h1>Queue</h1>"), "{html}");
    assert!(
        !html.contains("sandbox-token-demo"),
        "a token reached the page"
    );
    let csrf = csrf_in(&html);

    // DNS rebinding: the right cookie under another name is refused.
    let port = s.base.rsplit(':').next().expect("a port");
    let rebound = c
        .get(format!("{}/", s.base))
        .header("cookie", &cookie)
        .header("host", format!("attacker.example:{port}"))
        .send()
        .await
        .expect("GET with a foreign Host");
    assert_eq!(rebound.status(), 421);

    // State changes need the token, from our own origin.
    let schedule = |token: Option<&str>, origin: Option<&str>| {
        let mut r = c
            .post(format!("{}/api/schedule", s.base))
            .header("cookie", &cookie)
            .json(&json!({"template": "daily-update.yaml", "vars": {"title": "x", "body": "y"}, "at": "2030-01-01T00:00:00Z"}));
        if let Some(t) = token {
            r = r.header("x-csrf-token", t);
        }
        if let Some(o) = origin {
            r = r.header("origin", o);
        }
        r.send()
    };
    assert_eq!(schedule(None, None).await.expect("POST").status(), 403);
    assert_eq!(
        schedule(Some("not-the-token"), None)
            .await
            .expect("POST")
            .status(),
        403
    );
    assert_eq!(
        schedule(Some(&csrf), Some("http://attacker.example"))
            .await
            .expect("POST")
            .status(),
        403
    );
    let ok = schedule(Some(&csrf), Some(&s.base)).await.expect("POST");
    assert_eq!(ok.status(), 200);
    let v: Value = ok.json().await.expect("JSON");
    assert_eq!(v["ids"].as_array().map(Vec::len), Some(1), "{v}");
    let id = v["ids"][0].as_i64().expect("an entry id");

    // Reschedule, then cancel; a cancelled entry neither moves nor cancels again.
    let act = |path: String, body: Value| {
        c.post(format!("{}{path}", s.base))
            .header("cookie", &cookie)
            .header("x-csrf-token", &csrf)
            .json(&body)
            .send()
    };
    let moved = act(
        format!("/api/schedule/{id}/reschedule"),
        json!({"at": "2031-02-03T04:05:00+01:00"}),
    )
    .await
    .expect("reschedule");
    assert_eq!(moved.status(), 200);
    let listed = common::cli(&["schedule", "list"], &rig.config);
    let listed = common::text(&listed);
    assert!(
        listed.contains(&format!("#{id} 2031-02-03T03:05:00Z pending")),
        "{listed}"
    );
    let cancel = act(format!("/api/schedule/{id}/cancel"), json!({}));
    assert_eq!(cancel.await.expect("cancel").status(), 200);
    let again = act(format!("/api/schedule/{id}/cancel"), json!({}));
    assert_eq!(again.await.expect("cancel again").status(), 409);
    let moved = act(
        format!("/api/schedule/{id}/reschedule"),
        json!({"at": "2031-02-03T04:05:00Z"}),
    );
    assert_eq!(moved.await.expect("reschedule").status(), 409);
    let listed = common::text(&common::cli(&["schedule", "list"], &rig.config));
    assert!(
        listed.contains(&format!("#{id} 2031-02-03T03:05:00Z cancelled")),
        "{listed}"
    );
    // A tick leaves a cancelled entry alone.
    let out = rig.work.path().join("out").display().to_string();
    common::expect_exit(&common::cli(&["tick", "--out", &out], &rig.config), 0);
    assert!(rig.sandbox.published().is_empty());

    // Publish now: once, by the sandbox's record; a second "publish now" of
    // the same entry is refused, and a tick after it publishes nothing.
    let now = act(
        "/api/schedule".into(),
        json!({"template": "daily-update.yaml", "vars": {"title": "Now", "body": "at once"}, "now": true}),
    )
    .await
    .expect("publish now");
    assert_eq!(now.status(), 200);
    let v: Value = now.json().await.expect("JSON");
    assert_eq!(v["results"][0]["state"], "done", "{v}");
    assert_eq!(rig.sandbox.published().len(), 1);
    let id = v["ids"][0].as_i64().expect("an entry id");
    let again = act(format!("/api/schedule/{id}/publish"), json!({}));
    assert_eq!(again.await.expect("publish again").status(), 409);
    common::expect_exit(&common::cli(&["tick", "--out", &out], &rig.config), 0);
    assert_eq!(rig.sandbox.published().len(), 1, "exactly once");

    // Uploads are judged by content: text named like a picture is refused.
    let up = c
        .post(format!("{}/api/upload?name=photo.jpg", s.base))
        .header("cookie", &cookie)
        .header("x-csrf-token", &csrf)
        .body("just some text, not a picture")
        .send()
        .await
        .expect("POST upload");
    assert_eq!(up.status(), 415);
    let e: Value = up.json().await.expect("JSON");
    assert!(
        e["error"]
            .as_str()
            .is_some_and(|m| m.contains("photo.jpg") && m.contains("not an image or a video")),
        "{e}"
    );
}

/// chromedriver on a free port, stopped when dropped.
struct Driver {
    child: Child,
    url: String,
    _profile: tempfile::TempDir,
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        // A failed test never closes its session: end the browser, found by
        // its own profile folder.
        let _ = std::process::Command::new("pkill")
            .arg("-f")
            .arg(self._profile.path())
            .status();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

/// Starts chromedriver and a headless Chromium session.
async fn browser() -> (Driver, Client) {
    let port = free_port();
    let child = std::process::Command::new("chromedriver")
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect(
            "chromedriver is missing: `make test` installs Debian's chromium and chromium-driver",
        );
    let driver = Driver {
        child,
        url: format!("http://127.0.0.1:{port}"),
        _profile: tempfile::tempdir().expect("a profile folder"),
    };
    let deadline = Instant::now() + Duration::from_secs(20);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "chromedriver did not start");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let mut caps = serde_json::Map::new();
    caps.insert(
        "goog:chromeOptions".into(),
        json!({
            "binary": "/usr/bin/chromium",
            "args": [
                "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--window-size=1280,1100", "--disable-background-networking", "--disable-quic",
                "--no-first-run", "--disable-component-update", "--disable-sync",
                format!("--user-data-dir={}", driver._profile.path().display()),
            ]
        }),
    );
    let client = ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
        .capabilities(caps)
        .connect(&driver.url)
        .await
        .expect("a WebDriver session in headless Chromium");
    (driver, client)
}

/// Waits until the JavaScript expression `cond` is true on the page.
async fn until(client: &Client, cond: &str, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let v = client
            .execute(&format!("return !!({cond});"), vec![])
            .await
            .unwrap_or(Value::Bool(false));
        if v == Value::Bool(true) {
            return;
        }
        if Instant::now() > deadline {
            let text = client
                .execute("return document.body.innerText;", vec![])
                .await
                .unwrap_or_default();
            panic!("timed out waiting for {what} ({cond}); the page says:\n{text}");
        }
        tokio::time::sleep(Duration::from_millis(150)).await;
    }
}

/// Clicks the element `css` names.
async fn click(client: &Client, css: &str) {
    client
        .find(Locator::Css(css))
        .await
        .unwrap_or_else(|e| panic!("no {css} on the page: {e}"))
        .click()
        .await
        .unwrap_or_else(|e| panic!("cannot click {css}: {e}"));
}

/// The page's visible text.
async fn text(client: &Client) -> String {
    client
        .execute("return document.body.innerText;", vec![])
        .await
        .expect("page text")
        .as_str()
        .unwrap_or_default()
        .to_string()
}

/// Keeps a screenshot of the page when STORYFORGE_SCREENSHOTS names a folder.
async fn keep(client: &Client, name: &str) {
    if let Some(dir) = std::env::var_os("STORYFORGE_SCREENSHOTS") {
        let png = client.screenshot().await.expect("screenshot");
        std::fs::write(Path::new(&dir).join(format!("{name}.png")), png).expect("write screenshot");
    }
}

/// A landscape photo (PNG) to upload.
fn photo(dir: &Path) -> PathBuf {
    let img = image::RgbImage::from_fn(1200, 800, |x, y| {
        image::Rgb([(x / 5) as u8, (y / 4) as u8, 160])
    });
    let path = dir.join("landscape.png");
    img.save(&path).expect("write the photo");
    path
}

/// Picks a landscape photo on `/new`, fitted with `pad`, and uploads it.
async fn upload_photo(client: &Client, dir: &Path) {
    let file = photo(dir);
    client
        .find(Locator::Css("#file"))
        .await
        .expect("the file input")
        .send_keys(&file.display().to_string())
        .await
        .expect("pick the file");
    click(client, "input[name=fit][value=pad]").await;
    click(client, "#upload-btn").await;
}

/// Sets the schedule form's time by the script `set_time`, schedules, and
/// waits for the confirmation.
async fn schedule_at(client: &Client, set_time: &str) {
    client
        .execute(set_time, vec![])
        .await
        .expect("set the time");
    click(client, "#schedule-btn").await;
    until(
        client,
        "document.querySelector('#status').textContent.startsWith('Scheduled #')",
        "the scheduled confirmation",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn the_dashboard_in_a_real_browser() {
    let rig = Rig::start(|c| c.story_viewers = Some(40));
    let s = serve(&rig);
    let (_driver, client) = browser().await;

    // The key is traded for the cookie and leaves the address bar.
    client.goto(&s.url).await.expect("open the dashboard");
    let here = client.current_url().await.expect("url");
    assert!(!here.as_str().contains("key="), "{here}");
    assert!(text(&client).await.contains("Nothing scheduled"));

    // Upload an image: it is fitted, previewed with the safe zone, checked.
    client.goto(&format!("{}/new", s.base)).await.expect("/new");
    upload_photo(&client, rig.work.path()).await;
    until(
        &client,
        "document.querySelector('#preview-img') && document.querySelector('#preview-img').naturalWidth === 1080 && document.querySelectorAll('#findings li').length > 0",
        "the fitted preview and its findings",
    )
    .await;
    let page = text(&client).await;
    assert!(page.contains("No findings: ready for Instagram."), "{page}");
    assert!(
        page.contains("Ready: landscape.png (image, 1 Story)"),
        "{page}"
    );
    let natural = client
        .execute("const i = document.querySelector('#preview-img'); return [i.naturalWidth, i.naturalHeight];", vec![])
        .await
        .expect("preview size");
    assert_eq!(natural, json!([1080, 1920]));
    assert!(client.find(Locator::Css("#frame .safe")).await.is_ok());
    keep(&client, "new-from-file").await;

    // Schedule it a minute ago, so the next tick finds it due.
    schedule_at(
        &client,
        "const d = new Date(Date.now() - 60000); const p = n => String(n).padStart(2, '0');\
         document.querySelector('#at').value = `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}T${p(d.getHours())}:${p(d.getMinutes())}`;",
    )
    .await;
    // A second click schedules nothing twice: it says where the first went.
    click(&client, "#schedule-btn").await;
    until(
        &client,
        "document.querySelector('#status').textContent.includes('already scheduled as #')",
        "the refusal of a second schedule",
    )
    .await;

    // It is in the queue, with its thumbnail.
    client.goto(&format!("{}/", s.base)).await.expect("queue");
    until(
        &client,
        "document.querySelectorAll('.queue .item').length === 1 && document.querySelector('.queue .thumb').naturalWidth > 0",
        "the queued Story with its thumbnail",
    )
    .await;
    let queue = text(&client).await;
    assert!(
        queue.contains("landscape") || queue.contains(".jpg"),
        "{queue}"
    );
    assert!(queue.contains("pending"), "{queue}");
    assert!(queue.contains("0 of 50"), "the quota widget: {queue}");
    keep(&client, "queue").await;
    click(&client, "button[data-view=week]").await;
    until(
        &client,
        "!document.querySelector('#week').hidden && document.querySelectorAll('#week .day li').length === 1",
        "the Story in the week view",
    )
    .await;
    keep(&client, "queue-week").await;

    // `tick`, a separate process, publishes it: once, by the sandbox's record.
    let tick = common::cli(
        &[
            "tick",
            "--out",
            &rig.work.path().join("out").display().to_string(),
        ],
        &rig.config,
    );
    common::expect_exit(&tick, 0);
    assert_eq!(rig.sandbox.published().len(), 1);
    let media = rig.sandbox.published()[0].media_id.clone();

    // Recent shows it; "collect now" brings the sandbox's insights.
    client
        .goto(&format!("{}/recent", s.base))
        .await
        .expect("recent");
    assert!(text(&client).await.contains(&media));
    click(&client, "#collect").await;
    until(
        &client,
        "document.querySelector('.metrics') !== null",
        "the collected insights",
    )
    .await;
    let recent = text(&client).await;
    for label in ["views", "reach", "replies", "shares", "left", "Permalink"] {
        assert!(recent.contains(label), "{label} missing from:\n{recent}");
    }
    assert!(client.find(Locator::Css("svg.chart")).await.is_ok());
    keep(&client, "recent").await;

    // The quota view reads the sandbox's numbers.
    client
        .goto(&format!("{}/quota", s.base))
        .await
        .expect("quota");
    let quota = text(&client).await;
    assert!(quota.contains("1 of 50"), "{quota}");
    assert!(quota.contains("1 of 400"), "{quota}");
    keep(&client, "quota").await;

    // A template form: the preview renders at once, with the findings of
    // `validate --data`, and re-renders as you type.
    client
        .goto(&format!("{}/template?t=daily-update.yaml", s.base))
        .await
        .expect("template");
    until(
        &client,
        "document.querySelector('#preview-img').dataset.preview && document.querySelector('#preview-img').naturalWidth === 1080 && document.querySelector('#findings').textContent.includes('No findings')",
        "the first preview",
    )
    .await;
    let title = client
        .find(Locator::Css("textarea[data-var=title]"))
        .await
        .expect("the title field");
    let first = client
        .execute(
            "return document.querySelector('#preview-img').dataset.preview;",
            vec![],
        )
        .await
        .expect("preview id");
    title
        .send_keys("Winter menu 🎉 قائمة الشتاء")
        .await
        .expect("type");
    until(
        &client,
        &format!(
            "document.querySelector('#preview-img').dataset.preview !== {first} && document.querySelector('#preview-img').naturalWidth === 1080"
        ),
        "a new preview",
    )
    .await;
    keep(&client, "new-from-template").await;
    // A character no bundled font has is named, as `validate --data` does.
    title
        .send_keys(" \u{13000}")
        .await
        .expect("type a hieroglyph");
    until(
        &client,
        "document.querySelector('#findings').textContent.includes('SF309') && document.querySelector('#findings').textContent.includes('U+13000')",
        "the missing-glyph finding",
    )
    .await;
    client.close().await.expect("close the browser");
}

/// Uploads `file` to `serve` and follows it until it is no longer processing.
#[cfg(feature = "video")]
async fn upload_video(s: &Served, cookie: &str, csrf: &str, file: &str) -> Value {
    let c = http();
    let bytes = std::fs::read(common::root().join("fixtures/video").join(file)).expect("fixture");
    let res = c
        .post(format!("{}/api/upload?name={file}&fit=blur", s.base))
        .header("cookie", cookie)
        .header("x-csrf-token", csrf)
        .body(bytes)
        .send()
        .await
        .expect("POST upload");
    assert_eq!(res.status(), 202, "a video is processed in the background");
    let mut d: Value = res.json().await.expect("JSON");
    let deadline = Instant::now() + Duration::from_secs(120);
    while d["status"] == "processing" {
        assert!(Instant::now() < deadline, "transcode did not finish: {d}");
        tokio::time::sleep(Duration::from_millis(200)).await;
        d = c
            .get(format!(
                "{}/api/draft/{}",
                s.base,
                d["id"].as_str().expect("id")
            ))
            .header("cookie", cookie)
            .send()
            .await
            .expect("GET draft")
            .json()
            .await
            .expect("JSON");
    }
    d
}

/// The CSRF token of a page.
async fn csrf_of(s: &Served, cookie: &str) -> String {
    let html = http()
        .get(format!("{}/new", s.base))
        .header("cookie", cookie)
        .send()
        .await
        .expect("GET /new")
        .text()
        .await
        .expect("page");
    csrf_in(&html)
}

/// The CSRF token in a page's HTML.
fn csrf_in(html: &str) -> String {
    html.split("name=\"csrf-token\" content=\"")
        .nth(1)
        .and_then(|r| r.split('"').next())
        .expect("the CSRF token in the page")
        .to_string()
}

#[cfg(feature = "video")]
#[tokio::test(flavor = "multi_thread")]
async fn uploaded_videos_are_transcoded_or_refused_by_name() {
    let rig = Rig::start(|_| {});
    let s = serve(&rig);
    let cookie = session(&s).await;
    let csrf = csrf_of(&s, &cookie).await;

    let ok = upload_video(&s, &cookie, &csrf, "silent.webm").await;
    assert_eq!(ok["status"], "ready", "{ok}");
    assert_eq!(ok["kind"], "video");
    assert_eq!(ok["parts"], 1);
    assert_eq!(
        ok["findings"],
        json!([]),
        "a transcoded upload passes the validator"
    );
    let mp4 = http()
        .get(format!(
            "{}/draft/{}/0",
            s.base,
            ok["id"].as_str().expect("id")
        ))
        .header("cookie", &cookie)
        .send()
        .await
        .expect("GET the Story");
    assert_eq!(mp4.headers()["content-type"], "video/mp4");

    let short = upload_video(&s, &cookie, &csrf, "short.mp4").await;
    assert_eq!(short["status"], "failed", "{short}");
    let error = short["error"].as_str().unwrap_or_default();
    assert!(error.starts_with("short.mp4: "), "{error}");
}

#[tokio::test(flavor = "multi_thread")]
async fn publish_now_beside_a_tick_publishes_each_story_once() {
    let rig = Rig::start(|c| c.image_processing_ms = 300);
    let s = serve(&rig);
    let cookie = session(&s).await;
    let csrf = csrf_of(&s, &cookie).await;
    let post = |path: String, body: Value| {
        http()
            .post(format!("{}{path}", s.base))
            .header("cookie", &cookie)
            .header("x-csrf-token", &csrf)
            .json(&body)
            .send()
    };
    let past = (chrono::Utc::now() - chrono::Duration::minutes(1)).to_rfc3339();
    let mut ids = Vec::new();
    for i in 0..5 {
        let r: Value = post(
            "/api/schedule".into(),
            json!({"template": "daily-update.yaml", "vars": {"title": format!("Story {i}"), "body": "race"}, "at": past}),
        )
        .await
        .expect("schedule")
        .json()
        .await
        .expect("JSON");
        ids.push(r["ids"][0].as_i64().expect("an entry id"));
    }
    // A tick process and "publish now" of every entry, at the same time.
    let out = rig.work.path().join("out").display().to_string();
    let tick = rig.spawn(&["tick", "--out", &out]);
    let mut clicks = Vec::new();
    for id in &ids {
        clicks.push(post(format!("/api/schedule/{id}/publish"), json!({})));
    }
    for click in clicks {
        let status = click.await.expect("publish now").status();
        // Published here, or taken by the tick first (409: running or done).
        assert!(status == 200 || status == 409, "{status}");
    }
    let tick = tick.wait_with_output().expect("tick");
    assert!(
        tick.status.code().is_some_and(|c| c <= 1),
        "{}",
        common::text(&tick)
    );
    // Anything left waiting goes out on the next tick; nothing twice.
    common::expect_exit(&common::cli(&["tick", "--out", &out], &rig.config), 0);
    let record = rig.sandbox.published();
    assert_eq!(record.len(), ids.len(), "exactly once: {record:?}");
    let listed = common::text(&common::cli(&["schedule", "list"], &rig.config));
    for id in &ids {
        assert!(listed.contains(&format!("#{id} ")), "{listed}");
    }
    assert_eq!(listed.matches(" done").count(), ids.len(), "{listed}");
}

/// A dashboard page's HTML, fetched with the session cookie.
async fn page_html(s: &Served, cookie: &str, path: &str) -> String {
    let res = http()
        .get(format!("{}{path}", s.base))
        .header("cookie", cookie)
        .send()
        .await
        .expect("GET the page");
    assert_eq!(res.status(), 200, "{path}");
    res.text().await.expect("page")
}

/// The insights calls the sandbox recorded after call `after`: each one's
/// `metric` parameter and error code.
fn insight_calls(rig: &Rig, after: u64) -> Vec<(String, Option<i64>)> {
    rig.sandbox
        .calls()
        .into_iter()
        .filter(|c| c.seq > after && c.path.ends_with("/insights"))
        .map(|c| {
            let metric = c
                .params
                .iter()
                .find(|(k, _)| k == "metric")
                .map(|(_, v)| v.clone())
                .unwrap_or_default();
            (metric, c.error_code)
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_retired_metric_is_dropped_remembered_and_recent_shows_the_rest() {
    let rig = Rig::start(|c| {
        c.story_viewers = Some(40);
        c.retired_metrics = vec!["profile_activity".into()];
    });
    let good = common::root().join("fixtures/bad/ok-story.jpg");
    common::expect_exit(&rig.run(&["publish", good.to_str().expect("path")]), 0);
    let first = rig.run(&["insights", "--now", "--json"]);
    common::expect_exit(&first, 0);
    let v: Value = serde_json::from_slice(&first.stdout).expect("JSON");
    let got = &v["collected"][0];
    assert_eq!(got["refused"], json!(["profile_activity"]), "{v}");
    let metrics = &got["result"]["Ok"];
    let views = metrics["views"].as_u64().expect("views stored");
    for m in ["reach", "replies", "shares", "follows", "profile_visits"] {
        assert!(metrics[m].is_u64(), "{m} missing: {metrics}");
    }
    assert!(metrics.get("profile_activity").is_none(), "{metrics}");
    assert!(
        metrics["navigation_breakdown"]["tap_exit"].is_u64(),
        "{metrics}"
    );
    // The sandbox refused the call naming it once; the retry went without.
    let calls = insight_calls(&rig, 0);
    let refused: Vec<_> = calls.iter().filter(|c| c.1 == Some(100)).collect();
    assert_eq!(refused.len(), 1, "{calls:?}");
    assert!(refused[0].0.contains("profile_activity"), "{calls:?}");
    let seen = rig.sandbox.calls().last().expect("calls").seq;

    // The refusal is remembered: the next collection does not ask for it.
    common::expect_exit(&rig.run(&["insights", "--now"]), 0);
    let next = insight_calls(&rig, seen);
    assert_eq!(next.len(), 2, "the metrics and navigation: {next:?}");
    assert!(
        next.iter()
            .all(|(m, e)| !m.contains("profile_activity") && e.is_none()),
        "{next:?}"
    );

    // Recent shows the values collected.
    let s = serve(&rig);
    let cookie = session(&s).await;
    let recent = page_html(&s, &cookie, "/recent").await;
    assert!(
        recent.contains(&format!("<dt>views</dt><dd>{views}</dd>")),
        "{recent}"
    );
    assert!(!recent.contains("No insights collected yet"), "{recent}");

    // Another failure is stored with the Story and shown until a later
    // collection succeeds.
    rig.sandbox.set_faults(storyforge::sandbox::Faults {
        transient_errors: 1,
        ..Default::default()
    });
    let failed = rig.run(&["insights", "--now"]);
    let stderr = common::expect_exit(&failed, 1);
    assert!(stderr.contains("error: media"), "{stderr}");
    let recent = page_html(&s, &cookie, "/recent").await;
    assert!(
        recent.contains("Insights could not be collected"),
        "{recent}"
    );
    let later = rig.run(&["insights"]);
    let stderr = common::expect_exit(&later, 0);
    assert!(
        stderr.contains("insights not collected (last try"),
        "{stderr}"
    );
    common::expect_exit(&rig.run(&["insights", "--now"]), 0);
    let recent = page_html(&s, &cookie, "/recent").await;
    assert!(
        !recent.contains("Insights could not be collected"),
        "{recent}"
    );
    assert!(!common::text(&later).contains("sandbox-token-demo"));
}

#[tokio::test(flavor = "multi_thread")]
async fn the_insights_page_shows_the_report_in_a_real_browser() {
    let rig = Rig::start(|_| {});
    let set = crate::insights::seed_set();
    crate::insights::seed(&rig.work.path().join("l.db"), &set);
    let s = serve(&rig);
    let (_driver, client) = browser().await;
    client.goto(&s.url).await.expect("open the dashboard");
    client
        .goto(&format!("{}/insights", s.base))
        .await
        .expect("/insights");
    until(
        &client,
        "document.querySelector('table.report tbody tr') !== null",
        "the report table",
    )
    .await;
    let page = text(&client).await;
    assert!(
        page.contains(
            "variant B of product-card: exit rate 18 % vs 27 % for A over 40 Stories each"
        ),
        "{page}"
    );
    for variant in ["A", "B"] {
        let mine: Vec<_> = set.iter().filter(|x| x.variant == Some(variant)).collect();
        let reach = crate::insights::median(mine.iter().map(|x| x.reach).collect());
        let exit = mine.iter().map(|x| x.exits).sum::<i64>() as f64
            / mine.iter().map(|x| x.views).sum::<i64>() as f64;
        let cells = client
            .execute(
                &format!("return [...document.querySelectorAll('tr[data-template=\"product-card\"][data-variant=\"{variant}\"] td')].map(td => td.textContent);"),
                vec![],
            )
            .await
            .expect("the variant's row");
        let cells: Vec<String> = serde_json::from_value(cells).expect("cells");
        assert_eq!(cells[0], variant, "{cells:?}");
        assert_eq!(cells[1], "40", "{cells:?}");
        assert!(
            cells[2].starts_with(&format!("{reach:.1} (")),
            "{cells:?} vs {reach}"
        );
        assert!(
            cells[4].starts_with(&format!("{:.1} % (", exit * 100.0)),
            "{cells:?} vs {exit}"
        );
    }
    let menu = client
        .execute(
            "return document.querySelector('tr[data-template=\"menu\"]').textContent;",
            vec![],
        )
        .await
        .expect("the menu row");
    assert!(
        menu.as_str()
            .unwrap_or("")
            .contains("not enough data (5 of 10 Stories)"),
        "{menu}"
    );
    // The heat map has a cell for each weekday and hour that has Stories.
    let cells = client
        .execute(
            "return [...document.querySelectorAll('table.heat td[data-hour]')].reduce((n, td) => n + Number(td.title.match(/over (\\d+) Stories/)[1]), 0);",
            vec![],
        )
        .await
        .expect("heat map");
    assert_eq!(cells, json!(set.len()));
    keep(&client, "insights").await;
    client.close().await.expect("close the browser");
}

#[tokio::test(flavor = "multi_thread")]
async fn signatures_and_feed_keys_are_masked_on_every_page() {
    let rig = Rig::start(|_| {});
    std::fs::write(
        rig.media.path().join("signed.jpg"),
        common::jpeg_variant(31),
    )
    .expect("media");
    let url = format!(
        "{}/media/signed.jpg?X-Amz-Credential=AKIAPAGESECRET&X-Amz-Signature=PAGESIG123",
        rig.sandbox.base_url()
    );
    let published = rig.run(&["publish", &url]);
    assert!(published.status.success(), "{}", common::text(&published));
    let feed = "https://feeds.example/quotes.csv?api_key=FEEDKEY123";
    let scheduled = rig.run(&[
        "schedule",
        "add",
        "--template",
        "templates/quote-card.yaml",
        "--feed",
        feed,
        "--row",
        "1",
        "--at",
        "2099-01-01T09:00:00Z",
    ]);
    assert!(scheduled.status.success(), "{}", common::text(&scheduled));
    let listed = common::text(&rig.run(&["schedule", "list"]));
    assert!(listed.contains("api_key=***"), "{listed}");
    let s = serve(&rig);
    let cookie = session(&s).await;
    let mut seen = String::new();
    for path in ["/", "/recent", "/quota"] {
        seen.push_str(&page_html(&s, &cookie, path).await);
    }
    assert!(seen.contains("signed.jpg"), "the Story is listed: {seen}");
    for secret in ["AKIAPAGESECRET", "PAGESIG123", "FEEDKEY123"] {
        assert!(!seen.contains(secret), "{secret} on a page");
        assert!(!listed.contains(secret), "{secret} in schedule list");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_queue_shows_automations_and_the_form_reads_the_account_zone() {
    let (rig, job, _) = crate::automations_every::berlin_rig();
    let add = crate::automations_every::add_every(&rig, &job, "daily 09:00", &[]);
    assert!(add.status.success(), "{}", common::text(&add));
    let s = serve(&rig);
    let (_driver, client) = browser().await;
    client.goto(&s.url).await.expect("open the dashboard");
    until(
        &client,
        "document.querySelector('[data-automation=A1] .next time')",
        "the automation in the queue",
    )
    .await;
    let queue = text(&client).await;
    assert!(
        queue.contains("every daily 09:00 (Europe/Berlin)"),
        "{queue}"
    );
    // The next occurrences, in Berlin with the offset: 09:00 there.
    let next = client
        .execute(
            "return [...document.querySelectorAll('[data-automation=A1] .next time')].map(t => t.textContent);",
            vec![],
        )
        .await
        .expect("next");
    let next: Vec<String> = serde_json::from_value(next).expect("strings");
    assert_eq!(next.len(), 3, "{queue}");
    assert!(next.iter().all(|t| t.contains(" 09:00 CE")), "{next:?}");
    // The preview of the next occurrence names the day's row and title.
    assert!(queue.contains("would publish"), "{queue}");
    assert!(queue.contains("“Dish "), "{queue}");
    assert!(!queue.contains("Nothing scheduled"), "{queue}");
    keep(&client, "queue-automations").await;

    // The schedule form reads its time in the account's zone and says which.
    client.goto(&format!("{}/new", s.base)).await.expect("/new");
    until(
        &client,
        "document.querySelector('#at-zone').textContent === 'Europe/Berlin'",
        "the zone beside the time",
    )
    .await;
    upload_photo(&client, rig.work.path()).await;
    until(
        &client,
        "document.querySelector('#preview-img') && document.querySelector('#preview-img').naturalWidth === 1080",
        "the fitted preview",
    )
    .await;
    schedule_at(
        &client,
        "document.querySelector('#at').value = '2031-02-03T04:05';",
    )
    .await;
    let status = text(&client).await;
    assert!(
        status.contains("2031-02-03 04:05 Europe/Berlin"),
        "{status}"
    );
    let ledger = storyforge::ledger::Ledger::open(&rig.work.path().join("l.db")).expect("ledger");
    let at: Vec<String> = ledger
        .schedule()
        .expect("schedule")
        .into_iter()
        .map(|e| e.at)
        .collect();
    // 04:05 in Berlin in February (CET, +01:00) is 03:05 UTC.
    assert_eq!(at, ["2031-02-03T03:05:00Z"]);

    // The queue shows the entry in the account's zone, and its
    // Reschedule box reads the new time there too.
    client.goto(&s.url).await.expect("the queue");
    until(
        &client,
        "document.querySelector('.queue .item[data-zone=\"Europe/Berlin\"] form.actions')",
        "the entry in the queue",
    )
    .await;
    let label = client
        .execute(
            "return document.querySelector('.queue form.actions .zone').textContent;",
            vec![],
        )
        .await
        .expect("the Reschedule box's zone");
    assert_eq!(label.as_str(), Some("Europe/Berlin"));
    let shown = client
        .execute(
            "return document.querySelector('.queue .item time').textContent;",
            vec![],
        )
        .await
        .expect("the entry's time");
    let shown = shown.as_str().unwrap_or_default().to_string();
    assert!(
        shown.contains("4:05") && shown.ends_with("Europe/Berlin"),
        "{shown}"
    );
    client
        .execute(
            "const f = document.querySelector('.queue form.actions'); f.elements.at.value = '2031-07-04T05:06'; f.requestSubmit();",
            vec![],
        )
        .await
        .expect("reschedule");
    let mut moved = Vec::new();
    for _ in 0..100 {
        moved = storyforge::ledger::Ledger::open(&rig.work.path().join("l.db"))
            .expect("ledger")
            .schedule()
            .expect("schedule")
            .into_iter()
            .map(|e| e.at)
            .collect();
        if moved != at {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    // 05:06 in Berlin in July (CEST, +02:00) is 03:06 UTC.
    assert_eq!(moved, ["2031-07-04T03:06:00Z"]);

    // The week view puts an entry on its day in the account's zone: 00:30
    // in Berlin on the browser's tomorrow is still today in UTC, where
    // Chromium runs.
    use chrono::TimeZone;
    let tomorrow = chrono::Utc::now().date_naive() + chrono::Days::new(1);
    let berlin = chrono_tz::Europe::Berlin
        .from_local_datetime(&tomorrow.and_hms_opt(0, 30, 0).expect("a time"))
        .single()
        .expect("00:30 exists in Berlin")
        .with_timezone(&chrono::Utc);
    let ledger = storyforge::ledger::Ledger::open(&rig.work.path().join("l.db")).expect("ledger");
    let id = ledger.schedule().expect("schedule")[0].id;
    assert!(ledger
        .reschedule(
            id,
            &berlin.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
        )
        .expect("reschedule"));
    client.goto(&s.url).await.expect("the queue");
    click(&client, "button[data-view=week]").await;
    let want = tomorrow.format("%Y-%m-%d").to_string();
    until(
        &client,
        &format!("document.querySelector('#week .day[data-day=\"{want}\"] li')"),
        "the entry on its Berlin day in the week view",
    )
    .await;
    let on = client
        .execute(
            "return [...document.querySelectorAll('#week .day')].filter(d => d.querySelector('li')).map(d => d.dataset.day + ' ' + d.querySelector('li').textContent);",
            vec![],
        )
        .await
        .expect("the week");
    let on: Vec<String> = serde_json::from_value(on).expect("strings");
    assert_eq!(on.len(), 1, "{on:?}");
    assert!(
        on[0].starts_with(&want) && on[0].contains("12:30") && on[0].contains("Europe/Berlin"),
        "{on:?}"
    );
    keep(&client, "queue-week-zones").await;
}

/// A video template's page also previews the whole Story as a small clip:
/// made on request through the Story's own compositor and encoders, shown
/// in a `<video>`, served as `video/mp4` at 360×640 for the Story's
/// length, with its sound. A still template or values that fail the
/// checks get no clip, and say why by name.
#[cfg(feature = "video")]
#[tokio::test(flavor = "multi_thread")]
async fn a_video_template_previews_as_a_low_resolution_clip() {
    let rig = Rig::start(|_| {});
    let s = serve(&rig);
    let (_driver, client) = browser().await;
    client.goto(&s.url).await.expect("open the dashboard");
    client
        .goto(&format!("{}/template?t=product-video.yaml", s.base))
        .await
        .expect("template");
    for (var, value) in [("name", "Cold Brew Tonic"), ("price", "4.50")] {
        client
            .find(Locator::Css(&format!("textarea[data-var={var}]")))
            .await
            .expect("a field")
            .send_keys(value)
            .await
            .expect("type");
    }
    until(
        &client,
        "document.querySelector('#preview-img').naturalWidth === 1080",
        "the poster frame",
    )
    .await;
    click(&client, "#make-clip").await;
    until(
        &client,
        "(() => { const v = document.querySelector('#preview-clip'); return !v.hidden && v.readyState >= 1 && v.videoWidth === 360 && v.videoHeight === 640 && Math.abs(v.duration - 8) < 0.25; })()",
        "the preview clip playing in the page",
    )
    .await;
    keep(&client, "video-template-clip").await;
    let id = client
        .execute(
            "return document.querySelector('#preview-clip').dataset.clip;",
            vec![],
        )
        .await
        .expect("clip id");
    let id = id.as_str().expect("a clip id").to_string();

    // The served bytes are a small H.264/AAC MP4 of the Story's length.
    let cookie = session(&s).await;
    let res = http()
        .get(format!("{}/preview-clip/{id}", s.base))
        .header("cookie", &cookie)
        .send()
        .await
        .expect("GET the clip");
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["content-type"], "video/mp4");
    let bytes = res.bytes().await.expect("clip bytes");
    assert!(bytes.len() < 2_000_000, "{} bytes", bytes.len());
    let file = rig.work.path().join("clip.mp4");
    std::fs::write(&file, &bytes).expect("write the clip");
    let facts = storyforge::video::probe(&file).expect("the clip probes");
    let v = facts.video.as_ref().expect("a picture");
    assert_eq!((v.codec.as_str(), v.width, v.height), ("h264", 360, 640));
    assert!(v.fps.is_some_and(|f| (f - 10.0).abs() < 0.01), "{v:?}");
    let d = facts.duration.expect("a duration");
    assert!((d - 8.0).abs() < 0.25, "{d} s, not the template's 8 s");
    assert!(facts.audio.is_some(), "the music is in the clip");
    // Its last second decodes, at the preview's size.
    let last = storyforge::video::frames::frame_at(&file, 7.5).expect("a frame at 7.5 s");
    assert_eq!(last.dimensions(), (360, 640));

    // No clip for a still template, nor for values that fail the checks.
    let csrf = csrf_of(&s, &cookie).await;
    let ask = |template: &str, name: &str| {
        http()
            .post(format!("{}/api/preview-clip", s.base))
            .header("cookie", &cookie)
            .header("x-csrf-token", &csrf)
            .json(&json!({"template": template, "vars": {"name": name, "price": "4.50", "title": "x"}}))
            .send()
    };
    let still = ask("daily-update.yaml", "x").await.expect("POST");
    assert_eq!(still.status(), 422);
    let said = still.text().await.expect("body");
    assert!(said.contains("not a video template"), "{said}");
    let bad = ask("product-video.yaml", "Tonic \u{13000}")
        .await
        .expect("POST");
    assert_eq!(bad.status(), 422);
    let said = bad.text().await.expect("body");
    assert!(said.contains("SF309") && said.contains("U+13000"), "{said}");
    client.close().await.expect("close the browser");
}
