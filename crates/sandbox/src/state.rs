//! The sandbox's world (clock, tokens, containers, Stories, its own record
//! of publishes, call log, faults) behind one lock, and the rules that read
//! it: token validity, container status, quota and call-rate windows.
//!
//! The lock is never held across an `.await`, so a publish checks and
//! takes effect atomically: two racing publishes of one container make one
//! Story.

use std::collections::{HashMap, VecDeque};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use super::config::{Faults, SandboxAccount, SandboxConfig};

/// Permissions configured tokens carry.
pub const ALL_SCOPES: &[&str] = &[
    "instagram_business_basic",
    "instagram_business_content_publish",
    "instagram_business_manage_insights",
];

/// Calls kept in the log (oldest dropped first).
const CALL_LOG_CAP: usize = 10_000;

/// One Story the sandbox published: its own record, for exactly-once checks.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PublishRecord {
    /// The Instagram account that published.
    pub account_id: String,
    /// The container that was published.
    pub container_id: String,
    /// The new media id.
    pub media_id: String,
    /// `IMAGE` or `VIDEO`.
    pub media_type: String,
    /// The URL the media was fetched from.
    pub media_url: String,
    /// sha256 (hex) of the bytes fetched from `media_url`.
    pub media_sha256: String,
    /// When, on the sandbox clock (RFC 3339).
    pub published_at: String,
    /// The usernames tagged through `user_tags` (mentions).
    #[serde(default)]
    pub user_tags: Vec<String>,
    /// How long the container stayed `IN_PROGRESS`, milliseconds (at
    /// least; a video also waits for its fetch).
    #[serde(default)]
    pub processing_ms: u64,
}

/// One logged call; access tokens, codes and the app secret are redacted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CallRecord {
    /// Sequence number from 1.
    pub seq: u64,
    /// When, on the sandbox clock (RFC 3339).
    pub at: String,
    /// HTTP method.
    pub method: String,
    /// Path as requested.
    pub path: String,
    /// Query and form parameters, secrets replaced by `[redacted]`.
    pub params: Vec<(String, String)>,
    /// HTTP status answered (0 when the connection was dropped).
    pub status: u16,
    /// The account the token belonged to, if it was valid.
    pub account_id: Option<String>,
    /// Graph `error.code` answered, if any.
    pub error_code: Option<i64>,
    /// Graph `error.error_subcode` answered, if any.
    pub error_subcode: Option<u64>,
}

/// What kind of token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenKind {
    /// From `/oauth/access_token`: 1 h, exchangeable.
    Short,
    /// Configured, exchanged or refreshed: refreshable.
    Long,
}

/// A token the sandbox issued or was configured with.
#[derive(Debug, Clone)]
pub struct TokenRecord {
    /// Owner.
    pub account_id: String,
    /// Short or long-lived.
    pub kind: TokenKind,
    /// Issued at.
    pub issued: SystemTime,
    /// Stops working at.
    pub expires: SystemTime,
    /// Granted permissions.
    pub scopes: Vec<String>,
}

/// Media kind of a container.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MediaKind {
    /// `image_url`.
    Image,
    /// `video_url`.
    Video,
}

impl MediaKind {
    /// `IMAGE` or `VIDEO`.
    pub fn as_str(self) -> &'static str {
        match self {
            MediaKind::Image => "IMAGE",
            MediaKind::Video => "VIDEO",
        }
    }
}

/// A Story container.
#[derive(Debug, Clone)]
pub struct Container {
    /// Owner.
    pub account_id: String,
    /// Image or video.
    pub kind: MediaKind,
    /// Where the media came from.
    pub media_url: String,
    /// Created at.
    pub created: SystemTime,
    /// Not `FINISHED` before this.
    pub ready_at: SystemTime,
    /// `ready_at - created`, milliseconds (drawn per container).
    pub processing_ms: u64,
    /// Processing result: sha256 of the bytes, or the failure subcode.
    /// `None` while a video is still being fetched and checked.
    pub outcome: Option<Result<String, u64>>,
    /// The media id once published.
    pub published_as: Option<String>,
    /// The usernames of its `user_tags`.
    pub user_tags: Vec<String>,
    /// Publish attempts seen (for the `spurious_9007` fault).
    pub publish_attempts: u32,
}

/// A published Story.
#[derive(Debug, Clone)]
pub struct Story {
    /// Owner.
    pub account_id: String,
    /// Image or video.
    pub kind: MediaKind,
    /// The fetched URL.
    pub media_url: String,
    /// Published at.
    pub published: SystemTime,
}

/// A pending OAuth authorisation code.
#[derive(Debug, Clone)]
pub struct AuthCode {
    /// Who logged in.
    pub account_id: String,
    /// The redirect URI it was issued for.
    pub redirect_uri: String,
    /// Granted scopes.
    pub scopes: Vec<String>,
    /// Unusable after.
    pub expires: SystemTime,
}

/// Container and Story statuses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// Still processing.
    InProgress,
    /// Ready to publish.
    Finished,
    /// Processing failed with a subcode.
    Error(u64),
    /// Older than 24 h and never published.
    Expired,
    /// Published.
    Published,
}

/// Everything mutable.
#[derive(Debug, Default)]
pub struct World {
    /// How far the sandbox clock is ahead of the wall clock.
    pub clock_offset: Duration,
    /// Token → record.
    pub tokens: HashMap<String, TokenRecord>,
    /// Container id → container.
    pub containers: HashMap<String, Container>,
    /// Media id → Story.
    pub stories: HashMap<String, Story>,
    /// Every publish, in order.
    pub published: Vec<PublishRecord>,
    /// Armed faults.
    pub faults: Faults,
    /// Call log.
    pub calls: VecDeque<CallRecord>,
    /// Calls seen so far.
    pub call_seq: u64,
    /// Account → times of its accepted Graph calls in the last hour.
    pub call_times: HashMap<String, VecDeque<SystemTime>>,
    /// Authorisation code → grant.
    pub codes: HashMap<String, AuthCode>,
    /// Last id handed out.
    pub last_id: u64,
}

/// The config and the world.
#[derive(Debug)]
pub struct Shared {
    /// Settings, fixed at start.
    pub config: SandboxConfig,
    world: Mutex<World>,
    /// For fetching media URLs.
    pub http: reqwest::Client,
    /// `http://127.0.0.1:PORT`, set once listening (paging `next` URLs).
    pub base_url: std::sync::OnceLock<String>,
}

impl Shared {
    /// A world with the configured accounts' tokens issued now.
    pub fn new(config: SandboxConfig, http: reqwest::Client) -> Shared {
        let now = SystemTime::now();
        let mut world = World {
            faults: config.faults.clone(),
            // Ids look like Instagram's 17-digit ones and differ between runs.
            last_id: 17_890_000_000_000_000 + fastrand::u64(..1_000_000_000) * 10_000,
            ..World::default()
        };
        for a in &config.accounts {
            world.tokens.insert(
                a.token.clone(),
                TokenRecord {
                    account_id: a.id.clone(),
                    kind: TokenKind::Long,
                    issued: now,
                    expires: now + Duration::from_secs(config.tokens.long_lived_secs),
                    scopes: ALL_SCOPES.iter().map(|s| s.to_string()).collect(),
                },
            );
        }
        Shared {
            config,
            world: Mutex::new(world),
            http,
            base_url: std::sync::OnceLock::new(),
        }
    }

    /// The world, locked (a poisoned lock is taken over: the data stays
    /// consistent because no update panics half-way).
    pub fn lock(&self) -> MutexGuard<'_, World> {
        self.world.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Now on the sandbox clock.
    pub fn now(&self) -> SystemTime {
        SystemTime::now() + self.lock().clock_offset
    }

    /// The account with this id.
    pub fn account(&self, id: &str) -> Option<&SandboxAccount> {
        self.config.accounts.iter().find(|a| a.id == id)
    }

    /// Replaces every known token and the app secret in `text`.
    pub fn redact(&self, world: &World, text: &str) -> String {
        let mut out = text.to_string();
        for secret in world
            .tokens
            .keys()
            .chain(world.codes.keys())
            .chain(std::iter::once(&self.config.app_secret))
        {
            if !secret.is_empty() && out.contains(secret.as_str()) {
                out = out.replace(secret.as_str(), "[redacted]");
            }
        }
        out
    }
}

impl World {
    /// Now on the sandbox clock.
    pub fn now(&self) -> SystemTime {
        SystemTime::now() + self.clock_offset
    }

    /// A fresh 17-digit id.
    pub fn next_id(&mut self) -> String {
        self.last_id += 1 + fastrand::u64(..7);
        self.last_id.to_string()
    }

    /// A container's status at `now`.
    pub fn status(&self, c: &Container, now: SystemTime, lifetime: Duration) -> Status {
        if c.published_as.is_some() {
            Status::Published
        } else if now >= c.created + lifetime {
            Status::Expired
        } else if now < c.ready_at {
            Status::InProgress
        } else {
            match c.outcome {
                None => Status::InProgress,
                Some(Err(sub)) => Status::Error(sub),
                Some(Ok(_)) => Status::Finished,
            }
        }
    }

    /// Publishes by `account` within the window ending at `now`.
    pub fn quota_usage(&self, account: &str, now: SystemTime, window: Duration) -> u32 {
        let since = now.checked_sub(window).unwrap_or(UNIX_EPOCH);
        self.stories
            .values()
            .filter(|s| s.account_id == account && s.published > since)
            .count() as u32
    }

    /// Accepted calls of `account` in the hour before `now`, after dropping
    /// older ones; and when the oldest leaves the window.
    pub fn calls_in_hour(&mut self, account: &str, now: SystemTime) -> (u32, Option<SystemTime>) {
        let hour = Duration::from_secs(3600);
        let q = self.call_times.entry(account.to_string()).or_default();
        while q.front().is_some_and(|t| *t + hour <= now) {
            q.pop_front();
        }
        (q.len() as u32, q.front().map(|t| *t + hour))
    }

    /// Counts one accepted call.
    pub fn count_call(&mut self, account: &str, now: SystemTime) {
        self.call_times
            .entry(account.to_string())
            .or_default()
            .push_back(now);
    }

    /// Appends to the call log.
    pub fn log_call(&mut self, mut call: CallRecord) {
        self.call_seq += 1;
        call.seq = self.call_seq;
        if self.calls.len() >= CALL_LOG_CAP {
            self.calls.pop_front();
        }
        self.calls.push_back(call);
    }
}

/// RFC 3339 in UTC, for records.
pub fn rfc3339(t: SystemTime) -> String {
    chrono::DateTime::<chrono::Utc>::from(t).to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// An HTTP `Date` header's form: `Mon, 07 Dec 2026 18:00:00 GMT`.
pub fn http_date(t: SystemTime) -> String {
    chrono::DateTime::<chrono::Utc>::from(t)
        .format("%a, %d %b %Y %H:%M:%S GMT")
        .to_string()
}

/// Graph's timestamp style: `2026-11-29T17:00:00+0000`.
pub fn graph_time(t: SystemTime) -> String {
    chrono::DateTime::<chrono::Utc>::from(t)
        .format("%Y-%m-%dT%H:%M:%S+0000")
        .to_string()
}

/// A random token or code: `prefix` + 48 alphanumerics.
pub fn random_secret(prefix: &str) -> String {
    let mut s = String::from(prefix);
    for _ in 0..48 {
        s.push(fastrand::alphanumeric());
    }
    s
}
