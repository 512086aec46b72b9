//! A feed URL → a local copy in the cache, fetched with a timeout and a
//! conditional request (ETag / Last-Modified), so an unchanged feed costs
//! one 304. A `#/json/pointer` fragment picks the list inside a JSON API
//! response. The body is read in chunks and refused past
//! [`FeedLimits::max_bytes`], so a huge or endless response cannot fill
//! memory. Bad content is a clear error naming the URL, redacted (userinfo
//! and query values masked). The cache is written atomically with a unique
//! temporary name per writer, so two processes fetching the same feed never
//! tear each other's copy.

use std::path::{Path, PathBuf};
use std::time::Duration;

use sha2::Digest;

use super::{FeedError, FeedLimits};
use crate::util::redact::{redact, redact_url};

/// Where fetched feeds are kept: `$STORYFORGE_CACHE/feeds`, else `.storyforge-cache/feeds`.
pub fn cache_dir() -> PathBuf {
    std::env::var_os("STORYFORGE_CACHE")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(".storyforge-cache"))
        .join("feeds")
}

/// How long a fetch may take.
pub const TIMEOUT: Duration = Duration::from_secs(30);

#[derive(serde::Serialize, serde::Deserialize, Default)]
struct Meta {
    etag: Option<String>,
    last_modified: Option<String>,
    ext: String,
}

fn fail(url: &str, message: String) -> FeedError {
    FeedError::Parse {
        path: redact_url(url),
        at: String::new(),
        message,
    }
}

/// The extension a body reads as: `csv`, `json`, `yaml` or `xml` (RSS/Atom).
fn kind_of(url_path: &str, content_type: &str, body: &[u8]) -> Option<&'static str> {
    let ct = content_type.to_ascii_lowercase();
    let head = String::from_utf8_lossy(&body[..body.len().min(256)])
        .trim_start()
        .to_string();
    if ct.contains("xml") || ct.contains("rss") || ct.contains("atom") || head.starts_with("<") {
        return Some("xml");
    }
    if ct.contains("json") || head.starts_with('[') || head.starts_with('{') {
        return Some("json");
    }
    if ct.contains("yaml") || url_path.ends_with(".yaml") || url_path.ends_with(".yml") {
        return Some("yaml");
    }
    if ct.contains("csv")
        || ct.starts_with("text/plain")
        || url_path.ends_with(".csv")
        || head.contains(',')
    {
        return Some("csv");
    }
    None
}

/// Why a fetch stopped: the HTTP client's error, or a body over the limit.
enum FetchError {
    Http(reqwest::Error),
    TooLarge,
}

impl From<reqwest::Error> for FetchError {
    fn from(e: reqwest::Error) -> Self {
        FetchError::Http(e)
    }
}

/// Fetches `url` (with an optional `#/pointer`) into the cache and returns
/// the local file to read; the body may not exceed `limits.max_bytes`.
pub fn fetch(url: &str, limits: &FeedLimits) -> Result<PathBuf, FeedError> {
    let (address, pointer) = match url.split_once('#') {
        Some((a, p)) => (a, Some(p)),
        None => (url, None),
    };
    let dir = cache_dir();
    std::fs::create_dir_all(&dir)
        .map_err(|e| fail(url, format!("cannot make the cache {}: {e}", dir.display())))?;
    let key = hex::encode(sha2::Sha256::digest(url.as_bytes()));
    let meta_path = dir.join(format!("{key}.meta.json"));
    let old: Option<Meta> = std::fs::read(&meta_path)
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok());
    let cached = |m: &Meta| dir.join(format!("{key}.{}", m.ext));
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| fail(url, e.to_string()))?;
    let result = rt.block_on(async {
        let client = reqwest::Client::builder()
            .timeout(TIMEOUT)
            .user_agent(concat!("storyforge/", env!("CARGO_PKG_VERSION")))
            .build()?;
        let mut req = client.get(address);
        if let Some(m) = old.as_ref().filter(|m| cached(m).is_file()) {
            if let Some(e) = &m.etag {
                req = req.header(reqwest::header::IF_NONE_MATCH, e);
            }
            if let Some(l) = &m.last_modified {
                req = req.header(reqwest::header::IF_MODIFIED_SINCE, l);
            }
        }
        let resp = req.send().await?;
        let status = resp.status();
        let header = |h: reqwest::header::HeaderName| {
            resp.headers()
                .get(h)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string)
        };
        let meta = (
            header(reqwest::header::ETAG),
            header(reqwest::header::LAST_MODIFIED),
            header(reqwest::header::CONTENT_TYPE).unwrap_or_default(),
        );
        if resp.content_length().is_some_and(|n| n > limits.max_bytes) {
            return Err(FetchError::TooLarge);
        }
        let mut resp = resp;
        let mut body = Vec::new();
        while let Some(chunk) = resp.chunk().await? {
            if (body.len() + chunk.len()) as u64 > limits.max_bytes {
                return Err(FetchError::TooLarge);
            }
            body.extend_from_slice(&chunk);
        }
        Ok::<_, FetchError>((status, meta, body))
    });
    let (status, (etag, last_modified, content_type), body) = result.map_err(|e| match e {
        FetchError::TooLarge => limits.too_large(&redact_url(url)),
        FetchError::Http(e) => fail(
            url,
            format!(
                "cannot fetch the feed: {}",
                redact(&e.without_url().to_string())
            ),
        ),
    })?;
    if status == reqwest::StatusCode::NOT_MODIFIED {
        if let Some(m) = &old {
            return Ok(cached(m));
        }
    }
    if !status.is_success() {
        return Err(fail(
            url,
            format!("the server answered HTTP {status}; check the URL is public"),
        ));
    }
    let path_part = reqwest::Url::parse(address)
        .map(|u| u.path().to_ascii_lowercase())
        .unwrap_or_default();
    let Some(mut ext) = kind_of(&path_part, &content_type, &body) else {
        return Err(fail(
            url,
            format!("the content ({content_type}) is not CSV, JSON, YAML, RSS or Atom"),
        ));
    };
    let mut bytes = body;
    if let Some(p) = pointer {
        if ext != "json" {
            return Err(fail(url, "a `#/pointer` needs a JSON response".into()));
        }
        let v: serde_json::Value =
            serde_json::from_slice(&bytes).map_err(|e| fail(url, format!("not JSON: {e}")))?;
        let list = v
            .pointer(p)
            .ok_or_else(|| fail(url, format!("nothing at pointer `{p}` in the JSON")))?;
        bytes = serde_json::to_vec(list).map_err(|e| fail(url, e.to_string()))?;
        ext = "json";
    }
    let file = dir.join(format!("{key}.{ext}"));
    write(&file, &bytes).map_err(|e| fail(url, format!("cannot cache it: {e}")))?;
    let meta = Meta {
        etag,
        last_modified,
        ext: ext.into(),
    };
    let _ = serde_json::to_vec(&meta).map(|b| write(&meta_path, &b));
    Ok(file)
}

fn write(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    crate::util::write_atomic(path, bytes)
}
