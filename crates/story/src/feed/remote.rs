//! A feed URL → a local copy in the cache, fetched with a timeout and a
//! conditional request (ETag / Last-Modified), so an unchanged feed costs
//! one 304. A `#/json/pointer` fragment picks the list inside a JSON API
//! response, or one object (then the feed is that one row). Headers from a
//! `feed: {url, headers}` are sent with `${ENV}` expanded in their values
//! at request time, marked sensitive, and never cached, logged or shown. The body is read in chunks and refused past
//! [`FeedLimits::max_bytes`], so a huge or endless response cannot fill
//! memory. Bad content is a clear error naming the URL, redacted (userinfo
//! and query values masked). The cache is written atomically with a unique
//! temporary name per writer, so two processes fetching the same feed never
//! tear each other's copy.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use reqwest::header::{HeaderMap, HeaderName, HeaderValue};

use sha2::Digest;

use super::{FeedError, FeedLimits};
use storyforge_base::util::http::{self, GetError, Reply, Validators};
use storyforge_base::util::redact::redact_url;

/// Where fetched feeds are kept: `$STORYFORGE_CACHE/feeds`, else `.storyforge-cache/feeds`.
pub fn cache_dir() -> PathBuf {
    storyforge_base::util::http::cache_root().join("feeds")
}

/// How long a fetch may take.
pub const TIMEOUT: Duration = Duration::from_secs(30);

#[derive(serde::Serialize, serde::Deserialize, Default)]
struct Meta {
    #[serde(flatten)]
    validators: Validators,
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

/// Fetches `url` (with an optional `#/pointer`) into the cache and returns
/// the local file to read; the body may not exceed `limits.max_bytes`.
pub fn fetch(url: &str, limits: &FeedLimits) -> Result<PathBuf, FeedError> {
    fetch_with(url, &BTreeMap::new(), limits)
}

/// The request headers: names checked, `${ENV}` expanded in values, each
/// value marked sensitive. Errors name the header and the variable only.
fn request_headers(url: &str, headers: &BTreeMap<String, String>) -> Result<HeaderMap, FeedError> {
    let mut map = HeaderMap::new();
    for (name, value) in headers {
        let header = |m: String| fail(url, format!("header `{name}`: {m}"));
        let n = HeaderName::from_bytes(name.as_bytes())
            .map_err(|_| header("not a valid HTTP header name".into()))?;
        let secret =
            storyforge_base::util::env::expand(value).map_err(|e| header(e.to_string()))?;
        let mut v = HeaderValue::from_str(secret.expose()).map_err(|_| {
            header("the value (after `${…}` expansion) is not valid in an HTTP header".into())
        })?;
        v.set_sensitive(true);
        map.insert(n, v);
    }
    Ok(map)
}

/// [`fetch`] sending `headers` (values may hold `${ENV}`).
pub fn fetch_with(
    url: &str,
    headers: &BTreeMap<String, String>,
    limits: &FeedLimits,
) -> Result<PathBuf, FeedError> {
    let (address, pointer) = match url.split_once('#') {
        Some((a, p)) => (a, Some(p)),
        None => (url, None),
    };
    let sent = request_headers(url, headers)?;
    let dir = cache_dir();
    std::fs::create_dir_all(&dir)
        .map_err(|e| fail(url, format!("cannot make the cache {}: {e}", dir.display())))?;
    // Header names (never values) are part of the key: the same URL asked
    // with other headers is another answer.
    let mut keyed = url.to_string();
    for name in headers.keys() {
        keyed.push('\n');
        keyed.push_str(&name.to_ascii_lowercase());
    }
    let key = hex::encode(sha2::Sha256::digest(keyed.as_bytes()));
    let meta_path = dir.join(format!("{key}.meta.json"));
    let old: Option<Meta> = std::fs::read(&meta_path)
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok());
    let cached = |m: &Meta| dir.join(format!("{key}.{}", m.ext));
    let reply = http::get(http::Get {
        url: address,
        headers: sent,
        cached: old
            .as_ref()
            .filter(|m| cached(m).is_file())
            .map(|m| &m.validators),
        max_bytes: limits.max_bytes,
        timeout: TIMEOUT,
        public_redirects_only: false,
    });
    let (status, validators, content_type, body) = match reply {
        Ok(Reply::NotModified) => match &old {
            Some(m) => return Ok(cached(m)),
            None => unreachable_cache(url)?,
        },
        Ok(Reply::Body {
            status,
            content_type,
            validators,
            body,
        }) => (status, validators, content_type, body),
        Err(GetError::TooLarge) => return Err(limits.too_large(&redact_url(url))),
        Err(e) => return Err(fail(url, format!("cannot fetch the feed: {e}"))),
    };
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
        let found = v
            .pointer(p)
            .ok_or_else(|| fail(url, format!("nothing at pointer `{p}` in the JSON")))?;
        // An object (a weather API's `current`) is a feed of one row.
        let list = match found {
            serde_json::Value::Object(_) => serde_json::Value::Array(vec![found.clone()]),
            serde_json::Value::Array(_) => found.clone(),
            _ => {
                return Err(fail(
                    url,
                    format!("pointer `{p}` lands on a single value, not on a list or an object; point at the list (or the object) of rows"),
                ))
            }
        };
        bytes = serde_json::to_vec(&list).map_err(|e| fail(url, e.to_string()))?;
        ext = "json";
    }
    let file = dir.join(format!("{key}.{ext}"));
    write(&file, &bytes).map_err(|e| fail(url, format!("cannot cache it: {e}")))?;
    let meta = Meta {
        validators,
        ext: ext.into(),
    };
    let _ = serde_json::to_vec(&meta).map(|b| write(&meta_path, &b));
    Ok(file)
}

/// A 304 without a cached copy cannot happen (no validators were sent);
/// said as an error rather than assumed.
fn unreachable_cache<T>(url: &str) -> Result<T, FeedError> {
    Err(fail(
        url,
        "the server answered 304 to an unconditional request".into(),
    ))
}

fn write(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    storyforge_base::util::write_atomic(path, bytes)
}
