//! Published Stories about 22–24 h old → their metrics (views, reach,
//! replies, shares, total interactions, navigation) stored in the ledger,
//! before the Story and its insights expire. Deprecated metrics
//! (`impressions`, `exits`, taps) are never asked for.

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::graph::{GraphClient, Method};
use super::Account;
use crate::ledger::{parse_time, Ledger, LedgerError, State};

/// The Story metrics collected (current names, API v25.0).
pub const METRICS: &str = "views,reach,replies,shares,total_interactions,navigation";

/// Stories this old (hours) or more are collected…
pub const FROM_HOURS: i64 = 22;
/// …and no older than this (the Story is gone at 24 h).
pub const UNTIL_HOURS: i64 = 24;

/// What happened to one Story's insights.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Collected {
    /// The media id.
    pub media_id: String,
    /// The metrics, or why they could not be read.
    pub result: Result<serde_json::Value, String>,
}

/// Collects metrics of `account`'s Stories aged 22–24 h at `now` (all ages
/// under 24 h with `any_age`) that have none yet.
pub async fn collect(
    client: &GraphClient,
    ledger: &Ledger,
    account: &Account,
    now: DateTime<Utc>,
    any_age: bool,
) -> Result<Vec<Collected>, LedgerError> {
    let mut out = Vec::new();
    for a in ledger.assets()? {
        let (State::Published, Some(media), Some(at)) = (a.state, &a.media_id, &a.published_at)
        else {
            continue;
        };
        if a.account != account.settings.name || ledger.insights(media)?.is_some() {
            continue;
        }
        let Some(at) = parse_time(at) else { continue };
        let age = now - at;
        let due = age < chrono::Duration::hours(UNTIL_HOURS)
            && (any_age || age >= chrono::Duration::hours(FROM_HOURS));
        if !due {
            continue;
        }
        let path = format!("{media}/insights");
        let result = match client
            .call(Method::Get, &path, &account.token, &[("metric", METRICS)])
            .await
        {
            Ok(v) => {
                let metrics = flatten(&v);
                ledger.set_insights(media, &account.settings.name, &metrics.to_string())?;
                Ok(metrics)
            }
            Err(e) => Err(e.to_string()),
        };
        out.push(Collected {
            media_id: media.clone(),
            result,
        });
    }
    Ok(out)
}

/// `{"data":[{"name":"reach","values":[{"value":5}]},…]}` → `{"reach":5,…}`
/// (breakdowns are kept as they come).
pub fn flatten(v: &serde_json::Value) -> serde_json::Value {
    let mut map = serde_json::Map::new();
    for m in v["data"].as_array().into_iter().flatten() {
        let Some(name) = m["name"].as_str() else {
            continue;
        };
        let value = m["values"][0]["value"].clone();
        let value = if value.is_null() {
            m["total_value"].clone()
        } else {
            value
        };
        map.insert(name.to_string(), value);
    }
    serde_json::Value::Object(map)
}
