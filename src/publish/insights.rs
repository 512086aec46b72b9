//! Published Stories about 22–24 h old → their metrics (views, reach,
//! replies, shares, total interactions, follows, profile visits, link
//! clicks, reposts, and navigation broken down by action) stored in the
//! ledger, before the Story and its insights expire. Deprecated metrics
//! (`impressions`, `exits`, taps) are never asked for. Navigation goes in a
//! call of its own, since the API refuses a breakdown beside metrics that
//! do not support it. Error 10 ("not enough viewers": under 5) is a state,
//! "no data yet", not a failure: nothing is stored, and the next collection
//! asks again while the Story lives.

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::graph::{GraphClient, Method};
use super::Account;
use crate::ledger::{parse_time, Ledger, LedgerError, State};

/// The Story metrics collected in the first call (current names, API v25.0).
pub const METRICS: &str =
    "views,reach,replies,shares,total_interactions,follows,profile_visits,link_clicks,reposts";

/// The navigation metric, asked for on its own with [`NAVIGATION_BREAKDOWN`].
pub const NAVIGATION: &str = "navigation";

/// The breakdown of [`NAVIGATION`]: `tap_forward`, `tap_back`, `tap_exit`,
/// `swipe_forward`.
pub const NAVIGATION_BREAKDOWN: &str = "story_navigation_action_type";

/// What the API answers under 5 viewers.
pub const NOT_ENOUGH_VIEWERS: i64 = 10;

/// Stories this old (hours) or more are collected…
pub const FROM_HOURS: i64 = 22;
/// …and no older than this (the Story is gone at 24 h).
pub const UNTIL_HOURS: i64 = 24;

/// What happened to one Story's insights.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Collected {
    /// The media id.
    pub media_id: String,
    /// The metrics (or, when `no_data_yet`, a note saying why there are
    /// none), or why they could not be read.
    pub result: Result<serde_json::Value, String>,
    /// True when Instagram has no insights for it yet (fewer than 5
    /// viewers): not a failure, nothing stored, asked again next time.
    pub no_data_yet: bool,
}

/// The note `result` carries when there is no data yet.
pub fn no_data_note() -> serde_json::Value {
    serde_json::json!({
        "status": "no data yet",
        "reason": "fewer than 5 viewers so far; Instagram shows Story insights from 5 viewers (asked again while the Story is live)",
    })
}

/// A collection in numbers: Stories collected, Stories with no data yet,
/// and what failed (`insights of MEDIA: why`).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Tally {
    /// Stories whose metrics were stored.
    pub collected: usize,
    /// Stories with fewer than 5 viewers so far.
    pub no_data_yet: usize,
    /// What could not be read.
    pub errors: Vec<String>,
}

impl Tally {
    /// Adds one account's collection.
    pub fn add(&mut self, got: &[Collected]) {
        for c in got {
            match &c.result {
                Ok(_) if c.no_data_yet => self.no_data_yet += 1,
                Ok(_) => self.collected += 1,
                Err(e) => self.errors.push(format!("insights of {}: {e}", c.media_id)),
            }
        }
    }
}

/// Collects metrics of `account`'s Stories aged 22–24 h at `now` that have
/// none from that age yet (an earlier, partial collection is replaced by the
/// final one); with `any_age`, of every live Story, replacing what was
/// collected before ("collect now").
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
        if a.account != account.settings.name {
            continue;
        }
        let Some(at) = parse_time(at) else { continue };
        let age = now - at;
        let final_from = at + chrono::Duration::hours(FROM_HOURS);
        let has_final = ledger
            .insights(media)?
            .and_then(|i| parse_time(&i.collected_at))
            .is_some_and(|t| t >= final_from);
        let due = age < chrono::Duration::hours(UNTIL_HOURS)
            && (any_age || (age >= chrono::Duration::hours(FROM_HOURS) && !has_final));
        if !due {
            continue;
        }
        let (result, no_data_yet) = match read(client, account, media).await {
            Ok(Some(metrics)) => {
                ledger.set_insights(media, &account.settings.name, &metrics.to_string())?;
                (Ok(metrics), false)
            }
            Ok(None) => (Ok(no_data_note()), true),
            Err(e) => (Err(e.to_string()), false),
        };
        out.push(Collected {
            media_id: media.clone(),
            result,
            no_data_yet,
        });
    }
    Ok(out)
}

/// One Story's metrics in two calls (the metrics, then navigation with its
/// breakdown), flattened; `None` when the API has no data yet (error 10).
async fn read(
    client: &GraphClient,
    account: &Account,
    media: &str,
) -> Result<Option<serde_json::Value>, super::graph::CallError> {
    let path = format!("{media}/insights");
    let no_data =
        |e: &super::graph::CallError| e.api().is_some_and(|g| g.code == NOT_ENOUGH_VIEWERS);
    let first = match client
        .call(Method::Get, &path, &account.token, &[("metric", METRICS)])
        .await
    {
        Ok(v) => v,
        Err(e) if no_data(&e) => return Ok(None),
        Err(e) => return Err(e),
    };
    let nav = match client
        .call(
            Method::Get,
            &path,
            &account.token,
            &[("metric", NAVIGATION), ("breakdown", NAVIGATION_BREAKDOWN)],
        )
        .await
    {
        Ok(v) => v,
        Err(e) if no_data(&e) => return Ok(None),
        Err(e) => return Err(e),
    };
    let mut metrics = flatten(&first);
    if let (Some(map), serde_json::Value::Object(more)) = (metrics.as_object_mut(), flatten(&nav)) {
        map.extend(more);
    }
    Ok(Some(metrics))
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
            m["total_value"]["value"].clone()
        } else {
            value
        };
        // A breakdown becomes `NAME_breakdown: {dimension: value, …}`.
        let results = m["total_value"]["breakdowns"][0]["results"].as_array();
        if let Some(results) = results {
            let split: serde_json::Map<String, serde_json::Value> = results
                .iter()
                .filter_map(|r| {
                    let key = r["dimension_values"][0].as_str()?;
                    Some((key.to_string(), r["value"].clone()))
                })
                .collect();
            map.insert(
                format!("{name}_breakdown"),
                serde_json::Value::Object(split),
            );
        }
        map.insert(name.to_string(), value);
    }
    serde_json::Value::Object(map)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn navigation_breakdown_is_kept_by_action() {
        let v = serde_json::json!({"data": [{
            "name": "navigation",
            "values": [{"value": 12}],
            "total_value": {"value": 12, "breakdowns": [{
                "dimension_keys": ["story_navigation_action_type"],
                "results": [
                    {"dimension_values": ["tap_forward"], "value": 7},
                    {"dimension_values": ["tap_exit"], "value": 5}
                ]
            }]}
        }]});
        let flat = flatten(&v);
        assert_eq!(flat["navigation"], 12);
        assert_eq!(flat["navigation_breakdown"]["tap_forward"], 7);
        assert_eq!(flat["navigation_breakdown"]["tap_exit"], 5);
    }
}
