//! Published Stories about 22–24 h old → their metrics (Meta's current
//! Story list, [`storyforge_base::spec::STORY_METRICS`], and navigation broken down by
//! action) stored in the ledger, before the Story and its insights expire.
//! Navigation goes in a call of its own, since the API refuses a breakdown
//! beside metrics that do not support it.
//!
//! Metrics degrade, never vanish: when the API refuses a metric (code 100,
//! `metric[N] must be one of …`, as when Meta retires one), that metric is
//! dropped, the rest asked for again, and the refusal remembered in the
//! ledger per account and API version so later calls do not ask for it.
//! Error 10 ("not enough viewers": under 5) is a state, "no data yet", not a
//! failure: nothing is stored, and the next collection asks again while the
//! Story lives. Any other failure is stored with the Story (shown on Recent
//! and by `storyforge insights`) until a later collection succeeds.

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::graph::{CallError, GraphClient, Method};
use super::Account;
use crate::ledger::{parse_time, Ledger, LedgerError, State};
use storyforge_base::spec;

/// The navigation metric, asked for on its own with [`NAVIGATION_BREAKDOWN`].
pub const NAVIGATION: &str = spec::STORY_NAVIGATION;

/// The breakdown of [`NAVIGATION`].
pub const NAVIGATION_BREAKDOWN: &str = spec::STORY_NAVIGATION_BREAKDOWN;

/// What the API answers under 5 viewers.
pub const NOT_ENOUGH_VIEWERS: i64 = spec::INSIGHTS_NOT_ENOUGH_VIEWERS;

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
    /// Metrics the API refused in this collection (remembered in the
    /// ledger, not asked for again under this API version).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub refused: Vec<String>,
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
    /// Metrics the API refused (`metric NAME refused for MEDIA; no longer
    /// asked for`).
    pub refused: Vec<String>,
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
            for m in &c.refused {
                self.refused.push(format!(
                    "metric {m} refused by the API (for {}); no longer asked for under this API version",
                    c.media_id
                ));
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
        let mut refused = Vec::new();
        let (result, no_data_yet) = match read(client, ledger, account, media, &mut refused).await?
        {
            Ok(Some(metrics)) => {
                ledger.set_insights(media, &account.settings.name, &metrics.to_string())?;
                ledger.clear_insight_failure(media)?;
                (Ok(metrics), false)
            }
            Ok(None) => (Ok(no_data_note()), true),
            Err(e) => {
                ledger.set_insight_failure(media, &account.settings.name, &e)?;
                (Err(e), false)
            }
        };
        out.push(Collected {
            media_id: media.clone(),
            result,
            no_data_yet,
            refused,
        });
    }
    Ok(out)
}

/// The index N of a code-100 refusal `metric[N] must be one of …`.
fn refused_index(e: &CallError) -> Option<usize> {
    let g = e.api().filter(|g| g.code == spec::INVALID_PARAMETER)?;
    let rest = g.message.split("metric[").nth(1)?;
    let (n, tail) = rest.split_once(']')?;
    tail.contains("must be one of")
        .then(|| n.parse().ok())
        .flatten()
}

/// One call for `metrics` (with `extra` parameters); a metric the API
/// refuses is dropped, remembered in the ledger and pushed on `refused`,
/// and the rest asked for again. `Ok(None)` when every metric was refused.
async fn ask(
    client: &GraphClient,
    ledger: &Ledger,
    account: &Account,
    media: &str,
    mut metrics: Vec<&str>,
    extra: &[(&str, &str)],
    refused: &mut Vec<String>,
) -> Result<Result<Option<serde_json::Value>, CallError>, LedgerError> {
    let path = format!("{media}/insights");
    while !metrics.is_empty() {
        let list = metrics.join(",");
        let mut params = vec![("metric", list.as_str())];
        params.extend_from_slice(extra);
        match client
            .call(Method::Get, &path, &account.token, &params)
            .await
        {
            Ok(v) => return Ok(Ok(Some(v))),
            Err(e) => match refused_index(&e).and_then(|i| metrics.get(i).copied()) {
                Some(name) => {
                    let message = e.api().map(|g| g.message.clone()).unwrap_or_default();
                    ledger.refuse_metric(
                        &account.settings.name,
                        client.version(),
                        name,
                        &message,
                    )?;
                    refused.push(name.to_string());
                    metrics.retain(|m| *m != name);
                }
                None => return Ok(Err(e)),
            },
        }
    }
    Ok(Ok(None))
}

/// Parameters beside `metric` in one call.
type Extra<'a> = &'a [(&'a str, &'a str)];

/// One Story's metrics in two calls (the metrics, then navigation with its
/// breakdown), flattened, without the metrics refused for this account and
/// API version; `Ok(None)` when the API has no data yet (error 10); the
/// outer error only when the ledger fails.
async fn read(
    client: &GraphClient,
    ledger: &Ledger,
    account: &Account,
    media: &str,
    refused: &mut Vec<String>,
) -> Result<Result<Option<serde_json::Value>, String>, LedgerError> {
    let known: Vec<String> = ledger
        .refused_metrics(&account.settings.name, client.version())?
        .into_iter()
        .map(|r| r.metric)
        .collect();
    let wanted = |list: &[&'static str]| -> Vec<&'static str> {
        list.iter()
            .copied()
            .filter(|m| !known.iter().any(|k| k == m))
            .collect()
    };
    let no_data = |e: &CallError| e.api().is_some_and(|g| g.code == NOT_ENOUGH_VIEWERS);
    let mut metrics = serde_json::Map::new();
    let calls: [(Vec<&str>, Extra); 2] = [
        (wanted(spec::STORY_METRICS), &[]),
        (
            wanted(&[NAVIGATION]),
            &[("breakdown", NAVIGATION_BREAKDOWN)],
        ),
    ];
    for (list, extra) in calls {
        match ask(client, ledger, account, media, list, extra, refused).await? {
            Ok(Some(v)) => {
                if let serde_json::Value::Object(more) = flatten(&v) {
                    metrics.extend(more);
                }
            }
            Ok(None) => {}
            Err(e) if no_data(&e) => return Ok(Ok(None)),
            Err(e) => return Ok(Err(e.to_string())),
        }
    }
    if metrics.is_empty() {
        return Ok(Err(format!(
            "the API ({}) refuses every Story metric storyforge asks for ({}); check Meta's changelog for the current metric names",
            client.version(),
            known.iter().map(String::as_str).chain(refused.iter().map(String::as_str)).collect::<Vec<_>>().join(", ")
        )));
    }
    Ok(Ok(Some(serde_json::Value::Object(metrics))))
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
