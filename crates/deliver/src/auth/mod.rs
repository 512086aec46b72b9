//! Business Login for Instagram, client side: the `app:` settings → an
//! authorisation URL with a random `state` → the redirect (caught on a
//! loopback listener, or pasted) → a short-lived token → a 60-day token →
//! the account behind it, refusing PERSONAL accounts. The app secret and
//! the tokens travel as [`Secret`]s; errors carry redacted text only.
//!
//! This module shares nothing with `storyforge_sandbox`: the emulator and the
//! client must not share a misreading of the OAuth flow.

use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use reqwest::Url;
use serde::{Deserialize, Serialize};

use crate::ledger::{Ledger, LedgerError, TokenRecord};
use crate::publish::graph::{CallError, GraphClient, Method};
use crate::publish::redact::{redact, Secret};
use crate::publish::{secs, GraphSettings};

mod redirect;
pub use redirect::{
    authorize_request, await_redirect, bind_loopback, parse_redirect, AuthRequest, RedirectSource,
};

/// The scopes storyforge asks for: read the account, publish content.
pub const SCOPES: [&str; 2] = [
    "instagram_business_basic",
    "instagram_business_content_publish",
];
/// The scope without which nothing can be published.
pub const PUBLISH_SCOPE: &str = "instagram_business_content_publish";
/// Why a PERSONAL account is refused (the seed article's set-up section).
pub const PERSONAL_EXPLANATION: &str = "Personal accounts cannot use the Instagram Graph API. Switch to Business/Creator: in the Instagram app, Settings → Account type and tools → Switch to professional account, then log in again";
/// Lifetime assumed when the long-lived exchange does not say (60 days).
const DEFAULT_LONG_LIVED_SECS: i64 = 5_184_000;

fn default_secret_env() -> Option<String> {
    Some("STORYFORGE_APP_SECRET".into())
}
fn default_redirect() -> String {
    "http://127.0.0.1:8765/callback".into()
}
fn default_authorize() -> String {
    "https://www.instagram.com/oauth/authorize".into()
}
fn default_token_url() -> String {
    "https://api.instagram.com/oauth/access_token".into()
}

/// The `app:` section of storyforge.yaml: the Meta app that logs accounts in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AppSettings {
    /// The Instagram app id (`client_id`). Default: none (needed for `auth login`).
    pub app_id: String,
    /// Environment variable holding the app secret. Default: `STORYFORGE_APP_SECRET`.
    pub app_secret_env: Option<String>,
    /// File holding the app secret; read before `app_secret_env`. Default: none.
    pub app_secret_file: Option<PathBuf>,
    /// Where the login window sends the code; a loopback `http://` URI is
    /// caught by `auth login` itself. Default: `http://127.0.0.1:8765/callback`.
    pub redirect_uri: String,
    /// The authorisation window. Default: `https://www.instagram.com/oauth/authorize`.
    pub authorize_url: String,
    /// Code → short-lived token. Default: `https://api.instagram.com/oauth/access_token`.
    pub token_url: String,
}

impl Default for AppSettings {
    fn default() -> Self {
        AppSettings {
            app_id: String::new(),
            app_secret_env: default_secret_env(),
            app_secret_file: None,
            redirect_uri: default_redirect(),
            authorize_url: default_authorize(),
            token_url: default_token_url(),
        }
    }
}

/// Why a login failed. Messages never hold a token, code or secret.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    /// The `app:` settings are incomplete.
    #[error("app settings: {0}")]
    Settings(String),
    /// The app secret could not be read.
    #[error("app secret: {0}; put it in the environment variable `app.app_secret_env` names or the file `app.app_secret_file` names (never on the command line)")]
    Secret(String),
    /// The redirect is not what the login window sends.
    #[error("redirect: {0}")]
    Redirect(String),
    /// The redirect's `state` is not the one sent: possibly a forged request.
    #[error("redirect: the state does not match the one this login sent; start `storyforge auth login` again (an old or forged redirect)")]
    StateMismatch,
    /// The user declined, or Instagram refused, the authorisation.
    #[error("authorisation refused: {0}")]
    Denied(String),
    /// No redirect arrived in time.
    #[error("no redirect arrived on {0} in time; use --paste to paste the redirect URL instead")]
    Timeout(String),
    /// The loopback listener failed.
    #[error("loopback listener {addr}: {reason}")]
    Listener {
        /// The address.
        addr: String,
        /// Why it failed, in words for the user.
        reason: String,
    },
    /// The code → short-lived token exchange failed.
    #[error("code exchange at {url} failed: {reason}")]
    CodeExchange {
        /// The token URL.
        url: String,
        /// Why (redacted).
        reason: String,
    },
    /// A Graph call (long-lived exchange, `/me`) failed.
    #[error("{step} failed: {source}")]
    Graph {
        /// What was being done.
        step: &'static str,
        /// The error underneath, kept as the source.
        #[source]
        source: CallError,
    },
    /// The account is PERSONAL.
    #[error("@{username} is a PERSONAL account. {}", PERSONAL_EXPLANATION)]
    Personal {
        /// The username.
        username: String,
    },
    /// The token could not be stored.
    #[error("cannot write the token file {path}: {reason}")]
    Store {
        /// The file.
        path: String,
        /// Why it failed, in words for the user.
        reason: String,
    },
    /// The ledger failed.
    #[error(transparent)]
    Ledger(#[from] LedgerError),
}

impl AppSettings {
    /// Reads the app secret: the file when set, else the environment variable.
    pub fn secret(&self) -> Result<Secret, AuthError> {
        if let Some(path) = &self.app_secret_file {
            let text = std::fs::read_to_string(path)
                .map_err(|e| AuthError::Secret(format!("cannot read {}: {e}", path.display())))?;
            let s = Secret::new(text);
            if s.is_empty() {
                return Err(AuthError::Secret(format!("{} is empty", path.display())));
            }
            return Ok(s);
        }
        let Some(var) = &self.app_secret_env else {
            return Err(AuthError::Secret("no source set".into()));
        };
        match std::env::var(var) {
            Ok(v) if !v.trim().is_empty() => Ok(Secret::new(v)),
            _ => Err(AuthError::Secret(format!(
                "environment variable {var} is not set"
            ))),
        }
    }

    fn check(&self) -> Result<(), AuthError> {
        if self.app_id.trim().is_empty() {
            return Err(AuthError::Settings(
                "`app.app_id` is not set; copy the Instagram app id from the Meta app dashboard (Instagram → API setup with Instagram login)".into(),
            ));
        }
        Url::parse(&self.redirect_uri)
            .map_err(|e| AuthError::Settings(format!("`app.redirect_uri`: {e}")))?;
        Ok(())
    }
}

/// A successful login: the long-lived token and the account behind it.
#[derive(Debug, Clone)]
pub struct Login {
    /// The Instagram professional account id.
    pub user_id: String,
    /// The username.
    pub username: String,
    /// `BUSINESS` or `MEDIA_CREATOR`.
    pub account_type: String,
    /// Scopes granted, as the code exchange reported them.
    pub permissions: Vec<String>,
    /// The 60-day token.
    pub token: Secret,
    /// Seconds until it expires.
    pub expires_in: i64,
}

/// The whole login after the window: redirect → code → short-lived token →
/// long-lived token → `/me`, refusing PERSONAL accounts.
pub async fn login(
    app: &AppSettings,
    graph: &GraphSettings,
    secret: &Secret,
    request: &AuthRequest,
    source: RedirectSource<'_>,
) -> Result<Login, AuthError> {
    app.check()?;
    let code = match source {
        RedirectSource::Pasted(url) => parse_redirect(&url, &request.state)?,
        RedirectSource::Loopback(listener, timeout) => {
            await_redirect(listener, &app.redirect_uri, &request.state, timeout).await?
        }
    };
    let (short, permissions) = exchange_code(app, graph, secret, &code).await?;
    let client = GraphClient::new(&graph.base_url, &graph.version, secs(graph.timeout)).map_err(
        |source| AuthError::Graph {
            step: "the HTTP client",
            source,
        },
    )?;
    let long = client
        .call_unversioned(
            Method::Get,
            "access_token",
            Some(&short),
            &[
                ("grant_type", "ig_exchange_token"),
                ("client_secret", secret.expose()),
            ],
        )
        .await
        .map_err(|source| AuthError::Graph {
            step: "the long-lived token exchange",
            source,
        })?;
    let token = long
        .get("access_token")
        .and_then(|t| t.as_str())
        .map(Secret::new)
        .filter(|t| !t.is_empty())
        .ok_or_else(|| AuthError::Graph {
            step: "the long-lived token exchange",
            source: CallError::BadReply {
                url: format!("{}/access_token", client.base()),
                status: 200,
                snippet: "no access_token in the reply".into(),
            },
        })?;
    let expires_in = long
        .get("expires_in")
        .and_then(|e| e.as_i64())
        .unwrap_or(DEFAULT_LONG_LIVED_SECS);
    let me = me(&client, &token).await?;
    if me.account_type == "PERSONAL" {
        return Err(AuthError::Personal {
            username: me.username,
        });
    }
    Ok(Login {
        user_id: me.user_id,
        username: me.username,
        account_type: me.account_type,
        permissions,
        token,
        expires_in,
    })
}

/// What `/me` says about a token's account.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Me {
    /// The Instagram professional account id.
    pub user_id: String,
    /// The username.
    pub username: String,
    /// `BUSINESS`, `MEDIA_CREATOR` or `PERSONAL`.
    pub account_type: String,
}

/// `GET /me?fields=user_id,username,account_type`.
pub async fn me(client: &GraphClient, token: &Secret) -> Result<Me, AuthError> {
    let v = client
        .call(
            Method::Get,
            "me",
            token,
            &[("fields", "user_id,username,account_type")],
        )
        .await
        .map_err(|source| AuthError::Graph {
            step: "reading the account (/me)",
            source,
        })?;
    let text = |k: &str| match v.get(k) {
        Some(serde_json::Value::String(s)) => s.clone(),
        Some(serde_json::Value::Number(n)) => n.to_string(),
        _ => String::new(),
    };
    let user_id = Some(text("user_id"))
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| text("id"));
    Ok(Me {
        user_id,
        username: text("username"),
        account_type: text("account_type"),
    })
}

/// `POST token_url` with the code → the short-lived token and its scopes.
async fn exchange_code(
    app: &AppSettings,
    graph: &GraphSettings,
    secret: &Secret,
    code: &Secret,
) -> Result<(Secret, Vec<String>), AuthError> {
    let fail = |reason: String| AuthError::CodeExchange {
        url: redact(&app.token_url),
        reason: redact(&reason),
    };
    let http = reqwest::Client::builder()
        .timeout(secs(graph.timeout))
        .user_agent(concat!("storyforge/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| fail(e.to_string()))?;
    let form = [
        ("client_id", app.app_id.as_str()),
        ("client_secret", secret.expose()),
        ("grant_type", "authorization_code"),
        ("redirect_uri", app.redirect_uri.as_str()),
        ("code", code.expose()),
    ];
    let resp = http
        .post(&app.token_url)
        .form(&form)
        .send()
        .await
        .map_err(|e| fail(e.without_url().to_string()))?;
    let status = resp.status();
    let body: serde_json::Value = resp
        .json()
        .await
        .map_err(|e| fail(format!("HTTP {status}, not JSON ({})", e.without_url())))?;
    // Some replies wrap the answer in `data: [ … ]`.
    let v = body
        .get("data")
        .and_then(|d| d.get(0))
        .cloned()
        .unwrap_or(body);
    if let Some(msg) = v.get("error_message").and_then(|m| m.as_str()) {
        let kind = v.get("error_type").and_then(|m| m.as_str()).unwrap_or("");
        return Err(fail(format!("{kind}: {msg}")));
    }
    if let Some(e) = v.get("error") {
        let msg = e.get("message").and_then(|m| m.as_str()).unwrap_or("");
        return Err(fail(format!("HTTP {status}: {msg}")));
    }
    let token = v
        .get("access_token")
        .and_then(|t| t.as_str())
        .map(Secret::new)
        .filter(|t| !t.is_empty())
        .ok_or_else(|| fail(format!("HTTP {status}: no access_token in the reply")))?;
    let permissions = match v.get("permissions") {
        Some(serde_json::Value::String(s)) => s
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(String::from)
            .collect(),
        Some(serde_json::Value::Array(a)) => a
            .iter()
            .filter_map(|p| p.as_str().map(String::from))
            .collect(),
        _ => Vec::new(),
    };
    Ok((token, permissions))
}

/// Records the new token's lifetime in the ledger (never the token) and,
/// when `token_file` is given, writes the token there with mode 0600.
pub fn store_login(
    ledger: &Ledger,
    account: &str,
    token_file: Option<&Path>,
    login: &Login,
    now: DateTime<Utc>,
) -> Result<TokenRecord, AuthError> {
    if let Some(path) = token_file {
        crate::publish::tokens::write_token_file(path, &login.token).map_err(|e| {
            AuthError::Store {
                path: path.display().to_string(),
                reason: e.to_string(),
            }
        })?;
    }
    let rec = TokenRecord {
        issued_at: Some(now.to_rfc3339()),
        expires_at: Some((now + chrono::Duration::seconds(login.expires_in)).to_rfc3339()),
        refreshed_at: None,
    };
    ledger.set_token(account, &rec)?;
    Ok(rec)
}

/// The `accounts:` entry to add for a login not yet in the settings.
pub fn account_snippet(name: &str, login: &Login, token_file: &Path) -> String {
    format!(
        "accounts:\n  - name: {name}\n    ig_user_id: \"{}\"\n    token_file: {}\n",
        login.user_id,
        token_file.display()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_url_carries_everything_and_a_fresh_state() {
        let app = AppSettings {
            app_id: "123".into(),
            ..AppSettings::default()
        };
        let a = authorize_request(&app).unwrap();
        let b = authorize_request(&app).unwrap();
        assert_ne!(a.state, b.state);
        assert!(a.url.starts_with("https://www.instagram.com/oauth/authorize?client_id=123&redirect_uri=http%3A%2F%2F127.0.0.1%3A8765%2Fcallback&response_type=code&scope=instagram_business_basic%2Cinstagram_business_content_publish&state="), "{}", a.url);
        assert!(a.url.ends_with(&a.state));
        assert!(matches!(
            authorize_request(&AppSettings::default()),
            Err(AuthError::Settings(_))
        ));
    }

    #[test]
    fn pasted_redirects() {
        let code = parse_redirect("http://127.0.0.1:8765/callback?code=AQBx1&state=s1#_", "s1");
        assert_eq!(code.unwrap().expose(), "AQBx1");
        assert!(matches!(
            parse_redirect("http://127.0.0.1:8765/callback?code=AQBx1&state=s2#_", "s1"),
            Err(AuthError::StateMismatch)
        ));
        assert!(matches!(
            parse_redirect("http://x/cb?code=AQB", "s1"),
            Err(AuthError::StateMismatch)
        ));
        let denied = parse_redirect(
            "http://x/cb?error=access_denied&error_reason=user_denied&error_description=Permissions+error&state=s1#_",
            "s1",
        );
        assert_eq!(
            denied.unwrap_err().to_string(),
            "authorisation refused: access_denied: Permissions error"
        );
        assert!(matches!(
            parse_redirect("AQBx1", "s1"),
            Err(AuthError::Redirect(_))
        ));
        // A refusal without this login's state is not believed.
        for forged in [
            "http://x/cb?error=access_denied&error_description=forged#_",
            "http://x/cb?error=access_denied&state=s2",
        ] {
            assert!(
                matches!(parse_redirect(forged, "s1"), Err(AuthError::StateMismatch)),
                "{forged}"
            );
        }
    }
}
