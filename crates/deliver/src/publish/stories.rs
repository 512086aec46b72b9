//! An account → its live Stories (`GET /{ig-user-id}/stories`, every page),
//! so a lost publish reply can be told apart from the Stories the ledger
//! knows.

use chrono::{DateTime, Utc};

use super::graph::{CallError, GraphClient};
use super::Account;

/// One live Story.
#[derive(Debug, Clone, PartialEq)]
pub struct LiveStory {
    /// Its media id.
    pub id: String,
    /// When it was published, when the API says.
    pub timestamp: Option<DateTime<Utc>>,
}

/// Every live Story of an account.
pub type LiveStories = Vec<LiveStory>;

/// The live Stories of `account`, every page.
pub async fn live(client: &GraphClient, account: &Account) -> Result<LiveStories, CallError> {
    let path = format!("{}/stories", account.settings.ig_user_id);
    let pages = client
        .get_all_pages(
            &path,
            &account.token,
            &[("fields", "id,timestamp"), ("limit", "100")],
            super::graph::MAX_PAGES,
        )
        .await?;
    if pages.truncated {
        tracing::warn!(
            "{}: more live Stories than {} pages; the rest are not compared",
            account.settings.name,
            pages.pages
        );
    }
    Ok(pages
        .items
        .iter()
        .filter_map(|s| {
            let id = match s.get("id")? {
                serde_json::Value::String(s) if !s.is_empty() => s.clone(),
                serde_json::Value::Number(n) => n.to_string(),
                _ => return None,
            };
            let timestamp = s
                .get("timestamp")
                .and_then(|t| t.as_str())
                .and_then(|t| DateTime::parse_from_str(t, "%Y-%m-%dT%H:%M:%S%z").ok())
                .map(|t| t.with_timezone(&Utc));
            Some(LiveStory { id, timestamp })
        })
        .collect())
}
