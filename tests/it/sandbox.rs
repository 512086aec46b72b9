//! The Graph API sandbox over real loopback HTTP: flows, error envelopes
//! compared key by key with the recorded responses in `fixtures/graph-api/`,
//! limits, tokens, OAuth, faults and the redacted call log.

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

#[tokio::test]
async fn image_story_flow_matches_the_recorded_shapes() {
    let env = start_with(|c| c.image_processing_ms = 700);
    let bytes = jpeg(1080, 1920);
    let url = env.put("story.jpg", &bytes);
    let created = env.create_image(&url).await;
    assert_eq!(created.status, StatusCode::OK, "{}", created.body);
    assert_same_shape(&created.body, &recorded("create_container.json"), "create");
    let cid = created.body["id"].as_str().unwrap().to_string();
    assert_eq!(cid.len(), 17);

    let early = env.status_of(&cid).await;
    assert_eq!(early["status_code"], "IN_PROGRESS", "{early}");
    let early_publish = env.publish(&cid).await;
    assert_eq!(error_code(&early_publish), (9007, Some(2207027)));
    assert_eq!(
        env.wait_status(&cid, "IN_PROGRESS").await["status_code"],
        "FINISHED"
    );

    let published = env.publish(&cid).await;
    assert_eq!(published.status, StatusCode::OK, "{}", published.body);
    assert_same_shape(&published.body, &recorded("media_publish.json"), "publish");
    let media_id = published.body["id"].as_str().unwrap().to_string();
    assert_ne!(media_id, cid);

    let status = env.status_of(&cid).await;
    assert_same_shape(
        &status,
        &recorded("container_status_published.json"),
        "status",
    );
    assert_eq!(
        status,
        json!({"id": cid, "status_code": "PUBLISHED", "status": recorded("container_status_published.json")["status"]})
    );

    let stories = env.get(&format!("/{DEMO_ACCOUNT_ID}/stories"), &[]).await;
    assert_eq!(stories.body, json!({"data": [{"id": media_id}]}));

    let fields = "id,media_type,media_product_type,timestamp,permalink,media_url";
    let media = env
        .get(&format!("/{media_id}"), &[("fields", fields)])
        .await
        .body;
    assert_eq!(media["media_type"], "IMAGE");
    assert_eq!(media["media_product_type"], "STORY");
    assert_eq!(media["media_url"], url.as_str());
    assert!(
        media["timestamp"].as_str().unwrap().ends_with("+0000"),
        "{media}"
    );
    assert!(media["permalink"].as_str().unwrap().contains(&media_id));

    let insights = env
        .get(&format!("/{media_id}/insights"), &[("metric", "views,reach,replies,shares,total_interactions,follows,profile_visits,profile_activity,navigation")])
        .await;
    assert_eq!(insights.status, StatusCode::OK, "{}", insights.body);
    let data = insights.body["data"].as_array().unwrap();
    assert_eq!(data.len(), 9);
    for m in data {
        let name = m["name"].as_str().unwrap();
        assert_eq!(m["period"], "lifetime");
        assert!(m["values"][0]["value"].is_u64(), "{m}");
        assert!(m["title"].is_string() && m["description"].is_string());
        assert_eq!(m["id"], format!("{media_id}/insights/{name}/lifetime"));
    }
    let nav = env
        .get(
            &format!("/{media_id}/insights"),
            &[
                ("metric", "navigation"),
                ("breakdown", "story_navigation_action_type"),
            ],
        )
        .await
        .body;
    let total = nav["data"][0]["total_value"]["value"].as_u64().unwrap();
    let results = nav["data"][0]["total_value"]["breakdowns"][0]["results"]
        .as_array()
        .unwrap();
    let sum: u64 = results.iter().map(|r| r["value"].as_u64().unwrap()).sum();
    assert_eq!(sum, total);
    assert!(results
        .iter()
        .any(|r| r["dimension_values"][0] == "tap_forward"));

    let record = env.sb.published();
    assert_eq!(record.len(), 1);
    assert_eq!(record[0].container_id, cid);
    assert_eq!(record[0].media_id, media_id);
    assert_eq!(record[0].account_id, DEMO_ACCOUNT_ID);
    assert_eq!(record[0].media_url, url);
    assert_eq!(record[0].media_sha256, hex::encode(Sha256::digest(&bytes)));
    let remote: Value = env
        .http
        .get(format!("{}/_sandbox/published", env.sb.base_url()))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(remote, serde_json::to_value(&record).unwrap());
}

#[tokio::test]
async fn versions_token_places_and_post_params_are_all_accepted() {
    let env = start();
    let base = env.sb.base_url();
    for prefix in ["", "/v25.0", "/v19.0", "/v3.2"] {
        let r = env
            .http
            .get(format!("{base}{prefix}/me"))
            .query(&[
                ("fields", "user_id,username,account_type"),
                ("access_token", DEMO_TOKEN),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK, "prefix {prefix:?}");
        let body: Value = r.json().await.unwrap();
        assert_eq!(
            body,
            json!({"id": DEMO_ACCOUNT_ID, "user_id": DEMO_ACCOUNT_ID, "username": "storyforge_demo", "account_type": "BUSINESS"})
        );
    }
    let bearer: Value = env
        .http
        .get(format!("{base}/v25.0/me"))
        .bearer_auth(DEMO_TOKEN)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(bearer["id"], DEMO_ACCOUNT_ID);
    // A POST with everything in the query string, as the live API allows.
    let url = env.put("q.jpg", &jpeg(108, 192));
    let r = env
        .http
        .post(format!("{base}/v25.0/{DEMO_ACCOUNT_ID}/media"))
        .query(&[
            ("media_type", "STORIES"),
            ("image_url", url.as_str()),
            ("access_token", DEMO_TOKEN),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let unknown_field = env
        .get("/me", &[("fields", "user_id,followers_count")])
        .await;
    assert_eq!(error_code(&unknown_field).0, 100);
    assert!(unknown_field.body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("followers_count"));
}

#[tokio::test]
async fn video_goes_in_progress_then_finished_and_bad_videos_end_in_error() {
    let env = start_with(|c| c.video_processing_ms = 800);
    let good = env.put("good.mp4", &faststart(&video_fixture("landscape.mp4")));
    let created = env.create_video(&good).await;
    assert_eq!(created.status, StatusCode::OK, "{}", created.body);
    let cid = created.body["id"].as_str().unwrap().to_string();
    assert_eq!(env.status_of(&cid).await["status_code"], "IN_PROGRESS");
    let done = env.wait_status(&cid, "IN_PROGRESS").await;
    assert_eq!(done["status_code"], "FINISHED", "{done}");
    let published = env.publish(&cid).await;
    assert_eq!(published.status, StatusCode::OK, "{}", published.body);
    let media_id = published.body["id"].as_str().unwrap();
    let media = env
        .get(&format!("/{media_id}"), &[("fields", "media_type")])
        .await
        .body;
    assert_eq!(media["media_type"], "VIDEO");
    assert_eq!(
        env.sb.published()[0].media_sha256,
        hex::encode(Sha256::digest(faststart(&video_fixture("landscape.mp4"))))
    );

    let cases = [
        ("moov-last.mp4", video_fixture("landscape.mp4"), "2207026"),
        (
            "short.mp4",
            faststart(&video_fixture("short.mp4")),
            "2207082",
        ),
        ("uhd.mp4", faststart(&video_fixture("uhd60.mp4")), "2207085"),
        ("text.mp4", video_fixture("not-a-video.mp4"), "2207026"),
    ];
    for (name, bytes, subcode) in cases {
        let url = env.put(name, &bytes);
        let created = env.create_video(&url).await;
        assert_eq!(
            created.status,
            StatusCode::OK,
            "{name}: video errors are asynchronous"
        );
        let cid = created.body["id"].as_str().unwrap().to_string();
        let s = env.wait_status(&cid, "IN_PROGRESS").await;
        assert_eq!(s["status_code"], "ERROR", "{name}: {s}");
        assert!(
            s["status"].as_str().unwrap().contains(subcode),
            "{name}: {s}"
        );
        assert_eq!(error_code(&env.publish(&cid).await).0, 9007, "{name}");
    }
    let missing = env.create_video(&env.media_url("nope.mp4")).await;
    let cid = missing.body["id"].as_str().unwrap().to_string();
    assert!(env.wait_status(&cid, "IN_PROGRESS").await["status"]
        .as_str()
        .unwrap()
        .contains("2207052"));
}

#[tokio::test]
async fn media_fetch_failures_answer_9004_synchronously() {
    let env = start();
    let expected = recorded("error_9004_media_fetch_failed.json");
    let jpg = jpeg(108, 192);
    std::fs::write(env.dir.path().join("wrong-type.txt"), &jpg).unwrap();
    let urls = [
        env.media_url("missing.jpg"),
        env.media_url("wrong-type.txt"),
        "http://127.0.0.1:9/unreachable.jpg".to_string(),
        "ftp://example.com/x.jpg".to_string(),
    ];
    for url in &urls {
        let a = env.create_image(url).await;
        assert_eq!(a.status, StatusCode::BAD_REQUEST, "{url}");
        assert_same_shape(&a.body, &expected, "9004");
        assert_eq!(error_code(&a), (9004, Some(2207052)));
        assert!(a.body["error"]["error_user_msg"]
            .as_str()
            .unwrap()
            .ends_with(url.as_str()));
    }
    let good = env.put("fine.jpg", &jpg);
    env.sb.set_faults(Faults {
        fail_fetch: 1,
        ..Faults::default()
    });
    assert_eq!(
        error_code(&env.create_image(&good).await),
        (9004, Some(2207052))
    );
    assert_eq!(
        env.create_image(&good).await.status,
        StatusCode::OK,
        "fail_fetch is used up"
    );
}

#[tokio::test]
async fn images_are_checked_like_instagram() {
    let env = start();
    let expected = recorded("error_36003_aspect_ratio.json");
    let wide = env.put("wide.jpg", &jpeg(720, 360));
    let a = env.create_image(&wide).await;
    assert_same_shape(&a.body, &expected, "36003");
    assert_eq!(error_code(&a), (36003, Some(2207009)));
    assert_eq!(
        a.body["error"]["error_user_msg"],
        expected["error"]["error_user_msg"]
    );

    let img = image::RgbImage::new(108, 192);
    let mut png = std::io::Cursor::new(Vec::new());
    img.write_to(&mut png, image::ImageFormat::Png).unwrap();
    let png_url = env.put("story.png", png.get_ref());
    let a = env.create_image(&png_url).await;
    assert_same_shape(&a.body, &expected, "36001");
    assert_eq!(error_code(&a), (36001, Some(2207005)));

    let mut big = jpeg(108, 192);
    big.resize(8 * 1024 * 1024 + 1, 0);
    let a = env.create_image(&env.put("big.jpg", &big)).await;
    assert_same_shape(&a.body, &expected, "36000");
    assert_eq!(error_code(&a), (36000, Some(2207004)));

    let mut exact = jpeg(108, 192);
    exact.resize(8 * 1024 * 1024, 0);
    assert_eq!(
        env.create_image(&env.put("exact.jpg", &exact)).await.status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn bad_create_parameters_answer_100() {
    let env = start();
    let url = env.put("p.jpg", &jpeg(108, 192));
    let path = format!("/{DEMO_ACCOUNT_ID}/media");
    let cases: [&[(&str, &str)]; 4] = [
        &[
            ("media_type", "STORIES"),
            ("image_url", url.as_str()),
            ("video_url", url.as_str()),
        ],
        &[("media_type", "STORIES")],
        &[("image_url", url.as_str())],
        &[("media_type", "REELS"), ("video_url", url.as_str())],
    ];
    for params in cases {
        let a = env.post(&path, params).await;
        assert_eq!(a.status, StatusCode::BAD_REQUEST);
        assert_eq!(error_code(&a).0, 100, "{params:?}: {}", a.body);
        assert!(
            a.body["error"]["fbtrace_id"].is_string()
                && a.body["error"]["type"] == "OAuthException"
        );
    }
    let other = env
        .post(
            &format!("/{PERSONAL_ID}/media"),
            &[("media_type", "STORIES"), ("image_url", url.as_str())],
        )
        .await;
    assert_eq!(
        error_code(&other),
        (100, Some(33)),
        "another account's edge"
    );
}

#[tokio::test]
async fn publish_errors_never_make_a_second_story() {
    let env = start();
    let cid = env.ready_image("a.jpg").await;
    let first = env.publish(&cid).await;
    assert_eq!(first.status, StatusCode::OK);
    let again = env.publish(&cid).await;
    assert_eq!(again.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        error_code(&again),
        (100, Some(SUBCODE_ALREADY_PUBLISHED as i64))
    );
    assert!(again.body["error"]["error_user_msg"]
        .as_str()
        .unwrap()
        .contains(first.body["id"].as_str().unwrap()));
    assert_eq!(env.sb.published().len(), 1);

    assert_eq!(
        error_code(&env.publish("17899999999999999").await),
        (24, Some(2207006))
    );
    let missing = env
        .post(&format!("/{DEMO_ACCOUNT_ID}/media_publish"), &[])
        .await;
    assert_eq!(error_code(&missing).0, 100);

    // A PERSONAL account cannot publish at all.
    let cid2 = env.ready_image("b.jpg").await;
    let foreign = env
        .call(
            "POST",
            &format!("/{PERSONAL_ID}/media_publish"),
            &[("creation_id", cid2.as_str())],
            Some(PERSONAL_TOKEN),
        )
        .await;
    assert_eq!(
        error_code(&foreign).0,
        10,
        "PERSONAL accounts cannot publish: {}",
        foreign.body
    );

    // Containers expire after 24 h unpublished.
    env.sb.advance_clock(DAY + Duration::from_secs(1));
    assert_eq!(env.status_of(&cid2).await["status_code"], "EXPIRED");
    assert_eq!(error_code(&env.publish(&cid2).await), (24, Some(2207008)));
    assert_eq!(
        env.status_of(&cid).await["status_code"],
        "PUBLISHED",
        "published stays published"
    );
    assert_eq!(env.sb.published().len(), 1);
}

#[tokio::test]
async fn a_container_of_another_business_account_is_refused() {
    let env = start_with(|c| {
        c.accounts.push(SandboxAccount {
            id: "17841400000000003".into(),
            username: "other_biz".into(),
            account_type: AccountType::Business,
            token: "sandbox-token-other".into(),
        })
    });
    let cid = env.ready_image("x.jpg").await;
    let a = env
        .call(
            "POST",
            "/17841400000000003/media_publish",
            &[("creation_id", cid.as_str())],
            Some("sandbox-token-other"),
        )
        .await;
    assert_eq!(error_code(&a).0, 100, "{}", a.body);
    assert!(a.body["error"]["message"].as_str().unwrap().contains(&cid));
    let peek = env
        .call(
            "GET",
            &format!("/{cid}"),
            &[("fields", "status_code")],
            Some("sandbox-token-other"),
        )
        .await;
    assert_eq!(error_code(&peek), (100, Some(33)));
    assert!(env.sb.published().is_empty());
}

#[tokio::test]
async fn quota_is_a_rolling_window_on_the_sandbox_clock() {
    let env = start_with(|c| c.quota_total = 2);
    let limit_path = format!("/{DEMO_ACCOUNT_ID}/content_publishing_limit");
    let limit = env
        .get(&limit_path, &[("fields", "config,quota_usage")])
        .await
        .body;
    assert_same_shape(&limit, &recorded("content_publishing_limit.json"), "limit");
    assert_eq!(
        limit,
        json!({"data": [{"quota_usage": 0, "config": {"quota_total": 2, "quota_duration": 86400}}]})
    );
    for n in ["1.jpg", "2.jpg"] {
        let cid = env.ready_image(n).await;
        assert_eq!(env.publish(&cid).await.status, StatusCode::OK);
    }
    let cid = env.ready_image("3.jpg").await;
    let over = env.publish(&cid).await;
    assert_same_shape(
        &over.body,
        &recorded("error_36003_aspect_ratio.json"),
        "quota error",
    );
    assert_eq!(error_code(&over), (9, Some(2207042)));
    assert_eq!(
        env.get(&limit_path, &[("fields", "quota_usage")])
            .await
            .body["data"][0]["quota_usage"],
        2
    );
    env.sb.advance_clock(Duration::from_secs(12 * 3600));
    assert_eq!(
        error_code(&env.publish(&cid).await).0,
        9,
        "still inside the window"
    );
    env.sb.advance_clock(Duration::from_secs(12 * 3600 + 1));
    assert_eq!(
        env.get(&limit_path, &[("fields", "quota_usage")])
            .await
            .body["data"][0]["quota_usage"],
        0
    );
    let fresh = env.ready_image("4.jpg").await;
    assert_eq!(env.publish(&fresh).await.status, StatusCode::OK);
    let stories = env
        .get(&format!("/{DEMO_ACCOUNT_ID}/stories"), &[])
        .await
        .body;
    assert_eq!(
        stories["data"].as_array().unwrap().len(),
        1,
        "older Stories expired: {stories}"
    );
}

#[tokio::test]
async fn usage_headers_count_calls_and_the_limit_answers_17() {
    let env = start_with(|c| c.calls_per_hour = 4);
    let expected = recorded("header_business_use_case_usage.json");
    for n in 1..=4u64 {
        let a = env.get("/me", &[]).await;
        assert_eq!(a.status, StatusCode::OK);
        let app: Value = serde_json::from_str(a.headers["x-app-usage"].to_str().unwrap()).unwrap();
        assert_eq!(app["call_count"], n * 25);
        assert!(app["total_cputime"].is_u64() && app["total_time"].is_u64());
        let buc: Value =
            serde_json::from_str(a.headers["x-business-use-case-usage"].to_str().unwrap()).unwrap();
        assert_same_shape(&buc, &expected["x-business-use-case-usage"], "buc");
        assert_eq!(buc[DEMO_ACCOUNT_ID][0]["call_count"], n * 25);
    }
    let over = env.get("/me", &[]).await;
    assert_eq!(error_code(&over).0, 17, "{}", over.body);
    assert_eq!(over.body["error"]["is_transient"], true);
    let buc: Value =
        serde_json::from_str(over.headers["x-business-use-case-usage"].to_str().unwrap()).unwrap();
    let regain = buc[DEMO_ACCOUNT_ID][0]["estimated_time_to_regain_access"]
        .as_u64()
        .unwrap();
    assert!((1..=60).contains(&regain), "{buc}");
    assert_eq!(buc[DEMO_ACCOUNT_ID][0]["call_count"], 100);
    env.sb.advance_clock(Duration::from_secs(3601));
    assert_eq!(env.get("/me", &[]).await.status, StatusCode::OK);
    // Bad tokens carry the headers too.
    let bad = env.call("GET", "/me", &[], Some("nope")).await;
    assert!(bad.headers.contains_key("x-app-usage"));
}

#[tokio::test]
async fn tokens_expire_and_refresh_only_when_old_enough() {
    let env = start();
    let expected = recorded("error_190_token.json");
    for token in [Some("garbled!!"), Some(""), None] {
        let a = env.call("GET", "/me", &[], token).await;
        assert_eq!(a.status, StatusCode::BAD_REQUEST);
        assert_same_shape(&a.body, &expected, "190");
        assert_eq!(a.body["error"]["message"], expected["error"]["message"]);
    }
    let young = env
        .call(
            "GET",
            "/refresh_access_token",
            &[("grant_type", "ig_refresh_token")],
            Some(DEMO_TOKEN),
        )
        .await;
    assert_eq!(young.status, StatusCode::BAD_REQUEST);
    assert_eq!(error_code(&young).0, 100, "{}", young.body);

    env.sb.advance_clock(DAY + Duration::from_secs(60));
    let fresh = env
        .call(
            "GET",
            "/refresh_access_token",
            &[("grant_type", "ig_refresh_token")],
            Some(DEMO_TOKEN),
        )
        .await;
    assert_eq!(fresh.status, StatusCode::OK, "{}", fresh.body);
    assert_eq!(fresh.body["token_type"], "bearer");
    assert_eq!(fresh.body["expires_in"], 5_184_000);
    let new_token = fresh.body["access_token"].as_str().unwrap().to_string();
    assert_ne!(new_token, DEMO_TOKEN);
    assert_eq!(
        env.call("GET", "/me", &[], Some(&new_token)).await.status,
        StatusCode::OK
    );
    assert_eq!(
        env.call("GET", "/me", &[], Some(DEMO_TOKEN)).await.status,
        StatusCode::OK,
        "grace period"
    );
    env.sb.advance_clock(Duration::from_secs(61));
    let old = env.call("GET", "/me", &[], Some(DEMO_TOKEN)).await;
    assert_eq!(error_code(&old), (190, Some(463)));
    assert_eq!(
        env.call("GET", "/me", &[], Some(&new_token)).await.status,
        StatusCode::OK
    );

    env.sb.advance_clock(Duration::from_secs(5_184_000));
    let expired = env.call("GET", "/me", &[], Some(&new_token)).await;
    assert_eq!(error_code(&expired), (190, Some(463)));
    assert_eq!(expired.body["error"]["type"], "OAuthException");
    assert!(expired.body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("expired"));
}

#[tokio::test]
async fn deprecated_metrics_and_expired_story_insights_are_refused() {
    let env = start();
    let media_id = env.published_story("i.jpg").await;
    for m in ["impressions", "exits", "taps_forward", "taps_back"] {
        let metric = format!("reach,{m}");
        let a = env.insights(&media_id, &metric, None).await;
        assert_eq!(error_code(&a).0, 100, "{m}");
        assert!(
            a.body["error"]["message"].as_str().unwrap().contains(m),
            "{}",
            a.body
        );
    }
    let wrong_breakdown = env
        .insights(&media_id, "reach", Some("story_navigation_action_type"))
        .await;
    assert_eq!(error_code(&wrong_breakdown).0, 100);
    assert_eq!(
        env.insights(&media_id, "views", None).await.status,
        StatusCode::OK
    );
    env.sb.advance_clock(DAY);
    let late = env.insights(&media_id, "views", None).await;
    assert_eq!(error_code(&late), (10, Some(2108006)));
    assert_eq!(
        env.get(&format!("/{DEMO_ACCOUNT_ID}/stories"), &[])
            .await
            .body,
        json!({"data": []})
    );
}

/// The `code` and `state` in a Location header.
fn redirect_params(location: &str) -> (String, Option<String>) {
    assert!(location.ends_with("#_"), "{location}");
    let query = location
        .trim_end_matches("#_")
        .split_once('?')
        .expect("test helper")
        .1;
    let mut code = String::new();
    let mut state = None;
    for pair in query.split('&') {
        let (k, v) = pair.split_once('=').expect("test helper");
        match k {
            "code" => code = v.to_string(),
            "state" => state = Some(v.replace("%20", " ")),
            _ => {}
        }
    }
    (code, state)
}

async fn login(env: &Env, scope: &str, state: &str) -> reqwest::Response {
    env.http
        .get(format!("{}/oauth/authorize", env.sb.base_url()))
        .query(&[
            ("client_id", DEMO_APP_ID),
            ("redirect_uri", "https://app.example/cb"),
            ("response_type", "code"),
            ("scope", scope),
            ("state", state),
        ])
        .send()
        .await
        .expect("test helper")
}

async fn code_for_token(env: &Env, code: &str, secret: &str) -> (StatusCode, Value) {
    let r = env
        .http
        .post(format!("{}/oauth/access_token", env.sb.base_url()))
        .form(&[
            ("client_id", DEMO_APP_ID),
            ("client_secret", secret),
            ("grant_type", "authorization_code"),
            ("redirect_uri", "https://app.example/cb"),
            ("code", code),
        ])
        .send()
        .await
        .expect("test helper");
    (r.status(), r.json().await.expect("test helper"))
}

#[tokio::test]
async fn oauth_code_short_and_long_lived_tokens() {
    let env = start();
    let r = login(
        &env,
        "instagram_business_basic,instagram_business_content_publish",
        "xyz 42",
    )
    .await;
    assert_eq!(r.status(), StatusCode::FOUND);
    let location = r.headers()["location"].to_str().unwrap().to_string();
    assert!(
        location.starts_with("https://app.example/cb?code="),
        "{location}"
    );
    let (code, state) = redirect_params(&location);
    assert_eq!(state.as_deref(), Some("xyz 42"));

    let (status, wrong) = code_for_token(&env, &code, "not-the-secret").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(wrong["error_type"], "OAuthException");

    // A fresh code for the real exchange.
    let (code, _) = redirect_params(
        login(
            &env,
            "instagram_business_basic,instagram_business_content_publish",
            "s",
        )
        .await
        .headers()["location"]
            .to_str()
            .unwrap(),
    );
    let (status, short) = code_for_token(&env, &code, DEMO_APP_SECRET).await;
    assert_eq!(status, StatusCode::OK, "{short}");
    assert_eq!(
        short["user_id"].as_u64(),
        Some(DEMO_ACCOUNT_ID.parse().unwrap())
    );
    assert_eq!(
        short["permissions"],
        "instagram_business_basic,instagram_business_content_publish"
    );
    let short_token = short["access_token"].as_str().unwrap().to_string();
    let (status, reuse) = code_for_token(&env, &code, DEMO_APP_SECRET).await;
    assert_eq!(
        status,
        StatusCode::BAD_REQUEST,
        "codes are single-use: {reuse}"
    );

    let ex = |secret: &'static str, token: String| {
        let http = env.http.clone();
        let url = format!("{}/access_token", env.sb.base_url());
        async move {
            let r = http
                .get(url)
                .query(&[
                    ("grant_type", "ig_exchange_token"),
                    ("client_secret", secret),
                    ("access_token", token.as_str()),
                ])
                .send()
                .await
                .unwrap();
            (r.status(), r.json::<Value>().await.unwrap())
        }
    };
    let (status, bad) = ex("wrong", short_token.clone()).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}");
    let (status, long) = ex(DEMO_APP_SECRET, short_token.clone()).await;
    assert_eq!(status, StatusCode::OK, "{long}");
    assert_eq!(long["token_type"], "bearer");
    assert_eq!(long["expires_in"], 5_183_944);
    let long_token = long["access_token"].as_str().unwrap().to_string();
    let me = env.me(&long_token).await;
    assert_eq!(me.body["account_type"], "BUSINESS");
    // The short-lived token dies after an hour; the long one does not.
    env.sb.advance_clock(Duration::from_secs(3601));
    assert_eq!(
        error_code(&env.call("GET", "/me", &[], Some(&short_token)).await),
        (190, Some(463))
    );
    assert_eq!(
        env.call("GET", "/me", &[], Some(&long_token)).await.status,
        StatusCode::OK
    );
    // Granted scopes are enforced: no insights permission was asked for.
    let cid = env.ready_image("o.jpg").await;
    let media = env
        .call(
            "POST",
            &format!("/{DEMO_ACCOUNT_ID}/media_publish"),
            &[("creation_id", cid.as_str())],
            Some(&long_token),
        )
        .await;
    assert_eq!(media.status, StatusCode::OK, "{}", media.body);
    let media_id = media.body["id"].as_str().unwrap();
    let ins = env
        .call(
            "GET",
            &format!("/{media_id}/insights"),
            &[("metric", "views")],
            Some(&long_token),
        )
        .await;
    assert_eq!(error_code(&ins).0, 10);
}

#[tokio::test]
async fn oauth_rejects_bad_apps_and_old_scopes() {
    let env = start();
    let r = login(&env, "business_basic,business_content_publish", "s").await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let body: Value = r.json().await.unwrap();
    assert!(body["error_message"]
        .as_str()
        .unwrap()
        .contains("business_basic"));
    let r = env
        .http
        .get(format!("{}/oauth/authorize", env.sb.base_url()))
        .query(&[
            ("client_id", "123"),
            ("redirect_uri", "https://a/cb"),
            ("response_type", "code"),
            ("scope", "instagram_business_basic"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn oauth_can_log_in_as_a_personal_account() {
    let env = start_with(|c| c.oauth_account = Some(PERSONAL_ID.into()));
    let r = login(
        &env,
        "instagram_business_basic,instagram_business_content_publish",
        "p",
    )
    .await;
    let (code, _) = redirect_params(r.headers()["location"].to_str().unwrap());
    let (_, short) = code_for_token(&env, &code, DEMO_APP_SECRET).await;
    let token = short["access_token"].as_str().unwrap().to_string();
    let me = env.me(&token).await;
    assert_eq!(me.body["account_type"], "PERSONAL");
    assert_eq!(me.body["user_id"], PERSONAL_ID);
    let url = env.put("p.jpg", &jpeg(108, 192));
    let create = env
        .call(
            "POST",
            &format!("/{PERSONAL_ID}/media"),
            &[("media_type", "STORIES"), ("image_url", url.as_str())],
            Some(&token),
        )
        .await;
    assert_eq!(error_code(&create).0, 10, "{}", create.body);
}

#[tokio::test]
async fn transient_fault_answers_500_code_2_then_recovers() {
    let env = start();
    env.sb.set_faults(Faults {
        transient_errors: 2,
        ..Faults::default()
    });
    for _ in 0..2 {
        let a = env.get("/me", &[]).await;
        assert_eq!(a.status, StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(error_code(&a).0, 2);
        assert_eq!(a.body["error"]["is_transient"], true);
    }
    assert_eq!(env.get("/me", &[]).await.status, StatusCode::OK);
    assert_eq!(env.sb.faults(), Faults::default());
}

#[tokio::test]
async fn dropped_publish_reply_still_publishes_exactly_once() {
    let env = start();
    let cid = env.ready_image("d.jpg").await;
    let r: Value = env
        .http
        .post(format!("{}/_sandbox/faults", env.sb.base_url()))
        .json(&json!({"drop_publish_reply": 1}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(r["drop_publish_reply"], 1);
    let url = format!("{}/{DEMO_ACCOUNT_ID}/media_publish", env.sb.graph_url());
    let sent = env
        .http
        .post(&url)
        .form(&[("creation_id", cid.as_str()), ("access_token", DEMO_TOKEN)])
        .send()
        .await;
    let failed = match sent {
        Err(_) => true,
        Ok(resp) => resp.bytes().await.is_err(),
    };
    assert!(failed, "the client must not see a reply");
    let record = env.sb.published();
    assert_eq!(record.len(), 1, "the publish took effect");
    // The retry a client makes after a lost reply does not make a second Story.
    let retry = env.publish(&cid).await;
    assert_eq!(
        error_code(&retry),
        (100, Some(SUBCODE_ALREADY_PUBLISHED as i64))
    );
    assert!(retry.body["error"]["error_user_msg"]
        .as_str()
        .unwrap()
        .contains(&record[0].media_id));
    assert_eq!(env.sb.published().len(), 1);
    let calls = env.sb.calls();
    assert!(calls
        .iter()
        .any(|c| c.path.ends_with("media_publish") && c.status == 0));
}

#[tokio::test]
async fn spurious_9007_hits_only_the_first_publish_of_a_container() {
    let env = start();
    env.sb.set_faults(Faults {
        spurious_9007: 1,
        ..Faults::default()
    });
    let cid = env.ready_image("s.jpg").await;
    let first = env.publish(&cid).await;
    assert_eq!(error_code(&first), (9007, Some(2207027)));
    assert_eq!(env.status_of(&cid).await["status_code"], "FINISHED");
    assert_eq!(env.publish(&cid).await.status, StatusCode::OK);
    let other = env.ready_image("t.jpg").await;
    assert_eq!(
        env.publish(&other).await.status,
        StatusCode::OK,
        "count used up"
    );
}

#[tokio::test]
async fn slow_replies_and_bad_fault_json() {
    let env = start();
    env.sb.set_faults(Faults {
        slow_reply_ms: 400,
        ..Faults::default()
    });
    let t = Instant::now();
    assert_eq!(env.get("/me", &[]).await.status, StatusCode::OK);
    assert!(
        t.elapsed() >= Duration::from_millis(400),
        "{:?}",
        t.elapsed()
    );
    let r = env
        .http
        .post(format!("{}/_sandbox/faults", env.sb.base_url()))
        .json(&json!({"drop_everything": 3}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert_eq!(
        env.sb.faults().slow_reply_ms,
        400,
        "a bad request changes nothing"
    );
}

#[tokio::test]
async fn clock_endpoint_expires_containers() {
    let env = start();
    let cid = env.ready_image("c.jpg").await;
    let r = env
        .http
        .post(format!(
            "{}/_sandbox/clock?advance_seconds=86401",
            env.sb.base_url()
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(env.status_of(&cid).await["status_code"], "EXPIRED");
    let bad = env
        .http
        .post(format!(
            "{}/_sandbox/clock?advance_seconds=soon",
            env.sb.base_url()
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn secrets_never_reach_the_call_log() {
    let env = start();
    let (code, _) = redirect_params(
        login(&env, "instagram_business_basic", "s").await.headers()["location"]
            .to_str()
            .unwrap(),
    );
    let (_, short) = code_for_token(&env, &code, DEMO_APP_SECRET).await;
    let token = short["access_token"].as_str().unwrap().to_string();
    env.call("GET", "/me", &[("note", DEMO_TOKEN)], Some(&token))
        .await;
    env.http
        .get(format!("{}/me", env.sb.graph_url()))
        .bearer_auth(DEMO_TOKEN)
        .send()
        .await
        .unwrap();
    env.call(
        "GET",
        "/refresh_access_token",
        &[("grant_type", "ig_refresh_token")],
        Some(DEMO_TOKEN),
    )
    .await;
    let url = format!(
        "{}/media/x.jpg?access_token={DEMO_TOKEN}",
        env.sb.base_url()
    );
    let echoed = env.create_image(&url).await;
    assert!(
        !echoed.body.to_string().contains(DEMO_TOKEN),
        "{}",
        echoed.body
    );
    let log = env
        .http
        .get(format!("{}/_sandbox/calls", env.sb.base_url()))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    for secret in [DEMO_TOKEN, token.as_str(), code.as_str(), DEMO_APP_SECRET] {
        assert!(!log.contains(secret), "{secret} leaked into {log}");
    }
    assert!(log.contains("[redacted]"));
    let calls: Vec<Value> = serde_json::from_str(&log).unwrap();
    assert!(calls.len() >= 6, "{log}");
}

#[tokio::test]
async fn media_dir_is_served_with_type_and_length() {
    let env = start();
    let bytes = jpeg(108, 192);
    let url = env.put("m.jpg", &bytes);
    let r = env.http.get(&url).send().await.unwrap();
    assert_eq!(r.headers()["content-type"], "image/jpeg");
    assert_eq!(
        r.headers()["content-length"],
        bytes.len().to_string().as_str()
    );
    assert_eq!(r.bytes().await.unwrap().as_ref(), bytes.as_slice());
    std::fs::create_dir(env.dir.path().join("sub")).unwrap();
    env.put("sub/v.mp4", b"....");
    let head = env
        .http
        .head(env.media_url("sub/v.mp4"))
        .send()
        .await
        .unwrap();
    assert_eq!(head.status(), StatusCode::OK);
    assert_eq!(head.headers()["content-type"], "video/mp4");
    assert_eq!(head.headers()["content-length"], "4");
    let escape = env
        .http
        .get(format!("{}/media/sub/../../etc/passwd", env.sb.base_url()))
        .send()
        .await
        .unwrap();
    assert_ne!(escape.status(), StatusCode::OK);
    let encoded = env
        .http
        .get(format!(
            "{}/media/..%2F..%2Fetc%2Fpasswd",
            env.sb.base_url()
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(encoded.status(), StatusCode::NOT_FOUND);
}

#[test]
fn start_banner_config_and_shutdown_work_without_a_runtime() {
    let sb = Sandbox::start(SandboxConfig::default()).expect("starts");
    let banner = sb.banner();
    for needle in [sb.base_url().as_str(), DEMO_ACCOUNT_ID, DEMO_TOKEN, "v25.0"] {
        assert!(banner.contains(needle), "{needle} missing from {banner}");
    }
    assert!(!banner.contains(DEMO_APP_SECRET));
    assert!(sb.graph_url().ends_with("/v25.0"));
    let addr = sb.addr();
    assert!(std::net::TcpStream::connect(addr).is_ok());
    sb.shutdown();
    assert!(std::net::TcpStream::connect(addr).is_err(), "stopped");

    let parsed: SandboxConfig =
        serde_json::from_value(json!({"quota_total": 5, "faults": {"spurious_9007": 1}})).unwrap();
    assert_eq!(parsed.quota_total, 5);
    assert_eq!(parsed.faults.spurious_9007, 1);
    assert_eq!(parsed.accounts[0].id, DEMO_ACCOUNT_ID);
    assert!(serde_json::from_value::<SandboxConfig>(json!({"quota": 5})).is_err());
    let dup = SandboxConfig {
        accounts: vec![SandboxAccount::default(), SandboxAccount::default()],
        ..SandboxConfig::default()
    };
    assert!(Sandbox::start(dup).is_err());
}

#[tokio::test]
async fn racing_publishes_of_one_container_make_one_story() {
    let env = start();
    let cid = env.ready_image("race.jpg").await;
    let url = format!("{}/{DEMO_ACCOUNT_ID}/media_publish", env.sb.graph_url());
    let tasks: Vec<_> = (0..8)
        .map(|_| {
            let http = env.http.clone();
            let url = url.clone();
            let cid = cid.clone();
            tokio::spawn(async move {
                let params = [("creation_id", cid.as_str()), ("access_token", DEMO_TOKEN)];
                http.post(&url)
                    .form(&params)
                    .send()
                    .await
                    .map(|r| r.status())
            })
        })
        .collect();
    let mut ok = 0;
    for t in tasks {
        if t.await.expect("task").expect("reply") == StatusCode::OK {
            ok += 1;
        }
    }
    assert_eq!(ok, 1);
    assert_eq!(env.sb.published().len(), 1);
}

#[tokio::test]
async fn odd_requests_get_errors_not_crashes() {
    let env = start();
    let base = env.sb.base_url();
    let odd = [
        ("DELETE", format!("{base}/v25.0/{DEMO_ACCOUNT_ID}/media")),
        ("PUT", format!("{base}/v25.0/me")),
        ("GET", format!("{base}/")),
        ("GET", format!("{base}/v25.0/%FF%FE/insights?metric=%ZZ")),
        ("GET", format!("{base}/v25.0/{}/stories", "9".repeat(400))),
        (
            "POST",
            format!("{base}/v25.0/{DEMO_ACCOUNT_ID}/media_publish?creation_id="),
        ),
    ];
    for (method, url) in odd {
        let m = reqwest::Method::from_bytes(method.as_bytes()).expect("method");
        let r = env
            .http
            .request(m, &url)
            .bearer_auth(DEMO_TOKEN)
            .body(vec![0xFFu8, 0x00, b'&', b'='])
            .send()
            .await
            .expect("a reply");
        assert!(
            r.status().is_client_error(),
            "{method} {url}: {}",
            r.status()
        );
        let body: Value = r.json().await.expect("JSON error");
        assert!(body["error"]["code"].is_i64(), "{body}");
    }
    assert_eq!(
        env.get("/me", &[]).await.status,
        StatusCode::OK,
        "still serving"
    );
}

/// At most `containers_per_day` containers per account per rolling 24 h:
/// the next create answers code 9 / 2207042 naming containers, and the
/// rolling window frees them again.
#[tokio::test]
async fn containers_are_capped_per_rolling_day() {
    let env = start_with(|c| {
        c.containers_per_day = 3;
        c.image_processing_ms = 0;
    });
    let url = env.put("c.jpg", &jpeg(108, 192));
    for _ in 0..3 {
        assert_eq!(env.create_image(&url).await.status, StatusCode::OK);
    }
    let refused = env.create_image(&url).await;
    assert_eq!(error_code(&refused), (9, Some(2207042)));
    let msg = refused.body["error"]["error_user_msg"]
        .as_str()
        .unwrap_or("");
    assert!(
        msg.contains("maximum of 3 media containers"),
        "{}",
        refused.body
    );
    env.sb.advance_clock(DAY);
    assert_eq!(env.create_image(&url).await.status, StatusCode::OK);
    assert_eq!(SandboxConfig::default().containers_per_day, 400);
    assert_eq!(SandboxConfig::default().quota_total, 50);
}

/// The Story metrics Meta documents (follows, profile visits, profile
/// activity beside views…) and no others (`link_clicks`, `reposts` answer
/// 100 naming their index), navigation broken down by action in its own
/// call, and error 10 under 5 viewers.
#[tokio::test]
async fn insights_answer_every_story_metric_and_10_under_five_viewers() {
    let env = start_with(|c| c.image_processing_ms = 0);
    let media_id = env.published_story("i.jpg").await;
    let metrics =
        "views,reach,replies,shares,total_interactions,follows,profile_visits,profile_activity";
    for (list, index) in [
        (format!("{metrics},link_clicks"), 8),
        (format!("views,reposts,{metrics}"), 1),
    ] {
        let refused = env.insights(&media_id, &list, None).await;
        assert_eq!(error_code(&refused).0, 100, "{}", refused.body);
        let text = refused.body["error"]["message"].as_str().unwrap();
        assert!(
            text.starts_with(&format!(
                "(#100) metric[{index}] must be one of the following values: views, reach, replies, shares, total_interactions, follows, profile_visits, profile_activity, navigation"
            )),
            "{text}"
        );
    }
    let all = env.insights(&media_id, metrics, None).await;
    assert_eq!(all.status, StatusCode::OK, "{}", all.body);
    let names: Vec<&str> = all.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, metrics.split(',').collect::<Vec<_>>());
    let nav = env
        .insights(
            &media_id,
            "navigation",
            Some("story_navigation_action_type"),
        )
        .await;
    let results = nav.body["data"][0]["total_value"]["breakdowns"][0]["results"]
        .as_array()
        .expect("breakdown results")
        .iter()
        .map(|r| r["dimension_values"][0].as_str().unwrap().to_string())
        .collect::<Vec<_>>();
    assert_eq!(
        results,
        ["tap_forward", "tap_back", "tap_exit", "swipe_forward"]
    );
    let mixed = env
        .insights(
            &media_id,
            "views,navigation",
            Some("story_navigation_action_type"),
        )
        .await;
    assert_eq!(error_code(&mixed).0, 100);

    let few = start_with(|c| {
        c.image_processing_ms = 0;
        c.story_viewers = Some(4);
    });
    let media_id = few.published_story("f.jpg").await;
    let a = few.insights(&media_id, "views", None).await;
    assert_eq!(error_code(&a), (10, None));
    assert_eq!(
        a.body["error"]["message"],
        "(#10) Not enough viewers for the media to show insights"
    );
}

/// `/stories` pages like Meta: 25 by default, `limit`, cursors and `next`.
#[tokio::test]
async fn stories_come_in_pages_with_cursors() {
    let env = start_with(|c| c.image_processing_ms = 0);
    for i in 0..30 {
        let cid = env.ready_image(&format!("s{i}.jpg")).await;
        assert_eq!(env.publish(&cid).await.status, StatusCode::OK);
    }
    let path = format!("/{DEMO_ACCOUNT_ID}/stories");
    let first = env.get(&path, &[]).await.body;
    assert_eq!(first["data"].as_array().unwrap().len(), 25);
    let next = first["paging"]["next"].as_str().expect("a next page");
    assert!(next.starts_with(&env.sb.graph_url()), "{next}");
    let after = first["paging"]["cursors"]["after"].as_str().unwrap();
    let second = env.get(&path, &[("after", after)]).await.body;
    assert_eq!(second["data"].as_array().unwrap().len(), 5);
    assert!(second["paging"].get("next").is_none(), "{second}");
    let resp = env
        .http
        .get(format!("{next}&access_token={DEMO_TOKEN}"))
        .send()
        .await
        .unwrap();
    let by_next: Value = resp.json().await.unwrap();
    assert_eq!(by_next["data"], second["data"]);
    let small = env.get(&path, &[("limit", "10")]).await.body;
    assert_eq!(small["data"].as_array().unwrap().len(), 10);
    assert_eq!(error_code(&env.get(&path, &[("limit", "0")]).await).0, 100);
    assert_eq!(error_code(&env.get(&path, &[("after", "zz")]).await).0, 100);

    // The client follows every page, bounded.
    let client = storyforge::publish::graph::GraphClient::new(
        &env.sb.base_url(),
        "v25.0",
        Duration::from_secs(5),
    )
    .unwrap();
    let token = storyforge::publish::Secret::new(DEMO_TOKEN);
    let pages = client
        .get_all_pages(&path, &token, &[("limit", "7")], 50)
        .await
        .unwrap();
    assert_eq!(
        (pages.items.len(), pages.pages, pages.truncated),
        (30, 5, false)
    );
    let mut ids: Vec<&str> = pages
        .items
        .iter()
        .map(|i| i["id"].as_str().unwrap())
        .collect();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), 30, "no Story twice");
    let bounded = client
        .get_all_pages(&path, &token, &[("limit", "7")], 2)
        .await
        .unwrap();
    assert_eq!((bounded.items.len(), bounded.truncated), (14, true));
}

#[tokio::test]
async fn story_user_tags_are_accepted_recorded_and_checked() {
    let env = start();
    let url = env.put("tagged.jpg", &jpeg(108, 192));
    let path = format!("/{DEMO_ACCOUNT_ID}/media");
    // Position is optional for Stories.
    let tags = r#"[{"username":"ana.b"},{"username":"roastery_tv","x":0.5,"y":0.9}]"#;
    let created = env
        .post(
            &path,
            &[
                ("media_type", "STORIES"),
                ("image_url", url.as_str()),
                ("user_tags", tags),
            ],
        )
        .await;
    assert_eq!(created.status, StatusCode::OK, "{}", created.body);
    let cid = created.body["id"].as_str().expect("id").to_string();
    env.wait_status(&cid, "IN_PROGRESS").await;
    assert_eq!(env.publish(&cid).await.status, StatusCode::OK);
    let record = env.sb.published();
    assert_eq!(
        record.last().expect("published").user_tags,
        vec!["ana.b", "roastery_tv"]
    );
    // What the API refuses: not JSON, no username, a name that is not one,
    // a position outside 0–1, more than 20 tags.
    let many = format!(
        "[{}]",
        (0..21)
            .map(|i| format!(r#"{{"username":"u{i}"}}"#))
            .collect::<Vec<_>>()
            .join(",")
    );
    for bad in [
        "ana.b",
        r#"[{"x":0.5}]"#,
        r#"[{"username":"no spaces"}]"#,
        r#"[{"username":"a","x":1.5}]"#,
        many.as_str(),
    ] {
        let a = env
            .post(
                &path,
                &[
                    ("media_type", "STORIES"),
                    ("image_url", url.as_str()),
                    ("user_tags", bad),
                ],
            )
            .await;
        assert_eq!(error_code(&a).0, 100, "{bad}: {}", a.body);
    }
}
