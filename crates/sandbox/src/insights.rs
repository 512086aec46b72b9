//! `GET /{media-id}/insights?metric=…` → Story metrics in the live shape,
//! with stable made-up values derived from the media id.
//!
//! It answers exactly Meta's documented Story metrics (views, reach,
//! replies, shares, total_interactions, follows, profile_visits,
//! profile_activity, navigation with the `story_navigation_action_type`
//! breakdown); any other name fails the whole call with code 100,
//! `(#100) metric[N] must be one of the following values: …`, as the API
//! does. Deprecated metrics (`impressions`, `exits`, `taps_forward`,
//! `taps_back`) say so too. `retired_metrics` in the settings refuses
//! documented ones the same way, as when Meta retires a metric. A Story older than its
//! 24 h answers error 10 with subcode 2108006 (the sandbox's choice:
//! "insights are available only while the Story is live"), since Story
//! insights are not kept after expiry.

use serde_json::{json, Value};

use super::errors::GraphError;
use super::server::{Auth, Reply, Req};
use super::state::Shared;

/// Story metrics and their (title, description).
const METRICS: &[(&str, &str, &str)] = &[
    (
        "views",
        "Views",
        "The number of times your story was played or displayed.",
    ),
    (
        "reach",
        "Accounts reached",
        "The number of unique accounts that have seen your story.",
    ),
    ("replies", "Replies", "The number of replies to your story."),
    (
        "shares",
        "Shares",
        "The number of times your story was shared.",
    ),
    (
        "total_interactions",
        "Interactions",
        "The number of replies and shares of your story.",
    ),
    (
        "follows",
        "Follows",
        "The number of accounts that started following you from your story.",
    ),
    (
        "profile_visits",
        "Profile visits",
        "The number of times your profile was visited from your story.",
    ),
    (
        "profile_activity",
        "Profile activity",
        "The number of actions people took on your profile after seeing your story.",
    ),
    (
        "navigation",
        "Navigation",
        "The total number of actions taken from your story: taps forward and back, exits, swipes.",
    ),
];

const DEPRECATED: &[&str] = &["impressions", "exits", "taps_forward", "taps_back"];

/// Navigation actions of the `story_navigation_action_type` breakdown.
const NAVIGATION_ACTIONS: &[&str] = &["tap_forward", "tap_back", "tap_exit", "swipe_forward"];

/// Requires the insights permission.
pub fn insights(shared: &Shared, req: &Req, auth: &Auth, id: &str) -> Result<Reply, GraphError> {
    auth.require("instagram_business_manage_insights")?;
    let published = {
        let world = shared.lock();
        match world.stories.get(id) {
            Some(s) if s.account_id == auth.account_id => (s.published, world.now()),
            _ => return Err(GraphError::unsupported("get", &format!("{id}/insights"))),
        }
    };
    let (published_at, now) = published;
    let metrics: Vec<&str> = req
        .param("metric")
        .unwrap_or("")
        .split(',')
        .map(str::trim)
        .filter(|m| !m.is_empty())
        .collect();
    if metrics.is_empty() {
        return Err(GraphError::invalid_parameter(
            "The parameter metric is required",
        ));
    }
    let retired = &shared.config.retired_metrics;
    let valid: Vec<&str> = METRICS
        .iter()
        .map(|m| m.0)
        .filter(|m| !retired.iter().any(|r| r == m))
        .collect();
    for (i, m) in metrics.iter().enumerate() {
        if DEPRECATED.contains(m) {
            return Err(GraphError::invalid_parameter(format!(
                "metric[{i}] {m} is no longer supported for Stories (deprecated; use views or navigation). metric[{i}] must be one of the following values: {}",
                valid.join(", ")
            )));
        }
        if !valid.contains(m) {
            return Err(GraphError::invalid_parameter(format!(
                "metric[{i}] must be one of the following values: {}",
                valid.join(", ")
            )));
        }
    }
    let breakdown = req.param("breakdown").filter(|b| !b.is_empty());
    if let Some(b) = breakdown {
        if b != "story_navigation_action_type" || metrics.iter().any(|m| *m != "navigation") {
            return Err(GraphError::invalid_parameter(
                "The breakdown story_navigation_action_type is only supported with metric=navigation",
            ));
        }
    }
    let lifetime = std::time::Duration::from_secs(shared.config.lifetime_secs);
    if now >= published_at + lifetime {
        return Err(GraphError {
            subcode: Some(2108006),
            is_transient: Some(false),
            user: Some(Box::new((
                "Story insights unavailable".into(),
                "Insights for a Story are available only while the Story is live (24 hours)."
                    .into(),
            ))),
            ..GraphError::permission("")
        });
    }
    let v = values(id);
    let viewers = shared
        .config
        .story_viewers
        .unwrap_or_else(|| v.get("reach"));
    if viewers < shared.config.min_insights_viewers {
        return Err(GraphError::not_enough_viewers());
    }
    let data: Vec<Value> = metrics
        .iter()
        .filter_map(|m| METRICS.iter().find(|x| x.0 == *m))
        .map(|(name, title, description)| {
            let value = v.get(name);
            let mut entry = json!({
                "name": name,
                "period": "lifetime",
                "values": [{ "value": value }],
                "title": title,
                "description": description,
                "id": format!("{id}/insights/{name}/lifetime"),
            });
            if *name == "navigation" && breakdown.is_some() {
                let results: Vec<Value> = NAVIGATION_ACTIONS
                    .iter()
                    .zip(v.navigation_split())
                    .map(|(action, n)| json!({ "dimension_values": [action], "value": n }))
                    .collect();
                entry["total_value"] = json!({
                    "value": value,
                    "breakdowns": [{ "dimension_keys": ["story_navigation_action_type"], "results": results }],
                });
            }
            entry
        })
        .collect();
    Ok(Reply::Json(json!({ "data": data })))
}

/// Made-up but consistent numbers for one Story.
struct Values {
    seed: u64,
}

fn values(id: &str) -> Values {
    let seed = id.bytes().fold(1469598103934665603u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(1099511628211)
    });
    Values { seed }
}

impl Values {
    fn views(&self) -> u64 {
        120 + self.seed % 900
    }

    fn navigation_split(&self) -> [u64; 4] {
        let n = self.views();
        [n / 2, n / 8, n / 6, n / 12]
    }

    fn get(&self, metric: &str) -> u64 {
        let s = self.seed >> 16;
        match metric {
            "views" => self.views(),
            "reach" => self.views() * 3 / 4,
            "replies" => s % 7,
            "shares" => (s >> 4) % 5,
            "total_interactions" => s % 7 + (s >> 4) % 5,
            "follows" => (s >> 8) % 4,
            "profile_visits" => (s >> 12) % 11 + 5,
            "profile_activity" => ((s >> 12) % 11 + 5) / 2,
            "navigation" => self.navigation_split().iter().sum(),
            _ => 0,
        }
    }
}
