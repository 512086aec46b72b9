//! An `http(s)://` image source (a template's `src`, a feed's `image`
//! column) → a decoded image. The download has a timeout and a byte cap,
//! follows redirects only to public addresses (the URL given may itself be
//! loopback: a local server the user chose; a redirect there is refused),
//! and is kept in `$STORYFORGE_CACHE/images` with its validators, so the
//! next run revalidates (`If-None-Match` / `If-Modified-Since`) and a 304
//! costs no download. The pixel cap is checked from the image header before
//! decoding ([`super::decode_reader`]). Every error names the URL redacted.

use std::path::PathBuf;
use std::time::Duration;

use image::RgbaImage;
use sha2::Digest;

use super::AssetError;
use storyforge_base::util::http::{self, GetError, Reply, Validators};
use storyforge_base::util::redact::redact_url;

/// The environment variable that raises [`RemoteLimits::max_bytes`].
pub const MAX_BYTES_VAR: &str = "STORYFORGE_IMAGE_MAX_BYTES";

/// Bounds on one image download.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RemoteLimits {
    /// Largest body. `STORYFORGE_IMAGE_MAX_BYTES`. Default: 25,000,000 bytes.
    pub max_bytes: u64,
    /// The whole download. Default: 20 s.
    pub timeout: Duration,
}

impl Default for RemoteLimits {
    fn default() -> Self {
        RemoteLimits {
            max_bytes: 25_000_000,
            timeout: Duration::from_secs(20),
        }
    }
}

impl RemoteLimits {
    /// The defaults, `max_bytes` from its environment variable when that
    /// holds a whole number.
    pub fn from_env() -> Self {
        let d = RemoteLimits::default();
        RemoteLimits {
            max_bytes: std::env::var(MAX_BYTES_VAR)
                .ok()
                .and_then(|v| v.trim().replace('_', "").parse().ok())
                .unwrap_or(d.max_bytes),
            ..d
        }
    }
}

/// True for a source that is downloaded rather than read beside a file.
pub fn is_remote(src: &str) -> bool {
    let s = src.trim_start();
    s.starts_with("https://") || s.starts_with("http://")
}

/// Where downloaded images are kept.
pub fn cache_dir() -> PathBuf {
    http::cache_root().join("images")
}

/// Downloads (or revalidates) `url` and decodes it.
pub fn load(url: &str, limits: &RemoteLimits) -> Result<RgbaImage, AssetError> {
    let file = fetch(url, limits)?;
    let shown = redact_url(url);
    let bytes =
        std::fs::read(&file).map_err(|e| fail(url, format!("cannot read the cached copy: {e}")))?;
    super::decode_bytes(&bytes, &shown)
}

fn fail(url: &str, reason: String) -> AssetError {
    AssetError::Remote {
        url: redact_url(url),
        reason,
    }
}

/// The cached copy of `url`, fetched or revalidated now.
pub fn fetch(url: &str, limits: &RemoteLimits) -> Result<PathBuf, AssetError> {
    let url = url.trim();
    let dir = cache_dir();
    std::fs::create_dir_all(&dir)
        .map_err(|e| fail(url, format!("cannot make the cache {}: {e}", dir.display())))?;
    let key = hex::encode(sha2::Sha256::digest(url.as_bytes()));
    let file = dir.join(format!("{key}.img"));
    let meta_path = dir.join(format!("{key}.meta.json"));
    let old: Option<Validators> = std::fs::read(&meta_path)
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .filter(|_| file.is_file());
    let reply = http::get(http::Get {
        url,
        headers: Default::default(),
        cached: old.as_ref(),
        max_bytes: limits.max_bytes,
        timeout: limits.timeout,
        public_redirects_only: true,
    });
    match reply {
        Ok(Reply::NotModified) => Ok(file),
        Ok(Reply::Body {
            status,
            validators,
            body,
            ..
        }) => {
            if !status.is_success() {
                return Err(fail(
                    url,
                    format!("the server answered HTTP {status}; check the URL is public and still there"),
                ));
            }
            storyforge_base::util::write_atomic(&file, &body)
                .map_err(|e| fail(url, format!("cannot cache it: {e}")))?;
            if let Ok(b) = serde_json::to_vec(&validators) {
                let _ = storyforge_base::util::write_atomic(&meta_path, &b);
            }
            Ok(file)
        }
        Err(GetError::TooLarge) => Err(fail(
            url,
            format!(
                "the image is over the {} byte limit; use a smaller image or raise {MAX_BYTES_VAR}",
                limits.max_bytes
            ),
        )),
        Err(e) => Err(fail(url, format!("cannot download it: {e}"))),
    }
}
