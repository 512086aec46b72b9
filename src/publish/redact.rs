//! Secrets in, harmless text out: a [`Secret`] that never prints, and
//! [`redact`] for any URL or body that might be shown (access tokens, app
//! secrets and OAuth codes become `[redacted]`).

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
/// form bodies, `"access_token":"…"` in JSON) and bearer tokens.
pub fn redact(text: &str) -> String {
    let mut out = text.to_string();
    for key in SECRET_KEYS {
        out = redact_after(&out, &format!("{key}="), |c| {
            c == '&' || c == '#' || c.is_whitespace() || c == '"' || c == '\''
        });
        out = redact_after(&out, &format!("\"{key}\":\""), |c| c == '"');
        out = redact_after(&out, &format!("\"{key}\": \""), |c| c == '"');
    }
    redact_after(&out, "Bearer ", |c| {
        c.is_whitespace() || c == '"' || c == '\''
    })
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_never_survive() {
        let url = "https://graph.instagram.com/v25.0/me?fields=id&access_token=IGQVJtoken123&x=1";
        assert_eq!(
            redact(url),
            "https://graph.instagram.com/v25.0/me?fields=id&access_token=[redacted]&x=1"
        );
        let body = r#"{"access_token":"IGQ-long","token_type":"bearer"}"#;
        assert!(!redact(body).contains("IGQ-long"));
        assert!(!redact("client_secret=s3cr3t&code=AQB#_").contains("s3cr3t"));
        assert!(!redact("code=AQBx").contains("AQBx"));
        assert_eq!(redact("error_code=5"), "error_code=5");
        assert!(!redact("Authorization: Bearer abc.def").contains("abc.def"));
        assert_eq!(format!("{:?}", Secret::new("tok")), "[redacted]");
    }
}
