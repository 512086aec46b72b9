//! Sandbox settings (accounts, app credentials, limits, delays, faults) →
//! a checked configuration the server runs with.
//!
//! These numbers are the sandbox's own reading of the Instagram spec, kept
//! apart from `storyforge_base::spec` on purpose: the Graph client and this emulator
//! must not share a misreading.

use std::net::SocketAddr;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::state::MediaKind;
use super::SandboxError;

/// The Graph API version `graph_url()` names. Requests with any `vNN.N`
/// prefix, or none, are served alike.
pub const DEFAULT_API_VERSION: &str = "v25.0";
/// The demo account's Instagram user id.
pub const DEMO_ACCOUNT_ID: &str = "17841400000000001";
/// The demo account's username.
pub const DEMO_USERNAME: &str = "storyforge_demo";
/// The demo account's long-lived access token.
pub const DEMO_TOKEN: &str = "sandbox-token-demo";
/// The demo app id (OAuth `client_id`).
pub const DEMO_APP_ID: &str = "990000000000001";
/// The demo app secret (OAuth `client_secret`).
pub const DEMO_APP_SECRET: &str = "sandbox-app-secret";

/// Everything the sandbox needs to run. Unknown keys are errors.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SandboxConfig {
    /// Address and port to listen on. Default: `127.0.0.1:0` (a free port).
    pub bind: SocketAddr,
    /// The version prefix `graph_url()` uses; requests with any `vNN.N`
    /// prefix or none are accepted. Default: `v25.0`.
    pub api_version: String,
    /// Instagram accounts and their configured long-lived tokens. Default:
    /// one BUSINESS account `17841400000000001` / `storyforge_demo` with
    /// token `sandbox-token-demo`.
    pub accounts: Vec<SandboxAccount>,
    /// The app id OAuth checks as `client_id`. Default: `990000000000001`.
    pub app_id: String,
    /// The app secret OAuth checks as `client_secret`; never logged.
    /// Default: `sandbox-app-secret`.
    pub app_secret: String,
    /// Id of the account the OAuth login window signs in as (set it to a
    /// PERSONAL account to test that path). Default: none, the first
    /// BUSINESS or CREATOR account.
    pub oauth_account: Option<String>,
    /// Stories an account may publish per window. Default: 50 (the
    /// reference page's figure; the guide says 100, old accounts see 25:
    /// clients must read the live value).
    pub quota_total: u32,
    /// The rolling publishing window, seconds. Default: 86400.
    pub quota_duration_secs: u64,
    /// Graph calls per account (app + user pair) per rolling hour before
    /// rate-limit errors. Default: 200.
    pub calls_per_hour: u32,
    /// How long an image container stays `IN_PROGRESS`, milliseconds.
    /// Default: 1000.
    pub image_processing_ms: u64,
    /// How long a video container stays `IN_PROGRESS` at least,
    /// milliseconds. Default: 5000.
    pub video_processing_ms: u64,
    /// When set, each image container's processing time is drawn uniformly
    /// from `image_processing_ms..=image_processing_max_ms` (Instagram's
    /// vary, 2–10 s; `make bench-publish` uses it). Default: none, every
    /// image container takes `image_processing_ms`.
    pub image_processing_max_ms: Option<u64>,
    /// The same for video containers, from `video_processing_ms`.
    /// Default: none.
    pub video_processing_max_ms: Option<u64>,
    /// Per media URL: a container whose media URL contains the key stays
    /// `IN_PROGRESS` this long, milliseconds, whatever its kind (tests use
    /// it to make a later container finish first). Default: none.
    pub processing_ms_by_url: std::collections::BTreeMap<String, u64>,
    /// Containers and Stories live this long, seconds. Default: 86400.
    pub lifetime_secs: u64,
    /// Directory served at `GET|HEAD /media/{key}` (the local store).
    /// Default: none (every `/media` request is 404).
    pub media_dir: Option<PathBuf>,
    /// Give up fetching a media URL after this long, milliseconds.
    /// Default: 20000.
    pub fetch_timeout_ms: u64,
    /// Faults armed at start. Default: none.
    pub faults: Faults,
    /// Token and OAuth-code lifetimes. Default: see [`TokenLifetimes`].
    pub tokens: TokenLifetimes,
    /// Containers an account may create per rolling 24 h of sandbox clock;
    /// the next create answers code 9 / 2207042-shaped. Default: 400.
    pub containers_per_day: u32,
    /// Viewers every Story has, forcing the count (tests set it under 5 to
    /// get error 10). Default: none, a count derived from the media id
    /// (always at least 90).
    pub story_viewers: Option<u64>,
    /// Story insights need at least this many viewers; fewer answer error
    /// 10 "not enough viewers", as Meta does. Default: 5.
    pub min_insights_viewers: u64,
    /// Documented Story metrics refused as if Meta had retired them: a call
    /// naming one answers code 100, `metric[N] must be one of the following
    /// values: …` (without them). Default: none.
    pub retired_metrics: Vec<String>,
}

impl Default for SandboxConfig {
    fn default() -> Self {
        SandboxConfig {
            bind: SocketAddr::from(([127, 0, 0, 1], 0)),
            api_version: DEFAULT_API_VERSION.into(),
            accounts: vec![SandboxAccount::default()],
            app_id: DEMO_APP_ID.into(),
            app_secret: DEMO_APP_SECRET.into(),
            oauth_account: None,
            quota_total: 50,
            quota_duration_secs: 86_400,
            calls_per_hour: 200,
            image_processing_ms: 1000,
            video_processing_ms: 5000,
            image_processing_max_ms: None,
            video_processing_max_ms: None,
            processing_ms_by_url: Default::default(),
            lifetime_secs: 86_400,
            media_dir: None,
            fetch_timeout_ms: 20_000,
            faults: Faults::default(),
            tokens: TokenLifetimes::default(),
            containers_per_day: 400,
            story_viewers: None,
            min_insights_viewers: 5,
            retired_metrics: Vec::new(),
        }
    }
}

/// The kind of Instagram account. PERSONAL accounts can log in but cannot
/// publish.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum AccountType {
    /// A business account (can publish).
    Business,
    /// A creator account (can publish).
    MediaCreator,
    /// A personal account (cannot use the content publishing API).
    Personal,
}

impl AccountType {
    /// The `account_type` value `/me` answers.
    pub fn as_str(self) -> &'static str {
        match self {
            AccountType::Business => "BUSINESS",
            AccountType::MediaCreator => "MEDIA_CREATOR",
            AccountType::Personal => "PERSONAL",
        }
    }
}

/// One Instagram account the sandbox knows.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SandboxAccount {
    /// Instagram user id (digits). Default: `17841400000000001`.
    pub id: String,
    /// Username. Default: `storyforge_demo`.
    pub username: String,
    /// BUSINESS, MEDIA_CREATOR or PERSONAL. Default: BUSINESS.
    pub account_type: AccountType,
    /// A long-lived token for this account, valid from start for
    /// `tokens.long_lived_secs`. Default: `sandbox-token-demo`.
    pub token: String,
}

impl Default for SandboxAccount {
    fn default() -> Self {
        SandboxAccount {
            id: DEMO_ACCOUNT_ID.into(),
            username: DEMO_USERNAME.into(),
            account_type: AccountType::Business,
            token: DEMO_TOKEN.into(),
        }
    }
}

/// Token and authorisation-code lifetimes, in seconds of sandbox clock.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TokenLifetimes {
    /// Short-lived token from `/oauth/access_token`. Default: 3600 (1 h).
    pub short_lived_secs: u64,
    /// Long-lived token from the `ig_exchange_token` exchange (what
    /// `expires_in` says). Default: 5183944.
    pub exchanged_secs: u64,
    /// Long-lived token from `refresh_access_token`, and the configured
    /// accounts' tokens. Default: 5184000 (60 days).
    pub long_lived_secs: u64,
    /// A token must be this old to be refreshed. Default: 86400 (24 h).
    pub refresh_min_age_secs: u64,
    /// The replaced token keeps working this long after a refresh.
    /// Default: 60.
    pub refresh_grace_secs: u64,
    /// An authorisation code is usable (once) for this long. Default: 600.
    pub code_secs: u64,
}

impl Default for TokenLifetimes {
    fn default() -> Self {
        TokenLifetimes {
            short_lived_secs: 3600,
            exchanged_secs: 5_183_944,
            long_lived_secs: 5_184_000,
            refresh_min_age_secs: 86_400,
            refresh_grace_secs: 60,
            code_secs: 600,
        }
    }
}

/// Faults to inject. Counts are consumed one per event; `slow_reply_ms`
/// stays until changed. Setting faults replaces the whole set, so
/// `{"drop_publish_reply": 1}` drops the next publish reply and clears the
/// rest.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Faults {
    /// The next N Graph calls answer HTTP 500 with a transient code-2
    /// error and have no effect. Default: 0.
    pub transient_errors: u32,
    /// The next N successful publishes take effect, then the connection is
    /// closed without a reply. Default: 0.
    pub drop_publish_reply: u32,
    /// The first publish attempt of each of the next N FINISHED containers
    /// answers 9007 / 2207027 (not ready). Default: 0.
    pub spurious_9007: u32,
    /// Every Graph reply is held back this long AFTER the call took effect,
    /// milliseconds. Default: 0.
    pub slow_reply_ms: u64,
    /// The next N media fetches fail as if the URL were unreachable.
    /// Default: 0.
    pub fail_fetch: u32,
    /// The next N status reads of a PUBLISHED container answer 24 / 2207008
    /// ("does not exist or expired"), as the live API can. Default: 0.
    pub published_container_gone: u32,
    /// The next N successful publishes take effect, then answer the
    /// "already published" error (100 / 2207099) instead of the media id.
    /// Default: 0.
    pub already_published_reply: u32,
    /// The next N status reads of a container that has seen a publish
    /// call answer a non-retryable error (100, invalid parameter).
    /// Default: 0.
    pub status_read_error: u32,
    /// A PUBLISHED container past its lifetime on the sandbox clock answers
    /// EXPIRED, as the live API's can once its Story is gone (with
    /// [`crate::Sandbox::advance_clock`], a test ages one without
    /// waiting). Stays until changed. Default: false.
    pub published_containers_expire: bool,
}

impl SandboxConfig {
    /// Checks the settings: at least one account, unique non-empty ids and
    /// tokens, digits-only ids, an existing `oauth_account`.
    pub fn check(&self) -> Result<(), SandboxError> {
        let bad = |m: String| Err(SandboxError::Config(m));
        if self.accounts.is_empty() {
            return bad("at least one account is needed".into());
        }
        for (i, a) in self.accounts.iter().enumerate() {
            if a.id.is_empty() || !a.id.bytes().all(|b| b.is_ascii_digit()) {
                return bad(format!("account {i}: id must be digits, got {:?}", a.id));
            }
            if a.token.is_empty() {
                return bad(format!("account {}: token must not be empty", a.id));
            }
            if self.accounts[..i].iter().any(|b| b.id == a.id) {
                return bad(format!("account {}: id used twice", a.id));
            }
            if self.accounts[..i].iter().any(|b| b.token == a.token) {
                return bad(format!("account {}: token used by another account", a.id));
            }
        }
        if let Some(id) = &self.oauth_account {
            if !self.accounts.iter().any(|a| &a.id == id) {
                return bad(format!("oauth_account {id} is not one of the accounts"));
            }
        }
        if self.app_id.is_empty() || self.app_secret.is_empty() {
            return bad("app_id and app_secret must not be empty".into());
        }
        if self.calls_per_hour == 0 {
            return bad("calls_per_hour must be at least 1".into());
        }
        for (kind, min, max) in [
            (
                "image",
                self.image_processing_ms,
                self.image_processing_max_ms,
            ),
            (
                "video",
                self.video_processing_ms,
                self.video_processing_max_ms,
            ),
        ] {
            if let Some(max) = max.filter(|&m| m < min) {
                return bad(format!(
                    "{kind}_processing_max_ms ({max}) is below {kind}_processing_ms ({min})"
                ));
            }
        }
        Ok(())
    }

    /// How long a new container of `kind` from `url` stays `IN_PROGRESS`,
    /// milliseconds: the time set for its URL, else drawn from the
    /// configured range, else the fixed time.
    pub(crate) fn processing_ms(&self, kind: MediaKind, url: &str) -> u64 {
        if let Some(ms) = self
            .processing_ms_by_url
            .iter()
            .find(|(k, _)| url.contains(k.as_str()))
            .map(|(_, ms)| *ms)
        {
            return ms;
        }
        let (min, max) = match kind {
            MediaKind::Image => (self.image_processing_ms, self.image_processing_max_ms),
            MediaKind::Video => (self.video_processing_ms, self.video_processing_max_ms),
        };
        match max {
            Some(max) if max > min => fastrand::u64(min..=max),
            _ => min,
        }
    }

    /// The account OAuth logins sign in as.
    pub(crate) fn oauth_login_account(&self) -> Option<&SandboxAccount> {
        match &self.oauth_account {
            Some(id) => self.accounts.iter().find(|a| &a.id == id),
            None => self
                .accounts
                .iter()
                .find(|a| a.account_type != AccountType::Personal),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn processing_time_is_drawn_per_container_within_the_range() {
        let config = SandboxConfig {
            image_processing_ms: 200,
            image_processing_max_ms: Some(1000),
            video_processing_ms: 3000,
            ..SandboxConfig::default()
        };
        config
            .check()
            .expect("a range with max above min is accepted");
        let draws: Vec<u64> = (0..200)
            .map(|_| config.processing_ms(MediaKind::Image, ""))
            .collect();
        assert!(draws.iter().all(|d| (200..=1000).contains(d)), "{draws:?}");
        let distinct: std::collections::BTreeSet<_> = draws.iter().collect();
        assert!(distinct.len() > 10, "draws do not vary: {distinct:?}");
        // No max: every container takes the fixed time.
        assert_eq!(config.processing_ms(MediaKind::Video, ""), 3000);
    }

    #[test]
    fn a_processing_max_below_the_min_is_refused() {
        let config = SandboxConfig {
            video_processing_ms: 3000,
            video_processing_max_ms: Some(2000),
            ..SandboxConfig::default()
        };
        let e = config.check().expect_err("max below min").to_string();
        assert!(
            e.contains("video_processing_max_ms (2000) is below video_processing_ms (3000)"),
            "{e}"
        );
    }
}
