//! The upload stage against a real S3-compatible server that checks SigV4
//! signatures (s3s-fs 0.14.1, installed by `make test`), started on a free
//! loopback port per test and stopped on drop. Faults come from a small
//! loopback proxy that answers chosen requests with 5xx and forwards the
//! rest unchanged (Host kept, so signatures still verify).

use crate::common;
use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aws_sdk_s3::config::Credentials;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use storyforge::storage::{
    upload_all, upload_file, AnyStore, LocalStore, S3Store, StorageConfig, Store, StoreError,
    UrlCheck,
};

type TestResult = Result<(), Box<dyn std::error::Error>>;

const BUCKET: &str = "stories-test";
const MIB: usize = 1024 * 1024;

// ---------------------------------------------------------------- harness

use crate::common::s3::{S3Server, ACCESS_KEY, SECRET_KEY};

fn s3_config(endpoint: &str) -> StorageConfig {
    StorageConfig {
        prefix: "stories/".into(),
        max_attempts: 4,
        initial_backoff_ms: 20,
        timeout_seconds: 30,
        ..crate::common::s3::storage_at(endpoint, BUCKET)
    }
}

fn creds(secret: &str) -> Option<Credentials> {
    Some(Credentials::new(ACCESS_KEY, secret, None, None, "test"))
}

async fn store_with_bucket(config: &StorageConfig) -> Result<S3Store, StoreError> {
    let store = S3Store::connect(config, creds(SECRET_KEY)).await?;
    store.ensure_bucket().await?;
    Ok(store)
}

fn check() -> UrlCheck {
    UrlCheck::new(true, Duration::from_secs(30)).expect("http client")
}

/// A file of `len` random bytes behind a JPEG or MP4 signature.
fn media_file(dir: &Path, name: &str, len: usize) -> (PathBuf, Vec<u8>) {
    let mut bytes: Vec<u8> = (0..len).map(|_| fastrand::u8(..)).collect();
    let head: &[u8] = if name.ends_with(".mp4") {
        b"\0\0\0\x20ftypisom"
    } else {
        &[0xFF, 0xD8, 0xFF, 0xE0]
    };
    bytes[..head.len()].copy_from_slice(head);
    let path = dir.join(name);
    std::fs::write(&path, &bytes).expect("write fixture");
    (path, bytes)
}

async fn fetch(url: &str) -> Result<(StatusCode, String, String, Vec<u8>), reqwest::Error> {
    let resp = reqwest::get(url).await?;
    let header = |n| {
        resp.headers()
            .get(n)
            .and_then(|v: &HeaderValue| v.to_str().ok())
            .unwrap_or("")
            .to_string()
    };
    let (status, ct, cc) = (
        resp.status(),
        header("content-type"),
        header("cache-control"),
    );
    Ok((status, ct, cc, resp.bytes().await?.to_vec()))
}

// ------------------------------------------------------------------ proxy

/// A loopback proxy in front of s3s-fs: logs every request, answers the
/// first queued faults (for requests of `fault_method`) with that status
/// and an S3 error body, forwards everything else unchanged.
struct Proxy {
    port: u16,
    log: Arc<Mutex<Vec<(Method, String)>>>,
}

#[derive(Clone)]
struct ProxyState {
    upstream: String,
    client: reqwest::Client,
    log: Arc<Mutex<Vec<(Method, String)>>>,
    faults: Arc<Mutex<VecDeque<u16>>>,
    fault_method: Method,
}

impl Proxy {
    async fn start(upstream: String, fault_method: Method, faults: &[u16]) -> Proxy {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind proxy");
        let port = listener.local_addr().expect("proxy addr").port();
        let log = Arc::new(Mutex::new(Vec::new()));
        let state = ProxyState {
            upstream,
            client: reqwest::Client::new(),
            log: log.clone(),
            faults: Arc::new(Mutex::new(faults.iter().copied().collect())),
            fault_method,
        };
        let app = axum::Router::new().fallback(forward).with_state(state);
        tokio::spawn(async move { axum::serve(listener, app).await });
        Proxy { port, log }
    }

    fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    fn requests(&self) -> Vec<(Method, String)> {
        self.log.lock().expect("log").clone()
    }

    fn count(&self, method: &Method, query_has: &str) -> usize {
        self.requests()
            .iter()
            .filter(|(m, uri)| m == method && uri.contains(query_has))
            .count()
    }
}

async fn forward(State(st): State<ProxyState>, req: Request) -> Response {
    let (parts, body) = req.into_parts();
    st.log
        .lock()
        .expect("log")
        .push((parts.method.clone(), parts.uri.to_string()));
    if parts.method == st.fault_method {
        if let Some(status) = st.faults.lock().expect("faults").pop_front() {
            let code = if status == 503 {
                "SlowDown"
            } else {
                "InternalError"
            };
            let body = format!(
                "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>{code}</Code><Message>injected</Message></Error>"
            );
            let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            return (status, [("content-type", "application/xml")], body).into_response();
        }
    }
    let Ok(bytes) = axum::body::to_bytes(body, 64 * MIB).await else {
        return StatusCode::BAD_REQUEST.into_response();
    };
    let path = parts.uri.path_and_query().map_or("/", |p| p.as_str());
    let mut out = st
        .client
        .request(parts.method.clone(), format!("{}{path}", st.upstream));
    for (name, value) in &parts.headers {
        if !matches!(name.as_str(), "transfer-encoding" | "connection") {
            out = out.header(name, value);
        }
    }
    let Ok(resp) = out.body(bytes).send().await else {
        return StatusCode::BAD_GATEWAY.into_response();
    };
    let status = resp.status();
    let headers = resp.headers().clone();
    let body = resp.bytes().await.unwrap_or_default();
    let mut back = Response::new(Body::from(body));
    *back.status_mut() = status;
    for (name, value) in &headers {
        if !matches!(name.as_str(), "transfer-encoding" | "connection") {
            back.headers_mut().insert(name, value.clone());
        }
    }
    back
}

// ------------------------------------------------------------------ tests

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn creates_the_bucket_uploads_and_serves_presigned_bytes() -> TestResult {
    let server = S3Server::start();
    let store = S3Store::connect(&s3_config(&server.endpoint()), creds(SECRET_KEY)).await?;
    assert!(store.ensure_bucket().await?, "a fresh server has no bucket");
    assert!(!store.ensure_bucket().await?, "the second call finds it");

    let tmp = tempfile::tempdir()?;
    let (jpg, jpg_bytes) = media_file(tmp.path(), "story.jpg", 200_000);
    let (mp4, mp4_bytes) = media_file(tmp.path(), "clip.mp4", 300_000);
    for (path, bytes, ct) in [
        (&jpg, &jpg_bytes, "image/jpeg"),
        (&mp4, &mp4_bytes, "video/mp4"),
    ] {
        let up = upload_file(&store, path, &check()).await?;
        assert!(!up.reused);
        assert_eq!(up.content_type, ct);
        assert_eq!(up.bytes, bytes.len() as u64);
        assert!(up.key.starts_with("stories/") && up.key.len() == "stories/".len() + 64 + 4);
        assert!(up.url.contains("X-Amz-Signature="), "{}", up.url);
        assert!(
            up.url.contains("X-Amz-Expires=21600"),
            "6 h by default: {}",
            up.url
        );
        let (status, got_ct, cache, body) = fetch(&up.url).await?;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(got_ct, ct);
        assert_eq!(cache, "public, max-age=31536000, immutable");
        assert!(body == *bytes, "presigned GET returns the same bytes");
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn same_bytes_again_send_no_second_put() -> TestResult {
    let server = S3Server::start();
    let proxy = Proxy::start(server.endpoint(), Method::PUT, &[]).await;
    let config = s3_config(&proxy.endpoint());
    let store = store_with_bucket(&config).await?;
    let tmp = tempfile::tempdir()?;
    let (file, _) = media_file(tmp.path(), "a.jpg", 50_000);
    let copy = tmp.path().join("same-bytes-other-name.jpg");
    std::fs::copy(&file, &copy)?;

    let first = upload_file(&store, &file, &check()).await?;
    let puts = proxy.count(&Method::PUT, "/stories/");
    assert_eq!(puts, 1, "{:?}", proxy.requests());
    let second = upload_file(&store, &copy, &check()).await?;
    assert!(second.reused && !first.reused);
    assert_eq!(first.key, second.key);
    assert_eq!(
        proxy.count(&Method::PUT, "/stories/"),
        1,
        "no second PUT: {:?}",
        proxy.requests()
    );
    assert_eq!(proxy.count(&Method::HEAD, "/stories/"), 2);
    Ok(())
}

/// A CDN in front of the bucket: serves `GET /cdn/{key}` from the bucket
/// with its own (origin) credentials, as CloudFront with origin access does.
async fn start_cdn(endpoint: String) -> u16 {
    async fn serve(
        State(client): State<aws_sdk_s3::Client>,
        axum::extract::Path(key): axum::extract::Path<String>,
    ) -> Response {
        match client.get_object().bucket(BUCKET).key(&key).send().await {
            Ok(obj) => {
                let ct = obj.content_type().unwrap_or("").to_string();
                let Ok(data) = obj.body.collect().await else {
                    return StatusCode::BAD_GATEWAY.into_response();
                };
                ([("content-type", ct)], data.into_bytes()).into_response()
            }
            Err(_) => StatusCode::NOT_FOUND.into_response(),
        }
    }
    let conf = aws_sdk_s3::config::Builder::new()
        .behavior_version(aws_sdk_s3::config::BehaviorVersion::latest())
        .region(aws_sdk_s3::config::Region::new("us-east-1"))
        .endpoint_url(endpoint)
        .force_path_style(true)
        .credentials_provider(Credentials::new(ACCESS_KEY, SECRET_KEY, None, None, "cdn"))
        .build();
    let app = axum::Router::new()
        .route("/cdn/{*key}", axum::routing::get(serve))
        .with_state(aws_sdk_s3::Client::from_conf(conf));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind cdn");
    let port = listener.local_addr().expect("cdn addr").port();
    tokio::spawn(async move { axum::serve(listener, app).await });
    port
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn public_base_url_serves_the_same_bytes() -> TestResult {
    let server = S3Server::start();
    let cdn = start_cdn(server.endpoint()).await;
    let config = StorageConfig {
        public_base_url: Some(format!("http://127.0.0.1:{cdn}/cdn/{{key}}")),
        ..s3_config(&server.endpoint())
    };
    let store = store_with_bucket(&config).await?;
    let tmp = tempfile::tempdir()?;
    let (file, bytes) = media_file(tmp.path(), "b.mp4", 120_000);
    let up = upload_file(&store, &file, &check()).await?;
    assert_eq!(up.url, format!("http://127.0.0.1:{cdn}/cdn/{}", up.key));
    let (status, ct, _, body) = fetch(&up.url).await?;
    assert_eq!((status, ct.as_str()), (StatusCode::OK, "video/mp4"));
    assert!(body == bytes, "public URL returns the same bytes");

    // The same URL fails the check without --allow-http: HTTPS only.
    let strict = UrlCheck::new(false, Duration::from_secs(10))?;
    let err = strict.verify(&up).await.err().ok_or("plain HTTP passed")?;
    assert!(err.to_string().contains("HTTPS"), "{err}");
    assert!(err.is_user_fault());
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn large_files_go_up_in_parts() -> TestResult {
    let server = S3Server::start();
    let proxy = Proxy::start(server.endpoint(), Method::PUT, &[]).await;
    let config = StorageConfig {
        multipart_threshold: 5 * MIB as u64,
        part_size: 5 * MIB as u64,
        ..s3_config(&proxy.endpoint())
    };
    let store = store_with_bucket(&config).await?;
    let tmp = tempfile::tempdir()?;
    let (file, bytes) = media_file(tmp.path(), "long.mp4", 12 * MIB);
    let up = upload_file(&store, &file, &check()).await?;
    assert_eq!(
        proxy.count(&Method::POST, "uploads"),
        1,
        "one multipart upload"
    );
    assert_eq!(proxy.count(&Method::PUT, "partNumber="), 3, "5 + 5 + 2 MiB");
    assert_eq!(proxy.count(&Method::POST, "uploadId="), 1, "completed once");
    let (status, ct, _, body) = fetch(&up.url).await?;
    assert_eq!((status, ct.as_str()), (StatusCode::OK, "video/mp4"));
    assert!(body == bytes, "the parts join into the same bytes");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn throttling_and_5xx_are_retried() -> TestResult {
    let server = S3Server::start();
    store_with_bucket(&s3_config(&server.endpoint())).await?;
    let proxy = Proxy::start(server.endpoint(), Method::PUT, &[503, 500]).await;
    let store = S3Store::connect(&s3_config(&proxy.endpoint()), creds(SECRET_KEY)).await?;
    let tmp = tempfile::tempdir()?;
    let (file, bytes) = media_file(tmp.path(), "c.jpg", 80_000);
    let up = upload_file(&store, &file, &check()).await?;
    assert_eq!(
        proxy.count(&Method::PUT, "/stories/"),
        3,
        "SlowDown, InternalError, then the PUT that got through: {:?}",
        proxy.requests()
    );
    let (_, _, _, body) = fetch(&up.url).await?;
    assert!(body == bytes);

    // More faults than attempts: a transient error naming bucket and key.
    let proxy = Proxy::start(server.endpoint(), Method::PUT, &[503; 10]).await;
    let store = S3Store::connect(&s3_config(&proxy.endpoint()), creds(SECRET_KEY)).await?;
    let (file, _) = media_file(tmp.path(), "d.jpg", 1000);
    let err = upload_file(&store, &file, &check())
        .await
        .err()
        .ok_or("uploaded through 10 faults")?;
    assert!(err.is_transient() && !err.is_user_fault(), "{err:?}");
    let msg = err.to_string();
    assert!(
        msg.contains(BUCKET) && msg.contains("stories/") && msg.contains("SlowDown"),
        "{msg}"
    );
    assert_eq!(proxy.count(&Method::PUT, "/stories/"), 4, "max_attempts: 4");
    Ok(())
}

/// Every way an error can be shown: Display, alternate, Debug and the chain.
fn every_rendering(err: &StoreError) -> String {
    let mut all = format!("{err}\n{err:#}\n{err:?}\n{err:#?}\n");
    let mut source = std::error::Error::source(err);
    while let Some(s) = source {
        all.push_str(&format!("{s}\n{s:?}\n"));
        source = s.source();
    }
    all
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_credentials_give_a_clear_error_without_the_secret() -> TestResult {
    let server = S3Server::start();
    let config = s3_config(&server.endpoint());
    store_with_bucket(&config).await?;
    let wrong_secret = "WRONG-secret-0123456789-do-not-print";
    let store = S3Store::connect(&config, creds(wrong_secret)).await?;
    let tmp = tempfile::tempdir()?;
    let (file, _) = media_file(tmp.path(), "e.jpg", 1000);
    let mut errors = vec![upload_file(&store, &file, &check())
        .await
        .err()
        .ok_or("uploaded with a wrong secret")?];
    errors.push(
        store
            .ensure_bucket()
            .await
            .err()
            .ok_or("bucket check passed")?,
    );
    let msg = errors[0].to_string();
    assert!(
        matches!(errors[0], StoreError::Auth { .. }),
        "{:?}",
        errors[0]
    );
    assert!(msg.contains(BUCKET) && msg.contains("stories/"), "{msg}");
    assert!(msg.contains("rejected the credentials"), "{msg}");
    assert!(errors[0].is_user_fault() && !errors[0].is_transient());

    // A missing bucket, with good credentials.
    let other = StorageConfig {
        bucket: Some("no-such-bucket".into()),
        ..config.clone()
    };
    let store = S3Store::connect(&other, creds(SECRET_KEY)).await?;
    let err = upload_file(&store, &file, &check())
        .await
        .err()
        .ok_or("no bucket")?;
    assert!(matches!(err, StoreError::NoBucket { .. }), "{err:?}");
    assert!(err.to_string().contains("no-such-bucket"), "{err}");
    errors.push(err);

    for err in &errors {
        let shown = every_rendering(err);
        assert!(!shown.contains(wrong_secret), "secret leaked: {shown}");
        assert!(!shown.contains(SECRET_KEY), "secret leaked: {shown}");
    }
    let debug = format!("{store:?}");
    assert!(
        !debug.contains(SECRET_KEY) && !debug.contains(ACCESS_KEY),
        "{debug}"
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_goes_on_past_a_bad_file() -> TestResult {
    let server = S3Server::start();
    let config = StorageConfig {
        concurrency: 2,
        ..s3_config(&server.endpoint())
    };
    let store = AnyStore::S3(store_with_bucket(&config).await?);
    let tmp = tempfile::tempdir()?;
    let png = tmp.path().join("not-a-story.png");
    std::fs::write(&png, b"\x89PNG\r\n\x1a\n0000000000")?;
    let files = vec![
        media_file(tmp.path(), "1.jpg", 10_000).0,
        png.clone(),
        tmp.path().join("missing.jpg"),
        media_file(tmp.path(), "2.mp4", 10_000).0,
    ];
    let outcomes = upload_all(&store, &files, 2, &check()).await;
    assert_eq!(outcomes.len(), 4);
    for (o, f) in outcomes.iter().zip(&files) {
        assert_eq!(&o.file, f, "in the order given");
    }
    assert!(outcomes[0].result.is_ok() && outcomes[3].result.is_ok());
    let err = outcomes[1].result.as_ref().err().ok_or("png accepted")?;
    assert!(
        err.to_string().contains("not-a-story.png") && err.is_user_fault(),
        "{err}"
    );
    assert!(matches!(outcomes[2].result, Err(StoreError::Read { .. })));
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn local_store_serves_over_loopback() -> TestResult {
    let dir = tempfile::tempdir()?;
    let media_dir = dir.path().join("media");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let port = listener.local_addr()?.port();
    // The sandbox's media host: GET /media/{*key} from the directory.
    let served = media_dir.clone();
    let app = axum::Router::new().route(
        "/media/{*key}",
        axum::routing::get(
            move |axum::extract::Path(key): axum::extract::Path<String>| {
                let path = served.join(&key);
                async move {
                    let ct = if key.ends_with(".mp4") {
                        "video/mp4"
                    } else {
                        "image/jpeg"
                    };
                    match tokio::fs::read(path).await {
                        Ok(b) => ([("content-type", ct)], b).into_response(),
                        Err(_) => StatusCode::NOT_FOUND.into_response(),
                    }
                }
            },
        ),
    );
    tokio::spawn(async move { axum::serve(listener, app).await });

    let store = LocalStore::new(&media_dir, format!("http://127.0.0.1:{port}/media/"), "")?;
    let (file, bytes) = media_file(dir.path(), "s.jpg", 30_000);
    let up = upload_file(&store, &file, &check()).await?;
    assert!(!up.reused);
    assert_eq!(up.url, format!("http://127.0.0.1:{port}/media/{}", up.key));
    assert!(std::fs::read(media_dir.join(&up.key))? == bytes);
    let again = upload_file(&store, &file, &check()).await?;
    assert!(again.reused);
    assert_eq!(
        store.describe(),
        format!("local store {}", media_dir.display())
    );
    Ok(())
}

#[test]
fn cli_upload_prints_one_url_per_file() -> TestResult {
    let server = S3Server::start();
    let rt = tokio::runtime::Runtime::new()?;
    rt.block_on(store_with_bucket(&s3_config(&server.endpoint())))?;
    let tmp = tempfile::tempdir()?;
    let settings = tmp.path().join("storyforge.yaml");
    std::fs::write(
        &settings,
        format!(
            "storage:\n  kind: s3\n  bucket: {BUCKET}\n  region: us-east-1\n  endpoint: {}\n  path_style: true\n  prefix: cli/\n",
            server.endpoint()
        ),
    )?;
    let files = [
        media_file(tmp.path(), "x.jpg", 5000).0,
        media_file(tmp.path(), "y.mp4", 5000).0,
    ];
    let run = |extra: &[&str]| {
        common::command()
            .arg("upload")
            .arg("--config")
            .arg(&settings)
            .args(extra)
            .args(&files)
            .env("AWS_ACCESS_KEY_ID", ACCESS_KEY)
            .env("AWS_SECRET_ACCESS_KEY", SECRET_KEY)
            .env_remove("AWS_PROFILE")
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .output()
    };
    let out = run(&["--allow-http"])?;
    let stdout = String::from_utf8(out.stdout)?;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let urls: Vec<&str> = stdout.lines().collect();
    assert_eq!(urls.len(), 2, "{stdout}");
    assert!(urls
        .iter()
        .all(|u| u.contains("/cli/") && u.contains("X-Amz-Signature")));

    let out = run(&["--allow-http", "--json"])?;
    let json: serde_json::Value = serde_json::from_slice(&out.stdout)?;
    assert_eq!(json[0]["reused"], true);
    assert_eq!(json[1]["content_type"], "video/mp4");

    // Without --allow-http the loopback http:// URL is refused: exit 1.
    let out = run(&[])?;
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("HTTPS") && !stderr.contains(SECRET_KEY),
        "{stderr}"
    );
    Ok(())
}
