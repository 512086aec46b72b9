//! An [`Uploaded`] URL → proof that Instagram can fetch it: fetched the way
//! Instagram does (a plain GET over HTTPS; plain HTTP only on loopback for
//! the sandbox), answering 200 with the right Content-Type, length and bytes.

use std::net::IpAddr;
use std::time::Duration;

use reqwest::Url;
use sha2::{Digest, Sha256};

use super::{StoreError, Uploaded};

/// Fetches uploaded URLs back. Cheap to clone.
#[derive(Debug, Clone)]
pub struct UrlCheck {
    client: reqwest::Client,
    allow_http: bool,
}

impl UrlCheck {
    /// A checker whose fetches give up after `timeout`. `allow_http`: the
    /// publish target is a loopback sandbox, so `http://` URLs on loopback
    /// hosts pass (anything else must be HTTPS).
    pub fn new(allow_http: bool, timeout: Duration) -> Result<UrlCheck, StoreError> {
        let client = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout.min(Duration::from_secs(10)))
            .redirect(reqwest::redirect::Policy::limited(5))
            .user_agent(concat!(
                "storyforge/",
                env!("CARGO_PKG_VERSION"),
                " (url check)"
            ))
            .build()
            .map_err(|e| StoreError::Config(format!("cannot build the HTTP client: {e}")))?;
        Ok(UrlCheck { client, allow_http })
    }

    /// Whether plain-HTTP loopback URLs pass.
    pub fn allows_http(&self) -> bool {
        self.allow_http
    }

    /// Fetches `up.url` and checks status, Content-Type, length and sha256.
    pub async fn verify(&self, up: &Uploaded) -> Result<(), StoreError> {
        let shown = redacted(&up.url);
        let fail =
            |problem: String, transient: bool, source: Option<reqwest::Error>| StoreError::Url {
                url: shown.clone(),
                key: up.key.clone(),
                problem,
                transient,
                source: source.map(|e| Box::new(e.without_url()) as _),
            };
        let url =
            Url::parse(&up.url).map_err(|e| fail(format!("not a valid URL ({e})"), false, None))?;
        self.scheme_allowed(&url)
            .map_err(|problem| fail(problem, false, None))?;
        let mut resp = self.client.get(url).send().await.map_err(|e| {
            let problem = if e.is_timeout() {
                "the fetch timed out".to_string()
            } else if e.is_connect() {
                "could not connect (is the server or the sandbox running?)".to_string()
            } else {
                "the fetch failed".to_string()
            };
            fail(problem, true, Some(e))
        })?;
        self.scheme_allowed(resp.url())
            .map_err(|problem| fail(format!("redirected: {problem}"), false, None))?;
        let status = resp.status();
        if status != reqwest::StatusCode::OK {
            let transient = status.is_server_error() || status.as_u16() == 429;
            let hint = match status.as_u16() {
                403 => " (the object is not public: use presigned URLs or a public base URL that serves the bucket)",
                404 => " (wrong public_base_url, or the object is not there)",
                _ => "",
            };
            return Err(fail(
                format!("answered HTTP {status}{hint}"),
                transient,
                None,
            ));
        }
        let content_type = resp
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        let essence = content_type
            .split(';')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase();
        if essence != up.content_type {
            return Err(fail(
                format!(
                    "served as Content-Type `{content_type}`, expected `{}`",
                    up.content_type
                ),
                false,
                None,
            ));
        }
        if let Some(len) = resp.content_length() {
            if len != up.bytes {
                return Err(fail(
                    format!("Content-Length is {len}, the file has {} bytes", up.bytes),
                    false,
                    None,
                ));
            }
        }
        let mut hasher = Sha256::new();
        let mut got = 0u64;
        while let Some(chunk) = resp
            .chunk()
            .await
            .map_err(|e| fail("the body could not be read".into(), true, Some(e)))?
        {
            got += chunk.len() as u64;
            hasher.update(&chunk);
        }
        if got != up.bytes || hex::encode(hasher.finalize()) != up.sha256 {
            return Err(fail(
                format!(
                    "served {got} bytes that differ from the file ({} bytes, sha256 {})",
                    up.bytes, up.sha256
                ),
                false,
                None,
            ));
        }
        Ok(())
    }

    fn scheme_allowed(&self, url: &Url) -> Result<(), String> {
        match url.scheme() {
            "https" => Ok(()),
            "http" if self.allow_http && url.host_str().is_some_and(is_loopback_host) => Ok(()),
            "http" if self.allow_http => Err(
                "plain HTTP is allowed only on loopback (127.0.0.0/8, ::1, localhost)".into(),
            ),
            "http" => Err("plain HTTP: Instagram fetches media over HTTPS only (use --allow-http with a loopback sandbox)".into()),
            other => Err(format!("`{other}:` URL; Instagram fetches media over HTTPS")),
        }
    }
}

/// True for `localhost`, 127.0.0.0/8 and ::1 (brackets and a trailing dot allowed).
pub fn is_loopback_host(host: &str) -> bool {
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let host = host.strip_suffix('.').unwrap_or(host);
    if host.eq_ignore_ascii_case("localhost") {
        return true;
    }
    host.parse::<IpAddr>().is_ok_and(|ip| match ip {
        IpAddr::V4(v4) => v4.is_loopback(),
        IpAddr::V6(v6) => {
            v6.is_loopback() || v6.to_ipv4_mapped().is_some_and(|v4| v4.is_loopback())
        }
    })
}

/// The URL as it may be shown: query values (a presigned signature) and
/// userinfo masked, by the one redactor ([`storyforge_base::util::redact::redact_url`]).
fn redacted(url: &str) -> String {
    storyforge_base::util::redact::redact_url(url)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_hosts() {
        for h in [
            "localhost",
            "LOCALHOST.",
            "127.0.0.1",
            "127.8.9.10",
            "::1",
            "[::1]",
        ] {
            assert!(is_loopback_host(h), "{h}");
        }
        for h in [
            "example.com",
            "10.0.0.1",
            "128.0.0.1",
            "localhost.example.com",
            "::2",
        ] {
            assert!(!is_loopback_host(h), "{h}");
        }
    }

    #[test]
    fn policy() -> Result<(), Box<dyn std::error::Error>> {
        let strict = UrlCheck::new(false, Duration::from_secs(1))?;
        let sandbox = UrlCheck::new(true, Duration::from_secs(1))?;
        let local = Url::parse("http://127.0.0.1:8480/media/a.jpg")?;
        let remote = Url::parse("http://cdn.example.com/a.jpg")?;
        let https = Url::parse("https://cdn.example.com/a.jpg")?;
        assert!(strict.scheme_allowed(&local).is_err());
        assert!(sandbox.scheme_allowed(&local).is_ok());
        assert!(sandbox.scheme_allowed(&remote).is_err());
        assert!(strict.scheme_allowed(&https).is_ok());
        Ok(())
    }

    #[test]
    fn redacts_queries() {
        assert_eq!(
            redacted("https://h/b/k.jpg?X-Amz-Signature=abc&X-Amz-Credential=AKIA"),
            "https://h/b/k.jpg?X-Amz-Signature=***&X-Amz-Credential=***"
        );
        assert_eq!(redacted("https://h/k.jpg"), "https://h/k.jpg");
    }
}
