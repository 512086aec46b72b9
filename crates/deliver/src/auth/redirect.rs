//! The browser half of a login: the authorisation URL with a fresh
//! `state`, and the redirect that brings the code back (caught on a
//! loopback listener, or pasted), checked against that `state`.

use std::time::Duration;

use reqwest::Url;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

use super::{AppSettings, AuthError, SCOPES};
use crate::publish::redact::{redact, Secret};

/// One login attempt: the URL to open and the `state` it carries.
#[derive(Debug, Clone)]
pub struct AuthRequest {
    /// The authorisation window's URL.
    pub url: String,
    /// The random `state` the redirect must bring back.
    pub state: String,
}

/// The authorisation URL for `app` with a fresh random `state`.
pub fn authorize_request(app: &AppSettings) -> Result<AuthRequest, AuthError> {
    app.check()?;
    // 128 bits from the OS CSPRNG: a forged redirect cannot guess it.
    let mut raw = [0u8; 16];
    getrandom::fill(&mut raw)
        .map_err(|e| AuthError::Settings(format!("the OS random source failed: {e}")))?;
    let state = hex::encode(raw);
    let mut url = Url::parse(&app.authorize_url)
        .map_err(|e| AuthError::Settings(format!("`app.authorize_url`: {e}")))?;
    url.query_pairs_mut()
        .append_pair("client_id", &app.app_id)
        .append_pair("redirect_uri", &app.redirect_uri)
        .append_pair("response_type", "code")
        .append_pair("scope", &SCOPES.join(","))
        .append_pair("state", &state);
    Ok(AuthRequest {
        url: url.to_string(),
        state,
    })
}

/// The code in a redirect URL (`…?code=…&state=…#_`), after checking
/// `state` first: a redirect without this login's `state` is refused as
/// [`AuthError::StateMismatch`] whatever it says, `error=` included, so
/// only the real login window can report a refusal.
pub fn parse_redirect(redirect: &str, expected_state: &str) -> Result<Secret, AuthError> {
    let trimmed = redirect.trim();
    let trimmed = trimmed.strip_suffix("#_").unwrap_or(trimmed);
    let url = Url::parse(trimmed).map_err(|e| {
        AuthError::Redirect(format!(
            "not a URL ({e}); paste the whole address the browser landed on"
        ))
    })?;
    let param = |k: &str| {
        url.query_pairs()
            .find(|(key, _)| key == k)
            .map(|(_, v)| v.into_owned())
    };
    if param("state").as_deref() != Some(expected_state) {
        return Err(AuthError::StateMismatch);
    }
    if let Some(err) = param("error") {
        let why = param("error_description")
            .or_else(|| param("error_reason"))
            .unwrap_or_default();
        return Err(AuthError::Denied(redact(&format!("{err}: {why}"))));
    }
    let code = param("code")
        .map(|c| Secret::new(c.trim_end_matches("#_")))
        .filter(|c| !c.is_empty())
        .ok_or_else(|| AuthError::Redirect("the URL carries no `code`".into()))?;
    Ok(code)
}

/// Binds the loopback address of `redirect_uri` (`http://127.0.0.1:PORT/…`).
pub async fn bind_loopback(redirect_uri: &str) -> Result<TcpListener, AuthError> {
    let url = Url::parse(redirect_uri)
        .map_err(|e| AuthError::Settings(format!("`app.redirect_uri`: {e}")))?;
    let host = url.host_str().unwrap_or("");
    if url.scheme() != "http" || !crate::storage::is_loopback_host(host) {
        return Err(AuthError::Settings(format!(
            "`app.redirect_uri` {redirect_uri} is not a loopback http:// URI; use --paste"
        )));
    }
    let port = url.port_or_known_default().unwrap_or(80);
    let addr = format!("{}:{port}", host.trim_matches(['[', ']']));
    TcpListener::bind(&addr)
        .await
        .map_err(|e| AuthError::Listener {
            addr,
            reason: e.to_string(),
        })
}

const PAGE_OK: &str = "<!doctype html><title>storyforge</title><h1>Logged in</h1><p>You can close this window and return to storyforge.</p>";
const PAGE_FAIL: &str = "<!doctype html><title>storyforge</title><h1>Login failed</h1><p>See the terminal running storyforge.</p>";
const PAGE_FOREIGN: &str = "<!doctype html><title>storyforge</title><h1>Not this login</h1><p>This request does not carry the state of the login storyforge started, so it was ignored; the login is still waiting for the Instagram window.</p>";

/// Waits on `listener` for the login window's redirect to `redirect_uri`'s
/// path, answers a small page, and returns the checked code. Other paths
/// (a browser's `/favicon.ico`) get a 404 and the wait goes on; so does a
/// callback with a wrong or missing `state` (`error=` included), answered
/// with an error page: any local page hitting the callback cannot end or
/// abort the login.
pub async fn await_redirect(
    listener: &TcpListener,
    redirect_uri: &str,
    expected_state: &str,
    timeout: Duration,
) -> Result<Secret, AuthError> {
    let base = Url::parse(redirect_uri)
        .map_err(|e| AuthError::Settings(format!("`app.redirect_uri`: {e}")))?;
    let shown = listener
        .local_addr()
        .map(|a| a.to_string())
        .unwrap_or_default();
    let wait = async {
        loop {
            let (mut sock, _) = listener.accept().await.map_err(|e| AuthError::Listener {
                addr: shown.clone(),
                reason: e.to_string(),
            })?;
            let mut buf = Vec::new();
            let mut chunk = [0u8; 2048];
            while !buf.windows(4).any(|w| w == b"\r\n\r\n") && buf.len() < 16 * 1024 {
                match tokio::time::timeout(Duration::from_secs(5), sock.read(&mut chunk)).await {
                    Ok(Ok(n)) if n > 0 => buf.extend_from_slice(&chunk[..n]),
                    _ => break,
                }
            }
            let head = String::from_utf8_lossy(&buf);
            let target = head
                .lines()
                .next()
                .and_then(|l| l.split_whitespace().nth(1))
                .unwrap_or("/")
                .to_string();
            let path = target.split('?').next().unwrap_or("");
            if path != base.path() {
                let _ = sock
                    .write_all(
                        b"HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\nconnection: close\r\n\r\n",
                    )
                    .await;
                continue;
            }
            let full = base
                .join(&target)
                .map(|u| u.to_string())
                .unwrap_or_default();
            let result = parse_redirect(&full, expected_state);
            let (status, page) = match &result {
                Ok(_) => ("200 OK", PAGE_OK),
                Err(AuthError::StateMismatch) => ("400 Bad Request", PAGE_FOREIGN),
                Err(_) => ("200 OK", PAGE_FAIL),
            };
            let reply = format!(
                "HTTP/1.1 {status}\r\ncontent-type: text/html; charset=utf-8\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{page}",
                page.len()
            );
            let _ = sock.write_all(reply.as_bytes()).await;
            let _ = sock.shutdown().await;
            if matches!(result, Err(AuthError::StateMismatch)) {
                tracing::warn!("ignored a callback without this login's state");
                continue;
            }
            return result;
        }
    };
    tokio::time::timeout(timeout, wait)
        .await
        .map_err(|_| AuthError::Timeout(shown.clone()))?
}

/// Where the redirect comes from.
#[derive(Debug)]
pub enum RedirectSource<'a> {
    /// Caught on this loopback listener, within the timeout.
    Loopback(&'a TcpListener, Duration),
    /// The redirect URL the user pasted.
    Pasted(String),
}
