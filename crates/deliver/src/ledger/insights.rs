//! What the ledger keeps about insights besides the metrics: metric names
//! the API refused (per account and API version, so later calls do not ask
//! again), the last failed collection of a Story (until one succeeds), the
//! template and variant each Story was made from, and the rows the
//! insights report aggregates.

use std::collections::HashMap;

use super::db::{params, Dialect};
use serde::Serialize;

use super::{now, Ledger, LedgerError};

/// A metric the API refused for an account and API version.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RefusedMetric {
    /// The metric name.
    pub metric: String,
    /// When it was refused (RFC 3339).
    pub refused_at: String,
    /// What the API said (no token in it).
    pub message: String,
}

/// A Story's last failed insights collection.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct InsightFailure {
    /// The media id.
    pub media_id: String,
    /// The account.
    pub account: String,
    /// When it failed (RFC 3339).
    pub failed_at: String,
    /// Why, redacted.
    pub error: String,
}

/// One published Story with insights, as the report reads it: the numbers
/// pulled out of the stored JSON by SQLite.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct InsightRow {
    /// Template name (`None`: not made from a template).
    pub template: Option<String>,
    /// Variant name, when the template has variants.
    pub variant: Option<String>,
    /// When it was published (RFC 3339).
    pub published_at: String,
    /// Unique accounts reached.
    pub reach: Option<i64>,
    /// Views.
    pub views: Option<i64>,
    /// Replies.
    pub replies: Option<i64>,
    /// Shares.
    pub shares: Option<i64>,
    /// Navigation: exits.
    pub tap_exit: Option<i64>,
    /// Navigation: taps forward.
    pub tap_forward: Option<i64>,
}

impl Ledger {
    /// Metric names the API refused for `account` under `version`.
    pub fn refused_metrics(
        &self,
        account: &str,
        version: &str,
    ) -> Result<Vec<RefusedMetric>, LedgerError> {
        self.rows(
            "SELECT metric, refused_at, message FROM insight_refusals WHERE account = ?1 AND api_version = ?2 ORDER BY metric",
            params![account, version],
            |r| {
                Ok(RefusedMetric {
                    metric: r.get(0)?,
                    refused_at: r.get(1)?,
                    message: r.get(2)?,
                })
            },
        )
    }

    /// Remembers that the API refused `metric` for `account` under `version`.
    pub fn refuse_metric(
        &self,
        account: &str,
        version: &str,
        metric: &str,
        message: &str,
    ) -> Result<(), LedgerError> {
        self.exec(
            "INSERT INTO insight_refusals (account, api_version, metric, refused_at, message) VALUES (?1, ?2, ?3, ?4, ?5)
             ON CONFLICT (account, api_version, metric) DO UPDATE SET refused_at = ?4, message = ?5",
            params![account, version, metric, now(), message],
        )
        .map(|_| ())
    }

    /// Records why `media`'s insights could not be collected.
    pub fn set_insight_failure(
        &self,
        media: &str,
        account: &str,
        error: &str,
    ) -> Result<(), LedgerError> {
        self.exec(
            "INSERT INTO insight_failures (media_id, account, failed_at, error) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (media_id) DO UPDATE SET failed_at = ?3, error = ?4",
            params![media, account, now(), error],
        )
        .map(|_| ())
    }

    /// Forgets `media`'s failure (a collection succeeded).
    pub fn clear_insight_failure(&self, media: &str) -> Result<(), LedgerError> {
        self.exec(
            "DELETE FROM insight_failures WHERE media_id = ?1",
            params![media],
        )
        .map(|_| ())
    }

    /// `media`'s last failed collection, unless one succeeded since.
    pub fn insight_failure(&self, media: &str) -> Result<Option<InsightFailure>, LedgerError> {
        Ok(self
            .insight_failures()?
            .into_iter()
            .find(|f| f.media_id == media))
    }

    /// Every Story whose last collection failed, oldest first.
    pub fn insight_failures(&self) -> Result<Vec<InsightFailure>, LedgerError> {
        self.rows(
            "SELECT media_id, account, failed_at, error FROM insight_failures ORDER BY failed_at",
            &[],
            |r| {
                Ok(InsightFailure {
                    media_id: r.get(0)?,
                    account: r.get(1)?,
                    failed_at: r.get(2)?,
                    error: r.get(3)?,
                })
            },
        )
    }

    /// Records the template and variant the newest row of `identity` of
    /// `account` was made from; a variant already recorded is kept (a
    /// rerun never flips it).
    pub fn record_variant(
        &self,
        account: &str,
        identity: &str,
        template: &str,
        variant: Option<&str>,
    ) -> Result<(), LedgerError> {
        self.exec(
            "UPDATE stories SET template = ?3, variant = COALESCE(variant, ?4)
             WHERE account = ?1 AND identity = ?2
               AND generation = (SELECT MAX(generation) FROM stories WHERE account = ?1 AND identity = ?2)",
            params![account, identity, template, variant],
        )
        .map(|_| ())
    }

    /// The template and variant recorded for Story row `id`.
    pub fn story_variant(&self, id: i64) -> Result<(Option<String>, Option<String>), LedgerError> {
        self.row(
            "SELECT template, variant FROM stories WHERE id = ?1",
            params![id],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .map(Option::unwrap_or_default)
    }

    /// `account`'s Stories that carry a variant: identity → variant (the
    /// newest row's), so a rerun keeps each Story's variant.
    pub fn recorded_variants(&self, account: &str) -> Result<HashMap<String, String>, LedgerError> {
        Ok(self
            .rows(
                "SELECT identity, variant FROM stories WHERE account = ?1 AND variant IS NOT NULL ORDER BY generation, id",
                params![account],
                |r| Ok((r.get::<String>(0)?, r.get::<String>(1)?)),
            )?
            .into_iter()
            .collect())
    }

    /// `account`'s published Stories that carry a variant, per template
    /// (the next new Story alternates on from this count).
    pub fn variant_counts(&self, account: &str) -> Result<HashMap<String, u64>, LedgerError> {
        Ok(self
            .rows(
                "SELECT template, COUNT(*) FROM stories WHERE account = ?1 AND template IS NOT NULL AND variant IS NOT NULL AND state = 'published' GROUP BY template",
                params![account],
                |r| Ok((r.get::<String>(0)?, r.get::<i64>(1)?.max(0) as u64)),
            )?
            .into_iter()
            .collect())
    }

    /// Published Stories with insights (of `account`, published at or after
    /// `since`), their numbers read by SQLite from the stored JSON.
    pub fn insight_rows(
        &self,
        account: Option<&str>,
        since: Option<&str>,
    ) -> Result<Vec<InsightRow>, LedgerError> {
        // One json_extract with six paths (an array back) costs half of
        // six calls; the array is read here. Postgres builds the same array.
        let numbers = match self.db.dialect() {
            Dialect::Sqlite => {
                "json_extract(i.metrics, '$.reach', '$.views', '$.replies', '$.shares',
                        '$.navigation_breakdown.tap_exit', '$.navigation_breakdown.tap_forward')"
            }
            Dialect::Postgres => {
                "json_build_array(i.metrics::json -> 'reach', i.metrics::json -> 'views',
                        i.metrics::json -> 'replies', i.metrics::json -> 'shares',
                        i.metrics::json #> '{navigation_breakdown,tap_exit}',
                        i.metrics::json #> '{navigation_breakdown,tap_forward}')::text"
            }
        };
        self.rows(
            &format!("SELECT s.template, s.variant, s.published_at, {numbers}
             FROM stories s JOIN insights i ON i.media_id = s.media_id AND i.account = s.account
             WHERE s.state = 'published' AND s.published_at IS NOT NULL
               AND (CAST(?1 AS TEXT) IS NULL OR s.account = ?1) AND (CAST(?2 AS TEXT) IS NULL OR s.published_at >= ?2)"),
            params![account, since],
            |r| {
                let numbers: Option<String> = r.get(3)?;
                let n: Vec<Option<f64>> = numbers
                    .and_then(|t| serde_json::from_str(&t).ok())
                    .unwrap_or_default();
                let at = |i: usize| n.get(i).copied().flatten().map(|v| v as i64);
                Ok(InsightRow {
                    template: r.get(0)?,
                    variant: r.get(1)?,
                    published_at: r.get(2)?,
                    reach: at(0),
                    views: at(1),
                    replies: at(2),
                    shares: at(3),
                    tap_exit: at(4),
                    tap_forward: at(5),
                })
            },
        )
    }
}
