//! Media URLs → fetched bytes and their Content-Type (as Instagram's
//! crawler does), and the asynchronous processing of video containers.

use std::sync::Arc;
use std::time::Duration;

use sha2::{Digest, Sha256};

use super::mp4::check_story_video;
use super::state::Shared;

/// Stop reading a body past this many bytes (over every limit).
const MAX_FETCH_BYTES: usize = 101_000_000;

/// Fetched media.
#[derive(Debug)]
pub struct Fetched {
    /// The body.
    pub bytes: Vec<u8>,
    /// The Content-Type header, lower-cased, parameters dropped.
    pub content_type: String,
}

/// GETs `url`; `Err` says why in plain words. Consumes one `fail_fetch`
/// fault if armed.
pub async fn fetch(shared: &Shared, url: &str) -> Result<Fetched, String> {
    {
        let mut world = shared.lock();
        if world.faults.fail_fetch > 0 {
            world.faults.fail_fetch -= 1;
            return Err("fetch failed (fault injected)".into());
        }
    }
    if !(url.starts_with("https://") || url.starts_with("http://")) {
        return Err("not an http(s) URL".into());
    }
    let timeout = Duration::from_millis(shared.config.fetch_timeout_ms);
    let mut resp = shared
        .http
        .get(url)
        .timeout(timeout)
        .send()
        .await
        .map_err(|e| format!("request failed: {e}"))?;
    if resp.status() != reqwest::StatusCode::OK {
        return Err(format!("HTTP {}", resp.status().as_u16()));
    }
    let content_type = resp
        .headers()
        .get(reqwest::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    let mut bytes = Vec::new();
    while let Some(chunk) = resp
        .chunk()
        .await
        .map_err(|e| format!("body failed: {e}"))?
    {
        bytes.extend_from_slice(&chunk);
        if bytes.len() > MAX_FETCH_BYTES {
            break;
        }
    }
    Ok(Fetched {
        bytes,
        content_type,
    })
}

/// Hex sha256.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// Fetches and checks a video container's media in the background, then
/// stores the outcome (sha256, or the failure subcode).
pub fn process_video(shared: Arc<Shared>, container_id: String, url: String) {
    tokio::spawn(async move {
        let outcome = match fetch(&shared, &url).await {
            Err(why) => {
                tracing::info!(container = %container_id, "video fetch failed: {why}");
                Err(2207052)
            }
            Ok(f)
                if !(f.content_type.starts_with("video/")
                    || f.content_type == "application/octet-stream") =>
            {
                tracing::info!(container = %container_id, "video served as {:?}", f.content_type);
                Err(2207052)
            }
            Ok(f) => match check_story_video(&f.bytes) {
                Ok(_) => Ok(sha256_hex(&f.bytes)),
                Err(p) => {
                    tracing::info!(container = %container_id, subcode = p.subcode, "video refused: {}", p.reason);
                    Err(p.subcode)
                }
            },
        };
        if let Some(c) = shared.lock().containers.get_mut(&container_id) {
            c.outcome = Some(outcome);
        }
    });
}
