//! The report shown: CSV (one line per template or variant) and text for a
//! terminal, each value with its interval or "not enough data".

use super::{GroupRow, Report, MIN_STORIES};
use crate::publish::stats::Interval;

/// The report as CSV: one line per template or variant.
pub fn csv(r: &Report) -> String {
    let mut out = String::from("template,variant,stories,median_reach,median_reach_low,median_reach_high,median_views,median_views_low,median_views_high,exit_rate,exit_rate_low,exit_rate_high,forward_rate,forward_rate_low,forward_rate_high,replies_per_1000,replies_per_1000_low,replies_per_1000_high,shares_per_1000,shares_per_1000_low,shares_per_1000_high,low_data\n");
    let q = |s: &str| {
        if s.contains([',', '"', '\n']) {
            format!("\"{}\"", s.replace('"', "\"\""))
        } else {
            s.to_string()
        }
    };
    let n = |x: Option<f64>| x.map(|v| format!("{v:.4}")).unwrap_or_default();
    let i = |x: Option<Interval>| format!("{},{}", n(x.map(|i| i.low)), n(x.map(|i| i.high)));
    for g in &r.rows {
        out.push_str(&format!(
            "{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{}\n",
            q(&g.template),
            q(g.variant.as_deref().unwrap_or("")),
            g.stories,
            n(g.median_reach),
            i(g.median_reach_interval),
            n(g.median_views),
            i(g.median_views_interval),
            n(g.exit_rate),
            i(g.exit_rate_interval),
            n(g.forward_rate),
            i(g.forward_rate_interval),
            n(g.replies_per_1000),
            i(g.replies_per_1000_interval),
            n(g.shares_per_1000),
            i(g.shares_per_1000_interval),
            g.low_data
        ));
    }
    out
}

/// A value with its interval, or "not enough data".
pub fn shown(
    g: &GroupRow,
    value: Option<f64>,
    interval: Option<Interval>,
    percent: bool,
) -> String {
    if g.low_data {
        return format!("not enough data ({} of {MIN_STORIES} Stories)", g.stories);
    }
    let f = |x: f64| {
        if percent {
            format!("{:.1} %", x * 100.0)
        } else {
            format!("{x:.1}")
        }
    };
    match (value, interval) {
        (Some(v), Some(i)) => format!("{} ({}–{})", f(v), f(i.low), f(i.high)),
        (Some(v), None) => f(v),
        _ => "-".into(),
    }
}

/// The report as text for a terminal.
pub fn text(r: &Report) -> String {
    let mut out = format!(
        "{} Stories with insights; intervals are 95 % (medians: order statistics; rates: Wilson); under {} Stories: not enough data. Hours in {}.\n",
        r.stories, r.min_stories, r.zone
    );
    for g in &r.rows {
        let name = match &g.variant {
            Some(v) => format!("{} / variant {v}", g.template),
            None => g.template.clone(),
        };
        out.push_str(&format!("\n{name}: {} Stories\n", g.stories));
        for (label, v, i, p) in [
            (
                "median reach",
                g.median_reach,
                g.median_reach_interval,
                false,
            ),
            (
                "median views",
                g.median_views,
                g.median_views_interval,
                false,
            ),
            ("exit rate", g.exit_rate, g.exit_rate_interval, true),
            (
                "forward-tap rate",
                g.forward_rate,
                g.forward_rate_interval,
                true,
            ),
            (
                "replies per 1,000 reached",
                g.replies_per_1000,
                g.replies_per_1000_interval,
                false,
            ),
            (
                "shares per 1,000 reached",
                g.shares_per_1000,
                g.shares_per_1000_interval,
                false,
            ),
        ] {
            out.push_str(&format!("  {label}: {}\n", shown(g, v, i, p)));
        }
    }
    out.push_str("\nFindings:\n");
    if r.findings.is_empty() {
        out.push_str("  none yet: no difference stands out beyond its interval\n");
    }
    for f in &r.findings {
        out.push_str(&format!("  {f}\n"));
    }
    out
}
