//! What the collected insights teach: per template and per variant, the
//! Stories' median reach and views, exit and forward-tap rates, replies
//! and shares per 1,000 reached, each with a 95 % interval; median reach
//! per weekday and hour in the account's time zone; the hours that stand
//! out only where the data separates them; and one plain line per finding
//! a person can act on.
//!
//! SQLite pulls the numbers out of the stored JSON in one query
//! ([`Ledger::insight_rows`]); sums, sorts and intervals run here, once per
//! group, so 100,000 Stories take well under a second (docs/insights.md).
//! Medians carry the distribution-free order-statistic interval and rates
//! the Wilson score interval ([`super::stats`]); a group under
//! [`MIN_STORIES`] is marked `low_data` and shown as "not enough data".

use std::collections::BTreeMap;

use chrono::{DateTime, Datelike, Duration, Timelike, Utc};
use chrono_tz::Tz;
use serde::Serialize;

use super::stats::{median, median_interval, wilson, Interval};
use crate::ledger::{parse_time, stamp, InsightRow, Ledger, LedgerError};

mod show;
pub use show::{csv, shown, text};

/// Fewer Stories than this in a group (a template, a variant, an hour)
/// and it is "not enough data": with 10 Stories the median's 95 % interval
/// spans the 2nd to the 9th of them, about as wide as is still useful.
pub const MIN_STORIES: usize = 10;

/// A difference smaller than this (relative: 0.10 = 10 %) is no finding
/// even when the intervals separate it: over thousands of Stories, pooled
/// rates separate by a fraction of a point that nobody should act on.
pub const MIN_EFFECT: f64 = 0.10;

/// Weekday names, Monday first (`HourCell::weekday` indexes them).
pub const WEEKDAYS: [&str; 7] = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];

/// What to report on.
#[derive(Debug, Clone)]
pub struct ReportOptions {
    /// Only this account [default: all].
    pub account: Option<String>,
    /// Only Stories published at or after this.
    pub since: Option<DateTime<Utc>>,
    /// The time zone hours and weekdays are read in.
    pub zone: Tz,
}

/// One template (variant `None`: all its Stories) or one of its variants.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GroupRow {
    /// The template's name (`-` for Stories not made from a template).
    pub template: String,
    /// The variant, or `None` for the template as a whole.
    pub variant: Option<String>,
    /// Stories with insights.
    pub stories: usize,
    /// Median accounts reached.
    pub median_reach: Option<f64>,
    /// Its 95 % interval (order statistics).
    pub median_reach_interval: Option<Interval>,
    /// Median views.
    pub median_views: Option<f64>,
    /// Its 95 % interval (order statistics).
    pub median_views_interval: Option<Interval>,
    /// Exits (`tap_exit`) per view.
    pub exit_rate: Option<f64>,
    /// Its 95 % Wilson interval.
    pub exit_rate_interval: Option<Interval>,
    /// Taps forward per view.
    pub forward_rate: Option<f64>,
    /// Its 95 % Wilson interval.
    pub forward_rate_interval: Option<Interval>,
    /// Replies per 1,000 accounts reached.
    pub replies_per_1000: Option<f64>,
    /// Its 95 % Wilson interval (per 1,000).
    pub replies_per_1000_interval: Option<Interval>,
    /// Shares per 1,000 accounts reached.
    pub shares_per_1000: Option<f64>,
    /// Its 95 % Wilson interval (per 1,000).
    pub shares_per_1000_interval: Option<Interval>,
    /// Fewer than [`MIN_STORIES`] Stories: not enough data.
    pub low_data: bool,
}

/// Median reach of the Stories published in one weekday and hour.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HourCell {
    /// 0 = Monday … 6 = Sunday, in the report's zone.
    pub weekday: u32,
    /// 0–23, in the report's zone.
    pub hour: u32,
    /// Stories published then.
    pub stories: usize,
    /// Their median reach.
    pub median_reach: Option<f64>,
}

/// An hour of day whose Stories reach more than all Stories do, by a
/// margin the data shows (the median intervals do not overlap) and of at
/// least [`MIN_EFFECT`].
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BestHour {
    /// 0–23, in the report's zone.
    pub hour: u32,
    /// Stories published in that hour.
    pub stories: usize,
    /// Their median reach.
    pub median_reach: f64,
    /// The median reach of all Stories.
    pub others_median_reach: f64,
}

/// The whole report.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Report {
    /// The time zone hours are read in.
    pub zone: String,
    /// The minimum Stories of a group.
    pub min_stories: usize,
    /// Stories with insights in the report.
    pub stories: usize,
    /// Per template, then per variant of it.
    pub rows: Vec<GroupRow>,
    /// Weekday × hour cells that have Stories.
    pub hours: Vec<HourCell>,
    /// Hours the data separates from the rest (often none).
    pub best_hours: Vec<BestHour>,
    /// One line per finding a person can act on.
    pub findings: Vec<String>,
}

/// `30d`, `12h`, `2w` → that long.
pub fn parse_since(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let bad = || format!("--since {s:?}: give a number of days, hours or weeks, e.g. 30d, 12h, 2w");
    let cut = s.char_indices().last().map_or(0, |(i, _)| i);
    let (num, unit) = s.split_at(cut);
    let n: i64 = num.parse().map_err(|_| bad())?;
    if n <= 0 {
        return Err(bad());
    }
    match unit {
        "d" => Ok(Duration::days(n)),
        "h" => Ok(Duration::hours(n)),
        "w" => Ok(Duration::weeks(n)),
        _ => Err(bad()),
    }
}

/// The report over the ledger's Stories with insights.
pub fn report(ledger: &Ledger, opts: &ReportOptions) -> Result<Report, LedgerError> {
    let since = opts.since.map(stamp);
    let rows = ledger.insight_rows(opts.account.as_deref(), since.as_deref())?;
    Ok(build(&rows, opts.zone))
}

/// The report over `rows` (the part that needs no database).
pub fn build(rows: &[InsightRow], zone: Tz) -> Report {
    let mut groups: BTreeMap<(String, Option<String>), Vec<&InsightRow>> = BTreeMap::new();
    for r in rows {
        let template = r.template.clone().unwrap_or_else(|| "-".into());
        groups.entry((template.clone(), None)).or_default().push(r);
        if let Some(v) = &r.variant {
            groups
                .entry((template, Some(v.clone())))
                .or_default()
                .push(r);
        }
    }
    let rows_out: Vec<GroupRow> = groups
        .iter()
        .map(|((t, v), list)| group(t, v.clone(), list))
        .collect();
    let (hours, best_hours) = by_hour(rows, zone);
    let mut report = Report {
        zone: zone.name().to_string(),
        min_stories: MIN_STORIES,
        stories: rows.len(),
        rows: rows_out,
        hours,
        best_hours,
        findings: Vec::new(),
    };
    report.findings = findings(&report);
    report
}

fn sorted(list: &[&InsightRow], f: impl Fn(&InsightRow) -> Option<i64>) -> Vec<i64> {
    let mut v: Vec<i64> = list.iter().filter_map(|r| f(r)).collect();
    v.sort_unstable();
    v
}

fn sum(list: &[&InsightRow], f: impl Fn(&InsightRow) -> Option<i64>) -> u64 {
    list.iter()
        .filter_map(|r| f(r))
        .map(|v| v.max(0) as u64)
        .sum()
}

/// Hits per trials over the Stories that have both numbers.
fn rate(
    list: &[&InsightRow],
    hits: impl Fn(&InsightRow) -> Option<i64>,
    trials: impl Fn(&InsightRow) -> Option<i64>,
) -> Option<(f64, Interval)> {
    let both: Vec<&InsightRow> = list
        .iter()
        .copied()
        .filter(|r| hits(r).is_some() && trials(r).is_some())
        .collect();
    wilson(sum(&both, &hits), sum(&both, &trials))
}

fn group(template: &str, variant: Option<String>, list: &[&InsightRow]) -> GroupRow {
    let reach = sorted(list, |r| r.reach);
    let views = sorted(list, |r| r.views);
    let exit = rate(list, |r| r.tap_exit, |r| r.views);
    let forward = rate(list, |r| r.tap_forward, |r| r.views);
    let per_1000 = |x: Option<(f64, Interval)>| x.map(|(p, i)| (p * 1000.0, i.scaled(1000.0)));
    let replies = per_1000(rate(list, |r| r.replies, |r| r.reach));
    let shares = per_1000(rate(list, |r| r.shares, |r| r.reach));
    GroupRow {
        template: template.to_string(),
        variant,
        stories: list.len(),
        median_reach: median(&reach),
        median_reach_interval: median_interval(&reach),
        median_views: median(&views),
        median_views_interval: median_interval(&views),
        exit_rate: exit.map(|x| x.0),
        exit_rate_interval: exit.map(|x| x.1),
        forward_rate: forward.map(|x| x.0),
        forward_rate_interval: forward.map(|x| x.1),
        replies_per_1000: replies.map(|x| x.0),
        replies_per_1000_interval: replies.map(|x| x.1),
        shares_per_1000: shares.map(|x| x.0),
        shares_per_1000_interval: shares.map(|x| x.1),
        low_data: list.len() < MIN_STORIES,
    }
}

/// Weekday × hour cells, and the hours of day that stand out.
fn by_hour(rows: &[InsightRow], zone: Tz) -> (Vec<HourCell>, Vec<BestHour>) {
    let mut cells: BTreeMap<(u32, u32), Vec<i64>> = BTreeMap::new();
    let mut per_hour: Vec<Vec<i64>> = vec![Vec::new(); 24];
    for r in rows {
        let (Some(t), Some(reach)) = (parse_time(&r.published_at), r.reach) else {
            continue;
        };
        let local = t.with_timezone(&zone);
        let (day, hour) = (local.weekday().num_days_from_monday(), local.hour());
        cells.entry((day, hour)).or_default().push(reach);
        per_hour[hour as usize].push(reach);
    }
    let hours = cells
        .into_iter()
        .map(|((weekday, hour), mut v)| {
            v.sort_unstable();
            HourCell {
                weekday,
                hour,
                stories: v.len(),
                median_reach: median(&v),
            }
        })
        .collect();
    // An hour stands out when its median's interval lies wholly above
    // that of all Stories (one sort, not one per hour).
    let mut all: Vec<i64> = per_hour.iter().flatten().copied().collect();
    all.sort_unstable();
    let overall = median(&all).zip(median_interval(&all));
    let mut best = Vec::new();
    for (hour, list) in per_hour.iter_mut().enumerate() {
        if list.len() < MIN_STORIES || list.len() == all.len() {
            continue;
        }
        list.sort_unstable();
        let (Some(m), Some(mi), Some((o, oi))) = (median(list), median_interval(list), overall)
        else {
            continue;
        };
        if mi.low > oi.high && m >= o * (1.0 + MIN_EFFECT) {
            best.push(BestHour {
                hour: hour as u32,
                stories: list.len(),
                median_reach: m,
                others_median_reach: o,
            });
        }
    }
    (hours, best)
}

fn pct(x: f64) -> String {
    format!("{:.0} %", x * 100.0)
}

fn stories_each(a: usize, b: usize) -> String {
    if a == b {
        format!("over {a} Stories each")
    } else {
        format!("over {a} and {b} Stories")
    }
}

/// True when `a` and `b` differ by at least [`MIN_EFFECT`] of the larger.
fn big_enough(a: f64, b: f64) -> bool {
    (a - b).abs() >= MIN_EFFECT * a.abs().max(b.abs())
}

/// Both values when their intervals are apart and they differ enough.
fn separated(
    a: (Option<f64>, Option<Interval>),
    b: (Option<f64>, Option<Interval>),
) -> Option<(f64, f64)> {
    let (x, ix, y, iy) = (a.0?, a.1?, b.0?, b.1?);
    (ix.apart(&iy) && big_enough(x, y)).then_some((x, y))
}

/// The lower named value first.
fn ordered<'a>(a: (&'a str, f64), b: (&'a str, f64)) -> ((&'a str, f64), (&'a str, f64)) {
    if a.1 <= b.1 {
        (a, b)
    } else {
        (b, a)
    }
}

/// One line per difference the intervals show (and large enough to act
/// on), between variants of a template and between templates; then the
/// best hours.
fn findings(r: &Report) -> Vec<String> {
    let mut out = Vec::new();
    let enough: Vec<&GroupRow> = r.rows.iter().filter(|g| !g.low_data).collect();
    // Variants of one template, each pair once.
    for (i, a) in enough.iter().enumerate() {
        for b in &enough[i + 1..] {
            if a.template != b.template || a.variant.is_none() || b.variant.is_none() {
                continue;
            }
            let (va, vb) = (
                a.variant.as_deref().unwrap_or(""),
                b.variant.as_deref().unwrap_or(""),
            );
            let each = stories_each(a.stories, b.stories);
            let t = &a.template;
            // Lower exit rate is better; a lower forward rate means fewer skip.
            for (label, x, y, note) in [
                (
                    "exit rate",
                    (a.exit_rate, a.exit_rate_interval),
                    (b.exit_rate, b.exit_rate_interval),
                    "",
                ),
                (
                    "forward-tap rate",
                    (a.forward_rate, a.forward_rate_interval),
                    (b.forward_rate, b.forward_rate_interval),
                    " (fewer skip it)",
                ),
            ] {
                if let Some(((lo, lv), (hi, hv))) =
                    separated(x, y).map(|(x, y)| ordered((va, x), (vb, y)))
                {
                    out.push(format!(
                        "variant {lo} of {t}: {label} {} vs {} for {hi} {each}{note}",
                        pct(lv),
                        pct(hv)
                    ));
                }
            }
            let reach = separated(
                (a.median_reach, a.median_reach_interval),
                (b.median_reach, b.median_reach_interval),
            );
            if let Some(((lo, lv), (hi, hv))) = reach.map(|(x, y)| ordered((va, x), (vb, y))) {
                out.push(format!(
                    "variant {hi} of {t}: median reach {hv:.0} vs {lv:.0} for {lo} {each}"
                ));
            }
        }
    }
    // Templates as a whole: the one that reaches most, where it stands apart.
    let whole: Vec<&&GroupRow> = enough.iter().filter(|g| g.variant.is_none()).collect();
    for a in &whole {
        for b in &whole {
            let reach = separated(
                (a.median_reach, a.median_reach_interval),
                (b.median_reach, b.median_reach_interval),
            );
            if let Some((m, mb)) = reach.filter(|(m, mb)| a.template != b.template && m > mb) {
                out.push(format!(
                    "template {}: median reach {m:.0} vs {mb:.0} for {} {}",
                    a.template,
                    b.template,
                    stories_each(a.stories, b.stories)
                ));
            }
        }
    }
    for h in &r.best_hours {
        out.push(format!(
            "publish at {:02}:00–{:02}:59 ({}): median reach {:.0} vs {:.0} over all Stories ({} Stories then)",
            h.hour, h.hour, r.zone, h.median_reach, h.others_median_reach, h.stories
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(
        template: &str,
        variant: &str,
        at: &str,
        reach: i64,
        views: i64,
        exit: i64,
    ) -> InsightRow {
        InsightRow {
            template: Some(template.into()),
            variant: Some(variant.into()),
            published_at: at.into(),
            reach: Some(reach),
            views: Some(views),
            replies: Some(1),
            shares: Some(0),
            tap_exit: Some(exit),
            tap_forward: Some(views / 2),
        }
    }

    #[test]
    fn variants_that_differ_give_a_finding_and_small_groups_do_not() {
        let mut rows = Vec::new();
        for i in 0..40 {
            rows.push(row(
                "product-card",
                "A",
                "2026-12-01T10:00:00.000Z",
                300 + i,
                400,
                108,
            ));
            rows.push(row(
                "product-card",
                "B",
                "2026-12-01T18:00:00.000Z",
                300 + i,
                400,
                72,
            ));
        }
        for i in 0..5 {
            rows.push(row(
                "menu",
                "A",
                "2026-12-01T10:00:00.000Z",
                900 + i,
                1000,
                500,
            ));
        }
        let r = build(&rows, chrono_tz::UTC);
        assert_eq!(r.stories, 85);
        let b = r
            .rows
            .iter()
            .find(|g| g.variant.as_deref() == Some("B"))
            .unwrap();
        assert!((b.exit_rate.unwrap() - 0.18).abs() < 1e-9);
        assert!(
            r.findings.iter().any(|f| f
                == "variant B of product-card: exit rate 18 % vs 27 % for A over 40 Stories each"),
            "{:?}",
            r.findings
        );
        let menu = r.rows.iter().find(|g| g.template == "menu").unwrap();
        assert!(menu.low_data);
        assert!(
            r.findings.iter().all(|f| !f.contains("menu")),
            "{:?}",
            r.findings
        );
        assert_eq!(parse_since("30d").unwrap(), Duration::days(30));
        assert!(parse_since("30").is_err());
    }
}
