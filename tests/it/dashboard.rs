//! `storyforge serve` as a real process, against the sandbox and the local
//! store: its guards over plain HTTP (no key, a wrong key, a foreign Host,
//! no CSRF token), and the whole flow driven in headless Chromium over
//! WebDriver (upload → preview and findings → schedule → queue → `tick`
//! publishes → Recent with the sandbox's insights → quota → a template
//! form re-rendering its preview). `STORYFORGE_SCREENSHOTS=DIR` keeps a
//! screenshot of each view (the README's pictures).

mod browser;
mod insights;
mod publishing;
mod security;

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
