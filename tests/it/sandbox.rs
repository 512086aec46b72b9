//! The Graph API sandbox over real loopback HTTP: flows, error envelopes
//! compared key by key with the recorded responses in `fixtures/graph-api/`,
//! limits, tokens, OAuth, faults and the redacted call log. The harness is
//! here; the tests are in sandbox/ by area.

mod faults;
mod flows;
mod limits;
mod oauth;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use reqwest::header::HeaderMap;
use reqwest::StatusCode;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use storyforge::sandbox::{
    AccountType, Faults, Sandbox, SandboxAccount, SandboxConfig, DEMO_ACCOUNT_ID, DEMO_APP_ID,
    DEMO_APP_SECRET, DEMO_TOKEN, SUBCODE_ALREADY_PUBLISHED,
};

const DAY: Duration = Duration::from_secs(86_400);
const PERSONAL_ID: &str = "17841400000000002";
const PERSONAL_TOKEN: &str = "sandbox-token-personal";

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn recorded(name: &str) -> Value {
    let path = root().join("fixtures/graph-api").join(name);
    serde_json::from_str(&std::fs::read_to_string(&path).expect("recorded file"))
        .expect("recorded JSON")
}

/// A running sandbox with a media directory and a client.
struct Env {
    sb: Sandbox,
    dir: tempfile::TempDir,
    http: reqwest::Client,
}

fn config(dir: &Path) -> SandboxConfig {
    SandboxConfig {
        media_dir: Some(dir.to_path_buf()),
        image_processing_ms: 150,
        video_processing_ms: 300,
        accounts: vec![
            SandboxAccount::default(),
            SandboxAccount {
                id: PERSONAL_ID.into(),
                username: "storyforge_personal".into(),
                account_type: AccountType::Personal,
                token: PERSONAL_TOKEN.into(),
            },
        ],
        ..SandboxConfig::default()
    }
}

fn start_with(tweak: impl FnOnce(&mut SandboxConfig)) -> Env {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut cfg = config(dir.path());
    tweak(&mut cfg);
    let sb = Sandbox::start(cfg).expect("sandbox starts");
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(10))
        .build()
        .expect("client");
    Env { sb, dir, http }
}

fn start() -> Env {
    start_with(|_| {})
}

struct Answer {
    status: StatusCode,
    headers: HeaderMap,
    body: Value,
}

impl Env {
    fn media_url(&self, name: &str) -> String {
        format!("{}/media/{name}", self.sb.base_url())
    }

    fn put(&self, name: &str, bytes: &[u8]) -> String {
        std::fs::write(self.dir.path().join(name), bytes).expect("write media");
        self.media_url(name)
    }

    async fn call(
        &self,
        method: &str,
        path: &str,
        params: &[(&str, &str)],
        token: Option<&str>,
    ) -> Answer {
        let url = format!("{}{path}", self.sb.graph_url());
        let mut all: Vec<(&str, &str)> = params.to_vec();
        if let Some(t) = token {
            all.push(("access_token", t));
        }
        let req = match method {
            "GET" => self.http.get(&url).query(&all),
            _ => self.http.post(&url).form(&all),
        };
        let resp = req.send().await.expect("request");
        let status = resp.status();
        let headers = resp.headers().clone();
        let text = resp.text().await.expect("body");
        let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
        Answer {
            status,
            headers,
            body,
        }
    }

    async fn get(&self, path: &str, params: &[(&str, &str)]) -> Answer {
        self.call("GET", path, params, Some(DEMO_TOKEN)).await
    }

    async fn post(&self, path: &str, params: &[(&str, &str)]) -> Answer {
        self.call("POST", path, params, Some(DEMO_TOKEN)).await
    }

    async fn create_image(&self, url: &str) -> Answer {
        let path = format!("/{DEMO_ACCOUNT_ID}/media");
        self.post(&path, &[("media_type", "STORIES"), ("image_url", url)])
            .await
    }

    async fn create_video(&self, url: &str) -> Answer {
        let path = format!("/{DEMO_ACCOUNT_ID}/media");
        self.post(&path, &[("media_type", "STORIES"), ("video_url", url)])
            .await
    }

    async fn status_of(&self, container: &str) -> Value {
        self.get(
            &format!("/{container}"),
            &[("fields", "status_code,status")],
        )
        .await
        .body
    }

    async fn wait_status(&self, container: &str, not: &str) -> Value {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let s = self.status_of(container).await;
            if s["status_code"] != not || Instant::now() > deadline {
                return s;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    async fn publish(&self, container: &str) -> Answer {
        let path = format!("/{DEMO_ACCOUNT_ID}/media_publish");
        self.post(&path, &[("creation_id", container)]).await
    }

    /// `GET /me` (id, name and account type) with `token`.
    async fn me(&self, token: &str) -> Answer {
        let fields = [("fields", "user_id,username,account_type")];
        self.call("GET", "/me", &fields, Some(token)).await
    }

    /// A published image Story's media id.
    async fn published_story(&self, name: &str) -> String {
        let cid = self.ready_image(name).await;
        let published = self.publish(&cid).await;
        assert_eq!(published.status, StatusCode::OK, "{}", published.body);
        published.body["id"].as_str().expect("media id").to_string()
    }

    /// `GET /{media}/insights` with `metric` (and a breakdown).
    async fn insights(&self, media: &str, metric: &str, breakdown: Option<&str>) -> Answer {
        let path = format!("/{media}/insights");
        match breakdown {
            Some(b) => {
                self.get(&path, &[("metric", metric), ("breakdown", b)])
                    .await
            }
            None => self.get(&path, &[("metric", metric)]).await,
        }
    }

    /// A finished image container.
    async fn ready_image(&self, name: &str) -> String {
        let url = self.put(name, &jpeg(108, 192));
        let created = self.create_image(&url).await;
        assert_eq!(created.status, StatusCode::OK, "{}", created.body);
        let id = created.body["id"].as_str().expect("id").to_string();
        assert_eq!(
            self.wait_status(&id, "IN_PROGRESS").await["status_code"],
            "FINISHED"
        );
        id
    }
}

fn jpeg(w: u32, h: u32) -> Vec<u8> {
    let img = image::RgbImage::from_fn(w, h, |x, y| {
        image::Rgb([(x % 256) as u8, (y % 256) as u8, 90])
    });
    let mut out = std::io::Cursor::new(Vec::new());
    img.write_to(&mut out, image::ImageFormat::Jpeg)
        .expect("encode");
    out.into_inner()
}

/// Same keys (recursively) and the same JSON types as `expected`.
fn assert_same_shape(actual: &Value, expected: &Value, at: &str) {
    match (actual, expected) {
        (Value::Object(a), Value::Object(e)) => {
            let mut ak: Vec<_> = a.keys().collect();
            let mut ek: Vec<_> = e.keys().collect();
            ak.sort();
            ek.sort();
            // Keys named by ids (the usage header) differ in value only.
            if ek.len() == 1 && ek[0].bytes().all(|b| b.is_ascii_digit()) {
                assert_eq!(ak.len(), 1, "{at}: {actual}");
                return assert_same_shape(
                    a.values().next().expect("test helper"),
                    e.values().next().expect("test helper"),
                    at,
                );
            }
            assert_eq!(
                ak, ek,
                "{at}: keys differ\nactual:   {actual}\nrecorded: {expected}"
            );
            for k in ek {
                assert_same_shape(&a[k], &e[k], &format!("{at}.{k}"));
            }
        }
        (Value::Array(a), Value::Array(e)) => {
            assert!(!a.is_empty(), "{at}: empty array");
            for item in a {
                assert_same_shape(item, &e[0], &format!("{at}[]"));
            }
        }
        (Value::Number(_), Value::Number(_))
        | (Value::String(_), Value::String(_))
        | (Value::Bool(_), Value::Bool(_)) => {}
        _ => panic!("{at}: type differs\nactual:   {actual}\nrecorded: {expected}"),
    }
}

fn error_code(a: &Answer) -> (i64, Option<i64>) {
    (
        a.body["error"]["code"]
            .as_i64()
            .unwrap_or_else(|| panic!("not an error: {}", a.body)),
        a.body["error"]["error_subcode"].as_i64(),
    )
}

/// Moves `moov` before `mdat`, shifting the chunk offsets (a faststart
/// remux without FFmpeg).
fn faststart(mp4: &[u8]) -> Vec<u8> {
    fn top(d: &[u8]) -> Vec<(usize, usize, [u8; 4])> {
        let mut out = Vec::new();
        let mut pos = 0;
        while pos + 8 <= d.len() {
            let size =
                u32::from_be_bytes(d[pos..pos + 4].try_into().expect("test helper")) as usize;
            out.push((
                pos,
                size,
                d[pos + 4..pos + 8].try_into().expect("test helper"),
            ));
            pos += size;
        }
        out
    }
    fn shift(d: &mut [u8], start: usize, end: usize, by: u64) {
        let mut pos = start;
        while pos + 8 <= end {
            let size =
                u32::from_be_bytes(d[pos..pos + 4].try_into().expect("test helper")) as usize;
            let kind: [u8; 4] = d[pos + 4..pos + 8].try_into().expect("test helper");
            match &kind {
                b"trak" | b"mdia" | b"minf" | b"stbl" => shift(d, pos + 8, pos + size, by),
                b"stco" => {
                    let n =
                        u32::from_be_bytes(d[pos + 12..pos + 16].try_into().expect("test helper"))
                            as usize;
                    for i in 0..n {
                        let at = pos + 16 + i * 4;
                        let v = u32::from_be_bytes(d[at..at + 4].try_into().expect("test helper"))
                            as u64
                            + by;
                        d[at..at + 4].copy_from_slice(&(v as u32).to_be_bytes());
                    }
                }
                b"co64" => {
                    let n =
                        u32::from_be_bytes(d[pos + 12..pos + 16].try_into().expect("test helper"))
                            as usize;
                    for i in 0..n {
                        let at = pos + 16 + i * 8;
                        let v =
                            u64::from_be_bytes(d[at..at + 8].try_into().expect("test helper")) + by;
                        d[at..at + 8].copy_from_slice(&v.to_be_bytes());
                    }
                }
                _ => {}
            }
            pos += size;
        }
    }
    let boxes = top(mp4);
    let (mpos, msize, _) = *boxes.iter().find(|b| &b.2 == b"moov").expect("moov");
    let mut moov = mp4[mpos..mpos + msize].to_vec();
    let len = moov.len();
    shift(&mut moov, 8, len, msize as u64);
    let mut out = Vec::new();
    for (pos, size, kind) in boxes {
        if &kind == b"mdat" {
            out.extend_from_slice(&moov);
        }
        if &kind != b"moov" {
            out.extend_from_slice(&mp4[pos..pos + size]);
        }
    }
    out
}

fn video_fixture(name: &str) -> Vec<u8> {
    std::fs::read(root().join("fixtures/video").join(name)).expect("fixture video")
}
