//! The ledger, the settings and the Graph API → what the dashboard shows:
//! the queue per account (and the Stories waiting for a person), the
//! Stories of the last 7 days with their insights, and each account's quota
//! and limits, with a warning when the queue holds more for a 24 h window
//! than the quota allows.

use chrono::{DateTime, Duration, Utc};

use crate::config::Settings;
use crate::ledger::{parse_time, Asset, Ledger, LedgerError, ScheduleState, Scheduled, State};
use crate::publish::graph::{GraphClient, Usage};
use crate::publish::quota::{self, Quota};
use crate::publish::tokens;

/// One scheduled entry as the queue shows it.
pub struct QueueEntry {
    /// The entry.
    pub entry: Scheduled,
    /// The account it goes to (the default one resolved).
    pub account: String,
}

/// Pending, running and failed entries, soonest first (done and cancelled ones are
/// history, in `storyforge schedule list`).
pub fn queue(settings: &Settings, ledger: &Ledger) -> Result<Vec<QueueEntry>, LedgerError> {
    let default = settings.account_name(None).unwrap_or_default();
    Ok(ledger
        .schedule()?
        .into_iter()
        .filter(|s| {
            matches!(
                s.state,
                ScheduleState::Pending | ScheduleState::Running | ScheduleState::Failed
            )
        })
        .map(|entry| QueueEntry {
            account: entry.account.clone().unwrap_or_else(|| default.clone()),
            entry,
        })
        .collect())
}

/// A path shown by its file name (the full text goes in a title).
fn file_name(path: &str) -> &str {
    // A URL's query (an API key, a signature) is not part of its name.
    let path = path.split(['?', '#']).next().unwrap_or(path);
    std::path::Path::new(path)
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or(path)
}

/// What an entry publishes, in short: the file's name, or `TEMPLATE ×
/// FEED row N` by file names ([`Scheduled::describe`] has the paths).
pub fn short_source(s: &Scheduled) -> String {
    match (&s.file, &s.template) {
        (Some(f), _) => file_name(f).to_string(),
        (None, Some(t)) => format!(
            "{}{} row {}",
            file_name(t),
            s.feed
                .as_deref()
                .map(|f| format!(" × {}", file_name(f)))
                .unwrap_or_default(),
            s.row.map_or("-".into(), |r| r.to_string())
        ),
        (None, None) => s.describe(),
    }
}

/// Stories whose publish may have gone out unseen: they wait for a person.
pub fn unsure(ledger: &Ledger) -> Result<Vec<Asset>, LedgerError> {
    Ok(ledger
        .assets()?
        .into_iter()
        .filter(|a| a.state == State::Unsure)
        .collect())
}

/// A Story published in the last 7 days.
pub struct RecentStory {
    /// Its ledger row.
    pub asset: Asset,
    /// When it was published.
    pub published: DateTime<Utc>,
    /// Its collected metrics (flattened), if any.
    pub metrics: Option<serde_json::Value>,
    /// Why its last collection failed, unless one succeeded since.
    pub failure: Option<crate::ledger::InsightFailure>,
    /// The variant it was made with, when its template has variants.
    pub variant: Option<String>,
}

impl RecentStory {
    /// When it leaves the account (24 h after publishing).
    pub fn expires(&self) -> DateTime<Utc> {
        self.published + Duration::hours(crate::spec::STORY_LIFETIME_HOURS)
    }
}

/// Stories published within 7 days of `now`, newest first.
pub fn recent(ledger: &Ledger, now: DateTime<Utc>) -> Result<Vec<RecentStory>, LedgerError> {
    let mut out = Vec::new();
    for asset in ledger.assets()? {
        let Some(published) = asset.published_at.as_deref().and_then(parse_time) else {
            continue;
        };
        if asset.state != State::Published || now - published > Duration::days(7) {
            continue;
        }
        let (metrics, failure) = match &asset.media_id {
            Some(m) => (
                ledger
                    .insights(m)?
                    .and_then(|i| serde_json::from_str(&i.metrics).ok()),
                ledger.insight_failure(m)?,
            ),
            None => (None, None),
        };
        let variant = ledger.story_variant(asset.id)?.1;
        out.push(RecentStory {
            asset,
            published,
            metrics,
            failure,
            variant,
        });
    }
    out.sort_by_key(|r| std::cmp::Reverse(r.published));
    Ok(out)
}

/// One account's quota and limits.
pub struct AccountLimits {
    /// The account.
    pub name: String,
    /// The quota read live, or why it could not be.
    pub quota: Result<Quota, String>,
    /// When the next publishing slot frees, when the quota is used up.
    pub next_free: Option<DateTime<Utc>>,
    /// Containers made in the last 24 h (Instagram allows 400).
    pub containers: usize,
    /// The usage headers of the last reply.
    pub usage: Usage,
    /// Days until the token expires, when known.
    pub token_days: Option<f64>,
    /// Why the token's state is unknown, if it is.
    pub token_error: Option<String>,
    /// Queued Stories over the quota: the first 24 h window that holds too
    /// many, and how many it holds.
    pub overload: Option<(DateTime<Utc>, u64)>,
}

/// Every account's limits, the quota read live from the API.
pub async fn limits(
    settings: &Settings,
    ledger: &std::sync::Mutex<Ledger>,
    client: &GraphClient,
    now: DateTime<Utc>,
) -> Vec<AccountLimits> {
    let lock = || ledger.lock().unwrap_or_else(|p| p.into_inner());
    let queue = queue(settings, &lock()).unwrap_or_default();
    let mut out = Vec::new();
    for name in settings.account_names() {
        let account = settings.load_account(&name);
        let live = match &account {
            Ok(a) => match quota::read(client, a).await {
                Ok(Some(q)) => Ok(q),
                Ok(None) => Err("the API did not report the quota".to_string()),
                Err(e) => Err(e.to_string()),
            },
            Err(e) => Err(e.clone()),
        };
        let usage = client.usage();
        let ledger = lock();
        let day = Duration::hours(24);
        let window = live.as_ref().map_or(day, Quota::window);
        let published = ledger
            .published_since(&name, now - window)
            .unwrap_or_default();
        let containers = ledger
            .containers_since(&name, now - day)
            .map_or(0, |c| c.len());
        let (token_days, token_error) = match &account {
            Ok(a) => match tokens::status(&ledger, a, now) {
                Ok(st) => (st.days_left, None),
                Err(e) => (None, Some(e.to_string())),
            },
            Err(e) => (None, Some(e.clone())),
        };
        let queued: Vec<DateTime<Utc>> = queue
            .iter()
            .filter(|q| q.account == name && q.entry.state == ScheduleState::Pending)
            .filter_map(|q| parse_time(&q.entry.at))
            .collect();
        let (next_free, overload) = match &live {
            Ok(q) => (
                q.used_up().then(|| q.next_free(&published)).flatten(),
                overload(&published, &queued, q.total, window, now),
            ),
            Err(_) => (None, None),
        };
        out.push(AccountLimits {
            name,
            quota: live.map_err(|e| crate::util::redact::redact(&e)),
            next_free,
            containers,
            usage,
            token_days,
            token_error: token_error.map(|e| crate::util::redact::redact(&e)),
            overload,
        });
    }
    out
}

/// The first queued time (overdue ones count as `now`) at which the rolling
/// `window` would hold more than `total` Stories: those already published
/// in it plus those queued before it. `None` when the queue fits.
pub fn overload(
    published: &[DateTime<Utc>],
    queued: &[DateTime<Utc>],
    total: u64,
    window: Duration,
    now: DateTime<Utc>,
) -> Option<(DateTime<Utc>, u64)> {
    let mut times: Vec<DateTime<Utc>> = queued.iter().map(|t| (*t).max(now)).collect();
    times.sort();
    times.iter().find_map(|&at| {
        let from = at - window;
        let count = published.iter().filter(|t| **t > from).count()
            + times.iter().filter(|t| **t > from && **t <= at).count();
        (count as u64 > total).then_some((at, count as u64))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(h: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000, 0).expect("a time") + Duration::hours(h)
    }

    #[test]
    fn sources_are_shown_by_file_name() {
        let file = Scheduled {
            file: Some("/srv/out/launch.jpg".into()),
            ..Scheduled::default()
        };
        assert_eq!(short_source(&file), "launch.jpg");
        let row = Scheduled {
            template: Some("/srv/templates/menu.yaml".into()),
            feed: Some("/srv/feeds/menu.csv".into()),
            row: Some(3),
            ..Scheduled::default()
        };
        assert_eq!(short_source(&row), "menu.yaml × menu.csv row 3");
    }

    #[test]
    fn a_queue_within_the_quota_is_fine() {
        let queued = [t(1), t(2), t(3)];
        assert_eq!(overload(&[], &queued, 3, Duration::hours(24), t(0)), None);
    }

    #[test]
    fn the_first_window_over_the_quota_is_named() {
        let queued = [t(1), t(2), t(3), t(30)];
        assert_eq!(
            overload(&[], &queued, 2, Duration::hours(24), t(0)),
            Some((t(3), 3))
        );
    }

    #[test]
    fn stories_already_published_count_in_the_window() {
        let published = [t(-2), t(-1)];
        assert_eq!(
            overload(&published, &[t(1)], 2, Duration::hours(24), t(0)),
            Some((t(1), 3))
        );
        // A day later the early publishes have left the window.
        assert_eq!(
            overload(&published, &[t(23)], 2, Duration::hours(24), t(0)),
            None
        );
    }

    #[test]
    fn overdue_stories_count_as_now() {
        let queued = [t(-5), t(-4)];
        assert_eq!(
            overload(&[t(-1)], &queued, 2, Duration::hours(24), t(0)),
            Some((t(0), 3))
        );
    }
}
