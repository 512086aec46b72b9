//! The `storage:` section of storyforge.yaml → [`StorageConfig`] (serde,
//! unknown keys refused) and its checks.

use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::media::check_prefix;
use super::StoreError;

/// Where the sandbox serves the local store's directory by default.
pub const DEFAULT_LOCAL_BASE_URL: &str = "http://127.0.0.1:8480/media/";
/// Lifetime of a presigned GET when neither it nor a public base URL is set:
/// 6 h, long enough for Instagram to fetch and process a video.
pub const DEFAULT_PRESIGN_SECONDS: u64 = 6 * 3600;
/// SigV4 presigned URLs cannot live longer than 7 days.
pub const MAX_PRESIGN_SECONDS: u64 = 7 * 24 * 3600;
const MIB: u64 = 1024 * 1024;
/// S3's smallest multipart part (all but the last).
const MIN_PART_SIZE: u64 = 5 * MIB;

/// Which store holds the media.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StoreKind {
    /// A directory served over loopback HTTP by the sandbox.
    #[default]
    Local,
    /// An S3-compatible bucket (AWS S3, Cloudflare R2, MinIO, Garage, Backblaze B2…).
    S3,
}

/// `storage:` in storyforge.yaml. `Default`: the local store in
/// `./storyforge-media`, served at [`DEFAULT_LOCAL_BASE_URL`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct StorageConfig {
    /// `local` or `s3`. Default: `local`.
    pub kind: StoreKind,
    /// Local store: the directory files are copied into. Default: `./storyforge-media`.
    pub dir: PathBuf,
    /// Local store: the URL the sandbox serves `dir` at, ending in `/`.
    /// Default: `http://127.0.0.1:8480/media/`.
    pub base_url: String,
    /// S3: the bucket. Required for `s3`.
    pub bucket: Option<String>,
    /// S3: the region. Default: the AWS region chain (`AWS_REGION`, profile…), else `us-east-1`.
    pub region: Option<String>,
    /// S3: the endpoint of an S3-compatible store (`https://ACCOUNT.r2.cloudflarestorage.com`,
    /// `http://127.0.0.1:9000`). Default: AWS.
    pub endpoint: Option<String>,
    /// S3: path-style addressing (`endpoint/bucket/key`), which MinIO and
    /// Garage need. Default: false (virtual-hosted style).
    pub path_style: bool,
    /// Put in front of every key; empty or ending in `/`. Default: empty.
    pub prefix: String,
    /// S3: serve files from this base instead of presigned URLs, `{key}`
    /// replaced by the key (a CDN or custom domain: `https://cdn.example.com/{key}`).
    /// Default: none.
    pub public_base_url: Option<String>,
    /// S3: lifetime of presigned GET URLs in seconds, at most 7 days.
    /// Default: 21600 (6 h) when `public_base_url` is not set.
    pub presign_seconds: Option<u64>,
    /// S3: files larger than this go up in parts, in bytes. Default: 16 MiB.
    pub multipart_threshold: u64,
    /// S3: the size of each part, in bytes, at least 5 MiB. Default: 8 MiB.
    pub part_size: u64,
    /// Requests in flight at once (files, and parts of one file). Default: 4.
    pub concurrency: usize,
    /// The Cache-Control header stored with every object. Default:
    /// `public, max-age=31536000, immutable` (keys are content-addressed).
    pub cache_control: String,
    /// S3: tries per request, retrying 5xx, throttling and timeouts with
    /// exponential backoff. Default: 5.
    pub max_attempts: u32,
    /// S3: the first retry's backoff in milliseconds (doubling, jittered). Default: 500.
    pub initial_backoff_ms: u64,
    /// Seconds to connect to the store or the URL. Default: 10.
    pub connect_timeout_seconds: u64,
    /// Seconds one request (or the URL check's fetch) may take. Default: 300.
    pub timeout_seconds: u64,
}

impl Default for StorageConfig {
    fn default() -> Self {
        StorageConfig {
            kind: StoreKind::Local,
            dir: PathBuf::from("storyforge-media"),
            base_url: DEFAULT_LOCAL_BASE_URL.to_string(),
            bucket: None,
            region: None,
            endpoint: None,
            path_style: false,
            prefix: String::new(),
            public_base_url: None,
            presign_seconds: None,
            multipart_threshold: 16 * MIB,
            part_size: 8 * MIB,
            concurrency: 4,
            cache_control: "public, max-age=31536000, immutable".to_string(),
            max_attempts: 5,
            initial_backoff_ms: 500,
            connect_timeout_seconds: 10,
            timeout_seconds: 300,
        }
    }
}

/// How an S3 store hands out URLs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum UrlStrategy {
    /// `public_base_url` with `{key}` replaced.
    PublicBase(String),
    /// A presigned GET valid this long.
    Presign(Duration),
}

impl StorageConfig {
    /// Checks the values that can be checked without the network.
    pub fn check(&self) -> Result<(), StoreError> {
        let bad = |m: String| Err(StoreError::Config(m));
        if let Err(m) = check_prefix(&self.prefix) {
            return bad(m);
        }
        if self.concurrency == 0 {
            return bad("concurrency must be at least 1".into());
        }
        if self.timeout_seconds == 0 || self.connect_timeout_seconds == 0 {
            return bad("timeouts must be at least 1 second".into());
        }
        match self.kind {
            StoreKind::Local => {
                let s3_only = [
                    ("bucket", self.bucket.is_some()),
                    ("region", self.region.is_some()),
                    ("endpoint", self.endpoint.is_some()),
                    ("public_base_url", self.public_base_url.is_some()),
                    ("presign_seconds", self.presign_seconds.is_some()),
                ];
                if let Some((k, _)) = s3_only.iter().find(|(_, set)| *set) {
                    return bad(format!("`{k}` applies to `kind: s3` only"));
                }
                if !(self.base_url.starts_with("http://") || self.base_url.starts_with("https://"))
                    || !self.base_url.ends_with('/')
                {
                    return bad(format!(
                        "base_url `{}` must be an http(s) URL ending in `/`",
                        self.base_url
                    ));
                }
            }
            StoreKind::S3 => {
                match self.bucket.as_deref() {
                    None | Some("") => return bad("`kind: s3` needs a `bucket`".into()),
                    Some(b) if b.contains('/') => {
                        return bad(format!("bucket `{b}` must be a bare name, without `/`"))
                    }
                    _ => {}
                }
                if self.part_size < MIN_PART_SIZE {
                    return bad(format!(
                        "part_size {} is below S3's minimum of 5 MiB ({MIN_PART_SIZE} bytes)",
                        self.part_size
                    ));
                }
                if self.max_attempts == 0 {
                    return bad("max_attempts must be at least 1".into());
                }
                if let Some(e) = &self.endpoint {
                    if !(e.starts_with("http://") || e.starts_with("https://")) {
                        return bad(format!(
                            "endpoint `{e}` must start with https:// or http://"
                        ));
                    }
                }
                self.url_strategy()?;
            }
        }
        Ok(())
    }

    pub(crate) fn url_strategy(&self) -> Result<UrlStrategy, StoreError> {
        let bad = |m: String| Err(StoreError::Config(m));
        match (&self.public_base_url, self.presign_seconds) {
            (Some(_), Some(_)) => {
                bad("set either `public_base_url` or `presign_seconds`, not both".into())
            }
            (Some(base), None) => {
                if !(base.starts_with("https://") || base.starts_with("http://")) {
                    return bad(format!(
                        "public_base_url `{base}` must be an https:// URL (http:// only for loopback tests)"
                    ));
                }
                Ok(UrlStrategy::PublicBase(base.clone()))
            }
            (None, secs) => {
                let secs = secs.unwrap_or(DEFAULT_PRESIGN_SECONDS);
                if secs == 0 || secs > MAX_PRESIGN_SECONDS {
                    return bad(format!(
                        "presign_seconds {secs} must be between 1 and {MAX_PRESIGN_SECONDS} (7 days, the SigV4 maximum)"
                    ));
                }
                Ok(UrlStrategy::Presign(Duration::from_secs(secs)))
            }
        }
    }
}

/// `base` with `{key}` replaced by `key`, or `key` appended after a `/`.
pub(crate) fn public_url(base: &str, key: &str) -> String {
    if base.contains("{key}") {
        base.replace("{key}", key)
    } else if base.ends_with('/') {
        format!("{base}{key}")
    } else {
        format!("{base}/{key}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s3() -> StorageConfig {
        StorageConfig {
            kind: StoreKind::S3,
            bucket: Some("stories".into()),
            ..StorageConfig::default()
        }
    }

    #[test]
    fn defaults_are_valid() {
        assert!(StorageConfig::default().check().is_ok());
        assert_eq!(
            s3().url_strategy().ok(),
            Some(UrlStrategy::Presign(Duration::from_secs(21600)))
        );
    }

    #[test]
    fn refuses_contradictions() {
        let both = StorageConfig {
            public_base_url: Some("https://cdn/{key}".into()),
            presign_seconds: Some(60),
            ..s3()
        };
        assert!(both.check().is_err());
        let long = StorageConfig {
            presign_seconds: Some(MAX_PRESIGN_SECONDS + 1),
            ..s3()
        };
        assert!(long.check().is_err());
        let no_bucket = StorageConfig {
            bucket: None,
            ..s3()
        };
        assert!(no_bucket.check().is_err());
        let local_bucket = StorageConfig {
            bucket: Some("x".into()),
            ..StorageConfig::default()
        };
        assert!(local_bucket.check().is_err());
    }

    #[test]
    fn public_urls() {
        assert_eq!(
            public_url("https://cdn.x/{key}", "a/b.jpg"),
            "https://cdn.x/a/b.jpg"
        );
        assert_eq!(
            public_url("https://cdn.x/m", "b.jpg"),
            "https://cdn.x/m/b.jpg"
        );
        assert_eq!(public_url("https://cdn.x/", "b.jpg"), "https://cdn.x/b.jpg");
    }
}
