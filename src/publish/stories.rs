//! An account → its live Stories (`GET /{ig-user-id}/stories`), every page
//! followed by its `after` cursor, so a lost publish reply can be told
//! apart from the Stories the ledger knows.

use chrono::{DateTime, Utc};

use super::graph::{CallError, GraphClient, Method};
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

/// Pages read at most (25 Stories a page by default; an account cannot
/// have more live Stories than its quota lets it publish in 24 h).
const MAX_PAGES: usize = 50;

/// The live Stories of `account`, all pages.
pub async fn live(client: &GraphClient, account: &Account) -> Result<LiveStories, CallError> {
    let path = format!("{}/stories", account.settings.ig_user_id);
    let mut out = Vec::new();
    let mut after: Option<String> = None;
    for _ in 0..MAX_PAGES {
        let mut params = vec![("fields", "id,timestamp"), ("limit", "100")];
        if let Some(a) = &after {
            params.push(("after", a.as_str()));
        }
        let v = client
            .call(Method::Get, &path, &account.token, &params)
            .await?;
        let page = v["data"].as_array().cloned().unwrap_or_default();
        out.extend(page.iter().filter_map(|s| {
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
        }));
        let next = v["paging"]["next"].as_str().is_some();
        after = v["paging"]["cursors"]["after"].as_str().map(str::to_string);
        if page.is_empty() || !next || after.is_none() {
            break;
        }
    }
    Ok(out)
}
