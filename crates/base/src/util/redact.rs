//! Secrets in, harmless text out, in ONE place: a [`Secret`] that never
//! prints; [`redact_url`] for any URL that is shown (the password of the
//! userinfo and every query value become `***`, so presigned S3 signatures,
//! API keys and tokens never leak); and [`redact`] for any text that might
//! carry them (access tokens, app secrets and OAuth codes become
//! `[redacted]`, and every URL inside is passed through [`redact_url`]).

/// A token or app secret: its `Debug` and `Display` print `[redacted]`.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps `value`.
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into().trim().to_string())
    }

    /// The value, for the one place that sends it.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("[redacted]")
    }
}

impl std::fmt::Display for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("[redacted]")
    }
}

/// Parameter names whose values are secret.
const SECRET_KEYS: [&str; 5] = [
    "access_token",
    "client_secret",
    "code",
    "input_token",
    "fb_exchange_token",
];

/// Replaces the values of secret parameters (`access_token=…` in URLs and
/// form bodies, `"access_token":"…"` in JSON) and bearer tokens, and
/// redacts every `http://` / `https://` URL in the text ([`redact_url`]).
pub fn redact(text: &str) -> String {
    let mut out = text.to_string();
    for key in SECRET_KEYS {
        out = redact_after(&out, &format!("{key}="), |c| {
            c == '&' || c == '#' || c.is_whitespace() || c == '"' || c == '\''
        });
        out = redact_after(&out, &format!("\"{key}\":\""), |c| c == '"');
        out = redact_after(&out, &format!("\"{key}\": \""), |c| c == '"');
    }
    out = redact_after(&out, "Bearer ", |c| {
        c.is_whitespace() || c == '"' || c == '\''
    });
    redact_urls_in(&out)
}

fn redact_after(text: &str, marker: &str, end: impl Fn(char) -> bool) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find(marker) {
        // `code=` must be a whole parameter name (not `error_code=`).
        let whole = i == 0
            || !rest[..i]
                .chars()
                .next_back()
                .is_some_and(|c| c.is_ascii_alphanumeric() || c == '_');
        out.push_str(&rest[..i + marker.len()]);
        let after = &rest[i + marker.len()..];
        let stop = after.find(&end).unwrap_or(after.len());
        if whole && stop > 0 {
            out.push_str("[redacted]");
        } else {
            out.push_str(&after[..stop]);
        }
        rest = &after[stop..];
    }
    out.push_str(rest);
    out
}

/// `scheme://authority/path`, the query (without `?`) and `#fragment`.
fn split_url(url: &str) -> (&str, Option<&str>, &str) {
    let (before_fragment, fragment) = match url.find('#') {
        Some(i) => url.split_at(i),
        None => (url, ""),
    };
    match before_fragment.find('?') {
        Some(i) => (
            &before_fragment[..i],
            Some(&before_fragment[i + 1..]),
            fragment,
        ),
        None => (before_fragment, None, fragment),
    }
}

/// Query parameters that carry a credential or a signature rather than
/// saying *what* is fetched (case-insensitive; `X-Amz-*`, `X-Goog-*` by
/// prefix): [`stable_url`] drops them, so they are never stored and a new
/// signature is not a new feed or Story.
const SIGNATURE_PARAMS: [&str; 22] = [
    "access_token",
    "api_key",
    "apikey",
    "api-key",
    "auth",
    "client_secret",
    "code",
    "credential",
    "expires",
    "key",
    "key-pair-id",
    "password",
    "policy",
    "se",
    "secret",
    "sig",
    "signature",
    "sp",
    "st",
    "sv",
    "token",
    "x-api-key",
];

fn is_signature_param(name: &str) -> bool {
    let n = name.to_ascii_lowercase();
    n.starts_with("x-amz-") || n.starts_with("x-goog-") || SIGNATURE_PARAMS.contains(&n.as_str())
}

/// A URL as an identity keeps it: scheme, host, path, the query without
/// credential or signature parameters, and the `#fragment` (a feed's JSON
/// pointer); the userinfo goes. Two URLs that differ only in what they ask
/// for (`?store=berlin`, `?store=paris`) stay apart; two that differ only
/// in their signature are the same.
pub fn stable_url(url: &str) -> String {
    let (base, query, fragment) = split_url(url);
    let mut out = match base.split_once("://") {
        Some((scheme, rest)) => {
            let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
            let host = authority.rsplit('@').next().unwrap_or(authority);
            format!("{scheme}://{host}{path}")
        }
        None => base.to_string(),
    };
    let kept: Vec<&str> = query
        .unwrap_or("")
        .split('&')
        .filter(|pair| {
            let name = pair.split('=').next().unwrap_or("");
            !pair.is_empty() && !is_signature_param(name)
        })
        .collect();
    if !kept.is_empty() {
        out.push('?');
        out.push_str(&kept.join("&"));
    }
    out.push_str(fragment);
    out
}

/// What a hidden part of a URL becomes.
pub const MASK: &str = "***";

/// A URL as it may be shown: `https://u:***@host/feed.csv?key=***&page=***`.
/// The userinfo's password (or a lone user name, which is often a token)
/// and every query value are masked: that covers API keys, access tokens
/// and presigned S3 URLs (`X-Amz-Signature`, `X-Amz-Credential`,
/// `X-Amz-Security-Token`). The scheme, host, path, parameter names and a
/// `#fragment` (a feed's JSON pointer) stay readable. Works on text that is
/// not a valid URL too; it never fails.
pub fn redact_url(url: &str) -> String {
    let (base, query, fragment) = split_url(url);
    let mut out = String::with_capacity(url.len());
    match base.find("://") {
        Some(s) => {
            let (scheme, rest) = base.split_at(s + 3);
            out.push_str(scheme);
            let auth_end = rest.find('/').unwrap_or(rest.len());
            let (authority, path) = rest.split_at(auth_end);
            match authority.rfind('@') {
                Some(at) => {
                    let (userinfo, host) = authority.split_at(at);
                    match userinfo.split_once(':') {
                        Some((user, _)) => {
                            out.push_str(user);
                            out.push(':');
                            out.push_str(MASK);
                        }
                        None => out.push_str(MASK),
                    }
                    out.push_str(host);
                }
                None => out.push_str(authority),
            }
            out.push_str(path);
        }
        None => out.push_str(base),
    }
    if let Some(q) = query {
        out.push('?');
        let masked: Vec<String> = q
            .split('&')
            .map(|pair| match pair.split_once('=') {
                Some((k, v)) if !v.is_empty() => format!("{k}={MASK}"),
                Some((k, _)) => format!("{k}="),
                None if pair.is_empty() => String::new(),
                None => MASK.to_string(),
            })
            .collect();
        out.push_str(&masked.join("&"));
    }
    out.push_str(fragment);
    out
}

/// Every `http://` or `https://` URL in `text` through [`redact_url`]; a
/// URL ends at whitespace, a quote, `<`, `>`, `)` or a backtick (trailing
/// `.,:;!` are left outside it).
fn redact_urls_in(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    loop {
        let next = ["https://", "http://"]
            .iter()
            .filter_map(|s| rest.find(s))
            .min();
        let Some(start) = next else {
            out.push_str(rest);
            return out;
        };
        out.push_str(&rest[..start]);
        let tail = &rest[start..];
        let end = tail
            .find(|c: char| c.is_whitespace() || "\"'<>)`".contains(c))
            .unwrap_or(tail.len());
        // Sentence punctuation after a URL is not part of it.
        let end = tail[..end]
            .trim_end_matches(['.', ',', ':', ';', '!'])
            .len();
        out.push_str(&redact_url(&tail[..end]));
        rest = &tail[end..];
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_never_survive() {
        let url = "https://graph.instagram.com/v25.0/me?fields=id&access_token=IGQVJtoken123&x=1";
        assert_eq!(
            redact(url),
            "https://graph.instagram.com/v25.0/me?fields=***&access_token=***&x=***"
        );
        assert_eq!(
            redact("fields=id&access_token=IGQVJtoken123"),
            "fields=id&access_token=[redacted]"
        );
        let body = r#"{"access_token":"IGQ-long","token_type":"bearer"}"#;
        assert!(!redact(body).contains("IGQ-long"));
        assert!(!redact("client_secret=s3cr3t&code=AQB#_").contains("s3cr3t"));
        assert!(!redact("code=AQBx").contains("AQBx"));
        assert_eq!(redact("error_code=5"), "error_code=5");
        assert!(!redact("Authorization: Bearer abc.def").contains("abc.def"));
        assert_eq!(format!("{:?}", Secret::new("tok")), "[redacted]");
    }

    #[test]
    fn urls_lose_userinfo_and_query_values() {
        assert_eq!(
            redact_url("https://u:pa55@host/feed.csv?key=K3Y&page=2"),
            "https://u:***@host/feed.csv?key=***&page=***"
        );
        assert_eq!(
            redact_url("https://TOKEN@host/a.json#/data/items"),
            "https://***@host/a.json#/data/items"
        );
        assert_eq!(redact_url("https://h/k.jpg"), "https://h/k.jpg");
        assert_eq!(redact_url("not a url"), "not a url");
        let presigned =
            "https://b.s3.eu-west-1.amazonaws.com/k.jpg?X-Amz-Algorithm=AWS4-HMAC-SHA256\
            &X-Amz-Credential=AKIAEXAMPLE%2F20261203%2Feu-west-1%2Fs3%2Faws4_request\
            &X-Amz-Security-Token=FwoGZXIvYXdzEXAMPLE&X-Amz-Signature=abc123def";
        let shown = redact_url(presigned);
        for secret in ["AKIAEXAMPLE", "FwoGZXIvYXdzEXAMPLE", "abc123def"] {
            assert!(!shown.contains(secret), "{shown}");
        }
        assert!(shown.contains("X-Amz-Signature=***"), "{shown}");
    }

    #[test]
    fn stable_urls_keep_what_is_asked_and_drop_signatures() {
        assert_eq!(
            stable_url("https://u:pw@h/p.json?store=berlin&api_key=K&X-Amz-Signature=S#/items"),
            "https://h/p.json?store=berlin#/items"
        );
        assert_eq!(
            stable_url("https://h/a.jpg?sig=1&token=2"),
            "https://h/a.jpg"
        );
        assert_eq!(stable_url("https://h/a.jpg"), "https://h/a.jpg");
    }

    #[test]
    fn urls_inside_text_are_redacted() {
        let text = "row 3: cannot fetch https://u:pw@h/f.csv?key=abc: timed out";
        assert_eq!(
            redact(text),
            "row 3: cannot fetch https://u:***@h/f.csv?key=***: timed out"
        );
    }
}
