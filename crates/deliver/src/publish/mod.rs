//! The publish stage: public media URLs → Instagram Stories through the
//! Graph API, exactly once per asset and account, within the quota and the
//! rate limits ([`flow`]); token lifetimes ([`tokens`]); Story insights
//! ([`insights`]) and what they teach ([`report`]); the live publishing quota ([`quota`]). Errors are classified by code and subcode ([`errors`]);
//! secrets never reach a log, an error or the ledger ([`redact`]).

pub mod errors;
pub mod flow;
pub mod graph;
pub mod hold;
pub mod insights;
pub mod media_ids;
pub mod quota;
pub mod redact;
pub mod report;
pub mod stats;
pub mod stories;
pub mod tokens;
mod turn;

use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use storyforge_base::media::MediaKind;

pub use errors::ErrorClass;
pub use flow::{Outcome, Publisher};
pub use redact::Secret;
pub use turn::Turn;

fn default_base() -> String {
    "https://graph.instagram.com".into()
}
fn default_version() -> String {
    "v25.0".into()
}

/// The `graph:` section of storyforge.yaml: where the API is and how
/// patiently to talk to it. Times are in seconds.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct GraphSettings {
    /// API base URL. Default: `https://graph.instagram.com` (point it at
    /// `storyforge sandbox` to rehearse).
    pub base_url: String,
    /// API version. Default: `v25.0`.
    pub version: String,
    /// Per-call timeout. Default: 30.
    pub timeout: f64,
    /// Least time between two publishes of a burst. Default: 5.
    pub publish_spacing: f64,
    /// First wait between image container polls (grows 1.5×). Default: 1.
    pub image_poll: f64,
    /// First wait between video container polls (grows 1.5×). Default: 5.
    pub video_poll: f64,
    /// Give up polling an image container after. Default: 120.
    pub image_deadline: f64,
    /// Give up polling a video container after. Default: 900.
    pub video_deadline: f64,
    /// First retry wait after a transient error (doubles, with jitter). Default: 2.
    pub retry_base: f64,
    /// Retries of a transient error. Default: 5.
    pub retries: u32,
    /// First wait after a rate-limit error without a usage estimate (doubles). Default: 60.
    pub rate_limit_base: f64,
    /// Longest single wait; a longer one defers the asset to the next run. Default: 3600.
    pub max_wait: f64,
    /// Wait before publishing again after 9007 "not ready". Default: 5.
    pub not_ready_wait: f64,
    /// Wait before asking again about a container the API says does not
    /// exist (code 24) after a publish was attempted; asked twice. Default: 40.
    pub gone_wait: f64,
    /// Usage (percent) above which calls slow down. Default: 80.
    pub slow_down_above: f64,
    /// Longest pause added when usage is near 100 %. Default: 60.
    pub slow_down_max: f64,
    /// Containers of one account in flight at once (created together for
    /// the Stories due now, each published as soon as it is FINISHED and
    /// the spacing allows); at most [`storyforge_base::spec::MAX_CONTAINERS_PER_DAY`].
    /// Default: 5.
    pub pipeline: usize,
    /// Graph calls and media uploads in flight at once over all accounts
    /// (keeps sockets and memory flat with hundreds of accounts). Default: 32.
    pub max_in_flight: usize,
}

impl Default for GraphSettings {
    fn default() -> Self {
        GraphSettings {
            base_url: default_base(),
            version: default_version(),
            timeout: 30.0,
            publish_spacing: 5.0,
            image_poll: 1.0,
            video_poll: 5.0,
            image_deadline: 120.0,
            video_deadline: 900.0,
            retry_base: 2.0,
            retries: 5,
            rate_limit_base: 60.0,
            max_wait: 3600.0,
            not_ready_wait: 5.0,
            gone_wait: 40.0,
            slow_down_above: 80.0,
            slow_down_max: 60.0,
            pipeline: 5,
            max_in_flight: 32,
        }
    }
}

/// Seconds (from config) as a duration; negative or NaN is zero.
pub fn secs(s: f64) -> Duration {
    Duration::try_from_secs_f64(s.max(0.0)).unwrap_or(Duration::ZERO)
}

/// One Instagram account in storyforge.yaml (`accounts:`). The token comes
/// from an environment variable or a file, never from the command line.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct AccountSettings {
    /// The name used on the command line and in the ledger.
    pub name: String,
    /// The Instagram professional account id (`ig-user-id`).
    pub ig_user_id: String,
    /// Environment variable holding the access token.
    #[serde(default)]
    pub token_env: Option<String>,
    /// File holding the access token (refreshed tokens are written back here, mode 0600).
    #[serde(default)]
    pub token_file: Option<PathBuf>,
    /// The account's time zone, an IANA name (`Europe/Paris`): what
    /// "today" is for `daily` and `run`, `schedule add --at` wall-clock
    /// times, and the dashboard's days. Default: UTC.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timezone: Option<String>,
}

/// An account ready to publish: settings plus its token.
#[derive(Debug, Clone)]
pub struct Account {
    /// Settings.
    pub settings: AccountSettings,
    /// The access token.
    pub token: Secret,
}

/// Why an account's token could not be read.
#[derive(Debug, thiserror::Error)]
pub enum TokenSourceError {
    /// No source configured.
    #[error("account '{0}': no token source; set `token_env` or `token_file` in storyforge.yaml (never pass tokens on the command line)")]
    None(String),
    /// The variable is unset or empty.
    #[error("account '{account}': environment variable {var} is not set")]
    Env {
        /// The account.
        account: String,
        /// The variable.
        var: String,
    },
    /// The file could not be read or is empty.
    #[error("account '{account}': cannot read token file {path}: {reason}")]
    File {
        /// The account.
        account: String,
        /// The file.
        path: String,
        /// Why it failed, in words for the user.
        reason: String,
    },
}

impl AccountSettings {
    /// Reads the token from its source.
    pub fn load(&self) -> Result<Account, TokenSourceError> {
        let token = if let Some(path) = &self.token_file {
            let text = std::fs::read_to_string(path).map_err(|e| TokenSourceError::File {
                account: self.name.clone(),
                path: path.display().to_string(),
                reason: e.to_string(),
            })?;
            let t = Secret::new(text);
            if t.is_empty() {
                return Err(TokenSourceError::File {
                    account: self.name.clone(),
                    path: path.display().to_string(),
                    reason: "the file is empty".into(),
                });
            }
            t
        } else if let Some(var) = &self.token_env {
            match std::env::var(var) {
                Ok(v) if !v.trim().is_empty() => Secret::new(v),
                _ => {
                    return Err(TokenSourceError::Env {
                        account: self.name.clone(),
                        var: var.clone(),
                    })
                }
            }
        } else {
            return Err(TokenSourceError::None(self.name.clone()));
        };
        Ok(Account {
            settings: self.clone(),
            token,
        })
    }
}

/// One Story's media, at the URL Instagram fetches.
#[derive(Debug, Clone)]
pub struct StoryMedia {
    /// The public URL Instagram fetches (may carry a signature: never stored).
    pub url: String,
    /// Image or video.
    pub kind: MediaKind,
    /// Usernames sent as the container's `user_tags` (checked). Default: none.
    pub user_tags: Vec<String>,
}
