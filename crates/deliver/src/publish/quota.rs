//! An account → its publishing quota as the API says it now
//! (`content_publishing_limit`: posts used of `quota_total` in a rolling
//! `quota_duration` window), never an assumed cap, and when the next slot
//! frees given the ledger's publish times.

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::graph::{CallError, GraphClient, Method};
use super::Account;

/// The publishing quota of one account, read live.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Quota {
    /// Posts used in the window.
    pub used: u64,
    /// Posts allowed in the window (`config.quota_total`).
    pub total: u64,
    /// The rolling window, seconds (`config.quota_duration`; 86,400 when not said).
    pub window_secs: u64,
}

/// The longest window taken from the API (a year).
const MAX_WINDOW_SECS: u64 = 366 * 86_400;

/// The query `content_publishing_limit` is asked with.
pub const FIELDS: &str = "config,quota_usage";

/// The path of `ig_user_id`'s quota.
pub fn path(ig_user_id: &str) -> String {
    format!("{ig_user_id}/content_publishing_limit")
}

/// The quota of `account`, asked of the API once now; `None` when the
/// reply does not say it.
pub async fn read(client: &GraphClient, account: &Account) -> Result<Option<Quota>, CallError> {
    let v = client
        .call(
            Method::Get,
            &path(&account.settings.ig_user_id),
            &account.token,
            &[("fields", FIELDS)],
        )
        .await?;
    Ok(Quota::from_reply(&v))
}

impl Quota {
    /// Reads a `content_publishing_limit` reply; `None` when it lacks the
    /// usage or the total.
    pub fn from_reply(v: &serde_json::Value) -> Option<Quota> {
        let entry = &v["data"][0];
        Some(Quota {
            used: entry["quota_usage"].as_u64()?,
            total: entry["config"]["quota_total"].as_u64()?,
            // Clamped to a year: a wild value must not overflow the clock.
            window_secs: entry["config"]["quota_duration"]
                .as_u64()
                .unwrap_or(86_400)
                .clamp(1, MAX_WINDOW_SECS),
        })
    }

    /// The window as a duration.
    pub fn window(&self) -> chrono::Duration {
        chrono::Duration::seconds(self.window_secs.min(MAX_WINDOW_SECS) as i64)
    }

    /// True when no post is left in the window.
    pub fn used_up(&self) -> bool {
        self.used >= self.total
    }

    /// When the oldest publish in the window (`published`, oldest first, as
    /// the ledger lists them) leaves it and frees a slot.
    pub fn next_free(&self, published: &[DateTime<Utc>]) -> Option<DateTime<Utc>> {
        published.first().map(|t| *t + self.window())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_reply_is_read_and_a_wild_window_clamped() {
        let v = serde_json::json!({"data": [{"quota_usage": 3, "config": {"quota_total": 50, "quota_duration": 86400}}]});
        let q = Quota::from_reply(&v).expect("a quota");
        assert_eq!((q.used, q.total, q.window_secs), (3, 50, 86_400));
        assert!(!q.used_up());
        let wild = serde_json::json!({"data": [{"quota_usage": 1, "config": {"quota_total": 1, "quota_duration": u64::MAX}}]});
        let q = Quota::from_reply(&wild).expect("a quota");
        assert!(q.used_up());
        assert_eq!(q.window(), chrono::Duration::days(366));
        assert_eq!(Quota::from_reply(&serde_json::json!({"data": []})), None);
    }
}
