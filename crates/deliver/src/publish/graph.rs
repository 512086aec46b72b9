//! HTTP calls to the Instagram Graph API → JSON values or a classified
//! [`CallError`]; usage headers are read on every reply. Access tokens ride
//! as the `access_token` parameter (as Meta's reference shows) and never
//! leave this module unredacted: errors carry redacted URLs only. Tokens
//! travel only over HTTPS (plain HTTP only to a loopback sandbox) and never
//! follow a redirect: a 3xx is an error. [`GraphClient::get_all_pages`]
//! follows `paging` cursors, bounded.

use std::sync::Mutex;
use std::time::Duration;

use serde::Deserialize;

use super::errors::{classify, ErrorClass};
use super::redact::{redact, Secret};

/// The error envelope of a Graph API reply: `{"error":{…}}`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct GraphError {
    /// Human text from Meta.
    #[serde(default)]
    pub message: String,
    /// `OAuthException`, `GraphMethodException`…
    #[serde(rename = "type", default)]
    pub kind: String,
    /// Error code (190, 9007…).
    #[serde(default)]
    pub code: i64,
    /// Error subcode (2207027…), when given.
    #[serde(default)]
    pub error_subcode: Option<i64>,
    /// Meta's own hint that a retry may work.
    #[serde(default)]
    pub is_transient: Option<bool>,
    /// Title for people.
    #[serde(default)]
    pub error_user_title: Option<String>,
    /// Message for people.
    #[serde(default)]
    pub error_user_msg: Option<String>,
    /// Meta's trace id, for support requests.
    #[serde(default)]
    pub fbtrace_id: Option<String>,
}

#[derive(Deserialize)]
struct Envelope {
    error: GraphError,
}

impl GraphError {
    /// What to do about it.
    pub fn class(&self) -> ErrorClass {
        classify(self.code, self.error_subcode, self.is_transient)
    }

    /// `code 9007/2207027: Media ID is not available (…)`, redacted.
    pub fn describe(&self) -> String {
        let sub = self
            .error_subcode
            .map(|s| format!("/{s}"))
            .unwrap_or_default();
        let user = self
            .error_user_msg
            .as_deref()
            .or(self.error_user_title.as_deref())
            .map(|m| format!(" ({m})"))
            .unwrap_or_default();
        redact(&format!("code {}{sub}: {}{user}", self.code, self.message))
    }
}

/// Why a call failed.
#[derive(Debug, Clone, thiserror::Error)]
pub enum CallError {
    /// The API answered with an error envelope.
    #[error("Graph API error {}", .error.describe())]
    Api {
        /// HTTP status.
        status: u16,
        /// The envelope.
        error: Box<GraphError>,
        /// Minutes until access returns, from the usage headers.
        regain_minutes: Option<u64>,
    },
    /// No answer: connection refused or dropped, timeout. The request may
    /// or may not have taken effect.
    #[error("no reply from {url}: {reason}")]
    Transport {
        /// The URL, redacted.
        url: String,
        /// What happened (redacted).
        reason: String,
        /// True when the request was certainly not sent (connect failed).
        not_sent: bool,
    },
    /// An answer that is not the JSON the API sends.
    #[error("unexpected reply from {url} (HTTP {status}): {snippet}")]
    BadReply {
        /// The URL, redacted.
        url: String,
        /// HTTP status.
        status: u16,
        /// The start of the body, redacted.
        snippet: String,
    },
    /// A setting that would send tokens in clear text (refused at client
    /// creation).
    #[error("{message}")]
    Insecure {
        /// What is wrong and what to do, naming the setting.
        message: String,
    },
    /// A 3xx answer: never followed, since the request carries a token.
    #[error("{url} answered HTTP {status}, a redirect to {location}; storyforge follows no redirect on a call that carries a token: set `graph.base_url` to the address that answers directly")]
    Redirect {
        /// The URL, redacted.
        url: String,
        /// HTTP status.
        status: u16,
        /// Where it pointed, redacted.
        location: String,
    },
}

impl CallError {
    /// What to do about it.
    pub fn class(&self) -> ErrorClass {
        match self {
            CallError::Api { error, .. } => error.class(),
            CallError::Transport { .. } => ErrorClass::Transient,
            CallError::BadReply { status, .. } if *status >= 500 => ErrorClass::Transient,
            CallError::BadReply { .. } => ErrorClass::FixRequest,
            CallError::Insecure { .. } | CallError::Redirect { .. } => ErrorClass::FixRequest,
        }
    }

    /// The envelope, for API errors.
    pub fn api(&self) -> Option<&GraphError> {
        match self {
            CallError::Api { error, .. } => Some(error),
            _ => None,
        }
    }
}

/// The heaviest use reported by `X-App-Usage` / `X-Business-Use-Case-Usage`.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Usage {
    /// Highest of call count, CPU time and total time, in percent.
    pub percent: f64,
    /// `estimated_time_to_regain_access`, minutes, when non-zero.
    pub regain_minutes: Option<u64>,
}

/// Reads the usage headers (either may be missing; bad JSON is ignored).
pub fn parse_usage(app: Option<&str>, business: Option<&str>) -> Usage {
    let mut usage = Usage::default();
    let mut take = |v: &serde_json::Value| {
        for key in ["call_count", "total_cputime", "total_time"] {
            if let Some(p) = v.get(key).and_then(serde_json::Value::as_f64) {
                usage.percent = usage.percent.max(p);
            }
        }
        if let Some(m) = v
            .get("estimated_time_to_regain_access")
            .and_then(serde_json::Value::as_u64)
            .filter(|&m| m > 0)
        {
            usage.regain_minutes = Some(usage.regain_minutes.unwrap_or(0).max(m));
        }
    };
    if let Some(v) = app.and_then(|s| serde_json::from_str::<serde_json::Value>(s).ok()) {
        take(&v);
    }
    if let Some(serde_json::Value::Object(map)) =
        business.and_then(|s| serde_json::from_str::<serde_json::Value>(s).ok())
    {
        for entries in map.values() {
            for e in entries.as_array().into_iter().flatten() {
                take(e);
            }
        }
    }
    usage
}

/// A Graph API client for one base URL and version.
pub struct GraphClient {
    http: reqwest::Client,
    base: String,
    version: String,
    usage: Mutex<Usage>,
    /// The usage last reported for each token (by a hash of it): the
    /// headers count per app + user, so each account paces itself.
    usage_by_token: Mutex<std::collections::HashMap<u64, Usage>>,
    /// The server's clock less ours, from the `Date` of the last reply.
    clock_offset: Mutex<Option<chrono::Duration>>,
}

/// A token's key in the per-token usage map (the token itself is not kept).
fn token_key(token: &Secret) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    token.expose().hash(&mut h);
    h.finish()
}

/// GET or POST.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    /// Parameters in the query string.
    Get,
    /// Parameters as a form body.
    Post,
}

impl GraphClient {
    /// A client for `base` (e.g. `https://graph.instagram.com`) and
    /// `version` (e.g. `v25.0`); every call times out after `timeout`.
    ///
    /// `base` must be HTTPS, or plain HTTP to a loopback host (a local
    /// sandbox); anything else is refused here, naming `graph.base_url`.
    /// The client follows no redirect.
    pub fn new(base: &str, version: &str, timeout: Duration) -> Result<Self, CallError> {
        check_base_url(base)?;
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(timeout)
            .connect_timeout(timeout.min(Duration::from_secs(10)))
            .user_agent(concat!("storyforge/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| CallError::Transport {
                url: base.to_string(),
                reason: redact(&e.without_url().to_string()),
                not_sent: true,
            })?;
        Ok(GraphClient {
            http,
            base: base.trim_end_matches('/').to_string(),
            version: version.trim_matches('/').to_string(),
            usage: Mutex::new(Usage::default()),
            usage_by_token: Mutex::new(Default::default()),
            clock_offset: Mutex::new(None),
        })
    }

    /// The time now by the server's clock (the `Date` of its last reply,
    /// moved on by our clock since), when a reply has said.
    pub fn server_now(&self) -> Option<chrono::DateTime<chrono::Utc>> {
        let offset = self.clock_offset.lock().ok().and_then(|o| *o)?;
        Some(chrono::Utc::now() + offset)
    }

    /// The usage last reported by the API.
    pub fn usage(&self) -> Usage {
        self.usage.lock().map(|u| *u).unwrap_or_default()
    }

    /// The usage last reported on a call made with `token` (one account's
    /// own pacing).
    pub fn usage_for(&self, token: &Secret) -> Usage {
        self.usage_by_token
            .lock()
            .ok()
            .and_then(|m| m.get(&token_key(token)).copied())
            .unwrap_or_default()
    }

    /// The base URL (no version).
    pub fn base(&self) -> &str {
        &self.base
    }

    /// The API version calls go to (`v25.0`).
    pub fn version(&self) -> &str {
        &self.version
    }

    /// Calls `/{version}/{path}` with `params` and the token.
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        token: &Secret,
        params: &[(&str, &str)],
    ) -> Result<serde_json::Value, CallError> {
        let url = format!(
            "{}/{}/{}",
            self.base,
            self.version,
            path.trim_start_matches('/')
        );
        self.call_url(method, &url, Some(token), params).await
    }

    /// Calls `/{path}` without the version prefix (token refresh lives there).
    pub async fn call_unversioned(
        &self,
        method: Method,
        path: &str,
        token: Option<&Secret>,
        params: &[(&str, &str)],
    ) -> Result<serde_json::Value, CallError> {
        let url = format!("{}/{}", self.base, path.trim_start_matches('/'));
        self.call_url(method, &url, token, params).await
    }

    /// Calls an absolute URL (OAuth endpoints live on other hosts).
    pub async fn call_url(
        &self,
        method: Method,
        url: &str,
        token: Option<&Secret>,
        params: &[(&str, &str)],
    ) -> Result<serde_json::Value, CallError> {
        let mut all: Vec<(&str, &str)> = params.to_vec();
        if let Some(t) = token {
            all.push(("access_token", t.expose()));
        }
        let req = match method {
            Method::Get => self.http.get(url).query(&all),
            Method::Post => self.http.post(url).form(&all),
        };
        let shown = redact(url);
        let resp = req.send().await.map_err(|e| {
            let not_sent = e.is_connect();
            CallError::Transport {
                url: shown.clone(),
                reason: redact(&e.without_url().to_string()),
                not_sent,
            }
        })?;
        let status = resp.status().as_u16();
        let header = |name: &str| {
            resp.headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string)
        };
        let usage = parse_usage(
            header("x-app-usage").as_deref(),
            header("x-business-use-case-usage").as_deref(),
        );
        if let Ok(mut u) = self.usage.lock() {
            *u = usage;
        }
        if let (Some(t), Ok(mut by)) = (token, self.usage_by_token.lock()) {
            by.insert(token_key(t), usage);
        }
        if let Some(server) = header("date")
            .as_deref()
            .and_then(|d| chrono::DateTime::parse_from_rfc2822(d).ok())
        {
            if let Ok(mut o) = self.clock_offset.lock() {
                *o = Some(server.with_timezone(&chrono::Utc) - chrono::Utc::now());
            }
        }
        if (300..400).contains(&status) {
            return Err(CallError::Redirect {
                url: shown,
                status,
                location: redact(&header("location").unwrap_or_else(|| "nowhere".into())),
            });
        }
        let body = resp.bytes().await.map_err(|e| CallError::Transport {
            url: shown.clone(),
            reason: redact(&e.without_url().to_string()),
            not_sent: false,
        })?;
        if let Ok(env) = serde_json::from_slice::<Envelope>(&body) {
            return Err(CallError::Api {
                status,
                error: Box::new(env.error),
                regain_minutes: usage.regain_minutes,
            });
        }
        match serde_json::from_slice::<serde_json::Value>(&body) {
            Ok(v) if (200..300).contains(&status) => Ok(v),
            _ => Err(CallError::BadReply {
                url: shown,
                status,
                snippet: redact(&String::from_utf8_lossy(&body[..body.len().min(200)])),
            }),
        }
    }
}

/// Most pages [`GraphClient::get_all_pages`] reads by default.
pub const MAX_PAGES: usize = 50;

/// Every `data` item of a paged listing.
#[derive(Debug, Clone, PartialEq)]
pub struct Pages {
    /// The items of every page read, in order.
    pub items: Vec<serde_json::Value>,
    /// Pages read.
    pub pages: usize,
    /// True when the page bound stopped the walk before the last page.
    pub truncated: bool,
}

impl GraphClient {
    /// GETs `/{version}/{path}` and follows `paging` to the end, returning
    /// every `data` item; at most `max_pages` pages ([`MAX_PAGES`] is the
    /// usual bound). The next page is asked for with the original
    /// parameters and `after={paging.cursors.after}`; when a reply has only
    /// `paging.next`, that URL is followed if it is on the same scheme,
    /// host and port as `graph.base_url` (the token is never sent
    /// elsewhere), without the `access_token` it carries (ours is added).
    /// A reply without `paging.next` is the last page.
    pub async fn get_all_pages(
        &self,
        path: &str,
        token: &Secret,
        params: &[(&str, &str)],
        max_pages: usize,
    ) -> Result<Pages, CallError> {
        let mut out = Pages {
            items: Vec::new(),
            pages: 0,
            truncated: false,
        };
        let mut reply = self.call(Method::Get, path, token, params).await?;
        let mut seen = std::collections::HashSet::new();
        loop {
            out.pages += 1;
            if let Some(items) = reply.get_mut("data").and_then(|d| d.as_array_mut()) {
                out.items.append(items);
            }
            let paging = reply.get("paging");
            let Some(next) = paging
                .and_then(|p| p.get("next"))
                .and_then(serde_json::Value::as_str)
            else {
                return Ok(out);
            };
            if out.pages >= max_pages {
                out.truncated = true;
                return Ok(out);
            }
            let after = paging
                .and_then(|p| p.pointer("/cursors/after"))
                .and_then(serde_json::Value::as_str)
                .map(str::to_string);
            // A server repeating itself must not loop us.
            if !seen.insert(after.clone().unwrap_or_else(|| next.to_string())) {
                return Ok(out);
            }
            reply = match after {
                Some(cursor) => {
                    let mut p: Vec<(&str, &str)> = params
                        .iter()
                        .filter(|(k, _)| *k != "after")
                        .copied()
                        .collect();
                    p.push(("after", cursor.as_str()));
                    self.call(Method::Get, path, token, &p).await?
                }
                None => {
                    let url = self.same_origin(next).ok_or_else(|| CallError::BadReply {
                        url: redact(next),
                        status: 200,
                        snippet: "paging.next points to another host; not followed".into(),
                    })?;
                    self.call_url(Method::Get, &url, Some(token), &[]).await?
                }
            };
        }
    }

    /// `next` without its `access_token`, when it is on the base URL's
    /// scheme, host and port.
    fn same_origin(&self, next: &str) -> Option<String> {
        let base = reqwest::Url::parse(&self.base).ok()?;
        let mut url = reqwest::Url::parse(next).ok()?;
        if url.origin() != base.origin() {
            return None;
        }
        let kept: Vec<(String, String)> = url
            .query_pairs()
            .filter(|(k, _)| k != "access_token")
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();
        url.set_query(None);
        if !kept.is_empty() {
            url.query_pairs_mut().extend_pairs(kept);
        }
        Some(url.to_string())
    }
}

/// Refuses a base URL that would carry tokens in clear text: HTTPS, or
/// plain HTTP to a loopback host only.
fn check_base_url(base: &str) -> Result<(), CallError> {
    let shown = redact(base);
    let url = reqwest::Url::parse(base).map_err(|e| CallError::Insecure {
        message: format!(
            "graph.base_url {shown:?} is not a URL ({e}); write https://graph.instagram.com (or `sandbox`)"
        ),
    })?;
    let loopback = url
        .host_str()
        .is_some_and(crate::storage::url_check::is_loopback_host);
    match url.scheme() {
        "https" => Ok(()),
        "http" if loopback => Ok(()),
        scheme => Err(CallError::Insecure {
            message: format!(
                "graph.base_url {shown} uses {scheme}://, which would send access tokens in clear text; use https:// (plain http is allowed only on loopback, for a local sandbox)"
            ),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base_url_must_be_https_unless_loopback() {
        let t = Duration::from_secs(1);
        for ok in [
            "https://graph.instagram.com",
            "http://127.0.0.1:8480",
            "http://localhost:9/",
            "http://[::1]:80",
        ] {
            assert!(GraphClient::new(ok, "v25.0", t).is_ok(), "{ok}");
        }
        for bad in ["http://graph.instagram.com", "ftp://h/x", "http://10.0.0.1"] {
            let err = GraphClient::new(bad, "v25.0", t)
                .err()
                .expect("refused")
                .to_string();
            assert!(err.contains("graph.base_url"), "{err}");
        }
    }

    #[test]
    fn usage_headers_take_the_heaviest_figure() {
        let biz = r#"{"17841400455970028":[{"type":"instagram","call_count":12,"total_cputime":29,"total_time":10,"estimated_time_to_regain_access":0}]}"#;
        let u = parse_usage(
            Some(r#"{"call_count":85,"total_cputime":1,"total_time":2}"#),
            Some(biz),
        );
        assert_eq!(u.percent, 85.0);
        assert_eq!(u.regain_minutes, None);
        let blocked = r#"{"1":[{"call_count":100,"estimated_time_to_regain_access":7}]}"#;
        assert_eq!(parse_usage(None, Some(blocked)).regain_minutes, Some(7));
        assert_eq!(parse_usage(Some("junk"), Some("[1]")), Usage::default());
    }
}
