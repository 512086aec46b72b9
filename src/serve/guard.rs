//! Every request → refused, or passed on: the `Host` must be one of the
//! dashboard's loopback names (DNS rebinding), the session cookie must be
//! there (or the access key, which is exchanged for it and taken out of the
//! address bar by a redirect), and a request that changes state must carry
//! the CSRF token and come from the dashboard's own origin.

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::Shared;

/// The session cookie's name, with the port after it (cookies ignore
/// ports: two dashboards on one host keep their sessions apart).
pub const COOKIE: &str = "storyforge_session";

fn cookie_name(app: &super::App) -> String {
    format!("{COOKIE}_{}", app.port)
}

/// The header that carries the CSRF token.
pub const CSRF_HEADER: &str = "x-csrf-token";

/// Compares secrets in time that does not depend on where they differ.
pub fn same(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

/// The value of cookie `name` in a `Cookie` header.
fn cookie<'a>(headers: &'a axum::http::HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

/// A plain refusal page: the status and one line saying what to do.
fn refuse(status: StatusCode, line: &str) -> Response {
    let body = super::html::page_bare("storyforge: refused", &super::html::escape(line));
    (status, [(header::CACHE_CONTROL, "no-store")], body).into_response()
}

/// The checks above, then the handler.
pub async fn guard(State(app): State<Shared>, req: Request, next: Next) -> Response {
    let host = req
        .headers()
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("");
    if !app.hosts.iter().any(|h| h.eq_ignore_ascii_case(host)) {
        return refuse(
            StatusCode::MISDIRECTED_REQUEST,
            "This dashboard answers only to its loopback address (Host header refused). Open the URL storyforge serve printed.",
        );
    }
    // The key is hex: no decoding needed.
    let query_key = req.uri().query().and_then(|q| {
        q.split('&')
            .filter_map(|pair| pair.split_once('='))
            .find(|(k, _)| *k == "key")
            .map(|(_, v)| v.to_string())
    });
    if let Some(key) = query_key {
        if !same(&key, &app.key) {
            return refuse(
                StatusCode::UNAUTHORIZED,
                "Wrong access key. Open the URL storyforge serve printed.",
            );
        }
        // The key is traded for the cookie and leaves the address bar.
        let cookie = format!(
            "{}={}; HttpOnly; SameSite=Strict; Path=/",
            cookie_name(&app),
            app.session
        );
        let mut res = Response::new(Body::empty());
        *res.status_mut() = StatusCode::SEE_OTHER;
        let path = req.uri().path().to_string();
        if let (Ok(c), Ok(l)) = (HeaderValue::from_str(&cookie), HeaderValue::from_str(&path)) {
            res.headers_mut().insert(header::SET_COOKIE, c);
            res.headers_mut().insert(header::LOCATION, l);
        }
        return res;
    }
    if !cookie(req.headers(), &cookie_name(&app)).is_some_and(|c| same(c, &app.session)) {
        return refuse(
            StatusCode::UNAUTHORIZED,
            "This dashboard needs its access key. Open the URL storyforge serve printed (it ends in ?key=…).",
        );
    }
    if !matches!(*req.method(), Method::GET | Method::HEAD) {
        let token_ok = req
            .headers()
            .get(CSRF_HEADER)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|t| same(t, &app.csrf));
        let origin_ok = req
            .headers()
            .get(header::ORIGIN)
            .and_then(|v| v.to_str().ok())
            .is_none_or(|o| {
                let o = o.trim_start_matches("http://");
                app.hosts.iter().any(|h| h.eq_ignore_ascii_case(o))
            });
        if !token_ok || !origin_ok {
            return refuse(
                StatusCode::FORBIDDEN,
                "Missing or wrong CSRF token: reload the page and try again.",
            );
        }
    }
    let mut res = next.run(req).await;
    let h = res.headers_mut();
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'self'; img-src 'self' data: blob:; style-src 'self'; script-src 'self'; frame-ancestors 'none'",
        ),
    );
    res
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_compare_whole() {
        assert!(same("abc", "abc"));
        assert!(!same("abc", "abd"));
        assert!(!same("abc", "ab"));
        assert!(!same("", "a"));
    }

    #[test]
    fn cookies_are_found_among_others() {
        let mut h = axum::http::HeaderMap::new();
        h.insert(
            header::COOKIE,
            HeaderValue::from_static("a=1; storyforge_session_8490=xyz; b=2"),
        );
        assert_eq!(cookie(&h, "storyforge_session_8490"), Some("xyz"));
        assert_eq!(cookie(&h, "c"), None);
    }
}
