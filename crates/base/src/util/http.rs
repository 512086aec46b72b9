//! One HTTP GET for the on-disk caches (remote feeds, remote images): a
//! timeout, a conditional request from the cached copy's validators
//! (ETag / Last-Modified, so an unchanged resource costs one 304), the body
//! read in chunks and refused past a byte cap (a huge or endless response
//! cannot fill memory), and, when asked, redirects followed only to public
//! addresses (never loopback, private, link-local or unspecified ones).
//! Also [`cache_root`], the folder every cache lives under.

use std::net::{IpAddr, ToSocketAddrs};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use reqwest::header::HeaderMap;

/// `$STORYFORGE_CACHE`, else `.storyforge-cache`: caches live in folders under it.
pub fn cache_root() -> PathBuf {
    std::env::var_os("STORYFORGE_CACHE")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(".storyforge-cache"))
}

/// A cached copy's validators, kept beside it.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Validators {
    /// The `ETag` it came with.
    pub etag: Option<String>,
    /// The `Last-Modified` it came with.
    pub last_modified: Option<String>,
}

/// One GET.
pub struct Get<'a> {
    /// The URL (no fragment).
    pub url: &'a str,
    /// Headers to send (mark secret values sensitive).
    pub headers: HeaderMap,
    /// The cached copy's validators: the request becomes conditional.
    pub cached: Option<&'a Validators>,
    /// Largest body accepted.
    pub max_bytes: u64,
    /// The whole exchange, body included.
    pub timeout: Duration,
    /// Follow redirects only to public addresses.
    pub public_redirects_only: bool,
}

/// What came back.
pub enum Reply {
    /// 304: the cached copy is current.
    NotModified,
    /// Any other status, with its body.
    Body {
        /// The status.
        status: reqwest::StatusCode,
        /// `Content-Type`, or "".
        content_type: String,
        /// The validators to keep with the body.
        validators: Validators,
        /// The body.
        body: Vec<u8>,
    },
}

/// Why a GET failed.
#[derive(Debug)]
pub enum GetError {
    /// The HTTP client's error (connection, timeout, TLS…).
    Http(reqwest::Error),
    /// The body is over the cap.
    TooLarge,
    /// A redirect pointed at this non-public host, and was not followed.
    PrivateRedirect(String),
    /// No runtime could be made.
    Runtime(std::io::Error),
}

impl std::fmt::Display for GetError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            GetError::Http(e) => write!(f, "{}", crate::util::redact::redact(&describe(e))),
            GetError::TooLarge => f.write_str("the response is over the size limit"),
            GetError::PrivateRedirect(host) => write!(
                f,
                "refused a redirect to {host}, a loopback or private address"
            ),
            GetError::Runtime(e) => write!(f, "cannot start the HTTP client: {e}"),
        }
    }
}

/// A client error's text with its causes, without the URL (which is shown
/// apart, redacted).
fn describe(e: &reqwest::Error) -> String {
    let mut text = match e.url() {
        Some(u) => e.to_string().replace(&format!(" ({u})"), ""),
        None => e.to_string(),
    };
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        text.push_str(&format!(": {s}"));
        source = s.source();
    }
    text
}

/// True for addresses a fetched URL must not be redirected to.
pub fn is_private(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            v4.is_loopback()
                || v4.is_private()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_broadcast()
                || v4.octets()[0] == 100 && (v4.octets()[1] & 0xC0) == 64 // 100.64/10 (CGNAT)
        }
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_private(IpAddr::V4(v4));
            }
            let seg = v6.segments()[0];
            v6.is_loopback()
                || v6.is_unspecified()
                || (seg & 0xfe00) == 0xfc00 // unique local
                || (seg & 0xffc0) == 0xfe80 // link local
        }
    }
}

/// The host of `url` when it is, or resolves to, a non-public address.
fn private_host(url: &reqwest::Url) -> Option<String> {
    let host = url
        .host_str()?
        .trim_start_matches('[')
        .trim_end_matches(']');
    let port = url.port_or_known_default().unwrap_or(443);
    let private = match host.parse::<IpAddr>() {
        Ok(ip) => is_private(ip),
        // A name: every address it resolves to must be public (one that
        // does not resolve fails at connect time anyway).
        Err(_) => (host, port)
            .to_socket_addrs()
            .map(|mut a| a.any(|s| is_private(s.ip())))
            .unwrap_or(false),
    };
    private.then(|| host.to_string())
}

/// Performs `req`, blocking (on a thread of its own when called inside an
/// async runtime).
pub fn get(req: Get<'_>) -> Result<Reply, GetError> {
    if tokio::runtime::Handle::try_current().is_ok() {
        return std::thread::scope(|s| {
            s.spawn(|| get_blocking(req))
                .join()
                .unwrap_or_else(|_| Err(GetError::Runtime(std::io::Error::other("panicked"))))
        });
    }
    get_blocking(req)
}

fn get_blocking(req: Get<'_>) -> Result<Reply, GetError> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(GetError::Runtime)?;
    let refused: Arc<Mutex<Option<String>>> = Arc::default();
    let policy = if req.public_redirects_only {
        let refused = refused.clone();
        reqwest::redirect::Policy::custom(move |attempt| {
            if attempt.previous().len() >= 5 {
                return attempt.error("too many redirects");
            }
            match private_host(attempt.url()) {
                Some(host) => {
                    if let Ok(mut r) = refused.lock() {
                        *r = Some(host);
                    }
                    attempt.stop()
                }
                None => attempt.follow(),
            }
        })
    } else {
        reqwest::redirect::Policy::limited(5)
    };
    let result = rt.block_on(async {
        let client = reqwest::Client::builder()
            .timeout(req.timeout)
            .redirect(policy)
            .user_agent(concat!("storyforge/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(GetError::Http)?;
        let mut r = client.get(req.url).headers(req.headers);
        if let Some(v) = req.cached {
            if let Some(e) = &v.etag {
                r = r.header(reqwest::header::IF_NONE_MATCH, e);
            }
            if let Some(l) = &v.last_modified {
                r = r.header(reqwest::header::IF_MODIFIED_SINCE, l);
            }
        }
        let mut resp = r.send().await.map_err(GetError::Http)?;
        let status = resp.status();
        if status == reqwest::StatusCode::NOT_MODIFIED && req.cached.is_some() {
            return Ok(Reply::NotModified);
        }
        let header = |h: reqwest::header::HeaderName| {
            resp.headers()
                .get(h)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string)
        };
        let validators = Validators {
            etag: header(reqwest::header::ETAG),
            last_modified: header(reqwest::header::LAST_MODIFIED),
        };
        let content_type = header(reqwest::header::CONTENT_TYPE).unwrap_or_default();
        if resp.content_length().is_some_and(|n| n > req.max_bytes) {
            return Err(GetError::TooLarge);
        }
        let mut body = Vec::new();
        while let Some(chunk) = resp.chunk().await.map_err(GetError::Http)? {
            if (body.len() + chunk.len()) as u64 > req.max_bytes {
                return Err(GetError::TooLarge);
            }
            body.extend_from_slice(&chunk);
        }
        Ok(Reply::Body {
            status,
            content_type,
            validators,
            body,
        })
    });
    // A stopped redirect comes back as the 3xx itself: say why.
    if let Some(host) = refused.lock().ok().and_then(|mut r| r.take()) {
        return Err(GetError::PrivateRedirect(host));
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn private_ranges() {
        for ip in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "0.0.0.0",
            "100.64.0.1",
            "::1",
            "fd00::1",
            "fe80::1",
            "::ffff:127.0.0.1",
        ] {
            assert!(is_private(ip.parse().unwrap()), "{ip}");
        }
        for ip in ["93.184.216.34", "8.8.8.8", "2606:4700::1111"] {
            assert!(!is_private(ip.parse().unwrap()), "{ip}");
        }
    }
}
